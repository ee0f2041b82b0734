//! The audit's findings as a package and its review record them: numbered (`F1`, `F2`, ... in
//! report order), by file, tag path and kind, never by value, each blocking or advisory, and
//! accepted or not (by a profile's `[[accept]]` list at export, by a person at release).
//!
//! Findings are read generically, through what every variant of [`Finding`] offers (its file,
//! its message, its JSON form and [`Finding::is_blocking`]), so a variant the audit gains later
//! is recorded without a change here: its kind is the attribute label it names (`what`) or, for
//! a structural finding, its type (`private-element`), and its tag the tag path it names.
//!
//! [`seal`] writes the findings into the manifest and audits the manifest itself: a value found
//! there is a finding too, listed with the others in the manifest that is finally written.

use std::collections::BTreeSet;

use anon_core::Profile;
use serde::{Deserialize, Serialize};

pub use crate::manifest::Accepted;
use crate::manifest::{AuditSummary, FileSource, FindingEntry, Manifest};
use audit::{Auditor, Finding};

/// One finding as recorded in the manifest and in a quarantine entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingRecord {
    /// `F1`, `F2`, ... in report order: what `depot release --accept` takes.
    pub id: String,
    /// The finding's type as the audit names it (`value`, `private-element`, `unreadable`, ...).
    #[serde(rename = "type")]
    pub finding: String,
    /// Where in the file, for findings that say (`header`, `pixel-data`, `path`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The package-relative file (or path) it is about, identifying values in it masked as
    /// `<Label>`.
    pub file: String,
    /// The tag path of the element it names, if any (e.g. `(0040,A730)[0]/(0040,A160)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The kind: the attribute whose value was found (`InstitutionName`), or the type of a
    /// structural finding.
    pub kind: String,
    /// Whether it stops publication until accepted; false for advisory findings (at levels
    /// that do not claim to remove identity, or findings the audit calls advisory).
    pub blocking: bool,
    /// The finding as printed (file masked as above; never a value).
    pub message: String,
    /// Who accepted it, if anyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<Accepted>,
}

impl From<&FindingRecord> for FindingEntry {
    fn from(r: &FindingRecord) -> FindingEntry {
        FindingEntry {
            id: r.id.clone(),
            finding: r.finding.clone(),
            path: r.file.clone(),
            region: r.region.clone(),
            tag: r.tag.clone(),
            kind: r.kind.clone(),
            blocking: r.blocking,
            accepted: r.accepted.clone(),
        }
    }
}

impl FindingRecord {
    /// Blocking and accepted by no one: the package cannot be published.
    pub fn awaits_acceptance(&self) -> bool {
        self.blocking && self.accepted.is_none()
    }

    /// `blocking`, `advisory`, `accepted by profile NAME` or `accepted by NAME`.
    pub fn status(&self) -> String {
        match (&self.accepted, self.blocking) {
            (_, false) => "advisory".to_string(),
            (None, true) => "blocking".to_string(),
            (Some(Accepted::Profile { profile, .. }), true) => {
                format!("accepted by profile {profile}")
            }
            (Some(Accepted::User { by, .. }), true) => format!("accepted by {by}"),
        }
    }
}

/// Counts of a list of findings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Blocking findings accepted by no one.
    pub blocking: usize,
    /// Blocking findings accepted (by a profile or a person).
    pub accepted: usize,
    /// Advisory findings.
    pub advisory: usize,
}

/// Counts `records` by status.
pub fn tally(records: &[FindingRecord]) -> Tally {
    let mut t = Tally::default();
    for r in records {
        match (r.blocking, r.accepted.is_some()) {
            (false, _) => t.advisory += 1,
            (true, false) => t.blocking += 1,
            (true, true) => t.accepted += 1,
        }
    }
    t
}

/// How findings are judged: whether the level blocks on findings, and the profile whose
/// accepted coincidences apply.
#[derive(Debug, Clone, Copy)]
pub struct Judge<'a> {
    /// The level claims to remove identity (basic, anonymize-full and profiles on them).
    pub blocking_level: bool,
    /// The export's profile.
    pub profile: &'a Profile,
    /// The export's time (RFC 3339 UTC), recorded with profile acceptances.
    pub at: &'a str,
}

/// What a finding says about itself, read through its JSON form.
struct Parts {
    finding: String,
    tag: Option<String>,
    kind: String,
    region: Option<String>,
}

fn parts(f: &Finding) -> Parts {
    let json = serde_json::to_value(f).unwrap_or_default();
    let text = |k: &str| json.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let finding = text("finding").unwrap_or_else(|| "finding".to_string());
    Parts {
        tag: text("tag").filter(|t| !t.is_empty()),
        kind: text("what").unwrap_or_else(|| finding.clone()),
        region: text("region"),
        finding,
    }
}

impl Judge<'_> {
    /// Whether the findings of one file include one that blocks publication (blocking, and
    /// not accepted by the profile).
    pub fn blocks(&self, file_findings: &[Finding]) -> bool {
        self.blocking_level
            && self
                .records(file_findings, &|f| f.to_string())
                .iter()
                .any(FindingRecord::awaits_acceptance)
    }
}

/// The kind of a finding: the attribute label it names, or its type.
pub fn kind_of(f: &Finding) -> String {
    parts(f).kind
}

impl Judge<'_> {
    /// Numbers and judges `findings` (in the order given, which is the report's). `mask` masks
    /// identifying values in a file name (see [`Auditor::mask_path`]).
    pub fn records(
        &self,
        findings: &[Finding],
        mask: &dyn Fn(&str) -> String,
    ) -> Vec<FindingRecord> {
        let all: Vec<Parts> = findings.iter().map(parts).collect();
        // Files the audit could not parse: nothing found in them is accepted by a profile.
        let unreadable: BTreeSet<&str> = findings
            .iter()
            .zip(&all)
            .filter(|(_, p)| p.finding == "unreadable")
            .map(|(f, _)| f.file())
            .collect();
        findings
            .iter()
            .zip(all)
            .enumerate()
            .map(|(i, (f, p))| {
                let raw_file = f.file();
                let file = mask(raw_file);
                let mut message = f.to_string();
                if !raw_file.is_empty() && file != raw_file {
                    message = message.replace(raw_file, &file);
                }
                let blocking = self.blocking_level && f.is_blocking();
                let structural = p.finding != "value";
                let acceptable = blocking && !unreadable.contains(raw_file);
                let accepted = p
                    .tag
                    .as_deref()
                    .filter(|_| acceptable)
                    .filter(|tag| {
                        self.profile
                            .accepts()
                            .iter()
                            .any(|a| a.covers(tag, &p.kind, structural))
                    })
                    .map(|_| Accepted::Profile {
                        profile: self.profile.name().to_string(),
                        profile_digest: self.profile.digest(),
                        at: self.at.to_string(),
                    });
                FindingRecord {
                    id: format!("F{}", i + 1),
                    finding: p.finding,
                    region: p.region,
                    file,
                    tag: p.tag,
                    kind: p.kind,
                    blocking,
                    message,
                    accepted,
                }
            })
            .collect()
    }
}

/// What sealing a manifest found: the manifest itself, with every finding recorded in it, is
/// encoded when it is written (`Manifest::to_json`, `Manifest::to_csv`), one file at a time
/// (for 100,000 files the two are 40 MB).
#[derive(Debug)]
pub struct Sealed {
    /// Every finding, the manifest's own included, sorted.
    pub findings: Vec<Finding>,
    /// The same, numbered and judged, as the manifest records them.
    pub records: Vec<FindingRecord>,
}

/// The most times the manifest is written again because auditing it found something new.
const MAX_PASSES: usize = 3;

/// Records `findings` (of the files and paths) in the manifest, audits the manifest, and
/// records what that finds too, so the manifest written lists every finding. `files` is the
/// number of files audited, the two manifest files included; `source`, where the manifest's
/// files are read from when it does not hold them (see [`crate::manifest::FileSource`]). The
/// list of findings is depot's own text (IDs, types, tag paths, attribute keywords), which the
/// manifest's audit blanks (`audit::manifest_words`): recording a finding never causes another,
/// so the manifest is written at most twice. Fails only when `source` cannot be read.
pub fn seal(
    manifest: &mut Manifest,
    source: Option<&dyn FileSource>,
    auditor: &Auditor,
    mut findings: Vec<Finding>,
    judge: &Judge<'_>,
    files: usize,
) -> std::io::Result<Sealed> {
    let mask = |f: &str| auditor.mask_path(f).0;
    // Each manifest is searched as it is encoded, a piece at a time (`audit::ManifestScan`),
    // never held whole: a manifest of many files is large (22 MB of JSON for 100,000).
    let scan = |manifest: &Manifest| -> std::io::Result<Vec<Finding>> {
        let mut json = auditor.manifest_scan("manifest.json");
        manifest.write_json(source, &mut json)?;
        let mut out = json.finish();
        let mut csv = auditor.manifest_scan("manifest.csv");
        manifest.write_csv(source, &mut csv)?;
        out.extend(csv.finish());
        Ok(out)
    };
    let records = |findings: &[Finding]| judge.records(findings, &mask);
    findings.sort();
    findings.dedup();
    let mut pass = 0;
    loop {
        let recorded = records(&findings);
        let t = tally(&recorded);
        manifest.audit = Some(AuditSummary {
            files,
            values_searched: auditor.searched_values(),
            findings: recorded.len(),
            blocking: judge.blocking_level,
            accepted: t.accepted,
            advisory: t.advisory,
        });
        manifest.findings = recorded.iter().map(FindingEntry::from).collect();
        let mut more: Vec<Finding> = scan(manifest)?
            .into_iter()
            .filter(|f| !findings.contains(f))
            .collect();
        pass += 1;
        if more.is_empty() {
            return Ok(Sealed {
                findings,
                records: recorded,
            });
        }
        findings.append(&mut more);
        findings.sort();
        findings.dedup();
        if pass == MAX_PASSES {
            // Never reached with depot's own manifests (a pass adds only entries naming the
            // manifest); if it were, the last findings still count, though the manifest as
            // written does not list them.
            let records = records(&findings);
            return Ok(Sealed { findings, records });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use audit::Region;

    fn value(file: &str, what: &str, tag: Option<&str>) -> Finding {
        Finding::Value {
            file: file.to_string(),
            what: what.to_string(),
            region: Region::Header,
            tag: tag.map(str::to_string),
        }
    }

    fn profile(accepts: &str) -> Profile {
        Profile::from_toml(&format!(
            "name = \"lab\"\nbase = \"anonymize-full\"\n{accepts}"
        ))
        .expect("profile")
    }

    #[test]
    fn records_are_numbered_judged_and_never_show_a_value() {
        let p = profile(
            "[[accept]]\ntag = \"StudyDescription\"\nkind = \"InstitutionName\"\n\
             [[accept]]\ntag = \"(0029,1010)\"\nkind = \"private-element\"\n",
        );
        let findings = vec![
            value("P1/1/1/00001.dcm", "InstitutionName", Some("(0008,1030)")),
            value("P1/1/1/00001.dcm", "PatientName", Some("(0008,1030)")),
            value("P1/1/1/00002.dcm", "InstitutionName", None),
            value("P1/1/DOE/00001.dcm", "InstitutionName", Some("(0008,1030)")),
            Finding::PrivateElement {
                file: "P1/1/1/00003.dcm".into(),
                tag: "(0029,1010)".into(),
            },
            Finding::PrivateElement {
                file: "P1/1/1/00003.dcm".into(),
                tag: "(0040,A730)[0]/(0029,1010)".into(),
            },
            Finding::Unreadable {
                file: "P1/1/1/00004.dcm".into(),
                reason: "truncated".into(),
            },
            value("P1/1/1/00004.dcm", "InstitutionName", Some("(0008,1030)")),
        ];
        let judge = Judge {
            blocking_level: true,
            profile: &p,
            at: "2030-01-01T00:00:00Z",
        };
        let mask = |f: &str| f.replace("DOE", "<PatientName>");
        let r = judge.records(&findings, &mask);
        let ids: Vec<&str> = r.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8"]);
        let accepted: Vec<bool> = r.iter().map(|r| r.accepted.is_some()).collect();
        assert_eq!(
            accepted,
            [true, false, false, true, true, false, false, false],
            "right tag and kind; not another kind, no tag, a nested private element or an unreadable file"
        );
        assert_eq!(r[0].kind, "InstitutionName");
        assert_eq!(r[4].kind, "private-element");
        assert_eq!(r[6].kind, "unreadable");
        assert_eq!(r[3].file, "P1/1/<PatientName>/00001.dcm");
        assert!(!r[3].message.contains("DOE"), "{}", r[3].message);
        assert!(r[0].status().starts_with("accepted by profile lab"));
        assert_eq!(
            tally(&r),
            Tally {
                blocking: 5,
                accepted: 3,
                advisory: 0
            }
        );

        assert!(
            !judge.blocks(&findings[..1]),
            "a file with accepted findings only"
        );
        assert!(judge.blocks(&findings[..2]));
        assert!(judge.blocks(&findings[6..]), "unreadable: nothing accepted");
        let advisory = Judge {
            blocking_level: false,
            ..judge
        };
        assert!(!advisory.blocks(&findings));
        let r = advisory.records(&findings, &mask);
        assert!(r.iter().all(|r| !r.blocking && r.accepted.is_none()));
        assert_eq!(tally(&r).advisory, findings.len());
    }

    /// A manifest of one subject, one file, nothing recorded yet.
    fn bare_manifest() -> Manifest {
        let json = br#"{"format": "depot-package/1", "created_by": "depot test",
            "level": "anonymize-full", "options": [], "profile_digest": "d",
            "key_fingerprint": "k", "blank_identifiers": false,
            "counts": {"subjects": 1, "studies": 1, "series": 1, "instances": 1, "bytes": 5,
                       "series_left_out": 0},
            "subjects": [{"id": "PQWERTZ2ABC", "studies": [{"number": 1, "series": [
                {"number": "3", "modality": "MR", "files": [
                    {"path": "PQWERTZ2ABC/1/3/00001.dcm", "sha256": "aa", "bytes": 5}]}]}]}],
            "regrouping_warnings": [], "burned_in": [], "audit": null}"#;
        Manifest::from_json(json).expect("manifest")
    }

    #[test]
    fn the_list_of_findings_causes_no_finding_and_the_rest_of_the_manifest_is_searched() {
        use audit::{Needle, Rules, ValueKind};
        // Values equal to what the list of findings writes: a tag's group, a finding type,
        // an attribute keyword's word, a region.
        let auditor = Auditor::new(
            &[
                Needle::new("StudyID", ValueKind::Identifier, "0010"),
                Needle::new("AccessionNumber", ValueKind::Identifier, "A730"),
                Needle::new("PatientName", ValueKind::PersonName, "Header^Value"),
                Needle::new("OtherPatientNames", ValueKind::PersonName, "Coincidence"),
            ],
            Rules::default(),
        )
        .expect("auditor");
        let p = profile("");
        let judge = Judge {
            blocking_level: true,
            profile: &p,
            at: "2030-01-01T00:00:00Z",
        };
        let file = "PQWERTZ2ABC/1/3/00001.dcm";
        let findings = vec![
            value(file, "PatientID", Some("(0010,0020)")),
            value(file, "PatientName", Some("(0040,A730)[0]/(0010,0010)")),
            Finding::Coincidence {
                file: file.into(),
                what: "OtherPatientNames".into(),
                tag: "(0008,0070)".into(),
                with: "Manufacturer".into(),
            },
        ];
        let sealed = seal(
            &mut bare_manifest(),
            None,
            &auditor,
            findings.clone(),
            &judge,
            3,
        )
        .unwrap();
        let mut expected = findings;
        expected.sort();
        assert_eq!(sealed.findings, expected, "no finding in the manifest");
        assert_eq!(sealed.records.len(), 3);

        // A value the manifest holds outside its list (a custom profile named after the
        // patient) is found, and recorded in the manifest that is finally written.
        let mut named = bare_manifest();
        named.level = "value-study".into();
        let value_name = Auditor::new(
            &[Needle::new(
                "PatientName",
                ValueKind::PersonName,
                "Value^Header",
            )],
            Rules::default(),
        )
        .expect("auditor");
        let sealed = seal(&mut named, None, &value_name, Vec::new(), &judge, 3).unwrap();
        assert_eq!(
            sealed.findings,
            vec![Finding::Value {
                file: "manifest.json".into(),
                what: "PatientName".into(),
                region: Region::Text,
                tag: None,
            }]
        );
        let written = Manifest::from_json(&named.to_json()).expect("manifest");
        assert_eq!(written.findings.len(), 1);
        assert_eq!(written.findings[0].path, "manifest.json");
    }

    #[test]
    fn records_read_back_as_written() {
        let p = profile("");
        let judge = Judge {
            blocking_level: true,
            profile: &p,
            at: "2030-01-01T00:00:00Z",
        };
        let mut r = judge.records(&[value("a.dcm", "PatientID", Some("(0010,1000)"))], &|f| {
            f.to_string()
        });
        r[0].accepted = Some(Accepted::User {
            by: "ana".into(),
            reason: "coincidence".into(),
            at: "2030-01-02T00:00:00Z".into(),
        });
        let json = serde_json::to_string(&r).expect("json");
        assert!(json.contains("\"by\":\"ana\""), "{json}");
        let back: Vec<FindingRecord> = serde_json::from_str(&json).expect("back");
        assert_eq!(back, r);
    }
}
