//! NICs hot-plugged and unplugged while a guest runs (`virsh attach-interface`,
//! `detach-interface`). libvirt runs no hook for them, so `vifkit serve --libvirt URI`
//! follows libvirt's device events and hands each changed domain's live XML here:
//!
//! - [`devices_changed`]: a NIC that is not recorded yet is checked as `prepare` checks a
//!   starting guest's (the interface itself, a MAC given twice, a MAC another guest has
//!   in the registry unless that record is stale). A refused NIC is returned, for the
//!   caller to detach again; the others are recorded as `started` records them, and the
//!   records of NICs no longer in the XML are dropped, in one registry write.
//! - [`domain_stopped`]: a guest that stopped (libvirt's lifecycle event) has its
//!   records and bridge claims dropped (its `stopped` hook does the same and removes the
//!   bridges vifkit made; this catches what no hook reported).
//!
//! Neither asks libvirt anything: the caller does, outside the registry write.

use std::collections::BTreeMap;

use translator::MacAddr;

use crate::domain::Domain;
use crate::error::{registry_err, HookError};
use crate::guest::{started, Sync};
use crate::host::Host;
use crate::plan::plan_nics;
use crate::request::Driver;
use registry::{Attachment, DomainKey, DomainName};

/// A hot-plugged NIC `prepare` would have refused: the caller detaches it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// Its index among the domain's interfaces, from 0.
    pub index: usize,
    /// Its MAC (what libvirt finds it by for a detach), when it has one.
    pub mac: Option<MacAddr>,
    /// The `<interface type>` (`bridge`, `network`, ...).
    pub kind: String,
    /// Why, one line.
    pub why: String,
}

/// What [`devices_changed`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changed {
    /// The NICs refused, to be detached.
    pub refused: Vec<Refused>,
    /// The guest's records after the write.
    pub recorded: Vec<Attachment>,
    /// The records dropped because their NIC is gone.
    pub dropped: Vec<Attachment>,
}

/// The guest's NICs changed while it runs: record the new ones `prepare` would accept,
/// refuse the others, drop the records of NICs gone (see the module's documentation).
pub fn devices_changed(
    host: &Host<'_>,
    driver: Driver,
    dom: &Domain,
) -> Result<Changed, HookError> {
    let guest = dom.name.as_str();
    let records = driver.records().unwrap_or(registry::Driver::Qemu);
    let reg = host.registry;
    let name = DomainName::new(guest).map_err(|source| HookError::Model {
        guest: guest.to_owned(),
        index: 0,
        source,
    })?;
    let before = reg
        .domain_attachments(records, &DomainKey::Name(name.clone()))
        .map_err(registry_err(guest))?;
    // A NIC whose MAC this guest's records already hold was accepted before.
    let known = |mac: Option<MacAddr>| mac.is_some_and(|m| before.iter().any(|a| a.mac == m));
    let mut refused = Vec::new();
    let mut kept = Vec::with_capacity(dom.nics.len());
    let mut seen: BTreeMap<MacAddr, usize> = BTreeMap::new();
    for nic in &dom.nics {
        let iface = &nic.located.parsed.iface;
        let mac = iface.mac;
        let refuse = |why: String| Refused {
            index: nic.index,
            mac,
            kind: iface.kind.as_str().to_owned(),
            why,
        };
        let one = Domain {
            nics: vec![nic.clone()],
            ..dom.clone()
        };
        let plan = match plan_nics(driver, &one) {
            Ok(mut p) => p.remove(0),
            Err(e) if !known(mac) => {
                let why: Vec<String> = e
                    .into_list()
                    .iter()
                    .map(|e| translator::diag::error_chain(e))
                    .collect();
                refused.push(refuse(why.join("; ")));
                continue;
            }
            Err(_) => {
                kept.push(nic.clone());
                continue;
            }
        };
        if let Some(mac) = plan.mac {
            if let Some(&first) = seen.get(&mac) {
                let e = HookError::MacTwice {
                    guest: guest.to_owned(),
                    index: nic.index,
                    mac,
                    first,
                };
                refused.push(refuse(translator::diag::error_chain(&e)));
                continue;
            }
            seen.insert(mac, nic.index);
            // Only a NIC on a bridge is vifkit's; only a new one is checked.
            if plan.bridge.is_some() && !known(Some(mac)) {
                if let Some(a) = reg.attachment_by_mac(mac).map_err(registry_err(guest))? {
                    let mine = a.driver == records && a.domain_name == name;
                    if !mine
                        && !crate::stale::drop_if_stale(host, guest, &a)
                            .map_err(registry_err(guest))?
                    {
                        let e = HookError::MacInUse {
                            guest: guest.to_owned(),
                            index: nic.index,
                            mac,
                            owner: a.owner(),
                        };
                        refused.push(refuse(translator::diag::error_chain(&e)));
                        continue;
                    }
                }
            }
        }
        kept.push(nic.clone());
    }
    let accepted = Domain {
        nics: kept,
        ..dom.clone()
    };
    started(host, driver, &accepted, Sync::Devices)?;
    let recorded = reg
        .domain_attachments(records, &DomainKey::Name(name))
        .map_err(registry_err(guest))?;
    let dropped = before
        .into_iter()
        .filter(|b| !recorded.iter().any(|a| a.mac == b.mac))
        .collect();
    Ok(Changed {
        refused,
        recorded,
        dropped,
    })
}

/// The guest stopped: drops its records and bridge claims (of `driver`'s guest
/// `guest`), returning the records dropped.
pub fn domain_stopped(
    host: &Host<'_>,
    driver: Driver,
    guest: &str,
) -> Result<Vec<Attachment>, HookError> {
    let records = driver.records().unwrap_or(registry::Driver::Qemu);
    let name = DomainName::new(guest).map_err(|source| HookError::Model {
        guest: guest.to_owned(),
        index: 0,
        source,
    })?;
    let reg = host.registry;
    let dropped = reg
        .remove_domain(records, &DomainKey::Name(name.clone()))
        .map_err(registry_err(guest))?;
    reg.release_claims(records, &name)
        .map_err(registry_err(guest))?;
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::LazyNetlink;
    use crate::log::{Level, MemoryLog};
    use registry::{Bridge, BridgeKind, Registry, SqliteRegistry};
    use translator::IfName;

    fn nic(n: u8, mac: &str, model: &str) -> String {
        format!(
            "<interface type='bridge'><mac address='{mac}'/><source bridge='br0'/>\
             <target dev='vnet{n}'/><model type='{model}'/><alias name='net{n}'/></interface>"
        )
    }

    fn live(nics: &[String]) -> Domain {
        Domain::parse(&format!(
            "<domain type='qemu' id='4'><name>b</name><devices>{}</devices></domain>",
            nics.concat()
        ))
        .unwrap()
    }

    fn macs(v: &[Attachment]) -> Vec<(u32, String, String)> {
        v.iter()
            .map(|a| {
                (
                    a.devid,
                    a.mac.to_string(),
                    a.model.as_ref().map_or("-", |m| m.as_str()).to_owned(),
                )
            })
            .collect()
    }

    /// A NIC attached with a fresh MAC is recorded (model too); one with the MAC of a
    /// running guest is refused, named and left unrecorded; a NIC detached loses its
    /// record (the others renumbered as libvirt numbers them); a stopped guest loses all.
    #[test]
    fn hot_plugged_nics_are_recorded_refused_and_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let reg = SqliteRegistry::open(dir.path().join("r.db")).unwrap();
        let br0 = IfName::new("br0").unwrap();
        reg.add_bridge(&Bridge::new(br0.clone(), BridgeKind::Linux))
            .unwrap();
        // Guest a, running: its tap is a device this host has (`lo`), so its record is
        // not stale.
        let a = Attachment::qemu(
            DomainName::new("a").unwrap(),
            3,
            0,
            "52:54:00:00:0a:01".parse().unwrap(),
            br0.clone(),
            IfName::new("lo").unwrap(),
        );
        reg.record(&a).unwrap();
        let nl = LazyNetlink::new();
        let ovs = crate::tests::no_ovs();
        let log = MemoryLog::default();
        let host = Host {
            registry: &reg,
            nl: &nl,
            ovs: &ovs,
            log: &log,
            network_state: dir.path(),
        };
        let n0 = nic(0, "52:54:00:00:0b:01", "e1000");
        let n1 = nic(1, "52:54:00:00:0b:02", "rtl8139");
        let clash = nic(2, "52:54:00:00:0a:01", "virtio");
        let c = devices_changed(&host, Driver::Qemu, &live(std::slice::from_ref(&n0))).unwrap();
        assert!(c.refused.is_empty());
        assert_eq!(
            macs(&c.recorded),
            [(0, "52:54:00:00:0b:01".into(), "e1000".into())]
        );
        let c = devices_changed(
            &host,
            Driver::Qemu,
            &live(&[n0.clone(), n1.clone(), clash.clone()]),
        )
        .unwrap();
        assert_eq!(
            c.refused,
            [Refused {
                index: 2,
                mac: Some("52:54:00:00:0a:01".parse().unwrap()),
                kind: "bridge".into(),
                why: "Guest b interface[2]: MAC 52:54:00:00:0a:01 is already used by QEMU \
                      domain \"a\" (id 3) device 0"
                    .into(),
            }]
        );
        assert_eq!(
            macs(&c.recorded),
            [
                (0, "52:54:00:00:0b:01".into(), "e1000".into()),
                (1, "52:54:00:00:0b:02".into(), "rtl8139".into())
            ]
        );
        // a's record stays as it was.
        assert_eq!(
            reg.attachment_by_mac(a.mac)
                .unwrap()
                .unwrap()
                .domain_name
                .as_str(),
            "a"
        );
        // The first NIC detached: its record goes, the second is device 0 now.
        let c = devices_changed(&host, Driver::Qemu, &live(std::slice::from_ref(&n1))).unwrap();
        assert_eq!(
            macs(&c.recorded),
            [(0, "52:54:00:00:0b:02".into(), "rtl8139".into())]
        );
        assert_eq!(
            macs(&c.dropped),
            [(0, "52:54:00:00:0b:01".into(), "e1000".into())]
        );
        // A MAC given twice in one XML: the later NIC is refused.
        let twice = nic(5, "52:54:00:00:0b:02", "e1000");
        let c = devices_changed(&host, Driver::Qemu, &live(&[n1, twice])).unwrap();
        assert_eq!(c.refused.len(), 1);
        assert_eq!(c.refused[0].index, 1);
        assert_eq!(
            c.refused[0].why,
            "Guest b interface[1]: MAC 52:54:00:00:0b:02 is also interface[0]'s"
        );
        assert_eq!(c.recorded.len(), 1);
        // Stopped: every record of b goes, a's stays.
        let gone = domain_stopped(&host, Driver::Qemu, "b").unwrap();
        assert_eq!(gone.len(), 1);
        assert_eq!(reg.attachments().unwrap(), [a]);
        assert!(log.texts(Level::Error).is_empty());
    }
}
