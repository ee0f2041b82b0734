//! `depot demo`: the whole product on a built-in example, in a few readable lines. It
//! synthesizes a scanner dump full of fake PHI and hard cases, imports it, queries it, exports
//! it at each of the six levels (folders and a zip, plus anonymize-full with shifted dates),
//! audits the packages, shows what the regrouping check says about NiDB-style blanked
//! identifiers, and what happens to a package whose audit blocks it: a lab's profile that keeps
//! RequestingPhysician lets the referring physician's name through, so the package goes to the
//! archive's quarantine, is reviewed (findings by file, tag and kind) and discarded. Everything
//! it writes stays in one folder.
//!
//! The dump plants the patients' names in places no header rule of the weaker levels reaches
//! (private tags, overlay comments, report text), so at those levels (which do not claim to
//! remove identity) the export's audit reports them as advisory findings, and the demo says
//! so; at the levels that claim to remove identity a finding sends the package to quarantine.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anon_core::{DeidOption, Level, Profile};
use anyhow::{Context, bail};
use archive::{Archive, Filter, ImportOptions, NoObserver};
use audit::{AuditReport, Finding};
use export::package_audit::AuditRequest;
use export::pipeline::{ExportRequest, ExportSummary, Quiet};

use crate::Global;
use crate::ui;

/// The file that marks a folder as made by `depot demo` (and so safe to clear).
const MARKER: &str = ".depot-demo";

/// Arguments of `depot demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder for the demo's dump, archive and packages (cleared if an earlier demo made it).
    #[arg(default_value = "depot-demo")]
    pub dir: PathBuf,
}

/// The demo's archive (made in its folder).
pub fn archive_dir(args: &Args) -> PathBuf {
    args.dir.join("archive")
}

/// Runs `depot demo`.
pub fn run(_global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let dir = &args.dir;
    prepare(dir)?;
    let say = |s: String| ui::out(&format!("{s}\n"));

    let dump = dir.join("dump");
    let opts = synth::DumpOptions::default();
    let made = synth::write_dump(&dump, &opts).context("cannot write the synthetic dump")?;
    say(format!(
        "1. synthesized a scanner dump: {} files of {} patients ({} planted PHI values, patient names in folder names) in {}",
        made.files,
        made.subjects,
        made.phi.len(),
        dump.display()
    ))?;

    let archive = Archive::open(&archive_dir(&args)).context("cannot create the archive")?;
    let imported = archive.import(
        std::slice::from_ref(&dump),
        &ImportOptions::default(),
        &NoObserver,
    )?;
    say(format!(
        "2. imported: {} instances, {} duplicates, {} conflicts, {} rejected, {} warnings (blank PatientID, shared SeriesNumber)",
        imported.imported,
        imported.duplicates,
        imported.conflicts,
        imported.rejected,
        imported.warnings
    ))?;

    let all = Filter::default();
    let subjects = archive.subjects(&all)?;
    let series = archive.series(&all)?;
    say(format!(
        "3. the archive holds {} subjects ({}), {} studies, {} series (a PatientID under two issuers and a patient without PatientID are kept apart); storage paths use archive codes only",
        subjects.len(),
        subjects
            .iter()
            .map(|s| s.subject.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        archive.studies(&all)?.len(),
        series.len()
    ))?;

    let exports: [(&str, Level, Vec<DeidOption>); 7] = [
        ("original", Level::Original, vec![]),
        ("anonymize", Level::Anonymize, vec![]),
        ("sup142", Level::Sup142, vec![]),
        ("qmenta", Level::Qmenta, vec![]),
        ("basic", Level::Basic, vec![]),
        ("anonymize-full.zip", Level::AnonymizeFull, vec![]),
        (
            "anonymize-full-shifted-dates",
            Level::AnonymizeFull,
            vec![DeidOption::RetainLongitudinalModifiedDates],
        ),
    ];
    say("4. exports at each level (basic and anonymize-full publish only what their audit lets through, else the package waits in quarantine; the others report what they leave):".to_string())?;
    for (name, level, options) in exports {
        let out = dir.join("packages").join(name);
        let profile = Profile::builtin(level, &options)?;
        let req = ExportRequest {
            selection: all.clone(),
            profile,
            key: None,
            out: out.clone(),
            dry_run: false,
            force: false,
            include_burned_in: false,
            key_file: None,
            checksum: archive::HashAlgorithm::DEFAULT,
            plan_in_memory: export::pipeline::PLAN_IN_MEMORY,
            uids_in_memory: export::pipeline::UIDS_IN_MEMORY,
        };
        let outcome = match export::pipeline::export(&archive, &req, &Quiet) {
            Ok(s) if s.quarantined.is_some() => quarantined(&s),
            Ok(s) => {
                let audit = match &s.audit {
                    None => format!(
                        "bytes identical to the archive ({} checked)",
                        archive.content_hash().title()
                    ),
                    Some(a) if !a.has_blocking() => format!(
                        "audit clean{} ({} values searched)",
                        super::export::coincidences(a),
                        a.values_searched
                    ),
                    Some(a) => advisory(a),
                };
                let left_out = s.burned_in.iter().filter(|b| !b.included).count();
                let left_out = if left_out > 0 {
                    format!(", {left_out} burned-in series left out")
                } else {
                    String::new()
                };
                format!("{} files{left_out}; {audit}", s.manifest.counts.instances)
            }
            Err(e) => {
                return Err(
                    anyhow::Error::new(e).context(format!("export at {} failed", level.name()))
                );
            }
        };
        say(format!("   {:<36} {outcome}", relative(dir, &out)))?;
    }

    let full = dir.join("packages").join("anonymize-full.zip");
    let (report, _) =
        export::package_audit::audit_archive_package(&archive, &full, &AuditRequest::default())?;
    say(format!(
        "5. depot audit {}: {} in {} files",
        relative(dir, &full),
        if report.has_blocking() {
            format!("{} findings", report.blocking_count())
        } else {
            format!("clean{}", super::export::coincidences(&report))
        },
        report.files
    ))?;

    let blank = ExportRequest {
        selection: all.clone(),
        profile: Profile::builtin(Level::AnonymizeFull, &[])?.with_blank_identifiers(true)?,
        key: None,
        out: dir.join("packages").join("never-written"),
        dry_run: true,
        force: false,
        include_burned_in: false,
        key_file: None,
        checksum: archive::HashAlgorithm::DEFAULT,
        plan_in_memory: export::pipeline::PLAN_IN_MEMORY,
        uids_in_memory: export::pipeline::UIDS_IN_MEMORY,
    };
    let s = export::pipeline::export(&archive, &blank, &Quiet)?;
    say(
        "6. dry run of anonymize-full --blank-identifiers (NiDB's way), regrouping check:"
            .to_string(),
    )?;
    if s.warnings.is_empty() {
        say("   no regrouping problem".to_string())?;
    }
    for w in &s.warnings {
        say(format!("   warning: {w}"))?;
    }
    quarantine_step(dir, &archive, &all)?;
    say(format!(
        "Everything is in {}; `depot --archive {} query series` shows the archive.",
        dir.display(),
        dir.join("archive").display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// Step 7: a profile that keeps too much; the package goes to quarantine, is reviewed and
/// discarded.
fn quarantine_step(dir: &Path, archive: &Archive, all: &Filter) -> anyhow::Result<()> {
    let say = |s: String| ui::out(&format!("{s}\n"));
    let profile = Profile::from_toml(
        "name = \"keep-requesting\"\nbase = \"basic\"\n[actions]\nRequestingPhysician = \"K\"\n",
    )?;
    let out = dir.join("packages").join("keep-requesting");
    let req = ExportRequest {
        selection: all.clone(),
        profile,
        key: None,
        out: out.clone(),
        dry_run: false,
        force: false,
        include_burned_in: false,
        key_file: None,
        checksum: archive::HashAlgorithm::DEFAULT,
        plan_in_memory: export::pipeline::PLAN_IN_MEMORY,
        uids_in_memory: export::pipeline::UIDS_IN_MEMORY,
    };
    let s = export::pipeline::export(archive, &req, &Quiet)?;
    let Some(entry) = &s.quarantined else {
        say(format!(
            "7. a profile keeping RequestingPhysician: {}: published, the audit found nothing there",
            relative(dir, &out)
        ))?;
        return Ok(());
    };
    let id = &entry.record.id;
    say(format!(
        "7. a lab profile based on basic that keeps RequestingPhysician (export exits 1): {}",
        quarantined(&s)
    ))?;
    say(format!(
        "   depot review {id}: {} findings, by file, tag and kind (never the value), e.g.:",
        entry.record.findings.len()
    ))?;
    for f in entry.record.findings.iter().take(2) {
        say(format!("     {}  {}  {}", f.id, f.status(), f.message))?;
    }
    let quarantine = export::quarantine::Quarantine::of(archive.root());
    quarantine.discard(id)?;
    say(format!(
        "   a physician's name is a leak, not a coincidence: depot discard {id} removed it ({} was never written); a coincidence would be published with `depot release {id} --accept F1 ... --reason TEXT`, recorded in its manifest",
        relative(dir, &out)
    ))?;
    Ok(())
}

/// Which kinds of value the audit found, in how many files (never the values).
fn found(audit: &AuditReport) -> String {
    let mut per_kind: std::collections::BTreeMap<String, std::collections::BTreeSet<&str>> =
        std::collections::BTreeMap::new();
    for f in &audit.findings {
        let (what, file) = match f {
            Finding::Value { what, file, .. } => (what.clone(), file.as_str()),
            Finding::PrivateElement { file, .. } => ("private elements".to_string(), file.as_str()),
            Finding::IdentityNotMarkedRemoved { file } => {
                ("no PatientIdentityRemoved".to_string(), file.as_str())
            }
            Finding::Unreadable { file, .. } => ("unreadable".to_string(), file.as_str()),
            Finding::Coincidence { what, file, .. } => {
                (format!("{what} (coincidence)"), file.as_str())
            }
        };
        per_kind.entry(what).or_default().insert(file);
    }
    let kinds: Vec<String> = per_kind
        .iter()
        .map(|(what, files)| format!("{what} in {} file(s)", files.len()))
        .collect();
    format!(
        "{} ({})",
        if audit.findings.len() == 1 {
            "1 finding".to_string()
        } else {
            format!("{} findings", audit.findings.len())
        },
        kinds.join(", ")
    )
}

/// A package published with advisory findings (a level that does not claim to remove identity).
fn advisory(audit: &AuditReport) -> String {
    format!(
        "published; advisory audit: {}: the dump plants identifying values where this level's rules do not reach",
        found(audit)
    )
}

/// A package kept in quarantine by a blocking audit.
fn quarantined(s: &ExportSummary) -> String {
    let id = s
        .quarantined
        .as_ref()
        .map(|e| e.record.id.as_str())
        .unwrap_or_default();
    let found = s.audit.as_ref().map(found).unwrap_or_default();
    format!("not published: the audit found {found}; kept in quarantine as {id}")
}

/// Makes `dir` an empty demo folder: created if missing, cleared if an earlier demo made it,
/// refused if it holds anything else.
fn prepare(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        let mut entries =
            std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
        let empty = entries.next().is_none();
        if !empty {
            if !dir.join(MARKER).is_file() {
                bail!(
                    "{} exists and was not made by depot demo; choose another folder",
                    dir.display()
                );
            }
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("cannot clear {}", dir.display()))?;
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(dir.join(MARKER), b"made by depot demo; safe to delete\n")?;
    Ok(())
}

fn relative(base: &Path, p: &Path) -> String {
    p.strip_prefix(base).unwrap_or(p).display().to_string()
}
