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
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

mod error;
mod files;
mod replace;
mod zip_stream;

pub use error::PackageError;
use error::io;
pub use files::check_name;
use files::sync_path;
use zip_stream::{FinishError, Stored, ZipStream};

/// The zip writer's buffer: bigger than an entry's local header and name, smaller than the
/// files of a package (a write at least this long bypasses it).
const ZIP_BUFFER: usize = 64 << 10;
pub(crate) use files::{rand_suffix, rename_noreplace, sync_parent};
pub use replace::{check_replaceable, is_replaceable_package};

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
    /// Written as it goes, its directory spooled beside it (see `zip_stream`), which also
    /// refuses a second entry of one name. (A folder needs no such check: each file is
    /// created new in a staging folder made empty, so the file system refuses a second one.)
    Zip {
        writer: Mutex<Option<Box<ZipStream>>>,
    },
}

/// A package being built in its staging place.
pub struct Package {
    dest: PathBuf,
    staging: PathBuf,
    kind: PackageKind,
    container: Container,
    published: bool,
    /// Flushes the staging place's file system in the background until [`Package::finish`]
    /// (see [`archive::flusher`]).
    flusher: Option<archive::flusher::Flusher>,
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
                // A small buffer: entry headers are gathered, an entry's bytes (larger) go to
                // the file directly instead of being copied into the buffer under the lock.
                let writer = ZipStream::new(file, &parent, ZIP_BUFFER)
                    .map_err(io("cannot create", &staging))?;
                Container::Zip {
                    writer: Mutex::new(Some(Box::new(writer))),
                }
            }
        };
        Ok(Package {
            dest: dest.to_path_buf(),
            staging,
            kind,
            container,
            published: false,
            flusher: Some(archive::flusher::Flusher::start(&parent)),
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
        if let Container::Zip { .. } = &self.container {
            check_name(rel)?;
            // Checksummed before the lock is taken: the zip's writers wait for the disk only.
            let crc = crc32fast::hash(bytes);
            return self.with_zip(|z| z.add(rel, bytes, crc));
        }
        self.add_sized(rel, Some(bytes.len() as u64), |w| w.write_all(bytes))
            .map(|_| ())
    }

    /// Runs `f` on the zip being written (a zip package's only).
    fn with_zip<T>(
        &self,
        f: impl FnOnce(&mut ZipStream) -> std::io::Result<T>,
    ) -> Result<T, PackageError> {
        let Container::Zip { writer } = &self.container else {
            return Err(PackageError::Io {
                action: "cannot write",
                path: self.staging.clone(),
                source: std::io::Error::other("not a zip package"),
            });
        };
        let mut guard = writer.lock().unwrap_or_else(|p| p.into_inner());
        let z = guard.as_mut().ok_or_else(|| PackageError::Io {
            action: "cannot write",
            path: self.staging.clone(),
            source: std::io::Error::other("zip already finished"),
        })?;
        f(z).map_err(io("cannot write", &self.staging))
    }

    /// Adds one file written by `write` as it goes (a manifest of many files is never held
    /// whole; a caller that writes in small pieces buffers them); the bytes written. Safe to
    /// call from many threads. A zip entry of it must stay under 4 GiB.
    pub fn add_with(
        &self,
        rel: &str,
        write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<u64, PackageError> {
        self.add_sized(rel, None, write)
    }

    /// [`Package::add_with`], of `len` bytes when known (a zip entry past 4 GiB needs it).
    fn add_sized(
        &self,
        rel: &str,
        len: Option<u64>,
        write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<u64, PackageError> {
        check_name(rel)?;
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
                let f = File::create_new(&path).map_err(|e| {
                    if e.kind() == std::io::ErrorKind::AlreadyExists {
                        PackageError::Duplicate(rel.to_string())
                    } else {
                        io("cannot create", &path)(e)
                    }
                })?;
                let mut out = Counting::new(f);
                write(&mut out).map_err(io("cannot write", &path))?;
                Ok(out.bytes)
            }
            Container::Zip { .. } => {
                let large = len.is_some_and(|n| n >= u64::from(u32::MAX));
                self.with_zip(|z| z.add_with(rel, large, write))
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
        let method = match entry.compression() {
            zip::CompressionMethod::Stored => 0,
            zip::CompressionMethod::Deflated => 8,
            _ => {
                return Err(zip_err(zip::result::ZipError::UnsupportedArchive(
                    "a compression method other than stored or deflated",
                )));
            }
        };
        let stored = Stored {
            crc: entry.crc32(),
            compressed: entry.compressed_size(),
            size: entry.size(),
            method,
        };
        let mut entry = entry;
        self.with_zip(|z| z.add_raw(&rel, stored, &mut entry))
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
        self.flusher = None;
        match &self.container {
            Container::Zip { writer } => {
                let mut guard = writer.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(w) = guard.take() {
                    let file = w.finish().map_err(|e| match e {
                        FinishError::Duplicate(name) => PackageError::Duplicate(name),
                        FinishError::Io(source) => PackageError::Io {
                            action: "cannot write",
                            path: self.staging.clone(),
                            source,
                        },
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

impl Drop for Package {
    fn drop(&mut self) {
        if self.published {
            return;
        }
        if let Container::Zip { writer, .. } = &self.container {
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

#[cfg(test)]
mod tests;

/// A writer that counts what goes through it.
struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Counting<W> {
    fn new(inner: W) -> Counting<W> {
        Counting { inner, bytes: 0 }
    }
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
