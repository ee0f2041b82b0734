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
//!    identifier of its subject seen in the plan, hash it, audit its bytes, and add it to the
//!    staging package. `original` copies the stored bytes and checks them against the archive's
//!    SHA-256 while doing so.
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
//! a path names the same study whatever the selection, see [`shared_study_numbers`]), SERIES
//! the archive's series label, NNNNN the instance's position in its series. Nothing from the
//! data's text ever reaches a path.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anon_core::identity::{self, OTHER_PATIENT_IDS, PATIENT_ATTRIBUTES, SUBJECT_ATTRIBUTES};
use anon_core::{Action, Deidentifier, Key, Level, Profile, SubjectContext};
use archive::{Archive, FactsError, Filter, HeaderFacts, InstanceRecord, SubjectKey};
use dicom_core::header::Header;
use dicom_core::value::Value;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::deid_file::deidentify_with;
use crate::findings::{FindingRecord, Judge};
use crate::manifest::{self, Manifest};
use crate::package::{Package, PackageError, PackageKind};
use crate::quarantine::{
    Entry, Manifests, Quarantine, QuarantineError, QuarantineInfo, QuarantineRecord, SpoolSlot,
};
use crate::regroup::{self, Placement, RegroupWarning};
use crate::stored_values::header_needles;
use audit::owners::OwnedNeedle;
use audit::written::WrittenValues;
use audit::{AuditReport, Auditor, Finding, Needle, Rules, ValueKind};

/// What to export, how, and where.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// Which instances (project, subject code, study/series UID, modality, dates).
    pub selection: Filter,
    /// The de-identification profile, options and flags already applied.
    pub profile: Profile,
    /// The key for pseudonyms and UIDs; `None` uses the archive's own key.
    pub key: Option<Key>,
    /// The package: a folder, or a zip when the name ends in `.zip`.
    pub out: PathBuf,
    /// Plan and check only; write nothing.
    pub dry_run: bool,
    /// Replace an existing package at `out`.
    pub force: bool,
    /// Keep series that may carry burned-in text at levels that would leave them out.
    pub include_burned_in: bool,
    /// The key file `key` was read from, if any: recorded with a quarantined package, whose
    /// later release must not overlap it either.
    pub key_file: Option<PathBuf>,
}

/// Progress reports, from worker threads.
pub trait ExportObserver: Sync {
    /// The plan is made: this many files will be written.
    fn planned(&self, _files: u64) {}
    /// A phase starts (`reading headers`, `writing`, `auditing`).
    fn phase(&self, _name: &'static str, _total: u64) {}
    /// One more file of the current phase is done.
    fn advance(&self) {}
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;
impl ExportObserver for Quiet {}

/// A series left out of (or flagged in) the package because its pixels may carry text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BurnedInSeries {
    /// Archive label (`S1234ABC/1/3`).
    pub archive_series: String,
    /// Package label (e.g. `PQ2WJ6ZR4TA/1/3`).
    pub package_series: String,
    /// Modality.
    pub modality: String,
    /// Why.
    pub reason: String,
    /// Whether it is in the package.
    pub included: bool,
}

/// What an export did (or, in a dry run, would do).
#[derive(Debug, Clone)]
pub struct ExportSummary {
    /// Where the package is (`None` for a dry run or a quarantined package).
    pub published: Option<PathBuf>,
    /// The quarantine entry holding the package, when a blocking finding stopped publication.
    pub quarantined: Option<Entry>,
    /// Every finding, numbered and judged, as the manifest records them.
    pub findings: Vec<FindingRecord>,
    /// Folder or zip.
    pub kind: PackageKind,
    /// The manifest as written (or as it would be).
    pub manifest: Manifest,
    /// Regrouping warnings, naming archive groups by their archive codes.
    pub warnings: Vec<RegroupWarning>,
    /// Series flagged for possible burned-in text.
    pub burned_in: Vec<BurnedInSeries>,
    /// Per-file warnings of the engine (file label, message).
    pub engine_warnings: Vec<(String, String)>,
    /// The audit (absent for a dry run or at `original`).
    pub audit: Option<AuditReport>,
    /// Wall time.
    pub elapsed: Duration,
}

/// Why an export stopped. Nothing is published in any of these cases.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The archive could not be queried.
    #[error("cannot read the archive index")]
    Query(#[from] archive::QueryError),
    /// The archive's key could not be read or created.
    #[error("cannot read the archive's key")]
    Key(#[source] archive::OpenError),
    /// The destination is the archive, lies inside it, or contains it: writing (or, with
    /// `force`, replacing) it would damage the archive.
    #[error(
        "{out} overlaps the archive {archive} (it is, contains or lies inside the archive); choose a destination outside it"
    )]
    OverlapsArchive {
        /// The destination as given.
        out: PathBuf,
        /// The archive's root.
        archive: PathBuf,
    },
    /// The destination is the key file, lies inside it or contains it: writing (or, with
    /// `force`, replacing) it would destroy the key every pseudonym, UID and date offset comes
    /// from.
    #[error(
        "{out} overlaps the key file {key} (it is, contains or lies inside the key file); choose a destination that does not hold the key"
    )]
    OverlapsKeyFile {
        /// The destination as given.
        out: PathBuf,
        /// The key file as given.
        key: PathBuf,
    },
    /// The selection matched no instance.
    #[error("nothing to export: the selection matches no instance")]
    NothingSelected,
    /// Every selected series was left out for possible burned-in text.
    #[error(
        "nothing to export: all {0} selected series may carry burned-in text and are left out at this level (use --include-burned-in to export them anyway)"
    )]
    AllLeftOut(usize),
    /// Some archived files could not be read or de-identified; a package without them would
    /// silently lose data, so none is written. Each entry is (file label, reason).
    #[error("{}", describe_failures(.0))]
    Files(Vec<(String, String)>),
    /// Stored files of a package's subjects could not be read to learn the values their
    /// headers carry (`depot audit`, the check of a release's reason): a search without them
    /// would pass for complete. Each entry is (stored file, reason).
    #[error("{}", describe_unread(.0))]
    StoredFiles(Vec<(String, String)>),
    /// The package could not be built or published.
    #[error(transparent)]
    Package(#[from] PackageError),
    /// The audit could not run.
    #[error(transparent)]
    Audit(#[from] audit::AuditError),
    /// A package with blocking findings could not be put in quarantine (it was not
    /// published either).
    #[error("cannot put the package in quarantine")]
    Quarantine(#[from] QuarantineError),
}

fn describe_failures(failures: &[(String, String)]) -> String {
    match failures.first() {
        Some((file, reason)) => format!(
            "{} archived file(s) could not be exported; first: {file}: {reason}",
            failures.len()
        ),
        None => "archived files could not be exported".to_string(),
    }
}

fn describe_unread(failures: &[(String, String)]) -> String {
    match failures.first() {
        Some((file, reason)) => format!(
            "{} stored file(s) of the package's subjects could not be read, so their values cannot be searched; first: {file}: {reason}",
            failures.len()
        ),
        None => "stored files of the package's subjects could not be read".to_string(),
    }
}

/// One selected instance with everything the plan decided about it.
struct Planned {
    record: InstanceRecord,
    archive_series: String,
    subject_label: String,
    /// The study's number in the package (the archive's, unless several archive subjects
    /// share the subject folder).
    study: i64,
    rel: String,
    placement: Placement,
    burned_in: Option<String>,
    /// The exported header has no PatientID although the level writes the pseudonym there:
    /// the write phase adds it (see [`add_patient_id`]).
    add_patient_id: bool,
}

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

    let mut records = archive.instances(&req.selection)?;
    if records.is_empty() {
        return Err(ExportError::NothingSelected);
    }
    records.sort_by(|a, b| {
        (
            &a.subject,
            a.study_number,
            series_sort_key(&a.series_label),
            a.instance_number,
            &a.sop_uid,
        )
            .cmp(&(
                &b.subject,
                b.study_number,
                series_sort_key(&b.series_label),
                b.instance_number,
                &b.sop_uid,
            ))
    });
    let mut subjects = subject_facts(archive, records.iter().map(|r| r.subject.as_str()))?;

    // 1. Plan: read and de-identify every header once, collecting what the headers say.
    observer.phase("reading headers", records.len() as u64);
    let seen = Mutex::new(Seen::default());
    let collect = Collect {
        identity: !original,
        uids: profile.remaps_uids(),
        seen: &seen,
    };
    let planned: Vec<Result<Planned, (String, String)>> = records
        .into_par_iter()
        .map(|record| {
            let r = plan_one(&deid, &subjects, record, original, &collect);
            observer.advance();
            r
        })
        .collect();
    let mut failures = Vec::new();
    let mut plan = Vec::with_capacity(planned.len());
    for p in planned {
        match p {
            Ok(p) => plan.push(p),
            Err(f) => failures.push(f),
        }
    }
    if !failures.is_empty() {
        return Err(ExportError::Files(failures));
    }
    let seen = seen.into_inner().unwrap_or_else(|p| p.into_inner());
    let uid_needles = seen.uid_needles();
    for (code, s) in seen.subjects {
        if let Some(f) = subjects.get_mut(&code) {
            f.add_seen(s);
        }
    }
    let shared = if original {
        HashMap::new()
    } else {
        shared_study_numbers(archive, &deid, &subjects)?
    };
    number_files(&mut plan, &shared);

    // 2. Check: burned-in series and regrouping.
    let leave_out_burned_in = profile.removes_identity() && !req.include_burned_in;
    let mut burned_in: BTreeMap<String, BurnedInSeries> = BTreeMap::new();
    for p in &plan {
        if let Some(reason) = &p.burned_in {
            burned_in
                .entry(p.archive_series.clone())
                .or_insert_with(|| BurnedInSeries {
                    archive_series: p.archive_series.clone(),
                    package_series: package_series_label(&p.rel),
                    modality: p.record.modality.clone().unwrap_or_default(),
                    reason: reason.clone(),
                    included: !leave_out_burned_in,
                });
        }
    }
    if leave_out_burned_in {
        plan.retain(|p| !burned_in.contains_key(&p.archive_series));
    }
    let placements: Vec<Placement> = plan.iter().map(|p| p.placement.clone()).collect();
    let warnings = regroup::check(&placements);
    let burned_in: Vec<BurnedInSeries> = burned_in.into_values().collect();
    observer.planned(plan.len() as u64);

    let mut manifest = base_manifest(profile, &key, original, &plan, &warnings, &burned_in);
    if plan.is_empty() {
        return Err(ExportError::AllLeftOut(burned_in.len()));
    }
    if req.dry_run {
        return Ok(ExportSummary {
            published: None,
            quarantined: None,
            findings: Vec::new(),
            kind: PackageKind::for_destination(&req.out),
            manifest,
            warnings,
            burned_in,
            engine_warnings: Vec::new(),
            audit: None,
            elapsed: started.elapsed(),
        });
    }

    // 3. Write. Every level that changes files is audited; the needles are the values the
    // level removes (see `needles`). At levels that claim to remove identity (basic,
    // anonymize-full and profiles built on them) a finding stops publication. `anonymize`,
    // `qmenta` and `sup142` change their listed attributes only and keep the rest by design
    // (NiDB's default level keeps PatientID, dates and every other text): there the findings
    // are advisory, printed and recorded in the manifest, and the package is published.
    let blocking = profile.removes_identity();
    let auditor = if original {
        None
    } else {
        let instance_uids = plan.iter().flat_map(|p| {
            [
                ("StudyInstanceUID", p.record.study_uid.as_str()),
                ("SeriesInstanceUID", p.record.series_uid.as_str()),
                ("SOPInstanceUID", p.record.sop_uid.as_str()),
            ]
        });
        let needles = needles(
            profile,
            &deid,
            &subjects,
            plan.iter().map(|p| p.record.subject.as_str()),
            instance_uids
                .filter(|(_, uid)| !seen.kept_uids.contains(*uid))
                .map(|(l, u)| (l.to_string(), u.to_string()))
                .chain(uid_needles),
        );
        // Depot's own values are never findings: the engine's constants under the profile
        // and every exported subject's pseudonym (in the files, the paths and the manifest).
        let mut written = WrittenValues::new();
        written.add_profile(profile);
        for f in subjects.values() {
            written.add(&pseudonym_of(&deid, f));
        }
        Some(Auditor::owned(&needles, Rules::for_profile(profile))?.with_written(written))
    };
    let mut package = Package::create(&req.out, req.force)?;
    // A file whose findings block publication is held back in the archive's quarantine, never
    // staged beside the destination.
    let at = archive::db::now();
    let judge = Judge {
        blocking_level: blocking,
        profile,
        at: &at,
    };
    let spool = SpoolSlot::new(&Quarantine::of(archive.root()));
    observer.phase("writing", plan.len() as u64);
    // Two workers per core: while one waits on a read, another computes. Each holds one file
    // in and one out, so memory stays bounded.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
    let write_all = || -> Vec<Result<Written, (String, String)>> {
        plan.par_iter()
            .map(|p| {
                let sinks = Sinks {
                    auditor: auditor.as_ref(),
                    judge: &judge,
                    package: &package,
                    spool: &spool,
                };
                let r = write_one(&deid, &subjects, p, original, &sinks);
                observer.advance();
                r
            })
            .collect()
    };
    let written = match rayon::ThreadPoolBuilder::new().num_threads(workers).build() {
        Ok(pool) => pool.install(write_all),
        Err(_) => write_all(),
    };
    let mut files: HashMap<&str, Written> = HashMap::new();
    let mut findings: Vec<Finding> = Vec::new();
    let mut engine_warnings = Vec::new();
    for (p, w) in plan.iter().zip(written) {
        match w {
            Ok(mut w) => {
                findings.append(&mut w.findings);
                engine_warnings.extend(w.warnings.drain(..).map(|m| (p.rel.clone(), m)));
                files.insert(p.rel.as_str(), w);
            }
            Err(f) => failures.push(f),
        }
    }
    if !failures.is_empty() {
        return Err(ExportError::Files(failures));
    }
    fill_files(&mut manifest, &files);

    // 4. Audit the rest, record every finding in the manifest, publish (or quarantine).
    let mut report = None;
    let mut records = Vec::new();
    if let Some(auditor) = &auditor {
        let mut names: BTreeSet<String> = BTreeSet::new();
        for p in &plan {
            let mut prefix = String::new();
            for part in p.rel.split('/') {
                if !prefix.is_empty() {
                    prefix.push('/');
                }
                prefix.push_str(part);
                names.insert(prefix.clone());
            }
        }
        for n in &names {
            findings.extend(auditor.scan_path(n));
        }
        let sealed =
            crate::findings::seal(&mut manifest, auditor, findings, &judge, plan.len() + 2);
        let bytes: u64 = files.values().map(|w| w.bytes).sum();
        let audit = AuditReport {
            files: plan.len() + 2,
            bytes: bytes + sealed.json.len() as u64 + sealed.csv.len() as u64,
            values_searched: auditor.searched_values(),
            findings: sealed.findings.clone(),
        };
        // (A held-back file always has a finding awaiting acceptance; the second test is a
        // safety net.)
        if sealed.records.iter().any(FindingRecord::awaits_acceptance) || !spool.is_empty() {
            let subjects: BTreeSet<String> =
                plan.iter().map(|p| p.record.subject.clone()).collect();
            let record = QuarantineRecord::new(
                &manifest,
                &sealed,
                QuarantineInfo {
                    destination: &req.out,
                    force: req.force,
                    key_file: req.key_file.as_deref(),
                    audited_files: audit.files,
                    archive_subjects: subjects.into_iter().collect(),
                },
            );
            let order: Vec<String> = plan.iter().map(|p| p.rel.clone()).collect();
            let manifests = Manifests {
                json: &sealed.json,
                csv: &sealed.csv,
            };
            let entry =
                Quarantine::of(archive.root()).admit(package, spool, manifests, &order, record)?;
            return Ok(ExportSummary {
                published: None,
                quarantined: Some(entry),
                findings: sealed.records,
                kind: PackageKind::for_destination(&req.out),
                manifest,
                warnings,
                burned_in,
                engine_warnings,
                audit: Some(audit),
                elapsed: started.elapsed(),
            });
        }
        package.add("manifest.json", &sealed.json)?;
        package.add("manifest.csv", &sealed.csv)?;
        records = sealed.records;
        report = Some(audit);
    } else {
        package.add("manifest.json", &manifest.to_json())?;
        package.add("manifest.csv", &manifest.to_csv())?;
    }
    package.finish()?;
    let published = package.publish(req.force)?;
    Ok(ExportSummary {
        published: Some(published),
        quarantined: None,
        findings: records,
        kind: PackageKind::for_destination(&req.out),
        manifest,
        warnings,
        burned_in,
        engine_warnings,
        audit: report,
        elapsed: started.elapsed(),
    })
}

/// Refuses a destination an export must not write: one that is, contains or lies inside the
/// archive or the key file (`key_file`, when one is given; it may not exist yet), one that
/// exists without `force`, and, with `force`, one that is not a depot package (only a depot
/// package or an empty folder is ever replaced, see
/// [`crate::package::is_replaceable_package`]). Nothing is written. Run it before the key
/// file is loaded or created: `--key-file exports/irb.key --out exports --force` must not
/// create the key, then delete it.
pub fn check_destination(
    archive_root: &Path,
    out: &Path,
    key_file: Option<&Path>,
    force: bool,
) -> Result<(), ExportError> {
    check_outside_archive(archive_root, out)?;
    if let Some(key) = key_file {
        let k = canonical_or_nearest(key);
        let dest = canonical_or_nearest(out);
        if dest.starts_with(&k) || k.starts_with(&dest) {
            return Err(ExportError::OverlapsKeyFile {
                out: out.to_path_buf(),
                key: key.to_path_buf(),
            });
        }
    }
    crate::package::check_replaceable(out, force)?;
    Ok(())
}

/// Refuses a destination that is the archive, lies inside it, or contains it. Paths are
/// compared canonicalized (symlinks and `..` resolved); a destination that does not exist yet
/// is its nearest existing ancestor, canonicalized, with the rest of the path appended.
fn check_outside_archive(archive_root: &Path, out: &Path) -> Result<(), ExportError> {
    let overlap = || ExportError::OverlapsArchive {
        out: out.to_path_buf(),
        archive: archive_root.to_path_buf(),
    };
    let root = canonical_or_nearest(archive_root);
    let dest = canonical_or_nearest(out);
    if dest.starts_with(&root) || root.starts_with(&dest) {
        return Err(overlap());
    }
    Ok(())
}

/// `p` canonicalized; if it does not exist, its nearest existing ancestor canonicalized with
/// the missing components appended (`..` among them applied lexically: nothing below a
/// missing folder can be a symlink).
fn canonical_or_nearest(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut missing: Vec<std::ffi::OsString> = Vec::new();
    let mut cur: &Path = &abs;
    loop {
        if let Ok(c) = std::fs::canonicalize(cur) {
            let mut out = c;
            for part in missing.iter().rev() {
                match Path::new(part).components().next() {
                    Some(Component::ParentDir) => {
                        out.pop();
                    }
                    Some(Component::CurDir) | None => {}
                    Some(_) => out.push(part),
                }
            }
            return out;
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                missing.push(name.to_os_string());
                cur = parent;
            }
            (Some(parent), None) => {
                // `cur` ends in `..`: keep it for the lexical pass.
                missing.push("..".into());
                cur = parent;
            }
            _ => return abs,
        }
    }
}

/// Series labels sort numerically where they are numbers (`2` before `10`, `3` before `3.1`).
fn series_sort_key(label: &str) -> (Vec<u64>, String) {
    let nums = label
        .split('.')
        .map(|p| p.parse::<u64>().unwrap_or(u64::MAX))
        .collect();
    (nums, label.to_string())
}

/// What is known of each exported subject: its key, and the identifying values the audit
/// searches for and the engine cuts from cleaned text: the archive index's, plus (after the
/// plan) every one the subject's exported headers carry.
struct SubjectFacts {
    key: SubjectKey,
    identifiers: Vec<String>,
    needles: Vec<(Tag, Needle)>,
}

impl SubjectFacts {
    /// Adds what the plan saw in the subject's headers.
    fn add_seen(&mut self, seen: SubjectSeen) {
        self.identifiers.extend(seen.identifiers);
        self.identifiers.sort();
        self.identifiers.dedup();
        let known: HashSet<(Tag, Needle)> = self.needles.iter().cloned().collect();
        let mut more: Vec<(Tag, Needle)> = seen
            .needles
            .into_iter()
            .filter(|n| !known.contains(n))
            .collect();
        more.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        self.needles.extend(more);
    }
}

/// Every identifying value the archive's index holds for the subjects `codes` (archive
/// codes), as audit needles: what text a person adds to a package (a release's reason) must
/// not contain.
pub(crate) fn index_needles(
    archive: &Archive,
    codes: &[String],
) -> Result<Vec<Needle>, ExportError> {
    let facts = subject_facts(archive, codes.iter().map(String::as_str))?;
    Ok(facts
        .into_values()
        .flat_map(|f| f.needles.into_iter().map(|(_, n)| n))
        .collect())
}

fn subject_facts<'a>(
    archive: &Archive,
    codes: impl Iterator<Item = &'a str>,
) -> Result<HashMap<String, SubjectFacts>, ExportError> {
    let wanted: BTreeSet<&str> = codes.collect();
    let mut out = HashMap::new();
    for code in wanted {
        let filter = Filter {
            subject: Some(code.to_string()),
            ..Filter::default()
        };
        let mut needles: Vec<(Tag, Needle)> = Vec::new();
        let mut push = |tag: Tag, label: &str, kind: ValueKind, value: &Option<String>| {
            if let Some(v) = value {
                for part in v.split('\\') {
                    if !part.trim().is_empty() {
                        needles.push((tag, Needle::new(label, kind, part.trim())));
                    }
                }
            }
        };
        let mut key = None;
        for s in archive.subjects(&filter)? {
            push(
                tags::PATIENT_NAME,
                "PatientName",
                ValueKind::PersonName,
                &s.patient_name,
            );
            push(
                tags::PATIENT_ID,
                "PatientID",
                ValueKind::Identifier,
                &s.patient_id,
            );
            push(
                tags::ISSUER_OF_PATIENT_ID,
                "IssuerOfPatientID",
                ValueKind::Text,
                &s.issuer_of_patient_id,
            );
            push(
                tags::PATIENT_BIRTH_DATE,
                "PatientBirthDate",
                ValueKind::Date,
                &s.birth_date,
            );
            push(
                OTHER_PATIENT_IDS,
                "OtherPatientIDs",
                ValueKind::Identifier,
                &s.other_patient_ids,
            );
            push(
                tags::OTHER_PATIENT_NAMES,
                "OtherPatientNames",
                ValueKind::PersonName,
                &s.other_patient_names,
            );
            if let (Some(id), false) = (&s.patient_id, s.blank_patient_id) {
                key = Some(SubjectKey::Patient {
                    patient_id: id.clone(),
                    issuer: s.issuer_of_patient_id.clone(),
                });
            }
        }
        for st in archive.studies(&filter)? {
            push(
                tags::ACCESSION_NUMBER,
                "AccessionNumber",
                ValueKind::Identifier,
                &st.accession_number,
            );
            push(
                tags::STUDY_ID,
                "StudyID",
                ValueKind::Identifier,
                &st.study_id,
            );
            push(
                tags::INSTITUTION_NAME,
                "InstitutionName",
                ValueKind::Text,
                &st.institution_name,
            );
            push(
                tags::REFERRING_PHYSICIAN_NAME,
                "ReferringPhysicianName",
                ValueKind::PersonName,
                &st.referring_physician_name,
            );
            // A subject without PatientID is keyed by its (only) study.
            if key.is_none() {
                key = Some(SubjectKey::BlankPatientId {
                    study_uid: st.study_uid.clone(),
                });
            }
        }
        for se in archive.series(&filter)? {
            push(
                tags::STATION_NAME,
                "StationName",
                ValueKind::Text,
                &se.station_name,
            );
        }
        // Cut from the subject's cleaned text in the spellings the audit searches (a name
        // part by part too).
        let identifiers = needles
            .iter()
            .filter(|(_, n)| matches!(n.kind, ValueKind::PersonName | ValueKind::Identifier))
            .flat_map(|(_, n)| identity::texts_of(n.kind, &n.value))
            .collect();
        let key = key.unwrap_or(SubjectKey::BlankPatientId {
            study_uid: code.to_string(),
        });
        out.insert(
            code.to_string(),
            SubjectFacts {
                key,
                identifiers,
                needles,
            },
        );
    }
    Ok(out)
}

/// What the plan collects from the headers beyond the index. Only distinct values are kept,
/// so memory grows with what differs between files, not with their number.
#[derive(Default)]
struct Seen {
    /// Per archive subject.
    subjects: HashMap<String, SubjectSeen>,
    /// Original UIDs (not under `1.2.840.10008.`) at any depth, with the attribute first seen
    /// holding each.
    original_uids: HashMap<String, &'static str>,
    /// UIDs in the de-identified headers: those the level keeps are no finding.
    kept_uids: HashSet<String>,
}

impl Seen {
    /// The original UIDs the level changed everywhere: searched for by the audit.
    fn uid_needles(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .original_uids
            .iter()
            .filter(|(uid, _)| !self.kept_uids.contains(*uid))
            .map(|(uid, label)| ((*label).to_string(), uid.clone()))
            .collect();
        out.sort();
        out
    }
}

/// One subject's identifying values as its headers carry them.
#[derive(Default)]
struct SubjectSeen {
    /// What the engine's own subject context gathers from each file (name parts, IDs, birth
    /// date spellings, ...), to be cut from every file of the subject.
    identifiers: HashSet<String>,
    /// The same attributes' values as audit needles, by source attribute.
    needles: HashSet<(Tag, Needle)>,
}

/// What `plan_one` collects, and where.
struct Collect<'a> {
    /// Identifying values per subject (every level that changes files).
    identity: bool,
    /// Original and kept UIDs (levels that remap UIDs).
    uids: bool,
    seen: &'a Mutex<Seen>,
}

/// The values of one attribute (every value of a multi-valued one), trimmed, non-empty.
pub(crate) fn values_of(obj: &InMemDicomObject, tag: Tag) -> Vec<String> {
    let Some(Ok(s)) = obj.get(tag).map(|e| e.to_str()) else {
        return Vec::new();
    };
    s.split('\\')
        .map(|v| v.trim_matches(|c: char| c == '\0' || c.is_whitespace()))
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

/// A header's identifying values (the subject's attributes of the identity model, whose
/// values the engine's subject context cuts from text) as needles by attribute.
pub(crate) fn identity_needles(obj: &InMemDicomObject) -> Vec<(Tag, Needle)> {
    let mut out = Vec::new();
    for a in SUBJECT_ATTRIBUTES {
        for v in values_of(obj, a.tag) {
            out.push((a.tag, Needle::new(a.label, a.kind, v)));
        }
    }
    if let Some(items) = obj
        .get(tags::OTHER_PATIENT_I_DS_SEQUENCE)
        .and_then(|e| e.items())
    {
        for item in items {
            for v in values_of(item, tags::PATIENT_ID) {
                out.push((
                    tags::OTHER_PATIENT_I_DS_SEQUENCE,
                    Needle::new("OtherPatientIDsSequence", ValueKind::Identifier, v),
                ));
            }
        }
    }
    out
}

/// Every UID value at any depth that is not a well-known one (under `1.2.840.10008.`), with
/// the attribute holding it.
pub(crate) fn uids_in(obj: &InMemDicomObject, out: &mut Vec<(String, Tag)>) {
    for e in obj.iter() {
        match e.value() {
            Value::Sequence(sq) => {
                for item in sq.items() {
                    uids_in(item, out);
                }
            }
            Value::Primitive(v) if e.vr() == VR::UI => {
                for uid in v.to_str().split('\\') {
                    let uid = uid.trim_matches(|c: char| c == '\0' || c.is_whitespace());
                    if !uid.is_empty() && !uid.starts_with("1.2.840.10008.") {
                        out.push((uid.to_string(), e.tag()));
                    }
                }
            }
            _ => {}
        }
    }
}

/// The subject's context for the engine, from the file's own (`raw`): its pseudonym comes from
/// the archive's subject key (so every file of a subject gets the same one, and subjects
/// without a PatientID get distinct ones instead of sharing the pseudonym of the empty ID),
/// and its identifiers are the file's plus every one known of the subject (the index's, and
/// after the plan, those of all its exported files).
fn context_from(
    mut ctx: SubjectContext,
    deid: &Deidentifier,
    facts: &SubjectFacts,
) -> SubjectContext {
    ctx.pseudonym = pseudonym_of(deid, facts);
    ctx.identifiers.extend(facts.identifiers.iter().cloned());
    ctx.identifiers.sort();
    ctx.identifiers.dedup();
    ctx
}

fn read_stored(record: &InstanceRecord) -> Result<Vec<u8>, String> {
    let mut f = std::fs::File::open(Path::new(&record.path)).map_err(|e| e.to_string())?;
    let mut buf = Vec::with_capacity(usize::try_from(record.size).unwrap_or(0));
    f.read_to_end(&mut buf).map_err(|e| e.to_string())?;
    Ok(buf)
}

/// The header of an archived file, up to Pixel Data, read through a buffer (only the header's
/// bytes are read). Archived files passed the import's structural length check, so dicom-rs
/// can read them directly.
pub(crate) fn read_stored_header(
    record: &InstanceRecord,
) -> Result<
    (
        dicom_object::DefaultDicomObject,
        archive::memory::Permit<'static>,
    ),
    String,
> {
    crate::deid_file::parse_header_file(Path::new(&record.path)).map_err(|e| e.to_string())
}

/// Why the import would reject a header, naming the attribute and never its value (the reason
/// travels into the manifest).
fn rejection_reason(e: &FactsError) -> String {
    match e {
        FactsError::MissingUid { attribute, .. } => format!("no {attribute}"),
        FactsError::InvalidUid { attribute, .. } => format!("invalid {attribute}"),
        FactsError::InvalidKey { attribute, .. } => format!("unusable {attribute}"),
        _ => "unreadable header".to_string(),
    }
}

/// Whether the level writes the subject's pseudonym into PatientID but the de-identified
/// header has none (the attribute was absent, so no rule touched it). The package promises a
/// PatientID per subject at such levels, so the export adds it.
fn lacks_patient_id(profile: &Profile, obj: &InMemDicomObject) -> bool {
    profile.pseudonymizes_patient_id() && obj.get(tags::PATIENT_ID).is_none()
}

/// Writes the pseudonym as PatientID.
fn put_patient_id(obj: &mut InMemDicomObject, pseudonym: &str) {
    obj.put(DataElement::new(
        tags::PATIENT_ID,
        VR::LO,
        PrimitiveValue::from(pseudonym),
    ));
}

/// The encoded file with the pseudonym added as PatientID (rare: subjects whose files have no
/// PatientID element at all). The file is parsed whole and encoded again in its own transfer
/// syntax.
fn add_patient_id(bytes: &[u8], pseudonym: &str) -> Result<Vec<u8>, String> {
    let mut obj = crate::deid_file::parse(bytes, false).map_err(|e| e.to_string())?;
    put_patient_id(&mut obj, pseudonym);
    let mut out = Vec::with_capacity(bytes.len() + 32);
    obj.write_all(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

fn plan_one(
    deid: &Deidentifier,
    subjects: &HashMap<String, SubjectFacts>,
    record: InstanceRecord,
    original: bool,
    collect: &Collect<'_>,
) -> Result<Planned, (String, String)> {
    let label = format!(
        "{}/{}/{} {}",
        record.subject, record.study_number, record.series_label, record.path
    );
    let fail = |reason: String| (label.clone(), reason);
    let facts = subjects
        .get(&record.subject)
        .ok_or_else(|| fail("subject vanished from the index".into()))?;
    let (mut obj, _memory) = read_stored_header(&record).map_err(fail)?;
    let raw = deid.subject_context(&obj);
    let mut identity = Vec::new();
    let mut originals = Vec::new();
    if collect.identity {
        identity = header_needles(&obj);
    }
    if collect.uids {
        uids_in(&obj, &mut originals);
    }
    let identifiers = if collect.identity {
        raw.identifiers.clone()
    } else {
        Vec::new()
    };
    let ctx = context_from(raw, deid, facts);
    let report = deid
        .apply(&mut obj, &ctx)
        .map_err(|e| fail(e.to_string()))?;
    let add_patient_id = !original && lacks_patient_id(deid.profile(), &obj);
    if add_patient_id {
        put_patient_id(&mut obj, &ctx.pseudonym);
    }
    let mut kept = Vec::new();
    if collect.uids {
        uids_in(&obj, &mut kept);
        let meta = obj.meta();
        for uid in [
            meta.media_storage_sop_class_uid(),
            meta.media_storage_sop_instance_uid(),
            meta.transfer_syntax(),
            meta.implementation_class_uid.as_str(),
        ] {
            kept.push((
                uid.trim_end_matches('\0').trim().to_string(),
                Tag(0x0002, 0),
            ));
        }
    }
    if !identity.is_empty() || !identifiers.is_empty() || !originals.is_empty() {
        let mut seen = collect.seen.lock().unwrap_or_else(|p| p.into_inner());
        let seen = &mut *seen;
        let subject = seen.subjects.entry(record.subject.clone()).or_default();
        for i in identifiers {
            if !subject.identifiers.contains(&i) {
                subject.identifiers.insert(i);
            }
        }
        for n in identity {
            if !subject.needles.contains(&n) {
                subject.needles.insert(n);
            }
        }
        for (uid, tag) in originals {
            seen.original_uids
                .entry(uid)
                .or_insert_with(|| identity::label_of(tag, "UID"));
        }
        for (uid, _) in kept {
            if !seen.kept_uids.contains(&uid) {
                seen.kept_uids.insert(uid);
            }
        }
    }
    let after = HeaderFacts::from_file_object(&obj);
    let (subject_key, study_key, series_key, instance_key, unimportable) = match after {
        Ok(f) => {
            let k = SubjectKey::of(&f);
            (
                format!("{}|{}|{}", k.kind(), k.value(), k.issuer()),
                f.study_uid,
                f.series_uid,
                f.sop_uid,
                None,
            )
        }
        // A header that lost a required UID cannot be imported again: it would be rejected.
        Err(e) => (
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            Some(rejection_reason(&e)),
        ),
    };
    let subject_label = if original {
        record.subject.clone()
    } else {
        ctx.pseudonym.clone()
    };
    let archive_series = format!(
        "{}/{}/{}",
        record.subject, record.study_number, record.series_label
    );
    Ok(Planned {
        placement: Placement {
            archive_subject: record.subject.clone(),
            archive_study: format!("{}/{}", record.subject, record.study_number),
            archive_series: archive_series.clone(),
            archive_instance: format!("{archive_series}/{}", record.sop_uid),
            subject_key,
            study_key,
            series_key,
            instance_key,
            unimportable,
        },
        burned_in: report.burned_in.map(|r| r.to_string()),
        archive_series,
        subject_label,
        study: record.study_number,
        rel: String::new(),
        add_patient_id,
        record,
    })
}

/// The package study numbers of the exported subjects whose pseudonym is shared by several
/// archive subjects, by (archive code, archive study number); subjects absent from the map
/// keep the archive's study numbers.
///
/// A subject folder is a pseudonym of PatientID and issuer, so archive subjects of different
/// projects with the same PatientID share it (linking them is the point of a keyed
/// pseudonym), and their study numbers would collide there. The studies of such a pseudonym
/// are numbered 1..n over **every** archive subject that has it, in the whole archive and
/// whatever the selection, in the order the studies arrived (each study's first import run;
/// then archive code and study number, for studies of one run). So a package path names the
/// same study in every export with the same key (a package of one project and a package of
/// the other never put different studies at one path), and whatever is imported later, to
/// any of the subjects, only appends numbers. As archive study numbers also follow the order
/// of arrival, the first subject's studies keep their archive numbers.
fn shared_study_numbers(
    archive: &Archive,
    deid: &Deidentifier,
    subjects: &HashMap<String, SubjectFacts>,
) -> Result<HashMap<(String, i64), i64>, ExportError> {
    let mut holders: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (code, f) in subjects {
        holders
            .entry(pseudonym_of(deid, f))
            .or_default()
            .insert(code.clone());
    }
    // Subjects keyed by PatientID and issuer, as `subject_facts` keys them. A subject without
    // PatientID is keyed by its study, and a study belongs to one project (the import keeps a
    // second project's copy apart as a conflict), so no other archive subject shares its
    // pseudonym.
    for s in archive.subjects(&Filter::default())? {
        if let (Some(id), false) = (&s.patient_id, s.blank_patient_id) {
            let p = deid.pseudonym(id, s.issuer_of_patient_id.as_deref());
            if let Some(codes) = holders.get_mut(&p) {
                codes.insert(s.subject);
            }
        }
    }
    let mut out = HashMap::new();
    for codes in holders.values().filter(|c| c.len() > 1) {
        // (first import run, archive code, study number) of every study of these subjects.
        let mut first_runs: BTreeMap<(String, i64), i64> = BTreeMap::new();
        for code in codes {
            let f = Filter {
                subject: Some(code.clone()),
                ..Filter::default()
            };
            for i in archive.instances(&f)? {
                let run = first_runs
                    .entry((code.clone(), i.study_number))
                    .or_insert(i.run_id);
                *run = (*run).min(i.run_id);
            }
        }
        out.extend(number_in_order(
            first_runs
                .into_iter()
                .map(|((code, study), run)| (run, code, study))
                .collect(),
        ));
    }
    Ok(out)
}

/// Numbers the studies of archive subjects sharing a pseudonym 1..n in the order of (first
/// import run, archive code, study number).
fn number_in_order(
    mut studies: Vec<(i64, String, i64)>,
) -> impl Iterator<Item = ((String, i64), i64)> {
    studies.sort();
    studies
        .into_iter()
        .map(|(_, code, study)| (code, study))
        .zip(1..)
}

/// Gives every planned file its package study number (from `shared`, see
/// [`shared_study_numbers`], else the archive's) and path (plan is sorted by subject, study,
/// series, instance number).
fn number_files(plan: &mut [Planned], shared: &HashMap<(String, i64), i64>) {
    let mut counters: HashMap<String, u32> = HashMap::new();
    for p in plan.iter_mut() {
        p.study = shared
            .get(&(p.record.subject.clone(), p.record.study_number))
            .copied()
            .unwrap_or(p.record.study_number);
        let dir = format!("{}/{}/{}", p.subject_label, p.study, p.record.series_label);
        let n = counters.entry(dir.clone()).or_insert(0);
        *n += 1;
        p.rel = format!("{dir}/{:05}.dcm", *n);
    }
}

fn package_series_label(rel: &str) -> String {
    rel.rsplit_once('/')
        .map(|(d, _)| d.to_string())
        .unwrap_or_default()
}

struct Written {
    sha256: String,
    bytes: u64,
    findings: Vec<Finding>,
    warnings: Vec<String>,
}

/// Where `write_one` audits and puts a file.
struct Sinks<'a> {
    auditor: Option<&'a Auditor>,
    judge: &'a Judge<'a>,
    package: &'a Package,
    spool: &'a SpoolSlot,
}

fn write_one(
    deid: &Deidentifier,
    subjects: &HashMap<String, SubjectFacts>,
    p: &Planned,
    original: bool,
    sinks: &Sinks<'_>,
) -> Result<Written, (String, String)> {
    let fail = |reason: String| (p.rel.clone(), reason);
    let input = read_stored(&p.record).map_err(fail)?;
    let (bytes, warnings, sha256, report) = if original {
        let sha = hex::encode(Sha256::digest(&input));
        if sha != p.record.sha256 {
            return Err(fail(format!(
                "stored file does not match its SHA-256 in the index ({})",
                p.record.path
            )));
        }
        (input, Vec::new(), sha, None)
    } else {
        let facts = subjects
            .get(&p.record.subject)
            .ok_or_else(|| fail("subject vanished".into()))?;
        let (pseudonym, mut out, mut report) = deidentify_with(deid, &input, |obj| {
            let ctx = context_from(deid.subject_context(obj), deid, facts);
            let pseudonym = ctx.pseudonym.clone();
            Ok((ctx, pseudonym))
        })
        .map_err(|e| fail(e.to_string()))?;
        drop(input);
        if p.add_patient_id {
            out = add_patient_id(&out, &pseudonym).map_err(fail)?;
        }
        // The engine's note on a missing PatientID concerns its own pseudonym; here the
        // archive's subject decides the pseudonym, so the note would mislead. (The engine
        // reports warnings as text only; this is its wording.)
        let warnings = std::mem::take(&mut report.warnings)
            .into_iter()
            .filter(|w| !w.starts_with("no PatientID"))
            .collect();
        let sha = hex::encode(Sha256::digest(&out));
        (out, warnings, sha, Some(report))
    };
    let findings = match (sinks.auditor, &report) {
        (Some(a), Some(report)) => a.scan_exported_file(&p.rel, &bytes, report),
        (Some(a), None) => a.scan_file(&p.rel, &bytes),
        (None, _) => Vec::new(),
    };
    // A file whose findings block publication is held back in the archive's quarantine (the
    // package waits there, whole); never staged beside the destination.
    if sinks.judge.blocks(&findings) {
        sinks
            .spool
            .add(&p.rel, &bytes)
            .map_err(|e| fail(e.to_string()))?;
    } else {
        sinks
            .package
            .add(&p.rel, &bytes)
            .map_err(|e| fail(e.to_string()))?;
    }
    Ok(Written {
        sha256,
        bytes: bytes.len() as u64,
        findings,
        warnings,
    })
}

/// The identifying values the audit looks for: those of the exported subjects (`codes`) that
/// the profile promises to remove, each owned by its subject's folder (its pseudonym; see
/// [`crate::audit_owners`]), plus `uids` (label, original UID) when the profile remaps UIDs,
/// owned by no subject.
///
/// - Levels that remove identity: every value whose attribute the profile changes (a value
///   kept on purpose, such as InstitutionName under retain-institution-identity, is not a
///   finding).
/// - `anonymize` (and profiles built on it), which keeps PatientID, dates, UIDs and text on
///   purpose: only the patient's own values it changes, that is the patient's name (whole and
///   part by part) and birth date. The physicians' names it empties are commonly repeated in
///   attributes it keeps (RequestingPhysician), and it does not promise to remove them there.
/// - `sup142`: the values of the attributes on its list.
fn needles<'a>(
    profile: &Profile,
    deid: &Deidentifier,
    subjects: &HashMap<String, SubjectFacts>,
    codes: impl Iterator<Item = &'a str>,
    uids: impl Iterator<Item = (String, String)>,
) -> Vec<OwnedNeedle> {
    let promised = promised_attributes(profile);
    let exported: BTreeSet<&str> = codes.collect();
    let mut out = Vec::new();
    for code in exported {
        if let Some(f) = subjects.get(code) {
            let folder = vec![pseudonym_of(deid, f)];
            for (tag, n) in &f.needles {
                if promised(tag) {
                    out.push(OwnedNeedle::new(n.clone(), folder.clone()));
                }
            }
        }
    }
    if profile.remaps_uids() {
        let mut seen = HashSet::new();
        for (label, uid) in uids {
            if seen.insert(uid.clone()) {
                let n = Needle::new(label, ValueKind::Uid, uid);
                out.push(OwnedNeedle::new(n, Vec::new()));
            }
        }
    }
    out
}

/// Whether the profile promises to remove an attribute's values (see [`needles`]).
pub(crate) fn promised_attributes(profile: &Profile) -> impl Fn(&Tag) -> bool + use<> {
    let changed: HashMap<Tag, Action> = profile
        .rules()
        .into_iter()
        .filter_map(|r| parse_tag(&r.tag).map(|t| (t, r.action)))
        .collect();
    let patient_only = profile.level() == Level::Anonymize;
    move |tag: &Tag| {
        changed.get(tag).is_some_and(|a| *a != Action::K)
            && (!patient_only || PATIENT_ATTRIBUTES.contains(tag))
    }
}

fn parse_tag(s: &str) -> Option<Tag> {
    let (g, e) = s.split_once(',')?;
    Some(Tag(
        u16::from_str_radix(g, 16).ok()?,
        u16::from_str_radix(e, 16).ok()?,
    ))
}

/// A one-way fingerprint of the key: lets two packages be checked to share a key without
/// revealing it.
pub fn key_fingerprint(key: &Key) -> String {
    let mut h = Sha256::new();
    h.update(b"depot key fingerprint v1\0");
    h.update(key.to_hex().as_bytes());
    hex::encode(&h.finalize()[..8])
}

/// A study's series in display order (numeric series labels first by number).
type SeriesBySortKey = BTreeMap<(Vec<u64>, String), manifest::SeriesEntry>;

/// The package labels of a warning's archive groups: each label once, annotated with how many
/// archive groups it stands for when several share it (archive subjects of two projects with
/// one pseudonym), so the list never names the same label twice and never an archive code.
fn package_names(
    level: regroup::GroupLevel,
    groups: &[String],
    label_of: &HashMap<String, String>,
) -> (Vec<String>, Vec<String>) {
    let mut counted: BTreeMap<String, usize> = BTreeMap::new();
    for g in groups {
        let label = label_of
            .get(g)
            .cloned()
            .unwrap_or_else(|| "(left out)".to_string());
        *counted.entry(label).or_insert(0) += 1;
    }
    let what = match level {
        regroup::GroupLevel::Subject => "subjects",
        regroup::GroupLevel::Study => "studies",
        regroup::GroupLevel::Series => "series",
        regroup::GroupLevel::Instance => "instances",
    };
    let shown = counted
        .iter()
        .map(|(label, n)| {
            if *n > 1 {
                format!("{label} ({n} archive {what})")
            } else {
                label.clone()
            }
        })
        .collect();
    (counted.into_keys().collect(), shown)
}

fn base_manifest(
    profile: &Profile,
    key: &Key,
    original: bool,
    plan: &[Planned],
    warnings: &[RegroupWarning],
    burned_in: &[BurnedInSeries],
) -> Manifest {
    // Archive labels → package labels, for warnings that travel with the package.
    let mut label_of: HashMap<String, String> = HashMap::new();
    for p in plan {
        let series_dir = package_series_label(&p.rel);
        let study_dir = package_series_label(&series_dir);
        label_of.insert(p.placement.archive_subject.clone(), p.subject_label.clone());
        label_of.insert(p.placement.archive_study.clone(), study_dir);
        label_of.insert(p.placement.archive_series.clone(), series_dir.clone());
        label_of.insert(p.placement.archive_instance.clone(), p.rel.clone());
    }
    let mut subjects: BTreeMap<String, BTreeMap<u32, SeriesBySortKey>> = BTreeMap::new();
    for p in plan {
        let study = u32::try_from(p.study).unwrap_or(0);
        subjects
            .entry(p.subject_label.clone())
            .or_default()
            .entry(study)
            .or_default()
            .entry(series_sort_key(&p.record.series_label))
            .or_insert_with(|| manifest::SeriesEntry {
                number: p.record.series_label.clone(),
                modality: manifest::modality_code(p.record.modality.as_deref().unwrap_or("")),
                files: Vec::new(),
            })
            .files
            .push(manifest::FileEntry {
                path: p.rel.clone(),
                sha256: String::new(),
                bytes: 0,
            });
    }
    let subjects: Vec<manifest::SubjectEntry> = subjects
        .into_iter()
        .map(|(id, studies)| manifest::SubjectEntry {
            id,
            studies: studies
                .into_iter()
                .map(|(number, series)| manifest::StudyEntry {
                    number,
                    series: series.into_values().collect(),
                })
                .collect(),
        })
        .collect();
    let counts = manifest::Counts {
        subjects: subjects.len(),
        studies: subjects.iter().map(|s| s.studies.len()).sum(),
        series: subjects
            .iter()
            .flat_map(|s| &s.studies)
            .map(|st| st.series.len())
            .sum(),
        instances: plan.len(),
        // The archived size until the files are written (a dry run reports this).
        bytes: plan.iter().map(|p| p.record.size).sum(),
        series_left_out: burned_in.iter().filter(|b| !b.included).count(),
    };
    let regrouping_warnings = warnings
        .iter()
        .map(|w| {
            let (groups, shown) = package_names(w.level, &w.archive_groups, &label_of);
            manifest::WarningEntry {
                level: w.level,
                kind: w.kind,
                groups,
                would_become: w.would_become,
                reason: w.rejected.as_ref().map(|r| r.reason.clone()),
                instances: w.rejected.as_ref().map(|r| r.instances),
                message: w.describe(&shown),
            }
        })
        .collect();
    Manifest {
        format: manifest::FORMAT.to_string(),
        created_by: format!("depot {}", env!("CARGO_PKG_VERSION")),
        level: profile.name().to_string(),
        options: profile
            .options()
            .iter()
            .map(|o| o.name().to_string())
            .collect(),
        profile_digest: profile.digest(),
        key_fingerprint: if original {
            "none".to_string()
        } else {
            key_fingerprint(key)
        },
        blank_identifiers: profile.blanks_identifiers(),
        counts,
        subjects,
        regrouping_warnings,
        burned_in: burned_in
            .iter()
            .map(|b| manifest::BurnedInEntry {
                series: b.package_series.clone(),
                modality: manifest::modality_code(&b.modality),
                reason: b.reason.clone(),
                included: b.included,
            })
            .collect(),
        audit: None,
        findings: Vec::new(),
        release: None,
    }
}

fn fill_files(manifest: &mut Manifest, files: &HashMap<&str, Written>) {
    let mut total = 0;
    for s in &mut manifest.subjects {
        for st in &mut s.studies {
            for se in &mut st.series {
                for f in &mut se.files {
                    if let Some(w) = files.get(f.path.as_str()) {
                        f.sha256.clone_from(&w.sha256);
                        f.bytes = w.bytes;
                        total += w.bytes;
                    }
                }
            }
        }
    }
    manifest.counts.bytes = total;
}

fn pseudonym_of(deid: &Deidentifier, facts: &SubjectFacts) -> String {
    match &facts.key {
        SubjectKey::Patient { patient_id, issuer } => deid.pseudonym(patient_id, issuer.as_deref()),
        SubjectKey::BlankPatientId { study_uid } => {
            deid.pseudonym("", Some(&format!("depot:blank-patient-id:{study_uid}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_failures_format_without_panicking() {
        assert_eq!(
            ExportError::Files(Vec::new()).to_string(),
            "archived files could not be exported"
        );
        let one = ExportError::Files(vec![("a".into(), "b".into())]).to_string();
        assert_eq!(one, "1 archived file(s) could not be exported; first: a: b");
    }

    #[test]
    fn destinations_overlapping_the_archive_are_refused() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path().join("arc");
        std::fs::create_dir_all(root.join("store")).expect("mkdir");
        let refused = [
            root.clone(),
            root.join("store"),
            root.join("new/pkg.zip"),
            tmp.path().to_path_buf(),
            tmp.path().join("x/../arc"),
            tmp.path().join("arc/../arc/./pkg"),
        ];
        for out in refused {
            assert!(
                matches!(
                    check_outside_archive(&root, &out),
                    Err(ExportError::OverlapsArchive { .. })
                ),
                "{} must be refused",
                out.display()
            );
        }
        for out in [
            tmp.path().join("arc-pkg"),
            tmp.path().join("pkg/arc"),
            tmp.path().join("arc/../pkg"),
        ] {
            check_outside_archive(&root, &out)
                .unwrap_or_else(|e| panic!("{} is outside: {e}", out.display()));
        }
        #[cfg(unix)]
        {
            let link = tmp.path().join("link");
            std::os::unix::fs::symlink(&root, &link).expect("symlink");
            assert!(check_outside_archive(&root, &link.join("pkg")).is_err());
        }
    }

    #[test]
    fn studies_of_archive_subjects_sharing_a_pseudonym_are_renumbered() {
        let planned = |code: &str, study: i64, series: &str| Planned {
            record: InstanceRecord {
                project: "p".into(),
                subject: code.to_string(),
                study_number: study,
                series_label: series.to_string(),
                study_uid: String::new(),
                series_uid: String::new(),
                sop_uid: String::new(),
                sop_class_uid: None,
                transfer_syntax: None,
                modality: None,
                instance_number: None,
                number_of_frames: None,
                sha256: String::new(),
                size: 0,
                path: String::new(),
                source_path: String::new(),
                run_id: 1,
                imported_at: String::new(),
            },
            archive_series: format!("{code}/{study}/{series}"),
            subject_label: if code == "S3" { "PB" } else { "PA" }.to_string(),
            study,
            rel: String::new(),
            placement: Placement {
                archive_subject: code.into(),
                archive_study: String::new(),
                archive_series: String::new(),
                archive_instance: String::new(),
                subject_key: String::new(),
                study_key: String::new(),
                series_key: String::new(),
                instance_key: String::new(),
                unimportable: None,
            },
            burned_in: None,
            add_patient_id: false,
        };
        let mut plan = vec![
            planned("S1", 1, "1"),
            planned("S1", 3, "1"),
            planned("S2", 1, "1"),
            planned("S2", 1, "1"),
            planned("S3", 2, "4"),
        ];
        // S1 and S2 share PA; S2's study came first (run 2), S1's later (runs 5 and 6), and
        // S2 got a second study later still (run 7): it is appended, nothing renumbered. S1's
        // study 2 is not selected but still holds its number. S3 alone keeps the archive's.
        let shared: HashMap<(String, i64), i64> = number_in_order(vec![
            (5, "S1".into(), 1),
            (6, "S1".into(), 3),
            (5, "S1".into(), 2),
            (2, "S2".into(), 1),
            (7, "S2".into(), 2),
        ])
        .collect();
        assert_eq!(
            shared,
            HashMap::from([
                (("S2".to_string(), 1), 1),
                (("S1".to_string(), 1), 2),
                (("S1".to_string(), 2), 3),
                (("S1".to_string(), 3), 4),
                (("S2".to_string(), 2), 5),
            ])
        );
        number_files(&mut plan, &shared);
        let rels: Vec<&str> = plan.iter().map(|p| p.rel.as_str()).collect();
        assert_eq!(
            rels,
            [
                "PA/2/1/00001.dcm",
                "PA/4/1/00001.dcm",
                "PA/1/1/00001.dcm",
                "PA/1/1/00002.dcm",
                "PB/2/4/00001.dcm"
            ]
        );
    }
}
