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

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
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
use crate::records::RejectKind;
use crate::store::{self, RunDir};

/// Files up to this size are read into memory once; bigger ones are parsed from disk and
/// streamed into the store (one at a time, to bound memory).
pub const IN_MEMORY_LIMIT: u64 = 8 * 1024 * 1024;

/// Zip entries claiming more than this are refused (a zip bomb guard).
pub const MAX_ZIP_ENTRY: u64 = 16 * 1024 * 1024 * 1024;

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Project to file subjects in (created if new).
    pub project: String,
    /// Worker threads; 0 picks a default from the number of CPUs.
    pub workers: usize,
    /// Most files per index transaction.
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
}

/// One file's outcome, as reported to the observer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileOutcome {
    /// The file as given (`dump.zip!/inner/path` for zip entries).
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
    /// True when every file was imported or a duplicate (exit code 0).
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

/// A worker's result, for the committer.
enum Prepared {
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
}

impl Ctx<'_> {
    /// Whether workers fsync each staged file (when the batch cannot be flushed at once).
    fn fsync_each_file(&self) -> bool {
        self.opts.durable && !store::CAN_SYNC_FILESYSTEM
    }
}

struct Ctx<'a> {
    root: &'a Path,
    index: PathBuf,
    run_dir: &'a RunDir,
    opts: &'a ImportOptions,
    observer: &'a dyn ImportObserver,
    /// Canonical archive root, skipped when walking inputs.
    skip: Option<PathBuf>,
    /// Serialises the parsing of big files.
    big_file: Mutex<()>,
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
    for input in inputs {
        fs::metadata(input).map_err(|source| ImportError::InputMissing {
            path: input.clone(),
            source,
        })?;
    }
    let inputs_json = serde_json::to_string(
        &inputs
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect::<Vec<_>>(),
    )
    .unwrap_or_else(|_| "[]".to_string());
    let (project_id, run_id) = db
        .start_run(&opts.project, &inputs_json)
        .map_err(|source| ImportError::Db {
            op: "starting an import run",
            source,
        })?;
    let run_dir = RunDir::create(root).map_err(|source| ImportError::Write {
        path: root.join(store::TMP_DIR),
        source,
    })?;

    let workers = if opts.workers > 0 {
        opts.workers
    } else {
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        (cpus * 2 + 2).clamp(8, 16)
    };
    let ctx = Ctx {
        root,
        index: crate::db::index_path(root),
        run_dir: &run_dir,
        opts,
        observer,
        skip: root.canonicalize().ok(),
        big_file: Mutex::new(()),
    };

    let (job_tx, job_rx) = sync_channel::<Job>(workers * 2);
    let (res_tx, res_rx) = sync_channel::<Prepared>(opts.batch_files.max(1) * 2);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let mut committer = Committer {
        ctx: &ctx,
        db,
        run_id,
        project_id,
        counts: RunCounts::default(),
        warnings: 0,
        bytes_seen: 0,
    };

    let outcome: Result<(), ImportError> = std::thread::scope(|s| {
        let discovery = {
            let res_tx = res_tx.clone();
            let ctx = &ctx;
            s.spawn(move || discover(ctx, inputs, &job_tx, &res_tx))
        };
        let mut handles = Vec::new();
        for _ in 0..workers {
            let job_rx = Arc::clone(&job_rx);
            let res_tx = res_tx.clone();
            let ctx = &ctx;
            handles.push(s.spawn(move || worker(ctx, &job_rx, &res_tx)));
        }
        // Only the workers may keep the job queue open: when they stop (after a fatal error),
        // the walker's sends fail and it stops too.
        drop(job_rx);
        drop(res_tx);
        let committed = committer.run(&res_rx);
        // On a fatal error, stop the producers: dropping the receiver makes their sends fail.
        drop(res_rx);
        let mut died = discovery.join().is_err();
        for h in handles {
            died |= h.join().is_err();
        }
        committed?;
        if died {
            Err(ImportError::WorkerDied)
        } else {
            Ok(())
        }
    });
    let counts = committer.counts;
    let warnings = committer.warnings;
    let bytes_seen = committer.bytes_seen;
    outcome?;
    db.finish_run(run_id, &counts)
        .map_err(|source| ImportError::Db {
            op: "finishing the import run",
            source,
        })?;
    drop(run_dir);
    let seconds = started.elapsed().as_secs_f64();
    Ok(ImportSummary {
        run_id,
        project: opts.project.clone(),
        files_seen: counts.files_seen,
        imported: counts.imported,
        duplicates: counts.duplicates,
        conflicts: counts.conflicts,
        rejected: counts.rejected,
        warnings,
        bytes_seen,
        bytes_imported: counts.bytes_imported,
        seconds,
        files_per_second: if seconds > 0.0 {
            counts.files_seen as f64 / seconds
        } else {
            0.0
        },
    })
}

fn display(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Walks the inputs and feeds the workers. Unreadable paths go straight to the committer.
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
        let is_dir = fs::metadata(input).map(|m| m.is_dir()).unwrap_or(false);
        if !is_dir {
            let zip = sniff_zip(input);
            if !feed_file(ctx, input, zip, jobs, results) {
                return;
            }
            continue;
        }
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
                    let path = e.path().map(display).unwrap_or_else(|| display(input));
                    reject(path, format!("cannot read: {e}"))
                }
                Ok(e) if e.file_type().is_dir() => true,
                Ok(e) if !e.file_type().is_file() => reject(
                    display(e.path()),
                    "not a regular file (device, socket or fifo)".into(),
                ),
                Ok(e) if is_package_manifest(e.path()) => true,
                Ok(e) => {
                    let zip = has_zip_name(e.path()) && sniff_zip(e.path());
                    feed_file(ctx, e.path(), zip, jobs, results)
                }
            };
            if !ok {
                return;
            }
        }
    }
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
        source: display(path),
        spooled: false,
    })
    .is_ok()
}

fn has_zip_name(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
}

fn sniff_zip(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && (magic == *b"PK\x03\x04" || magic == *b"PK\x05\x06")
}

/// Streams a zip's entries to the workers: small ones in memory, big ones spooled to the run's
/// temporary folder. Entry names are only ever used in messages (`dump.zip!/inner/path`).
fn feed_zip(
    ctx: &Ctx<'_>,
    path: &Path,
    jobs: &SyncSender<Job>,
    results: &SyncSender<Prepared>,
) -> bool {
    let zip_name = display(path);
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
    let mut archive = match File::open(path)
        .map(BufReader::new)
        .map_err(zip::result::ZipError::Io)
        .and_then(zip::ZipArchive::new)
    {
        Ok(a) => a,
        Err(e) => return reject(zip_name, format!("cannot read zip archive: {e}"), None),
    };
    let zip_is_package = archive
        .by_name("manifest.json")
        .ok()
        .map(|mut m| {
            let mut head = Vec::new();
            let _ = (&mut m).take(4096).read_to_end(&mut head);
            is_package_manifest_text(&head)
        })
        .unwrap_or(false);
    for i in 0..archive.len() {
        let mut entry = match archive.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                if !reject(
                    format!("{zip_name}!/#{i}"),
                    format!("cannot read zip entry: {e}"),
                    None,
                ) {
                    return false;
                }
                continue;
            }
        };
        if entry.is_dir() {
            continue;
        }
        let inner = entry
            .name()
            .map(|n| n.into_owned())
            .unwrap_or_else(|_| format!("#{i}"));
        // A depot package's own manifests sit at the zip's root; they are not DICOM.
        if (inner == "manifest.json" || inner == "manifest.csv") && zip_is_package {
            continue;
        }
        let source = format!("{zip_name}!/{inner}");
        let size = entry.size();
        if size > MAX_ZIP_ENTRY {
            if !reject(
                source,
                format!("zip entry claims {size} bytes, more than the {MAX_ZIP_ENTRY} accepted"),
                Some(size),
            ) {
                return false;
            }
            continue;
        }
        let job = if size <= IN_MEMORY_LIMIT {
            let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            match (&mut entry)
                .take(IN_MEMORY_LIMIT + 1)
                .read_to_end(&mut data)
            {
                Ok(_) if data.len() as u64 <= IN_MEMORY_LIMIT => Job::Bytes { source, data },
                Ok(_) => {
                    if !reject(
                        source,
                        "zip entry is larger than its header says (corrupt zip)".into(),
                        Some(size),
                    ) {
                        return false;
                    }
                    continue;
                }
                Err(e) => {
                    if !reject(source, format!("cannot unpack zip entry: {e}"), Some(size)) {
                        return false;
                    }
                    continue;
                }
            }
        } else {
            let spool = ctx.run_dir.temp_path("spool");
            let copied = File::create_new(&spool)
                .and_then(|mut f| io::copy(&mut (&mut entry).take(MAX_ZIP_ENTRY), &mut f));
            match copied {
                Ok(_) => Job::File {
                    path: spool,
                    source,
                    spooled: true,
                },
                Err(e) => {
                    let _ = fs::remove_file(&spool);
                    if !reject(source, format!("cannot unpack zip entry: {e}"), Some(size)) {
                        return false;
                    }
                    continue;
                }
            }
        };
        ctx.observer.discovered(1);
        if jobs.send(job).is_err() {
            return false;
        }
    }
    true
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
            Job::Bytes { source, data } => prepare_bytes(ctx, reader.as_ref(), source, &data),
            Job::File {
                path,
                source,
                spooled,
            } => {
                let p = prepare_file(ctx, reader.as_ref(), &path, source, &mut buf);
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

fn reject(source: String, reason: String, sha256: Option<String>, size: Option<u64>) -> Prepared {
    Prepared::Rejected {
        source,
        reason,
        sha256,
        size,
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Whether the pre-check finds the very same instance archived.
fn already_archived(reader: Option<&Db>, facts: &HeaderFacts, sha256: &str) -> bool {
    reader
        .and_then(|db| db.find_instance(&facts.sop_uid).ok().flatten())
        .is_some_and(|existing| existing.sha256 == sha256)
}

fn prepare_file(
    ctx: &Ctx<'_>,
    reader: Option<&Db>,
    path: &Path,
    source: String,
    buf: &mut Vec<u8>,
) -> Prepared {
    let size = match fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) => return reject(source, format!("cannot read: {e}"), None, None),
    };
    if size > IN_MEMORY_LIMIT {
        return prepare_big_file(ctx, reader, path, source, size);
    }
    buf.clear();
    if let Err(e) = File::open(path).and_then(|f| f.take(IN_MEMORY_LIMIT + 1).read_to_end(buf)) {
        return reject(source, format!("cannot read: {e}"), None, Some(size));
    }
    if buf.len() as u64 > IN_MEMORY_LIMIT {
        // It grew while we looked; take the streaming path.
        return prepare_big_file(ctx, reader, path, source, buf.len() as u64);
    }
    prepare_bytes(ctx, reader, source, buf)
}

fn prepare_bytes(ctx: &Ctx<'_>, reader: Option<&Db>, source: String, bytes: &[u8]) -> Prepared {
    let size = bytes.len() as u64;
    let sha256 = sha256_hex(bytes);
    let facts = match examine(bytes) {
        Ok(f) => f,
        Err(reason) => return reject(source, reason, Some(sha256), Some(size)),
    };
    if already_archived(reader, &facts, &sha256) {
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

/// Checks that the bytes are a complete DICOM file and reads its header facts.
pub fn examine(bytes: &[u8]) -> Result<HeaderFacts, String> {
    let preamble = marker(bytes)?;
    // Declared lengths first: dicom-rs allocates whatever a header declares.
    crate::scan::check(bytes, preamble == ReadPreamble::Always).map_err(|e| e.to_string())?;
    // The scan walked every element (pixel data included) against the file's size, so a file
    // cut inside its pixel data is already rejected; dicom-rs now only needs the header.
    let obj = OpenFileOptions::new()
        .read_until(tags::PIXEL_DATA)
        .read_preamble(preamble)
        .from_reader(bytes)
        .map_err(|e| describe_read_error(&e))?;
    if obj
        .meta()
        .media_storage_sop_class_uid()
        .trim_end_matches(['\0', ' '])
        == DICOMDIR_CLASS
    {
        return Err(
            "a DICOMDIR (the index of a DICOM medium), not an instance: not archived".into(),
        );
    }
    HeaderFacts::from_file_object(&obj).map_err(|e| e.to_string())
}

/// Media Storage Directory Storage: the SOP class of a DICOMDIR.
const DICOMDIR_CLASS: &str = "1.2.840.10008.1.3.10";

/// Where the `DICM` marker is: after a 128-byte preamble, or at the start (no preamble).
fn marker(head: &[u8]) -> Result<ReadPreamble, String> {
    if head.is_empty() {
        return Err("empty file (0 bytes)".into());
    }
    if head.get(128..132) == Some(b"DICM".as_slice()) {
        return Ok(ReadPreamble::Always);
    }
    if head.get(0..4) == Some(b"DICM".as_slice()) {
        return Ok(ReadPreamble::Never);
    }
    if head.starts_with(b"PK\x03\x04") {
        return Err(
            "a zip archive, not a DICOM file (name it *.zip to import its contents)".into(),
        );
    }
    Err("not a DICOM file: no 'DICM' marker after the 128-byte preamble".into())
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
/// time), then stream
/// the bytes through the hash into a staged copy.
fn prepare_big_file(
    ctx: &Ctx<'_>,
    reader: Option<&Db>,
    path: &Path,
    source: String,
    size: u64,
) -> Prepared {
    let mut head = Vec::with_capacity(132);
    if let Err(e) = File::open(path).and_then(|f| f.take(132).read_to_end(&mut head)) {
        return reject(source, format!("cannot read: {e}"), None, Some(size));
    }
    let preamble = match marker(&head) {
        Ok(p) => p,
        Err(reason) => return reject(source, reason, None, Some(size)),
    };
    let scanned = File::open(path)
        .map_err(|e| format!("cannot read: {e}"))
        .and_then(|f| {
            crate::scan::check_reader(
                BufReader::with_capacity(1 << 16, f),
                size,
                preamble == ReadPreamble::Always,
            )
            .map_err(|e| e.to_string())
        });
    if let Err(reason) = scanned {
        return reject(source, reason, None, Some(size));
    }
    let facts = {
        let _one_at_a_time = ctx.big_file.lock();
        let parsed = File::open(path)
            .map_err(|e| format!("cannot read: {e}"))
            .and_then(|f| {
                OpenFileOptions::new()
                    .read_until(tags::PIXEL_DATA)
                    .read_preamble(preamble)
                    .from_reader(BufReader::with_capacity(1 << 20, f))
                    .map_err(|e| describe_read_error(&e))
            })
            .and_then(|obj| HeaderFacts::from_file_object(&obj).map_err(|e| e.to_string()));
        match parsed {
            Ok(f) => f,
            Err(reason) => return reject(source, reason, None, Some(size)),
        }
    };
    let existing = reader.and_then(|db| db.find_instance(&facts.sop_uid).ok().flatten());
    if let Some(existing) = existing {
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
struct Committer<'a, 'c> {
    ctx: &'a Ctx<'a>,
    db: &'c mut Db,
    run_id: i64,
    project_id: i64,
    counts: RunCounts,
    warnings: u64,
    bytes_seen: u64,
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
                    if batch.len() >= self.ctx.opts.batch_files.max(1) {
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

    /// Files one batch in one transaction; on failure nothing of it stays.
    fn flush(&mut self, batch: Vec<Prepared>) -> Result<(), ImportError> {
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
    ) -> Result<(), ImportError> {
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
                        Some(ex) if ex.sha256 == sha256 => {
                            leftovers.extend(temp);
                            outcomes.push(FileOutcome {
                                source,
                                bytes: size,
                                outcome: Outcome::Duplicate,
                            });
                            continue;
                        }
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
                                let rel = store::instance_rel(
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
                        let rel = store::conflict_rel(&sha256);
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
            if self.ctx.opts.durable && store::CAN_SYNC_FILESYSTEM {
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
        self.warnings += warnings.len() as u64;
        for o in &outcomes {
            self.counts.files_seen += 1;
            self.bytes_seen += o.bytes;
            match &o.outcome {
                Outcome::Imported { .. } => {
                    self.counts.imported += 1;
                    self.counts.bytes_imported += o.bytes;
                }
                Outcome::Duplicate => self.counts.duplicates += 1,
                Outcome::Conflict { .. } => self.counts.conflicts += 1,
                Outcome::Rejected { .. } => self.counts.rejected += 1,
            }
            self.ctx.observer.file_done(o);
        }
        Ok(())
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
    }
}
