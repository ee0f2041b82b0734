//! Replacement values that are valid for their VR (dummy values for D, shifted dates for the
//! modified-dates option), so that a de-identified object still parses and validates.

use dicom_core::value::PrimitiveValue;
use dicom_core::{Tag, VR};

/// A non-empty dummy value valid for `vr` (length limits respected). UIDs are handled by the
/// engine (they are remapped, not replaced by a constant) and sequences are not primitive.
pub(crate) fn dummy(vr: VR) -> PrimitiveValue {
    match vr {
        VR::AE => PrimitiveValue::from("ANONYMIZED"),
        VR::AS => PrimitiveValue::from("000D"),
        VR::CS => PrimitiveValue::from("ANONYMIZED"),
        VR::DA => PrimitiveValue::from("19000101"),
        VR::DT => PrimitiveValue::from("19000101000000"),
        VR::TM => PrimitiveValue::from("000000.00"),
        VR::DS | VR::IS => PrimitiveValue::from("0"),
        VR::LO | VR::LT | VR::SH | VR::ST | VR::UT | VR::UC | VR::PN => {
            PrimitiveValue::from("ANONYMIZED")
        }
        VR::UR => PrimitiveValue::from("urn:depot:anonymized"),
        VR::UI => PrimitiveValue::from("2.25.0"),
        VR::AT => PrimitiveValue::Tags([Tag(0, 0)].into_iter().collect()),
        VR::US => PrimitiveValue::U16([0].into_iter().collect()),
        VR::SS => PrimitiveValue::I16([0].into_iter().collect()),
        VR::UL => PrimitiveValue::U32([0].into_iter().collect()),
        VR::SL => PrimitiveValue::I32([0].into_iter().collect()),
        VR::UV => PrimitiveValue::U64([0].into_iter().collect()),
        VR::SV => PrimitiveValue::I64([0].into_iter().collect()),
        VR::FL => PrimitiveValue::F32([0.0].into_iter().collect()),
        VR::FD => PrimitiveValue::F64([0.0].into_iter().collect()),
        VR::OW => PrimitiveValue::U16([0u16; 4].into_iter().collect()),
        VR::OF => PrimitiveValue::F32([0.0f32; 2].into_iter().collect()),
        VR::OD => PrimitiveValue::F64([0.0f64].into_iter().collect()),
        VR::OL => PrimitiveValue::U32([0u32; 2].into_iter().collect()),
        VR::OV => PrimitiveValue::U64([0u64].into_iter().collect()),
        VR::OB | VR::UN | VR::SQ => PrimitiveValue::U8([0u8; 8].into_iter().collect()),
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Shifts the leading date of a DA or DT value (`YYYY`, `YYYYMM` or `YYYYMMDD`, then anything)
/// by `days`, keeping the precision and whatever follows the date. `None` if there is no
/// valid date at the start.
fn shift_one(value: &str, days: i32) -> Option<String> {
    let v = value.trim();
    let digits = v.bytes().take_while(u8::is_ascii_digit).count();
    let precision = match digits {
        4 | 6 => digits,
        n if n >= 8 => 8,
        _ => return None,
    };
    let num = |a: usize, b: usize| v.get(a..b).and_then(|s| s.parse::<u32>().ok());
    let y = i64::from(num(0, 4)?);
    let m = if precision >= 6 { num(4, 6)? } else { 1 };
    let d = if precision >= 8 { num(6, 8)? } else { 1 };
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    let (ny, nm, nd) = civil_from_days(days_from_civil(y, m, d) + i64::from(days));
    if !(0..=9999).contains(&ny) {
        return None;
    }
    let date = format!("{ny:04}{nm:02}{nd:02}");
    Some(format!("{}{}", date.get(..precision)?, v.get(precision..)?))
}

/// Shifts every value of a DA/DT element by `days`. Values that are not dates become empty
/// (a value that cannot be shifted cannot be kept either). Ranges (`A-B`) occur only in
/// queries, never in stored objects, and a DT's `-hhmm` offset must not be read as one.
pub(crate) fn shift_dates(values: &[String], days: i32) -> Vec<String> {
    values
        .iter()
        .map(|v| shift_one(v, days).unwrap_or_default())
        .collect()
}

/// The longest value a text VR allows (characters), for replacements that must fit.
pub(crate) fn max_len(vr: VR) -> usize {
    match vr {
        VR::AE | VR::CS | VR::SH | VR::TM => 16,
        VR::AS => 4,
        VR::DA => 8,
        VR::DT => 26,
        VR::DS => 16,
        VR::IS => 12,
        VR::LO | VR::UI => 64,
        VR::PN => 324,
        VR::ST => 1024,
        VR::LT => 10240,
        _ => usize::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_shift_with_precision_and_suffix() {
        assert_eq!(shift_one("20200301", -1).as_deref(), Some("20200229"));
        assert_eq!(shift_one("20210101", -1).as_deref(), Some("20201231"));
        assert_eq!(
            shift_one("20200301120000.5+0100", -1).as_deref(),
            Some("20200229120000.5+0100")
        );
        assert_eq!(shift_one("202003", -40).as_deref(), Some("202001"));
        assert_eq!(shift_one("2020", -1).as_deref(), Some("2019"));
        assert_eq!(shift_one("20201341", -1), None);
        assert_eq!(shift_one("x", -1), None);
        assert_eq!(shift_one("00010101", -3650), None);
        assert_eq!(
            shift_dates(&["20200110120000-0500".into(), "bad".into()], -10),
            vec!["20191231120000-0500".to_string(), String::new()]
        );
    }

    #[test]
    fn civil_round_trip() {
        for z in [-800_000i64, -1, 0, 1, 18_000, 2_000_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }

    #[test]
    fn dummies_are_non_empty_and_fit() {
        for vr in [
            VR::AE,
            VR::AS,
            VR::CS,
            VR::DA,
            VR::DT,
            VR::TM,
            VR::SH,
            VR::PN,
            VR::OB,
            VR::US,
        ] {
            let d = dummy(vr);
            assert!(!d.to_bytes().is_empty(), "{vr:?}");
            assert!(d.to_str().len() <= max_len(vr), "{vr:?}");
        }
    }
}
