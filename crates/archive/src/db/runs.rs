//! Import runs: the row each run opens, finishes with its counts (and any fatal error) and may
//! mark as de-identified, and the listing of runs.

use rusqlite::{TransactionBehavior, params};

use super::{Db, now, to_i64, to_u64};
use crate::records::{Filter, RunRecord};

/// Counts written to an import run's row when it finishes.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunCounts {
    /// Files seen.
    pub files_seen: u64,
    /// Instances imported.
    pub imported: u64,
    /// Duplicates.
    pub duplicates: u64,
    /// Conflicts.
    pub conflicts: u64,
    /// Rejected files.
    pub rejected: u64,
    /// Files passed over on purpose (DICOMDIRs).
    pub skipped: u64,
    /// Bytes imported.
    pub bytes_imported: u64,
}

impl Db {
    /// Finds or creates the project and opens an import run row for it.
    pub fn start_run(
        &mut self,
        project: &str,
        inputs_json: &str,
    ) -> Result<(i64, i64), rusqlite::Error> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = now();
        tx.execute(
            "INSERT INTO projects (name, created_at) VALUES (?1, ?2) ON CONFLICT(name) DO NOTHING",
            params![project, now],
        )?;
        let project_id: i64 =
            tx.query_row("SELECT id FROM projects WHERE name = ?1", [project], |r| {
                r.get(0)
            })?;
        tx.execute(
            "INSERT INTO import_runs (project_id, inputs, started_at) VALUES (?1, ?2, ?3)",
            params![project_id, inputs_json, now],
        )?;
        let run_id = tx.last_insert_rowid();
        tx.commit()?;
        Ok((project_id, run_id))
    }

    /// Writes the final counts of a run (what its committed batches filed) and marks it
    /// finished; `error` is the fatal error that stopped it, if one did.
    pub fn finish_run(
        &mut self,
        run_id: i64,
        c: &RunCounts,
        error: Option<&str>,
    ) -> Result<(), rusqlite::Error> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "UPDATE import_runs SET finished_at = ?2, files_seen = ?3, imported = ?4,
                 duplicates = ?5, conflicts = ?6, rejected = ?7, bytes_imported = ?8,
                 skipped = ?9, error = ?10
             WHERE id = ?1",
            params![
                run_id,
                now(),
                to_i64(c.files_seen),
                to_i64(c.imported),
                to_i64(c.duplicates),
                to_i64(c.conflicts),
                to_i64(c.rejected),
                to_i64(c.bytes_imported),
                to_i64(c.skipped),
                error
            ],
        )?;
        tx.commit()
    }

    /// Records that every file of a run was de-identified before it was stored (`label` names
    /// the profile, its options and the key's fingerprint).
    pub fn mark_run_deidentified(
        &mut self,
        run_id: i64,
        label: &str,
    ) -> Result<(), rusqlite::Error> {
        self.conn.execute(
            "UPDATE import_runs SET deidentified = ?2 WHERE id = ?1",
            params![run_id, label],
        )?;
        Ok(())
    }

    /// Import runs (only `project` and `run` of the filter apply), oldest first.
    pub fn runs(&self, f: &Filter) -> Result<Vec<RunRecord>, rusqlite::Error> {
        let mut stmt = self.conn.prepare(
            "SELECT r.id, p.name, r.inputs, r.started_at, r.finished_at, r.files_seen, r.imported,
                    r.duplicates, r.conflicts, r.rejected, r.skipped, r.bytes_imported, r.error,
                    r.deidentified
             FROM import_runs r JOIN projects p ON p.id = r.project_id
             WHERE (?1 IS NULL OR p.name = ?1) AND (?2 IS NULL OR r.id = ?2)
             ORDER BY r.id",
        )?;
        let rows = stmt.query_map(params![f.project, f.run], |r| {
            Ok(RunRecord {
                run_id: r.get(0)?,
                project: r.get(1)?,
                inputs: r.get(2)?,
                started_at: r.get(3)?,
                finished_at: r.get(4)?,
                files_seen: to_u64(r.get(5)?),
                imported: to_u64(r.get(6)?),
                duplicates: to_u64(r.get(7)?),
                conflicts: to_u64(r.get(8)?),
                rejected: to_u64(r.get(9)?),
                skipped: to_u64(r.get(10)?),
                bytes_imported: to_u64(r.get(11)?),
                error: r.get(12)?,
                deidentified: r.get(13)?,
            })
        })?;
        rows.collect()
    }
}
