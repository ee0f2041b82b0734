//! The PHI audit: proof, file by file and byte by byte, that a package carries none of the
//! identifying values the archive holds for its subjects, and none of the structures that
//! usually hide them.
//!
//! De-identification is only as good as its blind spots, so the audit does not trust the
//! engine: it searches every byte of every file (inflating deflated data sets first, since PHI
//! in a compressed stream is invisible to a byte search), every path and zip entry name, and the
//! manifest, for the archive's own values — names and their parts, IDs, birth dates in several
//! spellings, accession numbers, institutions, physicians, original UIDs — in the encodings the
//! data uses (ASCII case-insensitive, UTF-8, Latin-1). It also checks structure: no private
//! element at any depth, and PatientIdentityRemoved where the level promises it.
//!
//! Findings name the place and the kind of value, never the value itself: the audit's output is
//! shown on screens and pasted into tickets.
//!
//! False positives are kept down without opening holes: short values (under
//! [`LONG_NEEDLE`] bytes) must stand between word boundaries and are not searched inside the
//! pixel data value, where random bytes would match them by chance; long values are searched
//! everywhere with no boundary rule.

use std::collections::BTreeSet;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use dicom_core::header::Header;
use dicom_object::InMemDicomObject;
use serde::Serialize;

/// Values at least this long are searched everywhere, without word boundaries.
pub const LONG_NEEDLE: usize = 6;
/// Values shorter than this are too common to search for at all.
pub const MIN_NEEDLE: usize = 3;

/// What kind of identifying value a needle is; decides its spellings and boundary rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ValueKind {
    /// A person name (PN): searched whole and part by part.
    PersonName,
    /// An identifier (PatientID, accession number, ...).
    Identifier,
    /// A date (DA): searched as `YYYYMMDD`, `YYYY-MM-DD` and `YYYY.MM.DD`.
    Date,
    /// A UID: searched with UID boundaries.
    Uid,
    /// Other free text (institution, station, ...).
    Text,
}

/// One identifying value to look for, with a label saying what it is (e.g. "PatientName").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Needle {
    /// The attribute it came from, shown in findings.
    pub label: String,
    /// How to spell and bound it.
    pub kind: ValueKind,
    /// The value itself (never shown).
    pub value: String,
}

impl Needle {
    /// A needle with a label, kind and value.
    pub fn new(label: impl Into<String>, kind: ValueKind, value: impl Into<String>) -> Needle {
        Needle {
            label: label.into(),
            kind,
            value: value.into(),
        }
    }
}

/// Where in a file a value was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Region {
    /// Anywhere outside the top-level pixel data value.
    Header,
    /// Inside the pixel data value.
    PixelData,
    /// A file that is not DICOM (manifest, CSV, ...).
    Text,
    /// A path or zip entry name.
    Path,
}

/// One thing the audit found. Never carries the identifying value itself.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "finding", rename_all = "kebab-case")]
pub enum Finding {
    /// An identifying value occurs in a file or path.
    Value {
        /// Package-relative file or path.
        file: String,
        /// Which attribute's value it is (e.g. "PatientName").
        what: String,
        /// Where it was found.
        region: Region,
    },
    /// A private element remains.
    PrivateElement {
        /// Package-relative file.
        file: String,
        /// Tag path, e.g. `(0040,A730)[0]/(0029,1010)`.
        tag: String,
    },
    /// PatientIdentityRemoved (0012,0062) is missing or not `YES`.
    IdentityNotMarkedRemoved {
        /// Package-relative file.
        file: String,
    },
    /// A file looked like DICOM but could not be parsed, so it could not be checked.
    Unreadable {
        /// Package-relative file.
        file: String,
        /// Why.
        reason: String,
    },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Value { file, what, region } => {
                let place = match region {
                    Region::Header => "in the header of",
                    Region::PixelData => "in the pixel data of",
                    Region::Text => "in",
                    Region::Path => "in the path",
                };
                write!(f, "{what} value found {place} {file}")
            }
            Finding::PrivateElement { file, tag } => write!(f, "private element {tag} in {file}"),
            Finding::IdentityNotMarkedRemoved { file } => {
                write!(f, "PatientIdentityRemoved (0012,0062) is not YES in {file}")
            }
            Finding::Unreadable { file, reason } => write!(f, "cannot check {file}: {reason}"),
        }
    }
}

/// Structural rules, set by the level that was exported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rules {
    /// No private element may remain at any depth.
    pub forbid_private: bool,
    /// Every DICOM file must carry PatientIdentityRemoved = YES.
    pub require_identity_removed: bool,
}

/// Errors that stop an audit from running at all (a bad single file is a finding instead).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The package could not be read.
    #[error("cannot read package {path}")]
    Read {
        /// The package.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The zip package is damaged.
    #[error("cannot read zip package {path}")]
    Zip {
        /// The package.
        path: PathBuf,
        /// Cause.
        #[source]
        source: zip::result::ZipError,
    },
    /// The search automaton could not be built.
    #[error("cannot build the value search: {0}")]
    Build(#[from] aho_corasick::BuildError),
}

/// One spelling of a needle, as searched.
#[derive(Debug, Clone)]
struct Pattern {
    label: String,
    bounded: Boundary,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Boundary {
    /// No boundary check.
    None,
    /// Not preceded or followed by an ASCII letter or digit.
    Word,
    /// Not preceded by a digit or dot, not followed by a digit or dot.
    Uid,
    /// Not preceded by a digit (a date may start a DT value).
    DateStart,
}

/// A prepared search for a set of needles plus structural rules; cheap to share across threads.
#[derive(Debug)]
pub struct Auditor {
    all: Option<AhoCorasick>,
    all_patterns: Vec<Pattern>,
    long: Option<AhoCorasick>,
    long_patterns: Vec<Pattern>,
    /// Every byte that occurs in a long spelling (both ASCII cases).
    long_alphabet: [bool; 256],
    rules: Rules,
    searched: usize,
}

impl Auditor {
    /// Prepares the search. Values shorter than [`MIN_NEEDLE`] are dropped (they would match
    /// everywhere); [`Auditor::searched_values`] tells how many spellings remain.
    pub fn new(needles: &[Needle], rules: Rules) -> Result<Auditor, AuditError> {
        let mut spellings: BTreeSet<(Vec<u8>, String, u8)> = BTreeSet::new();
        for n in needles {
            for (bytes, boundary) in spellings_of(n) {
                if bytes.len() >= MIN_NEEDLE {
                    spellings.insert((bytes, n.label.clone(), boundary as u8));
                }
            }
        }
        let mut all_bytes = Vec::new();
        let mut all_patterns = Vec::new();
        let mut long_bytes = Vec::new();
        let mut long_patterns = Vec::new();
        for (bytes, label, b) in spellings {
            let bounded = match b {
                0 => Boundary::None,
                1 => Boundary::Word,
                2 => Boundary::Uid,
                _ => Boundary::DateStart,
            };
            let pattern = Pattern { label, bounded };
            if bytes.len() >= LONG_NEEDLE {
                long_bytes.push(bytes.clone());
                long_patterns.push(pattern.clone());
            }
            all_bytes.push(bytes);
            all_patterns.push(pattern);
        }
        let mut long_alphabet = [false; 256];
        for b in long_bytes.iter().flatten() {
            long_alphabet[usize::from(b.to_ascii_lowercase())] = true;
            long_alphabet[usize::from(b.to_ascii_uppercase())] = true;
        }
        let build = |pats: &[Vec<u8>]| -> Result<Option<AhoCorasick>, AuditError> {
            if pats.is_empty() {
                return Ok(None);
            }
            Ok(Some(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .build(pats)?,
            ))
        };
        Ok(Auditor {
            all: build(&all_bytes)?,
            long: build(&long_bytes)?,
            searched: all_patterns.len(),
            all_patterns,
            long_patterns,
            long_alphabet,
            rules,
        })
    }

    /// How many spellings of identifying values are searched for.
    pub fn searched_values(&self) -> usize {
        self.searched
    }

    /// The path with every identifying value in it replaced by `<Label>`, and the labels
    /// found. Findings name files by their masked path, so a report never repeats a value
    /// that sits in a file name.
    pub fn mask_path(&self, rel: &str) -> (String, BTreeSet<String>) {
        let hits = bounded_matches(self.all.as_ref(), &self.all_patterns, rel.as_bytes());
        let labels: BTreeSet<String> = hits.iter().map(|(l, _)| l.to_string()).collect();
        if hits.is_empty() {
            return (rel.to_string(), labels);
        }
        // Cover each byte hit by any match; label a covered run by its first match.
        let bytes = rel.as_bytes();
        let mut cover: Vec<Option<&str>> = vec![None; bytes.len()];
        for (label, range) in &hits {
            for c in cover.get_mut(range.clone()).into_iter().flatten() {
                c.get_or_insert(label);
            }
        }
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match cover[i] {
                Some(label) => {
                    out.extend_from_slice(format!("<{label}>").as_bytes());
                    while i < bytes.len() && cover[i].is_some() {
                        i += 1;
                    }
                }
                None => {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
        }
        (String::from_utf8_lossy(&out).into_owned(), labels)
    }

    /// Checks a package-relative path (or zip entry name) for identifying values; the
    /// findings show the path masked.
    pub fn scan_path(&self, rel: &str) -> Vec<Finding> {
        let (masked, labels) = self.mask_path(rel);
        labels
            .into_iter()
            .map(|what| Finding::Value {
                file: masked.clone(),
                what,
                region: Region::Path,
            })
            .collect()
    }

    /// Checks one file's bytes: identifying values everywhere, and the structural rules if it
    /// is DICOM. `rel` is the package-relative name used in findings.
    pub fn scan_file(&self, rel: &str, bytes: &[u8]) -> Vec<Finding> {
        let mut findings = Vec::new();
        let Some(layout) = DicomLayout::of(bytes) else {
            let mut labels = BTreeSet::new();
            find_in(self.all.as_ref(), &self.all_patterns, bytes, &mut labels);
            findings.extend(labels.into_iter().map(|what| Finding::Value {
                file: rel.to_string(),
                what,
                region: Region::Text,
            }));
            return findings;
        };
        // The data set as it would be read: inflated if the transfer syntax is deflated.
        let inflated;
        let body: &[u8] = if layout.deflated {
            let mut out = Vec::new();
            let tail = bytes.get(layout.meta_end..).unwrap_or_default();
            match flate2::read::DeflateDecoder::new(tail).read_to_end(&mut out) {
                Ok(_) => {
                    inflated = out;
                    &inflated
                }
                Err(e) => {
                    findings.push(Finding::Unreadable {
                        file: rel.to_string(),
                        reason: format!("deflated data set does not inflate: {e}"),
                    });
                    return findings;
                }
            }
        } else {
            bytes
        };
        let (head, pixels, tail) = match pixel_data_range(body, layout.big_endian) {
            Some(r) => (&body[..r.start], &body[r.clone()], &body[r.end..]),
            None => (body, &body[..0], &body[..0]),
        };
        let mut header_labels = BTreeSet::new();
        find_in(
            self.all.as_ref(),
            &self.all_patterns,
            head,
            &mut header_labels,
        );
        find_in(
            self.all.as_ref(),
            &self.all_patterns,
            tail,
            &mut header_labels,
        );
        if layout.deflated {
            // The meta group is never deflated.
            let meta = bytes.get(..layout.meta_end).unwrap_or_default();
            find_in(
                self.all.as_ref(),
                &self.all_patterns,
                meta,
                &mut header_labels,
            );
        }
        let mut pixel_labels = BTreeSet::new();
        for run in alphabet_runs(pixels, &self.long_alphabet, LONG_NEEDLE) {
            find_any(
                self.long.as_ref(),
                &self.long_patterns,
                &pixels[run],
                &mut pixel_labels,
            );
        }
        findings.extend(header_labels.into_iter().map(|what| Finding::Value {
            file: rel.to_string(),
            what,
            region: Region::Header,
        }));
        findings.extend(pixel_labels.into_iter().map(|what| Finding::Value {
            file: rel.to_string(),
            what,
            region: Region::PixelData,
        }));
        if self.rules.forbid_private || self.rules.require_identity_removed {
            findings.extend(self.structure(rel, bytes));
        }
        findings
    }

    fn structure(&self, rel: &str, bytes: &[u8]) -> Vec<Finding> {
        let mut findings = Vec::new();
        let obj = match dicom_object::OpenFileOptions::new()
            .read_until(dicom_dictionary_std::tags::PIXEL_DATA)
            .from_reader(bytes.get(128..).unwrap_or_default())
        {
            Ok(o) => o,
            Err(e) => {
                findings.push(Finding::Unreadable {
                    file: rel.to_string(),
                    reason: e.to_string(),
                });
                return findings;
            }
        };
        if self.rules.forbid_private {
            let mut tags = Vec::new();
            private_paths(&obj, "", &mut tags);
            findings.extend(tags.into_iter().map(|tag| Finding::PrivateElement {
                file: rel.to_string(),
                tag,
            }));
        }
        if self.rules.require_identity_removed {
            let removed = obj
                .get(dicom_dictionary_std::tags::PATIENT_IDENTITY_REMOVED)
                .and_then(|e| e.to_str().ok())
                .map(|s| s.trim().eq_ignore_ascii_case("YES"))
                .unwrap_or(false);
            if !removed {
                findings.push(Finding::IdentityNotMarkedRemoved {
                    file: rel.to_string(),
                });
            }
        }
        findings
    }
}

/// Collects the paths of all private elements, at every depth.
fn private_paths(obj: &InMemDicomObject, prefix: &str, out: &mut Vec<String>) {
    for e in obj.iter() {
        let tag = e.tag();
        let here = format!("{prefix}({:04X},{:04X})", tag.group(), tag.element());
        if tag.group() % 2 == 1 {
            out.push(here.clone());
        }
        if let Some(items) = e.value().items() {
            for (i, item) in items.iter().enumerate() {
                private_paths(item, &format!("{here}[{i}]/"), out);
            }
        }
    }
}

/// Runs one automaton over `hay` and records the labels of matches that satisfy their
/// boundary rule.
fn find_in(ac: Option<&AhoCorasick>, patterns: &[Pattern], hay: &[u8], out: &mut BTreeSet<String>) {
    for (label, _) in bounded_matches(ac, patterns, hay) {
        out.insert(label.to_string());
    }
}

/// Every match of `ac` in `hay` that satisfies its pattern's boundary rule, with its range.
fn bounded_matches<'p>(
    ac: Option<&AhoCorasick>,
    patterns: &'p [Pattern],
    hay: &[u8],
) -> Vec<(&'p str, std::ops::Range<usize>)> {
    let Some(ac) = ac else { return Vec::new() };
    let mut out = Vec::new();
    for m in ac.find_overlapping_iter(hay) {
        let Some(p) = patterns.get(m.pattern().as_usize()) else {
            continue;
        };
        let before = m.start().checked_sub(1).and_then(|i| hay.get(i)).copied();
        let after = hay.get(m.end()).copied();
        let ok = match p.bounded {
            Boundary::None => true,
            Boundary::Word => !is_word(before) && !is_word(after),
            Boundary::Uid => !is_uid_char(before) && !is_uid_char(after),
            Boundary::DateStart => !before.is_some_and(|b| b.is_ascii_digit()),
        };
        if ok {
            out.push((p.label.as_str(), m.start()..m.end()));
        }
    }
    out
}

/// Like [`find_in`] for long values, which have no boundary rule: a non-overlapping search,
/// which lets the automaton use its fast prefilters on the bulk of a file.
fn find_any(
    ac: Option<&AhoCorasick>,
    patterns: &[Pattern],
    hay: &[u8],
    out: &mut BTreeSet<String>,
) {
    let Some(ac) = ac else { return };
    for m in ac.find_iter(hay) {
        if let Some(p) = patterns.get(m.pattern().as_usize()) {
            out.insert(p.label.clone());
        }
    }
}

/// The runs of at least `min` consecutive bytes of `hay` that all belong to `alphabet`: the only
/// places a value of `min` bytes or more spelled with those bytes can occur.
///
/// Such a run covers `min` consecutive positions, so it contains a position on any grid of step
/// `min`: only every `min`-th byte is looked at, and the neighbourhood only of those in the
/// alphabet. Image data rarely has long runs of text bytes (16-bit samples have small high
/// bytes), so most of a pixel data value is skipped at a sixth of a lookup per byte.
fn alphabet_runs(hay: &[u8], alphabet: &[bool; 256], min: usize) -> Vec<std::ops::Range<usize>> {
    let inside = |i: usize| hay.get(i).is_some_and(|b| alphabet[usize::from(*b)]);
    let mut runs = Vec::new();
    let mut floor = 0; // nothing before this belongs to a run not yet reported
    let mut pos = min.saturating_sub(1);
    while pos < hay.len() {
        if !inside(pos) {
            pos += min.max(1);
            continue;
        }
        let mut start = pos;
        while start > floor && inside(start - 1) {
            start -= 1;
        }
        let mut end = pos + 1;
        while end < hay.len() && inside(end) {
            end += 1;
        }
        if end - start >= min {
            runs.push(start..end);
        }
        floor = end;
        pos = end + min.max(1);
    }
    runs
}

fn is_word(b: Option<u8>) -> bool {
    b.is_some_and(|b| b.is_ascii_alphanumeric())
}

fn is_uid_char(b: Option<u8>) -> bool {
    b.is_some_and(|b| b.is_ascii_digit() || b == b'.')
}

/// Every byte spelling of a needle with its boundary rule.
fn spellings_of(n: &Needle) -> Vec<(Vec<u8>, Boundary)> {
    let value = n
        .value
        .trim_matches(|c: char| c.is_whitespace() || c == '\0' || c == '^');
    if value.is_empty() {
        return Vec::new();
    }
    let mut texts: Vec<(String, Boundary)> = Vec::new();
    let text_boundary = |s: &str| {
        if s.len() >= LONG_NEEDLE {
            Boundary::None
        } else {
            Boundary::Word
        }
    };
    match n.kind {
        ValueKind::PersonName => {
            // Whole name in its DICOM form and with spaces, then each component of each group.
            texts.push((value.to_string(), text_boundary(value)));
            let spaced = value.replace('^', " ");
            texts.push((spaced.trim().to_string(), text_boundary(&spaced)));
            for part in value.split(['^', '=', ' ', ',']) {
                let part = part.trim_matches(|c: char| c == '.' || c.is_whitespace());
                if !part.is_empty() {
                    texts.push((part.to_string(), text_boundary(part)));
                }
            }
        }
        ValueKind::Identifier | ValueKind::Text => {
            texts.push((value.to_string(), text_boundary(value)));
        }
        ValueKind::Date => {
            let digits: String = value.chars().filter(char::is_ascii_digit).collect();
            if digits.len() == 8 {
                let (y, rest) = digits.split_at(4);
                let (m, d) = rest.split_at(2);
                texts.push((digits.clone(), Boundary::DateStart));
                texts.push((format!("{y}-{m}-{d}"), Boundary::DateStart));
                texts.push((format!("{y}.{m}.{d}"), Boundary::DateStart));
                texts.push((format!("{y}/{m}/{d}"), Boundary::DateStart));
            } else {
                texts.push((value.to_string(), Boundary::DateStart));
            }
        }
        ValueKind::Uid => texts.push((value.to_string(), Boundary::Uid)),
    }
    let mut out = Vec::new();
    for (t, b) in texts {
        if t.is_empty() {
            continue;
        }
        // UTF-8, and Latin-1 where the text is representable and differs (ISO_IR 100 data).
        let latin1: Option<Vec<u8>> = t
            .chars()
            .map(|c| u8::try_from(u32::from(c)).ok())
            .collect::<Option<Vec<u8>>>();
        if let Some(l) = latin1
            && l != t.as_bytes()
        {
            out.push((l, b));
        }
        out.push((t.into_bytes(), b));
    }
    out
}

/// What the audit needs to know of a DICOM file's byte layout.
#[derive(Debug, Clone, Copy)]
struct DicomLayout {
    meta_end: usize,
    deflated: bool,
    big_endian: bool,
}

impl DicomLayout {
    /// Reads the preamble, magic and file meta group; None if this is not a DICOM file.
    fn of(bytes: &[u8]) -> Option<DicomLayout> {
        if bytes.get(128..132)? != b"DICM" {
            return None;
        }
        let mut pos = 132;
        let mut ts = String::new();
        // Meta elements are explicit VR little endian, group 0002.
        while let Some(h) = bytes.get(pos..pos + 8) {
            let group = u16::from_le_bytes([h[0], h[1]]);
            if group != 0x0002 {
                break;
            }
            let element = u16::from_le_bytes([h[2], h[3]]);
            let vr = [h[4], h[5]];
            let (len, head) = if matches!(&vr, b"OB" | b"OW" | b"UN" | b"SQ" | b"UT" | b"UC") {
                let l = bytes.get(pos + 8..pos + 12)?;
                (u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize, 12)
            } else {
                (u16::from_le_bytes([h[6], h[7]]) as usize, 8)
            };
            let value = bytes.get(pos + head..pos + head + len)?;
            if element == 0x0010 {
                ts = String::from_utf8_lossy(value)
                    .trim_end_matches(['\0', ' '])
                    .to_string();
            }
            pos += head + len;
        }
        Some(DicomLayout {
            meta_end: pos,
            deflated: ts == "1.2.840.10008.1.2.1.99" || ts == "1.2.840.10008.1.2.8.1",
            big_endian: ts == "1.2.840.10008.1.2.2",
        })
    }
}

/// The byte range of the top-level Pixel Data value: the last (7FE0,0010) header whose length
/// fits the file. Conservative: if a match inside the pixel data were taken, the range would
/// only shrink, and more bytes would be searched with every needle.
fn pixel_data_range(body: &[u8], big_endian: bool) -> Option<std::ops::Range<usize>> {
    let tag: [u8; 4] = if big_endian {
        [0x7F, 0xE0, 0x00, 0x10]
    } else {
        [0xE0, 0x7F, 0x10, 0x00]
    };
    let u32_at = |i: usize| -> Option<u32> {
        let b = body.get(i..i + 4)?;
        Some(if big_endian {
            u32::from_be_bytes([b[0], b[1], b[2], b[3]])
        } else {
            u32::from_le_bytes([b[0], b[1], b[2], b[3]])
        })
    };
    let fits = |start: usize, len: u32| -> Option<std::ops::Range<usize>> {
        if len == u32::MAX {
            return Some(start..body.len());
        }
        let end = start.checked_add(len as usize)?;
        (end <= body.len()).then_some(start..end)
    };
    // SIMD search from the end; the first candidate whose header fits is the last one.
    for i in memchr::memmem::rfind_iter(body, &tag) {
        let vr = body.get(i + 4..i + 6);
        let explicit =
            matches!(vr, Some(b"OB") | Some(b"OW")) && body.get(i + 6..i + 8) == Some(&[0, 0][..]);
        let found = if explicit {
            u32_at(i + 8).and_then(|len| fits(i + 12, len))
        } else {
            u32_at(i + 4).and_then(|len| fits(i + 8, len))
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

/// The result of auditing a whole package.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditReport {
    /// Files examined.
    pub files: usize,
    /// Bytes examined.
    pub bytes: u64,
    /// Spellings of identifying values searched for.
    pub values_searched: usize,
    /// Everything found, sorted.
    pub findings: Vec<Finding>,
}

impl AuditReport {
    /// True when nothing was found.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Audits a package: a folder, or a `.zip` file. Paths in findings are package-relative.
pub fn audit_package(path: &Path, auditor: &Auditor) -> Result<AuditReport, AuditError> {
    let mut report = AuditReport {
        values_searched: auditor.searched_values(),
        ..Default::default()
    };
    let read_err = |source| AuditError::Read {
        path: path.to_path_buf(),
        source,
    };
    if path.is_dir() {
        let mut files: Vec<PathBuf> = Vec::new();
        for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
            let entry = entry.map_err(|e| read_err(e.into()))?;
            let rel = entry.path().strip_prefix(path).unwrap_or(entry.path());
            let rel_text = rel.to_string_lossy().replace('\\', "/");
            if !rel_text.is_empty() {
                report.findings.extend(auditor.scan_path(&rel_text));
            }
            if entry.file_type().is_file() {
                files.push(entry.into_path());
            }
        }
        use rayon::prelude::*;
        let per_file: Vec<Result<(u64, Vec<Finding>), AuditError>> = files
            .par_iter()
            .map(|f| {
                let bytes = std::fs::read(f).map_err(read_err)?;
                let rel = f
                    .strip_prefix(path)
                    .unwrap_or(f)
                    .to_string_lossy()
                    .replace('\\', "/");
                let (masked, _) = auditor.mask_path(&rel);
                Ok((bytes.len() as u64, auditor.scan_file(&masked, &bytes)))
            })
            .collect();
        for r in per_file {
            let (n, found) = r?;
            report.files += 1;
            report.bytes += n;
            report.findings.extend(found);
        }
    } else {
        let file = std::fs::File::open(path).map_err(read_err)?;
        let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|source| {
            AuditError::Zip {
                path: path.to_path_buf(),
                source,
            }
        })?;
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).map_err(|source| AuditError::Zip {
                path: path.to_path_buf(),
                source,
            })?;
            let name = entry
                .name()
                .map_err(|source| AuditError::Zip {
                    path: path.to_path_buf(),
                    source,
                })?
                .to_string();
            report.findings.extend(auditor.scan_path(&name));
            if entry.is_dir() {
                continue;
            }
            let mut bytes = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
            entry.read_to_end(&mut bytes).map_err(read_err)?;
            report.files += 1;
            report.bytes += bytes.len() as u64;
            let (masked, _) = auditor.mask_path(&name);
            report.findings.extend(auditor.scan_file(&masked, &bytes));
        }
    }
    report.findings.sort();
    report.findings.dedup();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auditor(needles: &[Needle]) -> Auditor {
        Auditor::new(needles, Rules::default()).expect("auditor")
    }

    #[test]
    fn finds_name_parts_case_insensitively_in_text() {
        let a = auditor(&[Needle::new(
            "PatientName",
            ValueKind::PersonName,
            "DOE^JOHNATHAN",
        )]);
        let f = a.scan_file("manifest.json", br#"{"note":"johnathan was here"}"#);
        assert_eq!(f.len(), 1);
        assert!(f[0].to_string().contains("PatientName"));
        assert!(
            !f[0].to_string().to_lowercase().contains("johnathan"),
            "never shows the value"
        );
    }

    #[test]
    fn short_parts_need_word_boundaries() {
        let a = auditor(&[Needle::new("PatientName", ValueKind::PersonName, "DOE^JO")]);
        assert!(a.scan_file("x.txt", b"DOES NOT MATCH").is_empty());
        assert_eq!(a.scan_file("x.txt", b"name: DOE, J").len(), 1);
    }

    #[test]
    fn latin1_spelling_is_found() {
        let a = auditor(&[Needle::new(
            "PatientName",
            ValueKind::PersonName,
            "MÜLLER^JÖRG",
        )]);
        let latin1: Vec<u8> = b"PN=M\xDCLLER".to_vec();
        assert_eq!(a.scan_file("x.txt", &latin1).len(), 1);
        assert_eq!(a.scan_file("x.txt", "PN=MÜLLER".as_bytes()).len(), 1);
    }

    #[test]
    fn alphabet_runs_find_every_long_run_and_nothing_else() {
        let mut alphabet = [false; 256];
        for b in b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.^" {
            alphabet[usize::from(*b)] = true;
        }
        // Runs of every length at every offset, between bytes outside the alphabet.
        for offset in 0..8 {
            for len in 1..14 {
                let mut hay = vec![0u8; offset];
                hay.extend(std::iter::repeat_n(b'A', len));
                hay.extend([0u8, 1, 2]);
                let runs = alphabet_runs(&hay, &alphabet, 6);
                if len >= 6 {
                    assert_eq!(
                        runs,
                        vec![offset..offset + len],
                        "offset {offset} len {len}"
                    );
                } else {
                    assert!(runs.is_empty(), "offset {offset} len {len}");
                }
            }
        }
        // 16-bit samples below 4096 never form a run.
        let samples: Vec<u8> = (0u16..5000)
            .flat_map(|v| (v % 4096).to_le_bytes())
            .collect();
        assert!(alphabet_runs(&samples, &alphabet, 6).is_empty());
    }

    #[test]
    fn path_findings_never_show_the_value() {
        let a = auditor(&[Needle::new(
            "PatientID",
            ValueKind::Identifier,
            "MRN9053855",
        )]);
        let f = a.scan_path("notes/MRN9053855_scan.txt");
        assert_eq!(f.len(), 1);
        let shown = f[0].to_string();
        assert!(!shown.contains("MRN9053855"), "{shown}");
        assert!(shown.contains("notes/<PatientID>_scan.txt"), "{shown}");
    }

    #[test]
    fn uid_boundaries_do_not_match_longer_uids() {
        let a = auditor(&[Needle::new("StudyInstanceUID", ValueKind::Uid, "1.2.3.4.5")]);
        assert!(a.scan_path("x/1.2.3.4.56/y").is_empty());
        assert!(a.scan_path("x/11.2.3.4.5/y").is_empty());
        assert_eq!(a.scan_path("x/1.2.3.4.5/y").len(), 1);
    }

    #[test]
    fn dates_in_several_spellings_and_inside_datetimes() {
        let a = auditor(&[Needle::new("PatientBirthDate", ValueKind::Date, "19650312")]);
        assert_eq!(a.scan_path("1965-03-12_scan").len(), 1);
        assert_eq!(a.scan_file("x.txt", b"DT=19650312101500").len(), 1);
        assert!(a.scan_file("x.txt", b"2.25.919650312").is_empty());
    }

    #[test]
    fn short_values_are_not_searched_in_pixel_data() {
        // A minimal explicit-LE "file": preamble, magic, a meta TS element, then pixel data.
        let mut bytes = vec![0u8; 128];
        bytes.extend_from_slice(b"DICM");
        let ts = b"1.2.840.10008.1.2.1\0";
        bytes.extend_from_slice(&[0x02, 0x00, 0x10, 0x00, b'U', b'I']);
        bytes.extend_from_slice(&(ts.len() as u16).to_le_bytes());
        bytes.extend_from_slice(ts);
        bytes.extend_from_slice(&[0x10, 0x00, 0x10, 0x00, b'P', b'N', 4, 0]);
        bytes.extend_from_slice(b"ANON");
        let pixels = b"..DOE...DOEJOHNSON..";
        bytes.extend_from_slice(&[0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0]);
        bytes.extend_from_slice(&(pixels.len() as u32).to_le_bytes());
        bytes.extend_from_slice(pixels);
        let a = auditor(&[
            Needle::new("PatientName", ValueKind::PersonName, "DOE"),
            Needle::new("OtherPatientNames", ValueKind::PersonName, "DOEJOHNSON"),
        ]);
        let f = a.scan_file("a.dcm", &bytes);
        assert_eq!(
            f,
            vec![Finding::Value {
                file: "a.dcm".into(),
                what: "OtherPatientNames".into(),
                region: Region::PixelData
            }]
        );
    }
}
