//! Dumps made from a real file: one template DICOM file (a vendor's CT, say) written again and
//! again with new subjects, studies, series and instances.
//!
//! Why: the synthetic dump ([`crate::write_dump`]) is ours, so its values never collide with
//! anything and its files are always well formed. A vendor's file is not: it carries private
//! blocks, odd numbers, short codes and text that real identifiers can happen to match. Tests,
//! demos and benchmarks that must behave like a real archive replicate such a file instead,
//! with identities that look like a scanner's (six-digit StudyIDs such as `000101`, numeric
//! accession numbers) and new UIDs at every level, so that the archive groups the copies exactly
//! as it would group real patients.
//!
//! Per subject: PatientName, PatientID, PatientBirthDate (and, where the template has them,
//! OtherPatientIDs, OtherPatientNames, PatientBirthName, PatientMotherBirthName; an
//! OtherPatientIDsSequence is dropped). Per study: StudyInstanceUID, StudyID, AccessionNumber,
//! StudyDate and the series, acquisition and content dates of the template set to it. Per
//! series: SeriesInstanceUID, SeriesNumber, FrameOfReferenceUID. Per instance:
//! SOPInstanceUID (and the meta group's), InstanceNumber. Everything else is the template's,
//! byte for byte as dicom-rs re-encodes it, in the template's transfer syntax.
//!
//! Determinism as in the synthetic dump: values are drawn from a ChaCha RNG seeded with
//! [`ReplicaOptions::seed`] in a fixed order; files are written in parallel, each a pure
//! function of the plan.

use std::path::{Path, PathBuf};

use dicom_core::value::PrimitiveValue;
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, OpenFileOptions};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::dump::DumpSummary;
use crate::error::SynthError;
use crate::names;
use crate::phi::{push_name, push_phi};
use crate::random::{date_from_days, digits, uid};

/// What to replicate, and how many times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaOptions {
    /// The real DICOM file every instance is made from.
    pub template: PathBuf,
    /// Number of subjects (distinct patients).
    pub subjects: u32,
    /// Studies per subject.
    pub studies_per_subject: u32,
    /// Series per study.
    pub series_per_study: u32,
    /// Instances (files) per series.
    pub instances_per_series: u32,
    /// Seed of every drawn value; same template, seed and sizes ⇒ identical dump.
    pub seed: u64,
}

const MAX_FILES: u64 = 50_000_000;

impl ReplicaOptions {
    /// How many files the dump will hold: subjects × studies × series × instances.
    pub fn file_count(&self) -> Result<u64, SynthError> {
        let counts = [
            (self.subjects, "subjects"),
            (self.studies_per_subject, "studies per subject"),
            (self.series_per_study, "series per study"),
            (self.instances_per_series, "instances per series"),
        ];
        for (v, what) in counts {
            if v == 0 {
                return Err(SynthError::InvalidOptions {
                    reason: format!("{what} must be at least 1"),
                });
            }
        }
        let n = counts.iter().map(|(v, _)| u128::from(*v)).product::<u128>();
        if n > u128::from(MAX_FILES) {
            return Err(SynthError::InvalidOptions {
                reason: format!("{n} files is more than the {MAX_FILES} supported"),
            });
        }
        Ok(n as u64)
    }
}

/// The identity of one subject.
struct Subject {
    name: String,
    other_name: String,
    id: String,
    other_id: String,
    birth_date: String,
}

/// One series to write, with everything its instances share.
struct SeriesPlan {
    subject: usize,
    study_uid: String,
    study_id: String,
    accession: String,
    study_date: String,
    series_uid: String,
    series_number: i32,
    frame_of_reference: String,
    sop_base: u128,
    dir: PathBuf,
}

/// Writes `opts.subjects × studies × series × instances` copies of the template below `out`
/// (created if missing; files with the same names are replaced, others left alone), calling
/// `progress(1)` per file, and says what the dump holds. `phi` lists the new identifying values
/// (not the template's own, which every copy keeps wherever they are not replaced).
///
/// Layout: `SUBJ<nnn>_<PatientID>/STUDY<n>_<StudyID>/SER<nnn>/IM<nnnn>.dcm`.
pub fn write_replicas(
    out: &Path,
    opts: &ReplicaOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<DumpSummary, SynthError> {
    let total = opts.file_count()?;
    let template = OpenFileOptions::new()
        .open_file(&opts.template)
        .map_err(|source| SynthError::Template {
            path: opts.template.clone(),
            source: Box::new(source),
        })?;
    let (subjects, series, mut summary) = plan(opts);
    for s in &series {
        let dir = out.join(&s.dir);
        std::fs::create_dir_all(&dir).map_err(|source| SynthError::Io { path: dir, source })?;
    }
    let jobs: Vec<(usize, u32)> = series
        .iter()
        .enumerate()
        .flat_map(|(k, _)| (0..opts.instances_per_series).map(move |i| (k, i)))
        .collect();
    let sizes: Vec<u64> = jobs
        .par_iter()
        .map(|&(k, i)| -> Result<u64, SynthError> {
            let plan = &series[k];
            let subject = &subjects[plan.subject];
            let sop_uid = format!("2.25.{}", plan.sop_base + u128::from(i));
            let mut obj = template.clone();
            let number = i32::try_from(i + 1).unwrap_or(i32::MAX);
            instance(&mut obj, subject, plan, &sop_uid, number);
            let mut bytes = Vec::new();
            obj.write_all(&mut bytes)
                .map_err(|source| SynthError::Encode {
                    sop_uid: sop_uid.clone(),
                    source: Box::new(source),
                })?;
            let path = out.join(&plan.dir).join(format!("IM{:04}.dcm", i + 1));
            crate::atomic::write_atomic(&path, &bytes)?;
            progress(1);
            Ok(bytes.len() as u64)
        })
        .collect::<Result<_, _>>()?;
    summary.files = total;
    summary.instances = total;
    summary.bytes = sizes.iter().sum();
    Ok(summary)
}

fn plan(opts: &ReplicaOptions) -> (Vec<Subject>, Vec<SeriesPlan>, DumpSummary) {
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut phi = Vec::new();
    let mut subjects = Vec::new();
    let mut series = Vec::new();
    let family_offset = rng.random_range(0..names::FAMILY.len());
    let given_offset = rng.random_range(0..names::GIVEN.len());
    for s in 0..opts.subjects as usize {
        let family = names::FAMILY[(family_offset + s) % names::FAMILY.len()];
        let given =
            names::GIVEN[(given_offset + s * 7 + s / names::FAMILY.len()) % names::GIVEN.len()];
        let birth_family = names::FAMILY[(family_offset + s + 11) % names::FAMILY.len()];
        let subject = Subject {
            name: format!("{family}^{given}"),
            other_name: format!("{birth_family}^{given}"),
            id: digits(&mut rng, 8),
            other_id: digits(&mut rng, 10),
            birth_date: date_from_days(rng.random_range(-12_800..14_600)),
        };
        push_name(&mut phi, &subject.name);
        push_name(&mut phi, &subject.other_name);
        for v in [&subject.id, &subject.other_id, &subject.birth_date] {
            push_phi(&mut phi, v);
        }
        let subject_dir = PathBuf::from(format!("SUBJ{:03}_{}", s + 1, subject.id));
        let mut day = rng.random_range(16_436..19_000); // 2015-01-01 onwards
        for st in 0..opts.studies_per_subject as usize {
            day += rng.random_range(30..400);
            // Scanner-style StudyID: subject and study numbers, zero-padded (`000101`).
            let study_id = format!("{:04}{:02}", s + 1, st + 1);
            let accession = digits(&mut rng, 9);
            push_phi(&mut phi, &study_id);
            push_phi(&mut phi, &accession);
            let study_uid = uid(&mut rng);
            let study_date = date_from_days(day);
            let study_dir = subject_dir.join(format!("STUDY{}_{study_id}", st + 1));
            for se in 0..opts.series_per_study {
                series.push(SeriesPlan {
                    subject: s,
                    study_uid: study_uid.clone(),
                    study_id: study_id.clone(),
                    accession: accession.clone(),
                    study_date: study_date.clone(),
                    series_uid: uid(&mut rng),
                    series_number: i32::try_from(se + 1).unwrap_or(i32::MAX),
                    frame_of_reference: uid(&mut rng),
                    sop_base: rng.random::<u128>() >> 2,
                    dir: study_dir.join(format!("SER{:03}", se + 1)),
                });
            }
        }
        subjects.push(subject);
    }
    let studies = u64::from(opts.subjects) * u64::from(opts.studies_per_subject);
    let summary = DumpSummary {
        subjects: u64::from(opts.subjects),
        studies,
        series: studies * u64::from(opts.series_per_study),
        phi,
        ..DumpSummary::default()
    };
    (subjects, series, summary)
}

/// Gives the template copy its identity.
fn instance(
    obj: &mut DefaultDicomObject,
    subject: &Subject,
    plan: &SeriesPlan,
    sop_uid: &str,
    number: i32,
) {
    let text = |obj: &mut DefaultDicomObject, tag: Tag, vr: VR, value: &str| {
        obj.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
    };
    let if_present = |obj: &mut DefaultDicomObject, tag: Tag, vr: VR, value: &str| {
        if obj.element_opt(tag).ok().flatten().is_some() {
            obj.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
        }
    };
    text(obj, tags::PATIENT_NAME, VR::PN, &subject.name);
    text(obj, tags::PATIENT_ID, VR::LO, &subject.id);
    text(obj, tags::PATIENT_BIRTH_DATE, VR::DA, &subject.birth_date);
    // OtherPatientIDs (0010,1000), retired but common in real files.
    if_present(obj, Tag(0x0010, 0x1000), VR::LO, &subject.other_id);
    if_present(obj, tags::OTHER_PATIENT_NAMES, VR::PN, &subject.other_name);
    if_present(obj, tags::PATIENT_BIRTH_NAME, VR::PN, &subject.other_name);
    if_present(
        obj,
        tags::PATIENT_MOTHER_BIRTH_NAME,
        VR::PN,
        &subject.other_name,
    );
    obj.remove_element(tags::OTHER_PATIENT_I_DS_SEQUENCE);
    text(obj, tags::STUDY_INSTANCE_UID, VR::UI, &plan.study_uid);
    text(obj, tags::STUDY_ID, VR::SH, &plan.study_id);
    text(obj, tags::ACCESSION_NUMBER, VR::SH, &plan.accession);
    text(obj, tags::STUDY_DATE, VR::DA, &plan.study_date);
    for tag in [
        tags::SERIES_DATE,
        tags::ACQUISITION_DATE,
        tags::CONTENT_DATE,
    ] {
        if_present(obj, tag, VR::DA, &plan.study_date);
    }
    text(obj, tags::SERIES_INSTANCE_UID, VR::UI, &plan.series_uid);
    obj.put(DataElement::new(
        tags::SERIES_NUMBER,
        VR::IS,
        PrimitiveValue::from(plan.series_number.to_string()),
    ));
    if_present(
        obj,
        tags::FRAME_OF_REFERENCE_UID,
        VR::UI,
        &plan.frame_of_reference,
    );
    text(obj, tags::SOP_INSTANCE_UID, VR::UI, sop_uid);
    obj.put(DataElement::new(
        tags::INSTANCE_NUMBER,
        VR::IS,
        PrimitiveValue::from(number.to_string()),
    ));
    let sop = sop_uid.to_string();
    obj.update_meta(|m| m.media_storage_sop_instance_uid = sop);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    fn template(dir: &Path) -> PathBuf {
        let p = dir.join("template.dcm");
        let mut spec = fixture::instance("ORIG-ID", "1.2.3", "1.2.3.4", "1.2.3.4.5");
        spec.patient_name = "ORIGINAL^PATIENT".into();
        spec.write(&p).unwrap();
        p
    }

    #[test]
    fn every_copy_has_its_own_identity_and_uids() {
        let dir = tempfile::tempdir().unwrap();
        let opts = ReplicaOptions {
            template: template(dir.path()),
            subjects: 2,
            studies_per_subject: 2,
            series_per_study: 2,
            instances_per_series: 3,
            seed: 7,
        };
        let out = dir.path().join("dump");
        let summary = write_replicas(&out, &opts, &|_| {}).unwrap();
        assert_eq!(summary.files, 24);
        assert_eq!(
            (summary.subjects, summary.studies, summary.series),
            (2, 4, 8)
        );
        assert!(
            summary.phi.iter().any(|v| v == "000101"),
            "{:?}",
            summary.phi
        );
        let mut sops = std::collections::HashSet::new();
        let mut studies = std::collections::HashSet::new();
        for entry in walk(&out) {
            let obj = dicom_object::open_file(&entry).unwrap();
            let s = |t| obj.element(t).unwrap().to_str().unwrap().trim().to_string();
            assert!(!s(tags::PATIENT_NAME).contains("ORIGINAL"));
            assert_ne!(s(tags::PATIENT_ID), "ORIG-ID");
            assert!(sops.insert(s(tags::SOP_INSTANCE_UID)));
            assert_eq!(
                obj.meta().media_storage_sop_instance_uid(),
                s(tags::SOP_INSTANCE_UID)
            );
            studies.insert((s(tags::PATIENT_ID), s(tags::STUDY_INSTANCE_UID)));
        }
        assert_eq!(sops.len(), 24);
        assert_eq!(studies.len(), 4);
        // Same options, same bytes.
        let again = dir.path().join("again");
        write_replicas(&again, &opts, &|_| {}).unwrap();
        for p in walk(&out) {
            let q = again.join(p.strip_prefix(&out).unwrap());
            assert_eq!(std::fs::read(&p).unwrap(), std::fs::read(q).unwrap());
        }
    }

    #[test]
    fn a_template_that_is_not_dicom_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("notes.txt");
        std::fs::write(&bad, b"not dicom").unwrap();
        let opts = ReplicaOptions {
            template: bad,
            subjects: 1,
            studies_per_subject: 1,
            series_per_study: 1,
            instances_per_series: 1,
            seed: 1,
        };
        let err = write_replicas(&dir.path().join("o"), &opts, &|_| {}).unwrap_err();
        assert!(err.to_string().contains("notes.txt"), "{err}");
    }

    fn walk(root: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push(p);
                }
            }
        }
        out.sort();
        out
    }
}
