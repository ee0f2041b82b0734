//! The Storage SCU: sends DICOM files to a peer over as few associations as possible and
//! reports each instance's status.
//!
//! Each file is sent as it is: its data set (everything after the file meta information) in
//! its own transfer syntax, on a presentation context proposed for exactly its SOP class and
//! transfer syntax, so nothing is transcoded on the way. Files are grouped by (SOP class,
//! transfer syntax); an association carries up to 128 such pairs (the most a request may
//! propose), so a selection of many classes takes several associations, one after the other.
//! A file the peer refuses (no accepted context, a failure status, a lost association) is
//! reported and the rest are sent.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dicom_ul::ClientAssociationOptions;
use dicom_ul::Pdu;
use dicom_ul::pdu::{PDataValueType, PresentationContextResultReason};

use crate::dimse::{self, Command, StatusKind};
use crate::error::NetError;
use crate::pdu;
use crate::syntax;

/// The most presentation contexts one association request may propose (odd IDs 1 to 255).
const MAX_CONTEXTS: usize = 128;

/// Where to send, and as whom.
#[derive(Debug, Clone)]
pub struct Peer {
    /// `HOST:PORT`.
    pub address: String,
    /// The peer's AE title.
    pub called_aet: String,
    /// depot's AE title.
    pub calling_aet: String,
    /// How long to wait for the peer (connection, each response).
    pub timeout: Duration,
    /// The largest PDU depot accepts from the peer.
    pub max_pdu: u32,
}

/// One instance's result.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The file's label (its path below the package).
    pub label: String,
    /// Its SOP Instance UID, when readable.
    pub sop_instance_uid: String,
    /// The peer's status, when it answered.
    pub status: Option<u16>,
    /// Why it failed (a failure status's comment, or what went wrong before an answer).
    pub error: Option<String>,
    /// Bytes of its data set.
    pub bytes: u64,
}

impl Sent {
    /// Success or warning.
    pub fn ok(&self) -> bool {
        self.error.is_none()
            && self
                .status
                .is_some_and(|s| dimse::status::kind(s) != StatusKind::Failure)
    }
}

/// Progress of a send; called from the sending thread.
pub trait SendObserver {
    /// `total` instances are about to be sent.
    fn started(&self, total: u64) {
        let _ = total;
    }
    /// One instance is done (answered or failed).
    fn sent(&self, sent: &Sent) {
        let _ = sent;
    }
}

/// What a send did.
#[derive(Debug, Clone, Default)]
pub struct SendSummary {
    /// Instances answered Success.
    pub succeeded: u64,
    /// Instances answered with a warning status.
    pub warnings: u64,
    /// Instances that failed.
    pub failed: u64,
    /// Associations used.
    pub associations: u64,
    /// Data set bytes sent.
    pub bytes: u64,
    /// Wall time.
    pub seconds: f64,
}

/// A file to send, as its meta information describes it.
#[derive(Debug, Clone)]
struct Outgoing {
    path: PathBuf,
    label: String,
    sop_class_uid: String,
    sop_instance_uid: String,
    transfer_syntax: String,
}

/// Reads the file meta information of a Part 10 file: the three UIDs and where the data set
/// starts.
fn read_meta(bytes: &[u8]) -> Result<(String, String, String, usize), String> {
    let start = if bytes.get(128..132) == Some(b"DICM") {
        132
    } else if bytes.get(..4) == Some(b"DICM") {
        4
    } else {
        return Err("not a DICOM file (no DICM marker)".into());
    };
    let (mut class, mut instance, mut ts) = (None, None, None);
    let mut pos = start;
    // Explicit VR Little Endian elements of group 0002, walked one by one.
    while let Some(h) = bytes.get(pos..pos + 8) {
        let group = u16::from_le_bytes([h[0], h[1]]);
        if group != 0x0002 {
            break;
        }
        let element = u16::from_le_bytes([h[2], h[3]]);
        let vr = [h[4], h[5]];
        let long = matches!(
            &vr,
            b"OB"
                | b"OD"
                | b"OF"
                | b"OL"
                | b"OV"
                | b"OW"
                | b"SQ"
                | b"SV"
                | b"UC"
                | b"UN"
                | b"UR"
                | b"UT"
                | b"UV"
        );
        let (len, header) = if long {
            let l = bytes
                .get(pos + 8..pos + 12)
                .ok_or("file meta information cut short")?;
            (u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize, 12)
        } else {
            (usize::from(u16::from_le_bytes([h[6], h[7]])), 8)
        };
        let value = bytes
            .get(pos + header..pos + header + len)
            .ok_or("file meta information cut short")?;
        let text = || syntax::clean_uid(&String::from_utf8_lossy(value)).to_string();
        match element {
            0x0002 => class = Some(text()),
            0x0003 => instance = Some(text()),
            0x0010 => ts = Some(text()),
            _ => {}
        }
        pos += header + len;
    }
    match (class, instance, ts) {
        (Some(c), Some(i), Some(t)) if !c.is_empty() && !i.is_empty() && !t.is_empty() => {
            Ok((c, i, t, pos))
        }
        _ => {
            Err("the file meta information lacks the SOP class, instance or transfer syntax".into())
        }
    }
}

/// Sends `files` (paths, with the labels to report them by) to `peer`.
pub fn send_files(
    peer: &Peer,
    files: &[(PathBuf, String)],
    observer: &dyn SendObserver,
) -> Result<SendSummary, NetError> {
    let started = Instant::now();
    let mut summary = SendSummary::default();
    observer.started(files.len() as u64);
    let report = |summary: &mut SendSummary, sent: Sent| {
        if sent.ok() {
            if sent
                .status
                .is_some_and(|s| dimse::status::kind(s) == StatusKind::Warning)
            {
                summary.warnings += 1;
            } else {
                summary.succeeded += 1;
            }
            summary.bytes += sent.bytes;
        } else {
            summary.failed += 1;
        }
        observer.sent(&sent);
    };
    let mut outgoing = Vec::with_capacity(files.len());
    for (path, label) in files {
        let head = read_head(path);
        match head.and_then(|b| read_meta(&b)) {
            Ok((class, instance, ts, _)) => outgoing.push(Outgoing {
                path: path.clone(),
                label: label.clone(),
                sop_class_uid: class,
                sop_instance_uid: instance,
                transfer_syntax: ts,
            }),
            Err(e) => report(
                &mut summary,
                Sent {
                    label: label.clone(),
                    sop_instance_uid: String::new(),
                    status: None,
                    error: Some(e),
                    bytes: 0,
                },
            ),
        }
    }
    // Group by (class, syntax), in order of first appearance; up to 128 pairs per association.
    let mut pairs: Vec<(String, String)> = Vec::new();
    for o in &outgoing {
        let pair = (o.sop_class_uid.clone(), o.transfer_syntax.clone());
        if !pairs.contains(&pair) {
            pairs.push(pair);
        }
    }
    for chunk in pairs.chunks(MAX_CONTEXTS) {
        let batch: Vec<&Outgoing> = outgoing
            .iter()
            .filter(|o| {
                chunk
                    .iter()
                    .any(|(c, t)| *c == o.sop_class_uid && *t == o.transfer_syntax)
            })
            .collect();
        // A lost association costs the instance in flight; the rest go on a new one.
        let mut rest: &[&Outgoing] = &batch;
        while !rest.is_empty() {
            summary.associations += 1;
            let done = send_batch(peer, chunk, rest, &mut |sent| report(&mut summary, sent))?;
            rest = rest.get(done..).unwrap_or_default();
        }
    }
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// The start of a file (enough for its meta information).
fn read_head(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut head = Vec::new();
    fs::File::open(path)
        .and_then(|f| f.take(64 * 1024).read_to_end(&mut head))
        .map_err(|e| format!("cannot read: {e}"))?;
    Ok(head)
}

/// One association: proposes `pairs`, sends `batch` until done or the association is lost.
/// Returns how many files of `batch` it reported.
fn send_batch(
    peer: &Peer,
    pairs: &[(String, String)],
    batch: &[&Outgoing],
    report: &mut dyn FnMut(Sent),
) -> Result<usize, NetError> {
    let mut options = ClientAssociationOptions::new()
        .calling_ae_title(peer.calling_aet.as_str())
        .called_ae_title(peer.called_aet.as_str())
        .max_pdu_length(peer.max_pdu)
        .read_timeout(peer.timeout)
        .write_timeout(peer.timeout)
        .connection_timeout(peer.timeout);
    for (class, ts) in pairs {
        options = options.with_presentation_context(class.as_str(), vec![ts.as_str()]);
    }
    let mut association =
        options
            .establish(peer.address.as_str())
            .map_err(|e| NetError::Associate {
                peer: format!("{} ({})", peer.address, peer.called_aet),
                reason: error_chain(&e),
            })?;
    let accepted: Vec<(u8, String, String)> = association
        .presentation_contexts()
        .iter()
        .filter(|pc| pc.reason == PresentationContextResultReason::Acceptance)
        .map(|pc| {
            (
                pc.id,
                syntax::clean_uid(&pc.abstract_syntax).to_string(),
                syntax::clean_uid(&pc.transfer_syntax).to_string(),
            )
        })
        .collect();
    let peer_max = association.acceptor_max_pdu_length();
    let mut message_id: u16 = 0;
    let mut lost: Option<String> = None;
    let mut done = 0;
    for o in batch {
        if lost.is_some() {
            break;
        }
        done += 1;
        let fail = |error: String| Sent {
            label: o.label.clone(),
            sop_instance_uid: o.sop_instance_uid.clone(),
            status: None,
            error: Some(error),
            bytes: 0,
        };
        let Some((context, _, _)) = accepted
            .iter()
            .find(|(_, c, t)| *c == o.sop_class_uid && *t == o.transfer_syntax)
        else {
            report(fail(format!(
                "the peer accepts no presentation context for {} in {}",
                syntax::sop_class_name(&o.sop_class_uid),
                syntax::transfer_syntax_name(&o.transfer_syntax)
            )));
            continue;
        };
        let bytes = match fs::read(&o.path) {
            Ok(b) => b,
            Err(e) => {
                report(fail(format!("cannot read: {e}")));
                continue;
            }
        };
        let data_start = match read_meta(&bytes) {
            Ok((_, _, _, start)) => start,
            Err(e) => {
                report(fail(e));
                continue;
            }
        };
        let mut data = bytes.get(data_start..).unwrap_or_default();
        // A PDV fragment has an even length; only a deflated data set can be odd, and a
        // trailing zero byte after the end of the deflate stream is ignored by readers (DCMTK
        // pads a deflated data set to even length the same way).
        let padded;
        if data.len() % 2 == 1 {
            padded = [data, &[0u8]].concat();
            data = &padded;
        }
        message_id = message_id.wrapping_add(1).max(1);
        let command = Command::store_rq(message_id, &o.sop_class_uid, &o.sop_instance_uid);
        let stream = association.inner_stream();
        let written = pdu::send_pdata(
            stream,
            *context,
            PDataValueType::Command,
            &command.encode(),
            peer_max,
        )
        .and_then(|()| pdu::send_pdata(stream, *context, PDataValueType::Data, data, peer_max));
        if let Err(e) = written {
            let why = format!("the association was lost: {e}");
            report(fail(why.clone()));
            lost = Some(why);
            continue;
        }
        match read_response(&mut association) {
            Ok(rsp) => {
                let status = rsp.status.unwrap_or(dimse::status::CANNOT_UNDERSTAND);
                let error = (dimse::status::kind(status) == StatusKind::Failure).then(|| {
                    format!(
                        "status {status:04X}H{}",
                        rsp.error_comment
                            .as_deref()
                            .map(|c| format!(": {c}"))
                            .unwrap_or_default()
                    )
                });
                report(Sent {
                    label: o.label.clone(),
                    sop_instance_uid: o.sop_instance_uid.clone(),
                    status: Some(status),
                    error,
                    bytes: data.len() as u64,
                });
            }
            Err(why) => {
                report(fail(why.clone()));
                lost = Some(why);
            }
        }
    }
    if lost.is_none() {
        let _ = association.release();
    }
    Ok(done)
}

/// Reads one response command.
fn read_response(
    association: &mut dicom_ul::ClientAssociation<std::net::TcpStream>,
) -> Result<Command, String> {
    let mut command = Vec::new();
    loop {
        match association.receive() {
            Ok(Pdu::PData { data }) => {
                for pdv in data {
                    if pdv.value_type != PDataValueType::Command {
                        return Err("the peer sent a data set where a response was due".into());
                    }
                    command.extend_from_slice(&pdv.data);
                    if pdv.is_last {
                        return Command::parse(&command).map_err(|e| e.to_string());
                    }
                }
            }
            Ok(Pdu::AbortRQ { .. }) => return Err("the peer aborted the association".into()),
            Ok(other) => return Err(format!("unexpected answer from the peer: {other:?}")),
            Err(e) => return Err(format!("no answer from the peer: {}", error_chain(&e))),
        }
    }
}

fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let s = e.to_string();
        if !text.ends_with(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        cur = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_information_is_read_element_by_element() {
        let mut file =
            dimse::file_header("1.2.840.10008.5.1.4.1.1.4", "1.2.3.4", "1.2.840.10008.1.2")
                .unwrap();
        let header = file.len();
        file.extend_from_slice(&[8, 0, 0x18, 0, 6, 0, 0, 0]);
        let (class, instance, ts, start) = read_meta(&file).unwrap();
        assert_eq!(
            (class.as_str(), instance.as_str(), ts.as_str()),
            ("1.2.840.10008.5.1.4.1.1.4", "1.2.3.4", "1.2.840.10008.1.2")
        );
        assert_eq!(start, header);
        assert!(read_meta(b"nothing").is_err());
        assert!(read_meta(&file[..140]).is_err());
    }
}
