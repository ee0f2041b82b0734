//! `depot serve` against DCMTK's storescu: filed like a folder import, AE rules, clean stops,
//! concurrent senders.

use super::*;

#[test]
fn storescu_into_serve_matches_a_folder_import_and_is_stored_as_sent() {
    if !dcmtk() {
        return;
    }
    let t = TestDir::new();
    let dump = synth_dump(&t, "dump");
    let serve = Serve::start(&t, &["--aet", "DEPOT"]);
    let echo = run_tool(
        "echoscu",
        &[
            "-aet",
            "ECHOER",
            "-aec",
            "DEPOT",
            "127.0.0.1",
            &serve.port.to_string(),
        ],
        t.path(),
    );
    assert!(echo.status.success(), "echoscu: {}", text(&echo));
    let sent = storescu(&t, "MODALITY", serve.port, "DEPOT", &dump);
    assert!(sent.status.success(), "storescu: {}", text(&sent));
    // The same files again: duplicates, answered Success, nothing stored twice.
    let again = storescu(&t, "MODALITY", serve.port, "DEPOT", &dump);
    assert!(again.status.success(), "storescu again: {}", text(&again));
    let (code, log) = serve.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("ECHOER @ 127.0.0.1:"), "{log}");
    assert!(log.contains("1 echo"), "{log}");
    assert!(
        log.contains("26 instances (26 stored, 0 duplicates, 0 failed)"),
        "{log}"
    );
    assert!(
        log.contains("26 instances (0 stored, 26 duplicates, 0 failed)"),
        "{log}"
    );

    // The same archive as a folder import of the same files, instance for instance.
    t.depot()
        .args(["--archive", "folder", "import", "dump", "--quiet"])
        .run()
        .ok();
    let received = layout(&t, "archive");
    assert_eq!(received.len(), 26);
    assert_eq!(received, layout(&t, "folder"));
    let syntaxes: BTreeSet<String> = query(&t, "archive", "instances")
        .iter()
        .map(|i| {
            i["transfer_syntax"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(syntaxes.len(), 5, "every syntax kept: {syntaxes:?}");

    // Stored as received: each stored data set is byte for byte what storescu sent, as DCMTK's
    // own storescp (bit-preserving) writes it from the same transmission; the meta group is
    // depot's, naming the instance and its syntax.
    let reference = StoreScp::start(&t.join("reference"), &["+xa"]);
    let sent = storescu(&t, "MODALITY", reference.port, "STORESCP", &dump);
    assert!(
        sent.status.success(),
        "storescu to storescp: {}",
        text(&sent)
    );
    drop(reference);
    let wire = data_sets(&t.join("reference"));
    assert_eq!(wire.len(), 26);
    for i in query(&t, "archive", "instances") {
        let bytes = std::fs::read(i["path"].as_str().unwrap()).expect("stored file");
        let (meta, data) = split_file(&bytes);
        let sop = i["sop_uid"].as_str().unwrap();
        assert_eq!(clean(meta.media_storage_sop_instance_uid()), sop);
        assert_eq!(
            clean(meta.transfer_syntax()),
            i["transfer_syntax"].as_str().unwrap()
        );
        assert_eq!(
            clean(&meta.implementation_class_uid),
            net::IMPLEMENTATION_CLASS_UID
        );
        assert_eq!(meta.source_application_entity_title, None);
        assert!(
            data == wire[sop].as_slice(),
            "{sop}: stored data set differs from the sent one"
        );
    }
}

#[test]
fn calling_ae_rules_route_reject_and_deidentify_on_receive() {
    if !dcmtk() {
        return;
    }
    let t = TestDir::new();
    let dump = synth_dump(&t, "dump");
    std::fs::write(
        t.join("serve.toml"),
        r#"
aet = "DEPOT"
[[calling]]
ae = "MRI"
project = "brain"
[[calling]]
ae = "OUTSIDE"
project = "teaching"
level = "basic"
"#,
    )
    .unwrap();
    let serve = Serve::start(&t, &["--config", "serve.toml"]);
    let port = serve.port.to_string();
    let refused = run_tool(
        "echoscu",
        &["-aet", "STRANGER", "-aec", "DEPOT", "127.0.0.1", &port],
        t.path(),
    );
    assert!(!refused.status.success(), "an unlisted AE must be rejected");
    let wrong_called = run_tool(
        "echoscu",
        &["-aet", "MRI", "-aec", "NOT_DEPOT", "127.0.0.1", &port],
        t.path(),
    );
    assert!(
        !wrong_called.status.success(),
        "a wrong called AE title must be rejected"
    );
    let mri = storescu(&t, "MRI", serve.port, "DEPOT", &dump);
    assert!(mri.status.success(), "{}", text(&mri));
    // At basic, the JPEG series whose pixels may carry burned-in text is refused (as an export
    // leaves it out); everything else is stored de-identified.
    storescu(&t, "OUTSIDE", serve.port, "DEPOT", &dump);
    let (code, log) = serve.stop();
    assert_eq!(code, Some(1), "refused instances make exit code 1:\n{log}");
    assert!(
        log.contains("calling AE title \"STRANGER\" may not store here"),
        "{log}"
    );
    assert!(log.contains("is not this server's"), "{log}");
    assert!(log.contains("burned-in text"), "{log}");

    let instances = query(&t, "archive", "instances");
    let in_project = |p: &str| {
        instances
            .iter()
            .filter(|i| i["project"] == p)
            .collect::<Vec<_>>()
    };
    assert_eq!(in_project("brain").len(), 26);
    let teaching = in_project("teaching");
    assert_eq!(teaching.len(), 24, "26 minus the 2 JPEG ultrasound files");
    let originals: BTreeSet<&str> = in_project("brain")
        .iter()
        .map(|i| i["sop_uid"].as_str().unwrap())
        .collect();
    // The originals' names never reach the de-identified project's files; UIDs are remapped.
    let names: Vec<String> = query(&t, "archive", "subjects")
        .iter()
        .filter(|s| s["project"] == "brain")
        .filter_map(|s| {
            s["patient_name"]
                .as_str()
                .map(|n| n.split('^').next().unwrap().to_string())
        })
        .collect();
    assert_eq!(names.len(), 2);
    for i in &teaching {
        assert!(!originals.contains(i["sop_uid"].as_str().unwrap()));
        let bytes = std::fs::read(i["path"].as_str().unwrap()).unwrap();
        for n in &names {
            assert!(
                !bytes.windows(n.len()).any(|w| w == n.as_bytes()),
                "{n} found in a de-identified file"
            );
        }
    }
    // The archive records which runs hold de-identified data.
    let mut runs = query(&t, "archive", "runs");
    runs.sort_by_key(|r| r["project"].to_string());
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0]["project"], "brain");
    assert_eq!(runs[0]["deidentified"], Value::Null);
    assert_eq!(runs[0]["imported"], 26);
    assert!(
        runs[0]["inputs"]
            .as_str()
            .unwrap()
            .contains("dicom DEPOT@127.0.0.1:")
    );
    assert!(
        runs[1]["deidentified"]
            .as_str()
            .is_some_and(|l| l.starts_with("basic (key ")),
        "{runs:?}"
    );
    assert_eq!(runs[1]["rejected"], 2);
}

#[test]
fn stopping_finishes_open_associations() {
    if !dcmtk() {
        return;
    }
    let t = TestDir::new();
    t.depot()
        .args([
            "synth",
            "--out",
            "dump",
            "--quiet",
            "--subjects",
            "1",
            "--studies",
            "1",
        ])
        .args([
            "--series",
            "1",
            "--instances",
            "60",
            "--rows",
            "64",
            "--columns",
            "64",
        ])
        .run()
        .ok();
    std::fs::write(t.join("scu.cfg"), SCU_CONFIG).unwrap();
    let serve = Serve::start(&t, &[]);
    let port = serve.port;
    let dir = t.path().to_path_buf();
    let sender = std::thread::spawn(move || {
        let port = port.to_string();
        run_tool(
            "storescu",
            &[
                "-aet",
                "MODALITY",
                "-aec",
                "DEPOT",
                "-xf",
                "scu.cfg",
                "Synth",
                "+sd",
                "+r",
                "127.0.0.1",
                &port,
                "dump",
            ],
            &dir,
        )
    });
    // Stop as soon as the first instance is in the index.
    let started = Instant::now();
    while query(&t, "archive", "instances").is_empty() {
        assert!(started.elapsed() < DEADLINE, "nothing arrived");
        std::thread::sleep(Duration::from_millis(10));
    }
    let (code, log) = serve.stop_with("-TERM");
    let sent = sender.join().unwrap();
    assert!(
        sent.status.success(),
        "the open association finished: {}",
        text(&sent)
    );
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(query(&t, "archive", "instances").len(), 61, "{log}");
    assert!(log.contains("61 instances (61 stored"), "{log}");
}

#[test]
fn concurrent_senders_are_filed_like_a_folder_import() {
    if !dcmtk() {
        return;
    }
    let t = TestDir::new();
    t.depot()
        .args([
            "synth",
            "--out",
            "dump",
            "--quiet",
            "--subjects",
            "4",
            "--studies",
            "1",
        ])
        .args([
            "--series",
            "3",
            "--instances",
            "4",
            "--rows",
            "16",
            "--columns",
            "16",
        ])
        .run()
        .ok();
    std::fs::write(t.join("scu.cfg"), SCU_CONFIG).unwrap();
    let subjects: Vec<PathBuf> = std::fs::read_dir(t.join("dump"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(subjects.len(), 4);
    let serve = Serve::start(&t, &[]);
    // One storescu per subject, all at once: the intake files them in shared transactions.
    std::thread::scope(|s| {
        let sends: Vec<_> = subjects
            .iter()
            .enumerate()
            .map(|(i, dir)| {
                let (t, port) = (&t, serve.port);
                s.spawn(move || storescu(t, &format!("SENDER{i}"), port, "DEPOT", dir))
            })
            .collect();
        for send in sends {
            let out = send.join().unwrap();
            assert!(out.status.success(), "{}", text(&out));
        }
    });
    let (code, log) = serve.stop();
    assert_eq!(code, Some(0), "{log}");
    let associations = log
        .lines()
        .filter(|l| l.starts_with("depot: association SENDER") && l.contains("(13 stored"))
        .count();
    assert_eq!(associations, 4, "{log}");
    t.depot()
        .args(["--archive", "folder", "import", "dump", "--quiet"])
        .run()
        .ok();
    let received = layout(&t, "archive");
    assert_eq!(received.len(), 4 * 13);
    assert_eq!(received, layout(&t, "folder"));
    let runs = query(&t, "archive", "runs");
    assert_eq!(runs.len(), 1, "one run for the project: {runs:?}");
    assert_eq!(runs[0]["imported"], 52);
}

#[test]
fn storage_classes_named_for_presentation_processing_or_trial_are_accepted() {
    // PS3.6 names some storage classes with a qualifier after "Storage": Digital X-Ray Image
    // Storage - For Presentation, Digital Mammography X-Ray Image Storage - For Processing.
    // They were refused as "abstract syntax not supported" (deid-data's animals/cat.dcm).
    if !dcmtk() {
        return;
    }
    let t = TestDir::new();
    std::fs::create_dir_all(t.join("dx")).expect("mkdir");
    let classes = [
        "1.2.840.10008.5.1.4.1.1.1.1",   // DX, For Presentation
        "1.2.840.10008.5.1.4.1.1.1.2.1", // MG, For Processing
        "1.2.840.10008.5.1.4.1.1.1.3",   // Intra-oral, For Presentation
    ];
    let mut files = Vec::new();
    for (i, class) in classes.iter().enumerate() {
        let spec = synth::fixture::InstanceSpec {
            sop_class_uid: (*class).to_string(),
            modality: "DX".into(),
            ..synth::fixture::instance(
                "DX-1",
                "2.25.9901",
                "2.25.9902",
                &format!("2.25.990{}", i + 3),
            )
        };
        let path = t.join(format!("dx/{i}.dcm"));
        std::fs::write(&path, spec.to_bytes().expect("fixture")).expect("write");
        files.push(path.to_str().expect("utf8").to_string());
    }
    let serve = Serve::start(&t, &["--aet", "DEPOT"]);
    let port = serve.port.to_string();
    let mut args = vec!["-aet", "XRAY", "-aec", "DEPOT", "127.0.0.1", &port];
    args.extend(files.iter().map(String::as_str));
    let sent = run_tool("storescu", &args, t.path());
    assert!(sent.status.success(), "storescu: {}", text(&sent));
    let (code, log) = serve.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("3 instances (3 stored, 0 duplicates, 0 failed)"),
        "{log}"
    );
    let stored: BTreeSet<String> = query(&t, "archive", "instances")
        .iter()
        .map(|i| i["sop_class_uid"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(stored, classes.iter().map(|c| c.to_string()).collect());
}
