//! The worker stage: each file read once (into a buffer the worker keeps), hashed, checked
//! and parsed ([`examine`](super::examine)), pre-checked for duplicates and staged in the run's
//! folder; files above [`IN_MEMORY_LIMIT`] take the streaming path (`big_file`).

use std::fs::{self, File};
use std::io::Read;
use std::path::Path;
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender};

use super::big_file::prepare_big_file;
use super::examine::inspect;
use super::options::IN_MEMORY_LIMIT;
use super::pipeline::{Ctx, Job, Origin, Prepared, refuse, reject};
use super::precheck::{already_archived, sha256_hex};
use crate::db::Db;
use crate::store;

/// A worker: takes jobs until the channel closes.
pub(super) fn worker(ctx: &Ctx<'_>, jobs: &Mutex<Receiver<Job>>, results: &SyncSender<Prepared>) {
    // The pre-check is an optimisation (the committer decides); without it every file is staged.
    let reader = Db::open_reader(&ctx.index).ok();
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let prepared = match job {
            Job::Bytes { source, data } => {
                prepare_bytes(ctx, reader.as_ref(), source, &data, Origin::ZipEntry)
            }
            Job::File {
                path,
                source,
                spooled,
            } => {
                let origin = if spooled {
                    Origin::ZipEntry
                } else {
                    Origin::File
                };
                let p = prepare_file(ctx, reader.as_ref(), &path, source, &mut buf, origin);
                if spooled {
                    let _ = fs::remove_file(&path);
                }
                p
            }
        };
        if results.send(prepared).is_err() {
            return;
        }
    }
}

pub(crate) fn prepare_file(
    ctx: &Ctx<'_>,
    reader: Option<&Db>,
    path: &Path,
    source: String,
    buf: &mut Vec<u8>,
    origin: Origin,
) -> Prepared {
    let opened = File::open(path).and_then(|f| f.metadata().map(|m| (f, m.len())));
    let (file, size) = match opened {
        Ok(o) => o,
        Err(e) => return reject(source, format!("cannot read: {e}"), None, None),
    };
    if size > IN_MEMORY_LIMIT {
        drop(file);
        return prepare_big_file(ctx, reader, path, source, size, origin);
    }
    // Into the buffer the worker keeps from file to file.
    buf.clear();
    buf.reserve(usize::try_from(size).unwrap_or(0).saturating_add(1));
    if let Err(e) = file.take(IN_MEMORY_LIMIT + 1).read_to_end(buf) {
        return reject(source, format!("cannot read: {e}"), None, Some(size));
    }
    if buf.len() as u64 > IN_MEMORY_LIMIT {
        // It grew while we looked; take the streaming path.
        return prepare_big_file(ctx, reader, path, source, buf.len() as u64, origin);
    }
    prepare_bytes(ctx, reader, source, buf, origin)
}

pub(crate) fn prepare_bytes(
    ctx: &Ctx<'_>,
    reader: Option<&Db>,
    source: String,
    bytes: &[u8],
    origin: Origin,
) -> Prepared {
    let size = bytes.len() as u64;
    let sha256 = sha256_hex(bytes);
    let facts = match inspect(bytes, origin) {
        Ok(f) => f,
        Err(refusal) => return refuse(source, refusal, Some(sha256), size),
    };
    if already_archived(ctx, reader, &facts, &sha256) {
        return Prepared::Candidate {
            source,
            facts: Box::new(facts),
            sha256,
            size,
            temp: None,
        };
    }
    let temp = ctx.run_dir.temp_path("part");
    if let Err(e) = store::write_new(&temp, bytes, ctx.fsync_each_file()) {
        let _ = fs::remove_file(&temp);
        return reject(
            source,
            format!("cannot stage a copy in the archive: {e}"),
            Some(sha256),
            Some(size),
        );
    }
    Prepared::Candidate {
        source,
        facts: Box::new(facts),
        sha256,
        size,
        temp: Some(temp),
    }
}
