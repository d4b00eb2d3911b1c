//! The guest hooks (`libxl`, `qemu`): prepare, started, stopped/release, reconnect,
//! and the migrate/restore filters.

use std::collections::BTreeMap;

use translator::IfName;

use crate::domain::{Bandwidth, Domain};
use crate::error::{netlink_err, registry_err, HookError};
use crate::host::{Host, Output};
use crate::plan::{plan_nics, NicPlan};
use crate::request::{Driver, Op, Request};
use crate::{filter, prepare, teardown};
use hostnet::netlink::{NetlinkError, PortRateLimit, PortVlans, RateLimit};
use registry::{
    backend_name, emulated_name, parse_if_name, Attachment, AttachmentState, Bridge, BridgeKind,
    DomainKey, DomainName, DomainUuid, NicModelName, RegistryError, DOMID_FIRST_RESERVED,
};

/// Runs a guest hook.
pub(crate) fn run(host: &Host<'_>, req: &Request, input: &str) -> Result<Output, HookError> {
    let parse = || -> Result<Domain, HookError> {
        let dom = Domain::parse(input).map_err(|source| HookError::Domain {
            guest: req.object.clone(),
            source,
        })?;
        if dom.name != req.object {
            return Err(HookError::WrongGuest {
                guest: req.object.clone(),
                found: dom.name,
            });
        }
        Ok(dom)
    };
    // Only the guest drivers' hooks come here.
    let records = req.driver.records().unwrap_or(registry::Driver::Qemu);
    match req.op {
        Op::Prepare => prepare::prepare(host, req.driver, &parse()?).map(|()| None),
        Op::Started => started(host, req.driver, &parse()?, Sync::Started).map(|()| None),
        Op::Reconnect => started(host, req.driver, &parse()?, Sync::Reconnect).map(|()| None),
        Op::Stopped | Op::Release => {
            teardown::stopped(host, records, &req.object, Some(input)).map(|()| None)
        }
        Op::Migrate | Op::Restore => filter::filter_domain(host, req.driver, &req.object, input),
        _ => {
            host.log.debug(&format!(
                "{}: nothing to do at {}",
                req.object,
                req.op.as_str()
            ));
            Ok(None)
        }
    }
}

/// The dom0 devices of a NIC: `(backend, emulated twin)`.
fn devices(
    driver: Driver,
    domid: u32,
    p: &NicPlan,
) -> Result<Option<(IfName, Option<IfName>)>, registry::ModelError> {
    match driver {
        Driver::Libxl => {
            let devid = u32::try_from(p.index).unwrap_or(u32::MAX);
            // libvirt writes Xen's own names (`vifD.N`, `vifD.N-emu`) into live XML;
            // any other `<target dev>` is a custom `vifname`.
            let backend = match p.target.as_deref() {
                Some(t) if !t.starts_with("vif") => parse_if_name("backend device", t)?,
                _ => backend_name(domid, devid)?,
            };
            let emulated = match p.emulated {
                true => Some(emulated_name(&backend)?),
                false => None,
            };
            Ok(Some((backend, emulated)))
        }
        _ => match p.target.as_deref() {
            Some(t) => Ok(Some((parse_if_name("tap device", t)?, None))),
            None => Ok(None),
        },
    }
}

/// `started` (and `reconnect`, which only re-syncs the records): records every NIC on a
/// bridge, in one registry write, after applying VLANs and rate limits libvirt does
/// not apply (not at `reconnect`, which must not touch the guest's ports).
/// Why a guest's records are written from its live XML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sync {
    /// The `started` hook: ports plumbed, then recorded.
    Started,
    /// The `reconnect` hook: recorded only (the guest's ports are not touched).
    Reconnect,
    /// A NIC hot-plugged or unplugged (libvirt's device events): ports plumbed (a port
    /// set again is unchanged), then recorded.
    Devices,
}

pub(crate) fn started(
    host: &Host<'_>,
    driver: Driver,
    dom: &Domain,
    sync: Sync,
) -> Result<(), HookError> {
    let guest = dom.name.as_str();
    let reconnect = sync == Sync::Reconnect;
    let op = match sync {
        Sync::Started => "started",
        Sync::Reconnect => "reconnect",
        Sync::Devices => "devices changed",
    };
    let domid = dom.id.ok_or_else(|| HookError::NoId {
        guest: guest.to_owned(),
        op,
    })?;
    let plans = plan_nics(driver, dom)?;
    let records = driver.records().unwrap_or(registry::Driver::Qemu);
    if records == registry::Driver::Xen && domid >= DOMID_FIRST_RESERVED {
        // Not a Xen domain id (Xen's stop below 32752). Failing would abort the start.
        host.log.warn(&format!(
            "{guest}: domain id {domid} is beyond Xen's domain ids (below \
             {DOMID_FIRST_RESERVED}): NICs not recorded"
        ));
        return Ok(());
    }
    let reg = host.registry;
    let model = |index: usize| {
        move |source| HookError::Model {
            guest: guest.to_owned(),
            index,
            source,
        }
    };
    let domain_name = DomainName::new(guest).map_err(model(0))?;
    let domain_uuid = match &dom.uuid {
        Some(u) => Some(u.parse::<DomainUuid>().map_err(|source| model(0)(source))?),
        None => None,
    };
    // A guest without a bridged NIC records nothing: the registry is only looked at for
    // stale records, and a registry that cannot be read does not stop the guest.
    let bridged = plans.iter().any(|p| p.bridge.is_some());
    let registered: BTreeMap<IfName, Bridge> = match bridged {
        true => reg
            .bridges()
            .map_err(registry_err(guest))?
            .into_iter()
            .map(|b| (b.name.clone(), b))
            .collect(),
        false => BTreeMap::new(),
    };
    let mut attachments = Vec::with_capacity(plans.len());
    let mut errors = Vec::new();
    for p in &plans {
        let Some(bridge) = &p.bridge else {
            host.log.debug(&format!(
                "{guest}: interface[{}] is on no bridge: not recorded",
                p.index
            ));
            continue;
        };
        let Some(mac) = p.mac else {
            host.log.warn(&format!(
                "{guest}: interface[{}] on {bridge} has no MAC: not recorded",
                p.index
            ));
            continue;
        };
        let Some((backend, emulated)) = devices(driver, domid, p).map_err(model(p.index))? else {
            host.log.warn(&format!(
                "{guest}: interface[{}] on {bridge} has no <target dev>: not recorded",
                p.index
            ));
            continue;
        };
        if !registered.contains_key(bridge) && !register_present(host, guest, p, bridge)? {
            continue;
        }
        let kind_ovs = registered
            .get(bridge)
            .map_or(p.ovs, |b| b.kind == BridgeKind::Ovs);
        let a = Attachment {
            driver: records,
            domain_name: domain_name.clone(),
            domain_uuid,
            domid,
            devid: u32::try_from(p.index).unwrap_or(u32::MAX),
            backend,
            emulated,
            mac,
            bridge: bridge.clone(),
            vlan: if kind_ovs { None } else { p.vlan.clone() },
            guest_name: None,
            model: nic_model(host, guest, p),
            state: AttachmentState::Active,
            boot_id: registry::BootId::current(),
        };
        if !reconnect {
            if let Err(e) = plumb(host, driver, guest, p, &a) {
                errors.push(e);
                continue;
            }
        }
        attachments.push(a);
    }
    HookError::from_list(errors)?;
    let key = DomainKey::Name(domain_name);
    let sync = || -> Result<Vec<Attachment>, RegistryError> {
        // Records of this guest under another domain id are stale.
        let old = reg.domain_attachments(records, &key)?;
        if !bridged
            && old.is_empty()
            && reg
                .domain_attachments(records, &DomainKey::Id(domid))?
                .is_empty()
        {
            // Nothing to record and nothing stale: no write.
            return Ok(Vec::new());
        }
        if old.iter().any(|a| a.domid != domid) {
            reg.remove_domain(records, &key)?;
        }
        // Another guest's stale record in the way (its MAC, or a device libvirt has just
        // given this guest) is dropped.
        hostnet::stale::write_replacing_stale(
            reg,
            || reg.replace_domain(records, domid, &attachments),
            &|a| crate::stale::judge(host, guest, a),
            &mut |a, why| crate::stale::log_dropped(host, guest, a, why),
        )
    };
    let dropped = match sync() {
        Ok(d) => d,
        Err(e) if !bridged => {
            host.log.warn(&format!(
                "{guest}: {op}: no NIC on a bridge, so the registry's stale records of the \
                 guest are left: {}",
                translator::diag::error_chain(&registry_err(guest)(e))
            ));
            Vec::new()
        }
        Err(e) => return Err(registry_err(guest)(e)),
    };

    for a in &dropped {
        host.log.info(&format!(
            "{guest}: dropped stale record of {} (domain {} device {})",
            a.backend, a.domid, a.devid
        ));
    }
    let names: Vec<String> = attachments
        .iter()
        .map(|a| format!("{}@{}", a.backend, a.bridge))
        .collect();
    host.log.info(&format!(
        "{guest}: {op}: domain {domid}, recorded {} NIC(s) {}",
        attachments.len(),
        names.join(" ")
    ));
    Ok(())
}

/// The NIC's `<model type>` as a record's model. libvirt refuses model names with
/// other characters than a record takes, so a refused one is only logged: the NIC is
/// recorded without a model.
pub(crate) fn nic_model(host: &Host<'_>, guest: &str, p: &NicPlan) -> Option<NicModelName> {
    let raw = p.model.as_deref()?;
    match NicModelName::new(raw) {
        Ok(m) => Some(m),
        Err(e) => {
            host.log.warn(&format!(
                "{guest}: interface[{}]: recorded without its model: {}",
                p.index,
                translator::diag::one_line(&e.to_string())
            ));
            None
        }
    }
}

/// Adds a bridge that is on the host but not in the registry, as an entry vifkit may
/// not create or remove. `false` (logged) when it is not on the host either.
fn register_present(
    host: &Host<'_>,
    guest: &str,
    p: &NicPlan,
    bridge: &IfName,
) -> Result<bool, HookError> {
    let nl = host.nl.get().map_err(netlink_err(guest))?;
    let Some(link) = nl.link(bridge).map_err(netlink_err(guest))? else {
        host.log.warn(&format!(
            "{guest}: interface[{}]: bridge {bridge} is neither registered nor present: not \
             recorded",
            p.index
        ));
        return Ok(false);
    };
    let kind = if p.ovs || link.kind.as_deref() == Some("openvswitch") {
        BridgeKind::Ovs
    } else {
        BridgeKind::Linux
    };
    match host.registry.add_bridge(&Bridge::new(bridge.clone(), kind)) {
        Ok(()) => host.log.info(&format!(
            "{guest}: registered bridge {bridge} found on the host (kind {kind}, not creatable)"
        )),
        // Another hook registered it first.
        Err(RegistryError::BridgeExists(_)) => {}
        Err(e) => return Err(registry_err(guest)(e)),
    }
    Ok(true)
}

/// VLANs on a Linux bridge port and, for libxl, the inbound rate limit (libvirt's libxl
/// driver gives netback only the outbound one; QEMU's driver sets both with tc itself).
fn plumb(
    host: &Host<'_>,
    driver: Driver,
    guest: &str,
    p: &NicPlan,
    a: &Attachment,
) -> Result<(), HookError> {
    let vlans = a.vlan.as_ref().map(PortVlans::from);
    let rate = match (driver, p.inbound) {
        (Driver::Libxl, Some(bw)) => Some(inbound_limit(bw).map_err(|source| HookError::Port {
            guest: guest.to_owned(),
            index: p.index,
            bridge: a.bridge.clone(),
            what: "set the rate limit",
            device: a.backend.clone(),
            source: Box::new(source),
        })?),
        _ => None,
    };
    if vlans.is_none() && rate.is_none() {
        return Ok(());
    }
    let nl = host.nl.get().map_err(netlink_err(guest))?;
    for dev in a.devices() {
        let port_err = |what: &'static str| {
            move |source| HookError::Port {
                guest: guest.to_owned(),
                index: p.index,
                bridge: a.bridge.clone(),
                what,
                device: dev.clone(),
                source: Box::new(source),
            }
        };
        // An emulated twin the guest's PV drivers unplugged is gone: nothing to do.
        if nl.link(dev).map_err(netlink_err(guest))?.is_none() {
            host.log
                .debug(&format!("{guest}: {dev} does not exist: skipped"));
            continue;
        }
        if let Some(v) = &vlans {
            let c = nl
                .set_port_vlans(dev, v)
                .map_err(port_err("set the VLANs"))?;
            host.log
                .info(&format!("{guest}: {dev}: VLANs {c:?} on {}", a.bridge));
        }
        if let Some(r) = &rate {
            let c = nl
                .set_rate_limit(dev, r)
                .map_err(port_err("set the rate limit"))?;
            host.log.info(&format!(
                "{guest}: {dev}: inbound limit {} B/s {c:?}",
                r.egress.map_or(0, |l| l.bytes_per_sec())
            ));
        }
    }
    Ok(())
}

/// `<bandwidth><inbound>` (towards the guest) as the port's egress limit.
pub(crate) fn inbound_limit(bw: Bandwidth) -> Result<PortRateLimit, NetlinkError> {
    Ok(PortRateLimit {
        egress: Some(RateLimit::from_libvirt(bw.average, bw.burst)?),
        ingress: None,
    })
}
