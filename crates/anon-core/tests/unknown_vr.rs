//! Standard attributes that reach the engine encoded as UN (a caller that did not re-encode
//! them, or bytes that are no valid value of their VR): each gets its tag's rule as its own VR,
//! the subject is recognised by the same PatientID, and what a rule keeps stays as it came.

use anon_core::{Deidentifier, Key, Level, Profile};
use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{DefaultDicomObject, InMemDicomObject};

fn el(tag: Tag, vr: VR, v: &str) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, PrimitiveValue::from(v))
}

fn un(tag: Tag, bytes: &[u8]) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, VR::UN, PrimitiveValue::U8(bytes.to_vec().into()))
}

fn file(elements: Vec<DataElement<InMemDicomObject>>) -> DefaultDicomObject {
    InMemDicomObject::from_element_iter(elements)
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
                .media_storage_sop_class_uid(uids::CT_IMAGE_STORAGE)
                .media_storage_sop_instance_uid("2.25.5003"),
        )
        .expect("meta")
}

fn engine() -> Deidentifier {
    Deidentifier::new(
        Profile::builtin(Level::AnonymizeFull, &[]).expect("profile"),
        Key::from_bytes([3; 32]),
    )
}

fn encoded_as_un() -> DefaultDicomObject {
    file(vec![
        el(tags::SOP_CLASS_UID, VR::UI, uids::CT_IMAGE_STORAGE),
        un(tags::SOP_INSTANCE_UID, b"2.25.5003\0"),
        un(tags::STUDY_DATE, b"20210405"),
        un(tags::MODALITY, b"CT"),
        un(tags::INSTITUTION_NAME, b"ST ELSEWHERE"),
        un(tags::PATIENT_NAME, b"GRIMSHAW^TOBIAS "),
        un(tags::PATIENT_ID, b"MRN-5150"),
        un(tags::STUDY_INSTANCE_UID, b"2.25.5001\0"),
        un(tags::SERIES_INSTANCE_UID, b"2.25.5002\0"),
        // Not a valid CS (lower case), kept by its rule: stays UN.
        un(tags::BODY_PART_EXAMINED, b"head"),
    ])
}

#[test]
fn un_encoded_attributes_get_their_tags_rules() {
    let d = engine();
    let mut obj = encoded_as_un();
    let subject = d.subject_context(&obj);
    // The subject is recognised by its PatientID, as if it had been encoded as LO.
    let plain = file(vec![el(tags::PATIENT_ID, VR::LO, "MRN-5150")]);
    assert_eq!(subject.pseudonym, d.subject_context(&plain).pseudonym);
    assert!(subject.identifiers.iter().any(|i| i == "GRIMSHAW"));
    d.apply(&mut obj, &subject).expect("applied");

    let text = |tag: Tag| {
        let e = obj.get(tag).unwrap_or_else(|| panic!("{tag} missing"));
        (e.vr(), e.to_str().unwrap().trim().to_string())
    };
    assert_eq!(
        text(tags::PATIENT_NAME),
        (VR::PN, subject.pseudonym.clone())
    );
    assert_eq!(text(tags::PATIENT_ID), (VR::LO, subject.pseudonym.clone()));
    for (tag, uid) in [
        (tags::STUDY_INSTANCE_UID, "2.25.5001"),
        (tags::SERIES_INSTANCE_UID, "2.25.5002"),
        (tags::SOP_INSTANCE_UID, "2.25.5003"),
    ] {
        assert_eq!(text(tag), (VR::UI, d.map_uid(uid)), "{tag}");
    }
    // The file meta names the new SOP Instance UID too.
    assert_eq!(
        obj.meta().media_storage_sop_instance_uid(),
        d.map_uid("2.25.5003")
    );
    let (vr, date) = text(tags::STUDY_DATE);
    assert_eq!(vr, VR::DA);
    assert_ne!(date, "20210405");
    assert!(
        !obj.get(tags::INSTITUTION_NAME)
            .map(|e| e.to_str().unwrap().contains("ELSEWHERE"))
            .unwrap_or(false)
    );
    // Kept values stay exactly as they came.
    assert_eq!(obj.get(tags::MODALITY).unwrap().vr(), VR::UN);
    assert_eq!(
        obj.get(tags::MODALITY)
            .unwrap()
            .to_bytes()
            .unwrap()
            .as_ref(),
        b"CT"
    );
}
