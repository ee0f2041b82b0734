//! De-identifying a file on its way into the archive (dcm4chee's "incoming coercion"): a DICOM
//! receiver configured with a profile stores only the de-identified file, never the original.
//!
//! The same engine and the same audit as `depot export`: the file is de-identified with
//! [`deidentify_with`] and a keyed [`Deidentifier`], and the result is searched by an
//! [`Auditor`] for every identifying value of the original header that the profile promises to
//! remove (the rule of the export's audit, `promised::promises_to_remove`), and for the
//! original UIDs when the profile remaps them. At levels that claim to remove identity a
//! finding refuses the file (nothing is stored); at the others (`anonymize`, `qmenta`,
//! `sup142`) findings are returned as warnings, as an export records them.
//!
//! Subjects are pseudonymized as the archive groups them: by PatientID and issuer, and a file
//! without a PatientID by its study (never by the empty ID, which would merge every such
//! patient into one subject). When the profile writes the pseudonym into PatientID and the file
//! has none, it is added, as an export adds it.

use anon_core::{Deidentifier, Key, Profile, SubjectId};
use archive::{HeaderFacts, SubjectKey};
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use thiserror::Error;

use crate::deid_file::{DeidFileError, deidentify_with};
use crate::header_values::{identity_needles, uids_in};
use crate::keyfile::key_fingerprint;
use crate::promised::promises_to_remove;
use audit::written::WrittenValues;
use audit::{AuditError, Auditor, Finding, Needle, Rules, ValueKind};

/// Why a file could not be de-identified on its way in; it is not stored.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum IncomingError {
    /// The file could not be read or de-identified.
    #[error("cannot de-identify: {0}")]
    Deid(#[from] DeidFileError),
    /// The audit could not be prepared.
    #[error("cannot audit the de-identified file: {0}")]
    Audit(#[from] AuditError),
    /// The pixels may carry burned-in text, and the profile removes identity: such files are
    /// left out, as an export leaves them out (unless the route includes them).
    #[error("the pixel data may carry burned-in text ({0}): not stored at this level")]
    BurnedIn(String),
    /// The audit found identifying data the profile promises to remove.
    #[error("the de-identification audit found {}: not stored", describe(.0))]
    Findings(Vec<Finding>),
}

fn describe(findings: &[Finding]) -> String {
    let mut what: Vec<String> = findings.iter().map(ToString::to_string).collect();
    what.sort();
    what.dedup();
    match what.len() {
        0 => "nothing".into(),
        1 => what.remove(0),
        n => format!("{} (and {} more)", what.remove(0), n - 1),
    }
}

/// A de-identified file, ready to be stored.
#[derive(Debug)]
pub struct Coerced {
    /// The file to store, in the original's transfer syntax.
    pub bytes: Vec<u8>,
    /// The original's SOP Class UID (before any remapping), when it has one.
    pub original_sop_class_uid: Option<String>,
    /// The original's SOP Instance UID (before any remapping), when it has one.
    pub original_sop_instance_uid: Option<String>,
    /// The engine's warnings, and the audit's findings at levels where they are advisory.
    pub warnings: Vec<String>,
}

/// A profile and key applied to every file received through one route.
#[derive(Debug, Clone)]
pub struct IncomingDeid {
    deid: Deidentifier,
    rules: Rules,
    blocking: bool,
    include_burned_in: bool,
    label: String,
}

impl IncomingDeid {
    /// The de-identification `profile` under `key`.
    /// Files whose pixels may carry burned-in text are refused at levels that remove identity
    /// unless `include_burned_in`.
    pub fn new(profile: Profile, key: Key, include_burned_in: bool) -> IncomingDeid {
        let label = format!("{} (key {})", profile.name(), key_fingerprint(&key));
        IncomingDeid {
            rules: Rules::for_profile(&profile),
            blocking: profile.removes_identity(),
            deid: Deidentifier::new(profile, key),
            include_burned_in,
            label,
        }
    }

    /// What the archive records for runs stored through it: the profile's name (level and
    /// options) and the key's fingerprint.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The profile.
    pub fn profile(&self) -> &Profile {
        self.deid.profile()
    }

    /// De-identifies one complete DICOM file held in memory and audits the result. The input
    /// is never modified.
    pub fn apply(&self, input: &[u8]) -> Result<Coerced, IncomingError> {
        let deid = &self.deid;
        let profile = deid.profile();
        let ((mut needles, uids, class, instance, add_patient_id, pseudonym), mut bytes, report) =
            deidentify_with(deid, input, |obj| {
                let mut ctx = deid.subject_context(obj);
                if let Ok(facts) = HeaderFacts::from_object(obj)
                    && let SubjectKey::BlankPatientId { study_uid } = SubjectKey::of(&facts)
                {
                    ctx.pseudonym = deid.pseudonym_of(SubjectId::BlankPatientId {
                        study_uid: &study_uid,
                    });
                }
                let needles: Vec<Needle> = identity_needles(obj)
                    .into_iter()
                    .filter(|(tag, _)| promises_to_remove(profile, *tag))
                    .map(|(_, n)| n)
                    .collect();
                let mut uids = Vec::new();
                if profile.remaps_uids() {
                    uids_in(obj, &mut uids);
                }
                let text = |tag| {
                    obj.get(tag)
                        .and_then(|e| e.to_str().ok())
                        .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
                        .filter(|s| !s.is_empty())
                };
                let add = profile.pseudonymizes_patient_id() && obj.get(tags::PATIENT_ID).is_none();
                let add = add.then(|| ctx.pseudonym.clone());
                let pseudonym = ctx.pseudonym.clone();
                Ok((
                    ctx,
                    (
                        needles,
                        uids,
                        text(tags::SOP_CLASS_UID),
                        text(tags::SOP_INSTANCE_UID),
                        add,
                        pseudonym,
                    ),
                ))
            })?;
        if let Some(reason) = &report.burned_in
            && self.blocking
            && !self.include_burned_in
        {
            return Err(IncomingError::BurnedIn(reason.to_string()));
        }
        if let Some(pseudonym) = add_patient_id {
            let mut obj = crate::deid_file::parse(&bytes, false)?;
            obj.put(DataElement::new(
                tags::PATIENT_ID,
                VR::LO,
                PrimitiveValue::from(pseudonym),
            ));
            let mut out = Vec::with_capacity(bytes.len() + 32);
            obj.write_all(&mut out).map_err(|e| DeidFileError::Encode {
                reason: e.to_string(),
            })?;
            bytes = out;
        }
        if !uids.is_empty() {
            // The original UIDs the level changed, as the export's audit searches them: a UID
            // the level keeps on purpose (class UIDs, coding scheme UIDs, ...) is no finding.
            let out = crate::deid_file::parse(&bytes, true)?;
            let mut kept = Vec::new();
            uids_in(&out, &mut kept);
            let kept: std::collections::HashSet<String> = kept
                .into_iter()
                .map(|(uid, _)| uid)
                .chain(
                    [
                        out.meta().media_storage_sop_class_uid(),
                        out.meta().media_storage_sop_instance_uid(),
                        out.meta().transfer_syntax(),
                        out.meta().implementation_class_uid.as_str(),
                    ]
                    .map(|u| u.trim_end_matches('\0').trim().to_string()),
                )
                .collect();
            let mut seen = std::collections::HashSet::new();
            for (uid, tag) in uids {
                if !kept.contains(&uid) && seen.insert(uid.clone()) {
                    needles.push(Needle::new(
                        anon_core::identity::label_of(tag, "UID"),
                        ValueKind::Uid,
                        uid,
                    ));
                }
            }
        }
        // Depot's own values (the profile's constants, the subject's pseudonym) are never
        // findings, as in an export; coincidences never block.
        let mut written = WrittenValues::new();
        written.add_profile(profile);
        written.add(&pseudonym);
        let auditor = Auditor::new(&needles, self.rules)?.with_written(written);
        let findings = auditor.scan_exported_file("received file", &bytes, &report);
        if self.blocking && findings.iter().any(Finding::is_blocking) {
            return Err(IncomingError::Findings(findings));
        }
        let mut warnings: Vec<String> = report
            .warnings
            .into_iter()
            .filter(|w| !w.starts_with("no PatientID"))
            .collect();
        warnings.extend(findings.iter().map(|f| format!("audit (advisory): {f}")));
        Ok(Coerced {
            bytes,
            original_sop_class_uid: class,
            original_sop_instance_uid: instance,
            warnings,
        })
    }
}
