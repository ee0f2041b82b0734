//! De-identifying one whole object: the checks before anything changes (burned-in text,
//! undecodable text, a missing PatientID), cleaning's first pass, the walk of the data set, then
//! the file meta and the de-identification markers.

use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, InMemDicomObject};

use crate::clean::Scrubber;
use crate::element_text::{code_extensions, first_str};
use crate::error::AnonError;
use crate::patterns::WrittenDates;
use crate::profile::DateMode;
use crate::report::Report;

use super::burned_in::burned_in;
use super::deidentifier::Deidentifier;
use super::state::Walk;
use super::subject::SubjectContext;
use super::undecodable::first_undecodable;

impl Deidentifier {
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
}
