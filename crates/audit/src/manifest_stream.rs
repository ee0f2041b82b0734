//! The manifest searched as it is written, a piece at a time, with the findings
//! [`Auditor::scan_manifest`] gives the whole: an export of a million files writes about
//! 220 MB of `manifest.json`, which it does not hold.
//!
//! Blanking depot's own words (`manifest_words`) reads a JSON line, or a CSV row, on its own:
//! every field and column rule starts again at a newline outside a string (JSON) or outside
//! quotes (CSV). So the text is cut only there, each piece is blanked as the whole would be,
//! and searched
//! together with the end of the piece before it: at least as many bytes as the longest
//! spelling searched, from the start of a line (where the whole text has a newline before),
//! so that a value across the cut is found, and a piece's first word is bounded as it is in
//! the whole. A value found twice is one finding (findings are by label).

use std::collections::BTreeSet;
use std::io::{self, Write};

use crate::auditor::Auditor;
use crate::finding::{Finding, Region, value_findings};
use crate::manifest_words::blank_manifest_in_place;
use crate::matcher::Mode;

/// How many bytes are gathered before a piece is blanked and searched.
const PIECE: usize = 1 << 20;

/// A manifest being searched as it is written to it (it is a [`Write`]); its findings from
/// [`ManifestScan::finish`].
pub struct ManifestScan<'a> {
    auditor: &'a Auditor,
    rel: String,
    csv: bool,
    /// Written, not searched yet (starts at a line, or a row of the CSV).
    pending: Vec<u8>,
    /// The end of what was searched, blanked, from the start of a line.
    tail: Vec<u8>,
    labels: BTreeSet<String>,
    piece: usize,
    /// How long `pending` may grow before it is cut next.
    next: usize,
}

impl Auditor {
    /// A search of the package's manifest `rel` (`manifest.json` or `manifest.csv`) as it is
    /// written: what [`Auditor::scan_manifest`] finds in the bytes written, holding about a
    /// megabyte of them at a time.
    pub fn manifest_scan(&self, rel: &str) -> ManifestScan<'_> {
        ManifestScan {
            auditor: self,
            rel: rel.to_string(),
            csv: rel.ends_with(".csv"),
            pending: Vec::new(),
            tail: Vec::new(),
            labels: BTreeSet::new(),
            piece: PIECE,
            next: PIECE,
        }
    }
}

impl ManifestScan<'_> {
    /// The same search, cutting pieces of about `piece` bytes (tests cut tiny ones).
    #[cfg(test)]
    pub(crate) fn with_piece(mut self, piece: usize) -> Self {
        self.piece = piece.max(1);
        self.next = self.piece;
        self
    }

    /// The findings in everything written.
    pub fn finish(mut self) -> Vec<Finding> {
        let rest = std::mem::take(&mut self.pending);
        self.search(rest);
        value_findings(&self.rel, Region::Text, self.labels)
    }

    /// Where the text written so far can be cut: after its last line outside a string (JSON:
    /// depot's never has a newline inside one, but a newline there would not end a line of
    /// the blanking's rules) or its last row (CSV: a newline outside quotes).
    fn cut(&self) -> usize {
        let mut quoted = false;
        let mut escaped = false;
        let mut cut = 0;
        for (i, &b) in self.pending.iter().enumerate() {
            if escaped {
                escaped = false;
                continue;
            }
            match b {
                // In CSV a doubled quote toggles twice; in JSON a quote is escaped.
                b'\\' if quoted && !self.csv => escaped = true,
                b'"' => quoted = !quoted,
                b'\n' if !quoted => cut = i + 1,
                _ => {}
            }
        }
        cut
    }

    /// Blanks `piece` (whole lines or rows) and searches it after the tail.
    fn search(&mut self, mut piece: Vec<u8>) {
        if piece.is_empty() {
            return;
        }
        blank_manifest_in_place(&mut piece, self.csv);
        let mut hay = std::mem::take(&mut self.tail);
        hay.extend_from_slice(&piece);
        drop(piece);
        let mode = Mode {
            whole_words: true,
            subject: None,
        };
        self.labels.extend(self.auditor.labels(&hay, mode, true));
        // The shortest end of `hay` from a line's start holding the longest spelling.
        let keep = self.auditor.longest + 64;
        let from = hay
            .len()
            .checked_sub(keep)
            .and_then(|limit| hay[..limit].iter().rposition(|&b| b == b'\n'))
            .map_or(0, |i| i + 1);
        hay.drain(..from);
        self.tail = hay;
    }
}

impl Write for ManifestScan<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if self.pending.len() >= self.next {
            let cut = self.cut();
            if cut > 0 {
                let rest = self.pending.split_off(cut);
                let piece = std::mem::replace(&mut self.pending, rest);
                self.search(piece);
            }
            // (A line longer than a piece is cut when it ends.)
            self.next = self.pending.len() + self.piece;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest_words::tests::full_manifest;
    use crate::{Needle, Rules, ValueKind};

    /// A manifest with values planted in it (some across lines, some at a line's start or
    /// end, some glued to other words), and the full manifest's words as needles.
    fn planted() -> (Vec<u8>, Vec<u8>, Auditor) {
        let (json, csv) = full_manifest();
        let mut json = String::from_utf8(json).unwrap();
        let at = json.find("\"level\"").unwrap();
        json.insert_str(
            at,
            "\"note\": \"Doe Jane MRN000040 xMRN000040 1.2.840.99.7\",\n  ",
        );
        json = json.replacen("\"reason\": \"\"", "\"reason\": \"checked\nMRN000041\"", 1);
        let mut csv = String::from_utf8(csv).unwrap();
        csv.push_str("Doe,1,3,MR,\"x\nJane\",y,1,\n");
        csv.push_str("MRN000042,1,\"3,\"\"4\",MR,p,y,1,F1\n");
        let needles = [
            Needle::new("PatientID", ValueKind::Identifier, "MRN000040"),
            Needle::new("OtherPatientIDs", ValueKind::Identifier, "MRN000041"),
            Needle::new("IssuerOfPatientID", ValueKind::Identifier, "MRN000042"),
            Needle::new("PatientName", ValueKind::PersonName, "Doe^Jane"),
            Needle::new("StudyInstanceUID", ValueKind::Uid, "1.2.840.99.7"),
            Needle::new("StudyID", ValueKind::Identifier, "0010"),
            Needle::new("PatientBirthDate", ValueKind::Date, "20260504"),
        ];
        let auditor = Auditor::new(&needles, Rules::default()).unwrap();
        (json.into_bytes(), csv.into_bytes(), auditor)
    }

    #[test]
    fn a_manifest_searched_as_it_is_written_has_the_findings_of_the_whole() {
        let (json, csv, auditor) = planted();
        for (rel, text) in [("manifest.json", &json), ("manifest.csv", &csv)] {
            let whole = auditor.scan_manifest(rel, text);
            assert!(!whole.is_empty(), "{rel}: the planted values are found");
            for piece in [1, 2, 7, 64, 333, 4096, PIECE] {
                for write in [1, 3, 1000] {
                    let mut scan = auditor.manifest_scan(rel).with_piece(piece);
                    for part in text.chunks(write) {
                        scan.write_all(part).unwrap();
                    }
                    assert_eq!(
                        scan.finish(),
                        whole,
                        "{rel}, pieces of {piece}, writes of {write}"
                    );
                }
            }
        }
    }
}
