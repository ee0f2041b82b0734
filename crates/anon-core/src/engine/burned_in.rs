//! Which images may hold burned-in text (flagged, or of a modality that usually has it): the
//! engine cannot clean pixels, so it reports them and the export decides.

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use crate::element_text::first_str;
use crate::report::BurnedInReason;

/// Modalities whose images commonly carry burned-in text.
const BURN_IN_MODALITIES: [&str; 5] = ["US", "SC", "XC", "ES", "OT"];

/// Whether the image may hold burned-in text (checked on the original, top level).
pub(super) fn burned_in(obj: &InMemDicomObject) -> Option<BurnedInReason> {
    match first_str(obj, tags::BURNED_IN_ANNOTATION) {
        Some(flag) if flag.eq_ignore_ascii_case("YES") => Some(BurnedInReason::FlaggedYes),
        Some(_) => None,
        None => {
            let modality = first_str(obj, tags::MODALITY)?.to_ascii_uppercase();
            BURN_IN_MODALITIES
                .contains(&modality.as_str())
                .then_some(BurnedInReason::ModalityWithoutFlag(modality))
        }
    }
}
