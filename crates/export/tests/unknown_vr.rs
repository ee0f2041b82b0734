//! De-identifying files with UN-encoded standard attributes and UN sequences (PS3.5 6.2.2):
//! every attribute gets its tag's rule as its own VR, the output writes it with that VR, parses
//! with dicom-rs and passes depot's own PHI audit; bare data sets become DICOM files.

use anon_core::{Deidentifier, Key, Level, Profile};
use audit::{Auditor, Needle, Rules, ValueKind};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use export::deid_file::{DeidFileError, deidentify_bytes, parse};
use synth::fixture::{InstanceSpec, Syntax};
use synth::unknown_vr as un;

fn engine() -> Deidentifier {
    Deidentifier::new(
        Profile::builtin(Level::AnonymizeFull, &[]).expect("profile"),
        Key::from_bytes([9; 32]),
    )
}

fn spec(syntax: Syntax) -> InstanceSpec {
    InstanceSpec {
        syntax,
        patient_id: "UNKNOWNVR-4711".into(),
        patient_name: "STRANGEWAYS^OLIVIA".into(),
        study_uid: "2.25.66001".into(),
        series_uid: "2.25.66002".into(),
        sop_uid: "2.25.66003".into(),
        rows: 300,
        ..InstanceSpec::default()
    }
}

/// The audit of one output file at anonymize-full, searching for `needles`.
fn audit(rel: &str, bytes: &[u8], needles: &[Needle]) -> Vec<String> {
    let auditor = Auditor::new(
        needles,
        Rules {
            forbid_private: true,
            require_identity_removed: true,
        },
    )
    .expect("auditor");
    auditor
        .scan_file(rel, bytes)
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn needles(s: &InstanceSpec, extra: &[(&str, ValueKind, &str)]) -> Vec<Needle> {
    let mut n = vec![
        Needle::new("PatientName", ValueKind::PersonName, &s.patient_name),
        Needle::new("PatientID", ValueKind::Identifier, &s.patient_id),
        Needle::new("StudyInstanceUID", ValueKind::Uid, &s.study_uid),
        Needle::new("SeriesInstanceUID", ValueKind::Uid, &s.series_uid),
        Needle::new("SOPInstanceUID", ValueKind::Uid, &s.sop_uid),
    ];
    n.extend(
        extra
            .iter()
            .map(|(label, kind, value)| Needle::new(*label, *kind, *value)),
    );
    n
}

fn text(obj: &InMemDicomObject, tag: Tag) -> (VR, String) {
    let e = obj.get(tag).unwrap_or_else(|| panic!("{tag} missing"));
    (e.vr(), e.to_str().expect("text").trim().to_string())
}

#[test]
fn un_attributes_get_their_rules_and_are_written_with_their_vr() {
    let d = engine();
    for syntax in [
        Syntax::ExplicitLittle,
        Syntax::ExplicitBig,
        Syntax::DeflatedExplicitLittle,
    ] {
        let s = spec(syntax);
        let input = un::un_attributes(&s).expect("fixture");
        let out = deidentify_bytes(&d, &input, &[]).unwrap_or_else(|e| panic!("{syntax:?}: {e}"));
        let obj = parse(&out.bytes, false).expect("the output parses");
        assert_eq!(obj.meta().transfer_syntax(), syntax.uid());
        for (tag, original) in [
            (tags::STUDY_INSTANCE_UID, &s.study_uid),
            (tags::SERIES_INSTANCE_UID, &s.series_uid),
            (tags::SOP_INSTANCE_UID, &s.sop_uid),
        ] {
            assert_eq!(text(&obj, tag), (VR::UI, d.map_uid(original)), "{syntax:?}");
        }
        let (vr, name) = text(&obj, tags::PATIENT_NAME);
        assert_eq!(vr, VR::PN);
        assert!(!name.contains("STRANGEWAYS"), "{syntax:?}: {name}");
        assert_eq!(text(&obj, tags::PATIENT_ID).0, VR::LO);
        let rows = obj.get(tags::ROWS).unwrap();
        assert_eq!((rows.vr(), rows.to_int::<u16>().unwrap()), (VR::US, 300));
        assert_eq!(text(&obj, tags::IMAGE_TYPE).0, VR::CS);
        let findings = audit("out.dcm", &out.bytes, &needles(&s, &[]));
        assert!(findings.is_empty(), "{syntax:?}: {findings:?}");
    }
}

#[test]
fn un_values_that_break_their_vr_still_get_their_rule() {
    let d = engine();
    let s = spec(Syntax::ExplicitLittle);
    // A name with a control character and a UID with letters: no valid PN or UI, so they stay
    // UN through the reader, and the engine must still replace the one and remap the other.
    let input = un::with_un(
        &s,
        &[],
        &[
            (tags::PATIENT_NAME, b"STRANGEWAYS\x01OLIVIA".to_vec()),
            (tags::FRAME_OF_REFERENCE_UID, b"2.25.66004.ABC".to_vec()),
            (tags::STUDY_DESCRIPTION, b"BRAIN\x01ROUTINE".to_vec()),
        ],
    )
    .expect("fixture");
    let out = deidentify_bytes(&d, &input, &[]).expect("de-identified");
    let obj = parse(&out.bytes, false).expect("parses");
    let name = obj.get(tags::PATIENT_NAME).unwrap();
    assert_eq!(name.vr(), VR::PN);
    assert!(!name.to_str().unwrap().contains("STRANGEWAYS"));
    let frame = obj.get(tags::FRAME_OF_REFERENCE_UID).unwrap();
    assert_eq!(
        (frame.vr(), frame.to_str().unwrap().trim().to_string()),
        (VR::UI, d.map_uid("2.25.66004.ABC"))
    );
    let findings = audit(
        "out.dcm",
        &out.bytes,
        &needles(
            &s,
            &[("FrameOfReferenceUID", ValueKind::Text, "2.25.66004.ABC")],
        ),
    );
    assert!(findings.is_empty(), "{findings:?}");
}

#[test]
fn un_sequences_are_walked_and_written_as_sq() {
    let d = engine();
    for syntax in [Syntax::ExplicitLittle, Syntax::ExplicitBig] {
        let s = spec(syntax);
        let input = un::un_sequence(&s).expect("fixture");
        let out = deidentify_bytes(&d, &input, &[]).unwrap_or_else(|e| panic!("{syntax:?}: {e}"));
        let obj = parse(&out.bytes, false).expect("the output parses");
        let seq = obj.get(un::UN_SEQUENCE_TAG).expect("kept");
        assert_eq!(seq.vr(), VR::SQ);
        let item = &seq.items().unwrap()[0];
        assert!(item.get(tags::PERFORMING_PHYSICIAN_NAME).is_none(), "X");
        assert!(item.get(Tag(0x0009, 0x1001)).is_none(), "private");
        assert_eq!(
            text(item, tags::SERIES_INSTANCE_UID).1,
            d.map_uid(un::UN_SEQUENCE_SERIES_UID)
        );
        let inner = &item
            .get(tags::REFERENCED_SOP_SEQUENCE)
            .unwrap()
            .items()
            .unwrap()[0];
        assert_eq!(
            text(inner, tags::REFERENCED_SOP_INSTANCE_UID).1,
            d.map_uid(un::UN_SEQUENCE_SOP_UID)
        );
        let (vr, person) = text(inner, tags::PERSON_NAME);
        assert_eq!(vr, VR::PN);
        assert_ne!(person, un::UN_SEQUENCE_PERSON);
        let findings = audit(
            "out.dcm",
            &out.bytes,
            &needles(
                &s,
                &[
                    (
                        "PerformingPhysicianName",
                        ValueKind::PersonName,
                        un::UN_SEQUENCE_PHYSICIAN,
                    ),
                    ("PersonName", ValueKind::PersonName, un::UN_SEQUENCE_PERSON),
                    (
                        "Private",
                        ValueKind::PersonName,
                        un::UN_SEQUENCE_PRIVATE_NAME,
                    ),
                    (
                        "SeriesInstanceUID",
                        ValueKind::Uid,
                        un::UN_SEQUENCE_SERIES_UID,
                    ),
                    (
                        "ReferencedSOPInstanceUID",
                        ValueKind::Uid,
                        un::UN_SEQUENCE_SOP_UID,
                    ),
                ],
            ),
        );
        assert!(findings.is_empty(), "{syntax:?}: {findings:?}");
    }
}

#[test]
fn bare_data_sets_are_written_as_dicom_files() {
    let d = engine();
    for syntax in [
        Syntax::ImplicitLittle,
        Syntax::ExplicitLittle,
        Syntax::ExplicitBig,
    ] {
        let s = spec(syntax);
        let file = s.to_bytes().expect("fixture");
        // Cut off preamble, DICM and the meta group (its length at bytes 140..144).
        let group_len = u32::from_le_bytes(file[140..144].try_into().unwrap()) as usize;
        let bare = &file[144 + group_len..];
        let out = deidentify_bytes(&d, bare, &[]).unwrap_or_else(|e| panic!("{syntax:?}: {e}"));
        assert_eq!(&out.bytes[128..132], b"DICM");
        let obj = parse(&out.bytes, false).expect("the output parses");
        assert_eq!(obj.meta().transfer_syntax(), syntax.uid());
        assert_eq!(
            obj.meta().media_storage_sop_instance_uid(),
            d.map_uid(&s.sop_uid)
        );
        assert_eq!(obj.meta().media_storage_sop_class_uid(), s.sop_class_uid);
        let findings = audit("out.dcm", &out.bytes, &needles(&s, &[]));
        assert!(findings.is_empty(), "{syntax:?}: {findings:?}");
    }
    // A zip is named as one.
    assert!(matches!(
        deidentify_bytes(&d, b"PK\x03\x04\x14\x00\x00\x00", &[]),
        Err(DeidFileError::Zip)
    ));
}
