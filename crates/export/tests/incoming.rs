//! De-identification on receive (`export::incoming`): the export's engine and audit applied
//! to one received file, subjects keyed as the archive keys them, burned-in pixels refused at
//! levels that remove identity.

use anon_core::{Key, Level, Profile};
use dicom_dictionary_std::tags;
use export::incoming::{IncomingDeid, IncomingError};
use synth::fixture::{self, InstanceSpec};

fn deid(level: Level, include_burned_in: bool) -> IncomingDeid {
    let profile = Profile::builtin(level, &[]).unwrap();
    IncomingDeid::new(profile, Key::from_bytes([3; 32]), include_burned_in)
}

fn text(bytes: &[u8], tag: dicom_core::Tag) -> Option<String> {
    let obj = export::deid_file::parse(bytes, true).unwrap();
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
}

fn mr(patient_id: &str, study: &str, sop: &str) -> InstanceSpec {
    InstanceSpec {
        patient_name: "HOLLENBECK^FRIEDHELM".into(),
        ..fixture::instance(patient_id, study, &format!("{study}.1"), sop)
    }
}

#[test]
fn basic_removes_identity_and_remaps_uids() {
    let d = deid(Level::Basic, false);
    assert!(d.label().starts_with("basic (key "), "{}", d.label());
    let input = mr("MRN1", "1.2.3", "1.2.3.1.7").to_bytes().unwrap();
    let out = d.apply(&input).unwrap();
    assert_eq!(out.original_sop_instance_uid.as_deref(), Some("1.2.3.1.7"));
    assert_eq!(
        out.original_sop_class_uid.as_deref(),
        Some("1.2.840.10008.5.1.4.1.1.4")
    );
    assert!(!out.bytes.windows(10).any(|w| w == b"HOLLENBECK"));
    assert!(!out.bytes.windows(4).any(|w| w == b"MRN1"));
    let sop = text(&out.bytes, tags::SOP_INSTANCE_UID).unwrap();
    assert_ne!(sop, "1.2.3.1.7");
    assert_eq!(
        text(&out.bytes, tags::PATIENT_IDENTITY_REMOVED).as_deref(),
        Some("YES")
    );
    // The same input gives the same output: instances of one study stay one study.
    assert_eq!(d.apply(&input).unwrap().bytes, out.bytes);
    assert_eq!(input, mr("MRN1", "1.2.3", "1.2.3.1.7").to_bytes().unwrap());
}

#[test]
fn subjects_without_patient_id_are_keyed_by_study() {
    let d = deid(Level::Basic, false);
    let id = |study: &str, sop: &str| {
        let out = d.apply(&mr("", study, sop).to_bytes().unwrap()).unwrap();
        text(&out.bytes, tags::PATIENT_ID).unwrap_or_default()
    };
    let a1 = id("1.2.3", "1.2.3.1.1");
    let a2 = id("1.2.3", "1.2.3.1.2");
    let b = id("1.2.4", "1.2.4.1.1");
    assert!(!a1.is_empty());
    assert_eq!(a1, a2, "one study, one subject");
    assert_ne!(a1, b, "two studies without PatientID are never merged");
}

#[test]
fn burned_in_pixels_are_refused_where_identity_is_removed() {
    let us = InstanceSpec {
        modality: "US".into(),
        sop_class_uid: "1.2.840.10008.5.1.4.1.1.6.1".into(),
        burned_in: Some(true),
        ..mr("MRN2", "1.2.5", "1.2.5.1.1")
    }
    .to_bytes()
    .unwrap();
    match deid(Level::Basic, false).apply(&us) {
        Err(IncomingError::BurnedIn(reason)) => assert!(reason.contains("BurnedInAnnotation")),
        other => panic!("{other:?}"),
    }
    assert!(deid(Level::Basic, true).apply(&us).is_ok());
    assert!(
        deid(Level::Anonymize, false).apply(&us).is_ok(),
        "anonymize keeps pixels as an export does"
    );
}

#[test]
fn a_received_iso_2022_name_is_searched_as_the_characters_it_spells() {
    use dicom_core::{DataElement, PrimitiveValue, VR};
    use dicom_object::FileMetaTableBuilder;
    // Yamada^Tarou=山田^太郎 in ISO 2022 IR 87; 山田太郎 in UTF-8 hidden in the pixel data.
    let latin1 = |b: &[u8]| -> String { b.iter().copied().map(char::from).collect() };
    let spec = mr("JP55501234", "1.2.6", "1.2.6.1.1");
    let mut obj = spec.to_object().unwrap();
    obj.put(DataElement::new(
        tags::SPECIFIC_CHARACTER_SET,
        VR::CS,
        PrimitiveValue::Strs(["".to_string(), "ISO 2022 IR 87".to_string()].into()),
    ));
    obj.put(DataElement::new(
        tags::PATIENT_NAME,
        VR::PN,
        PrimitiveValue::from(latin1(b"Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B")),
    ));
    let mut pixels: Vec<u8> = (0..64u16).flat_map(|v| (v * 37).to_le_bytes()).collect();
    pixels[40..52].copy_from_slice("山田太郎".as_bytes());
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OW,
        PrimitiveValue::U8(pixels.into_iter().collect()),
    ));
    let mut input = Vec::new();
    obj.with_meta(
        FileMetaTableBuilder::new()
            .transfer_syntax(spec.syntax.uid())
            .media_storage_sop_class_uid(spec.sop_class_uid.as_str())
            .media_storage_sop_instance_uid(spec.sop_uid.as_str()),
    )
    .unwrap()
    .write_all(&mut input)
    .unwrap();
    match deid(Level::Basic, false).apply(&input) {
        Err(IncomingError::Findings(findings)) => assert!(
            findings.iter().any(|f| matches!(
                f,
                audit::Finding::Value { what, region: audit::Region::PixelData, .. }
                    if what == "PatientName"
            )),
            "{findings:?}"
        ),
        other => panic!("{other:?}"),
    }
}
