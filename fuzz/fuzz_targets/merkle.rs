//! Merkle proof verification: see huella_testkit::merkle.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    huella_testkit::merkle(data);
});
