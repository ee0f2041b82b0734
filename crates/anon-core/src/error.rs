//! Typed errors of the engine: one per operation (building a profile, reading a key,
//! de-identifying an object), each carrying the context a user needs to fix the cause.

use thiserror::Error;

/// Why a profile could not be built (built-in level plus options, or a custom TOML file).
#[derive(Debug, Error)]
pub enum ProfileError {
    /// The level name is not one of the built-in levels.
    #[error(
        "unknown level {name:?} (known: original, anonymize, anonymize-full, basic, qmenta, sup142)"
    )]
    UnknownLevel {
        /// The name given.
        name: String,
    },
    /// The option name is neither a depot (kebab-case) nor a dcm4chee option name.
    #[error("unknown de-identification option {name:?}")]
    UnknownOption {
        /// The name given.
        name: String,
    },
    /// An action code that is not in PS3.15 Table E.1-1a (nor depot's `P`).
    #[error("unknown action {action:?} (use X, Z, D, K, C, U, Z/D, X/Z, X/D, X/Z/D, X/Z/U* or P)")]
    UnknownAction {
        /// The code given.
        action: String,
    },
    /// A tag key of a custom profile that is neither `GGGG,EEEE` nor a DICOM keyword.
    #[error("unknown tag {tag:?} in [actions] (write GGGG,EEEE or a DICOM keyword)")]
    UnknownTag {
        /// The key given.
        tag: String,
    },
    /// Options only make sense on top of the Basic Profile.
    #[error(
        "level {level} takes no options (options apply to basic, anonymize-full and profiles built on them)"
    )]
    OptionsNotAllowed {
        /// The level.
        level: String,
    },
    /// Two options (or an option and a flag) that exclude each other.
    #[error("{first} and {second} cannot be used together")]
    Conflict {
        /// One side.
        first: String,
        /// The other side.
        second: String,
    },
    /// Something the profile's level does not support (for example customising `original`).
    #[error("{what} is not possible with level {level}")]
    NotSupported {
        /// The level.
        level: String,
        /// What was asked.
        what: String,
    },
    /// An `[[accept]]` entry of a custom profile that cannot be used.
    #[error("[[accept]] entry tag = {tag:?}, kind = {kind:?}: {why}")]
    BadAcceptance {
        /// The tag given.
        tag: String,
        /// The kind given.
        kind: String,
        /// What is wrong.
        why: &'static str,
    },
    /// The custom profile file is not valid TOML or does not have the expected fields.
    #[error("custom profile is not valid: {message}")]
    Toml {
        /// The parser's message (with line and column).
        message: String,
    },
}

/// Why a de-identification key could not be read.
#[derive(Debug, Error)]
pub enum KeyError {
    /// The key text is not 64 hexadecimal characters.
    #[error("a key is 64 hexadecimal characters (32 bytes); found {found} characters")]
    BadLength {
        /// How many characters were found.
        found: usize,
    },
    /// The key text holds a character that is not hexadecimal.
    #[error("the key holds a character that is not hexadecimal")]
    NotHex,
}

/// Why one DICOM object could not be de-identified.
#[derive(Debug, Error)]
pub enum AnonError {
    /// A text value could not be decoded losslessly, so writing it back would corrupt it.
    #[error(
        "text at {path} cannot be read losslessly in the file's character set (a byte 0x5C inside a two-byte character, as in GB18030, GBK or Shift JIS, or bytes the character set does not define): refused rather than written back corrupted"
    )]
    Undecodable {
        /// Where.
        path: String,
    },
    /// Sequences nested deeper than the engine follows (a hostile or broken file).
    #[error("sequences nested deeper than {limit} levels at {path}")]
    TooDeep {
        /// Where the limit was hit.
        path: String,
        /// The limit.
        limit: usize,
    },
}
