//! Sorted runs of UID records on disk, and their merge: how an export's original UIDs (one or
//! more a file) are gathered in memory that does not grow with the number of files.
//!
//! A [`UidIndexBuilder`](crate::uid_index::UidIndexBuilder) given a folder writes its records,
//! sorted in table order ([`Record`]'s `Ord`), to an unnamed temporary file in that folder
//! whenever those it holds pass its limit; building the index merges the runs (and what is
//! still in memory) into one sorted stream. Every frame of a run carries a BLAKE3 digest of its
//! bytes and place, checked when it is read back: a run changed on disk stops the build, it is
//! never believed (a UID lost there would be a value the audit no longer searches).

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The most payload bytes one frame holds.
const FRAME: usize = 64 * 1024;

/// Bytes before a frame's payload: its length (4) and digest (32).
const FRAME_HEAD: usize = 36;

/// What a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// A UID the exported headers keep: no record of the same bytes is searched. First among
    /// the records of its bytes, so that it is seen before them.
    Kept = 0,
    /// A UID the index can hold (see `UidIndexBuilder::accepts`).
    Indexed = 1,
    /// A UID the index cannot hold, searched by the automaton if it is not kept.
    Automaton = 2,
}

impl Kind {
    fn from_byte(b: u8) -> Option<Kind> {
        match b {
            0 => Some(Kind::Kept),
            1 => Some(Kind::Indexed),
            2 => Some(Kind::Automaton),
            _ => None,
        }
    }
}

/// One UID as gathered: its bytes, what it is, the rank it was given (the lowest wins where a
/// builder keeps one label a UID) and its label (an index into the builder's labels).
///
/// Ordered as the table on disk is: by the fingerprint of the last [`WIDTH`] bytes (`fp`),
/// those bytes, the whole bytes, then kind, rank and label. The records of one UID are
/// together, and so are those of one tail.
///
/// [`WIDTH`]: crate::uid_index::WIDTH
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) fp: u64,
    pub(crate) bytes: Vec<u8>,
    pub(crate) kind: Kind,
    pub(crate) rank: u64,
    pub(crate) label: u16,
}

impl Record {
    /// The record as written.
    #[cfg(test)]
    pub(crate) fn as_ref(&self) -> RecordRef<'_> {
        (&self.bytes, self.kind, self.rank, self.label)
    }
}

/// The last [`WIDTH`](crate::uid_index::WIDTH) bytes of `bytes` (all of them when shorter).
pub(crate) fn tail(bytes: &[u8]) -> &[u8] {
    &bytes[bytes.len().saturating_sub(crate::uid_index::WIDTH)..]
}

impl Ord for Record {
    fn cmp(&self, other: &Record) -> Ordering {
        self.fp
            .cmp(&other.fp)
            .then_with(|| tail(&self.bytes).cmp(tail(&other.bytes)))
            .then_with(|| self.bytes.cmp(&other.bytes))
            .then(self.kind.cmp(&other.kind))
            .then(self.rank.cmp(&other.rank))
            .then(self.label.cmp(&other.label))
    }
}

impl PartialOrd for Record {
    fn partial_cmp(&self, other: &Record) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A record to be written: bytes, kind, rank, label.
pub(crate) type RecordRef<'a> = (&'a [u8], Kind, u64, u16);

/// Appends `r`'s encoding to `out`: length (4 bytes), bytes, kind (1), rank (8), label (2).
/// The fingerprint is not written: it is computed again when the record is read.
fn encode((bytes, kind, rank, label): RecordRef<'_>, out: &mut Vec<u8>) {
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&bytes[..len as usize]);
    out.push(kind as u8);
    out.extend_from_slice(&rank.to_le_bytes());
    out.extend_from_slice(&label.to_le_bytes());
}

/// The digest of a frame's payload at `offset`.
fn digest(offset: u64, payload: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(&offset.to_le_bytes());
    h.update(payload);
    *h.finalize().as_bytes()
}

fn corrupt(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the audit's UID spill file changed on disk ({what})"),
    )
}

/// The runs written so far, in one unnamed temporary file.
pub(crate) struct Spill {
    dir: PathBuf,
    file: Option<File>,
    /// Each run's byte range in `file`.
    runs: Vec<(u64, u64)>,
    end: u64,
}

impl Spill {
    /// Runs to be written in `dir` (the file is made with the first run).
    pub(crate) fn new(dir: &Path) -> Spill {
        Spill {
            dir: dir.to_path_buf(),
            file: None,
            runs: Vec::new(),
            end: 0,
        }
    }

    /// The folder the runs are written in.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many runs were written.
    #[cfg(test)]
    pub(crate) fn runs(&self) -> usize {
        self.runs.len()
    }

    /// Writes `records` (sorted) as one more run. On an error nothing is counted as written:
    /// the caller keeps its records.
    pub(crate) fn write_run<'a>(
        &mut self,
        records: impl Iterator<Item = RecordRef<'a>>,
    ) -> io::Result<()> {
        if self.file.is_none() {
            self.file = Some(tempfile::tempfile_in(&self.dir)?);
        }
        let Some(file) = &self.file else {
            return Ok(());
        };
        let start = self.end;
        let mut at = start;
        let mut payload = Vec::with_capacity(FRAME + 512);
        let mut frame = Vec::with_capacity(FRAME + 512 + FRAME_HEAD);
        let mut flush = |payload: &mut Vec<u8>, at: &mut u64| -> io::Result<()> {
            frame.clear();
            let len = u32::try_from(payload.len()).map_err(|_| corrupt("frame too long"))?;
            frame.extend_from_slice(&len.to_le_bytes());
            frame.extend_from_slice(&digest(*at, payload));
            frame.extend_from_slice(payload);
            file.write_all_at(&frame, *at)?;
            *at += frame.len() as u64;
            payload.clear();
            Ok(())
        };
        for r in records {
            encode(r, &mut payload);
            if payload.len() >= FRAME {
                flush(&mut payload, &mut at)?;
            }
        }
        if !payload.is_empty() {
            flush(&mut payload, &mut at)?;
        }
        self.end = at;
        self.runs.push((start, at));
        Ok(())
    }

    /// The records of every run and of `last` (sorted) merged in order; `fp` gives a read
    /// record its fingerprint.
    pub(crate) fn merge<'a>(
        &'a self,
        last: Vec<Record>,
        fp: &'a dyn Fn(&[u8]) -> u64,
    ) -> io::Result<Merge<'a>> {
        let mut sources: Vec<Source<'a>> = Vec::new();
        if let Some(file) = &self.file {
            for &(start, end) in &self.runs {
                sources.push(Source::Run(RunReader {
                    file,
                    at: start,
                    end,
                    payload: Vec::new(),
                    pos: 0,
                    fp,
                }));
            }
        }
        sources.push(Source::Memory(last.into_iter()));
        let mut heap = BinaryHeap::new();
        for (i, s) in sources.iter_mut().enumerate() {
            if let Some(r) = s.next()? {
                heap.push(std::cmp::Reverse((r, i)));
            }
        }
        Ok(Merge { sources, heap })
    }
}

/// One sorted source of a merge.
enum Source<'a> {
    Run(RunReader<'a>),
    Memory(std::vec::IntoIter<Record>),
}

impl Source<'_> {
    fn next(&mut self) -> io::Result<Option<Record>> {
        match self {
            Source::Run(r) => r.next(),
            Source::Memory(m) => Ok(m.next()),
        }
    }
}

/// Reads one run back, a frame at a time, each frame's digest checked.
struct RunReader<'a> {
    file: &'a File,
    at: u64,
    end: u64,
    payload: Vec<u8>,
    pos: usize,
    fp: &'a dyn Fn(&[u8]) -> u64,
}

impl RunReader<'_> {
    fn next(&mut self) -> io::Result<Option<Record>> {
        if self.pos == self.payload.len() {
            if self.at >= self.end {
                return Ok(None);
            }
            let mut head = [0u8; FRAME_HEAD];
            self.file.read_exact_at(&mut head, self.at)?;
            let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
            if len == 0 || self.at + (FRAME_HEAD + len) as u64 > self.end {
                return Err(corrupt("frame length"));
            }
            self.payload.resize(len, 0);
            self.file
                .read_exact_at(&mut self.payload, self.at + FRAME_HEAD as u64)?;
            if head[4..] != digest(self.at, &self.payload) {
                return Err(corrupt("frame digest"));
            }
            self.at += (FRAME_HEAD + len) as u64;
            self.pos = 0;
        }
        let p = &self.payload[self.pos..];
        let short = || corrupt("record cut");
        let len = u32::from_le_bytes(
            p.get(..4)
                .ok_or_else(short)?
                .try_into()
                .map_err(|_| short())?,
        ) as usize;
        let rest = p.get(4..).ok_or_else(short)?;
        let bytes = rest.get(..len).ok_or_else(short)?.to_vec();
        let tailer = rest.get(len..len + 11).ok_or_else(short)?;
        let kind = Kind::from_byte(tailer[0]).ok_or_else(|| corrupt("record kind"))?;
        let mut rank = [0u8; 8];
        rank.copy_from_slice(&tailer[1..9]);
        let label = u16::from_le_bytes([tailer[9], tailer[10]]);
        self.pos += 4 + len + 11;
        Ok(Some(Record {
            fp: (self.fp)(&bytes),
            bytes,
            kind,
            rank: u64::from_le_bytes(rank),
            label,
        }))
    }
}

/// The merged records, in order.
pub(crate) struct Merge<'a> {
    sources: Vec<Source<'a>>,
    heap: BinaryHeap<std::cmp::Reverse<(Record, usize)>>,
}

impl Merge<'_> {
    /// The next record, or `None` when every source is done.
    pub(crate) fn next_record(&mut self) -> io::Result<Option<Record>> {
        let Some(std::cmp::Reverse((r, i))) = self.heap.pop() else {
            return Ok(None);
        };
        if let Some(n) = self.sources[i].next()? {
            self.heap.push(std::cmp::Reverse((n, i)));
        }
        Ok(Some(r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(b: &[u8]) -> u64 {
        tail(b)
            .iter()
            .fold(7u64, |h, x| h.wrapping_mul(31) ^ u64::from(*x))
            % 5
    }

    fn rec(uid: &str, kind: Kind, rank: u64, label: u16) -> Record {
        Record {
            fp: fp(uid.as_bytes()),
            bytes: uid.as_bytes().to_vec(),
            kind,
            rank,
            label,
        }
    }

    #[test]
    fn runs_merge_into_one_sorted_stream() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = Spill::new(dir.path());
        let mut all = Vec::new();
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for run in 0..6 {
            let mut records: Vec<Record> = (0..2_000 + run * 500)
                .map(|_| {
                    let uid = format!("1.2.{}.{}", next(300), "7".repeat(next(30) as usize));
                    let kind = [Kind::Kept, Kind::Indexed, Kind::Automaton][next(3) as usize];
                    rec(&uid, kind, next(4), next(3) as u16)
                })
                .collect();
            records.sort();
            all.extend(records.iter().cloned());
            if run < 5 {
                spill.write_run(records.iter().map(Record::as_ref)).unwrap();
            } else {
                let mut merge = spill.merge(records, &fp).unwrap();
                all.sort();
                let mut got = Vec::new();
                while let Some(r) = merge.next_record().unwrap() {
                    got.push(r);
                }
                assert_eq!(got, all);
            }
        }
        assert_eq!(spill.runs(), 5);
    }

    #[test]
    fn a_changed_run_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = Spill::new(dir.path());
        let records: Vec<Record> = (0..100)
            .map(|i| rec(&format!("1.2.3.4.5.6.7.8.{i}"), Kind::Indexed, 0, 0))
            .collect();
        spill.write_run(records.iter().map(Record::as_ref)).unwrap();
        let file = spill.file.as_ref().unwrap();
        let mut b = [0u8; 1];
        file.read_exact_at(&mut b, 100).unwrap();
        file.write_all_at(&[b[0] ^ 1], 100).unwrap();
        let err = (|| -> io::Result<()> {
            let mut merge = spill.merge(Vec::new(), &fp)?;
            while merge.next_record()?.is_some() {}
            Ok(())
        })()
        .expect_err("a changed frame is an error");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
