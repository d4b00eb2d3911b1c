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
            Some(b) => release_made_bridges(host, &format!("network {net}"), &[b]),
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

/// The kind of the host's bridge `b`, as the host has it: a Linux bridge, or an Open
/// vSwitch one (its kernel datapath device, or a bridge Open vSwitch knows: the
/// userspace datapath has no such device). `None` (logged) when it is neither.
fn host_kind(host: &Host<'_>, net: &str, b: &IfName) -> Result<Option<BridgeKind>, HookError> {
    let nl_err = |source| HookError::Netlink {
        object: format!("Network {net}"),
        source: Box::new(source),
    };
    let link = host.nl.get().map_err(nl_err)?.link(b).map_err(nl_err)?;
    match &link {
        Some(l) if l.is_bridge() => return Ok(Some(BridgeKind::Linux)),
        Some(l) if l.kind.as_deref() == Some("openvswitch") => return Ok(Some(BridgeKind::Ovs)),
        _ => {}
    }
    match host.ovs.bridge(b) {
        Ok(Some(_)) => Ok(Some(BridgeKind::Ovs)),
        Ok(None) => {
            host.log.warn(&format!(
                "network {net}: {b} is {}: not registered",
                match link {
                    Some(_) => "neither a Linux bridge nor an Open vSwitch bridge",
                    None => "not on this host",
                }
            ));
            Ok(None)
        }
        Err(e) => {
            host.log.warn(&format!(
                "network {net}: {b} is not a Linux bridge, and Open vSwitch cannot be asked \
                 about it ({}): not registered",
                translator::diag::error_chain(&e)
            ));
            Ok(None)
        }
    }
}

/// `port-created`: the port's bridge joins the registry (not creatable, of the kind the
/// host has) and its MAC must not be another guest's.
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
    if host.registry.bridge(&b).map_err(reg_err(net))?.is_none() {
        if let Some(kind) = host_kind(host, net, &b)? {
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
