//! Folder and zip packages: zip entries read within bounds, zip metadata, symbolic links.

use archive::scan;

use super::{auditor, labels_of};
use crate::zip_package::{entry_limit, u16_at};
use crate::{Finding, Needle, Region, ValueKind, audit_package};

#[test]
fn zip_entry_reads_are_bounded_by_the_zip_size() {
    assert_eq!(entry_limit(true, u64::MAX, 1000), 1000);
    assert_eq!(entry_limit(true, 10, 1000), 10);
    assert_eq!(entry_limit(false, 10, 1000), scan::deflate_limit(10));
    assert_eq!(
        entry_limit(false, u64::MAX, 1000),
        scan::deflate_limit(1000)
    );
}

#[test]
fn a_zip_entry_declaring_a_huge_size_is_read_within_bounds() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p.zip");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&path).expect("create"));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    z.start_file("a.txt", opts).expect("entry");
    z.write_all(b"name: DOE, J").expect("write");
    z.finish().expect("finish");
    // Claim 3 GiB uncompressed in both headers.
    let mut raw = std::fs::read(&path).expect("read");
    for sig in [&b"PK\x03\x04"[..], &b"PK\x01\x02"[..]] {
        let at = memchr::memmem::find(&raw, sig).expect("header");
        let off = if sig[2] == 3 { 22 } else { 24 };
        raw[at + off..at + off + 4].copy_from_slice(&0xC000_0000u32.to_le_bytes());
    }
    std::fs::write(&path, &raw).expect("write");
    let a = auditor(&[Needle::new("PatientName", ValueKind::PersonName, "DOE^JO")]);
    let r = audit_package(&path, &a).expect("audit");
    assert!(labels_of(&r.findings).contains("PatientName"), "{r:?}");
}

#[test]
fn zip_comments_and_extra_fields_are_searched() {
    use std::io::Write;
    let a = auditor(&[Needle::new("PatientID", ValueKind::Identifier, "MRN000060")]);
    let dir = tempfile::tempdir().expect("tempdir");
    for kind in ["archive comment", "entry comment", "extra field", "clean"] {
        let path = dir.path().join("p.zip");
        let mut z = zip::ZipWriter::new(std::fs::File::create(&path).expect("create"));
        let mut opts = zip::write::FullFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        if kind == "extra field" {
            opts.add_extra_field(0x9999, b"MRN000060", false)
                .expect("extra");
        }
        z.start_file("a.txt", opts).expect("entry");
        z.write_all(b"nothing").expect("write");
        if kind == "archive comment" {
            z.set_comment("patient MRN000060").expect("comment");
        }
        z.finish().expect("finish");
        if kind == "entry comment" {
            // The writer has no per-entry comment: patch the central header's.
            let raw = std::fs::read(&path).expect("read");
            let at = memchr::memmem::find(&raw, b"PK\x01\x02").expect("central");
            let n = u16_at(&raw, at + 28);
            let m = u16_at(&raw, at + 30);
            let mut out = raw[..at + 46 + n + m].to_vec();
            out[at + 32..at + 34].copy_from_slice(&9u16.to_le_bytes());
            out.extend_from_slice(b"MRN000060");
            let eocd_at = memchr::memmem::rfind(&raw, b"PK\x05\x06").expect("eocd");
            let mut eocd = raw[eocd_at..].to_vec();
            let cd_size = u32::from_le_bytes(eocd[12..16].try_into().expect("4")) + 9;
            eocd[12..16].copy_from_slice(&cd_size.to_le_bytes());
            out.extend_from_slice(&eocd);
            std::fs::write(&path, &out).expect("write");
        }
        let r = audit_package(&path, &a).expect("audit");
        let zip_findings: Vec<&Finding> = r
            .findings
            .iter()
            .filter(|f| {
                matches!(
                    f,
                    Finding::Value {
                        region: Region::ZipMetadata,
                        ..
                    }
                )
            })
            .collect();
        if kind == "clean" {
            assert!(r.findings.is_empty(), "{r:?}");
        } else {
            assert_eq!(zip_findings.len(), 1, "{kind}: {r:?}");
        }
    }
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_in_a_folder_package_is_a_finding() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.txt"), b"nothing").expect("write");
    std::os::unix::fs::symlink("/etc/hostname", dir.path().join("b.dcm")).expect("symlink");
    let r = audit_package(dir.path(), &auditor(&[])).expect("audit");
    assert!(
        matches!(&r.findings[..], [Finding::Unreadable { file, .. }] if file == "b.dcm"),
        "{r:?}"
    );
}

#[test]
fn an_entry_hidden_behind_a_duplicate_name_is_audited() {
    use std::io::Write;
    // Two entries named alike: the zip crate's by-name index shows only the last one. The
    // first holds a name, the second nothing; both are audited (and counted) all the same.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p.zip");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&path).expect("create"));
    for (name, method) in [
        ("a.txt", zip::CompressionMethod::Stored),
        ("b.txt", zip::CompressionMethod::Deflated),
    ] {
        let opts = zip::write::SimpleFileOptions::default().compression_method(method);
        z.start_file(name, opts).expect("entry");
        let text: &[u8] = if name == "a.txt" {
            b"name: DOE, J"
        } else {
            b"nothing"
        };
        z.write_all(text).expect("write");
    }
    z.finish().expect("finish");
    // Rename b.txt to a.txt in its local and central headers.
    let mut raw = std::fs::read(&path).expect("read");
    let mut at = 0;
    while let Some(i) = memchr::memmem::find(&raw[at..], b"b.txt") {
        raw[at + i..at + i + 5].copy_from_slice(b"a.txt");
        at += i + 5;
    }
    std::fs::write(&path, &raw).expect("write");
    let shown = zip::ZipArchive::new(std::fs::File::open(&path).expect("open")).expect("zip");
    assert_eq!(shown.len(), 1, "the crate's index shows one entry");
    let a = auditor(&[Needle::new("PatientName", ValueKind::PersonName, "DOE^JO")]);
    let r = audit_package(&path, &a).expect("audit");
    assert!(labels_of(&r.findings).contains("PatientName"), "{r:?}");
    assert_eq!(r.files, 2, "{r:?}");
    // The same in a stored entry read by streaming.
    let r = crate::package::audit_package_with(
        &path,
        &a,
        crate::stream::Streaming { above: 0, chunk: 3 },
    )
    .expect("audit");
    assert!(labels_of(&r.findings).contains("PatientName"), "{r:?}");
}
