//! Event JSON forms and canonical JSON: see huella_testkit::event.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    huella_testkit::event(data);
});
