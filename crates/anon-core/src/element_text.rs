//! Reading and writing the values of elements as text: every part of the engine that looks
//! at a value reads it here, so the same value is seen alike whatever its encoding (a standard
//! attribute still encoded as UN, a data set with ISO 2022 code extensions, padding).

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::header::Header;
use dicom_core::value::PrimitiveValue;
use dicom_core::{Tag, VR};
use dicom_dictionary_std::{StandardDataDictionary, tags};
use dicom_object::InMemDicomObject;
use dicom_object::mem::InMemElement;

use crate::charset::CodeExtensions;

/// The data set's ISO 2022 code extensions, if it uses any (see [`crate::charset`]).
pub(crate) fn code_extensions(obj: &InMemDicomObject) -> Option<CodeExtensions> {
    let values = strs_of(obj.get(tags::SPECIFIC_CHARACTER_SET)?, None)?;
    CodeExtensions::from_values(&values)
}

/// The values of a text attribute as characters. With code extensions, dicom-rs has split the
/// bytes on every 0x5C, including one inside a two-byte character (本 is 4B 5C in JIS X 0208),
/// so the values are joined back into the original bytes, decoded as a whole, and split on the
/// backslashes that really are delimiters.
pub(crate) fn text_values(
    obj: &InMemDicomObject,
    tag: Tag,
    ext: Option<CodeExtensions>,
) -> Vec<String> {
    obj.get(tag)
        .map(|e| element_texts(e, ext))
        .unwrap_or_default()
}

/// The values of one text element as characters, trimmed, without empty ones (see
/// [`text_values`]); ISO 2022 escape sequences are never part of them.
pub(crate) fn element_texts(e: &InMemElement, ext: Option<CodeExtensions>) -> Vec<String> {
    let Some(values) = strs_of(e, ext) else {
        return Vec::new();
    };
    let Some(ext) = ext else {
        // A data set that declares an ISO 2022 set as its only Specific Character Set value:
        // dicom-rs decodes its text with that one set and leaves the escape sequences in it.
        return values
            .into_iter()
            .map(|s| {
                let s = if s.contains('\u{1b}') {
                    crate::charset::without_escapes(&s)
                } else {
                    s
                };
                s.trim_matches(|c: char| c == '\0' || c.is_whitespace())
                    .to_string()
            })
            .filter(|s| !s.is_empty())
            .collect();
    };
    let joined = values.join("\\");
    let text = ext.decode(&joined).map_or(joined, |d| d.text);
    text.split('\\')
        .map(|s| {
            s.trim_matches(|c: char| c == '\0' || c.is_whitespace())
                .to_string()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// An element's values as text, as dicom-rs reads them; a UN value as the text its bytes spell
/// (see `unknown`).
fn strs_of(e: &InMemElement, ext: Option<CodeExtensions>) -> Option<Vec<String>> {
    if let Some(text) = crate::unknown::un_text(e, ext) {
        return Some(text.split('\\').map(str::to_string).collect());
    }
    e.to_multi_str().ok().map(|v| v.to_vec())
}

/// The value of an attribute of a top-level data set as text (several values joined by
/// backslashes, as written), trimmed of padding, if it is not empty: decoded with the data
/// set's code extensions if it uses any, a UN value as the text its bytes spell.
pub(crate) fn first_str(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    let e = obj.get(tag)?;
    let ext = code_extensions(obj);
    let s = match crate::unknown::un_text(e, ext) {
        Some(text) => text,
        None => e.to_str().ok()?.into_owned(),
    };
    let s = match ext.and_then(|x| x.decode(&s)) {
        Some(d) => d.text,
        None => s,
    };
    let t = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!t.is_empty()).then(|| t.to_string())
}

/// Whether values of `vr` are text the engine can clean (the string VRs but dates, times,
/// numbers as text and UIDs).
pub(crate) fn is_text_vr(vr: VR) -> bool {
    matches!(
        vr,
        VR::AE
            | VR::AS
            | VR::CS
            | VR::LO
            | VR::LT
            | VR::PN
            | VR::SH
            | VR::ST
            | VR::UC
            | VR::UT
            | VR::UR
    )
}

/// Whether `vr` holds one value in which a backslash is text, not a delimiter.
pub(crate) fn single_valued_text(vr: VR) -> bool {
    matches!(vr, VR::LT | VR::ST | VR::UT | VR::UR)
}

/// Values of a text VR as one primitive value (one string for single-valued VRs and single
/// values).
pub(crate) fn text_value(vr: VR, values: Vec<String>) -> PrimitiveValue {
    if single_valued_text(vr) || values.len() == 1 {
        PrimitiveValue::Str(values.join("\\"))
    } else {
        PrimitiveValue::Strs(values.into())
    }
}

/// The VR to work with: the element's, or for UN the dictionary's (implicit VR files).
pub(crate) fn effective_vr(elem: &InMemElement) -> VR {
    let vr = elem.vr();
    if vr != VR::UN {
        return vr;
    }
    StandardDataDictionary
        .by_tag(elem.tag())
        .and_then(|e| e.vr().exact())
        .unwrap_or(VR::UN)
}
