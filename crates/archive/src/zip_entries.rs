//! Every entry of a zip file, in central-directory order, and its data read within bounds: the
//! one walk of zips shared by the import (zip dumps) and the audit (zip packages).
//!
//! The zip crate indexes a zip's entries by name, so of several entries sharing a name its
//! index shows only the last (at the place of the first): a loop over that index misses the
//! others, and a careless or hostile zip can hide a file from it. [`ZipEntries`] reads the
//! central directory itself, header by header, and lists every entry: those the crate's index
//! shows are read through the crate, the ones it hides ([`ZipEntry::is_shadowed`]) from their
//! local headers with the sizes and CRC the central directory gives. Entries named like folders
//! are listed like any other (one may hold data; the caller decides). A zip behind a stub (a
//! self-extracting program, a spanning marker) is found by the crate, and every offset here
//! accounts for the stub.
//!
//! Reads are bounded. At most [`MAX_ZIP_ENTRIES`] headers are read; an entry claiming more than
//! [`MAX_ZIP_ENTRY`] bytes is flagged ([`ZipEntry::claims_too_much`]) so that the caller refuses
//! it unread; and an entry's data is read through a reader ([`ZipEntries::data`]) that fails,
//! rather than going on, once the entry yields more than it claims or more than the caller's
//! limit ([`OverLimit`]; [`ZipEntries::data_limit`] is the most an entry's own sizes allow: its
//! stored size, or what [`crate::scan::deflate_limit`] allows for its compressed size).
//!
//! ```
//! use std::io::{Read, Write};
//! use archive::zip_entries::{MAX_ZIP_ENTRY, ZipEntries};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("dump.zip");
//! # {
//! #     let mut z = zip::ZipWriter::new(std::fs::File::create(&path)?);
//! #     z.add_directory("SER1/", zip::write::SimpleFileOptions::default())?;
//! #     z.start_file("SER1/IM1", zip::write::SimpleFileOptions::default())?;
//! #     z.write_all(b"the bytes of IM1")?;
//! #     z.finish()?;
//! # }
//! let mut zip = ZipEntries::open(&path)?;
//! let mut files = Vec::new();
//! for position in 0..zip.len() {
//!     let entry = &zip.entries()[position];
//!     if (entry.is_folder_like() && entry.size == 0) || entry.claims_too_much() {
//!         continue;
//!     }
//!     let name = entry.name.clone().unwrap_or_default();
//!     let limit = zip.data_limit(position).min(MAX_ZIP_ENTRY);
//!     let mut bytes = Vec::new();
//!     zip.data(position, limit)?.read_to_end(&mut bytes)?;
//!     files.push((name, bytes));
//! }
//! assert_eq!(files, [("SER1/IM1".to_string(), b"the bytes of IM1".to_vec())]);
//! # Ok(()) }
//! ```

mod central;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::scan::deflate_limit;
use crate::text::path_text;

pub use central::MAX_ZIP_ENTRIES;

use central::{CdEntry, central_directory, read_central_header};

/// Zip entries claiming more than this are refused unread (a zip bomb guard).
pub const MAX_ZIP_ENTRY: u64 = 16 * 1024 * 1024 * 1024;

/// Why a zip cannot be opened at all: the file cannot be read, or its end records or central
/// directory cannot (the zip crate's error is the source).
#[derive(Debug, thiserror::Error)]
#[error("cannot read zip archive {}", path_text(.path))]
pub struct ZipOpenError {
    /// The zip file.
    pub path: PathBuf,
    /// What went wrong.
    #[source]
    pub source: zip::result::ZipError,
}

/// Why an entry's data cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EntryError {
    /// The zip crate refused the entry (encrypted, unsupported method, bad local header...).
    #[error(transparent)]
    Zip(#[from] zip::result::ZipError),
    /// The zip file could not be opened, sought or read.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The entry's local header lies beyond what an offset can hold.
    #[error("its offset is out of range")]
    OffsetOutOfRange,
    /// Where the central directory places the entry's local header, there is none.
    #[error("the central directory points at no local entry (corrupt zip)")]
    NoLocalEntry,
}

/// An entry yielded more bytes than the limit its reader was opened with (a decompression bomb,
/// or an entry larger than its headers say). Carried inside the [`io::Error`] the reader returns
/// (kind [`io::ErrorKind::InvalidData`]); see [`OverLimit::of`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the zip entry holds more than the {limit} bytes accepted")]
pub struct OverLimit {
    /// The limit.
    pub limit: u64,
}

impl OverLimit {
    /// The [`OverLimit`] an I/O error of an entry's reader carries, if it is one.
    pub fn of(err: &io::Error) -> Option<OverLimit> {
        err.get_ref()?.downcast_ref::<OverLimit>().copied()
    }
}

/// How an entry's data is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Stored as is (method 0).
    Stored,
    /// Deflated (method 8).
    Deflated,
    /// Any other method code (the crate reads some; others fail when read).
    Other(u16),
}

impl Method {
    fn from_code(code: u16) -> Method {
        match code {
            0 => Method::Stored,
            8 => Method::Deflated,
            other => Method::Other(other),
        }
    }
}

/// One entry of a zip's central directory. Offsets are from the start of the file (a stub
/// before the zip included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipEntry {
    /// Its place in the central directory, from 0.
    pub position: usize,
    /// Its name as stored.
    pub name_raw: Vec<u8>,
    /// Its name decoded as the zip crate decodes it (UTF-8 when flagged, else CP437, or the
    /// Unicode path extra field); for an entry the crate's index hides, the decoding of the
    /// entry it hides behind. `None` when the name cannot be decoded.
    pub name: Option<String>,
    /// How its data is compressed.
    pub method: Method,
    /// General purpose bit flags (bit 0: encrypted, bit 3: data descriptor, bit 11: UTF-8).
    pub flags: u16,
    /// CRC-32 of its data, as the central directory gives it.
    pub crc32: u32,
    /// Size of its data as stored (compressed).
    pub compressed_size: u64,
    /// Size of its data once inflated, as claimed.
    pub size: u64,
    /// Where its central directory header starts.
    pub central_header_start: u64,
    /// Where its local header starts (`None` when its offset plus the stub's size overflows:
    /// reading it then fails).
    pub local_header_start: Option<u64>,
    /// The extra field of its central directory header, raw (zip64 field included).
    pub extra: Vec<u8>,
    /// Its comment, raw.
    pub comment: Vec<u8>,
    /// Read through the crate's index (`Some(index)`), or hidden by it behind a later entry of
    /// the same name (`None`).
    crate_index: Option<usize>,
}

impl ZipEntry {
    /// Whether its name ends like a folder's (`/`, or `\` as some Windows tools write). Such an
    /// entry may still hold data.
    pub fn is_folder_like(&self) -> bool {
        self.name_raw.ends_with(b"/") || self.name_raw.ends_with(b"\\")
    }

    /// Whether it claims more than [`MAX_ZIP_ENTRY`] bytes: to be refused unread.
    pub fn claims_too_much(&self) -> bool {
        self.size > MAX_ZIP_ENTRY
    }

    /// Whether the zip crate's by-name index hides it behind a later entry of the same name
    /// (it is read from its local header).
    pub fn is_shadowed(&self) -> bool {
        self.crate_index.is_none()
    }

    /// Whether its data is encrypted (bit 0 of its flags).
    pub fn is_encrypted(&self) -> bool {
        self.flags & 1 != 0
    }
}

/// An entry's local header: what precedes its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalHeader {
    /// The name the local header gives, raw.
    pub name_raw: Vec<u8>,
    /// The local extra field, raw.
    pub extra: Vec<u8>,
    /// Where the entry's (compressed) data starts.
    pub data_start: u64,
}

/// The entries of one zip file and the means to read them.
pub struct ZipEntries {
    path: PathBuf,
    file_size: u64,
    archive: zip::ZipArchive<BufReader<File>>,
    /// A second handle on the file, for local headers and hidden entries (opened when needed).
    raw: Option<BufReader<File>>,
    entries: Vec<ZipEntry>,
    /// Why the central directory could not be walked (then only the crate's entries are listed).
    incomplete: Option<io::Error>,
}

impl std::fmt::Debug for ZipEntries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZipEntries")
            .field("path", &self.path)
            .field("entries", &self.entries.len())
            .field("incomplete", &self.incomplete)
            .finish_non_exhaustive()
    }
}

impl ZipEntries {
    /// Opens the zip at `path` and lists its entries. Fails only when the zip crate cannot read
    /// the zip's end records or central directory; when the central directory cannot be walked
    /// header by header, the entries the crate shows are listed and [`ZipEntries::incomplete`]
    /// says why.
    pub fn open(path: &Path) -> Result<ZipEntries, ZipOpenError> {
        let failed = |source| ZipOpenError {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(|e| failed(zip::result::ZipError::Io(e)))?;
        let file_size = file
            .metadata()
            .map_err(|e| failed(zip::result::ZipError::Io(e)))?
            .len();
        let archive = zip::ZipArchive::new(BufReader::new(file)).map_err(failed)?;
        let mut zip = ZipEntries {
            path: path.to_path_buf(),
            file_size,
            archive,
            raw: None,
            entries: Vec::new(),
            incomplete: None,
        };
        zip.list();
        Ok(zip)
    }

    /// Lists the entries: the central directory walked header by header, each header matched
    /// with the crate's entry at the same place.
    fn list(&mut self) {
        let archive = &self.archive;
        // The crate's entries, in its index's order, by where their headers start.
        let exposed: Vec<(u64, usize)> = (0..archive.len())
            .filter_map(|i| Some((archive.by_index_data(i).ok()?.central_header_start(), i)))
            .collect();
        let by_start: BTreeMap<u64, usize> = exposed.iter().copied().collect();
        let walked = File::open(&self.path)
            .map(BufReader::new)
            .and_then(|mut f| central_directory(&mut f, archive.central_directory_start()));
        let headers: Vec<(u64, Option<CdEntry>)> = match walked {
            Ok(cd) => cd.into_iter().map(|h| (h.header_start, Some(h))).collect(),
            Err(e) => {
                // The crate's entries, each with its own header if that one can be read.
                self.incomplete = Some(e);
                let mut raw = File::open(&self.path).map(BufReader::new).ok();
                exposed
                    .iter()
                    .map(|&(start, _)| {
                        let header = raw.as_mut().and_then(|r| {
                            r.seek(SeekFrom::Start(start)).ok()?;
                            read_central_header(r, start).ok().flatten()
                        });
                        (start, header)
                    })
                    .collect()
            }
        };
        let offset = archive.offset();
        let mut entries = Vec::with_capacity(headers.len());
        for (start, header) in headers {
            let position = entries.len();
            let entry = match by_start.get(&start) {
                Some(&i) => {
                    let Ok(e) = archive.by_index_data(i) else {
                        continue;
                    };
                    let (extra, comment, flags, method) = match header {
                        Some(h) => (h.extra, h.comment, h.flags, Method::from_code(h.method)),
                        None => (
                            Vec::new(),
                            e.comment().as_bytes().to_vec(),
                            0,
                            #[allow(deprecated)]
                            Method::from_code(e.compression().to_u16()),
                        ),
                    };
                    ZipEntry {
                        position,
                        name_raw: e.name_raw().to_vec(),
                        name: e.name().ok().map(|n| n.into_owned()),
                        method,
                        flags,
                        crc32: e.crc32(),
                        compressed_size: e.compressed_size(),
                        size: e.size(),
                        central_header_start: start,
                        local_header_start: Some(e.header_start()),
                        extra,
                        comment,
                        crate_index: Some(i),
                    }
                }
                None => {
                    let Some(h) = header else {
                        continue;
                    };
                    // The crate keys its index by raw name: the entry hiding this one has the
                    // same raw name, and its decoding is this name's.
                    let name = archive
                        .index_for_name_raw(&h.name_raw)
                        .and_then(|i| archive.by_index_data(i).ok())
                        .and_then(|e| e.name().ok().map(|n| n.into_owned()));
                    ZipEntry {
                        position,
                        name,
                        method: Method::from_code(h.method),
                        flags: h.flags,
                        crc32: h.crc32,
                        compressed_size: h.compressed_size,
                        size: h.size,
                        central_header_start: start,
                        local_header_start: offset.checked_add(h.local_offset),
                        name_raw: h.name_raw,
                        extra: h.extra,
                        comment: h.comment,
                        crate_index: None,
                    }
                }
            };
            entries.push(entry);
        }
        self.entries = entries;
    }

    /// The entries, in central-directory order.
    pub fn entries(&self) -> &[ZipEntry] {
        &self.entries
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the zip has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The zip file's comment, raw.
    pub fn comment(&self) -> &[u8] {
        self.archive.comment()
    }

    /// The size of the stub before the zip (a self-extracting program), 0 for most zips.
    pub fn stub_len(&self) -> u64 {
        self.archive.offset()
    }

    /// The size of the zip file.
    pub fn file_size(&self) -> u64 {
        self.file_size
    }

    /// Whether entries share names (then some are [shadowed](ZipEntry::is_shadowed)).
    pub fn has_duplicate_names(&self) -> bool {
        self.archive.has_duplicate_names()
    }

    /// Why the central directory could not be walked header by header, if it could not: then
    /// only the entries the crate's by-name index shows are listed (of each name the last).
    pub fn incomplete(&self) -> Option<&io::Error> {
        self.incomplete.as_ref()
    }

    /// The position of the entry a by-name lookup finds (the last of those sharing the name,
    /// or the first whose decoded name is `name`), as the zip crate's `by_name` does.
    pub fn find(&self, name: &str) -> Option<usize> {
        let i = self.archive.index_for_name(name)?;
        self.entries.iter().position(|e| e.crate_index == Some(i))
    }

    /// The most bytes the entry at `position` can hold by its own sizes: its stored size when
    /// stored, else what [`deflate_limit`] allows for its compressed size (neither beyond the
    /// zip file's size). Callers also cap it at [`MAX_ZIP_ENTRY`], or lower.
    pub fn data_limit(&self, position: usize) -> u64 {
        let Some(e) = self.entries.get(position) else {
            return 0;
        };
        let stored = e.compressed_size.min(self.file_size);
        match e.method {
            Method::Stored => stored,
            _ => deflate_limit(stored),
        }
    }

    /// The second handle on the zip file, opened when first needed (and again after a failed
    /// open).
    fn raw(&mut self) -> io::Result<&mut BufReader<File>> {
        raw_handle(&mut self.raw, &self.path)
    }

    /// Reads the local header of the entry at `position`.
    pub fn local_header(&mut self, position: usize) -> Result<LocalHeader, EntryError> {
        let start = self
            .entries
            .get(position)
            .ok_or(zip::result::ZipError::FileNotFound)?
            .local_header_start
            .ok_or(EntryError::OffsetOutOfRange)?;
        let r = self.raw()?;
        r.seek(SeekFrom::Start(start))?;
        let mut fixed = [0u8; 30];
        match r.read_exact(&mut fixed) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(EntryError::NoLocalEntry);
            }
            Err(e) => return Err(e.into()),
        }
        if !fixed.starts_with(b"PK\x03\x04") {
            return Err(EntryError::NoLocalEntry);
        }
        let name_len = usize::from(u16::from_le_bytes([fixed[26], fixed[27]]));
        let extra_len = usize::from(u16::from_le_bytes([fixed[28], fixed[29]]));
        let mut name_raw = vec![0u8; name_len];
        r.read_exact(&mut name_raw)?;
        let mut extra = vec![0u8; extra_len];
        r.read_exact(&mut extra)?;
        Ok(LocalHeader {
            name_raw,
            extra,
            data_start: start.saturating_add(30 + name_len as u64 + extra_len as u64),
        })
    }

    /// A reader of the data of the entry at `position`, inflated when deflated, its CRC checked
    /// at its end, yielding at most `limit` bytes: once the entry yields more, the read fails
    /// with [`OverLimit`] (see [`OverLimit::of`]). Nor does it yield more than the entry claims
    /// ([`ZipEntry::size`]): the zip crate fails the read there. Opening it reads the entry's
    /// local header.
    pub fn data(&mut self, position: usize, limit: u64) -> Result<EntryData<'_>, EntryError> {
        let entry = self
            .entries
            .get(position)
            .ok_or(zip::result::ZipError::FileNotFound)?;
        let file = match entry.crate_index {
            Some(i) => self.archive.by_index(i)?,
            None => {
                let start = entry
                    .local_header_start
                    .ok_or(EntryError::OffsetOutOfRange)?;
                let options = zip::ZipReadOptions::new()
                    .override_compressed_size(entry.compressed_size)
                    .override_uncompressed_size(entry.size)
                    .override_crc(entry.crc32);
                let raw = raw_handle(&mut self.raw, &self.path)?;
                raw.seek(SeekFrom::Start(start))?;
                zip::read::read_zipfile_from_stream_with_options(raw, options)?
                    .ok_or(EntryError::NoLocalEntry)?
            }
        };
        Ok(EntryData {
            file,
            left: limit,
            limit,
        })
    }
}

/// The handle in `slot`, opened on `path` if there is none yet.
fn raw_handle<'a>(
    slot: &'a mut Option<BufReader<File>>,
    path: &Path,
) -> io::Result<&'a mut BufReader<File>> {
    if slot.is_none() {
        return Ok(slot.insert(BufReader::new(File::open(path)?)));
    }
    slot.as_mut()
        .ok_or_else(|| io::Error::other("the zip file's handle is gone"))
}

/// The data of one entry (see [`ZipEntries::data`]).
pub struct EntryData<'z> {
    file: zip::read::ZipFile<'z, BufReader<File>>,
    left: u64,
    limit: u64,
}

impl Read for EntryData<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            // At the limit: the entry must end here (reading on also checks its CRC).
            let mut probe = [0u8; 1];
            return match self.file.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    OverLimit { limit: self.limit },
                )),
            };
        }
        let n = usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let got = self.file.read(&mut buf[..n])?;
        self.left -= got as u64;
        Ok(got)
    }
}

/// Whether the file at `path` opens as a zip (its end records and central directory read).
pub fn is_zip(path: &Path) -> bool {
    File::open(path)
        .map(BufReader::new)
        .map_err(zip::result::ZipError::Io)
        .and_then(zip::ZipArchive::new)
        .is_ok()
}

#[cfg(test)]
mod tests;
