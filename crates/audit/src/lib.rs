//! The PHI audit: proof, file by file and byte by byte, that a package carries none of the
//! identifying values the archive holds for its subjects, and none of the structures that
//! usually hide them.
//!
//! De-identification is only as good as its blind spots, so the audit does not trust the
//! engine: it searches every byte of every file (inflating deflated data sets first, since PHI
//! in a compressed stream is invisible to a byte search), every path, zip entry name, zip comment
//! and extra field, and the manifest, for the archive's own values — names and their parts, IDs,
//! birth dates in the spellings people write, accession numbers, institutions, physicians,
//! original UIDs — in every character set DICOM defines that can encode them (the index holds
//! decoded text; the file holds bytes in its own Specific Character Set) and in their Unicode
//! case variants. It also checks structure: no private element at any depth, and
//! PatientIdentityRemoved where the level promises it.
//!
//! Where a file's regions lie (meta group, data set, top-level Pixel Data) comes from
//! [`archive::scan::check`], the one structural walker, which also refuses hostile lengths and
//! deflate bombs before anything is parsed or inflated here. A file it refuses is a finding of
//! its own, and its raw bytes are still searched for every value. Parsing (dicom-rs's token
//! reader, values kept as raw bytes) happens only after that check, for every DICOM file, as
//! the import reads it (a file dicom-rs would misread as written, with UN sequences or a meta
//! group without its length, through the reading layer's repaired copy: see `repaired`): for
//! the structural rules, and to search each element's value on its own and judge what is found
//! there ([`crate::verdict`]); where each value lies in the file
//! ([`crate::ranges`]) tells a match inside an element from one outside all of them.
//!
//! A package's file or zip entry bigger than [`STREAM_ABOVE`] is never held whole: it is
//! streamed through the same steps ([`archive::scan::check_reader`], the value search in
//! overlapping windows region by region, the token walk with the pixel data skipped), with the
//! same findings as in memory. The export's own audit holds each file in memory anyway.
//!
//! Findings name the place and the kind of value, never the value itself: the audit's output is
//! shown on screens and pasted into tickets.
//!
//! Findings that are not leaks are not findings, without opening holes: short values (under
//! [`LONG_NEEDLE`] bytes) must stand between word boundaries and are not searched inside the
//! pixel data value, where random bytes would match them by chance; long values need only
//! digit boundaries (a StudyID `000101` is not inside `19000101`, a name glued into text still
//! counts). De-identification placeholders are not searched
//! ([`anon_core::identity::is_placeholder`]). A match
//! inside a value depot wrote ([`crate::written`]), inside a number or code that is not the
//! whole value, or inside a kept equipment attribute is dropped or reported as an advisory
//! [`Finding::Coincidence`] ([`crate::verdict`]). A single CJK character (a meaningful
//! surname such as 王 or 홍) is searched too, but a byte match of it counts only inside a text
//! value. A short part of another subject's name counts only in that subject's files
//! ([`crate::owners`]). In the manifest, which depot writes itself, depot's own
//! vocabulary (field names, CSV header, message templates, level and option names), its
//! findings' and release's own terms and computed fields are blanked first
//! ([`crate::manifest_words`]) and every value must be a whole word, so a patient named "Path"
//! or "Series" does not make every package unexportable.

#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
pub use anon_core::identity::ValueKind;
use anon_core::identity::{self, date_texts, is_placeholder, name_texts};
use anon_core::{Action, Profile, Report};
use archive::scan::{self, Encoding};
use dicom_core::{Tag, VR};
use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
use dicom_parser::dataset::read::{DataSetReaderOptions, ValueReadStrategy};
use dicom_parser::dataset::{DataSetReader, DataToken};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use serde::Serialize;

use crate::manifest_words::{blank_manifest, is_manifest};
use crate::owners::{OwnedNeedle, Scope, Subjects, whole_texts};
use crate::ranges::{Counting, StreamMap, ValueRanges};
use crate::verdict::{Element, Judge, Spelled, Verdict};
use crate::written::{Generated, WrittenValues};

mod codes;
mod manifest_words;
pub mod owners;
mod ranges;
mod regions;
mod repaired;
#[cfg(test)]
mod rules_tests;
mod verdict;
pub mod written;

use regions::Regions;

/// Values at least this long are searched everywhere, without word boundaries.
pub const LONG_NEEDLE: usize = 6;
/// Values shorter than this are too common to search for at all (except single CJK
/// characters, which count only inside text).
pub const MIN_NEEDLE: usize = 3;

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
    /// A file that is not DICOM (manifest, CSV, ...), or a DICOM file that could not be read,
    /// searched as raw bytes.
    Text,
    /// A path or zip entry name.
    Path,
    /// A zip entry's extra field or comment, a raw entry name, or the zip file's comment.
    ZipMetadata,
}

/// One thing the audit found. Never carries the identifying value itself.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "finding", rename_all = "kebab-case")]
pub enum Finding {
    /// An identifying value occurs in a file or path.
    Value {
        /// Package-relative file or path (for zip metadata, the entry; empty for the zip
        /// file's own comment).
        file: String,
        /// Which attribute's value it is (e.g. "PatientName").
        what: String,
        /// Where it was found.
        region: Region,
        /// For header findings, the element holding it, e.g. `(0040,A730)[0]/(0040,A160)`
        /// (absent when the value lies across elements or the file could not be parsed).
        #[serde(skip_serializing_if = "Option::is_none")]
        tag: Option<String>,
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
    /// An identifying value coincides with a kept, non-identifying value of a header: it lies
    /// inside an attribute that describes equipment (InstitutionName `TOSHIBA` inside
    /// Manufacturer `TOSHIBA_MEC`), or a short value equals a whole number or code (StudyID
    /// `134` equal to NumberOfPhaseEncodingSteps). Advisory: shown and recorded, never
    /// blocking (see [`Finding::is_blocking`]).
    Coincidence {
        /// Package-relative file.
        file: String,
        /// Which attribute's value it is (e.g. "InstitutionName").
        what: String,
        /// The element holding it, e.g. `(0008,0070)`.
        tag: String,
        /// The kept attribute it coincides with (keyword, or the tag when it has none).
        with: String,
    },
}

impl Finding {
    /// The package-relative file (or path) the finding is about.
    pub fn file(&self) -> &str {
        match self {
            Finding::Value { file, .. }
            | Finding::PrivateElement { file, .. }
            | Finding::IdentityNotMarkedRemoved { file }
            | Finding::Unreadable { file, .. }
            | Finding::Coincidence { file, .. } => file,
        }
    }

    /// Whether the finding stops a package at the levels whose audit blocks: true for every
    /// kind but [`Finding::Coincidence`], which is advisory whatever the level.
    pub fn is_blocking(&self) -> bool {
        !matches!(self, Finding::Coincidence { .. })
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Value {
                file,
                what,
                region,
                tag,
            } => {
                let place = match region {
                    Region::Header => "in the header of",
                    Region::PixelData => "in the pixel data of",
                    Region::Text => "in",
                    Region::Path => "in the path",
                    Region::ZipMetadata if file.is_empty() => {
                        return write!(f, "{what} value found in the zip file's comment");
                    }
                    Region::ZipMetadata => "in the zip metadata (extra field, comment) of",
                };
                write!(f, "{what} value found {place} {file}")?;
                if let Some(tag) = tag {
                    write!(f, " at {tag}")?;
                }
                Ok(())
            }
            Finding::PrivateElement { file, tag } => write!(f, "private element {tag} in {file}"),
            Finding::IdentityNotMarkedRemoved { file } => {
                write!(f, "PatientIdentityRemoved (0012,0062) is not YES in {file}")
            }
            Finding::Unreadable { file, reason } => write!(f, "cannot check {file}: {reason}"),
            Finding::Coincidence {
                file,
                what,
                tag,
                with,
            } => write!(
                f,
                "{what} value coincides with {with} at {tag} in {file} (a coincidence, not blocking)"
            ),
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

impl Rules {
    /// The rules a profile promises: private elements gone when it removes them all,
    /// PatientIdentityRemoved when it claims to remove identity.
    pub fn for_profile(profile: &Profile) -> Rules {
        let private_removed = profile
            .rules()
            .iter()
            .any(|r| r.tag.eq_ignore_ascii_case("gggg,eeee") && r.action == Action::X);
        Rules {
            forbid_private: private_removed,
            require_identity_removed: profile.removes_identity(),
        }
    }

    /// Every rule of either.
    pub fn union(self, other: Rules) -> Rules {
        Rules {
            forbid_private: self.forbid_private || other.forbid_private,
            require_identity_removed: self.require_identity_removed
                || other.require_identity_removed,
        }
    }
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Boundary {
    /// No boundary check (spellings in multi-byte character sets, whose bytes are not ASCII
    /// text).
    None,
    /// Where the match begins (ends) with an ASCII digit, the byte before (after) must not be
    /// one: `000101` is not inside `19000101`, but a name glued into text (`xSMITHSONy`) and an
    /// ID glued to letters (`MRN1234567`) are still found.
    Digits,
    /// Where the match begins (ends) with an ASCII letter or digit, the byte before (after)
    /// must not be one; the end of an ISO 2022 escape sequence counts as a boundary.
    Word,
    /// Not preceded by a digit or dot, not followed by a digit or dot.
    Uid,
    /// Not preceded by a digit (a date may start a DT value).
    DateStart,
}

/// One spelling of a needle, as searched.
#[derive(Debug, Clone)]
struct Pattern {
    label: String,
    bounded: Boundary,
    /// What kind of value it spells, as the verdict rules need it.
    spelled: Spelled,
    /// The bytes, when they must match exactly: the automaton folds ASCII case, which would
    /// take one character of a multi-byte encoding for another whose bytes differ in case.
    exact: Option<Box<[u8]>>,
    /// A single CJK character: a byte match counts only inside a text value.
    confirm: bool,
    /// A short fragment of other subjects' values only: counts only in the files of these
    /// subjects (sorted; see [`crate::owners`]); `None`: everywhere.
    only: Option<Box<[u32]>>,
}

/// One byte spelling of a needle before it becomes a [`Pattern`].
#[derive(Debug, Clone)]
struct Spelling {
    bytes: Vec<u8>,
    boundary: Boundary,
    /// See [`Pattern::spelled`].
    spelled: Spelled,
    exact: bool,
    confirm: bool,
    /// UTF-8 or Latin-1 spelling of the value as given: also searched in pixel data when long.
    pixel: bool,
}

/// A spelling as deduplicated: (bytes, exact, label, boundary); mapped to (confirm, pixel,
/// what it spells, where it counts).
type SpellingKey = (Vec<u8>, bool, String, Boundary);

/// How matches are filtered in one kind of place.
#[derive(Debug, Clone, Copy, Default)]
struct Mode {
    /// Every match must be a whole word (the manifest).
    whole_words: bool,
    /// The subject whose file is searched (see [`crate::owners`]): short fragments of
    /// other subjects' values do not count there. `None`: everything counts.
    subject: Option<u32>,
}

/// A match that passed its boundary rule.
#[derive(Debug, Clone)]
struct Hit<'p> {
    label: &'p str,
    range: Range<usize>,
    confirm: bool,
    /// See [`Pattern::spelled`].
    spelled: Spelled,
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
    /// The longest spelling, in bytes: what windows of a streamed file must overlap by.
    longest: usize,
    rules: Rules,
    searched: usize,
    /// Values depot writes: a match inside one is not a finding.
    written: WrittenValues,
    /// The package's subjects by folder name, for [`Pattern::only`].
    subjects: Subjects,
}

/// A spelling's bytes as the automaton holds them: ASCII lower-case unless exact.
fn search_bytes(s: &Spelling) -> Vec<u8> {
    if s.exact {
        s.bytes.clone()
    } else {
        s.bytes.to_ascii_lowercase()
    }
}

impl Auditor {
    /// Prepares the search. Values shorter than [`MIN_NEEDLE`] are dropped (they would match
    /// everywhere), except single CJK characters; [`Auditor::searched_values`] tells how many
    /// spellings remain. Every spelling counts everywhere (no needle belongs to a subject).
    pub fn new(needles: &[Needle], rules: Rules) -> Result<Auditor, AuditError> {
        let owned: Vec<OwnedNeedle> = needles
            .iter()
            .map(|n| OwnedNeedle::new(n.clone(), Vec::new()))
            .collect();
        Auditor::owned(&owned, rules)
    }

    /// [`Auditor::new`] for needles that belong to the package's subjects: a short fragment
    /// of a name (a part under [`LONG_NEEDLE`] bytes) counts only in the files of the subjects
    /// it belongs to (see [`crate::owners`]).
    pub fn owned(needles: &[OwnedNeedle], rules: Rules) -> Result<Auditor, AuditError> {
        let mut subjects = Subjects::default();
        let mut spellings: BTreeMap<SpellingKey, (bool, bool, Spelled, Scope)> = BTreeMap::new();
        for OwnedNeedle { needle: n, owners } in needles {
            // The spellings of the whole value, when only they are not fragments.
            let whole: Option<HashSet<(Vec<u8>, bool)>> =
                whole_texts(n).filter(|_| !owners.is_empty()).map(|texts| {
                    texts
                        .into_iter()
                        .flat_map(|t| spellings_of(&Needle::new("", ValueKind::Text, t)))
                        .map(|s| (search_bytes(&s), s.exact))
                        .collect()
                });
            for s in spellings_of(n) {
                let bytes = search_bytes(&s);
                let fragment = whole
                    .as_ref()
                    .is_some_and(|w| !w.contains(&(bytes.clone(), s.exact)));
                let scope = subjects.scope(owners, fragment, bytes.len());
                let e = spellings
                    .entry((bytes, s.exact, n.label.clone(), s.boundary))
                    .or_insert((s.confirm, s.pixel, s.spelled, scope.clone()));
                e.0 &= s.confirm;
                e.1 |= s.pixel;
                e.3.merge(scope);
            }
        }
        let mut all_bytes = Vec::new();
        let mut all_patterns = Vec::new();
        let mut long_bytes = Vec::new();
        let mut long_patterns = Vec::new();
        for ((bytes, exact, label, bounded), (confirm, pixel, spelled, scope)) in spellings {
            let pattern = Pattern {
                label,
                bounded,
                spelled,
                exact: exact.then(|| bytes.clone().into_boxed_slice()),
                confirm,
                only: scope.into_subjects(),
            };
            if pixel && !confirm && !exact && bytes.len() >= LONG_NEEDLE {
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
        let longest = all_bytes.iter().map(Vec::len).max().unwrap_or(0);
        Ok(Auditor {
            longest,
            all: build(&all_bytes)?,
            long: build(&long_bytes)?,
            searched: all_patterns.len(),
            all_patterns,
            long_patterns,
            long_alphabet,
            rules,
            written: WrittenValues::new(),
            subjects,
        })
    }

    /// How matches count in the file at package-relative `rel`: short fragments of other
    /// subjects' values do not, when the file lies in a subject's folder.
    fn mode_for(&self, rel: &str) -> Mode {
        Mode {
            whole_words: false,
            subject: self.subjects.of_file(rel),
        }
    }

    /// The same search, knowing the values depot wrote into the package (its constants under
    /// the profile, the subjects' pseudonyms): a match inside one of them is not a finding.
    pub fn with_written(mut self, written: WrittenValues) -> Auditor {
        self.written = written;
        self
    }

    /// How many spellings of identifying values are searched for.
    pub fn searched_values(&self) -> usize {
        self.searched
    }

    /// The structural rules checked.
    pub fn rules(&self) -> Rules {
        self.rules
    }

    fn hits<'a>(&'a self, hay: &[u8], mode: Mode) -> Vec<Hit<'a>> {
        bounded_matches(self.all.as_ref(), &self.all_patterns, hay, mode)
    }

    /// Labels of the matches in `hay`; single-character matches count when `text` is true.
    fn labels(&self, hay: &[u8], mode: Mode, text: bool) -> BTreeSet<String> {
        self.hits(hay, mode)
            .into_iter()
            .filter(|h| text || !h.confirm)
            .map(|h| h.label.to_string())
            .collect()
    }

    /// The path with every identifying value in it replaced by `<Label>`, and the labels
    /// found. Findings name files by their masked path, so a report never repeats a value
    /// that sits in a file name.
    pub fn mask_path(&self, rel: &str) -> (String, BTreeSet<String>) {
        let hits: Vec<Hit<'_>> = self
            .hits(rel.as_bytes(), Mode::default())
            .into_iter()
            .filter(|h| !self.in_written_component(rel.as_bytes(), &h.range))
            .collect();
        let labels: BTreeSet<String> = hits.iter().map(|h| h.label.to_string()).collect();
        if hits.is_empty() {
            return (rel.to_string(), labels);
        }
        // Cover each byte hit by any match; label a covered run by its first match.
        let bytes = rel.as_bytes();
        let mut cover: Vec<Option<&str>> = vec![None; bytes.len()];
        for h in &hits {
            for c in cover.get_mut(h.range.clone()).into_iter().flatten() {
                c.get_or_insert(h.label);
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

    /// Whether a match in a path lies inside one of its folder or file names that depot wrote
    /// (a subject pseudonym).
    fn in_written_component(&self, path: &[u8], r: &Range<usize>) -> bool {
        let start = path[..r.start]
            .iter()
            .rposition(|b| *b == b'/')
            .map_or(0, |i| i + 1);
        let end = path[r.start..]
            .iter()
            .position(|b| *b == b'/')
            .map_or(path.len(), |i| r.start + i);
        r.end <= end && self.written.contains(&path[start..end])
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
                tag: None,
            })
            .collect()
    }

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

    fn scan_file_with(&self, rel: &str, bytes: &[u8], generated: &Generated) -> Vec<Finding> {
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
    /// fields it computes (numbers, digests) are blanked first ([`crate::manifest_words`]),
    /// and a value counts only as a whole word. A value depot never writes there is still
    /// found.
    pub fn scan_manifest(&self, rel: &str, bytes: &[u8]) -> Vec<Finding> {
        let blanked = blank_manifest(bytes, rel.ends_with(".csv"));
        let mode = Mode {
            whole_words: true,
            subject: None,
        };
        value_findings(rel, Region::Text, self.labels(&blanked, mode, true))
    }

    /// A DICOM file the structural check refused: a finding, and every value searched in
    /// its raw bytes.
    fn unreadable(&self, rel: &str, bytes: &[u8], reason: String) -> Vec<Finding> {
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
    fn scan_dicom(
        &self,
        rel: &str,
        bytes: &[u8],
        preamble: bool,
        layout: &scan::Layout,
        cx: &FileContext<'_>,
    ) -> Vec<Finding> {
        let regions = match Regions::of(bytes, layout) {
            Ok(r) => r,
            Err(reason) => return self.unreadable(rel, bytes, reason),
        };
        let raw = self.header_hits(bytes, &regions, cx.mode);
        let pixel_labels = self.pixel_labels(&regions);
        let walked = self.walk(bytes, preamble, layout.encoding, &regions, cx);
        self.dicom_findings(rel, &raw, pixel_labels, walked)
    }

    /// Every match in a file's header (preamble, meta group and data set outside the top-level
    /// pixel data), each at its position in the file (see `audit_ranges`).
    fn header_hits(&self, bytes: &[u8], r: &Regions<'_>, mode: Mode) -> Vec<RawHit> {
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

    /// The labels of the long values found inside the top-level pixel data value.
    fn pixel_labels(&self, r: &Regions<'_>) -> BTreeSet<String> {
        let pixels = r.pixels();
        let mut labels = BTreeSet::new();
        for run in alphabet_runs(pixels, &self.long_alphabet, LONG_NEEDLE) {
            find_any(
                self.long.as_ref(),
                &self.long_patterns,
                pixels,
                run,
                &|_| true,
                &mut labels,
            );
        }
        labels
    }

    /// Reads the meta group and the data set (without its top-level pixel data) with
    /// dicom-rs's token reader: see [`Auditor::walk_tokens`]. The walk runs even when the raw
    /// search found nothing: a value searched on its own can match where its neighbours hid
    /// it (in big endian, the byte before a value is its length's low byte, which may read as
    /// a digit or a letter).
    fn walk(
        &self,
        bytes: &[u8],
        preamble: bool,
        encoding: Encoding,
        r: &Regions<'_>,
        cx: &FileContext<'_>,
    ) -> Result<Walked, String> {
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
            META_TRANSFER_SYNTAX,
            true,
            StreamMap::at(pre.min(r.ds_start) as u64),
            cx,
            &mut w,
        )?;
        let ts = walk_transfer_syntax(encoding);
        self.walk_tokens(r.head().chain(r.tail()), ts, false, body_map, cx, &mut w)?;
        Ok(w)
    }

    /// The findings of one DICOM file: the element verdicts of the header's values (see
    /// [`crate::verdict`]), every match in the header that lies outside all element
    /// values (the preamble, across two values), pixel data values, and the structural rules'
    /// verdicts from the walk. A file whose walk failed gets every header match, untagged.
    fn dicom_findings(
        &self,
        rel: &str,
        raw: &[RawHit],
        pixel_labels: BTreeSet<String>,
        mut walked: Result<Walked, String>,
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
            Err(reason) => findings.push(Finding::Unreadable {
                file: rel.to_string(),
                reason,
            }),
        }
        findings
    }

    /// Reads one part of a file (the meta group, or the data set without its top-level pixel
    /// data) with dicom-rs's token reader, values as raw bytes: private elements,
    /// PatientIdentityRemoved, where each value lies (`map` places the stream's positions in
    /// the file) and the verdict on every identifying value inside each element.
    fn walk_tokens(
        &self,
        source: impl Read,
        ts_uid: &str,
        meta: bool,
        map: StreamMap,
        cx: &FileContext<'_>,
        w: &mut Walked,
    ) -> Result<(), String> {
        let ts = TransferSyntaxRegistry
            .get(ts_uid)
            .ok_or_else(|| format!("transfer syntax {ts_uid} unknown"))?;
        let options = DataSetReaderOptions::default().value_read(ValueReadStrategy::Raw);
        let pos = Cell::new(0u64);
        let counted = Counting {
            inner: source,
            pos: &pos,
        };
        let reader = DataSetReader::new_with_ts_options(counted, ts, options)
            .map_err(|e| format!("cannot parse: {e}"))?;
        let mut path: Vec<Step> = Vec::new();
        let mut header: Option<(Tag, VR)> = None;
        for token in reader {
            let token = token.map_err(|e| format!("cannot parse: {e}"))?;
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
    fn locate(
        &self,
        cx: &FileContext<'_>,
        tag: Tag,
        vr: VR,
        value: &[u8],
        path: &[Step],
        w: &mut Walked,
    ) {
        let text = is_text(vr);
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

/// What the audit knows about one file while reading it.
struct FileContext<'g> {
    /// The elements the engine computed in it (known to the export's own audit only).
    generated: &'g Generated,
    /// How matches count in it (whose file it is).
    mode: Mode,
}

/// The transfer syntax the meta group is read in.
const META_TRANSFER_SYNTAX: &str = "1.2.840.10008.1.2.1";

/// The transfer syntax a data set is walked in (a deflated one is walked inflated).
fn walk_transfer_syntax(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::ImplicitLittle => "1.2.840.10008.1.2",
        Encoding::ExplicitBig => "1.2.840.10008.1.2.2",
        Encoding::ExplicitLittle | Encoding::Deflated => "1.2.840.10008.1.2.1",
    }
}

/// A match in a header's raw bytes, at its position in the file (see [`crate::ranges`]).
#[derive(Debug, Clone)]
struct RawHit {
    label: String,
    range: Range<u64>,
    confirm: bool,
}

impl RawHit {
    /// `h`, found in bytes that start at `base`.
    fn at(h: &Hit<'_>, base: u64) -> RawHit {
        RawHit {
            label: h.label.to_string(),
            range: base + h.range.start as u64..base + h.range.end as u64,
            confirm: h.confirm,
        }
    }
}

/// What the token walk of one DICOM file found.
#[derive(Debug, Default)]
struct Walked {
    private: Vec<String>,
    identity_removed: bool,
    /// Label → element tag path → the verdict on its value there (dropped ones left out).
    located: BTreeMap<String, BTreeMap<String, Verdict>>,
    /// Where the element values lie.
    values: ValueRanges,
}

/// One step of a tag path while walking.
#[derive(Debug, Clone, Copy)]
enum Step {
    Sequence { tag: Tag, items: usize },
    Item { tag: Tag, item: usize },
}

/// `(gggg,eeee)[i]/(gggg,eeee)` for an element under `path`.
fn tag_path(path: &[Step], tag: Tag) -> String {
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

/// Value representations whose values are character strings.
fn is_text(vr: VR) -> bool {
    matches!(
        vr,
        VR::AE
            | VR::AS
            | VR::CS
            | VR::DA
            | VR::DS
            | VR::DT
            | VR::IS
            | VR::LO
            | VR::LT
            | VR::PN
            | VR::SH
            | VR::ST
            | VR::TM
            | VR::UC
            | VR::UI
            | VR::UR
            | VR::UT
    )
}

fn value_findings(rel: &str, region: Region, labels: BTreeSet<String>) -> Vec<Finding> {
    labels
        .into_iter()
        .map(|what| Finding::Value {
            file: rel.to_string(),
            what,
            region,
            tag: None,
        })
        .collect()
}

/// Inflates a deflated data set, refusing to produce more than `limit` bytes.
fn inflate(deflated: &[u8], limit: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(
        deflated
            .len()
            .saturating_mul(4)
            .min(usize::try_from(limit).unwrap_or(usize::MAX)),
    );
    flate2::read::DeflateDecoder::new(deflated)
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| format!("deflated data set does not inflate: {e}"))?;
    if out.len() as u64 > limit {
        return Err(format!(
            "the deflated data set inflates beyond {limit} bytes (a decompression bomb?)"
        ));
    }
    Ok(out)
}

/// Every match of `ac` in `hay` that satisfies its pattern's boundary rule, with its range.
fn bounded_matches<'p>(
    ac: Option<&AhoCorasick>,
    patterns: &'p [Pattern],
    hay: &[u8],
    mode: Mode,
) -> Vec<Hit<'p>> {
    let Some(ac) = ac else { return Vec::new() };
    let mut out = Vec::new();
    for m in ac.find_overlapping_iter(hay) {
        let Some(p) = patterns.get(m.pattern().as_usize()) else {
            continue;
        };
        if let Some(exact) = &p.exact
            && hay.get(m.range()) != Some(&exact[..])
        {
            continue;
        }
        if let (Some(only), Some(subject)) = (&p.only, mode.subject)
            && only.binary_search(&subject).is_err()
        {
            continue;
        }
        let before = m.start().checked_sub(1).and_then(|i| hay.get(i)).copied();
        let after = hay.get(m.end()).copied();
        let ok = match p.bounded {
            Boundary::None => true,
            Boundary::Digits => digit_bounded(hay, m.range()),
            Boundary::Word => word_bounded(hay, m.range()),
            Boundary::Uid => !is_uid_char(before) && !is_uid_char(after),
            Boundary::DateStart => !before.is_some_and(|b| b.is_ascii_digit()),
        };
        if ok && (!mode.whole_words || word_bounded(hay, m.range())) {
            out.push(Hit {
                label: p.label.as_str(),
                range: m.range(),
                confirm: p.confirm,
                spelled: p.spelled,
            });
        }
    }
    out
}

/// Whether `hay[r]` is not part of a longer number: where it begins (ends) with an ASCII
/// digit, the byte before (after) is not one.
fn digit_bounded(hay: &[u8], r: Range<usize>) -> bool {
    let digit = |i: Option<usize>| i.and_then(|i| hay.get(i)).is_some_and(u8::is_ascii_digit);
    let (first, last) = (Some(r.start), r.end.checked_sub(1));
    let (before, after) = (r.start.checked_sub(1), Some(r.end));
    let glued_before = digit(first) && digit(before);
    let glued_after = digit(last) && digit(after);
    !glued_before && !glued_after
}

/// Whether `hay[r]` is not part of a longer ASCII word: where it begins (ends) with an ASCII
/// letter or digit, the byte before (after) is not one. An ISO 2022 escape sequence
/// (`ESC ( B`, `ESC $ ) C`, ...) just before counts as a boundary.
fn word_bounded(hay: &[u8], r: Range<usize>) -> bool {
    let first = hay.get(r.start).copied();
    let last = r.end.checked_sub(1).and_then(|i| hay.get(i)).copied();
    let before = r.start.checked_sub(1).and_then(|i| hay.get(i)).copied();
    let after = hay.get(r.end).copied();
    let before_ok = !is_word(first) || !is_word(before) || after_escape(hay, r.start);
    let after_ok = !is_word(last) || !is_word(after);
    before_ok && after_ok
}

/// Whether an ISO 2022 escape sequence (ESC, one or two intermediate bytes, a final byte)
/// ends just before `pos`.
fn after_escape(hay: &[u8], pos: usize) -> bool {
    let intermediate = |i: usize| hay.get(i).is_some_and(|b| (0x20..=0x2F).contains(b));
    let esc = |i: usize| hay.get(i) == Some(&0x1B);
    (pos >= 3 && esc(pos - 3) && intermediate(pos - 2))
        || (pos >= 4 && esc(pos - 4) && intermediate(pos - 3) && intermediate(pos - 2))
}

/// Like [`bounded_matches`] for long values in one run of pixel data (`hay[run]`), whose only
/// boundary rule is the digits' one: a non-overlapping search, which lets the automaton use
/// its fast prefilters; only a run where a match fails the rule (and might hide an
/// overlapping one) is searched again with every overlapping match.
fn find_any(
    ac: Option<&AhoCorasick>,
    patterns: &[Pattern],
    hay: &[u8],
    run: Range<usize>,
    keep: &dyn Fn(&Range<usize>) -> bool,
    out: &mut BTreeSet<String>,
) {
    let Some(ac) = ac else { return };
    let Some(slice) = hay.get(run.clone()) else {
        return;
    };
    let found = |m: aho_corasick::Match, out: &mut BTreeSet<String>| -> bool {
        let Some(p) = patterns.get(m.pattern().as_usize()) else {
            return true;
        };
        let r = run.start + m.start()..run.start + m.end();
        if !keep(&r) {
            // Not counted here, and it may hide an overlapping match that is.
            return false;
        }
        if p.bounded == Boundary::Digits && !digit_bounded(hay, r) {
            return false;
        }
        out.insert(p.label.clone());
        true
    };
    let mut refused = false;
    for m in ac.find_iter(slice) {
        refused |= !found(m, out);
    }
    if refused {
        for m in ac.find_overlapping_iter(slice) {
            found(m, out);
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
fn alphabet_runs(hay: &[u8], alphabet: &[bool; 256], min: usize) -> Vec<Range<usize>> {
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

// ---------------------------------------------------------------------------------------------
// Spellings

/// Every byte spelling of a needle with its boundary rule. A name, ID or text that is a
/// de-identification placeholder (`Anonymized`, `NO INFO`, `^^^^`; see [`is_placeholder`]) is
/// not searched, nor is a placeholder part of a name.
fn spellings_of(n: &Needle) -> Vec<Spelling> {
    let value = n
        .value
        .trim_matches(|c: char| c.is_whitespace() || c == '\0' || c == '^' || c == '=');
    if value.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    match n.kind {
        // A placeholder name is skipped whole, with all its parts (`Last Name^First Name`).
        ValueKind::PersonName if is_placeholder(value) => {}
        ValueKind::PersonName => {
            for t in name_texts(value) {
                if !is_placeholder(&t) {
                    encode_text(&t, &mut out);
                }
            }
        }
        ValueKind::Identifier | ValueKind::Text if is_placeholder(value) => {}
        ValueKind::Identifier | ValueKind::Text => encode_text(value, &mut out),
        // A masked date (`11111111`) is a placeholder too; a conventional one (`19000101`) is
        // a real-looking date and is searched.
        ValueKind::Date if is_placeholder(value) => {}
        ValueKind::Date => {
            for t in date_texts(value) {
                push_ascii(&mut out, t, Boundary::DateStart, Spelled::BirthDate);
            }
        }
        ValueKind::Uid => push_ascii(&mut out, value.to_string(), Boundary::Uid, Spelled::Uid),
    }
    out
}

fn push_ascii(out: &mut Vec<Spelling>, text: String, boundary: Boundary, spelled: Spelled) {
    if text.len() >= MIN_NEEDLE {
        out.push(Spelling {
            bytes: text.into_bytes(),
            boundary,
            spelled,
            exact: false,
            confirm: false,
            pixel: true,
        });
    }
}

/// Every spelling of one text: its case variants in every character set DICOM defines that
/// can encode them ([`identity::byte_spellings`], the engine's own), with the audit's
/// boundary rules.
fn encode_text(text: &str, out: &mut Vec<Spelling>) {
    let single_cjk = identity::is_single_cjk(text);
    for sp in identity::byte_spellings(text) {
        if sp.bytes.len() < MIN_NEEDLE && !single_cjk {
            continue;
        }
        // `exact`: the bytes must match as they are (see [`Pattern::exact`]); `escaped`: they
        // start with an ISO 2022 escape sequence, which makes them specific enough as they are.
        let exact = sp.exact || sp.escaped;
        out.push(Spelling {
            boundary: if sp.escaped || (sp.exact && sp.bytes.len() >= LONG_NEEDLE) {
                Boundary::None
            } else if sp.bytes.len() >= LONG_NEEDLE {
                Boundary::Digits
            } else {
                Boundary::Word
            },
            spelled: Spelled::Text,
            confirm: single_cjk && !sp.escaped,
            pixel: sp.common && !single_cjk,
            exact,
            bytes: sp.bytes,
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Packages

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
    /// True when nothing was found, not even a coincidence.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }

    /// Whether any finding blocks (see [`Finding::is_blocking`]): every kind but coincidences.
    pub fn has_blocking(&self) -> bool {
        self.findings.iter().any(Finding::is_blocking)
    }

    /// How many findings block.
    pub fn blocking_count(&self) -> usize {
        self.findings.iter().filter(|f| f.is_blocking()).count()
    }

    /// How many findings are coincidences (advisory whatever the level).
    pub fn coincidence_count(&self) -> usize {
        self.findings.len() - self.blocking_count()
    }
}

/// Audits a package: a folder, or a `.zip` file. Paths in findings are package-relative.
/// Files and zip entries bigger than [`STREAM_ABOVE`] are streamed, not read whole.
pub fn audit_package(path: &Path, auditor: &Auditor) -> Result<AuditReport, AuditError> {
    audit_package_with(path, auditor, STREAMING)
}

fn audit_package_with(
    path: &Path,
    auditor: &Auditor,
    streaming: Streaming,
) -> Result<AuditReport, AuditError> {
    let mut report = AuditReport {
        values_searched: auditor.searched_values(),
        ..Default::default()
    };
    if path.is_dir() {
        audit_folder(path, auditor, &mut report, streaming)?;
    } else {
        audit_zip(path, auditor, &mut report, streaming)?;
    }
    report.findings.sort();
    report.findings.dedup();
    Ok(report)
}

fn audit_folder(
    path: &Path,
    auditor: &Auditor,
    report: &mut AuditReport,
    streaming: Streaming,
) -> Result<(), AuditError> {
    let read_err = |source| AuditError::Read {
        path: path.to_path_buf(),
        source,
    };
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
        } else if entry.file_type().is_symlink() {
            // What it points to would travel with a copy of the package, unaudited.
            report.findings.push(Finding::Unreadable {
                file: auditor.mask_path(&rel_text).0,
                reason: "a symbolic link (not followed, so not audited)".into(),
            });
        }
    }
    use rayon::prelude::*;
    let per_file: Vec<Result<(u64, Vec<Finding>), AuditError>> = files
        .par_iter()
        .map(|f| {
            let rel = f
                .strip_prefix(path)
                .unwrap_or(f)
                .to_string_lossy()
                .replace('\\', "/");
            let len = std::fs::metadata(f).map_err(read_err)?.len();
            if len > streaming.above {
                let mut src = FileSource {
                    path: f.clone(),
                    start: 0,
                    len,
                };
                let found = if is_manifest(&rel) {
                    auditor.scan_manifest_source(&rel, &mut src, streaming.chunk)
                } else {
                    let masked = auditor.mask_path(&rel).0;
                    auditor.scan_source(&masked, &mut src, len, streaming.chunk)
                };
                return Ok((len, found.map_err(read_err)?));
            }
            let bytes = std::fs::read(f).map_err(read_err)?;
            let found = if is_manifest(&rel) {
                auditor.scan_manifest(&rel, &bytes)
            } else {
                auditor.scan_file(&auditor.mask_path(&rel).0, &bytes)
            };
            Ok((bytes.len() as u64, found))
        })
        .collect();
    for r in per_file {
        let (n, found) = r?;
        report.files += 1;
        report.bytes += n;
        report.findings.extend(found);
    }
    Ok(())
}

/// The most bytes read from one zip entry: its stored size (which cannot exceed the zip
/// file), or for a compressed entry what [`scan::deflate_limit`] allows for that size.
fn entry_limit(stored: bool, compressed_size: u64, zip_size: u64) -> u64 {
    let size = compressed_size.min(zip_size);
    if stored {
        size
    } else {
        scan::deflate_limit(size)
    }
}

/// Reads `len` bytes at `offset` of the zip file (headers, extra fields, comments).
fn read_at(f: &mut std::fs::File, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    f.seek(SeekFrom::Start(offset))?;
    let mut buf = vec![0u8; len];
    f.read_exact(&mut buf)?;
    Ok(buf)
}

fn u16_at(b: &[u8], i: usize) -> usize {
    b.get(i..i + 2)
        .map_or(0, |x| usize::from(u16::from_le_bytes([x[0], x[1]])))
}

/// The raw metadata of one zip entry: (extra fields, which are binary; comment and raw name
/// unless it is `name`, which are text), from its local and central headers. Zip64 size
/// fields are left out.
fn entry_metadata(
    raw: &mut std::fs::File,
    header_start: u64,
    central_start: u64,
    name: &str,
) -> (Vec<u8>, Vec<u8>) {
    let mut binary = Vec::new();
    let mut text = Vec::new();
    if let Ok(local) = read_at(raw, header_start, 30)
        && local.starts_with(b"PK\x03\x04")
    {
        let (n, m) = (u16_at(&local, 26), u16_at(&local, 28));
        if let Ok(extra) = read_at(raw, header_start + 30 + n as u64, m) {
            binary.extend(extra_without_zip64(&extra));
        }
    }
    if let Ok(central) = read_at(raw, central_start, 46)
        && central.starts_with(b"PK\x01\x02")
    {
        let (n, m, k) = (
            u16_at(&central, 28),
            u16_at(&central, 30),
            u16_at(&central, 32),
        );
        if let Ok(rest) = read_at(raw, central_start + 46, n + m + k) {
            // A raw name that is not the decoded one (not UTF-8, read as CP437) is searched
            // as bytes too; a decoded name is searched as a path.
            if &rest[..n] != name.as_bytes() {
                text.extend_from_slice(&rest[..n]);
                text.push(b'\n');
            }
            binary.push(0);
            binary.extend(extra_without_zip64(&rest[n..n + m]));
            text.extend_from_slice(&rest[n + m..]);
        }
    }
    (binary, text)
}

/// Extra field data with the zip64 field (header ID 1: sizes and offsets) left out.
fn extra_without_zip64(extra: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 4 <= extra.len() {
        let id = u16_at(extra, i);
        let len = u16_at(extra, i + 2);
        let end = (i + 4 + len).min(extra.len());
        if id != 1 {
            out.extend_from_slice(&extra[i..end]);
            out.push(0);
        }
        i = end;
    }
    out.extend_from_slice(extra.get(i..).unwrap_or_default());
    out
}

fn audit_zip(
    path: &Path,
    auditor: &Auditor,
    report: &mut AuditReport,
    streaming: Streaming,
) -> Result<(), AuditError> {
    let read_err = |source| AuditError::Read {
        path: path.to_path_buf(),
        source,
    };
    let zip_err = |source| AuditError::Zip {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let zip_size = file.metadata().map_err(read_err)?.len();
    let mut raw = std::fs::File::open(path).map_err(read_err)?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(zip_err)?;
    let comment = auditor.labels(zip.comment(), Mode::default(), true);
    report
        .findings
        .extend(value_findings("", Region::ZipMetadata, comment));
    for i in 0..zip.len() {
        let fallback = zip
            .name_for_index(i)
            .and_then(Result::ok)
            .map_or_else(|| format!("entry {}", i + 1), |n| n.into_owned());
        let mut entry = match zip.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                report.findings.extend(auditor.scan_path(&fallback));
                report.findings.push(Finding::Unreadable {
                    file: auditor.mask_path(&fallback).0,
                    reason: format!("cannot read the zip entry: {e}"),
                });
                continue;
            }
        };
        let name = entry.name().map_err(zip_err)?.to_string();
        report.findings.extend(auditor.scan_path(&name));
        let masked = auditor.mask_path(&name).0;
        let (binary, text) = entry_metadata(
            &mut raw,
            entry.header_start(),
            entry.central_header_start(),
            &name,
        );
        let mut labels = auditor.labels(&binary, Mode::default(), false);
        labels.extend(auditor.labels(&text, Mode::default(), true));
        report
            .findings
            .extend(value_findings(&masked, Region::ZipMetadata, labels));
        if entry.is_dir() {
            continue;
        }
        let stored = entry.compression() == zip::CompressionMethod::Stored;
        let limit = entry_limit(stored, entry.compressed_size(), zip_size);
        // An entry that declares more than `streaming.above` bytes is streamed; one that
        // declares less is read into memory, but no further than that: one holding more than
        // it declares is streamed too.
        let cap = limit.min(streaming.above);
        let declared = entry.size().max(entry.compressed_size());
        let capacity = entry.size().min(cap).min(64 << 20);
        let mut bytes = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
        let read = if declared > cap {
            Ok(())
        } else {
            (&mut entry)
                .take(cap.saturating_add(1))
                .read_to_end(&mut bytes)
                .map(drop)
        };
        if let Err(e) = read {
            report.findings.push(Finding::Unreadable {
                file: masked,
                reason: format!("cannot read the zip entry: {e}"),
            });
            continue;
        }
        if bytes.len() as u64 > limit {
            report.findings.push(Finding::Unreadable {
                file: masked,
                reason: format!("the zip entry holds more than the {limit} bytes its size allows"),
            });
            continue;
        }
        if declared > cap || bytes.len() as u64 > cap {
            drop(bytes);
            drop(entry);
            let big = BigEntry {
                index: i,
                name: &name,
                masked: &masked,
                stored,
                limit,
            };
            match stream_zip_entry(&mut zip, path, &big, auditor, streaming.chunk) {
                Ok((n, found)) => {
                    report.files += 1;
                    report.bytes += n;
                    report.findings.extend(found);
                }
                Err(finding) => report.findings.push(finding),
            }
            continue;
        }
        report.files += 1;
        report.bytes += bytes.len() as u64;
        if is_manifest(&name) {
            report.findings.extend(auditor.scan_manifest(&name, &bytes));
        } else {
            report.findings.extend(auditor.scan_file(&masked, &bytes));
        }
    }
    Ok(())
}

/// A zip entry too big to hold.
struct BigEntry<'a> {
    index: usize,
    name: &'a str,
    /// The name as findings show it.
    masked: &'a str,
    stored: bool,
    /// The most bytes it may hold (see [`entry_limit`]).
    limit: u64,
}

/// Audits a zip entry too big to hold: read once through the zip reader (its size within the
/// entry's limit, its CRC checked), then streamed for each pass of the audit, from the zip
/// file itself when stored, inflated again when compressed. Returns the bytes audited and the
/// findings, or the finding that the entry cannot be read.
fn stream_zip_entry(
    zip: &mut zip::ZipArchive<std::io::BufReader<std::fs::File>>,
    path: &Path,
    e: &BigEntry<'_>,
    auditor: &Auditor,
    chunk: usize,
) -> Result<(u64, Vec<Finding>), Finding> {
    let unreadable = |reason: String| Finding::Unreadable {
        file: e.masked.to_string(),
        reason,
    };
    let cannot = |err: &dyn fmt::Display| unreadable(format!("cannot read the zip entry: {err}"));
    let (len, data_start) = {
        let mut entry = zip.by_index(e.index).map_err(|err| cannot(&err))?;
        let mut sink = std::io::sink();
        let n = std::io::copy(&mut (&mut entry).take(e.limit.saturating_add(1)), &mut sink)
            .map_err(|err| cannot(&err))?;
        (n, entry.data_start())
    };
    if len > e.limit {
        return Err(unreadable(format!(
            "the zip entry holds more than the {} bytes its size allows",
            e.limit
        )));
    }
    let scan = |src: &mut dyn Source| {
        if is_manifest(e.name) {
            auditor.scan_manifest_source(e.name, src, chunk)
        } else {
            auditor.scan_source(e.masked, src, len, chunk)
        }
    };
    let found = match (e.stored, data_start) {
        (true, Some(start)) => scan(&mut FileSource {
            path: path.to_path_buf(),
            start,
            len,
        }),
        _ => scan(&mut ZipEntrySource {
            zip,
            index: e.index,
            len,
        }),
    };
    found.map(|f| (len, f)).map_err(|err| cannot(&err))
}

// ---------------------------------------------------------------------------------------------
// Files too big to hold: streamed

/// Files and zip entries bigger than this are audited by streaming them (see
/// [`Auditor::scan_source`]) instead of reading each whole into memory.
pub const STREAM_ABOVE: u64 = 256 << 20;
/// Bytes searched at a time in a streamed file.
pub const STREAM_CHUNK: usize = 16 << 20;

/// Bytes a boundary rule may look at before a match (an ISO 2022 escape sequence is at most 4
/// bytes, the byte before it 1): a streamed window's first bytes only serve as context.
const CONTEXT: usize = 8;

/// When and how files are streamed.
#[derive(Debug, Clone, Copy)]
struct Streaming {
    /// Files bigger than this are streamed.
    above: u64,
    /// Window size.
    chunk: usize,
}

const STREAMING: Streaming = Streaming {
    above: STREAM_ABOVE,
    chunk: STREAM_CHUNK,
};

/// A byte stream that can skip ahead, by seeking where it can.
trait SkipRead: Read {
    /// Skips `n` bytes; `UnexpectedEof` when fewer remain.
    fn skip(&mut self, n: u64) -> std::io::Result<()> {
        let skipped = std::io::copy(&mut Read::take(&mut *self, n), &mut std::io::sink())?;
        if skipped < n {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }
}

impl<T: SkipRead + ?Sized> SkipRead for Box<T> {
    fn skip(&mut self, n: u64) -> std::io::Result<()> {
        (**self).skip(n)
    }
}

/// A stream that skips by reading.
struct Plain<R>(R);

impl<R: Read> Read for Plain<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read> SkipRead for Plain<R> {}

/// A byte range of a file (a file of a folder package, or a stored zip entry), skipping by
/// seeking.
struct FileRange {
    r: std::io::BufReader<std::fs::File>,
    left: u64,
}

impl Read for FileRange {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        if n == 0 {
            return Ok(0);
        }
        let got = self.r.read(&mut buf[..n])?;
        self.left -= got as u64;
        Ok(got)
    }
}

impl SkipRead for FileRange {
    fn skip(&mut self, n: u64) -> std::io::Result<()> {
        if n > self.left {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        self.r
            .seek_relative(i64::try_from(n).map_err(std::io::Error::other)?)?;
        self.left -= n;
        Ok(())
    }
}

/// A streamed file's bytes, which can be read again from any offset (each pass of the audit
/// reads them once).
trait Source {
    /// The bytes from `offset` on.
    fn open_at(&mut self, offset: u64) -> std::io::Result<Box<dyn SkipRead + '_>>;
}

/// `len` bytes of the file at `path` from `start`: a file of a folder package, or a stored
/// zip entry's data.
struct FileSource {
    path: PathBuf,
    start: u64,
    len: u64,
}

impl Source for FileSource {
    fn open_at(&mut self, offset: u64) -> std::io::Result<Box<dyn SkipRead + '_>> {
        let mut f = std::fs::File::open(&self.path)?;
        f.seek(SeekFrom::Start(self.start.saturating_add(offset)))?;
        Ok(Box::new(FileRange {
            r: std::io::BufReader::with_capacity(1 << 16, f),
            left: self.len.saturating_sub(offset),
        }))
    }
}

/// A compressed zip entry, inflated again from its start for each pass (at most `len` bytes).
struct ZipEntrySource<'z> {
    zip: &'z mut zip::ZipArchive<std::io::BufReader<std::fs::File>>,
    index: usize,
    len: u64,
}

impl Source for ZipEntrySource<'_> {
    fn open_at(&mut self, offset: u64) -> std::io::Result<Box<dyn SkipRead + '_>> {
        let entry = self
            .zip
            .by_index(self.index)
            .map_err(std::io::Error::other)?;
        let mut r = Plain(entry.take(self.len));
        r.skip(offset)?;
        Ok(Box::new(r))
    }
}

/// The data set without one byte range (the top-level Pixel Data element), skipped.
struct WithoutRange<R> {
    inner: R,
    pos: u64,
    skip: Range<u64>,
}

impl<R: SkipRead> Read for WithoutRange<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.skip.start && !self.skip.is_empty() {
            self.inner.skip(self.skip.end - self.skip.start)?;
            self.pos = self.skip.end;
        }
        let n = if self.pos < self.skip.start {
            usize::try_from(self.skip.start - self.pos)
                .unwrap_or(usize::MAX)
                .min(buf.len())
        } else {
            buf.len()
        };
        let got = self.inner.read(&mut buf[..n])?;
        self.pos += got as u64;
        Ok(got)
    }
}

/// Cuts a stream into windows for a search: each window repeats the last `overlap` bytes of
/// the one before, so every match of up to `overlap - 2 * CONTEXT` bytes lies whole in some
/// window with its context on both sides.
struct Windows {
    buf: Vec<u8>,
    chunk: usize,
    overlap: usize,
    first: bool,
    /// Where `buf` starts in the stream.
    offset: u64,
}

/// One window of a stream: its bytes, whether it is the first or the last, and where it
/// starts in the stream.
type Window<'w> = (&'w [u8], bool, bool, u64);

impl Windows {
    fn new(chunk: usize, overlap: usize) -> Windows {
        Windows {
            buf: Vec::new(),
            chunk: chunk.max(1),
            overlap,
            first: true,
            offset: 0,
        }
    }

    /// Adds bytes; `f` sees every window that is full.
    fn push(&mut self, mut data: &[u8], f: &mut impl FnMut(Window<'_>)) {
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
    fn finish(self, f: &mut impl FnMut(Window<'_>)) {
        if !self.buf.is_empty() {
            f((&self.buf, self.first, true, self.offset));
        }
    }
}

/// What the search of one streamed region found.
#[derive(Debug, Default)]
struct Searched {
    /// Label → whether only single CJK characters matched.
    found: BTreeMap<String, bool>,
    /// Whether a NUL byte was seen (a file with none is text).
    nul: bool,
    /// Every match outside pixel data, at its position in the file.
    hits: Vec<RawHit>,
}

/// The value search of one region of a streamed file (one hay of the in-memory search),
/// window by window.
struct RegionSearch<'a> {
    auditor: &'a Auditor,
    /// The top-level pixel data value: long UTF-8 and Latin-1 spellings only, in runs of
    /// their bytes.
    pixels: bool,
    mode: Mode,
    windows: Windows,
    /// Where the region starts in the file (see [`crate::ranges`]).
    base: u64,
    searched: Searched,
}

impl<'a> RegionSearch<'a> {
    fn new(
        auditor: &'a Auditor,
        pixels: bool,
        mode: Mode,
        chunk: usize,
        base: u64,
    ) -> RegionSearch<'a> {
        RegionSearch {
            auditor,
            pixels,
            mode,
            windows: Windows::new(chunk, auditor.longest + 2 * CONTEXT),
            base,
            searched: Searched::default(),
        }
    }

    fn push(&mut self, data: &[u8]) {
        let RegionSearch {
            auditor,
            pixels,
            mode,
            windows,
            base,
            searched,
        } = self;
        if !searched.nul && memchr::memchr(0, data).is_some() {
            searched.nul = true;
        }
        windows.push(data, &mut |w| {
            auditor.search_window(w, *base, *pixels, *mode, searched);
        });
    }

    /// What the region holds.
    fn finish(self) -> Searched {
        let RegionSearch {
            auditor,
            pixels,
            mode,
            windows,
            base,
            mut searched,
        } = self;
        windows.finish(&mut |w| {
            auditor.search_window(w, base, pixels, mode, &mut searched);
        });
        searched
    }
}

/// Reads `r` to its end, feeding bytes before `cuts[0]` to `searches[0]`, from `cuts[i - 1]`
/// to `cuts[i]` to `searches[i]`, and the rest to the last search. Returns the bytes read.
fn route(
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
    fn search_window(
        &self,
        (w, first, last, offset): Window<'_>,
        base: u64,
        pixels: bool,
        mode: Mode,
        searched: &mut Searched,
    ) {
        let found = &mut searched.found;
        if pixels {
            let mut labels = BTreeSet::new();
            // As for the header below: a match counts where its context lies in the window.
            let keep =
                |r: &Range<usize>| (first || r.start >= CONTEXT) && (last || r.end < w.len());
            for run in alphabet_runs(w, &self.long_alphabet, LONG_NEEDLE) {
                find_any(
                    self.long.as_ref(),
                    &self.long_patterns,
                    w,
                    run,
                    &keep,
                    &mut labels,
                );
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
    fn stream_all(
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

    /// Checks a file too big to hold, of `len` bytes, as [`Auditor::scan_file`] checks one in
    /// memory, reading it a few times from `src` and never holding more than a window of
    /// `chunk` bytes (plus the largest element outside the pixel data, for the structural
    /// walk): the structural check streams ([`scan::check_reader`]); the value search runs
    /// over the bytes in overlapping windows, region by region as the layout says (header,
    /// top-level pixel data with its long-spelling rule, what follows; a deflated data set
    /// inflated on the fly); the token walk (private elements, PatientIdentityRemoved, where
    /// a value lies) reads the meta group and the data set with the pixel data skipped.
    fn scan_source(
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
                    let reason = format!("deflated data set does not inflate: {e}");
                    return self.unreadable_stream(rel, src, reason, chunk);
                }
                Ok(n) if n > limit => {
                    let reason = format!(
                        "the deflated data set inflates beyond {limit} bytes (a decompression bomb?)"
                    );
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
            let mut regions = [new(false, 0), new(true, cuts[0]), new(false, cuts[1])];
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
            let mut result =
                self.walk_tokens(meta, META_TRANSFER_SYNTAX, true, meta_map, &cx, &mut w);
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
    fn unreadable_stream(
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
    fn scan_manifest_source(
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
        let f = a.scan_file("notes.json", br#"{"note":"johnathan was here"}"#);
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
        let mut bytes = with_meta(EXPLICIT_LE, &short(0x0010, 0x0010, b"PN", b"ANON"));
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
                region: Region::PixelData,
                tag: None,
            }]
        );
    }

    // -- fixtures ------------------------------------------------------------------------

    const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
    const EXPLICIT_BE: &str = "1.2.840.10008.1.2.2";
    const DEFLATED: &str = "1.2.840.10008.1.2.1.99";

    /// A file: preamble, `DICM`, a meta group with its group length and the transfer syntax,
    /// then `body`.
    fn with_meta(ts: &str, body: &[u8]) -> Vec<u8> {
        let mut ts = ts.as_bytes().to_vec();
        if ts.len() % 2 == 1 {
            ts.push(0);
        }
        let meta = short(0x0002, 0x0010, b"UI", &ts);
        let mut bytes = vec![0u8; 128];
        bytes.extend_from_slice(b"DICM");
        bytes.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, b'U', b'L', 4, 0]);
        bytes.extend_from_slice(&(meta.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&meta);
        bytes.extend_from_slice(body);
        bytes
    }

    /// An explicit VR LE element with a 16-bit length (value padded to even length).
    fn short(group: u16, element: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
        let mut value = value.to_vec();
        if value.len() % 2 == 1 {
            value.push(if vr == b"UI" { 0 } else { b' ' });
        }
        let mut e = Vec::new();
        e.extend_from_slice(&group.to_le_bytes());
        e.extend_from_slice(&element.to_le_bytes());
        e.extend_from_slice(vr);
        e.extend_from_slice(&(value.len() as u16).to_le_bytes());
        e.extend_from_slice(&value);
        e
    }

    /// An explicit VR LE element with a 32-bit length (OB, UN, UT, SQ ...).
    fn long(group: u16, element: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
        let mut e = Vec::new();
        e.extend_from_slice(&group.to_le_bytes());
        e.extend_from_slice(&element.to_le_bytes());
        e.extend_from_slice(vr);
        e.extend_from_slice(&[0, 0]);
        e.extend_from_slice(&(value.len() as u32).to_le_bytes());
        e.extend_from_slice(value);
        e
    }

    /// A defined-length sequence of one item holding `item`.
    fn sequence(group: u16, element: u16, item: &[u8]) -> Vec<u8> {
        let mut items = vec![0xFE, 0xFF, 0x00, 0xE0];
        items.extend_from_slice(&(item.len() as u32).to_le_bytes());
        items.extend_from_slice(item);
        long(group, element, b"SQ", &items)
    }

    /// Native pixel data (OW, padded to whole 16-bit words as a real file has them).
    fn pixel_data(pixels: &[u8]) -> Vec<u8> {
        let mut words = pixels.to_vec();
        if words.len() % 2 == 1 {
            words.push(0);
        }
        long(0x7FE0, 0x0010, b"OW", &words)
    }

    fn deflate(body: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut enc =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(body).expect("deflate");
        enc.finish().expect("deflate")
    }

    fn header_tags(f: &[Finding], label: &str) -> Vec<Option<String>> {
        f.iter()
            .filter_map(|x| match x {
                Finding::Value {
                    what,
                    region: Region::Header,
                    tag,
                    ..
                } if what == label => Some(tag.clone()),
                _ => None,
            })
            .collect()
    }

    fn labels_of(f: &[Finding]) -> BTreeSet<String> {
        f.iter()
            .filter_map(|x| match x {
                Finding::Value { what, .. } => Some(what.clone()),
                _ => None,
            })
            .collect()
    }

    // -- item 1: the layout comes from archive::scan -----------------------------------

    #[test]
    fn fake_pixel_data_bytes_in_a_text_value_do_not_hide_what_follows() {
        // An SR-like file without Pixel Data: an LT value holds bytes that look like an OB
        // Pixel Data header whose length runs to the end of the file; a short surname follows.
        let mut body = short(0x0010, 0x0010, b"PN", b"ANONYMIZED");
        let mut fake = vec![0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0];
        let tail = long(0x0040, 0xA160, b"UT", b"seen by Dr Weber today");
        fake.extend_from_slice(&((tail.len() + 4) as u32).to_le_bytes());
        body.extend(short(0x0020, 0x4000, b"LT", &fake));
        body.extend(tail);
        let bytes = with_meta(EXPLICIT_LE, &body);
        scan::check(&bytes, true).expect("a well-formed file");
        let a = auditor(&[Needle::new(
            "ReferringPhysicianName",
            ValueKind::PersonName,
            "Weber^Anna",
        )]);
        let f = a.scan_file("a.dcm", &bytes);
        assert_eq!(
            header_tags(&f, "ReferringPhysicianName"),
            vec![Some("(0040,A160)".to_string())],
            "{f:?}"
        );
    }

    #[test]
    fn the_pixel_data_range_is_exact_in_every_syntax() {
        // A short name right after Pixel Data (in the trailing elements) is header text.
        for syntax in synth::fixture::Syntax::ALL {
            let spec = synth::fixture::InstanceSpec {
                syntax,
                patient_name: "DOE^JO".into(),
                ..Default::default()
            };
            let bytes = spec.to_bytes().expect("fixture");
            let a = auditor(&[Needle::new("PatientName", ValueKind::PersonName, "DOE^JO")]);
            let f = a.scan_file("a.dcm", &bytes);
            assert_eq!(
                header_tags(&f, "PatientName"),
                vec![Some("(0010,0010)".to_string())],
                "{syntax:?}: {f:?}"
            );
        }
    }

    #[test]
    fn deflated_and_big_endian_come_from_the_transfer_syntax_registry() {
        // 1.2.840.10008.1.2.4.95 (JPIP Referenced Deflate) is deflated; 1.2.840.10008.1.2.8.1
        // (SMPTE ST 2110-30 audio) is not. The old hand-made list had it the other way round.
        let body = short(0x0010, 0x0010, b"PN", b"DOE^JOHNATHAN");
        let a = auditor(&[Needle::new(
            "PatientName",
            ValueKind::PersonName,
            "JOHNATHAN",
        )]);
        for ts in [DEFLATED, "1.2.840.10008.1.2.4.95"] {
            let f = a.scan_file("a.dcm", &with_meta(ts, &deflate(&body)));
            assert_eq!(
                header_tags(&f, "PatientName"),
                vec![Some("(0010,0010)".into())],
                "{ts}: {f:?}"
            );
        }
        let f = a.scan_file("a.dcm", &with_meta("1.2.840.10008.1.2.8.1", &body));
        assert_eq!(
            header_tags(&f, "PatientName"),
            vec![Some("(0010,0010)".into())],
            "{f:?}"
        );
        // Big endian: the pixel data header is found by the scan, not by a byte pattern.
        let mut be = Vec::new();
        be.extend_from_slice(&[0x00, 0x10, 0x00, 0x10, b'P', b'N', 0, 14]);
        be.extend_from_slice(b"DOE^JOHNATHAN ");
        be.extend_from_slice(&[0x7F, 0xE0, 0x00, 0x10, b'O', b'W', 0, 0, 0, 0, 0, 4]);
        be.extend_from_slice(b"\x01\x02\x03\x04");
        let f = a.scan_file("a.dcm", &with_meta(EXPLICIT_BE, &be));
        assert_eq!(
            header_tags(&f, "PatientName"),
            vec![Some("(0010,0010)".into())]
        );
    }

    #[test]
    fn a_refused_file_is_unreadable_and_its_raw_bytes_are_still_searched() {
        // A truncated file with the name before the cut, and a hostile length.
        let mut body = short(0x0010, 0x0010, b"PN", b"DOE^JO");
        body.extend(long(0x0009, 0x1010, b"OB", b"x"));
        let n = body.len();
        body[n - 5..n - 1].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        let bytes = with_meta(EXPLICIT_LE, &body);
        assert!(scan::check(&bytes, true).is_err());
        let a = auditor(&[Needle::new("PatientName", ValueKind::PersonName, "DOE^JO")]);
        let f = a.scan_file("a.dcm", &bytes);
        assert!(
            f.iter().any(|x| matches!(x, Finding::Unreadable { .. })),
            "{f:?}"
        );
        assert!(labels_of(&f).contains("PatientName"), "{f:?}");
    }

    // -- item 2: bounded inflation and parsing only after the scan ---------------------

    #[test]
    fn a_deflate_bomb_is_unreadable_not_inflated() {
        use std::io::Write;
        let n: u32 = 80 << 20;
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&short(0x0010, 0x0010, b"PN", b"DOE^JO"))
            .expect("write");
        enc.write_all(&[0x09, 0x00, 0x10, 0x10, b'O', b'B', 0, 0])
            .expect("write");
        enc.write_all(&n.to_le_bytes()).expect("write");
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..80 {
            enc.write_all(&zeros).expect("write");
        }
        let bytes = with_meta(DEFLATED, &enc.finish().expect("deflate"));
        let a = Auditor::new(
            &[Needle::new("PatientName", ValueKind::PersonName, "DOE^JO")],
            Rules {
                forbid_private: true,
                require_identity_removed: true,
            },
        )
        .expect("auditor");
        let f = a.scan_file("a.dcm", &bytes);
        assert!(
            f.iter().any(|x| matches!(x, Finding::Unreadable { .. })),
            "{f:?}"
        );
        assert!(inflate(&bytes[132..], 1 << 20).is_err());
    }

    #[test]
    fn a_hostile_length_is_refused_before_any_parse_with_rules_on() {
        let bytes = synth::fixture::huge_length().expect("fixture");
        let a = Auditor::new(
            &[],
            Rules {
                forbid_private: true,
                require_identity_removed: true,
            },
        )
        .expect("auditor");
        let f = a.scan_file("a.dcm", &bytes);
        assert!(
            matches!(&f[..], [Finding::Unreadable { reason, .. }] if reason.contains("hostile")),
            "{f:?}"
        );
    }

    #[test]
    fn zip_entry_reads_are_bounded_by_the_zip_size() {
        assert_eq!(entry_limit(true, u64::MAX, 1000), 1000);
        assert_eq!(entry_limit(true, 10, 1000), 10);
        assert_eq!(entry_limit(false, 10, 1000), scan::deflate_limit(10));
        assert_eq!(
            entry_limit(false, u64::MAX, 1000),
            scan::deflate_limit(1000)
        );
    }

    #[test]
    fn a_zip_entry_declaring_a_huge_size_is_read_within_bounds() {
        use std::io::Write;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("p.zip");
        let mut z = zip::ZipWriter::new(std::fs::File::create(&path).expect("create"));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        z.start_file("a.txt", opts).expect("entry");
        z.write_all(b"name: DOE, J").expect("write");
        z.finish().expect("finish");
        // Claim 3 GiB uncompressed in both headers.
        let mut raw = std::fs::read(&path).expect("read");
        for sig in [&b"PK\x03\x04"[..], &b"PK\x01\x02"[..]] {
            let at = memchr::memmem::find(&raw, sig).expect("header");
            let off = if sig[2] == 3 { 22 } else { 24 };
            raw[at + off..at + off + 4].copy_from_slice(&0xC000_0000u32.to_le_bytes());
        }
        std::fs::write(&path, &raw).expect("write");
        let a = auditor(&[Needle::new("PatientName", ValueKind::PersonName, "DOE^JO")]);
        let r = audit_package(&path, &a).expect("audit");
        assert!(labels_of(&r.findings).contains("PatientName"), "{r:?}");
    }

    // -- item 4: spellings -----------------------------------------------------------

    fn found(a: &Auditor, hay: &[u8]) -> bool {
        !a.scan_file("x.txt", hay).is_empty()
    }

    #[test]
    fn names_in_the_data_s_own_character_set_are_found() {
        let cases: [(&str, &str, &'static encoding_rs::Encoding); 6] = [
            ("Иванов^Пётр", "Иванов", encoding_rs::ISO_8859_5),
            ("Łukasiewicz^Żaneta", "Łukasiewicz", encoding_rs::ISO_8859_2),
            (
                "Παπαδόπουλος^Νίκος",
                "Παπαδόπουλος",
                encoding_rs::ISO_8859_7,
            ),
            ("Yılmaz^Ayşe", "Ayşe", encoding_rs::WINDOWS_1254),
            ("כהן^דוד", "כהן", encoding_rs::ISO_8859_8),
            ("王^小东", "小东", encoding_rs::GB18030),
        ];
        for (name, part, enc) in cases {
            let a = auditor(&[Needle::new("PatientName", ValueKind::PersonName, name)]);
            let (bytes, _, err) = enc.encode(part);
            assert!(!err);
            let mut hay = b"LO ".to_vec();
            hay.extend_from_slice(&bytes);
            hay.extend_from_slice(b" x");
            assert!(found(&a, &hay), "{name} in {}", enc.name());
        }
    }

    #[test]
    fn iso_2022_spellings_are_found_with_and_without_escapes() {
        let a = auditor(&[Needle::new(
            "PatientName",
            ValueKind::PersonName,
            "Yamada^Tarou=山田^太郎=やまだ^たろう",
        )]);
        // ISO 2022 IR 87: ESC $ B, seven-bit JIS X 0208 (山田 = 3B 33 45 44).
        assert!(found(&a, b"Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B"));
        // The same bytes folded to another case are other characters.
        assert!(!found(&a, b"x \x1b$B;3ed\x1b(B y"));
        let k = auditor(&[Needle::new(
            "PatientName",
            ValueKind::PersonName,
            "Hong^Gildong=홍^길동",
        )]);
        // ISO 2022 IR 149: ESC $ ) C, then KS X 1001 with the high bit (홍 = C8 AB).
        assert!(found(
            &k,
            b"Hong^Gildong=\x1b$)C\xc8\xab^\x1b$)C\xb1\xe6\xb5\xbf"
        ));
        // Just the single-character surname, after its escape.
        assert!(found(&k, b"=\x1b$)C\xc8\xab^x"));
    }

    #[test]
    fn upper_lower_and_title_case_of_non_ascii_names() {
        let a = auditor(&[Needle::new(
            "PatientName",
            ValueKind::PersonName,
            "Müller^Hans",
        )]);
        assert!(found(&a, b"x M\xDCLLER x"), "upper case Latin-1");
        assert!(found(&a, "x MÜLLER x".as_bytes()), "upper case UTF-8");
        assert!(found(&a, "x müller x".as_bytes()), "lower case UTF-8");
        let b = auditor(&[Needle::new(
            "PatientName",
            ValueKind::PersonName,
            "ÇELİK^AYŞE",
        )]);
        assert!(found(&b, "x Ayşe x".as_bytes()), "title case");
        // ISO_IR 148 (Latin-5) lower case.
        let (l5, _, _) = encoding_rs::WINDOWS_1254.encode("ayşe");
        let mut hay = b"x ".to_vec();
        hay.extend_from_slice(&l5);
        assert!(found(&b, &hay));
    }

    #[test]
    fn birth_dates_in_the_spellings_the_engine_cuts() {
        let a = auditor(&[Needle::new("PatientBirthDate", ValueKind::Date, "19650312")]);
        for s in [
            "19650312",
            "1965-03-12",
            "12.03.1965",
            "03/12/1965",
            "12/03/1965",
        ] {
            assert!(found(&a, format!("born {s}").as_bytes()), "{s}");
        }
    }

    #[test]
    fn hyphenated_and_multi_word_names_are_searched_part_by_part() {
        let a = auditor(&[Needle::new(
            "PatientName",
            ValueKind::PersonName,
            "Schulz-Brandenburger^Anna Maria",
        )]);
        assert!(found(&a, b"Dr. Schulz said"));
        assert!(found(&a, b"the Brandenburger file"));
        assert!(found(&a, b"Maria"));
        assert!(!found(&a, b"Mariana"));
    }

    #[test]
    fn single_cjk_characters_count_in_header_text_only() {
        let a = auditor(&[Needle::new("PatientName", ValueKind::PersonName, "王^小东")]);
        let wang_gbk: &[u8] = b"\xcd\xf5";
        // In a text value (a GB18030 LO): found, with its tag.
        let mut body = short(0x0008, 0x0005, b"CS", b"GB18030");
        body.extend(short(0x0008, 0x1030, b"LO", b"\xcd\xf5 x"));
        let f = a.scan_file("a.dcm", &with_meta(EXPLICIT_LE, &body));
        assert_eq!(
            header_tags(&f, "PatientName"),
            vec![Some("(0008,1030)".into())],
            "{f:?}"
        );
        // The same two bytes inside a binary value: noise, not a finding.
        let mut body = short(0x0008, 0x0005, b"CS", b"GB18030");
        let mut blob = vec![0x11u8; 40];
        blob[10..12].copy_from_slice(wang_gbk);
        body.extend(long(0x0018, 0x9999, b"OB", &blob));
        assert!(
            a.scan_file("a.dcm", &with_meta(EXPLICIT_LE, &body))
                .is_empty()
        );
        // Nor inside pixel data, in any encoding.
        let mut body = short(0x0010, 0x0010, b"PN", b"ANON");
        body.extend(pixel_data("x 王 y \u{738b}".as_bytes()));
        assert!(
            a.scan_file("a.dcm", &with_meta(EXPLICIT_LE, &body))
                .is_empty()
        );
        // In UTF-8 text files and paths it counts.
        assert!(found(&a, "patient 王".as_bytes()));
        assert_eq!(a.scan_path("notes/王.txt").len(), 1);
    }

    // -- item 5: zip metadata ------------------------------------------------------------

    #[test]
    fn zip_comments_and_extra_fields_are_searched() {
        use std::io::Write;
        let a = auditor(&[Needle::new("PatientID", ValueKind::Identifier, "MRN000060")]);
        let dir = tempfile::tempdir().expect("tempdir");
        for kind in ["archive comment", "entry comment", "extra field", "clean"] {
            let path = dir.path().join("p.zip");
            let mut z = zip::ZipWriter::new(std::fs::File::create(&path).expect("create"));
            let mut opts = zip::write::FullFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored);
            if kind == "extra field" {
                opts.add_extra_field(0x9999, b"MRN000060", false)
                    .expect("extra");
            }
            z.start_file("a.txt", opts).expect("entry");
            z.write_all(b"nothing").expect("write");
            if kind == "archive comment" {
                z.set_comment("patient MRN000060").expect("comment");
            }
            z.finish().expect("finish");
            if kind == "entry comment" {
                // The writer has no per-entry comment: patch the central header's.
                let raw = std::fs::read(&path).expect("read");
                let at = memchr::memmem::find(&raw, b"PK\x01\x02").expect("central");
                let n = u16_at(&raw, at + 28);
                let m = u16_at(&raw, at + 30);
                let mut out = raw[..at + 46 + n + m].to_vec();
                out[at + 32..at + 34].copy_from_slice(&9u16.to_le_bytes());
                out.extend_from_slice(b"MRN000060");
                let eocd_at = memchr::memmem::rfind(&raw, b"PK\x05\x06").expect("eocd");
                let mut eocd = raw[eocd_at..].to_vec();
                let cd_size = u32::from_le_bytes(eocd[12..16].try_into().expect("4")) + 9;
                eocd[12..16].copy_from_slice(&cd_size.to_le_bytes());
                out.extend_from_slice(&eocd);
                std::fs::write(&path, &out).expect("write");
            }
            let r = audit_package(&path, &a).expect("audit");
            let zip_findings: Vec<&Finding> = r
                .findings
                .iter()
                .filter(|f| {
                    matches!(
                        f,
                        Finding::Value {
                            region: Region::ZipMetadata,
                            ..
                        }
                    )
                })
                .collect();
            if kind == "clean" {
                assert!(r.findings.is_empty(), "{r:?}");
            } else {
                assert_eq!(zip_findings.len(), 1, "{kind}: {r:?}");
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_in_a_folder_package_is_a_finding() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.txt"), b"nothing").expect("write");
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("b.dcm")).expect("symlink");
        let r = audit_package(dir.path(), &auditor(&[])).expect("audit");
        assert!(
            matches!(&r.findings[..], [Finding::Unreadable { file, .. }] if file == "b.dcm"),
            "{r:?}"
        );
    }

    // -- item 7: tag paths -------------------------------------------------------------

    #[test]
    fn header_findings_name_the_tag_path_never_the_value() {
        let a = auditor(&[Needle::new(
            "PatientName",
            ValueKind::PersonName,
            "DOE^JOHNATHAN",
        )]);
        let item = long(0x0040, 0xA160, b"UT", b"report on johnathan ");
        let mut body = short(0x0010, 0x0010, b"PN", b"ANON");
        body.extend(sequence(0x0040, 0xA730, &item));
        let mut private = short(0x0029, 0x0010, b"LO", b"ACME");
        private.extend(long(0x0029, 0x1010, b"OB", b"\x00DOE\x00"));
        body.extend(private);
        let f = a.scan_file("a.dcm", &with_meta(EXPLICIT_LE, &body));
        assert_eq!(
            header_tags(&f, "PatientName"),
            vec![
                Some("(0029,1010)".to_string()),
                Some("(0040,A730)[0]/(0040,A160)".to_string())
            ],
            "{f:?}"
        );
        for x in &f {
            let s = x.to_string();
            assert!(s.contains(" at ("), "{s}");
            assert!(!s.to_lowercase().contains("johnathan"), "{s}");
        }
    }

    #[test]
    fn structural_rules_still_run() {
        let mut body = short(0x0009, 0x0010, b"LO", b"ACME");
        body.extend(short(0x0009, 0x1001, b"LO", b"x"));
        let item = short(0x0029, 0x1010, b"LO", b"y");
        body.extend(sequence(0x0040, 0xA730, &item));
        let bytes = with_meta(EXPLICIT_LE, &body);
        let a = Auditor::new(
            &[],
            Rules {
                forbid_private: true,
                require_identity_removed: true,
            },
        )
        .expect("auditor");
        let f = a.scan_file("a.dcm", &bytes);
        let private: Vec<&str> = f
            .iter()
            .filter_map(|x| match x {
                Finding::PrivateElement { tag, .. } => Some(tag.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            private,
            ["(0009,0010)", "(0009,1001)", "(0040,A730)[0]/(0029,1010)"]
        );
        assert!(f.contains(&Finding::IdentityNotMarkedRemoved {
            file: "a.dcm".into()
        }));
        let mut marked = body.clone();
        marked.splice(0..0, short(0x0012, 0x0062, b"CS", b"YES"));
        let a = Auditor::new(
            &[],
            Rules {
                forbid_private: false,
                require_identity_removed: true,
            },
        )
        .expect("auditor");
        assert!(
            a.scan_file("a.dcm", &with_meta(EXPLICIT_LE, &marked))
                .is_empty()
        );
    }

    // -- files too big to hold: streamed -------------------------------------------------

    /// Files of every kind the audit tells apart, with values at many offsets.
    fn battery() -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<(String, Vec<u8>)> = Vec::new();
        for pad in 0..12 {
            let mut text = vec![b'x'; pad];
            text.extend_from_slice(b" name: DOE, J; DOESNT; xDOE; MRN9053855x; johnathan\n");
            text.extend_from_slice(b"1965-03-12 19650312101500 2.25.919650312 Dr Weber");
            out.push((format!("t{pad}.txt"), text));
        }
        out.push(("cjk.txt".into(), "patient 王".as_bytes().to_vec()));
        out.push(("cjk.bin".into(), "patient 王\0".as_bytes().to_vec()));
        for syntax in synth::fixture::Syntax::ALL {
            let spec = synth::fixture::InstanceSpec {
                syntax,
                patient_name: "DOE^JO".into(),
                ..Default::default()
            };
            out.push((format!("{syntax:?}.dcm"), spec.to_bytes().expect("fixture")));
        }
        let mut body = short(0x0010, 0x0010, b"PN", b"ANON");
        body.extend(pixel_data(b"..DOE...DOEJOHNSON..MRN9053855.."));
        body.extend(short(0x0040, 0xA160, b"LO", b"DOE and johnathan"));
        out.push(("pixels.dcm".into(), with_meta(EXPLICIT_LE, &body)));
        let item = long(0x0040, 0xA160, b"UT", b"report on johnathan ");
        let mut body = short(0x0010, 0x0010, b"PN", b"ANON");
        body.extend(sequence(0x0040, 0xA730, &item));
        let mut private = short(0x0029, 0x0010, b"LO", b"ACME");
        private.extend(long(0x0029, 0x1010, b"OB", b"\x00DOE\x00"));
        body.extend(private);
        out.push(("nested.dcm".into(), with_meta(EXPLICIT_LE, &body)));
        let mut marked = short(0x0012, 0x0062, b"CS", b"YES");
        marked.extend(body.clone());
        out.push(("marked.dcm".into(), with_meta(EXPLICIT_LE, &marked)));
        let mut deflated_body = marked.clone();
        deflated_body.extend(pixel_data(b"..DOEJOHNSON.."));
        deflated_body.extend(short(0x0009, 0x0010, b"LO", b"ACME"));
        out.push((
            "deflated.dcm".into(),
            with_meta(DEFLATED, &deflate(&deflated_body)),
        ));
        let mut be = Vec::new();
        be.extend_from_slice(&[0x00, 0x10, 0x00, 0x10, b'P', b'N', 0, 14]);
        be.extend_from_slice(b"DOE^JOHNATHAN ");
        be.extend_from_slice(&[0x7F, 0xE0, 0x00, 0x10, b'O', b'W', 0, 0, 0, 0, 0, 4]);
        be.extend_from_slice(b"\x01\x02\x03\x04");
        out.push(("be.dcm".into(), with_meta(EXPLICIT_BE, &be)));
        let mut refused = short(0x0010, 0x0010, b"PN", b"DOE^JO");
        refused.extend(long(0x0009, 0x1010, b"OB", b"x"));
        let n = refused.len();
        refused[n - 5..n - 1].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        out.push(("refused.dcm".into(), with_meta(EXPLICIT_LE, &refused)));
        out.push((
            "huge.dcm".into(),
            synth::fixture::huge_length().expect("fixture"),
        ));
        let mut cjk = short(0x0008, 0x0005, b"CS", b"GB18030");
        cjk.extend(short(0x0008, 0x1030, b"LO", b"\xcd\xf5 x"));
        let mut blob = vec![0x11u8; 40];
        blob[10..12].copy_from_slice(b"\xcd\xf5");
        cjk.extend(long(0x0018, 0x9999, b"OB", &blob));
        out.push(("cjk.dcm".into(), with_meta(EXPLICIT_LE, &cjk)));
        let mut fake_body = short(0x0010, 0x0010, b"PN", b"ANONYMIZED");
        let mut fake = vec![0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0];
        let tail = long(0x0040, 0xA160, b"UT", b"seen by Dr Weber today");
        fake.extend_from_slice(&((tail.len() + 4) as u32).to_le_bytes());
        fake_body.extend(short(0x0020, 0x4000, b"LT", &fake));
        fake_body.extend(tail);
        out.push(("fake.dcm".into(), with_meta(EXPLICIT_LE, &fake_body)));
        // Matches the verdict rules excuse or demote: a coincidence inside Manufacturer, a name
        // part equal to a whole code, a birth date inside longer numbers, and one real leak.
        let mut ruled = short(0x0008, 0x0070, b"LO", b"WEBER_MED");
        ruled.extend(short(0x0018, 0x0089, b"IS", b"9053855"));
        ruled.extend(short(0x0020, 0x4000, b"LT", b"x219650312 DOE"));
        ruled.extend(short(0x2010, 0x0100, b"CS", b"DOE"));
        out.push(("ruled.dcm".into(), with_meta(EXPLICIT_LE, &ruled)));
        out
    }

    fn battery_auditor() -> Auditor {
        Auditor::new(
            &[
                Needle::new("PatientName", ValueKind::PersonName, "DOE^JOHNATHAN"),
                Needle::new("PatientName", ValueKind::PersonName, "DOE^JO"),
                Needle::new("PatientName", ValueKind::PersonName, "王^小东"),
                Needle::new("OtherPatientNames", ValueKind::PersonName, "DOEJOHNSON"),
                Needle::new(
                    "ReferringPhysicianName",
                    ValueKind::PersonName,
                    "Weber^Anna",
                ),
                Needle::new("PatientID", ValueKind::Identifier, "MRN9053855"),
                Needle::new("PatientBirthDate", ValueKind::Date, "19650312"),
            ],
            Rules {
                forbid_private: true,
                require_identity_removed: true,
            },
        )
        .expect("auditor")
    }

    fn sorted(mut f: Vec<Finding>) -> Vec<Finding> {
        f.sort();
        f.dedup();
        f
    }

    #[test]
    fn a_streamed_file_has_the_findings_it_has_in_memory() {
        // Windows of 1 to 64 bytes cut every value, element and region boundary somewhere.
        let a = battery_auditor();
        let dir = tempfile::tempdir().expect("tempdir");
        for (rel, bytes) in battery() {
            let path = dir.path().join(&rel);
            std::fs::write(&path, &bytes).expect("write");
            let want = sorted(a.scan_file(&rel, &bytes));
            assert!(
                !want.is_empty() || rel == "marked.dcm" || rel.starts_with("cjk."),
                "{rel}: the battery should find something"
            );
            if rel == "ruled.dcm" {
                let mut kinds: Vec<(bool, &str)> = want
                    .iter()
                    .filter_map(|f| match f {
                        Finding::Value { tag, .. } => Some((true, tag.as_deref()?)),
                        Finding::Coincidence { tag, .. } => Some((false, tag.as_str())),
                        _ => None,
                    })
                    .collect();
                kinds.sort();
                assert_eq!(
                    kinds,
                    [
                        (false, "(0008,0070)"),
                        (false, "(2010,0100)"),
                        (true, "(0020,4000)"),
                    ],
                    "{want:?}"
                );
            }
            for chunk in [1, 2, 3, 5, 7, 16, 64, 1 << 20] {
                let mut src = FileSource {
                    path: path.clone(),
                    start: 0,
                    len: bytes.len() as u64,
                };
                let got = a
                    .scan_source(&rel, &mut src, bytes.len() as u64, chunk)
                    .expect("stream");
                assert_eq!(sorted(got), want, "{rel}, windows of {chunk}");
            }
        }
    }

    #[test]
    fn a_window_edge_is_no_word_boundary() {
        // "DOE" is a short value: it must stand between word boundaries. Cut right after it,
        // a window must not take its edge for one.
        let a = auditor(&[Needle::new("PatientName", ValueKind::PersonName, "DOE^JO")]);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.txt");
        for pad in 0..40 {
            let mut text = vec![b'-'; pad];
            text.extend_from_slice(b"xDOEx DOES ADOE DOE1 1DOE");
            std::fs::write(&path, &text).expect("write");
            for chunk in 1..12 {
                let mut src = FileSource {
                    path: path.clone(),
                    start: 0,
                    len: text.len() as u64,
                };
                let got = a
                    .scan_source("x.txt", &mut src, text.len() as u64, chunk)
                    .expect("stream");
                assert!(got.is_empty(), "pad {pad}, chunk {chunk}: {got:?}");
            }
        }
    }

    fn zip_of(path: &Path, files: &[(String, Vec<u8>)]) {
        use std::io::Write;
        let mut z = zip::ZipWriter::new(std::fs::File::create(path).expect("create"));
        for (i, (rel, bytes)) in files.iter().enumerate() {
            let method = if i % 2 == 0 {
                zip::CompressionMethod::Stored
            } else {
                zip::CompressionMethod::Deflated
            };
            let opts = zip::write::SimpleFileOptions::default().compression_method(method);
            z.start_file(rel.as_str(), opts).expect("entry");
            z.write_all(bytes).expect("write");
        }
        z.finish().expect("finish");
    }

    #[test]
    fn streamed_folder_and_zip_packages_report_what_in_memory_audits_report() {
        let a = battery_auditor();
        let mut files = battery();
        files.push((
            "manifest.json".into(),
            br#"{"format": "depot-package/1", "note": "johnathan"}"#.to_vec(),
        ));
        let dir = tempfile::tempdir().expect("tempdir");
        let folder = dir.path().join("pkg");
        std::fs::create_dir(&folder).expect("mkdir");
        for (rel, bytes) in &files {
            std::fs::write(folder.join(rel), bytes).expect("write");
        }
        let zipped = dir.path().join("pkg.zip");
        zip_of(&zipped, &files);
        for pkg in [&folder, &zipped] {
            let want = audit_package(pkg, &a).expect("in memory");
            for chunk in [3, 64] {
                let streaming = Streaming { above: 0, chunk };
                let got = audit_package_with(pkg, &a, streaming).expect("streamed");
                assert_eq!(got.findings, want.findings, "{}", pkg.display());
                assert_eq!((got.files, got.bytes), (want.files, want.bytes));
            }
        }
        // Pixel data of streamed entries is searched too (long spellings).
        let r = audit_package_with(&zipped, &a, Streaming { above: 0, chunk: 7 }).expect("zip");
        assert!(
            r.findings.iter().any(|f| matches!(
                f,
                Finding::Value { what, region: Region::PixelData, .. } if what == "OtherPatientNames"
            )),
            "{r:?}"
        );
    }
}
