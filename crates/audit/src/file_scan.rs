//! The audit of one file held in memory, as a package's file or zip entry: the manifest with
//! depot's own words blanked, other files searched whole, DICOM files read as the import reads
//! them (through the reading layer's repaired copy when dicom-rs needs one).

use anon_core::Report;

use crate::auditor::Auditor;
use crate::finding::{Finding, Region, value_findings};
use crate::manifest_words::{blank_manifest, blank_manifest_in_place, is_manifest};
use crate::matcher::Mode;
use crate::walk::FileContext;
use crate::written::Generated;

impl Auditor {
    /// Checks one file's bytes: identifying values everywhere, and the structural rules if it
    /// is DICOM. `rel` is the package-relative name used in findings. The package's own
    /// `manifest.json` and `manifest.csv` (by that name) are checked as
    /// [`Auditor::scan_manifest`] does.
    pub fn scan_file(&self, rel: &str, bytes: &[u8]) -> Vec<Finding> {
        self.scan_file_with(rel, bytes, &Generated::none())
    }

    /// [`Auditor::scan_file`] for a file the export just wrote, with the engine's report of
    /// it: a match inside a value the engine reports it computed from the key (a shifted date,
    /// a keyed code) and that has that shape is depot's own, not a finding (see
    /// [`crate::written`]).
    pub fn scan_exported_file(&self, rel: &str, bytes: &[u8], report: &Report) -> Vec<Finding> {
        self.scan_file_with(rel, bytes, &Generated::from_report(report))
    }

    /// [`Auditor::scan_exported_file`] with what the audit needs of the engine's report, taken
    /// from it beforehand ([`Generated::from_report`]) by a caller that keeps it for a while.
    pub fn scan_file_computed(
        &self,
        rel: &str,
        bytes: &[u8],
        generated: &Generated,
    ) -> Vec<Finding> {
        self.scan_file_with(rel, bytes, generated)
    }

    pub(crate) fn scan_file_with(
        &self,
        rel: &str,
        bytes: &[u8],
        generated: &Generated,
    ) -> Vec<Finding> {
        if is_manifest(rel) {
            return self.scan_manifest(rel, bytes);
        }
        let preamble = if bytes.get(128..132) == Some(b"DICM") {
            true
        } else if bytes.starts_with(b"DICM") {
            false
        } else {
            // Not DICOM: all of it is searched, single characters too when it is text.
            let text = !bytes.contains(&0);
            return value_findings(
                rel,
                Region::Text,
                self.labels(bytes, self.mode_for(rel), text),
            );
        };
        let cx = FileContext {
            generated,
            mode: self.mode_for(rel),
        };
        // Parsed as the import and the engine parse it: a file dicom-rs would refuse or misread
        // as written (a meta group without its length, UN sequences) through the reading
        // layer's repaired copy (see `repaired`).
        match archive::reading::readable(bytes, preamble) {
            Ok(r) if r.is_copy() => self.scan_repaired(rel, bytes, preamble, &r, &cx),
            Ok(r) => self.scan_dicom(rel, bytes, preamble, &r.layout, &cx),
            Err(e) => self.unreadable(rel, bytes, e.to_string()),
        }
    }

    /// Checks the package's `manifest.json` or `manifest.csv`: depot's own vocabulary (field
    /// names, the CSV header, message templates, level and option names, modality codes), the
    /// terms of its findings and release (IDs, types, tag paths, keywords, times) and the
    /// fields it computes (numbers, digests) are blanked first (`manifest_words`),
    /// and a value counts only as a whole word. A value depot never writes there is still
    /// found.
    pub fn scan_manifest(&self, rel: &str, bytes: &[u8]) -> Vec<Finding> {
        self.scan_blanked_manifest(rel, &blank_manifest(bytes, rel.ends_with(".csv")))
    }

    /// [`Auditor::scan_manifest`] of a manifest the caller gives up: blanked where it lies
    /// instead of in a copy (an export's `manifest.json` of 100,000 files is 22 MB).
    pub fn scan_manifest_owned(&self, rel: &str, mut bytes: Vec<u8>) -> Vec<Finding> {
        blank_manifest_in_place(&mut bytes, rel.ends_with(".csv"));
        self.scan_blanked_manifest(rel, &bytes)
    }

    fn scan_blanked_manifest(&self, rel: &str, blanked: &[u8]) -> Vec<Finding> {
        let mode = Mode {
            whole_words: true,
            subject: None,
        };
        value_findings(rel, Region::Text, self.labels(blanked, mode, true))
    }
}
