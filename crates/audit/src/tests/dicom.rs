//! DICOM files held in memory: regions from the structural scan, bounded inflation, refused
//! files, tag paths, the structural rules.

use archive::scan;

use super::search::found;
use super::*;
use crate::regions::inflate;
use crate::{Auditor, Finding, Needle, Region, Rules, ValueKind};

#[test]
fn short_values_are_not_searched_in_pixel_data() {
    // A minimal explicit-LE "file": preamble, magic, a meta TS element, then pixel data.
    let mut bytes = with_meta(EXPLICIT_LE, &short(0x0010, 0x0010, b"PN", b"ANON"));
    let pixels = b"..DOE...DOEJOHNSON..";
    bytes.extend_from_slice(&[0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0]);
    bytes.extend_from_slice(&(pixels.len() as u32).to_le_bytes());
    bytes.extend_from_slice(pixels);
    let a = auditor(&[
        Needle::new("PatientName", ValueKind::PersonName, "DOE"),
        Needle::new("OtherPatientNames", ValueKind::PersonName, "DOEJOHNSON"),
    ]);
    let f = a.scan_file("a.dcm", &bytes);
    assert_eq!(
        f,
        vec![Finding::Value {
            file: "a.dcm".into(),
            what: "OtherPatientNames".into(),
            region: Region::PixelData,
            tag: None,
        }]
    );
}

#[test]
fn fake_pixel_data_bytes_in_a_text_value_do_not_hide_what_follows() {
    // An SR-like file without Pixel Data: an LT value holds bytes that look like an OB
    // Pixel Data header whose length runs to the end of the file; a short surname follows.
    let mut body = short(0x0010, 0x0010, b"PN", b"ANONYMIZED");
    let mut fake = vec![0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0];
    let tail = long(0x0040, 0xA160, b"UT", b"seen by Dr Weber today");
    fake.extend_from_slice(&((tail.len() + 4) as u32).to_le_bytes());
    body.extend(short(0x0020, 0x4000, b"LT", &fake));
    body.extend(tail);
    let bytes = with_meta(EXPLICIT_LE, &body);
    scan::check(&bytes, true).expect("a well-formed file");
    let a = auditor(&[Needle::new(
        "ReferringPhysicianName",
        ValueKind::PersonName,
        "Weber^Anna",
    )]);
    let f = a.scan_file("a.dcm", &bytes);
    assert_eq!(
        header_tags(&f, "ReferringPhysicianName"),
        vec![Some("(0040,A160)".to_string())],
        "{f:?}"
    );
}

#[test]
fn the_pixel_data_range_is_exact_in_every_syntax() {
    // A short name right after Pixel Data (in the trailing elements) is header text.
    for syntax in synth::fixture::Syntax::ALL {
        let spec = synth::fixture::InstanceSpec {
            syntax,
            patient_name: "DOE^JO".into(),
            ..Default::default()
        };
        let bytes = spec.to_bytes().expect("fixture");
        let a = auditor(&[Needle::new("PatientName", ValueKind::PersonName, "DOE^JO")]);
        let f = a.scan_file("a.dcm", &bytes);
        assert_eq!(
            header_tags(&f, "PatientName"),
            vec![Some("(0010,0010)".to_string())],
            "{syntax:?}: {f:?}"
        );
    }
}

#[test]
fn deflated_and_big_endian_come_from_the_transfer_syntax_registry() {
    // 1.2.840.10008.1.2.4.95 (JPIP Referenced Deflate) is deflated; 1.2.840.10008.1.2.8.1
    // (SMPTE ST 2110-30 audio) is not. The old hand-made list had it the other way round.
    let body = short(0x0010, 0x0010, b"PN", b"DOE^JOHNATHAN");
    let a = auditor(&[Needle::new(
        "PatientName",
        ValueKind::PersonName,
        "JOHNATHAN",
    )]);
    for ts in [DEFLATED, "1.2.840.10008.1.2.4.95"] {
        let f = a.scan_file("a.dcm", &with_meta(ts, &deflate(&body)));
        assert_eq!(
            header_tags(&f, "PatientName"),
            vec![Some("(0010,0010)".into())],
            "{ts}: {f:?}"
        );
    }
    let f = a.scan_file("a.dcm", &with_meta("1.2.840.10008.1.2.8.1", &body));
    assert_eq!(
        header_tags(&f, "PatientName"),
        vec![Some("(0010,0010)".into())],
        "{f:?}"
    );
    // Big endian: the pixel data header is found by the scan, not by a byte pattern.
    let mut be = Vec::new();
    be.extend_from_slice(&[0x00, 0x10, 0x00, 0x10, b'P', b'N', 0, 14]);
    be.extend_from_slice(b"DOE^JOHNATHAN ");
    be.extend_from_slice(&[0x7F, 0xE0, 0x00, 0x10, b'O', b'W', 0, 0, 0, 0, 0, 4]);
    be.extend_from_slice(b"\x01\x02\x03\x04");
    let f = a.scan_file("a.dcm", &with_meta(EXPLICIT_BE, &be));
    assert_eq!(
        header_tags(&f, "PatientName"),
        vec![Some("(0010,0010)".into())]
    );
}

#[test]
fn a_refused_file_is_unreadable_and_its_raw_bytes_are_still_searched() {
    // A truncated file with the name before the cut, and a hostile length.
    let mut body = short(0x0010, 0x0010, b"PN", b"DOE^JO");
    body.extend(long(0x0009, 0x1010, b"OB", b"x"));
    let n = body.len();
    body[n - 5..n - 1].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    let bytes = with_meta(EXPLICIT_LE, &body);
    assert!(scan::check(&bytes, true).is_err());
    let a = auditor(&[Needle::new("PatientName", ValueKind::PersonName, "DOE^JO")]);
    let f = a.scan_file("a.dcm", &bytes);
    assert!(
        f.iter().any(|x| matches!(x, Finding::Unreadable { .. })),
        "{f:?}"
    );
    assert!(labels_of(&f).contains("PatientName"), "{f:?}");
}

#[test]
fn a_deflate_bomb_is_unreadable_not_inflated() {
    use std::io::Write;
    let n: u32 = 80 << 20;
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&short(0x0010, 0x0010, b"PN", b"DOE^JO"))
        .expect("write");
    enc.write_all(&[0x09, 0x00, 0x10, 0x10, b'O', b'B', 0, 0])
        .expect("write");
    enc.write_all(&n.to_le_bytes()).expect("write");
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..80 {
        enc.write_all(&zeros).expect("write");
    }
    let bytes = with_meta(DEFLATED, &enc.finish().expect("deflate"));
    let a = Auditor::new(
        &[Needle::new("PatientName", ValueKind::PersonName, "DOE^JO")],
        Rules {
            forbid_private: true,
            require_identity_removed: true,
        },
    )
    .expect("auditor");
    let f = a.scan_file("a.dcm", &bytes);
    assert!(
        f.iter().any(|x| matches!(x, Finding::Unreadable { .. })),
        "{f:?}"
    );
    assert!(inflate(&bytes[132..], 1 << 20).is_err());
}

#[test]
fn a_hostile_length_is_refused_before_any_parse_with_rules_on() {
    let bytes = synth::fixture::huge_length().expect("fixture");
    let a = Auditor::new(
        &[],
        Rules {
            forbid_private: true,
            require_identity_removed: true,
        },
    )
    .expect("auditor");
    let f = a.scan_file("a.dcm", &bytes);
    assert!(
        matches!(&f[..], [Finding::Unreadable { reason, .. }] if reason.contains("hostile")),
        "{f:?}"
    );
}

#[test]
fn single_cjk_characters_count_in_header_text_only() {
    let a = auditor(&[Needle::new("PatientName", ValueKind::PersonName, "王^小东")]);
    let wang_gbk: &[u8] = b"\xcd\xf5";
    // In a text value (a GB18030 LO): found, with its tag.
    let mut body = short(0x0008, 0x0005, b"CS", b"GB18030");
    body.extend(short(0x0008, 0x1030, b"LO", b"\xcd\xf5 x"));
    let f = a.scan_file("a.dcm", &with_meta(EXPLICIT_LE, &body));
    assert_eq!(
        header_tags(&f, "PatientName"),
        vec![Some("(0008,1030)".into())],
        "{f:?}"
    );
    // The same two bytes inside a binary value: noise, not a finding.
    let mut body = short(0x0008, 0x0005, b"CS", b"GB18030");
    let mut blob = vec![0x11u8; 40];
    blob[10..12].copy_from_slice(wang_gbk);
    body.extend(long(0x0018, 0x9999, b"OB", &blob));
    assert!(
        a.scan_file("a.dcm", &with_meta(EXPLICIT_LE, &body))
            .is_empty()
    );
    // Nor inside pixel data, in any encoding.
    let mut body = short(0x0010, 0x0010, b"PN", b"ANON");
    body.extend(pixel_data("x 王 y \u{738b}".as_bytes()));
    assert!(
        a.scan_file("a.dcm", &with_meta(EXPLICIT_LE, &body))
            .is_empty()
    );
    // In UTF-8 text files and paths it counts.
    assert!(found(&a, "patient 王".as_bytes()));
    assert_eq!(a.scan_path("notes/王.txt").len(), 1);
}

#[test]
fn header_findings_name_the_tag_path_never_the_value() {
    let a = auditor(&[Needle::new(
        "PatientName",
        ValueKind::PersonName,
        "DOE^JOHNATHAN",
    )]);
    let item = long(0x0040, 0xA160, b"UT", b"report on johnathan ");
    let mut body = short(0x0010, 0x0010, b"PN", b"ANON");
    body.extend(sequence(0x0040, 0xA730, &item));
    let mut private = short(0x0029, 0x0010, b"LO", b"ACME");
    private.extend(long(0x0029, 0x1010, b"OB", b"\x00DOE\x00"));
    body.extend(private);
    let f = a.scan_file("a.dcm", &with_meta(EXPLICIT_LE, &body));
    assert_eq!(
        header_tags(&f, "PatientName"),
        vec![
            Some("(0029,1010)".to_string()),
            Some("(0040,A730)[0]/(0040,A160)".to_string())
        ],
        "{f:?}"
    );
    for x in &f {
        let s = x.to_string();
        assert!(s.contains(" at ("), "{s}");
        assert!(!s.to_lowercase().contains("johnathan"), "{s}");
    }
}

#[test]
fn structural_rules_still_run() {
    let mut body = short(0x0009, 0x0010, b"LO", b"ACME");
    body.extend(short(0x0009, 0x1001, b"LO", b"x"));
    let item = short(0x0029, 0x1010, b"LO", b"y");
    body.extend(sequence(0x0040, 0xA730, &item));
    let bytes = with_meta(EXPLICIT_LE, &body);
    let a = Auditor::new(
        &[],
        Rules {
            forbid_private: true,
            require_identity_removed: true,
        },
    )
    .expect("auditor");
    let f = a.scan_file("a.dcm", &bytes);
    let private: Vec<&str> = f
        .iter()
        .filter_map(|x| match x {
            Finding::PrivateElement { tag, .. } => Some(tag.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        private,
        ["(0009,0010)", "(0009,1001)", "(0040,A730)[0]/(0029,1010)"]
    );
    assert!(f.contains(&Finding::IdentityNotMarkedRemoved {
        file: "a.dcm".into()
    }));
    let mut marked = body.clone();
    marked.splice(0..0, short(0x0012, 0x0062, b"CS", b"YES"));
    let a = Auditor::new(
        &[],
        Rules {
            forbid_private: false,
            require_identity_removed: true,
        },
    )
    .expect("auditor");
    assert!(
        a.scan_file("a.dcm", &with_meta(EXPLICIT_LE, &marked))
            .is_empty()
    );
}
