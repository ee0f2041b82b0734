//! The regrouping check, proven by importing the packages again.

use super::*;

#[test]
fn anonymize_full_package_reimports_to_the_same_groups() {
    let t = TestDir::new();
    archive_with_dump(&t, &small_dump());
    let run = export(
        &t,
        "pkg",
        &["--level", "anonymize-full", "--include-burned-in"],
    )
    .ok();
    assert!(
        !run.stderr.contains("re-import"),
        "no regrouping warning expected:\n{}",
        run.stderr
    );
    assert_eq!(
        manifest(&read_package(&t.join("pkg")))["regrouping_warnings"],
        serde_json::json!([])
    );
    let fresh = t.join("fresh");
    let re = reimport(&t, &t.join("pkg"), &fresh).ok();
    assert!(!re.stderr.contains("blank PatientID"), "{}", re.stderr);
    assert_eq!(counts(&t, &fresh), counts(&t, &t.archive()));
    assert_eq!(counts(&t, &fresh).3, 44);
}

#[test]
fn whole_packages_reimport_cleanly_folder_and_zip() {
    let t = TestDir::new();
    archive_with_dump(&t, &small_dump());
    for out in ["pkg", "pkg.zip"] {
        export(
            &t,
            out,
            &["--level", "anonymize-full", "--include-burned-in"],
        )
        .ok();
        let fresh = t.join(format!("fresh-{out}"));
        // The package itself, manifests and all: they are passed over, not rejected.
        let re = at_archive(&t, &fresh)
            .arg("import")
            .arg(t.join(out))
            .run()
            .ok();
        assert!(!re.stderr.contains("manifest"), "{}", re.stderr);
        assert_eq!(counts(&t, &fresh), counts(&t, &t.archive()), "{out}");
        assert!(
            query_at(&t, &fresh, "rejects", &[]).is_empty(),
            "{out}: no rejects"
        );
    }
}

#[test]
fn blank_identifiers_warn_record_and_regroup_as_predicted() {
    let t = TestDir::new();
    // Patient A has two studies, patient B one. With PatientID blanked, the archive's rules
    // file each study of a blank PatientID as its own subject: A would split in two.
    let dir = t.join("in");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for (pid, study) in [
        ("MRN-81001", "2.25.811"),
        ("MRN-81001", "2.25.812"),
        ("MRN-81002", "2.25.813"),
    ] {
        for j in 0..2 {
            let spec = fixture::instance(pid, study, &format!("{study}1"), &format!("{study}1{j}"))
                .with_hard_cases();
            spec.write(&dir.join(format!("{study}_{j}.dcm")))
                .expect("write");
        }
    }
    at_archive(&t, &t.archive())
        .arg("import")
        .arg(&dir)
        .run()
        .ok();
    let code = query(&t, "subjects", &["--patient-id", "MRN-81001"])
        .first()
        .map(|x| s(x, "subject").to_string())
        .expect("subject A");
    let args = ["--level", "anonymize-full", "--blank-identifiers"];
    let expected = format!("1 subject would split into 2 on re-import: {code}");

    let dry = export(&t, "dry", &[&args[..], &["--dry-run"]].concat()).ok();
    assert!(
        dry.stderr.contains(&expected),
        "dry run warns too:\n{}",
        dry.stderr
    );
    assert!(!t.join("dry").exists(), "a dry run writes nothing");
    assert!(leftovers(t.path()).is_empty());

    let run = export(&t, "pkg", &args).ok();
    assert!(
        run.stderr.contains(&format!("depot: warning: {expected}")),
        "{}",
        run.stderr
    );
    let files = read_package(&t.join("pkg"));
    let m = manifest(&files);
    assert_eq!(m["blank_identifiers"], true);
    let warnings = m["regrouping_warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let w = &warnings[0];
    assert_eq!(
        (
            w["level"].as_str(),
            w["kind"].as_str(),
            n(w, "would_become")
        ),
        (Some("subject"), Some("split"), 2)
    );
    // In the manifest the subject is named by its pseudonym, never by its archive code.
    assert!(
        !leaks(&files["manifest.json"], &code),
        "archive code in manifest"
    );
    let pseudonym = w["groups"][0].as_str().expect("group");
    assert!(
        files
            .keys()
            .any(|k| k.starts_with(&format!("{pseudonym}/"))),
        "{pseudonym} is a package subject"
    );
    assert!(s(w, "message").contains(pseudonym));

    // As predicted: 2 subjects become 3; studies, series and instances do not move.
    let (subjects, studies, series, instances) = counts(&t, &t.archive());
    assert_eq!((subjects, studies, instances), (2, 3, 6));
    let fresh = t.join("fresh");
    reimport(&t, &t.join("pkg"), &fresh).ok();
    assert_eq!(
        counts(&t, &fresh),
        (subjects + 1, studies, series, instances)
    );
    assert!(
        query_at(&t, &fresh, "subjects", &[])
            .iter()
            .all(|x| x["blank_patient_id"] == true)
    );

    // Without --blank-identifiers the same data regroups as archived: no warning.
    let plain = export(&t, "plain", &["--level", "anonymize-full"]).ok();
    assert!(!plain.stderr.contains("re-import"), "{}", plain.stderr);
    let fresh2 = t.join("fresh2");
    reimport(&t, &t.join("plain"), &fresh2).ok();
    assert_eq!(counts(&t, &fresh2), (subjects, studies, series, instances));
}
