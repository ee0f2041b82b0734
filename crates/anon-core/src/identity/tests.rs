//! Tests of the identity model: placeholders, name and date spellings, kinds, byte spellings.

use dicom_core::VR;
use dicom_dictionary_std::tags;

use super::*;

#[test]
fn placeholders_seen_in_real_data_are_recognised() {
    for p in [
        "Anonymized",
        "ANONYMOUS",
        "Anonymous^Anonymous",
        "*NO INFO NO INFO*      NO INFO",
        "^^^^",
        "N/A",
        "n/a",
        "---",
        "De-identified",
        "",
        "NAME^PATIENT^NAME",
        "Last Name^First Name",
        "Sssssss^Jsssss",
        "000000000",
        "11111111",
        "XXXXXXXX",
    ] {
        assert!(is_placeholder(p), "{p:?}");
    }
}

#[test]
fn names_and_ids_are_never_placeholders() {
    for v in [
        "Test",
        "Smith",
        "Doe^Anonymous",
        "Anonymized Smith",
        "NO INFO 1234567",
        "Nona",
        "Anna",
        "王",
        "4711",
        "Noinfo",
        "Patient^Smith",
        "A0000000",
        "Bob",
        "Otto",
        "11111112",
        "Aaron",
    ] {
        assert!(!is_placeholder(v), "{v:?}");
    }
}

#[test]
fn names_are_spelled_whole_and_part_by_part_without_titles() {
    let t = name_texts("Schulz-Brandenburger^Anna Maria^^Dr^Jr");
    for want in [
        "Schulz-Brandenburger^Anna Maria^^Dr^Jr",
        "Schulz-Brandenburger",
        "Schulz",
        "Brandenburger",
        "Anna Maria",
        "Anna",
        "Maria",
    ] {
        assert!(t.iter().any(|x| x == want), "{want} in {t:?}");
    }
    assert!(!t.iter().any(|x| x == "Dr" || x == "Jr"), "{t:?}");
    assert!(name_texts("O'Neill^Sean").iter().any(|x| x == "Neill"));
    assert!(name_texts("山田^太郎").iter().any(|x| x == "山田太郎"));
}

#[test]
fn dates_and_kinds() {
    assert_eq!(date_texts("19650312").len(), 7);
    assert!(date_texts("20200315101010").contains(&"15.03.2020".to_string()));
    assert_eq!(
        kind_of(tags::OPERATORS_NAME, VR::PN),
        Some(ValueKind::PersonName)
    );
    assert_eq!(kind_of(tags::STUDY_ID, VR::SH), Some(ValueKind::Identifier));
    assert_eq!(
        kind_of(tags::INSTITUTION_NAME, VR::LO),
        Some(ValueKind::Text)
    );
    assert_eq!(kind_of(tags::PATIENT_SEX, VR::CS), None);
    assert_eq!(kind_of(tags::PATIENT_WEIGHT, VR::DS), None);
    assert!(texts_of(ValueKind::PersonName, "Anonymous^Smith").contains(&"Smith".into()));
    assert!(!texts_of(ValueKind::PersonName, "Anonymous^Smith").contains(&"Anonymous".into()));
    assert!(texts_of(ValueKind::Text, "NO INFO").is_empty());
}

#[test]
fn byte_spellings_cover_dicom_character_sets() {
    let s = byte_spellings("Müller");
    assert!(s.iter().any(|b| b.bytes == b"M\xfcller" && b.common));
    assert!(s.iter().any(|b| b.bytes == "MÜLLER".as_bytes()));
    let s = byte_spellings("山田");
    assert!(s.iter().any(|b| b.bytes == b"\x8eR\x93c")); // Shift JIS
    assert!(s.iter().any(|b| b.bytes == b"\x1b$B;3ED")); // ISO 2022 IR 87
    assert!(s.iter().any(|b| b.bytes == b";3ED")); // its bytes without the escape
}
