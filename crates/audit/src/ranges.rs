//! Where each element value lies in a DICOM file's bytes.
//!
//! The audit searches a header's raw bytes (every byte counts, the preamble and element headers
//! too) and then reads the header element by element to judge each match by the element that
//! holds it ([`crate::verdict`]). The two views must meet: a match lying inside one
//! element's value gets that value's verdict (which may be "no finding"), and a match lying
//! anywhere else (in the preamble, across two values, in an element header) is a finding with
//! no element to excuse it. This module keeps the element values' byte ranges as the token
//! walk reads them ([`Counting`], [`StreamMap`]) and answers whether a match lies inside one
//! ([`ValueRanges`]).
//!
//! Positions are in one coordinate system per file: the file's own byte offsets up to the end
//! of the meta group; after it, the data set's offset plus the data set's start, where the
//! data set is the inflated one for a deflated transfer syntax (so for an ordinary file they
//! are simply file offsets).

use std::cell::Cell;
use std::io::Read;
use std::ops::Range;

/// A reader that counts the bytes read through it into `pos`. dicom-rs's token reader reads
/// exactly what it decodes (no read-ahead), so when it yields a value, `pos` is where that
/// value ends.
pub(crate) struct Counting<'c, R> {
    /// The stream.
    pub inner: R,
    /// Bytes read so far.
    pub pos: &'c Cell<u64>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos.set(self.pos.get() + n as u64);
        Ok(n)
    }
}

/// How positions of a walked stream map to the file's coordinates: the stream starts at
/// `base`, and the bytes of `gap` (stream positions from which on the top-level Pixel Data
/// element was left out, and its length) are missing from it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StreamMap {
    /// Where the stream's first byte lies.
    pub base: u64,
    /// The stream position where bytes were left out.
    pub gap_at: u64,
    /// How many bytes were left out there.
    pub gap_len: u64,
}

impl StreamMap {
    /// A stream with nothing left out.
    pub(crate) fn at(base: u64) -> StreamMap {
        StreamMap {
            base,
            gap_at: u64::MAX,
            gap_len: 0,
        }
    }

    /// Where a value of `len` bytes that ends at stream position `end` lies in the file.
    pub(crate) fn value(&self, end: u64, len: u64) -> Range<u64> {
        let start = end.saturating_sub(len);
        let shift = if start >= self.gap_at {
            self.gap_len
        } else {
            0
        };
        let s = self.base.saturating_add(start).saturating_add(shift);
        s..s.saturating_add(len)
    }
}

/// The byte ranges of a file's element values.
#[derive(Debug, Default)]
pub(crate) struct ValueRanges {
    ranges: Vec<Range<u64>>,
}

impl ValueRanges {
    /// Adds one value's range.
    pub(crate) fn push(&mut self, r: Range<u64>) {
        if !r.is_empty() {
            self.ranges.push(r);
        }
    }

    /// Sorts the ranges (they come in stream order, meta group first, so this is cheap).
    pub(crate) fn finish(&mut self) {
        self.ranges.sort_by_key(|r| r.start);
    }

    /// Whether `r` lies entirely inside one value. Call [`ValueRanges::finish`] first.
    pub(crate) fn covers(&self, r: &Range<u64>) -> bool {
        let i = self.ranges.partition_point(|v| v.start <= r.start);
        i > 0 && self.ranges[i - 1].end >= r.end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting_reads_tell_where_values_end() {
        let pos = Cell::new(0);
        let mut r = Counting {
            inner: &b"abcdefgh"[..],
            pos: &pos,
        };
        let mut buf = [0u8; 3];
        r.read_exact(&mut buf).expect("read");
        assert_eq!(pos.get(), 3);
    }

    #[test]
    fn streams_with_a_gap_map_to_file_positions() {
        // A data set from file offset 100, whose pixel data (40 bytes) was left out at 20.
        let m = StreamMap {
            base: 100,
            gap_at: 20,
            gap_len: 40,
        };
        assert_eq!(m.value(10, 4), 106..110);
        assert_eq!(m.value(20, 4), 116..120);
        assert_eq!(m.value(24, 4), 160..164);
        assert_eq!(StreamMap::at(132).value(10, 10), 132..142);
    }

    #[test]
    fn a_match_is_covered_only_inside_one_value() {
        let mut v = ValueRanges::default();
        v.push(20..30);
        v.push(10..15);
        v.push(40..50);
        v.finish();
        assert!(v.covers(&(10..15)));
        assert!(v.covers(&(42..45)));
        assert!(!v.covers(&(14..21)), "across two values");
        assert!(!v.covers(&(0..3)), "before every value (the preamble)");
        assert!(!v.covers(&(48..52)), "past a value's end");
        assert!(!v.covers(&(31..35)), "between values");
    }
}
