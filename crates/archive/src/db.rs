//! The archive index: the one place that holds SQL. [`Db`] owns a SQLite connection; everything
//! else in the crate asks it questions in the domain's words.
//!
//! # Design
//!
//! **Schema and migrations.** The schema lives in `schema/NNNN_*.sql` (described in
//! `docs/schema.md`), embedded with `include_str!` and applied by [`migrate`], a `user_version`
//! runner in cargo's style: in one exclusive transaction, run every migration past the stored
//! `user_version`, then set it. Migrations are append-only; an index with a newer version than
//! this build knows is refused rather than guessed at.
//!
//! **Locking and concurrency.** The database runs in WAL mode, so readers (queries, the import
//! workers' duplicate pre-checks) never block and are never blocked. Every change happens in a
//! `BEGIN IMMEDIATE` transaction, which takes the single write lock up front; a second writer
//! (another `depot import` on the same archive) waits for it through a long `busy_timeout` instead
//! of failing. Because the write lock is held from the first read of a batch to its commit, the
//! decisions taken inside a batch are race-free across processes: whether a SOPInstanceUID is
//! new, which subject a PatientID maps to, the next study number of a subject, the next free
//! series label of a study. Subject codes are random; the UNIQUE constraint on `subjects.code`
//! catches the (rare) collision and a new code is drawn. All UIDs carry UNIQUE constraints, so a
//! logic error could never produce duplicate rows, only a failed batch.
//!
//! **Crash safety.** `synchronous=FULL` makes every commit durable when `COMMIT` returns. The
//! importer writes and fsyncs each file's bytes to a temporary file under `<archive>/tmp/`,
//! then, per batch and inside the batch's transaction: writes and fsyncs a journal listing the
//! final paths, renames the temporary files into place, fsyncs the touched folders and commits.
//! Only after that commit is any file of the batch reported as imported. A `kill -9` at any
//! point therefore leaves (a) committed batches complete on disk and in the index, and (b) for
//! the batch in flight, the transaction rolled back by SQLite and possibly some files renamed
//! into the store without an index row. (b) is undone when the archive is next opened for
//! writing: [`Db::forget_unreferenced`] deletes every journalled path that no row references,
//! under the write lock so that it cannot race a live import. Nothing an index row points to is
//! ever deleted or overwritten; rows are never deleted.
//!
//! **Reads.** Queries join subjects, studies, series and instances and aggregate counts per
//! level; filters become `WHERE` clauses with bound parameters only (no value is ever spliced
//! into SQL text). A query may run on a read-only connection ([`Db::open_read_only`]), so that a
//! user who may read the archive but not write it can still query it.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

pub use crate::layout::{INDEX_FILE, index_path};

use crate::grouping::{self, HeaderFacts, SubjectKey};
use crate::records::{
    Filter, InstanceRecord, RejectKind, RejectRecord, RunRecord, SeriesRecord, StudyRecord,
    SubjectRecord,
};

/// The embedded migrations, in order. `migrations_are_all_listed` checks this list against
/// the `schema/` folder.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../schema/0001_init.sql"),
    include_str!("../../../schema/0002_rejects_per_project_run_outcome.sql"),
    include_str!("../../../schema/0003_deidentified_runs.sql"),
];

/// How long a writer waits for another writer's batch before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(600);

/// The current time as stored in the index (RFC 3339, UTC, seconds).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Applies every migration past the database's `user_version`, in one exclusive transaction.
pub fn migrate(conn: &mut Connection, migrations: &[&str]) -> Result<(), MigrateError> {
    let known = i64::try_from(migrations.len()).unwrap_or(i64::MAX);
    // Fast path without the write lock, so that opening an up-to-date archive never waits for
    // a running import's batch.
    let current: i64 = conn.query_row("SELECT user_version FROM pragma_user_version", [], |r| {
        r.get(0)
    })?;
    if current == known {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    let version: i64 = tx.query_row("SELECT user_version FROM pragma_user_version", [], |r| {
        r.get(0)
    })?;
    if version > known {
        return Err(MigrateError::Newer {
            found: version,
            known,
        });
    }
    let done = usize::try_from(version).unwrap_or(0);
    if let Some(todo) = migrations.get(done..) {
        for sql in todo {
            tx.execute_batch(sql)?;
        }
    }
    tx.pragma_update(None, "user_version", known)?;
    tx.commit()?;
    Ok(())
}

/// Why [`migrate`] failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// SQLite failed.
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
    /// The database is newer than this build.
    #[error("schema version {found} is newer than {known}")]
    Newer {
        /// Stored version.
        found: i64,
        /// Known version.
        known: i64,
    },
}

/// Owner of one connection to the archive index.
#[derive(Debug)]
pub struct Db {
    conn: Connection,
}

/// What [`Db::open_read_only`] found.
#[derive(Debug)]
pub enum ReadOnly {
    /// The index, open for reading.
    Ready(Db),
    /// The index has an older schema and must be migrated (by a writable open) first.
    NeedsMigration,
}

/// An SQLite URI opening `path` as immutable (`file:/abs/path?immutable=1`), with the characters
/// URIs reserve percent-encoded.
fn immutable_uri(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut uri = String::from("file:");
    #[cfg(unix)]
    let bytes = {
        use std::os::unix::ffi::OsStrExt;
        abs.as_os_str().as_bytes().to_vec()
    };
    #[cfg(not(unix))]
    let bytes = abs.to_string_lossy().replace('\\', "/").into_bytes();
    for b in bytes {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?immutable=1");
    uri
}

/// An instance already in the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingInstance {
    /// Row id.
    pub id: i64,
    /// Content hash.
    pub sha256: String,
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
    pub sha256: Option<&'a str>,
    /// Size in bytes, when known.
    pub size: Option<u64>,
    /// SOPInstanceUID, when known.
    pub sop_uid: Option<&'a str>,
    /// Hash of the instance already stored (conflicts).
    pub existing_sha256: Option<&'a str>,
    /// Where the conflicting bytes are kept (relative to the root).
    pub stored_path: Option<&'a str>,
}

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

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Runs `op` again while SQLite answers "busy" without waiting. SQLite calls the busy handler
/// ([`BUSY_TIMEOUT`]) for most lock waits, but not where waiting could deadlock: a connection
/// that holds a shared lock and needs an exclusive one (switching a new index to WAL, when
/// another process opens the same new index at the same moment) gets `SQLITE_BUSY` at once.
/// Giving up then made one of two imports started together on a new archive fail.
fn when_not_busy<T>(
    mut op: impl FnMut() -> Result<T, rusqlite::Error>,
) -> Result<T, rusqlite::Error> {
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match op() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// Keeps a prepared statement's query plan when new values are bound (SQLite's query planner
/// stability guarantee). Without it, SQLite re-prepares a statement at every new binding when
/// a bound value could change its plan, which the instance look-up by SOPInstanceUID (a join of
/// five tables) did at every call: 7 % of an import's CPU time went into parsing the same SQL
/// again. Every look-up here is by a unique key, where no bound value changes the best plan.
fn stable_plans(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Db {
    /// Opens (creating if needed) the index at `path`, switches it to WAL and migrates it.
    pub fn open(path: &Path) -> Result<Db, MigrateError> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        stable_plans(&conn)?;
        let _mode: String =
            when_not_busy(|| conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)))?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn, MIGRATIONS)?;
        Ok(Db { conn })
    }

    /// Opens the index at `path` for reading only, never writing to it (queries). SQLite needs
    /// the write-ahead log's shared-memory file to read a WAL database; when it is missing and
    /// cannot be created (a user without write access to the archive folder) and no log file
    /// exists either, so that every committed change is in the main file, the index is opened
    /// as immutable instead (a snapshot; no other process is writing, or it would have a log).
    ///
    /// Returns [`ReadOnly::NeedsMigration`] when the index is older than this build: reading it
    /// needs a migration first, which only a writable open does.
    pub fn open_read_only(path: &Path) -> Result<ReadOnly, MigrateError> {
        use rusqlite::OpenFlags;
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let open = |immutable: bool| -> Result<(Connection, i64), rusqlite::Error> {
            let conn = if immutable {
                Connection::open_with_flags(immutable_uri(path), flags)?
            } else {
                Connection::open_with_flags(path, flags)?
            };
            conn.busy_timeout(BUSY_TIMEOUT)?;
            stable_plans(&conn)?;
            let version: i64 =
                conn.query_row("SELECT user_version FROM pragma_user_version", [], |r| {
                    r.get(0)
                })?;
            Ok((conn, version))
        };
        let (conn, version) = match open(false) {
            Ok(v) => v,
            Err(e) => {
                let mut wal = path.as_os_str().to_owned();
                wal.push("-wal");
                let log_exists = std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0);
                if log_exists {
                    return Err(e.into());
                }
                open(true).map_err(|_| e)?
            }
        };
        let known = Db::schema_version_known();
        if version > known {
            return Err(MigrateError::Newer {
                found: version,
                known,
            });
        }
        if version < known {
            return Ok(ReadOnly::NeedsMigration);
        }
        Ok(ReadOnly::Ready(Db { conn }))
    }

    /// Opens a read-only handle on an index that [`Db::open`] already set up (used by import
    /// workers for their duplicate pre-check).
    pub fn open_reader(path: &Path) -> Result<Db, rusqlite::Error> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        stable_plans(&conn)?;
        conn.pragma_update(None, "query_only", "ON")?;
        Ok(Db { conn })
    }

    /// The number of migrations this build knows (the schema version it writes).
    pub fn schema_version_known() -> i64 {
        i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
    }

    /// The stored schema version.
    pub fn schema_version(&self) -> Result<i64, rusqlite::Error> {
        self.conn
            .query_row("SELECT user_version FROM pragma_user_version", [], |r| {
                r.get(0)
            })
    }

    /// Looks an instance up by SOPInstanceUID (read-only, outside any batch).
    pub fn find_instance(
        &self,
        sop_uid: &str,
    ) -> Result<Option<ExistingInstance>, rusqlite::Error> {
        find_instance(&self.conn, sop_uid)
    }

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
    ) -> Result<Vec<InstanceRecord>, rusqlite::Error> {
        let (where_sql, args) = filter_sql(f);
        let sql = format!(
            "SELECT p.name, sub.code, st.number, se.label, st.study_uid, se.series_uid, i.sop_uid,
                    i.sop_class_uid, i.transfer_syntax, i.instance_number, i.number_of_frames,
                    i.sha256, i.size, i.stored_path, i.source_path, i.run_id, i.imported_at,
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
                sha256: r.get(11)?,
                size: to_u64(r.get(12)?),
                path: path_string(&root.join(&stored)),
                source_path: r.get(14)?,
                run_id: r.get(15)?,
                imported_at: r.get(16)?,
                modality: r.get(17)?,
            })
        })?;
        rows.collect()
    }

    /// Rejected and conflicting files matching the filter (only `project` and `run` apply). Each
    /// row belongs to the project of the imports that saw it.
    pub fn rejects(&self, f: &Filter, root: &Path) -> Result<Vec<RejectRecord>, rusqlite::Error> {
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
                    r.first_seen, r.times_seen, r.sha256, r.size, r.sop_uid, r.existing_sha256,
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
                sha256: (!sha.is_empty()).then_some(sha),
                size: r.get::<_, Option<i64>>(10)?.map(to_u64),
                sop_uid: r.get(11)?,
                existing_sha256: r.get(12)?,
                stored_path: stored.map(|s| path_string(&root.join(s))),
                project: r.get(14)?,
            })
        })?;
        rows.collect()
    }

    /// Every instance's stored path and hash (for consistency checks).
    pub fn stored_files(&self) -> Result<Vec<(String, String)>, rusqlite::Error> {
        let mut stmt = self.conn.prepare(
            "SELECT stored_path, sha256 FROM instances
             UNION ALL SELECT stored_path, sha256 FROM rejects WHERE stored_path IS NOT NULL",
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
/// [`grouping::is_calendar_date`]. A macro so that it can be `concat!`ed into static clauses.
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

/// The archived instance with a SOPInstanceUID, with its project and subject.
const FIND_INSTANCE: &str = "SELECT i.id, i.sha256, i.stored_path, sub.project_id, p.name, sub.code
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
                sha256: r.get(1)?,
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
        sha256: &str,
        size: u64,
        stored_path: &str,
        source_path: &str,
    ) -> Result<(), rusqlite::Error> {
        self.tx
            .prepare_cached(
                "INSERT INTO instances (series_id, sop_uid, sop_class_uid, transfer_syntax,
                     instance_number, number_of_frames, sha256, size, stored_path, source_path,
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
                sha256,
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
                "INSERT INTO rejects (kind, source_path, reason, sha256, size, sop_uid,
                     existing_sha256, stored_path, first_run_id, last_run_id, first_seen, last_seen,
                     project_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?10, ?11)
                 ON CONFLICT(project_id, source_path, sha256, reason) DO UPDATE SET
                     last_run_id = excluded.last_run_id, last_seen = excluded.last_seen,
                     times_seen = times_seen + 1",
            )?
            .execute(params![
                kind,
                r.source_path,
                r.reason,
                r.sha256.unwrap_or(""),
                r.size.map(to_i64),
                r.sop_uid,
                r.existing_sha256,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(
        pid: Option<&str>,
        study: &str,
        series: &str,
        sop: &str,
        num: Option<i64>,
    ) -> HeaderFacts {
        HeaderFacts {
            patient_id: pid.map(str::to_string),
            study_uid: study.into(),
            series_uid: series.into(),
            sop_uid: sop.into(),
            series_number: num,
            modality: Some("MR".into()),
            study_date: Some("20240102".into()),
            ..HeaderFacts::default()
        }
    }

    fn temp_db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join(INDEX_FILE)).unwrap();
        (dir, db)
    }

    fn file(db: &mut Db, run: i64, project: i64, f: &HeaderFacts) -> Placement {
        let mut b = db.begin_batch(run, project).unwrap();
        let p = b.place(f).unwrap();
        if let Placement::Series { series_id, .. } = &p {
            b.insert_instance(
                *series_id,
                f,
                &format!("h{}", f.sop_uid),
                1,
                &format!("store/{}", f.sop_uid),
                "src",
            )
            .unwrap();
        }
        b.commit().unwrap();
        p
    }

    #[test]
    fn migrate_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(INDEX_FILE);
        let mut conn = Connection::open(&path).unwrap();
        migrate(&mut conn, MIGRATIONS).unwrap();
        let tables = |c: &Connection| -> Vec<String> {
            let mut s = c
                .prepare("SELECT sql FROM sqlite_master ORDER BY name")
                .unwrap();
            s.query_map([], |r| r.get::<_, Option<String>>(0))
                .unwrap()
                .map(|r| r.unwrap().unwrap_or_default())
                .collect()
        };
        let before = tables(&conn);
        migrate(&mut conn, MIGRATIONS).unwrap();
        assert_eq!(tables(&conn), before, "second migration changed the schema");
        let v: i64 = conn
            .query_row("SELECT user_version FROM pragma_user_version", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(v, Db::schema_version_known());
        // A newer index is refused.
        conn.pragma_update(None, "user_version", 99).unwrap();
        assert!(matches!(
            migrate(&mut conn, MIGRATIONS),
            Err(MigrateError::Newer { found: 99, .. })
        ));
    }

    #[test]
    fn migrations_are_all_listed() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        assert_eq!(files.len(), MIGRATIONS.len(), "schema/ has {files:?}");
        for (i, (name, sql)) in files.iter().zip(MIGRATIONS).enumerate() {
            assert!(
                name.starts_with(&format!("{:04}_", i + 1)),
                "{name} out of sequence"
            );
            let on_disk = std::fs::read_to_string(dir.join(name)).unwrap();
            assert_eq!(&on_disk, sql, "{name} is not the embedded migration {i}");
        }
    }

    #[test]
    fn a_new_index_opened_by_several_at_once_opens_for_all() {
        for _ in 0..60 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(INDEX_FILE);
            let opened: Vec<Result<Db, MigrateError>> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..6).map(|_| s.spawn(|| Db::open(&path))).collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            for o in opened {
                let db = o.unwrap();
                assert_eq!(db.schema_version().unwrap(), Db::schema_version_known());
            }
        }
    }

    #[test]
    fn instance_look_ups_are_prepared_once() {
        // As in an import: look-ups in an empty index, then in one that has instances.
        let (dir, mut db) = temp_db();
        let reader = Db::open_reader(&dir.path().join(INDEX_FILE)).unwrap();
        for n in 0..3 {
            assert!(
                reader
                    .find_instance(&format!("1.2.1.1.{n}"))
                    .unwrap()
                    .is_none()
            );
        }
        let (project, run) = db.start_run("p", "[]").unwrap();
        let f = facts(Some("P1"), "1.2.1", "1.2.1.1", "1.2.1.1.1", Some(1));
        file(&mut db, run, project, &f);
        for reader in [&reader, &db] {
            for n in 0..5 {
                let found = reader.find_instance(&format!("1.2.1.1.{n}")).unwrap();
                assert_eq!(found.is_some(), n == 1);
            }
            let stmt = reader.conn.prepare_cached(FIND_INSTANCE).unwrap();
            assert_eq!(
                stmt.get_status(rusqlite::StatementStatus::RePrepare),
                0,
                "a new SOPInstanceUID must not make SQLite parse the look-up again"
            );
        }
    }

    #[test]
    fn grouping_and_numbering() {
        let (_d, mut db) = temp_db();
        let (project, run) = db.start_run("p", "[]").unwrap();
        let a = file(
            &mut db,
            run,
            project,
            &facts(Some("P1"), "1.1", "1.1.1", "1.1.1.1", Some(3)),
        );
        let b = file(
            &mut db,
            run,
            project,
            &facts(Some("P1"), "1.1", "1.1.2", "1.1.2.1", Some(3)),
        );
        let c = file(
            &mut db,
            run,
            project,
            &facts(Some("P1"), "1.2", "1.2.1", "1.2.1.1", None),
        );
        let (
            Placement::Series {
                subject_code: s1,
                series_label: l1,
                ..
            },
            Placement::Series {
                subject_code: s2,
                series_label: l2,
                warnings: w2,
                ..
            },
            Placement::Series {
                subject_code: s3,
                study_number: n3,
                series_label: l3,
                warnings: w3,
                ..
            },
        ) = (a, b, c)
        else {
            panic!("expected placements");
        };
        assert_eq!(s1, s2);
        assert_eq!(s1, s3);
        assert_eq!((l1.as_str(), l2.as_str()), ("3", "3.1"));
        assert!(w2[0].contains("shares SeriesNumber 3"), "{w2:?}");
        assert_eq!((n3, l3.as_str()), (2, "0"));
        assert!(w3[0].contains("no usable SeriesNumber"));
        let Placement::Series {
            series_label: l4,
            warnings: w4,
            ..
        } = file(
            &mut db,
            run,
            project,
            &facts(Some("P1"), "1.2", "1.2.2", "1.2.2.1", Some(-1)),
        )
        else {
            panic!("expected a placement");
        };
        assert_eq!(l4, "0.1");
        assert!(
            w4[0].contains("negative SeriesNumber -1, counted as 0") && !w4[0].contains("shares"),
            "{w4:?}"
        );
    }

    #[test]
    fn conflicts_are_detected() {
        let (_d, mut db) = temp_db();
        let (project, run) = db.start_run("p", "[]").unwrap();
        let Placement::Series { subject_code, .. } = file(
            &mut db,
            run,
            project,
            &facts(Some("P1"), "1.1", "1.1.1", "1.1.1.1", Some(1)),
        ) else {
            panic!("not filed");
        };
        let other_patient = file(
            &mut db,
            run,
            project,
            &facts(Some("P2"), "1.1", "1.1.1", "1.1.1.2", Some(1)),
        );
        // The reason names the archive code and what differs, never the PatientIDs (PHI).
        let Placement::Conflict { reason } = &other_patient else {
            panic!("{other_patient:?}");
        };
        assert!(
            reason.contains(&format!("under subject {subject_code}"))
                && reason.contains("another PatientID")
                && reason.contains("never merged")
                && !reason.contains("P1")
                && !reason.contains("P2"),
            "{reason}"
        );
        let mut with_issuer = facts(Some("P1"), "1.1", "1.1.1", "1.1.1.5", Some(1));
        with_issuer.issuer_of_patient_id = Some("HOSP".into());
        let issuer = file(&mut db, run, project, &with_issuer);
        assert!(
            matches!(&issuer, Placement::Conflict { reason } if reason.contains("IssuerOfPatientID") && !reason.contains("HOSP")),
            "{issuer:?}"
        );
        let blank = file(
            &mut db,
            run,
            project,
            &facts(None, "1.1", "1.1.1", "1.1.1.6", Some(1)),
        );
        assert!(
            matches!(&blank, Placement::Conflict { reason } if reason.contains("PatientID is blank")),
            "{blank:?}"
        );
        let other_study = file(
            &mut db,
            run,
            project,
            &facts(Some("P1"), "1.9", "1.1.1", "1.1.1.3", Some(1)),
        );
        assert!(
            matches!(&other_study, Placement::Conflict { reason } if reason.contains("SeriesInstanceUID") && reason.contains(&format!("archived as {subject_code}/1/1"))),
            "{other_study:?}"
        );
        let (project2, run2) = db.start_run("q", "[]").unwrap();
        let other_project = file(
            &mut db,
            run2,
            project2,
            &facts(Some("P1"), "1.1", "1.1.1", "1.1.1.4", Some(1)),
        );
        assert!(
            matches!(&other_project, Placement::Conflict { reason } if reason.contains("project"))
        );
        // Nothing of the conflicts created rows.
        assert_eq!(db.subjects(&Filter::default()).unwrap().len(), 1);
    }

    #[test]
    fn blank_patient_ids_are_not_merged() {
        let (_d, mut db) = temp_db();
        let (project, run) = db.start_run("p", "[]").unwrap();
        let a = file(
            &mut db,
            run,
            project,
            &facts(None, "1.1", "1.1.1", "1.1.1.1", Some(1)),
        );
        let b = file(
            &mut db,
            run,
            project,
            &facts(None, "1.2", "1.2.1", "1.2.1.1", Some(1)),
        );
        let c = file(
            &mut db,
            run,
            project,
            &facts(None, "1.2", "1.2.1", "1.2.1.2", Some(1)),
        );
        let code = |p: &Placement| match p {
            Placement::Series { subject_code, .. } => subject_code.clone(),
            Placement::Conflict { reason } => panic!("{reason}"),
        };
        assert_ne!(code(&a), code(&b));
        assert_eq!(code(&b), code(&c));
        let subjects = db.subjects(&Filter::default()).unwrap();
        assert_eq!(subjects.len(), 2);
        assert!(subjects.iter().all(|s| s.blank_patient_id));
    }

    #[test]
    fn rejects_are_recorded_once_per_file() {
        let (dir, mut db) = temp_db();
        let (project, run) = db.start_run("p", "[]").unwrap();
        for _ in 0..2 {
            let mut b = db.begin_batch(run, project).unwrap();
            b.record_reject(&RejectRow {
                kind: RejectKind::Rejected,
                source_path: "x",
                reason: "not DICOM",
                sha256: Some("ab"),
                size: Some(3),
                sop_uid: None,
                existing_sha256: None,
                stored_path: None,
            })
            .unwrap();
            b.commit().unwrap();
        }
        let r = db.rejects(&Filter::default(), dir.path()).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].times_seen, 2);
        assert_eq!(r[0].project, "p");

        // The same file seen by an import into another project is a row of that project; the
        // first project's row stays where it was.
        let (other, run2) = db.start_run("q", "[]").unwrap();
        let mut b = db.begin_batch(run2, other).unwrap();
        b.record_reject(&RejectRow {
            kind: RejectKind::Rejected,
            source_path: "x",
            reason: "not DICOM",
            sha256: Some("ab"),
            size: Some(3),
            sop_uid: None,
            existing_sha256: None,
            stored_path: None,
        })
        .unwrap();
        b.commit().unwrap();
        let r = db.rejects(&Filter::default(), dir.path()).unwrap();
        let projects: Vec<(&str, u64, i64)> = r
            .iter()
            .map(|r| (r.project.as_str(), r.times_seen, r.run_id))
            .collect();
        assert_eq!(projects, [("p", 2, run), ("q", 1, run2)]);
    }

    #[test]
    fn version_1_rejects_keep_their_project_when_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(INDEX_FILE);
        let mut conn = Connection::open(&path).unwrap();
        migrate(&mut conn, &MIGRATIONS[..1]).unwrap();
        conn.execute_batch(
            "INSERT INTO projects (id, name, created_at) VALUES (1, 'a', 't'), (2, 'b', 't');
             INSERT INTO import_runs (id, project_id, inputs, started_at) VALUES (1, 1, '[]', 't'), (2, 2, '[]', 't');
             INSERT INTO rejects (kind, source_path, reason, sha256, first_run_id, last_run_id, first_seen, last_seen)
                 VALUES ('rejected', '/d/x', 'not DICOM', 'ab', 1, 2, 't', 't');",
        )
        .unwrap();
        drop(conn);
        let db = Db::open(&path).unwrap();
        let r = db.rejects(&Filter::default(), dir.path()).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].project.as_str(), r[0].path.as_str()), ("b", "/d/x"));
    }

    #[test]
    fn read_only_opens_never_write() {
        let (dir, mut db) = temp_db();
        let (project, run) = db.start_run("p", "[]").unwrap();
        file(
            &mut db,
            run,
            project,
            &facts(Some("P1"), "1.1", "1.1.1", "1.1.1.1", Some(1)),
        );
        drop(db);
        let path = dir.path().join(INDEX_FILE);
        let before = std::fs::read(&path).unwrap();
        let ReadOnly::Ready(ro) = Db::open_read_only(&path).unwrap() else {
            panic!("current schema needs no migration");
        };
        assert_eq!(ro.subjects(&Filter::default()).unwrap().len(), 1);
        let mut ro = ro;
        assert!(
            ro.start_run("p", "[]").is_err(),
            "a read-only handle refuses writes"
        );
        drop(ro);
        assert_eq!(std::fs::read(&path).unwrap(), before);
        // An index with the old schema needs a migration first.
        let old = dir.path().join("old.sqlite");
        let mut conn = Connection::open(&old).unwrap();
        migrate(&mut conn, &MIGRATIONS[..1]).unwrap();
        drop(conn);
        assert!(matches!(
            Db::open_read_only(&old).unwrap(),
            ReadOnly::NeedsMigration
        ));
        assert!(
            immutable_uri(Path::new("/a b/x?y#z.sqlite"))
                .ends_with("/a%20b/x%3Fy%23z.sqlite?immutable=1")
        );
    }

    #[test]
    fn filters_select() {
        let (dir, mut db) = temp_db();
        let (project, run) = db.start_run("p", "[]").unwrap();
        file(
            &mut db,
            run,
            project,
            &facts(Some("P1"), "1.1", "1.1.1", "1.1.1.1", Some(1)),
        );
        let mut ct = facts(Some("P2"), "1.2", "1.2.1", "1.2.1.1", Some(1));
        ct.modality = Some("CT".into());
        ct.study_date = Some("20230505".into());
        file(&mut db, run, project, &ct);
        let f = Filter {
            modality: Some("ct".into()),
            ..Filter::default()
        };
        let s = db.subjects(&f).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].patient_id.as_deref(), Some("P2"));
        let f = Filter {
            since: chrono::NaiveDate::from_ymd_opt(2024, 1, 1),
            ..Filter::default()
        };
        let st = db.studies(&f, dir.path()).unwrap();
        assert_eq!(st.len(), 1);
        assert_eq!(st[0].study_uid, "1.1");
        let mut odd = facts(Some("P3"), "1.3", "1.3.1", "1.3.1.1", Some(1));
        odd.study_date = Some("garbage".into());
        file(&mut db, run, project, &odd);
        let f = Filter {
            since: chrono::NaiveDate::from_ymd_opt(2000, 1, 1),
            ..Filter::default()
        };
        assert_eq!(
            db.studies(&f, dir.path()).unwrap().len(),
            2,
            "a non-date never matches"
        );
        // Eight digits that are no calendar day never match either (stored as they were).
        for (i, not_a_date) in ["20241399", "00000000", "20240230", "20230229"]
            .into_iter()
            .enumerate()
        {
            let mut odd = facts(
                Some("P4"),
                &format!("1.4.{i}"),
                &format!("1.4.{i}.1"),
                &format!("1.4.{i}.1.1"),
                Some(1),
            );
            odd.study_date = Some(not_a_date.into());
            file(&mut db, run, project, &odd);
        }
        let mut leap = facts(Some("P4"), "1.5", "1.5.1", "1.5.1.1", Some(1));
        leap.study_date = Some("20240229".into());
        file(&mut db, run, project, &leap);
        let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d);
        let dated = |since, until| {
            let f = Filter {
                patient_id: Some("P4".into()),
                since,
                until,
                ..Filter::default()
            };
            db.studies(&f, dir.path())
                .unwrap()
                .into_iter()
                .map(|s| s.study_date.unwrap_or_default())
                .collect::<Vec<_>>()
        };
        assert_eq!(dated(day(2024, 12, 1), None), Vec::<String>::new());
        assert_eq!(dated(None, day(1900, 1, 1)), Vec::<String>::new());
        assert_eq!(dated(day(2023, 2, 1), day(2024, 3, 31)), ["20240229"]);
        let f = Filter {
            patient_id: Some("nobody".into()),
            ..Filter::default()
        };
        assert!(db.instances(&f, dir.path()).unwrap().is_empty());
    }
}
