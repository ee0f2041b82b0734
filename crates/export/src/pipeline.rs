//! Exporting a selection of the archive as a package at a chosen level: plan, check, write,
//! audit, publish.
//!
//! The order matters for the people relying on it:
//! 1. **Plan.** Select instances in the archive and read every header once (header only, up to
//!    Pixel Data). Each header is de-identified in memory with the real engine, so the plan
//!    knows what the files will say: the keys they would be grouped by on re-import, and
//!    whether their pixels may carry burned-in text.
//! 2. **Check.** Compare the would-be grouping with the archive's ([`crate::regroup`]) and
//!    collect the warnings. Series that may carry burned-in text are left out at levels that
//!    remove identity, unless the caller includes them; they are listed either way. A dry run
//!    stops here, having written nothing.
//! 3. **Write.** De-identify every file in parallel (each read once, in full), hash it, audit
//!    its bytes, and add it to the staging package. `original` copies the stored bytes and
//!    checks them against the archive's SHA-256 while doing so.
//! 4. **Audit and publish.** Write the manifest, audit every path and the manifest, and only if
//!    nothing was found, sync and move the package into place. A package with findings is
//!    removed and the findings returned (by file and attribute, never by value).
//!
//! Package layout, at every level: `SUBJECT/STUDY/SERIES/NNNNN.dcm` plus `manifest.json` and
//! `manifest.csv`. SUBJECT is the subject's keyed pseudonym (its archive code at `original`),
//! STUDY the archive's study number, SERIES the archive's series label, NNNNN the instance's
//! position in its series. Nothing from the data's text ever reaches a path.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anon_core::{Action, Deidentifier, Key, Profile, SubjectContext};
use archive::{Archive, Filter, HeaderFacts, InstanceRecord, SubjectKey};
use dicom_core::Tag;
use dicom_dictionary_std::tags;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::audit::{AuditReport, Auditor, Finding, Needle, Rules, ValueKind};
use crate::deid_file::deidentify_with;
use crate::manifest::{self, Manifest};
use crate::package::{Package, PackageError, PackageKind};
use crate::regroup::{self, Placement, RegroupWarning};

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
    /// Package label (`PXXXXXXXXXX/1/3`).
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
    /// Where the package is (`None` for a dry run).
    pub published: Option<PathBuf>,
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
    /// The selection matched no instance.
    #[error("nothing to export: the selection matches no instance")]
    NothingSelected,
    /// Every selected series was left out for possible burned-in text.
    #[error(
        "nothing to export: all {0} selected series may carry burned-in text and are left out at this level (use --include-burned-in to export them anyway)"
    )]
    AllLeftOut(usize),
    /// Some archived files could not be read or de-identified; a package without them would
    /// silently lose data, so none is written.
    #[error("{} archived file(s) could not be exported; first: {}: {}", .0.len(), .0[0].0, .0[0].1)]
    Files(Vec<(String, String)>),
    /// The package could not be built or published.
    #[error(transparent)]
    Package(#[from] PackageError),
    /// The audit could not run.
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    /// The audit found identifying data: the package was not published.
    #[error("the audit found {} problem(s); the package was not published", .0.findings.len())]
    Findings(Box<AuditReport>),
}

/// One selected instance with everything the plan decided about it.
struct Planned {
    record: InstanceRecord,
    archive_series: String,
    subject_label: String,
    rel: String,
    placement: Placement,
    burned_in: Option<String>,
}

/// Runs an export. See the module documentation for the order of steps.
pub fn export(
    archive: &Archive,
    req: &ExportRequest,
    observer: &dyn ExportObserver,
) -> Result<ExportSummary, ExportError> {
    let started = Instant::now();
    // Refuse an existing destination before any work (and in a dry run, which must say what
    // the real run would do).
    if !req.force && req.out.symlink_metadata().is_ok() {
        return Err(ExportError::Package(PackageError::Exists(req.out.clone())));
    }
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
    let subjects = subject_facts(archive, records.iter().map(|r| r.subject.as_str()))?;

    // 1. Plan: read and de-identify every header once.
    observer.phase("reading headers", records.len() as u64);
    let planned: Vec<Result<Planned, (String, String)>> = records
        .into_par_iter()
        .map(|record| {
            let r = plan_one(archive, &deid, &subjects, record, original);
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
    number_files(&mut plan);

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
            kind: PackageKind::for_destination(&req.out),
            manifest,
            warnings,
            burned_in,
            engine_warnings: Vec::new(),
            audit: None,
            elapsed: started.elapsed(),
        });
    }

    // 3. Write.
    let auditor = if original {
        None
    } else {
        let needles = needles(profile, &subjects, plan.iter().map(|p| &p.record));
        Some(Auditor::new(&needles, audit_rules(profile))?)
    };
    // Levels that claim to remove identity must pass the audit to be published; at levels
    // that keep identifying data by design (`anonymize`, `sup142`) the findings are advisory.
    let blocking = profile.removes_identity();
    let mut package = Package::create(&req.out, req.force)?;
    observer.phase("writing", plan.len() as u64);
    // Three workers per core: while one waits on a read or a write, another computes. Each
    // holds one file in and one out, so memory stays bounded.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()) * 3;
    let write_all = || -> Vec<Result<Written, (String, String)>> {
        plan.par_iter()
            .map(|p| {
                let r = write_one(
                    &deid,
                    &subjects,
                    p,
                    original,
                    auditor.as_ref(),
                    blocking,
                    &package,
                );
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

    // 4. Audit the rest, publish.
    let mut report = None;
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
        manifest.audit = Some(manifest::AuditSummary {
            files: plan.len() + 2,
            values_searched: auditor.searched_values(),
            findings: findings.len(),
            blocking,
        });
        let json = manifest.to_json();
        let csv = manifest.to_csv();
        findings.extend(auditor.scan_file("manifest.json", &json));
        findings.extend(auditor.scan_file("manifest.csv", &csv));
        findings.sort();
        findings.dedup();
        let bytes: u64 = files.values().map(|w| w.bytes).sum();
        let audit = AuditReport {
            files: plan.len() + 2,
            bytes: bytes + json.len() as u64 + csv.len() as u64,
            values_searched: auditor.searched_values(),
            findings,
        };
        if blocking && !audit.is_clean() {
            drop(package);
            return Err(ExportError::Findings(Box::new(audit)));
        }
        package.add("manifest.json", &json)?;
        package.add("manifest.csv", &csv)?;
        report = Some(audit);
    } else {
        package.add("manifest.json", &manifest.to_json())?;
        package.add("manifest.csv", &manifest.to_csv())?;
    }
    let kind = package.kind();
    package.finish()?;
    let published = package.publish(req.force)?;
    Ok(ExportSummary {
        published: Some(published),
        kind,
        manifest,
        warnings,
        burned_in,
        engine_warnings,
        audit: report,
        elapsed: started.elapsed(),
    })
}

/// Series labels sort numerically where they are numbers (`2` before `10`, `3` before `3.1`).
fn series_sort_key(label: &str) -> (Vec<u64>, String) {
    let nums = label
        .split('.')
        .map(|p| p.parse::<u64>().unwrap_or(u64::MAX))
        .collect();
    (nums, label.to_string())
}

/// What the archive knows of each exported subject: its key, and the identifying values the
/// audit searches for and the engine cuts from cleaned text.
struct SubjectFacts {
    key: SubjectKey,
    identifiers: Vec<String>,
    needles: Vec<(Tag, Needle)>,
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
                Tag(0x0010, 0x1000),
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
        let identifiers = needles
            .iter()
            .filter(|(_, n)| matches!(n.kind, ValueKind::PersonName | ValueKind::Identifier))
            .map(|(_, n)| n.value.clone())
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

/// The subject's context for the engine: its pseudonym comes from the archive's subject key
/// (so every file of a subject gets the same one, and subjects without a PatientID get distinct
/// ones instead of sharing the pseudonym of the empty ID), plus the archive's identifiers.
fn context_for(
    deid: &Deidentifier,
    facts: &SubjectFacts,
    obj: &dicom_object::InMemDicomObject,
) -> SubjectContext {
    let mut ctx = deid.subject_context(obj);
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
fn read_stored_header(record: &InstanceRecord) -> Result<dicom_object::DefaultDicomObject, String> {
    dicom_object::OpenFileOptions::new()
        .read_until(tags::PIXEL_DATA)
        .open_file(&record.path)
        .map_err(|e| e.to_string())
}

fn plan_one(
    archive: &Archive,
    deid: &Deidentifier,
    subjects: &HashMap<String, SubjectFacts>,
    record: InstanceRecord,
    original: bool,
) -> Result<Planned, (String, String)> {
    let label = format!(
        "{}/{}/{} {}",
        record.subject, record.study_number, record.series_label, record.path
    );
    let fail = |reason: String| (label.clone(), reason);
    let _ = archive;
    let facts = subjects
        .get(&record.subject)
        .ok_or_else(|| fail("subject vanished from the index".into()))?;
    let mut obj = read_stored_header(&record).map_err(fail)?;
    let ctx = context_for(deid, facts, &obj);
    let report = deid
        .apply(&mut obj, &ctx)
        .map_err(|e| fail(e.to_string()))?;
    let after = HeaderFacts::from_file_object(&obj);
    let (subject_key, study_key, series_key, instance_key) = match after {
        Ok(f) => {
            let k = SubjectKey::of(&f);
            (
                format!("{}|{}|{}", k.kind(), k.value(), k.issuer()),
                f.study_uid,
                f.series_uid,
                f.sop_uid,
            )
        }
        // A header that lost a required UID cannot be imported again: it would be rejected.
        Err(e) => {
            let gone = format!("unimportable: {e}");
            (
                gone.clone(),
                gone.clone(),
                gone.clone(),
                format!("{gone} {}", record.sop_uid),
            )
        }
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
        },
        burned_in: report.burned_in.map(|r| r.to_string()),
        archive_series,
        subject_label,
        rel: String::new(),
        record,
    })
}

/// Gives every planned file its package path (plan is sorted by subject, study, series,
/// instance number).
fn number_files(plan: &mut [Planned]) {
    let mut counters: HashMap<String, u32> = HashMap::new();
    for p in plan.iter_mut() {
        let dir = format!(
            "{}/{}/{}",
            p.subject_label, p.record.study_number, p.record.series_label
        );
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

fn write_one(
    deid: &Deidentifier,
    subjects: &HashMap<String, SubjectFacts>,
    p: &Planned,
    original: bool,
    auditor: Option<&Auditor>,
    blocking: bool,
    package: &Package,
) -> Result<Written, (String, String)> {
    let fail = |reason: String| (p.rel.clone(), reason);
    let input = read_stored(&p.record).map_err(fail)?;
    let (bytes, warnings, sha256) = if original {
        let sha = hex::encode(Sha256::digest(&input));
        if sha != p.record.sha256 {
            return Err(fail(format!(
                "stored file does not match its SHA-256 in the index ({})",
                p.record.path
            )));
        }
        (input, Vec::new(), sha)
    } else {
        let facts = subjects
            .get(&p.record.subject)
            .ok_or_else(|| fail("subject vanished".into()))?;
        let ((), out, report) =
            deidentify_with(deid, &input, |obj| Ok((context_for(deid, facts, obj), ())))
                .map_err(|e| fail(e.to_string()))?;
        drop(input);
        // The engine's note on a missing PatientID concerns its own pseudonym; here the
        // archive's subject decides the pseudonym, so the note would mislead.
        let warnings = report
            .warnings
            .into_iter()
            .filter(|w| !w.starts_with("no PatientID"))
            .collect();
        let sha = hex::encode(Sha256::digest(&out));
        (out, warnings, sha)
    };
    let findings = auditor
        .map(|a| a.scan_file(&p.rel, &bytes))
        .unwrap_or_default();
    // A file with findings is not even staged when findings block publication.
    if findings.is_empty() || !blocking {
        package
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

/// The identifying values the audit looks for: those of the exported subjects whose attribute
/// the profile promises to change (a value the profile keeps on purpose, such as PatientID at
/// `anonymize`, is not a finding), plus the original UIDs when the profile remaps UIDs.
fn needles<'a>(
    profile: &Profile,
    subjects: &HashMap<String, SubjectFacts>,
    instances: impl Iterator<Item = &'a InstanceRecord>,
) -> Vec<Needle> {
    let changed: HashMap<Tag, Action> = profile
        .rules()
        .into_iter()
        .filter_map(|r| parse_tag(&r.tag).map(|t| (t, r.action)))
        .collect();
    let instances: Vec<&InstanceRecord> = instances.collect();
    let exported: BTreeSet<&str> = instances.iter().map(|r| r.subject.as_str()).collect();
    let mut out = Vec::new();
    for code in exported {
        if let Some(f) = subjects.get(code) {
            for (tag, n) in &f.needles {
                if changed.get(tag).is_some_and(|a| *a != Action::K) {
                    out.push(n.clone());
                }
            }
        }
    }
    if profile.remaps_uids() {
        let mut seen = BTreeSet::new();
        for r in instances {
            for (label, uid) in [
                ("StudyInstanceUID", &r.study_uid),
                ("SeriesInstanceUID", &r.series_uid),
                ("SOPInstanceUID", &r.sop_uid),
            ] {
                if seen.insert(uid.as_str()) {
                    out.push(Needle::new(label, ValueKind::Uid, uid.clone()));
                }
            }
        }
    }
    out
}

fn parse_tag(s: &str) -> Option<Tag> {
    let (g, e) = s.split_once(',')?;
    Some(Tag(
        u16::from_str_radix(g, 16).ok()?,
        u16::from_str_radix(e, 16).ok()?,
    ))
}

/// Structural rules: private elements must be gone when the profile removes them all, and
/// PatientIdentityRemoved must be set when the profile claims to remove identity.
fn audit_rules(profile: &Profile) -> Rules {
    let private_removed = profile
        .rules()
        .iter()
        .any(|r| r.tag.eq_ignore_ascii_case("gggg,eeee") && r.action == Action::X);
    Rules {
        forbid_private: private_removed,
        require_identity_removed: profile.removes_identity(),
    }
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
        let study = u32::try_from(p.record.study_number).unwrap_or(0);
        subjects
            .entry(p.subject_label.clone())
            .or_default()
            .entry(study)
            .or_default()
            .entry(series_sort_key(&p.record.series_label))
            .or_insert_with(|| manifest::SeriesEntry {
                number: p.record.series_label.clone(),
                modality: p.record.modality.clone().unwrap_or_default(),
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
            let groups: Vec<String> = w
                .archive_groups
                .iter()
                .map(|g| {
                    label_of
                        .get(g)
                        .cloned()
                        .unwrap_or_else(|| "(left out)".to_string())
                })
                .collect();
            let shown = RegroupWarning {
                archive_groups: groups.clone(),
                ..w.clone()
            };
            manifest::WarningEntry {
                level: w.level,
                kind: w.kind,
                groups,
                would_become: w.would_become,
                message: shown.to_string(),
            }
        })
        .collect();
    Manifest {
        format: manifest::FORMAT,
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
                modality: b.modality.clone(),
                reason: b.reason.clone(),
                included: b.included,
            })
            .collect(),
        audit: None,
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

/// What the standalone audit of a package needs to know.
#[derive(Debug, Clone, Default)]
pub struct AuditRequest {
    /// The profile the package was made with; `None` reads it from the package's manifest
    /// (built-in levels and options only).
    pub profile: Option<Profile>,
    /// The key the package was made with; `None` uses the archive's key.
    pub key: Option<Key>,
    /// Restrict the subjects whose values are searched to one project.
    pub project: Option<String>,
}

/// How the standalone audit chose what to look for.
#[derive(Debug, Clone)]
pub struct AuditScope {
    /// The profile whose promises were checked.
    pub profile_name: String,
    /// Archive subjects whose values were searched.
    pub subjects: usize,
    /// True when the package's subjects were recognised by their pseudonyms; false when the
    /// values of every archive subject (in the project) were searched instead.
    pub matched_by_pseudonym: bool,
}

/// Errors of the standalone audit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackageAuditError {
    /// The package's manifest names no usable level and no profile was given.
    #[error(
        "cannot tell which level {0} was exported at (no readable manifest.json): give --level or --profile"
    )]
    UnknownLevel(PathBuf),
    /// The manifest's level or options are not built in.
    #[error("the manifest's profile is not built in ({0}): give --profile")]
    Profile(String),
    /// The archive could not be read.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// The package could not be read.
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
}

/// Audits a package (folder or zip) for the identifying values the archive holds for its
/// subjects, and for the structural promises of the level it was exported at.
pub fn audit_with_archive(
    archive: &Archive,
    package: &Path,
    req: &AuditRequest,
) -> Result<(AuditReport, AuditScope), PackageAuditError> {
    let manifest = read_manifest(package);
    let profile = match (&req.profile, &manifest) {
        (Some(p), _) => p.clone(),
        (None, Some(m)) => {
            let level: anon_core::Level = m["level"]
                .as_str()
                .and_then(|l| l.parse().ok())
                .ok_or_else(|| PackageAuditError::Profile(m["level"].to_string()))?;
            let options: Vec<anon_core::DeidOption> = m["options"]
                .as_array()
                .map(|a| a.iter().filter_map(|o| o.as_str()?.parse().ok()).collect())
                .unwrap_or_default();
            let p = Profile::builtin(level, &options)
                .map_err(|e| PackageAuditError::Profile(e.to_string()))?;
            let blank = m["blank_identifiers"].as_bool().unwrap_or(false);
            p.with_blank_identifiers(blank)
                .map_err(|e| PackageAuditError::Profile(e.to_string()))?
        }
        (None, None) => return Err(PackageAuditError::UnknownLevel(package.to_path_buf())),
    };
    let key = match &req.key {
        Some(k) => k.clone(),
        None => Key::from_bytes(archive.secret("deid").map_err(ExportError::Key)?),
    };
    let deid = Deidentifier::new(profile.clone(), key.clone());
    let filter = Filter {
        project: req.project.clone(),
        ..Filter::default()
    };
    let all_subjects = archive.subjects(&filter).map_err(ExportError::from)?;
    let facts = subject_facts(archive, all_subjects.iter().map(|s| s.subject.as_str()))?;
    let in_package: BTreeSet<String> = manifest
        .as_ref()
        .and_then(|m| m["subjects"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s["id"].as_str().map(str::to_string))
        .collect();
    let same_key = manifest
        .as_ref()
        .and_then(|m| m["key_fingerprint"].as_str().map(str::to_string))
        .is_some_and(|f| f == key_fingerprint(&key));
    let matched: BTreeSet<&str> = facts
        .iter()
        .filter(|(code, f)| {
            in_package.contains(code.as_str())
                || (same_key && in_package.contains(&pseudonym_of(&deid, f)))
        })
        .map(|(code, _)| code.as_str())
        .collect();
    let matched_by_pseudonym = !matched.is_empty();
    let chosen: Vec<&str> = if matched_by_pseudonym {
        matched.into_iter().collect()
    } else {
        facts.keys().map(String::as_str).collect()
    };
    let mut instances = Vec::new();
    if profile.remaps_uids() {
        for code in &chosen {
            let f = Filter {
                subject: Some((*code).to_string()),
                ..Filter::default()
            };
            instances.extend(archive.instances(&f).map_err(ExportError::from)?);
        }
    } else {
        // Needles come from the subjects; give `needles` one instance per subject to name them.
        for code in &chosen {
            let f = Filter {
                subject: Some((*code).to_string()),
                ..Filter::default()
            };
            instances.extend(
                archive
                    .instances(&f)
                    .map_err(ExportError::from)?
                    .into_iter()
                    .take(1),
            );
        }
    }
    let needles = needles(&profile, &facts, instances.iter());
    let auditor = Auditor::new(&needles, audit_rules(&profile))?;
    let report = crate::audit::audit_package(package, &auditor)?;
    Ok((
        report,
        AuditScope {
            profile_name: profile.name().to_string(),
            subjects: chosen.len(),
            matched_by_pseudonym,
        },
    ))
}

fn pseudonym_of(deid: &Deidentifier, facts: &SubjectFacts) -> String {
    match &facts.key {
        SubjectKey::Patient { patient_id, issuer } => deid.pseudonym(patient_id, issuer.as_deref()),
        SubjectKey::BlankPatientId { study_uid } => {
            deid.pseudonym("", Some(&format!("depot:blank-patient-id:{study_uid}")))
        }
    }
}

/// The package's `manifest.json`, if it has a readable one.
fn read_manifest(package: &Path) -> Option<serde_json::Value> {
    let bytes = if package.is_dir() {
        std::fs::read(package.join("manifest.json")).ok()?
    } else {
        let f = std::fs::File::open(package).ok()?;
        let mut z = zip::ZipArchive::new(std::io::BufReader::new(f)).ok()?;
        let mut e = z.by_name("manifest.json").ok()?;
        let mut buf = Vec::new();
        e.read_to_end(&mut buf).ok()?;
        buf
    };
    serde_json::from_slice(&bytes).ok()
}
