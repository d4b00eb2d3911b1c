//! `vifkit serve` on a private `dbus-daemon`, with `busctl` and `gdbus` as the clients:
//! every method and signal, errors by name, a pairing written by another process as a
//! signal, persistence across a restart, AccessDenied for `nobody`, a registry locked
//! by a "hook", a client that vanishes mid-call, `Ensure` in a network namespace of the
//! test's own and reconciling with libvirt's `test:///default`.

mod common;
use common::netns::Netns;

use std::process::{Child, Command, Stdio};

use registry::{Attachment, DomainName, Driver, Registry, SqliteRegistry};

// The harness, in tests/dbus/harness.rs: Rust looks for the modules of an inline
// `mod dbus` in tests/dbus/.
mod dbus {
    pub mod harness;
}
use dbus::harness::*;

#[test]
#[ignore = "needs root: changes through the service, clients as nobody"]
fn every_method_answers_and_refuses_by_name() {
    let bus = Bus::start();
    let _serve = bus.serve(&[], &[]);
    // NicModels1.
    let pv = bus.call("NicModels1", "List", &["s", "pv"]);
    assert_eq!(
        pv[0],
        serde_json::json!([["netfront", "Xen paravirtual NIC (netfront)", false]])
    );
    let (name, msg) = bus.error("NicModels1.List", &["kvm"]);
    assert_eq!(name, "org.vifkit.Error.InvalidArgs");
    assert_eq!(msg, "Unknown guest type `kvm` (expected hvm, pv or pvh)");
    // Translator1.
    let spec = "mac=00:16:3e:01:02:03,bridge=xenbr0";
    let r = bus.call("Translator1", "VifToXml", &["ss", spec, "pv"]);
    let xml = r[0].as_str().unwrap();
    assert!(
        xml.contains("00:16:3e:01:02:03") && xml.contains("xenbr0"),
        "{xml}"
    );
    assert_eq!(r[1], serde_json::json!([]));
    let r = bus.call("Translator1", "XmlToVif", &["ss", xml, "pv"]);
    assert!(r[0].as_str().unwrap().contains("bridge=xenbr0"), "{r}");
    let (name, msg) = bus.error("Translator1.VifToXml", &["model=e1000", "pv"]);
    assert_eq!(name, "org.vifkit.Error.InvalidSpec");
    assert!(msg.starts_with("vif[0]: "), "{msg}");
    let (name, _) = bus.error("Translator1.XmlToVif", &["<interface", ""]);
    assert_eq!(name, "org.vifkit.Error.InvalidSpec");
    let (name, _) = bus.error("Translator1.VifToXml", &[&"x".repeat(70_000), "pv"]);
    assert_eq!(name, "org.vifkit.Error.TooLarge");
    // Bridges1.
    bus.call(
        "Bridges1",
        "Register",
        &[
            "sa{sv}", "vkbr0", "2", "mtu", "u", "9000", "stp", "b", "true",
        ],
    );
    let list = bus.call("Bridges1", "List", &[]);
    assert_eq!(list[0][0][0], "vkbr0");
    let props = &list[0][0][1];
    assert_eq!(field(props, "mtu"), 9000);
    assert_eq!(field(props, "stp"), true);
    assert_eq!(field(props, "kind"), "linux");
    assert_eq!(field(props, "present"), false);
    assert_eq!(field(props, "ports"), &serde_json::json!([]));
    let (name, _) = bus.error("Bridges1.Register", &["a/b", "{}"]);
    assert_eq!(name, "org.vifkit.Error.InvalidArgs");
    let (name, msg) = bus.error("Bridges1.Register", &["vkbr1", "{'colour': <'red'>}"]);
    assert_eq!(name, "org.vifkit.Error.InvalidArgs");
    assert!(msg.starts_with("Unknown option `colour`"), "{msg}");
    let (name, msg) = bus.error("Bridges1.Register", &["vkbr1", "{'mtu': <'big'>}"]);
    assert_eq!(name, "org.vifkit.Error.InvalidArgs");
    assert_eq!(msg, "Option `mtu` must be an integer (q or u), not s");
    let (name, _) = bus.error("Bridges1.Unregister", &["nosuch"]);
    assert_eq!(name, "org.vifkit.Error.NotFound");
    let (name, _) = bus.error("Bridges1.Ensure", &["nosuch"]);
    assert_eq!(name, "org.vifkit.Error.NotFound");
    // Pairings1, written by this process as a hook would; the service answers from
    // what it has read, which it says with the signal.
    let monitor = bus.monitor();
    let reg = SqliteRegistry::open(bus.db()).unwrap();
    reg.add_bridge(&br("br0")).unwrap();
    let mut with_model = nic(5, "00:16:3e:00:00:05");
    with_model.model = Some(registry::NicModelName::new("rtl8139").unwrap());
    reg.record(&with_model).unwrap();
    monitor.next("PairingAdded");
    let all = bus.call("Pairings1", "List", &[]);
    assert_eq!(all[0].as_array().unwrap().len(), 1);
    let one = bus.call("Pairings1", "Lookup", &["suu", "xen", "5", "0"]);
    assert_eq!(field(&one[0], "backend"), "vif5.0");
    assert_eq!(field(&one[0], "model"), "rtl8139");
    assert_eq!(field(&one[0], "emulated"), "vif5.0-emu");
    assert_eq!(field(&one[0], "domid"), 5);
    let by_dev = bus.call("Pairings1", "LookupByDevice", &["s", "vif5.0-emu"]);
    assert_eq!(field(&by_dev[0], "mac"), "00:16:3e:00:00:05");
    let by_mac = bus.call("Pairings1", "LookupByMac", &["s", "00:16:3E:00:00:05"]);
    assert_eq!(field(&by_mac[0], "bridge"), "br0");
    let (name, _) = bus.error("Pairings1.Lookup", &["xen", "9", "0"]);
    assert_eq!(name, "org.vifkit.Error.NotFound");
    let (name, _) = bus.error("Pairings1.LookupByMac", &["nonsense"]);
    assert_eq!(name, "org.vifkit.Error.InvalidArgs");
    let (name, _) = bus.error("Pairings1.LookupByDevice", &["no/such"]);
    assert_eq!(name, "org.vifkit.Error.InvalidArgs");
    // Arguments of the wrong types (gdbus and busctl check them first; dbus-send does not).
    let out = Command::new("dbus-send")
        .args([
            "--print-reply",
            &format!("--bus={}", bus.address),
            "--dest=org.vifkit",
        ])
        .args([
            "/org/vifkit",
            "org.vifkit.Pairings1.Lookup",
            "string:xen",
            "string:five",
            "uint32:0",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("Error org.freedesktop.DBus.Error.InvalidArgs: "),
        "{err}"
    );
    // In use while a NIC is attached.
    let (name, msg) = bus.error("Bridges1.Unregister", &["br0"]);
    assert_eq!(name, "org.vifkit.Error.InUse", "{msg}");
    // nobody reads, but may not change anything.
    let list = bus.call_as(true, "Bridges1", "List", &[]);
    assert_eq!(list[0].as_array().unwrap().len(), 2);
    let one = bus.call_as(true, "Pairings1", "Lookup", &["suu", "xen", "5", "0"]);
    assert_eq!(field(&one[0], "backend"), "vif5.0");
    for (method, args) in [
        ("Bridges1.Register", vec!["vkbr2", "{}"]),
        ("Bridges1.Unregister", vec!["vkbr0"]),
        ("Bridges1.Ensure", vec!["vkbr0"]),
    ] {
        let (name, msg) = bus.error_as(true, method, &args);
        assert_eq!(name, "org.freedesktop.DBus.Error.AccessDenied", "{method}");
        assert!(msg.contains("uid 65534 is not authorized"), "{msg}");
    }
    bus.call("Bridges1", "Unregister", &["s", "vkbr0"]);
    let list = bus.call("Bridges1", "List", &[]);
    assert_eq!(list[0].as_array().unwrap().len(), 1);
}

#[test]
#[ignore = "needs root: changes through the service"]
fn changes_by_other_processes_arrive_as_signals() {
    let bus = Bus::start();
    let _serve = bus.serve(&[], &[]);
    let monitor = bus.monitor();
    // Another vifkit process.
    let out = Command::new(BIN)
        .arg("--db")
        .arg(bus.db())
        .args(["bridge", "add", "br0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(monitor.next("BridgeAdded"), "br0");
    // A direct registry write, as a hook in another process makes it.
    let reg = SqliteRegistry::open(bus.db()).unwrap();
    reg.record(&nic(7, "00:16:3e:00:00:07")).unwrap();
    let added = monitor.next("PairingAdded");
    assert_eq!(field(&added, "backend"), "vif7.0");
    assert_eq!(field(&added, "domid"), 7);
    // Whoever heard the signal finds the pairing.
    let one = bus.call("Pairings1", "Lookup", &["suu", "xen", "7", "0"]);
    assert_eq!(field(&one[0], "backend"), "vif7.0");
    bus.call(
        "Bridges1",
        "Register",
        &["sa{sv}", "br0", "1", "mtu", "u", "1500"],
    );
    assert_eq!(monitor.next("BridgeChanged"), "br0");
    reg.remove_attachment(Driver::Xen, 7, 0).unwrap();
    let removed = monitor.next("PairingRemoved");
    assert_eq!(field(&removed, "mac"), "00:16:3e:00:00:07");
    let (name, _) = bus.error("Pairings1.Lookup", &["xen", "7", "0"]);
    assert_eq!(name, "org.vifkit.Error.NotFound");
    bus.call("Bridges1", "Unregister", &["s", "br0"]);
    assert_eq!(monitor.next("BridgeRemoved"), "br0");
}

#[test]
#[ignore = "needs root: changes through the service"]
fn registrations_survive_a_restart() {
    let bus = Bus::start();
    let serve = bus.serve(&[], &[]);
    bus.call(
        "Bridges1",
        "Register",
        &["sa{sv}", "vkbr3", "1", "creatable", "b", "true"],
    );
    let status = serve.stop();
    assert!(status.success(), "SIGTERM: {status}");
    let _serve = bus.serve(&[], &[]);
    let list = bus.call("Bridges1", "List", &[]);
    assert_eq!(list[0][0][0], "vkbr3");
    assert_eq!(field(&list[0][0][1], "creatable"), true);
}

#[test]
#[ignore = "needs root: changes through the service"]
fn a_locked_registry_and_a_vanishing_client() {
    let bus = Bus::start();
    let serve = bus.serve(&[], &["--busy-timeout-ms", "300"]);
    let lock = registry::WriterLock::take(bus.db()).unwrap();
    // Reads answer beside the "hook"'s write lock, also while writes wait for it
    // (holding connections of the service's own); a write gives up with Busy.
    let monitor = bus.monitor();
    let waiting: Vec<Child> = (0..6)
        .map(|i| {
            Command::new("busctl")
                .args(bus.busctl_args("Bridges1", "Register", &["sa{sv}", &format!("w{i}"), "0"]))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 6 {
        let call = monitor.wait("the waiting Registers", |v| {
            v["type"] == "method_call" && v["member"] == "Register"
        });
        seen.insert(call["payload"]["data"][0].as_str().unwrap().to_owned());
    }
    let list = bus.call("Bridges1", "List", &[]);
    let pairs = bus.call("Pairings1", "List", &[]);
    assert_eq!(pairs[0], serde_json::json!([]));
    for mut w in waiting {
        // Busy after three attempts of 300 ms.
        assert!(!w.wait().unwrap().success());
    }
    assert_eq!(list[0], serde_json::json!([]));
    let (name, msg) = bus.error("Bridges1.Register", &["vkbr4", "{}"]);
    assert_eq!(name, "org.vifkit.Error.Busy", "{msg}");
    // A client that goes away while its call waits for the lock: killed once the bus
    // has passed the call on.
    let mut client = Command::new("busctl")
        .args(bus.busctl_args("Bridges1", "Register", &["sa{sv}", "vkbr5", "0"]))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    monitor.wait("the Register call", |v| {
        v["type"] == "method_call"
            && v["member"] == "Register"
            && v["payload"]["data"][0] == "vkbr5"
    });
    client.kill().unwrap();
    client.wait().unwrap();
    lock.release().unwrap();
    bus.call("Bridges1", "Register", &["sa{sv}", "vkbr4", "0"]);
    let list = bus.call("Bridges1", "List", &[]);
    let names: Vec<&str> = list[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b[0].as_str().unwrap())
        .collect();
    assert!(names.contains(&"vkbr4"), "{names:?}");
    assert!(serve.stop().success());
}

#[test]
#[ignore = "needs root: changes through the service, a network namespace"]
fn ensure_makes_the_bridge_in_a_namespace() {
    let bus = Bus::start();
    let ns = Netns::new();
    let _serve = bus.serve(&["ip", "netns", "exec", ns.name()], &[]);
    let monitor = bus.monitor();
    bus.call(
        "Bridges1",
        "Register",
        &[
            "sa{sv}",
            "vkbr9",
            "2",
            "creatable",
            "b",
            "true",
            "mtu",
            "u",
            "1400",
        ],
    );
    assert_eq!(monitor.next("BridgeAdded"), "vkbr9");
    assert!(ns.link("vkbr9").is_none());
    bus.call("Bridges1", "Ensure", &["s", "vkbr9"]);
    assert_eq!(monitor.next("BridgeChanged"), "vkbr9");
    let link = ns.link("vkbr9").expect("the bridge exists");
    assert_eq!(link["linkinfo"]["info_kind"], "bridge");
    assert_eq!(link["mtu"], 1400);
    let list = bus.call("Bridges1", "List", &[]);
    assert_eq!(field(&list[0][0][1], "present"), true);
    // Not creatable and missing: refused, nothing made.
    bus.call("Bridges1", "Register", &["sa{sv}", "vkbr8", "0"]);
    let (name, _) = bus.error("Bridges1.Ensure", &["vkbr8"]);
    assert_eq!(name, "org.vifkit.Error.NotFound");
    assert!(ns.link("vkbr8").is_none());
}

/// `Pairings1.Counters`: each recorded guest NIC device's traffic, read from the host
/// when the property is read; the guest's pings arrive as the vif's rx, and a device
/// that is no guest NIC is not listed.
#[test]
#[ignore = "needs root: network namespaces"]
fn counters_property_reports_each_guest_nics_traffic() {
    let bus = Bus::start();
    let ns = Netns::new();
    let guest = Netns::new();
    ns.ip(&[
        "link", "add", "vif7.0", "type", "veth", "peer", "name", "eth0",
    ]);
    ns.ip(&["link", "set", "eth0", "netns", guest.name()]);
    ns.ip(&["addr", "add", "10.78.0.1/24", "dev", "vif7.0"]);
    ns.ip(&["link", "set", "vif7.0", "up"]);
    guest.ip(&["addr", "add", "10.78.0.2/24", "dev", "eth0"]);
    guest.ip(&["link", "set", "eth0", "up"]);
    let _serve = bus.serve(&["ip", "netns", "exec", ns.name()], &[]);
    let monitor = bus.monitor();
    let out = Command::new(BIN)
        .arg("--db")
        .arg(bus.db())
        .args(["bridge", "add", "br0"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    SqliteRegistry::open(bus.db())
        .unwrap()
        .record(&nic(7, "00:16:3e:00:00:07"))
        .unwrap();
    assert_eq!(field(&monitor.next("PairingAdded"), "backend"), "vif7.0");
    let ping = guest
        .cmd("ping")
        .args([
            "-q",
            "-n",
            "-c",
            "5",
            "-i",
            "0.01",
            "-s",
            "500",
            "-W",
            "5",
            "10.78.0.1",
        ])
        .output()
        .unwrap();
    assert!(ping.status.success(), "{ping:?}");

    let out = bus.run(
        false,
        "busctl",
        &[
            format!("--address={}", bus.address),
            "--json=short".into(),
            "get-property".into(),
            "org.vifkit".into(),
            "/org/vifkit".into(),
            "org.vifkit.Pairings1".into(),
            "Counters".into(),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let devices = v["data"].as_object().unwrap();
    assert_eq!(devices.keys().collect::<Vec<_>>(), ["vif7.0"], "{v}");
    let c = &devices["vif7.0"];
    assert!(c["rx_packets"].as_u64().unwrap() >= 5, "{v}");
    assert!(c["rx_bytes"].as_u64().unwrap() >= 5 * 528, "{v}");
    assert!(c["tx_packets"].as_u64().unwrap() >= 5, "{v}");
    assert_eq!(c["rx_errors"], 0);
}

/// A registry file moved over the one `serve` has open (a backup put back by hand):
/// `serve` reopens it. Its answers and signals follow the new file, and its writes go
/// into it, not into the file that is gone.
#[test]
#[ignore = "needs root: changes through the service"]
fn a_replaced_registry_file_is_reopened() {
    let bus = Bus::start();
    let reg = SqliteRegistry::open(bus.db()).unwrap();
    reg.add_bridge(&br("br0")).unwrap();
    drop(reg);
    let serve = bus.serve(&[], &[]);
    let monitor = bus.monitor();
    let list = |bus: &Bus| -> Vec<String> {
        bus.call("Bridges1", "List", &[])[0]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b[0].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(list(&bus), ["br0"]);
    let other = bus.db().with_file_name("other.db");
    let reg = SqliteRegistry::open(&other).unwrap();
    reg.add_bridge(&br("brB")).unwrap();
    drop(reg);
    std::fs::rename(&other, bus.db()).unwrap();
    // The watcher wakes for the rename and tells what differs.
    assert_eq!(monitor.next("BridgeAdded"), "brB");
    assert_eq!(monitor.next("BridgeRemoved"), "br0");
    assert_eq!(list(&bus), ["brB"]);
    bus.call("Bridges1", "Register", &["sa{sv}", "brX", "0"]);
    assert_eq!(monitor.next("BridgeAdded"), "brX");
    let now = SqliteRegistry::open_read_only(bus.db()).unwrap();
    let names: Vec<String> = now
        .bridges()
        .unwrap()
        .iter()
        .map(|b| b.name.to_string())
        .collect();
    assert_eq!(names, ["brB", "brX"]);
    assert!(serve.stop().success());
}

#[cfg(feature = "libvirt")]
#[test]
fn running_libvirt_domains_become_pairings() {
    let bus = Bus::start_as_anyone();
    // test:///default runs domain `test` (id 1) with one NIC on network `default`,
    // whose bridge is virbr0.
    let reg = SqliteRegistry::open(bus.db()).unwrap();
    reg.add_bridge(&br("virbr0")).unwrap();
    // A QEMU guest gone without its `stopped` hook: its tap is not on the host, and
    // libvirt does not list it. Its record is stale.
    let ghost = Attachment::qemu(
        DomainName::new("ghost").unwrap(),
        2,
        0,
        "52:54:00:00:00:02".parse().unwrap(),
        translator::IfName::new("virbr0").unwrap(),
        translator::IfName::new("vkghost2").unwrap(),
    );
    reg.record(&ghost).unwrap();
    drop(reg);
    std::env::set_var(
        "VIFKIT_LIBVIRT_HELPER",
        env!("CARGO_BIN_EXE_vifkit-libvirt"),
    );
    let serve = bus.serve(&[], &["--libvirt", "test:///default"]);
    // libvirt's test driver stands in for QEMU.
    let one = bus.call("Pairings1", "Lookup", &["suu", "qemu", "1", "0"]);
    assert_eq!(field(&one[0], "domain"), "test");
    assert_eq!(field(&one[0], "driver"), "qemu");
    assert_eq!(field(&one[0], "backend"), "testnet0");
    assert_eq!(field(&one[0], "mac"), "aa:bb:cc:dd:ee:ff");
    assert_eq!(field(&one[0], "bridge"), "virbr0");
    assert_eq!(field(&one[0], "state"), "active");
    let (name, _) = bus.error("Pairings1.Lookup", &["qemu", "2", "0"]);
    assert_eq!(name, "org.vifkit.Error.NotFound");
    assert!(
        serve.said.iter().any(|l| l
            == "vifkit serve: dropped the stale record of QEMU domain \"ghost\" (id 2) device 0 \
                (vkghost2): its domain is not running (libvirt says)"),
        "{:#?}",
        serve.said
    );
    assert!(
        serve.said.iter().any(|l| l
            == "vifkit serve: 1 running domain(s) at test:///default: 1 pairing(s) recorded, 1 \
                dropped"),
        "{:#?}",
        serve.said
    );
    assert!(serve.stop().success());
}

/// A second `vifkit serve` on the same bus neither takes nor queues for org.vifkit: it
/// says so and exits 1, and the first keeps the name; nor can anyone else replace it.
#[test]
fn a_second_serve_does_not_take_the_name() {
    let bus = Bus::start_as_anyone();
    let first = bus.serve(&[], &[]);
    let owner = |bus: &Bus| {
        bus.call_on(
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            "GetNameOwner",
            &["s", "org.vifkit"],
        )[0]
        .as_str()
        .unwrap()
        .to_owned()
    };
    let before = owner(&bus);
    let other_db = bus.db().with_file_name("other.db");
    let mut second = Command::new(BIN)
        .env_remove("VIFKIT_DB")
        .arg("--db")
        .arg(&other_db)
        .args(["serve", "--address", &bus.address])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let said = lines_of(second.stderr.take().unwrap());
    // It must give up by itself; one still running owns or waits for the name.
    let end = std::time::Instant::now() + DEADLINE;
    let status = loop {
        if let Some(s) = second.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > end {
            let _ = second.kill();
            let _ = second.wait();
            panic!(
                "the second serve still runs: {:?}",
                said.try_iter().collect::<Vec<_>>()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let err = said.iter().collect::<Vec<_>>().join("\n");
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains("org.vifkit is already owned on the bus at")
            && err.contains("another vifkit serve is running there"),
        "{err}"
    );
    assert_eq!(owner(&bus), before);
    // RequestName(org.vifkit, REPLACE_EXISTING | DO_NOT_QUEUE) by anyone else: 3, Exists.
    let r = bus.call_on(
        "org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus",
        "RequestName",
        &["su", "org.vifkit", "6"],
    );
    assert_eq!(r[0], 3, "{r}");
    assert_eq!(owner(&bus), before);
    assert!(first.stop().success());
}

/// Every method of every org.vifkit interface, as introspected, refuses a call with
/// one argument more than it takes.
#[test]
fn every_method_checks_its_signature() {
    let bus = Bus::start_as_anyone();
    let _serve = bus.serve(&[], &[]);
    let xml = bus.run(
        false,
        "busctl",
        &[
            format!("--address={}", bus.address),
            "--xml-interface".into(),
            "introspect".into(),
            "org.vifkit".into(),
            "/org/vifkit".into(),
        ],
    );
    assert!(xml.status.success(), "{xml:?}");
    let xml = String::from_utf8(xml.stdout).unwrap();
    let mut checked = Vec::new();
    for (iface, method, ins) in introspected_methods(&xml) {
        if !iface.starts_with("org.vifkit.") {
            continue;
        }
        let mut args = vec![format!("{ins}s")];
        for t in split_signature(&ins) {
            args.push(
                match t.as_str() {
                    "s" => "x",
                    "u" | "q" | "a{sv}" => "0",
                    "b" => "false",
                    other => panic!("{iface}.{method}: no sample value for {other}"),
                }
                .to_owned(),
            );
        }
        args.push("extra".into());
        let mut call = vec![
            format!("--address={}", bus.address),
            "call".into(),
            "org.vifkit".into(),
            "/org/vifkit".into(),
            iface.clone(),
            method.clone(),
        ];
        call.extend(args);
        let out = bus.run(false, "busctl", &call);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{iface}.{method} took an extra argument"
        );
        assert!(
            err.contains(&format!("Signature mismatch: got `({ins}s)`"))
                || err.contains("Signature mismatch: got `s`, expected ``"),
            "{iface}.{method}: {err}"
        );
        checked.push(format!("{iface}.{method}"));
    }
    assert!(
        checked.contains(&"org.vifkit.Bridges1.List".to_owned()),
        "{checked:?}"
    );
    assert!(checked.len() >= 10, "{checked:?}");
}

/// The object model: `GetManagedObjects` shows the registered bridges and recorded
/// NICs; registrations, changes and removals by another process (the CLI, a hook's
/// direct write) and through `Bridge2` arrive as `InterfacesAdded`, `PropertiesChanged`
/// and `InterfacesRemoved`; a bridge made on the host shows as `Present` with its
/// `Ports`; `nobody` may read but not `Set` or `Unregister`.
#[test]
#[ignore = "needs root: changes through the service, a network namespace, nobody"]
fn objects_follow_the_registry_and_the_host() {
    let bus = Bus::start();
    let ns = Netns::new();
    let reg = SqliteRegistry::open(bus.db()).unwrap();
    reg.add_bridge(&br("br0")).unwrap();
    let mut five = nic(5, "00:16:3e:00:00:05");
    five.model = Some(registry::NicModelName::new("rtl8139").unwrap());
    reg.record(&five).unwrap();
    let _serve = bus.serve(&["ip", "netns", "exec", ns.name()], &[]);
    let objects = bus.managed_objects();
    let b = &objects["/org/vifkit/bridges/br0"]["org.vifkit.Bridge2"];
    assert_eq!(field(b, "Name"), "br0", "{objects}");
    assert_eq!(field(b, "Kind"), "linux");
    assert_eq!(field(b, "Mtu"), 0);
    assert_eq!(field(b, "Uplink"), "");
    assert_eq!(field(b, "Present"), false);
    assert_eq!(field(b, "Ports"), &serde_json::json!([]));
    assert_eq!(b["Ports"]["type"], "as");
    assert_eq!(b["Vlan"]["type"], "q");
    let n = &objects["/org/vifkit/nics/xen_5_0"]["org.vifkit.Nic2"];
    assert_eq!(field(n, "Driver"), "xen", "{objects}");
    assert_eq!(field(n, "Guest"), "guest");
    assert_eq!(field(n, "DomainId"), 5);
    assert_eq!(field(n, "Device"), 0);
    assert_eq!(field(n, "Mac"), "00:16:3e:00:00:05");
    assert_eq!(field(n, "Backend"), "vif5.0");
    assert_eq!(field(n, "Emulated"), "vif5.0-emu");
    assert_eq!(field(n, "Model"), "rtl8139");
    assert_eq!(field(n, "Bridge"), "br0");
    assert_eq!(field(n, "BridgeObject"), "/org/vifkit/bridges/br0");
    assert_eq!(n["BridgeObject"]["type"], "o");
    assert_eq!(field(n, "Vlan"), 0);
    assert_eq!(field(n, "State"), "prepared");
    // Not on the (namespace's) host: no counters.
    assert_eq!(field(n, "Counters"), &serde_json::json!({}));
    assert_eq!(n["Counters"]["type"], "a{st}");
    // GetManagedObjects writes its reply itself: it says what GetAll says.
    for (path, iface) in [
        ("/org/vifkit/bridges/br0", "org.vifkit.Bridge2"),
        ("/org/vifkit/nics/xen_5_0", "org.vifkit.Nic2"),
    ] {
        let all = bus.call_on(
            "org.vifkit",
            path,
            "org.freedesktop.DBus.Properties",
            "GetAll",
            &["s", iface],
        );
        assert_eq!(all[0], objects[path][iface], "{path}");
    }

    let monitor = bus.monitor();
    let vifkit = |args: &[&str]| {
        let out = Command::new(BIN)
            .arg("--db")
            .arg(bus.db())
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
    };
    // Another process registers a bridge.
    vifkit(&["bridge", "add", "br-x"]);
    let added = monitor.wait("InterfacesAdded for br-x", |v| {
        v["member"] == "InterfacesAdded" && v["path"] == "/org/vifkit"
    })["payload"]["data"]
        .clone();
    assert_eq!(added[0], "/org/vifkit/bridges/br_2dx", "{added}");
    assert_eq!(field(&added[1]["org.vifkit.Bridge2"], "Name"), "br-x");
    let path = "/org/vifkit/bridges/br_2dx";
    // ... and changes it.
    vifkit(&["bridge", "set", "br-x", "--mtu", "9000"]);
    let changed = monitor.properties_changed(path);
    assert_eq!(changed[0], "org.vifkit.Bridge2");
    assert_eq!(
        changed[1],
        serde_json::json!({"Mtu": {"type": "u", "data": 9000}})
    );
    // Bridge2.Set: only the keys given change.
    bus.call_on(
        "org.vifkit",
        path,
        "org.vifkit.Bridge2",
        "Set",
        &["a{sv}", "1", "stp", "b", "true"],
    );
    let changed = monitor.properties_changed(path);
    assert_eq!(
        changed[1],
        serde_json::json!({"Stp": {"type": "b", "data": true}})
    );
    let (name, msg) = bus.error_at(false, path, "Bridge2.Set", &["{'colour': <'red'>}"]);
    assert_eq!(name, "org.vifkit.Error.InvalidArgs");
    assert!(msg.starts_with("Unknown option `colour`"), "{msg}");
    // nobody reads, but may not change anything.
    for (method, args) in [
        ("Bridge2.Set", vec!["{'mtu': <uint32 1500>}"]),
        ("Bridge2.Unregister", vec![]),
    ] {
        let (name, msg) = bus.error_at(true, path, method, &args);
        assert_eq!(name, "org.freedesktop.DBus.Error.AccessDenied", "{method}");
        assert!(msg.contains("uid 65534 is not authorized"), "{msg}");
    }
    // The bridge made on the host, with a port: Present and Ports follow.
    ns.ip(&["link", "add", "br-x", "type", "bridge"]);
    ns.ip(&[
        "link", "add", "vkp0", "type", "veth", "peer", "name", "vkp1",
    ]);
    ns.ip(&["link", "set", "vkp0", "master", "br-x"]);
    // In one signal or two, as the host's changes and the service's readings fall.
    let seen = std::cell::RefCell::new(serde_json::Map::new());
    monitor.wait("Present and Ports of br-x", |v| {
        if v["path"] != path || v["member"] != "PropertiesChanged" {
            return false;
        }
        let mut seen = seen.borrow_mut();
        for (k, val) in v["payload"]["data"][1].as_object().unwrap() {
            seen.insert(k.clone(), val["data"].clone());
        }
        seen.get("Present") == Some(&serde_json::json!(true))
            && seen.get("Ports") == Some(&serde_json::json!(["vkp0"]))
    });
    // A NIC recorded by a "hook", changed, dropped.
    let mut seven = nic(7, "00:16:3e:00:00:07");
    seven.bridge = translator::IfName::new("br-x").unwrap();
    reg.record(&seven).unwrap();
    let added = monitor.wait("InterfacesAdded for NIC 7", |v| {
        v["member"] == "InterfacesAdded" && v["payload"]["data"][0] == "/org/vifkit/nics/xen_7_0"
    })["payload"]["data"][1]["org.vifkit.Nic2"]
        .clone();
    assert_eq!(field(&added, "BridgeObject"), path, "{added}");
    assert_eq!(field(&added, "Mac"), "00:16:3e:00:00:07");
    // Its backend on the host: Counters has every key (read at most a second late).
    ns.ip(&[
        "link", "add", "vif7.0", "type", "veth", "peer", "name", "vkp7",
    ]);
    let end = std::time::Instant::now() + DEADLINE;
    let counters = loop {
        let out = bus.run(
            false,
            "busctl",
            &[
                format!("--address={}", bus.address),
                "--json=short".into(),
                "get-property".into(),
                "org.vifkit".into(),
                "/org/vifkit/nics/xen_7_0".into(),
                "org.vifkit.Nic2".into(),
                "Counters".into(),
            ],
        );
        assert!(out.status.success(), "{out:?}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        if v["data"].as_object().is_some_and(|m| !m.is_empty()) || std::time::Instant::now() > end {
            break v["data"].clone();
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let mut keys: Vec<&String> = counters.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "rx_bytes",
            "rx_dropped",
            "rx_errors",
            "rx_packets",
            "tx_bytes",
            "tx_dropped",
            "tx_errors",
            "tx_packets"
        ],
        "{counters}"
    );
    let mut seven_b = seven.clone();
    seven_b.mac = "00:16:3e:00:00:77".parse().unwrap();
    reg.record(&seven_b).unwrap();
    let changed = monitor.properties_changed("/org/vifkit/nics/xen_7_0");
    assert_eq!(changed[0], "org.vifkit.Nic2");
    assert_eq!(
        changed[1],
        serde_json::json!({"Mac": {"type": "s", "data": "00:16:3e:00:00:77"}})
    );
    reg.remove_attachment(Driver::Xen, 7, 0).unwrap();
    let removed = monitor.wait("InterfacesRemoved for NIC 7", |v| {
        v["member"] == "InterfacesRemoved" && v["path"] == "/org/vifkit"
    })["payload"]["data"]
        .clone();
    assert_eq!(
        removed,
        serde_json::json!(["/org/vifkit/nics/xen_7_0", ["org.vifkit.Nic2"]])
    );
    // Bridge2.Unregister.
    bus.call_on("org.vifkit", path, "org.vifkit.Bridge2", "Unregister", &[]);
    let removed = monitor.wait("InterfacesRemoved for br-x", |v| {
        v["member"] == "InterfacesRemoved" && v["path"] == "/org/vifkit"
    })["payload"]["data"]
        .clone();
    assert_eq!(removed, serde_json::json!([path, ["org.vifkit.Bridge2"]]));
    // Only the objects: not the nodes between (/org/vifkit/bridges), as zbus's own
    // ObjectManager would list them.
    let objects = bus.managed_objects();
    let paths: Vec<&String> = objects.as_object().unwrap().keys().collect();
    assert_eq!(
        paths,
        ["/org/vifkit/bridges/br0", "/org/vifkit/nics/xen_5_0"],
        "{objects}"
    );
}

/// Translator2 through the real service: warnings and errors as `(code, nic_index,
/// key, value, message)`, InvalidSpec's message the first error's, `Check` answering
/// the errors as a reply, and a whole xl config.
#[test]
fn translator2_gives_structured_diagnostics() {
    let bus = Bus::start_as_anyone();
    let _serve = bus.serve(&[], &[]);
    let r = bus.call(
        "Translator2",
        "VifToXml",
        &["ss", "mac=00:16:3e:01:02:03,bridge=xenbr0,devid=3", "pv"],
    );
    assert!(r[0].as_str().unwrap().contains("xenbr0"), "{r}");
    assert_eq!(
        r[1],
        serde_json::json!([[
            "dropped-key",
            0,
            "devid",
            "",
            "devid=3: libvirt numbers NICs by their order: dropped"
        ]])
    );
    let (name, msg) = bus.error("Translator2.VifToXml", &["mac=zz", "pv"]);
    assert_eq!(name, "org.vifkit.Error.InvalidSpec");
    let r = bus.call("Translator2", "Check", &["sss", "vif", "mac=zz", "pv"]);
    assert_eq!(r[0], false, "{r}");
    let e = &r[1][0];
    assert_eq!(
        (&e[0], &e[1], &e[2], &e[3]),
        (
            &serde_json::json!("bad-mac"),
            &serde_json::json!(0),
            &serde_json::json!("mac"),
            &serde_json::json!("zz")
        ),
        "{r}"
    );
    assert_eq!(e[4], msg.as_str());
    assert_eq!(r[2], serde_json::json!([]));
    let xml = bus.call("Translator2", "VifToXml", &["ss", "bridge=br1", "hvm"])[0]
        .as_str()
        .unwrap()
        .to_owned();
    let r = bus.call("Translator2", "XmlToVif", &["ss", &xml, ""]);
    assert_eq!(
        r[0][0].as_str().map(|s| s.contains("bridge=br1")),
        Some(true),
        "{r}"
    );
    let cfg = "name = \"g\"\ntype = \"hvm\"\nvif = [ 'mac=00:16:3e:00:00:01,bridge=xenbr0',\n        'bridge=br1,devid=4' ]\n";
    let r = bus.call("Translator2", "CfgToXml", &["ss", cfg, ""]);
    assert_eq!(
        r[0].as_str().unwrap().matches("<interface").count(),
        2,
        "{r}"
    );
    assert_eq!(r[1][0][0], "dropped-key", "{r}");
    assert_eq!(r[1][0][1], 1, "{r}");
    let (name, msg) = bus.error("Translator2.CfgToXml", &["vif = [ 'a'\n", ""]);
    assert_eq!(name, "org.vifkit.Error.InvalidSpec");
    assert!(msg.starts_with("Line "), "{msg}");
    let (name, _) = bus.error("Translator2.Check", &["json", "", ""]);
    assert_eq!(name, "org.vifkit.Error.InvalidArgs");
}

/// The shipped introspection files (packaging/dbus/interfaces/, which install-service
/// installs under /usr/share/dbus-1/interfaces/), by interface name.
fn interface_files() -> std::collections::BTreeMap<String, String> {
    let dir = common::root().join("packaging/dbus/interfaces");
    let mut out = std::collections::BTreeMap::new();
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let iface = name
            .strip_suffix(".xml")
            .unwrap_or_else(|| panic!("{name}"));
        out.insert(iface.to_owned(), std::fs::read_to_string(&path).unwrap());
    }
    out
}

/// The `org.vifkit.*` interfaces of the top node of introspection XML, each as its tags
/// in order, whitespace trimmed, without comments. Comments are documentation (the
/// service's come from its Rust doc comments and are left out of the per-object
/// interfaces, which repeat for every NIC), whitespace is layout: neither is part of
/// the interface. Everything else (every method, argument with its name, type and
/// direction, signal, property with its access, annotation) must match.
fn vifkit_interfaces(xml: &str) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut text = xml.to_owned();
    while let Some(start) = text.find("<!--") {
        let end = text[start..].find("-->").expect("a comment ends") + start + 3;
        text.replace_range(start..end, "");
    }
    let mut out = std::collections::BTreeMap::new();
    let mut depth = 0;
    let mut current: Option<(String, Vec<String>)> = None;
    for piece in text.split('<').skip(1) {
        let tag = format!("<{}", piece.split('>').next().unwrap().trim());
        let tag = tag.split_whitespace().collect::<Vec<_>>().join(" ") + ">";
        if tag.starts_with("<!DOCTYPE") {
            continue;
        }
        if tag.starts_with("<node") {
            if !tag.ends_with("/>") {
                depth += 1;
            }
            continue;
        }
        if tag == "</node>" {
            depth -= 1;
            continue;
        }
        if depth != 1 {
            continue;
        }
        if let Some(name) = tag
            .strip_prefix("<interface name=\"")
            .and_then(|r| r.strip_suffix("\">"))
        {
            current = Some((name.to_owned(), Vec::new()));
        } else if tag == "</interface>" {
            let (name, tags) = current.take().expect("an interface was open");
            if name.starts_with("org.vifkit.") {
                out.insert(name, tags);
            }
        } else if let Some((_, tags)) = current.as_mut() {
            tags.push(tag);
        }
    }
    out
}

/// Every interface the live service serves (at /org/vifkit and on a bridge and a NIC
/// object) is described by its file in packaging/dbus/interfaces/, exactly (but for
/// comments and whitespace), and every file describes a live interface.
#[test]
fn interface_files_match_the_live_service() {
    let bus = Bus::start_as_anyone();
    let reg = SqliteRegistry::open(bus.db()).unwrap();
    reg.add_bridge(&br("br0")).unwrap();
    reg.record(&nic(5, "00:16:3e:00:00:05")).unwrap();
    drop(reg);
    let _serve = bus.serve(&[], &[]);
    let mut live = std::collections::BTreeMap::new();
    for path in [
        "/org/vifkit",
        "/org/vifkit/bridges/br0",
        "/org/vifkit/nics/xen_5_0",
    ] {
        let out = bus.run(
            false,
            "gdbus",
            &[
                "introspect".into(),
                "--address".into(),
                bus.address.clone(),
                "--dest".into(),
                "org.vifkit".into(),
                "--object-path".into(),
                path.into(),
                "--xml".into(),
            ],
        );
        assert!(out.status.success(), "{path}: {out:?}");
        live.extend(vifkit_interfaces(&String::from_utf8(out.stdout).unwrap()));
    }
    let files = interface_files();
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        live.keys().collect::<Vec<_>>(),
        "packaging/dbus/interfaces/ and the live service"
    );
    for (name, text) in &files {
        let shipped = vifkit_interfaces(text);
        assert_eq!(
            shipped.keys().collect::<Vec<_>>(),
            [name],
            "{name}.xml describes {name} only"
        );
        assert_eq!(shipped[name], live[name], "{name}.xml vs the live service");
    }
}

/// A C client generated from the interface files with gdbus-codegen names every
/// method, compiles against GIO, and calls the live service: Translator2.VifToXml with
/// its diagnostics, and a bridge object's properties.
#[test]
fn gdbus_codegen_makes_a_working_client() {
    for (p, package) in [
        ("gdbus-codegen", "libglib2.0-dev-bin"),
        ("pkg-config", "pkg-config"),
        ("cc", "build-essential"),
    ] {
        assert!(
            have(p),
            "{p} is missing: install {package} (packaging/install-deps.sh)"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<std::path::PathBuf> = interface_files()
        .keys()
        .map(|n| common::root().join(format!("packaging/dbus/interfaces/{n}.xml")))
        .collect();
    let out = Command::new("gdbus-codegen")
        .current_dir(dir.path())
        .args([
            "--generate-c-code",
            "vifkit",
            "--c-namespace",
            "Vifkit",
            "--interface-prefix",
            "org.vifkit.",
        ])
        .args(&files)
        .output()
        .unwrap();
    assert!(out.status.success(), "gdbus-codegen: {out:?}");
    let header = std::fs::read_to_string(dir.path().join("vifkit.h")).unwrap();
    for f in [
        "vifkit_bridges1_call_register_sync",
        "vifkit_bridges1_call_ensure_sync",
        "vifkit_pairings1_call_lookup_by_mac_sync",
        "vifkit_nic_models1_call_list_sync",
        "vifkit_translator1_call_vif_to_xml_sync",
        "vifkit_translator2_call_cfg_to_xml_sync",
        "vifkit_translator2_call_check_sync",
        "vifkit_bridge2_call_set_sync",
        "vifkit_bridge2_call_unregister_sync",
        "vifkit_bridge2_get_ports",
        "vifkit_nic2_get_bridge_object",
        "vifkit_nic2_get_counters",
    ] {
        assert!(header.contains(f), "vifkit.h has no {f}");
    }
    std::fs::write(
        dir.path().join("client.c"),
        r#"#include <stdio.h>
#include "vifkit.h"

int main(int argc, char **argv) {
    GError *err = NULL;
    GDBusConnection *c = g_dbus_connection_new_for_address_sync(argv[1],
        G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
        G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION, NULL, NULL, &err);
    if (!c) { fprintf(stderr, "connect: %s\n", err->message); return 1; }
    VifkitTranslator2 *t = vifkit_translator2_proxy_new_sync(c, G_DBUS_PROXY_FLAGS_NONE,
        "org.vifkit", "/org/vifkit", NULL, &err);
    if (!t) { fprintf(stderr, "proxy: %s\n", err->message); return 1; }
    gchar *xml = NULL;
    GVariant *warnings = NULL;
    if (!vifkit_translator2_call_vif_to_xml_sync(t, "bridge=xenbr0,devid=3", "pv", &xml,
            &warnings, NULL, &err)) {
        fprintf(stderr, "VifToXml: %s\n", err->message);
        return 1;
    }
    gchar *shown = g_variant_print(warnings, FALSE);
    printf("warnings %s\n", shown);
    VifkitBridge2 *b = vifkit_bridge2_proxy_new_sync(c, G_DBUS_PROXY_FLAGS_NONE,
        "org.vifkit", "/org/vifkit/bridges/vkcg0", NULL, &err);
    if (!b) { fprintf(stderr, "bridge: %s\n", err->message); return 1; }
    printf("bridge %s %s present=%d\n", vifkit_bridge2_get_name(b),
        vifkit_bridge2_get_kind(b), vifkit_bridge2_get_present(b));
    return 0;
}
"#,
    )
    .unwrap();
    let flags = Command::new("pkg-config")
        .args(["--cflags", "--libs", "gio-2.0", "gio-unix-2.0"])
        .output()
        .unwrap();
    assert!(
        flags.status.success(),
        "GIO's headers are missing: install libglib2.0-dev (packaging/install-deps.sh)"
    );
    let flags = String::from_utf8(flags.stdout).unwrap();
    let out = Command::new("cc")
        .current_dir(dir.path())
        .args(["-Wall", "-o", "client", "client.c", "vifkit.c"])
        .args(flags.split_whitespace())
        .output()
        .unwrap();
    assert!(out.status.success(), "cc: {out:?}");

    let bus = Bus::start_as_anyone();
    // A name no host has, so that Present is false.
    SqliteRegistry::open(bus.db())
        .unwrap()
        .add_bridge(&br("vkcg0"))
        .unwrap();
    let _serve = bus.serve(&[], &[]);
    let out = Command::new(dir.path().join("client"))
        .arg(&bus.address)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "client: {out:?}");
    assert_eq!(
        stdout,
        "warnings [('dropped-key', 0, 'devid', '', 'devid=3: libvirt numbers NICs by their \
         order: dropped')]\nbridge vkcg0 linux present=0\n"
    );
}

/// (interface, method, in-argument signature) of each method in introspection XML.
fn introspected_methods(xml: &str) -> Vec<(String, String, String)> {
    let attr = |tag: &str, name: &str| -> Option<String> {
        let at = tag.find(&format!("{name}=\""))? + name.len() + 2;
        Some(tag[at..].split('"').next()?.to_owned())
    };
    let mut out = Vec::new();
    let (mut iface, mut method) = (String::new(), None::<(String, String)>);
    for tag in xml.split('<').map(|t| t.split('>').next().unwrap_or("")) {
        if tag.starts_with("interface ") {
            iface = attr(tag, "name").unwrap();
        } else if tag.starts_with("method ") {
            method = Some((attr(tag, "name").unwrap(), String::new()));
            if tag.ends_with('/') {
                out.push((iface.clone(), method.take().unwrap().0, String::new()));
            }
        } else if tag.starts_with("arg ") {
            if let Some((_, sig)) = method.as_mut() {
                if attr(tag, "direction").as_deref() != Some("out") {
                    sig.push_str(&attr(tag, "type").unwrap());
                }
            }
        } else if tag == "/method" {
            let (m, sig) = method.take().unwrap();
            out.push((iface.clone(), m, sig));
        }
    }
    out
}

/// The complete types of a signature made of basic types and `a{sv}`.
fn split_signature(sig: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = sig;
    while !rest.is_empty() {
        let n = if rest.starts_with("a{") {
            rest.find('}').unwrap() + 1
        } else {
            1
        };
        out.push(rest[..n].to_owned());
        rest = &rest[n..];
    }
    out
}
