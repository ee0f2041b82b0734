//! The de-identification flags `depot export` and `depot audit` share (level, options, custom
//! profile, blank identifiers, key file), and their resolution into an engine `Profile` and
//! `Key`, so that the same words mean the same thing in every subcommand.

use std::path::PathBuf;

use anon_core::{DeidOption, Key, Profile};
use anyhow::{Context, bail};

use crate::ui;

/// Flags choosing how data is de-identified.
#[derive(Debug, Clone, clap::Args)]
pub struct DeidArgs {
    /// Level: original, anonymize, anonymize-full, basic, qmenta, sup142 (see `depot profiles`).
    #[arg(long, value_name = "LEVEL")]
    pub level: Option<String>,
    /// Option on top of the level (repeatable), e.g. retain-longitudinal-modified-dates;
    /// dcm4chee names are accepted too.
    #[arg(long = "option", value_name = "OPTION")]
    pub options: Vec<String>,
    /// A custom profile: a TOML file, or the name of one in the profile folder.
    #[arg(long, value_name = "FILE|NAME", conflicts_with = "level")]
    pub profile: Option<String>,
    /// Empty PatientID and other identifiers (NiDB's way) instead of pseudonymizing them;
    /// regrouping by subject then breaks, and depot says so.
    #[arg(long)]
    pub blank_identifiers: bool,
    /// Key file for pseudonyms and UIDs (created if missing); default: the archive's own key.
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
}

impl DeidArgs {
    /// The profile these flags name, `default_level` when none is given.
    pub fn profile(&self, default_level: &str) -> anyhow::Result<Profile> {
        let options = self
            .options
            .iter()
            .map(|o| {
                o.parse::<DeidOption>()
                    .map_err(|e| anyhow::anyhow!("--option {o}: {e}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let name = self
            .profile
            .as_deref()
            .or(self.level.as_deref())
            .unwrap_or(default_level);
        let dir = export::profile_store::profile_dir();
        let profile = export::profile_store::resolve_profile(name, &options, dir.as_deref())
            .with_context(|| format!("cannot use profile {name}"))?;
        if self.blank_identifiers {
            return profile
                .with_blank_identifiers(true)
                .with_context(|| format!("--blank-identifiers does not apply to {name}"));
        }
        Ok(profile)
    }

    /// The key from `--key-file` (created on first use), or `None` for the archive's key.
    pub fn key(&self, quiet: bool) -> anyhow::Result<Option<Key>> {
        let Some(path) = &self.key_file else {
            return Ok(None);
        };
        if path.is_dir() {
            bail!("--key-file {} is a folder", path.display());
        }
        let loaded = export::keyfile::load_or_create(path)
            .with_context(|| format!("cannot use key file {}", path.display()))?;
        if loaded.created {
            ui::info(
                quiet,
                format!("created a new key in {}", loaded.path.display()),
            );
        }
        if loaded.readable_by_others {
            ui::warn(format!(
                "key file {} is readable by other users",
                loaded.path.display()
            ));
        }
        Ok(Some(loaded.key))
    }
}
