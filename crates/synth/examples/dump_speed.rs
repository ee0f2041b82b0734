//! Measures dump generation speed without the CLI: `cargo run --release -p synth --example
//! dump_speed -- OUT SUBJECTS STUDIES SERIES INSTANCES ROWS COLUMNS` (all after OUT optional;
//! defaults give 10 × 2 × 5 × 100 = 10,020 files at 512×512). Useful when the CLI does not build.

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = args
        .first()
        .ok_or("usage: dump_speed OUT [SUBJECTS STUDIES SERIES INSTANCES ROWS COLUMNS]")?;
    let num = |i: usize, d: u32| -> Result<u32, std::num::ParseIntError> {
        args.get(i).map_or(Ok(d), |s| s.parse())
    };
    let opts = synth::DumpOptions {
        subjects: num(1, 10)?,
        studies_per_subject: num(2, 2)?,
        series_per_study: num(3, 5)?,
        instances_per_series: num(4, 100)?,
        rows: u16::try_from(num(5, 512)?)?,
        columns: u16::try_from(num(6, 512)?)?,
        seed: 1,
    };
    let t = Instant::now();
    let s = synth::write_dump(std::path::Path::new(out), &opts)?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{} files, {:.1} MB in {:.2} s: {:.0} files/s, {:.0} MB/s",
        s.files,
        s.bytes as f64 / 1e6,
        secs,
        s.files as f64 / secs,
        s.bytes as f64 / 1e6 / secs
    );
    Ok(())
}
