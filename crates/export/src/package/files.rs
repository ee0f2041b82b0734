//! The file operations packages and the quarantine share: renames that never replace, syncs
//! that make them durable, random suffixes for hidden names, and the check of entry names.

use std::fs::File;
use std::path::Path;

use super::error::{PackageError, io};

/// Renames `from` to `to`, failing with `AlreadyExists` if `to` exists, even when it appears
/// concurrently: `renameat2(RENAME_NOREPLACE)` on Linux. Where that is unavailable (other
/// systems, file systems without the flag) the check runs just before a plain rename.
pub(crate) fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        use rustix::io::Errno;
        match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
            Ok(()) => return Ok(()),
            Err(e) if e == Errno::INVAL || e == Errno::NOSYS || e == Errno::NOTSUP => {}
            Err(e) => return Err(e.into()),
        }
    }
    if to.symlink_metadata().is_ok() {
        return Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists));
    }
    std::fs::rename(from, to)
}

/// Makes a rename in `path`'s folder durable (best effort: the rename itself has happened).
pub(crate) fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent() {
        let _ = sync_path(if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        });
    }
}

pub(crate) fn sync_path(p: &Path) -> Result<(), PackageError> {
    let f = File::open(p).map_err(io("cannot open", p))?;
    f.sync_all().map_err(io("cannot sync", p))
}

/// A relative, `/`-separated name of plain ASCII components.
pub fn check_name(rel: &str) -> Result<(), PackageError> {
    let bad = || PackageError::UnsafeName(rel.to_string());
    if rel.is_empty() || rel.starts_with('/') || rel.len() > 1024 {
        return Err(bad());
    }
    for part in rel.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Err(bad());
        }
        if !part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(bad());
        }
    }
    Ok(())
}

pub(crate) fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}
