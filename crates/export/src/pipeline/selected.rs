//! The selected instances as the export holds them from selection to publication: only what
//! it uses of each index row, with the values the files of a series share (subject, labels,
//! UIDs, grouping keys, pseudonyms) held once. An export keeps one of these per file through
//! every phase, so their size is most of what its memory grows by with the number of files.

use std::collections::HashSet;
use std::ops::Deref;
use std::path::Path;
use std::sync::{Arc, Mutex};

use archive::InstanceRecord;

/// One selected instance: what the export uses of its index row. What it shares with the
/// other files of its series is held once per series, and read through it
/// (`selected.subject` is its series' subject).
#[derive(Debug, Clone)]
pub(crate) struct Selected {
    pub(crate) series: Arc<SeriesOf>,
    pub(crate) sop_uid: Arc<str>,
    /// InstanceNumber (the package's order within a series).
    pub(crate) instance_number: Option<i64>,
    /// The stored file and the content hash of its bytes.
    pub(crate) stored: Stored,
    pub(crate) size: u64,
}

/// What the files of one archive series share.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SeriesOf {
    /// The subject's archive code.
    pub(crate) subject: Arc<str>,
    pub(crate) study_number: i64,
    pub(crate) series_label: Arc<str>,
    pub(crate) modality: Option<Arc<str>>,
    pub(crate) study_uid: Arc<str>,
    pub(crate) series_uid: Arc<str>,
    /// The archive's content hash algorithm.
    pub(crate) hash_algorithm: archive::HashAlgorithm,
    /// The study's archive label, `code/study number`.
    pub(crate) archive_study: Arc<str>,
    /// The series' archive label, `code/study number/series label`.
    pub(crate) archive_series: Arc<str>,
}

impl SeriesOf {
    /// The path the archive's layout gives this series' stored file of content hash `hash`,
    /// as the index spells it; `root` is the archive's.
    pub(crate) fn usual_path(&self, root: &Path, hash: &[u8; 32]) -> String {
        usual_path(
            root,
            &self.subject,
            self.study_number,
            &self.series_label,
            &hex::encode(hash),
        )
    }

    /// Whether `record` is of this series, as the index lists it.
    fn holds(&self, record: &InstanceRecord) -> bool {
        *self.subject == *record.subject
            && self.study_number == record.study_number
            && *self.series_label == *record.series_label
            && self.modality.as_deref() == record.modality.as_deref()
            && *self.study_uid == *record.study_uid
            && *self.series_uid == *record.series_uid
            && self.hash_algorithm == record.hash_algorithm
    }
}

impl Deref for Selected {
    type Target = SeriesOf;

    fn deref(&self) -> &SeriesOf {
        &self.series
    }
}

impl Selected {
    /// The parts of `record` the export uses, shared values taken from `names`; `root` is the
    /// archive's.
    pub(crate) fn new(record: InstanceRecord, names: &Names, root: &Path) -> Selected {
        let stored = Stored::of(&record, root);
        Selected {
            stored,
            series: names.series(&record),
            sop_uid: record.sop_uid.into(),
            instance_number: record.instance_number,
            size: record.size,
        }
    }

    /// The stored file (absolute path, as the index gives it); `root` is the archive's.
    pub(crate) fn path(&self, root: &Path) -> String {
        match &self.stored {
            Stored::Usual(hash) => self.series.usual_path(root, hash),
            Stored::Unusual(u) => u.path.clone(),
        }
    }

    /// The content hash of the stored bytes (hex), as the index holds it.
    pub(crate) fn content_hash(&self) -> String {
        match &self.stored {
            Stored::Usual(hash) => hex::encode(hash),
            Stored::Unusual(u) => u.content_hash.clone(),
        }
    }
}

/// Where a selected file is stored and what its bytes hash to, in 32 bytes when the index says
/// what the archive's layout implies (a 32-byte hash, in lower-case hex, naming the file in its
/// series' folder): the path is then made again when it is needed. An export holds one per
/// file from selection to the write phase; a path and a hash as text were 200 bytes more.
#[derive(Debug, Clone)]
pub(crate) enum Stored {
    /// The content hash; the path is the layout's.
    Usual([u8; 32]),
    /// Anything else, exactly as the index has it.
    Unusual(Box<UnusualStored>),
}

/// A stored file whose path or hash the layout does not imply.
#[derive(Debug, Clone)]
pub(crate) struct UnusualStored {
    pub(crate) content_hash: String,
    pub(crate) path: String,
}

impl Stored {
    /// `record`'s, in 32 bytes when the path and hash are the layout's usual ones.
    pub(crate) fn of(record: &InstanceRecord, root: &Path) -> Stored {
        let mut hash = [0u8; 32];
        let usual = hex::decode_to_slice(&record.content_hash, &mut hash).is_ok()
            && hex::encode(hash) == record.content_hash
            && usual_path(
                root,
                &record.subject,
                record.study_number,
                &record.series_label,
                &record.content_hash,
            ) == record.path;
        if usual {
            Stored::Usual(hash)
        } else {
            Stored::Unusual(Box::new(UnusualStored {
                content_hash: record.content_hash.clone(),
                path: record.path.clone(),
            }))
        }
    }
}

/// The path the archive's layout gives a stored instance, as the index's records spell it.
fn usual_path(root: &Path, subject: &str, study: i64, series: &str, hash: &str) -> String {
    archive::path_text(&root.join(archive::layout::instance_rel(subject, study, series, hash)))
}

/// Strings many files share, each held once (a series' UID and labels, a subject's code,
/// pseudonym and grouping key), and what a series' files share; safe to use from the plan's
/// workers.
#[derive(Debug, Default)]
pub(crate) struct Names {
    strings: Mutex<HashSet<Arc<str>>>,
    /// The series last asked for (the index lists a series' files one after another).
    last_series: Mutex<Option<Arc<SeriesOf>>>,
}

impl Names {
    /// What `record` shares with the other files of its series: the one held for the series
    /// asked for last when it is the same.
    pub(crate) fn series(&self, record: &InstanceRecord) -> Arc<SeriesOf> {
        let mut last = self.last_series.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = last.as_ref().filter(|l| l.holds(record)) {
            return Arc::clone(l);
        }
        let archive_study = self.get(&format!("{}/{}", record.subject, record.study_number));
        let new = Arc::new(SeriesOf {
            subject: self.get(&record.subject),
            study_number: record.study_number,
            series_label: self.get(&record.series_label),
            modality: record.modality.as_deref().map(|m| self.get(m)),
            study_uid: self.get(&record.study_uid),
            series_uid: self.get(&record.series_uid),
            hash_algorithm: record.hash_algorithm,
            archive_series: self.get(&format!("{archive_study}/{}", record.series_label)),
            archive_study,
        });
        *last = Some(Arc::clone(&new));
        new
    }

    /// The shared copy of `s`.
    pub(crate) fn get(&self, s: &str) -> Arc<str> {
        let mut set = self.strings.lock().unwrap_or_else(|p| p.into_inner());
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

    fn record(root: &Path, hash: &str, rel: Option<&str>) -> InstanceRecord {
        let rel = rel.map_or_else(
            || archive::layout::instance_rel("S1", 2, "3.1", hash),
            str::to_string,
        );
        InstanceRecord {
            project: "p".into(),
            subject: "S1".into(),
            study_number: 2,
            series_label: "3.1".into(),
            study_uid: "1.2".into(),
            series_uid: "1.2.3".into(),
            sop_uid: "1.2.3.4".into(),
            sop_class_uid: None,
            transfer_syntax: None,
            modality: None,
            instance_number: Some(1),
            number_of_frames: None,
            content_hash: hash.into(),
            hash_algorithm: archive::HashAlgorithm::Blake3,
            size: 10,
            path: archive::path_text(&root.join(rel)),
            source_path: "/in/a.dcm".into(),
            run_id: 1,
            imported_at: "now".into(),
        }
    }

    #[test]
    fn a_stored_file_gives_back_the_index_path_and_hash_whether_usual_or_not() {
        let root = Path::new("/archive root/a");
        let names = Names::default();
        let hash = "0123456789abcdef".repeat(4);
        let cases = [
            (record(root, &hash, None), true),
            // Upper-case hex, a hash of another length, a path elsewhere: kept as they are.
            (record(root, &hash.to_uppercase(), None), false),
            (record(root, &hash[..40], None), false),
            (record(root, &hash, Some("store/S1/2/3.1/other.dcm")), false),
            (record(root, &hash, Some("conflicts/x.dcm")), false),
        ];
        for (r, usual) in cases {
            let selected = Selected::new(r.clone(), &names, root);
            assert_eq!(
                matches!(selected.stored, Stored::Usual(_)),
                usual,
                "{}",
                r.path
            );
            assert_eq!(selected.path(root), r.path);
            assert_eq!(selected.content_hash(), r.content_hash);
        }
    }

    #[test]
    fn the_files_of_a_series_share_one_series() {
        let root = Path::new("/a");
        let names = Names::default();
        let hash = "ab".repeat(32);
        let first = record(root, &hash, None);
        let mut second = first.clone();
        second.sop_uid = "1.2.3.5".into();
        let mut other = first.clone();
        other.series_uid = "1.2.4".into();
        let [a, b, c, d] =
            [&first, &second, &other, &first].map(|r| Selected::new(r.clone(), &names, root));
        assert!(Arc::ptr_eq(&a.series, &b.series));
        assert!(!Arc::ptr_eq(&a.series, &c.series));
        assert_eq!(*a.series, *d.series);
        assert_eq!(&*c.series_uid, "1.2.4");
        assert_eq!(
            (&*b.sop_uid, &*b.subject, b.study_number),
            ("1.2.3.5", "S1", 2)
        );
    }

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
