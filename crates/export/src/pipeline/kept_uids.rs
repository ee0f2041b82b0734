//! UIDs held as 16-byte keyed hashes where the plan holds one or more per file and only
//! compares them: the UIDs the de-identified headers keep (a UID the exported files keep is
//! no finding, so the audit does not search it) and each file's re-import key (its exported
//! SOP Instance UID, compared for the regrouping check). As text they were about 100 bytes a
//! UID. The key is drawn at random for each export, so no input can be made to collide with
//! another; two different UIDs are taken for one with a chance of about n² / 2¹²⁹ for n UIDs
//! (under 10⁻²⁶ for a million).

use std::collections::HashSet;

/// A keyed hash of UIDs, its key fresh for each export.
#[derive(Clone)]
pub(crate) struct UidHasher {
    key: [u8; 32],
}

impl Default for UidHasher {
    fn default() -> UidHasher {
        let mut key = [0u8; 32];
        // A fresh key per export; should the system give none, a fixed key keeps the hash
        // collision-free for any input not made against depot's source.
        if getrandom::fill(&mut key).is_err() {
            key = *blake3::hash(b"depot kept UIDs").as_bytes();
        }
        UidHasher { key }
    }
}

impl UidHasher {
    /// `uid`'s hash.
    pub(crate) fn hash(&self, uid: &str) -> u128 {
        let h = blake3::keyed_hash(&self.key, uid.as_bytes());
        let mut first = [0u8; 16];
        first.copy_from_slice(&h.as_bytes()[..16]);
        u128::from_le_bytes(first)
    }
}

/// A set of UIDs by keyed hash.
#[derive(Default)]
pub(crate) struct KeptUids {
    hasher: UidHasher,
    hashes: HashSet<u128>,
}

impl KeptUids {
    /// Adds `uid`.
    pub(crate) fn insert(&mut self, uid: &str) {
        let h = self.hasher.hash(uid);
        self.hashes.insert(h);
    }

    /// Whether `uid` was added.
    pub(crate) fn contains(&self, uid: &str) -> bool {
        self.hashes.contains(&self.hasher.hash(uid))
    }
}

/// A fixed set of UIDs by keyed hash, sorted: the plan's SOP Instance UIDs (16 bytes each), so
/// that a header's reference to another planned file is not held a second time (see
/// `plan::Seen::original_uids`).
pub(crate) struct UidSet {
    hasher: UidHasher,
    hashes: Vec<u128>,
}

impl UidSet {
    /// The set of `uids`.
    #[cfg(test)]
    pub(crate) fn new<'a>(uids: impl Iterator<Item = &'a str>) -> UidSet {
        let hasher = UidHasher::default();
        let hashes = uids.map(|u| hasher.hash(u)).collect();
        UidSet::from_hashes(hasher, hashes)
    }

    /// The set of the UIDs `hashes` are the hashes of by `hasher`.
    pub(crate) fn from_hashes(hasher: UidHasher, mut hashes: Vec<u128>) -> UidSet {
        hashes.sort_unstable();
        hashes.dedup();
        hashes.shrink_to_fit();
        UidSet { hasher, hashes }
    }

    /// Whether `uid` is in the set.
    pub(crate) fn contains(&self, uid: &str) -> bool {
        self.hashes.binary_search(&self.hasher.hash(uid)).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_set_holds_its_uids_and_nothing_else() {
        let uids: Vec<String> = (0..5_000).map(|i| format!("1.2.{i}")).collect();
        let set = UidSet::new(uids.iter().step_by(3).map(String::as_str));
        for (i, u) in uids.iter().enumerate() {
            assert_eq!(set.contains(u), i % 3 == 0, "{u}");
        }
        assert!(!set.contains("1.2.0 "));
        assert!(!UidSet::new(std::iter::empty()).contains(""));
    }

    #[test]
    fn holds_what_was_added_and_nothing_else() {
        let mut kept = KeptUids::default();
        let uids: Vec<String> = (0..10_000).map(|i| format!("2.25.{i}")).collect();
        for u in uids.iter().step_by(2) {
            kept.insert(u);
        }
        for (i, u) in uids.iter().enumerate() {
            assert_eq!(kept.contains(u), i % 2 == 0, "{u}");
        }
        assert!(!kept.contains(""));
        assert!(!kept.contains("2.25.0 "));
        // Two sets have different keys.
        assert_ne!(
            KeptUids::default().hasher.key,
            KeptUids::default().hasher.key
        );
        let (a, b) = (UidHasher::default(), UidHasher::default());
        assert_ne!(a.hash("1.2.3"), b.hash("1.2.3"));
        assert_eq!(a.hash("1.2.3"), a.clone().hash("1.2.3"));
        assert_ne!(a.hash("1.2.3"), a.hash("1.2.4"));
    }
}
