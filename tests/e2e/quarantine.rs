//! End-to-end tests of the quarantine: a package whose audit finds something blocking is kept
//! in the archive instead of published (`depot export` exits 1), listed and shown by `depot
//! review` (findings by file, tag and kind, never the value), published by `depot release`
//! once every blocking finding is accepted with a reason (recorded in the manifest), or removed
//! by `depot discard`; a profile's `[[accept]]` list accepts its coincidences at export.
//!
//! The fixture: one patient (HALVORSEN^INGRID, station MRC40213) in two files whose
//! SequenceName, an attribute `basic` keeps, holds the patient's surname (file 1: a
//! leak) and the station's name (file 2: a coincidence a lab may accept).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use dicom_core::VR;
use dicom_dictionary_std::tags;
use serde_json::Value as Json;
use synth::fixture;

use crate::export::{
    at_archive, edited, import_specs, leftovers, manifest, put_text, read_package,
};
use crate::support::*;

const NAME: &str = "HALVORSEN";
const STATION: &str = "MRC40213";

/// An archive holding the two files (or only the coincidence, with `leak` false).
pub(crate) fn archive(t: &TestDir, leak: bool) {
    let mut files = Vec::new();
    if leak {
        let a = fixture::instance("MRN-8801", "2.25.8801", "2.25.8802", "2.25.8803");
        files.push((
            "a.dcm",
            edited(&a, |o| {
                put_text(o, tags::SEQUENCE_NAME, VR::SH, "HALVORSEN 3T")
            }),
        ));
    }
    let b = fixture::InstanceSpec {
        instance_number: 2,
        ..fixture::instance("MRN-8801", "2.25.8801", "2.25.8802", "2.25.8804")
    };
    files.push((
        "b.dcm",
        edited(&b, |o| put_text(o, tags::SEQUENCE_NAME, VR::SH, STATION)),
    ));
    import_specs(t, &t.archive(), "in", "p", &files);
}

fn depot(t: &TestDir) -> Depot {
    at_archive(t, &t.archive())
}

/// Exports at `basic` to `out` (exit code not checked).
pub(crate) fn export_basic(t: &TestDir, out: &str, extra: &[&str]) -> Run {
    depot(t)
        .args(["export", "--level", "basic", "--out"])
        .arg(t.join(out))
        .args(extra)
        .run()
}

/// The quarantine ID an export printed.
pub(crate) fn quarantine_id(run: &Run) -> String {
    let at = run
        .stderr
        .find("kept in quarantine as ")
        .unwrap_or_else(|| panic!("no quarantine ID in:\n{}", run.stderr));
    run.stderr[at + "kept in quarantine as ".len()..]
        .split_whitespace()
        .next()
        .expect("id")
        .to_string()
}

fn review(t: &TestDir, id: &str) -> Json {
    depot(t).args(["review", id, "--json"]).run().ok().json()
}

/// Finding ID by kind.
fn finding_ids(entry: &Json) -> BTreeMap<String, String> {
    entry["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().expect("kind").to_string(),
                f["id"].as_str().expect("id").to_string(),
            )
        })
        .collect()
}

pub(crate) fn release(t: &TestDir, id: &str, accept: &[&str], reason: &str, by: &str) -> Run {
    depot(t)
        .args(["release", id, "--by", by, "--reason", reason, "--accept"])
        .args(accept)
        .run()
}

/// Every text file the quarantine keeps beside its packages, and what review shows.
fn quarantine_texts(t: &TestDir, id: &str) -> Vec<String> {
    let mut out = vec![
        std::fs::read_to_string(
            t.archive()
                .join("quarantine")
                .join(id)
                .join("quarantine.json"),
        )
        .expect("record"),
        depot(t).args(["review", id]).run().ok().stdout,
        depot(t).args(["review", id, "--json"]).run().ok().stdout,
        depot(t).arg("review").run().ok().stdout,
        depot(t).args(["review", "--json"]).run().ok().stdout,
    ];
    out.extend(
        std::fs::read_dir(t.archive().join("quarantine"))
            .expect("ls")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()),
    );
    out
}

/// The raw (stored) bytes and CRC of every entry of a zip, by name.
fn raw_entries(zip_path: &Path) -> BTreeMap<String, (u32, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(zip_path).expect("open")).expect("zip");
    let mut out = BTreeMap::new();
    for i in 0..z.len() {
        let mut e = z.by_index_raw(i).expect("entry");
        let name = e.name().expect("name").to_string();
        let crc = e.crc32();
        let mut raw = Vec::new();
        e.read_to_end(&mut raw).expect("raw");
        out.insert(name, (crc, raw));
    }
    out
}

fn quarantined_package(t: &TestDir, id: &str, zip: bool) -> PathBuf {
    t.archive()
        .join("quarantine")
        .join(id)
        .join(if zip { "package.zip" } else { "package" })
}

#[test]
fn a_leak_is_quarantined_reviewed_and_released_only_when_every_finding_is_accepted() {
    for out in ["pkg", "pkg.zip"] {
        let zip = out.ends_with(".zip");
        let t = TestDir::new();
        archive(&t, true);

        // Export: nothing at the destination, nothing beside it, exit 1 naming the ID.
        let run = export_basic(&t, out, &[]).expect_code(1);
        assert!(!t.join(out).exists(), "{out}: published despite findings");
        assert!(leftovers(t.path()).is_empty(), "{out}: staging left behind");
        for what in ["PatientName", "StationName"] {
            assert!(
                run.stderr
                    .contains(&format!("{what} value found in the header of"))
                    && run.stderr.contains("(blocking)"),
                "{out}: {}",
                run.stderr
            );
        }
        let id = quarantine_id(&run);
        assert!(
            run.stderr.contains(&format!("depot review {id}")),
            "{}",
            run.stderr
        );

        // The quarantined package is complete.
        let kept = read_package(&quarantined_package(&t, &id, zip));
        let names: Vec<&str> = kept.keys().map(String::as_str).collect();
        assert_eq!(
            names.len(),
            4,
            "{out}: two files and two manifests: {names:?}"
        );
        assert!(names.contains(&"manifest.json") && names.contains(&"manifest.csv"));

        // Review: listed; findings by file, tag and kind, never the values.
        let listed = depot(&t).args(["review", "--json"]).run().ok().json();
        let listed = listed.as_array().expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0]["id"], id.as_str());
        assert_eq!(listed[0]["blocking"], 2);
        assert_eq!(listed[0]["counts"]["instances"], 2);
        assert_eq!(
            listed[0]["destination"].as_str().map(PathBuf::from),
            Some(std::path::absolute(t.join(out)).expect("abs"))
        );
        let entry = review(&t, &id);
        let ids = finding_ids(&entry);
        assert_eq!(ids.len(), 2, "{entry}");
        for f in entry["findings"].as_array().expect("findings") {
            assert_eq!(f["tag"], "(0018,0024)", "{f}");
            assert_eq!(f["blocking"], true);
            assert!(f["file"].as_str().expect("file").ends_with(".dcm"));
        }
        let text = depot(&t).args(["review", &id]).run().ok().stdout;
        assert!(text.contains("F1") && text.contains("F2") && text.contains("blocking"));
        for shown in quarantine_texts(&t, &id) {
            for value in [NAME, STATION, "Halvorsen", "MRN-8801"] {
                assert!(!shown.contains(value), "{value} shown in:\n{shown}");
            }
        }

        // Release refused: a finding left unaccepted, a reason or name naming the patient.
        let run = release(&t, &id, &[&ids["PatientName"]], "checked", "ana").expect_code(2);
        assert!(
            run.stderr.contains(&ids["StationName"]) && run.stderr.contains("not accepted"),
            "{}",
            run.stderr
        );
        let run = release(
            &t,
            &id,
            &["all"],
            "Ingrid Halvorsen agreed, it is her scanner",
            "ana",
        )
        .expect_code(2);
        assert!(run.stderr.contains("identifying values"), "{}", run.stderr);
        assert!(
            !run.stderr.to_lowercase().contains("halvorsen"),
            "the refusal repeats the value: {}",
            run.stderr
        );
        let run = release(&t, &id, &["all"], "checked", "INGRID").expect_code(2);
        assert!(
            run.stderr.contains("the name contains identifying values"),
            "{}",
            run.stderr
        );
        let run = release(&t, &id, &["F9"], "checked", "ana").expect_code(2);
        assert!(run.stderr.contains("has no finding F9"), "{}", run.stderr);
        let run = release(&t, &id, &["all"], "line one\nline two", "ana").expect_code(2);
        assert!(run.stderr.contains("control characters"), "{}", run.stderr);
        assert!(!t.join(out).exists(), "{out}: a refused release published");
        assert_eq!(review(&t, &id)["id"], id.as_str(), "the entry stays");

        // Released with both accepted.
        let accepted = [ids["PatientName"].as_str(), ids["StationName"].as_str()];
        let run = release(
            &t,
            &id,
            &accepted,
            "model name, checked with the vendor",
            "ana",
        )
        .ok();
        assert!(run.stderr.contains("(accepted by ana)"), "{}", run.stderr);
        let published = read_package(&t.join(out));
        assert_eq!(
            published
                .iter()
                .filter(|(k, _)| k.ends_with(".dcm"))
                .collect::<Vec<_>>(),
            kept.iter()
                .filter(|(k, _)| k.ends_with(".dcm"))
                .collect::<Vec<_>>(),
            "{out}: DICOM files unchanged"
        );
        let m = manifest(&published);
        assert_eq!(m["release"]["id"], id.as_str());
        assert_eq!(m["release"]["by"], "ana");
        assert_eq!(
            m["release"]["reason"],
            "model name, checked with the vendor"
        );
        let mut given: Vec<&str> = accepted.to_vec();
        given.sort_by_key(|s| s[1..].parse::<u32>().unwrap_or(0));
        assert_eq!(m["release"]["accepted"], serde_json::json!(given));
        assert_eq!(m["audit"]["findings"], 2);
        assert_eq!(m["audit"]["accepted"], 2);
        for f in m["findings"].as_array().expect("findings") {
            assert_eq!(f["accepted"]["by"], "ana", "{f}");
            assert_eq!(
                f["accepted"]["reason"],
                "model name, checked with the vendor"
            );
            assert!(
                f["accepted"]["at"]
                    .as_str()
                    .is_some_and(|a| a.ends_with('Z'))
            );
            assert_eq!(f["tag"], "(0018,0024)");
            assert!(
                f["path"]
                    .as_str()
                    .is_some_and(|p| published.contains_key(p))
            );
        }
        let csv = String::from_utf8(published["manifest.csv"].clone()).expect("csv");
        assert!(csv.starts_with("subject,study,series,modality,path,blake3,bytes,findings\n"));
        assert!(
            csv.lines()
                .skip(1)
                .all(|l| l.ends_with("F1") || l.ends_with("F2")),
            "{csv}"
        );
        // The entry is gone; a second release fails cleanly; the audit still finds the leak.
        assert!(!t.archive().join("quarantine").join(&id).exists());
        let again = release(&t, &id, &["all"], "again", "ana").expect_code(2);
        assert!(
            again.stderr.contains("no quarantined package"),
            "{}",
            again.stderr
        );
        let audit = depot(&t).arg("audit").arg(t.join(out)).run().expect_code(1);
        assert!(
            audit
                .stderr
                .contains("PatientName value found in the header of"),
            "accepting must not hide the finding: {}",
            audit.stderr
        );
    }
}

#[test]
fn a_released_zip_copies_the_quarantined_entries_raw() {
    let t = TestDir::new();
    archive(&t, true);
    let id = quarantine_id(&export_basic(&t, "pkg.zip", &[]).expect_code(1));
    let before = raw_entries(&quarantined_package(&t, &id, true));
    release(&t, &id, &["all"], "checked", "ana").ok();
    let after = raw_entries(&t.join("pkg.zip"));
    let dicom: Vec<&String> = before.keys().filter(|n| n.ends_with(".dcm")).collect();
    assert_eq!(dicom.len(), 2);
    for name in dicom {
        assert_eq!(after.get(name), before.get(name), "{name}: not copied raw");
    }
    assert_ne!(after.get("manifest.json"), before.get("manifest.json"));
}

#[test]
fn release_obeys_the_export_s_destination_rules() {
    let t = TestDir::new();
    archive(&t, true);
    let id = quarantine_id(&export_basic(&t, "pkg", &[]).expect_code(1));

    // Something that is no package appeared at the destination: never replaced.
    std::fs::create_dir(t.join("pkg")).expect("mkdir");
    std::fs::write(t.join("pkg/notes.txt"), b"mine").expect("write");
    let run = release(&t, &id, &["all"], "checked", "ana").expect_code(2);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    let run = depot(&t)
        .args([
            "release", &id, "--by", "ana", "--reason", "checked", "--force", "--accept", "all",
        ])
        .run()
        .expect_code(2);
    assert!(run.stderr.contains("not a depot package"), "{}", run.stderr);
    assert_eq!(
        std::fs::read(t.join("pkg/notes.txt")).expect("kept"),
        b"mine"
    );

    // Not into the archive, not as another kind.
    for (out, says) in [
        (t.archive().join("inside"), "overlaps the archive"),
        (t.join("other.zip"), "quarantined package is a Folder"),
    ] {
        let run = depot(&t)
            .args([
                "release", &id, "--by", "ana", "--reason", "checked", "--accept", "all", "--out",
            ])
            .arg(&out)
            .run()
            .expect_code(2);
        assert!(run.stderr.contains(says), "{}", run.stderr);
        assert!(!out.exists());
    }
    assert_eq!(review(&t, &id)["id"], id.as_str(), "still quarantined");

    // Elsewhere: published there.
    depot(&t)
        .args([
            "release", &id, "--by", "ana", "--reason", "checked", "--accept", "all", "--out",
        ])
        .arg(t.join("elsewhere"))
        .run()
        .ok();
    assert!(t.join("elsewhere/manifest.json").is_file());
    assert!(leftovers(t.path()).is_empty());
}

#[test]
fn a_forced_export_is_released_over_the_old_package() {
    let t = TestDir::new();
    archive(&t, false);
    // A clean package first (the coincidence is accepted by a profile), then a leak.
    let profile = t.join("lab.toml");
    std::fs::write(
        &profile,
        "name = \"lab\"\nbase = \"basic\"\n[[accept]]\ntag = \"SequenceName\"\nkind = \"StationName\"\n",
    )
    .expect("profile");
    depot(&t)
        .args(["export", "--out"])
        .arg(t.join("pkg"))
        .arg("--profile")
        .arg(&profile)
        .run()
        .ok();
    archive(&t, true);
    let id = quarantine_id(&export_basic(&t, "pkg", &["--force"]).expect_code(1));
    assert_eq!(review(&t, &id)["force"], true);
    let old = manifest(&read_package(&t.join("pkg")));
    assert!(old["release"].is_null());
    // Who accepts: --by, else the login name; with neither, the release is refused.
    let run = depot(&t)
        .args(["release", &id, "--reason", "checked", "--accept", "all"])
        .env("USER", "")
        .env("LOGNAME", "")
        .run()
        .expect_code(2);
    assert!(run.stderr.contains("give --by"), "{}", run.stderr);
    depot(&t)
        .args(["release", &id, "--reason", "checked", "--accept", "all"])
        .env("USER", "lab-tech")
        .run()
        .ok();
    let new = manifest(&read_package(&t.join("pkg")));
    assert_eq!(
        new["release"]["id"],
        id.as_str(),
        "the recorded --force replaced it"
    );
    assert_eq!(new["release"]["by"], "lab-tech");
}

#[test]
fn discard_removes_the_entry_and_only_it() {
    let t = TestDir::new();
    archive(&t, true);
    let first = quarantine_id(&export_basic(&t, "one", &[]).expect_code(1));
    let second = quarantine_id(&export_basic(&t, "two.zip", &[]).expect_code(1));
    assert_ne!(first, second);
    let run = depot(&t).args(["discard", &first]).run().ok();
    assert!(
        run.stderr.contains(&format!("discarded {first}")),
        "{}",
        run.stderr
    );
    assert!(!t.archive().join("quarantine").join(&first).exists());
    let listed = depot(&t).args(["review", "--json"]).run().ok().json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(listed[0]["id"], second.as_str());
    depot(&t).args(["discard", &first]).run().expect_code(2);
    depot(&t).args(["review", &first]).run().expect_code(2);
    depot(&t).args(["discard", "../x"]).run().expect_code(2);
    release(&t, &first, &["all"], "checked", "ana").expect_code(2);
    assert!(!t.join("one").exists() && !t.join("two.zip").exists());
    // Lower case IDs are the same IDs.
    depot(&t)
        .args(["discard", &second.to_ascii_lowercase()])
        .run()
        .ok();
    let none = depot(&t).arg("review").run().ok();
    assert!(
        none.stdout.contains("no quarantined packages"),
        "{}",
        none.stdout
    );
}

#[test]
fn interrupted_entries_are_never_listed_and_can_be_removed() {
    let t = TestDir::new();
    archive(&t, true);
    quarantine_id(&export_basic(&t, "pkg", &[]).expect_code(1));
    let q = t.archive().join("quarantine");
    // What a crash while writing an entry leaves: a hidden folder and its lock file.
    std::fs::create_dir_all(q.join(".incoming-Q00000000-1/package")).expect("mkdir");
    std::fs::write(q.join(".incoming-Q00000000-1.lock"), b"").expect("lock");
    let run = depot(&t).args(["review", "--json"]).run().ok();
    assert_eq!(run.json().as_array().map(Vec::len), Some(1));
    assert!(run.stderr.contains("leftover"), "{}", run.stderr);
    depot(&t).args(["discard", "--leftovers"]).run().ok();
    assert!(!q.join(".incoming-Q00000000-1").exists());
    assert!(!q.join(".incoming-Q00000000-1.lock").exists());
    assert_eq!(
        depot(&t)
            .args(["review", "--json"])
            .run()
            .ok()
            .json()
            .as_array()
            .map(Vec::len),
        Some(1),
        "the complete entry stays"
    );
}

#[test]
fn a_profile_accepts_the_coincidences_it_lists_and_nothing_else() {
    let t = TestDir::new();
    archive(&t, false);
    let profile = t.join("lab.toml");
    std::fs::write(
        &profile,
        "name = \"lab\"\nbase = \"basic\"\n\
         [[accept]]\ntag = \"SequenceName\"\nkind = \"StationName\"\n",
    )
    .expect("profile");
    let with_profile = |out: &str| {
        depot(&t)
            .args(["export", "--out"])
            .arg(t.join(out))
            .arg("--profile")
            .arg(&profile)
            .run()
    };

    // Only the coincidence: published, the acceptance printed and recorded.
    let run = with_profile("clean").ok();
    assert!(
        run.stderr.contains("(accepted by profile lab)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("StationName value found"),
        "{}",
        run.stderr
    );
    let m = manifest(&read_package(&t.join("clean")));
    let f = &m["findings"][0];
    assert_eq!(m["findings"].as_array().map(Vec::len), Some(1), "{m}");
    assert_eq!(f["kind"], "StationName");
    assert_eq!(f["accepted"]["profile"], "lab");
    assert_eq!(f["accepted"]["profile_digest"], m["profile_digest"]);
    assert_eq!(m["audit"]["accepted"], 1);
    // The profile's digest covers its list: without it, the digest differs.
    let plain = t.join("plain.toml");
    std::fs::write(&plain, "name = \"lab\"\nbase = \"basic\"\n").expect("profile");
    let digests = |p: &Path| {
        depot(&t)
            .args(["profiles", "show", "--json"])
            .arg(p)
            .run()
            .ok()
            .json()["digest"]
            .clone()
    };
    assert_ne!(digests(&profile), digests(&plain));
    let shown = depot(&t)
        .args(["profiles", "show", "--json"])
        .arg(&profile)
        .run()
        .ok()
        .json();
    assert_eq!(
        shown["accept"],
        serde_json::json!([{"tag": "(0018,0024)", "kind": "StationName"}])
    );
    assert_eq!(m["profile_digest"], digests(&profile));

    // The leak is not what the profile lists: quarantined, the coincidence still accepted.
    archive(&t, true);
    let run = with_profile("leak").expect_code(1);
    assert!(!t.join("leak").exists());
    let id = quarantine_id(&run);
    let entry = review(&t, &id);
    assert_eq!(entry["blocking"], 1, "{entry}");
    assert_eq!(entry["accepted"], 1, "{entry}");
    let ids = finding_ids(&entry);
    // A finding the profile accepted needs no acceptance; naming it is refused.
    let run = release(
        &t,
        &id,
        &[&ids["StationName"], &ids["PatientName"]],
        "ok",
        "ana",
    )
    .expect_code(2);
    assert!(
        run.stderr.contains("only blocking findings"),
        "{}",
        run.stderr
    );
    release(
        &t,
        &id,
        &["all"],
        "the model name holds the surname by chance",
        "ana",
    )
    .ok();
    let m = manifest(&read_package(&t.join("leak")));
    assert_eq!(m["release"]["accepted"], serde_json::json!(["all"]));
    let by_kind: BTreeMap<&str, &Json> = m["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| (f["kind"].as_str().expect("kind"), &f["accepted"]))
        .collect();
    assert_eq!(by_kind["StationName"]["profile"], "lab");
    assert_eq!(by_kind["PatientName"]["by"], "ana");

    // Unknown fields in an [[accept]] entry are errors.
    std::fs::write(
        t.join("bad.toml"),
        "base = \"basic\"\n[[accept]]\ntag = \"StudyDescription\"\nkind = \"StationName\"\nnote = 1\n",
    )
    .expect("profile");
    depot(&t)
        .args(["export", "--out"])
        .arg(t.join("bad"))
        .arg("--profile")
        .arg(t.join("bad.toml"))
        .run()
        .expect_code(2);
}

#[test]
fn advisory_findings_are_published_and_recorded() {
    let t = TestDir::new();
    archive(&t, true);
    // anonymize keeps SequenceName and audits only the patient's own values.
    let run = depot(&t)
        .args(["export", "--level", "anonymize", "--out"])
        .arg(t.join("pkg"))
        .run()
        .ok();
    assert!(run.stderr.contains("(advisory)"), "{}", run.stderr);
    let m = manifest(&read_package(&t.join("pkg")));
    let findings = m["findings"].as_array().expect("findings");
    assert!(!findings.is_empty(), "{m}");
    assert!(
        findings
            .iter()
            .all(|f| f["blocking"] == false && f["accepted"].is_null())
    );
    assert_eq!(m["audit"]["advisory"], findings.len());
    assert!(
        !t.archive().join("quarantine").exists(),
        "nothing quarantined"
    );
}

/// Whether `a` and `b` lie on different file systems.
#[cfg(unix)]
fn different_file_systems(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() != b.dev(),
        _ => false,
    }
}

#[cfg(unix)]
#[test]
fn packages_cross_file_systems_into_the_quarantine_and_out_of_it() {
    // A destination on another file system than the archive: the staged package is copied
    // into the quarantine (no rename across file systems), and copied out on release. /dev/shm
    // is a tmpfs on Linux; where it is missing or not another file system there is nothing to
    // cross.
    let shm = Path::new("/dev/shm");
    let t = TestDir::new();
    if !different_file_systems(shm, t.path()) {
        return;
    }
    let elsewhere = tempfile::Builder::new()
        .prefix("depot-e2e-")
        .tempdir_in(shm)
        .expect("tmpfs dir");
    archive(&t, true);
    for name in ["pkg", "pkg.zip"] {
        let out = elsewhere.path().join(name);
        let run = depot(&t)
            .args(["export", "--level", "basic", "--out"])
            .arg(&out)
            .run()
            .expect_code(1);
        let id = quarantine_id(&run);
        assert!(!out.exists());
        assert!(
            leftovers(elsewhere.path()).is_empty(),
            "staging left on the other side"
        );
        let kept = read_package(&quarantined_package(&t, &id, name.ends_with(".zip")));
        assert_eq!(kept.len(), 4, "{name}: complete in quarantine");
        release(&t, &id, &["all"], "checked", "ana").ok();
        let published = read_package(&out);
        for (rel, bytes) in kept.iter().filter(|(k, _)| k.ends_with(".dcm")) {
            assert_eq!(published.get(rel), Some(bytes), "{name}: {rel}");
        }
        assert!(!t.archive().join("quarantine").join(&id).exists());
    }
}

#[test]
fn a_release_reason_naming_a_value_only_a_stored_header_carries_is_refused() {
    let t = TestDir::new();
    // The index keeps neither the patient's birth name nor the second file's institution
    // (it keeps the first file's); the export's audit searched both.
    let a = fixture::instance("MRN-8801", "2.25.8801", "2.25.8802", "2.25.8803");
    let b = fixture::InstanceSpec {
        instance_number: 2,
        institution: "FJORDSIDE KLINIKK".into(),
        ..fixture::instance("MRN-8801", "2.25.8801", "2.25.8802", "2.25.8804")
    };
    let files = [
        (
            "a.dcm",
            edited(&a, |o| {
                put_text(o, tags::SEQUENCE_NAME, VR::SH, "HALVORSEN 3T");
                put_text(o, tags::PATIENT_BIRTH_NAME, VR::PN, "KJELDSEN^SIGRID");
            }),
        ),
        ("b.dcm", edited(&b, |_| {})),
    ];
    import_specs(&t, &t.archive(), "in", "p", &files);
    let id = quarantine_id(&export_basic(&t, "pkg", &[]).expect_code(1));
    for (reason, kind) in [
        ("checked with Sigrid Kjeldsen", "PatientBirthName"),
        ("the FJORDSIDE KLINIKK scanner", "InstitutionName"),
        ("study 2.25.8801 reviewed", "StudyInstanceUID"),
    ] {
        let run = release(&t, &id, &["all"], reason, "ana").expect_code(2);
        assert!(
            run.stderr.contains("identifying values") && run.stderr.contains(kind),
            "{reason}: {}",
            run.stderr
        );
        assert!(!t.join("pkg").exists());
    }
    release(&t, &id, &["all"], "sequence label checked", "ana").ok();
    assert!(t.join("pkg").exists());
}

#[test]
fn a_release_reason_naming_the_patient_in_another_normal_form_is_refused() {
    let t = TestDir::new();
    // A patient whose name has umlauts (UTF-8), written composed as most systems write it.
    let a = fixture::instance("MRN-8801", "2.25.8801", "2.25.8802", "2.25.8803");
    let file = edited(&a, |o| {
        put_text(o, tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192");
        put_text(o, tags::PATIENT_NAME, VR::PN, "Müller-Lüdenscheidt^Hans");
        put_text(o, tags::SEQUENCE_NAME, VR::SH, "HALVORSEN 3T");
        put_text(o, tags::PATIENT_BIRTH_NAME, VR::PN, "HALVORSEN^INGRID");
    });
    import_specs(&t, &t.archive(), "in", "p", &[("a.dcm", file)]);
    let id = quarantine_id(&export_basic(&t, "pkg", &[]).expect_code(1));
    // Decomposed, as macOS writes it (u + U+0308), in the reason and in the name given as --by.
    let decomposed = "Mu\u{308}ller-Lu\u{308}denscheidt";
    for (reason, by) in [
        (format!("checked with {decomposed}"), "ana"),
        ("checked with Müller-Lüdenscheidt".to_string(), "ana"),
        ("sequence label checked".to_string(), decomposed),
    ] {
        let run = release(&t, &id, &["all"], &reason, by).expect_code(2);
        assert!(
            run.stderr.contains("identifying values") && run.stderr.contains("PatientName"),
            "{reason:?} by {by:?}: {}",
            run.stderr
        );
        assert!(!t.join("pkg").exists());
    }
    release(&t, &id, &["all"], "sequence label checked", "ana").ok();
    assert!(t.join("pkg").exists());
}
