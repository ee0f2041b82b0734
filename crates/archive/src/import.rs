//! Importing dumps: a streaming pipeline that reads each input file once, parses its header,
//! hashes it, stages it, and files it in batches.
//!
//! ```text
//! discovery (1 thread)  --jobs (bounded)-->  workers (N threads)  --prepared (bounded)-->  committer (caller's thread)
//! walk folders, stream      read file into a buffer, SHA-256 it,         one BEGIN IMMEDIATE per batch: dedupe,
//! zip entries, report       scan every element length against the       place (subject/study/series), record
//! unreadable paths          file size (truncation, hostile lengths),     rejects, rename staged files into the
//!                           parse the header, check the keys, pre-check  store, fsync folders, COMMIT, report
//!                           duplicates, stage + fsync
//! ```
//!
//! Memory stays bounded whatever the dump's size: the channels are bounded, a worker holds one
//! file at a time, files above [`IN_MEMORY_LIMIT`] are streamed (and parsed one at a time), and
//! batches carry only header facts. A file is reported as imported only after its batch
//! committed durably, so a killed import loses nothing it reported, and re-running it completes
//! it (already archived files come back as duplicates).
//!
//! Every file the walk finds and every zip entry is accounted for: imported, a duplicate, a
//! conflict, rejected with a reason, or (DICOMDIRs) skipped. Files are named by their absolute
//! path as text ([`path_text`]: bytes that are not UTF-8 and control characters escaped), so the
//! same file imported from another folder or through another spelling of its path is recognised,
//! and no name can drive a terminal.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dicom_dictionary_std::tags;
use dicom_object::OpenFileOptions;
use dicom_object::file::ReadPreamble;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::{Db, Placement, RejectRow, RunCounts};
use crate::error::ImportError;
use crate::grouping::HeaderFacts;
use crate::layout;
use crate::reading::HeaderSource;
use crate::records::RejectKind;
use crate::store::{self, RunDir};
use crate::zip_entries::{self, ZipEntries};

pub use crate::text::{escape_bytes, escape_controls, escape_text, path_text};

/// Files up to this size are read into memory once; bigger ones are parsed from disk and
/// streamed into the store (one at a time, to bound memory).
pub const IN_MEMORY_LIMIT: u64 = 8 * 1024 * 1024;

pub use crate::zip_entries::MAX_ZIP_ENTRY;

/// The most worker threads an import starts ([`ImportOptions::workers`] above it is capped).
pub const MAX_WORKERS: usize = 256;

/// The most files per batch ([`ImportOptions::batch_files`] above it is capped).
pub const MAX_BATCH_FILES: usize = 100_000;

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Project to file subjects in (created if new).
    pub project: String,
    /// Worker threads; 0 picks a default from the number of CPUs; at most [`MAX_WORKERS`].
    pub workers: usize,
    /// Most files per index transaction (1 to [`MAX_BATCH_FILES`]).
    pub batch_files: usize,
    /// Longest time a file waits for its batch to commit.
    pub batch_interval: Duration,
    /// Fsync staged files and folders before committing (the default). Turning it off is only
    /// for measuring what durability costs: a power cut could then lose files the index lists.
    pub durable: bool,
}

impl Default for ImportOptions {
    fn default() -> ImportOptions {
        ImportOptions {
            project: "default".to_string(),
            workers: 0,
            batch_files: 500,
            batch_interval: Duration::from_millis(500),
            durable: true,
        }
    }
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Stored and indexed.
    Imported {
        /// Subject archive code.
        subject: String,
        /// Study number.
        study_number: i64,
        /// Series label.
        series_label: String,
    },
    /// Same SOPInstanceUID and same bytes as an archived instance: not stored again.
    Duplicate,
    /// Contradicts the archive; kept apart under `conflicts/`.
    Conflict {
        /// Why.
        reason: String,
    },
    /// Not archived.
    Rejected {
        /// Why.
        reason: String,
    },
    /// Passed over on purpose: not an instance, and nothing is lost by not archiving it (a
    /// DICOMDIR, the index of a medium whose instances are imported from their own files).
    Skipped {
        /// Why.
        reason: String,
    },
}

/// One file's outcome, as reported to the observer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileOutcome {
    /// The file: its absolute path as text ([`path_text`]); `/abs/dump.zip!/inner/path` for zip
    /// entries.
    pub source: String,
    /// Its size in bytes (0 when unreadable).
    pub bytes: u64,
    /// What happened.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// Receives progress from an import. Called from several threads; every method has a default
/// that ignores the event.
pub trait ImportObserver: Sync {
    /// `files` more input files were found.
    fn discovered(&self, files: u64) {
        let _ = files;
    }
    /// A file is done (after its batch committed).
    fn file_done(&self, outcome: &FileOutcome) {
        let _ = outcome;
    }
    /// Something was done on purpose that a human should know about.
    fn warning(&self, source: &str, message: &str) {
        let _ = (source, message);
    }
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl ImportObserver for NoObserver {}

/// The totals of an import run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportSummary {
    /// The run's id (see `query rejects`, `query instances --run`).
    pub run_id: i64,
    /// The project.
    pub project: String,
    /// Files seen (every file and zip entry, including rejected ones).
    pub files_seen: u64,
    /// Instances stored.
    pub imported: u64,
    /// Files identical to an archived instance.
    pub duplicates: u64,
    /// Files kept apart as conflicts.
    pub conflicts: u64,
    /// Files rejected.
    pub rejected: u64,
    /// Files passed over on purpose (DICOMDIRs).
    pub skipped: u64,
    /// Warnings raised.
    pub warnings: u64,
    /// Bytes of all files seen.
    pub bytes_seen: u64,
    /// Bytes stored.
    pub bytes_imported: u64,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Files seen per second.
    pub files_per_second: f64,
}

impl ImportSummary {
    /// True when every file was imported, a duplicate or skipped (exit code 0).
    pub fn is_clean(&self) -> bool {
        self.conflicts == 0 && self.rejected == 0
    }
}

/// A unit of work for the workers.
enum Job {
    /// A file on disk; `spooled` files are our own temporary copies of large zip entries.
    File {
        path: PathBuf,
        source: String,
        spooled: bool,
    },
    /// An in-memory zip entry.
    Bytes { source: String, data: Vec<u8> },
}

/// Why a file is not filed: rejected (recorded, exit code 1) or passed over (counted only).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refusal {
    Rejected(String),
    Skipped(String),
}

impl From<String> for Refusal {
    fn from(reason: String) -> Refusal {
        Refusal::Rejected(reason)
    }
}

/// A worker's result, for the committer.
pub(crate) enum Prepared {
    /// A readable DICOM file with usable keys, staged at `temp` (None when the pre-check found
    /// the very same instance archived).
    Candidate {
        source: String,
        facts: Box<HeaderFacts>,
        sha256: String,
        size: u64,
        temp: Option<PathBuf>,
    },
    /// Not usable.
    Rejected {
        source: String,
        reason: String,
        sha256: Option<String>,
        size: Option<u64>,
    },
    /// Passed over on purpose (a DICOMDIR).
    Skipped {
        source: String,
        reason: String,
        size: u64,
    },
}

impl Ctx<'_> {
    /// Whether workers fsync each staged file (when the batch cannot be flushed at once, or
    /// when the caller stages files one by one, see [`Ctx::sync_each_file`]).
    fn fsync_each_file(&self) -> bool {
        self.opts.durable && (self.sync_each_file || !store::CAN_SYNC_FILESYSTEM)
    }

    /// Whether the committer flushes the whole file system before renaming a batch.
    fn sync_batch(&self) -> bool {
        self.opts.durable && store::CAN_SYNC_FILESYSTEM && !self.sync_each_file
    }
}

pub(crate) struct Ctx<'a> {
    pub(crate) root: &'a Path,
    /// The run's project: an archived instance is a duplicate only within it.
    pub(crate) project_id: i64,
    pub(crate) index: PathBuf,
    pub(crate) run_dir: &'a RunDir,
    pub(crate) opts: &'a ImportOptions,
    /// `opts.batch_files`, within 1 to [`MAX_BATCH_FILES`].
    pub(crate) batch_files: usize,
    pub(crate) observer: &'a dyn ImportObserver,
    /// Canonical archive root, skipped when walking inputs.
    pub(crate) skip: Option<PathBuf>,
    /// Serialises the parsing of big files.
    pub(crate) big_file: Mutex<()>,
    /// Stage each file durably on its own (fsync by the thread that prepared it) instead of
    /// flushing the file system once per batch: for callers filing files one at a time as they
    /// arrive (see [`crate::intake`]), where a batch holds few files and `syncfs` would also
    /// wait for every other writer of the disk.
    pub(crate) sync_each_file: bool,
}

/// Runs an import into the archive at `root` whose index is `db` (see [`crate::Archive::import`]).
pub(crate) fn run(
    root: &Path,
    db: &mut Db,
    inputs: &[PathBuf],
    opts: &ImportOptions,
    observer: &dyn ImportObserver,
) -> Result<ImportSummary, ImportError> {
    let started = Instant::now();
    if inputs.is_empty() {
        return Err(ImportError::NoInputs);
    }
    if opts.project.trim().is_empty() || opts.project.chars().any(char::is_control) {
        return Err(ImportError::ProjectName {
            name: opts.project.clone(),
        });
    }
    let mut absolute = Vec::with_capacity(inputs.len());
    for input in inputs {
        let missing = |source| ImportError::InputMissing {
            path: input.clone(),
            source,
        };
        fs::metadata(input).map_err(missing)?;
        absolute.push(absolute_input(input).map_err(missing)?);
    }
    let inputs = absolute.as_slice();
    let inputs_json =
        serde_json::to_string(&inputs.iter().map(|p| path_text(p)).collect::<Vec<_>>())
            .unwrap_or_else(|_| "[]".to_string());
    let (project_id, run_id) = db
        .start_run(&opts.project, &inputs_json)
        .map_err(|source| ImportError::Db {
            op: "starting an import run",
            source,
        })?;
    let mut tally = Tally::default();
    let outcome = run_batches(
        root, db, inputs, opts, observer, project_id, run_id, &mut tally,
    );
    // The run row records what its committed batches filed, even when a fatal error stopped it.
    let error = outcome.as_ref().err().map(|e| error_chain(e));
    let finished = db.finish_run(run_id, &tally.counts, error.as_deref());
    outcome?;
    finished.map_err(|source| ImportError::Db {
        op: "finishing the import run",
        source,
    })?;
    let counts = tally.counts;
    let seconds = started.elapsed().as_secs_f64();
    Ok(ImportSummary {
        run_id,
        project: opts.project.clone(),
        files_seen: counts.files_seen,
        imported: counts.imported,
        duplicates: counts.duplicates,
        conflicts: counts.conflicts,
        rejected: counts.rejected,
        skipped: counts.skipped,
        warnings: tally.warnings,
        bytes_seen: tally.bytes_seen,
        bytes_imported: counts.bytes_imported,
        seconds,
        files_per_second: if seconds > 0.0 {
            counts.files_seen as f64 / seconds
        } else {
            0.0
        },
    })
}

/// What the committed batches of a run filed.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub(crate) counts: RunCounts,
    pub(crate) warnings: u64,
    pub(crate) bytes_seen: u64,
}

/// An error and its causes on one line (for the run's row).
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cur = e.source();
    }
    text
}

/// The pipeline of one run: walker, workers and committer, until every input is filed or a fatal
/// error stops it. `tally` holds what was committed either way.
#[allow(clippy::too_many_arguments)]
fn run_batches(
    root: &Path,
    db: &mut Db,
    inputs: &[PathBuf],
    opts: &ImportOptions,
    observer: &dyn ImportObserver,
    project_id: i64,
    run_id: i64,
    tally: &mut Tally,
) -> Result<(), ImportError> {
    let run_dir = RunDir::create(root).map_err(|source| ImportError::Write {
        path: root.join(layout::TMP_DIR),
        source,
    })?;
    let workers = if opts.workers > 0 {
        opts.workers.min(MAX_WORKERS)
    } else {
        // Two per CPU: a worker that waits for a read leaves its CPU to another. More buy
        // nothing since files are made durable per batch rather than one by one, and each
        // worker thread keeps the memory of the last header it parsed for the next one.
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        (cpus * 2).clamp(4, 16)
    };
    let batch_files = opts.batch_files.clamp(1, MAX_BATCH_FILES);
    let ctx = Ctx {
        root,
        project_id,
        index: layout::index_path(root),
        run_dir: &run_dir,
        opts,
        batch_files,
        observer,
        skip: root.canonicalize().ok(),
        big_file: Mutex::new(()),
        sync_each_file: false,
    };

    let (job_tx, job_rx) = sync_channel::<Job>(workers * 2);
    let (res_tx, res_rx) = sync_channel::<Prepared>(batch_files * 2);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let mut committer = Committer {
        ctx: &ctx,
        db,
        run_id,
        project_id,
        tally,
    };

    // Staged files start reaching the disk while the workers go on (see `flusher`).
    let _flusher = opts
        .durable
        .then(|| crate::flusher::Flusher::start(run_dir.path()));
    std::thread::scope(|s| {
        let discovery = {
            let res_tx = res_tx.clone();
            let ctx = &ctx;
            std::thread::Builder::new()
                .name("depot-import-walk".into())
                .spawn_scoped(s, move || discover(ctx, inputs, &job_tx, &res_tx))
        };
        let mut handles = Vec::new();
        let mut spawn_error = None;
        for _ in 0..workers {
            let job_rx = Arc::clone(&job_rx);
            let res_tx = res_tx.clone();
            let ctx = &ctx;
            match std::thread::Builder::new()
                .name("depot-import-worker".into())
                .spawn_scoped(s, move || worker(ctx, &job_rx, &res_tx))
            {
                Ok(h) => handles.push(h),
                // Fewer workers than asked for still import everything; none cannot.
                Err(e) => {
                    spawn_error = Some(e);
                    break;
                }
            }
        }
        // Only the workers may keep the job queue open: when they stop (after a fatal error),
        // the walker's sends fail and it stops too.
        drop(job_rx);
        drop(res_tx);
        let committed = committer.run(&res_rx);
        // On a fatal error, stop the producers: dropping the receiver makes their sends fail.
        drop(res_rx);
        let (mut died, discovery_error) = match discovery {
            Ok(h) => (h.join().is_err(), None),
            Err(e) => (false, Some(e)),
        };
        let no_worker = handles.is_empty();
        for h in handles {
            died |= h.join().is_err();
        }
        committed?;
        let thread_error = discovery_error.or(spawn_error.filter(|_| no_worker));
        if let Some(source) = thread_error {
            return Err(ImportError::Threads { source });
        }
        if died {
            Err(ImportError::WorkerDied)
        } else {
            Ok(())
        }
    })
}

/// An input path made absolute without resolving symlinks inside it (the names stay the ones
/// the user sees). A path with `..` in it is resolved against the real folders instead, since
/// `a/link/..` need not be `a`.
fn absolute_input(p: &Path) -> io::Result<PathBuf> {
    let abs = std::path::absolute(p)?;
    if abs.components().any(|c| matches!(c, Component::ParentDir)) {
        fs::canonicalize(p)
    } else {
        Ok(abs)
    }
}

/// Walks the inputs and feeds the workers. Unreadable paths and files that are not regular files
/// (fifos, sockets, devices) go straight to the committer, without being opened: opening a fifo
/// for reading would wait for a writer forever.
fn discover(
    ctx: &Ctx<'_>,
    inputs: &[PathBuf],
    jobs: &SyncSender<Job>,
    results: &SyncSender<Prepared>,
) {
    let reject = |source: String, reason: String| {
        ctx.observer.discovered(1);
        results
            .send(Prepared::Rejected {
                source,
                reason,
                sha256: None,
                size: None,
            })
            .is_ok()
    };
    for input in inputs {
        let ok = match fs::metadata(input) {
            Err(e) => reject(path_text(input), format!("cannot read: {e}")),
            Ok(m) if m.is_dir() => walk(ctx, input, jobs, results, &reject),
            Ok(m) if m.is_file() => feed_file(ctx, input, sniff_zip(input), jobs, results),
            Ok(m) => reject(path_text(input), not_regular(&m.file_type())),
        };
        if !ok {
            return;
        }
    }
}

/// Walks one input folder. Returns false when the pipeline is shutting down.
fn walk(
    ctx: &Ctx<'_>,
    input: &Path,
    jobs: &SyncSender<Job>,
    results: &SyncSender<Prepared>,
    reject: &dyn Fn(String, String) -> bool,
) -> bool {
    let walker = walkdir::WalkDir::new(input)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            // Never import the archive into itself (`depot import .` next to ./depot-archive).
            !(e.file_type().is_dir()
                && ctx.skip.is_some()
                && e.path().canonicalize().ok().as_deref() == ctx.skip.as_deref())
        });
    for entry in walker {
        let ok = match entry {
            Err(e) => {
                let path = e.path().map(path_text).unwrap_or_else(|| path_text(input));
                reject(path, format!("cannot read: {e}"))
            }
            Ok(e) if e.file_type().is_dir() => true,
            Ok(e) if !e.file_type().is_file() => {
                reject(path_text(e.path()), not_regular(&e.file_type()))
            }
            Ok(e) if is_package_manifest(e.path()) => true,
            Ok(e) => {
                let zip = has_zip_name(e.path()) && sniff_zip(e.path());
                feed_file(ctx, e.path(), zip, jobs, results)
            }
        };
        if !ok {
            return false;
        }
    }
    true
}

/// The reason a file that is not a regular file is refused, naming its kind.
fn not_regular(t: &fs::FileType) -> String {
    #[cfg(unix)]
    let kind = {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            "a fifo or pipe"
        } else if t.is_socket() {
            "a socket"
        } else if t.is_block_device() {
            "a block device"
        } else if t.is_char_device() {
            "a character device"
        } else {
            "of an unknown kind"
        }
    };
    #[cfg(not(unix))]
    let kind = {
        let _ = t;
        "of an unknown kind"
    };
    format!("not a regular file ({kind}): not opened, not archived")
}

/// Whether `path` is the `manifest.json` or `manifest.csv` of a depot package (a folder whose
/// `manifest.json` declares `depot-package/1`). Re-importing a package is a normal way to check
/// it; its manifests are not DICOM and are passed over rather than rejected.
fn is_package_manifest(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str());
    if !matches!(name, Some("manifest.json" | "manifest.csv")) {
        return false;
    }
    let Some(dir) = path.parent() else {
        return false;
    };
    let mut head = Vec::new();
    match File::open(dir.join("manifest.json")) {
        Ok(f) => {
            let _ = f.take(4096).read_to_end(&mut head);
        }
        Err(_) => return false,
    }
    is_package_manifest_text(&head)
}

/// The start of a depot package manifest (`"format": "depot-package/1"` near the top).
fn is_package_manifest_text(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    text.trim_start().starts_with('{') && text.contains("\"depot-package/1\"")
}

/// Sends one file (or a zip's entries). Returns false when the pipeline is shutting down.
fn feed_file(
    ctx: &Ctx<'_>,
    path: &Path,
    zip: bool,
    jobs: &SyncSender<Job>,
    results: &SyncSender<Prepared>,
) -> bool {
    if zip {
        return feed_zip(ctx, path, jobs, results);
    }
    ctx.observer.discovered(1);
    jobs.send(Job::File {
        path: path.to_path_buf(),
        source: path_text(path),
        spooled: false,
    })
    .is_ok()
}

fn has_zip_name(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
}

/// Whether the file is a zip archive: it starts like one, or it is named `*.zip` and has a
/// central directory (a self-extracting stub or a spanning marker before the first entry).
fn sniff_zip(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    let starts_like_zip = File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && (magic == *b"PK\x03\x04" || magic == *b"PK\x05\x06");
    starts_like_zip || (has_zip_name(path) && zip_entries::is_zip(path))
}

/// Streams a zip's entries to the workers: small ones in memory, big ones spooled to the run's
/// temporary folder. Entry names are only ever used in messages (`dump.zip!/inner/path`).
///
/// Every entry of the central directory is read, in its order, those hidden behind a later
/// entry of the same name included ([`ZipEntries`]). Entries named like folders (`name/`) are
/// passed over only when they hold no data.
fn feed_zip(
    ctx: &Ctx<'_>,
    path: &Path,
    jobs: &SyncSender<Job>,
    results: &SyncSender<Prepared>,
) -> bool {
    let zip_name = path_text(path);
    let reject = |source: String, reason: String, size: Option<u64>| {
        ctx.observer.discovered(1);
        results
            .send(Prepared::Rejected {
                source,
                reason,
                sha256: None,
                size,
            })
            .is_ok()
    };
    let mut zip = match ZipEntries::open(path) {
        Ok(z) => z,
        Err(e) => return reject(zip_name, format!("cannot read zip archive: {e}"), None),
    };
    let zip_is_package = zip.find("manifest.json").is_some_and(|position| {
        let mut head = Vec::new();
        if let Ok(mut m) = zip.data(position, MAX_ZIP_ENTRY) {
            let _ = (&mut m).take(4096).read_to_end(&mut head);
        }
        is_package_manifest_text(&head)
    });
    if zip.has_duplicate_names()
        && let Some(e) = zip.incomplete()
    {
        let reason = format!(
            "entries of this zip share names, and its central directory cannot be read to find them all ({e}): of each name only the last entry is imported, the others are lost"
        );
        if !reject(zip_name.clone(), reason, None) {
            return false;
        }
    }
    // Names (raw bytes) shared by several entries: those entries are told apart by their
    // position.
    let shared: Vec<bool> = {
        let mut name_counts: BTreeMap<&[u8], usize> = BTreeMap::new();
        for e in zip.entries() {
            *name_counts.entry(e.name_raw.as_slice()).or_default() += 1;
        }
        zip.entries()
            .iter()
            .map(|e| name_counts.get(e.name_raw.as_slice()).copied().unwrap_or(0) > 1)
            .collect()
    };
    for (position, shared) in shared.into_iter().enumerate() {
        let entry = &zip.entries()[position];
        let raw = entry.name_raw.as_slice();
        let inner = match &entry.name {
            Some(name) => escape_text(name),
            None if raw.is_empty() => format!("#{}", position + 1),
            None => escape_bytes(raw),
        };
        let source = if shared {
            format!("{zip_name}!/{inner} [entry {}]", position + 1)
        } else {
            format!("{zip_name}!/{inner}")
        };
        let size = entry.size;
        // A depot package's own manifests sit at the zip's root; they are not DICOM.
        let manifest = (raw == b"manifest.json" || raw == b"manifest.csv") && zip_is_package;
        let pass_over = (entry.is_folder_like() && size == 0) || manifest;
        // An entry hidden by the zip crate is read from its local header: passed over before
        // that is read; the others once opened.
        let shadowed = entry.is_shadowed();
        if pass_over && shadowed {
            continue;
        }
        let job = match zip.data(position, MAX_ZIP_ENTRY) {
            Ok(_) if pass_over => continue,
            Ok(mut data) => entry_job(ctx, source, size, &mut data),
            Err(e) => Err((
                source,
                format!("cannot read zip entry: {e}"),
                shadowed.then_some(size),
            )),
        };
        let sent = match job {
            Ok(job) => {
                ctx.observer.discovered(1);
                jobs.send(job).is_ok()
            }
            Err((source, reason, size)) => reject(source, reason, size),
        };
        if !sent {
            return false;
        }
    }
    true
}

/// Reads one zip entry (`size` as its headers claim) into a job: in memory when small, spooled
/// to the run's folder when big.
fn entry_job(
    ctx: &Ctx<'_>,
    source: String,
    size: u64,
    entry: &mut dyn Read,
) -> Result<Job, (String, String, Option<u64>)> {
    if size > MAX_ZIP_ENTRY {
        return Err((
            source,
            format!("zip entry claims {size} bytes, more than the {MAX_ZIP_ENTRY} accepted"),
            Some(size),
        ));
    }
    if size <= IN_MEMORY_LIMIT {
        let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        match entry.take(IN_MEMORY_LIMIT + 1).read_to_end(&mut data) {
            Ok(_) if data.len() as u64 <= IN_MEMORY_LIMIT => Ok(Job::Bytes { source, data }),
            Ok(_) => Err((
                source,
                "zip entry is larger than its header says (corrupt zip)".into(),
                Some(size),
            )),
            Err(e) => Err((source, format!("cannot unpack zip entry: {e}"), Some(size))),
        }
    } else {
        let spool = ctx.run_dir.temp_path("spool");
        let copied = File::create_new(&spool)
            .and_then(|mut f| io::copy(&mut entry.take(MAX_ZIP_ENTRY), &mut f));
        match copied {
            Ok(_) => Ok(Job::File {
                path: spool,
                source,
                spooled: true,
            }),
            Err(e) => {
                let _ = fs::remove_file(&spool);
                Err((source, format!("cannot unpack zip entry: {e}"), Some(size)))
            }
        }
    }
}

/// A worker: takes jobs until the channel closes.
fn worker(ctx: &Ctx<'_>, jobs: &Mutex<Receiver<Job>>, results: &SyncSender<Prepared>) {
    // The pre-check is an optimisation (the committer decides); without it every file is staged.
    let reader = Db::open_reader(&ctx.index).ok();
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let prepared = match job {
            Job::Bytes { source, data } => {
                prepare_bytes(ctx, reader.as_ref(), source, &data, Origin::ZipEntry)
            }
            Job::File {
                path,
                source,
                spooled,
            } => {
                let origin = if spooled {
                    Origin::ZipEntry
                } else {
                    Origin::File
                };
                let p = prepare_file(ctx, reader.as_ref(), &path, source, &mut buf, origin);
                if spooled {
                    let _ = fs::remove_file(&path);
                }
                p
            }
        };
        if results.send(prepared).is_err() {
            return;
        }
    }
}

/// Where a file's bytes come from (for accurate reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A file on disk.
    File,
    /// An entry of a zip archive.
    ZipEntry,
}

fn reject(source: String, reason: String, sha256: Option<String>, size: Option<u64>) -> Prepared {
    Prepared::Rejected {
        source,
        reason,
        sha256,
        size,
    }
}

/// A refused file's result for the committer.
fn refuse(source: String, refusal: Refusal, sha256: Option<String>, size: u64) -> Prepared {
    match refusal {
        Refusal::Rejected(reason) => reject(source, reason, sha256, Some(size)),
        Refusal::Skipped(reason) => Prepared::Skipped {
            source,
            reason,
            size,
        },
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Whether the pre-check finds the very same instance archived in this run's project (the same
/// instance archived in another project is a conflict, decided by the committer).
fn already_archived(ctx: &Ctx<'_>, reader: Option<&Db>, facts: &HeaderFacts, sha256: &str) -> bool {
    archived_here(ctx, reader, facts).is_some_and(|existing| existing.sha256 == sha256)
}

/// The instance archived under the file's SOPInstanceUID in this run's project, if any.
fn archived_here(
    ctx: &Ctx<'_>,
    reader: Option<&Db>,
    facts: &HeaderFacts,
) -> Option<crate::db::ExistingInstance> {
    reader
        .and_then(|db| db.find_instance(&facts.sop_uid).ok().flatten())
        .filter(|existing| existing.project_id == ctx.project_id)
}

pub(crate) fn prepare_file(
    ctx: &Ctx<'_>,
    reader: Option<&Db>,
    path: &Path,
    source: String,
    buf: &mut Vec<u8>,
    origin: Origin,
) -> Prepared {
    let opened = File::open(path).and_then(|f| f.metadata().map(|m| (f, m.len())));
    let (file, size) = match opened {
        Ok(o) => o,
        Err(e) => return reject(source, format!("cannot read: {e}"), None, None),
    };
    if size > IN_MEMORY_LIMIT {
        drop(file);
        return prepare_big_file(ctx, reader, path, source, size, origin);
    }
    // Into the buffer the worker keeps from file to file.
    buf.clear();
    buf.reserve(usize::try_from(size).unwrap_or(0).saturating_add(1));
    if let Err(e) = file.take(IN_MEMORY_LIMIT + 1).read_to_end(buf) {
        return reject(source, format!("cannot read: {e}"), None, Some(size));
    }
    if buf.len() as u64 > IN_MEMORY_LIMIT {
        // It grew while we looked; take the streaming path.
        return prepare_big_file(ctx, reader, path, source, buf.len() as u64, origin);
    }
    prepare_bytes(ctx, reader, source, buf, origin)
}

pub(crate) fn prepare_bytes(
    ctx: &Ctx<'_>,
    reader: Option<&Db>,
    source: String,
    bytes: &[u8],
    origin: Origin,
) -> Prepared {
    let size = bytes.len() as u64;
    let sha256 = sha256_hex(bytes);
    let facts = match inspect(bytes, origin) {
        Ok(f) => f,
        Err(refusal) => return refuse(source, refusal, Some(sha256), size),
    };
    if already_archived(ctx, reader, &facts, &sha256) {
        return Prepared::Candidate {
            source,
            facts: Box::new(facts),
            sha256,
            size,
            temp: None,
        };
    }
    let temp = ctx.run_dir.temp_path("part");
    if let Err(e) = store::write_new(&temp, bytes, ctx.fsync_each_file()) {
        let _ = fs::remove_file(&temp);
        return reject(
            source,
            format!("cannot stage a copy in the archive: {e}"),
            Some(sha256),
            Some(size),
        );
    }
    Prepared::Candidate {
        source,
        facts: Box::new(facts),
        sha256,
        size,
        temp: Some(temp),
    }
}

/// Checks that the bytes are a complete DICOM file and reads its header facts; the error says
/// why not (a DICOMDIR is named as such).
pub fn examine(bytes: &[u8]) -> Result<HeaderFacts, String> {
    inspect(bytes, Origin::File).map_err(|refusal| match refusal {
        Refusal::Rejected(reason) | Refusal::Skipped(reason) => reason,
    })
}

/// [`examine`], telling files to reject from files to pass over.
fn inspect(bytes: &[u8], origin: Origin) -> Result<HeaderFacts, Refusal> {
    let preamble = marker(bytes, origin)?;
    // Declared lengths first: dicom-rs allocates whatever a header declares. The scan walks
    // every element (pixel data included) against the file's size, so a file cut inside its
    // pixel data is rejected here; what dicom-rs would misread is repaired in a copy.
    let readable = crate::reading::readable(bytes, preamble == ReadPreamble::Always)
        .map_err(|e| e.to_string())?;
    // What the header parse builds (and the repaired copy, if any) comes out of the budget
    // shared by the workers, until the parsed header is dropped.
    let copy = if readable.is_copy() {
        readable.bytes.len() as u64
    } else {
        0
    };
    let _memory = crate::memory::Budget::global()
        .acquire(&readable.layout.header_cost, copy)
        .map_err(|e| e.to_string())?;
    // dicom-rs now only needs the header.
    let obj = OpenFileOptions::new()
        .read_until(tags::PIXEL_DATA)
        .read_preamble(preamble)
        .from_reader(&readable.bytes[..])
        .map_err(|e| describe_read_error(&e))?;
    facts_of(&obj)
}

/// The header facts of a parsed file, or why it is not filed.
fn facts_of(obj: &dicom_object::DefaultDicomObject) -> Result<HeaderFacts, Refusal> {
    if obj
        .meta()
        .media_storage_sop_class_uid()
        .trim_end_matches(['\0', ' '])
        == DICOMDIR_CLASS
    {
        return Err(Refusal::Skipped(DICOMDIR_REASON.into()));
    }
    HeaderFacts::from_file_object(obj).map_err(|e| Refusal::Rejected(e.to_string()))
}

/// Media Storage Directory Storage: the SOP class of a DICOMDIR.
const DICOMDIR_CLASS: &str = "1.2.840.10008.1.3.10";

/// Why a DICOMDIR is passed over.
const DICOMDIR_REASON: &str = "a DICOMDIR (the index of a DICOM medium), not an instance: skipped; the instances it lists are imported from their own files";

/// Where the `DICM` marker is: after a 128-byte preamble, or at the start (no preamble).
fn marker(head: &[u8], origin: Origin) -> Result<ReadPreamble, String> {
    if head.is_empty() {
        return Err("empty file (0 bytes)".into());
    }
    if head.get(128..132) == Some(b"DICM".as_slice()) {
        return Ok(ReadPreamble::Always);
    }
    if head.get(0..4) == Some(b"DICM".as_slice()) {
        return Ok(ReadPreamble::Never);
    }
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Err(match origin {
            Origin::ZipEntry => "a zip archive inside the zip archive: nested zip archives are not opened (unpack it and import its contents)".into(),
            Origin::File => "a zip archive, not a DICOM file (name it *.zip to import its contents)".into(),
        });
    }
    if crate::reading::raw_encoding(head).is_some() {
        return Err("not a DICOM file: a raw data set without the file meta information (no 'DICM' marker, no transfer syntax); depot archives only DICOM files with file meta information".into());
    }
    Err("not a DICOM file: no 'DICM' marker after the 128-byte preamble or at the start".into())
}

/// A one-line reason from a dicom-rs read error and its causes.
fn describe_read_error(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut truncated = false;
    let mut cur = err.source();
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            truncated |= io.kind() == io::ErrorKind::UnexpectedEof;
        }
        let s = e.to_string();
        if parts.last() != Some(&s) {
            parts.push(s);
        }
        cur = e.source();
    }
    let chain = parts.join(": ");
    let lower = chain.to_ascii_lowercase();
    if truncated || lower.contains("unexpected end") || lower.contains("eof") {
        format!("truncated or corrupt DICOM file: {chain}")
    } else {
        format!("unreadable DICOM file: {chain}")
    }
}

/// The path for files above [`IN_MEMORY_LIMIT`]: scan and parse the header from disk (one at a
/// time), then stream the bytes through the hash into a staged copy.
fn prepare_big_file(
    ctx: &Ctx<'_>,
    reader: Option<&Db>,
    path: &Path,
    source: String,
    size: u64,
    origin: Origin,
) -> Prepared {
    let mut head = Vec::with_capacity(132);
    if let Err(e) = File::open(path).and_then(|f| f.take(132).read_to_end(&mut head)) {
        return reject(source, format!("cannot read: {e}"), None, Some(size));
    }
    let preamble = match marker(&head, origin) {
        Ok(p) => p,
        Err(reason) => return reject(source, reason, None, Some(size)),
    };
    // The whole file is scanned (a file cut inside its pixel data is rejected); a header
    // that needs repairs is copied into memory and repaired there.
    let scanned =
        crate::reading::header_source(path, size, preamble == ReadPreamble::Always, false);
    let (header, layout) = match scanned {
        Ok(h) => h,
        Err(e) => return reject(source, e.to_string(), None, Some(size)),
    };
    let held = match &header {
        HeaderSource::Memory(bytes) => bytes.len() as u64,
        HeaderSource::Disk => 0,
    };
    let facts = {
        let _one_at_a_time = ctx.big_file.lock();
        let _memory = match crate::memory::Budget::global().acquire(&layout.header_cost, held) {
            Ok(permit) => permit,
            Err(e) => return reject(source, e.to_string(), None, Some(size)),
        };
        let options = OpenFileOptions::new()
            .read_until(tags::PIXEL_DATA)
            .read_preamble(preamble);
        let parsed = match header {
            HeaderSource::Disk => File::open(path)
                .map_err(|e| format!("cannot read: {e}"))
                .and_then(|f| {
                    options
                        .from_reader(BufReader::with_capacity(1 << 20, f))
                        .map_err(|e| describe_read_error(&e))
                }),
            HeaderSource::Memory(bytes) => options
                .from_reader(&bytes[..])
                .map_err(|e| describe_read_error(&e)),
        }
        .map_err(Refusal::Rejected)
        .and_then(|obj| facts_of(&obj));
        match parsed {
            Ok(f) => f,
            Err(refusal) => return refuse(source, refusal, None, size),
        }
    };
    if let Some(existing) = archived_here(ctx, reader, &facts) {
        match hash_stream(path, None) {
            Ok((sha256, n)) if sha256 == existing.sha256 => {
                return Prepared::Candidate {
                    source,
                    facts: Box::new(facts),
                    sha256,
                    size: n,
                    temp: None,
                };
            }
            Ok(_) => {}
            Err(e) => return reject(source, format!("cannot read: {e}"), None, Some(size)),
        }
    }
    let temp = ctx.run_dir.temp_path("part");
    let staged = File::create_new(&temp).and_then(|mut out| {
        let r = hash_stream(path, Some(&mut out))?;
        if ctx.fsync_each_file() {
            out.sync_data()?;
        }
        Ok(r)
    });
    match staged {
        Ok((sha256, n)) => Prepared::Candidate {
            source,
            facts: Box::new(facts),
            sha256,
            size: n,
            temp: Some(temp),
        },
        Err(e) => {
            let _ = fs::remove_file(&temp);
            reject(
                source,
                format!("cannot read or stage: {e}"),
                None,
                Some(size),
            )
        }
    }
}

/// Hashes a file, copying it to `out` on the way if given.
fn hash_stream(path: &Path, mut out: Option<&mut File>) -> io::Result<(String, u64)> {
    let mut f = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut chunk = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        let Some(data) = chunk.get(..n) else { break };
        hasher.update(data);
        if let Some(o) = out.as_deref_mut() {
            o.write_all(data)?;
        }
        total += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), total))
}

/// The single thread that owns the write side of the index.
pub(crate) struct Committer<'a, 'c> {
    pub(crate) ctx: &'a Ctx<'a>,
    pub(crate) db: &'c mut Db,
    pub(crate) run_id: i64,
    pub(crate) project_id: i64,
    /// What committed batches filed.
    pub(crate) tally: &'c mut Tally,
}

/// A staged file to move into place when the batch commits.
struct Move {
    temp: PathBuf,
    rel: String,
}

impl Committer<'_, '_> {
    fn run(&mut self, results: &Receiver<Prepared>) -> Result<(), ImportError> {
        let mut batch: Vec<Prepared> = Vec::new();
        let mut deadline = Instant::now() + self.ctx.opts.batch_interval;
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            match results.recv_timeout(wait) {
                Ok(item) => {
                    if batch.is_empty() {
                        deadline = Instant::now() + self.ctx.opts.batch_interval;
                    }
                    batch.push(item);
                    if batch.len() >= self.ctx.batch_files {
                        self.flush(std::mem::take(&mut batch))?;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if !batch.is_empty() {
                        self.flush(std::mem::take(&mut batch))?;
                    }
                    deadline = Instant::now() + self.ctx.opts.batch_interval;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    if !batch.is_empty() {
                        self.flush(std::mem::take(&mut batch))?;
                    }
                    return Ok(());
                }
            }
        }
    }

    /// Files one batch in one transaction; on failure nothing of it stays. Returns one outcome
    /// per item of the batch, in the batch's order (after reporting them to the observer).
    pub(crate) fn flush(&mut self, batch: Vec<Prepared>) -> Result<Vec<FileOutcome>, ImportError> {
        let mut moved: Vec<String> = Vec::new();
        let result = self.try_flush(batch, &mut moved);
        if result.is_err() && !moved.is_empty() {
            // The transaction rolled back; take back what was renamed (under the write lock, so
            // a concurrent import that references the same conflict path keeps it).
            let root = self.ctx.root;
            let _ = self
                .db
                .forget_unreferenced(&moved, |rel| store::remove_rel(root, rel));
            let _ = self.ctx.run_dir.clear_journal();
        }
        result
    }

    fn try_flush(
        &mut self,
        batch: Vec<Prepared>,
        moved: &mut Vec<String>,
    ) -> Result<Vec<FileOutcome>, ImportError> {
        let db_err =
            |op: &'static str| move |source: rusqlite::Error| ImportError::Db { op, source };
        let root = self.ctx.root;
        let mut b = self
            .db
            .begin_batch(self.run_id, self.project_id)
            .map_err(db_err("starting a batch"))?;
        let mut moves: Vec<Move> = Vec::new();
        let mut leftovers: Vec<PathBuf> = Vec::new();
        let mut outcomes: Vec<FileOutcome> = Vec::new();
        let mut warnings: Vec<(String, String)> = Vec::new();
        let mut conflict_paths: BTreeSet<String> = BTreeSet::new();

        for item in batch {
            match item {
                Prepared::Skipped {
                    source,
                    reason,
                    size,
                } => outcomes.push(FileOutcome {
                    source,
                    bytes: size,
                    outcome: Outcome::Skipped { reason },
                }),
                Prepared::Rejected {
                    source,
                    reason,
                    sha256,
                    size,
                } => {
                    b.record_reject(&RejectRow {
                        kind: RejectKind::Rejected,
                        source_path: &source,
                        reason: &reason,
                        sha256: sha256.as_deref(),
                        size,
                        sop_uid: None,
                        existing_sha256: None,
                        stored_path: None,
                    })
                    .map_err(db_err("recording a rejected file"))?;
                    outcomes.push(FileOutcome {
                        source,
                        bytes: size.unwrap_or(0),
                        outcome: Outcome::Rejected { reason },
                    });
                }
                Prepared::Candidate {
                    source,
                    facts,
                    sha256,
                    size,
                    temp,
                } => {
                    let existing = b
                        .find_instance(&facts.sop_uid)
                        .map_err(db_err("looking up an instance"))?;
                    let conflict = match existing {
                        Some(ex) if ex.sha256 == sha256 && ex.project_id == self.project_id => {
                            leftovers.extend(temp);
                            outcomes.push(FileOutcome {
                                source,
                                bytes: size,
                                outcome: Outcome::Duplicate,
                            });
                            continue;
                        }
                        // The same bytes, archived in another project: not a duplicate (the file
                        // is not in this project), and a study belongs to one project.
                        Some(ex) if ex.sha256 == sha256 => Some((
                            format!(
                                "conflict: SOPInstanceUID {} is already archived, with the same content, in project {:?} (subject {}); a study belongs to one project, so this file is kept apart, not filed in this project",
                                facts.sop_uid, ex.project, ex.subject_code
                            ),
                            Some(ex.sha256),
                        )),
                        Some(ex) => Some((
                            format!(
                                "conflict: SOPInstanceUID {} is already archived with different content (archived sha256 {}, this file {}); kept apart, the archived file is unchanged",
                                facts.sop_uid, ex.sha256, sha256
                            ),
                            Some(ex.sha256),
                        )),
                        None => None,
                    };
                    let Some(temp) = temp else {
                        // Pre-checked as archived, yet not found: cannot happen (rows are never
                        // deleted); say so rather than lose track of the file.
                        let reason = "internal error: instance vanished from the index during import; re-run the import".to_string();
                        b.record_reject(&RejectRow {
                            kind: RejectKind::Rejected,
                            source_path: &source,
                            reason: &reason,
                            sha256: Some(&sha256),
                            size: Some(size),
                            sop_uid: Some(&facts.sop_uid),
                            existing_sha256: None,
                            stored_path: None,
                        })
                        .map_err(db_err("recording a rejected file"))?;
                        outcomes.push(FileOutcome {
                            source,
                            bytes: size,
                            outcome: Outcome::Rejected { reason },
                        });
                        continue;
                    };
                    let (reason, existing_sha256) = match conflict {
                        Some(c) => c,
                        None => match b.place(&facts).map_err(db_err("filing an instance"))? {
                            Placement::Conflict { reason } => (reason, None),
                            Placement::Series {
                                series_id,
                                subject_code,
                                study_number,
                                series_label,
                                warnings: w,
                            } => {
                                let rel = layout::instance_rel(
                                    &subject_code,
                                    study_number,
                                    &series_label,
                                    &sha256,
                                );
                                b.insert_instance(series_id, &facts, &sha256, size, &rel, &source)
                                    .map_err(db_err("recording an instance"))?;
                                for message in w {
                                    b.record_warning(&source, &message)
                                        .map_err(db_err("recording a warning"))?;
                                    warnings.push((source.clone(), message));
                                }
                                moves.push(Move { temp, rel });
                                outcomes.push(FileOutcome {
                                    source,
                                    bytes: size,
                                    outcome: Outcome::Imported {
                                        subject: subject_code,
                                        study_number,
                                        series_label,
                                    },
                                });
                                continue;
                            }
                        },
                    };
                    {
                        let rel = layout::conflict_rel(&sha256);
                        let kept = b
                            .stored_path_referenced(&rel)
                            .map_err(db_err("looking up a conflict"))?
                            || conflict_paths.contains(&rel);
                        if kept {
                            leftovers.push(temp);
                        } else {
                            conflict_paths.insert(rel.clone());
                            moves.push(Move {
                                temp,
                                rel: rel.clone(),
                            });
                        }
                        b.record_reject(&RejectRow {
                            kind: RejectKind::Conflict,
                            source_path: &source,
                            reason: &reason,
                            sha256: Some(&sha256),
                            size: Some(size),
                            sop_uid: Some(&facts.sop_uid),
                            existing_sha256: existing_sha256.as_deref(),
                            stored_path: Some(&rel),
                        })
                        .map_err(db_err("recording a conflict"))?;
                        outcomes.push(FileOutcome {
                            source,
                            bytes: size,
                            outcome: Outcome::Conflict { reason },
                        });
                    }
                }
            }
        }

        if !moves.is_empty() {
            let write_err = |path: &Path| {
                let path = path.to_path_buf();
                move |source: io::Error| ImportError::Write { path, source }
            };
            let rels: Vec<String> = moves.iter().map(|m| m.rel.clone()).collect();
            if self.ctx.sync_batch() {
                // The staged files' bytes, all at once, before anything is renamed.
                store::sync_filesystem(self.ctx.run_dir.path())
                    .map_err(write_err(self.ctx.run_dir.path()))?;
            }
            self.ctx
                .run_dir
                .write_journal(&rels)
                .map_err(write_err(self.ctx.run_dir.path()))?;
            let mut touched: BTreeSet<PathBuf> = BTreeSet::new();
            for m in &moves {
                let dest = root.join(&m.rel);
                if let Some(parent) = dest.parent() {
                    store::ensure_dir(root, parent, &mut touched).map_err(write_err(parent))?;
                    touched.insert(parent.to_path_buf());
                }
                moved.push(m.rel.clone());
                fs::rename(&m.temp, &dest).map_err(write_err(&dest))?;
            }
            if self.ctx.opts.durable {
                for dir in &touched {
                    store::fsync_dir(dir).map_err(write_err(dir))?;
                }
            }
        }
        b.commit().map_err(db_err("committing a batch"))?;
        moved.clear();
        let _ = self.ctx.run_dir.clear_journal();
        for temp in leftovers {
            let _ = fs::remove_file(temp);
        }

        for (source, message) in &warnings {
            self.ctx.observer.warning(source, message);
        }
        let tally = &mut *self.tally;
        tally.warnings += warnings.len() as u64;
        for o in &outcomes {
            tally.counts.files_seen += 1;
            tally.bytes_seen += o.bytes;
            match &o.outcome {
                Outcome::Imported { .. } => {
                    tally.counts.imported += 1;
                    tally.counts.bytes_imported += o.bytes;
                }
                Outcome::Duplicate => tally.counts.duplicates += 1,
                Outcome::Conflict { .. } => tally.counts.conflicts += 1,
                Outcome::Rejected { .. } => tally.counts.rejected += 1,
                Outcome::Skipped { .. } => tally.counts.skipped += 1,
            }
            self.ctx.observer.file_done(o);
        }
        Ok(outcomes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examine_names_what_is_wrong() {
        let good = synth::fixture::instance("P", "1.2", "1.2.3", "1.2.3.4")
            .to_bytes()
            .unwrap();
        assert_eq!(examine(&good).unwrap().sop_uid, "1.2.3.4");
        assert!(examine(&good[128..]).is_ok(), "no preamble is fine");
        assert!(examine(b"").unwrap_err().contains("empty"));
        assert!(examine(b"PK\x03\x04rest").unwrap_err().contains("zip"));
        assert!(examine(b"hello").unwrap_err().contains("no 'DICM' marker"));
        let dicomdir = synth::fixture::InstanceSpec {
            sop_class_uid: DICOMDIR_CLASS.into(),
            ..synth::fixture::instance("P", "1.2", "1.2.3", "1.2.3.5")
        };
        assert!(
            examine(&dicomdir.to_bytes().unwrap())
                .unwrap_err()
                .contains("DICOMDIR")
        );
        assert_eq!(
            inspect(&dicomdir.to_bytes().unwrap(), Origin::File),
            Err(Refusal::Skipped(DICOMDIR_REASON.into()))
        );
        let nested = inspect(b"PK\x03\x04rest", Origin::ZipEntry).unwrap_err();
        assert!(
            matches!(&nested, Refusal::Rejected(r) if r.contains("nested zip archives are not opened")),
            "{nested:?}"
        );
        // A bare data set: (0008,0005) CS "ISO_IR 100", explicit VR little endian.
        let raw = b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100";
        assert!(examine(raw).unwrap_err().contains("raw data set"));
    }
}
