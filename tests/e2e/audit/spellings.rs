//! Names in other character sets, cases and spellings; a fake pixel data header hides nothing.

use super::*;

// Spellings

#[test]
fn names_in_other_character_sets_cases_and_spellings_are_found() {
    let t = TestDir::new();
    archive_of(
        &t,
        &[
            patient_spec(1, "Иванов^Пётр", "RU000010", "19700101"),
            patient_spec(2, "Müller^Hans", "DE000012", "19650312"),
            patient_spec(3, "Schulz-Brandenburger^Eva", "DE000013", "19700101"),
            patient_spec(4, "Wang^Xiaodong=王^小东", "CN000014", "19700101"),
            patient_spec(5, "Hong^Gildong=홍^길동", "KR000015", "19700101"),
            patient_spec(6, "Yamada^Tarou=山田^太郎", "JP000016", "19700101"),
        ],
    );
    export(&t, "clean", &["--level", "anonymize-full"]).ok();
    audit(&t, "clean", &[]).ok();
    // Each patient's folder in the package (the pseudonym of a package of that patient alone).
    let folder = |patient_id: &str| -> String {
        let code = crate::export::query(&t, "subjects", &[])
            .into_iter()
            .find(|r| r["patient_id"] == patient_id)
            .map(|r| s(&r, "subject").to_string())
            .expect("subject");
        let only = format!("only-{patient_id}");
        if !t.join(&only).exists() {
            export(
                &t,
                &only,
                &["--level", "anonymize-full", "--subject", &code],
            )
            .ok();
        }
        let files = read_package(&t.join(&only));
        let rel = dicom_files(&files).into_keys().next().expect("a file");
        format!("{}/", rel.split('/').next().expect("folder"))
    };
    // (spelling, bytes as the data's own character set writes them, attribute, whose)
    let plants: [(&str, &[u8], &str, &str); 8] = [
        // ISO_IR 144 (ISO 8859-5): Иванов.
        (
            "cyrillic",
            b"\xb8\xd2\xd0\xdd\xde\xd2",
            "PatientName",
            "RU000010",
        ),
        // ISO_IR 100, upper case: MÜLLER for an archived Müller.
        ("latin1-upper", b"M\xDCLLER", "PatientName", "DE000012"),
        ("dd.mm.yyyy", b"12.03.1965", "PatientBirthDate", "DE000012"),
        ("mm/dd/yyyy", b"03/12/1965", "PatientBirthDate", "DE000012"),
        ("hyphen-part", b"Schulz", "PatientName", "DE000013"),
        // GB18030: the single-character surname 王.
        ("gb18030-single", b"\xcd\xf5", "PatientName", "CN000014"),
        // ISO 2022 IR 149: 홍 after its escape sequence.
        (
            "ks-x-1001-single",
            b"\x1b$)C\xc8\xab",
            "PatientName",
            "KR000015",
        ),
        // ISO 2022 IR 87: 山田 after its escape sequence.
        ("jis-x-0208", b"\x1b$B;3ED", "PatientName", "JP000016"),
    ];
    for (what, bytes, label, whose) in plants {
        let pkg = t.join(what);
        copy_package(&t.join("clean"), &pkg);
        let (rel, _) = plant_under(&pkg, &folder(whose), bytes);
        let run = audit(&t, what, &[]);
        let run = run.expect_code(1);
        assert!(
            run.stderr
                .contains(&format!("{label} value found in the header of {rel} at (")),
            "{what}: {}",
            run.stderr
        );
    }
    // In another patient's file, a whole birth date and a long part of a name are found; a
    // single character of a name, a short part, is not (see docs/export.md, "Whose values
    // count where").
    let other = folder("RU000010");
    for (what, bytes, found) in [
        ("other-date", b"12.03.1965".as_slice(), true),
        ("other-jis", b"\x1b$B;3ED", true),
        ("other-gb18030-single", b"\xcd\xf5", false),
    ] {
        let pkg = t.join(what);
        copy_package(&t.join("clean"), &pkg);
        plant_under(&pkg, &other, bytes);
        let run = audit(&t, what, &[]);
        assert_eq!(
            run.code,
            Some(if found { 1 } else { 0 }),
            "{what}: {}",
            run.stderr
        );
    }
}

#[test]
fn a_fake_pixel_data_header_in_a_text_value_hides_nothing_after_it() {
    let t = TestDir::new();
    let mut spec = patient_spec(1, "Doe^Jane", "MRN000070", "19700101");
    spec.modality = "SR".into();
    spec.sop_class_uid = "1.2.840.10008.5.1.4.1.1.88.33".into();
    spec.sr = Some(synth::fixture::SrDocument::default());
    archive_of(&t, &[spec]);
    export(&t, "clean", &["--level", "anonymize-full"]).ok();
    let marker: &[u8] = b"ANONYMIZED";
    for variant in ["control", "fake"] {
        let pkg = t.join(variant);
        copy_package(&t.join("clean"), &pkg);
        let (rel, mut bytes) = dicom_files(&read_package(&pkg))
            .into_iter()
            .next()
            .expect("the SR");
        let at: Vec<usize> = bytes
            .windows(marker.len())
            .enumerate()
            .filter(|(_, w)| *w == marker)
            .map(|(i, _)| i)
            .collect();
        assert!(at.len() >= 2, "two dummy values in the SR");
        let last = *at.last().expect("last");
        bytes[last..last + 10].copy_from_slice(b"WEBER     ");
        if variant == "fake" {
            // An implicit-VR Pixel Data header whose length runs to the end of the file.
            let first = at[0];
            let len = (bytes.len() - first - 8) as u32;
            bytes[first..first + 4].copy_from_slice(&[0xE0, 0x7F, 0x10, 0x00]);
            bytes[first + 4..first + 8].copy_from_slice(&len.to_le_bytes());
        }
        std::fs::write(pkg.join(&rel), &bytes).expect("write");
        let run = audit(&t, variant, &[]).expect_code(1);
        assert!(
            run.stderr.contains(&format!(
                "ReferringPhysicianName value found in the header of {rel} at ("
            )),
            "{variant}: {}",
            run.stderr
        );
    }
}
