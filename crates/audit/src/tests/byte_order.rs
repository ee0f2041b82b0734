//! Big endian files: text stored in OW words (and OL, OF, OD units) reads in clear once the
//! file is converted to little endian, so it is searched in that order too, located by tag;
//! top-level OW Pixel Data with the pixel data rule.

use super::*;
use crate::source::FileSource;
use crate::{Needle, ValueKind};

/// An explicit VR big endian element with a 32-bit length (OB, OW, OL, UN, ...).
fn be_long(group: u16, element: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
    let mut e = Vec::new();
    e.extend_from_slice(&group.to_be_bytes());
    e.extend_from_slice(&element.to_be_bytes());
    e.extend_from_slice(vr);
    e.extend_from_slice(&[0, 0]);
    e.extend_from_slice(&(value.len() as u32).to_be_bytes());
    e.extend_from_slice(value);
    e
}

/// An explicit VR big endian element with a 16-bit length.
pub(super) fn be_short(group: u16, element: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
    let mut e = Vec::new();
    e.extend_from_slice(&group.to_be_bytes());
    e.extend_from_slice(&element.to_be_bytes());
    e.extend_from_slice(vr);
    e.extend_from_slice(&(value.len() as u16).to_be_bytes());
    e.extend_from_slice(value);
    e
}

/// `text` as the words of a big endian file hold it: each pair of bytes swapped.
fn swapped(text: &[u8], unit: usize) -> Vec<u8> {
    let mut b = text.to_vec();
    while !b.len().is_multiple_of(unit) {
        b.push(b' ');
    }
    for u in b.chunks_exact_mut(unit) {
        u.reverse();
    }
    b
}

fn needles() -> Vec<Needle> {
    vec![
        Needle::new(
            "PatientName",
            ValueKind::PersonName,
            "Thistlewaite^Bartholomew^Quincy",
        ),
        Needle::new("PatientID", ValueKind::Identifier, "TX-4471-B"),
    ]
}

/// 16-bit gradient pixels with `text` at byte `at` (as the image's words hold it).
fn pixels(text: &[u8], at: usize) -> Vec<u8> {
    let mut px: Vec<u8> = (0..4096u16)
        .flat_map(|i| ((i * 7) % 4096).to_le_bytes())
        .collect();
    px[at..at + text.len()].copy_from_slice(text);
    px
}

/// A big endian file whose RedPaletteColorLookupTableData and Pixel Data hold, as words,
/// `lut` and `image` (already in the file's byte order).
fn be_file(lut_vr: &[u8; 2], lut: &[u8], image: &[u8]) -> Vec<u8> {
    let mut body = be_short(0x0010, 0x0010, b"PN", b"ANONYMIZED");
    body.extend(be_long(0x0028, 0x1201, lut_vr, lut));
    body.extend(be_long(0x7FE0, 0x0010, b"OW", image));
    with_meta(EXPLICIT_BE, &body)
}

fn value_findings(f: &[Finding]) -> BTreeSet<(String, Region, Option<String>)> {
    f.iter()
        .filter_map(|x| match x {
            Finding::Value {
                what, region, tag, ..
            } => Some((what.clone(), *region, tag.clone())),
            _ => None,
        })
        .collect()
}

fn at(label: &str, region: Region, tag: Option<&str>) -> (String, Region, Option<String>) {
    (label.to_string(), region, tag.map(str::to_string))
}

#[test]
fn text_in_big_endian_ow_words_is_found_where_a_little_endian_copy_shows_it() {
    let a = Auditor::new(&needles(), crate::Rules::default()).expect("auditor");
    let lut = swapped(b"xxTHISTLEWAITE_TX-4471-Bxx\0\0\0\0\0\0", 2);
    // At an odd offset of the value too: the words are still whole pairs of the value.
    for offset in [400, 401] {
        let image = swapped(&pixels(b"BARTHOLOMEW THISTLEWAITE", offset), 2);
        let bytes = be_file(b"OW", &lut, &image);
        let f = a.scan_file("be.dcm", &bytes);
        let want: BTreeSet<_> = [
            at("PatientID", Region::Header, Some("(0028,1201)")),
            at("PatientName", Region::Header, Some("(0028,1201)")),
            at("PatientName", Region::PixelData, None),
        ]
        .into_iter()
        .collect();
        assert_eq!(value_findings(&f), want, "offset {offset}: {f:?}");
        // Streamed in windows that cut the words anywhere: the same findings.
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("be.dcm");
        std::fs::write(&path, &bytes).expect("write");
        for chunk in [1, 2, 3, 7, 64, 1 << 20] {
            let mut src = FileSource {
                path: path.clone(),
                start: 0,
                len: bytes.len() as u64,
            };
            let got = a
                .scan_source("be.dcm", &mut src, bytes.len() as u64, chunk)
                .expect("stream");
            assert_eq!(value_findings(&got), want, "offset {offset}, chunk {chunk}");
        }
    }
}

#[test]
fn only_words_are_swapped_back_and_only_in_big_endian() {
    let a = Auditor::new(&needles(), crate::Rules::default()).expect("auditor");
    // OB is a byte stream in either byte order: its bytes are what they are.
    let lut = swapped(b"xxTHISTLEWAITE_TX-4471-Bxx", 2);
    let image = pixels(b"..", 400);
    let f = a.scan_file("ob.dcm", &be_file(b"OB", &lut, &image));
    assert!(value_findings(&f).is_empty(), "{f:?}");
    // The same swapped bytes in a little endian file are not the name either.
    let mut body = short(0x0010, 0x0010, b"PN", b"ANONYMIZED");
    body.extend(long(0x0028, 0x1201, b"OW", &lut));
    body.extend(pixel_data(&swapped(
        &pixels(b"BARTHOLOMEW THISTLEWAITE", 400),
        2,
    )));
    let f = a.scan_file("le.dcm", &with_meta(EXPLICIT_LE, &body));
    assert!(value_findings(&f).is_empty(), "{f:?}");
    // In little endian the words hold the text as it is: found (the control).
    let mut body = short(0x0010, 0x0010, b"PN", b"ANONYMIZED");
    body.extend(long(0x0028, 0x1201, b"OW", b"xxTHISTLEWAITE_TX-4471-Bxx"));
    let f = a.scan_file("le.dcm", &with_meta(EXPLICIT_LE, &body));
    assert!(
        value_findings(&f).contains(&at("PatientName", Region::Header, Some("(0028,1201)"))),
        "{f:?}"
    );
}

#[test]
fn a_whole_value_in_big_endian_32_bit_units_is_found() {
    // OL units are numbers: only a whole value counts (see `verdict`), here the whole ID.
    let a = Auditor::new(
        &[Needle::new("PatientID", ValueKind::Identifier, "MRN47110")],
        crate::Rules::default(),
    )
    .expect("auditor");
    let mut body = be_short(0x0010, 0x0010, b"PN", b"ANONYMIZED");
    body.extend(be_long(0x0066, 0x0040, b"OL", &swapped(b"MRN47110", 4)));
    let f = a.scan_file("ol.dcm", &with_meta(EXPLICIT_BE, &body));
    assert_eq!(
        value_findings(&f),
        [at("PatientID", Region::Header, Some("(0066,0040)"))]
            .into_iter()
            .collect(),
        "{f:?}"
    );
}
