//! The xl set-up through the binary: `install-xen-scripts` writes the scripts xl runs,
//! and `vif-vifkit` wires a vif as its bridge needs.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use common::netns::Netns;

const BIN: &str = env!("CARGO_BIN_EXE_vifkit");
const NAMES: [&str; 3] = ["vif-vifkit", "vif-vifkit-route", "vif-vifkit-nat"];

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}: {}{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn install_writes_three_wrappers_and_never_someone_elses_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let scripts = dir.path().join("etc/xen/scripts");
    let out = run(&["install-xen-scripts", "--root", root, "--bin", BIN]);
    assert!(out.status.success(), "{}", text(&out));
    for n in NAMES {
        let p = scripts.join(n);
        let t = std::fs::read_to_string(&p).unwrap();
        assert!(
            t.starts_with("#!/bin/sh\n") && t.contains(" vif-script \"$@\""),
            "{t}"
        );
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o755
        );
    }
    let again = run(&["install-xen-scripts", "--root", root, "--bin", BIN]);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("unchanged"),
        "{}",
        text(&again)
    );
    // An administrator's own vif-vifkit-nat: install refuses and writes nothing,
    // uninstall removes only vifkit's two.
    std::fs::write(scripts.join("vif-vifkit-nat"), "#!/bin/sh\n# mine\n").unwrap();
    std::fs::remove_file(scripts.join("vif-vifkit")).unwrap();
    let out = run(&["install-xen-scripts", "--root", root, "--bin", BIN]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        !scripts.join("vif-vifkit").exists(),
        "a refusal wrote a file"
    );
    let out = run(&["uninstall-xen-scripts", "--root", root]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!scripts.join("vif-vifkit-route").exists());
    assert_eq!(
        std::fs::read_to_string(scripts.join("vif-vifkit-nat")).unwrap(),
        "#!/bin/sh\n# mine\n"
    );
    // A relative --bin cannot be run from wherever xl runs the script.
    let out = run(&["install-xen-scripts", "--root", root, "--bin", "vifkit"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

/// The installed `vif-vifkit`, run as xl runs it, with `script=vif-vifkit` in xenstore:
/// on a Linux bridge the vif becomes its port (vif-bridge's mode); a name that is not one
/// of vifkit's is refused naming what is.
#[test]
#[ignore = "needs root: a network namespace"]
fn vif_vifkit_wires_a_vif_as_its_bridge_needs() {
    let ns = Netns::new();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = run(&[
        "install-xen-scripts",
        "--root",
        d.to_str().unwrap(),
        "--bin",
        BIN,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let xs = d.join("xenstore");
    let key = |k: &str, v: &str| {
        let p = xs.join("backend/vif/7/0").join(k);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, v).unwrap();
    };
    let read = |k: &str| std::fs::read_to_string(xs.join("backend/vif/7/0").join(k)).ok();
    ns.ip(&["link", "add", "xenbr0", "type", "bridge"]);
    ns.ip(&[
        "link", "add", "vif7.0", "type", "veth", "peer", "name", "guest70",
    ]);
    key("bridge", "xenbr0");
    let script = |name: &str, args: &[&str]| {
        key("script", &format!("/etc/xen/scripts/{name}"));
        let prog = d.join("etc/xen/scripts").join(name);
        let prog = if prog.exists() {
            prog
        } else {
            Path::new(BIN).to_path_buf()
        };
        let mut c = ns.cmd(prog.to_str().unwrap());
        if prog == Path::new(BIN) {
            c.arg("vif-script");
        }
        c.args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("VIFKIT_DB", d.join("registry.db"))
            .env("vif", "vif7.0")
            .env("XENBUS_PATH", "backend/vif/7/0")
            .env("VIFKIT_XENSTORE_DIR", &xs)
            .output()
            .unwrap()
    };
    let out = script("vif-vifkit", &["online", "type_if=vif"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(read("hotplug-status").as_deref(), Some("connected"));
    assert_eq!(ns.link("vif7.0").unwrap()["master"], "xenbr0");
    let out = script("vif-vifkit", &["offline", "type_if=vif"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(ns.link("vif7.0").unwrap().get("master").is_none());
    let out = script("vif-frobnicate", &["online", "type_if=vif"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("vif-vifkit"), "{}", text(&out));
    assert_eq!(read("hotplug-status").as_deref(), Some("error"));
}
