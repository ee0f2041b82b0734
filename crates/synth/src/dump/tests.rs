//! Tests of whole dumps: options refused, every hard case planted where the summary says,
//! deterministic output, the blank-PatientID subject and its planted values.

use super::*;
use dicom_dictionary_std::tags;
use dicom_object::open_file;

#[test]
fn invalid_options_are_refused() {
    let err = write_dump(
        Path::new("/nonexistent"),
        &DumpOptions {
            subjects: 0,
            ..DumpOptions::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().contains("subjects"), "{err}");
    assert!(
        DumpOptions {
            subjects: u32::MAX,
            studies_per_subject: u32::MAX,
            ..DumpOptions::default()
        }
        .file_count()
        .is_err()
    );
}

#[test]
fn default_dump_has_every_hard_case_and_is_deterministic() {
    let a = tempfile::tempdir().unwrap();
    let opts = DumpOptions {
        rows: 16,
        columns: 16,
        ..DumpOptions::default()
    };
    let sum = write_dump(a.path(), &opts).unwrap();
    assert_eq!(sum.files, 78);
    assert_eq!(sum.instances, 78);
    assert_eq!((sum.subjects, sum.studies, sum.series), (3, 6, 24));
    let cases: Vec<HardCase> = sum.landmarks.iter().map(|l| l.case).collect();
    assert_eq!(cases.len(), 9, "{cases:?}");
    for l in &sum.landmarks {
        assert!(a.path().join(&l.path).is_dir(), "{l:?}");
    }
    let paths = dump_paths(&opts).unwrap();
    assert_eq!(paths.len(), 78);
    assert!(paths.iter().any(|p| p.extension().is_some()));
    assert!(paths.iter().any(|p| p.extension().is_none()));
    let mut total = 0;
    for p in &paths {
        let obj = open_file(a.path().join(p)).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        total += std::fs::metadata(a.path().join(p)).unwrap().len();
        assert!(obj.get(tags::SOP_INSTANCE_UID).is_some());
    }
    assert_eq!(total, sum.bytes);
    // Same seed: same bytes. Different seed: different names.
    let b = tempfile::tempdir().unwrap();
    let sum_b = write_dump(b.path(), &opts).unwrap();
    assert_eq!(sum, sum_b);
    for p in &paths {
        assert_eq!(
            std::fs::read(a.path().join(p)).unwrap(),
            std::fs::read(b.path().join(p)).unwrap()
        );
    }
    let other = dump_paths(&DumpOptions {
        seed: 2,
        ..opts.clone()
    })
    .unwrap();
    assert_ne!(other, paths);
}

#[test]
fn blank_patient_id_subject_and_phi() {
    let dir = tempfile::tempdir().unwrap();
    let opts = DumpOptions {
        subjects: 2,
        studies_per_subject: 1,
        series_per_study: 1,
        instances_per_series: 1,
        rows: 4,
        columns: 4,
        seed: 9,
    };
    let sum = write_dump(dir.path(), &opts).unwrap();
    let blank = sum
        .landmarks
        .iter()
        .find(|l| l.case == HardCase::BlankPatientId)
        .unwrap();
    let files: Vec<PathBuf> = dump_paths(&opts)
        .unwrap()
        .into_iter()
        .filter(|p| p.starts_with(&blank.path))
        .collect();
    assert_eq!(files.len(), 2, "one image + one SR");
    for f in files {
        let obj = open_file(dir.path().join(f)).unwrap();
        assert_eq!(
            obj.get(tags::PATIENT_ID).unwrap().to_str().unwrap().trim(),
            ""
        );
    }
    assert!(
        sum.landmarks
            .iter()
            .any(|l| l.case == HardCase::SharedSeriesNumber)
    );
    // Every folder name part that is identifying is in the phi list.
    let first = dump_paths(&opts).unwrap()[0].clone();
    let subject_folder = first
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy()
        .to_string();
    let (name, id) = subject_folder.split_once('_').unwrap();
    assert!(
        sum.phi.iter().any(|p| p == name) && sum.phi.iter().any(|p| p == id),
        "{:?}",
        sum.phi
    );
    assert!(sum.phi.iter().all(|p| p.len() >= 3));
}
