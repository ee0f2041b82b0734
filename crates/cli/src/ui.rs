//! Everything the binary says to the user goes through here: progress bars, summary lines,
//! per-file problems and the fatal error, so that output conventions stay the same across
//! subcommands (progress only on a terminal, never with `--quiet`; messages on stderr, data on
//! stdout). Messages naming files have their control characters escaped ([`sanitize`]): a file
//! name must not be able to clear the screen, retitle the terminal or forge a line of output.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Prints a fatal error with its chain of causes.
pub fn fatal(err: &anyhow::Error) {
    eprintln!("depot: error: {}", sanitize(&err.to_string()));
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {}", sanitize(&cause.to_string()));
    }
}

/// Prints a warning line on stderr (always, even with `--quiet`: warnings matter).
pub fn warn(msg: impl std::fmt::Display) {
    eprintln!("{}", warning_line(&msg.to_string()));
}

/// Prints a per-file problem on stderr (always shown: nothing is hidden).
pub fn problem(path: impl std::fmt::Display, reason: impl std::fmt::Display) {
    eprintln!("{}", problem_line(&path.to_string(), &reason.to_string()));
}

/// `depot: <path>: <reason>`, sanitized.
pub fn problem_line(path: &str, reason: &str) -> String {
    sanitize(&format!("depot: {path}: {reason}"))
}

/// `depot: warning: <message>`, sanitized.
pub fn warning_line(msg: &str) -> String {
    sanitize(&format!("depot: warning: {msg}"))
}

/// Text safe to print on a terminal: control characters (C0, DEL, C1: escape sequences, bells,
/// carriage returns, newlines) become `\n`, `\t`, `\r`, `\xNN` or `\u{NN}`; everything else,
/// backslashes included, is kept (paths from the archive are already escaped that way, see
/// `archive::path_text`, and are not escaped twice).
pub fn sanitize(s: &str) -> String {
    archive::escape_controls(s)
}

/// A path as the archive shows it (absolute form not forced; control characters and bytes that
/// are not UTF-8 escaped).
pub fn path(p: &std::path::Path) -> String {
    archive::path_text(p)
}

/// Writes `text` to stdout. A reader that went away (`depot query ... | head`) surfaces as an
/// [`std::io::ErrorKind::BrokenPipe`] error, which `main` turns into a quiet exit
/// ([`is_broken_pipe`]).
pub fn out(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()
}

/// Whether an error comes from writing to a closed stdout pipe: the reader has what it
/// wanted, so the command ends quietly instead of reporting an error.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        let kind = if let Some(e) = cause.downcast_ref::<std::io::Error>() {
            Some(e.kind())
        } else if let Some(e) = cause.downcast_ref::<serde_json::Error>() {
            e.io_error_kind()
        } else if let Some(e) = cause.downcast_ref::<csv::Error>() {
            match e.kind() {
                csv::ErrorKind::Io(e) => Some(e.kind()),
                _ => None,
            }
        } else {
            None
        };
        kind == Some(std::io::ErrorKind::BrokenPipe)
    })
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

    /// Prints a line above the bar without tearing it (control characters escaped).
    pub fn println(&self, msg: impl AsRef<str>) {
        let msg = sanitize(msg.as_ref());
        if self.bar.is_hidden() {
            eprintln!("{msg}");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_once() {
        assert_eq!(
            sanitize("x\u{1b}[2J\u{1b}]0;pwned\u{7}"),
            "x\\x1B[2J\\x1B]0;pwned\\x07"
        );
        assert_eq!(
            problem_line("/d/y\ndepot: fake", "r"),
            "depot: /d/y\\ndepot: fake: r"
        );
        assert_eq!(sanitize("a\\x41 \u{85}"), "a\\x41 \\u{85}");
        assert_eq!(sanitize("plain/path ü"), "plain/path ü");
    }
}
