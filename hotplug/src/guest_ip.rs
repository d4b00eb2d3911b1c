//! Which guest addresses a routed (`vif-route`) or NAT (`vif-nat`) vif may be given.
//!
//! Xen's scripts take `ip=` as given: `ip=<the host's gateway>` adds a host route
//! through the vif and takes the host's default route away from it, `ip=0.0.0.0/0`
//! routes everything to the guest, and NAT accepts the host's own address. vifkit
//! refuses, before anything changes, a guest address that is unspecified, loopback,
//! multicast or broadcast; that is the host's own or one of its default gateways; that is
//! the network or broadcast address of a network the host is on; or whose prefix is
//! shorter than the host route it needs (a routed guest is one address: `/32`, `/128`).

use std::net::IpAddr;

/// Why a guest address is refused, or `None` when it is fine. `prefix` is the one
/// written in `ip=` (none: a host route); `host` is every address of the host with its
/// prefix; `gateways` the host's default gateways.
pub fn refusal(
    addr: IpAddr,
    prefix: Option<u8>,
    host: &[(IpAddr, u8)],
    gateways: &[IpAddr],
) -> Option<String> {
    let full = if addr.is_ipv4() { 32 } else { 128 };
    if addr.is_unspecified() {
        return Some("it is the unspecified address".into());
    }
    if addr.is_loopback() {
        return Some("it is a loopback address".into());
    }
    if addr.is_multicast() {
        return Some("it is a multicast address".into());
    }
    if let IpAddr::V4(v4) = addr {
        if v4.is_broadcast() {
            return Some("it is the broadcast address".into());
        }
    }
    if let Some(p) = prefix.filter(|&p| p < full) {
        return Some(format!(
            "/{p} would route a whole network through the vif; a routed guest gets a host \
             route (/{full}): write the address alone"
        ));
    }
    if host.iter().any(|(h, _)| *h == addr) {
        return Some("it is one of this host's own addresses".into());
    }
    if gateways.contains(&addr) {
        return Some("it is this host's default gateway".into());
    }
    for &(h, p) in host {
        if let (IpAddr::V4(h), IpAddr::V4(a)) = (h, addr) {
            if p >= 31 || p == 0 {
                continue;
            }
            let mask = u32::MAX << (32 - u32::from(p));
            let net = u32::from(h) & mask;
            if u32::from(a) & mask == net {
                if u32::from(a) == net {
                    return Some(format!(
                        "it is the network address of {h}/{p}, a network this host is on"
                    ));
                }
                if u32::from(a) == net | !mask {
                    return Some(format!(
                        "it is the broadcast address of {h}/{p}, a network this host is on"
                    ));
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn what_a_guest_may_not_be() {
        let host = [
            (ip("192.0.2.10"), 24),
            (ip("2001:db8::1"), 64),
            (ip("127.0.0.1"), 8),
        ];
        let gw = [ip("192.0.2.1"), ip("fe80::1")];
        let refused = |a: &str, p: Option<u8>| refusal(ip(a), p, &host, &gw);
        assert!(refused("192.0.2.1", None)
            .unwrap()
            .contains("default gateway"));
        assert!(refused("fe80::1", None)
            .unwrap()
            .contains("default gateway"));
        assert!(refused("192.0.2.10", None)
            .unwrap()
            .contains("own addresses"));
        assert!(refused("2001:db8::1", None)
            .unwrap()
            .contains("own addresses"));
        assert!(refused("0.0.0.0", Some(0)).unwrap().contains("unspecified"));
        assert!(refused("10.0.0.5", Some(0))
            .unwrap()
            .contains("/0 would route"));
        assert!(refused("10.0.0.5", Some(24))
            .unwrap()
            .contains("host route (/32)"));
        assert!(refused("2001:db8:1::5", Some(64))
            .unwrap()
            .contains("(/128)"));
        assert!(refused("192.0.2.0", None)
            .unwrap()
            .contains("network address"));
        assert!(refused("192.0.2.255", None)
            .unwrap()
            .contains("broadcast address of"));
        assert!(refused("255.255.255.255", None)
            .unwrap()
            .contains("broadcast"));
        assert!(refused("224.0.0.5", None).unwrap().contains("multicast"));
        assert!(refused("127.0.0.2", None).unwrap().contains("loopback"));
        assert_eq!(refused("192.0.2.21", None), None);
        assert_eq!(refused("192.0.2.21", Some(32)), None);
        assert_eq!(refused("10.1.2.3", None), None);
        assert_eq!(refused("2001:db8::21", Some(128)), None);
    }
}
