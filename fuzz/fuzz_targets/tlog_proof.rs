//! Receipts (C2SP tlog-proofs): see huella_testkit::tlog_proof.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    huella_testkit::tlog_proof(data);
});
