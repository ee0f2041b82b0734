//! `depot anonymize` (not written yet).

use std::process::ExitCode;

use crate::Global;

/// Arguments of `depot anonymize`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `depot anonymize`.
pub fn run(_global: &Global, _args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("depot anonymize is not available yet")
}
