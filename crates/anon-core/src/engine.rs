//! The engine: walks one DICOM object (every element, every sequence item at any depth), looks
//! up the profile's rule for each attribute, applies it with VR-valid replacements and keyed
//! mappings, adds the de-identification markers, cleans the file meta, and reports what it did.

use std::collections::{HashMap, HashSet};

use dicom_core::header::{HasLength, Header};
use dicom_core::value::{DataSetSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Length, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::mem::InMemElement;
use dicom_object::{DefaultDicomObject, InMemDicomObject};

use crate::action::{Action, Resolved};
use crate::charset::CodeExtensions;
use crate::clean::{Scrubber, Terms, is_code};
use crate::element_text::{
    code_extensions, effective_vr, first_str, is_text_vr, text_value, text_values,
};
use crate::error::AnonError;
use crate::identity::{self, SUBJECT_ATTRIBUTES};
use crate::key::Key;
use crate::level::DeidOption;
use crate::patterns::{WrittenDates, pattern_edits};
use crate::private::is_safe;
use crate::profile::{DateMode, PrivatePolicy, Profile};
use crate::report::{AppliedAction, BurnedInReason, Done, PathStep, Report, TagPath, with_step};
use crate::uids::{CLASS_UID_TAGS, clean_uid, is_well_known};
use crate::values::{dummy, max_len, shift_dates};
use crate::written::{IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME};

/// Sequences nested deeper than this are refused (hostile or broken files).
const MAX_DEPTH: usize = 64;

/// Modalities whose images commonly carry burned-in text.
const BURN_IN_MODALITIES: [&str; 5] = ["US", "SC", "XC", "ES", "OT"];

/// What the engine knows about the subject of an object: derived once per object (or per
/// subject) by [`Deidentifier::subject_context`]; callers may add extra identifiers to cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectContext {
    /// The subject's keyed pseudonym (`P` + 10 base32 characters).
    pub pseudonym: String,
    /// Days every date of this subject moves under the modified-dates option (−3650..=−1).
    pub date_offset_days: i32,
    /// Text cut out of cleaned values: name parts, IDs, birth date (several spellings),
    /// accession number, address, telephone, plus whatever the caller adds.
    pub identifiers: Vec<String>,
}

/// What a subject's keyed pseudonym is derived from: the one input of
/// [`Deidentifier::pseudonym_of`], so that every place that names a subject (the engine, the
/// export's folders and manifest, the audit's expected values) names it alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectId<'a> {
    /// A subject with a PatientID, and its Issuer of Patient ID if any (surrounding blanks do
    /// not count; no issuer and an empty one are the same).
    Patient {
        /// The PatientID.
        patient_id: &'a str,
        /// The Issuer of Patient ID.
        issuer: Option<&'a str>,
    },
    /// A subject without a PatientID in an archive, where each such study is a subject of its
    /// own (the archive's `blank_patient_id` subject key), keyed by its Study Instance UID.
    BlankPatientId {
        /// The Study Instance UID.
        study_uid: &'a str,
    },
    /// A subject without a PatientID outside an archive (`depot anonymize`, a file received
    /// on its own): its name (compared upper-cased) and birth date stand in, so patients
    /// without IDs stay apart. What [`Deidentifier::subject_context`] uses for such a header.
    NameAndBirthDate {
        /// PatientName as written.
        name: &'a str,
        /// PatientBirthDate as written.
        birth_date: &'a str,
    },
}

/// The issuer under which a blank-PatientID subject's Study Instance UID is keyed.
const BLANK_PATIENT_ID_ISSUER: &str = "depot:blank-patient-id:";

/// Applies one profile under one key.
#[derive(Debug, Clone)]
pub struct Deidentifier {
    profile: Profile,
    key: Key,
    /// Whether the profile cleans anything (C on some attribute, or safe private attributes):
    /// only then are the values the run removes gathered first (see [`crate::removed`]).
    cleans: bool,
}

/// Per-object state while walking.
struct Walk<'a> {
    subject: &'a SubjectContext,
    /// The subject's identifiers: what the safety net beyond the table cuts.
    scrubber: Scrubber,
    /// The subject's identifiers and every value the run removes from the object: what C
    /// cuts. `None` when the profile cleans nothing.
    cleaner: Option<Scrubber>,
    /// What C does to dates written in text.
    dates: WrittenDates,
    /// How text is encoded when the data set uses ISO 2022 code extensions.
    ext: Option<CodeExtensions>,
    /// How many sequences with action C the walk is inside.
    cleaning: usize,
    report: Report,
}

/// Whether a decoded value shows that dicom-rs could not decode its bytes: dicom-rs splits
/// values on the byte 0x5C before decoding, and writes a byte it cannot decode as `\ooo`. A
/// backslash therefore never stands in a correctly decoded value; where it does (GB18030, GBK
/// or Shift JIS text with 0x5C as a character's second byte, or bytes invalid in the declared
/// character set), writing the value back would corrupt it.
fn undecodable(value: &str) -> bool {
    value.contains('\\')
}

/// The first text value, at any depth, that dicom-rs could not decode (see [`undecodable`]).
/// Only the VRs it splits on backslashes: in LT, ST, UT and UR a backslash is text.
fn first_undecodable(ds: &InMemDicomObject, path: &mut Vec<PathStep>) -> Option<String> {
    for e in ds.iter() {
        let tag = e.tag();
        match e.value() {
            Value::Sequence(seq) => {
                for (i, item) in seq.items().iter().enumerate() {
                    path.push(PathStep {
                        tag,
                        item: Some(i as u32),
                    });
                    let found = first_undecodable(item, path);
                    path.pop();
                    if found.is_some() {
                        return found;
                    }
                }
            }
            Value::Primitive(PrimitiveValue::Strs(values))
                if !matches!(e.vr(), VR::LT | VR::ST | VR::UT | VR::UR)
                    && values.iter().any(|v| undecodable(v)) =>
            {
                return Some(with_step(path, tag).to_string());
            }
            _ => {}
        }
    }
    None
}

/// VRs kept as they are inside a sequence whose values become dummies (D): enumerated code
/// strings and numbers, which cannot identify anyone and carry the object's structure.
fn keeps_under_dummy(vr: VR) -> bool {
    matches!(
        vr,
        VR::CS
            | VR::US
            | VR::SS
            | VR::UL
            | VR::SL
            | VR::UV
            | VR::SV
            | VR::FL
            | VR::FD
            | VR::DS
            | VR::IS
            | VR::AT
            | VR::OF
            | VR::OD
            | VR::OL
            | VR::OV
    )
}

/// Overlay Data (60xx,3000) of one of the 16 repeating overlay groups.
fn is_overlay_data(tag: Tag) -> bool {
    (0x6000..=0x601E).contains(&tag.group())
        && tag.group().is_multiple_of(2)
        && tag.element() == 0x3000
}

impl Deidentifier {
    /// An engine applying `profile`, with every mapping keyed by `key`.
    pub fn new(profile: Profile, key: Key) -> Deidentifier {
        let cleans = profile.cleans();
        Deidentifier {
            profile,
            key,
            cleans,
        }
    }

    /// The profile applied.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The keyed UID mapping (`2.25.` + decimal of HMAC-SHA256(key, uid)[..16]); UIDs under
    /// `1.2.840.10008.` and empty values are returned unchanged.
    pub fn map_uid(&self, uid: &str) -> String {
        let u = clean_uid(uid);
        if u.is_empty() || is_well_known(u) {
            u.to_string()
        } else {
            self.key.uid_for(u)
        }
    }

    /// A keyed name for a file's bytes: 16 hex digits, the same in every run with the key, that
    /// no one without the key can link to the file (see `Key::content_tag`).
    pub fn content_tag(&self, bytes: &[u8]) -> String {
        self.key.content_tag(bytes)
    }

    /// The keyed pseudonym of a patient ID (and its issuer): `P` + 10 base32 characters.
    /// The same as [`Deidentifier::pseudonym_of`] with [`SubjectId::Patient`].
    pub fn pseudonym(&self, patient_id: &str, issuer: Option<&str>) -> String {
        self.pseudonym_of(SubjectId::Patient { patient_id, issuer })
    }

    /// The subject's keyed pseudonym: `P` + 10 base32 characters, the same for the same
    /// subject in every run under one key, and no one without the key can tell whose it is.
    pub fn pseudonym_of(&self, subject: SubjectId<'_>) -> String {
        match subject {
            SubjectId::Patient { patient_id, issuer } => self
                .key
                .pseudonym_for(patient_id.trim(), issuer.unwrap_or("").trim()),
            SubjectId::BlankPatientId { study_uid } => {
                let issuer = format!("{BLANK_PATIENT_ID_ISSUER}{study_uid}");
                self.key.pseudonym_for("", issuer.trim())
            }
            SubjectId::NameAndBirthDate { name, birth_date } => self
                .key
                .pseudonym_without_id(&name.to_uppercase(), birth_date),
        }
    }

    /// The pseudonym of the subject a header names, as [`Deidentifier::subject_context`]
    /// gives it (PatientID and issuer, or without a PatientID name and birth date), without
    /// gathering the identifiers.
    pub fn header_pseudonym(&self, obj: &InMemDicomObject) -> String {
        let id = first_str(obj, tags::PATIENT_ID).unwrap_or_default();
        if id.is_empty() {
            let name = first_str(obj, tags::PATIENT_NAME).unwrap_or_default();
            let birth = first_str(obj, tags::PATIENT_BIRTH_DATE).unwrap_or_default();
            return self.pseudonym_of(SubjectId::NameAndBirthDate {
                name: &name,
                birth_date: &birth,
            });
        }
        let issuer = first_str(obj, tags::ISSUER_OF_PATIENT_ID);
        self.pseudonym_of(SubjectId::Patient {
            patient_id: &id,
            issuer: issuer.as_deref(),
        })
    }

    /// The subject of `obj`: pseudonym and date offset from the key and PatientID (+ issuer),
    /// or, without a PatientID, from PatientName and birth date; and the identifiers to cut
    /// from cleaned text.
    pub fn subject_context(&self, obj: &InMemDicomObject) -> SubjectContext {
        let id = first_str(obj, tags::PATIENT_ID).unwrap_or_default();
        let issuer = first_str(obj, tags::ISSUER_OF_PATIENT_ID).unwrap_or_default();
        let mut identifiers = Vec::new();
        // Text as characters, whatever the data set's code extensions: a Japanese name split
        // on the bytes of `^` inside its characters would give the wrong parts.
        let ext = code_extensions(obj);
        let texts = |o: &InMemDicomObject, tag: Tag| text_values(o, tag, ext);
        for attr in SUBJECT_ATTRIBUTES {
            for v in texts(obj, attr.tag) {
                identifiers.extend(identity::texts_of(attr.kind, &v));
            }
        }
        if let Some(items) = obj
            .get(tags::OTHER_PATIENT_I_DS_SEQUENCE)
            .and_then(|e| e.items())
        {
            for item in items {
                identifiers.extend(texts(item, tags::PATIENT_ID));
            }
        }
        identifiers.retain(|s| crate::clean::worth_cutting(s));
        identifiers.sort();
        identifiers.dedup();
        if id.is_empty() {
            // No PatientID: name and birth date stand in, so patients without IDs stay apart.
            let name = first_str(obj, tags::PATIENT_NAME).unwrap_or_default();
            let birth = first_str(obj, tags::PATIENT_BIRTH_DATE).unwrap_or_default();
            return SubjectContext {
                pseudonym: self.pseudonym_of(SubjectId::NameAndBirthDate {
                    name: &name,
                    birth_date: &birth,
                }),
                date_offset_days: self
                    .key
                    .date_offset_without_id(&name.to_uppercase(), &birth),
                identifiers,
            };
        }
        SubjectContext {
            pseudonym: self.pseudonym_of(SubjectId::Patient {
                patient_id: &id,
                issuer: Some(&issuer),
            }),
            date_offset_days: self.key.date_offset_for(&id, &issuer),
            identifiers,
        }
    }

    /// De-identifies `obj` in place (data set and file meta) and reports what was done.
    /// `original` leaves the object untouched (only the burned-in check runs).
    pub fn apply(
        &self,
        obj: &mut DefaultDicomObject,
        subject: &SubjectContext,
    ) -> Result<Report, AnonError> {
        let ext = code_extensions(obj);
        let ids = || subject.identifiers.iter().map(String::as_str);
        // Cleaning's first pass: what the run removes, before anything changes.
        let cleaner = (self.cleans && self.profile.changes_anything()).then(|| {
            let removed = crate::removed::removed_values(&self.profile, obj, ext);
            Scrubber::with_removed(ids(), &removed)
        });
        let dates = match self.profile.date_mode() {
            DateMode::Remove => WrittenDates::Cut,
            DateMode::Full => WrittenDates::Keep,
            DateMode::Modified => WrittenDates::Shift(subject.date_offset_days),
        };
        let mut walk = Walk {
            subject,
            scrubber: Scrubber::new(ids()),
            cleaner,
            dates,
            ext,
            cleaning: 0,
            report: Report::default(),
        };
        walk.report.burned_in = burned_in(obj);
        if !self.profile.changes_anything() {
            return Ok(walk.report);
        }
        if let Some(path) = first_undecodable(obj, &mut Vec::new()) {
            return Err(AnonError::Undecodable { path });
        }
        if first_str(obj, tags::PATIENT_ID).is_none() && self.profile.pseudonymizes_patient_id() {
            walk.report.warnings.push(
                "no PatientID: pseudonym derived from PatientName and birth date".to_string(),
            );
        }
        let old_sop = first_str(obj, tags::SOP_INSTANCE_UID);
        let dataset = std::mem::replace(&mut **obj, InMemDicomObject::new_empty());
        let mut path = Vec::new();
        let mut dataset = self.walk_dataset(dataset, &mut path, 0, &mut walk)?;
        let new_sop = first_str(&dataset, tags::SOP_INSTANCE_UID);
        if new_sop.is_some() && new_sop != old_sop {
            walk.report.new_sop_instance_uid = new_sop.clone();
        }
        if self.profile.cleans_meta() {
            self.clean_meta(obj, new_sop.as_deref(), &mut walk.report);
        }
        if self.profile.claims_identity_removal() {
            self.add_markers(&mut dataset, &mut walk.report);
        }
        **obj = dataset;
        Ok(walk.report)
    }

    fn clean_meta(&self, obj: &mut DefaultDicomObject, new_sop: Option<&str>, report: &mut Report) {
        let meta_rule = self.profile.lookup(tags::MEDIA_STORAGE_SOP_INSTANCE_UID);
        let current = clean_uid(&obj.meta().media_storage_sop_instance_uid).to_string();
        // The meta must name the same instance as the data set; when the data set has no SOP
        // Instance UID the meta row's own rule applies.
        let wanted = match new_sop {
            Some(s) => s.to_string(),
            None => match meta_rule.map(|r| r.action.resolve()) {
                Some(Resolved::Uid) => self.map_uid(&current),
                _ => current.clone(),
            },
        };
        let mut removed = Vec::new();
        let meta = obj.meta();
        if meta.source_application_entity_title.is_some() {
            removed.push(tags::SOURCE_APPLICATION_ENTITY_TITLE);
        }
        if meta.sending_application_entity_title.is_some() {
            removed.push(tags::SENDING_APPLICATION_ENTITY_TITLE);
        }
        if meta.receiving_application_entity_title.is_some() {
            removed.push(tags::RECEIVING_APPLICATION_ENTITY_TITLE);
        }
        if meta.private_information_creator_uid.is_some() {
            removed.push(tags::PRIVATE_INFORMATION_CREATOR_UID);
        }
        if meta.private_information.is_some() {
            removed.push(tags::PRIVATE_INFORMATION);
        }
        let changed_uid = wanted != current;
        obj.update_meta(|m| {
            m.media_storage_sop_instance_uid = wanted;
            m.source_application_entity_title = None;
            m.sending_application_entity_title = None;
            m.receiving_application_entity_title = None;
            m.private_information_creator_uid = None;
            m.private_information = None;
            m.implementation_class_uid = IMPLEMENTATION_CLASS_UID.to_string();
            m.implementation_version_name = Some(IMPLEMENTATION_VERSION_NAME.to_string());
        });
        if changed_uid {
            report.actions.push(AppliedAction {
                path: with_step(&[], tags::MEDIA_STORAGE_SOP_INSTANCE_UID),
                action: meta_rule.map(|r| r.action),
                done: Done::UidRemapped,
            });
        }
        for tag in removed {
            report.actions.push(AppliedAction {
                path: with_step(&[], tag),
                action: Some(Action::X),
                done: Done::Removed,
            });
        }
    }

    fn add_markers(&self, ds: &mut InMemDicomObject, report: &mut Report) {
        let mut put = |ds: &mut InMemDicomObject, elem: InMemElement| {
            report.actions.push(AppliedAction {
                path: with_step(&[], elem.tag()),
                action: None,
                done: Done::Added,
            });
            ds.put(elem);
        };
        put(
            ds,
            DataElement::new(
                tags::PATIENT_IDENTITY_REMOVED,
                VR::CS,
                PrimitiveValue::from("YES"),
            ),
        );
        put(
            ds,
            DataElement::new(
                tags::DEIDENTIFICATION_METHOD,
                VR::LO,
                text_value(VR::LO, self.profile.method_description()),
            ),
        );
        let codes = self.profile.method_codes();
        if codes.is_empty() {
            ds.remove_element(tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE);
        } else {
            let items: Vec<InMemDicomObject> = codes
                .iter()
                .map(|(value, meaning)| {
                    InMemDicomObject::from_element_iter([
                        DataElement::new(tags::CODE_VALUE, VR::SH, PrimitiveValue::from(*value)),
                        DataElement::new(
                            tags::CODING_SCHEME_DESIGNATOR,
                            VR::SH,
                            PrimitiveValue::from("DCM"),
                        ),
                        DataElement::new(
                            tags::CODE_MEANING,
                            VR::LO,
                            PrimitiveValue::from(*meaning),
                        ),
                    ])
                })
                .collect();
            put(
                ds,
                DataElement::new(
                    tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE,
                    VR::SQ,
                    DataSetSequence::new(items, Length::UNDEFINED),
                ),
            );
        }
        if let Some(flag) = self.profile.longitudinal_flag() {
            put(
                ds,
                DataElement::new(
                    tags::LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED,
                    VR::CS,
                    PrimitiveValue::from(flag),
                ),
            );
        }
    }

    /// Applies the profile to every element of one data set (top level or sequence item).
    fn walk_dataset(
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
            let result = match crate::unknown::as_dictionary_text(&elem) {
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
    fn standard_element(
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
            return self.beyond_table(elem, path, depth, walk);
        }
        self.keep(elem, path, depth, walk).map(Some)
    }

    /// Keeps an element; a sequence still has the profile applied to its items.
    fn keep(
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
    fn walk_items(
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

    fn record(walk: &mut Walk<'_>, path: &[PathStep], tag: Tag, action: Action, done: Done) {
        walk.report.actions.push(AppliedAction {
            path: with_step(path, tag),
            action: Some(action),
            done,
        });
    }

    /// Applies one rule to one element; `None` when the element is removed.
    fn apply_rule(
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
            Self::record(walk, path, tag, action, Done::Removed);
            return Ok(None);
        }
        if resolved == Resolved::Empty {
            Self::record(walk, path, tag, action, Done::Emptied);
            let empty_vr = if is_seq { VR::SQ } else { vr };
            return Ok(Some(DataElement::empty(tag, empty_vr)));
        }
        if is_seq && matches!(resolved, Resolved::Dummy | Resolved::Pseudonym) {
            // D on a sequence: a non-empty value "that may be a dummy". Keeping the items
            // would keep what they say (institution and person codes, an SR tree), so every
            // value inside becomes a dummy; UIDs are remapped consistently so references
            // still resolve, private attributes follow the private rule.
            Self::record(walk, path, tag, action, Done::Dummy);
            return Ok(Some(self.dummy_sequence(elem, depth)?));
        }
        if is_seq {
            // K, C, U on a sequence: keep it and apply the profile to its items.
            let done = if resolved == Resolved::Keep {
                Done::Kept
            } else {
                Done::ItemsProcessed
            };
            Self::record(walk, path, tag, action, done);
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
            Self::record(walk, path, tag, action, Done::Kept);
            return Ok(Some(elem));
        }
        let out = match resolved {
            Resolved::Keep => {
                Self::record(walk, path, tag, action, Done::Kept);
                elem
            }
            Resolved::Dummy => {
                Self::record(walk, path, tag, action, Done::Dummy);
                self.dummy_element(&elem, vr)
            }
            Resolved::Uid => {
                if vr == VR::UI {
                    Self::record(walk, path, tag, action, Done::UidRemapped);
                    self.remap_element(&elem)
                } else {
                    Self::record(walk, path, tag, action, Done::Dummy);
                    self.dummy_element(&elem, vr)
                }
            }
            Resolved::Pseudonym => self.pseudonym_element(elem, vr, action, path, walk),
            Resolved::Clean => self.clean_element(elem, vr, action, path, walk),
            Resolved::Remove | Resolved::Empty => elem,
        };
        Ok(Some(out))
    }

    /// A sequence with the same items, every value in them replaced by a dummy valid for its
    /// VR (UIDs remapped, well-known ones kept), nested sequences likewise; private attributes
    /// kept only when the profile keeps private attributes as they are.
    fn dummy_sequence(&self, elem: InMemElement, depth: usize) -> Result<InMemElement, AnonError> {
        if depth > MAX_DEPTH {
            return Err(AnonError::TooDeep {
                path: elem.tag().to_string(),
                limit: MAX_DEPTH,
            });
        }
        let tag = elem.tag();
        let Value::Sequence(seq) = elem.into_value() else {
            return Ok(DataElement::empty(tag, VR::SQ));
        };
        let keep_private = self.profile.private_policy() == PrivatePolicy::Keep;
        let mut items = Vec::with_capacity(seq.items().len());
        for item in seq.into_items() {
            let mut out = Vec::new();
            for e in item {
                let t = e.tag();
                if t.element() == 0x0000 || (t.group() % 2 == 1 && !keep_private) {
                    continue;
                }
                // A UN-encoded standard attribute is read as its own VR (see `unknown`); a
                // value kept below stays as it came.
                let (e, original) = match crate::unknown::as_dictionary_text(&e) {
                    Some(read) => (read, Some(e)),
                    None => (e, None),
                };
                let vr = effective_vr(&e);
                // An attribute with a rule of its own that removes or empties it (PatientSex,
                // PatientWeight, GPS coordinates, ...) gets that rule here too: keeping codes
                // and numbers below must never keep what the profile takes away elsewhere.
                match self.profile.lookup(t).map(|r| r.action.resolve()) {
                    Some(Resolved::Remove) => continue,
                    Some(Resolved::Empty) => {
                        let empty_vr = if matches!(e.value(), Value::Sequence(_)) {
                            VR::SQ
                        } else {
                            vr
                        };
                        out.push(DataElement::empty(t, empty_vr));
                        continue;
                    }
                    _ => {}
                }
                let kept = |e: InMemElement| original.clone().unwrap_or(e);
                out.push(match e.value() {
                    Value::Sequence(_) => self.dummy_sequence(e, depth + 1)?,
                    Value::PixelSequence(_) => DataElement::empty(t, vr),
                    // Class and definition UIDs name kinds of object, not patients; with
                    // retain-uids every UID stays. So references still resolve.
                    Value::Primitive(_)
                        if vr == VR::UI
                            && (CLASS_UID_TAGS.contains(&t) || !self.profile.remaps_uids()) =>
                    {
                        kept(e)
                    }
                    Value::Primitive(_) if vr == VR::UI => self.remap_element(&e),
                    // Enumerated codes (an SR tree's ValueType and RelationshipType, a
                    // presentation state's GraphicLayer and GraphicType) and numbers (units,
                    // coordinates, counts) cannot name anyone and hold the structure together,
                    // so the object still parses: only text, codes, dates and binary values
                    // become dummies.
                    Value::Primitive(_) if keeps_under_dummy(vr) => kept(e),
                    Value::Primitive(_) => self.dummy_element(&e, vr),
                });
            }
            items.push(InMemDicomObject::from_element_iter(out));
        }
        Ok(DataElement::new(
            tag,
            VR::SQ,
            DataSetSequence::new(items, Length::UNDEFINED),
        ))
    }

    fn remap_element(&self, elem: &InMemElement) -> InMemElement {
        let values: Vec<String> = elem
            .to_multi_str()
            .map(|v| v.iter().map(|u| self.map_uid(u)).collect())
            .unwrap_or_default();
        DataElement::new(elem.tag(), VR::UI, text_value(VR::UI, values))
    }

    fn dummy_element(&self, elem: &InMemElement, vr: VR) -> InMemElement {
        let tag = elem.tag();
        if vr == VR::UI {
            let values: Vec<String> = elem
                .to_multi_str()
                .map(|v| {
                    v.iter()
                        .map(|u| clean_uid(u).to_string())
                        .filter(|u| !u.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            let mapped: Vec<String> = if values.is_empty() {
                vec![self.key.uid_for(&format!("dummy {tag}"))]
            } else {
                values.iter().map(|u| self.key.uid_for(u)).collect()
            };
            return DataElement::new(tag, VR::UI, text_value(VR::UI, mapped));
        }
        DataElement::new(tag, vr, dummy(vr))
    }

    fn pseudonym_element(
        &self,
        elem: InMemElement,
        vr: VR,
        action: Action,
        path: &[PathStep],
        walk: &mut Walk<'_>,
    ) -> InMemElement {
        let tag = elem.tag();
        if vr == VR::UI {
            Self::record(walk, path, tag, action, Done::UidRemapped);
            return self.remap_element(&elem);
        }
        if !is_text_vr(vr) || matches!(vr, VR::AS | VR::UR) {
            Self::record(walk, path, tag, action, Done::Dummy);
            return self.dummy_element(&elem, vr);
        }
        Self::record(walk, path, tag, action, Done::Pseudonymized);
        let subject_attr = tag == tags::PATIENT_ID || tag == tags::PATIENT_NAME;
        let values: Vec<String> = if subject_attr {
            vec![walk.subject.pseudonym.clone()]
        } else {
            elem.to_multi_str()
                .map(|v| {
                    v.iter()
                        .map(|s| s.trim())
                        .filter(|s| !s.is_empty())
                        .map(|s| {
                            self.key.value_code_for(
                                u32::from(tag.group()) << 16 | u32::from(tag.element()),
                                s,
                            )
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let values: Vec<String> = values
            .into_iter()
            .map(|s| s.chars().take(max_len(vr)).collect())
            .collect();
        if values.is_empty() {
            return DataElement::empty(tag, vr);
        }
        DataElement::new(tag, vr, text_value(vr, values))
    }

    /// C on a primitive: dates shifted, UIDs remapped, text and binary cleaned of the subject's
    /// identifiers; numbers and times carry no identity and stay.
    fn clean_element(
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
                Self::record(walk, path, tag, action, Done::DateShifted);
                let values = elem.to_multi_str().map(|v| v.to_vec()).unwrap_or_default();
                let shifted = shift_dates(&values, walk.subject.date_offset_days);
                if shifted.iter().all(String::is_empty) {
                    DataElement::empty(tag, vr)
                } else {
                    DataElement::new(tag, vr, text_value(vr, shifted))
                }
            }
            VR::UI => {
                Self::record(walk, path, tag, action, Done::UidRemapped);
                self.remap_element(&elem)
            }
            VR::AE if elem.vr() != VR::UN => {
                Self::record(walk, path, tag, action, Done::Pseudonymized);
                self.ae_titles(elem)
            }
            _ if is_text_vr(vr) && elem.vr() != VR::UN => {
                Self::record(walk, path, tag, action, Done::Cleaned);
                let scrubber = walk.cleaner.as_ref().unwrap_or(&walk.scrubber);
                self.scrub_text(elem, vr, scrubber, walk.ext, Some(walk.dates))
            }
            VR::OB | VR::UN | VR::OW => {
                Self::record(walk, path, tag, action, Done::Cleaned);
                let scrubber = walk.cleaner.as_ref().unwrap_or(&walk.scrubber);
                self.scrub_binary(elem, scrubber).0
            }
            _ => {
                Self::record(walk, path, tag, action, Done::Kept);
                elem
            }
        }
    }

    /// An AE title under C: a device name that often names a site, so each value becomes its
    /// keyed pseudonym (`AE` + 10 base32 characters, the same in every export under one key),
    /// unless it is already clean: empty, or such a pseudonym.
    fn ae_titles(&self, elem: InMemElement) -> InMemElement {
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
    fn scrub_text(
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
                    Some(d) => {
                        // Bytes can only be dropped here: pattern matches are cut, never
                        // rewritten (a written date is cut rather than shifted).
                        let mut mask = scrubber.cut_mask(&d.text);
                        if let Some(dates) = patterns {
                            let edits = pattern_edits(&d.text, dates);
                            if !edits.is_empty() {
                                let m =
                                    mask.get_or_insert_with(|| vec![false; d.text.chars().count()]);
                                for (i, (at, _)) in d.text.char_indices().enumerate() {
                                    if edits.iter().any(|e| e.range.contains(&at))
                                        && let Some(f) = m.get_mut(i)
                                    {
                                        *f = true;
                                    }
                                }
                            }
                        }
                        mask.map(|mask| d.without(&mask))
                    }
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
    fn scrub_binary(&self, elem: InMemElement, scrubber: &Scrubber) -> (InMemElement, bool) {
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
        if vr == VR::OW {
            // Words are held in memory order; in a big endian file the bytes on disk (and the
            // text an overlay may spell) are swapped pairwise, so look at that order too.
            let swap = |b: &mut [u8]| b.chunks_exact_mut(2).for_each(|w| w.swap(0, 1));
            swap(&mut bytes);
            found |= scrubber.clean_bytes(&mut bytes);
            swap(&mut bytes);
        }
        if !found {
            return (elem, false);
        }
        let value = if vr == VR::OW {
            PrimitiveValue::U16(
                bytes
                    .chunks(2)
                    .map(|c| u16::from_le_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                    .collect(),
            )
        } else {
            PrimitiveValue::U8(bytes.into())
        };
        (DataElement::new(tag, vr, value), true)
    }

    /// Attributes the table does not list (E.1.1 notes 1, 4, 5), at anonymize-full: person
    /// names get a dummy, instance UIDs are remapped, dates follow the date options, and any
    /// other text or binary value has the subject's identifiers cut out.
    fn beyond_table(
        &self,
        elem: InMemElement,
        path: &mut Vec<PathStep>,
        depth: usize,
        walk: &mut Walk<'_>,
    ) -> Result<Option<InMemElement>, AnonError> {
        let tag = elem.tag();
        if matches!(elem.value(), Value::Sequence(_)) {
            return self.walk_items(elem, path, depth, walk).map(Some);
        }
        if matches!(elem.value(), Value::PixelSequence(_))
            || tag.group() == 0x7FE0
            || elem.is_empty()
        {
            return Ok(Some(elem));
        }
        let vr = effective_vr(&elem);
        match vr {
            VR::PN => self.apply_rule(elem, Action::ZD, path, depth, walk),
            VR::UI => {
                let keep = CLASS_UID_TAGS.contains(&tag)
                    || self.profile.options().contains(&DeidOption::RetainUids);
                if keep {
                    Ok(Some(elem))
                } else {
                    let all_known = elem
                        .to_multi_str()
                        .map(|v| {
                            v.iter()
                                .all(|u| is_well_known(clean_uid(u)) || clean_uid(u).is_empty())
                        })
                        .unwrap_or(true);
                    if all_known {
                        Ok(Some(elem))
                    } else {
                        self.apply_rule(elem, Action::U, path, depth, walk)
                    }
                }
            }
            VR::DA | VR::DT | VR::TM => match self.profile.date_mode() {
                DateMode::Remove => self.apply_rule(elem, Action::XZ, path, depth, walk),
                DateMode::Full => Ok(Some(elem)),
                DateMode::Modified if vr == VR::TM => Ok(Some(elem)),
                DateMode::Modified => self.apply_rule(elem, Action::C, path, depth, walk),
            },
            _ if is_text_vr(vr) && elem.vr() != VR::UN => {
                let hit = elem
                    .to_multi_str()
                    .map(|v| {
                        if vr == VR::CS && tag.group() % 2 == 0 && v.iter().all(|c| is_code(c)) {
                            return v
                                .iter()
                                .any(|c| walk.scrubber.clean_code(c, Terms::Keep).is_some());
                        }
                        let joined = v.join("\\");
                        let text = walk
                            .ext
                            .and_then(|e| e.decode(&joined))
                            .map_or(joined, |d| d.text);
                        walk.scrubber.cut_mask(&text).is_some()
                    })
                    .unwrap_or(false);
                if hit {
                    Self::record(walk, path, tag, Action::C, Done::Cleaned);
                    Ok(Some(self.scrub_text(
                        elem,
                        vr,
                        &walk.scrubber,
                        walk.ext,
                        None,
                    )))
                } else {
                    Ok(Some(elem))
                }
            }
            _ if matches!(elem.vr(), VR::OB | VR::UN) && tag != tags::WAVEFORM_DATA => {
                let (e, hit) = self.scrub_binary(elem, &walk.scrubber);
                if hit {
                    Self::record(walk, path, tag, Action::C, Done::Cleaned);
                }
                Ok(Some(e))
            }
            _ => Ok(Some(elem)),
        }
    }
}

/// Whether the image may hold burned-in text (checked on the original, top level).
fn burned_in(obj: &InMemDicomObject) -> Option<BurnedInReason> {
    match first_str(obj, tags::BURNED_IN_ANNOTATION) {
        Some(flag) if flag.eq_ignore_ascii_case("YES") => Some(BurnedInReason::FlaggedYes),
        Some(_) => None,
        None => {
            let modality = first_str(obj, tags::MODALITY)?.to_ascii_uppercase();
            BURN_IN_MODALITIES
                .contains(&modality.as_str())
                .then_some(BurnedInReason::ModalityWithoutFlag(modality))
        }
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
