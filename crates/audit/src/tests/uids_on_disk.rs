//! An export's original UIDs gathered on disk (`uid_spill`, `uid_table`) are searched exactly
//! as the same UIDs gathered in memory, and both as the UID needles they stand for: each UID
//! once, under the label of its lowest rank, none that a kept UID has the bytes of.

use std::collections::BTreeMap;
use std::ops::Range;

use super::uids::{Rng, hay, hits, needles, pixel_labels, values};
use crate::matcher::Mode;
use crate::owners::OwnedNeedle;
use crate::{Auditor, OriginalUids, Rules, ValueKind};

const RULES: Rules = Rules {
    forbid_private: true,
    require_identity_removed: true,
};

/// (label, UID, rank) given, and UIDs kept, for one seed: the seed's UID values (long, short,
/// malformed, one of them under two labels), each given once or twice with ranks, some kept;
/// and many UIDs of one tail.
fn gathered(seed: u64) -> (Vec<(String, String, u64)>, Vec<String>) {
    let mut rng = Rng(seed ^ 0xD15C);
    let vals = values(&mut rng);
    let mut given = Vec::new();
    let mut kept = Vec::new();
    for (label, kind, value) in &vals {
        if *kind != ValueKind::Uid {
            continue;
        }
        given.push((label.clone(), value.clone(), rng.below(5) as u64));
        if rng.below(3) == 0 {
            given.push(("ReferencedSOPInstanceUID".into(), value.clone(), u64::MAX));
        }
        if rng.below(7) == 0 {
            kept.push(value.clone());
        }
    }
    for k in 0..20 {
        given.push((
            "SOPInstanceUID".into(),
            format!("1.2.{k}.1111111111111111"),
            1_000 + k,
        ));
    }
    kept.push("1.2.5.1111111111111111".into());
    kept.push("2.25.99999999999999999999".into());
    (given, kept)
}

/// The pairs the gathered UIDs stand for: each UID not kept once, under its lowest rank's
/// label (then the first by name).
fn expected(given: &[(String, String, u64)], kept: &[String]) -> Vec<(String, String)> {
    let mut best: BTreeMap<&str, (u64, &str)> = BTreeMap::new();
    for (label, uid, rank) in given {
        let e = best.entry(uid.as_str()).or_insert((*rank, label.as_str()));
        if (*rank, label.as_str()) < *e {
            *e = (*rank, label.as_str());
        }
    }
    best.into_iter()
        .filter(|(uid, _)| !kept.iter().any(|k| k == uid))
        .map(|(uid, (_, label))| (label.to_string(), uid.to_string()))
        .collect()
}

fn gather(
    rest: &[OwnedNeedle],
    given: &[(String, String, u64)],
    kept: &[String],
    dir: Option<&std::path::Path>,
    limit: usize,
) -> Auditor {
    let mut uids = OriginalUids::with_limit(dir, limit);
    // Kept UIDs before, among and after the others, as the plan's workers give them.
    let (early, late) = kept.split_at(kept.len() / 2);
    for k in early {
        uids.add_kept(k);
    }
    for (label, uid, rank) in given {
        uids.add(label, uid, *rank);
    }
    for k in late {
        uids.add_kept(k);
    }
    Auditor::owned_builder_with(rest, RULES, uids)
        .build()
        .expect("auditor")
        .with_subject_folders(["PA", "PB", "PC"])
}

#[test]
fn uids_gathered_on_disk_are_searched_as_in_memory_and_as_their_needles() {
    let dir = tempfile::tempdir().expect("dir");
    let mut found = 0;
    for seed in 0..6 {
        let mut rng = Rng(seed ^ 0xF11E);
        let vals = values(&mut rng);
        let rest: Vec<OwnedNeedle> = needles(&vals)
            .into_iter()
            .filter(|n| !(n.needle.kind == ValueKind::Uid && n.owners.is_empty()))
            .collect();
        let (given, kept) = gathered(seed);
        let pairs = expected(&given, &kept);
        let reference = Auditor::owned_with_uids(
            &rest,
            pairs.iter().map(|(l, u)| (l.as_str(), u.as_str())),
            RULES,
        )
        .expect("auditor")
        .with_subject_folders(["PA", "PB", "PC"]);
        let memory = gather(&rest, &given, &kept, Some(dir.path()), usize::MAX);
        // A few hundred bytes a run: many runs, merged.
        let disk = gather(&rest, &given, &kept, Some(dir.path()), 600);
        assert!(!memory.uids_on_disk());
        assert!(disk.uids_on_disk());
        for a in [&memory, &disk] {
            assert_eq!(
                a.searched_values(),
                reference.searched_values(),
                "seed {seed}"
            );
            assert_eq!(a.uids.len(), reference.uids.len(), "seed {seed}");
            assert_eq!(a.longest, reference.longest, "seed {seed}");
            assert_eq!(a.long_alphabet, reference.long_alphabet, "seed {seed}");
        }
        let mut rng = Rng(seed ^ 0x0D15);
        let mut hay_values = vals.clone();
        hay_values.extend(
            given
                .iter()
                .chain(
                    kept.iter()
                        .map(|k| (String::new(), k.clone(), 0))
                        .collect::<Vec<_>>()
                        .iter(),
                )
                .map(|(l, u, _)| (l.clone(), ValueKind::Uid, u.clone())),
        );
        for case in 0..300 {
            let mut h = hay(&mut rng, &hay_values);
            if case % 4 == 0 {
                h.extend(std::iter::repeat_n(b'1', rng.below(40)));
            }
            for mode in [
                Mode::default(),
                Mode {
                    whole_words: true,
                    subject: None,
                },
            ] {
                let want = hits(reference.hits(&h, mode));
                found += want.len();
                assert_eq!(hits(memory.hits(&h, mode)), want, "seed {seed} case {case}");
                assert_eq!(hits(disk.hits(&h, mode)), want, "seed {seed} case {case}");
            }
            let all: &dyn Fn(&Range<usize>) -> bool = &|_| true;
            let want = pixel_labels(&reference, &h, all);
            assert_eq!(
                pixel_labels(&memory, &h, all),
                want,
                "seed {seed} case {case}"
            );
            assert_eq!(
                pixel_labels(&disk, &h, all),
                want,
                "seed {seed} case {case}"
            );
        }
        disk.complete().expect("the table was read whole");
    }
    assert!(found > 1_000, "the cases find things: {found}");
    // Nothing is left in the folder: the runs and the table are unnamed files.
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
}

#[test]
fn a_table_changed_on_disk_makes_the_audit_incomplete() {
    let dir = tempfile::tempdir().expect("dir");
    let (given, kept) = gathered(3);
    let a = gather(&[], &given, &kept, Some(dir.path()), 600);
    assert!(a.uids_on_disk());
    a.complete().expect("nothing read yet");
    let crate::uid_index::Held::Disk(table) = a.uids.held() else {
        panic!("on disk");
    };
    table.change_a_byte();
    // Every UID given, searched: one of them lies in the changed block.
    for (_, uid, _) in &given {
        let _ = a.hits(uid.as_bytes(), Mode::default());
    }
    let err = a.complete().expect_err("incomplete");
    assert!(err.to_string().contains("could not be read"), "{err}");
}
