//! Where a log's public data comes from: a running log's HTTP API, or an exported bundle.
//! Entries stream in pages of at most [`PAGE`] leaves, read ahead of the consumer.

use std::path::{Path, PathBuf};

use huella_core::keys::VerifierKey;
use huella_core::registry::Registry;
use huella_core::trust::TrustRoot;
use tokio::sync::mpsc;

use crate::bundle::{CHECKPOINT_FILE, REGISTRY_FILE, read_bundle_pages, trust_file};
use crate::client::Client;
use crate::error::{AuditError, ServedError, io};

/// PAGE is how many leaves are fetched and checked at a time (the API's largest page).
pub const PAGE: u64 = 1000;

/// A page of consecutive leaves and the index of the first, or why reading stopped.
pub(crate) type PageResult = Result<(u64, Vec<Vec<u8>>), AuditError>;

/// Source is where a log's public data comes from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A running log's HTTP API.
    Http(Client),
    /// An exported bundle directory.
    Bundle(PathBuf),
}

impl Source {
    /// checkpoint returns the source's latest signed checkpoint, unverified.
    pub async fn checkpoint(&self) -> Result<Vec<u8>, AuditError> {
        match self {
            Source::Http(client) => client.get("/checkpoint").await.map_err(io),
            Source::Bundle(dir) => read_file(&dir.join(CHECKPOINT_FILE)),
        }
    }

    /// trust_bytes returns the trust root file a log's API serves (`GET /v1/trust`), or a
    /// bundle's trust file as it is.
    pub async fn trust_bytes(&self) -> Result<Vec<u8>, AuditError> {
        match self {
            Source::Http(client) => client.get("/v1/trust").await.map_err(io),
            Source::Bundle(dir) => read_file(&dir.join(trust_file(dir))),
        }
    }

    /// trust returns the trust root the source serves, which must be for `log_key`: trusting
    /// it trusts the operator. A bundle of the older form holds a submitter registry instead,
    /// which becomes a trust root without registrars.
    pub async fn trust(&self, log_key: &VerifierKey) -> Result<TrustRoot, AuditError> {
        let bytes = self.trust_bytes().await?;
        let root = match self {
            Source::Bundle(dir) if trust_file(dir) == REGISTRY_FILE => {
                let registry = Registry::parse(&bytes)
                    .map_err(|e| AuditError::from(ServedError::Registry(e)))?;
                TrustRoot::for_registry(log_key, registry)
            }
            _ => TrustRoot::parse(&bytes)
                .map_err(|e| AuditError::from(ServedError::Trust(e.to_string())))?,
        };
        if root.log.key != *log_key {
            return Err(ServedError::Trust(format!(
                "it is for log key {}, not {log_key}",
                root.log.key
            ))
            .into());
        }
        Ok(root)
    }

    /// pages streams the leaves `start..end` in pages, read ahead of the consumer.
    pub(crate) fn pages(&self, start: u64, end: u64) -> mpsc::Receiver<PageResult> {
        let (tx, rx) = mpsc::channel(4);
        match self.clone() {
            Source::Http(client) => {
                tokio::spawn(async move {
                    let mut at = start;
                    while at < end {
                        let limit = PAGE.min(end - at);
                        let page = fetch_page(&client, at, limit).await;
                        let stop = page.is_err();
                        let n = page.as_ref().map_or(0, |p| p.len() as u64);
                        if tx.send(page.map(|p| (at, p))).await.is_err() || stop {
                            return;
                        }
                        at += n;
                    }
                });
            }
            Source::Bundle(dir) => {
                tokio::task::spawn_blocking(move || {
                    let result = read_bundle_pages(&dir, start, end, &tx);
                    if let Err(e) = result {
                        let _ = tx.blocking_send(Err(e));
                    }
                });
            }
        }
        rx
    }
}

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, AuditError> {
    std::fs::read(path).map_err(|e| AuditError::Io(format!("{}: {e}", path.display())))
}

pub(crate) async fn fetch_page(
    client: &Client,
    start: u64,
    limit: u64,
) -> Result<Vec<Vec<u8>>, AuditError> {
    let body = client
        .get(&format!("/v1/entries?start={start}&limit={limit}"))
        .await
        .map_err(io)?;
    let leaves: Vec<Vec<u8>> = body
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    if leaves.is_empty() {
        return Err(ServedError::NoEntries(start).into());
    }
    if leaves.len() as u64 > limit {
        return Err(ServedError::TooMany {
            start,
            served: leaves.len() as u64,
            asked: limit,
        }
        .into());
    }
    Ok(leaves)
}
