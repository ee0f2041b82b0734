//! Public-API tests of the intake (one file at a time, as a DICOM receiver files them): the
//! same outcomes as an import, concurrent submissions sharing commits, expected identities,
//! spools and refusals, and the run's row.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use archive::{Archive, Expected, Filter, IntakeOptions, NoObserver, Outcome};
use synth::fixture;

fn bytes(pid: &str, study: &str, series: &str, sop: &str) -> Vec<u8> {
    fixture::instance(pid, study, series, sop)
        .to_bytes()
        .unwrap()
}

#[test]
fn concurrent_submissions_are_filed_once_each() {
    let dir = tempfile::tempdir().unwrap();
    let archive = Archive::open(&dir.path().join("a")).unwrap();
    let intake = archive
        .intake(&IntakeOptions::new("p", "test"), Arc::new(NoObserver))
        .unwrap();
    let files: Vec<Vec<u8>> = (0..12)
        .map(|i| {
            bytes(
                "P1",
                "1.2.3",
                &format!("1.2.3.{}", i % 3),
                &format!("1.2.3.9.{i}"),
            )
        })
        .collect();
    // Eight senders, each sending every file: each instance is imported once, then duplicates.
    let outcomes: Vec<Outcome> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let (intake, files) = (&intake, &files);
                s.spawn(move || {
                    files
                        .iter()
                        .map(|f| {
                            intake
                                .submit(&format!("sender {t}"), f, None)
                                .unwrap()
                                .outcome
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let imported = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Imported { .. }))
        .count();
    let duplicates = outcomes
        .iter()
        .filter(|o| **o == Outcome::Duplicate)
        .count();
    assert_eq!((imported, duplicates), (12, 84));
    let summary = intake.finish().unwrap();
    assert_eq!(
        (summary.files_seen, summary.imported, summary.duplicates),
        (96, 12, 84)
    );
    let instances = archive.instances(&Filter::default()).unwrap();
    assert_eq!(instances.len(), 12);
    assert_eq!(archive.subjects(&Filter::default()).unwrap().len(), 1);
    assert!(archive.verify().unwrap().is_empty());
    let series: BTreeMap<&str, usize> = instances.iter().fold(BTreeMap::new(), |mut m, i| {
        *m.entry(i.series_label.as_str()).or_default() += 1;
        m
    });
    assert_eq!(series.values().copied().collect::<Vec<_>>(), [4, 4, 4]);
    assert!(
        instances
            .iter()
            .all(|i| i.source_path.starts_with("sender "))
    );
}

#[test]
fn expectations_spools_conflicts_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let archive = Archive::open(&dir.path().join("a")).unwrap();
    let mut opts = IntakeOptions::new("p", "test");
    opts.deidentified = Some("basic (key 0011)".into());
    let intake = archive.intake(&opts, Arc::new(NoObserver)).unwrap();
    let first = bytes("P1", "1.2.3", "1.2.3.1", "1.2.3.1.1");
    let expected = Expected {
        sop_class_uid: "1.2.840.10008.5.1.4.1.1.4".into(),
        sop_instance_uid: "1.2.3.1.1".into(),
    };
    let done = intake.submit("rx", &first, Some(&expected)).unwrap();
    assert!(matches!(done.outcome, Outcome::Imported { .. }), "{done:?}");

    // Not the instance it was sent as: rejected, nothing stored.
    let other = Expected {
        sop_instance_uid: "1.2.3.1.2".into(),
        ..expected.clone()
    };
    let second = bytes("P1", "1.2.3", "1.2.3.1", "1.2.3.1.3");
    match intake.submit("rx", &second, Some(&other)).unwrap().outcome {
        Outcome::Rejected { reason } => assert!(reason.contains("SOPInstanceUID"), "{reason}"),
        o => panic!("{o:?}"),
    }
    let wrong_class = Expected {
        sop_class_uid: "1.2.840.10008.5.1.4.1.1.2".into(),
        sop_instance_uid: "1.2.3.1.3".into(),
    };
    match intake
        .submit("rx", &second, Some(&wrong_class))
        .unwrap()
        .outcome
    {
        Outcome::Rejected { reason } => assert!(reason.contains("SOPClassUID"), "{reason}"),
        o => panic!("{o:?}"),
    }

    // Through a spool: filed the same way, the spool is gone afterwards.
    let mut spool = intake.spool().unwrap();
    let spool_path = spool.path().to_path_buf();
    spool.write_all(&second).unwrap();
    let done = intake.submit_spooled("rx", spool, None).unwrap();
    assert!(matches!(done.outcome, Outcome::Imported { .. }), "{done:?}");
    assert!(!spool_path.exists());
    // A spool dropped without being submitted is deleted too.
    let spool = intake.spool().unwrap();
    let dropped = spool.path().to_path_buf();
    drop(spool);
    assert!(!dropped.exists());

    // Same SOP Instance UID, other content: a conflict, kept apart.
    let changed = bytes("P2", "1.2.3", "1.2.3.1", "1.2.3.1.1");
    assert!(matches!(
        intake.submit("rx", &changed, None).unwrap().outcome,
        Outcome::Conflict { .. }
    ));
    // Refused by the caller: a reject row, nothing stored.
    match intake
        .refuse("rx", "not de-identifiable", &changed)
        .unwrap()
        .outcome
    {
        Outcome::Rejected { reason } => assert_eq!(reason, "not de-identifiable"),
        o => panic!("{o:?}"),
    }
    let summary = intake.finish().unwrap();
    assert_eq!(
        (summary.imported, summary.conflicts, summary.rejected),
        (2, 1, 3)
    );
    assert!(intake.submit("rx", &first, None).is_err(), "closed");
    assert_eq!(archive.instances(&Filter::default()).unwrap().len(), 2);
    assert_eq!(archive.rejects(&Filter::default()).unwrap().len(), 4);
    assert!(archive.verify().unwrap().is_empty());
    drop(intake);
    let tmp_files: Vec<_> = walkdir::WalkDir::new(dir.path().join("a/tmp"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .collect();
    assert!(tmp_files.is_empty(), "{tmp_files:?}");
}
