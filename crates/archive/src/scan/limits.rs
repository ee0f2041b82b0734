//! The scan's limits: how deep sequences may nest, and how far a deflated data set (Deflated
//! Explicit VR Little Endian) may inflate for the size of its file, in all and before its Pixel
//! Data, beyond which it is refused as a decompression bomb. The zip walk bounds compressed
//! entries the same way.

/// Deepest sequence nesting accepted.
pub const MAX_DEPTH: usize = 64;

/// A deflated data set may inflate to at most this many bytes plus
/// [`DEFLATE_RATIO`] times the size of its file.
pub const DEFLATE_ALLOWANCE: u64 = 256 << 20;
/// See [`DEFLATE_ALLOWANCE`]. Sparse segmentations and label maps compress far better than
/// images (a 94 KB deflated SEG can hold 64 MiB of frames).
pub const DEFLATE_RATIO: u64 = 64;
/// The part of a deflated data set before its Pixel Data (what a header-only parse holds in
/// memory, many files at once during an import) may inflate to at most this many bytes plus
/// [`DEFLATE_HEADER_RATIO`] times the size of its file. Headers are kilobytes; a bigger
/// "header" is a decompression bomb aimed at the parser's memory.
pub const DEFLATE_HEADER_ALLOWANCE: u64 = 16 << 20;
/// See [`DEFLATE_HEADER_ALLOWANCE`]. An RTSTRUCT's contour data (text numbers) is its
/// "header" and compresses about 4:1.
pub const DEFLATE_HEADER_RATIO: u64 = 8;

/// The most bytes a deflated data set in a file of `file_size` bytes may inflate to.
pub fn deflate_limit(file_size: u64) -> u64 {
    DEFLATE_ALLOWANCE.saturating_add(file_size.saturating_mul(DEFLATE_RATIO))
}

/// The most bytes the part before Pixel Data of such a data set may inflate to.
pub fn deflate_header_limit(file_size: u64) -> u64 {
    DEFLATE_HEADER_ALLOWANCE.saturating_add(file_size.saturating_mul(DEFLATE_HEADER_RATIO))
}
