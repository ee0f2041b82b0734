//! The attributes of the Code Sequence Macro (PS3.3 Table 8.8-1a and 8.8-1b) that hold codes:
//! to the audit they are codes, judged like code strings (a match counts only when it is a
//! whole value, see [`crate::verdict`]), whatever their VR.
//!
//! A coded entry names a concept by a code value, the designator of the coding scheme that
//! defines it, the scheme's version and the context group it was taken from: `(121322, DCM,
//! "Source image for image processing operation")`, `(T-D1100, SRT, "Head")`. The code value
//! and the designator are SH (the designator is a short word: `DCM`, `SRT`, `LN`, `TEST`) and
//! carry no more text than a CS does, so a patient's name part `Test` equal to a designator
//! `TEST`, or a StudyID `1100` inside a code value, is the same coincidence as a name part
//! `Perfusion` equal to the ImageType term `PERFUSION`. The code meaning is free text, which
//! people type, and keeps the full search; so do the mapping resource's name (a name, LO) and
//! the URN code value (a URN or URL, which can embed any text); the UIDs of the macro are
//! judged as UIDs.
//!
//! A value is trusted to be a code only while it looks like one: printable ASCII, no `^` or
//! `=` (the separators of a person name: `SMITH^JOHN` in a CodeValue is a name, not a code).
//! Anything else gets the full search.

use dicom_core::Tag;
use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
use dicom_dictionary_std::StandardDataDictionary;

use crate::element::Element;

/// The attributes of the Code Sequence Macro that hold codes, with their keywords.
pub(crate) const CODE_ATTRIBUTES: [(Tag, &str); 9] = [
    // Basic Code Sequence Macro (Table 8.8-1a).
    (Tag(0x0008, 0x0100), "CodeValue"),
    (Tag(0x0008, 0x0102), "CodingSchemeDesignator"),
    (Tag(0x0008, 0x0103), "CodingSchemeVersion"),
    (Tag(0x0008, 0x0119), "LongCodeValue"),
    // Enhanced Code Sequence Macro (Table 8.8-1b).
    (Tag(0x0008, 0x010F), "ContextIdentifier"),
    (Tag(0x0008, 0x0105), "MappingResource"),
    (Tag(0x0008, 0x0106), "ContextGroupVersion"),
    (Tag(0x0008, 0x0107), "ContextGroupLocalVersion"),
    (Tag(0x0008, 0x010B), "ContextGroupExtensionFlag"),
];

/// Whether the element is a code of the Code Sequence Macro whose value looks like a code: a
/// standard attribute of [`CODE_ATTRIBUTES`] with its dictionary VR, every value printable
/// ASCII without `^` or `=`.
pub(crate) fn is_code(el: &Element<'_>) -> bool {
    if !CODE_ATTRIBUTES.iter().any(|(t, _)| *t == el.tag) {
        return false;
    }
    let declared = StandardDataDictionary
        .by_tag(el.tag)
        .is_some_and(|e| matches!(e.vr(), VirtualVr::Exact(vr) if vr == el.vr));
    declared
        && el
            .value
            .iter()
            .all(|b| matches!(b, b' '..=b'~' | 0) && !matches!(b, b'^' | b'='))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::VR;

    /// The dictionary's VR of a tag.
    fn code_vr(tag: Tag) -> Option<VR> {
        match StandardDataDictionary.by_tag(tag)?.vr() {
            VirtualVr::Exact(vr) => Some(vr),
            _ => None,
        }
    }

    fn el(tag: Tag, vr: VR, value: &[u8]) -> Element<'_> {
        Element {
            tag,
            path: "(0040,A043)[0]/(0008,0102)",
            vr,
            value,
        }
    }

    #[test]
    fn the_list_matches_the_data_dictionary() {
        for (tag, keyword) in CODE_ATTRIBUTES {
            let entry = StandardDataDictionary.by_tag(tag).expect("known attribute");
            assert_eq!(entry.alias(), keyword);
            assert!(
                matches!(code_vr(tag), Some(VR::SH | VR::UC | VR::CS | VR::DT)),
                "{keyword}"
            );
        }
        // Free text and locators are not codes.
        for free in [(0x0008, 0x0104), (0x0008, 0x0122), (0x0008, 0x0120)] {
            assert!(
                !CODE_ATTRIBUTES
                    .iter()
                    .any(|(t, _)| *t == Tag(free.0, free.1))
            );
        }
    }

    #[test]
    fn codes_look_like_codes() {
        let designator = Tag(0x0008, 0x0102);
        let value = Tag(0x0008, 0x0100);
        assert!(is_code(&el(designator, VR::SH, b"TEST")));
        assert!(is_code(&el(value, VR::SH, b"T-D1100 ")));
        assert!(is_code(&el(value, VR::SH, b"{H.B.}/min")));
        assert!(is_code(&el(Tag(0x0008, 0x0106), VR::DT, b"20040225")));
        // A name is not a code; nor is a value in another VR than the dictionary's, nor
        // CodeMeaning.
        assert!(!is_code(&el(value, VR::SH, b"SMITH^JOHN")));
        assert!(!is_code(&el(value, VR::SH, "MÜLLER".as_bytes())));
        assert!(!is_code(&el(value, VR::LT, b"TEST")));
        assert!(!is_code(&el(value, VR::UN, b"TEST")));
        assert!(!is_code(&el(Tag(0x0008, 0x0104), VR::LO, b"TEST")));
    }
}
