//! Which attributes' values a profile promises to remove: what the export's audit searches for
//! in a package, and the de-identification on receive in a received file.

use std::collections::HashMap;

use anon_core::identity::PATIENT_ATTRIBUTES;
use anon_core::{Action, Level, Profile};
use dicom_core::Tag;

/// Whether the profile promises to remove an attribute's values (see [`needles`]).
pub(crate) fn promised_attributes(profile: &Profile) -> impl Fn(&Tag) -> bool + use<> {
    let changed: HashMap<Tag, Action> = profile
        .rules()
        .into_iter()
        .filter_map(|r| parse_tag(&r.tag).map(|t| (t, r.action)))
        .collect();
    let patient_only = profile.level() == Level::Anonymize;
    move |tag: &Tag| {
        changed.get(tag).is_some_and(|a| *a != Action::K)
            && (!patient_only || PATIENT_ATTRIBUTES.contains(tag))
    }
}

pub(crate) fn parse_tag(s: &str) -> Option<Tag> {
    let (g, e) = s.split_once(',')?;
    Some(Tag(
        u16::from_str_radix(g, 16).ok()?,
        u16::from_str_radix(e, 16).ok()?,
    ))
}
