//! The bytes a walk reads: a file held in memory, the rest of a big file streamed from disk,
//! or a deflated data set inflated as it is read (within a limit, so that a decompression bomb
//! stops at the limit, not after it). A walk reads small headers and skips values.

use std::io::{self, Read};

use super::error::ScanError;

/// A byte source that can read small headers and skip values.
pub(super) trait Source {
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
pub(super) enum SkipError {
    /// Only this many bytes were left.
    Short(u64),
    /// The source itself failed (e.g. an inflate error or bomb).
    Source(ScanError),
}

pub(super) struct Slice<'a> {
    pub(super) data: &'a [u8],
    total: usize,
}

impl<'a> Slice<'a> {
    pub(super) fn new(data: &'a [u8]) -> Slice<'a> {
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
pub(super) struct Stream<R: Read> {
    pub(super) r: R,
    pub(super) read: u64,
    pub(super) left: Option<u64>,
    pub(super) limit: u64,
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

pub(super) fn short_read(group: u16, element: u16) -> impl Fn(ScanError) -> ScanError {
    move |e| match e {
        ScanError::Truncated { .. } => ScanError::Truncated { group, element },
        other => other,
    }
}

pub(super) fn skip(
    src: &mut impl Source,
    group: u16,
    element: u16,
    len: u64,
) -> Result<(), ScanError> {
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
pub(super) fn check_len(
    src: &impl Source,
    group: u16,
    element: u16,
    len: u64,
) -> Result<(), ScanError> {
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
