//! The network hook against a kernel and an Open vSwitch: each test runs in a network
//! namespace of its own (root: ignored unless asked for), the Open vSwitch one against a
//! private userspace Open vSwitch.

use super::*;
use hostnet::netlink::testns::in_netns;
use hostnet::netlink::BridgeConfig;
use hostnet::ovs::testbed::Testbed;
use registry::{BridgeKind, Registry, SqliteRegistry};
use translator::IfName;

fn n(s: &str) -> IfName {
    IfName::new(s).unwrap()
}

/// A port of guest `g` on `bridge`, as libvirt hands it to `port-created`.
fn port(bridge: &str, mac: &str) -> String {
    format!(
        "<hookData>\n  <network>\n    <name>lan</name>\n    <forward mode='bridge'/>\n    \
         <bridge name='{bridge}'/>\n  </network>\n  <networkport>\n    <owner>\n      \
         <name>g</name>\n    </owner>\n    <mac address='{mac}'/>\n    \
         <plug type='bridge' bridge='{bridge}'/>\n  </networkport>\n</hookData>\n"
    )
}

/// `port-created` registers the port's bridge as the kind the host has: an Open
/// vSwitch bridge (here of the userspace datapath, which shows no `openvswitch` device
/// in the kernel) as `ovs`, a Linux bridge as `linux`; a bridge that is nowhere fails
/// the port (libvirt would fail later, less clearly) and is not registered.
#[test]
#[ignore = "needs root: a network namespace and a private Open vSwitch"]
fn port_created_registers_the_bridge_as_the_kind_the_host_has() {
    let tb = Testbed::start("port_created_registers_the_bridge_as_the_kind_the_host_has");
    tb.vsctl(&[
        "add-br",
        "ovsbr0",
        "--",
        "set",
        "bridge",
        "ovsbr0",
        "datapath_type=netdev",
    ]);
    in_netns("port_created_registers_the_bridge_as_the_kind", |kernel| {
        kernel
            .ensure_bridge(&n("brL"), &BridgeConfig::default())
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let reg = SqliteRegistry::open(dir.path().join("r.db")).unwrap();
        let nl = LazyNetlink::new();
        let log = MemoryLog::default();
        let host = Host {
            registry: &reg,
            nl: &nl,
            ovs: &tb.ovs,
            log: &log,
            network_state: std::path::Path::new("/nonexistent/vifkit-test/network"),
        };
        let req =
            Request::from_args(Driver::Network, &["lan", "port-created", "begin", "-"]).unwrap();
        run(&host, &req, &port("ovsbr0", "52:54:00:00:00:01")).unwrap();
        run(&host, &req, &port("brL", "52:54:00:00:00:02")).unwrap();
        let e = run(&host, &req, &port("nowhere0", "52:54:00:00:00:03")).unwrap_err();
        assert_eq!(
            translator::diag::error_chain(&e),
            "Network lan: port of guest g: bridge nowhere0 does not exist on this host \
             (removed while the network is active? `virsh net-destroy lan` then `virsh \
             net-start lan` make it again if it is registered creatable)"
        );
        let kinds: Vec<(String, BridgeKind)> = reg
            .bridges()
            .unwrap()
            .into_iter()
            .map(|b| (b.name.to_string(), b.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("brL".to_owned(), BridgeKind::Linux),
                ("ovsbr0".to_owned(), BridgeKind::Ovs)
            ]
        );
        assert!(reg.bridges().unwrap().iter().all(|b| !b.creatable));
        assert_eq!(
            log.texts(Level::Info),
            [
                "network lan: registered its bridge ovsbr0 (kind ovs, not creatable)",
                "network lan: port of guest g on ovsbr0",
                "network lan: registered its bridge brL (kind linux, not creatable)",
                "network lan: port of guest g on brL",
            ]
        );
    });
}
