//! The exported subjects' stored files that the selection leaves out (`--study`, `--series`,
//! `--modality`, dates): their headers are read too, so that a value only they hold (a birth
//! name, another PatientID or an older accession number in a study not exported) is cut from
//! the exported files' text and searched by the audit. `depot audit` and the check of a
//! release's reason read every stored file of the package's subjects with the same code
//! ([`crate::stored_values`]), so the export and a later `depot audit` search the same values.
//! Only the files the plan did not read are read here: a whole subject's export reads nothing
//! more.

use std::collections::HashMap;
use std::path::Path;

use anon_core::Deidentifier;
use archive::{Archive, InstanceRecord};

use crate::stored_values::{read_values, stored_files};

use super::error::ExportError;
use super::plan::{RANK_OTHER, Seen};
use super::plan_store::PlanStore;
use super::request::ExportObserver;
use super::subjects::SubjectFacts;
use crate::uid_hash::UidHasher;

/// Reads the headers of the exported subjects' stored files that `plan` does not hold and adds
/// what they carry to the subjects' facts (values searched and cut) and, when the level remaps
/// UIDs, their original UIDs to `seen`. Returns how many headers it read. A stored file that
/// cannot be read stops the export, as a planned one does: without its values the audit's
/// search would pass for complete.
pub(crate) fn add_other_files(
    archive: &Archive,
    deid: &Deidentifier,
    plan: &PlanStore,
    subjects: &mut HashMap<String, SubjectFacts>,
    seen: &mut Seen,
    observer: &dyn ExportObserver,
) -> Result<usize, ExportError> {
    let root = archive.root();
    let codes: Vec<&str> = subjects.keys().map(String::as_str).collect();
    // Most exports take whole subjects: then there is nothing else to read, and the planned
    // files need not be told apart (which holds an entry per file).
    let mut stored = 0;
    for code in &codes {
        stored += archive.count_instances(&archive::Filter {
            subject: Some((*code).to_string()),
            ..archive::Filter::default()
        })?;
    }
    if usize::try_from(stored).is_ok_and(|n| n == plan.len()) {
        return Ok(0);
    }
    let planned = PlannedFiles::of(plan, root)?;
    let files = stored_files(archive, &codes, &|r| planned.holds(r))?;
    drop(planned);
    let count: usize = files.values().map(Vec::len).sum();
    if count == 0 {
        return Ok(0);
    }
    observer.phase("reading the subjects' other headers", count as u64);
    let stored = read_values(&files, &|| observer.advance())?;
    let remaps_uids = deid.profile().remaps_uids();
    for (code, s) in stored {
        if remaps_uids {
            for (uid, label) in &s.uids {
                seen.uids.add(label, uid, RANK_OTHER);
            }
        }
        if let Some(f) = subjects.get_mut(&code) {
            f.add_stored(s);
        }
    }
    Ok(count)
}

/// The planned files, as the subjects' stored files are told apart from them: by the path of
/// each (as the index spells it), held as a 16-byte keyed hash (see [`UidHasher`]), sorted. A
/// stored file is a planned one when its path is the same.
struct PlannedFiles {
    hasher: UidHasher,
    paths: Vec<u128>,
}

impl PlannedFiles {
    /// Those of `plan`; `root` is the archive's.
    fn of(plan: &PlanStore, root: &Path) -> Result<PlannedFiles, ExportError> {
        let hasher = UidHasher::default();
        let mut paths: Vec<u128> = Vec::with_capacity(plan.len());
        plan.scan(|batch| -> Result<(), ExportError> {
            paths.extend(batch.iter().map(|p| hasher.hash(&p.record.path(root))));
            Ok(())
        })?;
        paths.sort_unstable();
        paths.dedup();
        Ok(PlannedFiles { hasher, paths })
    }

    /// Whether the stored file `r` is one of them.
    fn holds(&self, r: &InstanceRecord) -> bool {
        self.paths.binary_search(&self.hasher.hash(&r.path)).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::planned::Planned;
    use crate::pipeline::selected::{Stored, UnusualStored};

    /// The index record of `p` as stored under `root` at `path` (its layout's when `None`).
    fn record(p: &Planned, root: &Path, path: Option<&str>) -> InstanceRecord {
        let hash = p.record.content_hash();
        let r = &p.record;
        InstanceRecord {
            project: "p".into(),
            subject: r.subject.to_string(),
            study_number: r.study_number,
            series_label: r.series_label.to_string(),
            study_uid: r.study_uid.to_string(),
            series_uid: r.series_uid.to_string(),
            sop_uid: r.sop_uid.to_string(),
            sop_class_uid: None,
            transfer_syntax: None,
            modality: None,
            instance_number: None,
            number_of_frames: None,
            content_hash: hash,
            hash_algorithm: archive::HashAlgorithm::Blake3,
            size: 1,
            path: path.map_or_else(
                || p.record.path(root),
                |p| archive::path_text(&root.join(p)),
            ),
            source_path: "/in/x.dcm".into(),
            run_id: 1,
            imported_at: "now".into(),
        }
    }

    #[test]
    fn a_stored_file_is_planned_when_its_path_is_a_planned_one() {
        let root = Path::new("/archive");
        let mut a = Planned::for_test("S1", 1, "1", "1.2.1");
        a.record.stored = Stored::Usual([1; 32]);
        // A second file of the same bytes, in another series.
        let mut b = Planned::for_test("S1", 1, "2", "1.2.2");
        b.record.stored = Stored::Usual([1; 32]);
        // A file the layout does not name by its hash.
        let mut c = Planned::for_test("S1", 1, "3", "1.2.3");
        c.record.stored = Stored::Unusual(Box::new(UnusualStored {
            content_hash: "02".repeat(32),
            path: archive::path_text(&root.join("conflicts/c.dcm")),
        }));
        let other = Planned::for_test("S1", 2, "1", "1.2.4");
        let records = [
            (record(&a, root, None), true),
            (record(&b, root, None), true),
            (record(&c, root, Some("conflicts/c.dcm")), true),
            // The same bytes elsewhere, and a file not planned: not planned.
            (record(&a, root, Some("conflicts/a.dcm")), false),
            (record(&c, root, Some("store/S1/1/3/other.dcm")), false),
            (record(&other, root, None), false),
        ];
        let plan = PlanStore::in_memory(vec![a, b, c]);
        let planned = PlannedFiles::of(&plan, root).unwrap();
        for (r, expected) in &records {
            assert_eq!(planned.holds(r), *expected, "{}", r.path);
        }
    }
}
