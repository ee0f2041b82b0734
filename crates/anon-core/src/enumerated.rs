//! Enumerated values of the attributes that hold a structure together: an SR content item's
//! ValueType, RelationshipType and ContinuityOfContent, a graphic's type, a temporal range's
//! type. Each takes one value from a closed list the standard defines (PS3.3 C.17.3,
//! C.18.6, C.18.7, C.10.5), so such a value identifies nobody whatever else it equals, and it
//! is what makes the object readable: cleaning (C) never cuts it. An operator named "Text"
//! must not turn an SR's `TEXT` content items into items of no type. A value that is not on
//! its attribute's list is cleaned as any other code string.

use dicom_core::Tag;

/// The enumerated values of `tag`, if it is one of the structural attributes.
fn values_of(tag: Tag) -> Option<&'static [&'static str]> {
    Some(match (tag.group(), tag.element()) {
        // ValueType (PS3.3 C.17.3.2.1 and Table C.17-10; TABLE since 2020).
        (0x0040, 0xA040) => &[
            "TEXT",
            "NUM",
            "CODE",
            "DATETIME",
            "DATE",
            "TIME",
            "UIDREF",
            "PNAME",
            "COMPOSITE",
            "IMAGE",
            "WAVEFORM",
            "SCOORD",
            "SCOORD3D",
            "TCOORD",
            "CONTAINER",
            "TABLE",
        ],
        // RelationshipType (C.17.3.2.4).
        (0x0040, 0xA010) => &[
            "CONTAINS",
            "HAS PROPERTIES",
            "HAS OBS CONTEXT",
            "HAS ACQ CONTEXT",
            "INFERRED FROM",
            "SELECTED FROM",
            "HAS CONCEPT MOD",
        ],
        // ContinuityOfContent (C.18.2).
        (0x0040, 0xA050) => &["SEPARATE", "CONTINUOUS"],
        // GraphicType of SCOORD, SCOORD3D and presentation state graphics (C.18.6, C.18.9,
        // C.10.5).
        (0x0070, 0x0023) => &[
            "POINT",
            "MULTIPOINT",
            "POLYLINE",
            "POLYGON",
            "CIRCLE",
            "ELLIPSE",
            "ELLIPSOID",
            "INTERPOLATED",
        ],
        // TemporalRangeType (C.18.7).
        (0x0040, 0xA130) => &[
            "POINT",
            "MULTIPOINT",
            "SEGMENT",
            "MULTISEGMENT",
            "BEGIN",
            "END",
        ],
        // BoundingBoxAnnotationUnits, AnchorPointAnnotationUnits, GraphicAnnotationUnits.
        (0x0070, 0x0003) | (0x0070, 0x0004) | (0x0070, 0x0005) => &["PIXEL", "DISPLAY", "MATRIX"],
        _ => return None,
    })
}

/// Whether `value` (trimmed of its padding) is one of the enumerated values of the structural
/// attribute `tag` (see the module doc).
pub(crate) fn is_enumerated_value(tag: Tag, value: &str) -> bool {
    let value = value.trim_matches([' ', '\0']);
    values_of(tag).is_some_and(|values| values.contains(&value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_listed_values_of_the_listed_attributes_are_enumerated() {
        assert!(is_enumerated_value(Tag(0x0040, 0xA040), "TEXT "));
        assert!(is_enumerated_value(Tag(0x0040, 0xA010), "HAS OBS CONTEXT"));
        assert!(is_enumerated_value(Tag(0x0070, 0x0023), "POLYLINE"));
        // Not the value's spelling, not another value, not another attribute.
        assert!(!is_enumerated_value(Tag(0x0040, 0xA040), "Text"));
        assert!(!is_enumerated_value(Tag(0x0040, 0xA040), "SMITH"));
        assert!(!is_enumerated_value(Tag(0x0018, 0x0015), "TEXT"));
    }
}
