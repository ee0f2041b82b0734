//! Which attributes' values a profile promises to remove: what the export's audit searches for
//! in a package, and the de-identification on receive in a received file.

use anon_core::identity::PATIENT_ATTRIBUTES;
use anon_core::{Action, Level, Profile};
use dicom_core::Tag;

/// Whether the profile promises to remove the values of the attribute `tag`: it lists a rule
/// for it that changes it (anything but K). At `anonymize` (and profiles built on it), which
/// keeps PatientID, dates, UIDs and text on purpose, only the patient's own attributes count
/// (see `pipeline::needles`).
pub(crate) fn promises_to_remove(profile: &Profile, tag: Tag) -> bool {
    profile.listed_action(tag).is_some_and(|a| a != Action::K)
        && (profile.level() != Level::Anonymize || PATIENT_ATTRIBUTES.contains(&tag))
}
