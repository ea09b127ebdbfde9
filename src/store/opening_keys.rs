//! The openings' keys: one 32-byte key per entry, at offset `32 × index` of a flat file
//! beside sled's. Each entry's openings are stored in sled encrypted under its own key
//! (ChaCha20-Poly1305). Erasing an entry's openings overwrites its key in place with zeros
//! and fsyncs: sled may keep old copies of the ciphertext in its segments, but without the
//! key they are noise, so the erased values are gone from every byte of the data directory.
//!
//! The file is written and fsynced before the sled batch that needs it (with the tree
//! hashes, commit step 3), so every opening sled holds has its key on disk; keys past the
//! stored size are an unfinished commit's tail, written over by the next.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{Aead as _, Payload};
use chacha20poly1305::{ChaCha20Poly1305, KeyInit as _};

use crate::store::StoreError;

/// OPENING_KEYS_FILE is the file's name in the database directory.
pub const OPENING_KEYS_FILE: &str = "opening-keys";

/// SEALED marks an openings record encrypted under its entry's key. Records of logs written
/// before this version are JSON, which never starts with this byte.
pub(crate) const SEALED: u8 = 0x01;

/// OpeningKeys is the open key file.
pub(crate) struct OpeningKeys {
    file: File,
    path: PathBuf,
}

impl OpeningKeys {
    /// open opens (or creates) the key file at `path`, owner-only.
    pub(crate) fn open(path: &Path) -> Result<OpeningKeys, StoreError> {
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let file = options
            .open(path)
            .map_err(|e| StoreError::io(format!("opening {}", path.display()), e))?;
        Ok(OpeningKeys {
            file,
            path: path.to_path_buf(),
        })
    }

    fn io(&self, what: &str) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
        let what = format!("{what} {}", self.path.display());
        move |e| StoreError::io(what, e)
    }

    /// write writes the keys of entries `start..` and fsyncs.
    pub(crate) fn write(&self, start: u64, keys: &[[u8; 32]]) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        let bytes: Vec<u8> = keys.iter().flatten().copied().collect();
        self.file
            .write_all_at(&bytes, start * 32)
            .map_err(self.io("writing"))?;
        self.file.sync_data().map_err(self.io("syncing"))
    }

    /// read reads entry `index`'s key: `None` if the file does not reach it, or it was
    /// erased (all zeros).
    pub(crate) fn read(&self, index: u64) -> Result<Option<[u8; 32]>, StoreError> {
        let mut key = [0u8; 32];
        match self.file.read_exact_at(&mut key, index * 32) {
            Ok(()) if key == [0; 32] => Ok(None),
            Ok(()) => Ok(Some(key)),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(self.io("reading")(e)),
        }
    }

    /// erase overwrites the keys of `indices` with zeros, in place, and fsyncs.
    pub(crate) fn erase(&self, indices: &[u64]) -> Result<(), StoreError> {
        for &index in indices {
            self.file
                .write_all_at(&[0; 32], index * 32)
                .map_err(self.io("erasing a key in"))?;
        }
        self.file.sync_data().map_err(self.io("syncing"))
    }
}

/// seal encrypts entry `index`'s openings under `key`: [`SEALED`], then the ciphertext and
/// tag (the nonce is zero: each key seals one record, once).
pub(crate) fn seal(key: &[u8; 32], index: u64, openings: &[u8]) -> Vec<u8> {
    let cipher = ChaCha20Poly1305::new(&(*key).into());
    // Invariant: ChaCha20-Poly1305 seals any message up to 256 GiB; openings are KiBs.
    let sealed = cipher
        .encrypt(
            &Default::default(),
            Payload {
                msg: openings,
                aad: &index.to_be_bytes(),
            },
        )
        .expect("openings are far below the AEAD's limit");
    let mut record = Vec::with_capacity(1 + sealed.len());
    record.push(SEALED);
    record.extend_from_slice(&sealed);
    record
}

/// open decrypts a record [`seal`] made.
pub(crate) fn open(key: &[u8; 32], index: u64, record: &[u8]) -> Result<Vec<u8>, StoreError> {
    let cipher = ChaCha20Poly1305::new(&(*key).into());
    cipher
        .decrypt(
            &Default::default(),
            Payload {
                msg: record.get(1..).unwrap_or_default(),
                aad: &index.to_be_bytes(),
            },
        )
        .map_err(|_| {
            StoreError::from(crate::store::Corruption::BadEntry {
                index,
                why: "its openings do not decrypt under its key".into(),
            })
        })
}
