//! How a data set is encoded as far as its element headers are concerned, from its transfer
//! syntax, looked up as dicom-rs looks it up.

use dicom_encoding::transfer_syntax::{Codec, Endianness, TransferSyntaxIndex};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use super::error::ScanError;

/// How a data set is encoded, as far as its element headers are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Implicit VR little endian.
    ImplicitLittle,
    /// Explicit VR little endian (also every encapsulated pixel syntax).
    ExplicitLittle,
    /// Explicit VR big endian (retired, still seen).
    ExplicitBig,
    /// Explicit VR little endian, the whole data set deflated.
    Deflated,
}

impl Encoding {
    /// The encoding of a transfer syntax UID as the file meta group holds it, looked up the
    /// way dicom-rs looks it up (its registry, which trims trailing whitespace and NULs), so
    /// that the scan reads the data set exactly as the parser will. `None` for a syntax the
    /// registry does not know (dicom-rs refuses to read such a data set).
    pub fn of_transfer_syntax(uid: &str) -> Option<Encoding> {
        let ts = TransferSyntaxRegistry.get(uid)?;
        Some(if ts.uid() == "1.2.840.10008.1.2" {
            Encoding::ImplicitLittle
        } else if matches!(ts.codec(), Codec::Dataset(_)) {
            Encoding::Deflated
        } else if ts.endianness() == Endianness::Big {
            Encoding::ExplicitBig
        } else {
            Encoding::ExplicitLittle
        })
    }

    pub(super) fn explicit(self) -> bool {
        self != Encoding::ImplicitLittle
    }

    pub(super) fn big_endian(self) -> bool {
        self == Encoding::ExplicitBig
    }

    pub(super) fn u16(self, b: [u8; 2]) -> u16 {
        if self.big_endian() {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    }

    pub(super) fn u32(self, b: [u8; 4]) -> u32 {
        if self.big_endian() {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    /// Item headers are tag + 4-byte length in every encoding; only the byte order matters.
    pub(super) fn item_headers(self) -> Encoding {
        if self.big_endian() {
            Encoding::ExplicitBig
        } else {
            Encoding::ImplicitLittle
        }
    }
}

/// The data set's encoding, or the refusal dicom-rs would give.
pub(super) fn resolve(transfer_syntax: &str) -> Result<Encoding, ScanError> {
    if transfer_syntax
        .trim_matches(|c: char| c.is_whitespace() || c == '\0')
        .is_empty()
    {
        return Err(ScanError::NoTransferSyntax);
    }
    Encoding::of_transfer_syntax(transfer_syntax).ok_or_else(|| {
        ScanError::UnknownTransferSyntax(
            transfer_syntax
                .trim_end_matches(|c: char| c.is_whitespace() || c == '\0')
                .chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .take(80)
                .collect(),
        )
    })
}
