//! Whether the bytes of a value encoded as UN are a valid value of the VR the dictionary gives
//! its attribute, and those bytes re-encoded for that VR.
//!
//! A UN value keeps the bytes its attribute had in Implicit VR Little Endian (PS3.5 6.2.2), so
//! binary numbers are little endian even in an explicit VR big endian file: re-encoded for a
//! big endian data set, each number's bytes are swapped. Text keeps its bytes (in the data
//! set's character set); an odd length is padded as PS3.5 6.2 pads that VR (a space, a NUL for
//! UI). A value that breaks its VR's rules (PS3.5 Table 6.2-1: its character repertoire, the
//! length of each value where every character is one byte, the form of dates, numbers and
//! UIDs; a binary length that is no whole number of values) is not re-encoded: it stays UN,
//! which is always a valid encoding of any value.

use dicom_core::VR;

/// The value re-encoded for `vr` in a data set of the given byte order, or `None` when the
/// bytes are not a valid value of `vr` (the caller then keeps UN).
pub(crate) fn encode(vr: VR, bytes: &[u8], big_endian: bool) -> Option<Vec<u8>> {
    if let Some(unit) = binary_unit(vr) {
        if !bytes.len().is_multiple_of(unit) {
            return None;
        }
        let mut out = bytes.to_vec();
        if big_endian && unit > 1 {
            out.chunks_exact_mut(unit).for_each(<[u8]>::reverse);
        }
        return Some(out);
    }
    if !text_is_valid(vr, bytes) {
        return None;
    }
    let mut out = bytes.to_vec();
    if out.len() % 2 == 1 {
        out.push(if vr == VR::UI { 0 } else { b' ' });
    }
    Some(out)
}

/// The size of one value of a binary VR (1 for OB); `None` for text VRs. AT is two 16-bit
/// numbers (group, element), so its unit for byte swapping is 2.
fn binary_unit(vr: VR) -> Option<usize> {
    Some(match vr {
        VR::OB => 1,
        VR::US | VR::SS | VR::OW | VR::AT => 2,
        VR::UL | VR::SL | VR::FL | VR::OF | VR::OL => 4,
        VR::FD | VR::OD | VR::UV | VR::SV | VR::OV => 8,
        _ => return None,
    })
}

/// The text VRs that hold a single value, in which a backslash is a character.
fn single_valued(vr: VR) -> bool {
    matches!(vr, VR::LT | VR::ST | VR::UT | VR::UR)
}

/// Whether `bytes` are a valid value of the text VR `vr` (PS3.5 Table 6.2-1). Trailing NULs
/// and the VR's padding are ignored.
fn text_is_valid(vr: VR, bytes: &[u8]) -> bool {
    let bytes = trim_end(bytes, |b| b == 0);
    if single_valued(vr) {
        return value_is_valid(vr, bytes);
    }
    bytes.split(|&b| b == b'\\').all(|v| value_is_valid(vr, v))
}

fn trim_end(mut b: &[u8], pad: impl Fn(u8) -> bool) -> &[u8] {
    while let Some((last, rest)) = b.split_last() {
        if !pad(*last) {
            break;
        }
        b = rest;
    }
    b
}

fn trim(b: &[u8]) -> &[u8] {
    let b = trim_end(b, |c| c == b' ');
    let start = b.iter().position(|&c| c != b' ').unwrap_or(b.len());
    b.get(start..).unwrap_or_default()
}

/// One value (between backslashes) of a text VR.
fn value_is_valid(vr: VR, v: &[u8]) -> bool {
    // Lengths are counted in characters; only where every byte is an ASCII character (the
    // default repertoire, which the VRs below the first match arm always use) is a byte one
    // character. Other values of the character-set VRs are not measured.
    let ascii = v.iter().all(|&b| (0x20..0x7F).contains(&b));
    let at_most = |n: usize| !ascii || trim(v).len() <= n;
    match vr {
        VR::AE => ascii && trim(v).len() <= 16,
        VR::AS => {
            let t = trim(v);
            t.is_empty()
                || (t.len() == 4
                    && t.iter().take(3).all(u8::is_ascii_digit)
                    && matches!(t.get(3), Some(b'D' | b'W' | b'M' | b'Y')))
        }
        VR::CS => {
            ascii
                && trim(v).len() <= 16
                && v.iter().all(|&b| {
                    b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ' || b == b'_'
                })
        }
        VR::DA => {
            let t = trim(v);
            t.is_empty() || (t.len() == 8 && t.iter().all(u8::is_ascii_digit))
        }
        VR::DS => {
            ascii
                && trim(v).len() <= 16
                && v.iter().all(|&b| {
                    b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E' | b' ')
                })
        }
        VR::DT => {
            ascii
                && trim(v).len() <= 26
                && v.iter()
                    .all(|&b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b' '))
        }
        VR::IS => {
            ascii
                && trim(v).len() <= 12
                && v.iter()
                    .all(|&b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b' '))
        }
        VR::TM => {
            ascii
                && trim(v).len() <= 16
                && v.iter()
                    .all(|&b| b.is_ascii_digit() || matches!(b, b'.' | b' '))
        }
        VR::UI => {
            let t = trim_end(v, |b| b == 0 || b == b' ');
            t.len() <= 64 && t.iter().all(|&b| b.is_ascii_digit() || b == b'.')
        }
        VR::UR => {
            no_controls(v, b"")
                && !v.starts_with(b" ")
                && !trim_end(v, |b| b == b' ').contains(&b' ')
        }
        VR::SH => no_controls(v, b"\x1B") && at_most(16),
        VR::LO => no_controls(v, b"\x1B") && at_most(64),
        VR::PN => {
            no_controls(v, b"\x1B")
                && v.split(|&b| b == b'=').count() <= 3
                && v.split(|&b| b == b'=').all(|group| {
                    group.split(|&b| b == b'^').count() <= 5 && (!ascii || trim(group).len() <= 64)
                })
        }
        VR::UC => no_controls(v, b"\x1B"),
        VR::ST => no_controls(v, b"\x1B\r\n\x0C\t") && at_most(1024),
        VR::LT => no_controls(v, b"\x1B\r\n\x0C\t") && at_most(10240),
        VR::UT => no_controls(v, b"\x1B\r\n\x0C\t"),
        _ => false,
    }
}

/// No control character (below 0x20, or DEL) other than those `allowed`.
fn no_controls(v: &[u8], allowed: &[u8]) -> bool {
    v.iter()
        .all(|&b| (b >= 0x20 && b != 0x7F) || allowed.contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_text_is_kept_and_padded_to_even_length() {
        assert_eq!(
            encode(VR::UI, b"1.2.3", false).as_deref(),
            Some(&b"1.2.3\0"[..])
        );
        assert_eq!(
            encode(VR::PN, b"DOE^JOHN ", true).as_deref(),
            Some(&b"DOE^JOHN  "[..])
        );
        assert_eq!(
            encode(VR::DA, b"20240131", false).as_deref(),
            Some(&b"20240131"[..])
        );
        assert!(encode(VR::CS, b"ORIGINAL\\PRIMARY", false).is_some());
        assert!(encode(VR::LO, "Müller".as_bytes(), false).is_some());
    }

    #[test]
    fn text_that_breaks_its_vr_stays_un() {
        assert_eq!(encode(VR::UI, b"1.2.x", false), None);
        assert_eq!(encode(VR::UI, "1.".repeat(40).as_bytes(), false), None);
        assert_eq!(encode(VR::DA, b"2024-01-31", false), None);
        assert_eq!(encode(VR::CS, b"lower", false), None);
        assert_eq!(encode(VR::PN, b"DOE\nJOHN", false), None);
        assert_eq!(encode(VR::SH, b"seventeen chars!!", false), None);
        assert_eq!(encode(VR::IS, b"12a", false), None);
    }

    #[test]
    fn binary_numbers_are_swapped_for_big_endian() {
        assert_eq!(
            encode(VR::US, &[0x00, 0x02, 0x01, 0x00], true).as_deref(),
            Some(&[0x02, 0x00, 0x00, 0x01][..])
        );
        assert_eq!(
            encode(VR::UL, &[1, 2, 3, 4], true).as_deref(),
            Some(&[4, 3, 2, 1][..])
        );
        assert_eq!(
            encode(VR::US, &[0x00, 0x02], false).as_deref(),
            Some(&[0x00, 0x02][..])
        );
        assert_eq!(encode(VR::US, &[1, 2, 3], false), None);
        assert_eq!(encode(VR::FD, &[0; 12], true), None);
    }
}
