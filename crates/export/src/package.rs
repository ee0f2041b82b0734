//! Package containers: a folder or a zip file that appears at its destination only when it is
//! complete, synced and audited.
//!
//! A package is built in a hidden staging place beside its destination (same file system, so
//! publishing is one rename): `.NAME.depot-partial-NONCE` for a folder, the same with `.zip` for
//! a zip. Files are added from many threads; a zip is streamed straight into its staging file
//! (no temporary copy of the whole package) with entries stored, not deflated: DICOM pixel data
//! barely compresses and deflating would dominate the export time. Dropping an unpublished
//! package removes its staging place, so a failed or refused export leaves nothing behind.
//!
//! Publishing never overwrites an existing destination unless asked to (`force`), and even then
//! only a depot package (see [`is_replaceable_package`]): a folder of other work, a key file or
//! any other file at the destination is refused, never removed. A zip is
//! published with a hard link and a folder with `renameat2(RENAME_NOREPLACE)` (Linux; a check
//! just before a plain rename elsewhere), both of which fail if the name exists, even when it
//! appears after the last check (a plain rename would silently replace an empty folder). With
//! `force`, the old package is first moved aside, then removed once the new one is in place; if
//! the new one cannot be placed, the old one is moved back, so a failed publish never hides it.
//! The parent folder is synced after each rename.
//!
//! Entry names are checked here, whatever the caller built them from: relative, `/`-separated,
//! made of ASCII letters, digits, `.`, `_` and `-` only, with no `..`.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use zip::write::SimpleFileOptions;

/// Errors of building or publishing a package.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackageError {
    /// The destination exists and `force` was not given.
    #[error("{0} already exists (use --force to replace it)")]
    Exists(PathBuf),
    /// The destination exists and is not a depot package, so `force` may not replace it.
    #[error(
        "{0} is not a depot package (no manifest.json saying \"format\": \"depot-package/1\"), so --force will not replace it; move it away or choose another --out"
    )]
    NotAPackage(PathBuf),
    /// An entry name is not a safe relative name.
    #[error("unsafe entry name in package: {0:?}")]
    UnsafeName(String),
    /// The same entry was added twice.
    #[error("entry {0} added twice to the package")]
    Duplicate(String),
    /// File system trouble.
    #[error("{action} {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// Where.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Publishing failed after the old package was moved aside, and it could not be moved
    /// back.
    #[error(
        "cannot publish {dest} ({cause}), and the old package could not be moved back: it is at {aside}"
    )]
    NotRestored {
        /// The destination.
        dest: PathBuf,
        /// Why publishing failed.
        cause: String,
        /// Where the old package is.
        aside: PathBuf,
        /// Why moving it back failed.
        #[source]
        source: std::io::Error,
    },
    /// The zip writer failed.
    #[error("cannot write zip package {path}")]
    Zip {
        /// The staging zip.
        path: PathBuf,
        /// Cause.
        #[source]
        source: zip::result::ZipError,
    },
}

fn io<'a>(
    action: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> PackageError + 'a {
    move |source| PackageError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// Folder or zip, decided by the destination's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageKind {
    /// A folder tree.
    Folder,
    /// A zip file (destination ends in `.zip`).
    Zip,
}

impl PackageKind {
    /// Zip when the destination ends in `.zip` (any case), otherwise a folder.
    pub fn for_destination(dest: &Path) -> PackageKind {
        match dest.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("zip") => PackageKind::Zip,
            _ => PackageKind::Folder,
        }
    }
}

enum Container {
    Folder {
        made_dirs: Mutex<HashSet<PathBuf>>,
    },
    Zip {
        writer: Mutex<Option<Box<zip::ZipWriter<BufWriter<File>>>>>,
    },
}

/// A package being built in its staging place.
pub struct Package {
    dest: PathBuf,
    staging: PathBuf,
    kind: PackageKind,
    container: Container,
    names: Mutex<HashSet<String>>,
    published: bool,
}

impl std::fmt::Debug for Package {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Package")
            .field("dest", &self.dest)
            .field("staging", &self.staging)
            .field("kind", &self.kind)
            .finish()
    }
}

impl Package {
    /// Starts a package for `dest`. Fails at once if `dest` exists and `force` is false, so
    /// nothing is computed for an export that could never be published.
    pub fn create(dest: &Path, force: bool) -> Result<Package, PackageError> {
        check_replaceable(dest, force)?;
        let kind = PackageKind::for_destination(dest);
        let parent = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(io("cannot create", &parent))?;
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let nonce = format!("{}-{:x}", std::process::id(), rand_suffix());
        let staging = match kind {
            PackageKind::Folder => parent.join(format!(".{name}.depot-partial-{nonce}")),
            PackageKind::Zip => parent.join(format!(".{name}.depot-partial-{nonce}.zip")),
        };
        let container = match kind {
            PackageKind::Folder => {
                std::fs::create_dir(&staging).map_err(io("cannot create", &staging))?;
                Container::Folder {
                    made_dirs: Mutex::new(HashSet::new()),
                }
            }
            PackageKind::Zip => {
                let file = File::create_new(&staging).map_err(io("cannot create", &staging))?;
                let writer = Box::new(zip::ZipWriter::new(BufWriter::with_capacity(1 << 20, file)));
                Container::Zip {
                    writer: Mutex::new(Some(writer)),
                }
            }
        };
        Ok(Package {
            dest: dest.to_path_buf(),
            staging,
            kind,
            container,
            names: Mutex::new(HashSet::new()),
            published: false,
        })
    }

    /// Folder or zip.
    pub fn kind(&self) -> PackageKind {
        self.kind
    }

    /// Where the package is being built (audited there before publishing).
    pub fn staging_path(&self) -> &Path {
        &self.staging
    }

    /// Where the package will appear.
    pub fn destination(&self) -> &Path {
        &self.dest
    }

    /// Adds one file. Safe to call from many threads.
    pub fn add(&self, rel: &str, bytes: &[u8]) -> Result<(), PackageError> {
        check_name(rel)?;
        {
            let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
            if !names.insert(rel.to_string()) {
                return Err(PackageError::Duplicate(rel.to_string()));
            }
        }
        match &self.container {
            Container::Folder { made_dirs } => {
                let path = self.staging.join(rel);
                if let Some(dir) = path.parent() {
                    let mut made = made_dirs.lock().unwrap_or_else(|p| p.into_inner());
                    if !made.contains(dir) {
                        std::fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
                        made.insert(dir.to_path_buf());
                    }
                }
                let mut f = File::create_new(&path).map_err(io("cannot create", &path))?;
                f.write_all(bytes).map_err(io("cannot write", &path))?;
                Ok(())
            }
            Container::Zip { writer } => {
                let mut guard = writer.lock().unwrap_or_else(|p| p.into_inner());
                let zip_err = |source| PackageError::Zip {
                    path: self.staging.clone(),
                    source,
                };
                let w = guard.as_mut().ok_or_else(|| {
                    zip_err(zip::result::ZipError::Io(std::io::Error::other(
                        "zip already finished",
                    )))
                })?;
                let opts = SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Stored)
                    .large_file(bytes.len() as u64 >= u64::from(u32::MAX))
                    .unix_permissions(0o644);
                w.start_file(rel, opts).map_err(zip_err)?;
                w.write_all(bytes)
                    .map_err(io("cannot write", &self.staging))?;
                Ok(())
            }
        }
    }

    /// Adds a copy of the file at `src` (read whole; a package's files are DICOM instances,
    /// which the export holds in memory one by one too). Returns the bytes added, for the
    /// caller to check.
    pub fn add_copy(&self, rel: &str, src: &Path) -> Result<Vec<u8>, PackageError> {
        let bytes = std::fs::read(src).map_err(io("cannot read", src))?;
        self.add(rel, &bytes)?;
        Ok(bytes)
    }

    /// Adds a zip entry of another package as it is stored (no decompression or
    /// recompression: the same bytes, CRC and sizes). Only for zip packages.
    pub fn add_zip_entry<R: Read>(
        &self,
        entry: zip::read::ZipFile<'_, R>,
    ) -> Result<(), PackageError> {
        let zip_err = |source| PackageError::Zip {
            path: self.staging.clone(),
            source,
        };
        let rel = entry.name().map_err(zip_err)?.into_owned();
        check_name(&rel)?;
        {
            let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
            if !names.insert(rel.clone()) {
                return Err(PackageError::Duplicate(rel));
            }
        }
        let Container::Zip { writer } = &self.container else {
            return Err(zip_err(zip::result::ZipError::Io(std::io::Error::other(
                "a zip entry can only be copied into a zip package",
            ))));
        };
        let mut guard = writer.lock().unwrap_or_else(|p| p.into_inner());
        let w = guard.as_mut().ok_or_else(|| {
            zip_err(zip::result::ZipError::Io(std::io::Error::other(
                "zip already finished",
            )))
        })?;
        w.raw_copy_file(entry).map_err(zip_err)
    }

    /// Finishes the package and hands its staging place over to the caller, who then owns it
    /// (it is no longer removed when the package is dropped): how a package that may not be
    /// published goes to the quarantine.
    pub fn into_staged(mut self) -> Result<(PathBuf, PackageKind), PackageError> {
        self.finish()?;
        self.published = true;
        Ok((self.staging.clone(), self.kind))
    }

    /// Completes the container (zip directory written) and makes its bytes durable.
    pub fn finish(&mut self) -> Result<(), PackageError> {
        match &self.container {
            Container::Zip { writer } => {
                let mut guard = writer.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(w) = guard.take() {
                    let buf = w.finish().map_err(|source| PackageError::Zip {
                        path: self.staging.clone(),
                        source,
                    })?;
                    let file = buf.into_inner().map_err(|e| PackageError::Io {
                        action: "cannot write",
                        path: self.staging.clone(),
                        source: e.into_error(),
                    })?;
                    file.sync_all().map_err(io("cannot sync", &self.staging))?;
                }
            }
            Container::Folder { .. } => {
                // One syncfs makes every staged file and folder durable (Linux); elsewhere
                // each is fsynced.
                if archive::store::CAN_SYNC_FILESYSTEM {
                    archive::store::sync_filesystem(&self.staging)
                        .map_err(io("cannot sync", &self.staging))?;
                } else {
                    use rayon::prelude::*;
                    let files: Vec<PathBuf> = walkdir::WalkDir::new(&self.staging)
                        .into_iter()
                        .filter_map(Result::ok)
                        .map(walkdir::DirEntry::into_path)
                        .collect();
                    files.par_iter().try_for_each(|p| sync_path(p))?;
                }
            }
        }
        Ok(())
    }

    /// Moves the finished package into place. Refuses to replace an existing destination
    /// unless `force`. With `force`, an existing package is moved aside first and put back if
    /// the new one cannot be placed, so a failed publish never hides the old package.
    pub fn publish(mut self, force: bool) -> Result<PathBuf, PackageError> {
        let dest = self.dest.clone();
        // Checked again: what is at the destination may have changed since `create`.
        check_replaceable(&dest, force)?;
        let exists = dest.symlink_metadata().is_ok();
        let aside = exists.then(|| {
            let name = dest
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            dest.with_file_name(format!(".{name}.depot-replaced-{:x}", rand_suffix()))
        });
        if let Some(aside) = &aside {
            rename_noreplace(&dest, aside).map_err(io("cannot move aside", &dest))?;
        }
        if let Err(e) = self.place() {
            let Some(aside) = aside else {
                return Err(e);
            };
            return match rename_noreplace(&aside, &dest) {
                Ok(()) => {
                    sync_parent(&dest);
                    Err(e)
                }
                Err(source) => Err(PackageError::NotRestored {
                    dest,
                    cause: e.to_string(),
                    aside,
                    source,
                }),
            };
        }
        self.published = true;
        sync_parent(&dest);
        if let Some(aside) = aside {
            let _ = if aside.is_dir() {
                std::fs::remove_dir_all(&aside)
            } else {
                std::fs::remove_file(&aside)
            };
        }
        Ok(dest)
    }

    /// Puts the staged package at its destination, never replacing anything there.
    fn place(&mut self) -> Result<(), PackageError> {
        let dest = &self.dest;
        let taken = |e: std::io::Error| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                PackageError::Exists(dest.clone())
            } else {
                PackageError::Io {
                    action: "cannot publish",
                    path: dest.clone(),
                    source: e,
                }
            }
        };
        match self.kind {
            PackageKind::Zip => {
                // A hard link never replaces an existing name: no clobbering, even in a race.
                std::fs::hard_link(&self.staging, dest).map_err(taken)?;
                // The package is in place; the staging name is only a second link to it.
                self.published = true;
                let _ = std::fs::remove_file(&self.staging);
            }
            PackageKind::Folder => {
                // A plain rename would silently replace an empty folder created at the
                // destination after the existence check.
                rename_noreplace(&self.staging, dest).map_err(taken)?;
            }
        }
        Ok(())
    }
}

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

/// Renames `from` to `to`, failing with `AlreadyExists` if `to` exists, even when it appears
/// concurrently: `renameat2(RENAME_NOREPLACE)` on Linux. Where that is unavailable (other
/// systems, file systems without the flag) the check runs just before a plain rename.
pub(crate) fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        use rustix::io::Errno;
        match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
            Ok(()) => return Ok(()),
            Err(e) if e == Errno::INVAL || e == Errno::NOSYS || e == Errno::NOTSUP => {}
            Err(e) => return Err(e.into()),
        }
    }
    if to.symlink_metadata().is_ok() {
        return Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists));
    }
    std::fs::rename(from, to)
}

/// Makes a rename in `path`'s folder durable (best effort: the rename itself has happened).
pub(crate) fn sync_parent(path: &Path) {
    if let Some(parent) = path.parent() {
        let _ = sync_path(if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        });
    }
}

impl Drop for Package {
    fn drop(&mut self) {
        if self.published {
            return;
        }
        if let Container::Zip { writer } = &self.container {
            // Close the file before removing it.
            let mut guard = writer.lock().unwrap_or_else(|p| p.into_inner());
            drop(guard.take());
        }
        let _ = if self.staging.is_dir() {
            std::fs::remove_dir_all(&self.staging)
        } else {
            std::fs::remove_file(&self.staging)
        };
    }
}

fn sync_path(p: &Path) -> Result<(), PackageError> {
    let f = File::open(p).map_err(io("cannot open", p))?;
    f.sync_all().map_err(io("cannot sync", p))
}

/// A relative, `/`-separated name of plain ASCII components.
pub fn check_name(rel: &str) -> Result<(), PackageError> {
    let bad = || PackageError::UnsafeName(rel.to_string());
    if rel.is_empty() || rel.starts_with('/') || rel.len() > 1024 {
        return Err(bad());
    }
    for part in rel.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return Err(bad());
        }
        if !part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(bad());
        }
    }
    Ok(())
}

pub(crate) fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        for bad in [
            "",
            "/abs",
            "a/../b",
            "a//b",
            "a/./b",
            "DOE^JOHN/x",
            "a b",
            "a\\b",
            "é",
        ] {
            assert!(check_name(bad).is_err(), "{bad:?} should be refused");
        }
        for good in ["manifest.json", "P1234/1/3/00001.dcm", "a_b-c.d"] {
            check_name(good).expect(good);
        }
    }

    #[test]
    fn folder_appears_only_when_published() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dest = tmp.path().join("pkg");
        let mut p = Package::create(&dest, false).expect("create");
        p.add("a/b/1.dcm", b"one").expect("add");
        p.add("manifest.json", b"{}").expect("add");
        assert!(matches!(
            p.add("a/b/1.dcm", b"again"),
            Err(PackageError::Duplicate(_))
        ));
        assert!(!dest.exists());
        p.finish().expect("finish");
        p.publish(false).expect("publish");
        assert_eq!(std::fs::read(dest.join("a/b/1.dcm")).expect("read"), b"one");
        let left: Vec<_> = std::fs::read_dir(tmp.path()).expect("ls").collect();
        assert_eq!(left.len(), 1, "no staging left behind");
    }

    #[test]
    fn zip_is_streamed_and_published_without_clobbering() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dest = tmp.path().join("pkg.zip");
        let mut p = Package::create(&dest, false).expect("create");
        assert_eq!(p.kind(), PackageKind::Zip);
        p.add("x/1.dcm", &[7u8; 1000]).expect("add");
        p.finish().expect("finish");
        p.publish(false).expect("publish");
        let mut z = zip::ZipArchive::new(File::open(&dest).expect("open")).expect("zip");
        let mut buf = Vec::new();
        z.by_name("x/1.dcm")
            .expect("entry")
            .read_to_end(&mut buf)
            .expect("read");
        assert_eq!(buf, vec![7u8; 1000]);

        assert!(matches!(
            Package::create(&dest, false),
            Err(PackageError::Exists(_))
        ));
        // Without a depot manifest, the zip is not a package --force may replace.
        assert!(matches!(
            Package::create(&dest, true),
            Err(PackageError::NotAPackage(_))
        ));
        std::fs::remove_file(&dest).expect("rm");
        staged(&dest, false, b"old")
            .publish(false)
            .expect("package");
        let mut again = Package::create(&dest, true).expect("forced create");
        again.add("y.dcm", b"new").expect("add");
        again.finish().expect("finish");
        again.publish(true).expect("forced publish");
        let z = zip::ZipArchive::new(File::open(&dest).expect("open")).expect("zip");
        assert_eq!(z.len(), 1);
    }

    const MANIFEST: &[u8] = b"{\n  \"format\": \"depot-package/1\"\n}";

    fn staged(dest: &Path, force: bool, content: &[u8]) -> Package {
        let mut p = Package::create(dest, force).expect("create");
        p.add("a/1.dcm", content).expect("add");
        p.add("manifest.json", MANIFEST).expect("add");
        p.finish().expect("finish");
        p
    }

    #[test]
    fn force_replaces_only_a_depot_package() {
        let tmp = tempfile::tempdir().expect("tmp");
        let t = |rel: &str| tmp.path().join(rel);
        // Not packages: a folder of other work, a key file, a zip of something else, a folder
        // whose manifest is another program's, a symbolic link to a package.
        std::fs::create_dir_all(t("work/raw")).expect("mkdir");
        std::fs::write(t("work/notes.txt"), b"lab notes").expect("write");
        std::fs::write(t("irb.key"), [7u8; 32]).expect("write");
        std::fs::write(t("proj.zip"), [7u8; 32]).expect("write");
        std::fs::create_dir_all(t("other")).expect("mkdir");
        std::fs::write(t("other/manifest.json"), br#"{"format": "other/1"}"#).expect("write");
        let mut z = zip::ZipWriter::new(File::create(t("plain.zip")).expect("zip"));
        z.start_file("notes.txt", SimpleFileOptions::default())
            .expect("entry");
        z.write_all(b"x").expect("write");
        z.finish().expect("finish");
        staged(&t("real"), false, b"old")
            .publish(false)
            .expect("real");
        staged(&t("real.zip"), false, b"old")
            .publish(false)
            .expect("real");
        #[cfg(unix)]
        std::os::unix::fs::symlink(t("real"), t("link")).expect("symlink");
        let refused = ["work", "irb.key", "proj.zip", "other", "plain.zip", "link"];
        let before: Vec<_> = refused
            .iter()
            .map(|r| std::fs::symlink_metadata(t(r)).is_ok())
            .collect();
        for rel in refused {
            if t(rel).symlink_metadata().is_err() {
                continue;
            }
            assert!(!is_replaceable_package(&t(rel)), "{rel}");
            assert!(
                matches!(
                    Package::create(&t(rel), true),
                    Err(PackageError::NotAPackage(_))
                ),
                "{rel}"
            );
        }
        assert_eq!(
            before,
            refused
                .iter()
                .map(|r| std::fs::symlink_metadata(t(r)).is_ok())
                .collect::<Vec<_>>()
        );
        assert_eq!(
            std::fs::read(t("work/notes.txt")).expect("kept"),
            b"lab notes"
        );
        assert_eq!(std::fs::read(t("irb.key")).expect("kept"), [7u8; 32]);

        // Something that is not a package appearing after `create` is not replaced either.
        std::fs::create_dir(t("late")).expect("mkdir");
        let p = staged(&t("late"), true, b"new");
        std::fs::write(t("late/notes.txt"), b"mine").expect("write");
        assert!(matches!(p.publish(true), Err(PackageError::NotAPackage(_))));
        assert_eq!(std::fs::read(t("late/notes.txt")).expect("kept"), b"mine");

        // Packages (folder, zip) and empty folders are replaced.
        std::fs::create_dir(t("empty")).expect("mkdir");
        for rel in ["real", "real.zip", "empty"] {
            assert!(is_replaceable_package(&t(rel)), "{rel}");
            staged(&t(rel), true, b"new")
                .publish(true)
                .unwrap_or_else(|e| panic!("{rel}: {e}"));
        }
        assert_eq!(std::fs::read(t("real/a/1.dcm")).expect("new"), b"new");
    }

    #[test]
    fn a_failed_forced_publish_puts_the_old_package_back() {
        let tmp = tempfile::tempdir().expect("tmp");
        for name in ["pkg", "pkg.zip"] {
            let dest = tmp.path().join(name);
            staged(&dest, false, b"old").publish(false).expect("first");
            let before = std::fs::read(if name.ends_with(".zip") {
                dest.clone()
            } else {
                dest.join("a/1.dcm")
            })
            .expect("old");
            // The new package's staging place vanishes: placing it fails after the old package
            // has been moved aside.
            let p = staged(&dest, true, b"new");
            let staging = p.staging_path().to_path_buf();
            if staging.is_dir() {
                std::fs::remove_dir_all(&staging).expect("rm staging");
            } else {
                std::fs::remove_file(&staging).expect("rm staging");
            }
            assert!(p.publish(true).is_err(), "{name}: publish must fail");
            let after = std::fs::read(if name.ends_with(".zip") {
                dest.clone()
            } else {
                dest.join("a/1.dcm")
            })
            .unwrap_or_else(|e| panic!("{name}: the old package is gone: {e}"));
            assert_eq!(after, before, "{name}: the old package is back, unchanged");
        }
        let names: Vec<String> = std::fs::read_dir(tmp.path())
            .expect("ls")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            names.iter().all(|n| !n.contains(".depot-")),
            "nothing left aside: {names:?}"
        );
    }

    #[test]
    fn rename_noreplace_never_replaces_an_empty_folder() {
        // std::fs::rename replaces an empty folder at the destination; publishing a folder
        // package must not, even when the folder appears after the existence check.
        let tmp = tempfile::tempdir().expect("tmp");
        let from = tmp.path().join("staging");
        let to = tmp.path().join("pkg");
        std::fs::create_dir(&from).expect("mkdir");
        std::fs::write(from.join("f"), b"x").expect("write");
        std::fs::create_dir(&to).expect("mkdir");
        let err = rename_noreplace(&from, &to).expect_err("must refuse");
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert!(from.join("f").is_file(), "source kept");
        assert_eq!(
            std::fs::read_dir(&to).expect("ls").count(),
            0,
            "target kept"
        );
        std::fs::remove_dir(&to).expect("rmdir");
        rename_noreplace(&from, &to).expect("free name");
        assert!(to.join("f").is_file());
    }

    #[test]
    fn dropped_package_leaves_nothing() {
        let tmp = tempfile::tempdir().expect("tmp");
        for name in ["pkg", "pkg.zip"] {
            let p = Package::create(&tmp.path().join(name), false).expect("create");
            p.add("a.dcm", b"x").expect("add");
            drop(p);
        }
        assert_eq!(std::fs::read_dir(tmp.path()).expect("ls").count(), 0);
    }
}
