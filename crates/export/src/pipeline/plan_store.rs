//! Where the plan lives between the export's phases: in memory for a selection of up to
//! [`PLAN_IN_MEMORY`] files, else in an unnamed temporary file in the archive's own `tmp/`, a
//! batch at a time, so that what an export holds does not grow with the number of files.
//!
//! Every phase goes through the plan in package order, a batch at a time: [`PlanStore::scan`]
//! reads, [`PlanStore::rewrite`] changes (and may drop files), writing a new file as it goes.
//! In memory the whole plan is one batch, and nothing is encoded. On disk each batch is a
//! frame of encoded entries with its BLAKE3 digest, held in memory and checked on every read:
//! an entry changed on its way through the disk stops the export instead of being believed.
//! The entries hold what the index holds (UIDs, where a file is stored) and the package's
//! labels, never the system's temporary folder: the file is in the archive's `tmp/`, unnamed,
//! and gone when the export ends, however it ends.
//!
//! A selection too large for memory is written as the index lists it, a frame per run of one
//! series, and put in package order by sorting the frames: the index lists a series' files
//! together and in package order already (instance number, then SOP Instance UID).

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::plan_codec::{Codec, Reader};
use super::planned::Planned;
use super::selected::SeriesOf;

/// How many selected files an export plans in memory; a larger selection is planned through a
/// temporary file, 8,192 files at a time (a plan entry in memory is about 250 bytes).
pub const PLAN_IN_MEMORY: usize = 65_536;

/// How many files a phase works on at a time when the plan is on disk.
pub(crate) const BATCH: usize = 8_192;

/// How many entries a frame holds at most: what is read to get at one of them (the manifest
/// reads each series' files, in its own order).
const FRAME: usize = 512;

/// The plan, in package order, in memory or on disk.
pub(crate) struct PlanStore {
    held: Held,
    len: usize,
}

enum Held {
    Memory(Vec<Planned>),
    Disk(Box<Spill>),
}

/// The plan on disk: its frames in package order, and what the entries refer to.
struct Spill {
    dir: PathBuf,
    file: File,
    frames: Vec<Frame>,
    /// The index of each frame's first entry.
    starts: Vec<usize>,
    /// The frame read last by [`PlanStore::range`], decoded.
    last: RefCell<Option<(usize, Vec<Planned>)>>,
    codec: Codec,
    /// Files per batch ([`BATCH`]; fewer in tests).
    batch: usize,
}

/// Where a run of encoded entries lies, how many, and the digest of their bytes.
#[derive(Clone)]
struct Frame {
    offset: u64,
    len: u64,
    count: usize,
    digest: [u8; 32],
}

impl PlanStore {
    /// A plan held in memory.
    pub(crate) fn in_memory(plan: Vec<Planned>) -> PlanStore {
        PlanStore {
            len: plan.len(),
            held: Held::Memory(plan),
        }
    }

    /// How many files the plan holds.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether the plan is held on disk.
    pub(crate) fn on_disk(&self) -> bool {
        matches!(self.held, Held::Disk(_))
    }

    /// Calls `f` with every batch of the plan, in package order.
    pub(crate) fn scan<E: From<io::Error>>(
        &self,
        mut f: impl FnMut(&[Planned]) -> Result<(), E>,
    ) -> Result<(), E> {
        match &self.held {
            Held::Memory(plan) => f(plan),
            Held::Disk(spill) => {
                let mut batch = Vec::with_capacity(spill.batch);
                for frame in &spill.frames {
                    spill.read(frame, &mut batch)?;
                    if batch.len() >= spill.batch {
                        f(&batch)?;
                        batch.clear();
                    }
                }
                if batch.is_empty() { Ok(()) } else { f(&batch) }
            }
        }
    }

    /// Calls `f` with every batch of the plan, in package order, keeping the batch as `f`
    /// leaves it (changed, or with files removed). On disk the batches are written to a new
    /// temporary file, which replaces the old one when every batch is done, so that after an
    /// error the plan is as it was (in memory, `f` may have changed it before failing; the
    /// export stops either way).
    pub(crate) fn rewrite<E: From<io::Error>>(
        &mut self,
        mut f: impl FnMut(&mut Vec<Planned>) -> Result<(), E>,
    ) -> Result<(), E> {
        match &mut self.held {
            Held::Memory(plan) => {
                let r = f(plan);
                self.len = plan.len();
                r
            }
            Held::Disk(spill) => {
                let mut out = Writer::new(tempfile::tempfile_in(&spill.dir)?);
                let mut batch = Vec::with_capacity(spill.batch);
                let mut len = 0;
                let frames = std::mem::take(&mut spill.frames);
                let mut done = |batch: &mut Vec<Planned>,
                                out: &mut Writer,
                                codec: &mut Codec|
                 -> Result<(), E> {
                    f(batch)?;
                    len += batch.len();
                    for frame in batch.chunks(FRAME) {
                        out.frame(frame, codec)?;
                    }
                    batch.clear();
                    Ok(())
                };
                let mut result = Ok(());
                for frame in &frames {
                    result = spill.read(frame, &mut batch).map_err(E::from);
                    if result.is_ok() && batch.len() >= spill.batch {
                        result = done(&mut batch, &mut out, &mut spill.codec);
                    }
                    if result.is_err() {
                        break;
                    }
                }
                if result.is_ok() && !batch.is_empty() {
                    result = done(&mut batch, &mut out, &mut spill.codec);
                }
                let finished = result.and_then(|()| out.finish().map_err(E::from));
                match finished {
                    Ok((file, new_frames)) => {
                        spill.file = file;
                        spill.set_frames(new_frames);
                        self.len = len;
                        Ok(())
                    }
                    Err(e) => {
                        spill.frames = frames;
                        Err(e)
                    }
                }
            }
        }
    }

    /// Calls `f` with the files `start..end` of the plan (in package order, counted from 0),
    /// in one or more slices.
    pub(crate) fn range(
        &self,
        start: usize,
        end: usize,
        mut f: impl FnMut(&[Planned]),
    ) -> io::Result<()> {
        match &self.held {
            Held::Memory(plan) => {
                f(plan.get(start..end).unwrap_or_default());
                Ok(())
            }
            Held::Disk(spill) => {
                let mut at = start;
                while at < end {
                    // The frame holding `at`.
                    let k = spill.starts.partition_point(|&s| s <= at).saturating_sub(1);
                    let Some(frame) = spill.frames.get(k) else {
                        return Ok(());
                    };
                    let mut last = spill.last.borrow_mut();
                    if last.as_ref().is_none_or(|(n, _)| *n != k) {
                        let mut entries = Vec::with_capacity(frame.count);
                        spill.read(frame, &mut entries)?;
                        *last = Some((k, entries));
                    }
                    let entries = last.as_ref().map(|(_, e)| e.as_slice()).unwrap_or_default();
                    let first = spill.starts[k];
                    let upto = end.min(first + entries.len());
                    if upto <= at {
                        return Ok(());
                    }
                    f(&entries[at - first..upto - first]);
                    at = upto;
                }
                Ok(())
            }
        }
    }

    /// Every file of the plan, dropping the plan: in memory, the plan's own vector.
    #[cfg(test)]
    pub(crate) fn into_vec(self) -> io::Result<Vec<Planned>> {
        match self.held {
            Held::Memory(plan) => Ok(plan),
            Held::Disk(_) => {
                let mut all = Vec::new();
                self.scan(|batch: &[Planned]| -> io::Result<()> {
                    all.extend(batch.iter().map(super::plan_codec::clone_planned));
                    Ok(())
                })?;
                Ok(all)
            }
        }
    }
}

/// A plan being written to disk as the index lists it, then put in package order
/// ([`SpillBuilder::finish`]).
pub(crate) struct SpillBuilder {
    dir: PathBuf,
    out: Writer,
    codec: Codec,
    /// The frames written, each with the series of its run.
    runs: Vec<(Arc<SeriesOf>, Frame)>,
    /// The run being written: its series and entries.
    run: Option<Arc<SeriesOf>>,
    pending: Vec<Planned>,
    len: usize,
    batch: usize,
}

impl SpillBuilder {
    /// An empty plan in a new temporary file in `dir` (created if missing).
    pub(crate) fn create(dir: &Path) -> io::Result<SpillBuilder> {
        SpillBuilder::with_batch(dir, BATCH)
    }

    /// [`SpillBuilder::create`], `batch` files per batch.
    pub(crate) fn with_batch(dir: &Path, batch: usize) -> io::Result<SpillBuilder> {
        std::fs::create_dir_all(dir)?;
        Ok(SpillBuilder {
            dir: dir.to_path_buf(),
            out: Writer::new(tempfile::tempfile_in(dir)?),
            codec: Codec::default(),
            runs: Vec::new(),
            run: None,
            pending: Vec::new(),
            len: 0,
            batch: batch.max(1),
        })
    }

    /// Adds `planned`, the next file in the index's order.
    pub(crate) fn push(&mut self, planned: Planned) -> io::Result<()> {
        let same = self.run.as_ref().is_some_and(|r| {
            Arc::ptr_eq(r, &planned.record.series) || **r == *planned.record.series
        });
        if !same || self.pending.len() >= FRAME {
            self.flush()?;
            self.run = Some(Arc::clone(&planned.record.series));
        }
        self.pending.push(planned);
        self.len += 1;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        if let (Some(series), false) = (&self.run, self.pending.is_empty()) {
            let frame = self.out.frame(&self.pending, &mut self.codec)?;
            self.pending.clear();
            self.runs.push((Arc::clone(series), frame));
        }
        Ok(())
    }

    /// The plan, its runs sorted into package order by `order` (a stable sort: the runs of
    /// one series keep the index's order).
    pub(crate) fn finish(
        mut self,
        order: impl Fn(&SeriesOf, &SeriesOf) -> std::cmp::Ordering,
    ) -> io::Result<PlanStore> {
        self.flush()?;
        let (file, _) = self.out.finish()?;
        let mut runs = self.runs;
        runs.sort_by(|a, b| order(&a.0, &b.0));
        let mut spill = Spill {
            dir: self.dir,
            file,
            frames: Vec::new(),
            starts: Vec::new(),
            last: RefCell::new(None),
            codec: self.codec,
            batch: self.batch,
        };
        spill.set_frames(runs.into_iter().map(|(_, f)| f).collect());
        Ok(PlanStore {
            len: self.len,
            held: Held::Disk(Box::new(spill)),
        })
    }

    /// How many files were added.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl Spill {
    /// Takes `frames` as the plan's, in order.
    fn set_frames(&mut self, frames: Vec<Frame>) {
        let mut at = 0;
        self.starts = frames
            .iter()
            .map(|f| {
                let start = at;
                at += f.count;
                start
            })
            .collect();
        self.frames = frames;
        *self.last.borrow_mut() = None;
    }

    /// Appends the entries of `frame` to `batch`, checking their digest.
    fn read(&self, frame: &Frame, batch: &mut Vec<Planned>) -> io::Result<()> {
        let len = usize::try_from(frame.len).map_err(|_| corrupt("a frame too long"))?;
        let mut bytes = vec![0u8; len];
        self.file.read_exact_at(&mut bytes, frame.offset)?;
        if *blake3::hash(&bytes).as_bytes() != frame.digest {
            return Err(corrupt("a frame's digest does not match its bytes"));
        }
        let mut r = Reader::new(&bytes);
        for _ in 0..frame.count {
            batch.push(
                self.codec
                    .decode(&mut r)
                    .ok_or_else(|| corrupt("an entry"))?,
            );
        }
        if !r.is_empty() {
            return Err(corrupt("bytes after a frame's entries"));
        }
        Ok(())
    }
}

fn corrupt(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "the export's plan file in the archive's tmp/ was changed: {what} does not read back as written"
        ),
    )
}

/// Writes frames one after another.
struct Writer {
    out: BufWriter<File>,
    end: u64,
    frames: Vec<Frame>,
    buf: Vec<u8>,
}

impl Writer {
    fn new(file: File) -> Writer {
        Writer {
            out: BufWriter::with_capacity(1 << 20, file),
            end: 0,
            frames: Vec::new(),
            buf: Vec::new(),
        }
    }

    /// Encodes `entries` as one frame; where it lies.
    fn frame(&mut self, entries: &[Planned], codec: &mut Codec) -> io::Result<Frame> {
        self.buf.clear();
        let count = entries.len();
        for p in entries {
            codec.encode(p, &mut self.buf);
        }
        self.out.write_all(&self.buf)?;
        let frame = Frame {
            offset: self.end,
            len: self.buf.len() as u64,
            count,
            digest: *blake3::hash(&self.buf).as_bytes(),
        };
        self.end += frame.len;
        self.frames.push(frame.clone());
        Ok(frame)
    }

    /// The file, written through, and its frames in the order written.
    fn finish(self) -> io::Result<(File, Vec<Frame>)> {
        let file = self
            .out
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        Ok((file, self.frames))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::plan_codec::clone_planned;
    use crate::pipeline::planned::{Regroup, WrittenFile};
    use crate::pipeline::reuse::Slot;
    use crate::pipeline::selected::{Stored, UnusualStored};

    /// Every field of an entry, as text (entries are compared by it).
    fn fields(p: &Planned) -> String {
        let r = &p.record;
        let stored = match &r.stored {
            Stored::Usual(h) => format!("usual {}", hex::encode(h)),
            Stored::Unusual(u) => format!("unusual {} {}", u.content_hash, u.path),
        };
        format!(
            "{:?} {} {:?} {stored} {} | {} {} {} {:?} {:?} {} {:?} {:?}",
            *r.series,
            r.sop_uid,
            r.instance_number,
            r.size,
            p.subject_label,
            p.study,
            p.number,
            p.regroup,
            p.burned_in,
            p.add_patient_id,
            p.kept,
            p.written
        )
    }

    /// Files of every kind an entry can hold, `n` per series of `series`, in the order given.
    fn entries(series: &[(&str, i64, &str)], n: usize) -> Vec<Planned> {
        let mut out = Vec::new();
        for &(code, study, label) in series {
            // A number of the series' own, whatever its place in `series`.
            let s = usize::from(
                blake3::hash(format!("{code}/{study}/{label}").as_bytes()).as_bytes()[0],
            );
            let shared = Planned::for_test(code, study, label, "").record.series;
            for i in 0..n {
                let mut p = Planned::for_test(code, study, label, &format!("1.2.{s}.{i}"));
                p.record.series = Arc::clone(&shared);
                p.record.instance_number = (i % 3 != 0).then_some(i as i64 - 5);
                p.record.size = (s * 1000 + i) as u64;
                p.number = i as u32 + 1;
                p.subject_label = format!("P{code}").into();
                match i % 4 {
                    0 => {
                        p.record.stored = Stored::Unusual(Box::new(UnusualStored {
                            content_hash: "AB".repeat(16),
                            path: format!("/a rchive/conflicts/é{i}.dcm"),
                        }));
                        p.regroup = Regroup::Rejected("no SOPInstanceUID".into());
                        p.kept = Slot::OnDisk {
                            offset: u64::MAX - i as u64,
                            len: 7,
                        };
                    }
                    1 => {
                        p.record.stored = Stored::Usual([i as u8; 32]);
                        p.burned_in = Some("US without BurnedInAnnotation".into());
                        p.kept = Slot::InMemory(i as u32);
                        p.written = Some(WrittenFile {
                            digest: [s as u8; 32],
                            bytes: 1 << 40,
                        });
                    }
                    2 => {
                        p.regroup = Regroup::Unknown;
                        p.add_patient_id = true;
                    }
                    _ => {}
                }
                out.push(p);
            }
        }
        out
    }

    fn spilled(dir: &Path, plan: Vec<Planned>, batch: usize) -> PlanStore {
        let mut b = SpillBuilder::with_batch(dir, batch).unwrap();
        for p in plan {
            b.push(p).unwrap();
        }
        b.finish(|a, b| {
            a.subject
                .cmp(&b.subject)
                .then(a.study_number.cmp(&b.study_number))
                .then_with(|| {
                    super::super::plan::compare_series_labels(&a.series_label, &b.series_label)
                })
        })
        .unwrap()
    }

    fn all_fields(store: &PlanStore) -> Vec<String> {
        let mut out = Vec::new();
        store
            .scan(|batch: &[Planned]| -> io::Result<()> {
                out.extend(batch.iter().map(fields));
                Ok(())
            })
            .unwrap();
        out
    }

    #[test]
    fn a_plan_on_disk_reads_back_every_field_in_package_order() {
        let dir = tempfile::tempdir().unwrap();
        // As the index lists them (series 10 before 9, by series number), and in package order.
        let listed = [
            ("S2", 1, "10"),
            ("S1", 2, "1"),
            ("S1", 1, "10"),
            ("S1", 1, "9"),
        ];
        let sorted = [
            ("S1", 1, "9"),
            ("S1", 1, "10"),
            ("S1", 2, "1"),
            ("S2", 1, "10"),
        ];
        let expected: Vec<String> = entries(&sorted, 7).iter().map(fields).collect();
        for batch in [1, 3, 7, 8, 1000] {
            let store = spilled(dir.path(), entries(&listed, 7), batch);
            assert!(store.on_disk());
            assert_eq!(store.len(), 28);
            // Series ids and subject labels are numbered in the order first written, so the
            // fields (not the bytes) are compared.
            assert_eq!(all_fields(&store), expected, "batch {batch}");
            let mut sizes = Vec::new();
            store
                .scan(|b: &[Planned]| -> io::Result<()> {
                    sizes.push(b.len());
                    Ok(())
                })
                .unwrap();
            assert!(
                sizes
                    .iter()
                    .all(|&n| n >= batch.min(28) || n == *sizes.last().unwrap())
            );
            assert_eq!(sizes.iter().sum::<usize>(), 28);
        }
        // The temporary files are unnamed: nothing is left in the folder.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_rewrite_keeps_the_changes_and_drops_the_files_removed_in_memory_and_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let series = [("S1", 1, "1"), ("S1", 1, "2"), ("S3", 4, "5")];
        let change = |batch: &mut Vec<Planned>| -> io::Result<()> {
            batch.retain(|p| !p.record.sop_uid.ends_with(".4"));
            for p in batch.iter_mut() {
                p.number += 100;
                p.burned_in = Some(format!("seen {}", p.record.sop_uid).into());
            }
            Ok(())
        };
        let mut memory = PlanStore::in_memory(entries(&series, 9));
        memory.rewrite(change).unwrap();
        let expected = all_fields(&memory);
        assert_eq!(memory.len(), 24);
        for batch in [1, 4, 100] {
            let mut disk = spilled(dir.path(), entries(&series, 9), batch);
            disk.rewrite(change).unwrap();
            assert_eq!(disk.len(), 24);
            assert_eq!(all_fields(&disk), expected, "batch {batch}");
            // A failing rewrite leaves the plan as it was (failing at its second batch, or its
            // only one).
            let mut calls = 0;
            let fail_at = 24_usize.div_ceil(batch).min(2);
            let failed = disk.rewrite(|batch: &mut Vec<Planned>| -> io::Result<()> {
                calls += 1;
                batch.clear();
                if calls == fail_at {
                    return Err(io::Error::other("stop"));
                }
                Ok(())
            });
            assert!(failed.is_err());
            assert_eq!(disk.len(), 24);
            assert_eq!(all_fields(&disk), expected, "batch {batch}");
        }
    }

    #[test]
    fn an_entry_changed_on_disk_stops_the_plan_instead_of_being_believed() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = spilled(dir.path(), entries(&[("S1", 1, "1")], 5), 2);
        let Held::Disk(spill) = &store.held else {
            panic!("on disk")
        };
        // One byte of a SOP Instance UID, a digit for another.
        let mut bytes = vec![0u8; spill.frames[0].len as usize];
        spill
            .file
            .read_exact_at(&mut bytes, spill.frames[0].offset)
            .unwrap();
        let at = bytes.windows(4).position(|w| w == b"1.2.").unwrap() + 4;
        bytes[at] ^= 1;
        spill
            .file
            .write_all_at(&bytes, spill.frames[0].offset)
            .unwrap();
        let read = store.scan(|_: &[Planned]| -> io::Result<()> { Ok(()) });
        let e = read.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("digest"), "{e}");
        let rewritten = store.rewrite(|_: &mut Vec<Planned>| -> io::Result<()> { Ok(()) });
        assert_eq!(rewritten.unwrap_err().kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn any_range_of_a_plan_on_disk_reads_as_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let series = [("S1", 1, "1"), ("S1", 1, "2"), ("S2", 1, "1")];
        let memory = PlanStore::in_memory(entries(&series, 400));
        let mut disk = spilled(dir.path(), entries(&series, 400), 100);
        // Written again, in frames of at most FRAME entries (three here).
        disk.rewrite(|_: &mut Vec<Planned>| -> io::Result<()> { Ok(()) })
            .unwrap();
        let Held::Disk(spill) = &disk.held else {
            panic!("on disk")
        };
        assert!(spill.frames.len() >= 3);
        let read = |store: &PlanStore, a: usize, b: usize| -> Vec<String> {
            let mut out = Vec::new();
            store
                .range(a, b, |slice| out.extend(slice.iter().map(fields)))
                .unwrap();
            out
        };
        for (a, b) in [
            (0, 1200),
            (0, 0),
            (511, 513),
            (1023, 1025),
            (1199, 1200),
            (5, 900),
            (700, 100),
            (1100, 5000),
        ] {
            assert_eq!(read(&disk, a, b), read(&memory, a, b.min(1200)), "{a}..{b}");
        }
        // Backwards, as the manifest may read them.
        for a in (0..1200).step_by(97).rev() {
            assert_eq!(read(&disk, a, a + 13), read(&memory, a, (a + 13).min(1200)));
        }
    }

    #[test]
    fn every_entry_kind_survives_encoding() {
        for p in entries(&[("S1", 1, "1"), ("S2", 3, "4.1")], 8) {
            assert_eq!(fields(&clone_planned(&p)), fields(&p));
        }
        // A cut entry reads as nothing.
        let mut codec = Codec::default();
        let mut buf = Vec::new();
        codec.encode(&entries(&[("S1", 1, "1")], 2)[1], &mut buf);
        for cut in 0..buf.len() {
            assert!(
                codec.decode(&mut Reader::new(&buf[..cut])).is_none(),
                "{cut}"
            );
        }
    }
}
