//! End-to-end tests of `depot serve` and `depot send` against DICOM programs nobody here wrote
//! (DCMTK's `echoscu`, `storescu` and `storescp`), and the harness of the network tests (a
//! `depot serve` on an ephemeral port, with its log; see also `protocol.rs`).
//!
//! Every server listens on an ephemeral loopback port; every wait has a deadline, so a hung
//! server fails its test instead of hanging the suite. The DCMTK tests skip (saying so) when
//! DCMTK is not installed, unless `DEPOT_REQUIRE_DCMTK` is set (as `.ci/run` sets it once it
//! has installed DCMTK), in which case they fail.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

mod send;
mod serve;

pub(crate) const MR: &str = "1.2.840.10008.5.1.4.1.1.4";
pub(crate) const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
pub(crate) const DEADLINE: Duration = Duration::from_secs(60);

/// Whether DCMTK's network tools are here; otherwise says why the test is skipped (or fails
/// when `DEPOT_REQUIRE_DCMTK` is set).
fn dcmtk() -> bool {
    let missing: Vec<&str> = ["echoscu", "storescu", "storescp"]
        .into_iter()
        .filter(|tool| {
            Command::new(tool)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_err()
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("DEPOT_REQUIRE_DCMTK").is_none(),
        "DEPOT_REQUIRE_DCMTK is set but DCMTK's {missing:?} cannot be run"
    );
    // Straight to the process's stderr, past the test harness's capture: a skip must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "skipping: DCMTK's {missing:?} not installed (apt-get install dcmtk; .ci/run installs it)"
    );
    false
}

/// Runs a program to completion, killing it after `DEADLINE`.
fn run_tool(program: &str, args: &[&str], dir: &Path) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("{program} {args:?} did not finish in {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A running `depot serve`, its stderr collected line by line.
pub(crate) struct Serve {
    child: Child,
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    /// Starts `depot --archive archive serve` on an ephemeral loopback port.
    pub(crate) fn start(t: &TestDir, extra: &[&str]) -> Serve {
        let mut child = t
            .depot()
            .args([
                "--archive",
                "archive",
                "serve",
                "--bind",
                "127.0.0.1",
                "--port",
                "0",
            ])
            .args(extra)
            .spawn();
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    log.lock().unwrap().push(line);
                }
            });
        }
        let mut serve = Serve {
            child,
            port: 0,
            log,
        };
        let line = serve.wait_for("depot: listening on ");
        serve.port = line
            .rsplit(':')
            .next()
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
        serve
    }

    pub(crate) fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Waits for a log line containing `needle` and returns it.
    pub(crate) fn wait_for(&mut self, needle: &str) -> String {
        let started = Instant::now();
        loop {
            if let Some(l) = self.log.lock().unwrap().iter().find(|l| l.contains(needle)) {
                return l.clone();
            }
            if let Some(status) = self.child.try_wait().expect("wait") {
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "depot serve exited ({status}) before logging {needle:?}:\n{}",
                    self.log()
                );
            }
            assert!(
                started.elapsed() < DEADLINE,
                "depot serve did not log {needle:?} in time:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` and waits for the exit; returns the exit code and the log.
    fn stop_with(mut self, signal: &str) -> (Option<i32>, String) {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("kill");
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                std::thread::sleep(Duration::from_millis(100));
                return (status.code(), self.log());
            }
            if started.elapsed() > DEADLINE {
                let _ = self.child.kill();
                panic!("depot serve did not stop after {signal}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn stop(self) -> (Option<i32>, String) {
        self.stop_with("-INT")
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port (for storescp, which cannot be asked for an ephemeral one).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A running DCMTK storescp writing what it receives, bit for bit, into `dir`.
struct StoreScp {
    child: Child,
    port: u16,
}

impl StoreScp {
    /// Starts storescp on a free port; if another process took the port first (storescp
    /// exits), tries another.
    fn start(dir: &Path, extra: &[&str]) -> StoreScp {
        std::fs::create_dir_all(dir).expect("mkdir");
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new("storescp")
                .args(["-aet", "STORESCP", "+B", "-od"])
                .arg(dir)
                .args(extra)
                .arg(port.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("storescp");
            let started = Instant::now();
            loop {
                if child.try_wait().expect("wait").is_some() {
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return StoreScp { child, port };
                }
                assert!(started.elapsed() < DEADLINE, "storescp did not listen");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("storescp could not listen on any of 5 free ports");
    }
}

impl Drop for StoreScp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A storescu configuration proposing each SOP class of a synth dump in each transfer syntax
/// on a context of its own, so that storescu sends every file in its own syntax (nothing is
/// converted on the way).
const SCU_CONFIG: &str = r"
[[TransferSyntaxes]]
[LEE]
TransferSyntax1 = LittleEndianExplicit
[LEI]
TransferSyntax1 = LittleEndianImplicit
[BEE]
TransferSyntax1 = BigEndianExplicit
[DEF]
TransferSyntax1 = DeflatedLittleEndianExplicit
[JPB]
TransferSyntax1 = JPEGBaseline

[[PresentationContexts]]
[Synth]
PresentationContext1 = MRImageStorage\LEE
PresentationContext2 = MRImageStorage\LEI
PresentationContext3 = MRImageStorage\BEE
PresentationContext4 = MRImageStorage\DEF
PresentationContext5 = EnhancedMRImageStorage\LEE
PresentationContext6 = EnhancedMRImageStorage\LEI
PresentationContext7 = UltrasoundImageStorage\JPB
PresentationContext8 = ComprehensiveSRStorage\LEE
PresentationContext9 = ComprehensiveSRStorage\LEI

[[Profiles]]
[Synth]
PresentationContexts = Synth
";

/// A synth dump covering every transfer syntax synth writes (explicit and implicit VR, big
/// endian, deflated, JPEG, multi-frame, SR): 2 subjects, 26 files.
fn synth_dump(t: &TestDir, out: &str) -> PathBuf {
    t.depot()
        .args([
            "synth",
            "--out",
            out,
            "--quiet",
            "--subjects",
            "2",
            "--studies",
            "1",
        ])
        .args([
            "--series",
            "6",
            "--instances",
            "2",
            "--rows",
            "16",
            "--columns",
            "16",
        ])
        .run()
        .ok();
    std::fs::write(t.join("scu.cfg"), SCU_CONFIG).expect("config");
    t.join(out)
}

/// `storescu` of a folder's files to `port` (as `calling`, calling `called`), one context per
/// syntax. The files are given in the order `depot import` walks a folder (by path, component
/// by component), so that study numbers and series labels, which follow the order of arrival,
/// can be compared with a folder import.
fn storescu(t: &TestDir, calling: &str, port: u16, called: &str, dump: &Path) -> Output {
    let port = port.to_string();
    let files: Vec<String> = files_below(dump)
        .into_iter()
        .map(|p| p.to_str().expect("utf8").to_string())
        .collect();
    let mut args: Vec<&str> = vec![
        "-aet",
        calling,
        "-aec",
        called,
        "-xf",
        "scu.cfg",
        "Synth",
        "-nh",
        "-to",
        "20",
        "-ta",
        "20",
        "-td",
        "60",
        "127.0.0.1",
        &port,
    ];
    args.extend(files.iter().map(String::as_str));
    run_tool("storescu", &args, t.path())
}

pub(crate) fn query(t: &TestDir, archive: &str, what: &str) -> Vec<Value> {
    let run = t
        .depot()
        .args(["--archive", archive, "query", what, "--format", "json"])
        .run()
        .ok();
    run.json().as_array().cloned().unwrap_or_default()
}

/// The archive's instances as comparable rows: the subject by its PatientID (archive codes are
/// random), then everything the index says about where each instance is filed.
fn layout(t: &TestDir, archive: &str) -> BTreeSet<String> {
    let ids: BTreeMap<String, String> = query(t, archive, "subjects")
        .into_iter()
        .map(|s| {
            (
                s["subject"].as_str().unwrap_or_default().to_string(),
                s["patient_id"].to_string(),
            )
        })
        .collect();
    query(t, archive, "instances")
        .into_iter()
        .map(|i| {
            format!(
                "{} {} {} {} {} {} {} {} {} {}",
                ids[i["subject"].as_str().unwrap()],
                i["study_number"],
                i["series_label"],
                i["study_uid"],
                i["series_uid"],
                i["sop_uid"],
                i["sop_class_uid"],
                i["transfer_syntax"],
                i["instance_number"],
                i["number_of_frames"],
            )
        })
        .collect()
}

/// A Part 10 file's meta information and data set.
pub(crate) fn split_file(bytes: &[u8]) -> (dicom_object::meta::FileMetaTable, &[u8]) {
    assert_eq!(&bytes[128..132], b"DICM");
    let group_length = u32::from_le_bytes(bytes[140..144].try_into().unwrap()) as usize;
    let meta = dicom_object::meta::FileMetaTable::from_reader(&bytes[128..]).expect("meta");
    (meta, &bytes[144 + group_length..])
}

fn clean(uid: &str) -> &str {
    uid.trim_end_matches(['\0', ' '])
}

/// SOP Instance UID -> data set, for every file below `dir`.
fn data_sets(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    files_below(dir)
        .into_iter()
        .filter_map(|p| {
            let bytes = std::fs::read(&p).ok()?;
            if bytes.get(128..132) != Some(b"DICM") {
                return None;
            }
            let (meta, data) = split_file(&bytes);
            Some((
                clean(meta.media_storage_sop_instance_uid()).to_string(),
                data.to_vec(),
            ))
        })
        .collect()
}
