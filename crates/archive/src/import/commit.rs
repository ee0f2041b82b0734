//! The committer: the single thread that owns the write side of the index. It files each batch
//! in one `BEGIN IMMEDIATE` transaction (duplicates, conflicts, placement, rejects), journals
//! and renames the staged files into the store, fsyncs the touched folders, commits, and only
//! then reports the batch's outcomes.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Instant;

use super::pipeline::{Ctx, Prepared, Tally};
use super::report::{FileOutcome, Outcome};
use crate::db::{Db, Placement, RejectRow};
use crate::error::ImportError;
use crate::layout;
use crate::records::RejectKind;
use crate::store;

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
    pub(super) fn run(&mut self, results: &Receiver<Prepared>) -> Result<(), ImportError> {
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
                    content_hash,
                    size,
                } => {
                    b.record_reject(&RejectRow {
                        kind: RejectKind::Rejected,
                        source_path: &source,
                        reason: &reason,
                        content_hash: content_hash.as_deref(),
                        size,
                        sop_uid: None,
                        existing_hash: None,
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
                    content_hash,
                    size,
                    temp,
                } => {
                    let existing = b
                        .find_instance(&facts.sop_uid)
                        .map_err(db_err("looking up an instance"))?;
                    let conflict = match existing {
                        Some(ex)
                            if ex.content_hash == content_hash
                                && ex.project_id == self.project_id =>
                        {
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
                        Some(ex) if ex.content_hash == content_hash => Some((
                            format!(
                                "conflict: SOPInstanceUID {} is already archived, with the same content, in project {:?} (subject {}); a study belongs to one project, so this file is kept apart, not filed in this project",
                                facts.sop_uid, ex.project, ex.subject_code
                            ),
                            Some(ex.content_hash),
                        )),
                        Some(ex) => Some((
                            format!(
                                "conflict: SOPInstanceUID {} is already archived with different content (archived {} {}, this file {}); kept apart, the archived file is unchanged",
                                facts.sop_uid, self.ctx.hash, ex.content_hash, content_hash
                            ),
                            Some(ex.content_hash),
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
                            content_hash: Some(&content_hash),
                            size: Some(size),
                            sop_uid: Some(&facts.sop_uid),
                            existing_hash: None,
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
                    let (reason, existing_hash) = match conflict {
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
                                    &content_hash,
                                );
                                b.insert_instance(
                                    series_id,
                                    &facts,
                                    &content_hash,
                                    size,
                                    &rel,
                                    &source,
                                )
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
                        let rel = layout::conflict_rel(&content_hash);
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
                            content_hash: Some(&content_hash),
                            size: Some(size),
                            sop_uid: Some(&facts.sop_uid),
                            existing_hash: existing_hash.as_deref(),
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
