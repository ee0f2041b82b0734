//! The check before anything is written: series whose pixels may carry burned-in text (left
//! out at levels that remove identity unless the caller includes them, listed either way), and
//! how the package would regroup on re-import, compared with the archive's grouping
//! ([`crate::regroup`]).

use std::collections::BTreeMap;

use crate::regroup::{self, RegroupWarning};

use super::plan::Planned;
use super::summary::BurnedInSeries;

/// The plan without the series left out, the regrouping warnings and the burned-in series.
pub(crate) fn check(
    mut plan: Vec<Planned>,
    leave_out_burned_in: bool,
) -> (Vec<Planned>, Vec<RegroupWarning>, Vec<BurnedInSeries>) {
    let mut burned_in: BTreeMap<String, BurnedInSeries> = BTreeMap::new();
    for p in &plan {
        if let Some(reason) = &p.burned_in {
            burned_in
                .entry(p.archive_series.to_string())
                .or_insert_with(|| BurnedInSeries {
                    archive_series: p.archive_series.to_string(),
                    package_series: p.series_dir(),
                    modality: p.record.modality.as_deref().unwrap_or_default().to_string(),
                    reason: reason.clone(),
                    included: !leave_out_burned_in,
                });
        }
    }
    if leave_out_burned_in {
        plan.retain(|p| !burned_in.contains_key(&*p.archive_series));
    }
    let warnings = regroup::check(plan.iter().filter_map(|p| p.placement.as_deref()));
    (plan, warnings, burned_in.into_values().collect())
}
