//! The host-local registry: one SQLite file in WAL mode, shared by every vifkit process
//! on the host.
//!
//! Every write runs in a `BEGIN IMMEDIATE` transaction: a writer takes the database's
//! write lock before it reads what it checks, so two processes recording NICs at once
//! are serialised and neither update is lost. A writer that finds the lock taken waits
//! up to [`BUSY_TIMEOUT`] (SQLite's busy handler, with SQLite's own back-off schedule)
//! and the whole transaction is retried if SQLite still answers `SQLITE_BUSY`. Commits
//! are `synchronous = FULL`: a recorded NIC survives a power cut.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{
    params, Connection, ErrorCode, OptionalExtension, Row, Transaction, TransactionBehavior,
};
use translator::{IfName, MacAddr};

use super::model::{parse_if_name, parse_mac, parse_vlan_spec};
use super::{
    schema, Attachment, AttachmentState, Bridge, DomainKey, DomainName, DomainUuid, GuestName,
    ModelError, Owner, Recorded, Registry, RegistryError, VlanId,
};

/// Where the registry lives unless `--db` or [`DB_ENV`] says otherwise.
pub const DEFAULT_PATH: &str = "/var/lib/vifkit/registry.db";

/// The environment variable that overrides [`DEFAULT_PATH`].
pub const DB_ENV: &str = "VIFKIT_DB";

/// How long a write waits for another process's write lock before SQLite gives up.
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

/// Maps a SQLite error to [`RegistryError::Sqlite`] for `path` and what was being done.
pub(super) fn db_err(
    path: &Path,
    op: &'static str,
) -> impl FnOnce(rusqlite::Error) -> RegistryError {
    let path = path.to_owned();
    move |source| RegistryError::Sqlite { path, op, source }
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

/// How much a connection has waited for other writers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LockStats {
    /// Times SQLite found the database locked and waited (once per lock event).
    pub lock_waits: u64,
    /// Milliseconds spent waiting for locks in all.
    pub lock_wait_ms: u64,
    /// Whole transactions retried after SQLite still answered `SQLITE_BUSY`.
    pub busy_retries: u64,
}

#[derive(Debug, Default)]
struct Counters {
    lock_waits: AtomicU64,
    lock_wait_ms: AtomicU64,
    busy_retries: AtomicU64,
}

/// SQLite's default busy-handler schedule (milliseconds), counted.
fn busy_wait(count: i32, counters: &Counters) -> bool {
    const DELAYS: [u64; 12] = [1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100];
    let count = usize::try_from(count).unwrap_or(0);
    let (delay, prior) = match DELAYS.get(count) {
        Some(&d) => (d, DELAYS[..count].iter().sum::<u64>()),
        None => {
            let extra = u64::try_from(count - DELAYS.len()).unwrap_or(u64::MAX);
            (
                100,
                DELAYS
                    .iter()
                    .sum::<u64>()
                    .saturating_add(extra.saturating_mul(100)),
            )
        }
    };
    let limit = u64::try_from(BUSY_TIMEOUT.as_millis()).unwrap_or(u64::MAX);
    if prior >= limit {
        return false;
    }
    let delay = delay.min(limit - prior);
    if count == 0 {
        counters.lock_waits.fetch_add(1, Ordering::Relaxed);
    }
    counters.lock_wait_ms.fetch_add(delay, Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(delay));
    true
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

const BRIDGE_COLUMNS: &str = "name, kind, uplink, vlan, mtu, stp, creatable";
const ATTACHMENT_COLUMNS: &str = "domid, devid, domain_name, domain_uuid, backend, emulated, \
                                  mac, bridge, vlan, guest_name, state";

impl SqliteRegistry {
    /// Opens (creating it and its parent directories if needed) the registry at `path`:
    /// WAL mode, `synchronous = FULL`, foreign keys on, a [`BUSY_TIMEOUT`] for locks, and
    /// the schema migrated to [`SCHEMA_VERSION`](super::SCHEMA_VERSION). A database with
    /// a newer schema, or another program's database, is refused.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteRegistry, RegistryError> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| RegistryError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let mut conn = Connection::open(&path).map_err(db_err(&path, "opening the database"))?;
        let counters = Arc::new(Counters::default());
        let c = Arc::clone(&counters);
        conn.busy_handler(Some(move |count| busy_wait(count, &c)))
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

    /// How much this connection has waited for other writers so far.
    pub fn lock_stats(&self) -> LockStats {
        LockStats {
            lock_waits: self.counters.lock_waits.load(Ordering::Relaxed),
            lock_wait_ms: self.counters.lock_wait_ms.load(Ordering::Relaxed),
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

    fn get_bridge(
        &self,
        conn: &Connection,
        name: &IfName,
    ) -> Result<Option<Bridge>, RegistryError> {
        let op = "reading a bridge";
        let row = conn
            .query_row(
                &format!("SELECT {BRIDGE_COLUMNS} FROM bridges WHERE name = ?1"),
                [name.as_str()],
                BridgeRow::read,
            )
            .optional()
            .map_err(self.err(op))?;
        row.map(|r| r.into_bridge(&self.path)).transpose()
    }

    /// The checks `add_bridge` and `update_bridge` share, with the write lock held.
    fn check_uplink(&self, conn: &Connection, bridge: &Bridge) -> Result<(), RegistryError> {
        let op = "checking the uplink";
        let name_of = |sql: &str, arg: &str| -> Result<Option<String>, RegistryError> {
            conn.query_row(sql, params![arg, bridge.name.as_str()], |r| r.get(0))
                .optional()
                .map_err(self.err(op))
        };
        let other_bridge = |other: String| -> Result<IfName, RegistryError> {
            parse_if_name("bridge name", &other).map_err(|source| RegistryError::BadRow {
                path: self.path.clone(),
                table: "bridges",
                key: other,
                source: Box::new(source),
            })
        };
        if let Some(device) = bridge.uplink_device()? {
            let sql = "SELECT name FROM bridges WHERE uplink_device = ?1 AND name != ?2";
            if let Some(other) = name_of(sql, &device)? {
                return Err(RegistryError::UplinkInUse {
                    bridge: bridge.name.clone(),
                    device,
                    other: other_bridge(other)?,
                });
            }
            let sql = "SELECT name FROM bridges WHERE name = ?1 AND name != ?2";
            if let Some(other) = name_of(sql, &device)? {
                return Err(RegistryError::UplinkIsABridge {
                    bridge: bridge.name.clone(),
                    other: other_bridge(other)?,
                });
            }
        }
        let sql = "SELECT name FROM bridges WHERE uplink_device = ?1 AND name != ?2";
        if let Some(other) = name_of(sql, &bridge.name)? {
            return Err(RegistryError::UplinkIsABridge {
                bridge: bridge.name.clone(),
                other: other_bridge(other)?,
            });
        }
        Ok(())
    }

    fn put_bridge(&self, conn: &Connection, b: &Bridge, insert: bool) -> Result<(), RegistryError> {
        let sql = match insert {
            true => format!(
                "INSERT INTO bridges ({BRIDGE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ),
            false => "UPDATE bridges SET kind = ?2, uplink = ?3, vlan = ?4, mtu = ?5, stp = ?6, \
                      creatable = ?7 WHERE name = ?1"
                .to_owned(),
        };
        conn.execute(
            &sql,
            params![
                b.name.as_str(),
                b.kind.as_str(),
                b.uplink.as_ref().map(|u| u.as_str()),
                b.vlan.map(VlanId::get),
                b.mtu.map(|m| m.get()),
                b.stp,
                b.creatable,
            ],
        )
        .map_err(self.err("writing a bridge"))?;
        self.bump(conn)
    }

    fn query_attachments(
        &self,
        conn: &Connection,
        filter: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<Attachment>, RegistryError> {
        let op = "reading NIC attachments";
        let sql =
            format!("SELECT {ATTACHMENT_COLUMNS} FROM attachments {filter} ORDER BY domid, devid");
        let mut st = conn.prepare_cached(&sql).map_err(self.err(op))?;
        let rows = st
            .query_map(args, AttachmentRow::read)
            .map_err(self.err(op))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err(op))?;
        rows.into_iter()
            .map(|r| r.into_attachment(&self.path))
            .collect()
    }

    fn query_attachment(
        &self,
        conn: &Connection,
        filter: &str,
        args: impl rusqlite::Params,
    ) -> Result<Option<Attachment>, RegistryError> {
        Ok(self
            .query_attachments(conn, filter, args)?
            .into_iter()
            .next())
    }

    /// Who other than `(domid, devid)` matches `filter` (on `?1`), if anyone.
    fn other_owner(
        &self,
        conn: &Connection,
        filter: &str,
        value: &str,
        domid: u32,
        devid: u32,
    ) -> Result<Option<Owner>, RegistryError> {
        let op = "checking for clashes";
        let sql = format!(
            "SELECT domain_name, domid, devid FROM attachments \
             WHERE ({filter}) AND NOT (domid = ?2 AND devid = ?3) ORDER BY domid, devid LIMIT 1"
        );
        let row: Option<(String, i64, i64)> = conn
            .query_row(&sql, params![value, domid, devid], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
            .map_err(self.err(op))?;
        row.map(|(name, d, n)| owner_from_row(&self.path, name, d, n))
            .transpose()
    }

    /// Records one attachment with the write lock held; the caller counts the change.
    fn record_in(&self, conn: &Connection, a: &Attachment) -> Result<Recorded, RegistryError> {
        a.validate()?;
        let exists: Option<i64> = conn
            .query_row(
                "SELECT 1 FROM bridges WHERE name = ?1",
                [a.bridge.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("checking the bridge"))?;
        if exists.is_none() {
            return Err(RegistryError::UnknownBridge(a.bridge.clone()));
        }
        let mac = a.mac.to_string();
        if let Some(owner) = self.other_owner(conn, "mac = ?1", &mac, a.domid, a.devid)? {
            return Err(RegistryError::MacClash { mac: a.mac, owner });
        }
        for dev in a.devices() {
            let filter = "backend = ?1 OR emulated = ?1";
            if let Some(owner) = self.other_owner(conn, filter, dev, a.domid, a.devid)? {
                return Err(RegistryError::NameClash {
                    name: dev.clone(),
                    owner,
                });
            }
        }
        let recorded = match self.query_attachment(
            conn,
            "WHERE domid = ?1 AND devid = ?2",
            params![a.domid, a.devid],
        ) {
            Ok(Some(old)) if old == *a => return Ok(Recorded::Unchanged),
            Ok(Some(_)) | Err(RegistryError::BadRow { .. }) => Recorded::Updated,
            Ok(None) => Recorded::Inserted,
            Err(e) => return Err(e),
        };
        let sql = format!(
            "INSERT INTO attachments ({ATTACHMENT_COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
             ON CONFLICT (domid, devid) DO UPDATE SET domain_name = excluded.domain_name, \
             domain_uuid = excluded.domain_uuid, backend = excluded.backend, \
             emulated = excluded.emulated, mac = excluded.mac, bridge = excluded.bridge, \
             vlan = excluded.vlan, guest_name = excluded.guest_name, state = excluded.state"
        );
        conn.execute(
            &sql,
            params![
                a.domid,
                a.devid,
                a.domain_name.as_str(),
                a.domain_uuid.map(|u| u.to_string()),
                a.backend.as_str(),
                a.emulated.as_ref().map(|e| e.as_str()),
                mac,
                a.bridge.as_str(),
                a.vlan.as_ref().map(|v| v.to_string()),
                a.guest_name.as_ref().map(|g| g.as_str()),
                a.state.as_str(),
            ],
        )
        .map_err(self.err("writing a NIC attachment"))?;
        Ok(recorded)
    }
}

/// `(SQL filter, its one argument)` picking a domain's rows.
fn domain_filter(domain: &DomainKey) -> (&'static str, rusqlite::types::Value) {
    use rusqlite::types::Value;
    match domain {
        DomainKey::Id(id) => ("WHERE domid = ?1", Value::Integer(i64::from(*id))),
        DomainKey::Name(n) => ("WHERE domain_name = ?1", Value::Text(n.as_str().to_owned())),
        DomainKey::Uuid(u) => ("WHERE domain_uuid = ?1", Value::Text(u.to_string())),
    }
}

fn owner_from_row(
    path: &Path,
    name: String,
    domid: i64,
    devid: i64,
) -> Result<Owner, RegistryError> {
    let key = format!("domain {domid} device {devid}");
    let bad = |source| RegistryError::BadRow {
        path: path.to_owned(),
        table: "attachments",
        key: key.clone(),
        source: Box::new(source),
    };
    Ok(Owner {
        domain_name: DomainName::new(name).map_err(bad)?,
        domid: int(domid, "domain id").map_err(bad)?,
        devid: int(devid, "device id").map_err(bad)?,
    })
}

fn int<T: TryFrom<i64>>(value: i64, field: &'static str) -> Result<T, ModelError> {
    T::try_from(value).map_err(|_| ModelError::OutOfRange { field, value })
}

fn flag(value: i64, field: &'static str) -> Result<bool, ModelError> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(ModelError::OutOfRange { field, value }),
    }
}

/// A `bridges` row as stored, before validation.
struct BridgeRow {
    name: String,
    kind: String,
    uplink: Option<String>,
    vlan: Option<i64>,
    mtu: Option<i64>,
    stp: i64,
    creatable: i64,
}

impl BridgeRow {
    fn read(r: &Row<'_>) -> rusqlite::Result<BridgeRow> {
        Ok(BridgeRow {
            name: r.get(0)?,
            kind: r.get(1)?,
            uplink: r.get(2)?,
            vlan: r.get(3)?,
            mtu: r.get(4)?,
            stp: r.get(5)?,
            creatable: r.get(6)?,
        })
    }

    fn into_bridge(self, path: &Path) -> Result<Bridge, RegistryError> {
        let key = self.name.clone();
        self.parse().map_err(|source| RegistryError::BadRow {
            path: path.to_owned(),
            table: "bridges",
            key,
            source: Box::new(source),
        })
    }

    fn parse(self) -> Result<Bridge, ModelError> {
        let bridge = Bridge {
            name: parse_if_name("bridge name", &self.name)?,
            kind: self.kind.parse()?,
            uplink: self
                .uplink
                .map(|u| parse_if_name("uplink", &u))
                .transpose()?,
            vlan: self.vlan.map(VlanId::try_from).transpose()?,
            mtu: self.mtu.map(super::Mtu::try_from).transpose()?,
            stp: flag(self.stp, "STP flag")?,
            creatable: flag(self.creatable, "creatable flag")?,
        };
        bridge.validate()?;
        Ok(bridge)
    }
}

/// An `attachments` row as stored, before validation.
struct AttachmentRow {
    domid: i64,
    devid: i64,
    domain_name: String,
    domain_uuid: Option<String>,
    backend: String,
    emulated: Option<String>,
    mac: String,
    bridge: String,
    vlan: Option<String>,
    guest_name: Option<String>,
    state: String,
}

impl AttachmentRow {
    fn read(r: &Row<'_>) -> rusqlite::Result<AttachmentRow> {
        Ok(AttachmentRow {
            domid: r.get(0)?,
            devid: r.get(1)?,
            domain_name: r.get(2)?,
            domain_uuid: r.get(3)?,
            backend: r.get(4)?,
            emulated: r.get(5)?,
            mac: r.get(6)?,
            bridge: r.get(7)?,
            vlan: r.get(8)?,
            guest_name: r.get(9)?,
            state: r.get(10)?,
        })
    }

    fn into_attachment(self, path: &Path) -> Result<Attachment, RegistryError> {
        let key = format!("domain {} device {}", self.domid, self.devid);
        self.parse().map_err(|source| RegistryError::BadRow {
            path: path.to_owned(),
            table: "attachments",
            key,
            source: Box::new(source),
        })
    }

    fn parse(self) -> Result<Attachment, ModelError> {
        let a = Attachment {
            domain_name: DomainName::new(self.domain_name)?,
            domain_uuid: self
                .domain_uuid
                .map(|u| u.parse::<DomainUuid>())
                .transpose()?,
            domid: int(self.domid, "domain id")?,
            devid: int(self.devid, "device id")?,
            backend: parse_if_name("backend device", &self.backend)?,
            emulated: self
                .emulated
                .map(|e| parse_if_name("emulated device", &e))
                .transpose()?,
            mac: parse_mac("MAC", &self.mac)?,
            bridge: parse_if_name("bridge", &self.bridge)?,
            vlan: self
                .vlan
                .map(|v| parse_vlan_spec("VLAN set", &v))
                .transpose()?,
            guest_name: self.guest_name.map(GuestName::new).transpose()?,
            state: self.state.parse::<AttachmentState>()?,
        };
        a.validate()?;
        Ok(a)
    }
}

impl Registry for SqliteRegistry {
    fn add_bridge(&self, bridge: &Bridge) -> Result<(), RegistryError> {
        bridge.validate()?;
        self.write("adding a bridge", |conn| {
            if self.get_bridge(conn, &bridge.name)?.is_some() {
                return Err(RegistryError::BridgeExists(bridge.name.clone()));
            }
            self.check_uplink(conn, bridge)?;
            self.put_bridge(conn, bridge, true)
        })
    }

    fn update_bridge(&self, bridge: &Bridge) -> Result<(), RegistryError> {
        bridge.validate()?;
        self.write("updating a bridge", |conn| {
            match self.get_bridge(conn, &bridge.name) {
                Ok(Some(old)) if old == *bridge => return Ok(()),
                Ok(Some(_)) | Err(RegistryError::BadRow { .. }) => {}
                Ok(None) => return Err(RegistryError::UnknownBridge(bridge.name.clone())),
                Err(e) => return Err(e),
            }
            self.check_uplink(conn, bridge)?;
            self.put_bridge(conn, bridge, false)
        })
    }

    fn remove_bridge(&self, name: &IfName) -> Result<Bridge, RegistryError> {
        self.write("removing a bridge", |conn| {
            let Some(bridge) = self.get_bridge(conn, name)? else {
                return Err(RegistryError::UnknownBridge(name.clone()));
            };
            let op = "checking the bridge's attachments";
            let count: i64 = conn
                .query_row(
                    "SELECT count(*) FROM attachments WHERE bridge = ?1",
                    [name.as_str()],
                    |r| r.get(0),
                )
                .map_err(self.err(op))?;
            if count > 0 {
                let (n, d, v): (String, i64, i64) = conn
                    .query_row(
                        "SELECT domain_name, domid, devid FROM attachments WHERE bridge = ?1 \
                         ORDER BY domid, devid LIMIT 1",
                        [name.as_str()],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .map_err(self.err(op))?;
                return Err(RegistryError::BridgeInUse {
                    bridge: name.clone(),
                    count: u64::try_from(count).unwrap_or(0),
                    first: owner_from_row(&self.path, n, d, v)?,
                });
            }
            conn.execute("DELETE FROM bridges WHERE name = ?1", [name.as_str()])
                .map_err(self.err("removing a bridge"))?;
            self.bump(conn)?;
            Ok(bridge)
        })
    }

    fn bridge(&self, name: &IfName) -> Result<Option<Bridge>, RegistryError> {
        self.retrying("reading a bridge", || self.get_bridge(&self.conn, name))
    }

    fn bridges(&self) -> Result<Vec<Bridge>, RegistryError> {
        let op = "reading bridges";
        self.retrying(op, || {
            let mut st = self
                .conn
                .prepare_cached(&format!(
                    "SELECT {BRIDGE_COLUMNS} FROM bridges ORDER BY name"
                ))
                .map_err(self.err(op))?;
            let rows = st
                .query_map([], BridgeRow::read)
                .map_err(self.err(op))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(self.err(op))?;
            rows.into_iter()
                .map(|r| r.into_bridge(&self.path))
                .collect()
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
            let op = "setting a NIC attachment's state";
            let old: Option<String> = conn
                .query_row(
                    "SELECT state FROM attachments WHERE domid = ?1 AND devid = ?2",
                    params![domid, devid],
                    |r| r.get(0),
                )
                .optional()
                .map_err(self.err(op))?;
            match old {
                None => Err(RegistryError::UnknownAttachment { domid, devid }),
                Some(old) if old == state.as_str() => Ok(()),
                Some(_) => {
                    conn.execute(
                        "UPDATE attachments SET state = ?3 WHERE domid = ?1 AND devid = ?2",
                        params![domid, devid, state.as_str()],
                    )
                    .map_err(self.err(op))?;
                    self.bump(conn)
                }
            }
        })
    }

    fn remove_attachment(
        &self,
        domid: u32,
        devid: u32,
    ) -> Result<Option<Attachment>, RegistryError> {
        self.write("removing a NIC attachment", |conn| {
            let filter = "WHERE domid = ?1 AND devid = ?2";
            let Some(old) = self.query_attachment(conn, filter, params![domid, devid])? else {
                return Ok(None);
            };
            conn.execute(
                "DELETE FROM attachments WHERE domid = ?1 AND devid = ?2",
                params![domid, devid],
            )
            .map_err(self.err("removing a NIC attachment"))?;
            self.bump(conn)?;
            Ok(Some(old))
        })
    }

    fn remove_domain(&self, domain: &DomainKey) -> Result<Vec<Attachment>, RegistryError> {
        let (filter, value) = domain_filter(domain);
        self.write("removing a domain's NIC attachments", |conn| {
            let old = self.query_attachments(conn, filter, [&value])?;
            if old.is_empty() {
                return Ok(old);
            }
            conn.execute(&format!("DELETE FROM attachments {filter}"), [&value])
                .map_err(self.err("removing a domain's NIC attachments"))?;
            self.bump(conn)?;
            Ok(old)
        })
    }

    fn replace_domain(
        &self,
        domid: u32,
        attachments: &[Attachment],
    ) -> Result<Vec<Attachment>, RegistryError> {
        let mut new: Vec<&Attachment> = attachments.iter().collect();
        new.sort_by_key(|a| a.devid);
        for (i, a) in new.iter().enumerate() {
            if a.domid != domid {
                return Err(RegistryError::WrongDomain {
                    domid,
                    owner: a.owner(),
                });
            }
            if i > 0 && new[i - 1].devid == a.devid {
                return Err(RegistryError::DuplicateDevice {
                    domid,
                    devid: a.devid,
                });
            }
            a.validate()?;
        }
        self.write("replacing a domain's NIC attachments", |conn| {
            let old = self.query_attachments(conn, "WHERE domid = ?1", [domid])?;
            if old.len() == new.len() && old.iter().zip(&new).all(|(o, n)| o == *n) {
                return Ok(Vec::new());
            }
            conn.execute("DELETE FROM attachments WHERE domid = ?1", [domid])
                .map_err(self.err("replacing a domain's NIC attachments"))?;
            for a in &new {
                self.record_in(conn, a)?;
            }
            self.bump(conn)?;
            Ok(old
                .into_iter()
                .filter(|o| new.binary_search_by_key(&o.devid, |n| n.devid).is_err())
                .collect())
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
