//! What the export knows of each exported subject before it reads a file: its key in the
//! archive (which decides its pseudonym) and the identifying values the index holds for it, as
//! audit needles by attribute and as identifiers the engine cuts from cleaned text; the plan
//! adds every value the subject's headers carry.

use std::collections::{BTreeSet, HashMap, HashSet};

use anon_core::identity::{self, OTHER_PATIENT_IDS};
use anon_core::{Deidentifier, SubjectContext, SubjectId};
use archive::{Archive, Filter, SubjectKey};
use audit::{Needle, ValueKind};
use dicom_core::Tag;
use dicom_dictionary_std::tags;

use super::error::ExportError;

/// One subject's identifying values as its headers carry them.
#[derive(Default)]
pub(crate) struct SubjectSeen {
    /// What the engine's own subject context gathers from each file (name parts, IDs, birth
    /// date spellings, ...), to be cut from every file of the subject.
    pub(crate) identifiers: HashSet<String>,
    /// The same attributes' values as audit needles, by source attribute.
    pub(crate) needles: HashSet<(Tag, Needle)>,
}

/// What is known of each exported subject: its key, and the identifying values the audit
/// searches for and the engine cuts from cleaned text: the archive index's, plus (after the
/// plan) every one the subject's exported headers carry.
pub(crate) struct SubjectFacts {
    pub(crate) key: SubjectKey,
    pub(crate) identifiers: Vec<String>,
    pub(crate) needles: Vec<(Tag, Needle)>,
}

impl SubjectFacts {
    /// The subject's keyed pseudonym, from its key in the archive (anon-core's one
    /// `pseudonym_of`): also its folder name in the package.
    pub(crate) fn pseudonym(&self, deid: &Deidentifier) -> String {
        deid.pseudonym_of(match &self.key {
            SubjectKey::Patient { patient_id, issuer } => SubjectId::Patient {
                patient_id,
                issuer: issuer.as_deref(),
            },
            SubjectKey::BlankPatientId { study_uid } => SubjectId::BlankPatientId { study_uid },
        })
    }

    /// Adds what the plan saw in the subject's headers.
    pub(crate) fn add_seen(&mut self, seen: SubjectSeen) {
        self.identifiers.extend(seen.identifiers);
        self.identifiers.sort();
        self.identifiers.dedup();
        let known: HashSet<(Tag, Needle)> = self.needles.iter().cloned().collect();
        let mut more: Vec<(Tag, Needle)> = seen
            .needles
            .into_iter()
            .filter(|n| !known.contains(n))
            .collect();
        more.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        self.needles.extend(more);
    }
}

/// Every identifying value the archive's index holds for the subjects `codes` (archive
/// codes), as audit needles: what text a person adds to a package (a release's reason) must
/// not contain.
pub(crate) fn index_needles(
    archive: &Archive,
    codes: &[String],
) -> Result<Vec<Needle>, ExportError> {
    let facts = subject_facts(archive, codes.iter().map(String::as_str))?;
    Ok(facts
        .into_values()
        .flat_map(|f| f.needles.into_iter().map(|(_, n)| n))
        .collect())
}

pub(crate) fn subject_facts<'a>(
    archive: &Archive,
    codes: impl Iterator<Item = &'a str>,
) -> Result<HashMap<String, SubjectFacts>, ExportError> {
    let wanted: BTreeSet<&str> = codes.collect();
    let mut out = HashMap::new();
    for code in wanted {
        let filter = Filter {
            subject: Some(code.to_string()),
            ..Filter::default()
        };
        let mut needles: Vec<(Tag, Needle)> = Vec::new();
        let mut push = |tag: Tag, label: &str, kind: ValueKind, value: &Option<String>| {
            if let Some(v) = value {
                for part in v.split('\\') {
                    if !part.trim().is_empty() {
                        needles.push((tag, Needle::new(label, kind, part.trim())));
                    }
                }
            }
        };
        let mut key = None;
        for s in archive.subjects(&filter)? {
            push(
                tags::PATIENT_NAME,
                "PatientName",
                ValueKind::PersonName,
                &s.patient_name,
            );
            push(
                tags::PATIENT_ID,
                "PatientID",
                ValueKind::Identifier,
                &s.patient_id,
            );
            push(
                tags::ISSUER_OF_PATIENT_ID,
                "IssuerOfPatientID",
                ValueKind::Text,
                &s.issuer_of_patient_id,
            );
            push(
                tags::PATIENT_BIRTH_DATE,
                "PatientBirthDate",
                ValueKind::Date,
                &s.birth_date,
            );
            push(
                OTHER_PATIENT_IDS,
                "OtherPatientIDs",
                ValueKind::Identifier,
                &s.other_patient_ids,
            );
            push(
                tags::OTHER_PATIENT_NAMES,
                "OtherPatientNames",
                ValueKind::PersonName,
                &s.other_patient_names,
            );
            if let (Some(id), false) = (&s.patient_id, s.blank_patient_id) {
                key = Some(SubjectKey::Patient {
                    patient_id: id.clone(),
                    issuer: s.issuer_of_patient_id.clone(),
                });
            }
        }
        for st in archive.studies(&filter)? {
            push(
                tags::ACCESSION_NUMBER,
                "AccessionNumber",
                ValueKind::Identifier,
                &st.accession_number,
            );
            push(
                tags::STUDY_ID,
                "StudyID",
                ValueKind::Identifier,
                &st.study_id,
            );
            push(
                tags::INSTITUTION_NAME,
                "InstitutionName",
                ValueKind::Text,
                &st.institution_name,
            );
            push(
                tags::REFERRING_PHYSICIAN_NAME,
                "ReferringPhysicianName",
                ValueKind::PersonName,
                &st.referring_physician_name,
            );
            // A subject without PatientID is keyed by its (only) study.
            if key.is_none() {
                key = Some(SubjectKey::BlankPatientId {
                    study_uid: st.study_uid.clone(),
                });
            }
        }
        for se in archive.series(&filter)? {
            push(
                tags::STATION_NAME,
                "StationName",
                ValueKind::Text,
                &se.station_name,
            );
        }
        // Cut from the subject's cleaned text in the spellings the audit searches (a name
        // part by part too).
        let identifiers = needles
            .iter()
            .filter(|(_, n)| matches!(n.kind, ValueKind::PersonName | ValueKind::Identifier))
            .flat_map(|(_, n)| identity::texts_of(n.kind, &n.value))
            .collect();
        let key = key.unwrap_or(SubjectKey::BlankPatientId {
            study_uid: code.to_string(),
        });
        out.insert(
            code.to_string(),
            SubjectFacts {
                key,
                identifiers,
                needles,
            },
        );
    }
    Ok(out)
}

/// The subject's context for the engine, from the file's own (`raw`): its pseudonym comes from
/// the archive's subject key (so every file of a subject gets the same one, and subjects
/// without a PatientID get distinct ones instead of sharing the pseudonym of the empty ID),
/// and its identifiers are the file's plus every one known of the subject (the index's, and
/// after the plan, those of all its exported files).
pub(crate) fn context_from(
    mut ctx: SubjectContext,
    deid: &Deidentifier,
    facts: &SubjectFacts,
) -> SubjectContext {
    ctx.pseudonym = facts.pseudonym(deid);
    ctx.identifiers.extend(facts.identifiers.iter().cloned());
    ctx.identifiers.sort();
    ctx.identifiers.dedup();
    ctx
}
