//! Tests of the zip walker on zips made by hand: shared names, folder-named entries, stubs,
//! zip64 fields, bombs, raw metadata, a central directory that cannot be walked.

use std::io::{Cursor, Read, Write};

use super::central::{central_directory_at_most, zip64_field};
use super::*;

/// One entry of a zip made by hand: what no zip writer would write (shared names, claimed
/// sizes, zip64 fields in any header).
struct Raw<'a> {
    name: &'a [u8],
    data: &'a [u8],
    deflate: bool,
    /// The uncompressed size the central directory claims (default: the real one).
    claim: Option<u64>,
    /// Sizes and offset in the central directory's zip64 field.
    zip64: bool,
    extra: &'a [u8],
    comment: &'a [u8],
}

fn raw<'a>(name: &'a [u8], data: &'a [u8]) -> Raw<'a> {
    Raw {
        name,
        data,
        deflate: false,
        claim: None,
        zip64: false,
        extra: b"",
        comment: b"",
    }
}

fn u16le(v: usize) -> [u8; 2] {
    u16::try_from(v).unwrap().to_le_bytes()
}

fn u32le(v: u64) -> [u8; 4] {
    u32::try_from(v).unwrap().to_le_bytes()
}

/// A zip of `entries` after `stub` bytes, with `comment`; `count` overrides the number of
/// entries its end record claims.
fn handmade(stub: &[u8], entries: &[Raw<'_>], comment: &[u8], count: Option<usize>) -> Vec<u8> {
    let mut zip = stub.to_vec();
    let mut central = Vec::new();
    for e in entries {
        let offset = (zip.len() - stub.len()) as u64;
        let stored = if e.deflate {
            let mut enc =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
            enc.write_all(e.data).unwrap();
            enc.finish().unwrap()
        } else {
            e.data.to_vec()
        };
        let mut crc = flate2::Crc::new();
        crc.update(e.data);
        let method: usize = if e.deflate { 8 } else { 0 };
        let size = e.claim.unwrap_or(e.data.len() as u64);
        zip.extend_from_slice(b"PK\x03\x04");
        zip.extend_from_slice(&u16le(20));
        zip.extend_from_slice(&u16le(0));
        zip.extend_from_slice(&u16le(method));
        zip.extend_from_slice(&[0; 4]);
        zip.extend_from_slice(&crc.sum().to_le_bytes());
        zip.extend_from_slice(&u32le(stored.len() as u64));
        zip.extend_from_slice(&u32le(e.data.len() as u64));
        zip.extend_from_slice(&u16le(e.name.len()));
        zip.extend_from_slice(&u16le(0));
        zip.extend_from_slice(e.name);
        zip.extend_from_slice(&stored);

        let mut extra = Vec::new();
        let (size32, csize32, offset32) = if e.zip64 {
            extra.extend_from_slice(&[1, 0, 24, 0]);
            for v in [size, stored.len() as u64, offset] {
                extra.extend_from_slice(&v.to_le_bytes());
            }
            (u32::MAX, u32::MAX, u32::MAX)
        } else {
            let size32 = u32::try_from(size).unwrap_or(u32::MAX);
            (size32, stored.len() as u32, offset as u32)
        };
        extra.extend_from_slice(e.extra);
        central.extend_from_slice(b"PK\x01\x02");
        central.extend_from_slice(&u16le(45));
        central.extend_from_slice(&u16le(if e.zip64 { 45 } else { 20 }));
        central.extend_from_slice(&u16le(0));
        central.extend_from_slice(&u16le(method));
        central.extend_from_slice(&[0; 4]);
        central.extend_from_slice(&crc.sum().to_le_bytes());
        central.extend_from_slice(&csize32.to_le_bytes());
        central.extend_from_slice(&size32.to_le_bytes());
        central.extend_from_slice(&u16le(e.name.len()));
        central.extend_from_slice(&u16le(extra.len()));
        central.extend_from_slice(&u16le(e.comment.len()));
        central.extend_from_slice(&[0; 8]);
        central.extend_from_slice(&offset32.to_le_bytes());
        central.extend_from_slice(e.name);
        central.extend_from_slice(&extra);
        central.extend_from_slice(e.comment);
    }
    let cd_offset = (zip.len() - stub.len()) as u64;
    let n = count.unwrap_or(entries.len());
    zip.extend_from_slice(&central);
    zip.extend_from_slice(b"PK\x05\x06");
    zip.extend_from_slice(&[0; 4]);
    zip.extend_from_slice(&u16le(n));
    zip.extend_from_slice(&u16le(n));
    zip.extend_from_slice(&u32le(central.len() as u64));
    zip.extend_from_slice(&u32le(cd_offset));
    zip.extend_from_slice(&u16le(comment.len()));
    zip.extend_from_slice(comment);
    zip
}

/// Writes `bytes` to a zip file in a fresh folder (kept alive by the returned guard).
fn on_disk(bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.zip");
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

/// Every entry's data, read whole within its own limit.
fn contents(zip: &mut ZipEntries) -> Vec<Vec<u8>> {
    (0..zip.len())
        .map(|p| {
            let limit = zip.data_limit(p);
            let mut out = Vec::new();
            zip.data(p, limit).unwrap().read_to_end(&mut out).unwrap();
            out
        })
        .collect()
}

#[test]
fn central_directories_are_read_entry_by_entry() {
    let mut zip = Vec::new();
    {
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(&mut zip));
        for name in ["a", "b/", "c"] {
            w.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(name.as_bytes()).unwrap();
        }
        w.finish().unwrap();
    }
    let archive = zip::ZipArchive::new(std::io::Cursor::new(&zip)).unwrap();
    let cd = central_directory(
        &mut std::io::Cursor::new(&zip),
        archive.central_directory_start(),
    )
    .unwrap();
    let names: Vec<&[u8]> = cd.iter().map(|e| e.name_raw.as_slice()).collect();
    assert_eq!(names, [&b"a"[..], b"b/", b"c"]);
    for (i, e) in cd.iter().enumerate() {
        let by_crate = archive.by_index_data(i).unwrap();
        assert_eq!(e.header_start, by_crate.central_header_start());
        assert_eq!(e.local_offset, by_crate.header_start());
        assert_eq!((e.size, e.crc32), (by_crate.size(), by_crate.crc32()));
    }
    assert_eq!(
        zip64_field(&[1, 0, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8]),
        Some(&[1, 2, 3, 4, 5, 6, 7, 8][..])
    );
    assert_eq!(zip64_field(&[9, 0, 2, 0, 1, 2]), None);
    assert_eq!(zip64_field(&[1, 0, 9, 0, 1]), None, "a field cut short");
}

#[test]
fn entries_hidden_behind_duplicate_names_are_listed_and_read() {
    let bytes = handmade(
        b"",
        &[
            raw(b"SAME", b"first"),
            raw(b"other", b"between"),
            Raw {
                deflate: true,
                ..raw(b"SAME", b"second, deflated")
            },
            raw(b"SAME", b"third"),
        ],
        b"",
        None,
    );
    let (_dir, path) = on_disk(&bytes);
    let by_crate = zip::ZipArchive::new(std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!(
        by_crate.len(),
        2,
        "the crate's index shows one SAME of three"
    );

    let mut zip = ZipEntries::open(&path).unwrap();
    assert!(zip.has_duplicate_names());
    assert!(zip.incomplete().is_none());
    let listed: Vec<(&[u8], bool, usize)> = zip
        .entries()
        .iter()
        .map(|e| (e.name_raw.as_slice(), e.is_shadowed(), e.position))
        .collect();
    assert_eq!(
        listed,
        [
            (&b"SAME"[..], true, 0),
            (b"other", false, 1),
            (b"SAME", true, 2),
            (b"SAME", false, 3),
        ]
    );
    assert!(zip.entries().iter().all(|e| e.name.as_deref().is_some()));
    assert_eq!(zip.entries()[2].method, Method::Deflated);
    assert_eq!(
        contents(&mut zip),
        [
            b"first".to_vec(),
            b"between".to_vec(),
            b"second, deflated".to_vec(),
            b"third".to_vec()
        ]
    );
    assert_eq!(zip.find("SAME"), Some(3), "a by-name lookup finds the last");
    assert_eq!(zip.find("missing"), None);
    // Read again, out of order: each reader starts at its own entry.
    let mut again = String::new();
    zip.data(0, 100)
        .unwrap()
        .read_to_string(&mut again)
        .unwrap();
    assert_eq!(again, "first");
}

#[test]
fn folder_named_entries_are_listed_with_their_data() {
    let mut bytes = Vec::new();
    {
        let mut w = zip::ZipWriter::new(Cursor::new(&mut bytes));
        let o = zip::write::SimpleFileOptions::default();
        w.add_directory("empty/", o).unwrap();
        w.start_file("FOLDERX_", o).unwrap();
        w.write_all(b"data in a folder-named entry").unwrap();
        w.start_file("win\\", o).unwrap();
        w.finish().unwrap();
    }
    let at = bytes.windows(8).position(|w| w == b"FOLDERX_").unwrap();
    bytes[at + 7] = b'/';
    let at = bytes.windows(8).rposition(|w| w == b"FOLDERX_").unwrap();
    bytes[at + 7] = b'/';
    let (_dir, path) = on_disk(&bytes);
    let mut zip = ZipEntries::open(&path).unwrap();
    let listed: Vec<(Option<&str>, bool, u64)> = zip
        .entries()
        .iter()
        .map(|e| (e.name.as_deref(), e.is_folder_like(), e.size))
        .collect();
    assert_eq!(
        listed,
        [
            (Some("empty/"), true, 0),
            (Some("FOLDERX/"), true, 28),
            (Some("win\\"), true, 0)
        ]
    );
    assert_eq!(contents(&mut zip)[1], b"data in a folder-named entry");
}

#[test]
fn zips_behind_a_stub_are_read_at_their_offsets() {
    let stub = vec![0x90u8; 1000];
    let bytes = handmade(
        &stub,
        &[
            raw(b"IM0", b"zero"),
            raw(b"IM1", b"one"),
            raw(b"IM0", b"zero again"),
        ],
        b"",
        None,
    );
    let (_dir, path) = on_disk(&bytes);
    let mut zip = ZipEntries::open(&path).unwrap();
    assert_eq!(zip.stub_len(), 1000);
    assert_eq!(zip.file_size(), bytes.len() as u64);
    assert_eq!(zip.entries()[0].local_header_start, Some(1000));
    assert!(zip.entries()[0].is_shadowed());
    let local = zip.local_header(1).unwrap();
    assert_eq!(local.name_raw, b"IM1");
    assert_eq!(
        &bytes[local.data_start as usize..local.data_start as usize + 3],
        b"one"
    );
    assert_eq!(
        contents(&mut zip),
        [b"zero".to_vec(), b"one".to_vec(), b"zero again".to_vec()]
    );
}

#[test]
fn zip64_sizes_and_offsets_come_from_the_zip64_field() {
    let bytes = handmade(
        b"",
        &[
            Raw {
                zip64: true,
                extra: b"\x55\x54\x05\x00\x01\x00\x00\x00\x00",
                ..raw(b"big", b"zip64 entry")
            },
            Raw {
                zip64: true,
                deflate: true,
                ..raw(b"big", b"zip64 and deflated, shadowed")
            },
            Raw {
                zip64: true,
                ..raw(b"last", b"last")
            },
        ],
        b"",
        None,
    );
    let (_dir, path) = on_disk(&bytes);
    let mut zip = ZipEntries::open(&path).unwrap();
    let e = &zip.entries()[0];
    assert_eq!((e.size, e.compressed_size), (11, 11));
    assert!(e.is_shadowed());
    assert_eq!(zip64_field(&e.extra).map(<[u8]>::len), Some(24));
    assert!(e.extra.ends_with(b"\x55\x54\x05\x00\x01\x00\x00\x00\x00"));
    // After two local headers of 30 bytes, their names and data.
    let deflated = zip.entries()[1].compressed_size;
    assert_eq!(
        zip.entries()[2].local_header_start,
        Some(30 + 3 + 11 + 30 + 3 + deflated)
    );
    assert_eq!(
        contents(&mut zip),
        [
            b"zip64 entry".to_vec(),
            b"zip64 and deflated, shadowed".to_vec(),
            b"last".to_vec()
        ]
    );
    // A zip64 header without its field, or with the field cut short, is an error.
    let mut cut = [0u8; 46];
    cut[..4].copy_from_slice(b"PK\x01\x02");
    cut[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
    let err = read_central_header(&mut Cursor::new(&cut[..]), 0).unwrap_err();
    assert!(
        err.to_string()
            .contains("zip64 entry without its extra field"),
        "{err}"
    );
}

#[test]
fn bombs_are_bounded() {
    let zeros = vec![0u8; 4 << 20];
    let bytes = handmade(
        b"",
        &[
            // Claims 100 bytes, inflates to 4 MiB.
            Raw {
                deflate: true,
                claim: Some(100),
                ..raw(b"bomb", &zeros)
            },
            // Claims more than any entry may.
            Raw {
                zip64: true,
                claim: Some(MAX_ZIP_ENTRY + 1),
                ..raw(b"claims", b"small")
            },
            raw(b"stored", b"0123456789"),
            // Claims what it holds: 4 MiB from a few kilobytes.
            Raw {
                deflate: true,
                ..raw(b"honest", &zeros)
            },
        ],
        b"",
        None,
    );
    let (_dir, path) = on_disk(&bytes);
    let mut zip = ZipEntries::open(&path).unwrap();
    let bomb = zip.entries()[0].clone();
    assert_eq!(bomb.size, 100);
    assert!(!bomb.claims_too_much());
    assert!(zip.entries()[1].claims_too_much());
    assert!(!zip.entries()[2].claims_too_much());
    // An entry holding more than it claims is refused past its claim, whatever the limit.
    let mut out = Vec::new();
    let err = zip
        .data(0, u64::MAX)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap_err();
    assert!(
        err.to_string().contains("larger than its declared"),
        "{err}"
    );
    assert!(out.len() <= 100, "{} bytes handed out", out.len());
    // One holding what it claims is read within the caller's limit, and refused beyond it,
    // with the limit named.
    let honest = zip.entries()[3].clone();
    assert!(honest.compressed_size < 64 << 10);
    let mut out = Vec::new();
    let err = zip
        .data(3, 1 << 20)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap_err();
    assert_eq!(
        OverLimit::of(&err),
        Some(OverLimit { limit: 1 << 20 }),
        "{err}"
    );
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert_eq!(out.len(), 1 << 20, "no byte beyond the limit is handed out");
    // What a deflated entry may inflate to follows its compressed size.
    assert_eq!(
        zip.data_limit(3),
        crate::scan::deflate_limit(honest.compressed_size)
    );
    assert!(zip.data_limit(3) < crate::scan::deflate_limit(zip.file_size()));
    // A stored entry holds its stored size, not a byte more.
    assert_eq!(zip.data_limit(2), 10);
    let mut exact = Vec::new();
    zip.data(2, 10).unwrap().read_to_end(&mut exact).unwrap();
    assert_eq!(exact, b"0123456789");
    let err = zip
        .data(2, 9)
        .unwrap()
        .read_to_end(&mut Vec::new())
        .unwrap_err();
    assert_eq!(OverLimit::of(&err), Some(OverLimit { limit: 9 }));
    assert_eq!(OverLimit::of(&std::io::Error::other("other")), None);
    // At most so many headers are read.
    let three = handmade(
        b"",
        &[raw(b"a", b"a"), raw(b"b", b"b"), raw(b"c", b"c")],
        b"",
        None,
    );
    let start = zip::ZipArchive::new(Cursor::new(&three))
        .unwrap()
        .central_directory_start();
    assert_eq!(
        central_directory_at_most(&mut Cursor::new(&three), start, 3)
            .unwrap()
            .len(),
        3
    );
    let err = central_directory_at_most(&mut Cursor::new(&three), start, 2).unwrap_err();
    assert!(
        err.to_string().contains("more central directory entries"),
        "{err}"
    );
}

#[test]
fn comments_extra_fields_and_local_headers_are_raw() {
    let bytes = handmade(
        b"",
        &[Raw {
            extra: b"\xfe\xca\x03\x00abc",
            comment: b"an entry comment \xff",
            ..raw(b"n\xe4me", b"data")
        }],
        b"the zip's comment",
        None,
    );
    let (_dir, path) = on_disk(&bytes);
    let mut zip = ZipEntries::open(&path).unwrap();
    assert_eq!(zip.comment(), b"the zip's comment");
    let e = zip.entries()[0].clone();
    assert_eq!(e.name_raw, b"n\xe4me");
    assert_eq!(
        e.name.as_deref(),
        Some("n\u{3a3}me"),
        "CP437 without the UTF-8 flag"
    );
    assert_eq!(e.extra, b"\xfe\xca\x03\x00abc");
    assert_eq!(e.comment, b"an entry comment \xff");
    assert_eq!(e.method, Method::Stored);
    assert!(!e.is_encrypted());
    let local = zip.local_header(0).unwrap();
    assert_eq!(
        (local.name_raw.as_slice(), local.extra.len()),
        (&b"n\xe4me"[..], 0)
    );
    assert_eq!(local.data_start, 30 + 4);
    assert!(matches!(
        zip.local_header(1),
        Err(EntryError::Zip(zip::result::ZipError::FileNotFound))
    ));
}

#[test]
fn a_central_directory_that_cannot_be_walked_still_lists_the_crates_entries() {
    // The end record counts one entry; a second header follows, cut short by the end record.
    let mut bytes = handmade(b"", &[raw(b"one", b"1"), raw(b"two", b"2")], b"", Some(1));
    let second = bytes.windows(4).rposition(|w| w == b"PK\x01\x02").unwrap();
    // Its name length now runs past the end of the file.
    bytes[second + 28..second + 30].copy_from_slice(&u16::MAX.to_le_bytes());
    let (_dir, path) = on_disk(&bytes);
    let mut zip = ZipEntries::open(&path).unwrap();
    assert!(zip.incomplete().is_some());
    let names: Vec<&[u8]> = zip
        .entries()
        .iter()
        .map(|e| e.name_raw.as_slice())
        .collect();
    assert_eq!(names, [&b"one"[..]]);
    assert_eq!(zip.entries()[0].crc32, {
        let mut c = flate2::Crc::new();
        c.update(b"1");
        c.sum()
    });
    assert_eq!(contents(&mut zip), [b"1".to_vec()]);
}

#[test]
fn only_zips_open_as_zips() {
    let (_dir, path) = on_disk(&handmade(b"stub", &[raw(b"a", b"a")], b"", None));
    assert!(is_zip(&path));
    let (_dir2, not) = on_disk(b"PK\x03\x04 but nothing else");
    assert!(!is_zip(&not));
    let err = ZipEntries::open(&not).unwrap_err();
    assert_eq!(err.path, not);
    assert!(
        err.to_string().starts_with("cannot read zip archive "),
        "{err}"
    );
    assert!(std::error::Error::source(&err).is_some());
}
