//! Bundles: a self-contained copy of a log (its checkpoint, trust root and entries, with a
//! manifest of SHA-256 digests) for offline verification. [`export`] writes one; the audit
//! reads one through [`crate::source::Source::Bundle`].

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;

use huella_core::checkpoint::{self, Checkpoint};
use huella_core::keys::VerifierKey;
use huella_core::merkle::Hash;
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;

use crate::audit::Progress;
use crate::client::Client;
use crate::error::{AuditError, BundleError, io};
use crate::source::{PAGE, PageResult, Source, fetch_page, read_file};

/// The bundle format, written in its manifest.
pub const BUNDLE_FORMAT: &str = "huella-bundle/v1";

/// Manifest describes a bundle: what it holds, and the SHA-256 of each file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// The log's origin.
    pub origin: String,
    /// Entries in the bundle: the checkpoint's size.
    pub tree_size: u64,
    /// The checkpoint's root.
    pub root: Hash,
    /// Where it was exported from.
    pub source: String,
    /// When (RFC 3339).
    pub exported_at: String,
    /// Files and their hashes.
    pub files: Vec<ManifestFile>,
}

/// ManifestFile is one file of a bundle.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestFile {
    /// File name inside the bundle.
    pub name: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Lowercase hex SHA-256 of its contents.
    pub sha256: String,
}

/// The files of a bundle.
pub const CHECKPOINT_FILE: &str = "checkpoint";

/// Trust root file of a bundle: the log's trust root as it serves it.
pub const TRUST_FILE: &str = "trust.json";

/// Submitter registry file of a bundle written before trust roots (the older form); read
/// when a bundle holds no [`TRUST_FILE`].
pub const REGISTRY_FILE: &str = "registry.json";

/// trust_file is the bundle's file of who may sign: [`TRUST_FILE`], or in a bundle of the
/// older form, [`REGISTRY_FILE`].
pub(crate) fn trust_file(dir: &Path) -> &'static str {
    if !dir.join(TRUST_FILE).exists() && dir.join(REGISTRY_FILE).exists() {
        REGISTRY_FILE
    } else {
        TRUST_FILE
    }
}

/// Entries file of a bundle: one leaf per line.
pub const ENTRIES_FILE: &str = "entries.ndjson";

/// Manifest file of a bundle.
pub const MANIFEST_FILE: &str = "manifest.json";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Streams `entries.ndjson` of a bundle, checking that it holds exactly `end` lines and that
/// its SHA-256 matches the manifest.
pub(crate) fn read_bundle_pages(
    dir: &Path,
    start: u64,
    end: u64,
    tx: &mpsc::Sender<PageResult>,
) -> Result<(), AuditError> {
    let path = dir.join(ENTRIES_FILE);
    let file = std::fs::File::open(&path)
        .map_err(|e| AuditError::Io(format!("{}: {e}", path.display())))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut hasher = Sha256::new();
    let mut length = 0u64;
    let mut index = 0u64;
    let mut page = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| AuditError::Io(format!("{}: {e}", path.display())))?;
        if n == 0 {
            break;
        }
        hasher.update(&line);
        length += n as u64;
        if line.last() != Some(&b'\n') {
            return Err(BundleError::Unterminated(index).into());
        }
        if index >= end {
            // The entries so far first: an inserted entry is named where the chain breaks.
            if !page.is_empty() {
                let first = index - page.len() as u64;
                if tx
                    .blocking_send(Ok((first, std::mem::take(&mut page))))
                    .is_err()
                {
                    return Ok(());
                }
            }
            return Err(BundleError::TooMany(end).into());
        }
        if index >= start {
            page.push(line[..line.len() - 1].to_vec());
            if page.len() as u64 == PAGE {
                let first = index + 1 - PAGE;
                if tx
                    .blocking_send(Ok((first, std::mem::take(&mut page))))
                    .is_err()
                {
                    return Ok(());
                }
            }
        }
        index += 1;
    }
    // Hand over the last page before judging the file as a whole, so that a deleted or
    // inserted entry is named where the chain breaks, whatever the bundle's size.
    if !page.is_empty() {
        let first = index - page.len() as u64;
        if tx.blocking_send(Ok((first, page))).is_err() {
            return Ok(());
        }
    }
    if index < end {
        return Err(BundleError::TooFew {
            have: index,
            want: end,
        }
        .into());
    }
    let digest = hex(&hasher.finalize());
    check_manifest_hash(&read_manifest(dir)?, ENTRIES_FILE, length, &digest)?;
    Ok(())
}

fn read_manifest(dir: &Path) -> Result<Manifest, AuditError> {
    let bytes = read_file(&dir.join(MANIFEST_FILE))?;
    let manifest: Manifest =
        huella_core::canonical::parse(&bytes).map_err(|e| BundleError::Manifest(e.to_string()))?;
    if manifest.format != BUNDLE_FORMAT {
        return Err(BundleError::Format(manifest.format).into());
    }
    Ok(manifest)
}

/// check_manifest_hash checks a file's length and SHA-256 against the manifest's entry for
/// it (the first, if it is listed twice).
fn check_manifest_hash(
    manifest: &Manifest,
    name: &str,
    bytes: u64,
    digest: &str,
) -> Result<(), AuditError> {
    let listed = manifest
        .files
        .iter()
        .find(|f| f.name == name)
        .ok_or_else(|| BundleError::Unlisted(name.to_string()))?;
    if listed.bytes != bytes {
        return Err(BundleError::Length {
            name: name.to_string(),
            bytes,
            listed: listed.bytes,
        }
        .into());
    }
    if listed.sha256 != digest {
        return Err(BundleError::Altered {
            name: name.to_string(),
            digest: digest.to_string(),
            listed: listed.sha256.clone(),
        }
        .into());
    }
    Ok(())
}

/// check_bundle_files checks the small files of a bundle against its manifest, and that the
/// manifest agrees with the checkpoint.
pub(crate) fn check_bundle_files(dir: &Path, checkpoint: &Checkpoint) -> Result<(), AuditError> {
    let manifest = read_manifest(dir)?;
    for name in [CHECKPOINT_FILE, trust_file(dir)] {
        let bytes = read_file(&dir.join(name))?;
        check_manifest_hash(
            &manifest,
            name,
            bytes.len() as u64,
            &hex(&Sha256::digest(&bytes)),
        )?;
    }
    if manifest.origin != checkpoint.origin {
        return Err(BundleError::Origin {
            origin: manifest.origin,
            checkpoint: checkpoint.origin.clone(),
        }
        .into());
    }
    if manifest.tree_size != checkpoint.size || manifest.root != checkpoint.root {
        return Err(BundleError::Mismatch {
            size: manifest.tree_size,
            root: manifest.root,
            checkpoint_size: checkpoint.size,
            checkpoint_root: checkpoint.root,
        }
        .into());
    }
    Ok(())
}

/// export writes a self-contained bundle of the log at `client` into `out`.
pub async fn export(
    client: &Client,
    out: &Path,
    log_key: Option<&VerifierKey>,
    quiet: bool,
) -> Result<Manifest, AuditError> {
    if out.exists() && std::fs::read_dir(out).map_err(io)?.next().is_some() {
        return Err(AuditError::Io(format!(
            "{} exists and is not empty",
            out.display()
        )));
    }
    std::fs::create_dir_all(out).map_err(|e| AuditError::Io(format!("{}: {e}", out.display())))?;
    let note = client.get("/checkpoint").await.map_err(io)?;
    let checkpoint = match log_key {
        Some(key) => {
            checkpoint::open(&note, key)
                .map_err(AuditError::checkpoint)?
                .0
        }
        None => {
            let (text, _) = huella_core::note::parse(&note).map_err(AuditError::checkpoint)?;
            Checkpoint::parse_text(&text).map_err(AuditError::checkpoint)?
        }
    };
    let trust = Source::Http(client.clone()).trust_bytes().await?;
    let mut files = Vec::new();
    files.push(write_file(out, CHECKPOINT_FILE, &note)?);
    files.push(write_file(out, TRUST_FILE, &trust)?);

    let path = out.join(ENTRIES_FILE);
    let file = std::fs::File::create(&path)
        .map_err(|e| AuditError::Io(format!("{}: {e}", path.display())))?;
    let mut writer = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    let progress = Progress::new(checkpoint.size, "exporting", quiet);
    let mut at = 0;
    while at < checkpoint.size {
        let page = fetch_page(client, at, PAGE.min(checkpoint.size - at)).await?;
        for leaf in &page {
            for part in [leaf.as_slice(), b"\n"] {
                hasher.update(part);
                writer.write_all(part).map_err(io)?;
                bytes += part.len() as u64;
            }
        }
        at += page.len() as u64;
        progress.set(at);
    }
    progress.done();
    let file = writer.into_inner().map_err(io)?;
    file.sync_all().map_err(io)?;
    files.push(ManifestFile {
        name: ENTRIES_FILE.into(),
        bytes,
        sha256: hex(&hasher.finalize()),
    });
    let manifest = Manifest {
        format: BUNDLE_FORMAT.into(),
        origin: checkpoint.origin.clone(),
        tree_size: checkpoint.size,
        root: checkpoint.root,
        source: client.url(""),
        exported_at: huella_core::values::Timestamp::from_system_time(std::time::SystemTime::now())
            .to_string(),
        files,
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(io)?;
    write_file(out, MANIFEST_FILE, &json)?;
    Ok(manifest)
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<ManifestFile, AuditError> {
    let path = dir.join(name);
    let mut file = std::fs::File::create(&path)
        .map_err(|e| AuditError::Io(format!("{}: {e}", path.display())))?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(ManifestFile {
        name: name.into(),
        bytes: bytes.len() as u64,
        sha256: hex(&Sha256::digest(bytes)),
    })
}
