//! Every rule of a profile as `depot profiles show` lists it, and the digest of that list that
//! every de-identified file and package records.

use std::collections::HashMap;

use dicom_core::Tag;
use sha2::{Digest, Sha256};

use crate::action::Action;
use crate::level::DeidOption;
use crate::table::{self, TagPattern};
use crate::tag_names::keyword_of;

use super::{DateMode, PrivatePolicy, Profile, Rule, RuleEntry};

impl Profile {
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

    pub(super) fn compute_digest(&self) -> String {
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
