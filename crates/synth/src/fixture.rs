//! Single DICOM files with chosen properties, for every crate's tests.
//!
//! Tests must not depend on downloaded sample data, and each test wants a file with exactly the
//! awkward property it checks: a transfer syntax, a private block holding the patient's name,
//! sequences nested three deep, an overlay, a blank Patient ID. [`InstanceSpec`] describes one
//! SOP Instance with public fields (start from [`instance`] or `InstanceSpec::default()` and set
//! what matters); [`InstanceSpec::to_bytes`] / [`InstanceSpec::write`] encode it with dicom-rs.
//! The free functions at the end make hostile files (truncated, not DICOM, empty, huge declared
//! lengths, no preamble, missing UIDs, path-like IDs) that importers must reject or survive.
//!
//! Everything is deterministic: no clock, no randomness.

use std::path::Path;

use dicom_core::value::{DataSetSequence, PixelFragmentSequence, Value};
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileDicomObject, FileMetaTableBuilder, InMemDicomObject};

use crate::{SynthError, pixels};

/// Implementation Class UID written into every file meta group made here (a 2.25 UUID-derived
/// UID, so it belongs to no one else's root).
pub const IMPLEMENTATION_CLASS_UID: &str = "2.25.292516427384226389734458216384722913841";
/// Implementation Version Name written into every file meta group made here.
pub const IMPLEMENTATION_VERSION_NAME: &str = "DEPOT_SYNTH_1";
/// Private creator of the Siemens-like header block (group 0029, block 0x10).
pub const PRIVATE_CREATOR_CSA: &str = "SIEMENS CSA HEADER";
/// Private creator of the Siemens-like MedCom block holding the patient's name (group 0029,
/// block 0x11): element (0029,1131) is the name, (0029,1132) the Patient ID.
pub const PRIVATE_CREATOR_MEDCOM: &str = "SIEMENS MEDCOM HEADER2";
/// Private creator of the Siemens-like MR block (group 0019, block 0x10).
pub const PRIVATE_CREATOR_MR: &str = "SIEMENS MR HEADER";
/// The private element holding the patient's name in a private block.
pub const PRIVATE_PATIENT_NAME: Tag = Tag(0x0029, 0x1131);
/// The private element holding the Patient ID in a private block.
pub const PRIVATE_PATIENT_ID: Tag = Tag(0x0029, 0x1132);
/// The CSA-like binary private element (OB) that embeds the patient's name in its bytes.
pub const PRIVATE_CSA_BLOB: Tag = Tag(0x0029, 0x1010);

/// How the data set is encoded (the file's Transfer Syntax).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Syntax {
    /// Explicit VR Little Endian (1.2.840.10008.1.2.1), 16-bit native pixels.
    #[default]
    ExplicitLittle,
    /// Implicit VR Little Endian (1.2.840.10008.1.2); private elements read back as VR UN.
    ImplicitLittle,
    /// Explicit VR Big Endian (1.2.840.10008.1.2.2, retired but still found in old archives).
    ExplicitBig,
    /// Deflated Explicit VR Little Endian (1.2.840.10008.1.2.1.99): the whole data set is
    /// deflate-compressed after the file meta group.
    DeflatedExplicitLittle,
    /// JPEG Baseline (1.2.840.10008.1.2.4.50): 8-bit pixels in an encapsulated sequence (basic
    /// offset table + one fragment per frame holding JPEG-looking bytes FFD8…FFD9 that do not
    /// decode).
    EncapsulatedJpegBaseline,
}

impl Syntax {
    /// Every syntax, in declaration order.
    pub const ALL: [Syntax; 5] = [
        Syntax::ExplicitLittle,
        Syntax::ImplicitLittle,
        Syntax::ExplicitBig,
        Syntax::DeflatedExplicitLittle,
        Syntax::EncapsulatedJpegBaseline,
    ];

    /// The Transfer Syntax UID.
    pub fn uid(self) -> &'static str {
        match self {
            Syntax::ExplicitLittle => uids::EXPLICIT_VR_LITTLE_ENDIAN,
            Syntax::ImplicitLittle => uids::IMPLICIT_VR_LITTLE_ENDIAN,
            // Retired UID (hence no constant without a deprecation warning), still found in old archives.
            Syntax::ExplicitBig => "1.2.840.10008.1.2.2",
            Syntax::DeflatedExplicitLittle => uids::DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
            Syntax::EncapsulatedJpegBaseline => uids::JPEG_BASELINE8_BIT,
        }
    }
}

/// A reference from an SR content item to an image instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SopReference {
    /// Series Instance UID of the referenced instance (for the evidence sequence).
    pub series_uid: String,
    /// Referenced SOP Class UID.
    pub sop_class_uid: String,
    /// Referenced SOP Instance UID.
    pub sop_uid: String,
}

/// Makes the instance a Comprehensive SR document instead of an image.
///
/// The content tree (ContentSequence) holds: the subject's name (PNAME item) and ID (TEXT item)
/// as observation context, the observer (the performing physician, PNAME), and a "Findings"
/// container whose nested items are a free-text finding naming the patient and one IMAGE item per
/// reference (ReferencedSOPSequence with class and instance UID). The references are also listed
/// in CurrentRequestedProcedureEvidenceSequence (study → series → instances).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SrDocument {
    /// The image instances the report refers to.
    pub references: Vec<SopReference>,
}

/// Everything that varies between synthetic instances. All fields are public; start from
/// [`instance`] or `InstanceSpec::default()` and change what the test needs.
///
/// Strings are written as given: an empty string gives an element that is present with an empty
/// value (e.g. a blank Patient ID), `None` leaves the element out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceSpec {
    /// Patient ID (0010,0020).
    pub patient_id: String,
    /// Issuer of Patient ID (0010,0021).
    pub issuer_of_patient_id: Option<String>,
    /// A second identifier of the patient, written into OtherPatientIDsSequence (0010,1002)
    /// when `nested` is set.
    pub other_patient_id: Option<String>,
    /// Patient's Name (0010,0010), DICOM PN form `FAMILY^GIVEN`.
    pub patient_name: String,
    /// Patient's Birth Date (0010,0030), `YYYYMMDD`.
    pub birth_date: String,
    /// Patient's Sex (0010,0040).
    pub sex: String,
    /// Study Instance UID (0020,000D).
    pub study_uid: String,
    /// Series Instance UID (0020,000E).
    pub series_uid: String,
    /// SOP Instance UID (0008,0018), also the meta group's Media Storage SOP Instance UID.
    pub sop_uid: String,
    /// SOP Class UID (0008,0016).
    pub sop_class_uid: String,
    /// Frame of Reference UID (0020,0052).
    pub frame_of_reference_uid: Option<String>,
    /// Modality (0008,0060).
    pub modality: String,
    /// Series Number (0020,0011).
    pub series_number: Option<i32>,
    /// Instance Number (0020,0013); also varies the picture.
    pub instance_number: i32,
    /// Study Date (0008,0020), also used for series, acquisition and content dates.
    pub study_date: String,
    /// Study Time (0008,0030), also used for series, acquisition and content times.
    pub study_time: String,
    /// Study ID (0020,0010).
    pub study_id: String,
    /// Accession Number (0008,0050).
    pub accession: String,
    /// Institution Name (0008,0080).
    pub institution: String,
    /// Institution Address (0008,0081).
    pub institution_address: String,
    /// Referring Physician's Name (0008,0090), also Requesting Physician (0032,1032).
    pub referring_physician: String,
    /// Performing Physician's Name (0008,1050).
    pub performing_physician: String,
    /// Operators' Name (0008,1070).
    pub operator_name: String,
    /// Station Name (0008,1010).
    pub station_name: String,
    /// Study Description (0008,1030).
    pub study_description: String,
    /// Series Description (0008,103E).
    pub series_description: String,
    /// Transfer syntax of the file.
    pub syntax: Syntax,
    /// Rows (0028,0010).
    pub rows: u16,
    /// Columns (0028,0011).
    pub columns: u16,
    /// Number of frames; above 1 the instance is multi-frame (NumberOfFrames plus shared and
    /// per-frame functional group sequences with a FrameAcquisitionDateTime per frame).
    pub frames: u32,
    /// Adds Siemens-like private blocks: creators [`PRIVATE_CREATOR_MR`] in group 0019 and
    /// [`PRIVATE_CREATOR_CSA`], [`PRIVATE_CREATOR_MEDCOM`] in group 0029, with several private
    /// elements; [`PRIVATE_PATIENT_NAME`] holds the patient's name, [`PRIVATE_PATIENT_ID`] the
    /// ID, and [`PRIVATE_CSA_BLOB`] embeds the name in binary.
    pub private_block: bool,
    /// Adds nested sequences carrying PN, dates, IDs and UIDs: ReferencedStudySequence,
    /// ProcedureCodeSequence, OtherPatientIDsSequence, and RequestAttributesSequence whose item
    /// holds the accession number, a PN, a date, a nested ReferencedStudySequence and a
    /// ScheduledProtocolCodeSequence → ProtocolContextSequence → PersonName (three levels) and
    /// ConceptNameCodeSequence (four levels).
    pub nested: bool,
    /// Adds an overlay in group 6000 (OverlayData bits plus OverlayComments naming the patient).
    pub overlay: bool,
    /// Burned In Annotation (0028,0301): `Some(true)` writes "YES", `Some(false)` "NO".
    pub burned_in: Option<bool>,
    /// `Some` makes this a Comprehensive SR document (no pixel data) with this content.
    pub sr: Option<SrDocument>,
}

impl Default for InstanceSpec {
    /// A small (8×8, one frame) Explicit VR Little Endian MR image of a fictitious patient, with
    /// the identifying top-level elements filled in and none of the optional hard cases.
    fn default() -> InstanceSpec {
        InstanceSpec {
            patient_id: "MRN0001234".into(),
            issuer_of_patient_id: Some("NORTHWICK GENERAL".into()),
            other_patient_id: None,
            patient_name: "HALVORSEN^INGRID".into(),
            birth_date: "19710315".into(),
            sex: "F".into(),
            study_uid: "2.25.1001".into(),
            series_uid: "2.25.1002".into(),
            sop_uid: "2.25.1003".into(),
            sop_class_uid: uids::MR_IMAGE_STORAGE.into(),
            frame_of_reference_uid: Some("2.25.1004".into()),
            modality: "MR".into(),
            series_number: Some(1),
            instance_number: 1,
            study_date: "20240102".into(),
            study_time: "093015".into(),
            study_id: "4711".into(),
            accession: "ACC20240102".into(),
            institution: "NORTHWICK GENERAL HOSPITAL".into(),
            institution_address: "14 HARBOUR ROAD, NORTHWICK".into(),
            referring_physician: "OKONKWO^CHIDI^^DR".into(),
            performing_physician: "VASQUEZ^ROSALIND".into(),
            operator_name: "PETTERSSON^MAGNUS".into(),
            station_name: "MRC40213".into(),
            study_description: "BRAIN ROUTINE".into(),
            series_description: "T1 SAG".into(),
            syntax: Syntax::ExplicitLittle,
            rows: 8,
            columns: 8,
            frames: 1,
            private_block: false,
            nested: false,
            overlay: false,
            burned_in: None,
            sr: None,
        }
    }
}

/// The default spec with the four identifiers that tests most often choose.
pub fn instance(
    patient_id: &str,
    study_uid: &str,
    series_uid: &str,
    sop_uid: &str,
) -> InstanceSpec {
    InstanceSpec {
        patient_id: patient_id.into(),
        study_uid: study_uid.into(),
        series_uid: series_uid.into(),
        sop_uid: sop_uid.into(),
        ..InstanceSpec::default()
    }
}

/// A Comprehensive SR document (modality SR) whose content tree names the patient and refers to
/// `references`; the other fields are the defaults.
pub fn sr_document(
    patient_id: &str,
    study_uid: &str,
    series_uid: &str,
    sop_uid: &str,
    references: Vec<SopReference>,
) -> InstanceSpec {
    InstanceSpec {
        sop_class_uid: uids::COMPREHENSIVE_SR_STORAGE.into(),
        modality: "SR".into(),
        series_description: "REPORT".into(),
        frame_of_reference_uid: None,
        sr: Some(SrDocument { references }),
        ..instance(patient_id, study_uid, series_uid, sop_uid)
    }
}

type Elem = DataElement<InMemDicomObject>;

fn elem(tag: Tag, vr: VR, value: impl Into<PrimitiveValue>) -> Elem {
    DataElement::new(tag, vr, Value::Primitive(value.into()))
}

fn seq(tag: Tag, items: Vec<InMemDicomObject>) -> Elem {
    DataElement::new(tag, VR::SQ, Value::from(DataSetSequence::from(items)))
}

fn item(elems: Vec<Elem>) -> InMemDicomObject {
    InMemDicomObject::from_element_iter(elems)
}

fn code(value: &str, scheme: &str, meaning: &str) -> InMemDicomObject {
    item(vec![
        elem(tags::CODE_VALUE, VR::SH, value),
        elem(tags::CODING_SCHEME_DESIGNATOR, VR::SH, scheme),
        elem(tags::CODE_MEANING, VR::LO, meaning),
    ])
}

/// Other-word (OW) bytes given in little-endian order, as the syntax needs them: raw bytes for
/// little endian, 16-bit words (swapped by the encoder) for big endian.
fn ow_value(le_bytes: Vec<u8>, syntax: Syntax) -> PrimitiveValue {
    if syntax == Syntax::ExplicitBig {
        let words: Vec<u16> = le_bytes
            .chunks(2)
            .map(|p| {
                u16::from_le_bytes([
                    p.first().copied().unwrap_or(0),
                    p.get(1).copied().unwrap_or(0),
                ])
            })
            .collect();
        PrimitiveValue::U16(words.into())
    } else {
        PrimitiveValue::from(le_bytes)
    }
}

/// Age string `nnnY` from two `YYYYMMDD` dates, if both parse.
fn age(birth: &str, at: &str) -> Option<String> {
    let parse = |d: &str| -> Option<(i32, i32)> {
        let y = d.get(0..4)?.parse().ok()?;
        let md = d.get(4..8)?.parse().ok()?;
        Some((y, md))
    };
    let (by, bmd) = parse(birth)?;
    let (ay, amd) = parse(at)?;
    let years = ay - by - i32::from(amd < bmd);
    (0..1000).contains(&years).then(|| format!("{years:03}Y"))
}

/// Which UID [`missing_uid`] leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MissingUid {
    /// No SOP Instance UID (0008,0018); the meta group's Media Storage SOP Instance UID is empty.
    SopInstance,
    /// No Series Instance UID (0020,000E).
    Series,
    /// No Study Instance UID (0020,000D).
    Study,
}

impl InstanceSpec {
    /// Enables every optional hard case that fits the spec: private blocks, nested sequences,
    /// an overlay (images only), a "NO" Burned In Annotation and an Other Patient ID.
    pub fn with_hard_cases(mut self) -> InstanceSpec {
        self.private_block = true;
        self.nested = true;
        self.overlay = self.sr.is_none();
        self.burned_in = Some(false);
        if self.other_patient_id.is_none() {
            self.other_patient_id = Some(format!("{}-B", self.patient_id));
        }
        self
    }

    /// Every identifying value this spec plants (non-empty ones, deduplicated, in a fixed order):
    /// patient name and its parts, IDs, birth date, accession number, institution name and
    /// address, physician and operator names and their parts. A de-identified copy of the file
    /// must contain none of them.
    pub fn phi(&self) -> Vec<String> {
        let mut out = Vec::new();
        for name in [
            &self.patient_name,
            &self.referring_physician,
            &self.performing_physician,
            &self.operator_name,
        ] {
            push_name(&mut out, name);
        }
        for v in [
            &self.patient_id,
            &self.birth_date,
            &self.accession,
            &self.institution,
            &self.institution_address,
        ] {
            push_unique(&mut out, v);
        }
        if let Some(v) = &self.other_patient_id {
            push_unique(&mut out, v);
        }
        out
    }

    /// The size of the native pixel buffer in bytes (16-bit samples), or an error naming the
    /// instance when the dimensions are zero or the size does not fit in memory.
    fn pixel_len(&self) -> Result<usize, SynthError> {
        let invalid = |reason: &str| SynthError::InvalidSpec {
            sop_uid: self.sop_uid.clone(),
            reason: reason.into(),
        };
        if self.rows == 0 || self.columns == 0 || self.frames == 0 {
            return Err(invalid("rows, columns and frames must all be at least 1"));
        }
        usize::from(self.rows)
            .checked_mul(usize::from(self.columns))
            .and_then(|n| n.checked_mul(usize::try_from(self.frames).ok()?))
            .and_then(|n| n.checked_mul(2))
            .filter(|n| *n < (1 << 32) - 2)
            .ok_or_else(|| invalid("pixel data would exceed the 4 GiB a DICOM element can hold"))
    }

    /// Builds the data set (without meta group).
    pub fn to_object(&self) -> Result<InMemDicomObject, SynthError> {
        let s = self;
        let mut e: Vec<Elem> = vec![
            elem(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 100"),
            elem(tags::SOP_CLASS_UID, VR::UI, s.sop_class_uid.as_str()),
            elem(tags::SOP_INSTANCE_UID, VR::UI, s.sop_uid.as_str()),
            elem(tags::STUDY_DATE, VR::DA, s.study_date.as_str()),
            elem(tags::SERIES_DATE, VR::DA, s.study_date.as_str()),
            elem(tags::CONTENT_DATE, VR::DA, s.study_date.as_str()),
            elem(tags::STUDY_TIME, VR::TM, s.study_time.as_str()),
            elem(tags::SERIES_TIME, VR::TM, s.study_time.as_str()),
            elem(tags::CONTENT_TIME, VR::TM, s.study_time.as_str()),
            elem(tags::ACCESSION_NUMBER, VR::SH, s.accession.as_str()),
            elem(tags::MODALITY, VR::CS, s.modality.as_str()),
            elem(tags::MANUFACTURER, VR::LO, "SIEMENS"),
            elem(tags::INSTITUTION_NAME, VR::LO, s.institution.as_str()),
            elem(
                tags::INSTITUTION_ADDRESS,
                VR::ST,
                s.institution_address.as_str(),
            ),
            elem(
                tags::REFERRING_PHYSICIAN_NAME,
                VR::PN,
                s.referring_physician.as_str(),
            ),
            elem(tags::STATION_NAME, VR::SH, s.station_name.as_str()),
            elem(
                tags::STUDY_DESCRIPTION,
                VR::LO,
                s.study_description.as_str(),
            ),
            elem(
                tags::SERIES_DESCRIPTION,
                VR::LO,
                s.series_description.as_str(),
            ),
            elem(
                tags::PERFORMING_PHYSICIAN_NAME,
                VR::PN,
                s.performing_physician.as_str(),
            ),
            elem(tags::OPERATORS_NAME, VR::PN, s.operator_name.as_str()),
            elem(tags::MANUFACTURER_MODEL_NAME, VR::LO, "SYNTH"),
            elem(tags::PATIENT_NAME, VR::PN, s.patient_name.as_str()),
            elem(tags::PATIENT_ID, VR::LO, s.patient_id.as_str()),
            elem(tags::PATIENT_BIRTH_DATE, VR::DA, s.birth_date.as_str()),
            elem(tags::PATIENT_SEX, VR::CS, s.sex.as_str()),
            elem(tags::DEVICE_SERIAL_NUMBER, VR::LO, "SN40213"),
            elem(tags::SOFTWARE_VERSIONS, VR::LO, "depot-synth 1"),
            elem(tags::STUDY_INSTANCE_UID, VR::UI, s.study_uid.as_str()),
            elem(tags::SERIES_INSTANCE_UID, VR::UI, s.series_uid.as_str()),
            elem(tags::STUDY_ID, VR::SH, s.study_id.as_str()),
            elem(tags::INSTANCE_NUMBER, VR::IS, s.instance_number.to_string()),
            elem(
                tags::REQUESTING_PHYSICIAN,
                VR::PN,
                s.referring_physician.as_str(),
            ),
        ];
        if let Some(issuer) = &s.issuer_of_patient_id {
            e.push(elem(tags::ISSUER_OF_PATIENT_ID, VR::LO, issuer.as_str()));
        }
        if let Some(a) = age(&s.birth_date, &s.study_date) {
            e.push(elem(tags::PATIENT_AGE, VR::AS, a));
        }
        if let Some(n) = s.series_number {
            e.push(elem(tags::SERIES_NUMBER, VR::IS, n.to_string()));
        }
        if let Some(f) = &s.frame_of_reference_uid {
            e.push(elem(tags::FRAME_OF_REFERENCE_UID, VR::UI, f.as_str()));
        }
        if let Some(b) = s.burned_in {
            e.push(elem(
                tags::BURNED_IN_ANNOTATION,
                VR::CS,
                if b { "YES" } else { "NO" },
            ));
        }
        if s.nested {
            e.extend(self.nested_elements());
        }
        if s.private_block {
            e.extend(self.private_elements());
        }
        match &s.sr {
            Some(doc) => e.extend(self.sr_elements(doc)),
            None => e.extend(self.image_elements()?),
        }
        Ok(InMemDicomObject::from_element_iter(e))
    }

    fn nested_elements(&self) -> Vec<Elem> {
        let s = self;
        let study_ref = || {
            item(vec![
                elem(
                    tags::REFERENCED_SOP_CLASS_UID,
                    VR::UI,
                    "1.2.840.10008.3.1.2.3.1",
                ),
                elem(
                    tags::REFERENCED_SOP_INSTANCE_UID,
                    VR::UI,
                    s.study_uid.as_str(),
                ),
            ])
        };
        let protocol_context = item(vec![
            elem(tags::VALUE_TYPE, VR::CS, "PNAME"),
            seq(
                tags::CONCEPT_NAME_CODE_SEQUENCE,
                vec![code("121008", "DCM", "Person Observer Name")],
            ),
            elem(tags::PERSON_NAME, VR::PN, s.referring_physician.as_str()),
        ]);
        let mut protocol = code("SYN-PROT-1", "99DEPOT", &s.series_description);
        protocol.put(seq(tags::PROTOCOL_CONTEXT_SEQUENCE, vec![protocol_context]));
        let request = item(vec![
            elem(tags::ACCESSION_NUMBER, VR::SH, s.accession.as_str()),
            elem(
                tags::REQUESTED_PROCEDURE_ID,
                VR::SH,
                format!("RP{}", s.study_id),
            ),
            elem(
                tags::REQUESTED_PROCEDURE_DESCRIPTION,
                VR::LO,
                s.study_description.as_str(),
            ),
            elem(
                tags::SCHEDULED_PROCEDURE_STEP_ID,
                VR::SH,
                format!("SPS{}", s.study_id),
            ),
            elem(
                tags::SCHEDULED_PROCEDURE_STEP_START_DATE,
                VR::DA,
                s.study_date.as_str(),
            ),
            elem(
                tags::SCHEDULED_PERFORMING_PHYSICIAN_NAME,
                VR::PN,
                s.performing_physician.as_str(),
            ),
            elem(tags::STUDY_INSTANCE_UID, VR::UI, s.study_uid.as_str()),
            seq(tags::REFERENCED_STUDY_SEQUENCE, vec![study_ref()]),
            seq(tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE, vec![protocol]),
        ]);
        let mut out = vec![
            seq(tags::REFERENCED_STUDY_SEQUENCE, vec![study_ref()]),
            seq(
                tags::PROCEDURE_CODE_SEQUENCE,
                vec![code("SYN-PROC-1", "99DEPOT", &s.study_description)],
            ),
            seq(tags::REQUEST_ATTRIBUTES_SEQUENCE, vec![request]),
        ];
        if let Some(other) = &s.other_patient_id {
            let mut other_item = vec![
                elem(tags::PATIENT_ID, VR::LO, other.as_str()),
                elem(tags::TYPE_OF_PATIENT_ID, VR::CS, "TEXT"),
            ];
            if let Some(issuer) = &s.issuer_of_patient_id {
                other_item.push(elem(
                    tags::ISSUER_OF_PATIENT_ID,
                    VR::LO,
                    format!("{issuer} LEGACY"),
                ));
            }
            out.push(seq(
                tags::OTHER_PATIENT_I_DS_SEQUENCE,
                vec![item(other_item)],
            ));
        }
        out
    }

    fn private_elements(&self) -> Vec<Elem> {
        let s = self;
        let mut csa = b"SV10\x04\x03\x02\x01".to_vec();
        for (k, v) in [
            ("PatientName", &s.patient_name),
            ("PatientID", &s.patient_id),
            ("Station", &s.station_name),
        ] {
            csa.extend_from_slice(k.as_bytes());
            csa.push(0);
            csa.extend_from_slice(v.as_bytes());
            csa.push(0);
        }
        if csa.len() % 2 == 1 {
            csa.push(0);
        }
        vec![
            elem(Tag(0x0019, 0x0010), VR::LO, PRIVATE_CREATOR_MR),
            elem(Tag(0x0019, 0x100A), VR::US, 1u16),
            elem(Tag(0x0019, 0x100B), VR::DS, "2.5"),
            elem(Tag(0x0019, 0x100C), VR::IS, "1000"),
            elem(Tag(0x0029, 0x0010), VR::LO, PRIVATE_CREATOR_CSA),
            elem(Tag(0x0029, 0x0011), VR::LO, PRIVATE_CREATOR_MEDCOM),
            elem(Tag(0x0029, 0x1008), VR::CS, "IMAGE NUM 4"),
            elem(Tag(0x0029, 0x1009), VR::LO, "20100114"),
            elem(PRIVATE_CSA_BLOB, VR::OB, csa),
            elem(PRIVATE_PATIENT_NAME, VR::LO, s.patient_name.as_str()),
            elem(PRIVATE_PATIENT_ID, VR::LO, s.patient_id.as_str()),
            elem(Tag(0x0029, 0x1160), VR::LO, "com"),
        ]
    }

    fn image_elements(&self) -> Result<Vec<Elem>, SynthError> {
        let s = self;
        let pixel_len = self.pixel_len()?;
        let encapsulated = s.syntax == Syntax::EncapsulatedJpegBaseline;
        let bits: u16 = if encapsulated { 8 } else { 16 };
        let stored: u16 = if encapsulated { 8 } else { 12 };
        let mut e = vec![
            elem(tags::IMAGE_TYPE, VR::CS, "ORIGINAL\\PRIMARY\\M\\ND"),
            elem(tags::ACQUISITION_DATE, VR::DA, s.study_date.as_str()),
            elem(tags::ACQUISITION_TIME, VR::TM, s.study_time.as_str()),
            elem(tags::SLICE_THICKNESS, VR::DS, "1.0"),
            elem(
                tags::IMAGE_POSITION_PATIENT,
                VR::DS,
                format!("-120\\-120\\{}", s.instance_number),
            ),
            elem(tags::IMAGE_ORIENTATION_PATIENT, VR::DS, "1\\0\\0\\0\\1\\0"),
            elem(tags::SAMPLES_PER_PIXEL, VR::US, 1u16),
            elem(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
            elem(tags::ROWS, VR::US, s.rows),
            elem(tags::COLUMNS, VR::US, s.columns),
            elem(tags::PIXEL_SPACING, VR::DS, "0.5\\0.5"),
            elem(tags::BITS_ALLOCATED, VR::US, bits),
            elem(tags::BITS_STORED, VR::US, stored),
            elem(tags::HIGH_BIT, VR::US, stored - 1),
            elem(tags::PIXEL_REPRESENTATION, VR::US, 0u16),
        ];
        if encapsulated {
            e.push(elem(tags::LOSSY_IMAGE_COMPRESSION, VR::CS, "01"));
        }
        if s.frames > 1 {
            e.push(elem(tags::NUMBER_OF_FRAMES, VR::IS, s.frames.to_string()));
            e.extend(self.functional_groups());
        }
        if s.overlay {
            e.extend([
                elem(Tag(0x6000, 0x0010), VR::US, s.rows),
                elem(Tag(0x6000, 0x0011), VR::US, s.columns),
                elem(Tag(0x6000, 0x0022), VR::LO, "ANNOTATION"),
                elem(Tag(0x6000, 0x0040), VR::CS, "G"),
                elem(Tag(0x6000, 0x0050), VR::SS, [1i16, 1]),
                elem(Tag(0x6000, 0x0100), VR::US, 1u16),
                elem(Tag(0x6000, 0x0102), VR::US, 0u16),
                elem(
                    Tag(0x6000, 0x3000),
                    VR::OW,
                    ow_value(pixels::overlay_bits(s.rows, s.columns), s.syntax),
                ),
                elem(
                    Tag(0x6000, 0x4000),
                    VR::LT,
                    format!(
                        "Marked by {} for {}",
                        s.performing_physician, s.patient_name
                    ),
                ),
            ]);
        }
        if encapsulated {
            let fragments: Vec<Vec<u8>> = (0..s.frames as usize)
                .map(|f| pixels::fake_jpeg(s.rows, s.columns, s.instance_number, f))
                .collect();
            let mut offsets = Vec::with_capacity(fragments.len());
            let mut at = 0u32;
            for f in &fragments {
                offsets.push(at);
                at = u32::try_from(f.len() + 8)
                    .ok()
                    .and_then(|n| at.checked_add(n))
                    .ok_or_else(|| SynthError::InvalidSpec {
                        sop_uid: s.sop_uid.clone(),
                        reason: "encapsulated pixel data too large".into(),
                    })?;
            }
            let pixel_seq = PixelFragmentSequence::new(offsets, fragments);
            e.push(DataElement::new(
                tags::PIXEL_DATA,
                VR::OB,
                Value::from(pixel_seq),
            ));
        } else {
            let bytes = pixels::gradient_u16_le(s.rows, s.columns, s.frames, s.instance_number);
            debug_assert_eq!(bytes.len(), pixel_len);
            e.push(elem(tags::PIXEL_DATA, VR::OW, ow_value(bytes, s.syntax)));
        }
        Ok(e)
    }

    fn functional_groups(&self) -> Vec<Elem> {
        let s = self;
        let shared = item(vec![
            seq(
                tags::PIXEL_MEASURES_SEQUENCE,
                vec![item(vec![
                    elem(tags::SLICE_THICKNESS, VR::DS, "1.0"),
                    elem(tags::PIXEL_SPACING, VR::DS, "0.5\\0.5"),
                ])],
            ),
            seq(
                tags::PLANE_ORIENTATION_SEQUENCE,
                vec![item(vec![elem(
                    tags::IMAGE_ORIENTATION_PATIENT,
                    VR::DS,
                    "1\\0\\0\\0\\1\\0",
                )])],
            ),
        ]);
        let per_frame = (1..=s.frames)
            .map(|f| {
                item(vec![
                    seq(
                        tags::FRAME_CONTENT_SEQUENCE,
                        vec![item(vec![
                            elem(
                                tags::FRAME_ACQUISITION_DATE_TIME,
                                VR::DT,
                                format!("{}{}", s.study_date, s.study_time),
                            ),
                            elem(tags::STACK_ID, VR::SH, "1"),
                            elem(tags::IN_STACK_POSITION_NUMBER, VR::UL, f),
                            elem(tags::DIMENSION_INDEX_VALUES, VR::UL, [1u32, f]),
                        ])],
                    ),
                    seq(
                        tags::PLANE_POSITION_SEQUENCE,
                        vec![item(vec![elem(
                            tags::IMAGE_POSITION_PATIENT,
                            VR::DS,
                            format!("-120\\-120\\{f}"),
                        )])],
                    ),
                ])
            })
            .collect();
        vec![
            seq(tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE, vec![shared]),
            seq(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE, per_frame),
        ]
    }

    fn sr_elements(&self, doc: &SrDocument) -> Vec<Elem> {
        let s = self;
        let content_item = |rel: &str, vt: &str, concept: InMemDicomObject, mut rest: Vec<Elem>| {
            let mut v = vec![
                elem(tags::RELATIONSHIP_TYPE, VR::CS, rel),
                elem(tags::VALUE_TYPE, VR::CS, vt),
                seq(tags::CONCEPT_NAME_CODE_SEQUENCE, vec![concept]),
            ];
            v.append(&mut rest);
            item(v)
        };
        let mut findings: Vec<InMemDicomObject> = vec![content_item(
            "CONTAINS",
            "TEXT",
            code("121071", "DCM", "Finding"),
            vec![elem(
                tags::TEXT_VALUE,
                VR::UT,
                format!(
                    "Report for {} ({}): no acute abnormality.",
                    s.patient_name.replace('^', ", "),
                    s.patient_id
                ),
            )],
        )];
        for r in &doc.references {
            findings.push(content_item(
                "CONTAINS",
                "IMAGE",
                code("121112", "DCM", "Source of Measurement"),
                vec![seq(
                    tags::REFERENCED_SOP_SEQUENCE,
                    vec![item(vec![
                        elem(
                            tags::REFERENCED_SOP_CLASS_UID,
                            VR::UI,
                            r.sop_class_uid.as_str(),
                        ),
                        elem(
                            tags::REFERENCED_SOP_INSTANCE_UID,
                            VR::UI,
                            r.sop_uid.as_str(),
                        ),
                    ])],
                )],
            ));
        }
        let content = vec![
            content_item(
                "HAS OBS CONTEXT",
                "PNAME",
                code("121029", "DCM", "Subject Name"),
                vec![elem(tags::PERSON_NAME, VR::PN, s.patient_name.as_str())],
            ),
            content_item(
                "HAS OBS CONTEXT",
                "TEXT",
                code("121030", "DCM", "Subject ID"),
                vec![elem(tags::TEXT_VALUE, VR::UT, s.patient_id.as_str())],
            ),
            content_item(
                "HAS OBS CONTEXT",
                "PNAME",
                code("121008", "DCM", "Person Observer Name"),
                vec![elem(
                    tags::PERSON_NAME,
                    VR::PN,
                    s.performing_physician.as_str(),
                )],
            ),
            content_item(
                "CONTAINS",
                "CONTAINER",
                code("121070", "DCM", "Findings"),
                vec![
                    elem(tags::CONTINUITY_OF_CONTENT, VR::CS, "SEPARATE"),
                    seq(tags::CONTENT_SEQUENCE, findings),
                ],
            ),
        ];
        // Evidence: study → series (in first-seen order) → instances.
        let mut series: Vec<(&str, Vec<InMemDicomObject>)> = Vec::new();
        for r in &doc.references {
            let sop = item(vec![
                elem(
                    tags::REFERENCED_SOP_CLASS_UID,
                    VR::UI,
                    r.sop_class_uid.as_str(),
                ),
                elem(
                    tags::REFERENCED_SOP_INSTANCE_UID,
                    VR::UI,
                    r.sop_uid.as_str(),
                ),
            ]);
            match series.iter_mut().find(|(uid, _)| *uid == r.series_uid) {
                Some((_, sops)) => sops.push(sop),
                None => series.push((r.series_uid.as_str(), vec![sop])),
            }
        }
        let series_items = series
            .into_iter()
            .map(|(uid, sops)| {
                item(vec![
                    elem(tags::SERIES_INSTANCE_UID, VR::UI, uid),
                    seq(tags::REFERENCED_SOP_SEQUENCE, sops),
                ])
            })
            .collect();
        let mut out = vec![
            elem(tags::VALUE_TYPE, VR::CS, "CONTAINER"),
            seq(
                tags::CONCEPT_NAME_CODE_SEQUENCE,
                vec![code("11528-7", "LN", "Radiology Report")],
            ),
            elem(tags::CONTINUITY_OF_CONTENT, VR::CS, "SEPARATE"),
            elem(tags::COMPLETION_FLAG, VR::CS, "COMPLETE"),
            elem(tags::VERIFICATION_FLAG, VR::CS, "UNVERIFIED"),
            seq(tags::CONTENT_SEQUENCE, content),
        ];
        if !doc.references.is_empty() {
            out.push(seq(
                tags::CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE,
                vec![item(vec![
                    elem(tags::STUDY_INSTANCE_UID, VR::UI, s.study_uid.as_str()),
                    seq(tags::REFERENCED_SERIES_SEQUENCE, series_items),
                ])],
            ));
        }
        out
    }

    /// Encodes the instance as a complete DICOM file (128-byte preamble, `DICM`, file meta
    /// group, data set in the chosen syntax).
    pub fn to_bytes(&self) -> Result<Vec<u8>, SynthError> {
        encode(
            self.to_object()?,
            self.syntax,
            &self.sop_class_uid,
            &self.sop_uid,
        )
    }

    /// Writes the file to `path` atomically (temporary file in the same folder, fsync, rename).
    /// The parent folder must exist.
    pub fn write(&self, path: &Path) -> Result<(), SynthError> {
        crate::write_atomic(path, &self.to_bytes()?)
    }
}

fn push_unique(out: &mut Vec<String>, v: &str) {
    let v = v.trim();
    if !v.is_empty() && !out.iter().any(|o| o == v) {
        out.push(v.to_string());
    }
}

/// Pushes a PN value and its family, given and middle name components (split on `^`; prefix
/// and suffix such as "DR" are not identifying and would match everywhere).
pub(crate) fn push_name(out: &mut Vec<String>, name: &str) {
    push_unique(out, name);
    let parts: Vec<&str> = name.split('^').collect();
    push_unique(
        out,
        parts
            .iter()
            .take(3)
            .copied()
            .collect::<Vec<_>>()
            .join("^")
            .trim_end_matches('^'),
    );
    for part in parts.iter().take(3) {
        if part.trim().len() >= 3 {
            push_unique(out, part);
        }
    }
}

/// Encodes a data set with a meta group naming the given SOP class and instance.
pub(crate) fn encode(
    obj: InMemDicomObject,
    syntax: Syntax,
    sop_class_uid: &str,
    sop_uid: &str,
) -> Result<Vec<u8>, SynthError> {
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax(syntax.uid())
        .media_storage_sop_class_uid(sop_class_uid)
        .media_storage_sop_instance_uid(sop_uid)
        .implementation_class_uid(IMPLEMENTATION_CLASS_UID)
        .implementation_version_name(IMPLEMENTATION_VERSION_NAME)
        .build()
        .map_err(|source| SynthError::Meta {
            sop_uid: sop_uid.to_string(),
            source: Box::new(source),
        })?;
    let file: FileDicomObject<InMemDicomObject> = obj.with_exact_meta(meta);
    let mut out = Vec::with_capacity(4096);
    file.write_all(&mut out)
        .map_err(|source| SynthError::Encode {
            sop_uid: sop_uid.to_string(),
            source: Box::new(source),
        })?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Hostile files.

/// The first `keep` bytes of `bytes` (all of them if `keep` is larger): a file cut short, as
/// after an interrupted copy.
pub fn truncated(bytes: &[u8], keep: usize) -> Vec<u8> {
    bytes.get(..keep).unwrap_or(bytes).to_vec()
}

/// A text file that is not DICOM at all (a scanner's log next to the images).
pub fn not_dicom() -> Vec<u8> {
    b"Scanner export log\nexported 3 series to USB\nDICM is mentioned here but this is text.\n"
        .to_vec()
}

/// An empty file.
pub fn zero_bytes() -> Vec<u8> {
    Vec::new()
}

/// The tag of the element whose length [`huge_length`] inflates.
pub const HUGE_LENGTH_TAG: Tag = Tag(0x0011, 0x1010);
/// The length [`huge_length`] declares.
pub const HUGE_LENGTH: u32 = 0xFFFF_FFF0;

/// A small (well under 2 KiB) Explicit VR Little Endian file whose private OB element
/// [`HUGE_LENGTH_TAG`], placed right after the patient module (so a header-only read reaches
/// it), declares a length of [`HUGE_LENGTH`] bytes (~4 GiB). A reader that trusts the length
/// allocates 4 GiB or reads past the end. Note: dicom-rs 0.10 itself reserves and zero-fills
/// the declared length before failing on the short read (about 4.2 GB of memory), so readers
/// should compare declared lengths with the file size first.
pub fn huge_length() -> Result<Vec<u8>, SynthError> {
    let spec = InstanceSpec {
        sop_uid: "2.25.1003.9".into(),
        ..InstanceSpec::default()
    };
    let mut obj = spec.to_object()?;
    obj.put(elem(Tag(0x0011, 0x0010), VR::LO, "DEPOT HOSTILE"));
    obj.put(elem(HUGE_LENGTH_TAG, VR::OB, b"HUGELEN!".to_vec()));
    let mut bytes = encode(
        obj,
        Syntax::ExplicitLittle,
        &spec.sop_class_uid,
        &spec.sop_uid,
    )?;
    // Explicit VR LE header of an OB element: group, element, "OB", 2 reserved bytes, u32 length.
    let mut header = Vec::with_capacity(12);
    header.extend_from_slice(&HUGE_LENGTH_TAG.group().to_le_bytes());
    header.extend_from_slice(&HUGE_LENGTH_TAG.element().to_le_bytes());
    header.extend_from_slice(b"OB\0\0");
    header.extend_from_slice(&8u32.to_le_bytes());
    let at = bytes
        .windows(header.len())
        .position(|w| w == header.as_slice())
        .ok_or_else(|| SynthError::InvalidSpec {
            sop_uid: spec.sop_uid.clone(),
            reason: "encoded element header not found".into(),
        })?;
    bytes.splice(at + 8..at + 12, HUGE_LENGTH.to_le_bytes());
    Ok(bytes)
}

/// A valid file without the 128-byte preamble: it starts directly with `DICM` and the meta
/// group. dicom-rs's `open_file` detects this and reads it; importers should accept it.
pub fn no_preamble() -> Result<Vec<u8>, SynthError> {
    let spec = InstanceSpec {
        sop_uid: "2.25.1003.7".into(),
        ..InstanceSpec::default()
    };
    let bytes = spec.to_bytes()?;
    Ok(bytes.get(128..).unwrap_or_default().to_vec())
}

/// A default-spec file (readable, valid otherwise) with one identifying UID left out.
pub fn missing_uid(which: MissingUid) -> Result<Vec<u8>, SynthError> {
    let spec = InstanceSpec {
        sop_uid: "2.25.1003.8".into(),
        ..InstanceSpec::default()
    };
    let mut obj = spec.to_object()?;
    let (tag, meta_sop) = match which {
        MissingUid::SopInstance => (tags::SOP_INSTANCE_UID, ""),
        MissingUid::Series => (tags::SERIES_INSTANCE_UID, spec.sop_uid.as_str()),
        MissingUid::Study => (tags::STUDY_INSTANCE_UID, spec.sop_uid.as_str()),
    };
    obj.remove_element(tag);
    encode(obj, spec.syntax, &spec.sop_class_uid, meta_sop)
}

/// Files whose identifiers look like paths, for storage-tree escapes: returns
/// `(patient_id, bytes)` pairs, first with Patient ID `../../x`, then `A/B\C:*?`. Their study
/// and series descriptions carry path characters too (`../etc`, `a/b\c`); their UIDs are valid
/// and distinct.
pub fn path_like_ids() -> Result<Vec<(String, Vec<u8>)>, SynthError> {
    let cases = [
        ("../../x", "../etc", "2.25.3001"),
        ("A/B\\C:*?", "a/b\\c", "2.25.3002"),
    ];
    cases
        .iter()
        .map(|(pid, desc, root)| {
            let spec = InstanceSpec {
                patient_id: (*pid).to_string(),
                patient_name: "PATH^TRAVERSAL".into(),
                study_description: (*desc).to_string(),
                series_description: (*desc).to_string(),
                study_uid: format!("{root}.1"),
                series_uid: format!("{root}.2"),
                sop_uid: format!("{root}.3"),
                ..InstanceSpec::default()
            };
            Ok(((*pid).to_string(), spec.to_bytes()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_object::{OpenFileOptions, open_file};

    fn roundtrip(spec: &InstanceSpec) -> dicom_object::DefaultDicomObject {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.dcm");
        spec.write(&p).unwrap();
        open_file(&p).unwrap_or_else(|e| panic!("{:?} does not read back: {e}", spec.syntax))
    }

    fn text(obj: &InMemDicomObject, tag: Tag) -> String {
        obj.get(tag)
            .unwrap_or_else(|| panic!("{tag} missing"))
            .to_str()
            .unwrap()
            .trim_end_matches(['\0', ' '])
            .to_string()
    }

    #[test]
    fn every_syntax_round_trips_with_all_hard_cases() {
        for syntax in Syntax::ALL {
            let spec = InstanceSpec {
                syntax,
                rows: 6,
                columns: 10,
                frames: 2,
                ..InstanceSpec::default()
            }
            .with_hard_cases();
            let obj = roundtrip(&spec);
            assert_eq!(
                obj.meta().transfer_syntax().trim_end_matches('\0'),
                syntax.uid()
            );
            assert_eq!(
                text(&obj, tags::PATIENT_NAME),
                spec.patient_name,
                "{syntax:?}"
            );
            assert_eq!(text(&obj, tags::SOP_INSTANCE_UID), spec.sop_uid);
            assert_eq!(
                obj.get(tags::ROWS).unwrap().to_int::<u16>().unwrap(),
                6,
                "{syntax:?}"
            );
            assert_eq!(
                obj.get(tags::COLUMNS).unwrap().to_int::<u16>().unwrap(),
                10,
                "{syntax:?}"
            );
            assert_eq!(text(&obj, tags::NUMBER_OF_FRAMES), "2");
            // Private name survives (as UN bytes in implicit VR).
            let private = obj.get(PRIVATE_PATIENT_NAME).unwrap().to_bytes().unwrap();
            assert!(
                String::from_utf8_lossy(&private).contains(&spec.patient_name),
                "{syntax:?}"
            );
            // Three levels deep: RequestAttributes → ScheduledProtocolCode → ProtocolContext → PN.
            let l1 = &obj
                .get(tags::REQUEST_ATTRIBUTES_SEQUENCE)
                .unwrap()
                .items()
                .unwrap()[0];
            let l2 = &l1
                .get(tags::SCHEDULED_PROTOCOL_CODE_SEQUENCE)
                .unwrap()
                .items()
                .unwrap()[0];
            let l3 = &l2
                .get(tags::PROTOCOL_CONTEXT_SEQUENCE)
                .unwrap()
                .items()
                .unwrap()[0];
            assert_eq!(
                text(l3, tags::PERSON_NAME),
                spec.referring_physician,
                "{syntax:?}"
            );
            assert_eq!(text(l1, tags::ACCESSION_NUMBER), spec.accession);
            let per_frame = obj
                .get(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
                .unwrap()
                .items()
                .unwrap();
            assert_eq!(per_frame.len(), 2);
            assert!(
                obj.get(Tag(0x6000, 0x3000)).is_some(),
                "overlay data {syntax:?}"
            );
            assert!(text(&obj, Tag(0x6000, 0x4000)).contains(&spec.patient_name));
            let pixel = obj.get(tags::PIXEL_DATA).unwrap();
            if syntax == Syntax::EncapsulatedJpegBaseline {
                let frags = pixel.fragments().unwrap();
                assert_eq!(frags.len(), 2);
                for f in frags {
                    assert_eq!(&f[..2], &[0xFF, 0xD8]);
                    assert_eq!(&f[f.len() - 2..], &[0xFF, 0xD9]);
                }
                let table = pixel.offset_table().unwrap();
                assert_eq!(table.len(), 2);
                assert_eq!(table[1] as usize, frags[0].len() + 8);
                assert_eq!(
                    obj.get(tags::BITS_ALLOCATED)
                        .unwrap()
                        .to_int::<u16>()
                        .unwrap(),
                    8
                );
            } else {
                let expected = pixels::gradient_u16_le(6, 10, 2, spec.instance_number);
                let words: Vec<u16> = expected
                    .chunks(2)
                    .map(|p| u16::from_le_bytes([p[0], p[1]]))
                    .collect();
                assert_eq!(
                    pixel.to_multi_int::<u16>().unwrap(),
                    words,
                    "pixel values {syntax:?}"
                );
            }
        }
    }

    #[test]
    fn big_endian_values_read_back_correctly() {
        let spec = InstanceSpec {
            syntax: Syntax::ExplicitBig,
            rows: 300,
            columns: 2,
            instance_number: 7,
            ..InstanceSpec::default()
        };
        let bytes = spec.to_bytes().unwrap();
        // Rows = 300 = 0x012C must be stored big endian: tag (0028,0010) "US" len 2 → 01 2C.
        let needle = [0x00, 0x28, 0x00, 0x10, b'U', b'S', 0x00, 0x02, 0x01, 0x2C];
        assert!(
            bytes.windows(needle.len()).any(|w| w == needle),
            "Rows not big endian"
        );
        let obj = roundtrip(&spec);
        assert_eq!(obj.get(tags::ROWS).unwrap().to_int::<u16>().unwrap(), 300);
        assert_eq!(text(&obj, tags::INSTANCE_NUMBER), "7");
        let words = obj
            .get(tags::PIXEL_DATA)
            .unwrap()
            .to_multi_int::<u16>()
            .unwrap();
        assert_eq!(words.len(), 600);
        let expected = pixels::gradient_u16_le(300, 2, 1, 7);
        assert_eq!(
            words[123],
            u16::from_le_bytes([expected[246], expected[247]])
        );
    }

    #[test]
    fn output_is_deterministic_and_uids_change_the_bytes() {
        let a = InstanceSpec::default()
            .with_hard_cases()
            .to_bytes()
            .unwrap();
        let b = InstanceSpec::default()
            .with_hard_cases()
            .to_bytes()
            .unwrap();
        assert_eq!(a, b);
        let c = instance("MRN0001234", "2.25.1001", "2.25.1002", "2.25.1005")
            .to_bytes()
            .unwrap();
        assert_ne!(a, c);
        assert_eq!(&a[128..132], b"DICM");
        assert!(a[..128].iter().all(|b| *b == 0));
    }

    #[test]
    fn blank_patient_id_is_present_and_empty() {
        let obj = roundtrip(&instance("", "2.25.1", "2.25.2", "2.25.3"));
        assert_eq!(text(&obj, tags::PATIENT_ID), "");
    }

    #[test]
    fn sr_document_names_patient_and_references_images() {
        let refs = vec![
            SopReference {
                series_uid: "2.25.20".into(),
                sop_class_uid: uids::MR_IMAGE_STORAGE.into(),
                sop_uid: "2.25.21".into(),
            },
            SopReference {
                series_uid: "2.25.20".into(),
                sop_class_uid: uids::MR_IMAGE_STORAGE.into(),
                sop_uid: "2.25.22".into(),
            },
            SopReference {
                series_uid: "2.25.30".into(),
                sop_class_uid: uids::MR_IMAGE_STORAGE.into(),
                sop_uid: "2.25.31".into(),
            },
        ];
        let spec = sr_document("MRN0001234", "2.25.1", "2.25.9", "2.25.10", refs);
        let obj = roundtrip(&spec);
        assert_eq!(text(&obj, tags::MODALITY), "SR");
        assert!(obj.get(tags::PIXEL_DATA).is_none());
        let content = obj.get(tags::CONTENT_SEQUENCE).unwrap().items().unwrap();
        assert_eq!(text(&content[0], tags::PERSON_NAME), spec.patient_name);
        let findings = content[3]
            .get(tags::CONTENT_SEQUENCE)
            .unwrap()
            .items()
            .unwrap();
        assert!(text(&findings[0], tags::TEXT_VALUE).contains("HALVORSEN, INGRID"));
        let referenced: Vec<String> = findings[1..]
            .iter()
            .map(|i| {
                text(
                    &i.get(tags::REFERENCED_SOP_SEQUENCE)
                        .unwrap()
                        .items()
                        .unwrap()[0],
                    tags::REFERENCED_SOP_INSTANCE_UID,
                )
            })
            .collect();
        assert_eq!(referenced, ["2.25.21", "2.25.22", "2.25.31"]);
        let evidence = obj
            .get(tags::CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE)
            .unwrap()
            .items()
            .unwrap();
        let series = evidence[0]
            .get(tags::REFERENCED_SERIES_SEQUENCE)
            .unwrap()
            .items()
            .unwrap();
        assert_eq!(series.len(), 2);
        assert_eq!(
            series[0]
                .get(tags::REFERENCED_SOP_SEQUENCE)
                .unwrap()
                .items()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn phi_lists_names_parts_and_ids() {
        let phi = InstanceSpec::default().with_hard_cases().phi();
        for v in [
            "HALVORSEN^INGRID",
            "HALVORSEN",
            "INGRID",
            "MRN0001234",
            "MRN0001234-B",
            "19710315",
            "ACC20240102",
            "NORTHWICK GENERAL HOSPITAL",
            "OKONKWO",
            "CHIDI",
            "OKONKWO^CHIDI",
            "VASQUEZ",
            "PETTERSSON",
        ] {
            assert!(phi.iter().any(|p| p == v), "{v} missing from {phi:?}");
        }
        assert!(!phi.iter().any(|p| p.is_empty() || p == "DR"), "{phi:?}");
    }

    #[test]
    fn zero_sized_image_is_an_error_naming_the_instance() {
        let err = InstanceSpec {
            rows: 0,
            ..InstanceSpec::default()
        }
        .to_bytes()
        .unwrap_err();
        assert!(err.to_string().contains("2.25.1003"), "{err}");
    }

    #[test]
    fn huge_length_declares_four_gigabytes_in_a_small_file() {
        let bytes = huge_length().unwrap();
        assert!(bytes.len() < 4096, "{}", bytes.len());
        let needle = [
            0x11, 0x00, 0x10, 0x10, b'O', b'B', 0, 0, 0xF0, 0xFF, 0xFF, 0xFF,
        ];
        assert!(bytes.windows(needle.len()).any(|w| w == needle));
        // The element sits before the pixel data (a header-only read reaches it). Reading it
        // with dicom-rs is deliberately not done here: dicom-rs 0.10 reserves and zero-fills the
        // declared 4 GiB before failing on the short read (measured: 4.2 GB RSS, 30 s in debug).
        let at = bytes
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap();
        let pixel = [0xE0, 0x7F, 0x10, 0x00];
        let pixel_at = bytes.windows(4).position(|w| w == pixel).unwrap();
        assert!(at < pixel_at);
    }

    #[test]
    fn no_preamble_is_readable_by_dicom_rs() {
        let bytes = no_preamble().unwrap();
        assert_eq!(&bytes[..4], b"DICM");
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("np");
        std::fs::write(&p, &bytes).unwrap();
        let obj = open_file(&p).unwrap();
        assert_eq!(text(&obj, tags::SOP_INSTANCE_UID), "2.25.1003.7");
    }

    #[test]
    fn missing_uids_are_missing() {
        for (which, tag) in [
            (MissingUid::SopInstance, tags::SOP_INSTANCE_UID),
            (MissingUid::Series, tags::SERIES_INSTANCE_UID),
            (MissingUid::Study, tags::STUDY_INSTANCE_UID),
        ] {
            let bytes = missing_uid(which).unwrap();
            let obj = OpenFileOptions::new().from_reader(&bytes[128..]).unwrap();
            assert!(obj.get(tag).is_none(), "{which:?}");
            assert!(obj.get(tags::PATIENT_ID).is_some());
        }
    }

    #[test]
    fn hostile_bytes() {
        let full = InstanceSpec::default().to_bytes().unwrap();
        let cut = truncated(&full, 300);
        assert_eq!(cut.len(), 300);
        assert!(OpenFileOptions::new().from_reader(&cut[128..]).is_err());
        assert_eq!(truncated(&full, usize::MAX), full);
        assert!(zero_bytes().is_empty());
        assert!(
            OpenFileOptions::new()
                .from_reader(&not_dicom()[..])
                .is_err()
        );
        let paths = path_like_ids().unwrap();
        assert_eq!(paths.len(), 2);
        assert_eq!(paths[0].0, "../../x");
        assert_eq!(paths[1].0, "A/B\\C:*?");
        for (pid, bytes) in &paths {
            let obj = OpenFileOptions::new().from_reader(&bytes[128..]).unwrap();
            assert_eq!(&text(&obj, tags::PATIENT_ID), pid);
        }
    }
}
