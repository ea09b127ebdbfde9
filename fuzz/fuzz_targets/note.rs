//! Signed notes and checkpoints: see huella_testkit::note.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    huella_testkit::note(data);
});
