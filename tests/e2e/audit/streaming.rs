//! Files too big to hold are audited by streaming.

use super::*;

// Files too big to hold

/// An explicit VR little endian element with a 16-bit length.
fn element(group: u16, element: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
    let mut value = value.to_vec();
    if value.len() % 2 == 1 {
        value.push(b' ');
    }
    let mut e = Vec::new();
    e.extend_from_slice(&group.to_le_bytes());
    e.extend_from_slice(&element.to_le_bytes());
    e.extend_from_slice(vr);
    e.extend_from_slice(&(value.len() as u16).to_le_bytes());
    e.extend_from_slice(&value);
    e
}

/// Writes a DICOM file at `path` whose Pixel Data holds `pixels` zero bytes (sparse: no disk
/// space) and whose elements after it, a private block, hold `text`.
fn big_dicom(path: &Path, pixels: u32, text: &str) {
    let ts = element(0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2.1\0");
    let mut head = vec![0u8; 128];
    head.extend_from_slice(b"DICM");
    head.extend(element(
        0x0002,
        0x0000,
        b"UL",
        &(ts.len() as u32).to_le_bytes(),
    ));
    head.extend(ts);
    head.extend(element(0x0010, 0x0010, b"PN", b"ANONYMIZED"));
    head.extend(element(0x0012, 0x0062, b"CS", b"YES"));
    head.extend_from_slice(&[0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0]);
    head.extend_from_slice(&pixels.to_le_bytes());
    let mut tail = element(0x7FE1, 0x0010, b"LO", b"ACME");
    tail.extend(element(0x7FE1, 0x1001, b"LO", text.as_bytes()));
    let mut f = std::fs::File::create(path).expect("create");
    f.write_all(&head).expect("write");
    f.set_len(head.len() as u64 + u64::from(pixels))
        .expect("sparse pixel data");
    use std::io::Seek;
    f.seek(std::io::SeekFrom::End(0)).expect("seek");
    f.write_all(&tail).expect("write");
}

/// `depot audit --json PKG` under an address-space limit of `kib` KiB.
fn audit_within(t: &TestDir, pkg: &str, kib: u64) -> Run {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {kib} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_depot"))
        .arg("--archive")
        .arg(t.archive())
        .args(["audit", "--json"])
        .arg(t.join(pkg))
        .current_dir(t.path())
        .env_remove("DEPOT_ARCHIVE")
        .env("DEPOT_KEY_DIR", t.join(".depot-keys"))
        // Few malloc arenas and threads: the address space then measures the data held.
        .env("MALLOC_ARENA_MAX", "2")
        .env("RAYON_NUM_THREADS", "2")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run depot");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn files_bigger_than_memory_allows_are_audited_by_streaming() {
    // A 512 MiB file in a folder package and in a zip, audited within a 400 MB address space:
    // read whole, it could not be held. The name after its pixel data and the private block
    // are still found, by element.
    let t = TestDir::new();
    archive_of(
        &t,
        &[patient_spec(1, "HALVORSEN^INGRID", "MRN-7711", "19700101")],
    );
    export(&t, "pkg", &["--level", "anonymize-full"]).ok();
    big_dicom(&t.join("pkg/big.dcm"), 512 << 20, "HALVORSEN was here");
    // The zip: the package's files and the big one, stored.
    let zip = std::fs::File::create(t.join("pkg.zip")).expect("create");
    let mut z = zip::ZipWriter::new(std::io::BufWriter::new(zip));
    for (rel, bytes) in read_package_small(&t.join("pkg")) {
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(rel == "big.dcm");
        z.start_file(rel.as_str(), opts).expect("entry");
        match bytes {
            Some(b) => z.write_all(&b).expect("write"),
            None => {
                let mut f = std::fs::File::open(t.join("pkg").join(&rel)).expect("open");
                std::io::copy(&mut f, &mut z).expect("copy");
            }
        }
    }
    z.finish().expect("finish");

    for pkg in ["pkg", "pkg.zip"] {
        let run = audit_within(&t, pkg, 400_000).expect_code(1);
        let found: BTreeSet<(String, String, String)> = findings(&run)
            .iter()
            .map(|f| {
                (
                    s(f, "finding").to_string(),
                    s(f, "file").to_string(),
                    f.get("tag")
                        .and_then(|t| t.as_str())
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect();
        let want: BTreeSet<(String, String, String)> = [
            ("value", "(7FE1,1001)"),
            ("private-element", "(7FE1,0010)"),
            ("private-element", "(7FE1,1001)"),
        ]
        .into_iter()
        .map(|(k, tag)| (k.to_string(), "big.dcm".to_string(), tag.to_string()))
        .collect();
        assert_eq!(found, want, "{pkg}: {}\n{}", run.stdout, run.stderr);
        assert!(
            run.json()["bytes"].as_u64().unwrap_or(0) > 512 << 20,
            "{pkg}: the big file was audited"
        );
        assert_silent_about(&run, &["HALVORSEN"]);
    }
}

/// Every file of a folder package by name: its bytes, or `None` for one too big to read.
fn read_package_small(pkg: &Path) -> Vec<(String, Option<Vec<u8>>)> {
    files_below(pkg)
        .into_iter()
        .map(|f| {
            let rel = f
                .strip_prefix(pkg)
                .expect("below")
                .to_string_lossy()
                .replace('\\', "/");
            let small = std::fs::metadata(&f).expect("stat").len() < 1 << 20;
            (rel, small.then(|| std::fs::read(&f).expect("read")))
        })
        .collect()
}
