//! Where a log's public data comes from: a running log's HTTP API, or an exported bundle.
//! Entries stream in pages of at most [`PAGE`] leaves, read ahead of the consumer.

use std::path::{Path, PathBuf};

use huella_core::registry::Registry;
use tokio::sync::mpsc;

use crate::bundle::{CHECKPOINT_FILE, REGISTRY_FILE, read_bundle_pages};
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

    /// registry returns the registry the source serves: trusting it trusts the operator.
    pub async fn registry(&self) -> Result<Registry, AuditError> {
        let bytes = match self {
            Source::Http(client) => {
                let keys: serde_json::Value =
                    serde_json::from_slice(&client.get("/v1/keys").await.map_err(io)?)
                        .map_err(io)?;
                // The lists of the registry file, in the format this code reads.
                let file = serde_json::json!({
                    "version": huella_core::registry::REGISTRY_VERSION,
                    "submitters": keys["submitters"],
                    "holders": keys["holders"],
                });
                serde_json::to_vec(&file).map_err(io)?
            }
            Source::Bundle(dir) => read_file(&dir.join(REGISTRY_FILE))?,
        };
        Registry::parse(&bytes).map_err(|e| ServedError::Registry(e).into())
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
