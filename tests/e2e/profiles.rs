//! End-to-end tests of `depot profiles`: the listing, `show` for levels, options and custom
//! TOML profiles (by name in the profile folder or by file), JSON output, and errors.

use std::fs;

use crate::support::*;

#[test]
fn lists_levels_options_and_custom_profiles() {
    let t = TestDir::new();
    fs::create_dir_all(t.join("profiles")).expect("mkdir");
    fs::write(
        t.join("profiles/irb.toml"),
        "base = \"basic\"\ndescription = \"IRB 17\"\noptions = [\"retain-uids\"]\n",
    )
    .expect("write");
    fs::write(t.join("profiles/broken.toml"), "base = \"nope\"\n").expect("write");
    let run = t
        .depot()
        .args(["profiles"])
        .env("DEPOT_PROFILE_DIR", t.join("profiles"))
        .run()
        .ok();
    for name in [
        "original",
        "anonymize",
        "anonymize-full",
        "basic",
        "qmenta",
        "sup142",
    ] {
        assert!(
            run.stdout.contains(&format!("  {name} ")),
            "{name} missing:\n{}",
            run.stdout
        );
    }
    assert!(run.stdout.contains("RetainDeviceIdentityOption") && run.stdout.contains("113109"));
    assert!(
        run.stdout.contains("irb") && run.stdout.contains("IRB 17"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("broken") && run.stderr.contains("unknown level"),
        "{}",
        run.stderr
    );
}

#[test]
fn show_prints_every_rule_and_options_change_them() {
    let t = TestDir::new();
    let basic = t.depot().args(["profiles", "show", "basic"]).run().ok();
    let rows: Vec<&str> = basic
        .stdout
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("TAG"))
        .collect();
    assert!(rows.len() >= 656, "{} rows", rows.len());
    let line = |out: &str, tag: &str| {
        out.lines()
            .find(|l| l.starts_with(tag))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        line(&basic.stdout, "0020,000D").contains(" U "),
        "{}",
        line(&basic.stdout, "0020,000D")
    );
    assert!(line(&basic.stdout, "50xx,xxxx").contains(" X "));
    let uids = t
        .depot()
        .args(["profiles", "show", "basic", "--option", "RetainUIDsOption"])
        .run()
        .ok();
    assert!(
        line(&uids.stdout, "0020,000D").contains(" K "),
        "{}",
        line(&uids.stdout, "0020,000D")
    );
    let dates = t
        .depot()
        .args([
            "profiles",
            "show",
            "anonymize-full",
            "--option",
            "retain-device-identity",
        ])
        .args(["--option", "retain-longitudinal-modified-dates"])
        .run()
        .ok();
    assert!(
        line(&dates.stdout, "0018,1200").contains(" C "),
        "modified dates win over device K"
    );
    let q = t.depot().args(["profiles", "show", "qmenta"]).run().ok();
    assert!(
        line(&q.stdout, "0008,0025").contains(" X ")
            && line(&q.stdout, "0040,A121").contains(" X ")
    );
    let json = t
        .depot()
        .args(["profiles", "show", "sup142", "--json"])
        .run()
        .ok()
        .json();
    assert_eq!(json["level"], "sup142");
    assert_eq!(json["removes_identity"], false);
    assert_eq!(json["rules"].as_array().map(|r| r.len() >= 43), Some(true));
}

#[test]
fn show_custom_profiles_by_name_and_file() {
    let t = TestDir::new();
    fs::create_dir_all(t.join("p")).expect("mkdir");
    fs::write(
        t.join("p/keepdesc.toml"),
        "base = \"anonymize-full\"\n[actions]\n\"0008,1030\" = \"K\"\nPatientAge = \"K\"\n",
    )
    .expect("write");
    let by_name = t
        .depot()
        .args(["profiles", "show", "keepdesc"])
        .env("DEPOT_PROFILE_DIR", t.join("p"))
        .run()
        .ok();
    let by_file = t
        .depot()
        .args(["profiles", "show", "p/keepdesc.toml"])
        .run()
        .ok();
    assert_eq!(by_name.stdout, by_file.stdout);
    let l = by_name
        .stdout
        .lines()
        .find(|l| l.starts_with("0008,1030"))
        .unwrap_or_default()
        .to_string();
    assert!(l.contains(" K ") && l.contains("custom"), "{l}");
    let run = t
        .depot()
        .args(["profiles", "show", "nosuch"])
        .run()
        .expect_code(2);
    assert!(run.stderr.contains("no profile"), "{}", run.stderr);
    fs::write(
        t.join("bad.toml"),
        "base = \"basic\"\n[actions]\nNotAKeyword = \"X\"\n",
    )
    .expect("write");
    let run = t
        .depot()
        .args(["profiles", "show", "bad.toml"])
        .run()
        .expect_code(2);
    assert!(run.stderr.contains("NotAKeyword"), "{}", run.stderr);
}

#[test]
fn anonymize_and_export_take_the_same_level_and_profile_flags() {
    // --level takes the built-in levels only (any case, with their aliases); a custom profile is
    // --profile, in `anonymize` as in `export` (before, `export --level mylab` loaded the
    // profile while `anonymize --level mylab` failed).
    let t = TestDir::new();
    fs::create_dir_all(t.join("p")).expect("mkdir");
    fs::write(t.join("p/mylab.toml"), "base = \"anonymize-full\"\n").expect("write");
    let dump = t.join("dump");
    synth::write_dump(&dump, &synth::DumpOptions::default()).expect("dump");
    t.depot()
        .args(["--archive", "archive", "import", "dump", "--quiet"])
        .run()
        .ok();
    for cmd in [
        vec!["anonymize", "dump", "out-a"],
        vec!["--archive", "archive", "export", "--out", "out-e"],
    ] {
        let run = t
            .depot()
            .args(&cmd)
            .args(["--level", "mylab"])
            .env("DEPOT_PROFILE_DIR", t.join("p"))
            .run()
            .expect_code(2);
        assert!(
            run.stderr.contains("invalid value 'mylab' for '--level"),
            "{cmd:?}: {}",
            run.stderr
        );
        let run = t
            .depot()
            .args(&cmd)
            .args(["--profile", "mylab", "--quiet"])
            .env("DEPOT_PROFILE_DIR", t.join("p"))
            .run();
        assert!(
            matches!(run.code, Some(0) | Some(1)),
            "{cmd:?}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("cannot use profile"), "{}", run.stderr);
    }
    // Level names in any case, and the aliases.
    t.depot()
        .args(["anonymize", "--level", "FULL", "dump", "out-b", "--quiet"])
        .run()
        .ok();
    assert!(t.join("out-b").is_dir());
}
