//! `depot import PATH... [--project NAME]`: files scanner dumps (folders, single files, `.zip`
//! archives) into the archive, with a progress bar on a terminal, every rejected or conflicting
//! file named on stderr with its reason, and a summary line at the end. File names are printed
//! as the archive records them (absolute, control characters and non-UTF-8 bytes escaped).
//!
//! Exit codes: 0 every file imported (duplicates and skipped DICOMDIRs are fine), 1 the run
//! finished but some files were rejected or kept apart as conflicts, 2 a fatal error (missing
//! input, unusable archive, disk full, an option out of range) stopped it.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use archive::{Archive, FileOutcome, ImportObserver, ImportOptions, Outcome};

use crate::Global;
use crate::ui::{self, Progress};

/// `--workers` range: as many as the library starts at most.
const MAX_WORKERS: u64 = archive::import::MAX_WORKERS as u64;
/// `--batch-files` range.
const MAX_BATCH_FILES: u64 = archive::import::MAX_BATCH_FILES as u64;

/// Arguments of `depot import`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folders (walked recursively), single files or .zip archives to import.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Project to file the subjects in; PatientIDs are matched within it.
    #[arg(long, default_value = "default", value_name = "NAME")]
    pub project: String,
    /// Worker threads reading, hashing and staging files, 1 to 256 (default: from the CPU count).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=MAX_WORKERS))]
    pub workers: Option<u64>,
    /// Most files per index transaction, 1 to 100000 (smaller batches become visible sooner).
    #[arg(long, value_name = "N", default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=MAX_BATCH_FILES))]
    pub batch_files: u64,
    /// Print the summary as JSON on stdout (field names as in docs/import.md).
    #[arg(long)]
    pub json: bool,
}

/// Shows progress and names every problem as it is committed.
struct Reporter {
    progress: Progress,
    /// Whether the bar draws (then lines go above it, else straight to stderr).
    bar_visible: bool,
    /// `--quiet`: skipped files are not named (problems and warnings still are).
    quiet: bool,
    total: std::sync::atomic::AtomicU64,
}

impl ImportObserver for Reporter {
    fn discovered(&self, files: u64) {
        let total = self
            .total
            .fetch_add(files, std::sync::atomic::Ordering::Relaxed)
            + files;
        self.progress.set_total(total);
    }

    fn file_done(&self, o: &FileOutcome) {
        self.progress.inc(1);
        let reason = match &o.outcome {
            Outcome::Rejected { reason } | Outcome::Conflict { reason } => reason,
            Outcome::Skipped { reason } if !self.quiet => reason,
            Outcome::Imported { .. } | Outcome::Duplicate | Outcome::Skipped { .. } => return,
        };
        let line = ui::problem_line(&o.source, reason);
        if self.bar_visible {
            self.progress.println(line);
        } else {
            eprintln!("{line}");
        }
    }

    fn warning(&self, source: &str, message: &str) {
        self.progress
            .println(ui::warning_line(&format!("{source}: {message}")));
    }
}

/// Runs `depot import`.
pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let root = global.archive_dir();
    let archive = Archive::open(&root)
        .with_context(|| format!("cannot open the archive at {}", ui::path(&root)))?;
    let opts = ImportOptions {
        project: args.project.clone(),
        workers: args
            .workers
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0),
        batch_files: usize::try_from(args.batch_files).unwrap_or(500),
        ..ImportOptions::default()
    };
    let reporter = Reporter {
        progress: Progress::new(0, "importing", global.quiet),
        bar_visible: !global.quiet && std::io::stderr().is_terminal(),
        quiet: global.quiet,
        total: 0.into(),
    };
    let result = archive.import(&args.paths, &opts, &reporter);
    reporter.progress.finish();
    let summary = result.context("import stopped")?;
    if args.json {
        ui::out(&format!("{}\n", serde_json::to_string_pretty(&summary)?))?;
    }
    ui::info(
        global.quiet,
        format!(
            "{} files seen: {} imported, {} duplicates, {} conflicts, {} rejected{}; {:.1} MB in {:.1} s ({:.0} files/s){}",
            summary.files_seen,
            summary.imported,
            summary.duplicates,
            summary.conflicts,
            summary.rejected,
            if summary.skipped > 0 {
                format!(", {} skipped (DICOMDIR)", summary.skipped)
            } else {
                String::new()
            },
            summary.bytes_seen as f64 / 1e6,
            summary.seconds,
            summary.files_per_second,
            if summary.is_clean() {
                String::new()
            } else {
                format!("; see `depot query rejects --run {}`", summary.run_id)
            }
        ),
    );
    if summary.warnings > 0 {
        ui::warn(format!(
            "{} warnings in run {} (listed above)",
            summary.warnings, summary.run_id
        ));
    }
    Ok(if summary.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
