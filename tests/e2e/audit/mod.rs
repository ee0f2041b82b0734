//! End-to-end tests of `depot audit`: clean on a fresh anonymize-full package, and, after an
//! identifier or a private element is planted into the package (a new file, a zip entry name,
//! the bytes of an exported file), exit 1 naming the file and the kind of value, never the
//! value itself.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_object::FileMetaTableBuilder;
use synth::fixture::InstanceSpec;

use crate::export::{
    archive_with_dump, at_archive, dicom_files, export, parse, read_package, s, small_dump,
};
use crate::support::*;

mod claims;
mod iso2022;
mod planted;
mod spellings;
mod stored_values;
mod streaming;
mod zip_and_manifest;

/// The identifying values of the dump's patient with a PatientID: (name, id, birth date).
fn patient(t: &TestDir) -> (String, String, String) {
    let row = crate::export::query(t, "subjects", &[])
        .into_iter()
        .find(|x| x["blank_patient_id"] == false)
        .expect("a subject with a PatientID");
    (
        s(&row, "patient_name").to_string(),
        s(&row, "patient_id").to_string(),
        s(&row, "birth_date").to_string(),
    )
}

/// `depot audit PKG` against the test's archive.
fn audit(t: &TestDir, pkg: &str, extra: &[&str]) -> Run {
    at_archive(t, &t.archive())
        .arg("audit")
        .arg(t.join(pkg))
        .args(extra)
        .run()
}

/// Asserts that none of `values` (nor the name's parts) appears in stdout or stderr.
fn assert_silent_about(run: &Run, values: &[&str]) {
    for v in values {
        for part in v.split('^').chain([*v]) {
            if part.len() < 3 {
                continue;
            }
            let (out, err) = (run.stdout.to_lowercase(), run.stderr.to_lowercase());
            let p = part.to_lowercase();
            assert!(
                !out.contains(&p) && !err.contains(&p),
                "the value {part:?} is shown:\n{}\n{}",
                run.stdout,
                run.stderr
            );
        }
    }
}

/// An anonymize-full package folder (`pkg`) and zip (`pkg.zip`) of the small dump.
fn packages(t: &TestDir) {
    archive_with_dump(t, &small_dump());
    export(t, "pkg", &["--level", "anonymize-full"]).ok();
    export(t, "pkg.zip", &["--level", "anonymize-full"]).ok();
}

// ---------------------------------------------------------------------------------------------
// Archives of chosen patients
// ---------------------------------------------------------------------------------------------

/// One patient's instance, its text written as UTF-8 (ISO_IR 192) so any name can be held.
fn patient_spec(i: u32, name: &str, id: &str, birth: &str) -> InstanceSpec {
    InstanceSpec {
        patient_name: name.into(),
        patient_id: id.into(),
        birth_date: birth.into(),
        study_uid: format!("2.25.77{i}1"),
        series_uid: format!("2.25.77{i}2"),
        sop_uid: format!("2.25.77{i}3"),
        frame_of_reference_uid: Some(format!("2.25.77{i}4")),
        referring_physician: "WEBER^ANNA".into(),
        ..InstanceSpec::default()
    }
}

/// Writes `specs` into `<tmp>/dump` and imports them into the test's archive.
fn archive_of(t: &TestDir, specs: &[InstanceSpec]) {
    std::fs::create_dir_all(t.join("dump")).expect("mkdir");
    for (i, spec) in specs.iter().enumerate() {
        let mut obj = spec.to_object().expect("fixture");
        obj.put(DataElement::new(
            Tag(0x0008, 0x0005),
            VR::CS,
            PrimitiveValue::from("ISO_IR 192"),
        ));
        obj.with_meta(
            FileMetaTableBuilder::new()
                .transfer_syntax(spec.syntax.uid())
                .media_storage_sop_class_uid(spec.sop_class_uid.as_str())
                .media_storage_sop_instance_uid(spec.sop_uid.as_str()),
        )
        .expect("meta")
        .write_to_file(t.join(format!("dump/{i}.dcm")))
        .expect("write");
    }
    let run = at_archive(t, &t.archive())
        .arg("import")
        .arg(t.join("dump"))
        .run();
    assert!(run.code == Some(0), "import failed\n{}", run.stderr);
}

/// The findings of `depot audit --json`.
fn findings(run: &Run) -> Vec<serde_json::Value> {
    run.json()["findings"].as_array().expect("findings").clone()
}

/// Overwrites the first `ANONYMIZED` dummy in a header of the package with `bytes` (padded
/// with spaces), returning the file and the offset.
fn plant(pkg: &Path, bytes: &[u8]) -> (String, usize) {
    plant_under(pkg, "", bytes)
}

/// [`plant`] into a file whose path starts with `folder` (a subject's folder, with its `/`).
fn plant_under(pkg: &Path, folder: &str, bytes: &[u8]) -> (String, usize) {
    let marker: &[u8] = b"ANONYMIZED";
    assert!(bytes.len() <= marker.len());
    let files = dicom_files(&read_package(pkg));
    let (rel, mut content, at) = files
        .into_iter()
        .filter(|(rel, _)| rel.starts_with(folder))
        .find_map(|(rel, b)| {
            b.windows(marker.len())
                .position(|w| w == marker)
                .map(|at| (rel, b, at))
        })
        .expect("a file with a dummy value");
    let mut planted = bytes.to_vec();
    planted.resize(marker.len(), b' ');
    content[at..at + marker.len()].copy_from_slice(&planted);
    std::fs::write(pkg.join(&rel), &content).expect("write");
    (rel, at)
}

/// Copies a folder package.
fn copy_package(from: &Path, to: &Path) {
    for (rel, bytes) in read_package(from) {
        let dest = to.join(rel);
        std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
        std::fs::write(dest, bytes).expect("write");
    }
}
