//! A selection too large for memory is planned through a temporary file in the archive's
//! `tmp/` (`DEPOT_PLAN_IN_MEMORY` makes every selection that large here): the package, the exit
//! code and the warnings are those of the plan in memory, and nothing is left in `tmp/`.

use super::*;

/// The warnings an export printed (its last line, with the time taken, left out).
fn warnings(run: &Run) -> Vec<String> {
    run.stderr
        .lines()
        .filter(|l| !l.starts_with("exported ") && !l.starts_with("dry run:"))
        .map(|l| l.replace("disk", "OUT").replace("memory", "OUT"))
        .collect()
}

#[test]
fn a_plan_on_disk_makes_the_package_a_plan_in_memory_makes() {
    let t = TestDir::new();
    archive_with_dump(&t, &small_dump());
    let cases: [&[&str]; 5] = [
        &["--level", "anonymize-full"],
        &[
            "--level",
            "basic",
            "--blank-identifiers",
            "--checksum",
            "sha256",
        ],
        &["--level", "original"],
        // A subset: the subjects' other files are read too.
        &["--level", "anonymize-full", "--modality", "MR"],
        &["--level", "anonymize", "--include-burned-in"],
    ];
    for (i, args) in cases.iter().enumerate() {
        let memory = export(&t, &format!("memory{i}"), args);
        let disk = at_archive(&t, &t.archive())
            .env("DEPOT_PLAN_IN_MEMORY", "1")
            .arg("export")
            .arg("--out")
            .arg(t.join(format!("disk{i}")))
            .args(*args)
            .run();
        assert_eq!(
            memory.code, disk.code,
            "{args:?}\n{}\n{}",
            memory.stderr, disk.stderr
        );
        assert!(memory.code == Some(0), "{args:?}\n{}", memory.stderr);
        assert_eq!(warnings(&memory), warnings(&disk), "{args:?}");
        let (a, b) = (
            snapshot(&t.join(format!("memory{i}"))),
            snapshot(&t.join(format!("disk{i}"))),
        );
        assert!(a.len() > 2, "{args:?}: {a:?}");
        assert_eq!(a, b, "{args:?}");
    }
    let dry = |env: &str| {
        at_archive(&t, &t.archive())
            .env("DEPOT_PLAN_IN_MEMORY", env)
            .args(["export", "--level", "anonymize-full", "--dry-run", "--out"])
            .arg(t.join("dry"))
            .run()
            .ok()
    };
    let (memory, disk) = (dry("100000"), dry("1"));
    assert_eq!(memory.stdout, disk.stdout);
    assert_eq!(warnings(&memory), warnings(&disk));
    assert!(!t.join("dry").exists());
    // The plan's files are unnamed, and gone with the export.
    assert_eq!(files_below(&t.archive().join("tmp")), Vec::<PathBuf>::new());
}
