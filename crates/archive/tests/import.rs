//! Public-API tests of the archive: importing fixture files built in code (synth::fixture), and
//! checking grouping, duplicates, conflicts, rejects, storage paths and concurrency.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use archive::{Archive, FileOutcome, Filter, ImportObserver, ImportOptions, NoObserver, Outcome};
use synth::fixture::{self, InstanceSpec, MissingUid, Syntax};

fn write(dir: &Path, rel: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, bytes).unwrap();
    p
}

fn spec(pid: &str, study: &str, series: &str, sop: &str) -> InstanceSpec {
    fixture::instance(pid, study, series, sop)
}

fn opts() -> ImportOptions {
    ImportOptions {
        project: "test".into(),
        workers: 3,
        ..ImportOptions::default()
    }
}

/// Collects outcomes by source path.
#[derive(Default)]
struct Collect {
    outcomes: Mutex<BTreeMap<String, Outcome>>,
    warnings: Mutex<Vec<String>>,
}

impl ImportObserver for Collect {
    fn file_done(&self, o: &FileOutcome) {
        self.outcomes
            .lock()
            .unwrap()
            .insert(o.source.clone(), o.outcome.clone());
    }
    fn warning(&self, _source: &str, message: &str) {
        self.warnings.lock().unwrap().push(message.to_string());
    }
}

fn all_files(root: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

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
        sop_conflict.existing_sha256.as_deref(),
        Some(archived[0].sha256.as_str())
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
fn zip_dumps_are_streamed_and_named_by_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let zip_path = tmp.path().join("dump.zip");
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(&zip_path).unwrap());
        let o = zip::write::SimpleFileOptions::default();
        for i in 0..3 {
            z.start_file(format!("DOE^JOHN/SER1/IM{i}"), o).unwrap();
            z.write_all(
                &spec("P1", "1.4.1", "1.4.1.1", &format!("1.4.1.1.{i}"))
                    .to_bytes()
                    .unwrap(),
            )
            .unwrap();
        }
        z.start_file("DOE^JOHN/readme.txt", o).unwrap();
        z.write_all(b"hello").unwrap();
        z.finish().unwrap();
    }
    let archive = Archive::open(&tmp.path().join("archive")).unwrap();
    let s = archive
        .import(std::slice::from_ref(&zip_path), &opts(), &NoObserver)
        .unwrap();
    assert_eq!((s.files_seen, s.imported, s.rejected), (4, 3, 1), "{s:?}");
    let rejects = archive.rejects(&Filter::default()).unwrap();
    assert_eq!(
        rejects[0].path,
        format!("{}!/DOE^JOHN/readme.txt", zip_path.display())
    );
    let inst = archive.instances(&Filter::default()).unwrap();
    assert!(inst[0].source_path.contains("dump.zip!/DOE^JOHN/SER1/IM"));
}

#[test]
fn a_zip_named_so_is_opened_even_behind_a_stub() {
    // A self-extractor stub (or a spanning marker) before the first entry: the file does not
    // start with PK\x03\x04, but its central directory is found from the end.
    let tmp = tempfile::tempdir().unwrap();
    let mut zipped = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut zipped);
        z.start_file("IM0", zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(
            &spec("P1", "1.4.7", "1.4.7.1", "1.4.7.1.1")
                .to_bytes()
                .unwrap(),
        )
        .unwrap();
        z.finish().unwrap();
    }
    let mut bytes = b"MZ self-extractor stub\0\0".to_vec();
    bytes.extend_from_slice(zipped.get_ref());
    let zip_path = tmp.path().join("sfx.zip");
    std::fs::write(&zip_path, &bytes).unwrap();
    let archive = Archive::open(&tmp.path().join("archive")).unwrap();
    let s = archive
        .import(std::slice::from_ref(&zip_path), &opts(), &NoObserver)
        .unwrap();
    assert_eq!((s.files_seen, s.imported, s.rejected), (1, 1, 0), "{s:?}");
}

#[test]
fn the_archive_is_never_imported_into_itself() {
    let tmp = tempfile::tempdir().unwrap();
    write(
        tmp.path(),
        "dump/1",
        &spec("P1", "1.5.1", "1.5.1.1", "1.5.1.1.1")
            .to_bytes()
            .unwrap(),
    );
    let archive = Archive::open(&tmp.path().join("depot-archive")).unwrap();
    archive
        .import(&[tmp.path().to_path_buf()], &opts(), &NoObserver)
        .unwrap();
    let s = archive
        .import(&[tmp.path().to_path_buf()], &opts(), &NoObserver)
        .unwrap();
    assert_eq!((s.files_seen, s.duplicates), (1, 1), "{s:?}");
}

#[test]
fn concurrent_imports_into_one_archive_count_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let (d1, d2) = (tmp.path().join("d1"), tmp.path().join("d2"));
    for i in 0..60 {
        let bytes = spec(
            &format!("P{}", i % 7),
            &format!("1.6.{}", i % 7),
            &format!("1.6.{}.{}", i % 7, i % 3),
            &format!("1.6.9.{i}"),
        )
        .to_bytes()
        .unwrap();
        if i < 40 {
            write(&d1, &format!("f{i}"), &bytes);
        }
        if i >= 20 {
            write(&d2, &format!("f{i}"), &bytes);
        }
    }
    let root = tmp.path().join("archive");
    Archive::open(&root).unwrap();
    let summaries: Vec<_> = std::thread::scope(|s| {
        let a = s.spawn(|| {
            Archive::open(&root)
                .unwrap()
                .import(std::slice::from_ref(&d1), &opts(), &NoObserver)
                .unwrap()
        });
        let b = s.spawn(|| {
            Archive::open(&root)
                .unwrap()
                .import(std::slice::from_ref(&d2), &opts(), &NoObserver)
                .unwrap()
        });
        vec![a.join().unwrap(), b.join().unwrap()]
    });
    let imported: u64 = summaries.iter().map(|s| s.imported).sum();
    let duplicates: u64 = summaries.iter().map(|s| s.duplicates).sum();
    assert_eq!((imported, duplicates), (60, 20), "{summaries:?}");
    let archive = Archive::open(&root).unwrap();
    assert_eq!(archive.instances(&Filter::default()).unwrap().len(), 60);
    assert_eq!(archive.subjects(&Filter::default()).unwrap().len(), 7);
    assert_eq!(archive.series(&Filter::default()).unwrap().len(), 21);
    assert!(archive.verify().unwrap().is_empty());
}

#[test]
fn non_archive_folders_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("something"), b"x").unwrap();
    assert!(matches!(
        Archive::open(tmp.path()),
        Err(archive::OpenError::NotAnArchive { .. })
    ));
    assert!(matches!(
        Archive::open_existing(&tmp.path().join("nope")),
        Err(archive::OpenError::Missing { .. })
    ));
}

#[test]
fn a_failed_write_stops_the_run_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("dump");
    for i in 0..100 {
        write(
            &dump,
            &format!("f{i:03}"),
            &spec("P1", "1.7.1", "1.7.1.1", &format!("1.7.1.1.{i}"))
                .to_bytes()
                .unwrap(),
        );
    }
    let root = tmp.path().join("archive");
    let archive = Archive::open(&root).unwrap();
    // Make the store unusable: a file where the folder should be.
    std::fs::remove_dir(root.join("store")).unwrap();
    std::fs::write(root.join("store"), b"in the way").unwrap();
    let o = ImportOptions {
        batch_files: 5,
        workers: 2,
        ..opts()
    };
    let err = archive
        .import(std::slice::from_ref(&dump), &o, &NoObserver)
        .unwrap_err();
    assert!(matches!(err, archive::ImportError::Write { .. }), "{err}");
    assert!(
        archive.instances(&Filter::default()).unwrap().is_empty(),
        "the failed batch rolled back"
    );
    std::fs::remove_file(root.join("store")).unwrap();
    drop(archive);
    let archive = Archive::open(&root).unwrap();
    assert_eq!(std::fs::read_dir(root.join("tmp")).unwrap().count(), 0);
    let s = archive
        .import(std::slice::from_ref(&dump), &opts(), &NoObserver)
        .unwrap();
    assert_eq!(s.imported, 100);
}

/// Writes a zip of `(name, bytes, deflated)` entries.
fn write_zip(path: &Path, entries: &[(&str, &[u8], bool)]) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, bytes, deflated) in entries {
        let method = if *deflated {
            zip::CompressionMethod::Deflated
        } else {
            zip::CompressionMethod::Stored
        };
        let o = zip::write::SimpleFileOptions::default().compression_method(method);
        z.start_file(*name, o).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap();
}

/// Replaces every occurrence of `from` by `to` (same length) in a file: renames zip entries in
/// their local and central headers, to make names no zip writer would write.
fn patch(path: &Path, from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let mut bytes = std::fs::read(path).unwrap();
    let mut found = 0;
    let mut i = 0;
    while i + from.len() <= bytes.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
            found += 1;
            i += from.len();
        } else {
            i += 1;
        }
    }
    assert_eq!(found, 2, "{from:?}: local and central header");
    std::fs::write(path, bytes).unwrap();
}

fn run_rows(root: &Path) -> Vec<(Option<String>, i64, i64, Option<String>)> {
    let conn = rusqlite::Connection::open(root.join("index.sqlite")).unwrap();
    let mut stmt = conn
        .prepare("SELECT finished_at, files_seen, imported, error FROM import_runs ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
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
    assert_eq!(rejects[0].sha256, rejects[0].existing_sha256);
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

#[test]
fn zip_entries_sharing_a_name_or_named_like_folders_are_all_read() {
    let tmp = tempfile::tempdir().unwrap();
    let zip_path = tmp.path().join("dump.zip");
    let a = spec("PA", "1.9.1", "1.9.1.1", "1.9.1.1.1")
        .to_bytes()
        .unwrap();
    let b = spec("PB", "1.9.2", "1.9.2.1", "1.9.2.1.1")
        .to_bytes()
        .unwrap();
    let c = spec("PC", "1.9.3", "1.9.3.1", "1.9.3.1.1")
        .to_bytes()
        .unwrap();
    let d = spec("PD", "1.9.4", "1.9.4.1", "1.9.4.1.1")
        .to_bytes()
        .unwrap();
    write_zip(
        &zip_path,
        &[
            ("DUPNAME_A", &a, true),
            ("DUPNAME_B", &b, false),
            ("FOLDERX_", &c, true),
            ("DUPNAME_C", &d, true),
            ("empty_dir_", b"", false),
        ],
    );
    patch(&zip_path, b"DUPNAME_B", b"DUPNAME_A");
    patch(&zip_path, b"DUPNAME_C", b"DUPNAME_A");
    patch(&zip_path, b"FOLDERX_", b"FOLDERX/");
    patch(&zip_path, b"empty_dir_", b"empty_dir/");
    // The zip crate indexes entries by name: it shows one DUPNAME_A of three.
    let crate_view = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    assert_eq!(crate_view.len(), 3);

    let archive = Archive::open(&tmp.path().join("archive")).unwrap();
    let seen = Collect::default();
    let s = archive
        .import(std::slice::from_ref(&zip_path), &opts(), &seen)
        .unwrap();
    assert_eq!(
        (s.files_seen, s.imported, s.rejected),
        (4, 4, 0),
        "every entry holding data is read: {s:?}"
    );
    let sources: BTreeMap<String, String> = archive
        .instances(&Filter::default())
        .unwrap()
        .into_iter()
        .map(|i| (i.sop_uid, i.source_path))
        .collect();
    let z = zip_path.display();
    assert_eq!(sources["1.9.1.1.1"], format!("{z}!/DUPNAME_A [entry 1]"));
    assert_eq!(sources["1.9.2.1.1"], format!("{z}!/DUPNAME_A [entry 2]"));
    assert_eq!(sources["1.9.3.1.1"], format!("{z}!/FOLDERX/"));
    assert_eq!(sources["1.9.4.1.1"], format!("{z}!/DUPNAME_A [entry 4]"));
    for (sop, bytes) in [("1.9.1.1.1", &a), ("1.9.2.1.1", &b), ("1.9.4.1.1", &d)] {
        let inst = archive
            .instances(&Filter::default())
            .unwrap()
            .into_iter()
            .find(|i| i.sop_uid == sop)
            .unwrap();
        assert_eq!(&std::fs::read(&inst.path).unwrap(), bytes, "{sop}");
    }
    assert!(archive.verify().unwrap().is_empty());
}

#[test]
fn nested_zips_raw_data_sets_and_dicomdirs_are_named_accurately() {
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("dump");
    let good = spec("P1", "1.10.1", "1.10.1.1", "1.10.1.1.1")
        .to_bytes()
        .unwrap();
    // A data set without preamble, DICM and file meta group.
    let group_length = u32::from_le_bytes(good[140..144].try_into().unwrap()) as usize;
    let raw = good[144 + group_length..].to_vec();
    assert_eq!(&raw[..2], &[0x08, 0x00], "starts with group 0008");
    let dicomdir = InstanceSpec {
        sop_class_uid: "1.2.840.10008.1.3.10".into(),
        ..spec("P1", "1.10.9", "1.10.9.1", "1.10.9.1.1")
    }
    .to_bytes()
    .unwrap();
    let inner = tmp.path().join("inner.zip");
    write_zip(&inner, &[("IM1", &good, true)]);
    let outer = dump.join("outer.zip");
    std::fs::create_dir_all(&dump).unwrap();
    write_zip(
        &outer,
        &[
            ("inner.zip", &std::fs::read(&inner).unwrap(), false),
            ("DICOMDIR", &dicomdir, true),
        ],
    );
    write(&dump, "raw_dataset", &raw);
    write(&dump, "cd/DICOMDIR", &dicomdir);
    write(&dump, "cd/IM1", &good);

    let archive = Archive::open(&tmp.path().join("archive")).unwrap();
    let seen = Collect::default();
    let s = archive
        .import(std::slice::from_ref(&dump), &opts(), &seen)
        .unwrap();
    assert_eq!(
        (s.files_seen, s.imported, s.rejected, s.skipped),
        (5, 1, 2, 2),
        "{s:?}"
    );
    let outcomes = seen.outcomes.lock().unwrap().clone();
    let get = |k: String| {
        outcomes
            .get(&k)
            .cloned()
            .unwrap_or_else(|| panic!("{k}: {outcomes:?}"))
    };
    let Outcome::Rejected { reason } = get(format!("{}!/inner.zip", outer.display())) else {
        panic!()
    };
    assert!(
        reason.contains("nested zip archives are not opened") && !reason.contains("name it"),
        "{reason}"
    );
    let Outcome::Rejected { reason } = get(dump.join("raw_dataset").display().to_string()) else {
        panic!()
    };
    assert!(
        reason.contains("raw data set without the file meta information"),
        "{reason}"
    );
    for dir in [
        dump.join("cd/DICOMDIR").display().to_string(),
        format!("{}!/DICOMDIR", outer.display()),
    ] {
        let Outcome::Skipped { reason } = get(dir) else {
            panic!()
        };
        assert!(reason.contains("DICOMDIR"), "{reason}");
    }
    // A dump that is a CD (DICOMDIR and its files) imports cleanly.
    let cd = archive
        .import(&[dump.join("cd")], &opts(), &NoObserver)
        .unwrap();
    assert!(cd.is_clean(), "{cd:?}");
    assert_eq!((cd.duplicates, cd.skipped), (1, 1));
    let rejects = archive.rejects(&Filter::default()).unwrap();
    assert_eq!(
        rejects.len(),
        2,
        "skipped files are no rejects: {rejects:?}"
    );
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
fn worker_and_batch_counts_out_of_range_are_capped_not_fatal() {
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("dump");
    write(
        &dump,
        "a",
        &spec("P1", "1.12.1", "1.12.1.1", "1.12.1.1.1")
            .to_bytes()
            .unwrap(),
    );
    let archive = Archive::open(&tmp.path().join("archive")).unwrap();
    let o = ImportOptions {
        workers: 10_000_000,
        batch_files: usize::MAX,
        ..opts()
    };
    let s = archive.import(&[dump], &o, &NoObserver).unwrap();
    assert_eq!(s.imported, 1);
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

#[test]
fn a_fatal_error_still_records_what_the_run_committed() {
    let tmp = tempfile::tempdir().unwrap();
    let first = tmp.path().join("first");
    let original = spec("P1", "1.13.1", "1.13.1.1", "1.13.1.1.1");
    write(&first, "a", &original.to_bytes().unwrap());
    let dump = tmp.path().join("dump");
    for i in 0..10 {
        write(
            &dump,
            &format!("f{i}"),
            &spec("P1", "1.13.1", "1.13.1.1", &format!("1.13.1.1.{}", 10 + i))
                .to_bytes()
                .unwrap(),
        );
    }
    // Sorted last: a conflict, whose bytes cannot be kept (conflicts/ is unusable).
    let changed = InstanceSpec {
        instance_number: 42,
        ..original
    };
    write(&dump, "zz", &changed.to_bytes().unwrap());
    let root = tmp.path().join("archive");
    let archive = Archive::open(&root).unwrap();
    archive.import(&[first], &opts(), &NoObserver).unwrap();
    std::fs::remove_dir(root.join("conflicts")).unwrap();
    std::fs::write(root.join("conflicts"), b"in the way").unwrap();
    let o = ImportOptions {
        batch_files: 1,
        workers: 1,
        ..opts()
    };
    let err = archive
        .import(std::slice::from_ref(&dump), &o, &NoObserver)
        .unwrap_err();
    assert!(matches!(err, archive::ImportError::Write { .. }), "{err}");
    assert_eq!(archive.instances(&Filter::default()).unwrap().len(), 11);
    let runs = run_rows(&root);
    let (finished, seen, imported, error) = runs.last().unwrap().clone();
    assert!(finished.is_some(), "{runs:?}");
    assert_eq!((seen, imported), (10, 10), "{runs:?}");
    assert!(
        error.unwrap_or_default().contains("cannot write"),
        "{runs:?}"
    );
    assert_eq!(runs[0].3, None, "a run that completed has no error");
}

#[test]
fn read_only_opens_create_and_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("dump");
    write(
        &dump,
        "a",
        &spec("P1", "1.14.1", "1.14.1.1", "1.14.1.1.1")
            .to_bytes()
            .unwrap(),
    );
    let root = tmp.path().join("archive");
    Archive::open(&root)
        .unwrap()
        .import(std::slice::from_ref(&dump), &opts(), &NoObserver)
        .unwrap();
    for sub in ["tmp", "conflicts"] {
        std::fs::remove_dir(root.join(sub)).unwrap();
    }
    let index = std::fs::read(root.join("index.sqlite")).unwrap();
    let ro = Archive::open_read_only(&root).unwrap();
    assert_eq!(ro.instances(&Filter::default()).unwrap().len(), 1);
    assert!(ro.import(&[dump], &opts(), &NoObserver).is_err());
    drop(ro);
    assert!(!root.join("tmp").exists() && !root.join("conflicts").exists());
    assert_eq!(std::fs::read(root.join("index.sqlite")).unwrap(), index);
    assert!(matches!(
        Archive::open_read_only(&tmp.path().join("none")),
        Err(archive::OpenError::Missing { .. })
    ));
}
