//! The Storage SCP: a listener, one thread per association (see `association` for
//! what happens on one), the intakes the associations file into (one per project and
//! de-identification, opened on first use), and a clean stop: on request, no new connection
//! is accepted, open associations finish, the import runs are closed.
//!
//! Every association ends in its own way and is reported once ([`AssociationReport`]): a
//! release, an abort by the peer, a peer that vanished (closed the connection, or cut a PDU
//! short), an idle timeout, or a protocol error (answered with an A-ABORT). A message cut off
//! by any of these leaves nothing: its spooled bytes are deleted, nothing was submitted.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use archive::{Archive, ImportSummary};

use crate::association;
use crate::error::NetError;
use crate::pdu::is_timeout;
use crate::served::Shared;
pub use crate::served::{AssociationReport, Ending, InstanceFailure, ServeObserver, ServeSettings};

/// What a server did, when it stopped.
#[derive(Debug, Clone, Default)]
pub struct ServeSummary {
    /// Associations accepted or rejected.
    pub associations: u64,
    /// One import run per project (and de-identification) that received instances.
    pub runs: Vec<ImportSummary>,
}

/// A bound listener, ready to serve.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
}

impl Server {
    /// Binds the listening socket (`host:port`; port 0 picks a free one).
    pub fn bind(addr: &str) -> Result<Server, NetError> {
        let listener = TcpListener::bind(addr).map_err(|source| NetError::Bind {
            addr: addr.to_string(),
            source,
        })?;
        Ok(Server { listener })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> Result<SocketAddr, NetError> {
        self.listener.local_addr().map_err(NetError::Accept)
    }

    /// Serves until `stop` is set, then stops accepting, lets every open association finish
    /// (one silent for 5 s between messages while stopping is aborted), closes the import runs
    /// and returns their counts.
    pub fn run(
        self,
        archive: &Archive,
        settings: &ServeSettings,
        stop: &AtomicBool,
        observer: Arc<dyn ServeObserver>,
    ) -> Result<ServeSummary, NetError> {
        let local = self.local_addr()?;
        self.listener
            .set_nonblocking(true)
            .map_err(NetError::Accept)?;
        let origin = format!("dicom {}@{local}", settings.aet);
        let shared = Shared {
            archive,
            settings,
            stop,
            observer: Arc::clone(&observer),
            intakes: Mutex::new(HashMap::new()),
            active: AtomicUsize::new(0),
            origin,
        };
        observer.listening(local);
        let mut associations = 0u64;
        let listener = self.listener;
        std::thread::scope(|s| {
            while !stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, peer)) => {
                        associations += 1;
                        shared.active.fetch_add(1, Ordering::SeqCst);
                        let shared = &shared;
                        let spawned = std::thread::Builder::new()
                            .name("depot-association".into())
                            .spawn_scoped(s, move || {
                                let report = association::serve(shared, stream, peer);
                                shared.active.fetch_sub(1, Ordering::SeqCst);
                                shared.observer.association_ended(&report);
                            });
                        if let Err(e) = spawned {
                            shared.active.fetch_sub(1, Ordering::SeqCst);
                            observer.error(&format!(
                                "cannot start a thread for the association from {peer}: {e}"
                            ));
                        }
                    }
                    Err(e) if is_timeout(&e) => std::thread::sleep(Duration::from_millis(20)),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        // Too many open files, a connection reset before accept: transient.
                        observer.error(&format!("accepting a connection failed: {e}"));
                        std::thread::sleep(Duration::from_millis(200));
                    }
                }
            }
            // No new connection waits in the backlog while the open associations finish.
            drop(listener);
        });
        let mut runs = Vec::new();
        let intakes = std::mem::take(
            &mut *shared
                .intakes
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for (_, intake) in intakes {
            runs.push(intake.finish()?);
        }
        runs.sort_by_key(|r| r.run_id);
        Ok(ServeSummary { associations, runs })
    }
}
