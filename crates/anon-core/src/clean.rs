//! Cleaning (action C, and the safety net beyond the table): cutting the subject's own
//! identifiers (name parts, IDs, birth date, accession number, caller-supplied extras) out of
//! text wherever they appear, case-insensitively, on decoded strings (so ISO_IR 100, ISO_IR 192
//! and other character sets are handled alike), and out of binary values byte-wise.

/// Identifiers shorter than this (in characters) are not cut: a single letter would shred
/// every text. Two-letter name parts (e.g. "Li") are cut, and so is a single character of a
/// script in which one character is a whole name (Chinese, Japanese, Korean: 王, 홍).
const MIN_CHARS: usize = 2;

/// Identifiers shorter than this are not cut out of code strings (see
/// [`Scrubber::clean_code`]): two letters are a modality or a code far more often than a name.
const MIN_CODE_WORD: usize = 3;

/// Identifiers at least this long are cut out of code strings wherever they occur (a name that
/// long inside a code word is no coincidence), as the PHI audit searches values that long
/// everywhere.
const LONG_CODE_NEEDLE: usize = 6;

/// Whether an identifier is long enough to be cut (see [`MIN_CHARS`]).
pub(crate) fn worth_cutting(id: &str) -> bool {
    let mut chars = id.chars();
    match (chars.next(), chars.next()) {
        (Some(_), Some(_)) => id.chars().count() >= MIN_CHARS,
        (Some(c), None) => is_ideographic(c),
        _ => false,
    }
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

/// A compiled set of identifiers to cut out of values.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scrubber {
    /// Case-folded identifiers as characters, longest first.
    needles: Vec<Vec<char>>,
    /// Byte encodings (UTF-8 and ISO 8859-1, as given, lower- and upper-case), longest first.
    byte_needles: Vec<Vec<u8>>,
}

/// Case folding for matching, character by character: full lower-casing, with the final
/// sigma read as sigma and sharp s as "ss" (so "ΠΑΠΑΔΌΠΟΥΛΟΣ" finds "Παπαδόπουλος" and "WEISS"
/// finds "Weiß"). One character may fold to several.
fn fold_into(c: char, out: &mut Vec<char>) {
    match c {
        'ß' | 'ẞ' => out.extend(['s', 's']),
        'ς' => out.push('σ'),
        _ => out.extend(c.to_lowercase().map(|l| if l == 'ς' { 'σ' } else { l })),
    }
}

fn fold_str(s: &str) -> Vec<char> {
    let mut out = Vec::with_capacity(s.len());
    for c in s.chars() {
        fold_into(c, &mut out);
    }
    out
}

fn latin1(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

/// The character sets DICOM defines (PS3.3 C.12.1.1.2) besides UTF-8 and ISO 8859-1, as far
/// as encoding_rs has them.
const CHARSETS: [&encoding_rs::Encoding; 13] = [
    encoding_rs::ISO_8859_2,
    encoding_rs::ISO_8859_3,
    encoding_rs::ISO_8859_4,
    encoding_rs::ISO_8859_5,
    encoding_rs::ISO_8859_6,
    encoding_rs::ISO_8859_7,
    encoding_rs::ISO_8859_8,
    encoding_rs::WINDOWS_1254,
    encoding_rs::WINDOWS_874,
    encoding_rs::SHIFT_JIS,
    encoding_rs::EUC_JP,
    encoding_rs::EUC_KR,
    encoding_rs::GB18030,
];

/// Every byte spelling of `s` in a DICOM character set (UTF-8, ISO 8859-1, the others that
/// can encode it, and the JIS X 0208 bytes that follow `ESC $ B` in ISO 2022 IR 87).
fn encodings(s: &str) -> Vec<Vec<u8>> {
    let mut out = vec![s.as_bytes().to_vec()];
    if s.is_ascii() {
        // ASCII is the same bytes in every one of them.
        return out;
    }
    out.extend(latin1(s));
    for cs in CHARSETS {
        let (bytes, _, unmappable) = cs.encode(s);
        if unmappable {
            continue;
        }
        // Only when every character is a two-byte JIS X 0208 one.
        if cs == encoding_rs::EUC_JP
            && bytes.len() == 2 * s.chars().count()
            && bytes.iter().all(|b| *b >= 0xA1)
        {
            out.push(bytes.iter().map(|b| b & 0x7F).collect());
        }
        out.push(bytes.into_owned());
    }
    out.sort();
    out.dedup();
    out
}

impl Scrubber {
    /// Compiles `identifiers` (blank and one-letter ones are ignored).
    pub(crate) fn new<'a>(identifiers: impl IntoIterator<Item = &'a str>) -> Scrubber {
        let mut needles: Vec<Vec<char>> = Vec::new();
        let mut byte_needles: Vec<Vec<u8>> = Vec::new();
        for id in identifiers {
            let id = id.trim();
            if !worth_cutting(id) {
                continue;
            }
            let folded = fold_str(id);
            if !needles.contains(&folded) {
                needles.push(folded);
            }
            for form in [id.to_string(), id.to_lowercase(), id.to_uppercase()] {
                for enc in encodings(&form) {
                    if !byte_needles.contains(&enc) {
                        byte_needles.push(enc);
                    }
                }
            }
        }
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        byte_needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        Scrubber {
            needles,
            byte_needles,
        }
    }

    /// Whether there is nothing to cut.
    pub(crate) fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// Which characters of `text` belong to an identifier (one flag per `char`), or `None` if
    /// none occurs.
    pub(crate) fn cut_mask(&self, text: &str) -> Option<Vec<bool>> {
        self.mask_of(text, 0)
    }

    /// [`Scrubber::cut_mask`] for the identifiers of at least `min_len` (folded) characters.
    fn mask_of(&self, text: &str, min_len: usize) -> Option<Vec<bool>> {
        if self.needles.is_empty() || text.is_empty() {
            return None;
        }
        // The folded text, and for each folded character the index of its original.
        let mut folded: Vec<char> = Vec::with_capacity(text.len());
        let mut origin: Vec<usize> = Vec::with_capacity(text.len());
        let mut n_chars = 0;
        for (i, c) in text.chars().enumerate() {
            let before = folded.len();
            fold_into(c, &mut folded);
            origin.extend(std::iter::repeat_n(i, folded.len() - before));
            n_chars = i + 1;
        }
        let mut cut = vec![false; n_chars];
        let mut any = false;
        for needle in &self.needles {
            if needle.len() > folded.len() || needle.len() < min_len {
                continue;
            }
            let mut i = 0;
            while i + needle.len() <= folded.len() {
                if folded.get(i..i + needle.len()) == Some(needle.as_slice()) {
                    for &o in origin.iter().skip(i).take(needle.len()) {
                        if let Some(flag) = cut.get_mut(o) {
                            *flag = true;
                        }
                    }
                    any = true;
                    i += needle.len();
                } else {
                    i += 1;
                }
            }
        }
        any.then_some(cut)
    }

    /// `text` with every identifier cut out, or `None` if none occurs.
    pub(crate) fn clean_text(&self, text: &str) -> Option<String> {
        let cut = self.cut_mask(text)?;
        Some(
            text.chars()
                .zip(cut)
                .filter(|(_, c)| !c)
                .map(|(ch, _)| ch)
                .collect(),
        )
    }

    /// A Code String value (CS, nearly always a defined term such as `CT` or `PRIMARY`) with the
    /// subject's identifiers cut out, or `None` if none occurs. A valid code string (upper-case
    /// letters, digits, space and underscore) loses identifiers of [`LONG_CODE_NEEDLE`]
    /// characters or more wherever they occur, and shorter ones of at least [`MIN_CODE_WORD`]
    /// characters only as whole words (between spaces and underscores): cutting `MARY` out of
    /// `PRIMARY`, or the two-letter name part `CT` out of the Modality `CT`, would break the
    /// code without hiding anybody. A value that is no valid code string (lower case,
    /// punctuation: free text in a CS attribute) is cleaned as any text.
    pub(crate) fn clean_code(&self, value: &str) -> Option<String> {
        if value.contains('\\') {
            // Several values in one string: each is a code of its own.
            let parts: Vec<Option<String>> =
                value.split('\\').map(|v| self.clean_code(v)).collect();
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
        let is_code = value
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ' || b == b'_');
        if !is_code {
            return self.clean_text(value);
        }
        let mut changed = false;
        let mut text = value.to_string();
        if let Some(mask) = self.mask_of(&text, LONG_CODE_NEEDLE) {
            text = text
                .chars()
                .zip(mask)
                .filter(|(_, cut)| !cut)
                .map(|(c, _)| c)
                .collect();
            changed = true;
        }
        let is_identifier = |word: &str| {
            let folded = fold_str(word);
            folded.len() >= MIN_CODE_WORD && self.needles.contains(&folded)
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

    /// Overwrites every encoded identifier in `bytes` with zero bytes; returns whether any was
    /// found. ASCII letters match case-insensitively.
    pub(crate) fn clean_bytes(&self, bytes: &mut [u8]) -> bool {
        let mut any = false;
        for needle in &self.byte_needles {
            let n = needle.len();
            if n == 0 || n > bytes.len() {
                continue;
            }
            let mut i = 0;
            while i + n <= bytes.len() {
                let hit = bytes
                    .get(i..i + n)
                    .is_some_and(|w| w.eq_ignore_ascii_case(needle));
                if hit {
                    for b in bytes.iter_mut().skip(i).take(n) {
                        *b = 0;
                    }
                    any = true;
                    i += n;
                } else {
                    i += 1;
                }
            }
        }
        any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_identifiers_case_insensitively_in_any_script() {
        let s = Scrubber::new(["Müller", "Hans", "12345", "X"]);
        assert_eq!(
            s.clean_text("Scan of MÜLLER hans, id 12345").as_deref(),
            Some("Scan of  , id ")
        );
        assert_eq!(s.clean_text("nothing here X"), None);
        assert!(Scrubber::new(["", " ", "A"]).is_empty());
    }

    #[test]
    fn case_folding_handles_final_sigma_sharp_s_and_single_ideographs() {
        let s = Scrubber::new(["ΠΑΠΑΔΌΠΟΥΛΟΣ", "Weiß", "王"]);
        assert_eq!(s.clean_text("Dr Παπαδόπουλος").as_deref(), Some("Dr "));
        assert_eq!(s.clean_text("ΠΑΠΑΔΌΠΟΥΛΟΣ.").as_deref(), Some("."));
        assert_eq!(
            s.clean_text("Herr WEISS, Frau weiss").as_deref(),
            Some("Herr , Frau ")
        );
        assert_eq!(s.clean_text("王小明").as_deref(), Some("小明"));
        let upper = Scrubber::new(["Παπαδόπουλος"]);
        assert_eq!(upper.clean_text("ΠΑΠΑΔΌΠΟΥΛΟΣ").as_deref(), Some(""));
        assert!(!worth_cutting("A") && worth_cutting("홍") && worth_cutting("Li"));
    }

    #[test]
    fn code_strings_lose_only_whole_identifying_words() {
        let s = Scrubber::new(["ZZZDOWNTIME^MARY", "MARY", "CT", "SMITH"]);
        assert_eq!(s.clean_code("PRIMARY"), None);
        assert_eq!(s.clean_code("CT"), None);
        assert_eq!(s.clean_code("SMITH_HEAD").as_deref(), Some("HEAD"));
        assert_eq!(s.clean_code("MARY").as_deref(), Some(""));
        assert_eq!(
            s.clean_code("HEAD SMITH NECK").as_deref(),
            Some("HEAD NECK")
        );
        // Long identifiers are cut anywhere; values that are no code are cleaned as text.
        let s = Scrubber::new(["HALVORSEN", "MARY"]);
        assert_eq!(s.clean_code("DRHALVORSEN_X").as_deref(), Some("DR_X"));
        assert_eq!(s.clean_code("mr,\"Halvorsen").as_deref(), Some("mr,\""));
        assert_eq!(s.clean_code("PRIMARY"), None);
    }

    #[test]
    fn cuts_encoded_identifiers_from_bytes() {
        let s = Scrubber::new(["Müller"]);
        let mut latin = b"xx M\xfcller yy".to_vec();
        assert!(s.clean_bytes(&mut latin));
        assert_eq!(&latin, b"xx \0\0\0\0\0\0 yy");
        let mut utf8 = "a MÜLLER b".as_bytes().to_vec();
        assert!(s.clean_bytes(&mut utf8));
        assert!(!String::from_utf8_lossy(&utf8).contains("LLER"));
        let mut clean = b"plain".to_vec();
        assert!(!s.clean_bytes(&mut clean));
        // Cyrillic in ISO 8859-5, Japanese in Shift JIS and as JIS X 0208 bytes.
        let s = Scrubber::new(["Иванов", "山田"]);
        let mut cyr = b"x \xb8\xd2\xd0\xdd\xde\xd2 y".to_vec();
        assert!(s.clean_bytes(&mut cyr));
        let mut sjis = b"a \x8eR\x93c b".to_vec();
        assert!(s.clean_bytes(&mut sjis));
        let mut jis = b"a \x1b$B;3ED\x1b(B b".to_vec();
        assert!(s.clean_bytes(&mut jis));
        assert_eq!(&jis, b"a \x1b$B\0\0\0\0\x1b(B b");
    }
}
