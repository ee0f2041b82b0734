//! Pseudonyms and UIDs stable per key and unlinkable across keys; later exports line up with
//! earlier ones.

use super::*;

#[test]
fn pseudonyms_and_uids_are_stable_per_key_and_unlinkable_across_keys() {
    let t = TestDir::new();
    let dir = t.join("in");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for (i, pid) in ["MRN-40001", "MRN-40002"].into_iter().enumerate() {
        for j in 0..2 {
            let spec = fixture::instance(
                pid,
                &format!("2.25.40{i}"),
                &format!("2.25.40{i}1"),
                &format!("2.25.40{i}1{j}"),
            );
            spec.write(&dir.join(format!("{i}_{j}.dcm")))
                .expect("write");
        }
    }
    at_archive(&t, &t.archive())
        .arg("import")
        .arg(&dir)
        .run()
        .ok();
    let full = ["--level", "anonymize-full"];
    export(&t, "a", &full).ok();
    export(&t, "b.zip", &full).ok();
    export(
        &t,
        "k1",
        &[&full[..], &["--key-file", "other.key"]].concat(),
    )
    .ok();
    export(
        &t,
        "k2",
        &[&full[..], &["--key-file", "other.key"]].concat(),
    )
    .ok();

    let a = uids_by_path(&t.join("a"));
    assert_eq!(a.len(), 4);
    assert_eq!(
        a,
        uids_by_path(&t.join("b.zip")),
        "same archive key: same pseudonyms, paths and UIDs"
    );
    let k1 = uids_by_path(&t.join("k1"));
    assert_eq!(
        k1,
        uids_by_path(&t.join("k2")),
        "same key file: same pseudonyms, paths and UIDs"
    );
    let (pa, pk) = (first_dirs(&t.join("a")), first_dirs(&t.join("k1")));
    assert_eq!(pa.len(), 2);
    assert!(
        pa.is_disjoint(&pk),
        "another key gives other pseudonyms: {pa:?} {pk:?}"
    );
    let all_uids = |m: &BTreeMap<String, (String, String, String)>| -> BTreeSet<String> {
        m.values()
            .flat_map(|(a, b, c)| [a.clone(), b.clone(), c.clone()])
            .collect()
    };
    assert!(
        all_uids(&a).is_disjoint(&all_uids(&k1)),
        "another key gives other UIDs"
    );
    let fa = manifest(&read_package(&t.join("a")))["key_fingerprint"].clone();
    let fk = manifest(&read_package(&t.join("k1")))["key_fingerprint"].clone();
    assert_ne!(fa, fk);
}

#[test]
fn a_later_export_of_newly_imported_data_lines_up_with_the_first() {
    let t = TestDir::new();
    let write = |name: &str, spec: InstanceSpec| {
        let p = t.join(name);
        spec.write(&p).expect("write");
        p
    };
    let first = write(
        "one.dcm",
        fixture::instance("MRN-51234", "2.25.510", "2.25.5101", "2.25.51011"),
    );
    at_archive(&t, &t.archive())
        .arg("import")
        .arg(&first)
        .run()
        .ok();
    export(&t, "p1", &["--level", "anonymize-full"]).ok();

    // Later: a second study of the same patient, and a new patient.
    let later = [
        write(
            "two.dcm",
            fixture::instance("MRN-51234", "2.25.520", "2.25.5201", "2.25.52011"),
        ),
        write(
            "three.dcm",
            fixture::instance("MRN-59999", "2.25.530", "2.25.5301", "2.25.53011"),
        ),
    ];
    at_archive(&t, &t.archive())
        .arg("import")
        .args(&later)
        .run()
        .ok();
    export(&t, "p2", &["--level", "anonymize-full"]).ok();

    let p1 = uids_by_path(&t.join("p1"));
    let p2 = uids_by_path(&t.join("p2"));
    assert_eq!(p1.len(), 1);
    assert_eq!(p2.len(), 3);
    let (path, uids) = p1.iter().next().expect("one file");
    assert_eq!(
        p2.get(path),
        Some(uids),
        "the first study has the same path and UIDs in both packages"
    );
    let subject = path.split('/').next().expect("subject");
    let same_subject: Vec<&String> = p2
        .keys()
        .filter(|k| k.starts_with(&format!("{subject}/")))
        .collect();
    assert_eq!(
        same_subject.len(),
        2,
        "both studies of the patient under one pseudonym: {p2:?}"
    );
}
