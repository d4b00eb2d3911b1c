//! The network hook, `install-hooks`/`uninstall-hooks`, and libvirt's way of running
//! the hook: by the link's path, with no `hook` word.

use crate::*;

fn hook_data(forward: Option<&str>, port: Option<(&str, &str)>) -> String {
    let mut x = String::from("<hookData>\n  <network>\n    <name>lan</name>\n    <uuid>0b2f3c1e-7d6a-4d5e-9b1b-2d7d0f6f1a11</uuid>\n");
    if let Some(m) = forward {
        x.push_str(&format!("    <forward mode='{m}'/>\n"));
    }
    x.push_str("    <bridge name='brL'/>\n  </network>\n");
    if let Some((owner, mac)) = port {
        x.push_str(&format!(
            "  <networkport>\n    <uuid>1b2f3c1e-7d6a-4d5e-9b1b-2d7d0f6f1a11</uuid>\n    \
             <owner>\n      <name>{owner}</name>\n      <uuid>2b2f3c1e-7d6a-4d5e-9b1b-2d7d0f6f1a11</uuid>\n    \
             </owner>\n    <mac address='{mac}'/>\n    <plug type='bridge' bridge='brL'/>\n  </networkport>\n"
        ));
    }
    x.push_str("</hookData>\n");
    x
}

#[test]
#[ignore = "needs root: a network namespace"]
fn network_hook_ensures_and_releases_a_bridge_network() {
    let env = Env::new();
    let reg = env.reg();
    // A network libvirt runs itself (NAT): its bridge is libvirt's business.
    ok(env.hook(
        "network",
        &["lan", "start", "begin", "-"],
        &hook_data(Some("nat"), None),
    ));
    assert!(env.bridges().is_empty());
    // A bridge network on a bridge that is nowhere: refused, nothing made.
    let bridged = hook_data(Some("bridge"), None);
    let lines = refused(env.hook("network", &["lan", "start", "begin", "-"], &bridged));
    assert!(
        lines[0].starts_with("error: Network lan: bridge brL does not exist on this host"),
        "{lines:?}"
    );
    // Registered and creatable: made at start.
    reg.add_bridge(&creatable("brL")).unwrap();
    ok(env.hook("network", &["lan", "start", "begin", "-"], &bridged));
    assert_eq!(env.bridges(), ["brL"]);
    ok(env.hook("network", &["lan", "started", "begin", "-"], &bridged));

    // A port: checked at port-created, recorded by the guest's started hook, dropped
    // at port-deleted.
    let port = hook_data(Some("bridge"), Some(("n1", "52:54:00:00:0a:01")));
    ok(env.hook("network", &["lan", "port-created", "begin", "-"], &port));
    env.port("vnet40", "brL");
    let guest = "<domain type='kvm' id='40'>\n  <name>n1</name>\n  <devices>\n    \
        <interface type='network'>\n      <mac address='52:54:00:00:0a:01'/>\n      \
        <source network='lan' portid='1b2f3c1e-7d6a-4d5e-9b1b-2d7d0f6f1a11' bridge='brL'/>\n      \
        <target dev='vnet40'/>\n      <model type='virtio'/>\n    </interface>\n  </devices>\n</domain>\n";
    ok(env.hook("qemu", &["n1", "prepare", "begin", "-"], guest));
    ok(env.hook("qemu", &["n1", "started", "begin", "-"], guest));
    assert_eq!(
        records(&reg),
        [("vnet40".into(), None, "brL".into(), 40, 0)]
    );
    // Another guest's port with that MAC is refused.
    let clash = hook_data(Some("bridge"), Some(("n2", "52:54:00:00:0a:01")));
    let lines = refused(env.hook("network", &["lan", "port-created", "begin", "-"], &clash));
    assert!(
        lines[0].contains("MAC 52:54:00:00:0a:01 is already used by"),
        "{lines:?}"
    );
    env.ip(&["link", "del", "vnet40"]);
    ok(env.hook("network", &["lan", "port-deleted", "begin", "-"], &port));
    assert!(records(&reg).is_empty());
    // The network stops: the bridge vifkit made goes.
    ok(env.hook("network", &["lan", "stopped", "end", "-"], &bridged));
    assert!(env.bridges().is_empty());
}

#[test]
#[ignore = "needs root: a network namespace"]
fn installed_links_run_as_libvirt_runs_them() {
    let env = Env::new();
    let root = tempfile::tempdir().unwrap();
    let r = root.path().to_str().unwrap();
    let run = |args: &[&str]| wait(spawn(env.command(BIN, args), ""));
    // An admin's own file of that name is never overwritten, and then nothing is written.
    let hooks = root.path().join("etc/libvirt/hooks");
    std::fs::create_dir_all(hooks.join("network.d")).unwrap();
    std::fs::write(hooks.join("network.d/50-vifkit"), "#!/bin/sh\n").unwrap();
    let lines = refused(run(&["install-hooks", "--root", r, "--bin", BIN]));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("network.d/50-vifkit already exists"),
        "{lines:?}"
    );
    assert!(!hooks.join("qemu.d").exists());
    std::fs::remove_file(hooks.join("network.d/50-vifkit")).unwrap();

    let out = run(&["install-hooks", "--root", r, "--bin", BIN]);
    assert_eq!(out.status, 0, "{out:?}");
    assert!(out.stdout.contains("network netlink dgram,"), "{out:?}");
    for d in ["libxl", "qemu", "network"] {
        let link = hooks.join(format!("{d}.d/50-vifkit"));
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new(BIN), "{d}");
    }
    let again = run(&["install-hooks", "--root", r, "--bin", BIN]);
    assert_eq!(again.status, 0, "{again:?}");
    assert_eq!(again.stdout.matches(": unchanged").count(), 3, "{again:?}");

    // libvirt runs the link itself: the driver comes from its directory.
    env.bridge("br0");
    env.bridge("br1");
    let xml = many_nics("viaLink", 3, 2);
    let link = hooks.join("qemu.d/50-vifkit");
    let mut c = env.command(
        link.to_str().unwrap(),
        &["viaLink", "started", "begin", "-"],
    );
    c.env("VIFKIT_DB", &env.db);
    ok(wait(spawn(c, &xml)));
    assert_eq!(env.reg().attachments().unwrap().len(), 2);
    // Also as a main hook file named after the driver.
    let main = root.path().join("qemu");
    std::os::unix::fs::symlink(BIN, &main).unwrap();
    let mut c = env.command(main.to_str().unwrap(), &["viaLink", "release", "end", "-"]);
    c.env("VIFKIT_DB", &env.db);
    ok(wait(spawn(c, &xml)));
    assert!(env.reg().attachments().unwrap().is_empty());
    // Wrong arguments: a usage error, as for any command.
    let mut c = env.command(link.to_str().unwrap(), &["viaLink"]);
    c.env("VIFKIT_DB", &env.db);
    assert_eq!(wait(spawn(c, "")).status, 2);

    // Uninstall removes the links only; a file of the admin's stays.
    std::fs::remove_file(hooks.join("libxl.d/50-vifkit")).unwrap();
    std::fs::write(hooks.join("libxl.d/50-vifkit"), "#!/bin/sh\n").unwrap();
    let lines = refused(run(&["uninstall-hooks", "--root", r]));
    assert!(
        lines[0].contains("libxl.d/50-vifkit is not a link vifkit wrote"),
        "{lines:?}"
    );
    assert!(hooks.join("libxl.d/50-vifkit").exists());
    assert!(!hooks.join("qemu.d/50-vifkit").exists());
    assert!(!hooks.join("network.d/50-vifkit").exists());
}
