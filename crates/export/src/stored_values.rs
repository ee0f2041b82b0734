//! Every identifying value the archive holds for a subject: what the headers of all its stored
//! files carry, not only the first value the index kept.
//!
//! The index records a subject's PatientName, a study's InstitutionName and the like as first
//! seen, and which file is seen first depends on the order of import: two archives built from
//! the same files in another order index different values (a patient named in two ways, a
//! study whose files name two institutions). A search limited to the index would then depend
//! on that order, and miss the other value. So the export, `depot audit` and the check of a
//! release's reason all read the headers of every stored file of the subjects and search
//! every value of the attributes the index keeps, and of the identity attributes the engine
//! cuts from text (anon-core's identity model, see `header_values`): the export reads the
//! headers it exports in its plan and, here, those of its subjects' other stored files (a
//! birth name or another PatientID held only by an older study the selection leaves out);
//! `depot audit` and `depot release` read them all here, again from the archive (nothing of
//! it is stored anywhere else). One reading, so the export and `depot audit` search the same
//! values.

use std::collections::{BTreeMap, BTreeSet};

use archive::{Archive, Filter, InstanceRecord};
use audit::{Needle, ValueKind};
use dicom_core::Tag;
use rayon::prelude::*;

use crate::deid_file::chain;
use crate::header_values::{header_needles, uids_in};
use crate::stored::{StoredFileError, read_stored_header};

/// What the stored headers of one subject carry.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stored {
    /// Every identifying value (see `header_values::header_needles`) with the attribute
    /// holding it, each once.
    pub needles: Vec<(Tag, Needle)>,
    /// Every UID at any depth that is not a well-known one, labelled with the attribute first
    /// seen holding it, each once.
    pub uids: Vec<(String, &'static str)>,
}

impl Stored {
    /// The UIDs as needles.
    pub fn uid_needles(&self) -> impl Iterator<Item = Needle> + '_ {
        self.uids
            .iter()
            .map(|(uid, label)| Needle::new(*label, ValueKind::Uid, uid.clone()))
    }
}

/// What one stored header carries: its identifying values, and its UIDs with the attribute
/// holding each.
type OneHeader = (Vec<(Tag, Needle)>, Vec<(String, Tag)>);

/// Why the values of a package's subjects could not be learnt.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoredValuesError {
    /// The archive could not be queried.
    #[error("cannot read the archive index")]
    Query(#[from] archive::QueryError),
    /// Stored files of the subjects could not be read: a search without their values would
    /// pass for complete.
    #[error("{}", describe_unread(.0))]
    Unread(Vec<StoredFileError>),
}

fn describe_unread(failures: &[StoredFileError]) -> String {
    match failures.first() {
        Some(e) => format!(
            "{} stored file(s) of the package's subjects could not be read, so their values cannot be searched; first: {}: {}",
            failures.len(),
            e.path().display(),
            std::error::Error::source(e).map(chain).unwrap_or_default()
        ),
        None => "stored files of the package's subjects could not be read".to_string(),
    }
}

/// Reads the header of every stored file of the subjects `codes` (archive codes) and returns
/// what they carry, by code. A stored file that cannot be read stops it (an error naming the
/// files): a search that silently left a file's values out would pass for complete.
pub(crate) fn stored_values(
    archive: &Archive,
    codes: &[&str],
) -> Result<BTreeMap<String, Stored>, StoredValuesError> {
    let files = stored_files(archive, codes, &|_| false)?;
    read_values(&files, &|| {})
}

/// The stored files of the subjects `codes` (archive codes), by code, but those whose stored
/// path is in `skip` (headers the caller reads anyway). Every code is in the map, with no
/// file when all are skipped.
pub(crate) fn stored_files(
    archive: &Archive,
    codes: &[&str],
    skip: &dyn Fn(&InstanceRecord) -> bool,
) -> Result<BTreeMap<String, Vec<InstanceRecord>>, archive::QueryError> {
    let mut out = BTreeMap::new();
    for code in codes.iter().collect::<BTreeSet<_>>() {
        let filter = Filter {
            subject: Some((*code).to_string()),
            ..Filter::default()
        };
        // Row by row: only the files not skipped are kept (all of a subject's records, read
        // whole and filtered, held a vector of every exported file's record per subject).
        let mut records = Vec::new();
        archive.each_instance(&filter, |r| {
            if !skip(&r) {
                records.push(r);
            }
        })?;
        out.insert((*code).to_string(), records);
    }
    Ok(out)
}

/// Reads the header of each of `files` (by subject code; in parallel, `advance` called after
/// each) and returns what they carry, by code. A stored file that cannot be read stops it (an
/// error naming the files): a search that silently left a file's values out would pass for
/// complete.
pub(crate) fn read_values(
    files: &BTreeMap<String, Vec<InstanceRecord>>,
    advance: &(dyn Fn() + Sync),
) -> Result<BTreeMap<String, Stored>, StoredValuesError> {
    let mut out = BTreeMap::new();
    let mut failures = Vec::new();
    for (code, records) in files {
        let read: Vec<Result<OneHeader, StoredFileError>> = records
            .par_iter()
            .map(|r| {
                let one = read_stored_header(&r.path).map(|(obj, _memory)| {
                    let mut uids = Vec::new();
                    uids_in(&obj, &mut uids);
                    (header_needles(&obj), uids)
                });
                advance();
                one
            })
            .collect();
        let mut needles = BTreeSet::new();
        let mut uids: BTreeMap<String, &'static str> = BTreeMap::new();
        for r in read {
            match r {
                Ok((n, u)) => {
                    needles.extend(n);
                    for (uid, tag) in u {
                        uids.entry(uid)
                            .or_insert_with(|| anon_core::identity::label_of(tag, "UID"));
                    }
                }
                Err(f) => failures.push(f),
            }
        }
        out.insert(
            code.clone(),
            Stored {
                needles: needles.into_iter().collect(),
                uids: uids.into_iter().collect(),
            },
        );
    }
    if failures.is_empty() {
        Ok(out)
    } else {
        Err(StoredValuesError::Unread(failures))
    }
}
