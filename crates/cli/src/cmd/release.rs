//! `depot release ID --accept FINDING... --reason TEXT [--by NAME]`: publishes a quarantined
//! package once a person has accepted each of its blocking findings, recording in its manifest
//! who accepted what, why and when.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use archive::Archive;
use export::release::{ReleaseError, ReleaseRequest};

use crate::Global;
use crate::ui;

/// Arguments of `depot release`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The quarantined package's ID.
    #[arg(value_name = "ID")]
    pub id: String,
    /// The blocking findings you checked and accept: their IDs (F1 F2 ..., or F1,F2), or
    /// `all`. Every blocking finding must be accepted.
    #[arg(long, value_name = "FINDING", num_args = 1.., value_delimiter = ',', required = true)]
    pub accept: Vec<String>,
    /// Why the findings are no leak (published in the manifest; it must not name anyone in
    /// the package).
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// Who accepts them (published in the manifest); default: the login name ($USER,
    /// $LOGNAME).
    #[arg(long, value_name = "NAME")]
    pub by: Option<String>,
    /// Replace a depot package at the destination (the export's --force is remembered).
    #[arg(long)]
    pub force: bool,
    /// Publish here instead of the export's destination (a folder, or a zip when the
    /// quarantined package is one).
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
}

/// The login name, from the environment.
fn login_name() -> Option<String> {
    ["USER", "LOGNAME"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.trim().is_empty())
}

/// Runs `depot release`.
pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let root = global.archive_dir();
    let archive = Archive::open_existing(&root)
        .with_context(|| format!("cannot open the archive {}", ui::path(&root)))?;
    let by = match args.by.clone().or_else(login_name) {
        Some(b) => b,
        None => anyhow::bail!("who accepts the findings? give --by NAME (no $USER or $LOGNAME)"),
    };
    let req = ReleaseRequest {
        id: args.id.clone(),
        accept: args.accept.clone(),
        reason: args.reason.clone(),
        by,
        force: args.force,
        out: args.out.clone(),
    };
    let summary = match export::release::release(&archive, &req) {
        Ok(s) => s,
        Err(e) => {
            if let ReleaseError::Unaccepted { id, findings } = &e
                && let Ok(entry) = super::review::quarantine_of(global)?.load(id)
            {
                for f in entry
                    .record
                    .findings
                    .iter()
                    .filter(|f| findings.contains(&f.id))
                {
                    ui::problem("not accepted", format!("{} {}", f.id, f.message));
                }
            }
            return Err(anyhow::Error::new(e)
                .context(format!("quarantined package {} was not released", args.id)));
        }
    };
    super::review::print_findings(&summary.findings);
    let c = &summary.manifest.counts;
    let t = export::findings::tally(&summary.findings);
    let release = summary.manifest.release.as_ref();
    ui::info(
        global.quiet,
        format!(
            "released {} to {}: {} files of {} subjects, {} studies, {} series at {}; {} finding(s) accepted by {}, {} by the profile, {} advisory; recorded in manifest.json",
            summary.id,
            ui::path(&summary.published),
            c.instances,
            c.subjects,
            c.studies,
            c.series,
            summary.manifest.level,
            t.accepted - count_profile(&summary.findings),
            release.map_or("?", |r| r.by.as_str()),
            count_profile(&summary.findings),
            t.advisory
        ),
    );
    if let Some(e) = &summary.not_removed {
        ui::warn(format!(
            "the package is published, but its quarantine entry could not be removed ({e}); remove it with `depot discard {}`",
            summary.id
        ));
    }
    Ok(ExitCode::SUCCESS)
}

fn count_profile(findings: &[export::findings::FindingRecord]) -> usize {
    findings
        .iter()
        .filter(|f| matches!(f.accepted, Some(export::findings::Accepted::Profile { .. })))
        .count()
}
