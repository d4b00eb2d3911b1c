//! The libvirt hooks through the real binary, run exactly as libvirt runs them: argv
//! `OBJECT OP SUBOP EXTRA`, the domain XML (as `virsh dumpxml` prints it) on stdin, a
//! minimal environment (`LC_ALL=C`, `PATH`, no session bus), inside a network namespace
//! made for the test, with a registry of its own. After each step the test looks at the
//! namespace (`ip -j`) and the registry. The namespace needs root: these tests are
//! ignored unless asked for (`--include-ignored`, as `tests/run.sh` does as root). A
//! step needing a kernel feature some kernels lack (802.1Q, bridge VLAN filtering) is a
//! test of its own, named after the feature (see [`common::netns`]).

mod common;
use common::netns::Netns;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use registry::{Bridge, BridgeKind, Driver, Registry, SqliteRegistry, VlanId};
use serde_json::Value;
use translator::IfName;

const BIN: &str = env!("CARGO_BIN_EXE_vifkit");

fn data(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/hooks")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[derive(Debug)]
struct Out {
    status: i32,
    stdout: String,
    stderr: String,
}

/// A network namespace and a registry made for one test; both gone when dropped.
struct Env {
    ns: Netns,
    _dir: tempfile::TempDir,
    db: PathBuf,
}

impl Env {
    fn new() -> Env {
        let ns = Netns::new();
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("registry.db");
        Env { ns, _dir: dir, db }
    }

    fn reg(&self) -> SqliteRegistry {
        SqliteRegistry::open(&self.db).unwrap()
    }

    /// `PROGRAM ARGS...` inside the namespace, environment as libvirt gives a hook.
    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut c = self.ns.cmd(program);
        c.args(args)
            .env_clear()
            .env("LC_ALL", "C")
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", "/root");
        c
    }

    /// Starts `vifkit --db DB hook DRIVER ARGS...` with `xml` on stdin.
    fn spawn_hook(&self, driver: &str, args: &[&str], xml: &str) -> Child {
        let db = self.db.to_str().unwrap();
        let mut all = vec!["--db", db, "hook", driver];
        all.extend_from_slice(args);
        spawn(self.command(BIN, &all), xml)
    }

    fn hook(&self, driver: &str, args: &[&str], xml: &str) -> Out {
        wait(self.spawn_hook(driver, args, xml))
    }

    fn ip(&self, args: &[&str]) -> String {
        self.ns.ip(args)
    }

    fn try_ip(&self, args: &[&str]) -> bool {
        self.ns.try_ip(args)
    }

    fn link(&self, name: &str) -> Option<Value> {
        self.ns.link(name)
    }

    fn bridges(&self) -> Vec<String> {
        self.ns.bridges()
    }

    fn bridge(&self, name: &str) {
        self.ip(&["link", "add", name, "type", "bridge"]);
        self.ip(&["link", "set", name, "up"]);
    }

    /// A guest device on `bridge`, as libxl's hotplug script or QEMU leaves it.
    fn port(&self, dev: &str, bridge: &str) {
        let peer = format!("p{}", self.port_n());
        self.ip(&["link", "add", dev, "type", "veth", "peer", "name", &peer]);
        self.ip(&["link", "set", dev, "master", bridge, "up"]);
    }

    fn port_n(&self) -> usize {
        static P: AtomicUsize = AtomicUsize::new(0);
        P.fetch_add(1, Ordering::Relaxed)
    }
}

fn spawn(mut c: Command, input: &str) -> Child {
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child
}

fn wait(child: Child) -> Out {
    let out = child.wait_with_output().unwrap();
    Out {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn ok(out: Out) -> Out {
    assert_eq!(out.status, 0, "{out:?}");
    assert_eq!(out.stdout, "", "{out:?}");
    out
}

/// A refusal: exit 1, nothing on stdout, the `error: ` lines returned.
fn refused(out: Out) -> Vec<String> {
    assert_eq!(out.status, 1, "{out:?}");
    assert_eq!(out.stdout, "", "{out:?}");
    let lines: Vec<String> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .map(str::to_owned)
        .collect();
    assert!(!lines.is_empty(), "{out:?}");
    lines
}

fn n(s: &str) -> IfName {
    IfName::new(s).unwrap()
}

fn creatable(name: &str) -> Bridge {
    let mut b = Bridge::new(n(name), BridgeKind::Linux);
    b.creatable = true;
    b
}

/// `(backend, emulated, bridge, domid, devid)` of every record.
fn records(reg: &SqliteRegistry) -> Vec<(String, Option<String>, String, u32, u32)> {
    reg.attachments()
        .unwrap()
        .into_iter()
        .map(|a| {
            (
                a.backend.to_string(),
                a.emulated.map(|e| e.to_string()),
                a.bridge.to_string(),
                a.domid,
                a.devid,
            )
        })
        .collect()
}

fn tbf_rate(env: &Env, dev: &str) -> Option<u64> {
    let out = wait(spawn(
        env.command("tc", &["-j", "qdisc", "show", "dev", dev]),
        "",
    ));
    assert_eq!(out.status, 0, "{out:?}");
    let q: Value = serde_json::from_str(&out.stdout).unwrap();
    q.as_array()?
        .iter()
        .find(|q| q["kind"] == "tbf")
        .and_then(|q| q["options"]["rate"].as_u64())
}

#[test]
#[ignore = "needs root: a network namespace"]
fn libxl_pv_and_hvm_guests_from_prepare_to_release() {
    let env = Env::new();
    let reg = env.reg();
    reg.add_bridge(&creatable("xenbr0")).unwrap();
    let (pv, hvm) = (data("libxl-pv.xml"), data("libxl-hvm.xml"));

    // prepare creates the registered bridge, marked as vifkit's.
    ok(env.hook("libxl", &["pv1", "prepare", "begin", "-"], &pv));
    assert_eq!(env.bridges(), ["xenbr0"]);
    assert!(reg.bridge_made(&n("xenbr0")).unwrap());
    assert!(records(&reg).is_empty());
    // libxl creates the vif and its hotplug script plugs it in; then `started`.
    env.port("vif5.0", "xenbr0");
    ok(env.hook("libxl", &["pv1", "started", "begin", "-"], &pv));
    assert_eq!(
        records(&reg),
        [("vif5.0".into(), None, "xenbr0".into(), 5, 0)]
    );
    let a = reg.attachment(Driver::Xen, 5, 0).unwrap().unwrap();
    assert_eq!(a.domain_name.as_str(), "pv1");
    assert_eq!(a.mac.to_string(), "00:16:3e:5e:6c:01");
    assert_eq!(
        a.domain_uuid.unwrap().to_string(),
        "8c1a5f4e-2b7d-4c3e-9f10-5e6d7c8b9a01"
    );
    // libxl's netback does not enforce inbound: no qdisc without <bandwidth><inbound>.
    assert_eq!(tbf_rate(&env, "vif5.0"), None);

    // HVM: an emulated twin for the e1000 NIC, none for netfront; the inbound limit
    // (1024 KiB/s) on both devices of NIC 0.
    ok(env.hook("libxl", &["hvm1", "prepare", "begin", "-"], &hvm));
    for dev in ["vif6.0", "vif6.0-emu", "vif6.1"] {
        env.port(dev, "xenbr0");
    }
    ok(env.hook("libxl", &["hvm1", "started", "begin", "-"], &hvm));
    assert_eq!(
        records(&reg),
        [
            ("vif5.0".into(), None, "xenbr0".into(), 5, 0),
            (
                "vif6.0".into(),
                Some("vif6.0-emu".into()),
                "xenbr0".into(),
                6,
                0
            ),
            ("vif6.1".into(), None, "xenbr0".into(), 6, 1),
        ]
    );
    assert_eq!(tbf_rate(&env, "vif6.0"), Some(1024 * 1024));
    assert_eq!(tbf_rate(&env, "vif6.0-emu"), Some(1024 * 1024));
    assert_eq!(tbf_rate(&env, "vif6.1"), None);

    // pv1 stops: its record goes; the bridge stays (hvm1 is on it).
    env.ip(&["link", "del", "vif5.0"]);
    ok(env.hook("libxl", &["pv1", "stopped", "end", "-"], &pv));
    ok(env.hook("libxl", &["pv1", "release", "end", "-"], &pv));
    assert_eq!(records(&reg).len(), 2);
    assert_eq!(env.bridges(), ["xenbr0"]);
    // hvm1 stops: records gone, and the bridge vifkit created with them.
    for dev in ["vif6.0", "vif6.0-emu", "vif6.1"] {
        env.ip(&["link", "del", dev]);
    }
    ok(env.hook("libxl", &["hvm1", "stopped", "end", "-"], &hvm));
    assert!(records(&reg).is_empty());
    assert!(env.bridges().is_empty());
    assert!(!reg.bridge_made(&n("xenbr0")).unwrap());
    assert!(
        reg.bridge(&n("xenbr0")).unwrap().is_some(),
        "the entry stays"
    );
    ok(env.hook("libxl", &["hvm1", "release", "end", "-"], &hvm));
}

/// A guest that stops never takes a vifkit-made bridge away from a guest that is
/// starting on it: `prepare` claims the bridge until `started` records the NICs.
#[test]
#[ignore = "needs root: a network namespace"]
fn a_stopping_guest_leaves_the_bridge_of_a_starting_one() {
    let env = Env::new();
    let reg = env.reg();
    reg.add_bridge(&creatable("brS")).unwrap();
    let xml = |name: &str, mac: &str| {
        format!(
            "<domain type='xen'>\n  <name>{name}</name>\n  <os>\n    <type>hvm</type>\n  \
             </os>\n  <devices>\n    <interface type='bridge'>\n      <mac address='{mac}'/>\n      \
             <source bridge='brS'/>\n    </interface>\n  </devices>\n</domain>\n"
        )
    };
    let alice = xml("alice", "00:16:3e:00:02:01");
    let bob = xml("bob", "00:16:3e:00:02:02");
    // alice makes the bridge; bob, starting too, finds it there.
    ok(env.hook("libxl", &["alice", "prepare", "begin", "-"], &alice));
    assert_eq!(env.bridges(), ["brS"]);
    ok(env.hook("libxl", &["bob", "prepare", "begin", "-"], &bob));
    // alice's start fails: libvirt runs her stopped and release hooks. bob has no NIC
    // record and no port yet, but his claim keeps the bridge.
    ok(env.hook("libxl", &["alice", "stopped", "end", "-"], &alice));
    ok(env.hook("libxl", &["alice", "release", "end", "-"], &alice));
    assert_eq!(env.bridges(), ["brS"], "the bridge bob is starting on went");
    assert_eq!(reg.bridge_claims(&n("brS")).unwrap().len(), 1);
    // bob stops too: now nothing uses the bridge vifkit made, and it goes.
    ok(env.hook("libxl", &["bob", "stopped", "end", "-"], &bob));
    assert!(env.bridges().is_empty());
    assert!(reg.bridge_claims(&n("brS")).unwrap().is_empty());
}

#[test]
#[ignore = "needs root: a network namespace"]
fn a_failing_prepare_leaves_nothing_behind() {
    let env = Env::new();
    let reg = env.reg();
    reg.add_bridge(&creatable("brA")).unwrap();
    let mut b = creatable("brB");
    b.uplink = Some(n("nodev0"));
    reg.add_bridge(&b).unwrap();
    let xml = |bridges: &[&str]| {
        let mut x = String::from("<domain type='xen'>\n  <name>g</name>\n  <os>\n    <type>hvm</type>\n  </os>\n  <devices>\n");
        for (i, br) in bridges.iter().enumerate() {
            x.push_str(&format!(
                "    <interface type='bridge'>\n      <mac address='00:16:3e:00:01:0{i}'/>\n      \
                 <source bridge='{br}'/>\n    </interface>\n"
            ));
        }
        x.push_str("  </devices>\n</domain>\n");
        x
    };
    let generation = reg.generation().unwrap();
    // brA is created first, then brB fails (its uplink is missing): brA goes again.
    let lines = refused(env.hook(
        "libxl",
        &["g", "prepare", "begin", "-"],
        &xml(&["brA", "brB"]),
    ));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("error: Guest g interface[1]: bridge brB: ")
            && lines[0].contains("nodev0"),
        "{lines:?}"
    );
    assert!(env.bridges().is_empty());
    assert!(!reg.bridge_made(&n("brA")).unwrap());
    assert_eq!(reg.generation().unwrap(), generation);

    // A bridge neither registered nor present.
    let lines = refused(env.hook(
        "libxl",
        &["g", "prepare", "begin", "-"],
        &xml(&["brA", "nope0"]),
    ));
    assert!(
        lines[0]
            .starts_with("error: Guest g interface[1]: bridge nope0 does not exist on this host"),
        "{lines:?}"
    );
    assert!(env.bridges().is_empty());

    // A MAC another guest has (it runs: its vif is there).
    env.bridge("brC");
    let other = xml(&["brC"])
        .replace("<name>g</name>", "<name>other</name>")
        .replace("<domain type='xen'>", "<domain type='xen' id='9'>");
    env.port("vif9.0", "brC");
    ok(env.hook("libxl", &["other", "started", "begin", "-"], &other));
    let lines = refused(env.hook("libxl", &["g", "prepare", "begin", "-"], &xml(&["brC"])));
    assert_eq!(
        lines,
        ["error: Guest g interface[0]: MAC 00:16:3e:00:01:00 is already used by Xen domain \"other\" (id 9) device 0"]
    );

    // The translator's checks: an emulated model on a PV guest.
    let pv = xml(&["brC"])
        .replace("<type>hvm</type>", "<type>xen</type>")
        .replace("<name>g</name>", "<name>p</name>")
        .replace("00:16:3e:00:01:00", "00:16:3e:00:02:00")
        .replace("</interface>", "  <model type='e1000'/>\n    </interface>");
    let lines = refused(env.hook("libxl", &["p", "prepare", "begin", "-"], &pv));
    assert!(
        lines[0].starts_with("error: Guest p interface[0]: <model>: Model `e1000` on a pv guest"),
        "{lines:?}"
    );
    // Garbage on stdin: refused at prepare, only logged at stopped.
    refused(env.hook("qemu", &["g", "prepare", "begin", "-"], "<domain>"));
    ok(env.hook("qemu", &["g", "stopped", "end", "-"], "<domain>"));
    assert_eq!(env.bridges(), ["brC"]);
}

/// A QEMU guest and a Xen guest are different domains even with one id or one name:
/// neither's hook touches the other's records.
#[test]
#[ignore = "needs root: a network namespace"]
fn qemu_and_xen_guests_of_one_id_or_name_keep_their_own_records() {
    let env = Env::new();
    let reg = env.reg();
    reg.add_bridge(&Bridge::new(n("br0"), BridgeKind::Linux))
        .unwrap();
    env.bridge("br0");
    let xen = |name: &str, id: u32, mac: &str| {
        format!(
            "<domain type='xen' id='{id}'>\n  <name>{name}</name>\n  <os>\n    \
             <type>xen</type>\n  </os>\n  <devices>\n    <interface type='bridge'>\n      \
             <mac address='{mac}'/>\n      <source bridge='br0'/>\n      \
             <target dev='vif{id}.0'/>\n    </interface>\n  </devices>\n</domain>\n"
        )
    };
    let kvm = |name: &str, id: u32, mac: &str, tap: &str| {
        format!(
            "<domain type='kvm' id='{id}'>\n  <name>{name}</name>\n  <os>\n    \
             <type arch='x86_64' machine='pc'>hvm</type>\n  </os>\n  <devices>\n    \
             <interface type='bridge'>\n      <mac address='{mac}'/>\n      \
             <source bridge='br0'/>\n      <target dev='{tap}'/>\n      \
             <model type='virtio'/>\n    </interface>\n  </devices>\n</domain>\n"
        )
    };
    // Xen's domain 5 is "twin".
    let xen_twin = xen("twin", 5, "00:16:3e:00:05:00");
    env.port("vif5.0", "br0");
    ok(env.hook("libxl", &["twin", "started", "begin", "-"], &xen_twin));
    // QEMU's domain 5 is "other", and QEMU's "twin" is domain 6.
    let other = kvm("other", 5, "52:54:00:00:05:00", "vnet50");
    let qemu_twin = kvm("twin", 6, "52:54:00:00:06:00", "vnet60");
    for (name, xml, tap) in [("other", &other, "vnet50"), ("twin", &qemu_twin, "vnet60")] {
        ok(env.hook("qemu", &[name, "prepare", "begin", "-"], xml));
        env.port(tap, "br0");
        ok(env.hook("qemu", &[name, "started", "begin", "-"], xml));
    }
    let keys = |reg: &SqliteRegistry| -> Vec<(Driver, u32, String, String)> {
        reg.attachments()
            .unwrap()
            .into_iter()
            .map(|a| {
                (
                    a.driver,
                    a.domid,
                    a.domain_name.to_string(),
                    a.backend.to_string(),
                )
            })
            .collect()
    };
    let all = [
        (Driver::Xen, 5, "twin".to_owned(), "vif5.0".to_owned()),
        (Driver::Qemu, 5, "other".to_owned(), "vnet50".to_owned()),
        (Driver::Qemu, 6, "twin".to_owned(), "vnet60".to_owned()),
    ];
    assert_eq!(keys(&reg), all);
    // libvirtd restarts: QEMU's domain 5 re-syncs, Xen's domain 5 stays.
    ok(env.hook("qemu", &["other", "reconnect", "begin", "-"], &other));
    assert_eq!(keys(&reg), all);
    // QEMU's "twin" stops: only its record goes.
    env.ip(&["link", "del", "vnet60"]);
    ok(env.hook("qemu", &["twin", "stopped", "end", "-"], &qemu_twin));
    ok(env.hook("qemu", &["twin", "release", "end", "-"], &qemu_twin));
    assert_eq!(keys(&reg), all[..2]);
    // And Xen's "twin" stops: its record goes, QEMU's domain 5 stays.
    env.ip(&["link", "del", "vif5.0"]);
    ok(env.hook("libxl", &["twin", "stopped", "end", "-"], &xen_twin));
    assert_eq!(keys(&reg), all[1..2]);
}

/// A guest gone without its `stopped` hook (libvirtd or the host crashed) leaves its
/// records. A guest starting with its MAC is not refused: the record is stale (none of
/// its devices is on the host, or it was written in another boot) and is replaced.
#[test]
#[ignore = "needs root: a network namespace"]
fn a_guest_gone_without_stopped_does_not_block_the_next() {
    let env = Env::new();
    let reg = env.reg();
    reg.add_bridge(&Bridge::new(n("br0"), BridgeKind::Linux))
        .unwrap();
    env.bridge("br0");
    let guest = |kind: &str, name: &str, id: u32, tap: &str| {
        format!(
            "<domain type='{kind}' id='{id}'>\n  <name>{name}</name>\n  <os>\n    \
             <type>hvm</type>\n  </os>\n  <devices>\n    <interface type='bridge'>\n      \
             <mac address='52:54:00:00:07:00'/>\n      <source bridge='br0'/>\n      \
             <target dev='{tap}'/>\n      <model type='virtio'/>\n    </interface>\n  \
             </devices>\n</domain>\n"
        )
    };
    // alice runs on QEMU as domain 7.
    let alice = guest("kvm", "alice", 7, "vnet7");
    ok(env.hook("qemu", &["alice", "prepare", "begin", "-"], &alice));
    env.port("vnet7", "br0");
    ok(env.hook("qemu", &["alice", "started", "begin", "-"], &alice));
    // bob, with her MAC, is refused while she runs.
    let bob = guest("kvm", "bob", 8, "vnet8");
    let lines = refused(env.hook("qemu", &["bob", "prepare", "begin", "-"], &bob));
    assert_eq!(
        lines,
        [
            "error: Guest bob interface[0]: MAC 52:54:00:00:07:00 is already used by QEMU \
          domain \"alice\" (id 7) device 0"
        ]
    );
    // libvirtd crashed and alice's QEMU died with it: her tap is gone, her record stays.
    env.ip(&["link", "del", "vnet7"]);
    ok(env.hook("qemu", &["bob", "prepare", "begin", "-"], &bob));
    assert!(records(&reg).is_empty(), "alice's stale record is left");
    env.port("vnet8", "br0");
    ok(env.hook("qemu", &["bob", "started", "begin", "-"], &bob));
    assert_eq!(records(&reg), [("vnet8".into(), None, "br0".into(), 8, 0)]);

    // A record of the last boot, whose tap name this boot gave another guest: carol
    // (Xen, domain 3) gets bob's MAC back after a reboot while vnet8 is someone else's.
    let mut old = reg.attachment(Driver::Qemu, 8, 0).unwrap().unwrap();
    old.boot_id = Some("6b0e2f6c-92a5-4d8e-9a0e-1c2b3d4e5f60".parse().unwrap());
    reg.record(&old).unwrap();
    let carol = guest("xen", "carol", 3, "vif3.0");
    ok(env.hook("libxl", &["carol", "prepare", "begin", "-"], &carol));
    env.port("vif3.0", "br0");
    ok(env.hook("libxl", &["carol", "started", "begin", "-"], &carol));
    assert_eq!(
        records(&reg),
        [(
            "vif3.0".into(),
            Some("vif3.0-emu".into()),
            "br0".into(),
            3,
            0
        )]
    );
}

/// A guest with `nics` NICs on `br0`/`br1`, MACs and taps numbered from `id`.
fn many_nics(name: &str, id: u32, nics: u32) -> String {
    let mut x = format!(
        "<domain type='kvm' id='{id}'>\n  <name>{name}</name>\n  <os>\n    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>\n  </os>\n  <devices>\n"
    );
    for i in 0..nics {
        x.push_str(&format!(
            "    <interface type='bridge'>\n      <mac address='52:54:00:00:{:02x}:{:02x}'/>\n      \
             <source bridge='br{}'/>\n      <target dev='vnet{}'/>\n      <model type='virtio'/>\n    </interface>\n",
            id,
            i,
            i % 2,
            id * 100 + i
        ));
    }
    x.push_str("  </devices>\n</domain>\n");
    x
}

#[test]
#[ignore = "needs root: a network namespace"]
fn thirty_two_guests_start_and_stop_at_once() {
    let env = Env::new();
    let reg = env.reg();
    for b in ["br0", "br1"] {
        reg.add_bridge(&Bridge::new(n(b), BridgeKind::Linux))
            .unwrap();
        env.bridge(b);
    }
    let guests: Vec<(String, String)> = (1..=32)
        .map(|i| (format!("g{i}"), many_nics(&format!("g{i}"), i, 8)))
        .collect();
    for op in ["prepare", "started"] {
        // Spawn all, then wait for all.
        let children: Vec<Child> = guests
            .iter()
            .map(|(name, xml)| env.spawn_hook("qemu", &[name, op, "begin", "-"], xml))
            .collect();
        for c in children {
            ok(wait(c));
        }
    }
    let all = reg.attachments().unwrap();
    assert_eq!(all.len(), 32 * 8);
    for i in 1..=32u32 {
        let mine: Vec<_> = all.iter().filter(|a| a.domid == i).collect();
        assert_eq!(mine.len(), 8, "guest g{i}");
        assert!(mine
            .iter()
            .all(|a| a.domain_name.as_str() == format!("g{i}")));
    }
    let children: Vec<Child> = guests
        .iter()
        .map(|(name, xml)| env.spawn_hook("qemu", &[name, "stopped", "end", "-"], xml))
        .collect();
    for c in children {
        ok(wait(c));
    }
    assert!(reg.attachments().unwrap().is_empty());
}

#[test]
#[ignore = "needs root: a network namespace"]
fn the_filter_keeps_a_large_domain_byte_for_byte() {
    let env = Env::new();
    let live = data("big-live.xml");
    let generated = [
        "      <target dev='vnet31'/>\n",
        "      <target dev='vnet32'/>\n",
        "      <target dev='vnet33'/>\n",
    ];
    let mut want = live.clone();
    for g in generated {
        assert_eq!(want.matches(g).count(), 1);
        want = want.replacen(g, "", 1);
    }
    for op in ["migrate", "restore"] {
        // Live XML: only the three generated tap names go, every other byte stays.
        let out = env.hook("qemu", &["db-primary", op, "begin", "-"], &live);
        assert_eq!(out.status, 0, "{out:?}");
        assert_eq!(out.stdout, want, "{op}");
        // Nothing to change: nothing printed (libvirt keeps its XML as it is).
        ok(env.hook("qemu", &["db-primary", op, "begin", "-"], &want));
    }
    // A libxl guest saved as domain 6: its vif names are not carried to the new domain.
    let hvm = data("libxl-hvm.xml");
    let out = env.hook("libxl", &["hvm1", "restore", "begin", "-"], &hvm);
    assert_eq!(out.status, 0, "{out:?}");
    assert_eq!(
        out.stdout,
        hvm.replace("      <target dev='vif6.0-emu'/>\n", "")
            .replace("      <target dev='vif6.1'/>\n", "")
    );
    // An interface the translator refuses aborts the migration.
    let bad = want.replace("<source bridge='br-prod'/>", "<source bridge='br/prod'/>");
    let lines = refused(env.hook("qemu", &["db-primary", "migrate", "begin", "-"], &bad));
    assert!(lines[0].contains("interface[0]"), "{lines:?}");
}

// More tests, in tests/hooks/: Rust looks for the modules of an inline `mod hooks`
// there.
mod hooks {
    mod network_install;
    mod vlans;
}
