//! Depot packages imported again (a normal way to check one): their `manifest.json` and
//! `manifest.csv` are not DICOM and are passed over rather than rejected.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// Whether `path` is the `manifest.json` or `manifest.csv` of a depot package (a folder whose
/// `manifest.json` declares `depot-package/1`). Re-importing a package is a normal way to check
/// it; its manifests are not DICOM and are passed over rather than rejected.
pub(super) fn is_package_manifest(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str());
    if !matches!(name, Some("manifest.json" | "manifest.csv")) {
        return false;
    }
    let Some(dir) = path.parent() else {
        return false;
    };
    let mut head = Vec::new();
    match File::open(dir.join("manifest.json")) {
        Ok(f) => {
            let _ = f.take(4096).read_to_end(&mut head);
        }
        Err(_) => return false,
    }
    is_package_manifest_text(&head)
}

/// The start of a depot package manifest (`"format": "depot-package/1"` near the top).
pub(super) fn is_package_manifest_text(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    text.trim_start().starts_with('{') && text.contains("\"depot-package/1\"")
}
