//! Hotplug tests: requests from arguments and environment, and the bridge mode run for
//! real in a network namespace each test creates, against a directory xenstore.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;

use translator::IfName;

use super::xenstore::{DirStore, XenStore};
use super::*;
use hostnet::netlink::testns::{all_links, in_netns, veth};
use hostnet::netlink::BridgeConfig;
use hostnet::ovs::Ovs;
use registry::{Bridge, BridgeKind, Mtu, Registry, SqliteRegistry};

pub(super) fn req(args: &[&str], env: &[(&str, &str)]) -> Result<Request, HotplugError> {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    Request::from_env(&args, &|k| env.get(k).cloned())
}

const PV_ENV: &[(&str, &str)] = &[("vif", "vif5.2"), ("XENBUS_PATH", "backend/vif/5/2")];

pub(super) struct Scratch(pub(super) PathBuf);

impl Scratch {
    pub(super) fn new(name: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("vifkit-hotplug-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }

    pub(super) fn store(&self) -> DirStore {
        DirStore::new(self.0.join("xenstore"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The system's Open vSwitch is never used by these tests: a missing program stands in.
fn no_ovs() -> &'static Ovs {
    static OVS: std::sync::OnceLock<Ovs> = std::sync::OnceLock::new();
    OVS.get_or_init(|| Ovs::with_db("unix:/nonexistent/vifkit-test.sock"))
}

pub(super) fn host<'a>(nl: &'a Netlink, registry: Option<&'a dyn Registry>) -> Host<'a> {
    Host {
        nl,
        ovs: no_ovs(),
        registry,
        log: &|_| {},
        hooks: None,
    }
}

fn n(s: &str) -> IfName {
    IfName::new(s).unwrap()
}

#[test]
fn requests_follow_xl() {
    let r = req(&["online", "type_if=vif"], PV_ENV).unwrap();
    assert_eq!((r.action, r.if_type), (Action::Up, IfType::Vif));
    assert_eq!(r.device.as_str(), "vif5.2");
    let r = req(
        &["add", "type_if=tap"],
        &[
            ("vif", "vif5.2"),
            ("INTERFACE", "vif5.2-emu"),
            ("XENBUS_PATH", "backend/vif/5/2"),
        ],
    )
    .unwrap();
    assert_eq!(
        (r.action, r.if_type, r.device.as_str()),
        (Action::Up, IfType::Tap, "vif5.2-emu")
    );
    assert_eq!(req(&["offline"], PV_ENV).unwrap().action, Action::Down);
    for (args, env) in [
        (&["start"][..], PV_ENV),
        (&["online", "type_if=eth"][..], PV_ENV),
        (&["online"][..], &[("vif", "vif5.2")][..]),
        (
            &["online"][..],
            &[("vif", "vif5.2"), ("XENBUS_PATH", "backend/vif/5/../../x")][..],
        ),
        (
            &["online"][..],
            &[("vif", "vif5.2 x"), ("XENBUS_PATH", "backend/vif/5/2")][..],
        ),
        (&["online"][..], &[("XENBUS_PATH", "backend/vif/5/2")][..]),
    ] {
        assert!(req(args, env).is_err(), "{args:?} {env:?}");
    }
}

#[test]
fn settings_are_checked() {
    let s = Scratch::new("settings");
    let store = s.store();
    let r = req(&["online"], PV_ENV).unwrap();
    let st = Settings::read(&store, &r).unwrap();
    assert_eq!(st.bridge.as_str(), DEFAULT_BRIDGE);
    for (k, v) in [
        ("mtu", "0"),
        ("mtu", "x"),
        ("vlan", "10/20"),
        ("mac", "01:00:00:00:00:01"),
    ] {
        let s = Scratch::new(&format!("settings-{k}"));
        let store = s.store();
        store.write(&format!("backend/vif/5/2/{k}"), v).unwrap();
        assert!(Settings::read(&store, &r).is_err(), "{k}={v}");
    }
}

/// The bridge mode attaches the PV backend and its emulated twin with the right MTU,
/// reports `connected`, and `offline` detaches.
#[test]
#[ignore = "needs root: network namespaces"]
fn bridge_mode_wires_both_twins() {
    in_netns("bridge_mode_wires_both_twins", |nl| {
        let s = Scratch::new("wire");
        let store = s.store();
        nl.ensure_bridge(
            &n("br900"),
            &BridgeConfig {
                mtu: Some(9000),
                stp: false,
                vlan_filtering: false,
            },
        )
        .unwrap();
        veth(nl, "vif5.2", "peer52");
        veth(nl, "vif5.2-emu", "peer52e");
        store.write("backend/vif/5/2/bridge", "br900").unwrap();
        store.write("backend/vif/5/2/mtu", "1400").unwrap();
        let pv = req(&["online", "type_if=vif"], PV_ENV).unwrap();
        run(&store, &host(nl, None), &pv).unwrap();
        let twin = req(
            &["add", "type_if=tap"],
            &[
                ("vif", "vif5.2"),
                ("INTERFACE", "vif5.2-emu"),
                ("XENBUS_PATH", "backend/vif/5/2"),
            ],
        )
        .unwrap();
        run(&store, &host(nl, None), &twin).unwrap();
        let br = nl.link(&n("br900")).unwrap().unwrap();
        for dev in ["vif5.2", "vif5.2-emu"] {
            let l = nl.link(&n(dev)).unwrap().unwrap();
            assert_eq!(l.master, Some(br.index), "{dev} not on br900");
            assert_eq!(l.mtu, 1400, "{dev} MTU");
            assert!(l.up, "{dev} down");
        }
        assert_eq!(
            store
                .read("backend/vif/5/2/hotplug-status")
                .unwrap()
                .as_deref(),
            Some("connected")
        );
        // Running it again changes nothing and still succeeds.
        run(&store, &host(nl, None), &pv).unwrap();
        let off = req(&["offline", "type_if=vif"], PV_ENV).unwrap();
        run(&store, &host(nl, None), &off).unwrap();
        assert_eq!(nl.link(&n("vif5.2")).unwrap().unwrap().master, None);
    });
}

/// A missing bridge that is not registered as creatable: a clear error in xenstore, and
/// nothing changed on the host.
#[test]
#[ignore = "needs root: network namespaces"]
fn missing_bridge_is_reported_and_nothing_changes() {
    in_netns("missing_bridge_is_reported_and_nothing_changes", |nl| {
        let s = Scratch::new("missing");
        let store = s.store();
        veth(nl, "vif7.0", "peer70");
        store.write("backend/vif/7/0/bridge", "br-none").unwrap();
        let before = all_links(nl);
        let r = req(
            &["online"],
            &[("vif", "vif7.0"), ("XENBUS_PATH", "backend/vif/7/0")],
        )
        .unwrap();
        let err = run(&store, &host(nl, None), &r).unwrap_err();
        assert!(matches!(err, HotplugError::NoBridge { .. }), "{err}");
        assert_eq!(all_links(nl), before);
        assert_eq!(
            store
                .read("backend/vif/7/0/hotplug-status")
                .unwrap()
                .as_deref(),
            Some("error")
        );
        let msg = store
            .read("backend/vif/7/0/hotplug-error")
            .unwrap()
            .unwrap();
        assert!(msg.starts_with("Bridge br-none does not exist"), "{msg}");
    });
}

/// A bridge registered as creatable is created from its entry (MTU, STP), then used.
#[test]
#[ignore = "needs root: network namespaces"]
fn creatable_bridge_is_created_from_the_registry() {
    in_netns("creatable_bridge_is_created_from_the_registry", |nl| {
        let s = Scratch::new("creatable");
        let store = s.store();
        let reg = SqliteRegistry::open(s.0.join("registry.db")).unwrap();
        let mut b = Bridge::new(n("br901"), BridgeKind::Linux);
        b.creatable = true;
        b.mtu = Some(Mtu::new(1450).unwrap());
        reg.add_bridge(&b).unwrap();
        veth(nl, "vif6.0", "peer60");
        store.write("backend/vif/6/0/bridge", "br901").unwrap();
        let r = req(
            &["online"],
            &[("vif", "vif6.0"), ("XENBUS_PATH", "backend/vif/6/0")],
        )
        .unwrap();
        run(&store, &host(nl, Some(&reg)), &r).unwrap();
        let br = nl.link(&n("br901")).unwrap().expect("bridge created");
        assert!(br.is_bridge());
        assert_eq!(br.mtu, 1450);
        let port = nl.link(&n("vif6.0")).unwrap().unwrap();
        assert_eq!((port.master, port.mtu), (Some(br.index), 1450));
        // Registered but not creatable: refused, nothing created.
        let mut b = Bridge::new(n("br902"), BridgeKind::Linux);
        b.creatable = false;
        reg.add_bridge(&b).unwrap();
        veth(nl, "vif6.1", "peer61");
        store.write("backend/vif/6/1/bridge", "br902").unwrap();
        let r = req(
            &["online"],
            &[("vif", "vif6.1"), ("XENBUS_PATH", "backend/vif/6/1")],
        )
        .unwrap();
        assert!(matches!(
            run(&store, &host(nl, Some(&reg)), &r),
            Err(HotplugError::NoBridge { .. })
        ));
        assert!(nl.link(&n("br902")).unwrap().is_none());
    });
}

/// Modes not built yet are refused with a clear error, touching nothing.
#[test]
#[ignore = "needs root: network namespaces"]
fn other_scripts_are_refused_clearly() {
    in_netns("other_scripts_are_refused_clearly", |nl| {
        let s = Scratch::new("route");
        let store = s.store();
        veth(nl, "vif8.0", "peer80");
        store
            .write("backend/vif/8/0/script", "/etc/xen/scripts/vif2")
            .unwrap();
        let before = all_links(nl);
        let r = req(
            &["online"],
            &[("vif", "vif8.0"), ("XENBUS_PATH", "backend/vif/8/0")],
        )
        .unwrap();
        let err = run(&store, &host(nl, None), &r).unwrap_err();
        assert!(
            matches!(&err, HotplugError::Unsupported(m) if m == "vif2"),
            "{err}"
        );
        assert_eq!(all_links(nl), before);
        assert_eq!(
            store
                .read("backend/vif/8/0/hotplug-status")
                .unwrap()
                .as_deref(),
            Some("error")
        );
    });
}

/// Runs `ip ARGS` (test set-up only; the code under test never runs commands) in the
/// calling thread's network namespace.
fn ip(args: &[&str]) {
    let out = std::process::Command::new("ip")
        .args(args)
        .output()
        .expect("ip runs");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A named network namespace for the guest's end, removed on drop.
struct GuestNs(String);

impl Drop for GuestNs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.0])
            .status();
    }
}

/// Seed 000's routed guest `alice`: after `online`, dom0 reaches 192.168.1.21 through
/// `vifalice.0` (a ping from dom0's namespace to the guest's), and `offline` takes the
/// route and the address away again.
#[test]
#[ignore = "needs root: network namespaces"]
fn routed_guest_is_reachable_from_dom0() {
    in_netns("routed_guest_is_reachable_from_dom0", |nl| {
        let s = Scratch::new("routed");
        let store = s.store();
        let guest = GuestNs(format!("vk-guest-{}", std::process::id()));
        // Commands started from this thread run in its namespace: dom0's.
        ip(&["netns", "add", &guest.0]);
        // dom0's gateway device with its address, standing in for eth1.
        veth(nl, "gw0", "gw0peer");
        ip(&["addr", "add", "10.0.0.1/24", "dev", "gw0"]);
        ip(&["link", "set", "gw0", "up"]);
        ip(&["link", "set", "lo", "up"]);
        // The vif and the guest's end of it, inside the guest's namespace.
        veth(nl, "vifalice.0", "alice0");
        ip(&["link", "set", "alice0", "netns", &guest.0]);
        ip(&["-n", &guest.0, "link", "set", "lo", "up"]);
        ip(&[
            "-n",
            &guest.0,
            "addr",
            "add",
            "192.168.1.21/32",
            "dev",
            "alice0",
        ]);
        ip(&["-n", &guest.0, "link", "set", "alice0", "up"]);
        ip(&["-n", &guest.0, "route", "add", "10.0.0.1", "dev", "alice0"]);
        ip(&["-n", &guest.0, "route", "add", "default", "via", "10.0.0.1"]);
        for (k, v) in [
            ("script", "/etc/xen/scripts/vif-route"),
            ("ip", "192.168.1.21"),
        ] {
            store.write(&format!("backend/vif/3/0/{k}"), v).unwrap();
        }
        let env = [
            ("vif", "vifalice.0"),
            ("XENBUS_PATH", "backend/vif/3/0"),
            ("netdev", "gw0"),
        ];
        let ping = || {
            std::process::Command::new("ping")
                .args(["-c", "1", "-W", "2", "192.168.1.21"])
                .output()
                .expect("ping runs")
                .status
                .success()
        };
        assert!(!ping(), "the guest is reachable before online");
        run(&store, &host(nl, None), &req(&["online"], &env).unwrap()).unwrap();
        assert_eq!(
            store
                .read("backend/vif/3/0/hotplug-status")
                .unwrap()
                .as_deref(),
            Some("connected")
        );
        let vif = n("vifalice.0");
        let v4 = |nl: &Netlink| -> Vec<(IpAddr, u8)> {
            nl.addresses(&vif)
                .unwrap()
                .into_iter()
                .filter(|(a, _)| a.is_ipv4())
                .collect()
        };
        assert_eq!(v4(nl), vec![("10.0.0.1".parse().unwrap(), 32)]);
        assert!(hostnet::netlink::proxy_arp(&vif).unwrap());
        assert!(ping(), "dom0 cannot reach the routed guest");
        run(&store, &host(nl, None), &req(&["offline"], &env).unwrap()).unwrap();
        assert!(nl.routes(&vif).unwrap().iter().all(|(a, _)| !a.is_ipv4()));
        assert!(v4(nl).is_empty());
        assert!(!ping(), "the guest is still reachable after offline");
    });
}

/// A routed vif whose gateway device has no address: a clear error, nothing changed.
#[test]
#[ignore = "needs root: network namespaces"]
fn routed_vif_without_gateway_address_fails_cleanly() {
    in_netns("routed_vif_without_gateway_address_fails_cleanly", |nl| {
        let s = Scratch::new("routed-noaddr");
        let store = s.store();
        veth(nl, "gw0", "gw0peer");
        veth(nl, "vif4.0", "peer40");
        store.write("backend/vif/4/0/script", "vif-route").unwrap();
        store.write("backend/vif/4/0/ip", "192.168.1.22").unwrap();
        let before = all_links(nl);
        let env = [
            ("vif", "vif4.0"),
            ("XENBUS_PATH", "backend/vif/4/0"),
            ("netdev", "gw0"),
        ];
        let err = run(&store, &host(nl, None), &req(&["online"], &env).unwrap()).unwrap_err();
        assert!(matches!(err, HotplugError::NoGatewayAddress(_)), "{err}");
        assert_eq!(all_links(nl), before);
        assert!(nl.routes(&n("vif4.0")).unwrap().is_empty());
    });
}

/// A routed guest claiming the host's default gateway, the host's own address, a
/// network's broadcast address or a whole network is refused before anything changes:
/// no address on the vif, no route through it, the host's default route intact.
#[test]
#[ignore = "needs root: network namespaces"]
fn routed_guest_cannot_take_the_hosts_addresses_or_routes() {
    in_netns(
        "routed_guest_cannot_take_the_hosts_addresses_or_routes",
        |nl| {
            let s = Scratch::new("routed-hijack");
            let store = s.store();
            veth(nl, "gw0", "gw0peer");
            veth(nl, "vif4.0", "peer40");
            nl.set_link_up(&n("gw0"), true).unwrap();
            nl.add_address(&n("gw0"), "192.0.2.10".parse().unwrap(), 24)
                .unwrap();
            ip(&["route", "add", "default", "via", "192.0.2.1", "dev", "gw0"]);
            let env = [
                ("vif", "vif4.0"),
                ("XENBUS_PATH", "backend/vif/4/0"),
                ("netdev", "gw0"),
            ];
            store.write("backend/vif/4/0/script", "vif-route").unwrap();
            for (bad, why) in [
                ("192.0.2.1", "default gateway"),
                ("192.0.2.10", "own addresses"),
                ("192.0.2.255", "broadcast address"),
                ("0.0.0.0/0", "unspecified"),
                ("10.9.0.0/16", "/16 would route"),
            ] {
                store.write("backend/vif/4/0/ip", bad).unwrap();
                let before = all_links(nl);
                let err =
                    run(&store, &host(nl, None), &req(&["online"], &env).unwrap()).unwrap_err();
                let msg = err.to_string();
                assert!(
                    matches!(err, HotplugError::GuestAddress { .. }) && msg.contains(why),
                    "{bad}: {msg}"
                );
                assert!(msg.contains("vif4.0"), "{msg}");
                assert_eq!(all_links(nl), before, "{bad}");
                assert!(nl.routes(&n("vif4.0")).unwrap().is_empty(), "{bad}");
                assert!(nl.addresses(&n("vif4.0")).unwrap().is_empty(), "{bad}");
                assert_eq!(
                    nl.default_gateways().unwrap(),
                    vec!["192.0.2.1".parse::<IpAddr>().unwrap()],
                    "{bad}"
                );
                assert_eq!(
                    store
                        .read("backend/vif/4/0/hotplug-status")
                        .unwrap()
                        .as_deref(),
                    Some("error")
                );
            }
            // NAT takes the same care.
            store.write("backend/vif/4/0/script", "vif-nat").unwrap();
            for (bad, why) in [
                ("192.0.2.10", "own addresses"),
                ("192.0.2.1", "default gateway"),
            ] {
                store.write("backend/vif/4/0/ip", bad).unwrap();
                let err =
                    run(&store, &host(nl, None), &req(&["online"], &env).unwrap()).unwrap_err();
                assert!(err.to_string().contains(why), "vif-nat {bad}: {err}");
                assert!(
                    nl.addresses(&n("vif4.0")).unwrap().is_empty(),
                    "vif-nat {bad}"
                );
            }
            store.write("backend/vif/4/0/script", "vif-route").unwrap();
            // A guest address of its own is routed as before.
            store.write("backend/vif/4/0/ip", "192.0.2.21").unwrap();
            run(&store, &host(nl, None), &req(&["online"], &env).unwrap()).unwrap();
            assert!(nl
                .routes(&n("vif4.0"))
                .unwrap()
                .contains(&("192.0.2.21".parse().unwrap(), 32)));
        },
    );
}

/// A bridge name the kernel would refuse fails before anything reaches it.
#[test]
#[ignore = "needs root: network namespaces"]
fn bad_bridge_name_fails_first() {
    in_netns("bad_bridge_name_fails_first", |nl| {
        let s = Scratch::new("badbridge");
        let store = s.store();
        veth(nl, "vif9.0", "peer90");
        store.write("backend/vif/9/0/bridge", "br:0").unwrap();
        let before = all_links(nl);
        let env = [("vif", "vif9.0"), ("XENBUS_PATH", "backend/vif/9/0")];
        let err = run(&store, &host(nl, None), &req(&["online"], &env).unwrap()).unwrap_err();
        assert!(
            matches!(err, HotplugError::Name { what: "bridge", .. }),
            "{err}"
        );
        assert_eq!(all_links(nl), before);
    });
}

/// `vif-openvswitch` against a private userspace Open vSwitch: the port gets the tag,
/// trunks and external-ids Xen's script sets, idempotently, and `offline` removes it.
#[test]
#[ignore = "needs root: a private Open vSwitch"]
fn openvswitch_mode_sets_tag_trunks_and_ids() {
    let tb = hostnet::ovs::testbed::Testbed::start("openvswitch_mode_sets_tag_trunks_and_ids");
    let nl = Netlink::new().unwrap();
    let s = Scratch::new("ovs");
    let store = s.store();
    tb.ovs.ensure_bridge(&n("ovsbr0"), Some("netdev")).unwrap();
    for (k, v) in [
        ("backend/vif/5/2/script", "/etc/xen/scripts/vif-openvswitch"),
        ("backend/vif/5/2/bridge", "ovsbr0.102:200:300"),
        ("backend/vif/5/2/mac", "00:16:3E:01:02:03"),
        ("/local/domain/5/name", "alice"),
        (
            "/local/domain/5/vm",
            "/vm/8b1b2a5c-6b0c-4a59-9a70-1c3e2b9f0d11",
        ),
    ] {
        store.write(k, v).unwrap();
    }
    let h = Host {
        nl: &nl,
        ovs: &tb.ovs,
        registry: None,
        log: &|_| {},
        hooks: None,
    };
    let online = req(&["online"], PV_ENV).unwrap();
    run(&store, &h, &online).unwrap();
    let port = tb.ovs.port(&n("vif5.2")).unwrap().expect("port added");
    assert_eq!(port.bridge, "ovsbr0");
    assert_eq!((port.tag, port.trunks.clone()), (Some(102), vec![200, 300]));
    assert_eq!(port.vm_name(), Some("alice"));
    assert_eq!(port.vm_uuid(), Some("8b1b2a5c-6b0c-4a59-9a70-1c3e2b9f0d11"));
    assert_eq!(
        port.mac().map(|m| m.to_string()).as_deref(),
        Some("00:16:3e:01:02:03")
    );
    assert_eq!(
        store
            .read("backend/vif/5/2/hotplug-status")
            .unwrap()
            .as_deref(),
        Some("connected")
    );
    // Again: nothing changes.
    run(&store, &h, &online).unwrap();
    assert_eq!(tb.ovs.port(&n("vif5.2")).unwrap().unwrap(), port);
    // A bridge that does not exist: an error, and no port anywhere.
    store
        .write("backend/vif/5/3/script", "vif-openvswitch")
        .unwrap();
    store.write("backend/vif/5/3/bridge", "nosuchbr.5").unwrap();
    let other = req(
        &["online"],
        &[("vif", "vif5.3"), ("XENBUS_PATH", "backend/vif/5/3")],
    )
    .unwrap();
    assert!(matches!(
        run(&store, &h, &other),
        Err(HotplugError::NoBridge { .. })
    ));
    assert!(tb.ovs.port(&n("vif5.3")).unwrap().is_none());
    run(&store, &h, &req(&["offline"], PV_ENV).unwrap()).unwrap();
    assert!(tb.ovs.port(&n("vif5.2")).unwrap().is_none());
}

/// A `bridge` key naming a device that is not a bridge: refused by name, nothing wired.
#[test]
#[ignore = "needs root: network namespaces"]
fn a_bridge_key_naming_another_kind_of_device_is_refused() {
    in_netns("a_bridge_key_naming_another_kind_of_device", |nl| {
        let s = Scratch::new("notabridge");
        let store = s.store();
        veth(nl, "vif8.0", "peer80");
        veth(nl, "eth9", "peer9");
        store.write("backend/vif/8/0/bridge", "eth9").unwrap();
        let before = all_links(nl);
        let r = req(
            &["online"],
            &[("vif", "vif8.0"), ("XENBUS_PATH", "backend/vif/8/0")],
        )
        .unwrap();
        let err = run(&store, &host(nl, None), &r).unwrap_err();
        assert!(
            matches!(err, HotplugError::Netlink(NetlinkError::NotABridge { .. })),
            "{err}"
        );
        assert_eq!(all_links(nl), before);
    });
}

/// `vif-vifkit` picks vif-bridge or vif-openvswitch from the bridge (registered kind
/// first, then Xen's `BRIDGE.TAG:TRUNK` form); `vif-vifkit-route`, SUSE's
/// `vif-route-ifup` and `vif-vifkit-nat` are the routed and NAT modes; Xen's own names
/// are kept as they are. Nothing here needs the kernel: the registry answers first.
#[test]
fn vifkit_script_names_choose_the_mode() {
    let nl = Netlink::new().unwrap();
    let s = Scratch::new("script-names");
    let reg = SqliteRegistry::open(s.0.join("registry.db")).unwrap();
    reg.add_bridge(&Bridge::new(n("ovsbr0"), BridgeKind::Ovs))
        .unwrap();
    reg.add_bridge(&Bridge::new(n("br900"), BridgeKind::Linux))
        .unwrap();
    let h = host(&nl, Some(&reg));
    let resolved = |script: &str, bridge: &str| {
        let mut st = Settings::read(
            &s.store(),
            &req(
                &["online"],
                &[("vif", "vif1.0"), ("XENBUS_PATH", "backend/vif/1/0")],
            )
            .unwrap(),
        )
        .unwrap();
        st.script = Some(script.to_owned());
        st.bridge = bridge.to_owned();
        resolve_script(&h, st).unwrap().script.unwrap()
    };
    assert_eq!(
        resolved("/etc/xen/scripts/vif-vifkit", "ovsbr0"),
        "vif-openvswitch"
    );
    assert_eq!(resolved("vif-vifkit", "ovsbr0.10"), "vif-openvswitch");
    assert_eq!(resolved("vif-vifkit", "br900"), "vif-bridge");
    assert_eq!(
        resolved("vif-vifkit", "anything.10:20:30"),
        "vif-openvswitch"
    );
    assert_eq!(resolved("vif-vifkit-route", "xenbr0"), "vif-route");
    assert_eq!(
        resolved("/etc/xen/scripts/vif-route-ifup", "xenbr0"),
        "vif-route"
    );
    assert_eq!(resolved("vif-vifkit-nat", "xenbr0"), "vif-nat");
    assert_eq!(
        resolved("/etc/xen/scripts/vif-bridge", "ovsbr0"),
        "/etc/xen/scripts/vif-bridge"
    );
}

/// `ip -br link show DEV` in the calling thread's namespace: `NAME STATE MAC ...`.
fn mac_of(dev: &str) -> String {
    let out = std::process::Command::new("ip")
        .args(["-br", "link", "show", "dev", dev])
        .output()
        .expect("ip runs");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(2)
        .unwrap_or("")
        .to_owned()
}

/// As Xen's vif-common.sh: a `vifname` in xenstore renames the PV backend at online
/// (and offline finds it under that name); the emulated twin joining a bridge gets the
/// MAC fe:ff:ff:ff:ff:ff (xen-network-common.sh's setup_virtual_bridge_port).
#[test]
#[ignore = "needs root: network namespaces"]
fn vifname_renames_the_backend_and_the_twin_gets_xens_mac() {
    in_netns("vifname_renames_the_backend", |nl| {
        let s = Scratch::new("vifname");
        let store = s.store();
        nl.ensure_bridge(
            &n("br0"),
            &BridgeConfig {
                mtu: None,
                stp: false,
                vlan_filtering: false,
            },
        )
        .unwrap();
        veth(nl, "vif9.0", "peer90");
        veth(nl, "web0-emu", "peer90e");
        store.write("backend/vif/9/0/bridge", "br0").unwrap();
        store.write("backend/vif/9/0/vifname", "web0").unwrap();
        let env = [("vif", "vif9.0"), ("XENBUS_PATH", "backend/vif/9/0")];
        run(
            &store,
            &host(nl, None),
            &req(&["online", "type_if=vif"], &env).unwrap(),
        )
        .unwrap();
        assert!(nl.link(&n("vif9.0")).unwrap().is_none(), "not renamed");
        let br = nl.link(&n("br0")).unwrap().unwrap();
        let web = nl.link(&n("web0")).unwrap().expect("renamed to web0");
        assert_eq!(web.master, Some(br.index));
        assert!(web.up);
        let twin_env = [
            ("vif", "vif9.0"),
            ("INTERFACE", "web0-emu"),
            ("XENBUS_PATH", "backend/vif/9/0"),
        ];
        let twin = req(&["add", "type_if=tap"], &twin_env).unwrap();
        run(&store, &host(nl, None), &twin).unwrap();
        assert_eq!(mac_of("web0-emu"), "fe:ff:ff:ff:ff:ff");
        assert_eq!(
            nl.link(&n("web0-emu")).unwrap().unwrap().master,
            Some(br.index)
        );
        let off = req(&["offline", "type_if=vif"], &env).unwrap();
        run(&store, &host(nl, None), &off).unwrap();
        assert_eq!(nl.link(&n("web0")).unwrap().unwrap().master, None);
        // A vifname the kernel cannot take is refused before anything changes.
        store.write("backend/vif/9/0/vifname", "a name").unwrap();
        let err = run(
            &store,
            &host(nl, None),
            &req(&["online", "type_if=vif"], &env).unwrap(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("vifname"), "{err}");
    });
}
