//! What the archive's index holds of each subject: its key (which decides its pseudonym) and
//! its identifying values, as audit needles by attribute: PatientName, PatientID,
//! IssuerOfPatientID, PatientBirthDate, OtherPatientIDs, OtherPatientNames, and of its studies
//! and series AccessionNumber, StudyID, InstitutionName, ReferringPhysicianName and
//! StationName (multi-valued attributes value by value). The export's subjects, `depot
//! audit`'s and a release's check all start from it; the values the stored headers carry are
//! read apart ([`crate::stored_values`]).

use std::collections::BTreeMap;

use anon_core::identity::OTHER_PATIENT_IDS;
use anon_core::{Deidentifier, SubjectId};
use archive::{Archive, Filter, QueryError, SubjectKey};
use audit::Needle;
use dicom_core::Tag;
use dicom_dictionary_std::tags;

use crate::header_values::indexed_attribute;

/// One subject as the index knows it.
#[derive(Debug, Clone)]
pub(crate) struct IndexedSubject {
    /// Its key: PatientID and issuer, or (without a PatientID) its study, as the archive
    /// groups it.
    pub(crate) key: SubjectKey,
    /// Its identifying values, by attribute.
    pub(crate) needles: Vec<(Tag, Needle)>,
}

/// The keyed pseudonym of the subject the archive keys by `key` (anon-core's one
/// `pseudonym_of`): also its folder name in a package.
pub(crate) fn subject_pseudonym(deid: &Deidentifier, key: &SubjectKey) -> String {
    deid.pseudonym_of(match key {
        SubjectKey::Patient { patient_id, issuer } => SubjectId::Patient {
            patient_id,
            issuer: issuer.as_deref(),
        },
        SubjectKey::BlankPatientId { study_uid } => SubjectId::BlankPatientId { study_uid },
    })
}

/// Every subject `filter` selects, by archive code. A subject without PatientID is keyed by
/// its first study (it has only one: the archive makes each such study a subject).
pub(crate) fn indexed_subjects(
    archive: &Archive,
    filter: &Filter,
) -> Result<BTreeMap<String, IndexedSubject>, QueryError> {
    let mut needles: BTreeMap<String, Vec<(Tag, Needle)>> = BTreeMap::new();
    let mut keys: BTreeMap<String, SubjectKey> = BTreeMap::new();
    // Each value of an attribute (a multi-valued one value by value), labelled as the
    // identity model labels it.
    let push = |out: &mut Vec<(Tag, Needle)>, tag: Tag, value: &Option<String>| {
        let Some((label, kind)) = indexed_attribute(tag) else {
            return;
        };
        for part in value.iter().flat_map(|v| v.split('\\')) {
            if !part.trim().is_empty() {
                out.push((tag, Needle::new(label, kind, part.trim())));
            }
        }
    };
    for s in archive.subjects(filter)? {
        let n = needles.entry(s.subject.clone()).or_default();
        push(n, tags::PATIENT_NAME, &s.patient_name);
        push(n, tags::PATIENT_ID, &s.patient_id);
        push(n, tags::ISSUER_OF_PATIENT_ID, &s.issuer_of_patient_id);
        push(n, tags::PATIENT_BIRTH_DATE, &s.birth_date);
        push(n, OTHER_PATIENT_IDS, &s.other_patient_ids);
        push(n, tags::OTHER_PATIENT_NAMES, &s.other_patient_names);
        if let (Some(id), false) = (&s.patient_id, s.blank_patient_id) {
            keys.entry(s.subject.clone())
                .or_insert(SubjectKey::Patient {
                    patient_id: id.clone(),
                    issuer: s.issuer_of_patient_id.clone(),
                });
        }
    }
    for st in archive.studies(filter)? {
        let Some(n) = needles.get_mut(&st.subject) else {
            continue;
        };
        push(n, tags::ACCESSION_NUMBER, &st.accession_number);
        push(n, tags::STUDY_ID, &st.study_id);
        push(n, tags::INSTITUTION_NAME, &st.institution_name);
        push(
            n,
            tags::REFERRING_PHYSICIAN_NAME,
            &st.referring_physician_name,
        );
        keys.entry(st.subject.clone())
            .or_insert(SubjectKey::BlankPatientId {
                study_uid: st.study_uid.clone(),
            });
    }
    for se in archive.series(filter)? {
        if let Some(n) = needles.get_mut(&se.subject) {
            push(n, tags::STATION_NAME, &se.station_name);
        }
    }
    Ok(needles
        .into_iter()
        .map(|(code, needles)| {
            // (A subject has a study; were it to have none, its code stands in for one.)
            let key = keys
                .remove(&code)
                .unwrap_or_else(|| SubjectKey::BlankPatientId {
                    study_uid: code.clone(),
                });
            (code, IndexedSubject { key, needles })
        })
        .collect())
}
