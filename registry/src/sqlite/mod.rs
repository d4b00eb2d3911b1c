//! The host-local registry: one SQLite file in WAL mode, shared by every vifkit process
//! on the host.
//!
//! Every write runs in a `BEGIN IMMEDIATE` transaction: a writer takes the database's
//! write lock before it reads what it checks, so two processes recording NICs at once
//! are serialised and neither update is lost. A writer that finds the lock taken polls
//! for it every 1 to 4 ms for up to [`BUSY_TIMEOUT`] (a busy handler of our own: SQLite's
//! default one sleeps up to 100 ms between polls, which lets a waiter starve while other
//! processes write in a stream), and the whole transaction is retried, twice at most, if
//! SQLite still answers `SQLITE_BUSY`. Commits are `synchronous = FULL`: a recorded NIC
//! survives a power cut.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use rusqlite::config::DbConfig;
use rusqlite::{params, Connection, OpenFlags, Transaction, TransactionBehavior};
use translator::{IfName, MacAddr};

use super::{
    Attachment, AttachmentState, Bridge, DomainKey, DomainName, Driver, Recorded, Registry,
    RegistryError,
};

mod access;
mod attachments;
mod backup;
mod bridges;
mod claims;
mod error;
#[cfg(test)]
mod open_tests;
mod rows;
mod schema;
mod writer_lock;

pub use access::FileProblem;
pub use backup::Copied;
pub use writer_lock::WriterLock;

use access::Found;
pub(crate) use error::{db_err, is_busy};
use rows::{domain_filter, int};
pub use schema::SCHEMA_VERSION;

/// Where the registry lives unless `--db` or [`DB_ENV`] says otherwise.
pub const DEFAULT_PATH: &str = "/var/lib/vifkit/registry.db";

/// The environment variable that overrides [`DEFAULT_PATH`].
pub const DB_ENV: &str = "VIFKIT_DB";

/// How long a write waits for another process's write lock before SQLite gives up (and
/// the registry retries the whole transaction).
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How many times a transaction is tried when SQLite answers `SQLITE_BUSY`.
const ATTEMPTS: u32 = 3;

/// The registry's path: [`DB_ENV`] if set and not empty, else [`DEFAULT_PATH`]. (The
/// CLI's `--db` is passed to [`SqliteRegistry::open`] directly.)
pub fn default_path() -> PathBuf {
    path_from_env(std::env::var_os(DB_ENV))
}

fn path_from_env(value: Option<OsString>) -> PathBuf {
    match value {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from(DEFAULT_PATH),
    }
}

/// How much a connection has waited for other writers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LockStats {
    /// Times SQLite found the database locked and waited (once per lock event).
    pub lock_waits: u64,
    /// Milliseconds spent waiting for locks in all.
    pub lock_wait_ms: u64,
    /// The longest wait for one lock, in milliseconds.
    pub longest_wait_ms: u64,
    /// Whole transactions retried after SQLite still answered `SQLITE_BUSY`.
    pub busy_retries: u64,
}

#[derive(Debug)]
struct Counters {
    timeout_ms: AtomicU64,
    lock_waits: AtomicU64,
    lock_wait_us: AtomicU64,
    longest_wait_us: AtomicU64,
    busy_retries: AtomicU64,
}

impl Counters {
    /// Nothing counted yet, with the busy timeout in milliseconds.
    fn new(timeout_ms: u64) -> Self {
        Counters {
            timeout_ms: AtomicU64::new(timeout_ms),
            lock_waits: AtomicU64::new(0),
            lock_wait_us: AtomicU64::new(0),
            longest_wait_us: AtomicU64::new(0),
            busy_retries: AtomicU64::new(0),
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The busy handler's state for one connection.
struct Waiter {
    counters: Arc<Counters>,
    /// When the current lock event began.
    started: Instant,
    /// Xorshift state for the jitter.
    seed: u64,
}

impl Waiter {
    fn new(counters: Arc<Counters>) -> Waiter {
        // Any value that differs between connections will do.
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let addr = Arc::as_ptr(&counters) as usize as u64;
        let seed = (u64::from(now.subsec_nanos()) ^ addr ^ u64::from(std::process::id())) | 1;
        Waiter {
            counters,
            started: Instant::now(),
            seed,
        }
    }

    /// Called by SQLite when the database is locked, with the number of calls before
    /// this one for the same lock event. Sleeps 1 to 4 ms, at random so that waiters do
    /// not poll in step, and says to try again until the busy timeout has passed since
    /// the event began.
    ///
    /// Short sleeps keep waiting fair: with SQLite's own schedule (up to 100 ms between
    /// polls) a waiter under a stream of writes from other processes can poll a hundred
    /// times in a row into a held lock and give up after seconds.
    /// The next pause between polls: 1 to 4 ms, at random.
    fn next_delay(&mut self) -> Duration {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        Duration::from_micros(1000 + self.seed % 3000)
    }

    fn wait(&mut self, count: i32) -> bool {
        if count <= 0 {
            self.started = Instant::now();
            self.counters.lock_waits.fetch_add(1, Ordering::Relaxed);
        }
        let limit = Duration::from_millis(self.counters.timeout_ms.load(Ordering::Relaxed));
        let waited = self.started.elapsed();
        if waited >= limit {
            return false;
        }
        let delay = self.next_delay().min(limit - waited);
        let before = Instant::now();
        std::thread::sleep(delay);
        let us = u64::try_from(before.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.counters.lock_wait_us.fetch_add(us, Ordering::Relaxed);
        let so_far = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.counters
            .longest_wait_us
            .fetch_max(so_far, Ordering::Relaxed);
        true
    }
}

/// The registry in one SQLite file. One value per thread: it holds one connection.
pub struct SqliteRegistry {
    conn: Connection,
    path: PathBuf,
    counters: Arc<Counters>,
    /// Opened by [`open_read_only`](SqliteRegistry::open_read_only): writes are refused.
    read_only: bool,
}

impl fmt::Debug for SqliteRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteRegistry")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// The path given, refused when empty or SQLite's name for a database in memory (which
/// no other process could share, and where WAL is impossible).
fn checked_path(path: &Path) -> Result<PathBuf, RegistryError> {
    if path.as_os_str().is_empty() {
        return Err(RegistryError::EmptyPath);
    }
    if path == Path::new(":memory:") {
        return Err(RegistryError::NoWal {
            path: path.to_owned(),
            mode: "memory".to_owned(),
        });
    }
    Ok(path.to_owned())
}

/// SQLite's flags for the registry's connections. No SQLITE_OPEN_URI: a path is a
/// path, even one that starts with `file:`. No SQLITE_OPEN_CREATE: a new registry is
/// made whole beside the path and linked into place ([`create`]).
fn flags(read_only: bool) -> OpenFlags {
    let access = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
    };
    access | OpenFlags::SQLITE_OPEN_NO_MUTEX
}

/// Keeps the `-wal` and `-shm` files when the last connection closes (SQLite deletes
/// them otherwise): a user who may read the registry but not create files beside it
/// can only read a WAL database whose `-wal` and `-shm` files exist.
fn persist_wal(conn: &Connection, path: &Path) -> Result<(), RegistryError> {
    let mut on: std::ffi::c_int = 1;
    // SAFETY: the handle is only passed to SQLite below, while `conn` is alive.
    let db = unsafe { conn.handle() };
    // SAFETY: `db` is an open connection; "main" is a NUL-terminated literal;
    // SQLITE_FCNTL_PERSIST_WAL reads and writes one int, which `on` is, for the call.
    let rc = unsafe {
        rusqlite::ffi::sqlite3_file_control(
            db,
            c"main".as_ptr(),
            rusqlite::ffi::SQLITE_FCNTL_PERSIST_WAL,
            (&raw mut on).cast(),
        )
    };
    if rc == rusqlite::ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(db_err(path, "keeping the WAL files")(
            rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rc), None),
        ))
    }
}

/// Makes a new registry at `path` (and its directory): the schema is written into a
/// file of its own in the same directory, which is then linked to `path` in one step,
/// so no process ever sees a half-made registry (or an empty file). A registry another
/// process put there first is kept.
fn create(path: &Path) -> Result<(), RegistryError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|source| match access::io_problem(&source) {
        Some(problem @ (FileProblem::ReadOnlyFs | FileProblem::DiskFull)) => {
            RegistryError::Unusable {
                path: path.to_owned(),
                problem,
            }
        }
        _ => RegistryError::CreateDir {
            path: dir.to_owned(),
            source,
        },
    })?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    let temp = dir.join(format!(".{name}.new-{}-{nanos}", std::process::id()));
    let made = (|| {
        let flags = flags(false) | OpenFlags::SQLITE_OPEN_CREATE;
        let conn = Connection::open_with_flags(&temp, flags)
            .map_err(db_err(path, "creating the database"))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db_err(path, "creating the database"))?;
        schema::migrate(&conn, path)?;
        conn.close()
            .map_err(|(_, e)| db_err(path, "creating the database")(e))?;
        let linked = match std::fs::hard_link(&temp, path) {
            // A file system without hard links: a rename, unless a registry appeared.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EOPNOTSUPP)) => {
                match std::fs::symlink_metadata(path) {
                    Ok(_) => Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists)),
                    Err(_) => std::fs::rename(&temp, path),
                }
            }
            other => other,
        };
        match linked {
            Ok(()) => std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|source| RegistryError::Io {
                    path: path.to_owned(),
                    op: "syncing its directory",
                    source,
                }),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(source) => Err(match access::io_problem(&source) {
                Some(problem) => RegistryError::Unusable {
                    path: path.to_owned(),
                    problem,
                },
                None => RegistryError::Io {
                    path: path.to_owned(),
                    op: "linking the new database into place",
                    source,
                },
            }),
        }
    })();
    let _ = std::fs::remove_file(&temp);
    let mut journal = temp.into_os_string();
    journal.push("-journal");
    let _ = std::fs::remove_file(journal);
    made.map_err(|e| classify(path, false, e))
}

/// A SQLite failure that the file system explains (a full disk, a read-only file
/// system, no permission, ...) as [`RegistryError::Unusable`]; any other error as it is.
fn classify(path: &Path, read_only: bool, e: RegistryError) -> RegistryError {
    match &e {
        RegistryError::Sqlite { source, .. } => {
            match access::sqlite_problem(path, source, read_only) {
                Some(problem) => RegistryError::Unusable {
                    path: path.to_owned(),
                    problem,
                },
                None => e,
            }
        }
        _ => e,
    }
}

impl SqliteRegistry {
    /// Opens (creating it and its parent directories if needed) the registry at `path`
    /// to read and write: WAL mode, `synchronous = FULL`, foreign keys on, a
    /// [`BUSY_TIMEOUT`] for locks, and the schema migrated to [`SCHEMA_VERSION`].
    ///
    /// The schema is checked with plain reads, before anything is changed: another
    /// program's database, or one with a newer schema, is refused as it is; only a
    /// migration takes the write lock. A path that cannot be reached (a dangling
    /// symbolic link, a loop, a directory, no permission), an empty file, a read-only
    /// file system or a full disk is a [`RegistryError::Unusable`] saying so.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteRegistry, RegistryError> {
        let path = checked_path(path.as_ref())?;
        if access::probe(&path, true)? == Found::Missing {
            create(&path)?;
        }
        let reg = SqliteRegistry::connect(path, false)?;
        reg.retrying("opening the database", || reg.set_up())?;
        Ok(reg)
    }

    /// Opens the registry at `path` as [`open`](SqliteRegistry::open) does, if there
    /// is one: `None` when there is nothing at the path (no file, no symbolic link).
    /// An unreachable path is an error, as for [`open`](SqliteRegistry::open), never
    /// taken for a missing registry.
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Option<SqliteRegistry>, RegistryError> {
        let path = checked_path(path.as_ref())?;
        match access::probe(&path, true)? {
            Found::Missing => Ok(None),
            Found::File => SqliteRegistry::open(path).map(Some),
        }
    }

    /// Opens the registry at `path` to read only: it never waits for a writer (no
    /// write transaction, no journal mode change), and works for any user who may read
    /// the file. A missing file (no file and no symbolic link at the path: a host where
    /// nothing was registered yet) reads as an empty registry, and creates nothing. A
    /// database with an older schema is migrated first, by [`open`](SqliteRegistry::open)
    /// (which needs write access); every other refusal is [`open`](SqliteRegistry::open)'s.
    /// Writes through it fail with [`RegistryError::ReadOnly`].
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<SqliteRegistry, RegistryError> {
        let path = checked_path(path.as_ref())?;
        if access::probe(&path, false)? == Found::Missing {
            return SqliteRegistry::empty(path);
        }
        let reg = SqliteRegistry::connect(path, true)?;
        let version = reg.retrying("opening the database", || {
            schema::check(&reg.conn, &reg.path)
        })?;
        if version == SCHEMA_VERSION {
            return Ok(reg);
        }
        let SqliteRegistry { conn, path, .. } = reg;
        drop(conn);
        let migrated = SqliteRegistry::open(&path).map_err(|e| match e {
            RegistryError::Unusable {
                path,
                problem: problem @ (FileProblem::PermissionDenied | FileProblem::ReadOnlyFs),
            } => RegistryError::Unusable {
                path,
                problem: FileProblem::NeedsMigration {
                    found: version,
                    blocked: Box::new(problem),
                },
            },
            e => e,
        })?;
        drop(migrated);
        SqliteRegistry::open_read_only(path)
    }

    /// An empty registry in memory, for a path where there is none yet: reads find
    /// nothing, writes are refused.
    fn empty(path: PathBuf) -> Result<SqliteRegistry, RegistryError> {
        let op = "opening an empty registry in memory";
        let conn = Connection::open_in_memory().map_err(db_err(&path, op))?;
        schema::migrate(&conn, &path)?;
        conn.pragma_update(None, "query_only", true)
            .map_err(db_err(&path, op))?;
        Ok(SqliteRegistry {
            conn,
            path,
            counters: Arc::new(Counters::new(millis(BUSY_TIMEOUT))),
            read_only: true,
        })
    }

    /// Opens a connection to the file at `path` with the busy handler and the WAL files
    /// kept; a reader also leaves checkpoints (and so the WAL files) to writers.
    fn connect(path: PathBuf, read_only: bool) -> Result<SqliteRegistry, RegistryError> {
        let mut conn = Connection::open_with_flags(&path, flags(read_only))
            .map_err(|e| classify(&path, read_only, db_err(&path, "opening the database")(e)))?;
        let counters = Arc::new(Counters::new(millis(BUSY_TIMEOUT)));
        let mut waiter = Waiter::new(Arc::clone(&counters));
        conn.busy_handler(Some(move |count| waiter.wait(count)))
            .map_err(db_err(&path, "setting the busy handler"))?;
        persist_wal(&conn, &path)?;
        if read_only {
            conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
                .map_err(db_err(&path, "leaving checkpoints to writers"))?;
        }
        Ok(SqliteRegistry {
            conn,
            path,
            counters,
            read_only,
        })
    }

    /// Opens the registry at [`default_path`].
    pub fn open_default() -> Result<SqliteRegistry, RegistryError> {
        SqliteRegistry::open(default_path())
    }

    /// Checks the schema, puts the connection in WAL mode and migrates the schema if it
    /// is older than this build's. Nothing is changed before the check: another
    /// program's file is refused as it was. When several processes open a new file at
    /// once, SQLite may answer `SQLITE_BUSY` at once, without calling the busy handler
    /// (two connections in rollback mode both want to switch the journal mode: one must
    /// back off); [`open`](SqliteRegistry::open) retries.
    fn set_up(&self) -> Result<(), RegistryError> {
        let conn = &self.conn;
        let version = schema::check(conn, &self.path)?;
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .map_err(self.err("reading the journal mode"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            let mode: String = conn
                .pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0))
                .map_err(self.err("setting WAL journal mode"))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(RegistryError::NoWal {
                    path: self.path.clone(),
                    mode,
                });
            }
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(self.err("setting synchronous mode"))?;
        // The WAL is emptied (truncated to 0 bytes, the file kept for readers) when a
        // writer's checkpoint resets it and when the last connection closes: a file put
        // in the registry's place later (a copy, a `mv`) is read as it is, never with
        // the old registry's frames laid over it.
        conn.pragma_update(None, "journal_size_limit", 0)
            .map_err(self.err("limiting the WAL's size"))?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(self.err("turning foreign keys on"))?;
        if version < SCHEMA_VERSION {
            schema::migrate(conn, &self.path)?;
        }
        Ok(())
    }

    /// Whether writes through this value are refused
    /// ([`open_read_only`](SqliteRegistry::open_read_only)).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// SQLite's `PRAGMA data_version`: it changes when another connection (this process
    /// or another) commits a change, and costs no disk read, so a watcher can poll it
    /// cheaply and reread only when it moves. It does not change for this connection's
    /// own writes; [`Registry::generation`] counts every write.
    pub fn data_version(&self) -> Result<i64, RegistryError> {
        self.retrying("reading the data version", || {
            self.conn
                .pragma_query_value(None, "data_version", |r| r.get(0))
                .map_err(self.err("reading the data version"))
        })
    }

    /// Checkpoints the WAL into the database file and truncates it to 0 bytes (waiting,
    /// as a write does, for readers and writers in the way): before a connection to a
    /// file that replaced this one's is opened in the same process, whose `-wal` it
    /// would otherwise read. `false` when SQLite could not complete it (still busy).
    pub fn checkpoint_truncate(&self) -> Result<bool, RegistryError> {
        let op = "checkpointing the WAL";
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
            .map_err(self.err(op))?;
        Ok(busy == 0)
    }

    /// Changes how long an operation waits for another process's lock before SQLite
    /// gives up (and the registry retries the whole operation, up to three times in all);
    /// [`BUSY_TIMEOUT`] unless set.
    pub fn set_busy_timeout(&self, timeout: Duration) {
        self.counters
            .timeout_ms
            .store(millis(timeout), Ordering::Relaxed);
    }

    /// How much this connection has waited for other writers so far.
    pub fn lock_stats(&self) -> LockStats {
        LockStats {
            lock_waits: self.counters.lock_waits.load(Ordering::Relaxed),
            lock_wait_ms: self.counters.lock_wait_us.load(Ordering::Relaxed) / 1000,
            longest_wait_ms: self.counters.longest_wait_us.load(Ordering::Relaxed) / 1000,
            busy_retries: self.counters.busy_retries.load(Ordering::Relaxed),
        }
    }

    fn err(&self, op: &'static str) -> impl FnOnce(rusqlite::Error) -> RegistryError {
        db_err(&self.path, op)
    }

    /// Runs `f` again while SQLite answers `SQLITE_BUSY`, up to [`ATTEMPTS`] times.
    fn retrying<T>(
        &self,
        op: &'static str,
        mut f: impl FnMut() -> Result<T, RegistryError>,
    ) -> Result<T, RegistryError> {
        let mut attempt = 1;
        loop {
            match f() {
                Err(RegistryError::Sqlite { source, .. }) if is_busy(&source) => {
                    if attempt >= ATTEMPTS {
                        return Err(RegistryError::Busy {
                            path: self.path.clone(),
                            op,
                            attempts: attempt,
                            source,
                        });
                    }
                    attempt += 1;
                    self.counters.busy_retries.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(10));
                }
                other => return other.map_err(|e| classify(&self.path, self.read_only, e)),
            }
        }
    }

    /// Runs `f` in a `BEGIN IMMEDIATE` transaction and commits it, retrying on
    /// `SQLITE_BUSY`. An error from `f` rolls everything back.
    fn write<T>(
        &self,
        op: &'static str,
        mut f: impl FnMut(&Connection) -> Result<T, RegistryError>,
    ) -> Result<T, RegistryError> {
        if self.read_only {
            return Err(RegistryError::ReadOnly {
                path: self.path.clone(),
                op,
            });
        }
        self.retrying(op, || {
            let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
                .map_err(self.err(op))?;
            let out = f(&tx)?;
            tx.commit().map_err(self.err(op))?;
            Ok(out)
        })
    }

    fn bump(&self, conn: &Connection) -> Result<(), RegistryError> {
        conn.execute("UPDATE generation SET value = value + 1 WHERE id = 0", [])
            .map_err(self.err("counting the change"))?;
        Ok(())
    }
}

impl Registry for SqliteRegistry {
    fn add_bridge(&self, bridge: &Bridge) -> Result<(), RegistryError> {
        bridge.validate()?;
        self.write("adding a bridge", |conn| self.add_bridge_in(conn, bridge))
    }

    fn update_bridge(&self, bridge: &Bridge) -> Result<(), RegistryError> {
        bridge.validate()?;
        self.write("updating a bridge", |conn| {
            self.update_bridge_in(conn, bridge)
        })
    }

    fn remove_bridge(&self, name: &IfName) -> Result<Bridge, RegistryError> {
        self.write("removing a bridge", |conn| {
            self.remove_bridge_in(conn, name)
        })
    }

    fn bridge(&self, name: &IfName) -> Result<Option<Bridge>, RegistryError> {
        self.retrying("reading a bridge", || self.get_bridge(&self.conn, name))
    }

    fn bridges(&self) -> Result<Vec<Bridge>, RegistryError> {
        self.retrying("reading bridges", || self.list_bridges(&self.conn))
    }

    fn set_bridge_made(&self, name: &IfName, made: bool) -> Result<(), RegistryError> {
        self.write("marking a bridge as made by vifkit", |conn| {
            self.set_bridge_made_in(conn, name, made)
        })
    }

    fn bridge_made(&self, name: &IfName) -> Result<bool, RegistryError> {
        self.retrying("reading whether vifkit made a bridge", || {
            self.bridge_made_in(&self.conn, name)
        })
    }

    fn claim_bridges(
        &self,
        driver: Driver,
        domain: &DomainName,
        bridges: &[IfName],
    ) -> Result<(), RegistryError> {
        self.write("claiming bridges", |conn| {
            self.claim_in(conn, driver, domain, bridges)
        })
    }

    fn release_claims(&self, driver: Driver, domain: &DomainName) -> Result<(), RegistryError> {
        self.write("releasing bridge claims", |conn| {
            self.release_in(conn, driver, domain)
        })
    }

    fn bridge_claims(&self, bridge: &IfName) -> Result<Vec<(Driver, DomainName)>, RegistryError> {
        self.retrying("reading bridge claims", || {
            self.claims_in(&self.conn, bridge)
        })
    }

    fn record(&self, attachment: &Attachment) -> Result<Recorded, RegistryError> {
        attachment.validate()?;
        self.write("recording a NIC attachment", |conn| {
            let recorded = self.record_in(conn, attachment)?;
            if recorded != Recorded::Unchanged {
                self.bump(conn)?;
            }
            Ok(recorded)
        })
    }

    fn set_state(
        &self,
        driver: Driver,
        domid: u32,
        devid: u32,
        state: AttachmentState,
    ) -> Result<(), RegistryError> {
        self.write("setting a NIC attachment's state", |conn| {
            self.set_state_in(conn, driver, domid, devid, state)
        })
    }

    fn remove_attachment(
        &self,
        driver: Driver,
        domid: u32,
        devid: u32,
    ) -> Result<Option<Attachment>, RegistryError> {
        self.write("removing a NIC attachment", |conn| {
            self.remove_attachment_in(conn, driver, domid, devid)
        })
    }

    fn remove_if_unchanged(&self, attachment: &Attachment) -> Result<bool, RegistryError> {
        self.write("removing a stale NIC attachment", |conn| {
            self.remove_if_unchanged_in(conn, attachment)
        })
    }

    fn remove_domain(
        &self,
        driver: Driver,
        domain: &DomainKey,
    ) -> Result<Vec<Attachment>, RegistryError> {
        self.write("removing a domain's NIC attachments", |conn| {
            self.remove_domain_in(conn, driver, domain)
        })
    }

    fn replace_domain(
        &self,
        driver: Driver,
        domid: u32,
        attachments: &[Attachment],
    ) -> Result<Vec<Attachment>, RegistryError> {
        let new = crate::check_replacement(driver, domid, attachments)?;
        self.write("replacing a domain's NIC attachments", |conn| {
            self.replace_domain_in(conn, driver, domid, &new)
        })
    }

    fn attachment(
        &self,
        driver: Driver,
        domid: u32,
        devid: u32,
    ) -> Result<Option<Attachment>, RegistryError> {
        self.retrying("reading a NIC attachment", || {
            self.attachment_in(&self.conn, driver, domid, devid)
        })
    }

    fn attachment_by_device(&self, device: &IfName) -> Result<Option<Attachment>, RegistryError> {
        self.retrying("reading a NIC attachment", || {
            self.query_attachment(
                &self.conn,
                "WHERE backend = ?1 OR emulated = ?1",
                [device.as_str()],
            )
        })
    }

    fn attachment_by_mac(&self, mac: MacAddr) -> Result<Option<Attachment>, RegistryError> {
        let mac = mac.to_string();
        self.retrying("reading a NIC attachment", || {
            self.query_attachment(&self.conn, "WHERE mac = ?1", [&mac])
        })
    }

    fn attachments(&self) -> Result<Vec<Attachment>, RegistryError> {
        self.retrying("reading NIC attachments", || {
            self.query_attachments(&self.conn, "", [])
        })
    }

    fn domain_attachments(
        &self,
        driver: Driver,
        domain: &DomainKey,
    ) -> Result<Vec<Attachment>, RegistryError> {
        let (filter, value) = domain_filter(domain);
        self.retrying("reading a domain's NIC attachments", || {
            self.query_attachments(&self.conn, filter, params![driver.as_str(), &value])
        })
    }

    fn generation(&self) -> Result<u64, RegistryError> {
        let op = "reading the generation";
        let value: i64 = self.retrying(op, || {
            self.conn
                .query_row("SELECT value FROM generation WHERE id = 0", [], |r| {
                    r.get(0)
                })
                .map_err(self.err(op))
        })?;
        int(value, "generation").map_err(|source| RegistryError::BadRow {
            path: self.path.clone(),
            table: "generation",
            key: "0".to_owned(),
            source: Box::new(source),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::time::Instant;

    use super::*;
    use crate::testutil::{attachment, bridge, temp_db, temp_registry};

    #[test]
    fn default_path_honours_the_environment_variable() {
        assert_eq!(
            path_from_env(None),
            Path::new("/var/lib/vifkit/registry.db")
        );
        assert_eq!(path_from_env(Some("".into())), Path::new(DEFAULT_PATH));
        assert_eq!(
            path_from_env(Some("/srv/vifkit/reg.db".into())),
            Path::new("/srv/vifkit/reg.db")
        );
        assert_eq!(DB_ENV, "VIFKIT_DB");
        // The real environment: whatever it holds, the answer follows it.
        let want = match std::env::var_os(DB_ENV) {
            Some(v) if !v.is_empty() => PathBuf::from(v),
            _ => PathBuf::from(DEFAULT_PATH),
        };
        assert_eq!(default_path(), want);
    }

    #[test]
    fn open_creates_missing_directories() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("var/lib/vifkit/registry.db");
        let reg = SqliteRegistry::open(&path).unwrap();
        assert_eq!(reg.path(), path);
        assert!(path.is_file());
        assert_eq!(
            format!("{reg:?}"),
            format!("SqliteRegistry {{ path: {path:?}, .. }}")
        );
    }

    #[test]
    fn odd_paths() {
        let err = SqliteRegistry::open("").unwrap_err();
        assert!(matches!(err, RegistryError::EmptyPath));
        assert_eq!(err.to_string(), "The registry's path is empty");
        // SQLite keeps `:memory:` in memory, where WAL is impossible: refused.
        let err = SqliteRegistry::open(":memory:").unwrap_err();
        assert!(
            matches!(&err, RegistryError::NoWal { mode, .. } if mode == "memory"),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "Registry :memory:: SQLite kept journal mode \"memory\" instead of WAL (put the \
             registry on a local file system)"
        );
        // `file:` is not a URI scheme here: the file is created as named.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file:reg.db?mode=memory");
        SqliteRegistry::open(&path).unwrap();
        assert!(path.is_file());
    }

    #[test]
    fn the_registry_is_a_sendable_trait_object() {
        fn send<T: Send>(_: &T) {}
        let (_dir, reg) = temp_registry();
        send(&reg);
        let dyn_reg: &dyn Registry = &reg;
        dyn_reg.add_bridge(&bridge("br0")).unwrap();
        assert_eq!(dyn_reg.bridges().unwrap(), [bridge("br0")]);
    }

    #[test]
    fn a_directory_that_cannot_be_made_is_a_clear_error() {
        let (_dir, path) = temp_db();
        std::fs::write(&path, b"").unwrap();
        let db = path.join("registry.db");
        for err in [
            SqliteRegistry::open(&db).unwrap_err(),
            SqliteRegistry::open_read_only(&db).unwrap_err(),
        ] {
            assert!(
                matches!(&err, RegistryError::Unusable { path: p, problem }
                    if *p == db && *problem == FileProblem::NotADirectory),
                "{err:?}"
            );
            assert_eq!(
                err.to_string(),
                format!(
                    "Registry {}: a component of its path is a file, not a directory",
                    db.display()
                )
            );
        }
    }

    #[test]
    fn writes_from_other_connections_show_in_data_version() {
        let (_dir, reg) = temp_registry();
        let other = SqliteRegistry::open(reg.path()).unwrap();
        let v0 = reg.data_version().unwrap();
        assert_eq!(reg.data_version().unwrap(), v0);
        // Its own write does not move it; the generation does.
        reg.add_bridge(&bridge("br0")).unwrap();
        assert_eq!(reg.data_version().unwrap(), v0);
        assert_eq!(reg.generation().unwrap(), 1);
        // Another connection's write moves both, and is seen at once.
        other.record(&attachment(5, 0, "br0")).unwrap();
        let v1 = reg.data_version().unwrap();
        assert_ne!(v1, v0);
        assert_eq!(reg.generation().unwrap(), 2);
        assert_eq!(reg.attachments().unwrap(), [attachment(5, 0, "br0")]);
        // A write that changes nothing moves neither.
        other.record(&attachment(5, 0, "br0")).unwrap();
        assert_eq!(reg.data_version().unwrap(), v1);
        assert_eq!(reg.generation().unwrap(), 2);
    }

    #[test]
    fn a_writer_waits_for_the_lock() {
        let (_dir, reg) = temp_registry();
        reg.add_bridge(&bridge("br0")).unwrap();
        let holder = Connection::open(reg.path()).unwrap();
        holder.execute_batch("BEGIN IMMEDIATE").unwrap();
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            holder.execute_batch("COMMIT").unwrap();
        });
        // Readers are not blocked by a writer in WAL mode.
        assert_eq!(reg.bridges().unwrap(), [bridge("br0")]);
        let start = Instant::now();
        assert_eq!(
            reg.record(&attachment(5, 0, "br0")).unwrap(),
            Recorded::Inserted
        );
        assert!(
            start.elapsed() >= Duration::from_millis(250),
            "{:?}",
            start.elapsed()
        );
        release.join().unwrap();
        let stats = reg.lock_stats();
        assert_eq!(stats.lock_waits, 1, "{stats:?}");
        assert!(stats.lock_wait_ms >= 250, "{stats:?}");
        assert_eq!(stats.busy_retries, 0, "{stats:?}");
    }

    #[test]
    fn a_lock_held_too_long_is_a_clear_error_after_retries() {
        let (_dir, reg) = temp_registry();
        reg.add_bridge(&bridge("br0")).unwrap();
        reg.set_busy_timeout(Duration::from_millis(60));
        let holder = Connection::open(reg.path()).unwrap();
        holder.execute_batch("BEGIN IMMEDIATE").unwrap();
        let err = reg.record(&attachment(5, 0, "br0")).unwrap_err();
        assert!(
            matches!(
                &err,
                RegistryError::Busy {
                    attempts: 3,
                    op: "recording a NIC attachment",
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "Registry {}: still locked by other writers after 3 attempts while recording \
                 a NIC attachment",
                reg.path().display()
            )
        );
        assert_eq!(
            err.source()
                .and_then(|e| e.downcast_ref::<rusqlite::Error>())
                .and_then(rusqlite::Error::sqlite_error_code),
            Some(rusqlite::ErrorCode::DatabaseBusy)
        );
        let stats = reg.lock_stats();
        assert_eq!((stats.lock_waits, stats.busy_retries), (3, 2), "{stats:?}");
        holder.execute_batch("ROLLBACK").unwrap();
        assert_eq!(
            reg.record(&attachment(5, 0, "br0")).unwrap(),
            Recorded::Inserted
        );
        assert_eq!(reg.attachments().unwrap(), [attachment(5, 0, "br0")]);
    }

    #[test]
    fn the_busy_handler_pauses_1_to_4_ms_between_polls_at_random() {
        let counters = Arc::new(Counters::new(40));
        let mut waiter = Waiter::new(counters);
        let delays: Vec<Duration> = (0..1000).map(|_| waiter.next_delay()).collect();
        let (lo, hi) = (Duration::from_millis(1), Duration::from_millis(4));
        assert!(delays.iter().all(|d| (lo..hi).contains(d)), "{delays:?}");
        // Spread over the range, so that waiters do not poll in step.
        assert!(delays.iter().any(|d| *d < Duration::from_millis(2)));
        assert!(delays.iter().any(|d| *d >= Duration::from_millis(3)));
    }

    #[test]
    fn the_busy_handler_polls_often_and_gives_up_on_time() {
        let counters = Arc::new(Counters::new(40));
        let mut waiter = Waiter::new(Arc::clone(&counters));
        let start = Instant::now();
        let mut count = 0;
        while waiter.wait(count) {
            count += 1;
        }
        let took = start.elapsed();
        // It gave up only once the timeout had passed, and never sooner than a poll
        // a millisecond (sleeps are never shorter than asked; the last one is cut to
        // what is left of the timeout).
        assert!(took >= Duration::from_millis(40), "{took:?}");
        assert!((1..=41).contains(&count), "{count}");
        assert_eq!(counters.lock_waits.load(Ordering::Relaxed), 1);
        // The time spent asleep is counted, and is no more than the whole wait.
        let us = counters.lock_wait_us.load(Ordering::Relaxed);
        let took_us = u64::try_from(took.as_micros()).unwrap();
        assert!((1..=took_us).contains(&us), "{us} of {took_us}");
        // The longest wait runs from the event's start to its last poll: at least the
        // sleeps, at most the whole wait.
        let longest = counters.longest_wait_us.load(Ordering::Relaxed);
        assert!((us..=took_us).contains(&longest), "{longest} of {took_us}");
        // A new lock event starts the clock again.
        assert!(waiter.wait(0));
        assert_eq!(counters.lock_waits.load(Ordering::Relaxed), 2);
        counters.timeout_ms.store(0, Ordering::Relaxed);
        assert!(!waiter.wait(0));
    }
}

/// The suite every backend runs ([`crate::suite`]), on a fresh SQLite file each.
#[cfg(test)]
mod suite {
    use crate::suite::Subject;
    use crate::testutil::temp_registry;
    use crate::SqliteRegistry;

    fn sqlite() -> Subject {
        let (dir, reg) = temp_registry();
        let path = reg.path().to_path_buf();
        Subject {
            reg: Box::new(reg),
            again: Box::new(move || Box::new(SqliteRegistry::open(&path).unwrap())),
            guard: Box::new(dir),
        }
    }

    crate::registry_suite!(sqlite);
}
