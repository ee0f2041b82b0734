//! Grouping, duplicates and conflicts, within a project and across projects.

use super::*;

#[test]
fn duplicates_conflicts_and_grouping_rules() {
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("dump");
    let a = spec("P1", "1.3.1", "1.3.1.1", "1.3.1.1.1");
    write(&dump, "a/1", &a.to_bytes().unwrap());
    write(&dump, "a/1-copy", &a.to_bytes().unwrap());
    // Two series sharing SeriesNumber 1.
    write(
        &dump,
        "a/2",
        &spec("P1", "1.3.1", "1.3.1.2", "1.3.1.2.1")
            .to_bytes()
            .unwrap(),
    );
    // No SeriesNumber.
    let unnumbered = InstanceSpec {
        series_number: None,
        ..spec("P1", "1.3.1", "1.3.1.3", "1.3.1.3.1")
    };
    write(&dump, "a/3", &unnumbered.to_bytes().unwrap());
    // Two blank-PatientID studies: two subjects.
    write(
        &dump,
        "b/1",
        &spec("", "1.3.2", "1.3.2.1", "1.3.2.1.1")
            .to_bytes()
            .unwrap(),
    );
    write(
        &dump,
        "b/2",
        &spec("  ", "1.3.3", "1.3.3.1", "1.3.3.1.1")
            .to_bytes()
            .unwrap(),
    );

    let archive = Archive::open(&tmp.path().join("archive")).unwrap();
    let seen = Collect::default();
    let s = archive
        .import(std::slice::from_ref(&dump), &opts(), &seen)
        .unwrap();
    assert_eq!(
        (s.imported, s.duplicates, s.conflicts, s.rejected),
        (5, 1, 0, 0),
        "{s:?}"
    );
    let warnings = seen.warnings.lock().unwrap().clone();
    assert_eq!(
        warnings
            .iter()
            .filter(|w| w.contains("blank PatientID"))
            .count(),
        2,
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("shares SeriesNumber 1")),
        "{warnings:?}"
    );

    let series = archive
        .series(&Filter {
            patient_id: Some("P1".into()),
            ..Filter::default()
        })
        .unwrap();
    let mut labels: Vec<_> = series.iter().map(|s| s.series_label.as_str()).collect();
    labels.sort_unstable();
    assert_eq!(labels, ["0", "1", "1.1"]);
    let blank: Vec<_> = archive
        .subjects(&Filter::default())
        .unwrap()
        .into_iter()
        .filter(|s| s.blank_patient_id)
        .collect();
    assert_eq!(blank.len(), 2);

    // Second dump: same SOP different bytes (conflict), a known study under another PatientID
    // (conflict), a known series under another study (conflict).
    let dump2 = tmp.path().join("dump2");
    let changed = InstanceSpec {
        instance_number: 99,
        ..a.clone()
    };
    write(&dump2, "changed", &changed.to_bytes().unwrap());
    write(
        &dump2,
        "other_patient",
        &spec("P2", "1.3.1", "1.3.1.1", "1.3.1.1.7")
            .to_bytes()
            .unwrap(),
    );
    write(
        &dump2,
        "moved_series",
        &spec("P1", "1.3.9", "1.3.1.1", "1.3.1.1.8")
            .to_bytes()
            .unwrap(),
    );
    let seen2 = Collect::default();
    let s2 = archive
        .import(std::slice::from_ref(&dump2), &opts(), &seen2)
        .unwrap();
    assert_eq!((s2.imported, s2.conflicts), (0, 3), "{s2:?}");
    let outcomes = seen2.outcomes.lock().unwrap().clone();
    let reason = |name: &str| match outcomes.get(&dump2.join(name).to_string_lossy().into_owned()) {
        Some(Outcome::Conflict { reason }) => reason.clone(),
        other => panic!("{name}: {other:?}"),
    };
    assert!(reason("changed").contains("different content"));
    assert!(
        reason("other_patient").contains("another PatientID")
            && !reason("other_patient").contains("P2"),
        "{}",
        reason("other_patient")
    );
    assert!(reason("moved_series").contains("SeriesInstanceUID 1.3.1.1"));

    let conflicts = archive.rejects(&Filter::default()).unwrap();
    assert_eq!(conflicts.len(), 3);
    let sop_conflict = conflicts
        .iter()
        .find(|c| c.sop_uid.as_deref() == Some("1.3.1.1.1"))
        .unwrap();
    let archived = archive
        .instances(&Filter {
            series_uid: Some("1.3.1.1".into()),
            ..Filter::default()
        })
        .unwrap();
    assert_eq!(archived.len(), 1);
    assert_eq!(
        sop_conflict.existing_hash.as_deref(),
        Some(archived[0].content_hash.as_str())
    );
    // Conflicting bytes are kept apart, the archived file unchanged.
    let kept = std::fs::read(sop_conflict.stored_path.as_ref().unwrap()).unwrap();
    assert_eq!(kept, changed.to_bytes().unwrap());
    assert_eq!(
        std::fs::read(&archived[0].path).unwrap(),
        a.to_bytes().unwrap()
    );
    assert!(archive.verify().unwrap().is_empty());

    // Re-import of both dumps adds nothing.
    let s3 = archive
        .import(&[dump, dump2], &opts(), &NoObserver)
        .unwrap();
    assert_eq!((s3.imported, s3.duplicates, s3.conflicts), (0, 6, 3));
    assert_eq!(archive.rejects(&Filter::default()).unwrap().len(), 3);
    assert_eq!(archive.instances(&Filter::default()).unwrap().len(), 5);
}

#[test]
fn the_same_file_imported_into_another_project_is_a_conflict_naming_its_project() {
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("dump");
    let bytes = spec("P1", "1.8.1", "1.8.1.1", "1.8.1.1.1")
        .to_bytes()
        .unwrap();
    let file = write(&dump, "a.dcm", &bytes);
    let archive = Archive::open(&tmp.path().join("archive")).unwrap();
    let alpha = ImportOptions {
        project: "alpha".into(),
        ..opts()
    };
    let beta = ImportOptions {
        project: "beta".into(),
        ..opts()
    };
    archive
        .import(std::slice::from_ref(&dump), &alpha, &NoObserver)
        .unwrap();
    let code = archive.subjects(&Filter::default()).unwrap()[0]
        .subject
        .clone();

    let seen = Collect::default();
    let s = archive
        .import(std::slice::from_ref(&dump), &beta, &seen)
        .unwrap();
    assert_eq!((s.duplicates, s.conflicts, s.imported), (0, 1, 0), "{s:?}");
    assert!(!s.is_clean());
    let outcomes = seen.outcomes.lock().unwrap().clone();
    let Some(Outcome::Conflict { reason }) = outcomes.get(file.to_str().unwrap()) else {
        panic!("{outcomes:?}");
    };
    assert!(
        reason.contains("project \"alpha\"")
            && reason.contains(&code)
            && reason.contains("same content")
            && reason.contains("one project"),
        "{reason}"
    );
    let rejects = archive.rejects(&Filter::default()).unwrap();
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0].project, "beta");
    assert_eq!(rejects[0].content_hash, rejects[0].existing_hash);
    let kept = std::fs::read(rejects[0].stored_path.as_ref().unwrap()).unwrap();
    assert_eq!(kept, bytes, "the bytes are kept apart under conflicts/");
    let in_beta = Filter {
        project: Some("beta".into()),
        ..Filter::default()
    };
    assert!(archive.instances(&in_beta).unwrap().is_empty());
    assert!(archive.subjects(&in_beta).unwrap().is_empty());

    // In its own project it is still a duplicate.
    let again = archive.import(&[dump], &alpha, &NoObserver).unwrap();
    assert_eq!((again.duplicates, again.conflicts), (1, 0), "{again:?}");
    assert!(archive.verify().unwrap().is_empty());
}
