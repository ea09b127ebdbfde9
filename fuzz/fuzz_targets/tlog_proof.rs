//! Receipts (C2SP tlog-proofs): see huella::fuzzing::tlog_proof.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    huella::fuzzing::tlog_proof(data);
});
