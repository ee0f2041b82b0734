//! Whether some bytes are a DICOM file depot archives, and its header facts: the `DICM`
//! marker, the structural scan, the header parse within the memory budget, the keys; or the
//! reason not (a DICOMDIR is passed over, named as such).

use std::io;

use dicom_dictionary_std::tags;
use dicom_object::OpenFileOptions;
use dicom_object::file::ReadPreamble;

use super::pipeline::{Origin, Refusal};
use crate::grouping::HeaderFacts;

/// Checks that the bytes are a complete DICOM file and reads its header facts; the error says
/// why not (a DICOMDIR is named as such).
pub fn examine(bytes: &[u8]) -> Result<HeaderFacts, String> {
    inspect(bytes, Origin::File).map_err(|refusal| match refusal {
        Refusal::Rejected(reason) | Refusal::Skipped(reason) => reason,
    })
}

/// [`examine`], telling files to reject from files to pass over.
pub(super) fn inspect(bytes: &[u8], origin: Origin) -> Result<HeaderFacts, Refusal> {
    let preamble = marker(bytes, origin)?;
    // Declared lengths first: dicom-rs allocates whatever a header declares. The scan walks
    // every element (pixel data included) against the file's size, so a file cut inside its
    // pixel data is rejected here; what dicom-rs would misread is repaired in a copy.
    let readable = crate::reading::readable(bytes, preamble == ReadPreamble::Always)
        .map_err(|e| e.to_string())?;
    // What the header parse builds (and the repaired copy, if any) comes out of the budget
    // shared by the workers, until the parsed header is dropped.
    let copy = if readable.is_copy() {
        readable.bytes.len() as u64
    } else {
        0
    };
    let _memory = crate::memory::Budget::global()
        .acquire(&readable.layout.header_cost, copy)
        .map_err(|e| e.to_string())?;
    // dicom-rs now only needs the header.
    let obj = OpenFileOptions::new()
        .read_until(tags::PIXEL_DATA)
        .read_preamble(preamble)
        .from_reader(&readable.bytes[..])
        .map_err(|e| describe_read_error(&e))?;
    facts_of(&obj)
}

/// The header facts of a parsed file, or why it is not filed.
pub(super) fn facts_of(obj: &dicom_object::DefaultDicomObject) -> Result<HeaderFacts, Refusal> {
    if obj
        .meta()
        .media_storage_sop_class_uid()
        .trim_end_matches(['\0', ' '])
        == DICOMDIR_CLASS
    {
        return Err(Refusal::Skipped(DICOMDIR_REASON.into()));
    }
    HeaderFacts::from_file_object(obj).map_err(|e| Refusal::Rejected(e.to_string()))
}

/// Media Storage Directory Storage: the SOP class of a DICOMDIR.
const DICOMDIR_CLASS: &str = "1.2.840.10008.1.3.10";

/// Why a DICOMDIR is passed over.
const DICOMDIR_REASON: &str = "a DICOMDIR (the index of a DICOM medium), not an instance: skipped; the instances it lists are imported from their own files";

/// Where the `DICM` marker is: after a 128-byte preamble, or at the start (no preamble).
pub(super) fn marker(head: &[u8], origin: Origin) -> Result<ReadPreamble, String> {
    if head.is_empty() {
        return Err("empty file (0 bytes)".into());
    }
    if head.get(128..132) == Some(b"DICM".as_slice()) {
        return Ok(ReadPreamble::Always);
    }
    if head.get(0..4) == Some(b"DICM".as_slice()) {
        return Ok(ReadPreamble::Never);
    }
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Err(match origin {
            Origin::ZipEntry => "a zip archive inside the zip archive: nested zip archives are not opened (unpack it and import its contents)".into(),
            Origin::File => "a zip archive, not a DICOM file (name it *.zip to import its contents)".into(),
        });
    }
    if crate::reading::raw_encoding(head).is_some() {
        return Err("not a DICOM file: a raw data set without the file meta information (no 'DICM' marker, no transfer syntax); depot archives only DICOM files with file meta information".into());
    }
    Err("not a DICOM file: no 'DICM' marker after the 128-byte preamble or at the start".into())
}

/// A one-line reason from a dicom-rs read error and its causes.
pub(super) fn describe_read_error(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut truncated = false;
    let mut cur = err.source();
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            truncated |= io.kind() == io::ErrorKind::UnexpectedEof;
        }
        let s = e.to_string();
        if parts.last() != Some(&s) {
            parts.push(s);
        }
        cur = e.source();
    }
    let chain = parts.join(": ");
    let lower = chain.to_ascii_lowercase();
    if truncated || lower.contains("unexpected end") || lower.contains("eof") {
        format!("truncated or corrupt DICOM file: {chain}")
    } else {
        format!("unreadable DICOM file: {chain}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examine_names_what_is_wrong() {
        let good = synth::fixture::instance("P", "1.2", "1.2.3", "1.2.3.4")
            .to_bytes()
            .unwrap();
        assert_eq!(examine(&good).unwrap().sop_uid, "1.2.3.4");
        assert!(examine(&good[128..]).is_ok(), "no preamble is fine");
        assert!(examine(b"").unwrap_err().contains("empty"));
        assert!(examine(b"PK\x03\x04rest").unwrap_err().contains("zip"));
        assert!(examine(b"hello").unwrap_err().contains("no 'DICM' marker"));
        let dicomdir = synth::fixture::InstanceSpec {
            sop_class_uid: DICOMDIR_CLASS.into(),
            ..synth::fixture::instance("P", "1.2", "1.2.3", "1.2.3.5")
        };
        assert!(
            examine(&dicomdir.to_bytes().unwrap())
                .unwrap_err()
                .contains("DICOMDIR")
        );
        assert_eq!(
            inspect(&dicomdir.to_bytes().unwrap(), Origin::File),
            Err(Refusal::Skipped(DICOMDIR_REASON.into()))
        );
        let nested = inspect(b"PK\x03\x04rest", Origin::ZipEntry).unwrap_err();
        assert!(
            matches!(&nested, Refusal::Rejected(r) if r.contains("nested zip archives are not opened")),
            "{nested:?}"
        );
        // A bare data set: (0008,0005) CS "ISO_IR 100", explicit VR little endian.
        let raw = b"\x08\x00\x05\x00CS\x0a\x00ISO_IR 100";
        assert!(examine(raw).unwrap_err().contains("raw data set"));
    }
}
