//! The original UIDs the audit searches for, held compactly.
//!
//! An export remapping UIDs searches every original UID of its files: about 45,000 for 40,000
//! files, and as many more as the package has files. In an Aho-Corasick automaton (and the
//! table of spellings that builds it) each costs over a kilobyte; here it costs its bytes and
//! about 20 more: the bytes of every UID in one arena, each UID's label as an index into a
//! small table of interned labels, and an open-addressing hash table keyed by a fingerprint of
//! each UID's last [`WIDTH`] bytes.
//!
//! The search is exact and finds every occurrence, overlapping ones included: a UID is made
//! of UID characters (digits and dots) only, so where it occurs it ends a run of at least its
//! length of such characters, and its last [`WIDTH`] bytes are the last [`WIDTH`] bytes of the
//! run so far. The search looks at the runs of at least [`WIDTH`] UID characters only
//! ([`alphabet_runs`], which skips most other bytes), fingerprints the last [`WIDTH`] bytes at
//! every position of such a run, and compares each candidate's bytes in full with those
//! ending there. Digits and dots have no case, so the comparison is of bytes. Boundary rules
//! are the caller's (see `matcher`).
//!
//! An export's index may lie on disk instead (`uid_table`, built by `uid_builder` from runs
//! written as its UIDs were gathered): the same entries, probed by the same fingerprint of
//! their last [`WIDTH`] bytes, found in the same order.
//!
//! Only UIDs of at least [`WIDTH`] bytes made of UID characters alone are held here
//! ([`UidIndexBuilder::accepts`](crate::uid_builder::UidIndexBuilder::accepts)), and at most [`SAME_TAIL`] distinct ones of the same last
//! [`WIDTH`] bytes (every UID of a tail is compared wherever the tail occurs, so many of one
//! tail, `1.2.<n>.1111111111111111` in a crafted archive, would make a search of a run of
//! `1`s cost their number at every byte); a shorter, malformed or further one stays in the
//! automaton, which finds it as it did before the index existed.

use std::ops::Range;
use std::sync::OnceLock;

use crate::runs::alphabet_runs;
use crate::uid_table::UidTable;

/// The bytes at the end of a UID that key the hash table: a UID shorter than this is not held.
/// Real UIDs are 20 to 64 bytes; runs of 16 digits and dots that are no UID (a DT value with
/// fractions, a long number) are few in headers.
pub(crate) const WIDTH: usize = 16;

/// The most distinct UIDs of one tail (last [`WIDTH`] bytes) the index holds.
pub(crate) const SAME_TAIL: usize = 8;

/// The bytes a UID is made of.
const UID_ALPHABET: [bool; 256] = {
    let mut a = [false; 256];
    let mut b = b'0';
    while b <= b'9' {
        a[b as usize] = true;
        b += 1;
    }
    a[b'.' as usize] = true;
    a
};

/// Whether `b` is a byte a UID is made of: an ASCII digit or a dot.
pub(crate) fn is_uid_byte(b: u8) -> bool {
    UID_ALPHABET[usize::from(b)]
}

/// One occurrence of an indexed UID in a haystack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UidMatch {
    /// Where it lies.
    pub(crate) range: Range<usize>,
    /// Which UID (see [`UidIndex::label`]): of two matches of one range (one UID under two
    /// labels), the lower is the one of the first label by name.
    pub(crate) id: u32,
}

/// UIDs with their labels, searched exactly; the same UID under two labels is two entries.
/// Its `Debug` shows how many it holds, never a UID.
#[derive(Default)]
pub(crate) struct UidIndex {
    held: Held,
    /// The distinct labels, sorted.
    labels: Vec<Box<str>>,
    /// The secret of [`slot_of`], drawn for each index: tails made to share a slot (UIDs of a
    /// crafted archive whose every probe would walk them all) cannot be made without it.
    key: [u64; 2],
    /// Why the table on disk could not be read, if it could not: the search then found
    /// nothing more, and the audit is not complete (see [`UidIndex::failure`]).
    failure: OnceLock<String>,
}

/// Where the entries lie.
pub(crate) enum Held {
    Memory(InMemory),
    /// On disk: an entry's id is its label's place in the sorted labels.
    Disk(Box<UidTable>),
}

impl Default for Held {
    fn default() -> Held {
        Held::Memory(InMemory::default())
    }
}

/// The entries in memory, sorted by their bytes, then by label (an entry's id is its place).
#[derive(Default)]
pub(crate) struct InMemory {
    /// Every entry's bytes (the builder's, as they were given: never copied, so that an index
    /// being built does not hold its UIDs twice).
    arena: Vec<u8>,
    /// Where each entry's bytes start in `arena`.
    starts: Vec<u32>,
    /// How many bytes each entry has (a UID the index holds is at most 255 bytes).
    lens: Vec<u8>,
    /// Each entry's label, an index into the sorted labels.
    label_of: Vec<u16>,
    /// Open addressing by the fingerprint of an entry's last [`WIDTH`] bytes, linear probing:
    /// entry index + 1, 0 for an empty slot. Its length is a power of two, at least twice the
    /// number of entries.
    slots: Vec<u32>,
}

impl InMemory {
    /// The entries `held` (start in `arena`, length, label), sorted by bytes and label.
    pub(crate) fn new(mut arena: Vec<u8>, held: &[(u32, u32, u16)], key: [u64; 2]) -> InMemory {
        // The builder refused what would not fit: a start past 32 bits, a UID past 255 bytes.
        let mut index = InMemory {
            starts: held.iter().map(|e| e.0).collect(),
            lens: held
                .iter()
                .map(|e| u8::try_from(e.1).unwrap_or(u8::MAX))
                .collect(),
            label_of: held.iter().map(|e| e.2).collect(),
            slots: vec![0; (held.len() * 2).next_power_of_two()],
            arena: Vec::new(),
        };
        arena.shrink_to_fit();
        index.arena = arena;
        let mask = index.slots.len() - 1;
        for id in 0..index.starts.len() {
            let bytes = index.bytes(id);
            let mut slot = slot_of(key, &bytes[bytes.len() - WIDTH..]) as usize & mask;
            while index.slots[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            // At most twice as many slots as entries, and entries fit 32 bits.
            index.slots[slot] = u32::try_from(id + 1).unwrap_or(u32::MAX);
        }
        index
    }

    /// The bytes of entry `id`.
    fn bytes(&self, id: usize) -> &[u8] {
        let start = self.starts[id] as usize;
        &self.arena[start..start + usize::from(self.lens[id])]
    }
}

/// A secret for [`slot_of`], from the standard library's per-process random hash keys.
pub(crate) fn random_key() -> [u64; 2] {
    use std::hash::{BuildHasher, Hasher};
    let keys = std::collections::hash_map::RandomState::new();
    [1u8, 2].map(|n| {
        let mut h = keys.build_hasher();
        h.write_u8(n);
        h.finish()
    })
}

/// The fingerprint of the UIDs whose last [`WIDTH`] bytes are `tail`, where their probe
/// starts: a folded multiplication of the two halves, each mixed with the index's secret
/// `key`, which spreads the few values digits and dots take.
pub(crate) fn slot_of(key: [u64; 2], tail: &[u8]) -> u64 {
    let half = |r: Range<usize>| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&tail[r]);
        u64::from_le_bytes(b)
    };
    let (lo, hi) = (half(0..8), half(8..16));
    let m = u128::from(lo ^ key[0]) * u128::from(hi ^ key[1]);
    // In memory, only the low bits index the table.
    (m as u64) ^ ((m >> 64) as u64)
}

impl std::fmt::Debug for UidIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("UidIndex");
        d.field("uids", &self.len());
        match &self.held {
            Held::Memory(m) => d.field("bytes", &m.arena.len()),
            Held::Disk(t) => d.field("table", t),
        };
        d.field("labels", &self.labels).finish()
    }
}

impl UidIndex {
    /// The index of `held`, whose labels are `labels` (sorted), probed under `key`.
    pub(crate) fn new(held: Held, labels: Vec<Box<str>>, key: [u64; 2]) -> UidIndex {
        UidIndex {
            held,
            labels,
            key,
            failure: OnceLock::new(),
        }
    }

    /// How many (UID, label) entries are held.
    pub(crate) fn len(&self) -> usize {
        match &self.held {
            Held::Memory(m) => m.starts.len(),
            Held::Disk(t) => t.len(),
        }
    }

    /// Whether no UID is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the entries lie on disk.
    pub(crate) fn on_disk(&self) -> bool {
        matches!(self.held, Held::Disk(_))
    }

    /// Why the table on disk could not be read during a search, if it could not: every
    /// search since found nothing more, so the audit is incomplete and must not be believed.
    pub(crate) fn failure(&self) -> Option<&str> {
        self.failure.get().map(String::as_str)
    }

    /// Where the entries lie.
    #[cfg(test)]
    pub(crate) fn held(&self) -> &Held {
        &self.held
    }

    /// The bytes of entry `id` (in memory).
    #[cfg(test)]
    pub(crate) fn bytes(&self, id: usize) -> &[u8] {
        match &self.held {
            Held::Memory(m) => m.bytes(id),
            Held::Disk(_) => panic!("the entries are on disk"),
        }
    }

    /// The label of entry `id`.
    pub(crate) fn label(&self, id: u32) -> &str {
        let label = match &self.held {
            Held::Memory(m) => m.label_of[id as usize],
            Held::Disk(_) => u16::try_from(id).unwrap_or(u16::MAX),
        };
        &self.labels[usize::from(label)]
    }

    /// The longest UID held, in bytes (0 when none is).
    pub(crate) fn longest(&self) -> usize {
        match &self.held {
            Held::Memory(m) => (0..m.starts.len())
                .map(|id| m.bytes(id).len())
                .max()
                .unwrap_or(0),
            Held::Disk(t) => t.longest(),
        }
    }

    /// Marks in `alphabet` every byte a held UID uses.
    pub(crate) fn add_alphabet(&self, alphabet: &mut [bool; 256]) {
        match &self.held {
            Held::Memory(m) => {
                for id in 0..m.starts.len() {
                    for b in m.bytes(id) {
                        alphabet[usize::from(*b)] = true;
                    }
                }
            }
            Held::Disk(t) => t.add_alphabet(alphabet),
        }
    }

    /// Calls `f` with the bytes and id of every entry whose last [`WIDTH`] bytes may be
    /// `tail` (those of the same fingerprint).
    fn candidates(&self, tail: &[u8], mut f: impl FnMut(&[u8], u32)) {
        let fp = slot_of(self.key, tail);
        match &self.held {
            Held::Memory(m) => {
                let mask = m.slots.len() - 1;
                let mut slot = fp as usize & mask;
                while let Some(id) = m.slots[slot].checked_sub(1) {
                    f(m.bytes(id as usize), id);
                    slot = (slot + 1) & mask;
                }
            }
            Held::Disk(t) => {
                if let Err(e) = t.probe(fp, |bytes, label| f(bytes, u32::from(label))) {
                    let _ = self.failure.set(e.to_string());
                }
            }
        }
    }

    /// Every occurrence of every held UID in `hay`, overlapping ones included, in the order an
    /// Aho-Corasick automaton reports overlapping matches: by where they end, then longest
    /// first, then by entry. Found as they are taken, as the automaton finds its own: pixel
    /// data that repeats a UID (`1.1.1.1...`) holds one at nearly every byte, which the
    /// search must not gather all at once.
    pub(crate) fn find_all<'a>(&'a self, hay: &'a [u8]) -> impl Iterator<Item = UidMatch> + 'a {
        let runs = if self.is_empty() {
            Vec::new()
        } else {
            alphabet_runs(hay, &UID_ALPHABET, WIDTH)
        };
        runs.into_iter()
            .flat_map(|run| {
                let start = run.start;
                (start + WIDTH..=run.end).map(move |end| (start, end))
            })
            .flat_map(move |(start, end)| self.ending_at(hay, start, end))
    }

    /// The occurrences of held UIDs that end at `end` in a run of UID characters that starts
    /// at `start` (at least [`WIDTH`] before `end`), in the order of [`UidIndex::find_all`].
    fn ending_at(&self, hay: &[u8], start: usize, end: usize) -> Vec<UidMatch> {
        let mut here = Vec::new();
        self.candidates(&hay[end - WIDTH..end], |uid, id| {
            if uid.len() <= end - start
                && uid[uid.len() - WIDTH..] == hay[end - WIDTH..end]
                && uid[..uid.len() - WIDTH] == hay[end - uid.len()..end - WIDTH]
            {
                here.push(UidMatch {
                    range: end - uid.len()..end,
                    id,
                });
            }
        });
        here.sort_unstable_by_key(|m| (m.range.start, m.id));
        here
    }

    /// The occurrences of held UIDs in `hay` that are neither preceded nor followed by a digit
    /// or a dot: a whole run of UID characters each, so one probe per run finds them. These
    /// are the only occurrences a UID's boundary rule (`Boundary::Uid`) lets count, in the
    /// order of [`UidIndex::find_all`].
    pub(crate) fn find_bounded(&self, hay: &[u8]) -> Vec<UidMatch> {
        let mut out = Vec::new();
        if self.is_empty() {
            return out;
        }
        for run in alphabet_runs(hay, &UID_ALPHABET, WIDTH) {
            let here = out.len();
            self.candidates(&hay[run.end - WIDTH..run.end], |uid, id| {
                if uid == &hay[run.clone()] {
                    out.push(UidMatch {
                        range: run.clone(),
                        id,
                    });
                }
            });
            out[here..].sort_unstable_by_key(|m| m.id);
        }
        out
    }

    /// How many slots a probe for `tail` looks at, the empty one that ends it included.
    #[cfg(test)]
    pub(crate) fn probe_len(&self, tail: &[u8]) -> usize {
        let Held::Memory(m) = &self.held else {
            return 0;
        };
        let mask = m.slots.len() - 1;
        let mut slot = slot_of(self.key, tail) as usize & mask;
        let mut n = 1;
        while m.slots[slot] != 0 {
            slot = (slot + 1) & mask;
            n += 1;
        }
        n
    }

    /// How many slots the index in memory has.
    #[cfg(test)]
    pub(crate) fn slots(&self) -> usize {
        match &self.held {
            Held::Memory(m) => m.slots.len(),
            Held::Disk(_) => 0,
        }
    }

    /// The heap bytes the index holds.
    #[cfg(test)]
    pub(crate) fn heap_bytes(&self) -> usize {
        let Held::Memory(m) = &self.held else {
            return 0;
        };
        m.arena.capacity()
            + m.starts.capacity() * 4
            + m.lens.capacity()
            + m.label_of.capacity() * 2
            + m.slots.capacity() * 4
            + self
                .labels
                .iter()
                .map(|l| l.len() + size_of::<Box<str>>())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uid_builder::UidIndexBuilder;

    fn built(b: UidIndexBuilder) -> (UidIndex, Vec<crate::uid_builder::LeftOut>) {
        let built = b.build().expect("build");
        assert!(built.automaton.is_empty());
        (built.index, built.same_tail)
    }

    /// Every occurrence of every entry, found the slow way, in the order `find_all` gives.
    fn naive(index: &UidIndex, hay: &[u8]) -> Vec<UidMatch> {
        let mut out = Vec::new();
        for id in 0..index.len() {
            let uid = index.bytes(id);
            for start in 0..(hay.len() + 1).saturating_sub(uid.len()) {
                if &hay[start..start + uid.len()] == uid {
                    out.push(UidMatch {
                        range: start..start + uid.len(),
                        id: u32::try_from(id).expect("id"),
                    });
                }
            }
        }
        out.sort_by_key(|m| (m.range.end, m.range.start, m.id));
        out
    }

    fn index(uids: &[(&str, &str)]) -> UidIndex {
        let mut b = UidIndexBuilder::default();
        for (uid, label) in uids {
            assert!(b.push(uid.as_bytes(), label), "{uid}");
        }
        let (index, spilled) = built(b);
        assert!(spilled.is_empty());
        index
    }

    #[test]
    fn only_long_uids_of_digits_and_dots_are_held() {
        let mut b = UidIndexBuilder::default();
        assert!(!b.push(b"1.2.840.1000", "A"), "shorter than WIDTH");
        assert!(!b.push(b"1.2.840.10008.1.2.X", "A"), "a letter");
        assert!(!b.push(b"1.2.840.10008.1.2 ", "A"), "a space");
        assert!(b.push(b"1.2.840.10008.1.2", "A"), "17 bytes");
        assert!(b.push(b"1.22.333.4444.55", "A"), "exactly WIDTH bytes");
        assert_eq!(built(b).0.len(), 2);
    }

    #[test]
    fn only_a_few_uids_of_one_tail_are_held() {
        let mut b = UidIndexBuilder::default();
        // In no order, and one of them twice and under a second label.
        for k in [5, 99, 0, 42, 7, 1, 13, 64, 2, 8, 3, 77] {
            assert!(b.push(
                format!("1.2.{k}.1111111111111111").as_bytes(),
                "SOPInstanceUID"
            ));
        }
        assert!(b.push(b"1.2.0.1111111111111111", "SOPInstanceUID"));
        assert!(b.push(b"1.2.0.1111111111111111", "StudyInstanceUID"));
        assert!(b.push(b"1.2.0.1111111111111112", "SOPInstanceUID"));
        let (i, spilled) = built(b);
        // The first SAME_TAIL distinct UIDs of the tail by their bytes (the second label of
        // one of them included), and the other tail's; the rest back to the automaton, once.
        let held: Vec<(&[u8], &str)> = (0..i.len())
            .map(|id| (i.bytes(id), i.label(u32::try_from(id).expect("id"))))
            .collect();
        assert_eq!(held.len(), SAME_TAIL + 2);
        assert!(held.contains(&(&b"1.2.0.1111111111111111"[..], "StudyInstanceUID")));
        assert!(held.contains(&(&b"1.2.0.1111111111111112"[..], "SOPInstanceUID")));
        let back: Vec<String> = spilled
            .iter()
            .map(|(b, l)| format!("{} {l}", String::from_utf8_lossy(b)))
            .collect();
        assert_eq!(
            back,
            [
                "1.2.7.1111111111111111 SOPInstanceUID",
                "1.2.77.1111111111111111 SOPInstanceUID",
                "1.2.8.1111111111111111 SOPInstanceUID",
                "1.2.99.1111111111111111 SOPInstanceUID",
            ]
        );
    }

    /// Tails made to share a slot under a key known in advance (the constants `slot_of` once
    /// had) are spread by the index's own secret key.
    #[test]
    fn tails_made_to_collide_do_not_cluster() {
        let known = [0x243F_6A88_85A3_08D3, 0x1319_8A2E_0370_7344];
        let target = b"1111111111111111";
        // 200 UIDs and the target tail's UID: 512 slots.
        let mask = 511;
        let aim = slot_of(known, target) & mask;
        let mut uids = vec![format!(
            "1.2.3.{}",
            std::str::from_utf8(target).expect("ascii")
        )];
        let mut n = 1_000_000_000_000_000u64;
        while uids.len() < 201 {
            n += 1;
            let tail = n.to_string();
            if slot_of(known, tail.as_bytes()) & mask == aim {
                uids.push(format!("1.2.3.{tail}"));
            }
        }
        let mut b = UidIndexBuilder::default();
        for uid in &uids {
            assert!(b.push(uid.as_bytes(), "SOPInstanceUID"));
        }
        let (i, _) = built(b);
        assert_eq!(i.slots(), 512);
        let probe = i.probe_len(target);
        assert!(probe < 40, "a probe walks {probe} slots");
        for uid in &uids {
            let found: Vec<UidMatch> = i.find_all(uid.as_bytes()).collect();
            assert_eq!(found.len(), 1, "{uid}");
        }
    }

    #[test]
    fn debug_output_never_shows_a_uid() {
        let i = index(&[("1.2.826.0.1.3680043.8.498.10", "StudyInstanceUID")]);
        let shown = format!("{i:?}");
        assert!(!shown.contains("3680043"), "{shown}");
        assert!(shown.contains("uids: 1"), "{shown}");
    }

    #[test]
    fn entries_are_sorted_by_bytes_then_label_and_held_once() {
        let i = index(&[
            ("2.25.1111111111111111111", "SOPInstanceUID"),
            ("1.25.1111111111111111111", "StudyInstanceUID"),
            ("2.25.1111111111111111111", "FrameOfReferenceUID"),
            ("2.25.1111111111111111111", "SOPInstanceUID"),
        ]);
        assert_eq!(i.len(), 3);
        assert_eq!(i.bytes(0), b"1.25.1111111111111111111");
        assert_eq!(i.label(0), "StudyInstanceUID");
        assert_eq!(i.label(1), "FrameOfReferenceUID");
        assert_eq!(i.label(2), "SOPInstanceUID");
        assert_eq!(i.bytes(1), i.bytes(2));
        assert_eq!(i.longest(), 24);
    }

    #[test]
    fn every_occurrence_is_found_overlapping_and_nested() {
        let a = "1.2.826.0.1.3680043.8.498.10";
        let i = index(&[
            (a, "StudyInstanceUID"),
            ("1.2.826.0.1.3680043.8.498.10.1", "SeriesInstanceUID"),
            ("3680043.8.498.10.1", "SOPInstanceUID"),
            ("0000000000000000", "SOPInstanceUID"),
            ("00000000000000000000", "StudyInstanceUID"),
            ("9.9.1.1234567890123456", "SOPInstanceUID"),
            ("8.1234567890123456", "SOPInstanceUID"),
        ]);
        let mut hay = b"x1.2.826.0.1.3680043.8.498.10.1.2.826.0.1.3680043.8.498.10\\".to_vec();
        hay.extend_from_slice(&[b'0'; 40]);
        hay.extend_from_slice(b".9.9.1.1234567890123456 98.1234567890123456");
        let found: Vec<UidMatch> = i.find_all(&hay).collect();
        assert_eq!(found, naive(&i, &hay));
        // The whole of both UIDs, the series UID sharing the study's first 28 bytes, the
        // SOP UID that is the series UID's end, 25 + 21 zero runs, both shared suffixes.
        assert_eq!(found.len(), 2 + 1 + 1 + 25 + 21 + 2);
        for m in &found {
            assert_eq!(&hay[m.range.clone()], i.bytes(m.id as usize));
        }
    }

    #[test]
    fn the_index_finds_what_a_naive_search_finds() {
        // UIDs from a few digits and dots, so that they overlap and share suffixes often.
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let alphabet = b"0011.";
        let mut uids = Vec::new();
        for _ in 0..60 {
            let len = WIDTH + next(12) as usize;
            let uid: String = (0..len)
                .map(|_| char::from(alphabet[next(alphabet.len() as u64) as usize]))
                .collect();
            uids.push(uid);
        }
        let pairs: Vec<(&str, &str)> = uids
            .iter()
            .enumerate()
            .map(|(k, u)| (u.as_str(), if k % 3 == 0 { "A" } else { "B" }))
            .collect();
        let i = index(&pairs);
        let mut bounded_seen = 0;
        for _ in 0..300 {
            let mut hay = Vec::new();
            while hay.len() < 200 {
                match next(4) {
                    0 => hay.extend_from_slice(uids[next(60) as usize].as_bytes()),
                    1 => hay.push(alphabet[next(5) as usize]),
                    2 => hay.push(b"x \\\x00\xff"[next(4) as usize]),
                    _ => {
                        let u = uids[next(60) as usize].as_bytes();
                        hay.extend_from_slice(&u[next(u.len() as u64) as usize..]);
                    }
                }
            }
            let all: Vec<UidMatch> = i.find_all(&hay).collect();
            assert_eq!(all, naive(&i, &hay));
            let uid_byte =
                |p: Option<usize>| p.and_then(|p| hay.get(p)).is_some_and(|b| is_uid_byte(*b));
            let bounded: Vec<UidMatch> = all
                .into_iter()
                .filter(|m| !uid_byte(m.range.start.checked_sub(1)) && !uid_byte(Some(m.range.end)))
                .collect();
            bounded_seen += bounded.len();
            assert_eq!(i.find_bounded(&hay), bounded);
        }
        assert!(bounded_seen > 100, "{bounded_seen}");
    }

    #[test]
    fn a_uid_costs_its_bytes_and_about_twenty_more() {
        let mut b = UidIndexBuilder::default();
        let mut bytes = 0;
        for k in 0..10_000u64 {
            let uid = format!("2.25.{:020}", k.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            bytes += uid.len();
            assert!(b.push(uid.as_bytes(), "SOPInstanceUID"));
        }
        let (i, _) = built(b);
        // 4 (start) + 1 (length) + 2 (label) + 8 to 16 (two to four slots of 4 bytes).
        let overhead = (i.heap_bytes() - bytes) / i.len();
        assert!(overhead <= 24, "{overhead} bytes per UID beyond its own");
    }
}
