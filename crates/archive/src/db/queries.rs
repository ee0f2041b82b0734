//! What queries list: subjects, studies, series, instances and rejects matching a filter, with
//! counts per level, and every stored file for the consistency check. Filters become `WHERE`
//! clauses with bound parameters only.

use std::path::Path;

use super::{Db, to_u64};
use crate::content_hash::HashAlgorithm;
use crate::records::{
    Filter, InstanceRecord, RejectKind, RejectRecord, SeriesRecord, StudyRecord, SubjectRecord,
};

impl Db {
    /// Subjects matching the filter, with counts.
    pub fn subjects(&self, f: &Filter) -> Result<Vec<SubjectRecord>, rusqlite::Error> {
        let (where_sql, args) = filter_sql(f);
        let sql = format!(
            "SELECT p.name, sub.code, sub.key_kind, sub.patient_id, sub.issuer_of_patient_id,
                    sub.patient_name, sub.birth_date, sub.sex, sub.other_patient_ids,
                    sub.other_patient_names, sub.created_at,
                    COUNT(DISTINCT st.id), COUNT(DISTINCT se.id), COUNT(i.id), COALESCE(SUM(i.size), 0)
             {FROM_ALL} {where_sql}
             GROUP BY sub.id ORDER BY p.name, sub.code"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
            Ok(SubjectRecord {
                project: r.get(0)?,
                subject: r.get(1)?,
                blank_patient_id: r.get::<_, String>(2)? == "blank_patient_id",
                patient_id: r.get(3)?,
                issuer_of_patient_id: r.get(4)?,
                patient_name: r.get(5)?,
                birth_date: r.get(6)?,
                sex: r.get(7)?,
                other_patient_ids: r.get(8)?,
                other_patient_names: r.get(9)?,
                created_at: r.get(10)?,
                studies: to_u64(r.get(11)?),
                series: to_u64(r.get(12)?),
                instances: to_u64(r.get(13)?),
                bytes: to_u64(r.get(14)?),
            })
        })?;
        rows.collect()
    }

    /// Studies matching the filter, with counts. `root` makes the folder paths absolute.
    pub fn studies(&self, f: &Filter, root: &Path) -> Result<Vec<StudyRecord>, rusqlite::Error> {
        let (where_sql, args) = filter_sql(f);
        let sql = format!(
            "SELECT p.name, sub.code, st.number, st.study_uid, st.study_date, st.study_time,
                    st.accession_number, st.study_id, st.study_description, st.institution_name,
                    st.referring_physician_name, sub.patient_id, sub.patient_name,
                    GROUP_CONCAT(DISTINCT se.modality), COUNT(DISTINCT se.id), COUNT(i.id),
                    COALESCE(SUM(i.size), 0), st.created_at
             {FROM_ALL} {where_sql}
             GROUP BY st.id ORDER BY p.name, sub.code, st.number"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
            let code: String = r.get(1)?;
            let number: i64 = r.get(2)?;
            let modalities: Option<String> = r.get(13)?;
            let mut mods: Vec<&str> = modalities
                .as_deref()
                .unwrap_or("")
                .split(',')
                .filter(|m| !m.is_empty())
                .collect();
            mods.sort_unstable();
            mods.dedup();
            Ok(StudyRecord {
                project: r.get(0)?,
                path: path_string(&crate::layout::study_dir(root, &code, number)),
                subject: code,
                study_number: number,
                study_uid: r.get(3)?,
                study_date: r.get(4)?,
                study_time: r.get(5)?,
                accession_number: r.get(6)?,
                study_id: r.get(7)?,
                study_description: r.get(8)?,
                institution_name: r.get(9)?,
                referring_physician_name: r.get(10)?,
                patient_id: r.get(11)?,
                patient_name: r.get(12)?,
                modalities: mods.join(","),
                series: to_u64(r.get(14)?),
                instances: to_u64(r.get(15)?),
                bytes: to_u64(r.get(16)?),
                created_at: r.get(17)?,
            })
        })?;
        rows.collect()
    }

    /// Series matching the filter, with counts.
    pub fn series(&self, f: &Filter, root: &Path) -> Result<Vec<SeriesRecord>, rusqlite::Error> {
        let (where_sql, args) = filter_sql(f);
        let sql = format!(
            "SELECT p.name, sub.code, st.number, st.study_uid, se.label, se.series_number,
                    se.series_uid, se.modality, se.series_description, se.protocol_name,
                    se.station_name, se.body_part_examined, COUNT(i.id), COALESCE(SUM(i.size), 0),
                    se.created_at
             {FROM_ALL} {where_sql}
             GROUP BY se.id ORDER BY p.name, sub.code, st.number, se.series_number, se.label"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
            let code: String = r.get(1)?;
            let number: i64 = r.get(2)?;
            let label: String = r.get(4)?;
            Ok(SeriesRecord {
                project: r.get(0)?,
                path: path_string(&crate::layout::series_dir(root, &code, number, &label)),
                subject: code,
                study_number: number,
                study_uid: r.get(3)?,
                series_label: label,
                series_number: r.get(5)?,
                series_uid: r.get(6)?,
                modality: r.get(7)?,
                series_description: r.get(8)?,
                protocol_name: r.get(9)?,
                station_name: r.get(10)?,
                body_part_examined: r.get(11)?,
                instances: to_u64(r.get(12)?),
                bytes: to_u64(r.get(13)?),
                created_at: r.get(14)?,
            })
        })?;
        rows.collect()
    }

    /// Instances matching the filter.
    pub fn instances(
        &self,
        f: &Filter,
        root: &Path,
        hash: HashAlgorithm,
    ) -> Result<Vec<InstanceRecord>, rusqlite::Error> {
        let mut out = Vec::new();
        self.each_instance(f, root, hash, |r| out.push(r))?;
        Ok(out)
    }

    /// How many instances [`Db::instances`] would list.
    pub fn count_instances(&self, f: &Filter) -> Result<u64, rusqlite::Error> {
        let (where_sql, args) = filter_sql(f);
        let sql = format!("SELECT COUNT(*) {FROM_ALL} {where_sql}");
        self.conn
            .query_row(&sql, rusqlite::params_from_iter(args), |r| {
                r.get::<_, i64>(0)
            })
            .map(to_u64)
    }

    /// [`Db::instances`] one row at a time, for a caller that keeps less of each.
    pub fn each_instance(
        &self,
        f: &Filter,
        root: &Path,
        hash: HashAlgorithm,
        mut visit: impl FnMut(InstanceRecord),
    ) -> Result<(), rusqlite::Error> {
        let (where_sql, args) = filter_sql(f);
        let sql = format!(
            "SELECT p.name, sub.code, st.number, se.label, st.study_uid, se.series_uid, i.sop_uid,
                    i.sop_class_uid, i.transfer_syntax, i.instance_number, i.number_of_frames,
                    i.content_hash, i.size, i.stored_path, i.source_path, i.run_id, i.imported_at,
                    se.modality
             {FROM_ALL} {where_sql}
             ORDER BY p.name, sub.code, st.number, se.series_number, se.label, i.instance_number, i.sop_uid"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
            let stored: String = r.get(13)?;
            Ok(InstanceRecord {
                project: r.get(0)?,
                subject: r.get(1)?,
                study_number: r.get(2)?,
                series_label: r.get(3)?,
                study_uid: r.get(4)?,
                series_uid: r.get(5)?,
                sop_uid: r.get(6)?,
                sop_class_uid: r.get(7)?,
                transfer_syntax: r.get(8)?,
                instance_number: r.get(9)?,
                number_of_frames: r.get(10)?,
                content_hash: r.get(11)?,
                hash_algorithm: hash,
                size: to_u64(r.get(12)?),
                path: path_string(&root.join(&stored)),
                source_path: r.get(14)?,
                run_id: r.get(15)?,
                imported_at: r.get(16)?,
                modality: r.get(17)?,
            })
        })?;
        for row in rows {
            visit(row?);
        }
        Ok(())
    }

    /// Rejected and conflicting files matching the filter (only `project` and `run` apply). Each
    /// row belongs to the project of the imports that saw it.
    pub fn rejects(
        &self,
        f: &Filter,
        root: &Path,
        hash: HashAlgorithm,
    ) -> Result<Vec<RejectRecord>, rusqlite::Error> {
        let mut clauses: Vec<&str> = Vec::new();
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(p) = &f.project {
            clauses.push("p.name = ?");
            args.push(p.clone().into());
        }
        if let Some(run) = f.run {
            clauses.push("r.last_run_id = ?");
            args.push(run.into());
        }
        let where_sql = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let sql = format!(
            "SELECT r.id, r.kind, r.source_path, r.reason, r.last_seen, r.last_run_id, r.first_run_id,
                    r.first_seen, r.times_seen, r.content_hash, r.size, r.sop_uid, r.existing_hash,
                    r.stored_path, p.name
             FROM rejects r JOIN projects p ON p.id = r.project_id
             {where_sql} ORDER BY r.id"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), |r| {
            let kind: String = r.get(1)?;
            let sha: String = r.get(9)?;
            let stored: Option<String> = r.get(13)?;
            Ok(RejectRecord {
                id: r.get(0)?,
                kind: if kind == "conflict" {
                    RejectKind::Conflict
                } else {
                    RejectKind::Rejected
                },
                path: r.get(2)?,
                reason: r.get(3)?,
                time: r.get(4)?,
                run_id: r.get(5)?,
                first_run_id: r.get(6)?,
                first_seen: r.get(7)?,
                times_seen: to_u64(r.get(8)?),
                content_hash: (!sha.is_empty()).then_some(sha),
                size: r.get::<_, Option<i64>>(10)?.map(to_u64),
                sop_uid: r.get(11)?,
                existing_hash: r.get(12)?,
                hash_algorithm: hash,
                stored_path: stored.map(|s| path_string(&root.join(s))),
                project: r.get(14)?,
            })
        })?;
        rows.collect()
    }

    /// Every stored file's path (instances and conflicts) and content hash (for consistency
    /// checks).
    pub fn stored_files(&self) -> Result<Vec<(String, String)>, rusqlite::Error> {
        let mut stmt = self.conn.prepare(
            "SELECT stored_path, content_hash FROM instances
             UNION ALL SELECT stored_path, content_hash FROM rejects WHERE stored_path IS NOT NULL",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    }
}

/// The join every level's query starts from. Every series has at least one instance (series are
/// created in the same transaction as their first instance), so inner joins lose nothing.
const FROM_ALL: &str = "FROM subjects sub
     JOIN projects p ON p.id = sub.project_id
     JOIN studies st ON st.subject_id = sub.id
     JOIN series se ON se.study_id = st.id
     JOIN instances i ON i.series_id = se.id";

/// SQL that is true when `st.study_date` is a real calendar date `YYYYMMDD`: eight digits, and
/// SQLite's date arithmetic gives the same day back (`20241399`, `00000000` or `20240230` are not
/// dates; older depot versions stored such values as they were). Mirrors
/// [`crate::grouping::is_calendar_date`]. A macro so that it can be `concat!`ed into static clauses.
macro_rules! real_study_date {
    () => {
        "(st.study_date GLOB '[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]' AND \
          date(substr(st.study_date, 1, 4) || '-' || substr(st.study_date, 5, 2) || '-' || \
               substr(st.study_date, 7, 2), '+0 days') = \
          substr(st.study_date, 1, 4) || '-' || substr(st.study_date, 5, 2) || '-' || \
          substr(st.study_date, 7, 2))"
    };
}

/// The `WHERE` clause and its bound values for a filter over [`FROM_ALL`].
fn filter_sql(f: &Filter) -> (String, Vec<rusqlite::types::Value>) {
    let mut clauses: Vec<&str> = Vec::new();
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    let mut add = |clause: &'static str, v: Option<rusqlite::types::Value>| {
        if let Some(v) = v {
            clauses.push(clause);
            args.push(v);
        }
    };
    add("p.name = ?", f.project.clone().map(Into::into));
    add("sub.code = ?", f.subject.clone().map(Into::into));
    add("sub.patient_id = ?", f.patient_id.clone().map(Into::into));
    add(
        "UPPER(se.modality) = UPPER(?)",
        f.modality.clone().map(Into::into),
    );
    add(
        concat!(real_study_date!(), " AND st.study_date >= ?"),
        f.since.map(|d| d.format("%Y%m%d").to_string().into()),
    );
    add(
        concat!(real_study_date!(), " AND st.study_date <= ?"),
        f.until.map(|d| d.format("%Y%m%d").to_string().into()),
    );
    add("st.study_uid = ?", f.study_uid.clone().map(Into::into));
    add("se.series_uid = ?", f.series_uid.clone().map(Into::into));
    add("i.run_id = ?", f.run.map(Into::into));
    let sql = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    (sql, args)
}

fn path_string(p: &Path) -> String {
    crate::text::path_text(p)
}
