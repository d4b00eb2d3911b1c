//! `stopped` / `release` (and a bridge network's `stopped`): records dropped, and the
//! bridges vifkit created removed once nothing uses them.

use translator::IfName;

use crate::domain::Domain;
use crate::error::{netlink_err, registry_err, HookError};
use crate::host::Host;
use crate::lock::BridgeLock;
use crate::network::active_networks_on;
use crate::prepare::remove_bridge;
use hostnet::netlink::NetlinkError;
use registry::{BridgeKind, DomainKey, DomainName, Driver};

/// `stopped` / `release`: drops the records (and claims) of `driver`'s guest, then
/// removes bridges vifkit created that nothing uses any more. Every problem is returned
/// (the caller logs them and exits 0: libvirt only logs a failure here).
pub(super) fn stopped(
    host: &Host<'_>,
    driver: Driver,
    guest: &str,
    input: Option<&str>,
) -> Result<(), HookError> {
    let reg = host.registry;
    let mut errors = Vec::new();
    let mut bridges: Vec<IfName> = Vec::new();
    if let Ok(name) = DomainName::new(guest) {
        if let Err(e) = reg.release_claims(driver, &name) {
            errors.push(registry_err(guest)(e));
        }
    }
    match DomainName::new(guest) {
        Ok(name) => match reg.remove_domain(driver, &DomainKey::Name(name)) {
            Ok(removed) => {
                if !removed.is_empty() {
                    host.log
                        .info(&format!("{guest}: dropped {} NIC record(s)", removed.len()));
                }
                bridges.extend(removed.into_iter().map(|a| a.bridge));
            }
            Err(e) => errors.push(registry_err(guest)(e)),
        },
        Err(source) => errors.push(HookError::Model {
            guest: guest.to_owned(),
            index: 0,
            source,
        }),
    }
    // The XML names bridges too (a guest whose records never got written).
    if let Some(dom) = input.and_then(|x| Domain::parse(x).ok()) {
        for n in &dom.nics {
            if let Some(b) = n.located.parsed.iface.source_bridge.as_deref() {
                if let Ok(b) = IfName::new(b) {
                    bridges.push(b);
                }
            }
        }
    }
    bridges.sort();
    bridges.dedup();
    if let Err(e) = release_made_bridges(host, guest, None, &bridges) {
        errors.extend(e.into_list());
    }
    HookError::from_list(errors)
}

/// Removes those of `bridges` that vifkit made, that the registry still lets it create,
/// and that no NIC record, no claim, no active libvirt network (but `network`, the one
/// stopping) and no port but the uplink uses. Each bridge kept says why, in one line.
pub(super) fn release_made_bridges(
    host: &Host<'_>,
    who: &str,
    network: Option<&str>,
    bridges: &[IfName],
) -> Result<(), HookError> {
    let reg = host.registry;
    let mut candidates = Vec::new();
    for b in bridges {
        if !reg.bridge_made(b).map_err(registry_err(who))? {
            continue;
        }
        match reg.bridge(b).map_err(registry_err(who))? {
            Some(entry) if entry.creatable && entry.kind == BridgeKind::Linux => {
                candidates.push(entry);
            }
            _ => {}
        }
    }
    if candidates.is_empty() {
        return Ok(());
    }
    // Decide and remove with no `prepare` claiming or making bridges meanwhile: without
    // the lock, no bridge is removed.
    let _lock = BridgeLock::take().map_err(|source| HookError::Lock {
        object: format!("Guest {who}"),
        source,
    })?;
    let in_use: Vec<IfName> = reg
        .attachments()
        .map_err(registry_err(who))?
        .into_iter()
        .map(|a| a.bridge)
        .collect();
    let nl = host.nl.get().map_err(netlink_err(who))?;
    let mut errors = Vec::new();
    for b in candidates {
        let nics = in_use.iter().filter(|n| **n == b.name).count();
        if nics > 0 {
            host.log.info(&format!(
                "{who}: bridge {} kept: {nics} NIC record(s) on it",
                b.name
            ));
            continue;
        }
        let claims = reg.bridge_claims(&b.name).map_err(registry_err(who))?;
        if !claims.is_empty() {
            let names: Vec<String> = claims
                .iter()
                .map(|(d, n)| format!("{} {n}", d.label()))
                .collect();
            host.log.info(&format!(
                "{who}: bridge {} kept: {} starting on it",
                b.name,
                names.join(" ")
            ));
            continue;
        }
        match active_networks_on(host.network_state, &b.name, network) {
            Ok(nets) if nets.is_empty() => {}
            Ok(nets) => {
                host.log.info(&format!(
                    "{who}: bridge {} kept: active libvirt network(s) {} on it",
                    b.name,
                    nets.join(" ")
                ));
                continue;
            }
            Err(e) => {
                host.log.warn(&format!(
                    "{who}: bridge {} kept: cannot tell whether a libvirt network uses it: {e}",
                    b.name
                ));
                continue;
            }
        }
        match remove_bridge(nl, &b) {
            Ok(_) => {
                host.log.info(&format!(
                    "{who}: removed bridge {} (created by vifkit, now unused)",
                    b.name
                ));
                if let Err(e) = reg.set_bridge_made(&b.name, false) {
                    errors.push(registry_err(who)(e));
                }
            }
            Err(NetlinkError::BridgeInUse { ports, .. }) => host.log.info(&format!(
                "{who}: bridge {} kept: ports {} left",
                b.name,
                ports.join(" ")
            )),
            Err(e) => errors.push(netlink_err(who)(e)),
        }
    }
    HookError::from_list(errors)
}
