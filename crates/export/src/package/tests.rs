//! Tests of packages: staging, adding from many threads, publishing with and without
//! `force`, names refused.

use super::*;
use std::io::Write;

#[test]
fn names_are_checked() {
    for bad in [
        "",
        "/abs",
        "a/../b",
        "a//b",
        "a/./b",
        "DOE^JOHN/x",
        "a b",
        "a\\b",
        "é",
    ] {
        assert!(check_name(bad).is_err(), "{bad:?} should be refused");
    }
    for good in ["manifest.json", "P1234/1/3/00001.dcm", "a_b-c.d"] {
        check_name(good).expect(good);
    }
}

/// A zip refuses a second entry of one name when it is finished (its names are checked on
/// disk, by sorted hashes: see `zip_stream`): the error names it and nothing is published.
#[test]
fn a_second_entry_of_one_name_is_refused_in_a_zip_too() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dest = tmp.path().join("pkg.zip");
    let mut p = Package::create(&dest, false).expect("create");
    p.add("a/1.dcm", b"one").expect("add");
    p.add("b/2.dcm", b"two").expect("add");
    p.add_with("a/1.dcm", |w| w.write_all(b"again"))
        .expect("add");
    match p.finish() {
        Err(PackageError::Duplicate(name)) => assert_eq!(name, "a/1.dcm"),
        other => panic!("{other:?}"),
    }
    drop(p);
    assert!(!dest.exists());
    let left: Vec<_> = std::fs::read_dir(tmp.path()).expect("ls").collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn folder_appears_only_when_published() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dest = tmp.path().join("pkg");
    let mut p = Package::create(&dest, false).expect("create");
    p.add("a/b/1.dcm", b"one").expect("add");
    p.add("manifest.json", b"{}").expect("add");
    assert!(matches!(
        p.add("a/b/1.dcm", b"again"),
        Err(PackageError::Duplicate(_))
    ));
    assert!(!dest.exists());
    p.finish().expect("finish");
    p.publish(false).expect("publish");
    assert_eq!(std::fs::read(dest.join("a/b/1.dcm")).expect("read"), b"one");
    let left: Vec<_> = std::fs::read_dir(tmp.path()).expect("ls").collect();
    assert_eq!(left.len(), 1, "no staging left behind");
}

#[test]
fn zip_is_streamed_and_published_without_clobbering() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dest = tmp.path().join("pkg.zip");
    let mut p = Package::create(&dest, false).expect("create");
    assert_eq!(p.kind(), PackageKind::Zip);
    p.add("x/1.dcm", &[7u8; 1000]).expect("add");
    p.finish().expect("finish");
    p.publish(false).expect("publish");
    let mut z = zip::ZipArchive::new(File::open(&dest).expect("open")).expect("zip");
    let mut buf = Vec::new();
    z.by_name("x/1.dcm")
        .expect("entry")
        .read_to_end(&mut buf)
        .expect("read");
    assert_eq!(buf, vec![7u8; 1000]);

    assert!(matches!(
        Package::create(&dest, false),
        Err(PackageError::Exists(_))
    ));
    // Without a depot manifest, the zip is not a package --force may replace.
    assert!(matches!(
        Package::create(&dest, true),
        Err(PackageError::NotAPackage(_))
    ));
    std::fs::remove_file(&dest).expect("rm");
    staged(&dest, false, b"old")
        .publish(false)
        .expect("package");
    let mut again = Package::create(&dest, true).expect("forced create");
    again.add("y.dcm", b"new").expect("add");
    again.finish().expect("finish");
    again.publish(true).expect("forced publish");
    let z = zip::ZipArchive::new(File::open(&dest).expect("open")).expect("zip");
    assert_eq!(z.len(), 1);
}

const MANIFEST: &[u8] = b"{\n  \"format\": \"depot-package/1\"\n}";

fn staged(dest: &Path, force: bool, content: &[u8]) -> Package {
    let mut p = Package::create(dest, force).expect("create");
    p.add("a/1.dcm", content).expect("add");
    p.add("manifest.json", MANIFEST).expect("add");
    p.finish().expect("finish");
    p
}

#[test]
fn force_replaces_only_a_depot_package() {
    let tmp = tempfile::tempdir().expect("tmp");
    let t = |rel: &str| tmp.path().join(rel);
    // Not packages: a folder of other work, a key file, a zip of something else, a folder
    // whose manifest is another program's, a symbolic link to a package.
    std::fs::create_dir_all(t("work/raw")).expect("mkdir");
    std::fs::write(t("work/notes.txt"), b"lab notes").expect("write");
    std::fs::write(t("irb.key"), [7u8; 32]).expect("write");
    std::fs::write(t("proj.zip"), [7u8; 32]).expect("write");
    std::fs::create_dir_all(t("other")).expect("mkdir");
    std::fs::write(t("other/manifest.json"), br#"{"format": "other/1"}"#).expect("write");
    let mut z = zip::ZipWriter::new(File::create(t("plain.zip")).expect("zip"));
    z.start_file("notes.txt", zip::write::SimpleFileOptions::default())
        .expect("entry");
    z.write_all(b"x").expect("write");
    z.finish().expect("finish");
    staged(&t("real"), false, b"old")
        .publish(false)
        .expect("real");
    staged(&t("real.zip"), false, b"old")
        .publish(false)
        .expect("real");
    #[cfg(unix)]
    std::os::unix::fs::symlink(t("real"), t("link")).expect("symlink");
    let refused = ["work", "irb.key", "proj.zip", "other", "plain.zip", "link"];
    let before: Vec<_> = refused
        .iter()
        .map(|r| std::fs::symlink_metadata(t(r)).is_ok())
        .collect();
    for rel in refused {
        if t(rel).symlink_metadata().is_err() {
            continue;
        }
        assert!(!is_replaceable_package(&t(rel)), "{rel}");
        assert!(
            matches!(
                Package::create(&t(rel), true),
                Err(PackageError::NotAPackage(_))
            ),
            "{rel}"
        );
    }
    assert_eq!(
        before,
        refused
            .iter()
            .map(|r| std::fs::symlink_metadata(t(r)).is_ok())
            .collect::<Vec<_>>()
    );
    assert_eq!(
        std::fs::read(t("work/notes.txt")).expect("kept"),
        b"lab notes"
    );
    assert_eq!(std::fs::read(t("irb.key")).expect("kept"), [7u8; 32]);

    // Something that is not a package appearing after `create` is not replaced either.
    std::fs::create_dir(t("late")).expect("mkdir");
    let p = staged(&t("late"), true, b"new");
    std::fs::write(t("late/notes.txt"), b"mine").expect("write");
    assert!(matches!(p.publish(true), Err(PackageError::NotAPackage(_))));
    assert_eq!(std::fs::read(t("late/notes.txt")).expect("kept"), b"mine");

    // Packages (folder, zip) and empty folders are replaced.
    std::fs::create_dir(t("empty")).expect("mkdir");
    for rel in ["real", "real.zip", "empty"] {
        assert!(is_replaceable_package(&t(rel)), "{rel}");
        staged(&t(rel), true, b"new")
            .publish(true)
            .unwrap_or_else(|e| panic!("{rel}: {e}"));
    }
    assert_eq!(std::fs::read(t("real/a/1.dcm")).expect("new"), b"new");
}

#[test]
fn a_failed_forced_publish_puts_the_old_package_back() {
    let tmp = tempfile::tempdir().expect("tmp");
    for name in ["pkg", "pkg.zip"] {
        let dest = tmp.path().join(name);
        staged(&dest, false, b"old").publish(false).expect("first");
        let before = std::fs::read(if name.ends_with(".zip") {
            dest.clone()
        } else {
            dest.join("a/1.dcm")
        })
        .expect("old");
        // The new package's staging place vanishes: placing it fails after the old package
        // has been moved aside.
        let p = staged(&dest, true, b"new");
        let staging = p.staging_path().to_path_buf();
        if staging.is_dir() {
            std::fs::remove_dir_all(&staging).expect("rm staging");
        } else {
            std::fs::remove_file(&staging).expect("rm staging");
        }
        assert!(p.publish(true).is_err(), "{name}: publish must fail");
        let after = std::fs::read(if name.ends_with(".zip") {
            dest.clone()
        } else {
            dest.join("a/1.dcm")
        })
        .unwrap_or_else(|e| panic!("{name}: the old package is gone: {e}"));
        assert_eq!(after, before, "{name}: the old package is back, unchanged");
    }
    let names: Vec<String> = std::fs::read_dir(tmp.path())
        .expect("ls")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|n| !n.contains(".depot-")),
        "nothing left aside: {names:?}"
    );
}

#[test]
fn rename_noreplace_never_replaces_an_empty_folder() {
    // std::fs::rename replaces an empty folder at the destination; publishing a folder
    // package must not, even when the folder appears after the existence check.
    let tmp = tempfile::tempdir().expect("tmp");
    let from = tmp.path().join("staging");
    let to = tmp.path().join("pkg");
    std::fs::create_dir(&from).expect("mkdir");
    std::fs::write(from.join("f"), b"x").expect("write");
    std::fs::create_dir(&to).expect("mkdir");
    let err = rename_noreplace(&from, &to).expect_err("must refuse");
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    assert!(from.join("f").is_file(), "source kept");
    assert_eq!(
        std::fs::read_dir(&to).expect("ls").count(),
        0,
        "target kept"
    );
    std::fs::remove_dir(&to).expect("rmdir");
    rename_noreplace(&from, &to).expect("free name");
    assert!(to.join("f").is_file());
}

#[test]
fn dropped_package_leaves_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    for name in ["pkg", "pkg.zip"] {
        let p = Package::create(&tmp.path().join(name), false).expect("create");
        p.add("a.dcm", b"x").expect("add");
        drop(p);
    }
    assert_eq!(std::fs::read_dir(tmp.path()).expect("ls").count(), 0);
}
