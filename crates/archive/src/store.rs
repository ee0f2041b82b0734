//! The archive's folder layout and the file operations that keep it crash-safe.
//!
//! ```text
//! <root>/index.sqlite                      the index (see db.rs), plus -wal and -shm
//! <root>/store/<S0421KTX>/<study>/<series>/<sha256>.dcm   archived instances, byte for byte
//! <root>/conflicts/<sha256>.dcm            files kept apart because they contradict the store
//! <root>/tmp/run-<id>.lock, run-<id>/      one private folder per running import
//! <root>/keys/<name>.key                   secrets (see secret.rs)
//! ```
//!
//! Storage paths are built only from archive codes (the random subject code), numbers (study
//! number, series label) and the content's SHA-256: never from names, IDs, descriptions or UIDs
//! found in the data, so a hostile value cannot steer a write and a path leaks no PHI.
//!
//! Every write goes to a temporary file inside the import's own `tmp/run-<id>/` folder, is
//! fsynced, and is renamed into place only inside the index transaction that records it (see
//! the design notes in db.rs). The run folder is guarded by an exclusive lock on
//! `tmp/run-<id>.lock`, held for the life of the import; the kernel drops it when the process
//! dies, which is how [`recover`] (run at every writable open) tells a dead import's leftovers
//! from a live one's. Before a batch renames anything, it writes a journal of the final paths;
//! recovery deletes those journalled paths that no index row references, then the run folder.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::db::Db;
use crate::error::OpenError;

/// Folder of archived instances.
pub const STORE_DIR: &str = "store";
/// Folder of conflicting files.
pub const CONFLICTS_DIR: &str = "conflicts";
/// Folder of temporary files.
pub const TMP_DIR: &str = "tmp";
/// Folder of secrets.
pub const KEYS_DIR: &str = "keys";

const JOURNAL: &str = "journal";

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
    sha256: &str,
) -> String {
    format!("{STORE_DIR}/{subject_code}/{study_number}/{series_label}/{sha256}.dcm")
}

/// The stored path of a conflicting file, relative to the root.
pub fn conflict_rel(sha256: &str) -> String {
    format!("{CONFLICTS_DIR}/{sha256}.dcm")
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

/// Fsyncs a folder, making renames and creations inside it durable.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Whether [`sync_filesystem`] is available (Linux `syncfs`). Where it is, an import writes its
/// staged files without fsyncing each, and flushes the whole batch with one call.
pub const CAN_SYNC_FILESYSTEM: bool = cfg!(target_os = "linux");

/// Flushes every dirty page and inode of the file system holding `dir` to disk and waits for it
/// (Linux `syncfs`): one call makes a whole batch of staged files durable, where fsyncing each
/// file costs a journal commit per file. Elsewhere this is an error; check
/// [`CAN_SYNC_FILESYSTEM`].
pub fn sync_filesystem(dir: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        let d = File::open(dir)?;
        rustix::fs::syncfs(&d).map_err(io::Error::from)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = dir;
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "syncfs is only available on Linux",
        ))
    }
}

/// Creates `dir` (below `root`) and any missing parents, remembering in `touched` every folder
/// whose entries changed (to fsync before commit).
pub fn ensure_dir(root: &Path, dir: &Path, touched: &mut BTreeSet<PathBuf>) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let rel = dir.strip_prefix(root).unwrap_or(dir);
    let mut cur = root.to_path_buf();
    for comp in rel.components() {
        let parent = cur.clone();
        cur.push(comp);
        match fs::create_dir(&cur) {
            Ok(()) => {
                touched.insert(parent);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes `bytes` to a new file at `path` (which must not exist), fsyncing it when `durable`.
pub fn write_new(path: &Path, bytes: &[u8], durable: bool) -> io::Result<()> {
    let mut f = File::create_new(path)?;
    f.write_all(bytes)?;
    if durable {
        f.sync_data()?;
    }
    Ok(())
}

/// An import's private temporary folder, locked for the life of the import and removed when
/// dropped.
#[derive(Debug)]
pub struct RunDir {
    dir: PathBuf,
    lock_path: PathBuf,
    _lock: File,
    counter: AtomicU64,
}

impl RunDir {
    /// Creates and locks a fresh run folder under `<root>/tmp/`.
    pub fn create(root: &Path) -> io::Result<RunDir> {
        let tmp = root.join(TMP_DIR);
        fs::create_dir_all(&tmp)?;
        loop {
            let id: u64 = rand::random();
            let name = format!("run-{id:016x}");
            let lock_path = tmp.join(format!("{name}.lock"));
            let lock = match File::create_new(&lock_path) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            };
            lock.lock()?;
            // A recovery in another process may have removed the lock file between its creation
            // and our lock; only a lock on the file still at that path protects the folder.
            if !same_file(&lock, &lock_path) {
                continue;
            }
            let dir = tmp.join(&name);
            fs::create_dir(&dir)?;
            return Ok(RunDir {
                dir,
                lock_path,
                _lock: lock,
                counter: AtomicU64::new(0),
            });
        }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// A fresh, unused temporary file path in the folder.
    pub fn temp_path(&self, suffix: &str) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        self.dir.join(format!("{n}.{suffix}"))
    }

    /// Writes (and fsyncs) the journal of final paths a batch is about to rename into place.
    pub fn write_journal(&self, rels: &[String]) -> io::Result<()> {
        let mut text = String::new();
        for rel in rels {
            text.push_str(rel);
            text.push('\n');
        }
        let mut f = File::create(self.dir.join(JOURNAL))?;
        f.write_all(text.as_bytes())?;
        f.sync_data()
    }

    /// Removes the journal after its batch committed.
    pub fn clear_journal(&self) -> io::Result<()> {
        match fs::remove_file(self.dir.join(JOURNAL)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        // Best effort: anything left is cleaned by the next open's recovery.
        let _ = fs::remove_dir_all(&self.dir);
        let _ = fs::remove_file(&self.lock_path);
    }
}

#[cfg(unix)]
fn same_file(f: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (f.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_f: &File, path: &Path) -> bool {
    path.exists()
}

/// Reads a journal, keeping only well-formed archive paths.
pub fn read_journal(path: &Path) -> io::Result<Vec<String>> {
    let text = match fs::read(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(String::from_utf8_lossy(&text)
        .lines()
        .filter(|l| is_archive_rel(l))
        .map(str::to_string)
        .collect())
}

/// Removes a file of the archive named by a journal; a missing file is fine.
pub fn remove_rel(root: &Path, rel: &str) -> io::Result<()> {
    if !is_archive_rel(rel) {
        return Ok(());
    }
    match fs::remove_file(root.join(rel)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

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
                        path: crate::db::index_path(root),
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

    #[test]
    fn run_dirs_are_locked_and_recovered() {
        let root = tempfile::tempdir().unwrap();
        let mut db = Db::open(&root.path().join(crate::db::INDEX_FILE)).unwrap();
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
