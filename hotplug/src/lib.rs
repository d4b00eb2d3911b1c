//! The xl vif hotplug script: what Xen's `vif-bridge`, `vif-openvswitch`, `vif-route`
//! and `vif-nat` do, over netlink, in one process, with a clear error when a bridge is
//! missing.
//!
//! xl runs the script with `online|offline type_if=vif` for a PV backend `vifD.N`, and
//! with `add|remove type_if=tap` for the emulated twin `vifD.N-emu` of an `ioemu` NIC,
//! in an environment holding `vif` (the device), `XENBUS_PATH`
//! (`backend/vif/<domid>/<devid>`) and, for the twin, `INTERFACE`. The NIC's settings
//! (`bridge`, `mtu`, `vlan`, `script`, ...) are read from xenstore under `XENBUS_PATH`;
//! success is reported as `hotplug-status` = `connected`, failure as `error` with the
//! message in `hotplug-error`, as Xen's scripts do.
//!
//! The mode is the file name of the NIC's `script` key (`vif-bridge` when unset):
//! - bridge (`vif-bridge`): the bridge must exist, or be registered as creatable (then
//!   it is created from its registry entry); the port gets its MTU (the `mtu` key, else
//!   the bridge's), joins the bridge, comes up, and gets the VLANs of the `vlan` key
//!   (Xen 4.19);
//! - Open vSwitch (`vif-openvswitch`): the port with Xen's tag, trunks and
//!   external-ids, in one OVSDB transaction;
//! - routed (`vif-route`): dom0's address from the gateway device on the vif as a /32,
//!   `proxy_arp`, a route per guest address;
//! - NAT (`vif-nat`): in [`nat`].
//!
//! Beyond wiring, as Xen's `vif-common.sh` does: the `vifname` rename, Xen's MAC for the
//! emulated twin, the `ip=` anti-spoofing guard of a bridged vif
//! ([`hostnet::guard`]), and the administrator's `vif-post.d` hooks ([`hooks`]) after
//! each action.
//!
//! A failure part-way undoes what was done. A bridged NIC on a bridge the registry
//! knows is also recorded there (which dom0 device is which guest NIC, for
//! `vifkit show` and the D-Bus pairings): before it is wired, so that a clash refuses
//! it with nothing done, and dropped again when it goes offline (the `record` module).

mod guest_ip;
pub mod hooks;
pub mod nat;
mod record;
pub mod xenstore;

pub use record::xen_running;

use std::net::IpAddr;
use std::path::Path;

use translator::interface::IpElem;
use translator::vif::parse_ips;
use translator::vlan::VlanSpec;
use translator::IfName;

use hostnet::guard::Guard;
use hostnet::nat::{Nft, NftError};
use hostnet::netlink::{set_proxy_arp, Change, LinkState, Netlink, NetlinkError, PortVlans};
use hostnet::ovs::{Ovs, OvsError, PortConfig};
use hostnet::plumbing::{ensure_registered_bridge, EnsureError};
use registry::{BridgeKind, Registry, RegistryError};
use xenstore::{XenStore, XenStoreError};

/// Xen's default bridge.
pub const DEFAULT_BRIDGE: &str = "xenbr0";

/// What xl asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `online` (PV backend) or `add` (emulated twin): wire the device.
    Up,
    /// `offline` or `remove`: unwire it.
    Down,
}

/// `type_if=`: the PV backend or the emulated twin's tap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfType {
    /// `type_if=vif`.
    Vif,
    /// `type_if=tap`.
    Tap,
}

/// Why the hotplug script failed.
#[derive(Debug, thiserror::Error)]
pub enum HotplugError {
    /// Bad arguments or environment.
    #[error("Invalid hotplug request: {0}")]
    Usage(String),
    /// A device or bridge name that is not a valid interface name.
    #[error("Invalid {what} `{value}`")]
    Name {
        /// Which name.
        what: &'static str,
        /// The value.
        value: String,
        /// Why.
        #[source]
        source: translator::ifname::IfNameError,
    },
    /// A xenstore setting that does not parse.
    #[error("Invalid {key} `{value}` in xenstore")]
    Setting {
        /// The key.
        key: &'static str,
        /// The value.
        value: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The bridge does not exist and may not be created.
    #[error("Bridge {bridge} does not exist{hint}")]
    NoBridge {
        /// The bridge.
        bridge: IfName,
        /// What would make it work.
        hint: &'static str,
    },
    /// A routed or NAT guest address that would take over the host's addresses or
    /// routes.
    #[error("{device}: guest address {address} refused: {why}")]
    GuestAddress {
        /// The vif.
        device: IfName,
        /// The address from `ip=` (or NAT's default).
        address: IpAddr,
        /// Why.
        why: String,
    },
    /// The gateway device of a routed vif has no IPv4 address to lend it.
    #[error("Gateway device {0} has no IPv4 address for the routed vif")]
    NoGatewayAddress(IfName),
    /// A script mode vifkit does not do yet.
    #[error(
        "Script {0} is not one vifkit's hotplug runs (it runs vif-vifkit, vif-vifkit-route, \
         vif-vifkit-nat, and Xen's vif-bridge, vif-openvswitch, vif-route, vif-route-ifup \
         and vif-nat)"
    )]
    Unsupported(String),
    /// The NAT mode failed.
    #[error(transparent)]
    Nat(#[from] nat::NatError),
    /// The `ip=` anti-spoofing rules of a bridged vif could not be set or removed.
    #[error("Cannot apply the ip= anti-spoofing rules")]
    Guard(#[source] NftError),
    /// An administrator's `vif-post.d` hook failed.
    #[error(transparent)]
    Hook(#[from] hooks::HookError),
    /// xenstore failed.
    #[error(transparent)]
    XenStore(#[from] XenStoreError),
    /// A netlink operation failed.
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
    /// Making a registered bridge failed.
    #[error(transparent)]
    Ensure(Box<EnsureError>),
    /// Open vSwitch failed.
    #[error(transparent)]
    Ovs(#[from] OvsError),
    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

impl From<EnsureError> for HotplugError {
    fn from(e: EnsureError) -> HotplugError {
        HotplugError::Ensure(Box::new(e))
    }
}

/// One run of the hotplug script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Wire or unwire.
    pub action: Action,
    /// PV backend or tap.
    pub if_type: IfType,
    /// The device to wire (`vifD.N`, `vifD.N-emu`, or its `vifname`).
    pub device: IfName,
    /// `backend/vif/<domid>/<devid>`.
    pub xenbus_path: String,
    /// `netdev` (xl passes the vif's `gatewaydev` so): the dom0 device whose address a
    /// routed vif borrows; Xen's default is `eth0`.
    pub gateway_dev: Option<IfName>,
}

fn name(what: &'static str, value: &str) -> Result<IfName, HotplugError> {
    IfName::new(value).map_err(|source| HotplugError::Name {
        what,
        value: value.to_owned(),
        source,
    })
}

impl Request {
    /// Reads a request from the script's arguments (`online type_if=vif`) and
    /// environment (`env("vif")`, `env("XENBUS_PATH")`, `env("INTERFACE")`).
    pub fn from_env(
        args: &[String],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Request, HotplugError> {
        let usage = |m: String| HotplugError::Usage(m);
        let (action, default_type) = match args.first().map(String::as_str) {
            Some("online") => (Action::Up, IfType::Vif),
            Some("offline") => (Action::Down, IfType::Vif),
            Some("add") => (Action::Up, IfType::Tap),
            Some("remove") => (Action::Down, IfType::Tap),
            other => {
                return Err(usage(format!(
                    "expected online, offline, add or remove, got {other:?}"
                )))
            }
        };
        let if_type = match args.get(1).map(String::as_str) {
            None => default_type,
            Some("type_if=vif") => IfType::Vif,
            Some("type_if=tap") => IfType::Tap,
            Some(other) => return Err(usage(format!("expected type_if=vif|tap, got `{other}`"))),
        };
        let xenbus_path =
            env("XENBUS_PATH").ok_or_else(|| usage("XENBUS_PATH is not set".into()))?;
        let parts: Vec<&str> = xenbus_path.split('/').collect();
        let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if parts.len() != 4
            || parts[0] != "backend"
            || parts[1] != "vif"
            || !numeric(parts[2])
            || !numeric(parts[3])
        {
            return Err(usage(format!(
                "XENBUS_PATH `{xenbus_path}` is not backend/vif/<domid>/<devid>"
            )));
        }
        let device = match if_type {
            IfType::Tap => env("INTERFACE").or_else(|| env("vif")),
            IfType::Vif => env("vif"),
        }
        .ok_or_else(|| usage("neither vif nor INTERFACE names the device".into()))?;
        let gateway_dev = match env("netdev").filter(|s| !s.is_empty()) {
            Some(g) => Some(name("netdev", &g)?),
            None => None,
        };
        Ok(Request {
            action,
            if_type,
            device: name("device", &device)?,
            xenbus_path,
            gateway_dev,
        })
    }

    fn key(&self, k: &str) -> String {
        format!("{}/{k}", self.xenbus_path)
    }
}

/// The NIC's settings in xenstore that the bridge mode uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `script` (its file name decides the mode).
    pub script: Option<String>,
    /// `bridge` as written, default xenbr0 (a Linux bridge name, or the Open vSwitch form
    /// `BRIDGE[.TAG][:TRUNK...]` under `vif-openvswitch`; checked by the mode).
    pub bridge: String,
    /// `mac`, for Open vSwitch's `attached-mac`.
    pub mac: Option<translator::MacAddr>,
    /// `mtu`.
    pub mtu: Option<u32>,
    /// `vlan` (Xen 4.19).
    pub vlan: Option<VlanSpec>,
    /// `ip`: the guest's addresses (routed guests get a route to each).
    pub ips: Vec<IpElem>,
}

impl Settings {
    /// Reads and checks the settings under the request's `XENBUS_PATH`.
    pub fn read(store: &dyn XenStore, req: &Request) -> Result<Settings, HotplugError> {
        let bridge = store
            .read(&req.key("bridge"))?
            .unwrap_or_else(|| DEFAULT_BRIDGE.to_owned());
        let mac = match store.read(&req.key("mac"))? {
            None => None,
            Some(v) => Some(v.trim().parse().map_err(|e: translator::mac::MacError| {
                HotplugError::Setting {
                    key: "mac",
                    value: v.clone(),
                    source: Box::new(e),
                }
            })?),
        };
        let mtu = match store.read(&req.key("mtu"))? {
            None => None,
            Some(v) => Some(
                v.trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|m| (68..=65535).contains(m))
                    .ok_or_else(|| HotplugError::Setting {
                        key: "mtu",
                        value: v.clone(),
                        source: "expected 68 to 65535".into(),
                    })?,
            ),
        };
        let vlan = match store.read(&req.key("vlan"))? {
            None => None,
            Some(v) => Some(v.parse::<VlanSpec>().map_err(|e| HotplugError::Setting {
                key: "vlan",
                value: v.clone(),
                source: Box::new(e),
            })?),
        };
        let ips = match store.read(&req.key("ip"))? {
            None => Vec::new(),
            Some(v) if v.trim().is_empty() => Vec::new(),
            Some(v) => parse_ips(&v).map_err(|e| HotplugError::Setting {
                key: "ip",
                value: v.clone(),
                source: Box::new(e),
            })?,
        };
        Ok(Settings {
            mac,
            ips,
            script: store.read(&req.key("script"))?,
            bridge,
            mtu,
            vlan,
        })
    }
}

/// Makes sure `bridge` exists and is a Linux bridge: as it is, or made from its registry
/// entry (see [`hostnet::plumbing::ensure_registered_bridge`]) when that marks it
/// creatable. Returns its state.
fn bridge_present(
    nl: &Netlink,
    registry: Option<&dyn Registry>,
    bridge: &IfName,
) -> Result<LinkState, HotplugError> {
    if let Some(link) = nl.link(bridge)? {
        if !link.is_bridge() {
            return Err(NetlinkError::NotABridge {
                name: bridge.clone(),
                kind: link.kind,
            }
            .into());
        }
        return Ok(link);
    }
    let entry = match registry {
        Some(r) => r.bridge(bridge)?.map(|b| (r, b)),
        None => None,
    };
    match entry {
        Some((r, b)) if b.creatable && b.kind == BridgeKind::Linux => {
            ensure_registered_bridge(nl, r, &b)?;
            Ok(nl.require_bridge(bridge)?)
        }
        Some(_) => Err(HotplugError::NoBridge {
            bridge: bridge.clone(),
            hint: " (registered, but not as a creatable Linux bridge)",
        }),
        None => Err(HotplugError::NoBridge {
            bridge: bridge.clone(),
            hint: " (create it, or register it with `vifkit bridge add NAME --creatable`)",
        }),
    }
}

/// The host plumbing a hotplug run drives.
#[derive(Clone, Copy)]
#[allow(missing_debug_implementations)]
pub struct Host<'a> {
    /// The netlink connection (in dom0's network namespace).
    pub nl: &'a Netlink,
    /// Open vSwitch, for `vif-openvswitch` vifs.
    pub ovs: &'a Ovs,
    /// The registry: bridged NICs are recorded there, bridges registered as creatable
    /// are created from it, and `vif-vifkit` asks it a bridge's kind.
    pub registry: Option<&'a dyn Registry>,
    /// Where what the run did beyond wiring is said (a stale record it replaced, a
    /// hook skipped).
    pub log: &'a dyn Fn(&str),
    /// The `vif-post.d` directory whose hooks run after each action, if any
    /// ([`hooks`]).
    pub hooks: Option<&'a Path>,
}

fn up(
    host: &Host<'_>,
    store: &dyn XenStore,
    req: &Request,
    s: &Settings,
) -> Result<(), HotplugError> {
    let nl = host.nl;
    match mode(s) {
        "vif-bridge" => {}
        "vif-route" => return route_up(nl, req, s),
        "vif-nat" => return nat::up(nl, store, req, s),
        "vif-openvswitch" => return ovs_up(host, store, req, s),
        other => return Err(HotplugError::Unsupported(other.to_owned())),
    }
    let bridge = name("bridge", &s.bridge)?;
    let br = bridge_present(nl, host.registry, &bridge)?;
    // The guard goes on before the port joins the bridge: no frame passes unchecked.
    let guarded = match guard_of(req, s)? {
        Some(g) => Nft::system()
            .ensure_guard(&g)
            .map_err(HotplugError::Guard)?,
        None => Change::Unchanged,
    };
    let wired = (|| -> Result<(), HotplugError> {
        let attached = nl.attach_port_to(&req.device, &br, s.mtu)?;
        if let Some(v) = &s.vlan {
            if let Err(e) = nl.set_port_vlans(&req.device, &PortVlans::from(v)) {
                if attached != Change::Unchanged {
                    // Undo the attach this run made; the VLAN error is what matters.
                    let _ = nl.detach_port(&req.device, &bridge);
                }
                return Err(e.into());
            }
        }
        Ok(())
    })();
    if wired.is_err() && guarded == Change::Created {
        let _ = Nft::system().remove_guard(&req.device);
    }
    wired
}

/// The anti-spoofing guard of a bridged device with `ip=` set ([`hostnet::guard`]).
fn guard_of(req: &Request, s: &Settings) -> Result<Option<Guard>, HotplugError> {
    if s.ips.is_empty() {
        return Ok(None);
    }
    Guard::new(&req.device, s.ips.iter().map(|ip| (ip.address, ip.prefix)))
        .map(Some)
        .map_err(HotplugError::Guard)
}

/// `vif-openvswitch` online: the port on the bridge with the tag and trunks of
/// `BRIDGE[.TAG][:TRUNK...]` and the external-ids Xen sets (`attached-mac`,
/// `xen-vm-name`, `xen-vm-uuid`), in one OVSDB transaction. The bridge must exist.
fn ovs_up(
    host: &Host<'_>,
    store: &dyn XenStore,
    req: &Request,
    s: &Settings,
) -> Result<(), HotplugError> {
    let spec = translator::bridge_spec::OvsBridge::parse(&s.bridge).map_err(|e| {
        HotplugError::Setting {
            key: "bridge",
            value: s.bridge.clone(),
            source: Box::new(e),
        }
    })?;
    let (bridge, mut cfg): (IfName, PortConfig) = PortConfig::from_bridge_spec(&spec)?;
    if host.ovs.bridge(&bridge)?.is_none() {
        return Err(HotplugError::NoBridge {
            bridge,
            hint: " (no such Open vSwitch bridge)",
        });
    }
    let domid = req.xenbus_path.split('/').nth(2).unwrap_or("0");
    cfg.vm_name = store.read(&format!("/local/domain/{domid}/name"))?;
    cfg.vm_uuid = store
        .read(&format!("/local/domain/{domid}/vm"))?
        .and_then(|vm| vm.rsplit('/').next().map(str::to_owned))
        .filter(|u| !u.is_empty());
    cfg.mac = s.mac;
    host.ovs.ensure_port(&bridge, &req.device, &cfg)?;
    if !s.ips.is_empty() {
        (host.log)(
            "ip= is not enforced on an Open vSwitch port (nftables' bridge family does not \
             see Open vSwitch; see vifkit's docs/hotplug.md)",
        );
    }
    Ok(())
}

/// The script names under which vifkit chooses the mode itself, for
/// `vif.default.script` in `/etc/xen/xl.conf` or `script=` in a vif: `vif-vifkit` wires
/// a bridged NIC as its bridge needs (Linux bridge or Open vSwitch), the other two are
/// the routed and NAT modes. `vif-route-ifup` is SUSE's routed-guest script.
pub const SCRIPT_NAMES: [&str; 3] = ["vif-vifkit", "vif-vifkit-route", "vif-vifkit-nat"];

/// Settings whose `script` names one of [`SCRIPT_NAMES`] (or SUSE's `vif-route-ifup`)
/// with the concrete mode put in its place.
fn resolve_script(host: &Host<'_>, mut s: Settings) -> Result<Settings, HotplugError> {
    let Some(script) = s.script.as_deref() else {
        return Ok(s);
    };
    let concrete = match translator::to_xml::script_name(script) {
        "vif-vifkit-route" | "vif-route-ifup" => "vif-route",
        "vif-vifkit-nat" => "vif-nat",
        "vif-vifkit" => bridge_mode(host, &s.bridge)?,
        _ => return Ok(s),
    };
    s.script = Some(concrete.to_owned());
    Ok(s)
}

/// `vif-bridge` or `vif-openvswitch` for a NIC on `bridge`: Xen's Open vSwitch form
/// (`BRIDGE.TAG:TRUNK`, a `:` in it) is Open vSwitch; otherwise the registered bridge's
/// kind (the name, or the part before a `.`); otherwise what the host has (a Linux bridge
/// of that name, else an Open vSwitch bridge of the name before a `.`); a bridge found
/// nowhere is a Linux bridge (whose absence `vif-bridge` then reports).
fn bridge_mode(host: &Host<'_>, bridge: &str) -> Result<&'static str, HotplugError> {
    const LINUX: &str = "vif-bridge";
    const OVS: &str = "vif-openvswitch";
    if bridge.contains(':') {
        return Ok(OVS);
    }
    let whole = IfName::new(bridge).ok();
    let base = bridge
        .split_once('.')
        .and_then(|(b, _)| IfName::new(b).ok());
    if let Some(reg) = host.registry {
        for name in whole.iter().chain(base.iter()) {
            if let Some(b) = reg.bridge(name)? {
                return Ok(match b.kind {
                    registry::BridgeKind::Linux => LINUX,
                    registry::BridgeKind::Ovs => OVS,
                });
            }
        }
    }
    if let Some(name) = &whole {
        if host.nl.link(name)?.is_some_and(|l| l.bridge.is_some()) {
            return Ok(LINUX);
        }
    }
    for name in base.iter().chain(whole.iter()) {
        if host.ovs.bridge(name)?.is_some() {
            return Ok(OVS);
        }
    }
    Ok(LINUX)
}

/// The request for the device the vif really is: with a `vifname` in xenstore, xl's
/// name for the PV backend, the device is renamed to it at `online` (as Xen's
/// `vif-common.sh` does: firewall rules are keyed on that name) and found under it at
/// `offline`. The emulated twin is created under its name by QEMU already.
fn named(store: &dyn XenStore, nl: &Netlink, req: &Request) -> Result<Request, HotplugError> {
    if req.if_type != IfType::Vif {
        return Ok(req.clone());
    }
    let Some(v) = store.read(&req.key("vifname"))? else {
        return Ok(req.clone());
    };
    let vifname = name("vifname", &v)?;
    if vifname == req.device {
        return Ok(req.clone());
    }
    let mut out = req.clone();
    match req.action {
        Action::Up => {
            if nl.link(&vifname)?.is_none() {
                if let Some(l) = nl.link(&req.device)? {
                    if l.up {
                        nl.set_link_up(&req.device, false)?;
                    }
                    nl.rename_link(&req.device, &vifname)?;
                }
            }
            out.device = vifname;
        }
        Action::Down => {
            if nl.link(&vifname)?.is_some() {
                out.device = vifname;
            }
        }
    }
    Ok(out)
}

/// Xen's `setup_virtual_bridge_port`: an emulated twin joining a bridge gets the MAC
/// `fe:ff:ff:ff:ff:ff`, so that the bridge never takes a guest's tap address as its own.
fn tap_mac(nl: &Netlink, req: &Request, s: &Settings) -> Result<(), HotplugError> {
    if req.if_type == IfType::Tap && matches!(mode(s), "vif-bridge" | "vif-openvswitch") {
        nl.set_mac(&req.device, [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff])?;
    }
    Ok(())
}

/// The mode: the file name of the `script` key, `vif-bridge` by default.
fn mode(s: &Settings) -> &str {
    translator::to_xml::script_name(s.script.as_deref().unwrap_or("vif-bridge"))
}

/// The first IPv4 address of the gateway device (Xen's `dom0_ip`).
fn gateway_ip(nl: &Netlink, req: &Request) -> Result<IpAddr, HotplugError> {
    let gw = match &req.gateway_dev {
        Some(g) => g.clone(),
        None => name("netdev", "eth0")?,
    };
    nl.addresses(&gw)?
        .into_iter()
        .map(|(ip, _)| ip)
        .find(IpAddr::is_ipv4)
        .ok_or(HotplugError::NoGatewayAddress(gw))
}

/// Refuses, before anything changes, a guest address that would take over the host's
/// own addresses or routes ([`guest_ip::refusal`]).
fn check_guest_addresses(
    nl: &Netlink,
    dev: &IfName,
    addrs: impl IntoIterator<Item = (IpAddr, Option<u8>)>,
) -> Result<(), HotplugError> {
    let host = nl.host_addresses()?;
    let gateways = nl.default_gateways()?;
    for (address, prefix) in addrs {
        if let Some(why) = guest_ip::refusal(address, prefix, &host, &gateways) {
            return Err(HotplugError::GuestAddress {
                device: dev.clone(),
                address,
                why,
            });
        }
    }
    Ok(())
}

fn full_prefix(ip: &IpElem) -> u8 {
    ip.prefix
        .unwrap_or(if ip.address.is_ipv4() { 32 } else { 128 })
}

/// `vif-route` online: dom0's address on the vif as a /32, the vif up, `proxy_arp` on,
/// a route to each guest address through the vif from dom0's address. Undone on
/// failure.
fn route_up(nl: &Netlink, req: &Request, s: &Settings) -> Result<(), HotplugError> {
    let dev = &req.device;
    check_guest_addresses(nl, dev, s.ips.iter().map(|ip| (ip.address, ip.prefix)))?;
    let main_ip = gateway_ip(nl, req)?;
    let added_addr = nl.add_address(dev, main_ip, 32)?;
    let mut added_routes = Vec::new();
    let result = (|| -> Result<(), HotplugError> {
        nl.set_link_up(dev, true)?;
        set_proxy_arp(dev, true)?;
        for ip in &s.ips {
            if nl.add_route(dev, ip.address, full_prefix(ip), Some(main_ip), None)?
                == Change::Created
            {
                added_routes.push(ip);
            }
        }
        Ok(())
    })();
    if result.is_err() {
        for ip in added_routes {
            let _ = nl.remove_route(dev, ip.address, full_prefix(ip), None);
        }
        if added_addr == Change::Created {
            let _ = nl.remove_address(dev, main_ip, 32);
        }
    }
    result
}

/// `vif-route` offline: the routes and dom0's address go (the device may be gone).
fn route_down(nl: &Netlink, req: &Request, s: &Settings) -> Result<(), HotplugError> {
    let dev = &req.device;
    if nl.link(dev)?.is_none() {
        return Ok(());
    }
    for ip in &s.ips {
        nl.remove_route(dev, ip.address, full_prefix(ip), None)?;
    }
    if let Ok(main_ip) = gateway_ip(nl, req) {
        nl.remove_address(dev, main_ip, 32)?;
    }
    Ok(())
}

/// Offline: unwires the device as its mode says.
fn down(
    host: &Host<'_>,
    store: &dyn XenStore,
    req: &Request,
    s: &Settings,
) -> Result<(), HotplugError> {
    let nl = host.nl;
    match mode(s) {
        "vif-route" => route_down(nl, req, s),
        "vif-nat" => nat::down(nl, store, req, s),
        "vif-openvswitch" => {
            host.ovs.remove_port(&req.device)?;
            Ok(())
        }
        _ => {
            // The device may already be gone with its domain.
            if nl.link(&req.device)?.is_some() {
                nl.detach_port(&req.device, &name("bridge", &s.bridge)?)?;
            }
            if !s.ips.is_empty() {
                Nft::system()
                    .remove_guard(&req.device)
                    .map_err(HotplugError::Guard)?;
            }
            Ok(())
        }
    }
}

/// xl's word for the request: `online`, `offline`, `add` or `remove`.
pub fn command(req: &Request) -> &'static str {
    match (req.action, req.if_type) {
        (Action::Up, IfType::Vif) => "online",
        (Action::Down, IfType::Vif) => "offline",
        (Action::Up, IfType::Tap) => "add",
        (Action::Down, IfType::Tap) => "remove",
    }
}

/// The variables Xen's scripts leave to a `vif-post.d` hook ([`hooks`]).
fn hook_env(nl: &Netlink, store: &dyn XenStore, req: &Request, s: &Settings) -> hooks::HookEnv {
    let ip: Vec<String> = s
        .ips
        .iter()
        .map(|i| match i.prefix {
            Some(p) => format!("{}/{p}", i.address),
            None => i.address.to_string(),
        })
        .collect();
    let mut vars = vec![
        ("command", command(req).to_owned()),
        (
            "type_if",
            if req.if_type == IfType::Vif {
                "vif"
            } else {
                "tap"
            }
            .to_owned(),
        ),
        ("vif", req.device.to_string()),
        ("dev", req.device.to_string()),
        ("XENBUS_PATH", req.xenbus_path.clone()),
        ("ip", ip.join(" ")),
        ("bridge", s.bridge.clone()),
        ("script", mode(s).to_owned()),
    ];
    let main_ip = match mode(s) {
        "vif-route" => gateway_ip(nl, req).ok(),
        "vif-nat" => nat::Plan::new(store, req, s)
            .ok()
            .map(|p| IpAddr::V4(p.router)),
        _ => None,
    };
    if let Some(m) = main_ip {
        vars.push(("main_ip", m.to_string()));
    }
    if let Some(g) = &req.gateway_dev {
        vars.push(("netdev", g.to_string()));
    }
    hooks::HookEnv { vars }
}

/// One line saying what a run did, for the system log.
fn summary(req: &Request, s: &Settings, hooks_run: usize) -> String {
    let mut line = format!("{}: {} {}", req.device, command(req), mode(s));
    match mode(s) {
        "vif-route" | "vif-nat" => {}
        _ => line.push_str(&format!(" bridge {}", s.bridge)),
    }
    if !s.ips.is_empty() {
        let ips: Vec<String> = s.ips.iter().map(|i| i.address.to_string()).collect();
        line.push_str(&format!(" ip {}", ips.join(",")));
    }
    if hooks_run > 0 {
        line.push_str(&format!(", {hooks_run} hook(s) run"));
    }
    line
}

/// Runs one hotplug request and reports the outcome in xenstore (for `type_if=vif`, as
/// Xen's scripts do): `hotplug-status` = `connected`, or `error` with `hotplug-error`.
/// Returns one line saying what was done (for the system log).
///
/// A bridged NIC on a registered bridge is also recorded in the registry (see the
/// `record` module): before it is wired, so that a clash refuses it with nothing done.
/// After the wiring, the administrator's `vif-post.d` hooks run ([`hooks`]); one that
/// fails undoes an `online` or `add`.
pub fn run(store: &dyn XenStore, host: &Host<'_>, req: &Request) -> Result<String, HotplugError> {
    let result = (|| -> Result<String, HotplugError> {
        let s = resolve_script(host, Settings::read(store, req)?)?;
        let req = &named(store, host.nl, req)?;
        let run_hooks = || -> Result<usize, HotplugError> {
            match host.hooks {
                Some(dir) => {
                    let env = hook_env(host.nl, store, req, &s);
                    Ok(hooks::run(dir, &env, host.log)?.len())
                }
                None => Ok(0),
            }
        };
        match req.action {
            Action::Up => {
                let undo = record::before_up(store, host, req, &s)?;
                let wired = tap_mac(host.nl, req, &s).and_then(|()| up(host, store, req, &s));
                let hooked = wired.and_then(|()| {
                    run_hooks().inspect_err(|_| {
                        // The hook's failure is what matters; unwire as offline would.
                        let _ = down(host, store, req, &s);
                    })
                });
                match hooked {
                    Ok(n) => {
                        record::after_up(host.registry, req)?;
                        Ok(summary(req, &s, n))
                    }
                    Err(e) => {
                        record::undo(host.registry, undo);
                        Err(e)
                    }
                }
            }
            Action::Down => {
                down(host, store, req, &s)?;
                let n = run_hooks()?;
                match record::after_down(host.registry, req) {
                    // A shared registry out of reach never fails an offline: the record
                    // goes with the host's lease, or `vifkit reconcile` drops it.
                    Err(HotplugError::Registry(e)) if e.is_unreachable() => {
                        (host.log)(&format!(
                            "the registry could not drop the record: {}",
                            translator::diag::error_chain(&e)
                        ));
                    }
                    other => other?,
                }
                Ok(summary(req, &s, n))
            }
        }
    })();
    if req.if_type == IfType::Vif && req.action == Action::Up {
        match &result {
            Ok(_) => store.write(&req.key("hotplug-status"), "connected")?,
            Err(e) => {
                // The cause is what matters: a xenstore that cannot take the report must
                // not replace it (the caller prints it on stderr either way).
                let msg = translator::diag::error_chain(e);
                let _ = store.write(&req.key("hotplug-error"), &msg);
                let _ = store.write(&req.key("hotplug-status"), "error");
            }
        }
    }
    result
}

#[cfg(test)]
mod record_tests;
#[cfg(test)]
mod tests;
