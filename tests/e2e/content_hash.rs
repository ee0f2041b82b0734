//! The content hash and the manifest checksum: a new archive hashes with BLAKE3 and says so in
//! its index; an archive made before depot named its algorithm keeps SHA-256 (duplicates,
//! conflicts and `original` exports still work); a manifest names its checksum algorithm,
//! `--checksum sha256` gives what `sha256sum` computes, and a manifest written before the
//! algorithm was named (`sha256` fields) is still read by `depot audit`.

use std::path::Path;

use serde_json::Value as Json;
use synth::fixture::{self, InstanceSpec};

use crate::export::{
    archive_with_dump, at_archive, b3, dicom_files, edited, export, manifest, n, put_text, query,
    read_package, s, sha, small_dump,
};
use crate::support::*;

fn bytes(spec: &InstanceSpec) -> Vec<u8> {
    spec.to_bytes().expect("fixture")
}

fn import(t: &TestDir, dir: &Path) -> Run {
    at_archive(t, &t.archive()).arg("import").arg(dir).run()
}

fn index(t: &TestDir) -> rusqlite::Connection {
    rusqlite::Connection::open(t.archive().join("index.sqlite")).expect("index")
}

/// The names of a table's columns.
fn columns(conn: &rusqlite::Connection, table: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
        .expect("table_info");
    stmt.query_map([], |r| r.get(0))
        .expect("columns")
        .map(|c| c.expect("column"))
        .collect()
}

/// Turns the test's archive into what depot wrote before it named its content hash (schema
/// version 3): every stored file (instances and conflicts) renamed to the SHA-256 of its
/// bytes, every hash in the index a SHA-256, the columns named `sha256` and
/// `existing_sha256`, no `content_hash` table. The result is checked against the columns
/// the real migrations 1 to 3 create.
fn make_it_a_sha256_archive(t: &TestDir) {
    let root = t.archive();
    let conn = index(t);
    let rename = |rel: &str| -> (String, String) {
        let data = std::fs::read(root.join(rel)).expect("stored");
        let hash = sha(&data);
        let (folder, _) = rel.rsplit_once('/').expect("folder");
        let new = format!("{folder}/{hash}.dcm");
        std::fs::rename(root.join(rel), root.join(&new)).expect("rename");
        (hash, new)
    };
    let instances: Vec<(i64, String)> = conn
        .prepare("SELECT id, stored_path FROM instances")
        .expect("select")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("rows")
        .map(|r| r.expect("row"))
        .collect();
    for (id, rel) in instances {
        let (hash, new) = rename(&rel);
        conn.execute(
            "UPDATE instances SET content_hash = ?1, stored_path = ?2 WHERE id = ?3",
            rusqlite::params![hash, new, id],
        )
        .expect("update");
    }
    let hashed_rejects: i64 = conn
        .query_row(
            "SELECT count(*) FROM rejects WHERE content_hash <> ''",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(
        hashed_rejects, 0,
        "the fixture archive holds no hashed reject"
    );
    conn.execute_batch(
        "ALTER TABLE instances RENAME COLUMN content_hash TO sha256;
         ALTER TABLE rejects RENAME COLUMN content_hash TO sha256;
         ALTER TABLE rejects RENAME COLUMN existing_hash TO existing_sha256;
         DROP TABLE content_hash;
         PRAGMA user_version = 3;",
    )
    .expect("downgrade");
    // The same columns as an index made by migrations 1 to 3.
    let genuine = rusqlite::Connection::open_in_memory().expect("memory");
    genuine
        .execute_batch(include_str!("../../schema/0001_init.sql"))
        .expect("0001");
    genuine
        .execute_batch(include_str!(
            "../../schema/0002_rejects_per_project_run_outcome.sql"
        ))
        .expect("0002");
    genuine
        .execute_batch(include_str!("../../schema/0003_deidentified_runs.sql"))
        .expect("0003");
    for table in ["instances", "rejects", "import_runs"] {
        assert_eq!(columns(&conn, table), columns(&genuine, table), "{table}");
    }
}

/// The algorithm the index records.
fn recorded_algorithm(t: &TestDir) -> String {
    index(t)
        .query_row("SELECT algorithm FROM content_hash", [], |r| r.get(0))
        .expect("content_hash row")
}

/// The last run's counts: (imported, duplicates, conflicts).
fn last_run(t: &TestDir) -> (u64, u64, u64) {
    let runs = query(t, "runs", &[]);
    let r = runs.last().expect("a run");
    (n(r, "imported"), n(r, "duplicates"), n(r, "conflicts"))
}

#[test]
fn a_new_archive_records_blake3_and_names_stored_files_by_it() {
    let t = TestDir::new();
    archive_with_dump(&t, &small_dump());
    assert_eq!(recorded_algorithm(&t), "blake3");
    let instances = query(&t, "instances", &[]);
    assert_eq!(instances.len(), 44);
    for i in &instances {
        let path = Path::new(s(i, "path"));
        let data = std::fs::read(path).expect("stored");
        assert_eq!(s(i, "hash_algorithm"), "blake3");
        assert_eq!(s(i, "content_hash"), b3(&data));
        assert_ne!(s(i, "content_hash"), sha(&data));
        assert_eq!(
            path.file_name().and_then(|n| n.to_str()),
            Some(format!("{}.dcm", b3(&data)).as_str())
        );
    }
    // The table shows the algorithm as its column's name.
    let table = at_archive(&t, &t.archive())
        .args(["query", "instances", "--format", "table"])
        .run()
        .ok();
    assert!(table.stdout.contains("BLAKE3"), "{}", table.stdout);
}

#[test]
fn an_archive_made_with_sha256_keeps_it_for_duplicates_conflicts_and_original_exports() {
    let t = TestDir::new();
    let a = fixture::instance("P1", "1.51.1", "1.51.1.1", "1.51.1.1.1");
    let b = fixture::instance("P1", "1.51.1", "1.51.1.1", "1.51.1.1.2");
    let c = fixture::instance("P1", "1.51.1", "1.51.1.1", "1.51.1.1.3");
    let first = t.join("first");
    std::fs::create_dir_all(&first).expect("mkdir");
    std::fs::write(first.join("a.dcm"), bytes(&a)).expect("write");
    std::fs::write(first.join("b.dcm"), bytes(&b)).expect("write");
    import(&t, &first).ok();
    make_it_a_sha256_archive(&t);

    // Opened by this depot: migrated, SHA-256 recorded, and the same files are duplicates.
    import(&t, &first).ok();
    assert_eq!(last_run(&t), (0, 2, 0));
    assert_eq!(recorded_algorithm(&t), "sha256");
    let version: i64 = index(&t)
        .query_row("SELECT user_version FROM pragma_user_version", [], |r| {
            r.get(0)
        })
        .expect("version");
    assert_eq!(version, 4);

    // A changed file under a's SOPInstanceUID is a conflict, by SHA-256 on both sides; a new
    // file is stored under its SHA-256.
    let second = t.join("second");
    std::fs::create_dir_all(&second).expect("mkdir");
    let changed = edited(&a, |obj| {
        put_text(
            obj,
            dicom_dictionary_std::tags::SERIES_DESCRIPTION,
            dicom_core::VR::LO,
            "changed",
        )
    });
    std::fs::write(second.join("a-changed.dcm"), &changed).expect("write");
    std::fs::write(second.join("c.dcm"), bytes(&c)).expect("write");
    import(&t, &second).expect_code(1);
    assert_eq!(last_run(&t), (1, 0, 1));
    let conflict = &query(&t, "rejects", &[])[0];
    assert_eq!(s(conflict, "kind"), "conflict");
    assert_eq!(s(conflict, "hash_algorithm"), "sha256");
    assert_eq!(s(conflict, "content_hash"), sha(&changed));
    assert_eq!(s(conflict, "existing_hash"), sha(&bytes(&a)));
    assert!(
        s(conflict, "stored_path").ends_with(&format!("conflicts/{}.dcm", sha(&changed))),
        "{conflict}"
    );
    assert!(
        s(conflict, "reason").contains("archived sha256"),
        "{conflict}"
    );
    let instances = query(&t, "instances", &[]);
    assert_eq!(instances.len(), 3);
    for i in &instances {
        let data = std::fs::read(s(i, "path")).expect("stored");
        assert_eq!(s(i, "hash_algorithm"), "sha256");
        assert_eq!(s(i, "content_hash"), sha(&data));
        assert!(s(i, "path").ends_with(&format!("/{}.dcm", sha(&data))));
    }

    // `original` verifies the stored bytes by SHA-256 and writes the manifest's checksums in
    // the algorithm asked for (both hashes made in one pass).
    for (out, checksum) in [("orig", "blake3"), ("orig-sha.zip", "sha256")] {
        let run = export(&t, out, &["--level", "original", "--checksum", checksum]).ok();
        assert!(
            run.stderr
                .contains("original bytes verified by their SHA-256 content hash"),
            "{}",
            run.stderr
        );
        let files = read_package(&t.join(out));
        let m = manifest(&files);
        assert_eq!(m["checksum"], checksum);
        let dicom = dicom_files(&files);
        assert_eq!(dicom.len(), 3);
        for f in manifest_files(&m) {
            let data = &dicom[s(&f, "path")];
            let want = if checksum == "blake3" {
                b3(data)
            } else {
                sha(data)
            };
            assert_eq!(s(&f, checksum), want, "{f}");
        }
    }

    // A stored file whose bytes changed is refused by its SHA-256.
    let victim = &instances[0];
    let mut data = std::fs::read(s(victim, "path")).expect("stored");
    let last = data.len() - 1;
    data[last] ^= 0xFF;
    std::fs::write(s(victim, "path"), &data).expect("corrupt");
    let run = export(&t, "broken", &["--level", "original"]).expect_code(2);
    assert!(
        run.stderr
            .contains("does not match its SHA-256 content hash in the index"),
        "{}",
        run.stderr
    );
}

/// Every file entry of a manifest.
fn manifest_files(m: &Json) -> Vec<Json> {
    let mut out = Vec::new();
    for subj in m["subjects"].as_array().expect("subjects") {
        for st in subj["studies"].as_array().expect("studies") {
            for se in st["series"].as_array().expect("series") {
                out.extend(se["files"].as_array().expect("files").iter().cloned());
            }
        }
    }
    out
}

#[test]
fn the_manifest_names_its_checksum_and_sha256_gives_what_sha256sum_computes() {
    let t = TestDir::new();
    archive_with_dump(&t, &small_dump());
    for (out, args, algorithm) in [
        ("b3", vec![], "blake3"),
        ("b3.zip", vec!["--checksum", "blake3"], "blake3"),
        ("sha", vec!["--checksum", "sha256"], "sha256"),
        ("sha.zip", vec!["--checksum", "sha256"], "sha256"),
    ] {
        let mut all = vec!["--level", "anonymize-full"];
        all.extend(args);
        export(&t, out, &all).ok();
        let files = read_package(&t.join(out));
        let m = manifest(&files);
        assert_eq!(m["checksum"], algorithm, "{out}");
        let dicom = dicom_files(&files);
        let listed = manifest_files(&m);
        assert_eq!(listed.len(), dicom.len());
        let other = if algorithm == "blake3" {
            "sha256"
        } else {
            "blake3"
        };
        for f in &listed {
            let data = &dicom[s(f, "path")];
            let want = if algorithm == "blake3" {
                b3(data)
            } else {
                sha(data)
            };
            assert_eq!(s(f, algorithm), want, "{out}: {f}");
            assert!(f.get(other).is_none(), "{out}: {f}");
        }
        // The CSV's checksum column is named after the algorithm and holds the same values.
        let csv = String::from_utf8(files["manifest.csv"].clone()).expect("utf8");
        let mut lines = csv.lines();
        assert_eq!(
            lines.next(),
            Some(format!("subject,study,series,modality,path,{algorithm},bytes,findings").as_str())
        );
        for line in lines {
            let cells: Vec<&str> = line.split(',').collect();
            let data = &dicom[cells[4]];
            let want = if algorithm == "blake3" {
                b3(data)
            } else {
                sha(data)
            };
            assert_eq!(cells[5], want, "{out}: {line}");
        }
    }
    // An unknown algorithm is refused before anything is written.
    let run = export(
        &t,
        "md5",
        &["--level", "anonymize-full", "--checksum", "md5"],
    )
    .expect_code(2);
    assert!(run.stderr.contains("md5"), "{}", run.stderr);
    assert!(!t.join("md5").exists());
}

#[test]
fn depot_audit_reads_a_manifest_written_before_the_algorithm_was_named() {
    let t = TestDir::new();
    archive_with_dump(&t, &small_dump());
    export(
        &t,
        "pkg",
        &["--level", "anonymize-full", "--checksum", "sha256"],
    )
    .ok();
    // What an older depot wrote: the same manifest without `checksum`.
    let path = t.join("pkg").join("manifest.json");
    let text = std::fs::read_to_string(&path).expect("manifest");
    let old = text.replace("  \"checksum\": \"sha256\",\n", "");
    assert_ne!(old, text, "the field was removed");
    assert!(old.contains("\"sha256\": \""));
    std::fs::write(&path, old).expect("write");
    let run = at_archive(&t, &t.archive())
        .arg("audit")
        .arg(t.join("pkg"))
        .run()
        .ok();
    assert!(run.stderr.contains(": clean;"), "{}", run.stderr);
    assert!(
        run.stderr.contains("at anonymize-full"),
        "level read from the old manifest: {}",
        run.stderr
    );
}

#[test]
fn a_package_quarantined_with_a_manifest_of_sha256_fields_is_released_by_them() {
    use crate::quarantine::{archive, export_basic, quarantine_id, release};
    let t = TestDir::new();
    archive(&t, true);
    let id = quarantine_id(&export_basic(&t, "pkg", &[]).expect_code(1));
    let entry = t.archive().join("quarantine").join(&id);
    let package = entry.join("package");

    // What an older depot quarantined: no `checksum`, every file's `sha256`, and the record's
    // digest of that manifest.
    let manifest_path = package.join("manifest.json");
    let mut m: Json =
        serde_json::from_slice(&std::fs::read(&manifest_path).expect("manifest")).expect("json");
    assert_eq!(m["checksum"], "blake3");
    m.as_object_mut().expect("object").remove("checksum");
    let mut listed = 0;
    for subject in m["subjects"].as_array_mut().expect("subjects") {
        for study in subject["studies"].as_array_mut().expect("studies") {
            for series in study["series"].as_array_mut().expect("series") {
                for f in series["files"].as_array_mut().expect("files") {
                    let data = std::fs::read(package.join(s(f, "path"))).expect("file");
                    let f = f.as_object_mut().expect("file entry");
                    f.remove("blake3").expect("a blake3 checksum");
                    f.insert("sha256".into(), Json::String(sha(&data)));
                    listed += 1;
                }
            }
        }
    }
    assert_eq!(listed, 2);
    let mut old = serde_json::to_vec_pretty(&m).expect("json");
    old.push(b'\n');
    std::fs::write(&manifest_path, &old).expect("write");
    let record_path = entry.join("quarantine.json");
    let mut record: Json =
        serde_json::from_slice(&std::fs::read(&record_path).expect("record")).expect("json");
    record["package_digest"] = Json::String(sha(&old));
    std::fs::write(
        &record_path,
        serde_json::to_vec_pretty(&record).expect("json"),
    )
    .expect("write");

    release(&t, &id, &["all"], "checked", "ana").ok();
    let files = read_package(&t.join("pkg"));
    let released = manifest(&files);
    assert_eq!(released["checksum"], "sha256");
    let dicom = dicom_files(&files);
    let entries = manifest_files(&released);
    assert_eq!(entries.len(), 2);
    for f in &entries {
        assert_eq!(s(f, "sha256"), sha(&dicom[s(f, "path")]), "{f}");
        assert!(f.get("blake3").is_none(), "{f}");
    }
    let csv = String::from_utf8(files["manifest.csv"].clone()).expect("utf8");
    assert!(
        csv.starts_with("subject,study,series,modality,path,sha256,bytes,findings\n"),
        "{csv}"
    );
}
