//! One received instance: its bytes as they arrive, then its filing and the C-STORE status.
//!
//! The file is built while the data set arrives: the file meta information first (from the
//! request's UIDs and the presentation context's transfer syntax, see
//! [`dimse::file_header`]), then the data set bytes exactly as received. It is held in memory up
//! to the archive's in-memory limit and spooled to the archive's temporary folder beyond it.
//! Only a complete instance is ever submitted; one cut off (abort, lost connection, release in
//! the middle) is dropped with its spool.

use std::io::Write;
use std::sync::Arc;

use archive::{Expected, Intake, IntakeError, Outcome, Spool};

use crate::config::Route;
use crate::dimse::{self, Command, status};
use crate::syntax;

/// The largest instance accepted; beyond it the data is discarded and the request fails.
pub const MAX_INSTANCE: u64 = 16 * 1024 * 1024 * 1024;

/// Where a received instance's bytes go.
enum Sink {
    Memory(Vec<u8>),
    Spooled(Spool),
    /// Not kept (no usable UIDs, too big, or the spool failed): the request fails.
    Discarded(String),
}

/// An instance being received.
pub(crate) struct Instance {
    intake: Arc<Intake>,
    sink: Sink,
    data: u64,
}

impl Instance {
    /// Starts a file for the data set of `command` in `transfer_syntax`.
    pub(crate) fn start(command: &Command, transfer_syntax: &str, intake: Arc<Intake>) -> Self {
        let sink = match (&command.sop_class_uid, &command.sop_instance_uid) {
            (Some(class), Some(instance)) => {
                match dimse::file_header(class, instance, transfer_syntax) {
                    Ok(h) => Sink::Memory(h),
                    Err(e) => {
                        Sink::Discarded(format!("cannot write the file meta information: {e}"))
                    }
                }
            }
            _ => Sink::Discarded(
                "the request has no Affected SOP Class UID or Affected SOP Instance UID".into(),
            ),
        };
        Instance {
            intake,
            sink,
            data: 0,
        }
    }

    /// Data set bytes received so far.
    pub(crate) fn data_len(&self) -> u64 {
        self.data
    }

    /// Appends a fragment of the data set.
    pub(crate) fn append(&mut self, bytes: &[u8]) {
        self.data += bytes.len() as u64;
        if self.data > MAX_INSTANCE {
            self.sink = Sink::Discarded(format!(
                "the data set is larger than the {MAX_INSTANCE} bytes accepted"
            ));
        }
        let spill = match &mut self.sink {
            Sink::Memory(buf) => {
                buf.extend_from_slice(bytes);
                buf.len() as u64 > archive::import::IN_MEMORY_LIMIT
            }
            Sink::Spooled(spool) => {
                if let Err(e) = spool.write_all(bytes) {
                    self.sink = Sink::Discarded(format!("cannot spool the data set: {e}"));
                }
                false
            }
            Sink::Discarded(_) => false,
        };
        if spill {
            let Sink::Memory(buf) = std::mem::replace(&mut self.sink, Sink::Memory(Vec::new()))
            else {
                return;
            };
            self.sink = match self.intake.spool() {
                Ok(mut spool) => match spool.write_all(&buf) {
                    Ok(()) => Sink::Spooled(spool),
                    Err(e) => Sink::Discarded(format!("cannot spool the data set: {e}")),
                },
                Err(e) => Sink::Discarded(e.to_string()),
            };
        }
    }
}

/// How a C-STORE is answered.
pub(crate) struct Answer {
    pub(crate) status: u16,
    /// Why it failed (the full text; the error comment is cut to 64 characters).
    pub(crate) reason: Option<String>,
    /// The archive's outcome, when the instance reached it.
    pub(crate) outcome: Option<Outcome>,
    /// Things to log.
    pub(crate) warnings: Vec<String>,
    /// The failure is the server's (the archive could not write), not the instance's.
    pub(crate) server_error: bool,
}

impl Answer {
    fn failure(status: u16, reason: String) -> Answer {
        Answer {
            status,
            reason: Some(reason),
            outcome: None,
            warnings: Vec::new(),
            server_error: false,
        }
    }
}

/// Files a complete instance received on a context for `abstract_syntax`.
pub(crate) fn file(
    intake: &Intake,
    route: &Route,
    source: &str,
    command: &Command,
    abstract_syntax: &str,
    instance: Instance,
) -> Answer {
    let (Some(class), Some(sop)) = (&command.sop_class_uid, &command.sop_instance_uid) else {
        return Answer::failure(
            status::CANNOT_UNDERSTAND,
            "the request has no Affected SOP Class UID or Affected SOP Instance UID".into(),
        );
    };
    if syntax::clean_uid(class) != abstract_syntax {
        return Answer::failure(
            status::SOP_CLASS_NOT_SUPPORTED,
            format!(
                "sent as {} on a presentation context for {}",
                syntax::sop_class_name(class),
                syntax::sop_class_name(abstract_syntax)
            ),
        );
    }
    let expected = Expected {
        sop_class_uid: syntax::clean_uid(class).to_string(),
        sop_instance_uid: syntax::clean_uid(sop).to_string(),
    };
    let mut warnings = Vec::new();
    let filed = match (instance.sink, &route.deid) {
        (Sink::Discarded(reason), _) => {
            return Answer::failure(status::OUT_OF_RESOURCES, reason);
        }
        (Sink::Memory(bytes), None) => intake.submit(source, &bytes, Some(&expected)),
        (Sink::Spooled(spool), None) => intake.submit_spooled(source, spool, Some(&expected)),
        (sink, Some(deid)) => {
            let bytes = match sink {
                Sink::Memory(b) => b,
                Sink::Spooled(spool) => match std::fs::read(spool.path()) {
                    Ok(b) => b,
                    Err(e) => {
                        return Answer::failure(
                            status::OUT_OF_RESOURCES,
                            format!("cannot read the spooled data set: {e}"),
                        );
                    }
                },
                Sink::Discarded(_) => Vec::new(),
            };
            match deid.apply(&bytes) {
                Ok(c) => {
                    let mismatch = if c.original_sop_instance_uid.as_deref()
                        != Some(&expected.sop_instance_uid)
                    {
                        Some(format!(
                            "the data set's SOPInstanceUID {} is not the one it was sent as ({})",
                            c.original_sop_instance_uid.as_deref().unwrap_or("(none)"),
                            expected.sop_instance_uid
                        ))
                    } else if c
                        .original_sop_class_uid
                        .as_deref()
                        .is_some_and(|k| k != expected.sop_class_uid)
                    {
                        Some(format!(
                            "the data set's SOPClassUID {} is not the one it was sent as ({})",
                            c.original_sop_class_uid.as_deref().unwrap_or_default(),
                            expected.sop_class_uid
                        ))
                    } else {
                        None
                    };
                    match mismatch {
                        Some(reason) => intake.refuse(source, &reason, &bytes),
                        None => {
                            warnings = c.warnings;
                            intake.submit(source, &c.bytes, None)
                        }
                    }
                }
                Err(e) => intake.refuse(source, &e.to_string(), &bytes),
            }
        }
    };
    match filed {
        Ok(done) => {
            let (status, reason) = match &done.outcome {
                Outcome::Imported { .. } | Outcome::Duplicate => (status::SUCCESS, None),
                Outcome::Conflict { reason } => (
                    if reason.contains("SOPInstanceUID") {
                        status::DUPLICATE_SOP_INSTANCE
                    } else {
                        status::CONFLICT
                    },
                    Some(reason.clone()),
                ),
                Outcome::Rejected { reason } => (
                    if reason.contains("SOPClassUID") {
                        status::DATA_SET_MISMATCH
                    } else {
                        status::CANNOT_UNDERSTAND
                    },
                    Some(reason.clone()),
                ),
                Outcome::Skipped { reason } => (status::CANNOT_UNDERSTAND, Some(reason.clone())),
            };
            Answer {
                status,
                reason,
                outcome: Some(done.outcome),
                warnings,
                server_error: false,
            }
        }
        Err(e) => {
            let reason = match &e {
                IntakeError::Closed => "the archive is not receiving (shutting down)".to_string(),
                other => other.to_string(),
            };
            Answer {
                server_error: true,
                ..Answer::failure(status::OUT_OF_RESOURCES, reason)
            }
        }
    }
}
