//! Linux bridges: [`Netlink::ensure_bridge`] and [`Netlink::delete_bridge`].

use netlink_packet_core::NetlinkMessage;
use netlink_packet_route::link::{
    BridgeStpState, InfoBridge, InfoData, InfoKind, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::RouteNetlinkMessage;
use translator::IfName;

use super::link::{self, link_message, LinkState};
use super::{check_mtu, message, Change, Netlink, NetlinkError, Undo, ACK, CREATE_EXCL};

/// What a bridge should look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BridgeConfig {
    /// The bridge's MTU; `None` leaves it to the kernel (1500 on creation, then the
    /// smallest of its ports' MTUs).
    pub mtu: Option<u32>,
    /// Spanning tree protocol on or off.
    pub stp: bool,
    /// VLAN filtering on or off (needed for per-port VLANs, see
    /// [`Netlink::set_port_vlans`]).
    pub vlan_filtering: bool,
}

/// The feature a bridge request needs, for [`NetlinkError::Unsupported`].
fn feature(vlan_filtering: bool) -> &'static str {
    if vlan_filtering {
        "bridge VLAN filtering"
    } else {
        "Linux bridges"
    }
}

fn stp_state(on: bool) -> BridgeStpState {
    if on {
        BridgeStpState::KernelStp
    } else {
        BridgeStpState::Disabled
    }
}

/// `ip link add NAME up type bridge stp_state S [vlan_filtering 1]`.
///
/// VLAN filtering is only named when wanted: a kernel without it refuses even a `0`.
/// The MTU is not part of it: an MTU given at creation is not "set by the user" for
/// the bridge, which would then lower it to its smallest port's; it is set afterwards.
pub(crate) fn create(name: &IfName, cfg: &BridgeConfig) -> NetlinkMessage<RouteNetlinkMessage> {
    let mut m = LinkMessage::default();
    m.header.flags = LinkFlags::Up;
    m.header.change_mask = LinkFlags::Up;
    m.attributes.push(LinkAttribute::IfName(name.to_string()));
    let mut data = vec![InfoBridge::StpState(stp_state(cfg.stp))];
    if cfg.vlan_filtering {
        data.push(InfoBridge::VlanFiltering(true));
    }
    m.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Bridge),
        LinkInfo::Data(InfoData::Bridge(data)),
    ]));
    message(RouteNetlinkMessage::NewLink(m), CREATE_EXCL)
}

/// `ip link set INDEX type bridge OPTION`.
pub(crate) fn change(index: u32, opt: InfoBridge) -> NetlinkMessage<RouteNetlinkMessage> {
    let mut m = link_message(index);
    m.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Bridge),
        LinkInfo::Data(InfoData::Bridge(vec![opt])),
    ]));
    message(RouteNetlinkMessage::NewLink(m), ACK)
}

impl Netlink {
    /// Makes sure the bridge `name` exists, with `cfg`'s MTU (when given), STP and VLAN
    /// filtering, and is up.
    ///
    /// A missing bridge is created in one request. An existing bridge gets only the
    /// settings that differ, one by one; if one fails, those already changed are put
    /// back. A device of another kind under that name is [`NetlinkError::NotABridge`].
    /// Safe to race: a concurrent creator's `EEXIST` is taken as "exists" and the
    /// bridge is then checked and adjusted like any existing one.
    pub fn ensure_bridge(&self, name: &IfName, cfg: &BridgeConfig) -> Result<Change, NetlinkError> {
        if let Some(mtu) = cfg.mtu {
            check_mtu(mtu)?;
        }
        let current = match self.link(name)? {
            Some(l) => l,
            None => match self.ack(create(name, cfg), "create bridge", name) {
                Ok(()) => return self.finish_new_bridge(name, cfg),
                Err(e) if e.errno() == Some(libc::EEXIST) => self.link(name)?.ok_or_else(|| {
                    // Created and deleted again by someone else in between.
                    NetlinkError::Protocol {
                        op: "create bridge",
                        device: name.to_string(),
                        what: "it existed, then vanished".to_owned(),
                    }
                })?,
                Err(e) => return Err(e.unsupported_if(&[], feature(cfg.vlan_filtering))),
            },
        };
        self.adjust_bridge(name, &current, cfg)
    }

    /// Sets the MTU of a bridge this call just created; deletes it again on failure.
    fn finish_new_bridge(&self, name: &IfName, cfg: &BridgeConfig) -> Result<Change, NetlinkError> {
        let Some(mtu) = cfg.mtu else {
            return Ok(Change::Created);
        };
        let br = self.require_bridge(name)?;
        let mut undo = Undo::default();
        undo.push(
            link::delete(br.index),
            "delete the new bridge",
            name.as_str(),
            &[libc::ENODEV],
        );
        let result = self.failpoint("bridge: after create", name).and_then(|()| {
            if br.mtu == mtu {
                return Ok(());
            }
            self.ack(link::set_mtu(br.index, mtu), "set the MTU of", name)
        });
        match result {
            Ok(()) => Ok(Change::Created),
            Err(e) => Err(self.rollback(undo, e, name)),
        }
    }

    /// Brings an existing bridge to `cfg`, undoing on failure.
    fn adjust_bridge(
        &self,
        name: &IfName,
        cur: &LinkState,
        cfg: &BridgeConfig,
    ) -> Result<Change, NetlinkError> {
        if !cur.is_bridge() {
            return Err(NetlinkError::NotABridge {
                name: name.clone(),
                kind: cur.kind.clone(),
            });
        }
        let state = cur.bridge.unwrap_or_default();
        let idx = cur.index;
        let mut undo = Undo::default();
        let result = (|| {
            if state.vlan_filtering != cfg.vlan_filtering {
                self.ack(
                    change(idx, InfoBridge::VlanFiltering(cfg.vlan_filtering)),
                    "set VLAN filtering on",
                    name,
                )
                .map_err(|e| e.unsupported_if(&[], "bridge VLAN filtering"))?;
                undo.push(
                    change(idx, InfoBridge::VlanFiltering(state.vlan_filtering)),
                    "restore VLAN filtering on",
                    name.as_str(),
                    &[],
                );
            }
            self.failpoint("bridge: after VLAN filtering", name)?;
            if state.stp != cfg.stp {
                self.ack(
                    change(idx, InfoBridge::StpState(stp_state(cfg.stp))),
                    "set STP on",
                    name,
                )?;
                undo.push(
                    change(idx, InfoBridge::StpState(stp_state(state.stp))),
                    "restore STP on",
                    name.as_str(),
                    &[],
                );
            }
            self.failpoint("bridge: after STP", name)?;
            if let Some(mtu) = cfg.mtu.filter(|&m| m != cur.mtu) {
                self.ack(link::set_mtu(idx, mtu), "set the MTU of", name)?;
                undo.push(
                    link::set_mtu(idx, cur.mtu),
                    "restore the MTU of",
                    name.as_str(),
                    &[],
                );
            }
            self.failpoint("bridge: after MTU", name)?;
            if !cur.up {
                self.ack(link::set_up(idx, true), "bring up", name)?;
                undo.push(link::set_up(idx, false), "bring down", name.as_str(), &[]);
            }
            Ok(())
        })();
        match result {
            Ok(()) if undo.is_empty() => Ok(Change::Unchanged),
            Ok(()) => Ok(Change::Updated),
            Err(e) => Err(self.rollback(undo, e, name)),
        }
    }

    /// Deletes the bridge `name` if it has no ports ([`NetlinkError::BridgeInUse`]
    /// otherwise). A missing bridge is [`Change::Unchanged`]; a device of another kind
    /// is [`NetlinkError::NotABridge`] and is left alone.
    ///
    /// The check and the deletion are two requests: a port attached in between is
    /// released by the kernel along with the bridge.
    pub fn delete_bridge(&self, name: &IfName) -> Result<Change, NetlinkError> {
        let Some(br) = self.link(name)? else {
            return Ok(Change::Unchanged);
        };
        if !br.is_bridge() {
            return Err(NetlinkError::NotABridge {
                name: name.clone(),
                kind: br.kind,
            });
        }
        let ports = self.ports_of(&br)?;
        if !ports.is_empty() {
            return Err(NetlinkError::BridgeInUse {
                bridge: name.clone(),
                ports: ports.into_iter().map(|p| p.name).collect(),
            });
        }
        match self.ack(link::delete(br.index), "delete bridge", name) {
            Ok(()) => Ok(Change::Removed),
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(Change::Unchanged),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::testns::{in_netns, veth, Kernel};
    use crate::netlink::{wire, LinkState};
    use netlink_packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST};

    fn br(n: &str) -> IfName {
        IfName::new(n).unwrap()
    }

    fn new_link(m: RouteNetlinkMessage) -> LinkMessage {
        match m {
            RouteNetlinkMessage::NewLink(l) => l,
            other => panic!("{other:?}"),
        }
    }

    fn bridge_data(l: &LinkMessage) -> Vec<InfoBridge> {
        l.attributes
            .iter()
            .find_map(|a| match a {
                LinkAttribute::LinkInfo(i) => i.iter().find_map(|x| match x {
                    LinkInfo::Data(InfoData::Bridge(d)) => Some(d.clone()),
                    _ => None,
                }),
                _ => None,
            })
            .expect("bridge data")
    }

    #[test]
    fn create_message_has_kind_stp_and_up() {
        let cfg = BridgeConfig {
            mtu: Some(9000),
            stp: true,
            vlan_filtering: true,
        };
        let m = create(&br("xenbr0"), &cfg);
        assert_eq!(
            m.header.flags,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
        );
        let l = new_link(wire(&m));
        assert_eq!(l.header.flags, LinkFlags::Up);
        assert_eq!(l.header.change_mask, LinkFlags::Up);
        assert!(l
            .attributes
            .contains(&LinkAttribute::IfName("xenbr0".into())));
        // The MTU is set after creation, so that the bridge keeps it.
        assert!(!l
            .attributes
            .iter()
            .any(|a| matches!(a, LinkAttribute::Mtu(_))));
        assert_eq!(
            bridge_data(&l),
            vec![
                InfoBridge::StpState(BridgeStpState::KernelStp),
                InfoBridge::VlanFiltering(true)
            ]
        );
        let st = LinkState::from_message(&l);
        assert!(st.is_bridge());
    }

    #[test]
    fn create_message_leaves_out_what_is_not_asked() {
        let l = new_link(wire(&create(&br("br0"), &BridgeConfig::default())));
        // No VlanFiltering(false): kernels without the feature refuse even that.
        assert_eq!(
            bridge_data(&l),
            vec![InfoBridge::StpState(BridgeStpState::Disabled)]
        );
    }

    #[test]
    fn change_message_targets_the_index() {
        let l = new_link(wire(&change(12, InfoBridge::VlanFiltering(false))));
        assert_eq!(l.header.index, 12);
        assert_eq!(bridge_data(&l), vec![InfoBridge::VlanFiltering(false)]);
    }

    #[test]
    fn bad_mtu_is_refused_before_the_kernel() {
        // No namespace needed: the check comes first. A connection is still opened, so
        // this needs nothing but a netlink socket.
        let nl = Netlink::new().expect("netlink socket");
        let cfg = BridgeConfig {
            mtu: Some(0),
            ..BridgeConfig::default()
        };
        assert!(matches!(
            nl.ensure_bridge(&br("nonexistentbr"), &cfg),
            Err(NetlinkError::Invalid { what: "MTU", .. })
        ));
    }

    // ---- against the kernel, each in a network namespace of its own ----

    #[test]
    #[ignore = "needs root: network namespaces"]
    fn kernel_creates_then_leaves_a_bridge_alone() {
        in_netns("bridge_create", |nl| {
            let name = br("xenbr0");
            let cfg = BridgeConfig {
                mtu: Some(9000),
                stp: true,
                vlan_filtering: false,
            };
            assert_eq!(nl.ensure_bridge(&name, &cfg).unwrap(), Change::Created);
            let st = nl.link(&name).unwrap().expect("bridge exists");
            assert!(st.is_bridge() && st.up, "{st:?}");
            assert_eq!(st.mtu, 9000);
            assert!(st.bridge.unwrap().stp);
            assert_eq!(nl.ensure_bridge(&name, &cfg).unwrap(), Change::Unchanged);
            assert_eq!(nl.link(&name).unwrap().unwrap(), st);

            // Drift is repaired, and only the drift.
            nl.ack(link::set_up(st.index, false), "bring down", &name)
                .unwrap();
            let cfg2 = BridgeConfig { stp: false, ..cfg };
            assert_eq!(nl.ensure_bridge(&name, &cfg2).unwrap(), Change::Updated);
            let st2 = nl.link(&name).unwrap().unwrap();
            assert!(st2.up && !st2.bridge.unwrap().stp && st2.mtu == 9000);
        });
    }

    #[test]
    #[ignore = "needs root: network namespaces"]
    fn kernel_refuses_a_non_bridge_under_the_name() {
        in_netns("bridge_notbridge", |nl| {
            veth(nl, "notabr", "notabr-p");
            let err = nl
                .ensure_bridge(&br("notabr"), &BridgeConfig::default())
                .unwrap_err();
            assert!(
                matches!(&err, NetlinkError::NotABridge { kind: Some(k), .. } if k == "veth"),
                "{err}"
            );
            assert!(matches!(
                nl.delete_bridge(&br("notabr")),
                Err(NetlinkError::NotABridge { .. })
            ));
            assert!(nl.link(&br("notabr")).unwrap().is_some());
        });
    }

    #[test]
    #[ignore = "needs root: network namespaces"]
    fn kernel_deletes_only_empty_bridges() {
        in_netns("bridge_delete", |nl| {
            let name = br("br-del");
            nl.ensure_bridge(&name, &BridgeConfig::default()).unwrap();
            veth(nl, "vif1.0", "vif1.0-p");
            let port = br("vif1.0");
            nl.attach_port(&port, &name, crate::netlink::PortMtu::Bridge)
                .unwrap();
            let err = nl.delete_bridge(&name).unwrap_err();
            assert!(
                matches!(&err, NetlinkError::BridgeInUse { ports, .. } if ports == &["vif1.0"]),
                "{err}"
            );
            assert!(err.to_string().contains("vif1.0"), "{err}");
            nl.detach_port(&port, &name).unwrap();
            assert_eq!(nl.delete_bridge(&name).unwrap(), Change::Removed);
            assert!(nl.link(&name).unwrap().is_none());
            assert_eq!(nl.delete_bridge(&name).unwrap(), Change::Unchanged);
        });
    }

    #[test]
    #[ignore = "needs root: network namespaces"]
    fn kernel_half_way_failure_restores_the_bridge() {
        in_netns("bridge_rollback", |nl| {
            let name = br("br-rb");
            nl.ensure_bridge(&name, &BridgeConfig::default()).unwrap();
            let idx = nl.link(&name).unwrap().unwrap().index;
            nl.ack(link::set_up(idx, false), "bring down", &name)
                .unwrap();
            let before = nl.link(&name).unwrap().unwrap();
            nl.fail_at(Some("bridge: after MTU"));
            let cfg = BridgeConfig {
                mtu: Some(4000),
                stp: true,
                vlan_filtering: false,
            };
            let err = nl.ensure_bridge(&name, &cfg).unwrap_err();
            assert!(err.to_string().contains("injected"), "{err}");
            assert_eq!(nl.link(&name).unwrap().unwrap(), before);
            nl.fail_at(None);
            assert_eq!(nl.ensure_bridge(&name, &cfg).unwrap(), Change::Updated);
        });
    }

    #[test]
    #[ignore = "needs root: network namespaces"]
    fn kernel_failure_after_creating_deletes_the_new_bridge() {
        in_netns("bridge_create_rollback", |nl| {
            let name = br("br-new");
            let cfg = BridgeConfig {
                mtu: Some(9000),
                ..BridgeConfig::default()
            };
            nl.fail_at(Some("bridge: after create"));
            let err = nl.ensure_bridge(&name, &cfg).unwrap_err();
            nl.fail_at(None);
            assert!(err.to_string().contains("injected"), "{err}");
            assert!(nl.link(&name).unwrap().is_none());
            // Without the failure, the bridge is made with the largest MTU it takes.
            let huge = BridgeConfig {
                mtu: Some(65535),
                ..BridgeConfig::default()
            };
            assert_eq!(nl.ensure_bridge(&name, &huge).unwrap(), Change::Created);
            assert_eq!(nl.link(&name).unwrap().unwrap().mtu, 65535);
        });
    }

    fn vlan_filtering() -> BridgeConfig {
        BridgeConfig {
            vlan_filtering: true,
            ..BridgeConfig::default()
        }
    }

    #[test]
    #[ignore = "needs root: network namespaces"]
    fn kernel_with_vlan_filtering_a_filtering_bridge_is_made() {
        in_netns("bridge_vlanfilt", |nl| {
            let name = br("br-vf");
            let c = Kernel::VlanFiltering.has(nl.ensure_bridge(&name, &vlan_filtering()));
            assert_eq!(c, Change::Created);
            let st = nl.link(&name).unwrap().unwrap();
            assert!(st.bridge.unwrap().vlan_filtering, "{st:?}");
        });
    }

    #[test]
    #[ignore = "needs root: network namespaces"]
    fn kernel_without_vlan_filtering_a_refused_bridge_leaves_nothing() {
        in_netns("bridge_novlanfilt", |nl| {
            let name = br("br-vf");
            let cfg = vlan_filtering();
            Kernel::VlanFiltering.lacks(nl.ensure_bridge(&name, &cfg));
            // The refused creation left nothing behind.
            assert!(nl.link(&name).unwrap().is_none());
            // Nor does a refused change on an existing bridge.
            nl.ensure_bridge(&name, &BridgeConfig::default()).unwrap();
            let before = nl.link(&name).unwrap().unwrap();
            Kernel::VlanFiltering.lacks(nl.ensure_bridge(&name, &cfg));
            assert_eq!(nl.link(&name).unwrap().unwrap(), before);
        });
    }

    #[test]
    #[ignore = "needs root: network namespaces"]
    fn kernel_sixteen_concurrent_ensures_make_one_bridge() {
        crate::netlink::testns::in_netns_threads(
            "bridge_race",
            16,
            |nl, _i| {
                let cfg = BridgeConfig {
                    mtu: Some(1400),
                    stp: false,
                    vlan_filtering: false,
                };
                nl.ensure_bridge(&br("racebr"), &cfg)
            },
            |nl, results| {
                let created = results
                    .iter()
                    .filter(|r| matches!(r, Ok(Change::Created)))
                    .count();
                for r in &results {
                    assert!(r.is_ok(), "{r:?}");
                }
                assert_eq!(created, 1, "{results:?}");
                let st = nl.link(&br("racebr")).unwrap().unwrap();
                assert!(st.is_bridge() && st.up && st.mtu == 1400);
                let bridges: Vec<_> = crate::netlink::testns::all_links(nl)
                    .into_iter()
                    .filter(LinkState::is_bridge)
                    .map(|l| l.name)
                    .collect();
                assert_eq!(bridges, ["racebr"]);
            },
        );
    }
}
