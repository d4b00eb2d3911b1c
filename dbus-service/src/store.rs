//! The registry as the service uses it: every SQLite call runs on tokio's blocking pool,
//! never on the executor, with a few open connections kept for reuse. Reads and writes
//! are bounded separately, so writers waiting on a registry that a hook holds locked
//! cannot starve the readers (in WAL mode, reads go on beside a writer). Every
//! connection is opened at start, so a call never has to open one; the readers' are
//! read-only, and never wait for another process's write lock.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::error::ServiceError;
use registry::{RegistryError, SqliteRegistry};

/// How many registry reads run at once; further calls wait (asynchronously) for a slot.
const READERS: usize = 8;
/// How many registry writes run at once (each may wait for another process's lock).
const WRITERS: usize = 4;
/// How many blocking jobs that are neither (translation, netlink) run at once.
const WORKERS: usize = 4;

/// A connection to write with, or a read-only one.
fn open_for(path: &Path, write: bool) -> Result<SqliteRegistry, RegistryError> {
    if write {
        SqliteRegistry::open(path)
    } else {
        SqliteRegistry::open_read_only(path)
    }
}

/// The registry behind the service.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    busy_timeout: Duration,
    /// [`READERS`] connections, opened at start.
    readers: Mutex<Vec<SqliteRegistry>>,
    /// [`WRITERS`] connections, opened at start.
    writers: Mutex<Vec<SqliteRegistry>>,
    reads: Semaphore,
    writes: Semaphore,
    work: Semaphore,
}

impl Store {
    /// Opens the registry at `path` (creating it, so a bad path fails at start) with
    /// one connection per reader and writer slot, kept for reuse. Each write waits at most `busy_timeout` for
    /// another process's lock, per attempt.
    pub fn open(path: &Path, busy_timeout: Duration) -> Result<Arc<Store>, RegistryError> {
        let open = |n: usize, write: bool| -> Result<Vec<SqliteRegistry>, RegistryError> {
            (0..n)
                .map(|_| {
                    let reg = open_for(path, write)?;
                    reg.set_busy_timeout(busy_timeout);
                    Ok(reg)
                })
                .collect()
        };
        // The writers first: they create the registry the readers then open.
        let writers = open(WRITERS, true)?;
        let readers = open(READERS, false)?;
        Ok(Arc::new(Store {
            path: path.to_owned(),
            busy_timeout,
            readers: Mutex::new(readers),
            writers: Mutex::new(writers),
            reads: Semaphore::new(READERS),
            writes: Semaphore::new(WRITERS),
            work: Semaphore::new(WORKERS),
        }))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How long a write waits for another process's lock, per attempt.
    pub fn busy_timeout(&self) -> Duration {
        self.busy_timeout
    }

    fn pool(&self, write: bool) -> &Mutex<Vec<SqliteRegistry>> {
        if write {
            &self.writers
        } else {
            &self.readers
        }
    }

    fn take(&self, write: bool) -> Result<SqliteRegistry, RegistryError> {
        let idle = self
            .pool(write)
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop();
        match idle {
            Some(reg) => Ok(reg),
            // Not reached: a call holds one of READERS (WRITERS) permits, and there are
            // as many connections.
            None => {
                let reg = open_for(&self.path, write)?;
                reg.set_busy_timeout(self.busy_timeout);
                Ok(reg)
            }
        }
    }

    fn give_back(&self, write: bool, reg: SqliteRegistry) {
        self.pool(write)
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(reg);
    }

    async fn run<T, F>(self: &Arc<Self>, write: bool, f: F) -> Result<T, ServiceError>
    where
        T: Send + 'static,
        F: FnOnce(&SqliteRegistry) -> Result<T, ServiceError> + Send + 'static,
    {
        let sem = if write { &self.writes } else { &self.reads };
        let _permit = sem
            .acquire()
            .await
            .map_err(|_| ServiceError::Failed("The service is shutting down".into()))?;
        let me = Arc::clone(self);
        // The job runs to its end even when the caller has gone (the call's task dropped):
        // a write is never cut off half-way.
        tokio::task::spawn_blocking(move || {
            let reg = me.take(write)?;
            let out = f(&reg);
            me.give_back(write, reg);
            out
        })
        .await
        .map_err(|e| ServiceError::Failed(format!("A registry job failed: {e}")))?
    }

    /// Runs `f` (reads only) on a blocking thread with a registry connection.
    pub async fn read<T, F>(self: &Arc<Self>, f: F) -> Result<T, ServiceError>
    where
        T: Send + 'static,
        F: FnOnce(&SqliteRegistry) -> Result<T, ServiceError> + Send + 'static,
    {
        self.run(false, f).await
    }

    /// Runs `f` (which writes) on a blocking thread with a registry connection.
    pub async fn write<T, F>(self: &Arc<Self>, f: F) -> Result<T, ServiceError>
    where
        T: Send + 'static,
        F: FnOnce(&SqliteRegistry) -> Result<T, ServiceError> + Send + 'static,
    {
        self.run(true, f).await
    }

    /// Runs CPU-bound or blocking work that needs no registry (translation) on a
    /// blocking thread.
    pub async fn work<T, F>(&self, f: F) -> Result<T, ServiceError>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T, ServiceError> + Send + 'static,
    {
        let _permit = self
            .work
            .acquire()
            .await
            .map_err(|_| ServiceError::Failed("The service is shutting down".into()))?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| ServiceError::Failed(format!("A job failed: {e}")))?
    }
}
