//! Guests with VLANs: seed 004's four-VLAN Xen guest on br900..br903 (bond0.900 ...
//! uplinks) and a QEMU guest with `<vlan>` and `<bandwidth>` on a Linux bridge.

use crate::*;

#[test]
fn seed_004_four_vlan_guest() {
    let Some(env) = Env::new("seed_004_four_vlan_guest") else {
        return;
    };
    let reg = env.reg();
    for (i, vlan) in (900..904).enumerate() {
        let mut b = creatable(&format!("br{vlan}"));
        b.uplink = Some(n("bond0"));
        b.vlan = Some(VlanId::new(vlan).unwrap());
        reg.add_bridge(&b).unwrap();
        // The admin's bridges are there (this kernel has no bonding or 802.1Q to give
        // them their bond0.90N uplinks; the part needing those is tested below).
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

    // A missing br900 is made from the registry with bond0.900 as its uplink, on a
    // kernel with 802.1Q (bond0 is a veth here: this kernel has no bonding).
    env.ip(&["link", "del", "br900"]);
    env.ip(&[
        "link", "add", "bond0", "type", "veth", "peer", "name", "bond0p",
    ]);
    let out = env.hook("libxl", &["vlan900", "prepare", "begin", "-"], &xml);
    if out.status == 0 {
        let dev = env.link("bond0.900").expect("bond0.900 made");
        assert_eq!(dev["master"], "br900");
        assert!(reg.bridge_made(&n("br900")).unwrap());
    } else {
        let lines = refused(out);
        assert!(
            lines[0].starts_with("error: Guest vlan900 interface[0]: bridge br900: ")
                && lines[0].contains("802.1Q"),
            "{lines:?}"
        );
        eprintln!(
            "SKIP seed_004 uplink part: this kernel lacks 802.1Q: {}",
            lines[0]
        );
        assert_eq!(env.bridges(), ["br901", "br902", "br903"]);
        assert!(!reg.bridge_made(&n("br900")).unwrap());
    }
}

#[test]
fn qemu_guest_with_vlan_and_bandwidth() {
    let Some(env) = Env::new("qemu_guest_with_vlan_and_bandwidth") else {
        return;
    };
    let reg = env.reg();
    let xml = data("qemu-vlan.xml");
    // br10 is the admin's and not registered: prepare accepts it as it is.
    env.bridge("br10");
    ok(env.hook("qemu", &["web1", "prepare", "begin", "-"], &xml));
    assert!(reg.bridges().unwrap().is_empty());
    env.port("vnet12", "br10");
    env.port("vnet13", "br10");
    let filtering = env.try_ip(&[
        "link",
        "set",
        "br10",
        "type",
        "bridge",
        "vlan_filtering",
        "1",
    ]);
    let out = env.hook("qemu", &["web1", "started", "begin", "-"], &xml);
    if filtering {
        ok(out);
        let v = env.ip(&["-j", "-d", "link", "show", "vnet12"]);
        assert!(!v.is_empty());
        let vl = wait(spawn(
            env.command("bridge", &["-j", "vlan", "show", "dev", "vnet12"]),
            "",
        ));
        assert!(vl.stdout.contains("42"), "{vl:?}");
    } else {
        eprintln!("SKIP qemu <vlan> kernel part: this kernel lacks bridge VLAN filtering");
        let lines = refused(out);
        assert!(
            lines[0].starts_with(
                "error: Guest web1 interface[0] on bridge br10: cannot set the VLANs on vnet12"
            ),
            "{lines:?}"
        );
        assert!(
            records(&reg).is_empty(),
            "nothing recorded when started fails"
        );
        // Without the <vlan>, the guest starts and both taps are recorded; br10 joins
        // the registry as the admin's (not creatable).
        let plain = xml.replace("      <vlan>\n        <tag id='42'/>\n      </vlan>\n", "");
        ok(env.hook("qemu", &["web1", "started", "begin", "-"], &plain));
    }
    assert_eq!(
        records(&reg),
        [
            ("vnet12".into(), None, "br10".into(), 12, 0),
            ("vnet13".into(), None, "br10".into(), 12, 1)
        ]
    );
    let br10 = reg.bridge(&n("br10")).unwrap().unwrap();
    assert!(!br10.creatable);
    // QEMU enforces <bandwidth> itself (tc): vifkit adds no qdisc.
    assert_eq!(tbf_rate(&env, "vnet12"), None);
    ok(env.hook("qemu", &["web1", "stopped", "end", "-"], &xml));
    assert!(records(&reg).is_empty());
    assert_eq!(env.bridges(), ["br10"]);
}
