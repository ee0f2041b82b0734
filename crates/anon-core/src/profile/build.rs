//! Building a profile: from a built-in level and options, or from a custom TOML file naming a
//! base level, options, per-tag actions and accepted coincidences; the checks that refuse
//! combinations that make no sense (options on a level without the Basic Profile, the two
//! longitudinal date options together, blank identifiers with the patient ID hash).

use std::collections::{BTreeMap, HashMap};

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use serde::Deserialize;

use crate::acceptance::{AcceptToml, Acceptance};
use crate::action::Action;
use crate::error::ProfileError;
use crate::level::{DeidOption, Level};
use crate::table;
use crate::tag_names::parse_tag_key;

use super::{DateMode, PrivatePolicy, Profile, RuleEntry, Source};

/// The five attributes of NiDB's `anonymize` level.
const NIDB_ANONYMIZE: [(Tag, Action); 5] = [
    (tags::PATIENT_NAME, Action::P),
    (tags::REFERRING_PHYSICIAN_NAME, Action::Z),
    (tags::PERFORMING_PHYSICIAN_NAME, Action::Z),
    (tags::OPERATORS_NAME, Action::Z),
    (tags::PATIENT_BIRTH_DATE, Action::Z),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ProfileToml {
    name: Option<String>,
    description: Option<String>,
    base: String,
    #[serde(default)]
    options: Vec<String>,
    #[serde(default)]
    blank_identifiers: bool,
    #[serde(default)]
    actions: BTreeMap<String, String>,
    #[serde(default)]
    accept: Vec<AcceptToml>,
}

impl Profile {
    /// A built-in level with options. Options are allowed on `basic` and `anonymize-full` only;
    /// the two longitudinal date options exclude each other.
    pub fn builtin(level: Level, options: &[DeidOption]) -> Result<Profile, ProfileError> {
        Profile::build(
            level.name().to_string(),
            None,
            level,
            options,
            false,
            BTreeMap::new(),
            Vec::new(),
        )
    }

    /// A custom profile from TOML:
    ///
    /// ```toml
    /// name = "irb-2024-017"
    /// description = "Keep study descriptions, shift dates"
    /// base = "anonymize-full"
    /// options = ["retain-longitudinal-modified-dates", "RetainDeviceIdentityOption"]
    /// blank-identifiers = false
    /// [actions]
    /// "0008,1030" = "K"
    /// PatientAge = "K"
    /// [[accept]]
    /// tag = "StudyDescription"
    /// kind = "InstitutionName"
    /// ```
    ///
    /// `[[accept]]` entries are accepted coincidences (see [`Acceptance`]).
    pub fn from_toml(text: &str) -> Result<Profile, ProfileError> {
        let parsed: ProfileToml = toml::from_str(text).map_err(|e| ProfileError::Toml {
            message: e.to_string(),
        })?;
        let level: Level = parsed.base.parse()?;
        let options = parsed
            .options
            .iter()
            .map(|o| o.parse::<DeidOption>())
            .collect::<Result<Vec<_>, _>>()?;
        let mut custom = BTreeMap::new();
        for (key, action) in &parsed.actions {
            let tag =
                parse_tag_key(key).ok_or_else(|| ProfileError::UnknownTag { tag: key.clone() })?;
            custom.insert(tag, action.parse::<Action>()?);
        }
        if !level.rewrites_files() && !custom.is_empty() {
            return Err(ProfileError::NotSupported {
                level: level.name().to_string(),
                what: "per-tag actions".to_string(),
            });
        }
        let accepts = parsed
            .accept
            .iter()
            .map(Acceptance::from_toml)
            .collect::<Result<Vec<_>, _>>()?;
        if !level.rewrites_files() && !accepts.is_empty() {
            return Err(ProfileError::NotSupported {
                level: level.name().to_string(),
                what: "accepted coincidences (it is not audited)".to_string(),
            });
        }
        let name = parsed.name.unwrap_or_else(|| "custom".to_string());
        Profile::build(
            name,
            parsed.description,
            level,
            &options,
            parsed.blank_identifiers,
            custom,
            accepts,
        )
    }

    /// The same profile with more options (for example `--option` on top of `--profile`).
    pub fn with_options(&self, extra: &[DeidOption]) -> Result<Profile, ProfileError> {
        let mut options = self.options.clone();
        options.extend_from_slice(extra);
        Profile::build(
            self.name.clone(),
            self.description.clone(),
            self.level,
            &options,
            self.blank_identifiers,
            self.custom.clone(),
            self.accepts.clone(),
        )
    }

    /// The same profile with NiDB-style blank identifiers: PatientID and PatientName emptied
    /// instead of pseudonymised (so exported data no longer regroups by subject).
    pub fn with_blank_identifiers(&self, blank: bool) -> Result<Profile, ProfileError> {
        Profile::build(
            self.name.clone(),
            self.description.clone(),
            self.level,
            &self.options,
            blank,
            self.custom.clone(),
            self.accepts.clone(),
        )
    }

    fn build(
        name: String,
        description: Option<String>,
        level: Level,
        options: &[DeidOption],
        blank_identifiers: bool,
        custom: BTreeMap<Tag, Action>,
        mut accepts: Vec<Acceptance>,
    ) -> Result<Profile, ProfileError> {
        accepts.sort();
        accepts.dedup();
        let mut options: Vec<DeidOption> = options.to_vec();
        options.sort();
        options.dedup();
        if !options.is_empty() && !level.takes_options() {
            return Err(ProfileError::OptionsNotAllowed {
                level: level.name().to_string(),
            });
        }
        let has = |o: DeidOption| options.contains(&o);
        if has(DeidOption::RetainLongitudinalFullDates)
            && has(DeidOption::RetainLongitudinalModifiedDates)
        {
            return Err(ProfileError::Conflict {
                first: DeidOption::RetainLongitudinalFullDates.name().to_string(),
                second: DeidOption::RetainLongitudinalModifiedDates
                    .name()
                    .to_string(),
            });
        }
        if blank_identifiers && !level.takes_options() {
            return Err(ProfileError::NotSupported {
                level: level.name().to_string(),
                what: "blank-identifiers".to_string(),
            });
        }
        if blank_identifiers && has(DeidOption::RetainPatientIdHash) {
            return Err(ProfileError::Conflict {
                first: "blank-identifiers".to_string(),
                second: DeidOption::RetainPatientIdHash.name().to_string(),
            });
        }
        let dates = if has(DeidOption::RetainLongitudinalModifiedDates) {
            DateMode::Modified
        } else if has(DeidOption::RetainLongitudinalFullDates) {
            DateMode::Full
        } else {
            DateMode::Remove
        };
        let mut profile = Profile {
            name,
            description,
            level,
            options: options.clone(),
            blank_identifiers,
            custom: custom.clone(),
            accepts,
            exact: HashMap::new(),
            curve: None,
            overlay: Vec::new(),
            private: PrivatePolicy::Keep,
            beyond_table: false,
            dates,
            digest: String::new(),
        };
        match level {
            Level::Original => {}
            Level::Anonymize => {
                for (tag, action) in NIDB_ANONYMIZE {
                    profile.exact.insert(
                        tag,
                        RuleEntry {
                            action,
                            source: Source::Nidb,
                        },
                    );
                }
            }
            Level::Basic | Level::AnonymizeFull => profile.compile_basic(),
            Level::Qmenta | Level::Sup142 => {
                for row in table::seed_rows(level.name()) {
                    profile.exact.insert(
                        row.tag,
                        RuleEntry {
                            action: row.action,
                            source: Source::Seed,
                        },
                    );
                }
            }
        }
        for (tag, action) in custom {
            profile.exact.insert(
                tag,
                RuleEntry {
                    action,
                    source: Source::Custom,
                },
            );
        }
        profile.digest = profile.compute_digest();
        Ok(profile)
    }
}
