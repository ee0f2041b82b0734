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

#[test]
fn storescu_into_serve_matches_a_folder_import_and_is_stored_as_sent() {
    if !dcmtk() {
        return;
    }
    let t = TestDir::new();
    let dump = synth_dump(&t, "dump");
    let serve = Serve::start(&t, &["--aet", "DEPOT"]);
    let echo = run_tool(
        "echoscu",
        &[
            "-aet",
            "ECHOER",
            "-aec",
            "DEPOT",
            "127.0.0.1",
            &serve.port.to_string(),
        ],
        t.path(),
    );
    assert!(echo.status.success(), "echoscu: {}", text(&echo));
    let sent = storescu(&t, "MODALITY", serve.port, "DEPOT", &dump);
    assert!(sent.status.success(), "storescu: {}", text(&sent));
    // The same files again: duplicates, answered Success, nothing stored twice.
    let again = storescu(&t, "MODALITY", serve.port, "DEPOT", &dump);
    assert!(again.status.success(), "storescu again: {}", text(&again));
    let (code, log) = serve.stop();
    assert_eq!(code, Some(0), "{log}");
    assert!(log.contains("ECHOER @ 127.0.0.1:"), "{log}");
    assert!(log.contains("1 echo"), "{log}");
    assert!(
        log.contains("26 instances (26 stored, 0 duplicates, 0 failed)"),
        "{log}"
    );
    assert!(
        log.contains("26 instances (0 stored, 26 duplicates, 0 failed)"),
        "{log}"
    );

    // The same archive as a folder import of the same files, instance for instance.
    t.depot()
        .args(["--archive", "folder", "import", "dump", "--quiet"])
        .run()
        .ok();
    let received = layout(&t, "archive");
    assert_eq!(received.len(), 26);
    assert_eq!(received, layout(&t, "folder"));
    let syntaxes: BTreeSet<String> = query(&t, "archive", "instances")
        .iter()
        .map(|i| {
            i["transfer_syntax"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(syntaxes.len(), 5, "every syntax kept: {syntaxes:?}");

    // Stored as received: each stored data set is byte for byte what storescu sent, as DCMTK's
    // own storescp (bit-preserving) writes it from the same transmission; the meta group is
    // depot's, naming the instance and its syntax.
    let reference = StoreScp::start(&t.join("reference"), &["+xa"]);
    let sent = storescu(&t, "MODALITY", reference.port, "STORESCP", &dump);
    assert!(
        sent.status.success(),
        "storescu to storescp: {}",
        text(&sent)
    );
    drop(reference);
    let wire = data_sets(&t.join("reference"));
    assert_eq!(wire.len(), 26);
    for i in query(&t, "archive", "instances") {
        let bytes = std::fs::read(i["path"].as_str().unwrap()).expect("stored file");
        let (meta, data) = split_file(&bytes);
        let sop = i["sop_uid"].as_str().unwrap();
        assert_eq!(clean(meta.media_storage_sop_instance_uid()), sop);
        assert_eq!(
            clean(meta.transfer_syntax()),
            i["transfer_syntax"].as_str().unwrap()
        );
        assert_eq!(
            clean(&meta.implementation_class_uid),
            net::IMPLEMENTATION_CLASS_UID
        );
        assert_eq!(meta.source_application_entity_title, None);
        assert!(
            data == wire[sop].as_slice(),
            "{sop}: stored data set differs from the sent one"
        );
    }
}

#[test]
fn calling_ae_rules_route_reject_and_deidentify_on_receive() {
    if !dcmtk() {
        return;
    }
    let t = TestDir::new();
    let dump = synth_dump(&t, "dump");
    std::fs::write(
        t.join("serve.toml"),
        r#"
aet = "DEPOT"
[[calling]]
ae = "MRI"
project = "brain"
[[calling]]
ae = "OUTSIDE"
project = "teaching"
level = "basic"
"#,
    )
    .unwrap();
    let serve = Serve::start(&t, &["--config", "serve.toml"]);
    let port = serve.port.to_string();
    let refused = run_tool(
        "echoscu",
        &["-aet", "STRANGER", "-aec", "DEPOT", "127.0.0.1", &port],
        t.path(),
    );
    assert!(!refused.status.success(), "an unlisted AE must be rejected");
    let wrong_called = run_tool(
        "echoscu",
        &["-aet", "MRI", "-aec", "NOT_DEPOT", "127.0.0.1", &port],
        t.path(),
    );
    assert!(
        !wrong_called.status.success(),
        "a wrong called AE title must be rejected"
    );
    let mri = storescu(&t, "MRI", serve.port, "DEPOT", &dump);
    assert!(mri.status.success(), "{}", text(&mri));
    // At basic, the JPEG series whose pixels may carry burned-in text is refused (as an export
    // leaves it out); everything else is stored de-identified.
    storescu(&t, "OUTSIDE", serve.port, "DEPOT", &dump);
    let (code, log) = serve.stop();
    assert_eq!(code, Some(1), "refused instances make exit code 1:\n{log}");
    assert!(
        log.contains("calling AE title \"STRANGER\" may not store here"),
        "{log}"
    );
    assert!(log.contains("is not this server's"), "{log}");
    assert!(log.contains("burned-in text"), "{log}");

    let instances = query(&t, "archive", "instances");
    let in_project = |p: &str| {
        instances
            .iter()
            .filter(|i| i["project"] == p)
            .collect::<Vec<_>>()
    };
    assert_eq!(in_project("brain").len(), 26);
    let teaching = in_project("teaching");
    assert_eq!(teaching.len(), 24, "26 minus the 2 JPEG ultrasound files");
    let originals: BTreeSet<&str> = in_project("brain")
        .iter()
        .map(|i| i["sop_uid"].as_str().unwrap())
        .collect();
    // The originals' names never reach the de-identified project's files; UIDs are remapped.
    let names: Vec<String> = query(&t, "archive", "subjects")
        .iter()
        .filter(|s| s["project"] == "brain")
        .filter_map(|s| {
            s["patient_name"]
                .as_str()
                .map(|n| n.split('^').next().unwrap().to_string())
        })
        .collect();
    assert_eq!(names.len(), 2);
    for i in &teaching {
        assert!(!originals.contains(i["sop_uid"].as_str().unwrap()));
        let bytes = std::fs::read(i["path"].as_str().unwrap()).unwrap();
        for n in &names {
            assert!(
                !bytes.windows(n.len()).any(|w| w == n.as_bytes()),
                "{n} found in a de-identified file"
            );
        }
    }
    // The archive records which runs hold de-identified data.
    let mut runs = query(&t, "archive", "runs");
    runs.sort_by_key(|r| r["project"].to_string());
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0]["project"], "brain");
    assert_eq!(runs[0]["deidentified"], Value::Null);
    assert_eq!(runs[0]["imported"], 26);
    assert!(
        runs[0]["inputs"]
            .as_str()
            .unwrap()
            .contains("dicom DEPOT@127.0.0.1:")
    );
    assert!(
        runs[1]["deidentified"]
            .as_str()
            .is_some_and(|l| l.starts_with("basic (key ")),
        "{runs:?}"
    );
    assert_eq!(runs[1]["rejected"], 2);
}

#[test]
fn storescp_receives_what_send_sends() {
    if !dcmtk() {
        return;
    }
    let t = TestDir::new();
    synth_dump(&t, "dump");
    t.depot()
        .args(["--archive", "archive", "import", "dump", "--quiet"])
        .run()
        .ok();
    let stored: BTreeMap<String, Vec<u8>> = query(&t, "archive", "instances")
        .iter()
        .map(|i| {
            let bytes = std::fs::read(i["path"].as_str().unwrap()).unwrap();
            let (_, data) = split_file(&bytes);
            let mut data = data.to_vec();
            if data.len() % 2 == 1 {
                data.push(0);
            }
            (i["sop_uid"].as_str().unwrap().to_string(), data)
        })
        .collect();

    let original = StoreScp::start(&t.join("rx-original"), &["+xa"]);
    let port = original.port.to_string();
    let run = t
        .depot()
        .args([
            "--archive",
            "archive",
            "send",
            "--to",
            &format!("127.0.0.1:{port}"),
        ])
        .args([
            "--aet",
            "STORESCP",
            "--level",
            "original",
            "--timeout",
            "20",
        ])
        .run()
        .ok();
    assert!(
        run.stderr.contains("sent 26 of 26 instances"),
        "{}",
        run.stderr
    );
    drop(original);
    let received = data_sets(&t.join("rx-original"));
    assert_eq!(
        received, stored,
        "storescp received the archived data sets byte for byte"
    );

    // De-identified on the way out, exactly as an export: no original UID or name arrives.
    let deid = StoreScp::start(&t.join("rx-basic"), &["+xa"]);
    let port = deid.port.to_string();
    let run = t
        .depot()
        .args([
            "--archive",
            "archive",
            "send",
            "--to",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["--aet", "STORESCP", "--level", "basic", "--timeout", "20"])
        .run()
        .ok();
    assert!(
        run.stderr.contains("sent 24 of 24 instances"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("left out for possible burned-in text"),
        "{}",
        run.stderr
    );
    drop(deid);
    let received = data_sets(&t.join("rx-basic"));
    assert_eq!(received.len(), 24);
    assert!(received.keys().all(|uid| !stored.contains_key(uid)));
    let names: Vec<String> = query(&t, "archive", "subjects")
        .iter()
        .filter_map(|s| {
            s["patient_name"]
                .as_str()
                .map(|n| n.split('^').next().unwrap().to_string())
        })
        .collect();
    for data in received.values() {
        for n in &names {
            assert!(
                !data.windows(n.len()).any(|w| w == n.as_bytes()),
                "{n} was sent"
            );
        }
    }

    // A peer that takes only uncompressed syntaxes refuses the JPEG files: each is named, the
    // rest are sent, exit code 1.
    let plain = StoreScp::start(&t.join("rx-plain"), &[]);
    let port = plain.port.to_string();
    let run = t
        .depot()
        .args([
            "--archive",
            "archive",
            "send",
            "--to",
            &format!("127.0.0.1:{port}"),
        ])
        .args([
            "--aet",
            "STORESCP",
            "--level",
            "original",
            "--timeout",
            "20",
        ])
        .run()
        .expect_code(1);
    assert!(
        run.stderr
            .contains("the peer accepts no presentation context for"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("(4 refused"), "{}", run.stderr);
}

#[test]
fn stopping_finishes_open_associations() {
    if !dcmtk() {
        return;
    }
    let t = TestDir::new();
    t.depot()
        .args([
            "synth",
            "--out",
            "dump",
            "--quiet",
            "--subjects",
            "1",
            "--studies",
            "1",
        ])
        .args([
            "--series",
            "1",
            "--instances",
            "60",
            "--rows",
            "64",
            "--columns",
            "64",
        ])
        .run()
        .ok();
    std::fs::write(t.join("scu.cfg"), SCU_CONFIG).unwrap();
    let serve = Serve::start(&t, &[]);
    let port = serve.port;
    let dir = t.path().to_path_buf();
    let sender = std::thread::spawn(move || {
        let port = port.to_string();
        run_tool(
            "storescu",
            &[
                "-aet",
                "MODALITY",
                "-aec",
                "DEPOT",
                "-xf",
                "scu.cfg",
                "Synth",
                "+sd",
                "+r",
                "127.0.0.1",
                &port,
                "dump",
            ],
            &dir,
        )
    });
    // Stop as soon as the first instance is in the index.
    let started = Instant::now();
    while query(&t, "archive", "instances").is_empty() {
        assert!(started.elapsed() < DEADLINE, "nothing arrived");
        std::thread::sleep(Duration::from_millis(10));
    }
    let (code, log) = serve.stop_with("-TERM");
    let sent = sender.join().unwrap();
    assert!(
        sent.status.success(),
        "the open association finished: {}",
        text(&sent)
    );
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(query(&t, "archive", "instances").len(), 61, "{log}");
    assert!(log.contains("61 instances (61 stored"), "{log}");
}

#[test]
fn concurrent_senders_are_filed_like_a_folder_import() {
    if !dcmtk() {
        return;
    }
    let t = TestDir::new();
    t.depot()
        .args([
            "synth",
            "--out",
            "dump",
            "--quiet",
            "--subjects",
            "4",
            "--studies",
            "1",
        ])
        .args([
            "--series",
            "3",
            "--instances",
            "4",
            "--rows",
            "16",
            "--columns",
            "16",
        ])
        .run()
        .ok();
    std::fs::write(t.join("scu.cfg"), SCU_CONFIG).unwrap();
    let subjects: Vec<PathBuf> = std::fs::read_dir(t.join("dump"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(subjects.len(), 4);
    let serve = Serve::start(&t, &[]);
    // One storescu per subject, all at once: the intake files them in shared transactions.
    std::thread::scope(|s| {
        let sends: Vec<_> = subjects
            .iter()
            .enumerate()
            .map(|(i, dir)| {
                let (t, port) = (&t, serve.port);
                s.spawn(move || storescu(t, &format!("SENDER{i}"), port, "DEPOT", dir))
            })
            .collect();
        for send in sends {
            let out = send.join().unwrap();
            assert!(out.status.success(), "{}", text(&out));
        }
    });
    let (code, log) = serve.stop();
    assert_eq!(code, Some(0), "{log}");
    let associations = log
        .lines()
        .filter(|l| l.starts_with("depot: association SENDER") && l.contains("(13 stored"))
        .count();
    assert_eq!(associations, 4, "{log}");
    t.depot()
        .args(["--archive", "folder", "import", "dump", "--quiet"])
        .run()
        .ok();
    let received = layout(&t, "archive");
    assert_eq!(received.len(), 4 * 13);
    assert_eq!(received, layout(&t, "folder"));
    let runs = query(&t, "archive", "runs");
    assert_eq!(runs.len(), 1, "one run for the project: {runs:?}");
    assert_eq!(runs[0]["imported"], 52);
}

#[test]
fn a_send_whose_audit_finds_a_leak_sends_nothing_and_keeps_no_quarantine_entry() {
    // The export that prepares a send is audited like any export; a blocking finding would
    // send its package to the quarantine. Nothing may leave, and since a package made for a
    // send has no destination to be released to, no quarantine entry stays behind. (No peer
    // is needed: the refusal comes before any association; the port is closed.)
    use crate::export::{edited, import_specs, put_text};
    let t = TestDir::new();
    let spec = synth::fixture::instance("MRN-8801", "2.25.8801", "2.25.8802", "2.25.8803");
    let leak = edited(&spec, |o| {
        put_text(
            o,
            dicom_dictionary_std::tags::SEQUENCE_NAME,
            dicom_core::VR::SH,
            "HALVORSEN 3T",
        )
    });
    import_specs(&t, &t.archive(), "in", "p", &[("a.dcm", leak)]);
    let port = free_port();
    let run = t
        .depot()
        .arg("--archive")
        .arg(t.archive())
        .args(["send", "--to", &format!("127.0.0.1:{port}")])
        .args(["--aet", "NOBODY", "--level", "basic", "--timeout", "5"])
        .run()
        .expect_code(1);
    assert!(
        run.stderr.contains("nothing was sent")
            && run.stderr.contains("audit (blocking)")
            && run.stderr.contains("PatientName value found"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("HALVORSEN"), "{}", run.stderr);
    let listed = t
        .depot()
        .arg("--archive")
        .arg(t.archive())
        .args(["review", "--json"])
        .run()
        .ok()
        .json();
    assert_eq!(listed, serde_json::json!([]), "no quarantine entry left");
}
