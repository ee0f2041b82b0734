//! Finding profiles by name: the built-in levels, and custom TOML profiles (an IRB's rules
//! written down for review) in the profile folder or at an explicit path.
//!
//! The profile folder is `$DEPOT_PROFILE_DIR`, else `$XDG_CONFIG_HOME/depot/profiles`, else
//! `~/.config/depot/profiles`; a profile `NAME` there is the file `NAME.toml`.

use std::fs;
use std::path::{Path, PathBuf};

use anon_core::{DeidOption, Level, Profile, ProfileError};
use thiserror::Error;

/// Why a profile could not be found or loaded.
#[derive(Debug, Error)]
pub enum ProfileLoadError {
    /// Neither a built-in level, nor a file, nor a profile in the profile folder.
    #[error("no profile {name:?}: not a built-in level, not a file, and not {looked_in}")]
    NotFound {
        /// The name asked for.
        name: String,
        /// Where it was looked for.
        looked_in: String,
    },
    /// The profile file could not be read.
    #[error("cannot read profile {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The profile file is not a valid profile.
    #[error("profile {path}: {source}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: ProfileError,
    },
    /// The options cannot be combined with the profile.
    #[error(transparent)]
    Profile(#[from] ProfileError),
}

/// A custom profile found in the profile folder.
#[derive(Debug)]
pub struct CustomProfile {
    /// The file stem (what `--profile NAME` and `profiles show NAME` accept).
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// The profile, or why it does not load.
    pub profile: Result<Profile, ProfileLoadError>,
}

/// The profile folder from the environment, if one can be determined.
pub fn profile_dir() -> Option<PathBuf> {
    let env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("DEPOT_PROFILE_DIR")
        .or_else(|| env("XDG_CONFIG_HOME").map(|d| d.join("depot").join("profiles")))
        .or_else(|| env("HOME").map(|h| h.join(".config").join("depot").join("profiles")))
}

/// Loads a custom profile file.
pub fn load_profile_file(path: &Path) -> Result<Profile, ProfileLoadError> {
    let text = fs::read_to_string(path).map_err(|source| ProfileLoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Profile::from_toml(&text).map_err(|source| ProfileLoadError::Invalid {
        path: path.to_path_buf(),
        source,
    })
}

/// Every `*.toml` in `dir`, sorted by name (an unreadable folder lists nothing).
pub fn list_custom_profiles(dir: &Path) -> Vec<CustomProfile> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<CustomProfile> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "toml"))
        .filter_map(|path| {
            let name = path.file_stem()?.to_str()?.to_string();
            let profile = load_profile_file(&path);
            Some(CustomProfile {
                name,
                path,
                profile,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// A profile by built-in level name, file path, or name in the profile folder, with `options`
/// added on top.
pub fn resolve_profile(
    name_or_file: &str,
    options: &[DeidOption],
    dir: Option<&Path>,
) -> Result<Profile, ProfileLoadError> {
    if let Ok(level) = name_or_file.parse::<Level>() {
        return Ok(Profile::builtin(level, options)?);
    }
    let as_path = Path::new(name_or_file);
    let profile = if as_path.is_file() {
        load_profile_file(as_path)?
    } else {
        let candidate = dir.map(|d| d.join(format!("{name_or_file}.toml")));
        match candidate {
            Some(c) if c.is_file() && !name_or_file.contains(['/', '\\']) => load_profile_file(&c)?,
            _ => {
                return Err(ProfileLoadError::NotFound {
                    name: name_or_file.to_string(),
                    looked_in: dir
                        .map(|d| format!("in {}", d.display()))
                        .unwrap_or_else(|| "in a profile folder (none configured)".to_string()),
                });
            }
        }
    };
    if options.is_empty() {
        Ok(profile)
    } else {
        Ok(profile.with_options(options)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_levels_files_and_folder_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(
            dir.path().join("irb.toml"),
            "base = \"anonymize-full\"\n[actions]\nStudyDescription = \"K\"\n",
        )
        .expect("write");
        fs::write(dir.path().join("broken.toml"), "base = ").expect("write");
        let p =
            resolve_profile("basic", &[DeidOption::RetainUids], Some(dir.path())).expect("level");
        assert_eq!(p.options(), [DeidOption::RetainUids]);
        let p = resolve_profile("irb", &[], Some(dir.path())).expect("by name");
        assert_eq!(p.level(), Level::AnonymizeFull);
        let file = dir.path().join("irb.toml");
        assert!(resolve_profile(file.to_str().expect("utf8"), &[], None).is_ok());
        assert!(matches!(
            resolve_profile("nope", &[], Some(dir.path())),
            Err(ProfileLoadError::NotFound { .. })
        ));
        assert!(matches!(
            resolve_profile("broken", &[], Some(dir.path())),
            Err(ProfileLoadError::Invalid { .. })
        ));
        let listed = list_custom_profiles(dir.path());
        assert_eq!(
            listed.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["broken", "irb"]
        );
        assert!(listed[0].profile.is_err() && listed[1].profile.is_ok());
    }
}
