//! Where the regions of a DICOM file held in memory lie, as the audit searches them: the
//! preamble and meta group, the data set before the top-level Pixel Data, the pixel data
//! value, and what follows it (the data set inflated first when it is deflated).

use std::borrow::Cow;
use std::ops::Range;

use archive::scan::{self, Encoding};

use super::inflate;

/// A DICOM file's data set as the audit reads it: inflated when its transfer syntax is
/// deflated, with the top-level Pixel Data element (header included) located in it.
pub(super) struct Regions<'a> {
    /// Where the data set starts in the file.
    pub(super) ds_start: usize,
    /// The data set: the file's bytes, or the inflated stream.
    pub(super) body: Cow<'a, [u8]>,
    /// The top-level Pixel Data element in `body` (empty at its end when there is none).
    pub(super) pixel: Range<usize>,
    /// Whether `body` was inflated (the meta group is then searched apart).
    pub(super) deflated: bool,
}

impl<'a> Regions<'a> {
    /// The regions of `bytes`, laid out as `layout` says; the error is why a deflated data set
    /// does not inflate.
    pub(super) fn of(bytes: &'a [u8], layout: &scan::Layout) -> Result<Regions<'a>, String> {
        let ds_start = usize::try_from(layout.data_set_start)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let deflated = layout.encoding == Encoding::Deflated;
        let body: Cow<'a, [u8]> = if deflated {
            let limit = scan::deflate_limit(bytes.len() as u64);
            Cow::Owned(inflate(bytes.get(ds_start..).unwrap_or_default(), limit)?)
        } else {
            Cow::Borrowed(bytes.get(ds_start..).unwrap_or_default())
        };
        let pixel = layout
            .pixel_data
            .as_ref()
            .and_then(|r| {
                let start = usize::try_from(r.start).ok()?.min(body.len());
                let end = usize::try_from(r.end).ok()?.min(body.len());
                Some(start..end.max(start))
            })
            .unwrap_or(body.len()..body.len());
        Ok(Regions {
            ds_start,
            body,
            pixel,
            deflated,
        })
    }

    /// The preamble, `DICM` and meta group.
    pub(super) fn meta<'b>(&self, bytes: &'b [u8]) -> &'b [u8] {
        &bytes[..self.ds_start.min(bytes.len())]
    }

    /// The data set before the top-level Pixel Data.
    pub(super) fn head(&self) -> &[u8] {
        &self.body[..self.pixel.start]
    }

    /// The top-level Pixel Data element.
    pub(super) fn pixels(&self) -> &[u8] {
        &self.body[self.pixel.clone()]
    }

    /// What follows the top-level Pixel Data.
    pub(super) fn tail(&self) -> &[u8] {
        &self.body[self.pixel.end..]
    }
}
