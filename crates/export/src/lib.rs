//! Writing de-identified DICOM out of depot: per-project packages from the archive, and the
//! standalone de-identification of files and folder trees.
//!
//! The engine that decides what happens to each attribute lives in `anon-core` and touches no
//! files; this crate does the I/O around it: selecting instances, reading and writing files
//! atomically, laying out packages from archive codes and pseudonyms only, checking that the
//! exported headers would regroup as archived ([`regroup`]), auditing every byte of a package
//! for PHI before it is published (the [`audit`] crate, given the values the package must not
//! hold; recorded by [`findings`]), and keeping a package the audit blocks in the archive's
//! [`quarantine`] until a person releases it ([`release`]) or discards it. `depot audit` of a
//! package against the archive is [`package_audit`].

#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod deid_file;
mod distinct;
pub mod findings;
mod header_values;
pub mod incoming;
mod index_values;
pub mod keyfile;
pub mod manifest;
pub mod package;
pub mod package_audit;
pub mod pipeline;
pub mod profile_store;
mod promised;
pub mod quarantine;
pub mod regroup;
pub mod release;
mod spliced;
pub mod staged;
pub mod stored;
pub mod stored_values;
pub mod tree;
mod uid_hash;
