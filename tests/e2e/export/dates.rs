//! Retained longitudinal dates: one offset per subject.

use super::*;

fn days(date: &str) -> i64 {
    // Days since 0000-03-01 (proleptic Gregorian), enough to subtract two dates.
    let y: i64 = date[0..4].parse().expect("year");
    let m: i64 = date[4..6].parse().expect("month");
    let d: i64 = date[6..8].parse().expect("day");
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    365 * y + y / 4 - y / 100 + y / 400 + (153 * m + 2) / 5 + d - 1
}

#[test]
fn retained_longitudinal_dates_shift_by_one_offset_per_subject() {
    let t = TestDir::new();
    let dir = t.join("in");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let studies = [
        ("MRN-60001", "2.25.601", "20200105"),
        ("MRN-60001", "2.25.602", "20210610"),
        ("MRN-60001", "2.25.603", "20211231"),
        ("MRN-60002", "2.25.604", "20190301"),
        ("MRN-60002", "2.25.605", "20190302"),
    ];
    for (pid, study, date) in studies {
        for j in 0..2 {
            let spec = InstanceSpec {
                study_date: date.into(),
                ..fixture::instance(pid, study, &format!("{study}1"), &format!("{study}1{j}"))
            };
            spec.write(&dir.join(format!("{study}_{j}.dcm")))
                .expect("write");
        }
    }
    at_archive(&t, &t.archive())
        .arg("import")
        .arg(&dir)
        .run()
        .ok();
    let args = [
        "--level",
        "anonymize-full",
        "--option",
        "retain-longitudinal-modified-dates",
    ];
    export(&t, "pkg", &args).ok();
    let files = read_package(&t.join("pkg"));
    assert_eq!(
        manifest(&files)["options"],
        serde_json::json!(["retain-longitudinal-modified-dates"])
    );
    let who = pseudonyms(&t, &args);
    let archived = query(&t, "studies", &[]);
    let mut offsets: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for (rel, bytes) in dicom_files(&files) {
        let obj = parse(&bytes);
        let parts: Vec<&str> = rel.split('/').collect();
        let code = who
            .iter()
            .find(|(_, p)| p.as_str() == parts[0])
            .map(|(c, _)| c.clone())
            .expect("known pseudonym");
        let study = archived
            .iter()
            .find(|st| s(st, "subject") == code && n(st, "study_number").to_string() == parts[1])
            .expect("archived study");
        let original = s(study, "study_date");
        for tag in [
            tags::STUDY_DATE,
            tags::SERIES_DATE,
            tags::CONTENT_DATE,
            tags::ACQUISITION_DATE,
        ] {
            let shifted = text(&obj, tag).unwrap_or_else(|| panic!("{rel}: {tag} kept (shifted)"));
            assert_eq!(shifted.len(), 8, "{rel}: {tag} = {shifted:?}");
            offsets
                .entry(code.clone())
                .or_default()
                .insert(days(&shifted) - days(original));
        }
    }
    assert_eq!(offsets.len(), 2);
    for (code, o) in &offsets {
        assert_eq!(
            o.len(),
            1,
            "subject {code}: dates shifted by several offsets {o:?}"
        );
        assert!(!o.contains(&0), "subject {code}: dates not shifted");
    }
}
