//! Values depot wrote itself, which are never findings.
//!
//! A de-identified file is full of text depot put there: the dummy of every replaced value
//! (`ANONYMIZED`, the date `19000101`), the de-identification markers, the subject's keyed
//! pseudonym, keyed value codes, shifted dates. A patient's value that happens to lie inside
//! one of them (a StudyID `000101` inside `19000101`, a PatientID inside a pseudonym) is
//! depot's own text, not a leak, and the audit drops such a match.
//!
//! Two sources say what depot wrote:
//!
//! - [`WrittenValues`], by value: the engine's constants for the profile
//!   ([`anon_core::written_constants`]) and the package's subject pseudonyms. A match counts as
//!   depot's own only when it lies inside a value component equal to one of them, whatever
//!   element holds it: the bytes are then depot's, and depot's values are non-identifying by
//!   construction. Both the export's audit and `depot audit` know these.
//! - [`Generated`], by element: the engine's [`Report`] of one file names the elements whose
//!   values it computed from a key and cannot be recomputed by the audit (dates it shifted,
//!   keyed value codes). Only the export's own audit has the report. The audit still checks
//!   the value's shape (a date, a code `P`/`H` + 10 base32 characters) so a report cannot
//!   excuse a value the engine did not write; and a birth date is never excused inside a
//!   shifted date, since a date that equals the birth date looks exactly like one that was not
//!   shifted.
//!
//! The manifest, which depot writes whole, has depot-computed fields too (study numbers, file
//! sizes, checksums, counts): `blank_computed_fields` blanks them before the manifest
//! is searched, so a PatientID `134308` is not "found" in a file size.

use std::collections::{HashMap, HashSet};

use anon_core::{Done, Profile, Report};

/// Values depot writes, compared whole (one value of a multi-valued element, padding trimmed).
#[derive(Debug, Clone, Default)]
pub struct WrittenValues {
    values: HashSet<Box<[u8]>>,
}

impl WrittenValues {
    /// No values.
    pub fn new() -> WrittenValues {
        WrittenValues::default()
    }

    /// The engine's constants under `profile` (dummies, markers, method texts).
    pub fn add_profile(&mut self, profile: &Profile) {
        for v in anon_core::written_constants(profile) {
            self.add(&v);
        }
    }

    /// One value depot writes (a pseudonym, say).
    pub fn add(&mut self, value: &str) {
        let v = trim(value.as_bytes());
        if !v.is_empty() {
            self.values.insert(v.into());
        }
    }

    /// Whether one value component (padding not yet trimmed) is a value depot writes.
    pub fn contains(&self, component: &[u8]) -> bool {
        self.values.contains(trim(component))
    }
}

/// A value without the padding DICOM allows around it (spaces, NUL bytes).
pub(crate) fn trim(v: &[u8]) -> &[u8] {
    &v[trimmed_range(v)]
}

/// Where [`trim`]'s result lies in `v`.
pub(crate) fn trimmed_range(v: &[u8]) -> std::ops::Range<usize> {
    let start = v
        .iter()
        .position(|b| !matches!(b, b' ' | 0))
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !matches!(b, b' ' | 0))
        .map_or(start, |i| i + 1);
    start..end
}

/// What the engine computed into one element, from its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Computed {
    /// Dates shifted by the subject's offset.
    ShiftedDate,
    /// The subject's pseudonym or a keyed value code.
    KeyedCode,
}

/// The elements of one exported file whose values the engine computed from the key (by tag
/// path, as the audit writes them: `(0040,A730)[0]/(0040,A032)`).
#[derive(Debug, Clone, Default)]
pub struct Generated {
    elements: HashMap<String, Computed>,
}

impl Generated {
    /// Nothing known (a package audited without the engine's reports).
    pub fn none() -> Generated {
        Generated::default()
    }

    /// The shifted dates and keyed codes the engine reports for one file.
    pub fn from_report(report: &Report) -> Generated {
        let mut elements = HashMap::new();
        for a in &report.actions {
            let computed = match a.done {
                Done::DateShifted => Computed::ShiftedDate,
                Done::Pseudonymized => Computed::KeyedCode,
                _ => continue,
            };
            let mut path = String::new();
            for step in &a.path.0 {
                path.push_str(&format!(
                    "({:04X},{:04X})",
                    step.tag.group(),
                    step.tag.element()
                ));
                if let Some(item) = step.item {
                    path.push_str(&format!("[{item}]/"));
                }
            }
            elements.insert(path, computed);
        }
        Generated { elements }
    }

    /// About how many bytes of memory this holds (for callers that keep many).
    pub fn heap_bytes(&self) -> usize {
        self.elements.capacity() * (std::mem::size_of::<(String, Computed)>() + 1)
            + self.elements.keys().map(String::capacity).sum::<usize>()
    }

    /// Every element's tag path and what the engine computed into it (in no order), for a
    /// caller that keeps this elsewhere and makes it again with [`Generated::from_entries`].
    pub fn entries(&self) -> impl Iterator<Item = (&str, Computed)> + '_ {
        self.elements.iter().map(|(p, c)| (p.as_str(), *c))
    }

    /// What [`Generated::entries`] listed.
    pub fn from_entries(entries: impl IntoIterator<Item = (String, Computed)>) -> Generated {
        Generated {
            elements: entries.into_iter().collect(),
        }
    }

    /// What the engine computed into the element at `path`, if anything.
    pub(crate) fn computed(&self, path: &str) -> Option<Computed> {
        self.elements.get(path).copied()
    }
}

/// Whether `component` (trimmed) has the shape of what the engine computes: a DA or DT value
/// for a shifted date (digits, then a time and offset), `P` or `H` and 10 base32 characters
/// for a keyed code.
pub(crate) fn has_computed_shape(computed: Computed, component: &[u8]) -> bool {
    let c = trim(component);
    match computed {
        Computed::ShiftedDate => {
            let digits = c.iter().take_while(|b| b.is_ascii_digit()).count();
            matches!(digits, 4 | 6 | 8..=14)
                && c[digits..]
                    .iter()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'+' | b'-'))
        }
        Computed::KeyedCode => {
            c.len() == 11
                && matches!(c[0], b'P' | b'H')
                && c[1..]
                    .iter()
                    .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(b))
        }
    }
}

/// Fields of `manifest.json` whose values depot computes (numbers, digests; a file's checksum
/// is named after its algorithm): blanked before the manifest is searched.
const COMPUTED_JSON_FIELDS: [&[u8]; 5] = [
    b"\"blake3\":",
    b"\"sha256\":",
    b"\"profile_digest\":",
    b"\"key_fingerprint\":",
    b"\"number\":",
];

/// Columns of `manifest.csv` depot computes or takes from a number: study number, series label,
/// checksum, bytes.
const COMPUTED_CSV_COLUMNS: [usize; 4] = [1, 2, 5, 6];

/// Blanks (with spaces, so offsets and word boundaries stay) what depot computes in a
/// manifest: every JSON number (counts, sizes, study numbers: the manifest's only numbers),
/// the digests and a study's or series' `number`, or in the CSV the study, series, checksum and
/// bytes columns. A series label is SeriesNumber (an IS) with depot's `.1` suffix: a number
/// that equals an identifier is still found in the file's SeriesNumber and in the series'
/// folder name, both searched. A value planted as a string (`"note": "PA000021"`) is still
/// searched.
pub(crate) fn blank_computed_fields(out: &mut [u8], csv: bool) {
    if csv {
        for column in COMPUTED_CSV_COLUMNS {
            blank_csv_column(out, column);
        }
        return;
    }
    for key in COMPUTED_JSON_FIELDS {
        blank_json_field(out, key);
    }
    blank_json_numbers(out);
}

/// Blanks every number literal of JSON text (outside strings).
fn blank_json_numbers(out: &mut [u8]) {
    let mut in_string = false;
    let mut i = 0;
    while i < out.len() {
        let b = out[i];
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if b.is_ascii_digit() || b == b'-' {
            while i < out.len() && matches!(out[i], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
            {
                out[i] = b' ';
                i += 1;
            }
            continue;
        }
        i += 1;
    }
}

/// Blanks the value of every `key` (e.g. `"modality":`) in JSON text: a string's contents, or
/// a number.
pub(crate) fn blank_json_field(out: &mut [u8], key: &[u8]) {
    let mut from = 0;
    while let Some(at) = memchr::memmem::find(out.get(from..).unwrap_or_default(), key) {
        let mut i = from + at + key.len();
        while out.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        if out.get(i) == Some(&b'"') {
            i += 1;
            while i < out.len() && out[i] != b'"' {
                // An escape and the byte it escapes go together.
                let n = if out[i] == b'\\' { 2 } else { 1 };
                let end = (i + n).min(out.len());
                out[i..end].fill(b' ');
                i = end;
            }
        }
        from = i;
    }
}

/// Blanks one column (0-based) of every CSV row, quoted or not.
pub(crate) fn blank_csv_column(out: &mut [u8], column: usize) {
    let mut col = 0;
    let mut quoted = false;
    let mut i = 0;
    while i < out.len() {
        let b = out[i];
        if quoted {
            if b == b'"' {
                if out.get(i + 1) == Some(&b'"') {
                    if col == column {
                        out[i] = b' ';
                        out[i + 1] = b' ';
                    }
                    i += 2;
                    continue;
                }
                quoted = false;
            } else if col == column {
                out[i] = b' ';
            }
        } else {
            match b {
                b'"' => quoted = true,
                b',' => col += 1,
                b'\n' => col = 0,
                _ if col == column && b != b'\r' => out[i] = b' ',
                _ => {}
            }
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anon_core::{AppliedAction, Level, PathStep, TagPath};
    use dicom_core::Tag;

    #[test]
    fn values_are_compared_whole_without_padding() {
        let mut w = WrittenValues::new();
        w.add_profile(&Profile::builtin(Level::AnonymizeFull, &[]).expect("profile"));
        w.add("PQ2WJ6ZR4TA");
        assert!(w.contains(b"19000101"));
        assert!(w.contains(b"ANONYMIZED "));
        assert!(w.contains(b"PQ2WJ6ZR4TA\0"));
        assert!(!w.contains(b"19000101120000.5"));
        assert!(!w.contains(b"ANONYMIZED SMITH"));
        assert!(!w.contains(b""));
    }

    #[test]
    fn reports_name_shifted_dates_and_codes_by_tag_path() {
        let report = Report {
            actions: vec![
                AppliedAction {
                    path: TagPath(vec![
                        PathStep {
                            tag: Tag(0x0040, 0xA730),
                            item: Some(2),
                        },
                        PathStep {
                            tag: Tag(0x0040, 0xA121),
                            item: None,
                        },
                    ]),
                    action: None,
                    done: Done::DateShifted,
                },
                AppliedAction {
                    path: TagPath(vec![PathStep {
                        tag: Tag(0x0010, 0x0021),
                        item: None,
                    }]),
                    action: None,
                    done: Done::Pseudonymized,
                },
                AppliedAction {
                    path: TagPath(vec![PathStep {
                        tag: Tag(0x0010, 0x0010),
                        item: None,
                    }]),
                    action: None,
                    done: Done::Kept,
                },
            ],
            ..Report::default()
        };
        let g = Generated::from_report(&report);
        assert_eq!(
            g.computed("(0040,A730)[2]/(0040,A121)"),
            Some(Computed::ShiftedDate)
        );
        assert_eq!(g.computed("(0010,0021)"), Some(Computed::KeyedCode));
        assert_eq!(g.computed("(0010,0010)"), None);
    }

    #[test]
    fn computed_values_must_have_their_shape() {
        let date = Computed::ShiftedDate;
        assert!(has_computed_shape(date, b"20190312"));
        assert!(has_computed_shape(date, b"20190312101500.25+0100 "));
        assert!(!has_computed_shape(date, b"SMITH"));
        assert!(!has_computed_shape(date, b"2019 Smith"));
        let code = Computed::KeyedCode;
        assert!(has_computed_shape(code, b"HQ2WJ6ZR4TA"));
        assert!(has_computed_shape(code, b"PQ2WJ6ZR4TA "));
        assert!(!has_computed_shape(code, b"1234567"));
        assert!(!has_computed_shape(code, b"HOSPITAL123"));
    }

    #[test]
    fn computed_manifest_fields_are_blanked_and_planted_strings_kept() {
        let mut json = br#"{"bytes": 134308, "sha256": "ab12", "blake3": "cd34", "number": "3.1", "note": "134308"}"#.to_vec();
        blank_computed_fields(&mut json, false);
        let text = String::from_utf8_lossy(&json).into_owned();
        assert_eq!(text.matches("134308").count(), 1, "{text}");
        assert!(
            !text.contains("ab12") && !text.contains("cd34") && !text.contains("3.1"),
            "{text}"
        );
        let mut csv = b"subject,study,series,modality,path,sha256,bytes\nP1,1,0,CT,P1/1/0/00001.dcm,ab,2012\n".to_vec();
        blank_computed_fields(&mut csv, true);
        let text = String::from_utf8_lossy(&csv).into_owned();
        assert!(!text.contains(",1,") && !text.contains("2012"), "{text}");
        assert!(text.contains("P1/1/0/00001.dcm"), "{text}");
    }
}
