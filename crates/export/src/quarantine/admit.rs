//! Putting a package into the quarantine, so that a file the audit blocks never lies beside
//! the destination.
//!
//! During the export, a file whose findings block publication is not added to the staging
//! package beside the destination (which may be a shared folder) but written to a spool inside
//! the archive ([`SpoolSlot`]); the staging package holds only the other files. When the audit
//! is done and the package must wait, the entry is assembled in a hidden `.incoming-…` folder
//! of the quarantine: the staged files moved in (renamed on one file system, else copied and
//! synced), the spooled files and the manifest added, everything synced, the record written,
//! and the folder renamed to its ID. A zip is rebuilt there in the export's entry order, the
//! staged entries copied raw. The manifest, which may carry a finding too, is only ever written
//! into the quarantine. Any failure removes the incoming folder and the staging place.

use std::collections::{BTreeSet, HashSet};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::entry::{
    Entry, INCOMING, Quarantine, QuarantineError, QuarantineRecord, RECORD, RECORD_FORMAT, io,
    new_id, remove_any, sync_dir,
};
use crate::package::{Package, PackageKind, check_name, rand_suffix, rename_noreplace};

/// An entry being assembled: its hidden folder and the lock that tells a live one from a
/// crash's leftover. Removed (with anything handed to it) unless it was put in place.
pub(super) struct Incoming {
    dir: PathBuf,
    lock_path: PathBuf,
    _lock: File,
    /// A staging place handed over (removed on failure).
    staged: Option<PathBuf>,
    done: bool,
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if let Some(s) = &self.staged {
            let _ = remove_any(s);
        }
        if !self.done {
            let _ = remove_any(&self.dir);
        }
        let _ = fs::remove_file(&self.lock_path);
    }
}

impl Incoming {
    /// A new, locked incoming folder in the quarantine (created if need be).
    fn create(q: &Quarantine) -> Result<Incoming, QuarantineError> {
        let created = !q.dir.is_dir();
        fs::create_dir_all(&q.dir).map_err(io("cannot create", &q.dir))?;
        if created && let Some(parent) = q.dir.parent() {
            sync_dir(parent)?;
        }
        let name = format!("{INCOMING}{:x}", rand_suffix());
        let dir = q.dir.join(&name);
        let lock_path = q.dir.join(format!("{name}.lock"));
        let lock = File::create_new(&lock_path).map_err(io("cannot create", &lock_path))?;
        if let Err(e) = lock.lock() {
            let _ = fs::remove_file(&lock_path);
            return Err(io("cannot lock", &lock_path)(e));
        }
        let incoming = Incoming {
            dir,
            lock_path,
            _lock: lock,
            staged: None,
            done: false,
        };
        fs::create_dir(&incoming.dir).map_err(io("cannot create", &incoming.dir))?;
        Ok(incoming)
    }
}

/// Files an export holds back from its staging package because their findings block
/// publication: written inside the archive's quarantine, never beside the destination. Created
/// on the first such file; safe to use from many threads.
pub struct SpoolSlot {
    quarantine: Quarantine,
    inner: Mutex<Option<(Incoming, Spool)>>,
}

/// The held-back files, in `spool/` of an incoming folder.
struct Spool {
    dir: PathBuf,
    files: BTreeSet<String>,
    made_dirs: HashSet<PathBuf>,
}

impl std::fmt::Debug for SpoolSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpoolSlot")
            .field("quarantine", &self.quarantine.dir)
            .finish()
    }
}

impl SpoolSlot {
    /// An empty slot for `quarantine`.
    pub fn new(quarantine: &Quarantine) -> SpoolSlot {
        SpoolSlot {
            quarantine: quarantine.clone(),
            inner: Mutex::new(None),
        }
    }

    /// Holds back one file of the package (`rel`, its package path).
    pub fn add(&self, rel: &str, bytes: &[u8]) -> Result<(), QuarantineError> {
        check_name(rel)?;
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            let incoming = Incoming::create(&self.quarantine)?;
            let dir = incoming.dir.join("spool");
            fs::create_dir(&dir).map_err(io("cannot create", &dir))?;
            *guard = Some((
                incoming,
                Spool {
                    dir,
                    files: BTreeSet::new(),
                    made_dirs: HashSet::new(),
                },
            ));
        }
        let Some((_, spool)) = guard.as_mut() else {
            return Ok(());
        };
        let path = spool.dir.join(rel);
        if let Some(parent) = path.parent()
            && !spool.made_dirs.contains(parent)
        {
            fs::create_dir_all(parent).map_err(io("cannot create", parent))?;
            spool.made_dirs.insert(parent.to_path_buf());
        }
        let mut f = File::create_new(&path).map_err(io("cannot create", &path))?;
        f.write_all(bytes).map_err(io("cannot write", &path))?;
        spool.files.insert(rel.to_string());
        Ok(())
    }

    /// Whether no file was held back.
    pub fn is_empty(&self) -> bool {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_none_or(|(_, s)| s.files.is_empty())
    }
}

/// The package's manifest files, written only into the quarantine.
#[derive(Clone, Copy)]
pub struct Manifests<'a> {
    /// Writes `manifest.json` (encoded as it is written: a million files' manifest is never
    /// held whole).
    pub json: &'a dyn Fn(&mut dyn Write) -> std::io::Result<()>,
    /// Writes `manifest.csv`.
    pub csv: &'a dyn Fn(&mut dyn Write) -> std::io::Result<()>,
}

/// Makes every file and folder below `dir` durable.
fn sync_tree(dir: &Path) -> Result<(), QuarantineError> {
    if archive::store::CAN_SYNC_FILESYSTEM {
        archive::store::sync_filesystem(dir).map_err(io("cannot sync", dir))?;
    } else {
        for e in walkdir::WalkDir::new(dir) {
            let e = e.map_err(|e| io("cannot read", dir)(e.into()))?;
            let p = e.path();
            File::open(p)
                .and_then(|f| f.sync_all())
                .map_err(io("cannot sync", p))?;
        }
    }
    Ok(())
}

/// Moves `from` to `to` (which must not exist): a rename on one file system, else a copy,
/// synced, and the removal of `from`.
fn move_staged(from: &Path, to: &Path, kind: PackageKind) -> Result<(), QuarantineError> {
    match rename_noreplace(from, to) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices => {}
        Err(e) => return Err(io("cannot move the package into", to)(e)),
    }
    match kind {
        PackageKind::Zip => copy_file(from, to)?,
        PackageKind::Folder => {
            for e in walkdir::WalkDir::new(from).sort_by_file_name() {
                let e = e.map_err(|e| io("cannot read", from)(e.into()))?;
                let rel = e.path().strip_prefix(from).unwrap_or(e.path());
                let target = to.join(rel);
                if e.file_type().is_dir() {
                    fs::create_dir(&target).map_err(io("cannot create", &target))?;
                } else {
                    copy_file(e.path(), &target)?;
                }
            }
        }
    }
    remove_any(from).map_err(io("cannot remove", from))
}

fn copy_file(from: &Path, to: &Path) -> Result<(), QuarantineError> {
    let mut src = File::open(from).map_err(io("cannot open", from))?;
    let mut dst = File::create_new(to).map_err(io("cannot create", to))?;
    std::io::copy(&mut src, &mut dst).map_err(io("cannot copy to", to))?;
    Ok(())
}

fn write_file(
    path: &Path,
    write: &dyn Fn(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), QuarantineError> {
    let f = File::create_new(path).map_err(io("cannot create", path))?;
    let mut out = std::io::BufWriter::new(f);
    write(&mut out)
        .and_then(|()| out.flush())
        .map_err(io("cannot write", path))
}

/// A folder package: the staged files moved in, the held-back ones and the manifest added.
fn assemble_folder(
    staged: &Path,
    target: &Path,
    spool: Option<&Spool>,
    manifests: Manifests<'_>,
) -> Result<(), QuarantineError> {
    move_staged(staged, target, PackageKind::Folder)?;
    if let Some(spool) = spool {
        for rel in &spool.files {
            let to = target.join(rel);
            if let Some(parent) = to.parent() {
                fs::create_dir_all(parent).map_err(io("cannot create", parent))?;
            }
            let from = spool.dir.join(rel);
            rename_noreplace(&from, &to).map_err(io("cannot move into place", &to))?;
        }
    }
    write_file(&target.join("manifest.json"), manifests.json)?;
    write_file(&target.join("manifest.csv"), manifests.csv)?;
    Ok(())
}

/// A zip package rebuilt at `target` in the export's entry order (`order`): staged entries
/// copied raw, held-back files and the manifest added.
fn assemble_zip(
    staged: &Path,
    target: &Path,
    spool: Option<&Spool>,
    manifests: Manifests<'_>,
    order: &mut dyn Iterator<Item = String>,
) -> Result<(), QuarantineError> {
    let zip_err = |source: zip::result::ZipError| {
        io("cannot read the staged package", staged)(std::io::Error::other(source))
    };
    let f = File::open(staged).map_err(io("cannot open", staged))?;
    let mut z = zip::ZipArchive::new(std::io::BufReader::new(f)).map_err(zip_err)?;
    let held = spool.map(|s| &s.files);
    let mut copied = 0;
    let mut out = Package::create(target, false)?;
    for rel in order {
        if held.is_some_and(|h| h.contains(&rel)) {
            let from = spool.map(|s| s.dir.join(&rel)).unwrap_or_default();
            let bytes = fs::read(&from).map_err(io("cannot read", &from))?;
            out.add(&rel, &bytes)?;
        } else {
            let entry = z.by_name_raw(rel.as_bytes()).map_err(zip_err)?;
            out.add_zip_entry(entry)?;
            copied += 1;
        }
    }
    if copied != z.len() {
        return Err(io(
            "the staged package holds other files than planned",
            staged,
        )(std::io::Error::other("entry count differs")));
    }
    out.add_with("manifest.json", manifests.json)?;
    out.add_with("manifest.csv", manifests.csv)?;
    out.finish()?;
    out.publish(false)?;
    Ok(())
}

impl Quarantine {
    /// Puts a package in quarantine under a new ID: the staged `package` (holding every file
    /// but those `spooled`), the held-back files, and `manifests`; `order` is the export's order
    /// of files (a zip is rebuilt in it). `record`'s `id` and `created` are filled in here and
    /// its `destination` made absolute. On any failure, neither the staging place nor anything
    /// in the quarantine is left behind.
    pub fn admit(
        &self,
        package: Package,
        spooled: SpoolSlot,
        manifests: Manifests<'_>,
        order: &mut dyn Iterator<Item = String>,
        mut record: QuarantineRecord,
    ) -> Result<Entry, QuarantineError> {
        record.destination =
            std::path::absolute(&record.destination).unwrap_or_else(|_| record.destination.clone());
        if record.destination.to_str().is_none() {
            return Err(QuarantineError::Destination(record.destination));
        }
        let spool = spooled
            .inner
            .into_inner()
            .unwrap_or_else(|p| p.into_inner());
        let (mut incoming, spool) = match spool {
            Some((incoming, spool)) => (incoming, Some(spool)),
            None => (Incoming::create(self)?, None),
        };
        let (staged, kind) = package.into_staged()?;
        incoming.staged = Some(staged.clone());
        record.kind = kind;
        let mut entry = Entry {
            record,
            path: incoming.dir.clone(),
        };
        let target = entry.package_path();
        match kind {
            PackageKind::Folder => assemble_folder(&staged, &target, spool.as_ref(), manifests)?,
            PackageKind::Zip => {
                assemble_zip(&staged, &target, spool.as_ref(), manifests, order)?;
                remove_any(&staged).map_err(io("cannot remove", &staged))?;
            }
        }
        incoming.staged = None;
        if let Some(s) = &spool {
            remove_any(&s.dir).map_err(io("cannot remove", &s.dir))?;
        }
        sync_tree(&incoming.dir)?;
        for e in walkdir::WalkDir::new(&incoming.dir).contents_first(true) {
            let e = e.map_err(|e| io("cannot read", &incoming.dir)(e.into()))?;
            if e.file_type().is_dir() {
                sync_dir(e.path())?;
            }
        }
        let dir = incoming.dir.clone();
        let mut id = new_id();
        loop {
            entry.record.id.clone_from(&id);
            entry.record.created = archive::db::now();
            entry.record.format = RECORD_FORMAT.to_string();
            let json = serde_json::to_vec_pretty(&entry.record).map_err(|e| {
                io("cannot write", &dir)(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
            })?;
            let record_path = dir.join(RECORD);
            let _ = fs::remove_file(&record_path);
            let mut f =
                File::create_new(&record_path).map_err(io("cannot create", &record_path))?;
            f.write_all(&json)
                .and_then(|()| f.write_all(b"\n"))
                .and_then(|()| f.sync_all())
                .map_err(io("cannot write", &record_path))?;
            sync_dir(&dir)?;
            let target = self.dir.join(&id);
            match rename_noreplace(&dir, &target) {
                Ok(()) => {
                    incoming.done = true;
                    sync_dir(&self.dir)?;
                    entry.path = target;
                    return Ok(entry);
                }
                // One in a trillion: the ID is taken. Take another.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => id = new_id(),
                Err(e) => return Err(io("cannot move into place", &target)(e)),
            }
        }
    }
}
