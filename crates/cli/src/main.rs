//! `depot`: the command-line front end.
//!
//! This binary is deliberately thin. Each subcommand lives in its own file under `cmd/`, holds a
//! clap `Args` struct, turns it into a library request and calls one library function. Only this
//! crate prints; the libraries return values and typed errors.
//!
//! Exit codes are a contract shared by every subcommand: 0 everything went fine, 1 the run
//! finished but some files were rejected (or findings were made), 2 a fatal error stopped it.

mod allocator;
mod cmd;
mod deid_args;
mod sqlite_temp;
mod ui;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// depot: a DICOM archive for research imaging groups.
#[derive(Debug, Parser)]
#[command(name = "depot", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options every subcommand understands; they may stand before or after the subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct Global {
    /// Archive folder (SQLite index + storage tree); created on first use.
    #[arg(long, global = true, env = "DEPOT_ARCHIVE", value_name = "DIR")]
    pub archive: Option<PathBuf>,
    /// No progress bar and no summary chatter; errors are still reported.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

impl Global {
    /// The archive folder: `--archive`, else `$DEPOT_ARCHIVE`, else `./depot-archive`.
    pub fn archive_dir(&self) -> PathBuf {
        self.archive
            .clone()
            .unwrap_or_else(|| PathBuf::from("depot-archive"))
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Import scanner dumps (folders, files, .zip) into the archive.
    Import(cmd::import::Args),
    /// Query what the archive holds.
    Query(cmd::query::Args),
    /// Write a deterministic synthetic scanner dump (demos, tests, benchmarks).
    Synth(cmd::synth::Args),
    /// De-identify files or folder trees outside the archive.
    Anonymize(cmd::anonymize::Args),
    /// List de-identification profiles, or show one tag by tag.
    Profiles(cmd::profiles::Args),
    /// Export a de-identified package (folder or .zip) from the archive.
    Export(cmd::export::Args),
    /// List quarantined packages (blocked by their audit), or show one with its findings.
    Review(cmd::review::Args),
    /// Publish a quarantined package once its blocking findings are accepted.
    Release(cmd::release::Args),
    /// Remove quarantined packages.
    Discard(cmd::discard::Args),
    /// Audit a package for PHI the archive knows of.
    Audit(cmd::audit::Args),
    /// Receive instances over the DICOM network (Storage SCP) into the archive.
    Serve(cmd::serve::Args),
    /// Send instances to a DICOM node (Storage SCU), de-identified as an export would be.
    Send(cmd::send::Args),
    /// Run the whole product on a built-in synthetic example.
    Demo(cmd::demo::Args),
}

fn main() -> ExitCode {
    allocator::configure();
    let cli = Cli::parse();
    // The archive the command works in: the demo makes its own.
    let archive = match &cli.command {
        Command::Demo(args) => cmd::demo::archive_dir(args),
        _ => cli.global.archive_dir(),
    };
    sqlite_temp::keep_in_archive(&archive);
    let result = match cli.command {
        Command::Import(args) => cmd::import::run(&cli.global, args),
        Command::Query(args) => cmd::query::run(&cli.global, args),
        Command::Synth(args) => cmd::synth::run(&cli.global, args),
        Command::Anonymize(args) => cmd::anonymize::run(&cli.global, args),
        Command::Profiles(args) => cmd::profiles::run(&cli.global, args),
        Command::Export(args) => cmd::export::run(&cli.global, args),
        Command::Review(args) => cmd::review::run(&cli.global, args),
        Command::Release(args) => cmd::release::run(&cli.global, args),
        Command::Discard(args) => cmd::discard::run(&cli.global, args),
        Command::Audit(args) => cmd::audit::run(&cli.global, args),
        Command::Serve(args) => cmd::serve::run(&cli.global, args),
        Command::Send(args) => cmd::send::run(&cli.global, args),
        Command::Demo(args) => cmd::demo::run(&cli.global, args),
    };
    match result {
        Ok(code) => code,
        // `depot query ... | head`: the reader has what it wanted.
        Err(err) if ui::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            ui::fatal(&err);
            ExitCode::from(2)
        }
    }
}
