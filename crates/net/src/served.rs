//! What the association threads of the Storage SCP share (the settings, the stop flag, the
//! observer, one intake per project and de-identification) and what they report: how each
//! association ended, and each instance answered with a failure status.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use archive::{Archive, ImportObserver, Intake, IntakeOptions};

use crate::config::{Access, Route};
use crate::syntax;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// The AE title depot answers to.
    pub aet: String,
    /// Accept associations whatever AE title they call.
    pub any_called_aet: bool,
    /// Who may store, and where.
    pub access: Access,
    /// Storage SOP classes accepted beyond the standard's.
    pub extra_sop_classes: Vec<String>,
    /// The largest P-DATA PDU accepted (negotiated as this side's maximum length).
    pub max_pdu: u32,
    /// An association silent for this long is aborted.
    pub idle_timeout: Duration,
    /// Associations served at once; more are rejected (transient, local limit exceeded).
    pub max_associations: usize,
    /// Make every instance durable before answering Success (the default); off only to
    /// measure what durability costs.
    pub durable: bool,
}

impl ServeSettings {
    /// Settings for an AE title and access rules, with the defaults for the rest.
    pub fn new(aet: impl Into<String>, access: Access) -> ServeSettings {
        ServeSettings {
            aet: aet.into(),
            any_called_aet: false,
            access,
            extra_sop_classes: Vec::new(),
            max_pdu: 1 << 20,
            idle_timeout: Duration::from_secs(120),
            max_associations: 64,
            durable: true,
        }
    }
}

/// How an association ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Rejected at negotiation (reason).
    Rejected(String),
    /// Released by the peer.
    Released,
    /// Aborted by the peer.
    AbortedByPeer,
    /// The connection ended without a release (reason).
    Vanished(String),
    /// Silent for longer than the idle timeout.
    TimedOut,
    /// Aborted by depot (reason): a protocol error, or a shutdown.
    Aborted(String),
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ending::Rejected(r) => write!(f, "rejected: {r}"),
            Ending::Released => f.write_str("released"),
            Ending::AbortedByPeer => f.write_str("aborted by the peer"),
            Ending::Vanished(r) => write!(f, "connection lost: {r}"),
            Ending::TimedOut => f.write_str("idle timeout, aborted"),
            Ending::Aborted(r) => write!(f, "aborted: {r}"),
        }
    }
}

/// One association, as logged when it ends.
#[derive(Debug, Clone)]
pub struct AssociationReport {
    /// Calling AE title (empty when the request never came).
    pub calling: String,
    /// Called AE title.
    pub called: String,
    /// The peer's address.
    pub peer: String,
    /// The project its instances went to.
    pub project: Option<String>,
    /// C-STORE requests answered.
    pub instances: u64,
    /// Instances newly stored.
    pub stored: u64,
    /// Instances already archived (answered Success).
    pub duplicates: u64,
    /// Instances answered with a failure status.
    pub failed: u64,
    /// C-ECHO requests answered.
    pub echoes: u64,
    /// Data set bytes received.
    pub bytes: u64,
    /// Duration.
    pub seconds: f64,
    /// How it ended.
    pub ending: Ending,
}

/// One instance answered with a failure status.
#[derive(Debug, Clone)]
pub struct InstanceFailure {
    /// `CALLING @ address`.
    pub source: String,
    /// Its Affected SOP Instance UID.
    pub sop_instance_uid: String,
    /// The status sent.
    pub status: u16,
    /// Why.
    pub reason: String,
}

/// Receives what the server does; called from the association threads.
pub trait ServeObserver: Send + Sync {
    /// The server listens.
    fn listening(&self, addr: SocketAddr) {
        let _ = addr;
    }
    /// An association ended (including rejected ones).
    fn association_ended(&self, report: &AssociationReport) {
        let _ = report;
    }
    /// An instance was answered with a failure status.
    fn instance_failed(&self, failure: &InstanceFailure) {
        let _ = failure;
    }
    /// Something a human should know (a renumbered series, an advisory audit finding).
    fn warning(&self, source: &str, message: &str) {
        let _ = (source, message);
    }
    /// Something went wrong with the server itself (the archive refused writes, the listening
    /// socket hiccupped); serving goes on.
    fn error(&self, message: &str) {
        let _ = message;
    }
}

/// An intake's key: project and de-identification label.
type IntakeKey = (String, Option<String>);

/// What the association threads share.
pub(crate) struct Shared<'a> {
    pub(crate) archive: &'a Archive,
    pub(crate) settings: &'a ServeSettings,
    pub(crate) stop: &'a AtomicBool,
    pub(crate) observer: Arc<dyn ServeObserver>,
    /// One intake per project and de-identification, opened on first use.
    pub(crate) intakes: Mutex<HashMap<IntakeKey, Arc<Intake>>>,
    /// Associations being served (for the limit).
    pub(crate) active: AtomicUsize,
    pub(crate) origin: String,
}

/// Forwards the intake's warnings to the server's observer.
struct Warnings(Arc<dyn ServeObserver>);

impl ImportObserver for Warnings {
    fn warning(&self, source: &str, message: &str) {
        self.0.warning(source, message);
    }
}

impl Shared<'_> {
    /// The intake of a route, opened on first use.
    pub(crate) fn intake(&self, route: &Route) -> Result<Arc<Intake>, archive::ImportError> {
        let label = route.deid.as_ref().map(|d| d.label().to_string());
        let mut map = self.intakes.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (route.project.clone(), label.clone());
        if let Some(i) = map.get(&key) {
            return Ok(Arc::clone(i));
        }
        let mut opts = IntakeOptions::new(route.project.clone(), self.origin.clone());
        opts.deidentified = label;
        opts.durable = self.settings.durable;
        let intake = Arc::new(
            self.archive
                .intake(&opts, Arc::new(Warnings(Arc::clone(&self.observer))))?,
        );
        map.insert(key, Arc::clone(&intake));
        Ok(intake)
    }

    /// Whether an abstract syntax is served: Verification, a storage SOP class of the
    /// standard, or one the configuration adds.
    pub(crate) fn accepts_abstract_syntax(&self, uid: &str) -> bool {
        let uid = syntax::clean_uid(uid);
        uid == syntax::VERIFICATION
            || syntax::is_storage_sop_class(uid)
            || self.settings.extra_sop_classes.iter().any(|c| c == uid)
    }
}
