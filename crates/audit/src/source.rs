//! The bytes of a file too big to hold, read again from any offset for each pass of the
//! streamed audit: a file of a folder package or a stored zip entry (skipping by seeking), any
//! other stream (skipping by reading), and a data set with its top-level Pixel Data skipped.

use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::PathBuf;

/// A byte stream that can skip ahead, by seeking where it can.
pub(crate) trait SkipRead: Read {
    /// Skips `n` bytes; `UnexpectedEof` when fewer remain.
    fn skip(&mut self, n: u64) -> std::io::Result<()> {
        let skipped = std::io::copy(&mut Read::take(&mut *self, n), &mut std::io::sink())?;
        if skipped < n {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }
}

impl<T: SkipRead + ?Sized> SkipRead for Box<T> {
    fn skip(&mut self, n: u64) -> std::io::Result<()> {
        (**self).skip(n)
    }
}

/// A stream that skips by reading.
pub(crate) struct Plain<R>(pub(crate) R);

impl<R: Read> Read for Plain<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read> SkipRead for Plain<R> {}

/// A byte range of a file (a file of a folder package, or a stored zip entry), skipping by
/// seeking.
pub(crate) struct FileRange {
    pub(crate) r: std::io::BufReader<std::fs::File>,
    pub(crate) left: u64,
}

impl Read for FileRange {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        if n == 0 {
            return Ok(0);
        }
        let got = self.r.read(&mut buf[..n])?;
        self.left -= got as u64;
        Ok(got)
    }
}

impl SkipRead for FileRange {
    fn skip(&mut self, n: u64) -> std::io::Result<()> {
        if n > self.left {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.r
            .seek_relative(i64::try_from(n).map_err(std::io::Error::other)?)?;
        self.left -= n;
        Ok(())
    }
}

/// A streamed file's bytes, which can be read again from any offset (each pass of the audit
/// reads them once).
pub(crate) trait Source {
    /// The bytes from `offset` on.
    fn open_at(&mut self, offset: u64) -> std::io::Result<Box<dyn SkipRead + '_>>;
}

/// `len` bytes of the file at `path` from `start`: a file of a folder package, or a stored
/// zip entry's data.
pub(crate) struct FileSource {
    pub(crate) path: PathBuf,
    pub(crate) start: u64,
    pub(crate) len: u64,
}

impl Source for FileSource {
    fn open_at(&mut self, offset: u64) -> std::io::Result<Box<dyn SkipRead + '_>> {
        let mut f = std::fs::File::open(&self.path)?;
        f.seek(SeekFrom::Start(self.start.saturating_add(offset)))?;
        Ok(Box::new(FileRange {
            r: std::io::BufReader::with_capacity(1 << 16, f),
            left: self.len.saturating_sub(offset),
        }))
    }
}

/// The data set without one byte range (the top-level Pixel Data element), skipped.
pub(crate) struct WithoutRange<R> {
    pub(crate) inner: R,
    pub(crate) pos: u64,
    pub(crate) skip: Range<u64>,
}

impl<R: SkipRead> Read for WithoutRange<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.skip.start && !self.skip.is_empty() {
            self.inner.skip(self.skip.end - self.skip.start)?;
            self.pos = self.skip.end;
        }
        let n = if self.pos < self.skip.start {
            usize::try_from(self.skip.start - self.pos)
                .unwrap_or(usize::MAX)
                .min(buf.len())
        } else {
            buf.len()
        };
        let got = self.inner.read(&mut buf[..n])?;
        self.pos += got as u64;
        Ok(got)
    }
}
