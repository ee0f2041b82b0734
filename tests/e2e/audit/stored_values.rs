//! The values of the stored headers, whatever the import order; repaired files; unreadable stored
//! files.

use super::*;

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
