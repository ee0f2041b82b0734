//! Tests of the grouping rules and header facts: keys read and trimmed, blank and hostile
//! PatientIDs, UIDs, nested UIDs, series labels, subject codes, dates.

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::*;
use crate::error::FactsError;
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
