//! The search itself: the matches of the automaton and of the index of original UIDs
//! (`uid_index`), taken together in the order the automaton reports its own, filtered by each
//! pattern's boundary rule and by whose file is searched; and the fast search of long values
//! in pixel data (runs of bytes that can spell them, non-overlapping first).
//!
//! The UIDs were once patterns of the automaton like every other value; they now lie in an
//! index that costs a fraction of the memory, and every search here gives exactly what the
//! automaton holding them gave, in the same order (the tests compare the two).

use std::collections::BTreeSet;
use std::ops::Range;

use aho_corasick::AhoCorasick;

use crate::boundary::{Boundary, digit_bounded, is_uid_char, word_bounded};
use crate::uid_index::{UidIndex, UidMatch};
use crate::verdict::Spelled;

/// One spelling of a needle, as searched.
#[derive(Debug, Clone)]
pub(crate) struct Pattern {
    pub(crate) label: String,
    pub(crate) bounded: Boundary,
    /// What kind of value it spells, as the verdict rules need it.
    pub(crate) spelled: Spelled,
    /// The bytes, when they must match exactly: the automaton folds ASCII case, which would
    /// take one character of a multi-byte encoding for another whose bytes differ in case.
    pub(crate) exact: Option<Box<[u8]>>,
    /// A single CJK character: a byte match counts only inside a text value.
    pub(crate) confirm: bool,
    /// A short fragment of other subjects' values only: counts only in the files of these
    /// subjects (sorted; see [`crate::owners`]); `None`: everywhere.
    pub(crate) only: Option<Box<[u32]>>,
}

/// How matches are filtered in one kind of place.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Mode {
    /// Every match must be a whole word (the manifest).
    pub(crate) whole_words: bool,
    /// The subject whose file is searched (see [`crate::owners`]): short fragments of
    /// other subjects' values do not count there. `None`: everything counts.
    pub(crate) subject: Option<u32>,
}

/// A match that passed its boundary rule.
#[derive(Debug, Clone)]
pub(crate) struct Hit<'p> {
    pub(crate) label: &'p str,
    pub(crate) range: Range<usize>,
    pub(crate) confirm: bool,
    /// See [`Pattern::spelled`].
    pub(crate) spelled: Spelled,
}

/// What a match is of: a pattern of the automaton, or an original UID of the index (whose
/// spelling is plain, bounded as a UID, never confirmed, and counts everywhere).
#[derive(Debug, Clone, Copy)]
enum Of<'p> {
    Pattern(&'p Pattern),
    Uid(&'p str),
}

impl<'p> Of<'p> {
    fn label(self) -> &'p str {
        match self {
            Of::Pattern(p) => p.label.as_str(),
            Of::Uid(label) => label,
        }
    }

    fn bounded(self) -> Boundary {
        match self {
            Of::Pattern(p) => p.bounded,
            Of::Uid(_) => Boundary::Uid,
        }
    }

    /// The pattern's place among the spellings of the same bytes: the automaton's patterns
    /// were the spellings sorted by (bytes, exact, label, boundary), and it reports the
    /// matches of one range in the order of its patterns.
    fn rank(self) -> (bool, &'p str, Boundary) {
        match self {
            Of::Pattern(p) => (p.exact.is_some(), p.label.as_str(), p.bounded),
            Of::Uid(label) => (false, label, Boundary::Uid),
        }
    }
}

/// A match of the automaton or of the UID index.
#[derive(Debug, Clone)]
struct Matched<'p> {
    range: Range<usize>,
    of: Of<'p>,
}

impl Matched<'_> {
    /// Whether the automaton holding the UIDs too would report `self` before `other`: by where
    /// they end, then the longer first, then by pattern. Two matches of one range have equal
    /// bytes when one is a UID's (digits and dots have no case), so their patterns compare by
    /// [`Of::rank`].
    fn precedes(&self, other: &Matched<'_>) -> bool {
        (self.range.end, self.range.start, self.of.rank())
            < (other.range.end, other.range.start, other.of.rank())
    }
}

/// The matches of the automaton (`ac`, its matches in the order it reports them) and the
/// occurrences of UIDs (`uids`, in the same order), merged in that order.
fn merged<'p>(
    ac: impl Iterator<Item = aho_corasick::Match>,
    patterns: &'p [Pattern],
    uids: &'p UidIndex,
    found: impl Iterator<Item = UidMatch>,
) -> impl Iterator<Item = Matched<'p>> {
    let mut ac = ac
        .filter_map(move |m| {
            Some(Matched {
                range: m.range(),
                of: Of::Pattern(patterns.get(m.pattern().as_usize())?),
            })
        })
        .peekable();
    let mut found = found
        .map(move |u| Matched {
            range: u.range,
            of: Of::Uid(uids.label(u.id)),
        })
        .peekable();
    std::iter::from_fn(move || match (ac.peek(), found.peek()) {
        (Some(a), Some(u)) if u.precedes(a) => found.next(),
        (Some(_), _) => ac.next(),
        (None, _) => found.next(),
    })
}

/// Every match of `ac` and of `uids` in `hay` that satisfies its pattern's boundary rule, with
/// its range, in the order the automaton reports overlapping matches.
pub(crate) fn bounded_matches<'p>(
    ac: Option<&AhoCorasick>,
    patterns: &'p [Pattern],
    uids: &'p UidIndex,
    hay: &[u8],
    mode: Mode,
) -> Vec<Hit<'p>> {
    let mut out = Vec::new();
    let automaton = ac.into_iter().flat_map(|ac| ac.find_overlapping_iter(hay));
    // Only a UID occurrence that is a whole run of digits and dots passes its boundary rule.
    for m in merged(
        automaton,
        patterns,
        uids,
        uids.find_bounded(hay).into_iter(),
    ) {
        let r = m.range;
        let (confirm, spelled) = match m.of {
            Of::Pattern(p) => {
                if let Some(exact) = &p.exact
                    && hay.get(r.clone()) != Some(&exact[..])
                {
                    continue;
                }
                if let (Some(only), Some(subject)) = (&p.only, mode.subject)
                    && only.binary_search(&subject).is_err()
                {
                    continue;
                }
                (p.confirm, p.spelled)
            }
            Of::Uid(_) => (false, Spelled::Uid),
        };
        let before = r.start.checked_sub(1).and_then(|i| hay.get(i)).copied();
        let after = hay.get(r.end).copied();
        let ok = match m.of.bounded() {
            Boundary::None => true,
            Boundary::Digits => digit_bounded(hay, r.clone()),
            Boundary::Word => word_bounded(hay, r.clone()),
            Boundary::Uid => !is_uid_char(before) && !is_uid_char(after),
            Boundary::DateStart => !before.is_some_and(|b| b.is_ascii_digit()),
        };
        if ok && (!mode.whole_words || word_bounded(hay, r.clone())) {
            out.push(Hit {
                label: m.of.label(),
                range: r,
                confirm,
                spelled,
            });
        }
    }
    out
}

/// Like [`bounded_matches`] for long values in one run of pixel data (`hay[run]`), whose only
/// boundary rule is the digits' one: a non-overlapping search, which lets the automaton use
/// its fast prefilters; only a run where a match fails the rule (and might hide an
/// overlapping one) is searched again with every overlapping match.
///
/// Where a UID of the index occurs in the run (rarely: it is a finding), the non-overlapping
/// matches are those the automaton would have found had it held the UIDs: of all matches in
/// its order, each one that starts where the one taken before it ends, or after.
pub(crate) fn find_any(
    ac: Option<&AhoCorasick>,
    patterns: &[Pattern],
    uids: &UidIndex,
    hay: &[u8],
    run: Range<usize>,
    keep: &dyn Fn(&Range<usize>) -> bool,
    out: &mut BTreeSet<String>,
) {
    let Some(slice) = hay.get(run.clone()) else {
        return;
    };
    let found = |m: &Matched<'_>, out: &mut BTreeSet<String>| -> bool {
        let r = run.start + m.range.start..run.start + m.range.end;
        if !keep(&r) {
            // Not counted here, and it may hide an overlapping match that is.
            return false;
        }
        if m.of.bounded() == Boundary::Digits && !digit_bounded(hay, r) {
            return false;
        }
        if !out.contains(m.of.label()) {
            out.insert(m.of.label().to_string());
        }
        true
    };
    let mut in_uids = uids.find_all(slice).peekable();
    if in_uids.peek().is_none() {
        let Some(ac) = ac else { return };
        let mut refused = false;
        for m in merged(ac.find_iter(slice), patterns, uids, std::iter::empty()) {
            refused |= !found(&m, out);
        }
        if refused {
            for m in merged(
                ac.find_overlapping_iter(slice),
                patterns,
                uids,
                std::iter::empty(),
            ) {
                found(&m, out);
            }
        }
        return;
    }
    // Taken as they come, never gathered: pixel data repeating a value holds a match at
    // nearly every byte.
    let overlapping = || {
        ac.into_iter()
            .flat_map(|ac| ac.find_overlapping_iter(slice))
    };
    let mut refused = false;
    let mut taken_to = 0;
    for m in merged(overlapping(), patterns, uids, in_uids) {
        if m.range.start >= taken_to {
            taken_to = m.range.end;
            refused |= !found(&m, out);
        }
    }
    if refused {
        for m in merged(overlapping(), patterns, uids, uids.find_all(slice)) {
            found(&m, out);
        }
    }
}
