//! Data sets with ISO 2022 code extensions (`\ISO 2022 IR 87`, `\ISO 2022 IR 149`): the
//! values the export and `depot audit` search are the characters the bytes spell, so a name
//! is found in every character set (UTF-8 in pixel data, JIS or KS X 1001 glued into other
//! text), not only as the bytes the index's undecoded value holds.

use dicom_core::value::DataSetSequence;
use dicom_core::{Length, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::*;
use crate::export::{edited, import_specs, reviewed_findings};
use crate::quarantine::quarantine_id;

/// One patient whose text is written with ISO 2022 code extensions.
struct Iso2022Patient {
    /// Specific Character Set.
    charset: &'static [&'static str],
    patient_id: &'static str,
    /// PatientName, ReferringPhysicianName, InstitutionName, as the file holds them.
    name: &'static [u8],
    physician: &'static [u8],
    institution: &'static [u8],
    /// The physician's name and a title, glued (LUTExplanation of a VOI LUT).
    glued_physician: &'static [u8],
    /// The physician's name as it must not survive in the package (both parts, no escape).
    physician_bytes: &'static [u8],
    /// The institution followed by a department (ContentDescription).
    institution_and_more: &'static [u8],
    /// The patient's name in UTF-8, hidden in the pixel data.
    name_utf8: &'static str,
}

const JAPANESE: Iso2022Patient = Iso2022Patient {
    charset: &["", "ISO 2022 IR 87"],
    patient_id: "JP55501234",
    // Yamada^Tarou=山田^太郎
    name: b"Yamada^Tarou=\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B",
    // Suzuki^Ichiro=鈴木^一郎
    physician: b"Suzuki^Ichiro=\x1b$BNkLZ\x1b(B^\x1b$B0lO:\x1b(B",
    // 東京中央病院
    institution: b"\x1b$BEl5~Cf1{IB1!\x1b(B",
    // 鈴木一郎先生
    glued_physician: b"\x1b$BNkLZ0lO:@h@8\x1b(B",
    physician_bytes: b"NkLZ0lO:",
    // 東京中央病院放射線科
    institution_and_more: b"\x1b$BEl5~Cf1{IB1!J|<M@~2J\x1b(B",
    name_utf8: "山田太郎",
};

const KOREAN: Iso2022Patient = Iso2022Patient {
    charset: &["", "ISO 2022 IR 149"],
    patient_id: "KR20001234",
    // Hong^Gildong=홍^길동
    name: b"Hong^Gildong=\x1b$)C\xc8\xab^\x1b$)C\xb1\xe6\xb5\xbf",
    // Kim^Cheolsu=김^철수
    physician: b"Kim^Cheolsu=\x1b$)C\xb1\xe8^\x1b$)C\xc3\xb6\xbc\xf6",
    // 서울대학교병원
    institution: b"\x1b$)C\xbc\xad\xbf\xef\xb4\xeb\xc7\xd0\xb1\xb3\xba\xb4\xbf\xf8",
    // 김철수선생님
    glued_physician: b"\x1b$)C\xb1\xe8\xc3\xb6\xbc\xf6\xbc\xb1\xbb\xfd\xb4\xd4",
    physician_bytes: b"\xb1\xe8\xc3\xb6\xbc\xf6",
    // 서울대학교병원영상의학과
    institution_and_more: b"\x1b$)C\xbc\xad\xbf\xef\xb4\xeb\xc7\xd0\xb1\xb3\xba\xb4\xbf\xf8\xbf\xb5\xbb\xf3\xc0\xc7\xc7\xd0\xb0\xfa",
    name_utf8: "홍길동",
};

/// A text element holding exactly `bytes` (dicom-rs writes a Latin-1 character as its byte).
fn raw_text(tag: Tag, vr: VR, bytes: &[u8]) -> DataElement<InMemDicomObject> {
    let text: String = bytes.iter().copied().map(char::from).collect();
    DataElement::new(tag, vr, PrimitiveValue::from(text))
}

/// The patient's file: the values above where the tester planted them, 16-bit pixels (8×8)
/// holding the name in UTF-8.
fn file_of(p: &Iso2022Patient, i: u32) -> Vec<u8> {
    let spec = InstanceSpec {
        patient_id: p.patient_id.into(),
        study_uid: format!("2.25.202{i}1"),
        series_uid: format!("2.25.202{i}2"),
        sop_uid: format!("2.25.202{i}3"),
        frame_of_reference_uid: Some(format!("2.25.202{i}4")),
        ..InstanceSpec::default()
    };
    let bytes = edited(&spec, |o| {
        o.put(DataElement::new(
            tags::SPECIFIC_CHARACTER_SET,
            VR::CS,
            PrimitiveValue::Strs(p.charset.iter().map(|s| s.to_string()).collect()),
        ));
        o.put(raw_text(tags::PATIENT_NAME, VR::PN, p.name));
        o.put(raw_text(
            tags::REFERRING_PHYSICIAN_NAME,
            VR::PN,
            p.physician,
        ));
        o.put(raw_text(tags::INSTITUTION_NAME, VR::LO, p.institution));
        o.put(raw_text(
            Tag(0x0070, 0x0081),
            VR::LO,
            p.institution_and_more,
        ));
        let voi = InMemDicomObject::from_element_iter([
            DataElement::new(
                Tag(0x0028, 0x3002),
                VR::US,
                PrimitiveValue::U16([4, 0, 16].into_iter().collect()),
            ),
            raw_text(Tag(0x0028, 0x3003), VR::LO, p.glued_physician),
            DataElement::new(
                Tag(0x0028, 0x3006),
                VR::US,
                PrimitiveValue::U16([0, 100, 200, 300].into_iter().collect()),
            ),
        ]);
        o.put(DataElement::new(
            Tag(0x0028, 0x3010),
            VR::SQ,
            DataSetSequence::new(vec![voi], Length::UNDEFINED),
        ));
        let mut pixels: Vec<u8> = (0..64u16).flat_map(|v| (v * 37).to_le_bytes()).collect();
        let name = p.name_utf8.as_bytes();
        pixels[40..40 + name.len()].copy_from_slice(name);
        o.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U8(pixels.into_iter().collect()),
        ));
    });
    // The fixture holds the bytes as the tester wrote them.
    for b in [
        p.name,
        p.physician,
        p.glued_physician,
        p.institution_and_more,
    ] {
        assert!(
            bytes.windows(b.len()).any(|w| w == b),
            "fixture lacks {b:?}"
        );
    }
    bytes
}

fn place(kind: &str, region: &str, tag: &str) -> (String, String, String) {
    (kind.into(), region.into(), tag.into())
}

#[test]
fn iso_2022_names_are_searched_as_the_characters_they_spell() {
    let t = TestDir::new();
    import_specs(
        &t,
        &t.archive(),
        "in",
        "p",
        &[
            ("jp.dcm", file_of(&JAPANESE, 1)),
            ("kr.dcm", file_of(&KOREAN, 2)),
        ],
    );
    // `depot audit` of an `original` package: every value the archive holds is searched,
    // in every character set.
    export(&t, "orig", &["--level", "original"]).ok();
    let run = audit(&t, "orig", &["--json"]).expect_code(1);
    let found = value_places(&findings(&run));
    for want in [
        place(
            "ReferringPhysicianName",
            "header",
            "(0028,3010)[0]/(0028,3003)",
        ),
        place("InstitutionName", "header", "(0070,0081)"),
        place("PatientName", "pixel-data", ""),
    ] {
        let files = findings(&run)
            .iter()
            .filter(|f| value_places(&[(*f).clone()]).contains(&want))
            .count();
        assert_eq!(files, 2, "{want:?} in both files: {found:?}");
    }

    // The export at anonymize-full: the physician is cut from the glued text, the
    // institution and the name in the pixels are found, so the package is quarantined; a
    // later `depot audit` of it agrees.
    let run = export(&t, "pkg", &["--level", "anonymize-full"]).expect_code(1);
    let id = quarantine_id(&run);
    let exported = value_places(&reviewed_findings(&t, &id));
    let package = t.archive().join("quarantine").join(&id).join("package");
    let audited = value_places(&findings(
        &at_archive(&t, &t.archive())
            .arg("audit")
            .arg(&package)
            .arg("--json")
            .run()
            .expect_code(1),
    ));
    for found in [&exported, &audited] {
        for want in [
            place("InstitutionName", "header", "(0070,0081)"),
            place("PatientName", "pixel-data", ""),
        ] {
            assert!(found.contains(&want), "{want:?}: {found:?}");
        }
    }
    let files = dicom_files(&read_package(&package));
    assert_eq!(files.len(), 2);
    for p in [JAPANESE, KOREAN] {
        let cut = files.values().all(|b| {
            !b.windows(p.physician_bytes.len())
                .any(|w| w == p.physician_bytes)
        });
        let reported = exported.contains(&place(
            "ReferringPhysicianName",
            "header",
            "(0028,3010)[0]/(0028,3003)",
        ));
        assert!(
            cut || reported,
            "{}: physician neither cut nor found",
            p.patient_id
        );
    }
}
