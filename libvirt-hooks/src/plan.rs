//! What the hooks do with each `<interface>`: the NIC plan, checked as the translator
//! checks it for the driver and guest type. Shared by prepare, started and the
//! migrate/restore filter.

use std::borrow::Cow;

use registry::parse_if_name;
use translator::interface::{Interface, InterfaceType};
use translator::model::NETFRONT;
use translator::to_vif::interface_to_vif;
use translator::vlan::VlanSpec;
use translator::{GuestType, IfName, MacAddr};

use crate::domain::{Bandwidth, Domain};
use crate::error::HookError;
use crate::request::Driver;

/// How an interface reaches the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NicKind {
    /// `type='bridge'`.
    Bridge,
    /// `type='network'`: libvirt's network; its bridge is known in live XML only.
    Network,
    /// `type='ethernet'`: no bridge (a script wires it).
    Ethernet,
    /// Any other type (`direct`, `hostdev`, `user`, ...): not vifkit's business.
    Other(String),
}

/// One interface, checked, with what the hooks do with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NicPlan {
    /// Index among the domain's interfaces, from 0 (the libxl device id).
    pub index: usize,
    /// How it reaches the host.
    pub kind: NicKind,
    /// `<mac address>`.
    pub mac: Option<MacAddr>,
    /// The bridge (`<source bridge>`), when known.
    pub bridge: Option<IfName>,
    /// Plugged into Open vSwitch (`<virtualport type='openvswitch'/>`).
    pub ovs: bool,
    /// VLANs for a Linux bridge port (`<vlan>` read as the translator reads it).
    pub vlan: Option<VlanSpec>,
    /// `<target dev>`.
    pub target: Option<String>,
    /// `<model type>`, as written (libvirt fills in its default model in live XML).
    pub model: Option<String>,
    /// libxl HVM NIC with an emulated twin (`vifD.N-emu`): any model but netfront.
    pub emulated: bool,
    /// `<bandwidth><inbound>`, towards the guest.
    pub inbound: Option<Bandwidth>,
}

/// Checks every interface of the domain as the translator does and says what each
/// one is. `libxl`: the whole translation check for the guest type (a PV guest with an
/// emulated model is refused, ...); `qemu`: names and `<vlan>` on Linux bridges (QEMU
/// models and Open vSwitch VLANs are libvirt's business). Every problem is returned.
pub fn plan_nics(driver: Driver, dom: &Domain) -> Result<Vec<NicPlan>, HookError> {
    let mut plans = Vec::with_capacity(dom.nics.len());
    let mut errors = Vec::new();
    for nic in &dom.nics {
        let iface = &nic.located.parsed.iface;
        let kind = match &iface.kind {
            InterfaceType::Bridge => NicKind::Bridge,
            InterfaceType::Network => NicKind::Network,
            InterfaceType::Ethernet => NicKind::Ethernet,
            InterfaceType::Other(t) => NicKind::Other(t.to_string()),
        };
        let ovs = iface.is_openvswitch();
        let mut plan = NicPlan {
            index: nic.index,
            kind: kind.clone(),
            mac: iface.mac,
            bridge: None,
            ovs,
            vlan: None,
            target: iface.target_dev.as_deref().map(str::to_owned),
            model: iface.model.as_deref().map(str::to_owned),
            emulated: driver == Driver::Libxl
                && dom.guest_type == GuestType::Hvm
                && iface.model.as_deref() != Some(NETFRONT),
            inbound: nic.inbound,
        };
        // A network's bridge is in live XML only; other types have none.
        let checked = match kind {
            NicKind::Other(_) => None,
            NicKind::Network if iface.source_bridge.is_none() => None,
            _ => Some(checked_view(driver, iface)),
        };
        if let Some(view) = checked {
            let guest = if driver == Driver::Libxl {
                dom.guest_type
            } else {
                GuestType::Hvm
            };
            match interface_to_vif(&view, &nic.located.parsed.dropped, guest, &()) {
                Ok((spec, _warnings)) => {
                    plan.vlan = if ovs { None } else { spec.vlan };
                }
                Err(es) => {
                    errors.extend(es.into_iter().map(|source| HookError::Interface {
                        guest: dom.name.clone(),
                        index: nic.index,
                        source,
                    }));
                    continue;
                }
            }
            if matches!(plan.kind, NicKind::Bridge | NicKind::Network) {
                if let Some(b) = iface.source_bridge.as_deref() {
                    match parse_if_name("bridge name", b) {
                        Ok(b) => plan.bridge = Some(b),
                        Err(source) => errors.push(HookError::Model {
                            guest: dom.name.clone(),
                            index: nic.index,
                            source,
                        }),
                    }
                }
            }
        }
        plans.push(plan);
    }
    HookError::from_list(errors).map(|()| plans)
}

/// What the translator checks for a NIC of this driver: all of it for libxl; for
/// QEMU the bridge, names, MAC and Linux-bridge VLANs only.
fn checked_view<'a>(driver: Driver, iface: &'a Interface<'a>) -> Cow<'a, Interface<'a>> {
    if driver == Driver::Libxl {
        return Cow::Borrowed(iface);
    }
    let mut v = Interface::new(match iface.kind {
        InterfaceType::Ethernet => InterfaceType::Ethernet,
        _ => InterfaceType::Bridge,
    });
    v.mac = iface.mac;
    v.source_bridge = iface.source_bridge.clone();
    v.target_dev = iface.target_dev.clone();
    if !iface.is_openvswitch() {
        v.vlan = iface.vlan.clone();
    }
    Cow::Owned(v)
}
