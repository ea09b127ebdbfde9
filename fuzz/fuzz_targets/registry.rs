//! The submitter registry and key strings: see huella::fuzzing::registry.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    huella::fuzzing::registry(data);
});
