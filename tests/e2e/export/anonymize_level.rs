//! `--level anonymize`: its five attributes changed everywhere, nothing else; what it leaves
//! reported as advisory findings.

use super::*;

const FIVE: [Tag; 5] = [
    tags::PATIENT_NAME,
    tags::REFERRING_PHYSICIAN_NAME,
    tags::PERFORMING_PHYSICIAN_NAME,
    tags::OPERATORS_NAME,
    tags::PATIENT_BIRTH_DATE,
];

/// Writes a data set as a DICOM file in the spec's transfer syntax.
fn write_object(obj: InMemDicomObject, spec: &InstanceSpec, path: &Path) {
    obj.with_meta(
        FileMetaTableBuilder::new()
            .transfer_syntax(spec.syntax.uid())
            .media_storage_sop_class_uid(spec.sop_class_uid.as_str())
            .media_storage_sop_instance_uid(spec.sop_uid.as_str()),
    )
    .expect("meta")
    .write_to_file(path)
    .expect("write");
}

/// Replaces the five-attribute fixture's patient name parts and birth date with same-length
/// filler everywhere except in the five attributes `anonymize` changes: private tags, overlay
/// comments, report text and the like (binary values included).
fn scrub_elsewhere(obj: &mut InMemDicomObject) {
    const GONE: [(&str, &str); 3] = [
        ("HALVORSEN", "XXXXXXXXX"),
        ("INGRID", "YYYYYY"),
        ("19710315", "20000101"),
    ];
    let tags: Vec<Tag> = obj
        .iter()
        .map(|e| e.tag())
        .filter(|t| !FIVE.contains(t))
        .collect();
    for tag in tags {
        obj.update_value(tag, |v| {
            if let Some(items) = v.items_mut() {
                items.iter_mut().for_each(scrub_elsewhere);
                return;
            }
            let Value::Primitive(p) = v else { return };
            match p {
                PrimitiveValue::U8(bytes) => {
                    let mut b = bytes.to_vec();
                    for (from, to) in GONE {
                        let n = from.len();
                        let mut i = 0;
                        while i + n <= b.len() {
                            if &b[i..i + n] == from.as_bytes() {
                                b[i..i + n].copy_from_slice(to.as_bytes());
                            }
                            i += 1;
                        }
                    }
                    *p = PrimitiveValue::from(b);
                }
                PrimitiveValue::Str(_) | PrimitiveValue::Strs(_) => {
                    let before = p.to_str().to_string();
                    let mut after = before.clone();
                    for (from, to) in GONE {
                        after = after.replace(from, to);
                    }
                    if after != before {
                        *p = PrimitiveValue::from(after);
                    }
                }
                _ => {}
            }
        });
    }
}

/// One file per transfer syntax with every hard case, an SR referring to an image, and one
/// file carrying the five attributes again inside a sequence item (three levels deep too).
/// Without `planted_elsewhere`, the patient's name and birth date occur only in the five
/// attributes (see [`scrub_elsewhere`]).
fn five_attribute_fixture(dir: &Path, planted_elsewhere: bool) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let write = |spec: &InstanceSpec, mut obj: InMemDicomObject, path: PathBuf| {
        if !planted_elsewhere {
            scrub_elsewhere(&mut obj);
        }
        write_object(obj, spec, &path);
    };
    for (i, syntax) in Syntax::ALL.into_iter().enumerate() {
        let mut spec = fixture::instance(
            "MRN-77031",
            "2.25.7700",
            &format!("2.25.77{i}0"),
            &format!("2.25.77{i}1"),
        )
        .with_hard_cases();
        spec.syntax = syntax;
        spec.series_number = Some(i as i32 + 1);
        write(
            &spec,
            spec.to_object().expect("object"),
            dir.join(format!("HALVORSEN_{i}.dcm")),
        );
    }
    let sr = fixture::sr_document(
        "MRN-77031",
        "2.25.7700",
        "2.25.7790",
        "2.25.7791",
        vec![SopReference {
            series_uid: "2.25.7700".into(),
            sop_class_uid: fixture::instance("", "", "", "").sop_class_uid,
            sop_uid: "2.25.7701".into(),
        }],
    );
    let sr = InstanceSpec {
        series_number: Some(9),
        ..sr
    };
    write(&sr, sr.to_object().expect("sr"), dir.join("report.dcm"));

    // The five attributes nested: in the RequestAttributesSequence item, and in the
    // ProtocolContextSequence item two levels further down.
    let spec = InstanceSpec {
        series_number: Some(8),
        ..fixture::instance("MRN-77031", "2.25.7700", "2.25.7780", "2.25.7781")
    }
    .with_hard_cases();
    let mut obj = spec.to_object().expect("object");
    let nested = |o: &mut InMemDicomObject| {
        o.put(DataElement::new(
            tags::PATIENT_NAME,
            VR::PN,
            PrimitiveValue::from("HALVORSEN^INGRID"),
        ));
        o.put(DataElement::new(
            tags::REFERRING_PHYSICIAN_NAME,
            VR::PN,
            PrimitiveValue::from("NWOSU^ADAEZE"),
        ));
        o.put(DataElement::new(
            tags::PERFORMING_PHYSICIAN_NAME,
            VR::PN,
            PrimitiveValue::from("LINDQVIST^TORBJORN"),
        ));
        o.put(DataElement::new(
            tags::OPERATORS_NAME,
            VR::PN,
            PrimitiveValue::from("ABERNATHY^QUILLON"),
        ));
        o.put(DataElement::new(
            tags::PATIENT_BIRTH_DATE,
            VR::DA,
            PrimitiveValue::from("19710315"),
        ));
    };
    obj.update_value(tags::REQUEST_ATTRIBUTES_SEQUENCE, |v| {
        if let Some(items) = v.items_mut() {
            for item in items.iter_mut() {
                nested(item);
                item.update_value(tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE, |v| {
                    if let Some(items) = v.items_mut() {
                        for item in items.iter_mut() {
                            item.update_value(tags::PROTOCOL_CONTEXT_SEQUENCE, |v| {
                                if let Some(items) = v.items_mut() {
                                    items.iter_mut().for_each(nested);
                                }
                            });
                        }
                    }
                });
            }
        }
    });
    write(&spec, obj, dir.join("nested.dcm"));
}

#[test]
fn anonymize_reports_the_name_it_leaves_elsewhere_as_advisory_findings() {
    // The hard cases carry the patient's name in private tags, overlay comments and report
    // text, which anonymize keeps by definition (it changes five attributes): the audit finds
    // the name there and says so, by tag and file, and the package is published with the
    // findings recorded; basic, which claims to remove identity, refuses the same data.
    let t = TestDir::new();
    five_attribute_fixture(&t.join("in"), true);
    at_archive(&t, &t.archive())
        .arg("import")
        .arg(t.join("in"))
        .run()
        .ok();
    for out in ["pkg", "pkg.zip"] {
        let run = export(&t, out, &[]).ok(); // default level: anonymize
        assert!(
            run.stderr
                .contains("PatientName value found in the header of"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("audit (advisory)"), "{}", run.stderr);
        assert!(
            run.stderr
                .contains("level anonymize removes the patient's name and birth date from those attributes only"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("audit advisory:"), "{}", run.stderr);
        let m = manifest(&read_package(&t.join(out)));
        assert_eq!(m["audit"]["blocking"], false, "{}", m["audit"]);
        assert!(n(&m["audit"], "findings") > 0, "{}", m["audit"]);
    }
}

#[test]
fn anonymize_changes_exactly_its_five_attributes_everywhere_and_nothing_else() {
    let t = TestDir::new();
    // With the hard cases: the name also sits in private tags, overlay comments and report
    // text, which anonymize must leave exactly as they are.
    five_attribute_fixture(&t.join("in"), true);
    at_archive(&t, &t.archive())
        .arg("import")
        .arg(t.join("in"))
        .run()
        .ok();
    let stored = query(&t, "instances", &[]);
    assert_eq!(stored.len(), 7);
    let originals: BTreeMap<String, DefaultDicomObject> = stored
        .iter()
        .map(|i| {
            (
                s(i, "sop_uid").to_string(),
                dicom_object::open_file(s(i, "path")).expect("open stored"),
            )
        })
        .collect();

    // Default level: anonymize. Its audit is advisory and searches only what the level
    // removes (the patient's name and birth date): the name left in the hard cases' other
    // attributes is reported, and the package is published.
    let run = export(&t, "pkg", &[]).ok();
    assert!(run.stderr.contains("audit advisory:"), "{}", run.stderr);
    let files = read_package(&t.join("pkg"));
    let m = manifest(&files);
    assert_eq!(m["level"], "anonymize");
    assert_eq!(m["audit"]["blocking"], false, "{}", m["audit"]);

    let dicom = dicom_files(&files);
    assert_eq!(
        dicom.len(),
        7,
        "{:?} {}",
        files.keys().collect::<Vec<_>>(),
        m["counts"]
    );
    let mut nested_seen = 0;
    for (rel, bytes) in &dicom {
        let pseudonym = rel.split('/').next().expect("subject folder");
        let out = parse(bytes);
        let sop = text(&out, tags::SOP_INSTANCE_UID).expect("sop");
        let orig = originals
            .get(&sop)
            .unwrap_or_else(|| panic!("{rel}: SOPInstanceUID changed at anonymize"));
        assert_eq!(
            out.meta().transfer_syntax(),
            orig.meta().transfer_syntax(),
            "{rel}"
        );
        let before = flatten(orig);
        let after = flatten(&out);
        let added: Vec<&String> = after.keys().filter(|k| !before.contains_key(*k)).collect();
        let removed: Vec<&String> = before.keys().filter(|k| !after.contains_key(*k)).collect();
        assert!(
            added.is_empty() && removed.is_empty(),
            "{rel}: added {added:?}, removed {removed:?}"
        );
        for (path, (vr, value)) in &before {
            let (vr2, value2) = &after[path];
            let tag = last_tag(path);
            if FIVE.contains(&tag) {
                if path.contains('/') {
                    nested_seen += 1;
                }
                let now = String::from_utf8_lossy(value2)
                    .trim_end_matches(['\0', ' '])
                    .to_string();
                if tag == tags::PATIENT_NAME {
                    assert_eq!(
                        now, pseudonym,
                        "{rel} {path}: PatientName becomes the subject's pseudonym"
                    );
                } else {
                    assert_eq!(
                        now,
                        "",
                        "{rel} {path}: emptied (was {:?})",
                        String::from_utf8_lossy(value)
                    );
                }
            } else {
                assert_eq!(
                    (vr, value),
                    (vr2, value2),
                    "{rel} {path} changed at anonymize"
                );
            }
        }
    }
    assert_eq!(
        nested_seen, 10,
        "the nested copies of the five attributes were checked"
    );
}
