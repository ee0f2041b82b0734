//! The package manifest: what a package holds and how it was made, as `manifest.json` and a flat
//! `manifest.csv` beside it.
//!
//! The manifest travels with the data, so it obeys the same rule as every path in the package:
//! at an anonymizing level it names subjects only by pseudonym and studies and series only by
//! number. No name, ID, date, description, original UID or archive code appears in it (archive
//! codes would let two projects' packages from one archive be linked). It records what a
//! recipient and an IRB need: the level, options and profile digest, a fingerprint of the key
//! (so two packages can be checked to share a key without revealing it), counts, every file with
//! its checksum (BLAKE3 unless the export asked for SHA-256; the manifest names the algorithm
//! in `checksum` and each file's checksum field after it), the regrouping warnings, the series left out or included despite possible
//! burned-in text, the audit's summary, and every finding of the audit (by file, tag path and
//! kind, never by value) with who accepted it and why: a profile's accepted coincidences at
//! export, a person at `depot release` (see [`crate::quarantine`]).
//!
//! A manifest reads back as it was written ([`Manifest::from_json`]): releasing a quarantined
//! package rewrites only what the release adds, and `depot audit` reads the level, options and
//! subjects a package claims. A manifest written before a field existed still reads: every
//! field but `format` and `level` has a default (a manifest without `checksum` was written
//! before depot named its algorithm: its files carry `sha256`).

use std::collections::BTreeMap;

use archive::HashAlgorithm;
use serde::{Deserialize, Serialize};

use crate::regroup::{GroupLevel, RegroupKind};

mod checksum;
mod encode;

pub use checksum::{ChecksumFieldError, FileChecksum};
pub use encode::FileSource;

/// Format tag written into every manifest.
pub const FORMAT: &str = "depot-package/1";

/// The whole manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// The program that wrote it, e.g. `depot 0.1.0`.
    #[serde(default)]
    pub created_by: String,
    /// De-identification level or profile name.
    pub level: String,
    /// Options in effect (kebab-case names).
    #[serde(default)]
    pub options: Vec<String>,
    /// SHA-256 of the profile's canonical rules (identifies custom profiles exactly).
    #[serde(default)]
    pub profile_digest: String,
    /// A one-way fingerprint of the key used for pseudonyms and UIDs (`none` at `original`).
    #[serde(default)]
    pub key_fingerprint: String,
    /// Whether identifiers were blanked (NiDB style) rather than pseudonymized.
    #[serde(default)]
    pub blank_identifiers: bool,
    /// The algorithm of every file's checksum (`blake3` or `sha256`); each file's checksum is
    /// the field named after it. Absent in manifests written before depot named it, whose
    /// files carry `sha256`.
    #[serde(default = "before_named")]
    pub checksum: HashAlgorithm,
    /// Counts of what the package holds.
    #[serde(default)]
    pub counts: Counts,
    /// Subjects, their studies, series and files.
    #[serde(default)]
    pub subjects: Vec<SubjectEntry>,
    /// Regrouping problems found before writing.
    #[serde(default)]
    pub regrouping_warnings: Vec<WarningEntry>,
    /// Series flagged as possibly carrying burned-in text.
    #[serde(default)]
    pub burned_in: Vec<BurnedInEntry>,
    /// The audit's summary (absent at `original`, which is not audited).
    pub audit: Option<AuditSummary>,
    /// Every finding of the audit, in report order, accepted or advisory: a package is never
    /// published with a finding it does not list (empty at `original`).
    #[serde(default)]
    pub findings: Vec<FindingEntry>,
    /// How a quarantined package was released (absent for a package published by the export).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<ReleaseEntry>,
}

/// A finding as the manifest lists it: what `findings::FindingRecord` says but the message (whose
/// prose would only add words the manifest's own audit could mistake for names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingEntry {
    /// `F1`, `F2`, ...
    pub id: String,
    /// The finding's type (`value`, `private-element`, `unreadable`, ...).
    #[serde(rename = "type")]
    pub finding: String,
    /// The package-relative file or path it is about (identifying values masked).
    pub path: String,
    /// Where in the file (`header`, `pixel-data`, `path`, ...), when the finding says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The tag path of the element, when the finding names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The attribute whose value was found, or the type of a structural finding.
    pub kind: String,
    /// Whether it blocks publication until accepted (false: advisory).
    pub blocking: bool,
    /// Who accepted it, why and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<Accepted>,
}

/// Who accepted a blocking finding, and when. The JSON forms are
/// `{"profile": NAME, "profile_digest": HEX, "at": TIME}` and
/// `{"by": NAME, "reason": TEXT, "at": TIME}` (field names the manifest audit knows as
/// depot's own words, or too short to be searched).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Accepted {
    /// An `[[accept]]` entry of the export's profile.
    Profile {
        /// The profile's name.
        profile: String,
        /// The profile's digest (rules and accepted coincidences).
        profile_digest: String,
        /// When (the export's time, RFC 3339 UTC).
        at: String,
    },
    /// A person, at `depot release`.
    User {
        /// Who (`--by`, else the login name).
        by: String,
        /// Why (`--reason`).
        reason: String,
        /// When (RFC 3339 UTC).
        at: String,
    },
}

/// The release of a quarantined package: who released it, why and when, and what was accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseEntry {
    /// The quarantine entry's ID.
    pub id: String,
    /// When the export put it in quarantine (RFC 3339 UTC).
    pub quarantined_at: String,
    /// When it was released.
    pub released_at: String,
    /// Who released it (`--by`, else the login name).
    pub by: String,
    /// Why (`--reason`).
    pub reason: String,
    /// What `--accept` named: finding IDs, or `all`.
    pub accepted: Vec<String>,
}

/// Totals.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Subjects in the package.
    pub subjects: usize,
    /// Studies in the package.
    pub studies: usize,
    /// Series in the package.
    pub series: usize,
    /// Instance files in the package.
    pub instances: usize,
    /// Bytes of instance files.
    pub bytes: u64,
    /// Series left out because they may carry burned-in text.
    pub series_left_out: usize,
}

/// One subject.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubjectEntry {
    /// Pseudonym (archive code at `original`); also the subject's folder name.
    pub id: String,
    /// Its studies.
    #[serde(default)]
    pub studies: Vec<StudyEntry>,
}

/// One study.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StudyEntry {
    /// Study number within the subject; also the folder name.
    pub number: u32,
    /// Its series.
    pub series: Vec<SeriesEntry>,
}

/// One series.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeriesEntry {
    /// Series label (the SeriesNumber, made unique by the archive); also the folder name.
    pub number: String,
    /// Modality.
    pub modality: String,
    /// Its files.
    pub files: Vec<FileEntry>,
}

/// The checksum algorithm of a manifest that does not name one.
fn before_named() -> HashAlgorithm {
    HashAlgorithm::Sha256
}

/// One instance file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "checksum::FileFields")]
pub struct FileEntry {
    /// Package-relative path.
    pub path: String,
    /// Checksum of the file as written, in a field named after its algorithm
    /// (`"blake3": HEX` or `"sha256": HEX`).
    #[serde(flatten)]
    pub checksum: FileChecksum,
    /// Size in bytes.
    pub bytes: u64,
}

/// A regrouping warning, with package labels instead of archive codes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WarningEntry {
    /// Level of the problem.
    pub level: GroupLevel,
    /// Merge or split.
    pub kind: RegroupKind,
    /// Package labels of the groups involved (`pseudonym`, `pseudonym/study`, ...), each once
    /// (archive subjects of several projects can share one pseudonym); for rejected instances,
    /// their series.
    pub groups: Vec<String>,
    /// How many groups they would become (0 for instances that would be rejected).
    pub would_become: usize,
    /// For rejected instances: why (the attribute, never its value).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For rejected instances: how many.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instances: Option<usize>,
    /// The warning as printed, with package labels.
    pub message: String,
}

/// A series flagged as possibly carrying burned-in text.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BurnedInEntry {
    /// Package label of the series (`pseudonym/study/series`).
    pub series: String,
    /// Modality.
    pub modality: String,
    /// Why it was flagged.
    pub reason: String,
    /// Whether it is in the package (`--include-burned-in`, or a level that keeps it).
    pub included: bool,
}

/// The audit's summary.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditSummary {
    /// Files audited.
    pub files: usize,
    /// Spellings of identifying values searched for.
    pub values_searched: usize,
    /// Findings, counted after every file, path and the manifest itself were searched (each
    /// is listed in [`Manifest::findings`]).
    pub findings: usize,
    /// Whether the level blocks publication on findings (basic, anonymize-full and profiles on
    /// them): a blocking finding is published only once accepted. False at `anonymize`,
    /// `qmenta` and `sup142`, whose findings are advisory.
    #[serde(default)]
    pub blocking: bool,
    /// Blocking findings accepted (by the profile or at release).
    #[serde(default)]
    pub accepted: usize,
    /// Advisory findings.
    #[serde(default)]
    pub advisory: usize,
}

impl Manifest {
    /// `manifest.json`, pretty-printed.
    pub fn to_json(&self) -> Vec<u8> {
        // About 200 bytes per file, pretty-printed: sized up front, so that a package of many
        // files does not hold a half-empty doubled buffer.
        let mut out = Vec::with_capacity(self.files().count() * 256 + (64 << 10));
        if self.write_json(None, &mut out).is_err() {
            out.clear();
            out.push(b'\n');
        }
        out
    }

    /// A manifest as [`Manifest::to_json`] wrote it. Every file's checksum must be of the
    /// algorithm the manifest names.
    pub fn from_json(bytes: &[u8]) -> Result<Manifest, serde_json::Error> {
        let manifest: Manifest = serde_json::from_slice(bytes)?;
        if let Some(f) = manifest
            .files()
            .find(|f| f.checksum.algorithm() != manifest.checksum)
        {
            return Err(serde::de::Error::custom(format_args!(
                "{} has a {} checksum, the manifest says its checksums are {}",
                f.path,
                f.checksum.algorithm(),
                manifest.checksum
            )));
        }
        Ok(manifest)
    }

    /// Every file, in manifest order.
    pub fn files(&self) -> impl Iterator<Item = &FileEntry> {
        self.subjects
            .iter()
            .flat_map(|s| &s.studies)
            .flat_map(|st| &st.series)
            .flat_map(|se| &se.files)
    }

    /// `manifest.csv`: one row per file, its checksum in the column named after the manifest's
    /// algorithm (`blake3` or `sha256`); the last column lists the IDs of the findings about
    /// the file (space-separated; see `manifest.json` for what each is and who accepted it).
    pub fn to_csv(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Writing into memory cannot fail.
        let _ = self.write_csv(None, &mut out);
        out
    }
}

/// The Modality defined terms of PS3.3 C.7.3.1.1.1, current and retired.
const MODALITIES: [&str; 96] = [
    "AR",
    "AS",
    "ASMT",
    "AU",
    "BDUS",
    "BI",
    "BMD",
    "CD",
    "CF",
    "CFM",
    "CP",
    "CR",
    "CS",
    "CT",
    "CTPROTOCOL",
    "DD",
    "DF",
    "DG",
    "DM",
    "DMS",
    "DOC",
    "DS",
    "DX",
    "EC",
    "ECG",
    "EEG",
    "EMG",
    "EOG",
    "EPS",
    "ES",
    "FA",
    "FID",
    "FS",
    "GM",
    "HC",
    "HD",
    "IO",
    "IOL",
    "IVOCT",
    "IVUS",
    "KER",
    "KO",
    "LEN",
    "LP",
    "LS",
    "M3D",
    "MA",
    "MG",
    "MR",
    "MS",
    "NM",
    "OAM",
    "OCT",
    "OP",
    "OPM",
    "OPR",
    "OPT",
    "OPTBSV",
    "OPTENF",
    "OPV",
    "OSS",
    "OT",
    "PA",
    "PLAN",
    "POS",
    "PR",
    "PT",
    "PX",
    "REG",
    "RESP",
    "RF",
    "RG",
    "RTDOSE",
    "RTIMAGE",
    "RTINTENT",
    "RTPLAN",
    "RTRAD",
    "RTRECORD",
    "RTSEGANN",
    "RTSTRUCT",
    "RWV",
    "SEG",
    "SM",
    "SMR",
    "SR",
    "SRF",
    "ST",
    "STAIN",
    "TEXTUREMAP",
    "TG",
    "US",
    "VA",
    "VF",
    "XA",
    "XAPROTOCOL",
    "XC",
];

/// A modality as the manifest may carry it: one of the standard's defined terms, else empty.
/// The value comes from the archive's index, i.e. from the data; a modality field that holds
/// anything else (a site's own code, or a name typed into it) never reaches the manifest or
/// the CSV.
pub fn modality_code(s: &str) -> String {
    let t = s.trim_matches(|c: char| c == '\0' || c == ' ');
    if MODALITIES.contains(&t) {
        t.to_string()
    } else {
        String::new()
    }
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The IDs of the findings about each file, for `manifest.csv`.
fn ids_by_file(entries: &[FindingEntry]) -> BTreeMap<&str, Vec<&str>> {
    let mut out: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for e in entries {
        out.entry(e.path.as_str()).or_default().push(e.id.as_str());
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A manifest with every part filled: subjects, studies and series of several files (paths
    /// with quotes, commas, backslashes and non-ASCII letters), warnings, burned-in series,
    /// an audit, findings (some about files) and a release.
    pub(crate) fn full_manifest() -> Manifest {
        let mut subjects = Vec::new();
        for (n, id) in ["PABC", "P\"Q,R\\S", "PÉTÉ"].iter().enumerate() {
            let mut studies = Vec::new();
            for study in 1..=2u32 {
                let mut series = Vec::new();
                for (k, label) in ["1", "3.1", "10"].iter().enumerate() {
                    let files = (1..=(n + k + 1))
                        .map(|i| FileEntry {
                            path: format!("{id}/{study}/{label}/{i:05}.dcm"),
                            checksum: FileChecksum::Blake3(format!("{i:064x}")),
                            bytes: (i * 1000 + k) as u64,
                        })
                        .collect();
                    series.push(SeriesEntry {
                        number: label.to_string(),
                        modality: ["MR", "C,T", "US"][k].into(),
                        files,
                    });
                }
                studies.push(StudyEntry {
                    number: study,
                    series,
                });
            }
            subjects.push(SubjectEntry {
                id: id.to_string(),
                studies,
            });
        }
        Manifest {
            format: FORMAT.to_string(),
            created_by: "depot test".into(),
            level: "anonymize-full".into(),
            options: vec!["retain-uids".into()],
            profile_digest: "d".into(),
            key_fingerprint: "k".into(),
            blank_identifiers: true,
            checksum: HashAlgorithm::Blake3,
            counts: Counts::default(),
            subjects,
            regrouping_warnings: vec![WarningEntry {
                level: crate::regroup::GroupLevel::Series,
                kind: crate::regroup::RegroupKind::Merge,
                groups: vec!["PABC/1/1".into(), "PABC/1/3.1".into()],
                would_become: 1,
                reason: None,
                instances: None,
                message: "2 series would merge".into(),
            }],
            burned_in: vec![BurnedInEntry {
                series: "PABC/2/10".into(),
                modality: "US".into(),
                reason: "BurnedInAnnotation is YES".into(),
                included: false,
            }],
            audit: Some(AuditSummary {
                files: 40,
                values_searched: 9,
                findings: 2,
                blocking: true,
                accepted: 1,
                advisory: 0,
            }),
            findings: vec![
                FindingEntry {
                    id: "F1".into(),
                    finding: "value".into(),
                    path: "PABC/1/3.1/00002.dcm".into(),
                    region: Some("header".into()),
                    tag: Some("(0008,1030)".into()),
                    kind: "InstitutionName".into(),
                    blocking: true,
                    accepted: None,
                },
                FindingEntry {
                    id: "F2".into(),
                    finding: "value".into(),
                    path: "PABC/1/3.1/00002.dcm".into(),
                    region: None,
                    tag: None,
                    kind: "PatientName".into(),
                    blocking: true,
                    accepted: None,
                },
            ],
            release: Some(ReleaseEntry {
                id: "Q7K2M9XA4".into(),
                quarantined_at: "2026-12-07T10:00:00Z".into(),
                released_at: "2026-12-07T11:00:00Z".into(),
                by: "me".into(),
                reason: "checked".into(),
                accepted: vec!["all".into()],
            }),
        }
    }

    #[test]
    fn a_manifest_written_before_a_field_existed_still_reads() {
        let old = br#"{"format": "depot-package/1", "level": "basic",
            "options": ["retain-uids"], "blank_identifiers": true,
            "subjects": [{"id": "PABC"}],
            "audit": {"files": 3, "values_searched": 9, "findings": 0}}"#;
        let m = Manifest::from_json(old).expect("an older manifest");
        assert_eq!(m.level, "basic");
        assert_eq!(m.options, ["retain-uids"]);
        assert!(m.blank_identifiers);
        assert_eq!(m.subjects[0].id, "PABC");
        assert!(m.subjects[0].studies.is_empty());
        assert!(m.audit.is_some_and(|a| !a.blocking && a.files == 3));
        // The level is what a manifest is read for: without it, it is no manifest.
        assert!(Manifest::from_json(br#"{"format": "depot-package/1"}"#).is_err());
    }

    #[test]
    fn modalities_are_reduced_to_codes() {
        assert_eq!(modality_code("MR"), "MR");
        assert_eq!(modality_code("RTSTRUCT "), "RTSTRUCT");
        assert_eq!(modality_code("DOE"), "", "not a defined term: never copied");
        assert_eq!(modality_code("m r,\"\n<x>"), "");
        assert_eq!(modality_code("OT\\SC"), "");
        assert_eq!(modality_code("é"), "");
    }

    #[test]
    fn csv_has_one_row_per_file_and_quotes_fields() {
        let m = Manifest {
            format: FORMAT.to_string(),
            created_by: "depot test".into(),
            level: "anonymize-full".into(),
            options: vec![],
            profile_digest: "d".into(),
            key_fingerprint: "k".into(),
            blank_identifiers: false,
            checksum: HashAlgorithm::Blake3,
            counts: Counts::default(),
            subjects: vec![SubjectEntry {
                id: "PABC".into(),
                studies: vec![StudyEntry {
                    number: 1,
                    series: vec![SeriesEntry {
                        number: "3".into(),
                        modality: "M,R".into(),
                        files: vec![
                            FileEntry {
                                path: "PABC/1/3/00001.dcm".into(),
                                checksum: FileChecksum::Blake3("aa".into()),
                                bytes: 5,
                            },
                            FileEntry {
                                path: "PABC/1/3/00002.dcm".into(),
                                checksum: FileChecksum::Blake3("bb".into()),
                                bytes: 6,
                            },
                        ],
                    }],
                }],
            }],
            regrouping_warnings: vec![],
            burned_in: vec![],
            audit: None,
            findings: vec![FindingEntry {
                id: "F1".into(),
                finding: "value".into(),
                path: "PABC/1/3/00002.dcm".into(),
                region: Some("header".into()),
                tag: Some("(0008,1030)".into()),
                kind: "InstitutionName".into(),
                blocking: true,
                accepted: None,
            }],
            release: None,
        };
        let csv = String::from_utf8(m.to_csv()).expect("utf8");
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[0],
            "subject,study,series,modality,path,blake3,bytes,findings"
        );
        assert_eq!(lines[1], "PABC,1,3,\"M,R\",PABC/1/3/00001.dcm,aa,5,");
        assert_eq!(lines[2], "PABC,1,3,\"M,R\",PABC/1/3/00002.dcm,bb,6,F1");
        let json: serde_json::Value = serde_json::from_slice(&m.to_json()).expect("json");
        assert_eq!(json["checksum"], "blake3");
        let file = &json["subjects"][0]["studies"][0]["series"][0]["files"][1];
        assert_eq!(file["bytes"], 6);
        assert_eq!(file["blake3"], "bb");
        assert!(file.get("sha256").is_none());
        let text = String::from_utf8(m.to_json()).expect("utf8");
        assert!(
            text.contains(
                "\"path\": \"PABC/1/3/00002.dcm\",\n                  \"blake3\": \"bb\",\n                  \"bytes\": 6"
            ),
            "path, checksum, bytes in that order:\n{text}"
        );
        let back = Manifest::from_json(&m.to_json()).expect("reads back");
        assert_eq!(
            back.to_json(),
            m.to_json(),
            "what is read back writes the same bytes"
        );
    }

    /// A manifest as depot wrote it before it named its checksum algorithm (`sha256` fields,
    /// no `checksum`).
    const BEFORE_NAMED: &[u8] = br#"{"format": "depot-package/1", "created_by": "depot 0.1.0",
        "level": "anonymize-full", "options": [], "profile_digest": "d", "key_fingerprint": "k",
        "blank_identifiers": false,
        "counts": {"subjects": 1, "studies": 1, "series": 1, "instances": 1, "bytes": 5,
                   "series_left_out": 0},
        "subjects": [{"id": "PABC", "studies": [{"number": 1, "series": [
            {"number": "3", "modality": "MR", "files": [
                {"path": "PABC/1/3/00001.dcm", "sha256": "aa", "bytes": 5}]}]}]}],
        "regrouping_warnings": [], "burned_in": [], "audit": null, "findings": []}"#;

    #[test]
    fn a_manifest_written_before_the_algorithm_was_named_reads_as_sha256() {
        let m = Manifest::from_json(BEFORE_NAMED).expect("reads");
        assert_eq!(m.checksum, HashAlgorithm::Sha256);
        let files: Vec<&FileEntry> = m.files().collect();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].checksum, FileChecksum::Sha256("aa".into()));
        assert_eq!(files[0].bytes, 5);
        // Written again, it names its algorithm and keeps the `sha256` field and column.
        let json: serde_json::Value = serde_json::from_slice(&m.to_json()).expect("json");
        assert_eq!(json["checksum"], "sha256");
        assert_eq!(
            json["subjects"][0]["studies"][0]["series"][0]["files"][0]["sha256"],
            "aa"
        );
        assert!(
            String::from_utf8(m.to_csv())
                .expect("utf8")
                .starts_with("subject,study,series,modality,path,sha256,bytes,findings\n")
        );
    }

    #[test]
    fn a_file_checksum_of_another_algorithm_than_the_manifest_names_is_refused() {
        let text = String::from_utf8(BEFORE_NAMED.to_vec()).expect("utf8");
        let named = text.replace(
            "\"blank_identifiers\"",
            "\"checksum\": \"blake3\", \"blank_identifiers\"",
        );
        let e = Manifest::from_json(named.as_bytes()).expect_err("mixed");
        assert!(
            e.to_string()
                .contains("PABC/1/3/00001.dcm has a sha256 checksum"),
            "{e}"
        );
        let unknown = text.replace("\"sha256\"", "\"md5\"");
        let e = Manifest::from_json(unknown.as_bytes()).expect_err("no checksum");
        assert!(e.to_string().contains("no checksum"), "{e}");
        let two = text.replace(
            "\"sha256\": \"aa\"",
            "\"sha256\": \"aa\", \"blake3\": \"bb\"",
        );
        let e = Manifest::from_json(two.as_bytes()).expect_err("two checksums");
        assert!(e.to_string().contains("two checksums"), "{e}");
    }
}
