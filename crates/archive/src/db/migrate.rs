//! The schema migration runner, in cargo's style: the database's `user_version` counts the
//! migrations applied; those past it run in one exclusive transaction.

use rusqlite::{Connection, TransactionBehavior};

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
