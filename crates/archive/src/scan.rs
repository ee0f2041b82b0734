//! A structural pre-check of a DICOM file's declared lengths, run before dicom-rs parses it.
//!
//! dicom-rs 0.10 reserves and zero-fills an element's declared length before it reads the
//! value, so a small hostile file declaring a 4 GB element costs 4 GB of memory (and several of
//! them in parallel end the process). This scanner walks the element headers, item by item and
//! into sequences, without reading values, and refuses any length that exceeds what is left of
//! the file (which also catches most truncated files, with a precise reason), as well as
//! sequences nested absurdly deep (which would exhaust a recursive parser's stack).
//!
//! It understands the file meta group (always explicit VR little endian), explicit and implicit
//! VR little endian, explicit VR big endian and the deflated syntax (scanned through a streaming
//! inflater, so it needs no extra memory). It is deliberately lenient about everything else:
//! anything it cannot make sense of is left to dicom-rs to judge.

use std::io::{self, Read};

/// Deepest sequence nesting accepted.
pub const MAX_DEPTH: usize = 64;

const UNDEFINED: u32 = 0xFFFF_FFFF;
const ITEM: (u16, u16) = (0xFFFE, 0xE000);
const ITEM_END: (u16, u16) = (0xFFFE, 0xE00D);
const SEQ_END: (u16, u16) = (0xFFFE, 0xE0DD);

/// Why a file failed the pre-check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// An element declares more bytes than remain.
    #[error(
        "truncated or hostile: element ({group:04X},{element:04X}) declares {declared} bytes but only {remaining} remain"
    )]
    Length {
        /// Tag group.
        group: u16,
        /// Tag element.
        element: u16,
        /// The declared length.
        declared: u64,
        /// What is left.
        remaining: u64,
    },
    /// The file ends inside an element header or a deflated stream ends early.
    #[error("truncated: the file ends inside element ({group:04X},{element:04X})")]
    Truncated {
        /// Tag group of the last element started.
        group: u16,
        /// Tag element.
        element: u16,
    },
    /// Sequences nest too deep.
    #[error("hostile: sequences nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// The deflated data set cannot be inflated.
    #[error("corrupt deflated data set: {0}")]
    Deflate(String),
}

/// A byte source that can read small headers and skip values.
trait Source {
    /// Fills `buf`, or returns false at a clean end of data.
    fn read_header(&mut self, buf: &mut [u8]) -> Result<bool, io::Error>;
    /// Skips `n` bytes; `Err` with the bytes remaining when there are fewer.
    fn skip(&mut self, n: u64) -> Result<(), u64>;
    /// Bytes left, when known.
    fn remaining(&self) -> Option<u64>;
}

struct Slice<'a> {
    data: &'a [u8],
}

impl Source for Slice<'_> {
    fn read_header(&mut self, buf: &mut [u8]) -> Result<bool, io::Error> {
        if self.data.is_empty() {
            return Ok(false);
        }
        match (self.data.get(..buf.len()), self.data.get(buf.len()..)) {
            (Some(head), Some(rest)) => {
                buf.copy_from_slice(head);
                self.data = rest;
                Ok(true)
            }
            _ => Err(io::ErrorKind::UnexpectedEof.into()),
        }
    }

    fn skip(&mut self, n: u64) -> Result<(), u64> {
        let left = self.data.len() as u64;
        match usize::try_from(n).ok().and_then(|n| self.data.get(n..)) {
            Some(rest) if n <= left => {
                self.data = rest;
                Ok(())
            }
            _ => Err(left),
        }
    }

    fn remaining(&self) -> Option<u64> {
        Some(self.data.len() as u64)
    }
}

/// A stream of unknown length (the inflated data set).
struct Stream<R: Read> {
    r: R,
    read: u64,
}

impl<R: Read> Source for Stream<R> {
    fn read_header(&mut self, buf: &mut [u8]) -> Result<bool, io::Error> {
        let mut filled = 0;
        while filled < buf.len() {
            let Some(rest) = buf.get_mut(filled..) else {
                break;
            };
            let n = self.r.read(rest)?;
            if n == 0 {
                if filled == 0 {
                    return Ok(false);
                }
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            filled += n;
        }
        self.read += buf.len() as u64;
        Ok(true)
    }

    fn skip(&mut self, n: u64) -> Result<(), u64> {
        let copied = io::copy(&mut (&mut self.r).take(n), &mut io::sink()).unwrap_or(0);
        self.read += copied;
        if copied == n { Ok(()) } else { Err(copied) }
    }

    fn remaining(&self) -> Option<u64> {
        None
    }
}

#[derive(Clone, Copy)]
struct Encoding {
    explicit: bool,
    big_endian: bool,
}

impl Encoding {
    fn u16(self, b: [u8; 2]) -> u16 {
        if self.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    }
    fn u32(self, b: [u8; 4]) -> u32 {
        if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }
}

const LE_EXPLICIT: Encoding = Encoding {
    explicit: true,
    big_endian: false,
};

/// VRs with a 2-byte reserved field and a 4-byte length in explicit VR.
fn long_vr(vr: [u8; 2]) -> bool {
    matches!(
        &vr,
        b"OB"
            | b"OD"
            | b"OF"
            | b"OL"
            | b"OV"
            | b"OW"
            | b"SQ"
            | b"SV"
            | b"UC"
            | b"UN"
            | b"UR"
            | b"UT"
            | b"UV"
    )
}

/// Checks the declared lengths of a whole DICOM file held in memory (starting with the
/// 128-byte preamble when `preamble` is true, else with `DICM`).
pub fn check(bytes: &[u8], preamble: bool) -> Result<(), ScanError> {
    let start = if preamble { 132 } else { 4 };
    let Some(body) = bytes.get(start..) else {
        return Err(ScanError::Truncated {
            group: 0x0002,
            element: 0,
        });
    };
    let mut src = Slice { data: body };
    let Some(ts) = scan_meta(&mut src)? else {
        return Ok(());
    };
    match Some(ts.as_str()) {
        Some("1.2.840.10008.1.2.1.99") | Some("1.2.840.10008.1.2.4.95") => {
            let mut inflated = Stream {
                r: flate2::read::DeflateDecoder::new(src.data),
                read: 0,
            };
            scan_items(&mut inflated, LE_EXPLICIT, 0, None).map(|_| ())
        }
        Some("1.2.840.10008.1.2") => scan_items(
            &mut src,
            Encoding {
                explicit: false,
                big_endian: false,
            },
            0,
            None,
        )
        .map(|_| ()),
        Some("1.2.840.10008.1.2.2") => scan_items(
            &mut src,
            Encoding {
                explicit: true,
                big_endian: true,
            },
            0,
            None,
        )
        .map(|_| ()),
        _ => scan_items(&mut src, LE_EXPLICIT, 0, None).map(|_| ()),
    }
}

/// Checks a file streamed from a reader of known total size (for files too big to hold).
pub fn check_reader(mut r: impl Read, size: u64, preamble: bool) -> Result<(), ScanError> {
    // Simple and bounded: the meta group and data set headers are read through a Stream that
    // knows the size, so skips are checked against it.
    struct Sized<R: Read> {
        inner: Stream<R>,
        left: u64,
    }
    impl<R: Read> Source for Sized<R> {
        fn read_header(&mut self, buf: &mut [u8]) -> Result<bool, io::Error> {
            let ok = self.inner.read_header(buf)?;
            if ok {
                self.left = self.left.saturating_sub(buf.len() as u64);
            }
            Ok(ok)
        }
        fn skip(&mut self, n: u64) -> Result<(), u64> {
            if n > self.left {
                return Err(self.left);
            }
            self.inner.skip(n)?;
            self.left -= n;
            Ok(())
        }
        fn remaining(&self) -> Option<u64> {
            Some(self.left)
        }
    }
    let start: u64 = if preamble { 132 } else { 4 };
    let mut head = vec![0u8; usize::try_from(start).unwrap_or(132)];
    if r.read_exact(&mut head).is_err() {
        return Err(ScanError::Truncated {
            group: 0x0002,
            element: 0,
        });
    }
    let mut src = Sized {
        inner: Stream { r, read: 0 },
        left: size.saturating_sub(start),
    };
    let Some(ts) = scan_meta(&mut src)? else {
        return Ok(());
    };
    match Some(ts.as_str()) {
        Some("1.2.840.10008.1.2.1.99") | Some("1.2.840.10008.1.2.4.95") => {
            let rest = src.inner.r;
            let mut inflated = Stream {
                r: flate2::read::DeflateDecoder::new(rest),
                read: 0,
            };
            scan_items(&mut inflated, LE_EXPLICIT, 0, None).map(|_| ())
        }
        Some("1.2.840.10008.1.2") => scan_items(
            &mut src,
            Encoding {
                explicit: false,
                big_endian: false,
            },
            0,
            None,
        )
        .map(|_| ()),
        Some("1.2.840.10008.1.2.2") => scan_items(
            &mut src,
            Encoding {
                explicit: true,
                big_endian: true,
            },
            0,
            None,
        )
        .map(|_| ()),
        _ => scan_items(&mut src, LE_EXPLICIT, 0, None).map(|_| ()),
    }
}

/// Scans the file meta group (group 0002, explicit VR LE) and returns its transfer syntax, or
/// `None` when the data set cannot be scanned from where the meta group ends.
fn scan_meta(src: &mut impl Source) -> Result<Option<String>, ScanError> {
    let mut ts = None;
    let mut first_non_meta = false;
    // Read meta elements until the first tag outside group 2. The look-ahead header is not
    // pushed back; instead the meta group's own length (0002,0000) bounds it when present.
    let mut group_len: Option<u64> = None;
    let mut consumed: u64 = 0;
    while !first_non_meta {
        if group_len.is_some_and(|len| consumed >= len) {
            break;
        }
        let mut h = [0u8; 8];
        match src.read_header(&mut h) {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(_) => {
                return Err(ScanError::Truncated {
                    group: 0x0002,
                    element: 0,
                });
            }
        }
        let group = u16::from_le_bytes([h[0], h[1]]);
        let element = u16::from_le_bytes([h[2], h[3]]);
        if group != 0x0002 {
            // No group length and we ran into the data set: stop scanning here (lenient).
            first_non_meta = true;
            continue;
        }
        let vr = [h[4], h[5]];
        let (len, header_len) = if long_vr(vr) {
            let mut l = [0u8; 4];
            if src.read_header(&mut l).ok() != Some(true) {
                return Err(ScanError::Truncated { group, element });
            }
            (u64::from(u32::from_le_bytes(l)), 12u64)
        } else {
            (u64::from(u16::from_le_bytes([h[6], h[7]])), 8u64)
        };
        if let Some(rem) = src.remaining()
            && len > rem
        {
            return Err(ScanError::Length {
                group,
                element,
                declared: len,
                remaining: rem,
            });
        }
        if element == 0x0000 || element == 0x0010 {
            let mut value = vec![0u8; usize::try_from(len.min(256)).unwrap_or(0)];
            if src.read_header(&mut value).ok() != Some(true) && len > 0 {
                return Err(ScanError::Truncated { group, element });
            }
            if len > 256 {
                src.skip(len - 256).map_err(|rem| ScanError::Length {
                    group,
                    element,
                    declared: len,
                    remaining: rem,
                })?;
            }
            if element == 0x0000 && len == 4 {
                group_len = Some(u64::from(u32::from_le_bytes([
                    value[0], value[1], value[2], value[3],
                ])));
                continue;
            }
            if element == 0x0010 {
                let s = String::from_utf8_lossy(&value);
                ts = Some(s.trim_matches(|c: char| c == '\0' || c == ' ').to_string());
            }
        } else {
            src.skip(len).map_err(|rem| ScanError::Length {
                group,
                element,
                declared: len,
                remaining: rem,
            })?;
        }
        consumed += header_len + len;
    }
    if first_non_meta {
        // Without a group length the first data set header was consumed and the scan cannot
        // be aligned: leave the data set to dicom-rs.
        return Ok(None);
    }
    Ok(Some(ts.unwrap_or_default()))
}

/// What ended a run of elements.
enum End {
    /// End of data (or of the bounded region).
    Data,
    /// An item delimitation item.
    Item,
    /// A sequence delimitation item.
    Sequence,
}

/// Scans elements until the end of data, of `limit` bytes, or a delimiter.
fn scan_items(
    src: &mut impl Source,
    enc: Encoding,
    depth: usize,
    limit: Option<u64>,
) -> Result<End, ScanError> {
    if depth > MAX_DEPTH {
        return Err(ScanError::TooDeep);
    }
    let start_remaining = src.remaining();
    let used = |src: &dyn Fn() -> Option<u64>| -> Option<u64> {
        match (start_remaining, src()) {
            (Some(a), Some(b)) => Some(a - b.min(a)),
            _ => None,
        }
    };
    loop {
        if let (Some(limit), Some(u)) = (limit, used(&|| src.remaining()))
            && u >= limit
        {
            return Ok(End::Data);
        }
        let mut t = [0u8; 4];
        match src.read_header(&mut t) {
            Ok(true) => {}
            Ok(false) => return Ok(End::Data),
            Err(_) => {
                return Err(ScanError::Truncated {
                    group: 0,
                    element: 0,
                });
            }
        }
        let group = enc.u16([t[0], t[1]]);
        let element = enc.u16([t[2], t[3]]);
        let truncated = ScanError::Truncated { group, element };
        if group == 0xFFFE {
            let mut l = [0u8; 4];
            if src.read_header(&mut l).ok() != Some(true) {
                return Err(truncated);
            }
            let len = enc.u32(l);
            match (group, element) {
                ITEM_END => return Ok(End::Item),
                SEQ_END => return Ok(End::Sequence),
                ITEM => {
                    // A stray item at data-set level: treat its content as a data set.
                    scan_item_body(src, enc, depth, group, element, len)?;
                    continue;
                }
                _ => {
                    skip(src, group, element, u64::from(len))?;
                    continue;
                }
            }
        }
        let (vr, len) = if enc.explicit {
            let mut v = [0u8; 2];
            if src.read_header(&mut v).ok() != Some(true) {
                return Err(truncated);
            }
            if long_vr(v) {
                let mut l = [0u8; 6];
                if src.read_header(&mut l).ok() != Some(true) {
                    return Err(truncated);
                }
                (Some(v), enc.u32([l[2], l[3], l[4], l[5]]))
            } else {
                let mut l = [0u8; 2];
                if src.read_header(&mut l).ok() != Some(true) {
                    return Err(truncated);
                }
                (Some(v), u32::from(enc.u16(l)))
            }
        } else {
            let mut l = [0u8; 4];
            if src.read_header(&mut l).ok() != Some(true) {
                return Err(truncated);
            }
            (None, enc.u32(l))
        };
        if len == UNDEFINED {
            // A sequence, or encapsulated pixel data (fragments), or UN of undefined length
            // (a sequence in implicit VR).
            let fragments = (group, element) == (0x7FE0, 0x0010)
                || matches!(vr.as_ref(), Some(b"OB") | Some(b"OW"));
            scan_sequence(src, enc, depth + 1, fragments)?;
            continue;
        }
        let is_sequence = vr.as_ref() == Some(b"SQ");
        if is_sequence {
            check_len(src, group, element, u64::from(len))?;
            scan_bounded_sequence(src, enc, depth + 1, u64::from(len))?;
        } else {
            skip(src, group, element, u64::from(len))?;
        }
    }
}

fn check_len(src: &impl Source, group: u16, element: u16, len: u64) -> Result<(), ScanError> {
    match src.remaining() {
        Some(rem) if len > rem => Err(ScanError::Length {
            group,
            element,
            declared: len,
            remaining: rem,
        }),
        _ => Ok(()),
    }
}

fn skip(src: &mut impl Source, group: u16, element: u16, len: u64) -> Result<(), ScanError> {
    src.skip(len).map_err(|rem| ScanError::Length {
        group,
        element,
        declared: len,
        remaining: rem,
    })
}

/// Items of an undefined-length sequence, up to its delimiter.
fn scan_sequence(
    src: &mut impl Source,
    enc: Encoding,
    depth: usize,
    fragments: bool,
) -> Result<(), ScanError> {
    if depth > MAX_DEPTH {
        return Err(ScanError::TooDeep);
    }
    loop {
        let mut h = [0u8; 8];
        match src.read_header(&mut h) {
            Ok(true) => {}
            // A sequence cut off by the end of the file.
            _ => {
                return Err(ScanError::Truncated {
                    group: 0xFFFE,
                    element: 0xE000,
                });
            }
        }
        let group = enc.u16([h[0], h[1]]);
        let element = enc.u16([h[2], h[3]]);
        let len = enc.u32([h[4], h[5], h[6], h[7]]);
        match (group, element) {
            SEQ_END => return Ok(()),
            ITEM if fragments => {
                if len == UNDEFINED {
                    return Ok(()); // malformed; leave it to dicom-rs
                }
                skip(src, group, element, u64::from(len))?;
            }
            ITEM => scan_item_body(src, enc, depth, group, element, len)?,
            _ => return Ok(()), // not an item: malformed, leave it to dicom-rs
        }
    }
}

/// Items of a defined-length sequence.
fn scan_bounded_sequence(
    src: &mut impl Source,
    enc: Encoding,
    depth: usize,
    len: u64,
) -> Result<(), ScanError> {
    if depth > MAX_DEPTH {
        return Err(ScanError::TooDeep);
    }
    let mut left = len;
    while left >= 8 {
        let mut h = [0u8; 8];
        if src.read_header(&mut h).ok() != Some(true) {
            return Err(ScanError::Truncated {
                group: 0xFFFE,
                element: 0xE000,
            });
        }
        left -= 8;
        let group = enc.u16([h[0], h[1]]);
        let element = enc.u16([h[2], h[3]]);
        let item_len = enc.u32([h[4], h[5], h[6], h[7]]);
        if (group, element) != ITEM {
            // Not an item: skip what is left of the sequence's declared value.
            return skip(src, group, element, left);
        }
        if item_len == UNDEFINED {
            let before = src.remaining();
            scan_items(src, enc, depth, None)?;
            match (before, src.remaining()) {
                (Some(a), Some(b)) => left = left.saturating_sub(a - b.min(a)),
                _ => return Ok(()),
            }
        } else {
            let item_len = u64::from(item_len);
            if item_len > left {
                return Err(ScanError::Length {
                    group,
                    element,
                    declared: item_len,
                    remaining: left,
                });
            }
            scan_item_body(
                src,
                enc,
                depth,
                group,
                element,
                u32::try_from(item_len).unwrap_or(UNDEFINED),
            )?;
            left -= item_len;
        }
    }
    if left > 0 {
        skip(src, 0xFFFE, 0xE000, left)
    } else {
        Ok(())
    }
}

/// An item's data set: undefined length up to its delimiter, or exactly `len` bytes.
fn scan_item_body(
    src: &mut impl Source,
    enc: Encoding,
    depth: usize,
    group: u16,
    element: u16,
    len: u32,
) -> Result<(), ScanError> {
    if len == UNDEFINED {
        scan_items(src, enc, depth + 1, None)?;
        return Ok(());
    }
    let len = u64::from(len);
    check_len(src, group, element, len)?;
    let before = src.remaining();
    scan_items(src, enc, depth + 1, Some(len))?;
    // Skip whatever the element walk did not consume (e.g. a delimiter inside a defined item).
    if let (Some(a), Some(b)) = (before, src.remaining()) {
        let used = a - b.min(a);
        if used < len {
            skip(src, group, element, len - used)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(spec: &synth::fixture::InstanceSpec) -> Vec<u8> {
        spec.to_bytes().unwrap()
    }

    #[test]
    fn every_syntax_passes_and_cuts_fail() {
        for syntax in synth::fixture::Syntax::ALL {
            let spec = synth::fixture::InstanceSpec {
                syntax,
                nested: true,
                private_block: true,
                frames: 2,
                ..Default::default()
            };
            let bytes = file(&spec);
            check(&bytes, true).unwrap_or_else(|e| panic!("{syntax:?}: {e}"));
            let cut = &bytes[..bytes.len() - 10];
            assert!(
                check(cut, true).is_err(),
                "{syntax:?} cut by 10 bytes passed"
            );
            check_reader(&bytes[..], bytes.len() as u64, true)
                .unwrap_or_else(|e| panic!("{syntax:?}: {e}"));
            assert!(check_reader(cut, cut.len() as u64, true).is_err());
        }
    }

    #[test]
    fn huge_lengths_are_refused() {
        let bytes = synth::fixture::huge_length().unwrap();
        let err = check(&bytes, true).unwrap_err();
        assert!(
            matches!(
                err,
                ScanError::Length {
                    declared: 0xFFFF_FFF0,
                    ..
                }
            ),
            "{err}"
        );
        assert!(check_reader(&bytes[..], bytes.len() as u64, true).is_err());
    }

    #[test]
    fn deep_nesting_is_refused() {
        // Explicit VR LE data set: 100 nested undefined-length sequences.
        let mut body = Vec::new();
        for _ in 0..100 {
            body.extend_from_slice(&[
                0x08, 0x00, 0x15, 0x11, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
            ]);
            body.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        }
        let mut bytes = vec![0u8; 128];
        bytes.extend_from_slice(b"DICM");
        let ts = b"1.2.840.10008.1.2.1\0";
        let mut meta = Vec::new();
        meta.extend_from_slice(&[0x02, 0x00, 0x10, 0x00, b'U', b'I']);
        meta.extend_from_slice(&(ts.len() as u16).to_le_bytes());
        meta.extend_from_slice(ts);
        bytes.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, b'U', b'L', 4, 0]);
        bytes.extend_from_slice(&(meta.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&meta);
        bytes.extend_from_slice(&body);
        assert_eq!(check(&bytes, true), Err(ScanError::TooDeep));
    }
}
