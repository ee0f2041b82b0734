//! The archive and its runs: never imported into itself, concurrent imports, refused folders,
//! failed writes, out-of-range options, fatal errors, read-only opens.

use super::*;

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
