//! Placeholders: the values other de-identification tools leave where a patient's value was
//! (`Anonymized`, `^^^^`, `XXXXXXX`). They identify nobody, so neither the audit searches them
//! nor cleaning cuts them.

/// Placeholder phrases, as upper-case words (see [`is_placeholder`]).
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

/// Whether a word is masked: one character repeated (`XXXX`, `000000000`), or an initial and
/// one letter repeated at least four times (`Jsssss`); letters compared whatever their case.
fn is_masked(word: &str) -> bool {
    if word.is_ascii() {
        let b = word.as_bytes();
        let same = |x: &u8, y: &u8| x.eq_ignore_ascii_case(y);
        return match b {
            [first, second, rest @ ..] => {
                (b.len() >= 3 && same(first, second) && rest.iter().all(|c| same(c, first)))
                    || (b.len() >= 5
                        && second.is_ascii_alphabetic()
                        && rest.iter().all(|c| same(c, second)))
            }
            _ => false,
        };
    }
    let mut chars = word.chars().flat_map(char::to_uppercase);
    let (Some(first), Some(second)) = (chars.next(), chars.next()) else {
        return false;
    };
    let (mut n, mut all_same, mut rest_same) = (2, first == second, true);
    for c in chars {
        n += 1;
        all_same &= c == first;
        rest_same &= c == second;
    }
    (n >= 3 && all_same) || (n >= 5 && second.is_alphabetic() && rest_same)
}

/// Whether `text` identifies nobody: a de-identification placeholder.
///
/// Data that went through another de-identification tool carries that tool's placeholders
/// where the patient's values were: a PatientName `Anonymized` or `Anonymous`, an
/// InstitutionName `*NO INFO NO INFO*`, a physician `^^^^`, an ID `N/A`. The list is short and
/// explicit on purpose: words whose only use in a name or ID field is to say that the value
/// was removed, and the template words of a form left unfilled (`NAME^PATIENT^NAME`,
/// `Last Name^First Name`). Real-looking names (`Test`, `Smith`, `Doe`) are never on it. Two
/// shapes are placeholders too: a value with no letter or digit (`^^^^`, `***`), and a masked
/// one, whose words are one character repeated (`XXXXXXX`, `000000000`) or a kept initial and
/// one letter repeated (`Jsssss`). Neither the audit searches a placeholder nor the engine
/// cuts one out of text. Words are split on anything that is neither a letter, a digit nor
/// `/` (which `N/A` keeps), and compared whatever their (ASCII) case.
pub fn is_placeholder(text: &str) -> bool {
    let mut words = text
        .split(|c: char| !(c.is_alphanumeric() || c == '/'))
        .filter(|w| !w.is_empty())
        .peekable();
    while let Some(word) = words.next() {
        if is_masked(word) {
            continue;
        }
        let mut matched = false;
        for p in PLACEHOLDERS {
            if !p[0].eq_ignore_ascii_case(word) {
                continue;
            }
            match p.get(1) {
                None => matched = true,
                Some(second) if words.peek().is_some_and(|w| second.eq_ignore_ascii_case(w)) => {
                    words.next();
                    matched = true;
                }
                Some(_) => {}
            }
            if matched {
                break;
            }
        }
        if !matched {
            return false;
        }
    }
    true
}
