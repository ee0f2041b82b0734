//! The identifying values the export's audit looks for in a package: the exported subjects'
//! values that the profile promises to remove, each owned by its subject's folder, and the
//! original UIDs when the profile remaps them.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use anon_core::{Deidentifier, Profile};
use audit::owners::OwnedNeedle;
use audit::written::WrittenValues;
use audit::{Auditor, OriginalUids, Rules};

use crate::promised::promises_to_remove;

use super::error::ExportError;
use super::plan::Seen;
use super::plan_store::PlanStore;
use super::subjects::SubjectFacts;

/// The identifying values the audit looks for: those of the exported subjects (`codes`) that
/// the profile promises to remove, each owned by its subject's folder (its pseudonym; see
/// `audit::owners`). (The original UIDs, searched when the profile remaps UIDs and owned by
/// no subject, are handed to the auditor apart: see [`auditor`].)
///
/// - Levels that remove identity: every value whose attribute the profile changes (a value
///   kept on purpose, such as InstitutionName under retain-institution-identity, is not a
///   finding).
/// - `anonymize` (and profiles built on it), which keeps PatientID, dates, UIDs and text on
///   purpose: only the patient's own values it changes, that is the patient's name (whole and
///   part by part) and birth date. The physicians' names it empties are commonly repeated in
///   attributes it keeps (RequestingPhysician), and it does not promise to remove them there.
/// - `sup142`: the values of the attributes on its list.
pub(crate) fn needles<'a>(
    profile: &Profile,
    deid: &Deidentifier,
    subjects: &HashMap<String, SubjectFacts>,
    codes: impl Iterator<Item = &'a str>,
) -> Vec<OwnedNeedle> {
    let exported: BTreeSet<&str> = codes.collect();
    let mut out = Vec::new();
    for code in exported {
        if let Some(f) = subjects.get(code) {
            let folder = vec![f.pseudonym(deid)];
            for (tag, n) in &f.needles {
                if promises_to_remove(profile, *tag) {
                    out.push(OwnedNeedle::new(n.clone(), folder.clone()));
                }
            }
        }
    }
    out
}

/// Gives `uids` the plan's own Study, Series and SOP Instance UIDs, ranked by their place in
/// the plan, so that a UID is searched under the label of the first file in package order that
/// holds it (see [`Seen::uids`]; the other UIDs the headers held, ranked after them, were
/// given while the headers were read). The plan is read a batch at a time; each Study and
/// Series UID is given once (what is held for that grows with the series, not the files).
fn add_plan_uids(uids: &mut OriginalUids, plan: &PlanStore) -> Result<(), ExportError> {
    let mut given: HashSet<Arc<str>> = HashSet::new();
    let mut rank = 0u64;
    plan.scan(|batch| -> Result<(), ExportError> {
        for p in batch {
            let r = &p.record;
            for (label, uid) in [
                ("StudyInstanceUID", &r.study_uid),
                ("SeriesInstanceUID", &r.series_uid),
                ("SOPInstanceUID", &r.sop_uid),
            ] {
                rank += 1;
                if label != "SOPInstanceUID" {
                    if given.contains(&**uid) {
                        continue;
                    }
                    given.insert(Arc::clone(uid));
                }
                uids.add(label, uid, rank);
            }
        }
        Ok(())
    })
}

/// The export's auditor: the needles of the exported subjects and of the original UIDs the
/// level changed (`seen.uids`: a UID the exported headers keep is no finding), with the
/// structural rules the profile promises. Depot's own values are never findings: the engine's constants under
/// the profile and every exported subject's pseudonym (in the files, the paths and the
/// manifest).
pub(crate) fn auditor(
    deid: &Deidentifier,
    subjects: &HashMap<String, SubjectFacts>,
    plan: &PlanStore,
    seen: &mut Seen,
) -> Result<Auditor, ExportError> {
    let profile = deid.profile();
    // The exported subjects' archive codes and folders (few).
    let mut codes: BTreeSet<Arc<str>> = BTreeSet::new();
    let mut labels: BTreeSet<Arc<str>> = BTreeSet::new();
    plan.scan(|batch| -> Result<(), ExportError> {
        for p in batch {
            if !codes.contains(&p.record.subject) {
                codes.insert(Arc::clone(&p.record.subject));
            }
            if !labels.contains(&p.subject_label) {
                labels.insert(Arc::clone(&p.subject_label));
            }
        }
        Ok(())
    })?;
    let needles = needles(profile, deid, subjects, codes.iter().map(|c| &**c));
    // Each original UID was handed over as it was found, never made a needle beside all the
    // others.
    let mut uids = std::mem::take(&mut seen.uids);
    if profile.remaps_uids() {
        add_plan_uids(&mut uids, plan)?;
    }
    let builder = Auditor::owned_builder_with(&needles, Rules::for_profile(profile), uids);
    let mut written = WrittenValues::new();
    written.add_profile(profile);
    let pseudonyms: Vec<String> = subjects.values().map(|f| f.pseudonym(deid)).collect();
    for p in &pseudonyms {
        written.add(p);
    }
    // Every exported subject's folder (its pseudonym, or its archive code at `original`),
    // those with no value to search included.
    let folders = pseudonyms
        .iter()
        .map(String::as_str)
        .chain(labels.iter().map(|l| &**l));
    Ok(builder
        .build()?
        .with_subject_folders(folders)
        .with_written(written))
}
