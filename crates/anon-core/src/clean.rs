//! Cleaning (action C, and the safety net beyond the table): cutting the subject's own
//! identifiers (name parts, IDs, birth date, accession number, caller-supplied extras) out of
//! text wherever they appear, case-insensitively, on decoded strings (so ISO_IR 100, ISO_IR 192
//! and other character sets are handled alike), and out of binary values byte-wise.

/// Identifiers shorter than this (in characters) are not cut: a single letter would shred
/// every text. Two-letter name parts (e.g. "Li") are cut.
const MIN_CHARS: usize = 2;

/// A compiled set of identifiers to cut out of values.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scrubber {
    /// Lower-cased identifiers as characters, longest first.
    needles: Vec<Vec<char>>,
    /// Byte encodings (UTF-8 and ISO 8859-1, as given, lower- and upper-case), longest first.
    byte_needles: Vec<Vec<u8>>,
}

fn fold(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

fn latin1(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

impl Scrubber {
    /// Compiles `identifiers` (blank and one-letter ones are ignored).
    pub(crate) fn new<'a>(identifiers: impl IntoIterator<Item = &'a str>) -> Scrubber {
        let mut needles: Vec<Vec<char>> = Vec::new();
        let mut byte_needles: Vec<Vec<u8>> = Vec::new();
        for id in identifiers {
            let id = id.trim();
            if id.chars().count() < MIN_CHARS {
                continue;
            }
            let folded: Vec<char> = id.chars().map(fold).collect();
            if !needles.contains(&folded) {
                needles.push(folded);
            }
            for form in [id.to_string(), id.to_lowercase(), id.to_uppercase()] {
                let mut encodings = vec![form.as_bytes().to_vec()];
                if let Some(l1) = latin1(&form) {
                    encodings.push(l1);
                }
                for enc in encodings {
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

    /// `text` with every identifier cut out, or `None` if none occurs.
    pub(crate) fn clean_text(&self, text: &str) -> Option<String> {
        if self.needles.is_empty() || text.is_empty() {
            return None;
        }
        let chars: Vec<char> = text.chars().collect();
        let folded: Vec<char> = chars.iter().copied().map(fold).collect();
        let mut cut = vec![false; chars.len()];
        let mut any = false;
        for needle in &self.needles {
            if needle.len() > folded.len() {
                continue;
            }
            let mut i = 0;
            while i + needle.len() <= folded.len() {
                if folded.get(i..i + needle.len()) == Some(needle.as_slice()) {
                    for flag in cut.iter_mut().skip(i).take(needle.len()) {
                        *flag = true;
                    }
                    any = true;
                    i += needle.len();
                } else {
                    i += 1;
                }
            }
        }
        if !any {
            return None;
        }
        Some(
            chars
                .iter()
                .zip(cut)
                .filter(|(_, c)| !c)
                .map(|(ch, _)| *ch)
                .collect(),
        )
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
    }
}
