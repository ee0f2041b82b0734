//! The plan's kept headers past what an export keeps in memory, in a temporary file.
//!
//! An export of many files cannot keep every de-identified header in memory (a hundred
//! thousand CT headers are hundreds of megabytes), and without them the write phase parses,
//! de-identifies and encodes each header a second time: half the CPU of the plan, again. So
//! the headers past the memory allowance are written to an unnamed temporary file in the
//! archive's own `tmp/` folder (they hold what the level keeps of the data, and the
//! identifiers the plan cut: they stay beside the archive, never in the system's temporary
//! folder), and read back by the write phase. The file has no name (`O_TMPFILE`): it is gone
//! when the export ends, however it ends (where the file system has no unnamed files, NFS for
//! one, `tempfile` makes a named file and removes it at once; a crash of an NFS client could
//! leave it behind). Each entry is written once by the plan's worker that made it, at an
//! offset reserved for it, with a digest of its bytes and offset, and read once by the write
//! phase; an entry that cannot be written, or read back whole and matching its digest, is
//! simply not reused (the write phase then does the whole work, as for a file the allowance
//! left out). What an entry holds is `reuse`'s business: here it is bytes.

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// The temporary file of kept headers.
pub(crate) struct KeptFile {
    file: File,
    /// Where the next entry goes: the bytes reserved so far.
    end: AtomicU64,
    /// The most bytes it holds.
    limit: u64,
}

impl KeptFile {
    /// A new, empty file in `dir` holding at most `limit` bytes.
    pub(crate) fn create(dir: &Path, limit: u64) -> io::Result<KeptFile> {
        std::fs::create_dir_all(dir)?;
        Ok(KeptFile {
            file: tempfile::tempfile_in(dir)?,
            end: AtomicU64::new(0),
            limit,
        })
    }

    /// Writes `bytes`, followed by their digest; where the entry lies (offset, length), or
    /// `None` when the file is full or the write failed.
    pub(crate) fn put(&self, bytes: &[u8]) -> Option<(u64, u64)> {
        let len = bytes.len() as u64 + DIGEST as u64;
        let offset = self
            .end
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |end| {
                end.checked_add(len).filter(|e| *e <= self.limit)
            })
            .ok()?;
        let mut entry = Vec::with_capacity(bytes.len() + DIGEST);
        entry.extend_from_slice(bytes);
        entry.extend_from_slice(digest(offset, bytes).as_bytes());
        write_at(&self.file, &entry, offset).ok()?;
        Some((offset, len))
    }

    /// The bytes `put` wrote in the entry at `offset` of `len` bytes; `None` unless they are
    /// exactly those (read whole, and their digest, which covers the offset, matches).
    pub(crate) fn get(&self, offset: u64, len: u64) -> Option<Vec<u8>> {
        let mut entry = vec![0; usize::try_from(len).ok()?];
        read_at(&self.file, &mut entry, offset).ok()?;
        let at = entry.len().checked_sub(DIGEST)?;
        let (bytes, sum) = entry.split_at(at);
        if digest(offset, bytes).as_bytes() != sum {
            return None;
        }
        entry.truncate(at);
        Some(entry)
    }
}

/// The bytes of a digest.
const DIGEST: usize = 32;

/// The digest of an entry's bytes at `offset`: an entry read back from elsewhere, cut, or
/// changed on its way through the disk is not taken for one.
fn digest(offset: u64, bytes: &[u8]) -> blake3::Hash {
    let mut h = blake3::Hasher::new();
    h.update(&offset.to_le_bytes());
    h.update(bytes);
    h.finalize()
}

#[cfg(unix)]
fn write_at(file: &File, bytes: &[u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, bytes, offset)
}

#[cfg(unix)]
fn read_at(file: &File, bytes: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, bytes, offset)
}

#[cfg(windows)]
fn write_at(file: &File, bytes: &[u8], offset: u64) -> io::Result<()> {
    let mut done = 0;
    while done < bytes.len() {
        let n =
            std::os::windows::fs::FileExt::seek_write(file, &bytes[done..], offset + done as u64)?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        done += n;
    }
    Ok(())
}

#[cfg(windows)]
fn read_at(file: &File, bytes: &mut [u8], offset: u64) -> io::Result<()> {
    let mut done = 0;
    while done < bytes.len() {
        let n = std::os::windows::fs::FileExt::seek_read(
            file,
            &mut bytes[done..],
            offset + done as u64,
        )?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        done += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: u8) -> Vec<u8> {
        vec![i; 300 + usize::from(i)]
    }

    #[test]
    fn entries_come_back_as_written_from_many_threads() {
        let dir = tempfile::tempdir().unwrap();
        let file = KeptFile::create(&dir.path().join("tmp"), 1 << 20).unwrap();
        let put: Vec<(u8, (u64, u64))> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8u8)
                .map(|i| {
                    let file = &file;
                    s.spawn(move || (i, file.put(&entry(i)).unwrap()))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (i, (offset, len)) in put {
            assert_eq!(file.get(offset, len).unwrap(), entry(i));
        }
        // The file has no name: nothing is left in the folder.
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }

    #[test]
    fn a_full_file_takes_nothing_more_and_only_whole_entries_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let one = (entry(1).len() + DIGEST) as u64;
        let file = KeptFile::create(dir.path(), 2 * one + one / 2).unwrap();
        let (first, len) = file.put(&entry(1)).unwrap();
        let (second, _) = file.put(&entry(1)).unwrap();
        assert!(file.put(&entry(1)).is_none(), "past the limit");
        assert!(file.get(second, len + 1).is_none(), "past the end");
        assert!(file.get(first, len - 1).is_none(), "cut short");
        assert!(file.get(first + 1, len).is_none(), "not at its start");
        // The same bytes at another offset are not the entry that was asked for.
        assert!(
            file.get(second, len).is_some()
                && digest(first, &entry(1)) != digest(second, &entry(1))
        );
        // A byte changed on its way through the disk.
        write_at(&file.file, &[0xFF], first + 5).unwrap();
        assert!(file.get(first, len).is_none(), "changed");
        assert_eq!(file.get(second, len).unwrap(), entry(1));
    }
}
