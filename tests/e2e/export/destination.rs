//! Atomic publication, no clobbering: existing packages, the key file, failed exports.

use super::*;

#[test]
fn existing_package_is_kept_without_force_and_replaced_with_force() {
    let t = TestDir::new();
    archive_with_dump(&t, &small_dump());
    std::fs::create_dir_all(t.join("pkg")).expect("mkdir");
    std::fs::write(t.join("pkg/keep.txt"), b"earlier work").expect("write");
    std::fs::write(t.join("pkg.zip"), b"not really a zip").expect("write");
    let before_dir = snapshot(&t.join("pkg"));
    for out in ["pkg", "pkg.zip"] {
        let run = export(&t, out, &["--level", "anonymize-full"]).expect_code(2);
        assert!(run.stderr.contains("already exists"), "{}", run.stderr);
        assert!(leftovers(t.path()).is_empty(), "{:?}", leftovers(t.path()));
    }
    assert_eq!(snapshot(&t.join("pkg")), before_dir);
    assert_eq!(
        std::fs::read(t.join("pkg.zip")).expect("read"),
        b"not really a zip"
    );

    // Neither is a depot package: --force refuses to replace them.
    for out in ["pkg", "pkg.zip"] {
        let run = export(&t, out, &["--level", "anonymize-full", "--force"]).expect_code(2);
        assert!(
            run.stderr.contains("is not a depot package"),
            "{}",
            run.stderr
        );
    }
    assert_eq!(snapshot(&t.join("pkg")), before_dir);
    assert_eq!(
        std::fs::read(t.join("pkg.zip")).expect("read"),
        b"not really a zip"
    );
    std::fs::remove_dir_all(t.join("pkg")).expect("rm");
    std::fs::remove_file(t.join("pkg.zip")).expect("rm");

    // A depot package is replaced with --force, not merged.
    for out in ["pkg", "pkg.zip"] {
        export(&t, out, &["--level", "anonymize"]).ok();
        export(&t, out, &["--level", "anonymize-full", "--force"]).ok();
        let files = read_package(&t.join(out));
        assert_eq!(s(&manifest(&files), "level"), "anonymize-full", "{out}");
        assert_eq!(
            n(&manifest(&files)["counts"], "instances") as usize,
            dicom_files(&files).len()
        );
    }
    // So is an empty folder.
    std::fs::create_dir(t.join("empty")).expect("mkdir");
    export(&t, "empty", &["--level", "anonymize-full", "--force"]).ok();
    assert!(t.join("empty/manifest.json").is_file());
    assert!(leftovers(t.path()).is_empty(), "{:?}", leftovers(t.path()));
}

#[test]
fn force_never_replaces_the_key_file_or_anything_that_is_not_a_package() {
    let t = TestDir::new();
    let spec = fixture::instance("KF-0001", "2.25.5101", "2.25.5102", "2.25.5103");
    import_specs(
        &t,
        &t.archive(),
        "dump",
        "p",
        &[("a.dcm", spec.to_bytes().expect("bytes"))],
    );
    let full = ["--level", "anonymize-full"];
    let with_key = |key: &str, out: &str, extra: &[&str]| {
        at_archive(&t, &t.archive())
            .args(["export", "--level", "anonymize-full", "--key-file"])
            .arg(t.join(key))
            .arg("--out")
            .arg(t.join(out))
            .args(extra)
            .run()
    };

    // (a) The project's key lies inside PATH.
    std::fs::create_dir(t.join("exports")).expect("mkdir");
    with_key("exports/irb.key", "first", &[]).ok();
    let key = std::fs::read(t.join("exports/irb.key")).expect("key created");
    for extra in [&["--force"][..], &["--force", "--dry-run"], &[]] {
        let run = with_key("exports/irb.key", "exports", extra).expect_code(2);
        assert!(
            run.stderr.contains("overlaps the key file"),
            "{extra:?}: {}",
            run.stderr
        );
        assert_eq!(
            std::fs::read(t.join("exports/irb.key")).expect("key kept"),
            key
        );
    }
    // PATH is the key file, or lies inside it.
    for out in ["exports/irb.key", "exports/irb.key/pkg"] {
        let run = with_key("exports/irb.key", out, &["--force"]).expect_code(2);
        assert!(
            run.stderr.contains("overlaps the key file"),
            "{}",
            run.stderr
        );
    }
    assert_eq!(
        std::fs::read(t.join("exports/irb.key")).expect("key kept"),
        key
    );
    with_key("exports/irb.key", "later", &[]).ok();
    assert_eq!(first_dirs(&t.join("first")), first_dirs(&t.join("later")));
    // A key file that does not exist yet is not created for a refused export.
    let run = with_key("new/k.key", "new", &["--force"]).expect_code(2);
    assert!(
        run.stderr.contains("overlaps the key file"),
        "{}",
        run.stderr
    );
    assert!(!t.join("new").exists(), "nothing created");

    // (b) The key file is PATH itself (a zip name).
    with_key("proj.zip", "first.zip", &[]).ok();
    let key = std::fs::read(t.join("proj.zip")).expect("key created");
    let run = with_key("proj.zip", "proj.zip", &["--force"]).expect_code(2);
    assert!(
        run.stderr.contains("overlaps the key file"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read(t.join("proj.zip")).expect("key kept"), key);

    // (c) A folder (or file) that is not a depot package is never removed.
    std::fs::create_dir_all(t.join("scans/raw")).expect("mkdir");
    std::fs::write(t.join("scans/raw/a.dcm"), spec.to_bytes().expect("bytes")).expect("write");
    std::fs::write(t.join("scans/notes.txt"), b"lab notes").expect("write");
    std::fs::write(t.join("notes.zip"), b"lab notes").expect("write");
    let before = snapshot(&t.join("scans"));
    for out in ["scans", "notes.zip"] {
        for extra in [&["--force"][..], &["--force", "--dry-run"]] {
            let run = export(&t, out, &[&full[..], extra].concat()).expect_code(2);
            assert!(
                run.stderr.contains("is not a depot package"),
                "{out}: {}",
                run.stderr
            );
        }
    }
    assert_eq!(snapshot(&t.join("scans")), before);
    assert_eq!(
        std::fs::read(t.join("notes.zip")).expect("kept"),
        b"lab notes"
    );
    // A package's manifest of another format does not make it one.
    std::fs::write(t.join("scans/manifest.json"), br#"{"format": "other/1"}"#).expect("write");
    export(&t, "scans", &[&full[..], &["--force"]].concat()).expect_code(2);
    assert!(t.join("scans/notes.txt").is_file());
    assert!(leftovers(t.path()).is_empty(), "{:?}", leftovers(t.path()));
}

#[test]
fn a_failed_export_leaves_nothing_behind() {
    let t = TestDir::new();
    archive_with_dump(&t, &small_dump());
    let victim = query(&t, "instances", &["--modality", "MR"])
        .into_iter()
        .find(|i| i["transfer_syntax"] == "1.2.840.10008.1.2.1" && i["number_of_frames"].is_null())
        .expect("a single-frame explicit little endian MR instance");
    let path = PathBuf::from(s(&victim, "path"));
    let mut bytes = std::fs::read(&path).expect("read");
    // Same size, one byte changed at the end of the pixel data: original must notice.
    let last = bytes.len() - 1;
    bytes[last] ^= 0xFF;
    std::fs::write(&path, &bytes).expect("corrupt");
    for out in ["o", "o.zip"] {
        let run = export(&t, out, &["--level", "original"]).expect_code(2);
        assert!(
            run.stderr
                .contains("does not match its BLAKE3 content hash in the index"),
            "{}",
            run.stderr
        );
        assert!(!t.join(out).exists());
    }
    // Truncated: cannot be de-identified.
    std::fs::write(&path, &bytes[..bytes.len() / 2]).expect("truncate");
    for out in ["f", "f.zip"] {
        let run = export(&t, out, &["--level", "anonymize-full"]).expect_code(2);
        assert!(
            run.stderr.contains("could not be exported"),
            "{}",
            run.stderr
        );
        assert!(!t.join(out).exists());
    }
    // A failed --force export keeps the package it was meant to replace.
    std::fs::create_dir_all(t.join("old")).expect("mkdir");
    std::fs::write(
        t.join("old/manifest.json"),
        br#"{"format": "depot-package/1"}"#,
    )
    .expect("write");
    let before = snapshot(&t.join("old"));
    export(&t, "old", &["--level", "anonymize-full", "--force"]).expect_code(2);
    assert_eq!(snapshot(&t.join("old")), before);
    assert!(leftovers(t.path()).is_empty(), "{:?}", leftovers(t.path()));
}
