//! Merkle proof verification: see huella::fuzzing::merkle.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    huella::fuzzing::merkle(data);
});
