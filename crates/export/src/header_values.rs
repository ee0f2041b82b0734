//! The identifying values a header carries, as audit needles by attribute: the subject's
//! attributes of anon-core's identity model, the other attributes the index keeps, and every
//! original UID. Read from the exported headers by the plan, from the stored headers by
//! `depot audit`, the check of a release's reason and the export (a subject's files it does
//! not export, [`crate::stored_values`]), and from a received file by the de-identification on
//! receive.
//!
//! Values are read as the engine reads them ([`HeaderText`]): a data set with ISO 2022 code
//! extensions (`\ISO 2022 IR 87`, IR 149, IR 58, IR 13) gives the characters its bytes spell
//! (`山田^太郎`), which the audit then spells in every character set, not dicom-rs's reading
//! of those bytes through the first character set (escape sequences and Latin-1 mojibake).

use anon_core::HeaderText;
use anon_core::identity::SUBJECT_ATTRIBUTES;
use audit::{Needle, ValueKind};
use dicom_core::header::Header;
use dicom_core::value::Value;
use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

/// A header's identifying values (the subject's attributes of the identity model, whose
/// values the engine's subject context cuts from text) as needles by attribute.
pub(crate) fn identity_needles(obj: &InMemDicomObject) -> Vec<(Tag, Needle)> {
    let text = HeaderText::of(obj);
    let mut out = Vec::new();
    for a in SUBJECT_ATTRIBUTES {
        for v in text.values(obj, a.tag) {
            out.push((a.tag, Needle::new(a.label, a.kind, v)));
        }
    }
    if let Some(items) = obj
        .get(tags::OTHER_PATIENT_I_DS_SEQUENCE)
        .and_then(|e| e.items())
    {
        for item in items {
            for v in text.values(item, tags::PATIENT_ID) {
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

/// The attributes the index keeps per subject, study or series that the identity attributes
/// leave out: (attribute, label, kind).
pub(crate) const INDEXED_ATTRIBUTES: [(Tag, &str, ValueKind); 5] = [
    (
        tags::ISSUER_OF_PATIENT_ID,
        "IssuerOfPatientID",
        ValueKind::Text,
    ),
    (tags::STUDY_ID, "StudyID", ValueKind::Identifier),
    (tags::INSTITUTION_NAME, "InstitutionName", ValueKind::Text),
    (
        tags::REFERRING_PHYSICIAN_NAME,
        "ReferringPhysicianName",
        ValueKind::PersonName,
    ),
    (tags::STATION_NAME, "StationName", ValueKind::Text),
];

/// The label and kind of an attribute the index keeps: one of the subject's attributes of the
/// identity model, or of [`INDEXED_ATTRIBUTES`].
pub(crate) fn indexed_attribute(tag: Tag) -> Option<(&'static str, ValueKind)> {
    SUBJECT_ATTRIBUTES
        .iter()
        .map(|a| (a.tag, a.label, a.kind))
        .chain(INDEXED_ATTRIBUTES)
        .find(|(t, _, _)| *t == tag)
        .map(|(_, label, kind)| (label, kind))
}

/// A header's identifying values, by attribute: its identity attributes and the other
/// attributes the index keeps (top level).
pub(crate) fn header_needles(obj: &InMemDicomObject) -> Vec<(Tag, Needle)> {
    let text = HeaderText::of(obj);
    let mut out = identity_needles(obj);
    for (tag, label, kind) in INDEXED_ATTRIBUTES {
        for v in text.values(obj, tag) {
            out.push((tag, Needle::new(label, kind, v)));
        }
    }
    out
}
