//! Files dicom-rs reads correctly only through the reading layer's repaired copy (UN
//! sequences, a meta group without its length), in memory and streamed.

use archive::reading::readable;
use dicom_core::{Tag, VR};
use synth::fixture::{InstanceSpec, Syntax};
use synth::unknown_vr;

use crate::package::audit_package_with;
use crate::stream::Streaming;
use crate::{Auditor, Finding, Needle, Rules, ValueKind, audit_package};

fn spec(syntax: Syntax) -> InstanceSpec {
    InstanceSpec {
        syntax,
        ..InstanceSpec::default()
    }
}

/// The names and UIDs inside [`unknown_vr::un_sequence`], as needles.
fn auditor(rules: Rules) -> Auditor {
    let needles = [
        Needle::new(
            "ReferringPhysicianName",
            ValueKind::PersonName,
            unknown_vr::UN_SEQUENCE_PHYSICIAN,
        ),
        Needle::new(
            "OtherPatientNames",
            ValueKind::PersonName,
            unknown_vr::UN_SEQUENCE_PERSON,
        ),
        Needle::new(
            "PatientName",
            ValueKind::PersonName,
            unknown_vr::UN_SEQUENCE_PRIVATE_NAME,
        ),
        Needle::new(
            "SOPInstanceUID",
            ValueKind::Uid,
            unknown_vr::UN_SEQUENCE_SOP_UID,
        ),
        Needle::new("PatientName", ValueKind::PersonName, "SMITHSON^ROWENA"),
    ];
    Auditor::new(&needles, rules).expect("auditor")
}

fn header(f: &[Finding]) -> Vec<(String, Option<String>)> {
    let mut out: Vec<_> = f
        .iter()
        .filter_map(|f| match f {
            Finding::Value { what, tag, .. } => Some((what.clone(), tag.clone())),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

fn at(what: &str, tag: &str) -> (String, Option<String>) {
    (what.to_string(), Some(tag.to_string()))
}

#[test]
fn a_un_sequence_is_read_as_the_import_reads_it() {
    let rules = Rules {
        forbid_private: true,
        require_identity_removed: false,
    };
    for syntax in [Syntax::ExplicitLittle, Syntax::ExplicitBig] {
        let bytes = unknown_vr::un_sequence(&spec(syntax)).expect("fixture");
        let f = auditor(rules).scan_file("P1/1/1/00001.dcm", &bytes);
        assert!(
            !f.iter().any(|f| matches!(f, Finding::Unreadable { .. })),
            "{syntax:?}: {f:?}"
        );
        assert_eq!(
            header(&f),
            vec![
                at(
                    "OtherPatientNames",
                    "(0008,1115)[0]/(0008,1199)[0]/(0040,A123)"
                ),
                at("PatientName", "(0008,1115)[0]/(0009,1001)"),
                at("ReferringPhysicianName", "(0008,1115)[0]/(0008,1050)"),
                at(
                    "SOPInstanceUID",
                    "(0008,1115)[0]/(0008,1199)[0]/(0008,1155)"
                ),
            ],
            "{syntax:?}"
        );
        let private: Vec<&str> = f
            .iter()
            .filter_map(|f| match f {
                Finding::PrivateElement { tag, .. } => Some(tag.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            private,
            ["(0008,1115)[0]/(0009,0010)", "(0008,1115)[0]/(0009,1001)"],
            "{syntax:?}"
        );
    }
}

#[test]
fn a_meta_group_without_its_length_is_read() {
    let spec = spec(Syntax::ExplicitLittle);
    let mut obj = spec.to_object().expect("object");
    obj.put(dicom_core::DataElement::new(
        Tag(0x0020, 0x4000),
        VR::LT,
        dicom_core::PrimitiveValue::from("SMITHSON seen"),
    ));
    let mut bytes = Vec::new();
    obj.with_meta(
        dicom_object::FileMetaTableBuilder::new()
            .transfer_syntax(spec.syntax.uid())
            .media_storage_sop_class_uid(spec.sop_class_uid.as_str())
            .media_storage_sop_instance_uid(spec.sop_uid.as_str()),
    )
    .expect("meta")
    .write_all(&mut bytes)
    .expect("encode");
    // (0002,0000) UL is the first 12 bytes after `DICM`.
    assert_eq!(&bytes[132..136], &[2, 0, 0, 0]);
    bytes.drain(132..144);
    let f = auditor(Rules::default()).scan_file("a.dcm", &bytes);
    assert_eq!(header(&f), vec![at("PatientName", "(0020,4000)")], "{f:?}");
}

#[test]
fn bytes_the_copy_holds_otherwise_are_still_searched() {
    // A name in a UN palette (OW) of a big endian file: the copy swaps its bytes, the file
    // as written holds the name as text.
    let spec = spec(Syntax::ExplicitBig);
    let bytes = unknown_vr::with_un(
        &spec,
        &[],
        &[(Tag(0x0028, 0x1201), b"SMITHSONROWENA".to_vec())],
    )
    .expect("fixture");
    let a = auditor(Rules::default());
    let readable = readable(&bytes, true).expect("readable");
    assert!(readable.is_copy(), "the fixture needs a repair");
    assert!(
        memchr::memmem::find(&readable.bytes, b"SMITHSON").is_none(),
        "the copy holds the name swapped"
    );
    let f = a.scan_file("a.dcm", &bytes);
    // Found in the bytes as written (no element named: the copy holds them otherwise), and in
    // the copy's OW words read back in little endian order (see `byte_order`), by tag.
    assert_eq!(
        header(&f),
        vec![
            ("PatientName".to_string(), None),
            at("PatientName", "(0028,1201)")
        ],
        "{f:?}"
    );
}

#[test]
fn a_streamed_file_with_a_un_sequence_has_the_findings_it_has_in_memory() {
    let a = auditor(Rules {
        forbid_private: true,
        require_identity_removed: false,
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let pkg = dir.path().join("pkg");
    std::fs::create_dir_all(pkg.join("P1")).expect("mkdir");
    for (name, syntax) in [
        ("le.dcm", Syntax::ExplicitLittle),
        ("be.dcm", Syntax::ExplicitBig),
    ] {
        let bytes = unknown_vr::un_sequence(&spec(syntax)).expect("fixture");
        std::fs::write(pkg.join("P1").join(name), bytes).expect("write");
    }
    let want = audit_package(&pkg, &a).expect("in memory");
    assert!(!want.findings.is_empty());
    for chunk in [5, 4096] {
        let got = audit_package_with(&pkg, &a, Streaming { above: 0, chunk }).expect("streamed");
        assert_eq!(got.findings, want.findings, "chunk {chunk}");
    }
}
