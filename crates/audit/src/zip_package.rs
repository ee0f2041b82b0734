//! The audit of a zip package: the zip's comment, every entry's name, raw name, extra fields
//! and comment, and every entry's bytes (read within the size the zip allows; streamed from the
//! zip file when too big to hold).
//!
//! The entries are those of the archive's one zip walker ([`archive::zip_entries`]), which
//! reads the central directory header by header: an entry the zip crate's by-name index hides
//! behind a later one of the same name is audited like any other.

use std::io::Read;
use std::path::Path;

use archive::scan;
use archive::zip_entries::{EntryError, Method, OverLimit, ZipEntries, ZipEntry};

use crate::auditor::Auditor;
use crate::error::AuditError;
use crate::finding::{Finding, Region, value_findings};
use crate::manifest_words::is_manifest;
use crate::matcher::Mode;
use crate::report::AuditReport;
use crate::source::{FileSource, Plain, SkipRead, Source};
use crate::stream::Streaming;

/// The most bytes read from one zip entry: its stored size (which cannot exceed the zip
/// file), or for a compressed entry what [`scan::deflate_limit`] allows for that size (the
/// bound `ZipEntries::data_limit` gives).
pub(crate) fn entry_limit(stored: bool, compressed_size: u64, zip_size: u64) -> u64 {
    let size = compressed_size.min(zip_size);
    if stored {
        size
    } else {
        scan::deflate_limit(size)
    }
}

pub(crate) fn u16_at(b: &[u8], i: usize) -> usize {
    b.get(i..i + 2)
        .map_or(0, |x| usize::from(u16::from_le_bytes([x[0], x[1]])))
}

/// The raw metadata of one zip entry: (extra fields, which are binary; comment, and raw names
/// unless they are `name`, which are text), from its local and central headers. Zip64 size
/// fields are left out.
fn entry_metadata(zip: &mut ZipEntries, entry: &ZipEntry, name: &str) -> (Vec<u8>, Vec<u8>) {
    let mut binary = Vec::new();
    let mut text = Vec::new();
    if let Ok(local) = zip.local_header(entry.position) {
        binary.extend(extra_without_zip64(&local.extra));
        // A local header naming the entry otherwise than its central header: searched too.
        if local.name_raw != entry.name_raw && local.name_raw != name.as_bytes() {
            text.extend_from_slice(&local.name_raw);
            text.push(b'\n');
        }
    }
    // A raw name that is not the decoded one (not UTF-8, read as CP437) is searched as bytes
    // too; a decoded name is searched as a path.
    if entry.name_raw != name.as_bytes() {
        text.extend_from_slice(&entry.name_raw);
        text.push(b'\n');
    }
    binary.push(0);
    binary.extend(extra_without_zip64(&entry.extra));
    text.extend_from_slice(&entry.comment);
    (binary, text)
}

/// Extra field data with the zip64 field (header ID 1: sizes and offsets) left out.
fn extra_without_zip64(extra: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 4 <= extra.len() {
        let id = u16_at(extra, i);
        let len = u16_at(extra, i + 2);
        let end = (i + 4 + len).min(extra.len());
        if id != 1 {
            out.extend_from_slice(&extra[i..end]);
            out.push(0);
        }
        i = end;
    }
    out.extend_from_slice(extra.get(i..).unwrap_or_default());
    out
}

/// `cannot read the zip entry: ...`, or the limit an entry went over.
fn read_failure(masked: &str, e: &std::io::Error, limit: u64) -> Finding {
    let reason = if OverLimit::of(e).is_some() {
        format!("the zip entry holds more than the {limit} bytes its size allows")
    } else {
        format!("cannot read the zip entry: {e}")
    };
    Finding::Unreadable {
        file: masked.to_string(),
        reason,
    }
}

pub(crate) fn audit_zip(
    path: &Path,
    auditor: &Auditor,
    report: &mut AuditReport,
    streaming: Streaming,
) -> Result<(), AuditError> {
    let mut zip = ZipEntries::open(path).map_err(|source| AuditError::Zip {
        path: path.to_path_buf(),
        source,
    })?;
    let zip_size = zip.file_size();
    let comment = auditor.labels(zip.comment(), Mode::default(), true);
    report
        .findings
        .extend(value_findings("", Region::ZipMetadata, comment));
    for position in 0..zip.len() {
        let entry = zip.entries()[position].clone();
        let name = match &entry.name {
            Some(n) => n.clone(),
            None => {
                // Its raw name is still searched (as metadata, below).
                let fallback = format!("entry {}", position + 1);
                report.findings.push(Finding::Unreadable {
                    file: fallback.clone(),
                    reason: "cannot decode the zip entry's name".into(),
                });
                fallback
            }
        };
        report.findings.extend(auditor.scan_path(&name));
        let masked = auditor.mask_path(&name).0;
        let (binary, text) = entry_metadata(&mut zip, &entry, &name);
        let mut labels = auditor.labels(&binary, Mode::default(), false);
        labels.extend(auditor.labels(&text, Mode::default(), true));
        report
            .findings
            .extend(value_findings(&masked, Region::ZipMetadata, labels));
        if entry.is_folder_like() && entry.size == 0 && entry.compressed_size == 0 {
            continue;
        }
        let stored = entry.method == Method::Stored;
        let limit = entry_limit(stored, entry.compressed_size, zip_size);
        // An entry that declares more than `streaming.above` bytes is streamed; one that
        // declares less is read into memory, but no further than that: one holding more than
        // it declares is streamed too.
        let cap = limit.min(streaming.above);
        let declared = entry.size.max(entry.compressed_size);
        let capacity = entry.size.min(cap).min(64 << 20);
        let mut bytes = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
        let mut stream = declared > cap;
        if !stream {
            let read = match zip.data(position, cap) {
                Ok(mut data) => data.read_to_end(&mut bytes).map(drop),
                Err(e) => {
                    report.findings.push(Finding::Unreadable {
                        file: masked,
                        reason: format!("cannot read the zip entry: {e}"),
                    });
                    continue;
                }
            };
            match read {
                Ok(()) => {}
                // More than fits in memory but within what its sizes allow: streamed.
                Err(e) if OverLimit::of(&e).is_some() && cap < limit => stream = true,
                Err(e) => {
                    report.findings.push(read_failure(&masked, &e, limit));
                    continue;
                }
            }
        }
        if stream {
            drop(bytes);
            let big = BigEntry {
                position,
                name: &name,
                masked: &masked,
                stored,
                limit,
            };
            match stream_zip_entry(&mut zip, path, &big, auditor, streaming.chunk) {
                Ok((n, found)) => {
                    report.files += 1;
                    report.bytes += n;
                    report.findings.extend(found);
                }
                Err(finding) => report.findings.push(finding),
            }
            continue;
        }
        report.files += 1;
        report.bytes += bytes.len() as u64;
        if is_manifest(&name) {
            report.findings.extend(auditor.scan_manifest(&name, &bytes));
        } else {
            report.findings.extend(auditor.scan_file(&masked, &bytes));
        }
    }
    Ok(())
}

/// A zip entry too big to hold.
struct BigEntry<'a> {
    position: usize,
    name: &'a str,
    /// The name as findings show it.
    masked: &'a str,
    stored: bool,
    /// The most bytes it may hold (see [`entry_limit`]).
    limit: u64,
}

/// Audits a zip entry too big to hold: read once through the zip walker (its size within the
/// entry's limit, its CRC checked), then streamed for each pass of the audit, from the zip
/// file itself when stored, inflated again when compressed. Returns the bytes audited and the
/// findings, or the finding that the entry cannot be read.
fn stream_zip_entry(
    zip: &mut ZipEntries,
    path: &Path,
    e: &BigEntry<'_>,
    auditor: &Auditor,
    chunk: usize,
) -> Result<(u64, Vec<Finding>), Finding> {
    let cannot = |err: &dyn std::fmt::Display| Finding::Unreadable {
        file: e.masked.to_string(),
        reason: format!("cannot read the zip entry: {err}"),
    };
    let len = {
        let mut data = zip.data(e.position, e.limit).map_err(|err| cannot(&err))?;
        std::io::copy(&mut data, &mut std::io::sink())
            .map_err(|err| read_failure(e.masked, &err, e.limit))?
    };
    let data_start = if e.stored {
        zip.local_header(e.position).ok().map(|h| h.data_start)
    } else {
        None
    };
    let scan = |src: &mut dyn Source| {
        if is_manifest(e.name) {
            auditor.scan_manifest_source(e.name, src, chunk)
        } else {
            auditor.scan_source(e.masked, src, len, chunk)
        }
    };
    let found = match data_start {
        Some(start) => scan(&mut FileSource {
            path: path.to_path_buf(),
            start,
            len,
        }),
        None => scan(&mut ZipEntrySource {
            zip,
            position: e.position,
            len,
        }),
    };
    found.map(|f| (len, f)).map_err(|err| cannot(&err))
}

/// A compressed zip entry, inflated again from its start for each pass (at most `len` bytes).
struct ZipEntrySource<'z> {
    zip: &'z mut ZipEntries,
    position: usize,
    len: u64,
}

impl Source for ZipEntrySource<'_> {
    fn open_at(&mut self, offset: u64) -> std::io::Result<Box<dyn SkipRead + '_>> {
        let data = self
            .zip
            .data(self.position, self.len)
            .map_err(|e: EntryError| std::io::Error::other(e))?;
        let mut r = Plain(data);
        r.skip(offset)?;
        Ok(Box::new(r))
    }
}
