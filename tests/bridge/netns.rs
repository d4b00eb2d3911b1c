//! `bridge ensure`, `show` and `vif-script` for real, each inside a network namespace
//! the test creates (root: ignored unless asked for).

use crate::common::netns::{self, Netns};
use crate::*;

/// `vifkit --db DB ARGS...` inside a namespace.
trait Vifkit {
    fn vifkit(&self, db: &Path, args: &[&str]) -> Out;
}

impl Vifkit for Netns {
    fn vifkit(&self, db: &Path, args: &[&str]) -> Out {
        output(self.cmd(BIN).arg("--db").arg(db).args(args))
    }
}

fn is_up(link: &Value) -> bool {
    link["flags"]
        .as_array()
        .is_some_and(|f| f.iter().any(|x| x == "UP"))
}

/// MTU, STP state and up, as `ip -d -j link` shows a bridge.
fn bridge_settings(link: &Value) -> (u64, u64, bool) {
    (
        link["mtu"].as_u64().unwrap(),
        link["linkinfo"]["info_data"]["stp_state"].as_u64().unwrap(),
        is_up(link),
    )
}

#[test]
#[ignore = "needs root: a network namespace"]
fn ensure_creates_then_changes_nothing() {
    let ns = Netns::new();
    let db = db();
    let db = &db.path;
    ok(vifkit(
        db,
        &[
            "bridge",
            "add",
            "br0",
            "--mtu",
            "9000",
            "--stp",
            "on",
            "--creatable",
        ],
    ));
    assert_eq!(
        ok(ns.vifkit(db, &["bridge", "ensure", "br0"])),
        "br0: created\n"
    );
    let link = ns.link("br0").expect("br0 exists");
    assert_eq!(link["linkinfo"]["info_kind"], "bridge");
    assert_eq!(bridge_settings(&link), (9000, 1, true));

    let before = ns.links();
    assert_eq!(
        ok(ns.vifkit(db, &["bridge", "ensure", "br0"])),
        "br0: unchanged\n"
    );
    let after = ns.links();
    let settings = |ls: &[Value]| {
        ls.iter()
            .map(|l| (l["ifname"].clone(), l["mtu"].clone(), l["flags"].clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(settings(&before), settings(&after));
    assert_eq!(ns.bridges(), ["br0"]);

    // Drift is put right: STP off and the bridge down by hand.
    ns.ip(&[
        "link",
        "set",
        "br0",
        "down",
        "type",
        "bridge",
        "stp_state",
        "0",
    ]);
    assert_eq!(
        ok(ns.vifkit(db, &["bridge", "ensure", "br0"])),
        "br0: updated\n"
    );
    assert_eq!(bridge_settings(&ns.link("br0").unwrap()), (9000, 1, true));
}

#[test]
#[ignore = "needs root: a network namespace"]
fn ensure_refusals_change_nothing_on_the_host() {
    let ns = Netns::new();
    let db = db();
    let db = &db.path;
    ok(vifkit(db, &["bridge", "add", "br0"]));
    ok(vifkit(
        db,
        &["bridge", "add", "br1", "--uplink", "nosuch0", "--creatable"],
    ));
    let lines = refused(ns.vifkit(db, &["bridge", "ensure", "br0"]));
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].contains("br0 does not exist") && lines[0].contains("--creatable"),
        "{lines:?}"
    );
    let lines = refused(ns.vifkit(db, &["bridge", "ensure", "br1"]));
    assert_eq!(
        lines,
        ["error: Bridge br1: its uplink nosuch0 does not exist on this host"]
    );
    let lines = refused(ns.vifkit(db, &["bridge", "ensure", "nosuch"]));
    assert_eq!(lines, ["error: Bridge nosuch is not in the registry"]);
    assert_eq!(ns.bridges(), Vec::<String>::new());
    // A device of another kind under the bridge's name is refused, and kept.
    ns.ip(&["link", "add", "br0", "type", "veth", "peer", "name", "x0"]);
    let lines = refused(ns.vifkit(db, &["bridge", "ensure", "br0"]));
    assert!(lines[0].contains("not a bridge"), "{lines:?}");
    assert!(ns.link("br0").is_some());
}

#[test]
#[ignore = "needs root: a network namespace"]
fn ensure_enslaves_the_uplink() {
    let ns = Netns::new();
    let db = db();
    let db = &db.path;
    ns.ip(&["link", "add", "up0", "type", "veth", "peer", "name", "up1"]);
    ok(vifkit(
        db,
        &["bridge", "add", "br0", "--uplink", "up0", "--creatable"],
    ));
    assert_eq!(
        ok(ns.vifkit(db, &["bridge", "ensure", "br0"])),
        "br0: created\nup0: updated (port of br0)\n"
    );
    let up0 = ns.link("up0").unwrap();
    assert_eq!(up0["master"], "br0");
    assert!(is_up(&up0));
    assert_eq!(
        ok(ns.vifkit(db, &["bridge", "ensure", "br0"])),
        "br0: unchanged\nup0: unchanged (port of br0)\n"
    );
}

/// A namespace with a veth `up1` and the registered, creatable bridge `br900` whose
/// uplink is `up1.900`.
fn vlan_uplink() -> (Netns, Db) {
    let ns = Netns::new();
    let db = db();
    ns.ip(&["link", "add", "up1", "type", "veth", "peer", "name", "up2"]);
    ok(vifkit(
        &db.path,
        &[
            "bridge",
            "add",
            "br900",
            "--uplink",
            "up1",
            "--vlan",
            "900",
            "--creatable",
        ],
    ));
    (ns, db)
}

/// UPLINK.VLAN: made and enslaved.
#[test]
#[ignore = "needs root: a network namespace"]
fn kernel_with_8021q_ensure_enslaves_the_uplink_vlan_device() {
    let (ns, db) = vlan_uplink();
    let out = ns.vifkit(&db.path, &["bridge", "ensure", "br900"]);
    assert_eq!(
        (out.status, out.stdout.as_str()),
        (0, "br900: created\nup1.900: created (port of br900)\n"),
        "{out:?}\n{}",
        netns::needs("802.1Q VLAN devices", "8021q")
    );
    let dev = ns.link("up1.900").expect("VLAN device");
    assert_eq!(dev["master"], "br900");
    assert_eq!(dev["linkinfo"]["info_data"]["id"], 900);
}

/// UPLINK.VLAN on a kernel without 802.1Q: the kernel's refusal surfaces and the new
/// bridge is gone again.
#[test]
#[ignore = "needs root: a network namespace"]
fn kernel_without_8021q_ensure_of_a_vlan_uplink_is_refused_and_undone() {
    let (ns, db) = vlan_uplink();
    let out = ns.vifkit(&db.path, &["bridge", "ensure", "br900"]);
    assert_eq!(
        out.status,
        1,
        "{out:?}\n{}",
        netns::lacks("802.1Q VLAN devices", "8021q")
    );
    let lines = refused(out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("Cannot create VLAN device up1.900") && lines[0].contains("802.1Q"),
        "{lines:?}"
    );
    assert_eq!(ns.bridges(), Vec::<String>::new());
}

#[test]
#[ignore = "needs root: a network namespace"]
fn sixteen_parallel_ensures_leave_one_bridge() {
    let ns = Netns::new();
    let db = db();
    let db = &db.path;
    ok(vifkit(
        db,
        &[
            "bridge",
            "add",
            "br0",
            "--mtu",
            "1400",
            "--stp",
            "on",
            "--creatable",
        ],
    ));
    let children: Vec<_> = (0..16)
        .map(|_| {
            ns.cmd(BIN)
                .arg("--db")
                .arg(db)
                .args(["bridge", "ensure", "br0"])
                .env_remove("VIFKIT_DB")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut created = 0;
    for c in children {
        let o = c.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{:?}: {stdout} {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
        created += usize::from(stdout == "br0: created\n");
    }
    assert!(created <= 1, "{created} processes say they created br0");
    assert_eq!(ns.bridges(), ["br0"]);
    assert_eq!(bridge_settings(&ns.link("br0").unwrap()), (1400, 1, true));
}

#[test]
#[ignore = "needs root: a network namespace"]
fn show_names_the_guest_nic_of_each_port() {
    let ns = Netns::new();
    let db = db();
    let db = &db.path;
    ok(vifkit(db, &["bridge", "add", "br0", "--creatable"]));
    ok(vifkit(db, &["bridge", "add", "br7"]));
    ok(ns.vifkit(db, &["bridge", "ensure", "br0"]));
    // vif5.2 stands in for domain 5's PV backend, with an unregistered port beside it.
    ns.ip(&[
        "link", "add", "vif5.2", "type", "veth", "peer", "name", "peer0",
    ]);
    ns.ip(&["link", "set", "vif5.2", "master", "br0"]);
    ns.ip(&["link", "set", "peer0", "master", "br0"]);
    SqliteRegistry::open(db)
        .unwrap()
        .record(&alice_nic("br0", false))
        .unwrap();

    let text = ok(ns.vifkit(db, &["show"]));
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0],
        [
            "bridge", "mtu", "stp", "up", "port", "nic", "model", "guest", "driver", "domain",
            "domid", "devid", "mac"
        ]
    );
    assert_eq!(
        rows[1],
        ["br0", "1500", "no", "yes", "peer0", "-"],
        "{text}"
    );
    assert_eq!(
        rows[2],
        [
            "vif5.2",
            "pv",
            "-",
            "eth2",
            "xen",
            "alice",
            "5",
            "2",
            "00:16:3e:4f:94:a9"
        ],
        "{text}"
    );
    assert!(
        text.contains("\nbr7: in the registry, not on this host\n"),
        "{text}"
    );
    assert!(
        text.contains("\neth2 of Xen domain 5 (alice) is vif5.2, on br0\n"),
        "{text}"
    );

    let json: Value = serde_json::from_str(&ok(ns.vifkit(db, &["show", "--json"]))).unwrap();
    let br0 = json["bridges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "br0")
        .unwrap()
        .clone();
    assert_eq!(br0["registered"], true);
    assert_eq!(br0["stp"], false);
    let ports = br0["ports"].as_array().unwrap();
    assert_eq!(ports.len(), 2);
    assert_eq!(ports[0]["name"], "peer0");
    assert_eq!(ports[0]["guest"], Value::Null);
    assert_eq!(ports[1]["name"], "vif5.2");
    let g = &ports[1]["guest"];
    assert_eq!(g["driver"], "xen");
    assert_eq!(
        (
            &g["domain"],
            &g["domid"],
            &g["devid"],
            &g["guest_name"],
            &g["nic"]
        ),
        (
            &Value::from("alice"),
            &Value::from(5),
            &Value::from(2),
            &Value::from("eth2"),
            &Value::from("pv")
        )
    );
    assert_eq!(g["mac"], "00:16:3e:4f:94:a9");
    assert_eq!(json["nics"][0]["pv"], "vif5.2");
    assert_eq!(json["nics"][0]["pv_present"], true);
    assert_eq!(json["nics"][0]["tap"], Value::Null);
    assert_eq!(json["nics"][0]["tap_present"], Value::Null);
    assert_eq!(json["nics"][0]["model"], Value::Null);

    // An HVM NIC: the emulated twin is shown as such, with its model, and the pair is
    // named.
    let mut hvm = alice_nic("br0", true);
    hvm.model = Some(NicModelName::new("rtl8139").unwrap());
    SqliteRegistry::open(db).unwrap().record(&hvm).unwrap();
    ns.ip(&["link", "set", "peer0", "nomaster"]);
    ns.ip(&["link", "set", "peer0", "name", "vif5.2-emu"]);
    ns.ip(&["link", "set", "vif5.2-emu", "master", "br0"]);
    let text = ok(ns.vifkit(db, &["show"]));
    let row: Vec<&str> = text.lines().nth(2).unwrap().split_whitespace().collect();
    assert_eq!(
        row,
        [
            "vif5.2-emu",
            "emulated",
            "rtl8139",
            "eth2",
            "xen",
            "alice",
            "5",
            "2",
            "00:16:3e:4f:94:a9"
        ],
        "{text}"
    );
    assert!(
        text.contains(
            "\neth2 of Xen domain 5 (alice) is vif5.2, emulated twin vif5.2-emu, model \
             rtl8139, on br0\n"
        ),
        "{text}"
    );
    let json: Value = serde_json::from_str(&ok(ns.vifkit(db, &["show", "--json"]))).unwrap();
    assert_eq!(json["nics"][0]["emulated"], "vif5.2-emu");
    assert_eq!(json["nics"][0]["emulated_present"], true);
    assert_eq!(json["nics"][0]["model"], "rtl8139");

    // Names are escaped in JSON: a domain name with quotes, a backslash and non-ASCII.
    let odd = "b\"o\\b \u{e9}t\u{e9}";
    let mut nic = Attachment::xen(
        DomainName::new(odd).unwrap(),
        6,
        0,
        "00:16:3e:00:00:06".parse().unwrap(),
        IfName::new("br0").unwrap(),
        false,
    )
    .unwrap();
    nic.guest_name = None;
    SqliteRegistry::open(db).unwrap().record(&nic).unwrap();
    let json: Value = serde_json::from_str(&ok(ns.vifkit(db, &["show", "--json"]))).unwrap();
    assert_eq!(json["nics"][1]["domain"], odd);
    assert_eq!(json["nics"][1]["guest_name"], Value::Null);
    assert_eq!(json["nics"][1]["pv_present"], false);
    let text = ok(ns.vifkit(db, &["show"]));
    assert!(
        text.contains(&format!(
            "device 0 of Xen domain 6 ({odd}) is vif6.0 (absent), on br0\n"
        )),
        "{text}"
    );

    // QEMU's domain 5 is another guest than Xen's domain 5: both are shown, each with
    // its driver. A QEMU NIC is a tap with a model, never a PV vif.
    ns.ip(&[
        "link", "add", "vnet0", "type", "veth", "peer", "name", "peer1",
    ]);
    ns.ip(&["link", "set", "vnet0", "master", "br0"]);
    let mut bob = Attachment::qemu(
        DomainName::new("bob").unwrap(),
        5,
        0,
        "52:54:00:00:00:05".parse().unwrap(),
        IfName::new("br0").unwrap(),
        IfName::new("vnet0").unwrap(),
    );
    bob.model = Some(NicModelName::new("e1000").unwrap());
    SqliteRegistry::open(db).unwrap().record(&bob).unwrap();
    let text = ok(ns.vifkit(db, &["show"]));
    let row: Vec<&str> = text
        .lines()
        .find(|l| l.contains("vnet0"))
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        row,
        [
            "vnet0",
            "tap",
            "e1000",
            "device",
            "0",
            "qemu",
            "bob",
            "5",
            "0",
            "52:54:00:00:00:05"
        ],
        "{text}"
    );
    assert!(
        text.contains("\neth2 of Xen domain 5 (alice) is vif5.2, emulated twin vif5.2-emu")
            && text.contains("\ndevice 0 of QEMU domain 5 (bob) is vnet0, model e1000, on br0\n"),
        "{text}"
    );
    let json: Value = serde_json::from_str(&ok(ns.vifkit(db, &["show", "--json"]))).unwrap();
    let drivers: Vec<(&str, u64)> = json["nics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["driver"].as_str().unwrap(), n["domid"].as_u64().unwrap()))
        .collect();
    assert_eq!(drivers, [("xen", 5), ("xen", 6), ("qemu", 5)]);
    let q = &json["nics"][2];
    assert_eq!(
        (
            &q["tap"],
            &q["tap_present"],
            &q["pv"],
            &q["pv_present"],
            &q["model"]
        ),
        (
            &Value::from("vnet0"),
            &Value::from(true),
            &Value::Null,
            &Value::Null,
            &Value::from("e1000")
        )
    );
    let port = json["bridges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "br0")
        .unwrap()["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "vnet0")
        .unwrap()["guest"]
        .clone();
    assert_eq!(
        (&port["nic"], &port["model"]),
        (&Value::from("tap"), &Value::from("e1000"))
    );
}

/// `vifkit vif-script` as xl runs it (arguments, environment, xenstore as a directory
/// of key files), in a namespace: the PV backend joins the bridge with the MTU from
/// xenstore, `hotplug-status` says `connected`; a missing bridge is one `error:` line,
/// `hotplug-status` `error` with the reason in `hotplug-error`, and nothing changed.
#[test]
#[ignore = "needs root: a network namespace"]
fn vif_script_wires_a_vif_as_xl_runs_it() {
    let ns = Netns::new();
    let d = db();
    let xs = d.path.parent().unwrap().join("xenstore");
    let key = |k: &str, v: &str| {
        let p = xs.join("backend/vif/5/2").join(k);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, v).unwrap();
    };
    let read = |k: &str| std::fs::read_to_string(xs.join("backend/vif/5/2").join(k)).ok();
    ns.ip(&["link", "add", "br900", "type", "bridge"]);
    ns.ip(&[
        "link", "add", "vif5.2", "type", "veth", "peer", "name", "guest52",
    ]);
    key("bridge", "br900");
    key("mtu", "1400");
    let script = |args: &[&str]| {
        output(
            ns.cmd(BIN)
                .arg("--db")
                .arg(&d.path)
                .arg("vif-script")
                .args(args)
                .env_clear()
                .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
                .env("vif", "vif5.2")
                .env("XENBUS_PATH", "backend/vif/5/2")
                .env("VIFKIT_XENSTORE_DIR", &xs),
        )
    };
    let out = script(&["online", "type_if=vif"]);
    assert_eq!(
        (out.status, out.stdout.as_str(), out.stderr.as_str()),
        (0, "", ""),
        "{out:?}"
    );
    assert_eq!(read("hotplug-status").as_deref(), Some("connected"));
    let link = |name: &str| {
        let v: Value = serde_json::from_str(&ns.ip(&["-j", "link", "show", name])).unwrap();
        v[0].clone()
    };
    let port = link("vif5.2");
    assert_eq!(port["master"], "br900");
    assert_eq!(port["mtu"], 1400);
    assert!(is_up(&port));
    // offline takes it off the bridge.
    assert_eq!(script(&["offline", "type_if=vif"]).status, 0);
    assert!(link("vif5.2").get("master").is_none());
    // A bridge that does not exist: one error line, the reason in xenstore, no change.
    key("bridge", "br-missing");
    let before = ns.links();
    let lines = refused(script(&["online", "type_if=vif"]));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("error: vif5.2: Bridge br-missing does not exist"),
        "{lines:?}"
    );
    assert_eq!(read("hotplug-status").as_deref(), Some("error"));
    assert!(read("hotplug-error")
        .unwrap()
        .starts_with("Bridge br-missing does not exist"));
    assert_eq!(ns.links(), before);
    // A bad request never reaches the kernel.
    let out = output(
        ns.cmd(BIN)
            .args(["vif-script", "online"])
            .env_clear()
            .env("vif", "vif5.2 x")
            .env("XENBUS_PATH", "backend/vif/5/2")
            .env("VIFKIT_XENSTORE_DIR", &xs),
    );
    assert_eq!(refused(out).len(), 1);
}

/// After a reboot (no `offline` ran), alice's old record keeps her MAC. When the MAC
/// comes back on another guest's vif, `vif-script online` replaces the stale record and
/// says so, instead of failing "MAC ... already used by Xen domain "alice" (id 7)"; a
/// record of this boot whose guest runs (its vif is there, xenstore names it) still
/// refuses the vif.
#[test]
#[ignore = "needs root: a network namespace"]
fn vif_script_replaces_a_record_left_by_the_last_boot() {
    let ns = Netns::new();
    let d = db();
    let xs = d.path.parent().unwrap().join("xenstore");
    let key = |k: &str, v: &str| {
        let p = xs.join(k.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, v).unwrap();
    };
    ok(vifkit(&d.path, &["bridge", "add", "br900"]));
    ns.ip(&["link", "add", "br900", "type", "bridge"]);
    ns.ip(&[
        "link", "add", "vif5.0", "type", "veth", "peer", "name", "guest50",
    ]);
    key("/local/domain/5/name", "bob");
    key("backend/vif/5/0/bridge", "br900");
    key("backend/vif/5/0/mac", "00:16:3e:00:00:07");
    let mut alice = Attachment::xen(
        DomainName::new("alice").unwrap(),
        7,
        0,
        "00:16:3e:00:00:07".parse().unwrap(),
        IfName::new("br900").unwrap(),
        false,
    )
    .unwrap();
    let reg = SqliteRegistry::open(&d.path).unwrap();
    let online = || {
        output(
            ns.cmd(BIN)
                .arg("--db")
                .arg(&d.path)
                .args(["vif-script", "online", "type_if=vif"])
                .env_clear()
                .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
                .env("vif", "vif5.0")
                .env("XENBUS_PATH", "backend/vif/5/0")
                .env("VIFKIT_XENSTORE_DIR", &xs),
        )
    };
    // alice runs: her vif is there, xenstore names her. bob is refused.
    ns.ip(&[
        "link", "add", "vif7.0", "type", "veth", "peer", "name", "guest70",
    ]);
    key("/local/domain/7/name", "alice");
    reg.record(&alice).unwrap();
    let lines = refused(online());
    assert_eq!(
        lines,
        [
            "error: vif5.0: MAC 00:16:3e:00:00:07 is already used by Xen domain \"alice\" (id 7) \
          device 0"
        ]
    );
    // The host rebooted: alice's record is of the last boot, and is replaced.
    alice.boot_id = Some("6b0e2f6c-92a5-4d8e-9a0e-1c2b3d4e5f60".parse().unwrap());
    reg.record(&alice).unwrap();
    let out = online();
    assert_eq!((out.status, out.stdout.as_str()), (0, ""), "{out:?}");
    assert_eq!(
        out.stderr,
        format!(
            "warning: vif5.0: dropped the stale record of Xen domain \"alice\" (id 7) device 0 \
             (vif7.0): it was written in boot 6b0e2f6c-92a5-4d8e-9a0e-1c2b3d4e5f60, not this \
             boot {}\n",
            std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
                .unwrap()
                .trim()
        )
    );
    let all = reg.attachments().unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!((all[0].domain_name.as_str(), all[0].domid), ("bob", 5));
}

/// `vifkit reconcile` drops the stale records and says which: one of another boot, two
/// whose Xen domain xenstore does not know, one whose QEMU tap is gone; a Xen record
/// xenstore names and a QEMU record whose tap is there stay. With `--connect`, libvirt's
/// list says which QEMU domains run (its test driver stands in for QEMU).
#[test]
#[ignore = "needs root: a network namespace"]
fn reconcile_drops_the_stale_records_and_says_which() {
    let ns = Netns::new();
    let d = db();
    let xs = d.path.parent().unwrap().join("xenstore");
    let key = |k: &str, v: &str| {
        let p = xs.join(k.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, v).unwrap();
    };
    // No registry yet: nothing to do, and none is made.
    let reconcile = |args: &[&str]| {
        let mut c = ns.cmd(BIN);
        c.arg("--db")
            .arg(&d.path)
            .arg("reconcile")
            .args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("VIFKIT_XENSTORE_DIR", &xs)
            .env(
                "VIFKIT_LIBVIRT_HELPER",
                Path::new(BIN).with_file_name("vifkit-libvirt"),
            );
        ok(output(&mut c))
    };
    assert_eq!(reconcile(&[]), "0 stale record(s) dropped, 0 kept\n");
    assert!(!d.path.exists());
    ok(vifkit(&d.path, &["bridge", "add", "br0"]));
    for dev in ["vif7.0", "vif9.0", "vnet5"] {
        ns.ip(&[
            "link",
            "add",
            dev,
            "type",
            "veth",
            "peer",
            "name",
            &format!("p-{dev}"),
        ]);
    }
    key("/local/domain/7/name", "alice");
    key("/local/domain/6/name", "frank");
    let reg = SqliteRegistry::open(&d.path).unwrap();
    let xen = |name: &str, domid: u32| {
        Attachment::xen(
            DomainName::new(name).unwrap(),
            domid,
            0,
            format!("00:16:3e:00:00:{domid:02x}").parse().unwrap(),
            IfName::new("br0").unwrap(),
            false,
        )
        .unwrap()
    };
    let qemu = |name: &str, domid: u32, tap: &str| {
        Attachment::qemu(
            DomainName::new(name).unwrap(),
            domid,
            0,
            format!("52:54:00:00:00:{domid:02x}").parse().unwrap(),
            IfName::new("br0").unwrap(),
            IfName::new(tap).unwrap(),
        )
    };
    let mut frank = xen("frank", 6);
    frank.boot_id = Some("6b0e2f6c-92a5-4d8e-9a0e-1c2b3d4e5f60".parse().unwrap());
    for a in [
        xen("alice", 7),
        xen("carol", 8),
        xen("bob", 9),
        frank,
        qemu("dave", 3, "vnet3"),
        qemu("erin", 5, "vnet5"),
    ] {
        reg.record(&a).unwrap();
    }
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    assert_eq!(
        reconcile(&[]),
        format!(
            "dropped the stale record of Xen domain \"frank\" (id 6) device 0 (vif6.0): it was \
             written in boot 6b0e2f6c-92a5-4d8e-9a0e-1c2b3d4e5f60, not this boot {}\n\
             dropped the stale record of Xen domain \"carol\" (id 8) device 0 (vif8.0): its \
             domain is not running (xenstore says)\n\
             dropped the stale record of Xen domain \"bob\" (id 9) device 0 (vif9.0): its \
             domain is not running (xenstore says)\n\
             dropped the stale record of QEMU domain \"dave\" (id 3) device 0 (vnet3): its \
             device vnet3 is not on this host, and its domain is not known to run\n\
             4 stale record(s) dropped, 2 kept\n",
            boot.trim()
        )
    );
    let left: Vec<String> = reg
        .attachments()
        .unwrap()
        .iter()
        .map(|a| a.domain_name.to_string())
        .collect();
    assert_eq!(left, ["alice", "erin"]);
    assert_eq!(reconcile(&[]), "0 stale record(s) dropped, 2 kept\n");

    // libvirt's test:///default runs domain `test` (id 1): its record stays though its
    // tap is not here; erin's domain is not in the list, so hers goes though her tap is.
    #[cfg(feature = "libvirt")]
    {
        reg.record(&qemu("test", 1, "testnet0")).unwrap();
        assert_eq!(
            reconcile(&["--connect", "test:///default"]),
            "dropped the stale record of QEMU domain \"erin\" (id 5) device 0 (vnet5): its \
             domain is not running (libvirt says)\n1 stale record(s) dropped, 2 kept\n"
        );
    }
}
