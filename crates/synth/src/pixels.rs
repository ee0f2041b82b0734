//! Pixel, overlay and fake-JPEG bytes. Synthetic images need real bytes of the right size (so
//! that sizes, checksums and throughput are realistic) that are cheap to make: a gradient with a
//! disc whose place depends on the instance and frame, so neighbouring images differ.

/// 16-bit little-endian MONOCHROME2 samples (12 bits stored), `rows * columns * frames` pixels.
/// `seed` (e.g. the instance number) moves the disc so that images differ.
pub(crate) fn gradient_u16_le(rows: u16, columns: u16, frames: u32, seed: i32) -> Vec<u8> {
    let (r, c) = (usize::from(rows), usize::from(columns));
    let mut out = Vec::with_capacity(r * c * frames as usize * 2);
    let span = (r + c).max(1);
    for f in 0..frames as usize {
        let (cy, cx, rad2) = disc(r, c, seed, f);
        for y in 0..r {
            let dy = y as i64 - cy;
            for x in 0..c {
                let dx = x as i64 - cx;
                let mut v = ((x + y) * 3000 / span) as u16;
                if dx * dx + dy * dy <= rad2 {
                    v += 1000;
                }
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
    out
}

/// 8-bit samples of the same picture, `rows * columns` of them (one frame).
pub(crate) fn gradient_u8(rows: u16, columns: u16, seed: i32, frame: usize) -> Vec<u8> {
    let (r, c) = (usize::from(rows), usize::from(columns));
    let span = (r + c).max(1);
    let (cy, cx, rad2) = disc(r, c, seed, frame);
    let mut out = Vec::with_capacity(r * c);
    for y in 0..r {
        let dy = y as i64 - cy;
        for x in 0..c {
            let dx = x as i64 - cx;
            let mut v = ((x + y) * 160 / span) as u8;
            if dx * dx + dy * dy <= rad2 {
                v += 80;
            }
            out.push(v);
        }
    }
    out
}

/// Centre (row, column) and squared radius of the bright disc of one frame.
fn disc(r: usize, c: usize, seed: i32, frame: usize) -> (i64, i64, i64) {
    let s = i64::from(seed).unsigned_abs() as usize + frame * 7;
    let cy = (r / 4 + (s * 5) % (r / 2 + 1)) as i64;
    let cx = (c / 4 + (s * 11) % (c / 2 + 1)) as i64;
    let rad = (r.min(c) / 6).max(1) as i64;
    (cy, cx, rad * rad)
}

/// A fake baseline JPEG stream for one frame: starts with FFD8 (SOI) and an APP0/JFIF segment,
/// ends with FFD9 (EOI), even length, and never contains 0xFF in between, so no other marker
/// appears. It does not decode; it only has to look and size like a compressed frame.
pub(crate) fn fake_jpeg(rows: u16, columns: u16, seed: i32, frame: usize) -> Vec<u8> {
    let samples = gradient_u8(rows, columns, seed, frame);
    let mut out = Vec::with_capacity(samples.len() / 4 + 32);
    out.extend_from_slice(&[0xFF, 0xD8]);
    out.extend_from_slice(&[
        0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00,
    ]);
    out.extend_from_slice(&[0x00, 0x01, 0x00, 0x01, 0x00, 0x00]);
    // "Entropy-coded" payload: every fourth sample, clamped below 0xFF.
    out.extend(samples.iter().step_by(4).map(|v| v & 0x7F));
    if out.len() % 2 == 1 {
        out.push(0x00);
    }
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// Overlay bits (1 = set) for a rectangle frame a few pixels inside the image border, packed
/// little-endian bit order as DICOM OverlayData requires, padded to an even byte count.
pub(crate) fn overlay_bits(rows: u16, columns: u16) -> Vec<u8> {
    let (r, c) = (usize::from(rows), usize::from(columns));
    let bits = r * c;
    let mut out = vec![0u8; bits.div_ceil(8).next_multiple_of(2)];
    let m = (r.min(c) / 8).max(1);
    for y in 0..r {
        for x in 0..c {
            let on_border = (y == m || y + m + 1 == r) && x >= m && x + m < c
                || (x == m || x + m + 1 == c) && y >= m && y + m < r;
            if on_border {
                let i = y * c + x;
                if let Some(b) = out.get_mut(i / 8) {
                    *b |= 1 << (i % 8);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradient_has_the_right_size_and_varies() {
        let a = gradient_u16_le(16, 8, 3, 1);
        assert_eq!(a.len(), 16 * 8 * 3 * 2);
        let b = gradient_u16_le(16, 8, 3, 2);
        assert_ne!(a, b, "different instances give different images");
        assert!(
            a.chunks(2).all(|p| u16::from_le_bytes([p[0], p[1]]) < 4096),
            "12 bits stored"
        );
    }

    #[test]
    fn fake_jpeg_is_framed_by_soi_and_eoi() {
        let j = fake_jpeg(32, 32, 1, 0);
        assert_eq!(&j[..2], &[0xFF, 0xD8]);
        assert_eq!(&j[j.len() - 2..], &[0xFF, 0xD9]);
        assert_eq!(j.len() % 2, 0);
        assert!(!j[20..j.len() - 2].contains(&0xFF));
    }

    #[test]
    fn overlay_is_even_and_has_set_bits() {
        let o = overlay_bits(9, 7);
        assert_eq!(o.len() % 2, 0);
        assert!(o.len() * 8 >= 63);
        assert!(o.iter().any(|b| *b != 0));
    }
}
