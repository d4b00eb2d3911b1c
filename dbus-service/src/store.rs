//! The registry as the service uses it: every SQLite call runs on tokio's blocking pool,
//! never on the executor, with a few open connections kept for reuse. Reads and writes
//! are bounded separately, so writers waiting on a registry that a hook holds locked
//! cannot starve the readers (in WAL mode, reads go on beside a writer). Every
//! connection is opened at start, so a call never has to open one; the readers' are
//! read-only, and never wait for another process's write lock.
//!
//! The registry file can be replaced under the service (a file copied or moved over
//! it: another inode at the path). Every use looks at the path first (one `stat`); when
//! the file there is not the one the connections have open, they are all closed (those
//! in use when they come back), the old file's WAL checkpointed into it and emptied,
//! and new connections opened on the file now at the path, so no write goes to a file
//! that is gone. All connections to the old file close before one opens the new file:
//! in one process, a connection to the new file would share the old one's `-shm` and
//! read its WAL. Each such reopening is a new [`epoch`](Store::epoch).
//!
//! A shared registry (etcd, [`Store::shared`]) is one `Sync` client that every job uses
//! at once (each call bounded by its own timeout); it has no file, so no epochs, and the
//! same bounds on reads and writes apply.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::error::ServiceError;
use registry::{Registry, RegistryError, SharedRegistry, SqliteRegistry};

/// How many registry reads run at once; further calls wait (asynchronously) for a slot.
const READERS: usize = 8;
/// How many registry writes run at once (each may wait for another process's lock).
const WRITERS: usize = 4;
/// How many blocking jobs that are neither (translation, netlink) run at once.
pub(crate) const WORKERS: usize = 4;

/// A connection to write with, or a read-only one.
fn open_for(path: &Path, write: bool) -> Result<SqliteRegistry, RegistryError> {
    if write {
        SqliteRegistry::open(path)
    } else {
        SqliteRegistry::open_read_only(path)
    }
}

/// Which file is at a path: device and inode (`None`: nothing there).
type FileId = Option<(u64, u64)>;

fn file_id(path: &Path) -> FileId {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// The open connections, and to which file.
#[derive(Debug)]
struct Pools {
    /// The file the connections are open on.
    file: FileId,
    /// Bumped each time the connections are reopened on another file.
    epoch: u64,
    /// Idle connections, opened at start ([`READERS`] of them).
    readers: Vec<SqliteRegistry>,
    /// Idle connections, opened at start ([`WRITERS`] of them).
    writers: Vec<SqliteRegistry>,
    /// Connections in use.
    out: usize,
}

/// What a lease holds.
enum Held {
    /// A SQLite connection from the pools (given back when the lease is dropped).
    Sqlite(Option<SqliteRegistry>),
    /// The shared registry's client.
    Shared(Arc<dyn SharedRegistry>),
}

/// A connection taken from the pools, with the epoch it belongs to.
pub struct Lease<'a> {
    store: &'a Store,
    write: bool,
    epoch: u64,
    reg: Held,
}

impl Lease<'_> {
    /// The connection.
    pub fn registry(&self) -> &dyn Registry {
        match &self.reg {
            Held::Sqlite(r) => r
                .as_ref()
                .expect("a lease holds its connection until dropped"),
            Held::Shared(r) => &**r,
        }
    }

    /// The epoch (the file) the connection belongs to.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Held::Sqlite(r) = &mut self.reg {
            if let Some(reg) = r.take() {
                self.store.give_back(self.write, self.epoch, reg);
            }
        }
    }
}

impl std::fmt::Debug for Lease<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("write", &self.write)
            .field("epoch", &self.epoch)
            .finish_non_exhaustive()
    }
}

/// A SQLite registry's file and connections.
#[derive(Debug)]
struct Sqlite {
    path: PathBuf,
    busy_timeout: Duration,
    pools: Mutex<Pools>,
    /// Signalled when a connection comes back.
    returned: Condvar,
}

/// Which registry.
enum Backend {
    Sqlite(Sqlite),
    Shared(Arc<dyn SharedRegistry>),
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Sqlite(s) => s.fmt(f),
            Backend::Shared(r) => f.debug_tuple("Shared").field(&r.store_name()).finish(),
        }
    }
}

/// The registry behind the service.
#[derive(Debug)]
pub struct Store {
    backend: Backend,
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
        Ok(Store::with(Backend::Sqlite(Sqlite {
            path: path.to_owned(),
            busy_timeout,
            pools: Mutex::new(Pools {
                file: file_id(path),
                epoch: 0,
                readers,
                writers,
                out: 0,
            }),
            returned: Condvar::new(),
        })))
    }

    /// The shared registry `reg` (etcd): every job uses its one client.
    pub fn shared(reg: Arc<dyn SharedRegistry>) -> Arc<Store> {
        Store::with(Backend::Shared(reg))
    }

    fn with(backend: Backend) -> Arc<Store> {
        Arc::new(Store {
            backend,
            reads: Semaphore::new(READERS),
            writes: Semaphore::new(WRITERS),
            work: Semaphore::new(WORKERS),
        })
    }

    /// The database file (`None`: a shared registry).
    pub fn path(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Sqlite(s) => Some(&s.path),
            Backend::Shared(_) => None,
        }
    }

    /// The shared registry, if that is what the store is on.
    pub fn shared_registry(&self) -> Option<&Arc<dyn SharedRegistry>> {
        match &self.backend {
            Backend::Sqlite(_) => None,
            Backend::Shared(r) => Some(r),
        }
    }

    /// The registry as messages name it: the file, or the store's URL.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Sqlite(s) => s.path.display().to_string(),
            Backend::Shared(r) => r.store_name(),
        }
    }

    /// How long a write waits for another process's lock, per attempt (`None`: a
    /// shared registry, whose calls are bounded by its own timeout).
    pub fn busy_timeout(&self) -> Option<Duration> {
        match &self.backend {
            Backend::Sqlite(s) => Some(s.busy_timeout),
            Backend::Shared(_) => None,
        }
    }

    /// How many times the connections were reopened on a file that replaced the
    /// registry's (0 until then; always 0 on a shared registry).
    pub fn epoch(&self) -> u64 {
        match &self.backend {
            Backend::Sqlite(s) => s.lock().epoch,
            Backend::Shared(_) => 0,
        }
    }

    /// A connection, on the file now at the path (reopened first if it changed); on a
    /// shared registry, its client.
    pub fn lease(&self, write: bool) -> Result<Lease<'_>, RegistryError> {
        match &self.backend {
            Backend::Sqlite(s) => s.lease(self, write),
            Backend::Shared(r) => Ok(Lease {
                store: self,
                write,
                epoch: 0,
                reg: Held::Shared(Arc::clone(r)),
            }),
        }
    }

    fn give_back(&self, write: bool, epoch: u64, reg: SqliteRegistry) {
        if let Backend::Sqlite(s) = &self.backend {
            s.give_back(write, epoch, reg);
        }
    }
}

impl Sqlite {
    fn lock(&self) -> MutexGuard<'_, Pools> {
        self.pools.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Closes every connection to the old file (waiting for those in use), empties its
    /// WAL into it, and makes `now` the file new connections open.
    fn reopen<'a>(&'a self, mut p: MutexGuard<'a, Pools>, now: FileId) -> MutexGuard<'a, Pools> {
        let readers = std::mem::take(&mut p.readers);
        let mut writers = std::mem::take(&mut p.writers);
        drop(readers);
        // Connections in use belong to the old epoch: they close when they come back.
        p.epoch += 1;
        while p.out > 0 {
            p = self.returned.wait(p).unwrap_or_else(|e| e.into_inner());
        }
        // The old file's WAL, which the new file would otherwise read, goes into it.
        if let Some(last) = writers.pop() {
            drop(writers);
            let _ = last.checkpoint_truncate();
        }
        p.file = now;
        p
    }

    fn lease<'a>(&self, store: &'a Store, write: bool) -> Result<Lease<'a>, RegistryError> {
        let now = file_id(&self.path);
        let mut p = self.lock();
        if p.file != now {
            p = self.reopen(p, now);
        }
        let idle = if write {
            p.writers.pop()
        } else {
            p.readers.pop()
        };
        let epoch = p.epoch;
        p.out += 1;
        drop(p);
        let reg = match idle {
            Some(reg) => Ok(reg),
            // After a reopening (or when more jobs than connections run at once).
            None => {
                open_for(&self.path, write).inspect(|reg| reg.set_busy_timeout(self.busy_timeout))
            }
        };
        match reg {
            Ok(reg) => Ok(Lease {
                store,
                write,
                epoch,
                reg: Held::Sqlite(Some(reg)),
            }),
            Err(e) => {
                let mut p = self.lock();
                p.out -= 1;
                drop(p);
                self.returned.notify_all();
                Err(e)
            }
        }
    }

    fn give_back(&self, write: bool, epoch: u64, reg: SqliteRegistry) {
        let mut p = self.lock();
        p.out -= 1;
        if epoch == p.epoch {
            let (pool, max) = if write {
                (&mut p.writers, WRITERS)
            } else {
                (&mut p.readers, READERS)
            };
            if pool.len() < max {
                pool.push(reg);
            }
        } else {
            // Closed before anyone waiting for the old file's connections goes on.
            drop(reg);
        }
        drop(p);
        self.returned.notify_all();
    }
}

impl Store {
    async fn run<T, F>(self: &Arc<Self>, write: bool, f: F) -> Result<T, ServiceError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Registry) -> Result<T, ServiceError> + Send + 'static,
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
            let lease = me.lease(write)?;
            f(lease.registry())
        })
        .await
        .map_err(|e| ServiceError::Failed(format!("A registry job failed: {e}")))?
    }

    /// Runs `f` (reads only) on a blocking thread with a registry connection.
    pub async fn read<T, F>(self: &Arc<Self>, f: F) -> Result<T, ServiceError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Registry) -> Result<T, ServiceError> + Send + 'static,
    {
        self.run(false, f).await
    }

    /// Runs `f` (which writes) on a blocking thread with a registry connection.
    pub async fn write<T, F>(self: &Arc<Self>, f: F) -> Result<T, ServiceError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Registry) -> Result<T, ServiceError> + Send + 'static,
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

#[cfg(test)]
mod tests {
    use super::*;
    use registry::{Bridge, BridgeKind};
    use translator::IfName;

    fn br(name: &str) -> Bridge {
        Bridge::new(IfName::new(name).unwrap(), BridgeKind::Linux)
    }

    fn names(reg: &dyn Registry) -> Vec<String> {
        reg.bridges()
            .unwrap()
            .iter()
            .map(|b| b.name.to_string())
            .collect()
    }

    /// A registry file moved over the one the store has open: the next use reopens it
    /// (reads see the new file, writes land in it), and a connection in use at the time
    /// is closed when it comes back.
    #[test]
    fn a_replaced_registry_file_is_reopened() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("registry.db");
        let store = Store::open(&db, Duration::from_secs(1)).unwrap();
        store
            .lease(true)
            .unwrap()
            .registry()
            .add_bridge(&br("br0"))
            .unwrap();
        let in_use = store.lease(false).unwrap();
        assert_eq!(names(in_use.registry()), ["br0"]);
        assert_eq!(store.epoch(), 0);

        let other = dir.path().join("other.db");
        let reg = SqliteRegistry::open(&other).unwrap();
        reg.add_bridge(&br("brB")).unwrap();
        drop(reg);
        std::fs::rename(&other, &db).unwrap();
        // The old file's connection in use comes back while the store waits for it.
        let back = std::thread::scope(|s| {
            let reopening = s.spawn(|| {
                let lease = store.lease(false).unwrap();
                (names(lease.registry()), lease.epoch())
            });
            // Still the old file's view: the store has not gone on without it.
            assert_eq!(names(in_use.registry()), ["br0"]);
            drop(in_use);
            reopening.join().unwrap()
        });
        assert_eq!(back, (vec!["brB".to_owned()], 1));
        store
            .lease(true)
            .unwrap()
            .registry()
            .add_bridge(&br("brX"))
            .unwrap();
        // The write is in the file at the path, as any other process reads it.
        let fresh = SqliteRegistry::open_read_only(&db).unwrap();
        assert_eq!(names(&fresh), ["brB", "brX"]);
        assert_eq!(store.epoch(), 1);
        // Nothing changed: no reopening.
        drop(store.lease(false).unwrap());
        assert_eq!(store.epoch(), 1);
    }
}
