//! The plan of an export: the selected instances in package order, every header read once and
//! de-identified in memory with the real engine, so the plan knows what the files will say
//! (the keys they would be grouped by on re-import, whether their pixels may carry burned-in
//! text), and what the headers carry beyond the index (every identifying value per subject,
//! the original and the kept UIDs).

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use anon_core::{Deidentifier, Profile, identity};
use archive::{Archive, FactsError, Filter, HeaderFacts, SubjectKey};
use audit::OriginalUids;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use crate::header_values::header_needles;
use crate::header_values::uids_in;
use crate::stored::read_stored_header;

use super::error::{ExportError, FileFailure, PlanError};
use super::plan_store::{PlanStore, SpillBuilder};
use super::planned::{Planned, Regroup};
use super::request::ExportObserver;
use super::reuse::{Keeping, Kept, Slot};
use super::selected::{Names, Selected};
use super::subjects::{SubjectFacts, SubjectSeen, context_from};
use crate::uid_hash::UidHasher;

/// The selected instances in package order: by subject, study, series (numerically where
/// the labels are numbers), instance number and SOP Instance UID; shared values from `names`.
/// Each is planned in place by [`read_headers`] (the plan is the one list of the export's
/// files, never a second one beside the selection). A selection of more than `in_memory` files
/// is held in a temporary file in the archive's `tmp/` ([`PlanStore`]); in memory when that
/// file cannot be made.
pub(crate) fn select(
    archive: &Archive,
    selection: &Filter,
    names: &Names,
    in_memory: usize,
) -> Result<PlanStore, ExportError> {
    // Sized once (the count is a hint: an import may add files meanwhile): growing by
    // doubling held the old vector and the new one at once, 1.5 times the plan's size.
    let count = usize::try_from(archive.count_instances(selection)?).unwrap_or(usize::MAX);
    let unplanned = names.get("");
    let root = archive.root();
    if count > in_memory
        && let Ok(mut spill) = SpillBuilder::create(&root.join(archive::layout::TMP_DIR))
    {
        let mut failed = None;
        archive.each_instance(selection, |r| {
            if failed.is_none() {
                let planned = Planned::unplanned(Selected::new(r, names, root), &unplanned);
                failed = spill.push(planned).err();
            }
        })?;
        if let Some(e) = failed {
            return Err(e.into());
        }
        if spill.len() == 0 {
            return Err(ExportError::NothingSelected);
        }
        // The index lists a series' files together, in package order: the series are sorted.
        return Ok(spill.finish(|a, b| {
            a.subject
                .cmp(&b.subject)
                .then(a.study_number.cmp(&b.study_number))
                .then_with(|| compare_series_labels(&a.series_label, &b.series_label))
        })?);
    }
    let mut records = Vec::with_capacity(count.min(in_memory.saturating_add(1)));
    archive.each_instance(selection, |r| {
        records.push(Planned::unplanned(
            Selected::new(r, names, root),
            &unplanned,
        ));
    })?;
    if records.is_empty() {
        return Err(ExportError::NothingSelected);
    }
    // In place, without a key made per comparison (a SOP Instance UID is in the archive once,
    // so no two files compare equal and the order is the same as a stable sort's).
    records.sort_unstable_by(|a, b| {
        let (a, b) = (&a.record, &b.record);
        a.subject
            .cmp(&b.subject)
            .then(a.study_number.cmp(&b.study_number))
            .then_with(|| compare_series_labels(&a.series_label, &b.series_label))
            .then(a.instance_number.cmp(&b.instance_number))
            .then_with(|| a.sop_uid.cmp(&b.sop_uid))
    });
    records.shrink_to_fit();
    Ok(PlanStore::in_memory(records))
}

/// The archive codes of the plan's subjects (few), sorted.
pub(crate) fn subject_codes(plan: &PlanStore) -> Result<BTreeSet<Arc<str>>, ExportError> {
    let mut codes: BTreeSet<Arc<str>> = BTreeSet::new();
    plan.scan(|batch| -> Result<(), ExportError> {
        for p in batch {
            if !codes.contains(&p.record.subject) {
                codes.insert(Arc::clone(&p.record.subject));
            }
        }
        Ok(())
    })?;
    Ok(codes)
}

/// Reads and de-identifies every header once, in parallel, collecting what the headers say
/// (identifying values per subject when `identity`, original and kept UIDs when `uids`), and
/// keeping the de-identified headers for the write phase (see [`Reading`]). A file that
/// cannot be planned stops the export, with every such file named (in plan order).
pub(crate) fn read_headers(
    deid: &Deidentifier,
    subjects: &HashMap<String, SubjectFacts>,
    plan: &mut PlanStore,
    reading: &Reading<'_>,
    observer: &dyn ExportObserver,
) -> Result<Seen, ExportError> {
    let &Reading {
        root,
        names,
        original,
        keeping,
        ..
    } = reading;
    let seen = Mutex::new(Seen {
        uids: reading.uids.make(),
        ..Seen::default()
    });
    let uids = deid.profile().remaps_uids();
    let collect = Collect {
        identity: !original,
        uids,
        seen: &seen,
        keep: keeping.filter(|_| !original),
        names,
        root,
        instance_keys: UidHasher::default(),
    };
    let mut failures: Vec<FileFailure> = Vec::new();
    plan.rewrite(|batch| -> Result<(), ExportError> {
        failures.par_extend(batch.par_iter_mut().filter_map(|planned| {
            let r = plan_one(deid, subjects, planned, original, &collect);
            observer.advance();
            r.err()
        }));
        Ok(())
    })?;
    if !failures.is_empty() {
        return Err(ExportError::Files(failures));
    }
    Ok(seen.into_inner().unwrap_or_else(|p| p.into_inner()))
}

/// Where the plan reads the headers from and what it keeps of them.
pub(crate) struct Reading<'a> {
    /// The archive's root (where the stored files are).
    pub(crate) root: &'a Path,
    /// Where the values files share are held once.
    pub(crate) names: &'a Names,
    /// The export is at `original` (nothing de-identified).
    pub(crate) original: bool,
    /// Where the de-identified headers are kept for the write phase (see [`super::reuse`]).
    pub(crate) keeping: Option<&'a Keeping>,
    /// Where the original UIDs gathered go past their limit.
    pub(crate) uids: UidSpill<'a>,
}

/// Where an export's original UIDs go once they pass `in_memory` bytes: `dir`, the archive's
/// own `tmp/` (they are original UIDs: never the system's temporary folder).
#[derive(Clone, Copy)]
pub(crate) struct UidSpill<'a> {
    pub(crate) dir: Option<&'a Path>,
    pub(crate) in_memory: usize,
}

impl UidSpill<'_> {
    fn make(self) -> OriginalUids {
        OriginalUids::with_limit(self.dir, self.in_memory)
    }
}

/// Series labels sort numerically where they are numbers (`2` before `10`, `3` before `3.1`).
pub(crate) fn series_sort_key(label: &str) -> (Vec<u64>, String) {
    (label_numbers(label).collect(), label.to_string())
}

/// The order of [`series_sort_key`], without making the keys.
pub(crate) fn compare_series_labels(a: &str, b: &str) -> std::cmp::Ordering {
    label_numbers(a)
        .cmp(label_numbers(b))
        .then_with(|| a.cmp(b))
}

/// A series label's dot-separated parts as numbers (`u64::MAX` for a part that is not one).
fn label_numbers(label: &str) -> impl Iterator<Item = u64> + '_ {
    label
        .split('.')
        .map(|p| p.parse::<u64>().unwrap_or(u64::MAX))
}

/// What the plan collects from the headers beyond the index. Only distinct values are kept,
/// so memory grows with what differs between files, not with their number.
#[derive(Default)]
pub(crate) struct Seen {
    /// Per archive subject.
    pub(crate) subjects: HashMap<String, SubjectSeen>,
    /// Original UIDs (not under `1.2.840.10008.`) at any depth, each with the attribute
    /// holding it and a rank ([`RANK_OTHER`]; the plan's own Study, Series and SOP Instance
    /// UIDs are added with their place in the plan when the auditor is made, see `needles`),
    /// and the UIDs the de-identified headers keep (no finding: a UID of the same bytes is not
    /// searched). Past a limit they go to the archive's `tmp/` (see [`OriginalUids`]).
    pub(crate) uids: OriginalUids,
    /// The re-import keys of the importable files, by archive series (for the regrouping
    /// check): a series' files all give the same, so this grows with the series.
    pub(crate) series_keys: HashMap<Arc<str>, SeriesKeys>,
}

/// The rank of the own UIDs of files the check leaves out (see [`Seen::uids`]): after the
/// plan's, before any other.
pub(crate) const RANK_LEFT_OUT: u64 = u64::MAX - 1;

/// The rank of every other original UID a header holds (references, frames of reference):
/// the label of the file's own UID wins where a file refers to a planned one.
pub(crate) const RANK_OTHER: u64 = u64::MAX;

/// The re-import keys a series' importable files give: (subject, study, series) keys, each
/// distinct set once, and the archive labels of its subject and study.
pub(crate) struct SeriesKeys {
    pub(crate) archive_subject: Arc<str>,
    pub(crate) archive_study: Arc<str>,
    pub(crate) keys: Vec<[Arc<str>; 3]>,
}

/// What `plan_one` collects, and where.
pub(crate) struct Collect<'a> {
    /// Identifying values per subject (every level that changes files).
    pub(crate) identity: bool,
    /// Original and kept UIDs (levels that remap UIDs).
    pub(crate) uids: bool,
    pub(crate) seen: &'a Mutex<Seen>,
    /// Where de-identified headers are kept for the write phase, if they are.
    pub(crate) keep: Option<&'a Keeping>,
    /// Where the values files share are held once.
    pub(crate) names: &'a Names,
    /// The archive's root (where the stored files are).
    pub(crate) root: &'a Path,
    /// How the instance keys are hashed.
    pub(crate) instance_keys: UidHasher,
}

/// Why the import would reject a header, naming the attribute and never its value (the reason
/// travels into the manifest).
pub(crate) fn rejection_reason(e: &FactsError) -> String {
    match e {
        FactsError::MissingUid { attribute, .. } => format!("no {attribute}"),
        FactsError::InvalidUid { attribute, .. } => format!("invalid {attribute}"),
        FactsError::InvalidKey { attribute, .. } => format!("unusable {attribute}"),
        _ => "unreadable header".to_string(),
    }
}

/// Whether the level writes the subject's pseudonym into PatientID but the de-identified
/// header has none (the attribute was absent, so no rule touched it). The package promises a
/// PatientID per subject at such levels, so the export adds it.
pub(crate) fn lacks_patient_id(profile: &Profile, obj: &InMemDicomObject) -> bool {
    profile.pseudonymizes_patient_id() && obj.get(tags::PATIENT_ID).is_none()
}

/// Writes the pseudonym as PatientID.
pub(crate) fn put_patient_id(obj: &mut InMemDicomObject, pseudonym: &str) {
    obj.put(DataElement::new(
        tags::PATIENT_ID,
        VR::LO,
        PrimitiveValue::from(pseudonym),
    ));
}

/// Reads `planned`'s header and plans it (see [`Planned`]).
pub(crate) fn plan_one(
    deid: &Deidentifier,
    subjects: &HashMap<String, SubjectFacts>,
    planned: &mut Planned,
    original: bool,
    collect: &Collect<'_>,
) -> Result<(), FileFailure> {
    let record = &planned.record;
    let path = record.path(collect.root);
    let fail = |error: PlanError| FileFailure {
        file: format!(
            "{}/{}/{} {path}",
            record.subject, record.study_number, record.series_label
        ),
        error: Box::new(error.into()),
    };
    let facts = subjects
        .get(&*record.subject)
        .ok_or_else(|| fail(PlanError::SubjectVanished))?;
    let (mut obj, _memory) = read_stored_header(&path).map_err(|e| fail(e.into()))?;
    let raw = deid.subject_context(&obj);
    let mut identity = Vec::new();
    let mut originals = Vec::new();
    if collect.identity {
        identity = header_needles(&obj);
    }
    if collect.uids {
        uids_in(&obj, &mut originals);
    }
    let identifiers = if collect.identity {
        raw.identifiers.clone()
    } else {
        Vec::new()
    };
    let mut ctx = context_from(raw, deid, facts);
    let report = deid.apply(&mut obj, &ctx).map_err(|e| fail(e.into()))?;
    let add_patient_id = !original && lacks_patient_id(deid.profile(), &obj);
    if add_patient_id {
        put_patient_id(&mut obj, &ctx.pseudonym);
    }
    let mut kept = Vec::new();
    if collect.uids {
        uids_in(&obj, &mut kept);
        let meta = obj.meta();
        for uid in [
            meta.media_storage_sop_class_uid(),
            meta.media_storage_sop_instance_uid(),
            meta.transfer_syntax(),
            meta.implementation_class_uid.as_str(),
        ] {
            kept.push((
                uid.trim_end_matches('\0').trim().to_string(),
                Tag(0x0002, 0),
            ));
        }
    }
    if !identity.is_empty() || !identifiers.is_empty() || !originals.is_empty() {
        let mut seen = collect.seen.lock().unwrap_or_else(|p| p.into_inner());
        let seen = &mut *seen;
        let subject = seen.subjects.entry(record.subject.to_string()).or_default();
        for i in identifiers {
            if !subject.identifiers.contains(&i) {
                subject.identifiers.insert(i);
            }
        }
        for n in identity {
            if !subject.needles.contains(&n) {
                subject.needles.insert(n);
            }
        }
        // The file's own Study, Series and SOP Instance UIDs are the plan's, given from it
        // (see `needles`); a reference to another planned file's SOP Instance UID is given
        // here too, and searched under that file's label, whose rank is lower.
        let own = [&*record.study_uid, &*record.series_uid, &*record.sop_uid];
        for (uid, tag) in originals {
            if !own.contains(&uid.as_str()) {
                seen.uids
                    .add(identity::label_of(tag, "UID"), &uid, RANK_OTHER);
            }
        }
        for (uid, _) in kept {
            seen.uids.add_kept(&uid);
        }
    }
    let after = HeaderFacts::from_file_object(&obj);
    let (subject_key, study_key, series_key, instance_key, unimportable) = match after {
        Ok(f) => {
            let k = SubjectKey::of(&f);
            (
                format!("{}|{}|{}", k.kind(), k.value(), k.issuer()),
                f.study_uid,
                f.series_uid,
                f.sop_uid,
                None,
            )
        }
        // A header that lost a required UID cannot be imported again: it would be rejected.
        Err(e) => (
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            Some(rejection_reason(&e)),
        ),
    };
    let names = collect.names;
    let subject_label = if original {
        Arc::clone(&record.subject)
    } else {
        names.get(&ctx.pseudonym)
    };
    let burned_in = report
        .burned_in
        .as_ref()
        .map(|b| b.to_string().into_boxed_str());
    // The header as the write phase would encode it, unless the write phase changes it again
    // (adding the PatientID) or cannot encode it (it reports why itself).
    let kept = match collect.keep {
        Some(keeping) if !add_patient_id => {
            let mut header = Vec::new();
            match obj.write_all(&mut header) {
                Ok(()) => {
                    let identifiers = std::mem::take(&mut ctx.identifiers);
                    keeping.keep(Kept::new(header, report, identifiers))
                }
                Err(_) => Slot::default(),
            }
        }
        _ => Slot::default(),
    };
    planned.regroup = match unimportable {
        Some(reason) => Regroup::Rejected(reason.into_boxed_str()),
        None => {
            // The subject, study and series keys once per series; the instance's by hash.
            let keys = [&subject_key, &study_key, &series_key];
            let mut seen = collect.seen.lock().unwrap_or_else(|p| p.into_inner());
            let series = seen
                .series_keys
                .entry(Arc::clone(&record.archive_series))
                .or_insert_with(|| SeriesKeys {
                    archive_subject: Arc::clone(&record.subject),
                    archive_study: Arc::clone(&record.archive_study),
                    keys: Vec::new(),
                });
            if !series
                .keys
                .iter()
                .any(|k| k.iter().map(|s| &**s).eq(keys.iter().map(|s| s.as_str())))
            {
                series.keys.push(keys.map(|k| names.get(k)));
            }
            Regroup::Key(collect.instance_keys.hash(&instance_key).to_le_bytes())
        }
    };
    planned.burned_in = burned_in;
    planned.subject_label = subject_label;
    planned.study = planned.record.study_number;
    planned.add_patient_id = add_patient_id;
    planned.kept = kept;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_labels_compare_as_their_sort_keys_do() {
        let parts = [
            "1",
            "2",
            "10",
            "3",
            "0",
            "x",
            "",
            "18446744073709551615",
            "99999999999999999999",
        ];
        let mut labels: Vec<String> = Vec::new();
        for a in parts {
            labels.push(a.to_string());
            for b in parts {
                labels.push(format!("{a}.{b}"));
                labels.push(format!("{a}.{b}.1"));
            }
        }
        for a in &labels {
            for b in &labels {
                assert_eq!(
                    compare_series_labels(a, b),
                    series_sort_key(a).cmp(&series_sort_key(b)),
                    "{a} {b}"
                );
            }
        }
        let mut sorted = vec!["10", "2", "3.1", "3", "a", "1.10", "1.9"];
        sorted.sort_by(|a, b| compare_series_labels(a, b));
        assert_eq!(sorted, ["1.9", "1.10", "2", "3", "3.1", "10", "a"]);
    }
}
