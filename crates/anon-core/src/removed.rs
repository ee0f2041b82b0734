//! The first of cleaning's two passes: every identifying value that the run removes, empties,
//! replaces or remaps anywhere in one object (at any depth), gathered before anything changes.
//! Action C then cuts these values, with the subject's identifiers, out of the text it keeps:
//! a value the profile takes out of one attribute must not survive in another (an operator's
//! name typed into AcquisitionComments, the referring physician's telephone number in
//! AdditionalPatientHistory).
//!
//! Only values of an identifying kind count ([`identity::kind_of`]): names, identifiers, free
//! text, dates and UIDs; code strings, ages, numbers, times and binary values do not (`YES`,
//! `HEAD`, `7` would shred every text). A private attribute's meaning is unknown, so of the
//! private attributes removed only person names (PN) count: a private pulse sequence name
//! repeated in ProtocolName is no identity.

use dicom_core::VR;
use dicom_core::header::Header;
use dicom_core::value::Value;
use dicom_object::InMemDicomObject;
use dicom_object::mem::InMemElement;

use crate::action::Resolved;
use crate::charset::CodeExtensions;
use crate::element_text::{effective_vr, element_texts};
use crate::identity::{self, ValueKind};
use crate::profile::{DateMode, PrivatePolicy, Profile};
use crate::uids::{CLASS_UID_TAGS, is_well_known};

/// Sequences nested deeper than this are not followed (the walk refuses them anyway).
const MAX_DEPTH: usize = 64;

/// Values longer than this (characters) are not worth cutting: only an exact copy of a whole
/// report would match.
const MAX_VALUE: usize = 1024;

/// The identifying values `profile` removes, empties, replaces or remaps in `obj`, with their
/// kinds, without duplicates.
pub(crate) fn removed_values(
    profile: &Profile,
    obj: &InMemDicomObject,
    ext: Option<CodeExtensions>,
) -> Vec<(ValueKind, String)> {
    let mut out = Vec::new();
    Pass { profile, ext }.visit(obj, 0, &mut out);
    out.sort();
    out.dedup();
    out
}

struct Pass<'a> {
    profile: &'a Profile,
    ext: Option<CodeExtensions>,
}

impl Pass<'_> {
    /// Follows the profile's rules through one data set.
    fn visit(&self, ds: &InMemDicomObject, depth: usize, out: &mut Vec<(ValueKind, String)>) {
        if depth > MAX_DEPTH {
            return;
        }
        for e in ds.iter() {
            let tag = e.tag();
            if tag.element() == 0x0000 {
                continue;
            }
            let read = crate::unknown::as_dictionary_text(e, self.ext);
            let e = read.as_ref().unwrap_or(e);
            if tag.group() % 2 == 1 {
                match self.profile.exact(tag).map(|r| r.action.resolve()) {
                    Some(r) => self.by_rule(e, r, depth, out),
                    None => match self.profile.private_policy() {
                        PrivatePolicy::Keep => self.items(e, depth, out),
                        // Safe attributes are primitives with numbers and codes, kept; the
                        // rest is removed.
                        PrivatePolicy::Safe | PrivatePolicy::Remove => {
                            self.everything(e, depth, out)
                        }
                    },
                }
                continue;
            }
            match self.profile.lookup(tag).map(|r| r.action.resolve()) {
                Some(r) => self.by_rule(e, r, depth, out),
                None if self.profile.beyond_table() => self.beyond_table(e, depth, out),
                None => self.items(e, depth, out),
            }
        }
    }

    fn by_rule(
        &self,
        e: &InMemElement,
        r: Resolved,
        depth: usize,
        out: &mut Vec<(ValueKind, String)>,
    ) {
        match r {
            Resolved::Remove | Resolved::Empty | Resolved::Dummy | Resolved::Pseudonym => {
                self.everything(e, depth, out)
            }
            Resolved::Uid if effective_vr(e) == VR::UI => self.value(e, out),
            Resolved::Uid | Resolved::Keep | Resolved::Clean => self.items(e, depth, out),
        }
    }

    /// What anonymize-full does to an attribute no rule lists (see `Deidentifier::beyond_table`).
    fn beyond_table(&self, e: &InMemElement, depth: usize, out: &mut Vec<(ValueKind, String)>) {
        match effective_vr(e) {
            VR::SQ => self.items(e, depth, out),
            VR::PN => self.value(e, out),
            VR::UI if self.profile.remaps_uids() => self.value(e, out),
            VR::DA | VR::DT if self.profile.date_mode() == DateMode::Remove => self.value(e, out),
            _ => {}
        }
    }

    /// The items of a kept sequence, walked with the rules.
    fn items(&self, e: &InMemElement, depth: usize, out: &mut Vec<(ValueKind, String)>) {
        if let Value::Sequence(seq) = e.value() {
            for item in seq.items() {
                self.visit(item, depth + 1, out);
            }
        }
    }

    /// Every identifying value in an element that goes (a sequence: at any depth inside).
    fn everything(&self, e: &InMemElement, depth: usize, out: &mut Vec<(ValueKind, String)>) {
        if depth > MAX_DEPTH {
            return;
        }
        match e.value() {
            Value::Sequence(seq) => {
                for item in seq.items() {
                    for inner in item.iter() {
                        let read = crate::unknown::as_dictionary_text(inner, self.ext);
                        self.everything(read.as_ref().unwrap_or(inner), depth + 1, out);
                    }
                }
            }
            Value::Primitive(_) => {
                if e.tag().group() % 2 == 0 || effective_vr(e) == VR::PN {
                    self.value(e, out);
                }
            }
            Value::PixelSequence(_) => {}
        }
    }

    /// The values of one primitive element, if they are of an identifying kind.
    fn value(&self, e: &InMemElement, out: &mut Vec<(ValueKind, String)>) {
        let tag = e.tag();
        let vr = effective_vr(e);
        let Some(kind) = identity::kind_of(tag, vr) else {
            return;
        };
        if kind == ValueKind::Uid && CLASS_UID_TAGS.contains(&tag) {
            return;
        }
        for v in element_texts(e, self.ext) {
            if v.chars().count() > MAX_VALUE || (kind == ValueKind::Uid && is_well_known(&v)) {
                continue;
            }
            out.push((kind, v));
        }
    }
}
