//! The depot archive: ingestion of DICOM dumps into a storage tree with an exact per-instance
//! SQLite index.
//!
//! An archive is a folder holding `index.sqlite` and a `store/` of original files, each kept
//! byte for byte under a path made only of archive codes and numbers
//! (`store/S0421KTX/1/3/<content_hash>.dcm`). Subjects, studies, series and instances are grouped
//! exactly by PatientID (+ issuer, within a project), StudyInstanceUID, SeriesInstanceUID and
//! SOPInstanceUID ([`grouping`]); duplicates are recognised by SOPInstanceUID and content hash
//! ([`content_hash`]: BLAKE3, or SHA-256 in archives created before depot recorded it),
//! conflicts are kept apart and never overwrite, bad files are recorded with their reason.
//!
//! ```no_run
//! use archive::{Archive, Filter, ImportOptions, NoObserver};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let archive = Archive::open("depot-archive".as_ref())?;
//! let summary = archive.import(&["dump/".into()], &ImportOptions::default(), &NoObserver)?;
//! println!("{} imported, {} rejected", summary.imported, summary.rejected);
//! for study in archive.studies(&Filter::default())? {
//!     println!("{}/{} {}", study.subject, study.study_number, study.study_uid);
//! }
//! # Ok(()) }
//! ```
//!
//! The design of locking, crash safety and concurrency is written down in [`db`]; the folder
//! layout in [`layout`], crash-safe writes in [`store`] and [`recovery`].

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod content_hash;
pub mod db;
pub mod error;
pub mod flusher;
pub mod grouping;
pub mod import;
pub mod intake;
pub mod layout;
pub mod memory;
pub mod reading;
pub mod records;
pub mod recovery;
pub mod scan;
pub mod secret;
pub mod store;
pub mod text;
pub mod zip_entries;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

pub use content_hash::{ContentHasher, HashAlgorithm};
pub use error::{FactsError, ImportError, IntakeError, OpenError, QueryError};
pub use grouping::{HeaderFacts, SubjectKey};
pub use import::{FileOutcome, ImportObserver, ImportOptions, ImportSummary, NoObserver, Outcome};
pub use intake::{Expected, Intake, IntakeOptions, Spool};
pub use records::{
    Filter, InstanceRecord, NaiveDate, RejectKind, RejectRecord, RunRecord, SeriesRecord,
    StudyRecord, SubjectRecord, parse_date,
};
pub use text::{escape_bytes, escape_controls, escape_text, path_text};

use db::Db;

/// The error of opening the index at `index`.
fn open_error(index: &Path, e: db::MigrateError) -> OpenError {
    match e {
        db::MigrateError::Sql(source) => OpenError::Db {
            path: index.to_path_buf(),
            op: "opening and migrating",
            source,
        },
        db::MigrateError::Newer { found, known } => OpenError::NewerSchema {
            path: index.to_path_buf(),
            found,
            known,
        },
    }
}

/// The content hash algorithm the index at `index` records.
fn content_hash_of(index: &Path, db: &Db) -> Result<HashAlgorithm, OpenError> {
    db.content_hash().map_err(|source| OpenError::ContentHash {
        path: index.to_path_buf(),
        source,
    })
}

/// An open archive: its root folder and its index.
#[derive(Debug)]
pub struct Archive {
    root: PathBuf,
    db: Mutex<Db>,
    /// The content hash algorithm its index records.
    hash: HashAlgorithm,
}

/// The archive root as an absolute path (without resolving symlinks), so that every path the
/// archive reports is absolute.
fn absolute_root(root: &Path) -> Result<PathBuf, OpenError> {
    std::path::absolute(root).map_err(|source| OpenError::Folder {
        path: root.to_path_buf(),
        source,
    })
}

impl Archive {
    /// Opens the archive at `root`, creating it if the folder is missing or empty, migrating its
    /// index, and cleaning up after interrupted imports. A non-empty folder without an index is
    /// refused (it is probably not meant to be an archive).
    pub fn open(root: &Path) -> Result<Archive, OpenError> {
        let root = &absolute_root(root)?;
        let folder = |path: &Path, source: io::Error| OpenError::Folder {
            path: path.to_path_buf(),
            source,
        };
        match fs::metadata(root) {
            Ok(m) if !m.is_dir() => {
                return Err(OpenError::NotAFolder {
                    path: root.to_path_buf(),
                });
            }
            Ok(_) => {
                let index = layout::index_path(root);
                let empty = fs::read_dir(root)
                    .map_err(|e| folder(root, e))?
                    .next()
                    .is_none();
                if !index.exists() && !empty {
                    return Err(OpenError::NotAnArchive {
                        path: root.to_path_buf(),
                    });
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(root).map_err(|e| folder(root, e))?;
            }
            Err(e) => return Err(folder(root, e)),
        }
        Archive::open_index(root)
    }

    /// Opens an existing archive; never creates one (for commands that read the archive and may
    /// write to it, such as export).
    pub fn open_existing(root: &Path) -> Result<Archive, OpenError> {
        let root = &absolute_root(root)?;
        if !layout::index_path(root).is_file() {
            return Err(OpenError::Missing {
                path: root.to_path_buf(),
            });
        }
        Archive::open_index(root)
    }

    /// Opens an existing archive for reading only (queries): its index on a read-only
    /// connection, no folder created, no cleanup after interrupted imports, so that a user who
    /// may read the archive but not write to it can query it. Only when the index is older than
    /// this build and must be migrated first is it opened as [`Archive::open_existing`] does.
    /// Importing into an archive opened this way fails (the index refuses writes).
    pub fn open_read_only(root: &Path) -> Result<Archive, OpenError> {
        let root = &absolute_root(root)?;
        let index = layout::index_path(root);
        if !index.is_file() {
            return Err(OpenError::Missing {
                path: root.to_path_buf(),
            });
        }
        match Db::open_read_only(&index) {
            Ok(db::ReadOnly::Ready(db)) => Ok(Archive {
                root: root.to_path_buf(),
                hash: content_hash_of(&index, &db)?,
                db: Mutex::new(db),
            }),
            Ok(db::ReadOnly::NeedsMigration) => Archive::open_index(root),
            Err(e) => Err(open_error(&index, e)),
        }
    }

    fn open_index(root: &Path) -> Result<Archive, OpenError> {
        let index = layout::index_path(root);
        let mut db = Db::open(&index).map_err(|e| open_error(&index, e))?;
        for sub in [layout::STORE_DIR, layout::CONFLICTS_DIR, layout::TMP_DIR] {
            let dir = root.join(sub);
            fs::create_dir_all(&dir).map_err(|source| OpenError::Folder { path: dir, source })?;
        }
        recovery::recover(root, &mut db)?;
        Ok(Archive {
            root: root.to_path_buf(),
            hash: content_hash_of(&index, &db)?,
            db: Mutex::new(db),
        })
    }

    /// The archive's root folder (absolute).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The algorithm of the archive's content hashes (stored file names, the index's
    /// `content_hash` of instances, rejects and conflicts): BLAKE3, or SHA-256 for an archive
    /// that held files before depot recorded its algorithm.
    pub fn content_hash(&self) -> HashAlgorithm {
        self.hash
    }

    fn db(&self) -> MutexGuard<'_, Db> {
        // A poisoned lock only means another thread panicked mid-call; the connection itself
        // is still consistent (SQLite rolls back unfinished transactions).
        self.db
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Imports files, folders (walked recursively) and `.zip` dumps. Per-file problems are
    /// reported to `observer` and recorded, not returned: the run goes on. Errors are fatal
    /// (missing input, disk full, index failure).
    pub fn import(
        &self,
        inputs: &[PathBuf],
        opts: &ImportOptions,
        observer: &dyn ImportObserver,
    ) -> Result<ImportSummary, ImportError> {
        let mut db = self.db();
        import::run(&self.root, &mut db, self.hash, inputs, opts, observer)
    }

    /// Opens an [`Intake`]: an import run that files single files as they arrive (a DICOM
    /// receiver's way in), with the same rules and outcomes as [`Archive::import`]. Warnings
    /// and outcomes are also reported to `observer`.
    pub fn intake(
        &self,
        opts: &IntakeOptions,
        observer: std::sync::Arc<dyn ImportObserver + Send + Sync>,
    ) -> Result<Intake, ImportError> {
        Intake::open(&self.root, self.hash, opts, observer)
    }

    /// Subjects matching the filter.
    pub fn subjects(&self, f: &Filter) -> Result<Vec<SubjectRecord>, QueryError> {
        self.db().subjects(f).map_err(|source| QueryError::Db {
            op: "listing subjects",
            source,
        })
    }

    /// Studies matching the filter.
    pub fn studies(&self, f: &Filter) -> Result<Vec<StudyRecord>, QueryError> {
        self.db()
            .studies(f, &self.root)
            .map_err(|source| QueryError::Db {
                op: "listing studies",
                source,
            })
    }

    /// Series matching the filter.
    pub fn series(&self, f: &Filter) -> Result<Vec<SeriesRecord>, QueryError> {
        self.db()
            .series(f, &self.root)
            .map_err(|source| QueryError::Db {
                op: "listing series",
                source,
            })
    }

    /// Instances matching the filter, with absolute stored paths, hashes and sizes.
    pub fn instances(&self, f: &Filter) -> Result<Vec<InstanceRecord>, QueryError> {
        self.db()
            .instances(f, &self.root, self.hash)
            .map_err(|source| QueryError::Db {
                op: "listing instances",
                source,
            })
    }

    /// How many instances [`Archive::instances`] would list now.
    pub fn count_instances(&self, f: &Filter) -> Result<u64, QueryError> {
        self.db()
            .count_instances(f)
            .map_err(|source| QueryError::Db {
                op: "counting instances",
                source,
            })
    }

    /// [`Archive::instances`] one at a time, in the same order: a caller keeping only part of
    /// each record never holds them all. The index is held while `visit` runs: `visit` must not
    /// call the archive (it would wait for itself).
    pub fn each_instance(
        &self,
        f: &Filter,
        visit: impl FnMut(InstanceRecord),
    ) -> Result<(), QueryError> {
        self.db()
            .each_instance(f, &self.root, self.hash, visit)
            .map_err(|source| QueryError::Db {
                op: "listing instances",
                source,
            })
    }

    /// Import runs, oldest first (only `project` and `run` of the filter apply): counts,
    /// inputs, errors, and whether the run stored de-identified files.
    pub fn runs(&self, f: &Filter) -> Result<Vec<RunRecord>, QueryError> {
        self.db().runs(f).map_err(|source| QueryError::Db {
            op: "listing import runs",
            source,
        })
    }

    /// Rejected and conflicting files (only `project` and `run` of the filter apply).
    pub fn rejects(&self, f: &Filter) -> Result<Vec<RejectRecord>, QueryError> {
        self.db()
            .rejects(f, &self.root, self.hash)
            .map_err(|source| QueryError::Db {
                op: "listing rejects",
                source,
            })
    }

    /// The archive's secret `name` (32 random bytes, created on first use under
    /// `<root>/keys/<name>.key`, mode 0600). Never print it.
    pub fn secret(&self, name: &str) -> Result<[u8; 32], OpenError> {
        secret::secret(&self.root, name)
    }

    /// Checks the store against the index: every indexed file (instances and conflicts) exists
    /// with its hash, and no file below `store/` or `conflicts/` is unindexed. Returns the
    /// problems found, one line each (empty when consistent). Reads every stored file.
    pub fn verify(&self) -> Result<Vec<String>, QueryError> {
        let files = self.db().stored_files().map_err(|source| QueryError::Db {
            op: "listing stored files",
            source,
        })?;
        let mut problems = Vec::new();
        let mut indexed = std::collections::BTreeSet::new();
        for (rel, sha) in files {
            let path = self.root.join(&rel);
            match fs::read(&path) {
                Ok(bytes) => {
                    let actual = self.hash.hex(&bytes);
                    if actual != sha {
                        problems.push(format!(
                            "{rel}: content hash ({}) {actual} differs from the index ({sha})",
                            self.hash
                        ));
                    }
                }
                Err(e) => problems.push(format!("{rel}: indexed but unreadable: {e}")),
            }
            indexed.insert(path);
        }
        for area in [layout::STORE_DIR, layout::CONFLICTS_DIR] {
            for entry in walkdir::WalkDir::new(self.root.join(area)) {
                match entry {
                    Ok(e) if e.file_type().is_file() && !indexed.contains(e.path()) => {
                        problems.push(format!("{}: stored but not indexed", path_text(e.path())));
                    }
                    Ok(_) => {}
                    Err(e) => problems.push(format!("cannot walk the store: {e}")),
                }
            }
        }
        Ok(problems)
    }
}
