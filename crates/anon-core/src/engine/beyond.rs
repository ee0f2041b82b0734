//! What anonymize-full does to attributes no rule lists (PS3.15 E.1.1 notes 1, 4, 5): decided
//! by VR and value, not by tag. The walk applies the decision.

use dicom_core::header::{HasLength, Header};
use dicom_core::value::Value;
use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::mem::InMemElement;

use crate::action::Action;
use crate::clean::{Terms, is_code};
use crate::element_text::{effective_vr, is_text_vr};
use crate::level::DeidOption;
use crate::profile::DateMode;
use crate::uids::{CLASS_UID_TAGS, clean_uid, is_well_known};

use super::deidentifier::Deidentifier;
use super::state::Walk;

/// What becomes of an attribute no rule lists, at anonymize-full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Beyond {
    /// A sequence: its items are walked with the rules.
    Items,
    /// Kept as it is.
    Keep,
    /// The action the attribute gets by its VR (a person name Z/D, an instance UID U, a date
    /// X/Z or C by the date options).
    Rule(Action),
    /// Text (of this VR) in which the subject's identifiers occur: they are cut out (C).
    CleanText(VR),
    /// A binary value (OB, UN, OW, OL, OF, OD, OV): the subject's identifiers, in every
    /// encoding and both byte orders, zeroed where found (C).
    CleanBinary,
}

/// Binary attributes that hold samples, as Pixel Data does: measurements whose bytes are never
/// changed, as pixel data's are not.
const SAMPLES: [Tag; 2] = [tags::WAVEFORM_DATA, tags::SPECTROSCOPY_DATA];

impl Deidentifier {
    /// Attributes the table does not list (E.1.1 notes 1, 4, 5), at anonymize-full: person
    /// names get a dummy, instance UIDs are remapped, dates follow the date options, and any
    /// other text or binary value has the subject's identifiers cut out.
    pub(super) fn beyond_table(&self, elem: &InMemElement, walk: &Walk<'_>) -> Beyond {
        let tag = elem.tag();
        if matches!(elem.value(), Value::Sequence(_)) {
            return Beyond::Items;
        }
        if matches!(elem.value(), Value::PixelSequence(_))
            || tag.group() == 0x7FE0
            || elem.is_empty()
        {
            return Beyond::Keep;
        }
        let vr = effective_vr(elem);
        match vr {
            VR::PN => Beyond::Rule(Action::ZD),
            VR::UI => {
                let keep = CLASS_UID_TAGS.contains(&tag)
                    || self.profile.options().contains(&DeidOption::RetainUids);
                if keep {
                    return Beyond::Keep;
                }
                let all_known = elem
                    .to_multi_str()
                    .map(|v| {
                        v.iter()
                            .all(|u| is_well_known(clean_uid(u)) || clean_uid(u).is_empty())
                    })
                    .unwrap_or(true);
                if all_known {
                    Beyond::Keep
                } else {
                    Beyond::Rule(Action::U)
                }
            }
            VR::DA | VR::DT | VR::TM => match self.profile.date_mode() {
                DateMode::Remove => Beyond::Rule(Action::XZ),
                DateMode::Full => Beyond::Keep,
                DateMode::Modified if vr == VR::TM => Beyond::Keep,
                DateMode::Modified => Beyond::Rule(Action::C),
            },
            _ if is_text_vr(vr) && elem.vr() != VR::UN => {
                let hit = elem
                    .to_multi_str()
                    .map(|v| {
                        if vr == VR::CS && tag.group() % 2 == 0 && v.iter().all(|c| is_code(c)) {
                            return v
                                .iter()
                                .any(|c| walk.scrubber.clean_code(c, Terms::Keep).is_some());
                        }
                        let joined = v.join("\\");
                        let text = walk
                            .ext
                            .and_then(|e| e.decode(&joined))
                            .map_or(joined, |d| d.text);
                        walk.scrubber.cut_mask(&text).is_some()
                    })
                    .unwrap_or(false);
                if hit {
                    Beyond::CleanText(vr)
                } else {
                    Beyond::Keep
                }
            }
            _ if matches!(
                elem.vr(),
                VR::OB | VR::UN | VR::OW | VR::OL | VR::OF | VR::OD | VR::OV
            ) && !SAMPLES.contains(&tag) =>
            {
                Beyond::CleanBinary
            }
            _ => Beyond::Keep,
        }
    }
}
