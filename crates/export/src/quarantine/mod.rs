//! The quarantine: packages whose audit found something blocking, kept complete and
//! unpublished inside the archive until a person reviews them and releases or discards them.
//!
//! ```text
//! <archive>/quarantine/<ID>/quarantine.json   the record (see QuarantineRecord)
//! <archive>/quarantine/<ID>/package/          the package as it would have been published,
//! <archive>/quarantine/<ID>/package.zip       ... or as a zip
//! <archive>/quarantine/.incoming-<n>/         an entry being written, with the files an
//!                                             export holds back (never listed; its lock is
//!                                             .incoming-<n>.lock beside it)
//! <archive>/quarantine/.removing-<ID>-<n>/    an entry being removed (never listed)
//! ```
//!
//! IDs are `Q` and 8 random characters of Crockford's base 32, generated, never derived from
//! the data; the record names files by package path and findings by file, tag path and kind,
//! never by value, so no path or report of the quarantine carries PHI. (The package itself may:
//! that is why it is here, inside the archive, and not at its destination.)
//!
//! Writes are atomic: an entry is assembled in a hidden `.incoming-…` folder (see
//! `admit.rs`: the package put together, the record written and synced) and appears under its
//! ID with one rename, so a crash leaves either nothing listed or a complete entry. Removal is
//! the reverse: one rename out of sight, then deletion. A release or discard holds an exclusive
//! lock on the entry's record for its whole run, so two of them never act on one entry.
//! Leftovers of a crash are reported by [`Quarantine::list`] and removed by
//! [`Quarantine::clean_leftovers`] when no live process holds them.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

mod admit;
mod entry;

pub use admit::{Manifests, SpoolSlot};
pub use entry::{
    Entry, Listing, Locked, QUARANTINE_DIR, Quarantine, QuarantineError, QuarantineInfo,
    QuarantineRecord, RECORD, RECORD_FORMAT, parse_id,
};
use entry::{INCOMING, REMOVING, io, remove_any, same_file, sync_dir, try_lock};

use crate::package::{PackageKind, rand_suffix, rename_noreplace};

impl Quarantine {
    /// The quarantine of the archive at `archive_root`.
    pub fn of(archive_root: &Path) -> Quarantine {
        Quarantine {
            dir: archive_root.join(QUARANTINE_DIR),
        }
    }

    /// Its folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every entry, oldest first, with damaged entries and leftovers of interrupted runs.
    pub fn list(&self) -> Result<Listing, QuarantineError> {
        let mut out = Listing::default();
        let rd = match fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io("cannot read", &self.dir)(e)),
        };
        let mut names: Vec<String> = rd
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            let path = self.dir.join(&name);
            if name.starts_with('.') {
                out.leftovers.push(path);
                continue;
            }
            let Ok(id) = parse_id(&name) else {
                out.damaged.push(QuarantineError::Damaged {
                    path,
                    why: "not a quarantine entry (its name is no quarantine ID)".into(),
                });
                continue;
            };
            match self.load(&id) {
                Ok(e) => out.entries.push(e),
                Err(e) => out.damaged.push(e),
            }
        }
        out.entries.sort_by(|a, b| {
            (&a.record.created, &a.record.id).cmp(&(&b.record.created, &b.record.id))
        });
        Ok(out)
    }

    /// The entry `id` (as [`parse_id`] reads it).
    pub fn load(&self, id: &str) -> Result<Entry, QuarantineError> {
        let id = parse_id(id)?;
        let path = self.dir.join(&id);
        let record_path = path.join(RECORD);
        let bytes = match fs::read(&record_path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !path.exists() => {
                return Err(QuarantineError::NotFound {
                    id,
                    dir: self.dir.clone(),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(QuarantineError::Damaged {
                    path,
                    why: format!("its {RECORD} is missing"),
                });
            }
            Err(e) => return Err(io("cannot read", &record_path)(e)),
        };
        self.entry_from(&id, path, &bytes)
    }

    fn entry_from(&self, id: &str, path: PathBuf, bytes: &[u8]) -> Result<Entry, QuarantineError> {
        let damaged = |why: String| QuarantineError::Damaged {
            path: path.clone(),
            why,
        };
        let record: QuarantineRecord = match serde_json::from_slice(bytes) {
            Ok(r) => r,
            Err(e) => return Err(damaged(format!("its {RECORD} cannot be read: {e}"))),
        };
        if record.format != RECORD_FORMAT || record.id != id {
            return Err(damaged(format!(
                "its {RECORD} is not the record of entry {id} (format {:?}, ID {:?})",
                record.format, record.id
            )));
        }
        let entry = Entry {
            record,
            path: path.clone(),
        };
        let package = entry.package_path();
        let fits = match entry.record.kind {
            PackageKind::Folder => package.is_dir(),
            PackageKind::Zip => package.is_file(),
        };
        if !fits {
            return Err(damaged(format!("{} is missing", package.display())));
        }
        Ok(entry)
    }

    /// Locks the entry `id` for a release or discard.
    pub fn lock(&self, id: &str) -> Result<Locked, QuarantineError> {
        let id = parse_id(id)?;
        let path = self.dir.join(&id);
        let record_path = path.join(RECORD);
        let not_found = || QuarantineError::NotFound {
            id: id.clone(),
            dir: self.dir.clone(),
        };
        if !path.exists() {
            return Err(not_found());
        }
        let Some(mut lock) = try_lock(&record_path)? else {
            return Err(QuarantineError::Busy(id));
        };
        // The lock may have been taken after another process released or discarded the entry
        // (the file it locks then lies elsewhere): only a lock on the record still in place
        // counts.
        if !same_file(&lock, &record_path) {
            return Err(not_found());
        }
        let mut bytes = Vec::new();
        lock.read_to_end(&mut bytes)
            .map_err(io("cannot read", &record_path))?;
        let entry = self.entry_from(&id, path, &bytes)?;
        Ok(Locked { entry, _lock: lock })
    }

    /// Removes a locked entry: renamed out of sight, then deleted.
    pub fn remove(&self, locked: Locked) -> Result<QuarantineRecord, QuarantineError> {
        let from = &locked.entry.path;
        let aside = self.dir.join(format!(
            "{REMOVING}{}-{:x}",
            locked.entry.record.id,
            rand_suffix()
        ));
        rename_noreplace(from, &aside).map_err(io("cannot remove", from))?;
        sync_dir(&self.dir)?;
        fs::remove_dir_all(&aside).map_err(io("cannot remove", &aside))?;
        Ok(locked.entry.record)
    }

    /// Discards the entry `id`.
    pub fn discard(&self, id: &str) -> Result<QuarantineRecord, QuarantineError> {
        let locked = self.lock(id)?;
        self.remove(locked)
    }

    /// Removes the leftovers of interrupted runs that no live process holds; returns what
    /// was removed.
    pub fn clean_leftovers(&self) -> Result<Vec<PathBuf>, QuarantineError> {
        let mut removed = Vec::new();
        for path in self.list()?.leftovers {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            // What a live process holds: an incoming entry's lock file beside it, a removed
            // entry's record inside it.
            let lock_path = if name.starts_with(INCOMING) {
                if name.ends_with(".lock") {
                    path.clone()
                } else {
                    self.dir.join(format!("{name}.lock"))
                }
            } else {
                path.join(RECORD)
            };
            let held = match try_lock(&lock_path) {
                Ok(Some(_)) => false,
                Ok(None) => true,
                Err(_) => false,
            };
            if held || !path.exists() {
                continue;
            }
            remove_any(&path).map_err(io("cannot remove", &path))?;
            if name.starts_with(INCOMING) && !name.ends_with(".lock") {
                let _ = fs::remove_file(&lock_path);
            }
            removed.push(path);
        }
        if !removed.is_empty() {
            sync_dir(&self.dir)?;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests;
