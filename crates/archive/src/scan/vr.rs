//! What the scan knows of VRs beyond the element headers' bytes: which explicit VRs have a
//! 2-byte length (PS3.5 Table 7.1-2), and the VR an element encoded as UN is read with (its
//! dictionary VR), which both the walk and the re-encoding of `reading` follow.

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;

/// Explicit VRs whose length field is 16 bits (PS3.5 Table 7.1-2). Every other code, unknown
/// ones included (dicom-rs reads those as UN), has a reserved field and a 32-bit length.
pub(crate) fn short_vr(vr: [u8; 2]) -> bool {
    matches!(
        &vr,
        b"AE"
            | b"AS"
            | b"AT"
            | b"CS"
            | b"DA"
            | b"DS"
            | b"DT"
            | b"FL"
            | b"FD"
            | b"IS"
            | b"LO"
            | b"LT"
            | b"PN"
            | b"SH"
            | b"SL"
            | b"SS"
            | b"ST"
            | b"TM"
            | b"UI"
            | b"UL"
            | b"US"
    )
}

/// The VR a standard attribute encoded as UN is read with: its dictionary VR, OW for pixel
/// and overlay data (their VR in Implicit VR Little Endian, PS3.5 A.1). `None` for private
/// elements, attributes the dictionary does not know or lists as UN, and attributes whose VR
/// depends on other attributes (US or SS, US or OW), which stay UN.
pub fn dictionary_vr(tag: Tag) -> Option<VR> {
    if tag.group() % 2 == 1 || tag.group() == 0xFFFE {
        return None;
    }
    match StandardDataDictionary.by_tag(tag)?.vr() {
        VirtualVr::Exact(VR::UN) => None,
        VirtualVr::Exact(vr) => Some(vr),
        VirtualVr::Px | VirtualVr::Ox => Some(VR::OW),
        // US or SS, US or OW, and whatever a later dicom-rs adds.
        _ => None,
    }
}
