//! Key files on disk, and the randomness keys and salts need (the core takes both as input).
//!
//! A signer key file holds one line, the C2SP signer key string. It is created with mode 0600
//! and refused if group or others can read it. Its verifier key goes beside it in `.pub`.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use huella_core::commitment::Salt;
use huella_core::cosignature::CosignerSigner;
use huella_core::keys::{KeyError, KeyName, SignerKey};

/// KeyFileError says what is wrong with a key file.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// Others can read the private key.
    #[error(
        "{path}: private key is readable by group or others (mode {mode:o}); run: chmod 600 {path}"
    )]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its mode bits.
        mode: u32,
    },
    /// The file does not hold a signer key.
    #[error("{path}: {source}")]
    Key {
        /// The file.
        path: PathBuf,
        /// Why the key was refused.
        source: KeyError,
    },
    /// The operating system gave no randomness.
    #[error("no randomness from the operating system: {0}")]
    Random(String),
    /// A key file holds something else than the key it should.
    #[error("{0}")]
    Malformed(String),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyFileError + '_ {
    move |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// random_bytes fills 32 bytes from the operating system's generator.
pub fn random_bytes() -> Result<[u8; 32], KeyFileError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| KeyFileError::Random(e.to_string()))?;
    Ok(bytes)
}

/// random_salt is a fresh commitment salt. The OS generator failing is not recoverable for a
/// client that must commit to personal data, so this panics with a clear message if it does.
pub fn random_salt() -> Salt {
    Salt(random_bytes().expect("the operating system must provide randomness for salts"))
}

/// generate makes a new signer key with a random seed.
pub fn generate(name: KeyName) -> Result<SignerKey, KeyFileError> {
    let seed = Zeroizing::new(random_bytes()?);
    Ok(SignerKey::from_seed(name, &seed))
}

/// write_signer writes a new signer key file with mode 0600, refusing to overwrite one, and
/// its verifier key beside it (`<file>.pub`, mode 0644).
pub fn write_signer(path: &Path, key: &SignerKey) -> Result<(), KeyFileError> {
    write_key_pair(path, &key.to_private_string(), &key.verifier().to_string())
}

/// write_cosigner writes a new witness key file (`cosignature/v1`), as [`write_signer`]
/// does.
pub fn write_cosigner(path: &Path, key: &CosignerSigner) -> Result<(), KeyFileError> {
    write_key_pair(path, &key.to_private_string(), &key.verifier().to_string())
}

/// write_key_pair writes `private` to a new file with mode 0600, refusing to overwrite one,
/// and `public` beside it (`<file>.pub`, mode 0644).
fn write_key_pair(path: &Path, private: &str, public: &str) -> Result<(), KeyFileError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io(path))?;
    let line = Zeroizing::new(format!("{private}\n"));
    file.write_all(line.as_bytes()).map_err(io(path))?;
    file.sync_all().map_err(io(path))?;
    let public_file = public_path(path);
    fs::write(&public_file, format!("{public}\n")).map_err(io(&public_file))?;
    Ok(())
}

/// write_private writes `bytes` to `path` readable by its owner only (mode 0600), replacing
/// it: for files that hold personal data, such as a disclosure.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), KeyFileError> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io(path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io(path))?;
    }
    file.write_all(bytes).map_err(io(path))?;
    file.sync_all().map_err(io(path))?;
    Ok(())
}

/// public_path is where a signer key file's verifier key is written.
pub fn public_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// read_signer reads a signer key file, refusing one that group or others can read.
pub fn read_signer(path: &Path) -> Result<SignerKey, KeyFileError> {
    let text = read_private(path)?;
    SignerKey::parse(text.trim_end()).map_err(|source| KeyFileError::Key {
        path: path.to_path_buf(),
        source,
    })
}

/// read_cosigner reads a witness key file (`cosignature/v1`), as [`read_signer`] does.
pub fn read_cosigner(path: &Path) -> Result<CosignerSigner, KeyFileError> {
    let text = read_private(path)?;
    CosignerSigner::parse(text.trim_end()).map_err(|source| KeyFileError::Key {
        path: path.to_path_buf(),
        source,
    })
}

/// read_private reads a private key file, refusing one that group or others can read.
fn read_private(path: &Path) -> Result<Zeroizing<String>, KeyFileError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(path).map_err(io(path))?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::Permissions {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    Ok(Zeroizing::new(fs::read_to_string(path).map_err(io(path))?))
}

/// load_or_create reads the key at `path`, or creates one named `name` there. It returns the
/// key and whether it was created.
pub fn load_or_create(path: &Path, name: &KeyName) -> Result<(SignerKey, bool), KeyFileError> {
    if path.exists() {
        return Ok((read_signer(path)?, false));
    }
    let key = generate(name.clone())?;
    write_signer(path, &key)?;
    Ok((key, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_are_private_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.key");
        let key = generate(KeyName::new("t.example").unwrap()).unwrap();
        write_signer(&path, &key).unwrap();
        assert_eq!(read_signer(&path).unwrap().verifier(), key.verifier());
        assert!(write_signer(&path, &key).is_err(), "never overwrites a key");
        let public = fs::read_to_string(public_path(&path)).unwrap();
        assert_eq!(public.trim_end(), key.verifier().to_string());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
            assert!(matches!(
                read_signer(&path),
                Err(KeyFileError::Permissions { .. })
            ));
        }
    }
}
