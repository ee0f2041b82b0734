//! The audit of a whole package, a folder or a `.zip` file: paths in findings are
//! package-relative, findings sorted and each once.

use std::path::Path;

use crate::auditor::Auditor;
use crate::error::AuditError;
use crate::folder::audit_folder;
use crate::report::AuditReport;
use crate::stream::{STREAMING, Streaming};
use crate::zip_package::audit_zip;

/// Audits a package: a folder, or a `.zip` file. Paths in findings are package-relative.
/// Files and zip entries bigger than [`crate::STREAM_ABOVE`] are streamed, not read whole.
pub fn audit_package(path: &Path, auditor: &Auditor) -> Result<AuditReport, AuditError> {
    audit_package_with(path, auditor, STREAMING)
}

pub(crate) fn audit_package_with(
    path: &Path,
    auditor: &Auditor,
    streaming: Streaming,
) -> Result<AuditReport, AuditError> {
    let mut report = AuditReport {
        values_searched: auditor.searched_values(),
        ..Default::default()
    };
    if path.is_dir() {
        audit_folder(path, auditor, &mut report, streaming)?;
    } else {
        audit_zip(path, auditor, &mut report, streaming)?;
    }
    report.findings.sort();
    report.findings.dedup();
    Ok(report)
}
