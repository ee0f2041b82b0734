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

use std::borrow::Cow;

use dicom_core::value::Value;
use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::mem::InMemElement;
use dicom_object::{DefaultDicomObject, InMemDicomObject};
use serde::Serialize;

use crate::error::FactsError;

/// The longest PatientID or IssuerOfPatientID accepted (DICOM allows 64; this leaves room for
/// non-conformant but harmless values and still rejects hostile ones).
pub const MAX_KEY_LEN: usize = 1024;

/// OtherPatientIDs (0010,1000): retired from the standard but still written by scanners, and
/// identifying.
const OTHER_PATIENT_IDS: Tag = Tag(0x0010, 0x1000);

/// The longest UID DICOM allows.
pub const MAX_UID_LEN: usize = 64;

/// What the archive reads from one file's header: its grouping keys and the identifying and
/// descriptive values indexed per subject, study, series and instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HeaderFacts {
    /// PatientID (0010,0020); `None` when missing or blank.
    pub patient_id: Option<String>,
    /// IssuerOfPatientID (0010,0021).
    pub issuer_of_patient_id: Option<String>,
    /// PatientName (0010,0010).
    pub patient_name: Option<String>,
    /// PatientBirthDate (0010,0030).
    pub birth_date: Option<String>,
    /// PatientSex (0010,0040).
    pub sex: Option<String>,
    /// OtherPatientIDs (0010,1000), values joined with `\`.
    pub other_patient_ids: Option<String>,
    /// OtherPatientNames (0010,1001), values joined with `\`.
    pub other_patient_names: Option<String>,
    /// StudyInstanceUID (0020,000D).
    pub study_uid: String,
    /// SeriesInstanceUID (0020,000E).
    pub series_uid: String,
    /// SOPInstanceUID (0008,0018).
    pub sop_uid: String,
    /// SOPClassUID (0008,0016), or the file meta's MediaStorageSOPClassUID.
    pub sop_class_uid: Option<String>,
    /// The file's transfer syntax UID (from the file meta group); `None` for a bare data set.
    pub transfer_syntax: Option<String>,
    /// SeriesNumber (0020,0011) when present and a valid integer.
    pub series_number: Option<i64>,
    /// InstanceNumber (0020,0013) when present and a valid integer.
    pub instance_number: Option<i64>,
    /// NumberOfFrames (0028,0008) when present and a valid integer.
    pub number_of_frames: Option<i64>,
    /// Modality (0008,0060).
    pub modality: Option<String>,
    /// AccessionNumber (0008,0050).
    pub accession_number: Option<String>,
    /// StudyID (0020,0010).
    pub study_id: Option<String>,
    /// StudyDate (0008,0020), normalised to `YYYYMMDD` when it holds a date in a known form.
    pub study_date: Option<String>,
    /// StudyTime (0008,0030).
    pub study_time: Option<String>,
    /// StudyDescription (0008,1030).
    pub study_description: Option<String>,
    /// InstitutionName (0008,0080).
    pub institution_name: Option<String>,
    /// ReferringPhysicianName (0008,0090).
    pub referring_physician_name: Option<String>,
    /// SeriesDescription (0008,103E).
    pub series_description: Option<String>,
    /// ProtocolName (0018,1030).
    pub protocol_name: Option<String>,
    /// StationName (0008,1010).
    pub station_name: Option<String>,
    /// BodyPartExamined (0018,0015).
    pub body_part_examined: Option<String>,
}

impl HeaderFacts {
    /// Reads the facts from a data set (top level only). The transfer syntax is not part of a
    /// data set; use [`HeaderFacts::from_file_object`] to get it from the file meta group.
    pub fn from_object(obj: &InMemDicomObject) -> Result<HeaderFacts, FactsError> {
        let study_uid = required_uid(obj, tags::STUDY_INSTANCE_UID, "StudyInstanceUID")?;
        let series_uid = required_uid(obj, tags::SERIES_INSTANCE_UID, "SeriesInstanceUID")?;
        let sop_uid = required_uid(obj, tags::SOP_INSTANCE_UID, "SOPInstanceUID")?;
        let patient_id = key_text(obj, tags::PATIENT_ID, "PatientID")?;
        let issuer_of_patient_id = key_text(obj, tags::ISSUER_OF_PATIENT_ID, "IssuerOfPatientID")?;
        Ok(HeaderFacts {
            patient_id,
            issuer_of_patient_id,
            patient_name: text(obj, tags::PATIENT_NAME),
            birth_date: text(obj, tags::PATIENT_BIRTH_DATE),
            sex: text(obj, tags::PATIENT_SEX),
            other_patient_ids: text(obj, OTHER_PATIENT_IDS),
            other_patient_names: text(obj, tags::OTHER_PATIENT_NAMES),
            study_uid,
            series_uid,
            sop_uid,
            sop_class_uid: text(obj, tags::SOP_CLASS_UID),
            transfer_syntax: None,
            series_number: integer(obj, tags::SERIES_NUMBER),
            instance_number: integer(obj, tags::INSTANCE_NUMBER),
            number_of_frames: integer(obj, tags::NUMBER_OF_FRAMES),
            modality: text(obj, tags::MODALITY),
            accession_number: text(obj, tags::ACCESSION_NUMBER),
            study_id: text(obj, tags::STUDY_ID),
            study_date: text(obj, tags::STUDY_DATE).map(|d| normalise_date(&d)),
            study_time: text(obj, tags::STUDY_TIME),
            study_description: text(obj, tags::STUDY_DESCRIPTION),
            institution_name: text(obj, tags::INSTITUTION_NAME),
            referring_physician_name: text(obj, tags::REFERRING_PHYSICIAN_NAME),
            series_description: text(obj, tags::SERIES_DESCRIPTION),
            protocol_name: text(obj, tags::PROTOCOL_NAME),
            station_name: text(obj, tags::STATION_NAME),
            body_part_examined: text(obj, tags::BODY_PART_EXAMINED),
        })
    }

    /// Reads the facts from a file object: the data set's facts plus the transfer syntax, and the
    /// SOP class from the file meta group when the data set lacks one.
    pub fn from_file_object(obj: &DefaultDicomObject) -> Result<HeaderFacts, FactsError> {
        let mut facts = HeaderFacts::from_object(obj)?;
        let meta = obj.meta();
        let ts = clean(meta.transfer_syntax());
        facts.transfer_syntax = (!ts.is_empty()).then(|| ts.to_string());
        if facts.sop_class_uid.is_none() {
            let class = clean(meta.media_storage_sop_class_uid());
            facts.sop_class_uid = (!class.is_empty()).then(|| class.to_string());
        }
        Ok(facts)
    }
}

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

/// Normalises a DA value to `YYYYMMDD` when it holds a real calendar date in one of the forms
/// seen in the wild (`YYYYMMDD`, the old `YYYY.MM.DD`, `YYYY-MM-DD`); otherwise returns it
/// unchanged. `20241399`, `00000000` or `20240230` are not dates and stay as they are (the
/// query's date filters never match them, see [`is_calendar_date`]).
pub fn normalise_date(raw: &str) -> String {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let separators_ok = raw
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.' || c == '-');
    if separators_ok && is_calendar_date(&digits) {
        digits
    } else {
        raw.to_string()
    }
}

/// Whether `s` is exactly eight digits `YYYYMMDD` naming a day of the (proleptic Gregorian)
/// calendar: month 1 to 12, a day that exists in that month (leap years included).
pub fn is_calendar_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 8 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<u32>().ok());
    match (num(0..4), num(4..6), num(6..8)) {
        (Some(y), Some(m), Some(d)) => i32::try_from(y)
            .ok()
            .and_then(|y| chrono::NaiveDate::from_ymd_opt(y, m, d))
            .is_some(),
        _ => false,
    }
}

/// Strips DICOM padding (trailing NULs, surrounding spaces).
fn clean(s: &str) -> &str {
    s.trim_matches(|c: char| c == '\0' || c == ' ')
}

/// An element's value as text. A standard attribute still encoded as UN (its bytes are no
/// valid value of its VR, so [`crate::reading`] kept it UN) is read as the text its bytes
/// spell, not as dicom-rs shows UN bytes (numbers joined by backslashes).
fn as_text(elem: &InMemElement) -> Option<Cow<'_, str>> {
    if elem.vr() == VR::UN {
        let bytes = match elem.value() {
            Value::Primitive(p) => p.to_bytes(),
            _ => return None,
        };
        return Some(Cow::Owned(String::from_utf8_lossy(&bytes).into_owned()));
    }
    elem.to_str().ok()
}

/// A top-level text value, trimmed; `None` when absent or blank.
fn text(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    let elem = obj.get(tag)?;
    let s = as_text(elem)?;
    let s = clean(&s);
    (!s.is_empty()).then(|| s.to_string())
}

/// A top-level integer value (IS or a binary integer VR).
fn integer(obj: &InMemDicomObject, tag: Tag) -> Option<i64> {
    let elem = obj.get(tag)?;
    if let Some(s) = as_text(elem)
        && let Ok(n) = clean(&s).parse::<i64>()
    {
        return Some(n);
    }
    // UN bytes that are no number of the attribute's VR mean no number.
    (elem.vr() != VR::UN)
        .then(|| elem.to_int::<i64>().ok())
        .flatten()
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

fn required_uid(
    obj: &InMemDicomObject,
    tag: Tag,
    attribute: &'static str,
) -> Result<String, FactsError> {
    let Some(elem) = obj.get(tag) else {
        return Err(FactsError::MissingUid { attribute, tag });
    };
    let raw = as_text(elem).ok_or_else(|| FactsError::InvalidUid {
        attribute,
        value: String::new(),
        reason: "its value is not text".into(),
    })?;
    let uid = clean(&raw);
    if uid.is_empty() {
        return Err(FactsError::MissingUid { attribute, tag });
    }
    let shown = || abbreviate(uid);
    if uid.len() > MAX_UID_LEN {
        return Err(FactsError::InvalidUid {
            attribute,
            value: shown(),
            reason: format!("{} characters long, DICOM allows {MAX_UID_LEN}", uid.len()),
        });
    }
    if !uid.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(FactsError::InvalidUid {
            attribute,
            value: shown(),
            reason: "a UID may hold only digits and dots".into(),
        });
    }
    Ok(uid.to_string())
}

/// A grouping key's value (PatientID, IssuerOfPatientID), trimmed; `None` when it is missing or
/// blank. A value whose every `\`-separated part is blank (`\ `, ` \`, `\\`: several empty
/// values) is blank too: it names nobody, and keying subjects by it would merge unrelated
/// patients.
fn key_text(
    obj: &InMemDicomObject,
    tag: Tag,
    attribute: &'static str,
) -> Result<Option<String>, FactsError> {
    let Some(value) = text(obj, tag) else {
        return Ok(None);
    };
    if value.split('\\').all(|part| clean(part).is_empty()) {
        return Ok(None);
    }
    if value.chars().count() > MAX_KEY_LEN {
        return Err(FactsError::InvalidKey {
            attribute,
            value: abbreviate(&value),
            reason: format!(
                "{} characters long, more than {MAX_KEY_LEN}",
                value.chars().count()
            ),
        });
    }
    if has_control(&value) {
        return Err(FactsError::InvalidKey {
            attribute,
            value: abbreviate(&value),
            reason: "it contains control characters".into(),
        });
    }
    Ok(Some(value))
}

/// A value shortened for error messages, with control characters escaped.
fn abbreviate(s: &str) -> String {
    let escaped: String = s.chars().flat_map(char::escape_debug).collect();
    if escaped.chars().count() > 80 {
        let head: String = escaped.chars().take(77).collect();
        format!("{head}...")
    } else {
        escaped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::{DataElement, PrimitiveValue, VR};

    fn obj(elems: &[(Tag, VR, &str)]) -> InMemDicomObject {
        InMemDicomObject::from_element_iter(
            elems
                .iter()
                .map(|(t, vr, v)| DataElement::new(*t, *vr, PrimitiveValue::from(*v))),
        )
    }

    fn base(extra: &[(Tag, VR, &str)]) -> InMemDicomObject {
        let mut all = vec![
            (tags::STUDY_INSTANCE_UID, VR::UI, "1.2.3"),
            (tags::SERIES_INSTANCE_UID, VR::UI, "1.2.3.4"),
            (tags::SOP_INSTANCE_UID, VR::UI, "1.2.3.4.5\0"),
        ];
        all.extend_from_slice(extra);
        obj(&all)
    }

    #[test]
    fn reads_and_trims_keys() {
        let o = base(&[
            (tags::PATIENT_ID, VR::LO, " P1 "),
            (tags::SERIES_NUMBER, VR::IS, " 7 "),
            (tags::STUDY_DATE, VR::DA, "2024.01.31"),
        ]);
        let f = HeaderFacts::from_object(&o).unwrap();
        assert_eq!(f.sop_uid, "1.2.3.4.5");
        assert_eq!(f.patient_id.as_deref(), Some("P1"));
        assert_eq!(f.series_number, Some(7));
        assert_eq!(f.study_date.as_deref(), Some("20240131"));
        assert_eq!(
            SubjectKey::of(&f),
            SubjectKey::Patient {
                patient_id: "P1".into(),
                issuer: None
            }
        );
    }

    #[test]
    fn blank_patient_id_is_keyed_by_study() {
        let o = base(&[(tags::PATIENT_ID, VR::LO, "   ")]);
        let f = HeaderFacts::from_object(&o).unwrap();
        let key = SubjectKey::of(&f);
        assert!(key.is_blank_patient_id());
        assert_eq!(key.value(), "1.2.3");
        let missing = HeaderFacts::from_object(&base(&[])).unwrap();
        assert_eq!(SubjectKey::of(&missing), key);
    }

    #[test]
    fn patient_ids_of_empty_values_only_are_blank() {
        for raw in ["\\ ", " \\", "\\", " \\ \\\0"] {
            let f = HeaderFacts::from_object(&base(&[
                (tags::PATIENT_ID, VR::LO, raw),
                (tags::ISSUER_OF_PATIENT_ID, VR::LO, raw),
            ]))
            .unwrap();
            assert_eq!(f.patient_id, None, "{raw:?}");
            assert_eq!(f.issuer_of_patient_id, None, "{raw:?}");
            assert!(SubjectKey::of(&f).is_blank_patient_id(), "{raw:?}");
        }
        // A real value among empty ones is kept as it is.
        let f = HeaderFacts::from_object(&base(&[(tags::PATIENT_ID, VR::LO, "P1\\")])).unwrap();
        assert_eq!(f.patient_id.as_deref(), Some("P1\\"));
    }

    #[test]
    fn issuer_is_part_of_the_key() {
        let a = HeaderFacts::from_object(&base(&[
            (tags::PATIENT_ID, VR::LO, "P1"),
            (tags::ISSUER_OF_PATIENT_ID, VR::LO, "HOSP_A"),
        ]))
        .unwrap();
        let b = HeaderFacts::from_object(&base(&[(tags::PATIENT_ID, VR::LO, "P1")])).unwrap();
        assert_ne!(SubjectKey::of(&a), SubjectKey::of(&b));
        assert_eq!(SubjectKey::of(&a).issuer(), "HOSP_A");
    }

    #[test]
    fn path_like_patient_ids_are_just_strings() {
        for id in ["../../x", "A/B\\C:*?"] {
            let f = HeaderFacts::from_object(&base(&[(tags::PATIENT_ID, VR::LO, id)])).unwrap();
            assert_eq!(f.patient_id.as_deref(), Some(id));
        }
    }

    #[test]
    fn missing_and_invalid_uids_are_errors() {
        let o = obj(&[
            (tags::STUDY_INSTANCE_UID, VR::UI, "1.2"),
            (tags::SERIES_INSTANCE_UID, VR::UI, "1.3"),
        ]);
        let err = HeaderFacts::from_object(&o).unwrap_err();
        assert!(err.to_string().contains("SOPInstanceUID"), "{err}");

        let o = base(&[]);
        let mut o2 = o.clone();
        o2.put(DataElement::new(
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from("../../x"),
        ));
        let err = HeaderFacts::from_object(&o2).unwrap_err();
        assert!(matches!(
            err,
            FactsError::InvalidUid {
                attribute: "StudyInstanceUID",
                ..
            }
        ));

        let long = "1.".repeat(40);
        let mut o3 = o;
        o3.put(DataElement::new(
            tags::SERIES_INSTANCE_UID,
            VR::UI,
            PrimitiveValue::from(long),
        ));
        assert!(
            HeaderFacts::from_object(&o3)
                .unwrap_err()
                .to_string()
                .contains("64")
        );
    }

    #[test]
    fn hostile_patient_ids_are_errors() {
        let f = HeaderFacts::from_object(&base(&[(tags::PATIENT_ID, VR::LO, "a\nb")]));
        assert!(matches!(
            f,
            Err(FactsError::InvalidKey {
                attribute: "PatientID",
                ..
            })
        ));
        let long = "x".repeat(MAX_KEY_LEN + 1);
        let f = HeaderFacts::from_object(&base(&[(tags::PATIENT_ID, VR::LO, &long)]));
        assert!(matches!(f, Err(FactsError::InvalidKey { .. })));
    }

    #[test]
    fn nested_uids_do_not_override_top_level() {
        use dicom_core::value::DataSetSequence;
        let inner = obj(&[(tags::STUDY_INSTANCE_UID, VR::UI, "9.9.9")]);
        let mut o = base(&[]);
        o.put(DataElement::new(
            tags::REFERENCED_STUDY_SEQUENCE,
            VR::SQ,
            DataSetSequence::from(vec![inner]),
        ));
        let f = HeaderFacts::from_object(&o).unwrap();
        assert_eq!(f.study_uid, "1.2.3");
    }

    #[test]
    fn series_labels_are_unique() {
        let taken = ["3", "3.1", "0"];
        let is_taken = |l: &str| taken.contains(&l);
        assert_eq!(series_label(Some(4), is_taken), "4");
        assert_eq!(series_label(Some(3), is_taken), "3.2");
        assert_eq!(series_label(None, is_taken), "0.1");
        assert_eq!(series_label(Some(-5), |_| false), "0");
    }

    #[test]
    fn subject_codes_have_the_documented_shape() {
        let mut rng = rand::rng();
        for _ in 0..200 {
            let code = new_subject_code(&mut rng);
            assert!(is_subject_code(&code), "{code}");
        }
        assert!(!is_subject_code("S12AB"));
        assert!(!is_subject_code("S1234ABC"), "vowels are not used");
    }

    #[test]
    fn dates_normalise() {
        assert_eq!(normalise_date("20240101"), "20240101");
        assert_eq!(normalise_date("2024-01-01"), "20240101");
        assert_eq!(normalise_date("garbage"), "garbage");
        assert_eq!(normalise_date("2024.02.29"), "20240229", "a leap day");
        for not_a_date in [
            "20241399",
            "00000000",
            "20240230",
            "2023.02.29",
            "2024-00-10",
        ] {
            assert_eq!(normalise_date(not_a_date), not_a_date);
            assert!(
                !is_calendar_date(&normalise_date(not_a_date)),
                "{not_a_date}"
            );
        }
        assert!(is_calendar_date("19991231"));
        assert!(!is_calendar_date("1999123"));
        assert!(!is_calendar_date("+9991231"));
    }
}
