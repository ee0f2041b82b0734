//! Where long values can lie in bytes that are mostly not text (pixel data): runs of bytes
//! that can spell them, found without looking at every byte.

use std::ops::Range;

/// The runs of at least `min` consecutive bytes of `hay` that all belong to `alphabet`: the only
/// places a value of `min` bytes or more spelled with those bytes can occur.
///
/// Such a run covers `min` consecutive positions, so it contains a position on any grid of step
/// `min`: only every `min`-th byte is looked at, and the neighbourhood only of those in the
/// alphabet. Image data rarely has long runs of text bytes (16-bit samples have small high
/// bytes), so most of a pixel data value is skipped at a sixth of a lookup per byte.
pub(crate) fn alphabet_runs(hay: &[u8], alphabet: &[bool; 256], min: usize) -> Vec<Range<usize>> {
    let inside = |i: usize| hay.get(i).is_some_and(|b| alphabet[usize::from(*b)]);
    let step = min.max(1);
    let mut runs = Vec::new();
    let mut floor = 0; // nothing before this belongs to a run not yet reported
    let mut pos = min.saturating_sub(1);
    while pos < hay.len() {
        // Four grid positions at a time, with one branch: in image data nearly every
        // position is outside.
        if let Some(four) = hay.get(pos..=pos + 3 * step)
            && !(alphabet[usize::from(four[0])]
                | alphabet[usize::from(four[step])]
                | alphabet[usize::from(four[2 * step])]
                | alphabet[usize::from(four[3 * step])])
        {
            pos += 4 * step;
            continue;
        }
        if !inside(pos) {
            pos += step;
            continue;
        }
        let mut start = pos;
        while start > floor && inside(start - 1) {
            start -= 1;
        }
        let mut end = pos + 1;
        while end < hay.len() && inside(end) {
            end += 1;
        }
        if end - start >= min {
            runs.push(start..end);
        }
        floor = end;
        pos = end + step;
    }
    runs
}
