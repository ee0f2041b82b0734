//! The value search of a streamed file: its bytes cut into overlapping windows, region by
//! region (header, pixel data, what follows), a match counting only where its context lies in
//! the window, so a window edge never passes for a word boundary.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::ops::Range;

use crate::auditor::Auditor;
use crate::byte_order::units_reversed;
use crate::dicom::RawHit;
use crate::matcher::{Mode, find_any};
use crate::needle::LONG_NEEDLE;
use crate::runs::alphabet_runs;
use crate::source::Source;

/// Bytes a boundary rule may look at before a match (an ISO 2022 escape sequence is at most 4
/// bytes, the byte before it 1): a streamed window's first bytes only serve as context.
pub(crate) const CONTEXT: usize = 8;

/// Cuts a stream into windows for a search: each window repeats the last `overlap` bytes of
/// the one before, so every match of up to `overlap - 2 * CONTEXT` bytes lies whole in some
/// window with its context on both sides.
pub(crate) struct Windows {
    pub(crate) buf: Vec<u8>,
    pub(crate) chunk: usize,
    pub(crate) overlap: usize,
    pub(crate) first: bool,
    /// Where `buf` starts in the stream.
    pub(crate) offset: u64,
}

/// One window of a stream: its bytes, whether it is the first or the last, and where it
/// starts in the stream.
pub(crate) type Window<'w> = (&'w [u8], bool, bool, u64);

impl Windows {
    pub(crate) fn new(chunk: usize, overlap: usize) -> Windows {
        Windows {
            buf: Vec::new(),
            chunk: chunk.max(1),
            overlap,
            first: true,
            offset: 0,
        }
    }

    /// Adds bytes; `f` sees every window that is full.
    pub(crate) fn push(&mut self, mut data: &[u8], f: &mut impl FnMut(Window<'_>)) {
        let full = self.chunk + self.overlap;
        while !data.is_empty() {
            let take = full.saturating_sub(self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() >= full {
                f((&self.buf, self.first, false, self.offset));
                self.first = false;
                let drained = self.buf.len() - self.overlap;
                self.buf.drain(..drained);
                self.offset += drained as u64;
            }
        }
    }

    /// The last window.
    pub(crate) fn finish(self, f: &mut impl FnMut(Window<'_>)) {
        if !self.buf.is_empty() {
            f((&self.buf, self.first, true, self.offset));
        }
    }
}

/// What the search of one streamed region found.
#[derive(Debug, Default)]
pub(crate) struct Searched {
    /// Label → whether only single CJK characters matched.
    pub(crate) found: BTreeMap<String, bool>,
    /// Whether a NUL byte was seen (a file with none is text).
    pub(crate) nul: bool,
    /// Every match outside pixel data, at its position in the file.
    pub(crate) hits: Vec<RawHit>,
}

/// The value search of one region of a streamed file (one hay of the in-memory search),
/// window by window.
pub(crate) struct RegionSearch<'a> {
    pub(crate) auditor: &'a Auditor,
    /// The top-level pixel data value: long UTF-8 and Latin-1 spellings only, in runs of
    /// their bytes.
    pub(crate) pixels: bool,
    /// The pixel data value holds big endian words: searched also with their bytes swapped
    /// back (see `byte_order`).
    pub(crate) swapped_words: bool,
    pub(crate) mode: Mode,
    pub(crate) windows: Windows,
    /// Where the region starts in the file (see [`crate::ranges`]).
    pub(crate) base: u64,
    pub(crate) searched: Searched,
}

impl<'a> RegionSearch<'a> {
    pub(crate) fn new(
        auditor: &'a Auditor,
        pixels: bool,
        mode: Mode,
        chunk: usize,
        base: u64,
    ) -> RegionSearch<'a> {
        RegionSearch {
            auditor,
            pixels,
            swapped_words: false,
            mode,
            windows: Windows::new(chunk, auditor.longest + 2 * CONTEXT),
            base,
            searched: Searched::default(),
        }
    }

    /// The same search of a pixel data region whose element (starting the region, header
    /// first) holds big endian words when `swapped` is true.
    pub(crate) fn with_swapped_words(mut self, swapped: bool) -> RegionSearch<'a> {
        self.swapped_words = swapped;
        self
    }

    pub(crate) fn push(&mut self, data: &[u8]) {
        let RegionSearch {
            auditor,
            pixels,
            swapped_words,
            mode,
            windows,
            base,
            searched,
        } = self;
        if !searched.nul && memchr::memchr(0, data).is_some() {
            searched.nul = true;
        }
        let pixels = pixels.then_some(*swapped_words);
        windows.push(data, &mut |w| {
            auditor.search_window(w, *base, pixels, *mode, searched);
        });
    }

    /// What the region holds.
    pub(crate) fn finish(self) -> Searched {
        let RegionSearch {
            auditor,
            pixels,
            swapped_words,
            mode,
            windows,
            base,
            mut searched,
        } = self;
        let pixels = pixels.then_some(swapped_words);
        windows.finish(&mut |w| {
            auditor.search_window(w, base, pixels, mode, &mut searched);
        });
        searched
    }
}

/// Reads `r` to its end, feeding bytes before `cuts[0]` to `searches[0]`, from `cuts[i - 1]`
/// to `cuts[i]` to `searches[i]`, and the rest to the last search. Returns the bytes read.
pub(crate) fn route(
    r: &mut dyn Read,
    cuts: &[u64],
    searches: &mut [RegionSearch<'_>],
) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut pos: u64 = 0;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(pos),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let mut data = &buf[..n];
        while !data.is_empty() {
            let region = cuts.iter().take_while(|c| **c <= pos).count();
            let take = cuts.get(region).map_or(data.len(), |c| {
                usize::try_from(c - pos)
                    .unwrap_or(usize::MAX)
                    .min(data.len())
            });
            if let Some(s) = searches.get_mut(region.min(searches.len().saturating_sub(1))) {
                s.push(&data[..take]);
            }
            data = &data[take..];
            pos += take as u64;
        }
    }
}

impl Auditor {
    /// Searches one window of a streamed region. A match counts only where its context lies in
    /// the window too (or the region begins or ends there), so a window edge never passes
    /// for a word boundary; the overlap of windows puts every match whole in some window.
    /// `pixels`: the window is of the top-level pixel data (pixel data's rule), `Some(true)`
    /// when it holds big endian words, searched also with their bytes swapped back.
    pub(crate) fn search_window(
        &self,
        (w, first, last, offset): Window<'_>,
        base: u64,
        pixels: Option<bool>,
        mode: Mode,
        searched: &mut Searched,
    ) {
        let found = &mut searched.found;
        if let Some(swapped_words) = pixels {
            let mut labels = BTreeSet::new();
            // As for the header below: a match counts where its context lies in the window.
            let keep =
                |r: &Range<usize>| (first || r.start >= CONTEXT) && (last || r.end < w.len());
            let mut search = |hay: &[u8]| {
                for run in alphabet_runs(hay, &self.long_alphabet, LONG_NEEDLE) {
                    find_any(
                        self.long.as_ref(),
                        &self.long_patterns,
                        &self.uids,
                        hay,
                        run,
                        &keep,
                        &mut labels,
                    );
                }
            };
            search(w);
            if swapped_words {
                // The region starts with the element's 12-byte header: its words start at
                // even offsets of the region.
                let phase = usize::from(offset % 2 == 1);
                search(&units_reversed(w, 2, phase));
            }
            for l in labels {
                found.insert(l, false);
            }
            return;
        }
        for h in self.hits(w, mode) {
            if (first || h.range.start >= CONTEXT) && (last || h.range.end < w.len()) {
                *found.entry(h.label.to_string()).or_insert(true) &= h.confirm;
                searched.hits.push(RawHit::at(&h, base + offset));
            }
        }
    }

    /// Every value in the whole of a streamed file, as one region: label → only single
    /// characters, and whether a NUL byte was seen.
    pub(crate) fn stream_all(
        &self,
        src: &mut dyn Source,
        mode: Mode,
        chunk: usize,
    ) -> std::io::Result<(BTreeMap<String, bool>, bool)> {
        let mut search = [RegionSearch::new(self, false, mode, chunk, 0)];
        route(&mut *src.open_at(0)?, &[], &mut search)?;
        let [search] = search;
        let Searched { found, nul, .. } = search.finish();
        Ok((found, nul))
    }
}
