//! Tests of the quarantine: admitting, listing, locking, releasing and discarding entries,
//! and the leftovers of interrupted runs.

use std::fs::{self, File};
use std::path::Path;

use super::entry::new_id;
use super::*;
use crate::manifest::Counts;
use crate::package::Package;

fn record() -> QuarantineRecord {
    QuarantineRecord {
        format: String::new(),
        id: String::new(),
        created: String::new(),
        destination: PathBuf::from("out/pkg.zip"),
        kind: PackageKind::Zip,
        force: false,
        key_file: None,
        level: "anonymize-full".into(),
        options: vec![],
        blank_identifiers: false,
        profile_digest: "d".into(),
        key_fingerprint: "k".into(),
        package_digest: "p".into(),
        counts: Counts::default(),
        audited_files: 3,
        findings: vec![],
        archive_subjects: vec!["S0001ABC".into()],
    }
}

fn staged(dest: &Path) -> Package {
    let p = Package::create(dest, false).expect("create");
    p.add("a/1.dcm", b"one").expect("add");
    p.add("b/3.dcm", b"three").expect("add");
    p
}

const MANIFESTS: Manifests<'static> = Manifests {
    json: &|w| w.write_all(b"{}"),
    csv: &|w| w.write_all(b"subject\n"),
};
const ORDER: [&str; 3] = ["a/1.dcm", "a/2.dcm", "b/3.dcm"];

/// Admits `staged(dest)` with a/2.dcm held back in the spool.
fn admit(q: &Quarantine, dest: &Path, r: QuarantineRecord) -> Result<Entry, QuarantineError> {
    let spool = SpoolSlot::new(q);
    assert!(spool.is_empty());
    spool.add("a/2.dcm", b"two").expect("spool");
    assert!(!spool.is_empty());
    assert!(spool.add("../x.dcm", b"x").is_err(), "names are checked");
    let order: Vec<String> = ORDER.iter().map(|s| s.to_string()).collect();
    q.admit(staged(dest), spool, MANIFESTS, &mut order.into_iter(), r)
}

/// A package's files by name.
fn files_of(e: &Entry) -> std::collections::BTreeMap<String, Vec<u8>> {
    let path = e.package_path();
    let mut out = std::collections::BTreeMap::new();
    if path.is_dir() {
        for f in walkdir::WalkDir::new(&path)
            .into_iter()
            .filter_map(Result::ok)
        {
            if f.file_type().is_file() {
                let rel = f.path().strip_prefix(&path).expect("below");
                out.insert(
                    rel.to_string_lossy().replace('\\', "/"),
                    fs::read(f.path()).expect("read"),
                );
            }
        }
    } else {
        let mut z = zip::ZipArchive::new(File::open(&path).expect("open")).expect("zip");
        for i in 0..z.len() {
            let mut f = z.by_index(i).expect("entry");
            let mut buf = Vec::new();
            f.read_to_end(&mut buf).expect("read");
            out.insert(f.name().expect("name").to_string(), buf);
        }
    }
    out
}

#[test]
fn ids_are_generated_and_checked() {
    let a = new_id();
    assert_eq!(parse_id(&a.to_ascii_lowercase()).expect("valid"), a);
    assert_ne!(a, new_id());
    for bad in [
        "",
        "Q",
        "F1",
        "Q1234567",
        "Q12345678X",
        "Q1234567I",
        "../Q12345678",
        "Q1234/678",
    ] {
        assert!(parse_id(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn entries_appear_whole_and_are_listed_loaded_locked_and_discarded() {
    let tmp = tempfile::tempdir().expect("tmp");
    let q = Quarantine::of(&tmp.path().join("arc"));
    assert!(q.list().expect("empty").entries.is_empty());
    for name in ["pkg.zip", "pkg"] {
        let dest = tmp.path().join("out").join(name);
        let mut r = record();
        r.destination = dest.clone();
        let e = admit(&q, &dest, r).expect("admit");
        assert!(e.package_path().exists(), "{name}");
        let files = files_of(&e);
        let names: Vec<&str> = files.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "a/1.dcm",
                "a/2.dcm",
                "b/3.dcm",
                "manifest.csv",
                "manifest.json"
            ],
            "{name}: complete, the held-back file and the manifest included"
        );
        assert_eq!(files["a/2.dcm"], b"two");
        if name.ends_with(".zip") {
            let z = zip::ZipArchive::new(File::open(e.package_path()).expect("open")).expect("zip");
            let order: Vec<String> = z
                .file_names()
                .map(|n| n.expect("name").into_owned())
                .collect();
            assert_eq!(order[..3], ORDER, "the export's order");
        }
        let inside: Vec<String> = fs::read_dir(&e.path)
            .expect("ls")
            .map(|d| d.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(inside.len(), 2, "record and package only: {inside:?}");
        assert_eq!(e.record.kind, PackageKind::for_destination(&dest));
        assert_eq!(e.record.format, RECORD_FORMAT);
        assert!(e.record.destination.is_absolute());
        assert!(!dest.exists(), "nothing at the destination");
        let beside: Vec<_> = fs::read_dir(tmp.path().join("out")).expect("ls").collect();
        assert!(beside.is_empty(), "no staging left beside the destination");
    }
    let listed = q.list().expect("list");
    assert_eq!(listed.entries.len(), 2);
    assert!(listed.damaged.is_empty() && listed.leftovers.is_empty());
    let id = listed.entries[0].record.id.clone();
    assert_eq!(q.load(&id).expect("load").record.id, id);

    let locked = q.lock(&id).expect("lock");
    assert!(matches!(q.lock(&id), Err(QuarantineError::Busy(_))));
    assert!(matches!(q.discard(&id), Err(QuarantineError::Busy(_))));
    q.remove(locked).expect("remove");
    assert!(matches!(q.load(&id), Err(QuarantineError::NotFound { .. })));
    assert!(matches!(
        q.discard(&id),
        Err(QuarantineError::NotFound { .. })
    ));
    assert_eq!(q.list().expect("list").entries.len(), 1);
    let names: Vec<String> = fs::read_dir(q.dir())
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "nothing but the other entry: {names:?}");
}

#[test]
fn half_written_entries_are_never_listed_and_are_cleaned_when_dead() {
    let tmp = tempfile::tempdir().expect("tmp");
    let q = Quarantine::of(&tmp.path().join("arc"));
    fs::create_dir_all(q.dir()).expect("mkdir");
    // A crash while assembling: the folder and its (unlocked) lock file.
    let dead = q.dir().join(".incoming-Q00000000-1");
    fs::create_dir_all(dead.join("package")).expect("mkdir");
    File::create(q.dir().join(".incoming-Q00000000-1.lock")).expect("lock file");
    // A live one: its lock is held.
    let live = q.dir().join(".incoming-Q11111111-2");
    fs::create_dir(&live).expect("mkdir");
    let held = File::create(q.dir().join(".incoming-Q11111111-2.lock")).expect("lock");
    held.lock().expect("lock");
    // A complete-looking folder without its record, and a damaged record.
    fs::create_dir(q.dir().join("Q22222222")).expect("mkdir");
    fs::create_dir(q.dir().join("Q33333333")).expect("mkdir");
    fs::write(q.dir().join("Q33333333").join(RECORD), b"{").expect("write");
    let listed = q.list().expect("list");
    assert!(listed.entries.is_empty());
    assert_eq!(listed.damaged.len(), 2);
    assert_eq!(listed.leftovers.len(), 4);
    let removed = q.clean_leftovers().expect("clean");
    assert_eq!(removed, std::slice::from_ref(&dead));
    assert!(!dead.exists() && live.exists());
    assert!(!q.dir().join(".incoming-Q00000000-1.lock").exists());
    assert_eq!(
        q.list().expect("list").leftovers.len(),
        2,
        "the live one stays"
    );
}

#[test]
fn a_failed_admission_leaves_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    // The quarantine cannot be created: a file stands where its folder would be.
    let arc = tmp.path().join("arc");
    fs::create_dir_all(&arc).expect("mkdir");
    fs::write(arc.join(QUARANTINE_DIR), b"x").expect("write");
    let dest = tmp.path().join("out").join("pkg");
    let q = Quarantine::of(&arc);
    let spool = SpoolSlot::new(&q);
    assert!(spool.add("a/2.dcm", b"two").is_err());
    assert!(
        q.admit(
            staged(&dest),
            spool,
            MANIFESTS,
            &mut std::iter::empty(),
            record()
        )
        .is_err()
    );
    let beside: Vec<_> = fs::read_dir(tmp.path().join("out")).expect("ls").collect();
    assert!(beside.is_empty(), "the staged package is removed");
}
