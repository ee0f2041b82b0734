//! One selected instance with everything the plan decides about it, from selection to
//! publication: the entry the plan holds per file, in memory or on disk ([`super::plan_store`]).

use std::sync::Arc;

use super::reuse::Slot;
use super::selected::Selected;

/// One selected instance with everything the plan decided about it.
pub(crate) struct Planned {
    pub(crate) record: Selected,
    pub(crate) subject_label: Arc<str>,
    /// The study's number in the package (the archive's, unless several archive subjects
    /// share the subject folder).
    pub(crate) study: i64,
    /// Its position in its package series, from 1 (see [`Planned::rel`]).
    pub(crate) number: u32,
    /// How it would regroup on re-import; only until the package's warnings are written
    /// (see [`Planned::forget_placement`]).
    pub(crate) regroup: Regroup,
    pub(crate) burned_in: Option<Box<str>>,
    /// The exported header has no PatientID although the level writes the pseudonym there:
    /// the write phase adds it (see `write::add_patient_id`).
    pub(crate) add_patient_id: bool,
    /// The de-identified header, kept for the write phase (see [`super::reuse`]).
    pub(crate) kept: Slot,
    /// Its checksum and size as written to the package (by the write phase).
    pub(crate) written: Option<WrittenFile>,
}

impl Planned {
    /// A selected instance before [`plan_one`] has read its header (`unplanned` stands for
    /// the labels it sets).
    pub(crate) fn unplanned(record: Selected, unplanned: &Arc<str>) -> Planned {
        Planned {
            subject_label: Arc::clone(unplanned),
            study: record.study_number,
            number: 0,
            regroup: Regroup::Unknown,
            burned_in: None,
            add_patient_id: false,
            kept: Slot::default(),
            written: None,
            record,
        }
    }

    /// Its package path, `SUBJECT/STUDY/SERIES/NNNNN.dcm` (made when needed: one held per
    /// file was 70 bytes of the export's memory per file).
    pub(crate) fn rel(&self) -> String {
        format!("{}/{:05}.dcm", self.series_dir(), self.number)
    }

    /// Its package series folder, `SUBJECT/STUDY/SERIES`.
    pub(crate) fn series_dir(&self) -> String {
        format!(
            "{}/{}/{}",
            self.subject_label, self.study, self.record.series_label
        )
    }

    /// A planned file of archive subject `code`, study, series and SOP Instance UID `sop`
    /// (its UIDs made from them), with a placement that regroups as archived.
    #[cfg(test)]
    pub(crate) fn for_test(code: &str, study: i64, series: &str, sop: &str) -> Planned {
        let archive_study: Arc<str> = format!("{code}/{study}").into();
        let archive_series: Arc<str> = format!("{code}/{study}/{series}").into();
        let record = Selected {
            series: Arc::new(super::selected::SeriesOf {
                subject: code.into(),
                study_number: study,
                series_label: series.into(),
                modality: None,
                study_uid: format!("1.9.{study}").into(),
                series_uid: format!("1.9.{study}.{series}").into(),
                hash_algorithm: archive::HashAlgorithm::Blake3,
                archive_study: Arc::clone(&archive_study),
                archive_series: Arc::clone(&archive_series),
            }),
            sop_uid: sop.into(),
            instance_number: None,
            stored: super::selected::Stored::Usual([0; 32]),
            size: 0,
        };
        Planned {
            subject_label: code.into(),
            study,
            number: 0,
            regroup: Regroup::Key(
                blake3::hash(sop.as_bytes()).as_bytes()[..16]
                    .try_into()
                    .expect("16 bytes"),
            ),
            burned_in: None,
            add_patient_id: false,
            kept: Slot::default(),
            written: None,
            record,
        }
    }

    /// Frees what only the regrouping check and the package's warnings need.
    pub(crate) fn forget_placement(&mut self) {
        self.regroup = Regroup::Unknown;
    }
}

/// How a planned file would regroup on re-import, as the check needs it.
#[derive(Debug, Default)]
pub(crate) enum Regroup {
    /// Not planned yet, or no longer needed (see [`Planned::forget_placement`]).
    #[default]
    Unknown,
    /// Importable: its instance key (the exported SOP Instance UID) by keyed hash; the other
    /// keys are its series' (see [`Seen::series_keys`]).
    /// (Bytes, not a `u128`, whose 16-byte alignment would pad every plan entry.)
    Key([u8; 16]),
    /// The import would reject it, for this reason.
    Rejected(Box<str>),
}

/// A written file's checksum (by the manifest's algorithm) and size, kept in its plan entry
/// until the manifest lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WrittenFile {
    pub(crate) digest: [u8; 32],
    pub(crate) bytes: u64,
}
