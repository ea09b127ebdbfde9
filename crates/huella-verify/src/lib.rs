//! Huella's outside verifier: everything a reader who does not run the log runs. It checks
//! what the server says instead of believing it, and it depends on [`huella_core`] and an
//! HTTP client only: the compiler keeps the server's code (its store, its HTTP stack) out of
//! this crate, so a rights group can build and trust it without trusting the server.
//!
//! # Layout
//!
//! In the order data flows:
//!
//! - [`client`]: an HTTP(S) client for the log's API: rustls with the system's trust store,
//!   an extra CA on request, timeouts, and errors that name their cause.
//! - [`source`]: where a log's public data comes from (its API or a bundle), streamed in pages.
//! - [`bundle`]: exported bundles: writing one ([`bundle::export`]) and checking its manifest.
//! - [`audit`]: the full audit of every entry against a signed checkpoint, and its summary.
//! - [`sample`]: checking what the log serves to other readers (single entries, proofs,
//!   receipts) against the tree the audit rebuilt, for a random sample or every index.
//! - [`consistency`]: proving that one checkpoint extends another (rollbacks and forks).
//! - [`receipt`]: checking a receipt offline, and that its entry is still in the log.
//! - [`monitor`]: round-by-round monitoring with alerts.
//! - [`witnesses`]: enforcing a witness policy: a checkpoint's cosignatures must meet its
//!   quorum.
//! - [`error`]: why a check failed (exit 1) or could not run (exit 2).
//! - [`cli`]: the `huella-verify` command line (`verify`, `export`, `receipt verify`,
//!   `monitor`), which `huella` reuses unchanged; `main.rs` only calls [`cli::main`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod audit;
pub mod bundle;
pub mod cli;
pub mod client;
pub mod consistency;
pub mod error;
pub mod monitor;
pub mod receipt;
pub mod sample;
pub mod source;
pub mod witnesses;
