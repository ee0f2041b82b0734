//! Why a package could not be built or published.

use std::path::{Path, PathBuf};

/// Errors of building or publishing a package.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackageError {
    /// The destination exists and `force` was not given.
    #[error("{0} already exists (use --force to replace it)")]
    Exists(PathBuf),
    /// The destination exists and is not a depot package, so `force` may not replace it.
    #[error(
        "{0} is not a depot package (no manifest.json saying \"format\": \"depot-package/1\"), so --force will not replace it; move it away or choose another --out"
    )]
    NotAPackage(PathBuf),
    /// An entry name is not a safe relative name.
    #[error("unsafe entry name in package: {0:?}")]
    UnsafeName(String),
    /// The same entry was added twice.
    #[error("entry {0} added twice to the package")]
    Duplicate(String),
    /// File system trouble.
    #[error("{action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Publishing failed after the old package was moved aside, and it could not be moved
    /// back.
    #[error(
        "cannot publish {dest} ({cause}), and the old package could not be moved back: it is at {aside}"
    )]
    NotRestored {
        /// The destination.
        dest: PathBuf,
        /// Why publishing failed.
        cause: String,
        /// Where the old package is.
        aside: PathBuf,
        /// Why moving it back failed.
        #[source]
        source: std::io::Error,
    },
    /// The zip writer failed.
    #[error("cannot write zip package {path}")]
    Zip {
        /// The staging zip.
        path: PathBuf,
        /// Cause.
        #[source]
        source: zip::result::ZipError,
    },
}

pub(crate) fn io<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> PackageError + 'a {
    move |source| PackageError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}
