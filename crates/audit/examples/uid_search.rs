//! Measures the audit's prepared search for an export's original UIDs: how long building it
//! takes and how long searching headers that hold such UIDs takes, for N UIDs:
//! `cargo run --release -p audit --example uid_search -- N [headers]`.
//!
//! The UIDs are shaped as an export sees them (`2.25.` and a 38-digit number, as depot's synthetic
//! data and many scanners spell them), one SOPInstanceUID per file, a SeriesInstanceUID per
//! 100 files and a StudyInstanceUID per 1,000, plus a FrameOfReferenceUID per series. The
//! heap the search holds is measured from outside, e.g. with
//! `valgrind --tool=dhat target/release/examples/uid_search N 0`: the needles are dropped
//! once the auditor is built, and the example exits without dropping it, so what is left at
//! the end is the auditor's (with the 64 headers searched, 70 kB).

use std::time::Instant;

use audit::owners::OwnedNeedle;
use audit::{Auditor, Needle, Rules, ValueKind};

/// A UID of `2.25.` and 38 digits derived from `n` and `salt`.
fn uid(n: u64, salt: u64) -> String {
    let mut x = n
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(salt.wrapping_mul(0xD1B5_4A32_D192_ED03));
    let mut digits = String::with_capacity(38);
    while digits.len() < 38 {
        x ^= x >> 31;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x ^= x >> 27;
        digits.push_str(&format!("{:019}", x % 10_000_000_000_000_000_000));
    }
    digits.truncate(38);
    format!("2.25.{}", digits.trim_start_matches('0'))
}

fn needles(files: u64) -> Vec<OwnedNeedle> {
    let mut out = Vec::new();
    let mut push = |label: &str, value: String| {
        out.push(OwnedNeedle::new(
            Needle::new(label, ValueKind::Uid, value),
            Vec::new(),
        ));
    };
    for f in 0..files {
        push("SOPInstanceUID", uid(f, 1));
        if f % 100 == 0 {
            push("SeriesInstanceUID", uid(f / 100, 2));
            push("FrameOfReferenceUID", uid(f / 100, 3));
        }
        if f % 1000 == 0 {
            push("StudyInstanceUID", uid(f / 1000, 4));
        }
    }
    // A patient's values, as an export's auditor has them too.
    out.push(OwnedNeedle::new(
        Needle::new("PatientName", ValueKind::PersonName, "DOE^JOHNATHAN"),
        vec!["PA".into()],
    ));
    out.push(OwnedNeedle::new(
        Needle::new("PatientID", ValueKind::Identifier, "MRN9053855"),
        vec!["PA".into()],
    ));
    out
}

/// A text standing for a de-identified header: new UIDs, dates, numbers, and words.
fn header(i: u64) -> Vec<u8> {
    let mut h = Vec::new();
    for k in 0..8 {
        h.extend_from_slice(b"\x08\x00\x18\x00UI\x40\x00");
        h.extend_from_slice(uid(i * 8 + k, 99).as_bytes());
        h.extend_from_slice(b"\x00 20240101 120000.000000 1.5\\2.25 ORIGINAL\\PRIMARY ");
    }
    h.extend_from_slice(&[0u8; 256]);
    h
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: uid_search FILES [headers]";
    let files: u64 = args.next().ok_or(usage)?.parse()?;
    let headers: u64 = args
        .next()
        .map(|h| h.parse())
        .transpose()?
        .unwrap_or(20_000);
    let needles = needles(files);
    let count = needles.len();
    let started = Instant::now();
    let auditor = Auditor::owned(&needles, Rules::default())?;
    let built = started.elapsed().as_secs_f64();
    drop(needles);
    let texts: Vec<Vec<u8>> = (0..64).map(header).collect();
    let started = Instant::now();
    let mut findings = 0;
    for text in texts.iter().cycle().take(usize::try_from(headers)?) {
        findings += auditor.scan_file("PA/x.txt", text).len();
    }
    let searched = started.elapsed().as_secs_f64();
    println!(
        "{count} needles, {} spellings searched: built in {built:.3} s; {headers} headers of {} bytes searched in {searched:.3} s ({:.1} us each), {findings} findings",
        auditor.searched_values(),
        texts[0].len(),
        searched * 1e6 / headers.max(1) as f64,
    );
    // Exits without dropping the auditor, so that what a heap profiler finds still allocated
    // at the end is what the auditor holds.
    std::process::exit(0)
}
