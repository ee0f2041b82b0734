//! End-to-end tests of `depot export`: the real binary exporting an archive built in the test
//! from synthetic dumps (hard cases, PHI in folder names), checked byte by byte, element by
//! element, path by path, and by importing the packages again into a fresh archive.
//!
//! The helpers at the top (archive set-up, package reading, DICOM flattening, leak search) are
//! shared with `audit.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use dicom_core::header::Header;
use dicom_core::value::Value;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, FileMetaTableBuilder, InMemDicomObject, OpenFileOptions};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use synth::fixture::{self, InstanceSpec, SopReference, Syntax};
use synth::{DumpOptions, DumpSummary};

use crate::support::*;

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/// A dump with every hard case in few, tiny files: 2 patients × 2 studies × 5 image series × 2
/// instances of 8×8 (+ one SR per study) = 44 files. With this seed the archive files them as 4
/// subjects of one study each: the first patient's studies carry different issuers of its
/// PatientID, the second patient's PatientID is blank (filed per study). The first study holds
/// the overlay, implicit, big-endian, multi-frame and burned-in ultrasound series and two series
/// sharing SeriesNumber 1, the second the deflated one.
pub fn small_dump() -> DumpOptions {
    DumpOptions {
        subjects: 2,
        studies_per_subject: 2,
        series_per_study: 5,
        instances_per_series: 2,
        rows: 8,
        columns: 8,
        seed: 11,
    }
}

/// Writes a synthetic dump into `<tmp>/dump` and imports it into the test's archive.
pub fn archive_with_dump(t: &TestDir, opts: &DumpOptions) -> DumpSummary {
    let summary = synth::write_dump(&t.join("dump"), opts).expect("dump");
    let run = at_archive(t, &t.archive())
        .arg("import")
        .arg(t.join("dump"))
        .run();
    assert!(run.code == Some(0), "import failed\n{}", run.stderr);
    summary
}

/// A `depot --archive ARCHIVE` command.
pub fn at_archive(t: &TestDir, archive: &Path) -> Depot {
    t.depot().arg("--archive").arg(archive)
}

/// `depot export --out <tmp>/OUT ARGS...` against the test's archive (exit code not checked).
pub fn export(t: &TestDir, out: &str, args: &[&str]) -> Run {
    at_archive(t, &t.archive())
        .arg("export")
        .arg("--out")
        .arg(t.join(out))
        .args(args)
        .run()
}

/// `depot query WHAT --format json ARGS...` against `archive`.
pub fn query_at(t: &TestDir, archive: &Path, what: &str, args: &[&str]) -> Vec<Json> {
    let run = at_archive(t, archive)
        .args(["query", what])
        .args(args)
        .args(["--format", "json"])
        .run()
        .ok();
    match run.json() {
        Json::Array(rows) => rows,
        other => panic!("not an array: {other}"),
    }
}

/// `depot query WHAT --format json ARGS...` against the test's archive.
pub fn query(t: &TestDir, what: &str, args: &[&str]) -> Vec<Json> {
    query_at(t, &t.archive(), what, args)
}

/// A string field of a JSON object.
pub fn s<'a>(v: &'a Json, k: &str) -> &'a str {
    v.get(k)
        .and_then(Json::as_str)
        .unwrap_or_else(|| panic!("no string {k} in {v}"))
}

/// An integer field of a JSON object.
pub fn n(v: &Json, k: &str) -> u64 {
    v.get(k)
        .and_then(Json::as_u64)
        .unwrap_or_else(|| panic!("no number {k} in {v}"))
}

/// Every file of a package (folder or zip), by package-relative name.
pub fn read_package(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    if path.is_dir() {
        for f in files_below(path) {
            let rel = f
                .strip_prefix(path)
                .expect("below")
                .to_string_lossy()
                .replace('\\', "/");
            out.insert(rel, std::fs::read(&f).expect("read"));
        }
    } else {
        let mut z =
            zip::ZipArchive::new(std::fs::File::open(path).expect("open zip")).expect("zip");
        for i in 0..z.len() {
            let mut e = z.by_index(i).expect("entry");
            if e.is_dir() {
                continue;
            }
            let name = e.name().expect("entry name").to_string();
            let mut buf = Vec::new();
            e.read_to_end(&mut buf).expect("read entry");
            assert!(
                out.insert(name.clone(), buf).is_none(),
                "zip entry {name} twice"
            );
        }
    }
    out
}

/// Every entry name of a zip, directories included.
pub fn zip_names(path: &Path) -> Vec<String> {
    let z = zip::ZipArchive::new(std::fs::File::open(path).expect("open zip")).expect("zip");
    z.file_names()
        .map(|r| r.expect("entry name").to_string())
        .collect()
}

/// The package's manifest.json.
pub fn manifest(files: &BTreeMap<String, Vec<u8>>) -> Json {
    serde_json::from_slice(
        files
            .get("manifest.json")
            .expect("manifest.json in package"),
    )
    .expect("manifest json")
}

/// The DICOM files of a package (everything but the two manifests).
pub fn dicom_files(files: &BTreeMap<String, Vec<u8>>) -> BTreeMap<String, Vec<u8>> {
    files
        .iter()
        .filter(|(k, _)| !k.starts_with("manifest."))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Parses a whole DICOM file (preamble, meta, data set) from memory.
pub fn parse(bytes: &[u8]) -> DefaultDicomObject {
    assert!(
        bytes.len() > 132 && &bytes[128..132] == b"DICM",
        "not a DICOM file with preamble"
    );
    OpenFileOptions::new()
        .from_reader(&bytes[128..])
        .expect("parse DICOM")
}

/// One attribute's text (first value, trimmed), at the top level.
pub fn text(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    obj.get(tag)
        .and_then(|e| e.to_str().ok())
        .map(|v| v.trim_end_matches(['\0', ' ']).to_string())
}

/// The sha256 of bytes, hex.
pub fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Every element at every depth, keyed by its tag path (`(0040,0275)[0]/(0008,0090)`), with its
/// VR and value bytes (items counted for sequences; offset table and fragments for encapsulated
/// pixel data).
pub fn flatten(obj: &InMemDicomObject) -> BTreeMap<String, (VR, Vec<u8>)> {
    fn walk(obj: &InMemDicomObject, prefix: &str, out: &mut BTreeMap<String, (VR, Vec<u8>)>) {
        for e in obj.iter() {
            let t = e.tag();
            let key = format!("{prefix}({:04X},{:04X})", t.group(), t.element());
            let value = match e.value() {
                Value::Primitive(p) => p.to_bytes().into_owned(),
                Value::Sequence(sq) => {
                    for (i, item) in sq.items().iter().enumerate() {
                        walk(item, &format!("{key}[{i}]/"), out);
                    }
                    format!("{} items", sq.items().len()).into_bytes()
                }
                Value::PixelSequence(ps) => {
                    let mut b = Vec::new();
                    for o in ps.offset_table() {
                        b.extend_from_slice(&o.to_le_bytes());
                    }
                    for f in ps.fragments() {
                        b.extend_from_slice(&(f.len() as u64).to_le_bytes());
                        b.extend_from_slice(f);
                    }
                    b
                }
            };
            out.insert(key, (e.vr(), value));
        }
    }
    let mut out = BTreeMap::new();
    walk(obj, "", &mut out);
    out
}

/// The last tag of a tag path.
fn last_tag(path: &str) -> Tag {
    let t = path.rsplit('/').next().expect("tag");
    let g = u16::from_str_radix(&t[1..5], 16).expect("group");
    let e = u16::from_str_radix(&t[6..10], 16).expect("element");
    Tag(g, e)
}

/// The bytes a leak search must cover: the file as written, plus, for a deflated data set, the
/// same data set encoded uncompressed (a byte search cannot see into a deflate stream).
pub fn searchable(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    if bytes.len() > 132 && &bytes[128..132] == b"DICM" {
        let mut obj = parse(bytes);
        if obj.meta().transfer_syntax().trim_end_matches('\0') == "1.2.840.10008.1.2.1.99" {
            obj.update_meta(|m| m.transfer_syntax = "1.2.840.10008.1.2.1".to_string());
            let mut plain = Vec::new();
            obj.write_all(&mut plain)
                .expect("re-encode deflated data set");
            out.extend_from_slice(&plain);
        }
    }
    out
}

/// Bytes prepared for leak searches: each byte as one char (Latin-1), ASCII lowercased, so that
/// the standard library's (optimised) substring search does the work.
pub struct Hay(String);

impl Hay {
    /// Prepares `bytes`.
    pub fn new(bytes: &[u8]) -> Hay {
        Hay(bytes
            .iter()
            .map(|b| char::from(b.to_ascii_lowercase()))
            .collect())
    }

    /// Whether `needle` occurs, ASCII case-insensitively, in UTF-8 or Latin-1. Needles made only
    /// of digits and dots (dates, UIDs) must not touch another digit or dot, so that a date
    /// inside a random UID is not taken for a leak.
    pub fn has(&self, needle: &str) -> bool {
        let mut forms = vec![Hay::new(needle.as_bytes()).0];
        if let Some(l1) = needle
            .chars()
            .map(|c| u8::try_from(u32::from(c)).ok())
            .collect::<Option<Vec<u8>>>()
        {
            forms.push(Hay::new(&l1).0);
        }
        let numeric = needle.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        let uidish = |c: Option<char>| c.is_some_and(|c| c.is_ascii_digit() || c == '.');
        forms.iter().filter(|f| !f.is_empty()).any(|f| {
            self.0.match_indices(f.as_str()).any(|(i, m)| {
                !numeric
                    || (!uidish(self.0[..i].chars().next_back())
                        && !uidish(self.0[i + m.len()..].chars().next()))
            })
        })
    }
}

/// Whether `needle` occurs in `hay` (see [`Hay::has`]).
pub fn leaks(hay: &[u8], needle: &str) -> bool {
    Hay::new(hay).has(needle)
}

/// The subjects' pseudonyms under a level (and key flags): one `--subject CODE` export per
/// archive subject, whose package holds exactly one subject folder.
pub fn pseudonyms(t: &TestDir, level_args: &[&str]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (i, subj) in query(t, "subjects", &[]).iter().enumerate() {
        let code = s(subj, "subject").to_string();
        let dir = format!(
            "who-{i}-{}",
            sha(level_args.join(" ").as_bytes())
                .get(..8)
                .unwrap_or_default()
        );
        let mut args = vec!["--subject", code.as_str(), "--include-burned-in"];
        args.extend_from_slice(level_args);
        export(t, &dir, &args).ok();
        let m = manifest(&read_package(&t.join(&dir)));
        let ids: Vec<&str> = m["subjects"]
            .as_array()
            .expect("subjects")
            .iter()
            .map(|s| s["id"].as_str().expect("id"))
            .collect();
        assert_eq!(
            ids.len(),
            1,
            "--subject {code} exports one subject: {ids:?}"
        );
        out.insert(code, ids[0].to_string());
        std::fs::remove_dir_all(t.join(&dir)).expect("rm");
    }
    out
}

/// Staging or replaced-aside leftovers of a package below `dir`.
pub fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("ls")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".depot-partial") || n.contains(".depot-replaced"))
        .collect()
}

/// Counts of what an archive holds: (subjects, studies, series, instances).
pub fn counts(t: &TestDir, archive: &Path) -> (usize, usize, usize, usize) {
    (
        query_at(t, archive, "subjects", &[]).len(),
        query_at(t, archive, "studies", &[]).len(),
        query_at(t, archive, "series", &[]).len(),
        query_at(t, archive, "instances", &[]).len(),
    )
}

/// Imports a package folder's subject folders (not its manifests) into `archive`.
pub fn reimport(t: &TestDir, pkg: &Path, archive: &Path) -> Run {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(pkg)
        .expect("ls package")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "package has subject folders");
    at_archive(t, archive).arg("import").args(&dirs).run()
}

/// Every ReferencedSOPInstanceUID at any depth, with the tag of the sequence holding it.
fn references(obj: &InMemDicomObject, parent: Option<Tag>, out: &mut Vec<(Option<Tag>, String)>) {
    for e in obj.iter() {
        if e.tag() == tags::REFERENCED_SOP_INSTANCE_UID
            && let Ok(v) = e.to_str()
        {
            out.push((parent, v.trim_end_matches(['\0', ' ']).to_string()));
        }
        if let Some(items) = e.value().items() {
            for item in items {
                references(item, Some(e.tag()), out);
            }
        }
    }
}

/// Whether any private element remains, at any depth.
fn has_private(obj: &InMemDicomObject) -> Option<String> {
    for e in obj.iter() {
        if e.tag().group() % 2 == 1 {
            return Some(format!("{}", e.tag()));
        }
        if let Some(items) = e.value().items() {
            for item in items {
                if let Some(t) = has_private(item) {
                    return Some(format!("{} > {t}", e.tag()));
                }
            }
        }
    }
    None
}

/// The package folder of a series: `SUBJECT/STUDY/SERIES`.
fn series_dir(rel: &str) -> &str {
    rel.rsplit_once('/').map(|(d, _)| d).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// original
// ---------------------------------------------------------------------------------------------

#[test]
fn original_copies_are_byte_identical_in_folder_and_zip() {
    let t = TestDir::new();
    archive_with_dump(&t, &small_dump());
    let stored: BTreeMap<String, Json> = query(&t, "instances", &[])
        .into_iter()
        .map(|i| (s(&i, "sha256").to_string(), i))
        .collect();
    let before = snapshot(&t.archive().join("store"));
    for out in ["orig", "orig.zip"] {
        let run = export(&t, out, &["--level", "original"]).ok();
        assert!(
            run.stderr.contains("original bytes verified"),
            "{}",
            run.stderr
        );
        let files = read_package(&t.join(out));
        let dicom = dicom_files(&files);
        assert_eq!(
            dicom.len(),
            stored.len(),
            "{out}: every archived instance, burned-in ones too"
        );
        for (rel, bytes) in &dicom {
            let rec = stored
                .get(&sha(bytes))
                .unwrap_or_else(|| panic!("{out}/{rel} matches no archived file"));
            assert_eq!(
                &std::fs::read(s(rec, "path")).expect("stored"),
                bytes,
                "{rel}"
            );
            // Layout at original: archive code / study number / series label / position.
            let want = format!(
                "{}/{}/{}/",
                s(rec, "subject"),
                n(rec, "study_number"),
                s(rec, "series_label")
            );
            assert!(rel.starts_with(&want), "{rel} is not below {want}");
        }
        let hashes: BTreeSet<String> = dicom.values().map(|b| sha(b)).collect();
        assert_eq!(hashes.len(), stored.len(), "{out}: no file twice");
        let m = manifest(&files);
        assert_eq!(m["level"], "original");
        assert_eq!(m["key_fingerprint"], "none");
        assert_eq!(n(&m["counts"], "instances") as usize, stored.len());
        assert!(
            m["audit"].is_null(),
            "original is not audited: {}",
            m["audit"]
        );
    }
    assert_eq!(
        snapshot(&t.archive().join("store")),
        before,
        "the archive is not modified"
    );
}

// ---------------------------------------------------------------------------------------------
// anonymize
// ---------------------------------------------------------------------------------------------

const FIVE: [Tag; 5] = [
    tags::PATIENT_NAME,
    tags::REFERRING_PHYSICIAN_NAME,
    tags::PERFORMING_PHYSICIAN_NAME,
    tags::OPERATORS_NAME,
    tags::PATIENT_BIRTH_DATE,
];

/// Writes a data set as a DICOM file in the spec's transfer syntax.
fn write_object(obj: InMemDicomObject, spec: &InstanceSpec, path: &Path) {
    obj.with_meta(
        FileMetaTableBuilder::new()
            .transfer_syntax(spec.syntax.uid())
            .media_storage_sop_class_uid(spec.sop_class_uid.as_str())
            .media_storage_sop_instance_uid(spec.sop_uid.as_str()),
    )
    .expect("meta")
    .write_to_file(path)
    .expect("write");
}

/// Replaces the five-attribute fixture's patient name parts and birth date with same-length
/// filler everywhere except in the five attributes `anonymize` changes: private tags, overlay
/// comments, report text and the like (binary values included).
fn scrub_elsewhere(obj: &mut InMemDicomObject) {
    const GONE: [(&str, &str); 3] = [
        ("HALVORSEN", "XXXXXXXXX"),
        ("INGRID", "YYYYYY"),
        ("19710315", "20000101"),
    ];
    let tags: Vec<Tag> = obj
        .iter()
        .map(|e| e.tag())
        .filter(|t| !FIVE.contains(t))
        .collect();
    for tag in tags {
        obj.update_value(tag, |v| {
            if let Some(items) = v.items_mut() {
                items.iter_mut().for_each(scrub_elsewhere);
                return;
            }
            let Value::Primitive(p) = v else { return };
            match p {
                PrimitiveValue::U8(bytes) => {
                    let mut b = bytes.to_vec();
                    for (from, to) in GONE {
                        let n = from.len();
                        let mut i = 0;
                        while i + n <= b.len() {
                            if &b[i..i + n] == from.as_bytes() {
                                b[i..i + n].copy_from_slice(to.as_bytes());
                            }
                            i += 1;
                        }
                    }
                    *p = PrimitiveValue::from(b);
                }
                PrimitiveValue::Str(_) | PrimitiveValue::Strs(_) => {
                    let before = p.to_str().to_string();
                    let mut after = before.clone();
                    for (from, to) in GONE {
                        after = after.replace(from, to);
                    }
                    if after != before {
                        *p = PrimitiveValue::from(after);
                    }
                }
                _ => {}
            }
        });
    }
}

/// One file per transfer syntax with every hard case, an SR referring to an image, and one
/// file carrying the five attributes again inside a sequence item (three levels deep too).
/// Without `planted_elsewhere`, the patient's name and birth date occur only in the five
/// attributes (see [`scrub_elsewhere`]).
fn five_attribute_fixture(dir: &Path, planted_elsewhere: bool) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let write = |spec: &InstanceSpec, mut obj: InMemDicomObject, path: PathBuf| {
        if !planted_elsewhere {
            scrub_elsewhere(&mut obj);
        }
        write_object(obj, spec, &path);
    };
    for (i, syntax) in Syntax::ALL.into_iter().enumerate() {
        let mut spec = fixture::instance(
            "MRN-77031",
            "2.25.7700",
            &format!("2.25.77{i}0"),
            &format!("2.25.77{i}1"),
        )
        .with_hard_cases();
        spec.syntax = syntax;
        spec.series_number = Some(i as i32 + 1);
        write(
            &spec,
            spec.to_object().expect("object"),
            dir.join(format!("HALVORSEN_{i}.dcm")),
        );
    }
    let sr = fixture::sr_document(
        "MRN-77031",
        "2.25.7700",
        "2.25.7790",
        "2.25.7791",
        vec![SopReference {
            series_uid: "2.25.7700".into(),
            sop_class_uid: fixture::instance("", "", "", "").sop_class_uid,
            sop_uid: "2.25.7701".into(),
        }],
    );
    let sr = InstanceSpec {
        series_number: Some(9),
        ..sr
    };
    write(&sr, sr.to_object().expect("sr"), dir.join("report.dcm"));

    // The five attributes nested: in the RequestAttributesSequence item, and in the
    // ProtocolContextSequence item two levels further down.
    let spec = InstanceSpec {
        series_number: Some(8),
        ..fixture::instance("MRN-77031", "2.25.7700", "2.25.7780", "2.25.7781")
    }
    .with_hard_cases();
    let mut obj = spec.to_object().expect("object");
    let nested = |o: &mut InMemDicomObject| {
        o.put(DataElement::new(
            tags::PATIENT_NAME,
            VR::PN,
            PrimitiveValue::from("HALVORSEN^INGRID"),
        ));
        o.put(DataElement::new(
            tags::REFERRING_PHYSICIAN_NAME,
            VR::PN,
            PrimitiveValue::from("NWOSU^ADAEZE"),
        ));
        o.put(DataElement::new(
            tags::PERFORMING_PHYSICIAN_NAME,
            VR::PN,
            PrimitiveValue::from("LINDQVIST^TORBJORN"),
        ));
        o.put(DataElement::new(
            tags::OPERATORS_NAME,
            VR::PN,
            PrimitiveValue::from("ABERNATHY^QUILLON"),
        ));
        o.put(DataElement::new(
            tags::PATIENT_BIRTH_DATE,
            VR::DA,
            PrimitiveValue::from("19710315"),
        ));
    };
    obj.update_value(tags::REQUEST_ATTRIBUTES_SEQUENCE, |v| {
        if let Some(items) = v.items_mut() {
            for item in items.iter_mut() {
                nested(item);
                item.update_value(tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE, |v| {
                    if let Some(items) = v.items_mut() {
                        for item in items.iter_mut() {
                            item.update_value(tags::PROTOCOL_CONTEXT_SEQUENCE, |v| {
                                if let Some(items) = v.items_mut() {
                                    items.iter_mut().for_each(nested);
                                }
                            });
                        }
                    }
                });
            }
        }
    });
    write(&spec, obj, dir.join("nested.dcm"));
}

#[test]
fn anonymize_reports_the_name_it_leaves_elsewhere_as_advisory_findings() {
    // The hard cases carry the patient's name in private tags, overlay comments and report
    // text, which anonymize keeps by definition (it changes five attributes): the audit finds
    // the name there and says so, by tag and file, and the package is published with the
    // findings recorded; basic, which claims to remove identity, refuses the same data.
    let t = TestDir::new();
    five_attribute_fixture(&t.join("in"), true);
    at_archive(&t, &t.archive())
        .arg("import")
        .arg(t.join("in"))
        .run()
        .ok();
    for out in ["pkg", "pkg.zip"] {
        let run = export(&t, out, &[]).ok(); // default level: anonymize
        assert!(
            run.stderr
                .contains("PatientName value found in the header of"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("audit (advisory)"), "{}", run.stderr);
        assert!(
            run.stderr
                .contains("level anonymize removes the patient's name and birth date from those attributes only"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("audit advisory:"), "{}", run.stderr);
        let m = manifest(&read_package(&t.join(out)));
        assert_eq!(m["audit"]["blocking"], false, "{}", m["audit"]);
        assert!(n(&m["audit"], "findings") > 0, "{}", m["audit"]);
    }
}

#[test]
fn anonymize_changes_exactly_its_five_attributes_everywhere_and_nothing_else() {
    let t = TestDir::new();
    // With the hard cases: the name also sits in private tags, overlay comments and report
    // text, which anonymize must leave exactly as they are.
    five_attribute_fixture(&t.join("in"), true);
    at_archive(&t, &t.archive())
        .arg("import")
        .arg(t.join("in"))
        .run()
        .ok();
    let stored = query(&t, "instances", &[]);
    assert_eq!(stored.len(), 7);
    let originals: BTreeMap<String, DefaultDicomObject> = stored
        .iter()
        .map(|i| {
            (
                s(i, "sop_uid").to_string(),
                dicom_object::open_file(s(i, "path")).expect("open stored"),
            )
        })
        .collect();

    // Default level: anonymize. Its audit is advisory and searches only what the level
    // removes (the patient's name and birth date): the name left in the hard cases' other
    // attributes is reported, and the package is published.
    let run = export(&t, "pkg", &[]).ok();
    assert!(run.stderr.contains("audit advisory:"), "{}", run.stderr);
    let files = read_package(&t.join("pkg"));
    let m = manifest(&files);
    assert_eq!(m["level"], "anonymize");
    assert_eq!(m["audit"]["blocking"], false, "{}", m["audit"]);

    let dicom = dicom_files(&files);
    assert_eq!(
        dicom.len(),
        7,
        "{:?} {}",
        files.keys().collect::<Vec<_>>(),
        m["counts"]
    );
    let mut nested_seen = 0;
    for (rel, bytes) in &dicom {
        let pseudonym = rel.split('/').next().expect("subject folder");
        let out = parse(bytes);
        let sop = text(&out, tags::SOP_INSTANCE_UID).expect("sop");
        let orig = originals
            .get(&sop)
            .unwrap_or_else(|| panic!("{rel}: SOPInstanceUID changed at anonymize"));
        assert_eq!(
            out.meta().transfer_syntax(),
            orig.meta().transfer_syntax(),
            "{rel}"
        );
        let before = flatten(orig);
        let after = flatten(&out);
        let added: Vec<&String> = after.keys().filter(|k| !before.contains_key(*k)).collect();
        let removed: Vec<&String> = before.keys().filter(|k| !after.contains_key(*k)).collect();
        assert!(
            added.is_empty() && removed.is_empty(),
            "{rel}: added {added:?}, removed {removed:?}"
        );
        for (path, (vr, value)) in &before {
            let (vr2, value2) = &after[path];
            let tag = last_tag(path);
            if FIVE.contains(&tag) {
                if path.contains('/') {
                    nested_seen += 1;
                }
                let now = String::from_utf8_lossy(value2)
                    .trim_end_matches(['\0', ' '])
                    .to_string();
                if tag == tags::PATIENT_NAME {
                    assert_eq!(
                        now, pseudonym,
                        "{rel} {path}: PatientName becomes the subject's pseudonym"
                    );
                } else {
                    assert_eq!(
                        now,
                        "",
                        "{rel} {path}: emptied (was {:?})",
                        String::from_utf8_lossy(value)
                    );
                }
            } else {
                assert_eq!(
                    (vr, value),
                    (vr2, value2),
                    "{rel} {path} changed at anonymize"
                );
            }
        }
    }
    assert_eq!(
        nested_seen, 10,
        "the nested copies of the five attributes were checked"
    );
}

// ---------------------------------------------------------------------------------------------
// anonymize-full
// ---------------------------------------------------------------------------------------------

#[test]
fn anonymize_full_package_holds_no_identifier_and_keeps_series_and_references_whole() {
    let t = TestDir::new();
    let dump = archive_with_dump(&t, &small_dump());
    let instances = query(&t, "instances", &[]);
    assert_eq!(instances.len(), 44);
    // The dump's folder names carry the patients' names and IDs.
    assert!(instances.iter().any(|i| {
        dump.phi
            .iter()
            .any(|p| s(i, "source_path").contains(p.as_str()))
    }));

    let run = export(&t, "full", &["--level", "anonymize-full"]).ok();
    assert!(
        !run.stderr.contains("would merge") && !run.stderr.contains("would split"),
        "{}",
        run.stderr
    );
    export(&t, "full.zip", &["--level", "anonymize-full"]).ok();
    export(
        &t,
        "all",
        &["--level", "anonymize-full", "--include-burned-in"],
    )
    .ok();
    let files = read_package(&t.join("full"));
    let zipped = read_package(&t.join("full.zip"));
    let everything = read_package(&t.join("all"));

    // Zip and folder hold the same files.
    let shas = |f: &BTreeMap<String, Vec<u8>>| {
        f.iter()
            .map(|(k, v)| (k.clone(), sha(v)))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(
        shas(&files),
        shas(&zipped),
        "zip and folder packages differ"
    );

    // No planted identifier, nor original UID, in any byte, path or zip entry name.
    let mut originals: BTreeSet<String> = BTreeSet::new();
    for i in &instances {
        for k in ["study_uid", "series_uid", "sop_uid"] {
            originals.insert(s(i, k).to_string());
        }
    }
    // The search sees what it must: every planted value is found in the archived files,
    // deflated ones included.
    let stored: Vec<Hay> = instances
        .iter()
        .map(|i| Hay::new(&searchable(&std::fs::read(s(i, "path")).expect("stored"))))
        .collect();
    for p in &dump.phi {
        assert!(
            stored.iter().any(|h| h.has(p)),
            "planted value {p:?} not found in the archived files"
        );
    }
    let deflated = |b: &Vec<u8>| b.windows(22).any(|w| w == b"1.2.840.10008.1.2.1.99");
    let stored_deflated = instances
        .iter()
        .map(|i| std::fs::read(s(i, "path")).expect("stored"))
        .find(deflated)
        .expect("a deflated file");
    assert!(
        !leaks(&stored_deflated, &dump.phi[0])
            && leaks(&searchable(&stored_deflated), &dump.phi[0])
    );
    assert!(
        files.values().any(deflated),
        "the package has a deflated file, searched inflated"
    );
    let names: Vec<String> = files
        .keys()
        .cloned()
        .chain(zip_names(&t.join("full.zip")))
        .collect();
    for (rel, bytes) in files.iter().chain(everything.iter()) {
        let hay = Hay::new(&searchable(bytes));
        for p in &dump.phi {
            assert!(!hay.has(p), "planted value {p:?} left in {rel}");
        }
        for uid in &originals {
            assert!(!hay.has(uid), "original UID {uid} left in {rel}");
        }
    }
    for name in &names {
        let hay = Hay::new(name.as_bytes());
        for p in dump.phi.iter().chain(originals.iter()) {
            assert!(!hay.has(p), "{p:?} in path {name}");
        }
    }

    // Layout: pseudonym / study number / series label / position; nothing else.
    let m = manifest(&files);
    let subjects: BTreeSet<String> = m["subjects"]
        .as_array()
        .expect("subjects")
        .iter()
        .map(|s| s["id"].as_str().expect("id").to_string())
        .collect();
    let codes: BTreeSet<String> = instances
        .iter()
        .map(|i| s(i, "subject").to_string())
        .collect();
    for rel in files.keys() {
        if rel == "manifest.json" || rel == "manifest.csv" {
            continue;
        }
        let parts: Vec<&str> = rel.split('/').collect();
        assert_eq!(parts.len(), 4, "{rel}");
        assert!(
            subjects.contains(parts[0]),
            "{rel}: subject folder is a manifest pseudonym"
        );
        assert!(!codes.contains(parts[0]), "{rel}: archive code in a path");
        assert!(parts[1].bytes().all(|b| b.is_ascii_digit()), "{rel}");
        assert!(
            parts[2].bytes().all(|b| b.is_ascii_digit() || b == b'.'),
            "{rel}"
        );
        assert!(
            parts[3].len() == 9
                && parts[3].ends_with(".dcm")
                && parts[3][..5].bytes().all(|b| b.is_ascii_digit()),
            "{rel}"
        );
    }
    for code in &codes {
        assert!(
            !leaks(&files["manifest.json"], code) && !leaks(&files["manifest.csv"], code),
            "archive code {code} in the manifest"
        );
    }

    // Manifest: level, options, digest, counts, and every file with its true sha256.
    assert_eq!(m["format"], "depot-package/1");
    assert_eq!(m["level"], "anonymize-full");
    assert_eq!(m["options"], serde_json::json!([]));
    assert_eq!(m["profile_digest"].as_str().map(str::len), Some(64));
    assert_eq!(m["audit"]["blocking"], true);
    assert_eq!(n(&m["audit"], "findings"), 0);
    let mut listed = BTreeMap::new();
    let (mut studies, mut series) = (0, 0);
    for subj in m["subjects"].as_array().expect("subjects") {
        for st in subj["studies"].as_array().expect("studies") {
            studies += 1;
            for se in st["series"].as_array().expect("series") {
                series += 1;
                for f in se["files"].as_array().expect("files") {
                    let path = s(f, "path").to_string();
                    assert!(
                        path.starts_with(&format!(
                            "{}/{}/{}/",
                            s(subj, "id"),
                            n(st, "number"),
                            s(se, "number")
                        )),
                        "{path}"
                    );
                    listed.insert(path, (s(f, "sha256").to_string(), n(f, "bytes")));
                }
            }
        }
    }
    let dicom = dicom_files(&files);
    let actual: BTreeMap<String, (String, u64)> = dicom
        .iter()
        .map(|(k, v)| (k.clone(), (sha(v), v.len() as u64)))
        .collect();
    assert_eq!(
        listed, actual,
        "manifest files = package files, with their sha256"
    );
    let c = &m["counts"];
    assert_eq!(n(c, "subjects") as usize, subjects.len());
    assert_eq!(
        (n(c, "studies"), n(c, "series"), n(c, "instances") as usize),
        (studies, series, dicom.len())
    );
    assert_eq!(n(c, "bytes"), actual.values().map(|v| v.1).sum::<u64>());
    let csv = String::from_utf8(files["manifest.csv"].clone()).expect("csv utf8");
    assert_eq!(csv.lines().count(), dicom.len() + 1, "one csv row per file");
    for (path, (hash, _)) in &actual {
        assert!(
            csv.lines()
                .any(|l| l.contains(path.as_str()) && l.contains(hash.as_str())),
            "{path} not in csv"
        );
    }

    // Every file: identity removed, no private element.
    let mut new_sops: BTreeMap<String, String> = BTreeMap::new();
    let mut new_studies: BTreeSet<String> = BTreeSet::new();
    let mut refs = Vec::new();
    for (rel, bytes) in &dicom {
        let obj = parse(bytes);
        assert_eq!(
            text(&obj, tags::PATIENT_IDENTITY_REMOVED).as_deref(),
            Some("YES"),
            "{rel}"
        );
        assert_eq!(has_private(&obj), None, "{rel}: private element");
        new_sops.insert(
            text(&obj, tags::SOP_INSTANCE_UID).expect("sop"),
            rel.clone(),
        );
        new_studies.insert(text(&obj, tags::STUDY_INSTANCE_UID).expect("study"));
        let mut r = Vec::new();
        references(&obj, None, &mut r);
        refs.extend(r.into_iter().map(|x| (rel.clone(), x)));
    }
    assert_eq!(new_sops.len(), dicom.len(), "SOPInstanceUIDs stay unique");

    // Burned-in: the ultrasound series is left out and listed.
    let burned = m["burned_in"].as_array().expect("burned_in");
    assert_eq!(burned.len(), 1, "{burned:?}");
    assert_eq!(burned[0]["modality"], "US");
    assert_eq!(burned[0]["included"], false);
    assert_eq!(n(c, "series_left_out"), 1);
    let left_out = s(&burned[0], "series").to_string();
    assert!(
        !dicom.keys().any(|k| series_dir(k) == left_out),
        "{left_out} is left out"
    );
    let left_out_sops: BTreeSet<String> = dicom_files(&everything)
        .iter()
        .filter(|(k, _)| series_dir(k) == left_out)
        .map(|(_, b)| text(&parse(b), tags::SOP_INSTANCE_UID).expect("sop"))
        .collect();
    assert_eq!(
        left_out_sops.len(),
        2,
        "the burned-in series is in the --include-burned-in package"
    );

    // Every reference resolves to an exported instance (or to one of the series left out).
    let sr_refs = refs
        .iter()
        .filter(|(_, (p, _))| *p == Some(tags::REFERENCED_SOP_SEQUENCE))
        .count();
    assert!(
        sr_refs >= 18,
        "the SR content's IMAGE references survive ({sr_refs})"
    );
    for (rel, (parent, uid)) in &refs {
        let ok = new_sops.contains_key(uid)
            || left_out_sops.contains(uid)
            || (*parent == Some(tags::REFERENCED_STUDY_SEQUENCE) && new_studies.contains(uid));
        assert!(
            ok,
            "{rel}: reference {uid} (in {parent:?}) resolves to no exported instance"
        );
    }

    // Every series intact: as many files per series as archived.
    let who = pseudonyms(&t, &["--level", "anonymize-full"]);
    for se in query(&t, "series", &[]) {
        let dir = format!(
            "{}/{}/{}",
            who[s(&se, "subject")],
            n(&se, "study_number"),
            s(&se, "series_label")
        );
        let count = dicom.keys().filter(|k| series_dir(k) == dir).count();
        if dir == left_out {
            assert_eq!(count, 0);
        } else {
            assert_eq!(count as u64, n(&se, "instances"), "series {dir}");
        }
    }
    assert!(leftovers(t.path()).is_empty(), "{:?}", leftovers(t.path()));
}

#[test]
fn burned_in_series_is_included_on_request() {
    let t = TestDir::new();
    archive_with_dump(&t, &small_dump());
    let run = export(
        &t,
        "pkg",
        &["--level", "anonymize-full", "--include-burned-in"],
    )
    .ok();
    assert!(
        run.stderr
            .contains("(US) included despite possible burned-in text"),
        "{}",
        run.stderr
    );
    let files = read_package(&t.join("pkg"));
    let m = manifest(&files);
    let burned = m["burned_in"].as_array().expect("burned_in");
    assert_eq!(burned.len(), 1);
    assert_eq!(burned[0]["included"], true);
    assert_eq!(n(&m["counts"], "series_left_out"), 0);
    assert_eq!(n(&m["counts"], "instances"), 44);
    let dir = s(&burned[0], "series");
    assert_eq!(
        dicom_files(&files)
            .keys()
            .filter(|k| series_dir(k) == dir)
            .count(),
        2
    );
}

#[test]
fn exporting_only_burned_in_series_is_not_reported_as_a_dry_run() {
    // Every selected series is left out for burned-in text: the export must not claim to be a
    // dry run. Either it publishes a package whose manifest lists what was left out, or it
    // fails (exit 2) saying why nothing could be exported.
    let t = TestDir::new();
    archive_with_dump(&t, &small_dump());
    let run = export(&t, "us", &["--level", "anonymize-full", "--modality", "US"]);
    assert!(
        !run.stderr.contains("dry run"),
        "not a dry run, yet reported as one:\n{}",
        run.stderr
    );
    match run.code {
        Some(0) => {
            let m = manifest(&read_package(&t.join("us")));
            assert_eq!(n(&m["counts"], "series_left_out"), 1, "{m}");
        }
        Some(2) => {
            assert!(run.stderr.contains("burned-in"), "{}", run.stderr);
            assert!(!t.join("us").exists());
        }
        other => panic!("exit {other:?}\n{}", run.stderr),
    }
}

// ---------------------------------------------------------------------------------------------
// Stability and keys
// ---------------------------------------------------------------------------------------------

/// path → (StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID) of a package.
fn uids_by_path(pkg: &Path) -> BTreeMap<String, (String, String, String)> {
    dicom_files(&read_package(pkg))
        .iter()
        .map(|(k, b)| {
            let o = parse(b);
            let g = |t| text(&o, t).expect("uid");
            (
                k.clone(),
                (
                    g(tags::STUDY_INSTANCE_UID),
                    g(tags::SERIES_INSTANCE_UID),
                    g(tags::SOP_INSTANCE_UID),
                ),
            )
        })
        .collect()
}

fn first_dirs(pkg: &Path) -> BTreeSet<String> {
    dicom_files(&read_package(pkg))
        .keys()
        .map(|k| k.split('/').next().expect("dir").to_string())
        .collect()
}

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

// ---------------------------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Regrouping check, proven by re-import
// ---------------------------------------------------------------------------------------------

#[test]
fn anonymize_full_package_reimports_to_the_same_groups() {
    let t = TestDir::new();
    archive_with_dump(&t, &small_dump());
    let run = export(
        &t,
        "pkg",
        &["--level", "anonymize-full", "--include-burned-in"],
    )
    .ok();
    assert!(
        !run.stderr.contains("re-import"),
        "no regrouping warning expected:\n{}",
        run.stderr
    );
    assert_eq!(
        manifest(&read_package(&t.join("pkg")))["regrouping_warnings"],
        serde_json::json!([])
    );
    let fresh = t.join("fresh");
    let re = reimport(&t, &t.join("pkg"), &fresh).ok();
    assert!(!re.stderr.contains("blank PatientID"), "{}", re.stderr);
    assert_eq!(counts(&t, &fresh), counts(&t, &t.archive()));
    assert_eq!(counts(&t, &fresh).3, 44);
}

#[test]
fn whole_packages_reimport_cleanly_folder_and_zip() {
    let t = TestDir::new();
    archive_with_dump(&t, &small_dump());
    for out in ["pkg", "pkg.zip"] {
        export(
            &t,
            out,
            &["--level", "anonymize-full", "--include-burned-in"],
        )
        .ok();
        let fresh = t.join(format!("fresh-{out}"));
        // The package itself, manifests and all: they are passed over, not rejected.
        let re = at_archive(&t, &fresh)
            .arg("import")
            .arg(t.join(out))
            .run()
            .ok();
        assert!(!re.stderr.contains("manifest"), "{}", re.stderr);
        assert_eq!(counts(&t, &fresh), counts(&t, &t.archive()), "{out}");
        assert!(
            query_at(&t, &fresh, "rejects", &[]).is_empty(),
            "{out}: no rejects"
        );
    }
}

#[test]
fn blank_identifiers_warn_record_and_regroup_as_predicted() {
    let t = TestDir::new();
    // Patient A has two studies, patient B one. With PatientID blanked, the archive's rules
    // file each study of a blank PatientID as its own subject: A would split in two.
    let dir = t.join("in");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for (pid, study) in [
        ("MRN-81001", "2.25.811"),
        ("MRN-81001", "2.25.812"),
        ("MRN-81002", "2.25.813"),
    ] {
        for j in 0..2 {
            let spec = fixture::instance(pid, study, &format!("{study}1"), &format!("{study}1{j}"))
                .with_hard_cases();
            spec.write(&dir.join(format!("{study}_{j}.dcm")))
                .expect("write");
        }
    }
    at_archive(&t, &t.archive())
        .arg("import")
        .arg(&dir)
        .run()
        .ok();
    let code = query(&t, "subjects", &["--patient-id", "MRN-81001"])
        .first()
        .map(|x| s(x, "subject").to_string())
        .expect("subject A");
    let args = ["--level", "anonymize-full", "--blank-identifiers"];
    let expected = format!("1 subject would split into 2 on re-import: {code}");

    let dry = export(&t, "dry", &[&args[..], &["--dry-run"]].concat()).ok();
    assert!(
        dry.stderr.contains(&expected),
        "dry run warns too:\n{}",
        dry.stderr
    );
    assert!(!t.join("dry").exists(), "a dry run writes nothing");
    assert!(leftovers(t.path()).is_empty());

    let run = export(&t, "pkg", &args).ok();
    assert!(
        run.stderr.contains(&format!("depot: warning: {expected}")),
        "{}",
        run.stderr
    );
    let files = read_package(&t.join("pkg"));
    let m = manifest(&files);
    assert_eq!(m["blank_identifiers"], true);
    let warnings = m["regrouping_warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let w = &warnings[0];
    assert_eq!(
        (
            w["level"].as_str(),
            w["kind"].as_str(),
            n(w, "would_become")
        ),
        (Some("subject"), Some("split"), 2)
    );
    // In the manifest the subject is named by its pseudonym, never by its archive code.
    assert!(
        !leaks(&files["manifest.json"], &code),
        "archive code in manifest"
    );
    let pseudonym = w["groups"][0].as_str().expect("group");
    assert!(
        files
            .keys()
            .any(|k| k.starts_with(&format!("{pseudonym}/"))),
        "{pseudonym} is a package subject"
    );
    assert!(s(w, "message").contains(pseudonym));

    // As predicted: 2 subjects become 3; studies, series and instances do not move.
    let (subjects, studies, series, instances) = counts(&t, &t.archive());
    assert_eq!((subjects, studies, instances), (2, 3, 6));
    let fresh = t.join("fresh");
    reimport(&t, &t.join("pkg"), &fresh).ok();
    assert_eq!(
        counts(&t, &fresh),
        (subjects + 1, studies, series, instances)
    );
    assert!(
        query_at(&t, &fresh, "subjects", &[])
            .iter()
            .all(|x| x["blank_patient_id"] == true)
    );

    // Without --blank-identifiers the same data regroups as archived: no warning.
    let plain = export(&t, "plain", &["--level", "anonymize-full"]).ok();
    assert!(!plain.stderr.contains("re-import"), "{}", plain.stderr);
    let fresh2 = t.join("fresh2");
    reimport(&t, &t.join("plain"), &fresh2).ok();
    assert_eq!(counts(&t, &fresh2), (subjects, studies, series, instances));
}

// ---------------------------------------------------------------------------------------------
// Atomic, no clobber
// ---------------------------------------------------------------------------------------------

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
            run.stderr.contains("does not match its SHA-256"),
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

// ---------------------------------------------------------------------------------------------
// Selection
// ---------------------------------------------------------------------------------------------

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
            .map(|r| s(r, "sha256").to_string())
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
            .map(|b| sha(b))
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

// ---------------------------------------------------------------------------------------------
// Review fixes: destinations, layout, identifiers, audit, regrouping, demo
// ---------------------------------------------------------------------------------------------

/// Imports one folder of files written from specs (in order) into `archive`, as `project`.
pub fn import_specs(
    t: &TestDir,
    archive: &Path,
    folder: &str,
    project: &str,
    files: &[(&str, Vec<u8>)],
) {
    let dir = t.join(folder);
    std::fs::create_dir_all(&dir).expect("mkdir");
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).expect("write");
    }
    at_archive(t, archive)
        .args(["import", "--project", project])
        .arg(&dir)
        .run()
        .ok();
}

/// A spec's file bytes after `edit` changed its data set.
pub fn edited(spec: &InstanceSpec, edit: impl FnOnce(&mut InMemDicomObject)) -> Vec<u8> {
    let mut obj = spec.to_object().expect("object");
    edit(&mut obj);
    let mut out = Vec::new();
    obj.with_meta(
        FileMetaTableBuilder::new()
            .transfer_syntax(spec.syntax.uid())
            .media_storage_sop_class_uid(spec.sop_class_uid.as_str())
            .media_storage_sop_instance_uid(spec.sop_uid.as_str()),
    )
    .expect("meta")
    .write_all(&mut out)
    .expect("encode");
    out
}

pub fn put_text(obj: &mut InMemDicomObject, tag: Tag, vr: VR, text: &str) {
    obj.put(DataElement::new(tag, vr, PrimitiveValue::from(text)));
}

#[test]
fn export_refuses_a_destination_overlapping_the_archive() {
    let t = TestDir::new();
    let spec = fixture::instance("MRN-3030", "2.25.3031", "2.25.3032", "2.25.3033");
    import_specs(
        &t,
        &t.archive(),
        "in",
        "p",
        &[("a.dcm", spec.to_bytes().expect("bytes"))],
    );
    let before = snapshot(&t.archive());
    let archive = t.archive();
    let cases: Vec<(PathBuf, Vec<&str>)> = vec![
        // The archive itself, and its parent, with --force: would have deleted the archive.
        (archive.clone(), vec!["--force"]),
        (t.path().to_path_buf(), vec!["--force"]),
        (archive.clone(), vec!["--dry-run"]),
        (archive.join("pkg"), vec![]),
        (archive.join("store/pkg.zip"), vec!["--force"]),
        (archive.join("new/../pkg"), vec![]),
        (t.join("elsewhere/../archive"), vec!["--force"]),
    ];
    for (out, args) in cases {
        let run = at_archive(&t, &archive)
            .args(["export", "--level", "anonymize-full", "--out"])
            .arg(&out)
            .args(&args)
            .run()
            .expect_code(2);
        assert!(
            run.stderr.contains("overlaps the archive"),
            "{}: {}",
            out.display(),
            run.stderr
        );
        assert_eq!(
            snapshot(&archive),
            before,
            "{}: archive changed",
            out.display()
        );
    }
    assert!(!archive.join("pkg").exists() && !archive.join("new").exists());
    assert_eq!(
        query(&t, "instances", &[]).len(),
        1,
        "the archive still works"
    );
    // Beside the archive is fine.
    export(&t, "archive-pkg", &["--level", "anonymize-full"]).ok();
}

#[test]
fn archive_subjects_of_two_projects_with_one_patient_id_keep_their_studies_apart() {
    let t = TestDir::new();
    let a = InstanceSpec {
        patient_name: "ALPHA^ANNA".into(),
        ..fixture::instance("SAME-4242", "2.25.4201", "2.25.4202", "2.25.4203")
    };
    let b = InstanceSpec {
        patient_name: "BETA^BERTA".into(),
        ..fixture::instance("SAME-4242", "2.25.4211", "2.25.4212", "2.25.4213")
    };
    import_specs(
        &t,
        &t.archive(),
        "p1",
        "p1",
        &[("a.dcm", a.to_bytes().expect("a"))],
    );
    import_specs(
        &t,
        &t.archive(),
        "p2",
        "p2",
        &[("b.dcm", b.to_bytes().expect("b"))],
    );
    assert_eq!(
        query(&t, "subjects", &[]).len(),
        2,
        "one subject per project"
    );
    for level in ["anonymize-full", "anonymize"] {
        let out = format!("pkg-{level}");
        export(&t, &out, &["--level", level]).ok();
        let files = read_package(&t.join(&out));
        let dicom = dicom_files(&files);
        let series: BTreeSet<&str> = dicom.keys().map(|k| series_dir(k)).collect();
        assert_eq!(
            series.len(),
            2,
            "{level}: two series folders: {:?}",
            dicom.keys()
        );
        let subjects: BTreeSet<&str> = dicom.keys().filter_map(|k| k.split('/').next()).collect();
        assert_eq!(
            subjects.len(),
            1,
            "{level}: one pseudonym (linked by PatientID)"
        );
        let m = manifest(&files);
        let c = &m["counts"];
        assert_eq!(
            (
                n(c, "subjects"),
                n(c, "studies"),
                n(c, "series"),
                n(c, "instances")
            ),
            (1, 2, 2, 2),
            "{level}: {c}"
        );
        let pseudonym = subjects.iter().next().copied().unwrap_or_default();
        let warnings = m["regrouping_warnings"].as_array().expect("warnings");
        assert_eq!(warnings.len(), 1, "{level}: {warnings:?}");
        let msg = s(&warnings[0], "message");
        assert_eq!(
            msg,
            format!("2 subjects would merge into 1 on re-import: {pseudonym} (2 archive subjects)"),
            "{level}"
        );
        assert_eq!(warnings[0]["groups"], serde_json::json!([pseudonym]));
        if level == "anonymize-full" {
            let fresh = t.join("re");
            reimport(&t, &t.join(&out), &fresh).ok();
            assert_eq!(counts(&t, &fresh), (1, 2, 2, 2), "re-import as predicted");
        }
    }
}

/// Study folder (`PQ.../N`) → exported StudyInstanceUID of every file of a package.
fn study_dirs(pkg: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, (study, _, _)) in uids_by_path(pkg) {
        let dir = rel.split('/').take(2).collect::<Vec<_>>().join("/");
        out.entry(dir).or_default().insert(study);
    }
    out
}

#[test]
fn a_shared_pseudonym_s_study_paths_do_not_depend_on_the_selection() {
    // One PatientID in three projects: three archive subjects, one pseudonym. Whatever is
    // selected, and as projects are added, a study folder names the same study.
    let t = TestDir::new();
    let spec = |study: &str| {
        let i = study.rsplit('.').next().unwrap_or_default();
        fixture::instance(
            "SAME-8888",
            study,
            &format!("{study}.1"),
            &format!("{study}.1.{i}"),
        )
        .to_bytes()
        .expect("bytes")
    };
    let full = ["--level", "anonymize-full"];
    import_specs(
        &t,
        &t.archive(),
        "p1",
        "p1",
        &[("a.dcm", spec("2.25.8101"))],
    );
    export(&t, "p1-before", &full).ok();
    import_specs(
        &t,
        &t.archive(),
        "p2",
        "p2",
        &[("b.dcm", spec("2.25.8201")), ("c.dcm", spec("2.25.8301"))],
    );
    export(&t, "all", &full).ok();
    for p in ["p1", "p2"] {
        export(
            &t,
            &format!("pkg-{p}"),
            &[&full[..], &["--project", p]].concat(),
        )
        .ok();
    }
    export(
        &t,
        "p2-one",
        &[&full[..], &["--study", "2.25.8301"]].concat(),
    )
    .ok();
    import_specs(
        &t,
        &t.archive(),
        "p3",
        "p3",
        &[("d.dcm", spec("2.25.8401"))],
    );
    export(&t, "all-later", &full).ok();
    export(&t, "pkg-p3", &[&full[..], &["--project", "p3"]].concat()).ok();

    let packages = [
        "p1-before",
        "all",
        "pkg-p1",
        "pkg-p2",
        "p2-one",
        "all-later",
        "pkg-p3",
    ];
    let mut by_dir: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut by_study: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for p in packages {
        for (dir, studies) in study_dirs(&t.join(p)) {
            assert_eq!(studies.len(), 1, "{p}: {dir} holds {studies:?}");
            for st in studies {
                by_study.entry(st.clone()).or_default().insert(dir.clone());
                by_dir.entry(dir.clone()).or_default().insert(st);
            }
        }
    }
    assert_eq!(by_study.len(), 4, "four studies: {by_study:?}");
    for (study, dirs) in &by_study {
        assert_eq!(dirs.len(), 1, "study {study} at several paths: {dirs:?}");
    }
    for (dir, studies) in &by_dir {
        assert_eq!(
            studies.len(),
            1,
            "{dir} names different studies: {studies:?}"
        );
    }
    // Numbered in the order the subjects were imported, then by study: p1's study is 1, the
    // later projects append.
    let numbers = |p: &str| -> Vec<String> {
        study_dirs(&t.join(p))
            .into_keys()
            .map(|d| d.rsplit('/').next().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(numbers("p1-before"), ["1"]);
    assert_eq!(numbers("pkg-p1"), ["1"]);
    assert_eq!(numbers("pkg-p2"), ["2", "3"]);
    let one = numbers("p2-one");
    assert!(
        one.len() == 1 && numbers("pkg-p2").contains(&one[0]),
        "{one:?}"
    );
    assert_eq!(numbers("all"), ["1", "2", "3"]);
    assert_eq!(numbers("all-later"), ["1", "2", "3", "4"]);
    assert_eq!(numbers("pkg-p3"), ["4"]);
    assert_eq!(
        uids_by_path(&t.join("p1-before")),
        uids_by_path(&t.join("pkg-p1"))
    );
}

#[test]
fn every_name_of_a_subject_is_cut_from_each_of_its_files() {
    // One patient (one PatientID) known by two names: the archive indexes the first seen. The
    // older file's description names the other one.
    let t = TestDir::new();
    let first = InstanceSpec {
        patient_name: "BRANDT^GRETA".into(),
        study_description: "KONTROLLE, GEB. MEIERHOFF".into(),
        ..fixture::instance("DE-000007", "2.25.5101", "2.25.5102", "2.25.5103")
    };
    let second = InstanceSpec {
        patient_name: "MEIERHOFF^GRETA".into(),
        ..fixture::instance("DE-000007", "2.25.5111", "2.25.5112", "2.25.5113")
    };
    import_specs(
        &t,
        &t.archive(),
        "d1",
        "p",
        &[("a.dcm", first.to_bytes().expect("a"))],
    );
    import_specs(
        &t,
        &t.archive(),
        "d2",
        "p",
        &[("b.dcm", second.to_bytes().expect("b"))],
    );
    let subjects = query(&t, "subjects", &[]);
    assert_eq!(subjects.len(), 1);
    assert_eq!(s(&subjects[0], "patient_name"), "BRANDT^GRETA");
    export(
        &t,
        "pkg",
        &["--level", "anonymize-full", "--option", "clean-descriptors"],
    )
    .ok();
    let files = read_package(&t.join("pkg"));
    assert_eq!(dicom_files(&files).len(), 2);
    for (rel, bytes) in &files {
        let hay = Hay::new(&searchable(bytes));
        for name in ["MEIERHOFF", "BRANDT", "GRETA"] {
            assert!(!hay.has(name), "{name} left in {rel}");
        }
    }
    let described = dicom_files(&files)
        .values()
        .filter_map(|b| text(&parse(b), tags::STUDY_DESCRIPTION))
        .collect::<Vec<_>>();
    assert!(
        described.iter().any(|d| d.contains("KONTROLLE")),
        "the description is cleaned, not dropped: {described:?}"
    );
}

#[test]
fn a_name_seen_only_in_another_file_of_the_subject_is_audited() {
    // The other name, found only in the headers (the index holds the first), is a PatientName
    // finding where another file mentions it: in SequenceName, which neither basic (Table
    // E.1-1 does not list it) nor anonymize changes. (In ManufacturerModelName, a kept
    // equipment attribute, it would be an advisory coincidence: see docs/export.md.)
    let t = TestDir::new();
    let first = InstanceSpec {
        patient_name: "BRANDT^GRETA".into(),
        ..fixture::instance("DE-000008", "2.25.5201", "2.25.5202", "2.25.5203")
    };
    let second = InstanceSpec {
        patient_name: "MEIERHOFF^GRETA".into(),
        ..fixture::instance("DE-000008", "2.25.5211", "2.25.5212", "2.25.5213")
    };
    let mentioned = edited(&first, |o| {
        put_text(o, tags::SEQUENCE_NAME, VR::SH, "GEB. MEIERHOFF")
    });
    import_specs(&t, &t.archive(), "d1", "p", &[("a.dcm", mentioned)]);
    import_specs(
        &t,
        &t.archive(),
        "d2",
        "p",
        &[("b.dcm", second.to_bytes().expect("b"))],
    );
    for (level, blocking) in [("basic", true), ("anonymize", false)] {
        let out = format!("pkg-{level}");
        let run = if blocking {
            export(&t, &out, &["--level", level]).expect_code(1)
        } else {
            export(&t, &out, &["--level", level]).ok()
        };
        assert!(
            run.stderr
                .contains("PatientName value found in the header of"),
            "{level}: {}",
            run.stderr
        );
        assert_eq!(t.join(&out).exists(), !blocking, "{level}");
    }
}

#[test]
fn an_original_uid_seen_in_the_headers_is_audited() {
    // At anonymize-full: an original FrameOfReferenceUID copied into text the level keeps
    // (ManufacturerModelName is not in Table E.1-1: only identifiers are cut from it).
    let t = TestDir::new();
    let spec = InstanceSpec {
        frame_of_reference_uid: Some("2.25.5301".into()),
        ..fixture::instance("MRN-5300", "2.25.5302", "2.25.5303", "2.25.5304")
    };
    let bytes = edited(&spec, |o| {
        put_text(
            o,
            tags::MANUFACTURER_MODEL_NAME,
            VR::LO,
            "PHANTOM 2.25.5301",
        )
    });
    import_specs(&t, &t.archive(), "in", "p", &[("a.dcm", bytes)]);
    let run = export(&t, "pkg", &["--level", "anonymize-full"]).expect_code(1);
    assert!(
        run.stderr
            .contains("FrameOfReferenceUID value found in the header of"),
        "{}",
        run.stderr
    );
    assert!(!t.join("pkg").exists());
}

#[test]
fn anonymize_and_sup142_report_what_they_leave_and_basic_refuses_it() {
    let t = TestDir::new();
    let spec = fixture::instance("MRN-6060", "2.25.6061", "2.25.6062", "2.25.6063");
    let bytes = edited(&spec, |o| {
        put_text(
            o,
            tags::IMAGE_COMMENTS,
            VR::LT,
            "Ingrid Halvorsen, born 1971-03-15",
        );
        put_text(o, tags::STUDY_DESCRIPTION, VR::LO, "FOLLOW-UP ACC20240102");
    });
    import_specs(&t, &t.archive(), "in", "p", &[("a.dcm", bytes)]);
    for out in ["pkg", "pkg.zip"] {
        let run = export(&t, out, &[]).ok();
        for what in ["PatientName", "PatientBirthDate"] {
            assert!(
                run.stderr
                    .contains(&format!("{what} value found in the header of")),
                "{out}: {}",
                run.stderr
            );
        }
        let m = manifest(&read_package(&t.join(out)));
        assert_eq!(m["audit"]["blocking"], false);
        assert!(n(&m["audit"], "findings") >= 2, "{}", m["audit"]);
    }
    let run = export(&t, "s142", &["--level", "sup142"]).ok();
    assert!(
        run.stderr
            .contains("AccessionNumber value found in the header of"),
        "{}",
        run.stderr
    );
    assert!(t.join("s142").is_dir());
    // A level that claims to remove identity publishes nothing with findings. ImageComments
    // is X in basic, StudyDescription too, so basic is clean here; the name in a private
    // attribute is removed with it. Blocking is shown in the tests of anonymize-full.
    let run = export(&t, "basic", &["--level", "basic"]).ok();
    assert!(run.stderr.contains("audit clean"), "{}", run.stderr);

    // What anonymize keeps by design (PatientID, dates, UIDs) is no finding.
    let t = TestDir::new();
    import_specs(
        &t,
        &t.archive(),
        "in",
        "p",
        &[("a.dcm", spec.to_bytes().expect("b"))],
    );
    let run = export(&t, "pkg", &[]).ok();
    assert!(run.stderr.contains("audit clean"), "{}", run.stderr);
    let files = read_package(&t.join("pkg"));
    let m = manifest(&files);
    assert_eq!(m["audit"]["blocking"], false, "advisory at anonymize");
    assert_eq!(n(&m["audit"], "findings"), 0);
    let obj = parse(dicom_files(&files).values().next().expect("a file"));
    assert_eq!(text(&obj, tags::PATIENT_ID).as_deref(), Some("MRN-6060"));
}

#[test]
fn a_profile_that_empties_series_uids_reports_rejections_not_merges() {
    let t = TestDir::new();
    let a = fixture::instance("MRN-7071", "2.25.7071", "2.25.7072", "2.25.7073");
    let b = fixture::instance("MRN-7081", "2.25.7081", "2.25.7082", "2.25.7083");
    import_specs(
        &t,
        &t.archive(),
        "in",
        "p",
        &[
            ("a.dcm", a.to_bytes().expect("a")),
            ("b.dcm", b.to_bytes().expect("b")),
        ],
    );
    std::fs::write(
        t.join("zap.toml"),
        "name = \"zap-series\"\nbase = \"anonymize-full\"\n[actions]\n\"0020,000E\" = \"Z\"\n",
    )
    .expect("profile");
    let profile = t.join("zap.toml");
    let profile = profile.to_str().expect("utf8 path");
    let want = "2 instances would be rejected on re-import: no SeriesInstanceUID";
    let dry = export(&t, "dry", &["--profile", profile, "--dry-run"]).ok();
    assert!(dry.stderr.contains(want), "{}", dry.stderr);
    assert!(!dry.stderr.contains("would merge"), "{}", dry.stderr);
    let run = export(&t, "pkg", &["--profile", profile]).ok();
    assert!(run.stderr.contains(want), "{}", run.stderr);
    let m = manifest(&read_package(&t.join("pkg")));
    let w = m["regrouping_warnings"].as_array().expect("warnings");
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0]["kind"], "rejected");
    assert_eq!(w[0]["reason"], "no SeriesInstanceUID");
    assert_eq!(w[0]["instances"], 2);
    assert!(s(&w[0], "message").starts_with(want), "{}", w[0]);
    // As predicted: the import rejects every file.
    let fresh = t.join("re");
    let re = reimport(&t, &t.join("pkg"), &fresh);
    assert!(re.stderr.contains("2 rejected"), "{}", re.stderr);
}

#[test]
fn subjects_without_patient_id_get_their_pseudonym_as_patient_id() {
    // Two studies of a patient whose files have no PatientID element: the archive files each
    // study as a subject of its own.
    let t = TestDir::new();
    let mut files = Vec::new();
    for (i, study) in ["2.25.8010", "2.25.8020"].into_iter().enumerate() {
        let spec = fixture::instance("", study, &format!("{study}.1"), &format!("{study}.1.1"));
        let bytes = edited(&spec, |o| {
            o.remove_element(tags::PATIENT_ID);
        });
        files.push((if i == 0 { "a.dcm" } else { "b.dcm" }, bytes));
    }
    import_specs(&t, &t.archive(), "in", "p", &files);
    let archived = counts(&t, &t.archive());
    assert_eq!(archived.0, 2, "one archive subject per study");
    let run = export(&t, "pkg", &["--level", "anonymize-full"]).ok();
    assert!(
        !run.stderr.contains("would merge") && !run.stderr.contains("would split"),
        "{}",
        run.stderr
    );
    let dicom = dicom_files(&read_package(&t.join("pkg")));
    let mut ids = BTreeSet::new();
    for (rel, bytes) in &dicom {
        let folder = rel.split('/').next().expect("folder");
        let id = text(&parse(bytes), tags::PATIENT_ID);
        assert_eq!(
            id.as_deref(),
            Some(folder),
            "{rel}: PatientID is the pseudonym"
        );
        ids.insert(folder.to_string());
    }
    assert_eq!(ids.len(), 2, "each archive subject its own pseudonym");
    let fresh = t.join("re");
    reimport(&t, &t.join("pkg"), &fresh).ok();
    assert_eq!(
        counts(&t, &fresh),
        archived,
        "re-import gives the same groups"
    );
    let back: BTreeSet<String> = query_at(&t, &fresh, "subjects", &[])
        .iter()
        .map(|x| s(x, "patient_id").to_string())
        .collect();
    assert_eq!(back, ids);
}

#[test]
fn manifest_modality_is_a_defined_term_or_nothing() {
    let t = TestDir::new();
    let spec = InstanceSpec {
        modality: "mr,\"Halvorsen".into(),
        ..fixture::instance("MRN-9090", "2.25.9091", "2.25.9092", "2.25.9093")
    };
    import_specs(
        &t,
        &t.archive(),
        "in",
        "p",
        &[("a.dcm", spec.to_bytes().expect("a"))],
    );
    // A Modality holding a name is no defined term: the manifest says nothing of it, at any
    // level (the value comes from the index, not from the de-identified header).
    for level in ["original", "anonymize-full"] {
        let out = format!("pkg-{level}");
        export(&t, &out, &["--level", level]).ok();
        let files = read_package(&t.join(&out));
        let m = manifest(&files);
        let se = &m["subjects"][0]["studies"][0]["series"][0];
        assert_eq!(se["modality"], "", "{level}");
        for f in ["manifest.csv", "manifest.json"] {
            let text = String::from_utf8(files[f].clone())
                .expect("utf8")
                .to_lowercase();
            assert!(!text.contains("halvorsen"), "{level} {f}: {text}");
        }
    }
}

#[test]
fn demo_exports_at_each_level_and_shows_refusals_as_the_audit_at_work() {
    let t = TestDir::new();
    let run = t.depot().args(["demo", "d"]).run().ok();
    let out = &run.stdout;
    for name in [
        "original",
        "anonymize",
        "sup142",
        "qmenta",
        "basic",
        "anonymize-full.zip",
        "anonymize-full-shifted-dates",
    ] {
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("packages/{name} ")))
            .unwrap_or_else(|| panic!("no line for {name}:\n{out}"));
        let exists = t.join("d/packages").join(name).exists();
        if line.contains("not published: the audit found") {
            assert!(line.contains("kept in quarantine as Q"), "{line}");
            assert!(!exists, "{name} is reported refused but exists");
        } else {
            assert!(line.contains(" files"), "{line}");
            assert!(exists, "{name} is reported published but missing");
        }
        if name.starts_with("anonymize-full") || name == "original" {
            assert!(!line.contains("not published"), "{line}");
        }
    }
    assert!(
        out.contains("depot audit packages/anonymize-full.zip: clean"),
        "{out}"
    );
    // The quarantine step: kept, reviewed by finding ID, discarded; nothing published.
    let step = out
        .lines()
        .find(|l| l.starts_with("7. "))
        .unwrap_or_else(|| panic!("no quarantine step:\n{out}"));
    assert!(step.contains("kept in quarantine as Q"), "{step}");
    assert!(
        out.contains("F1  blocking  ReferringPhysicianName value found"),
        "{out}"
    );
    assert!(out.contains("depot discard Q"), "{out}");
    assert!(!t.join("d/packages/keep-requesting").exists());
    let q = t.join("d/archive/quarantine");
    assert_eq!(
        std::fs::read_dir(&q).map(|d| d.count()).unwrap_or(0),
        0,
        "the demo leaves no quarantine entry"
    );
}
