//! `vifkit serve` on an etcd registry, through the real binary: a three-member etcd
//! cluster on the loopback of a network namespace of the test's own, two hosts (two host
//! ids, two configuration files, each with its `vifkit fleet keepalive`) sharing it, the
//! service of host h1 on a private `dbus-daemon`, and `busctl monitor` for the signals.
//! The hooks run in the namespace too, so the bridge and ports they use are the test's.

mod common;
use common::netns::Netns;

#[allow(dead_code)]
mod dbus {
    pub mod harness;
}
use dbus::harness::*;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use registry_etcd::testcluster::Cluster;
use serde_json::Value;

fn hook_xml(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/hooks")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// A configuration file for host `id` on the cluster at `url`, keys under `prefix`.
fn config(dir: &Path, id: &str, url: &str, prefix: &str, timeout_ms: u64) -> PathBuf {
    let path = dir.join(format!("{id}.toml"));
    std::fs::write(
        &path,
        format!(
            "registry = \"{url}\"\nhost = \"{id}\"\n[etcd]\ntimeout_ms = {timeout_ms}\n\
             lease_ttl_s = 10\nprefix = \"{prefix}\"\n"
        ),
    )
    .unwrap();
    path
}

/// A child killed (and waited for) when dropped.
struct Kid(Child);

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One host of the fleet: its configuration, in the test's namespace.
struct Host<'a> {
    ns: &'a Netns,
    config: PathBuf,
}

impl Host<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = self.ns.cmd(BIN);
        c.env_clear()
            .env("LC_ALL", "C")
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("VIFKIT_CONFIG", &self.config)
            .args(args);
        c
    }

    /// `vifkit ARGS...` with `input` on stdin, which must succeed; its stdout.
    fn ok(&self, args: &[&str], input: &str) -> String {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "vifkit {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn hook(&self, args: &[&str], xml: &str) {
        let mut all = vec!["hook", "libxl"];
        all.extend_from_slice(args);
        self.ok(&all, xml);
    }

    fn keepalive(&self) -> Kid {
        Kid(self
            .command(&["fleet", "keepalive"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap())
    }

    /// A guest device plugged into `bridge`, as libxl's hotplug leaves it.
    fn port(&self, dev: &str, bridge: &str) {
        let peer = format!("{dev}p");
        self.ns
            .ip(&["link", "add", dev, "type", "veth", "peer", "name", &peer]);
        self.ns.ip(&["link", "set", dev, "master", bridge, "up"]);
    }
}

/// The keys under `prefix` in the cluster (etcdctl, in the namespace).
fn keys(ns: &Netns, cluster: &Cluster, prefix: &str) -> Vec<String> {
    let eps: Vec<String> = cluster
        .clients
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect();
    let out = ns
        .cmd("etcdctl")
        .env("ETCDCTL_API", "3")
        .args([
            "--endpoints",
            &eps.join(","),
            "get",
            "--prefix",
            "--keys-only",
        ])
        .arg(prefix)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Polls until `key` exists, failing at the deadline.
fn wait_key(ns: &Netns, cluster: &Cluster, key: &str) {
    let end = Instant::now() + DEADLINE;
    while !keys(ns, cluster, key).iter().any(|k| k == key) {
        assert!(Instant::now() < end, "{key} never appeared");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn macs_of(signals: &[Value], member: &str) -> Vec<String> {
    signals
        .iter()
        .filter(|s| s["member"] == member)
        .map(|s| {
            field(&s["payload"]["data"][0], "mac")
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[test]
#[ignore = "needs root: a network namespace for the cluster, the bridge and the ports"]
fn serve_on_etcd_signals_every_hosts_changes() {
    let ns = Netns::new();
    ns.ip(&["link", "set", "lo", "up"]);
    let mut cluster = Cluster::start_in(3, Some(ns.name()), "127.0.0.1");
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("/dbus-{}/vifkit/v1/", std::process::id());
    let url = cluster.url();
    let h1 = Host {
        ns: &ns,
        config: config(dir.path(), "h1", &url, &prefix, 8000),
    };
    let h2 = Host {
        ns: &ns,
        config: config(dir.path(), "h2", &url, &prefix, 8000),
    };
    let k1 = h1.keepalive();
    let _k2 = h2.keepalive();
    wait_key(&ns, &cluster, &format!("{prefix}hosts/h1/lease"));
    wait_key(&ns, &cluster, &format!("{prefix}hosts/h2/lease"));

    // h1's service, on the bus; it reaches the cluster from inside the namespace.
    let bus = Bus::start();
    let monitor = bus.monitor();
    let cfg = h1.config.display().to_string();
    let serve = bus.serve_with(
        &["ip", "netns", "exec", ns.name()],
        &["--config", &cfg],
        &[],
    );
    assert!(
        serve
            .said
            .iter()
            .any(|l| l.contains(&format!("registry {url}"))),
        "{:?}",
        serve.said
    );

    // A bridge registered by the other host's CLI: BridgeAdded, and listed.
    h2.ok(&["bridge", "add", "xenbr0", "--creatable"], "");
    assert_eq!(monitor.next("BridgeAdded"), "xenbr0");
    let list = bus.call("Bridges1", "List", &[]);
    assert!(list.to_string().contains("xenbr0"), "{list}");

    // A NIC recorded by a hook of this host: PairingAdded, and Lookup finds it.
    let pv = hook_xml("libxl-pv.xml");
    h1.hook(&["pv1", "prepare", "begin", "-"], &pv);
    h1.port("vif5.0", "xenbr0");
    h1.hook(&["pv1", "started", "begin", "-"], &pv);
    let added = monitor.next("PairingAdded");
    assert_eq!(field(&added, "backend"), "vif5.0");
    assert_eq!(field(&added, "mac"), "00:16:3e:5e:6c:01");
    let found = bus.call("Pairings1", "Lookup", &["suu", "xen", "5", "0"]);
    assert_eq!(field(&found[0], "mac"), "00:16:3e:5e:6c:01");

    // A NIC recorded by a hook of the other host: the service shows this host's NICs
    // only (docs/dbus.md), so no signal; a later change's signal comes after it.
    let other = pv
        .replace("id='5'", "id='6'")
        .replace("<name>pv1</name>", "<name>pv2</name>")
        .replace(
            "8c1a5f4e-2b7d-4c3e-9f10-5e6d7c8b9a01",
            "8c1a5f4e-2b7d-4c3e-9f10-5e6d7c8b9a02",
        )
        .replace("00:16:3e:5e:6c:01", "00:16:3e:5e:6c:02")
        .replace("vif5.0", "vif6.0");
    h2.hook(&["pv2", "prepare", "begin", "-"], &other);
    h2.port("vif6.0", "xenbr0");
    h2.hook(&["pv2", "started", "begin", "-"], &other);
    assert!(
        keys(&ns, &cluster, &format!("{prefix}hosts/h2/nics/"))
            .iter()
            .any(|k| k.ends_with("/xen/0000000006/0000000000")),
        "h2's NIC is not in etcd"
    );
    h2.ok(&["bridge", "add", "marker0"], "");
    let seen = monitor.signals_until("BridgeAdded", "marker0");
    assert!(macs_of(&seen, "PairingAdded").is_empty(), "{seen:#?}");
    let all = bus.call("Pairings1", "List", &[]);
    assert!(!all.to_string().contains("00:16:3e:5e:6c:02"), "{all}");
    assert!(all.to_string().contains("00:16:3e:5e:6c:01"), "{all}");

    // Each member in turn killed: the signals keep coming (the watch is set up again
    // on another member when its own dies).
    for i in 0..3 {
        cluster.kill_member(i);
        let name = format!("brk{i}");
        h2.ok(&["bridge", "add", &name], "");
        assert_eq!(monitor.next("BridgeAdded"), name);
        cluster.start_member(i);
        cluster.wait_healthy(DEADLINE);
    }
    // And a pairing dropped by this host's hook, after all that.
    ns.ip(&["link", "del", "vif5.0"]);
    h1.hook(&["pv1", "stopped", "end", "-"], &pv);
    let removed = monitor.next("PairingRemoved");
    assert_eq!(field(&removed, "mac"), "00:16:3e:5e:6c:01");

    // Recorded again, then this host's keepalive dies: the record expires with the
    // lease (10 s), which moves no generation, and that is a PairingRemoved too.
    h1.port("vif5.0", "xenbr0");
    h1.hook(&["pv1", "started", "begin", "-"], &pv);
    assert_eq!(field(&monitor.next("PairingAdded"), "backend"), "vif5.0");
    drop(k1);
    let expired = monitor.next("PairingRemoved");
    assert_eq!(field(&expired, "mac"), "00:16:3e:5e:6c:01");

    assert!(serve.stop().success());
}

#[test]
fn serve_with_an_unreachable_etcd_fails_with_a_clear_line() {
    let bus = Bus::start_as_anyone();
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let url = format!("etcd://127.0.0.1:{port}");
    let cfg = config(dir.path(), "h1", &url, "/vifkit/v1/", 1000);
    let mut child = Kid(Command::new(BIN)
        .env_remove("VIFKIT_DB")
        .env_remove("VIFKIT_REGISTRY")
        .arg("--config")
        .arg(&cfg)
        .args(["serve", "--address", &bus.address])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap());
    let stderr = lines_of(child.0.stderr.take().unwrap());
    let line = wait_line(&stderr, "the error line", |l| l.starts_with("error:"));
    assert!(line.contains("Cannot start the service"), "{line}");
    assert!(
        line.contains(&format!("Registry {url}: no answer within 1000 ms")),
        "{line}"
    );
    // And it exits (the deadline only guards against a hang).
    let end = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < end, "serve did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
}
