//! Gathers the UIDs of a [`UidIndex`] and builds it: in memory for a few (an audit of a
//! package, an export of up to about a hundred thousand files), or, for a builder given a
//! folder, as sorted runs on disk (`uid_spill`) merged into a table on disk (`uid_table`)
//! once they pass its limit, so that the memory an export's audit takes does not grow with its
//! number of files.
//!
//! An export's builder also takes the UIDs the exported headers keep (none of them is a
//! finding, so a UID of the same bytes is not searched) and holds one label a UID, the one of
//! the lowest rank (then the first by name): the label of the first file in package order
//! that holds it, for the plan's own UIDs. Both are decided when the index is built, when all
//! the records of one UID lie together, so that nothing needs to be looked up while they are
//! gathered.

use std::collections::HashMap;
use std::io;
use std::path::Path;

use crate::uid_index::{Held, InMemory, SAME_TAIL, UidIndex, WIDTH, random_key, slot_of};
use crate::uid_spill::{Kind, Record, Spill, tail};
use crate::uid_table::TableWriter;

/// A UID and its label that the index leaves to the automaton.
pub(crate) type LeftOut = (Vec<u8>, Box<str>);

/// What building gives: the index, the UIDs past the first [`SAME_TAIL`] of one tail (to be
/// searched by the automaton as the index would have: plain, bounded as a UID), and the UIDs
/// the index cannot hold (to be searched as any UID needle is).
pub(crate) struct Built {
    pub(crate) index: UidIndex,
    pub(crate) same_tail: Vec<LeftOut>,
    pub(crate) automaton: Vec<LeftOut>,
}

/// A gathered UID: where its bytes lie in the arena, what it is, its rank and label (an index
/// into the builder's labels, in the order they were first given).
#[derive(Clone, Copy)]
struct Entry {
    start: u32,
    len: u32,
    label: u16,
    kind: Kind,
    rank: u64,
}

/// Collects UIDs for a [`UidIndex`].
pub(crate) struct UidIndexBuilder {
    arena: Vec<u8>,
    entries: Vec<Entry>,
    labels: Vec<Box<str>>,
    label_ids: HashMap<Box<str>, u16>,
    /// One label a UID (the lowest rank's), not one entry per label.
    one_label: bool,
    /// Where runs go, once the records held pass `limit` bytes.
    spill: Option<Spill>,
    limit: usize,
    /// Records written to runs.
    spilled: u64,
    key: [u64; 2],
    /// The latest record of each of a few thousand hash slots, as an index into `entries` + 1
    /// (0: none): a record equal to one of them is not added again. A series' files give the
    /// same kept Study and Series UIDs, frame of reference and implementation UIDs over and
    /// over; these would otherwise be most of the records.
    recent: Vec<u32>,
}

/// How many slots [`UidIndexBuilder::recent`] has.
const RECENT: usize = 4096;

impl Default for UidIndexBuilder {
    fn default() -> UidIndexBuilder {
        UidIndexBuilder {
            arena: Vec::new(),
            entries: Vec::new(),
            labels: Vec::new(),
            label_ids: HashMap::new(),
            one_label: false,
            spill: None,
            limit: usize::MAX,
            spilled: 0,
            key: random_key(),
            recent: Vec::new(),
        }
    }
}

/// The bytes of a UID's record in memory: its bytes and its [`Entry`].
const ENTRY_BYTES: usize = size_of::<Entry>();

impl UidIndexBuilder {
    /// A builder that holds one label a UID and, past `limit` bytes of records in memory,
    /// writes them to an unnamed file in `dir` (none: everything stays in memory).
    pub(crate) fn spilling(dir: Option<&Path>, limit: usize) -> UidIndexBuilder {
        UidIndexBuilder {
            one_label: true,
            spill: dir.map(Spill::new),
            limit,
            ..UidIndexBuilder::default()
        }
    }

    /// Whether a UID spelled `bytes` can be held by the index: at least [`WIDTH`] bytes, all
    /// of them digits or dots.
    pub(crate) fn accepts(bytes: &[u8]) -> bool {
        bytes.len() >= WIDTH && bytes.iter().all(|b| crate::uid_index::is_uid_byte(*b))
    }

    /// Adds a UID with its label; false (nothing added) when the index cannot hold it: not a
    /// UID it [`accepts`](Self::accepts), or past what its 32-bit offsets and 16-bit label
    /// indices reach.
    pub(crate) fn push(&mut self, bytes: &[u8], label: &str) -> bool {
        Self::accepts(bytes) && bytes.len() <= usize::from(u8::MAX) && self.add(bytes, label, 0)
    }

    /// Adds a UID with its label and rank, whatever its bytes: one the index cannot hold
    /// comes back from [`build`](Self::build) for the automaton, if no kept UID has its
    /// bytes. False (nothing added) past what 32-bit offsets and 16-bit label indices reach.
    pub(crate) fn push_ranked(&mut self, bytes: &[u8], label: &str, rank: u64) -> bool {
        self.add(bytes, label, rank)
    }

    /// Adds a UID the exported headers keep: no UID of the same bytes is searched.
    pub(crate) fn push_kept(&mut self, bytes: &[u8]) -> bool {
        self.add_entry(bytes, Kind::Kept, 0, 0)
    }

    fn add(&mut self, bytes: &[u8], label: &str, rank: u64) -> bool {
        let label_id = match self.label_ids.get(label) {
            Some(id) => *id,
            None => {
                let Ok(id) = u16::try_from(self.labels.len()) else {
                    return false;
                };
                self.labels.push(label.into());
                self.label_ids.insert(label.into(), id);
                id
            }
        };
        let kind = if Self::accepts(bytes) && bytes.len() <= usize::from(u8::MAX) {
            Kind::Indexed
        } else {
            Kind::Automaton
        };
        self.add_entry(bytes, kind, rank, label_id)
    }

    fn add_entry(&mut self, bytes: &[u8], kind: Kind, rank: u64, label: u16) -> bool {
        if self.recent.is_empty() {
            self.recent = vec![0; RECENT];
        }
        let slot = (self.fp(bytes)
            ^ rank.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (u64::from(label) << 8)
            ^ kind as u64) as usize
            % RECENT;
        if let Some(e) = self.recent[slot]
            .checked_sub(1)
            .and_then(|i| self.entries.get(i as usize))
            && (e.kind, e.rank, e.label) == (kind, rank, label)
            && self.bytes_of(e) == bytes
        {
            return true;
        }
        let (Ok(start), Ok(len)) = (u32::try_from(self.arena.len()), u32::try_from(bytes.len()))
        else {
            return false;
        };
        if start.checked_add(len).is_none() {
            return false;
        }
        self.arena.extend_from_slice(bytes);
        self.recent[slot] = u32::try_from(self.entries.len() + 1).unwrap_or(0);
        self.entries.push(Entry {
            start,
            len,
            label,
            kind,
            rank,
        });
        if self.spill.is_some() && self.arena.len() + self.entries.len() * ENTRY_BYTES >= self.limit
        {
            self.write_run();
        }
        true
    }

    fn bytes_of(&self, e: &Entry) -> &[u8] {
        &self.arena[e.start as usize..(e.start + e.len) as usize]
    }

    fn fp(&self, bytes: &[u8]) -> u64 {
        fingerprint(self.key, bytes)
    }

    /// Sorts the records held in table order and writes them as a run. A run that cannot be
    /// written (a full disk) leaves them in memory, and no more runs are tried.
    fn write_run(&mut self) {
        let mut entries = std::mem::take(&mut self.entries);
        self.sort_for_table(&mut entries);
        self.recent.fill(0);
        let Some(spill) = &mut self.spill else {
            return;
        };
        let arena = &self.arena;
        let written = spill.write_run(entries.iter().map(|e| {
            (
                &arena[e.start as usize..(e.start + e.len) as usize],
                e.kind,
                e.rank,
                e.label,
            )
        }));
        match written {
            Ok(()) => {
                self.spilled += entries.len() as u64;
                self.arena.clear();
            }
            Err(_) => {
                self.entries = entries;
                self.limit = usize::MAX;
            }
        }
    }

    /// Sorts `entries` as [`Record`] orders them.
    fn sort_for_table(&self, entries: &mut [Entry]) {
        let key = |e: &Entry| {
            let b = self.bytes_of(e);
            (self.fp(b), tail(b), b, e.kind, e.rank, e.label)
        };
        entries.sort_unstable_by(|a, b| key(a).cmp(&key(b)));
    }

    /// The index, and the UIDs it leaves to the automaton.
    pub(crate) fn build(mut self) -> io::Result<Built> {
        // Labels sorted, and each record's label by its place among them.
        let mut order: Vec<u16> = (0..self.labels.len())
            .filter_map(|i| u16::try_from(i).ok())
            .collect();
        order.sort_by(|a, b| self.labels[usize::from(*a)].cmp(&self.labels[usize::from(*b)]));
        let mut rank_of = vec![0u16; self.labels.len()];
        for (r, old) in order.iter().enumerate() {
            rank_of[usize::from(*old)] = u16::try_from(r).unwrap_or(u16::MAX);
        }
        let labels: Vec<Box<str>> = order
            .iter()
            .map(|old| self.labels[usize::from(*old)].clone())
            .collect();
        if self.spilled > 0 {
            return self.build_on_disk(&rank_of, labels);
        }
        let mut entries = std::mem::take(&mut self.entries);
        for e in &mut entries {
            if e.kind != Kind::Kept {
                e.label = rank_of[usize::from(e.label)];
            }
        }
        entries.sort_unstable_by(|a, b| {
            (self.bytes_of(a), a.kind, a.rank, a.label).cmp(&(
                self.bytes_of(b),
                b.kind,
                b.rank,
                b.label,
            ))
        });
        let mut held = Vec::with_capacity(entries.len());
        let mut automaton = Vec::new();
        let mut group = Group::new(self.one_label);
        // Where the current UID's bytes lie.
        let mut at: Option<(u32, u32)> = None;
        let mut flush = |group: &mut Group, at: Option<(u32, u32)>, arena: &[u8]| {
            let Some((start, len)) = at else {
                return;
            };
            for (kind, label) in group.take() {
                if kind == Kind::Automaton {
                    let bytes = arena[start as usize..(start + len) as usize].to_vec();
                    automaton.push((bytes, labels[usize::from(label)].clone()));
                } else {
                    held.push((start, len, label));
                }
            }
        };
        for e in &entries {
            let same = at.is_some_and(|(s, l)| {
                self.arena[s as usize..(s + l) as usize] == *self.bytes_of(e)
            });
            if !same {
                flush(&mut group, at, &self.arena);
                at = Some((e.start, e.len));
            }
            group.add(e.kind, e.rank, e.label);
        }
        flush(&mut group, at, &self.arena);
        drop(entries);
        Ok(in_memory(self.arena, held, labels, self.key, automaton))
    }

    /// Merges the runs and the records still in memory into a table on disk.
    fn build_on_disk(mut self, rank_of: &[u16], labels: Vec<Box<str>>) -> io::Result<Built> {
        let mut entries = std::mem::take(&mut self.entries);
        self.sort_for_table(&mut entries);
        let last: Vec<Record> = entries
            .iter()
            .map(|e| {
                let bytes = self.bytes_of(e).to_vec();
                Record {
                    fp: self.fp(&bytes),
                    bytes,
                    kind: e.kind,
                    rank: e.rank,
                    label: e.label,
                }
            })
            .collect();
        drop(entries);
        let expected = self.spilled + last.len() as u64;
        let key = self.key;
        let fp = move |b: &[u8]| fingerprint(key, b);
        let Some(spill) = &self.spill else {
            return Err(io::Error::other("no runs to merge"));
        };
        let dir = spill.dir();
        let mut merge = spill.merge(last, &fp)?;
        let mut table = TableWriter::new(dir, expected)?;
        let mut same_tail = Vec::new();
        let mut automaton = Vec::new();
        // The current UID's records, and how many distinct UIDs of the current tail are held.
        let mut group = Group::new(self.one_label);
        let mut current: Option<Record> = None;
        let mut tail_now: Vec<u8> = Vec::new();
        let mut distinct = 0usize;
        let mut flush = |group: &mut Group, r: &Record| -> io::Result<()> {
            let mut counted = false;
            for (kind, label) in group.take() {
                let name = || labels[usize::from(label)].clone();
                if kind == Kind::Automaton {
                    automaton.push((r.bytes.clone(), name()));
                    continue;
                }
                if !counted {
                    counted = true;
                    if tail(&r.bytes) != tail_now.as_slice() {
                        tail_now = tail(&r.bytes).to_vec();
                        distinct = 0;
                    }
                    distinct += 1;
                }
                if distinct > SAME_TAIL {
                    same_tail.push((r.bytes.clone(), name()));
                } else {
                    table.push(r.fp, &r.bytes, label)?;
                }
            }
            Ok(())
        };
        while let Some(r) = merge.next_record()? {
            let label = if r.kind == Kind::Kept {
                0
            } else {
                *rank_of
                    .get(usize::from(r.label))
                    .ok_or_else(|| io::Error::other("a UID record's label is unknown"))?
            };
            if current.as_ref().is_none_or(|c| c.bytes != r.bytes) {
                if let Some(c) = &current {
                    flush(&mut group, c)?;
                }
                group.add(r.kind, r.rank, label);
                current = Some(r);
            } else {
                group.add(r.kind, r.rank, label);
            }
        }
        if let Some(c) = &current {
            flush(&mut group, c)?;
        }
        let table = table.finish()?;
        // The automaton's patterns are sorted by bytes then label, as in memory.
        same_tail.sort_unstable();
        automaton.sort_unstable();
        Ok(Built {
            index: UidIndex::new(Held::Disk(Box::new(table)), labels, key),
            same_tail,
            automaton,
        })
    }
}

/// The records of one UID; which of them are searched.
struct Group {
    one_label: bool,
    kept: bool,
    chosen: Vec<(Kind, u16)>,
    best_rank: u64,
}

impl Group {
    fn new(one_label: bool) -> Group {
        Group {
            one_label,
            kept: false,
            chosen: Vec::new(),
            best_rank: u64::MAX,
        }
    }

    /// Adds a record; `label` is the label's place among the labels sorted by name.
    fn add(&mut self, kind: Kind, rank: u64, label: u16) {
        if kind == Kind::Kept {
            self.kept = true;
            return;
        }
        if self.one_label {
            // The lowest rank, then the first label by name.
            if self.chosen.is_empty() || (rank, label) < (self.best_rank, self.chosen[0].1) {
                self.best_rank = rank;
                self.chosen = vec![(kind, label)];
            }
        } else if !self.chosen.iter().any(|(_, l)| *l == label) {
            self.chosen.push((kind, label));
        }
    }

    /// The (kind, label) of each entry the UID gives (none when kept), and a fresh start.
    fn take(&mut self) -> Vec<(Kind, u16)> {
        let chosen = std::mem::take(&mut self.chosen);
        let kept = std::mem::replace(&mut self.kept, false);
        self.best_rank = u64::MAX;
        if kept { Vec::new() } else { chosen }
    }
}

/// The fingerprint of `bytes`' last [`WIDTH`] bytes (fewer, padded, for a shorter UID, which
/// is never probed).
pub(crate) fn fingerprint(key: [u64; 2], bytes: &[u8]) -> u64 {
    let t = tail(bytes);
    if t.len() == WIDTH {
        slot_of(key, t)
    } else {
        let mut padded = [0u8; WIDTH];
        padded[..t.len()].copy_from_slice(t);
        slot_of(key, &padded) ^ (t.len() as u64)
    }
}

/// The index in memory of `held` (start, length, label rank) in `arena`, sorted by bytes.
fn in_memory(
    arena: Vec<u8>,
    mut held: Vec<(u32, u32, u16)>,
    labels: Vec<Box<str>>,
    key: [u64; 2],
    automaton: Vec<LeftOut>,
) -> Built {
    let bytes_of =
        |&(start, len, _): &(u32, u32, u16)| &arena[start as usize..(start + len) as usize];
    held.sort_unstable_by(|a, b| bytes_of(a).cmp(bytes_of(b)).then(a.2.cmp(&b.2)));
    held.dedup_by(|a, b| a.2 == b.2 && bytes_of(a) == bytes_of(b));
    let spill = shared_tails(&held, &arena);
    let same_tail: Vec<LeftOut> = held
        .iter()
        .zip(&spill)
        .filter(|(_, s)| **s)
        .map(|(e, _)| (bytes_of(e).to_vec(), labels[usize::from(e.2)].clone()))
        .collect();
    let mut kept = spill.iter();
    held.retain(|_| kept.next().is_some_and(|s| !*s));
    drop(spill);
    let memory = InMemory::new(arena, &held, key);
    Built {
        index: UidIndex::new(Held::Memory(memory), labels, key),
        same_tail,
        automaton,
    }
}

/// Which of `entries` (sorted by their bytes) lie past the first [`SAME_TAIL`] distinct UIDs
/// of their tail.
fn shared_tails(entries: &[(u32, u32, u16)], arena: &[u8]) -> Vec<bool> {
    let bytes_of =
        |(start, len, _): &(u32, u32, u16)| &arena[*start as usize..(*start + *len) as usize];
    let tail_of = |i: usize| tail(bytes_of(&entries[i]));
    // By tail, and by bytes within a tail (the entries' own order), so that the entries of
    // one UID are together.
    let mut by_tail: Vec<usize> = (0..entries.len()).collect();
    by_tail.sort_unstable_by(|&a, &b| tail_of(a).cmp(tail_of(b)).then(a.cmp(&b)));
    let mut spill = vec![false; entries.len()];
    let mut distinct = 0;
    for (k, &i) in by_tail.iter().enumerate() {
        let before = k.checked_sub(1).map(|p| by_tail[p]);
        match before {
            Some(p) if tail_of(p) == tail_of(i) => {
                if bytes_of(&entries[p]) != bytes_of(&entries[i]) {
                    distinct += 1;
                }
            }
            _ => distinct = 1,
        }
        spill[i] = distinct > SAME_TAIL;
    }
    spill
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The (UID, label) pairs an index finds, each UID searched alone.
    fn found(built: &Built, uids: &[String]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for u in uids {
            for m in built.index.find_bounded(u.as_bytes()) {
                out.push((u.clone(), built.index.label(m.id).to_string()));
            }
        }
        out
    }

    #[test]
    fn a_record_given_again_is_held_once() {
        let mut b = UidIndexBuilder::spilling(None, usize::MAX);
        for _ in 0..1_000 {
            assert!(b.push_kept(b"2.25.123456789012345678901234567890"));
            assert!(b.push_ranked(b"1.2.826.0.1.3680043.8.498.1", "FrameOfReferenceUID", 7));
        }
        assert_eq!(b.entries.len(), 2);
        // The same bytes under another rank or label are records of their own.
        assert!(b.push_ranked(b"1.2.826.0.1.3680043.8.498.1", "FrameOfReferenceUID", 6));
        assert!(b.push_ranked(
            b"1.2.826.0.1.3680043.8.498.1",
            "ReferencedSOPInstanceUID",
            7
        ));
        assert_eq!(b.entries.len(), 4);
        let built = b.build().expect("build");
        let uid = ["1.2.826.0.1.3680043.8.498.1".to_string()];
        assert_eq!(
            found(&built, &uid),
            [(uid[0].clone(), "FrameOfReferenceUID".to_string())]
        );
    }

    #[test]
    fn runs_that_cannot_be_written_stay_in_memory() {
        let dir = tempfile::tempdir().expect("dir");
        let gone = dir.path().join("gone");
        let uids: Vec<String> = (0..500).map(|i| format!("1.2.826.0.1.{i:012}")).collect();
        let mut held = UidIndexBuilder::spilling(Some(&gone), 200);
        let mut memory = UidIndexBuilder::spilling(None, usize::MAX);
        for (i, u) in uids.iter().enumerate() {
            for b in [&mut held, &mut memory] {
                assert!(b.push_ranked(u.as_bytes(), "SOPInstanceUID", i as u64));
                if i % 5 == 0 {
                    assert!(b.push_kept(u.as_bytes()));
                }
            }
        }
        assert_eq!(held.spilled, 0);
        let (a, b) = (held.build().expect("build"), memory.build().expect("build"));
        assert!(!a.index.on_disk());
        assert_eq!(found(&a, &uids), found(&b, &uids));
        assert_eq!(found(&a, &uids).len(), 400);
    }
}
