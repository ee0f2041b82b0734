//! Cleaning code strings (CS) beyond the table: a code loses whole identifying words only, so
//! a patient named MARY or with the name part CT does not turn ImageType PRIMARY into PRI or
//! empty the Type 1 Modality CT, while a name typed into a code string is still cut.

use anon_core::{Deidentifier, Key, Level, Profile};
use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;
use dicom_object::meta::FileMetaTableBuilder;

fn el(tag: Tag, vr: VR, v: &str) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, PrimitiveValue::from(v))
}

#[test]
fn code_strings_keep_their_codes_and_lose_identifying_words() {
    let d = Deidentifier::new(
        Profile::builtin(Level::AnonymizeFull, &[]).expect("profile"),
        Key::from_bytes([4; 32]),
    );
    let mut obj = InMemDicomObject::from_element_iter([
        el(tags::SOP_CLASS_UID, VR::UI, uids::CT_IMAGE_STORAGE),
        el(tags::SOP_INSTANCE_UID, VR::UI, "2.25.42"),
        el(tags::IMAGE_TYPE, VR::CS, "ORIGINAL\\PRIMARY\\AXIAL"),
        el(tags::MODALITY, VR::CS, "CT"),
        el(tags::PATIENT_NAME, VR::PN, "CQ500-CT-310^MARY"),
        el(tags::PATIENT_ID, VR::LO, "ID-77"),
        el(tags::BODY_PART_EXAMINED, VR::CS, "HEAD_CQ500"),
        // No valid code string (lower case, punctuation): free text, cleaned as text.
        el(tags::VIEW_POSITION, VR::CS, "ap,cq500"),
    ])
    .with_meta(
        FileMetaTableBuilder::new()
            .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
            .media_storage_sop_class_uid(uids::CT_IMAGE_STORAGE)
            .media_storage_sop_instance_uid("2.25.42"),
    )
    .expect("meta");
    let subject = d.subject_context(&obj);
    d.apply(&mut obj, &subject).expect("applied");
    let text = |tag: Tag| obj.get(tag).unwrap().to_str().unwrap().trim().to_string();
    assert_eq!(text(tags::IMAGE_TYPE), "ORIGINAL\\PRIMARY\\AXIAL");
    assert_eq!(text(tags::MODALITY), "CT");
    assert_eq!(text(tags::BODY_PART_EXAMINED), "HEAD");
    assert_eq!(text(tags::VIEW_POSITION), "ap,");
}

#[test]
fn a_defined_term_equal_to_a_name_is_a_coincidence_not_cut() {
    let d = Deidentifier::new(
        Profile::builtin(Level::AnonymizeFull, &[]).expect("profile"),
        Key::from_bytes([4; 32]),
    );
    let mut obj = InMemDicomObject::from_element_iter([
        el(tags::SOP_CLASS_UID, VR::UI, uids::MR_IMAGE_STORAGE),
        el(tags::SOP_INSTANCE_UID, VR::UI, "2.25.43"),
        el(tags::IMAGE_TYPE, VR::CS, "DERIVED\\PRIMARY\\PERFUSION"),
        el(tags::BODY_PART_EXAMINED, VR::CS, "HEAD"),
        el(tags::PATIENT_NAME, VR::PN, "Perfusion^Head"),
        el(tags::PATIENT_ID, VR::LO, "ID-78"),
        // A name typed into a code string with another word is still cut.
        el(tags::VIEW_POSITION, VR::CS, "PERFUSION AP"),
    ])
    .with_meta(
        FileMetaTableBuilder::new()
            .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
            .media_storage_sop_class_uid(uids::MR_IMAGE_STORAGE)
            .media_storage_sop_instance_uid("2.25.43"),
    )
    .expect("meta");
    let subject = d.subject_context(&obj);
    d.apply(&mut obj, &subject).expect("applied");
    let text = |tag: Tag| obj.get(tag).unwrap().to_str().unwrap().trim().to_string();
    assert_eq!(text(tags::IMAGE_TYPE), "DERIVED\\PRIMARY\\PERFUSION");
    assert_eq!(text(tags::BODY_PART_EXAMINED), "HEAD");
    assert_eq!(text(tags::VIEW_POSITION), "AP");
}

#[test]
fn a_structural_enumerated_value_survives_cleaning_and_free_text_loses_the_name() {
    // pydicom's reportsi.dcm: the Recording Observer is named "Enter text". Under basic +
    // clean-structured-content the run removes that name, and cleaning cuts it from the
    // content: the word "text" goes from the report's free text, but an SR's `TEXT`
    // ValueType (one of the standard's enumerated values) stays, or no viewer could read it.
    use anon_core::DeidOption;
    let d = Deidentifier::new(
        Profile::builtin(Level::Basic, &[DeidOption::CleanStructuredContent]).expect("profile"),
        Key::from_bytes([4; 32]),
    );
    let item = |value_type: &str, relationship: &str, extra: DataElement<InMemDicomObject>| {
        InMemDicomObject::from_element_iter([
            el(Tag(0x0040, 0xA010), VR::CS, relationship),
            el(Tag(0x0040, 0xA040), VR::CS, value_type),
            extra,
        ])
    };
    let content = DataElement::new(
        tags::CONTENT_SEQUENCE,
        VR::SQ,
        dicom_core::value::DataSetSequence::new(
            vec![
                item(
                    "PNAME",
                    "HAS OBS CONTEXT",
                    el(Tag(0x0040, 0xA123), VR::PN, "Enter text"),
                ),
                item(
                    "TEXT",
                    "CONTAINS",
                    el(Tag(0x0040, 0xA160), VR::UT, "Findings: no text here"),
                ),
                // Not an enumerated value: a code string like any other.
                item(
                    "TEXT SAMPLE",
                    "CONTAINS",
                    el(Tag(0x0040, 0xA160), VR::UT, "x"),
                ),
            ],
            dicom_core::Length::UNDEFINED,
        ),
    );
    let mut obj = InMemDicomObject::from_element_iter([
        el(tags::SOP_CLASS_UID, VR::UI, uids::BASIC_TEXT_SR_STORAGE),
        el(tags::SOP_INSTANCE_UID, VR::UI, "2.25.44"),
        el(tags::PATIENT_NAME, VR::PN, "Last Name^First Name"),
        el(tags::OPERATORS_NAME, VR::PN, "Enter text"),
        content,
    ])
    .with_meta(
        FileMetaTableBuilder::new()
            .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
            .media_storage_sop_class_uid(uids::BASIC_TEXT_SR_STORAGE)
            .media_storage_sop_instance_uid("2.25.44"),
    )
    .expect("meta");
    let subject = d.subject_context(&obj);
    d.apply(&mut obj, &subject).expect("applied");
    let items = obj
        .get(tags::CONTENT_SEQUENCE)
        .and_then(|e| e.items())
        .expect("content kept")
        .to_vec();
    let text = |i: usize, tag: Tag| {
        items[i]
            .get(tag)
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    assert_eq!(text(1, Tag(0x0040, 0xA040)), "TEXT");
    assert_eq!(text(0, Tag(0x0040, 0xA040)), "PNAME");
    assert_eq!(text(1, Tag(0x0040, 0xA010)), "CONTAINS");
    let free = text(1, Tag(0x0040, 0xA160));
    assert!(!free.to_lowercase().contains("text"), "{free}");
    assert!(free.contains("Findings: no"), "{free}");
    assert_eq!(text(2, Tag(0x0040, 0xA040)), "SAMPLE");
}
