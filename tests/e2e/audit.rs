//! End-to-end tests of `depot audit`: clean on a fresh anonymize-full package, and, after an
//! identifier or a private element is planted into the package (a new file, a zip entry name,
//! the bytes of an exported file), exit 1 naming the file and the kind of value, never the
//! value itself.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_object::FileMetaTableBuilder;
use synth::fixture::InstanceSpec;

use crate::export::{
    archive_with_dump, at_archive, dicom_files, export, parse, read_package, s, small_dump,
};
use crate::support::*;

/// The identifying values of the dump's patient with a PatientID: (name, id, birth date).
fn patient(t: &TestDir) -> (String, String, String) {
    let row = crate::export::query(t, "subjects", &[])
        .into_iter()
        .find(|x| x["blank_patient_id"] == false)
        .expect("a subject with a PatientID");
    (
        s(&row, "patient_name").to_string(),
        s(&row, "patient_id").to_string(),
        s(&row, "birth_date").to_string(),
    )
}

/// `depot audit PKG` against the test's archive.
fn audit(t: &TestDir, pkg: &str, extra: &[&str]) -> Run {
    at_archive(t, &t.archive())
        .arg("audit")
        .arg(t.join(pkg))
        .args(extra)
        .run()
}

/// Asserts that none of `values` (nor the name's parts) appears in stdout or stderr.
fn assert_silent_about(run: &Run, values: &[&str]) {
    for v in values {
        for part in v.split('^').chain([*v]) {
            if part.len() < 3 {
                continue;
            }
            let (out, err) = (run.stdout.to_lowercase(), run.stderr.to_lowercase());
            let p = part.to_lowercase();
            assert!(
                !out.contains(&p) && !err.contains(&p),
                "the value {part:?} is shown:\n{}\n{}",
                run.stdout,
                run.stderr
            );
        }
    }
}

/// An anonymize-full package folder (`pkg`) and zip (`pkg.zip`) of the small dump.
fn packages(t: &TestDir) {
    archive_with_dump(t, &small_dump());
    export(t, "pkg", &["--level", "anonymize-full"]).ok();
    export(t, "pkg.zip", &["--level", "anonymize-full"]).ok();
}

#[test]
fn fresh_anonymize_full_packages_audit_clean() {
    let t = TestDir::new();
    packages(&t);
    for pkg in ["pkg", "pkg.zip"] {
        let run = audit(&t, pkg, &[]).ok();
        assert!(run.stderr.contains(": clean;"), "{}", run.stderr);
        assert!(
            run.stderr.contains("at anonymize-full"),
            "level read from the manifest: {}",
            run.stderr
        );
        let json = audit(&t, pkg, &["--json"]).ok().json();
        assert_eq!(json["findings"], serde_json::json!([]));
        assert_eq!(
            json["files"],
            44 - 2 + 2,
            "42 instances (burned-in series left out) + 2 manifests"
        );
        assert!(
            json["values_searched"].as_u64().expect("values_searched") > 20,
            "{json}"
        );
    }
}

#[test]
fn planted_name_and_birth_date_in_a_new_file_are_found_by_kind() {
    let t = TestDir::new();
    packages(&t);
    let (name, id, birth) = patient(&t);
    let spaced = name.replace('^', " ");
    std::fs::write(
        t.join("pkg/notes.txt"),
        format!("scan of {spaced}, see chart\n"),
    )
    .expect("write");
    let dashed = format!("{}-{}-{}", &birth[0..4], &birth[4..6], &birth[6..8]);
    std::fs::create_dir_all(t.join("pkg/extra")).expect("mkdir");
    std::fs::write(t.join("pkg/extra/dob.csv"), format!("born,{dashed}\n")).expect("write");

    let run = audit(&t, "pkg", &[]).expect_code(1);
    assert!(
        run.stderr.contains("PatientName value found in notes.txt"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("PatientBirthDate value found in extra/dob.csv"),
        "{}",
        run.stderr
    );
    assert_silent_about(&run, &[&name, &id, &birth, &dashed]);

    let json = audit(&t, "pkg", &["--json"]).expect_code(1);
    assert_silent_about(&json, &[&name, &id, &birth, &dashed]);
    let findings = json.json()["findings"]
        .as_array()
        .expect("findings")
        .clone();
    let has = |file: &str, what: &str| {
        findings
            .iter()
            .any(|f| f["finding"] == "value" && f["file"] == file && f["what"] == what)
    };
    assert!(has("notes.txt", "PatientName"), "{findings:?}");
    assert!(has("extra/dob.csv", "PatientBirthDate"), "{findings:?}");
    assert_eq!(findings.len(), 2, "only the planted files: {findings:?}");
}

#[test]
fn patient_id_written_into_an_exported_file_is_found() {
    let t = TestDir::new();
    packages(&t);
    let (name, id, birth) = patient(&t);
    // Overwrite a replaced value in the header of an uncompressed file with the PatientID.
    let files = dicom_files(&read_package(&t.join("pkg")));
    let marker: &[u8] = b"ANONYMIZED";
    assert!(id.len() <= marker.len(), "{id}");
    let (rel, mut bytes, at) = files
        .into_iter()
        .filter(|(_, b)| !b.windows(22).any(|w| w == b"1.2.840.10008.1.2.1.99"))
        .find_map(|(rel, b)| {
            b.windows(marker.len())
                .position(|w| w == marker)
                .map(|at| (rel, b, at))
        })
        .expect("a file with a replaced value");
    let mut planted = id.clone().into_bytes();
    planted.resize(marker.len(), b' ');
    bytes[at..at + marker.len()].copy_from_slice(&planted);
    std::fs::write(t.join("pkg").join(&rel), &bytes).expect("write");

    let run = audit(&t, "pkg", &[]).expect_code(1);
    assert!(
        run.stderr.contains(&format!(
            "PatientID value found in the header of {rel} at ("
        )),
        "the tag path is named: {}",
        run.stderr
    );
    assert_silent_about(&run, &[&name, &id, &birth]);
}

#[test]
fn a_private_element_planted_into_an_exported_file_is_reported() {
    let t = TestDir::new();
    packages(&t);
    let files = dicom_files(&read_package(&t.join("pkg")));
    let (rel, bytes) = files.iter().next().expect("a file");
    let mut obj = parse(bytes);
    obj.put(DataElement::new(
        Tag(0x0009, 0x0010),
        VR::LO,
        PrimitiveValue::from("ACME 1.1"),
    ));
    obj.put(DataElement::new(
        Tag(0x0009, 0x1001),
        VR::LO,
        PrimitiveValue::from("harmless"),
    ));
    let mut out = Vec::new();
    obj.write_all(&mut out).expect("encode");
    std::fs::write(t.join("pkg").join(rel), &out).expect("write");

    let run = audit(&t, "pkg", &[]).expect_code(1);
    assert!(
        run.stderr
            .contains(&format!("private element (0009,1001) in {rel}")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains(&format!("private element (0009,0010) in {rel}")),
        "{}",
        run.stderr
    );
}

/// Copies a zip package, adding one entry.
fn zip_with_extra(from: &Path, to: &Path, entry: &str, bytes: &[u8]) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(to).expect("create"));
    for (name, content) in read_package(from) {
        z.start_file(name, zip::write::SimpleFileOptions::default())
            .expect("entry");
        z.write_all(&content).expect("write");
    }
    z.start_file(entry, zip::write::SimpleFileOptions::default())
        .expect("entry");
    z.write_all(bytes).expect("write");
    z.finish().expect("finish");
}

#[test]
fn a_name_in_a_zip_entry_name_is_found_without_showing_it() {
    let t = TestDir::new();
    packages(&t);
    let (name, id, birth) = patient(&t);
    let family = name.split('^').next().expect("family name").to_string();
    let entry = format!("notes/{family}_scan.txt");
    zip_with_extra(
        &t.join("pkg.zip"),
        &t.join("bad.zip"),
        &entry,
        b"nothing to see",
    );

    let run = audit(&t, "bad.zip", &["--json"]).expect_code(1);
    let findings = run.json()["findings"].as_array().expect("findings").clone();
    assert!(
        findings.iter().any(|f| f["finding"] == "value"
            && f["what"] == "PatientName"
            && f["region"] == "path"),
        "{findings:?}"
    );
    // Named, yet the value is not shown: the finding must point at the entry without
    // spelling the family name that the entry's name contains.
    assert!(
        run.stderr.contains("PatientName value found in the path"),
        "{}",
        run.stderr
    );
    assert_silent_about(&run, &[&name, &id, &birth]);
}

#[test]
fn an_identifier_in_a_folder_package_file_name_is_found_without_showing_it() {
    let t = TestDir::new();
    packages(&t);
    let (name, id, birth) = patient(&t);
    std::fs::write(t.join(format!("pkg/{id}.txt")), b"x").expect("write");
    let run = audit(&t, "pkg", &[]).expect_code(1);
    assert!(
        run.stderr.contains("PatientID value found in the path"),
        "{}",
        run.stderr
    );
    assert_silent_about(&run, &[&name, &id, &birth]);
}

// ---------------------------------------------------------------------------------------------
// Archives of chosen patients
// ---------------------------------------------------------------------------------------------

/// One patient's instance, its text written as UTF-8 (ISO_IR 192) so any name can be held.
fn patient_spec(i: u32, name: &str, id: &str, birth: &str) -> InstanceSpec {
    InstanceSpec {
        patient_name: name.into(),
        patient_id: id.into(),
        birth_date: birth.into(),
        study_uid: format!("2.25.77{i}1"),
        series_uid: format!("2.25.77{i}2"),
        sop_uid: format!("2.25.77{i}3"),
        frame_of_reference_uid: Some(format!("2.25.77{i}4")),
        referring_physician: "WEBER^ANNA".into(),
        ..InstanceSpec::default()
    }
}

/// Writes `specs` into `<tmp>/dump` and imports them into the test's archive.
fn archive_of(t: &TestDir, specs: &[InstanceSpec]) {
    std::fs::create_dir_all(t.join("dump")).expect("mkdir");
    for (i, spec) in specs.iter().enumerate() {
        let mut obj = spec.to_object().expect("fixture");
        obj.put(DataElement::new(
            Tag(0x0008, 0x0005),
            VR::CS,
            PrimitiveValue::from("ISO_IR 192"),
        ));
        obj.with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax(spec.syntax.uid())
                .media_storage_sop_class_uid(spec.sop_class_uid.as_str())
                .media_storage_sop_instance_uid(spec.sop_uid.as_str()),
        )
        .expect("meta")
        .write_to_file(t.join(format!("dump/{i}.dcm")))
        .expect("write");
    }
    let run = at_archive(t, &t.archive())
        .arg("import")
        .arg(t.join("dump"))
        .run();
    assert!(run.code == Some(0), "import failed\n{}", run.stderr);
}

/// The findings of `depot audit --json`.
fn findings(run: &Run) -> Vec<serde_json::Value> {
    run.json()["findings"].as_array().expect("findings").clone()
}

/// Overwrites the first `ANONYMIZED` dummy in a header of the package with `bytes` (padded
/// with spaces), returning the file and the offset.
fn plant(pkg: &Path, bytes: &[u8]) -> (String, usize) {
    plant_under(pkg, "", bytes)
}

/// [`plant`] into a file whose path starts with `folder` (a subject's folder, with its `/`).
fn plant_under(pkg: &Path, folder: &str, bytes: &[u8]) -> (String, usize) {
    let marker: &[u8] = b"ANONYMIZED";
    assert!(bytes.len() <= marker.len());
    let files = dicom_files(&read_package(pkg));
    let (rel, mut content, at) = files
        .into_iter()
        .filter(|(rel, _)| rel.starts_with(folder))
        .find_map(|(rel, b)| {
            b.windows(marker.len())
                .position(|w| w == marker)
                .map(|at| (rel, b, at))
        })
        .expect("a file with a dummy value");
    let mut planted = bytes.to_vec();
    planted.resize(marker.len(), b' ');
    content[at..at + marker.len()].copy_from_slice(&planted);
    std::fs::write(pkg.join(&rel), &content).expect("write");
    (rel, at)
}

/// Copies a folder package.
fn copy_package(from: &Path, to: &Path) {
    for (rel, bytes) in read_package(from) {
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
        std::fs::write(dest, bytes).expect("write");
    }
}

// ---------------------------------------------------------------------------------------------
// The value search never depends on the level a package claims
// ---------------------------------------------------------------------------------------------

#[test]
fn an_original_package_is_not_clean_and_neither_is_one_whose_manifest_says_original() {
    let t = TestDir::new();
    packages(&t);
    let (name, id, birth) = patient(&t);
    export(&t, "orig", &["--level", "original"]).ok();
    let run = audit(&t, "orig", &[]).expect_code(1);
    assert!(run.stderr.contains("at original"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("PatientName value found in the header of")
            && run.stderr.contains(" at (0010,0010)"),
        "{}",
        run.stderr
    );
    assert_silent_about(&run, &[&name, &id, &birth]);
    let json = audit(&t, "orig", &["--json"]).expect_code(1);
    assert!(json.json()["values_searched"].as_u64().unwrap_or(0) > 20);
    assert!(
        findings(&json)
            .iter()
            .any(|f| f["what"] == "PatientID" && f["tag"] == "(0010,0020)"),
        "{}",
        json.stdout
    );

    // A de-identified package with the PatientID planted and its manifest edited to say
    // `original`.
    let (rel, _) = plant(&t.join("pkg"), id.as_bytes());
    let m = t.join("pkg/manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&m).expect("read")).expect("json");
    manifest["level"] = "original".into();
    std::fs::write(&m, serde_json::to_vec(&manifest).expect("json")).expect("write");
    let run = audit(&t, "pkg", &[]).expect_code(1);
    assert!(
        run.stderr.contains(&format!(
            "PatientID value found in the header of {rel} at ("
        )),
        "{}",
        run.stderr
    );
    assert_silent_about(&run, &[&name, &id, &birth]);
}

#[test]
fn a_level_given_on_the_command_line_does_not_weaken_the_manifest_s_claim() {
    let t = TestDir::new();
    packages(&t);
    let files = dicom_files(&read_package(&t.join("pkg")));
    let (rel, bytes) = files.iter().next().expect("a file");
    let mut obj = parse(bytes);
    obj.put(DataElement::new(
        Tag(0x0009, 0x0010),
        VR::LO,
        PrimitiveValue::from("ACME 1.1"),
    ));
    let mut out = Vec::new();
    obj.write_all(&mut out).expect("encode");
    std::fs::write(t.join("pkg").join(rel), &out).expect("write");
    // `anonymize` keeps private elements; the manifest claims anonymize-full.
    let run = audit(&t, "pkg", &["--level", "anonymize"]).expect_code(1);
    assert!(
        run.stderr
            .contains(&format!("private element (0009,0010) in {rel}")),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// Spellings
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Zip metadata and the manifest
// ---------------------------------------------------------------------------------------------

#[test]
fn zip_comments_and_extra_fields_are_audited() {
    let t = TestDir::new();
    packages(&t);
    let (name, id, birth) = patient(&t);
    for kind in ["comment", "extra"] {
        let to = t.join(format!("{kind}.zip"));
        let mut z = zip::ZipWriter::new(std::fs::File::create(&to).expect("create"));
        for (n, (entry, content)) in read_package(&t.join("pkg.zip")).into_iter().enumerate() {
            let mut opts = zip::write::FullFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored);
            if kind == "extra" && n == 0 {
                opts.add_extra_field(0x9999, id.as_bytes(), false)
                    .expect("extra");
            }
            z.start_file(entry, opts).expect("entry");
            z.write_all(&content).expect("write");
        }
        if kind == "comment" {
            z.set_comment(format!("patient {id}")).expect("comment");
        }
        z.finish().expect("finish");
        let run = audit(&t, &format!("{kind}.zip"), &[]).expect_code(1);
        let expected = if kind == "comment" {
            "PatientID value found in the zip file's comment".to_string()
        } else {
            "PatientID value found in the zip metadata (extra field, comment) of ".to_string()
        };
        assert!(run.stderr.contains(&expected), "{kind}: {}", run.stderr);
        assert_silent_about(&run, &[&name, &id, &birth]);
    }
}

#[test]
fn patients_named_like_manifest_words_are_exported_and_planted_values_still_found() {
    let t = TestDir::new();
    archive_of(
        &t,
        &[
            patient_spec(1, "Path^Anna", "PA000020", "19700101"),
            patient_spec(2, "Smith^Series", "PA000021", "19700101"),
            patient_spec(3, "Kind^May", "PA000022", "19700101"),
            patient_spec(4, "Level^Files", "PA000023", "19700101"),
        ],
    );
    for pkg in ["pkg", "pkg.zip"] {
        let run = export(&t, pkg, &["--level", "anonymize-full"]).ok();
        assert!(run.stderr.contains("audit clean"), "{}", run.stderr);
        audit(&t, pkg, &[]).ok();
    }
    let m = t.join("pkg/manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&m).expect("read")).expect("json");
    manifest["note"] = "for Smith, PA000021".into();
    std::fs::write(&m, serde_json::to_vec_pretty(&manifest).expect("json")).expect("write");
    let run = audit(&t, "pkg", &["--json"]).expect_code(1);
    let found: BTreeSet<(String, String)> = findings(&run)
        .iter()
        .map(|f| (s(f, "file").to_string(), s(f, "what").to_string()))
        .collect();
    assert_eq!(
        found,
        [
            ("manifest.json".to_string(), "PatientID".to_string()),
            ("manifest.json".to_string(), "PatientName".to_string())
        ]
        .into(),
        "{}",
        run.stdout
    );
}

// ---------------------------------------------------------------------------------------------
// Files too big to hold
// ---------------------------------------------------------------------------------------------

/// An explicit VR little endian element with a 16-bit length.
fn element(group: u16, element: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
    let mut value = value.to_vec();
    if value.len() % 2 == 1 {
        value.push(b' ');
    }
    let mut e = Vec::new();
    e.extend_from_slice(&group.to_le_bytes());
    e.extend_from_slice(&element.to_le_bytes());
    e.extend_from_slice(vr);
    e.extend_from_slice(&(value.len() as u16).to_le_bytes());
    e.extend_from_slice(&value);
    e
}

/// Writes a DICOM file at `path` whose Pixel Data holds `pixels` zero bytes (sparse: no disk
/// space) and whose elements after it, a private block, hold `text`.
fn big_dicom(path: &Path, pixels: u32, text: &str) {
    let ts = element(0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2.1\0");
    let mut head = vec![0u8; 128];
    head.extend_from_slice(b"DICM");
    head.extend(element(
        0x0002,
        0x0000,
        b"UL",
        &(ts.len() as u32).to_le_bytes(),
    ));
    head.extend(ts);
    head.extend(element(0x0010, 0x0010, b"PN", b"ANONYMIZED"));
    head.extend(element(0x0012, 0x0062, b"CS", b"YES"));
    head.extend_from_slice(&[0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0]);
    head.extend_from_slice(&pixels.to_le_bytes());
    let mut tail = element(0x7FE1, 0x0010, b"LO", b"ACME");
    tail.extend(element(0x7FE1, 0x1001, b"LO", text.as_bytes()));
    let mut f = std::fs::File::create(path).expect("create");
    f.write_all(&head).expect("write");
    f.set_len(head.len() as u64 + u64::from(pixels))
        .expect("sparse pixel data");
    use std::io::Seek;
    f.seek(std::io::SeekFrom::End(0)).expect("seek");
    f.write_all(&tail).expect("write");
}

/// `depot audit --json PKG` under an address-space limit of `kib` KiB.
fn audit_within(t: &TestDir, pkg: &str, kib: u64) -> Run {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {kib} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_depot"))
        .arg("--archive")
        .arg(t.archive())
        .args(["audit", "--json"])
        .arg(t.join(pkg))
        .current_dir(t.path())
        .env_remove("DEPOT_ARCHIVE")
        .env("DEPOT_KEY_DIR", t.join(".depot-keys"))
        // Few malloc arenas and threads: the address space then measures the data held.
        .env("MALLOC_ARENA_MAX", "2")
        .env("RAYON_NUM_THREADS", "2")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run depot");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn files_bigger_than_memory_allows_are_audited_by_streaming() {
    // A 512 MiB file in a folder package and in a zip, audited within a 400 MB address space:
    // read whole, it could not be held. The name after its pixel data and the private block
    // are still found, by element.
    let t = TestDir::new();
    archive_of(
        &t,
        &[patient_spec(1, "HALVORSEN^INGRID", "MRN-7711", "19700101")],
    );
    export(&t, "pkg", &["--level", "anonymize-full"]).ok();
    big_dicom(&t.join("pkg/big.dcm"), 512 << 20, "HALVORSEN was here");
    // The zip: the package's files and the big one, stored.
    let zip = std::fs::File::create(t.join("pkg.zip")).expect("create");
    let mut z = zip::ZipWriter::new(std::io::BufWriter::new(zip));
    for (rel, bytes) in read_package_small(&t.join("pkg")) {
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(rel == "big.dcm");
        z.start_file(rel.as_str(), opts).expect("entry");
        match bytes {
            Some(b) => z.write_all(&b).expect("write"),
            None => {
                let mut f = std::fs::File::open(t.join("pkg").join(&rel)).expect("open");
                std::io::copy(&mut f, &mut z).expect("copy");
            }
        }
    }
    z.finish().expect("finish");

    for pkg in ["pkg", "pkg.zip"] {
        let run = audit_within(&t, pkg, 400_000).expect_code(1);
        let found: BTreeSet<(String, String, String)> = findings(&run)
            .iter()
            .map(|f| {
                (
                    s(f, "finding").to_string(),
                    s(f, "file").to_string(),
                    f.get("tag")
                        .and_then(|t| t.as_str())
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect();
        let want: BTreeSet<(String, String, String)> = [
            ("value", "(7FE1,1001)"),
            ("private-element", "(7FE1,0010)"),
            ("private-element", "(7FE1,1001)"),
        ]
        .into_iter()
        .map(|(k, tag)| (k.to_string(), "big.dcm".to_string(), tag.to_string()))
        .collect();
        assert_eq!(found, want, "{pkg}: {}\n{}", run.stdout, run.stderr);
        assert!(
            run.json()["bytes"].as_u64().unwrap_or(0) > 512 << 20,
            "{pkg}: the big file was audited"
        );
        assert_silent_about(&run, &["HALVORSEN"]);
    }
}

/// Every file of a folder package by name: its bytes, or `None` for one too big to read.
fn read_package_small(pkg: &Path) -> Vec<(String, Option<Vec<u8>>)> {
    files_below(pkg)
        .into_iter()
        .map(|f| {
            let rel = f
                .strip_prefix(pkg)
                .expect("below")
                .to_string_lossy()
                .replace('\\', "/");
            let small = std::fs::metadata(&f).expect("stat").len() < 1 << 20;
            (rel, small.then(|| std::fs::read(&f).expect("read")))
        })
        .collect()
}

/// Two files of one patient's study naming two institutions, `first` imported before the other
/// into the archive at `archive` (the index keeps the first value seen).
fn archive_in_order(t: &TestDir, archive: &Path, first: usize) {
    let files: Vec<(String, Vec<u8>)> = ["NORTHGATE CLINIC", "SOUTHWICK INFIRMARY"]
        .iter()
        .enumerate()
        .map(|(i, institution)| {
            let spec = InstanceSpec {
                patient_name: "LINDQVIST^MAJA".into(),
                patient_id: "MRN-5501".into(),
                study_uid: "2.25.5501".into(),
                series_uid: "2.25.5502".into(),
                sop_uid: format!("2.25.550{}", i + 3),
                instance_number: i32::try_from(i + 1).unwrap_or(1),
                institution: (*institution).into(),
                ..InstanceSpec::default()
            };
            let mut bytes = Vec::new();
            spec.to_object()
                .expect("object")
                .with_meta(
                    FileMetaTableBuilder::new()
                        .transfer_syntax(spec.syntax.uid())
                        .media_storage_sop_class_uid(spec.sop_class_uid.as_str())
                        .media_storage_sop_instance_uid(spec.sop_uid.as_str()),
                )
                .expect("meta")
                .write_all(&mut bytes)
                .expect("encode");
            (format!("{i}.dcm"), bytes)
        })
        .collect();
    for i in [first, 1 - first] {
        let dir = t.join(format!("in-{}-{i}", archive.display().to_string().len()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join(&files[i].0), &files[i].1).expect("write");
        at_archive(t, archive).arg("import").arg(&dir).run().ok();
    }
}

#[test]
fn depot_audit_searches_every_value_of_the_stored_headers_whatever_the_import_order() {
    let t = TestDir::new();
    let (first, second) = (t.join("a1"), t.join("a2"));
    archive_in_order(&t, &first, 0);
    archive_in_order(&t, &second, 1);
    let key = t.join("project.key");
    // `anonymize` keeps InstitutionName: both files hold their institution.
    at_archive(&t, &first)
        .args(["export", "--level", "anonymize", "--key-file"])
        .arg(&key)
        .arg("--out")
        .arg(t.join("pkg"))
        .run()
        .ok();
    let institutions = |archive: &Path| -> BTreeSet<String> {
        let run = at_archive(&t, archive)
            .arg("audit")
            .arg(t.join("pkg"))
            .arg("--key-file")
            .arg(&key)
            .arg("--json")
            .run()
            .expect_code(1);
        assert!(!run.stderr.contains("not recognised"), "{}", run.stderr);
        run.json()["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|f| f["what"] == "InstitutionName" && f["tag"] == "(0008,0080)")
            .map(|f| f["file"].as_str().expect("file").to_string())
            .collect()
    };
    let found = institutions(&first);
    assert_eq!(found.len(), 2, "each file's institution: {found:?}");
    assert_eq!(
        found,
        institutions(&second),
        "the same whatever was imported first"
    );
}

#[test]
fn an_original_package_of_files_with_un_sequences_is_read_as_the_import_reads_it() {
    let t = TestDir::new();
    let dir = t.join("in");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for (name, syntax) in [
        ("le.dcm", synth::fixture::Syntax::ExplicitLittle),
        ("be.dcm", synth::fixture::Syntax::ExplicitBig),
    ] {
        let spec = InstanceSpec {
            syntax,
            sop_uid: format!("2.25.66{}", name.len() + usize::from(name.starts_with('b'))),
            ..InstanceSpec::default()
        };
        let bytes = synth::unknown_vr::un_sequence(&spec).expect("fixture");
        std::fs::write(dir.join(name), bytes).expect("write");
    }
    at_archive(&t, &t.archive())
        .arg("import")
        .arg(&dir)
        .run()
        .ok();
    export(&t, "pkg", &["--level", "original"]);
    let run = audit(&t, "pkg", &["--json"]).expect_code(1);
    let findings = run.json()["findings"].as_array().expect("findings").clone();
    assert!(
        findings.iter().all(|f| f["finding"] != "unreadable"),
        "{findings:?}"
    );
    // The patient's name, found where the file holds it, in both files.
    let names: BTreeSet<&str> = findings
        .iter()
        .filter(|f| f["what"] == "PatientName" && f["tag"] == "(0010,0010)")
        .map(|f| f["file"].as_str().expect("file"))
        .collect();
    assert_eq!(names.len(), 2, "{findings:?}");
}

#[test]
fn a_stored_file_that_cannot_be_read_stops_the_audit_naming_it() {
    let t = TestDir::new();
    let first = t.join("a1");
    archive_in_order(&t, &first, 0);
    at_archive(&t, &first)
        .args(["export", "--level", "anonymize-full", "--out"])
        .arg(t.join("pkg"))
        .run()
        .ok();
    let stored = files_below(&first.join("store"))
        .into_iter()
        .next()
        .expect("a stored file");
    std::fs::write(&stored, b"not DICOM").expect("damage");
    let run = at_archive(&t, &first)
        .arg("audit")
        .arg(t.join("pkg"))
        .run()
        .expect_code(2);
    assert!(
        run.stderr.contains("could not be read") && run.stderr.contains("store"),
        "{}",
        run.stderr
    );
}
