//! The object model (v2): `org.freedesktop.DBus.ObjectManager` at `/org/vifkit`, one
//! object per registered bridge (`org.vifkit.Bridge2` at
//! `/org/vifkit/bridges/<escaped name>`) and one per recorded guest NIC
//! (`org.vifkit.Nic2` at `/org/vifkit/nics/<driver>_<domid>_<devid>`).
//!
//! One task owns the model: it adds, changes and removes the objects as the
//! registry watcher's events arrive, so zbus emits `InterfacesAdded` and
//! `InterfacesRemoved`, and the model emits `PropertiesChanged` with the properties that
//! differ. Each object's properties sit behind a lock of their own, shared with the
//! model: a change never waits for the object's method calls, and reading the
//! properties (`GetAll`, `GetManagedObjects`) costs no registry read.
//!
//! A bridge's `Present` and `Ports` come from the host (netlink, two requests per
//! bridge): read when the bridge's entry changes, after `Ensure`, and every
//! [`HOST_TICK`] in case the host changed by itself. A NIC's `Counters` change all the
//! time: they are read when the property is read, from one netlink dump of every device
//! kept for [`COUNTERS_TTL`] (so `GetManagedObjects` over 10,000 NICs dumps once), and
//! emit no `PropertiesChanged`.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use hostnet::netlink::{LinkCounters, Netlink};
use serde::ser::{Serialize, SerializeMap, Serializer};
use zbus::fdo::{ManagedObjects, Properties};
use zbus::message::Header;
use zbus::names::InterfaceName;
use zbus::object_server::SignalEmitter;
use zbus::{interface, Connection, ObjectPath, OwnedObjectPath, Signature, Type, Variant};

use super::cache::PairingIndex;
use super::dicts::{self, Dict};
use super::error::{chain, ServiceError};
use super::store::Store;
use super::watch::Event;
use super::{Shared, OBJECT_PATH};
use registry::{Attachment, Bridge, Driver};
use translator::IfName;

/// Where the bridge objects are.
pub const BRIDGES_PATH: &str = "/org/vifkit/bridges";
/// Where the NIC objects are.
pub const NICS_PATH: &str = "/org/vifkit/nics";
/// The bridge objects' interface.
pub const BRIDGE_INTERFACE: &str = "org.vifkit.Bridge2";
/// The NIC objects' interface.
pub const NIC_INTERFACE: &str = "org.vifkit.Nic2";
/// How often the bridges' `Present` and `Ports` are read from the host again.
pub const HOST_TICK: Duration = Duration::from_secs(2);
/// How long one reading of the host's counters serves `Counters`.
pub const COUNTERS_TTL: Duration = Duration::from_secs(1);

/// `label` as one element of an object path, by sd-bus's `sd_bus_path_encode` rule:
/// every byte that is not an ASCII letter or digit, and a digit in first place, becomes
/// `_` and two lowercase hex digits; the empty label is `_`.
pub fn encode_label(label: &str) -> String {
    if label.is_empty() {
        return "_".into();
    }
    let mut out = String::with_capacity(label.len());
    for (i, b) in label.bytes().enumerate() {
        if b.is_ascii_alphabetic() || (i > 0 && b.is_ascii_digit()) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("_{b:02x}"));
        }
    }
    out
}

fn owned_path(path: String) -> OwnedObjectPath {
    // Every caller builds the path from labels encoded as above: valid by construction.
    OwnedObjectPath::try_from(path).unwrap_or_else(|_| OwnedObjectPath::default())
}

/// The object path of the bridge `name`.
pub fn bridge_path(name: &str) -> OwnedObjectPath {
    owned_path(format!("{BRIDGES_PATH}/{}", encode_label(name)))
}

/// The object path of a NIC.
pub fn nic_path(driver: Driver, domid: u32, devid: u32) -> OwnedObjectPath {
    owned_path(format!("{NICS_PATH}/{}_{domid}_{devid}", driver.as_str()))
}

/// A NIC's key: driver, domain id, device id.
type NicKey = (Driver, u32, u32);

fn key(a: &Attachment) -> NicKey {
    (a.driver, a.domid, a.devid)
}

/// A bridge as the host has it: whether it exists (as a kernel bridge) and its ports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct HostBridge {
    present: bool,
    ports: Vec<String>,
}

/// The host's view of the bridges `names` (one failure leaves that bridge absent).
fn host_bridges(names: &[String]) -> Result<HashMap<String, HostBridge>, ServiceError> {
    let nl = Netlink::new().map_err(|e| ServiceError::Host(chain(&e)))?;
    let mut out = HashMap::new();
    for name in names {
        let Ok(ifname) = IfName::new(name.as_str()) else {
            continue;
        };
        let link = nl
            .link(&ifname)
            .map_err(|e| ServiceError::Host(chain(&e)))?;
        let host = match link {
            Some(l) if l.is_bridge() => {
                let mut ports: Vec<String> = nl
                    .ports_of(&l)
                    .map_err(|e| ServiceError::Host(chain(&e)))?
                    .into_iter()
                    .map(|p| p.name)
                    .collect();
                ports.sort();
                HostBridge {
                    present: true,
                    ports,
                }
            }
            _ => HostBridge::default(),
        };
        out.insert(name.clone(), host);
    }
    Ok(out)
}

/// A property's name and value, for comparing two states of an object.
type PropList = Vec<(&'static str, Variant<'static>)>;

/// The properties of `new` that differ from `old`'s (same names, same order).
fn changed<'a>(old: &'a PropList, new: &'a PropList) -> HashMap<&'static str, Variant<'a>> {
    old.iter()
        .zip(new)
        .filter(|((_, a), (_, b))| a != b)
        .map(|(_, (name, v))| (*name, v.clone()))
        .collect()
}

/// The properties of `org.vifkit.Bridge2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeProps {
    name: String,
    kind: &'static str,
    mtu: u32,
    stp: bool,
    uplink: String,
    vlan: u16,
    creatable: bool,
    present: bool,
    ports: Vec<String>,
}

impl BridgeProps {
    fn new(b: &Bridge, host: HostBridge) -> BridgeProps {
        BridgeProps {
            name: b.name.to_string(),
            kind: dicts::kind_name(b.kind),
            mtu: b.mtu.map_or(0, |m| m.get()),
            stp: b.stp,
            uplink: b
                .uplink
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            vlan: b.vlan.map_or(0, |v| v.get()),
            creatable: b.creatable,
            present: host.present,
            ports: host.ports,
        }
    }

    fn list(&self) -> PropList {
        vec![
            ("Name", Variant::from(self.name.clone())),
            ("Kind", Variant::from(self.kind)),
            ("Mtu", Variant::from(self.mtu)),
            ("Stp", Variant::from(self.stp)),
            ("Uplink", Variant::from(self.uplink.clone())),
            ("Vlan", Variant::from(self.vlan)),
            ("Creatable", Variant::from(self.creatable)),
            ("Present", Variant::from(self.present)),
            ("Ports", Variant::from(self.ports.clone())),
        ]
    }
}

/// The properties of `org.vifkit.Nic2`, but `Counters`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NicProps {
    driver: &'static str,
    guest: String,
    uuid: String,
    domain_id: u32,
    device: u32,
    mac: String,
    backend: String,
    model: String,
    emulated: String,
    bridge: String,
    bridge_object: OwnedObjectPath,
    vlan: u16,
    state: &'static str,
}

impl NicProps {
    fn new(a: &Attachment, bridge_registered: bool) -> NicProps {
        NicProps {
            driver: a.driver.as_str(),
            guest: a.domain_name.to_string(),
            uuid: a
                .domain_uuid
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            domain_id: a.domid,
            device: a.devid,
            mac: a.mac.to_string(),
            backend: a.backend.to_string(),
            model: a
                .model
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            emulated: a
                .emulated
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            bridge: a.bridge.to_string(),
            bridge_object: bridge_object(a.bridge.as_str(), bridge_registered),
            vlan: a.vlan.as_ref().map_or(0, |v| v.pvid()),
            state: a.state.as_str(),
        }
    }

    fn list(&self) -> PropList {
        vec![
            ("Driver", Variant::from(self.driver)),
            ("Guest", Variant::from(self.guest.clone())),
            ("Uuid", Variant::from(self.uuid.clone())),
            ("DomainId", Variant::from(self.domain_id)),
            ("Device", Variant::from(self.device)),
            ("Mac", Variant::from(self.mac.clone())),
            ("Backend", Variant::from(self.backend.clone())),
            ("Model", Variant::from(self.model.clone())),
            ("Emulated", Variant::from(self.emulated.clone())),
            ("Bridge", Variant::from(self.bridge.clone())),
            (
                "BridgeObject",
                Variant::from(ObjectPath::from(self.bridge_object.clone())),
            ),
            ("Vlan", Variant::from(self.vlan)),
            ("State", Variant::from(self.state)),
        ]
    }
}

fn bridge_object(name: &str, registered: bool) -> OwnedObjectPath {
    if registered {
        bridge_path(name)
    } else {
        owned_path("/".into())
    }
}

/// Properties shared between an object and the model.
type Shared2<P> = Arc<RwLock<P>>;

fn read<P>(p: &RwLock<P>) -> RwLockReadGuard<'_, P> {
    p.read().unwrap_or_else(|e| e.into_inner())
}

fn write<P>(p: &RwLock<P>, new: P) {
    *p.write().unwrap_or_else(|e| e.into_inner()) = new;
}

/// Every device's counters, by name.
type Counters = Arc<HashMap<String, LinkCounters>>;

/// The host's traffic counters of every device, read at most once per
/// [`COUNTERS_TTL`], whoever asks.
#[derive(Debug)]
pub struct HostCounters {
    store: Arc<Store>,
    last: tokio::sync::Mutex<Option<(Instant, Counters)>>,
}

impl HostCounters {
    fn new(store: Arc<Store>) -> HostCounters {
        HostCounters {
            store,
            last: tokio::sync::Mutex::new(None),
        }
    }

    /// Every device's counters, by name: empty when netlink cannot be read (said on
    /// stderr), as a property read must not fail `GetManagedObjects`.
    async fn get(&self) -> Counters {
        let mut last = self.last.lock().await;
        if let Some((at, c)) = last.as_ref() {
            if at.elapsed() < COUNTERS_TTL {
                return Arc::clone(c);
            }
        }
        let read = self
            .store
            .work(|| {
                let nl = Netlink::new().map_err(|e| ServiceError::Host(chain(&e)))?;
                let links = nl
                    .links_with_counters()
                    .map_err(|e| ServiceError::Host(chain(&e)))?;
                Ok(links
                    .into_iter()
                    .filter_map(|l| Some((l.name, l.counters?)))
                    .collect::<HashMap<_, _>>())
            })
            .await;
        let c = Arc::new(read.unwrap_or_else(|e| {
            super::warn(&format!("Reading the NICs' counters: {}", e.message()));
            HashMap::new()
        }));
        *last = Some((Instant::now(), Arc::clone(&c)));
        c
    }
}

/// `org.vifkit.Bridge2`: one registered bridge.
#[derive(Debug)]
pub struct BridgeObject {
    shared: Arc<Shared>,
    name: IfName,
    props: Shared2<BridgeProps>,
}

#[interface(name = "org.vifkit.Bridge2", introspection_docs = false)]
impl BridgeObject {
    /// Changes the registered bridge: the options of `Bridges1.Register` (`kind` s,
    /// `uplink` s, `vlan` q, `mtu` u, `stp` b, `creatable` b), those not given left as
    /// they are; `uplink` "", `vlan` 0 and `mtu` 0 unset the setting. The host is not
    /// touched (see `Bridges1.Ensure`). Root or polkit action `org.vifkit.manage` only.
    async fn set(
        &self,
        options: Dict,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<(), ServiceError> {
        self.shared
            .access
            .check_manage(conn, &hdr, "Changing a bridge")
            .await?;
        let name = self.name.clone();
        self.shared
            .store
            .write(move |reg| {
                let old = reg.bridge(&name)?.ok_or_else(|| {
                    ServiceError::NotFound(format!("Bridge {name} is not in the registry"))
                })?;
                let new = dicts::set_options(&old, &options)?;
                if new != old {
                    reg.update_bridge(&new)?;
                }
                Ok(())
            })
            .await
    }

    /// Removes the bridge from the registry (refused while NICs are attached to it; the
    /// host's bridge is left alone). Root or polkit action `org.vifkit.manage` only.
    async fn unregister(
        &self,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<(), ServiceError> {
        self.shared
            .access
            .check_manage(conn, &hdr, "Unregistering a bridge")
            .await?;
        let name = self.name.clone();
        self.shared
            .store
            .write(move |reg| Ok(reg.remove_bridge(&name).map(|_| ())?))
            .await
    }

    /// The bridge's name.
    #[zbus(property)]
    fn name(&self) -> String {
        read(&self.props).name.clone()
    }

    /// `linux` or `openvswitch`.
    #[zbus(property)]
    fn kind(&self) -> String {
        read(&self.props).kind.to_owned()
    }

    /// The MTU vifkit sets (0: not set).
    #[zbus(property)]
    fn mtu(&self) -> u32 {
        read(&self.props).mtu
    }

    /// Spanning tree on.
    #[zbus(property)]
    fn stp(&self) -> bool {
        read(&self.props).stp
    }

    /// The uplink device ("": none).
    #[zbus(property)]
    fn uplink(&self) -> String {
        read(&self.props).uplink.clone()
    }

    /// The VLAN on the uplink (0: none).
    #[zbus(property)]
    fn vlan(&self) -> u16 {
        read(&self.props).vlan
    }

    /// Whether vifkit may create the bridge when it is missing.
    #[zbus(property)]
    fn creatable(&self) -> bool {
        read(&self.props).creatable
    }

    /// Whether the host has the bridge now (a kernel bridge of that name).
    #[zbus(property)]
    fn present(&self) -> bool {
        read(&self.props).present
    }

    /// The bridge's ports on the host, sorted.
    #[zbus(property)]
    fn ports(&self) -> Vec<String> {
        read(&self.props).ports.clone()
    }
}

/// `org.vifkit.Nic2`: one recorded guest NIC.
#[derive(Debug)]
pub struct NicObject {
    props: Shared2<NicProps>,
    counters: Arc<HostCounters>,
}

#[interface(name = "org.vifkit.Nic2", introspection_docs = false)]
impl NicObject {
    /// `xen` or `qemu`.
    #[zbus(property)]
    fn driver(&self) -> String {
        read(&self.props).driver.to_owned()
    }

    /// The guest's (domain's) name.
    #[zbus(property)]
    fn guest(&self) -> String {
        read(&self.props).guest.clone()
    }

    /// The guest's UUID ("": unknown).
    #[zbus(property)]
    fn uuid(&self) -> String {
        read(&self.props).uuid.clone()
    }

    /// The domain id (Xen's, or libvirt's for a QEMU guest).
    #[zbus(property)]
    fn domain_id(&self) -> u32 {
        read(&self.props).domain_id
    }

    /// The NIC's device id.
    #[zbus(property)]
    fn device(&self) -> u32 {
        read(&self.props).device
    }

    /// The NIC's MAC.
    #[zbus(property)]
    fn mac(&self) -> String {
        read(&self.props).mac.clone()
    }

    /// The PV backend (vif) or the QEMU guest's tap.
    #[zbus(property)]
    fn backend(&self) -> String {
        read(&self.props).backend.clone()
    }

    /// The NIC's model ("": a PV vif, or unknown).
    #[zbus(property)]
    fn model(&self) -> String {
        read(&self.props).model.clone()
    }

    /// The emulated twin of a Xen `ioemu` NIC ("": none).
    #[zbus(property)]
    fn emulated(&self) -> String {
        read(&self.props).emulated.clone()
    }

    /// The bridge the NIC is plugged into.
    #[zbus(property)]
    fn bridge(&self) -> String {
        read(&self.props).bridge.clone()
    }

    /// The bridge's object ("/": the bridge is not registered).
    #[zbus(property)]
    fn bridge_object(&self) -> OwnedObjectPath {
        read(&self.props).bridge_object.clone()
    }

    /// The port VLAN id (the PVID of `vlan=`; 0: none).
    #[zbus(property)]
    fn vlan(&self) -> u16 {
        read(&self.props).vlan
    }

    /// `prepared`, `active` or `stopped`.
    #[zbus(property)]
    fn state(&self) -> String {
        read(&self.props).state.to_owned()
    }

    /// The NIC's traffic as the host counts it (its backend's and emulated twin's
    /// together): `rx_bytes`, `tx_bytes`, `rx_packets`, `tx_packets`, `rx_dropped`,
    /// `tx_dropped`, `rx_errors`, `tx_errors`; `rx` is what the guest sent. Empty when
    /// neither device is on the host. Read when read (at most once a second for all
    /// NICs); it emits no `PropertiesChanged`: poll it.
    #[zbus(property(emits_changed_signal = "false"))]
    async fn counters(&self) -> HashMap<String, u64> {
        let (backend, emulated) = {
            let p = read(&self.props);
            (p.backend.clone(), p.emulated.clone())
        };
        let all = self.counters.get().await;
        nic_counters(&all, &backend, &emulated)
    }
}

/// A NIC's counters: its backend's and emulated twin's together, empty when neither is
/// on the host.
fn nic_counters(
    all: &HashMap<String, LinkCounters>,
    backend: &str,
    emulated: &str,
) -> HashMap<String, u64> {
    let mut sum: Option<LinkCounters> = None;
    for dev in [backend, emulated] {
        if dev.is_empty() {
            continue;
        }
        if let Some(c) = all.get(dev) {
            let s = sum.get_or_insert_with(LinkCounters::default);
            s.rx_bytes = s.rx_bytes.saturating_add(c.rx_bytes);
            s.tx_bytes = s.tx_bytes.saturating_add(c.tx_bytes);
            s.rx_packets = s.rx_packets.saturating_add(c.rx_packets);
            s.tx_packets = s.tx_packets.saturating_add(c.tx_packets);
            s.rx_dropped = s.rx_dropped.saturating_add(c.rx_dropped);
            s.tx_dropped = s.tx_dropped.saturating_add(c.tx_dropped);
            s.rx_errors = s.rx_errors.saturating_add(c.rx_errors);
            s.tx_errors = s.tx_errors.saturating_add(c.tx_errors);
        }
    }
    let Some(c) = sum else {
        return HashMap::new();
    };
    HashMap::from([
        ("rx_bytes".to_owned(), c.rx_bytes),
        ("tx_bytes".to_owned(), c.tx_bytes),
        ("rx_packets".to_owned(), c.rx_packets),
        ("tx_packets".to_owned(), c.tx_packets),
        ("rx_dropped".to_owned(), c.rx_dropped),
        ("tx_dropped".to_owned(), c.tx_dropped),
        ("rx_errors".to_owned(), c.rx_errors),
        ("tx_errors".to_owned(), c.tx_errors),
    ])
}

/// The objects as `GetManagedObjects` lists them: each with its path and properties.
#[derive(Debug, Default)]
pub(crate) struct Index {
    bridges: BTreeMap<String, (OwnedObjectPath, Shared2<BridgeProps>)>,
    nics: BTreeMap<NicKey, (OwnedObjectPath, Shared2<NicProps>)>,
}

/// `org.freedesktop.DBus.ObjectManager` at `/org/vifkit`. zbus's own
/// (`zbus::fdo::ObjectManager`) asks every object for `GetAll` through the object
/// server and builds nested maps of owned values before it writes the reply: 160 ms of
/// CPU for 10,000 NICs. This one writes the reply straight from the objects'
/// properties. zbus still sends `InterfacesAdded` and `InterfacesRemoved` for it, as it
/// does for any interface of this name above an object that comes or goes.
#[derive(Debug)]
pub struct Manager {
    index: Arc<RwLock<Index>>,
    counters: Arc<HostCounters>,
}

#[interface(
    name = "org.freedesktop.DBus.ObjectManager",
    introspection_docs = false
)]
impl Manager {
    /// Every bridge and NIC object with its interface's properties.
    ///
    /// (The unused header makes zbus check the call's arguments.)
    async fn get_managed_objects(&self, #[zbus(header)] _args_checked: Header<'_>) -> Reply {
        let counters = self.counters.get().await;
        let idx = read(&self.index);
        Reply {
            bridges: idx.bridges.values().cloned().collect(),
            nics: idx.nics.values().cloned().collect(),
            counters,
        }
    }

    /// An object (or an interface of one) appeared (sent by zbus).
    #[zbus(signal)]
    async fn interfaces_added(
        emitter: &SignalEmitter<'_>,
        object_path: ObjectPath<'_>,
        interfaces_and_properties: HashMap<&str, HashMap<&str, Variant<'_>>>,
    ) -> zbus::Result<()>;

    /// An object (or an interface of one) went away (sent by zbus).
    #[zbus(signal)]
    async fn interfaces_removed(
        emitter: &SignalEmitter<'_>,
        object_path: ObjectPath<'_>,
        interfaces: Cow<'_, [&str]>,
    ) -> zbus::Result<()>;
}

/// `GetManagedObjects`' reply, written when zbus serializes it.
#[derive(Debug)]
pub struct Reply {
    bridges: Vec<(OwnedObjectPath, Shared2<BridgeProps>)>,
    nics: Vec<(OwnedObjectPath, Shared2<NicProps>)>,
    counters: Counters,
}

impl Type for Reply {
    const SIGNATURE: &'static Signature = <ManagedObjects as Type>::SIGNATURE;
}

/// One interface's properties, as `{name: {property: value}}`.
struct OneInterface<'a>(&'a str, &'a [(&'static str, Variant<'a>)]);

impl Serialize for OneInterface<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(1))?;
        m.serialize_entry(self.0, &PropDict(self.1))?;
        m.end()
    }
}

struct PropDict<'a>(&'a [(&'static str, Variant<'a>)]);

impl Serialize for PropDict<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl Serialize for Reply {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.bridges.len() + self.nics.len()))?;
        for (path, props) in &self.bridges {
            let list = read(props).list();
            m.serialize_entry(path, &OneInterface(BRIDGE_INTERFACE, &list))?;
        }
        for (path, props) in &self.nics {
            let p = read(props);
            let counters = nic_counters(&self.counters, &p.backend, &p.emulated);
            // Borrowed from the properties: no copy of their strings.
            let list = [
                ("Driver", Variant::from(p.driver)),
                ("Guest", Variant::from(p.guest.as_str())),
                ("Uuid", Variant::from(p.uuid.as_str())),
                ("DomainId", Variant::from(p.domain_id)),
                ("Device", Variant::from(p.device)),
                ("Mac", Variant::from(p.mac.as_str())),
                ("Backend", Variant::from(p.backend.as_str())),
                ("Model", Variant::from(p.model.as_str())),
                ("Emulated", Variant::from(p.emulated.as_str())),
                ("Bridge", Variant::from(p.bridge.as_str())),
                ("BridgeObject", Variant::from(p.bridge_object.as_ref())),
                ("Vlan", Variant::from(p.vlan)),
                ("State", Variant::from(p.state)),
                ("Counters", Variant::from(counters)),
            ];
            m.serialize_entry(path, &OneInterface(NIC_INTERFACE, &list))?;
        }
        m.end()
    }
}

/// The objects under `/org/vifkit`, kept by one task (see the module's doc).
pub(crate) struct Model {
    conn: Connection,
    shared: Arc<Shared>,
    counters: Arc<HostCounters>,
    bridges: BTreeMap<String, Shared2<BridgeProps>>,
    nics: HashMap<NicKey, Shared2<NicProps>>,
    /// The NICs of each bridge (by its name), for `BridgeObject`.
    by_bridge: HashMap<String, BTreeSet<NicKey>>,
    /// What `GetManagedObjects` lists (shared with the [`Manager`]).
    index: Arc<RwLock<Index>>,
}

impl Model {
    /// Serves the ObjectManager at [`OBJECT_PATH`] and an object for each bridge in the
    /// registry and each NIC of `nics`.
    pub(crate) async fn start(
        conn: &Connection,
        shared: &Arc<Shared>,
        nics: &PairingIndex,
    ) -> Result<Model, ServiceError> {
        let mut model = Model {
            conn: conn.clone(),
            shared: Arc::clone(shared),
            counters: Arc::new(HostCounters::new(Arc::clone(&shared.store))),
            bridges: BTreeMap::new(),
            nics: HashMap::new(),
            by_bridge: HashMap::new(),
            index: Arc::default(),
        };
        let manager = Manager {
            index: Arc::clone(&model.index),
            counters: Arc::clone(&model.counters),
        };
        conn.object_server()
            .at(OBJECT_PATH, manager)
            .await
            .map_err(|e| ServiceError::Failed(format!("Cannot serve the ObjectManager: {e}")))?;
        let bridges = shared
            .store
            .read(|reg| {
                let bridges = reg.bridges()?;
                let names: Vec<String> = bridges.iter().map(|b| b.name.to_string()).collect();
                let host = host_bridges(&names).unwrap_or_default();
                Ok((bridges, host))
            })
            .await?;
        let (bridges, mut host) = bridges;
        for b in bridges {
            let h = host.remove(b.name.as_str()).unwrap_or_default();
            model.add_bridge(&b, h).await;
        }
        for a in nics.all() {
            model.add_nic(a).await;
        }
        Ok(model)
    }

    async fn add_bridge(&mut self, b: &Bridge, host: HostBridge) {
        let name = b.name.to_string();
        let props = Arc::new(RwLock::new(BridgeProps::new(b, host)));
        let obj = BridgeObject {
            shared: Arc::clone(&self.shared),
            name: b.name.clone(),
            props: Arc::clone(&props),
        };
        let path = bridge_path(&name);
        if let Err(e) = self.conn.object_server().at(&path, obj).await {
            super::warn(&format!("Cannot serve {path}: {e}"));
            return;
        }
        self.bridges.insert(name.clone(), Arc::clone(&props));
        self.index_mut().bridges.insert(name.clone(), (path, props));
        // Its NICs now have a bridge object.
        self.set_bridge_object(&name, true).await;
    }

    fn index_mut(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }

    async fn remove_bridge(&mut self, name: &str) {
        if self.bridges.remove(name).is_none() {
            return;
        }
        self.index_mut().bridges.remove(name);
        let path = bridge_path(name);
        if let Err(e) = self
            .conn
            .object_server()
            .remove::<BridgeObject, _>(&path)
            .await
        {
            super::warn(&format!("Cannot remove {path}: {e}"));
        }
        self.set_bridge_object(name, false).await;
    }

    /// Changes `BridgeObject` of the NICs on bridge `name`.
    async fn set_bridge_object(&self, name: &str, registered: bool) {
        let Some(keys) = self.by_bridge.get(name) else {
            return;
        };
        for k in keys {
            if let Some(props) = self.nics.get(k) {
                let mut new = read(props).clone();
                new.bridge_object = bridge_object(name, registered);
                self.update(props, new, &nic_path(k.0, k.1, k.2), NIC_INTERFACE)
                    .await;
            }
        }
    }

    async fn add_nic(&mut self, a: &Attachment) {
        let k = key(a);
        let registered = self.bridges.contains_key(a.bridge.as_str());
        let props = Arc::new(RwLock::new(NicProps::new(a, registered)));
        let obj = NicObject {
            props: Arc::clone(&props),
            counters: Arc::clone(&self.counters),
        };
        let path = nic_path(k.0, k.1, k.2);
        if let Err(e) = self.conn.object_server().at(&path, obj).await {
            super::warn(&format!("Cannot serve {path}: {e}"));
            return;
        }
        self.nics.insert(k, Arc::clone(&props));
        self.index_mut().nics.insert(k, (path, props));
        self.by_bridge
            .entry(a.bridge.to_string())
            .or_default()
            .insert(k);
    }

    async fn remove_nic(&mut self, k: NicKey) {
        let Some(props) = self.nics.remove(&k) else {
            return;
        };
        self.index_mut().nics.remove(&k);
        let bridge = read(&props).bridge.clone();
        self.unindex(&bridge, k);
        let path = nic_path(k.0, k.1, k.2);
        if let Err(e) = self
            .conn
            .object_server()
            .remove::<NicObject, _>(&path)
            .await
        {
            super::warn(&format!("Cannot remove {path}: {e}"));
        }
    }

    fn unindex(&mut self, bridge: &str, k: NicKey) {
        if let Some(set) = self.by_bridge.get_mut(bridge) {
            set.remove(&k);
            if set.is_empty() {
                self.by_bridge.remove(bridge);
            }
        }
    }

    async fn change_nic(&mut self, a: &Attachment) {
        let k = key(a);
        let Some(props) = self.nics.get(&k).cloned() else {
            return self.add_nic(a).await;
        };
        let old_bridge = read(&props).bridge.clone();
        if old_bridge != a.bridge.as_str() {
            self.unindex(&old_bridge, k);
            self.by_bridge
                .entry(a.bridge.to_string())
                .or_default()
                .insert(k);
        }
        let registered = self.bridges.contains_key(a.bridge.as_str());
        let new = NicProps::new(a, registered);
        self.update(&props, new, &nic_path(k.0, k.1, k.2), NIC_INTERFACE)
            .await;
    }

    /// Installs `new` and emits `PropertiesChanged` with what differs.
    async fn update<P: Props>(
        &self,
        props: &RwLock<P>,
        new: P,
        path: &OwnedObjectPath,
        iface: &'static str,
    ) {
        let old = read(props).list();
        let now = new.list();
        write(props, new);
        let diff = changed(&old, &now);
        if diff.is_empty() {
            return;
        }
        let sent = async {
            let emitter = SignalEmitter::new(&self.conn, path.as_ref())?;
            Properties::properties_changed(
                &emitter,
                InterfaceName::from_static_str_unchecked(iface),
                diff,
                Cow::Borrowed(&[]),
            )
            .await
        };
        if let Err(e) = sent.await {
            super::warn(&format!("Cannot send PropertiesChanged for {path}: {e}"));
        }
    }

    /// Applies one batch of registry events.
    pub(crate) async fn apply(&mut self, events: &[Event]) {
        let mut bridges = BTreeSet::new();
        let mut removed = BTreeSet::new();
        let mut added: BTreeMap<NicKey, &Attachment> = BTreeMap::new();
        for e in events {
            match e {
                Event::BridgeAdded(n) | Event::BridgeRemoved(n) | Event::BridgeChanged(n) => {
                    bridges.insert(n.clone());
                }
                Event::PairingRemoved(a) => {
                    removed.insert(key(a));
                    added.remove(&key(a));
                }
                Event::PairingAdded(a) => {
                    added.insert(key(a), a);
                }
            }
        }
        for k in &removed {
            if !added.contains_key(k) {
                self.remove_nic(*k).await;
            }
        }
        if !bridges.is_empty() {
            self.sync_bridges(bridges.into_iter().collect()).await;
        }
        for a in added.values() {
            self.change_nic(a).await;
        }
    }

    /// Makes the objects of the bridges `names` match the registry and the host.
    async fn sync_bridges(&mut self, names: Vec<String>) {
        let asked = names.clone();
        let read = self
            .shared
            .store
            .read(move |reg| {
                let mut now = Vec::new();
                for n in &asked {
                    let b = match IfName::new(n.as_str()) {
                        Ok(name) => reg.bridge(&name)?,
                        Err(_) => None,
                    };
                    now.push((n.clone(), b));
                }
                let present: Vec<String> = now
                    .iter()
                    .filter(|(_, b)| b.is_some())
                    .map(|(n, _)| n.clone())
                    .collect();
                let host = host_bridges(&present).unwrap_or_default();
                Ok((now, host))
            })
            .await;
        let (now, mut host) = match read {
            Ok(r) => r,
            Err(e) => {
                super::warn(&format!("Reading the bridges: {}", e.message()));
                return;
            }
        };
        for (name, b) in now {
            let h = host.remove(&name).unwrap_or_default();
            match (self.bridges.get(&name).cloned(), b) {
                (None, Some(b)) => self.add_bridge(&b, h).await,
                (Some(_), None) => self.remove_bridge(&name).await,
                (Some(props), Some(b)) => {
                    let new = BridgeProps::new(&b, h);
                    self.update(&props, new, &bridge_path(&name), BRIDGE_INTERFACE)
                        .await;
                }
                (None, None) => {}
            }
        }
    }

    /// Reads every bridge's `Present` and `Ports` from the host again.
    pub(crate) async fn refresh_host(&mut self) {
        if self.bridges.is_empty() {
            return;
        }
        let names: Vec<String> = self.bridges.keys().cloned().collect();
        let host = match self.shared.store.work(move || host_bridges(&names)).await {
            Ok(h) => h,
            Err(e) => {
                super::warn(&format!("Reading the bridges on the host: {}", e.message()));
                return;
            }
        };
        for (name, props) in &self.bridges {
            let Some(h) = host.get(name) else { continue };
            let mut new = read(props).clone();
            if new.present == h.present && new.ports == h.ports {
                continue;
            }
            new.present = h.present;
            new.ports.clone_from(&h.ports);
            self.update(props, new, &bridge_path(name), BRIDGE_INTERFACE)
                .await;
        }
    }
}

/// What [`Model::update`] compares.
trait Props {
    fn list(&self) -> PropList;
}

impl Props for BridgeProps {
    fn list(&self) -> PropList {
        BridgeProps::list(self)
    }
}

impl Props for NicProps {
    fn list(&self) -> PropList {
        NicProps::list(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_encoded_as_sd_bus_does() {
        assert_eq!(encode_label("xenbr0"), "xenbr0");
        assert_eq!(encode_label("br-net"), "br_2dnet");
        assert_eq!(encode_label("br.10"), "br_2e10");
        assert_eq!(encode_label("0br"), "_30br");
        assert_eq!(encode_label("a_b"), "a_5fb");
        assert_eq!(encode_label(""), "_");
        assert_eq!(
            bridge_path("br-net").as_str(),
            "/org/vifkit/bridges/br_2dnet"
        );
        assert_eq!(
            nic_path(Driver::Qemu, 3, 1).as_str(),
            "/org/vifkit/nics/qemu_3_1"
        );
    }
}
