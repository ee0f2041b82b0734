//! The pixel data search holds a few matches at a time, whatever the pixel data repeats: a
//! file whose pixel data spells one of its original UIDs at every other byte (bytes whoever
//! made the file chose, `1.1.1.1...`) is searched in bounded memory, as it was when the UIDs
//! were patterns of the automaton.
//!
//! A test binary of its own: it measures the process's peak resident memory (Linux's
//! `VmHWM`), which tests running beside it would disturb.

#![cfg(target_os = "linux")]

use audit::owners::OwnedNeedle;
use audit::{Auditor, Finding, Needle, Rules, ValueKind};

/// The process's peak resident memory, in kB.
fn peak_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// An explicit VR little endian element with a 16-bit length.
fn short(group: u16, element: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
    let mut e = Vec::new();
    e.extend_from_slice(&group.to_le_bytes());
    e.extend_from_slice(&element.to_le_bytes());
    e.extend_from_slice(vr);
    e.extend_from_slice(&u16::try_from(value.len()).expect("short").to_le_bytes());
    e.extend_from_slice(value);
    e
}

/// A Part 10 file, explicit VR little endian: `body` after the meta group.
fn file(body: &[u8]) -> Vec<u8> {
    let meta = short(0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2.1\0");
    let mut bytes = vec![0u8; 128];
    bytes.extend_from_slice(b"DICM");
    bytes.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, b'U', b'L', 4, 0]);
    bytes.extend_from_slice(&u32::try_from(meta.len()).expect("meta").to_le_bytes());
    bytes.extend_from_slice(&meta);
    bytes.extend_from_slice(body);
    bytes
}

#[test]
fn pixel_data_repeating_an_original_uid_is_searched_in_bounded_memory() {
    let uid = "1.1.1.1.1.1.1.1.1.1.1";
    let needles = [OwnedNeedle::new(
        Needle::new("SOPInstanceUID", ValueKind::Uid, uid),
        Vec::new(),
    )];
    let auditor = Auditor::owned(
        &needles,
        Rules {
            forbid_private: false,
            require_identity_removed: false,
        },
    )
    .expect("auditor");
    // 4 MiB of pixel data spelling the UID at every other byte: 2 million occurrences.
    const PIXELS: usize = 4 << 20;
    let mut body = short(0x0008, 0x0018, b"UI", b"2.25.1234567890\0");
    body.extend_from_slice(&[0xE0, 0x7F, 0x10, 0x00, b'O', b'W', 0, 0]);
    body.extend_from_slice(&u32::try_from(PIXELS).expect("len").to_le_bytes());
    body.extend(b"1.".iter().copied().cycle().take(PIXELS));
    let bytes = file(&body);
    drop(body);

    // The peak from here on (reset where the kernel lets the process; else the peak so far is
    // what building the file took, and the search's counts only above it).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let before = peak_kb();
    let findings = auditor.scan_file("PA/1/1/00001.dcm", &bytes);
    let grown_mb = peak_kb().saturating_sub(before) / 1024;

    assert!(
        findings.iter().any(|f| matches!(
            f,
            Finding::Value { what, .. } if what == "SOPInstanceUID"
        )),
        "the UID is found in the pixel data: {findings:?}"
    );
    // The file itself is 4 MiB; gathering every occurrence took over 100 MB.
    assert!(
        grown_mb < 32,
        "searching 4 MiB of pixel data took {grown_mb} MB more at its peak"
    );
}
