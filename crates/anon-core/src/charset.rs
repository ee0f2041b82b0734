//! Text in data sets that use ISO 2022 code extensions (PS3.3 C.12.1.1.2, PS3.5 6.1.2.5):
//! Specific Character Set with several values, such as `\ISO 2022 IR 87` (Japanese) or
//! `ISO 2022 IR 6\ISO 2022 IR 149` (Korean), where escape sequences switch character sets
//! inside a value.
//!
//! dicom-rs 0.10 decodes text with the *first* value of Specific Character Set only, so such
//! values reach the engine as one ISO 8859-1 character per byte (or as Shift JIS when the first
//! value is ISO 2022 IR 13): escape sequences and the bytes of multi-byte characters included.
//! Cutting a name out of that would cut bytes that merely look like the name's bytes, and the
//! `^` and `=` bytes inside a Japanese character would split a name in the wrong places. This
//! module decodes such a value properly, remembers which bytes each character came from, and
//! re-encodes a value with some characters cut out by dropping exactly their bytes (escape
//! sequences stay, so the value remains valid in its own encoding).

use std::ops::Range;

use encoding_rs::Encoding;

/// A character set that can be designated into G0 (bytes below 0x80).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum G0 {
    /// ISO 646 / ASCII (ISO-IR 6), or JIS X 0201 Romaji (ISO-IR 14), read as ASCII.
    Ascii,
    /// JIS X 0208 (ISO-IR 87): two bytes per character.
    Jis0208,
    /// JIS X 0212 (ISO-IR 159): two bytes per character.
    Jis0212,
}

/// A character set that can be designated into G1 (bytes from 0x80).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum G1 {
    /// A 96-character single-byte set (ISO 8859 parts, TIS 620), decoded by this encoding.
    Single(&'static Encoding),
    /// JIS X 0201 Katakana (ISO-IR 13).
    Katakana,
    /// KS X 1001 (ISO-IR 149): two bytes per character.
    Ksx1001,
    /// GB 2312 (ISO-IR 58): two bytes per character.
    Gb2312,
}

/// How the text of one data set is encoded, when it uses ISO 2022 code extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CodeExtensions {
    g0: G0,
    g1: Option<G1>,
    /// dicom-rs decoded the bytes as Shift JIS (first value ISO 2022 IR 13), not ISO 8859-1.
    read_as_shift_jis: bool,
}

/// A value decoded with its code extensions.
#[derive(Debug, Clone)]
pub(crate) struct Decoded {
    /// The text, escape sequences removed.
    pub(crate) text: String,
    /// For each character of `text`, the bytes it came from.
    spans: Vec<Range<usize>>,
    /// The value's bytes.
    bytes: Vec<u8>,
    read_as_shift_jis: bool,
}

/// The 96-character single-byte sets: defined term, final byte of the escape sequence that
/// designates the set into G1 (`ESC - F`), and how encoding_rs decodes its upper half.
const SINGLE_BYTE_SETS: [(&str, u8, &Encoding); 10] = [
    ("ISO 2022 IR 100", b'A', encoding_rs::WINDOWS_1252),
    ("ISO 2022 IR 101", b'B', encoding_rs::ISO_8859_2),
    ("ISO 2022 IR 109", b'C', encoding_rs::ISO_8859_3),
    ("ISO 2022 IR 110", b'D', encoding_rs::ISO_8859_4),
    ("ISO 2022 IR 144", b'L', encoding_rs::ISO_8859_5),
    ("ISO 2022 IR 127", b'G', encoding_rs::ISO_8859_6),
    ("ISO 2022 IR 126", b'F', encoding_rs::ISO_8859_7),
    ("ISO 2022 IR 138", b'H', encoding_rs::ISO_8859_8),
    ("ISO 2022 IR 148", b'M', encoding_rs::WINDOWS_1254),
    ("ISO 2022 IR 166", b'T', encoding_rs::WINDOWS_874),
];

fn single(code: &str) -> Option<G1> {
    SINGLE_BYTE_SETS
        .iter()
        .find(|(term, _, _)| *term == code)
        .map(|(_, _, enc)| G1::Single(enc))
}

impl CodeExtensions {
    /// From the values of Specific Character Set (empty values kept in place). `None` when the
    /// data set uses no code extensions, so dicom-rs's own decoding is right.
    pub(crate) fn from_values(values: &[String]) -> Option<CodeExtensions> {
        let values: Vec<&str> = values.iter().map(|v| v.trim()).collect();
        if values.len() < 2 || !values.iter().skip(1).any(|v| v.starts_with("ISO 2022")) {
            return None;
        }
        let first = values.first().copied().unwrap_or_default();
        let (g1, read_as_shift_jis) = match first {
            "" | "ISO 2022 IR 6" => (None, false),
            "ISO 2022 IR 13" => (Some(G1::Katakana), true),
            code => match single(code) {
                Some(g1) => (Some(g1), false),
                // A first value dicom-rs reads with another decoder: leave such data alone.
                None => return None,
            },
        };
        Some(CodeExtensions {
            g0: G0::Ascii,
            g1,
            read_as_shift_jis,
        })
    }

    /// The value's bytes, recovered from the string dicom-rs decoded.
    fn bytes_of(&self, read: &str) -> Option<Vec<u8>> {
        if self.read_as_shift_jis {
            let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(read);
            return (!unmappable).then(|| bytes.into_owned());
        }
        read.chars()
            .map(|c| u8::try_from(u32::from(c)).ok())
            .collect()
    }

    /// The string dicom-rs makes of a value's bytes in such a data set (one character per byte,
    /// or Shift JIS): how a value read some other way (a standard attribute encoded as UN) is
    /// brought to the form the rest of the engine reads and [`CodeExtensions::decode`] takes.
    pub(crate) fn as_read(&self, bytes: &[u8]) -> String {
        read_as(bytes, self.read_as_shift_jis)
    }

    /// Decodes one value (as dicom-rs read it) into text, each character with its bytes.
    pub(crate) fn decode(&self, read: &str) -> Option<Decoded> {
        let bytes = self.bytes_of(read)?;
        Some(self.decode_bytes(bytes))
    }

    /// Decodes one value's bytes into text, each character with its bytes.
    fn decode_bytes(&self, bytes: Vec<u8>) -> Decoded {
        let mut text = String::new();
        let mut spans = Vec::new();
        let (mut g0, mut g1) = (self.g0, self.g1);
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            if b == 0x1B
                && let Some((len, set)) = escape(bytes.get(i..).unwrap_or_default())
            {
                match set {
                    Designation::G0(s) => g0 = s,
                    Designation::G1(s) => g1 = Some(s),
                }
                i += len;
                continue;
            }
            let (len, c) = if b < 0x80 {
                match g0 {
                    G0::Ascii => (1, char::from(b)),
                    _ if b < 0x21 || b == 0x7F => (1, char::from(b)),
                    G0::Jis0208 => pair(&bytes, i, |a, b| {
                        decode_char(encoding_rs::EUC_JP, &[a | 0x80, b | 0x80])
                    }),
                    G0::Jis0212 => pair(&bytes, i, |a, b| {
                        decode_char(encoding_rs::EUC_JP, &[0x8F, a | 0x80, b | 0x80])
                    }),
                }
            } else {
                match g1 {
                    None => (1, char::from(b)),
                    Some(G1::Single(enc)) => (1, decode_char(enc, &[b])),
                    Some(G1::Katakana) => (1, decode_char(encoding_rs::EUC_JP, &[0x8E, b])),
                    Some(G1::Ksx1001) => {
                        pair(&bytes, i, |a, b| decode_char(encoding_rs::EUC_KR, &[a, b]))
                    }
                    Some(G1::Gb2312) => {
                        pair(&bytes, i, |a, b| decode_char(encoding_rs::GBK, &[a, b]))
                    }
                }
            };
            // Delimiters return to the initial sets (PS3.5 6.1.2.5.3).
            if len == 1 && matches!(b, b'^' | b'=' | b'\\' | b'\r' | b'\n' | b'\t' | 0x0C) {
                g0 = self.g0;
                g1 = self.g1;
            }
            text.push(c);
            spans.push(i..i + len);
            i += len;
        }
        Decoded {
            text,
            spans,
            bytes,
            read_as_shift_jis: self.read_as_shift_jis,
        }
    }
}

/// A text that still holds ISO 2022 escape sequences, as the characters it encodes. Read one
/// character per byte (as dicom-rs reads a data set whose first Specific Character Set value
/// is empty or `ISO 2022 IR 6`, and as an index that stored such a value undecoded holds
/// `Yamada^Tarou=山田^太郎`), it is decoded; read otherwise (a single-valued `ISO 2022 IR 149`
/// or `ISO 2022 IR 58`, which dicom-rs decodes as EUC-KR or GBK, leaving the escape sequences
/// in the text), the escape sequences are dropped.
pub(crate) fn without_escapes(read: &str) -> String {
    let plain = CodeExtensions {
        g0: G0::Ascii,
        g1: None,
        read_as_shift_jis: false,
    };
    if let Some(d) = plain.decode(read) {
        return d.text;
    }
    let mut out = String::with_capacity(read.len());
    let mut chars = read.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        // ESC, intermediate bytes 0x20..=0x2F, one final byte 0x30..=0x7E (ISO 2022 6.3).
        while chars
            .next_if(|c| ('\u{20}'..='\u{2f}').contains(c))
            .is_some()
        {}
        chars.next_if(|c| ('\u{30}'..='\u{7e}').contains(c));
    }
    out
}

/// The string dicom-rs makes of bytes it decodes one character per byte, or as Shift JIS.
fn read_as(bytes: &[u8], shift_jis: bool) -> String {
    if shift_jis {
        encoding_rs::SHIFT_JIS
            .decode_without_bom_handling(bytes)
            .0
            .into_owned()
    } else {
        bytes.iter().copied().map(char::from).collect()
    }
}

/// One character of two bytes at `i`, or the replacement character for a lone byte.
fn pair(bytes: &[u8], i: usize, f: impl Fn(u8, u8) -> char) -> (usize, char) {
    match (bytes.get(i), bytes.get(i + 1)) {
        (Some(&a), Some(&b)) => (2, f(a, b)),
        _ => (1, char::REPLACEMENT_CHARACTER),
    }
}

fn decode_char(enc: &'static Encoding, bytes: &[u8]) -> char {
    let (text, _) = enc.decode_without_bom_handling(bytes);
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => c,
        _ => char::REPLACEMENT_CHARACTER,
    }
}

#[derive(Clone, Copy)]
enum Designation {
    G0(G0),
    G1(G1),
}

/// The escape sequence at the start of `b` (PS3.3 Tables C.12-3 and C.12-4): its length and
/// what it designates.
fn escape(b: &[u8]) -> Option<(usize, Designation)> {
    if let [0x1B, b'-', f, ..] = b {
        return SINGLE_BYTE_SETS
            .iter()
            .find(|(_, final_byte, _)| final_byte == f)
            .map(|(_, _, enc)| (3, Designation::G1(G1::Single(enc))));
    }
    let multi: [(&[u8], Designation); 7] = [
        (b"\x1b(B", Designation::G0(G0::Ascii)),
        (b"\x1b(J", Designation::G0(G0::Ascii)),
        (b"\x1b$B", Designation::G0(G0::Jis0208)),
        (b"\x1b$(D", Designation::G0(G0::Jis0212)),
        (b"\x1b)I", Designation::G1(G1::Katakana)),
        (b"\x1b$)C", Designation::G1(G1::Ksx1001)),
        (b"\x1b$)A", Designation::G1(G1::Gb2312)),
    ];
    multi
        .iter()
        .find(|(s, _)| b.starts_with(s))
        .map(|(s, d)| (s.len(), *d))
}

impl Decoded {
    /// The value with the characters flagged in `cut` removed (their bytes dropped, escape
    /// sequences kept), as a string dicom-rs will write back to the same bytes.
    pub(crate) fn without(&self, cut: &[bool]) -> String {
        let mut drop = vec![false; self.bytes.len()];
        for (span, &c) in self.spans.iter().zip(cut) {
            if c {
                for d in drop.iter_mut().skip(span.start).take(span.len()) {
                    *d = true;
                }
            }
        }
        let kept: Vec<u8> = self
            .bytes
            .iter()
            .zip(drop)
            .filter(|(_, d)| !d)
            .map(|(b, _)| *b)
            .collect();
        read_as(&kept, self.read_as_shift_jis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latin1(bytes: &[u8]) -> String {
        bytes.iter().copied().map(char::from).collect()
    }

    fn ext(values: &[&str]) -> CodeExtensions {
        CodeExtensions::from_values(&values.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("code extensions")
    }

    #[test]
    fn single_values_need_no_help() {
        for v in [&["ISO_IR 100"][..], &["ISO_IR 192"], &[]] {
            let v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
            assert_eq!(CodeExtensions::from_values(&v), None);
        }
    }

    #[test]
    fn japanese_names_decode_and_cut_by_their_bytes() {
        // PS3.5 H.3.1: Yamada^Tarou=山田^太郎=やまだ^たろう
        let pn: &[u8] =
            b"Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B=\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B";
        let e = ext(&["", "ISO 2022 IR 87"]);
        let d = e.decode(&latin1(pn)).expect("decoded");
        assert_eq!(d.text, "Yamada^Tarou=山田^太郎=やまだ^たろう");
        // Cut 山田: its four bytes go, the escape sequences stay.
        let cut: Vec<bool> = d
            .text
            .chars()
            .enumerate()
            .map(|(i, _)| i == 13 || i == 14)
            .collect();
        let out = d.without(&cut);
        let again = e.decode(&out).expect("decoded");
        assert_eq!(again.text, "Yamada^Tarou=^太郎=やまだ^たろう");
        assert!(out.contains("\x1b$B\x1b(B"));
    }

    #[test]
    fn korean_in_g1_decodes() {
        // PS3.5 H.3.2: Hong^Gildong=洪^吉洞=홍^길동, KS X 1001 in G1.
        let pn: &[u8] = b"Hong^Gildong=\x1b$)C\xfb\xf3^\x1b$)C\xd1\xce\xd4\xd7=\x1b$)C\xc8\xab^\x1b$)C\xb1\xe6\xb5\xbf";
        let d = ext(&["", "ISO 2022 IR 149"])
            .decode(&latin1(pn))
            .expect("decoded");
        assert_eq!(d.text, "Hong^Gildong=洪^吉洞=홍^길동");
    }

    #[test]
    fn single_byte_sets_by_defined_term_and_by_escape() {
        // First value Latin-1 in G1; an escape switches G1 to Cyrillic (ISO-IR 144).
        let e = ext(&["ISO 2022 IR 100", "ISO 2022 IR 144"]);
        let d = e
            .decode(&latin1(b"M\xfcller \x1b-L\xb8\xd2\xd0\xdd"))
            .expect("decoded");
        assert_eq!(d.text, "Müller Иван");
    }

    #[test]
    fn escaped_text_read_either_way_loses_its_escape_sequences() {
        // Read one character per byte: decoded.
        assert_eq!(
            without_escapes(&latin1(
                b"Hong^Gildong=\x1b$)C\xc8\xab^\x1b$)C\xb1\xe6\xb5\xbf"
            )),
            "Hong^Gildong=홍^길동"
        );
        // Read as EUC-KR (a single-valued ISO 2022 IR 149): the escapes dropped.
        assert_eq!(without_escapes("\u{1b}$)C홍^\u{1b}$)C길동"), "홍^길동");
        assert_eq!(without_escapes("plain"), "plain");
    }

    #[test]
    fn unknown_bytes_never_panic() {
        let e = ext(&["ISO 2022 IR 6", "ISO 2022 IR 87"]);
        let d = e.decode(&latin1(b"\x1b$B\x7f\x21")).expect("decoded");
        assert_eq!(
            d.without(&vec![false; d.text.chars().count()]),
            latin1(b"\x1b$B\x7f\x21")
        );
        assert!(e.decode("\u{4e00}").is_none(), "not a byte string");
    }
}
