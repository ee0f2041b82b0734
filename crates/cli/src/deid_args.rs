//! The de-identification flags every subcommand that de-identifies shares (`anonymize`,
//! `export`, `audit`, `send`, `serve`): level, options, custom profile, blank identifiers, key
//! file, and their resolution into an engine `Profile` and `Key`, so that the same words mean
//! the same thing everywhere. `--level` takes only the built-in levels (a typed value, checked
//! by clap); a custom profile is `--profile`.

use std::path::PathBuf;

use anon_core::{DeidOption, Key, Level, Profile};
use anyhow::{Context, bail};
use clap::builder::PossibleValue;

use crate::ui;

/// A built-in level as a command-line value: the kebab-case names `depot profiles` lists, any
/// case, plus the aliases `full`, `light` and `none`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LevelArg(pub Level);

impl clap::ValueEnum for LevelArg {
    fn value_variants<'a>() -> &'a [Self] {
        const ALL: [LevelArg; 6] = [
            LevelArg(Level::ALL[0]),
            LevelArg(Level::ALL[1]),
            LevelArg(Level::ALL[2]),
            LevelArg(Level::ALL[3]),
            LevelArg(Level::ALL[4]),
            LevelArg(Level::ALL[5]),
        ];
        &ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let value = PossibleValue::new(self.0.name()).help(self.0.summary());
        Some(match self.0 {
            Level::AnonymizeFull => value.aliases(["full", "anonymize-complete"]),
            Level::Anonymize => value.alias("light"),
            Level::Original => value.alias("none"),
            _ => value,
        })
    }
}

/// Flags choosing how data is de-identified.
#[derive(Debug, Clone, clap::Args)]
pub struct DeidArgs {
    /// Level (see `depot profiles`); a custom profile is given with --profile.
    #[arg(long, value_name = "LEVEL", ignore_case = true)]
    pub level: Option<LevelArg>,
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
    /// Key file for pseudonyms, UIDs and date offsets (created if missing); default: the
    /// archive's own key (`anonymize`, outside any archive: $DEPOT_KEY_DIR/deid.key, else
    /// $XDG_CONFIG_HOME/depot/deid.key, else ~/.config/depot/deid.key).
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,
}

impl DeidArgs {
    /// Whether `--level` or `--profile` was given.
    pub fn names_a_profile(&self) -> bool {
        self.level.is_some() || self.profile.is_some()
    }

    /// The profile these flags name: `--profile`, else `--level`, else `default_level`.
    pub fn profile(&self, default_level: Level) -> anyhow::Result<Profile> {
        let options = self
            .options
            .iter()
            .map(|o| {
                o.parse::<DeidOption>()
                    .map_err(|e| anyhow::anyhow!("--option {o}: {e}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let (profile, name) = match &self.profile {
            Some(name) => {
                let dir = export::profile_store::profile_dir();
                let profile =
                    export::profile_store::resolve_profile(name, &options, dir.as_deref())
                        .with_context(|| format!("cannot use profile {name}"))?;
                (profile, name.clone())
            }
            None => {
                let level = self.level.map_or(default_level, |l| l.0);
                let profile = Profile::builtin(level, &options)
                    .with_context(|| format!("cannot use level {level}"))?;
                (profile, level.name().to_string())
            }
        };
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
