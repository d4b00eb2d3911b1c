//! Addresses and host routes, for routed guests (Xen's `vif-route`): dom0's address on
//! the vif as a /32 (or /128), a host route per guest address through the vif, and
//! `proxy_arp` on the vif.

use std::net::IpAddr;

use netlink_packet_core::NetlinkMessage;
use netlink_packet_route::address::{AddressAttribute, AddressMessage, AddressScope};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use translator::IfName;

use super::error::Role;
use super::{message, Change, Netlink, NetlinkError, ACK, CREATE_EXCL, DUMP};

fn family(addr: &IpAddr) -> AddressFamily {
    match addr {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

fn full_prefix(addr: &IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
}

fn route_address(addr: IpAddr) -> RouteAddress {
    match addr {
        IpAddr::V4(a) => RouteAddress::Inet(a),
        IpAddr::V6(a) => RouteAddress::Inet6(a),
    }
}

/// `ip addr add ADDR/PREFIX dev INDEX` (or `del`).
pub(crate) fn address_request(
    index: u32,
    addr: IpAddr,
    prefix: u8,
    add: bool,
) -> NetlinkMessage<RouteNetlinkMessage> {
    let mut m = AddressMessage::default();
    m.header.family = family(&addr);
    m.header.prefix_len = prefix;
    m.header.scope = AddressScope::Universe;
    m.header.index = index;
    m.attributes.push(AddressAttribute::Local(addr));
    m.attributes.push(AddressAttribute::Address(addr));
    if add {
        message(RouteNetlinkMessage::NewAddress(m), CREATE_EXCL)
    } else {
        message(RouteNetlinkMessage::DelAddress(m), ACK)
    }
}

/// `ip route add DEST/PREFIX dev INDEX [src SRC] [metric METRIC]` (or `del`), in the
/// main table, scope link.
pub(crate) fn route_request(
    index: u32,
    dest: IpAddr,
    prefix: u8,
    src: Option<IpAddr>,
    metric: Option<u32>,
    add: bool,
) -> NetlinkMessage<RouteNetlinkMessage> {
    let mut m = RouteMessage::default();
    m.header.address_family = family(&dest);
    m.header.destination_prefix_length = prefix.min(full_prefix(&dest));
    m.header.table = RouteHeader::RT_TABLE_MAIN;
    m.header.protocol = RouteProtocol::Boot;
    m.header.scope = RouteScope::Link;
    m.header.kind = RouteType::Unicast;
    m.attributes
        .push(RouteAttribute::Destination(route_address(dest)));
    m.attributes.push(RouteAttribute::Oif(index));
    if let Some(s) = src {
        m.attributes
            .push(RouteAttribute::PrefSource(route_address(s)));
    }
    if let Some(p) = metric {
        m.attributes.push(RouteAttribute::Priority(p));
    }
    if add {
        message(RouteNetlinkMessage::NewRoute(m), CREATE_EXCL)
    } else {
        message(RouteNetlinkMessage::DelRoute(m), ACK)
    }
}

impl Netlink {
    /// Sends a create or delete request: `done` when the kernel did it, `Unchanged` when
    /// it answered one of the `benign` errnos (already there, already gone).
    fn ack_change(
        &self,
        req: NetlinkMessage<RouteNetlinkMessage>,
        op: &'static str,
        dev: &IfName,
        done: Change,
        benign: &[i32],
    ) -> Result<Change, NetlinkError> {
        match self.ack(req, op, dev) {
            Ok(()) => Ok(done),
            Err(e) if e.errno().is_some_and(|n| benign.contains(&n)) => Ok(Change::Unchanged),
            Err(e) => Err(e),
        }
    }

    /// Brings `dev` up or down; already so is [`Change::Unchanged`].
    pub fn set_link_up(&self, dev: &IfName, up: bool) -> Result<Change, NetlinkError> {
        let l = self.require(dev, Role::Port)?;
        if l.up == up {
            return Ok(Change::Unchanged);
        }
        self.ack(
            super::link::set_up(l.index, up),
            if up { "bring up" } else { "bring down" },
            dev,
        )?;
        Ok(Change::Updated)
    }

    fn index_of(&self, dev: &IfName) -> Result<u32, NetlinkError> {
        Ok(self.require(dev, Role::Port)?.index)
    }

    /// Puts `addr/prefix` on `dev`; an address already there is [`Change::Unchanged`].
    pub fn add_address(
        &self,
        dev: &IfName,
        addr: IpAddr,
        prefix: u8,
    ) -> Result<Change, NetlinkError> {
        let index = self.index_of(dev)?;
        self.ack_change(
            address_request(index, addr, prefix, true),
            "add an address to",
            dev,
            Change::Created,
            &[libc::EEXIST],
        )
    }

    /// Removes `addr/prefix` from `dev`; an address not there is [`Change::Unchanged`].
    pub fn remove_address(
        &self,
        dev: &IfName,
        addr: IpAddr,
        prefix: u8,
    ) -> Result<Change, NetlinkError> {
        let index = self.index_of(dev)?;
        self.ack_change(
            address_request(index, addr, prefix, false),
            "remove an address from",
            dev,
            Change::Removed,
            &[libc::EADDRNOTAVAIL, libc::ENOENT],
        )
    }

    /// The addresses on `dev`, with their prefixes.
    pub fn addresses(&self, dev: &IfName) -> Result<Vec<(IpAddr, u8)>, NetlinkError> {
        let index = self.index_of(dev)?;
        let req = message(
            RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            DUMP,
        );
        let replies = self.call(req, "list the addresses of", dev)?;
        Ok(replies
            .into_iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewAddress(m) if m.header.index == index => m
                    .attributes
                    .iter()
                    .find_map(|a| match a {
                        AddressAttribute::Local(ip) | AddressAttribute::Address(ip) => Some(*ip),
                        _ => None,
                    })
                    .map(|ip| (ip, m.header.prefix_len)),
                _ => None,
            })
            .collect())
    }

    /// Routes `dest/prefix` through `dev`, preferring `src` as the source; a route
    /// already there is [`Change::Unchanged`].
    pub fn add_route(
        &self,
        dev: &IfName,
        dest: IpAddr,
        prefix: u8,
        src: Option<IpAddr>,
        metric: Option<u32>,
    ) -> Result<Change, NetlinkError> {
        let index = self.index_of(dev)?;
        self.ack_change(
            route_request(index, dest, prefix, src, metric, true),
            "add a route through",
            dev,
            Change::Created,
            &[libc::EEXIST],
        )
    }

    /// Removes the route to `dest/prefix` through `dev`; a missing route (or device) is
    /// [`Change::Unchanged`].
    pub fn remove_route(
        &self,
        dev: &IfName,
        dest: IpAddr,
        prefix: u8,
        metric: Option<u32>,
    ) -> Result<Change, NetlinkError> {
        let Some(link) = self.link(dev)? else {
            return Ok(Change::Unchanged);
        };
        self.ack_change(
            route_request(link.index, dest, prefix, None, metric, false),
            "remove a route through",
            dev,
            Change::Removed,
            &[libc::ESRCH, libc::ENOENT],
        )
    }

    /// The routes through `dev` in the main table, as (destination, prefix).
    pub fn routes(&self, dev: &IfName) -> Result<Vec<(IpAddr, u8)>, NetlinkError> {
        let index = self.index_of(dev)?;
        let mut out = Vec::new();
        for fam in [AddressFamily::Inet, AddressFamily::Inet6] {
            let mut m = RouteMessage::default();
            m.header.address_family = fam;
            let replies = self.call(
                message(RouteNetlinkMessage::GetRoute(m), DUMP),
                "list the routes through",
                dev,
            )?;
            for r in replies {
                let RouteNetlinkMessage::NewRoute(m) = r else {
                    continue;
                };
                let through = m
                    .attributes
                    .iter()
                    .any(|a| matches!(a, RouteAttribute::Oif(i) if *i == index));
                if !through
                    || m.header.table != RouteHeader::RT_TABLE_MAIN
                    || m.header.kind != RouteType::Unicast
                {
                    continue;
                }
                let len = m.header.destination_prefix_length;
                for a in &m.attributes {
                    match a {
                        RouteAttribute::Destination(RouteAddress::Inet(v4)) => {
                            out.push((IpAddr::V4(*v4), len))
                        }
                        RouteAttribute::Destination(RouteAddress::Inet6(v6)) => {
                            out.push((IpAddr::V6(*v6), len))
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(out)
    }
}

/// Turns `proxy_arp` on or off for `dev` (IPv4), through `/proc/sys` of the calling
/// thread's network namespace.
pub fn set_proxy_arp(dev: &IfName, on: bool) -> Result<(), NetlinkError> {
    let path = format!("/proc/sys/net/ipv4/conf/{dev}/proxy_arp");
    std::fs::write(&path, if on { "1" } else { "0" })
        .map_err(|source| NetlinkError::Sysctl { path, source })
}

/// Whether `proxy_arp` is on for `dev`.
pub fn proxy_arp(dev: &IfName) -> Result<bool, NetlinkError> {
    let path = format!("/proc/sys/net/ipv4/conf/{dev}/proxy_arp");
    std::fs::read_to_string(&path)
        .map(|s| s.trim() == "1")
        .map_err(|source| NetlinkError::Sysctl { path, source })
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::netlink::testns::{in_netns, veth};

    #[test]
    fn requests_carry_what_ip_would_send() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let req = address_request(7, a, 32, true);
        let RouteNetlinkMessage::NewAddress(m) = crate::netlink::wire(&req) else {
            panic!()
        };
        assert_eq!((m.header.index, m.header.prefix_len), (7, 32));
        assert!(m.attributes.contains(&AddressAttribute::Local(a)));
        let g: IpAddr = "192.168.1.21".parse().unwrap();
        let req = route_request(7, g, 32, Some(a), Some(5), true);
        let RouteNetlinkMessage::NewRoute(m) = crate::netlink::wire(&req) else {
            panic!()
        };
        assert_eq!(m.header.destination_prefix_length, 32);
        assert!(m.attributes.contains(&RouteAttribute::Oif(7)));
        assert!(m
            .attributes
            .contains(&RouteAttribute::PrefSource(RouteAddress::Inet(
                Ipv4Addr::new(10, 0, 0, 1)
            ))));
        assert!(m.attributes.contains(&RouteAttribute::Priority(5)));
    }

    #[test]
    #[ignore = "needs root: network namespaces"]
    fn routed_vif_setup_is_idempotent() {
        in_netns("routed_vif_setup_is_idempotent", |nl| {
            let vif = veth(nl, "vifalice.0", "alice0");
            // The vif must be up for a route through it.
            assert_eq!(nl.set_link_up(&vif, true).unwrap(), Change::Updated);
            assert_eq!(nl.set_link_up(&vif, true).unwrap(), Change::Unchanged);
            let dom0: IpAddr = "10.0.0.1".parse().unwrap();
            let guest: IpAddr = "192.168.1.21".parse().unwrap();
            assert_eq!(nl.add_address(&vif, dom0, 32).unwrap(), Change::Created);
            assert_eq!(nl.add_address(&vif, dom0, 32).unwrap(), Change::Unchanged);
            assert_eq!(nl.addresses(&vif).unwrap(), vec![(dom0, 32)]);
            assert_eq!(
                nl.add_route(&vif, guest, 32, Some(dom0), None).unwrap(),
                Change::Created
            );
            assert_eq!(
                nl.add_route(&vif, guest, 32, Some(dom0), None).unwrap(),
                Change::Unchanged
            );
            assert_eq!(nl.routes(&vif).unwrap(), vec![(guest, 32)]);
            set_proxy_arp(&vif, true).unwrap();
            assert!(proxy_arp(&vif).unwrap());
            assert_eq!(
                nl.remove_route(&vif, guest, 32, None).unwrap(),
                Change::Removed
            );
            assert_eq!(
                nl.remove_route(&vif, guest, 32, None).unwrap(),
                Change::Unchanged
            );
            assert_eq!(nl.remove_address(&vif, dom0, 32).unwrap(), Change::Removed);
            assert_eq!(
                nl.remove_address(&vif, dom0, 32).unwrap(),
                Change::Unchanged
            );
            assert!(nl.routes(&vif).unwrap().is_empty());
        });
    }
}
