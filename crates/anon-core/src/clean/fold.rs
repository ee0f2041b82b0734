//! Text as cleaning compares it: case-folded and in Unicode normalisation form C, each byte
//! knowing which characters of the original it came from.
//!
//! The same name reaches the engine composed (`Müller`, U+00FC, as most systems write it) or
//! decomposed (`Mu` U+0308 `ller`, as macOS writes file names and some keyboards type), and a
//! Korean name as Hangul syllables or as conjoining jamo. Both spellings are one name, so the
//! values to cut and the text they are cut from are compared in one form: lower-cased
//! character by character (final sigma read as sigma, sharp s as "ss"), canonically
//! decomposed and reordered, then canonically composed (UAX #15). A character of the folded
//! text may come from several of the original (a letter and its combining mark), so a cut
//! removes all of them.

use std::ops::Range;

use unicode_normalization::char::{
    canonical_combining_class, compose, decompose_canonical, is_combining_mark,
};
use unicode_normalization::{IsNormalized, is_nfc_quick};

/// Text folded for matching (see the module doc).
#[derive(Debug, Default)]
pub(crate) struct Folded {
    /// The folded text.
    pub(crate) text: String,
    /// For each byte of `text`, the characters of the original (by index) it came from.
    pub(crate) origin: Vec<Range<usize>>,
    /// How many characters the original has.
    pub(crate) chars: usize,
}

/// One character on its way to the folded text, with the original characters it came from.
#[derive(Debug, Clone)]
struct Unit {
    c: char,
    from: Range<usize>,
}

/// The lower-case of one character for matching: full lower-casing, with the final sigma read
/// as sigma and sharp s as "ss" (so "ΠΑΠΑΔΌΠΟΥΛΟΣ" finds "Παπαδόπουλος" and "WEISS" finds
/// "Weiß"). One character may give several.
fn lower(c: char, mut out: impl FnMut(char)) {
    match c {
        'ß' | 'ẞ' => {
            out('s');
            out('s');
        }
        'ς' => out('σ'),
        _ if c.is_ascii() => out(c.to_ascii_lowercase()),
        _ => c
            .to_lowercase()
            .for_each(|l| out(if l == 'ς' { 'σ' } else { l })),
    }
}

/// Folds `text` (see the module doc).
pub(crate) fn fold(text: &str) -> Folded {
    if text.is_ascii() {
        return Folded {
            text: text.to_ascii_lowercase(),
            origin: (0..text.len()).map(|i| i..i + 1).collect(),
            chars: text.len(),
        };
    }
    if is_nfc_quick(text.chars()) == IsNormalized::Yes {
        // Composed already (nearly all text): lower-cased character by character, which keeps
        // it composed but in rare cases that the slow way below handles.
        let mut out = Folded {
            text: String::with_capacity(text.len()),
            origin: Vec::with_capacity(text.len()),
            chars: 0,
        };
        for (i, c) in text.chars().enumerate() {
            lower(c, |l| {
                out.text.push(l);
                out.origin
                    .extend(std::iter::repeat_n(i..i + 1, l.len_utf8()));
            });
            out.chars = i + 1;
        }
        if is_nfc_quick(out.text.chars()) == IsNormalized::Yes {
            return out;
        }
    }
    fold_slowly(text)
}

/// [`fold`] the long way, for any text: lower-cased, canonically decomposed, reordered and
/// composed.
fn fold_slowly(text: &str) -> Folded {
    // Lower-cased and canonically decomposed.
    let mut units: Vec<Unit> = Vec::with_capacity(text.len());
    let mut chars = 0;
    for (i, c) in text.chars().enumerate() {
        lower(c, |l| {
            decompose_canonical(l, |d| {
                units.push(Unit {
                    c: d,
                    from: i..i + 1,
                })
            })
        });
        chars = i + 1;
    }
    reorder(&mut units);
    let units = compose_all(units);
    let mut out = Folded {
        text: String::with_capacity(text.len()),
        origin: Vec::with_capacity(text.len()),
        chars,
    };
    for u in units {
        out.text.push(u.c);
        out.origin
            .extend(std::iter::repeat_n(u.from.clone(), u.c.len_utf8()));
    }
    out
}

/// `text` folded, without the origins (for the values to cut).
pub(crate) fn fold_str(text: &str) -> String {
    fold(text).text
}

/// Canonical ordering: each run of combining characters sorted (stably) by combining class.
fn reorder(units: &mut [Unit]) {
    let mut i = 0;
    while i < units.len() {
        if canonical_combining_class(units[i].c) == 0 {
            i += 1;
            continue;
        }
        let start = i;
        while i < units.len() && canonical_combining_class(units[i].c) != 0 {
            i += 1;
        }
        if let Some(run) = units.get_mut(start..i)
            && run.len() > 1
        {
            run.sort_by_key(|u| canonical_combining_class(u.c));
        }
    }
}

/// Canonical composition of decomposed, reordered text: each character joins the last
/// starter before it when nothing between blocks it and the pair has a primary composite.
fn compose_all(units: Vec<Unit>) -> Vec<Unit> {
    let mut out: Vec<Unit> = Vec::with_capacity(units.len());
    let mut starter: Option<usize> = None;
    let mut last_class = 0u8;
    for u in units {
        let class = canonical_combining_class(u.c);
        if let Some(s) = starter {
            let adjacent = s + 1 == out.len();
            let blocked = !adjacent && (last_class == 0 || last_class >= class);
            if !blocked
                && let Some(first) = out.get_mut(s)
                && let Some(composite) = compose(first.c, u.c)
            {
                first.c = composite;
                first.from = first.from.start.min(u.from.start)..first.from.end.max(u.from.end);
                continue;
            }
        }
        if class == 0 {
            starter = Some(out.len());
        }
        last_class = class;
        out.push(u);
    }
    out
}

/// Whether the character starting at `hay[at..]` continues the one before it: a combining
/// mark, or a conjoining Hangul vowel or final consonant. A match that ends just before such a
/// character ends inside a different letter (`Mu` is not in `Mü`).
pub(crate) fn continues(hay: &str, at: usize) -> bool {
    hay.get(at..)
        .and_then(|rest| rest.chars().next())
        .is_some_and(|c| {
            !c.is_ascii()
                && (is_combining_mark(c)
                    || matches!(u32::from(c), 0x1160..=0x11FF | 0xD7B0..=0xD7FF))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composed_and_decomposed_text_fold_alike() {
        assert_eq!(fold_str("Mu\u{308}ller"), fold_str("MÜLLER"));
        assert_eq!(fold_str("Müller"), "müller");
        // Korean as conjoining jamo and as syllables.
        assert_eq!(fold_str("\u{1112}\u{1169}\u{11BC}"), "홍");
        // Marks in either order are one letter.
        assert_eq!(fold_str("a\u{301}\u{323}"), fold_str("a\u{323}\u{301}"));
        assert_eq!(fold_str("WEISS"), fold_str("Weiß"));
    }

    #[test]
    fn composed_text_folds_the_quick_way_as_it_does_the_long_way() {
        for text in [
            "Müller",
            "ΠΑΠΑΔΌΠΟΥΛΟΣ Νίκος",
            "WEISS Weiß ẞ",
            "İstanbul IŞIK",
            "홍길동",
            "Ǆemal ǅ ǆ",
            "Ὰ ᾼ ῼ ΐ",
            "Ａｂｃ ﬃ Å Ω K",
            "山田^太郎=やまだ^たろう",
            "Mu\u{308}ller a\u{301}\u{323}",
            "\u{1112}\u{1169}\u{11BC}",
        ] {
            let quick = fold(text);
            let slow = fold_slowly(text);
            assert_eq!(quick.text, slow.text, "{text}");
            assert_eq!(quick.origin, slow.origin, "{text}");
            assert_eq!(quick.chars, slow.chars, "{text}");
        }
    }

    #[test]
    fn each_byte_knows_its_original_characters() {
        let f = fold("Mu\u{308}x");
        assert_eq!(f.text, "müx");
        assert_eq!(f.chars, 4);
        // ü (two bytes) came from u and its mark.
        assert_eq!(f.origin, vec![0..1, 1..3, 1..3, 3..4]);
        let f = fold("ẞa");
        assert_eq!(f.text, "ssa");
        assert_eq!(f.origin, vec![0..1, 0..1, 1..2]);
    }

    #[test]
    fn a_match_before_a_mark_ends_inside_a_letter() {
        let hay = "q\u{308}r";
        assert!(continues(hay, 1));
        assert!(!continues(hay, 3));
        assert!(!continues("ab", 1));
        assert!(!continues("ab", 5));
    }
}
