//! What action C keeps and what it cuts, one VR family at a time: short strings, long text,
//! person names, code strings, binary values and AE titles lose the values the same run
//! removes elsewhere in the object (and the subject's identifiers, and e-mail addresses, URLs,
//! telephone numbers and written dates), and keep the rest of their text.

use anon_core::{DeidOption, Deidentifier, Key, Level, Profile, SubjectContext};
use dicom_core::value::{DataSetSequence, PrimitiveValue};
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{DefaultDicomObject, InMemDicomObject};

fn el(tag: Tag, vr: VR, v: &str) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, PrimitiveValue::from(v))
}

fn file(elements: Vec<DataElement<InMemDicomObject>>) -> DefaultDicomObject {
    let mut all = vec![
        el(tags::SOP_CLASS_UID, VR::UI, uids::MR_IMAGE_STORAGE),
        el(tags::SOP_INSTANCE_UID, VR::UI, "2.25.77"),
        el(tags::PATIENT_NAME, VR::PN, "Halvorsen^Ingrid"),
        el(tags::PATIENT_ID, VR::LO, "MRN-5512"),
        el(tags::STUDY_DATE, VR::DA, "20200315"),
        el(tags::OPERATORS_NAME, VR::PN, "Opsahl^Oddvar"),
        el(tags::REFERRING_PHYSICIAN_NAME, VR::PN, "Rasmussen^Ragnhild"),
        el(
            tags::REFERRING_PHYSICIAN_TELEPHONE_NUMBERS,
            VR::SH,
            "0163 2960 118",
        ),
        el(tags::STATION_NAME, VR::SH, "CT"),
        el(tags::STUDY_ID, VR::SH, "134"),
        el(tags::INSTITUTION_NAME, VR::LO, "NONE"),
        DataElement::new(
            tags::REFERENCED_SERIES_SEQUENCE,
            VR::SQ,
            DataSetSequence::new(
                vec![InMemDicomObject::from_element_iter([el(
                    tags::PERFORMING_PHYSICIAN_NAME,
                    VR::PN,
                    "Pemberton^Priscilla",
                )])],
                Length::UNDEFINED,
            ),
        ),
    ];
    all.extend(elements);
    InMemDicomObject::from_element_iter(all)
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
                .media_storage_sop_class_uid(uids::MR_IMAGE_STORAGE)
                .media_storage_sop_instance_uid("2.25.77"),
        )
        .expect("meta")
}

fn run(
    profile: Profile,
    key: u8,
    obj: &DefaultDicomObject,
) -> (DefaultDicomObject, SubjectContext) {
    let d = Deidentifier::new(profile, Key::from_bytes([key; 32]));
    let mut out = obj.clone();
    let subject = d.subject_context(obj);
    d.apply(&mut out, &subject).expect("applied");
    (out, subject)
}

fn text(obj: &DefaultDicomObject, tag: Tag) -> String {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
        .unwrap_or_default()
}

fn custom() -> Profile {
    Profile::from_toml(
        r#"
name = "c-families"
base = "basic"
options = ["clean-descriptors", "retain-device-identity"]
[actions]
ContentCreatorName = "C"
"#,
    )
    .expect("profile")
}

#[test]
fn each_vr_family_loses_removed_values_and_keeps_the_rest() {
    let obj = file(vec![
        // LO
        el(
            tags::SERIES_DESCRIPTION,
            VR::LO,
            "T1 MPRAGE sag, reviewed by Dr Oddvar Opsahl",
        ),
        // SH
        el(tags::OCCUPATION, VR::SH, "T1 PEMBERTON"),
        // LT, with patterns
        el(
            tags::IMAGE_COMMENTS,
            VR::LT,
            "Called Dr Rasmussen at 0163 2960 118, r.r@kildare.example, \
             https://pacs.kildare.example/v?id=7 and +47 22 33 44 55 on 2020-03-15; \
             T2 FLAIR repeat for halvorsen",
        ),
        // PN (C by the custom profile)
        el(tags::CONTENT_CREATOR_NAME, VR::PN, "Opsahl^Oddvar^^Dr"),
        // OB
        DataElement::new(
            tags::MAKER_NOTE,
            VR::OB,
            PrimitiveValue::U8(b"vendor:OPSAHL;gain=3;Rasmussen".to_vec().into()),
        ),
        // AE (C under retain-device-identity)
        el(tags::STATION_AE_TITLE, VR::AE, "KILDARE_CT7"),
        // CS (C under clean-descriptors): the defined term stays, the name goes.
        el(
            tags::REASON_FOR_THE_ATTRIBUTE_MODIFICATION,
            VR::CS,
            "COERCE RASMUSSEN",
        ),
    ]);
    let (out, _) = run(custom(), 1, &obj);
    assert_eq!(
        text(&out, tags::SERIES_DESCRIPTION),
        "T1 MPRAGE sag, reviewed by Dr"
    );
    assert_eq!(text(&out, tags::OCCUPATION), "T1");
    let comments = text(&out, tags::IMAGE_COMMENTS);
    assert!(
        comments.starts_with("Called Dr  at ") && comments.contains("T2 FLAIR repeat for"),
        "{comments}"
    );
    for gone in [
        "Rasmussen",
        "0163",
        "kildare",
        "+47",
        "2020-03-15",
        "halvorsen",
        "22 33",
    ] {
        assert!(!comments.contains(gone), "{gone} in {comments}");
    }
    assert_eq!(text(&out, tags::CONTENT_CREATOR_NAME), "^^Dr");
    let maker = out
        .get(tags::MAKER_NOTE)
        .and_then(|e| e.to_bytes().ok())
        .expect("maker note")
        .into_owned();
    assert_eq!(&maker, b"vendor:\0\0\0\0\0\0;gain=3;\0\0\0\0\0\0\0\0\0");
    let ae = text(&out, tags::STATION_AE_TITLE);
    assert!(ae.len() == 12 && ae.starts_with("AE"), "{ae}");
    assert_eq!(
        text(&out, tags::REASON_FOR_THE_ATTRIBUTE_MODIFICATION),
        "COERCE"
    );
}

#[test]
fn under_c_a_code_string_equal_to_a_removed_value_is_cut_whole() {
    let obj = file(vec![el(
        tags::REASON_FOR_THE_ATTRIBUTE_MODIFICATION,
        VR::CS,
        "RASMUSSEN",
    )]);
    let (out, _) = run(
        Profile::builtin(Level::Basic, &[DeidOption::CleanDescriptors]).unwrap(),
        1,
        &obj,
    );
    assert_eq!(text(&out, tags::REASON_FOR_THE_ATTRIBUTE_MODIFICATION), "");
}

#[test]
fn ae_title_pseudonyms_are_keyed_stable_and_not_applied_twice() {
    let obj = file(vec![el(
        tags::RETRIEVE_AE_TITLE,
        VR::AE,
        "KILDARE_CT7\\KILDARE_MR1",
    )]);
    let profile = || Profile::builtin(Level::Basic, &[DeidOption::RetainDeviceIdentity]).unwrap();
    let (a, _) = run(profile(), 1, &obj);
    let (b, _) = run(profile(), 1, &obj);
    let (c, _) = run(profile(), 2, &obj);
    let first = text(&a, tags::RETRIEVE_AE_TITLE);
    assert_eq!(
        first,
        text(&b, tags::RETRIEVE_AE_TITLE),
        "stable under one key"
    );
    assert_ne!(first, text(&c, tags::RETRIEVE_AE_TITLE), "keyed");
    let values: Vec<&str> = first.split('\\').collect();
    assert_eq!(values.len(), 2);
    assert_ne!(values[0], values[1]);
    // An exported file exported again keeps its pseudonyms (they are already clean).
    let (again, _) = run(profile(), 2, &a);
    assert_eq!(text(&again, tags::RETRIEVE_AE_TITLE), first);
}

#[test]
fn short_generic_and_numeric_removed_values_do_not_shred_text() {
    // StationName CT, StudyID 134 and InstitutionName NONE are removed, but a modality, a
    // count and a placeholder are no identity.
    let obj = file(vec![el(
        tags::SERIES_DESCRIPTION,
        VR::LO,
        "CT 134 slices NONE contrast",
    )]);
    let (out, _) = run(
        Profile::builtin(Level::Basic, &[DeidOption::CleanDescriptors]).unwrap(),
        1,
        &obj,
    );
    assert_eq!(
        text(&out, tags::SERIES_DESCRIPTION),
        "CT 134 slices NONE contrast"
    );
}

#[test]
fn written_dates_are_shifted_under_modified_dates_and_cut_otherwise() {
    let obj = file(vec![el(
        tags::IMAGE_COMMENTS,
        VR::LT,
        "repeat of the 2020-03-15 scan",
    )]);
    let (shifted, _) = run(
        Profile::builtin(
            Level::Basic,
            &[
                DeidOption::CleanDescriptors,
                DeidOption::RetainLongitudinalModifiedDates,
            ],
        )
        .unwrap(),
        1,
        &obj,
    );
    let study = text(&shifted, tags::STUDY_DATE);
    assert_eq!(study.len(), 8);
    let written = format!("{}-{}-{}", &study[..4], &study[4..6], &study[6..]);
    assert_eq!(
        text(&shifted, tags::IMAGE_COMMENTS),
        format!("repeat of the {written} scan")
    );
    let (cut, _) = run(
        Profile::builtin(Level::Basic, &[DeidOption::CleanDescriptors]).unwrap(),
        1,
        &obj,
    );
    assert_eq!(text(&cut, tags::IMAGE_COMMENTS), "repeat of the  scan");
}

#[test]
fn values_the_caller_adds_are_cut_too() {
    let obj = file(vec![el(
        tags::STUDY_DESCRIPTION,
        VR::LO,
        "Nordlicht cohort, visit 2",
    )]);
    let d = Deidentifier::new(
        Profile::builtin(Level::Basic, &[DeidOption::CleanDescriptors]).unwrap(),
        Key::from_bytes([1; 32]),
    );
    let mut out = obj.clone();
    let mut subject = d.subject_context(&obj);
    subject.identifiers.push("Nordlicht".to_string());
    d.apply(&mut out, &subject).expect("applied");
    assert_eq!(text(&out, tags::STUDY_DESCRIPTION), "cohort, visit 2");
}

#[test]
fn cutting_repeats_until_no_value_is_left() {
    // Cutting `Halvorsen` out of `HalvHalvorsenorsen` joins the rest into `Halvorsen` again;
    // cutting the ID first leaves `Wu` between word boundaries, where it counts.
    let obj = file(vec![
        el(tags::OTHER_PATIENT_NAMES, VR::PN, "Wu^Li"),
        el(
            tags::SERIES_DESCRIPTION,
            VR::LO,
            "T1 HalvHalvorsenorsen, id MRN-5512Wu",
        ),
        el(
            tags::REASON_FOR_THE_ATTRIBUTE_MODIFICATION,
            VR::CS,
            "COERCE HALVHALVORSENORSEN",
        ),
        // Beyond the table (anonymize-full): the safety net cuts the subject's values the
        // same way (not the removed operator's: see docs/deid.md).
        el(
            Tag(0x0028, 0x1055),
            VR::LO,
            "OpsOpsahlahl HalvHalvorsenorsen",
        ),
        DataElement::new(
            tags::MAKER_NOTE,
            VR::OB,
            PrimitiveValue::U8(b"id=MRN-5512Wu;".to_vec().into()),
        ),
    ]);
    let (out, _) = run(custom(), 1, &obj);
    assert_eq!(text(&out, tags::SERIES_DESCRIPTION), "T1 , id");
    assert_eq!(
        text(&out, tags::REASON_FOR_THE_ATTRIBUTE_MODIFICATION),
        "COERCE"
    );
    let maker = out
        .get(tags::MAKER_NOTE)
        .and_then(|e| e.to_bytes().ok())
        .expect("maker note")
        .into_owned();
    assert_eq!(&maker, b"id=\0\0\0\0\0\0\0\0\0\0;");
    let (full, _) = run(
        Profile::builtin(Level::AnonymizeFull, &[]).unwrap(),
        1,
        &obj,
    );
    assert_eq!(text(&full, Tag(0x0028, 0x1055)), "OpsOpsahlahl");
}
