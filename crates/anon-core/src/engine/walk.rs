//! The walk: every element of a data set, every item of every sequence at any depth, each
//! attribute given its rule (or the private policy, or what the level does beyond the table)
//! and the rule applied.

use std::collections::{HashMap, HashSet};

use dicom_core::header::Header;
use dicom_core::value::{DataSetSequence, Value};
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_object::InMemDicomObject;
use dicom_object::mem::InMemElement;

use crate::action::{Action, Resolved};
use crate::element_text::{effective_vr, is_text_vr};
use crate::error::AnonError;
use crate::private::is_safe;
use crate::profile::PrivatePolicy;
use crate::report::{AppliedAction, Done, PathStep, TagPath, with_step};

use super::beyond::Beyond;
use super::deidentifier::Deidentifier;
use super::state::{MAX_DEPTH, Walk};

/// Overlay Data (60xx,3000) of one of the 16 repeating overlay groups.
fn is_overlay_data(tag: Tag) -> bool {
    (0x6000..=0x601E).contains(&tag.group())
        && tag.group().is_multiple_of(2)
        && tag.element() == 0x3000
}

impl Deidentifier {
    /// Applies the profile to every element of one data set (top level or sequence item).
    pub(super) fn walk_dataset(
        &self,
        ds: InMemDicomObject,
        path: &mut Vec<PathStep>,
        depth: usize,
        walk: &mut Walk<'_>,
    ) -> Result<InMemDicomObject, AnonError> {
        if depth > MAX_DEPTH {
            return Err(AnonError::TooDeep {
                path: TagPath(path.clone()).to_string(),
                limit: MAX_DEPTH,
            });
        }
        let policy = self.profile.private_policy();
        // Private creators of this data set: (group, block) -> creator.
        let mut creators: HashMap<(u16, u8), String> = HashMap::new();
        if policy == PrivatePolicy::Safe {
            for e in ds.iter() {
                let t = e.tag();
                if t.group() % 2 == 1 && (0x10..=0xFF).contains(&t.element()) {
                    let text = match e.value() {
                        Value::Primitive(p) => String::from_utf8_lossy(&p.to_bytes()).into_owned(),
                        _ => String::new(),
                    };
                    creators.insert((t.group(), t.element() as u8), text);
                }
            }
        }
        let mut out: Vec<InMemElement> = Vec::with_capacity(ds.iter().count());
        let mut pending_creators: Vec<InMemElement> = Vec::new();
        let mut used_blocks: HashSet<(u16, u8)> = HashSet::new();
        let mut overlays_removed: HashSet<u16> = HashSet::new();
        for elem in ds {
            let tag = elem.tag();
            if tag.element() == 0x0000 && self.profile.cleans_meta() {
                // Group lengths (retired) would be wrong after any change.
                walk.report.actions.push(AppliedAction {
                    path: with_step(path, tag),
                    action: None,
                    done: Done::Removed,
                });
                continue;
            }
            if tag.group() % 2 == 1 {
                if let Some(rule) = self.profile.exact(tag) {
                    if let Some(e) = self.apply_rule(elem, rule.action, path, depth, walk)? {
                        out.push(e);
                    }
                    continue;
                }
                match policy {
                    PrivatePolicy::Keep => out.push(self.keep(elem, path, depth, walk)?),
                    PrivatePolicy::Remove => {
                        walk.report.actions.push(AppliedAction {
                            path: with_step(path, tag),
                            action: Some(Action::X),
                            done: Done::Removed,
                        });
                    }
                    PrivatePolicy::Safe => {
                        if (0x10..=0xFF).contains(&tag.element()) {
                            pending_creators.push(elem);
                            continue;
                        }
                        let block = (tag.group(), (tag.element() >> 8) as u8);
                        let safe = tag.element() >= 0x1000
                            && creators.get(&block).is_some_and(|c| is_safe(c, tag));
                        if safe {
                            used_blocks.insert(block);
                            // The option's action on private attributes is C: a safe
                            // attribute is kept, but cleaned of the subject's identifiers
                            // (a pulse sequence name can hold a typed-in patient name).
                            let out_elem = if matches!(elem.value(), Value::Sequence(_)) {
                                self.walk_items(elem, path, depth, walk)?
                            } else {
                                let vr = effective_vr(&elem);
                                self.clean_element(elem, vr, Action::C, path, walk)
                            };
                            out.push(out_elem);
                        } else {
                            walk.report.actions.push(AppliedAction {
                                path: with_step(path, tag),
                                action: Some(Action::X),
                                done: Done::Removed,
                            });
                        }
                    }
                }
                continue;
            }
            // A standard attribute still encoded as UN gets its tag's rule as its own VR
            // (see `unknown`); kept, it stays as it came.
            let result = match crate::unknown::as_dictionary_text(&elem, walk.ext) {
                Some(read) => {
                    let result = self.standard_element(read.clone(), path, depth, walk)?;
                    crate::unknown::restore(result, &read, elem)
                }
                None => self.standard_element(elem, path, depth, walk)?,
            };
            match result {
                Some(e) => out.push(e),
                None if is_overlay_data(tag) => {
                    overlays_removed.insert(tag.group());
                }
                None => {}
            }
        }
        for creator in pending_creators {
            let t = creator.tag();
            if used_blocks.contains(&(t.group(), t.element() as u8)) {
                out.push(creator);
            } else {
                walk.report.actions.push(AppliedAction {
                    path: with_step(path, t),
                    action: Some(Action::X),
                    done: Done::Removed,
                });
            }
        }
        // An overlay whose Overlay Data was removed is no overlay: Rows, Columns, Type and
        // Origin alone would leave an invalid Overlay Plane module. Drop the whole group.
        if !overlays_removed.is_empty() {
            out.retain(|e| {
                let gone = overlays_removed.contains(&e.tag().group());
                if gone {
                    walk.report.actions.push(AppliedAction {
                        path: with_step(path, e.tag()),
                        action: None,
                        done: Done::Removed,
                    });
                }
                !gone
            });
        }
        Ok(InMemDicomObject::from_element_iter(out))
    }

    /// Applies the profile to one standard (even group) element: its rule, or what the level
    /// does beyond the table, or keep (cleaning text inside a sequence being cleaned). `None`
    /// when it is removed.
    pub(super) fn standard_element(
        &self,
        elem: InMemElement,
        path: &mut Vec<PathStep>,
        depth: usize,
        walk: &mut Walk<'_>,
    ) -> Result<Option<InMemElement>, AnonError> {
        if let Some(rule) = self.profile.lookup(elem.tag()) {
            return self.apply_rule(elem, rule.action, path, depth, walk);
        }
        let vr = effective_vr(&elem);
        let beyond = self.profile.beyond_table();
        if walk.cleaning > 0
            && is_text_vr(vr)
            && elem.vr() != VR::UN
            && !(beyond && vr == VR::PN)
            && !matches!(elem.value(), Value::Sequence(_))
        {
            // Inside a sequence being cleaned: unlisted text is cleaned too (a person name
            // beyond the table gets its dummy instead).
            return Ok(Some(self.clean_element(elem, vr, Action::C, path, walk)));
        }
        if beyond {
            return match self.beyond_table(&elem, walk) {
                Beyond::Items => self.walk_items(elem, path, depth, walk).map(Some),
                Beyond::Keep => Ok(Some(elem)),
                Beyond::Rule(action) => self.apply_rule(elem, action, path, depth, walk),
                Beyond::CleanText(vr) => {
                    walk.record(path, elem.tag(), Action::C, Done::Cleaned);
                    Ok(Some(self.scrub_text(
                        elem,
                        vr,
                        &walk.scrubber,
                        walk.ext,
                        None,
                    )))
                }
                Beyond::CleanBinary => {
                    let tag = elem.tag();
                    let (e, hit) = self.scrub_binary(elem, &walk.scrubber);
                    if hit {
                        walk.record(path, tag, Action::C, Done::Cleaned);
                    }
                    Ok(Some(e))
                }
            };
        }
        self.keep(elem, path, depth, walk).map(Some)
    }

    /// Keeps an element; a sequence still has the profile applied to its items.
    pub(super) fn keep(
        &self,
        elem: InMemElement,
        path: &mut Vec<PathStep>,
        depth: usize,
        walk: &mut Walk<'_>,
    ) -> Result<InMemElement, AnonError> {
        if matches!(elem.value(), Value::Sequence(_)) {
            self.walk_items(elem, path, depth, walk)
        } else {
            Ok(elem)
        }
    }

    /// Rebuilds a sequence with every item walked (lengths become undefined, which is valid in
    /// every transfer syntax).
    pub(super) fn walk_items(
        &self,
        elem: InMemElement,
        path: &mut Vec<PathStep>,
        depth: usize,
        walk: &mut Walk<'_>,
    ) -> Result<InMemElement, AnonError> {
        let tag = elem.tag();
        let vr = elem.vr();
        match elem.into_value() {
            Value::Sequence(seq) => {
                let mut items = Vec::with_capacity(seq.items().len());
                for (i, item) in seq.into_items().into_iter().enumerate() {
                    path.push(PathStep {
                        tag,
                        item: Some(i as u32),
                    });
                    let walked = self.walk_dataset(item, path, depth + 1, walk);
                    path.pop();
                    items.push(walked?);
                }
                Ok(DataElement::new(
                    tag,
                    VR::SQ,
                    DataSetSequence::new(items, Length::UNDEFINED),
                ))
            }
            other => Ok(DataElement::new(tag, vr, other)),
        }
    }

    /// Applies one rule to one element; `None` when the element is removed.
    pub(super) fn apply_rule(
        &self,
        elem: InMemElement,
        action: Action,
        path: &mut Vec<PathStep>,
        depth: usize,
        walk: &mut Walk<'_>,
    ) -> Result<Option<InMemElement>, AnonError> {
        let tag = elem.tag();
        let vr = effective_vr(&elem);
        let is_seq = matches!(elem.value(), Value::Sequence(_));
        let resolved = action.resolve();
        if resolved == Resolved::Remove {
            walk.record(path, tag, action, Done::Removed);
            return Ok(None);
        }
        if resolved == Resolved::Empty {
            walk.record(path, tag, action, Done::Emptied);
            let empty_vr = if is_seq { VR::SQ } else { vr };
            return Ok(Some(DataElement::empty(tag, empty_vr)));
        }
        if is_seq && matches!(resolved, Resolved::Dummy | Resolved::Pseudonym) {
            // D on a sequence: a non-empty value "that may be a dummy". Keeping the items
            // would keep what they say (institution and person codes, an SR tree), so every
            // value inside becomes a dummy; UIDs are remapped consistently so references
            // still resolve, private attributes follow the private rule.
            walk.record(path, tag, action, Done::Dummy);
            return Ok(Some(self.dummy_sequence(elem, depth)?));
        }
        if is_seq {
            // K, C, U on a sequence: keep it and apply the profile to its items.
            let done = if resolved == Resolved::Keep {
                Done::Kept
            } else {
                Done::ItemsProcessed
            };
            walk.record(path, tag, action, done);
            // C on a sequence ("clean"): its items' text must say nothing identifying, even
            // where no rule lists the attribute (an SR TextValue under basic with
            // clean-structured-content).
            let clean = resolved == Resolved::Clean;
            walk.cleaning += usize::from(clean);
            let walked = self.walk_items(elem, path, depth, walk);
            walk.cleaning -= usize::from(clean);
            return walked.map(Some);
        }
        if matches!(elem.value(), Value::PixelSequence(_)) {
            // Encapsulated data only in pixel-like attributes; a rule on one can only remove
            // (handled above), empty (above) or keep it: never rewrite compressed bytes.
            walk.record(path, tag, action, Done::Kept);
            return Ok(Some(elem));
        }
        let out = match resolved {
            Resolved::Keep => {
                walk.record(path, tag, action, Done::Kept);
                elem
            }
            Resolved::Dummy => {
                walk.record(path, tag, action, Done::Dummy);
                self.dummy_element(&elem, vr)
            }
            Resolved::Uid => {
                if vr == VR::UI {
                    walk.record(path, tag, action, Done::UidRemapped);
                    self.remap_element(&elem)
                } else {
                    walk.record(path, tag, action, Done::Dummy);
                    self.dummy_element(&elem, vr)
                }
            }
            Resolved::Pseudonym => self.pseudonym_element(elem, vr, action, path, walk),
            Resolved::Clean => self.clean_element(elem, vr, action, path, walk),
            Resolved::Remove | Resolved::Empty => elem,
        };
        Ok(Some(out))
    }
}
