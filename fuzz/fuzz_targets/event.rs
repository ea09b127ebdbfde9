//! Event JSON forms and canonical JSON: see huella::fuzzing::event.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    huella::fuzzing::event(data);
});
