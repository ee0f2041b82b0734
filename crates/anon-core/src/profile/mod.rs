//! Profiles: a level (or a custom TOML file naming one) plus options and per-tag actions,
//! compiled into a lookup the engine consults for every attribute. A profile can list every
//! rule it applies (`depot profiles show`) and has a digest of those rules, so what was done to
//! a data set can be traced to the exact rules used.
//!
//! The type and its lookup are here; `build` makes a profile (`basic` compiles the Basic
//! Profile), `questions` answers what callers need to know about it, `markers` says what the
//! files will claim, `listing` lists its rules and their digest.

mod basic;
mod build;
mod listing;
mod markers;
mod questions;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};

use dicom_core::Tag;

use crate::acceptance::Acceptance;
use crate::action::Action;
use crate::level::{DeidOption, Level};
use crate::table;

/// Where a rule comes from (shown by `profiles show`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// PS3.15 Table E.1-1, Basic Profile column.
    Basic,
    /// An option column of Table E.1-1 (or dcm4chee's patient ID hash option).
    Option(DeidOption),
    /// NiDB's level definition.
    Nidb,
    /// A seed profile's table.
    Seed,
    /// depot's own decision (pseudonyms, attributes missing from the table).
    Depot,
    /// A custom profile's `[actions]`.
    Custom,
}

impl Source {
    fn label(self) -> String {
        match self {
            Source::Basic => format!("PS3.15 {} Basic", table::EDITION),
            Source::Option(o) => format!("option {o}"),
            Source::Nidb => "NiDB level".to_string(),
            Source::Seed => "seed table".to_string(),
            Source::Depot => "depot".to_string(),
            Source::Custom => "custom".to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RuleEntry {
    pub(crate) action: Action,
    pub(crate) source: Source,
}

/// What happens to private (odd group) attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PrivatePolicy {
    /// Left alone (original, anonymize and the seed tables, which do not list them).
    Keep,
    /// Removed with their creators, at every depth (PS3.15 Basic `gggg,eeee` X).
    Remove,
    /// Only attributes on the safe list survive, with their creators.
    Safe,
}

/// How dates are handled beyond the listed rows (and which LongitudinalTemporal flag is set).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateMode {
    Remove,
    Full,
    Modified,
}

/// One rule as `profiles show` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `GGGG,EEEE`, a wildcard (`50xx,xxxx`, `60xx,3000`, `gggg,eeee`) or a description in
    /// parentheses for rules by VR beyond the table.
    pub tag: String,
    /// DICOM keyword, or a short description.
    pub keyword: String,
    /// The action.
    pub action: Action,
    /// Where the rule comes from.
    pub source: String,
}

/// A compiled de-identification profile.
#[derive(Debug, Clone)]
pub struct Profile {
    name: String,
    description: Option<String>,
    level: Level,
    options: Vec<DeidOption>,
    blank_identifiers: bool,
    custom: BTreeMap<Tag, Action>,
    /// Accepted coincidences (`[[accept]]`), sorted, without duplicates.
    accepts: Vec<Acceptance>,
    exact: HashMap<Tag, RuleEntry>,
    curve: Option<RuleEntry>,
    overlay: Vec<(u16, RuleEntry)>,
    private: PrivatePolicy,
    beyond_table: bool,
    dates: DateMode,
    /// Computed once at build time (the engine writes it into every file).
    digest: String,
}

impl Profile {
    /// The profile's name (a level name, or the custom profile's `name`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The custom profile's description, if any.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The level the profile is (or is built on).
    pub fn level(&self) -> Level {
        self.level
    }

    /// The options in force, sorted.
    pub fn options(&self) -> &[DeidOption] {
        &self.options
    }

    /// The accepted coincidences of a custom profile (`[[accept]]`), sorted.
    pub fn accepts(&self) -> &[Acceptance] {
        &self.accepts
    }

    /// The rule for a non-private attribute, if the profile lists it.
    pub(crate) fn lookup(&self, tag: Tag) -> Option<RuleEntry> {
        if let Some(e) = self.exact.get(&tag) {
            return Some(*e);
        }
        if let Some(c) = self
            .curve
            .filter(|_| table::is_repeating_group(tag.group(), 0x5000))
        {
            return Some(c);
        }
        if table::is_repeating_group(tag.group(), 0x6000) {
            return self
                .overlay
                .iter()
                .find(|(e, _)| *e == tag.element())
                .map(|(_, r)| *r);
        }
        None
    }

    /// Whether the profile has an explicit rule for `tag` (table row, seed row or custom).
    pub fn lists(&self, tag: Tag) -> bool {
        self.exact.contains_key(&tag)
    }

    /// An exact rule only (private attributes can be targeted by custom profiles).
    pub(crate) fn exact(&self, tag: Tag) -> Option<RuleEntry> {
        self.exact.get(&tag).copied()
    }

    /// Whether any rule cleans (C), or safe private attributes are kept (cleaned).
    pub(crate) fn cleans(&self) -> bool {
        let c = |r: &RuleEntry| r.action == Action::C;
        self.private == PrivatePolicy::Safe
            || self.exact.values().any(c)
            || self.curve.as_ref().is_some_and(c)
            || self.overlay.iter().any(|(_, r)| c(r))
    }

    pub(crate) fn private_policy(&self) -> PrivatePolicy {
        self.private
    }

    pub(crate) fn beyond_table(&self) -> bool {
        self.beyond_table
    }

    pub(crate) fn date_mode(&self) -> DateMode {
        self.dates
    }
}
