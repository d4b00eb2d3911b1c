//! Making the host match the registry: one place that turns a registered Linux bridge
//! into the real thing (the bridge, its MTU and STP, its uplink or `UPLINK.VLAN`), and
//! its counterpart for Open vSwitch bridges ([`ensure_registered_ovs_bridge`]). Used by
//! `vifkit bridge ensure` and the D-Bus service's `Ensure` ([`ensure_registered`]), and
//! by the hotplug script and the libvirt hooks when they meet a missing bridge.

use translator::IfName;

use crate::netlink::{BridgeConfig, Change, Netlink, NetlinkError, PortMtu};
use crate::ovs::{Ovs, OvsError, PortConfig};
use registry::{Bridge, BridgeKind, Registry, RegistryError};

/// Why a registered bridge could not be made real.
#[derive(Debug, thiserror::Error)]
pub enum EnsureError {
    /// The bridge is of the other kind than the function called.
    #[error("Bridge {name} is registered as a {kind} bridge")]
    WrongKind {
        /// The bridge.
        name: IfName,
        /// Its registered kind.
        kind: &'static str,
    },
    /// An Open vSwitch bridge with a VLAN on its uplink: Open vSwitch puts VLANs on ports.
    #[error(
        "Bridge {0} is an Open vSwitch bridge with a VLAN on its uplink: vifkit does not build \
         that (give guests the VLAN on their ports, bridge=BRIDGE.TAG, and register the uplink \
         without --vlan)"
    )]
    OvsUplinkVlan(IfName),
    /// Open vSwitch refused a step.
    #[error(transparent)]
    Ovs(#[from] OvsError),
    /// A step failed and the Open vSwitch bridge this call created could not be removed.
    #[error("{source} (and the bridge {bridge} this command created could not be removed again: {undo})")]
    OvsUndo {
        /// The bridge.
        bridge: IfName,
        /// The failure.
        #[source]
        source: OvsError,
        /// Why removing it failed.
        undo: Box<OvsError>,
    },
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

/// What both kinds refuse before changing anything: a missing bridge its entry does not
/// let vifkit create, and a missing uplink device.
fn check_before_change(nl: &Netlink, bridge: &Bridge, present: bool) -> Result<(), EnsureError> {
    if !present && !bridge.creatable {
        return Err(EnsureError::NotCreatable(bridge.name.clone()));
    }
    if let Some(uplink) = &bridge.uplink {
        if nl.link(uplink)?.is_none() {
            return Err(EnsureError::MissingUplink {
                bridge: bridge.name.clone(),
                uplink: uplink.clone(),
            });
        }
    }
    Ok(())
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
        return Err(EnsureError::WrongKind {
            name: name.clone(),
            kind: "Open vSwitch",
        });
    }
    let wants_filtering = registry
        .attachments()?
        .iter()
        .any(|a| &a.bridge == name && a.vlan.is_some());
    let current = nl.link(name)?;
    check_before_change(nl, bridge, current.is_some())?;
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

/// Makes the host's bridge match its registry entry, whichever its kind: a Linux bridge
/// through [`ensure_registered_bridge`], an Open vSwitch one through
/// [`ensure_registered_ovs_bridge`] on `ovs`.
pub fn ensure_registered(
    nl: &Netlink,
    ovs: &Ovs,
    registry: &dyn Registry,
    bridge: &Bridge,
) -> Result<Ensured, EnsureError> {
    match bridge.kind {
        BridgeKind::Linux => ensure_registered_bridge(nl, registry, bridge),
        BridgeKind::Ovs => ensure_registered_ovs_bridge(nl, ovs, bridge),
    }
}

/// Makes the host's Open vSwitch bridge match its registry entry: created when missing
/// (only if the entry is creatable), STP and the internal interface's MTU set, the
/// uplink added as a port. A missing uplink is found before anything changes; if a later
/// step fails, a bridge this call created is removed again.
pub fn ensure_registered_ovs_bridge(
    nl: &Netlink,
    ovs: &Ovs,
    bridge: &Bridge,
) -> Result<Ensured, EnsureError> {
    let name = &bridge.name;
    if bridge.kind != BridgeKind::Ovs {
        return Err(EnsureError::WrongKind {
            name: name.clone(),
            kind: "Linux",
        });
    }
    if bridge.vlan.is_some() {
        return Err(EnsureError::OvsUplinkVlan(name.clone()));
    }
    check_before_change(nl, bridge, ovs.bridge(name)?.is_some())?;
    let made = ovs.ensure_bridge(name, None)?;
    let rest = (|| {
        let set = ovs.ensure_bridge_settings(name, bridge.stp, bridge.mtu.map(|m| m.get()))?;
        let port = match &bridge.uplink {
            Some(uplink) => Some((
                uplink.clone(),
                ovs.ensure_port(name, uplink, &PortConfig::default())?,
            )),
            None => None,
        };
        Ok::<_, OvsError>((set, port))
    })();
    match rest {
        Ok((set, port)) => Ok(Ensured {
            bridge: match (made, set) {
                (Change::Unchanged, Change::Updated) => Change::Updated,
                (m, _) => m,
            },
            port,
        }),
        Err(source) => {
            if made == Change::Created {
                if let Err(undo) = ovs.delete_bridge(name) {
                    return Err(EnsureError::OvsUndo {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::testns::{in_netns, veth};
    use crate::ovs::testbed::Testbed;
    use registry::{Mtu, VlanId};

    fn n(s: &str) -> IfName {
        IfName::new(s).unwrap()
    }

    fn ovs_bridge(name: &str, uplink: Option<&str>, creatable: bool) -> Bridge {
        let mut b = Bridge::new(n(name), BridgeKind::Ovs);
        b.uplink = uplink.map(n);
        b.mtu = Some(Mtu::new(1450).unwrap());
        b.stp = true;
        b.creatable = creatable;
        b
    }

    #[test]
    #[ignore = "needs root: a network namespace and a private Open vSwitch"]
    fn an_ovs_bridge_is_made_from_its_entry_once() {
        in_netns("an_ovs_bridge_is_made_from_its_entry_once", |nl| {
            let tb = Testbed::start("an_ovs_bridge_is_made_from_its_entry_once");
            veth(nl, "up0", "up0p");
            let b = ovs_bridge("ovsbr7", Some("up0"), true);
            let done = ensure_registered_ovs_bridge(nl, &tb.ovs, &b).unwrap();
            assert_eq!(done.bridge, Change::Created);
            assert_eq!(done.port, Some((n("up0"), Change::Created)));
            assert_eq!(tb.vsctl(&["list-ports", "ovsbr7"]).trim(), "up0");
            assert_eq!(
                tb.vsctl(&["get", "Bridge", "ovsbr7", "stp_enable"]).trim(),
                "true"
            );
            assert_eq!(
                tb.vsctl(&["get", "Interface", "ovsbr7", "mtu_request"])
                    .trim(),
                "1450"
            );
            let again = ensure_registered_ovs_bridge(nl, &tb.ovs, &b).unwrap();
            assert_eq!(
                again,
                Ensured {
                    bridge: Change::Unchanged,
                    port: Some((n("up0"), Change::Unchanged))
                }
            );
            // A changed entry changes the bridge.
            let mut b2 = b.clone();
            b2.stp = false;
            assert_eq!(
                ensure_registered_ovs_bridge(nl, &tb.ovs, &b2)
                    .unwrap()
                    .bridge,
                Change::Updated
            );
            assert_eq!(
                tb.vsctl(&["get", "Bridge", "ovsbr7", "stp_enable"]).trim(),
                "false"
            );
        });
    }

    #[test]
    #[ignore = "needs root: a network namespace and a private Open vSwitch"]
    fn ovs_refusals_change_nothing() {
        in_netns("ovs_refusals_change_nothing", |nl| {
            let tb = Testbed::start("ovs_refusals_change_nothing");
            let before = tb.vsctl(&["list-br"]);
            let err = ensure_registered_ovs_bridge(nl, &tb.ovs, &ovs_bridge("ovsbr8", None, false))
                .unwrap_err();
            assert!(matches!(err, EnsureError::NotCreatable(_)), "{err}");
            let err = ensure_registered_ovs_bridge(
                nl,
                &tb.ovs,
                &ovs_bridge("ovsbr8", Some("nope0"), true),
            )
            .unwrap_err();
            assert!(matches!(err, EnsureError::MissingUplink { .. }), "{err}");
            let mut vlan = ovs_bridge("ovsbr8", Some("nope0"), true);
            vlan.vlan = Some(VlanId::new(900).unwrap());
            let err = ensure_registered_ovs_bridge(nl, &tb.ovs, &vlan).unwrap_err();
            assert!(matches!(err, EnsureError::OvsUplinkVlan(_)), "{err}");
            let linux = Bridge::new(n("br0"), BridgeKind::Linux);
            let err = ensure_registered_ovs_bridge(nl, &tb.ovs, &linux).unwrap_err();
            assert!(matches!(err, EnsureError::WrongKind { .. }), "{err}");
            assert_eq!(tb.vsctl(&["list-br"]), before);
        });
    }
}
