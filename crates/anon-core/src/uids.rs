//! Which UIDs identify nothing and are never remapped: class and definition UIDs (kinds of
//! object, transfer syntaxes, coding schemes) and every UID the standard itself defines.

use dicom_core::Tag;

/// Attributes holding class or definition UIDs (never instance identity); never remapped.
pub(crate) const CLASS_UID_TAGS: [Tag; 16] = [
    Tag(0x0000, 0x0002), // AffectedSOPClassUID
    Tag(0x0000, 0x0003), // RequestedSOPClassUID
    Tag(0x0002, 0x0002), // MediaStorageSOPClassUID
    Tag(0x0002, 0x0010), // TransferSyntaxUID
    Tag(0x0002, 0x0012), // ImplementationClassUID
    Tag(0x0004, 0x1510), // ReferencedSOPClassUIDInFile
    Tag(0x0004, 0x1512), // ReferencedTransferSyntaxUIDInFile
    Tag(0x0008, 0x0016), // SOPClassUID
    Tag(0x0008, 0x001A), // RelatedGeneralSOPClassUID
    Tag(0x0008, 0x001B), // OriginalSpecializedSOPClassUID
    Tag(0x0008, 0x0062), // SOPClassesInStudy
    Tag(0x0008, 0x010C), // CodingSchemeUID
    Tag(0x0008, 0x0117), // ContextUID
    Tag(0x0008, 0x0118), // MappingResourceUID
    Tag(0x0008, 0x1150), // ReferencedSOPClassUID
    Tag(0x0400, 0x0010), // MACCalculationTransferSyntaxUID
];

/// Whether a UID is one the standard defines (`1.2.840.10008.*`): never remapped.
pub(crate) fn is_well_known(uid: &str) -> bool {
    uid.starts_with("1.2.840.10008.")
}

/// A UID without its padding (NUL or blanks).
pub(crate) fn clean_uid(s: &str) -> &str {
    s.trim_matches(|c: char| c == '\0' || c.is_whitespace())
}
