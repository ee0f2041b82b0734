//! The audit of a zip package: the zip's comment, every entry's name, raw name, extra fields
//! and comment, and every entry's bytes (read within the size the zip allows; streamed from the
//! zip file when too big to hold).

use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use archive::scan;

use crate::auditor::Auditor;
use crate::error::AuditError;
use crate::finding::{Finding, Region, value_findings};
use crate::manifest_words::is_manifest;
use crate::matcher::Mode;
use crate::report::AuditReport;
use crate::source::{FileSource, Plain, SkipRead, Source};
use crate::stream::Streaming;

/// The most bytes read from one zip entry: its stored size (which cannot exceed the zip
/// file), or for a compressed entry what [`scan::deflate_limit`] allows for that size.
pub(crate) fn entry_limit(stored: bool, compressed_size: u64, zip_size: u64) -> u64 {
    let size = compressed_size.min(zip_size);
    if stored {
        size
    } else {
        scan::deflate_limit(size)
    }
}

/// Reads `len` bytes at `offset` of the zip file (headers, extra fields, comments).
pub(crate) fn read_at(f: &mut std::fs::File, offset: u64, len: usize) -> std::io::Result<Vec<u8>> {
    f.seek(SeekFrom::Start(offset))?;
    let mut buf = vec![0u8; len];
    f.read_exact(&mut buf)?;
    Ok(buf)
}

pub(crate) fn u16_at(b: &[u8], i: usize) -> usize {
    b.get(i..i + 2)
        .map_or(0, |x| usize::from(u16::from_le_bytes([x[0], x[1]])))
}

/// The raw metadata of one zip entry: (extra fields, which are binary; comment and raw name
/// unless it is `name`, which are text), from its local and central headers. Zip64 size
/// fields are left out.
pub(crate) fn entry_metadata(
    raw: &mut std::fs::File,
    header_start: u64,
    central_start: u64,
    name: &str,
) -> (Vec<u8>, Vec<u8>) {
    let mut binary = Vec::new();
    let mut text = Vec::new();
    if let Ok(local) = read_at(raw, header_start, 30)
        && local.starts_with(b"PK\x03\x04")
    {
        let (n, m) = (u16_at(&local, 26), u16_at(&local, 28));
        if let Ok(extra) = read_at(raw, header_start + 30 + n as u64, m) {
            binary.extend(extra_without_zip64(&extra));
        }
    }
    if let Ok(central) = read_at(raw, central_start, 46)
        && central.starts_with(b"PK\x01\x02")
    {
        let (n, m, k) = (
            u16_at(&central, 28),
            u16_at(&central, 30),
            u16_at(&central, 32),
        );
        if let Ok(rest) = read_at(raw, central_start + 46, n + m + k) {
            // A raw name that is not the decoded one (not UTF-8, read as CP437) is searched
            // as bytes too; a decoded name is searched as a path.
            if &rest[..n] != name.as_bytes() {
                text.extend_from_slice(&rest[..n]);
                text.push(b'\n');
            }
            binary.push(0);
            binary.extend(extra_without_zip64(&rest[n..n + m]));
            text.extend_from_slice(&rest[n + m..]);
        }
    }
    (binary, text)
}

/// Extra field data with the zip64 field (header ID 1: sizes and offsets) left out.
pub(crate) fn extra_without_zip64(extra: &[u8]) -> Vec<u8> {
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

pub(crate) fn audit_zip(
    path: &Path,
    auditor: &Auditor,
    report: &mut AuditReport,
    streaming: Streaming,
) -> Result<(), AuditError> {
    let read_err = |source| AuditError::Read {
        path: path.to_path_buf(),
        source,
    };
    let zip_err = |source| AuditError::Zip {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let zip_size = file.metadata().map_err(read_err)?.len();
    let mut raw = std::fs::File::open(path).map_err(read_err)?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(zip_err)?;
    let comment = auditor.labels(zip.comment(), Mode::default(), true);
    report
        .findings
        .extend(value_findings("", Region::ZipMetadata, comment));
    for i in 0..zip.len() {
        let fallback = zip
            .name_for_index(i)
            .and_then(Result::ok)
            .map_or_else(|| format!("entry {}", i + 1), |n| n.into_owned());
        let mut entry = match zip.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                report.findings.extend(auditor.scan_path(&fallback));
                report.findings.push(Finding::Unreadable {
                    file: auditor.mask_path(&fallback).0,
                    reason: format!("cannot read the zip entry: {e}"),
                });
                continue;
            }
        };
        let name = entry.name().map_err(zip_err)?.to_string();
        report.findings.extend(auditor.scan_path(&name));
        let masked = auditor.mask_path(&name).0;
        let (binary, text) = entry_metadata(
            &mut raw,
            entry.header_start(),
            entry.central_header_start(),
            &name,
        );
        let mut labels = auditor.labels(&binary, Mode::default(), false);
        labels.extend(auditor.labels(&text, Mode::default(), true));
        report
            .findings
            .extend(value_findings(&masked, Region::ZipMetadata, labels));
        if entry.is_dir() {
            continue;
        }
        let stored = entry.compression() == zip::CompressionMethod::Stored;
        let limit = entry_limit(stored, entry.compressed_size(), zip_size);
        // An entry that declares more than `streaming.above` bytes is streamed; one that
        // declares less is read into memory, but no further than that: one holding more than
        // it declares is streamed too.
        let cap = limit.min(streaming.above);
        let declared = entry.size().max(entry.compressed_size());
        let capacity = entry.size().min(cap).min(64 << 20);
        let mut bytes = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
        let read = if declared > cap {
            Ok(())
        } else {
            (&mut entry)
                .take(cap.saturating_add(1))
                .read_to_end(&mut bytes)
                .map(drop)
        };
        if let Err(e) = read {
            report.findings.push(Finding::Unreadable {
                file: masked,
                reason: format!("cannot read the zip entry: {e}"),
            });
            continue;
        }
        if bytes.len() as u64 > limit {
            report.findings.push(Finding::Unreadable {
                file: masked,
                reason: format!("the zip entry holds more than the {limit} bytes its size allows"),
            });
            continue;
        }
        if declared > cap || bytes.len() as u64 > cap {
            drop(bytes);
            drop(entry);
            let big = BigEntry {
                index: i,
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
pub(crate) struct BigEntry<'a> {
    pub(crate) index: usize,
    pub(crate) name: &'a str,
    /// The name as findings show it.
    pub(crate) masked: &'a str,
    pub(crate) stored: bool,
    /// The most bytes it may hold (see [`entry_limit`]).
    pub(crate) limit: u64,
}

/// Audits a zip entry too big to hold: read once through the zip reader (its size within the
/// entry's limit, its CRC checked), then streamed for each pass of the audit, from the zip
/// file itself when stored, inflated again when compressed. Returns the bytes audited and the
/// findings, or the finding that the entry cannot be read.
pub(crate) fn stream_zip_entry(
    zip: &mut zip::ZipArchive<std::io::BufReader<std::fs::File>>,
    path: &Path,
    e: &BigEntry<'_>,
    auditor: &Auditor,
    chunk: usize,
) -> Result<(u64, Vec<Finding>), Finding> {
    let unreadable = |reason: String| Finding::Unreadable {
        file: e.masked.to_string(),
        reason,
    };
    let cannot = |err: &dyn fmt::Display| unreadable(format!("cannot read the zip entry: {err}"));
    let (len, data_start) = {
        let mut entry = zip.by_index(e.index).map_err(|err| cannot(&err))?;
        let mut sink = std::io::sink();
        let n = std::io::copy(&mut (&mut entry).take(e.limit.saturating_add(1)), &mut sink)
            .map_err(|err| cannot(&err))?;
        (n, entry.data_start())
    };
    if len > e.limit {
        return Err(unreadable(format!(
            "the zip entry holds more than the {} bytes its size allows",
            e.limit
        )));
    }
    let scan = |src: &mut dyn Source| {
        if is_manifest(e.name) {
            auditor.scan_manifest_source(e.name, src, chunk)
        } else {
            auditor.scan_source(e.masked, src, len, chunk)
        }
    };
    let found = match (e.stored, data_start) {
        (true, Some(start)) => scan(&mut FileSource {
            path: path.to_path_buf(),
            start,
            len,
        }),
        _ => scan(&mut ZipEntrySource {
            zip,
            index: e.index,
            len,
        }),
    };
    found.map(|f| (len, f)).map_err(|err| cannot(&err))
}

/// A compressed zip entry, inflated again from its start for each pass (at most `len` bytes).
pub(crate) struct ZipEntrySource<'z> {
    pub(crate) zip: &'z mut zip::ZipArchive<std::io::BufReader<std::fs::File>>,
    pub(crate) index: usize,
    pub(crate) len: u64,
}

impl Source for ZipEntrySource<'_> {
    fn open_at(&mut self, offset: u64) -> std::io::Result<Box<dyn SkipRead + '_>> {
        let entry = self
            .zip
            .by_index(self.index)
            .map_err(std::io::Error::other)?;
        let mut r = Plain(entry.take(self.len));
        r.skip(offset)?;
        Ok(Box::new(r))
    }
}
