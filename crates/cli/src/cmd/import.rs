//! `depot import` (not written yet).

use std::process::ExitCode;

use crate::Global;

/// Arguments of `depot import`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `depot import`.
pub fn run(_global: &Global, _args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("depot import is not available yet")
}
