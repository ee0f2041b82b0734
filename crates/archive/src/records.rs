//! What queries return: plain records, one per subject, study, series, instance or rejected file,
//! deriving `Serialize` so the CLI can print them as JSON or CSV with stable field names
//! (documented in `docs/query.md`), plus the [`Filter`] that selects them.
//!
//! The records carry the identifying values the archive indexed (PatientName, PatientID, ...):
//! this is the local, trusted archive, and export's PHI audit needs them.

pub use chrono::NaiveDate;
use serde::Serialize;

use crate::content_hash::HashAlgorithm;

/// Parses a study-date bound as given on a command line: `YYYY-MM-DD` or `YYYYMMDD`.
pub fn parse_date(s: &str) -> Result<NaiveDate, String> {
    let t = s.trim();
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(t, "%Y%m%d"))
        .map_err(|_| format!("invalid date {s:?}: use YYYY-MM-DD or YYYYMMDD"))
}

/// Selects what a query returns. Every field that is set must match (AND). Counts on the
/// returned records are computed over the matching instances only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Project name.
    pub project: Option<String>,
    /// Subject archive code (e.g. `S0421KTX`).
    pub subject: Option<String>,
    /// PatientID as in the data (exact match).
    pub patient_id: Option<String>,
    /// Modality of the series (case-insensitive).
    pub modality: Option<String>,
    /// Study date on or after this day.
    pub since: Option<NaiveDate>,
    /// Study date on or before this day.
    pub until: Option<NaiveDate>,
    /// StudyInstanceUID.
    pub study_uid: Option<String>,
    /// SeriesInstanceUID.
    pub series_uid: Option<String>,
    /// Import run id (instances imported by that run; rejects last seen in it).
    pub run: Option<i64>,
}

impl Filter {
    /// Whether a filter other than `project` and `run` is set (those are the only ones that apply
    /// to rejects).
    pub fn has_instance_filters(&self) -> bool {
        self.subject.is_some()
            || self.patient_id.is_some()
            || self.modality.is_some()
            || self.since.is_some()
            || self.until.is_some()
            || self.study_uid.is_some()
            || self.series_uid.is_some()
    }
}

/// One subject (patient identity within a project).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubjectRecord {
    /// Project name.
    pub project: String,
    /// Archive code, e.g. `S0421KTX`.
    pub subject: String,
    /// True when the files had no PatientID and the subject is keyed by its study.
    pub blank_patient_id: bool,
    /// PatientID.
    pub patient_id: Option<String>,
    /// IssuerOfPatientID.
    pub issuer_of_patient_id: Option<String>,
    /// PatientName (first seen).
    pub patient_name: Option<String>,
    /// PatientBirthDate (first seen).
    pub birth_date: Option<String>,
    /// PatientSex (first seen).
    pub sex: Option<String>,
    /// OtherPatientIDs (first seen).
    pub other_patient_ids: Option<String>,
    /// OtherPatientNames (first seen).
    pub other_patient_names: Option<String>,
    /// Matching studies.
    pub studies: u64,
    /// Matching series.
    pub series: u64,
    /// Matching instances.
    pub instances: u64,
    /// Bytes of the matching instances.
    pub bytes: u64,
    /// When the subject was created (RFC 3339).
    pub created_at: String,
}

/// One study.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StudyRecord {
    /// Project name.
    pub project: String,
    /// Subject archive code.
    pub subject: String,
    /// Study number within the subject (1, 2, ...).
    pub study_number: i64,
    /// StudyInstanceUID.
    pub study_uid: String,
    /// StudyDate (`YYYYMMDD` when it was a real calendar date, otherwise as in the data).
    pub study_date: Option<String>,
    /// StudyTime.
    pub study_time: Option<String>,
    /// AccessionNumber.
    pub accession_number: Option<String>,
    /// StudyID.
    pub study_id: Option<String>,
    /// StudyDescription.
    pub study_description: Option<String>,
    /// InstitutionName.
    pub institution_name: Option<String>,
    /// ReferringPhysicianName.
    pub referring_physician_name: Option<String>,
    /// The subject's PatientID.
    pub patient_id: Option<String>,
    /// The subject's PatientName.
    pub patient_name: Option<String>,
    /// Modalities of the matching series, sorted, comma-separated.
    pub modalities: String,
    /// Matching series.
    pub series: u64,
    /// Matching instances.
    pub instances: u64,
    /// Bytes of the matching instances.
    pub bytes: u64,
    /// The study's folder in the store (absolute).
    pub path: String,
    /// When the study was created (RFC 3339).
    pub created_at: String,
}

/// One series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeriesRecord {
    /// Project name.
    pub project: String,
    /// Subject archive code.
    pub subject: String,
    /// Study number within the subject.
    pub study_number: i64,
    /// StudyInstanceUID.
    pub study_uid: String,
    /// Series label within the study (SeriesNumber made unique, e.g. `3.1`).
    pub series_label: String,
    /// SeriesNumber as in the data.
    pub series_number: Option<i64>,
    /// SeriesInstanceUID.
    pub series_uid: String,
    /// Modality.
    pub modality: Option<String>,
    /// SeriesDescription.
    pub series_description: Option<String>,
    /// ProtocolName.
    pub protocol_name: Option<String>,
    /// StationName.
    pub station_name: Option<String>,
    /// BodyPartExamined.
    pub body_part_examined: Option<String>,
    /// Matching instances.
    pub instances: u64,
    /// Bytes of the matching instances.
    pub bytes: u64,
    /// The series' folder in the store (absolute).
    pub path: String,
    /// When the series was created (RFC 3339).
    pub created_at: String,
}

/// One instance (one stored file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceRecord {
    /// Project name.
    pub project: String,
    /// Subject archive code.
    pub subject: String,
    /// Study number within the subject.
    pub study_number: i64,
    /// Series label within the study.
    pub series_label: String,
    /// StudyInstanceUID.
    pub study_uid: String,
    /// SeriesInstanceUID.
    pub series_uid: String,
    /// SOPInstanceUID.
    pub sop_uid: String,
    /// SOPClassUID.
    pub sop_class_uid: Option<String>,
    /// Transfer syntax UID of the stored file.
    pub transfer_syntax: Option<String>,
    /// Modality of the series.
    pub modality: Option<String>,
    /// InstanceNumber.
    pub instance_number: Option<i64>,
    /// NumberOfFrames.
    pub number_of_frames: Option<i64>,
    /// Content hash of the stored bytes (hex; also the stored file's name).
    pub content_hash: String,
    /// The algorithm of `content_hash` (the archive's).
    pub hash_algorithm: HashAlgorithm,
    /// Size in bytes.
    pub size: u64,
    /// The stored file (absolute path).
    pub path: String,
    /// Where it was imported from: the absolute path as text (see `text::path_text`);
    /// `/abs/dump.zip!/inner` for zip entries.
    pub source_path: String,
    /// The import run that stored it.
    pub run_id: i64,
    /// When it was stored (RFC 3339).
    pub imported_at: String,
}

/// Whether a file was rejected or kept apart as a conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RejectKind {
    /// Not archived: unreadable, not DICOM, missing UID, ...
    Rejected,
    /// Contradicts what is archived; its bytes are kept under `conflicts/`.
    Conflict,
}

/// One import run: a `depot import`, or what `depot serve` received into one project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunRecord {
    /// Run id (`depot query instances --run`).
    pub run_id: i64,
    /// Project.
    pub project: String,
    /// What it imported from, as a JSON array of text: the input paths, or
    /// `dicom AET@ADDR:PORT` for what a receiver received.
    pub inputs: String,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// When it finished; `None` while it runs, or if it was killed.
    pub finished_at: Option<String>,
    /// Files seen.
    pub files_seen: u64,
    /// Instances stored.
    pub imported: u64,
    /// Duplicates.
    pub duplicates: u64,
    /// Conflicts.
    pub conflicts: u64,
    /// Rejected files.
    pub rejected: u64,
    /// Files passed over (DICOMDIRs).
    pub skipped: u64,
    /// Bytes stored.
    pub bytes_imported: u64,
    /// The fatal error that stopped it, if one did.
    pub error: Option<String>,
    /// The de-identification applied to every file before it was stored (profile and key
    /// fingerprint); `None` when the run stored the files as they came.
    pub deidentified: Option<String>,
}

/// One rejected or conflicting file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectRecord {
    /// Row id.
    pub id: i64,
    /// `rejected` or `conflict`.
    pub kind: RejectKind,
    /// The file: its absolute path as text (see `text::path_text`); `/abs/dump.zip!/inner` for
    /// zip entries.
    pub path: String,
    /// Why.
    pub reason: String,
    /// When it was last seen (RFC 3339).
    pub time: String,
    /// The import run that last saw it.
    pub run_id: i64,
    /// The import run that first saw it.
    pub first_run_id: i64,
    /// When it was first seen.
    pub first_seen: String,
    /// How many runs saw it.
    pub times_seen: u64,
    /// The project of the imports that saw it (a file rejected in two projects is two records).
    pub project: String,
    /// Content hash of its bytes, when it could be read.
    pub content_hash: Option<String>,
    /// Size in bytes, when known.
    pub size: Option<u64>,
    /// SOPInstanceUID, when known.
    pub sop_uid: Option<String>,
    /// Conflicts: content hash of the instance already stored under the same SOPInstanceUID.
    pub existing_hash: Option<String>,
    /// The algorithm of `content_hash` and `existing_hash` (the archive's).
    pub hash_algorithm: HashAlgorithm,
    /// Conflicts: where the conflicting bytes are kept (absolute path).
    pub stored_path: Option<String>,
}
