//! What `--force` may replace: only a depot package (its manifest says so) or an empty folder,
//! never a folder of other work, a key file, a symbolic link or anything unreadable.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::error::PackageError;

/// Refuses a destination that exists, unless `force` is given and it is a depot package (see
/// [`is_replaceable_package`]).
pub fn check_replaceable(dest: &Path, force: bool) -> Result<(), PackageError> {
    if dest.symlink_metadata().is_err() {
        return Ok(());
    }
    if !force {
        return Err(PackageError::Exists(dest.to_path_buf()));
    }
    if !is_replaceable_package(dest) {
        return Err(PackageError::NotAPackage(dest.to_path_buf()));
    }
    Ok(())
}

/// What `--force` reads of a manifest: its format (the rest is parsed as it streams by, not
/// held).
#[derive(serde::Deserialize)]
struct ManifestFormat {
    format: Option<String>,
}

fn says_depot_package(r: impl Read) -> bool {
    serde_json::from_reader::<_, ManifestFormat>(std::io::BufReader::new(r))
        .is_ok_and(|m| m.format.as_deref() == Some(crate::manifest::FORMAT))
}

/// Whether `path` is something `--force` may replace: an empty folder, a folder whose
/// `manifest.json` says `"format": "depot-package/1"`, or a zip file whose `manifest.json`
/// entry says so. A symbolic link never is (its target would be left, its name replaced), nor
/// is anything that cannot be read.
pub fn is_replaceable_package(path: &Path) -> bool {
    let Ok(meta) = path.symlink_metadata() else {
        return false;
    };
    if meta.is_dir() {
        let Ok(mut entries) = std::fs::read_dir(path) else {
            return false;
        };
        if entries.next().is_none() {
            return true;
        }
        let manifest = path.join("manifest.json");
        if !manifest.symlink_metadata().is_ok_and(|m| m.is_file()) {
            return false;
        }
        File::open(&manifest).is_ok_and(says_depot_package)
    } else if meta.is_file() {
        let Ok(f) = File::open(path) else {
            return false;
        };
        let Ok(mut zip) = zip::ZipArchive::new(std::io::BufReader::new(f)) else {
            return false;
        };
        zip.by_name("manifest.json").is_ok_and(says_depot_package)
    } else {
        false
    }
}
