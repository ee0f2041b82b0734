//! Selection flags narrow the package.

use super::*;

#[test]
fn selection_flags_narrow_the_package() {
    let t = TestDir::new();
    archive_with_dump(&t, &small_dump());
    let subject = query(&t, "subjects", &[])
        .into_iter()
        .find(|x| x["blank_patient_id"] == false)
        .expect("subject");
    let code = s(&subject, "subject").to_string();
    let study = query(&t, "studies", &["--subject", &code])
        .into_iter()
        .next()
        .expect("study");
    let series = query(&t, "series", &["--modality", "MR"])
        .into_iter()
        .next()
        .expect("series");
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["--subject", &code], vec!["--subject", &code]),
        (vec!["--modality", "SR"], vec!["--modality", "SR"]),
        (
            vec!["--study", s(&study, "study_uid")],
            vec!["--study-uid", s(&study, "study_uid")],
        ),
        (
            vec!["--series", s(&series, "series_uid")],
            vec!["--series-uid", s(&series, "series_uid")],
        ),
    ];
    for (i, (export_args, query_args)) in cases.iter().enumerate() {
        let want: BTreeSet<String> = query(&t, "instances", query_args)
            .iter()
            .map(|r| s(r, "content_hash").to_string())
            .collect();
        assert!(!want.is_empty() && want.len() < 44, "{query_args:?}");
        let out = format!("sel{i}");
        export(
            &t,
            &out,
            &[&["--level", "original"], &export_args[..]].concat(),
        )
        .ok();
        let got: BTreeSet<String> = dicom_files(&read_package(&t.join(&out)))
            .values()
            .map(|b| b3(b))
            .collect();
        assert_eq!(got, want, "{export_args:?}");
    }
    // The same narrowing at anonymize-full: counts match.
    export(&t, "mr", &["--level", "anonymize-full", "--modality", "SR"]).ok();
    let m = manifest(&read_package(&t.join("mr")));
    assert_eq!(n(&m["counts"], "instances"), 4);
    assert_eq!(n(&m["counts"], "series"), 4);
    // Nothing matches: exit 2, nothing written.
    let run = export(&t, "none", &["--subject", "S0000NON"]).expect_code(2);
    assert!(run.stderr.contains("nothing to export"), "{}", run.stderr);
    assert!(!t.join("none").exists());
}
