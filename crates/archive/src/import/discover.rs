//! The discovery stage: walks the inputs (folders recursively, in name order, following
//! links, never into the archive itself), hands files and zip entries to the workers, and
//! sends what cannot be opened (unreadable paths, fifos, sockets, devices) straight to the
//! committer, unopened.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;

use super::package::is_package_manifest;
use super::pipeline::{Ctx, Job, Prepared};
use super::zip_feed::feed_zip;
use crate::text::path_text;
use crate::zip_entries;

/// Walks the inputs and feeds the workers. Unreadable paths and files that are not regular files
/// (fifos, sockets, devices) go straight to the committer, without being opened: opening a fifo
/// for reading would wait for a writer forever.
pub(super) fn discover(
    ctx: &Ctx<'_>,
    inputs: &[PathBuf],
    jobs: &SyncSender<Job>,
    results: &SyncSender<Prepared>,
) {
    let reject = |source: String, reason: String| {
        ctx.observer.discovered(1);
        results
            .send(Prepared::Rejected {
                source,
                reason,
                content_hash: None,
                size: None,
            })
            .is_ok()
    };
    for input in inputs {
        let ok = match fs::metadata(input) {
            Err(e) => reject(path_text(input), format!("cannot read: {e}")),
            Ok(m) if m.is_dir() => walk(ctx, input, jobs, results, &reject),
            Ok(m) if m.is_file() => feed_file(ctx, input, sniff_zip(input), jobs, results),
            Ok(m) => reject(path_text(input), not_regular(&m.file_type())),
        };
        if !ok {
            return;
        }
    }
}

/// Walks one input folder. Returns false when the pipeline is shutting down.
fn walk(
    ctx: &Ctx<'_>,
    input: &Path,
    jobs: &SyncSender<Job>,
    results: &SyncSender<Prepared>,
    reject: &dyn Fn(String, String) -> bool,
) -> bool {
    let walker = walkdir::WalkDir::new(input)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            // Never import the archive into itself (`depot import .` next to ./depot-archive).
            !(e.file_type().is_dir()
                && ctx.skip.is_some()
                && e.path().canonicalize().ok().as_deref() == ctx.skip.as_deref())
        });
    for entry in walker {
        let ok = match entry {
            Err(e) => {
                let path = e.path().map(path_text).unwrap_or_else(|| path_text(input));
                reject(path, format!("cannot read: {e}"))
            }
            Ok(e) if e.file_type().is_dir() => true,
            Ok(e) if !e.file_type().is_file() => {
                reject(path_text(e.path()), not_regular(&e.file_type()))
            }
            Ok(e) if is_package_manifest(e.path()) => true,
            Ok(e) => {
                let zip = has_zip_name(e.path()) && sniff_zip(e.path());
                feed_file(ctx, e.path(), zip, jobs, results)
            }
        };
        if !ok {
            return false;
        }
    }
    true
}

/// The reason a file that is not a regular file is refused, naming its kind.
fn not_regular(t: &fs::FileType) -> String {
    #[cfg(unix)]
    let kind = {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            "a fifo or pipe"
        } else if t.is_socket() {
            "a socket"
        } else if t.is_block_device() {
            "a block device"
        } else if t.is_char_device() {
            "a character device"
        } else {
            "of an unknown kind"
        }
    };
    #[cfg(not(unix))]
    let kind = {
        let _ = t;
        "of an unknown kind"
    };
    format!("not a regular file ({kind}): not opened, not archived")
}

/// Sends one file (or a zip's entries). Returns false when the pipeline is shutting down.
fn feed_file(
    ctx: &Ctx<'_>,
    path: &Path,
    zip: bool,
    jobs: &SyncSender<Job>,
    results: &SyncSender<Prepared>,
) -> bool {
    if zip {
        return feed_zip(ctx, path, jobs, results);
    }
    ctx.observer.discovered(1);
    jobs.send(Job::File {
        path: path.to_path_buf(),
        source: path_text(path),
        spooled: false,
    })
    .is_ok()
}

fn has_zip_name(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"))
}

/// Whether the file is a zip archive: it starts like one, or it is named `*.zip` and has a
/// central directory (a self-extracting stub or a spanning marker before the first entry).
fn sniff_zip(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    let starts_like_zip = File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && (magic == *b"PK\x03\x04" || magic == *b"PK\x05\x06");
    starts_like_zip || (has_zip_name(path) && zip_entries::is_zip(path))
}
