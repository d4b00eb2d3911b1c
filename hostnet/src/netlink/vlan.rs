//! VLANs: an 802.1Q uplink device on a bridge ([`Netlink::ensure_uplink_vlan`]) and
//! the VLANs a bridge port carries under VLAN filtering ([`Netlink::set_port_vlans`],
//! Xen's `vlan=` through [`PortVlans::from`]`(&VlanSpec)`).

use std::collections::BTreeMap;

use netlink_packet_core::NetlinkMessage;
use netlink_packet_route::link::{
    AfSpecBridge, BridgeVlanInfo, BridgeVlanInfoFlags, InfoData, InfoKind, InfoVlan, LinkAttribute,
    LinkExtentMask, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use translator::vlan::{VlanMode, VlanSpec, VLAN_MAX, VLAN_MIN};
use translator::IfName;

use super::link::{link_message, vlan_device_name, LinkState};
use super::port::PortMtu;
use super::{message, Change, Netlink, NetlinkError, Role, Undo, ACK, CREATE_EXCL, DUMP};

/// The feature per-port VLAN requests need.
const FILTERING: &str = "bridge VLAN filtering";

/// One VLAN on a bridge port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortVlan {
    /// The VLAN id, 1 to 4094.
    pub id: u16,
    /// Untagged frames arriving on the port join this VLAN (at most one per port).
    pub pvid: bool,
    /// Frames of this VLAN leave the port untagged.
    pub untagged: bool,
}

impl PortVlan {
    fn flags(self) -> BridgeVlanInfoFlags {
        let mut f = BridgeVlanInfoFlags::empty();
        f.set(BridgeVlanInfoFlags::Pvid, self.pvid);
        f.set(BridgeVlanInfoFlags::Untagged, self.untagged);
        f
    }
}

/// The VLANs of a bridge port: ids 1 to 4094, each once, sorted, at most one PVID.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PortVlans {
    vlans: Vec<PortVlan>,
}

impl PortVlans {
    /// Checks and sorts a VLAN list. An empty list is allowed: the port then carries no
    /// VLAN at all (the bridge drops its traffic).
    pub fn new(mut vlans: Vec<PortVlan>) -> Result<PortVlans, NetlinkError> {
        let invalid = |why: String| NetlinkError::Invalid {
            what: "port VLAN list",
            why,
        };
        vlans.sort();
        for v in &vlans {
            if !(VLAN_MIN..=VLAN_MAX).contains(&v.id) {
                return Err(invalid(format!("VLAN id {} is outside 1-4094", v.id)));
            }
        }
        if let Some(w) = vlans.windows(2).find(|w| w[0].id == w[1].id) {
            return Err(invalid(format!("VLAN {} is given twice", w[0].id)));
        }
        if vlans.iter().filter(|v| v.pvid).count() > 1 {
            return Err(invalid("more than one PVID".to_owned()));
        }
        Ok(PortVlans { vlans })
    }

    /// The VLANs, by id.
    pub fn vlans(&self) -> &[PortVlan] {
        &self.vlans
    }

    /// The PVID, if any.
    pub fn pvid(&self) -> Option<u16> {
        self.vlans.iter().find(|v| v.pvid).map(|v| v.id)
    }
}

impl From<&VlanSpec> for PortVlans {
    /// Xen's `vlan=` as its `vif-bridge` applies it: the PVID `pvid untagged`, `u` ids
    /// `untagged`, the rest tagged; VLAN 1 only if listed (the kernel's default VLAN 1
    /// is removed by [`Netlink::set_port_vlans`] like any unlisted VLAN).
    fn from(spec: &VlanSpec) -> PortVlans {
        let mut vlans: Vec<PortVlan> = spec
            .entries()
            .iter()
            .map(|e| PortVlan {
                id: e.id,
                pvid: e.mode == VlanMode::Pvid,
                untagged: e.mode != VlanMode::Tagged,
            })
            .collect();
        // A VlanSpec has valid, unique ids and one PVID: sorting is all that is left.
        vlans.sort();
        PortVlans { vlans }
    }
}

/// The `IFLA_BRIDGE_VLAN_INFO` entries for `vlans` (sorted by id), runs of
/// consecutive ids with equal flags sent as one range (never the PVID, which the
/// kernel refuses in a range).
fn vlan_infos(vlans: &[PortVlan]) -> Vec<AfSpecBridge> {
    let info = |vid, flags| AfSpecBridge::VlanInfo(BridgeVlanInfo { flags, vid });
    let mut out = Vec::new();
    let mut i = 0;
    while i < vlans.len() {
        let first = vlans[i];
        let mut j = i;
        while !first.pvid
            && j + 1 < vlans.len()
            && vlans[j + 1].id == vlans[j].id + 1
            && vlans[j + 1].flags() == first.flags()
        {
            j += 1;
        }
        if j == i {
            out.push(info(first.id, first.flags()));
        } else {
            out.push(info(
                first.id,
                first.flags() | BridgeVlanInfoFlags::RangeBegin,
            ));
            out.push(info(
                vlans[j].id,
                first.flags() | BridgeVlanInfoFlags::RangeEnd,
            ));
        }
        i = j + 1;
    }
    out
}

fn bridge_port_message(index: u32, vlans: &[PortVlan]) -> LinkMessage {
    let mut m = link_message(index);
    m.header.interface_family = AddressFamily::Bridge;
    m.attributes
        .push(LinkAttribute::AfSpecBridge(vlan_infos(vlans)));
    m
}

/// `bridge vlan add dev PORT vid ID [pvid] [untagged]` for each VLAN, in one
/// `RTM_SETLINK` (`AF_BRIDGE`, `IFLA_AF_SPEC`/`IFLA_BRIDGE_VLAN_INFO`).
pub(crate) fn add_vlans(index: u32, vlans: &[PortVlan]) -> NetlinkMessage<RouteNetlinkMessage> {
    message(
        RouteNetlinkMessage::SetLink(bridge_port_message(index, vlans)),
        ACK,
    )
}

/// `bridge vlan del dev PORT vid ID` for each id, in one `RTM_DELLINK` of family
/// `AF_BRIDGE` (which removes VLANs, never the device).
pub(crate) fn del_vlans(index: u32, ids: &[u16]) -> NetlinkMessage<RouteNetlinkMessage> {
    let vlans: Vec<PortVlan> = ids
        .iter()
        .map(|&id| PortVlan {
            id,
            pvid: false,
            untagged: false,
        })
        .collect();
    message(
        RouteNetlinkMessage::DelLink(bridge_port_message(index, &vlans)),
        ACK,
    )
}

/// `bridge vlan show`: a dump of bridge ports with their VLANs.
pub(crate) fn dump_port_vlans() -> NetlinkMessage<RouteNetlinkMessage> {
    let mut m = LinkMessage::default();
    m.header.interface_family = AddressFamily::Bridge;
    m.attributes
        .push(LinkAttribute::ExtMask(vec![LinkExtentMask::Brvlan]));
    message(RouteNetlinkMessage::GetLink(m), DUMP)
}

/// The VLANs of port `index` in a [`dump_port_vlans`] reply, by id.
pub(crate) fn port_vlans_in(
    replies: &[RouteNetlinkMessage],
    index: u32,
) -> BTreeMap<u16, PortVlan> {
    let mut out = BTreeMap::new();
    for r in replies {
        let RouteNetlinkMessage::NewLink(m) = r else {
            continue;
        };
        if m.header.index != index {
            continue;
        }
        let mut range_start = None;
        for a in &m.attributes {
            let LinkAttribute::AfSpecBridge(specs) = a else {
                continue;
            };
            for s in specs {
                let AfSpecBridge::VlanInfo(v) = s else {
                    continue;
                };
                let pv = |id| PortVlan {
                    id,
                    pvid: v.flags.contains(BridgeVlanInfoFlags::Pvid),
                    untagged: v.flags.contains(BridgeVlanInfoFlags::Untagged),
                };
                if v.flags.contains(BridgeVlanInfoFlags::RangeBegin) {
                    range_start = Some(v.vid);
                } else if v.flags.contains(BridgeVlanInfoFlags::RangeEnd) {
                    for id in range_start.take().unwrap_or(v.vid)..=v.vid {
                        out.insert(id, pv(id));
                    }
                } else {
                    out.insert(v.vid, pv(v.vid));
                }
            }
        }
    }
    out
}

/// `ip link add NAME link UPLINK master BRIDGE up type vlan id ID`: one request, so
/// the kernel itself removes the new device if enslaving or bringing it up fails.
pub(crate) fn create_vlan_device(
    name: &IfName,
    uplink: u32,
    id: u16,
    bridge: u32,
) -> NetlinkMessage<RouteNetlinkMessage> {
    let mut m = LinkMessage::default();
    m.header.flags = LinkFlags::Up;
    m.header.change_mask = LinkFlags::Up;
    m.attributes.push(LinkAttribute::IfName(name.to_string()));
    m.attributes.push(LinkAttribute::Link(uplink));
    m.attributes.push(LinkAttribute::Controller(bridge));
    m.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Vlan),
        LinkInfo::Data(InfoData::Vlan(vec![InfoVlan::Id(id)])),
    ]));
    message(RouteNetlinkMessage::NewLink(m), CREATE_EXCL)
}

fn check_vlan_id(id: u16) -> Result<u16, NetlinkError> {
    if (VLAN_MIN..=VLAN_MAX).contains(&id) {
        Ok(id)
    } else {
        Err(NetlinkError::Invalid {
            what: "VLAN id",
            why: format!("{id} is outside 1-4094"),
        })
    }
}

impl Netlink {
    /// Makes sure the 802.1Q device `UPLINK.VLAN` exists on `uplink`, is up and is a
    /// port of `bridge`; returns its name. The uplink itself is not changed.
    ///
    /// A new device is created, enslaved and brought up in one request (the kernel
    /// removes it again if a part fails). An existing one must be VLAN `vlan_id` of
    /// `uplink` ([`NetlinkError::VlanMismatch`] otherwise); it is then attached like
    /// any port, keeping its MTU, with the same undo on failure. A kernel without
    /// 802.1Q support gives [`NetlinkError::Unsupported`].
    pub fn ensure_uplink_vlan(
        &self,
        uplink: &IfName,
        vlan_id: u16,
        bridge: &IfName,
    ) -> Result<(IfName, Change), NetlinkError> {
        check_vlan_id(vlan_id)?;
        let name = vlan_device_name(uplink, vlan_id)?;
        let br = self.require_bridge(bridge)?;
        let up = self.require(uplink, Role::Uplink)?;
        let existing = match self.link(&name)? {
            Some(l) => l,
            None => {
                match self.ack(
                    create_vlan_device(&name, up.index, vlan_id, br.index),
                    "create VLAN device",
                    &name,
                ) {
                    Ok(()) => return Ok((name, Change::Created)),
                    Err(e) if e.errno() == Some(libc::EEXIST) => self.require(&name, Role::Port)?,
                    Err(e) => return Err(e.unsupported_if(&[], "802.1Q VLAN devices")),
                }
            }
        };
        if !existing.is_vlan_of(&up, vlan_id) {
            return Err(NetlinkError::VlanMismatch {
                name,
                id: vlan_id,
                uplink: uplink.clone(),
            });
        }
        let change = self.attach(&name, &existing, &br, PortMtu::Keep)?;
        Ok((name, change))
    }

    /// The VLANs on bridge port `port` as the kernel reports them (empty on a kernel
    /// without VLAN filtering).
    pub fn port_vlans(&self, port: &IfName) -> Result<PortVlans, NetlinkError> {
        let p = self.require(port, Role::Port)?;
        let replies = self.call(dump_port_vlans(), "list the VLANs of", port)?;
        Ok(PortVlans {
            vlans: port_vlans_in(&replies, p.index).into_values().collect(),
        })
    }

    /// Makes the bridge port `port` carry exactly `vlans`: missing VLANs are added,
    /// VLANs whose PVID/untagged flags differ are updated, and VLANs not listed
    /// (including the kernel's default VLAN 1) are removed, as Xen's `vlan=` asks.
    ///
    /// The port must be on a bridge ([`NetlinkError::NotAPort`]) with VLAN filtering
    /// on ([`NetlinkError::VlanFilteringOff`]), since otherwise the VLANs would not
    /// isolate anything. On failure the port's previous VLANs are restored. A kernel
    /// without bridge VLAN filtering gives [`NetlinkError::Unsupported`].
    pub fn set_port_vlans(&self, port: &IfName, vlans: &PortVlans) -> Result<Change, NetlinkError> {
        let p = self.require(port, Role::Port)?;
        let not_a_port = || NetlinkError::NotAPort { port: port.clone() };
        let master = p.master.ok_or_else(not_a_port)?;
        let br = self.link_by_index(master)?.ok_or_else(not_a_port)?;
        if !br.is_bridge() {
            return Err(not_a_port());
        }
        if !br.bridge.unwrap_or_default().vlan_filtering {
            let bridge = super::reported_name(&br.name).ok_or_else(not_a_port)?;
            return Err(NetlinkError::VlanFilteringOff { bridge });
        }
        let replies = self.call(dump_port_vlans(), "list the VLANs of", port)?;
        let before = port_vlans_in(&replies, p.index);
        self.apply_port_vlans(port, &p, &before, vlans)
            .map_err(|e| e.unsupported_if(&[], FILTERING))
    }

    /// Sends the difference between `before` and `want`, undoing on failure.
    fn apply_port_vlans(
        &self,
        port: &IfName,
        p: &LinkState,
        before: &BTreeMap<u16, PortVlan>,
        want: &PortVlans,
    ) -> Result<Change, NetlinkError> {
        let to_set: Vec<PortVlan> = want
            .vlans
            .iter()
            .copied()
            .filter(|v| before.get(&v.id) != Some(v))
            .collect();
        let to_del: Vec<u16> = before
            .keys()
            .copied()
            .filter(|id| !want.vlans.iter().any(|v| v.id == *id))
            .collect();
        if to_set.is_empty() && to_del.is_empty() {
            return Ok(Change::Unchanged);
        }
        // Undo steps are recorded before each request: the kernel applies a list entry
        // by entry, so a refused request may have applied part of it.
        let mut undo = Undo::default();
        let result = (|| {
            if !to_set.is_empty() {
                let (old, new): (Vec<PortVlan>, Vec<PortVlan>) =
                    to_set.iter().partition(|v| before.contains_key(&v.id));
                if !new.is_empty() {
                    let ids: Vec<u16> = new.iter().map(|v| v.id).collect();
                    undo.push(
                        del_vlans(p.index, &ids),
                        "remove VLANs from",
                        port.as_str(),
                        &[libc::ENOENT],
                    );
                }
                if !old.is_empty() {
                    let restore: Vec<PortVlan> = old
                        .iter()
                        .filter_map(|v| before.get(&v.id).copied())
                        .collect();
                    undo.push(
                        add_vlans(p.index, &restore),
                        "restore VLANs of",
                        port.as_str(),
                        &[],
                    );
                }
                self.ack(add_vlans(p.index, &to_set), "add VLANs to", port)?;
            }
            self.failpoint("vlan: after add", port)?;
            if !to_del.is_empty() {
                let restore: Vec<PortVlan> = to_del
                    .iter()
                    .filter_map(|id| before.get(id).copied())
                    .collect();
                undo.push(
                    add_vlans(p.index, &restore),
                    "restore VLANs of",
                    port.as_str(),
                    &[],
                );
                self.ack(del_vlans(p.index, &to_del), "remove VLANs from", port)?;
            }
            Ok(())
        })();
        match result {
            Ok(()) => Ok(Change::Updated),
            Err(e) => Err(self.rollback(undo, e, port)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::testns::{in_netns, veth, Kernel};
    use crate::netlink::{wire, BridgeConfig};
    use netlink_packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST};

    fn n(s: &str) -> IfName {
        IfName::new(s).unwrap()
    }

    fn spec(s: &str) -> PortVlans {
        PortVlans::from(&s.parse::<VlanSpec>().unwrap())
    }

    fn link(m: RouteNetlinkMessage) -> LinkMessage {
        match m {
            RouteNetlinkMessage::SetLink(l)
            | RouteNetlinkMessage::DelLink(l)
            | RouteNetlinkMessage::NewLink(l)
            | RouteNetlinkMessage::GetLink(l) => l,
            other => panic!("{other:?}"),
        }
    }

    /// (vid, flags) of the IFLA_BRIDGE_VLAN_INFO entries, after a trip through the
    /// wire format.
    fn infos(l: &LinkMessage) -> Vec<(u16, BridgeVlanInfoFlags)> {
        l.attributes
            .iter()
            .flat_map(|a| match a {
                LinkAttribute::AfSpecBridge(s) => s.clone(),
                _ => vec![],
            })
            .map(|s| match s {
                AfSpecBridge::VlanInfo(v) => (v.vid, v.flags),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    const P: BridgeVlanInfoFlags = BridgeVlanInfoFlags::Pvid;
    const U: BridgeVlanInfoFlags = BridgeVlanInfoFlags::Untagged;
    const B: BridgeVlanInfoFlags = BridgeVlanInfoFlags::RangeBegin;
    const E: BridgeVlanInfoFlags = BridgeVlanInfoFlags::RangeEnd;
    const T: BridgeVlanInfoFlags = BridgeVlanInfoFlags::empty();

    #[test]
    fn xen_vlan_spec_maps_to_port_flags() {
        let v = spec("10p/20u/30");
        assert_eq!(v.pvid(), Some(10));
        assert_eq!(
            v.vlans(),
            &[
                PortVlan {
                    id: 10,
                    pvid: true,
                    untagged: true
                },
                PortVlan {
                    id: 20,
                    pvid: false,
                    untagged: true
                },
                PortVlan {
                    id: 30,
                    pvid: false,
                    untagged: false
                },
            ]
        );
        // A lone id is the PVID, untagged.
        assert_eq!(
            spec("100").vlans(),
            &[PortVlan {
                id: 100,
                pvid: true,
                untagged: true
            }]
        );
    }

    #[test]
    fn set_message_is_af_bridge_setlink_with_vlan_infos() {
        let m = add_vlans(7, spec("10p/20u/30").vlans());
        assert_eq!(m.header.flags, NLM_F_REQUEST | NLM_F_ACK);
        let back = wire(&m);
        assert!(matches!(back, RouteNetlinkMessage::SetLink(_)));
        let l = link(back);
        assert_eq!(l.header.index, 7);
        assert_eq!(l.header.interface_family, AddressFamily::Bridge);
        assert_eq!(infos(&l), vec![(10, P | U), (20, U), (30, T)]);
    }

    #[test]
    fn the_wire_bytes_are_the_kernel_layout() {
        let bytes = crate::netlink::to_bytes(&add_vlans(7, spec("10p").vlans()));
        // nlmsghdr: type RTM_SETLINK (19).
        assert_eq!(u16::from_ne_bytes([bytes[4], bytes[5]]), 19);
        // ifinfomsg: family AF_BRIDGE (7), index 7.
        assert_eq!(bytes[16], 7);
        assert_eq!(u32::from_ne_bytes(bytes[20..24].try_into().unwrap()), 7);
        // IFLA_AF_SPEC (26) holding IFLA_BRIDGE_VLAN_INFO (2) = {flags, vid}.
        let attrs: Vec<_> = crate::netlink::tlvs(&bytes[32..]).collect();
        assert_eq!(attrs.len(), 1);
        assert_eq!(attrs[0].0 & 0x3fff, 26);
        let inner: Vec<_> = crate::netlink::tlvs(attrs[0].1).collect();
        let flags = 0x2u16 | 0x4; // BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED
        let mut want = flags.to_ne_bytes().to_vec();
        want.extend(10u16.to_ne_bytes());
        assert_eq!(inner, vec![(2, &want[..])]);
    }

    #[test]
    fn runs_become_ranges_but_never_with_the_pvid() {
        let v = spec("100p/101-110/200-202u/300+10x3");
        let l = link(wire(&add_vlans(3, v.vlans())));
        assert_eq!(
            infos(&l),
            vec![
                (100, P | U),
                (101, B),
                (110, E),
                (200, U | B),
                (202, U | E),
                (300, T),
                (310, T),
                (320, T),
            ]
        );
        // Parsing a reply expands ranges again.
        let parsed = port_vlans_in(&[RouteNetlinkMessage::NewLink(l)], 3);
        assert_eq!(parsed.into_values().collect::<Vec<_>>(), v.vlans());
    }

    #[test]
    fn delete_message_is_af_bridge_dellink_never_a_device_delete() {
        let m = del_vlans(7, &[1, 2, 3, 9]);
        let l = link(wire(&m));
        assert_eq!(l.header.interface_family, AddressFamily::Bridge);
        assert_eq!(infos(&l), vec![(1, B), (3, E), (9, T)]);
        assert!(matches!(wire(&m), RouteNetlinkMessage::DelLink(_)));
    }

    #[test]
    fn dump_asks_for_bridge_vlans() {
        let m = dump_port_vlans();
        assert_eq!(m.header.flags, NLM_F_REQUEST | NLM_F_DUMP);
        let l = link(wire(&m));
        assert_eq!(l.header.interface_family, AddressFamily::Bridge);
        assert!(l
            .attributes
            .contains(&LinkAttribute::ExtMask(vec![LinkExtentMask::Brvlan])));
    }

    #[test]
    fn vlan_device_message_creates_enslaves_and_ups_at_once() {
        let m = create_vlan_device(&n("eth0.10"), 2, 10, 4);
        assert_eq!(
            m.header.flags,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
        );
        let l = link(wire(&m));
        assert_eq!(l.header.flags, LinkFlags::Up);
        let st = LinkState::from_message(&l);
        assert_eq!(st.name, "eth0.10");
        assert_eq!(st.kind.as_deref(), Some("vlan"));
        assert_eq!(st.vlan.map(|v| v.id), Some(10));
        assert_eq!((st.lower, st.master, st.up), (Some(2), Some(4), true));
    }

    #[test]
    fn names_and_ids_are_checked() {
        assert_eq!(
            vlan_device_name(&n("eth0"), 10).unwrap().as_str(),
            "eth0.10"
        );
        let e = vlan_device_name(&n("enp0s31f6abcd"), 4094).unwrap_err();
        assert!(matches!(e, NetlinkError::BadName { .. }), "{e}");
        assert!(check_vlan_id(0).is_err() && check_vlan_id(4095).is_err());
        let pv = |id, pvid| PortVlan {
            id,
            pvid,
            untagged: pvid,
        };
        assert!(PortVlans::new(vec![pv(1, true), pv(2, true)]).is_err());
        assert!(PortVlans::new(vec![pv(5, false), pv(5, true)]).is_err());
        assert!(PortVlans::new(vec![pv(4095, false)]).is_err());
        let ok = PortVlans::new(vec![pv(20, false), pv(10, true)]).unwrap();
        assert_eq!(ok.vlans()[0].id, 10);
    }

    // ---- against the kernel ----

    #[test]
    #[ignore = "needs root: network namespaces"]
    fn kernel_a_missing_uplink_is_named() {
        in_netns("vlan_no_uplink", |nl| {
            let br = n("br900");
            nl.ensure_bridge(&br, &BridgeConfig::default()).unwrap();
            let e = nl.ensure_uplink_vlan(&n("eth9"), 900, &br).unwrap_err();
            assert_eq!(e.to_string(), "The uplink eth9 does not exist");
        });
    }

    #[test]
    #[ignore = "needs root: network namespaces"]
    fn kernel_with_8021q_the_uplink_vlan_device_is_made_once() {
        in_netns("vlan_uplink", |nl| {
            let br = n("br900");
            nl.ensure_bridge(&br, &BridgeConfig::default()).unwrap();
            let uplink = veth(nl, "eth0", "eth0-peer");
            let (name, change) = Kernel::Vlan8021q.has(nl.ensure_uplink_vlan(&uplink, 900, &br));
            assert_eq!((name.as_str(), change), ("eth0.900", Change::Created));
            let st = nl.link(&name).unwrap().unwrap();
            let bri = nl.link(&br).unwrap().unwrap().index;
            assert_eq!((st.master, st.up), (Some(bri), true));
            let again = nl.ensure_uplink_vlan(&uplink, 900, &br).unwrap();
            assert_eq!(again.1, Change::Unchanged);
        });
    }

    #[test]
    #[ignore = "needs root: network namespaces"]
    fn kernel_without_8021q_the_uplink_vlan_is_refused_by_name() {
        in_netns("vlan_no_8021q", |nl| {
            let br = n("br900");
            nl.ensure_bridge(&br, &BridgeConfig::default()).unwrap();
            let uplink = veth(nl, "eth0", "eth0-peer");
            let e = Kernel::Vlan8021q.lacks(nl.ensure_uplink_vlan(&uplink, 900, &br));
            assert!(e.to_string().contains("lacks 802.1Q VLAN devices"), "{e}");
            assert!(nl.link(&n("eth0.900")).unwrap().is_none());
        });
    }

    /// Per-port VLANs on a bridge without VLAN filtering are refused before the
    /// kernel, whatever the kernel.
    #[test]
    #[ignore = "needs root: network namespaces"]
    fn kernel_port_vlans_need_a_filtering_bridge() {
        in_netns("vlan_port_nofilter", |nl| {
            let br = n("xenbr0");
            let port = veth(nl, "vif5.2", "vif5.2-guest");
            nl.ensure_bridge(&br, &BridgeConfig::default()).unwrap();
            nl.attach_port(&port, &br, None).unwrap();
            let e = nl.set_port_vlans(&port, &spec("10p/20")).unwrap_err();
            assert!(matches!(e, NetlinkError::VlanFilteringOff { .. }), "{e}");
        });
    }

    #[test]
    #[ignore = "needs root: network namespaces"]
    fn kernel_with_vlan_filtering_port_vlans_are_set_and_restored() {
        in_netns("vlan_port", |nl| {
            let br = n("xenbr0");
            let cfg = BridgeConfig {
                vlan_filtering: true,
                ..BridgeConfig::default()
            };
            let port = veth(nl, "vif5.2", "vif5.2-guest");
            Kernel::VlanFiltering.has(nl.ensure_bridge(&br, &cfg));
            nl.attach_port(&port, &br, None).unwrap();
            let want = spec("10p/20u/30-32");
            assert_eq!(nl.set_port_vlans(&port, &want).unwrap(), Change::Updated);
            assert_eq!(nl.port_vlans(&port).unwrap(), want);
            assert_eq!(nl.set_port_vlans(&port, &want).unwrap(), Change::Unchanged);
            // A failure half-way restores the previous VLANs.
            nl.fail_at(Some("vlan: after add"));
            assert!(nl.set_port_vlans(&port, &spec("40p")).is_err());
            nl.fail_at(None);
            assert_eq!(nl.port_vlans(&port).unwrap(), want);
        });
    }
}
