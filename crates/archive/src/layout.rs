//! Where everything lives in an archive folder, and the names of stored files.
//!
//! ```text
//! <root>/index.sqlite                           the index (see db), plus -wal and -shm
//! <root>/store/<S0421KTX>/<study>/<series>/<hash>.dcm  archived instances, byte for byte
//! <root>/conflicts/<hash>.dcm                   files kept apart: they contradict the store
//! <root>/tmp/run-<id>.lock, run-<id>/           one private folder per running import (see store)
//! <root>/keys/<name>.key                        secrets (see secret)
//! ```
//!
//! Storage paths are built only from archive codes (the random subject code), numbers (study
//! number, series label) and the content hash (64 hex digits, see [`crate::content_hash`]): never from names, IDs, descriptions or UIDs
//! found in the data, so a hostile value cannot steer a write and a path leaks no PHI.

use std::path::{Component, Path, PathBuf};

/// The file name of the index inside the archive root.
pub const INDEX_FILE: &str = "index.sqlite";

/// The index file of an archive rooted at `root`.
pub fn index_path(root: &Path) -> PathBuf {
    root.join(INDEX_FILE)
}

/// Folder of archived instances.
pub const STORE_DIR: &str = "store";
/// Folder of conflicting files.
pub const CONFLICTS_DIR: &str = "conflicts";
/// Folder of temporary files.
pub const TMP_DIR: &str = "tmp";
/// Folder of secrets.
pub const KEYS_DIR: &str = "keys";

/// The folder of a study.
pub fn study_dir(root: &Path, subject_code: &str, study_number: i64) -> PathBuf {
    root.join(STORE_DIR)
        .join(subject_code)
        .join(study_number.to_string())
}

/// The folder of a series.
pub fn series_dir(
    root: &Path,
    subject_code: &str,
    study_number: i64,
    series_label: &str,
) -> PathBuf {
    study_dir(root, subject_code, study_number).join(series_label)
}

/// The stored path of an instance, relative to the root (`/`-separated, as kept in the index).
pub fn instance_rel(
    subject_code: &str,
    study_number: i64,
    series_label: &str,
    content_hash: &str,
) -> String {
    format!("{STORE_DIR}/{subject_code}/{study_number}/{series_label}/{content_hash}.dcm")
}

/// The stored path of a conflicting file, relative to the root.
pub fn conflict_rel(content_hash: &str) -> String {
    format!("{CONFLICTS_DIR}/{content_hash}.dcm")
}

/// Whether a relative path from a journal is one the archive could have written: under `store/`
/// or `conflicts/`, made only of plain components. Recovery deletes nothing else.
pub fn is_archive_rel(rel: &str) -> bool {
    let p = Path::new(rel);
    let mut comps = p.components();
    let first_ok =
        matches!(comps.next(), Some(Component::Normal(c)) if c == STORE_DIR || c == CONFLICTS_DIR);
    first_ok && p.components().count() >= 2 && comps.all(|c| matches!(c, Component::Normal(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_archive_paths_are_accepted_from_journals() {
        assert!(is_archive_rel("store/S0001BCD/1/3/ab.dcm"));
        assert!(is_archive_rel("conflicts/ab.dcm"));
        assert!(!is_archive_rel("store"));
        assert!(!is_archive_rel("../store/x"));
        assert!(!is_archive_rel("store/../../etc/passwd"));
        assert!(!is_archive_rel("/etc/passwd"));
        assert!(!is_archive_rel("index.sqlite"));
    }
}
