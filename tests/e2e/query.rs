//! End-to-end tests of `depot query`: every level, every filter, the three formats.

use std::path::Path;

use serde_json::Value;
use synth::fixture::{self, InstanceSpec};

use crate::import::query;
use crate::support::*;

/// An archive with two subjects in project "alpha": P1 (an MR study in 2024 with two series, a CT
/// study in 2023) and P2 (an MR study in 2022); one rejected file.
fn populated() -> TestDir {
    let t = TestDir::new();
    let dump = t.join("dump");
    let mut n = 0;
    let mut put = |s: InstanceSpec| {
        n += 1;
        let p = dump.join(format!("f{n}"));
        std::fs::create_dir_all(&dump).expect("mkdir");
        s.write(&p).expect("write");
    };
    let base = |pid: &str, study: &str, series: &str, sop: &str, date: &str, modality: &str| {
        InstanceSpec {
            study_date: date.into(),
            modality: modality.into(),
            ..fixture::instance(pid, study, series, sop)
        }
    };
    put(base(
        "P1",
        "1.20.1",
        "1.20.1.1",
        "1.20.1.1.1",
        "20240301",
        "MR",
    ));
    put(base(
        "P1",
        "1.20.1",
        "1.20.1.1",
        "1.20.1.1.2",
        "20240301",
        "MR",
    ));
    put(InstanceSpec {
        series_number: Some(2),
        ..base("P1", "1.20.1", "1.20.1.2", "1.20.1.2.1", "20240301", "MR")
    });
    put(base(
        "P1",
        "1.20.2",
        "1.20.2.1",
        "1.20.2.1.1",
        "20230615",
        "CT",
    ));
    put(base(
        "P2",
        "1.20.3",
        "1.20.3.1",
        "1.20.3.1.1",
        "20220101",
        "MR",
    ));
    std::fs::write(dump.join("junk.txt"), b"not dicom").expect("junk");
    t.depot()
        .arg("--archive")
        .arg(t.archive())
        .args(["import", "--project", "alpha"])
        .arg(&dump)
        .run()
        .expect_code(1);
    t
}

fn strs<'a>(rows: &'a [Value], k: &str) -> Vec<&'a str> {
    rows.iter()
        .map(|r| r[k].as_str().unwrap_or_else(|| panic!("no {k} in {r}")))
        .collect()
}

#[test]
fn levels_and_counts() {
    let t = populated();
    let subjects = query(&t, &["subjects"]);
    let mut ids = strs(&subjects, "patient_id");
    ids.sort_unstable();
    assert_eq!(ids, ["P1", "P2"]);
    let p1 = subjects
        .iter()
        .find(|s| s["patient_id"] == "P1")
        .expect("P1");
    assert_eq!(
        (
            p1["studies"].as_u64(),
            p1["series"].as_u64(),
            p1["instances"].as_u64()
        ),
        (Some(2), Some(3), Some(4))
    );
    assert!(p1["bytes"].as_u64().unwrap_or(0) > 0);
    assert_eq!(p1["project"], "alpha");
    let code = p1["subject"].as_str().expect("code").to_string();

    let studies = query(&t, &["studies", "--subject", &code]);
    assert_eq!(studies.len(), 2);
    let numbers: Vec<u64> = studies
        .iter()
        .filter_map(|s| s["study_number"].as_u64())
        .collect();
    assert_eq!(numbers, [1, 2]);
    let mr = studies
        .iter()
        .find(|s| s["study_uid"] == "1.20.1")
        .expect("mr study");
    assert_eq!(
        (
            mr["series"].as_u64(),
            mr["instances"].as_u64(),
            mr["modalities"].as_str()
        ),
        (Some(2), Some(3), Some("MR"))
    );

    let series = query(&t, &["series", "--study-uid", "1.20.1"]);
    assert_eq!(strs(&series, "series_label"), ["1", "2"]);
    let instances = query(&t, &["instances", "--series-uid", "1.20.1.1"]);
    assert_eq!(instances.len(), 2);
    for i in &instances {
        assert!(Path::new(i["path"].as_str().expect("path")).is_file());
        assert_eq!(i["content_hash"].as_str().map(str::len), Some(64));
        assert_eq!(i["hash_algorithm"], "blake3");
        assert!(i["transfer_syntax"].is_string() && i["sop_class_uid"].is_string());
    }
    let rejects = query(&t, &["rejects"]);
    assert_eq!(rejects.len(), 1);
    assert!(
        rejects[0]["path"]
            .as_str()
            .is_some_and(|p| p.ends_with("junk.txt"))
    );
    for k in ["reason", "time", "kind"] {
        assert!(rejects[0][k].is_string(), "{k}");
    }
    assert!(rejects[0]["run_id"].is_i64());
}

#[test]
fn filters_select() {
    let t = populated();
    let n = |args: &[&str]| query(&t, args).len();
    assert_eq!(n(&["subjects", "--patient-id", "P2"]), 1);
    assert_eq!(n(&["subjects", "--modality", "ct"]), 1);
    assert_eq!(n(&["studies", "--modality", "MR"]), 2);
    assert_eq!(n(&["studies", "--since", "2023-01-01"]), 2);
    assert_eq!(
        n(&["studies", "--since", "20230101", "--until", "2023-12-31"]),
        1
    );
    assert_eq!(n(&["studies", "--until", "2022-01-01"]), 1);
    assert_eq!(n(&["series", "--study-uid", "1.20.2"]), 1);
    assert_eq!(n(&["instances", "--project", "alpha"]), 5);
    assert_eq!(n(&["instances", "--project", "beta"]), 0);
    assert_eq!(n(&["rejects", "--project", "alpha"]), 1);
    assert_eq!(n(&["instances", "--run", "1"]), 5);
    assert_eq!(n(&["subjects", "--subject", "S0000BBB"]), 0);
    // Counts follow the filter.
    let mr_only = query(&t, &["subjects", "--patient-id", "P1", "--modality", "MR"]);
    assert_eq!(mr_only[0]["studies"].as_u64(), Some(1));
    // Bad dates and filters that do not apply are errors (exit 2).
    let bad = t
        .depot()
        .arg("--archive")
        .arg(t.archive())
        .args(["query", "studies", "--since", "2024-13-01"])
        .run();
    assert_eq!(bad.code, Some(2), "{}", bad.stderr);
    let bad = t
        .depot()
        .arg("--archive")
        .arg(t.archive())
        .args(["query", "rejects", "--modality", "MR"])
        .run();
    assert_eq!(bad.code, Some(2));
}

#[test]
fn formats_table_json_csv() {
    let t = populated();
    let q = |fmt: &str| {
        t.depot()
            .arg("--archive")
            .arg(t.archive())
            .args(["query", "studies", "--format", fmt])
            .run()
            .ok()
            .stdout
    };
    let table = q("table");
    let mut lines = table.lines();
    let header = lines.next().expect("header");
    assert!(
        header.starts_with("SUBJECT") && header.contains("STUDY UID"),
        "{header}"
    );
    assert_eq!(lines.count(), 3);
    let csv = q("csv");
    let mut rows = csv.lines();
    let header = rows.next().expect("csv header");
    assert!(
        header.starts_with("project,subject,study_number,study_uid"),
        "{header}"
    );
    assert_eq!(rows.count(), 3);
    let json: Value = serde_json::from_str(&q("json")).expect("json");
    assert_eq!(json.as_array().map(Vec::len), Some(3));
    // Not a terminal: JSON by default.
    let default = t
        .depot()
        .arg("--archive")
        .arg(t.archive())
        .args(["query", "subjects"])
        .run()
        .ok();
    assert!(default.json().is_array());
}

#[test]
fn a_reader_that_stops_early_ends_the_query_quietly() {
    // `depot query ... | head`: the reader closes the pipe before depot writes; every format
    // must end with exit 0 and nothing on stderr (it said "error: Broken pipe" before).
    let t = populated();
    for fmt in ["table", "json", "csv"] {
        let mut child = t
            .depot()
            .arg("--archive")
            .arg(t.archive())
            .args(["query", "instances", "--format", fmt])
            .spawn();
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{fmt}: {stderr}");
        assert!(
            !stderr.contains("error") && !stderr.contains("panicked"),
            "{fmt}: {stderr}"
        );
    }
}

#[test]
fn querying_a_missing_archive_is_an_error_and_creates_nothing() {
    let t = TestDir::new();
    let run = t
        .depot()
        .arg("--archive")
        .arg(t.join("none"))
        .args(["query", "subjects"])
        .run()
        .expect_code(2);
    assert!(run.stderr.contains("no archive"), "{}", run.stderr);
    assert!(!t.join("none").exists());
}

#[test]
fn date_filters_never_match_values_that_are_no_calendar_date() {
    let t = TestDir::new();
    let dump = t.join("dump");
    std::fs::create_dir_all(&dump).expect("mkdir");
    for (i, date) in ["20241399", "00000000", "20240230", "20240229"]
        .into_iter()
        .enumerate()
    {
        InstanceSpec {
            study_date: date.into(),
            ..fixture::instance(
                "DATES",
                &format!("1.21.{i}"),
                &format!("1.21.{i}.1"),
                &format!("1.21.{i}.1.1"),
            )
        }
        .write(&dump.join(format!("d{i}")))
        .expect("write");
    }
    t.depot()
        .arg("--archive")
        .arg(t.archive())
        .arg("import")
        .arg(&dump)
        .run()
        .ok();
    let dates = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["studies"];
        all.extend_from_slice(args);
        query(&t, &all)
            .iter()
            .map(|s| s["study_date"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert!(dates(&["--since", "2024-12-01"]).is_empty());
    assert!(dates(&["--until", "1900-01-01"]).is_empty());
    assert_eq!(
        dates(&["--since", "2024-02-01", "--until", "2024-03-31"]),
        ["20240229"]
    );
    assert_eq!(dates(&[]).len(), 4, "the values are kept as they were");
}

#[test]
fn queries_open_the_archive_read_only_and_report_absolute_paths() {
    let t = populated();
    // Folders a writable open would (re)create, and the index as it is.
    for sub in ["tmp", "conflicts"] {
        std::fs::remove_dir(t.archive().join(sub)).expect("rmdir");
    }
    let index = std::fs::read(t.archive().join("index.sqlite")).expect("index");
    // A relative --archive: paths in the output are absolute all the same.
    let run = t
        .depot()
        .args([
            "--archive",
            "archive",
            "query",
            "instances",
            "--format",
            "json",
        ])
        .run()
        .ok();
    let rows = match run.json() {
        Value::Array(rows) => rows,
        other => panic!("{other}"),
    };
    assert_eq!(rows.len(), 5);
    for r in &rows {
        for k in ["path", "source_path"] {
            let p = r[k].as_str().expect("path");
            assert!(Path::new(p).is_absolute(), "{k} {p}");
        }
    }
    let rejects = t
        .depot()
        .args([
            "--archive",
            "archive",
            "query",
            "rejects",
            "--format",
            "json",
        ])
        .run()
        .ok()
        .json();
    assert!(
        rejects[0]["path"]
            .as_str()
            .is_some_and(|p| Path::new(p).is_absolute()),
        "{rejects}"
    );
    assert!(!t.archive().join("tmp").exists() && !t.archive().join("conflicts").exists());
    assert_eq!(
        std::fs::read(t.archive().join("index.sqlite")).expect("index"),
        index
    );
}

#[test]
fn table_cells_escape_control_characters_and_nothing_else() {
    // A name with a terminal escape sequence, and a Japanese name in halfwidth katakana whose
    // voiced sound mark (U+FF9E) is a letter that combines with the one before it.
    let t = TestDir::new();
    std::fs::create_dir_all(t.join("dump")).expect("mkdir");
    let spec = fixture::instance("P-ESC", "1.30.1", "1.30.1.1", "1.30.1.1.1");
    let mut obj: dicom_object::InMemDicomObject = spec.to_object().expect("fixture");
    for (tag, vr, value) in [
        (
            dicom_core::Tag(0x0008, 0x0005),
            dicom_core::VR::CS,
            "ISO_IR 192",
        ),
        (
            dicom_core::Tag(0x0010, 0x0010),
            dicom_core::VR::PN,
            "ﾔﾏﾀﾞ^ﾀﾛｳ\u{1b}[31mRED",
        ),
    ] {
        obj.put(dicom_core::DataElement::new(
            tag,
            vr,
            dicom_core::PrimitiveValue::from(value),
        ));
    }
    obj.with_meta(
        dicom_object::FileMetaTableBuilder::new()
            .transfer_syntax(spec.syntax.uid())
            .media_storage_sop_class_uid(spec.sop_class_uid.as_str())
            .media_storage_sop_instance_uid(spec.sop_uid.as_str()),
    )
    .expect("meta")
    .write_to_file(t.join("dump/f1"))
    .expect("write");
    t.depot()
        .arg("--archive")
        .arg(t.archive())
        .args(["import", "--quiet"])
        .arg(t.join("dump"))
        .run()
        .ok();
    let table = t
        .depot()
        .arg("--archive")
        .arg(t.archive())
        .args(["query", "subjects", "--format", "table"])
        .run()
        .ok()
        .stdout;
    assert!(!table.contains('\u{1b}'), "{table}");
    assert!(table.contains("ﾔﾏﾀﾞ^ﾀﾛｳ\\x1B[31mRED"), "{table}");
}
