//! The safe private attributes kept by the Retain Safe Private Option (PS3.15 E.3.10).
//!
//! PS3.15 Table E.3.10-1 is a sample list of private attributes known to be safe. depot keeps
//! only attributes named here, identified by private creator, group and element byte; it never
//! guesses from the creator alone. The list is a subset of Table E.3.10-1 (transcribed from the
//! 2026d edition as published in pymedphys's `e3_10_1.json`): numeric and coded values only.
//! The table's private sequences, binary blobs and free-text entries are left out on purpose,
//! since their content cannot be checked. Everything else private is removed.

use dicom_core::Tag;

/// One safe private attribute: `(group, xx<element>)` in the block reserved by `creator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SafePrivateEntry {
    /// The private creator (trimmed, compared case-sensitively as PS3.5 requires).
    pub creator: &'static str,
    /// The odd group.
    pub group: u16,
    /// The low byte of the element number (the `yy` of `gggg,xxyy`).
    pub element: u8,
    /// The VR the table gives.
    pub vr: &'static str,
    /// What the attribute holds.
    pub meaning: &'static str,
}

const fn e(
    creator: &'static str,
    group: u16,
    element: u8,
    vr: &'static str,
    meaning: &'static str,
) -> SafePrivateEntry {
    SafePrivateEntry {
        creator,
        group,
        element,
        vr,
        meaning,
    }
}

const PDD: &str = "Philips Imaging DD 001";

static SAFE: &[SafePrivateEntry] = &[
    e(
        "Philips PET Private Group",
        0x7053,
        0x00,
        "DS",
        "SUV Factor",
    ),
    e(
        "Philips PET Private Group",
        0x7053,
        0x09,
        "DS",
        "Activity Concentration Factor",
    ),
    e("ELSCINT1", 0x00E1, 0x21, "DS", "DLP"),
    e("ELSCINT1", 0x00E1, 0x50, "DS", "Acquisition Duration"),
    e("ELSCINT1", 0x01E1, 0x26, "CS", "Phantom Type"),
    e("ELSCINT1", 0x01F1, 0x01, "CS", "Acquisition Type"),
    e("ELSCINT1", 0x01F1, 0x07, "DS", "Table Velocity"),
    e("ELSCINT1", 0x01F1, 0x26, "DS", "Pitch"),
    e("ELSCINT1", 0x01F1, 0x27, "DS", "Rotation Time"),
    e(
        "GEMS_ACQU_01",
        0x0019,
        0x23,
        "DS",
        "Table Speed [mm/rotation]",
    ),
    e("GEMS_ACQU_01", 0x0019, 0x24, "DS", "Mid Scan Time [sec]"),
    e(
        "GEMS_ACQU_01",
        0x0019,
        0x27,
        "DS",
        "Rotation Speed (Gantry Period)",
    ),
    e(
        "GEMS_ACQU_01",
        0x0019,
        0x9E,
        "LO",
        "Internal Pulse Sequence Name",
    ),
    e("GEMS_PARM_01", 0x0043, 0x27, "SH", "Scan Pitch Ratio"),
    e(
        "GEMS_HELIOS_01",
        0x0045,
        0x01,
        "SS",
        "Number of Macro Rows in Detector",
    ),
    e(
        "GEMS_HELIOS_01",
        0x0045,
        0x02,
        "FL",
        "Macro width at ISO Center",
    ),
    e("GEIIS PACS", 0x0903, 0x10, "US", "Reject Image Flag"),
    e("GEIIS PACS", 0x0903, 0x11, "US", "Significant Flag"),
    e("GEIIS PACS", 0x0903, 0x12, "US", "Confidential Flag"),
    e(
        "Philips MR Imaging DD 001",
        0x2005,
        0x0D,
        "FL",
        "Scale Intercept",
    ),
    e(
        "Philips MR Imaging DD 001",
        0x2005,
        0x0E,
        "FL",
        "Scale Slope",
    ),
    e(PDD, 0x2001, 0x01, "FL", "MR Image Chemical Shift"),
    e(PDD, 0x2001, 0x02, "IS", "MR Image Chemical Shift Number"),
    e(PDD, 0x2001, 0x03, "FL", "MR Image Diffusion B-Factor"),
    e(PDD, 0x2001, 0x04, "CS", "MR Image Diffusion Direction"),
    e(PDD, 0x2001, 0x06, "CS", "MR Image Enhanced"),
    e(PDD, 0x2001, 0x07, "CS", "MR Image Type Edes"),
    e(PDD, 0x2001, 0x08, "IS", "MR Image Phase Number"),
    e(PDD, 0x2001, 0x09, "FL", "MR Image Prepulse Delay"),
    e(PDD, 0x2001, 0x0A, "IS", "Image Plane Number"),
    e(PDD, 0x2001, 0x0B, "CS", "Image Plane Orientation"),
    e(PDD, 0x2001, 0x0C, "CS", "MR Series Arrhythmia Rejection"),
    e(PDD, 0x2001, 0x0E, "CS", "MR Series Cardiac Cycled"),
    e(PDD, 0x2001, 0x0F, "SS", "MR Series Cardiac Gate Width"),
    e(PDD, 0x2001, 0x10, "CS", "MR Series Cardiac Sync"),
    e(PDD, 0x2001, 0x11, "FL", "MR Series Diffusion Echo Time"),
    e(PDD, 0x2001, 0x12, "CS", "MR Series Dynamic Series"),
    e(PDD, 0x2001, 0x13, "SL", "MR Series Epi Factor"),
    e(PDD, 0x2001, 0x14, "SL", "MR Series Nr Of Echoes"),
    e(PDD, 0x2001, 0x15, "SS", "MR Series Nr Of Locations"),
    e(
        PDD,
        0x2001,
        0x16,
        "SS",
        "MR Series Nr Of Phase Contrast Directions",
    ),
    e(PDD, 0x2001, 0x17, "SL", "MR Series Nr Of Phases"),
    e(PDD, 0x2001, 0x18, "SL", "MR Series Nr Of Slices"),
    e(PDD, 0x2001, 0x19, "CS", "MR Series Partial Matrix Scanned"),
    e(PDD, 0x2001, 0x1A, "FL", "MR Series Pc Velocity"),
    e(PDD, 0x2001, 0x1B, "FL", "MR Series Prepulse Delay"),
    e(PDD, 0x2001, 0x1C, "CS", "MR Series Prepulse Type"),
    e(PDD, 0x2001, 0x1D, "IS", "MR Series Reconstruction Number"),
    e(PDD, 0x2001, 0x1E, "CS", "MR Series Reformat Accuracy"),
    e(PDD, 0x2001, 0x1F, "CS", "MR Series Respiration Sync"),
    e(
        PDD,
        0x2001,
        0x21,
        "CS",
        "MR Series Sel Part Inversion Recovery",
    ),
    e(PDD, 0x2001, 0x22, "FL", "MR Series Water Fat Shift"),
    e(PDD, 0x2001, 0x23, "DS", "MR Series Flip Angle"),
    e(PDD, 0x2001, 0x24, "CS", "MR Series Is Interactive"),
    e(PDD, 0x2001, 0x25, "SH", "MR Series Echo Time Display"),
    e(PDD, 0x2001, 0x60, "SL", "MR Series Nr Of Stacks"),
    e(PDD, 0x2001, 0x7B, "IS", "MR Series Acquisition Number"),
    e(PDD, 0x2001, 0x81, "IS", "MR Series Nr Of Dynamic Scans"),
    e(PDD, 0x2001, 0x82, "IS", "MR Series Echo Train Length"),
    e(PDD, 0x2001, 0x83, "DS", "MR Series Imaging Frequency"),
    e(PDD, 0x2001, 0x84, "DS", "MR Series Inversion Time"),
    e(PDD, 0x2001, 0x85, "DS", "MR Series Magnetic Field Strength"),
    e(
        PDD,
        0x2001,
        0x86,
        "IS",
        "MR Series Nr Of Phase Encoding Steps",
    ),
    e(PDD, 0x2001, 0x87, "SH", "MR Series Nucleus"),
    e(PDD, 0x2001, 0x88, "DS", "MR Series Number Of Averages"),
    e(
        PDD,
        0x2001,
        0x89,
        "DS",
        "MR Series Percent Phase Field Of View",
    ),
    e(PDD, 0x2001, 0x8A, "DS", "MR Series Percent Sampling"),
];

/// The safe private attributes depot keeps under retain-safe-private.
pub fn safe_private_list() -> &'static [SafePrivateEntry] {
    SAFE
}

/// Whether the private element `tag`, in a block reserved by `creator`, is on the safe list.
pub(crate) fn is_safe(creator: &str, tag: Tag) -> bool {
    let creator = creator.trim_end_matches([' ', '\0']).trim_start();
    let low = (tag.element() & 0x00FF) as u8;
    SAFE.iter()
        .any(|s| s.group == tag.group() && s.element == low && s.creator == creator)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_entries_need_the_right_creator_and_element() {
        assert!(is_safe("GEMS_ACQU_01", Tag(0x0019, 0x1023)));
        assert!(is_safe("GEMS_ACQU_01 ", Tag(0x0019, 0x1123)));
        assert!(!is_safe("GEMS_ACQU_02", Tag(0x0019, 0x1023)));
        assert!(!is_safe("GEMS_ACQU_01", Tag(0x0019, 0x1025)));
        assert!(!is_safe("GEMS_ACQU_01", Tag(0x0021, 0x1023)));
        assert!(safe_private_list().iter().all(|s| s.group % 2 == 1));
    }
}
