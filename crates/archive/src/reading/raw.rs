//! Bare data sets: DICOM data written without the 128-byte preamble, the `DICM` marker and the
//! file meta group (PS3.10 files before there was a PS3.10, and what some tools still write).
//! DCMTK reads them by looking at the first element, and so does this module: its tag in
//! either byte order, and whether a VR code follows it. Only uncompressed encodings can be
//! told apart this way; a data set whose Pixel Data is encapsulated is refused (nothing says
//! which compression it uses).

use std::borrow::Cow;

use dicom_core::VR;

use super::reencode;
use crate::scan::{self, Encoding, Options, Reading, ScanError};

/// A bare data set, checked and ready for dicom-rs.
#[derive(Debug, Clone)]
pub struct RawDataSet<'a> {
    /// The data set's bytes: the input, or a copy with its UN elements re-encoded (see
    /// [`super`]).
    pub bytes: Cow<'a, [u8]>,
    /// The uncompressed transfer syntax it is encoded in.
    pub transfer_syntax: &'static str,
}

/// The encoding a bare data set appears to be in, judged by its first element: a tag of an
/// even group from 0004 to 00FF (where data sets start) in little or big endian, followed by
/// a VR code or not. `None` when the bytes do not look like a data set.
pub fn raw_encoding(bytes: &[u8]) -> Option<Encoding> {
    let head = bytes.get(..8)?;
    let group_le = u16::from_le_bytes([head[0], head[1]]);
    let group_be = u16::from_be_bytes([head[0], head[1]]);
    let starts = |g: u16| g.is_multiple_of(2) && (0x0004..=0x00FF).contains(&g);
    let explicit = VR::from_binary([head[4], head[5]]).is_some();
    match (explicit, starts(group_le), starts(group_be)) {
        (true, true, false) => Some(Encoding::ExplicitLittle),
        (true, false, true) => Some(Encoding::ExplicitBig),
        (false, true, _) => Some(Encoding::ImplicitLittle),
        _ => None,
    }
}

/// Checks a bare data set in `encoding` (from [`raw_encoding`]) as [`super::readable`] checks
/// a file, and re-encodes its UN elements if it has any.
pub fn raw_data_set(bytes: &[u8], encoding: Encoding) -> Result<RawDataSet<'_>, ScanError> {
    let standard = Options {
        reading: Reading::Standard,
        header_only: false,
    };
    let layout = scan::check_data_set(bytes, encoding, standard)?;
    if let Some(pixel) = &layout.pixel_data
        && encapsulated(bytes, pixel.start, encoding)
    {
        return Err(ScanError::Malformed(
            "a bare data set (no file meta group) with encapsulated Pixel Data: nothing says which compression it uses".into(),
        ));
    }
    let transfer_syntax = match encoding {
        Encoding::ExplicitLittle => "1.2.840.10008.1.2.1",
        Encoding::ExplicitBig => "1.2.840.10008.1.2.2",
        _ => "1.2.840.10008.1.2",
    };
    if !layout.unknown_vr {
        return Ok(RawDataSet {
            bytes: Cow::Borrowed(bytes),
            transfer_syntax,
        });
    }
    let pixel = layout
        .pixel_data
        .as_ref()
        .and_then(|r| usize::try_from(r.start).ok());
    let copy = reencode::data_set(bytes, encoding == Encoding::ExplicitBig, pixel)?;
    scan::check_data_set(&copy, encoding, Options::default())?;
    Ok(RawDataSet {
        bytes: Cow::Owned(copy),
        transfer_syntax,
    })
}

/// Whether the Pixel Data element at `at` has an undefined length (is encapsulated).
fn encapsulated(bytes: &[u8], at: u64, encoding: Encoding) -> bool {
    let Some(at) = usize::try_from(at).ok() else {
        return false;
    };
    let len_at = match encoding {
        Encoding::ImplicitLittle => at + 4,
        _ if bytes
            .get(at + 4..at + 6)
            .is_some_and(|vr| crate::scan::short_vr([vr[0], vr[1]])) =>
        {
            return false;
        }
        _ => at + 8,
    };
    bytes.get(len_at..len_at + 4) == Some(&[0xFF; 4][..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_element_tells_the_encoding() {
        // (0008,0005) CS in each encoding.
        let le = [0x08, 0x00, 0x05, 0x00, b'C', b'S', 0x0A, 0x00];
        let be = [0x00, 0x08, 0x00, 0x05, b'C', b'S', 0x00, 0x0A];
        let implicit = [0x08, 0x00, 0x05, 0x00, 0x0A, 0x00, 0x00, 0x00];
        assert_eq!(raw_encoding(&le), Some(Encoding::ExplicitLittle));
        assert_eq!(raw_encoding(&be), Some(Encoding::ExplicitBig));
        assert_eq!(raw_encoding(&implicit), Some(Encoding::ImplicitLittle));
        // Text, a zip, a gzip file: no data set.
        assert_eq!(raw_encoding(b"{\n  \"a\": 1}"), None);
        assert_eq!(raw_encoding(b"PK\x03\x04\x14\x00\x00\x00"), None);
        assert_eq!(raw_encoding(&[0x1F, 0x8B, 8, 0, 0, 0, 0, 0]), None);
    }

    #[test]
    fn encapsulated_pixel_data_in_a_bare_data_set_is_refused() {
        let mut body = vec![
            0x08, 0x00, 0x18, 0x00, b'U', b'I', 4, 0, b'1', b'.', b'2', 0,
        ];
        body.extend_from_slice(&[
            0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ]);
        body.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0]);
        body.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        let err = raw_data_set(&body, Encoding::ExplicitLittle).unwrap_err();
        assert!(err.to_string().contains("compression"), "{err}");
    }
}
