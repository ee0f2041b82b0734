//! Tests of the index: migrations, concurrent opens, prepared look-ups, grouping and numbering,
//! conflicts, blank PatientIDs, rejects, read-only opens, filters.

use super::batch::FIND_INSTANCE;
use super::*;
use crate::content_hash::HashAlgorithm;
use crate::grouping::HeaderFacts;
use crate::records::{Filter, RejectKind};

fn facts(pid: Option<&str>, study: &str, series: &str, sop: &str, num: Option<i64>) -> HeaderFacts {
    HeaderFacts {
        patient_id: pid.map(str::to_string),
        study_uid: study.into(),
        series_uid: series.into(),
        sop_uid: sop.into(),
        series_number: num,
        modality: Some("MR".into()),
        study_date: Some("20240102".into()),
        ..HeaderFacts::default()
    }
}

fn temp_db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join(INDEX_FILE)).unwrap();
    (dir, db)
}

fn file(db: &mut Db, run: i64, project: i64, f: &HeaderFacts) -> Placement {
    let mut b = db.begin_batch(run, project).unwrap();
    let p = b.place(f).unwrap();
    if let Placement::Series { series_id, .. } = &p {
        b.insert_instance(
            *series_id,
            f,
            &format!("h{}", f.sop_uid),
            1,
            &format!("store/{}", f.sop_uid),
            "src",
        )
        .unwrap();
    }
    b.commit().unwrap();
    p
}

#[test]
fn migrate_twice() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(INDEX_FILE);
    let mut conn = Connection::open(&path).unwrap();
    migrate(&mut conn, MIGRATIONS).unwrap();
    let tables = |c: &Connection| -> Vec<String> {
        let mut s = c
            .prepare("SELECT sql FROM sqlite_master ORDER BY name")
            .unwrap();
        s.query_map([], |r| r.get::<_, Option<String>>(0))
            .unwrap()
            .map(|r| r.unwrap().unwrap_or_default())
            .collect()
    };
    let before = tables(&conn);
    migrate(&mut conn, MIGRATIONS).unwrap();
    assert_eq!(tables(&conn), before, "second migration changed the schema");
    let v: i64 = conn
        .query_row("SELECT user_version FROM pragma_user_version", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(v, Db::schema_version_known());
    // A newer index is refused.
    conn.pragma_update(None, "user_version", 99).unwrap();
    assert!(matches!(
        migrate(&mut conn, MIGRATIONS),
        Err(MigrateError::Newer { found: 99, .. })
    ));
}

#[test]
fn migrations_are_all_listed() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    files.sort();
    assert_eq!(files.len(), MIGRATIONS.len(), "schema/ has {files:?}");
    for (i, (name, sql)) in files.iter().zip(MIGRATIONS).enumerate() {
        assert!(
            name.starts_with(&format!("{:04}_", i + 1)),
            "{name} out of sequence"
        );
        let on_disk = std::fs::read_to_string(dir.join(name)).unwrap();
        assert_eq!(&on_disk, sql, "{name} is not the embedded migration {i}");
    }
}

#[test]
fn a_new_index_opened_by_several_at_once_opens_for_all() {
    for _ in 0..60 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(INDEX_FILE);
        let opened: Vec<Result<Db, MigrateError>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..6).map(|_| s.spawn(|| Db::open(&path))).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for o in opened {
            let db = o.unwrap();
            assert_eq!(db.schema_version().unwrap(), Db::schema_version_known());
        }
    }
}

#[test]
fn instance_look_ups_are_prepared_once() {
    // As in an import: look-ups in an empty index, then in one that has instances.
    let (dir, mut db) = temp_db();
    let reader = Db::open_reader(&dir.path().join(INDEX_FILE)).unwrap();
    for n in 0..3 {
        assert!(
            reader
                .find_instance(&format!("1.2.1.1.{n}"))
                .unwrap()
                .is_none()
        );
    }
    let (project, run) = db.start_run("p", "[]").unwrap();
    let f = facts(Some("P1"), "1.2.1", "1.2.1.1", "1.2.1.1.1", Some(1));
    file(&mut db, run, project, &f);
    for reader in [&reader, &db] {
        for n in 0..5 {
            let found = reader.find_instance(&format!("1.2.1.1.{n}")).unwrap();
            assert_eq!(found.is_some(), n == 1);
        }
        let stmt = reader.conn.prepare_cached(FIND_INSTANCE).unwrap();
        assert_eq!(
            stmt.get_status(rusqlite::StatementStatus::RePrepare),
            0,
            "a new SOPInstanceUID must not make SQLite parse the look-up again"
        );
    }
}

#[test]
fn grouping_and_numbering() {
    let (_d, mut db) = temp_db();
    let (project, run) = db.start_run("p", "[]").unwrap();
    let a = file(
        &mut db,
        run,
        project,
        &facts(Some("P1"), "1.1", "1.1.1", "1.1.1.1", Some(3)),
    );
    let b = file(
        &mut db,
        run,
        project,
        &facts(Some("P1"), "1.1", "1.1.2", "1.1.2.1", Some(3)),
    );
    let c = file(
        &mut db,
        run,
        project,
        &facts(Some("P1"), "1.2", "1.2.1", "1.2.1.1", None),
    );
    let (
        Placement::Series {
            subject_code: s1,
            series_label: l1,
            ..
        },
        Placement::Series {
            subject_code: s2,
            series_label: l2,
            warnings: w2,
            ..
        },
        Placement::Series {
            subject_code: s3,
            study_number: n3,
            series_label: l3,
            warnings: w3,
            ..
        },
    ) = (a, b, c)
    else {
        panic!("expected placements");
    };
    assert_eq!(s1, s2);
    assert_eq!(s1, s3);
    assert_eq!((l1.as_str(), l2.as_str()), ("3", "3.1"));
    assert!(w2[0].contains("shares SeriesNumber 3"), "{w2:?}");
    assert_eq!((n3, l3.as_str()), (2, "0"));
    assert!(w3[0].contains("no usable SeriesNumber"));
    let Placement::Series {
        series_label: l4,
        warnings: w4,
        ..
    } = file(
        &mut db,
        run,
        project,
        &facts(Some("P1"), "1.2", "1.2.2", "1.2.2.1", Some(-1)),
    )
    else {
        panic!("expected a placement");
    };
    assert_eq!(l4, "0.1");
    assert!(
        w4[0].contains("negative SeriesNumber -1, counted as 0") && !w4[0].contains("shares"),
        "{w4:?}"
    );
}

#[test]
fn conflicts_are_detected() {
    let (_d, mut db) = temp_db();
    let (project, run) = db.start_run("p", "[]").unwrap();
    let Placement::Series { subject_code, .. } = file(
        &mut db,
        run,
        project,
        &facts(Some("P1"), "1.1", "1.1.1", "1.1.1.1", Some(1)),
    ) else {
        panic!("not filed");
    };
    let other_patient = file(
        &mut db,
        run,
        project,
        &facts(Some("P2"), "1.1", "1.1.1", "1.1.1.2", Some(1)),
    );
    // The reason names the archive code and what differs, never the PatientIDs (PHI).
    let Placement::Conflict { reason } = &other_patient else {
        panic!("{other_patient:?}");
    };
    assert!(
        reason.contains(&format!("under subject {subject_code}"))
            && reason.contains("another PatientID")
            && reason.contains("never merged")
            && !reason.contains("P1")
            && !reason.contains("P2"),
        "{reason}"
    );
    let mut with_issuer = facts(Some("P1"), "1.1", "1.1.1", "1.1.1.5", Some(1));
    with_issuer.issuer_of_patient_id = Some("HOSP".into());
    let issuer = file(&mut db, run, project, &with_issuer);
    assert!(
        matches!(&issuer, Placement::Conflict { reason } if reason.contains("IssuerOfPatientID") && !reason.contains("HOSP")),
        "{issuer:?}"
    );
    let blank = file(
        &mut db,
        run,
        project,
        &facts(None, "1.1", "1.1.1", "1.1.1.6", Some(1)),
    );
    assert!(
        matches!(&blank, Placement::Conflict { reason } if reason.contains("PatientID is blank")),
        "{blank:?}"
    );
    let other_study = file(
        &mut db,
        run,
        project,
        &facts(Some("P1"), "1.9", "1.1.1", "1.1.1.3", Some(1)),
    );
    assert!(
        matches!(&other_study, Placement::Conflict { reason } if reason.contains("SeriesInstanceUID") && reason.contains(&format!("archived as {subject_code}/1/1"))),
        "{other_study:?}"
    );
    let (project2, run2) = db.start_run("q", "[]").unwrap();
    let other_project = file(
        &mut db,
        run2,
        project2,
        &facts(Some("P1"), "1.1", "1.1.1", "1.1.1.4", Some(1)),
    );
    assert!(matches!(&other_project, Placement::Conflict { reason } if reason.contains("project")));
    // Nothing of the conflicts created rows.
    assert_eq!(db.subjects(&Filter::default()).unwrap().len(), 1);
}

#[test]
fn blank_patient_ids_are_not_merged() {
    let (_d, mut db) = temp_db();
    let (project, run) = db.start_run("p", "[]").unwrap();
    let a = file(
        &mut db,
        run,
        project,
        &facts(None, "1.1", "1.1.1", "1.1.1.1", Some(1)),
    );
    let b = file(
        &mut db,
        run,
        project,
        &facts(None, "1.2", "1.2.1", "1.2.1.1", Some(1)),
    );
    let c = file(
        &mut db,
        run,
        project,
        &facts(None, "1.2", "1.2.1", "1.2.1.2", Some(1)),
    );
    let code = |p: &Placement| match p {
        Placement::Series { subject_code, .. } => subject_code.clone(),
        Placement::Conflict { reason } => panic!("{reason}"),
    };
    assert_ne!(code(&a), code(&b));
    assert_eq!(code(&b), code(&c));
    let subjects = db.subjects(&Filter::default()).unwrap();
    assert_eq!(subjects.len(), 2);
    assert!(subjects.iter().all(|s| s.blank_patient_id));
}

#[test]
fn rejects_are_recorded_once_per_file() {
    let (dir, mut db) = temp_db();
    let (project, run) = db.start_run("p", "[]").unwrap();
    for _ in 0..2 {
        let mut b = db.begin_batch(run, project).unwrap();
        b.record_reject(&RejectRow {
            kind: RejectKind::Rejected,
            source_path: "x",
            reason: "not DICOM",
            content_hash: Some("ab"),
            size: Some(3),
            sop_uid: None,
            existing_hash: None,
            stored_path: None,
        })
        .unwrap();
        b.commit().unwrap();
    }
    let r = db
        .rejects(&Filter::default(), dir.path(), HashAlgorithm::Blake3)
        .unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].times_seen, 2);
    assert_eq!(r[0].project, "p");

    // The same file seen by an import into another project is a row of that project; the
    // first project's row stays where it was.
    let (other, run2) = db.start_run("q", "[]").unwrap();
    let mut b = db.begin_batch(run2, other).unwrap();
    b.record_reject(&RejectRow {
        kind: RejectKind::Rejected,
        source_path: "x",
        reason: "not DICOM",
        content_hash: Some("ab"),
        size: Some(3),
        sop_uid: None,
        existing_hash: None,
        stored_path: None,
    })
    .unwrap();
    b.commit().unwrap();
    let r = db
        .rejects(&Filter::default(), dir.path(), HashAlgorithm::Blake3)
        .unwrap();
    let projects: Vec<(&str, u64, i64)> = r
        .iter()
        .map(|r| (r.project.as_str(), r.times_seen, r.run_id))
        .collect();
    assert_eq!(projects, [("p", 2, run), ("q", 1, run2)]);
}

/// An index at schema version 3 (before the content hash was named), with `rows` inserted.
fn version_3_index(rows: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(INDEX_FILE);
    let mut conn = Connection::open(&path).unwrap();
    migrate(&mut conn, &MIGRATIONS[..3]).unwrap();
    conn.execute_batch(
        "INSERT INTO projects (id, name, created_at) VALUES (1, 'p', 't');
         INSERT INTO import_runs (id, project_id, inputs, started_at) VALUES (1, 1, '[]', 't');",
    )
    .unwrap();
    conn.execute_batch(rows).unwrap();
    (dir, path)
}

#[test]
fn a_new_index_hashes_with_blake3() {
    let (_dir, db) = temp_db();
    assert_eq!(db.content_hash().unwrap(), HashAlgorithm::Blake3);
    // Exactly one row, and only the two known names.
    assert!(
        db.conn
            .execute(
                "INSERT INTO content_hash (id, algorithm) VALUES (2, 'sha256')",
                []
            )
            .is_err()
    );
    assert!(
        db.conn
            .execute("UPDATE content_hash SET algorithm = 'md5'", [])
            .is_err()
    );
}

#[test]
fn an_index_that_holds_hashes_keeps_sha256_and_one_without_gets_blake3() {
    let sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    let instance = format!(
        "INSERT INTO subjects (id, project_id, code, key_kind, key_value, created_at)
             VALUES (1, 1, 'S0000AAA', 'patient', 'P1', 't');
         INSERT INTO studies (id, subject_id, number, study_uid, created_at) VALUES (1, 1, 1, '1.2', 't');
         INSERT INTO series (id, study_id, label, series_uid, created_at) VALUES (1, 1, '1', '1.2.3', 't');
         INSERT INTO instances (series_id, sop_uid, sha256, size, stored_path, source_path, run_id, imported_at)
             VALUES (1, '1.2.3.4', '{sha}', 3, 'store/S0000AAA/1/1/{sha}.dcm', '/d/a', 1, 't');"
    );
    let reject = |hash: &str, existing: &str| {
        format!(
            "INSERT INTO rejects (project_id, kind, source_path, reason, sha256, existing_sha256,
                 first_run_id, last_run_id, first_seen, last_seen)
                 VALUES (1, 'rejected', '/d/x', 'not DICOM', '{hash}', {existing}, 1, 1, 't', 't');"
        )
    };
    let cases = [
        (String::new(), HashAlgorithm::Blake3),
        (reject("", "NULL"), HashAlgorithm::Blake3),
        (instance.clone(), HashAlgorithm::Sha256),
        (reject(sha, "NULL"), HashAlgorithm::Sha256),
        (reject("", &format!("'{sha}'")), HashAlgorithm::Sha256),
    ];
    for (rows, expected) in cases {
        let (dir, path) = version_3_index(&rows);
        let db = Db::open(&path).unwrap();
        assert_eq!(db.content_hash().unwrap(), expected, "{rows}");
        assert_eq!(db.schema_version().unwrap(), Db::schema_version_known());
        // Nothing was rehashed or renamed but the columns.
        if rows == instance {
            let found = db.find_instance("1.2.3.4").unwrap().unwrap();
            assert_eq!(found.content_hash, sha);
            assert_eq!(found.stored_path, format!("store/S0000AAA/1/1/{sha}.dcm"));
            let listed = db
                .instances(&Filter::default(), dir.path(), expected)
                .unwrap();
            assert_eq!(listed[0].content_hash, sha);
            assert_eq!(listed[0].hash_algorithm, HashAlgorithm::Sha256);
        }
    }
    // A reject seen again with the same content is still the same row.
    let (dir, path) = version_3_index(&reject(sha, "NULL"));
    let mut db = Db::open(&path).unwrap();
    let mut b = db.begin_batch(1, 1).unwrap();
    b.record_reject(&RejectRow {
        kind: RejectKind::Rejected,
        source_path: "/d/x",
        reason: "not DICOM",
        content_hash: Some(sha),
        size: None,
        sop_uid: None,
        existing_hash: None,
        stored_path: None,
    })
    .unwrap();
    b.commit().unwrap();
    let r = db
        .rejects(&Filter::default(), dir.path(), HashAlgorithm::Sha256)
        .unwrap();
    assert_eq!((r.len(), r[0].times_seen), (1, 2));
}

#[test]
fn version_1_rejects_keep_their_project_when_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(INDEX_FILE);
    let mut conn = Connection::open(&path).unwrap();
    migrate(&mut conn, &MIGRATIONS[..1]).unwrap();
    conn.execute_batch(
        "INSERT INTO projects (id, name, created_at) VALUES (1, 'a', 't'), (2, 'b', 't');
         INSERT INTO import_runs (id, project_id, inputs, started_at) VALUES (1, 1, '[]', 't'), (2, 2, '[]', 't');
         INSERT INTO rejects (kind, source_path, reason, sha256, first_run_id, last_run_id, first_seen, last_seen)
             VALUES ('rejected', '/d/x', 'not DICOM', 'ab', 1, 2, 't', 't');",
    )
    .unwrap();
    drop(conn);
    let db = Db::open(&path).unwrap();
    assert_eq!(db.content_hash().unwrap(), HashAlgorithm::Sha256);
    let r = db
        .rejects(&Filter::default(), dir.path(), HashAlgorithm::Sha256)
        .unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].project.as_str(), r[0].path.as_str()), ("b", "/d/x"));
}

#[test]
fn read_only_opens_never_write() {
    let (dir, mut db) = temp_db();
    let (project, run) = db.start_run("p", "[]").unwrap();
    file(
        &mut db,
        run,
        project,
        &facts(Some("P1"), "1.1", "1.1.1", "1.1.1.1", Some(1)),
    );
    drop(db);
    let path = dir.path().join(INDEX_FILE);
    let before = std::fs::read(&path).unwrap();
    let ReadOnly::Ready(ro) = Db::open_read_only(&path).unwrap() else {
        panic!("current schema needs no migration");
    };
    assert_eq!(ro.subjects(&Filter::default()).unwrap().len(), 1);
    let mut ro = ro;
    assert!(
        ro.start_run("p", "[]").is_err(),
        "a read-only handle refuses writes"
    );
    drop(ro);
    assert_eq!(std::fs::read(&path).unwrap(), before);
    // An index with the old schema needs a migration first.
    let old = dir.path().join("old.sqlite");
    let mut conn = Connection::open(&old).unwrap();
    migrate(&mut conn, &MIGRATIONS[..1]).unwrap();
    drop(conn);
    assert!(matches!(
        Db::open_read_only(&old).unwrap(),
        ReadOnly::NeedsMigration
    ));
    assert!(
        immutable_uri(Path::new("/a b/x?y#z.sqlite"))
            .ends_with("/a%20b/x%3Fy%23z.sqlite?immutable=1")
    );
}

#[test]
fn filters_select() {
    let (dir, mut db) = temp_db();
    let (project, run) = db.start_run("p", "[]").unwrap();
    file(
        &mut db,
        run,
        project,
        &facts(Some("P1"), "1.1", "1.1.1", "1.1.1.1", Some(1)),
    );
    let mut ct = facts(Some("P2"), "1.2", "1.2.1", "1.2.1.1", Some(1));
    ct.modality = Some("CT".into());
    ct.study_date = Some("20230505".into());
    file(&mut db, run, project, &ct);
    let f = Filter {
        modality: Some("ct".into()),
        ..Filter::default()
    };
    let s = db.subjects(&f).unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].patient_id.as_deref(), Some("P2"));
    // The count is of the rows the same filter lists.
    for f in [f.clone(), Filter::default()] {
        let listed = db.instances(&f, dir.path(), HashAlgorithm::Blake3).unwrap();
        assert_eq!(db.count_instances(&f).unwrap(), listed.len() as u64);
    }
    assert_eq!(db.count_instances(&Filter::default()).unwrap(), 2);
    let f = Filter {
        since: chrono::NaiveDate::from_ymd_opt(2024, 1, 1),
        ..Filter::default()
    };
    let st = db.studies(&f, dir.path()).unwrap();
    assert_eq!(st.len(), 1);
    assert_eq!(st[0].study_uid, "1.1");
    let mut odd = facts(Some("P3"), "1.3", "1.3.1", "1.3.1.1", Some(1));
    odd.study_date = Some("garbage".into());
    file(&mut db, run, project, &odd);
    let f = Filter {
        since: chrono::NaiveDate::from_ymd_opt(2000, 1, 1),
        ..Filter::default()
    };
    assert_eq!(
        db.studies(&f, dir.path()).unwrap().len(),
        2,
        "a non-date never matches"
    );
    // Eight digits that are no calendar day never match either (stored as they were).
    for (i, not_a_date) in ["20241399", "00000000", "20240230", "20230229"]
        .into_iter()
        .enumerate()
    {
        let mut odd = facts(
            Some("P4"),
            &format!("1.4.{i}"),
            &format!("1.4.{i}.1"),
            &format!("1.4.{i}.1.1"),
            Some(1),
        );
        odd.study_date = Some(not_a_date.into());
        file(&mut db, run, project, &odd);
    }
    let mut leap = facts(Some("P4"), "1.5", "1.5.1", "1.5.1.1", Some(1));
    leap.study_date = Some("20240229".into());
    file(&mut db, run, project, &leap);
    let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d);
    let dated = |since, until| {
        let f = Filter {
            patient_id: Some("P4".into()),
            since,
            until,
            ..Filter::default()
        };
        db.studies(&f, dir.path())
            .unwrap()
            .into_iter()
            .map(|s| s.study_date.unwrap_or_default())
            .collect::<Vec<_>>()
    };
    assert_eq!(dated(day(2024, 12, 1), None), Vec::<String>::new());
    assert_eq!(dated(None, day(1900, 1, 1)), Vec::<String>::new());
    assert_eq!(dated(day(2023, 2, 1), day(2024, 3, 31)), ["20240229"]);
    let f = Filter {
        patient_id: Some("nobody".into()),
        ..Filter::default()
    };
    assert!(
        db.instances(&f, dir.path(), HashAlgorithm::Blake3)
            .unwrap()
            .is_empty()
    );
}
