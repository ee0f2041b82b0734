//! End-to-end tests of what the audit does not count as a leak: a StudyID inside depot's own
//! dummy date, an institution inside Manufacturer, a StudyID equal to a number of the
//! acquisition. Packages holding only such coincidences are published (exit 0), the
//! coincidences are printed as advisory and counted in the manifest, and `depot audit` agrees;
//! a real leak planted next to them still stops everything.

use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use synth::fixture::InstanceSpec;

use crate::export::{at_archive, dicom_files, export, manifest, read_package};
use crate::support::*;

/// One CT-like instance of a patient whose StudyID is `000101` and whose InstitutionName is
/// `TOSHIBA`, from a `TOSHIBA_MEC` scanner with 134 phase encoding steps (the StudyID of the
/// second study): every value the audit must not mistake for a leak.
fn spec(i: u32, study: u32) -> InstanceSpec {
    InstanceSpec {
        patient_name: "SMITHSON^ROWENA".into(),
        patient_id: "4711001".into(),
        birth_date: "19650312".into(),
        study_uid: format!("2.25.88{study}1"),
        series_uid: format!("2.25.88{study}2"),
        sop_uid: format!("2.25.88{study}3{i}"),
        frame_of_reference_uid: Some(format!("2.25.88{study}4")),
        instance_number: i32::try_from(i).unwrap_or(1),
        study_id: if study == 1 { "000101" } else { "134" }.into(),
        accession: format!("A{study}7733"),
        institution: "TOSHIBA".into(),
        modality: "CT".into(),
        burned_in: Some(false),
        ..InstanceSpec::default()
    }
}

/// Writes the instances, with the kept equipment attributes added, and imports them.
fn archive(t: &TestDir) {
    std::fs::create_dir_all(t.join("dump")).expect("mkdir");
    for study in 1..=2 {
        for i in 1..=3 {
            let spec = spec(i, study);
            let mut obj: InMemDicomObject = spec.to_object().expect("fixture");
            for (tag, vr, value) in [
                (Tag(0x0008, 0x0070), VR::LO, "TOSHIBA_MEC"),
                (Tag(0x0008, 0x1090), VR::LO, "Aquilion"),
                (Tag(0x0018, 0x0089), VR::IS, "134"),
            ] {
                obj.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
            }
            obj.with_meta(
                FileMetaTableBuilder::new()
                    .transfer_syntax(spec.syntax.uid())
                    .media_storage_sop_class_uid(spec.sop_class_uid.as_str())
                    .media_storage_sop_instance_uid(spec.sop_uid.as_str()),
            )
            .expect("meta")
            .write_to_file(t.join(format!("dump/{study}-{i}.dcm")))
            .expect("write");
        }
    }
    let run = at_archive(t, &t.archive())
        .arg("import")
        .arg(t.join("dump"))
        .run();
    assert!(run.code == Some(0), "import failed\n{}", run.stderr);
}

fn audit_json(t: &TestDir, pkg: &str) -> (Run, Vec<serde_json::Value>) {
    let run = at_archive(t, &t.archive())
        .arg("audit")
        .arg(t.join(pkg))
        .arg("--json")
        .run();
    let findings = run.json()["findings"].as_array().expect("findings").clone();
    (run, findings)
}

#[test]
fn coincidences_are_published_as_advisory_and_depot_s_own_dummies_are_no_finding() {
    let t = TestDir::new();
    archive(&t);
    for level in ["anonymize-full", "basic"] {
        for pkg in [level.to_string(), format!("{level}.zip")] {
            let run = export(&t, &pkg, &["--level", level]);
            assert_eq!(run.code, Some(0), "{level}: {}", run.stderr);
            // The StudyID 000101 lies inside every dummy date 19000101: nothing is said of it.
            assert!(
                !run.stderr.contains("StudyID value found"),
                "{}",
                run.stderr
            );
            assert!(
                run.stderr.lines().any(|l| l.contains("audit (advisory): F")
                    && l.contains(
                        "InstitutionName value coincides with Manufacturer at (0008,0070)"
                    )),
                "{}",
                run.stderr
            );
            assert!(
                run.stderr.contains(
                    "StudyID value coincides with NumberOfPhaseEncodingSteps at (0018,0089)"
                ),
                "{}",
                run.stderr
            );
            assert!(
                run.stderr
                    .contains("audit clean, 12 coincidence(s) (advisory)"),
                "6 files x (Manufacturer + the IS): {}",
                run.stderr
            );
            for v in ["TOSHIBA", "000101", "4711001", "SMITHSON"] {
                assert!(!run.stderr.contains(v), "{v} shown: {}", run.stderr);
            }
            let files = read_package(&t.join(&pkg));
            let m = manifest(&files);
            assert_eq!(m["audit"]["findings"], 12, "{}", m["audit"]);
            assert_eq!(m["audit"]["advisory"], 12, "{}", m["audit"]);
            assert_eq!(m["audit"]["blocking"], true, "{}", m["audit"]);
            assert_eq!(dicom_files(&files).len(), 6);

            let (run, findings) = audit_json(&t, &pkg);
            assert_eq!(run.code, Some(0), "{}", run.stderr);
            assert_eq!(findings.len(), 12, "{findings:?}");
            assert!(
                findings
                    .iter()
                    .all(|f| f["finding"] == "coincidence" && f.get("with").is_some()),
                "{findings:?}"
            );
            assert!(
                run.stderr.contains(": clean, 12 coincidence(s)"),
                "{}",
                run.stderr
            );
        }
    }
}

#[test]
fn a_real_leak_next_to_coincidences_still_blocks_export_and_audit() {
    let t = TestDir::new();
    archive(&t);
    assert_eq!(
        export(&t, "pkg", &["--level", "anonymize-full"]).code,
        Some(0)
    );
    // Plant the StudyID, alone, and the PatientID glued to letters into a dummy of one file.
    let files = dicom_files(&read_package(&t.join("pkg")));
    let (rel, mut bytes) = files.into_iter().next().expect("a file");
    let at = bytes
        .windows(10)
        .position(|w| w == b"ANONYMIZED")
        .expect("a dummy");
    bytes[at..at + 10].copy_from_slice(b"ID 000101 ");
    std::fs::write(t.join("pkg").join(&rel), &bytes).expect("write");
    let (run, findings) = audit_json(&t, "pkg");
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let blocking: Vec<_> = findings
        .iter()
        .filter(|f| f["finding"] == "value")
        .collect();
    assert_eq!(blocking.len(), 1, "{findings:?}");
    assert_eq!(blocking[0]["what"], "StudyID");
    assert_eq!(blocking[0]["file"], rel.as_str());
    assert!(
        run.stderr.contains("1 finding(s), 12 coincidence(s)"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("000101"), "{}", run.stderr);
}

/// A file of `spec` with `elements` added.
fn file_with(spec: &InstanceSpec, elements: Vec<DataElement<InMemDicomObject>>) -> Vec<u8> {
    let mut obj: InMemDicomObject = spec.to_object().expect("fixture");
    for e in elements {
        obj.put(e);
    }
    let mut out = Vec::new();
    obj.with_meta(
        FileMetaTableBuilder::new()
            .transfer_syntax(spec.syntax.uid())
            .media_storage_sop_class_uid(spec.sop_class_uid.as_str())
            .media_storage_sop_instance_uid(spec.sop_uid.as_str()),
    )
    .expect("meta")
    .write_all(&mut out)
    .expect("encode");
    out
}

/// `tag` as a sequence of one item holding `elements`.
fn sequence_of(
    tag: Tag,
    elements: Vec<DataElement<InMemDicomObject>>,
) -> DataElement<InMemDicomObject> {
    DataElement::new(
        tag,
        VR::SQ,
        dicom_core::value::DataSetSequence::new(
            vec![InMemDicomObject::from_element_iter(elements)],
            dicom_core::Length::UNDEFINED,
        ),
    )
}

/// Three patients, as in the test data of deid-data and pydicom: A referred by "Dr. floral
/// field", B an RT plan whose beam is `beam`, C named "Test^S R" with a coded entry of the
/// coding scheme `TEST`.
fn three_patients(t: &TestDir, beam: &str) {
    let text = |tag, vr, v: &str| DataElement::new(tag, vr, PrimitiveValue::from(v));
    let patient = |n: u32, name: &str, physician: &str| InstanceSpec {
        patient_name: name.into(),
        patient_id: format!("COOKIE-{n}"),
        referring_physician: physician.into(),
        study_uid: format!("2.25.77{n}1"),
        series_uid: format!("2.25.77{n}2"),
        sop_uid: format!("2.25.77{n}3"),
        burned_in: Some(false),
        ..InstanceSpec::default()
    };
    let files = [
        (
            "a.dcm",
            file_with(
                &patient(1, "Waterfall^Nameless", "Dr. floral field"),
                vec![],
            ),
        ),
        (
            "b.dcm",
            file_with(
                &patient(2, "Akande^Rita", "Okafor^Ben"),
                vec![sequence_of(
                    Tag(0x300A, 0x00B0),
                    vec![text(Tag(0x300A, 0x00C2), VR::LO, beam)],
                )],
            ),
        ),
        (
            "c.dcm",
            file_with(
                &patient(3, "Test^S R", "Nguyen^Lan"),
                vec![sequence_of(
                    Tag(0x0040, 0xA043),
                    vec![
                        text(Tag(0x0008, 0x0100), VR::SH, "T-001"),
                        text(Tag(0x0008, 0x0102), VR::SH, "TEST"),
                        text(Tag(0x0008, 0x0104), VR::LO, "Lesion"),
                    ],
                )],
            ),
        ),
    ];
    std::fs::create_dir_all(t.join("dump")).expect("mkdir");
    for (name, bytes) in &files {
        std::fs::write(t.join("dump").join(name), bytes).expect("write");
    }
    at_archive(t, &t.archive())
        .arg("import")
        .arg(t.join("dump"))
        .run()
        .ok();
}

/// Exports the archive at anonymize-full and basic: each is published with no blocking
/// finding, and `depot audit` of each package agrees.
fn published_at_full_and_basic(t: &TestDir) {
    for level in ["anonymize-full", "basic"] {
        let run = export(t, level, &["--level", level]);
        assert_eq!(run.code, Some(0), "{level}: {}", run.stderr);
        assert!(
            !run.stderr.contains("(blocking)"),
            "{level}: {}",
            run.stderr
        );
        let (run, findings) = audit_json(t, level);
        assert_eq!(run.code, Some(0), "{level}: {findings:?}");
    }
}

#[test]
fn another_patient_s_name_part_and_a_coding_scheme_are_no_leak_but_a_long_part_is() {
    let t = TestDir::new();
    three_patients(&t, "Field 1");
    published_at_full_and_basic(&t);

    // A's long name part in B's beam name is still a leak.
    let t = TestDir::new();
    three_patients(&t, "Floral 1");
    let run = export(&t, "pkg", &["--level", "anonymize-full"]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.lines().any(|l| l.contains("(blocking)")
            && l.contains("ReferringPhysicianName value found in the header of")
            && l.contains("(300A,00B0)[0]/(300A,00C2)")),
        "{}",
        run.stderr
    );
}

#[test]
fn a_subject_with_nothing_to_search_still_owns_its_files() {
    // A is referred by "Dr. floral field"; D, as pydicom's `reportsi.dcm`, has no PatientID
    // and a placeholder name, and nothing else that identifies anyone: no value of D is
    // searched, yet D's files are D's, and A's short name part in D's beam name is a word there.
    let t = TestDir::new();
    let text = |tag, vr, v: &str| DataElement::new(tag, vr, PrimitiveValue::from(v));
    let a = InstanceSpec {
        patient_name: "Waterfall^Nameless".into(),
        patient_id: "COOKIE-1".into(),
        referring_physician: "Dr. floral field".into(),
        study_uid: "2.25.7711".into(),
        series_uid: "2.25.7712".into(),
        sop_uid: "2.25.7713".into(),
        burned_in: Some(false),
        ..InstanceSpec::default()
    };
    let d = InstanceSpec {
        patient_name: "Last Name^First Name".into(),
        patient_id: String::new(),
        issuer_of_patient_id: None,
        birth_date: String::new(),
        study_id: String::new(),
        accession: String::new(),
        institution: String::new(),
        institution_address: String::new(),
        referring_physician: String::new(),
        performing_physician: String::new(),
        operator_name: String::new(),
        station_name: String::new(),
        study_uid: "2.25.7741".into(),
        series_uid: "2.25.7742".into(),
        sop_uid: "2.25.7743".into(),
        burned_in: Some(false),
        ..InstanceSpec::default()
    };
    std::fs::create_dir_all(t.join("dump")).expect("mkdir");
    std::fs::write(t.join("dump/a.dcm"), file_with(&a, vec![])).expect("write");
    let beam = sequence_of(
        Tag(0x300A, 0x00B0),
        vec![text(Tag(0x300A, 0x00C2), VR::LO, "Field 1")],
    );
    std::fs::write(t.join("dump/d.dcm"), file_with(&d, vec![beam])).expect("write");
    at_archive(&t, &t.archive())
        .arg("import")
        .arg(t.join("dump"))
        .run()
        .ok();
    published_at_full_and_basic(&t);
}
