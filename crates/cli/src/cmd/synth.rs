//! `depot synth`: writes a deterministic synthetic scanner dump, so that demos, tests and
//! benchmarks have realistic, identifiable-looking data without any real patient in it.
//!
//! All generation is in the `synth` library; this file checks the output folder, drives the
//! progress bar and prints the summary (and, with `--json`, the planted identifying values and
//! where each hard case is, for leak and regression tests).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::Global;
use crate::ui;

/// Arguments of `depot synth`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder to write the dump into (created if missing; must be empty unless --force).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Number of subjects (distinct patients).
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub subjects: u32,
    /// Studies per subject.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub studies: u32,
    /// Image series per study (each study also gets one SR series).
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub series: u32,
    /// Instances (files) per image series.
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub instances: u32,
    /// Rows of every image.
    #[arg(long, default_value_t = 64, value_name = "R")]
    pub rows: u16,
    /// Columns of every image.
    #[arg(long, default_value_t = 64, value_name = "C")]
    pub columns: u16,
    /// Replicate this real DICOM file instead of synthesizing images: every file of the dump is
    /// a copy of it with new subjects, studies, series and UIDs (scanner-style six-digit
    /// StudyIDs, numeric accession numbers). --rows, --columns and the planted hard cases do
    /// not apply.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["rows", "columns"])]
    pub like: Option<PathBuf>,
    /// Seed: the same seed and sizes give byte-identical files.
    #[arg(long, default_value_t = 1, value_name = "S")]
    pub seed: u64,
    /// Write into a non-empty folder (files with the same names are replaced, others kept).
    #[arg(long)]
    pub force: bool,
    /// Print the summary as JSON on stdout, with the planted identifying values (`phi`) and
    /// where each hard case is (`landmarks`).
    #[arg(long)]
    pub json: bool,
}

/// Fails unless `out` is missing or an empty folder (or `force` is set and it is a folder).
fn check_out(out: &Path, force: bool) -> anyhow::Result<()> {
    match std::fs::metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot inspect {}", out.display())),
        Ok(m) if !m.is_dir() => bail!("{} exists and is not a folder", out.display()),
        Ok(_) => {
            let mut entries =
                std::fs::read_dir(out).with_context(|| format!("cannot list {}", out.display()))?;
            if entries.next().is_some() && !force {
                bail!(
                    "{} is not empty; choose another folder or pass --force",
                    out.display()
                );
            }
            Ok(())
        }
    }
}

/// Runs `depot synth`.
pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let opts = synth::DumpOptions {
        subjects: args.subjects,
        studies_per_subject: args.studies,
        series_per_study: args.series,
        instances_per_series: args.instances,
        rows: args.rows,
        columns: args.columns,
        seed: args.seed,
    };
    let replica = args.like.as_ref().map(|template| synth::ReplicaOptions {
        template: template.clone(),
        subjects: args.subjects,
        studies_per_subject: args.studies,
        series_per_study: args.series,
        instances_per_series: args.instances,
        seed: args.seed,
    });
    let total = match &replica {
        Some(r) => r.file_count()?,
        None => opts.file_count()?,
    };
    check_out(&args.out, args.force)?;
    let started = Instant::now();
    let progress = ui::Progress::new(total, "synth", global.quiet);
    let result = match &replica {
        Some(r) => synth::write_replicas(&args.out, r, &|n| progress.inc(n)),
        None => synth::write_dump_with_progress(&args.out, &opts, &|n| progress.inc(n)),
    };
    progress.finish();
    let summary =
        result.with_context(|| format!("cannot write the dump into {}", args.out.display()))?;
    let secs = started.elapsed().as_secs_f64();
    let mb = summary.bytes as f64 / 1e6;
    ui::info(
        global.quiet,
        format!(
            "wrote {} files ({:.1} MB; {} subjects, {} studies, {} series) to {} in {:.2} s ({:.0} files/s, {:.0} MB/s)",
            summary.files,
            mb,
            summary.subjects,
            summary.studies,
            summary.series,
            args.out.display(),
            secs,
            summary.files as f64 / secs.max(1e-9),
            mb / secs.max(1e-9),
        ),
    );
    if args.json {
        let landmarks: Vec<serde_json::Value> = summary
            .landmarks
            .iter()
            .map(|l| serde_json::json!({ "case": format!("{:?}", l.case), "path": l.path.to_string_lossy() }))
            .collect();
        let json = serde_json::json!({
            "out": args.out.to_string_lossy(),
            "files": summary.files,
            "bytes": summary.bytes,
            "subjects": summary.subjects,
            "studies": summary.studies,
            "series": summary.series,
            "instances": summary.instances,
            "seconds": secs,
            "phi": summary.phi,
            "landmarks": landmarks,
        });
        ui::out(&format!("{}\n", serde_json::to_string_pretty(&json)?))?;
    }
    Ok(ExitCode::SUCCESS)
}
