//! NIC models and hot-plugged NICs under a real libvirtd and real QEMU guests (TCG, no
//! disk), each test with a private daemon of its own ([`common::libvirtd`]).
//!
//! - Models: `vifkit show` (text and `--json`) names each NIC's model as `virsh
//!   domiflist` does, for an e1000 + rtl8139 + virtio guest.
//!
//! Root only (namespaces, libvirtd): ignored unless asked for, as `tests/run.sh` does.

mod common;
use common::libvirtd::{guest_xml, Libvirtd, Nic, VIFKIT};

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
