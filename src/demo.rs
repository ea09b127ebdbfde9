//! Demo data: agencies of both countries and realistic access events between them, for
//! `huella demo` and `huella bench`. Nothing here is real data.

use std::path::Path;

use crate::keyfile::{self, KeyFileError};
use huella_core::commitment::Salt;
use huella_core::event::{PlainEvent, Submission};
use huella_core::keys::VerifierKey;
use huella_core::keys::{KeyName, SignerKey};
use huella_core::merkle::Hash;
use huella_core::registry::{Holder, Registry, Submitter};
use huella_core::trust::{LogId, Registrars, TrustRoot};
use huella_core::values::{AgencyId, CountryCode, Timestamp};

/// A demo agency: id, country, key name.
pub const AGENCIES: [(&str, &str, &str); 4] = [
    ("US-DHS-CBP", "US", "cbp.us.example/huella"),
    ("US-DOJ-FBI-CJIS", "US", "cjis.us.example/huella"),
    ("CO-MIGRACION", "CO", "migracion.co.example/huella"),
    ("CO-POLICIA-DIJIN", "CO", "dijin.co.example/huella"),
];

/// REGISTRARS are the demo countries' registrars: country and key name.
pub const REGISTRARS: [(&str, &str); 2] = [
    ("US", "registrar.us.example/huella"),
    ("CO", "registrar.co.example/huella"),
];

/// OVERSIGHT are the demo oversight bodies: agency, country, key name, and role (`auditor`:
/// reads sealed data; `erasure_authority`: orders it erased), one of each per country.
/// `huella demo` keeps their keys under `auditors/` and `erasure/`.
pub const OVERSIGHT: [(&str, &str, &str, &str); 4] = [
    (
        "CO-PROCURADURIA",
        "CO",
        "procuraduria.co.example/huella",
        "auditor",
    ),
    ("US-DHS-OIG", "US", "oig.dhs.us.example/huella", "auditor"),
    ("CO-SIC", "CO", "sic.co.example/huella", "erasure_authority"),
    (
        "US-DHS-PRIVACY",
        "US",
        "privacy.dhs.us.example/huella",
        "erasure_authority",
    ),
];

/// Registrar is a demo country's registrar with its signing key.
pub struct Registrar {
    /// The country whose keys it registers.
    pub country: CountryCode,
    /// Its key.
    pub key: SignerKey,
}

/// load_or_create_registrars loads the demo registrars' keys from `dir` (one
/// `registrar-<country>.key` each), creating missing ones.
pub fn load_or_create_registrars(dir: &Path) -> Result<Vec<Registrar>, KeyFileError> {
    REGISTRARS
        .iter()
        .map(|(country, name)| {
            // Invariant: the constants above are valid countries and key names.
            let name = KeyName::new(*name).expect("demo key names are valid");
            let (key, _) =
                keyfile::load_or_create(&dir.join(format!("registrar-{country}.key")), &name)?;
            Ok(Registrar {
                country: CountryCode::new(*country).expect("demo countries are valid"),
                key,
            })
        })
        .collect()
}

/// trust_for is the demo's trust root: the log's key, one registrar per country (threshold
/// 1), the demo agencies as the holders events may name, and no key registered from the
/// start: the demo registers every key in the log itself.
pub fn trust_for(
    log_key: &VerifierKey,
    agencies: &[Agency],
    registrars: &[Registrar],
) -> TrustRoot {
    TrustRoot {
        log: LogId {
            origin: log_key.name().as_str().to_string(),
            key: log_key.clone(),
        },
        countries: registrars
            .iter()
            .map(|r| Registrars {
                country: r.country.clone(),
                registrars: vec![r.key.verifier()],
                threshold: None,
            })
            .collect(),
        registry: Registry {
            submitters: Vec::new(),
            holders: registry_for(agencies).holders,
        },
    }
}

/// Agency is a demo agency with its signing key.
pub struct Agency {
    /// The agency's id.
    pub id: AgencyId,
    /// Its country.
    pub country: CountryCode,
    /// Its key.
    pub key: SignerKey,
}

/// load_or_create_agencies loads the demo agencies' keys from `dir` (one `<id>.key` each,
/// or its successor `<id>.2.key` once the demo rotated it), creating missing ones, and
/// returns them with the registry that admits them.
pub fn load_or_create_agencies(dir: &Path) -> Result<(Vec<Agency>, Registry), KeyFileError> {
    let mut agencies = Vec::new();
    for (id, country, name) in AGENCIES {
        // Invariant: the constants above are valid ids, countries and key names.
        let name = KeyName::new(name).expect("demo key names are valid");
        let successor = dir.join(format!("{id}.2.key"));
        let (key, _) = if successor.exists() {
            (keyfile::read_signer(&successor)?, false)
        } else {
            keyfile::load_or_create(&dir.join(format!("{id}.key")), &name)?
        };
        agencies.push(Agency {
            id: AgencyId::new(id).expect("demo agency ids are valid"),
            country: CountryCode::new(country).expect("demo countries are valid"),
            key,
        });
    }
    let registry = registry_for(&agencies);
    Ok((agencies, registry))
}

/// registry_for is the registry that admits exactly these agencies' keys, and lists them
/// as the holders that demo events name.
pub fn registry_for(agencies: &[Agency]) -> Registry {
    Registry {
        submitters: agencies
            .iter()
            .map(|a| Submitter {
                agency: a.id.clone(),
                country: a.country.clone(),
                key: a.key.verifier(),
            })
            .collect(),
        holders: agencies
            .iter()
            .map(|a| Holder {
                agency: a.id.clone(),
                country: a.country.clone(),
            })
            .collect(),
    }
}

/// fixed_agencies returns the demo agencies with keys from fixed seeds (agency `i` gets 32
/// bytes of `i + 1`), for benchmarks and probes that must sign the same way on every run.
/// Anyone can rebuild these keys: never register them in a real log.
pub fn fixed_agencies() -> Vec<Agency> {
    AGENCIES
        .iter()
        .zip(1u8..)
        .map(|((id, country, name), seed)| Agency {
            // Invariant: the constants above are valid ids, countries and key names.
            id: AgencyId::new(*id).expect("demo agency ids are valid"),
            country: CountryCode::new(*country).expect("demo countries are valid"),
            key: SignerKey::from_seed(
                KeyName::new(*name).expect("demo key names are valid"),
                &[seed; 32],
            ),
        })
        .collect()
}

/// sealed_sample is [`sample_event`] sealed by its requesting agency with salts derived from
/// `seed` and `n` instead of fresh randomness: the same arguments give the same bytes, and
/// every `n` gives other commitments, as real submissions have.
pub fn sealed_sample(agencies: &[Agency], seed: u64, n: u64, now: &Timestamp) -> Submission {
    let (from, json) = sample_event(agencies, seed, n, now);
    let mut salts = 0u8;
    let salt = move || {
        salts += 1;
        let mut input = [0u8; 17];
        input[..8].copy_from_slice(&seed.to_be_bytes());
        input[8..16].copy_from_slice(&n.to_be_bytes());
        input[16] = salts;
        Salt(Hash::sha256(&input).0)
    };
    // Invariant: sample_event writes valid, consistent plain events within the size limits.
    let plain: PlainEvent = serde_json::from_value(json).expect("demo events parse");
    plain
        .seal(&agencies[from].key, now.clone(), salt)
        .expect("demo events seal")
}

/// SplitMix64: a tiny deterministic generator, so demo events vary without a dependency.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

const PURPOSES: [(&str, &str); 6] = [
    (
        "border_screening",
        "US-CO letter of intent on biometric data sharing (2025), para. 3",
    ),
    (
        "visa_adjudication",
        "US-CO letter of intent on biometric data sharing (2025), para. 3",
    ),
    (
        "asylum_determination",
        "US-CO letter of intent on biometric data sharing (2025), para. 4",
    ),
    (
        "removal_proceedings",
        "US-CO letter of intent on biometric data sharing (2025), para. 4",
    ),
    (
        "criminal_investigation",
        "US-CO mutual legal assistance treaty, art. 7",
    ),
    (
        "identity_verification",
        "US-CO letter of intent on biometric data sharing (2025), para. 5",
    ),
];

const CATEGORIES: [&str; 5] = [
    "biometric_fingerprint",
    "biometric_fingerprint",
    "biometric_face",
    "biometric_iris",
    "biographic",
];

/// sample_event describes the `n`-th demo access (deterministic in `seed` and `n`): an
/// agency of one country querying the other's records, at most an hour before `now`.
/// Returns the requesting agency's position in `agencies` and the event as JSON for
/// [`huella_core::event::PlainEvent`].
pub fn sample_event(
    agencies: &[Agency],
    seed: u64,
    n: u64,
    now: &Timestamp,
) -> (usize, serde_json::Value) {
    let mut mix = Mix(seed ^ n.wrapping_mul(0x2545_f491_4f6c_dd1d));
    let from = (mix.next() % agencies.len() as u64) as usize;
    let requester = &agencies[from];
    let holders: Vec<&Agency> = agencies
        .iter()
        .filter(|a| a.country != requester.country)
        .collect();
    let holder = mix.pick(&holders);
    let (purpose, legal_basis) = *mix.pick(&PURPOSES);
    let category = *mix.pick(&CATEGORIES);
    let roll = mix.next() % 100;
    let (outcome, records) = match roll {
        0..=1 => ("error", 0),
        2..=61 => ("no_hit", 0),
        _ => ("hit", 1 + mix.next() % 3),
    };
    let person = mix.next() % 10_000_000_000;
    let subject = if holder.country.as_str() == "CO" {
        format!("CO-CC-{person:010}")
    } else {
        format!("US-A-{:09}", person % 1_000_000_000)
    };
    let query = match category {
        "biographic" => format!("name+dob query #{:016x}", mix.next()),
        _ => format!(
            "{category} template sha256:{:016x}{:016x}",
            mix.next(),
            mix.next()
        ),
    };
    let accessed = now.unix_millis().saturating_sub(mix.next() % 3_600_000) / 1000 * 1000;
    let event = serde_json::json!({
        "request_id": format!("{}-{seed:x}-{n:08}", requester.id),
        "requesting_agency": requester.id,
        "requesting_country": requester.country,
        "requesting_user": format!("officer-{:05}", mix.next() % 100_000),
        "holder_agency": holder.id,
        "holder_country": holder.country,
        "record_ref": format!("{}-REC-{:012}", holder.id, mix.next() % 1_000_000_000_000),
        "subject": subject,
        "category": category,
        "purpose": purpose,
        "legal_basis": legal_basis,
        "accessed_at": Timestamp::from_unix_millis(accessed).as_str().replace(".000Z", "Z"),
        "query": query,
        "outcome": outcome,
        "records_returned": records,
    });
    (from, event)
}
