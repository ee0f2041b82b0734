//! Cleaning up after imports that died (a `kill -9`, a power cut): run at every writable open
//! of an archive, before anything else writes to it.
//!
//! An import stages files in its own run folder under `tmp/`, guarded by a lock the kernel
//! drops when the process dies, and journals the final paths of a batch before renaming its
//! files into place (see `store`). A dead import's batch in flight may have renamed files
//! without its transaction committing: recovery deletes the journalled paths no index row
//! references, under the index's write lock so that it cannot race a live import, then the run
//! folder. Folders of live imports (lock held) are left alone.

use std::fs::{self, File};
use std::io;
use std::path::Path;

use crate::db::Db;
use crate::error::OpenError;
use crate::layout::{self, TMP_DIR};
use crate::store::{JOURNAL, read_journal, remove_rel};

/// Cleans up after imports that died: for every run folder under `tmp/` whose lock is free,
/// deletes the journalled files no index row references, then the folder and its lock. Folders
/// of live imports (lock held) are left alone.
pub fn recover(root: &Path, db: &mut Db) -> Result<(), OpenError> {
    let tmp = root.join(TMP_DIR);
    let rec = |path: &Path, source: io::Error| OpenError::Recovery {
        path: path.to_path_buf(),
        source,
    };
    let entries = match fs::read_dir(&tmp) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(rec(&tmp, e)),
    };
    let mut names: Vec<String> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| rec(&tmp, e))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    for name in &names {
        let path = tmp.join(name);
        if let Some(run) = name.strip_suffix(".lock") {
            let lock = match File::options().read(true).write(true).open(&path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(rec(&path, e)),
            };
            match lock.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => continue,
                Err(fs::TryLockError::Error(e)) => return Err(rec(&path, e)),
            }
            let dir = tmp.join(run);
            let journal = read_journal(&dir.join(JOURNAL)).map_err(|e| rec(&dir, e))?;
            if !journal.is_empty() {
                let result = db
                    .forget_unreferenced(&journal, |rel| remove_rel(root, rel))
                    .map_err(|source| OpenError::Db {
                        path: layout::index_path(root),
                        op: "recovering an interrupted import",
                        source,
                    })?;
                result.map_err(|e| rec(&dir, e))?;
            }
            remove_dir_if_present(&dir).map_err(|e| rec(&dir, e))?;
            fs::remove_file(&path).map_err(|e| rec(&path, e))?;
        } else if !names.iter().any(|n| n == &format!("{name}.lock")) {
            // A run folder whose lock file is gone (its owner finished removing it), or a stray
            // file: nothing in tmp/ is ever referenced by the index.
            let result = if path.is_dir() {
                remove_dir_if_present(&path)
            } else {
                fs::remove_file(&path)
            };
            match result {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(rec(&path, e)),
                _ => {}
            }
        }
    }
    Ok(())
}

fn remove_dir_if_present(dir: &Path) -> io::Result<()> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::store::{RunDir, ensure_dir, write_new};

    #[test]
    fn run_dirs_are_locked_and_recovered() {
        let root = tempfile::tempdir().unwrap();
        let mut db = Db::open(&root.path().join(layout::INDEX_FILE)).unwrap();
        let live = RunDir::create(root.path()).unwrap();
        let temp = live.temp_path("part");
        write_new(&temp, b"x", true).unwrap();
        // A dead run: lock file unlocked, journal naming an unreferenced store file.
        let dead = root.path().join(TMP_DIR).join("run-dead");
        fs::create_dir(&dead).unwrap();
        File::create(root.path().join(TMP_DIR).join("run-dead.lock")).unwrap();
        let orphan = "store/S0001BCD/1/1/ff.dcm";
        let mut touched = BTreeSet::new();
        ensure_dir(
            root.path(),
            &root.path().join("store/S0001BCD/1/1"),
            &mut touched,
        )
        .unwrap();
        fs::write(root.path().join(orphan), b"orphan").unwrap();
        fs::write(dead.join(JOURNAL), format!("{orphan}\n../../evil\n")).unwrap();

        recover(root.path(), &mut db).unwrap();
        assert!(
            !root.path().join(orphan).exists(),
            "unreferenced journalled file removed"
        );
        assert!(!dead.exists());
        assert!(temp.exists(), "a live run's files are left alone");
        drop(live);
        recover(root.path(), &mut db).unwrap();
        assert_eq!(fs::read_dir(root.path().join(TMP_DIR)).unwrap().count(), 0);
    }
}
