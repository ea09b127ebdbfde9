//! The trust root: what the log and every verifier take from a trusted source, not from the
//! log. It names the log (origin and verifier key), each country's registrars (the keys
//! that sign changes to who may sign, and how many of them must), and the initial registry,
//! from which the registry events of the log are replayed (issue #14).
//!
//! File format (`keys/trust.json`, documented in `docs/format.md` §14), version 1:
//!
//! ```json
//! {"version": 1,
//!  "log": {"origin": "huella.localhost/log", "key": "<verifier key of the log>"},
//!  "countries": [
//!   {"country": "CO", "registrars": ["<verifier key>"], "threshold": 1},
//!   {"country": "US", "registrars": ["<verifier key>", "<verifier key>"], "threshold": 2}
//!  ],
//!  "registry": {"version": 2, "submitters": [...], "holders": [...]}}
//! ```

use crate::canonical::{FormatError, parse};
use crate::keys::{KeyRef, VerifierKey};
use crate::registry::{Registry, RegistryError};
use crate::values::CountryCode;

/// TRUST_VERSION is the trust root format this code reads and writes.
pub const TRUST_VERSION: u64 = 1;

/// LogId names the log a trust root is for.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogId {
    /// The log's origin: the first line of its checkpoints, and its key's name.
    pub origin: String,
    /// The log's verifier key.
    pub key: VerifierKey,
}

/// Registrars are the keys that may sign one country's registry changes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registrars {
    /// The country whose principals they register.
    pub country: CountryCode,
    /// Their verifier keys: at least one, each once.
    pub registrars: Vec<VerifierKey>,
    /// How many distinct registrars must sign a change, 1 to the number of registrars;
    /// absent means 1 (see [`Registrars::threshold`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u64>,
}

impl Registrars {
    /// threshold is how many distinct registrars must sign a change: as given, or 1.
    pub fn threshold(&self) -> u64 {
        self.threshold.unwrap_or(1)
    }
}

/// TrustRoot is a parsed and checked trust root.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "TrustFile", into = "TrustFile")]
pub struct TrustRoot {
    /// The log.
    pub log: LogId,
    /// Each country's registrars, at most one entry per country.
    pub countries: Vec<Registrars>,
    /// The registry the log started with, before any registry event.
    pub registry: Registry,
}

/// TrustFile is the trust root as written.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustFile {
    /// Always [`TRUST_VERSION`].
    version: u64,
    log: LogId,
    countries: Vec<Registrars>,
    registry: Registry,
}

impl TryFrom<TrustFile> for TrustRoot {
    type Error = String;
    fn try_from(file: TrustFile) -> Result<TrustRoot, String> {
        if file.version != TRUST_VERSION {
            return Err(format!(
                "trust root format version {} is not supported, want {TRUST_VERSION}",
                file.version
            ));
        }
        Ok(TrustRoot {
            log: file.log,
            countries: file.countries,
            registry: file.registry,
        })
    }
}

impl From<TrustRoot> for TrustFile {
    fn from(root: TrustRoot) -> TrustFile {
        TrustFile {
            version: TRUST_VERSION,
            log: root.log,
            countries: root.countries,
            registry: root.registry,
        }
    }
}

/// TrustError says why a trust root is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    /// The file does not parse.
    #[error("trust root: {0}")]
    Format(#[from] FormatError),
    /// The log key's name is not the origin.
    #[error("trust root: the log key is named {name}, not the origin {origin}")]
    OriginMismatch {
        /// The origin.
        origin: String,
        /// The key's name.
        name: String,
    },
    /// A country is listed twice.
    #[error("trust root: country {0} is listed twice")]
    DuplicateCountry(String),
    /// A country lists no registrar.
    #[error("trust root: country {0} lists no registrar")]
    NoRegistrars(String),
    /// A threshold is 0 or above the number of registrars.
    #[error(
        "trust root: country {country} has threshold {threshold}, but it must be 1 to {registrars} (its number of registrars)"
    )]
    BadThreshold {
        /// The country.
        country: String,
        /// The threshold given.
        threshold: u64,
        /// How many registrars it lists.
        registrars: usize,
    },
    /// A registrar key is listed twice, for one country or for two.
    #[error("trust root: registrar key {0} is listed twice (a registrar serves one country)")]
    DuplicateRegistrar(String),
    /// A key is both a registrar and a registered principal's key.
    #[error("trust root: key {0} is both a registrar and in the registry")]
    RegistrarInRegistry(String),
    /// The log key is also a registrar or a principal's key.
    #[error("trust root: the log key {0} is also a registrar or in the registry")]
    LogKeyReused(String),
    /// The initial registry is refused.
    #[error("trust root: {0}")]
    Registry(#[from] RegistryError),
}

impl TrustRoot {
    /// parse reads a trust root file and checks it.
    pub fn parse(bytes: &[u8]) -> Result<TrustRoot, TrustError> {
        let root: TrustRoot = parse(bytes)?;
        root.check()?;
        Ok(root)
    }

    /// check refuses a trust root whose parts contradict each other: a log key not named by
    /// the origin, a country listed twice or without registrars, a threshold out of range, a
    /// registrar listed twice or also registered as a principal, the log key reused, or an
    /// initial registry that lists a key or holder twice.
    pub fn check(&self) -> Result<(), TrustError> {
        let name = self.log.key.name().as_str();
        if name != self.log.origin {
            return Err(TrustError::OriginMismatch {
                origin: self.log.origin.clone(),
                name: name.to_string(),
            });
        }
        self.registry.check()?;
        let log_key = self.log.key.key_ref();
        let registered: std::collections::HashSet<&KeyRef> = self
            .registry
            .submitters
            .iter()
            .map(|s| s.key.key_ref())
            .collect();
        if registered.contains(log_key) {
            return Err(TrustError::LogKeyReused(log_key.to_string()));
        }
        let mut countries = std::collections::HashSet::new();
        let mut registrars = std::collections::HashSet::new();
        for c in &self.countries {
            if !countries.insert(&c.country) {
                return Err(TrustError::DuplicateCountry(c.country.to_string()));
            }
            if c.registrars.is_empty() {
                return Err(TrustError::NoRegistrars(c.country.to_string()));
            }
            if c.threshold() == 0 || c.threshold() > c.registrars.len() as u64 {
                return Err(TrustError::BadThreshold {
                    country: c.country.to_string(),
                    threshold: c.threshold(),
                    registrars: c.registrars.len(),
                });
            }
            for r in &c.registrars {
                let key = r.key_ref();
                if key == log_key {
                    return Err(TrustError::LogKeyReused(key.to_string()));
                }
                if registered.contains(key) {
                    return Err(TrustError::RegistrarInRegistry(key.to_string()));
                }
                if !registrars.insert(key.clone()) {
                    return Err(TrustError::DuplicateRegistrar(key.to_string()));
                }
            }
        }
        Ok(())
    }

    /// for_registry is the trust root of a log whose registry is a plain `registry.json`
    /// (the older form): the log's key, no registrars, so that no registry event is ever
    /// admitted or accepted, and `registry` as the only registry there is.
    pub fn for_registry(log_key: &VerifierKey, registry: Registry) -> TrustRoot {
        TrustRoot {
            log: LogId {
                origin: log_key.name().as_str().to_string(),
                key: log_key.clone(),
            },
            countries: Vec::new(),
            registry,
        }
    }

    /// registrars_of is the registrars of `country`, if the trust root lists any.
    pub fn registrars_of(&self, country: &CountryCode) -> Option<&Registrars> {
        self.countries.iter().find(|c| &c.country == country)
    }

    /// to_json is the trust root as its file holds it: canonical JSON (RFC 8785).
    pub fn to_json(&self) -> String {
        // Invariant: RFC 8785 output is UTF-8.
        String::from_utf8(crate::canonical::to_canonical(self)).expect("canonical JSON is UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyName, SignerKey};

    fn key(name: &str, seed: u8) -> VerifierKey {
        SignerKey::from_seed(KeyName::new(name).unwrap(), &[seed; 32]).verifier()
    }

    /// A trust root of two countries, written by hand as the docs describe it.
    fn example() -> String {
        let registry = serde_json::json!({
            "version": 2,
            "submitters": [
                {"agency": "US-DHS-CBP", "country": "US", "key": key("cbp.us.example", 1).to_string()}
            ],
            "holders": [{"agency": "CO-MIGRACION", "country": "CO"}]
        });
        serde_json::json!({
            "version": 1,
            "log": {"origin": "huella.example/log", "key": key("huella.example/log", 9).to_string()},
            "countries": [
                {"country": "CO", "registrars": [key("registrar.co.example", 3).to_string()]},
                {"country": "US", "registrars": [
                    key("registrar-a.us.example", 4).to_string(),
                    key("registrar-b.us.example", 5).to_string()
                ], "threshold": 2}
            ],
            "registry": registry
        })
        .to_string()
    }

    fn edited(edit: impl FnOnce(&mut serde_json::Value)) -> Result<TrustRoot, TrustError> {
        let mut value: serde_json::Value = serde_json::from_str(&example()).unwrap();
        edit(&mut value);
        TrustRoot::parse(value.to_string().as_bytes())
    }

    #[test]
    fn the_example_parses_with_its_thresholds() {
        let root = TrustRoot::parse(example().as_bytes()).unwrap();
        assert_eq!(root.log.origin, "huella.example/log");
        let co = root
            .registrars_of(&CountryCode::new("CO").unwrap())
            .unwrap();
        assert_eq!(
            (co.registrars.len(), co.threshold()),
            (1, 1),
            "default threshold 1"
        );
        let us = root
            .registrars_of(&CountryCode::new("US").unwrap())
            .unwrap();
        assert_eq!((us.registrars.len(), us.threshold()), (2, 2));
        assert!(
            root.registrars_of(&CountryCode::new("MX").unwrap())
                .is_none()
        );
        assert_eq!(root.registry.submitters.len(), 1);
        // Written out canonically, it reads back the same.
        assert_eq!(TrustRoot::parse(root.to_json().as_bytes()).unwrap(), root);
        assert!(
            root.to_json()
                .starts_with("{\"countries\":[{\"country\":\"CO\"")
        );
    }

    #[test]
    fn contradictions_are_refused_naming_the_part() {
        type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;
        let cases: Vec<(&str, Edit)> = vec![
            ("version 2", Box::new(|v| v["version"] = 2.into())),
            (
                "no version",
                Box::new(|v| {
                    v.as_object_mut().unwrap().remove("version");
                }),
            ),
            ("unknown field", Box::new(|v| v["extra"] = 1.into())),
            (
                "origin",
                Box::new(|v| v["log"]["origin"] = "other.example/log".into()),
            ),
            (
                "country twice",
                Box::new(|v| {
                    let co = v["countries"][0].clone();
                    v["countries"].as_array_mut().unwrap().push(co);
                }),
            ),
            (
                "no registrars",
                Box::new(|v| v["countries"][0]["registrars"] = serde_json::json!([])),
            ),
            (
                "threshold 0",
                Box::new(|v| v["countries"][1]["threshold"] = 0.into()),
            ),
            (
                "threshold 3 of 2",
                Box::new(|v| v["countries"][1]["threshold"] = 3.into()),
            ),
            (
                "registrar in two countries",
                Box::new(|v| {
                    let r = v["countries"][0]["registrars"][0].clone();
                    v["countries"][1]["registrars"]
                        .as_array_mut()
                        .unwrap()
                        .push(r);
                }),
            ),
            (
                "registrar registered",
                Box::new(|v| {
                    let r = v["countries"][0]["registrars"][0].clone();
                    v["registry"]["submitters"][0]["key"] = r;
                }),
            ),
            (
                "log key a registrar",
                Box::new(|v| {
                    let k = v["log"]["key"].clone();
                    v["countries"][0]["registrars"][0] = k;
                }),
            ),
            (
                "registry version 1",
                Box::new(|v| {
                    v["registry"].as_object_mut().unwrap().remove("version");
                }),
            ),
        ];
        for (what, edit) in cases {
            let error = edited(edit).expect_err(what).to_string();
            assert!(error.starts_with("trust root"), "{what}: {error}");
            eprintln!("{what}: {error}");
        }
        let error = edited(|v| v["countries"][1]["threshold"] = 3.into()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "trust root: country US has threshold 3, but it must be 1 to 2 (its number of registrars)"
        );
    }
}
