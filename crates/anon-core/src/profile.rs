//! Profiles: a level (or a custom TOML file naming one) plus options and per-tag actions,
//! compiled into a lookup the engine consults for every attribute. A profile can list every
//! rule it applies (`depot profiles show`) and has a digest of those rules, so what was done to
//! a data set can be traced to the exact rules used.

use std::collections::{BTreeMap, HashMap};

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::acceptance::{AcceptToml, Acceptance};
use crate::action::{Action, Resolved};
use crate::error::ProfileError;
use crate::level::{DeidOption, Level};
use crate::table::{self, TagPattern};
use crate::tag_names::{keyword_of, parse_tag_key};

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

/// The five attributes of NiDB's `anonymize` level.
const NIDB_ANONYMIZE: [(Tag, Action); 5] = [
    (tags::PATIENT_NAME, Action::P),
    (tags::REFERRING_PHYSICIAN_NAME, Action::Z),
    (tags::PERFORMING_PHYSICIAN_NAME, Action::Z),
    (tags::OPERATORS_NAME, Action::Z),
    (tags::PATIENT_BIRTH_DATE, Action::Z),
];

/// Attributes dcm4che flags as "missing in Part 15" and still absent from 2026c; at
/// anonymize-full they get the action of their sibling row (and its option overrides).
const MISSING_FROM_TABLE: [(Tag, Tag); 7] = [
    // (attribute, sibling row whose actions it copies)
    (
        tags::HUMAN_PERFORMER_CODE_SEQUENCE,
        tags::HUMAN_PERFORMER_NAME,
    ),
    (
        tags::ISSUER_OF_ACCESSION_NUMBER_SEQUENCE,
        tags::ISSUER_OF_PATIENT_ID,
    ),
    (
        tags::ISSUER_OF_PATIENT_ID_QUALIFIERS_SEQUENCE,
        tags::ISSUER_OF_PATIENT_ID,
    ),
    (tags::PATIENT_SIZE_CODE_SEQUENCE, tags::PATIENT_SIZE),
    (
        tags::REQUESTING_PHYSICIAN_IDENTIFICATION_SEQUENCE,
        tags::REQUESTING_PHYSICIAN,
    ),
    (
        tags::REQUESTING_SERVICE_CODE_SEQUENCE,
        tags::REQUESTING_SERVICE,
    ),
    (
        tags::SERIES_DESCRIPTION_CODE_SEQUENCE,
        tags::SERIES_DESCRIPTION,
    ),
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

    /// The Basic Profile with the selected options (levels basic and anonymize-full).
    fn compile_basic(&mut self) {
        let options = self.options.clone();
        let row_action = |basic: Action, per_option: &dyn Fn(DeidOption) -> Option<Action>| {
            let mut chosen: Option<(Action, Source)> = None;
            for o in &options {
                if let Some(a) = per_option(*o) {
                    // Options that disagree on a row (device identity K vs modified dates C):
                    // the cleaning action wins, so the date modification is applied.
                    chosen = match chosen {
                        Some((Action::C, s)) => Some((Action::C, s)),
                        _ => Some((a, Source::Option(*o))),
                    };
                }
            }
            let (action, source) = chosen.unwrap_or((basic, Source::Basic));
            RuleEntry { action, source }
        };
        for row in table::table() {
            let entry = row_action(row.basic, &|o| row.option_action(o));
            match row.pattern {
                TagPattern::Exact(tag) => {
                    self.exact.insert(tag, entry);
                }
                TagPattern::Curve => self.curve = Some(entry),
                TagPattern::Overlay(e) => self.overlay.push((e, entry)),
                TagPattern::Private => {
                    self.private = if entry.action == Action::C {
                        PrivatePolicy::Safe
                    } else {
                        PrivatePolicy::Remove
                    };
                }
            }
        }
        if self.level == Level::AnonymizeFull {
            self.beyond_table = true;
            for (tag, sibling) in MISSING_FROM_TABLE {
                if let Some(row) = table::table()
                    .iter()
                    .find(|r| r.pattern == TagPattern::Exact(sibling))
                {
                    let mut entry = row_action(row.basic, &|o| row.option_action(o));
                    if entry.source == Source::Basic {
                        entry.source = Source::Depot;
                    }
                    self.exact.insert(tag, entry);
                }
            }
        }
        // Identifiers: the subject's pseudonym keeps data regrouping by subject (Z and Z/D both
        // allow a dummy value); --blank-identifiers empties them the NiDB way instead.
        let id_action = if self.blank_identifiers {
            Action::Z
        } else {
            Action::P
        };
        for tag in [tags::PATIENT_ID, tags::PATIENT_NAME] {
            self.exact.insert(
                tag,
                RuleEntry {
                    action: id_action,
                    source: Source::Depot,
                },
            );
        }
        if self.options.contains(&DeidOption::RetainPatientIdHash) {
            let source = Source::Option(DeidOption::RetainPatientIdHash);
            for tag in [tags::PATIENT_ID, tags::ISSUER_OF_PATIENT_ID] {
                self.exact.insert(
                    tag,
                    RuleEntry {
                        action: Action::P,
                        source,
                    },
                );
            }
        }
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

    /// The profile's name (a level name, or the custom profile's `name`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The custom profile's description, if any.
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    /// The accepted coincidences of a custom profile (`[[accept]]`), sorted.
    pub fn accepts(&self) -> &[Acceptance] {
        &self.accepts
    }

    /// The level the profile is (or is built on).
    pub fn level(&self) -> Level {
        self.level
    }

    /// The options in force, sorted.
    pub fn options(&self) -> &[DeidOption] {
        &self.options
    }

    /// Whether instance UIDs are replaced (SOP Instance UID is remapped).
    pub fn remaps_uids(&self) -> bool {
        self.lookup(tags::SOP_INSTANCE_UID)
            .is_some_and(|r| r.action.resolve() == Resolved::Uid)
    }

    /// Whether PatientID becomes the subject's keyed pseudonym.
    pub fn pseudonymizes_patient_id(&self) -> bool {
        self.lookup(tags::PATIENT_ID)
            .is_some_and(|r| r.action == Action::P)
    }

    /// Whether PatientID is emptied or removed (data will no longer regroup by subject).
    pub fn blanks_identifiers(&self) -> bool {
        self.lookup(tags::PATIENT_ID)
            .is_some_and(|r| matches!(r.action.resolve(), Resolved::Empty | Resolved::Remove))
    }

    /// Whether dates are shifted per subject (retain-longitudinal-modified-dates).
    pub fn modifies_dates(&self) -> bool {
        self.level.takes_options() && self.dates == DateMode::Modified
    }

    /// Whether the output touches anything at all (false only for `original`, see
    /// [`Level::rewrites_files`]). Everything else that depends on it asks this.
    pub fn changes_anything(&self) -> bool {
        self.level.rewrites_files()
    }

    /// Whether files get the file meta cleaned (AE titles, private information dropped).
    pub(crate) fn cleans_meta(&self) -> bool {
        self.changes_anything() && self.level != Level::Anonymize
    }

    /// Whether files claim Patient Identity Removed = YES (not for `original`, `anonymize`,
    /// which keep PatientID and dates, nor `sup142`, whose 43 tags leave the patient's name,
    /// nor `qmenta`, whose table keeps private attributes and free text that may name the
    /// patient). The same as [`Profile::claims_identity_removal`], its newer name.
    pub fn removes_identity(&self) -> bool {
        self.cleans_meta() && !matches!(self.level, Level::Sup142 | Level::Qmenta)
    }

    /// Whether the engine writes Patient Identity Removed = YES and the De-identification
    /// Method into every file, so that the package claims the patient's identity is removed
    /// (and the audit must hold it to that). See [`Profile::removes_identity`].
    pub fn claims_identity_removal(&self) -> bool {
        self.removes_identity()
    }

    /// Whether private attributes are removed by default: every private data element and
    /// private creator (odd group), at every depth, unless a custom profile's `[actions]`
    /// name that exact private tag ([`Profile::action_for`] gives such a rule). This is the
    /// PS3.15 Basic Profile's `gggg,eeee` X (levels basic and anonymize-full without
    /// retain-safe-private). False where private attributes stay: under retain-safe-private
    /// (the safe list is kept, cleaned) and at the levels that keep them (original,
    /// anonymize, qmenta, sup142).
    pub fn removes_all_private(&self) -> bool {
        self.private == PrivatePolicy::Remove
    }

    /// The action the engine takes on the attribute `tag`, as it applies it to every data set
    /// it walks (the top level and every sequence item, at any depth), or `None` where no
    /// rule covers the tag.
    ///
    /// - Standard (even group) attributes: the rule naming the tag (table, seed, depot's or
    ///   a custom profile's row, options applied), else the rule of the repeating group the
    ///   tag falls in (curves `50xx,xxxx`, overlays `60xx,eeee`), else `None`. Where Overlay
    ///   Data (`60xx,3000`) is removed, the engine drops the rest of that overlay group with
    ///   it (an overlay without its data is invalid), whatever the other elements' answer.
    /// - Group lengths (`gggg,0000`, any group): `Some(X)` wherever the file meta is cleaned
    ///   (every level but original and anonymize): they would be wrong after any change, so
    ///   the engine drops them before any rule. Elsewhere as any other attribute.
    /// - Private (odd group) attributes, creators included: the rule naming the exact tag if
    ///   a custom profile has one, else the private default: `X` when
    ///   [`Profile::removes_all_private`], `C` under retain-safe-private (an attribute on the
    ///   safe list for its block's creator is kept, cleaned of identifiers, with its creator;
    ///   every other private element is removed: the tag alone cannot say which), `K` at the
    ///   levels that keep private attributes.
    /// - Unknown tags (not in the dictionary) are answered like any other by these rules:
    ///   usually `None`.
    /// - `original`: `None` for every tag (nothing is touched).
    ///
    /// `None` means "kept as it is, sequences walked", except where anonymize-full's rules
    /// beyond the table apply (they go by VR and value, not by tag: person names dummied,
    /// instance UIDs remapped, dates by the date options, the subject's identifiers cut from
    /// other text and binary values).
    ///
    /// Nested attributes get the same answer, with two exceptions that depend on the
    /// enclosing sequence rather than on the tag: inside a sequence whose action resolves to
    /// a dummy (`D`, or `P` on a sequence) every value becomes a dummy (class UIDs, codes and
    /// numbers kept, UIDs remapped, private attributes removed unless the level keeps them)
    /// unless its own action removes or empties it; inside a sequence under `C`, text
    /// attributes no rule lists are cleaned too.
    pub fn action_for(&self, tag: Tag) -> Option<Action> {
        if !self.changes_anything() {
            return None;
        }
        if tag.element() == 0x0000 && self.cleans_meta() {
            return Some(Action::X);
        }
        if tag.group() % 2 == 1 {
            if let Some(rule) = self.exact(tag) {
                return Some(rule.action);
            }
            return Some(match self.private {
                PrivatePolicy::Keep => Action::K,
                PrivatePolicy::Remove => Action::X,
                PrivatePolicy::Safe => Action::C,
            });
        }
        self.lookup(tag).map(|r| r.action)
    }

    /// The action of the rule that names exactly `tag` (a row of the table or of a seed,
    /// depot's own, or a custom profile's), without repeating groups, private defaults or
    /// group lengths: what [`Profile::rules`] lists under `GGGG,EEEE`. See
    /// [`Profile::action_for`] for what the engine does to the tag.
    pub fn listed_action(&self, tag: Tag) -> Option<Action> {
        self.exact(tag).map(|r| r.action)
    }

    /// The CID 7050 codes (value, meaning) the output may claim. The Basic Profile code only
    /// when the Basic Profile was applied without custom rules that keep more (K or C).
    pub fn method_codes(&self) -> Vec<(&'static str, &'static str)> {
        let mut out = Vec::new();
        if self.level.takes_options() && !self.custom.values().any(|a| a.retains()) {
            out.push(("113100", "Basic Application Confidentiality Profile"));
            for o in &self.options {
                if let Some(code) = o.code() {
                    out.push((code, o.code_meaning()));
                }
            }
        }
        out
    }

    /// The value of Longitudinal Temporal Information Modified, for Basic-based profiles.
    pub fn longitudinal_flag(&self) -> Option<&'static str> {
        if !self.level.takes_options() {
            return None;
        }
        Some(match self.dates {
            DateMode::Remove => "REMOVED",
            DateMode::Full => "UNMODIFIED",
            DateMode::Modified => "MODIFIED",
        })
    }

    /// The values written to De-identification Method (each at most 64 characters, LO).
    pub fn method_description(&self) -> Vec<String> {
        let mut out = vec![if self.name == self.level.name() {
            format!("depot {}", self.level)
        } else {
            format!("depot profile {} (base {})", self.name, self.level)
        }];
        out.extend(self.options.iter().map(|o| o.name().to_string()));
        if self.blank_identifiers {
            out.push("blank-identifiers".to_string());
        }
        out.push(format!(
            "rules sha256 {}",
            self.digest.get(..16).unwrap_or_default()
        ));
        out.into_iter()
            .map(|s| s.chars().take(64).collect())
            .collect()
    }

    /// Every rule, sorted by tag, then the rules that apply by VR or to everything else.
    pub fn rules(&self) -> Vec<Rule> {
        let mut out: Vec<Rule> = Vec::new();
        let table_kw: HashMap<Tag, &str> = table::table()
            .iter()
            .filter_map(|r| match r.pattern {
                TagPattern::Exact(t) => Some((t, r.keyword)),
                _ => None,
            })
            .collect();
        let mut exact: Vec<(&Tag, &RuleEntry)> = self.exact.iter().collect();
        exact.sort_by_key(|(t, _)| **t);
        for (tag, entry) in exact {
            let keyword = table_kw
                .get(tag)
                .map(|k| k.to_string())
                .unwrap_or_else(|| keyword_of(*tag));
            out.push(Rule {
                tag: TagPattern::Exact(*tag).to_string(),
                keyword,
                action: entry.action,
                source: entry.source.label(),
            });
        }
        if let Some(c) = self.curve {
            out.push(Rule {
                tag: TagPattern::Curve.to_string(),
                keyword: "(curve groups)".to_string(),
                action: c.action,
                source: c.source.label(),
            });
        }
        for (e, entry) in &self.overlay {
            out.push(Rule {
                tag: TagPattern::Overlay(*e).to_string(),
                keyword: if *e == 0x3000 {
                    "OverlayData"
                } else {
                    "OverlayComments"
                }
                .to_string(),
                action: entry.action,
                source: entry.source.label(),
            });
        }
        let (private_action, private_note) = match self.private {
            PrivatePolicy::Keep => (Action::K, "private attributes (not listed by this level)"),
            PrivatePolicy::Remove => (Action::X, "private attributes and creators, at every depth"),
            PrivatePolicy::Safe => (Action::C, "private: only the safe list kept, with creators"),
        };
        if self.changes_anything() {
            out.push(Rule {
                tag: TagPattern::Private.to_string(),
                keyword: private_note.to_string(),
                action: private_action,
                source: if self.private == PrivatePolicy::Keep {
                    "depot"
                } else {
                    "PS3.15 Basic"
                }
                .to_string(),
            });
        }
        if self.beyond_table {
            let uid = if self.options.contains(&DeidOption::RetainUids) {
                Action::K
            } else {
                Action::U
            };
            let date = match self.dates {
                DateMode::Remove => Action::XZ,
                DateMode::Full => Action::K,
                DateMode::Modified => Action::C,
            };
            for (tag, keyword, action) in [
                ("(PN not in table)", "any other person name", Action::ZD),
                (
                    "(UI not in table)",
                    "any other instance UID (class UIDs and 1.2.840.10008.* kept)",
                    uid,
                ),
                ("(DA/DT/TM not in table)", "any other date or time", date),
                (
                    "(text not in table)",
                    "subject identifiers cut from any other text or binary",
                    Action::C,
                ),
            ] {
                out.push(Rule {
                    tag: tag.to_string(),
                    keyword: keyword.to_string(),
                    action,
                    source: "depot (E.1.1 notes 1, 4, 5)".to_string(),
                });
            }
        }
        out.push(Rule {
            tag: "(everything else)".to_string(),
            keyword: "attributes not listed above; sequences still processed".to_string(),
            action: Action::K,
            source: "depot".to_string(),
        });
        out
    }

    /// SHA-256 (hex) of the canonical rule list and accepted coincidences: same digest, same
    /// rules and the same coincidences accepted.
    pub fn digest(&self) -> String {
        self.digest.clone()
    }

    fn compute_digest(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"depot-profile-rules-v1\n");
        h.update(format!(
            "level={}\nblank={}\n",
            self.level, self.blank_identifiers
        ));
        for o in &self.options {
            h.update(format!("option={o}\n"));
        }
        for r in self.rules() {
            h.update(format!("{}\t{}\n", r.tag, r.action));
        }
        // Only profiles with accepted coincidences hash them: every other digest is unchanged.
        for a in &self.accepts {
            h.update(format!("accept\t{}\t{}\n", a.tag(), a.kind()));
        }
        hex::encode(h.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_and_options_follow_the_table() {
        let p = Profile::builtin(Level::Basic, &[]).expect("basic");
        assert_eq!(
            p.lookup(tags::ACCESSION_NUMBER).map(|r| r.action),
            Some(Action::Z)
        );
        assert_eq!(
            p.lookup(tags::STUDY_INSTANCE_UID).map(|r| r.action),
            Some(Action::U)
        );
        assert_eq!(
            p.lookup(Tag(0x6002, 0x3000)).map(|r| r.action),
            Some(Action::X)
        );
        assert_eq!(
            p.lookup(Tag(0x5010, 0x0005)).map(|r| r.action),
            Some(Action::X)
        );
        assert_eq!(
            p.lookup(tags::PATIENT_ID).map(|r| r.action),
            Some(Action::P)
        );
        assert!(p.remaps_uids() && p.pseudonymizes_patient_id() && !p.blanks_identifiers());
        assert_eq!(p.private_policy(), PrivatePolicy::Remove);
        assert!(!p.beyond_table());

        let p = Profile::builtin(
            Level::AnonymizeFull,
            &[
                DeidOption::RetainUids,
                DeidOption::RetainDeviceIdentity,
                DeidOption::RetainLongitudinalModifiedDates,
            ],
        )
        .expect("options");
        assert_eq!(
            p.lookup(tags::STUDY_INSTANCE_UID).map(|r| r.action),
            Some(Action::K)
        );
        assert!(!p.remaps_uids());
        // device K against modified dates C: the date modification wins
        assert_eq!(
            p.lookup(tags::DATE_OF_LAST_CALIBRATION).map(|r| r.action),
            Some(Action::C)
        );
        assert_eq!(
            p.lookup(tags::DEVICE_SERIAL_NUMBER).map(|r| r.action),
            Some(Action::K)
        );
        assert_eq!(
            p.lookup(tags::STATION_AE_TITLE).map(|r| r.action),
            Some(Action::C)
        );
        assert!(p.modifies_dates());
        assert_eq!(p.longitudinal_flag(), Some("MODIFIED"));
        let codes: Vec<&str> = p.method_codes().iter().map(|c| c.0).collect();
        assert_eq!(codes, ["113100", "113110", "113109", "113107"]);
    }

    #[test]
    fn conflicts_and_misuse_are_errors() {
        assert!(matches!(
            Profile::builtin(
                Level::Basic,
                &[
                    DeidOption::RetainLongitudinalFullDates,
                    DeidOption::RetainLongitudinalModifiedDates
                ]
            ),
            Err(ProfileError::Conflict { .. })
        ));
        assert!(matches!(
            Profile::builtin(Level::Anonymize, &[DeidOption::RetainUids]),
            Err(ProfileError::OptionsNotAllowed { .. })
        ));
        let p = Profile::builtin(Level::AnonymizeFull, &[DeidOption::RetainPatientIdHash])
            .expect("hash");
        assert!(matches!(
            p.with_blank_identifiers(true),
            Err(ProfileError::Conflict { .. })
        ));
        let blank = Profile::builtin(Level::AnonymizeFull, &[])
            .and_then(|p| p.with_blank_identifiers(true))
            .expect("blank");
        assert!(blank.blanks_identifiers() && !blank.pseudonymizes_patient_id());
    }

    #[test]
    fn anonymize_level_lists_exactly_five_attributes() {
        let p = Profile::builtin(Level::Anonymize, &[]).expect("anonymize");
        let listed: Vec<Rule> = p
            .rules()
            .into_iter()
            .filter(|r| !r.tag.starts_with('(') && r.tag != "gggg,eeee")
            .collect();
        assert_eq!(listed.len(), 5);
        assert!(!p.removes_identity() && !p.remaps_uids());
    }

    #[test]
    fn custom_toml_profiles() {
        let p = Profile::from_toml(
            r#"
            name = "irb-17"
            base = "anonymize-full"
            options = ["RetainDeviceIdentityOption", "retain-longitudinal-modified-dates"]
            [actions]
            "0008,1030" = "K"
            PatientAge = "k"
            "(0010,2180)" = "X/Z"
            "#,
        )
        .expect("custom");
        assert_eq!(p.name(), "irb-17");
        assert_eq!(
            p.lookup(tags::STUDY_DESCRIPTION).map(|r| r.action),
            Some(Action::K)
        );
        assert_eq!(
            p.lookup(tags::PATIENT_AGE).map(|r| r.action),
            Some(Action::K)
        );
        assert_eq!(
            p.lookup(tags::OCCUPATION).map(|r| r.action),
            Some(Action::XZ)
        );
        assert!(
            p.method_codes().is_empty(),
            "K overrides drop the Basic claim"
        );
        assert!(Profile::from_toml("base = \"basic\"\n[actions]\nNoSuchKeyword = \"X\"").is_err());
        assert!(Profile::from_toml("base = \"basic\"\n[actions]\nPatientAge = \"Q\"").is_err());
        assert!(Profile::from_toml("base = \"nope\"").is_err());
        assert!(Profile::from_toml("base = \"basic\"\nsurprise = 1").is_err());
        assert!(Profile::from_toml("base = \"original\"\n[actions]\nPatientAge = \"X\"").is_err());
    }

    #[test]
    fn digest_tracks_rules_not_names() {
        let a = Profile::builtin(Level::Basic, &[]).expect("a");
        let b = Profile::from_toml("name = \"x\"\nbase = \"basic\"").expect("b");
        let c = Profile::builtin(Level::Basic, &[DeidOption::CleanGraphics]).expect("c");
        assert_eq!(a.digest(), b.digest());
        assert_ne!(a.digest(), c.digest());
        assert!(a.method_description().iter().all(|v| v.len() <= 64));
    }
}
