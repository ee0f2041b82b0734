//! The plan's de-identified header, kept for the write phase when it is the header the write
//! would produce, so that each file's header is parsed and de-identified once instead of twice.
//!
//! The plan de-identifies every header with the identifiers known when it reads the file: the
//! file's own and the index's. The write phase de-identifies with those of every file of the
//! subject, which the plan gathers. When the plan's identifiers for a file already held all of
//! the subject's (the usual case: a subject's files carry the same name and IDs), the engine
//! was given the same object and the same context, and its output (header and report) is the
//! same; the write phase then appends the file's pixel data to the kept header instead of
//! parsing, de-identifying and encoding the header again. Otherwise, or when the write phase
//! would not copy the pixel data through (see [`crate::deid_file::reuse_header`]), it does the
//! whole work as before: the output is byte for byte what it would have been.
//!
//! What is kept in memory is bounded ([`KEEP_IN_MEMORY`] in all); past it, kept headers go to
//! a temporary file beside the archive (`kept_file`, at most [`KEEP_ON_DISK`]), and only
//! past that are files de-identified twice.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use anon_core::Report;
use audit::written::{Computed, Generated};

use super::kept_file::KeptFile;
use super::subjects::SubjectFacts;

/// How many bytes of kept headers, identifiers and audit notes an export holds in memory at
/// most between its plan and its write phase (about 8 kB per file for a CT header: two
/// thousand files).
pub(crate) const KEEP_IN_MEMORY: u64 = 16 << 20;

/// How many bytes of them an export writes to its temporary file at most (half a million CT
/// headers).
pub(crate) const KEEP_ON_DISK: u64 = 4 << 30;

/// What the plan made of one file's header, for the write phase.
pub(crate) struct Kept {
    /// The de-identified header, encoded as the write phase encodes it: everything before the
    /// top-level Pixel Data.
    pub(crate) header: Vec<u8>,
    /// What the audit needs of the engine's report on it (the values it computed from the
    /// key), taken from the report so that the report's list of every action is not kept.
    pub(crate) generated: Generated,
    /// The engine's warnings on it.
    pub(crate) warnings: Vec<String>,
    /// The identifiers the plan cut (sorted, each once): the file's own and the index's.
    identifiers: Vec<String>,
    /// What this takes out of the export's [`Keeping`] allowance: the memory it holds, as
    /// allocated (capacities, and a word of the allocator's per allocation).
    bytes: u64,
}

impl Kept {
    /// The plan's result for a file, with the identifiers it was made with.
    pub(crate) fn new(mut header: Vec<u8>, report: Report, identifiers: Vec<String>) -> Kept {
        header.shrink_to_fit();
        let generated = Generated::from_report(&report);
        Kept::from_parts(header, generated, report.warnings, identifiers)
    }

    /// A kept header from its parts (as `kept_file` reads them back).
    pub(crate) fn from_parts(
        header: Vec<u8>,
        generated: Generated,
        warnings: Vec<String>,
        identifiers: Vec<String>,
    ) -> Kept {
        const ALLOCATION: usize = 16;
        let texts: usize = identifiers
            .iter()
            .chain(&warnings)
            .map(|s| s.capacity() + std::mem::size_of::<String>() + ALLOCATION)
            .sum();
        let bytes = std::mem::size_of::<Kept>()
            + header.capacity()
            + generated.heap_bytes()
            + texts
            + 4 * ALLOCATION;
        Kept {
            header,
            generated,
            warnings,
            identifiers,
            bytes: bytes as u64,
        }
    }

    /// The identifiers the plan cut (sorted, each once).
    pub(crate) fn identifiers(&self) -> &Vec<String> {
        &self.identifiers
    }

    /// Whether the write phase, which cuts the file's identifiers and every one of `facts`
    /// (the subject's, after the plan), cuts exactly what the plan cut. The plan's identifiers
    /// are the file's own and a subset of the subject's, so this holds when none of the
    /// subject's is missing from them.
    pub(crate) fn complete_for(&self, facts: &SubjectFacts) -> bool {
        facts
            .identifiers
            .iter()
            .all(|i| self.identifiers.binary_search(i).is_ok())
    }
}

/// Where an export keeps the plan's headers: in memory up to its allowance
/// ([`KEEP_IN_MEMORY`]), then in its temporary file, if it has one; shared by the plan's
/// workers and read by the write phase's.
pub(crate) struct Keeping {
    left: AtomicU64,
    /// The headers kept in memory, by slot number (within the allowance: a few thousand).
    memory: Mutex<Vec<Option<Box<Kept>>>>,
    file: Option<KeptFile>,
}

impl Keeping {
    /// `limit` bytes in memory, then `file`.
    pub(crate) fn new(limit: u64, file: Option<KeptFile>) -> Keeping {
        Keeping {
            left: AtomicU64::new(limit),
            memory: Mutex::new(Vec::new()),
            file,
        }
    }

    /// `kept`, in a slot for the write phase: in memory if the allowance has room for it, else
    /// in the file if it has room, else nowhere.
    pub(crate) fn keep(&self, kept: Kept) -> Slot {
        let in_memory = self
            .left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(kept.bytes)
            })
            .is_ok();
        if in_memory {
            let mut memory = self.memory.lock().unwrap_or_else(|p| p.into_inner());
            memory.push(Some(Box::new(kept)));
            return match u32::try_from(memory.len() - 1) {
                Ok(n) => Slot::InMemory(n),
                Err(_) => Slot::Empty,
            };
        }
        match self.file.as_ref().and_then(|f| f.put(&encode(&kept))) {
            Some((offset, len)) => Slot::OnDisk { offset, len },
            None => Slot::Empty,
        }
    }

    /// The kept header of `slot`, if there is one (taken once: a slot in memory is empty
    /// afterwards).
    pub(crate) fn take(&self, slot: &Slot) -> Option<Box<Kept>> {
        match slot {
            Slot::Empty => None,
            Slot::InMemory(n) => self
                .memory
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_mut(*n as usize)
                .and_then(Option::take),
            Slot::OnDisk { offset, len } => self
                .file
                .as_ref()
                .and_then(|f| f.get(*offset, *len))
                .and_then(|bytes| decode(&bytes))
                .map(Box::new),
        }
    }
}

/// Where a planned file's kept header is (plain data, so that a plan entry can be written to
/// and read from the plan's temporary file).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Slot {
    /// Not kept: the write phase does the whole work.
    #[default]
    Empty,
    /// In memory (the [`Keeping`]'s slot of this number), until the write phase takes it.
    InMemory(u32),
    /// In the export's temporary file, `len` bytes at `offset`.
    OnDisk { offset: u64, len: u64 },
}

/// An entry: the header, the computed elements, the warnings and the identifiers, each
/// preceded by its length (or count), little endian.
fn encode(kept: &Kept) -> Vec<u8> {
    let mut out = Vec::with_capacity(kept.header.len() + 256);
    put_bytes(&mut out, &kept.header);
    let computed: Vec<(&str, Computed)> = kept.generated.entries().collect();
    put_len(&mut out, computed.len());
    for (path, c) in computed {
        put_bytes(&mut out, path.as_bytes());
        out.push(match c {
            Computed::ShiftedDate => 0,
            Computed::KeyedCode => 1,
        });
    }
    for texts in [&kept.warnings, kept.identifiers()] {
        put_len(&mut out, texts.len());
        for t in texts {
            put_bytes(&mut out, t.as_bytes());
        }
    }
    out
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u64).to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_len(out, b.len());
    out.extend_from_slice(b);
}

/// What `encode` wrote, all of it and nothing more; `None` otherwise.
fn decode(bytes: &[u8]) -> Option<Kept> {
    let mut r = Reader(bytes);
    let header = r.bytes()?.to_vec();
    let n = r.len()?;
    let mut computed = Vec::new();
    for _ in 0..n {
        let path = r.text()?;
        let c = match r.byte()? {
            0 => Computed::ShiftedDate,
            1 => Computed::KeyedCode,
            _ => return None,
        };
        computed.push((path, c));
    }
    let mut texts = || -> Option<Vec<String>> {
        let n = r.len()?;
        let mut v = Vec::new();
        for _ in 0..n {
            v.push(r.text()?);
        }
        Some(v)
    };
    let warnings = texts()?;
    let identifiers = texts()?;
    if !r.0.is_empty() {
        return None;
    }
    Some(Kept::from_parts(
        header,
        Generated::from_entries(computed),
        warnings,
        identifiers,
    ))
}

/// The bytes not read yet.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn len(&mut self) -> Option<usize> {
        let b: [u8; 8] = self.take(8)?.try_into().ok()?;
        usize::try_from(u64::from_le_bytes(b)).ok()
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.len()?;
        self.take(n)
    }

    fn text(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use anon_core::{Deidentifier, Key, Level, Profile};
    use archive::SubjectKey;
    use synth::fixture::{self, InstanceSpec, Syntax};

    use super::*;
    use crate::deid_file::{deidentify_with, parse_header_file, reuse_header};

    fn kept(identifiers: &[&str]) -> Kept {
        let identifiers = identifiers.iter().map(|s| s.to_string()).collect();
        Kept::new(vec![0; 1000], Report::default(), identifiers)
    }

    #[test]
    fn the_allowance_bounds_what_is_kept_in_memory() {
        let one = kept(&["DOE"]).bytes;
        assert!(one > 1000);
        let keeping = Keeping::new(2 * one + one / 2, None);
        let first = keeping.keep(kept(&["DOE"]));
        assert!(matches!(first, Slot::InMemory(_)));
        assert!(keeping.take(&first).is_some());
        let second = keeping.keep(kept(&["DOE"]));
        assert!(keeping.take(&second).is_some());
        assert!(keeping.take(&second).is_none(), "taken once");
        let third = keeping.keep(kept(&["DOE"]));
        assert!(
            matches!(third, Slot::Empty),
            "over the allowance, no file: nothing kept"
        );
        assert!(keeping.take(&third).is_none());
    }

    #[test]
    fn past_the_allowance_headers_go_to_the_file_and_come_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let one = kept(&["DOE"]).bytes;
        let file = KeptFile::create(dir.path(), 1 << 20).unwrap();
        let keeping = Keeping::new(one, Some(file));
        let in_memory = keeping.keep(kept(&["DOE"]));
        assert!(matches!(in_memory, Slot::InMemory(_)));
        let on_disk = keeping.keep(kept(&["DOE", "JANE", "PID1"]));
        assert!(matches!(on_disk, Slot::OnDisk { .. }));
        let back = keeping.take(&on_disk).expect("read back");
        assert_eq!(back.header, vec![0; 1000]);
        assert_eq!(back.identifiers(), &["DOE", "JANE", "PID1"]);
        assert_eq!(back.bytes, kept(&["DOE", "JANE", "PID1"]).bytes);
    }

    fn sample(i: u8) -> Kept {
        Kept::from_parts(
            vec![i; 300 + usize::from(i)],
            Generated::from_entries([
                ("(0010,0030)".to_string(), Computed::ShiftedDate),
                (
                    "(0040,A730)[0]/(0010,0020)".to_string(),
                    Computed::KeyedCode,
                ),
            ]),
            vec![format!("warning {i}")],
            vec!["DOE".to_string(), format!("MRN-{i}"), "ÅSA".to_string()],
        )
    }

    fn same(a: &Kept, b: &Kept) {
        assert_eq!(a.header, b.header);
        assert_eq!(a.warnings, b.warnings);
        assert_eq!(a.identifiers(), b.identifiers());
        let entries = |k: &Kept| {
            let mut v: Vec<(String, Computed)> = k
                .generated
                .entries()
                .map(|(p, c)| (p.to_string(), c))
                .collect();
            v.sort_by(|x, y| x.0.cmp(&y.0));
            v
        };
        assert_eq!(entries(a), entries(b));
    }

    #[test]
    fn an_entry_decodes_to_what_was_encoded_and_nothing_else_decodes() {
        for i in [0, 1, 7] {
            same(&decode(&encode(&sample(i))).unwrap(), &sample(i));
        }
        assert!(
            decode(&encode(&sample(1))[1..]).is_none(),
            "not from its start"
        );
        let mut longer = encode(&sample(1));
        longer.push(0);
        assert!(decode(&longer).is_none(), "trailing bytes");
        for cut in 0..longer.len() - 1 {
            assert!(decode(&longer[..cut]).is_none(), "cut at {cut}");
        }
        let one = sample(1);
        let mut bad_kind = encode(&one);
        // The first computed element's kind byte: after the header (8 + len), the count (8),
        // the path (8 + len); the first element as `encode` met it (a map's own order).
        let at = 8 + 301 + 8 + 8 + one.generated.entries().next().unwrap().0.len();
        bad_kind[at] = 9;
        assert!(decode(&bad_kind).is_none(), "unknown kind");
    }

    #[test]
    fn a_kept_header_serves_only_when_it_cut_every_identifier_of_the_subject() {
        let facts = |ids: &[&str]| SubjectFacts {
            key: SubjectKey::BlankPatientId {
                study_uid: "1.2.3".into(),
            },
            identifiers: ids.iter().map(|s| s.to_string()).collect(),
            needles: Vec::new(),
        };
        let k = kept(&["DOE", "JANE", "PID1"]);
        assert!(k.complete_for(&facts(&[])));
        assert!(k.complete_for(&facts(&["DOE", "PID1"])));
        assert!(
            !k.complete_for(&facts(&["DOE", "SMITH"])),
            "a birth name seen elsewhere"
        );
    }

    #[test]
    fn a_kept_header_and_the_pixel_data_are_the_whole_work_byte_for_byte() {
        // The plan's steps (header read from disk as the plan reads it, the file's own
        // context, apply, encode), then the write phase's reuse, against the whole work.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.dcm");
        for level in [Level::AnonymizeFull, Level::Basic, Level::Anonymize] {
            let deid = Deidentifier::new(
                Profile::builtin(level, &[]).unwrap(),
                Key::from_bytes([9; 32]),
            );
            for syntax in [
                Syntax::ExplicitLittle,
                Syntax::ImplicitLittle,
                Syntax::ExplicitBig,
                Syntax::EncapsulatedJpegBaseline,
                Syntax::DeflatedExplicitLittle,
            ] {
                let spec = InstanceSpec {
                    syntax,
                    patient_name: "HALVORSEN^INGRID".into(),
                    study_description: "FOLLOW-UP HALVORSEN".into(),
                    ..fixture::instance("MRN-4711", "2.25.71", "2.25.72", "2.25.73")
                };
                let bytes = spec.to_bytes().unwrap();
                std::fs::write(&path, &bytes).unwrap();
                let (mut obj, _memory) = parse_header_file(&path).unwrap();
                let ctx = deid.subject_context(&obj);
                deid.apply(&mut obj, &ctx).unwrap();
                let mut header = Vec::new();
                obj.write_all(&mut header).unwrap();
                let (_, whole, _) =
                    deidentify_with(&deid, &bytes, |o| Ok((deid.subject_context(o), ()))).unwrap();
                match reuse_header(&deid, bytes.clone(), &header) {
                    Ok(out) => assert!(*out == whole, "{level:?} {syntax:?}: bytes differ"),
                    Err(back) => {
                        assert!(back == bytes, "{level:?}: the input comes back unchanged");
                        assert_eq!(
                            syntax,
                            Syntax::DeflatedExplicitLittle,
                            "{level:?}: only a deflated data set is not copied through"
                        )
                    }
                }
            }
        }
    }
}
