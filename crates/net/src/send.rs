//! `depot send` as a library call: export the selection exactly as `depot export` would (same
//! engine, same regrouping check, same audit, all before anything leaves), into a private
//! temporary package, then send the package's instances with the [`crate::scu`].
//!
//! An export that the audit refuses (blocking findings: it would have gone to the quarantine),
//! or that fails for any file, sends nothing. The package is deleted when the send ends,
//! whatever happened.

use std::path::PathBuf;

use archive::Archive;
use export::pipeline::{ExportObserver, ExportRequest, ExportSummary};

use crate::error::NetError;
use crate::scu::{self, Peer, SendObserver, SendSummary};

/// What to send, how, and where.
#[derive(Debug, Clone)]
pub struct SendRequest {
    /// The export to make (its `out`, `dry_run` and `force` are set here).
    pub export: ExportRequest,
    /// The peer.
    pub peer: Peer,
}

/// What a send did: the export that prepared it, and the transfer.
#[derive(Debug)]
pub struct SendOutcome {
    /// The export (manifest, warnings, audit).
    pub export: ExportSummary,
    /// The transfer.
    pub sent: SendSummary,
}

/// Exports the selection into a temporary package and sends its instances.
pub fn send(
    archive: &Archive,
    req: &SendRequest,
    export_observer: &dyn ExportObserver,
    send_observer: &dyn SendObserver,
) -> Result<SendOutcome, NetError> {
    let staging = tempfile::Builder::new()
        .prefix("depot-send-")
        .tempdir()
        .map_err(NetError::Temp)?;
    let mut export_req = req.export.clone();
    export_req.out = staging.path().join("package");
    export_req.dry_run = false;
    export_req.force = false;
    let summary = export::pipeline::export(archive, &export_req, export_observer)?;
    if let Some(entry) = &summary.quarantined {
        // Blocking findings: nothing leaves. A package made to be sent has no destination to
        // be released to, so its quarantine entry goes too (`depot export` of the same
        // selection keeps one for review).
        let _ = export::quarantine::Quarantine::of(archive.root()).discard(&entry.record.id);
        return Err(NetError::Findings(Box::new(summary)));
    }
    let root = summary
        .published
        .clone()
        .unwrap_or_else(|| export_req.out.clone());
    let mut files: Vec<(PathBuf, String)> = walk(&root)
        .into_iter()
        .filter(|(_, rel)| rel.ends_with(".dcm"))
        .collect();
    files.sort_by(|a, b| a.1.cmp(&b.1));
    let sent = scu::send_files(&req.peer, &files, send_observer)?;
    drop(staging);
    Ok(SendOutcome {
        export: summary,
        sent,
    })
}

/// Every file below `root`, with its `/`-separated path relative to it.
fn walk(root: &std::path::Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(t) if t.is_file() => {
                    let rel = path
                        .strip_prefix(root)
                        .map(|r| {
                            r.components()
                                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                                .collect::<Vec<_>>()
                                .join("/")
                        })
                        .unwrap_or_default();
                    out.push((path, rel));
                }
                _ => {}
            }
        }
    }
    out
}
