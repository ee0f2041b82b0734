//! Clean (C) conformance: for every row of Table E.1-1 whose action is C under a run (the
//! Basic Profile alone and with each of the ten options, as the table's eleven columns), the
//! cleaned value is planted holding the values of other attributes that the same run removes,
//! empties, replaces or remaps (physicians', operators' names, addresses, telephone numbers,
//! institution and station names, IDs, an e-mail address, a UID), both those at the top level
//! and those nested in a sequence item, plus free-text patterns (e-mail, URL, telephone
//! number, a written date). Every value must be gone from the cleaned value, at the top level
//! and nested, and the rest of the text must stay.
//!
//! Every row is planted (as in `table_conformance.rs`, which checks the other actions), so the
//! check runs over the same 656 rows × 11 columns = 7,216 (row, run) pairs as the project's
//! independent checker; a pair fails when the row's top-level or nested copy fails.

use std::str::FromStr;

use anon_core::table::{TableRow, TagPattern, table};
use anon_core::{Action, DeidOption, Deidentifier, Key, Level, Profile};
use dicom_core::header::Header;
use dicom_core::value::{DataSetSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::mem::InMemElement;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{DefaultDicomObject, InMemDicomObject};

/// A sequence the table does not list: its item carries the nested copy of every row.
const CONTAINER: Tag = Tag(0x0008, 0x1115); // ReferencedSeriesSequence

/// An attribute whose value the runs remove (or keep, by an option), planted with a
/// distinctive value at the top level and another one nested.
struct Witness {
    tag: Tag,
    vr: VR,
    top: &'static str,
    nested: &'static str,
}

const fn w(tag: Tag, vr: VR, top: &'static str, nested: &'static str) -> Witness {
    Witness {
        tag,
        vr,
        top,
        nested,
    }
}

const WITNESSES: [Witness; 15] = [
    w(
        tags::OPERATORS_NAME,
        VR::PN,
        "Opsahl^Oddvar",
        "Nesbitt^Norbert",
    ),
    w(
        tags::PERFORMING_PHYSICIAN_NAME,
        VR::PN,
        "Pemberton^Priscilla",
        "Fairweather^Fenella",
    ),
    w(
        tags::REFERRING_PHYSICIAN_NAME,
        VR::PN,
        "Rasmussen^Ragnhild",
        "Gallagher^Gideon",
    ),
    w(
        tags::REQUESTING_PHYSICIAN,
        VR::PN,
        "Quigley^Quentin",
        "Holloway^Hortense",
    ),
    w(
        tags::PHYSICIANS_OF_RECORD,
        VR::PN,
        "Vandermeer^Valentin",
        "Ingleby^Isolde",
    ),
    w(
        tags::NAME_OF_PHYSICIANS_READING_STUDY,
        VR::PN,
        "Yarborough^Yolanda",
        "Jessop^Jolyon",
    ),
    w(
        tags::REFERRING_PHYSICIAN_ADDRESS,
        VR::ST,
        "17 Juniper Crescent Bramblewick",
        "9 Wren Lane Oddington",
    ),
    w(
        tags::REFERRING_PHYSICIAN_TELEPHONE_NUMBERS,
        VR::SH,
        "0163 2960 118",
        "0163 2960 775",
    ),
    w(
        tags::INSTITUTION_NAME,
        VR::LO,
        "Kildare Infirmary",
        "Lochaber General",
    ),
    w(
        tags::INSTITUTIONAL_DEPARTMENT_NAME,
        VR::LO,
        "Thornbury Neuroradiology",
        "Ravensworth Imaging",
    ),
    w(tags::STATION_NAME, VR::SH, "LARKSPUR3", "MARLOWE7"),
    w(tags::DEVICE_SERIAL_NUMBER, VR::LO, "SN88412Q", "SN55107K"),
    w(tags::STUDY_ID, VR::SH, "STU99812", "STU44519"),
    w(
        tags::PERSON_TELECOM_INFORMATION,
        VR::LT,
        "desk.kildare@infirmary.example",
        "desk.lochaber@general.example",
    ),
    w(
        tags::STUDY_INSTANCE_UID,
        VR::UI,
        "1.2.826.0.1.3680043.9.7.4242001",
        "1.2.826.0.1.3680043.9.7.4242002",
    ),
];

/// Text a cleaned long value must keep, in each VR family.
const KEEP_LONG: &str = "T1 MPRAGE sag, reviewed by Dr";
const KEEP_LO: &str = "T1 sag by Dr";
const KEEP_SH: &str = "T1";
const KEEP_CS: &str = "COERCE";
/// Free-text patterns no cleaned long text may keep (besides the witnesses).
const PATTERNS: [&str; 4] = [
    "p.pemberton@kildare.example",
    "https://pacs.kildare.example/viewer?id=7",
    "+44 1632 960118",
    "2020-03-15",
];

fn vr_of(row: &TableRow) -> VR {
    VR::from_str(row.vr).unwrap_or(VR::LO)
}

fn tag_of(row: &TableRow) -> Option<Tag> {
    match row.pattern {
        TagPattern::Exact(t) => Some(t),
        _ => None,
    }
}

/// The columns of the table: the Basic Profile alone, then each option alone.
fn columns() -> Vec<Vec<DeidOption>> {
    let mut out = vec![Vec::new()];
    out.extend(
        DeidOption::ALL
            .into_iter()
            .filter(|o| *o != DeidOption::RetainPatientIdHash)
            .map(|o| vec![o]),
    );
    out
}

/// The action a row gets under `options` (an option's C beats another option's K; depot's
/// pseudonym on PatientID and PatientName).
fn expected(row: &TableRow, options: &[DeidOption]) -> Action {
    if let Some(t) = tag_of(row)
        && (t == tags::PATIENT_ID || t == tags::PATIENT_NAME)
    {
        return Action::P;
    }
    let mut got = None;
    for o in options {
        if let Some(a) = row.option_action(*o) {
            got = match got {
                Some(Action::C) => Some(Action::C),
                _ => Some(a),
            };
        }
    }
    got.unwrap_or(row.basic)
}

fn row_of(tag: Tag) -> &'static TableRow {
    table()
        .iter()
        .find(|r| r.pattern == TagPattern::Exact(tag))
        .expect("witness is a table row")
}

fn witness_of(tag: Tag) -> Option<&'static Witness> {
    WITNESSES.iter().find(|w| w.tag == tag)
}

/// A witness value as someone would write it in text: a name as "Given Family".
fn written(value: &str) -> String {
    let mut parts: Vec<&str> = value.split('^').filter(|p| !p.is_empty()).collect();
    parts.reverse();
    parts.join(" ")
}

/// Every witness value as written, top-level and nested.
fn all_written() -> Vec<String> {
    WITNESSES
        .iter()
        .flat_map(|w| [written(w.top), written(w.nested)])
        .collect()
}

/// A short form of witness `i` (of the top and nested values, in turn): a name's family name,
/// another value whole.
fn short_witness(i: usize) -> String {
    let w = &WITNESSES[(i / 2) % WITNESSES.len()];
    let v = if i.is_multiple_of(2) { w.top } else { w.nested };
    if w.vr == VR::PN {
        v.split('^').next().unwrap_or(v).to_string()
    } else {
        v.to_string()
    }
}

fn long_text(n: usize) -> String {
    format!(
        "{KEEP_LONG} {}; mail {}, see {}, call {}, scanned {}; Muster Maximilian row {n}",
        all_written().join(", "),
        PATTERNS[0],
        PATTERNS[1],
        PATTERNS[2],
        PATTERNS[3]
    )
}

/// A value for a row that some column cleans: the text to keep plus values to cut.
fn cleanable(tag: Tag, vr: VR, n: usize) -> PrimitiveValue {
    match vr {
        VR::LT | VR::ST | VR::UT | VR::UC => PrimitiveValue::from(long_text(n)),
        VR::LO => PrimitiveValue::from(format!(
            "{KEEP_LO} {}, {} Muster {n}",
            short_witness(n),
            short_witness(n + 7)
        )),
        VR::SH => PrimitiveValue::from(format!("{KEEP_SH} {} {n}", short_witness(n))),
        VR::AE => PrimitiveValue::from(format!("{}_MUSTER", short_witness(n).to_uppercase())),
        VR::CS => PrimitiveValue::from(format!(
            "{KEEP_CS} {} MUSTER",
            short_witness(2 * (n % 6)).to_uppercase()
        )),
        VR::OB | VR::OW | VR::UN => PrimitiveValue::U8(binary(n).into()),
        _ => PrimitiveValue::from(format!("{tag} {n}")),
    }
}

fn binary(n: usize) -> Vec<u8> {
    let mut b = b"xx".to_vec();
    b.extend(short_witness(n).to_uppercase().bytes());
    b.extend(b"yy");
    b.extend(short_witness(n + 1).bytes());
    b.extend(b"zz MUSTER");
    b
}

/// A sequence item holding text to clean.
fn cleanable_item(n: usize) -> InMemDicomObject {
    InMemDicomObject::from_element_iter([
        DataElement::new(tags::CODE_VALUE, VR::SH, PrimitiveValue::from("MARK")),
        DataElement::new(
            tags::CODE_MEANING,
            VR::LO,
            PrimitiveValue::from(format!("{KEEP_LO} {} {n}", short_witness(n))),
        ),
        DataElement::new(tags::TEXT_VALUE, VR::UT, PrimitiveValue::from(long_text(n))),
    ])
}

fn cleaned_by_some_column(row: &TableRow) -> bool {
    DeidOption::ALL
        .into_iter()
        .any(|o| row.option_action(o) == Some(Action::C))
}

fn plant(row: &TableRow, tag: Tag, nested: bool, n: usize) -> InMemElement {
    let vr = vr_of(row);
    if let Some(w) = witness_of(tag) {
        let v = if nested { w.nested } else { w.top };
        return DataElement::new(tag, w.vr, PrimitiveValue::from(v));
    }
    if tag == tags::PATIENT_NAME {
        return DataElement::new(tag, vr, PrimitiveValue::from("Muster^Maximilian"));
    }
    if tag == tags::PATIENT_ID {
        return DataElement::new(tag, vr, PrimitiveValue::from("ID4711"));
    }
    if tag == tags::PATIENT_BIRTH_DATE {
        return DataElement::new(tag, vr, PrimitiveValue::from("19700101"));
    }
    let cleanable_row = cleaned_by_some_column(row);
    let v = match vr {
        VR::SQ => {
            let item = if cleanable_row {
                cleanable_item(n)
            } else {
                InMemDicomObject::from_element_iter([DataElement::new(
                    tags::CODE_VALUE,
                    VR::SH,
                    PrimitiveValue::from("MARK"),
                )])
            };
            return DataElement::new(
                tag,
                VR::SQ,
                DataSetSequence::new(vec![item], Length::UNDEFINED),
            );
        }
        VR::UI => PrimitiveValue::from(format!("1.2.826.0.1.3680043.9.7.{n}")),
        VR::DA => PrimitiveValue::from("20200315"),
        VR::DT => PrimitiveValue::from("20200315101010"),
        VR::TM => PrimitiveValue::from("101010"),
        VR::DS => PrimitiveValue::from("12.5"),
        VR::IS => PrimitiveValue::from("7"),
        VR::AS => PrimitiveValue::from("045Y"),
        VR::US => PrimitiveValue::U16([5].into_iter().collect()),
        _ if cleanable_row => cleanable(tag, vr, n),
        VR::AE => PrimitiveValue::from(format!("AE{n}")),
        VR::CS => PrimitiveValue::from("MUSTER"),
        VR::UR => PrimitiveValue::from("http://muster.example/x"),
        VR::OB | VR::UN | VR::OW => PrimitiveValue::U8(b"xxMUSTERxx".iter().copied().collect()),
        _ => PrimitiveValue::from(format!("Value {n} of Muster")),
    };
    let vr = if vr == VR::OW { VR::OB } else { vr };
    DataElement::new(tag, vr, v)
}

/// The wildcard rows' planted elements: curve label and data, overlay data and comments, a
/// safe private code string and short string (kept, cleaned, under retain-safe-private) and an
/// unsafe one.
fn wildcard_elements() -> Vec<InMemElement> {
    vec![
        DataElement::new(
            Tag(0x5000, 0x2500),
            VR::LO,
            PrimitiveValue::from(format!("{KEEP_LO} {} on curve", short_witness(0))),
        ),
        DataElement::new(
            Tag(0x5000, 0x3000),
            VR::OB,
            PrimitiveValue::U8(binary(2).into()),
        ),
        DataElement::new(
            Tag(0x6000, 0x3000),
            VR::OB,
            PrimitiveValue::U8(binary(4).into()),
        ),
        DataElement::new(
            Tag(0x6000, 0x4000),
            VR::LT,
            PrimitiveValue::from(long_text(0)),
        ),
        DataElement::new(
            Tag(0x0043, 0x0010),
            VR::LO,
            PrimitiveValue::from("GEMS_PARM_01"),
        ),
        DataElement::new(
            Tag(0x0043, 0x1027),
            VR::SH,
            PrimitiveValue::from(format!("{KEEP_SH} {} pitch", short_witness(6))),
        ),
        DataElement::new(
            Tag(0x01F1, 0x0010),
            VR::LO,
            PrimitiveValue::from("ELSCINT1"),
        ),
        DataElement::new(
            Tag(0x01F1, 0x1001),
            VR::CS,
            PrimitiveValue::from(format!("{KEEP_CS} {}", short_witness(2).to_uppercase())),
        ),
        DataElement::new(Tag(0x01F1, 0x1099), VR::LO, PrimitiveValue::from("Opsahl")),
    ]
}

/// Wildcard rows: the planted tags each one covers.
fn wildcard_tags(pattern: TagPattern) -> Vec<Tag> {
    match pattern {
        TagPattern::Curve => vec![Tag(0x5000, 0x2500), Tag(0x5000, 0x3000)],
        TagPattern::Overlay(e) => vec![Tag(0x6000, e)],
        TagPattern::Private => vec![Tag(0x0043, 0x1027), Tag(0x01F1, 0x1001)],
        TagPattern::Exact(t) => vec![t],
    }
}

fn build() -> DefaultDicomObject {
    let mut top: Vec<InMemElement> = Vec::new();
    let mut nested: Vec<InMemElement> = Vec::new();
    for (n, row) in table().iter().enumerate() {
        let Some(tag) = tag_of(row) else { continue };
        top.push(plant(row, tag, false, n));
        nested.push(plant(row, tag, true, n));
    }
    top.extend(wildcard_elements());
    nested.extend(wildcard_elements());
    top.push(DataElement::new(
        CONTAINER,
        VR::SQ,
        DataSetSequence::new(
            vec![InMemDicomObject::from_element_iter(nested)],
            Length::UNDEFINED,
        ),
    ));
    InMemDicomObject::from_element_iter(top)
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
                .media_storage_sop_class_uid(uids::MR_IMAGE_STORAGE)
                .media_storage_sop_instance_uid("1.2.826.0.1.3680043.9.7.999"),
        )
        .expect("meta")
}

/// The texts a run must cut from every cleaned value: each witness the run removes, empties,
/// replaces or remaps (names part by part), at both depths, and the subject's name.
fn forbidden(options: &[DeidOption]) -> Vec<String> {
    let mut out = vec!["Muster".to_string(), "Maximilian".to_string()];
    for w in &WITNESSES {
        if matches!(expected(row_of(w.tag), options), Action::K | Action::C) {
            continue;
        }
        for v in [w.top, w.nested] {
            if w.vr == VR::PN {
                out.extend(v.split('^').map(str::to_string));
            } else {
                out.push(v.to_string());
            }
        }
    }
    out
}

fn text_of(e: &InMemElement) -> Option<String> {
    match e.value() {
        Value::Primitive(p) => Some(String::from_utf8_lossy(&p.to_bytes()).into_owned()),
        _ => None,
    }
}

fn contains_ci(hay: &str, needle: &str) -> bool {
    hay.to_lowercase().contains(&needle.to_lowercase())
}

/// Checks a cleaned primitive value: nothing forbidden left, the rest kept.
fn check_value(
    before: &InMemElement,
    after: &InMemElement,
    forbidden: &[String],
    modified_dates: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    let (Some(b), Some(a)) = (text_of(before), text_of(after)) else {
        return out;
    };
    for f in forbidden {
        if contains_ci(&a, f) {
            out.push(format!("{f:?} left"));
        }
    }
    let long = matches!(before.vr(), VR::LT | VR::ST | VR::UT | VR::UC);
    if long {
        for p in PATTERNS {
            if a.contains(p) {
                out.push(format!("pattern {p:?} left"));
            }
        }
        if modified_dates && !date_shifted(&a) {
            out.push("written date neither shifted nor kept as a date".to_string());
        }
    }
    let keep = match before.vr() {
        VR::LT | VR::ST | VR::UT | VR::UC => Some(KEEP_LONG),
        VR::LO if b.starts_with(KEEP_LO) => Some(KEEP_LO),
        VR::SH if b.starts_with(KEEP_SH) => Some(KEEP_SH),
        VR::CS => Some(KEEP_CS),
        _ => None,
    };
    if let Some(k) = keep
        && !a.contains(k)
    {
        out.push(format!("lost the text to keep {k:?}: {a:?}"));
    }
    if matches!(before.vr(), VR::OB | VR::OW | VR::UN) {
        for k in ["xx", "yy", "zz"] {
            if !a.contains(k) {
                out.push(format!("lost the bytes to keep {k:?}"));
            }
        }
    }
    if before.vr() == VR::AE {
        let v = a.trim_end_matches(['\0', ' ']);
        if v.is_empty() || v == b.trim() || v.len() > 16 {
            out.push(format!("AE title not a pseudonym: {v:?}"));
        }
    }
    out
}

/// Whether `text` holds a YYYY-MM-DD date other than the planted 2020-03-15 (shifted).
fn date_shifted(text: &str) -> bool {
    text.as_bytes().windows(10).any(|w| {
        let s = String::from_utf8_lossy(w);
        let b = s.as_bytes();
        b[4] == b'-'
            && b[7] == b'-'
            && s.chars().filter(char::is_ascii_digit).count() == 8
            && s != "2020-03-15"
    })
}

/// Checks one planted C element (primitive or sequence).
fn check_clean(
    before: &InMemElement,
    after: Option<&InMemElement>,
    forbidden: &[String],
    modified_dates: bool,
) -> Vec<String> {
    let Some(after) = after else {
        return vec!["removed".to_string()];
    };
    match (before.value(), after.value()) {
        (Value::Sequence(b), Value::Sequence(a)) => {
            if a.items().len() != b.items().len() {
                return vec!["items lost".to_string()];
            }
            let mut out = Vec::new();
            for (bi, ai) in b.items().iter().zip(a.items()) {
                for be in bi.iter() {
                    let t = be.tag();
                    out.extend(
                        check_clean(be, ai.get(t), forbidden, modified_dates)
                            .into_iter()
                            .map(|f| format!("{t}: {f}")),
                    );
                }
            }
            out
        }
        (Value::Sequence(_), _) => vec!["sequence replaced".to_string()],
        _ if matches!(before.vr(), VR::DA | VR::DT | VR::TM | VR::UI) => Vec::new(),
        _ => check_value(before, after, forbidden, modified_dates),
    }
}

/// The failures of one run, per row: (row index, description).
fn run(level: Level, options: &[DeidOption]) -> Vec<(usize, String)> {
    let key = Key::from_bytes([42; 32]);
    let profile = Profile::builtin(level, options).expect("profile");
    let deid = Deidentifier::new(profile, key);
    let original = build();
    let mut obj = original.clone();
    let subject = deid.subject_context(&original);
    deid.apply(&mut obj, &subject).expect("apply");
    let nested = |o: &DefaultDicomObject| {
        o.get(CONTAINER)
            .and_then(|e| e.items())
            .and_then(|i| i.first())
            .cloned()
            .expect("nested item")
    };
    let (before_nested, after_nested) = (nested(&original), nested(&obj));
    let forbidden = forbidden(options);
    let modified = options.contains(&DeidOption::RetainLongitudinalModifiedDates);
    let mut failures = Vec::new();
    for (i, row) in table().iter().enumerate() {
        if expected(row, options) != Action::C {
            continue;
        }
        for (where_, before, after) in [
            ("top", &*original, &*obj),
            ("nested", &before_nested, &after_nested),
        ] {
            for tag in wildcard_tags(row.pattern) {
                let b = before.get(tag).expect("planted");
                for f in check_clean(b, after.get(tag), &forbidden, modified) {
                    failures.push((
                        i,
                        format!(
                            "[{level} {options:?} {where_}] {} {} {tag}: {f}",
                            row.pattern, row.keyword
                        ),
                    ));
                }
            }
        }
    }
    failures
}

#[test]
fn clean_rows_lose_every_removed_value_under_each_column() {
    let mut pairs = 0;
    let mut failed_pairs = 0;
    let mut shown = Vec::new();
    for options in columns() {
        let failures = run(Level::Basic, &options);
        pairs += table().len();
        let mut rows: Vec<usize> = failures.iter().map(|(i, _)| *i).collect();
        rows.sort_unstable();
        rows.dedup();
        failed_pairs += rows.len();
        shown.extend(failures.into_iter().map(|(_, f)| f));
    }
    assert_eq!(pairs, 7_216, "656 rows × 11 columns");
    assert!(
        failed_pairs == 0,
        "{failed_pairs} of {pairs} (row, column) checks fail; first 60 of {} failures:\n{}",
        shown.len(),
        shown[..shown.len().min(60)].join("\n")
    );
}

#[test]
fn anonymize_full_clean_rows_lose_every_removed_value() {
    for options in columns() {
        let failures = run(Level::AnonymizeFull, &options);
        assert!(
            failures.is_empty(),
            "{} failures:\n{}",
            failures.len(),
            failures
                .iter()
                .take(40)
                .map(|(_, f)| f.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[test]
fn options_together_clean_rows_lose_every_removed_value() {
    let options = [
        DeidOption::RetainDeviceIdentity,
        DeidOption::RetainLongitudinalModifiedDates,
        DeidOption::RetainPatientCharacteristics,
        DeidOption::CleanDescriptors,
        DeidOption::CleanStructuredContent,
        DeidOption::CleanGraphics,
        DeidOption::RetainSafePrivate,
    ];
    let failures = run(Level::AnonymizeFull, &options);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures
            .iter()
            .take(40)
            .map(|(_, f)| f.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
