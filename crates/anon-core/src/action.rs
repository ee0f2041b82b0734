//! The action codes of PS3.15 Table E.1-1a, plus depot's pseudonym code, and how a compound
//! code is resolved when the engine cannot know the attribute's Type in the IOD.

use std::fmt;
use std::str::FromStr;

use crate::error::ProfileError;

/// What a profile says to do with one attribute (PS3.15 Table E.1-1a codes, plus `P`).
///
/// Compound codes (`Z/D`, `X/Z`, ...) depend on the attribute's Type in the IOD of the SOP class
/// being de-identified. The engine has no per-IOD Type knowledge, so `Action::resolve` picks
/// the alternative that keeps any object valid whatever the Type (see `docs/deid.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Remove the attribute (a sequence with all its items).
    X,
    /// Replace with a zero-length value (a sequence: no items).
    Z,
    /// Replace with a non-empty dummy value valid for the VR.
    D,
    /// Keep (a kept sequence still has the profile applied to its items).
    K,
    /// Clean: keep the meaning, drop identifying content (text: every value the run removes
    /// from the object, the subject's identifiers and e-mail, URL, telephone and date patterns
    /// are cut out; AE titles: keyed pseudonyms; dates: shifted under the modified-dates
    /// option; sequences: items cleaned).
    C,
    /// Replace each UID with its keyed one-way mapping.
    U,
    /// `Z/D`: Z unless Type 1, then D.
    ZD,
    /// `X/Z`: X unless Type 2, then Z.
    XZ,
    /// `X/D`: X unless Type 1, then D.
    XD,
    /// `X/Z/D`: X for Type 3, Z for Type 2, D for Type 1.
    XZD,
    /// `X/Z/U*`: for sequences holding UID references: keep the sequence, remap the UIDs in it.
    XZU,
    /// depot's code: replace with the subject's keyed pseudonym (PatientID, PatientName) or, on
    /// other text attributes, with a keyed one-way code of the value. Not a PS3.15 code.
    P,
}

/// An action after compound codes are resolved: what the engine actually does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolved {
    Remove,
    Empty,
    Dummy,
    Keep,
    Clean,
    Uid,
    Pseudonym,
}

impl Action {
    /// All codes, in the order `profiles show` documents them.
    pub const ALL: [Action; 12] = [
        Action::X,
        Action::Z,
        Action::D,
        Action::K,
        Action::C,
        Action::U,
        Action::ZD,
        Action::XZ,
        Action::XD,
        Action::XZD,
        Action::XZU,
        Action::P,
    ];

    /// The code as the standard writes it (`X/Z/U*` for [`Action::XZU`]).
    pub fn code(self) -> &'static str {
        match self {
            Action::X => "X",
            Action::Z => "Z",
            Action::D => "D",
            Action::K => "K",
            Action::C => "C",
            Action::U => "U",
            Action::ZD => "Z/D",
            Action::XZ => "X/Z",
            Action::XD => "X/D",
            Action::XZD => "X/Z/D",
            Action::XZU => "X/Z/U*",
            Action::P => "P",
        }
    }

    /// Resolves a compound code to the alternative valid whatever the attribute's Type:
    /// X/Z → Z (an empty value is valid for Type 2 and 3), X/D, Z/D, X/Z/D → D (a dummy is valid
    /// for every Type), X/Z/U* → U (keep the sequence, remap the UIDs inside it).
    pub(crate) fn resolve(self) -> Resolved {
        match self {
            Action::X => Resolved::Remove,
            Action::Z | Action::XZ => Resolved::Empty,
            Action::D | Action::ZD | Action::XD | Action::XZD => Resolved::Dummy,
            Action::K => Resolved::Keep,
            Action::C => Resolved::Clean,
            Action::U | Action::XZU => Resolved::Uid,
            Action::P => Resolved::Pseudonym,
        }
    }

    /// Whether the action keeps more of the original than the Basic Profile ever does
    /// (K or C); a custom profile that uses these no longer claims the Basic Profile code.
    pub fn retains(self) -> bool {
        matches!(self, Action::K | Action::C)
    }

    /// One line saying what the action does, for `profiles show`.
    pub fn meaning(self) -> &'static str {
        match self {
            Action::X => "remove",
            Action::Z => "empty value (sequence: no items)",
            Action::D => "dummy value (sequence: items cleaned)",
            Action::K => "keep (sequence: items cleaned)",
            Action::C => {
                "clean (text: removed values, identifiers, patterns cut; AE: pseudonym; dates: shifted if modified-dates)"
            }
            Action::U => "remap UID (keyed)",
            Action::ZD => "Z/D, resolved to D",
            Action::XZ => "X/Z, resolved to Z",
            Action::XD => "X/D, resolved to D",
            Action::XZD => "X/Z/D, resolved to D",
            Action::XZU => "X/Z/U*, resolved to keep + remap UIDs inside",
            Action::P => "keyed pseudonym",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Action {
    type Err = ProfileError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_uppercase().replace(' ', "");
        let action = match t.as_str() {
            "X" => Action::X,
            "Z" => Action::Z,
            "D" => Action::D,
            "K" => Action::K,
            "C" => Action::C,
            "U" => Action::U,
            "Z/D" => Action::ZD,
            "X/Z" => Action::XZ,
            "X/D" => Action::XD,
            "X/Z/D" => Action::XZD,
            "X/Z/U*" | "X/Z/U" => Action::XZU,
            "P" => Action::P,
            _ => {
                return Err(ProfileError::UnknownAction {
                    action: s.to_string(),
                });
            }
        };
        Ok(action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for a in Action::ALL {
            assert_eq!(a.code().parse::<Action>().ok(), Some(a));
        }
        assert!("Q".parse::<Action>().is_err());
        assert_eq!("x/z/u".parse::<Action>().ok(), Some(Action::XZU));
    }

    #[test]
    fn compound_codes_resolve_to_the_type_safe_alternative() {
        assert_eq!(Action::XZ.resolve(), Resolved::Empty);
        assert_eq!(Action::XD.resolve(), Resolved::Dummy);
        assert_eq!(Action::ZD.resolve(), Resolved::Dummy);
        assert_eq!(Action::XZD.resolve(), Resolved::Dummy);
        assert_eq!(Action::XZU.resolve(), Resolved::Uid);
    }
}
