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
use super::precheck::already_archived;
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
    if let Err(e) = read_into(file, size, IN_MEMORY_LIMIT + 1, buf) {
        return reject(source, format!("cannot read: {e}"), None, Some(size));
    }
    if buf.len() as u64 > IN_MEMORY_LIMIT {
        // It grew while we looked; take the streaming path.
        return prepare_big_file(ctx, reader, path, source, buf.len() as u64, origin);
    }
    prepare_bytes(ctx, reader, source, buf, origin)
}

/// Reads `file` (of `size` bytes when it was opened), at most `limit` bytes of it, into `buf`
/// (whatever it held): in one read when the file is in the page cache, and one more to see
/// its end, where `Read::take(limit).read_to_end` grows its reads from 8 kB (eight reads for
/// half a megabyte). The buffer is the worker's, kept from file to file, so only bytes it
/// never held are zeroed first. A file that shrank or grew since it was opened is read as it
/// is now, up to `limit`.
fn read_into(mut file: File, size: u64, limit: u64, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let expected = usize::try_from(size.min(limit)).unwrap_or(usize::MAX);
    buf.resize(expected, 0);
    let mut filled = 0;
    while filled < expected {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(filled);
    // The end (or what was added since): nothing, for a file nobody writes to.
    let rest = limit.saturating_sub(filled as u64);
    file.take(rest).read_to_end(buf)?;
    Ok(())
}

pub(crate) fn prepare_bytes(
    ctx: &Ctx<'_>,
    reader: Option<&Db>,
    source: String,
    bytes: &[u8],
    origin: Origin,
) -> Prepared {
    let size = bytes.len() as u64;
    let content_hash = ctx.hash.hex(bytes);
    let facts = match inspect(bytes, origin) {
        Ok(f) => f,
        Err(refusal) => return refuse(source, refusal, Some(content_hash), size),
    };
    if already_archived(ctx, reader, &facts, &content_hash) {
        return Prepared::Candidate {
            source,
            facts: Box::new(facts),
            content_hash,
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
            Some(content_hash),
            Some(size),
        );
    }
    Prepared::Candidate {
        source,
        facts: Box::new(facts),
        content_hash,
        size,
        temp: Some(temp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_read_as_it_is_now_up_to_the_limit_whatever_the_buffer_held() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let mut buf = vec![7u8; 20_000];
        // The size it had when opened: the same, larger (it shrank), smaller (it grew).
        for size in [10_000, 15_000, 4_000, 0] {
            read_into(File::open(&path).unwrap(), size, 100_000, &mut buf).unwrap();
            assert!(buf == data, "opened at {size} bytes");
        }
        // The limit bounds what is read, growth included (one byte over says "too big").
        read_into(File::open(&path).unwrap(), 4_000, 6_001, &mut buf).unwrap();
        assert!(buf[..] == data[..6_001]);
        read_into(File::open(&path).unwrap(), 10_000, 6_001, &mut buf).unwrap();
        assert!(buf[..] == data[..6_001]);
    }
}
