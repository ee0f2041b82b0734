//! The regrouping check: would the exported headers, imported again with the archive's own
//! grouping rules, give back the same subjects, studies and series?
//!
//! A de-identification level can silently destroy the keys data is grouped by: NiDB's full
//! anonymization writes the same PatientID into every file, and `--blank-identifiers` empties
//! it. Nothing in NiDB warns about that; a research group finds out when a re-imported dataset
//! has one subject where there were thirty. This module compares, for every exported instance,
//! its place in the archive (archive codes and numbers) with the key it would be grouped by on
//! re-import, and reports merges (several archive groups become one) and splits (one archive
//! group becomes several), level by level, naming the archive groups involved.
//!
//! A header that lost a UID the import requires (a profile that empties SeriesInstanceUID, say)
//! does not regroup at all: the import would reject it. Such instances are left out of the
//! comparison and reported as a kind of their own, with the reason, never as a merge.
//!
//! It is pure: the caller computes the would-be keys (by de-identifying the headers with the
//! real engine and applying the archive's real grouping rules) and passes them in.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The grouping level a warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupLevel {
    /// Subjects (patients), grouped by PatientID and issuer.
    Subject,
    /// Studies, grouped by StudyInstanceUID.
    Study,
    /// Series, grouped by SeriesInstanceUID.
    Series,
    /// Instances, identified by SOPInstanceUID.
    Instance,
}

impl GroupLevel {
    fn plural(self) -> &'static str {
        match self {
            GroupLevel::Subject => "subjects",
            GroupLevel::Study => "studies",
            GroupLevel::Series => "series",
            GroupLevel::Instance => "instances",
        }
    }
}

/// What would happen to a set of archive groups on re-import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegroupKind {
    /// Several archive groups would become one.
    Merge,
    /// One archive group would become several.
    Split,
    /// Instances the import would reject (a required UID is missing or invalid).
    Rejected,
}

/// One regrouping problem: a connected set of archive groups and the number of groups they
/// would turn into on re-import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegroupWarning {
    /// Subject, study, series or instance level.
    pub level: GroupLevel,
    /// Merge or split.
    pub kind: RegroupKind,
    /// The archive groups involved, by their archive labels (e.g. `S1234ABC`, `S1234ABC/2`,
    /// `S1234ABC/2/5`), sorted.
    pub archive_groups: Vec<String>,
    /// How many groups they would become on re-import (0 for rejected instances).
    pub would_become: usize,
    /// For [`RegroupKind::Rejected`]: why, and how many instances; `archive_groups` then names
    /// the series they belong to.
    pub rejected: Option<Rejection>,
}

/// Instances the import would reject, for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// Why, naming the attribute and never its value (e.g. `no SeriesInstanceUID`).
    pub reason: String,
    /// How many exported instances.
    pub instances: usize,
}

impl RegroupWarning {
    /// The warning with the groups named by `names` instead of the archive labels (the
    /// manifest names them by package labels). The counts always come from the archive groups.
    pub fn describe(&self, names: &[String]) -> String {
        let n = self.archive_groups.len();
        let names = abbreviated(names, 8);
        match (self.kind, &self.rejected) {
            (RegroupKind::Rejected, Some(r)) => format!(
                "{} {} would be rejected on re-import: {} (series {names})",
                r.instances,
                if r.instances == 1 {
                    "instance"
                } else {
                    "instances"
                },
                r.reason
            ),
            (RegroupKind::Merge, _) => format!(
                "{n} {} would merge into {} on re-import: {names}",
                self.level.plural(),
                self.would_become
            ),
            (RegroupKind::Split | RegroupKind::Rejected, _) => format!(
                "{} {} would split into {} on re-import: {names}",
                n,
                if n == 1 {
                    singular(self.level)
                } else {
                    self.level.plural()
                },
                self.would_become
            ),
        }
    }
}

impl fmt::Display for RegroupWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(&self.archive_groups))
    }
}

fn singular(level: GroupLevel) -> &'static str {
    match level {
        GroupLevel::Subject => "subject",
        GroupLevel::Study => "study",
        GroupLevel::Series => "series",
        GroupLevel::Instance => "instance",
    }
}

fn abbreviated(names: &[String], max: usize) -> String {
    if names.len() <= max {
        names.join(", ")
    } else {
        format!(
            "{}, … and {} more",
            names[..max].join(", "),
            names.len() - max
        )
    }
}

/// Where one exported instance sits in the archive, and the keys it would be grouped by if the
/// package were imported again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Archive label of the subject (its archive code).
    pub archive_subject: Arc<str>,
    /// Archive label of the study (`code/study number`).
    pub archive_study: Arc<str>,
    /// Archive label of the series (`code/study number/series number`).
    pub archive_series: Arc<str>,
    /// The instance's SOP Instance UID in the archive: its archive label is
    /// `archive_series/sop_uid` ([`Placement::archive_instance`]), made only when a warning
    /// names it (one per file held from the plan to the check was a hundred bytes a file).
    /// The archive holds each SOP Instance UID once, so every placement is an instance of
    /// its own.
    pub sop_uid: Arc<str>,
    /// The subject key the exported header would produce on import.
    pub subject_key: Arc<str>,
    /// The StudyInstanceUID of the exported header.
    pub study_key: Arc<str>,
    /// The SeriesInstanceUID of the exported header.
    pub series_key: Arc<str>,
    /// The SOPInstanceUID of the exported header.
    pub instance_key: Arc<str>,
    /// Why the import would reject the exported header (value-free), if it would; the keys
    /// are then meaningless and ignored.
    pub unimportable: Option<String>,
}

impl Placement {
    /// Archive label of the instance: `archive_series/sop_uid`.
    pub fn archive_instance(&self) -> String {
        format!("{}/{}", self.archive_series, self.sop_uid)
    }
}

/// Compares archive grouping with re-import grouping at every level and returns the merges and
/// splits, subjects first, then the instances the import would reject. An empty result means
/// the package regroups exactly as archived.
pub fn check<'a>(placements: impl IntoIterator<Item = &'a Placement>) -> Vec<RegroupWarning> {
    let (rejected, placements): (Vec<&Placement>, Vec<&Placement>) = placements
        .into_iter()
        .partition(|p| p.unimportable.is_some());
    let pairs = |pick: fn(&Placement) -> (&str, &str)| placements.iter().map(move |p| pick(p));
    let grouping = Grouping {
        subjects: pairs(|p| (&p.archive_subject, &p.subject_key)),
        studies: pairs(|p| (&p.archive_study, &p.study_key)),
        series: pairs(|p| (&p.archive_series, &p.series_key)),
        instances: placements
            .iter()
            .map(|p| (&*p.archive_series, &*p.sop_uid, &*p.instance_key)),
        rejected: rejected.iter().map(|p| {
            (
                p.unimportable.as_deref().unwrap_or_default(),
                &*p.archive_series,
            )
        }),
    };
    check_grouping(grouping)
}

/// What [`check_grouping`] compares: at the subject, study and series levels, (archive group,
/// re-import key) pairs of the importable instances, each pair as often as wanted (a series'
/// files give the same pairs, so a caller may give each once); the importable instances as
/// (archive series, SOP Instance UID, re-import key), keys of any type that tells them apart;
/// and the instances the import would reject as (reason, archive series).
pub struct Grouping<S, I, R> {
    /// (archive subject, subject key) pairs.
    pub subjects: S,
    /// (archive study, StudyInstanceUID) pairs.
    pub studies: S,
    /// (archive series, SeriesInstanceUID) pairs.
    pub series: S,
    /// (archive series, SOP Instance UID, re-import key) of every importable instance.
    pub instances: I,
    /// (reason, archive series) of every instance the import would reject.
    pub rejected: R,
}

/// [`check`] of a [`Grouping`]: its result, without a [`Placement`] per instance.
pub fn check_grouping<'a, K, S, I, R>(grouping: Grouping<S, I, R>) -> Vec<RegroupWarning>
where
    K: Copy + Eq + Hash + Ord,
    S: Iterator<Item = (&'a str, &'a str)> + Clone,
    I: Iterator<Item = (&'a str, &'a str, K)> + Clone,
    R: Iterator<Item = (&'a str, &'a str)>,
{
    let mut out = Vec::new();
    for (level, pairs) in [
        (GroupLevel::Subject, grouping.subjects),
        (GroupLevel::Study, grouping.studies),
        (GroupLevel::Series, grouping.series),
    ] {
        out.extend(compare_level(level, pairs));
    }
    // Instances: told apart by series and SOP Instance UID, the pair standing for its label
    // `series/sop` (the same label for the same pair, as a UID has no `/`). Each instance is
    // usually one of its own with a key of its own, which is one to one: found by sorting the
    // pairs' 64-bit hashes, then the keys (8 and 16 bytes an instance, one list at a time; a
    // hash shared by two pairs only sends the check to the exact comparison below). The
    // labels are made only when it is not.
    let instances = grouping.instances;
    let no_slash = instances.clone().all(|(_, sop, _)| !sop.contains('/'));
    let one_each = no_slash
        && all_distinct(
            instances
                .clone()
                .map(|(series, sop, _)| pair_hash(series, sop))
                .collect(),
        )
        && all_distinct(instances.clone().map(|(_, _, key)| key).collect());
    if !one_each {
        let labels: Vec<String> = instances
            .clone()
            .map(|(series, sop, _)| format!("{series}/{sop}"))
            .collect();
        let pairs = labels
            .iter()
            .map(String::as_str)
            .zip(instances.map(|(_, _, key)| key));
        out.extend(compare_level(GroupLevel::Instance, pairs));
    }
    let mut by_reason: BTreeMap<&str, (usize, BTreeSet<&str>)> = BTreeMap::new();
    for (reason, series) in grouping.rejected {
        let entry = by_reason.entry(reason).or_default();
        entry.0 += 1;
        entry.1.insert(series);
    }
    for (reason, (instances, series)) in by_reason {
        out.push(RegroupWarning {
            level: GroupLevel::Instance,
            kind: RegroupKind::Rejected,
            archive_groups: series.iter().map(|s| s.to_string()).collect(),
            would_become: 0,
            rejected: Some(Rejection {
                reason: reason.to_string(),
                instances,
            }),
        });
    }
    out
}

/// Whether no two of `values` are equal.
pub(crate) fn all_distinct<T: Ord>(mut values: Vec<T>) -> bool {
    values.sort_unstable();
    values.windows(2).all(|w| w[0] != w[1])
}

/// A 64-bit hash of an instance's series and SOP Instance UID (equal pairs, equal hashes).
pub(crate) fn pair_hash(series: &str, sop: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
        .hash_one((series, sop))
}

/// Whether every archive group has exactly one re-import key and every key one archive group:
/// the usual case, found without building the graph (one small map entry per group instead of
/// two sets, which at the instance level means per file).
fn one_to_one<A: Copy + Eq + Hash, K: Copy + Eq + Hash>(
    pairs: impl Iterator<Item = (A, K)>,
) -> bool {
    let mut key_of: HashMap<A, K> = HashMap::new();
    let mut archive_of: HashMap<K, A> = HashMap::new();
    for (archive, key) in pairs {
        if *key_of.entry(archive).or_insert(key) != key
            || *archive_of.entry(key).or_insert(archive) != archive
        {
            return false;
        }
    }
    true
}

/// Finds the connected components of the bipartite graph archive group ↔ re-import key and
/// reports every component that is not one-to-one.
fn compare_level<'a, K: Copy + Eq + Hash + Ord>(
    level: GroupLevel,
    pairs: impl Iterator<Item = (&'a str, K)> + Clone,
) -> Vec<RegroupWarning> {
    if one_to_one(pairs.clone()) {
        return Vec::new();
    }
    components(level, pairs)
}

/// The components of the bipartite graph archive group ↔ re-import key that are not
/// one-to-one, as warnings.
fn components<'a, K: Copy + Eq + Hash + Ord>(
    level: GroupLevel,
    pairs: impl Iterator<Item = (&'a str, K)>,
) -> Vec<RegroupWarning> {
    let mut by_archive: BTreeMap<&str, BTreeSet<K>> = BTreeMap::new();
    let mut by_key: BTreeMap<K, BTreeSet<&str>> = BTreeMap::new();
    for (archive, key) in pairs {
        by_archive.entry(archive).or_default().insert(key);
        by_key.entry(key).or_default().insert(archive);
    }
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut out = Vec::new();
    for &start in by_archive.keys() {
        if seen.contains(start) {
            continue;
        }
        // Walk the component containing `start`.
        let mut archives: BTreeSet<&str> = BTreeSet::new();
        let mut keys: BTreeSet<K> = BTreeSet::new();
        let mut stack = vec![start];
        while let Some(a) = stack.pop() {
            if !archives.insert(a) {
                continue;
            }
            seen.insert(a);
            for &k in by_archive.get(a).into_iter().flatten() {
                if keys.insert(k) {
                    stack.extend(by_key.get(&k).into_iter().flatten().copied());
                }
            }
        }
        if archives.len() == 1 && keys.len() == 1 {
            continue;
        }
        let kind = if archives.len() > keys.len() {
            RegroupKind::Merge
        } else {
            RegroupKind::Split
        };
        out.push(RegroupWarning {
            level,
            kind,
            archive_groups: archives.iter().map(|s| s.to_string()).collect(),
            would_become: keys.len(),
            rejected: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(subject: &str, study: &str, series: &str, inst: &str, keys: [&str; 4]) -> Placement {
        Placement {
            archive_subject: subject.into(),
            archive_study: format!("{subject}/{study}").into(),
            archive_series: format!("{subject}/{study}/{series}").into(),
            sop_uid: inst.into(),
            subject_key: keys[0].into(),
            study_key: keys[1].into(),
            series_key: keys[2].into(),
            instance_key: keys[3].into(),
            unimportable: None,
        }
    }

    #[test]
    fn identical_grouping_gives_no_warning() {
        let p = vec![
            place("S1", "1", "1", "1", ["P1", "st1", "se1", "i1"]),
            place("S1", "1", "1", "2", ["P1", "st1", "se1", "i2"]),
            place("S2", "1", "1", "1", ["P2", "st2", "se2", "i3"]),
        ];
        assert!(check(&p).is_empty());
    }

    #[test]
    fn blank_patient_ids_merge_subjects() {
        let p = vec![
            place("S1", "1", "1", "1", ["", "st1", "se1", "i1"]),
            place("S2", "1", "1", "1", ["", "st2", "se2", "i2"]),
            place("S3", "1", "1", "1", ["", "st3", "se3", "i3"]),
            place("S4", "1", "1", "1", ["P4", "st4", "se4", "i4"]),
        ];
        let w = check(&p);
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(w[0].level, GroupLevel::Subject);
        assert_eq!(w[0].kind, RegroupKind::Merge);
        assert_eq!(w[0].archive_groups, vec!["S1", "S2", "S3"]);
        assert_eq!(w[0].would_become, 1);
        assert_eq!(
            w[0].to_string(),
            "3 subjects would merge into 1 on re-import: S1, S2, S3"
        );
    }

    #[test]
    fn a_subject_keyed_per_study_splits() {
        let p = vec![
            place("S1", "1", "1", "1", ["blank:st1", "st1", "se1", "i1"]),
            place("S1", "2", "1", "1", ["blank:st2", "st2", "se2", "i2"]),
        ];
        let w = check(&p);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].kind, RegroupKind::Split);
        assert_eq!(w[0].would_become, 2);
        assert_eq!(
            w[0].to_string(),
            "1 subject would split into 2 on re-import: S1"
        );
    }

    #[test]
    fn series_merge_is_reported_at_series_level_only() {
        let p = vec![
            place("S1", "1", "3", "1", ["P1", "st1", "same", "i1"]),
            place("S1", "1", "3.1", "1", ["P1", "st1", "same", "i2"]),
        ];
        let w = check(&p);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].level, GroupLevel::Series);
        assert_eq!(w[0].archive_groups, vec!["S1/1/3", "S1/1/3.1"]);
    }

    #[test]
    fn unimportable_instances_are_rejections_not_merges() {
        let mut a = place("S1", "1", "1", "1", ["x", "x", "x", "x1"]);
        let mut b = place("S2", "1", "1", "1", ["x", "x", "x", "x2"]);
        a.unimportable = Some("no SeriesInstanceUID".into());
        b.unimportable = Some("no SeriesInstanceUID".into());
        let ok = place("S3", "1", "1", "1", ["P3", "st3", "se3", "i3"]);
        let w = check(&[a, b, ok]);
        assert_eq!(w.len(), 1, "{w:?}");
        assert_eq!(w[0].kind, RegroupKind::Rejected);
        assert_eq!(w[0].archive_groups, vec!["S1/1/1", "S2/1/1"]);
        assert_eq!(
            w[0].to_string(),
            "2 instances would be rejected on re-import: no SeriesInstanceUID (series S1/1/1, S2/1/1)"
        );
    }

    #[test]
    fn described_with_other_names_keeps_the_archive_counts() {
        let p = vec![
            place("S1", "1", "1", "1", ["P", "st1", "se1", "i1"]),
            place("S2", "1", "1", "1", ["P", "st2", "se2", "i2"]),
        ];
        let w = check(&p);
        assert_eq!(
            w[0].describe(&["PX (2 archive subjects)".to_string()]),
            "2 subjects would merge into 1 on re-import: PX (2 archive subjects)"
        );
    }

    #[test]
    fn the_one_to_one_shortcut_agrees_with_the_graph() {
        // Pseudo-random pairings of a few archive groups and keys: the shortcut says
        // "one-to-one" exactly when the graph has no component to warn about.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let names: Vec<String> = (0..6).map(|i| format!("g{i}")).collect();
        let mut seen = [0usize; 2];
        for _ in 0..2000 {
            let len = next(8) as usize;
            let pairs: Vec<(&str, &str)> = (0..len)
                .map(|_| {
                    (
                        names[next(4) as usize].as_str(),
                        names[next(4) as usize + 2].as_str(),
                    )
                })
                .collect();
            let shortcut = one_to_one(pairs.iter().copied());
            let graph = components(GroupLevel::Series, pairs.iter().copied()).is_empty();
            assert_eq!(shortcut, graph, "{pairs:?}");
            seen[usize::from(shortcut)] += 1;
        }
        assert!(
            seen[0] > 100 && seen[1] > 100,
            "both outcomes occur: {seen:?}"
        );
    }

    #[test]
    fn instances_sharing_a_key_merge_under_their_series_and_sop_labels() {
        let p = vec![
            place("S1", "1", "1", "1.2.9", ["P1", "st1", "se1", "i1"]),
            place("S1", "1", "1", "1.2.10", ["P1", "st1", "se1", "i1"]),
            place("S1", "1", "1", "1.2.11", ["P1", "st1", "se1", "i2"]),
            place("S1", "1", "1.5", "1.2.12", ["P1", "st1", "se1", "i3"]),
            place("S1", "1", "1.5", "1.2.13", ["P1", "st1", "se1", "i3"]),
        ];
        let w = check(&p);
        let instance: Vec<&RegroupWarning> = w
            .iter()
            .filter(|w| w.level == GroupLevel::Instance)
            .collect();
        // Labels sort as text (`S1/1/1.5/...` before `S1/1/1/...`, '.' before '/').
        assert_eq!(instance.len(), 2, "{w:?}");
        assert_eq!(
            instance[0].archive_groups,
            ["S1/1/1.5/1.2.12", "S1/1/1.5/1.2.13"]
        );
        assert_eq!(
            instance[1].archive_groups,
            ["S1/1/1/1.2.10", "S1/1/1/1.2.9"]
        );
        assert!(
            instance
                .iter()
                .all(|w| w.kind == RegroupKind::Merge && w.would_become == 1)
        );
        // Each instance its own key: no instance warning, whatever the labels.
        let distinct: Vec<Placement> = p
            .iter()
            .enumerate()
            .map(|(i, pl)| Placement {
                instance_key: format!("k{i}").into(),
                ..pl.clone()
            })
            .collect();
        assert!(
            check(&distinct)
                .iter()
                .all(|w| w.level != GroupLevel::Instance)
        );
        // One instance given twice (its pair's hash twice: the exact comparison decides) is
        // one instance of one key.
        let twice = vec![p[0].clone(), p[0].clone(), p[2].clone()];
        assert!(check(&twice).is_empty(), "{:?}", check(&twice));
        assert!(all_distinct(vec![3, 1, 2]) && !all_distinct(vec![3, 1, 3]));
        // A SOP Instance UID with a '/' (never valid; the labels then decide): two instances
        // whose labels are the same text are one archive group, as the text says.
        let odd = vec![
            place("S1", "1", "1/2", "3", ["P1", "st1", "se1", "i1"]),
            place("S1", "1", "1", "2/3", ["P1", "st1", "se1", "i2"]),
        ];
        let w = check(&odd);
        assert!(
            w.iter().any(|w| w.level == GroupLevel::Instance
                && w.kind == RegroupKind::Split
                && w.archive_groups == ["S1/1/1/2/3"]),
            "{w:?}"
        );
    }

    #[test]
    fn long_lists_are_abbreviated() {
        let p: Vec<Placement> = (0..12)
            .map(|i| {
                place(
                    &format!("S{i:02}"),
                    "1",
                    "1",
                    "1",
                    ["", "st", "se", &format!("i{i}")],
                )
            })
            .collect();
        let text = check(&p)
            .iter()
            .find(|w| w.level == GroupLevel::Subject)
            .map(|w| w.to_string())
            .unwrap_or_default();
        assert!(text.starts_with("12 subjects would merge into 1"), "{text}");
        assert!(text.ends_with("and 4 more"), "{text}");
    }
}
