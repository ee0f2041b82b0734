//! The bytes depot hands to dicom-rs: a file as it is, or, where dicom-rs 0.10 would refuse or
//! misread what the standard allows (and DCMTK reads), an in-memory copy that says the same
//! thing in a form dicom-rs reads correctly. Inputs are never modified: import stores the
//! original bytes, and the copy only lives while a header is read or a file de-identified.
//!
//! Two things are repaired:
//!
//! * **A file meta group without its group length (0002,0000).** PS3.10 7.1 requires it, but
//!   files without it exist and DCMTK reads them; dicom-rs refuses them. The copy gets a group
//!   length counting the (0002,xxxx) elements that open the file.
//! * **Elements encoded as UN in an explicit VR data set** (PS3.5 6.2.2): a standard attribute
//!   the dictionary knows is re-encoded with its dictionary VR when its bytes are a valid value
//!   of it, and a UN element of undefined length, a sequence whose items are Implicit VR Little
//!   Endian, becomes an SQ in the data set's encoding (`reencode`). dicom-rs would keep the
//!   first as opaque bytes (a UID read as numbers) and read the second's items in the wrong
//!   encoding. Binary values of UN elements are little endian whatever the transfer syntax
//!   (PS3.5 6.2.2: the value field "shall not be byte-swapped" while the VR is unknown, and a
//!   reader that learns the VR "can assume" Implicit VR Little Endian encoding), so in an
//!   explicit VR big endian file they are swapped as they get their VR. Private elements stay
//!   UN (except private creators inside a UN sequence, which are LO by definition).
//!
//! The structure is first walked by [`scan`] under [`Reading::Standard`] (every length checked
//! against the file, nesting bounded); a copy is walked again as dicom-rs reads it, so what
//! reaches dicom-rs has always passed the scan that mirrors dicom-rs. A deflated data set is
//! inflated (within the scan's limits), re-encoded and deflated again.

mod file;
mod meta;
mod raw;
mod reencode;
mod value;

use std::borrow::Cow;
use std::io::{Read, Write};

use crate::scan::{self, Encoding, Layout, Options, Reading, ScanError};

pub use file::{FileError, HeaderSource, header_source};
pub use meta::with_group_length;
pub use raw::{RawDataSet, raw_data_set, raw_encoding};

pub use crate::scan::dictionary_vr;

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

#[cfg(test)]
mod tests;
