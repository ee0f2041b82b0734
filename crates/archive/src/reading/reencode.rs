//! Re-encodes an explicit VR data set so that dicom-rs reads its UN elements as PS3.5 6.2.2
//! means them:
//!
//! * a UN element of undefined length is a sequence whose items are encoded in Implicit VR
//!   Little Endian: it becomes an SQ of undefined length whose items are encoded like the rest
//!   of the data set (explicit VR, the data set's byte order), each element with its dictionary
//!   VR (private creators LO, other private elements and unknown attributes UN), recursively;
//! * a UN element of defined length whose attribute the dictionary knows gets that VR when its
//!   bytes are a valid value of it ([`super::value`]); a sequence attribute gets SQ when its
//!   bytes are well-formed implicit VR items; anything else stays UN, private elements always.
//!
//! Everything else is copied byte for byte; a sequence or item of defined length that holds a
//! re-encoded element gets its new length. The top-level Pixel Data and what follows it are
//! copied unchanged. The input has passed [`crate::scan`] under [`crate::scan::Reading::Standard`],
//! but every length is checked again here, so that no input makes this code read out of bounds
//! or recurse without limit.

use dicom_core::{Tag, VR};

use super::value;
use crate::scan::{MAX_DEPTH, ScanError, dictionary_vr, short_vr};

const UNDEFINED: u32 = 0xFFFF_FFFF;
const ITEM: Tag = Tag(0xFFFE, 0xE000);
const ITEM_END: Tag = Tag(0xFFFE, 0xE00D);
const SEQ_END: Tag = Tag(0xFFFE, 0xE0DD);
const PIXEL_DATA: Tag = Tag(0x7FE0, 0x0010);

/// Re-encodes the data set `data` (explicit VR, big endian when `big_endian`); `pixel_data`
/// is the offset of the top-level Pixel Data, copied unchanged with all that follows it.
pub(super) fn data_set(
    data: &[u8],
    big_endian: bool,
    pixel_data: Option<usize>,
) -> Result<Vec<u8>, ScanError> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 8);
    let mut r = Reader { data, pos: 0 };
    let enc = Writer { big_endian };
    loop {
        match enc.explicit_elements(&mut r, &mut out, None, 0, pixel_data)? {
            Ended::Data => return Ok(out),
            // An item delimiter outside any sequence (dicom-rs ignores it): kept.
            Ended::Item => enc.item_header(&mut out, ITEM_END, 0),
        }
    }
}

/// What ended a run of elements.
enum Ended {
    /// The end of the data or of a defined-length item.
    Data,
    /// An item delimitation item (consumed).
    Item,
}

fn malformed(what: impl Into<String>) -> ScanError {
    ScanError::Malformed(what.into())
}

fn truncated(tag: Tag) -> ScanError {
    ScanError::Truncated {
        group: tag.group(),
        element: tag.element(),
    }
}

/// A position in a byte slice, every read bounds-checked.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn at_end(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn take(&mut self, n: usize, tag: Tag) -> Result<&'a [u8], ScanError> {
        let end = self.pos.checked_add(n).ok_or_else(|| truncated(tag))?;
        let bytes = self.data.get(self.pos..end).ok_or_else(|| truncated(tag))?;
        self.pos = end;
        Ok(bytes)
    }

    fn u16(&mut self, big_endian: bool, tag: Tag) -> Result<u16, ScanError> {
        let b = self.take(2, tag)?;
        let b = [b[0], b[1]];
        Ok(if big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    fn u32(&mut self, big_endian: bool, tag: Tag) -> Result<u32, ScanError> {
        let b = self.take(4, tag)?;
        let b = [b[0], b[1], b[2], b[3]];
        Ok(if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn tag(&mut self, big_endian: bool) -> Result<Tag, ScanError> {
        let unknown = Tag(0, 0);
        Ok(Tag(
            self.u16(big_endian, unknown)?,
            self.u16(big_endian, unknown)?,
        ))
    }

    /// The end of a value of `len` bytes starting here, within `end` if given.
    fn value_end(&self, len: u32, end: Option<usize>, tag: Tag) -> Result<usize, ScanError> {
        let stop = self
            .pos
            .checked_add(len as usize)
            .filter(|&e| e <= self.data.len())
            .ok_or(ScanError::Length {
                group: tag.group(),
                element: tag.element(),
                declared: u64::from(len),
                remaining: (self.data.len() - self.pos.min(self.data.len())) as u64,
            })?;
        if end.is_some_and(|end| stop > end) {
            return Err(malformed(format!(
                "element {tag} runs past the end of its item"
            )));
        }
        Ok(stop)
    }
}

/// Writes in the data set's explicit encoding.
#[derive(Clone, Copy)]
struct Writer {
    big_endian: bool,
}

impl Writer {
    fn u16(self, out: &mut Vec<u8>, v: u16) {
        out.extend_from_slice(&if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }

    fn u32(self, out: &mut Vec<u8>, v: u32) {
        out.extend_from_slice(&if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        });
    }

    fn item_header(self, out: &mut Vec<u8>, tag: Tag, len: u32) {
        self.u16(out, tag.group());
        self.u16(out, tag.element());
        self.u32(out, len);
    }

    /// An element header; `len` must fit the VR's length field (see [`fits`]).
    fn header(self, out: &mut Vec<u8>, tag: Tag, vr: VR, len: u32) {
        self.u16(out, tag.group());
        self.u16(out, tag.element());
        let code = vr.to_bytes();
        out.extend_from_slice(&code);
        if short_vr(code) {
            self.u16(out, u16::try_from(len).unwrap_or(u16::MAX));
        } else {
            out.extend_from_slice(&[0, 0]);
            self.u32(out, len);
        }
    }

    /// A primitive value: with `vr` if its bytes are valid for it, else as UN.
    fn value(self, out: &mut Vec<u8>, tag: Tag, vr: VR, bytes: &[u8]) {
        let encoded = (vr != VR::UN)
            .then(|| value::encode(vr, bytes, self.big_endian))
            .flatten()
            .filter(|v| fits(vr, v.len()));
        match encoded {
            Some(v) => {
                self.header(out, tag, vr, v.len() as u32);
                out.extend_from_slice(&v);
            }
            None => {
                self.header(out, tag, VR::UN, bytes.len() as u32);
                out.extend_from_slice(bytes);
            }
        }
    }

    /// A sequence element whose items were re-encoded into `items` (undefined length).
    fn sequence(self, out: &mut Vec<u8>, tag: Tag, items: &[u8]) {
        self.header(out, tag, VR::SQ, UNDEFINED);
        out.extend_from_slice(items);
        self.item_header(out, SEQ_END, 0);
    }

    /// Elements of an explicit VR data set or item, until the end of the data, the end of a
    /// defined-length item (`end`), or an item delimiter. At the top level (`depth` 0), the
    /// Pixel Data at `pixel_data` and everything after it is copied as it is.
    fn explicit_elements(
        self,
        r: &mut Reader<'_>,
        out: &mut Vec<u8>,
        end: Option<usize>,
        depth: usize,
        pixel_data: Option<usize>,
    ) -> Result<Ended, ScanError> {
        if depth > MAX_DEPTH {
            return Err(ScanError::TooDeep);
        }
        loop {
            if end.is_some_and(|end| r.pos >= end) || (end.is_none() && r.at_end()) {
                return Ok(Ended::Data);
            }
            if r.at_end() {
                return Err(truncated(ITEM));
            }
            if depth == 0 && pixel_data == Some(r.pos) {
                out.extend_from_slice(r.data.get(r.pos..).unwrap_or_default());
                r.pos = r.data.len();
                return Ok(Ended::Data);
            }
            let start = r.pos;
            let tag = r.tag(self.big_endian)?;
            if tag.group() == 0xFFFE {
                let _len = r.u32(self.big_endian, tag)?;
                if tag == ITEM_END {
                    return Ok(Ended::Item);
                }
                return Err(malformed(format!(
                    "item tag {tag} among the elements of a data set"
                )));
            }
            let code = r.take(2, tag)?;
            let code = [code[0], code[1]];
            let len = if short_vr(code) {
                u32::from(r.u16(self.big_endian, tag)?)
            } else {
                r.take(2, tag)?;
                r.u32(self.big_endian, tag)?
            };
            let header = r.data.get(start..r.pos).unwrap_or_default();
            if len == UNDEFINED {
                if &code == b"UN" {
                    let mut items = Vec::new();
                    self.implicit_items(r, &mut items, None, depth + 1)?;
                    self.sequence(out, tag, &items);
                } else if tag == PIXEL_DATA && &code != b"SQ" {
                    out.extend_from_slice(header);
                    self.fragments(r, out)?;
                } else {
                    out.extend_from_slice(header);
                    self.explicit_items(r, out, None, depth + 1)?;
                }
                continue;
            }
            let stop = r.value_end(len, end, tag)?;
            if &code == b"SQ" {
                let mut items = Vec::new();
                self.explicit_items(r, &mut items, Some(stop), depth + 1)?;
                self.header(out, tag, VR::SQ, items.len() as u32);
                out.extend_from_slice(&items);
            } else if &code == b"UN" {
                let bytes = r.take(len as usize, tag)?;
                self.un_value(out, tag, bytes, depth)?;
            } else {
                let bytes = r.take(len as usize, tag)?;
                out.extend_from_slice(header);
                out.extend_from_slice(bytes);
            }
        }
    }

    /// A UN value of defined length: with its dictionary VR where that is a valid reading.
    fn un_value(
        self,
        out: &mut Vec<u8>,
        tag: Tag,
        bytes: &[u8],
        depth: usize,
    ) -> Result<(), ScanError> {
        match dictionary_vr(tag) {
            Some(VR::SQ) => {
                // Well-formed implicit VR items become an SQ; anything else stays opaque.
                let mut items = Vec::new();
                let mut inner = Reader {
                    data: bytes,
                    pos: 0,
                };
                match self.implicit_items(&mut inner, &mut items, Some(bytes.len()), depth + 1) {
                    Ok(()) => self.sequence(out, tag, &items),
                    Err(_) => self.value(out, tag, VR::UN, bytes),
                }
            }
            Some(vr) => self.value(out, tag, vr, bytes),
            None => self.value(out, tag, VR::UN, bytes),
        }
        Ok(())
    }

    /// The items of an explicit VR sequence, up to its delimiter (`end` is `None`, the
    /// delimiter is written too) or its end.
    fn explicit_items(
        self,
        r: &mut Reader<'_>,
        out: &mut Vec<u8>,
        end: Option<usize>,
        depth: usize,
    ) -> Result<(), ScanError> {
        if depth > MAX_DEPTH {
            return Err(ScanError::TooDeep);
        }
        loop {
            if end.is_some_and(|end| r.pos >= end) {
                return Ok(());
            }
            if r.at_end() {
                return Err(truncated(ITEM));
            }
            let tag = r.tag(self.big_endian)?;
            let len = r.u32(self.big_endian, tag)?;
            match tag {
                SEQ_END if end.is_none() => {
                    self.item_header(out, SEQ_END, 0);
                    return Ok(());
                }
                ITEM if len == UNDEFINED => {
                    self.item_header(out, ITEM, UNDEFINED);
                    match self.explicit_elements(r, out, None, depth, None)? {
                        Ended::Item => self.item_header(out, ITEM_END, 0),
                        Ended::Data => return Err(truncated(ITEM)),
                    }
                }
                ITEM => {
                    let stop = r.value_end(len, end, tag)?;
                    let mut body = Vec::new();
                    if let Ended::Item =
                        self.explicit_elements(r, &mut body, Some(stop), depth, None)?
                    {
                        if r.pos != stop {
                            return Err(malformed(
                                "an item delimiter inside a defined-length item",
                            ));
                        }
                        self.item_header(&mut body, ITEM_END, 0);
                    }
                    self.item_header(out, ITEM, body.len() as u32);
                    out.extend_from_slice(&body);
                }
                other => {
                    return Err(malformed(format!(
                        "{other} where a sequence item was expected"
                    )));
                }
            }
        }
    }

    /// Encapsulated pixel data: fragments copied as they are, through the sequence delimiter.
    fn fragments(self, r: &mut Reader<'_>, out: &mut Vec<u8>) -> Result<(), ScanError> {
        loop {
            let start = r.pos;
            let tag = r.tag(self.big_endian)?;
            let len = r.u32(self.big_endian, tag)?;
            match tag {
                SEQ_END => {
                    out.extend_from_slice(r.data.get(start..r.pos).unwrap_or_default());
                    return Ok(());
                }
                ITEM if len != UNDEFINED => {
                    r.take(len as usize, tag)?;
                    out.extend_from_slice(r.data.get(start..r.pos).unwrap_or_default());
                }
                other => {
                    return Err(malformed(format!(
                        "{other} where a pixel data fragment was expected"
                    )));
                }
            }
        }
    }

    /// The items of a UN sequence, encoded in Implicit VR Little Endian, up to the sequence
    /// delimiter (`end` is `None`; the delimiter is consumed, not written) or `end`. Each item
    /// is written with undefined length in this writer's encoding.
    fn implicit_items(
        self,
        r: &mut Reader<'_>,
        out: &mut Vec<u8>,
        end: Option<usize>,
        depth: usize,
    ) -> Result<(), ScanError> {
        if depth > MAX_DEPTH {
            return Err(ScanError::TooDeep);
        }
        loop {
            if end.is_some_and(|end| r.pos >= end) {
                return Ok(());
            }
            if r.at_end() {
                return Err(truncated(SEQ_END));
            }
            let tag = r.tag(false)?;
            let len = r.u32(false, tag)?;
            match tag {
                SEQ_END if end.is_none() => return Ok(()),
                ITEM => {
                    let stop = if len == UNDEFINED {
                        None
                    } else {
                        Some(r.value_end(len, end, tag)?)
                    };
                    self.item_header(out, ITEM, UNDEFINED);
                    match self.implicit_elements(r, out, stop, depth)? {
                        Ended::Item if stop.is_some_and(|s| r.pos != s) => {
                            return Err(malformed(
                                "an item delimiter inside a defined-length item",
                            ));
                        }
                        Ended::Data if stop.is_none() => return Err(truncated(ITEM)),
                        _ => {}
                    }
                    self.item_header(out, ITEM_END, 0);
                }
                other => {
                    return Err(malformed(format!(
                        "{other} where an item of a UN sequence was expected"
                    )));
                }
            }
        }
    }

    /// The elements of one implicit VR little endian item, until its delimiter or `end`.
    fn implicit_elements(
        self,
        r: &mut Reader<'_>,
        out: &mut Vec<u8>,
        end: Option<usize>,
        depth: usize,
    ) -> Result<Ended, ScanError> {
        loop {
            if end.is_some_and(|end| r.pos >= end) {
                return Ok(Ended::Data);
            }
            if r.at_end() {
                return Err(truncated(ITEM));
            }
            let tag = r.tag(false)?;
            let len = r.u32(false, tag)?;
            if tag.group() == 0xFFFE {
                if tag == ITEM_END {
                    return Ok(Ended::Item);
                }
                return Err(malformed(format!(
                    "item tag {tag} among the elements of an item"
                )));
            }
            let vr = implicit_vr(tag);
            if len == UNDEFINED {
                if tag == PIXEL_DATA {
                    return Err(malformed(
                        "Pixel Data of undefined length inside a UN sequence",
                    ));
                }
                let mut items = Vec::new();
                self.implicit_items(r, &mut items, None, depth + 1)?;
                self.sequence(out, tag, &items);
                continue;
            }
            let stop = r.value_end(len, end, tag)?;
            if vr == VR::SQ {
                let mut items = Vec::new();
                self.implicit_items(r, &mut items, Some(stop), depth + 1)?;
                self.sequence(out, tag, &items);
            } else {
                let bytes = r.take(len as usize, tag)?;
                self.value(out, tag, vr, bytes);
            }
        }
    }
}

/// The VR of an element read in implicit VR: a private creator is LO (PS3.5 7.8.1), other
/// private elements and attributes the dictionary does not know (or gives no single VR) UN.
fn implicit_vr(tag: Tag) -> VR {
    if tag.group() % 2 == 1 {
        return if (0x0010..=0x00FF).contains(&tag.element()) {
            VR::LO
        } else {
            VR::UN
        };
    }
    if tag.element() == 0x0000 {
        return VR::UL;
    }
    dictionary_vr(tag).unwrap_or(VR::UN)
}

/// Whether a value of `len` bytes fits the length field `vr` has in explicit VR.
fn fits(vr: VR, len: usize) -> bool {
    if short_vr(vr.to_bytes()) {
        len <= usize::from(u16::MAX)
    } else {
        u32::try_from(len).is_ok_and(|l| l != UNDEFINED)
    }
}
