//! Who may store, and where: the receiver's rules per calling AE title, read from a small TOML
//! file (`depot serve --config FILE`).
//!
//! ```toml
//! aet = "DEPOT"                  # the AE title depot answers to (--aet overrides it)
//! any_called_aet = false         # accept associations whatever AE title they call
//! extra_sop_classes = []         # storage SOP classes beyond the standard's (private ones)
//!
//! [[calling]]                    # one table per sender allowed to store
//! ae = "MRI_3T"
//! project = "brain-study"
//!
//! [[calling]]
//! ae = "OUTSIDE_PACS"
//! project = "teaching"
//! level = "basic"                # de-identify on receive (dcm4chee's incoming coercion)
//! options = ["retain-longitudinal-modified-dates"]
//! # profile = "irb-2024"        # a custom profile instead of a level
//! # blank_identifiers = false
//! # key_file = "/secure/teaching.key"   # default: the archive's own key
//! # include_burned_in = false   # store files whose pixels may carry text anyway
//! ```
//!
//! With a configuration, a calling AE title that is not listed is rejected at association
//! (A-ASSOCIATE-RJ, "calling AE title not recognized"). Titles are compared exactly, after
//! trimming the spaces that pad them (AE titles are case-sensitive).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anon_core::{DeidOption, Key};
use export::incoming::IncomingDeid;
use serde::Deserialize;

use crate::error::{NetError, check_ae_title};

/// The configuration file as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// The AE title depot answers to.
    pub aet: Option<String>,
    /// Accept associations whatever AE title they call.
    #[serde(default)]
    pub any_called_aet: bool,
    /// Storage SOP class UIDs accepted beyond the standard's.
    #[serde(default)]
    pub extra_sop_classes: Vec<String>,
    /// The senders allowed to store.
    #[serde(default)]
    pub calling: Vec<CallingRule>,
}

/// One sender's rule.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallingRule {
    /// Its calling AE title.
    pub ae: String,
    /// The project its instances are filed in.
    pub project: String,
    /// A de-identification level applied on receive.
    pub level: Option<String>,
    /// Options on top of the level or profile.
    #[serde(default)]
    pub options: Vec<String>,
    /// A custom profile (file, or name in the profile folder) instead of a level.
    pub profile: Option<String>,
    /// Empty PatientID and other identifiers instead of pseudonymizing them.
    #[serde(default)]
    pub blank_identifiers: bool,
    /// The key for pseudonyms and UIDs (default: the archive's key).
    pub key_file: Option<PathBuf>,
    /// Store files whose pixels may carry burned-in text at levels that remove identity.
    #[serde(default)]
    pub include_burned_in: bool,
}

impl CallingRule {
    /// Whether the rule de-identifies.
    pub fn deidentifies(&self) -> bool {
        self.level.is_some() || self.profile.is_some()
    }
}

/// Where a sender's instances go and how they are changed on the way.
#[derive(Debug, Clone)]
pub struct Route {
    /// Project.
    pub project: String,
    /// De-identification applied before storing (`None`: originals are stored).
    pub deid: Option<Arc<IncomingDeid>>,
}

/// Who may store.
#[derive(Debug, Clone)]
pub enum Access {
    /// Any calling AE title, all into one route.
    Any(Route),
    /// Only the listed calling AE titles.
    Listed(BTreeMap<String, Route>),
}

impl Access {
    /// Checks every route against what its project already holds: a project whose earlier
    /// runs stored originals does not take de-identified data, nor the other way round, nor
    /// data de-identified another way (another profile or key). Returns what is wrong.
    pub fn check_projects(&self, archive: &archive::Archive) -> Result<(), String> {
        let routes: Vec<&Route> = match self {
            Access::Any(r) => vec![r],
            Access::Listed(map) => map.values().collect(),
        };
        for route in routes {
            let filter = archive::Filter {
                project: Some(route.project.clone()),
                ..archive::Filter::default()
            };
            let runs = archive.runs(&filter).map_err(|e| e.to_string())?;
            let wanted = route.deid.as_ref().map(|d| d.label());
            let held = runs
                .iter()
                .filter(|r| r.imported > 0)
                .find(|r| r.deidentified.as_deref() != wanted);
            if let Some(run) = held {
                let holds = run
                    .deidentified
                    .as_deref()
                    .map_or("original data".to_string(), |d| {
                        format!("data de-identified with {d}")
                    });
                let gets = wanted.map_or("original data".to_string(), |d| {
                    format!("data de-identified with {d}")
                });
                return Err(format!(
                    "project {:?} holds {holds} (run {}) and would receive {gets}; give the route its own project",
                    route.project, run.run_id
                ));
            }
        }
        Ok(())
    }

    /// The route of a calling AE title, or `None` when it may not store.
    pub fn route(&self, calling: &str) -> Option<&Route> {
        match self {
            Access::Any(r) => Some(r),
            Access::Listed(map) => map.get(calling.trim_matches(' ')),
        }
    }
}

impl ServeConfig {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<ServeConfig, NetError> {
        let text = std::fs::read_to_string(path).map_err(|source| NetError::ConfigRead {
            path: path.to_path_buf(),
            source,
        })?;
        ServeConfig::parse(&text).map_err(|reason| NetError::Config {
            path: path.to_path_buf(),
            reason,
        })
    }

    /// Parses and checks configuration text.
    pub fn parse(text: &str) -> Result<ServeConfig, String> {
        let config: ServeConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        if let Some(aet) = &config.aet {
            check_ae_title(aet).map_err(|e| e.to_string())?;
        }
        let mut seen = BTreeMap::new();
        for (i, rule) in config.calling.iter().enumerate() {
            let ae = check_ae_title(&rule.ae).map_err(|e| format!("calling[{i}]: {e}"))?;
            if seen.insert(ae.clone(), i).is_some() {
                return Err(format!("calling AE title {ae:?} is listed twice"));
            }
            if rule.project.trim().is_empty() || rule.project.chars().any(char::is_control) {
                return Err(format!(
                    "calling[{i}] ({ae}): invalid project name {:?}",
                    rule.project
                ));
            }
            if rule.level.is_some() && rule.profile.is_some() {
                return Err(format!(
                    "calling[{i}] ({ae}): give a level or a profile, not both"
                ));
            }
            if !rule.deidentifies()
                && (!rule.options.is_empty()
                    || rule.blank_identifiers
                    || rule.key_file.is_some()
                    || rule.include_burned_in)
            {
                return Err(format!(
                    "calling[{i}] ({ae}): options, blank_identifiers, key_file and include_burned_in need a level or profile"
                ));
            }
            for o in &rule.options {
                o.parse::<DeidOption>()
                    .map_err(|e| format!("calling[{i}] ({ae}): option {o}: {e}"))?;
            }
        }
        // A project holds originals or data de-identified one way, never a mix: "project
        // teaching holds de-identified data" must stay true of all of it.
        let mut treatment: BTreeMap<&str, (&str, String)> = BTreeMap::new();
        for rule in &config.calling {
            let how = if rule.deidentifies() {
                format!(
                    "{:?} {:?} {:?} {} {:?} {}",
                    rule.level,
                    rule.profile,
                    rule.options,
                    rule.blank_identifiers,
                    rule.key_file,
                    rule.include_burned_in
                )
            } else {
                "originals".to_string()
            };
            match treatment.get(rule.project.as_str()) {
                Some((other, seen)) if *seen != how => {
                    return Err(format!(
                        "project {:?} would receive from {} and {} with different de-identification; give each its own project",
                        rule.project, other, rule.ae
                    ));
                }
                _ => {
                    treatment.insert(&rule.project, (&rule.ae, how));
                }
            }
        }
        for uid in &config.extra_sop_classes {
            let ok = !uid.is_empty()
                && uid.len() <= 64
                && uid.bytes().all(|b| b.is_ascii_digit() || b == b'.');
            if !ok {
                return Err(format!("extra_sop_classes: {uid:?} is not a UID"));
            }
        }
        Ok(config)
    }

    /// The access rules, with every de-identification profile resolved. `archive_key` is the
    /// key used where a rule names no key file.
    pub fn access(&self, archive_key: &dyn Fn() -> Result<Key, String>) -> Result<Access, String> {
        let mut map = BTreeMap::new();
        for rule in &self.calling {
            let ae = check_ae_title(&rule.ae).map_err(|e| e.to_string())?;
            let deid = if rule.deidentifies() {
                resolve_deid(rule, archive_key)
                    .map_err(|e| format!("{ae}: {e}"))?
                    .map(Arc::new)
            } else {
                None
            };
            map.insert(
                ae,
                Route {
                    project: rule.project.clone(),
                    deid,
                },
            );
        }
        Ok(Access::Listed(map))
    }
}

/// The de-identification a rule names (`None` for `original`, which changes nothing: the
/// instances are stored as received).
fn resolve_deid(
    rule: &CallingRule,
    archive_key: &dyn Fn() -> Result<Key, String>,
) -> Result<Option<IncomingDeid>, String> {
    let options = rule
        .options
        .iter()
        .map(|o| {
            o.parse::<DeidOption>()
                .map_err(|e| format!("option {o}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let name = rule
        .profile
        .as_deref()
        .or(rule.level.as_deref())
        .unwrap_or("basic");
    let dir = export::profile_store::profile_dir();
    let mut profile = export::profile_store::resolve_profile(name, &options, dir.as_deref())
        .map_err(|e| format!("profile {name}: {e}"))?;
    if rule.blank_identifiers {
        profile = profile
            .with_blank_identifiers(true)
            .map_err(|e| format!("blank_identifiers: {e}"))?;
    }
    if !profile.changes_anything() {
        return Ok(None);
    }
    let key = match &rule.key_file {
        Some(path) => {
            export::keyfile::load_or_create(path)
                .map_err(|e| format!("key file {}: {e}", path.display()))?
                .key
        }
        None => archive_key()?,
    };
    Ok(Some(IncomingDeid::new(
        profile,
        key,
        rule.include_burned_in,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_read_and_checked() {
        let c = ServeConfig::parse(
            r#"
aet = "DEPOT"
[[calling]]
ae = "MRI_3T"
project = "brain"
[[calling]]
ae = "PACS "
project = "teaching"
level = "basic"
options = ["retain-uids"]
"#,
        )
        .unwrap();
        assert_eq!(c.calling.len(), 2);
        let access = c.access(&|| Ok(Key::from_bytes([7; 32]))).unwrap();
        assert_eq!(access.route("MRI_3T").unwrap().project, "brain");
        assert!(access.route("MRI_3T").unwrap().deid.is_none());
        let pacs = access.route("PACS").unwrap();
        assert!(pacs.deid.as_ref().unwrap().label().starts_with("basic"));
        assert!(
            access.route("mri_3t").is_none(),
            "AE titles are case-sensitive"
        );
        assert!(access.route("OTHER").is_none());

        for bad in [
            "[[calling]]\nae = \"A\"\nproject = \"p\"\n[[calling]]\nae = \"A\"\nproject = \"q\"\n",
            "[[calling]]\nae = \"WAY_TOO_LONG_AE_TITLE\"\nproject = \"p\"\n",
            "[[calling]]\nae = \"A\"\nproject = \"\"\n",
            "[[calling]]\nae = \"A\"\nproject = \"p\"\noptions = [\"retain-uids\"]\n",
            "[[calling]]\nae = \"A\"\nproject = \"p\"\nlevel = \"basic\"\noptions = [\"nope\"]\n",
            "[[calling]]\nae = \"A\"\nproject = \"p\"\nlevle = \"basic\"\n",
            "extra_sop_classes = [\"1.2.x\"]\n",
            "[[calling]]\nae = \"A\"\nproject = \"p\"\n[[calling]]\nae = \"B\"\nproject = \"p\"\nlevel = \"basic\"\n",
        ] {
            assert!(ServeConfig::parse(bad).is_err(), "{bad}");
        }
    }
}
