//! `prepare`: every interface checked, every MAC free, every bridge there (registered,
//! creatable bridges created). A failure removes the bridges this run created.

use std::collections::BTreeMap;

use translator::{IfName, MacAddr};

use crate::domain::Domain;
use crate::error::{netlink_err, registry_err, HookError};
use crate::host::Host;
use crate::lock::BridgeLock;
use crate::plan::{plan_nics, NicPlan};
use crate::request::Driver;
use hostnet::netlink::{Change, Netlink, NetlinkError, PortMtu};
use hostnet::plumbing::ensure_registered_bridge;
use registry::{Bridge, DomainName};

/// Every bridge the plans name, once, with the first interface naming it.
fn bridges_of(plans: &[NicPlan]) -> BTreeMap<IfName, &NicPlan> {
    let mut out = BTreeMap::new();
    for p in plans {
        if let Some(b) = &p.bridge {
            out.entry(b.clone()).or_insert(p);
        }
    }
    out
}

/// `prepare`: check, then make every bridge exist. A failure removes the bridges this
/// run created.
pub(super) fn prepare(host: &Host<'_>, driver: Driver, dom: &Domain) -> Result<(), HookError> {
    let guest = dom.name.as_str();
    let plans = plan_nics(driver, dom)?;
    let reg = host.registry;
    let records = driver.records().unwrap_or(registry::Driver::Qemu);
    let wanted = bridges_of(&plans);
    let mut errors = Vec::new();
    let mut seen: BTreeMap<MacAddr, usize> = BTreeMap::new();
    // Whether the MACs could be checked against the registry; a guest without a bridged
    // NIC starts even when they could not.
    let mut checked = true;
    for p in &plans {
        let Some(mac) = p.mac else { continue };
        if let Some(&first) = seen.get(&mac) {
            errors.push(HookError::MacTwice {
                guest: guest.to_owned(),
                index: p.index,
                mac,
                first,
            });
            continue;
        }
        seen.insert(mac, p.index);
        if !checked {
            continue;
        }
        let found = match reg.attachment_by_mac(mac) {
            Ok(found) => found,
            Err(e) if wanted.is_empty() => {
                host.log.warn(&format!(
                    "{guest}: no NIC on a bridge, so the MACs are not checked against the \
                     registry, which cannot be read: {}",
                    translator::diag::error_chain(&registry_err(guest)(e))
                ));
                checked = false;
                continue;
            }
            Err(e) => return Err(registry_err(guest)(e)),
        };
        if let Some(a) = found {
            // A record of this guest is stale (a stop that was never reported); one of
            // another guest is in the way unless it is stale too.
            let mine = a.driver == records && a.domain_name.as_str() == guest;
            let stale = match mine {
                true => false,
                false => match crate::stale::drop_if_stale(host, guest, &a) {
                    Ok(stale) => stale,
                    // Stale, but the registry cannot be written: a guest without a
                    // bridged NIC starts all the same.
                    Err(e) if wanted.is_empty() => {
                        host.log.warn(&format!(
                            "{guest}: the stale record of {} is left: {}",
                            a.owner(),
                            translator::diag::error_chain(&registry_err(guest)(e))
                        ));
                        true
                    }
                    Err(e) => return Err(registry_err(guest)(e)),
                },
            };
            if !mine && !stale {
                errors.push(HookError::MacInUse {
                    guest: guest.to_owned(),
                    index: p.index,
                    mac,
                    owner: a.owner(),
                });
            }
        }
    }
    HookError::from_list(errors)?;

    if wanted.is_empty() {
        // No bridge to claim or make: neither the lock nor the registry is needed.
        host.log.info(&format!(
            "{guest}: prepared no interface: none on a bridge{}",
            left_to_libvirt(plans.len())
        ));
        return Ok(());
    }
    // Claim the bridges, then make them, with no `stopped` removing one meanwhile: a
    // lock that cannot be taken stops the start (never goes on unlocked).
    let _lock = BridgeLock::take().map_err(|source| HookError::Lock {
        object: format!("Guest {guest}"),
        source,
    })?;
    let names: Vec<IfName> = wanted.keys().cloned().collect();
    let claimant = DomainName::new(guest).map_err(|source| HookError::Model {
        guest: guest.to_owned(),
        index: 0,
        source,
    })?;
    reg.claim_bridges(records, &claimant, &names)
        .map_err(registry_err(guest))?;
    let mut made: Vec<Bridge> = Vec::new();
    let result = (|| {
        for (name, p) in &wanted {
            if let Some(b) = ensure_bridge(host, guest, p.index, name)? {
                made.push(b);
            }
        }
        for b in &made {
            reg.set_bridge_made(&b.name, true)
                .map_err(registry_err(guest))?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        for b in made.iter().rev() {
            match remove_bridge(host.nl.get().map_err(netlink_err(guest))?, b) {
                Ok(_) => host.log.info(&format!(
                    "{guest}: removed bridge {} again (prepare failed)",
                    b.name
                )),
                Err(u) => host.log.warn(&format!(
                    "{guest}: cannot remove bridge {} that this prepare created: {}",
                    b.name,
                    translator::diag::error_chain(&u)
                )),
            }
            let _ = reg.set_bridge_made(&b.name, false);
        }
        let _ = reg.release_claims(records, &claimant);
        return Err(e);
    }
    // Only the NICs on a bridge are vifkit's to prepare; the others (user, a libvirt
    // network's until libvirt picks its bridge, ...) are libvirt's.
    let bridged = plans.iter().filter(|p| p.bridge.is_some()).count();
    host.log.info(&format!(
        "{guest}: prepared {bridged} interface(s){}{}",
        if made.is_empty() {
            String::new()
        } else {
            let names: Vec<&str> = made.iter().map(|b| b.name.as_str()).collect();
            format!(", created bridge(s) {}", names.join(" "))
        },
        left_to_libvirt(plans.len() - bridged)
    ));
    Ok(())
}

/// `; N left to libvirt` when `n` interfaces are libvirt's own, else nothing.
fn left_to_libvirt(n: usize) -> String {
    match n {
        0 => String::new(),
        n => format!("; {n} left to libvirt"),
    }
}

/// Makes one bridge exist; returns its entry when this call created it.
fn ensure_bridge(
    host: &Host<'_>,
    guest: &str,
    index: usize,
    name: &IfName,
) -> Result<Option<Bridge>, HookError> {
    let nl = host.nl.get().map_err(netlink_err(guest))?;
    let entry = host.registry.bridge(name).map_err(registry_err(guest))?;
    let link = nl.link(name).map_err(netlink_err(guest))?;
    let err_ctx = |bridge: &IfName| (guest.to_owned(), index, bridge.clone());
    match (entry, link) {
        (_, Some(l)) => {
            // Open vSwitch bridges show up as `openvswitch` devices.
            if !l.is_bridge() && l.kind.as_deref() != Some("openvswitch") {
                let (guest, index, bridge) = err_ctx(name);
                return Err(HookError::NotABridge {
                    guest,
                    index,
                    bridge,
                });
            }
            Ok(None)
        }
        (None, None) => {
            let (guest, index, bridge) = err_ctx(name);
            Err(HookError::NoSuchBridge {
                guest,
                index,
                bridge,
            })
        }
        (Some(b), None) => match ensure_registered_bridge(nl, host.registry, &b) {
            Ok(done) => {
                host.log.info(&format!(
                    "{guest}: bridge {name} {}",
                    if done.bridge == Change::Created {
                        "created from the registry"
                    } else {
                        "ensured"
                    }
                ));
                Ok((done.bridge == Change::Created).then_some(b))
            }
            Err(source) => {
                let (guest, index, bridge) = err_ctx(name);
                Err(HookError::Ensure {
                    guest,
                    index,
                    bridge,
                    source: Box::new(source),
                })
            }
        },
    }
}

/// Removes a bridge vifkit made: its uplink (or `UPLINK.VLAN`) taken off first; any
/// other port keeps it ([`NetlinkError::BridgeInUse`]). The `UPLINK.VLAN` device goes
/// with the bridge it was made for.
pub(super) fn remove_bridge(nl: &Netlink, b: &Bridge) -> Result<Change, NetlinkError> {
    let removed = remove_bridge_only(nl, b)?;
    if let (Some(uplink), Some(vlan)) = (&b.uplink, b.vlan) {
        nl.remove_uplink_vlan(uplink, vlan.get())?;
    }
    Ok(removed)
}

fn remove_bridge_only(nl: &Netlink, b: &Bridge) -> Result<Change, NetlinkError> {
    let uplink = b.uplink_device().ok().flatten();
    let detached = match &uplink {
        Some(dev) => nl.detach_port(dev, &b.name)? == Change::Removed,
        None => false,
    };
    match nl.delete_bridge(&b.name) {
        Err(e @ NetlinkError::BridgeInUse { .. }) => {
            // Other ports keep the bridge: its uplink goes back.
            if let (true, Some(dev)) = (detached, &uplink) {
                nl.attach_port(dev, &b.name, PortMtu::Keep)?;
            }
            Err(e)
        }
        other => other,
    }
}
