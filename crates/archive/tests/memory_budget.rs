//! The parse memory budget under files crafted to maximise the parser's memory: every sequence
//! item holding one tiny element, which dicom-rs turns into a map node of 1.3 kB per 18 bytes
//! of file. Eight such files of 0.9 MB would take some 550 MB parsed at once by eight workers;
//! the shared budget (160 MiB by default) lets at most one be parsed at a time, and a file
//! that alone needs more than the budget is refused with the reason.
//!
//! The process's peak resident memory is measured around the import (Linux: the high-water
//! mark is reset through `/proc/self/clear_refs`), with the allocator the `depot` binary uses.
//! This file holds one test so that nothing else runs in its process meanwhile.

#![cfg(target_os = "linux")]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

use archive::{Archive, FileOutcome, ImportObserver, ImportOptions, Outcome};
use synth::fixture;

/// As in the `depot` binary (see its `main.rs`): with the C library's allocator, each worker
/// thread keeps what it freed in an arena of its own.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// An explicit VR little endian element.
fn element(out: &mut Vec<u8>, group: u16, elem: u16, vr: &[u8; 2], value: &[u8]) {
    out.extend(group.to_le_bytes());
    out.extend(elem.to_le_bytes());
    out.extend(vr);
    if matches!(
        vr,
        b"UI" | b"LO" | b"UL" | b"CS" | b"DA" | b"TM" | b"SH" | b"PN"
    ) {
        out.extend(u16::try_from(value.len()).unwrap().to_le_bytes());
    } else {
        out.extend([0, 0]);
        out.extend(u32::try_from(value.len()).unwrap().to_le_bytes());
    }
    out.extend(value);
}

/// A valid instance (explicit VR little endian) whose Referenced Image Sequence holds `items`
/// items of one Referenced SOP Instance UID each.
fn crafted(n: u32, items: u32) -> Vec<u8> {
    let sop = format!("1.2.3.4.{n}\0");
    let mut meta = Vec::new();
    element(&mut meta, 0x0002, 0x0001, b"OB", &[0, 1]);
    element(
        &mut meta,
        0x0002,
        0x0002,
        b"UI",
        b"1.2.840.10008.5.1.4.1.1.7\0",
    );
    element(&mut meta, 0x0002, 0x0003, b"UI", sop.as_bytes());
    element(&mut meta, 0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2.1\0");
    let mut f = vec![0u8; 128];
    f.extend(b"DICM");
    element(
        &mut f,
        0x0002,
        0x0000,
        b"UL",
        &u32::try_from(meta.len()).unwrap().to_le_bytes(),
    );
    f.extend(meta);
    element(
        &mut f,
        0x0008,
        0x0016,
        b"UI",
        b"1.2.840.10008.5.1.4.1.1.7\0",
    );
    element(&mut f, 0x0008, 0x0018, b"UI", sop.as_bytes());
    element(&mut f, 0x0008, 0x0060, b"CS", b"OT");
    // Referenced Image Sequence, undefined length.
    f.extend([0x08, 0x00, 0x40, 0x11]);
    f.extend(b"SQ\0\0");
    f.extend(u32::MAX.to_le_bytes());
    for _ in 0..items {
        f.extend([0xFE, 0xFF, 0x00, 0xE0]);
        f.extend(10u32.to_le_bytes());
        element(&mut f, 0x0008, 0x1155, b"UI", b"1\0");
    }
    f.extend([0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
    element(&mut f, 0x0010, 0x0020, b"LO", b"CRAFTED ");
    element(&mut f, 0x0020, 0x000D, b"UI", b"1.2.3\0");
    element(&mut f, 0x0020, 0x000E, b"UI", b"1.2.3.4\0");
    f
}

/// Resident memory figures of this process in kB: (current, peak).
fn rss_kb() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[derive(Default)]
struct Collect(Mutex<BTreeMap<String, Outcome>>);

impl ImportObserver for Collect {
    fn file_done(&self, o: &FileOutcome) {
        self.0
            .lock()
            .unwrap()
            .insert(o.source.clone(), o.outcome.clone());
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap();
}

#[test]
fn crafted_files_cannot_take_more_than_the_budget() {
    let budget = archive::memory::Budget::global().total();
    assert_eq!(
        budget,
        archive::memory::DEFAULT_BUDGET,
        "DEPOT_PARSE_MEMORY_MB is not set"
    );
    let tmp = tempfile::tempdir().unwrap();
    let dump = tmp.path().join("dump");
    std::fs::create_dir(&dump).unwrap();
    // Eight files of 0.9 MB (50,000 items, about 83 MB estimated each), one for each worker;
    // one of 3 MB (about 279 MB estimated: over the budget); one real instance.
    for n in 0..8 {
        write(&dump, &format!("crafted-{n}.dcm"), &crafted(n, 50_000));
    }
    write(&dump, "too-big.dcm", &crafted(99, 175_000));
    let real = fixture::instance("P1", "1.2.9", "1.2.9.1", "1.2.9.1.1");
    write(&dump, "real.dcm", &real.to_bytes().unwrap());

    let archive = Archive::open(&tmp.path().join("archive")).unwrap();
    // Reset the peak to what is resident now.
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let (before, _) = rss_kb();
    let collect = Collect::default();
    let opts = ImportOptions {
        project: "p".into(),
        workers: 8,
        ..ImportOptions::default()
    };
    let summary = archive
        .import(std::slice::from_ref(&dump), &opts, &collect)
        .unwrap();
    let (_, peak) = rss_kb();
    let grown_mb = peak.saturating_sub(before) / 1024;

    assert_eq!(summary.imported, 9, "{:?}", collect.0.lock().unwrap());
    assert_eq!(summary.rejected, 1);
    let outcomes = collect.0.lock().unwrap();
    let (_, refused) = outcomes
        .iter()
        .find(|(source, _)| source.ends_with("too-big.dcm"))
        .unwrap();
    let Outcome::Rejected { reason } = refused else {
        panic!("too-big.dcm: {refused:?}");
    };
    assert!(
        reason.contains("175000 sequence items") && reason.contains("DEPOT_PARSE_MEMORY_MB"),
        "{reason}"
    );
    // One crafted file parsed at a time (about 85 MB), the workers' buffers and the rest of
    // the import; eight at once take about 550 MB.
    assert!(
        grown_mb < 300,
        "peak resident memory grew by {grown_mb} MB during the import"
    );
}
