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
use crate::reading::{FileError, HeaderSource};

/// The path for files above [`IN_MEMORY_LIMIT`](super::IN_MEMORY_LIMIT): scan and parse the
/// header from disk (one at a time), then stream the bytes through the hash into a staged copy
/// and take the index's facts from that copy.
///
/// A big file is read more than once (its header, then its bytes), and nothing stops another
/// program from changing it in between (a scanner still writing it, a copy under way). A file
/// whose size or modification time changed while depot read it is rejected, to be imported
/// again once it is complete (a copy taken while it was being rewritten could mix old and new
/// bytes). And what the index records comes from the bytes the archive keeps, whatever
/// escaped that check: the staged copy, which only this run can touch, is scanned and parsed
/// again, and a copy that is no longer whole DICOM is rejected. The first reading only finds
/// an archived instance that the file may repeat; it is a duplicate only when its bytes hash
/// to the archived copy's.
pub(super) fn prepare_big_file(
    ctx: &Ctx<'_>,
    reader: Option<&Db>,
    path: &Path,
    source: String,
    size: u64,
    origin: Origin,
) -> Prepared {
    let before = match Stamp::of(path) {
        Ok(s) => s,
        Err(e) => return reject(source, format!("cannot read: {e}"), None, Some(size)),
    };
    let facts = match preamble_of(path, origin).and_then(|p| examine(ctx, path, size, p)) {
        Ok(f) => f,
        Err(why) => return refuse(source, why.into(), None, size),
    };
    #[cfg(test)]
    tests::at(tests::Point::BeforeCopy);
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
    #[cfg(test)]
    tests::at(tests::Point::AfterCopy);
    let changed = match Stamp::of(path) {
        Ok(after) if after == before => None,
        Ok(_) => Some(
            "changed while it was read (its size or modification time changed while depot \
             read it): import it again once it is complete"
                .to_string(),
        ),
        Err(e) => Some(format!(
            "removed or moved while it was read ({e}): nothing of it was stored"
        )),
    };
    if let Some(reason) = changed {
        let _ = fs::remove_file(&temp);
        return reject(source, reason, Some(content_hash), Some(n));
    }
    // The facts of the bytes kept, not of an earlier reading of the input.
    let kept = preamble_of(&temp, origin).and_then(|p| examine(ctx, &temp, n, p));
    match kept {
        Ok(facts) => Prepared::Candidate {
            source,
            facts: Box::new(facts),
            content_hash,
            size: n,
            temp: Some(temp),
        },
        Err(why) => {
            let _ = fs::remove_file(&temp);
            let refusal = match why {
                Unexamined::Read(reason) => Refusal::Rejected(format!(
                    "cannot read the archive's staging copy of it: {reason}"
                )),
                Unexamined::Refused(Refusal::Rejected(reason)) => Refusal::Rejected(format!(
                    "changed while it was read (the copy taken is not the file examined): {reason}"
                )),
                Unexamined::Refused(skipped) => skipped,
            };
            refuse(source, refusal, Some(content_hash), n)
        }
    }
}

/// A file's size and modification time, to tell whether it changed while it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl Stamp {
    fn of(path: &Path) -> io::Result<Stamp> {
        let m = fs::metadata(path)?;
        Ok(Stamp {
            len: m.len(),
            modified: m.modified().ok(),
        })
    }
}

/// Why a file could not be examined: reading it failed, or what it holds is refused.
#[derive(Debug)]
enum Unexamined {
    Read(String),
    Refused(Refusal),
}

impl From<Unexamined> for Refusal {
    fn from(why: Unexamined) -> Refusal {
        match why {
            Unexamined::Read(reason) => Refusal::Rejected(reason),
            Unexamined::Refused(refusal) => refusal,
        }
    }
}

/// How the file at `path` starts: with a 128-byte preamble before `DICM`, or with `DICM`.
fn preamble_of(path: &Path, origin: Origin) -> Result<ReadPreamble, Unexamined> {
    let mut head = Vec::with_capacity(132);
    File::open(path)
        .and_then(|f| f.take(132).read_to_end(&mut head))
        .map_err(|e| Unexamined::Read(format!("cannot read: {e}")))?;
    marker(&head, origin).map_err(|r| Unexamined::Refused(Refusal::Rejected(r)))
}

/// The index's facts of the file at `path` (of `size` bytes): the whole file scanned (a file
/// cut inside its pixel data is rejected; a header that needs repairs is copied into memory
/// and repaired there), its header parsed, one big file at a time.
fn examine(
    ctx: &Ctx<'_>,
    path: &Path,
    size: u64,
    preamble: ReadPreamble,
) -> Result<HeaderFacts, Unexamined> {
    let refused = |reason: String| Unexamined::Refused(Refusal::Rejected(reason));
    let (header, layout) =
        crate::reading::header_source(path, size, preamble == ReadPreamble::Always, false)
            .map_err(|e| match e {
                FileError::Io(_) => Unexamined::Read(e.to_string()),
                FileError::Scan(_) => refused(e.to_string()),
            })?;
    let held = match &header {
        HeaderSource::Memory(bytes) => bytes.len() as u64,
        HeaderSource::Disk => 0,
    };
    let _one_at_a_time = ctx.big_file.lock();
    let _memory = crate::memory::Budget::global()
        .acquire(&layout.header_cost, held)
        .map_err(|e| refused(e.to_string()))?;
    let options = OpenFileOptions::new()
        .read_until(tags::PIXEL_DATA)
        .read_preamble(preamble);
    let parsed = match header {
        HeaderSource::Disk => {
            let file =
                File::open(path).map_err(|e| Unexamined::Read(format!("cannot read: {e}")))?;
            options.from_reader(BufReader::with_capacity(1 << 20, file))
        }
        HeaderSource::Memory(bytes) => options.from_reader(&bytes[..]),
    };
    let obj = parsed.map_err(|e| refused(describe_read_error(&e)))?;
    facts_of(&obj).map_err(Unexamined::Refused)
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

    use std::path::PathBuf;

    use super::*;
    use crate::import::{ImportOptions, NoObserver};
    use crate::store::RunDir;

    /// Where `prepare_big_file` lets a test act.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(in crate::import) enum Point {
        /// After the first reading, before the copy.
        BeforeCopy,
        /// After the copy, before the input's size and time are looked at again.
        AfterCopy,
    }

    /// A test's change to the input, and where it is made.
    type Change = (Point, Box<dyn FnOnce()>);

    thread_local! {
        /// What a test does to the input, and where.
        static BETWEEN_READS: RefCell<Option<Change>> = RefCell::new(None);
    }

    /// What a run's context borrows: its folder, options and lock.
    struct Run {
        dir: RunDir,
        opts: ImportOptions,
        big_file: Mutex<()>,
    }

    impl Run {
        fn new(root: &Path) -> Run {
            Run {
                dir: RunDir::create(root).unwrap(),
                opts: ImportOptions::default(),
                big_file: Mutex::new(()),
            }
        }

        /// A run's context in the archive at `root` whose index is `index` (BLAKE3).
        fn ctx<'a>(&'a self, root: &'a Path, index: PathBuf) -> Ctx<'a> {
            Ctx {
                root,
                project_id: 1,
                index,
                run_dir: &self.dir,
                opts: &self.opts,
                batch_files: 1,
                observer: &NoObserver,
                skip: None,
                hash: HashAlgorithm::Blake3,
                big_file: &self.big_file,
                sync_each_file: false,
            }
        }
    }

    /// `prepare_big_file` of the test's input (`len` bytes when first seen), from a folder.
    fn prepare_input(ctx: &Ctx<'_>, reader: Option<&Db>, input: &Path, len: u64) -> Prepared {
        prepare_big_file(ctx, reader, input, "input.dcm".into(), len, Origin::File)
    }

    /// Called by `prepare_big_file` at `point`: runs the test's change if it is for there.
    pub(in crate::import) fn at(point: Point) {
        let change = BETWEEN_READS.with(|b| {
            let mut b = b.borrow_mut();
            match b.take() {
                Some((p, change)) if p == point => Some(change),
                other => {
                    *b = other;
                    None
                }
            }
        });
        if let Some(change) = change {
            change();
        }
    }

    /// Prepares `first` as a big file while `then` replaces it between the two readings (with
    /// its modification time put back when `same_time`, so that only the bytes tell); with the
    /// staged copy's bytes, if any, and the archive's folder.
    fn prepare_changed(
        first: &[u8],
        then: Vec<u8>,
        same_time: bool,
    ) -> (Prepared, Option<Vec<u8>>, tempfile::TempDir) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("archive");
        fs::create_dir_all(&root).unwrap();
        let input = tmp.path().join("input.dcm");
        fs::write(&input, first).unwrap();
        let when = fs::metadata(&input).unwrap().modified().unwrap();
        let run = Run::new(&root);
        let ctx = run.ctx(&root, root.join("index.sqlite"));
        let run_dir = &run.dir;
        let changed = input.clone();
        BETWEEN_READS.with(|b| {
            *b.borrow_mut() = Some((
                Point::BeforeCopy,
                Box::new(move || {
                    fs::write(&changed, then).unwrap();
                    let later = when + std::time::Duration::from_secs(7);
                    let f = File::options().write(true).open(&changed).unwrap();
                    f.set_modified(if same_time { when } else { later })
                        .unwrap();
                }),
            ));
        });
        let prepared = prepare_input(&ctx, None, &input, first.len() as u64);
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

    fn rejection(prepared: Prepared) -> String {
        match prepared {
            Prepared::Rejected { reason, .. } => reason,
            _ => panic!("not rejected"),
        }
    }

    #[test]
    fn a_file_rewritten_between_readings_is_rejected_and_nothing_is_left_staged() {
        // (`prepare_changed` checks that the run's folder holds no staged file.)
        let whole = instance("WHOLE", "1.2.7.1.3");
        let cut = whole.get(..whole.len() - 100).unwrap().to_vec();
        let other = instance("OTHER", "1.2.7.1.4");
        for (then, same_time) in [(cut, true), (other.clone(), false)] {
            let (prepared, staged, _tmp) = prepare_changed(&whole, then, same_time);
            let reason = rejection(prepared);
            assert!(
                reason.starts_with("changed while it was read (its size or modification time"),
                "{reason}"
            );
            assert!(staged.is_none());
        }
    }

    #[test]
    fn a_change_of_the_bytes_alone_is_filed_under_the_bytes_kept() {
        let first = instance("FIRST", "1.2.7.1.1");
        let second = instance("SECOND", "1.2.7.1.2");
        assert_eq!(first.len(), second.len(), "only the bytes differ");
        let (prepared, staged, _tmp) = prepare_changed(&first, second.clone(), true);
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
    fn a_copy_no_longer_whole_dicom_is_rejected_though_size_and_time_are_the_same() {
        let whole = instance("WHOLE", "1.2.7.1.5");
        // The Pixel Data's length (Explicit VR Little Endian: tag, VR, two reserved bytes,
        // four length bytes) now runs past the end of the file.
        let at = whole
            .windows(6)
            .rposition(|w| w == [0xE0, 0x7F, 0x10, 0x00, b'O', b'W'])
            .expect("pixel data");
        let mut broken = whole.clone();
        broken[at + 8..at + 12].copy_from_slice(&0x7FFF_FFF0_u32.to_le_bytes());
        let (prepared, staged, _tmp) = prepare_changed(&whole, broken, true);
        let reason = rejection(prepared);
        assert!(
            reason
                .starts_with("changed while it was read (the copy taken is not the file examined)"),
            "{reason}"
        );
        assert!(staged.is_none());
    }
    #[test]
    fn the_duplicate_pre_check_holds_when_the_file_changes_between_readings() {
        // (From the review of this code.) The pre-check runs on the first reading: a file
        // that was the archived instance then and is replaced by another version of it (same
        // SOP Instance UID, other bytes) is not a duplicate; one rewritten with the archived
        // bytes is one, and nothing is staged.
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("archive");
        let archived = instance("ARCHIVED", "1.2.7.1.9");
        let other_version = instance("OTHER", "1.2.7.1.9");
        let src = tmp.path().join("a.dcm");
        fs::write(&src, &archived).unwrap();
        let archive = crate::Archive::open(&root).unwrap();
        let summary = archive
            .import(&[src], &ImportOptions::default(), &NoObserver)
            .unwrap();
        assert_eq!(summary.imported, 1);
        let index = crate::layout::index_path(&root);
        let reader = Db::open_reader(&index).unwrap();
        let run = Run::new(&root);
        let ctx = run.ctx(&root, index);
        for (then, duplicate) in [(other_version, false), (archived.clone(), true)] {
            let input = tmp.path().join("input.dcm");
            fs::write(&input, &archived).unwrap();
            let changed = input.clone();
            let bytes = then.clone();
            BETWEEN_READS.with(|b| {
                *b.borrow_mut() = Some((
                    Point::BeforeCopy,
                    Box::new(move || fs::write(&changed, bytes).unwrap()),
                ));
            });
            let prepared = prepare_input(&ctx, Some(&reader), &input, archived.len() as u64);
            if duplicate {
                let Prepared::Candidate {
                    content_hash, temp, ..
                } = prepared
                else {
                    panic!("not a duplicate");
                };
                assert_eq!(content_hash, HashAlgorithm::Blake3.hex(&then));
                assert!(temp.is_none(), "nothing staged");
            } else {
                assert!(rejection(prepared).starts_with("changed while it was read"));
            }
        }
    }
    #[test]
    fn a_file_removed_after_its_copy_is_rejected_as_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("archive");
        fs::create_dir_all(&root).unwrap();
        let input = tmp.path().join("input.dcm");
        let bytes = instance("GONE", "1.2.7.1.6");
        fs::write(&input, &bytes).unwrap();
        let run = Run::new(&root);
        let ctx = run.ctx(&root, root.join("index.sqlite"));
        let gone = input.clone();
        BETWEEN_READS.with(|b| {
            *b.borrow_mut() = Some((
                Point::AfterCopy,
                Box::new(move || fs::remove_file(&gone).unwrap()),
            ));
        });
        let prepared = prepare_input(&ctx, None, &input, bytes.len() as u64);
        assert!(BETWEEN_READS.with(|b| b.borrow().is_none()), "the hook ran");
        let reason = rejection(prepared);
        assert!(
            reason.starts_with("removed or moved while it was read"),
            "{reason}"
        );
        let left = walkdir::WalkDir::new(run.dir.path())
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .count();
        assert_eq!(left, 0, "nothing staged is left");
    }
}
