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
use audit::written::Generated;

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
    file: Option<KeptFile>,
}

impl Keeping {
    /// `limit` bytes in memory, then `file`.
    pub(crate) fn new(limit: u64, file: Option<KeptFile>) -> Keeping {
        Keeping {
            left: AtomicU64::new(limit),
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
            return Slot::InMemory(Mutex::new(Some(Box::new(kept))));
        }
        match self.file.as_ref().and_then(|f| f.put(&kept)) {
            Some((offset, len)) => Slot::OnDisk { offset, len },
            None => Slot::Empty,
        }
    }

    /// The kept header of `slot`, if there is one (taken once: a slot in memory is empty
    /// afterwards).
    pub(crate) fn take(&self, slot: &Slot) -> Option<Box<Kept>> {
        match slot {
            Slot::Empty => None,
            Slot::InMemory(k) => k.lock().unwrap_or_else(|p| p.into_inner()).take(),
            Slot::OnDisk { offset, len } => self
                .file
                .as_ref()
                .and_then(|f| f.get(*offset, *len))
                .map(Box::new),
        }
    }
}

/// Where a planned file's kept header is.
#[derive(Default)]
pub(crate) enum Slot {
    /// Not kept: the write phase does the whole work.
    #[default]
    Empty,
    /// In memory, until the write phase takes it.
    InMemory(Mutex<Option<Box<Kept>>>),
    /// In the export's temporary file, `len` bytes at `offset`.
    OnDisk { offset: u64, len: u64 },
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
