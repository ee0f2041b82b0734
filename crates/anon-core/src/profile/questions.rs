//! The questions callers ask a profile instead of reading its rules: what happens to a tag,
//! whether private attributes go, whether the output claims identity removal, whether UIDs,
//! PatientID and dates change, whether anything changes at all.

use dicom_core::Tag;
use dicom_dictionary_std::tags;

use crate::action::{Action, Resolved};
use crate::level::Level;

use super::{DateMode, PrivatePolicy, Profile};

impl Profile {
    /// Whether the output touches anything at all (false only for `original`, see
    /// [`Level::rewrites_files`]). Everything else that depends on it asks this.
    pub fn changes_anything(&self) -> bool {
        self.level.rewrites_files()
    }

    /// Whether files get the file meta cleaned (AE titles, private information dropped).
    pub(crate) fn cleans_meta(&self) -> bool {
        self.changes_anything() && self.level != Level::Anonymize
    }

    /// Whether files claim Patient Identity Removed = YES (not for `original`, `anonymize`,
    /// which keep PatientID and dates, nor `sup142`, whose 43 tags leave the patient's name,
    /// nor `qmenta`, whose table keeps private attributes and free text that may name the
    /// patient). The same as [`Profile::claims_identity_removal`], its newer name.
    pub fn removes_identity(&self) -> bool {
        self.cleans_meta() && !matches!(self.level, Level::Sup142 | Level::Qmenta)
    }

    /// Whether the engine writes Patient Identity Removed = YES and the De-identification
    /// Method into every file, so that the package claims the patient's identity is removed
    /// (and the audit must hold it to that). See [`Profile::removes_identity`].
    pub fn claims_identity_removal(&self) -> bool {
        self.removes_identity()
    }

    /// Whether private attributes are removed by default: every private data element and
    /// private creator (odd group), at every depth, unless a custom profile's `[actions]`
    /// name that exact private tag ([`Profile::action_for`] gives such a rule). This is the
    /// PS3.15 Basic Profile's `gggg,eeee` X (levels basic and anonymize-full without
    /// retain-safe-private). False where private attributes stay: under retain-safe-private
    /// (the safe list is kept, cleaned) and at the levels that keep them (original,
    /// anonymize, qmenta, sup142).
    pub fn removes_all_private(&self) -> bool {
        self.private == PrivatePolicy::Remove
    }

    /// The action the engine takes on the attribute `tag`, as it applies it to every data set
    /// it walks (the top level and every sequence item, at any depth), or `None` where no
    /// rule covers the tag.
    ///
    /// - Standard (even group) attributes: the rule naming the tag (table, seed, depot's or
    ///   a custom profile's row, options applied), else the rule of the repeating group the
    ///   tag falls in (curves `50xx,xxxx`, overlays `60xx,eeee`), else `None`. Where Overlay
    ///   Data (`60xx,3000`) is removed, the engine drops the rest of that overlay group with
    ///   it (an overlay without its data is invalid), whatever the other elements' answer.
    /// - Group lengths (`gggg,0000`, any group): `Some(X)` wherever the file meta is cleaned
    ///   (every level but original and anonymize): they would be wrong after any change, so
    ///   the engine drops them before any rule. Elsewhere as any other attribute.
    /// - Private (odd group) attributes, creators included: the rule naming the exact tag if
    ///   a custom profile has one, else the private default: `X` when
    ///   [`Profile::removes_all_private`], `C` under retain-safe-private (an attribute on the
    ///   safe list for its block's creator is kept, cleaned of identifiers, with its creator;
    ///   every other private element is removed: the tag alone cannot say which), `K` at the
    ///   levels that keep private attributes.
    /// - Unknown tags (not in the dictionary) are answered like any other by these rules:
    ///   usually `None`.
    /// - `original`: `None` for every tag (nothing is touched).
    ///
    /// `None` means "kept as it is, sequences walked", except where anonymize-full's rules
    /// beyond the table apply (they go by VR and value, not by tag: person names dummied,
    /// instance UIDs remapped, dates by the date options, the subject's identifiers cut from
    /// other text and binary values).
    ///
    /// Nested attributes get the same answer, with two exceptions that depend on the
    /// enclosing sequence rather than on the tag: inside a sequence whose action resolves to
    /// a dummy (`D`, or `P` on a sequence) every value becomes a dummy (class UIDs, codes and
    /// numbers kept, UIDs remapped, private attributes removed unless the level keeps them)
    /// unless its own action removes or empties it; inside a sequence under `C`, text
    /// attributes no rule lists are cleaned too.
    pub fn action_for(&self, tag: Tag) -> Option<Action> {
        if !self.changes_anything() {
            return None;
        }
        if tag.element() == 0x0000 && self.cleans_meta() {
            return Some(Action::X);
        }
        if tag.group() % 2 == 1 {
            if let Some(rule) = self.exact(tag) {
                return Some(rule.action);
            }
            return Some(match self.private {
                PrivatePolicy::Keep => Action::K,
                PrivatePolicy::Remove => Action::X,
                PrivatePolicy::Safe => Action::C,
            });
        }
        self.lookup(tag).map(|r| r.action)
    }

    /// The action of the rule that names exactly `tag` (a row of the table or of a seed,
    /// depot's own, or a custom profile's), without repeating groups, private defaults or
    /// group lengths: what [`Profile::rules`] lists under `GGGG,EEEE`. See
    /// [`Profile::action_for`] for what the engine does to the tag.
    pub fn listed_action(&self, tag: Tag) -> Option<Action> {
        self.exact(tag).map(|r| r.action)
    }

    /// Whether instance UIDs are replaced (SOP Instance UID is remapped).
    pub fn remaps_uids(&self) -> bool {
        self.lookup(tags::SOP_INSTANCE_UID)
            .is_some_and(|r| r.action.resolve() == Resolved::Uid)
    }

    /// Whether PatientID becomes the subject's keyed pseudonym.
    pub fn pseudonymizes_patient_id(&self) -> bool {
        self.lookup(tags::PATIENT_ID)
            .is_some_and(|r| r.action == Action::P)
    }

    /// Whether PatientID is emptied or removed (data will no longer regroup by subject).
    pub fn blanks_identifiers(&self) -> bool {
        self.lookup(tags::PATIENT_ID)
            .is_some_and(|r| matches!(r.action.resolve(), Resolved::Empty | Resolved::Remove))
    }

    /// Whether dates are shifted per subject (retain-longitudinal-modified-dates).
    pub fn modifies_dates(&self) -> bool {
        self.level.takes_options() && self.dates == DateMode::Modified
    }
}
