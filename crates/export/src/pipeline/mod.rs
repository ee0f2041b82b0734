//! Exporting a selection of the archive as a package at a chosen level: plan, check, write,
//! audit, publish.
//!
//! The order matters for the people relying on it:
//! 1. **Plan.** Refuse a destination that overlaps the archive (a `--force` over it would
//!    delete the archive) or that exists without `force`. Select instances in the archive and
//!    read every header once (header only, up to Pixel Data). Each header is de-identified in
//!    memory with the real engine, so the plan knows what the files will say: the keys they
//!    would be grouped by on re-import, and whether their pixels may carry burned-in text.
//!    The same read collects, per archive subject, every identifying value its files carry
//!    (the index holds only the first one seen: a patient's birth name in an older study would
//!    otherwise be neither cut nor searched), and the original UIDs the level remaps.
//! 2. **Check.** Compare the would-be grouping with the archive's ([`crate::regroup`]) and
//!    collect the warnings. Series that may carry burned-in text are left out at levels that
//!    remove identity, unless the caller includes them; they are listed either way. A dry run
//!    stops here, having written nothing.
//! 3. **Write.** De-identify every file in parallel (each read once, in full), with every
//!    identifier of its subject seen in the plan (the plan's de-identified header is used
//!    when it was made with all of them: `reuse`), hash it, audit its bytes, and add it to
//!    the staging package, with its checksum by the manifest's algorithm (`req.checksum`).
//!    `original` copies the stored bytes and checks them against the archive's content hash
//!    while doing so (one hash when the algorithms agree, else both in one pass).
//! 4. **Audit and publish.** Write the manifest, audit every path and the manifest, record
//!    every finding in the manifest ([`crate::findings`]), sync, and move the package into
//!    place. At a level that claims to remove identity, a blocking finding that the profile
//!    does not accept ([`anon_core::Acceptance`]) stops publication: the complete package goes
//!    to the archive's quarantine ([`crate::quarantine`]) for a person to review and release
//!    ([`crate::release`]) or discard. A level that keeps identifying data by design
//!    (`anonymize`, `qmenta`, `sup142`) is audited only for the values it promises to remove,
//!    and its findings are advisory: recorded, and the package published. Findings name file,
//!    tag path and kind, never the value.
//!
//! Package layout, at every level: `SUBJECT/STUDY/SERIES/NNNNN.dcm` plus `manifest.json` and
//! `manifest.csv`. SUBJECT is the subject's keyed pseudonym (its archive code at `original`),
//! STUDY the archive's study number (renumbered 1..n over the whole archive when archive
//! subjects of several projects share one pseudonym, so their studies never share a folder and
//! a path names the same study whatever the selection, see `numbering`), SERIES
//! the archive's series label, NNNNN the instance's position in its series. Nothing from the
//! data's text ever reaches a path.

mod assembly;
mod check;
mod destination;
mod error;
mod kept_file;
mod needles;
mod numbering;
mod others;
mod plan;
mod plan_codec;
mod plan_store;
mod planned;
mod publish;
mod request;
mod reuse;
mod selected;
mod subjects;
mod summary;
mod write;

use std::collections::HashMap;
use std::time::Instant;

use anon_core::{Deidentifier, Key};
use archive::Archive;
use audit::Finding;

use crate::findings::Judge;
use crate::package::{Package, PackageKind};
use crate::quarantine::{Quarantine, SpoolSlot};

use kept_file::KeptFile;
use reuse::{KEEP_IN_MEMORY, KEEP_ON_DISK, Keeping};
use selected::Names;

pub use destination::check_destination;
pub use error::{ExportError, FileError, FileFailure, PlanError, WriteError};
pub use plan_store::PLAN_IN_MEMORY;

/// How many bytes of original UIDs an export gathers in memory (see
/// [`ExportRequest::uids_in_memory`]).
pub const UIDS_IN_MEMORY: usize = audit::OriginalUids::LIMIT;
pub use request::{ExportObserver, ExportRequest, Quiet};
pub use summary::{BurnedInSeries, EngineWarning, ExportSummary};

pub(crate) use subjects::index_needles;

/// Runs an export. See the module documentation for the order of steps.
pub fn export(
    archive: &Archive,
    req: &ExportRequest,
    observer: &dyn ExportObserver,
) -> Result<ExportSummary, ExportError> {
    let started = Instant::now();
    // Refuse a destination that overlaps the archive, or exists (without `force`, or is no
    // depot package), before any work (and in a dry run, which must say what the real run
    // would do). The caller checks the key file the same way before loading it.
    check_destination(archive.root(), &req.out, None, req.force)?;
    let profile = &req.profile;
    let original = !profile.changes_anything();
    let key = match &req.key {
        Some(k) => k.clone(),
        None => Key::from_bytes(archive.secret("deid").map_err(ExportError::Key)?),
    };
    let deid = Deidentifier::new(profile.clone(), key.clone());

    let names = Names::default();
    let mut plan = plan::select(archive, &req.selection, &names, req.plan_in_memory)?;
    let codes = plan::subject_codes(&plan)?;
    let mut subjects = subjects::subject_facts(archive, codes.iter().map(|c| &**c))?;
    drop(codes);

    // 1. Plan: read and de-identify every header once, collecting what the headers say, and
    // keeping the de-identified headers for the write phase (past an allowance in memory, in
    // a temporary file in the archive's `tmp/`; none for a dry run, which writes nothing).
    observer.phase("reading headers", plan.len() as u64);
    let keeping = (!req.dry_run && !original).then(|| {
        let tmp = archive.root().join(archive::layout::TMP_DIR);
        Keeping::new(KEEP_IN_MEMORY, KeptFile::create(&tmp, KEEP_ON_DISK).ok())
    });
    let tmp = archive.root().join(archive::layout::TMP_DIR);
    let reading = plan::Reading {
        root: archive.root(),
        names: &names,
        original,
        keeping: keeping.as_ref(),
        uids: plan::UidSpill {
            dir: Some(&tmp),
            in_memory: req.uids_in_memory,
        },
    };
    let mut seen = plan::read_headers(&deid, &subjects, &mut plan, &reading, observer)?;
    for (code, s) in std::mem::take(&mut seen.subjects) {
        if let Some(f) = subjects.get_mut(&code) {
            f.add_seen(s);
        }
    }
    // The subjects' stored files the selection leaves out: their values are cut and searched
    // too (as `depot audit` searches them).
    if !original {
        others::add_other_files(archive, &deid, &plan, &mut subjects, &mut seen, observer)?;
    }
    let shared = if original {
        HashMap::new()
    } else {
        numbering::shared_study_numbers(archive, &deid, &subjects)?
    };
    numbering::number_files(&mut plan, &shared)?;

    // 2. Check: burned-in series and regrouping.
    let leave_out_burned_in = profile.removes_identity() && !req.include_burned_in;
    let (warnings, burned_in) = check::check(
        &mut plan,
        leave_out_burned_in,
        &mut seen,
        profile.remaps_uids(),
        Some(&tmp),
    )?;
    // The keys were for the check only.
    seen.series_keys = HashMap::new();
    observer.planned(plan.len() as u64);

    let mut manifest = assembly::base_manifest(
        profile,
        &key,
        original,
        &plan,
        &warnings,
        &burned_in,
        req.checksum,
    )?;
    if plan.len() == 0 {
        return Err(ExportError::AllLeftOut(burned_in.len()));
    }
    // Where each file sits in the archive was needed for the warnings only (on disk, it takes
    // no memory).
    if !plan.on_disk() {
        plan.rewrite(|batch| -> Result<(), ExportError> {
            batch
                .iter_mut()
                .for_each(planned::Planned::forget_placement);
            Ok(())
        })?;
    }
    let summary = |manifest, findings, engine_warnings, audit| ExportSummary {
        published: None,
        quarantined: None,
        findings,
        kind: PackageKind::for_destination(&req.out),
        level: profile.level(),
        profile_name: profile.name().to_string(),
        manifest,
        warnings: warnings.clone(),
        burned_in: burned_in.clone(),
        engine_warnings,
        audit,
        elapsed: started.elapsed(),
    };
    if req.dry_run {
        return Ok(summary(manifest, Vec::new(), Vec::new(), None));
    }

    // 3. Write. Every level that changes files is audited; the needles are the values the
    // level removes (see `needles`). At levels that claim to remove identity (basic,
    // anonymize-full and profiles built on them) a finding stops publication. `anonymize`,
    // `qmenta` and `sup142` change their listed attributes only and keep the rest by design
    // (NiDB's default level keeps PatientID, dates and every other text): there the findings
    // are advisory, printed and recorded in the manifest, and the package is published.
    let auditor = if original {
        None
    } else {
        Some(needles::auditor(&deid, &subjects, &plan, &mut seen)?)
    };
    // Every original and kept UID the headers held: in the auditor now, where searched.
    drop(seen);
    let package = Package::create(&req.out, req.force)?;
    // A file whose findings block publication is held back in the archive's quarantine, never
    // staged beside the destination.
    let at = archive::db::now();
    let judge = Judge {
        blocking_level: profile.removes_identity(),
        profile,
        at: &at,
    };
    let spool = SpoolSlot::new(&Quarantine::of(archive.root()));
    observer.phase("writing", plan.len() as u64);
    let sinks = write::Sinks {
        root: archive.root(),
        checksum: req.checksum,
        keeping: keeping.as_ref(),
        auditor: auditor.as_ref(),
        judge: &judge,
        package: &package,
        spool: &spool,
    };
    let notes = write::write_all(&deid, &subjects, &mut plan, original, &sinks, observer)?;
    // The kept headers' temporary file is given back before the package is audited and
    // published (it shares the archive's file system with the quarantine).
    drop(keeping);
    let mut findings: Vec<Finding> = Vec::new();
    let mut engine_warnings = Vec::new();
    for (rel, notes) in notes {
        let write::Notes {
            findings: mut found,
            warnings,
        } = notes;
        findings.append(&mut found);
        engine_warnings.extend(warnings.into_iter().map(|message| EngineWarning {
            file: rel.clone(),
            message,
        }));
    }
    let files = assembly::plan_files(&mut manifest, &plan)?;
    let bytes = manifest.counts.bytes;

    // 4. Audit the rest, record every finding in the manifest, publish (or quarantine).
    let staged = publish::Staged {
        package,
        spool,
        findings,
        bytes,
        judge: &judge,
    };
    let dest = publish::Destination {
        out: &req.out,
        force: req.force,
        key_file: req.key_file.as_deref(),
    };
    let outcome = publish::finish(
        archive,
        &plan,
        &mut manifest,
        &files,
        auditor.as_ref(),
        staged,
        &dest,
    )?;
    Ok(ExportSummary {
        published: outcome.published,
        quarantined: outcome.quarantined,
        ..summary(manifest, outcome.findings, engine_warnings, outcome.audit)
    })
}
