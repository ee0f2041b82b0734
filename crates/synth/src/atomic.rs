//! Atomic file writes: a reader (or a crash) never sees a half-written synthetic file under its
//! final name, because the bytes go to a temporary file in the same folder, are flushed to disk,
//! and only then renamed into place.

use std::io::Write;
use std::path::Path;

use crate::error::SynthError;

/// Writes `bytes` to `path` atomically: temporary file in the same folder, fsync, rename.
/// The parent folder must exist. An existing file at `path` is replaced.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SynthError> {
    let io = |source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".synth-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_replaces_without_leaving_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.bin");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn missing_parent_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("no/such/dir/a.bin");
        let err = write_atomic(&p, b"x").unwrap_err();
        assert!(err.to_string().contains("no/such/dir"), "{err}");
    }
}
