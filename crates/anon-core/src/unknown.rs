//! Standard attributes that reach the engine encoded as UN.
//!
//! depot's readers give a UN-encoded standard attribute its dictionary VR whenever its bytes
//! are a valid value of that VR (PS3.5 6.2.2), so what still arrives as UN is either a value
//! that breaks its VR's rules or an object from a caller that did not re-encode. Either way its
//! tag's rule applies exactly as to the attribute in its own VR: a PatientName encoded as UN is
//! removed, replaced or cleaned as a PN, a UID remapped, a date shifted; it is never left in
//! clear because its VR is UN. dicom-rs holds UN values as bytes (and shows them as numbers
//! joined by backslashes), so the engine reads them here as the text they spell: the bytes as
//! UTF-8 (invalid sequences replaced; the value is already invalid for its VR, and a value
//! the rule rewrites is written anew), trailing padding removed, split on backslashes except
//! in the single-valued text VRs. A rule that keeps the value keeps the original UN element.

use std::borrow::Cow;

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::header::Header;
use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::StandardDataDictionary;
use dicom_object::mem::InMemElement;

use crate::charset::CodeExtensions;
use crate::vr_class::is_character_string;

/// The dictionary's text VR of a standard attribute that arrived as UN.
fn text_vr(elem: &InMemElement) -> Option<VR> {
    let tag = elem.tag();
    if elem.vr() != VR::UN || tag.group() % 2 == 1 {
        return None;
    }
    let vr = StandardDataDictionary.by_tag(tag)?.vr().exact()?;
    is_character_string(vr).then_some(vr)
}

/// The text a UN value's bytes spell, padding removed; `None` for anything but a primitive UN
/// value. In a data set with ISO 2022 code extensions (`ext`), the bytes are read as dicom-rs
/// reads the data set's other text (one character per byte, or Shift JIS), so that the value
/// is decoded, cut and written back like any other (see [`crate::charset`]).
pub(crate) fn un_text(elem: &InMemElement, ext: Option<CodeExtensions>) -> Option<String> {
    if elem.vr() != VR::UN {
        return None;
    }
    let Value::Primitive(p) = elem.value() else {
        return None;
    };
    let bytes: Cow<'_, [u8]> = p.to_bytes();
    let text = match ext {
        Some(ext) => Cow::Owned(ext.as_read(&bytes)),
        None => String::from_utf8_lossy(&bytes),
    };
    Some(text.trim_end_matches(['\0', ' ']).to_string())
}

/// A UN-encoded standard attribute of a text VR as the engine reads it: its dictionary VR,
/// and the values its bytes spell. `None` for anything else (private elements, attributes the
/// dictionary does not know, binary VRs, elements not encoded as UN).
pub(crate) fn as_dictionary_text(
    elem: &InMemElement,
    ext: Option<CodeExtensions>,
) -> Option<InMemElement> {
    let vr = text_vr(elem)?;
    let text = un_text(elem, ext)?;
    let value = if matches!(vr, VR::LT | VR::ST | VR::UT | VR::UR) || !text.contains('\\') {
        PrimitiveValue::Str(text)
    } else {
        PrimitiveValue::Strs(text.split('\\').map(str::to_string).collect())
    };
    Some(DataElement::new(elem.tag(), vr, value))
}

/// The element to write after a rule ran on `read` (the reading of `original`, a UN element):
/// the original UN bytes when the rule kept the value, whatever the rule wrote otherwise.
pub(crate) fn restore(
    result: Option<InMemElement>,
    read: &InMemElement,
    original: InMemElement,
) -> Option<InMemElement> {
    match result {
        Some(e) if e.vr() == read.vr() && e.value() == read.value() => Some(original),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::Tag;

    fn un(tag: Tag, bytes: &[u8]) -> InMemElement {
        DataElement::new(tag, VR::UN, PrimitiveValue::U8(bytes.to_vec().into()))
    }

    #[test]
    fn un_text_attributes_are_read_with_their_dictionary_vr() {
        let uid = as_dictionary_text(&un(Tag(0x0020, 0x000D), b"1.2.3\0"), None).unwrap();
        assert_eq!(uid.vr(), VR::UI);
        assert_eq!(uid.to_str().unwrap(), "1.2.3");
        let types =
            as_dictionary_text(&un(Tag(0x0008, 0x0008), b"ORIGINAL\\PRIMARY "), None).unwrap();
        assert_eq!(types.vr(), VR::CS);
        assert_eq!(types.to_multi_str().unwrap().len(), 2);
        // Private elements and binary attributes are not text.
        assert!(as_dictionary_text(&un(Tag(0x0009, 0x1001), b"AB"), None).is_none());
        assert!(as_dictionary_text(&un(Tag(0x0028, 0x0010), &[0, 2]), None).is_none());
    }
}
