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
//!
//! # Modules
//!
//! One type, [`Db`], owns the connection; its methods are grouped by concern: opening and the
//! schema here, the migration runner in `migrate`, import runs in `runs`, the filing of a
//! batch in `batch`, and the listings queries answer in `queries`.

mod batch;
mod migrate;
mod queries;
mod runs;

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use crate::content_hash::{HashAlgorithm, UnknownAlgorithm};

pub use crate::layout::{INDEX_FILE, index_path};
pub use batch::{Batch, ExistingInstance, Placement, RejectRow};
pub use migrate::{MigrateError, migrate};
pub use runs::RunCounts;

/// The embedded migrations, in order. `migrations_are_all_listed` checks this list against
/// the `schema/` folder.
const MIGRATIONS: &[&str] = &[
    include_str!("../../../../schema/0001_init.sql"),
    include_str!("../../../../schema/0002_rejects_per_project_run_outcome.sql"),
    include_str!("../../../../schema/0003_deidentified_runs.sql"),
    include_str!("../../../../schema/0004_content_hash.sql"),
];

/// How long a writer waits for another writer's batch before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(600);

/// The current time as stored in the index (RFC 3339, UTC, seconds).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
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

    /// The archive's content hash algorithm, as its index records it (`content_hash` table,
    /// see `schema/0004_content_hash.sql`).
    pub fn content_hash(&self) -> Result<HashAlgorithm, ContentHashError> {
        let name: String =
            self.conn
                .query_row("SELECT algorithm FROM content_hash WHERE id = 1", [], |r| {
                    r.get(0)
                })?;
        Ok(name.parse()?)
    }

    /// The stored schema version.
    pub fn schema_version(&self) -> Result<i64, rusqlite::Error> {
        self.conn
            .query_row("SELECT user_version FROM pragma_user_version", [], |r| {
                r.get(0)
            })
    }
}

/// Why [`Db::content_hash`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ContentHashError {
    /// SQLite failed (or the row is missing).
    #[error("cannot read the archive's content hash algorithm: {0}")]
    Sql(#[from] rusqlite::Error),
    /// The index names an algorithm this build does not know.
    #[error("the index names a content hash this build does not know: {0}")]
    Unknown(#[from] UnknownAlgorithm),
}

#[cfg(test)]
mod tests;
