//! Pattern cleaning of text under action C: identifying values that no attribute of the data
//! set holds but whose shape gives them away. E-mail addresses, URLs with a host and telephone
//! numbers are cut; dates written in the common forms are shifted by the subject's offset
//! under retain-longitudinal-modified-dates, kept under retain-longitudinal-full-dates, and cut
//! otherwise.
//!
//! The shapes are chosen so that technical text survives: `0.5 mm`, `512 512 176`, `TR 2300`,
//! `1.2.840.10008.5.1.4.1.1.4` and `T1 MPRAGE` match none of them.

use std::sync::LazyLock;

use regex::Regex;

use crate::values::shift_dates;

/// What becomes of a date written in text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WrittenDates {
    /// Cut out (no date option).
    Cut,
    /// Shifted by this many days, written in the same form (modified dates).
    Shift(i32),
    /// Kept (full dates).
    Keep,
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}").expect("regex")
});

/// A URL with a host: `scheme://host...` or `www.host...`, up to white space.
static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\b(?:[a-z][a-z0-9+.\-]*://[^\s/<>"'\\]+|www\.[a-z0-9\-]+(?:\.[a-z0-9\-]+)+)[^\s<>"'\\]*"#)
        .expect("regex")
});

/// Year-month-day with `-`, `.` or `/`.
static YMD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(\d{4})([\-./])(\d{1,2})([\-./])(\d{1,2})\b").expect("regex"));

/// Day-month-year (`.`, `-`) or month/day/year, day/month/year (`/`).
static DMY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(\d{1,2})([\-./])(\d{1,2})([\-./])(\d{4})\b").expect("regex"));

/// `YYYYMMDD` (a DA value written into text).
static COMPACT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(\d{8})\b").expect("regex"));

/// `15 March 2020`, `15-Mar-2020`, `15. März`-style forms in English: day, month name, year.
static DAY_MONTH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(\d{1,2})(?:st|nd|rd|th)?\.?[ \-]?([a-z]{3,9})\.?[ \-,]+(\d{4})\b")
        .expect("regex")
});

/// `March 15, 2020`, `Mar 15 2020`: month name, day, year.
static MONTH_DAY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b([a-z]{3,9})\.?[ \-](\d{1,2})(?:st|nd|rd|th)?,?[ \-]+(\d{4})\b")
        .expect("regex")
});

/// A telephone number: an optional `+country`, an optional `(area)`, then groups of digits
/// separated by one space, `-`, `.` or `/`.
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\+\d{1,4}[ .\-]?)?(?:\(\d{1,5}\)[ .\-]?)?\d{2,8}(?:[ .\-/]\d{2,8})+")
        .expect("regex")
});

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// The month a word names (`Mar`, `March`, `Sept`), 1-based.
fn month_of(word: &str) -> Option<usize> {
    let w = word.to_ascii_lowercase();
    if w.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| m.starts_with(&w) && (w.len() == 3 || w == "sept" || w == *m))
        .map(|i| i + 1)
}

fn valid(y: i32, m: u32, d: u32) -> bool {
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1800..=2199).contains(&y) && d >= 1 && d <= days
}

/// `(y, m, d)` moved by `days`.
fn shifted(y: i32, m: u32, d: u32, days: i32) -> Option<(i32, u32, u32)> {
    let da = format!("{y:04}{m:02}{d:02}");
    let out = shift_dates(&[da], days).pop()?;
    if out.len() != 8 {
        return None;
    }
    Some((
        out[..4].parse().ok()?,
        out[4..6].parse().ok()?,
        out[6..].parse().ok()?,
    ))
}

/// A number written with the width the original used (at least).
fn width(n: u32, original: &str) -> String {
    format!("{n:0w$}", w = original.len())
}

/// One replacement: the byte range of the text and what goes there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Edit {
    pub(crate) range: std::ops::Range<usize>,
    pub(crate) with: String,
}

/// Whether `text[range]` stands inside a UID or a longer dotted number (`1.2.2020.3.15.7`).
fn inside_dotted(text: &str, range: &std::ops::Range<usize>) -> bool {
    let b = text.as_bytes();
    let before = range.start.checked_sub(1).and_then(|i| b.get(i)).copied();
    let after = b.get(range.end).copied();
    let after2 = b.get(range.end + 1).copied();
    matches!(before, Some(b'.' | b'0'..=b'9'))
        || (after == Some(b'.') && after2.is_some_and(|c| c.is_ascii_digit()))
        || after.is_some_and(|c| c.is_ascii_digit())
}

/// The dates of `text` and what each becomes.
fn date_edits(text: &str, dates: WrittenDates, out: &mut Vec<Edit>) {
    let mut push = |range: std::ops::Range<usize>,
                    ymd: Option<(i32, u32, u32)>,
                    render: &dyn Fn(i32, u32, u32) -> String| {
        if out
            .iter()
            .any(|e| e.range.start < range.end && range.start < e.range.end)
        {
            return;
        }
        let with = match (dates, ymd) {
            (WrittenDates::Keep, _) => return,
            (WrittenDates::Shift(days), Some((y, m, d))) => match shifted(y, m, d, days) {
                Some((y, m, d)) => render(y, m, d),
                None => String::new(),
            },
            // Cut, or a date whose reading is ambiguous.
            _ => String::new(),
        };
        out.push(Edit { range, with });
    };
    for c in YMD.captures_iter(text) {
        let (Some(all), Some(y), Some(s1), Some(m), Some(s2), Some(d)) =
            (c.get(0), c.get(1), c.get(2), c.get(3), c.get(4), c.get(5))
        else {
            continue;
        };
        let (yy, mm, dd) = (
            y.as_str().parse().unwrap_or(0),
            m.as_str().parse().unwrap_or(0),
            d.as_str().parse().unwrap_or(0),
        );
        if s1.as_str() != s2.as_str() || !valid(yy, mm, dd) || inside_dotted(text, &all.range()) {
            continue;
        }
        let (sep, ms, ds) = (s1.as_str(), m.as_str(), d.as_str());
        push(all.range(), Some((yy, mm, dd)), &|y, m, d| {
            format!("{y:04}{sep}{}{sep}{}", width(m, ms), width(d, ds))
        });
    }
    for c in DMY.captures_iter(text) {
        let (Some(all), Some(a), Some(s1), Some(b), Some(s2), Some(y)) =
            (c.get(0), c.get(1), c.get(2), c.get(3), c.get(4), c.get(5))
        else {
            continue;
        };
        if s1.as_str() != s2.as_str() || inside_dotted(text, &all.range()) {
            continue;
        }
        let (aa, bb, yy): (u32, u32, i32) = (
            a.as_str().parse().unwrap_or(0),
            b.as_str().parse().unwrap_or(0),
            y.as_str().parse().unwrap_or(0),
        );
        let sep = s1.as_str();
        // Dots and hyphens: day first. Slashes: day first if the first number cannot be a
        // month, month first if the second cannot be; otherwise ambiguous (cut).
        let day_first = match sep {
            "/" if aa > 12 && bb <= 12 => Some(true),
            "/" if bb > 12 && aa <= 12 => Some(false),
            "/" => None,
            _ => Some(true),
        };
        let (d, m) = match day_first {
            Some(true) => (aa, bb),
            Some(false) => (bb, aa),
            None => (aa, bb),
        };
        let readable = valid(yy, m, d) || (day_first.is_none() && valid(yy, aa, bb));
        if !readable {
            continue;
        }
        let (a_s, b_s) = (a.as_str(), b.as_str());
        let ymd = day_first.filter(|_| valid(yy, m, d)).map(|_| (yy, m, d));
        push(all.range(), ymd, &|y, m, d| match day_first {
            Some(false) => format!("{}{sep}{}{sep}{y:04}", width(m, a_s), width(d, b_s)),
            _ => format!("{}{sep}{}{sep}{y:04}", width(d, a_s), width(m, b_s)),
        });
    }
    for c in COMPACT.captures_iter(text) {
        let Some(all) = c.get(0) else { continue };
        let s = all.as_str();
        let (y, m, d) = (
            s[..4].parse().unwrap_or(0),
            s[4..6].parse().unwrap_or(0),
            s[6..].parse().unwrap_or(0),
        );
        if !valid(y, m, d) || inside_dotted(text, &all.range()) {
            continue;
        }
        push(all.range(), Some((y, m, d)), &|y, m, d| {
            format!("{y:04}{m:02}{d:02}")
        });
    }
    let month_name = |original: &str, m: u32| -> String {
        let full = MONTHS[(m - 1) as usize];
        let name = if original.len() <= 4 && original.len() < full.len() {
            &full[..3]
        } else {
            full
        };
        if original.chars().all(|c| c.is_ascii_uppercase()) {
            name.to_ascii_uppercase()
        } else {
            let mut s = name.to_string();
            s[..1].make_ascii_uppercase();
            s
        }
    };
    for c in DAY_MONTH.captures_iter(text) {
        let (Some(all), Some(d), Some(mon), Some(y)) = (c.get(0), c.get(1), c.get(2), c.get(3))
        else {
            continue;
        };
        let Some(m) = month_of(mon.as_str()) else {
            continue;
        };
        let (dd, yy) = (
            d.as_str().parse().unwrap_or(0),
            y.as_str().parse().unwrap_or(0),
        );
        if !valid(yy, m as u32, dd) {
            continue;
        }
        let (whole, ds, ms) = (all.as_str(), d.as_str(), mon.as_str());
        // Keep the separators: replace the three numbers and the name in place.
        let tail = &whole[ds.len()..whole.len() - y.as_str().len()];
        let mid = tail.replacen(ms, "\u{0}", 1);
        push(all.range(), Some((yy, m as u32, dd)), &|y, m, d| {
            format!(
                "{}{}{y:04}",
                width(d, ds),
                mid.replacen('\u{0}', &month_name(ms, m), 1)
            )
        });
    }
    for c in MONTH_DAY.captures_iter(text) {
        let (Some(all), Some(mon), Some(d), Some(y)) = (c.get(0), c.get(1), c.get(2), c.get(3))
        else {
            continue;
        };
        let Some(m) = month_of(mon.as_str()) else {
            continue;
        };
        let (dd, yy) = (
            d.as_str().parse().unwrap_or(0),
            y.as_str().parse().unwrap_or(0),
        );
        if !valid(yy, m as u32, dd) {
            continue;
        }
        let (whole, ds, ms) = (all.as_str(), d.as_str(), mon.as_str());
        let between = &whole[ms.len()..d.start() - all.start()];
        let after = &whole[d.end() - all.start()..y.start() - all.start()];
        push(all.range(), Some((yy, m as u32, dd)), &|y, m, d| {
            format!(
                "{}{between}{}{after}{y:04}",
                month_name(ms, m),
                width(d, ds)
            )
        });
    }
}

/// Whether a candidate telephone number looks like one rather than a list of numbers.
fn is_phone(text: &str, range: &std::ops::Range<usize>) -> bool {
    let s = &text[range.clone()];
    let digits = s.bytes().filter(u8::is_ascii_digit).count();
    if !(7..=15).contains(&digits) {
        return false;
    }
    let b = text.as_bytes();
    let before = range.start.checked_sub(1).and_then(|i| b.get(i)).copied();
    let after = b.get(range.end).copied();
    if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == b'.' || c == b'+')
        || after.is_some_and(|c| c.is_ascii_alphanumeric())
        || (after == Some(b'.') && b.get(range.end + 1).is_some_and(u8::is_ascii_digit))
    {
        return false;
    }
    let groups = s
        .split(|c: char| !c.is_ascii_digit())
        .filter(|g| !g.is_empty())
        .count();
    s.starts_with('+')
        || s.contains('(')
        || s.contains('-')
        || s.contains('/')
        || (groups >= 3 && s.starts_with('0'))
}

/// The edits that clean `text` of its e-mail addresses, URLs, telephone numbers and written
/// dates (see the module doc), sorted and not overlapping; empty if it has none.
pub(crate) fn pattern_edits(text: &str, dates: WrittenDates) -> Vec<Edit> {
    if !text
        .bytes()
        .any(|b| b.is_ascii_digit() || b == b'@' || b == b'.')
    {
        return Vec::new();
    }
    let mut edits: Vec<Edit> = Vec::new();
    let overlaps = |edits: &[Edit], r: &std::ops::Range<usize>| {
        edits
            .iter()
            .any(|e| e.range.start < r.end && r.start < e.range.end)
    };
    for m in EMAIL.find_iter(text) {
        edits.push(Edit {
            range: m.range(),
            with: String::new(),
        });
    }
    for m in URL.find_iter(text) {
        let trimmed = m
            .as_str()
            .trim_end_matches(['.', ',', ';', ':', ')', ']', '!', '?']);
        let range = m.start()..m.start() + trimmed.len();
        if !overlaps(&edits, &range) {
            edits.push(Edit {
                range,
                with: String::new(),
            });
        }
    }
    let mut date_list = Vec::new();
    date_edits(text, dates, &mut date_list);
    // Dates kept under full dates still are dates, never telephone numbers.
    let mut date_ranges: Vec<std::ops::Range<usize>> = Vec::new();
    if dates == WrittenDates::Keep {
        let mut all = Vec::new();
        date_edits(text, WrittenDates::Cut, &mut all);
        date_ranges.extend(all.into_iter().map(|e| e.range));
    }
    for e in date_list {
        if !overlaps(&edits, &e.range) {
            date_ranges.push(e.range.clone());
            edits.push(e);
        }
    }
    for m in PHONE.find_iter(text) {
        let r = m.range();
        let clashes = overlaps(&edits, &r)
            || date_ranges
                .iter()
                .any(|d| d.start < r.end && r.start < d.end);
        if !clashes && is_phone(text, &r) {
            edits.push(Edit {
                range: r,
                with: String::new(),
            });
        }
    }
    edits.sort_by_key(|e| e.range.start);
    let mut last = 0;
    edits.retain(|e| {
        let keep = e.range.start >= last;
        if keep {
            last = e.range.end;
        }
        keep
    });
    edits
}

/// `text` with `edits` (from [`pattern_edits`]) applied.
pub(crate) fn apply(text: &str, edits: &[Edit]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for e in edits {
        out.push_str(text.get(at..e.range.start).unwrap_or_default());
        out.push_str(&e.with);
        at = e.range.end;
    }
    out.push_str(text.get(at..).unwrap_or_default());
    out
}

/// `text` with its e-mail addresses, URLs, telephone numbers and written dates cleaned, or
/// `None` if it has none.
#[cfg(test)]
fn clean_patterns(text: &str, dates: WrittenDates) -> Option<String> {
    let edits = pattern_edits(text, dates);
    (!edits.is_empty()).then(|| apply(text, &edits))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(t: &str) -> String {
        clean_patterns(t, WrittenDates::Cut).unwrap_or_else(|| t.to_string())
    }

    #[test]
    fn mail_urls_and_phones_are_cut_technical_text_kept() {
        assert_eq!(cut("ask p.smith@example.org now"), "ask  now");
        assert_eq!(cut("see https://pacs.example/v?id=7."), "see .");
        assert_eq!(cut("see www.hospital.example/x today"), "see  today");
        assert_eq!(cut("call +44 1632 960118 or"), "call  or");
        assert_eq!(cut("call (555) 014-2000"), "call ");
        assert_eq!(cut("call 555-0142-77"), "call ");
        for kept in [
            "T1 MPRAGE sag 1.0 mm",
            "matrix 512 512 176",
            "TR 2300 TE 2.98",
            "1.2.840.10008.5.1.4.1.1.4",
            "0.5 0.5 1.0 1.0",
            "urn:oid:1.2.3",
            "120 kV 250 mAs",
        ] {
            assert_eq!(cut(kept), kept);
        }
    }

    #[test]
    fn written_dates_are_cut_or_shifted_in_their_form() {
        assert_eq!(
            cut("scanned 2020-03-15, 15.03.2020 and 03/15/2020"),
            "scanned ,  and "
        );
        assert_eq!(cut("on 15 March 2020 and Mar 15, 2020"), "on  and ");
        assert_eq!(cut("id 20200315"), "id ");
        assert_eq!(cut("uid 1.2.2020.3.15.7"), "uid 1.2.2020.3.15.7");
        let shift = |t: &str| clean_patterns(t, WrittenDates::Shift(-1)).unwrap_or_default();
        assert_eq!(shift("on 2020-03-01"), "on 2020-02-29");
        assert_eq!(shift("on 01.03.2020"), "on 29.02.2020");
        assert_eq!(shift("on 03/15/2020"), "on 03/14/2020");
        assert_eq!(shift("on 15/03/2020"), "on 14/03/2020");
        assert_eq!(shift("on 03/04/2020"), "on ");
        assert_eq!(shift("on 1 March 2020"), "on 29 February 2020");
        assert_eq!(shift("on MAR 1, 2020"), "on FEB 29, 2020");
        assert_eq!(shift("on 20200301"), "on 20200229");
        assert_eq!(
            clean_patterns("on 2020-03-01", WrittenDates::Keep),
            None,
            "full dates keep written dates"
        );
        assert_eq!(
            clean_patterns("on 2020-03-01 call 555-0142", WrittenDates::Keep).as_deref(),
            Some("on 2020-03-01 call "),
        );
    }
}
