//! `depot discard ID...`: removes quarantined packages (renamed out of sight, then deleted),
//! and with `--leftovers` what interrupted exports, releases and discards left in the
//! quarantine.

use std::process::ExitCode;

use crate::Global;
use crate::ui;

/// Arguments of `depot discard`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// IDs of the quarantined packages to remove.
    #[arg(value_name = "ID", required_unless_present = "leftovers")]
    pub ids: Vec<String>,
    /// Also remove leftovers of interrupted exports, releases and discards (those no running
    /// depot holds).
    #[arg(long)]
    pub leftovers: bool,
}

/// Runs `depot discard`: 0 when everything named is removed, 2 when something is not.
pub fn run(global: &Global, args: Args) -> anyhow::Result<ExitCode> {
    let q = super::review::quarantine_of(global)?;
    let mut failed = 0;
    for id in &args.ids {
        match q.discard(id) {
            Ok(r) => ui::info(
                global.quiet,
                format!(
                    "discarded {} (for {}, {} findings); nothing was published",
                    r.id,
                    ui::path(&r.destination),
                    r.findings.len()
                ),
            ),
            Err(e) => {
                ui::problem(ui::sanitize(id), e);
                failed += 1;
            }
        }
    }
    if args.leftovers {
        match q.clean_leftovers() {
            Ok(removed) => ui::info(
                global.quiet,
                format!(
                    "removed {} leftover(s) from {}",
                    removed.len(),
                    ui::path(q.dir())
                ),
            ),
            Err(e) => {
                ui::problem(ui::path(q.dir()), e);
                failed += 1;
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} of the removals asked for failed (see above)");
    }
    Ok(ExitCode::SUCCESS)
}
