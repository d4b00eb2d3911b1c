//! Bringing the registry's pairings in line with the domains a libvirt connection says
//! are running (read-only, from `vifkit serve --libvirt URI` at start; never from a
//! hook). Each running domain's NICs replace its pairings in one step
//! ([`Registry::replace_domain`]), under its driver: a `<domain type='xen'>` is a Xen
//! domain, any other a QEMU one (libvirt's test driver stands in for QEMU in tests). A
//! NIC that cannot be recorded (no MAC, a bridge that is not registered, a QEMU NIC
//! without its tap's name) is left out with a note.

use std::collections::HashMap;

use registry::{
    emulated_name, parse_if_name, Attachment, AttachmentState, DomainName, DomainUuid, Driver,
    NicModelName, Registry, DOMID_FIRST_RESERVED,
};
use translator::interface_xml;
use translator::model;

/// A running domain as libvirt describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningDomain {
    /// Whose domain: Xen's for `<domain type='xen'>`, else QEMU's ([`driver_of`]).
    pub driver: Driver,
    /// Its id (the Xen domain id on a Xen host).
    pub id: u32,
    /// Its name.
    pub name: String,
    /// Its UUID.
    pub uuid: Option<String>,
    /// Its live XML.
    pub xml: String,
}

/// What a reconcile did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reconciled {
    /// Domains whose pairings were replaced.
    pub domains: usize,
    /// Pairings recorded.
    pub pairings: usize,
    /// Pairings dropped (they were no longer in the domain's XML).
    pub dropped: usize,
    /// One line per NIC or domain left out, and why.
    pub notes: Vec<String>,
}

/// Whose domain a live XML describes: Xen's when the `<domain>` start tag says
/// `type='xen'` (a libxl domain: its emulated NICs have a `-emu` twin), else QEMU's.
pub fn driver_of(xml: &str) -> Driver {
    let Some(start) = xml.find("<domain") else {
        return Driver::Qemu;
    };
    let tag = &xml[start..];
    let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
    if tag.contains("type='xen'") || tag.contains("type=\"xen\"") {
        Driver::Xen
    } else {
        Driver::Qemu
    }
}

/// The pairings of one running domain, and notes on the NICs left out.
pub fn domain_attachments(
    d: &RunningDomain,
    networks: &HashMap<String, String>,
    registered: &dyn Fn(&str) -> bool,
) -> Result<(Vec<Attachment>, Vec<String>), String> {
    if d.driver == Driver::Xen && d.id >= DOMID_FIRST_RESERVED {
        return Err(format!("Domain {:?}: id {} is out of range", d.name, d.id));
    }
    let name = DomainName::new(d.name.clone()).map_err(|e| e.to_string())?;
    let uuid = match &d.uuid {
        Some(u) => Some(u.parse::<DomainUuid>().map_err(|e| e.to_string())?),
        None => None,
    };
    let doc = interface_xml::read_document(&d.xml)
        .map_err(|e| format!("Domain {:?}: {}", d.name, super::error::chain(&e)))?;
    let xen_hvm = d.driver == Driver::Xen && doc.guest_type.is_some_and(|g| g.has_emulated_nics());
    let mut out = Vec::new();
    let mut notes = Vec::new();
    for (i, l) in doc.interfaces.iter().enumerate() {
        let iface = &l.parsed.iface;
        let devid = u32::try_from(i).unwrap_or(u32::MAX);
        let what = format!("Domain {:?} interface[{i}]", d.name);
        let Some(mac) = iface.mac else {
            notes.push(format!("{what}: no MAC, left out"));
            continue;
        };
        let bridge = match (&iface.source_bridge, &iface.source_network) {
            (Some(b), _) => Some(b.to_string()),
            (None, Some(n)) => networks.get(n.as_ref()).cloned(),
            (None, None) => None,
        };
        let Some(bridge) = bridge.filter(|b| !b.is_empty()) else {
            notes.push(format!("{what}: no bridge, left out"));
            continue;
        };
        if !registered(&bridge) {
            notes.push(format!(
                "{what}: bridge {bridge} is not registered, left out"
            ));
            continue;
        }
        let bridge = match parse_if_name("bridge", &bridge) {
            Ok(b) => b,
            Err(e) => {
                notes.push(format!("{what}: {e}"));
                continue;
            }
        };
        let mut a = if d.driver == Driver::Qemu {
            let tap = iface
                .target_dev
                .as_deref()
                .map(|t| parse_if_name("target device", t));
            match tap {
                Some(Ok(tap)) => Attachment::qemu(name.clone(), d.id, devid, mac, bridge, tap),
                Some(Err(e)) => {
                    notes.push(format!("{what}: {e}, left out"));
                    continue;
                }
                None => {
                    notes.push(format!("{what}: no <target dev>, left out"));
                    continue;
                }
            }
        } else {
            let emulated = xen_hvm
                && iface
                    .model
                    .as_deref()
                    .is_none_or(|m| model::lookup(m).is_some_and(|m| m.emulated));
            match Attachment::xen(name.clone(), d.id, devid, mac, bridge, emulated) {
                Ok(a) => a,
                Err(e) => {
                    notes.push(format!("{what}: {e}"));
                    continue;
                }
            }
        };
        if let (Driver::Xen, Some(dev)) = (d.driver, iface.target_dev.as_deref()) {
            match parse_if_name("target device", dev) {
                Ok(dev) => {
                    a.emulated = match a.emulated {
                        Some(_) => emulated_name(&dev).ok(),
                        None => None,
                    };
                    a.backend = dev;
                }
                Err(e) => notes.push(format!("{what}: {e}; Xen's name {} kept", a.backend)),
            }
        }
        a.domain_uuid = uuid;
        a.model = match iface.model.as_deref().map(NicModelName::new) {
            Some(Ok(m)) => Some(m),
            Some(Err(e)) => {
                notes.push(format!("{what}: {e}; recorded without its model"));
                None
            }
            None => None,
        };
        a.state = AttachmentState::Active;
        if let Err(e) = a.validate() {
            notes.push(format!("{what}: {e}, left out"));
            continue;
        }
        out.push(a);
    }
    Ok((out, notes))
}

/// Replaces the pairings of every domain in `running` with what its XML says.
pub fn reconcile(
    reg: &dyn Registry,
    running: &[RunningDomain],
    networks: &HashMap<String, String>,
) -> Result<Reconciled, registry::RegistryError> {
    let bridges: Vec<String> = reg.bridges()?.iter().map(|b| b.name.to_string()).collect();
    let registered = |b: &str| bridges.iter().any(|r| r == b);
    let mut done = Reconciled::default();
    for d in running {
        let (attachments, notes) = match domain_attachments(d, networks, &registered) {
            Ok(x) => x,
            Err(e) => {
                done.notes.push(e);
                continue;
            }
        };
        done.notes.extend(notes);
        match reg.replace_domain(d.driver, d.id, &attachments) {
            Ok(dropped) => {
                done.domains += 1;
                done.pairings += attachments.len();
                done.dropped += dropped.len();
            }
            Err(e) => done
                .notes
                .push(format!("Domain {:?}: {}", d.name, super::error::chain(&e))),
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use registry::{Bridge, BridgeKind, SqliteRegistry};
    use translator::IfName;

    const XEN_HVM: &str = "<domain type='xen'><name>g</name><os><type>hvm</type></os>\
        <devices><interface type='bridge'><mac address='00:16:3e:00:00:01'/>\
        <source bridge='br0'/><target dev='vif3.0'/></interface>\
        <interface type='network'><mac address='00:16:3e:00:00:02'/>\
        <source network='default'/><model type='netfront'/></interface>\
        <interface type='bridge'><mac address='00:16:3e:00:00:03'/>\
        <source bridge='elsewhere'/></interface></devices></domain>";

    #[test]
    fn running_domains_replace_their_pairings() {
        let dir = tempfile::tempdir().unwrap();
        let reg = SqliteRegistry::open(dir.path().join("r.db")).unwrap();
        for b in ["br0", "virbr0"] {
            reg.add_bridge(&Bridge::new(IfName::new(b).unwrap(), BridgeKind::Linux))
                .unwrap();
        }
        let stale = Attachment::xen(
            DomainName::new("g").unwrap(),
            3,
            7,
            "00:16:3e:00:00:07".parse().unwrap(),
            IfName::new("br0").unwrap(),
            false,
        )
        .unwrap();
        reg.record(&stale).unwrap();
        let nets: HashMap<String, String> = [("default".into(), "virbr0".into())].into();
        let d = RunningDomain {
            driver: driver_of(XEN_HVM),
            id: 3,
            name: "g".into(),
            uuid: Some("c7a5fdbd-edaf-9455-926a-d65c16db1809".into()),
            xml: XEN_HVM.into(),
        };
        let done = reconcile(&reg, &[d], &nets).unwrap();
        assert_eq!((done.domains, done.pairings, done.dropped), (1, 2, 1));
        assert_eq!(done.notes.len(), 1, "{:?}", done.notes);
        assert!(done.notes[0].contains("elsewhere"), "{:?}", done.notes);
        let a = reg.attachments().unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].backend.as_str(), "vif3.0");
        assert_eq!(a[0].emulated.as_ref().unwrap().as_str(), "vif3.0-emu");
        assert_eq!(a[0].state, AttachmentState::Active);
        assert_eq!(a[1].bridge.as_str(), "virbr0");
        assert_eq!(a[1].emulated, None);
        // Each NIC's model as the XML names it.
        assert_eq!(a[0].model, None);
        assert_eq!(a[1].model.as_ref().map(|m| m.as_str()), Some("netfront"));
    }

    #[test]
    fn a_qemu_domain_re_syncs_only_its_own_pairings() {
        let dir = tempfile::tempdir().unwrap();
        let reg = SqliteRegistry::open(dir.path().join("r.db")).unwrap();
        reg.add_bridge(&Bridge::new(IfName::new("br0").unwrap(), BridgeKind::Linux))
            .unwrap();
        let xen = Attachment::xen(
            DomainName::new("x").unwrap(),
            3,
            0,
            "00:16:3e:00:00:03".parse().unwrap(),
            IfName::new("br0").unwrap(),
            false,
        )
        .unwrap();
        reg.record(&xen).unwrap();
        // QEMU's domain 3: one NIC with its tap, one without (left out).
        let xml = "<domain type='kvm' id='3'><name>q</name><devices>\
            <interface type='bridge'><mac address='52:54:00:00:00:03'/>\
            <source bridge='br0'/><target dev='vnet3'/><model type='e1000'/></interface>\
            <interface type='bridge'><mac address='52:54:00:00:00:04'/>\
            <source bridge='br0'/></interface></devices></domain>";
        assert_eq!(driver_of(xml), Driver::Qemu);
        let d = RunningDomain {
            driver: driver_of(xml),
            id: 3,
            name: "q".into(),
            uuid: None,
            xml: xml.into(),
        };
        let done = reconcile(&reg, &[d], &HashMap::new()).unwrap();
        assert_eq!((done.domains, done.pairings, done.dropped), (1, 1, 0));
        assert_eq!(
            done.notes,
            ["Domain \"q\" interface[1]: no <target dev>, left out"]
        );
        let all = reg.attachments().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0], xen);
        assert_eq!(
            (all[1].driver, all[1].domid, all[1].backend.as_str()),
            (Driver::Qemu, 3, "vnet3")
        );
        assert_eq!(all[1].model.as_ref().map(|m| m.as_str()), Some("e1000"));
    }
}
