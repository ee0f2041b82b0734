//! Values replaced outright: UIDs by their keyed mapping (U), values by a dummy valid for the VR
//! (D), the subject's identifiers by its pseudonym and other text by keyed value codes (P).

use dicom_core::header::Header;
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::tags;
use dicom_object::mem::InMemElement;

use crate::action::Action;
use crate::element_text::{element_texts, is_text_vr, text_value};
use crate::report::{Done, PathStep};
use crate::uids::clean_uid;
use crate::values::{dummy, max_len};

use super::deidentifier::Deidentifier;
use super::state::Walk;

impl Deidentifier {
    pub(super) fn remap_element(&self, elem: &InMemElement) -> InMemElement {
        let values: Vec<String> = elem
            .to_multi_str()
            .map(|v| v.iter().map(|u| self.map_uid(u)).collect())
            .unwrap_or_default();
        DataElement::new(elem.tag(), VR::UI, text_value(VR::UI, values))
    }

    pub(super) fn dummy_element(&self, elem: &InMemElement, vr: VR) -> InMemElement {
        let tag = elem.tag();
        if vr == VR::UI {
            let values: Vec<String> = elem
                .to_multi_str()
                .map(|v| {
                    v.iter()
                        .map(|u| clean_uid(u).to_string())
                        .filter(|u| !u.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            let mapped: Vec<String> = if values.is_empty() {
                vec![self.key.uid_for(&format!("dummy {tag}"))]
            } else {
                values.iter().map(|u| self.key.uid_for(u)).collect()
            };
            return DataElement::new(tag, VR::UI, text_value(VR::UI, mapped));
        }
        DataElement::new(tag, vr, dummy(vr))
    }

    pub(super) fn pseudonym_element(
        &self,
        elem: InMemElement,
        vr: VR,
        action: Action,
        path: &[PathStep],
        walk: &mut Walk<'_>,
    ) -> InMemElement {
        let tag = elem.tag();
        if vr == VR::UI {
            walk.record(path, tag, action, Done::UidRemapped);
            return self.remap_element(&elem);
        }
        if !is_text_vr(vr) || matches!(vr, VR::AS | VR::UR) {
            walk.record(path, tag, action, Done::Dummy);
            return self.dummy_element(&elem, vr);
        }
        walk.record(path, tag, action, Done::Pseudonymized);
        let subject_attr = tag == tags::PATIENT_ID || tag == tags::PATIENT_NAME;
        let values: Vec<String> = if subject_attr {
            vec![walk.subject.pseudonym.clone()]
        } else {
            // Each value as the characters it holds (decoded with the data set's code
            // extensions): the same text gets the same code whatever its encoding.
            element_texts(&elem, walk.ext)
                .iter()
                .map(|s| {
                    self.key
                        .value_code_for(u32::from(tag.group()) << 16 | u32::from(tag.element()), s)
                })
                .collect()
        };
        let values: Vec<String> = values
            .into_iter()
            .map(|s| s.chars().take(max_len(vr)).collect())
            .collect();
        if values.is_empty() {
            return DataElement::empty(tag, vr);
        }
        DataElement::new(tag, vr, text_value(vr, values))
    }
}
