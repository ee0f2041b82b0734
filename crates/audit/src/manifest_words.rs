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
        checksum blake3 sha256 regrouping warnings kind groups would become message burned in reason included
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
    blank_manifest_in_place(&mut out, csv);
    out
}

/// [`blank_manifest`] where the manifest lies.
pub(crate) fn blank_manifest_in_place(out: &mut [u8], csv: bool) {
    // Fields found by their names first: blanking the vocabulary blanks the names.
    blank_computed_fields(out, csv);
    if csv {
        blank_finding_ids_column(out);
    } else {
        blank_findings(out);
    }
    blank_vocabulary(out, csv);
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
pub(crate) mod tests {
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

    // -- the manifest as depot writes it ---------------------------------------------------

    use std::collections::BTreeSet;

    use crate::{Auditor, Finding, MIN_NEEDLE, Needle, Rules, ValueKind};

    fn auditor(needles: &[Needle]) -> Auditor {
        Auditor::new(needles, Rules::default()).expect("auditor")
    }

    fn labels_of(f: &[Finding]) -> BTreeSet<String> {
        f.iter()
            .filter_map(|x| match x {
                Finding::Value { what, .. } => Some(what.clone()),
                _ => None,
            })
            .collect()
    }

    /// A manifest with every field and message depot writes (built as JSON, so that this
    /// test does not depend on the manifest's Rust types), and the CSV beside it.
    pub(crate) fn full_manifest() -> (Vec<u8>, Vec<u8>) {
        let groups =
            |n: usize| -> Vec<String> { (0..n).map(|i| format!("PQ2WJ6ZR4T{i}")).collect() };
        let mut warnings = Vec::new();
        for (level, plural, singular) in [
            ("subject", "subjects", "subject"),
            ("study", "studies", "study"),
            ("series", "series", "series"),
            ("instance", "instances", "instance"),
        ] {
            let g = groups(12);
            let names = format!("{}, … and 4 more", g[..8].join(", "));
            warnings.push(serde_json::json!({
                "level": level, "kind": "merge", "groups": g, "would_become": 1,
                "message": format!("12 {plural} would merge into 1 on re-import: {names}"),
            }));
            warnings.push(serde_json::json!({
                "level": level, "kind": "split", "groups": groups(1), "would_become": 2,
                "message": format!("1 {singular} would split into 2 on re-import: PQ2WJ6ZR4T0"),
            }));
        }
        for reason in [
            "no StudyInstanceUID",
            "invalid SeriesInstanceUID",
            "no SOPInstanceUID",
            "invalid SOPClassUID",
        ] {
            warnings.push(serde_json::json!({
                "level": "instance", "kind": "rejected", "groups": ["PQ2WJ6ZR4TA/1/3"],
                "would_become": 0, "reason": reason, "instances": 2,
                "message": format!(
                    "2 instances would be rejected on re-import: {reason} (series PQ2WJ6ZR4TA/1/3)"
                ),
            }));
        }
        // A file's checksum is named after the manifest's algorithm (`blake3`, or `sha256` as
        // asked for and as older manifests have it): both names appear here.
        let files: Vec<serde_json::Value> = ["blake3", "sha256"]
            .iter()
            .enumerate()
            .map(|(n, algorithm)| {
                let mut file = serde_json::json!({
                    "path": format!("PQ2WJ6ZR4TA/1/3.1/{:05}.dcm", n + 1),
                    "bytes": 524_288,
                });
                file[*algorithm] = serde_json::json!("ab".repeat(32));
                file
            })
            .collect();
        // Every option and level name (one of which is the level field).
        let options: Vec<&str> = DeidOption::ALL
            .iter()
            .map(|o| o.name())
            .chain(Level::ALL.iter().map(|l| l.name()))
            .chain(["none"])
            .collect();
        let json = serde_json::json!({
            "format": "depot-package/1",
            "created_by": "depot 0.1.0",
            "level": "anonymize-full",
            "options": options,
            "profile_digest": "cd".repeat(32),
            "key_fingerprint": "0123456789abcdef",
            "blank_identifiers": true,
            "checksum": "blake3",
            "counts": {
                "subjects": 1, "studies": 1, "series": 1, "instances": 2, "bytes": 1_048_576,
                "series_left_out": 1
            },
            "subjects": [{"id": "PQ2WJ6ZR4TA", "studies": [{"number": 1, "series": [
                {"number": "3.1", "modality": "ANN", "files": files}
            ]}]}],
            "regrouping_warnings": warnings,
            "burned_in": [
                {"series": "PQ2WJ6ZR4TA/1/4", "modality": "US", "included": false,
                 "reason": anon_core::BurnedInReason::FlaggedYes.to_string()},
                {"series": "PQ2WJ6ZR4TA/1/5", "modality": "SC", "included": true,
                 "reason": anon_core::BurnedInReason::ModalityWithoutFlag("SC".into()).to_string()},
            ],
            "audit": {"files": 4, "values_searched": 72, "findings": 6, "blocking": true,
                      "accepted": 2, "advisory": 1},
            // Every kind of finding, and both kinds of acceptance.
            "findings": [
                {"id": "F1", "type": "value", "path": "PQ2WJ6ZR4TA/1/3.1/00001.dcm",
                 "region": "header", "tag": "(0040,A730)[0]/(0040,A160)", "kind": "PatientName",
                 "blocking": true,
                 "accepted": {"profile": "anonymize-full", "profile_digest": "cd".repeat(32),
                              "at": "2026-05-04T09:12:40Z"}},
                {"id": "F2", "type": "coincidence", "path": "PQ2WJ6ZR4TA/1/3.1/00001.dcm",
                 "tag": "(0008,0070)", "kind": "InstitutionName", "blocking": false},
                {"id": "F3", "type": "private-element", "path": "PQ2WJ6ZR4TA/1/3.1/00002.dcm",
                 "tag": "(0029,1010)", "kind": "private-element", "blocking": true,
                 "accepted": {"by": "", "reason": "", "at": "2026-05-05T10:00:00Z"}},
                {"id": "F4", "type": "identity-not-marked-removed",
                 "path": "PQ2WJ6ZR4TA/1/3.1/00002.dcm", "kind": "identity-not-marked-removed",
                 "blocking": true},
                {"id": "F5", "type": "unreadable", "path": "PQ2WJ6ZR4TA/1/<PatientName>/00003.dcm",
                 "kind": "unreadable", "blocking": true},
                {"id": "F6", "type": "value", "path": "manifest.json", "region": "text",
                 "kind": "StudyID", "blocking": true},
                {"id": "F7", "type": "value", "path": "PQ2WJ6ZR4TA/1", "region": "path",
                 "kind": "UID", "blocking": true},
                {"id": "F8", "type": "value", "path": "PQ2WJ6ZR4TA/1/3.1/00002.dcm",
                 "region": "zip-metadata", "kind": "OtherPatientIDsSequence", "blocking": true},
                {"id": "F9", "type": "value", "path": "PQ2WJ6ZR4TA/1/3.1/00002.dcm",
                 "region": "pixel-data", "kind": "PatientBirthDate", "blocking": true},
            ],
            "release": {"id": "Q7K2M9XA4", "quarantined_at": "2026-05-04T09:12:40Z",
                        "released_at": "2026-05-05T10:00:00Z", "by": "", "reason": "",
                        "accepted": ["F3", "F4", "all"]},
        });
        let mut json_bytes = serde_json::to_vec_pretty(&json).expect("json");
        json_bytes.push(b'\n');
        let mut csv = b"subject,study,series,modality,path,blake3,bytes,findings\n".to_vec();
        for n in 1..=2 {
            csv.extend_from_slice(
                format!(
                    "PQ2WJ6ZR4TA,1,3.1,ANN,PQ2WJ6ZR4TA/1/3.1/{n:05}.dcm,{},524288,F{n} F1{n}\n",
                    "ab".repeat(32)
                )
                .as_bytes(),
            );
        }
        csv.extend_from_slice(b"PQ2WJ6ZR4TA,1,4,\"A,N\",PQ2WJ6ZR4TA/1/4/00001.dcm,ab,1,\n");
        (json_bytes, csv)
    }

    #[test]
    fn every_word_depot_writes_into_a_manifest_is_vocabulary() {
        let (json, csv) = full_manifest();
        for (rel, bytes) in [("manifest.json", json), ("manifest.csv", csv)] {
            let blanked = blank_manifest(&bytes, rel.ends_with(".csv"));
            let left: BTreeSet<String> = String::from_utf8_lossy(&blanked)
                .split(|c: char| !c.is_ascii_alphanumeric())
                .filter(|w| !w.is_empty())
                // Pseudonyms, numbers and hex digests are not words; shorter ones are never
                // searched.
                .filter(|w| w.len() >= MIN_NEEDLE && !w.starts_with("PQ2WJ6ZR4T"))
                .filter(|w| !w.chars().all(|c| c.is_ascii_hexdigit()))
                .map(str::to_string)
                .collect();
            assert!(left.is_empty(), "{rel}: not in the vocabulary: {left:?}");
        }
    }

    #[test]
    fn names_that_are_manifest_words_are_not_found_in_the_manifest_but_planted_values_are() {
        let (json, csv) = full_manifest();
        let names = [
            "Path^Anna",
            "Smith^Series",
            "Kind^Otto",
            "May^June",
            "Level^Ann",
            "Basic^Reason",
            "Full^Text",
            // Words of the list of findings and of a release.
            "Value^Header",
            "Coincidence^Unreadable",
            "Tag^Region",
            "Release^Accepted",
        ];
        let mut needles: Vec<Needle> = names
            .iter()
            .map(|n| Needle::new("PatientName", ValueKind::PersonName, *n))
            .collect();
        // IDs equal to a tag's group or element, an item number, a finding ID, a date in a
        // time depot wrote.
        for id in ["0010", "A730", "0029", "1010", "F12", "Q7K2M9XA4"] {
            needles.push(Needle::new("StudyID", ValueKind::Identifier, id));
        }
        needles.push(Needle::new("PatientBirthDate", ValueKind::Date, "20260504"));
        let a = auditor(&needles);
        assert_eq!(a.scan_file("manifest.json", &json), vec![], "manifest.json");
        assert_eq!(a.scan_file("manifest.csv", &csv), vec![], "manifest.csv");
        // A real value planted in the manifest is found; a 6-digit ID is not taken for a part
        // of a hash or a byte count.
        let id = auditor(&[
            Needle::new("PatientID", ValueKind::Identifier, "MRN000040"),
            Needle::new("OtherPatientIDs", ValueKind::Identifier, "048576"),
            Needle::new("PatientName", ValueKind::PersonName, "Doe^Jane"),
        ]);
        assert_eq!(id.scan_file("manifest.json", &json), vec![]);
        let mut planted = json.clone();
        let at = memchr::memmem::find(&planted, b"\"level\"").expect("level");
        planted.splice(at..at, br#""note": "Doe Jane MRN000040", "#.iter().copied());
        let f = id.scan_file("manifest.json", &planted);
        assert_eq!(
            labels_of(&f),
            ["PatientID", "PatientName"].map(String::from).into()
        );
        let mut row = csv.clone();
        row.extend_from_slice(b"Doe,1,3,MR,x,y,1\n");
        assert_eq!(labels_of(&id.scan_file("manifest.csv", &row)).len(), 1);
        // A value in a release's reason (free text) is found.
        let text = String::from_utf8(json).expect("utf-8");
        let released = text.replacen(r#""reason": """#, r#""reason": "checked MRN000040""#, 1);
        let f = id.scan_file("manifest.json", released.as_bytes());
        assert_eq!(labels_of(&f), ["PatientID"].map(String::from).into());
    }
}
