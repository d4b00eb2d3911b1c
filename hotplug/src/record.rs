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

use translator::bridge_spec::OvsBridge;
use translator::IfName;

use super::xenstore::XenStore;
use super::{mode, HotplugError, IfType, Request, Settings};
use registry::{
    Attachment, AttachmentState, DomainName, DomainUuid, Driver, Registry, RegistryError,
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
        state: existing.map_or(AttachmentState::Prepared, |a| a.state),
    }))
}

/// Records the NIC before it is wired; see the module doc.
pub(crate) fn before_up(
    store: &dyn XenStore,
    registry: Option<&dyn Registry>,
    req: &Request,
    s: &Settings,
) -> Result<Undo, HotplugError> {
    let (Some(registry), Some((domid, devid))) = (registry, ids(req)) else {
        return Ok(Undo::Nothing);
    };
    let existing = registry.attachment(Driver::Xen, domid, devid)?;
    let Some(new) = attachment(store, registry, req, s, existing.as_ref())? else {
        return Ok(Undo::Nothing);
    };
    if existing.as_ref() == Some(&new) {
        return Ok(Undo::Nothing);
    }
    registry.record(&new)?;
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
