//! One association of the Storage SCP, from its request to its end (PS3.8 chapter 9):
//! negotiation, P-DATA assembly into DIMSE messages, responses, release and abort.
//!
//! Negotiation is done here rather than by dicom-ul's acceptor so that the rules are exactly
//! depot's: the called AE title must be the server's (unless any is accepted), the calling AE
//! title must have a route (with a configuration), and each presentation context is accepted
//! when its abstract syntax is Verification or a storage SOP class and one of its transfer
//! syntaxes is one the archive reads (the first in the requestor's order of preference).
//! Anything else is rejected context by context; the association goes on with the others.

use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use archive::Intake;
use dicom_ul::Pdu;
use dicom_ul::pdu::{
    AbortRQServiceProviderReason, AbortRQSource, AssociationAC, AssociationRJ, AssociationRJResult,
    AssociationRJServiceProviderASCEReason, AssociationRJServiceProviderPresentationReason,
    AssociationRJServiceUserReason, AssociationRJSource, AssociationRQ, PDataValue, PDataValueType,
    PresentationContextResult, PresentationContextResultReason, UserVariableItem,
};

use crate::config::Route;
use crate::dimse::{self, Command, status};
use crate::pdu::{self, PduError, PduReader, is_timeout};
use crate::receive::{self, Instance};
use crate::served::{AssociationReport, Ending, InstanceFailure, Shared};
use crate::syntax;

/// The DICOM application context name.
const APPLICATION_CONTEXT: &str = "1.2.840.10008.3.1.1.1";

/// How long a new connection may take to send its association request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How often a waiting association looks at the shutdown flag.
const POLL: Duration = Duration::from_millis(500);

/// While the server stops, an association silent for this long between messages is aborted
/// (a sender that keeps an association open and idle would otherwise hold the stop until the
/// idle timeout); one that is still sending finishes.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// An accepted presentation context.
#[derive(Debug, Clone)]
struct Context {
    abstract_syntax: String,
    transfer_syntax: String,
}

/// The association after negotiation.
struct Association<'s, 'a> {
    shared: &'s Shared<'a>,
    stream: TcpStream,
    reader: PduReader,
    contexts: HashMap<u8, Context>,
    peer_max: u32,
    route: Route,
    intake: Arc<Intake>,
    source: String,
    report: AssociationReport,
}

/// Serves one connection until its association ends; returns what happened.
pub(crate) fn serve(shared: &Shared<'_>, stream: TcpStream, peer: SocketAddr) -> AssociationReport {
    let started = Instant::now();
    let mut report = AssociationReport {
        calling: String::new(),
        called: String::new(),
        peer: peer.to_string(),
        project: None,
        instances: 0,
        stored: 0,
        duplicates: 0,
        failed: 0,
        echoes: 0,
        bytes: 0,
        seconds: 0.0,
        ending: Ending::Vanished("no association request".into()),
    };
    let ending = match accept(shared, stream, peer, &mut report) {
        Ok(mut association) => {
            let ending = association.serve();
            report = association.report;
            ending
        }
        Err(ending) => ending,
    };
    report.ending = ending;
    report.seconds = started.elapsed().as_secs_f64();
    report
}

/// Reads the association request and answers it. On success the association is open.
fn accept<'s, 'a>(
    shared: &'s Shared<'a>,
    mut stream: TcpStream,
    peer: SocketAddr,
    report: &mut AssociationReport,
) -> Result<Association<'s, 'a>, Ending> {
    let settings = shared.settings;
    let _ = stream.set_nodelay(true);
    // Some systems let an accepted socket inherit the listener's non-blocking mode.
    if stream.set_nonblocking(false).is_err() || stream.set_read_timeout(Some(POLL)).is_err() {
        return Err(Ending::Vanished("cannot configure the socket".into()));
    }
    let _ = stream.set_write_timeout(Some(settings.idle_timeout));
    let mut reader = PduReader::new(settings.max_pdu);
    let waited = Instant::now();
    let first = loop {
        match reader.read(&mut stream) {
            Ok(pdu) => break pdu,
            Err(PduError::Io(e)) if is_timeout(&e) => {
                if waited.elapsed() > REQUEST_TIMEOUT || shared.stop.load(Ordering::SeqCst) {
                    return Err(Ending::Vanished("no association request in time".into()));
                }
            }
            Err(e) => return Err(Ending::Vanished(e.to_string())),
        }
    };
    let rq = match first {
        Pdu::AssociationRQ(rq) => rq,
        other => {
            abort(&mut stream, AbortRQServiceProviderReason::UnexpectedPdu);
            return Err(Ending::Aborted(format!(
                "expected an association request, got {}",
                pdu_name(&other)
            )));
        }
    };
    report.calling = rq.calling_ae_title.trim_matches(' ').to_string();
    report.called = rq.called_ae_title.trim_matches(' ').to_string();
    let reject =
        |stream: &mut TcpStream, source: AssociationRJSource, transient: bool, why: String| {
            let rj = AssociationRJ {
                result: if transient {
                    AssociationRJResult::Transient
                } else {
                    AssociationRJResult::Permanent
                },
                source,
            };
            let _ = pdu::write(stream, &Pdu::AssociationRJ(rj));
            Err(Ending::Rejected(why))
        };
    if rq.protocol_version & 1 == 0 {
        return reject(
            &mut stream,
            AssociationRJSource::ServiceProviderASCE(
                AssociationRJServiceProviderASCEReason::ProtocolVersionNotSupported,
            ),
            false,
            format!(
                "protocol version {:#06x} not supported",
                rq.protocol_version
            ),
        );
    }
    if syntax::clean_uid(&rq.application_context_name) != APPLICATION_CONTEXT {
        return reject(
            &mut stream,
            AssociationRJSource::ServiceUser(
                AssociationRJServiceUserReason::ApplicationContextNameNotSupported,
            ),
            false,
            format!(
                "application context {} not supported",
                archive::escape_text(&rq.application_context_name)
            ),
        );
    }
    if !settings.any_called_aet && report.called != settings.aet {
        return reject(
            &mut stream,
            AssociationRJSource::ServiceUser(
                AssociationRJServiceUserReason::CalledAETitleNotRecognized,
            ),
            false,
            format!(
                "called AE title {:?} is not this server's ({:?})",
                archive::escape_text(&report.called),
                settings.aet
            ),
        );
    }
    let Some(route) = settings.access.route(&report.calling).cloned() else {
        return reject(
            &mut stream,
            AssociationRJSource::ServiceUser(
                AssociationRJServiceUserReason::CallingAETitleNotRecognized,
            ),
            false,
            format!(
                "calling AE title {:?} may not store here",
                archive::escape_text(&report.calling)
            ),
        );
    };
    if shared.active.load(Ordering::SeqCst) > settings.max_associations {
        return reject(
            &mut stream,
            AssociationRJSource::ServiceProviderPresentation(
                AssociationRJServiceProviderPresentationReason::LocalLimitExceeded,
            ),
            true,
            format!(
                "more than {} associations at once",
                settings.max_associations
            ),
        );
    }
    let intake = match shared.intake(&route) {
        Ok(i) => i,
        Err(e) => {
            shared.observer.error(&format!(
                "cannot open the archive for project {:?}: {}",
                route.project,
                error_chain(&e)
            ));
            return reject(
                &mut stream,
                AssociationRJSource::ServiceUser(AssociationRJServiceUserReason::NoReasonGiven),
                true,
                "the archive cannot receive now".into(),
            );
        }
    };
    report.project = Some(route.project.clone());
    let (contexts, results) = negotiate(shared, &rq);
    let ac = AssociationAC {
        protocol_version: 1,
        calling_ae_title: rq.calling_ae_title.clone(),
        called_ae_title: rq.called_ae_title.clone(),
        application_context_name: APPLICATION_CONTEXT.to_string(),
        presentation_contexts: results,
        user_variables: vec![
            UserVariableItem::MaxLength(settings.max_pdu),
            UserVariableItem::ImplementationClassUID(crate::IMPLEMENTATION_CLASS_UID.into()),
            UserVariableItem::ImplementationVersionName(crate::IMPLEMENTATION_VERSION_NAME.into()),
        ],
    };
    if let Err(e) = pdu::write(&mut stream, &Pdu::AssociationAC(ac)) {
        return Err(Ending::Vanished(e.to_string()));
    }
    let peer_max = rq
        .user_variables
        .iter()
        .find_map(|v| match v {
            UserVariableItem::MaxLength(n) => Some(*n),
            _ => None,
        })
        .unwrap_or(0);
    let source = format!("{} @ {peer}", archive::escape_text(&report.calling));
    Ok(Association {
        shared,
        stream,
        reader,
        contexts,
        peer_max,
        route,
        intake,
        source,
        report: report.clone(),
    })
}

/// Decides each proposed presentation context.
fn negotiate(
    shared: &Shared<'_>,
    rq: &AssociationRQ,
) -> (HashMap<u8, Context>, Vec<PresentationContextResult>) {
    let mut accepted = HashMap::new();
    let mut results = Vec::new();
    for pc in &rq.presentation_contexts {
        let abstract_syntax = syntax::clean_uid(&pc.abstract_syntax).to_string();
        let (reason, ts) = if !shared.accepts_abstract_syntax(&abstract_syntax) {
            (
                PresentationContextResultReason::AbstractSyntaxNotSupported,
                None,
            )
        } else {
            match pc
                .transfer_syntaxes
                .iter()
                .map(|t| syntax::clean_uid(t))
                .find(|t| syntax::is_accepted_transfer_syntax(t))
            {
                Some(t) => (
                    PresentationContextResultReason::Acceptance,
                    Some(t.to_string()),
                ),
                None => (
                    PresentationContextResultReason::TransferSyntaxesNotSupported,
                    None,
                ),
            }
        };
        if let Some(ts) = &ts {
            accepted.insert(
                pc.id,
                Context {
                    abstract_syntax,
                    transfer_syntax: ts.clone(),
                },
            );
        }
        results.push(PresentationContextResult {
            id: pc.id,
            reason,
            transfer_syntax: ts.unwrap_or_else(|| "1.2.840.10008.1.2".to_string()),
        });
    }
    (accepted, results)
}

/// Sends an A-ABORT (best effort).
fn abort(stream: &mut TcpStream, reason: AbortRQServiceProviderReason) {
    let _ = pdu::write(
        stream,
        &Pdu::AbortRQ {
            source: AbortRQSource::ServiceProvider(reason),
        },
    );
    let _ = stream.flush();
}

fn pdu_name(pdu: &Pdu) -> &'static str {
    match pdu {
        Pdu::Unknown { .. } => "an unknown PDU",
        Pdu::AssociationRQ(_) => "A-ASSOCIATE-RQ",
        Pdu::AssociationAC(_) => "A-ASSOCIATE-AC",
        Pdu::AssociationRJ(_) => "A-ASSOCIATE-RJ",
        Pdu::PData { .. } => "P-DATA-TF",
        Pdu::ReleaseRQ => "A-RELEASE-RQ",
        Pdu::ReleaseRP => "A-RELEASE-RP",
        Pdu::AbortRQ { .. } => "A-ABORT",
    }
}

fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cur = e.source();
    }
    text
}

/// A DIMSE message being received.
enum Message {
    /// Between messages.
    Idle,
    /// Command fragments so far.
    Command { context: u8, bytes: Vec<u8> },
    /// The data set of a command.
    Data {
        context: u8,
        command: Command,
        instance: Instance,
    },
}

impl Association<'_, '_> {
    /// Serves messages until the association ends.
    fn serve(&mut self) -> Ending {
        let mut message = Message::Idle;
        let mut last_heard = Instant::now();
        loop {
            let pdu = match self.reader.read(&mut self.stream) {
                Ok(pdu) => pdu,
                Err(PduError::Io(e)) if is_timeout(&e) => {
                    let idle = matches!(message, Message::Idle) && !self.reader.inside_pdu();
                    if idle
                        && self.shared.stop.load(Ordering::SeqCst)
                        && last_heard.elapsed() > STOP_GRACE
                    {
                        abort(
                            &mut self.stream,
                            AbortRQServiceProviderReason::ReasonNotSpecified,
                        );
                        return Ending::Aborted("the server is stopping".into());
                    }
                    if last_heard.elapsed() > self.shared.settings.idle_timeout {
                        abort(
                            &mut self.stream,
                            AbortRQServiceProviderReason::ReasonNotSpecified,
                        );
                        return Ending::TimedOut;
                    }
                    continue;
                }
                Err(e @ (PduError::TooLong { .. } | PduError::Invalid(_))) => {
                    abort(
                        &mut self.stream,
                        AbortRQServiceProviderReason::UnrecognizedPduParameter,
                    );
                    return Ending::Aborted(e.to_string());
                }
                Err(e) => return Ending::Vanished(e.to_string()),
            };
            last_heard = Instant::now();
            match pdu {
                Pdu::PData { data } => {
                    for pdv in data {
                        match self.fragment(message, pdv) {
                            Ok(next) => message = next,
                            Err(why) => {
                                abort(
                                    &mut self.stream,
                                    AbortRQServiceProviderReason::UnexpectedPduParameter,
                                );
                                return Ending::Aborted(why);
                            }
                        }
                    }
                }
                Pdu::ReleaseRQ => {
                    // A message cut off by the release is dropped with `message`.
                    let _ = pdu::write(&mut self.stream, &Pdu::ReleaseRP);
                    return Ending::Released;
                }
                Pdu::AbortRQ { .. } => return Ending::AbortedByPeer,
                other => {
                    abort(
                        &mut self.stream,
                        AbortRQServiceProviderReason::UnexpectedPdu,
                    );
                    return Ending::Aborted(format!("unexpected {}", pdu_name(&other)));
                }
            }
        }
    }

    /// Takes one PDV; returns the next state, or why the association must be aborted.
    fn fragment(&mut self, message: Message, pdv: PDataValue) -> Result<Message, String> {
        let id = pdv.presentation_context_id;
        if !self.contexts.contains_key(&id) {
            return Err(format!(
                "data on presentation context {id}, which was not accepted"
            ));
        }
        match (message, pdv.value_type) {
            (Message::Idle, PDataValueType::Command) => {
                self.command_fragment(id, Vec::new(), pdv.data, pdv.is_last)
            }
            (Message::Command { context, bytes }, PDataValueType::Command) if context == id => {
                self.command_fragment(id, bytes, pdv.data, pdv.is_last)
            }
            (
                Message::Data {
                    context,
                    command,
                    mut instance,
                },
                PDataValueType::Data,
            ) if context == id => {
                instance.append(&pdv.data);
                if pdv.is_last {
                    self.complete(context, &command, instance)?;
                    Ok(Message::Idle)
                } else {
                    Ok(Message::Data {
                        context,
                        command,
                        instance,
                    })
                }
            }
            (_, kind) => Err(format!(
                "unexpected {} fragment on presentation context {id}",
                if kind == PDataValueType::Command {
                    "command"
                } else {
                    "data set"
                }
            )),
        }
    }

    fn command_fragment(
        &mut self,
        context: u8,
        mut bytes: Vec<u8>,
        data: Vec<u8>,
        is_last: bool,
    ) -> Result<Message, String> {
        if bytes.len() + data.len() > 1 << 20 {
            return Err("a command set of more than 1 MiB".into());
        }
        bytes.extend_from_slice(&data);
        if !is_last {
            return Ok(Message::Command { context, bytes });
        }
        let command = Command::parse(&bytes).map_err(|e| e.to_string())?;
        if command.field & 0x8000 != 0 {
            return Err(format!(
                "a response ({:#06x}) sent to the receiver",
                command.field
            ));
        }
        if command.has_data_set {
            let ctx = &self.contexts[&context];
            let instance =
                Instance::start(&command, &ctx.transfer_syntax, Arc::clone(&self.intake));
            return Ok(Message::Data {
                context,
                command,
                instance,
            });
        }
        let status = match command.field {
            dimse::C_ECHO_RQ => {
                self.report.echoes += 1;
                status::SUCCESS
            }
            dimse::C_STORE_RQ => status::CANNOT_UNDERSTAND,
            _ => status::UNRECOGNIZED_OPERATION,
        };
        self.respond(context, &command, status, None)?;
        Ok(Message::Idle)
    }

    /// Files a complete instance (or answers a command it does not serve) and responds.
    fn complete(
        &mut self,
        context: u8,
        command: &Command,
        instance: Instance,
    ) -> Result<(), String> {
        self.report.bytes += instance.data_len();
        if command.field != dimse::C_STORE_RQ {
            drop(instance);
            return self.respond(context, command, status::UNRECOGNIZED_OPERATION, None);
        }
        self.report.instances += 1;
        let ctx = self.contexts[&context].clone();
        let answer = receive::file(
            &self.intake,
            &self.route,
            &self.source,
            command,
            &ctx.abstract_syntax,
            instance,
        );
        for w in &answer.warnings {
            self.shared.observer.warning(&self.source, w);
        }
        match &answer.outcome {
            Some(archive::Outcome::Imported { .. }) => self.report.stored += 1,
            Some(archive::Outcome::Duplicate) => self.report.duplicates += 1,
            _ => {}
        }
        if dimse::status::kind(answer.status) == dimse::StatusKind::Failure {
            self.report.failed += 1;
            if let Some(reason) = &answer.reason {
                if answer.server_error {
                    self.shared.observer.error(reason);
                }
                self.shared.observer.instance_failed(&InstanceFailure {
                    source: self.source.clone(),
                    sop_instance_uid: command.sop_instance_uid.clone().unwrap_or_default(),
                    status: answer.status,
                    reason: reason.clone(),
                });
            }
        }
        self.respond(context, command, answer.status, answer.reason.as_deref())
    }

    fn respond(
        &mut self,
        context: u8,
        request: &Command,
        status: u16,
        comment: Option<&str>,
    ) -> Result<(), String> {
        let comment = comment.filter(|_| dimse::status::kind(status) != dimse::StatusKind::Success);
        let rsp = Command::response_to(request, status, comment);
        pdu::send_pdata(
            &mut self.stream,
            context,
            PDataValueType::Command,
            &rsp.encode(),
            self.peer_max,
        )
        .map_err(|e| format!("cannot send the response: {e}"))
    }
}
