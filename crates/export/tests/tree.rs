//! `anonymize_tree`: folder trees in, keyed layout out; bad files reported and skipped; inputs
//! untouched; non-empty outputs refused; identical duplicates and DICOMDIRs skipped, other
//! files with one SOP Instance UID rejected; dry runs handled.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anon_core::{Deidentifier, Key, Level, Profile};
use export::tree::{FileOutcome, TreeError, TreeRequest, anonymize_tree, collect_inputs};
use synth::fixture;

fn engine(level: Level) -> Deidentifier {
    Deidentifier::new(
        Profile::builtin(level, &[]).expect("profile"),
        Key::from_bytes([3; 32]),
    )
}

fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    collect_inputs(&[root.to_path_buf()])
        .expect("walk")
        .into_iter()
        .map(|p| (p.clone(), fs::read(&p).expect("read")))
        .collect()
}

fn request(input: &Path, output: &Path) -> TreeRequest {
    TreeRequest {
        inputs: vec![input.to_path_buf()],
        output: output.to_path_buf(),
        force: false,
        dry_run: false,
        extra_identifiers: Vec::new(),
        workers: 0,
    }
}

fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("HALVORSEN_INGRID");
    let nested = input.join("Study 1").join("series");
    fs::create_dir_all(&nested).expect("mkdir");
    for i in 0..4 {
        let spec = fixture::instance("MRN0001234", "2.25.10", "2.25.11", &format!("2.25.12{i}"));
        spec.write(&nested.join(format!("HALVORSEN-{i}.dcm")))
            .expect("write");
    }
    fs::write(input.join("notes.txt"), b"not dicom").expect("write");
    let good = fixture::instance("MRN0001234", "2.25.10", "2.25.11", "2.25.199")
        .to_bytes()
        .expect("bytes");
    fs::write(
        input.join("cut.dcm"),
        fixture::truncated(&good, good.len() / 2),
    )
    .expect("write");
    // the same instance twice under another name: the identical copy is skipped
    fs::copy(nested.join("HALVORSEN-0.dcm"), input.join("again.dcm")).expect("copy");
    // the same SOP Instance UID with other content (here another encoding): written beside the
    // first under a name with its content's hash, never lost, never overwriting
    fixture::InstanceSpec {
        syntax: fixture::Syntax::ExplicitBig,
        ..fixture::instance("MRN0001234", "2.25.10", "2.25.11", "2.25.120")
    }
    .write(&input.join("zz-other-version.dcm"))
    .expect("write");
    // a DICOMDIR (the index of a medium): skipped
    fixture::InstanceSpec {
        sop_class_uid: "1.2.840.10008.1.3.10".into(),
        ..fixture::instance("MRN0001234", "2.25.10", "2.25.11", "2.25.130")
    }
    .write(&input.join("DICOMDIR"))
    .expect("write");
    (dir, input)
}

#[test]
fn tree_is_written_with_keyed_names_and_problems_reported() {
    let (dir, input) = setup();
    let before = snapshot(&input);
    let out = dir.path().join("out");
    let files = collect_inputs(std::slice::from_ref(&input)).expect("collect");
    assert_eq!(files.len(), 9);
    let events = Mutex::new(Vec::new());
    // One worker: files finish in input order, so the first of two with one SOP Instance UID
    // is the one written.
    let mut req = request(&input, &out);
    req.workers = 1;
    let summary = anonymize_tree(&engine(Level::AnonymizeFull), &req, &files, &|e| {
        events
            .lock()
            .expect("lock")
            .push((e.input.to_path_buf(), e.outcome.clone()));
    })
    .expect("run");
    assert_eq!(
        (
            summary.files_seen,
            summary.written,
            summary.rejected,
            summary.skipped
        ),
        (9, 5, 2, 2)
    );
    assert!(summary.bytes_in > 0 && summary.bytes_out > 0);
    let events = events.into_inner().expect("events");
    let rejected: Vec<String> = events
        .iter()
        .filter_map(|(p, o)| match o {
            FileOutcome::Rejected { reason } => Some(format!("{}: {reason}", p.display())),
            _ => None,
        })
        .collect();
    assert!(
        rejected
            .iter()
            .any(|r| r.contains("notes.txt") && r.contains("not a DICOM")),
        "{rejected:?}"
    );
    assert!(
        rejected.iter().any(|r| r.contains("cut.dcm")),
        "{rejected:?}"
    );
    let collisions: Vec<(String, PathBuf)> = events
        .iter()
        .filter_map(|(p, o)| match o {
            FileOutcome::Written {
                output,
                collision: Some(c),
                ..
            } => Some((format!("{}: {c}", p.display()), output.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(collisions.len(), 1, "{collisions:?}");
    let (note, other) = &collisions[0];
    assert!(
        note.contains("zz-other-version.dcm")
            && note.contains("same SOPInstanceUID as")
            && note.contains("HALVORSEN-0.dcm"),
        "{note}"
    );
    // Beside the first copy: same folder, `<SOP>.<16 hex>.dcm` (a keyed tag of the input's
    // bytes, the same at every level: see same_key_same_names_across_levels), both kept.
    let first = events
        .iter()
        .find_map(|(p, o)| match o {
            FileOutcome::Written { output, .. } if p.ends_with("HALVORSEN-0.dcm") => {
                Some(output.clone())
            }
            _ => None,
        })
        .expect("first copy written");
    assert_eq!(first.parent(), other.parent());
    let (a, b) = (
        first
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .to_string(),
        other
            .file_name()
            .expect("name")
            .to_string_lossy()
            .to_string(),
    );
    assert!(
        b.starts_with(&format!("{a}.")) && b.len() == a.len() + 1 + 16 + 4,
        "{a} vs {b}"
    );
    assert_ne!(
        fs::read(&first).expect("read"),
        fs::read(other).expect("read")
    );
    let skipped: Vec<String> = events
        .iter()
        .filter_map(|(p, o)| match o {
            FileOutcome::Skipped { reason } => Some(format!("{}: {reason}", p.display())),
            _ => None,
        })
        .collect();
    assert!(
        skipped
            .iter()
            .any(|r| r.contains("again.dcm") && r.contains("a duplicate")),
        "{skipped:?}"
    );
    assert!(
        skipped.iter().any(|r| r.contains("DICOMDIR: a DICOMDIR")),
        "{skipped:?}"
    );
    assert_eq!(snapshot(&input), before, "inputs unchanged");
    let written = collect_inputs(std::slice::from_ref(&out)).expect("outputs");
    assert_eq!(written.len(), 5);
    for p in &written {
        let rel = p
            .strip_prefix(&out)
            .expect("below out")
            .to_string_lossy()
            .to_string();
        assert_eq!(rel.split('/').count(), 4, "{rel}");
        assert!(
            !rel.contains("HALVORSEN") && !rel.contains("Study") && !rel.contains(".tmp"),
            "{rel}"
        );
    }
    // a second run refuses the non-empty output, unless forced
    let err = anonymize_tree(
        &engine(Level::AnonymizeFull),
        &request(&input, &out),
        &files,
        &|_| {},
    );
    assert!(matches!(err, Err(TreeError::OutputNotEmpty { .. })));
    let mut forced = request(&input, &out);
    forced.force = true;
    assert!(anonymize_tree(&engine(Level::AnonymizeFull), &forced, &files, &|_| {}).is_ok());
}

#[test]
fn dry_run_writes_nothing_and_overlap_is_refused() {
    let (dir, input) = setup();
    let out = dir.path().join("out");
    let files = collect_inputs(std::slice::from_ref(&input)).expect("collect");
    let mut req = request(&input, &out);
    req.dry_run = true;
    let summary = anonymize_tree(&engine(Level::Basic), &req, &files, &|_| {}).expect("dry run");
    assert_eq!(summary.written, 5);
    assert_eq!(summary.bytes_out, 0);
    assert!(!out.exists());
    let inside = request(&input, &input.join("out"));
    assert!(matches!(
        anonymize_tree(&engine(Level::Basic), &inside, &files, &|_| {}),
        Err(TreeError::Overlap { .. })
    ));
    assert!(matches!(
        collect_inputs(&[dir.path().join("missing")]),
        Err(TreeError::InputMissing { .. })
    ));
}

#[test]
fn same_key_same_names_across_levels() {
    let (dir, input) = setup();
    let files = collect_inputs(std::slice::from_ref(&input)).expect("collect");
    let mut names = Vec::new();
    for (i, level) in [Level::Original, Level::AnonymizeFull]
        .into_iter()
        .enumerate()
    {
        let out = dir.path().join(format!("out{i}"));
        // One worker: which of two copies of an instance keeps the plain name (the other gets
        // its keyed tag) depends on the order in which parallel workers finish.
        let mut req = request(&input, &out);
        req.workers = 1;
        anonymize_tree(&engine(level), &req, &files, &|_| {}).expect("run");
        let rels: Vec<PathBuf> = collect_inputs(std::slice::from_ref(&out))
            .expect("walk")
            .into_iter()
            .map(|p| p.strip_prefix(&out).expect("rel").to_path_buf())
            .collect();
        names.push(rels);
    }
    assert_eq!(
        names[0], names[1],
        "the layout uses the key's UID map at every level"
    );
}
