//! Why a file fails the scan: each reason names the element and the numbers involved, so that
//! a rejected file's reason says what is wrong with it.

use super::limits::MAX_DEPTH;

/// Why a file failed the pre-check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// An element declares more bytes than remain.
    #[error(
        "truncated or hostile: element ({group:04X},{element:04X}) declares {declared} bytes but only {remaining} remain"
    )]
    Length {
        /// Tag group.
        group: u16,
        /// Tag element.
        element: u16,
        /// The declared length.
        declared: u64,
        /// What is left.
        remaining: u64,
    },
    /// The file ends inside an element header or a deflated stream ends early.
    #[error("truncated: the file ends inside element ({group:04X},{element:04X})")]
    Truncated {
        /// Tag group of the last element started.
        group: u16,
        /// Tag element.
        element: u16,
    },
    /// Sequences nest too deep.
    #[error("hostile: sequences nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// The deflated data set cannot be inflated.
    #[error("corrupt deflated data set: {0}")]
    Deflate(String),
    /// The deflated data set inflates beyond the allowance for its file's size.
    #[error("hostile: the deflated data set inflates beyond {limit} bytes (a decompression bomb?)")]
    DeflateBomb {
        /// The allowance that was exceeded.
        limit: u64,
    },
    /// The file meta group names a transfer syntax dicom-rs does not know.
    #[error("unsupported or invalid transfer syntax {0:?}")]
    UnknownTransferSyntax(String),
    /// The file meta group names no transfer syntax: (0002,0010) is missing or empty.
    #[error(
        "the file meta group names no transfer syntax (Transfer Syntax UID (0002,0010) is missing or empty), so the data set's encoding is unknown"
    )]
    NoTransferSyntax,
    /// The structure cannot be what it claims (e.g. an element outside an item inside a
    /// sequence, an element running past the end of its item, a missing meta group length).
    #[error("malformed: {0}")]
    Malformed(String),
}
