//! Fuzz target `scenario`: the logic is `mercato_testkit::fuzz::scenario`, which
//! `cargo test -p mercato-testkit --test fuzz_corpus` replays on stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    mercato_testkit::fuzz::scenario(data);
});
