//! Importing dumps: a streaming pipeline that reads each input file once, parses its header,
//! hashes it, stages it, and files it in batches.
//!
//! ```text
//! discovery (1 thread)  --jobs (bounded)-->  workers (N threads)  --prepared (bounded)-->  committer (caller's thread)
//! walk folders, stream      read file into a buffer, hash it (the       one BEGIN IMMEDIATE per batch: dedupe,
//! zip entries, report       archive's content hash), scan every         place (subject/study/series), record
//!                           element length against the
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

mod big_file;
mod commit;
mod discover;
mod examine;
mod options;
mod package;
mod pipeline;
mod precheck;
mod prepare;
mod report;
mod zip_feed;

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub use crate::text::{escape_bytes, escape_controls, escape_text, path_text};
pub use examine::examine;
pub use options::{IN_MEMORY_LIMIT, ImportOptions, MAX_BATCH_FILES, MAX_WORKERS, MAX_ZIP_ENTRY};
pub use report::{FileOutcome, ImportObserver, ImportSummary, NoObserver, Outcome};

pub(crate) use commit::Committer;
pub(crate) use pipeline::{Ctx, Origin, Prepared, Tally};
pub(crate) use prepare::{prepare_bytes, prepare_file};

use discover::discover;
use pipeline::Job;
use prepare::worker;

use crate::content_hash::HashAlgorithm;
use crate::db::Db;
use crate::error::ImportError;
use crate::layout;
use crate::store::RunDir;

/// Runs an import into the archive at `root` whose index is `db` (see [`crate::Archive::import`]).
pub(crate) fn run(
    root: &Path,
    db: &mut Db,
    hash: HashAlgorithm,
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
        root, db, hash, inputs, opts, observer, project_id, run_id, &mut tally,
    );
    // The run row records what its committed batches filed, even when a fatal error stopped it.
    let error = outcome.as_ref().err().map(|e| error_chain(e));
    let finished = db.finish_run(run_id, &tally.counts, error.as_deref());
    outcome?;
    finished.map_err(|source| ImportError::Db {
        op: "finishing the import run",
        source,
    })?;
    Ok(tally.into_summary(run_id, &opts.project, started))
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
    hash: HashAlgorithm,
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
    let big_file = Mutex::new(());
    let ctx = Ctx {
        root,
        project_id,
        index: layout::index_path(root),
        run_dir: &run_dir,
        opts,
        batch_files,
        observer,
        skip: root.canonicalize().ok(),
        hash,
        big_file: &big_file,
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
