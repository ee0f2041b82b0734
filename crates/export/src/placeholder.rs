//! Identifying values that are not: de-identification placeholders.
//!
//! Data that went through another de-identification tool before it reached the archive carries
//! that tool's placeholders where the patient's values were: a PatientName `Anonymized` or
//! `Anonymous`, an InstitutionName `*NO INFO NO INFO*`, a physician `^^^^`, an ID `N/A`. The
//! archive indexes them like any value, and searching for them would report depot's own dummy
//! `ANONYMIZED` and every other tool's placeholder as a leak of that "patient's name". A
//! placeholder identifies nobody, so the audit does not search for it.
//!
//! The list is short and explicit on purpose: words whose only use in a name or ID field is to
//! say that the value was removed, and the template words of a form left unfilled
//! (`NAME^PATIENT^NAME`, `Last Name^First Name`). Real-looking names (`Test`, `Smith`, `Doe`)
//! are never on it, whatever the test data says: a patient may really be called that. Two
//! shapes are placeholders too: a value made only of punctuation (`^^^^`, `***`), which has
//! nothing to identify anyone with, and a masked one, whose words are one character repeated
//! (`XXXXXXX`, `000000000`, `11111111`) or a kept initial and one letter repeated (`Jsssss`):
//! masks like these also match runs of identical bytes in pixel data everywhere. A name is
//! searched part by part, so `Doe^Anonymous` is still searched whole and as `Doe`; only the
//! part `Anonymous` is skipped.

/// Placeholder phrases, as upper-case words (see [`words`]).
const PLACEHOLDERS: [&[&str]; 21] = [
    &["ANONYMIZED"],
    &["ANONYMISED"],
    &["ANONYMOUS"],
    &["ANONYMIZE"],
    &["ANON"],
    &["DEIDENTIFIED"],
    &["DE", "IDENTIFIED"],
    &["REDACTED"],
    &["REMOVED"],
    &["NO", "INFO"],
    &["NO", "NAME"],
    &["N/A"],
    &["NONE"],
    &["NULL"],
    &["UNKNOWN"],
    &["NOT", "AVAILABLE"],
    &["PATIENT"],
    &["NAME"],
    &["LAST", "NAME"],
    &["FIRST", "NAME"],
    &["FAMILY", "NAME"],
];

/// The words of a value: upper-cased, split on anything that is neither a letter, a digit nor
/// `/` (which `N/A` keeps).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '/'))
        .filter(|w| !w.is_empty())
        .map(str::to_uppercase)
        .collect()
}

/// Whether a word is masked: one character repeated (`XXXX`, `000000000`), or an initial and
/// one letter repeated at least four times (`Jsssss`).
fn is_masked(word: &str) -> bool {
    let chars: Vec<char> = word.chars().collect();
    let same = |c: &[char]| c.windows(2).all(|w| w[0] == w[1]);
    (chars.len() >= 3 && same(&chars))
        || (chars.len() >= 5 && chars[1].is_alphabetic() && same(&chars[1..]))
}

/// Whether `text` identifies nobody: it has no letter or digit at all, or it is made only of
/// placeholder phrases (`Anonymized`, `ANONYMOUS^ANONYMOUS`, `*NO INFO NO INFO* NO INFO`) and
/// masked words (`Sssssss^Jsssss`).
pub(crate) fn is_placeholder(text: &str) -> bool {
    let words = words(text);
    let mut rest: &[String] = &words;
    while !rest.is_empty() {
        if is_masked(&rest[0]) {
            rest = &rest[1..];
            continue;
        }
        let Some(p) = PLACEHOLDERS
            .iter()
            .find(|p| rest.len() >= p.len() && rest.iter().zip(p.iter()).all(|(w, p)| w == p))
        else {
            return false;
        };
        rest = &rest[p.len()..];
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_seen_in_real_data_are_recognised() {
        for p in [
            "Anonymized",
            "ANONYMOUS",
            "Anonymous^Anonymous",
            "*NO INFO NO INFO*      NO INFO",
            "^^^^",
            "N/A",
            "n/a",
            "---",
            "De-identified",
            "",
            "NAME^PATIENT^NAME",
            "Last Name^First Name",
            "Sssssss^Jsssss",
            "000000000",
            "11111111",
            "XXXXXXXX",
        ] {
            assert!(is_placeholder(p), "{p:?}");
        }
    }

    #[test]
    fn names_and_ids_are_never_placeholders() {
        for v in [
            "Test",
            "Smith",
            "Doe^Anonymous",
            "Anonymized Smith",
            "NO INFO 1234567",
            "Nona",
            "Anna",
            "王",
            "4711",
            "Noinfo",
            "Patient^Smith",
            "A0000000",
            "Bob",
            "Anna",
            "Otto",
            "11111112",
            "Aaron",
        ] {
            assert!(!is_placeholder(v), "{v:?}");
        }
    }
}
