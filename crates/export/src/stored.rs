//! Reading an archived file back: whole (the write phase of an export) or its header only, up
//! to Pixel Data, with the memory it holds taken from the process's budget (the plan, `depot
//! audit`, the check of a release's reason).

use std::io::Read;
use std::path::PathBuf;

use archive::memory::Permit;
use dicom_object::DefaultDicomObject;

use crate::deid_file::{DeidFileError, chain, parse_header_file};

/// Why an archived file could not be read back.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoredFileError {
    /// The file could not be opened or read.
    #[error("cannot read the stored file {}", path.display())]
    Read {
        /// The stored file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Its header could not be read or parsed.
    #[error("cannot read the header of the stored file {}", path.display())]
    Header {
        /// The stored file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: DeidFileError,
    },
}

impl StoredFileError {
    /// The stored file.
    pub fn path(&self) -> &std::path::Path {
        match self {
            StoredFileError::Read { path, .. } | StoredFileError::Header { path, .. } => path,
        }
    }

    /// Why, with every cause.
    pub fn reason(&self) -> String {
        chain(self)
    }
}

/// The whole archived file.
pub(crate) fn read_stored(path: &str, size: u64) -> Result<Vec<u8>, StoredFileError> {
    let path = PathBuf::from(path);
    let read = |source| StoredFileError::Read {
        path: path.clone(),
        source,
    };
    let mut f = std::fs::File::open(&path).map_err(read)?;
    let mut buf = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    f.read_to_end(&mut buf).map_err(read)?;
    Ok(buf)
}

/// The header of an archived file, up to Pixel Data, read through a buffer (only the header's
/// bytes are read), with the memory it holds: keep the permit while the object lives.
/// Archived files passed the import's structural length check, so dicom-rs can read them
/// directly.
pub(crate) fn read_stored_header(
    path: &str,
) -> Result<(DefaultDicomObject, Permit<'static>), StoredFileError> {
    let path = PathBuf::from(path);
    parse_header_file(&path).map_err(|source| StoredFileError::Header { path, source })
}
