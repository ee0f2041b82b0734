//! Whose values the audit searches, and where a short fragment of one counts.
//!
//! A package holds several subjects, and the audit searches every subject's values in every
//! file. A whole value of another subject in a file is a leak (a second patient's name in a
//! report, a record number copied into the wrong study), and so is any fragment of the file's
//! own subject's values. But a short fragment of another subject's value (a name part under
//! [`LONG_NEEDLE`] bytes: the `Field` of a referring physician "Dr. floral field") is a
//! common word: found in a third subject's BeamName `Field 1`, it says nothing about either
//! of them. So a *fragment* (a spelling that is a part of a person name, not the whole name)
//! shorter than [`LONG_NEEDLE`] bytes counts only in the files of the subjects whose value it
//! is part of. Whole values, of every kind and length, and longer fragments (`floral`) count in
//! every file, and a value two subjects share (the same physician) is each one's own.
//!
//! A file belongs to the subject whose folder it is in: the first component of its
//! package-relative path, the subject's pseudonym (its archive code at `original`). The
//! subjects known are those owning a value, and every folder the caller names
//! (`Auditor::with_subject_folders`), so that the files of a subject with nothing to search
//! (a placeholder name) are still its own. A file in no known subject's folder, every path,
//! the manifest and zip metadata count every fragment of every subject.

use std::collections::{BTreeSet, HashMap};

use crate::needle::{LONG_NEEDLE, Needle, ValueKind};

/// A value to search for, with the package subjects it belongs to: the names of their folders
/// (pseudonym, or archive code; a subject may be known by several). A needle without owners
/// belongs to no subject in particular (an original UID, a value of `depot release`'s check):
/// its fragments count everywhere.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OwnedNeedle {
    /// The value.
    pub needle: Needle,
    /// The folder names of the subjects it belongs to.
    pub owners: Vec<String>,
}

impl OwnedNeedle {
    /// `needle`, belonging to the subjects known by `owners`.
    pub fn new(needle: Needle, owners: Vec<String>) -> OwnedNeedle {
        OwnedNeedle { needle, owners }
    }
}

/// Where one spelling counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    /// In every file, path and manifest.
    Everywhere,
    /// Only in the files of these subjects (indices of [`Subjects`]), and wherever no subject
    /// is known.
    Subjects(BTreeSet<u32>),
}

impl Scope {
    /// The scope of a spelling that two needles share: it counts wherever either counts.
    pub(crate) fn merge(&mut self, other: Scope) {
        match (&mut *self, other) {
            (Scope::Everywhere, _) => {}
            (_, Scope::Everywhere) => *self = Scope::Everywhere,
            (Scope::Subjects(mine), Scope::Subjects(theirs)) => mine.extend(theirs),
        }
    }

    /// The subjects it is limited to, sorted (`None`: everywhere).
    pub(crate) fn into_subjects(self) -> Option<Box<[u32]>> {
        match self {
            Scope::Everywhere => None,
            Scope::Subjects(s) => Some(s.into_iter().collect()),
        }
    }
}

/// The package's subjects by folder name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Subjects {
    names: HashMap<String, u32>,
}

impl Subjects {
    /// The index of a folder name, added if new.
    pub(crate) fn index(&mut self, name: &str) -> u32 {
        let next = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        *self.names.entry(name.to_string()).or_insert(next)
    }

    /// The subject a package-relative file belongs to: the one whose folder is its first
    /// component (`None` for a file in no subject's folder).
    pub(crate) fn of_file(&self, rel: &str) -> Option<u32> {
        let (first, rest) = rel.split_once('/')?;
        (!rest.is_empty()).then(|| self.names.get(first).copied())?
    }

    /// The scope of a spelling of a needle owned by `owners`: limited to them when it is a
    /// fragment (`fragment`) shorter than [`LONG_NEEDLE`] bytes, else everywhere.
    pub(crate) fn scope(&mut self, owners: &[String], fragment: bool, len: usize) -> Scope {
        if owners.is_empty() || !fragment || len >= LONG_NEEDLE {
            return Scope::Everywhere;
        }
        Scope::Subjects(owners.iter().map(|o| self.index(o)).collect())
    }
}

/// The texts that spell a needle's whole value, whose spellings are never fragments: for a
/// person name, the name as given and with its components spaced (`SMITH^JOHN`, `SMITH
/// JOHN`), trimmed as the name's spellings are; `None` for other kinds, whose every spelling
/// is the whole value (a date in another order, a text in another character set).
pub(crate) fn whole_texts(n: &Needle) -> Option<Vec<String>> {
    if n.kind != ValueKind::PersonName {
        return None;
    }
    let value = n
        .value
        .trim_matches(|c: char| c.is_whitespace() || c == '\0' || c == '^' || c == '=');
    let spaced: Vec<&str> = value.split(['^', ' ']).filter(|p| !p.is_empty()).collect();
    let trim = |t: &str| {
        t.trim_matches(|c: char| c.is_whitespace() || c == '.' || c == ',')
            .to_string()
    };
    let mut out = vec![trim(value), trim(&spaced.join(" "))];
    out.dedup();
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_of_a_name_are_its_parts_and_short() {
        let n = Needle::new(
            "ReferringPhysicianName",
            ValueKind::PersonName,
            "Dr. floral field",
        );
        assert_eq!(whole_texts(&n), Some(vec!["Dr. floral field".to_string()]));
        let n = Needle::new("PatientName", ValueKind::PersonName, "Test^S R^");
        assert_eq!(
            whole_texts(&n),
            Some(vec!["Test^S R".to_string(), "Test S R".to_string()])
        );
        assert_eq!(
            whole_texts(&Needle::new("PatientID", ValueKind::Identifier, "123")),
            None
        );
        let mut s = Subjects::default();
        let owners = ["PA".to_string(), "S1".to_string()];
        assert_eq!(s.scope(&owners, false, 4), Scope::Everywhere);
        assert_eq!(s.scope(&owners, true, 6), Scope::Everywhere);
        assert_eq!(s.scope(&[], true, 4), Scope::Everywhere);
        let mut scope = s.scope(&owners, true, 5);
        assert_eq!(scope, Scope::Subjects([0, 1].into()));
        scope.merge(s.scope(&["PB".to_string()], true, 5));
        assert_eq!(
            scope.clone().into_subjects().as_deref(),
            Some(&[0, 1, 2][..])
        );
        scope.merge(Scope::Everywhere);
        assert_eq!(scope.into_subjects(), None);
    }

    #[test]
    fn a_file_belongs_to_the_subject_of_its_folder() {
        let mut s = Subjects::default();
        let a = s.index("PAAAA");
        assert_eq!(s.of_file("PAAAA/1/2/00001.dcm"), Some(a));
        assert_eq!(s.of_file("PBBBB/1/2/00001.dcm"), None);
        assert_eq!(s.of_file("PAAAA"), None, "the folder name itself is a path");
        assert_eq!(s.of_file("manifest.json"), None);
        assert_eq!(s.of_file("extra/PAAAA/x.csv"), None);
    }
}
