//! Reading links back ([`LinkState`]) and the generic link requests the other modules
//! share: MTU, master, up/down, delete.

use netlink_packet_core::NetlinkMessage;
use netlink_packet_route::link::{
    InfoBridge, InfoData, InfoVlan, LinkAttribute, LinkExtentMask, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::RouteNetlinkMessage;
use translator::IfName;

use super::error::Role;
use super::{message, Change, Netlink, NetlinkError, ACK, DUMP, GET};

/// A bridge's settings, as read back from the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BridgeState {
    /// Spanning tree enabled (kernel or user STP).
    pub stp: bool,
    /// VLAN filtering enabled.
    pub vlan_filtering: bool,
}

/// An 802.1Q VLAN device's settings, as read back from the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VlanLinkState {
    /// The VLAN id.
    pub id: u16,
}

/// A device's traffic counters (`IFLA_STATS64`), as seen from the host: `rx` is what
/// the device received (for a guest's vif or tap: what the guest sent), `tx` what it
/// sent (what the guest received).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LinkCounters {
    /// Bytes received.
    pub rx_bytes: u64,
    /// Packets received.
    pub rx_packets: u64,
    /// Received packets dropped.
    pub rx_dropped: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Packets dropped on send.
    pub tx_dropped: u64,
    /// Send errors.
    pub tx_errors: u64,
}

impl LinkCounters {
    /// Bytes both ways.
    pub fn bytes(&self) -> u64 {
        self.rx_bytes.saturating_add(self.tx_bytes)
    }
}

/// One network device as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkState {
    /// Interface index.
    pub index: u32,
    /// Name.
    pub name: String,
    /// Link kind (`bridge`, `veth`, `tun`, `vlan`, ...); `None` for devices without one
    /// (loopback, most physical NICs).
    pub kind: Option<String>,
    /// MTU.
    pub mtu: u32,
    /// The master's index (the bridge of a bridge port).
    pub master: Option<u32>,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    /// The lower device's index (`IFLA_LINK`; the uplink of a VLAN device, the peer of
    /// a veth).
    pub lower: Option<u32>,
    /// Bridge settings, for a bridge.
    pub bridge: Option<BridgeState>,
    /// VLAN settings, for an 802.1Q device.
    pub vlan: Option<VlanLinkState>,
    /// Traffic counters, when asked for ([`Netlink::links_with_counters`]); reads of one
    /// device skip them.
    pub counters: Option<LinkCounters>,
}

impl LinkState {
    /// Reads the state out of an `RTM_NEWLINK` message.
    pub(crate) fn from_message(msg: &LinkMessage) -> LinkState {
        let mut st = LinkState {
            index: msg.header.index,
            name: String::new(),
            kind: None,
            mtu: 0,
            master: None,
            up: msg.header.flags.contains(LinkFlags::Up),
            lower: None,
            bridge: None,
            vlan: None,
            counters: None,
        };
        for attr in &msg.attributes {
            match attr {
                LinkAttribute::Stats64(c) => {
                    st.counters = Some(LinkCounters {
                        rx_bytes: c.rx_bytes,
                        rx_packets: c.rx_packets,
                        rx_dropped: c.rx_dropped,
                        rx_errors: c.rx_errors,
                        tx_bytes: c.tx_bytes,
                        tx_packets: c.tx_packets,
                        tx_dropped: c.tx_dropped,
                        tx_errors: c.tx_errors,
                    });
                }
                LinkAttribute::IfName(n) => st.name = n.clone(),
                LinkAttribute::Mtu(m) => st.mtu = *m,
                LinkAttribute::Controller(m) if *m != 0 => st.master = Some(*m),
                LinkAttribute::Link(l) if *l != 0 => st.lower = Some(*l),
                LinkAttribute::LinkInfo(infos) => {
                    for info in infos {
                        match info {
                            LinkInfo::Kind(k) => st.kind = Some(k.to_string()),
                            LinkInfo::Data(InfoData::Bridge(opts)) => {
                                let mut b = BridgeState::default();
                                for o in opts {
                                    match o {
                                        InfoBridge::StpState(s) => b.stp = u32::from(*s) != 0,
                                        InfoBridge::VlanFiltering(v) => b.vlan_filtering = *v,
                                        _ => {}
                                    }
                                }
                                st.bridge = Some(b);
                            }
                            LinkInfo::Data(InfoData::Vlan(opts)) => {
                                st.vlan = opts.iter().find_map(|o| match o {
                                    InfoVlan::Id(id) => Some(VlanLinkState { id: *id }),
                                    _ => None,
                                });
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if st.kind.as_deref() == Some("bridge") && st.bridge.is_none() {
            st.bridge = Some(BridgeState::default());
        }
        st
    }

    /// Whether the device is a Linux bridge.
    pub fn is_bridge(&self) -> bool {
        self.kind.as_deref() == Some("bridge")
    }

    /// Whether the device is 802.1Q VLAN `id` on top of `lower`.
    pub fn is_vlan_of(&self, lower: &LinkState, id: u16) -> bool {
        self.kind.as_deref() == Some("vlan")
            && self.lower == Some(lower.index)
            && self.vlan.is_some_and(|v| v.id == id)
    }
}

/// An empty link message for the device `index`.
pub(crate) fn link_message(index: u32) -> LinkMessage {
    let mut m = LinkMessage::default();
    m.header.index = index;
    m
}

/// `RTM_GETLINK` for one name (skipping statistics).
pub(crate) fn get_by_name(name: &IfName) -> NetlinkMessage<RouteNetlinkMessage> {
    let mut m = LinkMessage::default();
    m.attributes.push(LinkAttribute::IfName(name.to_string()));
    m.attributes
        .push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
    message(RouteNetlinkMessage::GetLink(m), GET)
}

/// `RTM_GETLINK` for one index.
pub(crate) fn get_by_index(index: u32) -> NetlinkMessage<RouteNetlinkMessage> {
    let mut m = link_message(index);
    m.attributes
        .push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
    message(RouteNetlinkMessage::GetLink(m), GET)
}

/// `RTM_GETLINK` dump of every device, with its statistics.
pub(crate) fn dump_all() -> NetlinkMessage<RouteNetlinkMessage> {
    message(RouteNetlinkMessage::GetLink(LinkMessage::default()), DUMP)
}

/// `RTM_GETLINK` dump of the ports of `master` (the kernel filters on `IFLA_MASTER`;
/// callers filter again, for kernels that do not).
pub(crate) fn dump_ports(master: u32) -> NetlinkMessage<RouteNetlinkMessage> {
    let mut m = LinkMessage::default();
    m.attributes.push(LinkAttribute::Controller(master));
    m.attributes
        .push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
    message(RouteNetlinkMessage::GetLink(m), DUMP)
}

/// `ip link set INDEX mtu MTU`.
pub(crate) fn set_mtu(index: u32, mtu: u32) -> NetlinkMessage<RouteNetlinkMessage> {
    let mut m = link_message(index);
    m.attributes.push(LinkAttribute::Mtu(mtu));
    message(RouteNetlinkMessage::NewLink(m), ACK)
}

/// `ip link set INDEX master MASTER` (`nomaster` for 0).
pub(crate) fn set_master(index: u32, master: u32) -> NetlinkMessage<RouteNetlinkMessage> {
    let mut m = link_message(index);
    m.attributes.push(LinkAttribute::Controller(master));
    message(RouteNetlinkMessage::NewLink(m), ACK)
}

/// `ip link set INDEX up` or `down`.
pub(crate) fn set_up(index: u32, up: bool) -> NetlinkMessage<RouteNetlinkMessage> {
    let mut m = link_message(index);
    if up {
        m.header.flags = LinkFlags::Up;
    }
    m.header.change_mask = LinkFlags::Up;
    message(RouteNetlinkMessage::NewLink(m), ACK)
}

/// `ip link del INDEX`.
pub(crate) fn delete(index: u32) -> NetlinkMessage<RouteNetlinkMessage> {
    message(RouteNetlinkMessage::DelLink(link_message(index)), ACK)
}

fn links(replies: Vec<RouteNetlinkMessage>) -> impl Iterator<Item = LinkState> {
    replies.into_iter().filter_map(|r| match r {
        RouteNetlinkMessage::NewLink(m) => Some(LinkState::from_message(&m)),
        _ => None,
    })
}

impl Netlink {
    /// Renames the device `dev` to `to` (`ip link set DEV name TO`); the device must be
    /// down, as the kernel requires. A `dev` already called `to` is unchanged.
    pub fn rename_link(&self, dev: &IfName, to: &IfName) -> Result<Change, NetlinkError> {
        if dev == to {
            return Ok(Change::Unchanged);
        }
        let l = self.require(dev, Role::Port)?;
        let mut m = link_message(l.index);
        m.attributes.push(LinkAttribute::IfName(to.to_string()));
        self.ack(message(RouteNetlinkMessage::NewLink(m), ACK), "rename", dev)?;
        Ok(Change::Updated)
    }

    /// Sets the hardware address of `dev` (`ip link set DEV address MAC`).
    pub fn set_mac(&self, dev: &IfName, mac: [u8; 6]) -> Result<(), NetlinkError> {
        let l = self.require(dev, Role::Port)?;
        let mut m = link_message(l.index);
        m.attributes.push(LinkAttribute::Address(mac.to_vec()));
        self.ack(
            message(RouteNetlinkMessage::NewLink(m), ACK),
            "set the MAC address of",
            dev,
        )
    }

    /// The device called `name`, or `None` if there is none.
    pub fn link(&self, name: &IfName) -> Result<Option<LinkState>, NetlinkError> {
        match self.call(get_by_name(name), "read", name) {
            Ok(r) => Ok(links(r).next()),
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The device with interface index `index`, or `None` if there is none.
    pub fn link_by_index(&self, index: u32) -> Result<Option<LinkState>, NetlinkError> {
        match self.call(get_by_index(index), "read", &format!("ifindex {index}")) {
            Ok(r) => Ok(links(r).next()),
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every device of this network namespace, with its traffic counters, in one dump
    /// (one consistent reading, as `ip -s link` gives), by interface index.
    pub fn links_with_counters(&self) -> Result<Vec<LinkState>, NetlinkError> {
        let r = self.call(dump_all(), "list", "the network devices")?;
        let mut all: Vec<LinkState> = links(r).collect();
        all.sort_by_key(|l| l.index);
        Ok(all)
    }

    /// The devices whose master is `master` (a bridge's ports), in one dump the kernel
    /// filters (cheap however many devices the host has).
    pub fn ports_of(&self, master: &LinkState) -> Result<Vec<LinkState>, NetlinkError> {
        let r = self.call(dump_ports(master.index), "list the ports of", &master.name)?;
        Ok(links(r)
            .filter(|l| l.master == Some(master.index))
            .collect())
    }

    /// The device called `name`, which must exist: [`NetlinkError::NoDevice`] otherwise.
    pub(crate) fn require(
        &self,
        name: &IfName,
        role: super::Role,
    ) -> Result<LinkState, NetlinkError> {
        self.link(name)?.ok_or_else(|| NetlinkError::NoDevice {
            role,
            name: name.clone(),
        })
    }

    /// The bridge called `name`: [`NetlinkError::NoDevice`] if missing,
    /// [`NetlinkError::NotABridge`] if it is another kind of device.
    pub fn require_bridge(&self, name: &IfName) -> Result<LinkState, NetlinkError> {
        let br = self.require(name, super::Role::Bridge)?;
        if !br.is_bridge() {
            return Err(NetlinkError::NotABridge {
                name: name.clone(),
                kind: br.kind,
            });
        }
        Ok(br)
    }
}

impl Netlink {
    /// Deletes the VLAN device `UPLINK.VLAN` that [`Netlink::ensure_uplink_vlan`] makes,
    /// when it is VLAN `vlan_id` of `uplink` and no bridge's port any more: the undo of
    /// a bridge's construction. [`Change::Unchanged`] when there is no such device, or
    /// when the device of that name is something else or still a port (left alone).
    pub fn remove_uplink_vlan(
        &self,
        uplink: &IfName,
        vlan_id: u16,
    ) -> Result<Change, NetlinkError> {
        let name = vlan_device_name(uplink, vlan_id)?;
        let (Some(dev), Some(up)) = (self.link(&name)?, self.link(uplink)?) else {
            return Ok(Change::Unchanged);
        };
        if !dev.is_vlan_of(&up, vlan_id) || dev.master.is_some() {
            return Ok(Change::Unchanged);
        }
        match self.ack(delete(dev.index), "delete VLAN device", &name) {
            Ok(()) => Ok(Change::Removed),
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(Change::Unchanged),
            Err(e) => Err(e),
        }
    }
}

/// The name of VLAN `id` on `uplink`: `UPLINK.ID`.
pub(crate) fn vlan_device_name(uplink: &IfName, id: u16) -> Result<IfName, NetlinkError> {
    let name = format!("{uplink}.{id}");
    IfName::new(name.clone()).map_err(|source| NetlinkError::BadName { name, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::wire;
    use netlink_packet_core::{NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};
    use netlink_packet_route::link::{BridgeStpState, InfoKind};

    fn link_of(m: RouteNetlinkMessage) -> LinkMessage {
        match m {
            RouteNetlinkMessage::NewLink(l)
            | RouteNetlinkMessage::GetLink(l)
            | RouteNetlinkMessage::DelLink(l)
            | RouteNetlinkMessage::SetLink(l) => l,
            other => panic!("not a link message: {other:?}"),
        }
    }

    #[test]
    fn set_requests_carry_only_what_they_change() {
        let m = set_mtu(7, 9000);
        assert_eq!(m.header.flags, NLM_F_REQUEST | NLM_F_ACK);
        let l = link_of(wire(&m));
        assert_eq!(l.header.index, 7);
        assert_eq!(l.attributes, vec![LinkAttribute::Mtu(9000)]);

        let l = link_of(wire(&set_master(7, 3)));
        assert_eq!(l.attributes, vec![LinkAttribute::Controller(3)]);

        let l = link_of(wire(&set_up(7, true)));
        assert_eq!(l.header.flags, LinkFlags::Up);
        assert_eq!(l.header.change_mask, LinkFlags::Up);
        assert!(l.attributes.is_empty());
        let l = link_of(wire(&set_up(7, false)));
        assert_eq!(l.header.flags, LinkFlags::empty());
        assert_eq!(l.header.change_mask, LinkFlags::Up);

        assert!(matches!(wire(&delete(7)), RouteNetlinkMessage::DelLink(_)));
    }

    #[test]
    fn lookups() {
        let name = IfName::new("vif5.2-emu").unwrap();
        let m = get_by_name(&name);
        assert_eq!(m.header.flags, NLM_F_REQUEST);
        let l = link_of(wire(&m));
        assert!(l
            .attributes
            .contains(&LinkAttribute::IfName("vif5.2-emu".into())));
        let m = dump_ports(4);
        assert_eq!(m.header.flags, NLM_F_REQUEST | NLM_F_DUMP);
        assert!(link_of(wire(&m))
            .attributes
            .contains(&LinkAttribute::Controller(4)));
    }

    #[test]
    fn state_is_read_from_a_bridge_message() {
        let mut m = link_message(4);
        m.header.flags = LinkFlags::Up | LinkFlags::Broadcast;
        m.attributes = vec![
            LinkAttribute::IfName("xenbr0".into()),
            LinkAttribute::Mtu(9000),
            LinkAttribute::LinkInfo(vec![
                LinkInfo::Kind(InfoKind::Bridge),
                LinkInfo::Data(InfoData::Bridge(vec![
                    InfoBridge::StpState(BridgeStpState::KernelStp),
                    InfoBridge::VlanFiltering(true),
                ])),
            ]),
        ];
        let st = LinkState::from_message(&m);
        assert_eq!(st.name, "xenbr0");
        assert_eq!(st.mtu, 9000);
        assert!(st.up && st.is_bridge());
        assert_eq!(
            st.bridge,
            Some(BridgeState {
                stp: true,
                vlan_filtering: true
            })
        );
        assert_eq!(st.master, None);
    }

    #[test]
    fn state_is_read_from_a_vlan_port_message() {
        let mut m = link_message(9);
        m.attributes = vec![
            LinkAttribute::IfName("eth0.10".into()),
            LinkAttribute::Mtu(1500),
            LinkAttribute::Controller(4),
            LinkAttribute::Link(2),
            LinkAttribute::LinkInfo(vec![
                LinkInfo::Kind(InfoKind::Vlan),
                LinkInfo::Data(InfoData::Vlan(vec![InfoVlan::Id(10)])),
            ]),
        ];
        let st = LinkState::from_message(&m);
        assert!(!st.up && !st.is_bridge());
        assert_eq!(st.kind.as_deref(), Some("vlan"));
        assert_eq!(st.vlan, Some(VlanLinkState { id: 10 }));
        assert_eq!((st.master, st.lower), (Some(4), Some(2)));
    }

    #[test]
    #[ignore = "needs root: network namespaces"]
    fn remove_uplink_vlan_leaves_what_is_not_its_device_alone() {
        crate::netlink::testns::in_netns("remove_uplink_vlan_leaves_others_alone", |nl| {
            let up = crate::netlink::testns::veth(nl, "up0", "up0p");
            // No such device: nothing to do.
            assert_eq!(nl.remove_uplink_vlan(&up, 900).unwrap(), Change::Unchanged);
            // A device of that name that is not a VLAN device stays.
            crate::netlink::testns::veth(nl, "up0.900", "otherp");
            assert_eq!(nl.remove_uplink_vlan(&up, 900).unwrap(), Change::Unchanged);
            assert!(nl.link(&IfName::new("up0.900").unwrap()).unwrap().is_some());
        });
    }

    #[test]
    #[ignore = "needs root: network namespaces"]
    fn kernel_with_8021q_remove_uplink_vlan_removes_its_device_once_detached() {
        crate::netlink::testns::in_netns("remove_uplink_vlan_of_a_real_device", |nl| {
            let up = crate::netlink::testns::veth(nl, "up0", "up0p");
            let br = IfName::new("br9").unwrap();
            nl.ensure_bridge(&br, &crate::netlink::BridgeConfig::default())
                .unwrap();
            let (dev, _) =
                crate::netlink::testns::Kernel::Vlan8021q.has(nl.ensure_uplink_vlan(&up, 901, &br));
            // Still a port: left alone.
            assert_eq!(nl.remove_uplink_vlan(&up, 901).unwrap(), Change::Unchanged);
            nl.detach_port(&dev, &br).unwrap();
            assert_eq!(nl.remove_uplink_vlan(&up, 901).unwrap(), Change::Removed);
            assert!(nl.link(&dev).unwrap().is_none());
        });
    }
}
