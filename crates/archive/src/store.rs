//! The file operations that keep the archive's folders crash-safe (where things live is
//! `layout`'s).
//!
//! Every write goes to a temporary file inside the import's own `tmp/run-<id>/` folder, is
//! fsynced, and is renamed into place only inside the index transaction that records it (see
//! the design notes in db). The run folder is guarded by an exclusive lock on
//! `tmp/run-<id>.lock`, held for the life of the import; the kernel drops it when the process
//! dies, which is how recovery (run at every writable open) tells a dead import's leftovers
//! from a live one's. Before a batch renames anything, it writes a journal of the final paths;
//! recovery deletes those journalled paths that no index row references, then the run folder.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::layout::{TMP_DIR, is_archive_rel};

/// The journal of a run folder: the final paths its batch in flight renames into place.
pub(crate) const JOURNAL: &str = "journal";

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
