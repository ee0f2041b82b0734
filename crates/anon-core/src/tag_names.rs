//! How users name attributes (in custom profiles and accepted coincidences) and how depot
//! shows them: `GGGG,EEEE`, `(GGGG,EEEE)`, `GGGGEEEE` or a DICOM keyword.

use dicom_core::Tag;
use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_dictionary_std::StandardDataDictionary;

/// Reads `GGGG,EEEE`, `(GGGG,EEEE)`, `GGGGEEEE` or a DICOM keyword.
pub(crate) fn parse_tag_key(key: &str) -> Option<Tag> {
    let k = key.trim().trim_start_matches('(').trim_end_matches(')');
    let hex: String = k.chars().filter(|c| *c != ',').collect();
    if hex.len() == 8 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        let g = u16::from_str_radix(hex.get(..4)?, 16).ok()?;
        let e = u16::from_str_radix(hex.get(4..)?, 16).ok()?;
        return Some(Tag(g, e));
    }
    StandardDataDictionary.by_name(k).map(|entry| entry.tag())
}

/// The DICOM keyword of a tag, if the dictionary knows it.
pub(crate) fn keyword_of(tag: Tag) -> String {
    StandardDataDictionary
        .by_tag(tag)
        .map(|e| e.alias().to_string())
        .unwrap_or_default()
}
