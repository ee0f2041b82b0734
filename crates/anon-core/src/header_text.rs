//! Reading a header's text values as characters from outside the engine (the export's list of
//! a subject's identifying values, which the PHI audit searches): the engine's own reading
//! (`element_text`), so that a value in a data set with ISO 2022 code extensions
//! (`\ISO 2022 IR 87`, `ISO 2022 IR 6\ISO 2022 IR 149`, ...) is seen as the characters it
//! spells, as the engine's cleaning sees it, not as dicom-rs's reading of its bytes through
//! the first character set only (escape sequences and the bytes of each character as Latin-1).

use dicom_core::Tag;
use dicom_object::InMemDicomObject;

use crate::charset::CodeExtensions;
use crate::element_text::{code_extensions, text_values};

/// How the text values of one data set are read: with its ISO 2022 code extensions, if its
/// Specific Character Set declares any.
#[derive(Debug, Clone, Copy)]
pub struct HeaderText {
    ext: Option<CodeExtensions>,
}

impl HeaderText {
    /// The reading of `data_set`'s text (its items share its Specific Character Set).
    pub fn of(data_set: &InMemDicomObject) -> HeaderText {
        HeaderText {
            ext: code_extensions(data_set),
        }
    }

    /// The values of `tag` in `item` (the data set itself or one of its items) as characters,
    /// trimmed of padding, empty ones left out; a UN value as the text its bytes spell.
    pub fn values(&self, item: &InMemDicomObject, tag: Tag) -> Vec<String> {
        text_values(item, tag, self.ext)
    }
}
