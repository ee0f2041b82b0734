//! Where the de-identification key lives, creating it safely on first use, and its one-way
//! fingerprint.
//!
//! The key decides every UID mapping, pseudonym and date offset, so losing it means later
//! exports no longer match earlier ones, and leaking it lets anyone recompute pseudonyms. It is
//! therefore kept outside archives and outputs, in a file readable by its owner only:
//! `--key-file F`, else `$DEPOT_KEY_DIR/deid.key`, else `$XDG_CONFIG_HOME/depot/deid.key`, else
//! `~/.config/depot/deid.key`. A missing key file is created with 32 random bytes (64 hex
//! characters), mode 0600, published with a hard link so that two processes starting at the
//! same time cannot both create one: the loser reads the winner's key.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anon_core::{Key, KeyError};
use sha2::{Digest, Sha256};
use thiserror::Error;

/// The key file's name inside the key folder.
pub const KEY_FILE_NAME: &str = "deid.key";

/// Why the key could not be found, read or created.
#[derive(Debug, Error)]
pub enum KeyFileError {
    /// No environment variable or home folder says where the key lives.
    #[error("cannot tell where the key lives: set DEPOT_KEY_DIR or HOME, or pass --key-file")]
    NoLocation,
    /// The key file exists but could not be read.
    #[error("cannot read key file {path}: {source}")]
    Read {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The key file does not hold a key.
    #[error("key file {path} is not valid: {source}")]
    Invalid {
        /// The key file.
        path: PathBuf,
        /// What is wrong with its content.
        source: KeyError,
    },
    /// The key file could not be created.
    #[error("cannot create key file {path}: {source}")]
    Create {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The operating system gave no random bytes.
    #[error("no random bytes for a new key: {reason}")]
    Random {
        /// The error text.
        reason: String,
    },
}

/// A key and where it came from.
#[derive(Debug)]
pub struct LoadedKey {
    /// The key.
    pub key: Key,
    /// The key file.
    pub path: PathBuf,
    /// True when this call created the file.
    pub created: bool,
    /// True when group or others may read the file (Unix); the CLI warns.
    pub readable_by_others: bool,
}

/// The key file to use: `explicit`, else the default location from the environment.
pub fn key_path(explicit: Option<&Path>) -> Result<PathBuf, KeyFileError> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    let env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = env("DEPOT_KEY_DIR") {
        return Ok(dir.join(KEY_FILE_NAME));
    }
    if let Some(dir) = env("XDG_CONFIG_HOME") {
        return Ok(dir.join("depot").join(KEY_FILE_NAME));
    }
    env("HOME")
        .map(|home| home.join(".config").join("depot").join(KEY_FILE_NAME))
        .ok_or(KeyFileError::NoLocation)
}

/// Reads the key at `path`, creating it (and its folder) if it does not exist.
pub fn load_or_create(path: &Path) -> Result<LoadedKey, KeyFileError> {
    match fs::read(path) {
        Ok(bytes) => return read_key(path, &bytes, false),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(KeyFileError::Read {
                path: path.to_path_buf(),
                source,
            });
        }
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| KeyFileError::Random {
        reason: e.to_string(),
    })?;
    let key = Key::from_bytes(bytes);
    let create_err = |source| KeyFileError::Create {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    create_private_dir(dir).map_err(create_err)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        KEY_FILE_NAME,
        std::process::id(),
        hex_nonce()
    ));
    let written = (|| -> std::io::Result<()> {
        let mut f = private_create_new(&tmp)?;
        f.write_all(format!("{}\n", key.to_hex()).as_bytes())?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(create_err(e));
    }
    // hard_link fails if the key appeared meanwhile: then the other process's key wins.
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(LoadedKey {
                key,
                path: path.to_path_buf(),
                created: true,
                readable_by_others: false,
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let bytes = fs::read(path).map_err(|source| KeyFileError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            read_key(path, &bytes, false)
        }
        Err(e) => Err(create_err(e)),
    }
}

/// A key file holds 64 hex digits (what depot writes here), or 32 raw bytes (an archive's own
/// key, `<archive>/keys/deid.key`), so `depot anonymize --key-file` can use an archive's key
/// and give the same pseudonyms and UIDs as its exports.
fn read_key(path: &Path, bytes: &[u8], created: bool) -> Result<LoadedKey, KeyFileError> {
    let key = match <[u8; 32]>::try_from(bytes) {
        Ok(raw) => Key::from_bytes(raw),
        Err(_) => Key::from_hex(&String::from_utf8_lossy(bytes)).map_err(|source| {
            KeyFileError::Invalid {
                path: path.to_path_buf(),
                source,
            }
        })?,
    };
    Ok(LoadedKey {
        key,
        path: path.to_path_buf(),
        created,
        readable_by_others: loose_permissions(path),
    })
}

fn hex_nonce() -> String {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        b = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
            .to_le_bytes();
    }
    hex::encode(b)
}

#[cfg(unix)]
fn private_create_new(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn private_create_new(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(unix)]
fn loose_permissions(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path)
        .map(|m| m.permissions().mode() & 0o077 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn loose_permissions(_path: &Path) -> bool {
    false
}

/// A one-way fingerprint of the key: lets two packages be checked to share a key without
/// revealing it.
pub fn key_fingerprint(key: &Key) -> String {
    let mut h = Sha256::new();
    h.update(b"depot key fingerprint v1\0");
    h.update(key.to_hex().as_bytes());
    hex::encode(&h.finalize()[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_once_then_reads_the_same_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join(KEY_FILE_NAME);
        let first = load_or_create(&path).expect("create");
        assert!(first.created && !first.readable_by_others);
        let second = load_or_create(&path).expect("read");
        assert!(!second.created);
        assert_eq!(first.key, second.key);
        let text = fs::read_to_string(&path).expect("text");
        assert_eq!(text.trim().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let leftovers: Vec<_> = fs::read_dir(path.parent().expect("dir"))
            .expect("ls")
            .collect();
        assert_eq!(leftovers.len(), 1, "no temporary files left");
    }

    #[test]
    fn concurrent_creation_agrees_on_one_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(KEY_FILE_NAME);
        let keys: Vec<Key> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| load_or_create(&path).map(|k| k.key)))
                .collect();
            handles
                .into_iter()
                .filter_map(|h| h.join().ok())
                .filter_map(Result::ok)
                .collect()
        });
        assert_eq!(keys.len(), 8);
        assert!(keys.windows(2).all(|w| w[0] == w[1]));
    }

    #[test]
    fn an_archive_key_of_32_raw_bytes_is_read_as_it_is() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("deid.key");
        fs::write(&path, [7u8; 32]).expect("write");
        let loaded = load_or_create(&path).expect("raw key");
        assert_eq!(loaded.key.to_hex(), Key::from_bytes([7u8; 32]).to_hex());
        assert!(!loaded.created);
    }

    #[test]
    fn bad_key_files_are_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(KEY_FILE_NAME);
        fs::write(&path, "not a key").expect("write");
        assert!(matches!(
            load_or_create(&path),
            Err(KeyFileError::Invalid { .. })
        ));
    }
}
