//! `depot export`: a per-project package (folder or zip) at a chosen level, checked for
//! regrouping and audited for PHI before it appears. A package whose audit finds something
//! blocking goes to the archive's quarantine instead (exit 1), for `depot review`, `depot
//! release` or `depot discard`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;

use anon_core::Level;
use anyhow::Context;
use archive::{Archive, Filter, HashAlgorithm};
use export::pipeline::{ExportError, ExportObserver, ExportRequest, ExportSummary};

use crate::Global;
use crate::deid_args::DeidArgs;
use crate::ui::{self, Progress};

/// Arguments of `depot export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The package: a folder, or a zip file when the name ends in `.zip`.
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    #[command(flatten)]
    pub deid: DeidArgs,
    #[command(flatten)]
    pub selection: Selection,
    /// Check and report (regrouping, burned-in series, counts) without writing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Replace an existing package at PATH.
    #[arg(long)]
    pub force: bool,
    /// Keep series whose pixels may carry burned-in text at levels that leave them out.
    #[arg(long)]
    pub include_burned_in: bool,
    /// The algorithm of the per-file checksums in manifest.json and manifest.csv: blake3
    /// (b3sum), or sha256 (sha256sum) for recipients whose tools or agreement require it.
    #[arg(long, value_enum, default_value_t = Checksum::Blake3)]
    pub checksum: Checksum,
}

/// A manifest checksum algorithm, as `--checksum` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Checksum {
    /// BLAKE3 (the default; `b3sum` checks it).
    Blake3,
    /// SHA-256 (`sha256sum` checks it).
    Sha256,
}

impl From<Checksum> for HashAlgorithm {
    fn from(c: Checksum) -> HashAlgorithm {
        match c {
            Checksum::Blake3 => HashAlgorithm::Blake3,
            Checksum::Sha256 => HashAlgorithm::Sha256,
        }
    }
}

/// Which part of the archive to export (all flags combine; none means everything).
#[derive(Debug, Clone, clap::Args)]
pub struct Selection {
    /// Only this project.
    #[arg(long)]
    pub project: Option<String>,
    /// Only this subject (archive code, e.g. S1234ABC).
    #[arg(long, value_name = "CODE")]
    pub subject: Option<String>,
    /// Only this study (StudyInstanceUID).
    #[arg(long = "study", value_name = "UID")]
    pub study_uid: Option<String>,
    /// Only this series (SeriesInstanceUID).
    #[arg(long = "series", value_name = "UID")]
    pub series_uid: Option<String>,
    /// Only series of this modality.
    #[arg(long)]
    pub modality: Option<String>,
    /// Only studies on or after this date (YYYY-MM-DD or YYYYMMDD).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Only studies on or before this date.
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
}

impl Selection {
    /// The archive filter these flags describe.
    pub fn filter(&self) -> anyhow::Result<Filter> {
        let date = |d: &Option<String>, flag: &str| -> anyhow::Result<_> {
            d.as_deref()
                .map(|s| archive::parse_date(s).map_err(|e| anyhow::anyhow!("{flag} {s}: {e}")))
                .transpose()
        };
        Ok(Filter {
            project: self.project.clone(),
            subject: self.subject.clone(),
            modality: self.modality.clone(),
            study_uid: self.study_uid.clone(),
            series_uid: self.series_uid.clone(),
            since: date(&self.since, "--since")?,
            until: date(&self.until, "--until")?,
            ..Filter::default()
        })
    }
}

/// Progress bars for the export's phases.
pub(crate) struct Bars {
    quiet: bool,
    current: Mutex<Option<Progress>>,
}

impl ExportObserver for Bars {
    fn phase(&self, name: &'static str, total: u64) {
        crate::allocator::return_freed_memory();
        let mut cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = cur.take() {
            old.finish();
        }
        *cur = Some(Progress::new(total, name, self.quiet));
    }
    fn advance(&self) {
        if let Some(p) = self
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            p.inc(1);
        }
    }
}

impl Bars {
    /// No bar yet.
    pub(crate) fn new(quiet: bool) -> Bars {
        Bars {
            quiet,
            current: Mutex::new(None),
        }
    }

    /// Removes the current bar.
    pub(crate) fn done(&self) {
        if let Some(p) = self
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            p.finish();
        }
    }
}

/// Runs `depot export`.
pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    // An export's memory grows with its files: freed pages go back at once.
    crate::allocator::favour_memory();
    let root = global.archive_dir();
    let archive = Archive::open_existing(&root)
        .with_context(|| format!("cannot open the archive {}", root.display()))?;
    let profile = args.deid.profile(Level::Anonymize)?;
    // Before the key file is loaded (or created): a destination holding it, or anything but a
    // depot package under --force, is refused with nothing written.
    export::pipeline::check_destination(
        archive.root(),
        &args.out,
        args.deid.key_file.as_deref(),
        args.force,
    )?;
    let req = ExportRequest {
        selection: args.selection.filter()?,
        key: args.deid.key(global.quiet)?,
        profile,
        out: args.out.clone(),
        dry_run: args.dry_run,
        force: args.force,
        include_burned_in: args.include_burned_in,
        key_file: args.deid.key_file.clone(),
        checksum: args.checksum.into(),
        plan_in_memory: plan_in_memory(),
        uids_in_memory: uids_in_memory(),
    };
    let bars = Bars {
        quiet: global.quiet,
        current: Mutex::new(None),
    };
    let result = export::pipeline::export(&archive, &req, &bars);
    bars.done();
    match result {
        Ok(summary) => {
            super::review::print_findings(&summary.findings);
            if let Some(entry) = &summary.quarantined {
                quarantined(&args, &summary, entry);
                return Ok(ExitCode::from(1));
            }
            report(global, &args, &summary, archive.content_hash());
            Ok(ExitCode::SUCCESS)
        }
        Err(ExportError::Files(failures)) => {
            for f in &failures {
                ui::problem(&f.file, f.reason());
            }
            anyhow::bail!(
                "{} archived file(s) could not be exported; nothing was written to {}",
                failures.len(),
                args.out.display()
            )
        }
        Err(e) => Err(e).context("export failed"),
    }
}

/// Says why the package was not published, where it is kept and what to do next.
fn quarantined(args: &Args, s: &ExportSummary, entry: &export::quarantine::Entry) {
    let t = export::findings::tally(&s.findings);
    let files = s.audit.as_ref().map_or(0, |a| a.files);
    let id = &entry.record.id;
    ui::warn(format!(
        "{} finding(s) in {files} audited file(s): {} blocking, {} accepted by the profile, {} advisory; nothing was published to {}",
        s.findings.len(),
        t.blocking,
        t.accepted,
        t.advisory,
        ui::path(&args.out)
    ));
    ui::warn(format!(
        "the package is kept in quarantine as {id} ({}); review it with `depot review {id}`, then publish it with `depot release {id} --accept FINDING... --reason TEXT` or remove it with `depot discard {id}`",
        ui::path(&entry.path)
    ));
}

fn report(global: &Global, args: &Args, s: &ExportSummary, stored: HashAlgorithm) {
    for w in &s.warnings {
        ui::warn(w);
    }
    for b in &s.burned_in {
        let what = if b.included {
            "included despite"
        } else {
            "left out for"
        };
        ui::warn(format!(
            "series {} ({}) {what} possible burned-in text: {}",
            b.archive_series, b.modality, b.reason
        ));
    }
    let mut shown = 0;
    for w in &s.engine_warnings {
        if shown < 5 {
            ui::warn(format!("{}: {}", w.file, w.message));
        }
        shown += 1;
    }
    if shown > 5 {
        ui::warn(format!("… and {} more engine warnings", shown - 5));
    }
    let c = &s.manifest.counts;
    let secs = s.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        c.instances as f64 / secs
    } else {
        0.0
    };
    let what = format!(
        "{} files of {} subjects, {} studies, {} series ({:.1} MB) at {}",
        c.instances,
        c.subjects,
        c.studies,
        c.series,
        c.bytes as f64 / 1e6,
        s.profile_name
    );
    match &s.published {
        None => ui::info(
            global.quiet,
            format!(
                "dry run: would export {what} to {}; nothing written",
                args.out.display()
            ),
        ),
        Some(path) => {
            let tally = export::findings::tally(&s.findings);
            let audit = match &s.audit {
                Some(a) if a.is_clean() => format!(
                    "; audit clean ({} values searched in {} files)",
                    a.values_searched, a.files
                ),
                Some(a) => {
                    let level_blocks = s.manifest.audit.as_ref().is_some_and(|m| m.blocking);
                    if level_blocks {
                        // Published at a blocking level: every finding left is a coincidence
                        // or was accepted by the profile (each printed above).
                        let mut left = Vec::new();
                        let coincidences = a.coincidence_count();
                        if coincidences > 0 {
                            left.push(format!("{coincidences} coincidence(s) (advisory)"));
                        }
                        if tally.accepted > 0 {
                            left.push(format!(
                                "{} finding(s) accepted by profile {}",
                                tally.accepted, s.profile_name
                            ));
                        }
                        format!(
                            "; audit clean, {} ({} values searched in {} files; see manifest.json)",
                            left.join(", "),
                            a.values_searched,
                            a.files
                        )
                    } else {
                        // Levels that do not claim to remove identity (anonymize, qmenta,
                        // sup142): findings are advisory (printed above).
                        let what = if s.level == Level::Anonymize {
                            "the patient's name and birth date"
                        } else {
                            "the values of the attributes on its list"
                        };
                        let files = a
                            .findings
                            .iter()
                            .filter(|f| f.is_blocking())
                            .map(|f| f.file())
                            .collect::<std::collections::BTreeSet<_>>()
                            .len();
                        if files > 0 {
                            ui::warn(format!(
                                "level {} removes {what} from those attributes only; the audit found them elsewhere in {files} file(s) of the package (use --level anonymize-full to clean all text)",
                                s.profile_name,
                            ));
                        }
                        format!(
                            "; audit advisory: {} finding(s){} ({} values searched in {} files)",
                            a.findings.len(),
                            if tally.accepted > 0 {
                                format!(", {} accepted by the profile", tally.accepted)
                            } else {
                                String::new()
                            },
                            a.values_searched,
                            a.files
                        )
                    }
                }
                None => format!(
                    "; original bytes verified by their {} content hash",
                    stored.title()
                ),
            };
            ui::info(
                global.quiet,
                format!(
                    "exported {what} to {} in {secs:.1} s ({rate:.0} files/s){audit}",
                    path.display()
                ),
            );
        }
    }
}

/// How a finding is introduced: coincidences are advisory at every level.
pub(crate) fn audit_label(f: &audit::Finding) -> &'static str {
    if f.is_blocking() {
        "audit"
    } else {
        "audit (advisory)"
    }
}

/// `", 3 coincidence(s) (advisory)"`, or nothing when there is none.
pub(crate) fn coincidences(a: &audit::AuditReport) -> String {
    match a.coincidence_count() {
        0 => String::new(),
        n => format!(", {n} coincidence(s) (advisory)"),
    }
}

/// How many selected files an export plans in memory: `DEPOT_PLAN_IN_MEMORY` when set to a
/// number (benchmarks and tests of the plan on disk), else the library's default.
pub(crate) fn plan_in_memory() -> usize {
    std::env::var("DEPOT_PLAN_IN_MEMORY")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(export::pipeline::PLAN_IN_MEMORY)
}

/// How many bytes of original UIDs an export's audit gathers in memory: `DEPOT_UIDS_IN_MEMORY`
/// when set to a number (benchmarks and tests of the UIDs on disk), else the library's default.
pub(crate) fn uids_in_memory() -> usize {
    std::env::var("DEPOT_UIDS_IN_MEMORY")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(export::pipeline::UIDS_IN_MEMORY)
}
