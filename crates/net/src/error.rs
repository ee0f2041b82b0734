//! The network crate's errors: what stops a server or a send as a whole. Problems with one
//! association or one instance are reported to the observer instead, and the work goes on.

use std::path::PathBuf;

/// Why a server or a send could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The listening socket failed.
    #[error("the listening socket failed")]
    Accept(#[source] std::io::Error),
    /// The configuration file could not be read.
    #[error("cannot read {}", .path.display())]
    ConfigRead {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The configuration file is not valid.
    #[error("{}: {reason}", .path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An AE title is not valid (1 to 16 characters of ISO 646 without backslash or control
    /// characters, not all spaces).
    #[error("invalid AE title {0:?}: 1 to 16 printable ASCII characters, no backslash")]
    AeTitle(String),
    /// The peer could not be reached or refused the association.
    #[error("cannot associate with {peer}: {reason}")]
    Associate {
        /// `HOST:PORT` and AE title.
        peer: String,
        /// Why.
        reason: String,
    },
    /// The archive could not be opened for receiving.
    #[error(transparent)]
    Import(#[from] archive::ImportError),
    /// The export that prepares what is sent failed (nothing was sent).
    #[error(transparent)]
    Export(#[from] export::pipeline::ExportError),
    /// The export's audit found blocking findings: nothing was sent. (Its package, which had
    /// no destination to be released to, was removed from the quarantine.)
    #[error("the audit found {} blocking finding(s); nothing was sent", .0.findings.iter().filter(|f| f.awaits_acceptance()).count())]
    Findings(Box<export::pipeline::ExportSummary>),
    /// A temporary folder could not be made.
    #[error("cannot create a temporary folder")]
    Temp(#[source] std::io::Error),
}

/// Checks an AE title (PS3.5 AE: up to 16 characters of the default character repertoire, no
/// backslash or control characters; leading and trailing spaces are not significant).
pub fn check_ae_title(title: &str) -> Result<String, NetError> {
    let trimmed = title.trim_matches(' ');
    let ok = !trimmed.is_empty()
        && trimmed.len() <= 16
        && trimmed
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'\\');
    if ok {
        Ok(trimmed.to_string())
    } else {
        Err(NetError::AeTitle(title.to_string()))
    }
}
