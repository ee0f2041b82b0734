//! The subject of an object: its keyed pseudonym (one derivation for the engine, the export
//! and the audit, [`Deidentifier::pseudonym_of`]), its date offset, and the identifiers
//! cleaning cuts out of kept text.

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use crate::element_text::{code_extensions, first_str, text_values};
use crate::identity::{self, SUBJECT_ATTRIBUTES};

use super::deidentifier::Deidentifier;

/// What the engine knows about the subject of an object: derived once per object (or per
/// subject) by [`Deidentifier::subject_context`]; callers may add extra identifiers to cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectContext {
    /// The subject's keyed pseudonym (`P` + 10 base32 characters).
    pub pseudonym: String,
    /// Days every date of this subject moves under the modified-dates option (−3650..=−1).
    pub date_offset_days: i32,
    /// Text cut out of cleaned values: name parts, IDs, birth date (several spellings),
    /// accession number, address, telephone, plus whatever the caller adds.
    pub identifiers: Vec<String>,
}

/// What a subject's keyed pseudonym is derived from: the one input of
/// [`Deidentifier::pseudonym_of`], so that every place that names a subject (the engine, the
/// export's folders and manifest, the audit's expected values) names it alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectId<'a> {
    /// A subject with a PatientID, and its Issuer of Patient ID if any (surrounding blanks do
    /// not count; no issuer and an empty one are the same).
    Patient {
        /// The PatientID.
        patient_id: &'a str,
        /// The Issuer of Patient ID.
        issuer: Option<&'a str>,
    },
    /// A subject without a PatientID in an archive, where each such study is a subject of its
    /// own (the archive's `blank_patient_id` subject key), keyed by its Study Instance UID.
    BlankPatientId {
        /// The Study Instance UID.
        study_uid: &'a str,
    },
    /// A subject without a PatientID outside an archive (`depot anonymize`, a file received
    /// on its own): its name (compared upper-cased) and birth date stand in, so patients
    /// without IDs stay apart. What [`Deidentifier::subject_context`] uses for such a header.
    NameAndBirthDate {
        /// PatientName as written.
        name: &'a str,
        /// PatientBirthDate as written.
        birth_date: &'a str,
    },
}

/// The issuer under which a blank-PatientID subject's Study Instance UID is keyed.
const BLANK_PATIENT_ID_ISSUER: &str = "depot:blank-patient-id:";

impl Deidentifier {
    /// The keyed pseudonym of a patient ID (and its issuer): `P` + 10 base32 characters.
    /// The same as [`Deidentifier::pseudonym_of`] with [`SubjectId::Patient`].
    pub fn pseudonym(&self, patient_id: &str, issuer: Option<&str>) -> String {
        self.pseudonym_of(SubjectId::Patient { patient_id, issuer })
    }

    /// The subject's keyed pseudonym: `P` + 10 base32 characters, the same for the same
    /// subject in every run under one key, and no one without the key can tell whose it is.
    pub fn pseudonym_of(&self, subject: SubjectId<'_>) -> String {
        match subject {
            SubjectId::Patient { patient_id, issuer } => self
                .key
                .pseudonym_for(patient_id.trim(), issuer.unwrap_or("").trim()),
            SubjectId::BlankPatientId { study_uid } => {
                let issuer = format!("{BLANK_PATIENT_ID_ISSUER}{study_uid}");
                self.key.pseudonym_for("", issuer.trim())
            }
            SubjectId::NameAndBirthDate { name, birth_date } => self
                .key
                .pseudonym_without_id(&name.to_uppercase(), birth_date),
        }
    }

    /// The pseudonym of the subject a header names, as [`Deidentifier::subject_context`]
    /// gives it (PatientID and issuer, or without a PatientID name and birth date), without
    /// gathering the identifiers.
    pub fn header_pseudonym(&self, obj: &InMemDicomObject) -> String {
        let id = first_str(obj, tags::PATIENT_ID).unwrap_or_default();
        if id.is_empty() {
            let name = first_str(obj, tags::PATIENT_NAME).unwrap_or_default();
            let birth = first_str(obj, tags::PATIENT_BIRTH_DATE).unwrap_or_default();
            return self.pseudonym_of(SubjectId::NameAndBirthDate {
                name: &name,
                birth_date: &birth,
            });
        }
        let issuer = first_str(obj, tags::ISSUER_OF_PATIENT_ID);
        self.pseudonym_of(SubjectId::Patient {
            patient_id: &id,
            issuer: issuer.as_deref(),
        })
    }

    /// The subject of `obj`: pseudonym and date offset from the key and PatientID (+ issuer),
    /// or, without a PatientID, from PatientName and birth date; and the identifiers to cut
    /// from cleaned text.
    pub fn subject_context(&self, obj: &InMemDicomObject) -> SubjectContext {
        let id = first_str(obj, tags::PATIENT_ID).unwrap_or_default();
        let issuer = first_str(obj, tags::ISSUER_OF_PATIENT_ID).unwrap_or_default();
        let mut identifiers = Vec::new();
        // Text as characters, whatever the data set's code extensions: a Japanese name split
        // on the bytes of `^` inside its characters would give the wrong parts.
        let ext = code_extensions(obj);
        let texts = |o: &InMemDicomObject, tag: Tag| text_values(o, tag, ext);
        for attr in SUBJECT_ATTRIBUTES {
            for v in texts(obj, attr.tag) {
                identifiers.extend(identity::texts_of(attr.kind, &v));
            }
        }
        if let Some(items) = obj
            .get(tags::OTHER_PATIENT_I_DS_SEQUENCE)
            .and_then(|e| e.items())
        {
            for item in items {
                identifiers.extend(texts(item, tags::PATIENT_ID));
            }
        }
        identifiers.retain(|s| crate::clean::worth_cutting(s));
        identifiers.sort();
        identifiers.dedup();
        if id.is_empty() {
            // No PatientID: name and birth date stand in, so patients without IDs stay apart.
            let name = first_str(obj, tags::PATIENT_NAME).unwrap_or_default();
            let birth = first_str(obj, tags::PATIENT_BIRTH_DATE).unwrap_or_default();
            return SubjectContext {
                pseudonym: self.pseudonym_of(SubjectId::NameAndBirthDate {
                    name: &name,
                    birth_date: &birth,
                }),
                date_offset_days: self
                    .key
                    .date_offset_without_id(&name.to_uppercase(), &birth),
                identifiers,
            };
        }
        SubjectContext {
            pseudonym: self.pseudonym_of(SubjectId::Patient {
                patient_id: &id,
                issuer: Some(&issuer),
            }),
            date_offset_days: self.key.date_offset_for(&id, &issuer),
            identifiers,
        }
    }
}
