//! The import's grouping rules as pure functions, so that they can be tested on their own and
//! reused by export's "would these headers regroup the same?" check.
//!
//! NiDB groups by flattened tag maps, SeriesNumber and date windows, and silently merges or
//! splits data (see `shared/design/nidb-behaviour.md`). depot groups exactly:
//!
//! * a **subject** by PatientID together with IssuerOfPatientID (when present), within a project;
//!   a file whose PatientID is missing or blank (only padding, or only empty values such as `\ `)
//!   is keyed by its StudyInstanceUID instead
//!   ([`SubjectKey::BlankPatientId`]), so every such study becomes its own subject and is never
//!   merged with anybody else;
//! * a **study** by StudyInstanceUID, a **series** by SeriesInstanceUID and an **instance** by
//!   SOPInstanceUID.
//!
//! Only top-level attributes are read: a UID inside a nested sequence (e.g. a referenced study)
//! never overrides the file's own.
//!
//! Values are trimmed of DICOM padding (spaces and NULs). Keys are checked here, because the
//! archive relies on them: the three UIDs are required and must be real UIDs (digits and dots,
//! at most 64 characters); PatientID and IssuerOfPatientID may hold any text (a PatientID of
//! `../../x` is just a string to depot, since storage paths never use data values) but no control
//! characters and at most [`MAX_KEY_LEN`] characters.

mod dates;
mod facts;

use serde::Serialize;

pub use dates::{is_calendar_date, normalise_date};
pub use facts::{HeaderFacts, MAX_KEY_LEN, MAX_UID_LEN};

/// The key a subject is matched by within a project.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SubjectKey {
    /// The file has a PatientID: the subject is that PatientID (with its issuer, if any).
    Patient {
        /// PatientID, trimmed.
        patient_id: String,
        /// IssuerOfPatientID, trimmed; `None` when absent or blank.
        issuer: Option<String>,
    },
    /// The file has no PatientID: the subject is keyed by the study, so each such study becomes a
    /// subject of its own and is never merged with another patient.
    BlankPatientId {
        /// The StudyInstanceUID standing in for the missing PatientID.
        study_uid: String,
    },
}

impl SubjectKey {
    /// The subject key of a file.
    pub fn of(facts: &HeaderFacts) -> SubjectKey {
        match &facts.patient_id {
            Some(id) => SubjectKey::Patient {
                patient_id: id.clone(),
                issuer: facts.issuer_of_patient_id.clone(),
            },
            None => SubjectKey::BlankPatientId {
                study_uid: facts.study_uid.clone(),
            },
        }
    }

    /// The kind as stored in the index (`patient` or `blank_patient_id`).
    pub fn kind(&self) -> &'static str {
        match self {
            SubjectKey::Patient { .. } => "patient",
            SubjectKey::BlankPatientId { .. } => "blank_patient_id",
        }
    }

    /// The key's main value: the PatientID, or the StudyInstanceUID for a blank PatientID.
    pub fn value(&self) -> &str {
        match self {
            SubjectKey::Patient { patient_id, .. } => patient_id,
            SubjectKey::BlankPatientId { study_uid } => study_uid,
        }
    }

    /// The issuer part of the key (`""` when there is none).
    pub fn issuer(&self) -> &str {
        match self {
            SubjectKey::Patient {
                issuer: Some(i), ..
            } => i,
            _ => "",
        }
    }

    /// Whether the key stands in for a missing PatientID.
    pub fn is_blank_patient_id(&self) -> bool {
        matches!(self, SubjectKey::BlankPatientId { .. })
    }
}

impl std::fmt::Display for SubjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SubjectKey::Patient {
                patient_id,
                issuer: None,
            } => write!(f, "PatientID {patient_id:?}"),
            SubjectKey::Patient {
                patient_id,
                issuer: Some(i),
            } => {
                write!(f, "PatientID {patient_id:?} (issuer {i:?})")
            }
            SubjectKey::BlankPatientId { study_uid } => {
                write!(f, "blank PatientID (keyed by study {study_uid})")
            }
        }
    }
}

/// The directory label a series gets in its study: its SeriesNumber, made unique.
///
/// The base is the SeriesNumber; a missing or negative SeriesNumber counts as `0`. If another
/// series of the same study already has that label, the first free of `base.1`, `base.2`, ... is
/// used: two series numbered 3 become `3` and `3.1` (in the order they were first imported).
/// `is_taken` says whether a label is already used in the study.
pub fn series_label(series_number: Option<i64>, mut is_taken: impl FnMut(&str) -> bool) -> String {
    let base = match series_number {
        Some(n) if n >= 0 => n.to_string(),
        _ => "0".to_string(),
    };
    if !is_taken(&base) {
        return base;
    }
    let mut k: u64 = 1;
    loop {
        let candidate = format!("{base}.{k}");
        if !is_taken(&candidate) {
            return candidate;
        }
        k += 1;
    }
}

/// Letters used in subject codes: consonants only, so that a code never spells a word.
const CODE_LETTERS: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

/// A fresh random subject code: `S`, four digits and three consonants (e.g. `S0421KTX`), in the
/// style of NiDB's `S1234ABC`; 80 million possible codes. Carries no PHI. Uniqueness is the
/// index's job (UNIQUE column, retry on collision).
pub fn new_subject_code(rng: &mut impl rand::Rng) -> String {
    let mut code = String::with_capacity(8);
    code.push('S');
    for _ in 0..4 {
        code.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    for _ in 0..3 {
        let i = rng.random_range(0..CODE_LETTERS.len());
        code.push(char::from(CODE_LETTERS.get(i).copied().unwrap_or(b'X')));
    }
    code
}

/// Whether `s` looks like a subject code made by [`new_subject_code`].
pub fn is_subject_code(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 8
        && b.first() == Some(&b'S')
        && b.get(1..5)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
        && b.get(5..8)
            .is_some_and(|l| l.iter().all(|c| CODE_LETTERS.contains(c)))
}

#[cfg(test)]
mod tests;
