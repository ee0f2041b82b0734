//! The search itself: the automaton's matches filtered by each pattern's boundary rule and by
//! whose file is searched, and the fast search of long values in pixel data (runs of bytes
//! that can spell them, non-overlapping first).

use std::collections::BTreeSet;
use std::ops::Range;

use aho_corasick::AhoCorasick;

use crate::boundary::{Boundary, digit_bounded, is_uid_char, word_bounded};
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

/// Every match of `ac` in `hay` that satisfies its pattern's boundary rule, with its range.
pub(crate) fn bounded_matches<'p>(
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

/// Like [`bounded_matches`] for long values in one run of pixel data (`hay[run]`), whose only
/// boundary rule is the digits' one: a non-overlapping search, which lets the automaton use
/// its fast prefilters; only a run where a match fails the rule (and might hide an
/// overlapping one) is searched again with every overlapping match.
pub(crate) fn find_any(
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
pub(crate) fn alphabet_runs(hay: &[u8], alphabet: &[bool; 256], min: usize) -> Vec<Range<usize>> {
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
