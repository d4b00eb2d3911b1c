//! `org.vifkit.Bridges1`: the registry's bridges, with whether each exists on the host
//! and its ports there; registering, unregistering and making a bridge real (`Ensure`)
//! for root and polkit-authorized callers.

use std::collections::HashMap;
use std::sync::Arc;

use zbus::message::Header;
use zbus::object_server::SignalEmitter;
use zbus::{interface, Connection};

use super::dicts::{self, Dict};
use super::error::ServiceError;
use super::Shared;
use hostnet::netlink::{Change, LinkState, Netlink};
use hostnet::plumbing;
use registry::{Bridge, Registry};
use translator::IfName;

/// The `org.vifkit.Bridges1` interface.
#[derive(Debug)]
pub struct Bridges {
    pub(super) shared: Arc<Shared>,
}

/// The network devices of this process's network namespace, by name.
fn host_links(nl: &Netlink) -> Result<Vec<LinkState>, ServiceError> {
    // /proc/self/net follows the process's network namespace (unlike /sys, which
    // follows the mount namespace).
    let text = std::fs::read_to_string("/proc/self/net/dev").map_err(|e| {
        ServiceError::Host(format!(
            "Cannot list the network devices (/proc/self/net/dev): {e}"
        ))
    })?;
    let mut links = Vec::new();
    for line in text.lines().skip(2) {
        let Some((name, _)) = line.split_once(':') else {
            continue;
        };
        let Ok(name) = IfName::new(name.trim()) else {
            continue;
        };
        // A device removed since the listing is simply not there.
        if let Some(l) = nl
            .link(&name)
            .map_err(|e| ServiceError::Host(super::error::chain(&e)))?
        {
            links.push(l);
        }
    }
    Ok(links)
}

/// Each bridge with its properties, as `List` answers.
fn list(reg: &dyn Registry) -> Result<Vec<(String, Dict)>, ServiceError> {
    let bridges = reg.bridges()?;
    let nl = Netlink::new().map_err(|e| ServiceError::Host(super::error::chain(&e)))?;
    let links = host_links(&nl)?;
    let by_name: HashMap<&str, &LinkState> = links.iter().map(|l| (l.name.as_str(), l)).collect();
    bridges
        .iter()
        .map(|b| {
            let host = by_name.get(b.name.as_str()).filter(|l| l.is_bridge());
            let mut ports: Vec<String> = match host {
                Some(br) => links
                    .iter()
                    .filter(|l| l.master == Some(br.index))
                    .map(|l| l.name.clone())
                    .collect(),
                None => Vec::new(),
            };
            ports.sort();
            Ok((b.name.to_string(), dicts::bridge(b, host.is_some(), ports)?))
        })
        .collect()
}

/// Adds the bridge, or changes the entry of that name to it; `false` when the same
/// entry was there already.
fn register(reg: &dyn Registry, bridge: &Bridge) -> Result<bool, ServiceError> {
    match reg.bridge(&bridge.name)? {
        None => reg.add_bridge(bridge)?,
        Some(old) if &old == bridge => return Ok(false),
        Some(_) => reg.update_bridge(bridge)?,
    }
    Ok(true)
}

#[interface(name = "org.vifkit.Bridges1")]
impl Bridges {
    /// Every registered bridge by name, with its properties: `kind` (s), `uplink` (s),
    /// `vlan` (q), `mtu` (u) when set, `stp` (b), `creatable` (b), `present` (b: the
    /// host has the bridge) and `ports` (as: its ports on the host).
    ///
    /// (The unused header makes zbus check the call's arguments: for a method without
    /// any input it reads no body at all, so extra arguments went unnoticed.)
    async fn list(
        &self,
        #[zbus(header)] _args_checked: Header<'_>,
    ) -> Result<Vec<(String, Dict)>, ServiceError> {
        self.shared.store.read(|reg| list(reg)).await
    }

    /// Registers a bridge (options `kind` s, `uplink` s, `vlan` q, `mtu` u, `stp` b,
    /// `creatable` b), or changes the registered bridge of that name. The host is not
    /// touched (see `Ensure`). Root or polkit action `org.vifkit.manage` only.
    async fn register(
        &self,
        name: String,
        options: Dict,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<(), ServiceError> {
        self.shared
            .access
            .check_manage(conn, &hdr, "Registering a bridge")
            .await?;
        let bridge = dicts::register_options(&name, &options)?;
        self.shared
            .store
            .write(move |reg| register(reg, &bridge))
            .await?;
        Ok(())
    }

    /// Removes a bridge from the registry (refused while NICs are attached to it; the
    /// host's bridge is left alone). Root or polkit action `org.vifkit.manage` only.
    async fn unregister(
        &self,
        name: String,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
    ) -> Result<(), ServiceError> {
        self.shared
            .access
            .check_manage(conn, &hdr, "Unregistering a bridge")
            .await?;
        let name = dicts::bridge_name(&name)?;
        self.shared
            .store
            .write(move |reg| Ok(reg.remove_bridge(&name).map(|_| ())?))
            .await
    }

    /// Makes the host's bridge match its registry entry: created if missing (when
    /// creatable), MTU, STP, up, the uplink (or `UPLINK.VLAN`) enslaved. Emits
    /// `BridgeChanged` when something changed. Root or polkit action
    /// `org.vifkit.manage` only.
    async fn ensure(
        &self,
        name: String,
        #[zbus(header)] hdr: Header<'_>,
        #[zbus(connection)] conn: &Connection,
        #[zbus(signal_emitter)] emitter: SignalEmitter<'_>,
    ) -> Result<(), ServiceError> {
        self.shared
            .access
            .check_manage(conn, &hdr, "Ensuring a bridge")
            .await?;
        let name = dicts::bridge_name(&name)?;
        let shown = name.to_string();
        let changed = self
            .shared
            .store
            .write(move |reg| {
                let bridge = reg.bridge(&name)?.ok_or_else(|| {
                    ServiceError::NotFound(format!("Bridge {name} is not in the registry"))
                })?;
                let nl = Netlink::new().map_err(|e| ServiceError::Host(super::error::chain(&e)))?;
                let done =
                    plumbing::ensure_registered(&nl, &hostnet::ovs::Ovs::new(), reg, &bridge)?;
                Ok(done.bridge != Change::Unchanged
                    || done.port.is_some_and(|(_, c)| c != Change::Unchanged))
            })
            .await?;
        if changed {
            // The host changed, not the registry: the watcher cannot see it.
            self.shared.host_changed.notify_one();
            let _ = Bridges::bridge_changed(&emitter, &shown).await;
        }
        Ok(())
    }

    /// A bridge was registered.
    #[zbus(signal)]
    pub async fn bridge_added(emitter: &SignalEmitter<'_>, name: &str) -> zbus::Result<()>;

    /// A bridge was unregistered.
    #[zbus(signal)]
    pub async fn bridge_removed(emitter: &SignalEmitter<'_>, name: &str) -> zbus::Result<()>;

    /// A bridge's registry entry changed, or `Ensure` changed it on the host.
    #[zbus(signal)]
    pub async fn bridge_changed(emitter: &SignalEmitter<'_>, name: &str) -> zbus::Result<()>;
}
