//! Stand-in for `Finding::is_blocking`, which the `audit-rules` branch adds to `audit.rs`
//! (with an advisory `Finding::Coincidence`). Until it lands, every finding the audit makes
//! blocks publication, as it always has. DELETE THIS FILE (and its `mod` line in lib.rs) when
//! merging `audit-rules`: the real method replaces it, and the quarantine code, which only
//! calls `is_blocking()`, needs no change.

use crate::audit::Finding;

impl Finding {
    /// Whether the finding blocks publication at a level that claims to remove identity
    /// (every finding of today's audit does).
    pub fn is_blocking(&self) -> bool {
        true
    }
}
