//! A structural pre-check of a DICOM file's declared lengths, run before dicom-rs parses it,
//! and the one place that knows a file's byte layout (where the data set starts, how it is
//! encoded, where the top-level Pixel Data lies).
//!
//! dicom-rs 0.10 reserves and zero-fills an element's declared length before it reads the
//! value, so a small hostile file declaring a 4 GB element costs 4 GB of memory (and several of
//! them in parallel end the process). This scanner walks the element headers, item by item and
//! into sequences, without reading values, and refuses any length that exceeds what is left of
//! the file (which also catches most truncated files, with a precise reason), sequences nested
//! absurdly deep (which would exhaust a recursive parser's stack), and deflated data sets that
//! inflate far beyond their file (decompression bombs).
//!
//! The protection only holds if the scanner sees the same structure dicom-rs will parse: a
//! scanner that skipped a sequence as opaque bytes, or read a header one field wider than the
//! parser does, would leave lengths unchecked. So the walk mirrors dicom-rs's decisions
//! exactly: the file meta group is bounded by its group length, which must come first (as
//! dicom-rs requires); in explicit VR only the VRs of PS3.5 Table 7.1-2 have a 2-byte length,
//! every other code (unknown ones included, which dicom-rs reads as UN) a 4-byte one; in
//! implicit VR a defined-length element is a sequence when the dictionary says SQ; any
//! undefined-length element other than Pixel Data is a sequence of data sets; an element that
//! runs past the end of its item or sequence is an error. Whatever the walk cannot place is
//! refused, never left to the parser.
//!
//! One thing dicom-rs 0.10 reads against the standard: an element of VR UN and undefined
//! length in an explicit VR data set. PS3.5 6.2.2 says its value is a sequence whose items
//! stay encoded in Implicit VR Little Endian (the element was a sequence in an implicit VR
//! file, and whoever converted it did not know its VR); dicom-rs reads the items in the data
//! set's own explicit encoding, which turns their headers into garbage lengths. The walk can
//! follow either reading ([`Reading`]): dicom-rs's, for callers that hand the bytes to
//! dicom-rs as they are, or the standard's, for callers that parse the copy
//! [`crate::reading`] makes, in which such sequences are re-encoded as SQ.

mod cost;
mod encoding;
mod error;
mod header;
mod limits;
mod options;
mod source;
mod vr;
mod walk;

use std::io::Read;

pub use encoding::Encoding;
pub use error::ScanError;
pub use limits::{
    DEFLATE_ALLOWANCE, DEFLATE_HEADER_ALLOWANCE, DEFLATE_HEADER_RATIO, DEFLATE_RATIO, MAX_DEPTH,
    deflate_header_limit, deflate_limit,
};
pub use options::{Layout, Options, Reading};
pub use vr::dictionary_vr;
pub(crate) use vr::short_vr;

use encoding::resolve;
use header::scan_meta;
use source::{Slice, Source, Stream};
use walk::{Walk, check_header_size};

/// Checks the declared lengths of a whole DICOM file held in memory (starting with the
/// 128-byte preamble when `preamble` is true, else with `DICM`) as dicom-rs reads it, and
/// returns its layout.
pub fn check(bytes: &[u8], preamble: bool) -> Result<Layout, ScanError> {
    check_with(bytes, preamble, Options::default())
}

/// [`check`] with other [`Options`].
pub fn check_with(bytes: &[u8], preamble: bool, options: Options) -> Result<Layout, ScanError> {
    let start: usize = if preamble { 132 } else { 4 };
    let Some(body) = bytes.get(start..) else {
        return Err(ScanError::Truncated {
            group: 0x0002,
            element: 0,
        });
    };
    let mut src = Slice::new(body);
    let transfer_syntax = scan_meta(&mut src)?;
    let data_set_start = start as u64 + src.position();
    let encoding = resolve(&transfer_syntax)?;
    let mut walk = Walk::new(encoding, options);
    if encoding == Encoding::Deflated {
        let mut inflated = Stream {
            r: flate2::read::DeflateDecoder::new(src.data),
            read: 0,
            left: None,
            limit: deflate_limit(bytes.len() as u64),
        };
        walk.data_set(&mut inflated)?;
        check_header_size(&walk, inflated.position(), bytes.len() as u64)?;
    } else {
        let mut rest = Slice::new(src.data);
        walk.data_set(&mut rest)?;
    }
    Ok(walk.layout(data_set_start, &transfer_syntax))
}

/// Checks a file streamed from a reader of known total size (for files too big to hold), as
/// dicom-rs reads it.
pub fn check_reader(r: impl Read, size: u64, preamble: bool) -> Result<Layout, ScanError> {
    check_reader_with(r, size, preamble, Options::default())
}

/// [`check_reader`] with other [`Options`].
pub fn check_reader_with(
    mut r: impl Read,
    size: u64,
    preamble: bool,
    options: Options,
) -> Result<Layout, ScanError> {
    let start: u64 = if preamble { 132 } else { 4 };
    let mut head = [0u8; 132];
    let head = head.get_mut(..start as usize).unwrap_or_default();
    if r.read_exact(head).is_err() {
        return Err(ScanError::Truncated {
            group: 0x0002,
            element: 0,
        });
    }
    let mut src = Stream {
        r,
        read: 0,
        left: Some(size.saturating_sub(start)),
        limit: u64::MAX,
    };
    let transfer_syntax = scan_meta(&mut src)?;
    let data_set_start = start + src.position();
    let encoding = resolve(&transfer_syntax)?;
    let mut walk = Walk::new(encoding, options);
    if encoding == Encoding::Deflated {
        let mut inflated = Stream {
            r: flate2::read::DeflateDecoder::new(src.r),
            read: 0,
            left: None,
            limit: deflate_limit(size),
        };
        walk.data_set(&mut inflated)?;
        check_header_size(&walk, inflated.position(), size)?;
    } else {
        let mut rest = Stream {
            r: src.r,
            read: 0,
            left: src.left,
            limit: u64::MAX,
        };
        walk.data_set(&mut rest)?;
    }
    Ok(walk.layout(data_set_start, &transfer_syntax))
}

/// Checks a bare data set held in memory (no preamble, no `DICM`, no file meta group) read
/// in `encoding`, which must not be [`Encoding::Deflated`]; the layout's offsets are from the
/// start of `bytes` and its transfer syntax is the uncompressed one of that encoding.
pub fn check_data_set(
    bytes: &[u8],
    encoding: Encoding,
    options: Options,
) -> Result<Layout, ScanError> {
    let transfer_syntax = match encoding {
        Encoding::ImplicitLittle => "1.2.840.10008.1.2",
        Encoding::ExplicitLittle => "1.2.840.10008.1.2.1",
        Encoding::ExplicitBig => "1.2.840.10008.1.2.2",
        Encoding::Deflated => {
            return Err(ScanError::Malformed(
                "a bare data set cannot be deflated".into(),
            ));
        }
    };
    let mut walk = Walk::new(encoding, options);
    walk.data_set(&mut Slice::new(bytes))?;
    Ok(walk.layout(0, transfer_syntax))
}

#[cfg(test)]
mod tests;
