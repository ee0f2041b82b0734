//! The verdict on an identifying value found inside one element of a DICOM header: a leak
//! (blocking), a coincidence (shown and recorded, never blocking), or no finding at all.
//!
//! A byte search finds a StudyID `134` inside NumberOfPhaseEncodingSteps `134`, an
//! InstitutionName `TOSHIBA` inside Manufacturer `TOSHIBA_MEC`, a StudyID `000101` inside the
//! dummy date `19000101` depot wrote. None of these is a leak, and a package that cannot be
//! published because of them is a package nobody can share. The rules, applied in order to a
//! match lying inside one element's value:
//!
//! 1. **Depot's own values are never findings**: the match lies inside a value component that
//!    depot wrote ([`WrittenValues`]: dummies, markers, pseudonyms), inside a value the engine
//!    reports it computed and that has the computed shape ([`Generated`]: shifted dates, keyed
//!    codes; never for a birth date), or inside a well-known UID (`1.2.840.10008.`, the same in
//!    every DICOM file there is).
//! 2. **Values of a VR that cannot carry a name or ID as text** (code strings, decimal and
//!    integer strings, binary numbers: see [`is_value_only`]), and the codes of the Code
//!    Sequence Macro whatever their VR ([`crate::codes`]: CodeValue,
//!    CodingSchemeDesignator, ...; never CodeMeaning), count only when the whole value
//!    (one value of a multi-valued element, padding trimmed) equals the match. Such a value
//!    is a leak when it is shaped like an identifier (`long` bytes or more, with a digit or
//!    several words: a 7-digit MRN alone in an IS), and a coincidence otherwise (a StudyID
//!    `134` equal to an IS, a name part `Perfusion` equal to the ImageType term `PERFUSION`).
//!    A value that breaks its VR's repertoire (letters in an IS, a `^` in a CS) or whose
//!    declared VR contradicts the data dictionary is not trusted to be a number or a code,
//!    and gets the full search.
//!    A UID (numbers and dots) is read the same way, component by component: a number that
//!    is one whole component of a UID kept on purpose (`retain-uids`, class UIDs) is a
//!    coincidence when short and a leak when shaped like an identifier; an original UID found
//!    whole is always a leak.
//! 3. **Kept attributes that describe equipment** ([`KEPT_EQUIPMENT`]) hold coincidences: a
//!    match inside Manufacturer is shown as advisory, never blocking; but not a person's
//!    whole name of two words or more (`Lee Ann` in ReceiveCoilName: see `full_name`),
//!    which is no product word, and is a leak.
//! 4. Anything else is a leak, and so is an original UID wherever it is found (UIDs are unique
//!    by construction: one cannot coincide with anything).

use std::ops::Range;

use anon_core::vr_class::splits_on_backslash;
use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;

use crate::codes::is_code;
use crate::element::Element;
use crate::written::{Computed, Generated, WrittenValues, has_computed_shape, trim, trimmed_range};

/// What a match inside one element amounts to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Verdict {
    /// Not a finding: depot's own value, or a number or code that merely contains the match.
    Dropped,
    /// A coincidence with a kept, non-identifying value: `with` names the attribute.
    Coincidence {
        /// The attribute holding the value (keyword, or the tag when it has none).
        with: String,
    },
    /// A leak: the package must not be published.
    Blocking,
}

/// What a match spells, as far as the rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Spelled {
    /// A birth date (never excused inside a shifted date).
    BirthDate,
    /// An original UID (always a leak where it is found whole).
    Uid,
    /// A name, an ID or other text.
    Text,
    /// A person's whole name of two words or more (`Lee Ann`; see `full_name`): a leak in a
    /// kept equipment attribute too.
    FullName,
}

/// What the rules know about the package and the file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Judge<'a> {
    /// Values depot writes (whole value components).
    pub written: &'a WrittenValues,
    /// Elements the engine computed in this file.
    pub generated: &'a Generated,
    /// Matches at least this long, equal to a whole number or code, are leaks; shorter ones
    /// are coincidences.
    pub long: usize,
}

/// Attributes that describe equipment, software or acquisition, whose values are kept: PS3.15
/// Table E.1-1 does not list them (so no option removes or cleans them either), and none is
/// free text. A match inside one of them is a coincidence (a name part `Here` inside
/// Manufacturer `Manufacturer name here`). Device identity (serial numbers, StationName, IDs,
/// calibration dates) and every description the table cleans are not here; neither are
/// labels users type (SequenceName, BeamName, ProtocolName).
pub(crate) const KEPT_EQUIPMENT: [(Tag, &str); 15] = [
    (Tag(0x0008, 0x0070), "Manufacturer"),
    (Tag(0x0008, 0x1090), "ManufacturerModelName"),
    (Tag(0x0018, 0x1020), "SoftwareVersions"),
    (Tag(0x0018, 0x1016), "SecondaryCaptureDeviceManufacturer"),
    (
        Tag(0x0018, 0x1018),
        "SecondaryCaptureDeviceManufacturerModelName",
    ),
    (
        Tag(0x0018, 0x1019),
        "SecondaryCaptureDeviceSoftwareVersions",
    ),
    (Tag(0x0018, 0x1022), "VideoImageFormatAcquired"),
    (Tag(0x0018, 0x1023), "DigitalImageFormatAcquired"),
    (Tag(0x0018, 0x1401), "AcquisitionDeviceProcessingCode"),
    (Tag(0x0018, 0x1160), "FilterType"),
    (Tag(0x0018, 0x1180), "CollimatorGridName"),
    (Tag(0x0018, 0x1210), "ConvolutionKernel"),
    (Tag(0x0018, 0x1250), "ReceiveCoilName"),
    (Tag(0x0018, 0x1251), "TransmitCoilName"),
    (Tag(0x0018, 0x9005), "PulseSequenceName"),
];

/// VRs whose values cannot carry a name or an ID as text: code strings, decimal and integer
/// strings, and binary numbers and tags.
const VALUE_ONLY: [VR; 16] = [
    VR::CS,
    VR::DS,
    VR::IS,
    VR::US,
    VR::SS,
    VR::UL,
    VR::SL,
    VR::FL,
    VR::FD,
    VR::OF,
    VR::OD,
    VR::OL,
    VR::OV,
    VR::SV,
    VR::UV,
    VR::AT,
];

impl Judge<'_> {
    /// The verdict on a match at `hit` (a range of `el.value`) of a value spelled `spelled`.
    pub(crate) fn verdict(&self, el: &Element<'_>, hit: Range<usize>, spelled: Spelled) -> Verdict {
        let component = component_of(el, &hit);
        if let Some(c) = &component {
            let bytes = &el.value[c.clone()];
            if self.written.contains(bytes) || is_well_known_uid(el.vr, bytes) {
                return Verdict::Dropped;
            }
            if let Some(computed) = self.generated.computed(el.path)
                && has_computed_shape(computed, bytes)
                && !(computed == Computed::ShiftedDate && spelled == Spelled::BirthDate)
            {
                return Verdict::Dropped;
            }
        }
        if spelled == Spelled::Uid {
            // UIDs are unique by construction: an original one found anywhere is no
            // coincidence but the original instance's identity.
            return Verdict::Blocking;
        }
        if is_uid_of_numbers(el) {
            // A number that is one whole component of a UID (`…0.134`): the UID kept on
            // purpose (retain-uids, class UIDs) merely contains it, unless it is shaped like an
            // identifier built into the UID (a record number).
            let whole = component.is_some_and(|c| {
                let t = trimmed_range(&el.value[c.clone()]);
                let (start, end) = (c.start + t.start, c.start + t.end);
                (hit.start == start || el.value.get(hit.start.wrapping_sub(1)) == Some(&b'.'))
                    && (hit.end == end || el.value.get(hit.end) == Some(&b'.'))
            });
            return match whole {
                false => Verdict::Dropped,
                true if looks_like_an_identifier(&el.value[hit.clone()], self.long) => {
                    Verdict::Blocking
                }
                true => Verdict::Coincidence {
                    with: keyword(el.tag),
                },
            };
        }
        if is_value_only(el) || is_code(el) {
            let whole = component.is_some_and(|c| {
                let t = trimmed_range(&el.value[c.clone()]);
                c.start + t.start == hit.start && c.start + t.end == hit.end
            });
            return match whole {
                false => Verdict::Dropped,
                true if looks_like_an_identifier(&el.value[hit.clone()], self.long) => {
                    Verdict::Blocking
                }
                true => Verdict::Coincidence {
                    with: keyword(el.tag),
                },
            };
        }
        if let Some((_, name)) = KEPT_EQUIPMENT.iter().find(|(t, _)| *t == el.tag)
            && spelled != Spelled::FullName
        {
            return Verdict::Coincidence {
                with: (*name).to_string(),
            };
        }
        Verdict::Blocking
    }
}

/// Whether a value that is a whole number or code is shaped like an identifier that leaked
/// into it rather than like a coincidence: at least `long` bytes and holding a digit (a record
/// or accession number alone in an IS, a 10-digit phone number in a CS) or several words (a
/// whole name spelled `SMITH JOHN`). A short number (`134`) collides with counts and sizes, and
/// a single word (`PERFUSION`, `WHITE`) with the defined terms code strings are made of.
fn looks_like_an_identifier(matched: &[u8], long: usize) -> bool {
    matched.len() >= long
        && matched
            .iter()
            .any(|b| b.is_ascii_digit() || matches!(b, b' ' | b'^'))
}

/// The value component (a range of `el.value`) the match lies in: for multi-valued text, the
/// backslash-separated value holding all of it (`None` when it spans a backslash); otherwise
/// the whole value.
fn component_of(el: &Element<'_>, hit: &Range<usize>) -> Option<Range<usize>> {
    if !splits_on_backslash(el.vr) {
        return Some(0..el.value.len());
    }
    let start = el.value[..hit.start]
        .iter()
        .rposition(|b| *b == b'\\')
        .map_or(0, |i| i + 1);
    let end = el.value[hit.start..]
        .iter()
        .position(|b| *b == b'\\')
        .map_or(el.value.len(), |i| hit.start + i);
    (hit.end <= end).then_some(start..end)
}

/// A UID the standard defines (transfer syntaxes, SOP classes, coding schemes): the same in
/// every DICOM file, so a number that matches inside it identifies nobody.
fn is_well_known_uid(vr: VR, component: &[u8]) -> bool {
    vr == VR::UI && trim(component).starts_with(b"1.2.840.10008.")
}

/// Whether the element's value is a number or a code (rule 2 of the module): its declared VR
/// is one of [`VALUE_ONLY`] (a CS only in a standard attribute), the data dictionary does not
/// say otherwise for a standard attribute, and a text value keeps to its VR's repertoire (CS: letters, digits, space,
/// underscore; IS: digits and signs; DS: digits, signs, point and exponent).
pub(crate) fn is_value_only(el: &Element<'_>) -> bool {
    if !VALUE_ONLY.contains(&el.vr) {
        return false;
    }
    // A private code string is whatever its vendor put there, not a defined term: searched in
    // full. (Private numbers keep their VR: digits cannot spell a name.)
    if el.vr == VR::CS && !el.tag.group().is_multiple_of(2) {
        return false;
    }
    if el.tag.group().is_multiple_of(2)
        && let Some(entry) = StandardDataDictionary.by_tag(el.tag)
    {
        let agrees = match entry.vr() {
            VirtualVr::Exact(vr) => VALUE_ONLY.contains(&vr),
            VirtualVr::Xs => true,
            _ => false,
        };
        if !agrees {
            return false;
        }
    }
    let allowed: fn(u8) -> bool = match el.vr {
        // Lower-case letters are not CS, but common in real files; anything else is text.
        VR::CS => |b| b.is_ascii_alphanumeric() || b == b' ' || b == b'_',
        VR::IS => |b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b' '),
        VR::DS => |b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E' | b' '),
        _ => return true,
    };
    el.value
        .iter()
        .all(|b| allowed(*b) || matches!(b, b'\\' | 0))
}

/// Whether the element is a UID made of numbers and dots only (padding aside).
fn is_uid_of_numbers(el: &Element<'_>) -> bool {
    el.vr == VR::UI
        && el
            .value
            .iter()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'\\' | b' ' | 0))
}

/// The attribute's keyword, or `(gggg,eeee)` when the dictionary has none (private data).
fn keyword(tag: Tag) -> String {
    match StandardDataDictionary.by_tag(tag) {
        Some(e) if tag.group().is_multiple_of(2) => e.alias().to_string(),
        _ => format!("({:04X},{:04X})", tag.group(), tag.element()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge_with<'a>(written: &'a WrittenValues, generated: &'a Generated) -> Judge<'a> {
        Judge {
            written,
            generated,
            long: 6,
        }
    }

    fn verdict(tag: Tag, vr: VR, value: &[u8], needle: &[u8]) -> Verdict {
        let written = WrittenValues::new();
        let generated = Generated::none();
        let at = memchr::memmem::find(value, needle).expect("needle in value");
        judge_with(&written, &generated).verdict(
            &Element {
                tag,
                path: "(0000,0000)",
                vr,
                value,
            },
            at..at + needle.len(),
            Spelled::Text,
        )
    }

    #[test]
    fn numbers_and_codes_count_only_whole() {
        let phase_steps = Tag(0x0018, 0x0089);
        assert_eq!(
            verdict(phase_steps, VR::IS, b"134 ", b"134"),
            Verdict::Coincidence {
                with: "NumberOfPhaseEncodingSteps".into()
            }
        );
        assert_eq!(
            verdict(phase_steps, VR::IS, b"1234567 ", b"1234567"),
            Verdict::Blocking
        );
        assert_eq!(
            verdict(Tag(0x0020, 0x0032), VR::DS, b"1.5\\-134\\0", b"134"),
            Verdict::Dropped
        );
        assert_eq!(
            verdict(Tag(0x0018, 0x0022), VR::CS, b"AXIAL MODE", b"MODE"),
            Verdict::Dropped
        );
        assert_eq!(
            verdict(Tag(0x2010, 0x0100), VR::CS, b"WHITE ", b"WHITE"),
            Verdict::Coincidence {
                with: "BorderDensity".into()
            }
        );
        // A word equal to a defined term is a coincidence, whatever its length; a long ID or a
        // whole name alone in a code string is not.
        assert_eq!(
            verdict(
                Tag(0x0008, 0x0008),
                VR::CS,
                b"DERIVED\\PRIMARY\\PERFUSION",
                b"PERFUSION"
            ),
            Verdict::Coincidence {
                with: "ImageType".into()
            }
        );
        assert_eq!(
            verdict(Tag(0x0008, 0x0060), VR::CS, b"OT\\AB123456", b"AB123456"),
            Verdict::Blocking
        );
        assert_eq!(
            verdict(Tag(0x0008, 0x0060), VR::CS, b"SMITH JOHN", b"SMITH JOHN"),
            Verdict::Blocking
        );
    }

    #[test]
    fn a_value_that_breaks_its_repertoire_or_the_dictionary_gets_the_full_search() {
        // Letters in an IS, a caret in a CS: not a number, not a code.
        assert_eq!(
            verdict(Tag(0x0018, 0x0089), VR::IS, b"MRN 1234", b"1234"),
            Verdict::Blocking
        );
        assert_eq!(
            verdict(Tag(0x0018, 0x0022), VR::CS, b"SMITH^JOHN", b"SMITH"),
            Verdict::Blocking
        );
        // PatientComments is LT: a file declaring it DS does not make a name a number.
        assert_eq!(
            verdict(Tag(0x0010, 0x4000), VR::DS, b"12 345", b"345"),
            Verdict::Blocking
        );
        // Private numbers keep their declared VR; a private code string is searched in full.
        assert_eq!(
            verdict(Tag(0x0019, 0x1010), VR::IS, b"12\\345", b"345"),
            Verdict::Coincidence {
                with: "(0019,1010)".into()
            }
        );
        assert_eq!(
            verdict(Tag(0x0019, 0x1011), VR::CS, b"SMITHSON", b"SMITHSON"),
            Verdict::Blocking
        );
        assert_eq!(
            verdict(Tag(0x0019, 0x1011), VR::CS, b"DR SMITHSON", b"SMITHSON"),
            Verdict::Blocking
        );
    }

    #[test]
    fn kept_equipment_holds_coincidences_and_other_text_leaks() {
        assert_eq!(
            verdict(Tag(0x0008, 0x0070), VR::LO, b"TOSHIBA_MEC ", b"TOSHIBA"),
            Verdict::Coincidence {
                with: "Manufacturer".into()
            }
        );
        assert_eq!(
            verdict(Tag(0x0008, 0x0080), VR::LO, b"TOSHIBA_MEC ", b"TOSHIBA"),
            Verdict::Blocking
        );
        assert_eq!(
            verdict(Tag(0x300A, 0x00C2), VR::LO, b"Field 1 ", b"Field"),
            Verdict::Blocking
        );
        assert_eq!(
            verdict(Tag(0x0009, 0x1001), VR::UN, b"x\\SMITH", b"SMITH"),
            Verdict::Blocking
        );
    }

    #[test]
    fn a_whole_name_in_kept_equipment_is_a_leak_and_a_single_word_a_coincidence() {
        let written = WrittenValues::new();
        let generated = Generated::none();
        let judge = judge_with(&written, &generated);
        let coil = Element {
            tag: Tag(0x0018, 0x1250),
            path: "(0018,1250)",
            vr: VR::SH,
            value: b"Lee Ann coil",
        };
        assert_eq!(
            judge.verdict(&coil, 0..7, Spelled::FullName),
            Verdict::Blocking
        );
        assert_eq!(
            judge.verdict(&coil, 0..3, Spelled::Text),
            Verdict::Coincidence {
                with: "ReceiveCoilName".into()
            }
        );
    }

    #[test]
    fn depot_values_and_well_known_uids_are_dropped() {
        let mut written = WrittenValues::new();
        written.add("19000101");
        written.add("PQ2WJ6ZR4TA");
        let generated = Generated::none();
        let judge = judge_with(&written, &generated);
        let at = |tag, vr, value: &'static [u8], needle: &[u8]| {
            let i = memchr::memmem::find(value, needle).expect("needle");
            judge.verdict(
                &Element {
                    tag,
                    path: "(0008,0021)",
                    vr,
                    value,
                },
                i..i + needle.len(),
                Spelled::Text,
            )
        };
        assert_eq!(
            at(Tag(0x0008, 0x0021), VR::DA, b"19000101", b"000101"),
            Verdict::Dropped
        );
        assert_eq!(
            at(Tag(0x0010, 0x0020), VR::LO, b"PQ2WJ6ZR4TA ", b"WJ6ZR4"),
            Verdict::Dropped
        );
        // Depot's value next to another in a multi-valued element excuses only itself.
        assert_eq!(
            at(
                Tag(0x0008, 0x0021),
                VR::DA,
                b"19000101\\20000101",
                b"20000101"
            ),
            Verdict::Blocking
        );
        // Inside free text, the same digits are the patient's.
        assert_eq!(
            at(Tag(0x0010, 0x4000), VR::LT, b"seen 19000101", b"19000101"),
            Verdict::Blocking
        );
        assert_eq!(
            at(
                Tag(0x0008, 0x0016),
                VR::UI,
                b"1.2.840.10008.5.1.4.1.1.2\0",
                b"840"
            ),
            Verdict::Dropped
        );
        // A UID kept on purpose (retain-uids) that merely holds a short number as one of its
        // components; a record number built into a UID is a leak.
        assert_eq!(
            at(
                Tag(0x0020, 0x000E),
                VR::UI,
                b"1.3.6.1.4.1.5962.1.0.134\0",
                b"134"
            ),
            Verdict::Coincidence {
                with: "SeriesInstanceUID".into()
            }
        );
        assert_eq!(
            at(Tag(0x0020, 0x000D), VR::UI, b"1.2.3.4711001.5", b"4711001"),
            Verdict::Blocking
        );
    }

    #[test]
    fn an_original_uid_found_whole_is_always_a_leak() {
        let written = WrittenValues::new();
        let generated = Generated::none();
        let judge = judge_with(&written, &generated);
        let el = Element {
            tag: Tag(0x0008, 0x1155),
            path: "(0008,1140)[0]/(0008,1155)",
            vr: VR::UI,
            value: b"1.2.3.4\0",
        };
        assert_eq!(judge.verdict(&el, 0..7, Spelled::Uid), Verdict::Blocking);
        let kept = Element {
            tag: Tag(0x0008, 0x1090),
            path: "(0008,1090)",
            vr: VR::LO,
            value: b"PHANTOM 1.2.3.4",
        };
        assert_eq!(judge.verdict(&kept, 8..15, Spelled::Uid), Verdict::Blocking);
        assert_eq!(
            judge.verdict(&kept, 0..7, Spelled::Text),
            Verdict::Coincidence {
                with: "ManufacturerModelName".into()
            }
        );
    }

    #[test]
    fn shifted_dates_excuse_numbers_but_never_a_birth_date() {
        let written = WrittenValues::new();
        let generated = Generated::from_report(&anon_core::Report {
            actions: vec![anon_core::AppliedAction {
                path: anon_core::TagPath(vec![anon_core::PathStep {
                    tag: Tag(0x0008, 0x0020),
                    item: None,
                }]),
                action: None,
                done: anon_core::Done::DateShifted,
            }],
            ..anon_core::Report::default()
        });
        let judge = judge_with(&written, &generated);
        let el = Element {
            tag: Tag(0x0008, 0x0020),
            path: "(0008,0020)",
            vr: VR::DA,
            value: b"19710123",
        };
        assert_eq!(judge.verdict(&el, 0..8, Spelled::Text), Verdict::Dropped);
        assert_eq!(
            judge.verdict(&el, 0..8, Spelled::BirthDate),
            Verdict::Blocking
        );
        // A value without the shape of a date is not excused by the report.
        let text = Element {
            value: b"SMITH 1971",
            ..el
        };
        assert_eq!(judge.verdict(&text, 0..5, Spelled::Text), Verdict::Blocking);
    }
}
