//! The de-identification markers a file claiming identity removal carries: Patient Identity
//! Removed, De-identification Method and its code sequence, Longitudinal Temporal Information
//! Modified (PS3.15 E.1.1).

use dicom_core::header::Header;
use dicom_core::value::{DataSetSequence, PrimitiveValue};
use dicom_core::{DataElement, Length, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use dicom_object::mem::InMemElement;

use crate::element_text::text_value;
use crate::report::{AppliedAction, Done, Report, with_step};

use super::deidentifier::Deidentifier;

impl Deidentifier {
    pub(super) fn add_markers(&self, ds: &mut InMemDicomObject, report: &mut Report) {
        let mut put = |ds: &mut InMemDicomObject, elem: InMemElement| {
            report.actions.push(AppliedAction {
                path: with_step(&[], elem.tag()),
                action: None,
                done: Done::Added,
            });
            ds.put(elem);
        };
        put(
            ds,
            DataElement::new(
                tags::PATIENT_IDENTITY_REMOVED,
                VR::CS,
                PrimitiveValue::from("YES"),
            ),
        );
        put(
            ds,
            DataElement::new(
                tags::DEIDENTIFICATION_METHOD,
                VR::LO,
                text_value(VR::LO, self.profile.method_description()),
            ),
        );
        let codes = self.profile.method_codes();
        if codes.is_empty() {
            ds.remove_element(tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE);
        } else {
            let items: Vec<InMemDicomObject> = codes
                .iter()
                .map(|(value, meaning)| {
                    InMemDicomObject::from_element_iter([
                        DataElement::new(tags::CODE_VALUE, VR::SH, PrimitiveValue::from(*value)),
                        DataElement::new(
                            tags::CODING_SCHEME_DESIGNATOR,
                            VR::SH,
                            PrimitiveValue::from("DCM"),
                        ),
                        DataElement::new(
                            tags::CODE_MEANING,
                            VR::LO,
                            PrimitiveValue::from(*meaning),
                        ),
                    ])
                })
                .collect();
            put(
                ds,
                DataElement::new(
                    tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE,
                    VR::SQ,
                    DataSetSequence::new(items, Length::UNDEFINED),
                ),
            );
        }
        if let Some(flag) = self.profile.longitudinal_flag() {
            put(
                ds,
                DataElement::new(
                    tags::LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED,
                    VR::CS,
                    PrimitiveValue::from(flag),
                ),
            );
        }
    }
}
