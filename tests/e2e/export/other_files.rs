//! A selective export (`--study`) reads the subject's other stored files too: a birth name
//! and another PatientID held only by an older study it leaves out are cut from the exported
//! text and searched, as `depot audit` searches them, so both agree.

use super::*;

#[test]
fn a_study_export_cuts_and_searches_what_only_the_subject_s_other_studies_hold() {
    let t = TestDir::new();
    // Imported first: the MR study, under the patient's current name; its text and pixels
    // name the birth name and the old ID, which only the older US study holds.
    let mr = InstanceSpec {
        patient_name: "FAIRWEATHER^IMOGEN".into(),
        ..fixture::instance("UK4857773456", "2.25.7701", "2.25.7702", "2.25.7703")
    };
    let mr_file = edited(&mr, |o| {
        put_text(
            o,
            Tag(0x0070, 0x0081),
            VR::LO,
            "nee Ravensworth, prev ID ALT7731902",
        );
        let mut pixels: Vec<u8> = (0..64u16).flat_map(|v| (v * 37).to_le_bytes()).collect();
        pixels[20..31].copy_from_slice(b"RAVENSWORTH");
        o.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U8(pixels.into_iter().collect()),
        ));
    });
    import_specs(&t, &t.archive(), "in-mr", "p", &[("mr.dcm", mr_file)]);
    let us = InstanceSpec {
        patient_name: "RAVENSWORTH^IMOGEN".into(),
        modality: "US".into(),
        ..fixture::instance("UK4857773456", "2.25.7711", "2.25.7712", "2.25.7713")
    };
    let us_file = edited(&us, |o| {
        put_text(o, tags::PATIENT_BIRTH_NAME, VR::PN, "RAVENSWORTH^IMOGEN");
        put_text(o, Tag(0x0010, 0x1000), VR::LO, "ALT7731902");
    });
    import_specs(&t, &t.archive(), "in-us", "p", &[("us.dcm", us_file)]);

    let run = export(
        &t,
        "pkg",
        &["--level", "anonymize-full", "--study", "2.25.7701"],
    )
    .expect_code(1);
    let id = quarantine_id(&run);
    let exported = value_places(&reviewed_findings(&t, &id));
    assert!(
        exported
            .iter()
            .any(|(kind, region, _)| kind == "PatientBirthName" && region == "pixel-data"),
        "{exported:?}"
    );
    // The text is cut: neither the birth name nor the old ID is left in the package.
    let package = t.archive().join("quarantine").join(&id).join("package");
    let files = dicom_files(&read_package(&package));
    assert_eq!(files.len(), 1, "only the MR study");
    let obj = parse(files.values().next().expect("file"));
    let description = text(&obj, Tag(0x0070, 0x0081)).unwrap_or_default();
    for gone in ["ravensworth", "alt7731902"] {
        assert!(
            !description.to_lowercase().contains(gone),
            "{gone} in {description:?}"
        );
    }
    // `depot audit` of the package searches the same values and finds the same.
    let audited = at_archive(&t, &t.archive())
        .arg("audit")
        .arg(&package)
        .arg("--json")
        .run()
        .expect_code(1);
    let audited = value_places(audited.json()["findings"].as_array().expect("findings"));
    assert_eq!(exported, audited);
}
