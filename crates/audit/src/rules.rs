//! The structural rules a level promises (no private element, PatientIdentityRemoved), checked
//! in every DICOM file beside the value search.

use anon_core::Profile;

/// Structural rules, set by the level that was exported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rules {
    /// No private element may remain at any depth.
    pub forbid_private: bool,
    /// Every DICOM file must carry PatientIdentityRemoved = YES.
    pub require_identity_removed: bool,
}

impl Rules {
    /// The rules a profile promises: private elements gone when it removes them all,
    /// PatientIdentityRemoved when it claims to remove identity.
    pub fn for_profile(profile: &Profile) -> Rules {
        Rules {
            forbid_private: profile.removes_all_private(),
            require_identity_removed: profile.claims_identity_removal(),
        }
    }

    /// Every rule of either.
    pub fn union(self, other: Rules) -> Rules {
        Rules {
            forbid_private: self.forbid_private || other.forbid_private,
            require_identity_removed: self.require_identity_removed
                || other.require_identity_removed,
        }
    }
}
