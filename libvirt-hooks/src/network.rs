//! The network hook: a libvirt network forwarding to a host bridge
//! (`<forward mode='bridge'/>`) gets that bridge ensured at `start` and released at
//! `stopped` as the registry says; ports are checked at `port-created` and their NIC
//! records dropped at `port-deleted`.
//!
//! A network libvirt runs itself (NAT, routed, isolated) has a bridge libvirt creates
//! after the `start` hook and deletes itself: vifkit leaves those alone. A port
//! (`<networkport>`) names its guest, MAC and bridge but not the domain id or device,
//! which the registry's records need: the guest's `started` hook records the NIC (from
//! the live XML's `<source bridge>` and `<target dev>`); `port-created` makes sure its
//! bridge is in the registry and its MAC is not another guest's.

use std::path::Path;

use quick_xml::events::Event;
use quick_xml::Reader;
use translator::{IfName, MacAddr};

use crate::domain::{attr, resolve_ref};
use crate::error::HookError;
use crate::host::Host;
use crate::request::{Op, Request};
use crate::teardown::release_made_bridges;
use hostnet::netlink::Change;
use hostnet::plumbing::ensure_registered_bridge;
use registry::{parse_if_name, parse_mac, Bridge, BridgeKind, RegistryError};

/// What the network hook reads from `<hookData>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookData {
    /// `network/name`.
    pub name: String,
    /// `network/bridge/@name`.
    pub bridge: Option<String>,
    /// `network/forward/@mode`.
    pub forward: Option<String>,
    /// `networkport/owner/name`: the guest.
    pub port_owner: Option<String>,
    /// `networkport/mac/@address`.
    pub port_mac: Option<String>,
    /// `networkport/plug/@bridge`.
    pub port_bridge: Option<String>,
}

impl HookData {
    /// Reads `<hookData><network>..</network>[<networkport>..</networkport>]</hookData>`.
    pub fn parse(xml: &str) -> Result<HookData, String> {
        let mut r = Reader::from_str(xml);
        let mut path: Vec<String> = Vec::new();
        let mut d = HookData::default();
        loop {
            let ev = r
                .read_event()
                .map_err(|e| format!("malformed <hookData> at byte {}: {e}", r.error_position()))?;
            let (e, open) = match &ev {
                Event::Start(e) => (e, true),
                Event::Empty(e) => (e, false),
                Event::End(_) => {
                    path.pop();
                    continue;
                }
                Event::Text(t) => {
                    d.text(&path, &t.xml10_content());
                    continue;
                }
                Event::GeneralRef(g) => {
                    d.text(&path, &resolve_ref(g));
                    continue;
                }
                Event::Eof if path.is_empty() => break,
                Event::Eof => return Err(format!("unclosed <{}> in <hookData>", path.join("><"))),
                _ => continue,
            };
            let name = e.name().0.to_owned();
            let parent: Vec<&str> = path.iter().map(String::as_str).collect();
            match (parent.as_slice(), name.as_str()) {
                (["hookData", "network"], "bridge") => d.bridge = attr(e, "name"),
                (["hookData", "network"], "forward") => d.forward = attr(e, "mode"),
                (["hookData", "networkport"], "mac") => d.port_mac = attr(e, "address"),
                (["hookData", "networkport"], "plug") => d.port_bridge = attr(e, "bridge"),
                _ => {}
            }
            if open {
                path.push(name);
            }
        }
        if d.name.is_empty() {
            return Err("no <network><name> in <hookData>".to_owned());
        }
        Ok(d)
    }

    fn text(&mut self, path: &[String], s: &str) {
        let p: Vec<&str> = path.iter().map(String::as_str).collect();
        match p.as_slice() {
            ["hookData", "network", "name"] => self.name.push_str(s),
            ["hookData", "networkport", "owner", "name"] => {
                self.port_owner.get_or_insert_with(String::new).push_str(s);
            }
            _ => {}
        }
    }
}

/// The active libvirt networks but `except` whose bridge is `bridge`, by name, from
/// libvirt's state files in `dir` (`NAME.xml`, `<networkstatus><network>..<bridge
/// name=..>`). A missing directory means none (no network driver); a file that cannot be
/// read or parsed is an error (the caller then keeps the bridge).
pub(crate) fn active_networks_on(
    dir: &Path,
    bridge: &IfName,
    except: Option<&str>,
) -> Result<Vec<String>, String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot list {}: {e}", dir.display())),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        let path = entry.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".xml"))
        else {
            continue;
        };
        if Some(name) == except {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if network_bridge(&text)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .is_some_and(|b| b == bridge.as_str())
        {
            out.push(name.to_owned());
        }
    }
    out.sort();
    Ok(out)
}

/// The `<network><bridge name=..>` of a network's XML (bare or in libvirt's
/// `<networkstatus>`).
fn network_bridge(xml: &str) -> Result<Option<String>, String> {
    let mut r = Reader::from_str(xml);
    let mut parent_is_network = Vec::new();
    loop {
        let ev = r
            .read_event()
            .map_err(|e| format!("malformed XML at byte {}: {e}", r.error_position()))?;
        match &ev {
            Event::Start(e) | Event::Empty(e) => {
                if e.name().0 == "bridge" && parent_is_network.last() == Some(&true) {
                    return Ok(attr(e, "name"));
                }
                if matches!(ev, Event::Start(_)) {
                    parent_is_network.push(e.name().0 == "network");
                }
            }
            Event::End(_) => {
                parent_is_network.pop();
            }
            Event::Eof => return Ok(None),
            _ => {}
        }
    }
}

fn problem(network: &str, what: impl Into<String>) -> HookError {
    HookError::Network {
        network: network.to_owned(),
        what: what.into(),
    }
}

fn reg_err(network: &str) -> impl Fn(RegistryError) -> HookError + '_ {
    move |source| HookError::Registry {
        object: format!("Network {network}"),
        source: Box::new(source),
    }
}

/// Runs the network hook.
pub(super) fn run(host: &Host<'_>, req: &Request, input: &str) -> Result<(), HookError> {
    let net = req.object.as_str();
    let wants_data = matches!(
        req.op,
        Op::Start | Op::Stopped | Op::PortCreated | Op::PortDeleted
    );
    if !wants_data {
        host.log.debug(&format!(
            "network {net}: nothing to do at {}",
            req.op.as_str()
        ));
        return Ok(());
    }
    let data = HookData::parse(input).map_err(|e| problem(net, e))?;
    let host_bridge = || -> Result<Option<IfName>, HookError> {
        match (&data.forward, &data.bridge) {
            (Some(m), Some(b)) if m == "bridge" => parse_if_name("bridge name", b)
                .map(Some)
                .map_err(|e| problem(net, translator::diag::error_chain(&e))),
            _ => Ok(None),
        }
    };
    match req.op {
        Op::Start => {
            let Some(b) = host_bridge()? else {
                host.log
                    .debug(&format!("network {net}: libvirt manages its bridge"));
                return Ok(());
            };
            start(host, net, &b)
        }
        Op::Stopped => match host_bridge()? {
            Some(b) => release_made_bridges(host, &format!("network {net}"), Some(net), &[b]),
            None => Ok(()),
        },
        Op::PortCreated => port_created(host, net, &data),
        Op::PortDeleted => port_deleted(host, net, &data),
        _ => Ok(()),
    }
}

/// `start` of a `<forward mode='bridge'/>` network: the bridge must exist; a
/// registered, creatable one is created.
fn start(host: &Host<'_>, net: &str, b: &IfName) -> Result<(), HookError> {
    let nl = host.nl.get().map_err(|source| HookError::Netlink {
        object: format!("Network {net}"),
        source: Box::new(source),
    })?;
    let present = nl
        .link(b)
        .map_err(|source| HookError::Netlink {
            object: format!("Network {net}"),
            source: Box::new(source),
        })?
        .is_some();
    if present {
        host.log
            .debug(&format!("network {net}: bridge {b} is present"));
        return Ok(());
    }
    let Some(entry) = host.registry.bridge(b).map_err(reg_err(net))? else {
        return Err(problem(
            net,
            format!(
                "bridge {b} does not exist on this host and is not in vifkit's registry \
                 (create it, or register it with `vifkit bridge add {b} --creatable`)"
            ),
        ));
    };
    let done = ensure_registered_bridge(nl, host.registry, &entry).map_err(|e| {
        problem(
            net,
            format!("bridge {b}: {}", translator::diag::error_chain(&e)),
        )
    })?;
    if done.bridge == Change::Created {
        host.registry
            .set_bridge_made(b, true)
            .map_err(reg_err(net))?;
        host.log.info(&format!(
            "network {net}: created bridge {b} from the registry"
        ));
    }
    Ok(())
}

/// What the host has as bridge `b`.
enum OnHost {
    /// A bridge of this kind: a Linux bridge, or an Open vSwitch one (its kernel
    /// datapath device, or a bridge Open vSwitch knows: the userspace datapath has no
    /// such device).
    Bridge(BridgeKind),
    /// Nothing of that name (and no Open vSwitch that knows such a bridge).
    Missing,
    /// Something else, or a device Open vSwitch cannot be asked about: why.
    Unknown(String),
}

/// The kind of the host's bridge `b`, as the host has it.
fn on_host(host: &Host<'_>, net: &str, b: &IfName) -> Result<OnHost, HookError> {
    let nl_err = |source| HookError::Netlink {
        object: format!("Network {net}"),
        source: Box::new(source),
    };
    let link = host.nl.get().map_err(nl_err)?.link(b).map_err(nl_err)?;
    match &link {
        Some(l) if l.is_bridge() => return Ok(OnHost::Bridge(BridgeKind::Linux)),
        Some(l) if l.kind.as_deref() == Some("openvswitch") => {
            return Ok(OnHost::Bridge(BridgeKind::Ovs))
        }
        _ => {}
    }
    Ok(match host.ovs.bridge(b) {
        Ok(Some(_)) => OnHost::Bridge(BridgeKind::Ovs),
        // No device, and no Open vSwitch that knows one (libvirt could not plug a port
        // into it either).
        Ok(None) | Err(_) if link.is_none() => OnHost::Missing,
        Ok(None) => OnHost::Unknown("neither a Linux bridge nor an Open vSwitch bridge".to_owned()),
        Err(e) => OnHost::Unknown(format!(
            "not a Linux bridge, and Open vSwitch cannot be asked about it ({})",
            translator::diag::error_chain(&e)
        )),
    })
}

/// `port-created`: the port's bridge must be on the host (a bridge removed while its
/// network is active fails the start here, with the way out, rather than in libvirt's
/// own MTU lookup); it joins the registry (not creatable, of the kind the host has); its
/// MAC must not be another guest's.
fn port_created(host: &Host<'_>, net: &str, d: &HookData) -> Result<(), HookError> {
    let owner = d.port_owner.as_deref().unwrap_or("?");
    if let Some(mac) = &d.port_mac {
        let mac: MacAddr = parse_mac("port MAC", mac)
            .map_err(|e| problem(net, translator::diag::error_chain(&e)))?;
        if let Some(a) = host.registry.attachment_by_mac(mac).map_err(reg_err(net))? {
            let who = format!("network {net}");
            if a.domain_name.as_str() != owner
                && !crate::stale::drop_if_stale(host, &who, &a).map_err(reg_err(net))?
            {
                return Err(problem(
                    net,
                    format!(
                        "port of guest {owner}: MAC {mac} is already used by {}",
                        a.owner()
                    ),
                ));
            }
        }
    }
    let Some(b) = d.port_bridge.as_deref().or(d.bridge.as_deref()) else {
        return Ok(());
    };
    let b = parse_if_name("bridge name", b)
        .map_err(|e| problem(net, translator::diag::error_chain(&e)))?;
    let kind = match on_host(host, net, &b)? {
        OnHost::Bridge(kind) => Some(kind),
        OnHost::Missing => {
            return Err(problem(
                net,
                format!(
                    "port of guest {owner}: bridge {b} does not exist on this host (removed \
                     while the network is active? `virsh net-destroy {net}` then `virsh \
                     net-start {net}` make it again if it is registered creatable)"
                ),
            ))
        }
        OnHost::Unknown(why) => {
            host.log
                .warn(&format!("network {net}: {b} is {why}: not registered"));
            None
        }
    };
    if let Some(kind) = kind {
        if host.registry.bridge(&b).map_err(reg_err(net))?.is_none() {
            match host.registry.add_bridge(&Bridge::new(b.clone(), kind)) {
                Ok(()) => host.log.info(&format!(
                    "network {net}: registered its bridge {b} (kind {kind}, not creatable)"
                )),
                Err(RegistryError::BridgeExists(_)) => {}
                Err(e) => return Err(reg_err(net)(e)),
            }
        }
    }
    host.log
        .info(&format!("network {net}: port of guest {owner} on {b}"));
    Ok(())
}

/// `port-deleted`: drops the record of the port's NIC (found by MAC), if the guest's
/// `stopped` hook has not already.
fn port_deleted(host: &Host<'_>, net: &str, d: &HookData) -> Result<(), HookError> {
    let Some(mac) = &d.port_mac else {
        return Ok(());
    };
    let mac: MacAddr =
        parse_mac("port MAC", mac).map_err(|e| problem(net, translator::diag::error_chain(&e)))?;
    let owner = d.port_owner.as_deref().unwrap_or("?");
    if let Some(a) = host.registry.attachment_by_mac(mac).map_err(reg_err(net))? {
        if a.domain_name.as_str() == owner {
            host.registry
                .remove_attachment(a.driver, a.domid, a.devid)
                .map_err(reg_err(net))?;
            host.log.info(&format!(
                "network {net}: dropped the record of {} (guest {owner})",
                a.backend
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_networks_are_read_from_libvirts_state_files() {
        let dir = tempfile::tempdir().unwrap();
        let status = |bridge: &str| {
            format!(
                "<networkstatus>\n  <class_id bitmap='0-2'/>\n  <floor sum='0'/>\n  \
                 <network>\n    <name>x</name>\n    <forward mode='bridge'/>\n    \
                 <bridge name='{bridge}'/>\n  </network>\n</networkstatus>\n"
            )
        };
        let br = |s: &str| IfName::new(s).unwrap();
        // No directory: no network driver, no active network.
        let missing = dir.path().join("none");
        assert!(active_networks_on(&missing, &br("br0"), None)
            .unwrap()
            .is_empty());
        std::fs::write(dir.path().join("lan.xml"), status("br0")).unwrap();
        std::fs::write(dir.path().join("dmz.xml"), status("br0")).unwrap();
        std::fs::write(dir.path().join("other.xml"), status("br1")).unwrap();
        std::fs::write(dir.path().join("lan.pid"), "12").unwrap();
        // A <bridge> inside another element is not the network's.
        std::fs::write(
            dir.path().join("nat.xml"),
            "<networkstatus><network><name>nat</name><ip><bridge name='br0'/></ip>\
             </network></networkstatus>",
        )
        .unwrap();
        assert_eq!(
            active_networks_on(dir.path(), &br("br0"), None).unwrap(),
            ["dmz", "lan"]
        );
        assert_eq!(
            active_networks_on(dir.path(), &br("br0"), Some("lan")).unwrap(),
            ["dmz"]
        );
        std::fs::write(dir.path().join("bad.xml"), "<networkstatus><network>").unwrap();
        std::fs::write(dir.path().join("worse.xml"), "<a></b>").unwrap();
        let e = active_networks_on(dir.path(), &br("br9"), None).unwrap_err();
        assert!(e.contains("worse.xml: malformed XML"), "{e}");
    }

    #[test]
    fn reads_hook_data() {
        let d = HookData::parse(
            "<hookData>\n  <network>\n    <name>lan</name>\n    \
             <uuid>0b2f3c1e-7d6a-4d5e-9b1b-2d7d0f6f1a11</uuid>\n    \
             <forward mode='bridge'/>\n    <bridge name='br0'/>\n  </network>\n  \
             <networkport>\n    <uuid>1b2f3c1e-7d6a-4d5e-9b1b-2d7d0f6f1a11</uuid>\n    \
             <owner>\n      <name>web&amp;1</name>\n      \
             <uuid>2b2f3c1e-7d6a-4d5e-9b1b-2d7d0f6f1a11</uuid>\n    </owner>\n    \
             <mac address='52:54:00:11:22:33'/>\n    \
             <plug type='bridge' bridge='br0'/>\n  </networkport>\n</hookData>\n",
        )
        .unwrap();
        assert_eq!(
            d,
            HookData {
                name: "lan".into(),
                bridge: Some("br0".into()),
                forward: Some("bridge".into()),
                port_owner: Some("web&1".into()),
                port_mac: Some("52:54:00:11:22:33".into()),
                port_bridge: Some("br0".into()),
            }
        );
        assert!(HookData::parse("<hookData><network/></hookData>").is_err());
        assert!(HookData::parse("<hookData><network><name>x</name>").is_err());
    }
}
