//! A whole file in memory made ready for dicom-rs: checked by the scan under the standard's
//! reading, its meta group given a group length where it lacks one, its UN elements
//! re-encoded where dicom-rs would misread them, and the copy checked again as dicom-rs reads it.

use std::borrow::Cow;
use std::io::{Read, Write};

use super::meta::with_group_length;
use super::reencode;
use crate::scan::{self, Encoding, Layout, Options, Reading, ScanError};

/// A file ready for dicom-rs: its bytes (the input, or a repaired copy) and their layout as
/// dicom-rs reads them.
#[derive(Debug, Clone)]
pub struct Readable<'a> {
    /// The bytes to parse, starting like the input (preamble and `DICM`, or `DICM`).
    pub bytes: Cow<'a, [u8]>,
    /// Their layout.
    pub layout: Layout,
}

impl Readable<'_> {
    /// Whether the bytes are a repaired copy rather than the input.
    pub fn is_copy(&self) -> bool {
        matches!(self.bytes, Cow::Owned(_))
    }
}

/// The bytes of a whole DICOM file in memory (with its 128-byte preamble when `preamble`, else
/// starting with `DICM`), checked and, where needed, repaired for dicom-rs. The error is the
/// scan's: truncated, hostile or malformed.
pub fn readable(bytes: &[u8], preamble: bool) -> Result<Readable<'_>, ScanError> {
    let start = if preamble { 132 } else { 4 };
    let bytes: Cow<'_, [u8]> = match with_group_length(bytes, start)? {
        Some(fixed) => Cow::Owned(fixed),
        None => Cow::Borrowed(bytes),
    };
    let standard = Options {
        reading: Reading::Standard,
        header_only: false,
    };
    let layout = scan::check_with(&bytes, preamble, standard)?;
    if !layout.unknown_vr {
        // Without UN sequences the standard's walk is dicom-rs's.
        return Ok(Readable { bytes, layout });
    }
    let copy = reencoded(&bytes, &layout)?;
    let layout = scan::check(&copy, preamble)?;
    Ok(Readable {
        bytes: Cow::Owned(copy),
        layout,
    })
}

/// The file with its data set re-encoded ([`reencode`]).
fn reencoded(bytes: &[u8], layout: &Layout) -> Result<Vec<u8>, ScanError> {
    let start = usize::try_from(layout.data_set_start).unwrap_or(usize::MAX);
    let (head, data) = (
        bytes.get(..start).unwrap_or_default(),
        bytes.get(start..).unwrap_or_default(),
    );
    let pixel = layout
        .pixel_data
        .as_ref()
        .and_then(|r| usize::try_from(r.start).ok());
    let mut out = head.to_vec();
    match layout.encoding {
        Encoding::ExplicitLittle => out.extend(reencode::data_set(data, false, pixel)?),
        Encoding::ExplicitBig => out.extend(reencode::data_set(data, true, pixel)?),
        Encoding::Deflated => {
            let limit = scan::deflate_limit(bytes.len() as u64);
            let mut inflated = Vec::new();
            flate2::read::DeflateDecoder::new(data)
                .take(limit.saturating_add(1))
                .read_to_end(&mut inflated)
                .map_err(|e| ScanError::Deflate(e.to_string()))?;
            if inflated.len() as u64 > limit {
                return Err(ScanError::DeflateBomb { limit });
            }
            let data = reencode::data_set(&inflated, false, pixel)?;
            let mut enc = flate2::write::DeflateEncoder::new(&mut out, flate2::Compression::fast());
            enc.write_all(&data)
                .and_then(|()| enc.finish().map(|_| ()))
                .map_err(|e| ScanError::Deflate(e.to_string()))?;
        }
        // Implicit VR has no explicit UN; nothing to re-encode.
        Encoding::ImplicitLittle => out.extend_from_slice(data),
    }
    Ok(out)
}
