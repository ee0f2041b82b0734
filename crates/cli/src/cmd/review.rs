//! `depot review [ID] [--json]`: the archive's quarantined packages (packages whose audit found
//! something blocking), or one of them with its findings, each under the ID (`F1`, `F2`, ...)
//! that `depot release --accept` takes. Findings name file, tag path and kind, never a value.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use export::findings::{FindingRecord, tally};
use export::package::PackageKind;
use export::quarantine::{Entry, Quarantine};

use crate::Global;
use crate::ui;

/// Arguments of `depot review`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A quarantined package's ID (as `depot export` printed it); without it, every
    /// quarantined package is listed.
    #[arg(value_name = "ID")]
    pub id: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The archive's quarantine, refusing a folder that is no archive.
pub fn quarantine_of(global: &Global) -> anyhow::Result<Quarantine> {
    let root = global.archive_dir();
    let root = std::path::absolute(&root).unwrap_or(root);
    if !root.join(archive::db::INDEX_FILE).is_file() {
        anyhow::bail!("{} is not a depot archive (no index)", ui::path(&root));
    }
    Ok(Quarantine::of(&root))
}

/// Runs `depot review`.
pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let q = quarantine_of(global)?;
    match &args.id {
        Some(id) => {
            let entry = q.load(id)?;
            if args.json {
                ui::out(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(&entry_json(&entry, true))?
                ))?;
            } else {
                ui::out(&describe(&entry)?)?;
            }
        }
        None => {
            let listing = q
                .list()
                .with_context(|| format!("cannot list {}", ui::path(q.dir())))?;
            if args.json {
                let all: Vec<EntryView<'_>> = listing
                    .entries
                    .iter()
                    .map(|e| entry_json(e, false))
                    .collect();
                ui::out(&format!("{}\n", serde_json::to_string_pretty(&all)?))?;
            } else {
                ui::out(&table(&listing.entries, q.dir())?)?;
            }
            for d in &listing.damaged {
                ui::warn(format!(
                    "{d}; it cannot be released (depot discard removes it)"
                ));
            }
            if !listing.leftovers.is_empty() {
                ui::warn(format!(
                    "{} leftover(s) of interrupted exports, releases or discards in {} (never released; `depot discard --leftovers` removes them)",
                    listing.leftovers.len(),
                    ui::path(q.dir())
                ));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// An entry as `--json` shows it: its record without the internal archive codes, its
/// package's path and its counts of findings; with `findings`, the findings themselves.
#[derive(serde::Serialize)]
struct EntryView<'a> {
    id: &'a str,
    created: &'a str,
    destination: &'a Path,
    kind: PackageKind,
    force: bool,
    key_file: Option<&'a Path>,
    level: &'a str,
    options: &'a [String],
    blank_identifiers: bool,
    profile_digest: &'a str,
    key_fingerprint: &'a str,
    package_digest: &'a str,
    counts: &'a export::manifest::Counts,
    audited_files: usize,
    blocking: usize,
    accepted: usize,
    advisory: usize,
    package: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    findings: Option<&'a [FindingRecord]>,
}

fn entry_json(e: &Entry, findings: bool) -> EntryView<'_> {
    let r = &e.record;
    let t = tally(&r.findings);
    EntryView {
        id: &r.id,
        created: &r.created,
        destination: &r.destination,
        kind: r.kind,
        force: r.force,
        key_file: r.key_file.as_deref(),
        level: &r.level,
        options: &r.options,
        blank_identifiers: r.blank_identifiers,
        profile_digest: &r.profile_digest,
        key_fingerprint: &r.key_fingerprint,
        package_digest: &r.package_digest,
        counts: &r.counts,
        audited_files: r.audited_files,
        blocking: t.blocking,
        accepted: t.accepted,
        advisory: t.advisory,
        package: e.package_path(),
        findings: findings.then_some(r.findings.as_slice()),
    }
}

fn table(entries: &[Entry], dir: &Path) -> anyhow::Result<String> {
    let mut out = String::new();
    if entries.is_empty() {
        writeln!(out, "no quarantined packages in {}", ui::path(dir))?;
        return Ok(out);
    }
    writeln!(
        out,
        "{:<10} {:<20} {:<16} {:>5} {:>5} {:>6} {:>6} {:>8} {:>8} {:>8}  DESTINATION",
        "ID",
        "CREATED",
        "LEVEL",
        "SUBJ",
        "STUDY",
        "SERIES",
        "FILES",
        "BLOCKING",
        "ACCEPTED",
        "ADVISORY"
    )?;
    for e in entries {
        let r = &e.record;
        let t = tally(&r.findings);
        let c = &r.counts;
        writeln!(
            out,
            "{:<10} {:<20} {:<16} {:>5} {:>5} {:>6} {:>6} {:>8} {:>8} {:>8}  {}",
            r.id,
            r.created,
            ui::sanitize(&r.level),
            c.subjects,
            c.studies,
            c.series,
            c.instances,
            t.blocking,
            t.accepted,
            t.advisory,
            ui::path(&r.destination)
        )?;
    }
    Ok(out)
}

fn describe(e: &Entry) -> anyhow::Result<String> {
    let r = &e.record;
    let t = tally(&r.findings);
    let c = &r.counts;
    let mut out = String::new();
    writeln!(out, "quarantined package {}", r.id)?;
    writeln!(out, "  created      {}", r.created)?;
    writeln!(
        out,
        "  destination  {} ({}{})",
        ui::path(&r.destination),
        match r.kind {
            PackageKind::Folder => "folder",
            PackageKind::Zip => "zip",
        },
        if r.force {
            ", may replace a depot package there: --force"
        } else {
            ""
        }
    )?;
    writeln!(
        out,
        "  level        {} (options: {}; profile digest {})",
        ui::sanitize(&r.level),
        if r.options.is_empty() {
            "none".to_string()
        } else {
            r.options.join(", ")
        },
        r.profile_digest.get(..16).unwrap_or(&r.profile_digest)
    )?;
    writeln!(
        out,
        "  holds        {} subjects, {} studies, {} series, {} files ({:.1} MB)",
        c.subjects,
        c.studies,
        c.series,
        c.instances,
        c.bytes as f64 / 1e6
    )?;
    writeln!(
        out,
        "  audit        {} files; {} findings: {} blocking, {} accepted by the profile, {} advisory",
        r.audited_files,
        r.findings.len(),
        t.blocking,
        t.accepted,
        t.advisory
    )?;
    writeln!(out, "  package      {}", ui::path(&e.package_path()))?;
    writeln!(out)?;
    out.push_str(&finding_lines(&r.findings));
    writeln!(out)?;
    let awaiting: Vec<&str> = r
        .findings
        .iter()
        .filter(|f| f.awaits_acceptance())
        .map(|f| f.id.as_str())
        .collect();
    let shown = if awaiting.len() <= 8 {
        awaiting.join(" ")
    } else {
        "all".to_string()
    };
    writeln!(
        out,
        "To publish it once each blocking finding is checked to be no leak: depot release {} --accept {shown} --reason TEXT",
        r.id
    )?;
    writeln!(out, "To remove it: depot discard {}", r.id)?;
    Ok(out)
}

/// One line per finding: ID, status, and the finding as the audit says it.
pub fn finding_lines(findings: &[FindingRecord]) -> String {
    let statuses: Vec<String> = findings.iter().map(FindingRecord::status).collect();
    let id_w = findings.iter().map(|f| f.id.len()).max().unwrap_or(2);
    let st_w = statuses.iter().map(String::len).max().unwrap_or(8);
    let mut out = String::new();
    for (f, status) in findings.iter().zip(&statuses) {
        out.push_str(&ui::sanitize(&format!(
            "{:<id_w$}  {:<st_w$}  {}",
            f.id, status, f.message
        )));
        out.push('\n');
    }
    out
}

/// Prints every finding on stderr, with its ID and status: nothing is published silently.
pub fn print_findings(findings: &[FindingRecord]) {
    for f in findings {
        ui::problem(
            format!("audit ({})", f.status()),
            format!("{} {}", f.id, f.message),
        );
    }
}
