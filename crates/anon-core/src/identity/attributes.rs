//! The attributes that identify a subject, and the kind of identifying value any attribute
//! holds (which decides how the value is spelled and bounded when searched).

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::{StandardDataDictionary, tags};
use serde::Serialize;

/// What kind of identifying value a value is: decides its spellings and how it is bounded
/// when searched in text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ValueKind {
    /// A person name (PN): spelled whole and part by part (see
    /// [`name_texts`](crate::identity::name_texts)).
    PersonName,
    /// An identifier (PatientID, accession number, serial number, telephone number, ...).
    Identifier,
    /// A date (DA, or the date of a DT): spelled as `YYYYMMDD`, `YYYY-MM-DD`, `YYYY.MM.DD`,
    /// `YYYY/MM/DD`, `DD.MM.YYYY`, `MM/DD/YYYY` and `DD/MM/YYYY` (see
    /// [`date_texts`](crate::identity::date_texts)).
    Date,
    /// A UID: bounded by UID characters (never inside a longer UID).
    Uid,
    /// Other free text (institution, department, station, address, ...).
    Text,
}

/// One attribute of the subject's own identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdentityAttribute {
    /// The attribute.
    pub tag: Tag,
    /// Its keyword, shown in findings.
    pub label: &'static str,
    /// The kind of value it holds.
    pub kind: ValueKind,
}

const fn attr(tag: Tag, label: &'static str, kind: ValueKind) -> IdentityAttribute {
    IdentityAttribute { tag, label, kind }
}

/// OtherPatientIDs (0010,1000), retired.
pub const OTHER_PATIENT_IDS: Tag = Tag(0x0010, 0x1000);

/// MedicalRecordLocator (0010,1090), retired.
pub const MEDICAL_RECORD_LOCATOR: Tag = Tag(0x0010, 0x1090);

/// The subject's identifying attributes of a data set's top level: the values the engine
/// cuts from every cleaned text of the subject's files (the subject's context), and that the
/// export hands to the audit as the subject's values. The PatientIDs of
/// OtherPatientIDsSequence items count too (see
/// [`Deidentifier::subject_context`](crate::Deidentifier::subject_context)).
pub const SUBJECT_ATTRIBUTES: [IdentityAttribute; 11] = [
    attr(tags::PATIENT_NAME, "PatientName", ValueKind::PersonName),
    attr(
        tags::PATIENT_BIRTH_NAME,
        "PatientBirthName",
        ValueKind::PersonName,
    ),
    attr(
        tags::PATIENT_MOTHER_BIRTH_NAME,
        "PatientMotherBirthName",
        ValueKind::PersonName,
    ),
    attr(
        tags::OTHER_PATIENT_NAMES,
        "OtherPatientNames",
        ValueKind::PersonName,
    ),
    attr(tags::PATIENT_ID, "PatientID", ValueKind::Identifier),
    attr(OTHER_PATIENT_IDS, "OtherPatientIDs", ValueKind::Identifier),
    attr(
        tags::ACCESSION_NUMBER,
        "AccessionNumber",
        ValueKind::Identifier,
    ),
    attr(
        MEDICAL_RECORD_LOCATOR,
        "MedicalRecordLocator",
        ValueKind::Identifier,
    ),
    attr(
        tags::PATIENT_TELEPHONE_NUMBERS,
        "PatientTelephoneNumbers",
        ValueKind::Identifier,
    ),
    attr(tags::PATIENT_ADDRESS, "PatientAddress", ValueKind::Text),
    attr(
        tags::PATIENT_BIRTH_DATE,
        "PatientBirthDate",
        ValueKind::Date,
    ),
];

/// The patient's own attributes: [`SUBJECT_ATTRIBUTES`] plus IssuerOfPatientID and
/// OtherPatientIDsSequence. At `anonymize`, which keeps everything but a few attributes on
/// purpose, the audit searches only these.
pub const PATIENT_ATTRIBUTES: [Tag; 12] = [
    tags::PATIENT_NAME,
    tags::PATIENT_BIRTH_NAME,
    tags::PATIENT_MOTHER_BIRTH_NAME,
    tags::OTHER_PATIENT_NAMES,
    tags::PATIENT_BIRTH_DATE,
    tags::PATIENT_ID,
    tags::ISSUER_OF_PATIENT_ID,
    OTHER_PATIENT_IDS,
    tags::OTHER_PATIENT_I_DS_SEQUENCE,
    MEDICAL_RECORD_LOCATOR,
    tags::PATIENT_TELEPHONE_NUMBERS,
    tags::PATIENT_ADDRESS,
];

/// Attributes of a text VR that hold identifiers rather than free text (the rest of a text
/// VR is [`ValueKind::Text`]): the difference is only the label a finding shows; both are
/// spelled and bounded alike.
fn is_identifier(tag: Tag) -> bool {
    let keyword = StandardDataDictionary
        .by_tag(tag)
        .map(|e| e.alias())
        .unwrap_or("");
    keyword.ends_with("ID")
        || keyword.ends_with("IDs")
        || keyword.ends_with("Number")
        || keyword.ends_with("Numbers")
        || keyword.ends_with("Locator")
}

/// The kind of identifying value an attribute of VR `vr` holds, or `None` when its values
/// cannot identify anyone by themselves and would shred text if cut out of it: code strings
/// (`YES`, `M`, `HEAD`), ages, numbers, times and binary values.
pub fn kind_of(tag: Tag, vr: VR) -> Option<ValueKind> {
    match vr {
        VR::PN => Some(ValueKind::PersonName),
        VR::UI => Some(ValueKind::Uid),
        VR::DA | VR::DT => Some(ValueKind::Date),
        VR::AE | VR::LO | VR::SH | VR::ST | VR::LT | VR::UT | VR::UC | VR::UR => {
            Some(if is_identifier(tag) {
                ValueKind::Identifier
            } else {
                ValueKind::Text
            })
        }
        _ => None,
    }
}

/// The attribute's keyword (`fallback` for private or unknown attributes).
pub fn label_of(tag: Tag, fallback: &'static str) -> &'static str {
    StandardDataDictionary
        .by_tag(tag)
        .map(|e| e.alias())
        .unwrap_or(fallback)
}
