//! Making the host match the registry: one place that turns a registered Linux bridge
//! into the real thing (the bridge, its MTU and STP, its uplink or `UPLINK.VLAN`), used by
//! `vifkit bridge ensure` and by the hotplug script when it meets a missing bridge.

use translator::IfName;

use crate::netlink::{BridgeConfig, Change, Netlink, NetlinkError, PortMtu};
use crate::registry::{Bridge, BridgeKind, Registry, RegistryError};

/// Why a registered bridge could not be made real.
#[derive(Debug, thiserror::Error)]
pub enum EnsureError {
    /// Open vSwitch bridges are not made by vifkit yet.
    #[error(
        "Bridge {0} is an Open vSwitch bridge (kind ovs): `bridge ensure` of ovs bridges is not \
         built yet"
    )]
    Ovs(IfName),
    /// The bridge is missing and its entry does not allow creating it.
    #[error(
        "Bridge {0} does not exist on this host, and its registry entry does not let vifkit \
         create it (add it with --creatable)"
    )]
    NotCreatable(IfName),
    /// The uplink device is missing (checked before anything is created).
    #[error("Bridge {bridge}: its uplink {uplink} does not exist on this host")]
    MissingUplink {
        /// The bridge.
        bridge: IfName,
        /// Its uplink.
        uplink: IfName,
    },
    /// The uplink step failed and the bridge this call created could not be removed.
    #[error("{source} (and the bridge {bridge} this command created could not be removed again: {undo})")]
    Undo {
        /// The bridge.
        bridge: IfName,
        /// The failure.
        #[source]
        source: NetlinkError,
        /// Why removing it failed.
        undo: Box<NetlinkError>,
    },
    /// A netlink operation failed.
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// What [`ensure_registered_bridge`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ensured {
    /// The bridge itself.
    pub bridge: Change,
    /// The uplink (or `UPLINK.VLAN`) enslaved, and what happened to it.
    pub port: Option<(IfName, Change)>,
}

/// Makes the host's Linux bridge match its registry entry: created when missing (only if
/// the entry is creatable), MTU, STP, VLAN filtering (kept if on, and turned on when the
/// registry holds NICs with VLANs on it), up; the uplink enslaved, or `UPLINK.VLAN` made
/// and enslaved. A missing uplink is found before anything changes; if enslaving fails,
/// a bridge this call created is removed again.
pub fn ensure_registered_bridge(
    nl: &Netlink,
    registry: &dyn Registry,
    bridge: &Bridge,
) -> Result<Ensured, EnsureError> {
    let name = &bridge.name;
    if bridge.kind == BridgeKind::Ovs {
        return Err(EnsureError::Ovs(name.clone()));
    }
    let wants_filtering = registry
        .attachments()?
        .iter()
        .any(|a| &a.bridge == name && a.vlan.is_some());
    let current = nl.link(name)?;
    if current.is_none() && !bridge.creatable {
        return Err(EnsureError::NotCreatable(name.clone()));
    }
    if let Some(uplink) = &bridge.uplink {
        if nl.link(uplink)?.is_none() {
            return Err(EnsureError::MissingUplink {
                bridge: name.clone(),
                uplink: uplink.clone(),
            });
        }
    }
    let cfg = BridgeConfig {
        mtu: bridge.mtu.map(|m| m.get()),
        stp: bridge.stp,
        vlan_filtering: current
            .as_ref()
            .and_then(|c| c.bridge)
            .map_or(wants_filtering, |b| b.vlan_filtering || wants_filtering),
    };
    let made = nl.ensure_bridge(name, &cfg)?;
    let port = match (&bridge.uplink, bridge.vlan) {
        (None, _) => Ok(None),
        (Some(uplink), Some(vlan)) => nl.ensure_uplink_vlan(uplink, vlan.get(), name).map(Some),
        (Some(uplink), None) => {
            let mtu = bridge
                .mtu
                .map_or(PortMtu::Keep, |m| PortMtu::Explicit(m.get()));
            nl.attach_port(uplink, name, mtu)
                .map(|c| Some((uplink.clone(), c)))
        }
    };
    match port {
        Ok(port) => Ok(Ensured { bridge: made, port }),
        Err(source) => {
            if made == Change::Created {
                // Leave nothing half-made: the bridge this call created goes again.
                if let Err(undo) = nl.delete_bridge(name) {
                    return Err(EnsureError::Undo {
                        bridge: name.clone(),
                        source,
                        undo: Box::new(undo),
                    });
                }
            }
            Err(source.into())
        }
    }
}
