//! Where SQLite writes its temporary files: in the archive's own `tmp/`, never the system's.
//!
//! A query whose sort does not fit SQLite's cache (listing 40,000 instances for an export, or
//! `depot query instances` of a large archive) spills the rows it sorts to a temporary file,
//! by default in `/var/tmp` or `/tmp`. Those rows hold UIDs and the source paths of the dumps,
//! which often name patients (`SMITH_JOHN_MRN123/...`). The file has no name and is gone when
//! closed, but its blocks were written to the system's disk, outside the archive and whatever
//! protects it. SQLite reads `SQLITE_TMPDIR` once, when it starts; the CLI sets it to the
//! archive's `tmp/` (which every archive has) first thing, while the process has one thread,
//! unless the user set it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The folder SQLite should use for an archive at `archive`, unless `SQLITE_TMPDIR` is
/// already `set`.
fn folder(archive: &Path, set: Option<OsString>) -> Option<PathBuf> {
    if set.is_some() {
        return None;
    }
    std::path::absolute(archive.join(archive::layout::TMP_DIR)).ok()
}

/// Points SQLite's temporary files at `archive`'s `tmp/`. Must run before any other thread
/// starts and before SQLite does (first thing in `main`).
#[allow(unsafe_code)] // setting the environment
pub(crate) fn keep_in_archive(archive: &Path) {
    if let Some(dir) = folder(archive, std::env::var_os("SQLITE_TMPDIR")) {
        // SAFETY: called from `main` before any thread is started, so nothing reads the
        // environment concurrently.
        unsafe { std::env::set_var("SQLITE_TMPDIR", dir) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_archive_tmp_folder_unless_the_user_chose_one() {
        let rel = folder(Path::new("depot-archive"), None).expect("absolute");
        assert!(rel.is_absolute());
        assert!(rel.ends_with("depot-archive/tmp"), "{}", rel.display());
        assert_eq!(
            folder(Path::new("/data/a"), None),
            Some(PathBuf::from("/data/a/tmp"))
        );
        assert_eq!(folder(Path::new("/data/a"), Some("/secure".into())), None);
    }
}
