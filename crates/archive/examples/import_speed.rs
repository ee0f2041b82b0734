//! Measures what an import costs with and without durability, and with different numbers of
//! workers, on a dump already on disk:
//! `cargo run --release -p archive --example import_speed -- DUMP WORK_DIR [workers] [fsync|nofsync]`.
//! The archive is created fresh under WORK_DIR and removed afterwards.

use std::path::PathBuf;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: import_speed DUMP WORK_DIR [workers] [fsync|nofsync]";
    let dump = PathBuf::from(args.next().ok_or(usage)?);
    let work = PathBuf::from(args.next().ok_or(usage)?);
    let workers: usize = args.next().map(|w| w.parse()).transpose()?.unwrap_or(0);
    let durable = args.next().as_deref() != Some("nofsync");
    let root = work.join(format!("import-speed-{}", std::process::id()));
    let started = Instant::now();
    let archive = archive::Archive::open(&root)?;
    let opts = archive::ImportOptions {
        workers,
        durable,
        ..archive::ImportOptions::default()
    };
    let s = archive.import(&[dump], &opts, &archive::NoObserver)?;
    let secs = started.elapsed().as_secs_f64();
    drop(archive);
    std::fs::remove_dir_all(&root)?;
    let line = format!(
        "workers={workers} durable={durable}: {} files, {} imported, {:.2} s, {:.0} files/s, {:.0} MB/s",
        s.files_seen,
        s.imported,
        secs,
        s.files_seen as f64 / secs,
        s.bytes_seen as f64 / 1e6 / secs
    );
    std::io::Write::write_all(&mut std::io::stdout(), format!("{line}\n").as_bytes())?;
    Ok(())
}
