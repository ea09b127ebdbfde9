//! The registry: which key may submit for which agency and country, and which agencies hold
//! data, in which country.
//!
//! File format (`keys/registry.json`, documented in `docs/format.md` §7), version 2:
//!
//! ```json
//! {"version": 2,
//!  "submitters": [
//!   {"agency": "US-DHS-CBP", "country": "US", "key": "<verifier key string>"}
//!  ],
//!  "holders": [
//!   {"agency": "CO-MIGRACION", "country": "CO"}
//!  ]}
//! ```
//!
//! Version 1 had `submitters` only and no `version`; it is refused, so that a log never runs
//! without a list of holders to check events against.

use crate::canonical::{FormatError, parse};
use crate::event::AccessEvent;
use crate::keys::{KeyRef, VerifierKey};
use crate::values::{AgencyId, CountryCode};

/// REGISTRY_VERSION is the registry file format this code reads and writes.
pub const REGISTRY_VERSION: u64 = 2;

/// Submitter is one registered key and what it may submit for.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submitter {
    /// The agency the key speaks for.
    pub agency: AgencyId,
    /// That agency's country.
    pub country: CountryCode,
    /// The agency's verifier key.
    pub key: VerifierKey,
}

/// Holder is an agency known to hold personal data, and its country: events may name it as
/// `holder_agency` only with that `holder_country`, so the published counts by holder and by
/// country pair count real agencies.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holder {
    /// The agency.
    pub agency: AgencyId,
    /// Its country.
    pub country: CountryCode,
}

/// Registry is the set of registered submitters and known holders.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "RegistryFile", into = "RegistryFile")]
pub struct Registry {
    /// Every registered key; each `name+id` appears once.
    pub submitters: Vec<Submitter>,
    /// Every agency events may name as holder; each agency appears once.
    pub holders: Vec<Holder>,
}

/// RegistryFile is the registry as written: the same lists and the format version.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    /// Always [`REGISTRY_VERSION`].
    version: u64,
    submitters: Vec<Submitter>,
    holders: Vec<Holder>,
}

impl TryFrom<RegistryFile> for Registry {
    type Error = String;
    fn try_from(file: RegistryFile) -> Result<Registry, String> {
        if file.version != REGISTRY_VERSION {
            return Err(format!(
                "registry format version {} is not supported, want {REGISTRY_VERSION}",
                file.version
            ));
        }
        Ok(Registry {
            submitters: file.submitters,
            holders: file.holders,
        })
    }
}

impl From<Registry> for RegistryFile {
    fn from(registry: Registry) -> RegistryFile {
        RegistryFile {
            version: REGISTRY_VERSION,
            submitters: registry.submitters,
            holders: registry.holders,
        }
    }
}

/// RegistryError says why a registry file is bad or a key may not submit an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The file does not parse.
    #[error("registry: {0}")]
    Format(#[from] FormatError),
    /// The file is in format version 1, which lists no holders.
    #[error(
        "registry: format version 1 (no \"version\" field) lists no holders; add \"version\": \
         {REGISTRY_VERSION} and a \"holders\" list of {{\"agency\", \"country\"}} (docs/format.md §7)"
    )]
    OldFormat,
    /// The same key is registered twice.
    #[error("registry lists key {0} twice")]
    Duplicate(String),
    /// The same holder agency is listed twice.
    #[error("registry lists holder agency {0} twice")]
    DuplicateHolder(String),
    /// No registered key has this name and id.
    #[error("key {0} is not registered")]
    UnknownKey(String),
    /// The key is registered for another agency or country.
    #[error(
        "key {key} is registered for {agency} ({country}), not {claimed_agency} ({claimed_country})"
    )]
    NotAuthorized {
        /// The key.
        key: String,
        /// Its registered agency.
        agency: String,
        /// Its registered country.
        country: String,
        /// The agency the event claims.
        claimed_agency: String,
        /// The country the event claims.
        claimed_country: String,
    },
}

/// is_version_1 says whether `bytes` are a valid registry of format version 1: `submitters`
/// alone, which with a version and an empty list of holders would parse.
fn is_version_1(bytes: &[u8]) -> bool {
    let Ok(serde_json::Value::Object(mut file)) = serde_json::from_slice(bytes) else {
        return false;
    };
    if file.contains_key("version") || file.contains_key("holders") {
        return false;
    }
    file.insert("version".into(), REGISTRY_VERSION.into());
    file.insert("holders".into(), serde_json::Value::Array(Vec::new()));
    let upgraded = serde_json::Value::Object(file).to_string();
    parse::<Registry>(upgraded.as_bytes()).is_ok()
}

/// HolderError says why an event's holder is refused: the registry does not list the agency,
/// or lists it in another country.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HolderError {
    /// The holder agency is not in the registry's list of holders.
    #[error("holder_agency {0} is not a known data holder (not in the registry's holders)")]
    Unknown(String),
    /// The holder agency is listed in another country than the event says.
    #[error("holder_agency {agency} is in {country}, not holder_country {claimed}")]
    WrongCountry {
        /// The agency.
        agency: String,
        /// Its country in the registry.
        country: String,
        /// The country the event claims for it.
        claimed: String,
    },
}

impl Registry {
    /// parse reads a registry file and refuses duplicate keys and holders.
    pub fn parse(bytes: &[u8]) -> Result<Registry, RegistryError> {
        let registry: Registry = parse(bytes).map_err(|e| {
            if is_version_1(bytes) {
                RegistryError::OldFormat
            } else {
                RegistryError::Format(e)
            }
        })?;
        registry.check()?;
        Ok(registry)
    }

    /// check refuses a registry that lists a key or a holder agency twice.
    pub fn check(&self) -> Result<(), RegistryError> {
        let mut seen = std::collections::HashSet::new();
        for s in &self.submitters {
            if !seen.insert(s.key.key_ref().clone()) {
                return Err(RegistryError::Duplicate(s.key.key_ref().to_string()));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for h in &self.holders {
            if !seen.insert(&h.agency) {
                return Err(RegistryError::DuplicateHolder(h.agency.to_string()));
            }
        }
        Ok(())
    }

    /// check_holder refuses an event whose holder agency is not listed, or is listed in
    /// another country than the event's `holder_country`.
    pub fn check_holder(&self, event: &AccessEvent) -> Result<(), HolderError> {
        let holder = self
            .holders
            .iter()
            .find(|h| h.agency == event.holder_agency)
            .ok_or_else(|| HolderError::Unknown(event.holder_agency.to_string()))?;
        if holder.country != event.holder_country {
            return Err(HolderError::WrongCountry {
                agency: holder.agency.to_string(),
                country: holder.country.to_string(),
                claimed: event.holder_country.to_string(),
            });
        }
        Ok(())
    }

    /// to_json writes the registry file, pretty-printed for people.
    pub fn to_json(&self) -> String {
        // Invariant: the registry holds only strings.
        serde_json::to_string_pretty(self).expect("registry serializes")
    }

    /// lookup finds a key by name and id.
    pub fn lookup(&self, key: &KeyRef) -> Option<&Submitter> {
        self.submitters.iter().find(|s| s.key.key_ref() == key)
    }

    /// authorize returns the key that must have signed `event`, if the key the event names
    /// is registered for the agency and country the event claims.
    pub fn authorize(&self, event: &AccessEvent) -> Result<&VerifierKey, RegistryError> {
        let submitter = self
            .lookup(&event.key)
            .ok_or_else(|| RegistryError::UnknownKey(event.key.to_string()))?;
        if submitter.agency != event.requesting_agency
            || submitter.country != event.requesting_country
        {
            return Err(RegistryError::NotAuthorized {
                key: event.key.to_string(),
                agency: submitter.agency.to_string(),
                country: submitter.country.to_string(),
                claimed_agency: event.requesting_agency.to_string(),
                claimed_country: event.requesting_country.to_string(),
            });
        }
        Ok(&submitter.key)
    }
}
