//! Where the regions of a DICOM file held in memory lie, as the audit searches them: the
//! preamble and meta group, the data set before the top-level Pixel Data, the pixel data
//! value, and what follows it (the data set inflated first when it is deflated).

use std::borrow::Cow;
use std::io::Read;
use std::ops::Range;

use archive::scan::{self, Encoding};

use crate::error::FileError;

/// A DICOM file's data set as the audit reads it: inflated when its transfer syntax is
/// deflated, with the top-level Pixel Data element (header included) located in it.
pub(crate) struct Regions<'a> {
    /// Where the data set starts in the file.
    pub(crate) ds_start: usize,
    /// The data set: the file's bytes, or the inflated stream.
    pub(crate) body: Cow<'a, [u8]>,
    /// The top-level Pixel Data element in `body` (empty at its end when there is none).
    pub(crate) pixel: Range<usize>,
    /// Whether `body` was inflated (the meta group is then searched apart).
    pub(crate) deflated: bool,
}

impl<'a> Regions<'a> {
    /// The regions of `bytes`, laid out as `layout` says; the error is why a deflated data set
    /// does not inflate.
    pub(crate) fn of(bytes: &'a [u8], layout: &scan::Layout) -> Result<Regions<'a>, FileError> {
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
    pub(crate) fn meta<'b>(&self, bytes: &'b [u8]) -> &'b [u8] {
        &bytes[..self.ds_start.min(bytes.len())]
    }

    /// The data set before the top-level Pixel Data.
    pub(crate) fn head(&self) -> &[u8] {
        &self.body[..self.pixel.start]
    }

    /// The top-level Pixel Data element.
    pub(crate) fn pixels(&self) -> &[u8] {
        &self.body[self.pixel.clone()]
    }

    /// What follows the top-level Pixel Data.
    pub(crate) fn tail(&self) -> &[u8] {
        &self.body[self.pixel.end..]
    }
}

/// Inflates a deflated data set, refusing to produce more than `limit` bytes.
pub(crate) fn inflate(deflated: &[u8], limit: u64) -> Result<Vec<u8>, FileError> {
    let mut out = Vec::with_capacity(
        deflated
            .len()
            .saturating_mul(4)
            .min(usize::try_from(limit).unwrap_or(usize::MAX)),
    );
    flate2::read::DeflateDecoder::new(deflated)
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(FileError::Inflate)?;
    if out.len() as u64 > limit {
        return Err(FileError::InflatesBeyond { limit });
    }
    Ok(out)
}
