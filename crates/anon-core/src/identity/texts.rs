//! The texts that count as one value: a name whole and part by part, a date in the ways people
//! write it, and the case variants of a text.

use unicode_normalization::{UnicodeNormalization, is_nfc};

use super::attributes::ValueKind;
use super::placeholder::is_placeholder;

/// The texts of one value that count as the same value: a name whole and part by part, a
/// date in its written spellings, anything else as it is. Trimmed; a placeholder (see
/// [`is_placeholder`]) and a placeholder part of a name give nothing.
pub fn texts_of(kind: ValueKind, value: &str) -> Vec<String> {
    let value =
        value.trim_matches(|c: char| c.is_whitespace() || c == '\0' || c == '^' || c == '=');
    if value.is_empty() || (kind != ValueKind::Uid && is_placeholder(value)) {
        return Vec::new();
    }
    match kind {
        ValueKind::PersonName => name_texts(value)
            .into_iter()
            .filter(|t| !is_placeholder(t))
            .collect(),
        ValueKind::Date => date_texts(value),
        _ => vec![value.to_string()],
    }
}

/// A date as people write it: `YYYYMMDD`, `YYYY-MM-DD`, `YYYY.MM.DD`, `YYYY/MM/DD`,
/// `DD.MM.YYYY`, `MM/DD/YYYY`, `DD/MM/YYYY` (a DT gives its date). A value that is not eight
/// digits is given as it is.
pub fn date_texts(value: &str) -> Vec<String> {
    let digits: String = value.chars().filter(char::is_ascii_digit).collect();
    let digits = if digits.len() > 8 && value.len() >= 8 && value.is_char_boundary(8) {
        // A DT: its date.
        value[..8].to_string()
    } else {
        digits
    };
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return vec![value.to_string()];
    }
    let (y, rest) = digits.split_at(4);
    let (m, d) = rest.split_at(2);
    let join = |a: &str, sep: char, b: &str, c: &str| {
        let mut t = String::with_capacity(10);
        t.push_str(a);
        t.push(sep);
        t.push_str(b);
        t.push(sep);
        t.push_str(c);
        t
    };
    vec![
        join(y, '-', m, d),
        join(y, '.', m, d),
        join(y, '/', m, d),
        join(d, '.', m, y),
        join(m, '/', d, y),
        join(d, '/', m, y),
        digits,
    ]
}

/// A person name whole (as given and with spaces), each component group, the group written
/// together (CJK names are), and the family, given and middle name of each group, each also
/// split into its words and the parts of a hyphenated or apostrophed name
/// (`Schulz-Brandenburger`, `O'Neill`). Prefixes and suffixes (`Dr`, `Prof`, `Jr`) are titles,
/// not names: cutting them would shred unrelated text.
pub fn name_texts(value: &str) -> Vec<String> {
    let mut texts: Vec<String> = Vec::new();
    let mut push = |t: &str| {
        let t = t.trim_matches(|c: char| c.is_whitespace() || c == '.' || c == ',');
        if !t.is_empty() && !texts.iter().any(|x| x == t) {
            texts.push(t.to_string());
        }
    };
    fn spaced(s: &str) -> Vec<&str> {
        s.split(['^', ' ']).filter(|p| !p.is_empty()).collect()
    }
    let named = |group: &str| -> String { group.split('^').take(3).collect::<Vec<_>>().join("^") };
    push(value);
    push(&spaced(value).join(" "));
    for group in value.split('=') {
        let whole = group.trim_matches(|c: char| c == '^' || c.is_whitespace());
        push(whole);
        push(&spaced(whole).join(" "));
        let names = named(whole);
        push(&spaced(&names).join(" "));
        if !whole.is_ascii() {
            push(&spaced(&names).concat());
        }
        for component in whole.split('^').take(3) {
            push(component);
            for part in component.split([' ', '-', ',', '\'', '’']) {
                push(part);
            }
        }
    }
    texts
}

/// Whether a character belongs to a script whose single characters are meaningful names
/// (Han ideographs, Hangul, kana).
pub fn is_cjk(c: char) -> bool {
    matches!(u32::from(c),
        0x1100..=0x11FF | 0x3040..=0x30FF | 0x3130..=0x318F | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFF66..=0xFF9F
        | 0x20000..=0x3FFFF)
}

/// Whether `text` is one CJK character (a whole surname such as 王 or 홍).
pub fn is_single_cjk(text: &str) -> bool {
    let mut chars = text.chars();
    matches!((chars.next(), chars.next()), (Some(c), None) if is_cjk(c))
}

/// The text as given, upper-case, lower-case and title-case (full Unicode case mapping); an
/// ASCII text only as given (ASCII case is folded where it is searched).
pub fn case_variants(text: &str) -> Vec<String> {
    if text.is_ascii() {
        return vec![text.to_string()];
    }
    let mut title = String::with_capacity(text.len());
    let mut start = true;
    for c in text.chars() {
        if start {
            title.extend(c.to_uppercase());
        } else {
            title.extend(c.to_lowercase());
        }
        start = !c.is_alphanumeric();
    }
    let mut out = vec![text.to_string()];
    for v in [text.to_uppercase(), text.to_lowercase(), title] {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// The text in its Unicode normalisation forms: composed (NFC, how most systems write `Müller`)
/// first, then decomposed (NFD, how macOS writes it: `Mu` U+0308 `ller`), then as given if it
/// is neither; an ASCII text only as given (it has one form).
pub fn normal_forms(text: &str) -> Vec<String> {
    if text.is_ascii() {
        return vec![text.to_string()];
    }
    let mut out = vec![text.nfc().collect::<String>()];
    for form in [text.nfd().collect::<String>(), text.to_string()] {
        if !out.contains(&form) {
            out.push(form);
        }
    }
    out
}

/// The spellings of a text that differ only in case or normalisation: the case variants
/// ([`case_variants`]) of each normalisation form ([`normal_forms`]), composed ones first.
/// Each comes with whether it is composed (NFC): only a composed text has a spelling in the
/// character sets other than UTF-8 (they have no combining marks, or encode them apart).
pub fn spelling_variants(text: &str) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = Vec::new();
    for form in normal_forms(text) {
        for v in case_variants(&form) {
            if !out.iter().any(|(x, _)| *x == v) {
                let composed = is_nfc(&v);
                out.push((v, composed));
            }
        }
    }
    out
}
