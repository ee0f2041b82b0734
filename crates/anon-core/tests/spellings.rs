//! A name in the spellings it reaches files in: upper-case or as given, composed (NFC) or
//! decomposed (NFD, as macOS writes `Mu` U+0308 `ller`). The identity model's byte spellings
//! (what the PHI audit searches, in pixel data too) hold them all, and the engine cuts a name
//! out of text and binary values whichever form the name and the text are in.

use anon_core::identity::{ByteSpelling, byte_spellings};
use anon_core::{DeidOption, Deidentifier, Key, Level, Profile, SubjectContext};
use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{DefaultDicomObject, InMemDicomObject};

const NFC: &str = "Müller-Lüdenscheidt";
const NFD: &str = "Mu\u{308}ller-Lu\u{308}denscheidt";

/// WindowCenterWidthExplanation (0028,1055), LO: not in the table, cleaned beyond it.
const EXPLANATION: Tag = Tag(0x0028, 0x1055);
/// An OB attribute the table does not list.
const UNLISTED_OB: Tag = Tag(0x0050, 0x0998);

fn has(spellings: &[ByteSpelling], bytes: &[u8]) -> Option<bool> {
    spellings
        .iter()
        .find(|s| s.bytes == bytes)
        .map(|s| s.common)
}

#[test]
fn every_case_variant_is_searched_in_pixel_data_in_utf8_and_latin1() {
    let s = byte_spellings(NFC);
    for variant in [
        "Müller-Lüdenscheidt",
        "MÜLLER-LÜDENSCHEIDT",
        "müller-lüdenscheidt",
    ] {
        let latin1: Vec<u8> = variant.chars().map(|c| c as u32 as u8).collect();
        assert_eq!(
            has(&s, variant.as_bytes()),
            Some(true),
            "{variant} in UTF-8"
        );
        assert_eq!(has(&s, &latin1), Some(true), "{variant} in Latin-1");
    }
    // Other character sets stay out of pixel data (random bytes would match them).
    let latin2 = encoding_rs::ISO_8859_2.encode("ŁÓDŹ").0.into_owned();
    assert_eq!(has(&byte_spellings("Łódź"), &latin2), Some(false));
}

#[test]
fn composed_and_decomposed_names_are_spelled_in_both_forms() {
    for given in [NFC, NFD] {
        let s = byte_spellings(given);
        for form in [NFC, NFD] {
            assert_eq!(
                has(&s, form.as_bytes()),
                Some(true),
                "{given:?} spelled {form:?}"
            );
            let upper = form.to_uppercase();
            assert_eq!(has(&s, upper.as_bytes()), Some(true), "{upper:?}");
        }
        // Latin-1 holds the composed form only.
        assert_eq!(
            has(&s, b"M\xfcller-L\xfcdenscheidt"),
            Some(true),
            "{given:?}"
        );
        assert_eq!(
            has(&s, b"M\xdcLLER-L\xdcDENSCHEIDT"),
            Some(true),
            "{given:?}"
        );
    }
}

fn file(charset: &str, name: &str, explanation: &str, ob: &[u8]) -> DefaultDicomObject {
    let el = |tag, vr, v: &str| DataElement::new(tag, vr, PrimitiveValue::from(v));
    InMemDicomObject::from_element_iter([
        el(tags::SPECIFIC_CHARACTER_SET, VR::CS, charset),
        el(tags::SOP_CLASS_UID, VR::UI, uids::MR_IMAGE_STORAGE),
        el(tags::SOP_INSTANCE_UID, VR::UI, "2.25.91"),
        el(tags::PATIENT_NAME, VR::PN, name),
        el(tags::PATIENT_ID, VR::LO, "DE-1207"),
        el(EXPLANATION, VR::LO, explanation),
        DataElement::new(UNLISTED_OB, VR::OB, PrimitiveValue::U8(ob.to_vec().into())),
    ])
    .with_meta(
        FileMetaTableBuilder::new()
            .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
            .media_storage_sop_class_uid(uids::MR_IMAGE_STORAGE)
            .media_storage_sop_instance_uid("2.25.91"),
    )
    .expect("meta")
}

/// Written to bytes and read back, as a file is read.
fn reread(obj: &DefaultDicomObject) -> DefaultDicomObject {
    let mut bytes = Vec::new();
    obj.write_all(&mut bytes).expect("write");
    dicom_object::from_reader(&bytes[128..]).expect("read back")
}

fn run(original: &DefaultDicomObject, extra: &[&str]) -> DefaultDicomObject {
    let d = Deidentifier::new(
        Profile::builtin(Level::AnonymizeFull, &[DeidOption::CleanDescriptors]).expect("profile"),
        Key::from_bytes([3; 32]),
    );
    let original = reread(original);
    let mut subject: SubjectContext = d.subject_context(&original);
    subject
        .identifiers
        .extend(extra.iter().map(|s| s.to_string()));
    let mut obj = original.clone();
    d.apply(&mut obj, &subject).expect("apply");
    reread(&obj)
}

fn explanation(obj: &DefaultDicomObject) -> String {
    obj.get(EXPLANATION)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn ob(obj: &DefaultDicomObject) -> Vec<u8> {
    obj.get(UNLISTED_OB)
        .and_then(|e| e.to_bytes().ok())
        .map(|b| b.into_owned())
        .unwrap_or_default()
}

#[test]
fn a_decomposed_name_is_cut_from_composed_text_and_the_reverse_in_utf8() {
    for (name, text) in [(NFC, NFD), (NFD, NFC)] {
        let written = format!("W {text}, L {}", text.to_uppercase());
        let mut bytes = b"x ".to_vec();
        bytes.extend_from_slice(text.as_bytes());
        bytes.extend_from_slice(b" y");
        let out = run(
            &file(
                "ISO_IR 192",
                &format!("{name}^Hans-Jürgen"),
                &written,
                &bytes,
            ),
            &[],
        );
        assert_eq!(explanation(&out), "W , L", "name {name:?}, text {text:?}");
        let ob = ob(&out);
        assert!(ob.starts_with(b"x "), "name {name:?}: {ob:?}");
        assert!(
            !ob.windows(4).any(|w| w == b"ller" || w == b"LLER"),
            "name {name:?}: {ob:?}"
        );
    }
}

#[test]
fn a_decomposed_name_is_cut_from_latin1_text_and_bytes() {
    // A Latin-1 file can only hold the composed form; the name may come decomposed from
    // elsewhere (the archive's index of a file written on macOS).
    let mut bytes = b"x M\xfcller-L\xfcdenscheidt y".to_vec();
    bytes.push(b' ');
    let out = run(
        &file(
            "ISO_IR 100",
            "Doe^Jane",
            "Müller-Lüdenscheidt, MÜLLER-LÜDENSCHEIDT",
            &bytes,
        ),
        &[NFD],
    );
    assert_eq!(explanation(&out), ",");
    assert_eq!(ob(&out), b"x \0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0 y ");
}

#[test]
fn a_match_that_ends_inside_a_letter_is_no_match() {
    // `Mu` is a name; `Mü` (decomposed: M, u, U+0308) does not hold it.
    let out = run(
        &file("ISO_IR 192", "Mu^Li", &format!("{NFD} Mu"), b"--"),
        &[],
    );
    assert_eq!(explanation(&out), NFD);
}
