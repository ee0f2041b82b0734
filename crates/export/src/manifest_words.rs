//! Depot's own text in its manifest, blanked before the manifest is searched.
//!
//! `manifest.json` and `manifest.csv` are written by depot, and most of their words are its
//! own: field names, the CSV header, level and option names, message templates, modality
//! codes, numbers and digests it computed, and the audit's findings and a release's record
//! (finding IDs `F12`, types, regions, tag paths `(0010,0020)`, attribute keywords, times,
//! the quarantine ID). A patient's value that equals one of them (a StudyID `0010` and the
//! tag `(0010,0020)`, an AccessionNumber `F12`, a birth date on the day of the export) is a
//! coincidence with depot's text, not a leak, so they are blanked (replaced by spaces, so
//! offsets and word boundaries stay) and only what is left is searched, whole words only.
//!
//! Structural values are blanked only where depot writes them and only when they have the
//! shape depot gives them (a `kind` is blanked only if it is an attribute keyword or a
//! finding type; a time only if it is an RFC 3339 time), so nothing planted in the manifest
//! hides behind them. Free text (a release's `reason` and `by`, a custom profile's name) is
//! searched like any value.

use std::collections::HashSet;
use std::sync::LazyLock;

use anon_core::{DeidOption, Level};
use dicom_core::dictionary::DataDictionary;
use dicom_dictionary_std::StandardDataDictionary;

use crate::written::{blank_computed_fields, blank_csv_column, blank_json_field};

/// Whether a package-relative name is the package's manifest.
pub(crate) fn is_manifest(rel: &str) -> bool {
    rel == "manifest.json" || rel == "manifest.csv"
}

/// Every word depot itself writes into `manifest.json` and `manifest.csv`, lower-case: field
/// names, the CSV header, literals, the regrouping and burned-in message templates, and the
/// level and option names. A test checks a fully populated manifest against it.
pub(crate) static VOCABULARY: LazyLock<HashSet<String>> = LazyLock::new(|| {
    const WORDS: &str = "
        format created by level options profile digest key fingerprint blank identifiers
        counts subjects studies series instances bytes left out id number modality files path
        sha256 regrouping warnings kind groups would become message burned in reason included
        audit values searched findings blocking accepted advisory type region tag release
        quarantined released at
        subject study instance merge split into on re import and more be rejected no invalid
        studyinstanceuid seriesinstanceuid sopinstanceuid sopclassuid
        burnedinannotation is yes without pixels may hold text
        true false null none depot package dcm
    ";
    let mut words: HashSet<String> = WORDS.split_whitespace().map(str::to_string).collect();
    let names = Level::ALL
        .iter()
        .map(|l| l.name())
        .chain(DeidOption::ALL.iter().map(|o| o.name()));
    for name in names {
        words.extend(
            name.split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_ascii_lowercase),
        );
    }
    words
});

/// The finding types the audit writes (`type`).
const FINDING_TYPES: [&str; 5] = [
    "value",
    "coincidence",
    "private-element",
    "identity-not-marked-removed",
    "unreadable",
];

/// The regions of a file the audit names (`region`).
const REGIONS: [&str; 5] = ["header", "pixel-data", "text", "path", "zip-metadata"];

/// The manifest as it is searched: depot's computed fields, the structural fields of its
/// findings and release, its vocabulary and the modality codes blanked. `csv` for
/// `manifest.csv`.
pub(crate) fn blank_manifest(bytes: &[u8], csv: bool) -> Vec<u8> {
    let mut out = bytes.to_vec();
    // Fields found by their names first: blanking the vocabulary blanks the names.
    blank_computed_fields(&mut out, csv);
    if csv {
        blank_finding_ids_column(&mut out);
    } else {
        blank_findings(&mut out);
    }
    blank_vocabulary(&mut out, csv);
    out
}

/// Blanks depot's words (see [`VOCABULARY`]) and the modality values (codes from the data,
/// not identifying, some of which are given names: `ANN`).
pub(crate) fn blank_vocabulary(out: &mut [u8], csv: bool) {
    if csv {
        blank_csv_column(out, 3);
    } else {
        blank_json_field(out, b"\"modality\":");
    }
    let mut i = 0;
    while i < out.len() {
        if !out[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        while i < out.len() && out[i].is_ascii_alphanumeric() {
            i += 1;
        }
        let word = String::from_utf8_lossy(&out[start..i]).to_ascii_lowercase();
        // A word glued to a non-ASCII letter is part of a longer word: leave it.
        let glued = (start > 0 && out[start - 1] >= 0x80) || out.get(i).is_some_and(|b| *b >= 0x80);
        if !glued && VOCABULARY.contains(&word) {
            out[start..i].fill(b' ');
        }
    }
}

/// Blanks, in `manifest.json`, what the findings and a release record in depot's own terms:
/// finding types, regions and kinds (attribute keywords), tag paths, finding and quarantine
/// IDs, times, the paths of the manifest itself and the `<Keyword>` masks of masked paths.
fn blank_findings(out: &mut [u8]) {
    blank_string_values(out, b"\"type\":", &|v| FINDING_TYPES.contains(&v));
    blank_string_values(out, b"\"region\":", &|v| REGIONS.contains(&v));
    blank_string_values(out, b"\"kind\":", &|v| {
        FINDING_TYPES.contains(&v) || is_attribute_label(v)
    });
    blank_string_values(out, b"\"id\":", &|v| {
        is_finding_id(v) || is_quarantine_id(v)
    });
    for key in [
        b"\"at\":".as_slice(),
        b"\"quarantined_at\":",
        b"\"released_at\":",
    ] {
        blank_string_values(out, key, &is_time);
    }
    blank_string_values(out, b"\"path\":", &|v| is_manifest(v));
    blank_string_literals(out, &|v| is_finding_id(v) || v == "all");
    blank_tag_paths(out);
    blank_masks(out);
}

/// Blanks the finding IDs (`F1 F3`) of `manifest.csv`'s `findings` column (the 8th).
fn blank_finding_ids_column(out: &mut [u8]) {
    let mut column = 0;
    let mut quoted = false;
    let mut i = 0;
    while i < out.len() {
        let b = out[i];
        if quoted {
            if b == b'"' {
                quoted = false;
            }
        } else if b == b'"' {
            quoted = true;
        } else if b == b',' {
            column += 1;
        } else if b == b'\n' {
            column = 0;
        } else if column == 7 && b == b'F' && (i == 0 || matches!(out[i - 1], b',' | b' ')) {
            let end = i
                + 1
                + out[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit())
                    .count();
            let bounded = out
                .get(end)
                .is_none_or(|c| matches!(c, b' ' | b'\r' | b'\n'));
            if end > i + 1 && bounded {
                out[i..end].fill(b' ');
                i = end;
                continue;
            }
        }
        i += 1;
    }
}

/// Whether `v` is an attribute label the audit names a finding by: a keyword of the data
/// dictionary, or `UID` (an original UID of an attribute the dictionary does not know).
fn is_attribute_label(v: &str) -> bool {
    v == "UID" || StandardDataDictionary.by_name(v).is_some()
}

/// `F` and a number: a finding's ID.
fn is_finding_id(v: &str) -> bool {
    v.len() > 1 && v.starts_with('F') && v[1..].bytes().all(|b| b.is_ascii_digit())
}

/// `Q` and 8 characters of Crockford's base 32: a quarantine entry's ID.
fn is_quarantine_id(v: &str) -> bool {
    v.len() == 9
        && v.starts_with('Q')
        && v[1..]
            .bytes()
            .all(|b| b"0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(&b))
}

/// An RFC 3339 time as depot writes it: `2026-05-04T09:12:40Z`.
fn is_time(v: &str) -> bool {
    let b = v.as_bytes();
    let shape = b"dddd-dd-ddTdd:dd:ddZ";
    b.len() == shape.len()
        && b.iter().zip(shape).all(|(c, s)| match s {
            b'd' => c.is_ascii_digit(),
            s => c == s,
        })
}

/// Blanks the contents of every string value of `key` (e.g. `"kind":`) for which `shaped` —
/// the shape depot gives that field — holds.
fn blank_string_values(out: &mut [u8], key: &[u8], shaped: &dyn Fn(&str) -> bool) {
    let mut from = 0;
    while let Some(at) = memchr::memmem::find(out.get(from..).unwrap_or_default(), key) {
        let mut i = from + at + key.len();
        while out.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        if let Some(r) = string_at(out, i)
            && shaped(&String::from_utf8_lossy(&out[r.clone()]))
        {
            out[r.clone()].fill(b' ');
            i = r.end;
        }
        from = i.max(from + at + 1);
    }
}

/// Blanks the contents of every JSON string literal (whatever its field) for which `shaped`
/// holds: a finding ID, `all` (a release's `accepted` list).
fn blank_string_literals(out: &mut [u8], shaped: &dyn Fn(&str) -> bool) {
    let mut i = 0;
    while i < out.len() {
        if out[i] != b'"' {
            i += 1;
            continue;
        }
        let Some(r) = string_at(out, i) else { return };
        // A field name is followed by a colon, a value is not.
        let mut after = r.end + 1;
        while out.get(after).is_some_and(u8::is_ascii_whitespace) {
            after += 1;
        }
        if out.get(after) != Some(&b':') && shaped(&String::from_utf8_lossy(&out[r.clone()])) {
            out[r.clone()].fill(b' ');
        }
        i = r.end + 1;
    }
}

/// The contents of the JSON string starting with the quote at `i` (escapes not decoded).
fn string_at(out: &[u8], i: usize) -> Option<std::ops::Range<usize>> {
    if out.get(i) != Some(&b'"') {
        return None;
    }
    let mut j = i + 1;
    while j < out.len() {
        match out[j] {
            b'\\' => j += 2,
            b'"' => return Some(i + 1..j),
            _ => j += 1,
        }
    }
    None
}

/// Blanks every tag path: `(gggg,eeee)` with four hexadecimal digits each, and the item
/// steps chained to it (`(0040,A730)[0]/(0040,A160)`).
fn blank_tag_paths(out: &mut [u8]) {
    let tag_at = |out: &[u8], i: usize| -> bool {
        out.get(i..i + 11).is_some_and(|t| {
            t[0] == b'('
                && t[5] == b','
                && t[10] == b')'
                && t[1..5].iter().chain(&t[6..10]).all(u8::is_ascii_hexdigit)
        })
    };
    let mut i = 0;
    while i < out.len() {
        if !tag_at(out, i) {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i + 11;
        // `[n]/(gggg,eeee)` steps.
        loop {
            let digits = out
                .get(end + 1..)
                .map_or(0, |r| r.iter().take_while(|b| b.is_ascii_digit()).count());
            let close = end + 1 + digits;
            if out.get(end) == Some(&b'[')
                && digits > 0
                && out.get(close) == Some(&b']')
                && out.get(close + 1) == Some(&b'/')
                && tag_at(out, close + 2)
            {
                end = close + 2 + 11;
            } else {
                break;
            }
        }
        out[start..end].fill(b' ');
        i = end;
    }
}

/// Blanks the `<Keyword>` masks of masked paths (`extra/<PatientName>.csv`).
fn blank_masks(out: &mut [u8]) {
    let mut i = 0;
    while i < out.len() {
        if out[i] != b'<' {
            i += 1;
            continue;
        }
        let len = out[i + 1..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        let close = i + 1 + len;
        if len > 0
            && out.get(close) == Some(&b'>')
            && is_attribute_label(&String::from_utf8_lossy(&out[i + 1..close]))
        {
            out[i..=close].fill(b' ');
            i = close + 1;
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blanked(text: &str) -> String {
        String::from_utf8(blank_manifest(text.as_bytes(), false)).expect("utf-8")
    }

    #[test]
    fn findings_and_releases_are_blanked_where_depot_writes_them() {
        let text = blanked(
            r#"{"findings": [{"id": "F12", "type": "value", "path": "manifest.json",
               "region": "text", "tag": "(0040,A730)[134]/(0010,0010)", "kind": "PatientName",
               "blocking": true, "accepted": {"by": "ana", "reason": "Smith 0010 is fine",
               "at": "2026-05-04T09:12:40Z"}}],
               "release": {"id": "Q7K2M9XA4", "quarantined_at": "2026-05-04T09:12:40Z",
               "released_at": "2026-05-05T10:00:00Z", "accepted": ["F12", "all"]}}"#,
        );
        for gone in [
            "F12",
            "value",
            "manifest",
            "(0040",
            "134",
            "0010,",
            "PatientName",
            "2026",
            "Q7K2M9XA4",
            "all",
        ] {
            assert!(!text.contains(gone), "{gone}: {text}");
        }
        // Free text stays, and so does a value where depot writes only its own shapes.
        assert!(text.contains("Smith 0010"), "{text}");
        assert!(text.contains("ana"), "{text}");
        let planted = blanked(
            r#"{"kind": "Smith", "type": "Jones", "at": "1965-03-12", "id": "F12X", "x": "(0010,0010"}"#,
        );
        for kept in ["Smith", "Jones", "1965-03-12", "F12X", "0010"] {
            assert!(planted.contains(kept), "{kept}: {planted}");
        }
    }

    #[test]
    fn the_csv_findings_column_is_blanked_only_where_it_holds_ids() {
        let csv = b"subject,study,series,modality,path,sha256,bytes,findings\n\
                    P1,1,3,MR,P1/1/3/00001.dcm,ab,1,F1 F12\n\
                    P1,1,3,MR,P1/1/3/00002.dcm,ab,1,F7X\n";
        let out = String::from_utf8(blank_manifest(csv, true)).expect("utf-8");
        assert!(!out.contains("F12") && !out.contains("F1 "), "{out}");
        assert!(out.contains("F7X"), "{out}");
        assert!(out.contains("P1/1/3/00001."), "{out}");
    }

    #[test]
    fn series_numbers_are_blanked_before_the_vocabulary_is() {
        let text = blanked(r#"{"number": "1001", "note": "1001"}"#);
        assert_eq!(text.matches("1001").count(), 1, "{text}");
    }
}
