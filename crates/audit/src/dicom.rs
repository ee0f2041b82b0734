//! The findings of one DICOM file held in memory: every match in its header (each at its place
//! in the file), long values in its pixel data, and what the token walk found, put together;
//! a file the structural check refuses is a finding with its raw bytes still searched.

use std::collections::BTreeSet;
use std::ops::Range;

use archive::scan;

use crate::auditor::Auditor;
use crate::byte_order::{pixel_words_swapped, units_reversed};
use crate::error::FileError;
use crate::finding::{Finding, Region, value_findings};
use crate::matcher::{Hit, Mode, find_any};
use crate::needle::LONG_NEEDLE;
use crate::regions::Regions;
use crate::runs::alphabet_runs;
use crate::verdict::Verdict;
use crate::walk::{FileContext, Walked};

/// A match in a header's raw bytes, at its position in the file (see [`crate::ranges`]).
#[derive(Debug, Clone)]
pub(crate) struct RawHit {
    pub(crate) label: String,
    pub(crate) range: Range<u64>,
    pub(crate) confirm: bool,
}

impl RawHit {
    /// `h`, found in bytes that start at `base`.
    pub(crate) fn at(h: &Hit<'_>, base: u64) -> RawHit {
        RawHit {
            label: h.label.to_string(),
            range: base + h.range.start as u64..base + h.range.end as u64,
            confirm: h.confirm,
        }
    }
}

impl Auditor {
    /// A DICOM file the structural check refused: a finding, and every value searched in
    /// its raw bytes.
    pub(crate) fn unreadable(&self, rel: &str, bytes: &[u8], reason: String) -> Vec<Finding> {
        let mut findings = vec![Finding::Unreadable {
            file: rel.to_string(),
            reason,
        }];
        findings.extend(value_findings(
            rel,
            Region::Text,
            self.labels(bytes, self.mode_for(rel), true),
        ));
        findings
    }

    /// Checks a DICOM file whose layout (as dicom-rs reads it: no repair needed) is `layout`.
    pub(crate) fn scan_dicom(
        &self,
        rel: &str,
        bytes: &[u8],
        preamble: bool,
        layout: &scan::Layout,
        cx: &FileContext<'_>,
    ) -> Vec<Finding> {
        let regions = match Regions::of(bytes, layout) {
            Ok(r) => r,
            Err(e) => return self.unreadable(rel, bytes, e.to_string()),
        };
        let raw = self.header_hits(bytes, &regions, cx.mode);
        let pixel_labels = self.pixel_labels(&regions, layout.encoding);
        let walked = self.walk(bytes, preamble, layout.encoding, &regions, cx);
        self.dicom_findings(rel, &raw, pixel_labels, walked)
    }

    /// Every match in a file's header (preamble, meta group and data set outside the top-level
    /// pixel data), each at its position in the file (see `ranges`).
    pub(crate) fn header_hits(&self, bytes: &[u8], r: &Regions<'_>, mode: Mode) -> Vec<RawHit> {
        let ds = r.ds_start as u64;
        let mut raw: Vec<RawHit> = Vec::new();
        let mut add = |hits: Vec<Hit<'_>>, base: u64| {
            raw.extend(hits.into_iter().map(|h| RawHit::at(&h, base)));
        };
        if r.deflated {
            add(self.hits(r.meta(bytes), mode), 0);
            add(self.hits(r.head(), mode), ds);
        } else {
            add(self.hits(&bytes[..r.ds_start + r.pixel.start], mode), 0);
        }
        add(self.hits(r.tail(), mode), ds + r.pixel.end as u64);
        raw
    }

    /// The labels of the long values found inside the top-level pixel data value of a data
    /// set encoded as `encoding`; big endian OW words also with their bytes swapped back (see
    /// `byte_order`).
    pub(crate) fn pixel_labels(
        &self,
        r: &Regions<'_>,
        encoding: scan::Encoding,
    ) -> BTreeSet<String> {
        let mut labels = self.long_labels(r.pixels());
        if pixel_words_swapped(encoding, r.pixels()) {
            // The element's header is 12 bytes: its words start at an even offset.
            labels.extend(self.long_labels(&units_reversed(r.pixels(), 2, 0)));
        }
        labels
    }

    /// The labels of the long values found in `pixels` (pixel data's rule).
    fn long_labels(&self, pixels: &[u8]) -> BTreeSet<String> {
        let mut labels = BTreeSet::new();
        for run in alphabet_runs(pixels, &self.long_alphabet, LONG_NEEDLE) {
            find_any(
                self.long.as_ref(),
                &self.long_patterns,
                &self.uids,
                pixels,
                run,
                &|_| true,
                &mut labels,
            );
        }
        labels
    }

    /// The findings of one DICOM file: the element verdicts of the header's values (see
    /// [`crate::verdict`]), every match in the header that lies outside all element
    /// values (the preamble, across two values), pixel data values, and the structural rules'
    /// verdicts from the walk. A file whose walk failed gets every header match, untagged.
    pub(crate) fn dicom_findings(
        &self,
        rel: &str,
        raw: &[RawHit],
        pixel_labels: BTreeSet<String>,
        mut walked: Result<Walked, FileError>,
    ) -> Vec<Finding> {
        if let Ok(w) = &mut walked {
            w.values.finish();
        }
        let mut findings = Vec::new();
        let header = |what: &str, tag: Option<String>| Finding::Value {
            file: rel.to_string(),
            what: what.to_string(),
            region: Region::Header,
            tag,
        };
        match &walked {
            Ok(w) => {
                for (label, places) in &w.located {
                    for (tag, verdict) in places {
                        match verdict {
                            Verdict::Blocking => findings.push(header(label, Some(tag.clone()))),
                            Verdict::Coincidence { with } => {
                                findings.push(Finding::Coincidence {
                                    file: rel.to_string(),
                                    what: label.clone(),
                                    tag: tag.clone(),
                                    with: with.clone(),
                                });
                            }
                            Verdict::Dropped => {}
                        }
                    }
                }
                // No element excuses a match outside every value; a single character there is
                // binary noise.
                let outside: BTreeSet<&str> = raw
                    .iter()
                    .filter(|h| !h.confirm && !w.values.covers(&h.range))
                    .map(|h| h.label.as_str())
                    .collect();
                findings.extend(outside.into_iter().map(|label| header(label, None)));
            }
            Err(_) => {
                let labels: BTreeSet<&str> = raw.iter().map(|h| h.label.as_str()).collect();
                findings.extend(labels.into_iter().map(|label| header(label, None)));
            }
        }
        findings.extend(pixel_labels.into_iter().map(|what| Finding::Value {
            file: rel.to_string(),
            what,
            region: Region::PixelData,
            tag: None,
        }));
        match walked {
            Ok(w) => {
                if self.rules.forbid_private {
                    findings.extend(w.private.into_iter().map(|tag| Finding::PrivateElement {
                        file: rel.to_string(),
                        tag,
                    }));
                }
                if self.rules.require_identity_removed && !w.identity_removed {
                    findings.push(Finding::IdentityNotMarkedRemoved {
                        file: rel.to_string(),
                    });
                }
            }
            Err(e) => findings.push(Finding::Unreadable {
                file: rel.to_string(),
                reason: e.to_string(),
            }),
        }
        findings
    }
}
