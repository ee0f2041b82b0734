//! What parsing a data set builds in memory, counted as the walk passes each element (the
//! estimate the memory budget takes from, see [`crate::memory`]), and the values refused
//! because dicom-rs would build far more from them than their bytes.

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;

use super::error::ScanError;
use super::header::Header;
use super::source::{Source, skip};
use crate::memory::ParseCost;

/// What parsing builds: before the top-level Pixel Data (the header), and in all.
#[derive(Debug, Default)]
pub(super) struct Costs {
    pub(super) header: ParseCost,
    pub(super) all: ParseCost,
}

impl Costs {
    /// Counts what the parser builds for something found now (in the header too when
    /// `in_header`: the top-level Pixel Data has not been passed).
    pub(super) fn count(&mut self, in_header: bool, add: impl Fn(&mut ParseCost)) {
        add(&mut self.all);
        if in_header {
            add(&mut self.header);
        }
    }

    /// Counts an element with a value of `len` bytes, and its parts when it is multi-valued
    /// text, and moves past the value. The parts are counted in the bytes: in place when the
    /// source holds them, else read through in pieces.
    pub(super) fn count_and_skip(
        &mut self,
        in_header: bool,
        src: &mut impl Source,
        h: &Header,
        len: u64,
    ) -> Result<(), ScanError> {
        let parts = if !splits_text(h) || len == 0 {
            skip(src, h.group, h.element, len)?;
            0
        } else if let Some(bytes) = usize::try_from(len).ok().and_then(|n| src.peek(n)) {
            let parts = count_byte(b'\\', bytes);
            skip(src, h.group, h.element, len)?;
            parts
        } else {
            let mut parts = 0;
            let mut left = len;
            let mut piece = [0u8; 4096];
            while left > 0 {
                let n = usize::try_from(left.min(piece.len() as u64)).unwrap_or(piece.len());
                let buf = piece.get_mut(..n).unwrap_or_default();
                let short = ScanError::Length {
                    group: h.group,
                    element: h.element,
                    declared: len,
                    remaining: len - left,
                };
                match src.read_header(buf) {
                    Ok(true) => {}
                    Ok(false) | Err(ScanError::Truncated { .. }) => return Err(short),
                    Err(e) => return Err(e),
                }
                parts += count_byte(b'\\', buf);
                left -= n as u64;
            }
            parts
        };
        self.count(in_header, |c| {
            c.elements += 1;
            c.value_bytes = c.value_bytes.saturating_add(len);
            c.text_parts = c.text_parts.saturating_add(parts);
        });
        Ok(())
    }
}

/// dicom-rs splits a multi-valued text value on every backslash and keeps each part as a
/// string of its own (about 24 bytes before its text): a value of nothing but backslashes
/// costs some 24 times its length. Values that long with parts that short are refused.
/// (Only where the bytes are in memory: files streamed from disk are parsed one at a time.)
pub(super) fn check_value_count(src: &impl Source, h: &Header, len: u64) -> Result<(), ScanError> {
    const LONG: u64 = 64 << 10;
    if len < LONG {
        return Ok(());
    }
    let split = splits_text(h);
    let Some(bytes) = split.then(|| src.peek(len as usize)).flatten() else {
        return Ok(());
    };
    let parts = bytes.iter().filter(|b| **b == b'\\').count() as u64 + 1;
    // Real multi-valued data (contour points "12.5\-3.25\...") has parts of several
    // bytes; one part per two bytes or fewer is no data.
    if parts > len / 2 {
        return Err(ScanError::Malformed(format!(
            "element ({:04X},{:04X}) holds {parts} values in {len} bytes",
            h.group, h.element
        )));
    }
    Ok(())
}

/// Whether dicom-rs splits the element's value on backslashes into strings of their own
/// (multi-valued text VRs).
fn splits_text(h: &Header) -> bool {
    let vr = match h.vr {
        Some(vr) => VR::from_binary(vr),
        None => StandardDataDictionary
            .by_tag(Tag(h.group, h.element))
            .map(|e| e.vr().relaxed()),
    };
    matches!(
        vr,
        Some(
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
    )
}

/// How often `byte` occurs in `bytes`.
fn count_byte(byte: u8, bytes: &[u8]) -> u64 {
    bytes.iter().filter(|b| **b == byte).count() as u64
}
