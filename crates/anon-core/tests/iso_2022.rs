//! Data sets with ISO 2022 code extensions (Japanese IR 87 and IR 13, Korean IR 149, Chinese
//! IR 58), written to bytes and read back by dicom-rs as a file would be: every value the engine
//! reads is decoded character by character, so names are cut out of the text they are glued
//! into (`鈴木一郎先生` keeps `先生`), whichever way the value reached the engine (its own
//! attribute, a standard attribute encoded as UN, an index that kept the value undecoded).

use anon_core::{DeidOption, Deidentifier, Key, Level, Profile, SubjectId};
use dicom_core::value::{DataSetSequence, PrimitiveValue};
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{DefaultDicomObject, InMemDicomObject};

/// ContentDescription (0070,0081), LO: an attribute the table does not list.
const CONTENT_DESCRIPTION: Tag = Tag(0x0070, 0x0081);

/// One character set's test case: Specific Character Set and the encoder of its text.
struct Charset {
    values: &'static [&'static str],
    encode: fn(&str) -> Vec<u8>,
}

/// ISO 2022 IR 87: JIS X 0208 in G0 after `ESC $ B`, back to ASCII with `ESC ( B`.
fn jis(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut wide = false;
    for c in text.chars() {
        if c.is_ascii() {
            if wide {
                out.extend_from_slice(b"\x1b(B");
                wide = false;
            }
            out.push(c as u8);
        } else {
            if !wide {
                out.extend_from_slice(b"\x1b$B");
                wide = true;
            }
            let one = c.to_string();
            let (euc, _, bad) = encoding_rs::EUC_JP.encode(&one);
            assert!(!bad && euc.len() == 2, "{c}");
            out.extend(euc.iter().map(|b| b & 0x7F));
        }
    }
    if wide {
        out.extend_from_slice(b"\x1b(B");
    }
    out
}

/// G1 sets (IR 149, IR 58): the escape sequence before each run of two-byte characters.
fn g1(text: &str, escape: &[u8], enc: &'static encoding_rs::Encoding) -> Vec<u8> {
    let mut out = Vec::new();
    let mut wide = false;
    for c in text.chars() {
        if c.is_ascii() {
            wide = false;
            out.push(c as u8);
        } else {
            if !wide {
                out.extend_from_slice(escape);
                wide = true;
            }
            let one = c.to_string();
            let (b, _, bad) = enc.encode(&one);
            assert!(!bad && b.len() == 2, "{c}");
            out.extend_from_slice(&b);
        }
    }
    out
}

fn ksx(text: &str) -> Vec<u8> {
    g1(text, b"\x1b$)C", encoding_rs::EUC_KR)
}

fn gb(text: &str) -> Vec<u8> {
    g1(text, b"\x1b$)A", encoding_rs::GBK)
}

/// A person name's bytes: each component group in its own encoding, delimiters in ASCII (the
/// escape sequences start again after each `^` and `=`, PS3.5 6.1.2.5.3).
fn pn(alphabetic: &str, ideographic: &str, encode: fn(&str) -> Vec<u8>) -> Vec<u8> {
    let mut out = alphabetic.as_bytes().to_vec();
    out.push(b'=');
    for (i, part) in ideographic.split('^').enumerate() {
        if i > 0 {
            out.push(b'^');
        }
        out.extend(encode(part));
    }
    out
}

/// How dicom-rs holds bytes of a data set whose first Specific Character Set value is empty:
/// one character per byte.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().copied().map(char::from).collect()
}

fn text_el(tag: Tag, vr: VR, bytes: &[u8]) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, PrimitiveValue::from(latin1(bytes)))
}

fn el(tag: Tag, vr: VR, v: &str) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, PrimitiveValue::from(v))
}

/// Writes `ds` as a Part 10 file and reads it back with dicom-rs, as a file is read.
fn as_file(ds: InMemDicomObject) -> DefaultDicomObject {
    let obj = ds
        .with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
                .media_storage_sop_class_uid(uids::MR_IMAGE_STORAGE)
                .media_storage_sop_instance_uid("2.25.4711"),
        )
        .expect("meta");
    reread(&obj)
}

fn bytes_of(obj: &DefaultDicomObject) -> Vec<u8> {
    let mut bytes = Vec::new();
    obj.write_all(&mut bytes).expect("write");
    bytes
}

fn reread(obj: &DefaultDicomObject) -> DefaultDicomObject {
    let bytes = bytes_of(obj);
    dicom_object::from_reader(&bytes[128..]).expect("read back")
}

/// The value's bytes as the file holds them (padding removed).
fn value_bytes(obj: &InMemDicomObject, tag: Tag) -> Vec<u8> {
    let bytes = obj
        .get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.chars().map(|c| u32::from(c) as u8).collect::<Vec<u8>>())
        .unwrap_or_default();
    let end = bytes
        .iter()
        .rposition(|b| *b != b' ' && *b != 0)
        .map_or(0, |i| i + 1);
    bytes[..end].to_vec()
}

fn deid(level: Level, options: &[DeidOption]) -> Deidentifier {
    Deidentifier::new(
        Profile::builtin(level, options).expect("profile"),
        Key::from_bytes([7; 32]),
    )
}

/// Patient 山田太郎 (or 홍길동, 王小东), physician 鈴木一郎 (김철수, 李明), institution
/// 東京中央病院 (서울대학교병원, 北京协和医院), each also glued into text.
struct Case {
    charset: Charset,
    patient: (&'static str, &'static str),
    physician: (&'static str, &'static str),
    institution: &'static str,
    /// What is glued to the names in text, and must stay.
    honorific: &'static str,
    department: &'static str,
}

fn cases() -> [Case; 3] {
    [
        Case {
            charset: Charset {
                values: &["", "ISO 2022 IR 87"],
                encode: jis,
            },
            patient: ("Yamada^Tarou", "山田^太郎"),
            physician: ("Suzuki^Ichiro", "鈴木^一郎"),
            institution: "東京中央病院",
            honorific: "先生",
            department: "放射線科",
        },
        Case {
            charset: Charset {
                values: &["", "ISO 2022 IR 149"],
                encode: ksx,
            },
            patient: ("Hong^Gildong", "홍^길동"),
            physician: ("Kim^Cheolsu", "김^철수"),
            institution: "서울대학교병원",
            honorific: "선생님",
            department: "영상의학과",
        },
        Case {
            charset: Charset {
                values: &["", "ISO 2022 IR 58"],
                encode: gb,
            },
            patient: ("Wang^XiaoDong", "王^小东"),
            physician: ("Li^Ming", "李^明"),
            institution: "北京协和医院",
            honorific: "医生",
            department: "放射科",
        },
    ]
}

impl Case {
    fn joined(name: &str) -> String {
        name.replace('^', "")
    }

    /// A file of the case's patient, with the names glued into text: SeriesDescription (LO)
    /// and Occupation (SH), cleaned under clean-descriptors; ImageComments (LT); and beyond the
    /// table a LUTExplanation inside VOILUTSequence and ContentDescription (LO).
    fn file(&self, patient_id: Option<&str>) -> DefaultDicomObject {
        let e = self.charset.encode;
        let physician = Case::joined(self.physician.1);
        let patient = Case::joined(self.patient.1);
        let voi = InMemDicomObject::from_element_iter([
            DataElement::new(
                tags::LUT_DESCRIPTOR,
                VR::US,
                PrimitiveValue::U16([2, 0, 16].into_iter().collect()),
            ),
            text_el(
                tags::LUT_EXPLANATION,
                VR::LO,
                &e(&format!("{physician}{}", self.honorific)),
            ),
            DataElement::new(
                tags::LUT_DATA,
                VR::US,
                PrimitiveValue::U16([0, 4095].into_iter().collect()),
            ),
        ]);
        let mut ds = InMemDicomObject::from_element_iter([
            DataElement::new(
                tags::SPECIFIC_CHARACTER_SET,
                VR::CS,
                PrimitiveValue::Strs(self.charset.values.iter().map(|s| s.to_string()).collect()),
            ),
            el(tags::SOP_CLASS_UID, VR::UI, uids::MR_IMAGE_STORAGE),
            el(tags::SOP_INSTANCE_UID, VR::UI, "2.25.4711"),
            el(tags::MODALITY, VR::CS, "MR"),
            text_el(
                tags::PATIENT_NAME,
                VR::PN,
                &pn(self.patient.0, self.patient.1, e),
            ),
            el(tags::PATIENT_BIRTH_DATE, VR::DA, "19800704"),
            text_el(
                tags::REFERRING_PHYSICIAN_NAME,
                VR::PN,
                &pn(self.physician.0, self.physician.1, e),
            ),
            text_el(tags::INSTITUTION_NAME, VR::LO, &e(self.institution)),
            text_el(
                tags::SERIES_DESCRIPTION,
                VR::LO,
                &e(&format!("{physician}{}", self.honorific)),
            ),
            text_el(
                tags::OCCUPATION,
                VR::SH,
                &e(&format!("{patient}{}", self.honorific)),
            ),
            text_el(
                tags::IMAGE_COMMENTS,
                VR::LT,
                &e(&format!(
                    "{}{} {patient}{}",
                    self.institution, self.department, self.honorific
                )),
            ),
            text_el(
                CONTENT_DESCRIPTION,
                VR::LO,
                &e(&format!("{}{}", self.institution, self.department)),
            ),
            DataElement::new(
                tags::VOILUT_SEQUENCE,
                VR::SQ,
                DataSetSequence::new(vec![voi], Length::UNDEFINED),
            ),
        ]);
        if let Some(id) = patient_id {
            ds.put(el(tags::PATIENT_ID, VR::LO, id));
        }
        as_file(ds)
    }
}

#[test]
fn names_are_cut_out_of_the_text_they_are_glued_into_in_every_iso_2022_set() {
    for case in cases() {
        let e = case.charset.encode;
        let charset = case.charset.values.join("\\");
        let original = case.file(Some("JP55501234"));
        // C (clean-descriptors) cuts what the run removes: the physician (ReferringPhysicianName
        // is emptied), the institution, the patient.
        let d = deid(Level::AnonymizeFull, &[DeidOption::CleanDescriptors]);
        let mut obj = original.clone();
        d.apply(&mut obj, &d.subject_context(&original))
            .expect("apply");
        let obj = reread(&obj);
        assert_eq!(
            value_bytes(&obj, tags::SERIES_DESCRIPTION),
            e(case.honorific),
            "{charset}: SeriesDescription (LO)"
        );
        assert_eq!(
            value_bytes(&obj, tags::OCCUPATION),
            e(case.honorific),
            "{charset}: Occupation (SH)"
        );
        assert_eq!(
            value_bytes(&obj, tags::IMAGE_COMMENTS),
            e(&format!("{} {}", case.department, case.honorific)),
            "{charset}: ImageComments (LT)"
        );
    }
}

#[test]
fn values_an_index_kept_undecoded_are_cut_as_the_text_they_encode() {
    // The export adds what the archive's index holds of the subject: the physician and the
    // institution of its studies. An index that stored an ISO 2022 value as dicom-rs reads it
    // (one character per byte, escape sequences included) hands these strings over.
    for case in cases() {
        let e = case.charset.encode;
        let charset = case.charset.values.join("\\");
        let original = case.file(Some("JP55501234"));
        let d = deid(Level::AnonymizeFull, &[]);
        let mut subject = d.subject_context(&original);
        let physician = latin1(&pn(case.physician.0, case.physician.1, e));
        subject.identifiers.push(physician.clone());
        for part in physician.split(['^', '=']) {
            subject.identifiers.push(part.to_string());
        }
        subject.identifiers.push(latin1(&e(case.institution)));
        let mut obj = original.clone();
        d.apply(&mut obj, &subject).expect("apply");
        let obj = reread(&obj);
        let voi = obj
            .get(tags::VOILUT_SEQUENCE)
            .and_then(|s| s.items())
            .and_then(|i| i.first())
            .expect("VOI LUT item");
        assert_eq!(
            value_bytes(voi, tags::LUT_EXPLANATION),
            e(case.honorific),
            "{charset}: LUTExplanation"
        );
        assert_eq!(
            value_bytes(&obj, CONTENT_DESCRIPTION),
            e(case.department),
            "{charset}: ContentDescription"
        );
    }
}

#[test]
fn a_standard_text_attribute_encoded_as_un_is_decoded_with_the_code_extensions() {
    for case in cases() {
        let e = case.charset.encode;
        let charset = case.charset.values.join("\\");
        let mut original = case.file(Some("JP55501234"));
        let patient = Case::joined(case.patient.1);
        let mut value = e(&format!("{patient}{}", case.honorific));
        if value.len() % 2 == 1 {
            value.push(b' ');
        }
        original.put(DataElement::new(
            CONTENT_DESCRIPTION,
            VR::UN,
            PrimitiveValue::U8(value.into()),
        ));
        let original = reread(&original);
        let d = deid(Level::AnonymizeFull, &[]);
        let mut obj = original.clone();
        d.apply(&mut obj, &d.subject_context(&original))
            .expect("apply");
        let obj = reread(&obj);
        let cleaned = obj.get(CONTENT_DESCRIPTION).expect("kept");
        assert_eq!(
            cleaned.vr(),
            VR::LO,
            "{charset}: written anew in its own VR"
        );
        assert_eq!(
            value_bytes(&obj, CONTENT_DESCRIPTION),
            e(case.honorific),
            "{charset}"
        );
    }
}

#[test]
fn a_nameless_patient_gets_one_pseudonym_whatever_the_encoding() {
    // Without a PatientID the name and birth date stand in: the same name in ISO 2022 and in
    // UTF-8 is the same patient.
    for case in cases() {
        let charset = case.charset.values.join("\\");
        let original = case.file(None);
        let d = deid(Level::AnonymizeFull, &[]);
        let by_name = d.pseudonym_of(SubjectId::NameAndBirthDate {
            name: &format!("{}={}", case.patient.0, case.patient.1),
            birth_date: "19800704",
        });
        assert_eq!(d.subject_context(&original).pseudonym, by_name, "{charset}");
        assert_eq!(d.header_pseudonym(&original), by_name, "{charset}");
    }
}

#[test]
fn keyed_value_codes_are_the_same_whatever_the_encoding() {
    let profile = || {
        Profile::from_toml(
            r#"
name = "codes"
base = "basic"
[actions]
InstitutionName = "P"
"#,
        )
        .expect("profile")
    };
    let d = Deidentifier::new(profile(), Key::from_bytes([7; 32]));
    let case = &cases()[0];
    let iso = case.file(Some("JP55501234"));
    let mut utf8 = iso.clone();
    utf8.put(el(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192"));
    utf8.put(el(tags::INSTITUTION_NAME, VR::LO, case.institution));
    let utf8 = reread(&utf8);
    let code = |original: &DefaultDicomObject| {
        let mut obj = original.clone();
        d.apply(&mut obj, &d.subject_context(original))
            .expect("apply");
        obj.get(tags::INSTITUTION_NAME)
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    let a = code(&iso);
    assert!(!a.is_empty());
    assert_eq!(a, code(&utf8));
}

#[test]
fn katakana_in_g1_and_kanji_in_g0_under_iso_2022_ir_13() {
    // First value ISO 2022 IR 13: dicom-rs reads the bytes as Shift JIS; JIS X 0201 katakana
    // in G1, JIS X 0208 kanji after ESC $ B (PS3.5 H.3.1 example 2).
    let name: &[u8] = b"\xd4\xcf\xc0\xde^\xc0\xdb\xb3=\x1b$B;3ED\x1b(J^\x1b$BB@O:\x1b(J";
    // "ﾔﾏﾀﾞ 山田太郎 ｻﾏ"
    let comment: &[u8] = b"\xd4\xcf\xc0\xde \x1b$B;3EDB@O:\x1b(J \xbb\xcf";
    let sjis = |b: &[u8]| -> String {
        encoding_rs::SHIFT_JIS
            .decode_without_bom_handling(b)
            .0
            .into_owned()
    };
    let original = as_file(InMemDicomObject::from_element_iter([
        DataElement::new(
            tags::SPECIFIC_CHARACTER_SET,
            VR::CS,
            PrimitiveValue::Strs(
                ["ISO 2022 IR 13", "ISO 2022 IR 87"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            ),
        ),
        el(tags::SOP_CLASS_UID, VR::UI, uids::MR_IMAGE_STORAGE),
        el(tags::SOP_INSTANCE_UID, VR::UI, "2.25.4711"),
        el(tags::PATIENT_ID, VR::LO, "JP1"),
        DataElement::new(tags::PATIENT_NAME, VR::PN, PrimitiveValue::from(sjis(name))),
        DataElement::new(
            CONTENT_DESCRIPTION,
            VR::LO,
            PrimitiveValue::from(sjis(comment)),
        ),
    ]));
    let d = deid(Level::AnonymizeFull, &[]);
    let mut obj = original.clone();
    d.apply(&mut obj, &d.subject_context(&original))
        .expect("apply");
    let bytes = bytes_of(&obj);
    let kept = b"\x1b$B\x1b(J \xbb\xcf";
    assert!(
        bytes.windows(kept.len()).any(|w| w == kept),
        "only ｻﾏ (and the escapes) left"
    );
    for gone in [&b";3ED"[..], b"B@O:", b"\xd4\xcf\xc0\xde"] {
        assert!(!bytes.windows(gone.len()).any(|w| w == gone), "{gone:?}");
    }
}

#[test]
fn nested_names_are_cut_until_none_is_left() {
    // 山山田田先生: cutting 山田 out of the middle joins 山 and 田 into 山田 again.
    for case in cases() {
        let e = case.charset.encode;
        let charset = case.charset.values.join("\\");
        let mut original = case.file(Some("JP55501234"));
        let patient = Case::joined(case.patient.1);
        let (first, rest) = patient.split_at(patient.chars().next().map_or(0, char::len_utf8));
        original.put(text_el(
            CONTENT_DESCRIPTION,
            VR::LO,
            &e(&format!("{first}{patient}{rest}{}", case.honorific)),
        ));
        let original = reread(&original);
        let d = deid(Level::AnonymizeFull, &[]);
        let mut obj = original.clone();
        d.apply(&mut obj, &d.subject_context(&original))
            .expect("apply");
        let obj = reread(&obj);
        assert_eq!(
            value_bytes(&obj, CONTENT_DESCRIPTION),
            e(case.honorific),
            "{charset}"
        );
    }
}

#[test]
fn a_single_valued_iso_2022_character_set_is_cut_too() {
    // Specific Character Set `ISO 2022 IR 149` alone (code extensions declared without the
    // initial set): dicom-rs decodes such text as EUC-KR and leaves the escape sequences in it,
    // so the name's parts reach the engine as `ESC $ ) C 홍`.
    let original = as_file(InMemDicomObject::from_element_iter([
        el(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO 2022 IR 149"),
        el(tags::SOP_CLASS_UID, VR::UI, uids::MR_IMAGE_STORAGE),
        el(tags::SOP_INSTANCE_UID, VR::UI, "2.25.4711"),
        el(tags::PATIENT_ID, VR::LO, "KR1"),
        el(
            tags::PATIENT_NAME,
            VR::PN,
            "Hong^Gildong=\u{1b}$)C홍^\u{1b}$)C길동",
        ),
        el(CONTENT_DESCRIPTION, VR::LO, "\u{1b}$)C홍길동님, 길동"),
    ]));
    let d = deid(Level::AnonymizeFull, &[]);
    let mut obj = original.clone();
    d.apply(&mut obj, &d.subject_context(&original))
        .expect("apply");
    let obj = reread(&obj);
    let out = obj
        .get(CONTENT_DESCRIPTION)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    assert_eq!(out, "\u{1b}$)C님,");
}
