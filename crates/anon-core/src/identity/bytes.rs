//! The byte spellings of a text in every character set DICOM defines (and Shift JIS): what
//! cleaning zeroes in binary values and the audit searches in files.

use super::texts::{is_single_cjk, spelling_variants};

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
    /// A UTF-8 or ISO 8859-1 spelling (of any case variant and normalisation form): the
    /// spellings worth looking for where random bytes are (pixel data), since text written
    /// into pixels or a JPEG comment by a program is nearly always in one of these two.
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

/// Every byte spelling of one text: its case variants (as given, upper, lower, title) in
/// both Unicode normalisation forms (see [`spelling_variants`]), composed ones in every
/// character set DICOM defines that can encode them (UTF-8, ISO 8859-1 to -9, TIS 620, GB18030
/// and GBK, the G1 bytes of ISO 2022 IR 58, IR 149 and IR 87 with and without their escape
/// sequence, JIS X 0201 katakana) and Shift JIS, which files from some Japanese systems use
/// although DICOM does not define it; decomposed ones in UTF-8, the one character set that
/// holds combining marks as written.
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
    for (v, composed) in spelling_variants(text) {
        let v = v.as_str();
        push(v.as_bytes().to_vec(), false, true, false);
        if let Some(l) = v
            .chars()
            .map(|c| u8::try_from(u32::from(c)).ok())
            .collect::<Option<Vec<u8>>>()
        {
            push(l, false, true, false);
        }
        if v.is_ascii() || !composed {
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
