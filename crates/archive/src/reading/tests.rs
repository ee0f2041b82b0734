//! Tests of the bytes handed to dicom-rs: UN elements re-encoded with their dictionary VR (or
//! kept UN), UN sequences re-encoded as SQ (or refused), header-only scans, file headers.

use dicom_core::value::Value;
use dicom_core::{Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, InMemDicomObject, OpenFileOptions};
use synth::fixture::{InstanceSpec, Syntax};
use synth::unknown_vr::{self as un, implicit_element, implicit_item, implicit_sequence};

use super::*;
use crate::scan::{self, Options, Reading, ScanError};

fn spec(syntax: Syntax) -> InstanceSpec {
    InstanceSpec {
        syntax,
        rows: 300,
        ..InstanceSpec::default()
    }
}

fn parse(bytes: &[u8]) -> DefaultDicomObject {
    OpenFileOptions::new()
        .from_reader(bytes.get(128..).expect("a preamble"))
        .expect("dicom-rs reads the copy")
}

fn vr_and_text(obj: &InMemDicomObject, tag: Tag) -> (VR, String) {
    let e = obj.get(tag).unwrap_or_else(|| panic!("{tag} missing"));
    (e.vr(), e.to_str().expect("text").trim().to_string())
}

#[test]
fn un_attributes_get_their_dictionary_vr_in_every_explicit_syntax() {
    for syntax in [
        Syntax::ExplicitLittle,
        Syntax::ExplicitBig,
        Syntax::DeflatedExplicitLittle,
        Syntax::EncapsulatedJpegBaseline,
    ] {
        let s = spec(syntax);
        let bytes = un::un_attributes(&s).unwrap();
        let read = readable(&bytes, true).unwrap();
        assert!(read.is_copy(), "{syntax:?}");
        let obj = parse(&read.bytes);
        assert_eq!(obj.meta().transfer_syntax(), syntax.uid(), "{syntax:?}");
        for (tag, vr, want) in [
            (tags::STUDY_INSTANCE_UID, VR::UI, s.study_uid.as_str()),
            (tags::SERIES_INSTANCE_UID, VR::UI, &s.series_uid),
            (tags::SOP_INSTANCE_UID, VR::UI, &s.sop_uid),
            (tags::PATIENT_NAME, VR::PN, &s.patient_name),
            (tags::PATIENT_ID, VR::LO, &s.patient_id),
        ] {
            assert_eq!(vr_and_text(&obj, tag), (vr, want.to_string()), "{syntax:?}");
        }
        let types = obj.get(tags::IMAGE_TYPE).unwrap();
        assert_eq!(types.vr(), VR::CS);
        assert_eq!(types.to_multi_str().unwrap().len(), 4, "{syntax:?}");
        // Rows: little endian in the UN bytes, swapped for a big endian data set.
        let rows = obj.get(tags::ROWS).unwrap();
        assert_eq!(rows.vr(), VR::US);
        assert_eq!(rows.to_int::<u16>().unwrap(), 300, "{syntax:?}");
    }
}

#[test]
fn files_without_un_elements_are_not_copied() {
    let bytes = spec(Syntax::ExplicitLittle).to_bytes().unwrap();
    let read = readable(&bytes, true).unwrap();
    assert!(!read.is_copy());
    assert_eq!(read.layout, scan::check(&bytes, true).unwrap());
}

#[test]
fn values_that_break_their_vr_and_private_elements_stay_un() {
    let s = spec(Syntax::ExplicitLittle);
    let bytes = un::with_un(
        &s,
        &[],
        &[
            (tags::PATIENT_NAME, b"BAD\x01NAME".to_vec()),
            (tags::STUDY_INSTANCE_UID, b"1.2.3.abc".to_vec()),
            // UL: six bytes are no whole number of 4-byte values.
            (tags::NUMBER_OF_WAVEFORM_SAMPLES, vec![1, 2, 3, 4, 5, 6]),
            (Tag(0x0019, 0x1001), b"PRIVATE ".to_vec()),
        ],
    )
    .unwrap();
    let obj = parse(&readable(&bytes, true).unwrap().bytes);
    for tag in [
        tags::PATIENT_NAME,
        tags::STUDY_INSTANCE_UID,
        tags::NUMBER_OF_WAVEFORM_SAMPLES,
        Tag(0x0019, 0x1001),
    ] {
        assert_eq!(obj.get(tag).unwrap().vr(), VR::UN, "{tag}");
    }
}

#[test]
fn un_sequences_of_undefined_length_become_sq_with_explicit_items() {
    for syntax in [Syntax::ExplicitLittle, Syntax::ExplicitBig] {
        let bytes = un::un_sequence(&spec(syntax)).unwrap();
        // As dicom-rs reads it, the file is garbage past the UN element; the standard's
        // reading walks the implicit VR items.
        assert!(scan::check(&bytes, true).is_err(), "{syntax:?}");
        let read = readable(&bytes, true).unwrap();
        let obj = parse(&read.bytes);
        let seq = obj.get(un::UN_SEQUENCE_TAG).unwrap();
        assert_eq!(seq.vr(), VR::SQ);
        let items = seq.items().expect("items");
        assert_eq!(items.len(), 1);
        let item = &items[0];
        assert_eq!(
            vr_and_text(item, tags::PERFORMING_PHYSICIAN_NAME),
            (VR::PN, un::UN_SEQUENCE_PHYSICIAN.to_string())
        );
        assert_eq!(
            vr_and_text(item, tags::SERIES_INSTANCE_UID),
            (VR::UI, un::UN_SEQUENCE_SERIES_UID.to_string())
        );
        assert_eq!(
            vr_and_text(item, Tag(0x0009, 0x0010)),
            (VR::LO, "DEPOT UN TEST".to_string())
        );
        assert_eq!(item.get(Tag(0x0009, 0x1001)).unwrap().vr(), VR::UN);
        let nested = item.get(tags::REFERENCED_SOP_SEQUENCE).unwrap();
        assert_eq!(nested.vr(), VR::SQ);
        let inner = &nested.items().unwrap()[0];
        assert_eq!(
            vr_and_text(inner, tags::PERSON_NAME),
            (VR::PN, un::UN_SEQUENCE_PERSON.to_string())
        );
        assert_eq!(
            vr_and_text(inner, tags::REFERENCED_SOP_INSTANCE_UID),
            (VR::UI, un::UN_SEQUENCE_SOP_UID.to_string())
        );
        // The elements after the sequence are read in step.
        assert_eq!(
            obj.get(tags::PATIENT_NAME)
                .unwrap()
                .to_str()
                .unwrap()
                .trim(),
            "HALVORSEN^INGRID"
        );
        assert!(matches!(
            obj.get(tags::PIXEL_DATA).map(|e| e.value()),
            Some(Value::Primitive(_))
        ));
    }
}

#[test]
fn a_standard_sequence_as_un_of_defined_length_becomes_sq_when_its_items_are_well_formed() {
    let s = spec(Syntax::ExplicitBig);
    let items = un::un_sequence_items();
    let mut broken = items.clone();
    broken.truncate(items.len() - 4);
    let bytes = un::with_un(
        &s,
        &[],
        &[
            (un::UN_SEQUENCE_TAG, items),
            (tags::REFERENCED_IMAGE_SEQUENCE, broken.clone()),
        ],
    )
    .unwrap();
    let obj = parse(&readable(&bytes, true).unwrap().bytes);
    let seq = obj.get(un::UN_SEQUENCE_TAG).unwrap();
    assert_eq!(seq.vr(), VR::SQ);
    assert_eq!(
        vr_and_text(&seq.items().unwrap()[0], tags::PERFORMING_PHYSICIAN_NAME).0,
        VR::PN
    );
    // Items that do not parse stay opaque bytes, byte for byte.
    let kept = obj.get(tags::REFERENCED_IMAGE_SEQUENCE).unwrap();
    assert_eq!(kept.vr(), VR::UN);
    assert_eq!(kept.to_bytes().unwrap().as_ref(), &broken[..]);
}

/// A UN sequence as the last element of a file: `items` is its whole value.
fn trailing_un(items: &[u8], terminated: bool) -> Vec<u8> {
    let s = InstanceSpec {
        // No pixel data after it: the sequence may run to the end of the file.
        sr: Some(Default::default()),
        ..spec(Syntax::ExplicitLittle)
    };
    un::with_un_sequence(&s, Tag(0x7FE1, 0x1010), items, terminated).unwrap()
}

#[test]
fn a_un_sequence_never_terminated_is_refused_as_truncated() {
    let mut items = implicit_item(&[implicit_element(Tag(0x7FE1, 0x0010), b"DEPOT", b' ')]);
    let bytes = trailing_un(&items, false);
    let err = readable(&bytes, true).unwrap_err();
    assert!(
        matches!(
            err,
            ScanError::Truncated {
                group: 0xFFFE,
                element: 0xE000
            }
        ),
        "{err}"
    );
    // An item never closed either.
    items.truncate(items.len() - 8);
    let err = readable(&trailing_un(&items, false), true).unwrap_err();
    assert!(matches!(err, ScanError::Truncated { .. }), "{err}");
    // Terminated, the same file reads.
    items = implicit_item(&[implicit_element(Tag(0x7FE1, 0x0010), b"DEPOT", b' ')]);
    readable(&trailing_un(&items, true), true).unwrap();
}

#[test]
fn un_items_that_overrun_are_refused() {
    // An item of defined length longer than the file.
    let mut item = vec![0xFE, 0xFF, 0x00, 0xE0];
    item.extend_from_slice(&0x0010_0000u32.to_le_bytes());
    item.extend(implicit_element(tags::PERSON_NAME, b"OVER^RUN", b' '));
    let err = readable(&trailing_un(&item, true), true).unwrap_err();
    assert!(
        matches!(
            err,
            ScanError::Length {
                group: 0xFFFE,
                element: 0xE000,
                declared: 0x0010_0000,
                ..
            }
        ),
        "{err}"
    );
    // An element running past the end of its item.
    let inner = implicit_element(tags::PERSON_NAME, b"OVER^RUN", b' ');
    let mut item = vec![0xFE, 0xFF, 0x00, 0xE0];
    item.extend_from_slice(&((inner.len() - 4) as u32).to_le_bytes());
    item.extend_from_slice(&inner);
    let err = readable(&trailing_un(&item, true), true).unwrap_err();
    assert!(
        matches!(&err, ScanError::Malformed(m) if m.contains("runs past the end of its item")),
        "{err}"
    );
}

#[test]
fn un_sequences_nested_too_deep_are_refused() {
    // 100 implicit VR sequences of undefined length, one inside the other's item.
    let mut value = implicit_item(&[implicit_element(tags::PERSON_NAME, b"DEEP", b' ')]);
    for _ in 0..100 {
        value = implicit_item(&[implicit_sequence(tags::REFERENCED_SOP_SEQUENCE, &[value])]);
    }
    let err = readable(&trailing_un(&value, true), true).unwrap_err();
    assert_eq!(err, ScanError::TooDeep);
    // Nested within the limit, it reads.
    let mut value = implicit_item(&[implicit_element(tags::PERSON_NAME, b"DEEP", b' ')]);
    for _ in 0..20 {
        value = implicit_item(&[implicit_sequence(tags::REFERENCED_SOP_SEQUENCE, &[value])]);
    }
    readable(&trailing_un(&value, true), true).unwrap();
}

#[test]
fn header_only_scans_stop_at_the_pixel_data() {
    let bytes = spec(Syntax::ExplicitLittle).to_bytes().unwrap();
    let whole = scan::check(&bytes, true).unwrap();
    let pixel = whole.pixel_data.clone().unwrap();
    // Cut inside the pixel data: the header is still whole.
    let cut = &bytes[..bytes.len() - 10];
    let options = Options {
        reading: Reading::Standard,
        header_only: true,
    };
    let head = scan::check_reader_with(cut, cut.len() as u64, true, options).unwrap();
    assert_eq!(head.pixel_data, Some(pixel.start..pixel.start));
    assert!(scan::check_reader(cut, cut.len() as u64, true).is_err());
}

#[test]
fn headers_are_taken_from_the_first_bytes_read() {
    use dicom_core::{DataElement, PrimitiveValue};
    use dicom_object::meta::FileMetaTableBuilder;
    let dir = tempfile::tempdir().unwrap();
    // 512 x 512 x 16 bit: the header is a few kilobytes, the pixel data half a megabyte.
    let spec = InstanceSpec {
        rows: 512,
        columns: 512,
        ..spec(Syntax::ExplicitLittle)
    };
    let small = spec.to_bytes().unwrap();
    // The same instance with a text value (UT) of `len` bytes in its header.
    let with_text = |len: usize| {
        let mut obj = spec.to_object().unwrap();
        obj.put(DataElement::new(
            Tag(0x0040, 0xA160),
            VR::UT,
            PrimitiveValue::from("x".repeat(len)),
        ));
        let meta = FileMetaTableBuilder::new()
            .transfer_syntax(Syntax::ExplicitLittle.uid())
            .media_storage_sop_class_uid(spec.sop_class_uid.as_str())
            .media_storage_sop_instance_uid(spec.sop_uid.as_str());
        let mut out = Vec::new();
        obj.with_meta(meta).unwrap().write_all(&mut out).unwrap();
        out
    };
    // Longer than the first read, shorter than what is read into memory: 30 kB.
    let medium = with_text(30_000);
    // Longer than what is read into memory: 100 kB.
    let long = with_text(100_000);
    for (bytes, in_memory) in [(small, true), (medium, true), (long, false)] {
        let path = dir.path().join("f.dcm");
        std::fs::write(&path, &bytes).unwrap();
        let pixel = scan::check(&bytes, true)
            .unwrap()
            .pixel_data_in_file()
            .unwrap();
        match header_source(&path, bytes.len() as u64, true, true)
            .unwrap()
            .0
        {
            HeaderSource::Memory(header) => {
                assert!(in_memory, "a 100 kB header is parsed from the file");
                assert_eq!(
                    header,
                    bytes[..pixel.start + 12],
                    "the header and Pixel Data's tag, VR and length, not its value"
                );
                // Parsed as the export's plan parses it: up to Pixel Data, where it stops.
                let obj = OpenFileOptions::new()
                    .read_until(tags::PIXEL_DATA)
                    .from_reader(&header[128..])
                    .expect("dicom-rs reads the header");
                assert_eq!(vr_and_text(&obj, tags::SOP_INSTANCE_UID).1, spec.sop_uid);
                assert!(obj.get(tags::PIXEL_DATA).is_none());
            }
            HeaderSource::Disk => {
                assert!(!in_memory, "a small header is kept from the first read");
                assert!(pixel.start > 64 << 10);
            }
        }
    }
}

#[test]
fn a_header_in_memory_ends_with_the_pixel_data_tag_in_every_syntax() {
    let dir = tempfile::tempdir().unwrap();
    for syntax in [
        Syntax::ExplicitLittle,
        Syntax::ImplicitLittle,
        Syntax::ExplicitBig,
        Syntax::EncapsulatedJpegBaseline,
    ] {
        let spec = spec(syntax);
        let bytes = spec.to_bytes().unwrap();
        let path = dir.path().join("f.dcm");
        std::fs::write(&path, &bytes).unwrap();
        let pixel = scan::check(&bytes, true)
            .unwrap()
            .pixel_data_in_file()
            .unwrap();
        let HeaderSource::Memory(header) = header_source(&path, bytes.len() as u64, true, true)
            .unwrap()
            .0
        else {
            panic!("{syntax:?}: a small header is kept from the first read");
        };
        // Pixel Data's tag, VR and length (8 or 12 bytes; 12 kept, never read past the header).
        assert_eq!(header, bytes[..pixel.start + 12], "{syntax:?}");
        let obj = OpenFileOptions::new()
            .read_until(tags::PIXEL_DATA)
            .from_reader(&header[128..])
            .unwrap_or_else(|e| panic!("{syntax:?}: {e}"));
        assert_eq!(vr_and_text(&obj, tags::SOP_INSTANCE_UID).1, spec.sop_uid);
        assert!(obj.get(tags::PIXEL_DATA).is_none());
    }
}
