//! Synthetic DICOM data for depot's tests, demos and benchmarks.
//!
//! Real scanner dumps cannot be shared (they are full of patient data), yet every part of depot
//! must be tested against the awkward things real dumps contain: several transfer syntaxes,
//! nested sequences, vendor private blocks, multi-frame and encapsulated pixel data, blank IDs,
//! identifying folder names. This crate makes such data in code, deterministically:
//!
//! - [`fixture`]: one DICOM file with chosen properties ([`fixture::InstanceSpec`]) plus hostile
//!   files (truncated, not DICOM, huge lengths, missing UIDs, path-like IDs) for other crates'
//!   tests;
//! - [`unknown_vr`]: files with standard attributes and sequences encoded as UN (PS3.5 6.2.2),
//!   and hostile UN sequences;
//! - [`write_dump`]: a whole scanner-like folder tree from a seed, with every hard case planted
//!   and the list of planted identifying values returned for leak tests;
//! - [`write_replicas`]: a dump made from one real file (a vendor's CT, say), copied with new
//!   subjects, studies, series and UIDs, for tests that must meet real files' oddities.
//!
//! The crate never prints and never reads the clock or global randomness: the same inputs give
//! byte-identical outputs.

#![deny(clippy::print_stdout, clippy::print_stderr)]

mod atomic;
mod dump;
mod error;
pub mod fixture;
mod names;
mod phi;
mod pixels;
mod random;
mod replica;
pub mod unknown_vr;

pub use atomic::write_atomic;
pub use dump::{
    DumpOptions, DumpSummary, HardCase, Landmark, MULTI_FRAME_FRAMES, SR_SERIES_NUMBER, dump_paths,
    write_dump, write_dump_with_progress,
};
pub use error::SynthError;
pub use replica::{ReplicaOptions, write_replicas};
