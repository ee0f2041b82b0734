//! Values a big endian data set stores as numbers in its own byte order, which a byte search
//! reads differently from what the same value says in a little endian copy of the file.
//!
//! In Explicit VR Big Endian, an OW value is a sequence of 16-bit words written most
//! significant byte first: text someone hid in its words (a name in a LUT's data, in an
//! overlay, in Pixel Data of more than 8 bits allocated) sits in the file with each pair of
//! bytes swapped (`HTSILT…` for `THISTL…`), and reads in clear as soon as the file is
//! converted to little endian (`dcmconv +te`, every viewer that does so in memory). OL and OF
//! hold 32-bit units, OD and OV 64-bit ones, reversed alike. So in a big endian file the audit
//! searches each such value also with its units reversed, and the top-level Pixel Data when it
//! is OW (BitsAllocated above 8; encapsulated pixel data is OB, a byte stream in either
//! order). A match there is judged by the element holding it like any other (OL, OF, OD and OV
//! are numbers: only a whole value counts, see `verdict`).

use archive::scan::Encoding;
use dicom_core::VR;

/// The size of the units a big endian file stores a value of `vr` in, when they are more than
/// one byte and the value is a byte string a name could hide in.
pub(crate) fn unit_of(vr: VR) -> Option<usize> {
    match vr {
        VR::OW => Some(2),
        VR::OL | VR::OF => Some(4),
        VR::OD | VR::OV => Some(8),
        _ => None,
    }
}

/// `bytes` with every whole unit of `unit` bytes reversed, counting units from `phase` (the
/// offset of the first unit's start in `bytes`, when they do not start at its first byte);
/// bytes of an incomplete unit at either end stay as they are.
pub(crate) fn units_reversed(bytes: &[u8], unit: usize, phase: usize) -> Vec<u8> {
    let mut out = bytes.to_vec();
    if unit < 2 {
        return out;
    }
    let start = phase % unit;
    if let Some(rest) = out.get_mut(start..) {
        for u in rest.chunks_exact_mut(unit) {
            u.reverse();
        }
    }
    out
}

/// Whether the top-level Pixel Data element (`element`: its header first) of a data set
/// encoded as `encoding` holds 16-bit words stored most significant byte first: an explicit VR
/// big endian OW.
pub(crate) fn pixel_words_swapped(encoding: Encoding, element: &[u8]) -> bool {
    encoding == Encoding::ExplicitBig && element.get(4..6) == Some(b"OW")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_reversed_whole_from_their_phase() {
        assert_eq!(units_reversed(b"HTSILT", 2, 0), b"THISTL");
        assert_eq!(units_reversed(b"xHTSILTy", 2, 1), b"xTHISTLy");
        assert_eq!(units_reversed(b"SIHTSELTx", 4, 0), b"THISTLESx");
        assert_eq!(units_reversed(b"abc", 8, 0), b"abc");
    }

    #[test]
    fn only_big_endian_ow_pixel_data_holds_swapped_words() {
        let ow = b"\x7f\xe0\x00\x10OW\0\0\0\0\0\x08";
        let ob = b"\x7f\xe0\x00\x10OB\0\0\0\0\0\x08";
        assert!(pixel_words_swapped(Encoding::ExplicitBig, ow));
        assert!(!pixel_words_swapped(Encoding::ExplicitBig, ob));
        assert!(!pixel_words_swapped(Encoding::ExplicitLittle, ow));
        assert_eq!(unit_of(VR::OB), None);
    }
}
