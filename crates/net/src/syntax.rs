//! What the receiver negotiates: the abstract syntaxes it accepts (Verification and every
//! storage SOP class of the standard, plus any the configuration adds) and the transfer
//! syntaxes it accepts them in. Data sets are stored as received, never decoded or
//! transcoded, so every syntax whose data set the archive can read is accepted, compressed
//! pixel data included.

use dicom_core::dictionary::{UidDictionary, UidType};
use dicom_dictionary_std::StandardSopClassDictionary;

/// Verification SOP Class (C-ECHO).
pub const VERIFICATION: &str = "1.2.840.10008.1.1";

/// Transfer syntaxes accepted, with their names.
pub const TRANSFER_SYNTAXES: &[(&str, &str)] = &[
    ("1.2.840.10008.1.2.1", "Explicit VR Little Endian"),
    ("1.2.840.10008.1.2", "Implicit VR Little Endian"),
    ("1.2.840.10008.1.2.2", "Explicit VR Big Endian"),
    (
        "1.2.840.10008.1.2.1.99",
        "Deflated Explicit VR Little Endian",
    ),
    ("1.2.840.10008.1.2.4.50", "JPEG Baseline (Process 1)"),
    ("1.2.840.10008.1.2.4.51", "JPEG Extended (Process 2 & 4)"),
    (
        "1.2.840.10008.1.2.4.57",
        "JPEG Lossless, Non-Hierarchical (Process 14)",
    ),
    (
        "1.2.840.10008.1.2.4.70",
        "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14, SV1)",
    ),
    ("1.2.840.10008.1.2.4.80", "JPEG-LS Lossless"),
    ("1.2.840.10008.1.2.4.81", "JPEG-LS Near-Lossless"),
    ("1.2.840.10008.1.2.4.90", "JPEG 2000 Lossless Only"),
    ("1.2.840.10008.1.2.4.91", "JPEG 2000"),
    (
        "1.2.840.10008.1.2.4.201",
        "High-Throughput JPEG 2000 Lossless Only",
    ),
    (
        "1.2.840.10008.1.2.4.202",
        "High-Throughput JPEG 2000 with RPCL Options Lossless Only",
    ),
    ("1.2.840.10008.1.2.4.203", "High-Throughput JPEG 2000"),
    ("1.2.840.10008.1.2.5", "RLE Lossless"),
];

/// A UID without the trailing NUL or spaces some senders pad it with.
pub fn clean_uid(uid: &str) -> &str {
    uid.trim_end_matches(['\0', ' ']).trim_start_matches(' ')
}

/// Whether a transfer syntax is accepted.
pub fn is_accepted_transfer_syntax(uid: &str) -> bool {
    let uid = clean_uid(uid);
    TRANSFER_SYNTAXES.iter().any(|(u, _)| *u == uid)
}

/// The name of a transfer syntax (its UID when unknown).
pub fn transfer_syntax_name(uid: &str) -> &str {
    let uid = clean_uid(uid);
    TRANSFER_SYNTAXES
        .iter()
        .find(|(u, _)| *u == uid)
        .map_or(uid, |(_, n)| n)
}

/// Whether `uid` is a storage SOP class of the standard (PS3.4 annex B and the other C-STORE
/// based services: retired ones included, since old modalities still send them; the Media
/// Storage Directory and Storage Commitment classes excluded, which are not stored by
/// C-STORE).
pub fn is_storage_sop_class(uid: &str) -> bool {
    let uid = clean_uid(uid);
    let Some(entry) = StandardSopClassDictionary.by_uid(uid) else {
        return false;
    };
    if !matches!(entry.r#type, UidType::SopClass) {
        return false;
    }
    // The name without the qualifiers PS3.6 appends to a storage class's name: "Digital
    // X-Ray Image Storage - For Presentation", "Comprehensive SR Storage - Trial", "... (Retired)".
    let mut name = entry.name.trim();
    for suffix in [
        " (Retired)",
        " - For Presentation",
        " - For Processing",
        " - Trial",
    ] {
        name = name.strip_suffix(suffix).unwrap_or(name).trim_end();
    }
    let stored = name.ends_with(" Storage") || name.ends_with(" Storage SOP Class");
    stored
        && !name.starts_with("Storage Commitment")
        && !name.starts_with("Media Storage Directory")
}

/// A SOP class's name (its UID when unknown).
pub fn sop_class_name(uid: &str) -> String {
    let uid = clean_uid(uid);
    StandardSopClassDictionary
        .by_uid(uid)
        .map_or_else(|| uid.to_string(), |e| e.name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_classes_are_recognised() {
        for uid in [
            "1.2.840.10008.5.1.4.1.1.4",     // MR Image Storage
            "1.2.840.10008.5.1.4.1.1.4.1",   // Enhanced MR
            "1.2.840.10008.5.1.4.1.1.88.33", // Comprehensive SR
            "1.2.840.10008.5.1.4.1.1.6",     // Ultrasound (retired)
            "1.2.840.10008.5.1.4.1.1.66.4",  // Segmentation
            "1.2.840.10008.5.1.4.1.1.481.3", // RT Structure Set
            "1.2.840.10008.5.1.4.1.1.7\0",   // Secondary Capture, padded
            // Names with a qualifier after "Storage".
            "1.2.840.10008.5.1.4.1.1.1.1", // Digital X-Ray - For Presentation
            "1.2.840.10008.5.1.4.1.1.1.1.1", // Digital X-Ray - For Processing
            "1.2.840.10008.5.1.4.1.1.1.2", // Digital Mammography - For Presentation
            "1.2.840.10008.5.1.4.1.1.1.3.1", // Digital Intra-Oral - For Processing
            "1.2.840.10008.5.1.4.1.1.13.1.4", // Breast Projection - For Presentation
            "1.2.840.10008.5.1.4.1.1.14.1", // Intravascular OCT - For Presentation
            "1.2.840.10008.5.1.4.1.1.88.4", // Comprehensive SR - Trial (retired)
            "1.2.840.10008.5.1.4.1.1.9.1", // Waveform - Trial (retired)
        ] {
            assert!(is_storage_sop_class(uid), "{uid}");
        }
        for uid in [
            VERIFICATION,
            "1.2.840.10008.1.3.10",        // Media Storage Directory
            "1.2.840.10008.1.20.1",        // Storage Commitment
            "1.2.840.10008.1.20.2",        // Storage Commitment Pull (retired)
            "1.2.840.10008.5.1.4.1.2.2.1", // Study Root FIND
            "1.2.3.4.5",
        ] {
            assert!(!is_storage_sop_class(uid), "{uid}");
        }
    }

    #[test]
    fn transfer_syntaxes_are_registered_for_reading() {
        use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
        use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
        for (uid, _) in TRANSFER_SYNTAXES {
            let ts = TransferSyntaxRegistry.get(uid);
            assert!(
                ts.is_some_and(|t| !t.is_unsupported()),
                "{uid} must be readable by the archive's parser"
            );
        }
        assert!(is_accepted_transfer_syntax("1.2.840.10008.1.2.4.50\0"));
        assert!(!is_accepted_transfer_syntax("1.2.840.10008.1.2.4.100"));
    }
}
