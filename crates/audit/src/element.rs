//! One element of a header as the token walk reads it: what the verdict rules and the test of
//! coded entries look at.

use dicom_core::{Tag, VR};

/// One element of a header, as the token walk reads it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Element<'a> {
    /// The attribute (the last step of `path`).
    pub tag: Tag,
    /// Its tag path, e.g. `(0040,A730)[0]/(0040,A160)`.
    pub path: &'a str,
    /// The VR the file declares (or, in implicit VR, the dictionary's; UN for private data).
    pub vr: VR,
    /// The raw value bytes.
    pub value: &'a [u8],
}
