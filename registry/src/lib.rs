//! The bridge registry: which bridges vifkit knows (kind, uplink, VLAN, MTU, STP,
//! whether it may create them) and which guest NICs are plugged into them (PV backend
//! `vifD.N`, emulated twin `vifD.N-emu`, MAC, bridge, VLANs, state).
//!
//! [`Registry`] is the interface the hooks, the CLI and the D-Bus service use;
//! [`SqliteRegistry`] is the host-local store behind it (a fleet sharing a LAN segment
//! will want a distributed one later, behind the same trait). Every write is atomic, a
//! MAC is unique across the whole registry, and the registry never loses a record when
//! many guests start at once.

mod error;
mod fields;
mod json;
mod lazy;
mod model;
mod sqlite;
#[cfg(test)]
mod stress;
#[cfg(any(test, feature = "test-suite"))]
pub mod suite;
#[cfg(any(test, feature = "test-suite"))]
pub mod testutil;

use std::path::PathBuf;

use translator::{IfName, MacAddr};

pub use error::ModelError;
pub use fields::{
    AttachmentState, BootId, BridgeKind, DomainName, DomainUuid, Driver, GuestName, Mtu,
    NicModelName, VlanId, BOOT_ID_PATH,
};
pub use lazy::LazyRegistry;
pub use model::{
    backend_name, check_replacement, emulated_name, parse_backend_name, parse_if_name, parse_mac,
    parse_vlan_spec, Attachment, Bridge, DomainKey, Owner, DOMID_FIRST_RESERVED, EMULATED_SUFFIX,
};
pub use sqlite::{
    default_path, Copied, FileProblem, LockStats, SqliteRegistry, WriterLock, BUSY_TIMEOUT, DB_ENV,
    DEFAULT_PATH, SCHEMA_VERSION,
};

/// What [`Registry::record`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Recorded {
    /// No attachment had this `(driver, domid, devid)`: a new record.
    Inserted,
    /// The attachment of this `(driver, domid, devid)` was replaced.
    Updated,
    /// The same attachment was already recorded: nothing written.
    Unchanged,
}

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A record that breaks the model's rules.
    #[error(transparent)]
    Invalid(#[from] ModelError),
    /// [`Registry::add_bridge`] of a name already there.
    #[error("Bridge {0} is already in the registry")]
    BridgeExists(IfName),
    /// A bridge that is not in the registry.
    #[error("Bridge {0} is not in the registry")]
    UnknownBridge(IfName),
    /// Removing a bridge that NICs are still attached to.
    #[error("Bridge {bridge} still has {count} NIC attachment(s), the first of {first}")]
    BridgeInUse {
        /// The bridge.
        bridge: IfName,
        /// How many attachments name it.
        count: u64,
        /// The first of them, by domain id and device id.
        first: Owner,
    },
    /// Two bridges that would enslave the same uplink device.
    #[error("Bridge {bridge}: uplink device {device} is already the uplink of bridge {other}")]
    UplinkInUse {
        /// The bridge being written.
        bridge: IfName,
        /// The device (`UPLINK` or `UPLINK.VLAN`).
        device: IfName,
        /// The bridge that has it.
        other: IfName,
    },
    /// A bridge whose uplink device is another bridge, or whose name is another bridge's
    /// uplink device: bridges cannot be enslaved to bridges.
    #[error("Bridge {bridge} and bridge {other}: one would be the other's uplink device")]
    UplinkIsABridge {
        /// The bridge being written.
        bridge: IfName,
        /// The other bridge.
        other: IfName,
    },
    /// A MAC another NIC in the registry already has.
    #[error("MAC {mac} is already used by {owner}")]
    MacClash {
        /// The MAC.
        mac: MacAddr,
        /// Who has it.
        owner: Owner,
    },
    /// A device name (backend or emulated twin) another NIC already has.
    #[error("Device name {name} is already used by {owner}")]
    NameClash {
        /// The device name.
        name: IfName,
        /// Who has it.
        owner: Owner,
    },
    /// An attachment that is not in the registry.
    #[error("No NIC attachment for {} domain {domid} device {devid} in the registry", driver.label())]
    UnknownAttachment {
        /// Whose domain.
        driver: Driver,
        /// The domain id.
        domid: u32,
        /// The device id.
        devid: u32,
    },
    /// [`Registry::replace_domain`] given an attachment of another domain.
    #[error(
        "Replacing {} domain {domid}'s NIC attachments: {owner} belongs to another domain",
        driver.label()
    )]
    WrongDomain {
        /// Whose domain is being replaced.
        driver: Driver,
        /// The domain being replaced.
        domid: u32,
        /// The stray attachment.
        owner: Owner,
    },
    /// [`Registry::replace_domain`] given two attachments with the same device id.
    #[error(
        "Replacing {} domain {domid}'s NIC attachments: device {devid} is given twice",
        driver.label()
    )]
    DuplicateDevice {
        /// Whose domain is being replaced.
        driver: Driver,
        /// The domain being replaced.
        domid: u32,
        /// The device id given twice.
        devid: u32,
    },
    /// An empty path was given for the database.
    #[error("The registry's path is empty")]
    EmptyPath,
    /// The directory for the database could not be created.
    #[error("Cannot create the registry's directory {}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The registry's file cannot be used: unreachable, empty, on a read-only file
    /// system or a full disk, ... (the [`FileProblem`] says what, and how to fix it).
    #[error("Registry {}: {problem}", path.display())]
    Unusable {
        /// The database file.
        path: PathBuf,
        /// What is wrong.
        problem: FileProblem,
    },
    /// A file-system call on the registry's path failed.
    #[error("Registry {}: failed while {op}", path.display())]
    Io {
        /// The database file.
        path: PathBuf,
        /// What the registry was doing.
        op: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A write through a registry opened read-only
    /// ([`SqliteRegistry::open_read_only`]).
    #[error("Registry {}: opened read-only, so it cannot be changed ({op})", path.display())]
    ReadOnly {
        /// The database file.
        path: PathBuf,
        /// The write refused.
        op: &'static str,
    },
    /// SQLite failed.
    #[error("Registry {}: SQLite failed while {op}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What the registry was doing.
        op: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The database stayed locked by other writers past every retry.
    #[error(
        "Registry {}: still locked by other writers after {attempts} attempts while {op}",
        path.display()
    )]
    Busy {
        /// The database file.
        path: PathBuf,
        /// What the registry was doing.
        op: &'static str,
        /// How many times it tried.
        attempts: u32,
        /// SQLite's last error.
        #[source]
        source: rusqlite::Error,
    },
    /// The file is a database with a newer schema than this vifkit knows.
    #[error(
        "Registry {} has schema version {found}, newer than version {supported} that this \
         vifkit knows: upgrade vifkit (it will not downgrade the registry)",
        path.display()
    )]
    FutureSchema {
        /// The database file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// The file is some other program's SQLite database.
    #[error("{} is not a vifkit registry: {reason}", path.display())]
    NotARegistry {
        /// The database file.
        path: PathBuf,
        /// What gave it away.
        reason: String,
    },
    /// The database could not be put in WAL mode (a file system without shared memory,
    /// such as some network file systems).
    #[error(
        "Registry {}: SQLite kept journal mode {mode:?} instead of WAL (put the registry on \
         a local file system)",
        path.display()
    )]
    NoWal {
        /// The database file.
        path: PathBuf,
        /// The journal mode SQLite reported.
        mode: String,
    },
    /// A MAC that a NIC on another host of the fleet already has (a shared registry).
    #[error("MAC {mac} is already used by {owner} on host {host}")]
    MacClashOnHost {
        /// The MAC.
        mac: MacAddr,
        /// Who has it.
        owner: Owner,
        /// The host whose NIC it is.
        host: String,
    },
    /// A shared store (etcd) that gave no answer in time: unreachable, or without a
    /// quorum. Nothing was written by this request, unless the store applies it later.
    #[error(
        "Registry {store}: no answer within {} ms while {op} (are the members reachable, \
         with a quorum?)",
        timeout.as_millis()
    )]
    Unreachable {
        /// The store (its URL).
        store: String,
        /// What the registry was doing.
        op: &'static str,
        /// How long it waited.
        timeout: std::time::Duration,
        /// The store client's last error, if it gave one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A shared store (etcd) refused or failed a request.
    #[error("Registry {store}: failed while {op}")]
    Store {
        /// The store (its URL).
        store: String,
        /// What the registry was doing.
        op: &'static str,
        /// The store client's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A shared store that cannot serve this host as it is (no lease for the host, a
    /// setting it refuses, ...): the message says what and how to fix it.
    #[error("Registry {store}: {problem}")]
    StoreProblem {
        /// The store (its URL).
        store: String,
        /// What is wrong.
        problem: String,
    },
    /// A value in a shared store that does not read back as a valid record (written by
    /// hand, or by something other than vifkit).
    #[error("Registry {store}: the value of key {key} is corrupt: {reason}")]
    BadValue {
        /// The store (its URL).
        store: String,
        /// The key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A stored row that does not read back as a valid record (edited by hand, or
    /// written by something other than vifkit).
    #[error("Registry {}: {table} row {key} is corrupt", path.display())]
    BadRow {
        /// The database file.
        path: PathBuf,
        /// The table.
        table: &'static str,
        /// The row's key.
        key: String,
        /// What is wrong with it.
        #[source]
        source: Box<ModelError>,
    },
}

/// The registry of bridges and NIC attachments.
///
/// Every method is one atomic step: a write either happens whole or not at all, and two
/// processes writing at once both get their writes in. Records are validated
/// (`Bridge::validate`, `Attachment::validate`) before they are written.
pub trait Registry {
    /// Adds a bridge. Fails with [`RegistryError::BridgeExists`] if its name is taken,
    /// [`RegistryError::UplinkInUse`] if another bridge enslaves the same uplink device,
    /// and [`RegistryError::UplinkIsABridge`] if its uplink device is a bridge or its
    /// name another bridge's uplink device.
    fn add_bridge(&self, bridge: &Bridge) -> Result<(), RegistryError>;

    /// Replaces the bridge of the same name, with the checks of
    /// [`add_bridge`](Registry::add_bridge). Fails with [`RegistryError::UnknownBridge`]
    /// if there is none.
    fn update_bridge(&self, bridge: &Bridge) -> Result<(), RegistryError>;

    /// Removes a bridge and returns it. Fails with [`RegistryError::UnknownBridge`] if
    /// there is none and [`RegistryError::BridgeInUse`] while NICs are attached to it.
    fn remove_bridge(&self, name: &IfName) -> Result<Bridge, RegistryError>;

    /// The bridge of that name, if any.
    fn bridge(&self, name: &IfName) -> Result<Option<Bridge>, RegistryError>;

    /// Every bridge, by name.
    fn bridges(&self) -> Result<Vec<Bridge>, RegistryError>;

    /// Marks whether vifkit itself created the bridge on this host (the libvirt hooks
    /// delete such a bridge again when no guest uses it any more). Fails with
    /// [`RegistryError::UnknownBridge`] if there is none.
    fn set_bridge_made(&self, name: &IfName, made: bool) -> Result<(), RegistryError>;

    /// Whether the bridge is marked as created by vifkit
    /// ([`set_bridge_made`](Registry::set_bridge_made)); `false` for a bridge that is not
    /// in the registry.
    fn bridge_made(&self, name: &IfName) -> Result<bool, RegistryError>;

    /// Records that guest `domain` of `driver` is about to use `bridges` (libvirt's
    /// `prepare`, before its NICs can be recorded): until the claim is released, vifkit
    /// does not remove those bridges as unused. Replaces the guest's earlier claims;
    /// bridges that are not in the registry are skipped (vifkit never removes those
    /// anyway). Not a change [`generation`](Registry::generation) counts.
    fn claim_bridges(
        &self,
        driver: Driver,
        domain: &DomainName,
        bridges: &[IfName],
    ) -> Result<(), RegistryError>;

    /// Drops the bridge claims of guest `domain` of `driver`.
    fn release_claims(&self, driver: Driver, domain: &DomainName) -> Result<(), RegistryError>;

    /// The guests that claim `bridge`, by driver then name.
    fn bridge_claims(&self, bridge: &IfName) -> Result<Vec<(Driver, DomainName)>, RegistryError>;

    /// Records a NIC attachment: inserts it, or replaces the one with the same
    /// `(driver, domid, devid)` (recording a domain again never duplicates). Fails with
    /// [`RegistryError::UnknownBridge`] if its bridge is not in the registry,
    /// [`RegistryError::MacClash`] if another NIC has its MAC and
    /// [`RegistryError::NameClash`] if another NIC has one of its device names.
    fn record(&self, attachment: &Attachment) -> Result<Recorded, RegistryError>;

    /// Sets an attachment's state. Fails with [`RegistryError::UnknownAttachment`] if
    /// there is none.
    fn set_state(
        &self,
        driver: Driver,
        domid: u32,
        devid: u32,
        state: AttachmentState,
    ) -> Result<(), RegistryError>;

    /// Removes the attachment of `(driver, domid, devid)` and returns it, if there was
    /// one.
    fn remove_attachment(
        &self,
        driver: Driver,
        domid: u32,
        devid: u32,
    ) -> Result<Option<Attachment>, RegistryError>;

    /// Removes the attachment of `attachment`'s key if it is still exactly `attachment`
    /// (a stale record found by a reader: one its guest rewrote meanwhile is kept).
    /// Whether it was removed.
    fn remove_if_unchanged(&self, attachment: &Attachment) -> Result<bool, RegistryError>;

    /// Removes every attachment of a domain of `driver` and returns them, by device id.
    fn remove_domain(
        &self,
        driver: Driver,
        domain: &DomainKey,
    ) -> Result<Vec<Attachment>, RegistryError>;

    /// Makes `attachments` the whole set of NICs of `driver`'s domain `domid` in one step
    /// (to re-sync after a reconnect): records each as [`record`](Registry::record) does
    /// and removes the domain's other attachments, which it returns. The bridge claims of
    /// the attachments' domains are released in the same step (the records hold the
    /// bridges now). Fails with [`RegistryError::WrongDomain`] if one of `attachments` has
    /// another driver or domain id and [`RegistryError::DuplicateDevice`] if two have the
    /// same device id; on any failure nothing changes.
    fn replace_domain(
        &self,
        driver: Driver,
        domid: u32,
        attachments: &[Attachment],
    ) -> Result<Vec<Attachment>, RegistryError>;

    /// The attachment of `(driver, domid, devid)`, if any.
    fn attachment(
        &self,
        driver: Driver,
        domid: u32,
        devid: u32,
    ) -> Result<Option<Attachment>, RegistryError>;

    /// The attachment whose backend or emulated twin is `device`, if any.
    fn attachment_by_device(&self, device: &IfName) -> Result<Option<Attachment>, RegistryError>;

    /// The attachment with this MAC, if any.
    fn attachment_by_mac(&self, mac: MacAddr) -> Result<Option<Attachment>, RegistryError>;

    /// Every attachment, by driver (Xen first), domain id, then device id.
    fn attachments(&self) -> Result<Vec<Attachment>, RegistryError>;

    /// The attachments of a domain of `driver`, by device id.
    fn domain_attachments(
        &self,
        driver: Driver,
        domain: &DomainKey,
    ) -> Result<Vec<Attachment>, RegistryError>;

    /// The registry's generation: it grows by at least one with every write that
    /// changes something, by any process, and never goes back. A watcher compares it
    /// with the value it last saw.
    fn generation(&self) -> Result<u64, RegistryError>;
}

/// What a watch of a shared registry says ([`ChangeFeed::wait`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Something under the registry's keys changed (or the watch was set up again after
    /// it was lost, so changes may have been missed): read the registry again, whole.
    Changed,
    /// The watch was lost (the message says why); it is being set up again, and a
    /// [`Changed`](Notice::Changed) follows once it is.
    Lost(String),
    /// Nothing happened within the time given.
    Quiet,
}

/// A watch of every key of a shared registry, as a blocking feed of [`Notice`]s: the
/// registry's own watch runs on a thread of its own, and stops when the feed is dropped.
pub trait ChangeFeed: Send {
    /// Waits up to `timeout` for the next notice (none pending: [`Notice::Quiet`]).
    fn wait(&mut self, timeout: std::time::Duration) -> Notice;
}

/// A registry shared by several hosts (etcd), which others change: it can be watched.
pub trait SharedRegistry: Registry + Send + Sync {
    /// The store as messages name it (`etcd://H1:P1,...`).
    fn store_name(&self) -> String;

    /// Starts watching every key of the registry.
    fn watch(&self) -> Result<Box<dyn ChangeFeed>, RegistryError>;
}

impl RegistryError {
    /// Whether the store was locked by another writer (SQLite's `BUSY`/`LOCKED`), so the
    /// same request may succeed later.
    pub fn is_busy(&self) -> bool {
        match self {
            RegistryError::Busy { .. } => true,
            RegistryError::Sqlite { source, .. } => sqlite::is_busy(source),
            _ => false,
        }
    }

    /// Whether a shared store could not be reached or had no quorum: the request may
    /// or may not have been applied.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, RegistryError::Unreachable { .. })
    }

    /// The owner of the MAC a [`MacClash`](RegistryError::MacClash) or
    /// [`MacClashOnHost`](RegistryError::MacClashOnHost) names.
    pub fn mac_owner(&self) -> Option<&Owner> {
        match self {
            RegistryError::MacClash { owner, .. } | RegistryError::MacClashOnHost { owner, .. } => {
                Some(owner)
            }
            _ => None,
        }
    }
}
