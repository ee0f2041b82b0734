//! A structural pre-check of a DICOM file's declared lengths, run before dicom-rs parses it,
//! and the one place that knows a file's byte layout (where the data set starts, how it is
//! encoded, where the top-level Pixel Data lies).
//!
//! dicom-rs 0.10 reserves and zero-fills an element's declared length before it reads the
//! value, so a small hostile file declaring a 4 GB element costs 4 GB of memory (and several of
//! them in parallel end the process). This scanner walks the element headers, item by item and
//! into sequences, without reading values, and refuses any length that exceeds what is left of
//! the file (which also catches most truncated files, with a precise reason), sequences nested
//! absurdly deep (which would exhaust a recursive parser's stack), and deflated data sets that
//! inflate far beyond their file (decompression bombs).
//!
//! The protection only holds if the scanner sees the same structure dicom-rs will parse: a
//! scanner that skipped a sequence as opaque bytes, or read a header one field wider than the
//! parser does, would leave lengths unchecked. So the walk mirrors dicom-rs's decisions
//! exactly: the file meta group is bounded by its group length, which must come first (as
//! dicom-rs requires); in explicit VR only the VRs of PS3.5 Table 7.1-2 have a 2-byte length,
//! every other code (unknown ones included, which dicom-rs reads as UN) a 4-byte one; in
//! implicit VR a defined-length element is a sequence when the dictionary says SQ; any
//! undefined-length element other than Pixel Data is a sequence of data sets; an element that
//! runs past the end of its item or sequence is an error. Whatever the walk cannot place is
//! refused, never left to the parser.
//!
//! One thing dicom-rs 0.10 reads against the standard: an element of VR UN and undefined
//! length in an explicit VR data set. PS3.5 6.2.2 says its value is a sequence whose items
//! stay encoded in Implicit VR Little Endian (the element was a sequence in an implicit VR
//! file, and whoever converted it did not know its VR); dicom-rs reads the items in the data
//! set's own explicit encoding, which turns their headers into garbage lengths. The walk can
//! follow either reading ([`Reading`]): dicom-rs's, for callers that hand the bytes to
//! dicom-rs as they are, or the standard's, for callers that parse the copy
//! [`crate::reading`] makes, in which such sequences are re-encoded as SQ.

use std::io::{self, Read};
use std::ops::Range;

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;
use dicom_encoding::transfer_syntax::{Codec, Endianness, TransferSyntaxIndex};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

/// Deepest sequence nesting accepted.
pub const MAX_DEPTH: usize = 64;

/// A deflated data set may inflate to at most this many bytes plus
/// [`DEFLATE_RATIO`] times the size of its file.
pub const DEFLATE_ALLOWANCE: u64 = 256 << 20;
/// See [`DEFLATE_ALLOWANCE`]. Sparse segmentations and label maps compress far better than
/// images (a 94 KB deflated SEG can hold 64 MiB of frames).
pub const DEFLATE_RATIO: u64 = 64;
/// The part of a deflated data set before its Pixel Data (what a header-only parse holds in
/// memory, many files at once during an import) may inflate to at most this many bytes plus
/// [`DEFLATE_HEADER_RATIO`] times the size of its file. Headers are kilobytes; a bigger
/// "header" is a decompression bomb aimed at the parser's memory.
pub const DEFLATE_HEADER_ALLOWANCE: u64 = 16 << 20;
/// See [`DEFLATE_HEADER_ALLOWANCE`]. An RTSTRUCT's contour data (text numbers) is its
/// "header" and compresses about 4:1.
pub const DEFLATE_HEADER_RATIO: u64 = 8;

/// Whose reading of the data set the walk follows. The two differ only on elements of VR UN
/// and undefined length in explicit VR data sets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Reading {
    /// dicom-rs 0.10's: such an element is a sequence whose items are encoded like the rest of
    /// the data set. For bytes that are handed to dicom-rs as they are.
    #[default]
    DicomRs,
    /// The standard's (PS3.5 6.2.2, as DCMTK reads it): such an element is a sequence whose
    /// items, delimiters included, are encoded in Implicit VR Little Endian, whatever the
    /// data set's encoding, at any depth. Bytes walked this way must only reach dicom-rs
    /// through [`crate::reading::readable`], which re-encodes those sequences.
    Standard,
}

/// How to walk a file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Whose reading to follow.
    pub reading: Reading,
    /// Stop at the top-level Pixel Data (its header is checked, its value is not): for
    /// callers that only parse the header. [`Layout::pixel_data`] is then the empty range at
    /// its start.
    pub header_only: bool,
}

const UNDEFINED: u32 = 0xFFFF_FFFF;
const ITEM: (u16, u16) = (0xFFFE, 0xE000);
const ITEM_END: (u16, u16) = (0xFFFE, 0xE00D);
const SEQ_END: (u16, u16) = (0xFFFE, 0xE0DD);
const PIXEL_DATA: (u16, u16) = (0x7FE0, 0x0010);
const PADDING: (u16, u16) = (0xFFFC, 0xFFFC);

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
    /// The deflated data set inflates beyond the allowance for its file's size.
    #[error("hostile: the deflated data set inflates beyond {limit} bytes (a decompression bomb?)")]
    DeflateBomb {
        /// The allowance that was exceeded.
        limit: u64,
    },
    /// The file meta group names a transfer syntax dicom-rs does not know.
    #[error("unsupported or invalid transfer syntax {0:?}")]
    UnknownTransferSyntax(String),
    /// The file meta group names no transfer syntax: (0002,0010) is missing or empty.
    #[error(
        "the file meta group names no transfer syntax (Transfer Syntax UID (0002,0010) is missing or empty), so the data set's encoding is unknown"
    )]
    NoTransferSyntax,
    /// The structure cannot be what it claims (e.g. an element outside an item inside a
    /// sequence, an element running past the end of its item, a missing meta group length).
    #[error("malformed: {0}")]
    Malformed(String),
}

/// How a data set is encoded, as far as its element headers are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Implicit VR little endian.
    ImplicitLittle,
    /// Explicit VR little endian (also every encapsulated pixel syntax).
    ExplicitLittle,
    /// Explicit VR big endian (retired, still seen).
    ExplicitBig,
    /// Explicit VR little endian, the whole data set deflated.
    Deflated,
}

impl Encoding {
    /// The encoding of a transfer syntax UID as the file meta group holds it, looked up the
    /// way dicom-rs looks it up (its registry, which trims trailing whitespace and NULs), so
    /// that the scan reads the data set exactly as the parser will. `None` for a syntax the
    /// registry does not know (dicom-rs refuses to read such a data set).
    pub fn of_transfer_syntax(uid: &str) -> Option<Encoding> {
        let ts = TransferSyntaxRegistry.get(uid)?;
        Some(if ts.uid() == "1.2.840.10008.1.2" {
            Encoding::ImplicitLittle
        } else if matches!(ts.codec(), Codec::Dataset(_)) {
            Encoding::Deflated
        } else if ts.endianness() == Endianness::Big {
            Encoding::ExplicitBig
        } else {
            Encoding::ExplicitLittle
        })
    }

    fn explicit(self) -> bool {
        self != Encoding::ImplicitLittle
    }

    fn big_endian(self) -> bool {
        self == Encoding::ExplicitBig
    }

    fn u16(self, b: [u8; 2]) -> u16 {
        if self.big_endian() {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    }

    fn u32(self, b: [u8; 4]) -> u32 {
        if self.big_endian() {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }
}

/// What the scan learnt of a file's byte layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Offset in the file where the data set starts (just after the file meta group).
    pub data_set_start: u64,
    /// The transfer syntax UID of the file meta group, trimmed.
    pub transfer_syntax: String,
    /// How the data set is encoded.
    pub encoding: Encoding,
    /// The top-level Pixel Data element, header included, as offsets from the start of the
    /// data set: in the file, or in the inflated stream when the data set is deflated.
    pub pixel_data: Option<Range<u64>>,
    /// True when nothing but Data Set Trailing Padding follows the top-level Pixel Data.
    pub pixel_data_is_last: bool,
    /// The data set holds, at some depth, an explicit VR element of VR UN that depot reads
    /// with its real VR: a standard attribute the dictionary knows, or a sequence of
    /// undefined length. dicom-rs would keep the first as bytes and misread the second; parse
    /// [`crate::reading::readable`]'s copy instead of these bytes.
    pub unknown_vr: bool,
}

impl Layout {
    /// The byte range of the top-level Pixel Data element in the file itself (header
    /// included), when the data set is not deflated.
    pub fn pixel_data_in_file(&self) -> Option<Range<usize>> {
        if self.encoding == Encoding::Deflated {
            return None;
        }
        let r = self.pixel_data.as_ref()?;
        let start = usize::try_from(self.data_set_start.checked_add(r.start)?).ok()?;
        let end = usize::try_from(self.data_set_start.checked_add(r.end)?).ok()?;
        Some(start..end)
    }
}

/// The most bytes a deflated data set in a file of `file_size` bytes may inflate to.
pub fn deflate_limit(file_size: u64) -> u64 {
    DEFLATE_ALLOWANCE.saturating_add(file_size.saturating_mul(DEFLATE_RATIO))
}

/// The most bytes the part before Pixel Data of such a data set may inflate to.
pub fn deflate_header_limit(file_size: u64) -> u64 {
    DEFLATE_HEADER_ALLOWANCE.saturating_add(file_size.saturating_mul(DEFLATE_HEADER_RATIO))
}

/// Refuses a deflated data set whose part before Pixel Data (all of it, without pixel data)
/// inflates beyond [`deflate_header_limit`].
fn check_header_size(walk: &Walk, inflated_len: u64, file_size: u64) -> Result<(), ScanError> {
    let header = walk.pixel_data.as_ref().map_or(inflated_len, |r| r.start);
    let limit = deflate_header_limit(file_size);
    if header > limit {
        return Err(ScanError::DeflateBomb { limit });
    }
    Ok(())
}

/// A byte source that can read small headers and skip values.
trait Source {
    /// Fills `buf`, or returns false at a clean end of data.
    fn read_header(&mut self, buf: &mut [u8]) -> Result<bool, ScanError>;
    /// Skips `n` bytes; `Err` with the bytes remaining when there are fewer.
    fn skip(&mut self, n: u64) -> Result<(), SkipError>;
    /// Bytes left, when known.
    fn remaining(&self) -> Option<u64>;
    /// Bytes consumed so far.
    fn position(&self) -> u64;
    /// The next `n` bytes, when the source holds them in memory.
    fn peek(&self, _n: usize) -> Option<&[u8]> {
        None
    }
}

/// Why a skip failed.
enum SkipError {
    /// Only this many bytes were left.
    Short(u64),
    /// The source itself failed (e.g. an inflate error or bomb).
    Source(ScanError),
}

struct Slice<'a> {
    data: &'a [u8],
    total: usize,
}

impl<'a> Slice<'a> {
    fn new(data: &'a [u8]) -> Slice<'a> {
        Slice {
            data,
            total: data.len(),
        }
    }
}

impl Source for Slice<'_> {
    fn read_header(&mut self, buf: &mut [u8]) -> Result<bool, ScanError> {
        if self.data.is_empty() {
            return Ok(false);
        }
        match (self.data.get(..buf.len()), self.data.get(buf.len()..)) {
            (Some(head), Some(rest)) => {
                buf.copy_from_slice(head);
                self.data = rest;
                Ok(true)
            }
            _ => Err(ScanError::Truncated {
                group: 0,
                element: 0,
            }),
        }
    }

    fn skip(&mut self, n: u64) -> Result<(), SkipError> {
        let left = self.data.len() as u64;
        match usize::try_from(n).ok().and_then(|n| self.data.get(n..)) {
            Some(rest) if n <= left => {
                self.data = rest;
                Ok(())
            }
            _ => Err(SkipError::Short(left)),
        }
    }

    fn remaining(&self) -> Option<u64> {
        Some(self.data.len() as u64)
    }

    fn position(&self) -> u64 {
        (self.total - self.data.len()) as u64
    }

    fn peek(&self, n: usize) -> Option<&[u8]> {
        self.data.get(..n)
    }
}

/// A stream: the rest of a big file (`left` known), or an inflated data set (`left` unknown,
/// `limit` bounds it).
struct Stream<R: Read> {
    r: R,
    read: u64,
    left: Option<u64>,
    limit: u64,
}

impl<R: Read> Stream<R> {
    fn inflate_error(e: &io::Error) -> ScanError {
        ScanError::Deflate(e.to_string())
    }

    fn over_limit(&self) -> Result<(), ScanError> {
        if self.read > self.limit {
            Err(ScanError::DeflateBomb { limit: self.limit })
        } else {
            Ok(())
        }
    }
}

impl<R: Read> Source for Stream<R> {
    fn read_header(&mut self, buf: &mut [u8]) -> Result<bool, ScanError> {
        let mut filled = 0;
        while filled < buf.len() {
            let Some(rest) = buf.get_mut(filled..) else {
                break;
            };
            let n = match self.r.read(rest) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Self::inflate_error(&e)),
            };
            if n == 0 {
                if filled == 0 {
                    return Ok(false);
                }
                return Err(ScanError::Truncated {
                    group: 0,
                    element: 0,
                });
            }
            filled += n;
        }
        self.read += buf.len() as u64;
        if let Some(left) = self.left.as_mut() {
            *left = left.saturating_sub(buf.len() as u64);
        }
        self.over_limit()?;
        Ok(true)
    }

    fn skip(&mut self, n: u64) -> Result<(), SkipError> {
        if let Some(left) = self.left
            && n > left
        {
            return Err(SkipError::Short(left));
        }
        // Never skip past the limit: a bomb is stopped at the limit, not after it.
        let room = self.limit.saturating_sub(self.read).saturating_add(1);
        let want = n.min(room);
        let copied = io::copy(&mut (&mut self.r).take(want), &mut io::sink())
            .map_err(|e| SkipError::Source(Self::inflate_error(&e)))?;
        self.read += copied;
        if let Some(left) = self.left.as_mut() {
            *left = left.saturating_sub(copied);
        }
        self.over_limit().map_err(SkipError::Source)?;
        if copied == n {
            Ok(())
        } else {
            Err(SkipError::Short(copied))
        }
    }

    fn remaining(&self) -> Option<u64> {
        self.left
    }

    fn position(&self) -> u64 {
        self.read
    }
}

/// Checks the declared lengths of a whole DICOM file held in memory (starting with the
/// 128-byte preamble when `preamble` is true, else with `DICM`) as dicom-rs reads it, and
/// returns its layout.
pub fn check(bytes: &[u8], preamble: bool) -> Result<Layout, ScanError> {
    check_with(bytes, preamble, Options::default())
}

/// [`check`] with other [`Options`].
pub fn check_with(bytes: &[u8], preamble: bool, options: Options) -> Result<Layout, ScanError> {
    let start: usize = if preamble { 132 } else { 4 };
    let Some(body) = bytes.get(start..) else {
        return Err(ScanError::Truncated {
            group: 0x0002,
            element: 0,
        });
    };
    let mut src = Slice::new(body);
    let transfer_syntax = scan_meta(&mut src)?;
    let data_set_start = start as u64 + src.position();
    let encoding = resolve(&transfer_syntax)?;
    let mut walk = Walk::new(encoding, options);
    if encoding == Encoding::Deflated {
        let mut inflated = Stream {
            r: flate2::read::DeflateDecoder::new(src.data),
            read: 0,
            left: None,
            limit: deflate_limit(bytes.len() as u64),
        };
        walk.data_set(&mut inflated)?;
        check_header_size(&walk, inflated.position(), bytes.len() as u64)?;
    } else {
        let mut rest = Slice::new(src.data);
        walk.data_set(&mut rest)?;
    }
    Ok(walk.layout(data_set_start, &transfer_syntax))
}

/// Checks a file streamed from a reader of known total size (for files too big to hold), as
/// dicom-rs reads it.
pub fn check_reader(r: impl Read, size: u64, preamble: bool) -> Result<Layout, ScanError> {
    check_reader_with(r, size, preamble, Options::default())
}

/// [`check_reader`] with other [`Options`].
pub fn check_reader_with(
    mut r: impl Read,
    size: u64,
    preamble: bool,
    options: Options,
) -> Result<Layout, ScanError> {
    let start: u64 = if preamble { 132 } else { 4 };
    let mut head = [0u8; 132];
    let head = head.get_mut(..start as usize).unwrap_or_default();
    if r.read_exact(head).is_err() {
        return Err(ScanError::Truncated {
            group: 0x0002,
            element: 0,
        });
    }
    let mut src = Stream {
        r,
        read: 0,
        left: Some(size.saturating_sub(start)),
        limit: u64::MAX,
    };
    let transfer_syntax = scan_meta(&mut src)?;
    let data_set_start = start + src.position();
    let encoding = resolve(&transfer_syntax)?;
    let mut walk = Walk::new(encoding, options);
    if encoding == Encoding::Deflated {
        let mut inflated = Stream {
            r: flate2::read::DeflateDecoder::new(src.r),
            read: 0,
            left: None,
            limit: deflate_limit(size),
        };
        walk.data_set(&mut inflated)?;
        check_header_size(&walk, inflated.position(), size)?;
    } else {
        let mut rest = Stream {
            r: src.r,
            read: 0,
            left: src.left,
            limit: u64::MAX,
        };
        walk.data_set(&mut rest)?;
    }
    Ok(walk.layout(data_set_start, &transfer_syntax))
}

/// Checks a bare data set held in memory (no preamble, no `DICM`, no file meta group) read
/// in `encoding`, which must not be [`Encoding::Deflated`]; the layout's offsets are from the
/// start of `bytes` and its transfer syntax is the uncompressed one of that encoding.
pub fn check_data_set(
    bytes: &[u8],
    encoding: Encoding,
    options: Options,
) -> Result<Layout, ScanError> {
    let transfer_syntax = match encoding {
        Encoding::ImplicitLittle => "1.2.840.10008.1.2",
        Encoding::ExplicitLittle => "1.2.840.10008.1.2.1",
        Encoding::ExplicitBig => "1.2.840.10008.1.2.2",
        Encoding::Deflated => {
            return Err(ScanError::Malformed(
                "a bare data set cannot be deflated".into(),
            ));
        }
    };
    let mut walk = Walk::new(encoding, options);
    walk.data_set(&mut Slice::new(bytes))?;
    Ok(walk.layout(0, transfer_syntax))
}

/// The data set's encoding, or the refusal dicom-rs would give.
fn resolve(transfer_syntax: &str) -> Result<Encoding, ScanError> {
    if transfer_syntax
        .trim_matches(|c: char| c.is_whitespace() || c == '\0')
        .is_empty()
    {
        return Err(ScanError::NoTransferSyntax);
    }
    Encoding::of_transfer_syntax(transfer_syntax).ok_or_else(|| {
        ScanError::UnknownTransferSyntax(
            transfer_syntax
                .trim_end_matches(|c: char| c.is_whitespace() || c == '\0')
                .chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .take(80)
                .collect(),
        )
    })
}

fn short_read(group: u16, element: u16) -> impl Fn(ScanError) -> ScanError {
    move |e| match e {
        ScanError::Truncated { .. } => ScanError::Truncated { group, element },
        other => other,
    }
}

fn skip(src: &mut impl Source, group: u16, element: u16, len: u64) -> Result<(), ScanError> {
    src.skip(len).map_err(|e| match e {
        SkipError::Short(remaining) => ScanError::Length {
            group,
            element,
            declared: len,
            remaining,
        },
        SkipError::Source(e) => e,
    })
}

/// Refuses a declared length larger than what is left of the source, before anything is read.
fn check_len(src: &impl Source, group: u16, element: u16, len: u64) -> Result<(), ScanError> {
    match src.remaining() {
        Some(remaining) if len > remaining => Err(ScanError::Length {
            group,
            element,
            declared: len,
            remaining,
        }),
        _ => Ok(()),
    }
}

/// Explicit VRs whose length field is 16 bits (PS3.5 Table 7.1-2). Every other code, unknown
/// ones included (dicom-rs reads those as UN), has a reserved field and a 32-bit length.
pub(crate) fn short_vr(vr: [u8; 2]) -> bool {
    matches!(
        &vr,
        b"AE"
            | b"AS"
            | b"AT"
            | b"CS"
            | b"DA"
            | b"DS"
            | b"DT"
            | b"FL"
            | b"FD"
            | b"IS"
            | b"LO"
            | b"LT"
            | b"PN"
            | b"SH"
            | b"SL"
            | b"SS"
            | b"ST"
            | b"TM"
            | b"UI"
            | b"UL"
            | b"US"
    )
}

/// One element header as dicom-rs would decode it.
struct Header {
    group: u16,
    element: u16,
    /// The explicit VR code, if the encoding is explicit and the tag is not an item tag.
    vr: Option<[u8; 2]>,
    len: u32,
}

impl Header {
    fn tag(&self) -> (u16, u16) {
        (self.group, self.element)
    }
}

/// Reads one element header; `None` at a clean end of data.
fn read_header(src: &mut impl Source, enc: Encoding) -> Result<Option<Header>, ScanError> {
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
fn scan_meta(src: &mut impl Source) -> Result<String, ScanError> {
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

/// A walk over a data set's element headers, remembering where the top-level Pixel Data is.
struct Walk {
    /// The encoding of the headers being read: the data set's, or Implicit VR Little Endian
    /// inside a UN sequence (under [`Reading::Standard`]).
    enc: Encoding,
    options: Options,
    /// How many UN sequences of undefined length the walk is inside.
    in_un: usize,
    pixel_data: Option<Range<u64>>,
    after_pixel_data: bool,
    unknown_vr: bool,
}

/// What ended a run of elements.
enum End {
    /// End of data, or the end of a defined-length item.
    Data,
    /// An item delimitation item.
    Item,
}

impl Walk {
    fn new(enc: Encoding, options: Options) -> Walk {
        Walk {
            enc,
            options,
            in_un: 0,
            pixel_data: None,
            after_pixel_data: false,
            unknown_vr: false,
        }
    }

    fn layout(self, data_set_start: u64, transfer_syntax: &str) -> Layout {
        Layout {
            data_set_start,
            transfer_syntax: transfer_syntax
                .trim_end_matches(|c: char| c.is_whitespace() || c == '\0')
                .to_string(),
            encoding: self.enc,
            pixel_data_is_last: self.pixel_data.is_some() && !self.after_pixel_data,
            pixel_data: self.pixel_data,
            unknown_vr: self.unknown_vr,
        }
    }

    /// The top-level data set, to the end of the data.
    fn data_set(&mut self, src: &mut impl Source) -> Result<(), ScanError> {
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
        self.unknown_vr |=
            h.len == UNDEFINED || crate::reading::dictionary_vr(Tag(h.group, h.element)).is_some();
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
                    let seq_end = src.position().saturating_add(len);
                    self.sequence(src, depth + 1, Some(seq_end))?;
                } else {
                    self.check_value_size(&h, len)?;
                    self.check_value_count(src, &h, len)?;
                    skip(src, h.group, h.element, len)?;
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

    /// dicom-rs splits a multi-valued text value on every backslash and keeps each part as a
    /// string of its own (about 24 bytes before its text): a value of nothing but backslashes
    /// costs some 24 times its length. Values that long with parts that short are refused.
    /// (Only where the bytes are in memory: files streamed from disk are parsed one at a time.)
    fn check_value_count(&self, src: &impl Source, h: &Header, len: u64) -> Result<(), ScanError> {
        const LONG: u64 = 64 << 10;
        if len < LONG {
            return Ok(());
        }
        let vr = match h.vr {
            Some(vr) => VR::from_binary(vr),
            None => StandardDataDictionary
                .by_tag(Tag(h.group, h.element))
                .map(|e| e.vr().relaxed()),
        };
        let split = matches!(
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
        );
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
                ITEM if h.len != UNDEFINED => skip(src, h.group, h.element, u64::from(h.len))?,
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

impl Encoding {
    /// Item headers are tag + 4-byte length in every encoding; only the byte order matters.
    fn item_headers(self) -> Encoding {
        if self.big_endian() {
            Encoding::ExplicitBig
        } else {
            Encoding::ImplicitLittle
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(spec: &synth::fixture::InstanceSpec) -> Vec<u8> {
        spec.to_bytes().unwrap()
    }

    /// A two-frame instance with nested sequences and a private block, in `syntax`.
    fn hard_file(syntax: synth::fixture::Syntax) -> Vec<u8> {
        file(&synth::fixture::InstanceSpec {
            syntax,
            nested: true,
            private_block: true,
            frames: 2,
            ..Default::default()
        })
    }

    #[test]
    fn every_syntax_passes_and_cuts_fail() {
        for syntax in synth::fixture::Syntax::ALL {
            let bytes = hard_file(syntax);
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

    /// A file: preamble, `DICM`, a meta group with the transfer syntax, then `body`.
    fn with_meta(ts: &str, body: &[u8]) -> Vec<u8> {
        let mut ts = ts.as_bytes().to_vec();
        if ts.len() % 2 == 1 {
            ts.push(0);
        }
        let mut meta = Vec::new();
        meta.extend_from_slice(&[0x02, 0x00, 0x10, 0x00, b'U', b'I']);
        meta.extend_from_slice(&(ts.len() as u16).to_le_bytes());
        meta.extend_from_slice(&ts);
        let mut bytes = vec![0u8; 128];
        bytes.extend_from_slice(b"DICM");
        bytes.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, b'U', b'L', 4, 0]);
        bytes.extend_from_slice(&(meta.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&meta);
        bytes.extend_from_slice(body);
        bytes
    }

    const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
    const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
    const DEFLATED: &str = "1.2.840.10008.1.2.1.99";

    /// An explicit VR LE element with a 16-bit length.
    fn short(group: u16, element: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
        let mut e = Vec::new();
        e.extend_from_slice(&group.to_le_bytes());
        e.extend_from_slice(&element.to_le_bytes());
        e.extend_from_slice(vr);
        e.extend_from_slice(&(value.len() as u16).to_le_bytes());
        e.extend_from_slice(value);
        e
    }

    fn deflate(body: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut enc =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(body).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn unknown_vr_codes_have_long_lengths_as_in_dicom_rs() {
        // VR "ZZ": dicom-rs reads it as UN, with a 4-byte length (here 1 GiB). Read with a
        // 2-byte length the header would say 0 and the scan would pass.
        let mut body = short(0x0010, 0x0010, b"PN", b"DOE^JOHN");
        body.extend_from_slice(&[0x11, 0x00, 0x10, 0x00, b'Z', b'Z', 0, 0]);
        body.extend_from_slice(&0x4000_0000u32.to_le_bytes());
        let err = check(&with_meta(EXPLICIT_LE, &body), true).unwrap_err();
        assert!(
            matches!(
                err,
                ScanError::Length {
                    group: 0x0011,
                    declared: 0x4000_0000,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn an_overlong_meta_group_length_still_checks_what_it_swallows() {
        // The group length claims 100 bytes more than the meta group has: dicom-rs goes on
        // reading data set elements as meta elements, and so must the scan.
        let mut bytes = with_meta(EXPLICIT_LE, &[]);
        let len_at = 132 + 8;
        let len = u32::from_le_bytes(bytes[len_at..len_at + 4].try_into().unwrap());
        bytes[len_at..len_at + 4].copy_from_slice(&(len + 100).to_le_bytes());
        bytes.extend_from_slice(&[0x09, 0x00, 0x10, 0x00, b'O', b'B', 0, 0]);
        bytes.extend_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        bytes.extend_from_slice(&[0u8; 200]);
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
    }

    #[test]
    fn a_meta_group_without_group_length_is_malformed() {
        let mut bytes = vec![0u8; 128];
        bytes.extend_from_slice(b"DICM");
        bytes.extend_from_slice(&short(0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2.1\0"));
        let err = check(&bytes, true).unwrap_err();
        assert!(matches!(err, ScanError::Malformed(_)), "{err}");
    }

    #[test]
    fn implicit_vr_sequences_of_defined_length_are_walked_by_dictionary() {
        // (0008,1140) Referenced Image Sequence, defined length, one item holding an element
        // that declares 1 GiB: opaque bytes to a VR-blind scan, a sequence to dicom-rs.
        let mut inner = Vec::new();
        inner.extend_from_slice(&[0x08, 0x00, 0x50, 0x11]);
        inner.extend_from_slice(&0x4000_0000u32.to_le_bytes());
        let mut item = vec![0xFE, 0xFF, 0x00, 0xE0];
        item.extend_from_slice(&(inner.len() as u32).to_le_bytes());
        item.extend_from_slice(&inner);
        let mut body = vec![0x08, 0x00, 0x40, 0x11];
        body.extend_from_slice(&(item.len() as u32).to_le_bytes());
        body.extend_from_slice(&item);
        let err = check(&with_meta(IMPLICIT_LE, &body), true).unwrap_err();
        assert!(matches!(err, ScanError::Length { .. }), "{err}");
    }

    #[test]
    fn deflated_sequences_of_defined_length_with_several_items_pass() {
        // Explicit lengths everywhere (as pydicom writes them): two items of one element each.
        let uid = short(0x0008, 0x1155, b"UI", b"1.2.3.4\0");
        let mut items = Vec::new();
        for _ in 0..2 {
            items.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0]);
            items.extend_from_slice(&(uid.len() as u32).to_le_bytes());
            items.extend_from_slice(&uid);
        }
        let mut body = vec![0x08, 0x00, 0x40, 0x11, b'S', b'Q', 0, 0];
        body.extend_from_slice(&(items.len() as u32).to_le_bytes());
        body.extend_from_slice(&items);
        body.extend_from_slice(&short(0x0010, 0x0010, b"PN", b"DOE^JOHN"));
        let layout = check(&with_meta(DEFLATED, &deflate(&body)), true).unwrap();
        assert_eq!(layout.encoding, Encoding::Deflated);
        // The same data set not deflated passes too.
        check(&with_meta(EXPLICIT_LE, &body), true).unwrap();
        // And an item that runs past its sequence is refused.
        let mut bad = body.clone();
        bad[8..12].copy_from_slice(&((items.len() - 4) as u32).to_le_bytes());
        assert!(check(&with_meta(EXPLICIT_LE, &bad), true).is_err());
    }

    #[test]
    fn deflate_bombs_are_refused() {
        // The total allowance, shown with a small limit (the real one is hundreds of MiB):
        // the inflater stops at the limit, it never inflates past it.
        use std::io::Write;
        let n: u32 = 4 << 20;
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&[0x09, 0x00, 0x10, 0x10, b'O', b'B', 0, 0])
            .unwrap();
        enc.write_all(&n.to_le_bytes()).unwrap();
        enc.write_all(&vec![0u8; n as usize]).unwrap();
        let deflated = enc.finish().unwrap();
        let mut inflated = Stream {
            r: flate2::read::DeflateDecoder::new(&deflated[..]),
            read: 0,
            left: None,
            limit: 1 << 20,
        };
        let err = Walk::new(Encoding::Deflated, Options::default())
            .data_set(&mut inflated)
            .unwrap_err();
        assert!(
            matches!(err, ScanError::DeflateBomb { limit } if limit == 1 << 20),
            "{err}"
        );
        assert!(inflated.position() <= (1 << 20) + 1);
        // Within the limits the same data set passes (the public entry points' limits are
        // covered by `a_deflated_header_far_bigger_than_its_file_is_a_bomb`).
        let bytes = with_meta(DEFLATED, &deflated);
        assert!(u64::from(n) < deflate_header_limit(bytes.len() as u64));
        check(&bytes, true).unwrap();
        check_reader(&bytes[..], bytes.len() as u64, true).unwrap();
    }

    #[test]
    fn layout_locates_the_top_level_pixel_data() {
        for syntax in synth::fixture::Syntax::ALL {
            let bytes = hard_file(syntax);
            let layout = check(&bytes, true).unwrap();
            assert_eq!(
                Some(layout.encoding),
                Encoding::of_transfer_syntax(syntax.uid())
            );
            let pixel = layout.pixel_data.clone().expect("pixel data found");
            assert!(layout.pixel_data_is_last, "{syntax:?}");
            if let Some(range) = layout.pixel_data_in_file() {
                assert_eq!(range.end, bytes.len(), "{syntax:?}");
                let tag = &bytes[range.start..range.start + 4];
                let expected: [u8; 4] = if layout.encoding == Encoding::ExplicitBig {
                    [0x7F, 0xE0, 0x00, 0x10]
                } else {
                    [0xE0, 0x7F, 0x10, 0x00]
                };
                assert_eq!(tag, expected, "{syntax:?}");
            } else {
                assert_eq!(layout.encoding, Encoding::Deflated);
                assert!(pixel.end > pixel.start);
            }
            assert_eq!(
                check_reader(&bytes[..], bytes.len() as u64, true).unwrap(),
                layout
            );
        }
    }

    #[test]
    fn the_transfer_syntax_is_read_as_dicom_rs_reads_it() {
        // A trailing tab: dicom-rs's registry trims it and reads implicit VR, so must the scan
        // (read as explicit VR, the 1 GiB length below would hide in a "short" header).
        let mut body = vec![0x09, 0x00, 0x10, 0x10];
        body.extend_from_slice(&0x4000_0000u32.to_le_bytes());
        let mut bytes = with_meta("1.2.840.10008.1.2\t", &body);
        let err = check(&bytes, true).unwrap_err();
        assert!(matches!(err, ScanError::Length { .. }), "{err}");
        // A syntax nobody knows, and one longer than any UID, are refused outright.
        bytes = with_meta("1.2.3.4.5", &body);
        assert!(matches!(
            check(&bytes, true),
            Err(ScanError::UnknownTransferSyntax(_))
        ));
        bytes = with_meta(&"1".repeat(300), &body);
        assert!(matches!(
            check(&bytes, true),
            Err(ScanError::UnknownTransferSyntax(_))
        ));
    }

    #[test]
    fn pixel_data_declared_sq_is_walked_as_a_sequence() {
        // (7FE0,0010) SQ of undefined length holding an item with a 1 GiB OB: dicom-rs parses
        // it as a sequence of data sets, not as pixel fragments.
        let mut body = vec![
            0xE0, 0x7F, 0x10, 0x00, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ];
        body.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        body.extend_from_slice(&[0x09, 0x00, 0x10, 0x10, b'O', b'B', 0, 0]);
        body.extend_from_slice(&0x4000_0000u32.to_le_bytes());
        let err = check(&with_meta(EXPLICIT_LE, &body), true).unwrap_err();
        assert!(matches!(err, ScanError::Length { .. }), "{err}");
    }

    #[test]
    fn a_deflated_header_far_bigger_than_its_file_is_a_bomb() {
        // 24 MiB of spaces in one OB before the pixel data: within the total allowance, far
        // beyond what a header-only parse should hold.
        use std::io::Write;
        let n: u32 = 24 << 20;
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&[0x09, 0x00, 0x10, 0x10, b'O', b'B', 0, 0])
            .unwrap();
        enc.write_all(&n.to_le_bytes()).unwrap();
        enc.write_all(&vec![b' '; n as usize]).unwrap();
        enc.write_all(&[0xE0, 0x7F, 0x10, 0x00, b'O', b'W', 0, 0, 2, 0, 0, 0, 0, 0])
            .unwrap();
        let bytes = with_meta(DEFLATED, &enc.finish().unwrap());
        assert!(u64::from(n) < deflate_limit(bytes.len() as u64));
        let err = check(&bytes, true).unwrap_err();
        assert!(matches!(err, ScanError::DeflateBomb { .. }), "{err}");
    }

    #[test]
    fn values_of_nothing_but_backslashes_are_refused() {
        let hostile = vec![b'\\'; 100_000];
        let body = {
            let mut b = vec![0x08, 0x00, 0x30, 0x10, b'L', b'O'];
            // LO has a 2-byte length: use UC (long VR) to hold 100 kB.
            b[4] = b'U';
            b[5] = b'C';
            b.extend_from_slice(&[0, 0]);
            b.extend_from_slice(&(hostile.len() as u32).to_le_bytes());
            b.extend_from_slice(&hostile);
            b
        };
        let err = check(&with_meta(EXPLICIT_LE, &body), true).unwrap_err();
        assert!(matches!(err, ScanError::Malformed(_)), "{err}");
        // Contour-like data with real values passes.
        let values: Vec<u8> = (0..20_000)
            .map(|i| format!("{i}.5"))
            .collect::<Vec<_>>()
            .join("\\")
            .into_bytes();
        let mut b = vec![0x08, 0x00, 0x30, 0x10, b'U', b'C', 0, 0];
        let mut v = values.clone();
        if v.len() % 2 == 1 {
            v.push(b' ');
        }
        b.extend_from_slice(&(v.len() as u32).to_le_bytes());
        b.extend_from_slice(&v);
        check(&with_meta(EXPLICIT_LE, &b), true).unwrap();
    }

    #[test]
    fn binary_lengths_that_are_no_whole_number_of_values_are_refused() {
        // FD of 10 bytes: dicom-rs reads 8 and would take the last 2 as the next header.
        let mut body = vec![0x18, 0x00, 0x88, 0x00, b'F', b'D', 10, 0];
        body.extend_from_slice(&[0u8; 10]);
        let err = check(&with_meta(EXPLICIT_LE, &body), true).unwrap_err();
        assert!(matches!(err, ScanError::Malformed(_)), "{err}");
        let mut ok = vec![0x18, 0x00, 0x88, 0x00, b'F', b'D', 8, 0];
        ok.extend_from_slice(&[0u8; 8]);
        check(&with_meta(EXPLICIT_LE, &ok), true).unwrap();
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
