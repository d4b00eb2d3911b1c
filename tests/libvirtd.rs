//! vifkit's libvirt hooks under a real libvirtd and real QEMU guests (TCG, no disk),
//! each test with a private daemon of its own ([`common::libvirtd`]): its own network,
//! mount and PID namespaces, the hooks installed with `vifkit install-hooks --root`, the
//! registry named by the private `/etc/vifkit/vifkit.toml`. Guests are started and
//! destroyed with `virsh`; the tests look at the namespace's links, the registry, `virsh`'s
//! output and the hooks' log lines (their stderr, in libvirtd's debug log).
//!
//! Root only (namespaces, libvirtd): ignored unless asked for, as `tests/run.sh` does.

mod common;
use common::libvirtd::{bridge_network_xml, guest_xml, Libvirtd, Nic};

use std::collections::BTreeSet;

use registry::{Attachment, Registry, SqliteRegistry};
use translator::IfName;

/// The registry the daemon's hooks use, opened read-only for a look.
fn records(d: &Libvirtd) -> Vec<Attachment> {
    if !d.registry_path().exists() {
        return Vec::new();
    }
    SqliteRegistry::open_read_only(d.registry_path())
        .unwrap()
        .attachments()
        .unwrap()
}

fn claims(d: &Libvirtd, bridge: &str) -> usize {
    if !d.registry_path().exists() {
        return 0;
    }
    SqliteRegistry::open_read_only(d.registry_path())
        .unwrap()
        .bridge_claims(&IfName::new(bridge).unwrap())
        .unwrap()
        .len()
}

fn has_link(d: &Libvirtd, name: &str) -> bool {
    d.ns().link(name).is_some()
}

/// The namespace's links but `lo`.
fn links(d: &Libvirtd) -> BTreeSet<String> {
    d.ns()
        .links()
        .into_iter()
        .map(|l| l["ifname"].as_str().unwrap().to_owned())
        .filter(|n| n != "lo")
        .collect()
}

fn three_nics(bridge: &str, n: u8) -> Vec<Nic> {
    vec![
        Nic::bridge(bridge, &format!("52:54:00:00:{n:02x}:01"), "e1000"),
        Nic::bridge(bridge, &format!("52:54:00:00:{n:02x}:02"), "rtl8139"),
        Nic::bridge(bridge, &format!("52:54:00:00:{n:02x}:03"), "virtio"),
    ]
}

/// The guest's records match `virsh domiflist` (target dev, bridge, MAC), NIC by NIC.
fn assert_records_match(d: &Libvirtd, guest: &str) {
    let list = d.domiflist(guest);
    let mut recs: Vec<Attachment> = records(d)
        .into_iter()
        .filter(|a| a.domain_name.as_str() == guest)
        .collect();
    recs.sort_by_key(|a| a.devid);
    assert_eq!(recs.len(), list.len(), "{guest}: {recs:?} vs {list:?}");
    // A NIC on a libvirt network shows the network as its source.
    let networks = d.virsh_ok(&["net-list", "--all", "--name"]);
    let networks: Vec<&str> = networks.split_whitespace().collect();
    for (a, [dev, _kind, source, _model, mac]) in recs.iter().zip(&list) {
        assert_eq!(a.backend.as_str(), dev, "{guest}: {a:?} vs {list:?}");
        assert_eq!(a.mac.to_string(), *mac, "{guest}: {a:?} vs {list:?}");
        if !networks.contains(&source.as_str()) {
            assert_eq!(a.bridge.as_str(), source, "{guest}: {a:?} vs {list:?}");
        }
        assert_eq!(
            d.ns().link(dev).unwrap()["master"],
            a.bridge.as_str(),
            "{guest}: {dev} is not on {}",
            a.bridge
        );
    }
}

#[test]
#[ignore = "needs root: a private libvirtd in namespaces of the test's own"]
fn start_and_destroy_create_and_remove_a_registered_bridge() {
    let d = Libvirtd::start();
    d.vifkit_ok(&["bridge", "add", "br-new", "--creatable"]);
    d.define(&guest_xml("g1", &three_nics("br-new", 1)));
    assert!(!has_link(&d, "br-new"));

    d.start_guest("g1");
    assert!(has_link(&d, "br-new"), "prepare did not create br-new");
    assert_records_match(&d, "g1");
    assert_eq!(records(&d).len(), 3);
    assert_eq!(claims(&d, "br-new"), 0, "the records replace the claim");
    let log = d.hook_log();
    assert!(
        log.iter()
            .any(|l| l.contains("g1: prepared 3 interface(s)")),
        "{log:#?}"
    );

    d.destroy("g1");
    assert!(records(&d).is_empty(), "{:?}", records(&d));
    assert!(!has_link(&d, "br-new"), "br-new stayed: {:?}", d.hook_log());
    assert!(links(&d).is_empty(), "{:?}", links(&d));
    let log = d.hook_log();
    assert!(
        log.iter()
            .any(|l| l.contains("g1: removed bridge br-new (created by vifkit, now unused)")),
        "{log:#?}"
    );
}

/// A MAC another running guest has, and a bridge neither on the host nor registered:
/// `virsh start` fails with vifkit's message, once, and nothing stays behind.
#[test]
#[ignore = "needs root: a private libvirtd in namespaces of the test's own"]
fn a_mac_clash_and_an_unknown_bridge_are_refused_in_virsh_error() {
    let d = Libvirtd::start();
    d.ns().ip(&["link", "add", "br0", "type", "bridge"]);
    d.ns().ip(&["link", "set", "br0", "up"]);
    d.define(&guest_xml("a", &three_nics("br0", 1)));
    d.start_guest("a");
    // b's second NIC has a's first MAC.
    let mut nics = three_nics("br0", 2);
    nics[1].mac = "52:54:00:00:01:01".into();
    d.define(&guest_xml("b", &nics));
    let out = d.virsh(&["start", "b"]);
    assert_ne!(out.status, 0, "{out:?}");
    let why = "interface[1]: MAC 52:54:00:00:01:01 is already used by";
    assert_eq!(out.stderr.matches(why).count(), 1, "{}", out.stderr);
    assert!(
        !out.stderr.contains("vifkit-hook: error:"),
        "{}",
        out.stderr
    );
    assert!(d.virsh_ok(&["domstate", "b"]).contains("shut off"));

    d.define(&guest_xml(
        "c",
        &[Nic::bridge("br-nowhere", "52:54:00:00:03:01", "e1000")],
    ));
    let out = d.virsh(&["start", "c"]);
    assert_ne!(out.status, 0, "{out:?}");
    let why = "bridge br-nowhere does not exist";
    assert_eq!(out.stderr.matches(why).count(), 1, "{}", out.stderr);
    assert!(
        !out.stderr.contains("vifkit-hook: error:"),
        "{}",
        out.stderr
    );

    // Only a's records; no device of b's or c's left.
    let recs = records(&d);
    assert_eq!(recs.len(), 3, "{recs:?}");
    assert!(recs.iter().all(|a| a.domain_name.as_str() == "a"));
    assert_records_match(&d, "a");
    assert_eq!(links(&d).len(), 4, "{:?}", links(&d));
    d.destroy("a");
    assert!(records(&d).is_empty());
    assert_eq!(links(&d), BTreeSet::from(["br0".to_owned()]));
}

/// A libvirt network forwarding to a registered, creatable bridge: the network's `start`
/// creates it, a guest's stop keeps it while the network is active (saying why, in one
/// line), the next guest starts on it, the network's stop removes it; a bridge removed by
/// hand under an active network fails the next start in `port-created`, with vifkit's
/// message in virsh's error.
#[test]
#[ignore = "needs root: a private libvirtd in namespaces of the test's own"]
fn a_forward_bridge_network_keeps_its_bridge_while_active() {
    let d = Libvirtd::start();
    d.vifkit_ok(&["bridge", "add", "br-net", "--creatable"]);
    d.net_define(&bridge_network_xml("net", "br-net"));
    d.virsh_ok(&["net-start", "net"]);
    assert!(has_link(&d, "br-net"), "net-start did not create br-net");
    let nics = |n: u8| {
        vec![
            Nic::network("net", &format!("52:54:00:00:{n:02x}:01"), "e1000"),
            Nic::network("net", &format!("52:54:00:00:{n:02x}:02"), "virtio"),
        ]
    };
    d.define(&guest_xml("g1", &nics(1)));
    d.define(&guest_xml("g2", &nics(2)));

    d.start_guest("g1");
    assert_records_match(&d, "g1");
    assert!(records(&d).iter().all(|a| a.bridge.as_str() == "br-net"));
    let mark = d.hook_log().len();
    d.destroy("g1");
    assert!(records(&d).is_empty(), "{:?}", records(&d));
    assert!(
        has_link(&d, "br-net"),
        "g1's stop removed the bridge of the active network net: {:?}",
        d.hook_log_since(mark)
    );
    let kept: Vec<String> = d
        .hook_log_since(mark)
        .into_iter()
        .filter(|l| l.contains("br-net kept"))
        .collect();
    assert_eq!(
        kept,
        ["vifkit-hook: info: g1: bridge br-net kept: active libvirt network(s) net on it"]
    );
    d.start_guest("g2");
    assert_records_match(&d, "g2");
    d.destroy("g2");
    assert!(has_link(&d, "br-net"));

    d.virsh_ok(&["net-destroy", "net"]);
    assert!(!has_link(&d, "br-net"), "{:?}", d.hook_log());
    assert!(d
        .hook_log()
        .iter()
        .any(|l| l.contains("network net: removed bridge br-net (created by vifkit, now unused)")));

    // The bridge removed under the active network: port-created says so.
    d.virsh_ok(&["net-start", "net"]);
    d.ns().ip(&["link", "del", "br-net"]);
    let out = d.virsh(&["start", "g1"]);
    assert_ne!(out.status, 0, "{out:?}");
    let why = "port of guest g1: bridge br-net does not exist on this host";
    assert_eq!(out.stderr.matches(why).count(), 1, "{}", out.stderr);
    assert!(records(&d).is_empty(), "{:?}", records(&d));
    d.virsh_ok(&["net-destroy", "net"]);
    d.virsh_ok(&["net-start", "net"]);
    d.start_guest("g1");
    assert_records_match(&d, "g1");
    d.destroy("g1");
    d.virsh_ok(&["net-destroy", "net"]);
    assert!(links(&d).is_empty(), "{:?}", links(&d));
}

/// `prepare` counts only the NICs it prepared (those on a bridge), and says how many it
/// left to libvirt.
#[test]
#[ignore = "needs root: a private libvirtd in namespaces of the test's own"]
fn prepare_counts_only_the_nics_vifkit_prepares() {
    let d = Libvirtd::start();
    d.vifkit_ok(&["bridge", "add", "br-p", "--creatable"]);
    d.define(&guest_xml(
        "g",
        &[
            Nic::bridge("br-p", "52:54:00:00:05:01", "e1000"),
            Nic::user("52:54:00:00:05:02", "rtl8139"),
            Nic::bridge("br-p", "52:54:00:00:05:03", "virtio"),
        ],
    ));
    d.define(&guest_xml("u", &[Nic::user("52:54:00:00:06:01", "e1000")]));
    d.start_guest("g");
    d.start_guest("u");
    let lines: Vec<String> = d
        .hook_log()
        .into_iter()
        .filter(|l| l.contains("prepared"))
        .collect();
    assert_eq!(
        lines,
        [
            "vifkit-hook: info: g: prepared 2 interface(s), created bridge(s) br-p; 1 left to \
             libvirt",
            "vifkit-hook: info: u: prepared no interface: none on a bridge; 1 left to libvirt",
        ]
    );
    assert_eq!(records(&d).len(), 2, "{:?}", records(&d));
    d.destroy("g");
    d.destroy("u");
    assert!(records(&d).is_empty());
    assert!(links(&d).is_empty(), "{:?}", links(&d));
}

/// libvirtd restarted with a guest running: its `reconnect` hook keeps the records; a
/// guest killed while libvirtd was down is stopped when libvirtd comes back (its
/// `stopped` hook drops its records and the bridge only it used).
#[test]
#[ignore = "needs root: a private libvirtd in namespaces of the test's own"]
fn libvirtd_restart_reconnects_running_guests_and_cleans_up_dead_ones() {
    let d = Libvirtd::start();
    d.vifkit_ok(&["bridge", "add", "br-a", "--creatable"]);
    d.vifkit_ok(&["bridge", "add", "br-b", "--creatable"]);
    d.define(&guest_xml("alive", &three_nics("br-a", 1)));
    d.define(&guest_xml("dead", &three_nics("br-b", 2)));
    d.start_guest("alive");
    d.start_guest("dead");
    assert_eq!(records(&d).len(), 6);

    d.stop_daemon();
    d.kill_qemu("dead");
    let mark = d.hook_log().len();
    d.start_daemon();
    // libvirtd reconnects in the background: poll for the hooks' lines.
    d.poll("the reconnect and the dead guest's release", || {
        let log = d.hook_log_since(mark);
        log.iter().any(|l| l.contains("alive: reconnect: domain"))
            && log.iter().any(|l| l.contains("dead: removed bridge br-b"))
    });
    let log = d.hook_log_since(mark);
    assert!(
        log.iter()
            .any(|l| l.contains("alive: reconnect: domain") && l.contains("recorded 3 NIC(s)")),
        "{log:#?}"
    );
    assert!(d.virsh_ok(&["domstate", "alive"]).contains("running"));
    assert!(d.virsh_ok(&["domstate", "dead"]).contains("shut off"));
    assert_records_match(&d, "alive");
    assert_eq!(records(&d).len(), 3, "{:?}", records(&d));
    assert!(has_link(&d, "br-a"));
    assert!(!has_link(&d, "br-b"));

    d.destroy("alive");
    assert!(records(&d).is_empty());
    assert!(links(&d).is_empty(), "{:?}", links(&d));
}

/// `managedsave` stops the guest (its records dropped, its bridge removed); `start`
/// restores it through the `restore` filter and records it again.
#[test]
#[ignore = "needs root: a private libvirtd in namespaces of the test's own"]
fn managedsave_and_restore_keep_the_records_right() {
    let d = Libvirtd::start();
    d.vifkit_ok(&["bridge", "add", "br-s", "--creatable"]);
    d.define(&guest_xml("g", &three_nics("br-s", 1)));
    d.start_guest("g");
    assert_records_match(&d, "g");
    d.virsh_ok(&["managedsave", "g"]);
    assert!(d.virsh_ok(&["domstate", "g"]).contains("shut off"));
    assert!(records(&d).is_empty(), "{:?}", records(&d));
    assert!(!has_link(&d, "br-s"));
    let mark = d.hook_log().len();
    d.start_guest("g");
    assert!(d.virsh_ok(&["domstate", "g"]).contains("running"));
    assert!(has_link(&d, "br-s"));
    assert_records_match(&d, "g");
    assert_eq!(records(&d).len(), 3);
    let log = d.hook_log_since(mark);
    assert!(
        log.iter().any(|l| l.contains("g: prepared 3 interface(s)")),
        "{log:#?}"
    );
    let calls = d.hook_calls();
    assert!(
        calls.contains(&("g".to_owned(), "restore".to_owned())),
        "no restore hook: {calls:?}"
    );
    d.destroy("g");
    d.virsh_ok(&["managedsave-remove", "g"]);
    assert!(records(&d).is_empty());
    assert!(links(&d).is_empty(), "{:?}", links(&d));
}

/// Ten rounds of two guests started at once on one bridge that is missing: both start
/// every time (one creates it, the other's claim keeps it), and after both stop, it is
/// gone with no record or claim left.
#[test]
#[ignore = "needs root: a private libvirtd in namespaces of the test's own"]
fn two_guests_started_at_once_on_one_missing_bridge_ten_rounds() {
    let d = Libvirtd::start();
    d.vifkit_ok(&["bridge", "add", "br-c", "--creatable"]);
    d.define(&guest_xml("x", &three_nics("br-c", 1)));
    d.define(&guest_xml("y", &three_nics("br-c", 2)));
    for round in 0..10 {
        std::thread::scope(|s| {
            let a = s.spawn(|| d.virsh(&["start", "x"]));
            let b = s.spawn(|| d.virsh(&["start", "y"]));
            for out in [a.join().unwrap(), b.join().unwrap()] {
                assert_eq!(out.status, 0, "round {round}: {}", out.stderr);
            }
        });
        assert!(has_link(&d, "br-c"), "round {round}");
        assert_eq!(records(&d).len(), 6, "round {round}: {:?}", records(&d));
        assert_records_match(&d, "x");
        assert_records_match(&d, "y");
        std::thread::scope(|s| {
            let a = s.spawn(|| d.virsh(&["destroy", "x"]));
            let b = s.spawn(|| d.virsh(&["destroy", "y"]));
            for out in [a.join().unwrap(), b.join().unwrap()] {
                assert_eq!(out.status, 0, "round {round}: {}", out.stderr);
            }
        });
        assert!(records(&d).is_empty(), "round {round}: {:?}", records(&d));
        assert_eq!(claims(&d, "br-c"), 0, "round {round}");
        assert!(links(&d).is_empty(), "round {round}: {:?}", links(&d));
    }
}

/// Twenty start/destroy cycles leave nothing behind: no link, no record, no claim, and
/// the bridge is created and removed each time.
#[test]
#[ignore = "needs root: a private libvirtd in namespaces of the test's own"]
fn twenty_start_destroy_cycles_leak_nothing() {
    let d = Libvirtd::start();
    d.vifkit_ok(&["bridge", "add", "br-l", "--creatable"]);
    d.define(&guest_xml("g", &three_nics("br-l", 1)));
    for cycle in 0..20 {
        d.start_guest("g");
        assert_eq!(records(&d).len(), 3, "cycle {cycle}");
        d.destroy("g");
        assert!(records(&d).is_empty(), "cycle {cycle}: {:?}", records(&d));
        assert_eq!(claims(&d, "br-l"), 0, "cycle {cycle}");
        assert!(links(&d).is_empty(), "cycle {cycle}: {:?}", links(&d));
    }
    let log = d.hook_log();
    let count = |s: &str| log.iter().filter(|l| l.contains(s)).count();
    assert_eq!(
        count("g: prepared 3 interface(s), created bridge(s) br-l"),
        20
    );
    assert_eq!(count("g: removed bridge br-l"), 20);
    assert_eq!(count("warning"), 0, "{log:#?}");
}

/// A NIC with `<bandwidth>`: libvirt shapes the tap itself (htb with sfq under it), and
/// the guest starts and is recorded as any other. Needs the sfq qdisc.
#[test]
#[ignore = "needs root: a private libvirtd in namespaces of the test's own"]
fn kernel_with_sfq_a_guest_with_bandwidth_starts_and_is_recorded() {
    let d = Libvirtd::start();
    d.vifkit_ok(&["bridge", "add", "br-bw", "--creatable"]);
    let xml = guest_xml("g", &three_nics("br-bw", 1)).replacen(
        "<model type='e1000'/>",
        "<model type='e1000'/><bandwidth><inbound average='1000'/>\
         <outbound average='1000'/></bandwidth>",
        1,
    );
    d.define(&xml);
    let out = d.virsh(&["start", "g"]);
    assert_eq!(
        out.status,
        0,
        "{}: {}",
        common::netns::needs("the sfq qdisc", "sfq"),
        out.stderr
    );
    assert_records_match(&d, "g");
    d.destroy("g");
    assert!(records(&d).is_empty());
    assert!(links(&d).is_empty(), "{:?}", links(&d));
}
