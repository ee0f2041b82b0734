//! Accepted coincidences: the `[[accept]]` entries of a custom profile, with which a lab decides
//! once that a finding of the PHI audit is a coincidence and not a leak (a hospital called
//! "Head" and a StudyDescription of "HEAD", a station named after the scanner model).
//!
//! An entry names a place (`tag`) and the kind of value found there (`kind`, the attribute
//! label the finding names, such as `InstitutionName`). The place is either one attribute
//! (keyword or `GGGG,EEEE`), which covers the value wherever that attribute sits, at any depth
//! of sequences, or a whole tag path as the audit prints it (`(0040,A730)[0]/(0040,A160)`),
//! which covers exactly that element. A structural finding (a private element left, say) is
//! covered only by an entry naming its exact tag path and kind: an attribute covers it only at
//! the top level of the data set, where the attribute is the whole path. Findings that name no
//! element (values in paths, the manifest, pixel data) are never covered, and the export
//! applies no entry to a file the audit could not parse.
//!
//! The engine only parses and matches; applying entries to an audit is the export's business.
//! Entries are part of a profile's digest, so a package records exactly which list accepted
//! what.

use std::fmt;

use dicom_core::Tag;
use serde::Deserialize;

use crate::error::ProfileError;
use crate::tag_names::parse_tag_key;

/// One `[[accept]]` entry of a custom profile, as written in TOML.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AcceptToml {
    tag: String,
    kind: String,
}

/// Where an accepted coincidence may sit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Place {
    /// One attribute, at any depth.
    Attribute(Tag),
    /// One element: a tag path from the top of the data set.
    Path(Vec<(Tag, Option<u32>)>),
}

/// An accepted coincidence: a kind of value at a place, which the audit's findings there do not
/// block publication for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Acceptance {
    place: Place,
    kind: String,
}

impl Acceptance {
    /// An entry from its TOML form: `tag` is a keyword, `GGGG,EEEE`, `(GGGG,EEEE)`,
    /// `GGGGEEEE` or a tag path of such steps joined by `/`, each but the last with an item
    /// index (`(0040,A730)[0]/(0040,A160)`); `kind` a label of letters, digits, `-` and `_`.
    pub fn new(tag: &str, kind: &str) -> Result<Acceptance, ProfileError> {
        let bad_tag = || ProfileError::BadAcceptance {
            tag: tag.to_string(),
            kind: kind.to_string(),
            why: "the tag is not a keyword, GGGG,EEEE or a tag path like (0040,A730)[0]/(0040,A160)",
        };
        let kind_ok = !kind.is_empty()
            && kind.len() <= 64
            && kind
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !kind_ok {
            return Err(ProfileError::BadAcceptance {
                tag: tag.to_string(),
                kind: kind.to_string(),
                why: "the kind is the label the finding names (e.g. InstitutionName): letters, digits, - and _",
            });
        }
        let t = tag.trim();
        let place = if t.contains('/') || t.contains('[') {
            Place::Path(parse_path(t).ok_or_else(bad_tag)?)
        } else {
            Place::Attribute(parse_tag_key(t).ok_or_else(bad_tag)?)
        };
        Ok(Acceptance {
            place,
            kind: kind.to_string(),
        })
    }

    pub(crate) fn from_toml(entry: &AcceptToml) -> Result<Acceptance, ProfileError> {
        Acceptance::new(&entry.tag, &entry.kind)
    }

    /// The kind of value accepted (e.g. `InstitutionName`).
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The place in canonical form: `(GGGG,EEEE)` for an attribute at any depth, the tag path
    /// otherwise.
    pub fn tag(&self) -> String {
        match &self.place {
            Place::Attribute(t) => step((*t, None)),
            Place::Path(p) => render_path(p),
        }
    }

    /// Whether the entry covers a finding of `kind` at the tag path `tag_path` (as the audit
    /// prints it). For a `structural` finding (anything but a value found in an element) only
    /// an entry naming that exact tag path and kind does.
    pub fn covers(&self, tag_path: &str, kind: &str, structural: bool) -> bool {
        if kind != self.kind {
            return false;
        }
        let Some(path) = parse_path(tag_path.trim()) else {
            return false;
        };
        match &self.place {
            Place::Path(p) => *p == path,
            Place::Attribute(t) if structural => path == [(*t, None)],
            Place::Attribute(t) => path.last().is_some_and(|(last, _)| last == t),
        }
    }
}

impl fmt::Display for Acceptance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = match self.place {
            Place::Attribute(_) => " (any depth)",
            Place::Path(_) => "",
        };
        write!(f, "{} at {}{at}", self.kind, self.tag())
    }
}

fn step((tag, item): (Tag, Option<u32>)) -> String {
    let mut s = format!("({:04X},{:04X})", tag.group(), tag.element());
    if let Some(i) = item {
        s.push_str(&format!("[{i}]"));
    }
    s
}

fn render_path(p: &[(Tag, Option<u32>)]) -> String {
    p.iter().map(|s| step(*s)).collect::<Vec<_>>().join("/")
}

/// Parses `(GGGG,EEEE)[i]/.../(GGGG,EEEE)` (steps may also be keywords or bare `GGGG,EEEE`):
/// every step but the last carries an item index, the last none.
fn parse_path(s: &str) -> Option<Vec<(Tag, Option<u32>)>> {
    let parts: Vec<&str> = s.split('/').collect();
    let mut out = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let (key, item) = match part.trim().strip_suffix(']') {
            Some(rest) => {
                let (key, index) = rest.rsplit_once('[')?;
                (key, Some(index.trim().parse::<u32>().ok()?))
            }
            None => (part.trim(), None),
        };
        if last == item.is_some() {
            return None;
        }
        out.push((parse_tag_key(key)?, item));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_cover_their_values_at_any_depth() {
        let a = Acceptance::new("StudyDescription", "InstitutionName").expect("valid");
        assert_eq!(a.tag(), "(0008,1030)");
        assert!(a.covers("(0008,1030)", "InstitutionName", false));
        assert!(a.covers("(0008,1110)[0]/(0008,1030)", "InstitutionName", false));
        assert!(!a.covers("(0008,1030)", "PatientName", false), "other kind");
        assert!(
            !a.covers("(0008,103E)", "InstitutionName", false),
            "other tag"
        );
        assert!(
            !a.covers("(0008,1110)[0]/(0008,1030)", "InstitutionName", true),
            "structural: only the exact path"
        );
        assert!(!a.covers("", "InstitutionName", false), "no element");
        let same = Acceptance::new("(0008,1030)", "InstitutionName").expect("valid");
        assert_eq!(a, same);
        assert_eq!(
            Acceptance::new("00081030", "InstitutionName").expect("ok"),
            a
        );
    }

    #[test]
    fn paths_cover_exactly_their_element() {
        let a = Acceptance::new("(300a,00b0)[0]/ (300A,00C2)", "ReferringPhysicianName")
            .expect("valid");
        assert_eq!(a.tag(), "(300A,00B0)[0]/(300A,00C2)");
        assert!(a.covers(
            "(300A,00B0)[0]/(300A,00C2)",
            "ReferringPhysicianName",
            false
        ));
        assert!(!a.covers(
            "(300A,00B0)[1]/(300A,00C2)",
            "ReferringPhysicianName",
            false
        ));
        assert!(!a.covers("(300A,00C2)", "ReferringPhysicianName", false));
        let p = Acceptance::new("(0029,1010)[0]/(0029,1020)", "private-element").expect("ok");
        assert!(p.covers("(0029,1010)[0]/(0029,1020)", "private-element", true));
        assert!(!p.covers("(0029,1010)[1]/(0029,1020)", "private-element", true));
    }

    #[test]
    fn structural_findings_need_their_exact_tag() {
        let top = Acceptance::new("0029,1010", "private-element").expect("valid");
        assert!(top.covers("(0029,1010)", "private-element", true));
        assert!(!top.covers("(0040,A730)[0]/(0029,1010)", "private-element", true));
    }

    #[test]
    fn malformed_entries_are_refused() {
        for (tag, kind) in [
            ("NoSuchKeyword", "PatientName"),
            ("(0008,1030)[0]", "PatientName"),
            ("(0040,A730)/(0040,A160)", "PatientName"),
            ("(0040,A730)[x]/(0040,A160)", "PatientName"),
            ("StudyDescription", ""),
            ("StudyDescription", "Patient Name"),
            ("StudyDescription", "PatientName\n"),
        ] {
            assert!(
                matches!(
                    Acceptance::new(tag, kind),
                    Err(ProfileError::BadAcceptance { .. })
                ),
                "{tag:?} {kind:?}"
            );
        }
    }
}
