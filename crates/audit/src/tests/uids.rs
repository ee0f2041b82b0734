//! The index of original UIDs gives exactly what the automata holding them gave: the same hits
//! in the same order (header, text, element values, paths, manifest words), the same labels in
//! pixel data runs (whole or cut by window edges), the same masked paths and the same findings
//! of whole files, in memory and streamed, on deterministic pseudo-random inputs.

use std::collections::BTreeSet;
use std::ops::Range;

use super::*;
use crate::matcher::{Hit, Mode, find_any};
use crate::needle::LONG_NEEDLE;
use crate::owners::OwnedNeedle;
use crate::runs::alphabet_runs;
use crate::source::FileSource;
use crate::{Auditor, Needle, Rules, ValueKind};

/// splitmix64: the same inputs on every run.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn value<'a>(&mut self, values: &'a [(String, ValueKind, String)]) -> &'a str {
        &values[self.below(values.len())].2
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
}

/// UIDs that overlap, nest, share suffixes and prefixes, are short (kept in the automaton),
/// malformed, or shared by two labels; and other values spelled with digits and dots.
pub(super) fn values(rng: &mut Rng) -> Vec<(String, ValueKind, String)> {
    let uid = |label: &str, value: &str| (label.to_string(), ValueKind::Uid, value.to_string());
    let study = "1.2.826.0.1.3680043.8.498.10";
    let mut v = vec![
        uid("StudyInstanceUID", study),
        uid("SeriesInstanceUID", &format!("{study}.1")),
        uid("SOPInstanceUID", "3680043.8.498.10.1"),
        // One the end of the other, and nowhere else in it: both end where it does.
        uid("StudyInstanceUID", "6.1.6.2.6.3.6.4.6.5.6.6"),
        uid("SOPInstanceUID", "1.6.2.6.3.6.4.6.5.6.6"),
        uid("SOPInstanceUID", "1.22.333.4444.55"),
        uid("FrameOfReferenceUID", "1.2.3.4.5.6.7.8.9.10.11"),
        uid("ReferencedSOPInstanceUID", "4.5.6.7.8.9.10.11.12"),
        uid("SOPInstanceUID", "0000000000000000000"),
        uid("StudyInstanceUID", "00000000000000000000000"),
        uid("SOPInstanceUID", "9.9.1.1234567890123456"),
        uid("SeriesInstanceUID", "8.1234567890123456"),
        uid("StudyInstanceUID", "1.2.3.4.5"),
        uid("SOPInstanceUID", "1.2.840.113619.2.55"),
        uid("SOPInstanceUID", "1.2.840.abc.4.5.6.7.8.9"),
        uid("IrradiationEventUID", " 1.2.840.113619.2.55.3.7 \0"),
        // A value of another kind with the bytes of a UID, under a UID's label and another.
        (
            "SOPInstanceUID".into(),
            ValueKind::Identifier,
            "1.2.840.113619.2.55".into(),
        ),
        (
            "OtherPatientIDs".into(),
            ValueKind::Identifier,
            study.into(),
        ),
        (
            "AccessionNumber".into(),
            ValueKind::Identifier,
            "3680043".into(),
        ),
        ("StudyID".into(), ValueKind::Identifier, "498".into()),
        (
            "PatientBirthDate".into(),
            ValueKind::Date,
            "19650312".into(),
        ),
        (
            "PatientID".into(),
            ValueKind::Identifier,
            "MRN9053855".into(),
        ),
    ];
    // The same UID under two labels.
    let shared = format!("2.25.{}", rng.digits(30));
    v.push(uid("SOPInstanceUID", &shared));
    v.push(uid("AcquisitionUID", &shared));
    for _ in 0..24 {
        let len = 1 + rng.below(40);
        let value = format!("{}.{}", rng.below(3), rng.digits(len));
        v.push(uid(
            rng.pick(&["SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID"]),
            &value,
        ));
    }
    v
}

pub(super) fn needles(values: &[(String, ValueKind, String)]) -> Vec<OwnedNeedle> {
    let mut out: Vec<OwnedNeedle> = values
        .iter()
        .map(|(label, kind, value)| {
            OwnedNeedle::new(
                Needle::new(label.as_str(), *kind, value.as_str()),
                Vec::new(),
            )
        })
        .collect();
    out.push(OwnedNeedle::new(
        Needle::new("PatientName", ValueKind::PersonName, "DOE^JOHNATHAN"),
        vec!["PA".into()],
    ));
    out.push(OwnedNeedle::new(
        Needle::new("PatientName", ValueKind::PersonName, "ROE^AL"),
        vec!["PB".into()],
    ));
    out
}

/// A haystack of pieces: whole and cut values, digits, dots, separators, letters, binary.
pub(super) fn hay(rng: &mut Rng, values: &[(String, ValueKind, String)]) -> Vec<u8> {
    let mut h = Vec::new();
    for _ in 0..1 + rng.below(14) {
        let value = rng.value(values).trim().trim_end_matches('\0').as_bytes();
        match rng.below(11) {
            0..=2 => h.extend_from_slice(value),
            3 => h.extend_from_slice(&value[rng.below(value.len())..]),
            4 => h.extend_from_slice(&value[..rng.below(value.len() + 1)]),
            5 => {
                let n = 1 + rng.below(20);
                h.extend_from_slice(rng.digits(n).as_bytes());
            }
            6 => h.extend_from_slice(rng.pick::<&[u8]>(&[b".", b"..", b".0", b"1."])),
            7 => h.extend_from_slice(rng.pick::<&[u8]>(&[b" ", b"\\", b"\0", b"^", b"/", b"_"])),
            8 => {
                h.extend_from_slice(rng.pick::<&[u8]>(&[b"doe", b"JOHNATHAN", b"roe", b"Al", b"x"]))
            }
            9 => {
                let n = rng.below(6);
                h.extend((0..n).map(|_| rng.next() as u8));
            }
            _ => {
                // A value glued to itself, or to another through a dot.
                h.extend_from_slice(value);
                if rng.below(2) == 0 {
                    h.push(b'.');
                }
                h.extend_from_slice(rng.value(values).as_bytes());
            }
        }
    }
    h
}

pub(super) fn hits(h: Vec<Hit<'_>>) -> Vec<(String, Range<usize>, bool, String)> {
    h.into_iter()
        .map(|h| {
            (
                h.label.to_string(),
                h.range,
                h.confirm,
                format!("{:?}", h.spelled),
            )
        })
        .collect()
}

/// The labels the pixel data search finds in `hay`, counting only matches `keep` keeps.
pub(super) fn pixel_labels(
    a: &Auditor,
    hay: &[u8],
    keep: &dyn Fn(&Range<usize>) -> bool,
) -> BTreeSet<String> {
    let mut labels = BTreeSet::new();
    for run in alphabet_runs(hay, &a.long_alphabet, LONG_NEEDLE) {
        find_any(
            a.long.as_ref(),
            &a.long_patterns,
            &a.uids,
            hay,
            run,
            keep,
            &mut labels,
        );
    }
    labels
}

fn pair(seed: u64) -> (Vec<(String, ValueKind, String)>, Auditor, Auditor) {
    let mut rng = Rng(seed);
    let values = values(&mut rng);
    let needles = needles(&values);
    let rules = Rules {
        forbid_private: true,
        require_identity_removed: true,
    };
    let indexed = Auditor::owned(&needles, rules)
        .expect("auditor")
        .with_subject_folders(["PA", "PB", "PC"]);
    let automata = Auditor::owned_in_automata(&needles, rules)
        .expect("auditor")
        .with_subject_folders(["PA", "PB", "PC"]);
    assert!(automata.uids.is_empty());
    assert!(indexed.uids.len() >= 20, "most UIDs are in the index");
    assert_eq!(indexed.searched_values(), automata.searched_values());
    assert_eq!(indexed.longest, automata.longest);
    assert_eq!(indexed.long_alphabet, automata.long_alphabet);
    (values, indexed, automata)
}

#[test]
fn hits_are_those_of_the_automata_in_their_order() {
    let mut found = 0;
    for seed in 0..8 {
        let (values, indexed, automata) = pair(seed);
        let mut rng = Rng(seed ^ 0xABCD);
        for case in 0..400 {
            let h = hay(&mut rng, &values);
            for mode in [
                Mode::default(),
                Mode {
                    whole_words: true,
                    subject: None,
                },
                Mode {
                    whole_words: false,
                    subject: Some(1),
                },
            ] {
                let want = hits(automata.hits(&h, mode));
                found += want.len();
                assert_eq!(
                    hits(indexed.hits(&h, mode)),
                    want,
                    "seed {seed} case {case}"
                );
            }
        }
    }
    assert!(found > 10_000, "the cases find things: {found}");
}

#[test]
fn pixel_runs_give_the_labels_of_the_automata() {
    let mut with_uid = 0;
    for seed in 0..8 {
        let (values, indexed, automata) = pair(seed);
        let mut rng = Rng(seed ^ 0x5EED);
        for case in 0..400 {
            // Pixel data: values among binary bytes, cut by window edges as streaming cuts them.
            let mut h: Vec<u8> = (0..rng.below(12)).map(|_| rng.next() as u8).collect();
            h.extend(hay(&mut rng, &values));
            h.extend((0..rng.below(12)).map(|_| rng.next() as u8));
            let (skip, cut) = (rng.below(12), rng.below(12));
            let len = h.len();
            let all: &dyn Fn(&Range<usize>) -> bool = &|_| true;
            let edges: &dyn Fn(&Range<usize>) -> bool =
                &|r: &Range<usize>| r.start >= skip && r.end + cut < len;
            for keep in [all, edges] {
                let want = pixel_labels(&automata, &h, keep);
                assert_eq!(
                    pixel_labels(&indexed, &h, keep),
                    want,
                    "seed {seed} case {case}"
                );
                if want.iter().any(|l| l.ends_with("UID")) {
                    with_uid += 1;
                }
            }
        }
    }
    assert!(with_uid > 1000, "the cases hold UIDs: {with_uid}");
}

#[test]
fn paths_are_masked_as_the_automata_masked_them() {
    for seed in 0..4 {
        let (values, indexed, automata) = pair(seed);
        let mut rng = Rng(seed ^ 0xFA7);
        for _ in 0..400 {
            let h = hay(&mut rng, &values);
            let path = String::from_utf8_lossy(&h).into_owned();
            let path = format!("{}/{path}/x.dcm", rng.pick(&["PA", "PB", "other"]));
            assert_eq!(
                indexed.mask_path(&path),
                automata.mask_path(&path),
                "{path:?}"
            );
            assert_eq!(indexed.scan_path(&path), automata.scan_path(&path));
        }
    }
}

/// An implicit VR little endian element.
fn implicit(group: u16, element: u16, value: &[u8]) -> Vec<u8> {
    let mut e = Vec::new();
    e.extend_from_slice(&group.to_le_bytes());
    e.extend_from_slice(&element.to_le_bytes());
    e.extend_from_slice(&(value.len() as u32).to_le_bytes());
    e.extend_from_slice(value);
    e
}

fn even(mut v: Vec<u8>) -> Vec<u8> {
    if v.len() % 2 == 1 {
        v.push(0);
    }
    v
}

/// DICOM files (explicit and implicit VR, big endian, deflated; UIDs in UI values, text,
/// nested sequences, private elements and pixel data), text files and manifests.
fn files(rng: &mut Rng, values: &[(String, ValueKind, String)]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let folder = rng.pick(&["PA", "PB", "PC", "x"]);
    let ui = even(hay(rng, values));
    let text = even(hay(rng, values));
    let pixels = even(hay(rng, values));
    let mut body = short(0x0008, 0x0018, b"UI", &ui);
    body.extend(short(0x0008, 0x1030, b"LO", &text));
    body.extend(sequence(
        0x0008,
        0x1115,
        &short(0x0008, 0x1155, b"UI", &even(hay(rng, values))),
    ));
    let mut private = short(0x0029, 0x0010, b"LO", b"ACME");
    private.extend(long(0x0029, 0x1010, b"OB", &even(hay(rng, values))));
    body.extend(private);
    body.extend(short(0x0012, 0x0062, b"CS", b"YES"));
    let mut with_pixels = body.clone();
    with_pixels.extend(pixel_data(&pixels));
    with_pixels.extend(long(0xFFFC, 0xFFFC, b"OB", &even(hay(rng, values))));
    out.push((
        format!("{folder}/e.dcm"),
        with_meta(EXPLICIT_LE, &with_pixels),
    ));
    out.push((
        format!("{folder}/d.dcm"),
        with_meta(DEFLATED, &deflate(&with_pixels)),
    ));
    let mut imp = implicit(0x0008, 0x0018, &ui);
    imp.extend(implicit(0x0020, 0x4000, &text));
    imp.extend(implicit(0x7FE0, 0x0010, &pixels));
    out.push((
        format!("{folder}/i.dcm"),
        with_meta("1.2.840.10008.1.2", &imp),
    ));
    let mut be = super::byte_order::be_short(0x0008, 0x0018, b"UI", &ui);
    be.extend(super::byte_order::be_short(0x0020, 0x4000, b"LT", &text));
    be.extend_from_slice(&[0x7F, 0xE0, 0x00, 0x10, b'O', b'W', 0, 0]);
    be.extend_from_slice(&(pixels.len() as u32).to_be_bytes());
    be.extend_from_slice(&pixels);
    out.push((format!("{folder}/b.dcm"), with_meta(EXPLICIT_BE, &be)));
    out.push((format!("{folder}/notes.txt"), hay(rng, values)));
    let mut manifest = br#"{"format": "depot-package/1", "note": ""#.to_vec();
    manifest.extend(hay(rng, values));
    manifest.extend_from_slice(b"\"}");
    out.push(("manifest.json".into(), manifest));
    out
}

#[test]
fn files_have_the_findings_they_had_in_memory_and_streamed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut uid_findings = 0;
    for seed in 0..6 {
        let (values, indexed, automata) = pair(seed);
        let mut rng = Rng(seed ^ 0xF11E);
        for case in 0..25 {
            for (rel, bytes) in files(&mut rng, &values) {
                let want = automata.scan_file(&rel, &bytes);
                assert_eq!(
                    indexed.scan_file(&rel, &bytes),
                    want,
                    "{rel} seed {seed} case {case}"
                );
                uid_findings += want
                    .iter()
                    .filter(|f| matches!(f, Finding::Value { what, .. } if what.ends_with("UID")))
                    .count();
                if case % 5 != 0 || rel == "manifest.json" {
                    continue;
                }
                let path = dir.path().join("f");
                std::fs::write(&path, &bytes).expect("write");
                for chunk in [1, 7, 64] {
                    let stream = |a: &Auditor| {
                        let mut src = FileSource {
                            path: path.clone(),
                            start: 0,
                            len: bytes.len() as u64,
                        };
                        a.scan_source(&rel, &mut src, bytes.len() as u64, chunk)
                            .expect("stream")
                    };
                    assert_eq!(stream(&indexed), stream(&automata), "{rel} chunk {chunk}");
                }
            }
        }
    }
    assert!(uid_findings > 500, "the files hold UIDs: {uid_findings}");
}

#[test]
fn uids_of_one_tail_past_what_the_index_holds_are_found_as_the_automata_found_them() {
    use crate::uid_index::SAME_TAIL;
    // A crafted archive: a hundred UIDs of one tail, and other UIDs.
    let mut values: Vec<(String, ValueKind, String)> = (0..100)
        .map(|k| {
            (
                "SOPInstanceUID".to_string(),
                ValueKind::Uid,
                format!("1.2.{k}.1111111111111111"),
            )
        })
        .collect();
    values.push((
        "StudyInstanceUID".into(),
        ValueKind::Uid,
        "1.2.826.0.1.3680043.8.498.10".into(),
    ));
    let needles = needles(&values);
    let rules = Rules {
        forbid_private: true,
        require_identity_removed: true,
    };
    let indexed = Auditor::owned(&needles, rules).expect("auditor");
    let automata = Auditor::owned_in_automata(&needles, rules).expect("auditor");
    assert_eq!(
        indexed.uids.len(),
        SAME_TAIL + 1,
        "the rest stay in the automaton"
    );
    assert_eq!(indexed.searched_values(), automata.searched_values());
    let mut rng = Rng(0x7A11);
    let mut found = 0;
    for case in 0..300 {
        let mut h = hay(&mut rng, &values);
        if case % 3 == 0 {
            h.extend(std::iter::repeat_n(b'1', rng.below(40)));
        }
        let want = hits(automata.hits(&h, Mode::default()));
        found += want.len();
        assert_eq!(hits(indexed.hits(&h, Mode::default())), want, "case {case}");
        let all: &dyn Fn(&Range<usize>) -> bool = &|_| true;
        assert_eq!(
            pixel_labels(&indexed, &h, all),
            pixel_labels(&automata, &h, all),
            "case {case}"
        );
    }
    assert!(found > 100, "the cases find things: {found}");
}

#[test]
fn uids_handed_over_one_by_one_are_searched_as_uid_needles_are() {
    let rules = Rules {
        forbid_private: true,
        require_identity_removed: true,
    };
    let mut found = 0;
    for seed in 0..4 {
        let mut rng = Rng(seed ^ 0x51DE);
        let values = values(&mut rng);
        let all = needles(&values);
        // The UID needles apart, as (label, value) pairs; the rest as needles.
        let (uids, rest): (Vec<OwnedNeedle>, Vec<OwnedNeedle>) = all
            .iter()
            .cloned()
            .partition(|n| n.needle.kind == ValueKind::Uid && n.owners.is_empty());
        assert!(uids.len() >= 20, "seed {seed}: {} UIDs", uids.len());
        let pairs: Vec<(&str, &str)> = uids
            .iter()
            .map(|n| (n.needle.label.as_str(), n.needle.value.as_str()))
            .collect();
        let whole = Auditor::owned(&all, rules).expect("auditor");
        let apart = Auditor::owned_with_uids(&rest, pairs, rules).expect("auditor");
        assert_eq!(apart.searched_values(), whole.searched_values());
        assert_eq!(apart.uids.len(), whole.uids.len());
        assert_eq!(apart.longest, whole.longest);
        for case in 0..200 {
            let h = hay(&mut rng, &values);
            let want = hits(whole.hits(&h, Mode::default()));
            found += want.len();
            assert_eq!(
                hits(apart.hits(&h, Mode::default())),
                want,
                "seed {seed} case {case}"
            );
        }
    }
    assert!(found > 100, "the cases find things: {found}");
}
