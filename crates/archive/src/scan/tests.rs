//! Tests of the structural scan: every syntax, cut files, hostile lengths, meta groups, deflate
//! bombs, layouts, value counts and sizes, nesting.

use super::source::Stream;
use super::walk::Walk;
use super::*;

fn file(spec: &synth::fixture::InstanceSpec) -> Vec<u8> {
    spec.to_bytes().unwrap()
}

/// A two-frame instance with nested sequences and a private block, in `syntax`.
fn hard_file(syntax: synth::fixture::Syntax) -> Vec<u8> {
    file(&synth::fixture::InstanceSpec {
        syntax,
        nested: true,
        private_block: true,
        frames: 2,
        ..Default::default()
    })
}

#[test]
fn every_syntax_passes_and_cuts_fail() {
    for syntax in synth::fixture::Syntax::ALL {
        let bytes = hard_file(syntax);
        check(&bytes, true).unwrap_or_else(|e| panic!("{syntax:?}: {e}"));
        let cut = &bytes[..bytes.len() - 10];
        assert!(
            check(cut, true).is_err(),
            "{syntax:?} cut by 10 bytes passed"
        );
        check_reader(&bytes[..], bytes.len() as u64, true)
            .unwrap_or_else(|e| panic!("{syntax:?}: {e}"));
        assert!(check_reader(cut, cut.len() as u64, true).is_err());
    }
}

#[test]
fn huge_lengths_are_refused() {
    let bytes = synth::fixture::huge_length().unwrap();
    let err = check(&bytes, true).unwrap_err();
    assert!(
        matches!(
            err,
            ScanError::Length {
                declared: 0xFFFF_FFF0,
                ..
            }
        ),
        "{err}"
    );
    assert!(check_reader(&bytes[..], bytes.len() as u64, true).is_err());
}

/// A file: preamble, `DICM`, a meta group with the transfer syntax, then `body`.
fn with_meta(ts: &str, body: &[u8]) -> Vec<u8> {
    let mut ts = ts.as_bytes().to_vec();
    if ts.len() % 2 == 1 {
        ts.push(0);
    }
    let mut meta = Vec::new();
    meta.extend_from_slice(&[0x02, 0x00, 0x10, 0x00, b'U', b'I']);
    meta.extend_from_slice(&(ts.len() as u16).to_le_bytes());
    meta.extend_from_slice(&ts);
    let mut bytes = vec![0u8; 128];
    bytes.extend_from_slice(b"DICM");
    bytes.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, b'U', b'L', 4, 0]);
    bytes.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&meta);
    bytes.extend_from_slice(body);
    bytes
}

const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
const DEFLATED: &str = "1.2.840.10008.1.2.1.99";

/// An explicit VR LE element with a 16-bit length.
fn short(group: u16, element: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
    let mut e = Vec::new();
    e.extend_from_slice(&group.to_le_bytes());
    e.extend_from_slice(&element.to_le_bytes());
    e.extend_from_slice(vr);
    e.extend_from_slice(&(value.len() as u16).to_le_bytes());
    e.extend_from_slice(value);
    e
}

fn deflate(body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(body).unwrap();
    enc.finish().unwrap()
}

#[test]
fn unknown_vr_codes_have_long_lengths_as_in_dicom_rs() {
    // VR "ZZ": dicom-rs reads it as UN, with a 4-byte length (here 1 GiB). Read with a
    // 2-byte length the header would say 0 and the scan would pass.
    let mut body = short(0x0010, 0x0010, b"PN", b"DOE^JOHN");
    body.extend_from_slice(&[0x11, 0x00, 0x10, 0x00, b'Z', b'Z', 0, 0]);
    body.extend_from_slice(&0x4000_0000u32.to_le_bytes());
    let err = check(&with_meta(EXPLICIT_LE, &body), true).unwrap_err();
    assert!(
        matches!(
            err,
            ScanError::Length {
                group: 0x0011,
                declared: 0x4000_0000,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn an_overlong_meta_group_length_still_checks_what_it_swallows() {
    // The group length claims 100 bytes more than the meta group has: dicom-rs goes on
    // reading data set elements as meta elements, and so must the scan.
    let mut bytes = with_meta(EXPLICIT_LE, &[]);
    let len_at = 132 + 8;
    let len = u32::from_le_bytes(bytes[len_at..len_at + 4].try_into().unwrap());
    bytes[len_at..len_at + 4].copy_from_slice(&(len + 100).to_le_bytes());
    bytes.extend_from_slice(&[0x09, 0x00, 0x10, 0x00, b'O', b'B', 0, 0]);
    bytes.extend_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    bytes.extend_from_slice(&[0u8; 200]);
    let err = check(&bytes, true).unwrap_err();
    assert!(
        matches!(
            err,
            ScanError::Length {
                declared: 0xFFFF_FFF0,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_meta_group_without_group_length_is_malformed() {
    let mut bytes = vec![0u8; 128];
    bytes.extend_from_slice(b"DICM");
    bytes.extend_from_slice(&short(0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2.1\0"));
    let err = check(&bytes, true).unwrap_err();
    assert!(matches!(err, ScanError::Malformed(_)), "{err}");
}

#[test]
fn implicit_vr_sequences_of_defined_length_are_walked_by_dictionary() {
    // (0008,1140) Referenced Image Sequence, defined length, one item holding an element
    // that declares 1 GiB: opaque bytes to a VR-blind scan, a sequence to dicom-rs.
    let mut inner = Vec::new();
    inner.extend_from_slice(&[0x08, 0x00, 0x50, 0x11]);
    inner.extend_from_slice(&0x4000_0000u32.to_le_bytes());
    let mut item = vec![0xFE, 0xFF, 0x00, 0xE0];
    item.extend_from_slice(&(inner.len() as u32).to_le_bytes());
    item.extend_from_slice(&inner);
    let mut body = vec![0x08, 0x00, 0x40, 0x11];
    body.extend_from_slice(&(item.len() as u32).to_le_bytes());
    body.extend_from_slice(&item);
    let err = check(&with_meta(IMPLICIT_LE, &body), true).unwrap_err();
    assert!(matches!(err, ScanError::Length { .. }), "{err}");
}

#[test]
fn deflated_sequences_of_defined_length_with_several_items_pass() {
    // Explicit lengths everywhere (as pydicom writes them): two items of one element each.
    let uid = short(0x0008, 0x1155, b"UI", b"1.2.3.4\0");
    let mut items = Vec::new();
    for _ in 0..2 {
        items.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
        items.extend_from_slice(&(uid.len() as u32).to_le_bytes());
        items.extend_from_slice(&uid);
    }
    let mut body = vec![0x08, 0x00, 0x40, 0x11, b'S', b'Q', 0, 0];
    body.extend_from_slice(&(items.len() as u32).to_le_bytes());
    body.extend_from_slice(&items);
    body.extend_from_slice(&short(0x0010, 0x0010, b"PN", b"DOE^JOHN"));
    let layout = check(&with_meta(DEFLATED, &deflate(&body)), true).unwrap();
    assert_eq!(layout.encoding, Encoding::Deflated);
    // The same data set not deflated passes too.
    check(&with_meta(EXPLICIT_LE, &body), true).unwrap();
    // And an item that runs past its sequence is refused.
    let mut bad = body.clone();
    bad[8..12].copy_from_slice(&((items.len() - 4) as u32).to_le_bytes());
    assert!(check(&with_meta(EXPLICIT_LE, &bad), true).is_err());
}

#[test]
fn deflate_bombs_are_refused() {
    // The total allowance, shown with a small limit (the real one is hundreds of MiB):
    // the inflater stops at the limit, it never inflates past it.
    use std::io::Write;
    let n: u32 = 4 << 20;
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&[0x09, 0x00, 0x10, 0x10, b'O', b'B', 0, 0])
        .unwrap();
    enc.write_all(&n.to_le_bytes()).unwrap();
    enc.write_all(&vec![0u8; n as usize]).unwrap();
    let deflated = enc.finish().unwrap();
    let mut inflated = Stream {
        r: flate2::read::DeflateDecoder::new(&deflated[..]),
        read: 0,
        left: None,
        limit: 1 << 20,
    };
    let err = Walk::new(Encoding::Deflated, Options::default())
        .data_set(&mut inflated)
        .unwrap_err();
    assert!(
        matches!(err, ScanError::DeflateBomb { limit } if limit == 1 << 20),
        "{err}"
    );
    assert!(inflated.position() <= (1 << 20) + 1);
    // Within the limits the same data set passes (the public entry points' limits are
    // covered by `a_deflated_header_far_bigger_than_its_file_is_a_bomb`).
    let bytes = with_meta(DEFLATED, &deflated);
    assert!(u64::from(n) < deflate_header_limit(bytes.len() as u64));
    check(&bytes, true).unwrap();
    check_reader(&bytes[..], bytes.len() as u64, true).unwrap();
}

#[test]
fn layout_locates_the_top_level_pixel_data() {
    for syntax in synth::fixture::Syntax::ALL {
        let bytes = hard_file(syntax);
        let layout = check(&bytes, true).unwrap();
        assert_eq!(
            Some(layout.encoding),
            Encoding::of_transfer_syntax(syntax.uid())
        );
        let pixel = layout.pixel_data.clone().expect("pixel data found");
        assert!(layout.pixel_data_is_last, "{syntax:?}");
        if let Some(range) = layout.pixel_data_in_file() {
            assert_eq!(range.end, bytes.len(), "{syntax:?}");
            let tag = &bytes[range.start..range.start + 4];
            let expected: [u8; 4] = if layout.encoding == Encoding::ExplicitBig {
                [0x7F, 0xE0, 0x00, 0x10]
            } else {
                [0xE0, 0x7F, 0x10, 0x00]
            };
            assert_eq!(tag, expected, "{syntax:?}");
        } else {
            assert_eq!(layout.encoding, Encoding::Deflated);
            assert!(pixel.end > pixel.start);
        }
        assert_eq!(
            check_reader(&bytes[..], bytes.len() as u64, true).unwrap(),
            layout
        );
    }
}

#[test]
fn the_transfer_syntax_is_read_as_dicom_rs_reads_it() {
    // A trailing tab: dicom-rs's registry trims it and reads implicit VR, so must the scan
    // (read as explicit VR, the 1 GiB length below would hide in a "short" header).
    let mut body = vec![0x09, 0x00, 0x10, 0x10];
    body.extend_from_slice(&0x4000_0000u32.to_le_bytes());
    let mut bytes = with_meta("1.2.840.10008.1.2\t", &body);
    let err = check(&bytes, true).unwrap_err();
    assert!(matches!(err, ScanError::Length { .. }), "{err}");
    // A syntax nobody knows, and one longer than any UID, are refused outright.
    bytes = with_meta("1.2.3.4.5", &body);
    assert!(matches!(
        check(&bytes, true),
        Err(ScanError::UnknownTransferSyntax(_))
    ));
    bytes = with_meta(&"1".repeat(300), &body);
    assert!(matches!(
        check(&bytes, true),
        Err(ScanError::UnknownTransferSyntax(_))
    ));
}

#[test]
fn pixel_data_declared_sq_is_walked_as_a_sequence() {
    // (7FE0,0010) SQ of undefined length holding an item with a 1 GiB OB: dicom-rs parses
    // it as a sequence of data sets, not as pixel fragments.
    let mut body = vec![
        0xE0, 0x7F, 0x10, 0x00, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
    ];
    body.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
    body.extend_from_slice(&[0x09, 0x00, 0x10, 0x10, b'O', b'B', 0, 0]);
    body.extend_from_slice(&0x4000_0000u32.to_le_bytes());
    let err = check(&with_meta(EXPLICIT_LE, &body), true).unwrap_err();
    assert!(matches!(err, ScanError::Length { .. }), "{err}");
}

#[test]
fn a_deflated_header_far_bigger_than_its_file_is_a_bomb() {
    // 24 MiB of spaces in one OB before the pixel data: within the total allowance, far
    // beyond what a header-only parse should hold.
    use std::io::Write;
    let n: u32 = 24 << 20;
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&[0x09, 0x00, 0x10, 0x10, b'O', b'B', 0, 0])
        .unwrap();
    enc.write_all(&n.to_le_bytes()).unwrap();
    enc.write_all(&vec![b' '; n as usize]).unwrap();
    enc.write_all(&[0xE0, 0x7F, 0x10, 0x00, b'O', b'W', 0, 0, 2, 0, 0, 0, 0, 0])
        .unwrap();
    let bytes = with_meta(DEFLATED, &enc.finish().unwrap());
    assert!(u64::from(n) < deflate_limit(bytes.len() as u64));
    let err = check(&bytes, true).unwrap_err();
    assert!(matches!(err, ScanError::DeflateBomb { .. }), "{err}");
}

#[test]
fn values_of_nothing_but_backslashes_are_refused() {
    let hostile = vec![b'\\'; 100_000];
    let body = {
        let mut b = vec![0x08, 0x00, 0x30, 0x10, b'L', b'O'];
        // LO has a 2-byte length: use UC (long VR) to hold 100 kB.
        b[4] = b'U';
        b[5] = b'C';
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&(hostile.len() as u32).to_le_bytes());
        b.extend_from_slice(&hostile);
        b
    };
    let err = check(&with_meta(EXPLICIT_LE, &body), true).unwrap_err();
    assert!(matches!(err, ScanError::Malformed(_)), "{err}");
    // Contour-like data with real values passes.
    let values: Vec<u8> = (0..20_000)
        .map(|i| format!("{i}.5"))
        .collect::<Vec<_>>()
        .join("\\")
        .into_bytes();
    let mut b = vec![0x08, 0x00, 0x30, 0x10, b'U', b'C', 0, 0];
    let mut v = values.clone();
    if v.len() % 2 == 1 {
        v.push(b' ');
    }
    b.extend_from_slice(&(v.len() as u32).to_le_bytes());
    b.extend_from_slice(&v);
    check(&with_meta(EXPLICIT_LE, &b), true).unwrap();
}

#[test]
fn binary_lengths_that_are_no_whole_number_of_values_are_refused() {
    // FD of 10 bytes: dicom-rs reads 8 and would take the last 2 as the next header.
    let mut body = vec![0x18, 0x00, 0x88, 0x00, b'F', b'D', 10, 0];
    body.extend_from_slice(&[0u8; 10]);
    let err = check(&with_meta(EXPLICIT_LE, &body), true).unwrap_err();
    assert!(matches!(err, ScanError::Malformed(_)), "{err}");
    let mut ok = vec![0x18, 0x00, 0x88, 0x00, b'F', b'D', 8, 0];
    ok.extend_from_slice(&[0u8; 8]);
    check(&with_meta(EXPLICIT_LE, &ok), true).unwrap();
}

#[test]
fn deep_nesting_is_refused() {
    // Explicit VR LE data set: 100 nested undefined-length sequences.
    let mut body = Vec::new();
    for _ in 0..100 {
        body.extend_from_slice(&[
            0x08, 0x00, 0x15, 0x11, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ]);
        body.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
    }
    let mut bytes = vec![0u8; 128];
    bytes.extend_from_slice(b"DICM");
    let ts = b"1.2.840.10008.1.2.1\0";
    let mut meta = Vec::new();
    meta.extend_from_slice(&[0x02, 0x00, 0x10, 0x00, b'U', b'I']);
    meta.extend_from_slice(&(ts.len() as u16).to_le_bytes());
    meta.extend_from_slice(ts);
    bytes.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, b'U', b'L', 4, 0]);
    bytes.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&meta);
    bytes.extend_from_slice(&body);
    assert_eq!(check(&bytes, true), Err(ScanError::TooDeep));
}
