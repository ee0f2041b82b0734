//! End-to-end tests of `depot export`: the real binary exporting an archive built in the test
//! from synthetic dumps (hard cases, PHI in folder names), checked byte by byte, element by
//! element, path by path, and by importing the packages again into a fresh archive.
//!
//! The helpers here (archive set-up, package reading, DICOM flattening, leak search, edited
//! fixtures) are shared with the other modules of the binary; the tests are in the submodules,
//! by subject.

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

use crate::quarantine::quarantine_id;
use crate::support::*;

mod anonymize_full;
mod anonymize_level;
mod cases;
mod dates;
mod destination;
mod keys;
mod original;
mod other_files;
mod plan_on_disk;
mod regrouping;
mod selection;
mod uids_on_disk;

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

/// The SHA-256 of bytes, hex (what `sha256sum` prints).
pub fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The BLAKE3 of bytes, hex (what `b3sum` prints): a new archive's content hash and the
/// manifest's default checksum.
pub fn b3(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
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

/// The findings of the quarantined package `id`, as `depot review ID --json` lists them.
pub fn reviewed_findings(t: &TestDir, id: &str) -> Vec<Json> {
    let entry = at_archive(t, &t.archive())
        .args(["review", id, "--json"])
        .run()
        .ok()
        .json();
    entry["findings"].as_array().expect("findings").clone()
}
