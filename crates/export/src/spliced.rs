//! A de-identified file made from its input's own buffer: the new header written just before
//! the input's Pixel Data, so that the pixel bytes (nearly all of a file) are not copied again
//! in memory (`reuse_header`). When the new header is longer than what precedes the Pixel
//! Data, the bytes are put together in a new buffer instead.

use std::ops::{Deref, Range};

/// The bytes of an output file: a range of a buffer.
#[derive(Debug)]
pub(crate) struct Spliced {
    buf: Vec<u8>,
    range: Range<usize>,
}

impl Spliced {
    /// `header` followed by `input[pixels]`, in `input`'s buffer when `header` fits before
    /// `pixels`. `Err(input)`, unchanged, when `pixels` is not a range of `input`.
    pub(crate) fn join(
        mut input: Vec<u8>,
        header: &[u8],
        pixels: Range<usize>,
    ) -> Result<Spliced, Vec<u8>> {
        if input.get(pixels.clone()).is_none() {
            return Err(input);
        }
        match pixels.start.checked_sub(header.len()) {
            Some(start) => {
                if let Some(room) = input.get_mut(start..pixels.start) {
                    room.copy_from_slice(header);
                }
                Ok(Spliced {
                    buf: input,
                    range: start..pixels.end,
                })
            }
            None => {
                let mut buf = Vec::with_capacity(header.len() + pixels.len());
                buf.extend_from_slice(header);
                buf.extend_from_slice(input.get(pixels).unwrap_or_default());
                Ok(Spliced::from(buf))
            }
        }
    }
}

impl From<Vec<u8>> for Spliced {
    fn from(buf: Vec<u8>) -> Spliced {
        let range = 0..buf.len();
        Spliced { buf, range }
    }
}

impl Deref for Spliced {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // The range is checked when made.
        self.buf.get(self.range.clone()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shorter_header_is_written_in_place_a_longer_one_copied() {
        let input = b"HEADER-OLD|PIXELS|TRAIL".to_vec();
        let pixels = 11..17;
        let short = Spliced::join(input.clone(), b"NEW|", pixels.clone()).unwrap();
        assert_eq!(&*short, b"NEW|PIXELS");
        let exact = Spliced::join(input.clone(), b"HEADER-NEW|", pixels.clone()).unwrap();
        assert_eq!(&*exact, b"HEADER-NEW|PIXELS");
        let long = Spliced::join(input.clone(), b"A-MUCH-LONGER-HEADER|", pixels).unwrap();
        assert_eq!(&*long, b"A-MUCH-LONGER-HEADER|PIXELS");
        assert_eq!(
            Spliced::join(input.clone(), b"X", 20..30).unwrap_err(),
            input
        );
        let (start, end) = (5, 3);
        assert_eq!(
            Spliced::join(input.clone(), b"X", start..end).unwrap_err(),
            input
        );
    }

    #[test]
    fn a_whole_buffer_is_its_bytes() {
        assert_eq!(&*Spliced::from(b"abc".to_vec()), b"abc");
        assert_eq!(&*Spliced::from(Vec::new()), b"");
    }
}
