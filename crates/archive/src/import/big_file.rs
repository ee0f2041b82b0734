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
use crate::grouping::HeaderFacts;
use crate::reading::HeaderSource;

/// The path for files above [`IN_MEMORY_LIMIT`](super::IN_MEMORY_LIMIT): scan and parse the
/// header from disk (one at a time), then stream the bytes through the hash into a staged copy
/// and take the index's facts from that copy.
///
/// A big file is read more than once (its header, then its bytes), and nothing stops another
/// program from changing it in between (a scanner still writing it, a copy under way). So
/// what the index records must come from the bytes the archive keeps: the staged copy, which
/// only this run can touch, is scanned and parsed again, and a copy that is no longer whole
/// DICOM is rejected. The first reading only finds an archived instance that the file may
/// repeat; it is a duplicate only when its bytes hash to the archived copy's, whatever
/// changed in between.
pub(super) fn prepare_big_file(
    ctx: &Ctx<'_>,
    reader: Option<&Db>,
    path: &Path,
    source: String,
    size: u64,
    origin: Origin,
) -> Prepared {
    let preamble = match preamble_of(path, origin) {
        Ok(p) => p,
        Err(reason) => return reject(source, reason, None, Some(size)),
    };
    let facts = match examine(ctx, path, size, preamble) {
        Ok(f) => f,
        Err(refusal) => return refuse(source, refusal, None, size),
    };
    #[cfg(test)]
    tests::between_reads();
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
    let (content_hash, n) = match staged {
        Ok(done) => done,
        Err(e) => {
            let _ = fs::remove_file(&temp);
            return reject(
                source,
                format!("cannot read or stage: {e}"),
                None,
                Some(size),
            );
        }
    };
    // The facts of the bytes kept, not of an earlier reading of the input.
    let kept = preamble_of(&temp, origin)
        .map_err(Refusal::Rejected)
        .and_then(|preamble| examine(ctx, &temp, n, preamble));
    match kept {
        Ok(facts) => Prepared::Candidate {
            source,
            facts: Box::new(facts),
            content_hash,
            size: n,
            temp: Some(temp),
        },
        Err(refusal) => {
            let _ = fs::remove_file(&temp);
            let refusal = match refusal {
                Refusal::Rejected(reason) => Refusal::Rejected(format!(
                    "changed while it was read (the copy taken is not the file examined): {reason}"
                )),
                skipped => skipped,
            };
            refuse(source, refusal, None, n)
        }
    }
}

/// How the file at `path` starts: with a 128-byte preamble before `DICM`, or with `DICM`.
fn preamble_of(path: &Path, origin: Origin) -> Result<ReadPreamble, String> {
    let mut head = Vec::with_capacity(132);
    File::open(path)
        .and_then(|f| f.take(132).read_to_end(&mut head))
        .map_err(|e| format!("cannot read: {e}"))?;
    marker(&head, origin)
}

/// The index's facts of the file at `path` (of `size` bytes): the whole file scanned (a file
/// cut inside its pixel data is rejected; a header that needs repairs is copied into memory
/// and repaired there), its header parsed, one big file at a time.
fn examine(
    ctx: &Ctx<'_>,
    path: &Path,
    size: u64,
    preamble: ReadPreamble,
) -> Result<HeaderFacts, Refusal> {
    let (header, layout) =
        crate::reading::header_source(path, size, preamble == ReadPreamble::Always, false)
            .map_err(|e| Refusal::Rejected(e.to_string()))?;
    let held = match &header {
        HeaderSource::Memory(bytes) => bytes.len() as u64,
        HeaderSource::Disk => 0,
    };
    let _one_at_a_time = ctx.big_file.lock();
    let _memory = crate::memory::Budget::global()
        .acquire(&layout.header_cost, held)
        .map_err(|e| Refusal::Rejected(e.to_string()))?;
    let options = OpenFileOptions::new()
        .read_until(tags::PIXEL_DATA)
        .read_preamble(preamble);
    match header {
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
    .and_then(|obj| facts_of(&obj))
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

#[cfg(test)]
pub(super) mod tests {
    use std::cell::RefCell;
    use std::sync::Mutex;

    use super::*;
    use crate::import::{ImportOptions, NoObserver};
    use crate::store::RunDir;

    thread_local! {
        /// What a test does to the input between the first reading and the copy.
        static BETWEEN_READS: RefCell<Option<Box<dyn FnOnce()>>> = RefCell::new(None);
    }

    /// Called by `prepare_big_file` between its reading of the input and its copy.
    pub(in crate::import) fn between_reads() {
        if let Some(change) = BETWEEN_READS.with(|b| b.borrow_mut().take()) {
            change();
        }
    }

    /// Prepares `first` as a big file while `then` replaces it between the two readings; with
    /// the staged copy's bytes, if any, and the archive's folder.
    fn prepare_changed(
        first: &[u8],
        then: Vec<u8>,
    ) -> (Prepared, Option<Vec<u8>>, tempfile::TempDir) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("archive");
        fs::create_dir_all(&root).unwrap();
        let input = tmp.path().join("input.dcm");
        fs::write(&input, first).unwrap();
        let run_dir = RunDir::create(&root).unwrap();
        let opts = ImportOptions::default();
        let ctx = Ctx {
            root: &root,
            project_id: 1,
            index: root.join("index.sqlite"),
            run_dir: &run_dir,
            opts: &opts,
            batch_files: 1,
            observer: &NoObserver,
            skip: None,
            hash: HashAlgorithm::Blake3,
            big_file: Mutex::new(()),
            sync_each_file: false,
        };
        let changed = input.clone();
        BETWEEN_READS.with(|b| {
            *b.borrow_mut() = Some(Box::new(move || fs::write(&changed, then).unwrap()));
        });
        let prepared = prepare_big_file(
            &ctx,
            None,
            &input,
            "input.dcm".into(),
            first.len() as u64,
            Origin::File,
        );
        // The test's own hook must have run.
        assert!(BETWEEN_READS.with(|b| b.borrow().is_none()));
        let staged = match &prepared {
            Prepared::Candidate { temp: Some(t), .. } => Some(fs::read(t).unwrap()),
            _ => None,
        };
        let left: Vec<_> = walkdir::WalkDir::new(run_dir.path())
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| e.path().to_path_buf())
            .collect();
        assert_eq!(left.len(), usize::from(staged.is_some()), "{left:?}");
        (prepared, staged, tmp)
    }

    fn instance(patient: &str, sop: &str) -> Vec<u8> {
        synth::fixture::instance(patient, "1.2.7", "1.2.7.1", sop)
            .to_bytes()
            .unwrap()
    }

    #[test]
    fn a_file_replaced_between_readings_is_filed_under_the_bytes_kept() {
        let first = instance("FIRST", "1.2.7.1.1");
        let second = instance("SECOND", "1.2.7.1.2");
        let (prepared, staged, _tmp) = prepare_changed(&first, second.clone());
        let Prepared::Candidate {
            facts,
            content_hash,
            size,
            temp: Some(_),
            ..
        } = prepared
        else {
            panic!("not staged");
        };
        assert_eq!(staged.as_deref(), Some(&second[..]));
        assert_eq!(content_hash, HashAlgorithm::Blake3.hex(&second));
        assert_eq!(size, second.len() as u64);
        assert_eq!(facts.patient_id.as_deref(), Some("SECOND"));
        assert_eq!(facts.sop_uid, "1.2.7.1.2");
    }

    #[test]
    fn a_file_cut_between_readings_is_rejected_and_nothing_is_left_staged() {
        let whole = instance("WHOLE", "1.2.7.1.3");
        let cut = whole.get(..whole.len() - 100).unwrap().to_vec();
        // (`prepare_changed` checks that the run's folder holds no staged file.)
        let (prepared, staged, _tmp) = prepare_changed(&whole, cut);
        let Prepared::Rejected { reason, .. } = prepared else {
            panic!("not rejected");
        };
        assert!(reason.starts_with("changed while it was read"), "{reason}");
        assert!(staged.is_none());
    }
}
