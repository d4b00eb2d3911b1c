//! Masquerading for NAT guests (Xen's `vif-nat` with `network-nat`), in an nftables
//! table vifkit owns: `table ip vifkit`, one `postrouting` chain of type `nat`, one rule
//! per guest address, each tagged with a comment naming its vif. Changes go through
//! [`crate::nft`] (one `nft -f` transaction each, under its lock).
//!
//! Ownership: a rule's comment is `vifkit vif=DEV src=ADDR out=OUT` (`OUT` a device or
//! `*`), so removing a vif's rules removes exactly the rules whose `vif=` is that
//! vif's, and the table goes when its last rule goes.

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use translator::IfName;

use crate::netlink::Change;
use crate::nft::nft_name;
pub use crate::nft::{Nft, NftError, DEFAULT_LOCK};

/// The nftables table vifkit owns (family `ip`).
pub const TABLE: &str = "vifkit";
/// Its NAT chain, hooked at postrouting.
pub const CHAIN: &str = "postrouting";

/// One masquerade rule: traffic from `source` leaving dom0 (through `out`, or through
/// any device but the vif itself) gets dom0's address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Masquerade {
    /// The guest's vif (the owner of the rule).
    pub vif: IfName,
    /// The guest's address.
    pub source: Ipv4Addr,
    /// The device the traffic leaves through (`netdev`), or none for any but the vif.
    pub out: Option<IfName>,
}

impl Masquerade {
    /// The rule's comment, which also records what the rule is.
    pub fn comment(&self) -> Result<String, NftError> {
        let out = match &self.out {
            Some(o) => nft_name(o)?,
            None => "*",
        };
        Ok(format!(
            "vifkit vif={} src={} out={out}",
            nft_name(&self.vif)?,
            self.source
        ))
    }

    /// Reads a rule back from its comment; `None` for a comment vifkit did not write.
    pub fn from_comment(comment: &str) -> Option<Masquerade> {
        let rest = comment.strip_prefix("vifkit ")?;
        let mut words = rest.split(' ');
        let vif = IfName::new(words.next()?.strip_prefix("vif=")?).ok()?;
        let source = words.next()?.strip_prefix("src=")?.parse().ok()?;
        let out = match words.next()?.strip_prefix("out=")? {
            "*" => None,
            o => Some(IfName::new(o).ok()?),
        };
        words
            .next()
            .is_none()
            .then_some(Masquerade { vif, source, out })
    }

    /// The `add rule` line.
    fn add_line(&self) -> Result<String, NftError> {
        let vif = nft_name(&self.vif)?;
        let out = match &self.out {
            Some(o) => format!("oifname \"{}\"", nft_name(o)?),
            None => format!("oifname != \"{vif}\""),
        };
        Ok(format!(
            "add rule ip {TABLE} {CHAIN} ip saddr {} {out} counter masquerade comment \"{}\"\n",
            self.source,
            self.comment()?
        ))
    }
}

/// A rule of vifkit's chain as nft lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedRule {
    /// Its handle.
    pub handle: u64,
    /// What it is, when vifkit wrote it.
    pub rule: Option<Masquerade>,
    /// Packets its counter saw.
    pub packets: u64,
}

/// vifkit's table as it stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Whether the table exists.
    pub table: bool,
    /// Every chain in it.
    pub chains: Vec<String>,
    /// The rules of its NAT chain.
    pub rules: Vec<ListedRule>,
}

impl Nft {
    /// vifkit's table, its chains and the rules of its NAT chain.
    pub fn list(&self) -> Result<Listing, NftError> {
        let Some(objects) = self.table("ip", TABLE)? else {
            return Ok(Listing::default());
        };
        let mut listing = Listing {
            table: true,
            ..Listing::default()
        };
        for o in objects {
            if let Some(c) = o.get("chain") {
                if let Some(name) = c.get("name").and_then(|n| n.as_str()) {
                    listing.chains.push(name.to_owned());
                }
            }
            let Some(r) = o.get("rule") else { continue };
            if r.get("chain").and_then(|c| c.as_str()) != Some(CHAIN) {
                continue;
            }
            let packets = r
                .get("expr")
                .and_then(|e| e.as_array())
                .into_iter()
                .flatten()
                .find_map(|e| e.get("counter")?.get("packets")?.as_u64())
                .unwrap_or(0);
            listing.rules.push(ListedRule {
                handle: r.get("handle").and_then(|h| h.as_u64()).unwrap_or(0),
                rule: r
                    .get("comment")
                    .and_then(|c| c.as_str())
                    .and_then(Masquerade::from_comment),
                packets,
            });
        }
        Ok(listing)
    }

    /// Makes `vif`'s rules exactly `rules` (those of them naming `vif`), in one transaction:
    /// [`Change::Unchanged`] when they already are, [`Change::Created`] when `vif` had
    /// none, [`Change::Updated`] when stale ones were replaced.
    pub fn ensure_masquerade(
        &self,
        vif: &IfName,
        rules: &[Masquerade],
    ) -> Result<Change, NftError> {
        nft_name(vif)?;
        let mut want: Vec<Masquerade> = rules.iter().filter(|r| &r.vif == vif).cloned().collect();
        want.sort();
        want.dedup();
        if want.is_empty() {
            return self.remove_masquerade(vif);
        }
        let mut script = format!(
            "table ip {TABLE} {{\n\tchain {CHAIN} {{\n\t\ttype nat hook postrouting \
             priority 100; policy accept;\n\t}}\n}}\n"
        );
        let mut adds = String::new();
        for r in &want {
            adds.push_str(&r.add_line()?);
        }
        let _lock = self.lock()?;
        let listing = self.list()?;
        let mine: Vec<&ListedRule> = listing
            .rules
            .iter()
            .filter(|l| l.rule.as_ref().is_some_and(|m| &m.vif == vif))
            .collect();
        let mut have: Vec<Masquerade> = mine.iter().filter_map(|l| l.rule.clone()).collect();
        have.sort();
        if have == want {
            return Ok(Change::Unchanged);
        }
        for l in &mine {
            let _ = writeln!(script, "delete rule ip {TABLE} {CHAIN} handle {}", l.handle);
        }
        script.push_str(&adds);
        self.run("add the masquerade rules", &["-f", "-"], Some(&script))?;
        Ok(if mine.is_empty() {
            Change::Created
        } else {
            Change::Updated
        })
    }

    /// Removes `vif`'s rules (and the table, when no rule is left), in one transaction;
    /// [`Change::Unchanged`] when it had none.
    pub fn remove_masquerade(&self, vif: &IfName) -> Result<Change, NftError> {
        let _lock = self.lock()?;
        let listing = self.list()?;
        let (mine, others): (Vec<&ListedRule>, Vec<&ListedRule>) = listing
            .rules
            .iter()
            .partition(|l| l.rule.as_ref().is_some_and(|m| &m.vif == vif));
        if mine.is_empty() {
            return Ok(Change::Unchanged);
        }
        // Under the lock the listing is current: with no other rule and no other chain,
        // the table itself goes.
        let mut script = String::new();
        if others.is_empty() && listing.chains.iter().all(|c| c == CHAIN) {
            let _ = writeln!(script, "delete table ip {TABLE}");
        } else {
            for l in &mine {
                let _ = writeln!(script, "delete rule ip {TABLE} {CHAIN} handle {}", l.handle);
            }
        }
        self.run("remove the masquerade rules", &["-f", "-"], Some(&script))?;
        Ok(Change::Removed)
    }
}

/// Whether IPv4 forwarding is on in the calling thread's network namespace.
pub fn ip_forward() -> Result<bool, crate::netlink::NetlinkError> {
    let path = "/proc/sys/net/ipv4/ip_forward";
    std::fs::read_to_string(path)
        .map(|s| s.trim() == "1")
        .map_err(|source| crate::netlink::NetlinkError::Sysctl {
            path: path.to_owned(),
            source,
        })
}

/// Turns IPv4 forwarding on or off in the calling thread's network namespace (as
/// Xen's `network-nat` does; this sets every device's `forwarding`).
pub fn set_ip_forward(on: bool) -> Result<(), crate::netlink::NetlinkError> {
    let path = "/proc/sys/net/ipv4/ip_forward";
    std::fs::write(path, if on { "1" } else { "0" }).map_err(|source| {
        crate::netlink::NetlinkError::Sysctl {
            path: path.to_owned(),
            source,
        }
    })
}

#[cfg(test)]
mod tests;
