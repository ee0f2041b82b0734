//! End-to-end tests of `depot import`: the real binary on fixture dumps built in code
//! (synth::fixture), checked through `depot query` and the files on disk.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use synth::fixture::{self, InstanceSpec, MissingUid, Syntax};

use crate::support::*;

fn put(dir: &Path, rel: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(&p, bytes).expect("write");
    p
}

fn spec(pid: &str, study: &str, series: &str, sop: &str) -> InstanceSpec {
    fixture::instance(pid, study, series, sop)
}

fn bytes(s: &InstanceSpec) -> Vec<u8> {
    s.to_bytes().expect("fixture")
}

/// `depot query <what> --format json` against the test's archive.
pub fn query(t: &TestDir, args: &[&str]) -> Vec<Value> {
    let archive = t.archive();
    let run = t
        .depot()
        .arg("--archive")
        .arg(&archive)
        .arg("query")
        .args(args)
        .args(["--format", "json"])
        .run()
        .ok();
    match run.json() {
        Value::Array(rows) => rows,
        other => panic!("not an array: {other}"),
    }
}

fn import(t: &TestDir, paths: &[&Path]) -> Run {
    t.depot()
        .arg("--archive")
        .arg(t.archive())
        .arg("import")
        .args(paths)
        .run()
}

fn field<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string field {k} in {v}"))
}

/// Every indexed file exists with its hash, and no file below store/ or conflicts/ is unindexed.
fn assert_store_consistent(t: &TestDir) {
    let mut indexed = BTreeSet::new();
    for i in query(t, &["instances"]) {
        let path = PathBuf::from(field(&i, "path"));
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            blake3::hash(&data).to_hex().to_string(),
            field(&i, "content_hash"),
            "{}",
            path.display()
        );
        indexed.insert(path);
    }
    for r in query(t, &["rejects"]) {
        if let Some(p) = r.get("stored_path").and_then(Value::as_str) {
            assert!(Path::new(p).is_file(), "conflict file {p} missing");
            indexed.insert(PathBuf::from(p));
        }
    }
    for area in ["store", "conflicts"] {
        for f in files_below(&t.archive().join(area)) {
            assert!(
                indexed.contains(&f),
                "{} is stored but not indexed",
                f.display()
            );
        }
    }
}

#[test]
fn folder_file_and_zip_inputs() {
    let t = TestDir::new();
    let dump = t.join("dump");
    for i in 0..3 {
        put(
            &dump,
            &format!("sub/dir/IM{i}"),
            &bytes(&spec("P1", "1.7.1", "1.7.1.1", &format!("1.7.1.1.{i}"))),
        );
    }
    let single = put(
        t.path(),
        "single.dcm",
        &bytes(&spec("P2", "1.7.2", "1.7.2.1", "1.7.2.1.1")),
    );
    let zip_path = t.join("dump.zip");
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(&zip_path).expect("zip"));
        for i in 0..2 {
            z.start_file(
                format!("inner/IM{i}"),
                zip::write::SimpleFileOptions::default(),
            )
            .expect("entry");
            z.write_all(&bytes(&spec(
                "P3",
                "1.7.3",
                "1.7.3.1",
                &format!("1.7.3.1.{i}"),
            )))
            .expect("write");
        }
        z.finish().expect("finish");
    }
    let run = t
        .depot()
        .args([
            "--archive".as_ref(),
            t.archive().as_os_str(),
            "import".as_ref(),
            "--json".as_ref(),
        ])
        .args([dump.as_path(), single.as_path(), zip_path.as_path()])
        .run()
        .ok();
    let summary = run.json();
    assert_eq!(summary["imported"], 6, "{summary}");
    assert!(
        run.stderr.contains("6 files seen: 6 imported"),
        "{}",
        run.stderr
    );
    let sources: BTreeSet<String> = query(&t, &["instances"])
        .iter()
        .map(|i| field(i, "source_path").to_string())
        .collect();
    assert!(
        sources.iter().any(|s| s.ends_with("dump.zip!/inner/IM1")),
        "{sources:?}"
    );
    assert_eq!(query(&t, &["subjects"]).len(), 3);
    assert_store_consistent(&t);
}

#[test]
fn archive_defaults_to_env_then_local_folder() {
    let t = TestDir::new();
    let f = put(
        t.path(),
        "in/a",
        &bytes(&spec("P1", "1.8.1", "1.8.1.1", "1.8.1.1.1")),
    );
    t.depot().arg("import").arg(&f).run().ok();
    assert!(t.join("depot-archive/index.sqlite").is_file());
    t.depot()
        .env("DEPOT_ARCHIVE", t.join("envarc"))
        .arg("import")
        .arg(&f)
        .run()
        .ok();
    assert!(t.join("envarc/index.sqlite").is_file());
}

#[test]
fn grouping_rules_series_numbers_blank_ids_and_study_conflicts() {
    let t = TestDir::new();
    let dump = t.join("dump");
    // Two series of one study share SeriesNumber 3; one series has none.
    let three = |series: &str, sop: &str| InstanceSpec {
        series_number: Some(3),
        ..spec("P1", "1.9.1", series, sop)
    };
    put(&dump, "a", &bytes(&three("1.9.1.1", "1.9.1.1.1")));
    put(&dump, "b", &bytes(&three("1.9.1.2", "1.9.1.2.1")));
    put(
        &dump,
        "c",
        &bytes(&InstanceSpec {
            series_number: None,
            ..spec("P1", "1.9.1", "1.9.1.3", "1.9.1.3.1")
        }),
    );
    // Blank PatientIDs in two studies: two subjects, never merged.
    put(
        &dump,
        "d",
        &bytes(&spec("", "1.9.2", "1.9.2.1", "1.9.2.1.1")),
    );
    put(
        &dump,
        "e",
        &bytes(&spec("", "1.9.3", "1.9.3.1", "1.9.3.1.1")),
    );
    let run = import(&t, &[&dump]).ok();
    assert_eq!(
        run.stderr.matches("blank PatientID").count(),
        2,
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("shares SeriesNumber 3"),
        "{}",
        run.stderr
    );

    let series = query(&t, &["series", "--study-uid", "1.9.1"]);
    let labels: BTreeMap<String, String> = series
        .iter()
        .map(|s| {
            (
                field(s, "series_uid").to_string(),
                field(s, "series_label").to_string(),
            )
        })
        .collect();
    let mut got: Vec<&str> = labels.values().map(String::as_str).collect();
    got.sort_unstable();
    assert_eq!(got, ["0", "3", "3.1"], "{labels:?}");
    let blank: Vec<Value> = query(&t, &["subjects"])
        .into_iter()
        .filter(|s| s["blank_patient_id"] == Value::Bool(true))
        .collect();
    assert_eq!(blank.len(), 2);
    assert_ne!(blank[0]["subject"], blank[1]["subject"]);

    // The same study arriving with another PatientID is a conflict, not a merge: exit 1.
    let more = t.join("more");
    put(
        &more,
        "f",
        &bytes(&spec("P2", "1.9.1", "1.9.1.9", "1.9.1.9.1")),
    );
    let run = import(&t, &[&more]).expect_code(1);
    assert!(
        run.stderr.contains("conflict: StudyInstanceUID 1.9.1"),
        "{}",
        run.stderr
    );
    let rejects = query(&t, &["rejects"]);
    assert_eq!(rejects.len(), 1);
    assert_eq!(field(&rejects[0], "kind"), "conflict");
    assert_eq!(query(&t, &["subjects", "--patient-id", "P2"]).len(), 0);
}

#[test]
fn duplicates_conflicts_and_reimport() {
    let t = TestDir::new();
    let dump = t.join("dump");
    let original = spec("P1", "1.10.1", "1.10.1.1", "1.10.1.1.1");
    put(&dump, "a", &bytes(&original));
    put(&dump, "copy-of-a", &bytes(&original));
    put(
        &dump,
        "b",
        &bytes(&spec("P1", "1.10.1", "1.10.1.1", "1.10.1.1.2")),
    );
    let summary = t
        .depot()
        .arg("--archive")
        .arg(t.archive())
        .args(["import", "--json"])
        .arg(&dump)
        .run()
        .ok()
        .json();
    assert_eq!(
        (summary["imported"].as_u64(), summary["duplicates"].as_u64()),
        (Some(2), Some(1))
    );
    let stored = query(&t, &["instances", "--series-uid", "1.10.1.1"]);
    let before: Vec<u8> = std::fs::read(
        stored
            .iter()
            .find(|i| field(i, "sop_uid") == "1.10.1.1.1")
            .map(|i| field(i, "path"))
            .expect("a"),
    )
    .expect("read");

    let other = t.join("other");
    let changed = InstanceSpec {
        series_description: "CHANGED".into(),
        ..original.clone()
    };
    put(&other, "a-changed", &bytes(&changed));
    let run = import(&t, &[&other]).expect_code(1);
    assert!(
        run.stderr
            .contains("already archived with different content"),
        "{}",
        run.stderr
    );
    let conflict = &query(&t, &["rejects"])[0];
    assert_eq!(field(conflict, "kind"), "conflict");
    assert_eq!(
        std::fs::read(field(conflict, "stored_path")).expect("kept"),
        bytes(&changed)
    );
    assert_ne!(
        field(conflict, "content_hash"),
        field(conflict, "existing_hash")
    );
    let after = query(&t, &["instances", "--series-uid", "1.10.1.1"]);
    assert_eq!(after.len(), 2);
    assert_eq!(
        std::fs::read(field(&after[0], "path")).expect("read"),
        before,
        "archived file untouched"
    );

    // Re-importing everything adds nothing.
    let again = t
        .depot()
        .arg("--archive")
        .arg(t.archive())
        .args(["import", "--json"])
        .args([&dump, &other])
        .run()
        .expect_code(1)
        .json();
    assert_eq!(
        (
            again["imported"].as_u64(),
            again["duplicates"].as_u64(),
            again["conflicts"].as_u64()
        ),
        (Some(0), Some(3), Some(1))
    );
    assert_eq!(query(&t, &["instances"]).len(), 2);
    assert_eq!(query(&t, &["rejects"]).len(), 1);
    assert_store_consistent(&t);
}

#[test]
fn hostile_files_are_reported_and_inputs_never_change() {
    let t = TestDir::new();
    let dump = t.join("dump");
    let good = bytes(&InstanceSpec {
        rows: 32,
        columns: 32,
        ..spec("P1", "1.11.1", "1.11.1.1", "1.11.1.1.1")
    });
    put(&dump, "good", &good);
    put(
        &dump,
        "truncated",
        &fixture::truncated(&good, good.len() / 2),
    );
    put(&dump, "log.txt", &fixture::not_dicom());
    put(&dump, "empty", &fixture::zero_bytes());
    put(&dump, "huge", &fixture::huge_length().expect("huge"));
    put(
        &dump,
        "nosop",
        &fixture::missing_uid(MissingUid::SopInstance).expect("missing"),
    );
    put(
        &dump,
        "nostudy",
        &fixture::missing_uid(MissingUid::Study).expect("missing"),
    );
    for (i, (_, b)) in fixture::path_like_ids()
        .expect("path-like")
        .into_iter()
        .enumerate()
    {
        put(&dump, &format!("pathlike{i}"), &b);
    }
    let before = snapshot(&dump);
    let run = import(&t, &[&dump]).expect_code(1);
    assert_eq!(snapshot(&dump), before, "inputs changed");
    let rejects = query(&t, &["rejects"]);
    let reasons: BTreeMap<String, String> = rejects
        .iter()
        .map(|r| {
            let name = Path::new(field(r, "path"))
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            (name, field(r, "reason").to_string())
        })
        .collect();
    let names: Vec<&str> = reasons.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["empty", "huge", "log.txt", "nosop", "nostudy", "truncated"],
        "{reasons:?}"
    );
    assert!(reasons["truncated"].contains("truncated"));
    assert!(reasons["huge"].contains("declares"));
    assert!(reasons["nosop"].contains("SOPInstanceUID"));
    for name in names {
        assert!(
            run.stderr.contains(&format!("{name}: ")),
            "{name} not named on stderr:\n{}",
            run.stderr
        );
    }
    for r in &rejects {
        assert!(!field(r, "time").is_empty() && r["run_id"].as_i64().is_some());
    }
    let ids: BTreeSet<String> = query(&t, &["subjects"])
        .iter()
        .map(|s| field(s, "patient_id").to_string())
        .collect();
    assert!(
        ids.contains("../../x") && ids.contains("A/B\\C:*?"),
        "{ids:?}"
    );
    assert_store_consistent(&t);
}

#[test]
fn storage_paths_carry_no_phi() {
    let t = TestDir::new();
    let dump = t.join("dump");
    for (i, syntax) in [
        Syntax::ExplicitLittle,
        Syntax::ImplicitLittle,
        Syntax::DeflatedExplicitLittle,
    ]
    .into_iter()
    .enumerate()
    {
        let s = InstanceSpec {
            patient_name: "ZEBEDEE^QUINTUS".into(),
            patient_id: "ID987654".into(),
            study_description: "QUINTUS BRAIN".into(),
            series_description: "ZEBEDEE T1".into(),
            accession: "ACC555111".into(),
            syntax,
            ..spec(
                "ID987654",
                "1.12.1",
                &format!("1.12.1.{i}"),
                &format!("1.12.1.{i}.1"),
            )
        }
        .with_hard_cases();
        put(
            &dump,
            &format!("ZEBEDEE^QUINTUS_ID987654/SER{i}/IM1"),
            &bytes(&s),
        );
    }
    import(&t, &[&dump]).ok();
    let planted = [
        "ZEBEDEE",
        "QUINTUS",
        "987654",
        "ACC555111",
        "BRAIN",
        "1.12.1",
    ];
    for f in files_below(&t.archive()) {
        let rel = f
            .strip_prefix(t.archive())
            .expect("below")
            .to_string_lossy()
            .into_owned();
        for p in planted {
            assert!(!rel.contains(p), "{rel} contains {p}");
        }
    }
    assert_eq!(query(&t, &["instances"]).len(), 3);
}

/// Writes `n` small distinct instances below `dir`.
fn small_dump(dir: &Path, n: usize, tag: &str) {
    for i in 0..n {
        let s = spec(
            &format!("P{}", i % 5),
            &format!("1.13.{tag}.{}", i % 5),
            &format!("1.13.{tag}.{}.{}", i % 5, i % 2),
            &format!("1.13.{tag}.9.{i}"),
        );
        put(dir, &format!("f{i:04}"), &bytes(&s));
    }
}

#[test]
fn killed_import_loses_nothing_and_resumes() {
    let t = TestDir::new();
    let dump = t.join("dump");
    small_dump(&dump, 400, "1");
    let mut child = t
        .depot()
        .arg("--archive")
        .arg(t.archive())
        .args(["import", "--batch-files", "10", "--workers", "2"])
        .arg(&dump)
        .spawn();
    // Wait until some batches committed (the index lists instances), then SIGKILL.
    let started = Instant::now();
    let mut killed_mid_way = false;
    loop {
        std::thread::sleep(Duration::from_millis(30));
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        let index = t.archive().join("index.sqlite");
        let seen = index.is_file() && {
            let r = t
                .depot()
                .arg("--archive")
                .arg(t.archive())
                .args(["query", "instances", "--format", "json"])
                .run();
            r.code == Some(0) && r.stdout.contains("sop_uid")
        };
        if seen || started.elapsed() > Duration::from_secs(60) {
            child.kill().expect("kill");
            killed_mid_way = seen;
            break;
        }
    }
    let status = child.wait().expect("wait");
    let partial = query(&t, &["instances"]).len();
    assert!(
        killed_mid_way && !status.success(),
        "the import finished before it could be killed ({partial} files)"
    );
    assert!(partial < 400, "killed import stored everything already");
    // Queries open the archive read-only and change nothing; the next writable open (here an
    // import of an empty folder) cleans up after the killed run.
    std::fs::create_dir_all(t.join("empty")).expect("mkdir");
    import(&t, &[&t.join("empty")]).ok();
    assert_store_consistent(&t);
    let tmp_left = std::fs::read_dir(t.archive().join("tmp"))
        .expect("tmp")
        .count();
    assert_eq!(tmp_left, 0, "the next writable open cleans tmp/");

    let summary = t
        .depot()
        .arg("--archive")
        .arg(t.archive())
        .args(["import", "--json"])
        .arg(&dump)
        .run()
        .ok()
        .json();
    assert_eq!(
        summary["imported"].as_u64(),
        Some(400 - partial as u64),
        "{summary}"
    );
    assert_eq!(summary["duplicates"].as_u64(), Some(partial as u64));
    assert_eq!(query(&t, &["instances"]).len(), 400);
    assert_store_consistent(&t);
}

#[test]
fn concurrent_imports_both_succeed_with_exact_counts() {
    let t = TestDir::new();
    let (d1, d2) = (t.join("d1"), t.join("d2"));
    small_dump(&t.join("all"), 120, "2");
    for (i, f) in files_below(&t.join("all")).into_iter().enumerate() {
        let name = f.file_name().expect("name").to_owned();
        let data = std::fs::read(&f).expect("read");
        if i < 80 {
            put(&d1, &name.to_string_lossy(), &data);
        }
        if i >= 40 {
            put(&d2, &name.to_string_lossy(), &data);
        }
    }
    let spawn = |d: &Path| {
        t.depot()
            .arg("--archive")
            .arg(t.archive())
            .args(["import", "--json", "--batch-files", "8"])
            .arg(d)
            .spawn()
    };
    let (a, b) = (spawn(&d1), spawn(&d2));
    let (a, b) = (
        a.wait_with_output().expect("a"),
        b.wait_with_output().expect("b"),
    );
    for out in [&a, &b] {
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let count = |o: &std::process::Output, k: &str| -> u64 {
        serde_json::from_slice::<Value>(&o.stdout).expect("json")[k]
            .as_u64()
            .expect("count")
    };
    assert_eq!(count(&a, "imported") + count(&b, "imported"), 120);
    assert_eq!(count(&a, "duplicates") + count(&b, "duplicates"), 40);
    let instances = query(&t, &["instances"]);
    let sops: BTreeSet<&str> = instances.iter().map(|i| field(i, "sop_uid")).collect();
    assert_eq!((instances.len(), sops.len()), (120, 120));
    assert_eq!(query(&t, &["subjects"]).len(), 5);
    assert_eq!(query(&t, &["series"]).len(), 10);
    assert_store_consistent(&t);
}

#[test]
fn missing_input_is_fatal() {
    let t = TestDir::new();
    let run = import(&t, &[&t.join("does-not-exist")]).expect_code(2);
    assert!(run.stderr.contains("does-not-exist"), "{}", run.stderr);
}

fn import_args(t: &TestDir, args: &[&std::ffi::OsStr]) -> Run {
    t.depot()
        .arg("--archive")
        .arg(t.archive())
        .arg("import")
        .args(args)
        .run()
}

#[test]
fn the_same_file_into_another_project_is_a_conflict_naming_its_project() {
    let t = TestDir::new();
    let f = put(
        t.path(),
        "in/a.dcm",
        &bytes(&spec("P1", "1.14.1", "1.14.1.1", "1.14.1.1.1")),
    );
    import_args(&t, &[f.as_os_str(), "--project".as_ref(), "alpha".as_ref()]).ok();
    let run =
        import_args(&t, &[f.as_os_str(), "--project".as_ref(), "beta".as_ref()]).expect_code(1);
    assert!(
        run.stderr
            .contains("already archived, with the same content, in project \"alpha\""),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("0 duplicates, 1 conflicts"),
        "{}",
        run.stderr
    );
    let rejects = query(&t, &["rejects", "--project", "beta"]);
    assert_eq!(rejects.len(), 1);
    assert_eq!(field(&rejects[0], "kind"), "conflict");
    assert!(query(&t, &["instances", "--project", "beta"]).is_empty());
    assert_store_consistent(&t);
}

#[test]
fn worker_counts_out_of_range_are_usage_errors() {
    let t = TestDir::new();
    let f = put(
        t.path(),
        "in/a",
        &bytes(&spec("P1", "1.15.1", "1.15.1.1", "1.15.1.1.1")),
    );
    for n in ["0", "257", "100000"] {
        let run =
            import_args(&t, &[f.as_os_str(), "--workers".as_ref(), n.as_ref()]).expect_code(2);
        assert!(
            run.stderr.contains("--workers") && run.stderr.contains("1..=256"),
            "{n}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
    import_args(&t, &[f.as_os_str(), "--workers".as_ref(), "256".as_ref()]).ok();
}

#[cfg(unix)]
#[test]
fn control_characters_and_non_utf8_bytes_in_names_are_escaped_everywhere() {
    use std::os::unix::ffi::OsStrExt;
    let t = TestDir::new();
    let dump = t.join("dump");
    std::fs::create_dir_all(&dump).expect("mkdir");
    for name in [
        &b"x\x1b[2J\x1b]0;pwned\x07"[..],
        b"y\ndepot: 0 files seen: all fine",
        b"n\xff",
    ] {
        std::fs::write(dump.join(std::ffi::OsStr::from_bytes(name)), b"junk").expect("write");
    }
    let zip_path = dump.join("d.zip");
    {
        let mut z = zip::ZipWriter::new(std::fs::File::create(&zip_path).expect("zip"));
        z.start_file("e\u{1b}[31mred", zip::write::SimpleFileOptions::default())
            .expect("entry");
        z.write_all(b"junk").expect("write");
        z.finish().expect("finish");
    }
    let run = import(&t, &[&dump]).expect_code(1);
    let raw_control = |s: &str| s.chars().any(|c| c.is_control() && c != '\n');
    assert!(!raw_control(&run.stderr), "{:?}", run.stderr);
    assert!(
        !run.stderr
            .lines()
            .any(|l| l.starts_with("depot: 0 files seen")),
        "a file name forged a line:\n{}",
        run.stderr
    );
    for shown in [
        "x\\x1B[2J\\x1B]0;pwned\\x07: ",
        "y\\ndepot: 0 files seen: all fine: ",
        "n\\xFF: ",
        "d.zip!/e\\x1B[31mred: ",
    ] {
        assert!(run.stderr.contains(shown), "{shown} not in\n{}", run.stderr);
    }
    let table = t
        .depot()
        .arg("--archive")
        .arg(t.archive())
        .args(["query", "rejects", "--format", "table"])
        .run()
        .ok();
    assert!(!raw_control(&table.stdout), "{:?}", table.stdout);
    assert!(table.stdout.contains("n\\xFF"), "{}", table.stdout);
}

#[cfg(unix)]
#[test]
fn a_fifo_given_as_path_is_rejected_without_hanging() {
    let t = TestDir::new();
    let fifo = t.join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let mut child = t
        .depot()
        .arg("--archive")
        .arg(t.archive())
        .arg("import")
        .arg(&fifo)
        .spawn();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(30) {
            child.kill().expect("kill");
            panic!("depot import of a fifo hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(1));
    let rejects = query(&t, &["rejects"]);
    assert_eq!(rejects.len(), 1);
    assert!(
        field(&rejects[0], "reason").contains("not a regular file (a fifo"),
        "{rejects:?}"
    );
}

#[test]
fn a_dicomdir_is_skipped_and_a_cd_dump_imports_cleanly() {
    let t = TestDir::new();
    let cd = t.join("cd");
    put(
        &cd,
        "DICOMDIR",
        &bytes(&InstanceSpec {
            sop_class_uid: "1.2.840.10008.1.3.10".into(),
            ..spec("P1", "1.16.9", "1.16.9.1", "1.16.9.1.1")
        }),
    );
    put(
        &cd,
        "DICOM/IM1",
        &bytes(&spec("P1", "1.16.1", "1.16.1.1", "1.16.1.1.1")),
    );
    let run = t
        .depot()
        .arg("--archive")
        .arg(t.archive())
        .args(["import", "--json"])
        .arg(&cd)
        .run()
        .ok();
    let summary = run.json();
    assert_eq!(
        (
            summary["imported"].as_u64(),
            summary["skipped"].as_u64(),
            summary["rejected"].as_u64()
        ),
        (Some(1), Some(1), Some(0)),
        "{summary}"
    );
    assert!(
        run.stderr.contains("DICOMDIR: a DICOMDIR") && run.stderr.contains("1 skipped"),
        "{}",
        run.stderr
    );
    assert!(query(&t, &["rejects"]).is_empty());
}

#[cfg(unix)]
#[test]
fn source_paths_are_absolute_whatever_the_spelling_and_rejects_not_repeated() {
    let t = TestDir::new();
    put(t.path(), "dump/bad.txt", b"junk");
    std::fs::create_dir_all(t.join("sub")).expect("mkdir");
    put(
        t.path(),
        "dump/good",
        &bytes(&spec("P1", "1.17.1", "1.17.1.1", "1.17.1.1.1")),
    );
    let abs = t.join("dump");
    for spelling in [
        "dump".as_ref(),
        "./dump/".as_ref(),
        "sub/../dump".as_ref(),
        abs.as_os_str(),
    ] {
        t.depot()
            .args([
                "--archive".as_ref(),
                "archive".as_ref(),
                "import".as_ref(),
                spelling,
            ])
            .run()
            .expect_code(1);
    }
    let real = std::fs::canonicalize(t.path()).expect("canonical");
    let rejects = query(&t, &["rejects"]);
    assert_eq!(rejects.len(), 1, "{rejects:?}");
    let path = field(&rejects[0], "path");
    assert!(
        path == abs.join("bad.txt").to_string_lossy()
            || path == real.join("dump/bad.txt").to_string_lossy(),
        "{path}"
    );
    assert_eq!(rejects[0]["times_seen"].as_u64(), Some(4));
    let instances = query(&t, &["instances"]);
    for k in ["path", "source_path"] {
        assert!(
            Path::new(field(&instances[0], k)).is_absolute(),
            "{k}: {instances:?}"
        );
    }
}
