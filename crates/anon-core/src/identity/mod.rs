//! The identity model: which attributes identify a person, what kind of value each holds, and
//! how a value of each kind is spelled, in text and in bytes.
//!
//! One model for the three places that must agree on it: the engine's cleaning (action C cuts
//! these values and their spellings out of kept text), the export's list of a subject's
//! identifying values, and the PHI audit, which searches the package for the same spellings.
//! A spelling the engine does not cut but the audit searches would be a finding in every
//! package; one the audit does not search would be a leak nobody sees.
//!
//! `attributes` lists the subject's attributes and the kinds of values; `texts` spells a value
//! as text, `bytes` in every character set; `placeholder` recognises values that identify
//! nobody.

mod attributes;
mod bytes;
mod placeholder;
#[cfg(test)]
mod tests;
mod texts;

pub use attributes::{
    IdentityAttribute, MEDICAL_RECORD_LOCATOR, OTHER_PATIENT_IDS, PATIENT_ATTRIBUTES,
    SUBJECT_ATTRIBUTES, ValueKind, kind_of, label_of,
};
pub use bytes::{ByteSpelling, byte_spellings};
pub use placeholder::is_placeholder;
pub use texts::{
    case_variants, date_texts, is_cjk, is_single_cjk, name_texts, normal_forms, spelling_variants,
    texts_of,
};
