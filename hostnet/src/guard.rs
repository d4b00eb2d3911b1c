//! Anti-spoofing for bridged guests (Xen's `handle_iptable` in `vif-common.sh`): with
//! `ip=` set, only the guest's own addresses may leave its vif. Xen inserts iptables
//! `FORWARD -m physdev --physdev-in VIF -s ADDR -j ACCEPT` rules (and one for DHCP),
//! which only filter when the admin set the FORWARD policy to DROP and `br_netfilter`
//! is loaded. vifkit drops the rest itself, in the bridge family, where every frame a
//! port brings into a Linux bridge passes, bridged or for the host alike:
//!
//! ```text
//! table bridge vifkit {
//!     chain guard {
//!         type filter hook prerouting priority -200; policy accept;
//!         iifname "vif5.0" ether type { 8021q, 8021ad } counter drop
//!         iifname "vif5.0" ip saddr 0.0.0.0 udp sport 68 udp dport 67 counter accept
//!         iifname "vif5.0" ip saddr != { 192.0.2.5 } counter drop
//!         iifname "vif5.0" arp saddr ip != { 0.0.0.0, 192.0.2.5 } counter drop
//!         iifname "vif5.0" ip6 saddr != { ::, 2001:db8::5, fe80::/10 } counter drop
//!     }
//! }
//! ```
//!
//! - IPv4 from any other source is dropped, but for a DHCP client's request (from
//!   0.0.0.0, UDP 68 to 67), as Xen allows DHCP.
//! - ARP whose sender address is not the guest's (or 0.0.0.0, a probe) is dropped: Xen's
//!   iptables rules never see ARP, so a guest could still take another's address there.
//! - IPv6 from any source but the guest's IPv6 addresses, link-local ones and `::`
//!   (neighbour discovery and duplicate address detection) is dropped. A guest whose
//!   `ip=` lists no IPv6 address sends link-local IPv6 only; one listing no IPv4
//!   address sends no IPv4 and no ARP.
//! - 802.1Q/802.1ad tagged frames are dropped: the address rules would not see inside
//!   them.
//!
//! Each rule's comment is `vifkit vif=DEV guard=KIND sum=HEX` (`sum` a digest of the
//! vif's whole rule set, so an unchanged guard is left alone); a vif's rules are
//! replaced or removed in one `nft -f` transaction under [`crate::nft`]'s lock, and the
//! table goes with its last rule.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use translator::IfName;

use crate::netlink::Change;
use crate::nft::{nft_name, Nft, NftError};

/// The table (family `bridge`).
pub const TABLE: &str = "vifkit";
/// Its chain, hooked at the bridge's prerouting.
pub const CHAIN: &str = "guard";

/// What may leave one bridge port: its device and the guest's networks (an address is a
/// network of one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guard {
    dev: IfName,
    v4: Vec<(Ipv4Addr, u8)>,
    v6: Vec<(Ipv6Addr, u8)>,
}

fn mask4(a: Ipv4Addr, p: u8) -> Ipv4Addr {
    let bits = u32::from(a);
    Ipv4Addr::from(if p == 0 {
        0
    } else {
        bits & (u32::MAX << (32 - p))
    })
}

fn mask6(a: Ipv6Addr, p: u8) -> Ipv6Addr {
    let bits = u128::from(a);
    Ipv6Addr::from(if p == 0 {
        0
    } else {
        bits & (u128::MAX << (128 - p))
    })
}

/// Networks with host bits cleared, without duplicates or networks another one holds
/// (nftables refuses overlapping elements in one set), in order.
fn normalise<A: Copy + Ord>(mut nets: Vec<(A, u8)>, mask: impl Fn(A, u8) -> A) -> Vec<(A, u8)> {
    for n in &mut nets {
        n.0 = mask(n.0, n.1);
    }
    nets.sort_by_key(|&(a, p)| (p, a));
    let mut out: Vec<(A, u8)> = Vec::new();
    for (a, p) in nets {
        if !out.iter().any(|&(b, q)| q <= p && mask(a, q) == b) {
            out.push((a, p));
        }
    }
    out.sort();
    out
}

fn set<A: std::fmt::Display>(nets: &[(A, u8)], full: u8) -> String {
    let items: Vec<String> = nets
        .iter()
        .map(|(a, p)| {
            if *p == full {
                a.to_string()
            } else {
                format!("{a}/{p}")
            }
        })
        .collect();
    format!("{{ {} }}", items.join(", "))
}

impl Guard {
    /// The guard of `dev` for the guest addresses `addrs` (a prefix makes a network).
    pub fn new(
        dev: &IfName,
        addrs: impl IntoIterator<Item = (IpAddr, Option<u8>)>,
    ) -> Result<Guard, NftError> {
        nft_name(dev)?;
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for (a, p) in addrs {
            match a {
                IpAddr::V4(a) => {
                    let p = p.unwrap_or(32);
                    if p > 32 {
                        return Err(NftError::Prefix(IpAddr::V4(a), p));
                    }
                    v4.push((a, p));
                }
                IpAddr::V6(a) => {
                    let p = p.unwrap_or(128);
                    if p > 128 {
                        return Err(NftError::Prefix(IpAddr::V6(a), p));
                    }
                    v6.push((a, p));
                }
            }
        }
        Ok(Guard {
            dev: dev.clone(),
            v4: normalise(v4, mask4),
            v6: normalise(v6, mask6),
        })
    }

    /// The device.
    pub fn dev(&self) -> &IfName {
        &self.dev
    }

    /// `(kind, rule body)` for each rule, in order.
    fn bodies(&self) -> Result<Vec<(&'static str, String)>, NftError> {
        let d = nft_name(&self.dev)?;
        let mut out = vec![(
            "vlan",
            format!("iifname \"{d}\" ether type {{ 8021q, 8021ad }} counter drop"),
        )];
        if self.v4.is_empty() {
            out.push((
                "ipv4",
                format!("iifname \"{d}\" ether type ip counter drop"),
            ));
            out.push((
                "arp",
                format!("iifname \"{d}\" ether type arp counter drop"),
            ));
        } else {
            out.push((
                "dhcp",
                format!(
                    "iifname \"{d}\" ip saddr 0.0.0.0 udp sport 68 udp dport 67 counter accept"
                ),
            ));
            out.push((
                "ipv4",
                format!(
                    "iifname \"{d}\" ip saddr != {} counter drop",
                    set(&self.v4, 32)
                ),
            ));
            let mut arp = self.v4.clone();
            arp.push((Ipv4Addr::UNSPECIFIED, 32));
            out.push((
                "arp",
                format!(
                    "iifname \"{d}\" arp saddr ip != {} counter drop",
                    set(&normalise(arp, mask4), 32)
                ),
            ));
        }
        let mut v6 = self.v6.clone();
        v6.push((Ipv6Addr::UNSPECIFIED, 128));
        v6.push((Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10));
        out.push((
            "ipv6",
            format!(
                "iifname \"{d}\" ip6 saddr != {} counter drop",
                set(&normalise(v6, mask6), 128)
            ),
        ));
        Ok(out)
    }

    /// The `add rule` lines, each with its comment.
    fn lines(&self) -> Result<Vec<(String, String)>, NftError> {
        let bodies = self.bodies()?;
        // FNV-1a over the rule bodies: the comment says which rule set this is.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in bodies.iter().flat_map(|(_, b)| b.bytes().chain([b'\n'])) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        let d = nft_name(&self.dev)?;
        Ok(bodies
            .into_iter()
            .map(|(kind, body)| {
                let comment = format!("vifkit vif={d} guard={kind} sum={h:016x}");
                (
                    format!("add rule bridge {TABLE} {CHAIN} {body} comment \"{comment}\"\n"),
                    comment,
                )
            })
            .collect())
    }
}

/// A rule of the guard chain as nft lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardRule {
    /// Its handle.
    pub handle: u64,
    /// Its comment.
    pub comment: Option<String>,
    /// The vif it guards, when vifkit wrote it.
    pub vif: Option<IfName>,
    /// What it drops (`ipv4`, `arp`, `ipv6`, `vlan`) or lets through (`dhcp`).
    pub kind: Option<String>,
    /// Packets its counter saw.
    pub packets: u64,
}

/// The bridge table as it stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuardListing {
    /// Whether the table exists.
    pub table: bool,
    /// Every chain in it.
    pub chains: Vec<String>,
    /// The rules of the guard chain.
    pub rules: Vec<GuardRule>,
}

fn parse_comment(c: &str) -> Option<(IfName, String)> {
    let mut words = c.strip_prefix("vifkit ")?.split(' ');
    let vif = IfName::new(words.next()?.strip_prefix("vif=")?).ok()?;
    let kind = words.next()?.strip_prefix("guard=")?.to_owned();
    Some((vif, kind))
}

impl Nft {
    /// The guard chain's rules.
    pub fn guards(&self) -> Result<GuardListing, NftError> {
        let Some(objects) = self.table("bridge", TABLE)? else {
            return Ok(GuardListing::default());
        };
        let mut listing = GuardListing {
            table: true,
            ..GuardListing::default()
        };
        for o in objects {
            if let Some(name) = o
                .get("chain")
                .and_then(|c| c.get("name"))
                .and_then(|n| n.as_str())
            {
                listing.chains.push(name.to_owned());
            }
            let Some(r) = o.get("rule") else { continue };
            if r.get("chain").and_then(|c| c.as_str()) != Some(CHAIN) {
                continue;
            }
            let comment = r.get("comment").and_then(|c| c.as_str()).map(str::to_owned);
            let parsed = comment.as_deref().and_then(parse_comment);
            listing.rules.push(GuardRule {
                handle: r.get("handle").and_then(|h| h.as_u64()).unwrap_or(0),
                vif: parsed.as_ref().map(|(v, _)| v.clone()),
                kind: parsed.map(|(_, k)| k),
                comment,
                packets: r
                    .get("expr")
                    .and_then(|e| e.as_array())
                    .into_iter()
                    .flatten()
                    .find_map(|e| e.get("counter")?.get("packets")?.as_u64())
                    .unwrap_or(0),
            });
        }
        Ok(listing)
    }

    /// Makes the guard of `g`'s device exactly `g`, in one transaction:
    /// [`Change::Unchanged`] when it already is, [`Change::Created`] when the device had
    /// none, [`Change::Updated`] when its rules were replaced.
    pub fn ensure_guard(&self, g: &Guard) -> Result<Change, NftError> {
        let lines = g.lines()?;
        let _lock = self.lock()?;
        let listing = self.guards()?;
        let mine: Vec<&GuardRule> = listing
            .rules
            .iter()
            .filter(|r| r.vif.as_ref() == Some(&g.dev))
            .collect();
        let have: Vec<&str> = mine.iter().filter_map(|r| r.comment.as_deref()).collect();
        let want: Vec<&str> = lines.iter().map(|(_, c)| c.as_str()).collect();
        if have == want {
            return Ok(Change::Unchanged);
        }
        let mut script = format!(
            "table bridge {TABLE} {{\n\tchain {CHAIN} {{\n\t\ttype filter hook prerouting \
             priority -200; policy accept;\n\t}}\n}}\n"
        );
        for r in &mine {
            let _ = writeln!(
                script,
                "delete rule bridge {TABLE} {CHAIN} handle {}",
                r.handle
            );
        }
        for (l, _) in &lines {
            script.push_str(l);
        }
        self.run("add the anti-spoofing rules", &["-f", "-"], Some(&script))?;
        Ok(if mine.is_empty() {
            Change::Created
        } else {
            Change::Updated
        })
    }

    /// Removes `dev`'s guard (and the table, when no rule is left), in one transaction;
    /// [`Change::Unchanged`] when it had none.
    pub fn remove_guard(&self, dev: &IfName) -> Result<Change, NftError> {
        nft_name(dev)?;
        let _lock = self.lock()?;
        let listing = self.guards()?;
        let (mine, others): (Vec<&GuardRule>, Vec<&GuardRule>) = listing
            .rules
            .iter()
            .partition(|r| r.vif.as_ref() == Some(dev));
        if mine.is_empty() {
            return Ok(Change::Unchanged);
        }
        let mut script = String::new();
        if others.is_empty() && listing.chains.iter().all(|c| c == CHAIN) {
            let _ = writeln!(script, "delete table bridge {TABLE}");
        } else {
            for r in &mine {
                let _ = writeln!(
                    script,
                    "delete rule bridge {TABLE} {CHAIN} handle {}",
                    r.handle
                );
            }
        }
        self.run(
            "remove the anti-spoofing rules",
            &["-f", "-"],
            Some(&script),
        )?;
        Ok(Change::Removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::testns::in_netns;

    fn n(s: &str) -> IfName {
        IfName::new(s).unwrap()
    }

    fn g(addrs: &[&str]) -> Guard {
        Guard::new(
            &n("vif5.0"),
            addrs.iter().map(|a| match a.split_once('/') {
                Some((a, p)) => (a.parse().unwrap(), Some(p.parse().unwrap())),
                None => (a.parse().unwrap(), None),
            }),
        )
        .unwrap()
    }

    fn body(g: &Guard, kind: &str) -> String {
        g.bodies()
            .unwrap()
            .into_iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, b)| b)
            .unwrap_or_default()
    }

    #[test]
    fn sets_are_normalised_and_rules_follow_the_families() {
        let one = g(&["192.0.2.5", "10.1.2.3/24", "10.1.2.9", "2001:db8::5"]);
        assert_eq!(
            body(&one, "ipv4"),
            "iifname \"vif5.0\" ip saddr != { 10.1.2.0/24, 192.0.2.5 } counter drop"
        );
        assert_eq!(
            body(&one, "arp"),
            "iifname \"vif5.0\" arp saddr ip != { 0.0.0.0, 10.1.2.0/24, 192.0.2.5 } counter drop"
        );
        assert_eq!(
            body(&one, "ipv6"),
            "iifname \"vif5.0\" ip6 saddr != { ::, 2001:db8::5, fe80::/10 } counter drop"
        );
        // No IPv4 listed: no IPv4, no ARP, no DHCP exception.
        let v6 = g(&["2001:db8::5"]);
        assert_eq!(
            body(&v6, "ipv4"),
            "iifname \"vif5.0\" ether type ip counter drop"
        );
        assert_eq!(body(&v6, "dhcp"), "");
        // 0.0.0.0/0 holds everything: one element.
        assert!(body(&g(&["0.0.0.0/0", "10.0.0.1"]), "arp").contains("!= { 0.0.0.0/0 }"));
        // The sum changes with the addresses.
        assert_ne!(
            g(&["10.0.0.1"]).lines().unwrap()[0].1,
            g(&["10.0.0.2"]).lines().unwrap()[0].1
        );
        assert!(matches!(
            Guard::new(&n("vif5.0"), [("10.0.0.1".parse().unwrap(), Some(33))]),
            Err(NftError::Prefix(..))
        ));
        assert!(matches!(
            Guard::new(&n("vif\"x"), []),
            Err(NftError::Name(_))
        ));
    }

    #[test]
    #[ignore = "needs root: a network namespace"]
    fn guards_are_added_replaced_and_removed_per_vif() {
        in_netns("guards_are_added_replaced_and_removed_per_vif", |_| {
            let lock =
                std::env::temp_dir().join(format!("vifkit-guard-{}.lock", std::process::id()));
            let nft = Nft::with("nft", &lock);
            if let Err(e) = nft.check() {
                panic!("nft does not work: {e} (install nftables: packaging/install-deps.sh)");
            }
            let a = g(&["10.0.0.2"]);
            let b = Guard::new(&n("vif6.0"), [("10.0.0.3".parse().unwrap(), None)]).unwrap();
            assert_eq!(nft.ensure_guard(&a).unwrap(), Change::Created);
            assert_eq!(nft.ensure_guard(&a).unwrap(), Change::Unchanged);
            assert_eq!(nft.ensure_guard(&b).unwrap(), Change::Created);
            assert_eq!(
                nft.ensure_guard(&g(&["10.0.0.4"])).unwrap(),
                Change::Updated
            );
            let l = nft.guards().unwrap();
            assert_eq!(l.rules.len(), 10, "{l:?}");
            assert_eq!(nft.remove_guard(&n("vif5.0")).unwrap(), Change::Removed);
            assert_eq!(nft.remove_guard(&n("vif5.0")).unwrap(), Change::Unchanged);
            let l = nft.guards().unwrap();
            assert!(l.rules.iter().all(|r| r.vif == Some(n("vif6.0"))), "{l:?}");
            assert_eq!(nft.remove_guard(&n("vif6.0")).unwrap(), Change::Removed);
            assert!(!nft.guards().unwrap().table);
            let _ = std::fs::remove_file(&lock);
        });
    }
}
