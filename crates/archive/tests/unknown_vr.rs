//! Importing what PS3.5 6.2.2 allows and dicom-rs 0.10 misreads: standard attributes encoded as
//! UN in explicit VR files (read with their dictionary VR, in little and big endian, in memory
//! and streamed from disk), UN sequences of undefined length with implicit VR items, a meta
//! group without its group length; and the hostile UN sequences that must be refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use archive::{Archive, FileOutcome, Filter, ImportObserver, ImportOptions, Outcome};
use dicom_core::Tag;
use dicom_dictionary_std::tags;
use synth::fixture::{InstanceSpec, Syntax};
use synth::unknown_vr::{self as un, implicit_element, implicit_item, implicit_sequence};

fn write(dir: &Path, rel: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, bytes).unwrap();
    p
}

fn opts() -> ImportOptions {
    ImportOptions {
        project: "test".into(),
        workers: 2,
        ..ImportOptions::default()
    }
}

#[derive(Default)]
struct Collect {
    outcomes: Mutex<BTreeMap<String, Outcome>>,
}

impl ImportObserver for Collect {
    fn file_done(&self, o: &FileOutcome) {
        let name = Path::new(&o.source)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        self.outcomes
            .lock()
            .unwrap()
            .insert(name, o.outcome.clone());
    }
}

fn spec(n: u32, syntax: Syntax) -> InstanceSpec {
    InstanceSpec {
        syntax,
        patient_id: format!("UNPID{n}"),
        patient_name: format!("UNKNOWN^PATIENT{n}"),
        study_uid: format!("2.25.88{n}1"),
        series_uid: format!("2.25.88{n}2"),
        sop_uid: format!("2.25.88{n}3"),
        ..InstanceSpec::default()
    }
}

#[test]
fn standard_attributes_encoded_as_un_are_indexed_with_their_values() {
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("dump");
    let mut specs = Vec::new();
    for (n, syntax) in [
        Syntax::ExplicitLittle,
        Syntax::ExplicitBig,
        Syntax::DeflatedExplicitLittle,
    ]
    .into_iter()
    .enumerate()
    {
        let s = spec(n as u32, syntax);
        write(
            &dump,
            &format!("un{n}.dcm"),
            &un::un_attributes(&s).unwrap(),
        );
        specs.push(s);
    }
    // Above the in-memory limit: scanned and parsed from disk, the header repaired in memory.
    let big = InstanceSpec {
        rows: 2048,
        columns: 2100,
        ..spec(7, Syntax::ExplicitBig)
    };
    let big_bytes = un::un_attributes(&big).unwrap();
    assert!(big_bytes.len() as u64 > archive::import::IN_MEMORY_LIMIT);
    let big_path = write(&dump, "big.dcm", &big_bytes);
    specs.push(big);

    let archive = Archive::open(&tmp.path().join("archive")).unwrap();
    let seen = Collect::default();
    let summary = archive
        .import(std::slice::from_ref(&dump), &opts(), &seen)
        .unwrap();
    assert_eq!(
        (summary.imported, summary.rejected),
        (4, 0),
        "{:?}",
        seen.outcomes.lock().unwrap()
    );
    let instances = archive.instances(&Filter::default()).unwrap();
    for s in &specs {
        let inst = instances
            .iter()
            .find(|i| i.sop_uid == s.sop_uid)
            .unwrap_or_else(|| panic!("{} not indexed", s.sop_uid));
        assert_eq!(inst.study_uid, s.study_uid);
        assert_eq!(inst.series_uid, s.series_uid);
        let subject = archive
            .subjects(&Filter {
                subject: Some(inst.subject.clone()),
                ..Filter::default()
            })
            .unwrap();
        assert_eq!(
            subject[0].patient_id.as_deref(),
            Some(s.patient_id.as_str())
        );
        assert_eq!(
            subject[0].patient_name.as_deref(),
            Some(s.patient_name.as_str())
        );
        // The original bytes are stored, UN and all.
        let stored = std::fs::read(&inst.path).unwrap();
        let original = if s.sop_uid == "2.25.8873" {
            std::fs::read(&big_path).unwrap()
        } else {
            un::un_attributes(s).unwrap()
        };
        assert!(stored == original, "{} changed when stored", s.sop_uid);
        // Hashed (streamed, for the big file) with BLAKE3, the new archive's content hash,
        // which names the stored file.
        let hash = blake3::hash(&stored).to_hex().to_string();
        assert_eq!(inst.content_hash, hash, "{}", s.sop_uid);
        assert!(
            inst.path.ends_with(&format!("/{hash}.dcm")),
            "{}",
            inst.path
        );
    }
    assert_eq!(archive.content_hash(), archive::HashAlgorithm::Blake3);
    assert!(archive.verify().unwrap().is_empty());
}

#[test]
fn a_un_sequence_of_undefined_length_is_imported() {
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("dump");
    let mut specs = Vec::new();
    for (n, syntax) in [Syntax::ExplicitLittle, Syntax::ExplicitBig]
        .into_iter()
        .enumerate()
    {
        let s = spec(n as u32 + 3, syntax);
        write(&dump, &format!("seq{n}.dcm"), &un::un_sequence(&s).unwrap());
        specs.push(s);
    }
    let archive = Archive::open(&tmp.path().join("archive")).unwrap();
    let seen = Collect::default();
    let summary = archive
        .import(std::slice::from_ref(&dump), &opts(), &seen)
        .unwrap();
    assert_eq!(
        (summary.imported, summary.rejected),
        (2, 0),
        "{:?}",
        seen.outcomes.lock().unwrap()
    );
    let subjects = archive.subjects(&Filter::default()).unwrap();
    let names: Vec<_> = subjects
        .iter()
        .filter_map(|s| s.patient_name.clone())
        .collect();
    for s in &specs {
        assert!(names.contains(&s.patient_name), "{names:?}");
    }
}

#[test]
fn hostile_un_sequences_are_refused_with_their_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("dump");
    // Last in the file (an SR has no pixel data; the private group sorts last).
    let s = InstanceSpec {
        sr: Some(Default::default()),
        ..spec(5, Syntax::ExplicitLittle)
    };
    let trailing = |value: &[u8], terminated: bool| {
        un::with_un_sequence(&s, Tag(0x7FE1, 0x1010), value, terminated).unwrap()
    };
    let item = implicit_item(&[implicit_element(tags::PERSON_NAME, b"DOE^JOHN", b' ')]);
    let mut overrun = vec![0xFE, 0xFF, 0x00, 0xE0];
    overrun.extend_from_slice(&0x0100_0000u32.to_le_bytes());
    let mut deep = item.clone();
    for _ in 0..80 {
        deep = implicit_item(&[implicit_sequence(tags::REFERENCED_SOP_SEQUENCE, &[deep])]);
    }
    write(&dump, "unterminated.dcm", &trailing(&item, false));
    write(&dump, "overrun.dcm", &trailing(&overrun, true));
    write(&dump, "deep.dcm", &trailing(&deep, true));
    let archive = Archive::open(&tmp.path().join("archive")).unwrap();
    let seen = Collect::default();
    let summary = archive
        .import(std::slice::from_ref(&dump), &opts(), &seen)
        .unwrap();
    assert_eq!(summary.rejected, 3, "{:?}", seen.outcomes.lock().unwrap());
    let outcomes = seen.outcomes.lock().unwrap();
    let reason = |name: &str| match outcomes.get(name) {
        Some(Outcome::Rejected { reason }) => reason.clone(),
        other => panic!("{name}: {other:?}"),
    };
    assert!(
        reason("unterminated.dcm").contains("truncated: the file ends inside element (FFFE,E000)"),
        "{}",
        reason("unterminated.dcm")
    );
    assert!(
        reason("overrun.dcm").contains("element (FFFE,E000) declares 16777216 bytes"),
        "{}",
        reason("overrun.dcm")
    );
    assert!(
        reason("deep.dcm").contains("nested deeper than 64"),
        "{}",
        reason("deep.dcm")
    );
}
