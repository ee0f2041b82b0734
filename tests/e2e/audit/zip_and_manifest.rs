//! Zip metadata and the manifest: comments and extra fields, patients named like manifest words.

use super::*;

// Zip metadata and the manifest

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
