//! The exported subjects' stored files that the selection leaves out (`--study`, `--series`,
//! `--modality`, dates): their headers are read too, so that a value only they hold (a birth
//! name, another PatientID or an older accession number in a study not exported) is cut from
//! the exported files' text and searched by the audit. `depot audit` and the check of a
//! release's reason read every stored file of the package's subjects with the same code
//! ([`crate::stored_values`]), so the export and a later `depot audit` search the same values.
//! Only the files the plan did not read are read here: a whole subject's export reads nothing
//! more.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use anon_core::Deidentifier;
use archive::{Archive, InstanceRecord};

use crate::stored_values::{read_values, stored_files};

use super::error::ExportError;
use super::plan::Seen;
use super::plan_store::PlanStore;
use super::request::ExportObserver;
use super::selected::{SeriesOf, Stored};
use super::subjects::SubjectFacts;

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
    // The planned files, by content hash with their series (most: the path is then the
    // layout's), or by path (files the layout does not name by their hash, and a second file
    // of one hash): a stored file is one of them when its path is the same.
    let root = archive.root();
    let mut by_hash: HashMap<[u8; 32], Arc<SeriesOf>> = HashMap::with_capacity(plan.len());
    let mut paths: HashSet<String> = HashSet::new();
    plan.scan(|batch| -> Result<(), ExportError> {
        for p in batch {
            match &p.record.stored {
                Stored::Usual(hash) => match by_hash.entry(*hash) {
                    Entry::Occupied(_) => {
                        paths.insert(p.record.path(root));
                    }
                    Entry::Vacant(v) => {
                        v.insert(Arc::clone(&p.record.series));
                    }
                },
                Stored::Unusual(u) => {
                    paths.insert(u.path.clone());
                }
            }
        }
        Ok(())
    })?;
    let planned = |r: &InstanceRecord| {
        paths.contains(r.path.as_str())
            || matches!(Stored::of(r, root), Stored::Usual(hash)
                if by_hash.get(&hash).is_some_and(|series| series.usual_path(root, &hash) == r.path))
    };
    let codes: Vec<&str> = subjects.keys().map(String::as_str).collect();
    let files = stored_files(archive, &codes, &planned)?;
    drop((by_hash, paths));
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
                seen.original_uids.entry(uid.clone()).or_insert(*label);
            }
        }
        if let Some(f) = subjects.get_mut(&code) {
            f.add_stored(s);
        }
    }
    Ok(count)
}
