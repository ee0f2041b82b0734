//! Element headers as dicom-rs decodes them (tag, explicit VR, 2- or 4-byte length), and the
//! file meta group, which bounds itself by its group length and names the data set's transfer
//! syntax.

use super::encoding::Encoding;
use super::error::ScanError;
use super::source::{Source, check_len, short_read, skip};
use super::vr::short_vr;

/// An undefined length.
pub(super) const UNDEFINED: u32 = 0xFFFF_FFFF;
/// Item, item delimitation, sequence delimitation, Pixel Data, Data Set Trailing Padding.
pub(super) const ITEM: (u16, u16) = (0xFFFE, 0xE000);
pub(super) const ITEM_END: (u16, u16) = (0xFFFE, 0xE00D);
pub(super) const SEQ_END: (u16, u16) = (0xFFFE, 0xE0DD);
pub(super) const PIXEL_DATA: (u16, u16) = (0x7FE0, 0x0010);
pub(super) const PADDING: (u16, u16) = (0xFFFC, 0xFFFC);

/// One element header as dicom-rs would decode it.
pub(super) struct Header {
    pub(super) group: u16,
    pub(super) element: u16,
    /// The explicit VR code, if the encoding is explicit and the tag is not an item tag.
    pub(super) vr: Option<[u8; 2]>,
    pub(super) len: u32,
}

impl Header {
    pub(super) fn tag(&self) -> (u16, u16) {
        (self.group, self.element)
    }
}

/// Reads one element header; `None` at a clean end of data.
pub(super) fn read_header(
    src: &mut impl Source,
    enc: Encoding,
) -> Result<Option<Header>, ScanError> {
    let mut t = [0u8; 4];
    if !src.read_header(&mut t)? {
        return Ok(None);
    }
    let group = enc.u16([t[0], t[1]]);
    let element = enc.u16([t[2], t[3]]);
    let truncated = short_read(group, element);
    let mut b4 = [0u8; 4];
    if group == 0xFFFE || !enc.explicit() {
        if !src.read_header(&mut b4).map_err(&truncated)? {
            return Err(ScanError::Truncated { group, element });
        }
        return Ok(Some(Header {
            group,
            element,
            vr: None,
            len: enc.u32(b4),
        }));
    }
    let mut vr = [0u8; 2];
    if !src.read_header(&mut vr).map_err(&truncated)? {
        return Err(ScanError::Truncated { group, element });
    }
    let len = if short_vr(vr) {
        let mut b2 = [0u8; 2];
        if !src.read_header(&mut b2).map_err(&truncated)? {
            return Err(ScanError::Truncated { group, element });
        }
        u32::from(enc.u16(b2))
    } else {
        let mut b6 = [0u8; 6];
        if !src.read_header(&mut b6).map_err(&truncated)? {
            return Err(ScanError::Truncated { group, element });
        }
        enc.u32([b6[2], b6[3], b6[4], b6[5]])
    };
    Ok(Some(Header {
        group,
        element,
        vr: Some(vr),
        len,
    }))
}

/// Scans the file meta group the way dicom-rs reads it: (0002,0000) first, with a 4-byte
/// value, then elements (of any group) until the group length is used up. Returns the
/// transfer syntax UID, trimmed.
pub(super) fn scan_meta(src: &mut impl Source) -> Result<String, ScanError> {
    let meta = |what: &str| ScanError::Malformed(format!("file meta group: {what}"));
    let Some(first) = read_header(src, Encoding::ExplicitLittle)? else {
        return Err(ScanError::Truncated {
            group: 0x0002,
            element: 0x0000,
        });
    };
    if first.tag() != (0x0002, 0x0000) || first.len != 4 {
        return Err(meta("it does not start with its group length (0002,0000)"));
    }
    let mut b4 = [0u8; 4];
    if !src.read_header(&mut b4).map_err(short_read(2, 0))? {
        return Err(ScanError::Truncated {
            group: 0x0002,
            element: 0x0000,
        });
    }
    let group_len = u64::from(u32::from_le_bytes(b4));
    check_len(src, 0x0002, 0x0000, group_len)?;
    let start = src.position();
    let mut ts = String::new();
    while src.position() - start < group_len {
        let Some(h) = read_header(src, Encoding::ExplicitLittle)? else {
            return Err(ScanError::Truncated {
                group: 0x0002,
                element: 0x0000,
            });
        };
        if h.len == UNDEFINED {
            return Err(meta(&format!(
                "element ({:04X},{:04X}) has an undefined length",
                h.group, h.element
            )));
        }
        let len = u64::from(h.len);
        check_len(src, h.group, h.element, len)?;
        if h.tag() == (0x0002, 0x0010) && len <= 256 {
            // As dicom-rs: the last Transfer Syntax UID element wins.
            let mut value = vec![0u8; len as usize];
            if len > 0 && !src.read_header(&mut value).map_err(short_read(2, 0x10))? {
                return Err(ScanError::Truncated {
                    group: 0x0002,
                    element: 0x0010,
                });
            }
            ts = String::from_utf8_lossy(&value).into_owned();
        } else if h.tag() == (0x0002, 0x0010) {
            // No UID is that long: whatever it says, no transfer syntax will match it.
            ts = "(a transfer syntax UID longer than 256 bytes)".to_string();
            skip(src, h.group, h.element, len)?;
        } else {
            skip(src, h.group, h.element, len)?;
        }
    }
    Ok(ts)
}
