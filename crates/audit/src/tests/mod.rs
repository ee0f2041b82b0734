//! Tests of the audit of files, folders and zips, in memory and streamed, and the fixtures
//! they share: DICOM files built byte by byte (explicit and implicit VR, big endian,
//! deflated, nested sequences, private blocks, pixel data).

use std::collections::BTreeSet;

use crate::{Auditor, Finding, Needle, Region, Rules};

mod byte_order;
mod dicom;
mod packages;
mod repaired;
mod rules;
mod search;
mod stream;
mod uids;
mod uids_on_disk;

pub(crate) fn auditor(needles: &[Needle]) -> Auditor {
    Auditor::new(needles, Rules::default()).expect("auditor")
}

pub(crate) const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";

pub(crate) const EXPLICIT_BE: &str = "1.2.840.10008.1.2.2";

pub(crate) const DEFLATED: &str = "1.2.840.10008.1.2.1.99";

/// A file: preamble, `DICM`, a meta group with its group length and the transfer syntax,
/// then `body`.
pub(crate) fn with_meta(ts: &str, body: &[u8]) -> Vec<u8> {
    let mut ts = ts.as_bytes().to_vec();
    if ts.len() % 2 == 1 {
        ts.push(0);
    }
    let meta = short(0x0002, 0x0010, b"UI", &ts);
    let mut bytes = vec![0u8; 128];
    bytes.extend_from_slice(b"DICM");
    bytes.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, b'U', b'L', 4, 0]);
    bytes.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&meta);
    bytes.extend_from_slice(body);
    bytes
}

/// An explicit VR LE element with a 16-bit length (value padded to even length).
pub(crate) fn short(group: u16, element: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
    let mut value = value.to_vec();
    if value.len() % 2 == 1 {
        value.push(if vr == b"UI" { 0 } else { b' ' });
    }
    let mut e = Vec::new();
    e.extend_from_slice(&group.to_le_bytes());
    e.extend_from_slice(&element.to_le_bytes());
    e.extend_from_slice(vr);
    e.extend_from_slice(&(value.len() as u16).to_le_bytes());
    e.extend_from_slice(&value);
    e
}

/// An explicit VR LE element with a 32-bit length (OB, UN, UT, SQ ...).
pub(crate) fn long(group: u16, element: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
    let mut e = Vec::new();
    e.extend_from_slice(&group.to_le_bytes());
    e.extend_from_slice(&element.to_le_bytes());
    e.extend_from_slice(vr);
    e.extend_from_slice(&[0, 0]);
    e.extend_from_slice(&(value.len() as u32).to_le_bytes());
    e.extend_from_slice(value);
    e
}

/// A defined-length sequence of one item holding `item`.
pub(crate) fn sequence(group: u16, element: u16, item: &[u8]) -> Vec<u8> {
    let mut items = vec![0xFE, 0xFF, 0x00, 0xE0];
    items.extend_from_slice(&(item.len() as u32).to_le_bytes());
    items.extend_from_slice(item);
    long(group, element, b"SQ", &items)
}

/// Native pixel data (OW, padded to whole 16-bit words as a real file has them).
pub(crate) fn pixel_data(pixels: &[u8]) -> Vec<u8> {
    let mut words = pixels.to_vec();
    if words.len() % 2 == 1 {
        words.push(0);
    }
    long(0x7FE0, 0x0010, b"OW", &words)
}

pub(crate) fn deflate(body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(body).expect("deflate");
    enc.finish().expect("deflate")
}

pub(crate) fn header_tags(f: &[Finding], label: &str) -> Vec<Option<String>> {
    f.iter()
        .filter_map(|x| match x {
            Finding::Value {
                what,
                region: Region::Header,
                tag,
                ..
            } if what == label => Some(tag.clone()),
            _ => None,
        })
        .collect()
}

pub(crate) fn labels_of(f: &[Finding]) -> BTreeSet<String> {
    f.iter()
        .filter_map(|x| match x {
            Finding::Value { what, .. } => Some(what.clone()),
            _ => None,
        })
        .collect()
}
