//! Whether no two of many fixed-size values are equal, in memory that does not grow with their
//! number: the regrouping check tells each exported file from every other by a hash of its
//! archive series and SOP Instance UID and by its re-import key (8 and 16 bytes a file), and a
//! zip package its entries by a keyed hash of their names.
//!
//! Up to a limit the values are sorted in memory. Past it they are sorted in runs written to an
//! unnamed file in the archive's `tmp/` and merged; each run carries a BLAKE3 digest of its
//! bytes, checked as it is read back (a run changed on disk stops the export: a duplicate it
//! hid would be two files merged by a later import, with no warning).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// How many values are sorted in memory before they go to disk (16 MiB of 16-byte keys).
pub(crate) const DISTINCT_IN_MEMORY: usize = 1 << 20;

/// How many bytes of a run are read at a time while merging.
const READ: usize = 64 * 1024;

/// Values of `N` bytes, gathered to learn whether any two are equal.
pub(crate) struct Distinct<const N: usize> {
    dir: Option<PathBuf>,
    held: Vec<[u8; N]>,
    limit: usize,
    file: Option<File>,
    /// Each run's start, end and digest.
    runs: Vec<(u64, u64, [u8; 32])>,
    end: u64,
    /// A value seen twice already.
    equal: Option<[u8; N]>,
}

impl<const N: usize> Distinct<N> {
    /// Values sorted in memory up to `limit`, then in runs in `dir` (none: always in memory).
    pub(crate) fn new(dir: Option<&Path>, limit: usize) -> Distinct<N> {
        Distinct {
            dir: dir.map(Path::to_path_buf),
            held: Vec::new(),
            limit: limit.max(1),
            file: None,
            runs: Vec::new(),
            end: 0,
            equal: None,
        }
    }

    /// Adds a value.
    pub(crate) fn push(&mut self, value: [u8; N]) -> io::Result<()> {
        if self.equal.is_some() {
            return Ok(());
        }
        self.held.push(value);
        if self.held.len() >= self.limit && self.dir.is_some() {
            self.write_run()?;
        }
        Ok(())
    }

    /// Sorts the values held; a value held twice, if one is.
    fn sort_held(&mut self) -> Option<[u8; N]> {
        self.held.sort_unstable();
        self.held.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
    }

    fn write_run(&mut self) -> io::Result<()> {
        if let Some(v) = self.sort_held() {
            self.equal = Some(v);
            self.held = Vec::new();
            return Ok(());
        }
        let file = match (&self.file, &self.dir) {
            (Some(f), _) => f,
            (None, Some(dir)) => self.file.insert(tempfile::tempfile_in(dir)?),
            (None, None) => return Ok(()),
        };
        let mut digest = blake3::Hasher::new();
        let start = self.end;
        let mut at = start;
        for chunk in self.held.chunks(READ / N) {
            let bytes: Vec<u8> = chunk.iter().flatten().copied().collect();
            digest.update(&bytes);
            file.write_all_at(&bytes, at)?;
            at += bytes.len() as u64;
        }
        self.runs.push((start, at, *digest.finalize().as_bytes()));
        self.end = at;
        self.held.clear();
        Ok(())
    }

    /// Whether no two of the values added are equal.
    pub(crate) fn all_distinct(self) -> io::Result<bool> {
        Ok(self.first_equal()?.is_none())
    }

    /// A value added twice (the least, unless two were found in one run already), if any.
    pub(crate) fn first_equal(mut self) -> io::Result<Option<[u8; N]>> {
        if let Some(v) = self.equal.or_else(|| self.sort_held()) {
            return Ok(Some(v));
        }
        let Some(file) = &self.file else {
            return Ok(None);
        };
        let mut runs: Vec<Run<'_, N>> = self
            .runs
            .iter()
            .map(|&(start, end, digest)| Run {
                file,
                at: start,
                end,
                digest,
                hasher: blake3::Hasher::new(),
                buf: Vec::new(),
                pos: 0,
            })
            .collect();
        let mut heap: BinaryHeap<Reverse<([u8; N], usize)>> = BinaryHeap::new();
        for (i, r) in runs.iter_mut().enumerate() {
            if let Some(v) = r.next()? {
                heap.push(Reverse((v, i)));
            }
        }
        let mut held = std::mem::take(&mut self.held).into_iter().peekable();
        let mut last: Option<[u8; N]> = None;
        loop {
            let from_heap = heap.peek().map(|Reverse((v, _))| *v);
            let v = match (from_heap, held.peek()) {
                (Some(h), Some(m)) if *m < h => held.next(),
                (Some(_), _) => {
                    let Some(Reverse((v, i))) = heap.pop() else {
                        break;
                    };
                    if let Some(n) = runs[i].next()? {
                        heap.push(Reverse((n, i)));
                    }
                    Some(v)
                }
                (None, _) => held.next(),
            };
            let Some(v) = v else {
                break;
            };
            if last == Some(v) {
                return Ok(Some(v));
            }
            last = Some(v);
        }
        Ok(None)
    }
}

/// One run being read back.
struct Run<'a, const N: usize> {
    file: &'a File,
    at: u64,
    end: u64,
    digest: [u8; 32],
    hasher: blake3::Hasher,
    buf: Vec<u8>,
    pos: usize,
}

impl<const N: usize> Run<'_, N> {
    fn next(&mut self) -> io::Result<Option<[u8; N]>> {
        if self.pos == self.buf.len() {
            if self.at >= self.end {
                if *self.hasher.finalize().as_bytes() != self.digest {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a run of the regrouping check changed on disk",
                    ));
                }
                return Ok(None);
            }
            let len = usize::try_from((self.end - self.at).min((READ / N * N) as u64))
                .unwrap_or(READ / N * N);
            self.buf.resize(len, 0);
            self.file.read_exact_at(&mut self.buf, self.at)?;
            self.hasher.update(&self.buf);
            self.at += len as u64;
            self.pos = 0;
        }
        let mut v = [0u8; N];
        let bytes = self.buf.get(self.pos..self.pos + N).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "a run of the regrouping check was cut",
            )
        })?;
        v.copy_from_slice(bytes);
        self.pos += N;
        Ok(Some(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(i: u64) -> [u8; 8] {
        i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes()
    }

    fn distinct(values: &[[u8; 8]], dir: Option<&Path>, limit: usize) -> bool {
        let mut d = Distinct::new(dir, limit);
        for v in values {
            d.push(*v).expect("push");
        }
        d.all_distinct().expect("merge")
    }

    #[test]
    fn runs_on_disk_tell_what_memory_tells() {
        let dir = tempfile::tempdir().expect("dir");
        let unique: Vec<[u8; 8]> = (0..10_000).map(value).collect();
        for limit in [1, 2, 7, 100, 9_999, 10_000, 20_000] {
            assert!(distinct(&unique, Some(dir.path()), limit), "{limit}");
            // One value twice: in one run, in two runs, in a run and the values held.
            for (a, b) in [(5, 6), (0, 9_999), (17, 5_017), (9_998, 9_999)] {
                let mut twice = unique.clone();
                twice[b] = twice[a];
                assert!(
                    !distinct(&twice, Some(dir.path()), limit),
                    "{limit} {a} {b}"
                );
            }
        }
        assert!(distinct(&[], Some(dir.path()), 1));
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
    }

    #[test]
    fn a_changed_run_is_an_error() {
        let dir = tempfile::tempdir().expect("dir");
        let mut d = Distinct::<8>::new(Some(dir.path()), 100);
        for i in 0..1_000 {
            d.push(value(i)).expect("push");
        }
        let file = d.file.as_ref().expect("runs");
        let mut b = [0u8; 1];
        file.read_exact_at(&mut b, 3).expect("read");
        file.write_all_at(&[b[0] ^ 1], 3).expect("write");
        let err = d.all_distinct().expect_err("changed");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
