//! Guests with VLANs: seed 004's four-VLAN Xen guest on br900..br903 (bond0.900 ...
//! uplinks) and a QEMU guest with `<vlan>` and `<bandwidth>` on a Linux bridge.

use crate::*;

#[test]
#[ignore = "needs root: a network namespace"]
fn seed_004_four_vlan_guest() {
    let env = Env::new();
    let reg = env.reg();
    for (i, vlan) in (900..904).enumerate() {
        let mut b = creatable(&format!("br{vlan}"));
        b.uplink = Some(n("bond0"));
        b.vlan = Some(VlanId::new(vlan).unwrap());
        reg.add_bridge(&b).unwrap();
        // The admin's bridges are there (without their bond0.90N uplinks, which need
        // bonding and 802.1Q; making a bridge with its uplink is tested below).
        env.bridge(&format!("br{vlan}"));
        let _ = i;
    }
    let xml = data("vlan900.xml");
    ok(env.hook("libxl", &["vlan900", "prepare", "begin", "-"], &xml));
    for i in 0..4 {
        env.port(&format!("vif7.{i}"), &format!("br90{i}"));
        env.port(&format!("vif7.{i}-emu"), &format!("br90{i}"));
    }
    ok(env.hook("libxl", &["vlan900", "started", "begin", "-"], &xml));
    let want: Vec<_> = (0..4)
        .map(|i| {
            (
                format!("vif7.{i}"),
                Some(format!("vif7.{i}-emu")),
                format!("br90{i}"),
                7,
                i,
            )
        })
        .collect();
    assert_eq!(records(&reg), want);
    // libvirtd restarts: reconnect re-syncs without touching anything.
    ok(env.hook("libxl", &["vlan900", "reconnect", "begin", "-"], &xml));
    assert_eq!(records(&reg), want);
    for i in 0..4 {
        env.ip(&["link", "del", &format!("vif7.{i}")]);
        env.ip(&["link", "del", &format!("vif7.{i}-emu")]);
    }
    ok(env.hook("libxl", &["vlan900", "stopped", "end", "-"], &xml));
    assert!(records(&reg).is_empty());
    // Not made by vifkit: the admin's bridges stay.
    assert_eq!(env.bridges(), ["br900", "br901", "br902", "br903"]);
}

/// Seed 004's bridges registered (creatable, uplinks bond0.900 to bond0.903), the
/// admin's br901..br903 there but br900 missing; bond0 is a veth (so that the tests
/// need no bonding driver).
fn seed_004_without_br900() -> Env {
    let env = Env::new();
    let reg = env.reg();
    for vlan in 900..904 {
        let mut b = creatable(&format!("br{vlan}"));
        b.uplink = Some(n("bond0"));
        b.vlan = Some(VlanId::new(vlan).unwrap());
        reg.add_bridge(&b).unwrap();
        if vlan != 900 {
            env.bridge(&format!("br{vlan}"));
        }
    }
    env.ip(&[
        "link", "add", "bond0", "type", "veth", "peer", "name", "bond0p",
    ]);
    env
}

/// A missing br900 is made from the registry with bond0.900 as its uplink.
#[test]
#[ignore = "needs root: a network namespace"]
fn kernel_with_8021q_seed_004_br900_is_made_with_its_uplink_vlan() {
    let env = seed_004_without_br900();
    let out = env.hook(
        "libxl",
        &["vlan900", "prepare", "begin", "-"],
        &data("vlan900.xml"),
    );
    assert_eq!(
        out.status,
        0,
        "{out:?}\n{}",
        common::netns::needs("802.1Q VLAN devices", "8021q")
    );
    let dev = env.link("bond0.900").expect("bond0.900 made");
    assert_eq!(dev["master"], "br900");
    assert!(env.reg().bridge_made(&n("br900")).unwrap());
}

/// Without 802.1Q, making br900 is refused by name and nothing is made.
#[test]
#[ignore = "needs root: a network namespace"]
fn kernel_without_8021q_seed_004_br900_is_refused_and_nothing_made() {
    let env = seed_004_without_br900();
    let out = env.hook(
        "libxl",
        &["vlan900", "prepare", "begin", "-"],
        &data("vlan900.xml"),
    );
    assert_eq!(
        out.status,
        1,
        "{out:?}\n{}",
        common::netns::lacks("802.1Q VLAN devices", "8021q")
    );
    let lines = refused(out);
    assert!(
        lines[0].starts_with("error: Guest vlan900 interface[0]: bridge br900: ")
            && lines[0].contains("802.1Q"),
        "{lines:?}"
    );
    assert_eq!(env.bridges(), ["br901", "br902", "br903"]);
    assert!(!env.reg().bridge_made(&n("br900")).unwrap());
}

/// web1 (`qemu-vlan.xml`) prepared on the admin's br10, with its taps vnet12 (with
/// `<vlan>` and `<bandwidth>`) and vnet13 on br10.
fn web1_prepared() -> (Env, String) {
    let env = Env::new();
    let xml = data("qemu-vlan.xml");
    // br10 is the admin's and not registered: prepare accepts it as it is.
    env.bridge("br10");
    ok(env.hook("qemu", &["web1", "prepare", "begin", "-"], &xml));
    assert!(env.reg().bridges().unwrap().is_empty());
    env.port("vnet12", "br10");
    env.port("vnet13", "br10");
    (env, xml)
}

/// Both taps are recorded on br10, which joins the registry as the admin's (not
/// creatable); QEMU enforces `<bandwidth>` itself, so vifkit adds no qdisc; `stopped`
/// drops the records and leaves the admin's bridge.
fn web1_started_then_stopped(env: &Env, xml: &str) {
    let reg = env.reg();
    assert_eq!(
        records(&reg),
        [
            ("vnet12".into(), None, "br10".into(), 12, 0),
            ("vnet13".into(), None, "br10".into(), 12, 1)
        ]
    );
    let br10 = reg.bridge(&n("br10")).unwrap().unwrap();
    assert!(!br10.creatable);
    assert_eq!(tbf_rate(env, "vnet12"), None);
    ok(env.hook("qemu", &["web1", "stopped", "end", "-"], xml));
    assert!(records(&reg).is_empty());
    assert_eq!(env.bridges(), ["br10"]);
}

/// The same guest without its `<vlan>`: it starts on any kernel.
#[test]
#[ignore = "needs root: a network namespace"]
fn qemu_guest_with_bandwidth_gets_no_qdisc_from_vifkit() {
    let (env, xml) = web1_prepared();
    let plain = xml.replace("      <vlan>\n        <tag id='42'/>\n      </vlan>\n", "");
    assert_ne!(plain, xml);
    ok(env.hook("qemu", &["web1", "started", "begin", "-"], &plain));
    web1_started_then_stopped(&env, &plain);
}

/// A `<vlan>` on a bridge without VLAN filtering cannot be honoured: `started` fails,
/// naming the tap, and records nothing.
#[test]
#[ignore = "needs root: a network namespace"]
fn qemu_guest_vlan_on_a_bridge_without_filtering_is_refused() {
    let (env, xml) = web1_prepared();
    let lines = refused(env.hook("qemu", &["web1", "started", "begin", "-"], &xml));
    assert!(
        lines[0].starts_with(
            "error: Guest web1 interface[0] on bridge br10: cannot set the VLANs on vnet12"
        ),
        "{lines:?}"
    );
    assert!(
        records(&env.reg()).is_empty(),
        "nothing recorded when started fails"
    );
}

/// On a filtering br10, vnet12 carries VLAN 42.
#[test]
#[ignore = "needs root: a network namespace"]
fn kernel_with_vlan_filtering_qemu_guest_vlan_is_set_on_its_tap() {
    let (env, xml) = web1_prepared();
    assert!(
        env.try_ip(&[
            "link",
            "set",
            "br10",
            "type",
            "bridge",
            "vlan_filtering",
            "1",
        ]),
        "cannot turn VLAN filtering on: {}",
        common::netns::needs("bridge VLAN filtering", "vlan_filtering")
    );
    ok(env.hook("qemu", &["web1", "started", "begin", "-"], &xml));
    let vl = wait(spawn(
        env.command("bridge", &["-j", "vlan", "show", "dev", "vnet12"]),
        "",
    ));
    assert!(vl.stdout.contains("42"), "{vl:?}");
    web1_started_then_stopped(&env, &xml);
}
