//! D on a sequence: the items stay (so the object keeps its structure and its references
//! resolve), every value in them becomes a dummy.

use dicom_core::header::Header;
use dicom_core::value::{DataSetSequence, Value};
use dicom_core::{DataElement, Length, VR};
use dicom_object::InMemDicomObject;
use dicom_object::mem::InMemElement;

use crate::action::Resolved;
use crate::element_text::effective_vr;
use crate::error::AnonError;
use crate::profile::PrivatePolicy;
use crate::uids::CLASS_UID_TAGS;

use super::deidentifier::Deidentifier;
use super::state::MAX_DEPTH;

/// VRs kept as they are inside a sequence whose values become dummies (D): enumerated code
/// strings and numbers, which cannot identify anyone and carry the object's structure.
fn keeps_under_dummy(vr: VR) -> bool {
    matches!(
        vr,
        VR::CS
            | VR::US
            | VR::SS
            | VR::UL
            | VR::SL
            | VR::UV
            | VR::SV
            | VR::FL
            | VR::FD
            | VR::DS
            | VR::IS
            | VR::AT
            | VR::OF
            | VR::OD
            | VR::OL
            | VR::OV
    )
}

impl Deidentifier {
    /// A sequence with the same items, every value in them replaced by a dummy valid for its
    /// VR (UIDs remapped, well-known ones kept), nested sequences likewise; private attributes
    /// kept only when the profile keeps private attributes as they are.
    pub(super) fn dummy_sequence(
        &self,
        elem: InMemElement,
        depth: usize,
    ) -> Result<InMemElement, AnonError> {
        if depth > MAX_DEPTH {
            return Err(AnonError::TooDeep {
                path: elem.tag().to_string(),
                limit: MAX_DEPTH,
            });
        }
        let tag = elem.tag();
        let Value::Sequence(seq) = elem.into_value() else {
            return Ok(DataElement::empty(tag, VR::SQ));
        };
        let keep_private = self.profile.private_policy() == PrivatePolicy::Keep;
        let mut items = Vec::with_capacity(seq.items().len());
        for item in seq.into_items() {
            let mut out = Vec::new();
            for e in item {
                let t = e.tag();
                if t.element() == 0x0000 || (t.group() % 2 == 1 && !keep_private) {
                    continue;
                }
                // A UN-encoded standard attribute is read as its own VR (see `unknown`); a
                // value kept below stays as it came, the others become dummies, so how its
                // text is encoded does not matter here.
                let (e, original) = match crate::unknown::as_dictionary_text(&e, None) {
                    Some(read) => (read, Some(e)),
                    None => (e, None),
                };
                let vr = effective_vr(&e);
                // An attribute with a rule of its own that removes or empties it (PatientSex,
                // PatientWeight, GPS coordinates, ...) gets that rule here too: keeping codes
                // and numbers below must never keep what the profile takes away elsewhere.
                match self.profile.lookup(t).map(|r| r.action.resolve()) {
                    Some(Resolved::Remove) => continue,
                    Some(Resolved::Empty) => {
                        let empty_vr = if matches!(e.value(), Value::Sequence(_)) {
                            VR::SQ
                        } else {
                            vr
                        };
                        out.push(DataElement::empty(t, empty_vr));
                        continue;
                    }
                    _ => {}
                }
                let kept = |e: InMemElement| original.clone().unwrap_or(e);
                out.push(match e.value() {
                    Value::Sequence(_) => self.dummy_sequence(e, depth + 1)?,
                    Value::PixelSequence(_) => DataElement::empty(t, vr),
                    // Class and definition UIDs name kinds of object, not patients; with
                    // retain-uids every UID stays. So references still resolve.
                    Value::Primitive(_)
                        if vr == VR::UI
                            && (CLASS_UID_TAGS.contains(&t) || !self.profile.remaps_uids()) =>
                    {
                        kept(e)
                    }
                    Value::Primitive(_) if vr == VR::UI => self.remap_element(&e),
                    // Enumerated codes (an SR tree's ValueType and RelationshipType, a
                    // presentation state's GraphicLayer and GraphicType) and numbers (units,
                    // coordinates, counts) cannot name anyone and hold the structure together,
                    // so the object still parses: only text, codes, dates and binary values
                    // become dummies.
                    Value::Primitive(_) if keeps_under_dummy(vr) => kept(e),
                    Value::Primitive(_) => self.dummy_element(&e, vr),
                });
            }
            items.push(InMemDicomObject::from_element_iter(out));
        }
        Ok(DataElement::new(
            tag,
            VR::SQ,
            DataSetSequence::new(items, Length::UNDEFINED),
        ))
    }
}
