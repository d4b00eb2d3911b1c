//! `vifkit export` through the real binary: the golden output of each format for one
//! set of bridges (a Linux bridge with uplink, MTU and STP; a VLAN on a bond; a plain
//! creatable bridge; an Open vSwitch bridge), `--out` written, unchanged the second time
//! and never replacing a file vifkit did not write; then the files read by the real
//! tools: `ifquery` (ifupdown), libnm's keyfile reader (NetworkManager), `bash` sourcing
//! the ifcfg files as initscripts does; and, as root in network namespaces, `ifup` and
//! `systemd-networkd` bringing the exported bridges up, compared with what `vifkit
//! bridge ensure` makes.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::netns::{needs, Netns};
use common::root;

const BIN: &str = env!("CARGO_BIN_EXE_vifkit");

const FORMATS: &[&str] = &[
    "ifcfg-suse",
    "ifcfg-redhat",
    "ifupdown",
    "networkd",
    "nmconnection",
];

#[derive(Debug)]
struct Out {
    status: i32,
    stdout: String,
    stderr: String,
}

fn output(cmd: &mut Command) -> Out {
    let out = cmd
        .env_remove("VIFKIT_DB")
        .env_remove("VIFKIT_REGISTRY")
        .env_remove("VIFKIT_CONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    Out {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn vifkit(db: &Path, args: &[&str]) -> Out {
    output(Command::new(BIN).arg("--db").arg(db).args(args))
}

fn ok(out: Out) -> String {
    assert_eq!(out.status, 0, "{out:?}");
    out.stdout
}

/// A temporary directory with the test's registry in it.
struct Db {
    dir: tempfile::TempDir,
    path: PathBuf,
}

fn db() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    Db { dir, path }
}

/// The bridges every test exports.
const BRIDGES: &[&[&str]] = &[
    &[
        "br0",
        "--uplink",
        "eth0",
        "--mtu",
        "9000",
        "--stp",
        "on",
        "--creatable",
    ],
    &["br900", "--uplink", "bond0", "--vlan", "900", "--creatable"],
    &["br1", "--creatable"],
    &[
        "ovs0", "--kind", "ovs", "--uplink", "eth1", "--stp", "on", "--mtu", "1600",
    ],
];

fn registry_with_bridges() -> Db {
    let d = db();
    for b in BRIDGES {
        let mut args = vec!["bridge", "add"];
        args.extend_from_slice(b);
        ok(vifkit(&d.path, &args));
    }
    d
}

fn golden_path(format: &str) -> PathBuf {
    root().join("tests/export").join(format!("{format}.golden"))
}

#[test]
fn each_format_gives_its_golden_files() {
    let d = registry_with_bridges();
    for format in FORMATS {
        let out = vifkit(&d.path, &["export", "--format", format]);
        assert_eq!(out.status, 0, "{format}: {out:?}");
        let path = golden_path(format);
        if std::env::var_os("TEST_OVERWRITE").is_some() {
            std::fs::write(&path, &out.stdout).unwrap();
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (TEST_OVERWRITE=1 writes it)", path.display()));
        assert_eq!(
            out.stdout,
            want,
            "{format}: stdout differs from {}",
            path.display()
        );
        // Open vSwitch: written where the format has it, one warning line elsewhere.
        let refuses_ovs = matches!(*format, "ifcfg-suse" | "networkd" | "nmconnection");
        if refuses_ovs {
            assert_eq!(out.stderr.lines().count(), 1, "{format}: {out:?}");
            assert!(
                out.stderr
                    .starts_with("warning: Bridge ovs0: an Open vSwitch bridge"),
                "{format}: {out:?}"
            );
            assert!(out.stderr.trim_end().ends_with(": not exported"), "{out:?}");
        } else {
            assert_eq!(out.stderr, "", "{format}");
        }
    }
}

#[test]
fn named_bridges_only_and_refusals_name_the_bridge() {
    let d = registry_with_bridges();
    let out = ok(vifkit(
        &d.path,
        &["export", "--format", "ifupdown", "--bridge", "br1"],
    ));
    assert_eq!(out.matches("==> ").count(), 1, "{out}");
    assert!(out.starts_with("==> vifkit-br1 <==\n"), "{out}");
    // Asked for by name, a bridge the format cannot hold is an error, and so is one the
    // registry does not have; nothing is printed.
    let out = vifkit(
        &d.path,
        &[
            "export", "--format", "networkd", "--bridge", "br0", "--bridge", "ovs0", "--bridge",
            "nope",
        ],
    );
    assert_eq!(out.status, 1, "{out:?}");
    assert_eq!(out.stdout, "");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{out:?}");
    assert_eq!(lines[0], "error: Bridge nope is not in the registry");
    assert!(
        lines[1].starts_with("error: Bridge ovs0: an Open vSwitch bridge cannot be written as systemd-networkd files"),
        "{out:?}"
    );
    // No registry at all: nothing to export, said once.
    let empty = db();
    let out = vifkit(&empty.path, &["export", "--format", "networkd"]);
    assert_eq!(out.status, 0, "{out:?}");
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        "warning: No bridge in the registry: nothing to export\n"
    );
    assert!(!empty.path.exists(), "export created a registry");
}

/// The sorted `NAME: WORD` lines of an `--out` run, without the directory.
fn outcome(out: &str, dir: &Path) -> Vec<String> {
    let prefix = format!("{}/", dir.display());
    let mut v: Vec<String> = out
        .lines()
        .map(|l| l.strip_prefix(&prefix).unwrap_or(l).to_owned())
        .collect();
    v.sort();
    v
}

fn tree(dir: &Path) -> Vec<(String, String, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut v = Vec::new();
    for e in walk(dir) {
        let m = std::fs::metadata(&e).unwrap();
        let rel = e.strip_prefix(dir).unwrap().display().to_string();
        v.push((
            rel,
            std::fs::read_to_string(&e).unwrap(),
            m.permissions().mode() & 0o777,
        ));
    }
    v.sort();
    v
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn out_dir_is_written_once_then_unchanged_and_foreign_files_stay() {
    let d = registry_with_bridges();
    for format in FORMATS {
        let dir = tempfile::tempdir().unwrap();
        let dir = dir.path();
        let printed = ok(vifkit(&d.path, &["export", "--format", format]));
        let first = outcome(
            &ok(vifkit(
                &d.path,
                &["export", "--format", format, "--out", dir.to_str().unwrap()],
            )),
            dir,
        );
        assert!(!first.is_empty());
        assert!(
            first.iter().all(|l| l.ends_with(": written")),
            "{format}: {first:?}"
        );
        // What is written is what is printed, file for file.
        let files = tree(dir);
        for (rel, text, mode) in &files {
            assert!(
                printed.contains(&format!("==> {rel} <==\n{text}")),
                "{format}: {rel} differs from the printed one"
            );
            let want = if *format == "nmconnection" {
                0o600
            } else {
                0o644
            };
            assert_eq!(*mode, want, "{format}: {rel}");
        }
        let again = outcome(
            &ok(vifkit(
                &d.path,
                &["export", "--format", format, "--out", dir.to_str().unwrap()],
            )),
            dir,
        );
        assert_eq!(
            again,
            first
                .iter()
                .map(|l| l.replace(": written", ": unchanged"))
                .collect::<Vec<_>>(),
            "{format}"
        );
        assert_eq!(tree(dir), files, "{format}: a second export changed files");
    }

    // A changed registry replaces what export wrote, and only that.
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let out_arg = dir.to_str().unwrap();
    ok(vifkit(
        &d.path,
        &["export", "--format", "ifcfg-redhat", "--out", out_arg],
    ));
    ok(vifkit(&d.path, &["bridge", "del", "br1"]));
    ok(vifkit(
        &d.path,
        &["bridge", "add", "br1", "--mtu", "1400", "--creatable"],
    ));
    let third = outcome(
        &ok(vifkit(
            &d.path,
            &["export", "--format", "ifcfg-redhat", "--out", out_arg],
        )),
        dir,
    );
    assert!(
        third.contains(&"ifcfg-br1: replaced".to_owned()),
        "{third:?}"
    );
    assert!(
        third.contains(&"ifcfg-br0: unchanged".to_owned()),
        "{third:?}"
    );
    assert!(std::fs::read_to_string(dir.join("ifcfg-br1"))
        .unwrap()
        .contains("\nMTU=1400\n"));

    // A file vifkit did not write is never replaced, and then nothing at all is written.
    let fresh = tempfile::tempdir().unwrap();
    let fresh = fresh.path();
    let own = "DEVICE=eth0\nONBOOT=yes\nBOOTPROTO=dhcp\n";
    std::fs::write(fresh.join("ifcfg-eth0"), own).unwrap();
    let out = vifkit(
        &d.path,
        &[
            "export",
            "--format",
            "ifcfg-redhat",
            "--out",
            fresh.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status, 1, "{out:?}");
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        format!(
            "error: {}/ifcfg-eth0 exists and was not written by vifkit export: not replaced \
             (move it away, or leave this bridge out with --bridge)\n",
            fresh.display()
        )
    );
    assert_eq!(
        std::fs::read_to_string(fresh.join("ifcfg-eth0")).unwrap(),
        own
    );
    assert_eq!(
        walk(fresh).len(),
        1,
        "files were written beside the refusal"
    );
    // Leaving that bridge out works.
    let out = ok(vifkit(
        &d.path,
        &[
            "export",
            "--format",
            "ifcfg-redhat",
            "--out",
            fresh.to_str().unwrap(),
            "--bridge",
            "br1",
        ],
    ));
    assert_eq!(outcome(&out, fresh), ["ifcfg-br1: written"]);
    // A directory in a file's place is refused too.
    let odd = tempfile::tempdir().unwrap();
    std::fs::create_dir(odd.path().join("vifkit-br1")).unwrap();
    let out = vifkit(
        &d.path,
        &[
            "export",
            "--format",
            "ifupdown",
            "--out",
            odd.path().to_str().unwrap(),
        ],
    );
    assert_eq!(out.status, 1, "{out:?}");
    assert!(
        out.stderr
            .contains("vifkit-br1 exists and is not a regular file"),
        "{out:?}"
    );
}

#[test]
fn bridge_names_the_formats_cannot_carry_are_refused() {
    let d = db();
    // Legal for the kernel, but a glob in networkd's [Match] and a quote in ifcfg.
    ok(vifkit(&d.path, &["bridge", "add", "br*'x", "--creatable"]));
    for format in FORMATS {
        let out = vifkit(
            &d.path,
            &["export", "--format", format, "--bridge", "br*'x"],
        );
        assert_eq!(out.status, 1, "{format}: {out:?}");
        assert!(
            out.stderr.contains("has characters") && out.stderr.contains("cannot carry"),
            "{format}: {out:?}"
        );
    }
}

/// Runs a tool, failing the test with the package to install when it is missing.
fn tool(program: &str, package: &str) -> Command {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{program} is missing: packaging/install-deps.sh installs {package}"
    );
    Command::new(program)
}

fn export_to(d: &Db, format: &str, bridges: &[&str]) -> PathBuf {
    let dir = d.dir.path().join(format);
    std::fs::create_dir_all(&dir).unwrap();
    let mut args = vec!["export", "--format", format, "--out", dir.to_str().unwrap()];
    for b in bridges {
        args.extend(["--bridge", b]);
    }
    ok(vifkit(&d.path, &args));
    dir
}

#[test]
fn ifquery_reads_the_ifupdown_stanzas() {
    let d = registry_with_bridges();
    let dir = export_to(&d, "ifupdown", &[]);
    // As /etc/network/interfaces would take them: `source interfaces.d/*`.
    let interfaces = d.dir.path().join("interfaces");
    std::fs::write(&interfaces, format!("source {}/*\n", dir.display())).unwrap();
    let query = |args: &[&str]| {
        let out = output(
            tool("ifquery", "ifupdown")
                .arg("-i")
                .arg(&interfaces)
                .args(args),
        );
        // ifquery reports a stanza it cannot read on stderr, and skips it.
        assert_eq!(
            (out.status, out.stderr.as_str()),
            (0, ""),
            "ifquery {args:?}: {out:?}"
        );
        out.stdout
    };
    let mut auto: Vec<String> = query(&["--list", "-a"])
        .lines()
        .map(str::to_owned)
        .collect();
    auto.sort();
    // ifupdown adds lo itself.
    assert_eq!(auto, ["br0", "br1", "br900", "lo"]);
    assert_eq!(query(&["--list", "--allow=ovs"]), "ovs0\n");
    assert_eq!(query(&["--list", "--allow=ovs0"]), "eth1\n");
    assert_eq!(
        query(&["br0"]),
        "bridge_ports: eth0\nbridge_stp: on\nbridge_maxwait: 0\nmtu: 9000\n"
    );
    assert_eq!(
        query(&["br900"]),
        "bridge_ports: bond0.900\nbridge_stp: off\nbridge_maxwait: 0\n"
    );
    assert_eq!(
        query(&["br1"]),
        "bridge_ports: none\nbridge_stp: off\nbridge_maxwait: 0\n"
    );
    assert_eq!(
        query(&["ovs0"]),
        "ovs_type: OVSBridge\novs_ports: eth1\novs_extra: set bridge ovs0 stp_enable=true -- \
         set interface ovs0 mtu_request=1600\n"
    );
    assert_eq!(query(&["eth1"]), "ovs_bridge: ovs0\novs_type: OVSPort\n");
    // ifquery can fail: a stanza it cannot read is named, with its line (on stderr;
    // ifquery skips it and exits 0).
    std::fs::write(dir.join("broken"), "iface br7 inet nosuchmethod\n").unwrap();
    let out = output(
        tool("ifquery", "ifupdown")
            .arg("-i")
            .arg(&interfaces)
            .args(["--list", "-a"]),
    );
    assert!(
        out.stderr.contains("/broken:1: unknown or no method"),
        "{out:?}"
    );
}

#[test]
fn libnm_reads_the_keyfiles() {
    let d = registry_with_bridges();
    let dir = export_to(&d, "nmconnection", &["br0", "br900", "br1"]);
    let mut files: Vec<PathBuf> = walk(&dir);
    files.sort();
    let checker = root().join("tests/export/nm-keyfile-check.py");
    let run = |files: &[PathBuf]| {
        output(
            tool("/usr/bin/python3", "python3-gi and gir1.2-nm-1.0")
                .arg(&checker)
                .args(files),
        )
    };
    let out = run(&files);
    assert_eq!(out.status, 0, "{out:?}");
    assert_eq!(
        out.stdout,
        "vifkit-bond0.900.nmconnection vifkit-bond0.900 vlan bond0.900 master=br900 \
         slave-type=bridge vlan=bond0:900\n\
         vifkit-br0.nmconnection vifkit-br0 bridge br0 master=None slave-type=None stp=True \
         mtu=9000\n\
         vifkit-br1.nmconnection vifkit-br1 bridge br1 master=None slave-type=None stp=False\n\
         vifkit-br900.nmconnection vifkit-br900 bridge br900 master=None slave-type=None \
         stp=False\n\
         vifkit-eth0.nmconnection vifkit-eth0 802-3-ethernet eth0 master=br0 \
         slave-type=bridge mtu=9000\n"
    );
    // The checker can fail: a value libnm warns about.
    let bad = d.dir.path().join("bad.nmconnection");
    let text = std::fs::read_to_string(&files[2])
        .unwrap()
        .replace("stp=false", "stp=maybe");
    std::fs::write(&bad, text).unwrap();
    let out = run(std::slice::from_ref(&bad));
    assert_eq!(out.status, 1, "{out:?}");
    assert!(out.stderr.contains("warning"), "{out:?}");
}

#[test]
fn ifcfg_files_read_as_initscripts_and_wicked_source_them() {
    let d = registry_with_bridges();
    for (format, want) in [
        (
            "ifcfg-redhat",
            &[
                ("ifcfg-br0", "BOOTPROTO=none DEVICE=br0 MTU=9000 ONBOOT=yes STP=yes TYPE=Bridge"),
                ("ifcfg-eth0", "BOOTPROTO=none BRIDGE=br0 DEVICE=eth0 MTU=9000 ONBOOT=yes"),
                (
                    "ifcfg-bond0.900",
                    "BOOTPROTO=none BRIDGE=br900 DEVICE=bond0.900 ONBOOT=yes PHYSDEV=bond0 VLAN=yes",
                ),
                (
                    "ifcfg-ovs0",
                    "BOOTPROTO=none DEVICE=ovs0 DEVICETYPE=ovs ONBOOT=yes OVS_EXTRA=set bridge \
                     ovs0 stp_enable=true -- set interface ovs0 mtu_request=1600 TYPE=OVSBridge",
                ),
                (
                    "ifcfg-eth1",
                    "BOOTPROTO=none DEVICE=eth1 DEVICETYPE=ovs ONBOOT=yes OVS_BRIDGE=ovs0 TYPE=OVSPort",
                ),
            ][..],
        ),
        (
            "ifcfg-suse",
            &[
                (
                    "ifcfg-br0",
                    "BOOTPROTO=none BRIDGE=yes BRIDGE_PORTS=eth0 BRIDGE_STP=on MTU=9000 STARTMODE=auto",
                ),
                (
                    "ifcfg-bond0.900",
                    "BOOTPROTO=none ETHERDEVICE=bond0 STARTMODE=auto VLAN_ID=900",
                ),
                (
                    "ifcfg-br1",
                    "BOOTPROTO=none BRIDGE=yes BRIDGE_PORTS= BRIDGE_STP=off STARTMODE=auto",
                ),
            ][..],
        ),
    ] {
        let dir = export_to(&d, format, &[]);
        for (file, vars) in want {
            // Every line a comment or an assignment, and sourced by a shell as
            // initscripts do: the values the shell sees.
            let text = std::fs::read_to_string(dir.join(file)).unwrap();
            for l in text.lines() {
                assert!(
                    l.starts_with('#') || l.split_once('=').is_some_and(|(k, _)| !k.is_empty()
                        && k.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')),
                    "{format} {file}: {l}"
                );
            }
            let out = output(
                Command::new("bash")
                    .arg("-c")
                    .arg(
                        "set -eu; . \"$1\"; for v in $(sed -n 's/^\\([A-Z_]*\\)=.*/\\1/p' \"$1\"); \
                         do printf '%s=%s\\n' \"$v\" \"${!v}\"; done",
                    )
                    .arg("bash")
                    .arg(dir.join(file)),
            );
            assert_eq!(out.status, 0, "{format} {file}: {out:?}");
            let mut got: Vec<&str> = out.stdout.lines().collect();
            got.sort();
            assert_eq!(got.join(" "), *vars, "{format} {file}");
        }
    }
}

// ----- in network namespaces: the exported files brought up by the real tools -----

/// A bridge as the tests compare it: kind, MTU, STP, and its ports with their MTUs.
#[derive(Debug, PartialEq, Eq)]
struct BridgeState {
    kind: String,
    mtu: u64,
    stp: u64,
    up: bool,
    ports: Vec<(String, u64)>,
}

fn bridge_state(ns: &Netns, name: &str) -> Option<BridgeState> {
    let links = ns.links();
    let br = links.iter().find(|l| l["ifname"] == name)?;
    let mut ports: Vec<(String, u64)> = links
        .iter()
        .filter(|l| l["master"] == name)
        .map(|l| {
            (
                l["ifname"].as_str().unwrap().to_owned(),
                l["mtu"].as_u64().unwrap(),
            )
        })
        .collect();
    ports.sort();
    Some(BridgeState {
        kind: br["linkinfo"]["info_kind"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
        mtu: br["mtu"].as_u64().unwrap(),
        stp: br["linkinfo"]["info_data"]["stp_state"]
            .as_u64()
            .unwrap_or(99),
        up: br["flags"].as_array().unwrap().iter().any(|f| f == "UP"),
        ports,
    })
}

/// A namespace with the uplinks the registry names (veths: this kernel may lack
/// bonding, and a veth called bond0 is a device of that name all the same).
fn ns_with_uplinks() -> Netns {
    let ns = Netns::new();
    ns.ip(&[
        "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p",
    ]);
    ns.ip(&[
        "link", "add", "bond0", "type", "veth", "peer", "name", "bond0p",
    ]);
    ns
}

/// What `vifkit bridge ensure` makes of each bridge, in a namespace of its own.
fn ensured(d: &Db, bridges: &[&str]) -> Vec<BridgeState> {
    let ns = ns_with_uplinks();
    bridges
        .iter()
        .map(|b| {
            let out = output(
                ns.cmd(BIN)
                    .arg("--db")
                    .arg(&d.path)
                    .args(["bridge", "ensure", b]),
            );
            assert_eq!(out.status, 0, "ensure {b}: {out:?}");
            bridge_state(&ns, b).unwrap()
        })
        .collect()
}

/// Polls `cond` until it holds or `secs` pass.
fn wait_for(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn ifup(ns: &Netns, d: &Db, dir: &Path, bridge: &str) {
    let state = d.dir.path().join("ifstate");
    std::fs::create_dir_all(&state).unwrap();
    let out = output(
        ns.cmd("ifup")
            .arg("-i")
            .arg(dir.join(format!("vifkit-{bridge}")))
            .arg("--state-dir")
            .arg(&state)
            .arg(bridge),
    );
    assert_eq!(out.status, 0, "ifup {bridge}: {out:?}");
}

#[test]
#[ignore = "needs root: network namespaces, ifup"]
fn ifup_of_the_ifupdown_export_builds_what_bridge_ensure_builds() {
    tool("ifup", "ifupdown");
    tool("brctl", "bridge-utils");
    let d = registry_with_bridges();
    let dir = export_to(&d, "ifupdown", &["br0", "br1"]);
    let ns = ns_with_uplinks();
    for b in ["br0", "br1"] {
        ifup(&ns, &d, &dir, b);
    }
    let got: Vec<BridgeState> = ["br0", "br1"]
        .iter()
        .map(|b| bridge_state(&ns, b).unwrap())
        .collect();
    let want = ensured(&d, &["br0", "br1"]);
    assert_eq!(got, want);
    // And it is the registry's bridge, not merely the same mistake twice.
    assert_eq!(
        got[0],
        BridgeState {
            kind: "bridge".into(),
            mtu: 9000,
            stp: 1,
            up: true,
            ports: vec![("eth0".into(), 9000)],
        }
    );
    assert_eq!((got[1].mtu, got[1].stp, got[1].ports.len()), (1500, 0, 0));
}

#[test]
#[ignore = "needs root: network namespaces, ifup, 802.1Q"]
fn kernel_with_8021q_ifup_builds_the_vlan_bridge_bridge_ensure_builds() {
    tool("ifup", "ifupdown");
    let d = registry_with_bridges();
    let dir = export_to(&d, "ifupdown", &["br900"]);
    let ns = ns_with_uplinks();
    ifup(&ns, &d, &dir, "br900");
    let got = bridge_state(&ns, "br900").unwrap();
    let vlan = ns
        .link("bond0.900")
        .unwrap_or_else(|| panic!("{}", needs("802.1Q VLAN devices", "8021q")));
    assert_eq!(vlan["linkinfo"]["info_data"]["id"], 900);
    assert_eq!(got, ensured(&d, &["br900"]).remove(0));
    assert_eq!(got.ports, [("bond0.900".to_owned(), 1500)]);
}

/// systemd-networkd running in `ns` on `dir`'s files, killed and waited for on drop.
struct Networkd {
    child: Child,
    log: PathBuf,
}

impl Networkd {
    fn start(ns: &Netns, dir: &Path, log: PathBuf) -> Networkd {
        assert!(
            Path::new("/lib/systemd/systemd-networkd").exists(),
            "/lib/systemd/systemd-networkd is missing: packaging/install-deps.sh installs systemd"
        );
        let child = ns
            .cmd("unshare")
            .args(["-m", "--propagation", "private", "bash"])
            .arg(root().join("tests/export/networkd-in-netns.sh"))
            .arg(dir)
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("runs");
        Networkd { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Networkd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
#[ignore = "needs root: network namespaces, a private mount namespace for systemd-networkd"]
fn networkd_reads_the_networkd_export_cleanly_and_builds_what_bridge_ensure_builds() {
    let d = registry_with_bridges();
    let dir = export_to(&d, "networkd", &["br0", "br1", "br900"]);
    let ns = ns_with_uplinks();
    let nd = Networkd::start(&ns, &dir, d.dir.path().join("networkd.log"));
    let done = || {
        let br0 = bridge_state(&ns, "br0");
        let br1 = bridge_state(&ns, "br1");
        matches!((&br0, &br1), (Some(a), Some(b)) if a.up && b.up && a.ports.len() == 1 && a.ports[0].1 == 9000)
    };
    let ready = wait_for(30, done);
    let log = nd.log();
    assert!(
        ready,
        "networkd did not build br0 and br1 in 30 s; its log:\n{log}"
    );
    // Every line networkd has to say about a file it parsed names the file and line.
    let complaints: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains("50-vifkit-")
                && l.contains(".net")
                && l.split(':')
                    .nth(1)
                    .is_some_and(|n| n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty())
        })
        .collect();
    assert!(
        complaints.is_empty(),
        "networkd complained:\n{}",
        complaints.join("\n")
    );
    assert!(
        log.contains("found matching network '/etc/systemd/network/50-vifkit-eth0.network'"),
        "{log}"
    );
    let got: Vec<BridgeState> = ["br0", "br1"]
        .iter()
        .map(|b| bridge_state(&ns, b).unwrap())
        .collect();
    drop(nd);
    assert_eq!(got, ensured(&d, &["br0", "br1"]));

    // The check can fail: a key networkd does not know is reported with its file and line.
    let ns = Netns::new();
    let bad = d.dir.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(
        bad.join("50-vifkit-br1.netdev"),
        "[NetDev]\nName=br1\nKind=bridge\n\n[Bridge]\nSTPP=yes\n",
    )
    .unwrap();
    let nd = Networkd::start(&ns, &bad, d.dir.path().join("bad.log"));
    assert!(
        wait_for(30, || bridge_state(&ns, "br1").is_some()),
        "{}",
        nd.log()
    );
    assert!(
        nd.log()
            .contains("/etc/systemd/network/50-vifkit-br1.netdev:6: Unknown key"),
        "{}",
        nd.log()
    );
}
