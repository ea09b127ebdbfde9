//! Huella: a tamper-evident, append-only audit ledger for cross-border access to personal
//! data. Every access is an entry signed by the accessing agency, chained by hash to the
//! entry before it, and placed in an RFC 6962 Merkle tree whose C2SP-signed checkpoints let
//! anyone prove the log was not altered.
//!
//! This crate is the server and the full command line. The workspace has two more crates
//! that it builds on, and that build without it:
//!
//! - [`huella_core`] (`crates/huella-core`): the pure core (formats, hashing, Merkle, notes,
//!   checkpoints, receipts, the streaming auditor); no I/O, no clock, no randomness.
//! - [`huella_verify`] (`crates/huella-verify`): what a reader outside the operator runs
//!   (the HTTP(S) client, full audits, export, receipts, the monitor) and its binary.
//!
//! # Layout
//!
//! The edges of the server, in the order data flows:
//!
//! - [`store`]: storage behind a trait with a durability contract: sled with the tree-hash
//!   file (the default), and in memory.
//! - [`ledger`]: start-up recovery, the appender (admission, rate limit, pool, sequencer)
//!   and the log reader bounded by the published checkpoint.
//! - [`http`]: the axum HTTP API: router, the one error-to-status mapping, handlers, and the
//!   server loop with its limits and timeouts.
//! - [`metrics`]: Prometheus metrics (queue depth, batches, latencies, rejections).
//! - [`keyfile`]: key files on disk, and the randomness keys and salts need.
//! - [`hpke`]: sealing disclosures to their auditor (RFC 9180).
//! - [`blind`]: the blind index that search reads use (HMAC tags, a key kept on the server).
//! - [`demo`]: demo agencies and realistic demo events.
//! - [`witness`]: Huella as a C2SP tlog-witness: cosigning other logs' checkpoints.
//! - [`witnessing`]: the log's side: sending its checkpoints to its witnesses.
//! - [`failpoint`]: named places where a debug build stops, for tests that kill it there.
//! - [`cli`]: the `huella` command line, one file per subcommand (the load generator and the
//!   machine-limits probe among them); `main.rs` only calls [`cli::main`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod blind;
pub mod cli;
pub mod demo;
pub mod failpoint;
pub mod hpke;
pub mod http;
pub mod keyfile;
pub mod ledger;
pub mod metrics;
pub mod store;
pub mod witness;
pub mod witnessing;
