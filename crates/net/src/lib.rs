//! DICOM networking for depot: a Storage SCP that files what senders send into the archive,
//! and a Storage SCU that sends exported instances to another node.
//!
//! Scanners and PACS do not hand over folders, they send. [`scp::Server`] accepts associations
//! (C-ECHO and C-STORE of the storage SOP classes, in the common transfer syntaxes, several
//! associations at once) and files every received instance through the archive's own import
//! path ([`archive::Intake`]): same grouping, duplicates, conflicts and rejects, same index
//! rows. A C-STORE is answered Success only once the instance and its index row are durable.
//! Per calling AE title a [`config::ServeConfig`] decides who may store, into which project,
//! and whether files are de-identified on the way in ([`export::incoming`]).
//!
//! [`scu::send_files`] is the other direction: it sends DICOM files (an export package made
//! at the chosen level, see [`send`]) over one or more associations and reports each
//! instance's status.
//!
//! The protocol is dicom-rs's `dicom-ul` (PDU types, reader and writer; the client's
//! association negotiation); the association state machine of the receiver, the DIMSE
//! command sets and the file meta information of received files are here. Libraries never
//! print: the server reports through a [`scp::ServeObserver`], the sender through a
//! [`scu::SendObserver`].

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod config;
pub mod dimse;
pub mod error;
pub mod pdu;
pub mod scp;
pub mod scu;
pub mod send;
mod served;
pub mod syntax;

mod association;
mod receive;

pub use error::NetError;

/// depot's Implementation Class UID (PS3.7 D.3.3.2), written into the file meta information
/// of received files (a 2.25 UUID-derived UID, so it belongs to no one else's root).
pub const IMPLEMENTATION_CLASS_UID: &str = "2.25.38320846571742198398362367218052713539";

/// depot's Implementation Version Name (at most 16 characters).
pub const IMPLEMENTATION_VERSION_NAME: &str = "DEPOT_NET_1";
