//! Auditing a DICOM file that dicom-rs reads correctly only through the reading layer's
//! repaired copy ([`archive::reading::readable`]): a file meta group without its group length,
//! or elements encoded as UN (PS3.5 6.2.2), above all UN sequences of undefined length, whose
//! items dicom-rs would read in the wrong encoding. The import and the engine parse that copy;
//! so does the audit, or it would call unreadable what depot itself reads (an `original`
//! package of such files, a foreign package given to `depot audit`).
//!
//! The copy says the same thing in other bytes: element headers re-encoded, UN values given
//! their dictionary VR (binary ones byte-swapped in a big endian file), a group length added.
//! So it is the copy whose elements are located and judged, and whose structure is checked
//! (private elements, PatientIdentityRemoved); but the byte search still covers the file as
//! written, every byte of it: a value is found in the header of the file as written as often
//! as in the copy's, unless some bytes of the file hold it that the copy holds otherwise (a
//! name across an element header the copy rewrote, a text in a UN value the copy
//! byte-swapped). Such a value is a finding with no element named, like any value found
//! outside every element. The top-level Pixel Data and what follows it are the same bytes in
//! both, and are searched once.
//!
//! A file too big to hold is repaired without its pixel data: its header and what follows the
//! pixel data (which the copy needs) are read into memory, the pixel data value is streamed
//! through its own search.

use std::collections::BTreeMap;

use archive::reading::{Readable, readable, with_group_length};
use archive::scan::{Options, Reading, ScanError};

use super::*;

/// The standard's reading of a data set (UN sequences read as PS3.5 6.2.2 says).
const STANDARD: Options = Options {
    reading: Reading::Standard,
    header_only: false,
};

impl Auditor {
    /// Checks a DICOM file held in memory (`bytes`, as written) through its repaired `copy`.
    pub(super) fn scan_repaired(
        &self,
        rel: &str,
        bytes: &[u8],
        preamble: bool,
        copy: &Readable<'_>,
        cx: &FileContext<'_>,
    ) -> Vec<Finding> {
        let regions = match Regions::of(&copy.bytes, &copy.layout) {
            Ok(r) => r,
            Err(reason) => return self.unreadable(rel, bytes, reason),
        };
        let copy_hits = self.header_hits(&copy.bytes, &regions, cx.mode);
        let pixel_labels = self.pixel_labels(&regions);
        let walked = self.walk(&copy.bytes, preamble, copy.layout.encoding, &regions, cx);
        let mut findings = self.dicom_findings(rel, &copy_hits, pixel_labels, walked);
        let written = written_layout(bytes, preamble)
            .map_err(|e| e.to_string())
            .and_then(|layout| Regions::of(bytes, &layout));
        match written {
            Ok(r) => {
                let as_written = self.header_hits(bytes, &r, cx.mode);
                findings.extend(
                    unaccounted(&as_written, &copy_hits)
                        .into_iter()
                        .map(|what| Finding::Value {
                            file: rel.to_string(),
                            what,
                            region: Region::Header,
                            tag: None,
                        }),
                );
            }
            // Not expected (the reading layer scanned these bytes): every value in them counts.
            Err(_) => findings.extend(value_findings(
                rel,
                Region::Header,
                self.labels(bytes, cx.mode, false),
            )),
        }
        findings.sort();
        findings.dedup();
        findings
    }

    /// [`Auditor::scan_repaired`] for a file too big to hold (`len` bytes; `layout` is the
    /// standard's reading of it, which found elements encoded as UN): everything but the
    /// top-level pixel data value is read into memory and repaired; the pixel data value is
    /// searched streaming. A deflated data set cannot be cut, nor a header bigger than
    /// [`STREAM_ABOVE`] held: such a file is reported unreadable, every byte of it searched.
    pub(super) fn scan_source_repaired(
        &self,
        rel: &str,
        src: &mut dyn Source,
        len: u64,
        layout: &scan::Layout,
        chunk: usize,
    ) -> std::io::Result<Vec<Finding>> {
        let start = layout.data_set_start.min(len);
        let pixel = layout
            .pixel_data
            .as_ref()
            .map(|p| start.saturating_add(p.start).min(len)..start.saturating_add(p.end).min(len))
            .unwrap_or(len..len);
        let kept = len - (pixel.end - pixel.start);
        if layout.encoding == Encoding::Deflated || kept > STREAM_ABOVE {
            let reason = if layout.encoding == Encoding::Deflated {
                "a deflated data set with elements encoded as UN, too big to repair in memory"
            } else {
                "a header with elements encoded as UN, too big to repair in memory"
            };
            return self.unreadable_stream(rel, src, reason.to_string(), chunk);
        }
        let mut bytes = Vec::with_capacity(usize::try_from(kept).unwrap_or(0));
        src.open_at(0)?.take(pixel.start).read_to_end(&mut bytes)?;
        src.open_at(pixel.end)?.read_to_end(&mut bytes)?;
        let preamble = bytes.get(128..132) == Some(b"DICM");
        let generated = Generated::none();
        let cx = FileContext {
            generated: &generated,
            mode: self.mode_for(rel),
        };
        let mut findings = match readable(&bytes, preamble) {
            Ok(copy) => self.scan_repaired(rel, &bytes, preamble, &copy, &cx),
            Err(e) => self.unreadable(rel, &bytes, e.to_string()),
        };
        let mut search = [RegionSearch::new(
            self,
            true,
            Mode::default(),
            chunk,
            pixel.start,
        )];
        route(
            &mut src.open_at(pixel.start)?.take(pixel.end - pixel.start),
            &[],
            &mut search,
        )?;
        let [pixels] = search;
        findings.extend(value_findings(
            rel,
            Region::PixelData,
            pixels.finish().found.into_keys().collect(),
        ));
        findings.sort();
        findings.dedup();
        Ok(findings)
    }
}

/// The layout of a file as written, under the standard's reading; a meta group without its
/// group length is read as if it had one (the offsets stay those of the file).
fn written_layout(bytes: &[u8], preamble: bool) -> Result<scan::Layout, ScanError> {
    let start = if preamble { 132 } else { 4 };
    match with_group_length(bytes, start)? {
        Some(fixed) => {
            let mut layout = scan::check_with(&fixed, preamble, STANDARD)?;
            let added = (fixed.len() - bytes.len()) as u64;
            layout.data_set_start = layout.data_set_start.saturating_sub(added);
            Ok(layout)
        }
        None => scan::check_with(bytes, preamble, STANDARD),
    }
}

/// The labels found in the header as written more often than in the copy's (single CJK
/// characters aside, which count only inside text values): values some bytes of the file hold
/// that the copy holds otherwise.
fn unaccounted(as_written: &[RawHit], copy: &[RawHit]) -> BTreeSet<String> {
    fn count(hits: &[RawHit]) -> BTreeMap<&str, usize> {
        let mut n: BTreeMap<&str, usize> = BTreeMap::new();
        for h in hits.iter().filter(|h| !h.confirm) {
            *n.entry(h.label.as_str()).or_default() += 1;
        }
        n
    }
    let in_copy = count(copy);
    count(as_written)
        .into_iter()
        .filter(|(label, n)| in_copy.get(label).copied().unwrap_or(0) < *n)
        .map(|(label, _)| label.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::VR;
    use synth::fixture::{InstanceSpec, Syntax};
    use synth::unknown_vr;

    fn spec(syntax: Syntax) -> InstanceSpec {
        InstanceSpec {
            syntax,
            ..InstanceSpec::default()
        }
    }

    /// The names and UIDs inside [`unknown_vr::un_sequence`], as needles.
    fn auditor(rules: Rules) -> Auditor {
        let needles = [
            Needle::new(
                "ReferringPhysicianName",
                ValueKind::PersonName,
                unknown_vr::UN_SEQUENCE_PHYSICIAN,
            ),
            Needle::new(
                "OtherPatientNames",
                ValueKind::PersonName,
                unknown_vr::UN_SEQUENCE_PERSON,
            ),
            Needle::new(
                "PatientName",
                ValueKind::PersonName,
                unknown_vr::UN_SEQUENCE_PRIVATE_NAME,
            ),
            Needle::new(
                "SOPInstanceUID",
                ValueKind::Uid,
                unknown_vr::UN_SEQUENCE_SOP_UID,
            ),
            Needle::new("PatientName", ValueKind::PersonName, "SMITHSON^ROWENA"),
        ];
        Auditor::new(&needles, rules).expect("auditor")
    }

    fn header(f: &[Finding]) -> Vec<(String, Option<String>)> {
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

    fn at(what: &str, tag: &str) -> (String, Option<String>) {
        (what.to_string(), Some(tag.to_string()))
    }

    #[test]
    fn a_un_sequence_is_read_as_the_import_reads_it() {
        let rules = Rules {
            forbid_private: true,
            require_identity_removed: false,
        };
        for syntax in [Syntax::ExplicitLittle, Syntax::ExplicitBig] {
            let bytes = unknown_vr::un_sequence(&spec(syntax)).expect("fixture");
            let f = auditor(rules).scan_file("P1/1/1/00001.dcm", &bytes);
            assert!(
                !f.iter().any(|f| matches!(f, Finding::Unreadable { .. })),
                "{syntax:?}: {f:?}"
            );
            assert_eq!(
                header(&f),
                vec![
                    at(
                        "OtherPatientNames",
                        "(0008,1115)[0]/(0008,1199)[0]/(0040,A123)"
                    ),
                    at("PatientName", "(0008,1115)[0]/(0009,1001)"),
                    at("ReferringPhysicianName", "(0008,1115)[0]/(0008,1050)"),
                    at(
                        "SOPInstanceUID",
                        "(0008,1115)[0]/(0008,1199)[0]/(0008,1155)"
                    ),
                ],
                "{syntax:?}"
            );
            let private: Vec<&str> = f
                .iter()
                .filter_map(|f| match f {
                    Finding::PrivateElement { tag, .. } => Some(tag.as_str()),
                    _ => None,
                })
                .collect();
            assert_eq!(
                private,
                ["(0008,1115)[0]/(0009,0010)", "(0008,1115)[0]/(0009,1001)"],
                "{syntax:?}"
            );
        }
    }

    #[test]
    fn a_meta_group_without_its_length_is_read() {
        let spec = spec(Syntax::ExplicitLittle);
        let mut obj = spec.to_object().expect("object");
        obj.put(dicom_core::DataElement::new(
            Tag(0x0020, 0x4000),
            VR::LT,
            dicom_core::PrimitiveValue::from("SMITHSON seen"),
        ));
        let mut bytes = Vec::new();
        obj.with_meta(
            dicom_object::FileMetaTableBuilder::new()
                .transfer_syntax(spec.syntax.uid())
                .media_storage_sop_class_uid(spec.sop_class_uid.as_str())
                .media_storage_sop_instance_uid(spec.sop_uid.as_str()),
        )
        .expect("meta")
        .write_all(&mut bytes)
        .expect("encode");
        // (0002,0000) UL is the first 12 bytes after `DICM`.
        assert_eq!(&bytes[132..136], &[2, 0, 0, 0]);
        bytes.drain(132..144);
        let f = auditor(Rules::default()).scan_file("a.dcm", &bytes);
        assert_eq!(header(&f), vec![at("PatientName", "(0020,4000)")], "{f:?}");
    }

    #[test]
    fn bytes_the_copy_holds_otherwise_are_still_searched() {
        // A name in a UN palette (OW) of a big endian file: the copy swaps its bytes, the file
        // as written holds the name as text.
        let spec = spec(Syntax::ExplicitBig);
        let bytes = unknown_vr::with_un(
            &spec,
            &[],
            &[(Tag(0x0028, 0x1201), b"SMITHSONROWENA".to_vec())],
        )
        .expect("fixture");
        let a = auditor(Rules::default());
        let readable = readable(&bytes, true).expect("readable");
        assert!(readable.is_copy(), "the fixture needs a repair");
        assert!(
            memchr::memmem::find(&readable.bytes, b"SMITHSON").is_none(),
            "the copy holds the name swapped"
        );
        let f = a.scan_file("a.dcm", &bytes);
        assert_eq!(header(&f), vec![("PatientName".to_string(), None)], "{f:?}");
    }

    #[test]
    fn a_streamed_file_with_a_un_sequence_has_the_findings_it_has_in_memory() {
        let a = auditor(Rules {
            forbid_private: true,
            require_identity_removed: false,
        });
        let dir = tempfile::tempdir().expect("tempdir");
        let pkg = dir.path().join("pkg");
        std::fs::create_dir_all(pkg.join("P1")).expect("mkdir");
        for (name, syntax) in [
            ("le.dcm", Syntax::ExplicitLittle),
            ("be.dcm", Syntax::ExplicitBig),
        ] {
            let bytes = unknown_vr::un_sequence(&spec(syntax)).expect("fixture");
            std::fs::write(pkg.join("P1").join(name), bytes).expect("write");
        }
        let want = audit_package(&pkg, &a).expect("in memory");
        assert!(!want.findings.is_empty());
        for chunk in [5, 4096] {
            let got =
                audit_package_with(&pkg, &a, Streaming { above: 0, chunk }).expect("streamed");
            assert_eq!(got.findings, want.findings, "chunk {chunk}");
        }
    }
}
