//! The check before anything is written: series whose pixels may carry burned-in text (left
//! out at levels that remove identity unless the caller includes them, listed either way), and
//! how the package would regroup on re-import, compared with the archive's grouping
//! ([`crate::regroup`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::regroup::{self, Grouping, RegroupWarning};

use super::plan::{Planned, Regroup, Seen, SeriesKeys};
use super::summary::BurnedInSeries;

/// The plan without the series left out, the regrouping warnings (of the keys the plan saw,
/// `seen.series_keys`) and the burned-in series. When `uids_left_out`, the own Study, Series
/// and SOP Instance UIDs of the files left out go to `seen.original_uids`: the plan no longer
/// holds them, and the audit searches them (see [`Seen::original_uids`]).
pub(crate) fn check(
    mut plan: Vec<Planned>,
    leave_out_burned_in: bool,
    seen: &mut Seen,
    uids_left_out: bool,
) -> (Vec<Planned>, Vec<RegroupWarning>, Vec<BurnedInSeries>) {
    let original_uids = uids_left_out.then_some(&mut seen.original_uids);
    let mut burned_in: BTreeMap<String, BurnedInSeries> = BTreeMap::new();
    for p in &plan {
        if let Some(reason) = &p.burned_in {
            burned_in
                .entry(p.record.archive_series.to_string())
                .or_insert_with(|| BurnedInSeries {
                    archive_series: p.record.archive_series.to_string(),
                    package_series: p.series_dir(),
                    modality: p.record.modality.as_deref().unwrap_or_default().to_string(),
                    reason: reason.to_string(),
                    included: !leave_out_burned_in,
                });
        }
    }
    if leave_out_burned_in {
        let mut original_uids = original_uids;
        plan.retain(|p| {
            let keep = !burned_in.contains_key(&*p.record.archive_series);
            if let (false, Some(uids)) = (keep, original_uids.as_deref_mut()) {
                let r = &p.record;
                for (label, uid) in [
                    ("StudyInstanceUID", &r.study_uid),
                    ("SeriesInstanceUID", &r.series_uid),
                    ("SOPInstanceUID", &r.sop_uid),
                ] {
                    uids.entry(uid.to_string()).or_insert(label);
                }
            }
            keep
        });
    }
    let warnings = regroup_warnings(&plan, &seen.series_keys, &burned_in);
    (plan, warnings, burned_in.into_values().collect())
}

/// The regrouping check of the files kept: their series' keys (the series left out are not
/// compared) and each file's instance key.
fn regroup_warnings(
    plan: &[Planned],
    series_keys: &HashMap<Arc<str>, SeriesKeys>,
    left_out: &BTreeMap<String, BurnedInSeries>,
) -> Vec<RegroupWarning> {
    let kept: Vec<(&str, &SeriesKeys)> = series_keys
        .iter()
        .filter(|(series, _)| left_out.get(&***series).is_none_or(|b| b.included))
        .map(|(series, keys)| (&**series, keys))
        .collect();
    // (archive group, key) at level `i` (subject, study, series): a few per series.
    let pairs = |i: usize| -> Vec<(&str, &str)> {
        kept.iter()
            .flat_map(|(series, k)| {
                let group: &str = match i {
                    0 => &k.archive_subject,
                    1 => &k.archive_study,
                    _ => series,
                };
                k.keys.iter().map(move |keys| (group, &*keys[i]))
            })
            .collect()
    };
    let (subjects, studies, series) = (pairs(0), pairs(1), pairs(2));
    regroup::check_grouping(Grouping {
        subjects: subjects.iter().copied(),
        studies: studies.iter().copied(),
        series: series.iter().copied(),
        instances: plan.iter().filter_map(|p| match p.regroup {
            Regroup::Key(key) => Some((&*p.record.archive_series, &*p.record.sop_uid, key)),
            _ => None,
        }),
        rejected: plan.iter().filter_map(|p| match &p.regroup {
            Regroup::Rejected(reason) => Some((&**reason, &*p.record.archive_series)),
            _ => None,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Vec<Planned> {
        let mut plan = vec![
            Planned::for_test("S1", 1, "1", "1.9.1.1.1"),
            Planned::for_test("S1", 1, "2", "1.9.1.2.1"),
            Planned::for_test("S1", 1, "2", "1.9.1.2.2"),
        ];
        for p in &mut plan[1..] {
            p.burned_in = Some("US without BurnedInAnnotation".into());
        }
        plan
    }

    #[test]
    fn the_files_left_out_hand_their_own_uids_to_the_audit() {
        let mut seen = Seen {
            original_uids: HashMap::from([("1.9.1.2.2".to_string(), "ReferencedSOPInstanceUID")]),
            ..Seen::default()
        };
        let (kept, warnings, burned_in) = check(plan(), true, &mut seen, true);
        let uids = seen.original_uids;
        assert_eq!(kept.len(), 1);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(burned_in.len(), 1);
        assert!(!burned_in[0].included);
        // The series left out: its study (shared with the file kept: still searched, as the
        // audit searches every UID the level changed), series and SOP Instance UIDs, under
        // the label first seen.
        let mut got: Vec<(&str, &str)> = uids.iter().map(|(u, l)| (u.as_str(), *l)).collect();
        got.sort_unstable();
        assert_eq!(
            got,
            [
                ("1.9.1", "StudyInstanceUID"),
                ("1.9.1.2", "SeriesInstanceUID"),
                ("1.9.1.2.1", "SOPInstanceUID"),
                ("1.9.1.2.2", "ReferencedSOPInstanceUID"),
            ]
        );
        // Included, or at a level that keeps the UIDs: nothing is added.
        let mut seen = Seen::default();
        let (kept, _, burned_in) = check(plan(), false, &mut seen, true);
        assert_eq!(kept.len(), 3);
        assert!(burned_in[0].included);
        assert!(seen.original_uids.is_empty());
        let (kept, _, _) = check(plan(), true, &mut seen, false);
        assert_eq!(kept.len(), 1);
        assert!(seen.original_uids.is_empty());
    }

    #[test]
    fn the_regrouping_is_of_the_files_kept_by_series_keys_and_instance_keys() {
        let keys = |study: &str, series: &str| -> [Arc<str>; 3] {
            ["P1".into(), study.into(), series.into()]
        };
        let seen_with = |second_series_key: &str| {
            let mut seen = Seen::default();
            for (series, key) in [("S1/1/1", "K1"), ("S1/1/2", second_series_key)] {
                seen.series_keys.insert(
                    series.into(),
                    SeriesKeys {
                        archive_subject: "S1".into(),
                        archive_study: "S1/1".into(),
                        keys: vec![keys("ST1", key)],
                    },
                );
            }
            seen
        };
        // Both series would become one: a merge, unless the burned-in one is left out.
        let mut seen = seen_with("K1");
        let (_, warnings, _) = check(plan(), false, &mut seen, false);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].level, regroup::GroupLevel::Series);
        assert_eq!(warnings[0].archive_groups, ["S1/1/1", "S1/1/2"]);
        let (_, warnings, _) = check(plan(), true, &mut seen_with("K1"), false);
        assert!(warnings.is_empty(), "{warnings:?}");
        // Two files of one instance key merge, named by archive labels; a file the import
        // would reject is counted with its reason.
        let mut two = plan();
        two[2].regroup = Regroup::Key([7; 16]);
        two[1].regroup = Regroup::Key([7; 16]);
        two[0].regroup = Regroup::Rejected("no SOPInstanceUID".into());
        let (_, warnings, _) = check(two, false, &mut seen_with("K2"), false);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert_eq!(warnings[0].level, regroup::GroupLevel::Instance);
        assert_eq!(
            warnings[0].archive_groups,
            ["S1/1/2/1.9.1.2.1", "S1/1/2/1.9.1.2.2"]
        );
        assert_eq!(warnings[1].kind, regroup::RegroupKind::Rejected);
        assert_eq!(warnings[1].archive_groups, ["S1/1/1"]);
        assert_eq!(warnings[1].rejected.as_ref().map(|r| r.instances), Some(1));
    }
}
