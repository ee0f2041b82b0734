//! What an export is asked to do, and who hears of its progress.

use std::path::PathBuf;

use anon_core::{Key, Profile};
use archive::{Filter, HashAlgorithm};

/// What to export, how, and where.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// Which instances (project, subject code, study/series UID, modality, dates).
    pub selection: Filter,
    /// The de-identification profile, options and flags already applied.
    pub profile: Profile,
    /// The key for pseudonyms and UIDs; `None` uses the archive's own key.
    pub key: Option<Key>,
    /// The package: a folder, or a zip when the name ends in `.zip`.
    pub out: PathBuf,
    /// Plan and check only; write nothing.
    pub dry_run: bool,
    /// Replace an existing package at `out`.
    pub force: bool,
    /// Keep series that may carry burned-in text at levels that would leave them out.
    pub include_burned_in: bool,
    /// The key file `key` was read from, if any: recorded with a quarantined package, whose
    /// later release must not overlap it either.
    pub key_file: Option<PathBuf>,
    /// The algorithm of the manifest's per-file checksums ([`HashAlgorithm::DEFAULT`]:
    /// BLAKE3; SHA-256 for recipients whose tools or agreement require it).
    pub checksum: HashAlgorithm,
    /// How many selected files the plan holds in memory; a larger selection is planned
    /// through a temporary file in the archive's `tmp/`, a batch at a time, so that the
    /// export's memory does not grow with the number of files ([`super::PLAN_IN_MEMORY`]
    /// unless a benchmark or test asks otherwise).
    pub plan_in_memory: usize,
    /// How many bytes of original UIDs the audit gathers in memory; past them they go to an
    /// unnamed file in the archive's `tmp/` and the audit probes a table on disk
    /// ([`super::UIDS_IN_MEMORY`] unless a benchmark or test asks otherwise).
    pub uids_in_memory: usize,
}

/// Progress reports, from worker threads.
pub trait ExportObserver: Sync {
    /// The plan is made: this many files will be written.
    fn planned(&self, _files: u64) {}
    /// A phase starts (`reading headers`, `writing`, `auditing`).
    fn phase(&self, _name: &'static str, _total: u64) {}
    /// One more file of the current phase is done.
    fn advance(&self) {}
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;
impl ExportObserver for Quiet {}
