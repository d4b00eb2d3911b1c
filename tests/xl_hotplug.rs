//! The hotplug script as xl runs it, for what Xen's `vif-common.sh` and friends do
//! beyond wiring: the `ip=` anti-spoofing guard of a bridged vif (a guest namespace
//! behind the vif sends real and spoofed packets), the administrator's `vif-post.d`
//! hooks, one syslog line per action, `xl network-attach`/`network-detach` of a running
//! guest (the xenstore writes, arguments and environment libxl uses), and `vif-vifkit`
//! choosing Open vSwitch on a private userspace Open vSwitch.
//!
//! Each test installs the wrappers (`install-xen-scripts --root`) in a directory of its
//! own, with a `vifkit.toml` naming its registry and `xen-scripts-dir`, and runs them by
//! their installed path, with libxl's environment only, inside a network namespace made
//! for it. xenstore is the directory stand-in (`VIFKIT_XENSTORE_DIR`): Xen's own
//! xenstored does not run without a hypervisor (docs/hotplug.md says why).

mod common;

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::netns::Netns;
use registry::{Registry, SqliteRegistry};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_vifkit");

/// An xl host in miniature: a namespace, the installed wrappers, a registry, a config
/// file and a xenstore directory.
struct Xl {
    ns: Netns,
    dir: tempfile::TempDir,
    env: Vec<(String, OsString)>,
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

impl Xl {
    fn new() -> Xl {
        let ns = Netns::new();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let out = Command::new(BIN)
            .args([
                "install-xen-scripts",
                "--root",
                d.to_str().unwrap(),
                "--bin",
                BIN,
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        std::fs::write(
            d.join("vifkit.toml"),
            format!(
                "registry = \"sqlite:{}\"\nxen-scripts-dir = \"{}\"\n",
                d.join("registry.db").display(),
                d.join("etc/xen/scripts").display()
            ),
        )
        .unwrap();
        Xl {
            ns,
            dir,
            env: Vec::new(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Writes a xenstore key.
    fn key(&self, k: &str, v: &str) {
        let p = self.path("xenstore").join(k.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, v).unwrap();
    }

    fn read(&self, k: &str) -> Option<String> {
        std::fs::read_to_string(self.path("xenstore").join(k.trim_start_matches('/'))).ok()
    }

    /// `vifkit --config CFG ARGS...` on the host side (the registry).
    fn vifkit(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .arg("--config")
            .arg(self.path("vifkit.toml"))
            .args(args)
            .env_remove("VIFKIT_DB")
            .output()
            .unwrap()
    }

    fn registry(&self) -> SqliteRegistry {
        SqliteRegistry::open(self.path("registry.db")).unwrap()
    }

    /// Runs the installed `script` as libxl runs a vif's hotplug script
    /// (`libxl__hotplug_nic` and `get_hotplug_env`): `SCRIPT online|offline
    /// type_if=vif`, environment `script`, `XENBUS_TYPE`, `XENBUS_PATH`,
    /// `XENBUS_BASE_PATH`, `netdev` and `vif` (`vifD.N`) only, plus the test's set-up.
    fn hotplug(&self, script: &str, action: &str, domid: u32, devid: u32) -> Output {
        let prog = self.path("etc/xen/scripts").join(script);
        let mut c = self.ns.cmd(prog.to_str().unwrap());
        c.args([action, "type_if=vif"])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("script", &prog)
            .env("XENBUS_TYPE", "vif")
            .env("XENBUS_PATH", format!("backend/vif/{domid}/{devid}"))
            .env("XENBUS_BASE_PATH", "backend")
            .env("netdev", "")
            .env("vif", format!("vif{domid}.{devid}"))
            .env("VIFKIT_CONFIG", self.path("vifkit.toml"))
            .env("VIFKIT_XENSTORE_DIR", self.path("xenstore"))
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null());
        c.output().unwrap()
    }

    /// A device standing in for netback's `vifD.N`, its peer `peer` left in the namespace.
    fn vif(&self, dev: &str, peer: &str) {
        self.ns
            .ip(&["link", "add", dev, "type", "veth", "peer", "name", peer]);
    }

    fn bridge(&self, name: &str) {
        self.ns.ip(&["link", "add", name, "type", "bridge"]);
        self.ns.ip(&["link", "set", name, "up"]);
    }

    /// The rules of `table bridge vifkit` as `(comment, packets)`; `None` without it.
    fn guard_rules(&self) -> Option<Vec<(String, u64)>> {
        let out = self
            .ns
            .cmd("nft")
            .args(["-j", "list", "table", "bridge", "vifkit"])
            .output()
            .expect("nft runs (package nftables)");
        if !out.status.success() {
            return None;
        }
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        Some(
            v["nftables"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|o| o.get("rule"))
                .map(|r| {
                    let packets = r["expr"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find_map(|e| e.get("counter")?.get("packets")?.as_u64())
                        .unwrap_or(0);
                    (r["comment"].as_str().unwrap_or("").to_owned(), packets)
                })
                .collect(),
        )
    }
}

fn ok(o: &Output) {
    assert!(o.status.success() && o.stdout.is_empty(), "{}", text(o));
}

/// ICMP echo requests the namespace's stack has taken (`Icmp: InEchos`).
fn in_echos(ns: &Netns) -> u64 {
    let out = ns.cmd("cat").arg("/proc/net/snmp").output().unwrap();
    let snmp = String::from_utf8(out.stdout).unwrap();
    let mut icmp = snmp.lines().filter(|l| l.starts_with("Icmp: "));
    let (names, values) = (icmp.next().unwrap(), icmp.next().unwrap());
    let i = names
        .split_whitespace()
        .position(|n| n == "InEchos")
        .unwrap();
    values.split_whitespace().nth(i).unwrap().parse().unwrap()
}

fn ping(guest: &Netns, from: &str, to: &str) -> bool {
    guest
        .cmd("ping")
        .args(["-n", "-q", "-c", "1", "-W", "1", "-I", from, to])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("ping runs (package iputils-ping)")
        .success()
}

/// `ip=10.9.0.2` on a bridged vif: the guest behind it reaches dom0 from its own address;
/// from another address it set itself its packets are dropped at the port (the host's
/// stack never sees them, the guard's counter does); offline removes the guard with its
/// table. An online that fails after the guard went on leaves no rule behind, and one
/// without `nft` is refused rather than wired unguarded.
#[test]
#[ignore = "needs root: network namespaces, nftables"]
fn ip_guard_drops_what_the_guest_sends_from_another_address() {
    let mut xl = Xl::new();
    let guest = Netns::new();
    xl.bridge("xenbr0");
    xl.ns.ip(&["addr", "add", "10.9.0.1/24", "dev", "xenbr0"]);
    xl.vif("vif5.0", "eth0");
    xl.ns.ip(&["link", "set", "eth0", "netns", guest.name()]);
    for a in ["10.9.0.2/24", "10.9.0.66/24"] {
        guest.ip(&["addr", "add", a, "dev", "eth0"]);
    }
    guest.ip(&["link", "set", "eth0", "up"]);
    xl.key("backend/vif/5/0/bridge", "xenbr0");
    xl.key("backend/vif/5/0/ip", "10.9.0.2");
    xl.key("backend/vif/5/0/script", "/etc/xen/scripts/vif-vifkit");

    let out = xl.hotplug("vif-vifkit", "online", 5, 0);
    ok(&out);
    assert_eq!(
        xl.read("backend/vif/5/0/hotplug-status").as_deref(),
        Some("connected")
    );
    assert_eq!(xl.ns.link("vif5.0").unwrap()["master"], "xenbr0");
    // The guest knows dom0's MAC (the bridge's, now it has a port): what is dropped
    // below is IP, not the guest's ARP.
    let mac = xl.ns.link("xenbr0").unwrap()["address"]
        .as_str()
        .unwrap()
        .to_owned();
    let neigh = format!("neigh add 10.9.0.1 lladdr {mac} dev eth0 nud permanent");
    guest.ip(&neigh.split(' ').collect::<Vec<_>>());
    let rules = xl.guard_rules().expect("table bridge vifkit");
    let kinds: Vec<&str> = rules
        .iter()
        .map(|(c, _)| c.split(' ').nth(2).unwrap_or(""))
        .collect();
    assert_eq!(
        kinds,
        [
            "guard=vlan",
            "guard=dhcp",
            "guard=ipv4",
            "guard=arp",
            "guard=ipv6"
        ],
        "{rules:?}"
    );

    let before = in_echos(&xl.ns);
    assert!(
        ping(&guest, "10.9.0.2", "10.9.0.1"),
        "the guest's own address"
    );
    assert_eq!(in_echos(&xl.ns), before + 1);
    assert!(
        !ping(&guest, "10.9.0.66", "10.9.0.1"),
        "a spoofed address got a reply"
    );
    assert_eq!(in_echos(&xl.ns), before + 1, "dom0 saw the spoofed request");
    let dropped = |rules: &[(String, u64)]| {
        rules
            .iter()
            .find(|(c, _)| c.contains("guard=ipv4"))
            .map(|(_, p)| *p)
            .unwrap()
    };
    assert!(dropped(&xl.guard_rules().unwrap()) >= 1);

    let out = xl.hotplug("vif-vifkit", "offline", 5, 0);
    ok(&out);
    assert_eq!(xl.guard_rules(), None, "offline left the table");
    assert!(xl.ns.link("vif5.0").unwrap().get("master").is_none());

    // Online of a device that is not there: the guard went on first, and is gone again.
    xl.key("backend/vif/5/1/bridge", "xenbr0");
    xl.key("backend/vif/5/1/ip", "10.9.0.3");
    let out = xl.hotplug("vif-vifkit", "online", 5, 1);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        xl.read("backend/vif/5/1/hotplug-status").as_deref(),
        Some("error")
    );
    assert_eq!(xl.guard_rules(), None, "a failed online left rules");

    // Without nft the guard cannot go on: the vif is refused, not wired unguarded.
    // (`ip`, which runs the script in the namespace, is all there is on PATH.)
    let bin = xl.path("bin-without-nft");
    std::fs::create_dir_all(&bin).unwrap();
    let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("ip (iproute2)");
    std::os::unix::fs::symlink(ip, bin.join("ip")).unwrap();
    xl.env.push(("PATH".into(), bin.into()));
    let out = xl.hotplug("vif-vifkit", "online", 5, 0);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: vif5.0: Cannot apply the ip= anti-spoofing rules: Cannot run nft (package \
         nftables): No such file or directory (os error 2)\n"
    );
    assert_eq!(
        xl.read("backend/vif/5/0/hotplug-status").as_deref(),
        Some("error")
    );
    assert!(xl.ns.link("vif5.0").unwrap().get("master").is_none());
}

fn write_hook(dir: &Path, name: &str, body: &str, mode: u32) {
    std::fs::create_dir_all(dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The administrator's `vif-post.d/*.hook` files run after each action, in order, with
/// Xen's variables; one that is not executable is skipped with a warning; one that fails
/// fails `online`, which is then undone.
#[test]
#[ignore = "needs root: a network namespace"]
fn vif_post_hooks_run_after_each_action_with_xens_variables() {
    let xl = Xl::new();
    xl.bridge("xenbr0");
    xl.vif("vif6.0", "p60");
    xl.key("backend/vif/6/0/bridge", "xenbr0");
    xl.key("backend/vif/6/0/vifname", "vifdave.0");
    let hooks = xl.path("etc/xen/scripts/vif-post.d");
    let log = xl.path("hooks.log");
    let line = format!(
        "echo \"$(basename $0) $command $type_if $vif $dev $XENBUS_PATH bridge=$bridge \
         script=$script master=$(cat /sys/class/net/$dev/master/uevent 2>/dev/null | \
         sed -n 's/^INTERFACE=//p')\" >> {}\n",
        log.display()
    );
    write_hook(&hooks, "10-first.hook", &line, 0o755);
    write_hook(
        &hooks,
        "20-second.hook",
        &format!("#!/bin/sh\n{line}"),
        0o755,
    );
    write_hook(&hooks, "30-off.hook", &line, 0o644);

    let out = xl.hotplug("vif-vifkit", "online", 6, 0);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: vif6.0: skipped hook ")
            && stderr.contains("30-off.hook: not an executable file"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "10-first.hook online vif vifdave.0 vifdave.0 backend/vif/6/0 bridge=xenbr0 \
         script=vif-bridge master=xenbr0\n\
         20-second.hook online vif vifdave.0 vifdave.0 backend/vif/6/0 bridge=xenbr0 \
         script=vif-bridge master=xenbr0\n"
    );
    std::fs::remove_file(&log).unwrap();
    ok(&xl.hotplug("vif-vifkit", "offline", 6, 0));
    assert_eq!(
        std::fs::read_to_string(&log).unwrap().lines().next(),
        Some(
            "10-first.hook offline vif vifdave.0 vifdave.0 backend/vif/6/0 bridge=xenbr0 \
             script=vif-bridge master="
        )
    );

    // A failing hook: online fails naming it, and the port is off the bridge again.
    write_hook(
        &hooks,
        "15-fail.hook",
        "#!/bin/sh\necho no >&2\nexit 4\n",
        0o755,
    );
    let out = xl.hotplug("vif-vifkit", "online", 6, 0);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = xl.read("backend/vif/6/0/hotplug-error").unwrap();
    assert!(
        err.contains("15-fail.hook failed (exit status: 4)"),
        "{err}"
    );
    assert_eq!(
        xl.read("backend/vif/6/0/hotplug-status").as_deref(),
        Some("error")
    );
    assert!(xl.ns.link("vifdave.0").unwrap().get("master").is_none());
}

/// Every run says one line to the system log as `vifkit-hotplug`, failures included
/// (a socket the test binds stands in for `/dev/log`).
#[test]
#[ignore = "needs root: a network namespace"]
fn each_action_is_one_syslog_line() {
    let mut xl = Xl::new();
    let sock = xl.path("log.sock");
    let rx = UnixDatagram::bind(&sock).unwrap();
    rx.set_nonblocking(true).unwrap();
    xl.env
        .push(("VIFKIT_SYSLOG_SOCKET".into(), sock.clone().into()));
    xl.bridge("xenbr0");
    xl.vif("vif7.0", "p70");
    xl.key("backend/vif/7/0/bridge", "xenbr0");
    let lines = || {
        let mut out = Vec::new();
        let mut buf = [0u8; 2048];
        while let Ok(n) = rx.recv(&mut buf) {
            let l = String::from_utf8_lossy(&buf[..n]).into_owned();
            // <PRI>Mmm dd hh:mm:ss IDENT[PID]: MESSAGE
            let (pri, rest) = l[1..].split_once('>').unwrap();
            let msg = rest[16..].split_once("]: ").unwrap();
            assert!(msg.0.starts_with("vifkit-hotplug["), "{l}");
            out.push(format!("{pri} {}", msg.1));
        }
        out
    };
    ok(&xl.hotplug("vif-vifkit", "online", 7, 0));
    // daemon.info = 30, daemon.err = 27.
    assert_eq!(lines(), ["30 vif7.0: online vif-bridge bridge xenbr0"]);
    ok(&xl.hotplug("vif-vifkit", "offline", 7, 0));
    assert_eq!(lines(), ["30 vif7.0: offline vif-bridge bridge xenbr0"]);
    xl.key("backend/vif/7/0/bridge", "nosuchbr");
    let out = xl.hotplug("vif-vifkit", "online", 7, 0);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let got = lines();
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].starts_with("27 vif7.0: online failed: Bridge nosuchbr does not exist"),
        "{got:?}"
    );
}

/// `xl network-attach` and `network-detach` of a running guest, as libxl does them:
/// attach writes the backend keys (`libxl__device_nic_add`), netback's device appears,
/// the script runs `online`; detach sets `online` 0 and `state` 5, runs `offline`, then
/// removes the backend directory. The guest's other NIC is left alone, the registry
/// record comes and goes, and the same device id attaches again.
#[test]
#[ignore = "needs root: a network namespace"]
fn network_attach_and_detach_of_a_running_guest() {
    let xl = Xl::new();
    xl.bridge("xenbr0");
    let out = xl.vifkit(&["bridge", "add", "xenbr0"]);
    assert!(out.status.success(), "{}", text(&out));
    xl.key("/local/domain/9/name", "carol");
    xl.key(
        "/local/domain/9/vm",
        "/vm/0c3a5b2e-7e52-4d4e-9b4b-5b0a9e2e4f11",
    );
    let backend = |devid: u32, mac: &str| {
        let k = |key: &str, v: &str| xl.key(&format!("backend/vif/9/{devid}/{key}"), v);
        k("frontend", &format!("/local/domain/9/device/vif/{devid}"));
        k("frontend-id", "9");
        k("online", "1");
        k("state", "1");
        k("script", "/etc/xen/scripts/vif-vifkit");
        k("mac", mac);
        k("bridge", "xenbr0");
        k("handle", &devid.to_string());
        k("type", "vif");
        // netback moves to InitWait once it made the device; libxl waits for that.
        k("state", "2");
    };
    // The guest runs with NIC 0.
    backend(0, "00:16:3e:00:09:00");
    xl.vif("vif9.0", "p90");
    ok(&xl.hotplug("vif-vifkit", "online", 9, 0));

    for round in 0..2 {
        // xl network-attach carol bridge=xenbr0 mac=00:16:3e:00:09:01
        backend(1, "00:16:3e:00:09:01");
        xl.vif("vif9.1", &format!("p91{round}"));
        ok(&xl.hotplug("vif-vifkit", "online", 9, 1));
        assert_eq!(
            xl.read("backend/vif/9/1/hotplug-status").as_deref(),
            Some("connected")
        );
        assert_eq!(xl.ns.link("vif9.1").unwrap()["master"], "xenbr0");
        let recs: Vec<(u32, u32, String)> = xl
            .registry()
            .attachments()
            .unwrap()
            .into_iter()
            .map(|a| (a.domid, a.devid, a.mac.to_string()))
            .collect();
        assert_eq!(
            recs,
            [
                (9, 0, "00:16:3e:00:09:00".to_owned()),
                (9, 1, "00:16:3e:00:09:01".to_owned())
            ]
        );

        // xl network-detach carol 1
        xl.key("backend/vif/9/1/online", "0");
        xl.key("backend/vif/9/1/state", "5");
        ok(&xl.hotplug("vif-vifkit", "offline", 9, 1));
        // netback removes the device, libxl the backend directory.
        xl.ns.ip(&["link", "del", "vif9.1"]);
        std::fs::remove_dir_all(xl.path("xenstore/backend/vif/9/1")).unwrap();
        let left: Vec<u32> = xl
            .registry()
            .attachments()
            .unwrap()
            .iter()
            .map(|a| a.devid)
            .collect();
        assert_eq!(left, [0], "round {round}");
        assert_eq!(xl.ns.link("vif9.0").unwrap()["master"], "xenbr0");
    }
}

/// Under the one name `vif-vifkit`, a NIC on a bridge registered as Open vSwitch becomes
/// an Open vSwitch port, and so does Xen's `BRIDGE.TAG:TRUNK` form on a bridge the
/// registry does not know (a private userspace Open vSwitch). `ip=` there is not
/// enforced, and the run says so.
#[test]
#[ignore = "needs root: a network namespace and a private Open vSwitch"]
fn vif_vifkit_picks_open_vswitch_for_an_ovs_bridge() {
    let tb =
        hostnet::ovs::testbed::Testbed::start("vif_vifkit_picks_open_vswitch_for_an_ovs_bridge");
    let mut xl = Xl::new();
    xl.env.push(("OVS_RUNDIR".into(), tb.rundir().into()));
    tb.vsctl(&[
        "add-br",
        "ovsbr0",
        "--",
        "set",
        "bridge",
        "ovsbr0",
        "datapath_type=netdev",
    ]);
    tb.vsctl(&[
        "add-br",
        "ovsbr1",
        "--",
        "set",
        "bridge",
        "ovsbr1",
        "datapath_type=netdev",
    ]);
    let out = xl.vifkit(&["bridge", "add", "ovsbr0", "--kind", "ovs"]);
    assert!(out.status.success(), "{}", text(&out));
    xl.vif("vif8.0", "p80");
    xl.vif("vif8.1", "p81");
    xl.key("/local/domain/8/name", "erin");
    xl.key("backend/vif/8/0/bridge", "ovsbr0");
    xl.key("backend/vif/8/0/mac", "00:16:3e:00:08:00");
    xl.key("backend/vif/8/0/ip", "10.9.0.8");
    xl.key("backend/vif/8/1/bridge", "ovsbr1.10:20:30");
    for devid in [0, 1] {
        xl.key(
            &format!("backend/vif/8/{devid}/script"),
            "/etc/xen/scripts/vif-vifkit",
        );
    }
    let out = xl.hotplug("vif-vifkit", "online", 8, 0);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("ip= is not enforced on an Open vSwitch port"),
        "{}",
        text(&out)
    );
    ok(&xl.hotplug("vif-vifkit", "online", 8, 1));
    let field = |port: &str, col: &str| tb.vsctl(&["get", "port", port, col]).trim().to_owned();
    assert_eq!(tb.vsctl(&["port-to-br", "vif8.0"]).trim(), "ovsbr0");
    assert_eq!(tb.vsctl(&["port-to-br", "vif8.1"]).trim(), "ovsbr1");
    assert_eq!(field("vif8.1", "tag"), "10");
    assert_eq!(field("vif8.1", "trunks"), "[20, 30]");
    assert!(tb
        .vsctl(&["get", "interface", "vif8.0", "external-ids"])
        .contains("xen-vm-name=erin"),);
    // No Linux bridge was touched, no guard written.
    assert!(xl.ns.link("vif8.0").unwrap().get("master").is_none());
    assert_eq!(xl.guard_rules(), None);
    ok(&xl.hotplug("vif-vifkit", "offline", 8, 0));
    ok(&xl.hotplug("vif-vifkit", "offline", 8, 1));
    assert_eq!(tb.vsctl(&["list-ports", "ovsbr0"]).trim(), "");
    assert_eq!(tb.vsctl(&["list-ports", "ovsbr1"]).trim(), "");
}
