//! Huella's pure core: the formats, hashing, Merkle math, signed notes and verification that
//! the log, its verifiers and the agencies' own systems share. It does no I/O, reads no clock
//! and draws no randomness of its own: times, keys and salts are passed in, and tree hashes
//! are read through [`merkle::HashReader`]. An agency that builds and signs events in its own
//! Rust system depends on this crate alone.
//!
//! # Layout
//!
//! In the order data flows:
//!
//! - [`canonical`]: RFC 8785 canonical JSON and the strict parser every signed form uses.
//! - [`quiet`]: deserializers whose errors never quote the input (submissions hold personal
//!   values).
//! - [`values`]: checked values events are made of (agency ids, countries, timestamps, counts).
//! - [`commitment`]: salted commitments to personal data, and their openings.
//! - [`keys`]: C2SP signed-note Ed25519 keys: names, ids, verifier and signer strings.
//! - [`event`]: the access event an agency signs, and the submission that carries it.
//! - [`registry`]: which key may submit for which agency and country.
//! - [`trust`]: the trust root: the log's key, each country's registrars, the first registry.
//! - [`keylog`]: every key's principal, role and validity, as registry events change them.
//! - [`sealed`]: the public records of the sealed half: sealed reads, erasures, retention.
//! - [`disclosure`]: what a sealed read reveals, and its offline check.
//! - [`admission`]: the checks an event passes before the log accepts it.
//! - [`entry`]: the logged entry (the Merkle leaf) and its hash chain.
//! - [`merkle`]: RFC 6962/9162 hashing, stored hashes, inclusion and consistency proofs.
//! - [`note`]: C2SP signed notes.
//! - [`checkpoint`]: C2SP tlog-checkpoints, the log's signed tree heads.
//! - [`cosignature`]: C2SP tlog-cosignature `cosignature/v1`, witnesses' timestamped
//!   statements on checkpoints.
//! - [`policy`]: C2SP tlog-policy files: known logs, witnesses, groups and the quorum.
//! - [`proof`]: C2SP tlog-proofs and the JSON receipts agencies keep.
//! - [`verify`]: the streaming whole-log audit, and the summary it counts.
//! - [`witness`]: C2SP tlog-witness `add-checkpoint`, parsed and decided (no I/O).
//! - [`stats`]: counts of entries by their public fields and days, which the log and the
//!   verifier compute alike.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admission;
pub mod canonical;
pub mod checkpoint;
pub mod commitment;
pub mod cosignature;
pub mod disclosure;
pub mod entry;
pub mod event;
pub mod keylog;
pub mod keys;
pub mod merkle;
pub mod note;
pub mod policy;
pub mod proof;
pub mod quiet;
pub mod registry;
pub mod sealed;
pub mod stats;
pub mod trust;
pub mod values;
pub mod verify;
pub mod witness;
