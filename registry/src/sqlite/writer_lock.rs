//! Holding the registry's write lock from outside, as another writer (a hook in another
//! process) would: for tests of what readers and waiting writers do meanwhile, without
//! every crate above the registry linking SQLite itself.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::{db_err, persist_wal};
use crate::RegistryError;

/// The registry's write lock, held until dropped (the transaction is then rolled back).
#[derive(Debug)]
pub struct WriterLock {
    conn: Connection,
    path: PathBuf,
}

impl WriterLock {
    /// Opens the registry file at `path` and takes its write lock with `BEGIN EXCLUSIVE`,
    /// bumping the change generation inside the transaction as a real writer does.
    /// Fails at once (no busy wait) if another writer holds the lock.
    pub fn take(path: impl AsRef<Path>) -> Result<WriterLock, RegistryError> {
        let path = path.as_ref().to_path_buf();
        let conn = Connection::open(&path).map_err(db_err(&path, "opening to lock"))?;
        // As every vifkit connection: the -wal/-shm files outlive it for readers.
        persist_wal(&conn, &path)?;
        conn.execute_batch(
            "BEGIN EXCLUSIVE; UPDATE generation SET value = value + 1 WHERE id = 0;",
        )
        .map_err(db_err(&path, "taking the write lock"))?;
        Ok(WriterLock { conn, path })
    }

    /// Rolls the transaction back and lets the lock go.
    pub fn release(self) -> Result<(), RegistryError> {
        let WriterLock { conn, path } = self;
        conn.execute_batch("ROLLBACK")
            .map_err(db_err(&path, "releasing the write lock"))
    }
}
