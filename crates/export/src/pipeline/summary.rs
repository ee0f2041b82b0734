//! What an export did (or, in a dry run, would do).

use std::path::PathBuf;
use std::time::Duration;

use anon_core::Level;
use audit::AuditReport;

use crate::findings::FindingRecord;
use crate::manifest::Manifest;
use crate::package::PackageKind;
use crate::quarantine::Entry;
use crate::regroup::RegroupWarning;

/// A series left out of (or flagged in) the package because its pixels may carry text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BurnedInSeries {
    /// Archive label (`S1234ABC/1/3`).
    pub archive_series: String,
    /// Package label (e.g. `PQ2WJ6ZR4TA/1/3`).
    pub package_series: String,
    /// Modality.
    pub modality: String,
    /// Why.
    pub reason: String,
    /// Whether it is in the package.
    pub included: bool,
}

/// What an export did (or, in a dry run, would do).
#[derive(Debug, Clone)]
pub struct ExportSummary {
    /// Where the package is (`None` for a dry run or a quarantined package).
    pub published: Option<PathBuf>,
    /// The quarantine entry holding the package, when a blocking finding stopped publication.
    pub quarantined: Option<Entry>,
    /// Every finding, numbered and judged, as the manifest records them.
    pub findings: Vec<FindingRecord>,
    /// Folder or zip.
    pub kind: PackageKind,
    /// The level the profile is, or is built on.
    pub level: Level,
    /// The profile's name: the level's, or the custom profile's (as the manifest records it).
    pub profile_name: String,
    /// The manifest as written (or as it would be), without its lists of files, which the
    /// export reads from its plan as it writes them (`manifest.json` in the package has them).
    pub manifest: Manifest,
    /// Regrouping warnings, naming archive groups by their archive codes.
    pub warnings: Vec<RegroupWarning>,
    /// Series flagged for possible burned-in text.
    pub burned_in: Vec<BurnedInSeries>,
    /// Per-file warnings of the engine.
    pub engine_warnings: Vec<EngineWarning>,
    /// The audit (absent for a dry run or at `original`).
    pub audit: Option<AuditReport>,
    /// Wall time.
    pub elapsed: Duration,
}

/// A warning of the engine about one file (it reports warnings as text only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineWarning {
    /// The file's path in the package.
    pub file: String,
    /// The engine's words.
    pub message: String,
}
