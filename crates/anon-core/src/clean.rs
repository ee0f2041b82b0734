//! Cutting identifying values out of values (action C, and the safety net beyond the table):
//! the subject's own identifiers (name parts, IDs, birth date, accession number,
//! caller-supplied extras) and, under C, every value the run removes from the same object
//! ([`crate::removed`]). Text is searched case-insensitively on decoded strings (so ISO_IR
//! 100, ISO_IR 192 and other character sets are handled alike), binary values byte-wise in
//! every character set's spelling ([`crate::identity::byte_spellings`]).
//!
//! The boundary rules are the PHI audit's: a value shorter than [`LONG_VALUE`] bytes is cut
//! only as a whole word (`Li` not out of `Clinical`), a longer one anywhere except glued to
//! digits (a StudyID `000101` not out of `19000101`), a UID never out of a longer UID.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::OnceLock;

use unicode_normalization::char::is_combining_mark;

use crate::charset;
use crate::identity::{self, ValueKind};
use crate::needles::NeedleSet;

use fold::{continues, fold, fold_str};

mod fold;

/// Identifiers shorter than this (in characters) are not cut: a single letter would shred
/// every text. Two-letter name parts (e.g. "Li") are cut as whole words, and so is a single
/// character of a script in which one character is a whole name (Chinese, Japanese, Korean:
/// 王, 홍).
const MIN_CHARS: usize = 2;

/// Values of other kinds than names (IDs, text) shorter than this are not cut: two letters
/// are a modality, a unit or a code far more often than an identifier.
const MIN_VALUE_CHARS: usize = 3;

/// Values at least this long (UTF-8 bytes) are cut wherever they occur (except glued to
/// digits); shorter ones only as whole words. The PHI audit's `LONG_NEEDLE`.
const LONG_VALUE: usize = 6;

/// Identifiers shorter than this are not cut out of code strings (see
/// [`Scrubber::clean_code`]): two letters are a modality or a code far more often than a name.
const MIN_CODE_WORD: usize = 3;

/// Identifiers at least this long are cut out of code strings wherever they occur (a name that
/// long inside a code word is no coincidence), as the PHI audit searches values that long
/// everywhere.
const LONG_CODE_NEEDLE: usize = 6;

/// Numbers (digits and punctuation only) shorter than this that a run removes are not cut
/// out of text: a removed StudyID `134` or count `7` would shred doses, slice numbers and
/// dimensions. The subject's own IDs are cut whatever their length.
const MIN_NUMBER_DIGITS: usize = 6;

/// Whether an identifier is long enough to be cut (see [`MIN_CHARS`]).
pub(crate) fn worth_cutting(id: &str) -> bool {
    let mut chars = id.chars();
    match (chars.next(), chars.next()) {
        (Some(_), Some(_)) => id.chars().count() >= MIN_CHARS,
        (Some(c), None) => is_ideographic(c),
        _ => false,
    }
}

/// Whether a value the run removes is worth cutting out of text (see [`MIN_VALUE_CHARS`],
/// [`MIN_NUMBER_DIGITS`]).
fn value_worth_cutting(kind: ValueKind, text: &str) -> bool {
    if !worth_cutting(text) {
        return false;
    }
    if kind == ValueKind::PersonName || kind == ValueKind::Uid {
        return true;
    }
    if identity::is_single_cjk(text) {
        return true;
    }
    let digits = text.chars().filter(char::is_ascii_digit).count();
    let number = !text.chars().any(char::is_alphabetic);
    text.chars().count() >= MIN_VALUE_CHARS && (!number || digits >= MIN_NUMBER_DIGITS)
}

/// CJK ideographs, kana and Hangul syllables: scripts where one character can be a name.
fn is_ideographic(c: char) -> bool {
    matches!(u32::from(c),
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x3400..=0x4DBF    // CJK Extension A
        | 0x4E00..=0x9FFF    // CJK Unified Ideographs
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0xF900..=0xFAFF    // CJK Compatibility Ideographs
        | 0x20000..=0x3134F  // CJK Extensions B-G
    )
}

/// How a match must be bounded to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Boundary {
    /// Not part of a longer ASCII word.
    Word,
    /// Not part of a longer number.
    Digits,
    /// Not part of a longer UID (digits and dots).
    Uid,
}

fn boundary_of(uid: bool, len: usize) -> Boundary {
    if uid {
        Boundary::Uid
    } else if len < LONG_VALUE {
        Boundary::Word
    } else {
        Boundary::Digits
    }
}

/// Whether `hay[start..end]` satisfies `b`, looking at the neighbouring bytes (ASCII rules, as
/// the audit: a non-ASCII edge is always a boundary).
fn bounded(hay: &[u8], start: usize, end: usize, b: Boundary) -> bool {
    let at = |i: Option<usize>| i.and_then(|i| hay.get(i)).copied();
    let (first, last) = (at(Some(start)), at(end.checked_sub(1)));
    let (before, after) = (at(start.checked_sub(1)), at(Some(end)));
    let glued = |edge: Option<u8>, next: Option<u8>, f: fn(&u8) -> bool| {
        edge.as_ref().is_some_and(f) && next.as_ref().is_some_and(f)
    };
    match b {
        Boundary::Word => {
            !glued(first, before, u8::is_ascii_alphanumeric)
                && !glued(last, after, u8::is_ascii_alphanumeric)
        }
        Boundary::Digits => {
            !glued(first, before, u8::is_ascii_digit) && !glued(last, after, u8::is_ascii_digit)
        }
        Boundary::Uid => {
            let uid = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_digit() || c == b'.');
            !uid(before) && !uid(after)
        }
    }
}

/// One value to cut, as given (trimmed) and whether it is a UID.
#[derive(Debug, Clone)]
struct Source {
    text: String,
    uid: bool,
}

/// The byte search, built on first use (most objects have no binary value to clean).
#[derive(Debug)]
struct Bytes {
    set: NeedleSet,
    bounds: Vec<Boundary>,
}

/// A compiled set of identifying values to cut out of values.
#[derive(Debug)]
pub(crate) struct Scrubber {
    sources: Vec<Source>,
    /// The case-folded values, searched in folded text, with their boundary rules and lengths
    /// in characters.
    text: NeedleSet,
    bounds: Vec<Boundary>,
    chars: Vec<usize>,
    bytes: OnceLock<Option<Bytes>>,
}

impl Clone for Scrubber {
    fn clone(&self) -> Scrubber {
        Scrubber::from_sources(self.sources.clone())
    }
}

impl Scrubber {
    /// Compiles the subject's `identifiers` (blank and one-letter ones are ignored).
    pub(crate) fn new<'a>(identifiers: impl IntoIterator<Item = &'a str>) -> Scrubber {
        Scrubber::from_sources(Self::subject_sources(identifiers))
    }

    /// Compiles the subject's `identifiers` and the `removed` values of a run (see
    /// [`crate::removed`]), each value in the spellings its kind has.
    pub(crate) fn with_removed<'a>(
        identifiers: impl IntoIterator<Item = &'a str>,
        removed: &[(ValueKind, String)],
    ) -> Scrubber {
        let mut sources = Self::subject_sources(identifiers);
        for (kind, value) in removed {
            for text in identity::texts_of(*kind, value) {
                if value_worth_cutting(*kind, &text) {
                    sources.push(Source {
                        text,
                        uid: *kind == ValueKind::Uid,
                    });
                }
            }
        }
        Scrubber::from_sources(sources)
    }

    /// The subject's identifiers as values to cut. An identifier that still holds ISO 2022
    /// escape sequences (a value read one character per byte from a data set with code
    /// extensions, as an index may hold it, or read by dicom-rs from a data set whose only
    /// Specific Character Set value is an ISO 2022 one) is cut as the text it encodes (see
    /// [`charset::without_escapes`]): its characters, never the escape sequences of the text
    /// it is cut from.
    fn subject_sources<'a>(identifiers: impl IntoIterator<Item = &'a str>) -> Vec<Source> {
        identifiers
            .into_iter()
            .map(|id| {
                if id.contains('\u{1b}') {
                    Cow::Owned(charset::without_escapes(id))
                } else {
                    Cow::Borrowed(id)
                }
            })
            .filter(|id| worth_cutting(id.trim()))
            .map(|id| Source {
                text: id.trim().to_string(),
                uid: false,
            })
            .collect()
    }

    fn from_sources(mut sources: Vec<Source>) -> Scrubber {
        sources.sort_by(|a, b| (&a.text, a.uid).cmp(&(&b.text, b.uid)));
        sources.dedup_by(|a, b| a.text == b.text && a.uid == b.uid);
        let mut folded = Vec::with_capacity(sources.len());
        let mut bounds = Vec::with_capacity(sources.len());
        let mut chars = Vec::with_capacity(sources.len());
        for s in &sources {
            let f = fold_str(&s.text);
            // Lengths as the value's composed form has them (the audit's byte lengths).
            bounds.push(boundary_of(s.uid, f.len()));
            chars.push(f.chars().filter(|c| !is_combining_mark(*c)).count());
            folded.push(f.into_bytes());
        }
        Scrubber {
            sources,
            text: NeedleSet::new(folded, false),
            bounds,
            chars,
            bytes: OnceLock::new(),
        }
    }

    /// Whether there is nothing to cut.
    pub(crate) fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Whether `folded` is one of the values, whole.
    fn is_value(&self, folded: &str) -> bool {
        self.text.contains(folded.as_bytes())
    }

    /// Which characters of `text` belong to a value to cut (one flag per `char`), or `None` if
    /// none occurs. One pass: cutting them may join what is left into a value again (see
    /// [`Scrubber::clean_text`]).
    pub(crate) fn cut_mask(&self, text: &str) -> Option<Vec<bool>> {
        self.mask_of(text, 0)
    }

    /// [`Scrubber::cut_mask`] for the values of at least `min_len` (folded) characters.
    fn mask_of(&self, text: &str, min_len: usize) -> Option<Vec<bool>> {
        if self.is_empty() || text.is_empty() {
            return None;
        }
        // Composed or decomposed, the text is compared in one form (see `fold`).
        let folded = fold(text);
        let hay = folded.text.as_bytes();
        let mut cut: Option<Vec<bool>> = None;
        let mut mark = |p: usize, start: usize, end: usize| {
            if self.chars.get(p).is_some_and(|n| *n < min_len) {
                return;
            }
            let Some(b) = self.bounds.get(p) else {
                return;
            };
            if !bounded(hay, start, end, *b) || continues(&folded.text, end) {
                return;
            }
            let flags = cut.get_or_insert_with(|| vec![false; folded.chars]);
            for o in folded.origin.get(start..end).unwrap_or_default() {
                for f in flags.get_mut(o.clone()).unwrap_or_default() {
                    *f = true;
                }
            }
        };
        self.text.for_each_match(hay, &mut mark);
        cut
    }

    /// `text` with the characters flagged in `cut` removed.
    fn without(text: &str, cut: &[bool]) -> String {
        text.chars()
            .zip(cut)
            .filter(|(_, c)| !**c)
            .map(|(ch, _)| ch)
            .collect()
    }

    /// `text` with every value cut out, or `None` if none occurs. Cutting is repeated until
    /// nothing matches (`MüllMüllerer` loses `Müller`, and then the `Müller` left behind).
    pub(crate) fn clean_text(&self, text: &str) -> Option<String> {
        to_fixed_point(text, |t| {
            self.cut_mask(t).map(|cut| Scrubber::without(t, &cut))
        })
    }

    /// A Code String value (CS, nearly always a defined term such as `CT` or `PRIMARY`) with the
    /// values cut out, or `None` if none occurs. A valid code string (upper-case letters,
    /// digits, space and underscore) loses values of [`LONG_CODE_NEEDLE`] characters or more
    /// wherever they occur, and shorter ones of at least [`MIN_CODE_WORD`] characters only as
    /// whole words (between spaces and underscores): cutting `MARY` out of `PRIMARY`, or the
    /// two-letter name part `CT` out of the Modality `CT`, would break the code without hiding
    /// anybody. A value that is one word of letters equal to a value as a whole is such a
    /// defined term and stays. A value that is no valid code string (lower case, punctuation:
    /// free text in a CS attribute) is cleaned as any text.
    pub(crate) fn clean_code(&self, value: &str, terms: Terms) -> Option<String> {
        to_fixed_point(value, |v| self.clean_code_once(v, terms))
    }

    /// One pass of [`Scrubber::clean_code`].
    fn clean_code_once(&self, value: &str, terms: Terms) -> Option<String> {
        if value.contains('\\') {
            // Several values in one string: each is a code of its own.
            let parts: Vec<Option<String>> = value
                .split('\\')
                .map(|v| self.clean_code_once(v, terms))
                .collect();
            if parts.iter().all(Option::is_none) {
                return None;
            }
            return Some(
                value
                    .split('\\')
                    .zip(parts)
                    .map(|(v, cut)| cut.unwrap_or_else(|| v.to_string()))
                    .collect::<Vec<_>>()
                    .join("\\"),
            );
        }
        if !is_code(value) || value.is_empty() {
            return self
                .cut_mask(value)
                .map(|cut| Scrubber::without(value, &cut));
        }
        let whole = value.trim_matches([' ', '_']);
        if terms == Terms::Keep
            && whole.bytes().all(|b| b.is_ascii_uppercase())
            && self.is_value(&fold_str(whole))
        {
            // One word, equal to an identifier as a whole: a defined term that coincides with
            // a name (`PERFUSION`, `HEAD`), as the PHI audit judges it; cutting it would break
            // the code without hiding anybody.
            return None;
        }
        let mut changed = false;
        let mut text = value.to_string();
        if let Some(mask) = self.mask_of(&text, LONG_CODE_NEEDLE) {
            text = Scrubber::without(&text, &mask);
            changed = true;
        }
        let is_identifier = |word: &str| {
            let folded = fold_str(word);
            folded.chars().count() >= MIN_CODE_WORD && self.is_value(&folded)
        };
        // Whole words, each with the separator that preceded it (all ASCII).
        let mut out = String::with_capacity(text.len());
        let mut sep: Option<char> = None;
        let mut word = String::new();
        let mut flush = |word: &mut String, sep: Option<char>, out: &mut String| {
            if is_identifier(word) {
                changed = true;
            } else {
                if !out.is_empty()
                    && let Some(c) = sep
                {
                    out.push(c);
                }
                out.push_str(word);
            }
            word.clear();
        };
        for c in text.chars() {
            if c == ' ' || c == '_' {
                flush(&mut word, sep, &mut out);
                sep = Some(c);
            } else {
                word.push(c);
            }
        }
        flush(&mut word, sep, &mut out);
        changed.then(|| out.trim_matches([' ', '_']).to_string())
    }

    fn bytes(&self) -> Option<&Bytes> {
        self.bytes
            .get_or_init(|| {
                let mut patterns: Vec<Vec<u8>> = Vec::new();
                let mut bounds = Vec::new();
                let mut seen: HashSet<Vec<u8>> = HashSet::new();
                for s in &self.sources {
                    for sp in identity::byte_spellings(&s.text) {
                        let key = sp.bytes.to_ascii_lowercase();
                        if !seen.insert(key) {
                            continue;
                        }
                        bounds.push(if sp.escaped {
                            Boundary::Digits
                        } else {
                            boundary_of(s.uid, sp.bytes.len())
                        });
                        patterns.push(sp.bytes);
                    }
                }
                Some(Bytes {
                    set: NeedleSet::new(patterns, true),
                    bounds,
                })
            })
            .as_ref()
    }

    /// Overwrites every encoded value in `bytes` with zero bytes; returns whether any was
    /// found. ASCII letters match case-insensitively. Repeated until nothing matches: zeroing
    /// one value can leave another between word boundaries that it was glued to before.
    pub(crate) fn clean_bytes(&self, bytes: &mut [u8]) -> bool {
        if self.is_empty() {
            return false;
        }
        let Some(search) = self.bytes() else {
            return false;
        };
        let mut found = false;
        // Each pass zeroes at least one byte that was not zero (no spelling holds a zero
        // byte), so the passes end; the bound only guards the time hostile input can take.
        for _ in 0..MAX_PASSES {
            let mut ranges = Vec::new();
            search.set.for_each_match(bytes, |p, start, end| {
                let b = search.bounds.get(p).copied().unwrap_or(Boundary::Word);
                if bounded(bytes, start, end, b) {
                    ranges.push(start..end);
                }
            });
            if ranges.is_empty() {
                return found;
            }
            for r in &ranges {
                if let Some(s) = bytes.get_mut(r.clone()) {
                    s.fill(0);
                }
            }
            found = true;
        }
        // Still matching after that many passes: nothing of it can be trusted.
        bytes.fill(0);
        true
    }
}

/// How many times cutting is repeated on one value at most (see [`to_fixed_point`]).
const MAX_PASSES: usize = 32;

/// Applies `cut` (one pass of cutting, `None` when nothing matches) to its own result until
/// nothing matches; `None` if the first pass found nothing. Each pass shortens the text, so the
/// passes end; a value that still matches after [`MAX_PASSES`] (values nested in each other on
/// purpose, `MüllMüllMüllererer...`) becomes empty.
pub(crate) fn to_fixed_point(text: &str, cut: impl Fn(&str) -> Option<String>) -> Option<String> {
    let mut current = cut(text)?;
    for _ in 1..MAX_PASSES {
        match cut(&current) {
            Some(next) => current = next,
            None => return Some(current),
        }
    }
    Some(String::new())
}

/// What becomes of a code string value that is one word equal to a value to cut as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Terms {
    /// Kept: a defined term that coincides with a name (the safety net beyond the table).
    Keep,
    /// Cut: a rule says C, and C leaves no value of the run's in the text.
    Cut,
}

/// Whether a CS value is a valid code string (upper-case letters, digits, space, underscore;
/// several values separated by backslashes).
pub(crate) fn is_code(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || matches!(b, b' ' | b'_' | b'\\'))
}

#[cfg(test)]
mod tests;
