//! Which value representations hold character strings, and which of those split into values
//! on backslashes (PS3.5 6.2 and 6.4): one answer for the engine, the audit and anyone else who
//! reads values as text.

use dicom_core::VR;

/// Whether values of `vr` are character strings (the VRs dicom-rs decodes to strings).
pub fn is_character_string(vr: VR) -> bool {
    splits_on_backslash(vr) || matches!(vr, VR::LT | VR::ST | VR::UR | VR::UT)
}

/// Whether values of `vr` are character strings whose backslashes separate values (every
/// string VR but LT, ST, UR and UT, in which a backslash is text).
pub fn splits_on_backslash(vr: VR) -> bool {
    matches!(
        vr,
        VR::AE
            | VR::AS
            | VR::CS
            | VR::DA
            | VR::DS
            | VR::DT
            | VR::IS
            | VR::LO
            | VR::PN
            | VR::SH
            | VR::TM
            | VR::UC
            | VR::UI
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backslashes_split_every_string_vr_but_the_four_single_valued_ones() {
        for vr in [VR::LT, VR::ST, VR::UR, VR::UT] {
            assert!(
                is_character_string(vr) && !splits_on_backslash(vr),
                "{vr:?}"
            );
        }
        for vr in [VR::PN, VR::LO, VR::UI, VR::DS, VR::UC] {
            assert!(is_character_string(vr) && splits_on_backslash(vr), "{vr:?}");
        }
        for vr in [VR::OB, VR::OW, VR::UN, VR::SQ, VR::US, VR::FD, VR::AT] {
            assert!(
                !is_character_string(vr) && !splits_on_backslash(vr),
                "{vr:?}"
            );
        }
    }
}
