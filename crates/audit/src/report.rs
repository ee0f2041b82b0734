//! The result of auditing a whole package: what was examined and everything found.

use serde::Serialize;

use crate::finding::Finding;

/// The result of auditing a whole package.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditReport {
    /// Files examined.
    pub files: usize,
    /// Bytes examined.
    pub bytes: u64,
    /// Spellings of identifying values searched for.
    pub values_searched: usize,
    /// Everything found, sorted.
    pub findings: Vec<Finding>,
}

impl AuditReport {
    /// True when nothing was found, not even a coincidence.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }

    /// Whether any finding blocks (see [`Finding::is_blocking`]): every kind but coincidences.
    pub fn has_blocking(&self) -> bool {
        self.findings.iter().any(Finding::is_blocking)
    }

    /// How many findings block.
    pub fn blocking_count(&self) -> usize {
        self.findings.iter().filter(|f| f.is_blocking()).count()
    }

    /// How many findings are coincidences (advisory whatever the level).
    pub fn coincidence_count(&self) -> usize {
        self.findings.len() - self.blocking_count()
    }
}
