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
//! The structure is first walked by [`scan`](crate::scan) under
//! [`Reading::Standard`](crate::scan::Reading::Standard) (every length checked
//! against the file, nesting bounded); a copy is walked again as dicom-rs reads it, so what
//! reaches dicom-rs has always passed the scan that mirrors dicom-rs. A deflated data set is
//! inflated (within the scan's limits), re-encoded and deflated again.

mod file;
mod meta;
mod raw;
mod readable;
mod reencode;
mod value;

pub use file::{FileError, HeaderSource, header_source, header_source_of};
pub use meta::with_group_length;
pub use raw::{RawDataSet, raw_data_set, raw_encoding};
pub use readable::{Readable, readable};

pub use crate::scan::dictionary_vr;

#[cfg(test)]
mod tests;
