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

use rusqlite::{params, Connection, OpenFlags, Transaction, TransactionBehavior};
use translator::{IfName, MacAddr};

use super::{
    Attachment, AttachmentState, Bridge, DomainKey, DomainName, Recorded, Registry, RegistryError,
};

mod attachments;
mod bridges;
mod claims;
mod error;
mod rows;
mod schema;
mod writer_lock;

pub use writer_lock::WriterLock;

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
}

impl fmt::Debug for SqliteRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteRegistry")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteRegistry {
    /// Opens (creating it and its parent directories if needed) the registry at `path`:
    /// WAL mode, `synchronous = FULL`, foreign keys on, a [`BUSY_TIMEOUT`] for locks, and
    /// the schema migrated to [`SCHEMA_VERSION`]. A database with
    /// a newer schema, or another program's database, is refused.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteRegistry, RegistryError> {
        let path = path.as_ref().to_path_buf();
        if path.as_os_str().is_empty() {
            return Err(RegistryError::EmptyPath);
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| RegistryError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        // No SQLITE_OPEN_URI: a path is a path, even one that starts with `file:`.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(&path, flags)
            .map_err(db_err(&path, "opening the database"))?;
        let counters = Arc::new(Counters::new(millis(BUSY_TIMEOUT)));
        let mut waiter = Waiter::new(Arc::clone(&counters));
        conn.busy_handler(Some(move |count| waiter.wait(count)))
            .map_err(db_err(&path, "setting the busy handler"))?;
        let reg = SqliteRegistry {
            conn,
            path,
            counters,
        };
        reg.retrying("opening the database", || reg.set_up())?;
        Ok(reg)
    }

    /// Opens the registry at [`default_path`].
    pub fn open_default() -> Result<SqliteRegistry, RegistryError> {
        SqliteRegistry::open(default_path())
    }

    /// Puts the connection in WAL mode and migrates the schema. When several processes
    /// open a brand-new file at once, SQLite may answer `SQLITE_BUSY` at once, without
    /// calling the busy handler (two connections in rollback mode both want to switch
    /// the journal mode: one must back off); [`open`](SqliteRegistry::open) retries.
    fn set_up(&self) -> Result<(), RegistryError> {
        let conn = &self.conn;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "wal", |r| r.get(0))
            .map_err(self.err("setting WAL journal mode"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(RegistryError::NoWal {
                path: self.path.clone(),
                mode,
            });
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(self.err("setting synchronous mode"))?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(self.err("turning foreign keys on"))?;
        schema::migrate(conn, &self.path)
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
                other => return other,
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

    fn claim_bridges(&self, domain: &DomainName, bridges: &[IfName]) -> Result<(), RegistryError> {
        self.write("claiming bridges", |conn| {
            self.claim_in(conn, domain, bridges)
        })
    }

    fn release_claims(&self, domain: &DomainName) -> Result<(), RegistryError> {
        self.write("releasing bridge claims", |conn| {
            self.release_in(conn, domain)
        })
    }

    fn bridge_claims(&self, bridge: &IfName) -> Result<Vec<DomainName>, RegistryError> {
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
        domid: u32,
        devid: u32,
        state: AttachmentState,
    ) -> Result<(), RegistryError> {
        self.write("setting a NIC attachment's state", |conn| {
            self.set_state_in(conn, domid, devid, state)
        })
    }

    fn remove_attachment(
        &self,
        domid: u32,
        devid: u32,
    ) -> Result<Option<Attachment>, RegistryError> {
        self.write("removing a NIC attachment", |conn| {
            self.remove_attachment_in(conn, domid, devid)
        })
    }

    fn remove_domain(&self, domain: &DomainKey) -> Result<Vec<Attachment>, RegistryError> {
        self.write("removing a domain's NIC attachments", |conn| {
            self.remove_domain_in(conn, domain)
        })
    }

    fn replace_domain(
        &self,
        domid: u32,
        attachments: &[Attachment],
    ) -> Result<Vec<Attachment>, RegistryError> {
        let new = attachments::check_replacement(domid, attachments)?;
        self.write("replacing a domain's NIC attachments", |conn| {
            self.replace_domain_in(conn, domid, &new)
        })
    }

    fn attachment(&self, domid: u32, devid: u32) -> Result<Option<Attachment>, RegistryError> {
        self.retrying("reading a NIC attachment", || {
            self.query_attachment(
                &self.conn,
                "WHERE domid = ?1 AND devid = ?2",
                params![domid, devid],
            )
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

    fn domain_attachments(&self, domain: &DomainKey) -> Result<Vec<Attachment>, RegistryError> {
        let (filter, value) = domain_filter(domain);
        self.retrying("reading a domain's NIC attachments", || {
            self.query_attachments(&self.conn, filter, [&value])
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
        let err = SqliteRegistry::open(&db).unwrap_err();
        assert!(matches!(&err, RegistryError::CreateDir { path: p, .. } if *p == path));
        assert_eq!(
            err.to_string(),
            format!("Cannot create the registry's directory {}", path.display())
        );
        assert!(err.source().is_some());
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
