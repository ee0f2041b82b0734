//! Which spellings of a person name name the whole person: the whole value, or one whole
//! component group of it, with at least two words (`Lee Ann`, `Lee^Ann`, `山田 太郎`), as
//! opposed to a part (a family name, a given name, one word of a hyphenated name).
//!
//! The difference matters where a part is expected by chance: a kept equipment attribute
//! (`verdict`) holds vendor and product words, so a single name word there (`Toshiba`, a
//! patient's family name that is also a coil's) is a coincidence, while a person's full name
//! in a ReceiveCoilName (`Lee Ann coil`) is not a product: it is a leak.

use std::collections::HashSet;

use anon_core::identity::name_texts;

/// The texts of `value` (a person name) among those [`name_texts`] spells that name the whole
/// person: the whole value and each component group (`=`), as given, with spaces, by its
/// family, given and middle names only, and (non-ASCII) those written together, when the
/// value or group holds at least two words (split on `^` and spaces).
pub(crate) fn full_names(value: &str) -> HashSet<String> {
    let trim = |t: &str| {
        t.trim_matches(|c: char| c.is_whitespace() || c == '.' || c == ',')
            .to_string()
    };
    let words = |s: &str| -> Vec<String> {
        s.split(['^', ' '])
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect()
    };
    let mut wholes: Vec<String> = Vec::new();
    let groups = value
        .split('=')
        .map(|g| g.trim_matches(|c: char| c == '^' || c.is_whitespace()));
    for whole in std::iter::once(value.trim()).chain(groups) {
        let all = words(whole);
        if all.len() < 2 {
            continue;
        }
        wholes.push(trim(whole));
        wholes.push(trim(&all.join(" ")));
        // By the family, given and middle names alone: a full name only with two of them
        // (`Smith^^^Dr` names `Smith`, one word).
        let names: Vec<&str> = whole.split('^').take(3).collect();
        let named = words(&names.join("^"));
        if named.len() >= 2 {
            wholes.push(trim(&named.join(" ")));
            if !whole.is_ascii() {
                wholes.push(trim(&named.concat()));
            }
        }
    }
    let texts: HashSet<String> = name_texts(value).into_iter().collect();
    wholes
        .into_iter()
        .filter(|w| !w.is_empty() && texts.contains(w))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(value: &str) -> Vec<String> {
        let mut v: Vec<String> = full_names(value).into_iter().collect();
        v.sort();
        v
    }

    #[test]
    fn a_full_name_has_two_words_and_a_part_is_no_full_name() {
        assert_eq!(sorted("Lee^Ann"), ["Lee Ann", "Lee^Ann"]);
        assert_eq!(sorted("Dr. floral field"), ["Dr. floral field"]);
        assert!(sorted("Smith").is_empty());
        assert!(sorted("Smith^").is_empty());
        assert_eq!(sorted("Smith^^^Dr"), ["Smith Dr", "Smith^^^Dr"]);
        let yamada = sorted("Yamada^Tarou=山田^太郎");
        for t in [
            "Yamada^Tarou",
            "Yamada Tarou",
            "山田^太郎",
            "山田 太郎",
            "山田太郎",
        ] {
            assert!(yamada.iter().any(|y| y == t), "{t}: {yamada:?}");
        }
        assert!(!yamada.iter().any(|y| y == "山田" || y == "Yamada"));
        let long = sorted("Müller-Lüdenscheidt^Hans-Jürgen^Friedrich^Dr.");
        assert!(
            long.iter()
                .any(|y| y == "Müller-Lüdenscheidt Hans-Jürgen Friedrich")
        );
        assert!(
            !long
                .iter()
                .any(|y| y == "Müller-Lüdenscheidt" || y == "Hans-Jürgen")
        );
    }
}
