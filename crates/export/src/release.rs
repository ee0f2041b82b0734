//! Releasing a quarantined package: a person accepts every blocking finding, says why, and the
//! package is published to its destination with a manifest recording who accepted what, why
//! and when.
//!
//! The order, so that a refusal changes nothing and a failure loses nothing:
//! 1. Lock the entry (no other release or discard acts on it meanwhile).
//! 2. Check the acceptances: each named finding exists and is blocking; every blocking finding
//!    not accepted by the profile is accepted (`all` accepts them all).
//! 3. Check the reason and the name: plain text, and none of the identifying values the
//!    archive holds for the package's subjects (they are published in the manifest): those of
//!    the index and of every stored header of the subjects, as the export's audit searched
//!    them.
//! 4. Check the destination with the export's own rules ([`check_destination`]): never the
//!    archive or the key file, nothing replaced without the recorded or given `force`, and
//!    only a depot package.
//! 5. Copy the package into a new staging place beside the destination, each file checked
//!    against the checksum its manifest records, by the manifest's algorithm (the manifest
//!    itself against the record's SHA-256 digest). A zip's entries are copied raw, byte for
//!    byte; the manifest is rewritten with the acceptances and the release. Then the package is synced and published as an export is.
//! 6. Only then is the quarantine entry removed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use archive::Archive;
use sha2::{Digest, Sha256};

use crate::findings::{self, Accepted, FindingRecord};
use crate::manifest::{FileChecksum, FindingEntry, Manifest, ReleaseEntry};
use crate::package::{Package, PackageError, PackageKind};
use crate::pipeline::{ExportError, check_destination, index_needles};
use crate::quarantine::{Entry, Quarantine, QuarantineError};
use crate::stored_values::StoredValuesError;
use crate::stored_values::stored_values;
use audit::{AuditError, Auditor, Needle, Rules, ValueKind};

/// The longest reason accepted, in characters.
pub const MAX_REASON: usize = 2000;
/// The longest name accepted, in characters.
pub const MAX_NAME: usize = 200;

/// What to release, and on whose word.
#[derive(Debug, Clone)]
pub struct ReleaseRequest {
    /// The quarantine entry's ID.
    pub id: String,
    /// Finding IDs accepted (`F1`, case ignored), or `all`.
    pub accept: Vec<String>,
    /// Why the findings are acceptable (published in the manifest).
    pub reason: String,
    /// Who accepts them (published in the manifest).
    pub by: String,
    /// Allow replacing a depot package at the destination even if the export did not.
    pub force: bool,
    /// Publish somewhere else than the recorded destination (same kind: folder or zip).
    pub out: Option<PathBuf>,
}

/// What a release did.
#[derive(Debug)]
pub struct ReleaseSummary {
    /// The entry's ID.
    pub id: String,
    /// Where the package is now.
    pub published: PathBuf,
    /// Folder or zip.
    pub kind: PackageKind,
    /// The manifest as published.
    pub manifest: Manifest,
    /// Every finding, with who accepted it.
    pub findings: Vec<FindingRecord>,
    /// The entry could not be removed after publication (the package is published; the entry
    /// is left in the quarantine and may be discarded).
    pub not_removed: Option<QuarantineError>,
}

/// Why a release stopped. Nothing is published, and the entry stays, in every case.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReleaseError {
    /// The entry cannot be found, locked or read.
    #[error(transparent)]
    Quarantine(#[from] QuarantineError),
    /// `--accept` names a finding the entry does not have.
    #[error("quarantined package {id} has no finding {finding} (its findings are F1 to F{count})")]
    UnknownFinding {
        /// The entry.
        id: String,
        /// As given.
        finding: String,
        /// How many findings it has.
        count: usize,
    },
    /// `--accept` names a finding that needs no acceptance.
    #[error("finding {finding} of {id} is {status}: only blocking findings are accepted")]
    NotBlocking {
        /// The entry.
        id: String,
        /// The finding.
        finding: String,
        /// Its status.
        status: String,
    },
    /// Blocking findings are left unaccepted.
    #[error(
        "{} blocking finding(s) of {id} not accepted: {}; accept each you have checked with --accept ID... (or --accept all)",
        .findings.len(),
        .findings.join(", ")
    )]
    Unaccepted {
        /// The entry.
        id: String,
        /// The findings (IDs).
        findings: Vec<String>,
    },
    /// The reason or name is empty, too long, or holds control characters.
    #[error("the {what} cannot be used: {why}")]
    BadText {
        /// `reason` or `name`.
        what: &'static str,
        /// What is wrong.
        why: String,
    },
    /// The reason or name holds an identifying value of a subject of the package.
    #[error(
        "the {what} contains identifying values of the package's subjects ({}); it would be published in the manifest: write it without them",
        .kinds.join(", ")
    )]
    Identifying {
        /// `reason` or `name`.
        what: &'static str,
        /// The kinds of value found (never the values).
        kinds: Vec<String>,
    },
    /// `--out` names another kind of package than the quarantined one.
    #[error("{out} would be a {wanted:?} package but the quarantined package is a {kind:?}")]
    KindMismatch {
        /// The destination given.
        out: PathBuf,
        /// What it would be.
        wanted: PackageKind,
        /// What the quarantined package is.
        kind: PackageKind,
    },
    /// The destination is refused (see [`check_destination`]), or the archive cannot be read.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// The quarantined package is not what was quarantined.
    #[error(
        "quarantined package {id} does not match what the export quarantined ({why}); it is not released: discard it and export again"
    )]
    Tampered {
        /// The entry.
        id: String,
        /// What differs.
        why: String,
    },
    /// The quarantined package cannot be read.
    #[error("cannot read the quarantined package {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The quarantined zip cannot be read.
    #[error("cannot read the quarantined package {path}")]
    Zip {
        /// The zip.
        path: PathBuf,
        /// Cause.
        #[source]
        source: zip::result::ZipError,
    },
    /// The stored files of the package's subjects cannot be read to learn their values.
    #[error(transparent)]
    StoredValues(#[from] StoredValuesError),
    /// The search for identifying values cannot be built.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The package cannot be built or published.
    #[error(transparent)]
    Package(#[from] PackageError),
}

/// Releases a quarantined package (see the module documentation for the order of steps).
pub fn release(archive: &Archive, req: &ReleaseRequest) -> Result<ReleaseSummary, ReleaseError> {
    let quarantine = Quarantine::of(archive.root());
    let locked = quarantine.lock(&req.id)?;
    let entry = locked.entry().clone();
    let id = entry.record.id.clone();
    let (accepted, as_given) = accepted_ids(&entry, &req.accept)?;
    let reason = plain_text("reason", &req.reason, MAX_REASON)?;
    let by = plain_text("name", &req.by, MAX_NAME)?;
    check_identifying(archive, &entry, &[("reason", &reason), ("name", &by)])?;

    let dest = req
        .out
        .clone()
        .unwrap_or_else(|| entry.record.destination.clone());
    let wanted = PackageKind::for_destination(&dest);
    if wanted != entry.record.kind {
        return Err(ReleaseError::KindMismatch {
            out: dest,
            wanted,
            kind: entry.record.kind,
        });
    }
    let force = entry.record.force || req.force;
    check_destination(
        archive.root(),
        &dest,
        entry.record.key_file.as_deref(),
        force,
    )?;

    let source = entry.package_path();
    let tampered = |why: String| ReleaseError::Tampered {
        id: id.clone(),
        why,
    };
    let old = read_manifest(&source, entry.record.kind)?;
    if hex::encode(Sha256::digest(&old)) != entry.record.package_digest {
        return Err(tampered("its manifest.json changed".into()));
    }
    let mut manifest = Manifest::from_json(&old)
        .map_err(|e| tampered(format!("its manifest.json cannot be read: {e}")))?;
    let recorded: Vec<FindingEntry> = entry
        .record
        .findings
        .iter()
        .map(FindingEntry::from)
        .collect();
    if manifest.findings != recorded {
        return Err(tampered(
            "its manifest lists other findings than the record".into(),
        ));
    }
    let at = archive::db::now();
    let mut records = entry.record.findings.clone();
    for f in &mut records {
        if accepted.contains(&f.id) {
            f.accepted = Some(Accepted::User {
                by: by.clone(),
                reason: reason.clone(),
                at: at.clone(),
            });
        }
    }
    manifest.findings = records.iter().map(FindingEntry::from).collect();
    if let Some(a) = &mut manifest.audit {
        a.accepted = findings::tally(&records).accepted;
    }
    manifest.release = Some(ReleaseEntry {
        id: id.clone(),
        quarantined_at: entry.record.created.clone(),
        released_at: at,
        by,
        reason,
        accepted: as_given,
    });

    let expected: BTreeMap<String, FileChecksum> = manifest
        .files()
        .map(|f| (f.path.clone(), f.checksum.clone()))
        .collect();
    let mut package = Package::create(&dest, force)?;
    match entry.record.kind {
        PackageKind::Folder => copy_folder(&package, &source, &expected, &tampered)?,
        PackageKind::Zip => copy_zip(&package, &source, &expected, &tampered)?,
    }
    package.add("manifest.json", &manifest.to_json())?;
    package.add("manifest.csv", &manifest.to_csv())?;
    package.finish()?;
    let published = package.publish(force)?;
    let not_removed = quarantine.remove(locked).err();
    Ok(ReleaseSummary {
        id,
        published,
        kind: entry.record.kind,
        manifest,
        findings: records,
        not_removed,
    })
}

/// The findings accepted (IDs), and the acceptances as they are recorded (`all`, or the IDs).
fn accepted_ids(
    entry: &Entry,
    accept: &[String],
) -> Result<(BTreeSet<String>, Vec<String>), ReleaseError> {
    let id = &entry.record.id;
    let records: BTreeMap<&str, &FindingRecord> = entry
        .record
        .findings
        .iter()
        .map(|f| (f.id.as_str(), f))
        .collect();
    let awaiting: Vec<&FindingRecord> = entry
        .record
        .findings
        .iter()
        .filter(|f| f.awaits_acceptance())
        .collect();
    let all = accept.iter().any(|a| a.trim().eq_ignore_ascii_case("all"));
    let mut named: Vec<&FindingRecord> = Vec::new();
    for a in accept
        .iter()
        .filter(|a| !a.trim().eq_ignore_ascii_case("all"))
    {
        let key = a.trim().to_ascii_uppercase();
        let Some(f) = records.get(key.as_str()) else {
            return Err(ReleaseError::UnknownFinding {
                id: id.clone(),
                finding: a.clone(),
                count: records.len(),
            });
        };
        if !f.awaits_acceptance() {
            return Err(ReleaseError::NotBlocking {
                id: id.clone(),
                finding: f.id.clone(),
                status: f.status(),
            });
        }
        named.push(f);
    }
    let accepted: BTreeSet<String> = if all {
        awaiting.iter().map(|f| f.id.clone()).collect()
    } else {
        named.iter().map(|f| f.id.clone()).collect()
    };
    let missing: Vec<String> = awaiting
        .iter()
        .filter(|f| !accepted.contains(&f.id))
        .map(|f| f.id.clone())
        .collect();
    if !missing.is_empty() {
        return Err(ReleaseError::Unaccepted {
            id: id.clone(),
            findings: missing,
        });
    }
    let as_given = if all {
        vec!["all".to_string()]
    } else {
        let mut ids: Vec<&FindingRecord> = named;
        ids.sort_by_key(|f| finding_number(&f.id));
        ids.dedup_by(|a, b| a.id == b.id);
        ids.into_iter().map(|f| f.id.clone()).collect()
    };
    Ok((accepted, as_given))
}

fn finding_number(id: &str) -> usize {
    id.trim_start_matches('F').parse().unwrap_or(usize::MAX)
}

/// `text` trimmed, if it is plain text of at most `max` characters: no control characters
/// (they would forge lines where the manifest is shown).
fn plain_text(what: &'static str, text: &str, max: usize) -> Result<String, ReleaseError> {
    let t = text.trim();
    let bad = |why: String| ReleaseError::BadText { what, why };
    if t.is_empty() {
        return Err(bad("it is empty".into()));
    }
    if t.chars().count() > max {
        return Err(bad(format!("it is longer than {max} characters")));
    }
    if t.chars().any(char::is_control) {
        return Err(bad(
            "it holds control characters (line breaks, tabs, escapes)".into(),
        ));
    }
    Ok(t.to_string())
}

/// Refuses text that holds an identifying value the archive holds for the package's subjects
/// (or one of their archive codes, which would link the package to the archive): the values of
/// the index, and every value the export's audit searched, read again from the headers of the
/// subjects' stored files ([`crate::stored_values`]: every identity value, every original
/// UID). The quarantine record keeps only the subjects' archive codes; the values stay in the
/// archive.
fn check_identifying(
    archive: &Archive,
    entry: &Entry,
    texts: &[(&'static str, &str)],
) -> Result<(), ReleaseError> {
    let codes = &entry.record.archive_subjects;
    let mut needles = index_needles(archive, codes)?;
    let refs: Vec<&str> = codes.iter().map(String::as_str).collect();
    for stored in stored_values(archive, &refs)?.into_values() {
        needles.extend(stored.uid_needles());
        needles.extend(stored.needles.into_iter().map(|(_, n)| n));
    }
    needles.extend(
        codes
            .iter()
            .map(|c| Needle::new("ArchiveSubjectCode", ValueKind::Identifier, c.as_str())),
    );
    let auditor = Auditor::new(&needles, Rules::default())?;
    for (what, text) in texts {
        let found = auditor.scan_file(what, text.as_bytes());
        if !found.is_empty() {
            let kinds: BTreeSet<String> = found.iter().map(findings::kind_of).collect();
            return Err(ReleaseError::Identifying {
                what,
                kinds: kinds.into_iter().collect(),
            });
        }
    }
    Ok(())
}

fn read_error(path: &Path) -> impl FnOnce(std::io::Error) -> ReleaseError + '_ {
    move |source| ReleaseError::Read {
        path: path.to_path_buf(),
        source,
    }
}

fn open_zip(path: &Path) -> Result<zip::ZipArchive<std::io::BufReader<File>>, ReleaseError> {
    let f = File::open(path).map_err(read_error(path))?;
    zip::ZipArchive::new(std::io::BufReader::new(f)).map_err(|source| ReleaseError::Zip {
        path: path.to_path_buf(),
        source,
    })
}

fn read_manifest(package: &Path, kind: PackageKind) -> Result<Vec<u8>, ReleaseError> {
    match kind {
        PackageKind::Folder => {
            let p = package.join("manifest.json");
            std::fs::read(&p).map_err(read_error(&p))
        }
        PackageKind::Zip => {
            let mut z = open_zip(package)?;
            let mut e = z
                .by_name("manifest.json")
                .map_err(|source| ReleaseError::Zip {
                    path: package.to_path_buf(),
                    source,
                })?;
            let mut buf = Vec::new();
            e.read_to_end(&mut buf).map_err(read_error(package))?;
            Ok(buf)
        }
    }
}

fn is_manifest(rel: &str) -> bool {
    rel == "manifest.json" || rel == "manifest.csv"
}

/// Checks that the package holds exactly the manifest's files and the manifest.
fn same_files(
    found: &BTreeSet<String>,
    expected: &BTreeMap<String, FileChecksum>,
    tampered: &dyn Fn(String) -> ReleaseError,
) -> Result<(), ReleaseError> {
    if let Some(extra) = found
        .iter()
        .find(|n| !is_manifest(n) && !expected.contains_key(*n))
    {
        return Err(tampered(format!("{extra} is not in its manifest")));
    }
    if let Some(missing) = expected.keys().find(|n| !found.contains(*n)) {
        return Err(tampered(format!("{missing} is missing")));
    }
    Ok(())
}

fn copy_folder(
    package: &Package,
    source: &Path,
    expected: &BTreeMap<String, FileChecksum>,
    tampered: &dyn Fn(String) -> ReleaseError,
) -> Result<(), ReleaseError> {
    let mut found = BTreeSet::new();
    for e in walkdir::WalkDir::new(source).sort_by_file_name() {
        let e = e.map_err(|e| read_error(source)(e.into()))?;
        if e.file_type().is_dir() {
            continue;
        }
        let rel = e
            .path()
            .strip_prefix(source)
            .ok()
            .and_then(Path::to_str)
            .map(|r| r.replace(std::path::MAIN_SEPARATOR, "/"))
            .ok_or_else(|| tampered(format!("{} has an unexpected name", e.path().display())))?;
        if !e.file_type().is_file() {
            return Err(tampered(format!("{rel} is not a regular file")));
        }
        found.insert(rel);
    }
    same_files(&found, expected, tampered)?;
    for (rel, checksum) in expected {
        let bytes = package.add_copy(rel, &source.join(rel))?;
        if checksum.algorithm().hex(&bytes) != checksum.hex() {
            return Err(tampered(format!("{rel} changed")));
        }
    }
    Ok(())
}

fn copy_zip(
    package: &Package,
    source: &Path,
    expected: &BTreeMap<String, FileChecksum>,
    tampered: &dyn Fn(String) -> ReleaseError,
) -> Result<(), ReleaseError> {
    let zip_err = |source_err| ReleaseError::Zip {
        path: source.to_path_buf(),
        source: source_err,
    };
    let mut z = open_zip(source)?;
    let names = z
        .file_names()
        .map(|n| n.map(std::borrow::Cow::into_owned))
        .collect::<Result<Vec<String>, _>>()
        .map_err(zip_err)?;
    let found: BTreeSet<String> = names.iter().cloned().collect();
    if found.len() != names.len() {
        return Err(tampered("an entry name appears twice".into()));
    }
    same_files(&found, expected, tampered)?;
    for i in 0..z.len() {
        let name = {
            let mut e = z.by_index(i).map_err(zip_err)?;
            let name = e.name().map_err(zip_err)?.into_owned();
            if is_manifest(&name) {
                continue;
            }
            let Some(checksum) = expected.get(&name) else {
                return Err(tampered(format!("{name} is not in its manifest")));
            };
            let mut h = checksum.algorithm().hasher();
            std::io::copy(&mut e, &mut h).map_err(read_error(source))?;
            if h.finalize_hex() != checksum.hex() {
                return Err(tampered(format!("{name} changed")));
            }
            name
        };
        let raw = z.by_index_raw(i).map_err(zip_err)?;
        if raw.name().map_err(zip_err)? != name {
            return Err(tampered(format!("{name} changed")));
        }
        package.add_zip_entry(raw)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Counts;
    use crate::quarantine::QuarantineRecord;

    fn finding(id: &str, blocking: bool, by_profile: bool) -> FindingRecord {
        FindingRecord {
            id: id.to_string(),
            finding: "value".into(),
            region: Some("header".into()),
            file: "P/1/1/00001.dcm".into(),
            tag: Some("(0008,1090)".into()),
            kind: "PatientName".into(),
            blocking,
            message: "PatientName value found".into(),
            accepted: by_profile.then(|| Accepted::Profile {
                profile: "lab".into(),
                profile_digest: "d".into(),
                at: "t".into(),
            }),
        }
    }

    fn entry() -> Entry {
        Entry {
            record: QuarantineRecord {
                format: String::new(),
                id: "Q00000000".into(),
                created: String::new(),
                destination: PathBuf::from("/out/pkg"),
                kind: PackageKind::Folder,
                force: false,
                key_file: None,
                level: "basic".into(),
                options: vec![],
                blank_identifiers: false,
                profile_digest: String::new(),
                key_fingerprint: String::new(),
                package_digest: String::new(),
                counts: Counts::default(),
                audited_files: 0,
                findings: vec![
                    finding("F1", true, false),
                    finding("F2", true, true),
                    finding("F3", false, false),
                    finding("F10", true, false),
                ],
                archive_subjects: vec![],
            },
            path: PathBuf::from("/arc/quarantine/Q00000000"),
        }
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_blocking_finding_must_be_accepted() {
        let e = entry();
        let (accepted, given) = accepted_ids(&e, &ids(&["f10", "F1", "F1"])).expect("both");
        assert_eq!(accepted.into_iter().collect::<Vec<_>>(), ["F1", "F10"]);
        assert_eq!(given, ["F1", "F10"], "in number order, once each");
        let (accepted, given) = accepted_ids(&e, &ids(&["ALL"])).expect("all");
        assert_eq!(accepted.len(), 2, "all: the blocking ones not yet accepted");
        assert_eq!(given, ["all"]);
        match accepted_ids(&e, &ids(&["F1"])) {
            Err(ReleaseError::Unaccepted { findings, .. }) => assert_eq!(findings, ["F10"]),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            accepted_ids(&e, &ids(&["F1", "F10", "F4"])),
            Err(ReleaseError::UnknownFinding { .. })
        ));
        for needless in ["F2", "F3"] {
            assert!(matches!(
                accepted_ids(&e, &ids(&["all", needless])),
                Err(ReleaseError::NotBlocking { .. })
            ));
        }
    }

    #[test]
    fn reasons_and_names_are_plain_text() {
        assert_eq!(plain_text("reason", "  ok  ", 10).expect("ok"), "ok");
        for bad in ["", "   ", "a\nb", "a\tb", "\u{1b}[2J", "elevenchars"] {
            assert!(
                matches!(
                    plain_text("reason", bad, 10),
                    Err(ReleaseError::BadText { .. })
                ),
                "{bad:?}"
            );
        }
        assert!(
            plain_text("name", "Åsa Öberg", 10).is_ok(),
            "letters of any script"
        );
    }
}
