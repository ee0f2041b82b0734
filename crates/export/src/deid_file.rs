//! De-identifying one DICOM file held in memory: parse once, apply the engine, encode in the
//! input's transfer syntax, and name the result from keyed values only
//! (`<subject pseudonym>/<mapped StudyUID>/<mapped SeriesUID>/<mapped SOPUID>.dcm`), so no
//! input file or folder name (which often holds the patient's name) reaches the output.

use std::io::Read;
use std::path::PathBuf;

use anon_core::{AnonError, Deidentifier, Report, SubjectContext};
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

fn u16_at(b: &[u8], at: usize, big: bool) -> Option<u16> {
    let x = [*b.get(at)?, *b.get(at + 1)?];
    Some(if big {
        u16::from_be_bytes(x)
    } else {
        u16::from_le_bytes(x)
    })
}

fn u32_at(b: &[u8], at: usize, big: bool) -> Option<u32> {
    let x = [
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ];
    Some(if big {
        u32::from_be_bytes(x)
    } else {
        u32::from_le_bytes(x)
    })
}

/// Explicit VRs with a 2-byte reserved field and a 4-byte length.
fn long_vr(vr: &[u8]) -> bool {
    matches!(
        vr,
        b"OB"
            | b"OW"
            | b"OF"
            | b"OD"
            | b"OL"
            | b"OV"
            | b"SQ"
            | b"UT"
            | b"UN"
            | b"UC"
            | b"UR"
            | b"SV"
            | b"UV"
    )
}

/// What a walk over the element headers found.
#[derive(Debug, Default)]
struct Layout {
    /// Byte range of the top-level Pixel Data element (header and value), when it is the last
    /// element of the data set (only Data Set Trailing Padding may follow) and the syntax is
    /// not deflated: then the pixel bytes can be copied through without decoding them.
    pixel_data: Option<std::ops::Range<usize>>,
}

/// Walks the file's element headers without reading values and rejects any element that
/// declares more bytes than the file has left. dicom-rs allocates a value's declared length
/// before reading it, so a 4 GiB length in a small hostile file would otherwise cost 4 GiB of
/// memory. Deflated data sets are not walked (their values are compressed); a walk that meets
/// a construct it cannot follow (an undefined-length UN) stops and leaves the file to the parser.
fn scan(bytes: &[u8], start: usize) -> Result<Layout, DeidFileError> {
    let hostile = |tag: (u16, u16), len: u64, left: usize| DeidFileError::Unreadable {
        reason: format!(
            "element ({:04X},{:04X}) declares {len} bytes but only {left} remain in the file",
            tag.0, tag.1
        ),
    };
    // File meta: explicit VR little endian, group 0002.
    let mut pos = start + 4;
    let mut ts = String::new();
    while u16_at(bytes, pos, false) == Some(0x0002) {
        let element = u16_at(bytes, pos + 2, false).unwrap_or(0);
        let vr = bytes.get(pos + 4..pos + 6).unwrap_or_default();
        let (header, len) = if long_vr(vr) {
            (12, u32_at(bytes, pos + 8, false).unwrap_or(0))
        } else {
            (8, u32::from(u16_at(bytes, pos + 6, false).unwrap_or(0)))
        };
        let value_at = pos + header;
        let left = bytes.len().saturating_sub(value_at);
        if len as usize > left {
            return Err(hostile((0x0002, element), u64::from(len), left));
        }
        if element == 0x0010 {
            ts = String::from_utf8_lossy(
                bytes
                    .get(value_at..value_at + len as usize)
                    .unwrap_or_default(),
            )
            .trim_end_matches(['\0', ' '])
            .to_string();
        }
        pos = value_at + len as usize;
    }
    let (explicit, big) = match ts.as_str() {
        "1.2.840.10008.1.2" => (false, false),
        "1.2.840.10008.1.2.2" => (true, true),
        "1.2.840.10008.1.2.1.99" | "" => return Ok(Layout::default()),
        _ => (true, false),
    };
    // Open sequences and items: Some(end) for defined lengths, None until a delimiter.
    let mut open: Vec<Option<usize>> = Vec::new();
    let mut encapsulated = false;
    let mut pixel_start: Option<usize> = None;
    let mut pixel_end: Option<usize> = None;
    let mut tail_ok = true;
    while pos + 8 <= bytes.len() {
        while matches!(open.last(), Some(Some(end)) if pos >= *end) {
            open.pop();
        }
        let group = u16_at(bytes, pos, big).unwrap_or(0);
        let element = u16_at(bytes, pos + 2, big).unwrap_or(0);
        if group == 0xFFFE {
            let len = u32_at(bytes, pos + 4, big).unwrap_or(0);
            pos += 8;
            let left = bytes.len() - pos;
            match element {
                0xE000 if encapsulated => {
                    if len == u32::MAX || len as usize > left {
                        return Err(hostile((group, element), u64::from(len), left));
                    }
                    pos += len as usize;
                }
                0xE000 => {
                    if len != u32::MAX && len as usize > left {
                        return Err(hostile((group, element), u64::from(len), left));
                    }
                    open.push((len != u32::MAX).then_some(pos + len as usize));
                }
                0xE0DD if encapsulated => {
                    encapsulated = false;
                    if open.is_empty() && pixel_start.is_some() && pixel_end.is_none() {
                        pixel_end = Some(pos);
                    }
                }
                0xE00D | 0xE0DD => {
                    if matches!(open.last(), Some(None)) {
                        open.pop();
                    }
                }
                _ => {}
            }
            continue;
        }
        let (header, len, is_seq) = if explicit {
            let vr = bytes.get(pos + 4..pos + 6).unwrap_or_default();
            if long_vr(vr) {
                (12, u32_at(bytes, pos + 8, big).unwrap_or(0), vr == b"SQ")
            } else {
                (
                    8,
                    u32::from(u16_at(bytes, pos + 6, big).unwrap_or(0)),
                    false,
                )
            }
        } else {
            (8, u32_at(bytes, pos + 4, big).unwrap_or(0), false)
        };
        let top = open.is_empty();
        if top && pixel_end.is_some() && (group, element) != (0xFFFC, 0xFFFC) {
            tail_ok = false;
        }
        let is_pixel = top && (group, element) == (0x7FE0, 0x0010);
        if is_pixel {
            pixel_start = Some(pos);
        }
        pos += header;
        if len == u32::MAX {
            if (group, element) == (0x7FE0, 0x0010) {
                encapsulated = true;
            } else if explicit && !is_seq {
                return Ok(Layout::default()); // undefined-length UN: implicit VR inside
            } else {
                open.push(None);
            }
            continue;
        }
        let left = bytes.len().saturating_sub(pos);
        if len as usize > left {
            return Err(hostile((group, element), u64::from(len), left));
        }
        if is_seq {
            open.push(Some(pos + len as usize));
            continue;
        }
        pos += len as usize;
        if is_pixel {
            pixel_end = Some(pos);
        }
    }
    let pixel_data = match (pixel_start, pixel_end) {
        (Some(a), Some(b)) if tail_ok && !encapsulated => Some(a..b),
        _ => None,
    };
    Ok(Layout { pixel_data })
}

/// The archive's structural length check, which also walks deflated data sets through a
/// streaming inflater (the local scan below does not look inside them), so no hostile declared
/// length reaches dicom-rs in any transfer syntax.
fn prescan(bytes: &[u8], start: usize) -> Result<(), DeidFileError> {
    archive::scan::check(bytes, start == 128).map_err(|e| DeidFileError::Unreadable {
        reason: e.to_string(),
    })
}

/// Parses a DICOM file from memory (everything, or the header up to Pixel Data). Element
/// lengths are checked against the file size first (see `scan`).
pub fn parse(bytes: &[u8], header_only: bool) -> Result<DefaultDicomObject, DeidFileError> {
    let start = dicm_offset(bytes).ok_or(DeidFileError::NotDicom)?;
    prescan(bytes, start)?;
    scan(bytes, start)?;
    parse_from(bytes, start, header_only)
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
    prescan(input, start)?;
    let layout = scan(input, start)?;
    let pixel = layout
        .pixel_data
        .filter(|_| !deid.profile().lists(tags::PIXEL_DATA));
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
