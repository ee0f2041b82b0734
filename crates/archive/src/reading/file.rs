//! [`super::readable`] for files on disk whose header alone is wanted, or that are too big to
//! hold: the file is scanned streaming from disk, and only its header (everything before the
//! top-level Pixel Data; the whole file if its data set is deflated) is handed to the parser,
//! from the bytes already read when it lies within them, from a repaired copy when it needs a
//! repair, else from the file itself.

use std::fs::File;
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use super::meta::with_group_length;
use super::readable::readable;
use crate::scan::{self, Encoding, Layout, Options, Reading, ScanError};

/// How much of a file is read first: its preamble and meta group, and for nearly every file its
/// whole header (a CT or MR header is a few kilobytes), so that a header-only reader reads
/// each file's first bytes once and little of its pixel data.
const FIRST: u64 = 16 << 10;

/// The longest header read into memory: one that the first read did not hold is read on from
/// where it stopped, up to this size; a longer one is parsed from the file.
const HEADER_IN_MEMORY: u64 = 64 << 10;

/// How much of a file is read to find a meta group that is longer than [`FIRST`] and lacks its
/// group length.
const HEAD: u64 = 1 << 20;

/// Where to parse a file's header from.
#[derive(Debug)]
pub enum HeaderSource {
    /// The file on disk, as it is.
    Disk,
    /// These bytes: the file's first bytes, with the preamble if it has one, up to its
    /// top-level Pixel Data (the whole file when it has none or its data set is deflated),
    /// repaired where dicom-rs needs it (see [`super::readable`]). When they are the file's
    /// own bytes, the Pixel Data element's header follows (not its value), so that a parser
    /// reading up to Pixel Data stops at its tag.
    Memory(Vec<u8>),
}

/// Why a file on disk could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Reading it failed.
    #[error("cannot read: {0}")]
    Io(#[from] io::Error),
    /// Its structure is refused.
    #[error(transparent)]
    Scan(#[from] ScanError),
}

/// Scans the file at `path` (`size` bytes; with a 128-byte preamble when `preamble`) under
/// [`Reading::Standard`], all of it or, when `header_only`, up to its top-level Pixel Data,
/// and says where its header is to be parsed from, with the layout the scan found (whose
/// [`Layout::header_cost`] is what parsing that header builds).
pub fn header_source(
    path: &Path,
    size: u64,
    preamble: bool,
    header_only: bool,
) -> Result<(HeaderSource, Layout), FileError> {
    header_source_of(File::open(path)?, size, preamble, header_only)
}

/// [`header_source`] for a file already open (read from its start, whatever its position).
pub fn header_source_of(
    file: File,
    size: u64,
    preamble: bool,
    header_only: bool,
) -> Result<(HeaderSource, Layout), FileError> {
    let start = if preamble { 132 } else { 4 };
    let mut file = file;
    file.seek(SeekFrom::Start(0))?;
    // Sized up front: one read for the whole first part (a growing vector reads it in a
    // dozen pieces).
    let mut head = Vec::with_capacity(usize::try_from(size.min(FIRST)).unwrap_or(0) + 1);
    (&mut file).take(FIRST).read_to_end(&mut head)?;
    let fixed = match with_group_length(&head, start) {
        Ok(fixed) => fixed,
        // A meta group without its group length that runs past the first bytes.
        Err(_) if (head.len() as u64) < size.min(HEAD) => {
            (&mut file)
                .take(HEAD - head.len() as u64)
                .read_to_end(&mut head)?;
            with_group_length(&head, start)?
        }
        Err(e) => return Err(e.into()),
    };
    let head_len = head.len() as u64;
    let first = fixed.unwrap_or(head);
    let repaired_meta = first.len() as u64 != head_len;
    let total = size + (first.len() as u64 - head_len);
    // The file as the scan and the parser see it: the (repaired) head, then the rest.
    let open = || -> io::Result<Box<dyn Read + '_>> {
        let mut f = &file;
        f.seek(SeekFrom::Start(head_len))?;
        Ok(Box::new(
            Cursor::new(&first[..]).chain(BufReader::with_capacity(1 << 16, f)),
        ))
    };
    let options = Options {
        reading: Reading::Standard,
        header_only,
    };
    // What the scan reads past the first bytes is kept, up to a header's worth: a header the
    // first read did not hold is parsed from the very bytes the scan checked.
    let cap = usize::try_from(HEADER_IN_MEMORY.saturating_sub(first.len() as u64)).unwrap_or(0);
    let mut scanned = Keep::new(open()?, first.len(), cap);
    let layout = scan::check_reader_with(&mut scanned, total, preamble, options)?;
    let read_on = scanned.into_kept();
    if !layout.unknown_vr && !repaired_meta {
        let end = header_end(&layout, total);
        let mut header = first;
        // The bytes are the file's own (nothing was repaired), so the kept ones follow on.
        header.extend_from_slice(&read_on);
        let source = match usize::try_from(end) {
            Ok(end) if end <= header.len() => {
                let keep = with_pixel_data_header(&layout, end, header.len());
                header.truncate(keep);
                HeaderSource::Memory(header)
            }
            _ => HeaderSource::Disk,
        };
        return Ok((source, layout));
    }
    let mut bytes = Vec::new();
    open()?
        .take(header_end(&layout, total))
        .read_to_end(&mut bytes)?;
    let copy = readable(&bytes, preamble)?;
    Ok((HeaderSource::Memory(copy.bytes.into_owned()), copy.layout))
}

/// A reader that keeps a copy of what it returns after its first `skip` bytes, up to `cap`
/// bytes.
struct Keep<R> {
    inner: R,
    skip: usize,
    kept: Vec<u8>,
    cap: usize,
}

impl<R: Read> Keep<R> {
    fn new(inner: R, skip: usize, cap: usize) -> Keep<R> {
        Keep {
            inner,
            skip,
            kept: Vec::new(),
            cap,
        }
    }

    fn into_kept(self) -> Vec<u8> {
        self.kept
    }
}

impl<R: Read> Read for Keep<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let got = buf.get(..n).unwrap_or_default();
        let skipped = self.skip.min(got.len());
        self.skip -= skipped;
        let room = self.cap.saturating_sub(self.kept.len());
        let after = got.get(skipped..).unwrap_or_default();
        self.kept
            .extend_from_slice(after.get(..room.min(after.len())).unwrap_or_default());
        Ok(n)
    }
}

/// How many of the `have` bytes read to keep for a header that ends at `end`: with the Pixel
/// Data element's header too when it lies within them, so that a parser reading up to Pixel
/// Data stops at its tag instead of running into the end of the bytes (where dicom-rs builds
/// an error, capturing a backtrace whatever `RUST_BACKTRACE` says, before it reports a clean
/// end). The header is 8 or 12 bytes; 12 are kept either way (a parser never reads on after
/// the header), and none when fewer than 12 were read, since a header cut short after its tag
/// is an error to dicom-rs, not an end.
fn with_pixel_data_header(layout: &Layout, end: usize, have: usize) -> usize {
    let at_pixel_data = layout
        .pixel_data_in_file()
        .is_some_and(|pixel| pixel.start == end);
    match end.checked_add(PIXEL_DATA_HEADER) {
        Some(with_header) if at_pixel_data && with_header <= have => with_header,
        _ => end,
    }
}

/// The longest element header: tag, explicit VR, two reserved bytes and a 4-byte length.
const PIXEL_DATA_HEADER: usize = 12;

/// Where the header ends: at the top-level Pixel Data, or the end of the file when there is
/// none or the data set is deflated (its bytes cannot be cut).
fn header_end(layout: &Layout, total: u64) -> u64 {
    match &layout.pixel_data {
        Some(pixel) if layout.encoding != Encoding::Deflated => {
            layout.data_set_start.saturating_add(pixel.start)
        }
        _ => total,
    }
}
