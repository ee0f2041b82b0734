//! Auditing a DICOM file that dicom-rs reads correctly only through the reading layer's
//! repaired copy ([`archive::reading::readable`]): a file meta group without its group length,
//! or elements encoded as UN (PS3.5 6.2.2), above all UN sequences of undefined length, whose
//! items dicom-rs would read in the wrong encoding. The import and the engine parse that copy;
//! so does the audit, or it would call unreadable what depot itself reads (an `original`
//! package of such files, a foreign package given to `depot audit`).
//!
//! The copy says the same thing in other bytes: element headers re-encoded, UN values given
//! their dictionary VR (binary ones byte-swapped in a big endian file), a group length added.
//! So it is the copy whose elements are located and judged, and whose structure is checked
//! (private elements, PatientIdentityRemoved); but the byte search still covers the file as
//! written, every byte of it: a value is found in the header of the file as written as often
//! as in the copy's, unless some bytes of the file hold it that the copy holds otherwise (a
//! name across an element header the copy rewrote, a text in a UN value the copy
//! byte-swapped). Such a value is a finding with no element named, like any value found
//! outside every element. The top-level Pixel Data and what follows it are the same bytes in
//! both, and are searched once.
//!
//! A file too big to hold is repaired without its pixel data: its header and what follows the
//! pixel data (which the copy needs) are read into memory, the pixel data value is streamed
//! through its own search (`Auditor::scan_source_repaired`, in `stream`).

use std::collections::{BTreeMap, BTreeSet};

use archive::reading::{Readable, with_group_length};
use archive::scan::{self, Options, Reading, ScanError};

use crate::auditor::Auditor;
use crate::dicom::RawHit;
use crate::finding::{Finding, Region, value_findings};
use crate::regions::Regions;
use crate::walk::FileContext;

/// The standard's reading of a data set (UN sequences read as PS3.5 6.2.2 says).
pub(crate) const STANDARD: Options = Options {
    reading: Reading::Standard,
    header_only: false,
};

impl Auditor {
    /// Checks a DICOM file held in memory (`bytes`, as written) through its repaired `copy`.
    pub(crate) fn scan_repaired(
        &self,
        rel: &str,
        bytes: &[u8],
        preamble: bool,
        copy: &Readable<'_>,
        cx: &FileContext<'_>,
    ) -> Vec<Finding> {
        let regions = match Regions::of(&copy.bytes, &copy.layout) {
            Ok(r) => r,
            Err(e) => return self.unreadable(rel, bytes, e.to_string()),
        };
        let copy_hits = self.header_hits(&copy.bytes, &regions, cx.mode);
        let pixel_labels = self.pixel_labels(&regions, copy.layout.encoding);
        let walked = self.walk(&copy.bytes, preamble, copy.layout.encoding, &regions, cx);
        let mut findings = self.dicom_findings(rel, &copy_hits, pixel_labels, walked);
        let written = written_layout(bytes, preamble)
            .ok()
            .and_then(|layout| Regions::of(bytes, &layout).ok());
        match written {
            Some(r) => {
                let as_written = self.header_hits(bytes, &r, cx.mode);
                findings.extend(
                    unaccounted(&as_written, &copy_hits)
                        .into_iter()
                        .map(|what| Finding::Value {
                            file: rel.to_string(),
                            what,
                            region: Region::Header,
                            tag: None,
                        }),
                );
            }
            // Not expected (the reading layer scanned these bytes): every value in them counts.
            None => findings.extend(value_findings(
                rel,
                Region::Header,
                self.labels(bytes, cx.mode, false),
            )),
        }
        findings.sort();
        findings.dedup();
        findings
    }
}

/// The layout of a file as written, under the standard's reading; a meta group without its
/// group length is read as if it had one (the offsets stay those of the file).
fn written_layout(bytes: &[u8], preamble: bool) -> Result<scan::Layout, ScanError> {
    let start = if preamble { 132 } else { 4 };
    match with_group_length(bytes, start)? {
        Some(fixed) => {
            let mut layout = scan::check_with(&fixed, preamble, STANDARD)?;
            let added = (fixed.len() - bytes.len()) as u64;
            layout.data_set_start = layout.data_set_start.saturating_sub(added);
            Ok(layout)
        }
        None => scan::check_with(bytes, preamble, STANDARD),
    }
}

/// The labels found in the header as written more often than in the copy's (single CJK
/// characters aside, which count only inside text values): values some bytes of the file hold
/// that the copy holds otherwise.
fn unaccounted(as_written: &[RawHit], copy: &[RawHit]) -> BTreeSet<String> {
    fn count(hits: &[RawHit]) -> BTreeMap<&str, usize> {
        let mut n: BTreeMap<&str, usize> = BTreeMap::new();
        for h in hits.iter().filter(|h| !h.confirm) {
            *n.entry(h.label.as_str()).or_default() += 1;
        }
        n
    }
    let in_copy = count(copy);
    count(as_written)
        .into_iter()
        .filter(|(label, n)| in_copy.get(label).copied().unwrap_or(0) < *n)
        .map(|(label, _)| label.to_string())
        .collect()
}
