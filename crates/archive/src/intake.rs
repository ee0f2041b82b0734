//! Filing instances one at a time, as they arrive: the way in for a DICOM receiver, which gets
//! one instance per C-STORE request from several senders at once and may acknowledge each only
//! once it is durable.
//!
//! An [`Intake`] is one import run (its own `import_runs` row, project and temporary folder)
//! that stays open for as long as its owner likes. Each submitted file goes through the very
//! steps a file of `depot import` goes through ([`crate::import`]): hashed, checked by the
//! structural scan, parsed, pre-checked for duplicates and staged on the submitting thread;
//! then filed by the run's single committer in a batch (one `BEGIN IMMEDIATE` transaction,
//! journal, renames, folder fsyncs, commit), with the same outcomes, index rows, rejects and
//! conflicts. [`Intake::submit`] returns only after the batch holding the file committed.
//!
//! Batching is greedy rather than timed: the committer takes whatever has been submitted while
//! the previous batch was being made durable, so a lone sender pays one commit per file and
//! concurrent senders share commits (group commit). Staged files are fsynced by the submitting
//! thread, in parallel, rather than flushed with one `syncfs` per batch, which would also wait
//! for every other writer of the disk.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::content_hash::HashAlgorithm;
use crate::db::Db;
use crate::error::{ImportError, IntakeError};
use crate::import::{
    self, Committer, Ctx, FileOutcome, ImportObserver, ImportOptions, ImportSummary, Origin,
    Prepared, Tally,
};
use crate::layout;
use crate::store::RunDir;

/// How an intake files what it is given.
#[derive(Debug, Clone)]
pub struct IntakeOptions {
    /// Project to file subjects in (created if new).
    pub project: String,
    /// What the run's row records as its input, e.g. `dicom DEPOT@0.0.0.0:11112`.
    pub origin: String,
    /// The de-identification applied to every file before it is submitted, recorded on the
    /// run (`None`: the files are originals).
    pub deidentified: Option<String>,
    /// Make every file and batch durable before reporting it (the default). Turning it off is
    /// only for measuring what durability costs.
    pub durable: bool,
    /// Most files per transaction.
    pub max_batch: usize,
}

impl IntakeOptions {
    /// Options for a project and origin, durable, batches of up to 256 files.
    pub fn new(project: impl Into<String>, origin: impl Into<String>) -> IntakeOptions {
        IntakeOptions {
            project: project.into(),
            origin: origin.into(),
            deidentified: None,
            durable: true,
            max_batch: 256,
        }
    }
}

/// The identity a submitted file must carry (for a C-STORE, the request's Affected SOP Class
/// and Instance UIDs): a file whose own SOPClassUID or SOPInstanceUID differs is rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// SOP Class UID.
    pub sop_class_uid: String,
    /// SOP Instance UID.
    pub sop_instance_uid: String,
}

/// What the submitting threads and the committer share.
struct Shared {
    root: PathBuf,
    index: PathBuf,
    project_id: i64,
    /// The archive's content hash algorithm.
    hash: HashAlgorithm,
    run_dir: RunDir,
    opts: ImportOptions,
    observer: Arc<dyn ImportObserver + Send + Sync>,
    /// Read-only connections for the duplicate pre-check, reused across submissions.
    readers: Mutex<Vec<Db>>,
    /// Big files are parsed one at a time across every association of this intake (one per
    /// route of `depot serve`; see `Ctx::big_file`).
    big_file: Mutex<()>,
}

impl Shared {
    fn ctx(&self) -> Ctx<'_> {
        Ctx {
            root: &self.root,
            project_id: self.project_id,
            index: self.index.clone(),
            run_dir: &self.run_dir,
            opts: &self.opts,
            batch_files: self.opts.batch_files,
            observer: &*self.observer,
            skip: None,
            hash: self.hash,
            big_file: &self.big_file,
            sync_each_file: true,
        }
    }

    fn take_reader(&self) -> Option<Db> {
        let pooled = self
            .readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        pooled.or_else(|| Db::open_reader(&self.index).ok())
    }

    fn put_reader(&self, db: Option<Db>) {
        if let Some(db) = db {
            self.readers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(db);
        }
    }
}

/// A staged file and where to send its outcome.
struct Pending {
    prepared: Prepared,
    reply: SyncSender<Result<FileOutcome, String>>,
}

/// What the committer thread hands back when the intake closes.
type Closing = Result<ImportSummary, ImportError>;

/// An open import run taking files one at a time (see the module documentation). Shared by
/// reference across threads; [`Intake::finish`] closes it.
pub struct Intake {
    shared: Arc<Shared>,
    tx: Mutex<Option<Sender<Pending>>>,
    committer: Mutex<Option<JoinHandle<Closing>>>,
}

impl std::fmt::Debug for Intake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intake")
            .field("root", &self.shared.root)
            .field("project_id", &self.shared.project_id)
            .finish_non_exhaustive()
    }
}

/// A received file being written to the intake's temporary folder (for files too big to hold
/// in memory). Dropped without being submitted, it is deleted.
#[derive(Debug)]
pub struct Spool {
    path: PathBuf,
    file: Option<File>,
}

impl Spool {
    /// Where it is (inside the archive's `tmp/`, never in the store).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.file {
            Some(f) => f.write(buf),
            None => Err(io::Error::other("spool already closed")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        self.file = None;
        let _ = fs::remove_file(&self.path);
    }
}

impl Intake {
    /// Opens an intake into the archive at `root`: starts the run, its temporary folder and its
    /// committer thread.
    pub(crate) fn open(
        root: &Path,
        hash: HashAlgorithm,
        opts: &IntakeOptions,
        observer: Arc<dyn ImportObserver + Send + Sync>,
    ) -> Result<Intake, ImportError> {
        if opts.project.trim().is_empty() || opts.project.chars().any(char::is_control) {
            return Err(ImportError::ProjectName {
                name: opts.project.clone(),
            });
        }
        let index = layout::index_path(root);
        let db_err = |op: &'static str| move |source| ImportError::Db { op, source };
        let mut db = Db::open(&index).map_err(|e| match e {
            crate::db::MigrateError::Sql(source) => ImportError::Db {
                op: "opening the index",
                source,
            },
            crate::db::MigrateError::Newer { .. } => ImportError::Db {
                op: "opening the index (written by a newer depot)",
                source: rusqlite::Error::InvalidQuery,
            },
        })?;
        let inputs = serde_json::to_string(&[&opts.origin]).unwrap_or_else(|_| "[]".into());
        let (project_id, run_id) = db
            .start_run(&opts.project, &inputs)
            .map_err(db_err("starting an import run"))?;
        if let Some(label) = &opts.deidentified {
            db.mark_run_deidentified(run_id, label)
                .map_err(db_err("recording the run's de-identification"))?;
        }
        let run_dir = RunDir::create(root).map_err(|source| ImportError::Write {
            path: root.join(layout::TMP_DIR),
            source,
        })?;
        let shared = Arc::new(Shared {
            root: root.to_path_buf(),
            index,
            project_id,
            hash,
            run_dir,
            opts: ImportOptions {
                project: opts.project.clone(),
                workers: 1,
                batch_files: opts.max_batch.clamp(1, import::MAX_BATCH_FILES),
                batch_interval: Duration::ZERO,
                durable: opts.durable,
            },
            observer,
            readers: Mutex::new(Vec::new()),
            big_file: Mutex::new(()),
        });
        let (tx, rx) = channel::<Pending>();
        let committer = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("depot-intake-commit".into())
                .spawn(move || commit_loop(&shared, db, run_id, &rx))
                .map_err(|source| ImportError::Threads { source })?
        };
        Ok(Intake {
            shared,
            tx: Mutex::new(Some(tx)),
            committer: Mutex::new(Some(committer)),
        })
    }

    /// Files one complete DICOM file held in memory, named `source` in the index and in
    /// messages. Returns its outcome once the batch holding it committed (imported and
    /// duplicate files are then durable). `expect`, when given, must match the file's own
    /// SOP Class and Instance UIDs, or the file is rejected.
    pub fn submit(
        &self,
        source: &str,
        file: &[u8],
        expect: Option<&Expected>,
    ) -> Result<FileOutcome, IntakeError> {
        let reader = self.shared.take_reader();
        let prepared = import::prepare_bytes(
            &self.shared.ctx(),
            reader.as_ref(),
            source.to_string(),
            file,
            Origin::File,
        );
        self.shared.put_reader(reader);
        self.commit(checked(prepared, expect))
    }

    /// A new, empty temporary file in the intake's folder, for a file too big to hold in
    /// memory; submit it with [`Intake::submit_spooled`].
    pub fn spool(&self) -> Result<Spool, IntakeError> {
        let path = self.shared.run_dir.temp_path("recv");
        match File::create_new(&path) {
            Ok(f) => Ok(Spool {
                path,
                file: Some(f),
            }),
            Err(source) => Err(IntakeError::Spool { path, source }),
        }
    }

    /// [`Intake::submit`] for a file written to a [`Spool`]; the spool is deleted either way.
    pub fn submit_spooled(
        &self,
        source: &str,
        mut spool: Spool,
        expect: Option<&Expected>,
    ) -> Result<FileOutcome, IntakeError> {
        if let Some(mut f) = spool.file.take()
            && let Err(e) = f.flush()
        {
            return Err(IntakeError::Spool {
                path: spool.path.clone(),
                source: e,
            });
        }
        let reader = self.shared.take_reader();
        let mut buf = Vec::new();
        let prepared = import::prepare_file(
            &self.shared.ctx(),
            reader.as_ref(),
            &spool.path,
            source.to_string(),
            &mut buf,
            Origin::File,
        );
        self.shared.put_reader(reader);
        drop(spool);
        self.commit(checked(prepared, expect))
    }

    /// Records a file its sender sent but the caller refuses to file (e.g. it could not be
    /// de-identified on the way in): a `rejected` row with `reason`, committed like any
    /// outcome. Nothing of the file is stored.
    pub fn refuse(
        &self,
        source: &str,
        reason: &str,
        file: &[u8],
    ) -> Result<FileOutcome, IntakeError> {
        self.commit(Prepared::Rejected {
            source: source.to_string(),
            reason: reason.to_string(),
            content_hash: Some(self.shared.hash.hex(file)),
            size: Some(file.len() as u64),
        })
    }

    fn commit(&self, prepared: Prepared) -> Result<FileOutcome, IntakeError> {
        let (reply, answer) = sync_channel(1);
        let sent = {
            let tx = self.tx.lock().unwrap_or_else(PoisonError::into_inner);
            match tx.as_ref() {
                Some(tx) => tx.send(Pending { prepared, reply }).map_err(|e| e.0),
                None => Err(Pending { prepared, reply }),
            }
        };
        if let Err(pending) = sent {
            discard(pending.prepared);
            return Err(IntakeError::Closed);
        }
        match answer.recv() {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(reason)) => Err(IntakeError::Failed { reason }),
            Err(_) => Err(IntakeError::Closed),
        }
    }

    /// Closes the intake: waits for the batches in flight, writes the run's counts and returns
    /// them. Submissions after (or during) this fail with [`IntakeError::Closed`]. Calling it
    /// again returns an empty summary.
    pub fn finish(&self) -> Result<ImportSummary, ImportError> {
        drop(
            self.tx
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let handle = self
            .committer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match handle {
            Some(h) => h.join().map_err(|_| ImportError::WorkerDied)?,
            None => Ok(ImportSummary::default()),
        }
    }
}

impl Drop for Intake {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// Removes what a refused submission staged.
fn discard(prepared: Prepared) {
    if let Prepared::Candidate {
        temp: Some(temp), ..
    } = prepared
    {
        let _ = fs::remove_file(temp);
    }
}

/// Rejects a staged file whose UIDs are not the expected ones.
fn checked(prepared: Prepared, expect: Option<&Expected>) -> Prepared {
    let Some(expect) = expect else {
        return prepared;
    };
    let Prepared::Candidate {
        source,
        facts,
        content_hash,
        size,
        temp,
    } = prepared
    else {
        return prepared;
    };
    let class_ok = facts
        .sop_class_uid
        .as_deref()
        .is_none_or(|c| c == expect.sop_class_uid);
    let reason = if facts.sop_uid != expect.sop_instance_uid {
        Some(format!(
            "the data set's SOPInstanceUID {} is not the one it was sent as ({})",
            facts.sop_uid, expect.sop_instance_uid
        ))
    } else if !class_ok {
        Some(format!(
            "the data set's SOPClassUID {} is not the one it was sent as ({})",
            facts.sop_class_uid.as_deref().unwrap_or_default(),
            expect.sop_class_uid
        ))
    } else {
        None
    };
    match reason {
        None => Prepared::Candidate {
            source,
            facts,
            content_hash,
            size,
            temp,
        },
        Some(reason) => {
            if let Some(t) = temp {
                let _ = fs::remove_file(t);
            }
            Prepared::Rejected {
                source,
                reason,
                content_hash: Some(content_hash),
                size: Some(size),
            }
        }
    }
}

/// The committer: greedy batches until every sender is gone, then the run's final row.
fn commit_loop(shared: &Shared, mut db: Db, run_id: i64, rx: &Receiver<Pending>) -> Closing {
    let started = Instant::now();
    let ctx = shared.ctx();
    let mut tally = Tally::default();
    let mut last_error: Option<String> = None;
    {
        let mut committer = Committer {
            ctx: &ctx,
            db: &mut db,
            run_id,
            project_id: shared.project_id,
            tally: &mut tally,
        };
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while batch.len() < shared.opts.batch_files {
                match rx.try_recv() {
                    Ok(p) => batch.push(p),
                    Err(_) => break,
                }
            }
            let (items, replies): (Vec<Prepared>, Vec<_>) =
                batch.into_iter().map(|p| (p.prepared, p.reply)).unzip();
            match committer.flush(items) {
                Ok(outcomes) => {
                    let mut outcomes = outcomes.into_iter();
                    for reply in replies {
                        let answer = outcomes.next().ok_or_else(|| {
                            "internal error: the batch reported fewer outcomes than files".into()
                        });
                        let _ = reply.send(answer);
                    }
                }
                Err(e) => {
                    let reason = import::error_chain(&e);
                    for reply in replies {
                        let _ = reply.send(Err(reason.clone()));
                    }
                    last_error = Some(reason);
                }
            }
        }
    }
    db.finish_run(run_id, &tally.counts, last_error.as_deref())
        .map_err(|source| ImportError::Db {
            op: "finishing the import run",
            source,
        })?;
    Ok(tally.into_summary(run_id, &shared.opts.project, started))
}
