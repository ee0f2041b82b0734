//! The check before anything is written: series whose pixels may carry burned-in text (left
//! out at levels that remove identity unless the caller includes them, listed either way), and
//! how the package would regroup on re-import, compared with the archive's grouping
//! ([`crate::regroup`]).

use std::collections::{BTreeMap, HashMap};

use crate::regroup::{self, RegroupWarning};

use super::plan::Planned;
use super::summary::BurnedInSeries;

/// The plan without the series left out, the regrouping warnings and the burned-in series.
/// The own Study, Series and SOP Instance UIDs of the files left out go to `original_uids`
/// (when the level remaps UIDs): the plan no longer holds them, and the audit searches them
/// (see [`super::plan::Seen::original_uids`]).
pub(crate) fn check(
    mut plan: Vec<Planned>,
    leave_out_burned_in: bool,
    original_uids: Option<&mut HashMap<String, &'static str>>,
) -> (Vec<Planned>, Vec<RegroupWarning>, Vec<BurnedInSeries>) {
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
    let warnings = regroup::check(plan.iter().filter_map(|p| p.placement.as_deref()));
    (plan, warnings, burned_in.into_values().collect())
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
        let mut uids = HashMap::from([("1.9.1.2.2".to_string(), "ReferencedSOPInstanceUID")]);
        let (kept, warnings, burned_in) = check(plan(), true, Some(&mut uids));
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
        let mut uids = HashMap::new();
        let (kept, _, burned_in) = check(plan(), false, Some(&mut uids));
        assert_eq!(kept.len(), 3);
        assert!(burned_in[0].included);
        assert!(uids.is_empty());
        let (kept, _, _) = check(plan(), true, None);
        assert_eq!(kept.len(), 1);
    }
}
