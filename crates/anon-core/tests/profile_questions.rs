//! The typed questions a `Profile` answers (`action_for`, `listed_action`,
//! `removes_all_private`, `claims_identity_removal`, `changes_anything`) and the subject
//! pseudonym (`pseudonym_of`): they must say what the rule list says and what the engine does,
//! so that callers never parse rule strings.

use anon_core::{Action, DeidOption, Deidentifier, Done, Key, Level, Profile, SubjectId};
use dicom_core::value::{DataSetSequence, PrimitiveValue};
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{DefaultDicomObject, InMemDicomObject};

fn el(tag: Tag, vr: VR, v: &str) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, PrimitiveValue::from(v))
}

/// Every profile worth asking: each level, each option alone where options are allowed,
/// blank identifiers, and a custom profile with rules on private tags.
fn profiles() -> Vec<Profile> {
    let mut out = Vec::new();
    for level in Level::ALL {
        out.push(Profile::builtin(level, &[]).expect("level"));
        if level.takes_options() {
            for o in DeidOption::ALL {
                out.push(Profile::builtin(level, &[o]).expect("option"));
            }
            out.push(
                Profile::builtin(level, &[])
                    .and_then(|p| p.with_blank_identifiers(true))
                    .expect("blank"),
            );
        }
    }
    out.push(custom());
    out
}

fn custom() -> Profile {
    Profile::from_toml(
        r#"
        base = "anonymize-full"
        [actions]
        "0029,1010" = "K"
        "0029,0010" = "K"
        StudyDescription = "K"
        "#,
    )
    .expect("custom")
}

/// `GGGG,EEEE` as `rules()` writes an exact tag.
fn exact_tag(s: &str) -> Option<Tag> {
    let (g, e) = s.split_once(',')?;
    Some(Tag(
        u16::from_str_radix(g, 16).ok()?,
        u16::from_str_radix(e, 16).ok()?,
    ))
}

#[test]
fn answers_agree_with_the_rule_list() {
    for p in profiles() {
        let rules = p.rules();
        // What callers used to compute from the strings of `rules()`.
        let private_row_x = rules
            .iter()
            .any(|r| r.tag.eq_ignore_ascii_case("gggg,eeee") && r.action == Action::X);
        assert_eq!(p.removes_all_private(), private_row_x, "{}", p.name());
        for r in &rules {
            if let Some(tag) = exact_tag(&r.tag) {
                assert_eq!(
                    p.listed_action(tag),
                    Some(r.action),
                    "{} {}",
                    p.name(),
                    r.tag
                );
                if tag.element() != 0x0000 {
                    assert_eq!(p.action_for(tag), Some(r.action), "{} {}", p.name(), r.tag);
                }
            }
        }
        assert_eq!(p.claims_identity_removal(), p.removes_identity());
        assert_eq!(p.changes_anything(), p.level().rewrites_files());
        assert_eq!(p.changes_anything(), p.level() != Level::Original);
    }
}

#[test]
fn patterns_private_defaults_and_group_lengths() {
    let basic = Profile::builtin(Level::Basic, &[]).expect("basic");
    assert_eq!(basic.action_for(Tag(0x6002, 0x3000)), Some(Action::X));
    assert_eq!(basic.listed_action(Tag(0x6002, 0x3000)), None);
    assert_eq!(basic.action_for(Tag(0x5010, 0x0005)), Some(Action::X));
    assert_eq!(basic.action_for(Tag(0x6002, 0x0010)), None, "overlay rows");
    assert_eq!(basic.action_for(Tag(0x0029, 0x1010)), Some(Action::X));
    assert_eq!(basic.action_for(Tag(0x0029, 0x0010)), Some(Action::X));
    assert_eq!(basic.action_for(Tag(0x0008, 0x0000)), Some(Action::X));
    assert_eq!(basic.action_for(tags::MODALITY), None);
    assert_eq!(basic.action_for(Tag(0x0018, 0x9999)), None, "unknown tag");
    assert_eq!(basic.action_for(tags::PATIENT_ID), Some(Action::P));
    assert!(basic.removes_all_private() && basic.claims_identity_removal());

    let safe = Profile::builtin(Level::Basic, &[DeidOption::RetainSafePrivate]).expect("safe");
    assert_eq!(safe.action_for(Tag(0x0019, 0x1023)), Some(Action::C));
    assert!(!safe.removes_all_private());

    let light = Profile::builtin(Level::Anonymize, &[]).expect("anonymize");
    assert_eq!(light.action_for(Tag(0x0029, 0x1010)), Some(Action::K));
    assert_eq!(
        light.action_for(Tag(0x0008, 0x0000)),
        None,
        "meta not cleaned"
    );
    assert_eq!(light.action_for(tags::PATIENT_NAME), Some(Action::P));
    assert_eq!(light.action_for(tags::PATIENT_ID), None);
    assert!(!light.removes_all_private() && !light.claims_identity_removal());

    let original = Profile::builtin(Level::Original, &[]).expect("original");
    for tag in [tags::PATIENT_NAME, Tag(0x0029, 0x1010), Tag(0x0008, 0x0000)] {
        assert_eq!(original.action_for(tag), None);
    }
    assert!(!original.changes_anything() && !original.removes_all_private());

    let custom = custom();
    assert_eq!(custom.action_for(Tag(0x0029, 0x1010)), Some(Action::K));
    assert_eq!(custom.listed_action(Tag(0x0029, 0x1010)), Some(Action::K));
    assert_eq!(custom.action_for(Tag(0x0029, 0x1020)), Some(Action::X));
    assert_eq!(custom.action_for(tags::STUDY_DESCRIPTION), Some(Action::K));
    assert!(custom.removes_all_private());
}

fn object() -> DefaultDicomObject {
    let item = InMemDicomObject::from_element_iter([
        el(tags::REFERRING_PHYSICIAN_NAME, VR::PN, "Nested^Doctor"),
        el(tags::STUDY_DESCRIPTION, VR::LO, "nested description"),
        el(Tag(0x0029, 0x0010), VR::LO, "GEMS_ACQU_01"),
        el(Tag(0x0029, 0x1010), VR::LO, "nested private"),
    ]);
    InMemDicomObject::from_element_iter([
        DataElement::new(Tag(0x0008, 0x0000), VR::UL, PrimitiveValue::from(0_u32)),
        el(tags::SOP_CLASS_UID, VR::UI, uids::CT_IMAGE_STORAGE),
        el(tags::SOP_INSTANCE_UID, VR::UI, "1.2.826.0.1.3680043.9.7.1"),
        el(tags::STUDY_DATE, VR::DA, "20210405"),
        el(tags::MODALITY, VR::CS, "CT"),
        el(tags::STUDY_DESCRIPTION, VR::LO, "Head for Smith"),
        el(tags::INSTITUTION_NAME, VR::LO, "General Hospital"),
        el(tags::REFERRING_PHYSICIAN_NAME, VR::PN, "Ref^Doc"),
        el(tags::OPERATORS_NAME, VR::PN, "Op^One"),
        el(tags::PATIENT_NAME, VR::PN, "Smith^John"),
        el(tags::PATIENT_ID, VR::LO, "MRN-7"),
        el(tags::PATIENT_BIRTH_DATE, VR::DA, "19650723"),
        el(tags::PATIENT_SEX, VR::CS, "M"),
        el(
            tags::STUDY_INSTANCE_UID,
            VR::UI,
            "1.2.826.0.1.3680043.9.7.2",
        ),
        el(
            tags::SERIES_INSTANCE_UID,
            VR::UI,
            "1.2.826.0.1.3680043.9.7.3",
        ),
        DataElement::new(
            tags::REFERENCED_SERIES_SEQUENCE,
            VR::SQ,
            DataSetSequence::new(vec![item], Length::UNDEFINED),
        ),
        el(Tag(0x0019, 0x0010), VR::LO, "GEMS_ACQU_01"),
        el(Tag(0x0019, 0x1023), VR::DS, "1.5"),
        el(Tag(0x0019, 0x1025), VR::LO, "Smith"),
        el(Tag(0x0029, 0x0010), VR::LO, "SIEMENS CSA HEADER"),
        el(Tag(0x0029, 0x1010), VR::LO, "private Smith"),
        DataElement::new(Tag(0x5000, 0x0005), VR::US, PrimitiveValue::from(2_u16)),
        DataElement::new(Tag(0x6000, 0x0010), VR::US, PrimitiveValue::from(4_u16)),
        DataElement::new(Tag(0x6000, 0x0011), VR::US, PrimitiveValue::from(4_u16)),
        DataElement::new(
            Tag(0x6000, 0x3000),
            VR::OW,
            PrimitiveValue::U16([0, 0].into_iter().collect()),
        ),
    ])
    .with_meta(
        FileMetaTableBuilder::new()
            .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
            .media_storage_sop_class_uid(uids::CT_IMAGE_STORAGE)
            .media_storage_sop_instance_uid("1.2.826.0.1.3680043.9.7.1"),
    )
    .expect("meta")
}

#[test]
fn action_for_is_what_the_engine_does() {
    for p in profiles() {
        let name = p.name().to_string();
        let d = Deidentifier::new(p.clone(), Key::from_bytes([3; 32]));
        let original = object();
        let mut obj = original.clone();
        let report = d
            .apply(&mut obj, &d.subject_context(&original))
            .expect("apply");
        let safe = p.options().contains(&DeidOption::RetainSafePrivate);
        for applied in &report.actions {
            let Some(tag) = applied.path.tag() else {
                continue;
            };
            let wanted = p.action_for(tag);
            match applied.action {
                // A rule the engine applied: the one `action_for` names, or (no rule for the
                // tag) one of anonymize-full's rules beyond the table.
                Some(done) => match wanted {
                    Some(w) if tag.group() % 2 == 1 && safe && w == Action::C => {
                        assert!(matches!(done, Action::C | Action::X), "{name} {tag}")
                    }
                    Some(w) => assert_eq!(w, done, "{name} {}", applied.path),
                    None => assert_eq!(p.level(), Level::AnonymizeFull, "{name} {tag}"),
                },
                // Group lengths and the rest of an overlay whose data went: removed by the
                // engine itself.
                None if applied.done == Done::Removed => {
                    let overlay = (0x6000..=0x601E).contains(&tag.group());
                    assert!(
                        overlay || wanted == Some(Action::X),
                        "{name} {}",
                        applied.path
                    );
                }
                None => assert_eq!(applied.done, Done::Added, "{name} {}", applied.path),
            }
        }
        // Removed at the top level exactly where the answer is X (overlay rows aside).
        for tag in original.tags() {
            let removed = obj.get(tag).is_none();
            let x = p.action_for(tag) == Some(Action::X);
            // Overlay rows go with their data; under retain-safe-private C keeps only the
            // safe list.
            let by_context =
                (0x6000..=0x601E).contains(&tag.group()) || (safe && tag.group() % 2 == 1);
            if x {
                assert!(removed, "{name} {tag} should be gone");
            } else if !by_context {
                assert!(!removed, "{name} {tag} should stay");
            }
        }
    }
}

#[test]
fn one_pseudonym_for_each_kind_of_subject() {
    let d = Deidentifier::new(
        Profile::builtin(Level::AnonymizeFull, &[]).expect("profile"),
        Key::from_bytes([5; 32]),
    );
    let patient = d.pseudonym_of(SubjectId::Patient {
        patient_id: " MRN-7 ",
        issuer: Some("HOSP"),
    });
    assert_eq!(patient, d.pseudonym("MRN-7", Some(" HOSP")));
    assert_ne!(patient, d.pseudonym("MRN-7", None));
    assert_eq!(
        d.pseudonym("MRN-7", None),
        d.pseudonym_of(SubjectId::Patient {
            patient_id: "MRN-7",
            issuer: Some("")
        })
    );
    // The archive's subject without PatientID: keyed by the study, as the export names it.
    let blank = d.pseudonym_of(SubjectId::BlankPatientId {
        study_uid: "1.2.3.4",
    });
    assert_eq!(
        blank,
        d.pseudonym("", Some("depot:blank-patient-id:1.2.3.4"))
    );
    assert_ne!(
        blank,
        d.pseudonym_of(SubjectId::BlankPatientId {
            study_uid: "1.2.3.5"
        })
    );
    // A header: what the engine writes into PatientID.
    let original = object();
    let subject = d.subject_context(&original);
    assert_eq!(d.header_pseudonym(&original), subject.pseudonym);
    assert_eq!(
        subject.pseudonym,
        d.pseudonym_of(SubjectId::Patient {
            patient_id: "MRN-7",
            issuer: None
        })
    );
    let mut nameless = original.clone();
    nameless.remove_element(tags::PATIENT_ID);
    let by_name = d.pseudonym_of(SubjectId::NameAndBirthDate {
        name: "smith^john",
        birth_date: "19650723",
    });
    assert_eq!(d.subject_context(&nameless).pseudonym, by_name);
    assert_eq!(d.header_pseudonym(&nameless), by_name);
    assert_ne!(by_name, blank);
    let mut obj = nameless.clone();
    d.apply(&mut obj, &d.subject_context(&nameless))
        .expect("apply");
    let written = obj
        .get(tags::PATIENT_NAME)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim().to_string());
    assert_eq!(written.as_deref(), Some(by_name.as_str()));
}
