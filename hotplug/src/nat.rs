//! The NAT mode (`vif-nat`): dom0 is the guest's router and masquerades its traffic.
//!
//! What Xen's `vif-nat` (with `network-nat`) does, and what vifkit does of it:
//! - The guest's address is the `ip` key; without one, Xen derives
//!   `10.<domid / 256>.<domid % 256>.<handle + 1>` (from `frontend-id` and `handle`
//!   in xenstore; vifkit falls back to `XENBUS_PATH`'s numbers when those are absent).
//! - The router address is the guest's (the first one) with 127 added to its last
//!   octet (10.0.0.2 gives 10.0.0.129); it goes on the vif as a /32. Where the sum
//!   passes 255, Xen's script would hand `ip` an invalid address; vifkit refuses with
//!   an error saying so.
//! - The vif comes up, `proxy_arp` goes on, and each guest address gets a host route
//!   through the vif with the router address as source.
//! - Masquerading: Xen leaves it to `network-nat` (`ip_forward` on, one MASQUERADE rule
//!   out of `netdev`, run once when xend started). vifkit does it per vif: IPv4
//!   forwarding on, and one rule per guest address in vifkit's nftables table
//!   ([`hostnet::nat`]), out of `netdev` when xl passes one (`gatewaydev=`), else out of
//!   any device but the vif.
//! - DHCP: Xen can write a host entry into an ISC dhcpd configuration and restart the
//!   daemon; vifkit does not touch DHCP servers (the guest needs a static address or a
//!   DHCP server configured separately).
//! - Xen's iptables FORWARD rules match `physdev` (bridge ports), so they never match a
//!   routed vif; vifkit adds no filter rules.
//!
//! - The emulated twin (`add`/`remove` with `type_if=tap`): Xen's `vif-nat` acts on
//!   `online`/`offline` only, so the twin is left alone (routing the guest's address
//!   through it as well would conflict with the PV vif's route).
//!
//! Online is idempotent (a second run adds nothing) and undoes what it did when a later
//! step fails. Offline removes the vif's rules (even when the device is already gone),
//! then its routes and the router address, turns `proxy_arp` off and takes the vif
//! down, as Xen does. Forwarding stays on: it is host-wide and other guests use it.
//! IPv6 guest addresses are refused: masquerading is for IPv4, as in Xen.

use std::net::{IpAddr, Ipv4Addr};

use translator::IfName;

use super::xenstore::XenStore;
use super::{HotplugError, IfType, Request, Settings};
use hostnet::nat::{ip_forward, set_ip_forward, Masquerade, Nft, NftError};
use hostnet::netlink::{proxy_arp, set_proxy_arp, Change, Netlink};

/// What only the NAT mode can get wrong.
#[derive(Debug, thiserror::Error)]
pub enum NatError {
    /// An IPv6 guest address.
    #[error("vif-nat handles IPv4 guest addresses only, not {0}")]
    Ipv6(IpAddr),
    /// A guest address whose last octet leaves no room for Xen's router address.
    #[error(
        "No router address follows from guest address {0} (vif-nat adds 127 to its last \
         octet, so the guest's must be at most 128)"
    )]
    NoRouter(Ipv4Addr),
    /// Without `ip`, a device id too large for Xen's default address.
    #[error("Device {devid} of domain {domid} has no default NAT address: set `ip`")]
    NoDefault {
        /// The domain.
        domid: u32,
        /// The device.
        devid: u32,
    },
    /// The guest's address is routed elsewhere already.
    #[error("Guest address {0} is already routed through another device")]
    RouteTaken(Ipv4Addr),
    /// nftables failed.
    #[error(transparent)]
    Nft(#[from] NftError),
}

/// What a NAT vif gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// dom0's address on the vif.
    pub router: Ipv4Addr,
    /// The guest's addresses.
    pub guests: Vec<Ipv4Addr>,
    /// The device masqueraded traffic leaves through (`netdev`), if given.
    pub out: Option<IfName>,
}

fn number(
    store: &dyn XenStore,
    req: &Request,
    key: &'static str,
    index: usize,
) -> Result<u32, HotplugError> {
    let fallback = || {
        req.xenbus_path
            .split('/')
            .nth(index)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    };
    match store.read(&req.key(key))? {
        None => Ok(fallback()),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|e: std::num::ParseIntError| HotplugError::Setting {
                key,
                value: v.clone(),
                source: Box::new(e),
            }),
    }
}

/// The router address Xen's `vif-nat` derives from a guest address.
pub fn router_for(guest: Ipv4Addr) -> Result<Ipv4Addr, NatError> {
    let [a, b, c, d] = guest.octets();
    d.checked_add(127)
        .map(|d| Ipv4Addr::new(a, b, c, d))
        .ok_or(NatError::NoRouter(guest))
}

impl Plan {
    /// Works out the addresses from the settings, as Xen's script does.
    pub fn new(store: &dyn XenStore, req: &Request, s: &Settings) -> Result<Plan, HotplugError> {
        let mut guests = Vec::new();
        for ip in &s.ips {
            match ip.address {
                IpAddr::V4(a) => guests.push(a),
                v6 => return Err(NatError::Ipv6(v6).into()),
            }
        }
        if guests.is_empty() {
            let domid = number(store, req, "frontend-id", 2)?;
            let devid = number(store, req, "handle", 3)?;
            let no_default = || NatError::NoDefault { domid, devid };
            let last = devid
                .checked_add(1)
                .and_then(|n| u8::try_from(n).ok())
                .ok_or_else(no_default)?;
            // domid / 256 and domid % 256, when the former fits an octet.
            let [0, 0, hi, lo] = domid.to_be_bytes() else {
                return Err(no_default().into());
            };
            guests.push(Ipv4Addr::new(10, hi, lo, last));
        }
        Ok(Plan {
            router: router_for(guests[0])?,
            guests,
            out: req.gateway_dev.clone(),
        })
    }

    fn rules(&self, vif: &IfName) -> Vec<Masquerade> {
        self.guests
            .iter()
            .map(|g| Masquerade {
                vif: vif.clone(),
                source: *g,
                out: self.out.clone(),
            })
            .collect()
    }
}

/// What an online run changed, to undo it when a later step fails.
#[derive(Default)]
struct Done {
    link_up: bool,
    address: bool,
    proxy_arp: bool,
    forward: bool,
    routes: Vec<Ipv4Addr>,
    rules: bool,
}

impl Done {
    /// Best effort, in reverse order: the error that made it necessary is what matters.
    fn undo(&self, nl: &Netlink, nft: &Nft, dev: &IfName, plan: &Plan) {
        if self.rules {
            let _ = nft.remove_masquerade(dev);
        }
        for g in self.routes.iter().rev() {
            let _ = nl.remove_route(dev, IpAddr::V4(*g), 32, None);
        }
        if self.forward {
            let _ = set_ip_forward(false);
        }
        if self.proxy_arp {
            let _ = set_proxy_arp(dev, false);
        }
        if self.address {
            let _ = nl.remove_address(dev, IpAddr::V4(plan.router), 32);
        }
        if self.link_up {
            let _ = nl.set_link_up(dev, false);
        }
    }
}

/// `vif-nat` online (see the module doc).
pub(super) fn up(
    nl: &Netlink,
    store: &dyn XenStore,
    req: &Request,
    s: &Settings,
) -> Result<(), HotplugError> {
    if req.if_type == IfType::Tap {
        return Ok(());
    }
    let nft = Nft::system();
    let plan = Plan::new(store, req, s)?;
    let dev = &req.device;
    let rules = plan.rules(dev);
    // Names nft could not take fail here, before anything changes.
    for r in &rules {
        r.comment().map_err(NatError::from)?;
    }
    let mut done = Done::default();
    let result = (|| -> Result<(), HotplugError> {
        done.link_up = nl.set_link_up(dev, true)? == Change::Updated;
        done.address = nl.add_address(dev, IpAddr::V4(plan.router), 32)? == Change::Created;
        if !proxy_arp(dev)? {
            set_proxy_arp(dev, true)?;
            done.proxy_arp = true;
        }
        for g in &plan.guests {
            let ip = IpAddr::V4(*g);
            match nl.add_route(dev, ip, 32, Some(IpAddr::V4(plan.router)), None)? {
                Change::Created => done.routes.push(*g),
                // Already there: through this vif (a second run), or through another
                // device, which is not this guest's route.
                _ if nl.routes(dev)?.contains(&(ip, 32)) => {}
                _ => return Err(NatError::RouteTaken(*g).into()),
            }
        }
        let added = nft.ensure_masquerade(dev, &rules).map_err(NatError::from)?;
        done.rules = added == Change::Created;
        // Last, so that no other step's failure has to turn it off again (turning it
        // off resets every device's `forwarding`).
        if !ip_forward()? {
            set_ip_forward(true)?;
            done.forward = true;
        }
        Ok(())
    })();
    if result.is_err() {
        done.undo(nl, &nft, dev, &plan);
    }
    result
}

/// `vif-nat` offline (see the module doc).
pub(super) fn down(
    nl: &Netlink,
    store: &dyn XenStore,
    req: &Request,
    s: &Settings,
) -> Result<(), HotplugError> {
    if req.if_type == IfType::Tap {
        return Ok(());
    }
    let nft = Nft::system();
    let dev = &req.device;
    nft.remove_masquerade(dev).map_err(NatError::from)?;
    if nl.link(dev)?.is_none() {
        return Ok(());
    }
    let plan = Plan::new(store, req, s)?;
    for g in &plan.guests {
        nl.remove_route(dev, IpAddr::V4(*g), 32, None)?;
    }
    nl.remove_address(dev, IpAddr::V4(plan.router), 32)?;
    set_proxy_arp(dev, false)?;
    nl.set_link_up(dev, false)?;
    Ok(())
}

#[cfg(test)]
mod tests;
