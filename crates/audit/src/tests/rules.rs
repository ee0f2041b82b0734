//! Tests of the audit's rules for what is and is not a finding, through the [`Auditor`] as the
//! export and `depot audit` use it, on files built by dicom-rs in every transfer syntax: each
//! rule that drops or demotes a match is tested next to a planted real leak that must still
//! block.

use anon_core::{AppliedAction, Done, Level, PathStep, Profile, Report, TagPath};
use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, Length, PrimitiveValue, Tag, VR};
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use synth::fixture::{InstanceSpec, Syntax};

use crate::written::WrittenValues;
use crate::{Auditor, Finding, Needle, Rules, ValueKind};

/// The test patient's values, none of which the fixture's own identity fields hold.
fn needles() -> Vec<Needle> {
    vec![
        Needle::new("PatientName", ValueKind::PersonName, "SMITHSON^ROWENA"),
        Needle::new("PatientID", ValueKind::Identifier, "4711001"),
        Needle::new("PatientBirthDate", ValueKind::Date, "19650312"),
        Needle::new("StudyID", ValueKind::Identifier, "000101"),
        Needle::new("AccessionNumber", ValueKind::Identifier, "134"),
        Needle::new("InstitutionName", ValueKind::Text, "TOSHIBA"),
        Needle::new(
            "ReferringPhysicianName",
            ValueKind::PersonName,
            "WHITE^BUSH",
        ),
    ]
}

/// Depot's values under anonymize-full, and one subject pseudonym.
fn written() -> WrittenValues {
    let mut w = WrittenValues::new();
    w.add_profile(&Profile::builtin(Level::AnonymizeFull, &[]).expect("profile"));
    w.add("PQWERTZ2ABC");
    w
}

fn auditor() -> Auditor {
    Auditor::new(&needles(), Rules::default())
        .expect("auditor")
        .with_written(written())
}

fn text(tag: Tag, vr: VR, value: &str) -> DataElement<InMemDicomObject> {
    DataElement::new(tag, vr, PrimitiveValue::from(value))
}

/// The synthetic instance (whose own values are not the test patient's) with `extra`
/// elements, encoded in `syntax`.
fn file(syntax: Syntax, extra: Vec<DataElement<InMemDicomObject>>) -> Vec<u8> {
    let spec = InstanceSpec {
        syntax,
        ..InstanceSpec::default()
    };
    let mut obj = spec.to_object().expect("fixture");
    for e in extra {
        obj.put(e);
    }
    let mut out = Vec::new();
    obj.with_meta(
        FileMetaTableBuilder::new()
            .transfer_syntax(syntax.uid())
            .media_storage_sop_class_uid(spec.sop_class_uid.as_str())
            .media_storage_sop_instance_uid(spec.sop_uid.as_str()),
    )
    .expect("meta")
    .write_all(&mut out)
    .expect("encode");
    out
}

/// The blocking value findings, as (label, tag path).
fn blocking(f: &[Finding]) -> Vec<(String, Option<String>)> {
    let mut out: Vec<_> = f
        .iter()
        .filter_map(|f| match f {
            Finding::Value { what, tag, .. } => Some((what.clone(), tag.clone())),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

/// The coincidences, as (label, tag path, kept attribute).
fn coincidences(f: &[Finding]) -> Vec<(String, String, String)> {
    let mut out: Vec<_> = f
        .iter()
        .filter_map(|f| match f {
            Finding::Coincidence {
                what, tag, with, ..
            } => Some((what.clone(), tag.clone(), with.clone())),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

fn found(label: &str, tag: &str) -> (String, Option<String>) {
    (label.to_string(), Some(tag.to_string()))
}

/// The syntaxes a header can be written in (the encapsulated one differs only in pixel data).
const SYNTAXES: [Syntax; 4] = [
    Syntax::ExplicitLittle,
    Syntax::ImplicitLittle,
    Syntax::ExplicitBig,
    Syntax::DeflatedExplicitLittle,
];

const IMAGE_COMMENTS: Tag = Tag(0x0020, 0x4000);
const PATIENT_COMMENTS: Tag = Tag(0x0010, 0x4000);

#[test]
fn a_number_inside_a_longer_number_is_not_found_and_a_number_standing_alone_is() {
    for syntax in SYNTAXES {
        let bytes = file(
            syntax,
            vec![
                // The study date is the dummy 19000101, the StudyID 000101 is inside it.
                text(Tag(0x0008, 0x0020), VR::DA, "19000101"),
                text(Tag(0x0008, 0x0021), VR::DA, "20000101"),
                text(IMAGE_COMMENTS, VR::LT, "run 19000101x, ref 1000101"),
                text(PATIENT_COMMENTS, VR::LT, "study 000101 reviewed"),
            ],
        );
        let f = auditor().scan_file("a.dcm", &bytes);
        assert_eq!(
            blocking(&f),
            vec![found("StudyID", "(0010,4000)")],
            "{syntax:?}: {f:?}"
        );
    }
}

#[test]
fn a_name_glued_into_text_and_an_id_glued_to_letters_are_still_found() {
    for syntax in SYNTAXES {
        let bytes = file(
            syntax,
            vec![
                text(IMAGE_COMMENTS, VR::LT, "seen by xxSMITHSONyy"),
                text(PATIENT_COMMENTS, VR::LT, "MRN4711001X"),
            ],
        );
        let f = auditor().scan_file("a.dcm", &bytes);
        assert_eq!(
            blocking(&f),
            vec![
                found("PatientID", "(0010,4000)"),
                found("PatientName", "(0020,4000)")
            ],
            "{syntax:?}"
        );
    }
}

#[test]
fn values_depot_wrote_are_not_findings_but_the_same_value_in_text_is() {
    // A patient whose ID is depot's dummy date, and a name part inside a pseudonym.
    let a = Auditor::new(
        &[
            Needle::new("PatientID", ValueKind::Identifier, "19000101"),
            Needle::new("OtherPatientIDs", ValueKind::Identifier, "QWERTZ"),
        ],
        Rules::default(),
    )
    .expect("auditor")
    .with_written(written());
    for syntax in SYNTAXES {
        let bytes = file(
            syntax,
            vec![
                text(Tag(0x0008, 0x0020), VR::DA, "19000101"),
                text(Tag(0x0008, 0x002A), VR::DT, "19000101000000"),
                text(Tag(0x0010, 0x0020), VR::LO, "PQWERTZ2ABC"),
                text(PATIENT_COMMENTS, VR::LT, "old ID 19000101"),
                text(IMAGE_COMMENTS, VR::LT, "QWERTZ"),
            ],
        );
        let f = a.scan_file("a.dcm", &bytes);
        assert_eq!(
            blocking(&f),
            vec![
                found("OtherPatientIDs", "(0020,4000)"),
                found("PatientID", "(0010,4000)"),
            ],
            "{syntax:?}: {f:?}"
        );
        assert!(coincidences(&f).is_empty(), "{f:?}");
    }
}

#[test]
fn dates_the_engine_reports_shifting_excuse_a_number_but_never_a_birth_date() {
    let a = Auditor::new(
        &[
            Needle::new("AccessionNumber", ValueKind::Identifier, "20190312"),
            Needle::new("PatientBirthDate", ValueKind::Date, "20100101"),
        ],
        Rules::default(),
    )
    .expect("auditor");
    let report = Report {
        actions: [Tag(0x0008, 0x0020), Tag(0x0008, 0x0021)]
            .into_iter()
            .map(|tag| AppliedAction {
                path: TagPath(vec![PathStep { tag, item: None }]),
                action: None,
                done: Done::DateShifted,
            })
            .collect(),
        ..Report::default()
    };
    let bytes = file(
        Syntax::ExplicitLittle,
        vec![
            text(Tag(0x0008, 0x0020), VR::DA, "20190312"),
            text(Tag(0x0008, 0x0021), VR::DA, "20100101"),
            text(Tag(0x0008, 0x0022), VR::DA, "20190312"),
        ],
    );
    let f = a.scan_exported_file("a.dcm", &bytes, &report);
    assert_eq!(
        blocking(&f),
        vec![
            found("AccessionNumber", "(0008,0022)"),
            found("PatientBirthDate", "(0008,0021)"),
        ],
        "{f:?}"
    );
    // Without the engine's report (`depot audit`), the shifted date is a finding too.
    assert_eq!(blocking(&a.scan_file("a.dcm", &bytes)).len(), 3);
}

#[test]
fn numbers_and_code_strings_count_only_when_the_whole_value_matches() {
    for syntax in SYNTAXES {
        let bytes = file(
            syntax,
            vec![
                // AccessionNumber 134 = NumberOfPhaseEncodingSteps: a coincidence.
                text(Tag(0x0018, 0x0089), VR::IS, "134"),
                // PatientID 4711001 alone in an IS: a leak.
                text(Tag(0x0020, 0x0012), VR::IS, "4711001"),
                // 134 inside a decimal and as one of several values: nothing.
                DataElement::new(
                    Tag(0x0020, 0x0032),
                    VR::DS,
                    PrimitiveValue::Strs(
                        ["1.5", "-134.25", "0"]
                            .map(String::from)
                            .into_iter()
                            .collect(),
                    ),
                ),
                // A name part equal to a whole code: a coincidence; inside one: nothing.
                text(Tag(0x2010, 0x0100), VR::CS, "WHITE"),
                text(Tag(0x0018, 0x0022), VR::CS, "WHITE BUSH MODE"),
                // A name in a code string that breaks the CS repertoire gets the full search.
                text(Tag(0x0018, 0x0015), VR::CS, "SMITHSON^ROWENA"),
            ],
        );
        let f = auditor().scan_file("a.dcm", &bytes);
        assert_eq!(
            blocking(&f),
            vec![
                found("PatientID", "(0020,0012)"),
                found("PatientName", "(0018,0015)"),
            ],
            "{syntax:?}: {f:?}"
        );
        assert_eq!(
            coincidences(&f),
            vec![
                (
                    "AccessionNumber".into(),
                    "(0018,0089)".into(),
                    "NumberOfPhaseEncodingSteps".into()
                ),
                (
                    "ReferringPhysicianName".into(),
                    "(2010,0100)".into(),
                    "BorderDensity".into()
                ),
            ],
            "{syntax:?}"
        );
    }
}

/// A coded entry (Code Sequence Macro) of ConceptNameCodeSequence, in an item of
/// ContentSequence.
fn coded_entry(elements: Vec<DataElement<InMemDicomObject>>) -> DataElement<InMemDicomObject> {
    let code = InMemDicomObject::from_element_iter(elements);
    let item = InMemDicomObject::from_element_iter([DataElement::new(
        Tag(0x0040, 0xA043),
        VR::SQ,
        DataSetSequence::new(vec![code], Length::UNDEFINED),
    )]);
    DataElement::new(
        Tag(0x0040, 0xA730),
        VR::SQ,
        DataSetSequence::new(vec![item], Length::UNDEFINED),
    )
}

#[test]
fn codes_of_coded_entries_count_only_whole_and_code_meanings_are_text() {
    const AT: &str = "(0040,A730)[0]/(0040,A043)[0]/";
    for syntax in SYNTAXES {
        let bytes = file(
            syntax,
            vec![coded_entry(vec![
                // A name part equal to a whole designator or code: a coincidence.
                text(Tag(0x0008, 0x0102), VR::SH, "WHITE"),
                text(Tag(0x0008, 0x0100), VR::SH, "SMITHSON"),
                // The accession number inside a longer code: nothing.
                text(Tag(0x0008, 0x0103), VR::SH, "T-134"),
                // A record number alone as a code: a leak.
                text(Tag(0x0008, 0x0119), VR::UC, "4711001"),
                // The code meaning is free text: a leak.
                text(Tag(0x0008, 0x0104), VR::LO, "Rowena's lesion"),
                // A name part equal to a context identifier: a coincidence.
                text(Tag(0x0008, 0x010F), VR::CS, "BUSH"),
            ])],
        );
        let f = auditor().scan_file("a.dcm", &bytes);
        assert_eq!(
            blocking(&f),
            vec![
                found("PatientID", &format!("{AT}(0008,0119)")),
                found("PatientName", &format!("{AT}(0008,0104)")),
            ],
            "{syntax:?}: {f:?}"
        );
        assert_eq!(
            coincidences(&f),
            vec![
                (
                    "PatientName".into(),
                    format!("{AT}(0008,0100)"),
                    "CodeValue".into()
                ),
                (
                    "ReferringPhysicianName".into(),
                    format!("{AT}(0008,0102)"),
                    "CodingSchemeDesignator".into()
                ),
                (
                    "ReferringPhysicianName".into(),
                    format!("{AT}(0008,010F)"),
                    "ContextIdentifier".into()
                ),
            ],
            "{syntax:?}"
        );
        // A person name in a code value breaks the code's repertoire: the full search.
        let bytes = file(
            syntax,
            vec![coded_entry(vec![text(
                Tag(0x0008, 0x0100),
                VR::SH,
                "X^SMITHSON",
            )])],
        );
        let f = auditor().scan_file("a.dcm", &bytes);
        assert_eq!(
            blocking(&f),
            vec![found("PatientName", &format!("{AT}(0008,0100)"))],
            "{syntax:?}: {f:?}"
        );
    }
}

#[test]
fn an_institution_inside_manufacturer_is_a_coincidence_and_elsewhere_a_leak() {
    for syntax in SYNTAXES {
        let bytes = file(
            syntax,
            vec![
                text(Tag(0x0008, 0x0070), VR::LO, "TOSHIBA_MEC"),
                text(Tag(0x0008, 0x1090), VR::LO, "Aquilion TOSHIBA"),
                text(Tag(0x0008, 0x0081), VR::ST, "TOSHIBA hospital, 3 main road"),
            ],
        );
        let f = auditor().scan_file("a.dcm", &bytes);
        assert_eq!(
            coincidences(&f),
            vec![
                (
                    "InstitutionName".into(),
                    "(0008,0070)".into(),
                    "Manufacturer".into()
                ),
                (
                    "InstitutionName".into(),
                    "(0008,1090)".into(),
                    "ManufacturerModelName".into()
                ),
            ],
            "{syntax:?}"
        );
        assert_eq!(
            blocking(&f),
            vec![found("InstitutionName", "(0008,0081)")],
            "{syntax:?}"
        );
        assert!(f.iter().filter(|f| !f.is_blocking()).count() == 2);
    }
}

#[test]
fn a_whole_name_inside_kept_equipment_is_a_leak_and_a_single_word_a_coincidence() {
    let a = Auditor::new(
        &[
            Needle::new("PatientName", ValueKind::PersonName, "Lee^Ann"),
            Needle::new(
                "ReferringPhysicianName",
                ValueKind::PersonName,
                "Kowalczyk^Agnieszka",
            ),
        ],
        Rules::default(),
    )
    .expect("auditor");
    for syntax in SYNTAXES {
        let bytes = file(
            syntax,
            vec![
                text(Tag(0x0018, 0x1250), VR::SH, "Lee Ann coil"),
                text(Tag(0x0018, 0x1251), VR::SH, "Body Lee"),
                text(Tag(0x0018, 0x1020), VR::LO, "VE11C Kowalczyk"),
                text(Tag(0x0008, 0x1090), VR::LO, "KOWALCZYK AGNIESZKA 3T"),
            ],
        );
        let f = a.scan_file("a.dcm", &bytes);
        assert_eq!(
            blocking(&f),
            vec![
                found("PatientName", "(0018,1250)"),
                found("ReferringPhysicianName", "(0008,1090)"),
            ],
            "{syntax:?}: {f:?}"
        );
        assert_eq!(
            coincidences(&f),
            vec![
                (
                    "PatientName".into(),
                    "(0018,1251)".into(),
                    "TransmitCoilName".into()
                ),
                (
                    "ReferringPhysicianName".into(),
                    "(0018,1020)".into(),
                    "SoftwareVersions".into()
                ),
            ],
            "{syntax:?}: {f:?}"
        );
    }
}

/// Every kind of planted leak the rules must leave blocking, in one file.
fn planted_leaks() -> Vec<DataElement<InMemDicomObject>> {
    let item = InMemDicomObject::from_element_iter([
        text(Tag(0x0040, 0xA040), VR::CS, "TEXT"),
        text(
            Tag(0x0040, 0xA160),
            VR::UT,
            "patient Rowena Smithson, stable",
        ),
    ]);
    let outer = InMemDicomObject::from_element_iter([DataElement::new(
        Tag(0x0040, 0xA730),
        VR::SQ,
        DataSetSequence::new(vec![item], Length::UNDEFINED),
    )]);
    vec![
        text(PATIENT_COMMENTS, VR::LT, "Smithson, Rowena"),
        text(Tag(0x0008, 0x2111), VR::ST, "born 1965-03-12"),
        text(IMAGE_COMMENTS, VR::LT, "chart MRN4711001X"),
        text(Tag(0x0029, 0x0010), VR::LO, "ACME 1.0"),
        text(Tag(0x0029, 0x1010), VR::LO, "4711001"),
        DataElement::new(
            Tag(0x0040, 0xA730),
            VR::SQ,
            DataSetSequence::new(vec![outer], Length::UNDEFINED),
        ),
        // The same file also holds what the rules excuse.
        text(Tag(0x0008, 0x0070), VR::LO, "TOSHIBA_MEC"),
        text(Tag(0x0018, 0x0089), VR::IS, "134"),
        text(Tag(0x0008, 0x0021), VR::DA, "19000101"),
    ]
}

#[test]
fn planted_leaks_still_block_in_every_syntax() {
    for syntax in SYNTAXES {
        let bytes = file(syntax, planted_leaks());
        let f = auditor().scan_file("a.dcm", &bytes);
        assert_eq!(
            blocking(&f),
            vec![
                found("PatientBirthDate", "(0008,2111)"),
                found("PatientID", "(0020,4000)"),
                // In implicit VR the private element reads as UN: still searched in full.
                found("PatientID", "(0029,1010)"),
                found("PatientName", "(0010,4000)"),
                found("PatientName", "(0040,A730)[0]/(0040,A730)[0]/(0040,A160)"),
            ],
            "{syntax:?}: {f:?}"
        );
        assert_eq!(coincidences(&f).len(), 2, "{syntax:?}: {f:?}");
    }
}

#[test]
fn a_match_outside_every_value_is_found_even_where_values_are_excused() {
    // The name in the preamble, which no element holds; the same label is excused inside
    // Manufacturer.
    let mut bytes = file(
        Syntax::ExplicitLittle,
        vec![text(Tag(0x0008, 0x0070), VR::LO, "TOSHIBA_MEC")],
    );
    bytes[10..17].copy_from_slice(b"TOSHIBA");
    let f = auditor().scan_file("a.dcm", &bytes);
    assert_eq!(blocking(&f), vec![("InstitutionName".to_string(), None)]);
    assert_eq!(coincidences(&f).len(), 1);
}

#[test]
fn a_value_length_that_reads_as_a_digit_is_no_boundary_in_big_endian() {
    // In Explicit VR Big Endian, the byte before a value is the low byte of its length: 52 is
    // `4`. The value is searched on its own, so the StudyID at its start is found.
    let a = Auditor::new(
        &[Needle::new("StudyID", ValueKind::Identifier, "4712")],
        Rules::default(),
    )
    .expect("auditor");
    let value = format!("{:<52}", "4712 was the old number");
    let bytes = file(
        Syntax::ExplicitBig,
        vec![text(IMAGE_COMMENTS, VR::LT, &value)],
    );
    let f = a.scan_file("a.dcm", &bytes);
    assert_eq!(blocking(&f), vec![found("StudyID", "(0020,4000)")], "{f:?}");
}

#[test]
fn placeholders_are_not_searched_and_real_looking_names_are() {
    let placeholders = [
        Needle::new("PatientName", ValueKind::PersonName, "Anonymized"),
        Needle::new("PatientName", ValueKind::PersonName, "NAME^PATIENT^NAME"),
        Needle::new("PatientName", ValueKind::PersonName, "^^^^"),
        Needle::new(
            "InstitutionName",
            ValueKind::Text,
            "*NO INFO NO INFO*      NO INFO",
        ),
        Needle::new("StationName", ValueKind::Text, "000000000"),
        Needle::new("PatientBirthDate", ValueKind::Date, "11111111"),
        Needle::new("PatientID", ValueKind::Identifier, "N/A"),
    ];
    let a = Auditor::new(&placeholders, Rules::default()).expect("auditor");
    assert_eq!(a.searched_values(), 0);
    let bytes = file(
        Syntax::ExplicitLittle,
        vec![text(
            PATIENT_COMMENTS,
            VR::LT,
            "ANONYMIZED NO INFO N/A 000000000",
        )],
    );
    assert!(a.scan_file("a.dcm", &bytes).is_empty());

    let test = Auditor::new(
        &[Needle::new(
            "PatientName",
            ValueKind::PersonName,
            "Test^Patient",
        )],
        Rules::default(),
    )
    .expect("auditor");
    let bytes = file(
        Syntax::ExplicitLittle,
        vec![text(PATIENT_COMMENTS, VR::LT, "a test")],
    );
    assert_eq!(
        blocking(&test.scan_file("a.dcm", &bytes)),
        vec![found("PatientName", "(0010,4000)")]
    );
}

#[test]
fn numbers_depot_computes_in_the_manifest_are_not_findings_but_planted_ones_are() {
    let a = Auditor::new(
        &[
            Needle::new("StationName", ValueKind::Text, "1,0"),
            Needle::new("PatientID", ValueKind::Identifier, "134308"),
        ],
        Rules::default(),
    )
    .expect("auditor");
    let csv = b"subject,study,series,modality,path,sha256,bytes\nPQWERTZ2ABC,1,0,US,PQWERTZ2ABC/1/0/00001.dcm,ab,134308\n";
    assert!(a.scan_manifest("manifest.csv", csv).is_empty());
    let json = br#"{"counts": {"bytes": 134308}, "subjects": [{"studies": [{"number": 1, "series": [{"number": "0"}]}]}]}"#;
    assert!(a.scan_manifest("manifest.json", json).is_empty());
    let planted = br#"{"counts": {"bytes": 1}, "note": "134308"}"#;
    assert_eq!(a.scan_manifest("manifest.json", planted).len(), 1);
    // Blanked where it lies, the same findings as in a copy.
    for (rel, bytes) in [
        ("manifest.csv", &csv[..]),
        ("manifest.json", &json[..]),
        ("manifest.json", &planted[..]),
        (
            "manifest.csv",
            &b"s,1,0,US,p,ab,1\nnote 134308 and 1,0\n"[..],
        ),
    ] {
        assert_eq!(
            a.scan_manifest_owned(rel, bytes.to_vec()),
            a.scan_manifest(rel, bytes),
            "{rel}"
        );
    }
    assert_eq!(
        a.scan_manifest_owned("manifest.json", planted.to_vec())
            .len(),
        1
    );
}

#[test]
fn paths_excuse_pseudonyms_and_numbers_inside_longer_numbers_only() {
    let a = Auditor::new(
        &[
            Needle::new("OtherPatientIDs", ValueKind::Identifier, "QWERTZ"),
            Needle::new("StudyID", ValueKind::Identifier, "000101"),
        ],
        Rules::default(),
    )
    .expect("auditor")
    .with_written(written());
    assert!(a.scan_path("PQWERTZ2ABC/1/1/00001.dcm").is_empty());
    assert!(a.scan_path("PQWERTZ2ABC/19000101/00001.dcm").is_empty());
    assert_eq!(a.scan_path("extra/QWERTZ.csv").len(), 1);
    assert_eq!(a.scan_path("extra/000101.csv").len(), 1);
}

/// A BeamSequence item naming its beam.
fn beam(name: &str) -> DataElement<InMemDicomObject> {
    let item = InMemDicomObject::from_element_iter([text(Tag(0x300A, 0x00C2), VR::LO, name)]);
    DataElement::new(
        Tag(0x300A, 0x00B0),
        VR::SQ,
        DataSetSequence::new(vec![item], Length::UNDEFINED),
    )
}

#[test]
fn short_name_parts_of_other_subjects_count_only_in_their_own_files() {
    use crate::owners::OwnedNeedle;
    let of = |n: Needle, owners: &[&str]| {
        OwnedNeedle::new(n, owners.iter().map(|o| o.to_string()).collect())
    };
    let physician = |v: &str| Needle::new("ReferringPhysicianName", ValueKind::PersonName, v);
    // Subject A's physician is "Dr. floral field"; B's patient is "Brown^Ada"; a physician
    // both share is "Rivers^Tam".
    let needles = [
        of(physician("Dr. floral field"), &["PAAAAAAAAAA", "S0001AAA"]),
        of(
            Needle::new("PatientName", ValueKind::PersonName, "Brown^Ada"),
            &["PBBBBBBBBBB"],
        ),
        of(physician("Rivers^Tam"), &["PAAAAAAAAAA"]),
        of(physician("Rivers^Tam"), &["PBBBBBBBBBB"]),
        of(
            Needle::new("StudyID", ValueKind::Identifier, "7734"),
            &["PAAAAAAAAAA"],
        ),
    ];
    let a = Auditor::owned(&needles, Rules::default()).expect("auditor");
    for syntax in SYNTAXES {
        let bytes = |name: &str| file(syntax, vec![beam(name)]);
        let at = "(300A,00B0)[0]/(300A,00C2)";
        let scan = |rel: &str, name: &str| blocking(&a.scan_file(rel, &bytes(name)));
        let physician_found = vec![found("ReferringPhysicianName", at)];
        // A's short name part in B's file: a word, not a leak.
        assert_eq!(
            scan("PBBBBBBBBBB/1/2/00001.dcm", "Field 1"),
            vec![],
            "{syntax:?}"
        );
        // ... but in A's own file (by pseudonym or archive code), in a file in no subject's
        // folder, and as a long part or whole anywhere, it is.
        for rel in [
            "PAAAAAAAAAA/1/2/00001.dcm",
            "S0001AAA/1/2/00001.dcm",
            "extra/00001.dcm",
        ] {
            assert_eq!(scan(rel, "Field 1"), physician_found, "{syntax:?} {rel}");
        }
        for name in ["Floral 1", "Dr. floral field"] {
            assert_eq!(
                scan("PBBBBBBBBBB/1/2/00001.dcm", name),
                physician_found,
                "{syntax:?} {name}"
            );
        }
        // B's own short name part in B's file is found; a physician both share is each one's.
        assert_eq!(
            scan("PBBBBBBBBBB/1/2/00001.dcm", "Ada 2"),
            vec![found("PatientName", at)],
            "{syntax:?}"
        );
        assert_eq!(
            scan("PBBBBBBBBBB/1/2/00001.dcm", "Tam 3"),
            physician_found,
            "{syntax:?}"
        );
        // A's whole StudyID, however short, is found in B's file.
        assert_eq!(
            scan("PBBBBBBBBBB/1/2/00001.dcm", "Beam 7734"),
            vec![found("StudyID", at)],
            "{syntax:?}"
        );
    }
    // A subject with nothing to search (a placeholder name) is a subject too, once its folder
    // is named: A's short name part in its file is a word there as in B's.
    let with_c = Auditor::owned(&needles, Rules::default())
        .expect("auditor")
        .with_subject_folders(["PCCCCCCCCCC"]);
    for syntax in SYNTAXES {
        let bytes = file(syntax, vec![beam("Field 1")]);
        let rel = "PCCCCCCCCCC/1/1/00001.dcm";
        assert_eq!(
            blocking(&with_c.scan_file(rel, &bytes)),
            vec![],
            "{syntax:?}"
        );
        assert_eq!(
            blocking(&a.scan_file(rel, &bytes)),
            vec![found(
                "ReferringPhysicianName",
                "(300A,00B0)[0]/(300A,00C2)"
            )],
            "{syntax:?}: an unknown folder counts every fragment"
        );
        let whole = file(syntax, vec![beam("Dr. floral field")]);
        assert_eq!(
            blocking(&with_c.scan_file(rel, &whole)),
            vec![found(
                "ReferringPhysicianName",
                "(300A,00B0)[0]/(300A,00C2)"
            )],
            "{syntax:?}: a whole name counts everywhere"
        );
    }
    // Text files, paths and the manifest count every fragment of every subject.
    assert_eq!(
        a.scan_file("PBBBBBBBBBB/notes.txt", b"the field of view")
            .len(),
        0,
        "a text file in B's folder is B's"
    );
    assert_eq!(a.scan_file("notes.txt", b"the field of view").len(), 1);
    assert_eq!(a.scan_path("PBBBBBBBBBB/field/00001.dcm").len(), 1);
    let manifest = br#"{"level": "basic", "note": "field"}"#;
    assert_eq!(a.scan_manifest("manifest.json", manifest).len(), 1);
}
