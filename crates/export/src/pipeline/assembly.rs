//! The package's manifest as the plan knows it (subjects, studies, series and files by package
//! label, counts, regrouping warnings and burned-in series named by package labels only),
//! completed with each file's checksum and size once written.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::ops::Range;

use anon_core::{Key, Profile};
use archive::HashAlgorithm;

use crate::keyfile::key_fingerprint;
use crate::manifest::{self, FileEntry, FileSource, Manifest};
use crate::regroup::{self, RegroupWarning};

use super::error::ExportError;
use super::numbering::package_series_label;
use super::plan::series_sort_key;
use super::plan_store::PlanStore;
use super::summary::BurnedInSeries;

/// A study's series in display order (numeric series labels first by number).
pub(crate) type SeriesBySortKey = BTreeMap<(Vec<u64>, String), manifest::SeriesEntry>;

/// The package labels of a warning's archive groups: each label once, annotated with how many
/// archive groups it stands for when several share it (archive subjects of two projects with
/// one pseudonym), so the list never names the same label twice and never an archive code.
pub(crate) fn package_names(
    level: regroup::GroupLevel,
    groups: &[String],
    label_of: &HashMap<String, String>,
) -> (Vec<String>, Vec<String>) {
    let mut counted: BTreeMap<String, usize> = BTreeMap::new();
    for g in groups {
        let label = label_of
            .get(g)
            .cloned()
            .unwrap_or_else(|| "(left out)".to_string());
        *counted.entry(label).or_insert(0) += 1;
    }
    let what = match level {
        regroup::GroupLevel::Subject => "subjects",
        regroup::GroupLevel::Study => "studies",
        regroup::GroupLevel::Series => "series",
        regroup::GroupLevel::Instance => "instances",
    };
    let shown = counted
        .iter()
        .map(|(label, n)| {
            if *n > 1 {
                format!("{label} ({n} archive {what})")
            } else {
                label.clone()
            }
        })
        .collect();
    (counted.into_keys().collect(), shown)
}

pub(crate) fn base_manifest(
    profile: &Profile,
    key: &Key,
    original: bool,
    plan: &PlanStore,
    warnings: &[RegroupWarning],
    burned_in: &[BurnedInSeries],
    checksum: HashAlgorithm,
) -> Result<Manifest, ExportError> {
    // Archive labels → package labels, for warnings that travel with the package: only the
    // groups the warnings name.
    let named: HashSet<&str> = warnings
        .iter()
        .flat_map(|w| &w.archive_groups)
        .map(String::as_str)
        .collect();
    let mut label_of: HashMap<String, String> = HashMap::new();
    let mut subjects: BTreeMap<String, BTreeMap<u32, SeriesBySortKey>> = BTreeMap::new();
    let mut bytes = 0;
    plan.scan(|batch| -> Result<(), ExportError> {
        for p in batch.iter().filter(|_| !named.is_empty()) {
            let r = &p.record;
            let instance = format!("{}/{}", r.archive_series, r.sop_uid);
            let wanted: [&str; 4] = [&r.subject, &r.archive_study, &r.archive_series, &instance];
            if !wanted.iter().any(|g| named.contains(g)) {
                continue;
            }
            let series_dir = p.series_dir();
            let study_dir = package_series_label(&series_dir);
            for (group, label) in wanted.into_iter().zip([
                p.subject_label.to_string(),
                study_dir,
                series_dir,
                p.rel(),
            ]) {
                if named.contains(group) {
                    label_of.insert(group.to_string(), label);
                }
            }
        }
        for p in batch {
            bytes += p.record.size;
            let study = u32::try_from(p.study).unwrap_or(0);
            subjects
                .entry(p.subject_label.to_string())
                .or_default()
                .entry(study)
                .or_default()
                .entry(series_sort_key(&p.record.series_label))
                .or_insert_with(|| manifest::SeriesEntry {
                    number: p.record.series_label.to_string(),
                    modality: manifest::modality_code(p.record.modality.as_deref().unwrap_or("")),
                    files: Vec::new(),
                });
        }
        Ok(())
    })?;
    let subjects: Vec<manifest::SubjectEntry> = subjects
        .into_iter()
        .map(|(id, studies)| manifest::SubjectEntry {
            id,
            studies: studies
                .into_iter()
                .map(|(number, series)| manifest::StudyEntry {
                    number,
                    series: series.into_values().collect(),
                })
                .collect(),
        })
        .collect();
    let counts = manifest::Counts {
        subjects: subjects.len(),
        studies: subjects.iter().map(|s| s.studies.len()).sum(),
        series: subjects
            .iter()
            .flat_map(|s| &s.studies)
            .map(|st| st.series.len())
            .sum(),
        instances: plan.len(),
        // The archived size until the files are written (a dry run reports this).
        bytes,
        series_left_out: burned_in.iter().filter(|b| !b.included).count(),
    };
    let regrouping_warnings = warnings
        .iter()
        .map(|w| {
            let (groups, shown) = package_names(w.level, &w.archive_groups, &label_of);
            manifest::WarningEntry {
                level: w.level,
                kind: w.kind,
                groups,
                would_become: w.would_become,
                reason: w.rejected.as_ref().map(|r| r.reason.clone()),
                instances: w.rejected.as_ref().map(|r| r.instances),
                message: w.describe(&shown),
            }
        })
        .collect();
    Ok(Manifest {
        format: manifest::FORMAT.to_string(),
        created_by: format!("depot {}", env!("CARGO_PKG_VERSION")),
        level: profile.name().to_string(),
        options: profile
            .options()
            .iter()
            .map(|o| o.name().to_string())
            .collect(),
        profile_digest: profile.digest(),
        key_fingerprint: if original {
            "none".to_string()
        } else {
            key_fingerprint(key)
        },
        blank_identifiers: profile.blanks_identifiers(),
        checksum,
        counts,
        subjects,
        regrouping_warnings,
        burned_in: burned_in
            .iter()
            .map(|b| manifest::BurnedInEntry {
                series: b.package_series.clone(),
                modality: manifest::modality_code(&b.modality),
                reason: b.reason.clone(),
                included: b.included,
            })
            .collect(),
        audit: None,
        findings: Vec::new(),
        release: None,
    })
}

/// The manifest's files, read from the plan as the manifest is written (see
/// [`crate::manifest::FileSource`]): where each series' files are in the plan, in the
/// manifest's order of series, with the checksums and sizes the write phase put in the plan.
/// Held as a list of files, the manifest's entries were 180 bytes of the export's memory per
/// file.
pub(crate) struct PlanFiles<'a> {
    plan: &'a PlanStore,
    /// Each series' files in the plan: runs of plan positions (one, but for a package series
    /// made of several archive series).
    series: Vec<Vec<Range<usize>>>,
    algorithm: HashAlgorithm,
}

impl FileSource for PlanFiles<'_> {
    fn each_file(&self, series: usize, f: &mut dyn FnMut(&FileEntry)) -> io::Result<()> {
        for run in self.series.get(series).into_iter().flatten() {
            self.plan.range(run.start, run.end, |planned| {
                for p in planned {
                    let (checksum, bytes) = p
                        .written
                        .map_or((String::new(), 0), |w| (hex::encode(w.digest), w.bytes));
                    f(&FileEntry {
                        path: p.rel(),
                        checksum: manifest::FileChecksum::new(self.algorithm, checksum),
                        bytes,
                    });
                }
            })?;
        }
        Ok(())
    }
}

/// Where each of the manifest's series has its files in the plan (once written), and the
/// package's size in the manifest's counts.
pub(crate) fn plan_files<'a>(
    manifest: &mut Manifest,
    plan: &'a PlanStore,
) -> Result<PlanFiles<'a>, ExportError> {
    // Each series' number in the manifest's order (series are few).
    let mut number: HashMap<(String, u32, String), usize> = HashMap::new();
    for s in &manifest.subjects {
        for st in &s.studies {
            for se in &st.series {
                let n = number.len();
                number.insert((s.id.clone(), st.number, se.number.clone()), n);
            }
        }
    }
    let mut series: Vec<Vec<Range<usize>>> = vec![Vec::new(); number.len()];
    let mut at = 0;
    let mut total = 0;
    plan.scan(|batch| -> Result<(), ExportError> {
        for p in batch {
            let study = u32::try_from(p.study).unwrap_or(0);
            let key = (
                p.subject_label.to_string(),
                study,
                p.record.series_label.to_string(),
            );
            let &n = number
                .get(&key)
                .expect("the manifest's series are made from the same plan");
            let runs = &mut series[n];
            match runs.last_mut() {
                Some(run) if run.end == at => run.end += 1,
                _ => runs.push(at..at + 1),
            }
            total += p.written.map_or(0, |w| w.bytes);
            at += 1;
        }
        Ok(())
    })?;
    manifest.counts.bytes = total;
    Ok(PlanFiles {
        plan,
        series,
        algorithm: manifest.checksum,
    })
}
