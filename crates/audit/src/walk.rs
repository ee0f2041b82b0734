//! The token walk of a DICOM file (dicom-rs's token reader, values kept as raw bytes): private
//! elements at any depth, PatientIdentityRemoved, where each element's value lies in the file,
//! and the verdict on every identifying value found inside each element on its own.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::Read;

use anon_core::vr_class::is_character_string;
use archive::scan::Encoding;
use dicom_core::{Tag, VR};
use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
use dicom_parser::dataset::read::{DataSetReaderOptions, ValueReadStrategy};
use dicom_parser::dataset::{DataSetReader, DataToken};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use crate::auditor::Auditor;
use crate::byte_order::{unit_of, units_reversed};
use crate::element::Element;
use crate::error::FileError;
use crate::matcher::{Hit, Mode};
use crate::needle::LONG_NEEDLE;
use crate::ranges::{Counting, StreamMap, ValueRanges};
use crate::regions::Regions;
use crate::verdict::{Judge, Verdict};
use crate::written::Generated;

/// What the audit knows about one file while reading it.
pub(crate) struct FileContext<'g> {
    /// The elements the engine computed in it (known to the export's own audit only).
    pub(crate) generated: &'g Generated,
    /// How matches count in it (whose file it is).
    pub(crate) mode: Mode,
}

/// The transfer syntax the meta group is read in.
pub(crate) const META_TRANSFER_SYNTAX: &str = "1.2.840.10008.1.2.1";

/// The transfer syntax a data set is walked in (a deflated one is walked inflated).
pub(crate) fn walk_transfer_syntax(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::ImplicitLittle => "1.2.840.10008.1.2",
        Encoding::ExplicitBig => "1.2.840.10008.1.2.2",
        Encoding::ExplicitLittle | Encoding::Deflated => "1.2.840.10008.1.2.1",
    }
}

/// What the token walk of one DICOM file found.
#[derive(Debug, Default)]
pub(crate) struct Walked {
    pub(crate) private: Vec<String>,
    pub(crate) identity_removed: bool,
    /// Label → element tag path → the verdict on its value there (dropped ones left out).
    pub(crate) located: BTreeMap<String, BTreeMap<String, Verdict>>,
    /// Where the element values lie.
    pub(crate) values: ValueRanges,
}

/// One step of a tag path while walking.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Step {
    Sequence { tag: Tag, items: usize },
    Item { tag: Tag, item: usize },
}

/// `(gggg,eeee)[i]/(gggg,eeee)` for an element under `path`.
pub(crate) fn tag_path(path: &[Step], tag: Tag) -> String {
    let mut out = String::new();
    for step in path {
        if let Step::Item { tag, item } = step {
            out.push_str(&format!(
                "({:04X},{:04X})[{item}]/",
                tag.group(),
                tag.element()
            ));
        }
    }
    out.push_str(&format!("({:04X},{:04X})", tag.group(), tag.element()));
    out
}

impl Auditor {
    /// Reads the meta group and the data set (without its top-level pixel data) with
    /// dicom-rs's token reader: see [`Auditor::walk_tokens`]. The walk runs even when the raw
    /// search found nothing: a value searched on its own can match where its neighbours hid
    /// it (in big endian, the byte before a value is its length's low byte, which may read as
    /// a digit or a letter).
    pub(crate) fn walk(
        &self,
        bytes: &[u8],
        preamble: bool,
        encoding: Encoding,
        r: &Regions<'_>,
        cx: &FileContext<'_>,
    ) -> Result<Walked, FileError> {
        let pre = if preamble { 132 } else { 4 };
        let meta_elements = &bytes[pre.min(r.ds_start)..r.ds_start];
        let mut w = Walked::default();
        let body_map = StreamMap {
            base: r.ds_start as u64,
            gap_at: r.pixel.start as u64,
            gap_len: r.pixel.len() as u64,
        };
        self.walk_tokens(
            meta_elements,
            Some(meta_elements.len() as u64),
            META_TRANSFER_SYNTAX,
            true,
            StreamMap::at(pre.min(r.ds_start) as u64),
            cx,
            &mut w,
        )?;
        let ts = walk_transfer_syntax(encoding);
        let body_len = (r.head().len() + r.tail().len()) as u64;
        self.walk_tokens(
            r.head().chain(r.tail()),
            Some(body_len),
            ts,
            false,
            body_map,
            cx,
            &mut w,
        )?;
        Ok(w)
    }

    /// Reads one part of a file (the meta group, or the data set without its top-level pixel
    /// data) with dicom-rs's token reader, values as raw bytes: private elements,
    /// PatientIdentityRemoved, where each value lies (`map` places the stream's positions in
    /// the file) and the verdict on every identifying value inside each element. `len`, when
    /// known, is how many bytes `source` holds: the walk stops when it has read them all
    /// outside any sequence, rather than asking dicom-rs for one more element, which it
    /// answers by building an end-of-data error (and capturing a backtrace, whatever
    /// `RUST_BACKTRACE` says) before it reports a clean end.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn walk_tokens(
        &self,
        source: impl Read,
        len: Option<u64>,
        ts_uid: &str,
        meta: bool,
        map: StreamMap,
        cx: &FileContext<'_>,
        w: &mut Walked,
    ) -> Result<(), FileError> {
        let ts = TransferSyntaxRegistry
            .get(ts_uid)
            .ok_or_else(|| FileError::UnknownTransferSyntax(ts_uid.to_string()))?;
        let options = DataSetReaderOptions::default().value_read(ValueReadStrategy::Raw);
        let pos = Cell::new(0u64);
        let counted = Counting {
            inner: source,
            pos: &pos,
        };
        let mut reader =
            DataSetReader::new_with_ts_options(counted, ts, options).map_err(FileError::Parse)?;
        let big_endian = ts_uid == walk_transfer_syntax(Encoding::ExplicitBig);
        let mut path: Vec<Step> = Vec::new();
        let mut header: Option<(Tag, VR)> = None;
        loop {
            let read_all = len.is_some_and(|len| pos.get() >= len);
            if read_all && path.is_empty() && header.is_none() {
                break;
            }
            let Some(token) = reader.next() else { break };
            let token = token.map_err(FileError::Parse)?;
            match token {
                DataToken::ElementHeader(h) => {
                    if h.tag.group() % 2 == 1 {
                        w.private.push(tag_path(&path, h.tag));
                    }
                    header = Some((h.tag, h.vr));
                }
                DataToken::PrimitiveValue(v) => {
                    let Some((tag, vr)) = header.take() else {
                        continue;
                    };
                    let value = v.to_bytes();
                    w.values.push(map.value(pos.get(), value.len() as u64));
                    if !meta && path.is_empty() && tag == Tag(0x0012, 0x0062) {
                        w.identity_removed = String::from_utf8_lossy(&value)
                            .trim_matches(|c: char| c == '\0' || c.is_whitespace())
                            .eq_ignore_ascii_case("YES");
                    }
                    self.locate(cx, tag, vr, &value, &path, w);
                    // Words a big endian file stores most significant byte first: also as a
                    // little endian copy of the file would hold them (see `byte_order`).
                    if big_endian && let Some(unit) = unit_of(vr) {
                        self.locate(cx, tag, vr, &units_reversed(&value, unit, 0), &path, w);
                    }
                }
                DataToken::SequenceStart { tag, .. } => {
                    if tag.group() % 2 == 1 {
                        w.private.push(tag_path(&path, tag));
                    }
                    path.push(Step::Sequence { tag, items: 0 });
                }
                DataToken::PixelSequenceStart => {
                    let tag = header.take().map_or(Tag(0x7FE0, 0x0010), |(t, _)| t);
                    path.push(Step::Sequence { tag, items: 0 });
                }
                DataToken::ItemStart { .. } => {
                    if let Some(Step::Sequence { tag, items }) = path.last_mut() {
                        let (tag, item) = (*tag, *items);
                        *items += 1;
                        path.push(Step::Item { tag, item });
                    }
                }
                DataToken::ItemEnd => {
                    if let Some(Step::Item { .. }) = path.last() {
                        path.pop();
                    }
                }
                DataToken::SequenceEnd => {
                    if let Some(Step::Item { .. }) = path.last() {
                        path.pop();
                    }
                    path.pop();
                }
                DataToken::ItemValue(bytes) => {
                    // A fragment of encapsulated pixel data nested in a sequence (an icon).
                    w.values.push(map.value(pos.get(), bytes.len() as u64));
                    if let Some(Step::Item { tag, .. }) = path.last() {
                        let tag = *tag;
                        self.locate(cx, tag, VR::OB, &bytes, &path[..path.len() - 1], w);
                    }
                }
                DataToken::OffsetTable(table) => {
                    // The basic offset table of a nested pixel sequence: binary, searched too.
                    let bytes: Vec<u8> = table.iter().flat_map(|o| o.to_le_bytes()).collect();
                    w.values.push(map.value(pos.get(), bytes.len() as u64));
                    if let Some(Step::Item { tag, .. }) = path.last() {
                        let tag = *tag;
                        self.locate(cx, tag, VR::OB, &bytes, &path[..path.len() - 1], w);
                    }
                }
            }
        }
        Ok(())
    }

    /// Searches one element's value on its own (its edges are boundaries) and records the
    /// verdict on each identifying value in it, the strongest per label and element.
    pub(crate) fn locate(
        &self,
        cx: &FileContext<'_>,
        tag: Tag,
        vr: VR,
        value: &[u8],
        path: &[Step],
        w: &mut Walked,
    ) {
        let text = is_character_string(vr);
        let hits: Vec<Hit<'_>> = self
            .hits(value, cx.mode)
            .into_iter()
            .filter(|h| text || !h.confirm)
            .collect();
        if hits.is_empty() {
            return;
        }
        let here = tag_path(path, tag);
        let element = Element {
            tag,
            path: &here,
            vr,
            value,
        };
        let judge = Judge {
            written: &self.written,
            generated: cx.generated,
            long: LONG_NEEDLE,
        };
        for h in hits {
            let verdict = judge.verdict(&element, h.range.clone(), h.spelled);
            if verdict == Verdict::Dropped {
                continue;
            }
            let places = w.located.entry(h.label.to_string()).or_default();
            match places.get_mut(&here) {
                Some(v) if *v >= verdict => {}
                Some(v) => *v = verdict,
                None => {
                    places.insert(here.clone(), verdict);
                }
            }
        }
    }
}
