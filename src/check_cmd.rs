//! `vifkit check`: a lint for the network problems admins trip on, one line each naming
//! what and where. It reads xl guest configs (`--xl-dir`, with vifkit's own parser),
//! libvirt's defined domains (`--connect`, through the `vifkit-libvirt` helper), the
//! registry (bridges and NIC records) and the host's links (netlink, in the calling
//! process's network namespace). It changes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _};
use hostnet::netlink::{LinkState, Netlink};
use registry::{Attachment, Bridge, BridgeKind};
use translator::bridge_spec::OvsBridge;
use translator::cfg::{self, VifDefaults};
use translator::diag::shown;
use translator::ifname::IFNAME_MAX;
use translator::interface::InterfaceType;
use translator::vif::{NicType, ParseOptions, VifError};
use translator::{GuestType, IfName, MacAddr, VifSpec};

use crate::config::Config;
use crate::report::{chain, Failure};

/// `--help` text of `vifkit check`.
pub const HELP: &str = "WHAT IS CHECKED\n  - one MAC in two guests (xl configs, libvirt domains, \
the registry's NIC records), or twice in one guest\n  - a guest with two NICs on one bridge \
whose STP is off\n  - a bridge's uplink with a smaller MTU than the bridge, its registry entry, \
its ports or a guest NIC's mtu\n  - a VLAN uplink (the raw device of UPLINK.N) whose MTU leaves \
no room for the bridge's MTU: an 802.1Q device carries at most its raw device's MTU\n  - a \
bridge a config names that is neither on this host nor registered (and a libvirt network that \
is not defined)\n  - a vifname (or its emulated twin VIFNAME-emu, on HVM guests) or a libvirt \
<target dev> longer than 15 bytes\nEach problem is one line on standard output, `WHERE: WHAT`; \
the count goes to standard error. Exit status 0: no problem; 1: problems found, or the check \
could not run (an `error:` line says why). The host is read in the network namespace vifkit \
runs in.";

/// Where xl keeps guest configs by default.
const XL_DIR: &str = "/etc/xen";

/// One guest NIC, from wherever it was read.
struct Nic {
    /// The guest's name.
    guest: String,
    /// Which config, domain or record group it belongs to (two NICs of one source are
    /// two NICs of one guest).
    source: usize,
    /// Where, for the message (`FILE:LINE: vif 0`).
    at: String,
    mac: Option<MacAddr>,
    /// The bridge as the problem line names it, and every name it may stand for.
    bridge: Option<(String, Vec<String>)>,
    /// A libvirt network.
    network: Option<String>,
    /// The NIC's own MTU (xl `mtu=`, libvirt `<mtu size>`).
    mtu: Option<u32>,
}

/// What the host has, by name.
struct Host {
    links: BTreeMap<String, LinkState>,
}

impl Host {
    fn read() -> anyhow::Result<Host> {
        let nl = Netlink::new().map_err(anyhow::Error::from)?;
        // /proc/self/net follows the process's network namespace.
        let text = std::fs::read_to_string("/proc/self/net/dev")
            .context("Cannot list the network devices (/proc/self/net/dev)")?;
        let mut links = BTreeMap::new();
        for line in text.lines().skip(2) {
            let Some((name, _)) = line.split_once(':') else {
                continue;
            };
            let Ok(name) = IfName::new(name.trim()) else {
                continue;
            };
            // A device gone since the listing is simply not there.
            if let Some(l) = nl.link(&name).map_err(anyhow::Error::from)? {
                links.insert(l.name.clone(), l);
            }
        }
        Ok(Host { links })
    }

    fn get(&self, name: &str) -> Option<&LinkState> {
        self.links.get(name)
    }

    fn ports<'a>(&'a self, bridge: &'a LinkState) -> impl Iterator<Item = &'a LinkState> + 'a {
        self.links
            .values()
            .filter(move |l| l.master == Some(bridge.index))
    }
}

/// The problems found, in the order found, without repeats.
#[derive(Default)]
struct Problems {
    lines: Vec<String>,
    seen: BTreeSet<String>,
}

impl Problems {
    fn add(&mut self, line: String) {
        if self.seen.insert(line.clone()) {
            self.lines.push(line);
        }
    }
}

/// `vifkit check`.
pub fn run(cfg: &Config, xl_dir: Option<&Path>, connect: Option<&str>) -> Result<String, Failure> {
    // Read-only: never waits for a writer, and creates no registry (none: empty).
    let reg = crate::bridge_cmd::open_to_read(cfg)?;
    let bridges = reg.bridges().map_err(anyhow::Error::from)?;
    let records = reg.attachments().map_err(anyhow::Error::from)?;
    drop(reg);
    let host = Host::read()?;
    let mut p = Problems::default();
    let mut nics = Vec::new();
    let mut sources = 0usize;
    let dir = match xl_dir {
        Some(d) => Some(d.to_path_buf()),
        None => Some(PathBuf::from(XL_DIR)).filter(|d| d.is_dir()),
    };
    if let Some(dir) = dir {
        read_xl_dir(&dir, &mut nics, &mut sources, &mut p)?;
    }
    let mut networks = BTreeMap::new();
    if let Some(uri) = connect {
        networks = read_libvirt(uri, &mut nics, &mut sources, &mut p)?;
    }
    for (i, group) in group_records(&records).into_iter().enumerate() {
        for a in group {
            nics.push(Nic {
                guest: a.domain_name.to_string(),
                source: sources + i,
                at: format!(
                    "registry: {} domain {} ({}) device {}",
                    a.driver.label(),
                    a.domid,
                    a.domain_name,
                    a.devid
                ),
                mac: Some(a.mac),
                bridge: Some((a.bridge.to_string(), vec![a.bridge.to_string()])),
                network: None,
                mtu: None,
            });
        }
    }

    check_macs(&nics, &mut p);
    check_bridges(&nics, &bridges, &host, &networks, connect, &mut p);
    check_mtus(&nics, &bridges, &host, &mut p);

    if p.lines.is_empty() {
        return Ok(String::new());
    }
    let mut out = String::new();
    for l in &p.lines {
        let _ = writeln!(out, "{}", translator::diag::one_line(l));
    }
    // The problems are the output; the status says there were some.
    {
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        let _ = stdout
            .write_all(out.as_bytes())
            .and_then(|()| stdout.flush());
    }
    Err(Failure::Invalid(vec![format!(
        "{} problem{} found",
        p.lines.len(),
        if p.lines.len() == 1 { "" } else { "s" }
    )]))
}

/// The registry's NIC records, one group per domain.
fn group_records(records: &[Attachment]) -> Vec<Vec<&Attachment>> {
    let mut groups: BTreeMap<(String, u32), Vec<&Attachment>> = BTreeMap::new();
    for a in records {
        groups
            .entry((a.driver.as_str().to_owned(), a.domid))
            .or_default()
            .push(a);
    }
    groups.into_values().collect()
}

/// Whether a file in the xl directory is worth reading as a guest config.
fn config_candidate(path: &Path) -> Option<bool> {
    let name = path.file_name()?.to_str()?;
    // xl.conf, xend's *.sxp, and the examples Xen installs there are not guests.
    if name.starts_with('.')
        || name == "xl.conf"
        || name.ends_with(".sxp")
        || name.starts_with("xlexample")
        || name.starts_with("xmexample")
    {
        return None;
    }
    Some(name.ends_with(".cfg"))
}

fn read_xl_dir(
    dir: &Path,
    nics: &mut Vec<Nic>,
    sources: &mut usize,
    p: &mut Problems,
) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("--xl-dir {}: cannot list it", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    let defaults = xl_defaults(dir, p);
    for path in paths {
        let Some(is_cfg) = config_candidate(&path) else {
            continue;
        };
        let shown_path = shown(&path.to_string_lossy()).to_string();
        // Bounded: a guest config is a few kilobytes.
        let meta = std::fs::metadata(&path)?;
        if meta.len() > 1 << 20 {
            if is_cfg {
                p.add(format!("{shown_path}: larger than 1 MiB, not read"));
            }
            continue;
        }
        let Ok(text) = std::fs::read(&path) else {
            if is_cfg {
                p.add(format!("{shown_path}: cannot be read"));
            }
            continue;
        };
        let conf = match cfg::parse_bytes(&text, &shown_path) {
            Ok(c) => c,
            Err(e) if is_cfg => {
                p.add(chain(&e));
                continue;
            }
            Err(_) => continue,
        };
        let name = conf.name().map(|n| n.into_owned());
        if !is_cfg && name.is_none() {
            continue;
        }
        let guest = name.unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        let guest_type = match conf.guest_type() {
            Ok(g) => g,
            Err(e) => {
                p.add(chain(&e));
                GuestType::Pv
            }
        };
        let vifs = match conf.vifs() {
            Ok(v) => v,
            Err(e) => {
                p.add(chain(&e));
                continue;
            }
        };
        let source = *sources;
        *sources += 1;
        for (i, item) in vifs.items.iter().enumerate() {
            let at = format!(
                "{shown_path}:{}: vif {i} of guest {}",
                item.line,
                shown(&guest)
            );
            nics.push(xl_nic(
                &item.spec, guest_type, &defaults, &guest, source, at, p,
            ));
        }
    }
    Ok(())
}

/// The vif defaults of DIR/xl.conf, if there is one.
fn xl_defaults(dir: &Path, p: &mut Problems) -> VifDefaults {
    let path = dir.join("xl.conf");
    let Ok(text) = std::fs::read(&path) else {
        return VifDefaults::default();
    };
    let name = path.display().to_string();
    match cfg::parse_bytes(&text, &name).and_then(|c| c.vif_defaults()) {
        Ok((d, _)) => d,
        Err(e) => {
            p.add(chain(&e));
            VifDefaults::default()
        }
    }
}

fn script_is(script: &str, name: &str) -> bool {
    script.rsplit('/').next() == Some(name)
}

fn xl_nic(
    spec_text: &str,
    guest_type: GuestType,
    d: &VifDefaults,
    guest: &str,
    source: usize,
    at: String,
    p: &mut Problems,
) -> Nic {
    let (spec, _, errors) = VifSpec::parse_partial(spec_text, ParseOptions { lenient: true });
    // A vifname xl would refuse for its length is a problem of its own.
    let mut vifname = spec.vifname.as_deref().map(str::to_owned);
    for e in &errors {
        if let VifError::Invalid {
            key: "vifname",
            value,
            ..
        } = e
        {
            vifname = Some(value.clone());
        }
    }
    if let Some(v) = &vifname {
        if v.len() > IFNAME_MAX {
            p.add(format!(
                "{at}: vifname {} is {} bytes, longer than the {IFNAME_MAX} an interface name \
                 may have",
                shown(v),
                v.len()
            ));
        } else if guest_type.has_emulated_nics() && spec.nic_type != Some(NicType::Vif) {
            let twin = format!("{v}{}", registry::EMULATED_SUFFIX);
            if twin.len() > IFNAME_MAX {
                p.add(format!(
                    "{at}: vifname {}: its emulated twin {} is {} bytes, longer than the \
                     {IFNAME_MAX} an interface name may have (say type=vif, or a vifname of \
                     at most {} bytes)",
                    shown(v),
                    shown(&twin),
                    twin.len(),
                    IFNAME_MAX - registry::EMULATED_SUFFIX.len()
                ));
            }
        }
    }
    let script = spec
        .script
        .as_deref()
        .map(str::to_owned)
        .or_else(|| d.script.clone())
        .unwrap_or_else(|| "vif-bridge".to_owned());
    let routed = [
        "vif-route",
        "vif-nat",
        "vif-route-ifup",
        "vif-vifkit-route",
        "vif-vifkit-nat",
    ]
    .iter()
    .any(|s| script_is(&script, s));
    let ovs = script_is(&script, "vif-openvswitch");
    let raw = spec
        .bridge
        .as_deref()
        .map(str::to_owned)
        .or_else(|| d.bridge.clone())
        .or_else(|| (!routed).then(|| translator::to_xml::XEN_DEFAULT_BRIDGE.to_owned()));
    let bridge = raw.filter(|_| !routed).map(|raw| {
        let ovs_name = OvsBridge::has_vlan_syntax(&raw)
            .then(|| OvsBridge::parse(&raw).ok().map(|b| b.name.into_owned()))
            .flatten();
        match (ovs, ovs_name) {
            (true, Some(n)) => (n.clone(), vec![n]),
            (false, Some(n)) => (raw.clone(), vec![raw, n]),
            (_, None) => (raw.clone(), vec![raw]),
        }
    });
    Nic {
        guest: guest.to_owned(),
        source,
        at,
        mac: spec.mac,
        bridge,
        network: None,
        mtu: spec.mtu,
    }
}

/// Reads the domains defined at `uri` (their persistent XML) and its networks' bridges.
fn read_libvirt(
    uri: &str,
    nics: &mut Vec<Nic>,
    sources: &mut usize,
    p: &mut Problems,
) -> anyhow::Result<BTreeMap<String, String>> {
    let out = crate::helper::run(
        crate::libvirt::HELPER,
        "VIFKIT_LIBVIRT_HELPER",
        &["defined-domains", uri],
        false,
    )
    .map_err(|e| anyhow!("--connect needs {e}"))?;
    if !out.status.success() {
        return Err(anyhow!(crate::helper::error_line(
            &out.stderr,
            "the libvirt lookup failed"
        )));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .context("vifkit-libvirt printed something that is not JSON")?;
    let networks: BTreeMap<String, String> = v["networks"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, b)| (k.clone(), b.as_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default();
    for d in v["domains"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
        let name = d["name"].as_str().unwrap_or("").to_owned();
        let xml = d["xml"].as_str().unwrap_or("");
        let where_ = format!("{} domain {}", shown(uri), shown(&name));
        let doc = match translator::interface_xml::read_document(xml) {
            Ok(doc) => doc,
            Err(e) => {
                p.add(format!("{where_}: {}", chain(&e)));
                continue;
            }
        };
        let source = *sources;
        *sources += 1;
        for (i, l) in doc.interfaces.iter().enumerate() {
            let iface = &l.parsed.iface;
            let at = format!("{where_} interface {i}");
            if let Some(t) = iface.target_dev.as_deref() {
                if t.len() > IFNAME_MAX {
                    p.add(format!(
                        "{at}: <target dev> {} is {} bytes, longer than the {IFNAME_MAX} an \
                         interface name may have",
                        shown(t),
                        t.len()
                    ));
                }
            }
            let bridge = match iface.kind {
                InterfaceType::Bridge => iface
                    .source_bridge
                    .as_deref()
                    .map(|b| (b.to_owned(), vec![b.to_owned()])),
                _ => None,
            };
            let network = match iface.kind {
                InterfaceType::Network => iface.source_network.as_deref().map(str::to_owned),
                _ => None,
            };
            nics.push(Nic {
                guest: name.clone(),
                source,
                at,
                mac: iface.mac,
                bridge,
                network,
                mtu: iface.mtu,
            });
        }
    }
    Ok(networks)
}

fn check_macs(nics: &[Nic], p: &mut Problems) {
    let mut by_mac: BTreeMap<MacAddr, Vec<&Nic>> = BTreeMap::new();
    for n in nics {
        if let Some(m) = n.mac {
            by_mac.entry(m).or_default().push(n);
        }
    }
    for (mac, seen) in by_mac {
        let first = seen[0];
        // The first NIC of each other guest, and every other NIC of the same source.
        let mut guests = BTreeSet::from([first.guest.as_str()]);
        for n in &seen[1..] {
            if n.guest != first.guest && guests.insert(n.guest.as_str()) {
                p.add(format!(
                    "{}: MAC {mac} is also used by guest {} ({})",
                    n.at,
                    shown(&first.guest),
                    first.at
                ));
            }
        }
        for (i, a) in seen.iter().enumerate() {
            if let Some(b) = seen[..i].iter().find(|b| b.source == a.source) {
                p.add(format!(
                    "{}: MAC {mac} is also the MAC of {} of the same guest",
                    a.at, b.at
                ));
            }
        }
    }
}

/// The STP state of a bridge, from the host or else the registry.
fn stp_of(name: &str, bridges: &[Bridge], host: &Host) -> Option<bool> {
    if let Some(b) = host.get(name).and_then(|l| l.bridge) {
        return Some(b.stp);
    }
    bridges
        .iter()
        .find(|b| b.name.as_str() == name)
        .map(|b| b.stp)
}

fn check_bridges(
    nics: &[Nic],
    bridges: &[Bridge],
    host: &Host,
    networks: &BTreeMap<String, String>,
    uri: Option<&str>,
    p: &mut Problems,
) {
    let known = |n: &str| host.get(n).is_some() || bridges.iter().any(|b| b.name.as_str() == n);
    let mut per_source: BTreeMap<(usize, &str), Vec<&Nic>> = BTreeMap::new();
    for n in nics {
        if let Some((shown_name, names)) = &n.bridge {
            if !names.iter().any(|b| known(b)) {
                p.add(format!(
                    "{}: bridge {} is neither on this host nor in the registry",
                    n.at,
                    shown(shown_name)
                ));
            }
            let name = names
                .iter()
                .find(|b| known(b))
                .map_or(shown_name.as_str(), String::as_str);
            per_source.entry((n.source, name)).or_default().push(n);
        }
        if let (Some(net), Some(uri)) = (&n.network, uri) {
            if !networks.contains_key(net) {
                p.add(format!(
                    "{}: network {} is not defined at {}",
                    n.at,
                    shown(net),
                    shown(uri)
                ));
            }
        }
    }
    // One line per guest and bridge, though its config and its records both say so.
    let mut said: BTreeSet<(&str, &str)> = BTreeSet::new();
    for ((_, bridge), on) in per_source {
        if on.len() < 2 || !said.insert((on[0].guest.as_str(), bridge)) {
            continue;
        }
        if stp_of(bridge, bridges, host) == Some(false) {
            p.add(format!(
                "{}: guest {} has {} NICs on bridge {}, whose STP is off: a bridge or bond \
                 between them inside the guest makes a loop nothing breaks ({})",
                on[0].at,
                shown(&on[0].guest),
                on.len(),
                shown(bridge),
                on[1..]
                    .iter()
                    .map(|n| n.at.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
    }
}

fn check_mtus(nics: &[Nic], bridges: &[Bridge], host: &Host, p: &mut Problems) {
    for b in bridges {
        let Some(uplink) = &b.uplink else { continue };
        let Ok(Some(device)) = b.uplink_device() else {
            continue;
        };
        let br = host.get(b.name.as_str());
        let wanted = [br.map(|l| l.mtu), b.mtu.map(|m| m.get())]
            .into_iter()
            .flatten()
            .max();
        if let (Some(vlan), Some(raw)) = (b.vlan, host.get(uplink.as_str())) {
            let want = [wanted, host.get(device.as_str()).map(|l| l.mtu)]
                .into_iter()
                .flatten()
                .max();
            if let Some(want) = want.filter(|&w| raw.mtu < w) {
                p.add(format!(
                    "bridge {}: VLAN uplink {uplink} has MTU {}, which leaves no room for VLAN \
                     {vlan} with MTU {want}: the 802.1Q device {device} carries at most its raw \
                     device's MTU (raise {uplink}'s MTU to {want})",
                    b.name, raw.mtu
                ));
            }
        }
        let Some(dev) = host.get(device.as_str()) else {
            continue;
        };
        if let Some(w) = wanted.filter(|&w| dev.mtu < w) {
            p.add(format!(
                "bridge {}: uplink {device} has MTU {}, smaller than the bridge's {w}: larger \
                 frames are dropped on the way out",
                b.name, dev.mtu
            ));
        }
        if let (Some(br), BridgeKind::Linux) = (br, b.kind) {
            for port in host.ports(br) {
                if port.name != device.as_str() && port.mtu > dev.mtu {
                    p.add(format!(
                        "bridge {}: port {} has MTU {}, larger than uplink {device}'s {}",
                        b.name, port.name, port.mtu, dev.mtu
                    ));
                }
            }
        }
        for n in nics {
            let on = n
                .bridge
                .as_ref()
                .is_some_and(|(_, names)| names.iter().any(|x| x == b.name.as_str()));
            if let (true, Some(m)) = (on, n.mtu) {
                if m > dev.mtu {
                    p.add(format!(
                        "{}: MTU {m} on bridge {}, larger than uplink {device}'s {}",
                        n.at, b.name, dev.mtu
                    ));
                }
            }
        }
    }
}
