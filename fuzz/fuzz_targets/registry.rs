//! The submitter registry and key strings: see huella_testkit::registry.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    huella_testkit::registry(data);
});
