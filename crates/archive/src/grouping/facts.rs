//! What the archive reads from one file's header ([`HeaderFacts`]): its grouping keys, checked
//! because the archive relies on them (real UIDs; PatientIDs without control characters and of
//! bounded length), and the identifying and descriptive values indexed per level. Only
//! top-level attributes are read.

use std::borrow::Cow;

use dicom_core::value::Value;
use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::mem::InMemElement;
use dicom_object::{DefaultDicomObject, InMemDicomObject};
use serde::Serialize;

use super::dates::normalise_date;
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
