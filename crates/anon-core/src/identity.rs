//! The identity model: which attributes identify a person, what kind of value each holds, and
//! how a value of each kind is spelled, in text and in bytes.
//!
//! One model for the three places that must agree on it: the engine's cleaning (action C cuts
//! these values and their spellings out of kept text), the export's list of a subject's
//! identifying values, and the PHI audit, which searches the package for the same spellings.
//! A spelling the engine does not cut but the audit searches would be a finding in every
//! package; one the audit does not search would be a leak nobody sees.

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::{StandardDataDictionary, tags};
use serde::Serialize;

/// What kind of identifying value a value is: decides its spellings and how it is bounded
/// when searched in text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ValueKind {
    /// A person name (PN): spelled whole and part by part (see [`name_texts`]).
    PersonName,
    /// An identifier (PatientID, accession number, serial number, telephone number, ...).
    Identifier,
    /// A date (DA, or the date of a DT): spelled as `YYYYMMDD`, `YYYY-MM-DD`, `YYYY.MM.DD`,
    /// `YYYY/MM/DD`, `DD.MM.YYYY`, `MM/DD/YYYY` and `DD/MM/YYYY` (see [`date_texts`]).
    Date,
    /// A UID: bounded by UID characters (never inside a longer UID).
    Uid,
    /// Other free text (institution, department, station, address, ...).
    Text,
}

/// One attribute of the subject's own identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdentityAttribute {
    /// The attribute.
    pub tag: Tag,
    /// Its keyword, shown in findings.
    pub label: &'static str,
    /// The kind of value it holds.
    pub kind: ValueKind,
}

const fn attr(tag: Tag, label: &'static str, kind: ValueKind) -> IdentityAttribute {
    IdentityAttribute { tag, label, kind }
}

/// OtherPatientIDs (0010,1000), retired.
pub const OTHER_PATIENT_IDS: Tag = Tag(0x0010, 0x1000);
/// MedicalRecordLocator (0010,1090), retired.
pub const MEDICAL_RECORD_LOCATOR: Tag = Tag(0x0010, 0x1090);

/// The subject's identifying attributes of a data set's top level: the values the engine
/// cuts from every cleaned text of the subject's files (the subject's context), and that the
/// export hands to the audit as the subject's values. The PatientIDs of
/// OtherPatientIDsSequence items count too ([`subject_values`]).
pub const SUBJECT_ATTRIBUTES: [IdentityAttribute; 11] = [
    attr(tags::PATIENT_NAME, "PatientName", ValueKind::PersonName),
    attr(
        tags::PATIENT_BIRTH_NAME,
        "PatientBirthName",
        ValueKind::PersonName,
    ),
    attr(
        tags::PATIENT_MOTHER_BIRTH_NAME,
        "PatientMotherBirthName",
        ValueKind::PersonName,
    ),
    attr(
        tags::OTHER_PATIENT_NAMES,
        "OtherPatientNames",
        ValueKind::PersonName,
    ),
    attr(tags::PATIENT_ID, "PatientID", ValueKind::Identifier),
    attr(OTHER_PATIENT_IDS, "OtherPatientIDs", ValueKind::Identifier),
    attr(
        tags::ACCESSION_NUMBER,
        "AccessionNumber",
        ValueKind::Identifier,
    ),
    attr(
        MEDICAL_RECORD_LOCATOR,
        "MedicalRecordLocator",
        ValueKind::Identifier,
    ),
    attr(
        tags::PATIENT_TELEPHONE_NUMBERS,
        "PatientTelephoneNumbers",
        ValueKind::Identifier,
    ),
    attr(tags::PATIENT_ADDRESS, "PatientAddress", ValueKind::Text),
    attr(
        tags::PATIENT_BIRTH_DATE,
        "PatientBirthDate",
        ValueKind::Date,
    ),
];

/// The patient's own attributes: [`SUBJECT_ATTRIBUTES`] plus IssuerOfPatientID and
/// OtherPatientIDsSequence. At `anonymize`, which keeps everything but a few attributes on
/// purpose, the audit searches only these.
pub const PATIENT_ATTRIBUTES: [Tag; 12] = [
    tags::PATIENT_NAME,
    tags::PATIENT_BIRTH_NAME,
    tags::PATIENT_MOTHER_BIRTH_NAME,
    tags::OTHER_PATIENT_NAMES,
    tags::PATIENT_BIRTH_DATE,
    tags::PATIENT_ID,
    tags::ISSUER_OF_PATIENT_ID,
    OTHER_PATIENT_IDS,
    tags::OTHER_PATIENT_I_DS_SEQUENCE,
    MEDICAL_RECORD_LOCATOR,
    tags::PATIENT_TELEPHONE_NUMBERS,
    tags::PATIENT_ADDRESS,
];

/// Attributes of a text VR that hold identifiers rather than free text (the rest of a text
/// VR is [`ValueKind::Text`]): the difference is only the label a finding shows; both are
/// spelled and bounded alike.
fn is_identifier(tag: Tag) -> bool {
    let keyword = StandardDataDictionary
        .by_tag(tag)
        .map(|e| e.alias())
        .unwrap_or("");
    keyword.ends_with("ID")
        || keyword.ends_with("IDs")
        || keyword.ends_with("Number")
        || keyword.ends_with("Numbers")
        || keyword.ends_with("Locator")
}

/// The kind of identifying value an attribute of VR `vr` holds, or `None` when its values
/// cannot identify anyone by themselves and would shred text if cut out of it: code strings
/// (`YES`, `M`, `HEAD`), ages, numbers, times and binary values.
pub fn kind_of(tag: Tag, vr: VR) -> Option<ValueKind> {
    match vr {
        VR::PN => Some(ValueKind::PersonName),
        VR::UI => Some(ValueKind::Uid),
        VR::DA | VR::DT => Some(ValueKind::Date),
        VR::AE | VR::LO | VR::SH | VR::ST | VR::LT | VR::UT | VR::UC | VR::UR => {
            Some(if is_identifier(tag) {
                ValueKind::Identifier
            } else {
                ValueKind::Text
            })
        }
        _ => None,
    }
}

/// The attribute's keyword (`fallback` for private or unknown attributes).
pub fn label_of(tag: Tag, fallback: &'static str) -> &'static str {
    StandardDataDictionary
        .by_tag(tag)
        .map(|e| e.alias())
        .unwrap_or(fallback)
}

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

/// One byte spelling of a text in a character set DICOM defines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByteSpelling {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The bytes must match as they are (ASCII case not folded): multi-byte encodings whose
    /// trail bytes may be ASCII letters, and ISO 2022 forms.
    pub exact: bool,
    /// The bytes start with an ISO 2022 escape sequence (specific enough to need no boundary).
    pub escaped: bool,
    /// UTF-8 or ISO 8859-1 spelling of the text as given (not a case variant): the spellings
    /// worth looking for where random bytes are (pixel data).
    pub common: bool,
}

/// ISO 8859 parts and TIS 620 by their Specific Character Set terms (ISO 8859-9 and TIS 620 as
/// their Windows supersets, which encode the same characters with the same bytes).
static SINGLE_BYTE: [&encoding_rs::Encoding; 9] = [
    encoding_rs::ISO_8859_2,   // ISO_IR 101
    encoding_rs::ISO_8859_3,   // ISO_IR 109
    encoding_rs::ISO_8859_4,   // ISO_IR 110
    encoding_rs::ISO_8859_5,   // ISO_IR 144
    encoding_rs::ISO_8859_6,   // ISO_IR 127
    encoding_rs::ISO_8859_7,   // ISO_IR 126
    encoding_rs::ISO_8859_8,   // ISO_IR 138
    encoding_rs::WINDOWS_1254, // ISO_IR 148
    encoding_rs::WINDOWS_874,  // ISO_IR 166
];

/// `text` in an encoding, if every character has a spelling in it.
fn encoded(enc: &'static encoding_rs::Encoding, text: &str) -> Option<Vec<u8>> {
    let (bytes, _, errors) = enc.encode(text);
    (!errors).then(|| bytes.into_owned())
}

/// Whether every non-ASCII character of `text` takes two bytes of 0xA1..=0xFE in `bytes`
/// (a 94×94 set invoked into G1: KS X 1001, GB 2312, JIS X 0208 in EUC form).
fn all_g1_pairs(text: &str, bytes: &[u8]) -> bool {
    let wide = text.chars().filter(|c| !c.is_ascii()).count();
    let high: Vec<u8> = bytes.iter().copied().filter(|b| *b >= 0x80).collect();
    high.len() == wide * 2 && high.iter().all(|b| (0xA1..=0xFE).contains(b))
}

/// Every byte spelling of one text: its case variants in every character set DICOM defines
/// that can encode them (UTF-8, ISO 8859-1 to -9, TIS 620, GB18030 and GBK, the G1 bytes of
/// ISO 2022 IR 58, IR 149 and IR 87 with and without their escape sequence, JIS X 0201
/// katakana), and Shift JIS, which files from some Japanese systems use although DICOM does
/// not define it.
pub fn byte_spellings(text: &str) -> Vec<ByteSpelling> {
    let single_cjk = is_single_cjk(text);
    let mut out: Vec<ByteSpelling> = Vec::new();
    let mut push = |bytes: Vec<u8>, exact: bool, common: bool, escaped: bool| {
        if bytes.is_empty() {
            return;
        }
        if let Some(s) = out
            .iter_mut()
            .find(|s| s.bytes == bytes && s.exact == exact && s.escaped == escaped)
        {
            s.common |= common;
            return;
        }
        out.push(ByteSpelling {
            bytes,
            exact,
            escaped,
            common,
        });
    };
    for (i, v) in case_variants(text).iter().enumerate() {
        let as_given = i == 0;
        push(v.as_bytes().to_vec(), false, as_given, false);
        if let Some(l) = v
            .chars()
            .map(|c| u8::try_from(u32::from(c)).ok())
            .collect::<Option<Vec<u8>>>()
        {
            push(l, false, as_given, false);
        }
        if v.is_ascii() {
            continue;
        }
        for enc in SINGLE_BYTE {
            if let Some(b) = encoded(enc, v) {
                push(b, false, false, false);
            }
        }
        // GB18030, GBK and Shift JIS: trail bytes may be ASCII letters, so exact.
        for enc in [
            encoding_rs::GB18030,
            encoding_rs::GBK,
            encoding_rs::SHIFT_JIS,
        ] {
            if let Some(b) = encoded(enc, v) {
                push(b, true, false, false);
            }
        }
        // ISO 2022 IR 58 (GB 2312), IR 149 (KS X 1001) and EUC-JP: the EUC bytes, invoked
        // into G1 after `ESC $ ) A` / `ESC $ ) C`.
        for (enc, esc) in [
            (encoding_rs::GBK, Some(b"\x1b$)A")),
            (encoding_rs::EUC_KR, Some(b"\x1b$)C")),
            (encoding_rs::EUC_JP, None),
        ] {
            if let Some(b) = encoded(enc, v).filter(|b| all_g1_pairs(v, b)) {
                if let (true, Some(esc)) = (single_cjk, esc) {
                    let mut e = esc.to_vec();
                    e.extend_from_slice(&b);
                    push(e, true, false, true);
                }
                push(b, true, false, false);
            }
        }
        // ISO 2022 IR 87 (JIS X 0208): seven-bit pairs after `ESC $ B`, with and without it.
        if v.chars().all(|c| !c.is_ascii())
            && let Some(b) = encoded(encoding_rs::EUC_JP, v).filter(|b| all_g1_pairs(v, b))
        {
            let seven: Vec<u8> = b.iter().map(|x| x & 0x7F).collect();
            let mut e = b"\x1b$B".to_vec();
            e.extend_from_slice(&seven);
            push(e, true, false, true);
            if !single_cjk {
                push(seven, true, false, false);
            }
        }
        // ISO_IR 13 (JIS X 0201): half-width katakana, one byte each.
        if let Some(b) = encoded(encoding_rs::SHIFT_JIS, v).filter(|b| {
            b.iter().filter(|x| **x >= 0x80).count() == v.chars().filter(|c| !c.is_ascii()).count()
                && b.iter().all(|x| *x < 0x80 || (0xA1..=0xDF).contains(x))
        }) {
            push(b, false, false, false);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Placeholders

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
            "Otto",
            "11111112",
            "Aaron",
        ] {
            assert!(!is_placeholder(v), "{v:?}");
        }
    }

    #[test]
    fn names_are_spelled_whole_and_part_by_part_without_titles() {
        let t = name_texts("Schulz-Brandenburger^Anna Maria^^Dr^Jr");
        for want in [
            "Schulz-Brandenburger^Anna Maria^^Dr^Jr",
            "Schulz-Brandenburger",
            "Schulz",
            "Brandenburger",
            "Anna Maria",
            "Anna",
            "Maria",
        ] {
            assert!(t.iter().any(|x| x == want), "{want} in {t:?}");
        }
        assert!(!t.iter().any(|x| x == "Dr" || x == "Jr"), "{t:?}");
        assert!(name_texts("O'Neill^Sean").iter().any(|x| x == "Neill"));
        assert!(name_texts("山田^太郎").iter().any(|x| x == "山田太郎"));
    }

    #[test]
    fn dates_and_kinds() {
        assert_eq!(date_texts("19650312").len(), 7);
        assert!(date_texts("20200315101010").contains(&"15.03.2020".to_string()));
        assert_eq!(
            kind_of(tags::OPERATORS_NAME, VR::PN),
            Some(ValueKind::PersonName)
        );
        assert_eq!(kind_of(tags::STUDY_ID, VR::SH), Some(ValueKind::Identifier));
        assert_eq!(
            kind_of(tags::INSTITUTION_NAME, VR::LO),
            Some(ValueKind::Text)
        );
        assert_eq!(kind_of(tags::PATIENT_SEX, VR::CS), None);
        assert_eq!(kind_of(tags::PATIENT_WEIGHT, VR::DS), None);
        assert!(texts_of(ValueKind::PersonName, "Anonymous^Smith").contains(&"Smith".into()));
        assert!(!texts_of(ValueKind::PersonName, "Anonymous^Smith").contains(&"Anonymous".into()));
        assert!(texts_of(ValueKind::Text, "NO INFO").is_empty());
    }

    #[test]
    fn byte_spellings_cover_dicom_character_sets() {
        let s = byte_spellings("Müller");
        assert!(s.iter().any(|b| b.bytes == b"M\xfcller" && b.common));
        assert!(s.iter().any(|b| b.bytes == "MÜLLER".as_bytes()));
        let s = byte_spellings("山田");
        assert!(s.iter().any(|b| b.bytes == b"\x8eR\x93c")); // Shift JIS
        assert!(s.iter().any(|b| b.bytes == b"\x1b$B;3ED")); // ISO 2022 IR 87
        assert!(s.iter().any(|b| b.bytes == b";3ED")); // its bytes without the escape
    }
}
