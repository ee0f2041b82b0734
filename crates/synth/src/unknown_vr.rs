//! Files with elements encoded as UN, as PS3.5 6.2.2 allows them in explicit VR data sets: a
//! standard attribute whose VR the writer did not know holds the bytes it had in Implicit VR
//! Little Endian (numbers little endian even in a big endian file), and a UN element of
//! undefined length holds a sequence whose items are encoded in Implicit VR Little Endian.
//! DCMTK reads both; readers that take UN bytes at face value see UIDs as numbers and misread
//! the sequence's items. Also the hostile variants a reader of such sequences must refuse.
//!
//! The value bytes are written here by hand (small helpers for implicit VR elements, items and
//! sequences), the rest of the file by dicom-rs from an [`InstanceSpec`].

use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use crate::error::SynthError;
use crate::fixture::{InstanceSpec, Syntax, encode};

/// The standard attributes [`un_attributes`] encodes as UN: the three UIDs, PatientName,
/// PatientID, ImageType (multi-valued CS) and Rows (US).
pub const UN_ATTRIBUTES: [Tag; 7] = [
    tags::STUDY_INSTANCE_UID,
    tags::SERIES_INSTANCE_UID,
    tags::SOP_INSTANCE_UID,
    tags::PATIENT_NAME,
    tags::PATIENT_ID,
    tags::IMAGE_TYPE,
    tags::ROWS,
];

/// The sequence [`un_sequence`] encodes as UN of undefined length: ReferencedSeriesSequence,
/// which PS3.15 Table E.1-1 does not list (de-identification walks its items).
pub const UN_SEQUENCE_TAG: Tag = Tag(0x0008, 0x1115);
/// A name in the items of [`un_sequence`]: PerformingPhysicianName (0008,1050).
pub const UN_SEQUENCE_PHYSICIAN: &str = "UNSEQ^PHYSICIAN";
/// A name in the nested sequence of [`un_sequence`]: PersonName (0040,A123) inside
/// ReferencedSOPSequence (0008,1199).
pub const UN_SEQUENCE_PERSON: &str = "NESTED^PERSON";
/// The ReferencedSOPInstanceUID inside [`un_sequence`].
pub const UN_SEQUENCE_SOP_UID: &str = "2.25.7002";
/// The SeriesInstanceUID inside [`un_sequence`].
pub const UN_SEQUENCE_SERIES_UID: &str = "2.25.7001";
/// A private name inside [`un_sequence`], under creator "DEPOT UN TEST" in group 0009.
pub const UN_SEQUENCE_PRIVATE_NAME: &str = "PRIVATE^NAME";

/// Refuses implicit VR (which has no UN), and deflated data sets where the bytes are patched
/// after encoding (`deflated_ok` false).
fn explicit_only(spec: &InstanceSpec, deflated_ok: bool) -> Result<(), SynthError> {
    match spec.syntax {
        Syntax::ExplicitLittle | Syntax::ExplicitBig | Syntax::EncapsulatedJpegBaseline => Ok(()),
        Syntax::DeflatedExplicitLittle if deflated_ok => Ok(()),
        other => Err(SynthError::InvalidSpec {
            sop_uid: spec.sop_uid.clone(),
            reason: format!("UN elements need an explicit VR syntax, not {other:?}"),
        }),
    }
}

/// A value padded to even length as its VR pads it (NUL for UI, space for other text).
fn padded(mut bytes: Vec<u8>, vr: VR) -> Vec<u8> {
    if bytes.len() % 2 == 1 {
        bytes.push(if vr == VR::UI { 0 } else { b' ' });
    }
    bytes
}

/// The Implicit VR Little Endian value bytes of an element (text padded, numbers little
/// endian).
fn implicit_value(elem: &DataElement<InMemDicomObject>) -> Option<Vec<u8>> {
    match elem.vr() {
        VR::US => Some(
            elem.to_multi_int::<u16>()
                .ok()?
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        ),
        VR::UL => Some(
            elem.to_multi_int::<u32>()
                .ok()?
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        ),
        vr => Some(padded(elem.to_str().ok()?.into_owned().into_bytes(), vr)),
    }
}

fn un(tag: Tag, bytes: Vec<u8>) -> DataElement<InMemDicomObject> {
    DataElement::new(
        tag,
        VR::UN,
        Value::Primitive(PrimitiveValue::U8(bytes.into())),
    )
}

/// `spec` (an explicit VR syntax, deflated or not) with each of `attributes` encoded as UN holding its Implicit
/// VR Little Endian bytes, and each of `raw` added (or replaced) as UN holding the given bytes.
pub fn with_un(
    spec: &InstanceSpec,
    attributes: &[Tag],
    raw: &[(Tag, Vec<u8>)],
) -> Result<Vec<u8>, SynthError> {
    explicit_only(spec, true)?;
    let mut obj = spec.to_object()?;
    for &tag in attributes {
        let Some(bytes) = obj.get(tag).and_then(implicit_value) else {
            return Err(SynthError::InvalidSpec {
                sop_uid: spec.sop_uid.clone(),
                reason: format!("attribute {tag} is missing or has no simple value"),
            });
        };
        obj.put(un(tag, bytes));
    }
    for (tag, bytes) in raw {
        obj.put(un(*tag, bytes.clone()));
    }
    encode(obj, spec.syntax, &spec.sop_class_uid, &spec.sop_uid)
}

/// `spec` with [`UN_ATTRIBUTES`] encoded as UN.
pub fn un_attributes(spec: &InstanceSpec) -> Result<Vec<u8>, SynthError> {
    with_un(spec, &UN_ATTRIBUTES, &[])
}

/// One element in Implicit VR Little Endian: tag, 4-byte length, value (padded to even length
/// with `pad`).
pub fn implicit_element(tag: Tag, value: &[u8], pad: u8) -> Vec<u8> {
    let mut v = value.to_vec();
    if v.len() % 2 == 1 {
        v.push(pad);
    }
    let mut e = Vec::with_capacity(8 + v.len());
    e.extend_from_slice(&tag.group().to_le_bytes());
    e.extend_from_slice(&tag.element().to_le_bytes());
    e.extend_from_slice(&(v.len() as u32).to_le_bytes());
    e.extend_from_slice(&v);
    e
}

/// An item of undefined length in Implicit VR Little Endian holding `elements`, with its
/// delimiter.
pub fn implicit_item(elements: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF];
    for e in elements {
        out.extend_from_slice(e);
    }
    out.extend_from_slice(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
    out
}

/// A sequence of undefined length in Implicit VR Little Endian (header, items, delimiter).
pub fn implicit_sequence(tag: Tag, items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&tag.group().to_le_bytes());
    out.extend_from_slice(&tag.element().to_le_bytes());
    out.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
    for i in items {
        out.extend_from_slice(i);
    }
    out.extend_from_slice(&SEQUENCE_DELIMITER);
    out
}

/// The sequence delimitation item in little endian.
const SEQUENCE_DELIMITER: [u8; 8] = [0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0];

/// `spec` (an explicit VR syntax, not deflated) with `tag` added as a UN element of undefined length whose
/// value is `items` (Implicit VR Little Endian bytes), followed by the sequence delimiter when
/// `terminated` (without it the element runs to the end of the file if it is the last one).
pub fn with_un_sequence(
    spec: &InstanceSpec,
    tag: Tag,
    items: &[u8],
    terminated: bool,
) -> Result<Vec<u8>, SynthError> {
    explicit_only(spec, false)?;
    let mut value = items.to_vec();
    if terminated {
        value.extend_from_slice(&SEQUENCE_DELIMITER);
    }
    // Written as UN of defined length by dicom-rs, then its length made undefined.
    let marker_len = value.len() as u32;
    let mut obj = spec.to_object()?;
    obj.put(un(tag, value));
    let mut bytes = encode(obj, spec.syntax, &spec.sop_class_uid, &spec.sop_uid)?;
    let big = spec.syntax == Syntax::ExplicitBig;
    let u16b = |v: u16| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut header = Vec::with_capacity(12);
    header.extend_from_slice(&u16b(tag.group()));
    header.extend_from_slice(&u16b(tag.element()));
    header.extend_from_slice(b"UN\0\0");
    header.extend_from_slice(&if big {
        marker_len.to_be_bytes()
    } else {
        marker_len.to_le_bytes()
    });
    let at = bytes
        .windows(header.len())
        .position(|w| w == header.as_slice())
        .ok_or_else(|| SynthError::InvalidSpec {
            sop_uid: spec.sop_uid.clone(),
            reason: "encoded UN header not found".into(),
        })?;
    bytes.splice(at + 8..at + 12, [0xFF; 4]);
    Ok(bytes)
}

/// The items of [`un_sequence`]: one item holding PerformingPhysicianName
/// [`UN_SEQUENCE_PHYSICIAN`], SeriesInstanceUID [`UN_SEQUENCE_SERIES_UID`], a private block
/// naming [`UN_SEQUENCE_PRIVATE_NAME`], and a nested ReferencedSOPSequence (undefined length)
/// whose item holds a SOP class and instance ([`UN_SEQUENCE_SOP_UID`]) and PersonName
/// [`UN_SEQUENCE_PERSON`].
pub fn un_sequence_items() -> Vec<u8> {
    let nested = implicit_sequence(
        tags::REFERENCED_SOP_SEQUENCE,
        &[implicit_item(&[
            implicit_element(
                tags::REFERENCED_SOP_CLASS_UID,
                b"1.2.840.10008.5.1.4.1.1.4",
                0,
            ),
            implicit_element(
                tags::REFERENCED_SOP_INSTANCE_UID,
                UN_SEQUENCE_SOP_UID.as_bytes(),
                0,
            ),
            implicit_element(tags::PERSON_NAME, UN_SEQUENCE_PERSON.as_bytes(), b' '),
        ])],
    );
    implicit_item(&[
        implicit_element(
            tags::PERFORMING_PHYSICIAN_NAME,
            UN_SEQUENCE_PHYSICIAN.as_bytes(),
            b' ',
        ),
        nested,
        implicit_element(Tag(0x0009, 0x0010), b"DEPOT UN TEST", b' '),
        implicit_element(
            Tag(0x0009, 0x1001),
            UN_SEQUENCE_PRIVATE_NAME.as_bytes(),
            b' ',
        ),
        implicit_element(
            tags::SERIES_INSTANCE_UID,
            UN_SEQUENCE_SERIES_UID.as_bytes(),
            0,
        ),
    ])
}

/// `spec` (an explicit VR syntax) with [`UN_SEQUENCE_TAG`] encoded as UN of undefined length
/// holding [`un_sequence_items`].
pub fn un_sequence(spec: &InstanceSpec) -> Result<Vec<u8>, SynthError> {
    with_un_sequence(spec, UN_SEQUENCE_TAG, &un_sequence_items(), true)
}
