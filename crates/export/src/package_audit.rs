//! `depot audit`: the standalone audit of a package (folder or zip) against the archive.
//!
//! The audit itself (the `audit` crate) searches a package for given values; this module
//! decides which values those are for a package made from this archive: every identifying
//! value the archive holds for the package's subjects (the index's and every value their
//! stored headers carry, [`crate::stored_values`]), their original UIDs when the level remaps
//! UIDs, and the structural rules of the level the package's manifest claims and of the level
//! given. It lives in the export because it reads the archive's stored files and the
//! package's manifest as the export writes them.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use anon_core::{DeidOption, Deidentifier, Key, Level, Profile};
use archive::{Archive, Filter};
use audit::owners::OwnedNeedle;
use audit::written::WrittenValues;
use audit::{AuditReport, Auditor, Needle, Rules, ValueKind, audit_package};

use crate::index_values::{indexed_subjects, subject_pseudonym};
use crate::manifest::Manifest;
use crate::pipeline::ExportError;
use crate::stored_values::{StoredValuesError, stored_values};

/// What the standalone audit of a package needs to know.
#[derive(Debug, Clone, Default)]
pub struct AuditRequest {
    /// The profile the package was made with; `None` reads it from the package's manifest
    /// (built-in levels and options only).
    pub profile: Option<Profile>,
    /// The key the package was made with; `None` uses the archive's key.
    pub key: Option<Key>,
    /// Restrict the subjects whose values are searched to one project.
    pub project: Option<String>,
}

/// How the standalone audit chose what to look for.
#[derive(Debug, Clone)]
pub struct AuditScope {
    /// The profile whose promises were checked.
    pub profile_name: String,
    /// Archive subjects whose values were searched.
    pub subjects: usize,
    /// True when the package's subjects were recognised by their pseudonyms; false when the
    /// values of every archive subject (in the project) were searched instead.
    pub matched_by_pseudonym: bool,
}

/// Errors of the standalone audit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackageAuditError {
    /// The package's manifest names no usable level and no profile was given.
    #[error(
        "cannot tell which level {0} was exported at (no readable manifest.json): give --level or --profile"
    )]
    UnknownLevel(PathBuf),
    /// The manifest's level or options are not built in.
    #[error("the manifest's profile is not built in ({0}): give --profile")]
    Profile(String),
    /// The archive could not be read.
    #[error(transparent)]
    Export(#[from] ExportError),
    /// The stored files of the package's subjects could not be read to learn their values.
    #[error(transparent)]
    StoredValues(#[from] StoredValuesError),
    /// The package could not be read.
    #[error(transparent)]
    Audit(#[from] audit::AuditError),
}

/// The most bytes of a package's `manifest.json` read to learn its level and subjects.
const MAX_MANIFEST: u64 = 256 << 20;

/// Every identifying value the archive's index holds for a subject, as needles.
#[derive(Debug, Clone, Default)]
struct SubjectValues {
    needles: Vec<Needle>,
    pseudonym: String,
}

/// The identifying values the index holds for every archive subject (of `project`, if given),
/// by archive code ([`crate::index_values`]), and the subject's pseudonym under `deid`'s key.
/// The values the subjects' stored headers carry are read apart ([`stored_values`]).
fn archive_values(
    archive: &Archive,
    deid: &Deidentifier,
    project: Option<&str>,
) -> Result<BTreeMap<String, SubjectValues>, ExportError> {
    let filter = Filter {
        project: project.map(str::to_string),
        ..Filter::default()
    };
    Ok(indexed_subjects(archive, &filter)?
        .into_iter()
        .map(|(code, s)| {
            let values = SubjectValues {
                pseudonym: subject_pseudonym(deid, &s.key),
                needles: s.needles.into_iter().map(|(_, n)| n).collect(),
            };
            (code, values)
        })
        .collect())
}

/// A package's `manifest.json` (bounded read), if it has a readable one.
fn read_manifest(package: &Path) -> Option<Manifest> {
    let mut buf = Vec::new();
    if package.is_dir() {
        std::fs::File::open(package.join("manifest.json"))
            .ok()?
            .take(MAX_MANIFEST)
            .read_to_end(&mut buf)
            .ok()?;
    } else {
        let f = std::fs::File::open(package).ok()?;
        let mut z = zip::ZipArchive::new(std::io::BufReader::new(f)).ok()?;
        let e = z.by_name("manifest.json").ok()?;
        e.take(MAX_MANIFEST).read_to_end(&mut buf).ok()?;
    }
    Manifest::from_json(&buf).ok()
}

/// The names at the top of a package (its subject folders), whatever its manifest says.
fn top_level_names(package: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if package.is_dir() {
        if let Ok(dir) = std::fs::read_dir(package) {
            out.extend(
                dir.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned()),
            );
        }
    } else if let Ok(f) = std::fs::File::open(package)
        && let Ok(z) = zip::ZipArchive::new(std::io::BufReader::new(f))
    {
        out.extend(
            z.file_names()
                .flatten()
                .filter_map(|n| n.split('/').next().map(str::to_string)),
        );
    }
    out
}

/// The level a package's manifest claims (built-in levels and options only).
fn claimed_profile(manifest: &Manifest) -> Result<Profile, PackageAuditError> {
    let level: Level = manifest
        .level
        .parse()
        .map_err(|_| PackageAuditError::Profile(format!("{:?}", manifest.level)))?;
    let options: Vec<DeidOption> = manifest
        .options
        .iter()
        .filter_map(|o| o.parse().ok())
        .collect();
    let p =
        Profile::builtin(level, &options).map_err(|e| PackageAuditError::Profile(e.to_string()))?;
    p.with_blank_identifiers(manifest.blank_identifiers)
        .map_err(|e| PackageAuditError::Profile(e.to_string()))
}

/// Audits a package (folder or zip) against the archive: what `depot audit` runs.
///
/// Whatever level the package's manifest claims (or `req.profile` names), every identifying
/// value the archive holds for the package's subjects is searched: a package that says
/// `original`, or whose manifest was edited to say so, is not thereby clean. The original
/// UIDs are searched too when either the claimed or the given profile remaps UIDs. The
/// structural rules are those of the given profile and of the claimed one together, so a
/// package claiming to be de-identified is never checked less strictly than its claim.
/// Subjects are recognised by archive code or pseudonym among the manifest's subjects and the
/// package's top-level folders; when none is, every archive subject (of `req.project`) is
/// searched. Each subject's values are those of the index and every value its stored headers
/// carry ([`crate::stored_values`]), so the result does not depend on the order of import;
/// each belongs to the subject's folders (see [`audit::owners`]).
pub fn audit_archive_package(
    archive: &Archive,
    package: &Path,
    req: &AuditRequest,
) -> Result<(AuditReport, AuditScope), PackageAuditError> {
    let manifest = read_manifest(package);
    let claimed = match manifest.as_ref().map(claimed_profile) {
        Some(Ok(p)) => Some(p),
        Some(Err(e)) if req.profile.is_none() => return Err(e),
        _ => None,
    };
    let profile = match (&req.profile, &claimed) {
        (Some(p), _) => p.clone(),
        (None, Some(c)) => c.clone(),
        (None, None) => return Err(PackageAuditError::UnknownLevel(package.to_path_buf())),
    };
    let mut rules = Rules::for_profile(&profile);
    if let Some(c) = &claimed {
        rules = rules.union(Rules::for_profile(c));
    }
    let remaps_uids = profile.remaps_uids() || claimed.as_ref().is_some_and(Profile::remaps_uids);

    let key = match &req.key {
        Some(k) => k.clone(),
        None => Key::from_bytes(archive.secret("deid").map_err(ExportError::Key)?),
    };
    let deid = Deidentifier::new(profile.clone(), key.clone());
    let values = archive_values(archive, &deid, req.project.as_deref())?;
    let mut in_package: BTreeSet<String> = manifest
        .iter()
        .flat_map(|m| &m.subjects)
        .map(|s| s.id.clone())
        .collect();
    in_package.extend(top_level_names(package));
    // A pseudonym under another key cannot equal this key's: no need to trust the manifest's
    // key fingerprint.
    let matched: Vec<&str> = values
        .iter()
        .filter(|(code, v)| in_package.contains(code.as_str()) || in_package.contains(&v.pseudonym))
        .map(|(code, _)| code.as_str())
        .collect();
    let matched_by_pseudonym = !matched.is_empty();
    let chosen: Vec<&str> = if matched_by_pseudonym {
        matched
    } else {
        values.keys().map(String::as_str).collect()
    };
    // Each subject's values: the index's, and every value its stored headers carry (the
    // index keeps the first seen only, which depends on the order of import). Each belongs to
    // the subject's folder, by pseudonym or archive code (see `audit::owners`).
    let stored = stored_values(archive, &chosen)?;
    let mut needles: Vec<OwnedNeedle> = Vec::new();
    for code in &chosen {
        let Some(v) = values.get(*code) else { continue };
        let owners: Vec<String> = [code.to_string(), v.pseudonym.clone()]
            .into_iter()
            .filter(|o| !o.is_empty())
            .collect();
        let mut own: BTreeSet<&Needle> = v.needles.iter().collect();
        if let Some(s) = stored.get(*code) {
            own.extend(s.needles.iter().map(|(_, n)| n));
        }
        needles.extend(
            own.into_iter()
                .map(|n| OwnedNeedle::new(n.clone(), owners.clone())),
        );
    }
    if remaps_uids {
        let mut seen = BTreeSet::new();
        for code in &chosen {
            let f = Filter {
                subject: Some((*code).to_string()),
                ..Filter::default()
            };
            for r in archive.instances(&f).map_err(ExportError::from)? {
                for (label, uid) in [
                    ("StudyInstanceUID", r.study_uid),
                    ("SeriesInstanceUID", r.series_uid),
                    ("SOPInstanceUID", r.sop_uid),
                ] {
                    if seen.insert(uid.clone()) {
                        let n = Needle::new(label, ValueKind::Uid, uid);
                        needles.push(OwnedNeedle::new(n, Vec::new()));
                    }
                }
            }
        }
    }
    // What depot writes, as far as the package's claim and the archive tell: the constants of
    // the claimed and the given profile, and the pseudonyms of the subjects searched. (Dates
    // the engine shifted and keyed value codes cannot be recomputed here: see `audit::written`.)
    let mut written = WrittenValues::new();
    written.add_profile(&profile);
    if let Some(c) = &claimed {
        written.add_profile(c);
    }
    for code in &chosen {
        if let Some(v) = values.get(*code) {
            written.add(&v.pseudonym);
        }
    }
    // Every chosen subject's folder, by archive code and pseudonym, those with no value to
    // search included (see `audit::owners`).
    let folders: Vec<&str> = chosen
        .iter()
        .flat_map(|code| {
            let pseudonym = values.get(*code).map(|v| v.pseudonym.as_str());
            std::iter::once(*code).chain(pseudonym)
        })
        .filter(|f| !f.is_empty())
        .collect();
    let auditor = Auditor::owned(&needles, rules)?
        .with_subject_folders(folders)
        .with_written(written);
    let report = audit_package(package, &auditor)?;
    Ok((
        report,
        AuditScope {
            profile_name: profile.name().to_string(),
            subjects: chosen.len(),
            matched_by_pseudonym,
        },
    ))
}
