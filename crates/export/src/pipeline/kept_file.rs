//! The plan's kept headers past what an export keeps in memory, in a temporary file.
//!
//! An export of many files cannot keep every de-identified header in memory (a hundred
//! thousand CT headers are hundreds of megabytes), and without them the write phase parses,
//! de-identifies and encodes each header a second time: half the CPU of the plan, again. So
//! the headers past the memory allowance are written to an unnamed temporary file in the
//! archive's own `tmp/` folder (they hold what the level keeps of the data, and the
//! identifiers the plan cut: they stay beside the archive, never in the system's temporary
//! folder), and read back by the write phase. The file has no name (`O_TMPFILE`): it is gone
//! when the export ends, however it ends. Each entry is written once by the plan's worker
//! that made it, at an offset reserved for it, and read once by the write phase; an entry
//! that cannot be written or read back whole is simply not reused (the write phase then does
//! the whole work, as for a file the allowance left out).

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use audit::written::{Computed, Generated};

use super::reuse::Kept;

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

    /// Writes `kept`; where it lies (offset, length), or `None` when the file is full or the
    /// write failed.
    pub(crate) fn put(&self, kept: &Kept) -> Option<(u64, u64)> {
        let bytes = encode(kept);
        let len = bytes.len() as u64;
        let offset = self
            .end
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |end| {
                end.checked_add(len).filter(|e| *e <= self.limit)
            })
            .ok()?;
        write_at(&self.file, &bytes, offset).ok()?;
        Some((offset, len))
    }

    /// The entry `put` wrote at `offset`, `len` bytes; `None` if it cannot be read back whole.
    pub(crate) fn get(&self, offset: u64, len: u64) -> Option<Kept> {
        let mut bytes = vec![0; usize::try_from(len).ok()?];
        read_at(&self.file, &mut bytes, offset).ok()?;
        decode(&bytes)
    }
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

/// An entry: the header, the computed elements, the warnings and the identifiers, each
/// preceded by its length (or count), little endian.
fn encode(kept: &Kept) -> Vec<u8> {
    let mut out = Vec::with_capacity(kept.header.len() + 256);
    put_bytes(&mut out, &kept.header);
    let computed: Vec<(&str, Computed)> = kept.generated.entries().collect();
    put_len(&mut out, computed.len());
    for (path, c) in computed {
        put_bytes(&mut out, path.as_bytes());
        out.push(match c {
            Computed::ShiftedDate => 0,
            Computed::KeyedCode => 1,
        });
    }
    for texts in [&kept.warnings, kept.identifiers()] {
        put_len(&mut out, texts.len());
        for t in texts {
            put_bytes(&mut out, t.as_bytes());
        }
    }
    out
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u64).to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_len(out, b.len());
    out.extend_from_slice(b);
}

/// What `encode` wrote, all of it and nothing more; `None` otherwise.
fn decode(bytes: &[u8]) -> Option<Kept> {
    let mut r = Reader(bytes);
    let header = r.bytes()?.to_vec();
    let n = r.len()?;
    let mut computed = Vec::new();
    for _ in 0..n {
        let path = r.text()?;
        let c = match r.byte()? {
            0 => Computed::ShiftedDate,
            1 => Computed::KeyedCode,
            _ => return None,
        };
        computed.push((path, c));
    }
    let mut texts = || -> Option<Vec<String>> {
        let n = r.len()?;
        let mut v = Vec::new();
        for _ in 0..n {
            v.push(r.text()?);
        }
        Some(v)
    };
    let warnings = texts()?;
    let identifiers = texts()?;
    if !r.0.is_empty() {
        return None;
    }
    Some(Kept::from_parts(
        header,
        Generated::from_entries(computed),
        warnings,
        identifiers,
    ))
}

/// The bytes not read yet.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn len(&mut self) -> Option<usize> {
        let b: [u8; 8] = self.take(8)?.try_into().ok()?;
        usize::try_from(u64::from_le_bytes(b)).ok()
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.len()?;
        self.take(n)
    }

    fn text(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(i: u8) -> Kept {
        Kept::from_parts(
            vec![i; 300 + usize::from(i)],
            Generated::from_entries([
                ("(0010,0030)".to_string(), Computed::ShiftedDate),
                (
                    "(0040,A730)[0]/(0010,0020)".to_string(),
                    Computed::KeyedCode,
                ),
            ]),
            vec![format!("warning {i}")],
            vec!["DOE".to_string(), format!("MRN-{i}"), "ÅSA".to_string()],
        )
    }

    fn same(a: &Kept, b: &Kept) {
        assert_eq!(a.header, b.header);
        assert_eq!(a.warnings, b.warnings);
        assert_eq!(a.identifiers(), b.identifiers());
        let entries = |k: &Kept| {
            let mut v: Vec<(String, Computed)> = k
                .generated
                .entries()
                .map(|(p, c)| (p.to_string(), c))
                .collect();
            v.sort_by(|x, y| x.0.cmp(&y.0));
            v
        };
        assert_eq!(entries(a), entries(b));
    }

    #[test]
    fn entries_come_back_as_written_from_many_threads() {
        let dir = tempfile::tempdir().unwrap();
        let file = KeptFile::create(&dir.path().join("tmp"), 1 << 20).unwrap();
        let put: Vec<(u8, (u64, u64))> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8u8)
                .map(|i| {
                    let file = &file;
                    s.spawn(move || (i, file.put(&sample(i)).unwrap()))
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (i, (offset, len)) in put {
            same(&file.get(offset, len).unwrap(), &sample(i));
        }
        // The file has no name: nothing is left in the folder.
        assert_eq!(
            std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0
        );
    }

    #[test]
    fn a_full_file_takes_nothing_more_and_a_bad_entry_is_not_reused() {
        let dir = tempfile::tempdir().unwrap();
        let one = encode(&sample(1)).len() as u64;
        let file = KeptFile::create(dir.path(), one + one / 2).unwrap();
        let (offset, len) = file.put(&sample(1)).unwrap();
        assert!(file.put(&sample(1)).is_none(), "past the limit");
        assert!(file.get(offset, len - 1).is_none(), "cut short");
        assert!(file.get(offset + 1, len - 1).is_none(), "not at its start");
        let mut longer = encode(&sample(1));
        longer.push(0);
        assert!(decode(&longer).is_none(), "trailing bytes");
        for cut in 0..longer.len() - 1 {
            assert!(decode(&longer[..cut]).is_none(), "cut at {cut}");
        }
        same(&file.get(offset, len).unwrap(), &sample(1));
    }
}
