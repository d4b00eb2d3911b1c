//! NIC models and hot-plugged NICs under a real libvirtd and real QEMU guests (TCG, no
//! disk), each test with a private daemon of its own ([`common::libvirtd`]).
//!
//! - Models: `vifkit show` (text and `--json`) names each NIC's model as `virsh
//!   domiflist` does, for an e1000 + rtl8139 + virtio guest.
//! - Hot-plugged NICs: `vifkit serve --libvirt URI` (on a private bus) follows libvirt's
//!   events: `attach-interface` of a fresh MAC is recorded (model too),
//!   `detach-interface` drops it, a NIC with another guest's MAC is detached again with a
//!   line naming guest, MAC and why, and a destroyed guest loses its records.
//!
//! Root only (namespaces, libvirtd): ignored unless asked for, as `tests/run.sh` does.

mod common;
use common::libvirtd::{guest_xml, Hooks, Libvirtd, Nic, VIFKIT};

// The private bus of the D-Bus tests (tests/dbus/harness.rs).
mod dbus {
    #[allow(dead_code)]
    pub mod harness;
}
use dbus::harness::{lines_of, wait_line, Bus};

use std::process::{Child, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use registry::{Attachment, Registry, SqliteRegistry};
use serde_json::Value;

/// `vifkit --db REGISTRY ARGS...` inside the daemon's network namespace (where the
/// guests' taps are), which must succeed; its stdout.
fn vifkit_in_ns(d: &Libvirtd, args: &[&str]) -> String {
    let db = d.registry_path();
    let out = d
        .ns()
        .cmd(VIFKIT)
        .arg("--db")
        .arg(&db)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "vifkit {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn three_nics(bridge: &str, n: u8) -> Vec<Nic> {
    vec![
        Nic::bridge(bridge, &format!("52:54:00:00:{n:02x}:01"), "e1000"),
        Nic::bridge(bridge, &format!("52:54:00:00:{n:02x}:02"), "rtl8139"),
        Nic::bridge(bridge, &format!("52:54:00:00:{n:02x}:03"), "virtio"),
    ]
}

/// `show`'s model of each tap (text table and JSON, port and NIC lists) is the one
/// `virsh domiflist` gives; a QEMU tap is a `tap`, never `pv`.
#[test]
#[ignore = "needs root: a private libvirtd in namespaces of the test's own"]
fn show_names_the_models_virsh_domiflist_names() {
    let d = Libvirtd::start();
    d.ns().ip(&["link", "add", "br0", "type", "bridge"]);
    d.ns().ip(&["link", "set", "br0", "up"]);
    d.define(&guest_xml("m", &three_nics("br0", 1)));
    d.start_guest("m");
    let list = d.domiflist("m");
    let models: Vec<&str> = list
        .iter()
        .map(|[_, _, _, model, _]| model.as_str())
        .collect();
    assert_eq!(models, ["e1000", "rtl8139", "virtio"], "{list:?}");

    let text = vifkit_in_ns(&d, &["show"]);
    let rows: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0][4..7], ["port", "nic", "model"], "{text}");
    let json: Value = serde_json::from_str(&vifkit_in_ns(&d, &["show", "--json"])).unwrap();
    let nics = json["nics"].as_array().unwrap();
    assert_eq!(nics.len(), 3, "{json:#}");
    let br0 = json["bridges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "br0")
        .unwrap();
    for [dev, _kind, source, model, mac] in &list {
        // The text row of the port: port, nic, model, ...
        let row = rows
            .iter()
            .find(|r| r.contains(&dev.as_str()))
            .unwrap_or_else(|| panic!("no row for {dev}: {text}"));
        let at = row.iter().position(|f| f == dev).unwrap();
        assert_eq!(row[at + 1..at + 3], ["tap", model.as_str()], "{text}");
        assert!(
            text.contains(&format!("is {dev}, model {model}, on {source}\n")),
            "{text}"
        );
        // The JSON NIC and the port's guest.
        let nic = nics.iter().find(|n| n["mac"] == mac.as_str()).unwrap();
        assert_eq!(
            (&nic["tap"], &nic["pv"], &nic["model"], &nic["tap_present"]),
            (
                &Value::from(dev.as_str()),
                &Value::Null,
                &Value::from(model.as_str()),
                &Value::from(true)
            ),
            "{nic:#}"
        );
        let port = br0["ports"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == dev.as_str())
            .unwrap();
        assert_eq!(
            (&port["guest"]["nic"], &port["guest"]["model"]),
            (&Value::from("tap"), &Value::from(model.as_str())),
            "{port:#}"
        );
    }
    d.destroy("m");
}

/// A q35 guest (TCG, no OS) with `nics` and three free PCIe root ports to hot-plug
/// into. ACPI PCI hot-plug is off (`ICH9-LPC.acpi-pci-hotplug-with-bridge-support`), so
/// the root ports use native PCIe hot-plug, and a guest with no OS lets QEMU unplug a
/// device at once (ACPI hot-unplug waits for the guest's OS, which never answers).
fn q35_xml(name: &str, nics: &[Nic]) -> String {
    let mut x = format!(
        "<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n  \
         <name>{name}</name>\n  <memory unit='MiB'>96</memory>\n  <vcpu>1</vcpu>\n  \
         <os><type arch='x86_64' machine='q35'>hvm</type></os>\n  <devices>\n"
    );
    x.push_str("    <controller type='pci' index='0' model='pcie-root'/>\n");
    for i in 1..=3 {
        x.push_str(&format!(
            "    <controller type='pci' index='{i}' model='pcie-root-port'/>\n"
        ));
    }
    for n in nics {
        x.push_str(&format!(
            "    <interface type='bridge'><source bridge='{}'/><mac address='{}'/>\
             <model type='{}'/></interface>\n",
            n.source, n.mac, n.model
        ));
    }
    x.push_str(
        "  </devices>\n  <qemu:commandline>\n    <qemu:arg value='-global'/>\n    \
         <qemu:arg value='ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off'/>\n  \
         </qemu:commandline>\n</domain>\n",
    );
    x
}

/// `vifkit serve --libvirt URI` on `bus`, in the daemon's network namespace (where the
/// taps are), and every line it says.
struct Serve {
    child: Child,
    lines: Receiver<String>,
    said: Vec<String>,
}

impl Serve {
    fn start(d: &Libvirtd, bus: &Bus) -> Serve {
        let mut child = d
            .ns()
            .cmd(VIFKIT)
            .arg("--db")
            .arg(bus.db())
            .args(["serve", "--address", &bus.address, "--libvirt", d.uri()])
            .env_remove("VIFKIT_DB")
            .env(
                "VIFKIT_LIBVIRT_HELPER",
                env!("CARGO_BIN_EXE_vifkit-libvirt"),
            )
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = lines_of(child.stderr.take().unwrap());
        let mut s = Serve {
            child,
            lines,
            said: Vec::new(),
        };
        // Both, in either order (the events are followed from a task of their own).
        let following =
            |l: &str| l.starts_with("vifkit serve: following libvirt's domain events at");
        let owning = |l: &str| l.starts_with("vifkit serve: org.vifkit on");
        while !(s.said.iter().any(|l| following(l)) && s.said.iter().any(|l| owning(l))) {
            s.wait("serve to follow the events and own org.vifkit", |l| {
                following(l) || owning(l)
            });
        }
        s
    }

    /// Waits for a line `want` accepts (said since the last wait, or later).
    fn wait(&mut self, what: &str, want: impl Fn(&str) -> bool) -> String {
        let seen = std::cell::RefCell::new(Vec::new());
        let line = wait_line(&self.lines, what, |l| {
            seen.borrow_mut().push(l.to_owned());
            assert!(!l.starts_with("error:"), "serve: {l}");
            want(l)
        });
        self.said.extend(seen.into_inner());
        line
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        // SIGTERM: serve stops its `vifkit-libvirt events` helper and waits for it (a
        // SIGKILL would leave the helper to PID 1, which does not reap here).
        // SAFETY: kill(2) on the pid of the child this test started and has not waited for.
        unsafe {
            libc::kill(
                libc::pid_t::try_from(self.child.id()).unwrap(),
                libc::SIGTERM,
            )
        };
        let _ = self.child.wait();
    }
}

fn records_of(bus: &Bus, guest: &str) -> Vec<Attachment> {
    SqliteRegistry::open_read_only(bus.db())
        .unwrap()
        .attachments()
        .unwrap()
        .into_iter()
        .filter(|a| a.domain_name.as_str() == guest)
        .collect()
}

/// Polls `cond` every 20 ms, failing the test after 60 s.
fn poll(what: &str, mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(t.elapsed() < Duration::from_secs(60), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The MACs `virsh domiflist` lists for `guest`.
fn listed_macs(d: &Libvirtd, guest: &str) -> Vec<String> {
    d.domiflist(guest)
        .into_iter()
        .map(|[.., mac]| mac)
        .collect()
}

/// Hot-plugged NICs under a daemon with no vifkit hooks: `serve --libvirt` alone records
/// the guests at their start, then follows `attach-interface` and `detach-interface`,
/// refuses (detaches again) a NIC with another guest's MAC, and drops the records of a
/// destroyed guest.
#[test]
#[ignore = "needs root: a private libvirtd in namespaces of the test's own"]
fn hot_plugged_nics_are_recorded_refused_and_dropped() {
    let d = Libvirtd::with_hooks(Hooks::None);
    d.ns().ip(&["link", "add", "br0", "type", "bridge"]);
    d.ns().ip(&["link", "set", "br0", "up"]);
    let bus = Bus::start();
    let mut serve = Serve::start(&d, &bus);

    // Guest `other` owns 52:54:00:00:0a:01; guest `hp` starts with one NIC.
    d.define(&guest_xml(
        "other",
        &[Nic::bridge("br0", "52:54:00:00:0a:01", "virtio")],
    ));
    d.start_guest("other");
    d.define(&q35_xml(
        "hp",
        &[Nic::bridge("br0", "52:54:00:00:0b:01", "e1000")],
    ));
    d.start_guest("hp");
    poll("the started guests recorded", || {
        records_of(&bus, "other").len() == 1 && records_of(&bus, "hp").len() == 1
    });

    // A fresh MAC: recorded, model and tap as libvirt says.
    let fresh = "52:54:00:00:0b:02";
    d.virsh_ok(&[
        "attach-interface",
        "hp",
        "bridge",
        "br0",
        "--mac",
        fresh,
        "--model",
        "rtl8139",
    ]);
    poll("the hot-plugged NIC recorded", || {
        records_of(&bus, "hp")
            .iter()
            .any(|a| a.mac.to_string() == fresh)
    });
    let list = d.domiflist("hp");
    let [tap, _, _, model, _] = list.iter().find(|n| n[4] == fresh).unwrap().clone();
    let rec = records_of(&bus, "hp")
        .into_iter()
        .find(|a| a.mac.to_string() == fresh)
        .unwrap();
    assert_eq!(
        (
            rec.backend.as_str(),
            rec.model.as_ref().unwrap().as_str(),
            rec.bridge.as_str()
        ),
        (tap.as_str(), model.as_str(), "br0")
    );
    assert_eq!(model, "rtl8139");

    // Detached: the record goes.
    d.virsh_ok(&["detach-interface", "hp", "bridge", "--mac", fresh]);
    poll("libvirt to detach the NIC", || {
        !listed_macs(&d, "hp").contains(&fresh.to_owned())
    });
    poll("the detached NIC's record dropped", || {
        records_of(&bus, "hp")
            .iter()
            .all(|a| a.mac.to_string() != fresh)
    });
    assert_eq!(records_of(&bus, "hp").len(), 1);

    // Another guest's MAC: detached again, and said; other's record stays.
    let taken = "52:54:00:00:0a:01";
    d.virsh_ok(&[
        "attach-interface",
        "hp",
        "bridge",
        "br0",
        "--mac",
        taken,
        "--model",
        "virtio",
    ]);
    let line = serve.wait("the refusal", |l| l.contains("refused, detaching it"));
    assert_eq!(
        line,
        "vifkit serve: hp: hot-plugged interface[1] (MAC 52:54:00:00:0a:01) refused, \
         detaching it: Guest hp interface[1]: MAC 52:54:00:00:0a:01 is already used by QEMU \
         domain \"other\" (id 1) device 0"
    );
    let said = serve.wait("the detach said", |l| {
        l.contains("detach of the NIC with MAC")
    });
    assert_eq!(
        said,
        "vifkit serve: hp: detach of the NIC with MAC 52:54:00:00:0a:01 requested"
    );
    poll("libvirt to detach the refused NIC", || {
        !listed_macs(&d, "hp").contains(&taken.to_owned())
    });
    assert_eq!(records_of(&bus, "other").len(), 1);
    assert!(records_of(&bus, "hp")
        .iter()
        .all(|a| a.mac.to_string() != taken));

    // Destroyed: its records go (no hook here: the lifecycle event).
    d.destroy("hp");
    poll("the destroyed guest's records dropped", || {
        records_of(&bus, "hp").is_empty()
    });
    serve.wait("the stop said", |l| {
        l == "vifkit serve: hp: stopped: dropped 1 record(s)"
    });
    assert_eq!(records_of(&bus, "other").len(), 1);
    d.destroy("other");
    poll("other's records dropped", || {
        records_of(&bus, "other").is_empty()
    });
}
