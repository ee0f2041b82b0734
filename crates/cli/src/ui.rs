//! Everything the binary says to the user goes through here: progress bars, summary lines,
//! per-file problems and the fatal error, so that output conventions stay the same across
//! subcommands (progress only on a terminal, never with `--quiet`; messages on stderr, data on
//! stdout).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Prints a fatal error with its chain of causes.
pub fn fatal(err: &anyhow::Error) {
    eprintln!("depot: error: {err}");
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}

/// Prints a warning line on stderr (always, even with `--quiet`: warnings matter).
pub fn warn(msg: impl std::fmt::Display) {
    eprintln!("depot: warning: {msg}");
}

/// Prints a per-file problem on stderr (always shown: nothing is hidden).
pub fn problem(path: impl std::fmt::Display, reason: impl std::fmt::Display) {
    eprintln!("depot: {path}: {reason}");
}

/// Prints an informational line on stderr unless quiet.
pub fn info(quiet: bool, msg: impl std::fmt::Display) {
    if !quiet {
        eprintln!("{msg}");
    }
}

/// A progress bar that draws only when stderr is a terminal and the user did not ask for quiet.
#[derive(Debug, Clone)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar over `total` items (files), labelled with a verb such as "importing".
    pub fn new(total: u64, label: &str, quiet: bool) -> Progress {
        let bar = if quiet || !std::io::stderr().is_terminal() {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>10} [{elapsed_precise}] {wide_bar} {pos}/{len} files ({per_sec}, eta {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.set_prefix(label.to_string());
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        };
        Progress { bar }
    }

    /// Sets or changes the total once it is known.
    pub fn set_total(&self, total: u64) {
        self.bar.set_length(total);
    }

    /// Advances by `n` items.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    /// Prints a line above the bar without tearing it.
    pub fn println(&self, msg: impl AsRef<str>) {
        if self.bar.is_hidden() {
            eprintln!("{}", msg.as_ref());
        } else {
            self.bar.println(msg);
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Whether stdout is a terminal (decides the default output format of queries).
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}
