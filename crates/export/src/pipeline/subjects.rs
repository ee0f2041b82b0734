//! What the export knows of each exported subject before it reads a file: its key in the
//! archive (which decides its pseudonym) and the identifying values the index holds for it, as
//! audit needles by attribute and as identifiers the engine cuts from cleaned text; the plan
//! adds every value the subject's headers carry.

use std::collections::{BTreeSet, HashMap, HashSet};

use anon_core::identity::{self, SUBJECT_ATTRIBUTES};
use anon_core::{Deidentifier, SubjectContext};
use archive::{Archive, Filter, SubjectKey};
use audit::{Needle, ValueKind};
use dicom_core::Tag;
use dicom_dictionary_std::tags;

use crate::index_values::{indexed_subjects, subject_pseudonym};
use crate::stored_values::Stored;

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
        subject_pseudonym(deid, &self.key)
    }

    /// Adds what the plan saw in the subject's headers: their values are searched, and cut
    /// from the subject's cleaned text as the index's are ([`cut_texts`]).
    pub(crate) fn add_seen(&mut self, seen: SubjectSeen) {
        self.identifiers.extend(seen.identifiers);
        let known: HashSet<(Tag, Needle)> = self.needles.iter().cloned().collect();
        let mut more: Vec<(Tag, Needle)> = seen
            .needles
            .into_iter()
            .filter(|n| !known.contains(n))
            .collect();
        more.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        self.identifiers
            .extend(more.iter().flat_map(|(tag, n)| cut_texts(*tag, n)));
        self.identifiers.sort();
        self.identifiers.dedup();
        self.needles.extend(more);
    }

    /// Adds what the headers of the subject's stored files that the export does not export
    /// carry (see `others`): searched and cut like the exported headers' values.
    pub(crate) fn add_stored(&mut self, stored: Stored) {
        self.add_seen(SubjectSeen {
            identifiers: HashSet::new(),
            needles: stored.needles.into_iter().collect(),
        });
    }
}

/// The texts cut from every cleaned text of a subject for one of its values (`tag`: the
/// attribute holding it): for the subject's identity attributes (anon-core's identity model,
/// and the IDs of OtherPatientIDsSequence) every text of the value, as the engine's own
/// subject context gathers them from a file; for the other attributes the index keeps, names
/// and IDs only (ReferringPhysicianName part by part, StudyID), not institutions and stations.
pub(crate) fn cut_texts(tag: Tag, n: &Needle) -> Vec<String> {
    let identity =
        tag == tags::OTHER_PATIENT_I_DS_SEQUENCE || SUBJECT_ATTRIBUTES.iter().any(|a| a.tag == tag);
    if identity || matches!(n.kind, ValueKind::PersonName | ValueKind::Identifier) {
        identity::texts_of(n.kind, &n.value)
    } else {
        Vec::new()
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

/// What the index holds of the subjects `codes` (archive codes), with the identifiers the
/// engine cuts from their cleaned text: their names and IDs, in the spellings the audit
/// searches (a name part by part too).
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
        let indexed = indexed_subjects(archive, &filter)?.remove(code);
        let (key, needles) = match indexed {
            Some(s) => (s.key, s.needles),
            None => (
                SubjectKey::BlankPatientId {
                    study_uid: code.to_string(),
                },
                Vec::new(),
            ),
        };
        let mut identifiers: Vec<String> = needles
            .iter()
            .flat_map(|(tag, n)| cut_texts(*tag, n))
            .collect();
        identifiers.sort();
        identifiers.dedup();
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
