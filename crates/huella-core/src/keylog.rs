//! The key registry as the log's registry events change it: every key ever registered, with
//! its principal (agency and country), its role and its validity, replayed from the trust
//! root ([`crate::trust`]) by the log and by every verifier alike.
//!
//! This module is the pure state machine, the registrars' threshold rule, and the registry
//! events' signed form ([`RegistryEvent`], [`SignedRegistryEvent`]). Their leaves are
//! [`crate::entry::RegistryEntry`]; the log's sequencer and the verifier's
//! [`crate::verify::Auditor`] apply them in log order.
//!
//! Rules:
//! - A key has one role and one principal for life, and is registered once.
//! - A key may sign for its principal and role at an event's `accessed_at` when
//!   `valid_from <= accessed_at`, and `accessed_at < valid_until` if it was retired.
//! - A key retired or revoked by a change logged before an event's arrival no longer signs:
//!   a retirement takes effect at `valid_until`, a revocation at once.
//! - A revocation names `compromised_since`, which may lie in the past: events the key
//!   signed before the revocation was logged, with `accessed_at` at or after that time, are
//!   not refused after the fact, but a verifier reports them ([`KeyRegistry::suspect`]).
//! - A change is made by the registrars of the principal's country ([`TrustRoot`]), at least
//!   their threshold of distinct ones, each signature checked ([`KeyRegistry::check_signers`]).

use std::collections::{BTreeMap, BTreeSet};

use crate::canonical::to_canonical;
use crate::event::EventSignature;
use crate::keys::{KeyRef, SignerKey, VerifierKey};
use crate::registry::Registry;
use crate::trust::TrustRoot;
use crate::values::{AgencyId, CountryCode, Reason, Timestamp};

/// REGISTRY_TAG prefixes what registrars sign: `huella/registry/v1` and a newline, so that a
/// registrar's signature on a registry event is never one on anything else.
pub const REGISTRY_TAG: &[u8] = b"huella/registry/v1\n";

/// RegistryEvent is a change to who may sign, as registrars sign it. Its JSON form is an
/// object whose `kind` says which change it is.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RegistryEvent {
    /// A new key for a principal and role.
    KeyRegister {
        /// The principal's agency.
        agency: AgencyId,
        /// The principal's country, whose registrars sign.
        country: CountryCode,
        /// What the key may sign.
        role: Role,
        /// The key.
        key: VerifierKey,
        /// From when it may sign.
        valid_from: Timestamp,
    },
    /// A planned end: the key signs events accessed before `valid_until` only.
    KeyRetire {
        /// The key.
        key: VerifierKey,
        /// Until when it signs.
        valid_until: Timestamp,
    },
    /// An unplanned end: the key may be in other hands since `compromised_since`.
    KeyRevoke {
        /// The key.
        key: VerifierKey,
        /// Since when (it may lie in the past).
        compromised_since: Timestamp,
        /// Why.
        reason: Reason,
    },
}

impl RegistryEvent {
    /// signing_bytes is what each registrar signs: [`REGISTRY_TAG`] then the RFC 8785 form
    /// of the event.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut message = REGISTRY_TAG.to_vec();
        message.extend_from_slice(&to_canonical(self));
        message
    }

    /// kind is the event's `kind`: `key_register`, `key_retire` or `key_revoke`.
    pub fn kind(&self) -> &'static str {
        match self {
            RegistryEvent::KeyRegister { .. } => "key_register",
            RegistryEvent::KeyRetire { .. } => "key_retire",
            RegistryEvent::KeyRevoke { .. } => "key_revoke",
        }
    }

    /// key is the key the event is about.
    pub fn key(&self) -> &VerifierKey {
        match self {
            RegistryEvent::KeyRegister { key, .. }
            | RegistryEvent::KeyRetire { key, .. }
            | RegistryEvent::KeyRevoke { key, .. } => key,
        }
    }

    /// change is the event's effect on the registry.
    pub fn change(&self) -> Change {
        match self {
            RegistryEvent::KeyRegister {
                agency,
                country,
                role,
                key,
                valid_from,
            } => Change::Register {
                principal: Principal {
                    agency: agency.clone(),
                    country: country.clone(),
                },
                role: *role,
                key: key.clone(),
                valid_from: valid_from.clone(),
            },
            RegistryEvent::KeyRetire { key, valid_until } => Change::Retire {
                key: key.key_ref().clone(),
                valid_until: valid_until.clone(),
            },
            RegistryEvent::KeyRevoke {
                key,
                compromised_since,
                reason,
            } => Change::Revoke {
                key: key.key_ref().clone(),
                compromised_since: compromised_since.clone(),
                reason: reason.to_string(),
            },
        }
    }
}

/// RegistrarSignature is one registrar's signature on a registry event.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrarSignature {
    /// The registrar's key, `name+hexid`.
    pub key: KeyRef,
    /// Its signature over [`RegistryEvent::signing_bytes`].
    pub signature: EventSignature,
}

/// SignedRegistryEvent is a registry event with its registrars' signatures.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedRegistryEvent {
    /// The change.
    pub event: RegistryEvent,
    /// One signature per registrar who signed it.
    pub signatures: Vec<RegistrarSignature>,
}

impl SignedRegistryEvent {
    /// sign signs `event` with each of `registrars`.
    pub fn sign(event: RegistryEvent, registrars: &[&SignerKey]) -> SignedRegistryEvent {
        let message = event.signing_bytes();
        let signatures = registrars
            .iter()
            .map(|r| RegistrarSignature {
                key: r.verifier().key_ref().clone(),
                signature: EventSignature(r.sign(&message)),
            })
            .collect();
        SignedRegistryEvent { event, signatures }
    }
}

/// Role is what a registered key may sign.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Access events.
    Submitter,
    /// Sealed reads (issue #15).
    Auditor,
    /// Erasure orders (issue #15).
    ErasureAuthority,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Submitter => "submitter",
            Role::Auditor => "auditor",
            Role::ErasureAuthority => "erasure_authority",
        })
    }
}

/// Principal is who a key speaks for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Principal {
    /// The agency.
    pub agency: AgencyId,
    /// Its country.
    pub country: CountryCode,
}

/// KeyRecord is one key's registration and validity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRecord {
    /// The key.
    pub key: VerifierKey,
    /// Who it speaks for.
    pub principal: Principal,
    /// What it may sign.
    pub role: Role,
    /// From when it may sign; `None` for a key of the trust root's initial registry, valid
    /// from the start of the log.
    pub valid_from: Option<Timestamp>,
    /// Where it was registered: `None` for the trust root.
    pub registered_at: Option<u64>,
    /// Its retirement: until when it signs, and where that was logged.
    pub retired: Option<(Timestamp, u64)>,
    /// Its revocation: since when it may have been in other hands, why, and where that was
    /// logged.
    pub revoked: Option<Revocation>,
}

/// Revocation is a key's revocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    /// Since when the key may have been in other hands.
    pub compromised_since: Timestamp,
    /// Why, as the registrars wrote it.
    pub reason: String,
    /// Where the revocation was logged.
    pub index: u64,
}

/// Change is one registry event's effect.
// A registration carries a whole verifier key; changes are few (one per registry event) and
// short-lived, so the size is not worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A new key for a principal and role.
    Register {
        /// Who it speaks for.
        principal: Principal,
        /// What it may sign.
        role: Role,
        /// The key.
        key: VerifierKey,
        /// From when it may sign.
        valid_from: Timestamp,
    },
    /// A planned end: the key signs events accessed before `valid_until` only.
    Retire {
        /// The key.
        key: KeyRef,
        /// Until when it signs.
        valid_until: Timestamp,
    },
    /// An unplanned end: the key may be in other hands since `compromised_since`.
    Revoke {
        /// The key.
        key: KeyRef,
        /// Since when.
        compromised_since: Timestamp,
        /// Why.
        reason: String,
    },
}

impl Change {
    /// key is the key the change is about.
    pub fn key(&self) -> &KeyRef {
        match self {
            Change::Register { key, .. } => key.key_ref(),
            Change::Retire { key, .. } | Change::Revoke { key, .. } => key,
        }
    }
}

/// ChangeError says why a registry change is refused; nothing changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    /// The key is registered already (at `index`, or in the trust root).
    #[error("key {key} is already registered ({})", at(.index))]
    Duplicate {
        /// The key.
        key: String,
        /// Where.
        index: Option<u64>,
    },
    /// A retirement or revocation names a key whose name and id are registered, but with
    /// other key bytes.
    #[error("key {0} is registered with other key bytes under the same name and id")]
    OtherKey(String),
    /// The key is a registrar's or the log's, which may not sign events.
    #[error("key {0} is a registrar's or the log's key; a key has one role")]
    ReservedKey(String),
    /// The key is not registered.
    #[error("key {0} is not registered")]
    UnknownKey(String),
    /// The key is retired already.
    #[error("key {key} is already retired ({})", at(&Some(*.index)))]
    AlreadyRetired {
        /// The key.
        key: String,
        /// Where it was retired.
        index: u64,
    },
    /// The key is revoked already.
    #[error("key {key} is already revoked ({})", at(&Some(*.index)))]
    AlreadyRevoked {
        /// The key.
        key: String,
        /// Where it was revoked.
        index: u64,
    },
    /// A retirement before the key's `valid_from`.
    #[error("key {key} cannot be retired at {valid_until}, before it is valid from {valid_from}")]
    RetiredBeforeValid {
        /// The key.
        key: String,
        /// The retirement asked for.
        valid_until: String,
        /// The key's start.
        valid_from: String,
    },
    /// The principal's country has no registrars in the trust root.
    #[error("country {0} has no registrars in the trust root")]
    NoRegistrars(String),
    /// A signer is not a registrar of the principal's country.
    #[error("key {signer} is not a registrar of {country}")]
    NotARegistrar {
        /// The signing key.
        signer: String,
        /// The principal's country.
        country: String,
    },
    /// A registrar's signature does not verify.
    #[error("the signature of registrar {0} does not verify")]
    BadSignature(String),
    /// The same registrar signed twice.
    #[error("registrar {0} signed twice")]
    DuplicateSigner(String),
    /// Fewer distinct registrars signed than the threshold.
    #[error("{signed} registrar signature(s) of {country}, but {threshold} are needed")]
    BelowThreshold {
        /// The country.
        country: String,
        /// Valid signatures.
        signed: u64,
        /// The country's threshold.
        threshold: u64,
    },
}

fn at(index: &Option<u64>) -> String {
    match index {
        Some(i) => format!("at log index {i}"),
        None => "in the trust root".to_string(),
    }
}

/// SignError says why a key may not sign an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// No such key.
    #[error("key {0} is not registered")]
    UnknownKey(String),
    /// The key has another role.
    #[error("key {key} is registered as {role}, not {wanted}")]
    WrongRole {
        /// The key.
        key: String,
        /// Its role.
        role: Role,
        /// The role the event needs.
        wanted: Role,
    },
    /// The key speaks for another principal.
    #[error(
        "key {key} is registered for {agency} ({country}), not {claimed_agency} ({claimed_country})"
    )]
    WrongPrincipal {
        /// The key.
        key: String,
        /// Its agency.
        agency: String,
        /// Its country.
        country: String,
        /// The agency the event claims.
        claimed_agency: String,
        /// The country the event claims.
        claimed_country: String,
    },
    /// The event was accessed before the key was valid.
    #[error("key {key} is valid from {valid_from}, after the event's accessed_at {accessed_at}")]
    NotYetValid {
        /// The key.
        key: String,
        /// Its start.
        valid_from: String,
        /// The event's time.
        accessed_at: String,
    },
    /// The key was retired (at `index`) before the event's time or its arrival.
    #[error("key {key} was retired at log index {index}, valid until {valid_until}")]
    Retired {
        /// The key.
        key: String,
        /// Where.
        index: u64,
        /// Until when it signed.
        valid_until: String,
    },
    /// The key was revoked (at `index`) before the event arrived.
    #[error("key {key} was revoked at log index {index}")]
    Revoked {
        /// The key.
        key: String,
        /// Where.
        index: u64,
    },
}

/// KeyRegistry is every key ever registered, as of some log index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRegistry {
    keys: BTreeMap<KeyRef, KeyRecord>,
    /// Keys that may never be registered: the registrars' and the log's.
    reserved: BTreeSet<KeyRef>,
}

impl KeyRegistry {
    /// from_trust is the registry before any registry event: the trust root's submitters,
    /// valid from the start of the log.
    pub fn from_trust(trust: &TrustRoot) -> KeyRegistry {
        let mut registry = KeyRegistry::from_registry(&trust.registry);
        registry.reserved = trust
            .countries
            .iter()
            .flat_map(|c| c.registrars.iter().map(|r| r.key_ref().clone()))
            .collect();
        registry.reserved.insert(trust.log.key.key_ref().clone());
        registry
    }

    /// from_registry is the registry of a plain `registry.json`: its submitters, valid from
    /// the start of the log, and no registrars.
    pub fn from_registry(registry: &Registry) -> KeyRegistry {
        let keys = registry
            .submitters
            .iter()
            .map(|s| {
                let record = KeyRecord {
                    key: s.key.clone(),
                    principal: Principal {
                        agency: s.agency.clone(),
                        country: s.country.clone(),
                    },
                    role: Role::Submitter,
                    valid_from: None,
                    registered_at: None,
                    retired: None,
                    revoked: None,
                };
                (s.key.key_ref().clone(), record)
            })
            .collect();
        KeyRegistry {
            keys,
            reserved: BTreeSet::new(),
        }
    }

    /// record is a key's record, if it was ever registered.
    pub fn record(&self, key: &KeyRef) -> Option<&KeyRecord> {
        self.keys.get(key)
    }

    /// records is every key ever registered, retired and revoked ones included, by key.
    pub fn records(&self) -> impl Iterator<Item = &KeyRecord> {
        self.keys.values()
    }

    /// check_signers checks that `signatures` (each a registrar key and its signature over
    /// `message`) hold the threshold of distinct, valid signatures of `country`'s registrars.
    /// Any signature that is not a valid one by a registrar of that country refuses the
    /// change: a registrar cannot sign for another country.
    pub fn check_signers(
        trust: &TrustRoot,
        country: &CountryCode,
        message: &[u8],
        signatures: &[(KeyRef, Vec<u8>)],
    ) -> Result<(), ChangeError> {
        let registrars = trust
            .registrars_of(country)
            .ok_or_else(|| ChangeError::NoRegistrars(country.to_string()))?;
        let mut signed = BTreeSet::new();
        for (signer, signature) in signatures {
            let key = registrars
                .registrars
                .iter()
                .find(|r| r.key_ref() == signer)
                .ok_or_else(|| ChangeError::NotARegistrar {
                    signer: signer.to_string(),
                    country: country.to_string(),
                })?;
            if !key.verify(message, signature) {
                return Err(ChangeError::BadSignature(signer.to_string()));
            }
            if !signed.insert(signer.clone()) {
                return Err(ChangeError::DuplicateSigner(signer.to_string()));
            }
        }
        let threshold = registrars.threshold();
        if (signed.len() as u64) < threshold {
            return Err(ChangeError::BelowThreshold {
                country: country.to_string(),
                signed: signed.len() as u64,
                threshold,
            });
        }
        Ok(())
    }

    /// country_of is the country whose registrars must sign `change`: the principal's, for a
    /// registration; the registered key's principal's, for a retirement or revocation.
    pub fn country_of(&self, change: &Change) -> Result<CountryCode, ChangeError> {
        match change {
            Change::Register { principal, .. } => Ok(principal.country.clone()),
            Change::Retire { key, .. } | Change::Revoke { key, .. } => self
                .keys
                .get(key)
                .map(|r| r.principal.country.clone())
                .ok_or_else(|| ChangeError::UnknownKey(key.to_string())),
        }
    }

    /// apply applies `change`, logged at `index`, or refuses it and changes nothing. The
    /// registrars' signatures are checked apart ([`KeyRegistry::check_signers`]).
    pub fn apply(&mut self, change: &Change, index: u64) -> Result<(), ChangeError> {
        match change {
            Change::Register {
                principal,
                role,
                key,
                valid_from,
            } => {
                let id = key.key_ref();
                if self.reserved.contains(id) {
                    return Err(ChangeError::ReservedKey(id.to_string()));
                }
                if let Some(existing) = self.keys.get(id) {
                    return Err(ChangeError::Duplicate {
                        key: id.to_string(),
                        index: existing.registered_at,
                    });
                }
                self.keys.insert(
                    id.clone(),
                    KeyRecord {
                        key: key.clone(),
                        principal: principal.clone(),
                        role: *role,
                        valid_from: Some(valid_from.clone()),
                        registered_at: Some(index),
                        retired: None,
                        revoked: None,
                    },
                );
            }
            Change::Retire { key, valid_until } => {
                let record = self
                    .keys
                    .get_mut(key)
                    .ok_or_else(|| ChangeError::UnknownKey(key.to_string()))?;
                if let Some(revoked) = &record.revoked {
                    return Err(ChangeError::AlreadyRevoked {
                        key: key.to_string(),
                        index: revoked.index,
                    });
                }
                if let Some((_, retired)) = record.retired {
                    return Err(ChangeError::AlreadyRetired {
                        key: key.to_string(),
                        index: retired,
                    });
                }
                if let Some(from) = &record.valid_from
                    && valid_until.unix_millis() < from.unix_millis()
                {
                    return Err(ChangeError::RetiredBeforeValid {
                        key: key.to_string(),
                        valid_until: valid_until.to_string(),
                        valid_from: from.to_string(),
                    });
                }
                record.retired = Some((valid_until.clone(), index));
            }
            Change::Revoke {
                key,
                compromised_since,
                reason,
            } => {
                let record = self
                    .keys
                    .get_mut(key)
                    .ok_or_else(|| ChangeError::UnknownKey(key.to_string()))?;
                if let Some(revoked) = &record.revoked {
                    return Err(ChangeError::AlreadyRevoked {
                        key: key.to_string(),
                        index: revoked.index,
                    });
                }
                record.revoked = Some(Revocation {
                    compromised_since: compromised_since.clone(),
                    reason: reason.clone(),
                    index,
                });
            }
        }
        Ok(())
    }

    /// apply_signed checks a signed registry event against this registry and `trust` (enough
    /// registrars of the right country, every signature valid) and applies it, logged at
    /// `index`; or refuses it and changes nothing.
    pub fn apply_signed(
        &mut self,
        signed: &SignedRegistryEvent,
        trust: &TrustRoot,
        index: u64,
    ) -> Result<(), ChangeError> {
        let change = signed.event.change();
        let country = self.country_of(&change)?;
        if !matches!(change, Change::Register { .. })
            && let Some(record) = self.keys.get(change.key())
            && &record.key != signed.event.key()
        {
            return Err(ChangeError::OtherKey(change.key().to_string()));
        }
        let signatures: Vec<(KeyRef, Vec<u8>)> = signed
            .signatures
            .iter()
            .map(|s| (s.key.clone(), s.signature.0.to_vec()))
            .collect();
        KeyRegistry::check_signers(trust, &country, &signed.event.signing_bytes(), &signatures)?;
        self.apply(&change, index)
    }

    /// may_sign says whether `key` may sign an event of `role` for `principal` accessed at
    /// `accessed_at` that arrives at `arrived_at`, as of this registry (the log's, when the
    /// event arrives; a verifier's replay, at the event's index).
    pub fn may_sign(
        &self,
        key: &KeyRef,
        role: Role,
        principal: &Principal,
        accessed_at: &Timestamp,
        arrived_at: &Timestamp,
    ) -> Result<&KeyRecord, SignError> {
        self.may_sign_for(
            key,
            role,
            (&principal.agency, &principal.country),
            accessed_at,
            arrived_at,
        )
    }

    /// may_sign_for is [`KeyRegistry::may_sign`] for the principal `(agency, country)`,
    /// without building a [`Principal`] (the verifier's path, once per entry).
    pub fn may_sign_for(
        &self,
        key: &KeyRef,
        role: Role,
        (agency, country): (&AgencyId, &CountryCode),
        accessed_at: &Timestamp,
        arrived_at: &Timestamp,
    ) -> Result<&KeyRecord, SignError> {
        let record = self
            .keys
            .get(key)
            .ok_or_else(|| SignError::UnknownKey(key.to_string()))?;
        if record.role != role {
            return Err(SignError::WrongRole {
                key: key.to_string(),
                role: record.role,
                wanted: role,
            });
        }
        if &record.principal.agency != agency || &record.principal.country != country {
            return Err(SignError::WrongPrincipal {
                key: key.to_string(),
                agency: record.principal.agency.to_string(),
                country: record.principal.country.to_string(),
                claimed_agency: agency.to_string(),
                claimed_country: country.to_string(),
            });
        }
        if let Some(from) = &record.valid_from
            && accessed_at.unix_millis() < from.unix_millis()
        {
            return Err(SignError::NotYetValid {
                key: key.to_string(),
                valid_from: from.to_string(),
                accessed_at: accessed_at.to_string(),
            });
        }
        if let Some(revoked) = &record.revoked {
            return Err(SignError::Revoked {
                key: key.to_string(),
                index: revoked.index,
            });
        }
        if let Some((until, index)) = &record.retired
            && (accessed_at.unix_millis() >= until.unix_millis()
                || arrived_at.unix_millis() >= until.unix_millis())
        {
            return Err(SignError::Retired {
                key: key.to_string(),
                index: *index,
                valid_until: until.to_string(),
            });
        }
        Ok(record)
    }

    /// suspect says whether an event that `key` signed, accessed at `accessed_at` and logged
    /// before the key's revocation, falls in the time the key may have been in other hands:
    /// such entries do not fail the log, but a verifier reports them.
    pub fn suspect(&self, key: &KeyRef, accessed_at: &Timestamp) -> Option<&Revocation> {
        self.keys
            .get(key)?
            .revoked
            .as_ref()
            .filter(|r| accessed_at.unix_millis() >= r.compromised_since.unix_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyName, SignerKey};

    fn signer(name: &str, seed: u8) -> SignerKey {
        SignerKey::from_seed(KeyName::new(name).unwrap(), &[seed; 32])
    }

    fn at(millis: u64) -> Timestamp {
        Timestamp::from_unix_millis(millis)
    }

    fn principal(agency: &str, country: &str) -> Principal {
        Principal {
            agency: AgencyId::new(agency).unwrap(),
            country: CountryCode::new(country).unwrap(),
        }
    }

    /// A trust root: CBP registered in it; Colombia with one registrar, the United States
    /// with two and a threshold of 2.
    fn trust() -> TrustRoot {
        let json = serde_json::json!({
            "version": 1,
            "log": {"origin": "huella.example/log", "key": signer("huella.example/log", 2).verifier().to_string()},
            "countries": [
                {"country": "CO", "registrars": [signer("registrar.co.example", 3).verifier().to_string()]},
                {"country": "US", "registrars": [
                    signer("registrar-a.us.example", 4).verifier().to_string(),
                    signer("registrar-b.us.example", 5).verifier().to_string()
                ], "threshold": 2}
            ],
            "registry": {"version": 2,
                "submitters": [{"agency": "US-DHS-CBP", "country": "US", "key": signer("cbp.us.example", 1).verifier().to_string()}],
                "holders": []}
        });
        TrustRoot::parse(json.to_string().as_bytes()).unwrap()
    }

    fn register(
        name: &str,
        seed: u8,
        agency: &str,
        country: &str,
        role: Role,
        from: u64,
    ) -> Change {
        Change::Register {
            principal: principal(agency, country),
            role,
            key: signer(name, seed).verifier(),
            valid_from: at(from),
        }
    }

    #[test]
    fn a_rotation_keeps_old_events_valid_and_refuses_the_old_key_after_it() {
        let mut registry = KeyRegistry::from_trust(&trust());
        let old = signer("cbp.us.example", 1).verifier().key_ref().clone();
        let new = signer("cbp-2027.us.example", 6)
            .verifier()
            .key_ref()
            .clone();
        let cbp = principal("US-DHS-CBP", "US");
        registry
            .apply(
                &register(
                    "cbp-2027.us.example",
                    6,
                    "US-DHS-CBP",
                    "US",
                    Role::Submitter,
                    2_000,
                ),
                10,
            )
            .unwrap();
        registry
            .apply(
                &Change::Retire {
                    key: old.clone(),
                    valid_until: at(3_000),
                },
                11,
            )
            .unwrap();
        // The old key: events accessed and arriving before its end pass; after, refused,
        // naming the retirement.
        assert!(
            registry
                .may_sign(&old, Role::Submitter, &cbp, &at(2_500), &at(2_900))
                .is_ok()
        );
        let refused = registry
            .may_sign(&old, Role::Submitter, &cbp, &at(3_000), &at(3_100))
            .unwrap_err();
        assert_eq!(
            refused.to_string(),
            format!("key {old} was retired at log index 11, valid until 1970-01-01T00:00:03.000Z")
        );
        assert!(
            registry
                .may_sign(&old, Role::Submitter, &cbp, &at(2_500), &at(3_000))
                .is_err()
        );
        // The new key: from its valid_from on.
        assert!(
            registry
                .may_sign(&new, Role::Submitter, &cbp, &at(2_000), &at(3_100))
                .is_ok()
        );
        assert!(matches!(
            registry.may_sign(&new, Role::Submitter, &cbp, &at(1_999), &at(3_100)),
            Err(SignError::NotYetValid { .. })
        ));
        // And not for another role or principal.
        assert!(matches!(
            registry.may_sign(&new, Role::Auditor, &cbp, &at(2_500), &at(3_100)),
            Err(SignError::WrongRole { .. })
        ));
        assert!(matches!(
            registry.may_sign(
                &new,
                Role::Submitter,
                &principal("US-DHS-ICE", "US"),
                &at(2_500),
                &at(3_100)
            ),
            Err(SignError::WrongPrincipal { .. })
        ));
        // Every key ever registered stays in the registry.
        assert_eq!(registry.records().count(), 2);
        assert_eq!(
            registry.record(&old).unwrap().retired,
            Some((at(3_000), 11))
        );
    }

    #[test]
    fn a_revoked_key_is_refused_and_its_exposed_events_are_suspect() {
        let mut registry = KeyRegistry::from_trust(&trust());
        let key = signer("cbp.us.example", 1).verifier().key_ref().clone();
        let cbp = principal("US-DHS-CBP", "US");
        registry
            .apply(
                &Change::Revoke {
                    key: key.clone(),
                    compromised_since: at(5_000),
                    reason: "laptop stolen".into(),
                },
                20,
            )
            .unwrap();
        assert_eq!(
            registry.may_sign(&key, Role::Submitter, &cbp, &at(4_000), &at(6_000)),
            Err(SignError::Revoked {
                key: key.to_string(),
                index: 20
            })
        );
        assert!(registry.suspect(&key, &at(4_999)).is_none());
        assert_eq!(registry.suspect(&key, &at(5_000)).unwrap().index, 20);
    }

    #[test]
    fn changes_that_break_a_rule_are_refused_and_change_nothing() {
        let trust = trust();
        let start = KeyRegistry::from_trust(&trust);
        let known = signer("cbp.us.example", 1).verifier().key_ref().clone();
        let unknown = signer("nobody.example", 7).verifier().key_ref().clone();
        let cases = [
            (
                "duplicate",
                register("cbp.us.example", 1, "US-DHS-CBP", "US", Role::Submitter, 0),
            ),
            (
                "registrar key",
                register(
                    "registrar.co.example",
                    3,
                    "CO-MIGRACION",
                    "CO",
                    Role::Auditor,
                    0,
                ),
            ),
            (
                "log key",
                register(
                    "huella.example/log",
                    2,
                    "CO-MIGRACION",
                    "CO",
                    Role::Auditor,
                    0,
                ),
            ),
            (
                "retire unknown",
                Change::Retire {
                    key: unknown.clone(),
                    valid_until: at(1),
                },
            ),
            (
                "revoke unknown",
                Change::Revoke {
                    key: unknown,
                    compromised_since: at(1),
                    reason: "x".into(),
                },
            ),
        ];
        for (what, change) in cases {
            let mut registry = start.clone();
            assert!(registry.apply(&change, 30).is_err(), "{what}");
            assert_eq!(
                registry, start,
                "{what}: a refused change changed the registry"
            );
        }
        // Twice retired, or retired after a revocation.
        let mut registry = start.clone();
        registry
            .apply(
                &Change::Retire {
                    key: known.clone(),
                    valid_until: at(10),
                },
                1,
            )
            .unwrap();
        assert_eq!(
            registry.apply(
                &Change::Retire {
                    key: known.clone(),
                    valid_until: at(20)
                },
                2
            ),
            Err(ChangeError::AlreadyRetired {
                key: known.to_string(),
                index: 1
            })
        );
        registry
            .apply(
                &Change::Revoke {
                    key: known.clone(),
                    compromised_since: at(5),
                    reason: "r".into(),
                },
                3,
            )
            .unwrap();
        assert!(matches!(
            registry.apply(
                &Change::Revoke {
                    key: known.clone(),
                    compromised_since: at(5),
                    reason: "r".into()
                },
                4
            ),
            Err(ChangeError::AlreadyRevoked { index: 3, .. })
        ));
        // A retirement before the key's start.
        let mut registry = start;
        registry
            .apply(
                &register(
                    "cbp-2027.us.example",
                    6,
                    "US-DHS-CBP",
                    "US",
                    Role::Submitter,
                    2_000,
                ),
                5,
            )
            .unwrap();
        let new = signer("cbp-2027.us.example", 6)
            .verifier()
            .key_ref()
            .clone();
        assert!(matches!(
            registry.apply(
                &Change::Retire {
                    key: new,
                    valid_until: at(1_000)
                },
                6
            ),
            Err(ChangeError::RetiredBeforeValid { .. })
        ));
    }

    /// The signed form: the bytes a registrar signs are the tag and the event's RFC 8785
    /// JSON, written out here by hand (members sorted, no spaces).
    #[test]
    fn registry_events_sign_their_tagged_canonical_json() {
        let key = signer("cbp-2027.us.example", 6).verifier();
        let register = RegistryEvent::KeyRegister {
            agency: AgencyId::new("US-DHS-CBP").unwrap(),
            country: CountryCode::new("US").unwrap(),
            role: Role::Submitter,
            key: key.clone(),
            valid_from: Timestamp::parse("2027-01-01T00:00:00Z").unwrap(),
        };
        let by_hand = format!(
            "huella/registry/v1\n{{\"agency\":\"US-DHS-CBP\",\"country\":\"US\",\"key\":\"{key}\",\"kind\":\"key_register\",\"role\":\"submitter\",\"valid_from\":\"2027-01-01T00:00:00Z\"}}"
        );
        assert_eq!(
            String::from_utf8(register.signing_bytes()).unwrap(),
            by_hand
        );
        let revoke = RegistryEvent::KeyRevoke {
            key: key.clone(),
            compromised_since: Timestamp::parse("2027-03-01T12:00:00Z").unwrap(),
            reason: Reason::new("laptop stolen").unwrap(),
        };
        assert_eq!(
            String::from_utf8(revoke.signing_bytes()).unwrap(),
            format!(
                "huella/registry/v1\n{{\"compromised_since\":\"2027-03-01T12:00:00Z\",\"key\":\"{key}\",\"kind\":\"key_revoke\",\"reason\":\"laptop stolen\"}}"
            )
        );
        // It reads back strictly: an unknown kind or field is refused.
        let json =
            serde_json::to_string(&SignedRegistryEvent::sign(register.clone(), &[])).unwrap();
        let back: SignedRegistryEvent = crate::canonical::parse(json.as_bytes()).unwrap();
        assert_eq!(back.event, register);
        for bad in [
            json.replace("key_register", "key_rename"),
            json.replace("\"role\"", "\"extra\":1,\"role\""),
        ] {
            assert!(
                crate::canonical::parse::<SignedRegistryEvent>(bad.as_bytes()).is_err(),
                "{bad}"
            );
        }
    }

    /// Signed and applied: the registrars of the principal's country register, retire and
    /// revoke; a change signed by too few, or by the other country's, changes nothing.
    #[test]
    fn signed_registry_events_apply_with_their_registrars_signatures() {
        let trust = trust();
        let mut registry = KeyRegistry::from_trust(&trust);
        let (co, us_a, us_b) = (
            signer("registrar.co.example", 3),
            signer("registrar-a.us.example", 4),
            signer("registrar-b.us.example", 5),
        );
        let auditor = signer("auditor.co.example", 8).verifier();
        let register = RegistryEvent::KeyRegister {
            agency: AgencyId::new("CO-PROCURADURIA").unwrap(),
            country: CountryCode::new("CO").unwrap(),
            role: Role::Auditor,
            key: auditor.clone(),
            valid_from: at(1_000),
        };
        // The other country's registrars cannot register a Colombian key.
        let before = registry.clone();
        let wrong = SignedRegistryEvent::sign(register.clone(), &[&us_a, &us_b]);
        assert!(matches!(
            registry.apply_signed(&wrong, &trust, 0),
            Err(ChangeError::NotARegistrar { .. })
        ));
        assert_eq!(registry, before);
        registry
            .apply_signed(&SignedRegistryEvent::sign(register, &[&co]), &trust, 0)
            .unwrap();
        assert_eq!(
            registry.record(auditor.key_ref()).unwrap().role,
            Role::Auditor
        );
        // The US key's retirement needs both US registrars.
        let cbp = signer("cbp.us.example", 1).verifier();
        let retire = RegistryEvent::KeyRetire {
            key: cbp.clone(),
            valid_until: at(2_000),
        };
        assert!(matches!(
            registry.apply_signed(
                &SignedRegistryEvent::sign(retire.clone(), &[&us_a]),
                &trust,
                1
            ),
            Err(ChangeError::BelowThreshold {
                signed: 1,
                threshold: 2,
                ..
            })
        ));
        registry
            .apply_signed(
                &SignedRegistryEvent::sign(retire, &[&us_a, &us_b]),
                &trust,
                1,
            )
            .unwrap();
        assert_eq!(
            registry.record(cbp.key_ref()).unwrap().retired,
            Some((at(2_000), 1))
        );
        // Revoking an unknown key is refused naming it.
        let stranger = signer("stranger.example", 9).verifier();
        let revoke = RegistryEvent::KeyRevoke {
            key: stranger.clone(),
            compromised_since: at(0),
            reason: Reason::new("never registered").unwrap(),
        };
        assert_eq!(
            registry.apply_signed(&SignedRegistryEvent::sign(revoke, &[&co]), &trust, 2),
            Err(ChangeError::UnknownKey(stranger.key_ref().to_string()))
        );
    }

    #[test]
    fn a_change_needs_the_threshold_of_its_own_countrys_registrars() {
        let trust = trust();
        let message = b"huella test change";
        let sign = |s: &SignerKey| (s.verifier().key_ref().clone(), s.sign(message).to_vec());
        let co = CountryCode::new("CO").unwrap();
        let us = CountryCode::new("US").unwrap();
        let (co_reg, us_a, us_b) = (
            signer("registrar.co.example", 3),
            signer("registrar-a.us.example", 4),
            signer("registrar-b.us.example", 5),
        );
        assert!(KeyRegistry::check_signers(&trust, &co, message, &[sign(&co_reg)]).is_ok());
        assert!(
            KeyRegistry::check_signers(&trust, &us, message, &[sign(&us_a), sign(&us_b)]).is_ok()
        );
        assert_eq!(
            KeyRegistry::check_signers(&trust, &us, message, &[sign(&us_a)]),
            Err(ChangeError::BelowThreshold {
                country: "US".into(),
                signed: 1,
                threshold: 2
            })
        );
        assert!(matches!(
            KeyRegistry::check_signers(&trust, &us, message, &[sign(&us_a), sign(&us_a)]),
            Err(ChangeError::DuplicateSigner(_))
        ));
        // A registrar of the other country, or an unknown one.
        assert!(matches!(
            KeyRegistry::check_signers(&trust, &us, message, &[sign(&us_a), sign(&co_reg)]),
            Err(ChangeError::NotARegistrar { .. })
        ));
        assert!(matches!(
            KeyRegistry::check_signers(
                &trust,
                &co,
                message,
                &[sign(&signer("registrar.co.example", 9))]
            ),
            Err(ChangeError::NotARegistrar { .. })
        ));
        // A bad signature, and a country without registrars.
        let mut forged = sign(&co_reg);
        forged.1[0] ^= 1;
        assert!(matches!(
            KeyRegistry::check_signers(&trust, &co, message, &[forged]),
            Err(ChangeError::BadSignature(_))
        ));
        assert_eq!(
            KeyRegistry::check_signers(&trust, &CountryCode::new("MX").unwrap(), message, &[]),
            Err(ChangeError::NoRegistrars("MX".into()))
        );
    }
}
