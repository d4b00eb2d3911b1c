//! An Open vSwitch bridge's own settings, as the registry keeps them for a bridge of kind
//! `ovs`: spanning tree (the Bridge's `stp_enable`) and the MTU of the bridge's internal
//! interface (its `mtu_request`).

use translator::IfName;

use serde_json::Value;

use super::json;
use super::{args, check_name, Change, Ovs, OvsError, ParseError};

/// A bridge's settings as the database has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BridgeSettings {
    /// `stp_enable`.
    pub stp: bool,
    /// `mtu_request` of the bridge's internal interface, if set.
    pub mtu: Option<u32>,
}

impl Ovs {
    /// The settings of bridge `bridge`, or `None` when there is no such bridge.
    pub fn bridge_settings(&self, bridge: &IfName) -> Result<Option<BridgeSettings>, OvsError> {
        check_name("bridge", bridge)?;
        let target = format!("bridge {bridge}");
        let cond = format!("name={}", json::quote(bridge));
        let tables = self.query(
            &target,
            &args([
                "--",
                "--columns=stp_enable",
                "find",
                "Bridge",
                &cond,
                "--",
                "--columns=mtu_request",
                "find",
                "Interface",
                &cond,
            ]),
        )?;
        read_settings(&tables).map_err(|source| OvsError::Parse { target, source })
    }

    /// Sets bridge `bridge`'s spanning tree and, when `mtu` is given, its internal
    /// interface's MTU, in one transaction; [`Change::Unchanged`] when both already are
    /// so (an MTU of `None` leaves the MTU alone). The bridge must exist.
    pub fn ensure_bridge_settings(
        &self,
        bridge: &IfName,
        stp: bool,
        mtu: Option<u32>,
    ) -> Result<Change, OvsError> {
        let target = format!("bridge {bridge}");
        let Some(cur) = self.bridge_settings(bridge)? else {
            return Err(OvsError::InvalidValue {
                what: "bridge",
                target,
                reason: "no such bridge",
            });
        };
        if cur.stp == stp && mtu.is_none_or(|m| cur.mtu == Some(m)) {
            return Ok(Change::Unchanged);
        }
        let mut a = args(["--", "set", "Bridge", bridge]);
        a.push(format!("stp_enable={stp}"));
        if let Some(m) = mtu {
            a.extend(args(["--", "set", "Interface", bridge]));
            a.push(format!("mtu_request={m}"));
        }
        self.run("set up", &target, true, &a)?;
        Ok(Change::Updated)
    }
}

/// Reads the two tables `bridge_settings` asks for.
fn read_settings(tables: &[Value]) -> Result<Option<BridgeSettings>, ParseError> {
    let [bridges, ifaces] = tables else {
        return Err(ParseError::Shape("expected two tables"));
    };
    let bridges = json::table(bridges)?;
    let Some(b) = bridges.first() else {
        return Ok(None);
    };
    let stp = match b.get("stp_enable") {
        Some(Value::Bool(v)) => *v,
        _ => return Err(ParseError::Shape("stp_enable is not a boolean")),
    };
    let ifaces = json::table(ifaces)?;
    let mtu = match ifaces.first().and_then(|i| i.get("mtu_request")) {
        None => None,
        Some(v) => match json::int_set(v)?.as_slice() {
            [] => None,
            [m] => {
                Some(u32::try_from(*m).map_err(|_| ParseError::Shape("mtu_request out of range"))?)
            }
            _ => return Err(ParseError::Shape("mtu_request has several values")),
        },
    };
    Ok(Some(BridgeSettings { stp, mtu }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ovs::testbed::Testbed;

    fn n(s: &str) -> IfName {
        IfName::new(s).unwrap()
    }

    #[test]
    #[ignore = "needs root: a private Open vSwitch"]
    fn stp_and_mtu_are_set_once_and_read_back() {
        let tb = Testbed::start("stp_and_mtu_are_set_once_and_read_back");
        let br = n("ovsbr9");
        assert_eq!(tb.ovs.bridge_settings(&br).unwrap(), None);
        assert!(tb.ovs.ensure_bridge_settings(&br, true, None).is_err());
        tb.ovs.ensure_bridge(&br, Some("netdev")).unwrap();
        assert_eq!(
            tb.ovs.bridge_settings(&br).unwrap(),
            Some(BridgeSettings {
                stp: false,
                mtu: None
            })
        );
        assert_eq!(
            tb.ovs
                .ensure_bridge_settings(&br, true, Some(1450))
                .unwrap(),
            Change::Updated
        );
        assert_eq!(
            tb.ovs.bridge_settings(&br).unwrap(),
            Some(BridgeSettings {
                stp: true,
                mtu: Some(1450)
            })
        );
        assert_eq!(
            tb.vsctl(&["get", "Bridge", "ovsbr9", "stp_enable"]).trim(),
            "true"
        );
        assert_eq!(
            tb.vsctl(&["get", "Interface", "ovsbr9", "mtu_request"])
                .trim(),
            "1450"
        );
        assert_eq!(
            tb.ovs
                .ensure_bridge_settings(&br, true, Some(1450))
                .unwrap(),
            Change::Unchanged
        );
        assert_eq!(
            tb.ovs.ensure_bridge_settings(&br, true, None).unwrap(),
            Change::Unchanged
        );
        assert_eq!(
            tb.ovs.ensure_bridge_settings(&br, false, None).unwrap(),
            Change::Updated
        );
        assert_eq!(
            tb.vsctl(&["get", "Bridge", "ovsbr9", "stp_enable"]).trim(),
            "false"
        );
    }
}
