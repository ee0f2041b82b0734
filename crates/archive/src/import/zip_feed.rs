//! Zip dumps: every entry of a zip, in central-directory order ([`crate::zip_entries`]),
//! handed to the workers in memory when small and spooled to the run's folder when big.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::Path;
use std::sync::mpsc::SyncSender;

use super::options::{IN_MEMORY_LIMIT, MAX_ZIP_ENTRY};
use super::package::is_package_manifest_text;
use super::pipeline::{Ctx, Job, Prepared};
use crate::text::{escape_bytes, escape_text, path_text};
use crate::zip_entries::ZipEntries;

/// Streams a zip's entries to the workers: small ones in memory, big ones spooled to the run's
/// temporary folder. Entry names are only ever used in messages (`dump.zip!/inner/path`).
///
/// Every entry of the central directory is read, in its order, those hidden behind a later
/// entry of the same name included ([`ZipEntries`]). Entries named like folders (`name/`) are
/// passed over only when they hold no data.
pub(super) fn feed_zip(
    ctx: &Ctx<'_>,
    path: &Path,
    jobs: &SyncSender<Job>,
    results: &SyncSender<Prepared>,
) -> bool {
    let zip_name = path_text(path);
    let reject = |source: String, reason: String, size: Option<u64>| {
        ctx.observer.discovered(1);
        results
            .send(Prepared::Rejected {
                source,
                reason,
                content_hash: None,
                size,
            })
            .is_ok()
    };
    let mut zip = match ZipEntries::open(path) {
        Ok(z) => z,
        Err(e) => {
            return reject(
                zip_name,
                format!("cannot read zip archive: {}", e.source),
                None,
            );
        }
    };
    let zip_is_package = zip.find("manifest.json").is_some_and(|position| {
        let mut head = Vec::new();
        if let Ok(mut m) = zip.data(position, MAX_ZIP_ENTRY) {
            let _ = (&mut m).take(4096).read_to_end(&mut head);
        }
        is_package_manifest_text(&head)
    });
    if zip.has_duplicate_names()
        && let Some(e) = zip.incomplete()
    {
        let reason = format!(
            "entries of this zip share names, and its central directory cannot be read to find them all ({e}): of each name only the last entry is imported, the others are lost"
        );
        if !reject(zip_name.clone(), reason, None) {
            return false;
        }
    }
    // Names (raw bytes) shared by several entries: those entries are told apart by their
    // position.
    let shared: Vec<bool> = {
        let mut name_counts: BTreeMap<&[u8], usize> = BTreeMap::new();
        for e in zip.entries() {
            *name_counts.entry(e.name_raw.as_slice()).or_default() += 1;
        }
        zip.entries()
            .iter()
            .map(|e| name_counts.get(e.name_raw.as_slice()).copied().unwrap_or(0) > 1)
            .collect()
    };
    for (position, shared) in shared.into_iter().enumerate() {
        let entry = &zip.entries()[position];
        let raw = entry.name_raw.as_slice();
        let inner = match &entry.name {
            Some(name) => escape_text(name),
            None if raw.is_empty() => format!("#{}", position + 1),
            None => escape_bytes(raw),
        };
        let source = if shared {
            format!("{zip_name}!/{inner} [entry {}]", position + 1)
        } else {
            format!("{zip_name}!/{inner}")
        };
        let size = entry.size;
        // A depot package's own manifests sit at the zip's root; they are not DICOM.
        let manifest = (raw == b"manifest.json" || raw == b"manifest.csv") && zip_is_package;
        let pass_over = (entry.is_folder_like() && size == 0) || manifest;
        // An entry hidden by the zip crate is read from its local header: passed over before
        // that is read; the others once opened.
        let shadowed = entry.is_shadowed();
        if pass_over && shadowed {
            continue;
        }
        let job = match zip.data(position, MAX_ZIP_ENTRY) {
            Ok(_) if pass_over => continue,
            Ok(mut data) => entry_job(ctx, source, size, &mut data),
            Err(e) => Err((
                source,
                format!("cannot read zip entry: {e}"),
                shadowed.then_some(size),
            )),
        };
        let sent = match job {
            Ok(job) => {
                ctx.observer.discovered(1);
                jobs.send(job).is_ok()
            }
            Err((source, reason, size)) => reject(source, reason, size),
        };
        if !sent {
            return false;
        }
    }
    true
}

/// Reads one zip entry (`size` as its headers claim) into a job: in memory when small, spooled
/// to the run's folder when big.
fn entry_job(
    ctx: &Ctx<'_>,
    source: String,
    size: u64,
    entry: &mut dyn Read,
) -> Result<Job, (String, String, Option<u64>)> {
    if size > MAX_ZIP_ENTRY {
        return Err((
            source,
            format!("zip entry claims {size} bytes, more than the {MAX_ZIP_ENTRY} accepted"),
            Some(size),
        ));
    }
    if size <= IN_MEMORY_LIMIT {
        let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        match entry.take(IN_MEMORY_LIMIT + 1).read_to_end(&mut data) {
            Ok(_) if data.len() as u64 <= IN_MEMORY_LIMIT => Ok(Job::Bytes { source, data }),
            Ok(_) => Err((
                source,
                "zip entry is larger than its header says (corrupt zip)".into(),
                Some(size),
            )),
            Err(e) => Err((source, format!("cannot unpack zip entry: {e}"), Some(size))),
        }
    } else {
        let spool = ctx.run_dir.temp_path("spool");
        let copied = File::create_new(&spool)
            .and_then(|mut f| io::copy(&mut entry.take(MAX_ZIP_ENTRY), &mut f));
        match copied {
            Ok(_) => Ok(Job::File {
                path: spool,
                source,
                spooled: true,
            }),
            Err(e) => {
                let _ = fs::remove_file(&spool);
                Err((source, format!("cannot unpack zip entry: {e}"), Some(size)))
            }
        }
    }
}
