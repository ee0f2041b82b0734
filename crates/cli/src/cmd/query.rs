//! `depot query` (not written yet).

use std::process::ExitCode;

use crate::Global;

/// Arguments of `depot query`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `depot query`.
pub fn run(_global: &Global, _args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("depot query is not available yet")
}
