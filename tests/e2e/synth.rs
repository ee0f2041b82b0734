//! End-to-end tests of `depot synth`: determinism (the whole point of a seeded dump), the hard
//! cases every dump must contain, and the refusal to write into a non-empty folder.

use std::collections::BTreeSet;
use std::path::Path;

use dicom_dictionary_std::tags;

use crate::support::*;

/// Small sizes keep these tests fast; the structure is the same at any size.
const SMALL: [&str; 4] = ["--rows", "16", "--columns", "16"];

fn synth(t: &TestDir, out: &str, extra: &[&str]) -> Run {
    t.depot()
        .args(["synth", "--out", out])
        .args(SMALL)
        .args(extra)
        .run()
}

#[test]
fn same_seed_gives_identical_dumps_and_another_seed_differs() {
    let t = TestDir::new();
    let run = synth(&t, "a", &["--seed", "7"]).ok();
    assert!(run.stderr.contains("wrote 78 files"), "{}", run.stderr);
    synth(&t, "b", &["--seed", "7"]).ok();
    synth(&t, "c", &["--seed", "8"]).ok();
    let (a, b, c) = (
        snapshot(&t.join("a")),
        snapshot(&t.join("b")),
        snapshot(&t.join("c")),
    );
    assert_eq!(a.len(), 78);
    assert_eq!(a, b, "same seed must give the same paths and bytes");
    assert_ne!(
        a.keys().collect::<Vec<_>>(),
        c.keys().collect::<Vec<_>>(),
        "another seed gives other names"
    );
    let shared: BTreeSet<_> = a
        .values()
        .collect::<BTreeSet<_>>()
        .intersection(&c.values().collect())
        .copied()
        .collect();
    assert!(
        shared.is_empty(),
        "another seed gives other bytes in every file"
    );
}

#[test]
fn dump_contains_every_hard_case() {
    let t = TestDir::new();
    let run = synth(&t, "dump", &["--json", "--quiet"]).ok();
    assert!(run.stderr.is_empty(), "quiet run printed: {}", run.stderr);
    let json = run.json();
    assert_eq!(json["files"], 78);
    let landmarks = json["landmarks"].as_array().expect("landmarks");
    let cases: BTreeSet<&str> = landmarks
        .iter()
        .filter_map(|l| l["case"].as_str())
        .collect();
    for case in [
        "ExplicitLittleOverlay",
        "ImplicitLittle",
        "ExplicitBig",
        "MultiFrame",
        "Encapsulated",
        "Deflated",
        "SharedSeriesNumber",
        "BlankPatientId",
        "StructuredReport",
    ] {
        assert!(cases.contains(case), "{case} missing from {cases:?}");
    }
    let root = t.join("dump");
    let files = files_below(&root);
    assert_eq!(files.len(), 78);
    assert!(
        files
            .iter()
            .any(|f| f.extension().is_some_and(|e| e == "dcm"))
    );
    assert!(files.iter().any(|f| f.extension().is_none()));

    let mut syntaxes = BTreeSet::new();
    let mut modalities = BTreeSet::new();
    let mut blank_ids = 0;
    let mut private_names = 0;
    let mut series_numbers_per_study: std::collections::BTreeMap<
        (String, String),
        BTreeSet<String>,
    > = Default::default();
    for f in &files {
        let obj = dicom_object::open_file(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let s = |tag| {
            obj.get(tag).map(|e| {
                e.to_str()
                    .unwrap()
                    .trim_end_matches(['\0', ' '])
                    .to_string()
            })
        };
        syntaxes.insert(
            obj.meta()
                .transfer_syntax()
                .trim_end_matches('\0')
                .to_string(),
        );
        modalities.insert(s(tags::MODALITY).unwrap());
        if s(tags::PATIENT_ID).as_deref() == Some("") {
            blank_ids += 1;
        }
        if obj.get(dicom_object::Tag(0x0029, 0x1131)).is_some() {
            private_names += 1;
        }
        if let (Some(study), Some(series), Some(number)) = (
            s(tags::STUDY_INSTANCE_UID),
            s(tags::SERIES_INSTANCE_UID),
            s(tags::SERIES_NUMBER),
        ) {
            series_numbers_per_study
                .entry((study, number))
                .or_default()
                .insert(series);
        }
    }
    for ts in [
        "1.2.840.10008.1.2",
        "1.2.840.10008.1.2.1",
        "1.2.840.10008.1.2.2",
        "1.2.840.10008.1.2.1.99",
        "1.2.840.10008.1.2.4.50",
    ] {
        assert!(syntaxes.contains(ts), "{ts} missing from {syntaxes:?}");
    }
    assert!(
        modalities.contains("SR") && modalities.contains("MR"),
        "{modalities:?}"
    );
    assert!(blank_ids > 0, "a subject with a blank PatientID");
    assert!(private_names > 0, "private blocks with the patient's name");
    assert!(
        series_numbers_per_study
            .values()
            .any(|uids| uids.len() == 2),
        "two series of one study share a SeriesNumber"
    );

    // Planted PHI appears in folder names and is listed.
    let phi: Vec<&str> = json["phi"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    let folder = files[0]
        .strip_prefix(&root)
        .unwrap()
        .components()
        .next()
        .unwrap();
    let folder = folder.as_os_str().to_string_lossy();
    assert!(
        phi.iter().any(|p| folder.contains(p)),
        "{folder} names no planted value of {phi:?}"
    );
}

#[test]
fn refuses_a_non_empty_folder_unless_forced() {
    let t = TestDir::new();
    std::fs::create_dir(t.join("busy")).unwrap();
    std::fs::write(t.join("busy/keep.txt"), b"mine").unwrap();
    let before = snapshot(&t.join("busy"));
    let run = synth(&t, "busy", &[]).expect_code(2);
    assert!(run.stderr.contains("not empty"), "{}", run.stderr);
    assert_eq!(
        snapshot(&t.join("busy")),
        before,
        "nothing written on refusal"
    );

    synth(
        &t,
        "busy",
        &[
            "--force",
            "--subjects",
            "1",
            "--studies",
            "1",
            "--series",
            "1",
            "--instances",
            "1",
        ],
    )
    .ok();
    let after = snapshot(&t.join("busy"));
    assert_eq!(after.len(), 3, "keep.txt + one image + one SR: {after:?}");
    assert_eq!(
        after.get(Path::new("keep.txt")),
        before.get(Path::new("keep.txt"))
    );
}

#[test]
fn rejects_bad_sizes_and_a_file_as_output() {
    let t = TestDir::new();
    let run = synth(&t, "x", &["--subjects", "0"]).expect_code(2);
    assert!(
        run.stderr.contains("subjects must be at least 1"),
        "{}",
        run.stderr
    );
    assert!(!t.join("x").exists());
    std::fs::write(t.join("file"), b"").unwrap();
    let run = synth(&t, "file", &[]).expect_code(2);
    assert!(run.stderr.contains("not a folder"), "{}", run.stderr);
}
