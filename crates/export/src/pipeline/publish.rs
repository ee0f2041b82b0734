//! The last step of an export: every path of the package audited, every finding recorded in
//! the manifest ([`crate::findings`]), and the package published atomically, or, when a
//! blocking finding is left that the profile does not accept, handed whole to the archive's
//! quarantine ([`crate::quarantine`]) for a person to release or discard.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use archive::Archive;
use audit::{AuditReport, Auditor, Finding};

use crate::findings::{self, FindingRecord, Judge};
use crate::manifest::{FileSource, Manifest};
use crate::package::Package;
use crate::quarantine::{
    Entry, Manifests, Quarantine, QuarantineInfo, QuarantineRecord, SpoolSlot,
};

use super::error::ExportError;
use super::plan_store::PlanStore;

/// What the last step did: the package published or put in quarantine, with every finding
/// numbered and judged, and the audit (absent at `original`).
pub(crate) struct Outcome {
    pub(crate) published: Option<std::path::PathBuf>,
    pub(crate) quarantined: Option<Entry>,
    pub(crate) findings: Vec<FindingRecord>,
    pub(crate) audit: Option<AuditReport>,
}

/// Where the package goes and how it was asked for.
pub(crate) struct Destination<'a> {
    pub(crate) out: &'a Path,
    pub(crate) force: bool,
    pub(crate) key_file: Option<&'a Path>,
}

/// What the write phase left for the last step.
pub(crate) struct Staged<'a> {
    pub(crate) package: Package,
    pub(crate) spool: SpoolSlot,
    /// The findings of the files, in plan order.
    pub(crate) findings: Vec<Finding>,
    /// Bytes of the files written.
    pub(crate) bytes: u64,
    pub(crate) judge: &'a Judge<'a>,
}

/// Audits the package's paths and manifest, records every finding, and publishes the package
/// or puts it in quarantine. Without an auditor (`original`), the manifest is written as it
/// is and the package published.
pub(crate) fn finish(
    archive: &Archive,
    plan: &PlanStore,
    manifest: &mut Manifest,
    source: &dyn FileSource,
    auditor: Option<&Auditor>,
    staged: Staged<'_>,
    dest: &Destination<'_>,
) -> Result<Outcome, ExportError> {
    let Staged {
        mut package,
        spool,
        mut findings,
        bytes,
        judge,
    } = staged;
    let source = Some(source);
    let Some(auditor) = auditor else {
        package.add_with("manifest.json", |w| {
            buffered(w, |b| manifest.write_json(source, b))
        })?;
        package.add_with("manifest.csv", |w| {
            buffered(w, |b| manifest.write_csv(source, b))
        })?;
        package.finish()?;
        let path = package.publish(dest.force)?;
        return Ok(Outcome {
            published: Some(path),
            quarantined: None,
            findings: Vec::new(),
            audit: None,
        });
    };
    // The plan's subjects, and every path once: each file's, and each folder's (folders are
    // few; the findings are sorted when sealed, so the order searched does not matter).
    let files = plan.len();
    let mut subjects: BTreeSet<String> = BTreeSet::new();
    let mut folders: BTreeSet<String> = BTreeSet::new();
    plan.scan(|batch| -> Result<(), ExportError> {
        for p in batch {
            if !subjects.contains(&*p.record.subject) {
                subjects.insert(p.record.subject.to_string());
            }
            let rel = p.rel();
            for (i, _) in rel.match_indices('/') {
                if !folders.contains(&rel[..i]) {
                    folders.insert(rel[..i].to_string());
                }
            }
            findings.extend(auditor.scan_path(&rel));
        }
        Ok(())
    })?;
    for folder in &folders {
        findings.extend(auditor.scan_path(folder));
    }
    let sealed = findings::seal(manifest, source, auditor, findings, judge, files + 2)?;
    // Every byte was searched: a search that could not read the original UIDs' table on disk
    // found nothing more, and the package is neither published nor quarantined on its word.
    auditor.complete()?;
    let audit = |manifests: u64| AuditReport {
        files: files + 2,
        bytes: bytes + manifests,
        values_searched: auditor.searched_values(),
        findings: sealed.findings.clone(),
    };
    // (A held-back file always has a finding awaiting acceptance; the second test is a
    // safety net.)
    if sealed.records.iter().any(FindingRecord::awaits_acceptance) || !spool.is_empty() {
        // The manifests are encoded as they are written, here and in the quarantine: their
        // digest and size first (two passes), never held whole.
        let mut json = Tally::default();
        buffered(&mut json, |b| manifest.write_json(source, b))?;
        let mut csv = Tally::default();
        buffered(&mut csv, |b| manifest.write_csv(source, b))?;
        let audit = audit(json.bytes + csv.bytes);
        let record = QuarantineRecord::new(
            manifest,
            &sealed,
            hex::encode(sha2::Digest::finalize(json.digest)),
            QuarantineInfo {
                destination: dest.out,
                force: dest.force,
                key_file: dest.key_file,
                audited_files: audit.files,
                archive_subjects: subjects.into_iter().collect(),
            },
        );
        let write_json = |w: &mut dyn Write| buffered(w, |b| manifest.write_json(source, b));
        let write_csv = |w: &mut dyn Write| buffered(w, |b| manifest.write_csv(source, b));
        let manifests = Manifests {
            json: &write_json,
            csv: &write_csv,
        };
        // The files in plan order (a zip is rebuilt in it), a line each in an unnamed file in
        // the archive's tmp/.
        let tmp = archive.root().join(archive::layout::TMP_DIR);
        let mut lines = std::io::BufWriter::new(tempfile::tempfile_in(&tmp)?);
        plan.scan(|batch| -> Result<(), ExportError> {
            for p in batch {
                lines.write_all(p.rel().as_bytes())?;
                lines.write_all(b"\n")?;
            }
            Ok(())
        })?;
        let mut lines = lines.into_inner().map_err(|e| e.into_error())?;
        std::io::Seek::rewind(&mut lines)?;
        let mut order =
            std::io::BufRead::lines(std::io::BufReader::new(lines)).map_while(Result::ok);
        let entry =
            Quarantine::of(archive.root()).admit(package, spool, manifests, &mut order, record)?;
        return Ok(Outcome {
            published: None,
            quarantined: Some(entry),
            findings: sealed.records,
            audit: Some(audit),
        });
    }
    // Each manifest encoded as it is written into the package.
    let written = package.add_with("manifest.json", |w| {
        buffered(w, |b| manifest.write_json(source, b))
    })? + package.add_with("manifest.csv", |w| {
        buffered(w, |b| manifest.write_csv(source, b))
    })?;
    package.finish()?;
    let path = package.publish(dest.force)?;
    Ok(Outcome {
        published: Some(path),
        quarantined: None,
        findings: sealed.records,
        audit: Some(audit(written)),
    })
}

/// Runs `encode` on `out` through a buffer (the encoders write a few bytes at a time).
fn buffered(
    out: &mut dyn Write,
    encode: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut buffer = std::io::BufWriter::with_capacity(1 << 20, out);
    encode(&mut buffer)?;
    buffer.flush()
}

/// Counts and digests (SHA-256) what is written to it.
#[derive(Default)]
struct Tally {
    bytes: u64,
    digest: sha2::Sha256,
}

impl Write for Tally {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        sha2::Digest::update(&mut self.digest, buf);
        self.bytes += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
