//! The write phase: every planned file read once in full, de-identified with every identifier
//! of its subject (or given the plan's de-identified header when that is the same, see
//! `reuse`), hashed, audited, and added to the staging package (or, when its findings block
//! publication, held back in the archive's quarantine); `original` copies the stored bytes,
//! checked against the index's content hash (hashed once when the manifest's checksum is of
//! the archive's algorithm, else by both in one pass).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anon_core::Deidentifier;
use archive::HashAlgorithm;
use audit::written::Generated;
use audit::{Auditor, Finding};
use rayon::prelude::*;

use crate::deid_file::{deidentify_with, reuse_header};
use crate::findings::Judge;
use crate::package::Package;
use crate::quarantine::SpoolSlot;
use crate::spliced::Spliced;
use crate::stored::read_stored;

use super::error::{ExportError, FileFailure, WriteError};
use super::plan::put_patient_id;
use super::plan_store::PlanStore;
use super::planned::{Planned, WrittenFile};
use super::request::ExportObserver;
use super::reuse::Keeping;
use super::subjects::{SubjectFacts, context_from};

/// What writing one file produced (held for every file until the manifest lists them: kept
/// small).
pub(crate) struct Written {
    /// The checksum of the file as written, by the manifest's algorithm (both give 32 bytes).
    pub(crate) digest: [u8; 32],
    pub(crate) bytes: u64,
    /// Its findings and the engine's warnings, if any.
    pub(crate) notes: Option<Box<Notes>>,
}

/// A written file's findings and the engine's warnings about it.
pub(crate) struct Notes {
    pub(crate) findings: Vec<Finding>,
    pub(crate) warnings: Vec<String>,
}

/// Where `write_one` audits and puts a file, and how it checksums it.
pub(crate) struct Sinks<'a> {
    /// The archive's root (where the stored files are).
    pub(crate) root: &'a Path,
    /// The manifest's checksum algorithm.
    pub(crate) checksum: HashAlgorithm,
    /// Where the plan kept its de-identified headers (none at `original`).
    pub(crate) keeping: Option<&'a Keeping>,
    pub(crate) auditor: Option<&'a Auditor>,
    pub(crate) judge: &'a Judge<'a>,
    pub(crate) package: &'a Package,
    pub(crate) spool: &'a SpoolSlot,
}

/// The encoded file with the pseudonym added as PatientID (rare: subjects whose files have no
/// PatientID element at all). The file is parsed whole and encoded again in its own transfer
/// syntax.
pub(crate) fn add_patient_id(bytes: &[u8], pseudonym: &str) -> Result<Vec<u8>, WriteError> {
    let mut obj = crate::deid_file::parse(bytes, false).map_err(WriteError::Reparse)?;
    put_patient_id(&mut obj, pseudonym);
    let mut out = Vec::with_capacity(bytes.len() + 32);
    obj.write_all(&mut out)
        .map_err(|e| WriteError::Encode(Box::new(e)))?;
    Ok(out)
}

/// Writes one planned file.
pub(crate) fn write_one(
    deid: &Deidentifier,
    subjects: &HashMap<String, SubjectFacts>,
    p: &Planned,
    original: bool,
    sinks: &Sinks<'_>,
) -> Result<Written, FileFailure> {
    let rel = p.rel();
    let fail = |error: WriteError| FileFailure {
        file: rel.clone(),
        error: Box::new(error.into()),
    };
    let path = p.record.path(sinks.root);
    let input = read_stored(&path, p.record.size).map_err(|e| fail(e.into()))?;
    let (bytes, warnings, checksum, generated) = if original {
        let stored = p.record.hash_algorithm;
        let (actual, checksum) = stored.digest_with(sinks.checksum, &input);
        if hex::encode(actual) != p.record.content_hash() {
            return Err(fail(WriteError::ContentHashMismatch {
                path: PathBuf::from(path),
                algorithm: stored,
            }));
        }
        (Spliced::from(input), Vec::new(), checksum, None)
    } else {
        let facts = subjects
            .get(&*p.record.subject)
            .ok_or_else(|| fail(WriteError::SubjectVanished))?;
        // The plan's header when it is the one this file gets (see `reuse`), else the whole
        // work.
        let kept = sinks
            .keeping
            .and_then(|k| k.take(&p.kept))
            .filter(|kept| !p.add_patient_id && kept.complete_for(facts));
        let (input, reused) = match kept {
            Some(kept) => match reuse_header(deid, input, &kept.header) {
                Ok(out) => (Vec::new(), Some((out, kept.warnings, kept.generated))),
                Err(input) => (input, None),
            },
            None => (input, None),
        };
        let (out, warnings, generated) = match reused {
            Some(done) => done,
            None => {
                let (pseudonym, mut out, report) = deidentify_with(deid, &input, |obj| {
                    let ctx = context_from(deid.subject_context(obj), deid, facts);
                    let pseudonym = ctx.pseudonym.clone();
                    Ok((ctx, pseudonym))
                })
                .map_err(|e| fail(e.into()))?;
                if p.add_patient_id {
                    out = add_patient_id(&out, &pseudonym).map_err(fail)?;
                }
                let generated = Generated::from_report(&report);
                (Spliced::from(out), report.warnings, generated)
            }
        };
        drop(input);
        // The engine's note on a missing PatientID concerns its own pseudonym; here the
        // archive's subject decides the pseudonym, so the note would mislead. (The engine
        // reports warnings as text only; this is its wording.)
        let warnings = warnings
            .into_iter()
            .filter(|w| !w.starts_with("no PatientID"))
            .collect();
        let checksum = sinks.checksum.digest(&out);
        (out, warnings, checksum, Some(generated))
    };
    let findings = match (sinks.auditor, &generated) {
        (Some(a), Some(generated)) => a.scan_file_computed(&rel, &bytes, generated),
        (Some(a), None) => a.scan_file(&rel, &bytes),
        (None, _) => Vec::new(),
    };
    // A file whose findings block publication is held back in the archive's quarantine (the
    // package waits there, whole); never staged beside the destination.
    if sinks.judge.blocks(&findings) {
        sinks.spool.add(&rel, &bytes).map_err(|e| fail(e.into()))?;
    } else {
        sinks
            .package
            .add(&rel, &bytes)
            .map_err(|e| fail(e.into()))?;
    }
    let notes = (!findings.is_empty() || !warnings.is_empty())
        .then(|| Box::new(Notes { findings, warnings }));
    Ok(Written {
        digest: checksum,
        bytes: bytes.len() as u64,
        notes,
    })
}

/// The files of the plan, written in parallel (two workers per core: while one waits on a
/// read, another computes; each holds one file in and one out, so memory stays bounded), a
/// batch of the plan at a time, each file's checksum and size put in its plan entry. Returns
/// the findings and engine warnings of the files that have any, with their package paths, in
/// plan order. A file that cannot be written stops the export, with every such file named.
pub(crate) fn write_all(
    deid: &Deidentifier,
    subjects: &HashMap<String, SubjectFacts>,
    plan: &mut PlanStore,
    original: bool,
    sinks: &Sinks<'_>,
    observer: &dyn ExportObserver,
) -> Result<Vec<(String, Notes)>, ExportError> {
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .build()
        .ok();
    let mut failures: Vec<FileFailure> = Vec::new();
    let mut notes: Vec<(String, Notes)> = Vec::new();
    plan.rewrite(|batch| -> Result<(), ExportError> {
        // Only what is not the usual (a failure, or notes) is collected.
        let mut write = || -> Vec<Result<(String, Notes), FileFailure>> {
            batch
                .par_iter_mut()
                .filter_map(|p| {
                    let r = write_one(deid, subjects, p, original, sinks);
                    observer.advance();
                    match r {
                        Ok(w) => {
                            p.written = Some(WrittenFile {
                                digest: w.digest,
                                bytes: w.bytes,
                            });
                            w.notes.map(|n| Ok((p.rel(), *n)))
                        }
                        Err(e) => Some(Err(e)),
                    }
                })
                .collect()
        };
        let results = match &pool {
            Some(pool) => pool.install(write),
            None => write(),
        };
        for r in results {
            match r {
                Ok(n) => notes.push(n),
                Err(e) => failures.push(e),
            }
        }
        Ok(())
    })?;
    if !failures.is_empty() {
        return Err(ExportError::Files(failures));
    }
    Ok(notes)
}
