//! The original UIDs of a large export in a table on disk, probed through a Bloom filter held
//! in memory: what the UID index becomes when its UIDs were spilled (see `uid_spill`), so that
//! the audit's memory does not grow with the number of files.
//!
//! The table lists every entry (the fingerprint of its last [`WIDTH`] bytes, its bytes, its
//! label) in fingerprint order, in blocks of about 4 KiB; memory holds each block's first
//! fingerprint and place (16 bytes a block of about 60 UIDs) and a Bloom filter of the
//! fingerprints, at most [`BLOOM_MAX_BITS`] bits (16 MiB) whatever the number of UIDs: past
//! about 8 million UIDs it only answers "maybe" more often, which costs a read, never a miss.
//! A probe that the filter refuses (nearly every run of digits in a package: its UIDs are new
//! ones) costs no read at all. Every block carries a BLAKE3 digest of its bytes and place,
//! checked on every read.
//!
//! [`WIDTH`]: crate::uid_index::WIDTH

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The most bits the Bloom filter has (16 MiB).
pub(crate) const BLOOM_MAX_BITS: u64 = 1 << 27;

/// The fewest bits the Bloom filter has.
const BLOOM_MIN_BITS: u64 = 1 << 16;

/// How many bits a UID sets in the filter.
const BLOOM_HASHES: u64 = 6;

/// A block is closed once its entries pass this many bytes.
const BLOCK: usize = 4096;

/// Bytes before a block's entries: their length (4) and digest (32).
const BLOCK_HEAD: usize = 36;

/// The digest of a block's entries at `offset`.
fn digest(offset: u64, payload: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(b"depot uid table");
    h.update(&offset.to_le_bytes());
    h.update(payload);
    *h.finalize().as_bytes()
}

fn corrupt(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the audit's UID table changed on disk ({what})"),
    )
}

/// A Bloom filter of fingerprints.
struct Bloom {
    words: Vec<u64>,
    mask: u64,
}

impl Bloom {
    /// A filter for about `n` fingerprints: 16 bits each, within its bounds.
    fn for_count(n: u64) -> Bloom {
        let bits = n
            .saturating_mul(16)
            .checked_next_power_of_two()
            .unwrap_or(BLOOM_MAX_BITS)
            .clamp(BLOOM_MIN_BITS, BLOOM_MAX_BITS);
        Bloom {
            words: vec![0; (bits / 64) as usize],
            mask: bits - 1,
        }
    }

    /// The bits of `fp` (double hashing of its two halves; the fingerprint is already a keyed,
    /// well-mixed hash).
    fn bits(&self, fp: u64) -> impl Iterator<Item = u64> + '_ {
        let (h1, h2) = (fp & 0xFFFF_FFFF, (fp >> 32) | 1);
        (0..BLOOM_HASHES).map(move |i| h1.wrapping_add(i.wrapping_mul(h2)) & self.mask)
    }

    fn insert(&mut self, fp: u64) {
        let bits: Vec<u64> = self.bits(fp).collect();
        for b in bits {
            self.words[(b / 64) as usize] |= 1 << (b % 64);
        }
    }

    fn may_hold(&self, fp: u64) -> bool {
        self.bits(fp)
            .all(|b| self.words[(b / 64) as usize] & (1 << (b % 64)) != 0)
    }
}

/// Writes a [`UidTable`], its entries given in fingerprint order.
pub(crate) struct TableWriter {
    file: File,
    /// Each block's first fingerprint and offset.
    blocks: Vec<(u64, u64)>,
    payload: Vec<u8>,
    first: Option<u64>,
    at: u64,
    bloom: Bloom,
    len: usize,
    longest: usize,
    alphabet: [bool; 256],
}

impl TableWriter {
    /// A table in an unnamed temporary file in `dir`, for about `expected` entries (which
    /// sizes its filter).
    pub(crate) fn new(dir: &Path, expected: u64) -> io::Result<TableWriter> {
        Ok(TableWriter {
            file: tempfile::tempfile_in(dir)?,
            blocks: Vec::new(),
            payload: Vec::with_capacity(BLOCK + 512),
            first: None,
            at: 0,
            bloom: Bloom::for_count(expected),
            len: 0,
            longest: 0,
            alphabet: [false; 256],
        })
    }

    /// Adds an entry; `fp` is never below the one before.
    pub(crate) fn push(&mut self, fp: u64, bytes: &[u8], label: u16) -> io::Result<()> {
        let len = u8::try_from(bytes.len()).map_err(|_| corrupt("entry too long"))?;
        if self.first.is_none() {
            self.first = Some(fp);
        }
        self.payload.extend_from_slice(&fp.to_le_bytes());
        self.payload.push(len);
        self.payload.extend_from_slice(bytes);
        self.payload.extend_from_slice(&label.to_le_bytes());
        self.bloom.insert(fp);
        self.len += 1;
        self.longest = self.longest.max(bytes.len());
        for b in bytes {
            self.alphabet[usize::from(*b)] = true;
        }
        if self.payload.len() >= BLOCK {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        let Some(first) = self.first.take() else {
            return Ok(());
        };
        let len = u32::try_from(self.payload.len()).map_err(|_| corrupt("block too long"))?;
        let mut block = Vec::with_capacity(BLOCK_HEAD + self.payload.len());
        block.extend_from_slice(&len.to_le_bytes());
        block.extend_from_slice(&digest(self.at, &self.payload));
        block.extend_from_slice(&self.payload);
        self.file.write_all_at(&block, self.at)?;
        self.blocks.push((first, self.at));
        self.at += block.len() as u64;
        self.payload.clear();
        Ok(())
    }

    /// The table.
    pub(crate) fn finish(mut self) -> io::Result<UidTable> {
        self.flush()?;
        self.blocks.shrink_to_fit();
        Ok(UidTable {
            file: self.file,
            blocks: self.blocks,
            end: self.at,
            bloom: self.bloom,
            len: self.len,
            longest: self.longest,
            alphabet: self.alphabet,
        })
    }
}

/// The entries on disk. Its `Debug` shows how many it holds, never a UID.
pub(crate) struct UidTable {
    file: File,
    blocks: Vec<(u64, u64)>,
    end: u64,
    bloom: Bloom,
    len: usize,
    longest: usize,
    alphabet: [bool; 256],
}

impl std::fmt::Debug for UidTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UidTable")
            .field("uids", &self.len)
            .field("blocks", &self.blocks.len())
            .finish()
    }
}

impl UidTable {
    /// How many entries it holds.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The longest entry, in bytes.
    pub(crate) fn longest(&self) -> usize {
        self.longest
    }

    /// Marks in `alphabet` every byte an entry uses.
    pub(crate) fn add_alphabet(&self, alphabet: &mut [bool; 256]) {
        for (a, used) in alphabet.iter_mut().zip(self.alphabet) {
            *a |= used;
        }
    }

    /// Calls `f` with the bytes and label of every entry of fingerprint `fp`, in table order.
    pub(crate) fn probe(&self, fp: u64, mut f: impl FnMut(&[u8], u16)) -> io::Result<()> {
        if !self.bloom.may_hold(fp) {
            return Ok(());
        }
        // The entries of `fp` start in the last block that begins below it, or in the first
        // that begins at it, and go on while blocks begin at it.
        let first = self.blocks.partition_point(|b| b.0 < fp).saturating_sub(1);
        let mut payload = Vec::new();
        for k in first..self.blocks.len() {
            let (block_first, at) = self.blocks[k];
            if block_first > fp {
                break;
            }
            let next = self.blocks.get(k + 1).map_or(self.end, |b| b.1);
            self.read_block(at, next, &mut payload)?;
            let mut p = &payload[..];
            while !p.is_empty() {
                let cut = || corrupt("entry cut");
                let head = p.get(..9).ok_or_else(cut)?;
                let efp = u64::from_le_bytes(head[..8].try_into().map_err(|_| cut())?);
                let len = usize::from(head[8]);
                let bytes = p.get(9..9 + len).ok_or_else(cut)?;
                let label = p.get(9 + len..11 + len).ok_or_else(cut)?;
                if efp == fp {
                    f(bytes, u16::from_le_bytes([label[0], label[1]]));
                } else if efp > fp {
                    return Ok(());
                }
                p = &p[11 + len..];
            }
        }
        Ok(())
    }

    /// Changes one byte of the first block (for the tests of a table changed on disk).
    #[cfg(test)]
    pub(crate) fn change_a_byte(&self) {
        let mut b = [0u8; 1];
        self.file.read_exact_at(&mut b, 40).expect("read");
        self.file.write_all_at(&[b[0] ^ 1], 40).expect("write");
    }

    /// Reads the block at `at` (the next one at `next`) into `payload`, its digest checked.
    fn read_block(&self, at: u64, next: u64, payload: &mut Vec<u8>) -> io::Result<()> {
        let mut head = [0u8; BLOCK_HEAD];
        self.file.read_exact_at(&mut head, at)?;
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        if at + (BLOCK_HEAD + len) as u64 != next {
            return Err(corrupt("block length"));
        }
        payload.resize(len, 0);
        self.file.read_exact_at(payload, at + BLOCK_HEAD as u64)?;
        if head[4..] != digest(at, payload) {
            return Err(corrupt("block digest"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn every_entry_is_found_by_its_fingerprint_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        // Few fingerprints, so that many entries share one, across blocks.
        let mut entries: Vec<(u64, Vec<u8>, u16)> = (0..20_000u64)
            .map(|i| {
                let fp = (i * 7919) % 997 * 1_000_003;
                (fp, format!("2.25.{i:020}").into_bytes(), (i % 3) as u16)
            })
            .collect();
        entries.sort();
        let mut w = TableWriter::new(dir.path(), entries.len() as u64).unwrap();
        let mut expected: BTreeMap<u64, Vec<(Vec<u8>, u16)>> = BTreeMap::new();
        for (fp, b, l) in &entries {
            w.push(*fp, b, *l).unwrap();
            expected.entry(*fp).or_default().push((b.clone(), *l));
        }
        let t = w.finish().unwrap();
        assert_eq!(t.len(), 20_000);
        assert!(t.blocks.len() > 100, "{}", t.blocks.len());
        for (fp, want) in &expected {
            let mut got = Vec::new();
            t.probe(*fp, |b, l| got.push((b.to_vec(), l))).unwrap();
            assert_eq!(&got, want);
            for other in [fp + 1, fp.wrapping_sub(1)] {
                if !expected.contains_key(&other) {
                    t.probe(other, |_, _| panic!("found under {other}"))
                        .unwrap();
                }
            }
        }
        t.probe(u64::MAX, |_, _| panic!("found")).unwrap();
        t.probe(0, |_, _| ()).unwrap();
        let shown = format!("{t:?}");
        assert!(!shown.contains("2.25"), "{shown}");
    }

    #[test]
    fn the_filter_refuses_most_fingerprints_never_held() {
        let dir = tempfile::tempdir().unwrap();
        let mix = |i: u64| i.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
        let mut fps: Vec<u64> = (0..100_000).map(mix).collect();
        fps.sort_unstable();
        let mut w = TableWriter::new(dir.path(), fps.len() as u64).unwrap();
        for fp in &fps {
            w.push(*fp, b"1.2.3.4.5.6.7.8.9.10", 0).unwrap();
        }
        let t = w.finish().unwrap();
        let maybe = (100_000..200_000)
            .filter(|i| t.bloom.may_hold(mix(*i)))
            .count();
        assert!(maybe < 500, "{maybe} of 100,000 absent fingerprints pass");
        assert!(fps.iter().all(|fp| t.bloom.may_hold(*fp)));
    }

    #[test]
    fn a_changed_block_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = TableWriter::new(dir.path(), 10).unwrap();
        for i in 0..10u64 {
            w.push(i, b"1.2.3.4.5.6.7.8.9.10", 0).unwrap();
        }
        let t = w.finish().unwrap();
        t.file.write_all_at(b"9", 40).unwrap();
        let err = t.probe(3, |_, _| ()).expect_err("changed");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }
}
