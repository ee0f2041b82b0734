//! `depot audit`: scan a package (folder or zip) for PHI the archive holds and for structural
//! leaks, so a coordinator can show an IRB that nothing identifying left.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use archive::Archive;
use export::package_audit::AuditRequest;

use crate::Global;
use crate::deid_args::DeidArgs;
use crate::ui;

/// Arguments of `depot audit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The package: a folder or a zip file.
    pub package: PathBuf,
    /// Level or profile the package was made with (default: read from its manifest). It sets
    /// the structural rules only: every identifying value is searched at any level.
    #[command(flatten)]
    pub deid: DeidArgs,
    /// Search only the values of this project's subjects.
    #[arg(long)]
    pub project: Option<String>,
    /// Print the findings as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Runs `depot audit`.
pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    if !args.package.exists() {
        anyhow::bail!("{} does not exist", args.package.display());
    }
    let root = global.archive_dir();
    let archive = Archive::open_existing(&root)
        .with_context(|| format!("cannot open the archive {}", root.display()))?;
    let explicit = args.deid.names_a_profile();
    if !explicit && (!args.deid.options.is_empty() || args.deid.blank_identifiers) {
        anyhow::bail!(
            "--option and --blank-identifiers describe a level: give --level or --profile with them \
             (without any, the level is read from the package's manifest)"
        );
    }
    let req = AuditRequest {
        profile: if explicit {
            Some(args.deid.profile(anon_core::Level::AnonymizeFull)?)
        } else {
            None
        },
        key: args.deid.key(global.quiet)?,
        project: args.project.clone(),
    };
    // Every identifying value the archive holds for the package's subjects is searched,
    // whatever level the manifest claims; the level only adds structural rules.
    let (report, scope) =
        export::package_audit::audit_archive_package(&archive, &args.package, &req)
            .with_context(|| format!("cannot audit {}", args.package.display()))?;
    if args.json {
        ui::out(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
    }
    for f in &report.findings {
        ui::problem(super::export::audit_label(f), f);
    }
    if !scope.matched_by_pseudonym {
        ui::warn(format!(
            "the package's subjects were not recognised (another key?): searched the values of all {} archive subjects",
            scope.subjects
        ));
    }
    let verdict = if report.has_blocking() {
        format!(
            "{} finding(s){}",
            report.blocking_count(),
            super::export::coincidences(&report)
        )
    } else {
        format!("clean{}", super::export::coincidences(&report))
    };
    ui::info(
        global.quiet,
        format!(
            "audit of {} at {}: {verdict}; {} files, {:.1} MB, {} values of {} subject(s) searched",
            args.package.display(),
            scope.profile_name,
            report.files,
            report.bytes as f64 / 1e6,
            report.values_searched,
            scope.subjects
        ),
    );
    // Coincidences are shown but never fail the audit.
    Ok(if report.has_blocking() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
