//! Huella: a tamper-evident, append-only audit ledger for cross-border access to personal
//! data. Every access is an entry signed by the accessing agency, chained by hash to the
//! entry before it, and placed in an RFC 6962 Merkle tree whose C2SP-signed checkpoints let
//! anyone prove the log was not altered.
//!
//! # Layout
//!
//! The pure core (no I/O, no clock, no randomness of its own), in the order data flows:
//!
//! - [`canonical`]: RFC 8785 canonical JSON and the strict parser every signed form uses.
//! - [`text`]: checked values events are made of (agency ids, countries, timestamps, counts).
//! - [`commitment`]: salted commitments to personal data, and their openings.
//! - [`keys`]: C2SP signed-note Ed25519 keys: names, ids, verifier and signer strings.
//! - [`event`]: the access event an agency signs, and the submission that carries it.
//! - [`registry`]: which key may submit for which agency and country.
//! - [`entry`]: the logged entry (the Merkle leaf) and its hash chain.
//! - [`merkle`]: RFC 6962/9162 hashing, stored hashes, inclusion and consistency proofs.
//! - [`note`]: C2SP signed notes.
//! - [`checkpoint`]: C2SP tlog-checkpoints, the log's signed tree heads.
//! - [`proof`]: C2SP tlog-proofs, the receipts agencies keep.
//! - [`admission`]: the checks an event passes before the log accepts it.
//! - [`verify`]: the streaming whole-log audit, and the summary it counts.
//!
//! The edges, where I/O happens:
//!
//! - [`store`]: storage behind a trait with a durability contract (sled, and in-memory).
//! - [`sequencer`]: start-up checks, the pool, and batched durable appends.
//! - [`http`]: the axum HTTP API, its limits and timeouts, and the server loop.
//! - [`metrics`]: Prometheus metrics (queue depth, batches, latencies, rejections).
//! - [`audit`]: verifying a log from outside: full audits, bundles, receipts, monitoring.
//! - [`client`]: an HTTP client for the API.
//! - [`keyfile`]: key files on disk, and the randomness keys and salts need.
//! - [`demo`]: demo agencies and realistic demo events.
//! - [`bench`]: the load generator behind `huella bench`.
//! - [`limits`]: the machine's own limits (fsyncs/s, SHA-256, Ed25519), behind `huella limits`.
//! - [`cli`]: the `huella` command line; `main.rs` only calls [`cli::main`].
//!
//! Test support, hidden from these docs:
//!
//! - `fuzzing`: the property checks behind the fuzz targets in `fuzz/` and the corpus replay
//!   test `tests/fuzz_corpus.rs` (see `docs/testing.md`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admission;
pub mod audit;
pub mod bench;
pub mod canonical;
pub mod checkpoint;
pub mod cli;
pub mod client;
pub mod commitment;
pub mod demo;
pub mod entry;
pub mod event;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod keyfile;
pub mod keys;
pub mod limits;
pub mod merkle;
pub mod metrics;
pub mod note;
pub mod proof;
pub mod registry;
pub mod sequencer;
pub mod store;
pub mod text;
pub mod verify;
