//! The values the engine writes that do not come from the data: the dummy of every VR, the
//! de-identification markers (PatientIdentityRemoved, De-identification Method and its code
//! sequence, Longitudinal Temporal Information Modified) and the file meta's implementation
//! class UID and version name.
//!
//! They are non-identifying by construction, so an audit that finds a patient's value inside
//! one of them (a StudyID `000101` inside the dummy date `19000101`) has found depot's own
//! text, not a leak. Listing them here, next to the engine that writes them, keeps the audit's
//! list from drifting away from what the engine really writes.

use dicom_core::VR;
use dicom_core::value::PrimitiveValue;

use crate::profile::Profile;
use crate::values::dummy;

/// depot's implementation class UID (a fixed UUID-derived UID) and version name, written into
/// the file meta of de-identified files in place of the source system's.
pub(crate) const IMPLEMENTATION_CLASS_UID: &str = "2.25.143286715530302467196658128404227517302";
pub(crate) const IMPLEMENTATION_VERSION_NAME: &str = "DEPOT_0_1";

/// Every VR whose dummy is text (the binary dummies are zero bytes).
const TEXT_VRS: [VR; 17] = [
    VR::AE,
    VR::AS,
    VR::CS,
    VR::DA,
    VR::DT,
    VR::TM,
    VR::DS,
    VR::IS,
    VR::LO,
    VR::LT,
    VR::SH,
    VR::ST,
    VR::UT,
    VR::UC,
    VR::PN,
    VR::UR,
    VR::UI,
];

/// Every value the engine writes under `profile` that does not depend on the data or the key,
/// as text: the dummy of each text VR, `YES`, the De-identification Method values, the code
/// values, scheme designator and meanings of its code sequence, the longitudinal flag, and
/// the implementation class UID and version name of the file meta. Keyed values (pseudonyms,
/// value codes, remapped UIDs, shifted dates) are not here: they depend on the key and the
/// subject.
pub fn written_constants(profile: &Profile) -> Vec<String> {
    let mut out: Vec<String> = TEXT_VRS
        .iter()
        .filter_map(|vr| match dummy(*vr) {
            PrimitiveValue::Str(s) => Some(s.to_string()),
            PrimitiveValue::Strs(v) => v.first().map(ToString::to_string),
            _ => None,
        })
        .collect();
    out.push("YES".to_string());
    out.extend(profile.method_description());
    for (value, meaning) in profile.method_codes() {
        out.push(value.to_string());
        out.push(meaning.to_string());
    }
    out.push("DCM".to_string());
    out.extend(profile.longitudinal_flag().map(str::to_string));
    out.push(IMPLEMENTATION_CLASS_UID.to_string());
    out.push(IMPLEMENTATION_VERSION_NAME.to_string());
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::level::{DeidOption, Level};

    #[test]
    fn constants_hold_every_text_dummy_and_the_markers() {
        let p = Profile::builtin(
            Level::AnonymizeFull,
            &[DeidOption::RetainLongitudinalModifiedDates],
        )
        .expect("profile");
        let c = written_constants(&p);
        for v in [
            "ANONYMIZED",
            "000D",
            "19000101",
            "19000101000000",
            "000000.00",
            "0",
            "urn:depot:anonymized",
            "2.25.0",
            "YES",
            "DCM",
            "113100",
            "MODIFIED",
            "depot anonymize-full",
            IMPLEMENTATION_CLASS_UID,
            IMPLEMENTATION_VERSION_NAME,
        ] {
            assert!(c.iter().any(|x| x == v), "{v} missing from {c:?}");
        }
        assert!(c.iter().any(|x| x.starts_with("rules sha256 ")));
    }
}
