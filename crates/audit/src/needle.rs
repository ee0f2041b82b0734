//! What the audit searches for: an identifying value with the attribute it came from and its
//! kind (which decides how it is spelled and bounded), and the length rules that keep common
//! short values from matching everywhere.

pub use anon_core::identity::ValueKind;

/// Values at least this long are searched everywhere, without word boundaries.
pub const LONG_NEEDLE: usize = 6;

/// Values shorter than this are too common to search for at all (except single CJK
/// characters, which count only inside text).
pub const MIN_NEEDLE: usize = 3;

/// One identifying value to look for, with a label saying what it is (e.g. "PatientName").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Needle {
    /// The attribute it came from, shown in findings.
    pub label: String,
    /// How to spell and bound it.
    pub kind: ValueKind,
    /// The value itself (never shown).
    pub value: String,
}

impl Needle {
    /// A needle with a label, kind and value.
    pub fn new(label: impl Into<String>, kind: ValueKind, value: impl Into<String>) -> Needle {
        Needle {
            label: label.into(),
            kind,
            value: value.into(),
        }
    }
}
