//! The zip central directory read header by header, as it is: every header in order until the
//! end records (the zip crate keeps one entry per name), zip64 sizes and offsets taken from the
//! zip64 extra field.

use std::io::{self, Read, Seek, SeekFrom};

/// The most central directory headers read (each takes at least 46 bytes).
pub const MAX_ZIP_ENTRIES: usize = 10_000_000;

/// One header of a zip's central directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CdEntry {
    /// Where the header starts in the file.
    pub(super) header_start: u64,
    pub(super) name_raw: Vec<u8>,
    pub(super) flags: u16,
    pub(super) method: u16,
    pub(super) crc32: u32,
    pub(super) compressed_size: u64,
    /// Uncompressed size.
    pub(super) size: u64,
    /// Where its local header starts, relative to the start of the zip (after any stub).
    pub(super) local_offset: u64,
    pub(super) extra: Vec<u8>,
    pub(super) comment: Vec<u8>,
}

/// The signature of a central directory header.
const CD_SIGNATURE: u32 = 0x0201_4b50;
/// The size of a central directory header after its signature, before its name.
const CD_FIXED: usize = 42;

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

/// Reads the central directory headers from `start` on, in order, until the first thing that is
/// not one (the end records); more than [`MAX_ZIP_ENTRIES`] headers is an error.
pub(super) fn central_directory(
    r: &mut (impl Read + Seek),
    start: u64,
) -> io::Result<Vec<CdEntry>> {
    central_directory_at_most(r, start, MAX_ZIP_ENTRIES)
}

/// [`central_directory`], with at most `max` headers.
pub(super) fn central_directory_at_most(
    r: &mut (impl Read + Seek),
    start: u64,
    max: usize,
) -> io::Result<Vec<CdEntry>> {
    r.seek(SeekFrom::Start(start))?;
    let mut headers = Vec::new();
    let mut pos = start;
    while let Some(h) = read_central_header(r, pos)? {
        if headers.len() >= max {
            return Err(invalid("more central directory entries than accepted"));
        }
        pos = pos
            .checked_add(4 + CD_FIXED as u64)
            .and_then(|p| p.checked_add(h.name_raw.len() as u64 + h.extra.len() as u64))
            .and_then(|p| p.checked_add(h.comment.len() as u64))
            .ok_or_else(|| invalid("central directory offset overflows"))?;
        headers.push(h);
    }
    Ok(headers)
}

/// Reads the central directory header at `pos` (where `r` stands), or `None` when something
/// else is there (the end records) or the file ends. Zip64 sizes and offsets are taken from the
/// zip64 extra field.
pub(super) fn read_central_header(r: &mut impl Read, pos: u64) -> io::Result<Option<CdEntry>> {
    let mut sig = [0u8; 4];
    match r.read_exact(&mut sig) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    if u32::from_le_bytes(sig) != CD_SIGNATURE {
        return Ok(None);
    }
    let mut h = [0u8; CD_FIXED];
    r.read_exact(&mut h)?;
    let u16_at = |i: usize| u16::from_le_bytes([h[i], h[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let (flags, method, crc32) = (u16_at(4), u16_at(6), u32_at(12));
    let (csize32, size32, offset32) = (u32_at(16), u32_at(20), u32_at(38));
    let (name_len, extra_len, comment_len) = (u16_at(24), u16_at(26), u16_at(28));
    let mut name_raw = vec![0u8; usize::from(name_len)];
    r.read_exact(&mut name_raw)?;
    let mut extra = vec![0u8; usize::from(extra_len)];
    r.read_exact(&mut extra)?;
    let mut comment = vec![0u8; usize::from(comment_len)];
    r.read_exact(&mut comment)?;
    let (mut size, mut compressed_size, mut local_offset) =
        (u64::from(size32), u64::from(csize32), u64::from(offset32));
    if size32 == u32::MAX || csize32 == u32::MAX || offset32 == u32::MAX {
        let zip64 =
            zip64_field(&extra).ok_or_else(|| invalid("zip64 entry without its extra field"))?;
        let mut values = zip64.chunks_exact(8).map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            u64::from_le_bytes(b)
        });
        let mut take = |flagged: bool, v: &mut u64| -> io::Result<()> {
            if flagged {
                *v = values
                    .next()
                    .ok_or_else(|| invalid("zip64 extra field too short"))?;
            }
            Ok(())
        };
        take(size32 == u32::MAX, &mut size)?;
        take(csize32 == u32::MAX, &mut compressed_size)?;
        take(offset32 == u32::MAX, &mut local_offset)?;
    }
    Ok(Some(CdEntry {
        header_start: pos,
        name_raw,
        flags,
        method,
        crc32,
        compressed_size,
        size,
        local_offset,
        extra,
        comment,
    }))
}

/// The data of the zip64 extended information extra field (id 0x0001), if present.
pub(super) fn zip64_field(extra: &[u8]) -> Option<&[u8]> {
    let mut rest = extra;
    while rest.len() >= 4 {
        let id = u16::from_le_bytes([rest[0], rest[1]]);
        let len = usize::from(u16::from_le_bytes([rest[2], rest[3]]));
        let data = rest.get(4..4 + len)?;
        if id == 0x0001 {
            return Some(data);
        }
        rest = rest.get(4 + len..)?;
    }
    None
}
