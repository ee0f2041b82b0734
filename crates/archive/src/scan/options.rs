//! What a walk is asked (whose reading to follow, whether to stop at Pixel Data) and what it
//! learns of a file's byte layout.

use std::ops::Range;

use super::encoding::Encoding;
use crate::memory::ParseCost;

/// Whose reading of the data set the walk follows. The two differ only on elements of VR UN
/// and undefined length in explicit VR data sets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Reading {
    /// dicom-rs 0.10's: such an element is a sequence whose items are encoded like the rest of
    /// the data set. For bytes that are handed to dicom-rs as they are.
    #[default]
    DicomRs,
    /// The standard's (PS3.5 6.2.2, as DCMTK reads it): such an element is a sequence whose
    /// items, delimiters included, are encoded in Implicit VR Little Endian, whatever the
    /// data set's encoding, at any depth. Bytes walked this way must only reach dicom-rs
    /// through [`crate::reading::readable`], which re-encodes those sequences.
    Standard,
}

/// How to walk a file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Whose reading to follow.
    pub reading: Reading,
    /// Stop at the top-level Pixel Data (its header is checked, its value is not): for
    /// callers that only parse the header. [`Layout::pixel_data`] is then the empty range at
    /// its start.
    pub header_only: bool,
}

/// What the scan learnt of a file's byte layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Offset in the file where the data set starts (just after the file meta group).
    pub data_set_start: u64,
    /// The transfer syntax UID of the file meta group, trimmed.
    pub transfer_syntax: String,
    /// How the data set is encoded.
    pub encoding: Encoding,
    /// The top-level Pixel Data element, header included, as offsets from the start of the
    /// data set: in the file, or in the inflated stream when the data set is deflated.
    pub pixel_data: Option<Range<u64>>,
    /// True when nothing but Data Set Trailing Padding follows the top-level Pixel Data.
    pub pixel_data_is_last: bool,
    /// The data set holds, at some depth, an explicit VR element of VR UN that depot reads
    /// with its real VR: a standard attribute the dictionary knows, or a sequence of
    /// undefined length. dicom-rs would keep the first as bytes and misread the second; parse
    /// [`crate::reading::readable`]'s copy instead of these bytes.
    pub unknown_vr: bool,
    /// What a parse of the header (everything before the top-level Pixel Data) builds in
    /// memory ([`crate::memory`]). A header-only walk counts only this.
    pub header_cost: ParseCost,
    /// What a parse of the whole data set builds in memory.
    pub cost: ParseCost,
}

impl Layout {
    /// The byte range of the top-level Pixel Data element in the file itself (header
    /// included), when the data set is not deflated.
    pub fn pixel_data_in_file(&self) -> Option<Range<usize>> {
        if self.encoding == Encoding::Deflated {
            return None;
        }
        let r = self.pixel_data.as_ref()?;
        let start = usize::try_from(self.data_set_start.checked_add(r.start)?).ok()?;
        let end = usize::try_from(self.data_set_start.checked_add(r.end)?).ok()?;
        Some(start..end)
    }
}
