//! De-identifying one DICOM file held in memory: parse once, apply the engine, encode in the
//! input's transfer syntax, and name the result from keyed values only
//! (`<subject pseudonym>/<mapped StudyUID>/<mapped SeriesUID>/<mapped SOPUID>.dcm`), so no
//! input file or folder name (which often holds the patient's name) reaches the output.

use std::io::Read;
use std::path::{Path, PathBuf};

use anon_core::{AnonError, Deidentifier, Report, SubjectContext};
use archive::reading::{HeaderSource, Readable};
use dicom_dictionary_std::tags;
use dicom_object::file::ReadPreamble;
use dicom_object::{DefaultDicomObject, InMemDicomObject, OpenFileOptions};
use thiserror::Error;

/// Why one file could not be de-identified (the caller adds the file's path).
#[derive(Debug, Error)]
pub enum DeidFileError {
    /// No `DICM` marker at byte 128 (or 0): not a DICOM file.
    #[error("not a DICOM file (no DICM marker)")]
    NotDicom,
    /// The file starts like DICOM but cannot be parsed (truncated, hostile lengths, ...).
    #[error("unreadable DICOM: {reason}")]
    Unreadable {
        /// The parser's explanation.
        reason: String,
    },
    /// The data set has no SOP Instance UID, so the output cannot be named.
    #[error("no SOP Instance UID (0008,0018)")]
    NoSopInstanceUid,
    /// A UID used for the output name is not a valid UID.
    #[error("{attribute} is not a valid UID")]
    BadUid {
        /// Which attribute.
        attribute: &'static str,
    },
    /// The engine refused the object.
    #[error(transparent)]
    Engine(#[from] AnonError),
    /// The de-identified object could not be encoded.
    #[error("cannot encode the result: {reason}")]
    Encode {
        /// The writer's explanation.
        reason: String,
    },
}

/// The result for one file.
#[derive(Debug)]
pub struct DeidentifiedFile {
    /// The file to write (for `original`, the input bytes unchanged).
    pub bytes: Vec<u8>,
    /// Where it goes below the output folder.
    pub rel_path: PathBuf,
    /// The subject's pseudonym (first folder of `rel_path`).
    pub pseudonym: String,
    /// What the engine did.
    pub report: Report,
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// Where the DICOM stream starts (after the preamble), or `None` if there is no DICM marker.
fn dicm_offset(bytes: &[u8]) -> Option<usize> {
    if bytes.get(128..132) == Some(b"DICM") {
        Some(128)
    } else if bytes.get(..4) == Some(b"DICM") {
        Some(0)
    } else {
        None
    }
}

/// The archive's structural check and repairs ([`archive::reading`]): every declared length
/// against the file's size, deflated data sets included, in the same structure dicom-rs will
/// parse, so no hostile declared length reaches dicom-rs in any transfer syntax; and where
/// dicom-rs would misread what the standard allows (UN elements, a meta group without its
/// group length), a repaired copy. Returns the bytes to parse and their layout.
fn prescan(bytes: &[u8], start: usize) -> Result<Readable<'_>, DeidFileError> {
    archive::reading::readable(bytes, start == 128).map_err(|e| DeidFileError::Unreadable {
        reason: e.to_string(),
    })
}

/// Parses a DICOM file from memory (everything, or the header up to Pixel Data). Element
/// lengths are checked against the file size first (see `prescan`).
pub fn parse(bytes: &[u8], header_only: bool) -> Result<DefaultDicomObject, DeidFileError> {
    let start = dicm_offset(bytes).ok_or(DeidFileError::NotDicom)?;
    let readable = prescan(bytes, start)?;
    parse_from(&readable.bytes, start, header_only)
}

/// Parses the header (up to Pixel Data) of a DICOM file on disk, reading only the header's
/// bytes unless the file needs repairs (see `prescan`); the structure up to Pixel Data is
/// checked first.
pub fn parse_header_file(path: &Path) -> Result<DefaultDicomObject, DeidFileError> {
    let unreadable = |reason: String| DeidFileError::Unreadable { reason };
    let mut head = Vec::with_capacity(132);
    std::fs::File::open(path)
        .and_then(|f| f.take(132).read_to_end(&mut head))
        .map_err(|e| unreadable(format!("cannot read: {e}")))?;
    let start = dicm_offset(&head).ok_or(DeidFileError::NotDicom)?;
    let size = std::fs::metadata(path)
        .map_err(|e| unreadable(format!("cannot read: {e}")))?
        .len();
    match archive::reading::header_source(path, size, start == 128, true)
        .map_err(|e| unreadable(e.to_string()))?
    {
        HeaderSource::Disk => OpenFileOptions::new()
            .read_until(tags::PIXEL_DATA)
            .open_file(path)
            .map_err(|e| unreadable(chain(&e))),
        HeaderSource::Memory(bytes) => parse_from(&bytes, start, true),
    }
}

fn parse_from(
    bytes: &[u8],
    start: usize,
    header_only: bool,
) -> Result<DefaultDicomObject, DeidFileError> {
    let reader: &mut dyn Read = &mut bytes.get(start..).unwrap_or_default();
    let mut options = OpenFileOptions::new().read_preamble(ReadPreamble::Never);
    if header_only {
        options = options.read_until(tags::PIXEL_DATA);
    }
    options
        .from_reader(reader)
        .map_err(|e| DeidFileError::Unreadable { reason: chain(&e) })
}

fn uid_of(obj: &InMemDicomObject, tag: dicom_core::Tag) -> Option<String> {
    let s = obj.get(tag)?.to_str().ok()?;
    let t = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!t.is_empty()).then(|| t.to_string())
}

/// A name component from a UID: always the keyed mapping (even when the level keeps UIDs),
/// and only digits and dots, so hostile values (`../../x`, `A/B\C:*?`) never reach a path.
fn name_component(
    key_deid: &Deidentifier,
    uid: Option<&str>,
    attribute: &'static str,
) -> Result<String, DeidFileError> {
    let Some(uid) = uid else {
        return Ok(format!(
            "no-{}",
            attribute.to_ascii_lowercase().replace(' ', "-")
        ));
    };
    let mapped = key_deid.map_uid(uid);
    let ok = !mapped.is_empty()
        && mapped.len() <= 64
        && mapped.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && !mapped.starts_with('.')
        && !mapped.contains("..");
    if ok {
        Ok(mapped)
    } else {
        Err(DeidFileError::BadUid { attribute })
    }
}

/// The output path of an object, from the subject pseudonym and the key's UID map.
pub fn output_rel_path(
    deid: &Deidentifier,
    obj: &InMemDicomObject,
) -> Result<(PathBuf, String), DeidFileError> {
    let sop = uid_of(obj, tags::SOP_INSTANCE_UID).ok_or(DeidFileError::NoSopInstanceUid)?;
    let pseudonym = deid.subject_context(obj).pseudonym;
    let study = name_component(
        deid,
        uid_of(obj, tags::STUDY_INSTANCE_UID).as_deref(),
        "Study UID",
    )?;
    let series = name_component(
        deid,
        uid_of(obj, tags::SERIES_INSTANCE_UID).as_deref(),
        "Series UID",
    )?;
    let sop = name_component(deid, Some(&sop), "SOP Instance UID")?;
    let rel = PathBuf::from(&pseudonym)
        .join(study)
        .join(series)
        .join(format!("{sop}.dcm"));
    Ok((rel, pseudonym))
}

/// De-identifies one file held in memory. `extra_identifiers` are cut from cleaned text in
/// addition to the subject's own. The input bytes are never modified.
pub fn deidentify_bytes(
    deid: &Deidentifier,
    input: &[u8],
    extra_identifiers: &[String],
) -> Result<DeidentifiedFile, DeidFileError> {
    if !deid.profile().changes_anything() {
        let mut obj = parse(input, true)?;
        let (rel_path, pseudonym) = output_rel_path(deid, &obj)?;
        let subject = deid.subject_context(&obj);
        // `original` changes nothing: apply only runs the burned-in check.
        let report = deid.apply(&mut obj, &subject)?;
        return Ok(DeidentifiedFile {
            bytes: input.to_vec(),
            rel_path,
            pseudonym,
            report,
        });
    }
    let ((rel_path, pseudonym), bytes, report) = deidentify_with(deid, input, |obj| {
        let named = output_rel_path(deid, obj)?;
        let mut subject = deid.subject_context(obj);
        subject.identifiers.extend(
            extra_identifiers
                .iter()
                .filter(|s| !s.trim().is_empty())
                .cloned(),
        );
        Ok((subject, named))
    })?;
    Ok(DeidentifiedFile {
        bytes,
        rel_path,
        pseudonym,
        report,
    })
}

/// De-identifies one file held in memory with the subject context that `subject` derives from
/// the parsed header (it may also compute a value of its own, returned as `T`). Returns the
/// encoded result and the engine's report. The input bytes are never modified.
///
/// Fast path: when Pixel Data is the last element and no rule names it, the data set is parsed
/// up to it, de-identified, encoded, and the pixel element's bytes are appended unchanged (they
/// are already in the output's transfer syntax). Pixels are never decoded.
pub fn deidentify_with<T>(
    deid: &Deidentifier,
    input: &[u8],
    subject: impl FnOnce(&DefaultDicomObject) -> Result<(SubjectContext, T), DeidFileError>,
) -> Result<(T, Vec<u8>, Report), DeidFileError> {
    let start = dicm_offset(input).ok_or(DeidFileError::NotDicom)?;
    let readable = prescan(input, start)?;
    let (input, layout) = (&readable.bytes[..], &readable.layout);
    // Pixel Data can be copied through when nothing but padding follows it (the header-only
    // parse stops at it) and the data set is not deflated (then its bytes are compressed).
    let pixel = layout
        .pixel_data_in_file()
        .filter(|_| layout.pixel_data_is_last && !deid.profile().lists(tags::PIXEL_DATA));
    let mut obj = parse_from(input, start, pixel.is_some())?;
    let pixel = pixel.filter(|_| obj.get(tags::PIXEL_DATA).is_none());
    let (ctx, extra) = subject(&obj)?;
    let report = deid.apply(&mut obj, &ctx)?;
    let mut bytes = Vec::with_capacity(input.len() + 1024);
    obj.write_all(&mut bytes)
        .map_err(|e| DeidFileError::Encode { reason: chain(&e) })?;
    if let Some(range) = pixel {
        bytes.extend_from_slice(input.get(range).unwrap_or_default());
    }
    Ok((extra, bytes, report))
}
