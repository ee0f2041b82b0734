//! `depot anonymize` as a library call: de-identify files and folder trees outside the archive,
//! in parallel, into a fresh output folder.
//!
//! Each file is read once into memory, de-identified, and written atomically under a name built
//! from keyed values only: to a temporary file in the target folder, made durable with the
//! other files of its batch and renamed into place ([`crate::staged`]); a file is reported as
//! written only then. Bad files are reported with their reason and skipped; the run goes on.
//! Inputs are never modified.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anon_core::{Deidentifier, Report};
use rayon::prelude::*;
use thiserror::Error;

use crate::deid_file::{DeidFileError, deidentify_bytes};
use crate::staged::{self, Pending, Staged};

/// Why a run could not start (per-file problems are reported through [`FileEvent`] instead).
#[derive(Debug, Error)]
pub enum TreeError {
    /// An input path does not exist.
    #[error("input {path} does not exist")]
    InputMissing {
        /// The path.
        path: PathBuf,
    },
    /// A folder could not be listed.
    #[error("cannot list {path}: {reason}")]
    Walk {
        /// The folder.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The output folder already holds files.
    #[error("output folder {path} is not empty (use --force to write into it)")]
    OutputNotEmpty {
        /// The folder.
        path: PathBuf,
    },
    /// Output and an input overlap (the run would read its own output).
    #[error("output folder {output} overlaps input {input}")]
    Overlap {
        /// The output folder.
        output: PathBuf,
        /// The input.
        input: PathBuf,
    },
    /// The output folder exists as a file, or cannot be created.
    #[error("cannot create output folder {path}: {reason}")]
    Output {
        /// The folder.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// What a run should do.
#[derive(Debug, Clone)]
pub struct TreeRequest {
    /// Input files and folders (folders are walked recursively; symbolic links not followed).
    pub inputs: Vec<PathBuf>,
    /// Output folder (created; must be empty unless `force`).
    pub output: PathBuf,
    /// Write into a non-empty output folder.
    pub force: bool,
    /// Compute everything, write nothing.
    pub dry_run: bool,
    /// Extra identifiers to cut from cleaned text (beyond the subject's own).
    pub extra_identifiers: Vec<String>,
    /// Worker threads; 0 = two per CPU core (at most 16), so that the CPUs stay busy while
    /// some workers wait for a read.
    pub workers: usize,
}

/// What happened to one input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOutcome {
    /// Written to this path (below the output folder), with this many bytes.
    Written {
        /// The output file.
        output: PathBuf,
        /// Its size.
        bytes: u64,
        /// Why the file has another name than its SOP Instance UID alone gives (see
        /// [`FileOutcome::WouldWrite::collision`]).
        collision: Option<String>,
    },
    /// Dry run: would be written to this path.
    WouldWrite {
        /// The output file it would become.
        output: PathBuf,
        /// Set when another input already took the name its SOP Instance UID gives and this
        /// file's de-identified copy differs (the same instance in another encoding, or two
        /// instances sharing a UID): the copy goes to a name with its input's keyed tag
        /// instead, and this says so, naming the other input.
        collision: Option<String>,
    },
    /// Not written, with the reason: the file is unreadable, or not an instance that can be
    /// named.
    Rejected {
        /// Why.
        reason: String,
    },
    /// Passed over on purpose, nothing lost: a DICOMDIR (the index of a medium, not an
    /// instance), or a file whose de-identified copy is identical to one already written.
    Skipped {
        /// Why.
        reason: String,
    },
}

/// Reported once per input file, from worker threads, as files finish.
#[derive(Debug)]
pub struct FileEvent<'a> {
    /// The input file.
    pub input: &'a Path,
    /// What happened.
    pub outcome: &'a FileOutcome,
    /// What the engine did (absent when the file was rejected before or by the engine).
    pub report: Option<&'a Report>,
}

/// Totals of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TreeSummary {
    /// Input files considered.
    pub files_seen: u64,
    /// Files written (or, in a dry run, that would be written).
    pub written: u64,
    /// Files rejected (not written).
    pub rejected: u64,
    /// Files passed over on purpose (DICOMDIRs, identical duplicates).
    pub skipped: u64,
    /// Files flagged for possible burned-in text.
    pub burned_in: u64,
    /// Bytes read.
    pub bytes_in: u64,
    /// Bytes written.
    pub bytes_out: u64,
    /// Wall time.
    pub elapsed: Duration,
}

impl TreeSummary {
    /// Files per second over the run.
    pub fn files_per_second(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.files_seen as f64 / s
        } else {
            0.0
        }
    }
}

/// Every regular file named by `inputs` (folders walked, sorted; links not followed).
pub fn collect_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, TreeError> {
    let mut files = Vec::new();
    for input in inputs {
        let meta = fs::symlink_metadata(input).map_err(|_| TreeError::InputMissing {
            path: input.clone(),
        })?;
        if meta.is_file() || (meta.file_type().is_symlink() && input.is_file()) {
            files.push(input.clone());
            continue;
        }
        for entry in walkdir::WalkDir::new(input)
            .follow_links(false)
            .sort_by_file_name()
        {
            let entry = entry.map_err(|e| TreeError::Walk {
                path: e
                    .path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| input.clone()),
                reason: e.to_string(),
            })?;
            if entry.file_type().is_file() {
                files.push(entry.into_path());
            }
        }
    }
    Ok(files)
}

fn absolute(p: &Path) -> PathBuf {
    fs::canonicalize(p)
        .unwrap_or_else(|_| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()))
}

/// Checks and creates the output folder.
fn prepare_output(req: &TreeRequest) -> Result<(), TreeError> {
    let out = &req.output;
    let out_abs = absolute(out);
    for input in &req.inputs {
        let in_abs = absolute(input);
        if out_abs.starts_with(&in_abs) && in_abs.is_dir() || in_abs.starts_with(&out_abs) {
            return Err(TreeError::Overlap {
                output: out.clone(),
                input: input.clone(),
            });
        }
    }
    if out.exists() {
        if !out.is_dir() {
            return Err(TreeError::Output {
                path: out.clone(),
                reason: "it is not a folder".to_string(),
            });
        }
        let non_empty = fs::read_dir(out)
            .map_err(|e| TreeError::Output {
                path: out.clone(),
                reason: e.to_string(),
            })?
            .next()
            .is_some();
        if non_empty && !req.force {
            return Err(TreeError::OutputNotEmpty { path: out.clone() });
        }
    } else if !req.dry_run {
        fs::create_dir_all(out).map_err(|e| TreeError::Output {
            path: out.clone(),
            reason: e.to_string(),
        })?;
    }
    Ok(())
}

/// De-identifies `files` (from [`collect_inputs`]) into `req.output`, calling `on_file` as each
/// file finishes (from worker threads). Fails only when the run cannot start.
pub fn anonymize_tree(
    deid: &Deidentifier,
    req: &TreeRequest,
    files: &[PathBuf],
    on_file: &(dyn Fn(FileEvent<'_>) + Sync),
) -> Result<TreeSummary, TreeError> {
    let started = Instant::now();
    prepare_output(req)?;
    let claimed: Mutex<HashMap<PathBuf, Claim>> = Mutex::new(HashMap::new());
    let written = AtomicU64::new(0);
    let rejected = AtomicU64::new(0);
    let skipped = AtomicU64::new(0);
    let burned = AtomicU64::new(0);
    let bytes_in = AtomicU64::new(0);
    let bytes_out = AtomicU64::new(0);
    let workers = if req.workers > 0 {
        req.workers
    } else {
        std::thread::available_parallelism()
            .map(|n| n.get() * 2)
            .unwrap_or(4)
            .min(16)
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .map_err(|e| TreeError::Output {
            path: req.output.clone(),
            reason: format!("no worker threads: {e}"),
        })?;
    let finish = |input: &Path, outcome: FileOutcome, report: Option<Report>| {
        match &outcome {
            FileOutcome::Written { bytes, .. } => {
                written.fetch_add(1, Ordering::Relaxed);
                bytes_out.fetch_add(*bytes, Ordering::Relaxed);
            }
            FileOutcome::WouldWrite { .. } => {
                written.fetch_add(1, Ordering::Relaxed);
            }
            FileOutcome::Rejected { .. } => {
                rejected.fetch_add(1, Ordering::Relaxed);
            }
            FileOutcome::Skipped { .. } => {
                skipped.fetch_add(1, Ordering::Relaxed);
            }
        }
        if report.as_ref().is_some_and(|r| r.burned_in.is_some()) {
            burned.fetch_add(1, Ordering::Relaxed);
        }
        on_file(FileEvent {
            input,
            outcome: &outcome,
            report: report.as_ref(),
        });
    };
    // Workers stage files; the committer makes them durable and renames them in batches, and
    // reports them as written only then.
    let _flusher = (!req.dry_run).then(|| archive::flusher::Flusher::start(&req.output));
    let (staged_tx, staged_rx) =
        std::sync::mpsc::sync_channel::<Pending<StagedFile<'_>>>(staged::BATCH_FILES * 2);
    std::thread::scope(|scope| {
        let committer = scope.spawn(move || {
            staged::run_batches(
                &req.output,
                &staged_rx,
                |(input, bytes, report, collision), dest, r| {
                    let outcome = match r {
                        Ok(()) => FileOutcome::Written {
                            output: dest,
                            bytes,
                            collision,
                        },
                        Err(e) => FileOutcome::Rejected {
                            reason: format!("cannot write {}: {e}", dest.display()),
                        },
                    };
                    finish(input, outcome, Some(report));
                },
            )
        });
        pool.install(|| {
            files
                .par_iter()
                .for_each_with(staged_tx.clone(), |tx, input| {
                    match process_one(deid, req, input, &claimed, &bytes_in) {
                        Step::Done(outcome, report) => finish(input, outcome, report),
                        Step::Staged(staged, bytes, report, collision) => {
                            let item = (input.as_path(), bytes, report, collision);
                            if let Err(unsent) = tx.send(Pending { staged, item }) {
                                // The committer is gone (it panicked): nothing is lost, the
                                // file is reported as not written.
                                let Pending { staged, item } = unsent.0;
                                let _ = fs::remove_file(&staged.temp);
                                let reason = "not written: the run stopped".to_string();
                                finish(item.0, FileOutcome::Rejected { reason }, Some(item.2));
                            }
                        }
                    }
                })
        });
        drop(staged_tx);
        if let Err(panic) = committer.join() {
            std::panic::resume_unwind(panic);
        }
    });
    Ok(TreeSummary {
        files_seen: files.len() as u64,
        written: written.into_inner(),
        rejected: rejected.into_inner(),
        skipped: skipped.into_inner(),
        burned_in: burned.into_inner(),
        bytes_in: bytes_in.into_inner(),
        bytes_out: bytes_out.into_inner(),
        elapsed: started.elapsed(),
    })
}

/// The first input whose output took a path.
struct Claim {
    input: PathBuf,
}

/// Whether `first`'s de-identified copy is byte for byte `output` (de-identification is
/// deterministic under one key, so `first` is simply de-identified again; this only happens
/// when two inputs name the same output).
fn same_output(deid: &Deidentifier, req: &TreeRequest, first: &Path, output: &[u8]) -> bool {
    fs::read(first)
        .ok()
        .and_then(|bytes| deidentify_bytes(deid, &bytes, &req.extra_identifiers).ok())
        .is_some_and(|r| r.bytes == output)
}

/// Where a file stands after its worker: done (rejected, skipped, or a dry run's verdict), or
/// staged and waiting for its batch (with its size, the engine's report and any collision
/// note).
enum Step {
    Done(FileOutcome, Option<Report>),
    Staged(Staged, u64, Report, Option<String>),
}

/// A staged file as the committer reports it: input, size, report, collision note.
type StagedFile<'a> = (&'a Path, u64, Report, Option<String>);

/// `<SOP>.<tag>.dcm` beside `dest` (`<SOP>.dcm`): the name of a second, different copy of an
/// instance, `tag` being the keyed tag of its input's bytes (the same at every level and in
/// every run with the key; see [`Deidentifier::content_tag`]).
fn collision_path(deid: &Deidentifier, dest: &Path, input: &[u8]) -> PathBuf {
    let stem = dest
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    dest.with_file_name(format!("{stem}.{}.dcm", deid.content_tag(input)))
}

fn process_one(
    deid: &Deidentifier,
    req: &TreeRequest,
    input: &Path,
    claimed: &Mutex<HashMap<PathBuf, Claim>>,
    bytes_in: &AtomicU64,
) -> Step {
    let reject = |reason: String| Step::Done(FileOutcome::Rejected { reason }, None);
    let bytes = match fs::read(input) {
        Ok(b) => b,
        Err(e) => return reject(format!("cannot read: {e}")),
    };
    bytes_in.fetch_add(bytes.len() as u64, Ordering::Relaxed);
    let result = match deidentify_bytes(deid, &bytes, &req.extra_identifiers) {
        Ok(r) => r,
        Err(e @ DeidFileError::Dicomdir) => {
            return Step::Done(
                FileOutcome::Skipped {
                    reason: e.to_string(),
                },
                None,
            );
        }
        Err(e) => return reject(e.to_string()),
    };
    drop(bytes);
    let dest = req.output.join(&result.rel_path);
    let first = {
        let mut map = match claimed.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        match map.get(&dest) {
            Some(first) => Some(first.input.clone()),
            None => {
                map.insert(
                    dest.clone(),
                    Claim {
                        input: input.to_path_buf(),
                    },
                );
                None
            }
        }
    };
    let mut dest = dest;
    let mut collision = None;
    if let Some(first) = first {
        // Two inputs with the same SOPInstanceUID (and subject, study and series) map to one
        // output name.
        let rel = result.rel_path.display();
        if same_output(deid, req, &first, &result.bytes) {
            let outcome = FileOutcome::Skipped {
                reason: format!(
                    "a duplicate: its de-identified copy is identical to that of {}, which goes to {rel}",
                    first.display()
                ),
            };
            return Step::Done(outcome, Some(result.report));
        }
        // Another copy of the instance (another encoding, say) or another instance sharing
        // the UID: nothing is lost, it goes beside the first under a keyed tag of its input.
        // (Rare: the input is read again rather than kept in memory for every file.)
        let alt = match fs::read(input) {
            Ok(original) => collision_path(deid, &dest, &original),
            Err(e) => return reject(format!("cannot read again: {e}")),
        };
        let taken = {
            let mut map = match claimed.lock() {
                Ok(m) => m,
                Err(poisoned) => poisoned.into_inner(),
            };
            match map.get(&alt) {
                Some(other) => Some(other.input.clone()),
                None => {
                    map.insert(
                        alt.clone(),
                        Claim {
                            input: input.to_path_buf(),
                        },
                    );
                    None
                }
            }
        };
        if let Some(other) = taken {
            // The same tag: the same input bytes, in practice always.
            let outcome = if same_output(deid, req, &other, &result.bytes) {
                FileOutcome::Skipped {
                    reason: format!(
                        "a duplicate: its de-identified copy is identical to that of {}",
                        other.display()
                    ),
                }
            } else {
                FileOutcome::Rejected {
                    reason: format!(
                        "not written: {} has the same SOPInstanceUID and a different de-identified copy whose keyed tag begins the same",
                        other.display()
                    ),
                }
            };
            return Step::Done(outcome, Some(result.report));
        }
        let alt_rel = alt.strip_prefix(&req.output).unwrap_or(&alt).display();
        collision = Some(format!(
            "same SOPInstanceUID as {}, whose de-identified copy goes to {rel}; this file's copy differs (the same instance in another encoding, or two instances sharing a UID) and is written beside it as {alt_rel}: a PACS will take both for one instance",
            first.display()
        ));
        dest = alt;
    }
    if req.dry_run {
        return Step::Done(
            FileOutcome::WouldWrite {
                output: dest,
                collision,
            },
            Some(result.report),
        );
    }
    match staged::stage(&dest, &result.bytes) {
        Ok(staged) => Step::Staged(staged, result.bytes.len() as u64, result.report, collision),
        Err(e) => Step::Done(
            FileOutcome::Rejected {
                reason: format!("cannot write {}: {e}", dest.display()),
            },
            Some(result.report),
        ),
    }
}
