//! The walk over a data set's element headers, item by item and into sequences, mirroring
//! dicom-rs's decisions (see the `scan` module), remembering where the top-level Pixel Data
//! is, and refusing what the parser would misread.

use std::ops::Range;

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;

use super::cost::{self, Costs};
use super::encoding::Encoding;
use super::error::ScanError;
use super::header::{Header, ITEM, ITEM_END, PADDING, PIXEL_DATA, SEQ_END, UNDEFINED, read_header};
use super::limits::{MAX_DEPTH, deflate_header_limit};
use super::options::{Layout, Options, Reading};
use super::source::{Source, check_len, skip};
use super::vr::dictionary_vr;
use crate::memory::ParseCost;

/// A walk over a data set's element headers, remembering where the top-level Pixel Data is.
pub(super) struct Walk {
    /// The encoding of the headers being read: the data set's, or Implicit VR Little Endian
    /// inside a UN sequence (under [`Reading::Standard`]).
    enc: Encoding,
    options: Options,
    /// How many UN sequences of undefined length the walk is inside.
    in_un: usize,
    pub(super) pixel_data: Option<Range<u64>>,
    after_pixel_data: bool,
    unknown_vr: bool,
    /// What parsing builds.
    costs: Costs,
}

/// What ended a run of elements.
enum End {
    /// End of data, or the end of a defined-length item.
    Data,
    /// An item delimitation item.
    Item,
}

impl Walk {
    pub(super) fn new(enc: Encoding, options: Options) -> Walk {
        Walk {
            enc,
            options,
            in_un: 0,
            pixel_data: None,
            after_pixel_data: false,
            unknown_vr: false,
            costs: Costs::default(),
        }
    }

    /// Counts what the parser builds for something found now (in the header too while the
    /// top-level Pixel Data has not been passed).
    fn count(&mut self, add: impl Fn(&mut ParseCost)) {
        self.costs.count(self.pixel_data.is_none(), add);
    }

    pub(super) fn layout(self, data_set_start: u64, transfer_syntax: &str) -> Layout {
        Layout {
            data_set_start,
            transfer_syntax: transfer_syntax
                .trim_end_matches(|c: char| c.is_whitespace() || c == '\0')
                .to_string(),
            encoding: self.enc,
            pixel_data_is_last: self.pixel_data.is_some() && !self.after_pixel_data,
            pixel_data: self.pixel_data,
            unknown_vr: self.unknown_vr,
            header_cost: self.costs.header,
            cost: self.costs.all,
        }
    }

    /// The top-level data set, to the end of the data.
    pub(super) fn data_set(&mut self, src: &mut impl Source) -> Result<(), ScanError> {
        loop {
            match self.elements(src, 0, None)? {
                End::Data => return Ok(()),
                // dicom-rs ignores an item delimiter outside any sequence.
                End::Item => continue,
            }
        }
    }

    /// Notes an explicit VR UN element that depot reads with its real VR (see
    /// [`Layout::unknown_vr`]).
    fn note_unknown_vr(&mut self, h: &Header) {
        if h.vr.as_ref() != Some(b"UN") {
            return;
        }
        self.unknown_vr |= h.len == UNDEFINED || dictionary_vr(Tag(h.group, h.element)).is_some();
    }

    /// A UN element of undefined length under [`Reading::Standard`]: a sequence of items in
    /// Implicit VR Little Endian (PS3.5 6.2.2), nested sequences included.
    fn un_sequence(&mut self, src: &mut impl Source, depth: usize) -> Result<(), ScanError> {
        let outer = self.enc;
        self.enc = Encoding::ImplicitLittle;
        self.in_un += 1;
        let walked = self.sequence(src, depth, None);
        self.in_un -= 1;
        self.enc = outer;
        walked
    }

    /// Elements until the end of data, the end of a defined-length item (`end`, a source
    /// position), or an item delimiter.
    fn elements(
        &mut self,
        src: &mut impl Source,
        depth: usize,
        end: Option<u64>,
    ) -> Result<End, ScanError> {
        if depth > MAX_DEPTH {
            return Err(ScanError::TooDeep);
        }
        loop {
            if let Some(end) = end
                && src.position() >= end
            {
                return Ok(End::Data);
            }
            let element_start = src.position();
            let Some(h) = read_header(src, self.enc)? else {
                if end.is_some() {
                    return Err(ScanError::Truncated {
                        group: 0xFFFE,
                        element: 0xE000,
                    });
                }
                return Ok(End::Data);
            };
            let top = depth == 0;
            if top && self.pixel_data.is_some() && h.tag() != PADDING {
                self.after_pixel_data = true;
            }
            self.note_unknown_vr(&h);
            if h.tag() == ITEM_END {
                if top {
                    // Outside any sequence dicom-rs ignores it (and its length field).
                    continue;
                }
                return Ok(End::Item);
            }
            if h.group == 0xFFFE && !top {
                return Err(ScanError::Malformed(format!(
                    "item tag (FFFE,{:04X}) among the elements of an item",
                    h.element
                )));
            }
            let is_pixel = h.tag() == PIXEL_DATA;
            if top && is_pixel && self.options.header_only {
                // Only the header is wanted: the walk ends where a header-only parse stops.
                self.pixel_data = Some(element_start..element_start);
                return Ok(End::Data);
            }
            if h.len == UNDEFINED {
                if h.group == 0xFFFE {
                    return Err(ScanError::Malformed(format!(
                        "item tag (FFFE,{:04X}) of undefined length outside a sequence",
                        h.element
                    )));
                }
                // dicom-rs asks "is it a sequence (VR SQ)?" before "is it encapsulated
                // pixel data?", so Pixel Data declared SQ is a sequence of data sets.
                self.count(|c| c.elements += 1);
                if is_pixel && h.vr.as_ref() != Some(b"SQ") {
                    if self.in_un > 0 {
                        // Implicit VR Little Endian has no encapsulated pixel data.
                        return Err(ScanError::Malformed(
                            "Pixel Data of undefined length inside a UN sequence (whose items are implicit VR little endian)".into(),
                        ));
                    }
                    self.fragments(src, depth + 1)?;
                } else if h.vr.as_ref() == Some(b"UN") && self.options.reading == Reading::Standard
                {
                    self.un_sequence(src, depth + 1)?;
                } else {
                    // A sequence, or any other undefined-length element, which dicom-rs
                    // reads as a sequence of data sets whatever its VR.
                    self.sequence(src, depth + 1, None)?;
                }
            } else {
                let len = u64::from(h.len);
                check_len(src, h.group, h.element, len)?;
                if let Some(end) = end
                    && src.position().saturating_add(len) > end
                {
                    return Err(ScanError::Malformed(format!(
                        "element ({:04X},{:04X}) runs past the end of its item",
                        h.group, h.element
                    )));
                }
                if self.is_sequence(&h) {
                    self.count(|c| c.elements += 1);
                    let seq_end = src.position().saturating_add(len);
                    self.sequence(src, depth + 1, Some(seq_end))?;
                } else {
                    self.check_value_size(&h, len)?;
                    cost::check_value_count(src, &h, len)?;
                    if top && is_pixel {
                        // Held as it is, and never part of the header.
                        self.costs.all.elements += 1;
                        self.costs.all.value_bytes = self.costs.all.value_bytes.saturating_add(len);
                        skip(src, h.group, h.element, len)?;
                    } else {
                        let in_header = self.pixel_data.is_none();
                        self.costs.count_and_skip(in_header, src, &h, len)?;
                    }
                }
            }
            if top && is_pixel && self.pixel_data.is_none() {
                self.pixel_data = Some(element_start..src.position());
            }
        }
    }

    /// dicom-rs reads a binary value as whole numbers of its VR's size and then carries on from
    /// there: an FD of 10 bytes is read as one 8-byte value, and the next "element" starts two
    /// bytes early, where the scan no longer looks. Such lengths are refused.
    fn check_value_size(&self, h: &Header, len: u64) -> Result<(), ScanError> {
        let vr = match h.vr {
            Some(vr) => VR::from_binary(vr),
            None if (h.group, h.element) == PIXEL_DATA
                || (h.group >> 8 == 0x60 && h.element == 0x3000) =>
            {
                Some(VR::OW)
            }
            None => StandardDataDictionary
                .by_tag(Tag(h.group, h.element))
                .map(|e| e.vr().relaxed()),
        };
        let size = match vr {
            Some(VR::US | VR::SS | VR::OW) => 2,
            Some(VR::UL | VR::SL | VR::OL | VR::AT | VR::FL | VR::OF) => 4,
            Some(VR::FD | VR::OD | VR::UV | VR::SV | VR::OV) => 8,
            _ => return Ok(()),
        };
        if !len.is_multiple_of(size) {
            return Err(ScanError::Malformed(format!(
                "element ({:04X},{:04X}) of {size}-byte values declares {len} bytes",
                h.group, h.element
            )));
        }
        Ok(())
    }

    /// Whether a defined-length element is a sequence: by its explicit VR, or in implicit VR
    /// by the dictionary (as dicom-rs decides).
    fn is_sequence(&self, h: &Header) -> bool {
        match h.vr {
            Some(vr) => &vr == b"SQ",
            None if h.group == 0xFFFE => false,
            None => {
                (h.group, h.element) != PIXEL_DATA
                    && !(h.group >> 8 == 0x60 && h.element == 0x3000)
                    && StandardDataDictionary
                        .by_tag(Tag(h.group, h.element))
                        .is_some_and(|e| e.vr().relaxed() == VR::SQ)
            }
        }
    }

    /// The items of a sequence, up to its delimiter (`end` is `None`) or its end position.
    fn sequence(
        &mut self,
        src: &mut impl Source,
        depth: usize,
        end: Option<u64>,
    ) -> Result<(), ScanError> {
        if depth > MAX_DEPTH {
            return Err(ScanError::TooDeep);
        }
        loop {
            if let Some(end) = end
                && src.position() >= end
            {
                return Ok(());
            }
            let Some(h) = read_header(src, Encoding::item_headers(self.enc))? else {
                return Err(ScanError::Truncated {
                    group: 0xFFFE,
                    element: 0xE000,
                });
            };
            if h.tag() == ITEM {
                self.count(|c| c.items += 1);
            }
            match h.tag() {
                SEQ_END if end.is_none() => return Ok(()),
                ITEM if h.len == UNDEFINED => {
                    if let End::Data = self.elements(src, depth, None)? {
                        return Err(ScanError::Truncated {
                            group: 0xFFFE,
                            element: 0xE000,
                        });
                    }
                }
                ITEM => {
                    let len = u64::from(h.len);
                    check_len(src, h.group, h.element, len)?;
                    let item_end = src.position().saturating_add(len);
                    if let Some(end) = end
                        && item_end > end
                    {
                        return Err(ScanError::Malformed(
                            "an item runs past the end of its sequence".into(),
                        ));
                    }
                    if let End::Item = self.elements(src, depth, Some(item_end))? {
                        // A delimiter inside a defined-length item ends it, as in dicom-rs,
                        // but must sit exactly at its end.
                        if src.position() != item_end {
                            return Err(ScanError::Malformed(
                                "an item delimiter inside a defined-length item".into(),
                            ));
                        }
                    }
                }
                (group, element) => {
                    return Err(ScanError::Malformed(format!(
                        "({group:04X},{element:04X}) where a sequence item was expected"
                    )));
                }
            }
        }
    }

    /// Encapsulated pixel data: defined-length fragments up to the sequence delimiter.
    fn fragments(&mut self, src: &mut impl Source, depth: usize) -> Result<(), ScanError> {
        if depth > MAX_DEPTH {
            return Err(ScanError::TooDeep);
        }
        loop {
            let Some(h) = read_header(src, Encoding::item_headers(self.enc))? else {
                return Err(ScanError::Truncated {
                    group: 0xFFFE,
                    element: 0xE000,
                });
            };
            match h.tag() {
                SEQ_END => return Ok(()),
                ITEM if h.len != UNDEFINED => {
                    let len = u64::from(h.len);
                    self.costs.all.value_bytes = self.costs.all.value_bytes.saturating_add(len);
                    skip(src, h.group, h.element, len)?;
                }
                ITEM => {
                    return Err(ScanError::Malformed(
                        "a pixel data fragment of undefined length".into(),
                    ));
                }
                (group, element) => {
                    return Err(ScanError::Malformed(format!(
                        "({group:04X},{element:04X}) where a pixel data fragment was expected"
                    )));
                }
            }
        }
    }
}

/// Refuses a deflated data set whose part before Pixel Data (all of it, without pixel data)
/// inflates beyond [`deflate_header_limit`].
pub(super) fn check_header_size(
    walk: &Walk,
    inflated_len: u64,
    file_size: u64,
) -> Result<(), ScanError> {
    let header = walk.pixel_data.as_ref().map_or(inflated_len, |r| r.start);
    let limit = deflate_header_limit(file_size);
    if header > limit {
        return Err(ScanError::DeflateBomb { limit });
    }
    Ok(())
}
