//! What a quarantine entry is and records (its ID, its record, the entry on disk, a locked
//! entry), the quarantine's errors, and the file operations its steps share (locks, syncs,
//! removal).

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::findings::{FindingRecord, Sealed, Tally, tally};
use crate::manifest::{Counts, Manifest};
use crate::package::{PackageError, PackageKind, rand_suffix};

/// The quarantine's folder in the archive.
pub const QUARANTINE_DIR: &str = "quarantine";
/// The record of an entry.
pub const RECORD: &str = "quarantine.json";
/// Format tag of a record.
pub const RECORD_FORMAT: &str = "depot-quarantine/1";

pub(super) const INCOMING: &str = ".incoming-";
pub(super) const REMOVING: &str = ".removing-";
/// Crockford's base 32 (no I, L, O, U).
pub(super) const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
pub(super) const ID_CHARS: usize = 8;

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
    /// SHA-256 of the package's `manifest.json`, which lists every file's checksum: the
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
    /// The record of a package with `manifest`, sealed as `sealed` and encoded as `json` (ID
    /// and time are given when the entry is written, see [`Quarantine::admit`]).
    pub fn new(
        manifest: &Manifest,
        sealed: &Sealed,
        package_digest: String,
        info: QuarantineInfo<'_>,
    ) -> QuarantineRecord {
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
            package_digest,
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
    pub(super) entry: Entry,
    pub(super) _lock: File,
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
    pub(super) dir: PathBuf,
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
pub(super) fn same_file(f: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (f.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
pub(super) fn same_file(_f: &File, path: &Path) -> bool {
    path.exists()
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), QuarantineError> {
    archive::store::fsync_dir(dir).map_err(io("cannot sync", dir))
}

/// Takes the exclusive lock of `path` if no one holds it; `None` if someone does.
pub(super) fn try_lock(path: &Path) -> Result<Option<File>, QuarantineError> {
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
