//! C on one value: dates shifted, UIDs remapped, AE titles pseudonymised, and text and binary
//! values with the identifying values cut out (the subject's, the run's removed values, and
//! e-mail, URL, telephone and date patterns).

use dicom_core::header::Header;
use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::{DataElement, VR};
use dicom_object::mem::InMemElement;

use crate::action::Action;
use crate::charset::{CodeExtensions, Decoded};
use crate::clean::{Scrubber, Terms, is_code, to_fixed_point};
use crate::element_text::{is_text_vr, text_value};
use crate::enumerated::is_enumerated_value;
use crate::patterns::{WrittenDates, pattern_edits};
use crate::report::{Done, PathStep};
use crate::values::shift_dates;

use super::deidentifier::Deidentifier;
use super::state::Walk;

impl Deidentifier {
    /// C on a primitive: dates shifted, UIDs remapped, text and binary cleaned of the subject's
    /// identifiers; numbers and times carry no identity and stay.
    pub(super) fn clean_element(
        &self,
        elem: InMemElement,
        vr: VR,
        action: Action,
        path: &[PathStep],
        walk: &mut Walk<'_>,
    ) -> InMemElement {
        let tag = elem.tag();
        match vr {
            VR::DA | VR::DT => {
                walk.record(path, tag, action, Done::DateShifted);
                let values = elem.to_multi_str().map(|v| v.to_vec()).unwrap_or_default();
                let shifted = shift_dates(&values, walk.subject.date_offset_days);
                if shifted.iter().all(String::is_empty) {
                    DataElement::empty(tag, vr)
                } else {
                    DataElement::new(tag, vr, text_value(vr, shifted))
                }
            }
            VR::UI => {
                walk.record(path, tag, action, Done::UidRemapped);
                self.remap_element(&elem)
            }
            VR::AE if elem.vr() != VR::UN => {
                walk.record(path, tag, action, Done::Pseudonymized);
                self.ae_titles(elem)
            }
            _ if is_text_vr(vr) && elem.vr() != VR::UN => {
                walk.record(path, tag, action, Done::Cleaned);
                let scrubber = walk.cleaner.as_ref().unwrap_or(&walk.scrubber);
                self.scrub_text(elem, vr, scrubber, walk.ext, Some(walk.dates))
            }
            VR::OB | VR::UN | VR::OW | VR::OL | VR::OF | VR::OD | VR::OV => {
                walk.record(path, tag, action, Done::Cleaned);
                let scrubber = walk.cleaner.as_ref().unwrap_or(&walk.scrubber);
                self.scrub_binary(elem, scrubber).0
            }
            _ => {
                walk.record(path, tag, action, Done::Kept);
                elem
            }
        }
    }

    /// An AE title under C: a device name that often names a site, so each value becomes its
    /// keyed pseudonym (`AE` + 10 base32 characters, the same in every export under one key),
    /// unless it is already clean: empty, or such a pseudonym.
    pub(super) fn ae_titles(&self, elem: InMemElement) -> InMemElement {
        let tag = elem.tag();
        let Ok(values) = elem.to_multi_str().map(|v| v.to_vec()) else {
            return elem;
        };
        let mut changed = false;
        let out: Vec<String> = values
            .iter()
            .flat_map(|v| v.split('\\'))
            .map(|v| {
                let t = v.trim_matches(|c: char| c == '\0' || c == ' ');
                if t.is_empty() || is_ae_pseudonym(t) {
                    t.to_string()
                } else {
                    changed = true;
                    self.key.ae_title_for(t)
                }
            })
            .collect();
        if !changed {
            return elem;
        }
        DataElement::new(tag, VR::AE, text_value(VR::AE, out))
    }

    /// Cuts the scrubber's values out of a text element. With `patterns` (action C), also
    /// e-mail addresses, URLs, telephone numbers and written dates (shifted, kept or cut as
    /// given; see [`crate::patterns`]); without (the safety net beyond the table), a defined
    /// term equal to a value as a whole stays. A valid code string only loses values (see
    /// [`Scrubber::clean_code`]).
    pub(super) fn scrub_text(
        &self,
        elem: InMemElement,
        vr: VR,
        scrubber: &Scrubber,
        ext: Option<CodeExtensions>,
        patterns: Option<WrittenDates>,
    ) -> InMemElement {
        let tag = elem.tag();
        let Ok(mut values) = elem.to_multi_str().map(|v| v.to_vec()) else {
            return elem;
        };
        if ext.is_some() {
            // The original bytes as one string (see `text_values`); written back as one value,
            // its delimiters intact.
            values = vec![values.join("\\")];
        }
        let mut changed = false;
        let cleaned: Vec<String> = values
            .into_iter()
            .map(|v| {
                if vr == VR::CS && is_enumerated_value(tag, &v) {
                    // A structural attribute's enumerated value (see `enumerated`).
                    return v;
                }
                // With code extensions, cut characters and drop exactly their bytes. A code
                // string loses only whole words (see `Scrubber::clean_code`).
                // A standard code string is made of defined terms (see
                // `Scrubber::clean_code`); a private one is whatever its vendor put there.
                let code = vr == VR::CS && tag.group() % 2 == 0 && is_code(&v);
                // Beyond the table a defined term equal to a name stays (the audit's
                // coincidence); where a rule says C it goes.
                let terms = if patterns.is_some() {
                    Terms::Cut
                } else {
                    Terms::Keep
                };
                let patterns = patterns.filter(|_| !code);
                let cut = match ext.and_then(|e| e.decode(&v)) {
                    _ if code => scrubber.clean_code(&v, terms),
                    Some(d) => cut_decoded(scrubber, ext, &d, patterns),
                    None => {
                        let edited = patterns.and_then(|dates| {
                            let edits = pattern_edits(&v, dates);
                            (!edits.is_empty()).then(|| crate::patterns::apply(&v, &edits))
                        });
                        let text = edited.as_deref().unwrap_or(&v);
                        scrubber.clean_text(text).or(edited)
                    }
                };
                match cut {
                    Some(c) => {
                        changed = true;
                        c.trim_matches(' ').to_string()
                    }
                    None => v,
                }
            })
            .collect();
        if !changed {
            return elem;
        }
        if cleaned.iter().all(String::is_empty) {
            return DataElement::empty(elem.tag(), vr);
        }
        DataElement::new(elem.tag(), vr, text_value(vr, cleaned))
    }

    /// Zeroes encoded identifiers inside a binary value; returns whether any was found.
    ///
    /// dicom-rs holds the words of OW (and the 32- and 64-bit units of OL, OF, OV and OD) as
    /// numbers, whose bytes [`PrimitiveValue::to_bytes`] gives in little endian order: the
    /// order a little endian file stores. A big endian file stores each unit's bytes the other
    /// way round, so text written into its value byte by byte reads with every unit reversed
    /// here (`HTSI` for `THIS` in OW). Both orders are searched whatever the transfer syntax:
    /// a file converted from big to little endian keeps its text reversed unit by unit.
    pub(super) fn scrub_binary(
        &self,
        elem: InMemElement,
        scrubber: &Scrubber,
    ) -> (InMemElement, bool) {
        if scrubber.is_empty() {
            return (elem, false);
        }
        let tag = elem.tag();
        let vr = elem.vr();
        let Value::Primitive(p) = elem.value() else {
            return (elem, false);
        };
        let mut bytes = p.to_bytes().into_owned();
        let mut found = scrubber.clean_bytes(&mut bytes);
        let unit = unit_size(vr);
        if unit > 1 {
            let reverse = |b: &mut [u8]| b.chunks_exact_mut(unit).for_each(<[u8]>::reverse);
            reverse(&mut bytes);
            found |= scrubber.clean_bytes(&mut bytes);
            reverse(&mut bytes);
        }
        if !found {
            return (elem, false);
        }
        (DataElement::new(tag, vr, from_le_bytes(vr, bytes)), true)
    }
}

/// Cuts the scrubber's values (and, with `patterns`, e-mail addresses, URLs, telephone
/// numbers and written dates) out of a value decoded with its ISO 2022 code extensions:
/// characters are cut and exactly their bytes dropped, escape sequences kept. Bytes can only
/// be dropped here: pattern matches are cut, never rewritten (a written date is cut rather
/// than shifted). Cutting is repeated until nothing matches (see [`to_fixed_point`]).
fn cut_decoded(
    scrubber: &Scrubber,
    ext: Option<CodeExtensions>,
    d: &Decoded,
    patterns: Option<WrittenDates>,
) -> Option<String> {
    let mut mask = scrubber.cut_mask(&d.text);
    if let Some(dates) = patterns {
        let edits = pattern_edits(&d.text, dates);
        if !edits.is_empty() {
            let m = mask.get_or_insert_with(|| vec![false; d.text.chars().count()]);
            for (i, (at, _)) in d.text.char_indices().enumerate() {
                if edits.iter().any(|e| e.range.contains(&at))
                    && let Some(f) = m.get_mut(i)
                {
                    *f = true;
                }
            }
        }
    }
    let first = d.without(&mask?);
    let again = |read: &str| {
        let d = ext.and_then(|e| e.decode(read))?;
        scrubber.cut_mask(&d.text).map(|mask| d.without(&mask))
    };
    Some(to_fixed_point(&first, again).unwrap_or(first))
}

/// The size of the units a binary VR holds (1 for bytes).
fn unit_size(vr: VR) -> usize {
    match vr {
        VR::OW => 2,
        VR::OL | VR::OF => 4,
        VR::OD | VR::OV => 8,
        _ => 1,
    }
}

/// A binary value of `vr` from its bytes in little endian order (see
/// [`Deidentifier::scrub_binary`]); a trailing partial unit is padded with zeros.
fn from_le_bytes(vr: VR, bytes: Vec<u8>) -> PrimitiveValue {
    fn units<const N: usize>(bytes: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
        bytes.chunks(N).map(|c| {
            let mut u = [0u8; N];
            for (d, s) in u.iter_mut().zip(c) {
                *d = *s;
            }
            u
        })
    }
    match vr {
        VR::OW => PrimitiveValue::U16(units(&bytes).map(u16::from_le_bytes).collect()),
        VR::OL => PrimitiveValue::U32(units(&bytes).map(u32::from_le_bytes).collect()),
        VR::OF => PrimitiveValue::F32(units(&bytes).map(f32::from_le_bytes).collect()),
        VR::OV => PrimitiveValue::U64(units(&bytes).map(u64::from_le_bytes).collect()),
        VR::OD => PrimitiveValue::F64(units(&bytes).map(f64::from_le_bytes).collect()),
        _ => PrimitiveValue::U8(bytes.into()),
    }
}

/// Whether an AE title is one of depot's keyed AE pseudonyms (`AE` + 10 base32 characters).
fn is_ae_pseudonym(v: &str) -> bool {
    v.len() == 12
        && v.starts_with("AE")
        && v[2..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
}
