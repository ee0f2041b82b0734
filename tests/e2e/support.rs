//! The harness every end-to-end test uses: a private temporary folder per test and a runner for
//! the `depot` binary that captures stdout, stderr and the exit code.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A test's own temporary folder, removed when the test ends.
pub struct TestDir {
    dir: tempfile::TempDir,
}

impl TestDir {
    /// A fresh empty folder.
    pub fn new() -> TestDir {
        TestDir {
            dir: tempfile::Builder::new()
                .prefix("depot-e2e-")
                .tempdir()
                .expect("tempdir"),
        }
    }

    /// The folder's path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the folder.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The archive folder tests use by default (`<tmp>/archive`).
    pub fn archive(&self) -> PathBuf {
        self.join("archive")
    }

    /// A `depot` command running in this folder, with `DEPOT_ARCHIVE` cleared so that only
    /// explicit `--archive` flags count.
    pub fn depot(&self) -> Depot {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_depot"));
        cmd.current_dir(self.path())
            .env_remove("DEPOT_ARCHIVE")
            .env("DEPOT_KEY_DIR", self.join(".depot-keys"))
            .stdin(Stdio::null());
        Depot { cmd }
    }
}

/// A `depot` invocation being built.
pub struct Depot {
    cmd: Command,
}

impl Depot {
    /// Appends one argument.
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Depot {
        self.cmd.arg(a);
        self
    }

    /// Appends several arguments.
    pub fn args<I, S>(mut self, args: I) -> Depot
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// Sets an environment variable for the run.
    pub fn env(mut self, k: &str, v: impl AsRef<OsStr>) -> Depot {
        self.cmd.env(k, v);
        self
    }

    /// Runs the command to completion and captures its output.
    pub fn run(mut self) -> Run {
        let out = self.cmd.output().expect("run depot");
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Starts the command without waiting (for kill and concurrency tests).
    pub fn spawn(mut self) -> std::process::Child {
        self.cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn depot")
    }
}

/// What a finished `depot` run produced.
#[derive(Debug)]
pub struct Run {
    /// Exit code (None if killed by a signal).
    pub code: Option<i32>,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

impl Run {
    /// Asserts the exit code, showing both streams when it differs.
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(
            self.code,
            Some(code),
            "unexpected exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts success (exit 0).
    pub fn ok(self) -> Run {
        self.expect_code(0)
    }

    /// Parses stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

/// Every regular file below `root`, sorted.
pub fn files_below(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    out.sort();
    out
}

/// A map from relative path to SHA-256 of every file below `root` (to prove inputs unchanged).
pub fn snapshot(root: &Path) -> std::collections::BTreeMap<PathBuf, String> {
    use sha2::{Digest, Sha256};
    files_below(root)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("read");
            let rel = p.strip_prefix(root).expect("below root").to_path_buf();
            (rel, hex::encode(Sha256::digest(&bytes)))
        })
        .collect()
}

/// (kind, region, tag) of the value findings in JSON findings (`what` or `kind`): how an
/// export's review and `depot audit` are compared.
pub fn value_places(
    findings: &[serde_json::Value],
) -> std::collections::BTreeSet<(String, String, String)> {
    findings
        .iter()
        .filter(|f| f["finding"] == "value" || f["type"] == "value")
        .map(|f| {
            let kind = f.get("what").or_else(|| f.get("kind")).expect("kind");
            (
                kind.as_str().expect("kind").to_string(),
                f["region"].as_str().unwrap_or_default().to_string(),
                f["tag"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}
