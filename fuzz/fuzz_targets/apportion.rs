//! Fuzz target `apportion`: the logic is `mercato_testkit::fuzz::apportion`, which
//! `cargo test -p mercato-testkit --test fuzz_corpus` replays on stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mercato_testkit::fuzz::apportion(data);
});
