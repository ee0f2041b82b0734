//! Every identifying value the archive holds for a subject: what the headers of all its stored
//! files carry, not only the first value the index kept.
//!
//! The index records a subject's PatientName, a study's InstitutionName and the like as first
//! seen, and which file is seen first depends on the order of import: two archives built from
//! the same files in another order index different values (a patient named in two ways, a
//! study whose files name two institutions). A search limited to the index would then depend
//! on that order, and miss the other value. So the export's plan, `depot audit` and the check
//! of a release's reason all read the subject's headers and search every value of the
//! attributes the index keeps, and of the identity attributes the engine cuts from text
//! ([`crate::pipeline`]'s identity attributes): in the export, the headers it exports; in
//! `depot audit` and `depot release`, every stored file of the package's subjects, read again
//! from the archive (nothing of it is stored anywhere else).

use std::collections::{BTreeMap, BTreeSet};

use archive::{Archive, Filter};
use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use rayon::prelude::*;

use crate::pipeline::{ExportError, identity_needles, read_stored_header, uids_in, values_of};
use audit::{Needle, ValueKind};

/// The attributes the index keeps per subject, study or series that the identity attributes
/// leave out: (attribute, label, kind).
const INDEXED_ATTRIBUTES: [(Tag, &str, ValueKind); 5] = [
    (
        tags::ISSUER_OF_PATIENT_ID,
        "IssuerOfPatientID",
        ValueKind::Text,
    ),
    (tags::STUDY_ID, "StudyID", ValueKind::Identifier),
    (tags::INSTITUTION_NAME, "InstitutionName", ValueKind::Text),
    (
        tags::REFERRING_PHYSICIAN_NAME,
        "ReferringPhysicianName",
        ValueKind::PersonName,
    ),
    (tags::STATION_NAME, "StationName", ValueKind::Text),
];

/// A header's identifying values, by attribute: its identity attributes and the other
/// attributes the index keeps (top level).
pub(crate) fn header_needles(obj: &InMemDicomObject) -> Vec<(Tag, Needle)> {
    let mut out = identity_needles(obj);
    for (tag, label, kind) in INDEXED_ATTRIBUTES {
        for v in values_of(obj, tag) {
            out.push((tag, Needle::new(label, kind, v)));
        }
    }
    out
}

/// What the stored headers of one subject carry.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stored {
    /// Every identifying value (see [`header_needles`]), each once.
    pub needles: Vec<Needle>,
    /// Every UID at any depth that is not a well-known one, with the attribute first seen
    /// holding it, each once.
    pub uids: Vec<(String, String)>,
}

/// What one stored header carries: its identifying values, and its UIDs with the attribute
/// holding each.
type OneHeader = (Vec<Needle>, Vec<(String, Tag)>);

/// Reads the header of every stored file of the subjects `codes` (archive codes) and returns
/// what they carry, by code. A stored file that cannot be read stops it (an error naming the
/// files): a search that silently left a file's values out would pass for complete.
pub(crate) fn stored_values(
    archive: &Archive,
    codes: &[&str],
) -> Result<BTreeMap<String, Stored>, ExportError> {
    let mut out = BTreeMap::new();
    let mut failures = Vec::new();
    for code in codes.iter().collect::<BTreeSet<_>>() {
        let filter = Filter {
            subject: Some((*code).to_string()),
            ..Filter::default()
        };
        let records = archive.instances(&filter)?;
        let read: Vec<Result<OneHeader, (String, String)>> = records
            .par_iter()
            .map(|r| {
                let (obj, _memory) = read_stored_header(r).map_err(|e| (r.path.clone(), e))?;
                let needles = header_needles(&obj).into_iter().map(|(_, n)| n).collect();
                let mut uids = Vec::new();
                uids_in(&obj, &mut uids);
                Ok((needles, uids))
            })
            .collect();
        let mut needles = BTreeSet::new();
        let mut uids: BTreeMap<String, String> = BTreeMap::new();
        for r in read {
            match r {
                Ok((n, u)) => {
                    needles.extend(n);
                    for (uid, tag) in u {
                        uids.entry(uid).or_insert_with(|| {
                            anon_core::identity::label_of(tag, "UID").to_string()
                        });
                    }
                }
                Err(f) => failures.push(f),
            }
        }
        out.insert(
            (*code).to_string(),
            Stored {
                needles: needles.into_iter().collect(),
                uids: uids.into_iter().map(|(uid, label)| (label, uid)).collect(),
            },
        );
    }
    if failures.is_empty() {
        Ok(out)
    } else {
        Err(ExportError::StoredFiles(failures))
    }
}
