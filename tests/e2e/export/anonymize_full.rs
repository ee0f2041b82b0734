//! `--level anonymize-full`: no identifier left, series and references whole; burned-in series.

use super::*;

#[test]
fn anonymize_full_package_holds_no_identifier_and_keeps_series_and_references_whole() {
    let t = TestDir::new();
    let dump = archive_with_dump(&t, &small_dump());
    let instances = query(&t, "instances", &[]);
    assert_eq!(instances.len(), 44);
    // The dump's folder names carry the patients' names and IDs.
    assert!(instances.iter().any(|i| {
        dump.phi
            .iter()
            .any(|p| s(i, "source_path").contains(p.as_str()))
    }));

    let run = export(&t, "full", &["--level", "anonymize-full"]).ok();
    assert!(
        !run.stderr.contains("would merge") && !run.stderr.contains("would split"),
        "{}",
        run.stderr
    );
    export(&t, "full.zip", &["--level", "anonymize-full"]).ok();
    export(
        &t,
        "all",
        &["--level", "anonymize-full", "--include-burned-in"],
    )
    .ok();
    let files = read_package(&t.join("full"));
    let zipped = read_package(&t.join("full.zip"));
    let everything = read_package(&t.join("all"));

    // Zip and folder hold the same files.
    let shas = |f: &BTreeMap<String, Vec<u8>>| {
        f.iter()
            .map(|(k, v)| (k.clone(), sha(v)))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(
        shas(&files),
        shas(&zipped),
        "zip and folder packages differ"
    );

    // No planted identifier, nor original UID, in any byte, path or zip entry name.
    let mut originals: BTreeSet<String> = BTreeSet::new();
    for i in &instances {
        for k in ["study_uid", "series_uid", "sop_uid"] {
            originals.insert(s(i, k).to_string());
        }
    }
    // The search sees what it must: every planted value is found in the archived files,
    // deflated ones included.
    let stored: Vec<Hay> = instances
        .iter()
        .map(|i| Hay::new(&searchable(&std::fs::read(s(i, "path")).expect("stored"))))
        .collect();
    for p in &dump.phi {
        assert!(
            stored.iter().any(|h| h.has(p)),
            "planted value {p:?} not found in the archived files"
        );
    }
    let deflated = |b: &Vec<u8>| b.windows(22).any(|w| w == b"1.2.840.10008.1.2.1.99");
    let stored_deflated = instances
        .iter()
        .map(|i| std::fs::read(s(i, "path")).expect("stored"))
        .find(deflated)
        .expect("a deflated file");
    assert!(
        !leaks(&stored_deflated, &dump.phi[0])
            && leaks(&searchable(&stored_deflated), &dump.phi[0])
    );
    assert!(
        files.values().any(deflated),
        "the package has a deflated file, searched inflated"
    );
    let names: Vec<String> = files
        .keys()
        .cloned()
        .chain(zip_names(&t.join("full.zip")))
        .collect();
    for (rel, bytes) in files.iter().chain(everything.iter()) {
        let hay = Hay::new(&searchable(bytes));
        for p in &dump.phi {
            assert!(!hay.has(p), "planted value {p:?} left in {rel}");
        }
        for uid in &originals {
            assert!(!hay.has(uid), "original UID {uid} left in {rel}");
        }
    }
    for name in &names {
        let hay = Hay::new(name.as_bytes());
        for p in dump.phi.iter().chain(originals.iter()) {
            assert!(!hay.has(p), "{p:?} in path {name}");
        }
    }

    // Layout: pseudonym / study number / series label / position; nothing else.
    let m = manifest(&files);
    let subjects: BTreeSet<String> = m["subjects"]
        .as_array()
        .expect("subjects")
        .iter()
        .map(|s| s["id"].as_str().expect("id").to_string())
        .collect();
    let codes: BTreeSet<String> = instances
        .iter()
        .map(|i| s(i, "subject").to_string())
        .collect();
    for rel in files.keys() {
        if rel == "manifest.json" || rel == "manifest.csv" {
            continue;
        }
        let parts: Vec<&str> = rel.split('/').collect();
        assert_eq!(parts.len(), 4, "{rel}");
        assert!(
            subjects.contains(parts[0]),
            "{rel}: subject folder is a manifest pseudonym"
        );
        assert!(!codes.contains(parts[0]), "{rel}: archive code in a path");
        assert!(parts[1].bytes().all(|b| b.is_ascii_digit()), "{rel}");
        assert!(
            parts[2].bytes().all(|b| b.is_ascii_digit() || b == b'.'),
            "{rel}"
        );
        assert!(
            parts[3].len() == 9
                && parts[3].ends_with(".dcm")
                && parts[3][..5].bytes().all(|b| b.is_ascii_digit()),
            "{rel}"
        );
    }
    for code in &codes {
        assert!(
            !leaks(&files["manifest.json"], code) && !leaks(&files["manifest.csv"], code),
            "archive code {code} in the manifest"
        );
    }

    // Manifest: level, options, digest, counts, and every file with its true checksum (BLAKE3
    // unless asked otherwise, named in the manifest).
    assert_eq!(m["format"], "depot-package/1");
    assert_eq!(m["level"], "anonymize-full");
    assert_eq!(m["options"], serde_json::json!([]));
    assert_eq!(m["profile_digest"].as_str().map(str::len), Some(64));
    assert_eq!(m["checksum"], "blake3");
    assert_eq!(m["audit"]["blocking"], true);
    assert_eq!(n(&m["audit"], "findings"), 0);
    let mut listed = BTreeMap::new();
    let (mut studies, mut series) = (0, 0);
    for subj in m["subjects"].as_array().expect("subjects") {
        for st in subj["studies"].as_array().expect("studies") {
            studies += 1;
            for se in st["series"].as_array().expect("series") {
                series += 1;
                for f in se["files"].as_array().expect("files") {
                    let path = s(f, "path").to_string();
                    assert!(
                        path.starts_with(&format!(
                            "{}/{}/{}/",
                            s(subj, "id"),
                            n(st, "number"),
                            s(se, "number")
                        )),
                        "{path}"
                    );
                    assert!(f.get("sha256").is_none(), "{f}");
                    listed.insert(path, (s(f, "blake3").to_string(), n(f, "bytes")));
                }
            }
        }
    }
    let dicom = dicom_files(&files);
    let actual: BTreeMap<String, (String, u64)> = dicom
        .iter()
        .map(|(k, v)| (k.clone(), (b3(v), v.len() as u64)))
        .collect();
    assert_eq!(
        listed, actual,
        "manifest files = package files, with their BLAKE3"
    );
    let c = &m["counts"];
    assert_eq!(n(c, "subjects") as usize, subjects.len());
    assert_eq!(
        (n(c, "studies"), n(c, "series"), n(c, "instances") as usize),
        (studies, series, dicom.len())
    );
    assert_eq!(n(c, "bytes"), actual.values().map(|v| v.1).sum::<u64>());
    let csv = String::from_utf8(files["manifest.csv"].clone()).expect("csv utf8");
    assert_eq!(csv.lines().count(), dicom.len() + 1, "one csv row per file");
    for (path, (hash, _)) in &actual {
        assert!(
            csv.lines()
                .any(|l| l.contains(path.as_str()) && l.contains(hash.as_str())),
            "{path} not in csv"
        );
    }

    // Every file: identity removed, no private element.
    let mut new_sops: BTreeMap<String, String> = BTreeMap::new();
    let mut new_studies: BTreeSet<String> = BTreeSet::new();
    let mut refs = Vec::new();
    for (rel, bytes) in &dicom {
        let obj = parse(bytes);
        assert_eq!(
            text(&obj, tags::PATIENT_IDENTITY_REMOVED).as_deref(),
            Some("YES"),
            "{rel}"
        );
        assert_eq!(has_private(&obj), None, "{rel}: private element");
        new_sops.insert(
            text(&obj, tags::SOP_INSTANCE_UID).expect("sop"),
            rel.clone(),
        );
        new_studies.insert(text(&obj, tags::STUDY_INSTANCE_UID).expect("study"));
        let mut r = Vec::new();
        references(&obj, None, &mut r);
        refs.extend(r.into_iter().map(|x| (rel.clone(), x)));
    }
    assert_eq!(new_sops.len(), dicom.len(), "SOPInstanceUIDs stay unique");

    // Burned-in: the ultrasound series is left out and listed.
    let burned = m["burned_in"].as_array().expect("burned_in");
    assert_eq!(burned.len(), 1, "{burned:?}");
    assert_eq!(burned[0]["modality"], "US");
    assert_eq!(burned[0]["included"], false);
    assert_eq!(n(c, "series_left_out"), 1);
    let left_out = s(&burned[0], "series").to_string();
    assert!(
        !dicom.keys().any(|k| series_dir(k) == left_out),
        "{left_out} is left out"
    );
    let left_out_sops: BTreeSet<String> = dicom_files(&everything)
        .iter()
        .filter(|(k, _)| series_dir(k) == left_out)
        .map(|(_, b)| text(&parse(b), tags::SOP_INSTANCE_UID).expect("sop"))
        .collect();
    assert_eq!(
        left_out_sops.len(),
        2,
        "the burned-in series is in the --include-burned-in package"
    );

    // Every reference resolves to an exported instance (or to one of the series left out).
    let sr_refs = refs
        .iter()
        .filter(|(_, (p, _))| *p == Some(tags::REFERENCED_SOP_SEQUENCE))
        .count();
    assert!(
        sr_refs >= 18,
        "the SR content's IMAGE references survive ({sr_refs})"
    );
    for (rel, (parent, uid)) in &refs {
        let ok = new_sops.contains_key(uid)
            || left_out_sops.contains(uid)
            || (*parent == Some(tags::REFERENCED_STUDY_SEQUENCE) && new_studies.contains(uid));
        assert!(
            ok,
            "{rel}: reference {uid} (in {parent:?}) resolves to no exported instance"
        );
    }

    // Every series intact: as many files per series as archived.
    let who = pseudonyms(&t, &["--level", "anonymize-full"]);
    for se in query(&t, "series", &[]) {
        let dir = format!(
            "{}/{}/{}",
            who[s(&se, "subject")],
            n(&se, "study_number"),
            s(&se, "series_label")
        );
        let count = dicom.keys().filter(|k| series_dir(k) == dir).count();
        if dir == left_out {
            assert_eq!(count, 0);
        } else {
            assert_eq!(count as u64, n(&se, "instances"), "series {dir}");
        }
    }
    assert!(leftovers(t.path()).is_empty(), "{:?}", leftovers(t.path()));
}

#[test]
fn burned_in_series_is_included_on_request() {
    let t = TestDir::new();
    archive_with_dump(&t, &small_dump());
    let run = export(
        &t,
        "pkg",
        &["--level", "anonymize-full", "--include-burned-in"],
    )
    .ok();
    assert!(
        run.stderr
            .contains("(US) included despite possible burned-in text"),
        "{}",
        run.stderr
    );
    let files = read_package(&t.join("pkg"));
    let m = manifest(&files);
    let burned = m["burned_in"].as_array().expect("burned_in");
    assert_eq!(burned.len(), 1);
    assert_eq!(burned[0]["included"], true);
    assert_eq!(n(&m["counts"], "series_left_out"), 0);
    assert_eq!(n(&m["counts"], "instances"), 44);
    let dir = s(&burned[0], "series");
    assert_eq!(
        dicom_files(&files)
            .keys()
            .filter(|k| series_dir(k) == dir)
            .count(),
        2
    );
}

#[test]
fn exporting_only_burned_in_series_is_not_reported_as_a_dry_run() {
    // Every selected series is left out for burned-in text: the export must not claim to be a
    // dry run. Either it publishes a package whose manifest lists what was left out, or it
    // fails (exit 2) saying why nothing could be exported.
    let t = TestDir::new();
    archive_with_dump(&t, &small_dump());
    let run = export(&t, "us", &["--level", "anonymize-full", "--modality", "US"]);
    assert!(
        !run.stderr.contains("dry run"),
        "not a dry run, yet reported as one:\n{}",
        run.stderr
    );
    match run.code {
        Some(0) => {
            let m = manifest(&read_package(&t.join("us")));
            assert_eq!(n(&m["counts"], "series_left_out"), 1, "{m}");
        }
        Some(2) => {
            assert!(run.stderr.contains("burned-in"), "{}", run.stderr);
            assert!(!t.join("us").exists());
        }
        other => panic!("exit {other:?}\n{}", run.stderr),
    }
}
