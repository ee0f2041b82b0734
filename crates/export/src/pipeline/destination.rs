//! Where an export may write: never over the archive or the key file (a `--force` over them
//! would delete them), and over an existing path only when it is a depot package and `force`
//! is given. Checked before anything is read or written, in a dry run too.

use std::path::{Component, Path, PathBuf};

use super::error::ExportError;

/// Refuses a destination an export must not write: one that is, contains or lies inside the
/// archive or the key file (`key_file`, when one is given; it may not exist yet), one that
/// exists without `force`, and, with `force`, one that is not a depot package (only a depot
/// package or an empty folder is ever replaced, see
/// [`crate::package::is_replaceable_package`]). Nothing is written. Run it before the key
/// file is loaded or created: `--key-file exports/irb.key --out exports --force` must not
/// create the key, then delete it.
pub fn check_destination(
    archive_root: &Path,
    out: &Path,
    key_file: Option<&Path>,
    force: bool,
) -> Result<(), ExportError> {
    check_outside_archive(archive_root, out)?;
    if let Some(key) = key_file {
        let k = canonical_or_nearest(key);
        let dest = canonical_or_nearest(out);
        if dest.starts_with(&k) || k.starts_with(&dest) {
            return Err(ExportError::OverlapsKeyFile {
                out: out.to_path_buf(),
                key: key.to_path_buf(),
            });
        }
    }
    crate::package::check_replaceable(out, force)?;
    Ok(())
}

/// Refuses a destination that is the archive, lies inside it, or contains it. Paths are
/// compared canonicalized (symlinks and `..` resolved); a destination that does not exist yet
/// is its nearest existing ancestor, canonicalized, with the rest of the path appended.
pub(crate) fn check_outside_archive(archive_root: &Path, out: &Path) -> Result<(), ExportError> {
    let overlap = || ExportError::OverlapsArchive {
        out: out.to_path_buf(),
        archive: archive_root.to_path_buf(),
    };
    let root = canonical_or_nearest(archive_root);
    let dest = canonical_or_nearest(out);
    if dest.starts_with(&root) || root.starts_with(&dest) {
        return Err(overlap());
    }
    Ok(())
}

/// `p` canonicalized; if it does not exist, its nearest existing ancestor canonicalized with
/// the missing components appended (`..` among them applied lexically: nothing below a
/// missing folder can be a symlink).
pub(crate) fn canonical_or_nearest(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut missing: Vec<std::ffi::OsString> = Vec::new();
    let mut cur: &Path = &abs;
    loop {
        if let Ok(c) = std::fs::canonicalize(cur) {
            let mut out = c;
            for part in missing.iter().rev() {
                match Path::new(part).components().next() {
                    Some(Component::ParentDir) => {
                        out.pop();
                    }
                    Some(Component::CurDir) | None => {}
                    Some(_) => out.push(part),
                }
            }
            return out;
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                missing.push(name.to_os_string());
                cur = parent;
            }
            (Some(parent), None) => {
                // `cur` ends in `..`: keep it for the lexical pass.
                missing.push("..".into());
                cur = parent;
            }
            _ => return abs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_overlapping_the_archive_are_refused() {
        let tmp = tempfile::tempdir().expect("tmp");
        let root = tmp.path().join("arc");
        std::fs::create_dir_all(root.join("store")).expect("mkdir");
        let refused = [
            root.clone(),
            root.join("store"),
            root.join("new/pkg.zip"),
            tmp.path().to_path_buf(),
            tmp.path().join("x/../arc"),
            tmp.path().join("arc/../arc/./pkg"),
        ];
        for out in refused {
            assert!(
                matches!(
                    check_outside_archive(&root, &out),
                    Err(ExportError::OverlapsArchive { .. })
                ),
                "{} must be refused",
                out.display()
            );
        }
        for out in [
            tmp.path().join("arc-pkg"),
            tmp.path().join("pkg/arc"),
            tmp.path().join("arc/../pkg"),
        ] {
            check_outside_archive(&root, &out)
                .unwrap_or_else(|e| panic!("{} is outside: {e}", out.display()));
        }
        #[cfg(unix)]
        {
            let link = tmp.path().join("link");
            std::os::unix::fs::symlink(&root, &link).expect("symlink");
            assert!(check_outside_archive(&root, &link.join("pkg")).is_err());
        }
    }
}
