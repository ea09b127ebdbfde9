//! The fast canonical writer (serde's compact output of types whose fields are declared in
//! RFC 8785 order) must give exactly the bytes of the reference RFC 8785 canonicalizer.

mod common;

use huella_core::canonical::{to_canonical, to_canonical_sorted};
use huella_core::entry::Entry;
use huella_core::merkle::Hash;
use huella_core::values::{Count, LegalBasis, RequestId, Timestamp};
use proptest::prelude::*;

fn entry(legal_basis: &str, request_id: &str, records: u64, index: u64) -> Entry {
    let (agencies, _) = common::agencies();
    let (signed, _) = common::sealed(&agencies, index).into_parts();
    let mut event = signed.event;
    event.legal_basis = LegalBasis::new(legal_basis).unwrap();
    event.request_id = RequestId::new(request_id).unwrap();
    event.outcome = huella_core::event::Outcome::Hit;
    event.records_returned = Count::new(records).unwrap();
    Entry {
        index: Count::new(index).unwrap(),
        integrated_at: Timestamp::from_unix_millis(common::NOW),
        prev: Hash([index as u8; 32]),
        event,
        signature: signed.signature,
    }
}

#[test]
fn known_hard_strings_agree() {
    for legal in [
        "plain",
        "quote \" backslash \\ slash /",
        "ñ 中文 😀 \u{a0}",
        "\u{10ffff}\u{e000}",
    ] {
        let e = entry(legal, "REQ-\"\\-1", 9_007_199_254_740_991, 3);
        assert_eq!(e.to_leaf(), to_canonical(&e), "{legal:?}");
        assert_eq!(e.event.signing_bytes()[16..], to_canonical(&e.event)[..]);
        assert_eq!(to_canonical_sorted(&e.event), to_canonical(&e.event));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn fast_writer_matches_rfc8785(
        // Visible text (docs/format.md §2); the filter drops what a newer Unicode than the
        // regex engine's made invisible.
        legal in "[^\\p{Cc}\\p{Cf}\\p{Zl}\\p{Zp}\\p{Default_Ignorable_Code_Point}]{1,40}"
            .prop_filter("visible text", |s| LegalBasis::new(s.as_str()).is_ok()),
        request in "[!-~]{1,40}",
        records in 1u64..=9_007_199_254_740_991,
        index in 0u64..50,
    ) {
        let e = entry(&legal, &request, records, index);
        prop_assert_eq!(e.to_leaf(), to_canonical(&e));
        prop_assert_eq!(Entry::parse_leaf(&e.to_leaf()).unwrap(), e);
    }
}
