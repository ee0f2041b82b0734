//! The audit of a file too big to hold, with the findings it would have in memory: the
//! structural check streams, the value search runs in windows, the token walk reads the data
//! set with the pixel data skipped.

use std::collections::BTreeSet;
use std::io::Read;

use archive::reading::readable;
use archive::scan::{self, Encoding};

use crate::auditor::Auditor;
use crate::byte_order::pixel_words_swapped;
use crate::dicom::RawHit;
use crate::error::FileError;
use crate::finding::{Finding, Region, value_findings};
use crate::matcher::Mode;
use crate::ranges::StreamMap;
use crate::source::{Plain, SkipRead, Source, WithoutRange};
use crate::walk::{FileContext, META_TRANSFER_SYNTAX, Walked, walk_transfer_syntax};
use crate::windows::{RegionSearch, route};
use crate::written::Generated;

/// Files and zip entries bigger than this are audited by streaming them (see
/// `Auditor::scan_source`) instead of reading each whole into memory.
pub const STREAM_ABOVE: u64 = 256 << 20;

/// Bytes searched at a time in a streamed file.
pub const STREAM_CHUNK: usize = 16 << 20;

/// When and how files are streamed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Streaming {
    /// Files bigger than this are streamed.
    pub(crate) above: u64,
    /// Window size.
    pub(crate) chunk: usize,
}

pub(crate) const STREAMING: Streaming = Streaming {
    above: STREAM_ABOVE,
    chunk: STREAM_CHUNK,
};

impl Auditor {
    /// Checks a file too big to hold, of `len` bytes, as [`Auditor::scan_file`] checks one in
    /// memory, reading it a few times from `src` and never holding more than a window of
    /// `chunk` bytes (plus the largest element outside the pixel data, for the structural
    /// walk): the structural check streams ([`scan::check_reader`]); the value search runs
    /// over the bytes in overlapping windows, region by region as the layout says (header,
    /// top-level pixel data with its long-spelling rule, what follows; a deflated data set
    /// inflated on the fly); the token walk (private elements, PatientIdentityRemoved, where
    /// a value lies) reads the meta group and the data set with the pixel data skipped.
    pub(crate) fn scan_source(
        &self,
        rel: &str,
        src: &mut dyn Source,
        len: u64,
        chunk: usize,
    ) -> std::io::Result<Vec<Finding>> {
        let mut start = Vec::new();
        src.open_at(0)?.take(132).read_to_end(&mut start)?;
        let preamble = if start.get(128..132) == Some(b"DICM") {
            true
        } else if start.starts_with(b"DICM") {
            false
        } else {
            // Not DICOM: all of it is searched, single characters too when it is text.
            let (found, nul) = self.stream_all(src, self.mode_for(rel), chunk)?;
            let labels = found
                .into_iter()
                .filter(|(_, single)| !nul || !single)
                .map(|(l, _)| l)
                .collect();
            return Ok(value_findings(rel, Region::Text, labels));
        };
        let standard = scan::Options {
            reading: scan::Reading::Standard,
            header_only: false,
        };
        let checked = scan::check_reader_with(
            std::io::BufReader::with_capacity(1 << 16, src.open_at(0)?),
            len,
            preamble,
            standard,
        );
        let layout = match checked {
            Ok(layout) => layout,
            Err(e) => return self.unreadable_stream(rel, src, e.to_string(), chunk),
        };
        if layout.unknown_vr {
            // dicom-rs would misread it as written: see `repaired`.
            return self.scan_source_repaired(rel, src, len, &layout, chunk);
        }
        let mode = self.mode_for(rel);
        let ds_start = layout.data_set_start.min(len);
        let deflated = layout.encoding == Encoding::Deflated;
        let pixel = layout.pixel_data.clone().unwrap_or(u64::MAX..u64::MAX);
        let new = |pixels, base| RegionSearch::new(self, pixels, mode, chunk, base);
        let mut raw: Vec<RawHit> = Vec::new();
        let pixel_labels: BTreeSet<String>;
        let limit = scan::deflate_limit(len);
        if deflated {
            let mut meta = [new(false, 0)];
            route(&mut src.open_at(0)?.take(ds_start), &[], &mut meta)?;
            let [meta] = meta;
            raw.extend(meta.finish().hits);
            let mut regions = [
                new(false, ds_start),
                new(true, ds_start.saturating_add(pixel.start)),
                new(false, ds_start.saturating_add(pixel.end)),
            ];
            let inflated = {
                let body = std::io::BufReader::with_capacity(1 << 16, src.open_at(ds_start)?);
                let mut r = flate2::read::DeflateDecoder::new(body).take(limit.saturating_add(1));
                route(&mut r, &[pixel.start, pixel.end], &mut regions)
            };
            match inflated {
                Err(e) => {
                    let reason = FileError::Inflate(e).to_string();
                    return self.unreadable_stream(rel, src, reason, chunk);
                }
                Ok(n) if n > limit => {
                    let reason = FileError::InflatesBeyond { limit }.to_string();
                    return self.unreadable_stream(rel, src, reason, chunk);
                }
                Ok(_) => {}
            }
            let [head, pixels, tail] = regions;
            raw.extend(head.finish().hits);
            pixel_labels = pixels.finish().found.into_keys().collect();
            raw.extend(tail.finish().hits);
        } else {
            let cuts = [
                ds_start.saturating_add(pixel.start).min(len),
                ds_start.saturating_add(pixel.end).min(len),
            ];
            let swapped = self.pixel_words_swapped_at(src, layout.encoding, cuts[0])?;
            let mut regions = [
                new(false, 0),
                new(true, cuts[0]).with_swapped_words(swapped),
                new(false, cuts[1]),
            ];
            route(&mut *src.open_at(0)?, &cuts, &mut regions)?;
            let [head, pixels, tail] = regions;
            raw.extend(head.finish().hits);
            pixel_labels = pixels.finish().found.into_keys().collect();
            raw.extend(tail.finish().hits);
        }

        let walked = {
            let mut w = Walked::default();
            let pre: u64 = if preamble { 132 } else { 4 };
            let meta = std::io::BufReader::new(
                src.open_at(pre.min(ds_start))?
                    .take(ds_start.saturating_sub(pre)),
            );
            let meta_map = StreamMap::at(pre.min(ds_start));
            let generated = Generated::none();
            let cx = FileContext {
                generated: &generated,
                mode,
            };
            let mut result = self.walk_tokens(
                meta,
                None,
                META_TRANSFER_SYNTAX,
                true,
                meta_map,
                &cx,
                &mut w,
            );
            if result.is_ok() {
                let body = src.open_at(ds_start)?;
                let body: Box<dyn SkipRead + '_> = if deflated {
                    let inflate = flate2::read::DeflateDecoder::new(std::io::BufReader::new(body));
                    Box::new(Plain(inflate.take(limit)))
                } else {
                    body
                };
                let without = WithoutRange {
                    inner: body,
                    pos: 0,
                    skip: pixel.clone(),
                };
                let body_map = StreamMap {
                    base: ds_start,
                    gap_at: pixel.start,
                    gap_len: pixel.end.saturating_sub(pixel.start),
                };
                result = self.walk_tokens(
                    std::io::BufReader::with_capacity(1 << 16, without),
                    None,
                    walk_transfer_syntax(layout.encoding),
                    false,
                    body_map,
                    &cx,
                    &mut w,
                );
            }
            result.map(|()| w)
        };
        Ok(self.dicom_findings(rel, &raw, pixel_labels, walked))
    }

    /// A streamed DICOM file the structural check refused: a finding, and every value searched
    /// in its raw bytes.
    pub(crate) fn unreadable_stream(
        &self,
        rel: &str,
        src: &mut dyn Source,
        reason: String,
        chunk: usize,
    ) -> std::io::Result<Vec<Finding>> {
        let mut findings = vec![Finding::Unreadable {
            file: rel.to_string(),
            reason,
        }];
        let (found, _) = self.stream_all(src, self.mode_for(rel), chunk)?;
        findings.extend(value_findings(
            rel,
            Region::Text,
            found.into_keys().collect(),
        ));
        Ok(findings)
    }

    /// A `manifest.json` or `manifest.csv` too big to hold: searched as text, whole words
    /// only, but without blanking depot's own vocabulary first (stricter than
    /// [`Auditor::scan_manifest`]: a patient named like one of its words is found there).
    pub(crate) fn scan_manifest_source(
        &self,
        rel: &str,
        src: &mut dyn Source,
        chunk: usize,
    ) -> std::io::Result<Vec<Finding>> {
        let mode = Mode {
            whole_words: true,
            subject: None,
        };
        let (found, _) = self.stream_all(src, mode, chunk)?;
        Ok(value_findings(
            rel,
            Region::Text,
            found.into_keys().collect(),
        ))
    }

    /// [`Auditor::scan_repaired`] for a file too big to hold (`len` bytes; `layout` is the
    /// standard's reading of it, which found elements encoded as UN): everything but the
    /// top-level pixel data value is read into memory and repaired; the pixel data value is
    /// searched streaming. A deflated data set cannot be cut, nor a header bigger than
    /// [`STREAM_ABOVE`] held: such a file is reported unreadable, every byte of it searched.
    pub(crate) fn scan_source_repaired(
        &self,
        rel: &str,
        src: &mut dyn Source,
        len: u64,
        layout: &scan::Layout,
        chunk: usize,
    ) -> std::io::Result<Vec<Finding>> {
        let start = layout.data_set_start.min(len);
        let pixel = layout
            .pixel_data
            .as_ref()
            .map(|p| start.saturating_add(p.start).min(len)..start.saturating_add(p.end).min(len))
            .unwrap_or(len..len);
        let kept = len - (pixel.end - pixel.start);
        if layout.encoding == Encoding::Deflated || kept > STREAM_ABOVE {
            let reason = if layout.encoding == Encoding::Deflated {
                "a deflated data set with elements encoded as UN, too big to repair in memory"
            } else {
                "a header with elements encoded as UN, too big to repair in memory"
            };
            return self.unreadable_stream(rel, src, reason.to_string(), chunk);
        }
        let mut bytes = Vec::with_capacity(usize::try_from(kept).unwrap_or(0));
        src.open_at(0)?.take(pixel.start).read_to_end(&mut bytes)?;
        src.open_at(pixel.end)?.read_to_end(&mut bytes)?;
        let preamble = bytes.get(128..132) == Some(b"DICM");
        let generated = Generated::none();
        let cx = FileContext {
            generated: &generated,
            mode: self.mode_for(rel),
        };
        let mut findings = match readable(&bytes, preamble) {
            Ok(copy) => self.scan_repaired(rel, &bytes, preamble, &copy, &cx),
            Err(e) => self.unreadable(rel, &bytes, e.to_string()),
        };
        let swapped = self.pixel_words_swapped_at(src, layout.encoding, pixel.start)?;
        let mut search = [
            RegionSearch::new(self, true, Mode::default(), chunk, pixel.start)
                .with_swapped_words(swapped),
        ];
        route(
            &mut src.open_at(pixel.start)?.take(pixel.end - pixel.start),
            &[],
            &mut search,
        )?;
        let [pixels] = search;
        findings.extend(value_findings(
            rel,
            Region::PixelData,
            pixels.finish().found.into_keys().collect(),
        ));
        findings.sort();
        findings.dedup();
        Ok(findings)
    }

    /// Whether the top-level Pixel Data element starting at `at` in the file holds big endian
    /// words (see `byte_order`), from its header.
    fn pixel_words_swapped_at(
        &self,
        src: &mut dyn Source,
        encoding: Encoding,
        at: u64,
    ) -> std::io::Result<bool> {
        if encoding != Encoding::ExplicitBig {
            return Ok(false);
        }
        let mut header = Vec::new();
        src.open_at(at)?.take(6).read_to_end(&mut header)?;
        Ok(pixel_words_swapped(encoding, &header))
    }
}
