//! `depot query subjects|studies|series|instances|rejects|runs`: what the archive holds, filtered, as
//! an aligned table for people or as JSON / CSV for programs.
//!
//! The default format is `table` when stdout is a terminal and `json` otherwise, so that
//! `depot query studies | jq` works without flags. The archive is opened read-only: a user who
//! may read it but not write to it can query it. JSON is an array of objects whose field names
//! are documented in `docs/query.md` and are the serialized record structs of the `archive`
//! crate; CSV has the same columns in the same order. The table shows a readable subset.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, bail};
use archive::{Archive, Filter};
use serde::Serialize;

use crate::Global;
use crate::ui;

/// What to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum What {
    /// Subjects (patients within a project), with study/series/instance counts.
    Subjects,
    /// Studies, with series/instance counts and modalities.
    Studies,
    /// Series, with instance counts.
    Series,
    /// Instances (stored files), with paths and hashes.
    Instances,
    /// Rejected and conflicting files, with their reasons.
    Rejects,
    /// Import runs (imports, and what `depot serve` received), with counts and whether they
    /// stored de-identified data.
    Runs,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns (a readable subset of the fields).
    Table,
    /// A JSON array of objects (all fields).
    Json,
    /// CSV with a header row (all fields).
    Csv,
}

/// Arguments of `depot query`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to list.
    #[arg(value_enum)]
    pub what: What,
    /// Only this project.
    #[arg(long, value_name = "NAME")]
    pub project: Option<String>,
    /// Only this subject (archive code, e.g. S0421KTX).
    #[arg(long, value_name = "CODE")]
    pub subject: Option<String>,
    /// Only this PatientID (exact).
    #[arg(long, value_name = "ID")]
    pub patient_id: Option<String>,
    /// Only series of this modality (case-insensitive).
    #[arg(long, value_name = "MODALITY")]
    pub modality: Option<String>,
    /// Only studies on or after this date (YYYY-MM-DD or YYYYMMDD).
    #[arg(long, value_name = "DATE", value_parser = archive::parse_date)]
    pub since: Option<archive::NaiveDate>,
    /// Only studies on or before this date (YYYY-MM-DD or YYYYMMDD).
    #[arg(long, value_name = "DATE", value_parser = archive::parse_date)]
    pub until: Option<archive::NaiveDate>,
    /// Only this StudyInstanceUID.
    #[arg(long, value_name = "UID")]
    pub study_uid: Option<String>,
    /// Only this SeriesInstanceUID.
    #[arg(long, value_name = "UID")]
    pub series_uid: Option<String>,
    /// Only what this import run stored (rejects: last seen in this run).
    #[arg(long, value_name = "ID")]
    pub run: Option<i64>,
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

/// Runs `depot query`.
pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let root = global.archive_dir();
    // Read-only: querying needs no write access to the archive, and changes nothing in it.
    let archive = Archive::open_read_only(&root)
        .with_context(|| format!("cannot open the archive at {}", ui::path(&root)))?;
    let filter = Filter {
        project: args.project,
        subject: args.subject,
        patient_id: args.patient_id,
        modality: args.modality,
        since: args.since,
        until: args.until,
        study_uid: args.study_uid,
        series_uid: args.series_uid,
        run: args.run,
    };
    let format = args.format.unwrap_or(if ui::stdout_is_terminal() {
        Format::Table
    } else {
        Format::Json
    });
    let mut out = std::io::stdout().lock();
    match args.what {
        What::Subjects => {
            let rows = archive.subjects(&filter)?;
            emit(
                &mut out,
                format,
                &rows,
                &[
                    "SUBJECT",
                    "PROJECT",
                    "PATIENT ID",
                    "PATIENT NAME",
                    "BIRTH",
                    "SEX",
                    "STUDIES",
                    "SERIES",
                    "INSTANCES",
                    "SIZE",
                ],
                |r| {
                    vec![
                        r.subject.clone(),
                        r.project.clone(),
                        if r.blank_patient_id {
                            "(blank)".into()
                        } else {
                            opt(&r.patient_id)
                        },
                        opt(&r.patient_name),
                        opt(&r.birth_date),
                        opt(&r.sex),
                        r.studies.to_string(),
                        r.series.to_string(),
                        r.instances.to_string(),
                        size(r.bytes),
                    ]
                },
            )?;
        }
        What::Studies => {
            let rows = archive.studies(&filter)?;
            emit(
                &mut out,
                format,
                &rows,
                &[
                    "SUBJECT",
                    "STUDY",
                    "DATE",
                    "MODALITIES",
                    "DESCRIPTION",
                    "ACCESSION",
                    "SERIES",
                    "INSTANCES",
                    "SIZE",
                    "STUDY UID",
                ],
                |r| {
                    vec![
                        r.subject.clone(),
                        r.study_number.to_string(),
                        opt(&r.study_date),
                        r.modalities.clone(),
                        opt(&r.study_description),
                        opt(&r.accession_number),
                        r.series.to_string(),
                        r.instances.to_string(),
                        size(r.bytes),
                        r.study_uid.clone(),
                    ]
                },
            )?;
        }
        What::Series => {
            let rows = archive.series(&filter)?;
            emit(
                &mut out,
                format,
                &rows,
                &[
                    "SUBJECT",
                    "STUDY",
                    "SERIES",
                    "NUMBER",
                    "MODALITY",
                    "DESCRIPTION",
                    "INSTANCES",
                    "SIZE",
                    "SERIES UID",
                ],
                |r| {
                    vec![
                        r.subject.clone(),
                        r.study_number.to_string(),
                        r.series_label.clone(),
                        r.series_number
                            .map(|n| n.to_string())
                            .unwrap_or_else(|| "-".into()),
                        opt(&r.modality),
                        opt(&r.series_description),
                        r.instances.to_string(),
                        size(r.bytes),
                        r.series_uid.clone(),
                    ]
                },
            )?;
        }
        What::Instances => {
            let rows = archive.instances(&filter)?;
            emit(
                &mut out,
                format,
                &rows,
                &[
                    "SUBJECT",
                    "STUDY",
                    "SERIES",
                    "INSTANCE",
                    "SIZE",
                    // The archive's content hash algorithm names the column.
                    archive.content_hash().title(),
                    "SOP INSTANCE UID",
                    "PATH",
                ],
                |r| {
                    vec![
                        r.subject.clone(),
                        r.study_number.to_string(),
                        r.series_label.clone(),
                        r.instance_number
                            .map(|n| n.to_string())
                            .unwrap_or_else(|| "-".into()),
                        size(r.size),
                        r.content_hash.chars().take(12).collect(),
                        r.sop_uid.clone(),
                        r.path.clone(),
                    ]
                },
            )?;
        }
        What::Rejects => {
            if filter.has_instance_filters() {
                bail!("only --project and --run apply to `depot query rejects`");
            }
            let rows = archive.rejects(&filter)?;
            emit(
                &mut out,
                format,
                &rows,
                &["KIND", "RUN", "TIME", "PATH", "REASON"],
                |r| {
                    vec![
                        match r.kind {
                            archive::RejectKind::Rejected => "rejected".into(),
                            archive::RejectKind::Conflict => "conflict".into(),
                        },
                        r.run_id.to_string(),
                        r.time.clone(),
                        r.path.clone(),
                        r.reason.clone(),
                    ]
                },
            )?;
        }
        What::Runs => {
            if filter.has_instance_filters() {
                bail!("only --project and --run apply to `depot query runs`");
            }
            let rows = archive.runs(&filter)?;
            emit(
                &mut out,
                format,
                &rows,
                &[
                    "RUN",
                    "PROJECT",
                    "STARTED",
                    "FILES",
                    "IMPORTED",
                    "DUPLICATES",
                    "CONFLICTS",
                    "REJECTED",
                    "DE-IDENTIFIED",
                    "INPUTS",
                ],
                |r| {
                    vec![
                        r.run_id.to_string(),
                        r.project.clone(),
                        r.started_at.clone(),
                        r.files_seen.to_string(),
                        r.imported.to_string(),
                        r.duplicates.to_string(),
                        r.conflicts.to_string(),
                        r.rejected.to_string(),
                        r.deidentified.clone().unwrap_or_else(|| "no".into()),
                        r.inputs.clone(),
                    ]
                },
            )?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    let name = UNITS.get(unit).copied().unwrap_or("B");
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {name}")
    }
}

/// A table cell: control characters escaped as everywhere else (`ui::sanitize`), so hostile
/// values cannot drive the terminal; every other character as it is (a halfwidth katakana
/// sound mark of a Japanese name is a letter, not something to escape).
fn cell(s: &str) -> String {
    crate::ui::sanitize(s)
}

fn emit<T: Serialize>(
    out: &mut impl Write,
    format: Format,
    rows: &[T],
    headers: &[&str],
    table_row: impl Fn(&T) -> Vec<String>,
) -> anyhow::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, rows)?;
            writeln!(out)?;
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(&mut *out);
            for r in rows {
                w.serialize(r)?;
            }
            w.flush()?;
        }
        Format::Table => {
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|r| table_row(r).iter().map(|c| cell(c)).collect())
                .collect();
            let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
            for row in &cells {
                for (w, c) in widths.iter_mut().zip(row) {
                    *w = (*w).max(c.chars().count());
                }
            }
            let line = |out: &mut dyn Write, row: &[String]| -> std::io::Result<()> {
                let last = row.len().saturating_sub(1);
                let mut text = String::new();
                for (i, (c, w)) in row.iter().zip(&widths).enumerate() {
                    if i == last {
                        text.push_str(c);
                    } else {
                        text.push_str(&format!("{c:<w$}  "));
                    }
                }
                writeln!(out, "{}", text.trim_end())
            };
            line(
                out,
                &headers.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
            )?;
            for row in &cells {
                line(out, row)?;
            }
            ui::info(false, format!("{} rows", rows.len()));
        }
    }
    Ok(())
}
