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

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use sha2::{Digest, Sha256};

mod admit;

pub use admit::{Manifests, SpoolSlot};

use crate::findings::{FindingRecord, Sealed, Tally, tally};
use crate::manifest::{Counts, Manifest};
use crate::package::{PackageError, PackageKind, rand_suffix, rename_noreplace};

/// The quarantine's folder in the archive.
pub const QUARANTINE_DIR: &str = "quarantine";
/// The record of an entry.
pub const RECORD: &str = "quarantine.json";
/// Format tag of a record.
pub const RECORD_FORMAT: &str = "depot-quarantine/1";

const INCOMING: &str = ".incoming-";
const REMOVING: &str = ".removing-";
/// Crockford's base 32 (no I, L, O, U).
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const ID_CHARS: usize = 8;

/// Errors of the quarantine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QuarantineError {
    /// Not an ID the quarantine hands out.
    #[error("{0:?} is not a quarantine ID (Q followed by 8 letters and digits, e.g. Q7K2M9XA4)")]
    BadId(String),
    /// No entry by that ID.
    #[error("no quarantined package {id} in {dir} (released or discarded already, or never made)")]
    NotFound {
        /// The ID.
        id: String,
        /// The quarantine folder.
        dir: PathBuf,
    },
    /// Another depot process is releasing or discarding the entry.
    #[error("quarantined package {0} is being released or discarded by another depot process")]
    Busy(String),
    /// The entry's record or package is not what the quarantine wrote.
    #[error("quarantine entry {path} is damaged: {why}")]
    Damaged {
        /// The entry.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The destination cannot be recorded (not UTF-8).
    #[error("the destination {0} is not valid UTF-8 and cannot be recorded for a later release")]
    Destination(PathBuf),
    /// File system trouble.
    #[error("{action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The staged package could not be handed over.
    #[error(transparent)]
    Package(#[from] PackageError),
}

pub(crate) fn io<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> QuarantineError + 'a {
    move |source| QuarantineError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// What a quarantine entry records: everything needed to publish the package later, and its
/// findings. Never a value from the data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QuarantineRecord {
    /// Always [`RECORD_FORMAT`].
    pub format: String,
    /// The entry's ID.
    pub id: String,
    /// When the export put it here (RFC 3339 UTC).
    pub created: String,
    /// Where the export was to publish it (absolute).
    pub destination: PathBuf,
    /// Folder or zip.
    pub kind: PackageKind,
    /// Whether the export was allowed to replace a depot package at the destination.
    pub force: bool,
    /// The key file the export used, if not the archive's key (a destination may never
    /// overlap it).
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// The profile's name (a level name for built-in levels).
    pub level: String,
    /// Options in effect.
    pub options: Vec<String>,
    /// Identifiers blanked rather than pseudonymized.
    pub blank_identifiers: bool,
    /// The profile's digest (rules and accepted coincidences).
    pub profile_digest: String,
    /// Fingerprint of the key.
    pub key_fingerprint: String,
    /// SHA-256 of the package's `manifest.json`, which lists every file's SHA-256: the
    /// package is released only if it still matches.
    pub package_digest: String,
    /// What the package holds.
    pub counts: Counts,
    /// Files audited.
    pub audited_files: usize,
    /// Every finding, numbered, with those a profile accepted.
    pub findings: Vec<FindingRecord>,
    /// The archive codes of the package's subjects (internal: to audit what a release adds to
    /// the package against their values; never shown, never published).
    pub archive_subjects: Vec<String>,
}

/// What the export knows of a package beyond its manifest, for its quarantine record.
#[derive(Debug)]
pub struct QuarantineInfo<'a> {
    /// Where it was to be published.
    pub destination: &'a Path,
    /// Whether the export could replace a depot package there.
    pub force: bool,
    /// The key file used, if any.
    pub key_file: Option<&'a Path>,
    /// Files audited.
    pub audited_files: usize,
    /// Archive codes of its subjects.
    pub archive_subjects: Vec<String>,
}

impl QuarantineRecord {
    /// The record of a package with `manifest`, sealed as `sealed` (ID and time are given when
    /// the entry is written, see [`Quarantine::admit`]).
    pub fn new(manifest: &Manifest, sealed: &Sealed, info: QuarantineInfo<'_>) -> QuarantineRecord {
        QuarantineRecord {
            format: RECORD_FORMAT.to_string(),
            id: String::new(),
            created: String::new(),
            destination: info.destination.to_path_buf(),
            kind: PackageKind::for_destination(info.destination),
            force: info.force,
            key_file: info
                .key_file
                .map(|k| std::path::absolute(k).unwrap_or_else(|_| k.to_path_buf())),
            level: manifest.level.clone(),
            options: manifest.options.clone(),
            blank_identifiers: manifest.blank_identifiers,
            profile_digest: manifest.profile_digest.clone(),
            key_fingerprint: manifest.key_fingerprint.clone(),
            package_digest: hex::encode(Sha256::digest(&sealed.json)),
            counts: manifest.counts.clone(),
            audited_files: info.audited_files,
            findings: sealed.records.clone(),
            archive_subjects: info.archive_subjects,
        }
    }

    /// Counts of the findings by status.
    pub fn tally(&self) -> Tally {
        tally(&self.findings)
    }
}

/// One complete quarantine entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its record.
    pub record: QuarantineRecord,
    /// Its folder.
    pub path: PathBuf,
}

impl Entry {
    /// The quarantined package (a folder or a zip file).
    pub fn package_path(&self) -> PathBuf {
        self.path.join(match self.record.kind {
            PackageKind::Folder => "package",
            PackageKind::Zip => "package.zip",
        })
    }
}

/// What [`Quarantine::list`] found.
#[derive(Debug, Default)]
pub struct Listing {
    /// Complete entries, oldest first.
    pub entries: Vec<Entry>,
    /// Entries whose record cannot be read (never released; discard them).
    pub damaged: Vec<QuarantineError>,
    /// Leftovers of an interrupted export, release or discard (hidden folders).
    pub leftovers: Vec<PathBuf>,
}

/// An entry locked for release or discard: no other depot process acts on it meanwhile.
#[derive(Debug)]
pub struct Locked {
    entry: Entry,
    _lock: File,
}

impl Locked {
    /// The entry.
    pub fn entry(&self) -> &Entry {
        &self.entry
    }
}

/// The quarantine of one archive.
#[derive(Debug, Clone)]
pub struct Quarantine {
    dir: PathBuf,
}

/// The canonical form of an ID typed by a user (case ignored), or why it is none.
pub fn parse_id(s: &str) -> Result<String, QuarantineError> {
    let id = s.trim().to_ascii_uppercase();
    let ok = id.len() == 1 + ID_CHARS
        && id.starts_with('Q')
        && id.bytes().skip(1).all(|b| ALPHABET.contains(&b));
    if ok {
        Ok(id)
    } else {
        Err(QuarantineError::BadId(s.to_string()))
    }
}

pub(crate) fn new_id() -> String {
    let mut bytes = [0u8; ID_CHARS];
    if getrandom::fill(&mut bytes).is_err() {
        // No system randomness: the time and process (an ID names, it does not protect).
        bytes = rand_suffix().to_le_bytes();
    }
    let mut id = String::from("Q");
    id.extend(
        bytes
            .iter()
            .map(|b| char::from(ALPHABET[usize::from(b & 31)])),
    );
    id
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

pub(crate) fn sync_dir(dir: &Path) -> Result<(), QuarantineError> {
    archive::store::fsync_dir(dir).map_err(io("cannot sync", dir))
}

/// Takes the exclusive lock of `path` if no one holds it; `None` if someone does.
fn try_lock(path: &Path) -> Result<Option<File>, QuarantineError> {
    let f = File::open(path).map_err(io("cannot open", path))?;
    match f.try_lock() {
        Ok(()) => Ok(Some(f)),
        Err(fs::TryLockError::WouldBlock) => Ok(None),
        Err(fs::TryLockError::Error(e)) => Err(io("cannot lock", path)(e)),
    }
}

pub(crate) fn remove_any(p: &Path) -> std::io::Result<()> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(p),
        Ok(_) => fs::remove_file(p),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

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
mod tests {
    use super::*;
    use crate::package::Package;

    fn record() -> QuarantineRecord {
        QuarantineRecord {
            format: String::new(),
            id: String::new(),
            created: String::new(),
            destination: PathBuf::from("out/pkg.zip"),
            kind: PackageKind::Zip,
            force: false,
            key_file: None,
            level: "anonymize-full".into(),
            options: vec![],
            blank_identifiers: false,
            profile_digest: "d".into(),
            key_fingerprint: "k".into(),
            package_digest: "p".into(),
            counts: Counts::default(),
            audited_files: 3,
            findings: vec![],
            archive_subjects: vec!["S0001ABC".into()],
        }
    }

    fn staged(dest: &Path) -> Package {
        let p = Package::create(dest, false).expect("create");
        p.add("a/1.dcm", b"one").expect("add");
        p.add("b/3.dcm", b"three").expect("add");
        p
    }

    const MANIFESTS: Manifests<'static> = Manifests {
        json: b"{}",
        csv: b"subject\n",
    };
    const ORDER: [&str; 3] = ["a/1.dcm", "a/2.dcm", "b/3.dcm"];

    /// Admits `staged(dest)` with a/2.dcm held back in the spool.
    fn admit(q: &Quarantine, dest: &Path, r: QuarantineRecord) -> Result<Entry, QuarantineError> {
        let spool = SpoolSlot::new(q);
        assert!(spool.is_empty());
        spool.add("a/2.dcm", b"two").expect("spool");
        assert!(!spool.is_empty());
        assert!(spool.add("../x.dcm", b"x").is_err(), "names are checked");
        let order: Vec<String> = ORDER.iter().map(|s| s.to_string()).collect();
        q.admit(staged(dest), spool, MANIFESTS, &order, r)
    }

    /// A package's files by name.
    fn files_of(e: &Entry) -> std::collections::BTreeMap<String, Vec<u8>> {
        let path = e.package_path();
        let mut out = std::collections::BTreeMap::new();
        if path.is_dir() {
            for f in walkdir::WalkDir::new(&path)
                .into_iter()
                .filter_map(Result::ok)
            {
                if f.file_type().is_file() {
                    let rel = f.path().strip_prefix(&path).expect("below");
                    out.insert(
                        rel.to_string_lossy().replace('\\', "/"),
                        fs::read(f.path()).expect("read"),
                    );
                }
            }
        } else {
            let mut z = zip::ZipArchive::new(File::open(&path).expect("open")).expect("zip");
            for i in 0..z.len() {
                let mut f = z.by_index(i).expect("entry");
                let mut buf = Vec::new();
                f.read_to_end(&mut buf).expect("read");
                out.insert(f.name().expect("name").to_string(), buf);
            }
        }
        out
    }

    #[test]
    fn ids_are_generated_and_checked() {
        let a = new_id();
        assert_eq!(parse_id(&a.to_ascii_lowercase()).expect("valid"), a);
        assert_ne!(a, new_id());
        for bad in [
            "",
            "Q",
            "F1",
            "Q1234567",
            "Q12345678X",
            "Q1234567I",
            "../Q12345678",
            "Q1234/678",
        ] {
            assert!(parse_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn entries_appear_whole_and_are_listed_loaded_locked_and_discarded() {
        let tmp = tempfile::tempdir().expect("tmp");
        let q = Quarantine::of(&tmp.path().join("arc"));
        assert!(q.list().expect("empty").entries.is_empty());
        for name in ["pkg.zip", "pkg"] {
            let dest = tmp.path().join("out").join(name);
            let mut r = record();
            r.destination = dest.clone();
            let e = admit(&q, &dest, r).expect("admit");
            assert!(e.package_path().exists(), "{name}");
            let files = files_of(&e);
            let names: Vec<&str> = files.keys().map(String::as_str).collect();
            assert_eq!(
                names,
                [
                    "a/1.dcm",
                    "a/2.dcm",
                    "b/3.dcm",
                    "manifest.csv",
                    "manifest.json"
                ],
                "{name}: complete, the held-back file and the manifest included"
            );
            assert_eq!(files["a/2.dcm"], b"two");
            if name.ends_with(".zip") {
                let z =
                    zip::ZipArchive::new(File::open(e.package_path()).expect("open")).expect("zip");
                let order: Vec<String> = z
                    .file_names()
                    .map(|n| n.expect("name").into_owned())
                    .collect();
                assert_eq!(order[..3], ORDER, "the export's order");
            }
            let inside: Vec<String> = fs::read_dir(&e.path)
                .expect("ls")
                .map(|d| d.expect("entry").file_name().to_string_lossy().into_owned())
                .collect();
            assert_eq!(inside.len(), 2, "record and package only: {inside:?}");
            assert_eq!(e.record.kind, PackageKind::for_destination(&dest));
            assert_eq!(e.record.format, RECORD_FORMAT);
            assert!(e.record.destination.is_absolute());
            assert!(!dest.exists(), "nothing at the destination");
            let beside: Vec<_> = fs::read_dir(tmp.path().join("out")).expect("ls").collect();
            assert!(beside.is_empty(), "no staging left beside the destination");
        }
        let listed = q.list().expect("list");
        assert_eq!(listed.entries.len(), 2);
        assert!(listed.damaged.is_empty() && listed.leftovers.is_empty());
        let id = listed.entries[0].record.id.clone();
        assert_eq!(q.load(&id).expect("load").record.id, id);

        let locked = q.lock(&id).expect("lock");
        assert!(matches!(q.lock(&id), Err(QuarantineError::Busy(_))));
        assert!(matches!(q.discard(&id), Err(QuarantineError::Busy(_))));
        q.remove(locked).expect("remove");
        assert!(matches!(q.load(&id), Err(QuarantineError::NotFound { .. })));
        assert!(matches!(
            q.discard(&id),
            Err(QuarantineError::NotFound { .. })
        ));
        assert_eq!(q.list().expect("list").entries.len(), 1);
        let names: Vec<String> = fs::read_dir(q.dir())
            .expect("ls")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 1, "nothing but the other entry: {names:?}");
    }

    #[test]
    fn half_written_entries_are_never_listed_and_are_cleaned_when_dead() {
        let tmp = tempfile::tempdir().expect("tmp");
        let q = Quarantine::of(&tmp.path().join("arc"));
        fs::create_dir_all(q.dir()).expect("mkdir");
        // A crash while assembling: the folder and its (unlocked) lock file.
        let dead = q.dir().join(".incoming-Q00000000-1");
        fs::create_dir_all(dead.join("package")).expect("mkdir");
        File::create(q.dir().join(".incoming-Q00000000-1.lock")).expect("lock file");
        // A live one: its lock is held.
        let live = q.dir().join(".incoming-Q11111111-2");
        fs::create_dir(&live).expect("mkdir");
        let held = File::create(q.dir().join(".incoming-Q11111111-2.lock")).expect("lock");
        held.lock().expect("lock");
        // A complete-looking folder without its record, and a damaged record.
        fs::create_dir(q.dir().join("Q22222222")).expect("mkdir");
        fs::create_dir(q.dir().join("Q33333333")).expect("mkdir");
        fs::write(q.dir().join("Q33333333").join(RECORD), b"{").expect("write");
        let listed = q.list().expect("list");
        assert!(listed.entries.is_empty());
        assert_eq!(listed.damaged.len(), 2);
        assert_eq!(listed.leftovers.len(), 4);
        let removed = q.clean_leftovers().expect("clean");
        assert_eq!(removed, std::slice::from_ref(&dead));
        assert!(!dead.exists() && live.exists());
        assert!(!q.dir().join(".incoming-Q00000000-1.lock").exists());
        assert_eq!(
            q.list().expect("list").leftovers.len(),
            2,
            "the live one stays"
        );
    }

    #[test]
    fn a_failed_admission_leaves_nothing() {
        let tmp = tempfile::tempdir().expect("tmp");
        // The quarantine cannot be created: a file stands where its folder would be.
        let arc = tmp.path().join("arc");
        fs::create_dir_all(&arc).expect("mkdir");
        fs::write(arc.join(QUARANTINE_DIR), b"x").expect("write");
        let dest = tmp.path().join("out").join("pkg");
        let q = Quarantine::of(&arc);
        let spool = SpoolSlot::new(&q);
        assert!(spool.add("a/2.dcm", b"two").is_err());
        assert!(
            q.admit(staged(&dest), spool, MANIFESTS, &[], record())
                .is_err()
        );
        let beside: Vec<_> = fs::read_dir(tmp.path().join("out")).expect("ls").collect();
        assert!(beside.is_empty(), "the staged package is removed");
    }
}
