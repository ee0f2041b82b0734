//! A file meta group without its group length (0002,0000): how long the group is, found the way
//! DCMTK finds it (the explicit VR little endian (0002,xxxx) elements that open the file), and
//! a copy of the file with the group length inserted in front of them.

use crate::scan::{ScanError, short_vr};

/// `Some(copy)` with a File Meta Information Group Length inserted when the meta group starting
/// at `start` (just after `DICM`) lacks one; `None` when it has one, or when the file does not
/// start with a (0002,xxxx) element at all (the scan then names the problem).
pub fn with_group_length(bytes: &[u8], start: usize) -> Result<Option<Vec<u8>>, ScanError> {
    let Some(len) = missing_group_length(bytes, start)? else {
        return Ok(None);
    };
    let mut out = Vec::with_capacity(bytes.len() + 12);
    out.extend_from_slice(bytes.get(..start).unwrap_or_default());
    out.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, b'U', b'L', 4, 0]);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
    Ok(Some(out))
}

/// The length of a meta group that has no group length element; `None` if it has one or there
/// is no meta group.
fn missing_group_length(bytes: &[u8], start: usize) -> Result<Option<u32>, ScanError> {
    let tag_at = |pos: usize| -> Option<(u16, u16)> {
        let b = bytes.get(pos..pos.checked_add(4)?)?;
        Some((
            u16::from_le_bytes([b[0], b[1]]),
            u16::from_le_bytes([b[2], b[3]]),
        ))
    };
    match tag_at(start) {
        Some((0x0002, 0x0000)) | None => return Ok(None),
        Some((0x0002, _)) => {}
        Some(_) => return Ok(None),
    }
    let mut pos = start;
    while let Some((0x0002, element)) = tag_at(pos) {
        let truncated = ScanError::Truncated {
            group: 0x0002,
            element,
        };
        let vr = bytes.get(pos + 4..pos + 6).ok_or(truncated.clone())?;
        let (header, len) = if short_vr([vr[0], vr[1]]) {
            let l = bytes.get(pos + 6..pos + 8).ok_or(truncated.clone())?;
            (8, u64::from(u16::from_le_bytes([l[0], l[1]])))
        } else {
            let l = bytes.get(pos + 8..pos + 12).ok_or(truncated.clone())?;
            (12, u64::from(u32::from_le_bytes([l[0], l[1], l[2], l[3]])))
        };
        if len == u64::from(u32::MAX) {
            return Err(ScanError::Malformed(format!(
                "file meta group: element (0002,{element:04X}) has an undefined length"
            )));
        }
        let value_start = pos + header;
        let remaining = bytes.len().saturating_sub(value_start) as u64;
        if len > remaining {
            return Err(ScanError::Length {
                group: 0x0002,
                element,
                declared: len,
                remaining,
            });
        }
        pos = value_start + len as usize;
    }
    u32::try_from(pos - start)
        .map(Some)
        .map_err(|_| ScanError::Malformed("file meta group: longer than 4 GB".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn element(element: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
        let mut e = vec![0x02, 0x00];
        e.extend_from_slice(&element.to_le_bytes());
        e.extend_from_slice(vr);
        if short_vr(*vr) {
            e.extend_from_slice(&(value.len() as u16).to_le_bytes());
        } else {
            e.extend_from_slice(&[0, 0]);
            e.extend_from_slice(&(value.len() as u32).to_le_bytes());
        }
        e.extend_from_slice(value);
        e
    }

    #[test]
    fn a_group_length_is_inserted_counting_the_meta_elements() {
        let mut meta = element(0x0001, b"OB", &[0, 1]);
        meta.extend(element(0x0010, b"UI", b"1.2.840.10008.1.2\0"));
        let mut file = b"DICM".to_vec();
        file.extend_from_slice(&meta);
        file.extend_from_slice(&[0x08, 0x00, 0x18, 0x00, 4, 0, 0, 0, b'1', b'.', b'2', 0]);
        let fixed = with_group_length(&file, 4).unwrap().expect("repaired");
        assert_eq!(&fixed[4..12], &[0x02, 0x00, 0x00, 0x00, b'U', b'L', 4, 0]);
        assert_eq!(
            u32::from_le_bytes(fixed[12..16].try_into().unwrap()) as usize,
            meta.len()
        );
        assert_eq!(&fixed[16..], &file[4..]);
        // A meta group with its group length is left alone.
        assert_eq!(with_group_length(&fixed, 4).unwrap(), None);
    }

    #[test]
    fn a_meta_element_longer_than_the_file_is_refused() {
        let mut file = b"DICM".to_vec();
        file.extend(element(0x0001, b"OB", &[0, 1]));
        file.extend_from_slice(&[0x02, 0x00, 0x10, 0x00, b'U', b'I', 200, 0, b'1']);
        assert!(matches!(
            with_group_length(&file, 4),
            Err(ScanError::Length { element: 0x10, .. })
        ));
    }
}
