//! The engine's entry point: a profile under a key, and the keyed mappings every part of the
//! walk uses (UIDs, content tags).

use crate::key::Key;
use crate::profile::Profile;
use crate::uids::{clean_uid, is_well_known};

/// Applies one profile under one key.
#[derive(Debug, Clone)]
pub struct Deidentifier {
    pub(super) profile: Profile,
    pub(super) key: Key,
    /// Whether the profile cleans anything (C on some attribute, or safe private attributes):
    /// only then are the values the run removes gathered first (see [`crate::removed`]).
    pub(super) cleans: bool,
}

impl Deidentifier {
    /// An engine applying `profile`, with every mapping keyed by `key`.
    pub fn new(profile: Profile, key: Key) -> Deidentifier {
        let cleans = profile.cleans();
        Deidentifier {
            profile,
            key,
            cleans,
        }
    }

    /// The profile applied.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The keyed UID mapping (`2.25.` + decimal of HMAC-SHA256(key, uid)[..16]); UIDs under
    /// `1.2.840.10008.` and empty values are returned unchanged.
    pub fn map_uid(&self, uid: &str) -> String {
        let u = clean_uid(uid);
        if u.is_empty() || is_well_known(u) {
            u.to_string()
        } else {
            self.key.uid_for(u)
        }
    }

    /// A keyed name for a file's bytes: 16 hex digits, the same in every run with the key, that
    /// no one without the key can link to the file (see `Key::content_tag`).
    pub fn content_tag(&self, bytes: &[u8]) -> String {
        self.key.content_tag(bytes)
    }
}
