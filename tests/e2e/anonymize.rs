//! End-to-end tests of `depot anonymize`: folder trees in, keyed layout out, no planted
//! identifier left in any byte at anonymize-full, inputs untouched, bad files reported with
//! exit 1, fatal problems with exit 2, dry runs that write nothing.

use std::fs;
use std::path::Path;

use synth::fixture::{self, SopReference, Syntax};

use crate::support::*;

/// A small tree with the hard cases: accented names (ISO_IR 100), private blocks, nested
/// sequences, an overlay, every transfer syntax, and an SR that references an image.
fn plant_tree(root: &Path) -> Vec<String> {
    let mut phi = Vec::new();
    let dir = root.join("MÜLLER^JÖRG_MRN-5521").join("2024 BRAIN");
    fs::create_dir_all(&dir).expect("mkdir");
    for (i, syntax) in Syntax::ALL.into_iter().enumerate() {
        let mut spec =
            fixture::instance("MRN-5521", "2.25.5000", "2.25.5001", &format!("2.25.51{i}"))
                .with_hard_cases();
        spec.patient_name = "MÜLLER^JÖRG".into();
        spec.syntax = syntax;
        spec.write(&dir.join(format!("MULLER_{i}.dcm")))
            .expect("write");
        phi.extend(spec.phi());
    }
    let sr = fixture::sr_document(
        "MRN-5521",
        "2.25.5000",
        "2.25.5002",
        "2.25.5200",
        vec![SopReference {
            series_uid: "2.25.5001".into(),
            sop_class_uid: fixture::instance("", "", "", "").sop_class_uid,
            sop_uid: "2.25.510".into(),
        }],
    );
    sr.write(&dir.join("report.dcm")).expect("write sr");
    phi.extend(sr.phi());
    phi.sort();
    phi.dedup();
    phi
}

fn leaks(bytes: &[u8], needle: &str) -> bool {
    let mut forms = vec![needle.as_bytes().to_vec()];
    if let Some(l1) = needle
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect::<Option<Vec<u8>>>()
    {
        forms.push(l1);
    }
    forms
        .iter()
        .any(|f| !f.is_empty() && bytes.windows(f.len()).any(|w| w.eq_ignore_ascii_case(f)))
}

#[test]
fn anonymize_full_leaves_no_identifier_and_keeps_inputs() {
    let t = TestDir::new();
    let input = t.join("in");
    let phi = plant_tree(&input);
    let before = snapshot(&input);
    let run = t
        .depot()
        .args(["anonymize", "--level", "anonymize-full", "in", "out"])
        .run()
        .ok();
    assert!(
        run.stderr.contains("6 files seen, 6 written, 0 rejected"),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(&input), before, "inputs unchanged");
    let outputs = files_below(&t.join("out"));
    assert_eq!(outputs.len(), 6);
    for out in &outputs {
        let rel = out
            .strip_prefix(t.join("out"))
            .expect("rel")
            .to_string_lossy()
            .to_string();
        assert!(
            !rel.contains("MRN") && !rel.to_lowercase().contains("ller") && !rel.contains("BRAIN"),
            "{rel}"
        );
        let bytes = fs::read(out).expect("read");
        if bytes.windows(22).any(|w| w == b"1.2.840.10008.1.2.1.99") {
            continue; // deflated: values are compressed, checked by the export crate's tests
        }
        for p in &phi {
            assert!(!leaks(&bytes, p), "{p:?} left in {rel}");
        }
    }
    let key = t.join(".depot-keys/deid.key");
    assert_eq!(fs::read_to_string(&key).expect("key").trim().len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&key).expect("meta").permissions().mode() & 0o777,
            0o600
        );
    }
    // The SR refers to the image's new UID: some output file is named by it.
    let sr_bytes = outputs
        .iter()
        .map(|p| fs::read(p).expect("read"))
        .find(|b| leaks(b, "1.2.840.10008.5.1.4.1.1.88.33"));
    let sr_bytes = sr_bytes.expect("SR written");
    let referenced = outputs.iter().any(|p| {
        let stem = p
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        sr_bytes.windows(stem.len()).any(|w| w == stem.as_bytes())
    });
    assert!(
        referenced,
        "the SR's reference resolves to a written instance"
    );
}

#[test]
fn same_key_same_names_and_another_key_other_names() {
    let t = TestDir::new();
    plant_tree(&t.join("in"));
    t.depot()
        .args(["anonymize", "--level", "basic", "in", "a"])
        .run()
        .ok();
    t.depot()
        .args(["anonymize", "--level", "anonymize-full", "in", "b"])
        .run()
        .ok();
    t.depot()
        .args([
            "anonymize",
            "--level",
            "basic",
            "--key-file",
            "other.key",
            "in",
            "c",
        ])
        .run()
        .ok();
    let names = |d: &str| {
        files_below(&t.join(d))
            .into_iter()
            .map(|p| p.strip_prefix(t.join(d)).expect("rel").to_path_buf())
            .collect::<Vec<_>>()
    };
    assert_eq!(names("a"), names("b"));
    assert_ne!(names("a"), names("c"));
    assert!(t.join("other.key").is_file());
}

#[test]
fn bad_files_exit_1_and_are_named() {
    let t = TestDir::new();
    plant_tree(&t.join("in"));
    fs::write(t.join("in/readme.txt"), b"hello").expect("write");
    let good = fixture::instance("X1", "2.25.1", "2.25.2", "2.25.3")
        .to_bytes()
        .expect("bytes");
    fs::write(t.join("in/cut.dcm"), fixture::truncated(&good, 400)).expect("write");
    fs::write(t.join("in/huge.dcm"), fixture::huge_length().expect("huge")).expect("write");
    let run = t
        .depot()
        .args(["anonymize", "--level", "anonymize-full", "in", "out"])
        .run()
        .expect_code(1);
    assert!(
        run.stderr.contains("readme.txt: not a DICOM file"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("cut.dcm"), "{}", run.stderr);
    assert!(
        run.stderr.contains("huge.dcm") && run.stderr.contains("declares"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("3 rejected"), "{}", run.stderr);
    assert_eq!(files_below(&t.join("out")).len(), 6);
}

#[test]
fn fatal_problems_exit_2() {
    let t = TestDir::new();
    plant_tree(&t.join("in"));
    fs::create_dir_all(t.join("full")).expect("mkdir");
    fs::write(t.join("full/x"), b"x").expect("write");
    let run = t
        .depot()
        .args(["anonymize", "--level", "basic", "in", "full"])
        .run()
        .expect_code(2);
    assert!(run.stderr.contains("not empty"), "{}", run.stderr);
    t.depot()
        .args(["anonymize", "--level", "basic", "--force", "in", "full"])
        .run()
        .ok();
    let run = t
        .depot()
        .args(["anonymize", "--level", "nonsense", "in", "o1"])
        .run()
        .expect_code(2);
    assert!(
        run.stderr.contains("invalid value 'nonsense' for '--level")
            && run.stderr.contains("anonymize-full"),
        "{}",
        run.stderr
    );
    let run = t
        .depot()
        .args([
            "anonymize",
            "--level",
            "basic",
            "--option",
            "retain-all",
            "in",
            "o2",
        ])
        .run()
        .expect_code(2);
    assert!(
        run.stderr.contains("unknown de-identification option"),
        "{}",
        run.stderr
    );
    let run = t
        .depot()
        .args([
            "anonymize",
            "--level",
            "basic",
            "--option",
            "retain-longitudinal-full-dates",
        ])
        .args([
            "--option",
            "RetainLongitudinalTemporalInformationModifiedDatesOption",
            "in",
            "o3",
        ])
        .run()
        .expect_code(2);
    assert!(
        run.stderr.contains("cannot be used together"),
        "{}",
        run.stderr
    );
    t.depot()
        .args(["anonymize", "--level", "basic", "missing", "o4"])
        .run()
        .expect_code(2);
    assert!(!t.join("o1").exists() && !t.join("o2").exists() && !t.join("o3").exists());
}

#[test]
fn dry_run_lists_actions_without_values_and_writes_nothing() {
    let t = TestDir::new();
    plant_tree(&t.join("in"));
    let run = t
        .depot()
        .args([
            "anonymize",
            "--level",
            "anonymize-full",
            "--option",
            "RetainDeviceIdentityOption",
            "--dry-run",
            "in",
            "out",
        ])
        .run()
        .ok();
    assert!(!t.join("out").exists());
    assert!(
        run.stdout.contains("0010,0010 P pseudonymized"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("0008,1010 K kept"),
        "station name kept by the device option"
    );
    assert!(run.stdout.contains("[0]/"), "nested paths listed");
    // Action lines hold tag paths and codes only (the "input -> output" lines name the user's
    // own input paths, which here contain the name on purpose).
    for line in run.stdout.lines().filter(|l| l.starts_with("  ")) {
        assert!(
            !line.contains("MRN") && !line.contains("LLER"),
            "value in the listing: {line}"
        );
        assert!(line.split_whitespace().count() == 3, "{line}");
    }
}

#[test]
fn anonymize_level_keeps_ids_and_custom_profiles_apply() {
    let t = TestDir::new();
    plant_tree(&t.join("in"));
    let run = t
        .depot()
        .args(["anonymize", "--level", "anonymize", "in", "a"])
        .run()
        .ok();
    assert!(run.stderr.contains("not de-identified"), "{}", run.stderr);
    let any_id = files_below(&t.join("a"))
        .iter()
        .any(|p| leaks(&fs::read(p).expect("read"), "MRN-5521"));
    assert!(any_id, "anonymize keeps PatientID");
    fs::write(
        t.join("irb.toml"),
        "name = \"irb\"\nbase = \"anonymize-full\"\noptions = [\"clean-descriptors\"]\n[actions]\nStudyDescription = \"K\"\n",
    )
    .expect("write");
    t.depot()
        .args(["anonymize", "--profile", "irb.toml", "in", "b"])
        .run()
        .ok();
    let kept = files_below(&t.join("b"))
        .iter()
        .any(|p| leaks(&fs::read(p).expect("read"), "BRAIN ROUTINE"));
    assert!(kept, "the custom profile keeps StudyDescription");
    let run = t
        .depot()
        .args([
            "anonymize",
            "--level",
            "anonymize-full",
            "--blank-identifiers",
            "in",
            "c",
        ])
        .run()
        .ok();
    assert!(run.stderr.contains("no longer regroups"), "{}", run.stderr);
}
