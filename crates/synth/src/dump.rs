//! Whole synthetic scanner dumps: a folder tree of DICOM files that looks like what a research
//! group copies off a scanner, with every hard case planted, made from a seed.
//!
//! Why: demos, end-to-end tests and benchmarks need many realistic files (and the list of the
//! identifying values inside them, for leak tests) without ever touching real patient data.
//!
//! Determinism: every name, ID, date and UID is drawn from a ChaCha RNG seeded with
//! [`DumpOptions::seed`], in a fixed sequential order while planning; files are then written in
//! parallel, each one a pure function of the plan. Same options ⇒ same paths and same bytes.
//!
//! Layout: `<out>/<FAMILY>^<GIVEN>_<PatientID>/<YYYYMMDD>_<BODYPART>/SER<nnn>/IM<nnnn>[.dcm]`.
//! The placement of each hard case is documented on [`write_dump`] and reported in
//! [`DumpSummary::landmarks`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use dicom_dictionary_std::uids;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::error::SynthError;
use crate::fixture::{InstanceSpec, SopReference, SrDocument, Syntax};
use crate::names;
use crate::phi::{push_name, push_phi};
use crate::random::{date_from_days, digits, pick, uid, uid_int};

/// The size and seed of a dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpOptions {
    /// Number of subjects (distinct patients).
    pub subjects: u32,
    /// Studies per subject.
    pub studies_per_subject: u32,
    /// Image series per study (each study also gets one SR series with one document).
    pub series_per_study: u32,
    /// Instances (files) per image series.
    pub instances_per_series: u32,
    /// Rows of every image.
    pub rows: u16,
    /// Columns of every image.
    pub columns: u16,
    /// Seed of every drawn value; same seed and sizes ⇒ identical dump.
    pub seed: u64,
}

impl Default for DumpOptions {
    /// 3 subjects × 2 studies × 3 series × 4 instances of 64×64 pixels (+ 6 SR documents =
    /// 78 files, about 0.7 MB), seed 1: small, yet every hard case is present.
    fn default() -> DumpOptions {
        DumpOptions {
            subjects: 3,
            studies_per_subject: 2,
            series_per_study: 3,
            instances_per_series: 4,
            rows: 64,
            columns: 64,
            seed: 1,
        }
    }
}

/// Frames per instance in the multi-frame series.
pub const MULTI_FRAME_FRAMES: u32 = 4;
/// Series Number given to every SR series (except when it has to share a number, see
/// [`write_dump`]).
pub const SR_SERIES_NUMBER: i32 = 900;
const MAX_FILES: u64 = 50_000_000;

impl DumpOptions {
    /// How many files the dump will hold: subjects × studies × (series × instances + 1 SR).
    pub fn file_count(&self) -> Result<u64, SynthError> {
        self.validate()?;
        let per_study =
            u128::from(self.series_per_study) * u128::from(self.instances_per_series) + 1;
        let n = u128::from(self.subjects) * u128::from(self.studies_per_subject) * per_study;
        if n > u128::from(MAX_FILES) {
            return Err(SynthError::InvalidOptions {
                reason: format!("{n} files is more than the {MAX_FILES} supported"),
            });
        }
        Ok(n as u64)
    }

    fn validate(&self) -> Result<(), SynthError> {
        let checks = [
            (self.subjects, "subjects"),
            (self.studies_per_subject, "studies per subject"),
            (self.series_per_study, "series per study"),
            (self.instances_per_series, "instances per series"),
            (u32::from(self.rows), "rows"),
            (u32::from(self.columns), "columns"),
        ];
        for (v, what) in checks {
            if v == 0 {
                return Err(SynthError::InvalidOptions {
                    reason: format!("{what} must be at least 1"),
                });
            }
        }
        Ok(())
    }
}

/// A hard case planted in a dump (see [`Landmark`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HardCase {
    /// A series in Explicit VR Little Endian, with an overlay in group 6000 and Burned In
    /// Annotation "NO".
    ExplicitLittleOverlay,
    /// A series in Implicit VR Little Endian (private elements read back as UN), without
    /// Burned In Annotation.
    ImplicitLittle,
    /// A series in Explicit VR Big Endian.
    ExplicitBig,
    /// A series of Enhanced MR multi-frame instances ([`MULTI_FRAME_FRAMES`] frames each).
    MultiFrame,
    /// An ultrasound series with encapsulated JPEG Baseline pixel data and Burned In Annotation
    /// "YES" (no private block: not a Siemens MR).
    Encapsulated,
    /// A series in Deflated Explicit VR Little Endian.
    Deflated,
    /// The second of two series of one study that share a Series Number (different Series
    /// Instance UIDs); the path is that of the second.
    SharedSeriesNumber,
    /// A subject whose Patient ID is present but empty.
    BlankPatientId,
    /// A Comprehensive SR document naming the patient and referring to the study's images.
    StructuredReport,
}

/// Where a hard case is, relative to the dump folder (a subject, study or series folder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landmark {
    /// What is there.
    pub case: HardCase,
    /// The folder holding it, relative to the dump's root.
    pub path: PathBuf,
}

/// What a dump holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DumpSummary {
    /// Files written.
    pub files: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Subjects (distinct patients).
    pub subjects: u64,
    /// Studies.
    pub studies: u64,
    /// Series, SR series included.
    pub series: u64,
    /// Instances (one per file).
    pub instances: u64,
    /// Every identifying value planted (names and name parts, patient and other IDs, birth
    /// dates, accession numbers, institution names and addresses, physician and operator names
    /// and their parts), deduplicated, in planting order. Each is at least 3 characters long.
    pub phi: Vec<String>,
    /// The first place of each planted hard case, in the order of [`HardCase`]'s variants as met.
    pub landmarks: Vec<Landmark>,
}

/// One series to write: the spec shared by its instances, its folder and file naming.
#[derive(Debug)]
struct SeriesPlan {
    template: InstanceSpec,
    dir: PathBuf,
    extension: &'static str,
    sop_base: u128,
    instances: u32,
}

impl SeriesPlan {
    fn sop_uid(&self, i: u32) -> String {
        format!("2.25.{}", self.sop_base + u128::from(i))
    }

    fn spec(&self, i: u32) -> InstanceSpec {
        let mut spec = self.template.clone();
        spec.sop_uid = self.sop_uid(i);
        spec.instance_number = i32::try_from(i + 1).unwrap_or(i32::MAX);
        spec
    }

    fn file(&self, i: u32) -> PathBuf {
        self.dir.join(format!("IM{:04}{}", i + 1, self.extension))
    }
}

fn physician(rng: &mut ChaCha8Rng) -> String {
    format!(
        "{}^{}",
        pick(rng, names::PHYSICIAN_FAMILY),
        pick(rng, names::PHYSICIAN_GIVEN)
    )
}

/// Keeps folder names to letters, digits, `^`, `-` and `_`.
fn folder_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '^' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

struct Plan {
    series: Vec<SeriesPlan>,
    summary: DumpSummary,
}

fn plan(opts: &DumpOptions) -> Result<Plan, SynthError> {
    opts.file_count()?;
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut series_plans = Vec::new();
    let mut phi = Vec::new();
    let mut landmarks: Vec<Landmark> = Vec::new();
    let mut mark = |case: HardCase, path: &Path| {
        if !landmarks.iter().any(|l| l.case == case) {
            landmarks.push(Landmark {
                case,
                path: path.to_path_buf(),
            });
        }
    };
    let family_offset = rng.random_range(0..names::FAMILY.len());
    let given_offset = rng.random_range(0..names::GIVEN.len());
    let mut g = 0u64; // global image series index
    let mut study_global = 0u64;
    for s in 0..opts.subjects as usize {
        let family = names::FAMILY[(family_offset + s) % names::FAMILY.len()];
        let given =
            names::GIVEN[(given_offset + s * 7 + s / names::FAMILY.len()) % names::GIVEN.len()];
        let patient_name = format!("{family}^{given}");
        let blank_id = s == 1;
        let patient_id = if blank_id {
            String::new()
        } else {
            format!("MRN{}", digits(&mut rng, 7))
        };
        let other_id = format!("NHS{}", digits(&mut rng, 9));
        let birth_date = date_from_days(rng.random_range(-12_800..14_600)); // 1935 .. 2009
        let sex = if rng.random_bool(0.5) { "F" } else { "M" };
        push_name(&mut phi, &patient_name);
        for v in [&patient_id, &other_id, &birth_date] {
            push_phi(&mut phi, v);
        }
        let subject_dir = PathBuf::from(if blank_id {
            folder_safe(&patient_name)
        } else {
            format!(
                "{}_{}",
                folder_safe(&patient_name),
                folder_safe(&patient_id)
            )
        });
        if blank_id {
            mark(HardCase::BlankPatientId, &subject_dir);
        }
        let mut day = rng.random_range(16_436..19_000); // 2015-01-01 onwards
        for _ in 0..opts.studies_per_subject {
            day += rng.random_range(30..400);
            let study_date = date_from_days(day);
            let study_time = format!(
                "{:02}{:02}{:02}",
                rng.random_range(7..19u32),
                rng.random_range(0..60u32),
                rng.random_range(0..60u32)
            );
            let &(study_description, body_part, series_names) = pick(&mut rng, names::STUDIES);
            let &(institution, address) = pick(&mut rng, names::INSTITUTIONS);
            let accession = format!("ACC{}", digits(&mut rng, 8));
            let referring = physician(&mut rng);
            let performing = physician(&mut rng);
            let operator = physician(&mut rng);
            push_phi(&mut phi, &accession);
            push_phi(&mut phi, institution);
            push_phi(&mut phi, address);
            for n in [&referring, &performing, &operator] {
                push_name(&mut phi, n);
            }
            let study_uid = uid(&mut rng);
            let frame_of_reference = uid(&mut rng);
            let study_dir = subject_dir.join(format!("{study_date}_{body_part}"));
            let study_template = InstanceSpec {
                patient_id: patient_id.clone(),
                issuer_of_patient_id: Some(
                    institution.split(' ').take(2).collect::<Vec<_>>().join(" "),
                ),
                other_patient_id: Some(other_id.clone()),
                patient_name: patient_name.clone(),
                birth_date: birth_date.clone(),
                sex: sex.into(),
                study_uid: study_uid.clone(),
                frame_of_reference_uid: Some(frame_of_reference),
                study_date,
                study_time,
                study_id: digits(&mut rng, 5),
                accession,
                institution: institution.into(),
                institution_address: address.into(),
                referring_physician: referring,
                performing_physician: performing,
                operator_name: operator,
                station_name: format!("MRC{}", digits(&mut rng, 5)),
                study_description: study_description.into(),
                private_block: true,
                nested: true,
                ..InstanceSpec::default()
            };
            let mut references = Vec::new();
            for k in 0..opts.series_per_study {
                let dir = study_dir.join(format!("SER{:03}", k + 1));
                let series_number = if study_global == 0 && k == 1 {
                    1
                } else {
                    k as i32 + 1
                };
                if study_global == 0 && k == 1 {
                    mark(HardCase::SharedSeriesNumber, &dir);
                }
                let mut t = InstanceSpec {
                    series_uid: uid(&mut rng),
                    series_number: Some(series_number),
                    series_description: series_names[k as usize % series_names.len()].into(),
                    rows: opts.rows,
                    columns: opts.columns,
                    ..study_template.clone()
                };
                match g {
                    0 => {
                        t.overlay = true;
                        t.burned_in = Some(false);
                        mark(HardCase::ExplicitLittleOverlay, &dir);
                    }
                    1 => {
                        t.syntax = Syntax::ImplicitLittle;
                        mark(HardCase::ImplicitLittle, &dir);
                    }
                    2 => {
                        t.syntax = Syntax::ExplicitBig;
                        t.burned_in = Some(false);
                        mark(HardCase::ExplicitBig, &dir);
                    }
                    3 => {
                        t.frames = MULTI_FRAME_FRAMES;
                        t.sop_class_uid = uids::ENHANCED_MR_IMAGE_STORAGE.into();
                        t.series_description = format!("{} MULTIFRAME", t.series_description);
                        t.burned_in = Some(false);
                        mark(HardCase::MultiFrame, &dir);
                    }
                    4 => {
                        t.syntax = Syntax::EncapsulatedJpegBaseline;
                        t.sop_class_uid = uids::ULTRASOUND_IMAGE_STORAGE.into();
                        t.modality = "US".into();
                        t.series_description = "US LOCALISER".into();
                        t.burned_in = Some(true);
                        t.private_block = false;
                        t.frame_of_reference_uid = None;
                        mark(HardCase::Encapsulated, &dir);
                    }
                    5 => {
                        t.syntax = Syntax::DeflatedExplicitLittle;
                        t.burned_in = Some(false);
                        mark(HardCase::Deflated, &dir);
                    }
                    _ => {
                        if g % 2 == 1 {
                            t.syntax = Syntax::ImplicitLittle;
                        } else {
                            t.burned_in = Some(false);
                        }
                        t.overlay = g.is_multiple_of(4);
                    }
                }
                let plan = SeriesPlan {
                    template: t,
                    dir,
                    extension: if g.is_multiple_of(2) { ".dcm" } else { "" },
                    sop_base: uid_int(&mut rng),
                    instances: opts.instances_per_series,
                };
                for i in 0..plan.instances {
                    references.push(SopReference {
                        series_uid: plan.template.series_uid.clone(),
                        sop_class_uid: plan.template.sop_class_uid.clone(),
                        sop_uid: plan.sop_uid(i),
                    });
                }
                series_plans.push(plan);
                g += 1;
            }
            // The study's SR document.
            let sr_dir = study_dir.join(format!("SER{:03}", opts.series_per_study + 1));
            let sr_number = if study_global == 0 && opts.series_per_study == 1 {
                mark(HardCase::SharedSeriesNumber, &sr_dir);
                1
            } else {
                SR_SERIES_NUMBER
            };
            mark(HardCase::StructuredReport, &sr_dir);
            let sr_template = InstanceSpec {
                series_uid: uid(&mut rng),
                series_number: Some(sr_number),
                sop_class_uid: uids::COMPREHENSIVE_SR_STORAGE.into(),
                modality: "SR".into(),
                series_description: "RADIOLOGY REPORT".into(),
                frame_of_reference_uid: None,
                sr: Some(SrDocument { references }),
                ..study_template
            };
            series_plans.push(SeriesPlan {
                template: sr_template,
                dir: sr_dir,
                extension: "",
                sop_base: uid_int(&mut rng),
                instances: 1,
            });
            study_global += 1;
        }
    }
    let mut summary = DumpSummary {
        subjects: u64::from(opts.subjects),
        studies: study_global,
        series: series_plans.len() as u64,
        phi,
        landmarks,
        ..DumpSummary::default()
    };
    summary.landmarks.sort_by_key(|l| l.case as u8);
    Ok(Plan {
        series: series_plans,
        summary,
    })
}

/// Writes a synthetic scanner dump below `out` (created if missing; existing files with the
/// same names are replaced, others are left alone) and says what it holds.
///
/// Layout: `<FAMILY>^<GIVEN>_<PatientID>/<YYYYMMDD>_<BODYPART>/SER<nnn>/IM<nnnn>[.dcm]`; the
/// folder names carry the patient's name and ID, as real dumps do. Image series are numbered
/// globally in writing order (g = 0, 1, …) and get, when the counts reach them:
///
/// | g | case |
/// |---|------|
/// | 0 | Explicit VR LE with an overlay, `.dcm` names |
/// | 1 | Implicit VR LE, names without extension |
/// | 2 | Explicit VR Big Endian |
/// | 3 | Enhanced MR multi-frame ([`MULTI_FRAME_FRAMES`] frames per file) |
/// | 4 | ultrasound, encapsulated JPEG Baseline, Burned In Annotation YES |
/// | 5 | Deflated Explicit VR LE |
/// | ≥ 6 | explicit (even g, `.dcm`) or implicit (odd g, no extension); overlay when g % 4 == 0 |
///
/// Every MR series has the Siemens-like private blocks and every image the nested sequences.
/// Each study ends with an SR series (`SER<series+1>`, number [`SR_SERIES_NUMBER`], one file
/// without extension) whose content tree names the patient and references every image of the
/// study. In the first study, series 2 shares Series Number 1 with series 1 (with one series per
/// study, the SR series takes number 1 instead). The second subject (if there are two or more)
/// has a blank Patient ID and a folder named after the patient only. So the default options
/// (3/2/3/4) hold every case; `DumpSummary::landmarks` says where each one is.
pub fn write_dump(out: &Path, opts: &DumpOptions) -> Result<DumpSummary, SynthError> {
    write_dump_with_progress(out, opts, &|_| {})
}

/// [`write_dump`], calling `progress(n)` after each file written with the number of files
/// written by that call (1); `progress` is called from several threads.
pub fn write_dump_with_progress(
    out: &Path,
    opts: &DumpOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<DumpSummary, SynthError> {
    let Plan {
        series,
        mut summary,
    } = plan(opts)?;
    let mut dirs = HashSet::new();
    for s in &series {
        let dir = out.join(&s.dir);
        if dirs.insert(dir.clone()) {
            std::fs::create_dir_all(&dir).map_err(|source| SynthError::Io {
                path: dir.clone(),
                source,
            })?;
        }
    }
    let jobs: Vec<(usize, u32)> = series
        .iter()
        .enumerate()
        .flat_map(|(k, s)| (0..s.instances).map(move |i| (k, i)))
        .collect();
    let sizes: Vec<u64> = jobs
        .par_iter()
        .map(|&(k, i)| -> Result<u64, SynthError> {
            let plan = series.get(k).ok_or_else(|| SynthError::InvalidOptions {
                reason: "series index out of plan".into(),
            })?;
            let bytes = plan.spec(i).to_bytes()?;
            crate::atomic::write_atomic(&out.join(plan.file(i)), &bytes)?;
            progress(1);
            Ok(bytes.len() as u64)
        })
        .collect::<Result<_, _>>()?;
    summary.files = sizes.len() as u64;
    summary.instances = summary.files;
    summary.bytes = sizes.iter().sum();
    Ok(summary)
}

/// The relative paths a dump with these options will hold, in writing order, without writing
/// anything.
pub fn dump_paths(opts: &DumpOptions) -> Result<Vec<PathBuf>, SynthError> {
    let Plan { series, .. } = plan(opts)?;
    Ok(series
        .iter()
        .flat_map(|s| (0..s.instances).map(move |i| s.file(i)))
        .collect())
}

#[cfg(test)]
mod tests;
