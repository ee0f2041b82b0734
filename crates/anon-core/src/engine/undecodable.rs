//! Text dicom-rs could not decode: writing it back would corrupt it, so the engine refuses
//! the object instead (naming the attribute, never the value).

use dicom_core::VR;
use dicom_core::header::Header;
use dicom_core::value::{PrimitiveValue, Value};
use dicom_object::InMemDicomObject;

use crate::report::{PathStep, with_step};

/// Whether a decoded value shows that dicom-rs could not decode its bytes: dicom-rs splits
/// values on the byte 0x5C before decoding, and writes a byte it cannot decode as `\ooo`. A
/// backslash therefore never stands in a correctly decoded value; where it does (GB18030, GBK
/// or Shift JIS text with 0x5C as a character's second byte, or bytes invalid in the declared
/// character set), writing the value back would corrupt it.
fn undecodable(value: &str) -> bool {
    value.contains('\\')
}

/// The first text value, at any depth, that dicom-rs could not decode (see [`undecodable`]).
/// Only the VRs it splits on backslashes: in LT, ST, UT and UR a backslash is text.
pub(super) fn first_undecodable(ds: &InMemDicomObject, path: &mut Vec<PathStep>) -> Option<String> {
    for e in ds.iter() {
        let tag = e.tag();
        match e.value() {
            Value::Sequence(seq) => {
                for (i, item) in seq.items().iter().enumerate() {
                    path.push(PathStep {
                        tag,
                        item: Some(i as u32),
                    });
                    let found = first_undecodable(item, path);
                    path.pop();
                    if found.is_some() {
                        return found;
                    }
                }
            }
            Value::Primitive(PrimitiveValue::Strs(values))
                if !matches!(e.vr(), VR::LT | VR::ST | VR::UT | VR::UR)
                    && values.iter().any(|v| undecodable(v)) =>
            {
                return Some(with_step(path, tag).to_string());
            }
            _ => {}
        }
    }
    None
}
