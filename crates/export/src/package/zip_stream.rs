//! A zip package written as it goes, its central directory spooled to an unnamed temporary
//! file beside it and appended at the end: the zip crate's writer holds every entry's record in
//! memory (about 400 bytes an entry with the names it keeps, 400 MB for a million files), which
//! no export of any size may.
//!
//! Entries are stored (DICOM files do not compress well, and the audit reads every byte), with
//! UTF-8 names, the 1980-01-01 time the zip crate writes without a clock, permissions 0644, and
//! ZIP64 records where a size, an offset or the number of entries needs them (APPNOTE 6.3.10,
//! sections 4.3.7, 4.3.12, 4.3.14 to 4.3.16, 4.5.3). An entry whose bytes are given whole has
//! its CRC-32 computed before the lock is taken, and its local header written complete; an
//! entry written as it goes has its header's CRC and sizes written once it is done.
//! Two entries of one name are refused when the zip is finished, by sorted keyed hashes of the
//! names (see `distinct`), the name read back from the spooled directory.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::distinct::{DISTINCT_IN_MEMORY, Distinct};
use crate::uid_hash::UidHasher;

const LOCAL: u32 = 0x0403_4b50;
const CENTRAL: u32 = 0x0201_4b50;
const END: u32 = 0x0605_4b50;
const END64: u32 = 0x0606_4b50;
const LOCATOR64: u32 = 0x0706_4b50;
/// Bit 11: the name is UTF-8.
const UTF8: u16 = 1 << 11;
/// 1980-01-01 00:00 in MS-DOS form (date, time).
const DOS_DATE: u16 = (1 << 5) | 1;
/// Regular file, rw-r--r--, in the high half of the external attributes.
const EXTERNAL: u32 = 0o100_644 << 16;
/// Version made by: UNIX (3), APPNOTE 4.5.
const MADE_BY: u16 = (3 << 8) | 45;
const U32_MAX: u64 = 0xFFFF_FFFF;

/// How an entry's bytes are stored: its CRC-32, stored size, size and method (0 stored, 8
/// deflated: only a raw copy of another zip's entry keeps a method other than 0).
#[derive(Clone, Copy)]
pub(crate) struct Stored {
    pub(crate) crc: u32,
    pub(crate) compressed: u64,
    pub(crate) size: u64,
    pub(crate) method: u16,
}

/// The zip being written.
pub(crate) struct ZipStream {
    out: BufWriter<File>,
    /// Where the next entry starts.
    at: u64,
    central: BufWriter<File>,
    central_len: u64,
    entries: u64,
    names: Distinct<16>,
    hasher: UidHasher,
}

fn le16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn le32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn le64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// The fields a local header and a central directory record share, in their order: version
/// needed, flags, method, time, date, CRC-32.
fn shared_fields(out: &mut Vec<u8>, s: Stored, zip64: bool) {
    le16(out, if zip64 { 45 } else { 20 });
    le16(out, UTF8);
    le16(out, s.method);
    le16(out, 0);
    le16(out, DOS_DATE);
    le32(out, s.crc);
}

/// `v` as a 32-bit field: its value, or 0xFFFFFFFF where a ZIP64 field holds it.
fn field32(v: u64) -> u32 {
    u32::try_from(v)
        .ok()
        .filter(|v| *v != u32::MAX)
        .unwrap_or(u32::MAX)
}

fn too_long(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("zip entry {what} too long"),
    )
}

impl ZipStream {
    /// A zip written to `file`, its directory spooled in `spool_dir`.
    pub(crate) fn new(file: File, spool_dir: &Path, buffer: usize) -> io::Result<ZipStream> {
        Ok(ZipStream {
            out: BufWriter::with_capacity(buffer, file),
            at: 0,
            central: BufWriter::new(tempfile::tempfile_in(spool_dir)?),
            central_len: 0,
            entries: 0,
            names: Distinct::new(Some(spool_dir), DISTINCT_IN_MEMORY),
            hasher: UidHasher::default(),
        })
    }

    /// [`ZipStream::new`], its entries starting `offset` bytes into `file` (a hole): for the
    /// tests of ZIP64 offsets without writing 4 GiB.
    #[cfg(test)]
    fn new_at(file: File, spool_dir: &Path, offset: u64) -> io::Result<ZipStream> {
        use std::io::{Seek, SeekFrom};
        let mut file = file;
        file.seek(SeekFrom::Start(offset))?;
        let mut z = ZipStream::new(file, spool_dir, 4096)?;
        z.at = offset;
        Ok(z)
    }

    /// The local header of `name`; `zip64` adds the extra field that holds 8-byte sizes.
    fn local_header(name: &str, stored: Option<Stored>, zip64: bool) -> io::Result<Vec<u8>> {
        let name_len = u16::try_from(name.len()).map_err(|_| too_long("name"))?;
        let s = stored.unwrap_or(Stored {
            crc: 0,
            compressed: 0,
            size: 0,
            method: 0,
        });
        let mut h = Vec::with_capacity(30 + name.len() + 20);
        le32(&mut h, LOCAL);
        shared_fields(&mut h, s, zip64);
        if zip64 {
            le32(&mut h, u32::MAX);
            le32(&mut h, u32::MAX);
        } else {
            le32(&mut h, field32(s.compressed));
            le32(&mut h, field32(s.size));
        }
        le16(&mut h, name_len);
        le16(&mut h, if zip64 { 20 } else { 0 });
        h.extend_from_slice(name.as_bytes());
        if zip64 {
            le16(&mut h, 1);
            le16(&mut h, 16);
            le64(&mut h, s.size);
            le64(&mut h, s.compressed);
        }
        Ok(h)
    }

    /// Adds the entry `name` whose bytes are `bytes`, stored.
    pub(crate) fn add(&mut self, name: &str, bytes: &[u8], crc: u32) -> io::Result<()> {
        let len = bytes.len() as u64;
        let stored = Stored {
            crc,
            compressed: len,
            size: len,
            method: 0,
        };
        let start = self.at;
        let header = Self::local_header(name, Some(stored), len >= U32_MAX)?;
        self.out.write_all(&header)?;
        self.out.write_all(bytes)?;
        self.at += header.len() as u64 + len;
        self.directory(name, stored, start)
    }

    /// Adds the entry `name`, its bytes written by `write`, stored; the bytes written. Under
    /// 4 GiB unless `large`.
    pub(crate) fn add_with(
        &mut self,
        name: &str,
        large: bool,
        write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<u64> {
        let start = self.at;
        let header = Self::local_header(name, None, large)?;
        self.out.write_all(&header)?;
        let mut data = Crc {
            out: &mut self.out,
            crc: crc32fast::Hasher::new(),
            bytes: 0,
        };
        write(&mut data)?;
        let (crc, len) = (data.crc.finalize(), data.bytes);
        if !large && len >= U32_MAX {
            return Err(too_long("(4 GiB or more)"));
        }
        self.at += header.len() as u64 + len;
        let stored = Stored {
            crc,
            compressed: len,
            size: len,
            method: 0,
        };
        // The header's CRC and sizes, now known.
        self.out.flush()?;
        let file = self.out.get_ref();
        file.write_all_at(&crc.to_le_bytes(), start + 14)?;
        if large {
            let mut sizes = Vec::with_capacity(16);
            le64(&mut sizes, len);
            le64(&mut sizes, len);
            file.write_all_at(&sizes, start + 30 + name.len() as u64 + 4)?;
        } else {
            let mut sizes = Vec::with_capacity(8);
            le32(&mut sizes, field32(len));
            le32(&mut sizes, field32(len));
            file.write_all_at(&sizes, start + 18)?;
        }
        self.directory(name, stored, start)?;
        Ok(len)
    }

    /// Adds the entry `name` whose stored bytes (as another zip holds them) `raw` reads.
    pub(crate) fn add_raw(
        &mut self,
        name: &str,
        stored: Stored,
        raw: &mut dyn Read,
    ) -> io::Result<()> {
        let start = self.at;
        let zip64 = stored.size >= U32_MAX || stored.compressed >= U32_MAX;
        let header = Self::local_header(name, Some(stored), zip64)?;
        self.out.write_all(&header)?;
        let copied = io::copy(&mut raw.take(stored.compressed), &mut self.out)?;
        if copied != stored.compressed {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "a zip entry copied is shorter than its stored size",
            ));
        }
        self.at += header.len() as u64 + copied;
        self.directory(name, stored, start)
    }

    /// The central directory record of an entry whose local header is at `start`.
    fn directory(&mut self, name: &str, s: Stored, start: u64) -> io::Result<()> {
        let hash = self.hasher.hash(name).to_le_bytes();
        self.names.push(hash)?;
        let name_len = u16::try_from(name.len()).map_err(|_| too_long("name"))?;
        let mut extra = Vec::new();
        for v in [s.size, s.compressed, start] {
            if v >= U32_MAX {
                le64(&mut extra, v);
            }
        }
        let zip64 = !extra.is_empty();
        let mut r = Vec::with_capacity(46 + name.len() + 28);
        le32(&mut r, CENTRAL);
        le16(&mut r, MADE_BY);
        shared_fields(&mut r, s, zip64);
        le32(&mut r, field32(s.compressed));
        le32(&mut r, field32(s.size));
        le16(&mut r, name_len);
        le16(&mut r, if zip64 { 4 + extra.len() as u16 } else { 0 });
        le16(&mut r, 0);
        le16(&mut r, 0);
        le16(&mut r, 0);
        le32(&mut r, EXTERNAL);
        le32(&mut r, field32(start));
        r.extend_from_slice(name.as_bytes());
        if zip64 {
            le16(&mut r, 1);
            le16(&mut r, extra.len() as u16);
            r.extend_from_slice(&extra);
        }
        self.central.write_all(&r)?;
        self.central_len += r.len() as u64;
        self.entries += 1;
        Ok(())
    }

    /// Appends the central directory and its end records; the zip's file, written but not
    /// synced. Fails with the name when two entries share one.
    pub(crate) fn finish(self) -> Result<File, FinishError> {
        let ZipStream {
            mut out,
            at,
            mut central,
            central_len,
            entries,
            names,
            hasher,
        } = self;
        central.flush()?;
        if let Some(twice) = names.first_equal()? {
            return Err(FinishError::Duplicate(find_name(&central, &hasher, twice)?));
        }
        let mut central = central.into_inner().map_err(|e| e.into_error())?;
        let mut reader = io::BufReader::new(&mut central);
        std::io::Seek::rewind(&mut reader)?;
        let copied = io::copy(&mut reader, &mut out)?;
        if copied != central_len {
            return Err(
                io::Error::other("the spooled zip directory is shorter than written").into(),
            );
        }
        let mut end = Vec::with_capacity(98);
        let zip64 = entries >= 0xFFFF || central_len >= U32_MAX || at >= U32_MAX;
        if zip64 {
            let record = at + central_len;
            le32(&mut end, END64);
            le64(&mut end, 44);
            le16(&mut end, MADE_BY);
            le16(&mut end, 45);
            le32(&mut end, 0);
            le32(&mut end, 0);
            le64(&mut end, entries);
            le64(&mut end, entries);
            le64(&mut end, central_len);
            le64(&mut end, at);
            le32(&mut end, LOCATOR64);
            le32(&mut end, 0);
            le64(&mut end, record);
            le32(&mut end, 1);
        }
        let entries16 = if zip64 {
            u16::MAX
        } else {
            u16::try_from(entries).unwrap_or(u16::MAX)
        };
        le32(&mut end, END);
        le16(&mut end, 0);
        le16(&mut end, 0);
        le16(&mut end, entries16);
        le16(&mut end, entries16);
        le32(&mut end, field32(central_len));
        le32(&mut end, field32(at));
        le16(&mut end, 0);
        out.write_all(&end)?;
        out.into_inner().map_err(|e| e.into_error().into())
    }
}

/// Why a zip could not be finished.
#[derive(Debug)]
pub(crate) enum FinishError {
    /// Two entries have this name.
    Duplicate(String),
    Io(io::Error),
}

impl From<io::Error> for FinishError {
    fn from(e: io::Error) -> FinishError {
        FinishError::Io(e)
    }
}

/// The name in the spooled directory whose keyed hash is `hash`.
fn find_name(central: &BufWriter<File>, hasher: &UidHasher, hash: [u8; 16]) -> io::Result<String> {
    let file = central.get_ref();
    let mut at = 0u64;
    let mut head = [0u8; 46];
    while file.read_exact_at(&mut head, at).is_ok() {
        let n = usize::from(u16::from_le_bytes([head[28], head[29]]));
        let extra = u64::from(u16::from_le_bytes([head[30], head[31]]));
        let mut name = vec![0u8; n];
        file.read_exact_at(&mut name, at + 46)?;
        let name = String::from_utf8_lossy(&name).into_owned();
        if hasher.hash(&name).to_le_bytes() == hash {
            return Ok(name);
        }
        at += 46 + n as u64 + extra;
    }
    Ok(String::new())
}

/// Counts and checksums what an entry's writer writes.
struct Crc<'a> {
    out: &'a mut BufWriter<File>,
    crc: crc32fast::Hasher,
    bytes: u64,
}

impl Write for Crc<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.crc.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(path: &Path) -> Vec<(String, Vec<u8>)> {
        let mut z = zip::ZipArchive::new(File::open(path).expect("open")).expect("a zip");
        (0..z.len())
            .map(|i| {
                let mut e = z.by_index(i).expect("entry");
                let mut b = Vec::new();
                // The zip crate checks each entry's CRC-32 as it reads it.
                e.read_to_end(&mut b).expect("read");
                (e.name().expect("name").to_string(), b)
            })
            .collect()
    }

    fn write(path: &Path, offset: u64, entries: &[(String, Vec<u8>)]) {
        let dir = path.parent().expect("dir");
        let mut z =
            ZipStream::new_at(File::create(path).expect("create"), dir, offset).expect("zip");
        for (i, (name, bytes)) in entries.iter().enumerate() {
            if i % 2 == 0 {
                z.add(name, bytes, crc32fast::hash(bytes)).expect("add");
            } else {
                let n = z
                    .add_with(name, i % 4 == 1, |w| {
                        for c in bytes.chunks(3) {
                            w.write_all(c)?;
                        }
                        Ok(())
                    })
                    .expect("add");
                assert_eq!(n, bytes.len() as u64);
            }
        }
        z.finish().map_err(|e| format!("{e:?}")).expect("finish");
    }

    fn entries(n: usize) -> Vec<(String, Vec<u8>)> {
        (0..n)
            .map(|i| {
                let bytes: Vec<u8> = (0..(i * 7) % 300).map(|k| (k * i) as u8).collect();
                (format!("P{}/1/{}/{i:05}.dcm", i % 3, i % 5), bytes)
            })
            .collect()
    }

    #[test]
    fn a_zip_reads_back_as_written() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("a.zip");
        let want = entries(200);
        write(&path, 0, &want);
        assert_eq!(contents(&path), want);
        // The directory's spool is an unnamed file: only the zip is left.
        assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 1);
    }

    #[test]
    fn more_than_65535_entries_take_zip64_end_records() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("many.zip");
        let want: Vec<(String, Vec<u8>)> = (0..70_000)
            .map(|i| (format!("f/{i}"), vec![i as u8; i % 3]))
            .collect();
        write(&path, 0, &want);
        let bytes = std::fs::read(&path).expect("read");
        let end = &bytes[bytes.len() - 22..];
        assert_eq!(&end[..4], &END.to_le_bytes());
        assert_eq!(
            &end[10..12],
            &[0xFF, 0xFF],
            "the entries are in the ZIP64 record"
        );
        assert_eq!(contents(&path), want);
    }

    #[test]
    fn entries_past_4_gib_take_zip64_offsets() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("far.zip");
        let want = entries(40);
        write(&path, (1 << 32) + 12_345, &want);
        assert_eq!(contents(&path), want);
    }

    #[test]
    fn raw_copies_keep_the_bytes_crc_and_method() {
        let dir = tempfile::tempdir().expect("dir");
        let src = dir.path().join("src.zip");
        {
            let mut z = zip::ZipWriter::new(File::create(&src).expect("create"));
            for (i, method) in [
                zip::CompressionMethod::Deflated,
                zip::CompressionMethod::Stored,
            ]
            .into_iter()
            .enumerate()
            {
                z.start_file(
                    format!("e{i}.txt"),
                    zip::write::SimpleFileOptions::default().compression_method(method),
                )
                .expect("start");
                z.write_all(&b"depot ".repeat(1_000)).expect("write");
            }
            z.finish().expect("finish");
        }
        let out = dir.path().join("copy.zip");
        let mut w =
            ZipStream::new(File::create(&out).expect("create"), dir.path(), 4096).expect("zip");
        let mut z = zip::ZipArchive::new(File::open(&src).expect("open")).expect("zip");
        for i in 0..2 {
            let mut e = z.by_index_raw(i).expect("raw");
            let stored = Stored {
                crc: e.crc32(),
                compressed: e.compressed_size(),
                size: e.size(),
                method: if i == 0 { 8 } else { 0 },
            };
            let name = e.name().expect("name").to_string();
            w.add_raw(&name, stored, &mut e).expect("copy");
        }
        w.finish().map_err(|e| format!("{e:?}")).expect("finish");
        let got = contents(&out);
        assert_eq!(got.len(), 2);
        for (_, b) in got {
            assert_eq!(b, b"depot ".repeat(1_000));
        }
        let mut z = zip::ZipArchive::new(File::open(&out).expect("open")).expect("zip");
        assert_eq!(
            z.by_index(0).expect("e0").compression(),
            zip::CompressionMethod::Deflated
        );
    }
}
