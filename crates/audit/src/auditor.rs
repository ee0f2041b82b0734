//! The prepared search: every spelling of every needle in one automaton (and the long ones in a
//! second, for pixel data) but the original UIDs, which lie in a compact index of their own
//! (`uid_index`: an export has as many as files), the structural rules, depot's own values and
//! the package's subjects; and the search of paths, whose findings show the path masked.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::boundary::Boundary;
use crate::error::AuditError;
use crate::finding::{Finding, Region};
use crate::matcher::{Hit, Mode, Pattern, bounded_matches};
use crate::needle::{LONG_NEEDLE, Needle, ValueKind};
use crate::owners::{OwnedNeedle, Scope, Subjects, whole_texts};
use crate::rules::Rules;
use crate::spellings::{search_bytes, spellings_of, trimmed};
use crate::uid_builder::UidIndexBuilder;
use crate::uid_index::UidIndex;
use crate::verdict::Spelled;
use crate::written::WrittenValues;

/// A prepared search for a set of needles plus structural rules; cheap to share across threads.
#[derive(Debug)]
pub struct Auditor {
    pub(crate) all: Option<AhoCorasick>,
    pub(crate) all_patterns: Vec<Pattern>,
    pub(crate) long: Option<AhoCorasick>,
    pub(crate) long_patterns: Vec<Pattern>,
    /// The original UIDs, searched with both automata (see [`crate::matcher`]).
    pub(crate) uids: UidIndex,
    /// Every byte that occurs in a long spelling (both ASCII cases), the UIDs' included.
    pub(crate) long_alphabet: [bool; 256],
    /// The longest spelling, in bytes: what windows of a streamed file must overlap by.
    pub(crate) longest: usize,
    pub(crate) rules: Rules,
    pub(crate) searched: usize,
    /// Values depot writes: a match inside one is not a finding.
    pub(crate) written: WrittenValues,
    /// The package's subjects by folder name, for [`Pattern::only`].
    pub(crate) subjects: Subjects,
}

/// A spelling as deduplicated: (bytes, exact, label, boundary); mapped to (confirm, pixel,
/// what it spells, where it counts).
pub(crate) type SpellingKey = (Vec<u8>, bool, String, Boundary);

/// The spellings and UIDs of the needles given so far, while an auditor is prepared.
struct Found {
    subjects: Subjects,
    spellings: BTreeMap<SpellingKey, (bool, bool, Spelled, Scope)>,
    uids: UidIndexBuilder,
    /// Whether UIDs go to the index (else every one is a pattern of the automata).
    index_uids: bool,
}

impl Found {
    /// Adds one needle, belonging to the subjects `owners` (none: it counts everywhere).
    fn add(&mut self, n: &Needle, owners: &[String]) {
        if self.index_uids && n.kind == ValueKind::Uid {
            // Its one spelling: plain (digits and dots have no case), bounded as a UID, long
            // (so searched in pixel data too, with no boundary there) and counting
            // everywhere, as every UID the index holds.
            let spelled = spellings_of(n);
            if let [s] = &spelled[..]
                && s.boundary == Boundary::Uid
                && self.uids.push(&s.bytes, &n.label)
            {
                return;
            }
        }
        self.add_spellings(n, owners);
    }

    /// Adds every spelling of one needle to the automata's patterns.
    fn add_spellings(&mut self, n: &Needle, owners: &[String]) {
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
            let scope = self.subjects.scope(owners, fragment, bytes.len());
            let e = self
                .spellings
                .entry((bytes, s.exact, n.label.clone(), s.boundary))
                .or_insert((s.confirm, s.pixel, s.spelled, scope.clone()));
            e.0 &= s.confirm;
            e.1 |= s.pixel;
            // A whole name of one needle stays one where it is also a part of another's.
            if s.spelled == Spelled::FullName {
                e.2 = Spelled::FullName;
            }
            e.3.merge(scope);
        }
    }
}

impl Auditor {
    /// Prepares the search. Values shorter than [`crate::MIN_NEEDLE`] are dropped (they would match
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
        Auditor::prepare(needles, std::iter::empty(), rules, true)
    }

    /// [`Auditor::owned`] plus `uids`, (label, UID) pairs belonging to no subject, each
    /// searched as a [`ValueKind::Uid`] needle of that label: taken one by one, so that an
    /// export's hundred thousand original UIDs are never needles all at once (each would hold
    /// its label and value twice over until the index is built).
    pub fn owned_with_uids<'u>(
        needles: &[OwnedNeedle],
        uids: impl IntoIterator<Item = (&'u str, &'u str)>,
        rules: Rules,
    ) -> Result<Auditor, AuditError> {
        Auditor::prepare(needles, uids.into_iter(), rules, true)
    }

    /// [`Auditor::owned`] with every UID a pattern of the automata, as the search was before
    /// the UID index: what the index must give the same findings as.
    #[cfg(test)]
    pub(crate) fn owned_in_automata(
        needles: &[OwnedNeedle],
        rules: Rules,
    ) -> Result<Auditor, AuditError> {
        Auditor::prepare(needles, std::iter::empty(), rules, false)
    }

    /// [`Auditor::owned_with_uids`], the UIDs given one at a time
    /// ([`AuditorBuilder::add_uid`]) by a caller that reads them a batch at a time.
    pub fn owned_builder(needles: &[OwnedNeedle], rules: Rules) -> AuditorBuilder {
        Auditor::builder(needles, rules, true)
    }

    /// Prepares the search, with the UIDs the index can hold in it when `index_uids` is true.
    fn prepare<'u>(
        needles: &[OwnedNeedle],
        more_uids: impl Iterator<Item = (&'u str, &'u str)>,
        rules: Rules,
        index_uids: bool,
    ) -> Result<Auditor, AuditError> {
        let mut builder = Auditor::builder(needles, rules, index_uids);
        for (label, uid) in more_uids {
            builder.add_uid(label, uid);
        }
        builder.build()
    }

    /// [`Auditor::owned_builder`] holding `uids`, an export's original UIDs gathered before
    /// its needles were known (see [`OriginalUids`]).
    pub fn owned_builder_with(
        needles: &[OwnedNeedle],
        rules: Rules,
        uids: OriginalUids,
    ) -> AuditorBuilder {
        let mut builder = Auditor::builder_of(needles, rules, true, uids.builder);
        for (label, uid) in uids.overflow {
            builder
                .found
                .add_spellings(&Needle::new(label, ValueKind::Uid, uid), &[]);
        }
        builder
    }

    fn builder(needles: &[OwnedNeedle], rules: Rules, index_uids: bool) -> AuditorBuilder {
        Auditor::builder_of(needles, rules, index_uids, UidIndexBuilder::default())
    }

    fn builder_of(
        needles: &[OwnedNeedle],
        rules: Rules,
        index_uids: bool,
        uids: UidIndexBuilder,
    ) -> AuditorBuilder {
        let mut found = Found {
            subjects: Subjects::default(),
            spellings: BTreeMap::new(),
            uids,
            index_uids,
        };
        for OwnedNeedle { needle, owners } in needles {
            found.add(needle, owners);
        }
        AuditorBuilder { found, rules }
    }
}

/// An auditor being prepared: its needles given, its UIDs being added.
pub struct AuditorBuilder {
    found: Found,
    rules: Rules,
}

impl AuditorBuilder {
    /// Adds a UID belonging to no subject, searched as a [`ValueKind::Uid`] needle of `label`.
    pub fn add_uid(&mut self, label: &str, uid: &str) {
        self.found
            .add(&Needle::new(label, ValueKind::Uid, uid), &[]);
    }

    /// The auditor.
    pub fn build(self) -> Result<Auditor, AuditError> {
        let AuditorBuilder { mut found, rules } = self;
        let built = std::mem::take(&mut found.uids)
            .build()
            .map_err(AuditError::UidSpill)?;
        // The UIDs the index cannot hold (and no exported header keeps): searched as any UID
        // needle is, belonging to no subject.
        for (bytes, label) in built.automaton {
            let n = Needle::new(label, ValueKind::Uid, String::from_utf8_lossy(&bytes));
            found.add_spellings(&n, &[]);
        }
        let Found {
            subjects,
            mut spellings,
            ..
        } = found;
        let uids = built.index;
        // The UIDs the index leaves to the automaton (past a few of one tail), spelled as this
        // loop spells a UID: plain, bounded as a UID, long, counting everywhere.
        for (bytes, label) in built.same_tail {
            let e = spellings
                .entry((bytes, false, label.into_string(), Boundary::Uid))
                .or_insert((false, true, Spelled::Uid, Scope::Everywhere));
            e.0 = false;
            e.1 = true;
            e.3.merge(Scope::Everywhere);
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
        uids.add_alphabet(&mut long_alphabet);
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
        let longest = all_bytes
            .iter()
            .map(Vec::len)
            .max()
            .unwrap_or(0)
            .max(uids.longest());
        Ok(Auditor {
            longest,
            all: build(&all_bytes)?,
            long: build(&long_bytes)?,
            searched: all_patterns.len() + uids.len(),
            all_patterns,
            long_patterns,
            uids,
            long_alphabet,
            rules,
            written: WrittenValues::new(),
            subjects,
        })
    }
}

/// An export's original UIDs and the UIDs its de-identified headers keep, gathered while its
/// files are planned, before its needles are known; then handed to
/// [`Auditor::owned_builder_with`]. Each UID is searched once, under the label of its lowest
/// rank (then the first label by name), unless a kept UID has the same bytes. Given a folder,
/// it writes what it gathers there past a limit, and the auditor probes a table on disk: its
/// memory does not grow with the number of UIDs (see `uid_builder`).
pub struct OriginalUids {
    builder: UidIndexBuilder,
    /// UIDs the builder could not take (past its 65,536 labels, or 4 GiB in memory): searched
    /// by the automaton, never dropped.
    overflow: Vec<(Box<str>, Box<str>)>,
}

impl Default for OriginalUids {
    /// Gathers UIDs in memory only.
    fn default() -> OriginalUids {
        OriginalUids::new(None)
    }
}

impl OriginalUids {
    /// The most bytes of UIDs (and about 24 more each) held in memory before they go to disk.
    pub const LIMIT: usize = 8 << 20;

    /// Gathers UIDs in memory, or past [`OriginalUids::LIMIT`] bytes in an unnamed file in
    /// `dir` (it holds original UIDs: the archive's own temporary folder, never the system's).
    pub fn new(dir: Option<&std::path::Path>) -> OriginalUids {
        OriginalUids::with_limit(dir, OriginalUids::LIMIT)
    }

    /// [`OriginalUids::new`] with another limit (tests, and the environment's override).
    pub fn with_limit(dir: Option<&std::path::Path>, limit: usize) -> OriginalUids {
        OriginalUids {
            builder: UidIndexBuilder::spilling(dir, limit),
            overflow: Vec::new(),
        }
    }

    /// An original UID, searched as a UID needle of `label` unless kept; of the labels one UID
    /// is given, the one of the lowest `rank` wins (then the first by name).
    pub fn add(&mut self, label: &str, uid: &str, rank: u64) {
        // As it is spelled (see `spellings_of`), so that the same UID padded otherwise is the
        // same, and one the index can hold is held there.
        if !self
            .builder
            .push_ranked(trimmed(uid).as_bytes(), label, rank)
        {
            // Past what 32-bit offsets reach in memory: searched anyway, never dropped.
            self.overflow.push((label.into(), uid.into()));
        }
    }

    /// A UID the exported headers keep: no finding, so no UID of the same bytes is searched.
    pub fn add_kept(&mut self, uid: &str) {
        self.builder.push_kept(trimmed(uid).as_bytes());
    }
}

impl Auditor {
    /// How matches count in the file at package-relative `rel`: short fragments of other
    /// subjects' values do not, when the file lies in a subject's folder.
    pub(crate) fn mode_for(&self, rel: &str) -> Mode {
        Mode {
            whole_words: false,
            subject: self.subjects.of_file(rel),
        }
    }

    /// Whether every search so far was whole: an error when the table of original UIDs on disk
    /// could not be read (a search then finds nothing more, so its findings must not be
    /// believed). To be asked once the package was searched, before it is published.
    pub fn complete(&self) -> Result<(), AuditError> {
        match self.uids.failure() {
            Some(why) => Err(AuditError::UidTable(why.to_string())),
            None => Ok(()),
        }
    }

    /// Whether the original UIDs are searched in a table on disk (see [`OriginalUids`]).
    pub fn uids_on_disk(&self) -> bool {
        self.uids.on_disk()
    }

    /// The same search, knowing every subject folder of the package (`folders`: pseudonyms, or
    /// archive codes), including those of subjects with no value to search (a placeholder
    /// name, no PatientID): a file in one of them is that subject's, so other subjects' short
    /// name parts do not count there, as in any subject's file (see [`crate::owners`]).
    pub fn with_subject_folders<'a>(
        mut self,
        folders: impl IntoIterator<Item = &'a str>,
    ) -> Auditor {
        for folder in folders {
            self.subjects.index(folder);
        }
        self
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

    pub(crate) fn hits<'a>(&'a self, hay: &[u8], mode: Mode) -> Vec<Hit<'a>> {
        bounded_matches(self.all.as_ref(), &self.all_patterns, &self.uids, hay, mode)
    }

    /// Labels of the matches in `hay`; single-character matches count when `text` is true.
    pub(crate) fn labels(&self, hay: &[u8], mode: Mode, text: bool) -> BTreeSet<String> {
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
    pub(crate) fn in_written_component(&self, path: &[u8], r: &Range<usize>) -> bool {
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
}
