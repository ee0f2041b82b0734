//! anon-core: the de-identification engine of depot, kept free of file and database I/O so that
//! the same rules run identically in `depot anonymize`, in archive exports and in tests.
//!
//! The pieces:
//! - [`table`]: the project's own copy of DICOM PS3.15 Table E.1-1 (edition 2026c) and of the
//!   seed profiles, embedded at build time;
//! - [`Action`], [`Level`], [`DeidOption`], [`Profile`]: what to do to which attribute;
//! - [`identity`]: which attributes identify a person, their kinds, and the spellings of
//!   their values (shared by the engine's cleaning, the export and the PHI audit);
//! - [`Key`]: the secret from which every UID mapping, pseudonym and date offset is derived;
//! - [`Deidentifier`]: applies a profile to one DICOM object and returns a [`Report`] of what it
//!   did (tag paths and actions, never the old values).
//!
//! The decisions behind the rules (compound codes, options that disagree, the seed profiles'
//! oddities, what happens beyond the table) are written down in `docs/deid.md`.

#![deny(clippy::print_stdout, clippy::print_stderr)]

mod acceptance;
mod action;
mod charset;
mod clean;
mod element_text;
mod engine;
mod enumerated;
mod error;
mod header_text;
pub mod identity;
mod key;
mod level;
mod needles;
mod patterns;
mod private;
mod profile;
mod removed;
mod report;
pub mod table;
mod tag_names;
mod uids;
mod unknown;
mod values;
pub mod vr_class;
mod written;

pub use acceptance::Acceptance;
pub use action::Action;
pub use engine::{Deidentifier, SubjectContext, SubjectId};
pub use error::{AnonError, KeyError, ProfileError};
pub use header_text::HeaderText;
pub use key::Key;
pub use level::{DeidOption, Level};
pub use private::{SafePrivateEntry, safe_private_list};
pub use profile::{Profile, Rule};
pub use report::{AppliedAction, BurnedInReason, Done, PathStep, Report, TagPath};
pub use written::written_constants;
