//! Table-driven conformance: every row of the project's copy of PS3.15 Table E.1-1 is planted
//! (with a VR-appropriate value, at the top level and inside a sequence item), the engine runs
//! with the Basic Profile alone and with each option, and the result per row must match the
//! row's action: X absent, Z empty, D non-empty and different, K unchanged, U remapped
//! consistently, C without the subject's identifiers (dates shifted under modified dates).

use std::str::FromStr;

use anon_core::table::{TableRow, TagPattern, table};
use anon_core::{Action, DeidOption, Deidentifier, Key, Level, Profile, SubjectContext};
use dicom_core::header::{HasLength, Header};
use dicom_core::value::{DataSetSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::mem::InMemElement;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{DefaultDicomObject, InMemDicomObject};

const NAME: &str = "Muster^Maximilian";
const ID: &str = "ID4711";
/// A sequence the table does not list: its items carry the nested copies of every row.
const CONTAINER: Tag = Tag(0x0008, 0x1115); // ReferencedSeriesSequence

fn vr_of(row: &TableRow) -> VR {
    VR::from_str(row.vr).unwrap_or(VR::LO)
}

fn tag_of(row: &TableRow) -> Option<Tag> {
    match row.pattern {
        TagPattern::Exact(t) => Some(t),
        _ => None,
    }
}

/// A value for `tag` with VR `vr`, carrying the subject's surname where text allows it.
fn plant(tag: Tag, vr: VR, n: usize) -> InMemElement {
    if tag == tags::PATIENT_NAME {
        return DataElement::new(tag, vr, PrimitiveValue::from(NAME));
    }
    if tag == tags::PATIENT_ID {
        return DataElement::new(tag, vr, PrimitiveValue::from(ID));
    }
    if tag == tags::PATIENT_BIRTH_DATE {
        return DataElement::new(tag, vr, PrimitiveValue::from("19700101"));
    }
    let v = match vr {
        VR::SQ => {
            let item = InMemDicomObject::from_element_iter([DataElement::new(
                tags::CODE_VALUE,
                VR::SH,
                PrimitiveValue::from("MARK"),
            )]);
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
        VR::AE => PrimitiveValue::from("MUSTER AE"),
        VR::CS => PrimitiveValue::from("MUSTER"),
        VR::SH => PrimitiveValue::from(format!("Muster {n}")),
        VR::UR => PrimitiveValue::from("http://muster.example/x"),
        VR::OB | VR::UN | VR::OW => PrimitiveValue::U8(b"xxMUSTERxx".iter().copied().collect()),
        _ => PrimitiveValue::from(format!("Note on Muster Maximilian, row {n}")),
    };
    let vr = if vr == VR::OW { VR::OB } else { vr };
    DataElement::new(tag, vr, v)
}

fn build() -> DefaultDicomObject {
    let mut top: Vec<InMemElement> = Vec::new();
    let mut nested: Vec<InMemElement> = Vec::new();
    for (n, row) in table().iter().enumerate() {
        let Some(tag) = tag_of(row) else { continue };
        top.push(plant(tag, vr_of(row), n));
        nested.push(plant(tag, vr_of(row), n));
    }
    // Wildcard rows: a curve element, overlay data and comments, and a private block.
    for set in [&mut top, &mut nested] {
        set.push(DataElement::new(
            Tag(0x5000, 0x3000),
            VR::OB,
            PrimitiveValue::U8(b"MUSTERxx".iter().copied().collect()),
        ));
        set.push(DataElement::new(
            Tag(0x6000, 0x3000),
            VR::OB,
            PrimitiveValue::U8(b"MUSTERxx".iter().copied().collect()),
        ));
        set.push(DataElement::new(
            Tag(0x6000, 0x4000),
            VR::LT,
            PrimitiveValue::from("Overlay by Muster"),
        ));
        set.push(DataElement::new(
            Tag(0x0019, 0x0010),
            VR::LO,
            PrimitiveValue::from("GEMS_ACQU_01"),
        ));
        set.push(DataElement::new(
            Tag(0x0019, 0x1023),
            VR::DS,
            PrimitiveValue::from("1.5"),
        ));
        set.push(DataElement::new(
            Tag(0x0019, 0x1099),
            VR::LO,
            PrimitiveValue::from("Muster"),
        ));
    }
    let item = InMemDicomObject::from_element_iter(nested);
    top.push(DataElement::new(
        CONTAINER,
        VR::SQ,
        DataSetSequence::new(vec![item], Length::UNDEFINED),
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

/// The action Table E.1-1 gives a row under `options` (depot's pseudonym on the two subject
/// attributes; an option's C beats another option's K).
fn expected(row: &TableRow, options: &[DeidOption]) -> Action {
    if let Some(t) = tag_of(row) {
        if t == tags::PATIENT_ID || t == tags::PATIENT_NAME {
            return Action::P;
        }
        if t == tags::ISSUER_OF_PATIENT_ID && options.contains(&DeidOption::RetainPatientIdHash) {
            return Action::P;
        }
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

/// Days since 1970-01-01 of the `YYYYMMDD` start of a DA/DT value (−1 if unreadable).
fn day_number(v: &str) -> i64 {
    let num = |a: usize, b: usize| {
        v.get(a..b)
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(-1)
    };
    let (y, m, d) = (num(0, 4), num(4, 6), num(6, 8));
    if y < 0 || m < 1 || d < 1 {
        return -1;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

fn contains_muster(e: &InMemElement) -> bool {
    match e.value() {
        Value::Primitive(p) => {
            let b = p.to_bytes();
            String::from_utf8_lossy(&b)
                .to_lowercase()
                .contains("muster")
        }
        _ => false,
    }
}

fn items(e: &InMemElement) -> Option<usize> {
    e.items().map(<[InMemDicomObject]>::len)
}

/// Checks one planted attribute; returns a description of the failure, if any.
fn check(
    deid: &Deidentifier,
    subject: &SubjectContext,
    row: &TableRow,
    action: Action,
    before: &InMemElement,
    after: Option<&InMemElement>,
) -> Option<String> {
    let tag = before.tag();
    let is_seq = before.vr() == VR::SQ;
    let fail = |why: &str| Some(format!("{} {} {}: {why}", row.pattern, row.keyword, action));
    let value = |e: &InMemElement| e.to_str().map(|s| s.trim().to_string()).unwrap_or_default();
    match action {
        Action::X => after
            .is_some()
            .then(|| format!("{} {} X: still present", row.pattern, row.keyword)),
        Action::Z | Action::XZ => match after {
            None => fail("removed, expected empty"),
            Some(a) if is_seq && items(a) != Some(0) => fail("sequence not emptied"),
            Some(a) if !is_seq && !a.is_empty() => fail("not empty"),
            _ => None,
        },
        Action::K => match after {
            None => fail("removed"),
            Some(a) if is_seq && items(a) != items(before) => fail("items changed"),
            Some(a) if !is_seq && a.value() != before.value() => fail("value changed"),
            _ => None,
        },
        Action::U => match after {
            None => fail("removed"),
            Some(a) if value(a) != deid.map_uid(&value(before)) => fail("not the keyed mapping"),
            _ => None,
        },
        Action::P => match after {
            None => fail("removed"),
            Some(a)
                if (tag == tags::PATIENT_ID || tag == tags::PATIENT_NAME)
                    && value(a) != subject.pseudonym =>
            {
                fail("not the subject pseudonym")
            }
            Some(a) if value(a).is_empty() || value(a) == value(before) => fail("not replaced"),
            _ => None,
        },
        Action::C => match after {
            None => fail("removed"),
            Some(a) if is_seq && items(a) != items(before) => fail("items lost"),
            Some(a) if matches!(before.vr(), VR::DA | VR::DT) => {
                let v = value(a);
                let want = day_number(&value(before)) + i64::from(subject.date_offset_days);
                (day_number(&v) != want || v.get(8..) != value(before).get(8..)).then(|| {
                    format!(
                        "{} {} C: date not shifted by the subject offset ({v})",
                        row.pattern, row.keyword
                    )
                })
            }
            Some(a) if before.vr() == VR::TM => {
                (a.value() != before.value()).then(|| "time changed".to_string())
            }
            Some(a) if before.vr() == VR::UI => {
                (value(a) != deid.map_uid(&value(before))).then(|| "uid".to_string())
            }
            Some(a) if contains_muster(a) => fail("identifier left"),
            _ => None,
        },
        // X/Z/U* keeps the sequence and remaps the UIDs inside (other content processed).
        Action::XZU => match after {
            None => fail("removed"),
            Some(a) if is_seq && items(a) != items(before) => fail("items lost"),
            _ => None,
        },
        // D and the compound codes resolved to D: a non-empty value that says nothing of the
        // original; for a sequence, its items with every value inside replaced by a dummy.
        Action::D | Action::ZD | Action::XD | Action::XZD => match after {
            None => fail("removed"),
            Some(a) if is_seq && items(a).unwrap_or(0) == 0 => fail("sequence emptied"),
            Some(a) if is_seq && sequence_mentions(a, "MARK") => fail("original items kept"),
            Some(a) if !is_seq && (a.is_empty() || a.value() == before.value()) => {
                fail("not a new non-empty value")
            }
            _ => None,
        },
    }
}

/// Whether any text value inside the sequence (at any depth) contains `needle`.
fn sequence_mentions(e: &InMemElement, needle: &str) -> bool {
    e.items().unwrap_or_default().iter().any(|item| {
        item.iter().any(|inner| {
            if inner.vr() == VR::SQ {
                sequence_mentions(inner, needle)
            } else {
                inner.to_str().is_ok_and(|s| s.contains(needle))
            }
        })
    })
}

fn run(level: Level, options: &[DeidOption]) -> Vec<String> {
    let key = Key::from_bytes([42; 32]);
    let profile = Profile::builtin(level, options).expect("profile");
    let deid = Deidentifier::new(profile, key);
    let original = build();
    let mut obj = original.clone();
    let subject = deid.subject_context(&original);
    let report = deid.apply(&mut obj, &subject).expect("apply");
    assert!(!report.actions.is_empty());
    let before_nested = original
        .get(CONTAINER)
        .and_then(|e| e.items())
        .and_then(|i| i.first())
        .expect("nested before");
    let after_nested = obj
        .get(CONTAINER)
        .and_then(|e| e.items())
        .and_then(|i| i.first())
        .expect("nested after");
    let mut failures = Vec::new();
    for row in table() {
        let Some(tag) = tag_of(row) else { continue };
        let action = expected(row, options);
        for (where_, before, after) in [
            ("top", &*original, &*obj),
            ("nested", before_nested, after_nested),
        ] {
            let b = before.get(tag).expect("planted");
            if let Some(f) = check(&deid, &subject, row, action, b, after.get(tag)) {
                failures.push(format!("[{level} {options:?} {where_}] {f}"));
            }
        }
    }
    // Wildcard rows.
    let graphics = options.contains(&DeidOption::CleanGraphics);
    for (where_, after) in [("top", &*obj), ("nested", after_nested)] {
        for t in [
            Tag(0x5000, 0x3000),
            Tag(0x6000, 0x3000),
            Tag(0x6000, 0x4000),
        ] {
            match (graphics, after.get(t)) {
                (false, Some(_)) => failures.push(format!("[{where_}] {t} should be removed")),
                (true, None) => {
                    failures.push(format!("[{where_}] {t} should be cleaned, not removed"))
                }
                (true, Some(e)) if contains_muster(e) => {
                    failures.push(format!("[{where_}] {t} not cleaned"))
                }
                _ => {}
            }
        }
        let safe = options.contains(&DeidOption::RetainSafePrivate);
        let kept = |t: Tag| after.get(t).is_some();
        if kept(Tag(0x0019, 0x1099)) {
            failures.push(format!("[{where_}] unsafe private attribute kept"));
        }
        if safe != kept(Tag(0x0019, 0x1023)) || safe != kept(Tag(0x0019, 0x0010)) {
            failures.push(format!(
                "[{where_}] safe private attribute handled wrongly (safe option {safe})"
            ));
        }
    }
    // The meta names the new instance, and the markers are there.
    let sop = obj
        .get(tags::SOP_INSTANCE_UID)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim().to_string());
    if Some(
        obj.meta()
            .media_storage_sop_instance_uid
            .trim_end_matches('\0')
            .to_string(),
    ) != sop
    {
        failures.push("meta SOP Instance UID differs from the data set".to_string());
    }
    let marker = |t: Tag| {
        obj.get(t)
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim().to_string())
    };
    if marker(tags::PATIENT_IDENTITY_REMOVED).as_deref() != Some("YES") {
        failures.push("PatientIdentityRemoved missing".to_string());
    }
    let codes: Vec<String> = obj
        .get(tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE)
        .and_then(|e| e.items())
        .map(|items| {
            items
                .iter()
                .filter_map(|i| {
                    i.get(tags::CODE_VALUE)?
                        .to_str()
                        .ok()
                        .map(|s| s.trim().to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    if codes.first().map(String::as_str) != Some("113100") {
        failures.push(format!("Basic Profile code missing: {codes:?}"));
    }
    for o in options {
        if let Some(c) = o.code().filter(|c| !codes.iter().any(|x| x == c)) {
            failures.push(format!("code {c} of {o} missing"));
        }
    }
    failures
}

fn assert_clean(level: Level, options: &[DeidOption]) {
    let failures = run(level, options);
    assert!(
        failures.is_empty(),
        "{} failures, first 40:\n{}",
        failures.len(),
        failures[..failures.len().min(40)].join("\n")
    );
}

#[test]
fn basic_profile_every_row() {
    assert_clean(Level::Basic, &[]);
}

#[test]
fn anonymize_full_every_row() {
    assert_clean(Level::AnonymizeFull, &[]);
}

#[test]
fn each_option_every_row() {
    for o in DeidOption::ALL {
        assert_clean(Level::Basic, &[o]);
        assert_clean(Level::AnonymizeFull, &[o]);
    }
}

#[test]
fn options_together_every_row() {
    assert_clean(
        Level::AnonymizeFull,
        &[
            DeidOption::RetainDeviceIdentity,
            DeidOption::RetainLongitudinalModifiedDates,
            DeidOption::RetainUids,
            DeidOption::RetainPatientCharacteristics,
            DeidOption::CleanDescriptors,
        ],
    );
}
