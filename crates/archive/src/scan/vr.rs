//! What the scan knows of VRs beyond the element headers' bytes: which explicit VRs have a
//! 2-byte length (PS3.5 Table 7.1-2).

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
