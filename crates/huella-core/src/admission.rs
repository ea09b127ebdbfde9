//! Admission: the checks an event passes before the log accepts it, in the order the API
//! applies them (after parsing): the key is registered for the claimed agency and country
//! as a submitter, valid at the event's `accessed_at` and neither retired nor revoked when
//! it arrives ([`KeyRegistry::may_sign`]), the signature verifies, the holder is a known agency in the country the event gives, the
//! fields agree, the access time is within the window, and every commitment opens. Pure: the
//! caller passes the time.

use crate::commitment::CommitmentError;
use crate::event::{EventError, Openings, SignedEvent, Submission};
use crate::keylog::{KeyRegistry, Role, SignError};
use crate::registry::{HolderError, Registry};
use crate::values::Timestamp;

/// Rules is what an event is checked against: the registry of keys (as of the event's
/// index, or, at admission, as the log stands) and the data holders events may name.
#[derive(Clone, Copy, Debug)]
pub struct Rules<'a> {
    /// Every key registered, with its principal, role and validity.
    pub keys: &'a KeyRegistry,
    /// The data holders events may name (the trust root's registry).
    pub holders: &'a Registry,
}

/// Window bounds how far an event's `accessed_at` may be from the log's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// How old an access may be, in milliseconds (late reporting is allowed up to this).
    pub max_age_millis: u64,
    /// How far in the future it may be, in milliseconds (clock skew).
    pub max_future_millis: u64,
}

impl Default for Window {
    fn default() -> Window {
        Window {
            max_age_millis: 24 * 3600 * 1000,
            max_future_millis: 5 * 60 * 1000,
        }
    }
}

/// AdmissionError says which check refused an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdmissionError {
    /// The key is unknown, registered for another agency, country or role, not valid at the
    /// event's time, or retired or revoked.
    #[error(transparent)]
    Key(#[from] SignError),
    /// The signature does not verify, or the fields contradict each other.
    #[error(transparent)]
    Event(#[from] EventError),
    /// The holder agency is unknown, or not in the holder country the event gives.
    #[error(transparent)]
    Holder(#[from] HolderError),
    /// `accessed_at` is outside the window.
    #[error("accessed_at {accessed_at} is {detail}")]
    OutOfWindow {
        /// The time the event claims.
        accessed_at: String,
        /// How far off it is.
        detail: String,
        /// The event, its signature checked: a retry of an event the log already holds
        /// gets its original receipt even after the window has passed.
        signed: Box<SignedEvent>,
    },
    /// An opening does not open its commitment.
    #[error(transparent)]
    Commitment(#[from] CommitmentError),
}

/// Admitted is an event that passed every check of [`admit`], with its openings. Only
/// [`admit`] makes one (its fields are private), so a log that appends only `Admitted` values
/// appends nothing unchecked: the server's sequencer takes nothing else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admitted {
    /// The signed event.
    signed: SignedEvent,
    /// Its openings, checked against its commitments.
    openings: Openings,
}

impl Admitted {
    /// signed is the admitted signed event.
    pub fn signed(&self) -> &SignedEvent {
        &self.signed
    }

    /// openings are the admitted event's openings.
    pub fn openings(&self) -> &Openings {
        &self.openings
    }

    /// into_parts gives the signed event and the openings back (an `Admitted` cannot be
    /// rebuilt from them).
    pub fn into_parts(self) -> (SignedEvent, Openings) {
        (self.signed, self.openings)
    }
}

/// check_signed_event checks what anyone can check from public data: the key may sign the
/// event for its agency and country (registered as a submitter, valid at its `accessed_at`
/// and when it arrived, at `arrived_at`), and its signature verifies.
pub fn check_signed_event(
    signed: &SignedEvent,
    keys: &KeyRegistry,
    arrived_at: &Timestamp,
) -> Result<(), AdmissionError> {
    let event = &signed.event;
    let record = keys.may_sign_for(
        &event.key,
        Role::Submitter,
        (&event.requesting_agency, &event.requesting_country),
        &event.accessed_at,
        arrived_at,
    )?;
    signed.verify(&record.key)?;
    Ok(())
}

/// admit runs every check on a parsed submission and splits it into the public signed event
/// and the private openings.
pub fn admit(
    submission: Submission,
    rules: Rules<'_>,
    now_millis: u64,
    window: Window,
) -> Result<Admitted, AdmissionError> {
    let (signed, openings) = submission.into_parts();
    check_signed_event(
        &signed,
        rules.keys,
        &Timestamp::from_unix_millis(now_millis),
    )?;
    rules.holders.check_holder(&signed.event)?;
    signed.event.check()?;
    let at = signed.event.accessed_at.unix_millis();
    if at.saturating_add(window.max_age_millis) < now_millis {
        return Err(AdmissionError::OutOfWindow {
            accessed_at: signed.event.accessed_at.to_string(),
            detail: format!(
                "{} s in the past; the log accepts up to {} s",
                (now_millis - at) / 1000,
                window.max_age_millis / 1000
            ),
            signed: Box::new(signed),
        });
    }
    if at > now_millis.saturating_add(window.max_future_millis) {
        return Err(AdmissionError::OutOfWindow {
            accessed_at: signed.event.accessed_at.to_string(),
            detail: format!(
                "{} s in the future; the log accepts up to {} s",
                (at - now_millis) / 1000,
                window.max_future_millis / 1000
            ),
            signed: Box::new(signed),
        });
    }
    openings.check(&signed.event)?;
    openings.check_visible()?;
    Ok(Admitted { signed, openings })
}
