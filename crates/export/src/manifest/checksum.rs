//! A manifest file's checksum, named after its algorithm: written as one field, `"blake3"` or
//! `"sha256"`, so that a reader who knows only older manifests (whose files carry `sha256`)
//! never finds a value of another algorithm under that name; read back only when exactly one
//! is there.

use archive::HashAlgorithm;
use serde::{Deserialize, Serialize};

use super::FileEntry;

/// A file entry as read: exactly one checksum field must be there.
#[derive(Deserialize)]
pub(super) struct FileFields {
    path: String,
    blake3: Option<String>,
    sha256: Option<String>,
    bytes: u64,
}

/// A file entry without exactly one checksum.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {}", if *.both { "two checksums (blake3 and sha256)" } else { "no checksum (blake3 or sha256)" })]
pub struct ChecksumFieldError {
    path: String,
    both: bool,
}

impl TryFrom<FileFields> for FileEntry {
    type Error = ChecksumFieldError;

    fn try_from(f: FileFields) -> Result<FileEntry, ChecksumFieldError> {
        let checksum = match (f.blake3, f.sha256) {
            (Some(h), None) => FileChecksum::Blake3(h),
            (None, Some(h)) => FileChecksum::Sha256(h),
            (b, _) => {
                return Err(ChecksumFieldError {
                    path: f.path,
                    both: b.is_some(),
                });
            }
        };
        Ok(FileEntry {
            path: f.path,
            checksum,
            bytes: f.bytes,
        })
    }
}

/// A file's checksum (lower-case hex), by algorithm; written as one field named after the
/// algorithm, so that a reader who knows only older manifests (`sha256`) finds no value of
/// another algorithm under that name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum FileChecksum {
    /// BLAKE3 (`b3sum`).
    #[serde(rename = "blake3")]
    Blake3(String),
    /// SHA-256 (`sha256sum`).
    #[serde(rename = "sha256")]
    Sha256(String),
}

impl FileChecksum {
    /// The checksum `hex` made with `algorithm`.
    pub fn new(algorithm: HashAlgorithm, hex: String) -> FileChecksum {
        match algorithm {
            HashAlgorithm::Blake3 => FileChecksum::Blake3(hex),
            HashAlgorithm::Sha256 => FileChecksum::Sha256(hex),
        }
    }

    /// Its algorithm.
    pub fn algorithm(&self) -> HashAlgorithm {
        match self {
            FileChecksum::Blake3(_) => HashAlgorithm::Blake3,
            FileChecksum::Sha256(_) => HashAlgorithm::Sha256,
        }
    }

    /// The checksum, lower-case hex.
    pub fn hex(&self) -> &str {
        match self {
            FileChecksum::Blake3(h) | FileChecksum::Sha256(h) => h,
        }
    }
}
