//! The selected instances as the export holds them from selection to publication: only what
//! it uses of each index row, with the values the files of a series share (subject, labels,
//! UIDs, grouping keys, pseudonyms) held once. An export keeps one of these per file through
//! every phase, so their size is most of what its memory grows by with the number of files.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use archive::InstanceRecord;

/// One selected instance: what the export uses of its index row.
#[derive(Debug, Clone)]
pub(crate) struct Selected {
    /// The subject's archive code.
    pub(crate) subject: Arc<str>,
    pub(crate) study_number: i64,
    pub(crate) series_label: Arc<str>,
    pub(crate) modality: Option<Arc<str>>,
    pub(crate) study_uid: Arc<str>,
    pub(crate) series_uid: Arc<str>,
    pub(crate) sop_uid: Box<str>,
    /// InstanceNumber (the package's order within a series).
    pub(crate) instance_number: Option<i64>,
    /// The content hash of the stored bytes (hex), as the index holds it.
    pub(crate) content_hash: Box<str>,
    /// The archive's content hash algorithm.
    pub(crate) hash_algorithm: archive::HashAlgorithm,
    pub(crate) size: u64,
    /// The stored file (absolute path).
    pub(crate) path: Box<str>,
}

impl Selected {
    /// The parts of `record` the export uses, shared values taken from `names`.
    pub(crate) fn new(record: InstanceRecord, names: &Names) -> Selected {
        Selected {
            subject: names.get(&record.subject),
            study_number: record.study_number,
            series_label: names.get(&record.series_label),
            modality: record.modality.as_deref().map(|m| names.get(m)),
            study_uid: names.get(&record.study_uid),
            series_uid: names.get(&record.series_uid),
            sop_uid: record.sop_uid.into_boxed_str(),
            instance_number: record.instance_number,
            content_hash: record.content_hash.into_boxed_str(),
            hash_algorithm: record.hash_algorithm,
            size: record.size,
            path: record.path.into_boxed_str(),
        }
    }
}

/// Strings many files share, each held once (a series' UID and labels, a subject's code,
/// pseudonym and grouping key); safe to use from the plan's workers.
#[derive(Debug, Default)]
pub(crate) struct Names(Mutex<HashSet<Arc<str>>>);

impl Names {
    /// The shared copy of `s`.
    pub(crate) fn get(&self, s: &str) -> Arc<str> {
        let mut set = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(a) = set.get(s) {
            return Arc::clone(a);
        }
        let a: Arc<str> = Arc::from(s);
        set.insert(Arc::clone(&a));
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_names_are_one_allocation() {
        let names = Names::default();
        let a = names.get("1.2.3");
        let b = names.get(&String::from("1.2.3"));
        let c = names.get("1.2.4");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
        assert_eq!(&*c, "1.2.4");
    }
}
