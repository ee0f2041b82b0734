//! `depot anonymize --level L [--option O]... [--profile P] IN... OUT`: de-identifies files and
//! folder trees outside the archive. This file only maps arguments to `export::tree` and prints:
//! a progress bar, every rejected or skipped file with its reason, burned-in warnings, the
//! per-file actions with `--dry-run`, and a summary line.
//!
//! Exit codes: 0 every file written or skipped (DICOMDIRs, identical duplicates), 1 some files
//! were rejected, 2 a fatal error (bad profile,
//! unusable key, non-empty output, missing input) stopped the run before any file was written.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use anon_core::{Deidentifier, Level};
use anyhow::{Context, bail};
use export::keyfile;
use export::tree::{self, FileOutcome, TreeRequest};

use crate::Global;
use crate::deid_args::DeidArgs;
use crate::ui::{self, Progress};

/// How many files are named per kind of warning before the rest are only counted.
const WARNINGS_NAMED: u64 = 3;

/// Arguments of `depot anonymize`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("how").required(true).args(["level", "profile"])))]
pub struct Args {
    #[command(flatten)]
    pub deid: DeidArgs,
    /// Extra text to cut wherever attributes are cleaned (repeatable), e.g. a study code name.
    #[arg(long = "identifier", value_name = "TEXT")]
    pub identifiers: Vec<String>,
    /// Print what would be done to each file (tags and actions, never values); write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write into a non-empty output folder.
    #[arg(long)]
    pub force: bool,
    /// Worker threads (default: two per CPU core, at most 16).
    #[arg(long, value_name = "N", default_value_t = 0, hide_default_value = true)]
    pub workers: usize,
    /// Input files or folders, then the output folder.
    #[arg(required = true, num_args = 2.., value_name = "IN... OUT")]
    pub paths: Vec<PathBuf>,
}

/// Runs `depot anonymize`.
pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    // (The group makes --level or --profile required; the default is never used.)
    let profile = args.deid.profile(Level::AnonymizeFull)?;
    let mut paths = args.paths.clone();
    let Some(output) = paths.pop() else {
        bail!("give at least one input and the output folder")
    };
    let key_path = keyfile::key_path(args.deid.key_file.as_deref())?;
    let loaded = keyfile::load_or_create(&key_path)?;
    if loaded.created {
        ui::info(
            global.quiet,
            format!(
                "depot: created a new de-identification key at {} (keep it: the same key gives the same pseudonyms and UIDs)",
                loaded.path.display()
            ),
        );
    }
    if loaded.readable_by_others {
        ui::warn(format!(
            "key file {} is readable by other users (chmod 600 it)",
            loaded.path.display()
        ));
    }
    match profile.level() {
        Level::Original => ui::warn("level original: files are copied unchanged (only renamed)"),
        Level::Anonymize => ui::warn(
            "level anonymize keeps PatientID, dates and UIDs: the output is not de-identified",
        ),
        Level::Sup142 => {
            ui::warn("level sup142 applies only the 43 tags its source lists; names and IDs stay")
        }
        _ => {}
    }
    if profile.blanks_identifiers() {
        ui::warn("PatientID is emptied: the output no longer regroups by subject");
    }
    let files = tree::collect_inputs(&paths)?;
    let request = TreeRequest {
        inputs: paths,
        output: output.clone(),
        force: args.force,
        dry_run: args.dry_run,
        extra_identifiers: args.identifiers.clone(),
        workers: args.workers,
    };
    let deid = Deidentifier::new(profile, loaded.key);
    let progress = Progress::new(
        files.len() as u64,
        if args.dry_run {
            "checking"
        } else {
            "anonymizing"
        },
        global.quiet,
    );
    let stdout_failed = AtomicBool::new(false);
    let warning_counts: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());
    let stdout_error = AtomicBool::new(false);
    let summary = tree::anonymize_tree(&deid, &request, &files, &|event| {
        progress.inc(1);
        match event.outcome {
            FileOutcome::Rejected { reason } => {
                progress.println(format!("depot: {}: {reason}", event.input.display()));
            }
            FileOutcome::Skipped { reason } => {
                if !global.quiet {
                    progress.println(format!("depot: {}: {reason}", event.input.display()));
                }
            }
            FileOutcome::WouldWrite { output, collision } => {
                if let Some(c) = collision {
                    progress.println(format!("depot: warning: {}: {c}", event.input.display()));
                }
                let mut text = format!("{} -> {}\n", event.input.display(), output.display());
                if let Some(report) = event.report {
                    for action in &report.actions {
                        text.push_str(&format!("  {action}\n"));
                    }
                }
                if !stdout_failed.load(Ordering::Relaxed) {
                    let mut out = std::io::stdout().lock();
                    match out.write_all(text.as_bytes()) {
                        Ok(()) => {}
                        // a closed pipe (`| head`) just ends the listing
                        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                            stdout_failed.store(true, Ordering::Relaxed);
                        }
                        Err(_) => {
                            stdout_failed.store(true, Ordering::Relaxed);
                            stdout_error.store(true, Ordering::Relaxed);
                        }
                    }
                }
            }
            FileOutcome::Written {
                collision: Some(c), ..
            } => {
                progress.println(format!("depot: warning: {}: {c}", event.input.display()));
            }
            FileOutcome::Written { .. } => {}
        }
        let mut notes: Vec<String> = Vec::new();
        if let Some(reason) = event.report.and_then(|r| r.burned_in.as_ref()) {
            notes.push(format!("{reason}; pixels are not cleaned, check them"));
        }
        notes.extend(event.report.map(|r| r.warnings.clone()).unwrap_or_default());
        for note in notes {
            // The first few files of each kind are named; the rest are counted at the end.
            let shown = {
                let mut counts = warning_counts.lock().unwrap_or_else(|p| p.into_inner());
                let n = counts.entry(note.clone()).or_insert(0);
                *n += 1;
                *n <= WARNINGS_NAMED
            };
            if shown {
                progress.println(format!("depot: warning: {}: {note}", event.input.display()));
            }
        }
    })
    .with_context(|| format!("cannot anonymize into {}", output.display()))?;
    progress.finish();
    for (note, n) in warning_counts
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
    {
        if n > WARNINGS_NAMED {
            ui::warn(format!(
                "{note}: {n} files in all ({} more not named)",
                n - WARNINGS_NAMED
            ));
        }
    }
    if stdout_error.load(Ordering::Relaxed) {
        bail!("cannot write the dry-run listing to stdout");
    }
    let mb = |b: u64| b as f64 / 1_000_000.0;
    ui::info(
        global.quiet,
        format!(
            "anonymize{}: {} files seen, {} {}, {} rejected, {} skipped, {} burned-in flagged, {:.1} MB in, {:.1} MB out, {:.2} s, {:.0} files/s",
            if args.dry_run { " (dry run)" } else { "" },
            summary.files_seen,
            summary.written,
            if args.dry_run {
                "would be written"
            } else {
                "written"
            },
            summary.rejected,
            summary.skipped,
            summary.burned_in,
            mb(summary.bytes_in),
            mb(summary.bytes_out),
            summary.elapsed.as_secs_f64(),
            summary.files_per_second(),
        ),
    );
    Ok(if summary.rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
