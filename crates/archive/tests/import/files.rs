//! Files of every kind: every transfer syntax archived byte for byte, hostile and odd files rejected
//! with their reasons, blank PatientIDs, fifos, names that are not UTF-8, sources and rejects.

use super::*;

#[test]
fn every_syntax_is_archived_byte_for_byte_without_phi_in_paths() {
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("dump");
    let mut originals = BTreeMap::new();
    for (i, syntax) in Syntax::ALL.into_iter().enumerate() {
        let s = InstanceSpec {
            syntax,
            patient_id: "PLANTED_ID_4711".into(),
            patient_name: "PLANTEDNAME^SECRET".into(),
            frames: if i == 0 { 3 } else { 1 },
            ..spec(
                "PLANTED_ID_4711",
                "1.2.9.1",
                &format!("1.2.9.1.{i}"),
                &format!("1.2.9.1.{i}.1"),
            )
        }
        .with_hard_cases();
        let bytes = s.to_bytes().unwrap();
        write(&dump, &format!("PLANTEDNAME_SECRET/IM{i}"), &bytes);
        originals.insert(s.sop_uid.clone(), bytes);
    }
    let archive = Archive::open(&tmp.path().join("archive")).unwrap();
    let summary = archive
        .import(std::slice::from_ref(&dump), &opts(), &NoObserver)
        .unwrap();
    assert_eq!(
        (summary.imported, summary.rejected, summary.conflicts),
        (5, 0, 0),
        "{summary:?}"
    );
    assert!(summary.is_clean());

    let subjects = archive.subjects(&Filter::default()).unwrap();
    assert_eq!(subjects.len(), 1);
    assert_eq!(subjects[0].studies, 1);
    assert_eq!(subjects[0].series, 5);
    assert_eq!(
        subjects[0].patient_name.as_deref(),
        Some("PLANTEDNAME^SECRET")
    );
    let instances = archive.instances(&Filter::default()).unwrap();
    assert_eq!(instances.len(), 5);
    for inst in &instances {
        let stored = std::fs::read(&inst.path).unwrap();
        assert_eq!(
            &stored,
            originals.get(&inst.sop_uid).unwrap(),
            "{} changed",
            inst.sop_uid
        );
        assert!(inst.transfer_syntax.is_some());
    }
    let frames: Vec<_> = instances
        .iter()
        .filter_map(|i| i.number_of_frames)
        .collect();
    assert!(frames.contains(&3), "{frames:?}");
    for f in all_files(archive.root()) {
        let rel = f
            .strip_prefix(archive.root())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for phi in ["PLANTED", "SECRET", "4711", "1.2.9"] {
            assert!(!rel.contains(phi), "{rel} contains {phi}");
        }
    }
    assert!(archive.verify().unwrap().is_empty());
}

#[test]
fn hostile_files_are_rejected_with_reasons_and_good_ones_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("dump");
    let good = spec("P1", "1.2.1", "1.2.1.1", "1.2.1.1.1")
        .to_bytes()
        .unwrap();
    let big = InstanceSpec {
        rows: 64,
        columns: 64,
        ..spec("P1", "1.2.1", "1.2.1.1", "1.2.1.1.2")
    }
    .to_bytes()
    .unwrap();
    write(&dump, "good", &good);
    write(
        &dump,
        "cut_in_pixels",
        &fixture::truncated(&big, big.len() - 100),
    );
    write(&dump, "cut_in_header", &fixture::truncated(&good, 300));
    write(&dump, "notes.txt", &fixture::not_dicom());
    write(&dump, "empty", &fixture::zero_bytes());
    write(&dump, "huge", &fixture::huge_length().unwrap());
    write(
        &dump,
        "no_sop",
        &fixture::missing_uid(MissingUid::SopInstance).unwrap(),
    );
    write(
        &dump,
        "no_series",
        &fixture::missing_uid(MissingUid::Series).unwrap(),
    );
    write(
        &dump,
        "no_study",
        &fixture::missing_uid(MissingUid::Study).unwrap(),
    );
    write(&dump, "no_preamble", &fixture::no_preamble().unwrap());
    for (i, (_pid, bytes)) in fixture::path_like_ids().unwrap().into_iter().enumerate() {
        write(&dump, &format!("pathlike{i}"), &bytes);
    }
    let bad_uid = InstanceSpec {
        study_uid: "../../x".into(),
        ..spec("P9", "1", "1.9.1", "1.9.1.1")
    };
    write(&dump, "bad_uid", &bad_uid.to_bytes().unwrap());

    let archive = Archive::open(&tmp.path().join("archive")).unwrap();
    let seen = Collect::default();
    let summary = archive
        .import(std::slice::from_ref(&dump), &opts(), &seen)
        .unwrap();
    let outcomes = seen.outcomes.lock().unwrap().clone();
    let reason = |name: &str| match outcomes.get(&dump.join(name).to_string_lossy().into_owned()) {
        Some(Outcome::Rejected { reason }) => reason.clone(),
        other => panic!("{name}: {other:?}"),
    };
    assert!(
        reason("cut_in_pixels").contains("truncated"),
        "{}",
        reason("cut_in_pixels")
    );
    assert!(
        reason("cut_in_header").contains("truncated"),
        "{}",
        reason("cut_in_header")
    );
    assert!(reason("notes.txt").contains("not a DICOM file"));
    assert!(reason("empty").contains("empty"));
    assert!(
        reason("huge").contains("declares 4294967280 bytes"),
        "{}",
        reason("huge")
    );
    assert!(reason("no_sop").contains("SOPInstanceUID"));
    assert!(reason("no_series").contains("SeriesInstanceUID"));
    assert!(reason("no_study").contains("StudyInstanceUID"));
    assert!(reason("bad_uid").contains("invalid StudyInstanceUID"));
    assert_eq!(summary.rejected, 9, "{summary:?}");
    assert_eq!(
        summary.imported, 4,
        "good, no_preamble and two path-like IDs: {summary:?}"
    );

    let rejects = archive.rejects(&Filter::default()).unwrap();
    assert_eq!(rejects.len(), 9);
    assert!(
        rejects
            .iter()
            .all(|r| !r.reason.is_empty() && r.run_id == summary.run_id)
    );
    let ids: Vec<_> = archive
        .subjects(&Filter::default())
        .unwrap()
        .into_iter()
        .filter_map(|s| s.patient_id)
        .collect();
    assert!(
        ids.contains(&"../../x".to_string()) && ids.contains(&"A/B\\C:*?".to_string()),
        "{ids:?}"
    );

    // Re-importing adds nothing: no instance, no reject row.
    let again = archive.import(&[dump], &opts(), &NoObserver).unwrap();
    assert_eq!(
        (again.imported, again.duplicates, again.rejected),
        (0, 4, 9)
    );
    assert_eq!(archive.rejects(&Filter::default()).unwrap().len(), 9);
    assert!(archive.verify().unwrap().is_empty());
}

#[test]
fn patient_ids_of_empty_values_are_blank_and_never_merge_patients() {
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("dump");
    for (i, pid) in ["\\ ", " \\", "\\\\"].into_iter().enumerate() {
        let s = InstanceSpec {
            patient_name: format!("PATIENT^{i}"),
            ..spec(
                pid,
                &format!("1.11.{i}"),
                &format!("1.11.{i}.1"),
                &format!("1.11.{i}.1.1"),
            )
        };
        write(&dump, &format!("f{i}"), &s.to_bytes().unwrap());
    }
    let archive = Archive::open(&tmp.path().join("archive")).unwrap();
    let s = archive
        .import(std::slice::from_ref(&dump), &opts(), &NoObserver)
        .unwrap();
    assert_eq!(s.imported, 3, "{s:?}");
    let subjects = archive.subjects(&Filter::default()).unwrap();
    assert_eq!(subjects.len(), 3, "{subjects:?}");
    assert!(
        subjects
            .iter()
            .all(|s| s.blank_patient_id && s.studies == 1)
    );
}

#[cfg(unix)]
#[test]
fn fifos_given_directly_are_refused_without_being_opened() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let root = tmp.path().join("archive");
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let (fifo, root) = (fifo.clone(), root.clone());
        std::thread::spawn(move || {
            let seen = Collect::default();
            let s = Archive::open(&root)
                .unwrap()
                .import(&[fifo], &opts(), &seen)
                .unwrap();
            let _ = tx.send((s, seen.outcomes.into_inner().unwrap()));
        });
    }
    let (s, outcomes) = match rx.recv_timeout(std::time::Duration::from_secs(30)) {
        Ok(r) => r,
        Err(_) => {
            // Unblock the import stuck opening the fifo, then fail.
            let _ = std::fs::OpenOptions::new().write(true).open(&fifo);
            panic!("importing a fifo hangs");
        }
    };
    assert_eq!((s.files_seen, s.rejected), (1, 1), "{s:?}");
    let Some(Outcome::Rejected { reason }) = outcomes.get(fifo.to_str().unwrap()) else {
        panic!("{outcomes:?}");
    };
    assert!(reason.contains("not a regular file (a fifo"), "{reason}");
}

#[test]
fn sources_are_absolute_and_rejects_are_one_row_per_file_and_project() {
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("dump");
    write(&dump, "bad.txt", b"junk");
    std::fs::create_dir_all(dump.join("sub")).unwrap();
    let archive = Archive::open(&tmp.path().join("archive")).unwrap();
    // Three spellings of one folder: one file.
    for input in [
        dump.clone(),
        dump.join("sub").join(".."),
        PathBuf::from(format!("{}/./", dump.display())),
    ] {
        let s = archive.import(&[input], &opts(), &NoObserver).unwrap();
        assert_eq!(s.rejected, 1);
    }
    let rejects = archive.rejects(&Filter::default()).unwrap();
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    assert_eq!(rejects[0].path, dump.join("bad.txt").display().to_string());
    assert_eq!(rejects[0].times_seen, 3);

    // Seen by an import into another project: a row of that project; the first one stays.
    let other = ImportOptions {
        project: "other".into(),
        ..opts()
    };
    archive
        .import(std::slice::from_ref(&dump), &other, &NoObserver)
        .unwrap();
    let rejects = archive.rejects(&Filter::default()).unwrap();
    let projects: Vec<&str> = rejects.iter().map(|r| r.project.as_str()).collect();
    assert_eq!(projects, ["test", "other"]);
    let first = archive
        .rejects(&Filter {
            project: Some("test".into()),
            ..Filter::default()
        })
        .unwrap();
    assert_eq!((first.len(), first[0].times_seen), (1, 3));
}

#[cfg(unix)]
#[test]
fn names_that_are_not_utf8_or_hold_control_characters_are_kept_apart_and_escaped() {
    use std::os::unix::ffi::OsStrExt;
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("dump");
    std::fs::create_dir_all(&dump).unwrap();
    for name in [
        &b"n\xff"[..],
        b"n\xfe",
        b"x\x1b[2J",
        b"y\ndepot: fine",
        b"back\\slash",
    ] {
        std::fs::write(dump.join(std::ffi::OsStr::from_bytes(name)), b"junk1").unwrap();
    }
    let archive = Archive::open(&tmp.path().join("archive")).unwrap();
    let s = archive
        .import(std::slice::from_ref(&dump), &opts(), &NoObserver)
        .unwrap();
    assert_eq!(s.rejected, 5);
    let d = dump.display();
    let mut paths: Vec<String> = archive
        .rejects(&Filter::default())
        .unwrap()
        .into_iter()
        .map(|r| r.path)
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            format!("{d}/back\\\\slash"),
            format!("{d}/n\\xFE"),
            format!("{d}/n\\xFF"),
            format!("{d}/x\\x1B[2J"),
            format!("{d}/y\\ndepot: fine"),
        ]
    );
    assert!(paths.iter().all(|p| !p.chars().any(char::is_control)));
}
