//! The one error type of the crate: every failure names the file or the SOP instance it concerns,
//! so that a failing test or a failed `depot synth` run says exactly what went wrong.

use std::path::PathBuf;

/// Why a synthetic file or dump could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// The requested properties cannot make a valid file (e.g. zero rows, a pixel buffer that
    /// would not fit in memory).
    #[error("cannot build SOP instance {sop_uid:?}: {reason}")]
    InvalidSpec {
        /// SOP Instance UID of the instance being built.
        sop_uid: String,
        /// What is wrong with the request.
        reason: String,
    },
    /// The dump options are out of range.
    #[error("invalid dump options: {reason}")]
    InvalidOptions {
        /// What is wrong with the options.
        reason: String,
    },
    /// dicom-rs refused the file meta group.
    #[error("cannot build the file meta group of SOP instance {sop_uid:?}")]
    Meta {
        /// SOP Instance UID of the instance being built.
        sop_uid: String,
        /// The underlying error.
        #[source]
        source: Box<dicom_object::meta::Error>,
    },
    /// dicom-rs failed to encode the data set.
    #[error("cannot encode SOP instance {sop_uid:?}")]
    Encode {
        /// SOP Instance UID of the instance being encoded.
        sop_uid: String,
        /// The underlying error.
        #[source]
        source: Box<dicom_object::WriteError>,
    },
    /// The template of a replicated dump could not be read as DICOM.
    #[error("cannot read the template {}", path.display())]
    Template {
        /// The template file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: Box<dicom_object::ReadError>,
    },
    /// A file or folder could not be written.
    #[error("cannot write {}", path.display())]
    Io {
        /// The file or folder concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}
