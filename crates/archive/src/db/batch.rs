//! Filing instances: one batch is one `BEGIN IMMEDIATE` transaction that looks instances up,
//! decides where each new one goes (subject, study, series, creating rows as needed) or why it
//! conflicts, records instances, rejects and warnings, and commits; plus the crash recovery's
//! removal of journalled paths no row references.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{Db, now, to_i64};
use crate::grouping::{self, HeaderFacts, SubjectKey};
use crate::records::RejectKind;

/// An instance already in the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingInstance {
    /// Row id.
    pub id: i64,
    /// Content hash.
    pub content_hash: String,
    /// Where it is stored (relative to the archive root).
    pub stored_path: String,
    /// The project it is filed in (row id).
    pub project_id: i64,
    /// The project's name.
    pub project: String,
    /// The archive code of its subject.
    pub subject_code: String,
}

/// Where a new instance goes, or why it cannot be filed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// File it in this series.
    Series {
        /// Series row id.
        series_id: i64,
        /// Subject archive code.
        subject_code: String,
        /// Study number within the subject.
        study_number: i64,
        /// Series label within the study.
        series_label: String,
        /// Things worth telling the user (new blank-PatientID subject, renumbered series).
        warnings: Vec<String>,
    },
    /// The file contradicts what is archived; keep it apart.
    Conflict {
        /// Why, in words.
        reason: String,
    },
}

/// A reject or conflict to record.
#[derive(Debug, Clone)]
pub struct RejectRow<'a> {
    /// Rejected or conflict.
    pub kind: RejectKind,
    /// Source path as shown to the user.
    pub source_path: &'a str,
    /// Why.
    pub reason: &'a str,
    /// Content hash (`None` when the file could not be read).
    pub content_hash: Option<&'a str>,
    /// Size in bytes, when known.
    pub size: Option<u64>,
    /// SOPInstanceUID, when known.
    pub sop_uid: Option<&'a str>,
    /// Hash of the instance already stored (conflicts).
    pub existing_hash: Option<&'a str>,
    /// Where the conflicting bytes are kept (relative to the root).
    pub stored_path: Option<&'a str>,
}

impl Db {
    /// Looks an instance up by SOPInstanceUID (read-only, outside any batch).
    pub fn find_instance(
        &self,
        sop_uid: &str,
    ) -> Result<Option<ExistingInstance>, rusqlite::Error> {
        find_instance(&self.conn, sop_uid)
    }

    /// Starts a batch: one `BEGIN IMMEDIATE` transaction holding the write lock until
    /// [`Batch::commit`] (or rollback on drop).
    pub fn begin_batch(
        &mut self,
        run_id: i64,
        project_id: i64,
    ) -> Result<Batch<'_>, rusqlite::Error> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        Ok(Batch {
            tx,
            run_id,
            project_id,
            now: now(),
        })
    }

    /// Crash recovery: under the write lock, calls `remove` for every path in `journalled`
    /// (relative to the archive root) that no instance or conflict row references. Paths that are
    /// referenced belong to a committed batch and are kept.
    pub fn forget_unreferenced(
        &mut self,
        journalled: &[String],
        mut remove: impl FnMut(&str) -> std::io::Result<()>,
    ) -> Result<Result<(), std::io::Error>, rusqlite::Error> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        for rel in journalled {
            if !stored_path_referenced(&tx, rel)?
                && let Err(e) = remove(rel)
            {
                return Ok(Err(e));
            }
        }
        tx.commit()?;
        Ok(Ok(()))
    }
}

/// The archived instance with a SOPInstanceUID, with its project and subject.
pub(super) const FIND_INSTANCE: &str =
    "SELECT i.id, i.content_hash, i.stored_path, sub.project_id, p.name, sub.code
     FROM instances i JOIN series se ON se.id = i.series_id
     JOIN studies st ON st.id = se.study_id JOIN subjects sub ON sub.id = st.subject_id
     JOIN projects p ON p.id = sub.project_id
     WHERE i.sop_uid = ?1";

fn find_instance(
    conn: &Connection,
    sop_uid: &str,
) -> Result<Option<ExistingInstance>, rusqlite::Error> {
    conn.prepare_cached(FIND_INSTANCE)?
        .query_row([sop_uid], |r| {
            Ok(ExistingInstance {
                id: r.get(0)?,
                content_hash: r.get(1)?,
                stored_path: r.get(2)?,
                project_id: r.get(3)?,
                project: r.get(4)?,
                subject_code: r.get(5)?,
            })
        })
        .optional()
}

fn stored_path_referenced(conn: &Connection, rel: &str) -> Result<bool, rusqlite::Error> {
    let n: i64 = conn
        .prepare_cached(
            "SELECT (SELECT COUNT(*) FROM instances WHERE stored_path = ?1)
                  + (SELECT COUNT(*) FROM rejects WHERE stored_path = ?1)",
        )?
        .query_row([rel], |r| r.get(0))?;
    Ok(n > 0)
}

/// One import batch: a write transaction. Dropping it without [`Batch::commit`] rolls back.
#[derive(Debug)]
pub struct Batch<'c> {
    tx: rusqlite::Transaction<'c>,
    run_id: i64,
    project_id: i64,
    now: String,
}

/// A study row as needed for placement checks.
struct StudyRow {
    id: i64,
    number: i64,
    subject_id: i64,
    subject_code: String,
    project_id: i64,
    project: String,
    key_kind: String,
    key_value: String,
    key_issuer: String,
}

impl StudyRow {
    /// How `key` differs from the key the study is filed under, in words that name no value:
    /// messages are stored and printed, and PatientIDs are PHI.
    fn key_difference(&self, key: &SubjectKey) -> &'static str {
        let filed_blank = self.key_kind == "blank_patient_id";
        match (filed_blank, key.is_blank_patient_id()) {
            (true, false) => "it was filed with a blank PatientID, this file has a PatientID",
            (false, true) => "it was filed with a PatientID, this file's PatientID is blank",
            _ if self.key_value != key.value() => "this file has another PatientID",
            _ if self.key_issuer.is_empty() => {
                "this file has the same PatientID with an IssuerOfPatientID, it was filed without one"
            }
            _ if key.issuer().is_empty() => {
                "this file has the same PatientID without the IssuerOfPatientID it was filed with"
            }
            _ => "this file has the same PatientID with another IssuerOfPatientID",
        }
    }
}

impl Batch<'_> {
    /// Looks an instance up by SOPInstanceUID, seeing this batch's own inserts.
    pub fn find_instance(
        &self,
        sop_uid: &str,
    ) -> Result<Option<ExistingInstance>, rusqlite::Error> {
        find_instance(&self.tx, sop_uid)
    }

    /// Whether any row references `rel` as its stored path.
    pub fn stored_path_referenced(&self, rel: &str) -> Result<bool, rusqlite::Error> {
        stored_path_referenced(&self.tx, rel)
    }

    fn find_study(&self, study_uid: &str) -> Result<Option<StudyRow>, rusqlite::Error> {
        self.tx
            .prepare_cached(
                "SELECT st.id, st.number, st.subject_id, sub.code, sub.project_id, p.name,
                        sub.key_kind, sub.key_value, sub.key_issuer
                 FROM studies st JOIN subjects sub ON sub.id = st.subject_id
                 JOIN projects p ON p.id = sub.project_id
                 WHERE st.study_uid = ?1",
            )?
            .query_row([study_uid], |r| {
                Ok(StudyRow {
                    id: r.get(0)?,
                    number: r.get(1)?,
                    subject_id: r.get(2)?,
                    subject_code: r.get(3)?,
                    project_id: r.get(4)?,
                    project: r.get(5)?,
                    key_kind: r.get(6)?,
                    key_value: r.get(7)?,
                    key_issuer: r.get(8)?,
                })
            })
            .optional()
    }

    /// Decides where a new instance (one whose SOPInstanceUID is not archived) goes, creating
    /// its subject, study and series rows if needed, or says why it conflicts with what is
    /// archived: its StudyInstanceUID belongs to another subject (another PatientID or project),
    /// or its SeriesInstanceUID belongs to another study.
    pub fn place(&mut self, facts: &HeaderFacts) -> Result<Placement, rusqlite::Error> {
        let key = SubjectKey::of(facts);
        let mut warnings = Vec::new();
        let study = self.find_study(&facts.study_uid)?;
        if let Some(st) = &study {
            let same_key = st.key_kind == key.kind()
                && st.key_value == key.value()
                && st.key_issuer == key.issuer();
            if st.project_id != self.project_id || !same_key {
                let reason = if st.project_id != self.project_id {
                    format!(
                        "conflict: StudyInstanceUID {} is already archived in project {:?} (subject {}); a study belongs to one project, so this file is kept apart, not filed in this project",
                        facts.study_uid, st.project, st.subject_code
                    )
                } else {
                    format!(
                        "conflict: StudyInstanceUID {} is archived under subject {} (its study {}), but {}; this file is kept apart, not merged (two patients' data are never merged; check which PatientID is right)",
                        facts.study_uid,
                        st.subject_code,
                        st.number,
                        st.key_difference(&key)
                    )
                };
                return Ok(Placement::Conflict { reason });
            }
        }
        let series: Option<(i64, String, String, String, i64)> = self
            .tx
            .prepare_cached(
                "SELECT se.id, se.label, st.study_uid, sub.code, st.number FROM series se
                 JOIN studies st ON st.id = se.study_id JOIN subjects sub ON sub.id = st.subject_id
                 WHERE se.series_uid = ?1",
            )?
            .query_row([&facts.series_uid], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .optional()?;
        if let Some((_, label, owner, code, number)) = &series
            && *owner != facts.study_uid
        {
            return Ok(Placement::Conflict {
                reason: format!(
                    "conflict: SeriesInstanceUID {} already belongs to study {} (archived as {}/{}/{}), but this file says StudyInstanceUID {}; kept apart, not merged",
                    facts.series_uid, owner, code, number, label, facts.study_uid
                ),
            });
        }

        let (subject_id, subject_code) = match &study {
            Some(st) => (st.subject_id, st.subject_code.clone()),
            None => self.subject_for(&key, facts, &mut warnings)?,
        };
        let (study_id, study_number) = match &study {
            Some(st) => (st.id, st.number),
            None => self.create_study(subject_id, facts)?,
        };
        let (series_id, series_label) = match series {
            Some((id, label, ..)) => (id, label),
            None => {
                let (id, label) = self.create_series(study_id, facts)?;
                match facts.series_number {
                    None => warnings.push(format!(
                        "series {} has no usable SeriesNumber; filed as {subject_code}/{study_number}/{label}",
                        facts.series_uid
                    )),
                    Some(n) if n < 0 => warnings.push(format!(
                        "series {} has a negative SeriesNumber {n}, counted as 0; filed as {subject_code}/{study_number}/{label}",
                        facts.series_uid
                    )),
                    Some(n) if n.to_string() != label => warnings.push(format!(
                        "series {} shares SeriesNumber {n} with another series of study {subject_code}/{study_number}; filed as {label}",
                        facts.series_uid
                    )),
                    Some(_) => {}
                }
                (id, label)
            }
        };
        Ok(Placement::Series {
            series_id,
            subject_code,
            study_number,
            series_label,
            warnings,
        })
    }

    fn subject_for(
        &mut self,
        key: &SubjectKey,
        facts: &HeaderFacts,
        warnings: &mut Vec<String>,
    ) -> Result<(i64, String), rusqlite::Error> {
        let found: Option<(i64, String)> = self
            .tx
            .prepare_cached(
                "SELECT id, code FROM subjects
                 WHERE project_id = ?1 AND key_kind = ?2 AND key_value = ?3 AND key_issuer = ?4",
            )?
            .query_row(
                params![self.project_id, key.kind(), key.value(), key.issuer()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        if let Some(found) = found {
            return Ok(found);
        }
        let mut rng = rand::rng();
        let mut attempts = 0;
        loop {
            let code = grouping::new_subject_code(&mut rng);
            let inserted = self.tx.prepare_cached(
                "INSERT INTO subjects (project_id, code, key_kind, key_value, key_issuer, patient_id,
                     issuer_of_patient_id, patient_name, birth_date, sex, other_patient_ids,
                     other_patient_names, created_run_id, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                 ON CONFLICT(code) DO NOTHING",
            )?
            .execute(params![
                self.project_id,
                code,
                key.kind(),
                key.value(),
                key.issuer(),
                facts.patient_id,
                facts.issuer_of_patient_id,
                facts.patient_name,
                facts.birth_date,
                facts.sex,
                facts.other_patient_ids,
                facts.other_patient_names,
                self.run_id,
                self.now
            ])?;
            if inserted == 1 {
                if key.is_blank_patient_id() {
                    warnings.push(format!(
                        "blank PatientID in study {}: filed as its own subject {code}, never merged with another patient",
                        facts.study_uid
                    ));
                }
                return Ok((self.tx.last_insert_rowid(), code));
            }
            attempts += 1;
            if attempts > 1000 {
                return Err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
                    Some("no free subject code after 1000 attempts".into()),
                ));
            }
        }
    }

    fn create_study(
        &mut self,
        subject_id: i64,
        f: &HeaderFacts,
    ) -> Result<(i64, i64), rusqlite::Error> {
        let number: i64 = self
            .tx
            .prepare_cached(
                "SELECT COALESCE(MAX(number), 0) + 1 FROM studies WHERE subject_id = ?1",
            )?
            .query_row([subject_id], |r| r.get(0))?;
        self.tx
            .prepare_cached(
                "INSERT INTO studies (subject_id, number, study_uid, study_date, study_time,
                     accession_number, study_id, study_description, institution_name,
                     referring_physician_name, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                subject_id,
                number,
                f.study_uid,
                f.study_date,
                f.study_time,
                f.accession_number,
                f.study_id,
                f.study_description,
                f.institution_name,
                f.referring_physician_name,
                self.now
            ])?;
        Ok((self.tx.last_insert_rowid(), number))
    }

    fn create_series(
        &mut self,
        study_id: i64,
        f: &HeaderFacts,
    ) -> Result<(i64, String), rusqlite::Error> {
        let mut taken: Vec<String> = Vec::new();
        {
            let mut stmt = self
                .tx
                .prepare_cached("SELECT label FROM series WHERE study_id = ?1")?;
            let rows = stmt.query_map([study_id], |r| r.get::<_, String>(0))?;
            for row in rows {
                taken.push(row?);
            }
        }
        let label = grouping::series_label(f.series_number, |l| taken.iter().any(|t| t == l));
        self.tx
            .prepare_cached(
                "INSERT INTO series (study_id, label, series_number, series_uid, modality,
                     series_description, protocol_name, station_name, body_part_examined, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                study_id,
                label,
                f.series_number,
                f.series_uid,
                f.modality,
                f.series_description,
                f.protocol_name,
                f.station_name,
                f.body_part_examined,
                self.now
            ])?;
        Ok((self.tx.last_insert_rowid(), label))
    }

    /// Inserts an instance row (after [`Batch::place`] said where).
    pub fn insert_instance(
        &mut self,
        series_id: i64,
        f: &HeaderFacts,
        content_hash: &str,
        size: u64,
        stored_path: &str,
        source_path: &str,
    ) -> Result<(), rusqlite::Error> {
        self.tx
            .prepare_cached(
                "INSERT INTO instances (series_id, sop_uid, sop_class_uid, transfer_syntax,
                     instance_number, number_of_frames, content_hash, size, stored_path, source_path,
                     run_id, imported_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                series_id,
                f.sop_uid,
                f.sop_class_uid,
                f.transfer_syntax,
                f.instance_number,
                f.number_of_frames,
                content_hash,
                to_i64(size),
                stored_path,
                source_path,
                self.run_id,
                self.now
            ])?;
        Ok(())
    }

    /// Records a rejected or conflicting file in the batch's project. The same file (path,
    /// content and reason) seen again in the same project updates the existing row instead of
    /// adding one; seen by an import into another project, it is a row of that project.
    pub fn record_reject(&mut self, r: &RejectRow<'_>) -> Result<(), rusqlite::Error> {
        let kind = match r.kind {
            RejectKind::Rejected => "rejected",
            RejectKind::Conflict => "conflict",
        };
        self.tx
            .prepare_cached(
                "INSERT INTO rejects (kind, source_path, reason, content_hash, size, sop_uid,
                     existing_hash, stored_path, first_run_id, last_run_id, first_seen, last_seen,
                     project_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?10, ?11)
                 ON CONFLICT(project_id, source_path, content_hash, reason) DO UPDATE SET
                     last_run_id = excluded.last_run_id, last_seen = excluded.last_seen,
                     times_seen = times_seen + 1",
            )?
            .execute(params![
                kind,
                r.source_path,
                r.reason,
                r.content_hash.unwrap_or(""),
                r.size.map(to_i64),
                r.sop_uid,
                r.existing_hash,
                r.stored_path,
                self.run_id,
                self.now,
                self.project_id
            ])?;
        Ok(())
    }

    /// Records a warning of this run.
    pub fn record_warning(
        &mut self,
        source_path: &str,
        message: &str,
    ) -> Result<(), rusqlite::Error> {
        self.tx
            .prepare_cached(
                "INSERT INTO import_warnings (run_id, source_path, message, created_at)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![self.run_id, source_path, message, self.now])?;
        Ok(())
    }

    /// Commits the batch durably (`synchronous=FULL`).
    pub fn commit(self) -> Result<(), rusqlite::Error> {
        self.tx.commit()
    }
}
