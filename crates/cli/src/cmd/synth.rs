//! `depot synth` (not written yet).

use std::process::ExitCode;

use crate::Global;

/// Arguments of `depot synth`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `depot synth`.
pub fn run(_global: &Global, _args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("depot synth is not available yet")
}
