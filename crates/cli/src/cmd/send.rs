//! `depot send`: placeholder.

use std::process::ExitCode;

use crate::Global;

/// Arguments of `depot send`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs `depot send`.
pub fn run(_global: &Global, _args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet")
}
