//! `--level original`: byte-identical copies, folder and zip.

use super::*;

#[test]
fn original_copies_are_byte_identical_in_folder_and_zip() {
    let t = TestDir::new();
    archive_with_dump(&t, &small_dump());
    let stored: BTreeMap<String, Json> = query(&t, "instances", &[])
        .into_iter()
        .map(|i| (s(&i, "content_hash").to_string(), i))
        .collect();
    let before = snapshot(&t.archive().join("store"));
    for out in ["orig", "orig.zip"] {
        let run = export(&t, out, &["--level", "original"]).ok();
        assert!(
            run.stderr.contains("original bytes verified"),
            "{}",
            run.stderr
        );
        let files = read_package(&t.join(out));
        let dicom = dicom_files(&files);
        assert_eq!(
            dicom.len(),
            stored.len(),
            "{out}: every archived instance, burned-in ones too"
        );
        for (rel, bytes) in &dicom {
            let rec = stored
                .get(&b3(bytes))
                .unwrap_or_else(|| panic!("{out}/{rel} matches no archived file"));
            assert_eq!(
                &std::fs::read(s(rec, "path")).expect("stored"),
                bytes,
                "{rel}"
            );
            // Layout at original: archive code / study number / series label / position.
            let want = format!(
                "{}/{}/{}/",
                s(rec, "subject"),
                n(rec, "study_number"),
                s(rec, "series_label")
            );
            assert!(rel.starts_with(&want), "{rel} is not below {want}");
        }
        let hashes: BTreeSet<String> = dicom.values().map(|b| sha(b)).collect();
        assert_eq!(hashes.len(), stored.len(), "{out}: no file twice");
        let m = manifest(&files);
        assert_eq!(m["level"], "original");
        assert_eq!(m["key_fingerprint"], "none");
        assert_eq!(n(&m["counts"], "instances") as usize, stored.len());
        assert!(
            m["audit"].is_null(),
            "original is not audited: {}",
            m["audit"]
        );
    }
    assert_eq!(
        snapshot(&t.archive().join("store")),
        before,
        "the archive is not modified"
    );
}
