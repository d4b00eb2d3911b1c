//! The bridge commands: `bridge add|del|list|ensure` (the registry, and making the host
//! match it) and `show` (the host's bridges and ports, joined with the registry's NIC
//! attachments).
//!
//! Every value is checked before the registry is opened, so a refused command changes
//! nothing; the listing commands do not create a registry that does not exist yet.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::anyhow;
use hostnet::netlink::{Change, LinkCounters, LinkState, Netlink};
use hostnet::plumbing;
use registry::{
    self, parse_if_name, Attachment, Bridge, BridgeKind, Mtu, Registry, SqliteRegistry, VlanId,
};
use serde_json::{json, Value};
use translator::IfName;

use crate::report::Failure;

use crate::config::{Config, RegistryUrl};

/// The registry the configuration names, to write (a SQLite file is created).
fn open(cfg: &Config) -> anyhow::Result<Box<dyn Registry>> {
    match &cfg.registry {
        RegistryUrl::Sqlite(p) => Ok(Box::new(SqliteRegistry::open(p)?)),
        RegistryUrl::Etcd(_) => crate::fleet::open(cfg),
    }
}

/// The registry to read only: never waits for a writer, works for any user who may read
/// the file, and reads as empty when there is none yet (nothing registered; a listing
/// does not create it). An unreachable registry is an error.
pub(crate) fn open_to_read(cfg: &Config) -> anyhow::Result<Box<dyn Registry>> {
    match &cfg.registry {
        RegistryUrl::Sqlite(p) => Ok(Box::new(SqliteRegistry::open_read_only(p)?)),
        RegistryUrl::Etcd(_) => crate::fleet::open(cfg),
    }
}

/// The registry, or `None` when its SQLite file does not exist yet (nothing at the
/// path). An unreachable registry (a dangling link, no permission, ...) is an error,
/// never `None`.
pub(crate) fn open_existing(cfg: &Config) -> anyhow::Result<Option<Box<dyn Registry>>> {
    match &cfg.registry {
        RegistryUrl::Sqlite(p) => Ok(open_existing_file(p)?.map(|r| Box::new(r) as _)),
        RegistryUrl::Etcd(_) => crate::fleet::open(cfg).map(Some),
    }
}

/// The SQLite registry at `db`, or `None` when the file does not exist yet.
fn open_existing_file(db: &Path) -> anyhow::Result<Option<SqliteRegistry>> {
    Ok(SqliteRegistry::open_existing(db)?)
}

fn bridge_name(name: &str) -> anyhow::Result<IfName> {
    Ok(parse_if_name("bridge name", name)?)
}

/// The options of `bridge add`, as given.
#[derive(Debug)]
pub struct AddArgs<'a> {
    /// `NAME`.
    pub name: &'a str,
    /// `--kind`.
    pub kind: &'a str,
    /// `--uplink`.
    pub uplink: Option<&'a str>,
    /// `--vlan`.
    pub vlan: Option<&'a str>,
    /// `--mtu`.
    pub mtu: Option<&'a str>,
    /// `--stp`.
    pub stp: &'a str,
    /// `--creatable`.
    pub creatable: bool,
    /// `--may-exist`.
    pub may_exist: bool,
}

/// The options of `bridge set`, as given (`None`: keep the registered value).
#[derive(Debug, Default)]
pub struct SetArgs<'a> {
    /// `--kind`.
    pub kind: Option<&'a str>,
    /// `--uplink`, `none` to clear.
    pub uplink: Option<&'a str>,
    /// `--vlan`, `none` to clear.
    pub vlan: Option<&'a str>,
    /// `--mtu`, `none` to clear.
    pub mtu: Option<&'a str>,
    /// `--stp`.
    pub stp: Option<&'a str>,
    /// `--creatable`.
    pub creatable: Option<&'a str>,
}

/// Collects one error line per bad value.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn check<T, E>(&mut self, r: Result<T, E>) -> Option<T>
    where
        anyhow::Error: From<E>,
    {
        r.map_err(|e| self.0.push(format!("{:#}", anyhow::Error::from(e))))
            .ok()
    }
}

/// `bridge add`.
pub fn add(cfg: &Config, a: &AddArgs<'_>) -> Result<String, Failure> {
    let mut p = Problems::default();
    let name = p.check(bridge_name(a.name));
    let kind = p.check(a.kind.parse::<BridgeKind>());
    // `Some(None)` for a value given but refused (with a problem recorded).
    let uplink = a.uplink.map(|u| p.check(parse_if_name("uplink", u)));
    let vlan = a.vlan.map(|v| p.check(v.parse::<VlanId>()));
    let mtu = a.mtu.map(|m| p.check(m.parse::<Mtu>()));
    let stp = p.check(parse_on_off(a.stp));
    let (Some(name), Some(kind), Some(stp), true) = (name, kind, stp, p.0.is_empty()) else {
        return Err(Failure::Invalid(p.0));
    };
    let (uplink, vlan, mtu) = (uplink.flatten(), vlan.flatten(), mtu.flatten());
    let bridge = Bridge {
        name,
        kind,
        uplink,
        vlan,
        mtu,
        stp,
        creatable: a.creatable,
    };
    bridge.validate().map_err(anyhow::Error::from)?;
    let reg = open(cfg)?;
    match reg.add_bridge(&bridge) {
        Ok(()) => Ok(String::new()),
        Err(registry::RegistryError::BridgeExists(_)) if a.may_exist => {
            match reg.bridge(&bridge.name).map_err(anyhow::Error::from)? {
                Some(old) if old == bridge => Ok(String::new()),
                Some(old) => Err(anyhow!(
                    "Bridge {} is registered with other settings ({}): --may-exist accepts \
                     only the same settings; change them with `vifkit bridge set`",
                    bridge.name,
                    settings(&old)
                )
                .into()),
                // Removed in between: add it after all.
                None => Ok(reg
                    .add_bridge(&bridge)
                    .map(|()| String::new())
                    .map_err(anyhow::Error::from)?),
            }
        }
        Err(e) => Err(anyhow::Error::from(e).into()),
    }
}

/// `on`/`off` for STP.
fn parse_on_off(v: &str) -> anyhow::Result<bool> {
    match v {
        "on" => Ok(true),
        "off" => Ok(false),
        other => Err(anyhow!("STP {other:?} is neither `on` nor `off`")),
    }
}

/// `yes`/`no` for `--creatable`.
fn parse_yes_no(what: &str, v: &str) -> anyhow::Result<bool> {
    match v {
        "yes" => Ok(true),
        "no" => Ok(false),
        other => Err(anyhow!("{what} {other:?} is neither `yes` nor `no`")),
    }
}

/// A bridge's settings in one line, as `bridge list` shows them.
fn settings(b: &Bridge) -> String {
    format!(
        "kind {}, uplink {}, vlan {}, mtu {}, stp {}, creatable {}",
        b.kind,
        opt(b.uplink.as_ref()),
        opt(b.vlan),
        opt(b.mtu),
        on_off(b.stp),
        yes_no(b.creatable)
    )
}

/// `bridge set`: the registered bridge with the given settings changed, checked as
/// `bridge add` checks a new one, written in one step.
pub fn set(cfg: &Config, name: &str, a: &SetArgs<'_>) -> Result<String, Failure> {
    let mut p = Problems::default();
    let name = p.check(bridge_name(name));
    let kind = a.kind.map(|k| p.check(k.parse::<BridgeKind>()));
    // `Some(Some(None))`: cleared with `none`; `Some(None)`: refused.
    let uplink = a.uplink.map(|u| match u {
        "none" => Some(None),
        u => p.check(parse_if_name("uplink", u)).map(Some),
    });
    let vlan = a.vlan.map(|v| match v {
        "none" => Some(None),
        v => p.check(v.parse::<VlanId>()).map(Some),
    });
    let mtu = a.mtu.map(|m| match m {
        "none" => Some(None),
        m => p.check(m.parse::<Mtu>()).map(Some),
    });
    let stp = a.stp.map(|v| p.check(parse_on_off(v)));
    let creatable = a.creatable.map(|v| p.check(parse_yes_no("--creatable", v)));
    let (Some(name), true) = (name, p.0.is_empty()) else {
        return Err(Failure::Invalid(p.0));
    };
    let reg = open_existing(cfg)?
        .ok_or_else(|| anyhow!(registry::RegistryError::UnknownBridge(name.clone())))?;
    let mut bridge = reg
        .bridge(&name)
        .map_err(anyhow::Error::from)?
        .ok_or_else(|| anyhow!(registry::RegistryError::UnknownBridge(name.clone())))?;
    if let Some(Some(k)) = kind {
        bridge.kind = k;
    }
    if let Some(Some(u)) = uplink {
        bridge.uplink = u;
    }
    if let Some(Some(v)) = vlan {
        bridge.vlan = v;
    }
    if let Some(Some(m)) = mtu {
        bridge.mtu = m;
    }
    if let Some(Some(s)) = stp {
        bridge.stp = s;
    }
    if let Some(Some(c)) = creatable {
        bridge.creatable = c;
    }
    bridge.validate().map_err(anyhow::Error::from)?;
    reg.update_bridge(&bridge).map_err(anyhow::Error::from)?;
    Ok(String::new())
}

/// `bridge del`.
pub fn del(cfg: &Config, name: &str, if_exists: bool) -> Result<String, Failure> {
    let name = bridge_name(name)?;
    let Some(reg) = open_existing(cfg)? else {
        if if_exists {
            return Ok(String::new());
        }
        return Err(anyhow!(registry::RegistryError::UnknownBridge(name)).into());
    };
    match reg.remove_bridge(&name) {
        Ok(_) => Ok(String::new()),
        Err(registry::RegistryError::UnknownBridge(_)) if if_exists => Ok(String::new()),
        Err(e) => Err(anyhow::Error::from(e).into()),
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// Lays out rows in columns two spaces apart, without trailing spaces.
fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            let pad = widths[c].saturating_sub(cell.chars().count());
            line.extend(std::iter::repeat_n(' ', pad));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn bridge_json(b: &Bridge) -> Value {
    json!({
        "name": b.name.as_str(),
        "kind": b.kind.as_str(),
        "uplink": b.uplink.as_ref().map(IfName::as_str),
        "vlan": b.vlan.map(VlanId::get),
        "mtu": b.mtu.map(Mtu::get),
        "stp": b.stp,
        "creatable": b.creatable,
    })
}

fn to_json(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

/// `bridge list`.
pub fn list(cfg: &Config, as_json: bool) -> Result<String, Failure> {
    let bridges = open_to_read(cfg)?.bridges().map_err(anyhow::Error::from)?;
    if as_json {
        return Ok(to_json(&Value::Array(
            bridges.iter().map(bridge_json).collect(),
        )));
    }
    let mut rows = vec![
        ["name", "kind", "uplink", "vlan", "mtu", "stp", "creatable"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for b in &bridges {
        rows.push(vec![
            b.name.to_string(),
            b.kind.to_string(),
            opt(b.uplink.as_ref()),
            opt(b.vlan),
            opt(b.mtu),
            on_off(b.stp).to_owned(),
            yes_no(b.creatable).to_owned(),
        ]);
    }
    Ok(table(&rows))
}

fn change_word(c: Change) -> &'static str {
    match c {
        Change::Created => "created",
        Change::Updated => "updated",
        Change::Removed => "removed",
        Change::Unchanged => "unchanged",
    }
}

/// `bridge ensure NAME`.
pub fn ensure(cfg: &Config, name: &str) -> Result<String, Failure> {
    let name = bridge_name(name)?;
    let reg = open_existing(cfg)?;
    let (reg, bridge) = match reg {
        Some(reg) => match reg.bridge(&name).map_err(anyhow::Error::from)? {
            Some(b) => (reg, b),
            None => return Err(anyhow!(registry::RegistryError::UnknownBridge(name)).into()),
        },
        None => return Err(anyhow!(registry::RegistryError::UnknownBridge(name)).into()),
    };
    let nl = Netlink::new().map_err(anyhow::Error::from)?;
    Ok(ensure_one(&nl, &*reg, &bridge)?)
}

/// Makes one registered bridge real; one line per device changed or checked.
fn ensure_one(nl: &Netlink, reg: &dyn Registry, bridge: &Bridge) -> anyhow::Result<String> {
    // `ovs-vsctl`'s own defaults say which Open vSwitch database (OVS_RUNDIR, its socket).
    let done = plumbing::ensure_registered(nl, &hostnet::ovs::Ovs::new(), reg, bridge)?;
    let name = &bridge.name;
    let mut out = format!("{name}: {}\n", change_word(done.bridge));
    if let Some((dev, c)) = done.port {
        let _ = writeln!(out, "{dev}: {} (port of {name})", change_word(c));
    }
    Ok(out)
}

/// `bridge ensure --all`: every registered bridge, in name order; one that fails is
/// reported (with its name) and the others are still ensured.
pub fn ensure_all(cfg: &Config) -> Result<String, Failure> {
    let Some(reg) = open_existing(cfg)? else {
        return Ok(String::new());
    };
    let bridges = reg.bridges().map_err(anyhow::Error::from)?;
    if bridges.is_empty() {
        return Ok(String::new());
    }
    let nl = Netlink::new().map_err(anyhow::Error::from)?;
    let mut out = String::new();
    let mut failed = Vec::new();
    for b in &bridges {
        match ensure_one(&nl, &*reg, b) {
            Ok(lines) => out.push_str(&lines),
            Err(e) => failed.push(format!("{}: {e:#}", b.name)),
        }
    }
    if failed.is_empty() {
        Ok(out)
    } else {
        Err(Failure::Partial {
            out,
            errors: failed,
        })
    }
}

/// Which of an attachment's devices a port is: a Xen PV backend (`pv`), a Xen HVM NIC's
/// emulated twin (`emulated`), or a QEMU guest's tap (`tap`).
#[derive(Clone, Copy)]
enum Nic {
    Pv,
    Emulated,
    Tap,
}

impl Nic {
    fn as_str(self) -> &'static str {
        match self {
            Nic::Pv => "pv",
            Nic::Emulated => "emulated",
            Nic::Tap => "tap",
        }
    }

    /// What an attachment's backend device is.
    fn backend_of(a: &Attachment) -> Nic {
        match a.driver {
            registry::Driver::Xen => Nic::Pv,
            registry::Driver::Qemu => Nic::Tap,
        }
    }
}

fn model_label(a: &Attachment) -> &str {
    a.model.as_ref().map_or("-", |m| m.as_str())
}

fn guest_label(a: &Attachment) -> String {
    match &a.guest_name {
        Some(g) => g.to_string(),
        None => format!("device {}", a.devid),
    }
}

fn attachment_json(a: &Attachment) -> Value {
    json!({
        "driver": a.driver.as_str(),
        "domain": a.domain_name.as_str(),
        "domid": a.domid,
        "devid": a.devid,
        "guest_name": a.guest_name.as_ref().map(|g| g.as_str()),
        "mac": a.mac.to_string(),
        "bridge": a.bridge.as_str(),
        "state": a.state.as_str(),
        "model": a.model.as_ref().map(|m| m.as_str()),
        "pv": matches!(Nic::backend_of(a), Nic::Pv).then_some(a.backend.as_str()),
        "tap": matches!(Nic::backend_of(a), Nic::Tap).then_some(a.backend.as_str()),
        "emulated": a.emulated.as_ref().map(IfName::as_str),
    })
}

/// `show`.
pub fn show(cfg: &Config, as_json: bool) -> Result<String, Failure> {
    let reg = open_to_read(cfg)?;
    let registered = reg.bridges().map_err(anyhow::Error::from)?;
    let attachments = reg.attachments().map_err(anyhow::Error::from)?;
    drop(reg);
    let nl = Netlink::new().map_err(anyhow::Error::from)?;
    // One dump: every device with its counters, as one reading.
    let links: Vec<LinkState> = nl.links_with_counters().map_err(anyhow::Error::from)?;
    let counters_of = |dev: &str| {
        links
            .iter()
            .find(|l| l.name == dev)
            .and_then(|l| l.counters)
    };
    let mut by_device: BTreeMap<&str, (&Attachment, Nic)> = BTreeMap::new();
    for a in &attachments {
        by_device.insert(a.backend.as_str(), (a, Nic::backend_of(a)));
        if let Some(e) = &a.emulated {
            by_device.insert(e.as_str(), (a, Nic::Emulated));
        }
    }
    let mut bridges: Vec<&LinkState> = links.iter().filter(|l| l.is_bridge()).collect();
    bridges.sort_by(|a, b| a.name.cmp(&b.name));
    let ports_of = |br: &LinkState| {
        let mut p: Vec<&LinkState> = links
            .iter()
            .filter(|l| l.master == Some(br.index))
            .collect();
        p.sort_by(|a, b| a.name.cmp(&b.name));
        p
    };
    let present = |dev: &str| links.iter().any(|l| l.name == dev);
    let missing: Vec<&Bridge> = registered
        .iter()
        .filter(|b| !bridges.iter().any(|l| l.name == b.name.as_str()))
        .collect();

    if as_json {
        let mut out = Vec::new();
        for br in &bridges {
            let reg = registered.iter().find(|b| b.name.as_str() == br.name);
            let ports: Vec<Value> = ports_of(br)
                .into_iter()
                .map(|p| {
                    let guest = by_device.get(p.name.as_str()).map(|(a, nic)| {
                        let mut v = attachment_json(a);
                        v["nic"] = json!(nic.as_str());
                        v
                    });
                    json!({
                        "name": p.name,
                        "kind": p.kind,
                        "mtu": p.mtu,
                        "up": p.up,
                        "guest": guest,
                        "counters": p.counters.as_ref().map(counters_json),
                    })
                })
                .collect();
            out.push(json!({
                "name": br.name,
                "present": true,
                "registered": reg.is_some(),
                "kind": reg.map_or("linux", |b| b.kind.as_str()),
                "mtu": br.mtu,
                "stp": br.bridge.is_some_and(|b| b.stp),
                "up": br.up,
                "ports": ports,
            }));
        }
        for b in &missing {
            out.push(json!({
                "name": b.name.as_str(),
                "present": false,
                "registered": true,
                "kind": b.kind.as_str(),
                "mtu": Value::Null,
                "stp": Value::Null,
                "up": false,
                "ports": [],
            }));
        }
        let nics: Vec<Value> = attachments
            .iter()
            .map(|a| {
                let mut v = attachment_json(a);
                let backend = Some(present(a.backend.as_str()));
                let (pv, tap) = match Nic::backend_of(a) {
                    Nic::Tap => (None, backend),
                    _ => (backend, None),
                };
                v["pv_present"] = json!(pv);
                v["tap_present"] = json!(tap);
                v["emulated_present"] = json!(a.emulated.as_ref().map(|e| present(e.as_str())));
                let counters = counters_of(a.backend.as_str()).as_ref().map(counters_json);
                let (pv_c, tap_c) = match Nic::backend_of(a) {
                    Nic::Tap => (None, counters),
                    _ => (counters, None),
                };
                v["pv_counters"] = json!(pv_c);
                v["tap_counters"] = json!(tap_c);
                v["emulated_counters"] = json!(a
                    .emulated
                    .as_ref()
                    .and_then(|e| counters_of(e.as_str()))
                    .as_ref()
                    .map(counters_json));
                v
            })
            .collect();
        return Ok(to_json(&json!({ "bridges": out, "nics": nics })));
    }

    let mut rows = vec![[
        "bridge", "mtu", "stp", "up", "port", "nic", "model", "guest", "driver", "domain", "domid",
        "devid", "mac",
    ]
    .map(str::to_owned)
    .to_vec()];
    for br in &bridges {
        let head = vec![
            br.name.clone(),
            br.mtu.to_string(),
            yes_no(br.bridge.is_some_and(|b| b.stp)).to_owned(),
            yes_no(br.up).to_owned(),
        ];
        let ports = ports_of(br);
        if ports.is_empty() {
            rows.push(head);
            continue;
        }
        for (i, p) in ports.into_iter().enumerate() {
            let mut row = if i == 0 {
                head.clone()
            } else {
                vec![String::new(); 4]
            };
            row.push(p.name.clone());
            match by_device.get(p.name.as_str()) {
                Some((a, nic)) => row.extend([
                    nic.as_str().to_owned(),
                    model_label(a).to_owned(),
                    guest_label(a),
                    a.driver.to_string(),
                    a.domain_name.to_string(),
                    a.domid.to_string(),
                    a.devid.to_string(),
                    a.mac.to_string(),
                ]),
                None => row.push("-".to_owned()),
            }
            rows.push(row);
        }
    }
    let mut out = table(&rows);
    for b in &missing {
        let _ = writeln!(out, "{}: in the registry, not on this host", b.name);
    }
    if !attachments.is_empty() {
        out.push('\n');
        for a in &attachments {
            let mut line = format!(
                "{} of {} domain {} ({}) is {}",
                guest_label(a),
                a.driver.label(),
                a.domid,
                a.domain_name,
                a.backend
            );
            if !present(a.backend.as_str()) {
                line.push_str(" (absent)");
            }
            if let Some(e) = &a.emulated {
                let _ = write!(line, ", emulated twin {e}");
                if !present(e.as_str()) {
                    line.push_str(" (absent)");
                }
            }
            if let Some(m) = &a.model {
                let _ = write!(line, ", model {m}");
            }
            let _ = writeln!(line, ", on {}", a.bridge);
            out.push_str(&line);
        }
        // Each guest NIC's traffic, as the host counts it on the vif or tap.
        let mut rows = vec![COUNTER_HEADER.map(str::to_owned).to_vec()];
        for a in &attachments {
            let devices =
                std::iter::once(a.backend.as_str()).chain(a.emulated.as_ref().map(IfName::as_str));
            for dev in devices {
                if let Some(c) = counters_of(dev) {
                    let mut row = vec![dev.to_owned(), guest_label(a)];
                    row.extend(counter_cells(&c));
                    rows.push(row);
                }
            }
        }
        if rows.len() > 1 {
            out.push('\n');
            out.push_str(&table(&rows));
        }
    }
    Ok(out)
}

/// `show --domain NAME`: the guest's recorded NICs as `virsh domiflist` lists them, one
/// row per host device (an HVM Xen NIC's emulated twin on a row of its own), in device
/// order; both drivers' guests of that name. None recorded is an error.
pub fn show_domain(cfg: &Config, name: &str, as_json: bool) -> Result<String, Failure> {
    let domain = registry::DomainName::new(name).map_err(anyhow::Error::from)?;
    let reg = open_to_read(cfg)?;
    let mut nics: Vec<Attachment> = reg
        .attachments()
        .map_err(anyhow::Error::from)?
        .into_iter()
        .filter(|a| a.domain_name == domain)
        .collect();
    drop(reg);
    if nics.is_empty() {
        return Err(anyhow!(
            "No NIC of a domain named {} is recorded (vifkit records the NICs it wires: \
             those on registered bridges)",
            translator::diag::shown(name)
        )
        .into());
    }
    nics.sort_by_key(|a| (a.driver.as_str(), a.domid, a.devid));
    // (interface, nic kind, model, attachment)
    let mut rows: Vec<(&str, Nic, String, &Attachment)> = Vec::new();
    for a in &nics {
        let model = a
            .model
            .as_ref()
            .map_or_else(|| "-".to_owned(), |m| m.to_string());
        match Nic::backend_of(a) {
            // Xen: the PV half is netfront; the emulated twin has the model.
            Nic::Pv if a.emulated.is_some() => {
                rows.push((a.backend.as_str(), Nic::Pv, "netfront".to_owned(), a));
            }
            kind => rows.push((a.backend.as_str(), kind, model.clone(), a)),
        }
        if let Some(e) = &a.emulated {
            rows.push((e.as_str(), Nic::Emulated, model, a));
        }
    }
    if as_json {
        let v: Vec<Value> = rows
            .iter()
            .map(|(dev, kind, model, a)| {
                json!({
                    "interface": dev,
                    "type": "bridge",
                    "source": a.bridge.as_str(),
                    "model": (model != "-").then_some(model.as_str()),
                    "mac": a.mac.to_string(),
                    "nic": kind.as_str(),
                    "driver": a.driver.as_str(),
                    "domid": a.domid,
                    "devid": a.devid,
                    "guest_name": a.guest_name.as_ref().map(|g| g.as_str()),
                })
            })
            .collect();
        return Ok(to_json(&Value::Array(v)));
    }
    let mut table_rows = vec![["Interface", "Type", "Source", "Model", "MAC"]
        .map(str::to_owned)
        .to_vec()];
    for (dev, _, model, a) in &rows {
        table_rows.push(vec![
            (*dev).to_owned(),
            "bridge".to_owned(),
            a.bridge.to_string(),
            model.clone(),
            a.mac.to_string(),
        ]);
    }
    Ok(table(&table_rows))
}

/// The traffic table's header: `rx` is what the device received (what the guest sent),
/// `tx` what it sent (what the guest received).
const COUNTER_HEADER: [&str; 10] = [
    "device",
    "guest",
    "rx_bytes",
    "rx_packets",
    "rx_dropped",
    "rx_errors",
    "tx_bytes",
    "tx_packets",
    "tx_dropped",
    "tx_errors",
];

fn counter_cells(c: &LinkCounters) -> [String; 8] {
    [
        c.rx_bytes,
        c.rx_packets,
        c.rx_dropped,
        c.rx_errors,
        c.tx_bytes,
        c.tx_packets,
        c.tx_dropped,
        c.tx_errors,
    ]
    .map(|n| n.to_string())
}

pub(crate) fn counters_json(c: &LinkCounters) -> Value {
    json!({
        "rx_bytes": c.rx_bytes,
        "rx_packets": c.rx_packets,
        "rx_dropped": c.rx_dropped,
        "rx_errors": c.rx_errors,
        "tx_bytes": c.tx_bytes,
        "tx_packets": c.tx_packets,
        "tx_dropped": c.tx_dropped,
        "tx_errors": c.tx_errors,
    })
}
