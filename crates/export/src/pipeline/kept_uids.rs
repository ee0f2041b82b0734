//! The UIDs the de-identified headers keep, as the plan collects them: a UID the exported
//! files keep is no finding, so the audit does not search it. Every file adds at least one
//! (its new SOP Instance UID), so the set is held as a 16-byte keyed hash per UID instead of
//! the text (about 100 bytes a UID with the set's own cost). The key is drawn at random for
//! each export, so no input can be made to collide with another; two different UIDs are taken
//! for one with a chance of about n² / 2¹²⁹ for n UIDs (under 10⁻²⁶ for a million).

use std::collections::HashSet;

/// A set of UIDs by keyed hash.
pub(crate) struct KeptUids {
    key: [u8; 32],
    hashes: HashSet<u128>,
}

impl Default for KeptUids {
    fn default() -> KeptUids {
        let mut key = [0u8; 32];
        // A fresh key per export; should the system give none, a fixed key keeps the set
        // exact for any input not made against depot's source.
        if getrandom::fill(&mut key).is_err() {
            key = *blake3::hash(b"depot kept UIDs").as_bytes();
        }
        KeptUids {
            key,
            hashes: HashSet::new(),
        }
    }
}

impl KeptUids {
    fn hash(&self, uid: &str) -> u128 {
        let h = blake3::keyed_hash(&self.key, uid.as_bytes());
        let mut first = [0u8; 16];
        first.copy_from_slice(&h.as_bytes()[..16]);
        u128::from_le_bytes(first)
    }

    /// Adds `uid`.
    pub(crate) fn insert(&mut self, uid: &str) {
        let h = self.hash(uid);
        self.hashes.insert(h);
    }

    /// Whether `uid` was added.
    pub(crate) fn contains(&self, uid: &str) -> bool {
        self.hashes.contains(&self.hash(uid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_ne!(KeptUids::default().key, KeptUids::default().key);
    }
}
