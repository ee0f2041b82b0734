//! Files above [`IN_MEMORY_LIMIT`](super::IN_MEMORY_LIMIT): scanned and parsed from disk (one
//! at a time, to bound memory), then streamed through the hash into a staged copy.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::path::Path;

use dicom_dictionary_std::tags;
use dicom_object::OpenFileOptions;
use dicom_object::file::ReadPreamble;

use super::examine::{describe_read_error, facts_of, marker};
use super::pipeline::{Ctx, Origin, Prepared, Refusal, refuse, reject};
use super::precheck::archived_here;
use crate::content_hash::HashAlgorithm;
use crate::db::Db;
use crate::reading::HeaderSource;

/// The path for files above [`IN_MEMORY_LIMIT`]: scan and parse the header from disk (one at a
/// time), then stream the bytes through the hash into a staged copy.
pub(super) fn prepare_big_file(
    ctx: &Ctx<'_>,
    reader: Option<&Db>,
    path: &Path,
    source: String,
    size: u64,
    origin: Origin,
) -> Prepared {
    let mut head = Vec::with_capacity(132);
    if let Err(e) = File::open(path).and_then(|f| f.take(132).read_to_end(&mut head)) {
        return reject(source, format!("cannot read: {e}"), None, Some(size));
    }
    let preamble = match marker(&head, origin) {
        Ok(p) => p,
        Err(reason) => return reject(source, reason, None, Some(size)),
    };
    // The whole file is scanned (a file cut inside its pixel data is rejected); a header
    // that needs repairs is copied into memory and repaired there.
    let scanned =
        crate::reading::header_source(path, size, preamble == ReadPreamble::Always, false);
    let (header, layout) = match scanned {
        Ok(h) => h,
        Err(e) => return reject(source, e.to_string(), None, Some(size)),
    };
    let held = match &header {
        HeaderSource::Memory(bytes) => bytes.len() as u64,
        HeaderSource::Disk => 0,
    };
    let facts = {
        let _one_at_a_time = ctx.big_file.lock();
        let _memory = match crate::memory::Budget::global().acquire(&layout.header_cost, held) {
            Ok(permit) => permit,
            Err(e) => return reject(source, e.to_string(), None, Some(size)),
        };
        let options = OpenFileOptions::new()
            .read_until(tags::PIXEL_DATA)
            .read_preamble(preamble);
        let parsed = match header {
            HeaderSource::Disk => File::open(path)
                .map_err(|e| format!("cannot read: {e}"))
                .and_then(|f| {
                    options
                        .from_reader(BufReader::with_capacity(1 << 20, f))
                        .map_err(|e| describe_read_error(&e))
                }),
            HeaderSource::Memory(bytes) => options
                .from_reader(&bytes[..])
                .map_err(|e| describe_read_error(&e)),
        }
        .map_err(Refusal::Rejected)
        .and_then(|obj| facts_of(&obj));
        match parsed {
            Ok(f) => f,
            Err(refusal) => return refuse(source, refusal, None, size),
        }
    };
    if let Some(existing) = archived_here(ctx, reader, &facts) {
        match hash_stream(ctx.hash, path, None) {
            Ok((content_hash, n)) if content_hash == existing.content_hash => {
                return Prepared::Candidate {
                    source,
                    facts: Box::new(facts),
                    content_hash,
                    size: n,
                    temp: None,
                };
            }
            Ok(_) => {}
            Err(e) => return reject(source, format!("cannot read: {e}"), None, Some(size)),
        }
    }
    let temp = ctx.run_dir.temp_path("part");
    let staged = File::create_new(&temp).and_then(|mut out| {
        let r = hash_stream(ctx.hash, path, Some(&mut out))?;
        if ctx.fsync_each_file() {
            out.sync_data()?;
        }
        Ok(r)
    });
    match staged {
        Ok((content_hash, n)) => Prepared::Candidate {
            source,
            facts: Box::new(facts),
            content_hash,
            size: n,
            temp: Some(temp),
        },
        Err(e) => {
            let _ = fs::remove_file(&temp);
            reject(
                source,
                format!("cannot read or stage: {e}"),
                None,
                Some(size),
            )
        }
    }
}

/// Hashes a file, copying it to `out` on the way if given.
fn hash_stream(
    algorithm: HashAlgorithm,
    path: &Path,
    mut out: Option<&mut File>,
) -> io::Result<(String, u64)> {
    let mut f = File::open(path)?;
    let mut hasher = algorithm.hasher();
    let mut chunk = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        let Some(data) = chunk.get(..n) else { break };
        hasher.update(data);
        if let Some(o) = out.as_deref_mut() {
            o.write_all(data)?;
        }
        total += n as u64;
    }
    Ok((hasher.finalize_hex(), total))
}
