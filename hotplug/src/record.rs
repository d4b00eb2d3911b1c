//! The hotplug script's records: on an xl host no libvirt hook runs, so the script is
//! where vifkit learns which dom0 device is which guest NIC (`vifkit show`, the D-Bus
//! pairings).
//!
//! A bridged NIC (`vif-bridge`, `vif-openvswitch`) on a bridge in the registry is
//! recorded before its port is wired, so a clash (its MAC or device name already another
//! NIC's) refuses the hotplug with nothing done; if the wiring then fails the record is
//! put back as it was, and once it succeeds the NIC is marked active. The emulated twin
//! (`type_if=tap`, `vifD.N-emu`) is added to, and taken from, its NIC's record. Offline
//! drops the record. A NIC on a bridge the registry does not know, a routed or NAT NIC,
//! or a run without a registry is not recorded.
//!
//! A clash with a stale record is no clash: the record is dropped (and the run says so)
//! and this NIC recorded. A record is stale when it was written in another boot, when
//! it holds this NIC's device, when xenstore says its Xen domain is not running (no
//! `/local/domain/<domid>` of its name), or, for a QEMU guest's, when none of its
//! devices is on the host ([`hostnet::stale`]).

use translator::bridge_spec::OvsBridge;
use translator::IfName;

use super::xenstore::XenStore;
use super::{mode, Host, HotplugError, IfType, Request, Settings};
use hostnet::stale::{self, Stale};
use registry::{
    Attachment, AttachmentState, BootId, DomainName, DomainUuid, Driver, Registry, RegistryError,
};

/// How to put the registry back if the wiring fails.
#[derive(Debug)]
pub(crate) enum Undo {
    /// Nothing was recorded.
    Nothing,
    /// The NIC had no record: remove the new one (Xen domain id, device id).
    Remove(u32, u32),
    /// The NIC had this record: put it back.
    Restore(Box<Attachment>),
}

/// `(domid, devid)` from `backend/vif/<domid>/<devid>` (checked by
/// [`Request::from_env`]).
pub(crate) fn ids(req: &Request) -> Option<(u32, u32)> {
    let mut parts = req.xenbus_path.split('/').skip(2);
    let domid = parts.next()?.parse().ok()?;
    let devid = parts.next()?.parse().ok()?;
    Some((domid, devid))
}

/// The registered bridge the NIC is plugged into, if it is bridged.
fn bridge_of(s: &Settings) -> Option<IfName> {
    match mode(s) {
        "vif-bridge" => IfName::new(s.bridge.as_str()).ok(),
        "vif-openvswitch" => OvsBridge::parse(&s.bridge)
            .ok()
            .and_then(|b| IfName::new(b.name.as_ref()).ok()),
        _ => None,
    }
}

/// The NIC's record as this run sees it, or `None` when it is not one to record.
fn attachment(
    store: &dyn XenStore,
    registry: &dyn Registry,
    req: &Request,
    s: &Settings,
    existing: Option<&Attachment>,
) -> Result<Option<Attachment>, HotplugError> {
    let (Some((domid, devid)), Some(bridge), Some(mac)) = (ids(req), bridge_of(s), s.mac) else {
        return Ok(None);
    };
    if registry.bridge(&bridge)?.is_none() {
        return Ok(None);
    }
    let Some(name) = store
        .read(&format!("/local/domain/{domid}/name"))?
        .and_then(|n| DomainName::new(n.trim()).ok())
    else {
        return Ok(None);
    };
    let uuid = store
        .read(&format!("/local/domain/{domid}/vm"))?
        .and_then(|vm| {
            vm.rsplit('/')
                .next()
                .and_then(|u| u.parse::<DomainUuid>().ok())
        });
    let (backend, emulated) = match req.if_type {
        IfType::Vif => (
            req.device.clone(),
            existing.and_then(|a| a.emulated.clone()),
        ),
        IfType::Tap => {
            // The twin of `NAME` is `NAME-emu`; any other tap name is not a twin.
            let Some(base) = req.device.as_str().strip_suffix("-emu") else {
                return Ok(None);
            };
            let Ok(base) = IfName::new(base) else {
                return Ok(None);
            };
            (base, Some(req.device.clone()))
        }
    };
    Ok(Some(Attachment {
        driver: Driver::Xen,
        domain_name: name,
        domain_uuid: uuid,
        domid,
        devid,
        backend,
        emulated,
        mac,
        bridge,
        vlan: s.vlan.clone(),
        guest_name: existing.and_then(|a| a.guest_name.clone()),
        // The vif script is not told the model: the one libvirt's hook recorded stays.
        model: existing.and_then(|a| a.model.clone()),
        state: existing.map_or(AttachmentState::Prepared, |a| a.state),
        boot_id: BootId::current(),
    }))
}

/// Whether a Xen record's domain runs, as xenstore says: `/local/domain/<domid>/name` is
/// its name. `None` for a QEMU record, or when xenstore cannot be read.
pub fn xen_running(store: &dyn XenStore, a: &Attachment) -> stale::Running {
    if a.driver != Driver::Xen {
        return None;
    }
    match store.read(&format!("/local/domain/{}/name", a.domid)) {
        Ok(name) => Some((
            name.is_some_and(|n| n.trim() == a.domain_name.as_str()),
            "xenstore",
        )),
        Err(_) => None,
    }
}

/// Why another NIC's record `a` is stale, if it is (see the module doc). A device
/// lookup that fails is said, and the record taken as live.
fn judge(store: &dyn XenStore, host: &Host<'_>, a: &Attachment) -> Option<Stale> {
    match stale::judge(a, BootId::current(), xen_running(store, a), host.nl) {
        Ok(why) => why,
        Err(e) => {
            (host.log)(&format!(
                "cannot tell whether the record of {} is stale: {}",
                a.owner(),
                translator::diag::error_chain(&e)
            ));
            None
        }
    }
}

/// Records the NIC before it is wired, replacing stale records in its way; see the
/// module doc.
pub(crate) fn before_up(
    store: &dyn XenStore,
    host: &Host<'_>,
    req: &Request,
    s: &Settings,
) -> Result<Undo, HotplugError> {
    let (Some(registry), Some((domid, devid))) = (host.registry, ids(req)) else {
        return Ok(Undo::Nothing);
    };
    let existing = registry.attachment(Driver::Xen, domid, devid)?;
    let Some(new) = attachment(store, registry, req, s, existing.as_ref())? else {
        return Ok(Undo::Nothing);
    };
    if existing.as_ref() == Some(&new) {
        return Ok(Undo::Nothing);
    }
    stale::write_replacing_stale(
        registry,
        || registry.record(&new),
        &|a| judge(store, host, a),
        &mut |a, why| (host.log)(&stale::dropped_line(a, why)),
    )?;
    Ok(match existing {
        Some(old) => Undo::Restore(Box::new(old)),
        None => Undo::Remove(domid, devid),
    })
}

/// Marks a NIC wired by this run active (its PV backend; the twin changes nothing).
pub(crate) fn after_up(registry: Option<&dyn Registry>, req: &Request) -> Result<(), HotplugError> {
    let (Some(registry), Some((domid, devid)), IfType::Vif) = (registry, ids(req), req.if_type)
    else {
        return Ok(());
    };
    match registry.set_state(Driver::Xen, domid, devid, AttachmentState::Active) {
        Ok(()) | Err(RegistryError::UnknownAttachment { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Puts the registry back after a failed wiring. Best effort: the wiring's error is
/// the one to report.
pub(crate) fn undo(registry: Option<&dyn Registry>, undo: Undo) {
    let Some(registry) = registry else {
        return;
    };
    let _ = match undo {
        Undo::Nothing => Ok(()),
        Undo::Remove(domid, devid) => registry
            .remove_attachment(Driver::Xen, domid, devid)
            .map(drop),
        Undo::Restore(old) => registry.record(&old).map(drop),
    };
}

/// Drops the NIC's record (offline of its PV backend), or its twin from it.
pub(crate) fn after_down(
    registry: Option<&dyn Registry>,
    req: &Request,
) -> Result<(), HotplugError> {
    let (Some(registry), Some((domid, devid))) = (registry, ids(req)) else {
        return Ok(());
    };
    match req.if_type {
        IfType::Vif => {
            registry.remove_attachment(Driver::Xen, domid, devid)?;
        }
        IfType::Tap => {
            if let Some(mut a) = registry.attachment(Driver::Xen, domid, devid)? {
                if a.emulated.as_ref() == Some(&req.device) {
                    a.emulated = None;
                    registry.record(&a)?;
                }
            }
        }
    }
    Ok(())
}
