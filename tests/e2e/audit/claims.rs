//! The value search never depends on the level a package claims.

use super::*;

// The value search never depends on the level a package claims

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
