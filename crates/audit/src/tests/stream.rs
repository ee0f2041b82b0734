//! Files too big to hold, streamed: the same findings as in memory, whatever the windows.

use std::path::Path;

use super::*;
use crate::package::audit_package_with;
use crate::source::FileSource;
use crate::stream::Streaming;
use crate::{Auditor, Finding, Needle, Region, Rules, ValueKind, audit_package};

/// Files of every kind the audit tells apart, with values at many offsets.
fn battery() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for pad in 0..12 {
        let mut text = vec![b'x'; pad];
        text.extend_from_slice(b" name: DOE, J; DOESNT; xDOE; MRN9053855x; johnathan\n");
        text.extend_from_slice(b"1965-03-12 19650312101500 2.25.919650312 Dr Weber");
        out.push((format!("t{pad}.txt"), text));
    }
    out.push(("cjk.txt".into(), "patient 王".as_bytes().to_vec()));
    out.push(("cjk.bin".into(), "patient 王\0".as_bytes().to_vec()));
    for syntax in synth::fixture::Syntax::ALL {
        let spec = synth::fixture::InstanceSpec {
            syntax,
            patient_name: "DOE^JO".into(),
            ..Default::default()
        };
        out.push((format!("{syntax:?}.dcm"), spec.to_bytes().expect("fixture")));
    }
    let mut body = short(0x0010, 0x0010, b"PN", b"ANON");
    body.extend(pixel_data(b"..DOE...DOEJOHNSON..MRN9053855.."));
    body.extend(short(0x0040, 0xA160, b"LO", b"DOE and johnathan"));
    out.push(("pixels.dcm".into(), with_meta(EXPLICIT_LE, &body)));
    let item = long(0x0040, 0xA160, b"UT", b"report on johnathan ");
    let mut body = short(0x0010, 0x0010, b"PN", b"ANON");
    body.extend(sequence(0x0040, 0xA730, &item));
    let mut private = short(0x0029, 0x0010, b"LO", b"ACME");
    private.extend(long(0x0029, 0x1010, b"OB", b"\x00DOE\x00"));
    body.extend(private);
    out.push(("nested.dcm".into(), with_meta(EXPLICIT_LE, &body)));
    let mut marked = short(0x0012, 0x0062, b"CS", b"YES");
    marked.extend(body.clone());
    out.push(("marked.dcm".into(), with_meta(EXPLICIT_LE, &marked)));
    let mut deflated_body = marked.clone();
    deflated_body.extend(pixel_data(b"..DOEJOHNSON.."));
    deflated_body.extend(short(0x0009, 0x0010, b"LO", b"ACME"));
    out.push((
        "deflated.dcm".into(),
        with_meta(DEFLATED, &deflate(&deflated_body)),
    ));
    let mut be = Vec::new();
    be.extend_from_slice(&[0x00, 0x10, 0x00, 0x10, b'P', b'N', 0, 14]);
    be.extend_from_slice(b"DOE^JOHNATHAN ");
    be.extend_from_slice(&[0x7F, 0xE0, 0x00, 0x10, b'O', b'W', 0, 0, 0, 0, 0, 4]);
    be.extend_from_slice(b"\x01\x02\x03\x04");
    out.push(("be.dcm".into(), with_meta(EXPLICIT_BE, &be)));
    let mut refused = short(0x0010, 0x0010, b"PN", b"DOE^JO");
    refused.extend(long(0x0009, 0x1010, b"OB", b"x"));
    let n = refused.len();
    refused[n - 5..n - 1].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    out.push(("refused.dcm".into(), with_meta(EXPLICIT_LE, &refused)));
    out.push((
        "huge.dcm".into(),
        synth::fixture::huge_length().expect("fixture"),
    ));
    let mut cjk = short(0x0008, 0x0005, b"CS", b"GB18030");
    cjk.extend(short(0x0008, 0x1030, b"LO", b"\xcd\xf5 x"));
    let mut blob = vec![0x11u8; 40];
    blob[10..12].copy_from_slice(b"\xcd\xf5");
    cjk.extend(long(0x0018, 0x9999, b"OB", &blob));
    out.push(("cjk.dcm".into(), with_meta(EXPLICIT_LE, &cjk)));
    let mut fake_body = short(0x0010, 0x0010, b"PN", b"ANONYMIZED");
    let mut fake = vec![0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0];
    let tail = long(0x0040, 0xA160, b"UT", b"seen by Dr Weber today");
    fake.extend_from_slice(&((tail.len() + 4) as u32).to_le_bytes());
    fake_body.extend(short(0x0020, 0x4000, b"LT", &fake));
    fake_body.extend(tail);
    out.push(("fake.dcm".into(), with_meta(EXPLICIT_LE, &fake_body)));
    // Matches the verdict rules excuse or demote: a coincidence inside Manufacturer, a name
    // part equal to a whole code, a birth date inside longer numbers, and one real leak.
    let mut ruled = short(0x0008, 0x0070, b"LO", b"WEBER_MED");
    ruled.extend(short(0x0018, 0x0089, b"IS", b"9053855"));
    ruled.extend(short(0x0020, 0x4000, b"LT", b"x219650312 DOE"));
    ruled.extend(short(0x2010, 0x0100, b"CS", b"DOE"));
    out.push(("ruled.dcm".into(), with_meta(EXPLICIT_LE, &ruled)));
    out
}

fn battery_auditor() -> Auditor {
    Auditor::new(
        &[
            Needle::new("PatientName", ValueKind::PersonName, "DOE^JOHNATHAN"),
            Needle::new("PatientName", ValueKind::PersonName, "DOE^JO"),
            Needle::new("PatientName", ValueKind::PersonName, "王^小东"),
            Needle::new("OtherPatientNames", ValueKind::PersonName, "DOEJOHNSON"),
            Needle::new(
                "ReferringPhysicianName",
                ValueKind::PersonName,
                "Weber^Anna",
            ),
            Needle::new("PatientID", ValueKind::Identifier, "MRN9053855"),
            Needle::new("PatientBirthDate", ValueKind::Date, "19650312"),
        ],
        Rules {
            forbid_private: true,
            require_identity_removed: true,
        },
    )
    .expect("auditor")
}

fn sorted(mut f: Vec<Finding>) -> Vec<Finding> {
    f.sort();
    f.dedup();
    f
}

#[test]
fn a_streamed_file_has_the_findings_it_has_in_memory() {
    // Windows of 1 to 64 bytes cut every value, element and region boundary somewhere.
    let a = battery_auditor();
    let dir = tempfile::tempdir().expect("tempdir");
    for (rel, bytes) in battery() {
        let path = dir.path().join(&rel);
        std::fs::write(&path, &bytes).expect("write");
        let want = sorted(a.scan_file(&rel, &bytes));
        assert!(
            !want.is_empty() || rel == "marked.dcm" || rel.starts_with("cjk."),
            "{rel}: the battery should find something"
        );
        if rel == "ruled.dcm" {
            let mut kinds: Vec<(bool, &str)> = want
                .iter()
                .filter_map(|f| match f {
                    Finding::Value { tag, .. } => Some((true, tag.as_deref()?)),
                    Finding::Coincidence { tag, .. } => Some((false, tag.as_str())),
                    _ => None,
                })
                .collect();
            kinds.sort();
            assert_eq!(
                kinds,
                [
                    (false, "(0008,0070)"),
                    (false, "(2010,0100)"),
                    (true, "(0020,4000)"),
                ],
                "{want:?}"
            );
        }
        for chunk in [1, 2, 3, 5, 7, 16, 64, 1 << 20] {
            let mut src = FileSource {
                path: path.clone(),
                start: 0,
                len: bytes.len() as u64,
            };
            let got = a
                .scan_source(&rel, &mut src, bytes.len() as u64, chunk)
                .expect("stream");
            assert_eq!(sorted(got), want, "{rel}, windows of {chunk}");
        }
    }
}

#[test]
fn a_window_edge_is_no_word_boundary() {
    // "DOE" is a short value: it must stand between word boundaries. Cut right after it,
    // a window must not take its edge for one.
    let a = auditor(&[Needle::new("PatientName", ValueKind::PersonName, "DOE^JO")]);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("x.txt");
    for pad in 0..40 {
        let mut text = vec![b'-'; pad];
        text.extend_from_slice(b"xDOEx DOES ADOE DOE1 1DOE");
        std::fs::write(&path, &text).expect("write");
        for chunk in 1..12 {
            let mut src = FileSource {
                path: path.clone(),
                start: 0,
                len: text.len() as u64,
            };
            let got = a
                .scan_source("x.txt", &mut src, text.len() as u64, chunk)
                .expect("stream");
            assert!(got.is_empty(), "pad {pad}, chunk {chunk}: {got:?}");
        }
    }
}

fn zip_of(path: &Path, files: &[(String, Vec<u8>)]) {
    use std::io::Write;
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).expect("create"));
    for (i, (rel, bytes)) in files.iter().enumerate() {
        let method = if i % 2 == 0 {
            zip::CompressionMethod::Stored
        } else {
            zip::CompressionMethod::Deflated
        };
        let opts = zip::write::SimpleFileOptions::default().compression_method(method);
        z.start_file(rel.as_str(), opts).expect("entry");
        z.write_all(bytes).expect("write");
    }
    z.finish().expect("finish");
}

#[test]
fn streamed_folder_and_zip_packages_report_what_in_memory_audits_report() {
    let a = battery_auditor();
    let mut files = battery();
    files.push((
        "manifest.json".into(),
        br#"{"format": "depot-package/1", "note": "johnathan"}"#.to_vec(),
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let folder = dir.path().join("pkg");
    std::fs::create_dir(&folder).expect("mkdir");
    for (rel, bytes) in &files {
        std::fs::write(folder.join(rel), bytes).expect("write");
    }
    let zipped = dir.path().join("pkg.zip");
    zip_of(&zipped, &files);
    for pkg in [&folder, &zipped] {
        let want = audit_package(pkg, &a).expect("in memory");
        for chunk in [3, 64] {
            let streaming = Streaming { above: 0, chunk };
            let got = audit_package_with(pkg, &a, streaming).expect("streamed");
            assert_eq!(got.findings, want.findings, "{}", pkg.display());
            assert_eq!((got.files, got.bytes), (want.files, want.bytes));
        }
    }
    // Pixel data of streamed entries is searched too (long spellings).
    let r = audit_package_with(&zipped, &a, Streaming { above: 0, chunk: 7 }).expect("zip");
    assert!(
        r.findings.iter().any(|f| matches!(
            f,
            Finding::Value { what, region: Region::PixelData, .. } if what == "OtherPatientNames"
        )),
        "{r:?}"
    );
}
