//! An export's original UIDs gathered on disk and searched through a table there
//! (`DEPOT_UIDS_IN_MEMORY` makes every export's that large here) are found as those gathered in
//! memory: the same UIDs, planted in pixel data, under the same labels, with the same outcome;
//! and nothing is left in the archive's `tmp/`.

use super::*;

/// (kind, region) of the value findings of a quarantined export's review.
fn found(t: &TestDir, run: &Run) -> BTreeSet<(String, String)> {
    value_places(&reviewed_findings(t, &quarantine_id(run)))
        .into_iter()
        .map(|(kind, region, _)| (kind, region))
        .collect()
}

/// An MR image whose pixel data spells `planted`.
fn with_pixels(spec: &InstanceSpec, planted: &[&str]) -> Vec<u8> {
    edited(spec, |o| {
        let mut pixels: Vec<u8> = vec![0; 128];
        let mut at = 2;
        for p in planted {
            pixels[at..at + p.len()].copy_from_slice(p.as_bytes());
            at += p.len() + 3;
        }
        o.put(DataElement::new(
            tags::PIXEL_DATA,
            VR::OW,
            PrimitiveValue::U8(pixels.into_iter().collect()),
        ));
    })
}

#[test]
fn original_uids_on_disk_are_found_as_uids_in_memory_are() {
    let t = TestDir::new();
    let frame = "1.2.826.0.1.3680043.8.498.4455667788";
    let b_sop = "1.2.826.0.1.3680043.8.498.99887766554433";
    let a = InstanceSpec {
        frame_of_reference_uid: Some(frame.into()),
        ..fixture::instance("UK4857773456", "2.25.7801", "2.25.7802", "2.25.7803")
    };
    let b = InstanceSpec {
        instance_number: 2,
        ..fixture::instance("UK4857773456", "2.25.7801", "2.25.7802", b_sop)
    };
    // A's pixels spell B's SOP Instance UID (an index's UID); B's spell A's frame of
    // reference (a UID other than a file's own) and the series UID (short: the automaton's).
    let files = [
        ("a.dcm", with_pixels(&a, &[b_sop])),
        ("b.dcm", with_pixels(&b, &[frame, "2.25.7802"])),
    ];
    import_specs(&t, &t.archive(), "in", "p", &files);
    let args = ["--level", "anonymize-full"];
    let memory = export(&t, "memory", &args).expect_code(1);
    let disk = at_archive(&t, &t.archive())
        .env("DEPOT_UIDS_IN_MEMORY", "1")
        .env("DEPOT_PLAN_IN_MEMORY", "1")
        .arg("export")
        .arg("--out")
        .arg(t.join("disk"))
        .args(args)
        .run()
        .expect_code(1);
    let want: BTreeSet<(String, String)> =
        ["SOPInstanceUID", "FrameOfReferenceUID", "SeriesInstanceUID"]
            .into_iter()
            .map(|k| (k.to_string(), "pixel-data".to_string()))
            .collect();
    assert_eq!(found(&t, &memory), want, "{}", memory.stderr);
    assert_eq!(found(&t, &disk), want, "{}", disk.stderr);
    assert!(!t.join("memory").exists() && !t.join("disk").exists());
    assert_eq!(files_below(&t.archive().join("tmp")), Vec::<PathBuf>::new());
}
