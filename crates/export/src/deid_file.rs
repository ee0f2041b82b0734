//! De-identifying one DICOM file held in memory: parse once, apply the engine, encode in the
//! input's transfer syntax, and name the result from keyed values only
//! (`<subject pseudonym>/<mapped StudyUID>/<mapped SeriesUID>/<mapped SOPUID>.dcm`), so no
//! input file or folder name (which often holds the patient's name) reaches the output.

use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};

use anon_core::{AnonError, Deidentifier, Report, SubjectContext};
use archive::memory::{Budget, ParseCost, Permit};
use archive::reading::{HeaderSource, Readable};
use archive::scan::Layout;
use dicom_dictionary_std::tags;
use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
use dicom_object::file::ReadPreamble;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{DefaultDicomObject, InMemDicomObject, OpenFileOptions};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use thiserror::Error;

use crate::spliced::Spliced;

/// Why one file could not be de-identified (the caller adds the file's path).
#[derive(Debug, Error)]
pub enum DeidFileError {
    /// No `DICM` marker at byte 128 (or 0), and no bare data set either: not a DICOM file.
    #[error("not a DICOM file (no DICM marker, and it does not start like a data set)")]
    NotDicom,
    /// A zip archive (`depot anonymize` reads files and folders, not zips).
    #[error("a zip archive, not a DICOM file: unpack it to de-identify its contents")]
    Zip,
    /// The file starts like DICOM but cannot be parsed (truncated, hostile lengths, ...).
    #[error("unreadable DICOM: {reason}")]
    Unreadable {
        /// The parser's explanation.
        reason: String,
    },
    /// A DICOMDIR (Media Storage Directory): the index of a medium, not an instance.
    #[error(
        "a DICOMDIR (the index of a DICOM medium), not an instance: skipped; the instances it lists are de-identified from their own files, and it names patients and the original file names, so it is not copied"
    )]
    Dicomdir,
    /// The data set has no SOP Instance UID, so the output cannot be named.
    #[error("no SOP Instance UID (0008,0018): not an instance, and its output could not be named")]
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

/// An error and its causes, each after a colon.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
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
/// lengths are checked against the file size first (see `prescan`). A bare data set (no
/// `DICM`, no file meta group) is parsed whole (see `parse_raw`).
pub fn parse(bytes: &[u8], header_only: bool) -> Result<DefaultDicomObject, DeidFileError> {
    let Some(start) = dicm_offset(bytes) else {
        return parse_raw(bytes);
    };
    let readable = prescan(bytes, start)?;
    parse_from(&readable.bytes, start, header_only)
}

/// Parses a bare data set, written without preamble, `DICM` and file meta group (its encoding
/// told from its first element, as DCMTK tells it: [`archive::reading::raw_encoding`]), and
/// gives it the file meta group PS3.10 requires, naming its SOP Class, its SOP Instance and
/// the transfer syntax it was read in, so that what depot writes from it is a DICOM file.
fn parse_raw(bytes: &[u8]) -> Result<DefaultDicomObject, DeidFileError> {
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return Err(DeidFileError::Zip);
    }
    let encoding = archive::reading::raw_encoding(bytes).ok_or(DeidFileError::NotDicom)?;
    let unreadable = |reason: String| DeidFileError::Unreadable {
        reason: format!("a data set without file meta information: {reason}"),
    };
    let raw =
        archive::reading::raw_data_set(bytes, encoding).map_err(|e| unreadable(e.to_string()))?;
    let ts = TransferSyntaxRegistry
        .get(raw.transfer_syntax)
        .ok_or_else(|| unreadable(format!("transfer syntax {} unknown", raw.transfer_syntax)))?;
    let obj = InMemDicomObject::read_dataset_with_ts(&raw.bytes[..], ts)
        .map_err(|e| unreadable(chain(&e)))?;
    if uid_of(&obj, tags::SOP_CLASS_UID).is_none() {
        return Err(unreadable(
            "no SOP Class UID (0008,0016) to name in the file meta group it needs".into(),
        ));
    }
    obj.with_meta(FileMetaTableBuilder::new().transfer_syntax(raw.transfer_syntax))
        .map_err(|e| unreadable(chain(&e)))
}

/// Parses the header (up to Pixel Data) of a DICOM file on disk, reading only the header's
/// bytes unless the file needs repairs (see `prescan`); the structure up to Pixel Data is
/// checked first. The object comes with the memory it holds taken from the process's
/// [`Budget`]: keep the permit while the object lives.
pub fn parse_header_file(
    path: &Path,
) -> Result<(DefaultDicomObject, Permit<'static>), DeidFileError> {
    let unreadable = |reason: String| DeidFileError::Unreadable { reason };
    let cannot_read = |e: std::io::Error| unreadable(format!("cannot read: {e}"));
    // One open for everything the plan reads of the file.
    let mut file = std::fs::File::open(path).map_err(cannot_read)?;
    let mut head = Vec::with_capacity(132);
    (&mut file)
        .take(132)
        .read_to_end(&mut head)
        .map_err(cannot_read)?;
    let start = dicm_offset(&head).ok_or(DeidFileError::NotDicom)?;
    let size = file.metadata().map_err(cannot_read)?.len();
    let (header, layout) = archive::reading::header_source_of(file, size, start == 128, true)
        .map_err(|e| unreadable(e.to_string()))?;
    let held = match &header {
        HeaderSource::Memory(bytes) => bytes.len() as u64,
        HeaderSource::Disk => 0,
    };
    let memory = Budget::global()
        .acquire(&layout.header_cost, held)
        .map_err(|e| unreadable(e.to_string()))?;
    let obj = match header {
        HeaderSource::Disk => OpenFileOptions::new()
            .read_until(tags::PIXEL_DATA)
            .open_file(path)
            .map_err(|e| unreadable(chain(&e)))?,
        HeaderSource::Memory(bytes) => parse_from(&bytes, start, true)?,
    };
    Ok((obj, memory))
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
    rel_path_of(deid, obj, deid.subject_context(obj).pseudonym)
}

/// [`output_rel_path`] for a subject whose pseudonym is known.
fn rel_path_of(
    deid: &Deidentifier,
    obj: &InMemDicomObject,
    pseudonym: String,
) -> Result<(PathBuf, String), DeidFileError> {
    let sop = uid_of(obj, tags::SOP_INSTANCE_UID).ok_or(DeidFileError::NoSopInstanceUid)?;
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

/// Media Storage Directory Storage: the SOP class of a DICOMDIR.
const DICOMDIR_CLASS: &str = "1.2.840.10008.1.3.10";

fn refuse_dicomdir(obj: &DefaultDicomObject) -> Result<(), DeidFileError> {
    let class = obj.meta().media_storage_sop_class_uid();
    if class.trim_end_matches(['\0', ' ']) == DICOMDIR_CLASS {
        return Err(DeidFileError::Dicomdir);
    }
    Ok(())
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
        refuse_dicomdir(&obj)?;
        let subject = deid.subject_context(&obj);
        let (rel_path, pseudonym) = rel_path_of(deid, &obj, subject.pseudonym.clone())?;
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
        refuse_dicomdir(obj)?;
        let mut subject = deid.subject_context(obj);
        let named = rel_path_of(deid, obj, subject.pseudonym.clone())?;
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
    let Some(start) = dicm_offset(input) else {
        // A bare data set: parsed whole, written as a DICOM file.
        let mut obj = parse_raw(input)?;
        let (ctx, extra) = subject(&obj)?;
        let report = deid.apply(&mut obj, &ctx)?;
        let mut bytes = Vec::with_capacity(input.len() + 1024);
        obj.write_all(&mut bytes)
            .map_err(|e| DeidFileError::Encode { reason: chain(&e) })?;
        return Ok((extra, bytes, report));
    };
    let readable = prescan(input, start)?;
    let copy = if readable.is_copy() {
        readable.bytes.len() as u64
    } else {
        0
    };
    let (input, layout) = (&readable.bytes[..], &readable.layout);
    let pixel = copied_pixel_data(deid, layout);
    // The parsed object, the repaired copy and the encoded result come out of the budget
    // shared by the workers, until this file is done.
    let parsed = if pixel.is_some() {
        &layout.header_cost
    } else {
        &layout.cost
    };
    let _memory = Budget::global()
        .acquire(parsed, copy.saturating_add(input.len() as u64))
        .map_err(|e| DeidFileError::Unreadable {
            reason: e.to_string(),
        })?;
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

/// The top-level Pixel Data that de-identification copies through unchanged: when nothing but
/// padding follows it (the header-only parse stops at it), the data set is not deflated (then
/// its bytes are compressed) and no rule names it.
fn copied_pixel_data(deid: &Deidentifier, layout: &Layout) -> Option<Range<usize>> {
    layout
        .pixel_data_in_file()
        .filter(|_| layout.pixel_data_is_last && !deid.profile().lists(tags::PIXEL_DATA))
}

/// What [`deidentify_with`] returns for `input` as bytes, for a caller that already holds the
/// header it would encode (`header`: the file's header, up to its top-level Pixel Data,
/// parsed from the file's own bytes, de-identified with the context `deidentify_with` would
/// use, and encoded): `header` followed by the file's Pixel Data, in `input`'s own buffer
/// when the header fits before the Pixel Data (see [`Spliced`]). `Err(input)` when
/// `deidentify_with` would not copy the pixel data through from the file's own bytes (a
/// repaired copy, no Pixel Data, Pixel Data not last or named by a rule, a file it refuses):
/// then `deidentify_with` does the whole work.
pub(crate) fn reuse_header(
    deid: &Deidentifier,
    input: Vec<u8>,
    header: &[u8],
) -> Result<Spliced, Vec<u8>> {
    let Some(pixels) = pixel_range(deid, &input) else {
        return Err(input);
    };
    // The same share of the budget as `deidentify_with` takes (the output), so that a file
    // too big for it is refused alike, by `deidentify_with`.
    let Ok(_memory) = Budget::global().acquire(&pixels.1, input.len() as u64) else {
        return Err(input);
    };
    Spliced::join(input, header, pixels.0)
}

/// The range of `input`'s Pixel Data that [`deidentify_with`] copies through, and the
/// header's parse cost; `None` when it copies nothing through.
fn pixel_range(deid: &Deidentifier, input: &[u8]) -> Option<(Range<usize>, ParseCost)> {
    let start = dicm_offset(input)?;
    let readable = prescan(input, start).ok()?;
    if readable.is_copy() {
        return None;
    }
    let layout = readable.layout;
    let pixels = copied_pixel_data(deid, &layout)?;
    Some((pixels, layout.header_cost))
}
