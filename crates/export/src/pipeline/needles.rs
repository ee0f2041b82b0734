//! The identifying values the export's audit looks for in a package: the exported subjects'
//! values that the profile promises to remove, each owned by its subject's folder, and the
//! original UIDs when the profile remaps them.

use std::collections::{BTreeSet, HashMap, HashSet};

use anon_core::{Deidentifier, Profile};
use audit::owners::OwnedNeedle;
use audit::written::WrittenValues;
use audit::{AuditError, Auditor, Rules};

use crate::promised::promises_to_remove;

use super::plan::{Planned, Seen};
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

/// The original UIDs the level changed, each once (the first label found for it wins): the
/// plan's Study, Series and SOP Instance UIDs in plan order, then the other UIDs the headers
/// held (see [`Seen::original_uids`]) by label and value. A UID that the exported headers keep
/// is no finding, so it is not searched. Duplicates are skipped before any needle is made: a
/// series' UIDs repeat in every file.
fn original_uids<'a>(
    plan: &'a [Planned],
    seen: &'a Seen,
) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
    let mut others: Vec<(&str, &str)> = seen
        .original_uids
        .iter()
        .map(|(uid, label)| (*label, uid.as_str()))
        .collect();
    others.sort_unstable();
    let mut once: HashSet<&str> = HashSet::new();
    plan.iter()
        .flat_map(|p| {
            [
                ("StudyInstanceUID", &*p.record.study_uid),
                ("SeriesInstanceUID", &*p.record.series_uid),
                ("SOPInstanceUID", &*p.record.sop_uid),
            ]
        })
        .chain(others)
        .filter(move |(_, uid)| !seen.kept_uids.contains(uid) && once.insert(uid))
}

/// The export's auditor: the needles of the exported subjects and of the original UIDs the
/// level changed (a UID the exported headers keep is no finding), with the structural rules
/// the profile promises. Depot's own values are never findings: the engine's constants under
/// the profile and every exported subject's pseudonym (in the files, the paths and the
/// manifest).
pub(crate) fn auditor(
    deid: &Deidentifier,
    subjects: &HashMap<String, SubjectFacts>,
    plan: &[Planned],
    seen: &Seen,
) -> Result<Auditor, AuditError> {
    let profile = deid.profile();
    let needles = needles(
        profile,
        deid,
        subjects,
        plan.iter().map(|p| &*p.record.subject),
    );
    // Each original UID is handed over as it is found, never made a needle beside all the
    // others.
    let uids = profile
        .remaps_uids()
        .then(|| original_uids(plan, seen))
        .into_iter()
        .flatten();
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
        .chain(plan.iter().map(|p| &*p.subject_label));
    Ok(
        Auditor::owned_with_uids(&needles, uids, Rules::for_profile(profile))?
            .with_subject_folders(folders)
            .with_written(written),
    )
}
