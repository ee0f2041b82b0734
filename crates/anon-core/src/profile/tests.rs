//! The profile's own tests: levels and options against the table, misuse, custom TOML and
//! its accepted coincidences.

use dicom_core::Tag;
use dicom_dictionary_std::tags;

use crate::action::Action;
use crate::error::ProfileError;
use crate::level::{DeidOption, Level};

use super::{PrivatePolicy, Profile, Rule};

#[test]
fn basic_and_options_follow_the_table() {
    let p = Profile::builtin(Level::Basic, &[]).expect("basic");
    assert_eq!(
        p.lookup(tags::ACCESSION_NUMBER).map(|r| r.action),
        Some(Action::Z)
    );
    assert_eq!(
        p.lookup(tags::STUDY_INSTANCE_UID).map(|r| r.action),
        Some(Action::U)
    );
    assert_eq!(
        p.lookup(Tag(0x6002, 0x3000)).map(|r| r.action),
        Some(Action::X)
    );
    assert_eq!(
        p.lookup(Tag(0x5010, 0x0005)).map(|r| r.action),
        Some(Action::X)
    );
    assert_eq!(
        p.lookup(tags::PATIENT_ID).map(|r| r.action),
        Some(Action::P)
    );
    assert!(p.remaps_uids() && p.pseudonymizes_patient_id() && !p.blanks_identifiers());
    assert_eq!(p.private_policy(), PrivatePolicy::Remove);
    assert!(!p.beyond_table());

    let p = Profile::builtin(
        Level::AnonymizeFull,
        &[
            DeidOption::RetainUids,
            DeidOption::RetainDeviceIdentity,
            DeidOption::RetainLongitudinalModifiedDates,
        ],
    )
    .expect("options");
    assert_eq!(
        p.lookup(tags::STUDY_INSTANCE_UID).map(|r| r.action),
        Some(Action::K)
    );
    assert!(!p.remaps_uids());
    // device K against modified dates C: the date modification wins
    assert_eq!(
        p.lookup(tags::DATE_OF_LAST_CALIBRATION).map(|r| r.action),
        Some(Action::C)
    );
    assert_eq!(
        p.lookup(tags::DEVICE_SERIAL_NUMBER).map(|r| r.action),
        Some(Action::K)
    );
    assert_eq!(
        p.lookup(tags::STATION_AE_TITLE).map(|r| r.action),
        Some(Action::C)
    );
    assert!(p.modifies_dates());
    assert_eq!(p.longitudinal_flag(), Some("MODIFIED"));
    let codes: Vec<&str> = p.method_codes().iter().map(|c| c.0).collect();
    assert_eq!(codes, ["113100", "113110", "113109", "113107"]);
}

#[test]
fn conflicts_and_misuse_are_errors() {
    assert!(matches!(
        Profile::builtin(
            Level::Basic,
            &[
                DeidOption::RetainLongitudinalFullDates,
                DeidOption::RetainLongitudinalModifiedDates
            ]
        ),
        Err(ProfileError::Conflict { .. })
    ));
    assert!(matches!(
        Profile::builtin(Level::Anonymize, &[DeidOption::RetainUids]),
        Err(ProfileError::OptionsNotAllowed { .. })
    ));
    let p =
        Profile::builtin(Level::AnonymizeFull, &[DeidOption::RetainPatientIdHash]).expect("hash");
    assert!(matches!(
        p.with_blank_identifiers(true),
        Err(ProfileError::Conflict { .. })
    ));
    let blank = Profile::builtin(Level::AnonymizeFull, &[])
        .and_then(|p| p.with_blank_identifiers(true))
        .expect("blank");
    assert!(blank.blanks_identifiers() && !blank.pseudonymizes_patient_id());
}

#[test]
fn anonymize_level_lists_exactly_five_attributes() {
    let p = Profile::builtin(Level::Anonymize, &[]).expect("anonymize");
    let listed: Vec<Rule> = p
        .rules()
        .into_iter()
        .filter(|r| !r.tag.starts_with('(') && r.tag != "gggg,eeee")
        .collect();
    assert_eq!(listed.len(), 5);
    assert!(!p.removes_identity() && !p.remaps_uids());
}

#[test]
fn custom_toml_profiles() {
    let p = Profile::from_toml(
        r#"
        name = "irb-17"
        base = "anonymize-full"
        options = ["RetainDeviceIdentityOption", "retain-longitudinal-modified-dates"]
        [actions]
        "0008,1030" = "K"
        PatientAge = "k"
        "(0010,2180)" = "X/Z"
        "#,
    )
    .expect("custom");
    assert_eq!(p.name(), "irb-17");
    assert_eq!(
        p.lookup(tags::STUDY_DESCRIPTION).map(|r| r.action),
        Some(Action::K)
    );
    assert_eq!(
        p.lookup(tags::PATIENT_AGE).map(|r| r.action),
        Some(Action::K)
    );
    assert_eq!(
        p.lookup(tags::OCCUPATION).map(|r| r.action),
        Some(Action::XZ)
    );
    assert!(
        p.method_codes().is_empty(),
        "K overrides drop the Basic claim"
    );
    assert!(Profile::from_toml("base = \"basic\"\n[actions]\nNoSuchKeyword = \"X\"").is_err());
    assert!(Profile::from_toml("base = \"basic\"\n[actions]\nPatientAge = \"Q\"").is_err());
    assert!(Profile::from_toml("base = \"nope\"").is_err());
    assert!(Profile::from_toml("base = \"basic\"\nsurprise = 1").is_err());
    assert!(Profile::from_toml("base = \"original\"\n[actions]\nPatientAge = \"X\"").is_err());
}

#[test]
fn digest_tracks_rules_not_names() {
    let a = Profile::builtin(Level::Basic, &[]).expect("a");
    let b = Profile::from_toml("name = \"x\"\nbase = \"basic\"").expect("b");
    let c = Profile::builtin(Level::Basic, &[DeidOption::CleanGraphics]).expect("c");
    assert_eq!(a.digest(), b.digest());
    assert_ne!(a.digest(), c.digest());
    assert!(a.method_description().iter().all(|v| v.len() <= 64));
}

#[test]
fn profiles_parse_entries_and_their_digest_covers_them() {
    let plain = Profile::from_toml("base = \"anonymize-full\"").expect("plain");
    let text = r#"
        base = "anonymize-full"
        [[accept]]
        tag = "StudyDescription"
        kind = "InstitutionName"
        [[accept]]
        tag = "(0040,A730)[0]/(0040,A160)"
        kind = "StationName"
        [[accept]]
        tag = "0008,1030"
        kind = "InstitutionName"
    "#;
    let p = Profile::from_toml(text).expect("with accepts");
    assert_eq!(p.accepts().len(), 2, "duplicates collapse");
    assert_ne!(p.digest(), plain.digest(), "accepts are in the digest");
    assert_eq!(
        p.with_options(&[DeidOption::RetainUids])
            .expect("options")
            .accepts(),
        p.accepts(),
        "options keep the list"
    );
    let other = Profile::from_toml(&text.replace("StationName", "PatientName")).expect("ok");
    assert_ne!(p.digest(), other.digest());
    assert_eq!(
        plain.digest(),
        Profile::builtin(Level::AnonymizeFull, &[])
            .expect("builtin")
            .digest(),
        "a profile without accepts keeps the digest it always had"
    );
    for bad in [
        "base = \"basic\"\n[[accept]]\ntag = \"StudyDescription\"\n",
        "base = \"basic\"\n[[accept]]\ntag = \"StudyDescription\"\nkind = \"X\"\nwhy = 1\n",
        "base = \"basic\"\n[[accept]]\ntag = \"Nope\"\nkind = \"X\"\n",
        "base = \"original\"\n[[accept]]\ntag = \"StudyDescription\"\nkind = \"X\"\n",
    ] {
        assert!(Profile::from_toml(bad).is_err(), "{bad}");
    }
}
