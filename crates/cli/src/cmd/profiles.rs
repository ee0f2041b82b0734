//! `depot profiles` (not written yet).

use std::process::ExitCode;

use crate::Global;

/// Arguments of `depot profiles`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `depot profiles`.
pub fn run(_global: &Global, _args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("depot profiles is not available yet")
}
