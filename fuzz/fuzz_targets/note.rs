//! Signed notes and checkpoints: see huella::fuzzing::note.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    huella::fuzzing::note(data);
});
