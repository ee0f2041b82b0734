//! Where a match may begin and end: the boundary rules that keep a value from being found
//! inside a longer number, word or UID.

use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Boundary {
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

/// Whether `hay[r]` is not part of a longer number: where it begins (ends) with an ASCII
/// digit, the byte before (after) is not one.
pub(crate) fn digit_bounded(hay: &[u8], r: Range<usize>) -> bool {
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
pub(crate) fn word_bounded(hay: &[u8], r: Range<usize>) -> bool {
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
pub(crate) fn after_escape(hay: &[u8], pos: usize) -> bool {
    let intermediate = |i: usize| hay.get(i).is_some_and(|b| (0x20..=0x2F).contains(b));
    let esc = |i: usize| hay.get(i) == Some(&0x1B);
    (pos >= 3 && esc(pos - 3) && intermediate(pos - 2))
        || (pos >= 4 && esc(pos - 4) && intermediate(pos - 3) && intermediate(pos - 2))
}

pub(crate) fn is_word(b: Option<u8>) -> bool {
    b.is_some_and(|b| b.is_ascii_alphanumeric())
}

pub(crate) fn is_uid_char(b: Option<u8>) -> bool {
    b.is_some_and(|b| b.is_ascii_digit() || b == b'.')
}
