//! De-identifying whole files: every transfer syntax round-trips (output keeps the input's
//! syntax and pixel bytes), no planted identifier survives in any byte at anonymize-full,
//! references between files resolve to the new UIDs, and hostile files are rejected cleanly.

use anon_core::{DeidOption, Deidentifier, Key, Level, Profile};
use dicom_core::header::Header;
use dicom_dictionary_std::tags;
use export::deid_file::{DeidFileError, deidentify_bytes, parse};
use synth::fixture::{self, InstanceSpec, MissingUid, SopReference, Syntax};

fn engine(level: Level, options: &[DeidOption]) -> Deidentifier {
    Deidentifier::new(
        Profile::builtin(level, options).expect("profile"),
        Key::from_bytes([5; 32]),
    )
}

/// Every spelling of `needle` that could sit in the bytes: UTF-8 and ISO 8859-1, any ASCII case.
fn leaks(haystack: &[u8], needle: &str) -> bool {
    let mut forms = vec![needle.as_bytes().to_vec()];
    if let Some(l1) = needle
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect::<Option<Vec<u8>>>()
    {
        forms.push(l1);
    }
    forms
        .iter()
        .any(|f| !f.is_empty() && haystack.windows(f.len()).any(|w| w.eq_ignore_ascii_case(f)))
}

fn pixel_bytes(bytes: &[u8]) -> Vec<u8> {
    let obj = parse(bytes, false).expect("parse");
    let Some(e) = obj.get(tags::PIXEL_DATA) else {
        return Vec::new();
    };
    match e.value() {
        dicom_core::value::Value::Primitive(p) => p.to_bytes().into_owned(),
        dicom_core::value::Value::PixelSequence(s) => {
            s.fragments().iter().flatten().copied().collect()
        }
        dicom_core::value::Value::Sequence(_) => Vec::new(),
    }
}

fn hard(syntax: Syntax, name: &str) -> InstanceSpec {
    let mut spec = fixture::instance("MRN-77", "2.25.71", "2.25.72", "2.25.73").with_hard_cases();
    spec.syntax = syntax;
    spec.patient_name = name.to_string();
    spec
}

#[test]
fn every_syntax_round_trips_without_identifiers() {
    let d = engine(Level::AnonymizeFull, &[]);
    for syntax in Syntax::ALL {
        let spec = hard(syntax, "MÜLLER-LÜDENSCHEIDT^JÖRG");
        let input = spec.to_bytes().expect("fixture");
        let out = deidentify_bytes(&d, &input, &[]).unwrap_or_else(|e| panic!("{syntax:?}: {e}"));
        let reparsed = parse(&out.bytes, false)
            .unwrap_or_else(|e| panic!("{syntax:?} output unreadable: {e}"));
        assert_eq!(
            reparsed.meta().transfer_syntax().trim_end_matches('\0'),
            syntax.uid(),
            "{syntax:?}"
        );
        assert_eq!(
            pixel_bytes(&out.bytes),
            pixel_bytes(&input),
            "{syntax:?}: pixel data changed"
        );
        assert!(
            out.bytes
                .get(..128)
                .is_some_and(|p| p.iter().all(|b| *b == 0)),
            "preamble zeroed"
        );
        for phi in spec.phi() {
            if syntax != Syntax::DeflatedExplicitLittle {
                assert!(
                    !leaks(&out.bytes, &phi),
                    "{syntax:?}: {phi:?} left in the output bytes"
                );
            }
            // Deflated files are compressed: check the decoded values instead.
            for e in reparsed.iter() {
                if let Ok(s) = e.to_str() {
                    assert!(
                        !s.to_lowercase().contains(&phi.to_lowercase()),
                        "{syntax:?}: {phi:?} in {}",
                        e.tag()
                    );
                }
            }
        }
        let rel = out.rel_path.to_string_lossy().to_string();
        assert!(
            rel.starts_with(&out.pseudonym) && rel.ends_with(".dcm") && !rel.contains("MRN"),
            "{rel}"
        );
    }
}

#[test]
fn sr_references_resolve_to_the_new_image_uids() {
    let d = engine(Level::AnonymizeFull, &[]);
    let image = fixture::instance("MRN-9", "2.25.900", "2.25.901", "2.25.902");
    let sr = fixture::sr_document(
        "MRN-9",
        "2.25.900",
        "2.25.903",
        "2.25.904",
        vec![SopReference {
            series_uid: "2.25.901".into(),
            sop_class_uid: image.sop_class_uid.clone(),
            sop_uid: "2.25.902".into(),
        }],
    );
    let img_out = deidentify_bytes(&d, &image.to_bytes().expect("img"), &[]).expect("image");
    let sr_out = deidentify_bytes(&d, &sr.to_bytes().expect("sr"), &[]).expect("sr");
    let new_image_uid = img_out
        .report
        .new_sop_instance_uid
        .clone()
        .expect("remapped");
    let text = String::from_utf8_lossy(&sr_out.bytes).to_string();
    assert!(
        text.contains(&new_image_uid),
        "SR must reference the image's new UID"
    );
    assert!(!text.contains("2.25.902"), "old UID gone");
    assert_eq!(
        img_out.pseudonym, sr_out.pseudonym,
        "same subject, same pseudonym"
    );
    for phi in sr.phi() {
        assert!(!leaks(&sr_out.bytes, &phi), "{phi:?} left in the SR");
    }
}

#[test]
fn original_is_a_byte_copy_and_anonymize_keeps_ids() {
    // No private block: `anonymize` keeps private attributes (it changes five attributes only).
    let spec = fixture::instance("MRN-77", "2.25.71", "2.25.72", "2.25.73");
    let input = spec.to_bytes().expect("fixture");
    let out = deidentify_bytes(&engine(Level::Original, &[]), &input, &[]).expect("original");
    assert_eq!(out.bytes, input);
    let out = deidentify_bytes(&engine(Level::Anonymize, &[]), &input, &[]).expect("anonymize");
    assert!(leaks(&out.bytes, "MRN-77"), "anonymize keeps PatientID");
    assert!(!leaks(&out.bytes, "HALVORSEN"), "but not the name");
}

#[test]
fn extra_identifiers_are_cut_too() {
    let mut spec = fixture::instance("MRN-1", "2.25.1", "2.25.2", "2.25.3");
    spec.study_description = "Project ZEBRA-77 baseline".into();
    let input = spec.to_bytes().expect("fixture");
    let d = engine(Level::AnonymizeFull, &[DeidOption::CleanDescriptors]);
    let out = deidentify_bytes(&d, &input, &["zebra-77".to_string()]).expect("deid");
    assert!(!leaks(&out.bytes, "ZEBRA-77"));
    assert!(
        leaks(&out.bytes, "baseline"),
        "the rest of the description stays"
    );
}

#[test]
fn hostile_files_are_rejected_with_a_reason() {
    let d = engine(Level::AnonymizeFull, &[]);
    let good = fixture::instance("MRN-1", "2.25.1", "2.25.2", "2.25.3")
        .to_bytes()
        .expect("good");
    assert!(matches!(
        deidentify_bytes(&d, &fixture::not_dicom(), &[]),
        Err(DeidFileError::NotDicom)
    ));
    assert!(matches!(
        deidentify_bytes(&d, &fixture::zero_bytes(), &[]),
        Err(DeidFileError::NotDicom)
    ));
    for keep in [140, 300, good.len() / 2, good.len() - 3] {
        let r = deidentify_bytes(&d, &fixture::truncated(&good, keep), &[]);
        assert!(r.is_err(), "truncated at {keep} must be rejected");
    }
    // A 4 GiB declared length is caught before the parser allocates it.
    assert!(matches!(
        deidentify_bytes(&d, &fixture::huge_length().expect("huge"), &[]),
        Err(DeidFileError::Unreadable { reason }) if reason.contains("declares")
    ));
    assert!(matches!(
        deidentify_bytes(
            &d,
            &fixture::missing_uid(MissingUid::SopInstance).expect("missing"),
            &[]
        ),
        Err(DeidFileError::NoSopInstanceUid)
    ));
    assert!(
        deidentify_bytes(
            &d,
            &fixture::missing_uid(MissingUid::Study).expect("missing"),
            &[]
        )
        .is_ok()
    );
    assert!(deidentify_bytes(&d, &fixture::no_preamble().expect("no preamble"), &[]).is_ok());
    for (label, bytes) in fixture::path_like_ids().expect("path-like") {
        if let Ok(out) = deidentify_bytes(&d, &bytes, &[]) {
            let rel = out.rel_path.to_string_lossy().to_string();
            assert!(
                rel.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '/'),
                "{label}: unsafe output name {rel}"
            );
            assert!(!rel.contains(".."), "{label}: {rel}");
        }
    }
}

/// A deflated data set hides its element headers from a plain byte walk: a 4 GB declared length
/// planted inside the compressed stream must still be refused before dicom-rs allocates it.
#[test]
fn hostile_length_inside_a_deflated_data_set_is_refused() {
    use std::io::{Read, Write};
    let mut spec = fixture::instance("ID1", "1.2.3", "1.2.3.4", "1.2.3.4.5");
    spec.syntax = Syntax::DeflatedExplicitLittle;
    let bytes = spec.to_bytes().expect("fixture");
    // The meta group ends where its group length says; the rest is the deflated data set.
    let group_len = u32::from_le_bytes([bytes[140], bytes[141], bytes[142], bytes[143]]) as usize;
    let meta_end = 144 + group_len;
    let mut body = Vec::new();
    flate2::read::DeflateDecoder::new(&bytes[meta_end..])
        .read_to_end(&mut body)
        .expect("inflate");
    // A private OB element declaring 0xFFFFFFF0 bytes, with none following.
    body.extend_from_slice(&[
        0x11, 0x00, 0x10, 0x10, b'O', b'B', 0, 0, 0xF0, 0xFF, 0xFF, 0xFF,
    ]);
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&body).expect("deflate");
    let mut hostile = bytes[..meta_end].to_vec();
    hostile.extend(enc.finish().expect("deflate"));

    let deid = engine(Level::AnonymizeFull, &[]);
    let started = std::time::Instant::now();
    let err = deidentify_bytes(&deid, &hostile, &[]).expect_err("hostile file refused");
    assert!(matches!(err, DeidFileError::Unreadable { .. }), "{err}");
    assert!(err.to_string().contains("(0011,1010)"), "{err}");
    assert!(
        started.elapsed().as_secs() < 5,
        "refused without reading 4 GB"
    );
}
