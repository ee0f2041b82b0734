//! The check before anything is written: series whose pixels may carry burned-in text (left
//! out at levels that remove identity unless the caller includes them, listed either way), and
//! how the package would regroup on re-import, compared with the archive's grouping
//! ([`crate::regroup`]).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use crate::regroup::{self, Grouping, RegroupWarning};

use super::error::ExportError;
use super::plan::{RANK_LEFT_OUT, Seen, SeriesKeys};
use super::plan_store::PlanStore;
use super::planned::Regroup;
use super::summary::BurnedInSeries;
use crate::distinct::{DISTINCT_IN_MEMORY, Distinct};

/// Leaves out of the plan the series left out, and returns the regrouping warnings (of the
/// keys the plan saw, `seen.series_keys`) and the burned-in series. When `uids_left_out`, the
/// own Study, Series and SOP Instance UIDs of the files left out go to `seen.uids`: the plan
/// no longer holds them, and the audit searches them (see [`Seen::uids`]).
pub(crate) fn check(
    plan: &mut PlanStore,
    leave_out_burned_in: bool,
    seen: &mut Seen,
    uids_left_out: bool,
    tmp: Option<&Path>,
) -> Result<(Vec<RegroupWarning>, Vec<BurnedInSeries>), ExportError> {
    let mut burned_in: BTreeMap<String, BurnedInSeries> = BTreeMap::new();
    plan.scan(|batch| -> Result<(), ExportError> {
        for p in batch {
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
        Ok(())
    })?;
    if leave_out_burned_in && !burned_in.is_empty() {
        let mut uids_of_left_out = uids_left_out.then_some(&mut seen.uids);
        plan.rewrite(|batch| -> Result<(), ExportError> {
            batch.retain(|p| {
                let keep = !burned_in.contains_key(&*p.record.archive_series);
                if let (false, Some(uids)) = (keep, uids_of_left_out.as_deref_mut()) {
                    let r = &p.record;
                    for (label, uid) in [
                        ("StudyInstanceUID", &r.study_uid),
                        ("SeriesInstanceUID", &r.series_uid),
                        ("SOPInstanceUID", &r.sop_uid),
                    ] {
                        uids.add(label, uid, RANK_LEFT_OUT);
                    }
                }
                keep
            });
            Ok(())
        })?;
    }
    let warnings = regroup_warnings(plan, &seen.series_keys, &burned_in, tmp)?;
    Ok((warnings, burned_in.into_values().collect()))
}

/// The regrouping check of the files kept: their series' keys (the series left out are not
/// compared) and each file's instance key. The instances are first told apart by hashes (8 and
/// 16 bytes a file, one list at a time); their labels are read from the plan only when two
/// share a hash (see [`regroup::check_grouping`]).
fn regroup_warnings(
    plan: &PlanStore,
    series_keys: &HashMap<Arc<str>, SeriesKeys>,
    left_out: &BTreeMap<String, BurnedInSeries>,
    tmp: Option<&Path>,
) -> Result<Vec<RegroupWarning>, ExportError> {
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
    // The files the import would reject, counted by reason and series; and whether the
    // importable ones are one of their own each (the usual case), told by their hashes (on
    // disk past a limit, see `distinct`).
    let mut rejected: BTreeMap<(Box<str>, Arc<str>), usize> = BTreeMap::new();
    let mut no_slash = true;
    let mut pair_hashes: Distinct<8> = Distinct::new(tmp, DISTINCT_IN_MEMORY);
    plan.scan(|batch| -> Result<(), ExportError> {
        for p in batch {
            match &p.regroup {
                Regroup::Key(_) => {
                    let r = &p.record;
                    no_slash &= !r.sop_uid.contains('/');
                    pair_hashes
                        .push(regroup::pair_hash(&r.archive_series, &r.sop_uid).to_le_bytes())
                        .map_err(ExportError::PlanFile)?;
                }
                Regroup::Rejected(reason) => {
                    *rejected
                        .entry((reason.clone(), Arc::clone(&p.record.archive_series)))
                        .or_default() += 1;
                }
                Regroup::Unknown => {}
            }
        }
        Ok(())
    })?;
    let mut one_each = no_slash && pair_hashes.all_distinct().map_err(ExportError::PlanFile)?;
    if one_each {
        let mut keys: Distinct<16> = Distinct::new(tmp, DISTINCT_IN_MEMORY);
        plan.scan(|batch| -> Result<(), ExportError> {
            for p in batch {
                if let Regroup::Key(key) = p.regroup {
                    keys.push(key).map_err(ExportError::PlanFile)?;
                }
            }
            Ok(())
        })?;
        one_each = keys.all_distinct().map_err(ExportError::PlanFile)?;
    }
    // Otherwise every importable file's labels and key, for the exact comparison.
    let mut instances: Vec<(Arc<str>, Arc<str>, [u8; 16])> = Vec::new();
    if !one_each {
        plan.scan(|batch| -> Result<(), ExportError> {
            instances.extend(batch.iter().filter_map(|p| match p.regroup {
                Regroup::Key(key) => Some((
                    Arc::clone(&p.record.archive_series),
                    Arc::clone(&p.record.sop_uid),
                    key,
                )),
                _ => None,
            }));
            Ok(())
        })?;
    }
    Ok(regroup::check_grouping(Grouping {
        subjects: subjects.iter().copied(),
        studies: studies.iter().copied(),
        series: series.iter().copied(),
        instances: instances.iter().map(|(s, sop, key)| (&**s, &**sop, *key)),
        rejected: rejected
            .iter()
            .flat_map(|((reason, s), n)| std::iter::repeat_n((&**reason, &**s), *n)),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::plan::RANK_OTHER;
    use crate::pipeline::planned::Planned;
    use audit::{Auditor, Finding, OriginalUids, Rules};

    /// Which of `candidates` the audit searches, given `uids`, and under which label.
    fn searched(uids: OriginalUids, candidates: &[String]) -> Vec<(String, String)> {
        let a = Auditor::owned_builder_with(&[], Rules::default(), uids)
            .build()
            .unwrap();
        let mut out = Vec::new();
        for c in candidates {
            for f in a.scan_path(c) {
                if let Finding::Value { what, .. } = f {
                    out.push((c.clone(), what));
                }
            }
        }
        out
    }

    /// Every UID of `plan`'s records, and one more.
    fn candidates(plan: &[Planned]) -> Vec<String> {
        let mut all: Vec<String> = plan
            .iter()
            .flat_map(|p| {
                let r = &p.record;
                [&r.study_uid, &r.series_uid, &r.sop_uid].map(|u| u.to_string())
            })
            .collect();
        all.push("1.9.1.2.2.7".into());
        all.sort();
        all.dedup();
        all
    }

    /// [`check`] of a plan in memory: the files kept, the warnings, the burned-in series.
    fn run(
        plan: Vec<Planned>,
        leave_out_burned_in: bool,
        seen: &mut Seen,
        uids_left_out: bool,
    ) -> (Vec<Planned>, Vec<RegroupWarning>, Vec<BurnedInSeries>) {
        let mut store = PlanStore::in_memory(plan);
        let (warnings, burned_in) =
            check(&mut store, leave_out_burned_in, seen, uids_left_out, None).unwrap();
        (store.into_vec().unwrap(), warnings, burned_in)
    }

    /// [`run`], with the plan on disk, two files per batch; checked to give what [`run`] gives.
    fn run_both(
        plan: impl Fn() -> Vec<Planned>,
        leave_out_burned_in: bool,
        seen: impl Fn() -> Seen,
        uids_left_out: bool,
    ) -> (Vec<Planned>, Vec<RegroupWarning>, Vec<BurnedInSeries>) {
        let mut in_memory = seen();
        let out = run(plan(), leave_out_burned_in, &mut in_memory, uids_left_out);
        let dir = tempfile::tempdir().unwrap();
        let mut b = crate::pipeline::plan_store::SpillBuilder::with_batch(dir.path(), 2).unwrap();
        for p in plan() {
            b.push(p).unwrap();
        }
        let mut store = b.finish(|_, _| std::cmp::Ordering::Equal).unwrap();
        let mut on_disk = seen();
        let (warnings, burned_in) = check(
            &mut store,
            leave_out_burned_in,
            &mut on_disk,
            uids_left_out,
            Some(dir.path()),
        )
        .unwrap();
        let kept = store.into_vec().unwrap();
        let sops = |plan: &[Planned]| -> Vec<String> {
            plan.iter().map(|p| p.record.sop_uid.to_string()).collect()
        };
        assert_eq!(sops(&kept), sops(&out.0));
        assert_eq!(format!("{warnings:?}"), format!("{:?}", out.1));
        assert_eq!(format!("{burned_in:?}"), format!("{:?}", out.2));
        let all = candidates(&plan());
        assert_eq!(searched(in_memory.uids, &all), searched(on_disk.uids, &all));
        out
    }

    #[test]
    fn a_plan_on_disk_is_checked_as_one_in_memory() {
        let keyed = |n: usize| {
            let mut plan: Vec<Planned> = (0..n)
                .map(|i| Planned::for_test("S1", 1, &format!("{}", i % 3), &format!("1.9.{i}")))
                .collect();
            plan.sort_by(|a, b| a.record.series_label.cmp(&b.record.series_label));
            plan
        };
        let seen = || Seen::default();
        // One of its own each, then two sharing a key, then rejections and burned-in series.
        run_both(|| keyed(9), false, seen, true);
        let shared = || {
            let mut plan = keyed(9);
            plan[1].regroup = Regroup::Key([7; 16]);
            plan[7].regroup = Regroup::Key([7; 16]);
            plan[4].regroup = Regroup::Rejected("no SOPInstanceUID".into());
            plan[5].regroup = Regroup::Rejected("no SeriesInstanceUID".into());
            plan[8].regroup = Regroup::Rejected("no SOPInstanceUID".into());
            plan[3].burned_in = Some("US".into());
            plan
        };
        let kinds = |w: &[RegroupWarning]| -> Vec<regroup::RegroupKind> {
            w.iter().map(|w| w.kind).collect()
        };
        let (_, warnings, _) = run_both(shared, false, seen, true);
        assert!(
            kinds(&warnings).contains(&regroup::RegroupKind::Merge),
            "{warnings:?}"
        );
        assert!(
            kinds(&warnings).contains(&regroup::RegroupKind::Rejected),
            "{warnings:?}"
        );
        let (kept, _, burned_in) = run_both(shared, true, seen, true);
        assert_eq!(kept.len(), 6);
        assert_eq!(burned_in.len(), 1);
    }

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
        let seen_with_a_reference = || {
            let mut seen = Seen::default();
            seen.uids
                .add("ReferencedSOPInstanceUID", "1.9.1.2.2", RANK_OTHER);
            seen
        };
        let mut seen = seen_with_a_reference();
        let (kept, warnings, burned_in) = run(plan(), true, &mut seen, true);
        assert_eq!(kept.len(), 1);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(burned_in.len(), 1);
        assert!(!burned_in[0].included);
        // The series left out: its study (shared with the file kept: still searched, as the
        // audit searches every UID the level changed), series and SOP Instance UIDs, under
        // their own labels, which rank before a reference's.
        let all = candidates(&plan());
        assert_eq!(
            searched(seen.uids, &all),
            [
                ("1.9.1", "StudyInstanceUID"),
                ("1.9.1.2", "SeriesInstanceUID"),
                ("1.9.1.2.1", "SOPInstanceUID"),
                ("1.9.1.2.2", "SOPInstanceUID"),
            ]
            .map(|(u, l)| (u.to_string(), l.to_string()))
        );
        // Included, or at a level that keeps the UIDs: nothing is added.
        let mut seen = Seen::default();
        let (kept, _, burned_in) = run(plan(), false, &mut seen, true);
        assert_eq!(kept.len(), 3);
        assert!(burned_in[0].included);
        assert!(searched(seen.uids, &all).is_empty());
        let mut seen = Seen::default();
        let (kept, _, _) = run(plan(), true, &mut seen, false);
        assert_eq!(kept.len(), 1);
        assert!(searched(seen.uids, &all).is_empty());
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
        let (_, warnings, _) = run(plan(), false, &mut seen, false);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(warnings[0].level, regroup::GroupLevel::Series);
        assert_eq!(warnings[0].archive_groups, ["S1/1/1", "S1/1/2"]);
        let (_, warnings, _) = run(plan(), true, &mut seen_with("K1"), false);
        assert!(warnings.is_empty(), "{warnings:?}");
        // Two files of one instance key merge, named by archive labels; a file the import
        // would reject is counted with its reason.
        let mut two = plan();
        two[2].regroup = Regroup::Key([7; 16]);
        two[1].regroup = Regroup::Key([7; 16]);
        two[0].regroup = Regroup::Rejected("no SOPInstanceUID".into());
        let (_, warnings, _) = run(two, false, &mut seen_with("K2"), false);
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
