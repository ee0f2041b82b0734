//! Destinations, package layout, identifiers, audit, regrouping and the demo: the cases review
//! found.

use super::*;

#[test]
fn export_refuses_a_destination_overlapping_the_archive() {
    let t = TestDir::new();
    let spec = fixture::instance("MRN-3030", "2.25.3031", "2.25.3032", "2.25.3033");
    import_specs(
        &t,
        &t.archive(),
        "in",
        "p",
        &[("a.dcm", spec.to_bytes().expect("bytes"))],
    );
    let before = snapshot(&t.archive());
    let archive = t.archive();
    let cases: Vec<(PathBuf, Vec<&str>)> = vec![
        // The archive itself, and its parent, with --force: would have deleted the archive.
        (archive.clone(), vec!["--force"]),
        (t.path().to_path_buf(), vec!["--force"]),
        (archive.clone(), vec!["--dry-run"]),
        (archive.join("pkg"), vec![]),
        (archive.join("store/pkg.zip"), vec!["--force"]),
        (archive.join("new/../pkg"), vec![]),
        (t.join("elsewhere/../archive"), vec!["--force"]),
    ];
    for (out, args) in cases {
        let run = at_archive(&t, &archive)
            .args(["export", "--level", "anonymize-full", "--out"])
            .arg(&out)
            .args(&args)
            .run()
            .expect_code(2);
        assert!(
            run.stderr.contains("overlaps the archive"),
            "{}: {}",
            out.display(),
            run.stderr
        );
        assert_eq!(
            snapshot(&archive),
            before,
            "{}: archive changed",
            out.display()
        );
    }
    assert!(!archive.join("pkg").exists() && !archive.join("new").exists());
    assert_eq!(
        query(&t, "instances", &[]).len(),
        1,
        "the archive still works"
    );
    // Beside the archive is fine.
    export(&t, "archive-pkg", &["--level", "anonymize-full"]).ok();
}

#[test]
fn archive_subjects_of_two_projects_with_one_patient_id_keep_their_studies_apart() {
    let t = TestDir::new();
    let a = InstanceSpec {
        patient_name: "ALPHA^ANNA".into(),
        ..fixture::instance("SAME-4242", "2.25.4201", "2.25.4202", "2.25.4203")
    };
    let b = InstanceSpec {
        patient_name: "BETA^BERTA".into(),
        ..fixture::instance("SAME-4242", "2.25.4211", "2.25.4212", "2.25.4213")
    };
    import_specs(
        &t,
        &t.archive(),
        "p1",
        "p1",
        &[("a.dcm", a.to_bytes().expect("a"))],
    );
    import_specs(
        &t,
        &t.archive(),
        "p2",
        "p2",
        &[("b.dcm", b.to_bytes().expect("b"))],
    );
    assert_eq!(
        query(&t, "subjects", &[]).len(),
        2,
        "one subject per project"
    );
    for level in ["anonymize-full", "anonymize"] {
        let out = format!("pkg-{level}");
        export(&t, &out, &["--level", level]).ok();
        let files = read_package(&t.join(&out));
        let dicom = dicom_files(&files);
        let series: BTreeSet<&str> = dicom.keys().map(|k| series_dir(k)).collect();
        assert_eq!(
            series.len(),
            2,
            "{level}: two series folders: {:?}",
            dicom.keys()
        );
        let subjects: BTreeSet<&str> = dicom.keys().filter_map(|k| k.split('/').next()).collect();
        assert_eq!(
            subjects.len(),
            1,
            "{level}: one pseudonym (linked by PatientID)"
        );
        let m = manifest(&files);
        let c = &m["counts"];
        assert_eq!(
            (
                n(c, "subjects"),
                n(c, "studies"),
                n(c, "series"),
                n(c, "instances")
            ),
            (1, 2, 2, 2),
            "{level}: {c}"
        );
        let pseudonym = subjects.iter().next().copied().unwrap_or_default();
        let warnings = m["regrouping_warnings"].as_array().expect("warnings");
        assert_eq!(warnings.len(), 1, "{level}: {warnings:?}");
        let msg = s(&warnings[0], "message");
        assert_eq!(
            msg,
            format!("2 subjects would merge into 1 on re-import: {pseudonym} (2 archive subjects)"),
            "{level}"
        );
        assert_eq!(warnings[0]["groups"], serde_json::json!([pseudonym]));
        if level == "anonymize-full" {
            let fresh = t.join("re");
            reimport(&t, &t.join(&out), &fresh).ok();
            assert_eq!(counts(&t, &fresh), (1, 2, 2, 2), "re-import as predicted");
        }
    }
}

/// Study folder (`PQ.../N`) → exported StudyInstanceUID of every file of a package.
fn study_dirs(pkg: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, (study, _, _)) in uids_by_path(pkg) {
        let dir = rel.split('/').take(2).collect::<Vec<_>>().join("/");
        out.entry(dir).or_default().insert(study);
    }
    out
}

#[test]
fn a_shared_pseudonym_s_study_paths_do_not_depend_on_the_selection() {
    // One PatientID in three projects: three archive subjects, one pseudonym. Whatever is
    // selected, and as projects are added, a study folder names the same study.
    let t = TestDir::new();
    let spec = |study: &str| {
        let i = study.rsplit('.').next().unwrap_or_default();
        fixture::instance(
            "SAME-8888",
            study,
            &format!("{study}.1"),
            &format!("{study}.1.{i}"),
        )
        .to_bytes()
        .expect("bytes")
    };
    let full = ["--level", "anonymize-full"];
    import_specs(
        &t,
        &t.archive(),
        "p1",
        "p1",
        &[("a.dcm", spec("2.25.8101"))],
    );
    export(&t, "p1-before", &full).ok();
    import_specs(
        &t,
        &t.archive(),
        "p2",
        "p2",
        &[("b.dcm", spec("2.25.8201")), ("c.dcm", spec("2.25.8301"))],
    );
    export(&t, "all", &full).ok();
    for p in ["p1", "p2"] {
        export(
            &t,
            &format!("pkg-{p}"),
            &[&full[..], &["--project", p]].concat(),
        )
        .ok();
    }
    export(
        &t,
        "p2-one",
        &[&full[..], &["--study", "2.25.8301"]].concat(),
    )
    .ok();
    import_specs(
        &t,
        &t.archive(),
        "p3",
        "p3",
        &[("d.dcm", spec("2.25.8401"))],
    );
    export(&t, "all-later", &full).ok();
    export(&t, "pkg-p3", &[&full[..], &["--project", "p3"]].concat()).ok();

    let packages = [
        "p1-before",
        "all",
        "pkg-p1",
        "pkg-p2",
        "p2-one",
        "all-later",
        "pkg-p3",
    ];
    let mut by_dir: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut by_study: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for p in packages {
        for (dir, studies) in study_dirs(&t.join(p)) {
            assert_eq!(studies.len(), 1, "{p}: {dir} holds {studies:?}");
            for st in studies {
                by_study.entry(st.clone()).or_default().insert(dir.clone());
                by_dir.entry(dir.clone()).or_default().insert(st);
            }
        }
    }
    assert_eq!(by_study.len(), 4, "four studies: {by_study:?}");
    for (study, dirs) in &by_study {
        assert_eq!(dirs.len(), 1, "study {study} at several paths: {dirs:?}");
    }
    for (dir, studies) in &by_dir {
        assert_eq!(
            studies.len(),
            1,
            "{dir} names different studies: {studies:?}"
        );
    }
    // Numbered in the order the subjects were imported, then by study: p1's study is 1, the
    // later projects append.
    let numbers = |p: &str| -> Vec<String> {
        study_dirs(&t.join(p))
            .into_keys()
            .map(|d| d.rsplit('/').next().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(numbers("p1-before"), ["1"]);
    assert_eq!(numbers("pkg-p1"), ["1"]);
    assert_eq!(numbers("pkg-p2"), ["2", "3"]);
    let one = numbers("p2-one");
    assert!(
        one.len() == 1 && numbers("pkg-p2").contains(&one[0]),
        "{one:?}"
    );
    assert_eq!(numbers("all"), ["1", "2", "3"]);
    assert_eq!(numbers("all-later"), ["1", "2", "3", "4"]);
    assert_eq!(numbers("pkg-p3"), ["4"]);
    assert_eq!(
        uids_by_path(&t.join("p1-before")),
        uids_by_path(&t.join("pkg-p1"))
    );
}

#[test]
fn every_name_of_a_subject_is_cut_from_each_of_its_files() {
    // One patient (one PatientID) known by two names: the archive indexes the first seen. The
    // older file's description names the other one.
    let t = TestDir::new();
    let first = InstanceSpec {
        patient_name: "BRANDT^GRETA".into(),
        study_description: "KONTROLLE, GEB. MEIERHOFF".into(),
        ..fixture::instance("DE-000007", "2.25.5101", "2.25.5102", "2.25.5103")
    };
    let second = InstanceSpec {
        patient_name: "MEIERHOFF^GRETA".into(),
        ..fixture::instance("DE-000007", "2.25.5111", "2.25.5112", "2.25.5113")
    };
    import_specs(
        &t,
        &t.archive(),
        "d1",
        "p",
        &[("a.dcm", first.to_bytes().expect("a"))],
    );
    import_specs(
        &t,
        &t.archive(),
        "d2",
        "p",
        &[("b.dcm", second.to_bytes().expect("b"))],
    );
    let subjects = query(&t, "subjects", &[]);
    assert_eq!(subjects.len(), 1);
    assert_eq!(s(&subjects[0], "patient_name"), "BRANDT^GRETA");
    export(
        &t,
        "pkg",
        &["--level", "anonymize-full", "--option", "clean-descriptors"],
    )
    .ok();
    let files = read_package(&t.join("pkg"));
    assert_eq!(dicom_files(&files).len(), 2);
    for (rel, bytes) in &files {
        let hay = Hay::new(&searchable(bytes));
        for name in ["MEIERHOFF", "BRANDT", "GRETA"] {
            assert!(!hay.has(name), "{name} left in {rel}");
        }
    }
    let described = dicom_files(&files)
        .values()
        .filter_map(|b| text(&parse(b), tags::STUDY_DESCRIPTION))
        .collect::<Vec<_>>();
    assert!(
        described.iter().any(|d| d.contains("KONTROLLE")),
        "the description is cleaned, not dropped: {described:?}"
    );
}

#[test]
fn a_name_seen_only_in_another_file_of_the_subject_is_audited() {
    // The other name, found only in the headers (the index holds the first), is a PatientName
    // finding where another file mentions it: in SequenceName, which neither basic (Table
    // E.1-1 does not list it) nor anonymize changes. (In ManufacturerModelName, a kept
    // equipment attribute, it would be an advisory coincidence: see docs/export.md.)
    let t = TestDir::new();
    let first = InstanceSpec {
        patient_name: "BRANDT^GRETA".into(),
        ..fixture::instance("DE-000008", "2.25.5201", "2.25.5202", "2.25.5203")
    };
    let second = InstanceSpec {
        patient_name: "MEIERHOFF^GRETA".into(),
        ..fixture::instance("DE-000008", "2.25.5211", "2.25.5212", "2.25.5213")
    };
    let mentioned = edited(&first, |o| {
        put_text(o, tags::SEQUENCE_NAME, VR::SH, "GEB. MEIERHOFF")
    });
    import_specs(&t, &t.archive(), "d1", "p", &[("a.dcm", mentioned)]);
    import_specs(
        &t,
        &t.archive(),
        "d2",
        "p",
        &[("b.dcm", second.to_bytes().expect("b"))],
    );
    for (level, blocking) in [("basic", true), ("anonymize", false)] {
        let out = format!("pkg-{level}");
        let run = if blocking {
            export(&t, &out, &["--level", level]).expect_code(1)
        } else {
            export(&t, &out, &["--level", level]).ok()
        };
        assert!(
            run.stderr
                .contains("PatientName value found in the header of"),
            "{level}: {}",
            run.stderr
        );
        assert_eq!(t.join(&out).exists(), !blocking, "{level}");
    }
}

#[test]
fn an_original_uid_seen_in_the_headers_is_audited() {
    // At anonymize-full: an original FrameOfReferenceUID copied into text the level keeps
    // (ManufacturerModelName is not in Table E.1-1: only identifiers are cut from it).
    let t = TestDir::new();
    let spec = InstanceSpec {
        frame_of_reference_uid: Some("2.25.5301".into()),
        ..fixture::instance("MRN-5300", "2.25.5302", "2.25.5303", "2.25.5304")
    };
    let bytes = edited(&spec, |o| {
        put_text(
            o,
            tags::MANUFACTURER_MODEL_NAME,
            VR::LO,
            "PHANTOM 2.25.5301",
        )
    });
    import_specs(&t, &t.archive(), "in", "p", &[("a.dcm", bytes)]);
    let run = export(&t, "pkg", &["--level", "anonymize-full"]).expect_code(1);
    assert!(
        run.stderr
            .contains("FrameOfReferenceUID value found in the header of"),
        "{}",
        run.stderr
    );
    assert!(!t.join("pkg").exists());
}

#[test]
fn anonymize_and_sup142_report_what_they_leave_and_basic_refuses_it() {
    let t = TestDir::new();
    let spec = fixture::instance("MRN-6060", "2.25.6061", "2.25.6062", "2.25.6063");
    let bytes = edited(&spec, |o| {
        put_text(
            o,
            tags::IMAGE_COMMENTS,
            VR::LT,
            "Ingrid Halvorsen, born 1971-03-15",
        );
        put_text(o, tags::STUDY_DESCRIPTION, VR::LO, "FOLLOW-UP ACC20240102");
    });
    import_specs(&t, &t.archive(), "in", "p", &[("a.dcm", bytes)]);
    for out in ["pkg", "pkg.zip"] {
        let run = export(&t, out, &[]).ok();
        for what in ["PatientName", "PatientBirthDate"] {
            assert!(
                run.stderr
                    .contains(&format!("{what} value found in the header of")),
                "{out}: {}",
                run.stderr
            );
        }
        let m = manifest(&read_package(&t.join(out)));
        assert_eq!(m["audit"]["blocking"], false);
        assert!(n(&m["audit"], "findings") >= 2, "{}", m["audit"]);
    }
    let run = export(&t, "s142", &["--level", "sup142"]).ok();
    assert!(
        run.stderr
            .contains("AccessionNumber value found in the header of"),
        "{}",
        run.stderr
    );
    assert!(t.join("s142").is_dir());
    // A level that claims to remove identity publishes nothing with findings. ImageComments
    // is X in basic, StudyDescription too, so basic is clean here; the name in a private
    // attribute is removed with it. Blocking is shown in the tests of anonymize-full.
    let run = export(&t, "basic", &["--level", "basic"]).ok();
    assert!(run.stderr.contains("audit clean"), "{}", run.stderr);

    // What anonymize keeps by design (PatientID, dates, UIDs) is no finding.
    let t = TestDir::new();
    import_specs(
        &t,
        &t.archive(),
        "in",
        "p",
        &[("a.dcm", spec.to_bytes().expect("b"))],
    );
    let run = export(&t, "pkg", &[]).ok();
    assert!(run.stderr.contains("audit clean"), "{}", run.stderr);
    let files = read_package(&t.join("pkg"));
    let m = manifest(&files);
    assert_eq!(m["audit"]["blocking"], false, "advisory at anonymize");
    assert_eq!(n(&m["audit"], "findings"), 0);
    let obj = parse(dicom_files(&files).values().next().expect("a file"));
    assert_eq!(text(&obj, tags::PATIENT_ID).as_deref(), Some("MRN-6060"));
}

#[test]
fn a_profile_that_empties_series_uids_reports_rejections_not_merges() {
    let t = TestDir::new();
    let a = fixture::instance("MRN-7071", "2.25.7071", "2.25.7072", "2.25.7073");
    let b = fixture::instance("MRN-7081", "2.25.7081", "2.25.7082", "2.25.7083");
    import_specs(
        &t,
        &t.archive(),
        "in",
        "p",
        &[
            ("a.dcm", a.to_bytes().expect("a")),
            ("b.dcm", b.to_bytes().expect("b")),
        ],
    );
    std::fs::write(
        t.join("zap.toml"),
        "name = \"zap-series\"\nbase = \"anonymize-full\"\n[actions]\n\"0020,000E\" = \"Z\"\n",
    )
    .expect("profile");
    let profile = t.join("zap.toml");
    let profile = profile.to_str().expect("utf8 path");
    let want = "2 instances would be rejected on re-import: no SeriesInstanceUID";
    let dry = export(&t, "dry", &["--profile", profile, "--dry-run"]).ok();
    assert!(dry.stderr.contains(want), "{}", dry.stderr);
    assert!(!dry.stderr.contains("would merge"), "{}", dry.stderr);
    let run = export(&t, "pkg", &["--profile", profile]).ok();
    assert!(run.stderr.contains(want), "{}", run.stderr);
    let m = manifest(&read_package(&t.join("pkg")));
    let w = m["regrouping_warnings"].as_array().expect("warnings");
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0]["kind"], "rejected");
    assert_eq!(w[0]["reason"], "no SeriesInstanceUID");
    assert_eq!(w[0]["instances"], 2);
    assert!(s(&w[0], "message").starts_with(want), "{}", w[0]);
    // As predicted: the import rejects every file.
    let fresh = t.join("re");
    let re = reimport(&t, &t.join("pkg"), &fresh);
    assert!(re.stderr.contains("2 rejected"), "{}", re.stderr);
}

#[test]
fn subjects_without_patient_id_get_their_pseudonym_as_patient_id() {
    // Two studies of a patient whose files have no PatientID element: the archive files each
    // study as a subject of its own.
    let t = TestDir::new();
    let mut files = Vec::new();
    for (i, study) in ["2.25.8010", "2.25.8020"].into_iter().enumerate() {
        let spec = fixture::instance("", study, &format!("{study}.1"), &format!("{study}.1.1"));
        let bytes = edited(&spec, |o| {
            o.remove_element(tags::PATIENT_ID);
        });
        files.push((if i == 0 { "a.dcm" } else { "b.dcm" }, bytes));
    }
    import_specs(&t, &t.archive(), "in", "p", &files);
    let archived = counts(&t, &t.archive());
    assert_eq!(archived.0, 2, "one archive subject per study");
    let run = export(&t, "pkg", &["--level", "anonymize-full"]).ok();
    assert!(
        !run.stderr.contains("would merge") && !run.stderr.contains("would split"),
        "{}",
        run.stderr
    );
    let dicom = dicom_files(&read_package(&t.join("pkg")));
    let mut ids = BTreeSet::new();
    for (rel, bytes) in &dicom {
        let folder = rel.split('/').next().expect("folder");
        let id = text(&parse(bytes), tags::PATIENT_ID);
        assert_eq!(
            id.as_deref(),
            Some(folder),
            "{rel}: PatientID is the pseudonym"
        );
        ids.insert(folder.to_string());
    }
    assert_eq!(ids.len(), 2, "each archive subject its own pseudonym");
    let fresh = t.join("re");
    reimport(&t, &t.join("pkg"), &fresh).ok();
    assert_eq!(
        counts(&t, &fresh),
        archived,
        "re-import gives the same groups"
    );
    let back: BTreeSet<String> = query_at(&t, &fresh, "subjects", &[])
        .iter()
        .map(|x| s(x, "patient_id").to_string())
        .collect();
    assert_eq!(back, ids);
}

#[test]
fn manifest_modality_is_a_defined_term_or_nothing() {
    let t = TestDir::new();
    let spec = InstanceSpec {
        modality: "mr,\"Halvorsen".into(),
        ..fixture::instance("MRN-9090", "2.25.9091", "2.25.9092", "2.25.9093")
    };
    import_specs(
        &t,
        &t.archive(),
        "in",
        "p",
        &[("a.dcm", spec.to_bytes().expect("a"))],
    );
    // A Modality holding a name is no defined term: the manifest says nothing of it, at any
    // level (the value comes from the index, not from the de-identified header).
    for level in ["original", "anonymize-full"] {
        let out = format!("pkg-{level}");
        export(&t, &out, &["--level", level]).ok();
        let files = read_package(&t.join(&out));
        let m = manifest(&files);
        let se = &m["subjects"][0]["studies"][0]["series"][0];
        assert_eq!(se["modality"], "", "{level}");
        for f in ["manifest.csv", "manifest.json"] {
            let text = String::from_utf8(files[f].clone())
                .expect("utf8")
                .to_lowercase();
            assert!(!text.contains("halvorsen"), "{level} {f}: {text}");
        }
    }
}

#[test]
fn demo_exports_at_each_level_and_shows_refusals_as_the_audit_at_work() {
    let t = TestDir::new();
    let run = t.depot().args(["demo", "d"]).run().ok();
    let out = &run.stdout;
    for name in [
        "original",
        "anonymize",
        "sup142",
        "qmenta",
        "basic",
        "anonymize-full.zip",
        "anonymize-full-shifted-dates",
    ] {
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("packages/{name} ")))
            .unwrap_or_else(|| panic!("no line for {name}:\n{out}"));
        let exists = t.join("d/packages").join(name).exists();
        if line.contains("not published: the audit found") {
            assert!(line.contains("kept in quarantine as Q"), "{line}");
            assert!(!exists, "{name} is reported refused but exists");
        } else {
            assert!(line.contains(" files"), "{line}");
            assert!(exists, "{name} is reported published but missing");
        }
        if name.starts_with("anonymize-full") || name == "original" {
            assert!(!line.contains("not published"), "{line}");
        }
    }
    assert!(
        out.contains("depot audit packages/anonymize-full.zip: clean"),
        "{out}"
    );
    // The quarantine step: kept, reviewed by finding ID, discarded; nothing published.
    let step = out
        .lines()
        .find(|l| l.starts_with("7. "))
        .unwrap_or_else(|| panic!("no quarantine step:\n{out}"));
    assert!(step.contains("kept in quarantine as Q"), "{step}");
    assert!(
        out.contains("F1  blocking  ReferringPhysicianName value found"),
        "{out}"
    );
    assert!(out.contains("depot discard Q"), "{out}");
    assert!(!t.join("d/packages/keep-requesting").exists());
    let q = t.join("d/archive/quarantine");
    assert_eq!(
        std::fs::read_dir(&q).map(|d| d.count()).unwrap_or(0),
        0,
        "the demo leaves no quarantine entry"
    );
}
