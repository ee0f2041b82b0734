//! What the audit reports: one [`Finding`] per value or structure found, naming the place and
//! the kind of value, never the value itself (findings are shown on screens and pasted into
//! tickets).

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

/// Where in a file a value was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Region {
    /// Anywhere outside the top-level pixel data value.
    Header,
    /// Inside the pixel data value.
    PixelData,
    /// A file that is not DICOM (manifest, CSV, ...), or a DICOM file that could not be read,
    /// searched as raw bytes.
    Text,
    /// A path or zip entry name.
    Path,
    /// A zip entry's extra field or comment, a raw entry name, or the zip file's comment.
    ZipMetadata,
}

/// One thing the audit found. Never carries the identifying value itself.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "finding", rename_all = "kebab-case")]
pub enum Finding {
    /// An identifying value occurs in a file or path.
    Value {
        /// Package-relative file or path (for zip metadata, the entry; empty for the zip
        /// file's own comment).
        file: String,
        /// Which attribute's value it is (e.g. "PatientName").
        what: String,
        /// Where it was found.
        region: Region,
        /// For header findings, the element holding it, e.g. `(0040,A730)[0]/(0040,A160)`
        /// (absent when the value lies across elements or the file could not be parsed).
        #[serde(skip_serializing_if = "Option::is_none")]
        tag: Option<String>,
    },
    /// A private element remains.
    PrivateElement {
        /// Package-relative file.
        file: String,
        /// Tag path, e.g. `(0040,A730)[0]/(0029,1010)`.
        tag: String,
    },
    /// PatientIdentityRemoved (0012,0062) is missing or not `YES`.
    IdentityNotMarkedRemoved {
        /// Package-relative file.
        file: String,
    },
    /// A file looked like DICOM but could not be parsed, so it could not be checked.
    Unreadable {
        /// Package-relative file.
        file: String,
        /// Why.
        reason: String,
    },
    /// An identifying value coincides with a kept, non-identifying value of a header: it lies
    /// inside an attribute that describes equipment (InstitutionName `TOSHIBA` inside
    /// Manufacturer `TOSHIBA_MEC`), or a short value equals a whole number or code (StudyID
    /// `134` equal to NumberOfPhaseEncodingSteps). Advisory: shown and recorded, never
    /// blocking (see [`Finding::is_blocking`]).
    Coincidence {
        /// Package-relative file.
        file: String,
        /// Which attribute's value it is (e.g. "InstitutionName").
        what: String,
        /// The element holding it, e.g. `(0008,0070)`.
        tag: String,
        /// The kept attribute it coincides with (keyword, or the tag when it has none).
        with: String,
    },
}

impl Finding {
    /// The package-relative file (or path) the finding is about.
    pub fn file(&self) -> &str {
        match self {
            Finding::Value { file, .. }
            | Finding::PrivateElement { file, .. }
            | Finding::IdentityNotMarkedRemoved { file }
            | Finding::Unreadable { file, .. }
            | Finding::Coincidence { file, .. } => file,
        }
    }

    /// Whether the finding stops a package at the levels whose audit blocks: true for every
    /// kind but [`Finding::Coincidence`], which is advisory whatever the level.
    pub fn is_blocking(&self) -> bool {
        !matches!(self, Finding::Coincidence { .. })
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::Value {
                file,
                what,
                region,
                tag,
            } => {
                let place = match region {
                    Region::Header => "in the header of",
                    Region::PixelData => "in the pixel data of",
                    Region::Text => "in",
                    Region::Path => "in the path",
                    Region::ZipMetadata if file.is_empty() => {
                        return write!(f, "{what} value found in the zip file's comment");
                    }
                    Region::ZipMetadata => "in the zip metadata (extra field, comment) of",
                };
                write!(f, "{what} value found {place} {file}")?;
                if let Some(tag) = tag {
                    write!(f, " at {tag}")?;
                }
                Ok(())
            }
            Finding::PrivateElement { file, tag } => write!(f, "private element {tag} in {file}"),
            Finding::IdentityNotMarkedRemoved { file } => {
                write!(f, "PatientIdentityRemoved (0012,0062) is not YES in {file}")
            }
            Finding::Unreadable { file, reason } => write!(f, "cannot check {file}: {reason}"),
            Finding::Coincidence {
                file,
                what,
                tag,
                with,
            } => write!(
                f,
                "{what} value coincides with {with} at {tag} in {file} (a coincidence, not blocking)"
            ),
        }
    }
}

pub(crate) fn value_findings(rel: &str, region: Region, labels: BTreeSet<String>) -> Vec<Finding> {
    labels
        .into_iter()
        .map(|what| Finding::Value {
            file: rel.to_string(),
            what,
            region,
            tag: None,
        })
        .collect()
}
