//! The engine: walks one DICOM object (every element, every sequence item at any depth), looks
//! up the profile's rule for each attribute, applies it with VR-valid replacements and keyed
//! mappings, adds the de-identification markers, cleans the file meta, and reports what it did.
//!
//! Each part is a module of its own: [`Deidentifier`] (`deidentifier`) is the profile under a
//! key; `subject` derives the subject's pseudonym, date offset and identifiers; `object` applies
//! the profile to one object (`undecodable` and `burned_in` are its checks, `meta` and
//! `markers` what it writes around the data set); `walk` visits every element with its state
//! (`state`) and applies the rules, by way of `replace` (U, D, P), `scrub` (C),
//! `dummy_sequence` (D on a sequence) and `beyond` (anonymize-full beyond the table).

mod beyond;
mod burned_in;
mod deidentifier;
mod dummy_sequence;
mod markers;
mod meta;
mod object;
mod replace;
mod scrub;
mod state;
mod subject;
mod undecodable;
mod walk;

pub use deidentifier::Deidentifier;
pub use subject::{SubjectContext, SubjectId};
