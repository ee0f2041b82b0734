//! Per-archive secrets (e.g. the key export derives pseudonyms and UID maps from): 32 random
//! bytes under `<root>/keys/<name>.key`, mode 0600, created on first use.
//!
//! Creation is atomic and race-safe: the bytes go to a private temporary file that is fsynced and
//! then hard-linked to the final name, which fails if another process got there first; in that
//! case both use the winner's key. A key is never printed and never overwritten.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use crate::error::OpenError;
use crate::layout::KEYS_DIR;
use crate::store;

/// Returns the secret `name` of the archive at `root`, creating it if it does not exist.
pub fn secret(root: &Path, name: &str) -> Result<[u8; 32], OpenError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        return Err(OpenError::SecretName {
            name: name.to_string(),
        });
    }
    let dir = root.join(KEYS_DIR);
    let path = dir.join(format!("{name}.key"));
    let err = |p: &Path, source: io::Error| OpenError::Secret {
        path: p.to_path_buf(),
        source,
    };
    match read_key(&path) {
        Ok(key) => return key,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(&path, e)),
    }
    fs::create_dir_all(&dir).map_err(|e| err(&dir, e))?;
    set_private_dir(&dir).map_err(|e| err(&dir, e))?;
    let key: [u8; 32] = rand::random();
    let temp = dir.join(format!(".{name}.{:016x}.tmp", rand::random::<u64>()));
    let created = write_private(&temp, &key)
        .and_then(|()| match fs::hard_link(&temp, &path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(e),
        })
        .and_then(|created| store::fsync_dir(&dir).map(|()| created));
    let _ = fs::remove_file(&temp);
    let created = created.map_err(|e| err(&path, e))?;
    if created {
        Ok(key)
    } else {
        read_key(&path).map_err(|e| err(&path, e))?
    }
}

/// Reads a key file: `Ok(Ok(key))`, `Ok(Err(damaged))`, or the I/O error.
fn read_key(path: &Path) -> io::Result<Result<[u8; 32], OpenError>> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    let mut key = [0u8; 32];
    if len != 32 {
        return Ok(Err(OpenError::SecretDamaged {
            path: PathBuf::from(path),
            len,
        }));
    }
    f.read_exact(&mut key)?;
    Ok(Ok(key))
}

fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(unix)]
fn set_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

#[cfg(not(unix))]
fn set_private_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_private_and_stable() {
        let root = tempfile::tempdir().unwrap();
        let a = secret(root.path(), "pseudonyms").unwrap();
        let b = secret(root.path(), "pseudonyms").unwrap();
        assert_eq!(a, b);
        assert_ne!(a, secret(root.path(), "other").unwrap());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(root.path().join("keys/pseudonyms.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(
            fs::read_dir(root.path().join("keys")).unwrap().count(),
            2,
            "no temp files left"
        );
    }

    #[test]
    fn concurrent_creation_agrees() {
        let root = tempfile::tempdir().unwrap();
        let keys: Vec<[u8; 32]> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| s.spawn(|| secret(root.path(), "k").unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(keys.windows(2).all(|w| w[0] == w[1]));
    }

    #[test]
    fn bad_names_and_damaged_keys_are_refused() {
        let root = tempfile::tempdir().unwrap();
        for bad in ["", "../x", "a/b", "a b", &"x".repeat(65)] {
            assert!(
                matches!(secret(root.path(), bad), Err(OpenError::SecretName { .. })),
                "{bad}"
            );
        }
        fs::create_dir_all(root.path().join("keys")).unwrap();
        fs::write(root.path().join("keys/short.key"), b"abc").unwrap();
        assert!(matches!(
            secret(root.path(), "short"),
            Err(OpenError::SecretDamaged { len: 3, .. })
        ));
    }
}
