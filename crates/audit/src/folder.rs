//! The audit of a folder package: every path, every file (in parallel; streamed when too big to
//! hold), and a symbolic link as a finding of its own (what it points to would travel with a
//! copy of the package, unaudited).

use std::path::{Path, PathBuf};

use crate::auditor::Auditor;
use crate::error::AuditError;
use crate::finding::Finding;
use crate::manifest_words::is_manifest;
use crate::report::AuditReport;
use crate::source::FileSource;
use crate::stream::Streaming;

pub(crate) fn audit_folder(
    path: &Path,
    auditor: &Auditor,
    report: &mut AuditReport,
    streaming: Streaming,
) -> Result<(), AuditError> {
    let read_err = |source| AuditError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut files: Vec<PathBuf> = Vec::new();
    for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
        let entry = entry.map_err(|e| read_err(e.into()))?;
        let rel = entry.path().strip_prefix(path).unwrap_or(entry.path());
        let rel_text = rel.to_string_lossy().replace('\\', "/");
        if !rel_text.is_empty() {
            report.findings.extend(auditor.scan_path(&rel_text));
        }
        if entry.file_type().is_file() {
            files.push(entry.into_path());
        } else if entry.file_type().is_symlink() {
            // What it points to would travel with a copy of the package, unaudited.
            report.findings.push(Finding::Unreadable {
                file: auditor.mask_path(&rel_text).0,
                reason: "a symbolic link (not followed, so not audited)".into(),
            });
        }
    }
    use rayon::prelude::*;
    let per_file: Vec<Result<(u64, Vec<Finding>), AuditError>> = files
        .par_iter()
        .map(|f| {
            let rel = f
                .strip_prefix(path)
                .unwrap_or(f)
                .to_string_lossy()
                .replace('\\', "/");
            let len = std::fs::metadata(f).map_err(read_err)?.len();
            if len > streaming.above {
                let mut src = FileSource {
                    path: f.clone(),
                    start: 0,
                    len,
                };
                let found = if is_manifest(&rel) {
                    auditor.scan_manifest_source(&rel, &mut src, streaming.chunk)
                } else {
                    let masked = auditor.mask_path(&rel).0;
                    auditor.scan_source(&masked, &mut src, len, streaming.chunk)
                };
                return Ok((len, found.map_err(read_err)?));
            }
            let bytes = std::fs::read(f).map_err(read_err)?;
            let found = if is_manifest(&rel) {
                auditor.scan_manifest(&rel, &bytes)
            } else {
                auditor.scan_file(&auditor.mask_path(&rel).0, &bytes)
            };
            Ok((bytes.len() as u64, found))
        })
        .collect();
    for r in per_file {
        let (n, found) = r?;
        report.files += 1;
        report.bytes += n;
        report.findings.extend(found);
    }
    Ok(())
}
