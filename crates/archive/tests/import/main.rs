//! Public-API tests of the archive: importing fixture files built in code (synth::fixture), and
//! checking grouping, duplicates, conflicts, rejects, storage paths and concurrency.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use archive::{Archive, FileOutcome, Filter, ImportObserver, ImportOptions, NoObserver, Outcome};
use synth::fixture::{self, InstanceSpec, MissingUid, Syntax};

mod files;
mod grouping;
mod runs;
mod zips;

fn write(dir: &Path, rel: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, bytes).unwrap();
    p
}

fn spec(pid: &str, study: &str, series: &str, sop: &str) -> InstanceSpec {
    fixture::instance(pid, study, series, sop)
}

fn opts() -> ImportOptions {
    ImportOptions {
        project: "test".into(),
        workers: 3,
        ..ImportOptions::default()
    }
}

/// Collects outcomes by source path.
#[derive(Default)]
struct Collect {
    outcomes: Mutex<BTreeMap<String, Outcome>>,
    warnings: Mutex<Vec<String>>,
}

impl ImportObserver for Collect {
    fn file_done(&self, o: &FileOutcome) {
        self.outcomes
            .lock()
            .unwrap()
            .insert(o.source.clone(), o.outcome.clone());
    }
    fn warning(&self, _source: &str, message: &str) {
        self.warnings.lock().unwrap().push(message.to_string());
    }
}

fn all_files(root: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}
