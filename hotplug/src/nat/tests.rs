//! NAT mode tests: Xen's address rules against a directory xenstore, and seed 000's
//! `dolly` for real: a guest namespace behind its vif, an "outside" namespace behind an
//! uplink, and nftables masquerading between them.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;

use super::*;
use crate::xenstore::DirStore;
use crate::{run, Host};
use hostnet::netlink::testns::{in_netns, veth};
use hostnet::ovs::Ovs;

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("vifkit-nat-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        Scratch(d)
    }

    fn store(&self) -> DirStore {
        DirStore::new(self.0.join("xenstore"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn req(args: &[&str], env: &[(&str, &str)]) -> Request {
    let env: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    Request::from_env(&args, &|k| env.get(k).cloned()).unwrap()
}

fn host(nl: &Netlink) -> Host<'_> {
    static OVS: std::sync::OnceLock<Ovs> = std::sync::OnceLock::new();
    Host {
        nl,
        ovs: OVS.get_or_init(|| Ovs::with_db("unix:/nonexistent/vifkit-test.sock")),
        registry: None,
        log: &|_| {},
        hooks: None,
    }
}

fn n(s: &str) -> IfName {
    IfName::new(s).unwrap()
}

fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn plan(keys: &[(&str, &str)], path: &str) -> Result<Plan, HotplugError> {
    let s = Scratch::new(&format!("plan-{}", path.replace('/', "-")));
    let store = s.store();
    for (k, v) in keys {
        store.write(&format!("{path}/{k}"), v).unwrap();
    }
    let r = req(&["online"], &[("vif", "vif7.0"), ("XENBUS_PATH", path)]);
    let settings = Settings::read(&store, &r)?;
    Plan::new(&store, &r, &settings)
}

#[test]
fn addresses_follow_xen() {
    let p = plan(&[("ip", "10.0.0.2")], "backend/vif/7/0").unwrap();
    assert_eq!(
        (p.router, p.guests),
        (v4("10.0.0.129"), vec![v4("10.0.0.2")])
    );
    let p = plan(&[("ip", "10.0.0.2 10.0.1.7/24")], "backend/vif/7/1").unwrap();
    assert_eq!(p.guests, vec![v4("10.0.0.2"), v4("10.0.1.7")]);
    assert_eq!(p.router, v4("10.0.0.129"));
    // No `ip`: 10.<domid / 256>.<domid % 256>.<handle + 1>, router +127.
    let p = plan(
        &[("frontend-id", "300"), ("handle", "1")],
        "backend/vif/300/1",
    )
    .unwrap();
    assert_eq!(
        (p.router, p.guests),
        (v4("10.1.44.129"), vec![v4("10.1.44.2")])
    );
    let p = plan(&[], "backend/vif/7/0").unwrap();
    assert_eq!(
        (p.router, p.guests),
        (v4("10.0.7.128"), vec![v4("10.0.7.1")])
    );
    for (keys, want) in [
        (
            &[("ip", "10.0.0.200")][..],
            "No router address follows from guest address 10.0.0.200",
        ),
        (
            &[("ip", "2001:db8::2")][..],
            "vif-nat handles IPv4 guest addresses only, not 2001:db8::2",
        ),
        (
            &[("handle", "255")][..],
            "Device 255 of domain 7 has no default NAT address: set `ip`",
        ),
    ] {
        let err = plan(keys, "backend/vif/7/2").unwrap_err().to_string();
        assert!(err.starts_with(want), "{keys:?}: {err}");
    }
    assert!(matches!(
        plan(&[("frontend-id", "x")], "backend/vif/7/3"),
        Err(HotplugError::Setting {
            key: "frontend-id",
            ..
        })
    ));
}

/// Runs `cmd ARGS` (test set-up and probes only), returning whether it succeeded.
fn cmd(prog: &str, args: &[&str]) -> bool {
    Command::new(prog)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{prog} runs: {e}"))
        .status
        .success()
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip runs");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Named network namespaces, removed on drop.
struct Namespaces(Vec<String>);

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in &self.0 {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// One ping, from dom0's namespace or from a named one.
fn ping(from: Option<&str>, to: &str) -> bool {
    match from {
        None => cmd("ping", &["-c", "1", "-W", "2", to]),
        Some(ns) => cmd(
            "ip",
            &["netns", "exec", ns, "ping", "-c", "1", "-W", "2", to],
        ),
    }
}

/// Everything the NAT mode may change, to compare before and after.
#[derive(Debug, PartialEq)]
struct Trace {
    addresses: Vec<(IpAddr, u8)>,
    routes: Vec<(IpAddr, u8)>,
    up: bool,
    proxy_arp: bool,
    forward: bool,
    ruleset: String,
}

fn trace(nl: &Netlink, vif: &IfName) -> Trace {
    let ruleset = Command::new("nft")
        .args(["list", "ruleset"])
        .output()
        .expect("nft runs");
    Trace {
        addresses: nl
            .addresses(vif)
            .unwrap()
            .into_iter()
            .filter(|(a, _)| a.is_ipv4())
            .collect(),
        routes: nl
            .routes(vif)
            .unwrap()
            .into_iter()
            .filter(|(a, _)| a.is_ipv4())
            .collect(),
        up: nl.link(vif).unwrap().unwrap().up,
        proxy_arp: proxy_arp(vif).unwrap(),
        forward: ip_forward().unwrap(),
        ruleset: String::from_utf8_lossy(&ruleset.stdout).into_owned(),
    }
}

/// Runs `f` in a fresh namespace, where `nft` must work (it fails the test otherwise).
fn in_nat_netns(test: &str, f: impl FnOnce(&Netlink) + Send) {
    in_netns(test, |nl| {
        if let Err(e) = Nft::system().check() {
            panic!("{test}: nft does not work: {e} (install nftables: packaging/install-deps.sh)");
        }
        f(nl);
    });
}

const DOLLY: &[(&str, &str)] = &[("vif", "vif7.0"), ("XENBUS_PATH", "backend/vif/7/0")];

/// Seed 000's dolly (`ip=10.0.0.2,script=vif-nat`, no `gatewaydev`) in domain 7.
fn dolly_store(s: &Scratch) -> DirStore {
    let store = s.store();
    for (k, v) in [
        ("script", "vif-nat"),
        ("ip", "10.0.0.2"),
        ("mac", "00:16:3e:4f:94:b0"),
        ("frontend-id", "7"),
        ("handle", "0"),
    ] {
        store.write(&format!("backend/vif/7/0/{k}"), v).unwrap();
    }
    store
}

/// Dolly's vif (`vif7.0`) with the guest's end in namespace `guest`: 10.0.0.2, its
/// default route via the router address vif-nat gives the vif (10.0.0.129).
fn dolly_guest(nl: &Netlink, guest: &str) -> IfName {
    let vif = veth(nl, "vif7.0", "dolly0");
    ip(&["netns", "add", guest]);
    ip(&["link", "set", "dolly0", "netns", guest]);
    for args in [
        &["link", "set", "lo", "up"][..],
        &["addr", "add", "10.0.0.2/32", "dev", "dolly0"],
        &["link", "set", "dolly0", "up"],
        &["route", "add", "10.0.0.129", "dev", "dolly0"],
        &["route", "add", "default", "via", "10.0.0.129"],
    ] {
        let mut a = vec!["-n", guest];
        a.extend_from_slice(args);
        ip(&a);
    }
    vif
}

/// Dolly: dom0 reaches the guest through its vif; the guest reaches a host in
/// "outside" (behind dom0's uplink, with no route back to 10.0.0.0/8) only because
/// dom0 masquerades it; online twice leaves one of everything; offline takes it all
/// away and the guest is cut off again.
#[test]
#[ignore = "needs root: network namespaces and nftables"]
fn dolly_is_routed_and_masqueraded() {
    in_nat_netns("dolly_is_routed_and_masqueraded", |nl| {
        let s = Scratch::new("dolly");
        let store = dolly_store(&s);
        let pid = std::process::id();
        let (guest, outside) = (format!("vk-dolly-{pid}"), format!("vk-out-{pid}"));
        let _ns = Namespaces(vec![guest.clone(), outside.clone()]);
        ip(&["link", "set", "lo", "up"]);
        let vif = dolly_guest(nl, &guest);
        // dom0's uplink 192.0.2.1 to a host 192.0.2.2 that knows only its own subnet.
        veth(nl, "up0", "up0peer");
        ip(&["netns", "add", &outside]);
        ip(&["link", "set", "up0peer", "netns", &outside]);
        ip(&["addr", "add", "192.0.2.1/24", "dev", "up0"]);
        ip(&["link", "set", "up0", "up"]);
        ip(&[
            "-n",
            &outside,
            "addr",
            "add",
            "192.0.2.2/24",
            "dev",
            "up0peer",
        ]);
        ip(&["-n", &outside, "link", "set", "up0peer", "up"]);
        ip(&["-n", &outside, "link", "set", "lo", "up"]);
        assert!(ping(None, "192.0.2.2"), "the uplink itself does not work");
        assert!(!ping(None, "10.0.0.2"), "dolly is reachable before online");

        run(&store, &host(nl), &req(&["online"], DOLLY)).unwrap();
        assert_eq!(
            store
                .read("backend/vif/7/0/hotplug-status")
                .unwrap()
                .as_deref(),
            Some("connected")
        );
        let once = trace(nl, &vif);
        assert_eq!(once.addresses, vec![(IpAddr::V4(v4("10.0.0.129")), 32)]);
        assert_eq!(once.routes, vec![(IpAddr::V4(v4("10.0.0.2")), 32)]);
        assert!(once.up && once.proxy_arp && once.forward, "{once:?}");
        assert!(ping(None, "10.0.0.2"), "dom0 cannot reach dolly");
        assert!(
            ping(Some(&guest), "192.0.2.2"),
            "dolly's ping to the outside host gets no answer: not masqueraded"
        );
        let rules = Nft::system().list().unwrap().rules;
        assert_eq!(rules.len(), 1, "{rules:?}");
        assert_eq!(
            rules[0].rule,
            Some(Masquerade {
                vif: vif.clone(),
                source: v4("10.0.0.2"),
                out: None
            })
        );
        // The rule saw the echo request (replies are translated by conntrack).
        assert!(rules[0].packets >= 1, "{rules:?}");

        // Online again: nothing new.
        run(&store, &host(nl), &req(&["online"], DOLLY)).unwrap();
        let twice = trace(nl, &vif);
        assert_eq!(
            (&twice.addresses, &twice.routes, twice.up, twice.proxy_arp),
            (&once.addresses, &once.routes, once.up, once.proxy_arp)
        );
        assert_eq!(Nft::system().list().unwrap().rules.len(), 1);

        run(&store, &host(nl), &req(&["offline"], DOLLY)).unwrap();
        let after = trace(nl, &vif);
        assert!(
            after.addresses.is_empty() && after.routes.is_empty(),
            "{after:?}"
        );
        assert!(!after.up && !after.proxy_arp, "{after:?}");
        assert!(after.ruleset.trim().is_empty(), "{}", after.ruleset);
        assert!(
            !ping(None, "10.0.0.2"),
            "dolly is still reachable after offline"
        );
        // Offline again (and with the device gone): nothing to do, no error.
        run(&store, &host(nl), &req(&["offline"], DOLLY)).unwrap();
        ip(&["link", "del", "vif7.0"]);
        run(&store, &host(nl), &req(&["offline"], DOLLY)).unwrap();
    });
}

/// Offline of one NAT vif leaves another's rule; `netdev` (xl's `gatewaydev`) names the
/// device masqueraded traffic leaves through.
#[test]
#[ignore = "needs root: network namespaces and nftables"]
fn offline_leaves_other_vifs_rules() {
    in_nat_netns("offline_leaves_other_vifs_rules", |nl| {
        let s = Scratch::new("two");
        let store = dolly_store(&s);
        veth(nl, "vif7.0", "dolly0");
        veth(nl, "vif8.0", "peer80");
        veth(nl, "up0", "up0peer");
        store.write("backend/vif/8/0/script", "vif-nat").unwrap();
        store.write("backend/vif/8/0/ip", "10.0.0.3").unwrap();
        let other = [
            ("vif", "vif8.0"),
            ("XENBUS_PATH", "backend/vif/8/0"),
            ("netdev", "up0"),
        ];
        run(&store, &host(nl), &req(&["online"], DOLLY)).unwrap();
        run(&store, &host(nl), &req(&["online"], &other)).unwrap();
        assert_eq!(Nft::system().list().unwrap().rules.len(), 2);
        run(&store, &host(nl), &req(&["offline"], DOLLY)).unwrap();
        let rules: Vec<_> = Nft::system()
            .list()
            .unwrap()
            .rules
            .into_iter()
            .filter_map(|r| r.rule)
            .collect();
        assert_eq!(
            rules,
            vec![Masquerade {
                vif: n("vif8.0"),
                source: v4("10.0.0.3"),
                out: Some(n("up0"))
            }]
        );
        assert_eq!(
            nl.routes(&n("vif8.0")).unwrap(),
            vec![(IpAddr::V4(v4("10.0.0.3")), 32)]
        );
        run(&store, &host(nl), &req(&["offline"], &other)).unwrap();
        assert!(!Nft::system().list().unwrap().table);
    });
}

/// Runs online for dolly expecting a failure, and checks it left no trace.
fn fails_without_trace(nl: &Netlink, store: &DirStore, vif: &IfName) -> HotplugError {
    let before = trace(nl, vif);
    let err = run(store, &host(nl), &req(&["online"], DOLLY)).unwrap_err();
    assert_eq!(trace(nl, vif), before, "online left a trace after: {err}");
    assert_eq!(
        store
            .read("backend/vif/7/0/hotplug-status")
            .unwrap()
            .as_deref(),
        Some("error")
    );
    err
}

/// dolly's address already routed through another device: the route step fails after
/// the address, proxy_arp, forwarding and the link were done, and all of that is undone.
#[test]
#[ignore = "needs root: network namespaces and nftables"]
fn a_route_taken_elsewhere_leaves_no_trace() {
    in_nat_netns("a_route_taken_elsewhere_leaves_no_trace", |nl| {
        let s = Scratch::new("taken");
        let store = dolly_store(&s);
        let vif = veth(nl, "vif7.0", "dolly0");
        veth(nl, "other0", "otherpeer");
        ip(&["link", "set", "other0", "up"]);
        ip(&["route", "add", "10.0.0.2/32", "dev", "other0"]);
        let err = fails_without_trace(nl, &store, &vif);
        assert!(
            matches!(err, HotplugError::Nat(NatError::RouteTaken(a)) if a == v4("10.0.0.2")),
            "{err}"
        );
        assert_eq!(
            nl.routes(&n("other0")).unwrap(),
            vec![(IpAddr::V4(v4("10.0.0.2")), 32)],
            "the other device's route was touched"
        );
    });
}

/// nft refusing the change (a `postrouting` chain of the wrong type already in a table
/// named `vifkit`): the last step fails and everything before it is undone; the foreign
/// table stays as it was.
#[test]
#[ignore = "needs root: network namespaces and nftables"]
fn an_nft_failure_leaves_no_trace() {
    in_nat_netns("an_nft_failure_leaves_no_trace", |nl| {
        let s = Scratch::new("nftfail");
        let store = dolly_store(&s);
        let vif = veth(nl, "vif7.0", "dolly0");
        assert!(cmd("nft", &["add", "table", "ip", "vifkit"]));
        assert!(cmd(
            "nft",
            &["add chain ip vifkit postrouting { type filter hook postrouting priority 0; }"]
        ));
        let err = fails_without_trace(nl, &store, &vif);
        assert!(
            matches!(
                err,
                HotplugError::Nat(NatError::Nft(NftError::Failed { .. }))
            ),
            "{err}"
        );
        let msg = store
            .read("backend/vif/7/0/hotplug-error")
            .unwrap()
            .unwrap();
        assert!(
            msg.starts_with("nft could not add the masquerade rules"),
            "{msg}"
        );
    });
}

/// The emulated twin of a NAT NIC is left alone, as Xen's vif-nat does (it acts on
/// online/offline only).
#[test]
#[ignore = "needs root: network namespaces and nftables"]
fn the_emulated_twin_is_left_alone() {
    in_nat_netns("the_emulated_twin_is_left_alone", |nl| {
        let s = Scratch::new("twin");
        let store = dolly_store(&s);
        let twin = veth(nl, "vif7.0-emu", "emupeer");
        let env = [
            ("vif", "vif7.0"),
            ("INTERFACE", "vif7.0-emu"),
            ("XENBUS_PATH", "backend/vif/7/0"),
        ];
        let before = trace(nl, &twin);
        run(&store, &host(nl), &req(&["add", "type_if=tap"], &env)).unwrap();
        assert_eq!(trace(nl, &twin), before);
        run(&store, &host(nl), &req(&["remove", "type_if=tap"], &env)).unwrap();
        assert_eq!(trace(nl, &twin), before);
    });
}
