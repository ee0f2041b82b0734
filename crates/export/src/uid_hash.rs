//! Values held as 16-byte keyed hashes where the export holds one or more per file and only
//! compares them: each file's re-import key (its exported SOP Instance UID, compared for the
//! regrouping check), the paths of the planned files (see `others`) and a zip package's entry
//! names (see `package::zip_stream`). As text they were
//! about 100 bytes each. The key is drawn at random for each export, so no input can be made
//! to collide with another; two different values are taken for one with a chance of about
//! n² / 2¹²⁹ for n values (under 10⁻²⁶ for a million).

/// A keyed hash of UIDs (or paths), its key fresh for each export.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_export_has_its_own_key() {
        assert_ne!(UidHasher::default().key, UidHasher::default().key);
        let (a, b) = (UidHasher::default(), UidHasher::default());
        assert_ne!(a.hash("1.2.3"), b.hash("1.2.3"));
        assert_eq!(a.hash("1.2.3"), a.clone().hash("1.2.3"));
        assert_ne!(a.hash("1.2.3"), a.hash("1.2.4"));
    }
}
