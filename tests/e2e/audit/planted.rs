//! Identifiers and private elements planted into a fresh package (a new file, an exported file's
//! bytes, a zip entry name, a file name) are found, never shown.

use super::*;

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
