//! Behaviour of the engine beyond the table rows: the `anonymize` level's exact footprint,
//! references across files, rules beyond the table, file meta, markers, burned-in flags and
//! hostile nesting.

use anon_core::{AnonError, BurnedInReason, DeidOption, Deidentifier, Done, Key, Level, Profile};
use dicom_core::header::Header;
use dicom_core::value::{DataSetSequence, PrimitiveValue};
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{DefaultDicomObject, InMemDicomObject};

fn el(tag: Tag, vr: VR, v: &str) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, PrimitiveValue::from(v))
}

fn seq(tag: Tag, items: Vec<InMemDicomObject>) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, VR::SQ, DataSetSequence::new(items, Length::UNDEFINED))
}

fn file(ds: InMemDicomObject, sop: &str) -> DefaultDicomObject {
    ds.with_meta(
        FileMetaTableBuilder::new()
            .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
            .media_storage_sop_class_uid(uids::CT_IMAGE_STORAGE)
            .media_storage_sop_instance_uid(sop)
            .source_application_entity_title("SCANNER_AE"),
    )
    .expect("meta")
}

fn image(sop: &str, referenced: &str) -> DefaultDicomObject {
    let reference = InMemDicomObject::from_element_iter([
        el(
            tags::REFERENCED_SOP_CLASS_UID,
            VR::UI,
            uids::CT_IMAGE_STORAGE,
        ),
        el(tags::REFERENCED_SOP_INSTANCE_UID, VR::UI, referenced),
    ]);
    let physician_item = InMemDicomObject::from_element_iter([
        el(tags::REFERRING_PHYSICIAN_NAME, VR::PN, "Nested^Doctor"),
        el(tags::CODE_VALUE, VR::SH, "X1"),
    ]);
    file(
        InMemDicomObject::from_element_iter([
            el(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192"),
            el(tags::SOP_CLASS_UID, VR::UI, uids::CT_IMAGE_STORAGE),
            el(tags::SOP_INSTANCE_UID, VR::UI, sop),
            el(tags::STUDY_DATE, VR::DA, "20210405"),
            el(tags::MODALITY, VR::CS, "CT"),
            el(tags::REFERRING_PHYSICIAN_NAME, VR::PN, "Référent^Émile"),
            el(tags::OPERATORS_NAME, VR::PN, "Op^One"),
            el(tags::PATIENT_NAME, VR::PN, "Gößmann^Jürgen"),
            el(tags::PATIENT_ID, VR::LO, "MRN-0042"),
            el(tags::PATIENT_BIRTH_DATE, VR::DA, "19650723"),
            el(
                tags::STUDY_INSTANCE_UID,
                VR::UI,
                "1.2.826.0.1.3680043.9.1.1",
            ),
            el(
                tags::SERIES_INSTANCE_UID,
                VR::UI,
                "1.2.826.0.1.3680043.9.1.2",
            ),
            el(tags::IMAGE_COMMENTS, VR::LT, "for Jürgen GÖßMANN, MRN-0042"),
            el(
                Tag(0x0018, 0x9999),
                VR::LO,
                "unlisted text mentions gößmann",
            ),
            el(Tag(0x0020, 0x9999), VR::UI, "1.2.826.0.1.3680043.9.1.77"),
            el(Tag(0x0040, 0x9999), VR::DA, "20210405"),
            el(tags::BURNED_IN_ANNOTATION, VR::CS, "YES"),
            seq(tags::SOURCE_IMAGE_SEQUENCE, vec![reference]),
            seq(tags::REFERENCED_SERIES_SEQUENCE, vec![physician_item]),
            el(Tag(0x0029, 0x0010), VR::LO, "SIEMENS CSA HEADER"),
            el(Tag(0x0029, 0x1010), VR::OB, "Gößmann"),
            DataElement::new(
                tags::PIXEL_DATA,
                VR::OW,
                PrimitiveValue::U16([1, 2, 3, 4].into_iter().collect()),
            ),
        ]),
        sop,
    )
}

fn deid(level: Level, options: &[DeidOption]) -> Deidentifier {
    Deidentifier::new(
        Profile::builtin(level, options).expect("profile"),
        Key::from_bytes([9; 32]),
    )
}

fn text(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim().to_string())
}

#[test]
fn anonymize_changes_exactly_its_five_attributes_and_adds_nothing() {
    let d = deid(Level::Anonymize, &[]);
    let original = image("1.2.826.0.1.3680043.9.1.3", "1.2.826.0.1.3680043.9.1.4");
    let mut obj = original.clone();
    let subject = d.subject_context(&original);
    let report = d.apply(&mut obj, &subject).expect("apply");
    let before: Vec<Tag> = original.tags().collect();
    let after: Vec<Tag> = obj.tags().collect();
    assert_eq!(before, after, "no attribute added or removed");
    for tag in before {
        let changed = original.get(tag).map(|e| e.value()) != obj.get(tag).map(|e| e.value());
        let expected = [
            tags::PATIENT_NAME,
            tags::REFERRING_PHYSICIAN_NAME,
            tags::OPERATORS_NAME,
            tags::PATIENT_BIRTH_DATE,
            tags::REFERENCED_SERIES_SEQUENCE, // holds a nested ReferringPhysicianName
        ]
        .contains(&tag);
        assert_eq!(changed, expected, "{tag}");
    }
    assert_eq!(
        text(&obj, tags::PATIENT_NAME),
        Some(subject.pseudonym.clone())
    );
    assert_eq!(text(&obj, tags::PATIENT_ID).as_deref(), Some("MRN-0042"));
    let nested = obj
        .get(tags::REFERENCED_SERIES_SEQUENCE)
        .and_then(|e| e.items())
        .and_then(|i| i.first())
        .expect("item");
    assert_eq!(
        text(nested, tags::REFERRING_PHYSICIAN_NAME).as_deref(),
        Some("")
    );
    assert_eq!(text(nested, tags::CODE_VALUE).as_deref(), Some("X1"));
    assert_eq!(obj.meta(), original.meta(), "meta untouched at anonymize");
    assert_eq!(report.actions.len(), 5);
    assert!(report.new_sop_instance_uid.is_none());
}

#[test]
fn references_resolve_to_the_referenced_instances_new_uid() {
    let d = deid(Level::AnonymizeFull, &[]);
    let a = image("1.2.826.0.1.3680043.9.1.10", "1.2.826.0.1.3680043.9.1.11");
    let b = image("1.2.826.0.1.3680043.9.1.11", "1.2.826.0.1.3680043.9.1.10");
    let mut outs = Vec::new();
    for original in [a, b] {
        let mut obj = original.clone();
        let report = d
            .apply(&mut obj, &d.subject_context(&original))
            .expect("apply");
        assert_eq!(
            report.new_sop_instance_uid,
            text(&obj, tags::SOP_INSTANCE_UID)
        );
        assert_eq!(
            obj.meta()
                .media_storage_sop_instance_uid
                .trim_end_matches('\0'),
            text(&obj, tags::SOP_INSTANCE_UID).unwrap_or_default()
        );
        outs.push(obj);
    }
    let reference = |o: &DefaultDicomObject| {
        let item = o
            .get(tags::SOURCE_IMAGE_SEQUENCE)
            .and_then(|e| e.items())
            .and_then(|i| i.first().cloned())
            .expect("item");
        (
            text(&item, tags::REFERENCED_SOP_INSTANCE_UID),
            text(&item, tags::REFERENCED_SOP_CLASS_UID),
        )
    };
    assert_eq!(
        reference(&outs[0]).0,
        text(&outs[1], tags::SOP_INSTANCE_UID)
    );
    assert_eq!(
        reference(&outs[1]).0,
        text(&outs[0], tags::SOP_INSTANCE_UID)
    );
    assert_eq!(
        reference(&outs[0]).1.as_deref(),
        Some(uids::CT_IMAGE_STORAGE),
        "class UIDs never remapped"
    );
    assert_eq!(
        text(&outs[0], tags::STUDY_INSTANCE_UID),
        text(&outs[1], tags::STUDY_INSTANCE_UID)
    );
}

#[test]
fn anonymize_full_goes_beyond_the_table() {
    let d = deid(Level::AnonymizeFull, &[]);
    let original = image("1.2.826.0.1.3680043.9.1.20", "1.2.826.0.1.3680043.9.1.21");
    let mut obj = original.clone();
    let subject = d.subject_context(&original);
    let report = d.apply(&mut obj, &subject).expect("apply");
    // unlisted text: identifiers cut; unlisted UID: remapped; unlisted date: emptied
    assert_eq!(
        text(&obj, Tag(0x0018, 0x9999)).as_deref(),
        Some("unlisted text mentions")
    );
    assert_eq!(
        text(&obj, Tag(0x0020, 0x9999)),
        Some(d.map_uid("1.2.826.0.1.3680043.9.1.77"))
    );
    assert_eq!(text(&obj, Tag(0x0040, 0x9999)).as_deref(), Some(""));
    // private removed with creators; pixels untouched; markers present
    assert!(obj.get(Tag(0x0029, 0x0010)).is_none() && obj.get(Tag(0x0029, 0x1010)).is_none());
    assert_eq!(
        obj.get(tags::PIXEL_DATA).map(|e| e.value()),
        original.get(tags::PIXEL_DATA).map(|e| e.value())
    );
    assert_eq!(
        text(&obj, tags::PATIENT_IDENTITY_REMOVED).as_deref(),
        Some("YES")
    );
    assert_eq!(
        text(&obj, tags::LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED).as_deref(),
        Some("REMOVED")
    );
    assert!(
        text(&obj, tags::DEIDENTIFICATION_METHOD)
            .unwrap_or_default()
            .contains("anonymize-full")
    );
    assert_eq!(
        text(&obj, tags::PATIENT_ID),
        Some(subject.pseudonym.clone())
    );
    assert!(obj.meta().source_application_entity_title.is_none());
    assert_eq!(report.burned_in, Some(BurnedInReason::FlaggedYes));
    // no identifier of the subject left in any text value
    for e in obj.iter() {
        if let Ok(s) = e.to_str() {
            let s = s.to_lowercase();
            assert!(
                !s.contains("gößmann") && !s.contains("jürgen") && !s.contains("mrn-0042"),
                "{}: {s}",
                e.tag()
            );
        }
    }
    assert!(report.actions.iter().any(|a| a.done == Done::Added));
    assert!(report.actions.iter().any(|a| a.path.depth() == 1));
}

#[test]
fn modified_dates_shift_consistently_per_subject() {
    let d = deid(
        Level::AnonymizeFull,
        &[DeidOption::RetainLongitudinalModifiedDates],
    );
    let original = image("1.2.826.0.1.3680043.9.1.30", "1.2.826.0.1.3680043.9.1.31");
    let mut obj = original.clone();
    let subject = d.subject_context(&original);
    d.apply(&mut obj, &subject).expect("apply");
    let study = text(&obj, tags::STUDY_DATE).unwrap_or_default();
    let unlisted = text(&obj, Tag(0x0040, 0x9999)).unwrap_or_default();
    assert_ne!(study, "20210405");
    assert_eq!(
        study, unlisted,
        "listed and unlisted dates move by the same offset"
    );
    assert_eq!(
        text(&obj, tags::LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED).as_deref(),
        Some("MODIFIED")
    );
    assert!((-3650..=-1).contains(&subject.date_offset_days));
}

#[test]
fn modalities_that_burn_in_text_are_flagged() {
    let d = deid(Level::Basic, &[]);
    let mut obj = file(
        InMemDicomObject::from_element_iter([
            el(tags::SOP_INSTANCE_UID, VR::UI, "1.2.3.4"),
            el(tags::MODALITY, VR::CS, "US"),
        ]),
        "1.2.3.4",
    );
    let subject = d.subject_context(&obj);
    let report = d.apply(&mut obj, &subject).expect("apply");
    assert_eq!(
        report.burned_in,
        Some(BurnedInReason::ModalityWithoutFlag("US".to_string()))
    );
}

#[test]
fn hostile_nesting_is_an_error_not_a_crash() {
    let mut item = InMemDicomObject::from_element_iter([el(tags::CODE_VALUE, VR::SH, "deep")]);
    for _ in 0..80 {
        item = InMemDicomObject::from_element_iter([seq(tags::CONTENT_SEQUENCE, vec![item])]);
    }
    let mut obj = file(item, "1.2.3.5");
    let d = deid(Level::Basic, &[]);
    let subject = d.subject_context(&obj);
    assert!(matches!(
        d.apply(&mut obj, &subject),
        Err(AnonError::TooDeep { .. })
    ));
}

#[test]
fn sup142_and_qmenta_follow_their_tables() {
    let original = image("1.2.826.0.1.3680043.9.1.40", "1.2.826.0.1.3680043.9.1.41");
    let d = deid(Level::Sup142, &[]);
    let mut obj = original.clone();
    d.apply(&mut obj, &d.subject_context(&original))
        .expect("sup142");
    assert_eq!(
        text(&obj, tags::PATIENT_NAME),
        text(&original, tags::PATIENT_NAME),
        "sup142 lists no name"
    );
    assert_ne!(
        text(&obj, tags::SOP_INSTANCE_UID),
        text(&original, tags::SOP_INSTANCE_UID)
    );
    assert!(
        obj.get(tags::PATIENT_IDENTITY_REMOVED).is_none(),
        "sup142 does not claim identity removed"
    );
    assert!(
        obj.get(Tag(0x0029, 0x1010)).is_some(),
        "seed tables do not list private tags"
    );

    let d = deid(Level::Qmenta, &[]);
    let mut obj = original.clone();
    d.apply(&mut obj, &d.subject_context(&original))
        .expect("qmenta");
    assert_eq!(text(&obj, tags::PATIENT_NAME).as_deref(), Some(""));
    assert_eq!(text(&obj, tags::PATIENT_ID).as_deref(), Some(""));
    assert!(obj.get(tags::OPERATORS_NAME).is_none());
    assert!(
        obj.get(tags::PATIENT_IDENTITY_REMOVED).is_none(),
        "qmenta keeps private attributes and free text: it does not claim identity removed"
    );
    assert!(
        obj.get(tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE)
            .is_none(),
        "no CID 7050 claim"
    );
    assert_eq!(
        text(&obj, tags::SOP_INSTANCE_UID),
        text(&original, tags::SOP_INSTANCE_UID)
    );
}

#[test]
fn d_on_a_sequence_replaces_every_value_inside_with_a_dummy() {
    // InstitutionCodeSequence is X/Z/D (resolved to D), OperatorIdentificationSequence X/D:
    // keeping their items would keep the codes that name the institution and the person.
    let code = |value: &str, meaning: &str| {
        InMemDicomObject::from_element_iter([
            el(tags::CODE_VALUE, VR::SH, value),
            el(tags::CODING_SCHEME_DESIGNATOR, VR::SH, "L"),
            el(tags::CODE_MEANING, VR::LO, meaning),
        ])
    };
    let operator = InMemDicomObject::from_element_iter([
        seq(
            tags::PERSON_IDENTIFICATION_CODE_SEQUENCE,
            vec![code("EMP-48213", "Westphall^Donald")],
        ),
        el(
            tags::REFERENCED_SOP_INSTANCE_UID,
            VR::UI,
            "1.2.826.0.1.3680043.9.1.41",
        ),
        el(
            tags::REFERENCED_SOP_CLASS_UID,
            VR::UI,
            uids::CT_IMAGE_STORAGE,
        ),
        el(Tag(0x0009, 0x0010), VR::LO, "ACME"),
        el(Tag(0x0009, 0x1001), VR::LO, "Westphall"),
    ]);
    let mut original = image("1.2.826.0.1.3680043.9.1.50", "1.2.826.0.1.3680043.9.1.41");
    original.put(seq(
        tags::INSTITUTION_CODE_SEQUENCE,
        vec![code("STELSEW-BOS", "St Elsewhere Hospital Boston")],
    ));
    original.put(seq(tags::OPERATOR_IDENTIFICATION_SEQUENCE, vec![operator]));
    let d = deid(Level::AnonymizeFull, &[]);
    let mut obj = original.clone();
    d.apply(&mut obj, &d.subject_context(&original))
        .expect("apply");
    let mut bytes = Vec::new();
    obj.write_all(&mut bytes).expect("write");
    let hay = String::from_utf8_lossy(&bytes);
    for planted in ["STELSEW", "Elsewhere", "EMP-48213", "Westphall", "ACME"] {
        assert!(!hay.contains(planted), "{planted} survived");
    }
    let inst = obj
        .get(tags::INSTITUTION_CODE_SEQUENCE)
        .and_then(|e| e.items())
        .and_then(|i| i.first())
        .expect("D keeps a non-empty sequence");
    assert_eq!(text(inst, tags::CODE_VALUE).as_deref(), Some("ANONYMIZED"));
    let op = obj
        .get(tags::OPERATOR_IDENTIFICATION_SEQUENCE)
        .and_then(|e| e.items())
        .and_then(|i| i.first())
        .expect("item");
    assert_eq!(
        text(op, tags::REFERENCED_SOP_INSTANCE_UID),
        Some(d.map_uid("1.2.826.0.1.3680043.9.1.41")),
        "references inside still resolve"
    );
    assert_eq!(
        text(op, tags::REFERENCED_SOP_CLASS_UID).as_deref(),
        Some(uids::CT_IMAGE_STORAGE),
        "well-known UIDs kept"
    );
    assert!(op.get(Tag(0x0009, 0x1001)).is_none(), "private removed");
}

#[test]
fn retain_safe_private_cleans_what_it_keeps() {
    // GEMS_ACQU_01 (0019,xx9E) Internal Pulse Sequence Name is on the safe list; a name typed
    // into it must still be cut (the option's action is C).
    let mut original = image("1.2.826.0.1.3680043.9.1.60", "1.2.826.0.1.3680043.9.1.41");
    original.put(el(Tag(0x0019, 0x0010), VR::LO, "GEMS_ACQU_01"));
    original.put(el(Tag(0x0019, 0x109E), VR::SH, "fse MRN-0042"));
    let d = deid(Level::AnonymizeFull, &[DeidOption::RetainSafePrivate]);
    let mut obj = original.clone();
    d.apply(&mut obj, &d.subject_context(&original))
        .expect("apply");
    assert_eq!(text(&obj, Tag(0x0019, 0x109E)).as_deref(), Some("fse"));
    assert_eq!(
        text(&obj, Tag(0x0019, 0x0010)).as_deref(),
        Some("GEMS_ACQU_01")
    );
}

#[test]
fn iso_2022_code_extensions_are_cleaned_by_character_not_by_byte() {
    // dicom-rs hands such values over as one ISO 8859-1 character per byte.
    let latin1 = |b: &[u8]| -> String { b.iter().copied().map(char::from).collect() };
    /// Specific Character Set, PatientName bytes, text bytes, name parts' bytes.
    type Case<'a> = (&'a str, &'a [u8], &'a [u8], &'a [&'a [u8]]);
    let cases: [Case; 2] = [
        (
            "\\ISO 2022 IR 87",
            b"Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B",
            // "Report: 山田太郎 ok"
            b"Report: \x1b$B;3EDB@O:\x1b(B ok",
            &[b";3ED", b"B@O:"],
        ),
        (
            "\\ISO 2022 IR 149",
            b"Hong^Gildong=\x1b$)C\xfb\xf3^\x1b$)C\xd1\xce\xd4\xd7=\x1b$)C\xc8\xab^\x1b$)C\xb1\xe6\xb5\xbf",
            // "환자 홍 길동 님" is not needed byte for byte: 홍 and 길동 are.
            b"\x1b$)C\xc8\xab \x1b$)C\xb1\xe6\xb5\xbf ok",
            &[b"\xc8\xab", b"\xb1\xe6\xb5\xbf"],
        ),
    ];
    for (charset, name, comment, parts) in cases {
        let mut original = image("1.2.826.0.1.3680043.9.1.70", "1.2.826.0.1.3680043.9.1.41");
        original.put(DataElement::new(
            tags::SPECIFIC_CHARACTER_SET,
            VR::CS,
            PrimitiveValue::Strs(charset.split('\\').map(str::to_string).collect()),
        ));
        original.put(el(tags::PATIENT_NAME, VR::PN, &latin1(name)));
        // An attribute the table does not list: anonymize-full cleans its text.
        original.put(el(Tag(0x0018, 0x9999), VR::LO, &latin1(comment)));
        let d = deid(Level::AnonymizeFull, &[]);
        let mut obj = original.clone();
        d.apply(&mut obj, &d.subject_context(&original))
            .expect("apply");
        let out: Vec<u8> = text(&obj, Tag(0x0018, 0x9999))
            .unwrap_or_default()
            .chars()
            .map(|c| u32::from(c) as u8)
            .collect();
        for part in parts {
            assert!(
                !out.windows(part.len()).any(|w| w == *part),
                "{charset}: a name part survived in {out:?}"
            );
        }
        assert!(
            out.ends_with(b" ok") || out.ends_with(b"ok"),
            "{charset}: {out:?}"
        );
    }
}

#[test]
fn clean_graphics_zeroes_identifiers_in_overlays_of_either_byte_order() {
    // "MRN-0042" as a big endian file holds it: the words' bytes swapped in memory.
    let text = b"xxMRN-0042xx";
    for big_endian in [false, true] {
        let words: Vec<u16> = text
            .chunks(2)
            .map(|w| {
                if big_endian {
                    u16::from_be_bytes([w[0], w[1]])
                } else {
                    u16::from_le_bytes([w[0], w[1]])
                }
            })
            .collect();
        let mut original = image("1.2.826.0.1.3680043.9.1.80", "1.2.826.0.1.3680043.9.1.41");
        original.put(DataElement::new(
            Tag(0x6000, 0x3000),
            VR::OW,
            PrimitiveValue::U16(words.into_iter().collect()),
        ));
        let d = deid(Level::AnonymizeFull, &[DeidOption::CleanGraphics]);
        let mut obj = original.clone();
        d.apply(&mut obj, &d.subject_context(&original))
            .expect("apply");
        let out = obj.get(Tag(0x6000, 0x3000)).expect("overlay kept");
        let words = out.value().primitive().expect("primitive").to_bytes();
        let on_disk: Vec<u8> = words
            .chunks(2)
            .flat_map(|w| {
                if big_endian {
                    [w[1], w[0]]
                } else {
                    [w[0], w[1]]
                }
            })
            .collect();
        assert!(
            !on_disk.windows(8).any(|w| w == b"MRN-0042"),
            "big endian {big_endian}: {on_disk:?}"
        );
        assert!(on_disk.starts_with(b"xx"), "only the identifier is zeroed");
    }
}

#[test]
fn an_overlay_without_its_data_is_removed_whole() {
    let mut original = image("1.2.826.0.1.3680043.9.1.90", "1.2.826.0.1.3680043.9.1.41");
    for (tag, vr, v) in [
        (Tag(0x6002, 0x0010), VR::US, 8u16),
        (Tag(0x6002, 0x0011), VR::US, 8),
    ] {
        original.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
    }
    original.put(el(Tag(0x6002, 0x0040), VR::CS, "G"));
    original.put(DataElement::new(
        Tag(0x6002, 0x3000),
        VR::OW,
        PrimitiveValue::U16([0xFFFF; 4].into_iter().collect()),
    ));
    let d = deid(Level::AnonymizeFull, &[]);
    let mut obj = original.clone();
    d.apply(&mut obj, &d.subject_context(&original))
        .expect("apply");
    assert!(
        obj.tags().all(|t| t.group() != 0x6002),
        "overlay group 6002 left behind without its data"
    );
    let d = deid(Level::AnonymizeFull, &[DeidOption::CleanGraphics]);
    let mut obj = original.clone();
    d.apply(&mut obj, &d.subject_context(&original))
        .expect("apply");
    assert!(obj.get(Tag(0x6002, 0x0010)).is_some(), "kept with its data");
}

#[test]
fn a_jis_character_holding_the_byte_0x5c_is_not_a_value_delimiter() {
    // 山本^花子: 本 is 4B 5C in JIS X 0208. dicom-rs splits the bytes on every 0x5C, so the
    // values reach the engine cut in the middle of 本; they must be joined back before decoding.
    let latin1 = |b: &[u8]| -> String { b.iter().copied().map(char::from).collect() };
    let as_read = |b: &[u8]| -> PrimitiveValue {
        PrimitiveValue::Strs(latin1(b).split('\\').map(str::to_string).collect())
    };
    let mut original = image("1.2.826.0.1.3680043.9.1.95", "1.2.826.0.1.3680043.9.1.41");
    original.put(DataElement::new(
        tags::SPECIFIC_CHARACTER_SET,
        VR::CS,
        PrimitiveValue::Strs(["".to_string(), "ISO 2022 IR 87".to_string()].into()),
    ));
    original.put(DataElement::new(
        tags::PATIENT_NAME,
        VR::PN,
        as_read(b"Yamamoto^Hanako=\x1b$B;3K\\\x1b(B^\x1b$B2V;R\x1b(B"),
    ));
    // "山本花子様" in an attribute the table does not list (cleaned at anonymize-full).
    original.put(DataElement::new(
        Tag(0x0018, 0x9999),
        VR::LO,
        as_read(b"\x1b$B;3K\\2V;RMM\x1b(B"),
    ));
    let d = deid(Level::AnonymizeFull, &[]);
    let subject = d.subject_context(&original);
    assert!(
        subject.identifiers.iter().any(|i| i == "山本"),
        "{:?}",
        subject.identifiers
    );
    let mut obj = original.clone();
    d.apply(&mut obj, &subject).expect("apply");
    let out = obj
        .get(Tag(0x0018, 0x9999))
        .and_then(|e| e.to_multi_str().ok())
        .map(|v| v.join("\\"))
        .unwrap_or_default();
    assert_eq!(out, "\x1b$BMM\x1b(B", "only 様 is left, in valid JIS");
}

#[test]
fn text_dicom_rs_could_not_decode_is_refused_not_corrupted() {
    // GB18030 誠 is D5 5C: split on the 0x5C, dicom-rs decodes the lone D5 as the text "\325".
    let mut original = image("1.2.826.0.1.3680043.9.1.96", "1.2.826.0.1.3680043.9.1.41");
    original.put(el(tags::SPECIFIC_CHARACTER_SET, VR::CS, "GB18030"));
    original.put(DataElement::new(
        tags::STUDY_DESCRIPTION,
        VR::LO,
        PrimitiveValue::Strs(["\\325".to_string(), "意检查".to_string()].into()),
    ));
    for level in [Level::Anonymize, Level::AnonymizeFull] {
        let d = deid(level, &[]);
        let mut obj = original.clone();
        let err = d
            .apply(&mut obj, &d.subject_context(&original))
            .expect_err("refused");
        assert!(matches!(err, AnonError::Undecodable { .. }), "{err}");
    }
    // At original nothing is rewritten, so nothing is refused.
    let d = deid(Level::Original, &[]);
    let mut obj = original.clone();
    d.apply(&mut obj, &d.subject_context(&original))
        .expect("original");
}

#[test]
fn d_sequences_keep_uids_under_retain_uids_and_the_grammar_of_sr_trees() {
    let content = InMemDicomObject::from_element_iter([
        el(Tag(0x0040, 0xA010), VR::CS, "CONTAINS"),
        el(Tag(0x0040, 0xA040), VR::CS, "TEXT"),
        el(Tag(0x0040, 0xA160), VR::UT, "Dr. Roberts saw the patient"),
        seq(
            tags::REFERENCED_SOP_SEQUENCE,
            vec![InMemDicomObject::from_element_iter([el(
                tags::REFERENCED_SOP_INSTANCE_UID,
                VR::UI,
                "1.2.826.0.1.3680043.9.1.41",
            )])],
        ),
    ]);
    let mut original = image("1.2.826.0.1.3680043.9.1.97", "1.2.826.0.1.3680043.9.1.41");
    original.put(el(Tag(0x0040, 0xA050), VR::CS, "SEPARATE"));
    original.put(seq(tags::CONTENT_SEQUENCE, vec![content]));
    for (options, uid_kept) in [(vec![], false), (vec![DeidOption::RetainUids], true)] {
        let d = deid(Level::AnonymizeFull, &options);
        let mut obj = original.clone();
        d.apply(&mut obj, &d.subject_context(&original))
            .expect("apply");
        let item = obj
            .get(tags::CONTENT_SEQUENCE)
            .and_then(|e| e.items())
            .and_then(|i| i.first())
            .expect("item");
        assert_eq!(text(item, Tag(0x0040, 0xA040)).as_deref(), Some("TEXT"));
        assert_eq!(text(item, Tag(0x0040, 0xA010)).as_deref(), Some("CONTAINS"));
        assert_ne!(
            text(item, Tag(0x0040, 0xA160)).as_deref(),
            Some("Dr. Roberts saw the patient")
        );
        let uid = item
            .get(tags::REFERENCED_SOP_SEQUENCE)
            .and_then(|e| e.items())
            .and_then(|i| i.first())
            .and_then(|r| text(r, tags::REFERENCED_SOP_INSTANCE_UID))
            .expect("reference");
        let want = if uid_kept {
            "1.2.826.0.1.3680043.9.1.41".to_string()
        } else {
            d.map_uid("1.2.826.0.1.3680043.9.1.41")
        };
        assert_eq!(uid, want, "retain-uids {uid_kept}");
    }
}

#[test]
fn inside_a_d_sequence_an_attribute_keeps_its_own_removing_rule() {
    let item = InMemDicomObject::from_element_iter([
        el(Tag(0x0040, 0xA040), VR::CS, "TEXT"),
        el(tags::PATIENT_SEX, VR::CS, "F"),
        el(tags::PATIENT_WEIGHT, VR::DS, "71.5"),
    ]);
    let mut original = image("1.2.826.0.1.3680043.9.1.98", "1.2.826.0.1.3680043.9.1.41");
    original.put(seq(tags::CONTENT_SEQUENCE, vec![item]));
    let d = deid(Level::Basic, &[]);
    let mut obj = original.clone();
    d.apply(&mut obj, &d.subject_context(&original))
        .expect("apply");
    let item = obj
        .get(tags::CONTENT_SEQUENCE)
        .and_then(|e| e.items())
        .and_then(|i| i.first())
        .expect("item");
    assert_eq!(text(item, Tag(0x0040, 0xA040)).as_deref(), Some("TEXT"));
    assert_eq!(
        text(item, tags::PATIENT_SEX).as_deref(),
        Some(""),
        "Z: emptied"
    );
    assert!(item.get(tags::PATIENT_WEIGHT).is_none(), "X: removed");
}

#[test]
fn a_cleaned_sequence_cleans_unlisted_text_under_basic() {
    // basic + clean-structured-content: ContentSequence is C, TextValue is in no row.
    let item = InMemDicomObject::from_element_iter([
        el(Tag(0x0040, 0xA040), VR::CS, "TEXT"),
        el(
            Tag(0x0040, 0xA160),
            VR::UT,
            "Gößmann has a lesion, MRN-0042",
        ),
    ]);
    let mut original = image("1.2.826.0.1.3680043.9.1.99", "1.2.826.0.1.3680043.9.1.41");
    original.put(seq(tags::CONTENT_SEQUENCE, vec![item]));
    let d = deid(Level::Basic, &[DeidOption::CleanStructuredContent]);
    let mut obj = original.clone();
    d.apply(&mut obj, &d.subject_context(&original))
        .expect("apply");
    let item = obj
        .get(tags::CONTENT_SEQUENCE)
        .and_then(|e| e.items())
        .and_then(|i| i.first())
        .expect("item");
    let t = text(item, Tag(0x0040, 0xA160)).unwrap_or_default();
    assert!(!t.contains("Gößmann") && !t.contains("MRN-0042"), "{t}");
    assert!(t.contains("has a lesion"), "{t}");
}
