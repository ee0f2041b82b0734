//! Where each planned file goes in the package: its study's number (the archive's, renumbered
//! when archive subjects of several projects share one pseudonym) and its path
//! `SUBJECT/STUDY/SERIES/NNNNN.dcm`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anon_core::Deidentifier;
use archive::{Archive, Filter};

use super::error::ExportError;
use super::plan_store::PlanStore;
use super::subjects::SubjectFacts;

/// The package study numbers of the exported subjects whose pseudonym is shared by several
/// archive subjects, by (archive code, archive study number); subjects absent from the map
/// keep the archive's study numbers.
///
/// A subject folder is a pseudonym of PatientID and issuer, so archive subjects of different
/// projects with the same PatientID share it (linking them is the point of a keyed
/// pseudonym), and their study numbers would collide there. The studies of such a pseudonym
/// are numbered 1..n over **every** archive subject that has it, in the whole archive and
/// whatever the selection, in the order the studies arrived (each study's first import run;
/// then archive code and study number, for studies of one run). So a package path names the
/// same study in every export with the same key (a package of one project and a package of
/// the other never put different studies at one path), and whatever is imported later, to
/// any of the subjects, only appends numbers. As archive study numbers also follow the order
/// of arrival, the first subject's studies keep their archive numbers.
pub(crate) fn shared_study_numbers(
    archive: &Archive,
    deid: &Deidentifier,
    subjects: &HashMap<String, SubjectFacts>,
) -> Result<HashMap<(String, i64), i64>, ExportError> {
    let mut holders: HashMap<String, BTreeSet<String>> = HashMap::new();
    for (code, f) in subjects {
        holders
            .entry(f.pseudonym(deid))
            .or_default()
            .insert(code.clone());
    }
    // Subjects keyed by PatientID and issuer, as `subject_facts` keys them. A subject without
    // PatientID is keyed by its study, and a study belongs to one project (the import keeps a
    // second project's copy apart as a conflict), so no other archive subject shares its
    // pseudonym.
    for s in archive.subjects(&Filter::default())? {
        if let (Some(id), false) = (&s.patient_id, s.blank_patient_id) {
            let p = deid.pseudonym(id, s.issuer_of_patient_id.as_deref());
            if let Some(codes) = holders.get_mut(&p) {
                codes.insert(s.subject);
            }
        }
    }
    let mut out = HashMap::new();
    for codes in holders.values().filter(|c| c.len() > 1) {
        // (first import run, archive code, study number) of every study of these subjects.
        let mut first_runs: BTreeMap<(String, i64), i64> = BTreeMap::new();
        for code in codes {
            let f = Filter {
                subject: Some(code.clone()),
                ..Filter::default()
            };
            for i in archive.instances(&f)? {
                let run = first_runs
                    .entry((code.clone(), i.study_number))
                    .or_insert(i.run_id);
                *run = (*run).min(i.run_id);
            }
        }
        out.extend(number_in_order(
            first_runs
                .into_iter()
                .map(|((code, study), run)| (run, code, study))
                .collect(),
        ));
    }
    Ok(out)
}

/// Numbers the studies of archive subjects sharing a pseudonym 1..n in the order of (first
/// import run, archive code, study number).
pub(crate) fn number_in_order(
    mut studies: Vec<(i64, String, i64)>,
) -> impl Iterator<Item = ((String, i64), i64)> {
    studies.sort();
    studies
        .into_iter()
        .map(|(_, code, study)| (code, study))
        .zip(1..)
}

/// Gives every planned file its package study number (from `shared`, see
/// [`shared_study_numbers`], else the archive's) and path (plan is sorted by subject, study,
/// series, instance number).
pub(crate) fn number_files(
    plan: &mut PlanStore,
    shared: &HashMap<(String, i64), i64>,
) -> Result<(), ExportError> {
    // One counter per package series (series are few).
    let mut counters: HashMap<String, u32> = HashMap::new();
    plan.rewrite(|batch| -> Result<(), ExportError> {
        for p in batch.iter_mut() {
            p.study = shared
                .get(&(p.record.subject.to_string(), p.record.study_number))
                .copied()
                .unwrap_or(p.record.study_number);
            let n = counters.entry(p.series_dir()).or_insert(0);
            *n += 1;
            p.number = *n;
        }
        Ok(())
    })
}

pub(crate) fn package_series_label(rel: &str) -> String {
    rel.rsplit_once('/')
        .map(|(d, _)| d.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::planned::Planned;

    #[test]
    fn studies_of_archive_subjects_sharing_a_pseudonym_are_renumbered() {
        let planned = |code: &str, study: i64, series: &str| {
            let mut p = Planned::for_test(code, study, series, "");
            p.subject_label = if code == "S3" { "PB" } else { "PA" }.into();
            p
        };
        let plan = vec![
            planned("S1", 1, "1"),
            planned("S1", 3, "1"),
            planned("S2", 1, "1"),
            planned("S2", 1, "1"),
            planned("S3", 2, "4"),
        ];
        // S1 and S2 share PA; S2's study came first (run 2), S1's later (runs 5 and 6), and
        // S2 got a second study later still (run 7): it is appended, nothing renumbered. S1's
        // study 2 is not selected but still holds its number. S3 alone keeps the archive's.
        let shared: HashMap<(String, i64), i64> = number_in_order(vec![
            (5, "S1".into(), 1),
            (6, "S1".into(), 3),
            (5, "S1".into(), 2),
            (2, "S2".into(), 1),
            (7, "S2".into(), 2),
        ])
        .collect();
        assert_eq!(
            shared,
            HashMap::from([
                (("S2".to_string(), 1), 1),
                (("S1".to_string(), 1), 2),
                (("S1".to_string(), 2), 3),
                (("S1".to_string(), 3), 4),
                (("S2".to_string(), 2), 5),
            ])
        );
        let mut store = PlanStore::in_memory(plan);
        number_files(&mut store, &shared).unwrap();
        let plan = store.into_vec().unwrap();
        let rels: Vec<String> = plan.iter().map(Planned::rel).collect();
        assert_eq!(
            rels,
            [
                "PA/2/1/00001.dcm",
                "PA/4/1/00001.dcm",
                "PA/1/1/00001.dcm",
                "PA/1/1/00002.dcm",
                "PB/2/4/00001.dcm"
            ]
        );
    }
}
