//! The submitter registry: which key may submit for which agency and country.
//!
//! File format (`keys/registry.json`, documented in `docs/format.md`):
//!
//! ```json
//! {"submitters": [
//!   {"agency": "US-DHS-CBP", "country": "US", "key": "<verifier key string>"}
//! ]}
//! ```

use crate::canonical::{FormatError, parse};
use crate::event::AccessEvent;
use crate::keys::{KeyRef, VerifierKey};
use crate::values::{AgencyId, CountryCode};

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

/// Registry is the set of registered submitters.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    /// Every registered key; each `name+id` appears once.
    pub submitters: Vec<Submitter>,
}

/// RegistryError says why a registry file is bad or a key may not submit an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The file does not parse.
    #[error("registry: {0}")]
    Format(#[from] FormatError),
    /// The same key is registered twice.
    #[error("registry lists key {0} twice")]
    Duplicate(String),
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

impl Registry {
    /// parse reads a registry file and refuses duplicate keys.
    pub fn parse(bytes: &[u8]) -> Result<Registry, RegistryError> {
        let registry: Registry = parse(bytes)?;
        registry.check()?;
        Ok(registry)
    }

    /// check refuses a registry that lists a key twice.
    pub fn check(&self) -> Result<(), RegistryError> {
        let mut seen = std::collections::HashSet::new();
        for s in &self.submitters {
            if !seen.insert(s.key.key_ref().clone()) {
                return Err(RegistryError::Duplicate(s.key.key_ref().to_string()));
            }
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
