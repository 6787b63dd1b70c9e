//! Random scenarios in the contract's JSON format (stub).
