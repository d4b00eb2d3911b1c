//! Tests: argument checks (always) and a private Open vSwitch (as root).

use std::collections::BTreeMap;

use translator::bridge_spec::OvsBridge;
use translator::{IfName, MacAddr};

use super::testbed::Testbed;
use super::*;

fn n(s: &str) -> IfName {
    IfName::new(s).unwrap()
}

fn mac(s: &str) -> MacAddr {
    s.parse().unwrap()
}

fn xen_cfg(tag: Option<u16>, trunks: &[u16]) -> PortConfig {
    PortConfig {
        tag,
        trunks: trunks.to_vec(),
        vm_name: Some("guest-1".into()),
        vm_uuid: Some("6c9e3a46-3c0b-4f5b-9a55-2f6c1a0e7b11".into()),
        mac: Some(mac("00:16:3e:12:34:56")),
    }
}

/// A testbed with bridge `br0` (userspace datapath).
fn with_bridge(test: &str) -> Testbed {
    let tb = Testbed::start(test);
    tb.ovs.ensure_bridge(&n("br0"), Some("netdev")).unwrap();
    tb
}

/// The columns compared by [`snapshot`]: every configuration column and the row's
/// identity (a re-created row gets a new `_uuid`), not the ones `ovs-vswitchd` updates
/// by itself (`statistics`, `status`, ...).
const PORT_COLUMNS: &str =
    "--columns=_uuid,name,tag,trunks,vlan_mode,interfaces,external_ids,other_config";
/// See [`PORT_COLUMNS`].
const IFACE_COLUMNS: &str = "--columns=_uuid,name,type,options,external_ids,other_config";
/// See [`PORT_COLUMNS`].
const BRIDGE_COLUMNS: &str = "--columns=_uuid,name,ports,datapath_type,external_ids,other_config";

/// Everything about a port, and the configuration counter, as raw `ovs-vsctl` output.
fn snapshot(tb: &Testbed, port: &str) -> String {
    [
        tb.vsctl(&[
            "--format=json",
            PORT_COLUMNS,
            "find",
            "Port",
            &format!("name={}", json::quote(port)),
        ]),
        tb.vsctl(&[
            "--format=json",
            IFACE_COLUMNS,
            "find",
            "Interface",
            &format!("name={}", json::quote(port)),
        ]),
        tb.vsctl(&["--format=json", BRIDGE_COLUMNS, "list", "Bridge"]),
        tb.vsctl(&["get", "Open_vSwitch", ".", "next_cfg"]),
    ]
    .concat()
}

/// Checks a port's whole state.
fn check_port(tb: &Testbed, port: &str, bridge: &str, cfg: &PortConfig) {
    let st = tb.ovs.port(&n(port)).unwrap().expect("port exists");
    assert_eq!(st.bridge, bridge);
    assert_eq!(st.tag, cfg.tag);
    let mut t = cfg.trunks.clone();
    t.sort_unstable();
    t.dedup();
    assert_eq!(st.trunks, t);
    assert_eq!(st.vm_name(), cfg.vm_name.as_deref());
    assert_eq!(st.vm_uuid(), cfg.vm_uuid.as_deref());
    assert_eq!(st.mac(), cfg.mac);
    assert!(st.matches(bridge, cfg));
    // Cross-check with ovs-vsctl's own text output.
    let tag = tb.vsctl(&["get", "Port", port, "tag"]);
    assert_eq!(
        tag.trim(),
        cfg.tag.map_or("[]".to_owned(), |t| t.to_string())
    );
    assert_eq!(tb.vsctl(&["port-to-br", port]).trim(), bridge);
}

#[test]
#[ignore = "needs root: a private Open vSwitch"]
fn bridge_ensure_is_idempotent() {
    let tb = Testbed::start("bridge_ensure_is_idempotent");
    let br = n("br0");
    assert_eq!(tb.ovs.bridge(&br).unwrap(), None);
    assert_eq!(
        tb.ovs.ensure_bridge(&br, Some("netdev")).unwrap(),
        Change::Created
    );
    let before = snapshot(&tb, "br0");
    assert_eq!(
        tb.ovs.ensure_bridge(&br, Some("netdev")).unwrap(),
        Change::Unchanged
    );
    assert_eq!(tb.ovs.ensure_bridge(&br, None).unwrap(), Change::Unchanged);
    assert_eq!(snapshot(&tb, "br0"), before);
    assert_eq!(
        tb.ovs.bridge(&br).unwrap(),
        Some(BridgeState {
            datapath_type: "netdev".into()
        })
    );
    assert_eq!(tb.vsctl(&["list-br"]).trim(), "br0");
    assert_eq!(tb.ovs.delete_bridge(&br).unwrap(), Change::Removed);
    assert_eq!(tb.ovs.delete_bridge(&br).unwrap(), Change::Unchanged);
    assert_eq!(tb.ovs.bridge(&br).unwrap(), None);
    assert_eq!(tb.vsctl(&["list-br"]).trim(), "");
}

#[test]
#[ignore = "needs root: a private Open vSwitch"]
fn ports_get_tag_trunks_and_external_ids() {
    let tb = with_bridge("ports_get_tag_trunks_and_external_ids");
    let cases = [
        ("vif1.0", xen_cfg(Some(10), &[])),
        ("vif1.1", xen_cfg(None, &[20, 30])),
        ("vif1.2", xen_cfg(Some(10), &[30, 20, 30])),
        ("vif1.3", xen_cfg(Some(0), &[0, 4095])),
        ("vif1.4", PortConfig::default()),
    ];
    for (port, cfg) in &cases {
        assert_eq!(
            tb.ovs.ensure_port(&n("br0"), &n(port), cfg).unwrap(),
            Change::Created,
            "{port}"
        );
        check_port(&tb, port, "br0", cfg);
    }
    // The external ids are exactly Xen's three, with Xen's key names.
    let st = tb.ovs.port(&n("vif1.0")).unwrap().unwrap();
    let want: BTreeMap<String, String> = [
        ("attached-mac", "00:16:3e:12:34:56"),
        ("xen-vm-name", "guest-1"),
        ("xen-vm-uuid", "6c9e3a46-3c0b-4f5b-9a55-2f6c1a0e7b11"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .into();
    assert_eq!(st.external_ids, want);
    assert!(tb
        .ovs
        .port(&n("vif1.4"))
        .unwrap()
        .unwrap()
        .external_ids
        .is_empty());
    assert_eq!(
        tb.vsctl(&["get", "Interface", "vif1.0", "external_ids:attached-mac"])
            .trim(),
        "\"00:16:3e:12:34:56\""
    );
    assert_eq!(
        tb.vsctl(&["get", "Port", "vif1.2", "trunks"]).trim(),
        "[20, 30]"
    );
}

#[test]
#[ignore = "needs root: a private Open vSwitch"]
fn re_ensure_with_other_values_replaces_them() {
    let tb = with_bridge("re_ensure_with_other_values_replaces_them");
    let (br, p) = (n("br0"), n("vif2.0"));
    tb.ovs
        .ensure_port(&br, &p, &xen_cfg(Some(10), &[20, 30]))
        .unwrap();
    // Another tool's key is left alone.
    tb.vsctl(&["set", "Interface", "vif2.0", "external_ids:iface-id=abc"]);
    let next = PortConfig {
        tag: None,
        trunks: vec![40],
        vm_name: None,
        vm_uuid: Some("other".into()),
        mac: Some(mac("02:00:00:00:00:01")),
    };
    assert_eq!(tb.ovs.ensure_port(&br, &p, &next).unwrap(), Change::Updated);
    check_port(&tb, "vif2.0", "br0", &next);
    let ids = tb.ovs.port(&p).unwrap().unwrap().external_ids;
    assert_eq!(ids.get(XEN_VM_NAME), None);
    assert_eq!(ids.get("iface-id").map(String::as_str), Some("abc"));
    assert_eq!(ids.len(), 3);
    // And back to access-only.
    let last = xen_cfg(Some(5), &[]);
    assert_eq!(tb.ovs.ensure_port(&br, &p, &last).unwrap(), Change::Updated);
    check_port(&tb, "vif2.0", "br0", &last);
    assert_eq!(tb.vsctl(&["get", "Port", "vif2.0", "trunks"]).trim(), "[]");
}

#[test]
#[ignore = "needs root: a private Open vSwitch"]
fn re_ensure_identical_changes_nothing() {
    let tb = with_bridge("re_ensure_identical_changes_nothing");
    let (br, p) = (n("br0"), n("vif3.0"));
    let cfg = xen_cfg(Some(7), &[8, 9]);
    assert_eq!(tb.ovs.ensure_port(&br, &p, &cfg).unwrap(), Change::Created);
    let before = snapshot(&tb, "vif3.0");
    // The same wanted state, trunks in another order and repeated.
    let same = PortConfig {
        trunks: vec![9, 8, 9],
        ..cfg.clone()
    };
    for c in [&cfg, &same] {
        assert_eq!(tb.ovs.ensure_port(&br, &p, c).unwrap(), Change::Unchanged);
    }
    assert_eq!(snapshot(&tb, "vif3.0"), before);
}

#[test]
#[ignore = "needs root: a private Open vSwitch"]
fn port_on_another_bridge_is_moved() {
    let tb = with_bridge("port_on_another_bridge_is_moved");
    let (br0, br1, p) = (n("br0"), n("br1"), n("vif4.0"));
    tb.ovs.ensure_bridge(&br1, Some("netdev")).unwrap();
    tb.ovs
        .ensure_port(&br0, &p, &xen_cfg(Some(1), &[]))
        .unwrap();
    let cfg = xen_cfg(Some(2), &[3]);
    assert_eq!(tb.ovs.ensure_port(&br1, &p, &cfg).unwrap(), Change::Updated);
    check_port(&tb, "vif4.0", "br1", &cfg);
    assert_eq!(tb.vsctl(&["list-ports", "br0"]).trim(), "");
    assert_eq!(tb.vsctl(&["list-ports", "br1"]).trim(), "vif4.0");
}

#[test]
#[ignore = "needs root: a private Open vSwitch"]
fn remove_port_is_idempotent() {
    let tb = with_bridge("remove_port_is_idempotent");
    let p = n("vif5.0");
    assert_eq!(tb.ovs.remove_port(&p).unwrap(), Change::Unchanged);
    tb.ovs
        .ensure_port(&n("br0"), &p, &xen_cfg(Some(1), &[2]))
        .unwrap();
    assert_eq!(tb.ovs.remove_port(&p).unwrap(), Change::Removed);
    assert_eq!(tb.ovs.port(&p).unwrap(), None);
    assert_eq!(tb.ovs.remove_port(&p).unwrap(), Change::Unchanged);
    assert_eq!(tb.vsctl(&["list-ports", "br0"]).trim(), "");
    assert_eq!(
        tb.vsctl(&["--columns=name", "list", "Interface"])
            .matches("vif5.0")
            .count(),
        0
    );
}

#[test]
#[ignore = "needs root: a private Open vSwitch"]
fn failed_change_leaves_nothing_behind() {
    let tb = with_bridge("failed_change_leaves_nothing_behind");
    let p = n("vif6.0");
    // No such bridge: nothing is created.
    let before = snapshot(&tb, "vif6.0");
    let err = tb
        .ovs
        .ensure_port(&n("nosuchbr"), &p, &xen_cfg(Some(1), &[2]))
        .unwrap_err();
    assert!(matches!(err, OvsError::Vsctl { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("vif6.0") && text.contains("nosuchbr"),
        "{text}"
    );
    assert!(
        err.stderr().is_some_and(|s| s.contains("nosuchbr")),
        "{err:?}"
    );
    assert!(std::error::Error::source(&err).is_some());
    assert_eq!(tb.ovs.port(&p).unwrap(), None);
    assert_eq!(snapshot(&tb, "vif6.0"), before);
    // A move to a missing bridge fails whole: the port stays where and as it was.
    let cfg = xen_cfg(Some(1), &[2]);
    tb.ovs.ensure_port(&n("br0"), &p, &cfg).unwrap();
    let before = snapshot(&tb, "vif6.0");
    let moved = xen_cfg(Some(3), &[4]);
    assert!(tb.ovs.ensure_port(&n("nosuchbr"), &p, &moved).is_err());
    check_port(&tb, "vif6.0", "br0", &cfg);
    assert_eq!(snapshot(&tb, "vif6.0"), before);
}

#[test]
#[ignore = "needs root: a private Open vSwitch"]
fn odd_but_valid_names_and_values_stay_literal() {
    let tb = with_bridge("odd_but_valid_names_and_values_stay_literal");
    let p = "p=1,\"{x}[";
    let cfg = PortConfig {
        vm_name: Some("a \"guest\", with = {odd} [chars] \\ é".into()),
        vm_uuid: Some(String::new()),
        ..xen_cfg(Some(1), &[])
    };
    tb.ovs.ensure_port(&n("br0"), &n(p), &cfg).unwrap();
    check_port(&tb, p, "br0", &cfg);
    assert_eq!(
        tb.ovs.ensure_port(&n("br0"), &n(p), &cfg).unwrap(),
        Change::Unchanged
    );
    assert_eq!(tb.ovs.remove_port(&n(p)).unwrap(), Change::Removed);
}

#[test]
fn bad_input_is_refused_before_any_command_runs() {
    // A program that does not exist: any attempt to run it would be `Spawn`.
    let ovs = Ovs::with_db("unix:/nonexistent/db.sock").with_program("/nonexistent/ovs-vsctl");
    let (br, p) = (n("br0"), n("vif1.0"));
    let dash = n("-x");
    let sep = n("--");
    for e in [
        ovs.ensure_bridge(&dash, None).unwrap_err(),
        ovs.ensure_bridge(&br, Some("net dev")).unwrap_err(),
        ovs.ensure_bridge(&br, Some("")).unwrap_err(),
        ovs.delete_bridge(&sep).unwrap_err(),
        ovs.bridge(&dash).unwrap_err(),
        ovs.ensure_port(&dash, &p, &PortConfig::default())
            .unwrap_err(),
        ovs.ensure_port(&br, &sep, &PortConfig::default())
            .unwrap_err(),
        ovs.remove_port(&dash).unwrap_err(),
        ovs.port(&sep).unwrap_err(),
        ovs.ensure_port(
            &br,
            &p,
            &PortConfig {
                tag: Some(4096),
                ..PortConfig::default()
            },
        )
        .unwrap_err(),
        ovs.ensure_port(
            &br,
            &p,
            &PortConfig {
                trunks: vec![1, 5000],
                ..PortConfig::default()
            },
        )
        .unwrap_err(),
        ovs.ensure_port(
            &br,
            &p,
            &PortConfig {
                vm_name: Some("a\nb".into()),
                ..PortConfig::default()
            },
        )
        .unwrap_err(),
        ovs.ensure_port(
            &br,
            &p,
            &PortConfig {
                vm_uuid: Some("\0".into()),
                ..PortConfig::default()
            },
        )
        .unwrap_err(),
    ] {
        assert!(
            !matches!(e, OvsError::Spawn { .. } | OvsError::Vsctl { .. }),
            "{e:?}"
        );
        assert!(e.to_string().starts_with(char::is_uppercase), "{e}");
    }
    // Names that are not interface names cannot even be made.
    for bad in ["", "a b", "a/b", "a:b", "sixteen-chars-xx", "tab\t"] {
        assert!(IfName::new(bad).is_err(), "{bad:?}");
    }
    // The first thing that does run is the program; its absence is reported as such.
    let e = ovs.port(&p).unwrap_err();
    assert!(matches!(e, OvsError::Spawn { .. }), "{e:?}");
    assert!(e.to_string().contains("vif1.0"), "{e}");
}

#[test]
fn config_from_bridge_spec() {
    let spec = OvsBridge::parse("xenbr1.10:20:30").unwrap();
    let (br, cfg) = PortConfig::from_bridge_spec(&spec).unwrap();
    assert_eq!(br.as_str(), "xenbr1");
    assert_eq!(cfg.tag, Some(10));
    assert_eq!(cfg.trunks, vec![20, 30]);
    assert_eq!(cfg.vm_name, None);
    let spec = OvsBridge::parse("ovsbr").unwrap();
    let (_, cfg) = PortConfig::from_bridge_spec(&spec).unwrap();
    assert_eq!(cfg, PortConfig::default());
}

#[test]
fn parse_port_reads_ovs_vsctl_tables() {
    let text = r#"{"data":[[["uuid","27eba08a-bfd1-421a-870e-faa5671ed527"],10,["set",[20,30]]]],"headings":["_uuid","tag","trunks"]}
{"data":[["br1",["set",[]]],["br0",["set",[["uuid","27eba08a-bfd1-421a-870e-faa5671ed527"],["uuid","b2376f53-2c1f-49ba-b656-22d036763731"]]]]],"headings":["name","ports"]}
{"data":[[["map",[["attached-mac","00:16:3e:00:00:01"]]]]],"headings":["external_ids"]}
"#;
    let st = parse_port(&json::parse_all(text).unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(st.bridge, "br0");
    assert_eq!(st.tag, Some(10));
    assert_eq!(st.trunks, vec![20, 30]);
    assert_eq!(st.mac(), Some(mac("00:16:3e:00:00:01")));
    // A single trunk is printed as a bare atom, an absent tag as an empty set.
    let one = text.replace("10,[\"set\",[20,30]]", "[\"set\",[]],20");
    let st = parse_port(&json::parse_all(&one).unwrap())
        .unwrap()
        .unwrap();
    assert_eq!((st.tag, st.trunks), (None, vec![20]));
    // No port: None; a port on no bridge, or a VLAN out of range: an error.
    let none = r#"{"data":[],"headings":["_uuid","tag","trunks"]}
{"data":[],"headings":["name","ports"]}
{"data":[],"headings":["external_ids"]}"#;
    assert_eq!(parse_port(&json::parse_all(none).unwrap()).unwrap(), None);
    let orphan = text.replace(
        r#"["uuid","27eba08a-bfd1-421a-870e-faa5671ed527"],["uuid","b2376f53"#,
        r#"["uuid","b2376f53"#,
    );
    assert_ne!(orphan, text);
    assert!(parse_port(&json::parse_all(&orphan).unwrap()).is_err());
    let big = text.replace("10,", "70000,");
    assert!(parse_port(&json::parse_all(&big).unwrap()).is_err());
    assert!(parse_port(&[]).is_err());
}

#[test]
fn unreachable_database_fails_within_the_timeout() {
    let vsctl = super::testbed::find("ovs-vsctl")
        .expect("ovs-vsctl is missing: install openvswitch-switch (packaging/install-deps.sh)");
    let dir = tempfile::tempdir().unwrap();
    let mut ovs = Ovs::with_socket(&dir.path().join("db.sock")).with_program(vsctl);
    ovs.timeout = std::time::Duration::from_millis(300);
    let start = std::time::Instant::now();
    let e = ovs.port(&n("vif1.0")).unwrap_err();
    assert!(
        start.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert!(matches!(e, OvsError::Vsctl { .. }), "{e:?}");
    assert!(e.stderr().is_some_and(|s| !s.is_empty()), "{e:?}");
}

#[test]
#[ignore = "needs root: a private Open vSwitch"]
fn ovs_vswitchd_has_applied_the_change_on_return() {
    let tb = with_bridge("ovs_vswitchd_has_applied_the_change_on_return");
    let (br, p) = (n("br0"), n("vif7.0"));
    let cfg = xen_cfg(Some(10), &[20]);
    tb.ovs.ensure_port(&br, &p, &cfg).unwrap();
    let cfgs = |tb: &Testbed| {
        (
            tb.vsctl(&["get", "Open_vSwitch", ".", "next_cfg"]),
            tb.vsctl(&["get", "Open_vSwitch", ".", "cur_cfg"]),
        )
    };
    let (next, cur) = cfgs(&tb);
    assert_eq!(next, cur);
    // With a device ovs-vswitchd can open (an internal port in its namespace), the
    // port is live; the interface type is not ours, so a repeat leaves it alone.
    tb.vsctl(&["set", "Interface", "vif7.0", "type=internal"]);
    assert_eq!(
        tb.ovs.ensure_port(&br, &p, &cfg).unwrap(),
        Change::Unchanged
    );
    let updated = xen_cfg(Some(11), &[20]);
    assert_eq!(
        tb.ovs.ensure_port(&br, &p, &updated).unwrap(),
        Change::Updated
    );
    let (next, cur) = cfgs(&tb);
    assert_eq!(next, cur);
    let ofport: i64 = tb
        .vsctl(&["get", "Interface", "vif7.0", "ofport"])
        .trim()
        .parse()
        .unwrap();
    assert!(ofport > 0, "ofport {ofport}");
    assert_eq!(
        tb.vsctl(&["get", "Interface", "vif7.0", "type"]).trim(),
        "internal"
    );
    check_port(&tb, "vif7.0", "br0", &updated);
}
