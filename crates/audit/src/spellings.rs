//! The byte spellings of a value as the audit searches them: a name part by part, a date in
//! the spellings people write, every text in every character set DICOM defines that can
//! encode it and in its case variants (anon-core's identity model), each with the boundary
//! rule it must satisfy. Placeholders are not searched.

use anon_core::identity::{self, date_texts, is_placeholder, name_texts};

use crate::boundary::Boundary;
use crate::full_name::full_names;
use crate::needle::{LONG_NEEDLE, MIN_NEEDLE, Needle, ValueKind};
use crate::verdict::Spelled;

/// One byte spelling of a needle before it becomes a [`Pattern`].
#[derive(Debug, Clone)]
pub(crate) struct Spelling {
    pub(crate) bytes: Vec<u8>,
    pub(crate) boundary: Boundary,
    /// See [`Pattern::spelled`].
    pub(crate) spelled: Spelled,
    pub(crate) exact: bool,
    pub(crate) confirm: bool,
    /// UTF-8 or Latin-1 spelling of the value as given: also searched in pixel data when long.
    pub(crate) pixel: bool,
}

/// A spelling's bytes as the automaton holds them: ASCII lower-case unless exact.
pub(crate) fn search_bytes(s: &Spelling) -> Vec<u8> {
    if s.exact {
        s.bytes.clone()
    } else {
        s.bytes.to_ascii_lowercase()
    }
}

/// A value as it is spelled: without the white space, NULs, carets and equals signs around it.
pub(crate) fn trimmed(value: &str) -> &str {
    value.trim_matches(|c: char| c.is_whitespace() || c == '\0' || c == '^' || c == '=')
}

/// Every byte spelling of a needle with its boundary rule. A name, ID or text that is a
/// de-identification placeholder (`Anonymized`, `NO INFO`, `^^^^`; see [`is_placeholder`]) is
/// not searched, nor is a placeholder part of a name.
pub(crate) fn spellings_of(n: &Needle) -> Vec<Spelling> {
    let value = trimmed(&n.value);
    if value.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    match n.kind {
        // A placeholder name is skipped whole, with all its parts (`Last Name^First Name`).
        ValueKind::PersonName if is_placeholder(value) => {}
        ValueKind::PersonName => {
            let full = full_names(value);
            for t in name_texts(value) {
                if !is_placeholder(&t) {
                    let spelled = if full.contains(&t) {
                        Spelled::FullName
                    } else {
                        Spelled::Text
                    };
                    encode_text(&t, spelled, &mut out);
                }
            }
        }
        ValueKind::Identifier | ValueKind::Text if is_placeholder(value) => {}
        ValueKind::Identifier | ValueKind::Text => encode_text(value, Spelled::Text, &mut out),
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

pub(crate) fn push_ascii(
    out: &mut Vec<Spelling>,
    text: String,
    boundary: Boundary,
    spelled: Spelled,
) {
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

/// Every spelling of one text (`spelled`: what it spells): its case variants in every
/// character set DICOM defines that can encode them ([`identity::byte_spellings`], the
/// engine's own), with the audit's boundary rules.
pub(crate) fn encode_text(text: &str, spelled: Spelled, out: &mut Vec<Spelling>) {
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
            spelled,
            confirm: single_cjk && !sp.escaped,
            pixel: sp.common && !single_cjk,
            exact,
            bytes: sp.bytes,
        });
    }
}
