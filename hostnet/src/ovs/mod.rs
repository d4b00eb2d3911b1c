//! Open vSwitch plumbing: bridges ([`Ovs::ensure_bridge`]) and ports with an access VLAN
//! (`tag`), trunked VLANs (`trunks`) and the external ids Xen's `vif-openvswitch` sets
//! on the port's interface (`xen-vm-name`, `xen-vm-uuid`, `attached-mac`)
//! ([`Ovs::ensure_port`]), read back with [`Ovs::port`].
//!
//! # Why `ovs-vsctl` and not OVSDB's JSON-RPC
//!
//! Everything goes through `ovs-vsctl`, not a JSON-RPC client of our own on the OVSDB
//! socket:
//!
//! * One `ovs-vsctl` call is one OVSDB transaction, however many `--`-chained commands
//!   it holds: it commits whole or not at all. A change of several steps (move a port
//!   to another bridge, set its VLANs and external ids) is therefore all-or-nothing by
//!   OVSDB's own guarantee, with nothing for us to undo by hand when it fails half-way.
//! * `--may-exist` / `--if-exists` make creation and deletion idempotent in the
//!   database itself, and `ovs-vsctl` checks the transaction against what it read
//!   (`verify`), so a concurrent change makes it retry or fail, never half-apply.
//! * It waits until `ovs-vswitchd` has applied the change (unless [`Ovs::wait`] is
//!   off), the same guarantee Xen's script relies on; a JSON-RPC client would have to
//!   reimplement `next_cfg`/`cur_cfg` tracking, the schema's referential rules (a Port
//!   needs an Interface, a Bridge lists its Ports) and the IDL's retry logic.
//! * It is what Xen's `vif-openvswitch` and libvirt use, so it is installed wherever
//!   Open vSwitch is, and its behaviour is what administrators expect.
//!
//! The cost is one process per call (a few milliseconds), which suits a hotplug script.
//!
//! # Safety of arguments
//!
//! No shell is involved: every argument is a separate `argv` entry. Bridge and port
//! names reach `ovs-vsctl` only as [`IfName`]s (validated), and names starting with `-`
//! are refused, since `ovs-vsctl` would read them as options or as the `--` command
//! separator. Values (external ids, the datapath type, names in `find` conditions) are
//! passed as quoted OVSDB strings, so `,`, `=`, `"` or braces in them stay literal.
//! Every check runs before any command.
//!
//! # Idempotence
//!
//! Each operation first reads the current state; when it already is as asked nothing
//! is sent and the result is [`Change::Unchanged`] (no transaction, so `next_cfg` and
//! every row stay as they were). Otherwise one transaction sets the whole wanted state,
//! so repeating it is harmless.
//!
//! [`Ovs::ensure_port`] owns the `tag` and `trunks` columns of the Port and the three
//! Xen keys of the Interface's `external_ids`: it sets them to exactly the wanted
//! values, clearing those not wanted. Other keys (another tool's `iface-id`, say) are
//! left alone, except when the port is moved to another bridge: like Xen's script,
//! that deletes and re-adds the port (in the same transaction), so the new records
//! start empty.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use translator::bridge_spec::OvsBridge;
use translator::{IfName, MacAddr};

mod bridge_settings;
mod error;
mod json;
#[cfg(any(test, feature = "test-support"))]
pub mod testbed;
#[cfg(test)]
mod tests;

pub use crate::netlink::Change;
pub use bridge_settings::BridgeSettings;
pub use error::{OvsError, ParseError, VsctlFailure};
use json::quote;
use serde_json::Value;

/// How long one `ovs-vsctl` call may wait for the database (and for `ovs-vswitchd` to
/// apply a change) before failing.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// External id: the guest's name.
pub const XEN_VM_NAME: &str = "xen-vm-name";
/// External id: the guest's UUID.
pub const XEN_VM_UUID: &str = "xen-vm-uuid";
/// External id: the guest NIC's MAC address.
pub const ATTACHED_MAC: &str = "attached-mac";

/// Highest VLAN number Open vSwitch accepts in `tag` and `trunks`.
pub const VLAN_MAX: u16 = 4095;

/// A handle on an Open vSwitch database, driven through `ovs-vsctl`.
#[derive(Debug, Clone)]
pub struct Ovs {
    /// The OVSDB remote, passed as `--db=...` (e.g. `unix:/run/openvswitch/db.sock`);
    /// `None` uses `ovs-vsctl`'s default (the system's database).
    pub db: Option<String>,
    /// How long one call may take; passed as `--timeout` (rounded up to whole seconds,
    /// at least 1).
    pub timeout: Duration,
    /// Whether a change waits until `ovs-vswitchd` has applied it (`ovs-vsctl`'s
    /// default). Turn it off only where no `ovs-vswitchd` runs.
    pub wait: bool,
    /// The `ovs-vsctl` program.
    program: OsString,
}

impl Default for Ovs {
    fn default() -> Self {
        Ovs::new()
    }
}

/// What a port should look like: see [`Ovs::ensure_port`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PortConfig {
    /// Access (native) VLAN: the Port's `tag`; `None` clears it.
    pub tag: Option<u16>,
    /// Trunked VLANs: the Port's `trunks` (a set: order and repeats do not matter);
    /// empty clears it.
    pub trunks: Vec<u16>,
    /// External id `xen-vm-name`; `None` removes it.
    pub vm_name: Option<String>,
    /// External id `xen-vm-uuid`; `None` removes it.
    pub vm_uuid: Option<String>,
    /// External id `attached-mac`; `None` removes it.
    pub mac: Option<MacAddr>,
}

impl PortConfig {
    /// The bridge and VLANs of a `bridge=BRIDGE[.TAG][:TRUNK...]` value, as Xen's
    /// `vif-openvswitch` reads it; the external ids are left empty.
    pub fn from_bridge_spec(spec: &OvsBridge<'_>) -> Result<(IfName, PortConfig), OvsError> {
        let bridge =
            IfName::new(spec.name.as_ref()).map_err(|source| OvsError::InvalidBridgeName {
                name: spec.name.to_string(),
                source,
            })?;
        Ok((
            bridge,
            PortConfig {
                tag: spec.tag,
                trunks: spec.trunks.clone(),
                ..PortConfig::default()
            },
        ))
    }

    /// The trunks as OVSDB stores them: sorted, without repeats.
    fn trunk_set(&self) -> Vec<u16> {
        let mut t = self.trunks.clone();
        t.sort_unstable();
        t.dedup();
        t
    }

    /// The three Xen external ids, each with its wanted value or `None`.
    fn external_ids(&self) -> [(&'static str, Option<String>); 3] {
        [
            (XEN_VM_NAME, self.vm_name.clone()),
            (XEN_VM_UUID, self.vm_uuid.clone()),
            (ATTACHED_MAC, self.mac.map(|m| m.to_string())),
        ]
    }

    /// Checks every value before anything is sent.
    fn validate(&self, port: &IfName) -> Result<(), OvsError> {
        if let Some(&vlan) = self.tag.iter().chain(&self.trunks).find(|&&v| v > VLAN_MAX) {
            return Err(OvsError::InvalidVlan {
                port: port.to_string(),
                vlan,
            });
        }
        for (what, v) in [(XEN_VM_NAME, &self.vm_name), (XEN_VM_UUID, &self.vm_uuid)] {
            if let Some(v) = v {
                if v.chars().any(char::is_control) {
                    return Err(OvsError::InvalidValue {
                        what,
                        target: port.to_string(),
                        reason: "contains a control character",
                    });
                }
            }
        }
        Ok(())
    }
}

/// A port as the database has it: see [`Ovs::port`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortState {
    /// The bridge the port is on.
    pub bridge: String,
    /// The Port's `tag`.
    pub tag: Option<u16>,
    /// The Port's `trunks`, sorted.
    pub trunks: Vec<u16>,
    /// The `external_ids` of the port's interface (the Interface of the same name),
    /// every key, not only Xen's.
    pub external_ids: BTreeMap<String, String>,
}

impl PortState {
    /// External id `xen-vm-name`.
    pub fn vm_name(&self) -> Option<&str> {
        self.external_ids.get(XEN_VM_NAME).map(String::as_str)
    }

    /// External id `xen-vm-uuid`.
    pub fn vm_uuid(&self) -> Option<&str> {
        self.external_ids.get(XEN_VM_UUID).map(String::as_str)
    }

    /// External id `attached-mac`, when it holds a valid MAC address.
    pub fn mac(&self) -> Option<MacAddr> {
        self.external_ids.get(ATTACHED_MAC)?.parse().ok()
    }

    /// Whether the port already is on `bridge` with everything [`Ovs::ensure_port`]
    /// would set for `cfg`.
    pub fn matches(&self, bridge: &str, cfg: &PortConfig) -> bool {
        self.bridge == bridge
            && self.tag == cfg.tag
            && self.trunks == cfg.trunk_set()
            && cfg
                .external_ids()
                .iter()
                .all(|(k, want)| self.external_ids.get(*k) == want.as_ref())
    }
}

/// A bridge as the database has it: see [`Ovs::bridge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeState {
    /// The bridge's `datapath_type` (empty means `system`).
    pub datapath_type: String,
}

/// Refuses a name `ovs-vsctl` would read as an option or separator.
fn check_name(role: &'static str, name: &IfName) -> Result<(), OvsError> {
    if name.starts_with('-') {
        return Err(OvsError::OptionLikeName {
            role,
            name: name.to_string(),
        });
    }
    Ok(())
}

/// Builds an owned argument list from string slices.
fn args<const N: usize>(a: [&str; N]) -> Vec<String> {
    a.iter().map(|s| (*s).to_owned()).collect()
}

impl Ovs {
    /// A handle on the system's database (`ovs-vsctl`'s default), with
    /// [`DEFAULT_TIMEOUT`], waiting for `ovs-vswitchd`.
    pub fn new() -> Ovs {
        Ovs {
            db: None,
            timeout: DEFAULT_TIMEOUT,
            wait: true,
            program: OsString::from("ovs-vsctl"),
        }
    }

    /// A handle on the database at OVSDB remote `db` (e.g. `unix:/path/db.sock`).
    pub fn with_db(db: impl Into<String>) -> Ovs {
        Ovs {
            db: Some(db.into()),
            ..Ovs::new()
        }
    }

    /// A handle on the database listening on the unix socket `path`.
    pub fn with_socket(path: &Path) -> Ovs {
        Ovs::with_db(format!("unix:{}", path.display()))
    }

    /// Uses another `ovs-vsctl` program (tests point it at a missing one to prove that
    /// nothing runs).
    #[cfg(any(test, feature = "test-support"))]
    pub fn with_program(mut self, program: impl Into<OsString>) -> Ovs {
        self.program = program.into();
        self
    }

    /// Runs `ovs-vsctl` with `args` after the global options; returns its standard
    /// output. `change` says whether the call may change the database (and so may wait
    /// for `ovs-vswitchd`).
    fn run(
        &self,
        op: &'static str,
        target: &str,
        change: bool,
        args: &[String],
    ) -> Result<String, OvsError> {
        let t = self.timeout;
        let secs = (t.as_secs() + u64::from(t.subsec_nanos() > 0)).max(1);
        let mut cmd = Command::new(&self.program);
        cmd.arg(format!("--timeout={secs}"));
        if let Some(db) = &self.db {
            cmd.arg(format!("--db={db}"));
        }
        if !change || !self.wait {
            cmd.arg("--no-wait");
        }
        if !change {
            cmd.args(["--format=json", "--data=json"]);
        }
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let out = cmd.output().map_err(|source| OvsError::Spawn {
            op,
            target: target.to_owned(),
            source,
        })?;
        if !out.status.success() {
            return Err(OvsError::Vsctl {
                op,
                target: target.to_owned(),
                source: VsctlFailure {
                    status: out.status,
                    stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                },
            });
        }
        String::from_utf8(out.stdout).map_err(|_| OvsError::Parse {
            target: target.to_owned(),
            source: ParseError::Shape("the answer is not UTF-8"),
        })
    }

    /// Runs a read-only query and parses its tables.
    fn query(&self, target: &str, args: &[String]) -> Result<Vec<Value>, OvsError> {
        let out = self.run("read", target, false, args)?;
        json::parse_all(&out).map_err(|source| OvsError::Parse {
            target: target.to_owned(),
            source,
        })
    }

    /// The bridge `bridge`, or `None` when the database has no such bridge.
    pub fn bridge(&self, bridge: &IfName) -> Result<Option<BridgeState>, OvsError> {
        check_name("bridge", bridge)?;
        let target = format!("bridge {bridge}");
        let cond = format!("name={}", quote(bridge));
        let tables = self.query(
            &target,
            &args(["--", "--columns=datapath_type", "find", "Bridge", &cond]),
        )?;
        let parse = |e| OvsError::Parse {
            target: target.clone(),
            source: e,
        };
        let [t] = tables.as_slice() else {
            return Err(parse(ParseError::Shape("expected one table")));
        };
        let rows = json::table(t).map_err(parse)?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let dt = row
            .get("datapath_type")
            .ok_or(ParseError::Shape("no datapath_type column"))
            .and_then(|v| json::str_set(v))
            .map_err(parse)?;
        Ok(Some(BridgeState {
            datapath_type: dt.first().copied().unwrap_or_default().to_owned(),
        }))
    }

    /// Makes sure bridge `bridge` exists, with `datapath_type` when given (`netdev` for
    /// the userspace datapath; `None` leaves an existing bridge's type alone and
    /// creates a new one with Open vSwitch's default).
    pub fn ensure_bridge(
        &self,
        bridge: &IfName,
        datapath_type: Option<&str>,
    ) -> Result<Change, OvsError> {
        check_name("bridge", bridge)?;
        if let Some(dt) = datapath_type {
            let plain = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
            if dt.is_empty() || dt.len() > 64 || !dt.chars().all(plain) {
                return Err(OvsError::InvalidValue {
                    what: "datapath type",
                    target: format!("bridge {bridge}"),
                    reason: "not a word of letters, digits, '_' and '-'",
                });
            }
        }
        let current = self.bridge(bridge)?;
        if let Some(cur) = &current {
            if datapath_type.is_none_or(|dt| cur.datapath_type == dt) {
                return Ok(Change::Unchanged);
            }
        }
        let mut a = args(["--", "--may-exist", "add-br", bridge]);
        if let Some(dt) = datapath_type {
            a.extend(args(["--", "set", "Bridge", bridge]));
            a.push(format!("datapath_type={}", quote(dt)));
        }
        self.run("create bridge", &format!("bridge {bridge}"), true, &a)?;
        Ok(if current.is_some() {
            Change::Updated
        } else {
            Change::Created
        })
    }

    /// Deletes bridge `bridge` with all its ports; [`Change::Unchanged`] when there is
    /// no such bridge.
    pub fn delete_bridge(&self, bridge: &IfName) -> Result<Change, OvsError> {
        check_name("bridge", bridge)?;
        if self.bridge(bridge)?.is_none() {
            return Ok(Change::Unchanged);
        }
        self.run(
            "delete bridge",
            &format!("bridge {bridge}"),
            true,
            &args(["--", "--if-exists", "del-br", bridge]),
        )?;
        Ok(Change::Removed)
    }

    /// The port `port`, or `None` when the database has no such port.
    pub fn port(&self, port: &IfName) -> Result<Option<PortState>, OvsError> {
        check_name("port", port)?;
        let target = format!("port {port}");
        let cond = format!("name={}", quote(port));
        let tables = self.query(
            &target,
            &args([
                "--",
                "--columns=_uuid,tag,trunks",
                "find",
                "Port",
                &cond,
                "--",
                "--columns=name,ports",
                "find",
                "Bridge",
                "--",
                "--columns=external_ids",
                "find",
                "Interface",
                &cond,
            ]),
        )?;
        parse_port(&tables).map_err(|source| OvsError::Parse { target, source })
    }

    /// Makes sure port `port` is on `bridge` with exactly the VLANs and Xen external ids
    /// of `cfg`, in one transaction: the port is added if missing, moved if it is on
    /// another bridge (deleted there and re-added here, as Xen's script does), and its
    /// `tag`, `trunks` and the three Xen keys of its interface's `external_ids` are set,
    /// cleared where `cfg` has none. If the transaction fails (no such bridge, say),
    /// nothing changes. [`Change::Unchanged`] when everything already was as asked.
    ///
    /// The interface is of Open vSwitch's default type (`system`): the device `port`
    /// should exist, though the records are written (and read back) even while it does
    /// not; `ovs-vswitchd` then records an error on the interface.
    pub fn ensure_port(
        &self,
        bridge: &IfName,
        port: &IfName,
        cfg: &PortConfig,
    ) -> Result<Change, OvsError> {
        check_name("bridge", bridge)?;
        check_name("port", port)?;
        cfg.validate(port)?;
        let current = self.port(port)?;
        let mut a = Vec::new();
        match &current {
            Some(cur) if cur.matches(bridge, cfg) => return Ok(Change::Unchanged),
            Some(cur) if cur.bridge != bridge.as_str() => {
                // Delete from the bridge we saw it on: if it moved meanwhile, the
                // transaction fails rather than acting on a state we did not check.
                a.extend(args(["--", "del-port", &cur.bridge, port]));
                a.extend(args(["--", "add-port", bridge, port]));
            }
            _ => a.extend(args(["--", "--may-exist", "add-port", bridge, port])),
        }
        a.extend(args(["--", "set", "Port", port]));
        a.push(match cfg.tag {
            Some(t) => format!("tag={t}"),
            None => "tag=[]".to_owned(),
        });
        let trunks: Vec<String> = cfg.trunk_set().iter().map(u16::to_string).collect();
        a.push(format!("trunks=[{}]", trunks.join(",")));
        let ids = cfg.external_ids();
        let set: Vec<String> = ids
            .iter()
            .filter_map(|(k, v)| Some(format!("external_ids:{k}={}", quote(v.as_ref()?))))
            .collect();
        if !set.is_empty() {
            a.extend(args(["--", "set", "Interface", port]));
            a.extend(set);
        }
        let unset: Vec<String> = ids
            .iter()
            .filter(|(_, v)| v.is_none())
            .map(|(k, _)| (*k).to_owned())
            .collect();
        if !unset.is_empty() {
            a.extend(args(["--", "remove", "Interface", port, "external_ids"]));
            a.extend(unset);
        }
        self.run(
            "add or update",
            &format!("port {port} on bridge {bridge}"),
            true,
            &a,
        )?;
        Ok(if current.is_some() {
            Change::Updated
        } else {
            Change::Created
        })
    }

    /// Removes port `port` from whatever bridge it is on; [`Change::Unchanged`] when
    /// there is no such port.
    pub fn remove_port(&self, port: &IfName) -> Result<Change, OvsError> {
        check_name("port", port)?;
        if self.port(port)?.is_none() {
            return Ok(Change::Unchanged);
        }
        self.run(
            "remove",
            &format!("port {port}"),
            true,
            &args(["--", "--if-exists", "del-port", port]),
        )?;
        Ok(Change::Removed)
    }
}

/// Column `name` of a table row.
fn col<'a>(row: &BTreeMap<&str, &'a Value>, name: &str) -> Result<&'a Value, ParseError> {
    row.get(name)
        .copied()
        .ok_or(ParseError::Shape("a column is missing"))
}

/// Reads the three tables [`Ovs::port`] asks for.
fn parse_port(tables: &[Value]) -> Result<Option<PortState>, ParseError> {
    let [ports, bridges, ifaces] = tables else {
        return Err(ParseError::Shape("expected three tables"));
    };
    let ports = json::table(ports)?;
    let Some(p) = ports.first() else {
        return Ok(None);
    };
    let uuid = json::uuid_set(col(p, "_uuid")?)?
        .first()
        .copied()
        .ok_or(ParseError::Shape("a port has no uuid"))?
        .to_owned();
    let vlan = |v: i64| u16::try_from(v).map_err(|_| ParseError::Shape("a VLAN out of range"));
    let tag = json::int_set(col(p, "tag")?)?
        .first()
        .map(|&v| vlan(v))
        .transpose()?;
    let mut trunks = json::int_set(col(p, "trunks")?)?
        .into_iter()
        .map(vlan)
        .collect::<Result<Vec<_>, _>>()?;
    trunks.sort_unstable();
    let mut bridge = None;
    for b in json::table(bridges)? {
        if json::uuid_set(col(&b, "ports")?)?.contains(&uuid.as_str()) {
            let name = json::str_set(col(&b, "name")?)?;
            bridge = name.first().map(|s| (*s).to_owned());
        }
    }
    let bridge = bridge.ok_or(ParseError::Shape("the port is on no bridge"))?;
    let external_ids = match json::table(ifaces)?.first() {
        Some(i) => json::str_map(col(i, "external_ids")?)?,
        None => BTreeMap::new(),
    };
    Ok(Some(PortState {
        bridge,
        tag,
        trunks,
        external_ids,
    }))
}
