//! Study dates as the index keeps them: `YYYYMMDD` when the value names a real calendar day in
//! a form seen in the wild, as it was otherwise (and never matched by the date filters).

/// Normalises a DA value to `YYYYMMDD` when it holds a real calendar date in one of the forms
/// seen in the wild (`YYYYMMDD`, the old `YYYY.MM.DD`, `YYYY-MM-DD`); otherwise returns it
/// unchanged. `20241399`, `00000000` or `20240230` are not dates and stay as they are (the
/// query's date filters never match them, see [`is_calendar_date`]).
pub fn normalise_date(raw: &str) -> String {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let separators_ok = raw
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.' || c == '-');
    if separators_ok && is_calendar_date(&digits) {
        digits
    } else {
        raw.to_string()
    }
}

/// Whether `s` is exactly eight digits `YYYYMMDD` naming a day of the (proleptic Gregorian)
/// calendar: month 1 to 12, a day that exists in that month (leap years included).
pub fn is_calendar_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 8 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|t| t.parse::<u32>().ok());
    match (num(0..4), num(4..6), num(6..8)) {
        (Some(y), Some(m), Some(d)) => i32::try_from(y)
            .ok()
            .and_then(|y| chrono::NaiveDate::from_ymd_opt(y, m, d))
            .is_some(),
        _ => false,
    }
}
