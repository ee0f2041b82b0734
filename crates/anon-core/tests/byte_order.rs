//! Binary values beyond the table (anonymize-full) in both byte orders: a big endian file
//! stores the words of OW and the units of OL, OF, OD and OV with their bytes the other way
//! round, so text written into such a value reads reversed unit by unit once dicom-rs holds it
//! as numbers. The engine zeroes the subject's identifiers in either order; Pixel Data is
//! never changed.

use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{DefaultDicomObject, InMemDicomObject};

use anon_core::{Deidentifier, Key, Level, Profile};

/// PointCoordinatesData (0066,0016), OF: not in the table.
const POINT_COORDINATES: Tag = Tag(0x0066, 0x0016);
/// DoublePointCoordinatesData (0066,0022), OD: not in the table.
const DOUBLE_POINT_COORDINATES: Tag = Tag(0x0066, 0x0022);
/// LongPrimitivePointIndexList (0066,0040), OL: not in the table.
const LONG_INDEX_LIST: Tag = Tag(0x0066, 0x0040);

/// `text` padded to a multiple of 8 bytes with `x`.
fn padded(text: &[u8]) -> Vec<u8> {
    let mut b = text.to_vec();
    while !b.len().is_multiple_of(8) {
        b.push(b'x');
    }
    b
}

/// A value of `vr` whose bytes in a file of the given byte order are `disk`.
fn value(vr: VR, disk: &[u8], big_endian: bool) -> PrimitiveValue {
    macro_rules! units {
        ($t:ty, $n:expr) => {
            disk.chunks($n)
                .map(|c| {
                    let a: [u8; $n] = c.try_into().expect("whole units");
                    if big_endian {
                        <$t>::from_be_bytes(a)
                    } else {
                        <$t>::from_le_bytes(a)
                    }
                })
                .collect()
        };
    }
    match vr {
        VR::OW => PrimitiveValue::U16(units!(u16, 2)),
        VR::OL => PrimitiveValue::U32(units!(u32, 4)),
        VR::OF => PrimitiveValue::F32(units!(f32, 4)),
        VR::OD => PrimitiveValue::F64(units!(f64, 8)),
        _ => PrimitiveValue::U8(disk.to_vec().into()),
    }
}

fn file(big_endian: bool) -> DefaultDicomObject {
    let el = |tag, vr, v: &str| DataElement::new(tag, vr, PrimitiveValue::from(v));
    let bin =
        |tag, vr, text: &[u8]| DataElement::new(tag, vr, value(vr, &padded(text), big_endian));
    let ts = if big_endian {
        // Explicit VR Big Endian (retired, still met in archives).
        "1.2.840.10008.1.2.2"
    } else {
        uids::EXPLICIT_VR_LITTLE_ENDIAN
    };
    InMemDicomObject::from_element_iter([
        el(tags::SOP_CLASS_UID, VR::UI, uids::MR_IMAGE_STORAGE),
        el(tags::SOP_INSTANCE_UID, VR::UI, "2.25.5501"),
        el(
            tags::PATIENT_NAME,
            VR::PN,
            "Thistlewaite^Bartholomew^Quincy",
        ),
        el(tags::PATIENT_ID, VR::LO, "TX-4471-B"),
        bin(
            tags::RED_PALETTE_COLOR_LOOKUP_TABLE_DATA,
            VR::OW,
            b"xxTHISTLEWAITE_TX-4471-Bxx",
        ),
        bin(POINT_COORDINATES, VR::OF, b"pt BARTHOLOMEW, "),
        bin(DOUBLE_POINT_COORDINATES, VR::OD, b"dp Thistlewaite "),
        bin(LONG_INDEX_LIST, VR::OL, b"ol Quincy TX-4471-B."),
        bin(tags::PIXEL_DATA, VR::OW, b"px BARTHOLOMEW THISTLEWAITE"),
    ])
    .with_meta(
        FileMetaTableBuilder::new()
            .transfer_syntax(ts)
            .media_storage_sop_class_uid(uids::MR_IMAGE_STORAGE)
            .media_storage_sop_instance_uid("2.25.5501"),
    )
    .expect("meta")
}

fn bytes_of(obj: &DefaultDicomObject) -> Vec<u8> {
    let mut bytes = Vec::new();
    obj.write_all(&mut bytes).expect("write");
    bytes
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn identifiers_in_non_table_binary_values_are_zeroed_in_either_byte_order() {
    for big_endian in [false, true] {
        let written = bytes_of(&file(big_endian));
        // The file holds the text as written, in its own byte order.
        assert!(
            contains(&written, b"THISTLEWAITE_TX-4471-B"),
            "big endian {big_endian}"
        );
        let original = dicom_object::from_reader(&written[128..]).expect("read");
        let d = Deidentifier::new(
            Profile::builtin(Level::AnonymizeFull, &[]).expect("profile"),
            Key::from_bytes([5; 32]),
        );
        let mut obj = original.clone();
        d.apply(&mut obj, &d.subject_context(&original))
            .expect("apply");
        let out = bytes_of(&obj);
        let pixels = out
            .windows(8)
            .rposition(|w| w == b"px BARTH")
            .expect("pixel data kept as it was");
        let header = &out[..pixels];
        for gone in [
            &b"THISTLEWAITE"[..],
            b"TX-4471-B",
            b"BARTHOLOMEW",
            b"Thistlewaite",
            b"Quincy",
        ] {
            assert!(
                !contains(header, gone),
                "big endian {big_endian}: {} survived",
                String::from_utf8_lossy(gone)
            );
        }
        for kept in [&b"xx\0\0"[..], b"pt \0", b"dp \0", b"ol \0"] {
            assert!(
                contains(header, kept),
                "big endian {big_endian}: only the identifiers are zeroed ({})",
                String::from_utf8_lossy(kept)
            );
        }
        assert!(
            contains(&out[pixels..], b"px BARTHOLOMEW THISTLEWAITE"),
            "big endian {big_endian}: Pixel Data is never cleaned"
        );
    }
}
