//! DIMSE command sets (PS3.7 chapter 9 and annex E) for the services depot speaks: C-ECHO and
//! C-STORE, requests and responses. A command set is always encoded in Implicit VR Little
//! Endian and starts with its group length (0000,0000).
//!
//! Also here: the file meta information (PS3.10 7.1) of a received instance. A C-STORE carries
//! the data set only; the receiver writes the meta group. depot writes it from the request's
//! Affected SOP Class and Instance UIDs and the presentation context's transfer syntax, with
//! its own implementation identity and nothing about the sender (who sent it is recorded in the
//! index), so the same data set received from any sender is stored as the same bytes.

use dicom_core::header::Header;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use dicom_transfer_syntax_registry::entries::IMPLICIT_VR_LITTLE_ENDIAN;

/// C-STORE-RQ.
pub const C_STORE_RQ: u16 = 0x0001;
/// C-STORE-RSP.
pub const C_STORE_RSP: u16 = 0x8001;
/// C-ECHO-RQ.
pub const C_ECHO_RQ: u16 = 0x0030;
/// C-ECHO-RSP.
pub const C_ECHO_RSP: u16 = 0x8030;
/// CommandDataSetType value meaning "no data set follows".
pub const NO_DATA_SET: u16 = 0x0101;

/// Status codes (PS3.7 annex C, PS3.4 B.2.3).
pub mod status {
    /// Success.
    pub const SUCCESS: u16 = 0x0000;
    /// Failure: the SOP Instance is already stored with other content.
    pub const DUPLICATE_SOP_INSTANCE: u16 = 0x0111;
    /// Failure: SOP class not supported.
    pub const SOP_CLASS_NOT_SUPPORTED: u16 = 0x0122;
    /// Failure: unrecognized operation.
    pub const UNRECOGNIZED_OPERATION: u16 = 0x0211;
    /// Refused: out of resources (the archive could not store it now; retry later).
    pub const OUT_OF_RESOURCES: u16 = 0xA700;
    /// Error: data set does not match SOP class.
    pub const DATA_SET_MISMATCH: u16 = 0xA900;
    /// Error: cannot understand.
    pub const CANNOT_UNDERSTAND: u16 = 0xC000;
    /// Error (depot's code in the "cannot understand" range): the instance contradicts the
    /// archive (its study is filed under another subject, its series under another study);
    /// kept apart as a conflict.
    pub const CONFLICT: u16 = 0xC001;

    /// Whether a C-STORE response status is a success (0000), a warning (0001, Bxxx, 0107,
    /// 0116) or a failure (anything else).
    pub fn kind(code: u16) -> super::StatusKind {
        match code {
            0x0000 => super::StatusKind::Success,
            0x0001 | 0x0107 | 0x0116 | 0xB000..=0xBFFF => super::StatusKind::Warning,
            _ => super::StatusKind::Failure,
        }
    }
}

/// What a response status means for the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKind {
    /// Done.
    Success,
    /// Done, with a warning (e.g. coerced data elements).
    Warning,
    /// Not done.
    Failure,
}

const AFFECTED_SOP_CLASS_UID: Tag = Tag(0x0000, 0x0002);
const COMMAND_FIELD: Tag = Tag(0x0000, 0x0100);
const MESSAGE_ID: Tag = Tag(0x0000, 0x0110);
const MESSAGE_ID_RESPONDED_TO: Tag = Tag(0x0000, 0x0120);
const PRIORITY: Tag = Tag(0x0000, 0x0700);
const COMMAND_DATA_SET_TYPE: Tag = Tag(0x0000, 0x0800);
const STATUS: Tag = Tag(0x0000, 0x0900);
const ERROR_COMMENT: Tag = Tag(0x0000, 0x0902);
const AFFECTED_SOP_INSTANCE_UID: Tag = Tag(0x0000, 0x1000);

/// Why a command set could not be read.
#[derive(Debug, thiserror::Error)]
#[error("unreadable DIMSE command: {0}")]
pub struct CommandError(String);

/// The fields of a command set depot reads or writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Command {
    /// CommandField (0000,0100).
    pub field: u16,
    /// MessageID (0000,0110), requests.
    pub message_id: Option<u16>,
    /// MessageIDBeingRespondedTo (0000,0120), responses.
    pub responding_to: Option<u16>,
    /// AffectedSOPClassUID (0000,0002).
    pub sop_class_uid: Option<String>,
    /// AffectedSOPInstanceUID (0000,1000).
    pub sop_instance_uid: Option<String>,
    /// Priority (0000,0700), requests of C-STORE.
    pub priority: Option<u16>,
    /// Whether a data set follows (CommandDataSetType other than 0101H).
    pub has_data_set: bool,
    /// Status (0000,0900), responses.
    pub status: Option<u16>,
    /// ErrorComment (0000,0902), failure responses.
    pub error_comment: Option<String>,
}

fn text_of(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    let s = obj.get(tag)?.to_str().ok()?;
    let t = s.trim_end_matches(['\0', ' ']).trim_start_matches(' ');
    (!t.is_empty()).then(|| t.to_string())
}

fn u16_of(obj: &InMemDicomObject, tag: Tag) -> Option<u16> {
    obj.get(tag)?.to_int::<u16>().ok()
}

impl Command {
    /// Reads a command set (Implicit VR Little Endian).
    pub fn parse(bytes: &[u8]) -> Result<Command, CommandError> {
        let obj =
            InMemDicomObject::read_dataset_with_ts(bytes, &IMPLICIT_VR_LITTLE_ENDIAN.erased())
                .map_err(|e| CommandError(e.to_string()))?;
        if let Some(e) = obj.iter().find(|e| e.tag().group() != 0x0000) {
            return Err(CommandError(format!(
                "element {} outside the command group",
                e.tag()
            )));
        }
        let field = u16_of(&obj, COMMAND_FIELD)
            .ok_or_else(|| CommandError("no CommandField (0000,0100)".into()))?;
        let data_set_type = u16_of(&obj, COMMAND_DATA_SET_TYPE)
            .ok_or_else(|| CommandError("no CommandDataSetType (0000,0800)".into()))?;
        Ok(Command {
            field,
            message_id: u16_of(&obj, MESSAGE_ID),
            responding_to: u16_of(&obj, MESSAGE_ID_RESPONDED_TO),
            sop_class_uid: text_of(&obj, AFFECTED_SOP_CLASS_UID),
            sop_instance_uid: text_of(&obj, AFFECTED_SOP_INSTANCE_UID),
            priority: u16_of(&obj, PRIORITY),
            has_data_set: data_set_type != NO_DATA_SET,
            status: u16_of(&obj, STATUS),
            error_comment: text_of(&obj, ERROR_COMMENT),
        })
    }

    /// A C-STORE request for one instance (medium priority, a data set follows).
    pub fn store_rq(message_id: u16, sop_class_uid: &str, sop_instance_uid: &str) -> Command {
        Command {
            field: C_STORE_RQ,
            message_id: Some(message_id),
            sop_class_uid: Some(sop_class_uid.to_string()),
            sop_instance_uid: Some(sop_instance_uid.to_string()),
            priority: Some(0),
            has_data_set: true,
            ..Command::default()
        }
    }

    /// The response to `request` (its command field with the response bit, its message ID,
    /// SOP class and instance) with `status` and, for failures, an error comment (cut to the
    /// 64 characters of an LO value, backslashes and control characters replaced).
    pub fn response_to(request: &Command, status: u16, comment: Option<&str>) -> Command {
        Command {
            field: request.field | 0x8000,
            responding_to: request.message_id,
            sop_class_uid: request.sop_class_uid.clone(),
            sop_instance_uid: request.sop_instance_uid.clone(),
            has_data_set: false,
            status: Some(status),
            error_comment: comment.map(lo_value).filter(|c| !c.is_empty()),
            ..Command::default()
        }
    }

    /// Encodes the command set, group length first.
    pub fn encode(&self) -> Vec<u8> {
        let mut elements: Vec<DataElement<InMemDicomObject>> = Vec::new();
        let mut push = |tag: Tag, vr: VR, value: PrimitiveValue| {
            elements.push(DataElement::new(tag, vr, value));
        };
        if let Some(c) = &self.sop_class_uid {
            push(AFFECTED_SOP_CLASS_UID, VR::UI, uid_value(c));
        }
        push(COMMAND_FIELD, VR::US, PrimitiveValue::from(self.field));
        if let Some(id) = self.message_id {
            push(MESSAGE_ID, VR::US, PrimitiveValue::from(id));
        }
        if let Some(id) = self.responding_to {
            push(MESSAGE_ID_RESPONDED_TO, VR::US, PrimitiveValue::from(id));
        }
        if let Some(p) = self.priority {
            push(PRIORITY, VR::US, PrimitiveValue::from(p));
        }
        let data_set_type = if self.has_data_set {
            0x0000
        } else {
            NO_DATA_SET
        };
        push(
            COMMAND_DATA_SET_TYPE,
            VR::US,
            PrimitiveValue::from(data_set_type),
        );
        if let Some(s) = self.status {
            push(STATUS, VR::US, PrimitiveValue::from(s));
        }
        if let Some(c) = &self.error_comment {
            push(ERROR_COMMENT, VR::LO, PrimitiveValue::from(even_text(c)));
        }
        if let Some(i) = &self.sop_instance_uid {
            push(AFFECTED_SOP_INSTANCE_UID, VR::UI, uid_value(i));
        }
        let body = encode_implicit(elements.clone());
        let length = u32::try_from(body.len()).unwrap_or(u32::MAX);
        let mut out = Vec::with_capacity(body.len() + 12);
        // (0000,0000) UL, implicit VR: tag, 4-byte length 4, value.
        out.extend_from_slice(&[0, 0, 0, 0, 4, 0, 0, 0]);
        out.extend_from_slice(&length.to_le_bytes());
        out.extend_from_slice(&body);
        out
    }
}

fn encode_implicit(elements: Vec<DataElement<InMemDicomObject>>) -> Vec<u8> {
    let obj = InMemDicomObject::from_element_iter(elements);
    let mut out = Vec::new();
    // Writing to memory only fails on values that cannot be encoded, which these are not.
    let _ = obj.write_dataset_with_ts(&mut out, &IMPLICIT_VR_LITTLE_ENDIAN.erased());
    out
}

/// A UID as a value padded to even length with a NUL (PS3.5 9.1).
fn uid_value(uid: &str) -> PrimitiveValue {
    let mut s = uid.to_string();
    if s.len() % 2 == 1 {
        s.push('\0');
    }
    PrimitiveValue::from(s)
}

/// Text padded to even length with a space.
fn even_text(text: &str) -> String {
    let mut s = text.to_string();
    if s.len() % 2 == 1 {
        s.push(' ');
    }
    s
}

/// Text made a valid LO value: no backslash or control characters, ASCII only, at most 64
/// characters (the full text goes to the log and the index).
pub fn lo_value(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| match c {
            '\\' => '/',
            c if c.is_ascii() && !c.is_control() => c,
            _ => '?',
        })
        .collect();
    if out.len() > 64 {
        out.truncate(61);
        out.push_str("...");
    }
    out
}

/// The start of a received instance's file: the 128-byte preamble, `DICM` and the file meta
/// information (group length, version 00\01, Media Storage SOP Class and Instance UIDs,
/// Transfer Syntax UID, depot's Implementation Class UID and Version Name). The data set, as
/// received, follows.
pub fn file_header(
    sop_class_uid: &str,
    sop_instance_uid: &str,
    transfer_syntax: &str,
) -> Result<Vec<u8>, String> {
    let meta = FileMetaTableBuilder::new()
        .media_storage_sop_class_uid(sop_class_uid)
        .media_storage_sop_instance_uid(sop_instance_uid)
        .transfer_syntax(transfer_syntax)
        .implementation_class_uid(crate::IMPLEMENTATION_CLASS_UID)
        .implementation_version_name(crate::IMPLEMENTATION_VERSION_NAME)
        .build()
        .map_err(|e| e.to_string())?;
    let mut out = vec![0u8; 128];
    out.extend_from_slice(b"DICM");
    meta.write(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_round_trip() {
        let rq = Command::store_rq(7, "1.2.840.10008.5.1.4.1.1.4", "1.2.3.45");
        let bytes = rq.encode();
        assert_eq!(&bytes[..4], &[0, 0, 0, 0]);
        let len = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
        assert_eq!(len, bytes.len() - 12, "group length counts what follows it");
        assert_eq!(Command::parse(&bytes).unwrap(), rq);
        let rsp = Command::response_to(&rq, status::CANNOT_UNDERSTAND, Some("bad\\file\n"));
        let back = Command::parse(&rsp.encode()).unwrap();
        assert_eq!(back.field, C_STORE_RSP);
        assert_eq!(back.responding_to, Some(7));
        assert_eq!(back.error_comment.as_deref(), Some("bad/file?"));
        assert!(!back.has_data_set);
        assert!(bytes.len().is_multiple_of(2));
    }

    #[test]
    fn error_comments_fit_an_lo_value() {
        let long = "x".repeat(200);
        assert_eq!(lo_value(&long).len(), 64);
        assert_eq!(lo_value("é"), "?");
        assert_eq!(status::kind(0xB007), StatusKind::Warning);
        assert_eq!(status::kind(0xA700), StatusKind::Failure);
    }

    #[test]
    fn file_headers_are_part_10() {
        let h = file_header("1.2.840.10008.5.1.4.1.1.4", "1.2.3", "1.2.840.10008.1.2.1").unwrap();
        assert!(h[..128].iter().all(|b| *b == 0));
        assert_eq!(&h[128..132], b"DICM");
        let meta = dicom_object::meta::FileMetaTable::from_reader(&h[128..]).unwrap();
        assert_eq!(meta.media_storage_sop_instance_uid(), "1.2.3");
        assert_eq!(meta.transfer_syntax(), "1.2.840.10008.1.2.1");
        assert_eq!(
            meta.implementation_class_uid.trim_end_matches('\0'),
            crate::IMPLEMENTATION_CLASS_UID
        );
    }
}
