//! [`super::readable`] for files too big to hold: the file is scanned streaming from disk, and
//! only when it needs a repair is its header (everything before the top-level Pixel Data; the
//! whole file if its data set is deflated) read into memory and repaired there.

use std::fs::File;
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use super::{readable, with_group_length};
use crate::scan::{self, Encoding, Layout, Options, Reading, ScanError};

/// How much of a file is read to find its meta group (a meta group is a few hundred bytes).
const HEAD: u64 = 1 << 20;

/// Where to parse a file's header from.
#[derive(Debug)]
pub enum HeaderSource {
    /// The file on disk, as it is.
    Disk,
    /// This repaired copy of its header (the file's first bytes, with the preamble if it has
    /// one, up to its top-level Pixel Data).
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
/// and says where its header is to be parsed from.
pub fn header_source(
    path: &Path,
    size: u64,
    preamble: bool,
    header_only: bool,
) -> Result<HeaderSource, FileError> {
    let start = if preamble { 132 } else { 4 };
    let mut head = Vec::new();
    File::open(path)?.take(HEAD).read_to_end(&mut head)?;
    let fixed = with_group_length(&head, start)?;
    let head_len = head.len() as u64;
    let first = fixed.unwrap_or(head);
    let repaired_meta = first.len() as u64 != head_len;
    let total = size + (first.len() as u64 - head_len);
    // The file as the scan and the parser see it: the (repaired) head, then the rest.
    let open = || -> io::Result<Box<dyn Read + '_>> {
        let mut f = File::open(path)?;
        f.seek(SeekFrom::Start(head_len))?;
        Ok(Box::new(
            Cursor::new(&first[..]).chain(BufReader::with_capacity(1 << 16, f)),
        ))
    };
    let options = Options {
        reading: Reading::Standard,
        header_only,
    };
    let layout = scan::check_reader_with(open()?, total, preamble, options)?;
    if !layout.unknown_vr && !repaired_meta {
        return Ok(HeaderSource::Disk);
    }
    let mut bytes = Vec::new();
    open()?
        .take(header_end(&layout, total))
        .read_to_end(&mut bytes)?;
    let copy = readable(&bytes, preamble)?;
    Ok(HeaderSource::Memory(copy.bytes.into_owned()))
}

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
