//! A fleet on one etcd registry, through the real binary: a three-member etcd cluster
//! (on loopback, or in a "LAN" network namespace of the test's own) and two hosts, each
//! in its own network namespace with its own configuration file and host id, each
//! keeping its lease alive with `vifkit fleet keepalive`. The libvirt hooks run as
//! libvirt runs them (argv, the domain XML on stdin, a cleared environment), the
//! hotplug script as xl runs it (its environment, xenstore keys in a directory). The
//! test reads what is in etcd with `etcdctl`.

mod common;
use common::netns::Netns;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use registry_etcd::testcluster::Cluster;

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

fn output(mut c: Command, input: &str) -> Out {
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
    let out = child.wait_with_output().unwrap();
    Out {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ok(out: Out) -> Out {
    assert_eq!(out.status, 0, "{out:?}");
    out
}

/// One host: a network namespace, a configuration file naming its host id, and its
/// keepalive process.
struct HostNs {
    id: String,
    ns: Netns,
    config: PathBuf,
    keepalive: Option<Child>,
}

impl HostNs {
    /// `PROGRAM ARGS...` in the host's namespace, with the environment libvirt gives a
    /// hook.
    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut c = self.ns.cmd(program);
        c.args(args)
            .env_clear()
            .env("LC_ALL", "C")
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", "/root")
            .env("VIFKIT_CONFIG", &self.config);
        c
    }

    fn vifkit(&self, args: &[&str]) -> Out {
        output(self.command(BIN, args), "")
    }

    fn hook(&self, args: &[&str], xml: &str) -> Out {
        let mut all = vec!["hook", "libxl"];
        all.extend_from_slice(args);
        output(self.command(BIN, &all), xml)
    }

    fn start_keepalive(&mut self) {
        let child = self
            .command(BIN, &["fleet", "keepalive"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.keepalive = Some(child);
    }

    /// SIGKILL: the host dies without cleaning anything up.
    fn kill_keepalive(&mut self) {
        if let Some(mut c) = self.keepalive.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// A guest device plugged into `bridge`, as libxl's hotplug leaves it.
    fn port(&self, dev: &str, bridge: &str) {
        self.ns.ip(&[
            "link",
            "add",
            dev,
            "type",
            "veth",
            "peer",
            "name",
            &format!("{dev}p"),
        ]);
        self.ns.ip(&["link", "set", dev, "master", bridge, "up"]);
    }
}

impl Drop for HostNs {
    fn drop(&mut self) {
        self.kill_keepalive();
    }
}

/// The LAN: a namespace holding the etcd members on 10.231.0.1, and the hosts, each
/// linked to it by a veth pair (10.231.K.0/24).
struct Lan {
    _dir: tempfile::TempDir,
    lan: Netns,
    cluster: Cluster,
    hosts: Vec<HostNs>,
    prefix: String,
}

impl Lan {
    fn new(hosts: usize, lease_ttl_s: u64) -> Lan {
        let dir = tempfile::tempdir().unwrap();
        let lan = Netns::new();
        lan.ip(&["link", "set", "lo", "up"]);
        lan.ip(&["addr", "add", "10.231.0.1/32", "dev", "lo"]);
        let mut list = Vec::new();
        let prefix = format!("/fleet-{}/vifkit/v1/", std::process::id());
        let cluster = Cluster::start_in(3, Some(lan.name()), "10.231.0.1");
        for k in 1..=hosts {
            let ns = Netns::new();
            let (a, b) = (format!("lan{k}"), "up0".to_owned());
            lan.ip(&[
                "link",
                "add",
                &a,
                "type",
                "veth",
                "peer",
                "name",
                &b,
                "netns",
                ns.name(),
            ]);
            lan.ip(&["addr", "add", &format!("10.231.{k}.1/24"), "dev", &a]);
            lan.ip(&["link", "set", &a, "up"]);
            ns.ip(&["link", "set", "lo", "up"]);
            ns.ip(&["addr", "add", &format!("10.231.{k}.2/24"), "dev", &b]);
            ns.ip(&["link", "set", &b, "up"]);
            ns.ip(&[
                "route",
                "add",
                "10.231.0.0/24",
                "via",
                &format!("10.231.{k}.1"),
            ]);
            let id = format!("h{k}");
            let config = dir.path().join(format!("{id}.toml"));
            std::fs::write(
                &config,
                format!(
                    "registry = \"{}\"\nhost = \"{id}\"\n[etcd]\ntimeout_ms = 8000\n\
                     lease_ttl_s = {lease_ttl_s}\nprefix = \"{prefix}\"\n",
                    cluster.url()
                ),
            )
            .unwrap();
            let mut h = HostNs {
                id,
                ns,
                config,
                keepalive: None,
            };
            h.start_keepalive();
            list.push(h);
        }
        let lan = Lan {
            _dir: dir,
            lan,
            cluster,
            hosts: list,
            prefix,
        };
        for h in &lan.hosts {
            lan.wait_for(&format!("hosts/{}/lease", h.id), true);
        }
        lan
    }

    /// `etcdctl get --prefix` of the registry's keys under `under`: (key, value) pairs
    /// with the prefix taken off.
    fn get(&self, under: &str) -> Vec<(String, String)> {
        let eps: Vec<String> = self
            .cluster
            .clients
            .iter()
            .map(|p| format!("http://10.231.0.1:{p}"))
            .collect();
        let out = output(
            {
                let mut c = self.lan.cmd("etcdctl");
                c.env("ETCDCTL_API", "3").args([
                    "--endpoints",
                    &eps.join(","),
                    "get",
                    "--prefix",
                    &format!("{}{under}", self.prefix),
                ]);
                c
            },
            "",
        );
        assert_eq!(out.status, 0, "{out:?}");
        let lines: Vec<&str> = out.stdout.lines().collect();
        lines
            .chunks(2)
            .map(|kv| {
                (
                    kv[0].strip_prefix(&self.prefix).unwrap().to_owned(),
                    kv.get(1).copied().unwrap_or("").to_owned(),
                )
            })
            .collect()
    }

    fn keys(&self, under: &str) -> Vec<String> {
        self.get(under).into_iter().map(|(k, _)| k).collect()
    }

    /// The host owning `mac`, if any.
    fn mac_host(&self, mac: &str) -> Option<String> {
        let v = self.get(&format!("macs/{mac}"));
        v.first().map(|(_, v)| {
            let j: serde_json::Value = serde_json::from_str(v).unwrap();
            j["host"].as_str().unwrap().to_owned()
        })
    }

    /// Polls until key `key` exists (or is gone), for 20 s at most.
    fn wait_for(&self, key: &str, present: bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.keys(key).iter().any(|k| k == key) != present {
            assert!(
                Instant::now() < deadline,
                "{key} still {}",
                if present { "missing" } else { "there" }
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The pv1 guest of tests/data/hooks, renamed, with another UUID (another guest with
/// pv1's MAC).
fn impostor() -> String {
    data("libxl-pv.xml")
        .replace("<name>pv1</name>", "<name>pv9</name>")
        .replace(
            "8c1a5f4e-2b7d-4c3e-9f10-5e6d7c8b9a01",
            "9c1a5f4e-2b7d-4c3e-9f10-5e6d7c8b9a09",
        )
}

#[test]
#[ignore = "needs root: network namespaces for the LAN and the hosts"]
fn a_fleet_of_two_hosts_through_the_hooks_and_the_hotplug_script() {
    let mut lan = Lan::new(2, 3);
    let pv = data("libxl-pv.xml");
    let mac = "00:16:3e:5e:6c:01";

    // A bridge defined once is every host's.
    ok(lan.hosts[0].vifkit(&["bridge", "add", "xenbr0", "--creatable"]));
    let list = ok(lan.hosts[1].vifkit(&["bridge", "list"])).stdout;
    assert!(list.contains("xenbr0"), "{list}");

    // Where hosts differ, a host's override: h2's uplink of br900 is eno1 with MTU
    // 9000, h1 keeps the shared definition; dropping the override restores it on h2.
    ok(lan.hosts[0].vifkit(&["bridge", "add", "br900", "--uplink", "bond0"]));
    let br900 = |h: &HostNs| -> (serde_json::Value, serde_json::Value) {
        let out = ok(h.vifkit(&["bridge", "list", "-j"])).stdout;
        let all: serde_json::Value = serde_json::from_str(&out).unwrap();
        let b = all
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["name"] == "br900")
            .unwrap_or_else(|| panic!("no br900 in {out}"))
            .clone();
        (b["uplink"].clone(), b["mtu"].clone())
    };
    let set = ok(lan.hosts[1].vifkit(&["fleet", "override", "br900", "--uplink", "eno1"]));
    assert_eq!(set.stdout, "br900 on host h2: uplink eno1, mtu as shared\n");
    let set = ok(lan.hosts[1].vifkit(&["fleet", "override", "br900", "--mtu", "9000"]));
    assert_eq!(set.stdout, "br900 on host h2: uplink eno1, mtu 9000\n");
    assert_eq!(br900(&lan.hosts[1]), ("eno1".into(), 9000.into()));
    assert_eq!(
        br900(&lan.hosts[0]),
        ("bond0".into(), serde_json::Value::Null)
    );
    let shown = ok(lan.hosts[0].vifkit(&["fleet", "override", "br900"])).stdout;
    assert_eq!(shown, "br900 on host h1: as shared (no override)\n");
    let bad = lan.hosts[1].vifkit(&["fleet", "override", "br900", "--uplink", "a/b"]);
    assert_eq!(bad.status, 1, "{bad:?}");
    assert!(bad.stderr.contains("--uplink"), "{bad:?}");
    let unknown = lan.hosts[1].vifkit(&["fleet", "override", "br901", "--mtu", "1400"]);
    assert_eq!(unknown.status, 1, "{unknown:?}");
    assert!(unknown.stderr.contains("br901"), "{unknown:?}");
    ok(lan.hosts[1].vifkit(&["fleet", "override", "br900", "--clear"]));
    assert_eq!(
        br900(&lan.hosts[1]),
        ("bond0".into(), serde_json::Value::Null)
    );
    ok(lan.hosts[0].vifkit(&["bridge", "del", "br900"]));

    // pv1 starts on h1: the bridge is made there, its NIC recorded, its MAC h1's.
    let h1 = &lan.hosts[0];
    ok(h1.hook(&["pv1", "prepare", "begin", "-"], &pv));
    assert!(h1.ns.link("xenbr0").is_some());
    h1.port("vif5.0", "xenbr0");
    ok(h1.hook(&["pv1", "started", "begin", "-"], &pv));
    assert_eq!(lan.mac_host(mac).as_deref(), Some("h1"));
    assert_eq!(
        lan.keys("hosts/h1/nics/"),
        ["hosts/h1/nics/xen/0000000005/0000000000"]
    );
    assert_eq!(lan.keys("made/xenbr0/"), ["made/xenbr0/h1"]);

    // Another guest with pv1's MAC on h2: refused at `started` (libvirt then stops it),
    // and its `release` leaves nothing of it.
    let h2 = &lan.hosts[1];
    let other = impostor();
    ok(h2.hook(&["pv9", "prepare", "begin", "-"], &other));
    h2.port("vif5.0", "xenbr0");
    let out = h2.hook(&["pv9", "started", "begin", "-"], &other);
    assert_eq!(out.status, 1, "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "MAC {mac} is already used by Xen domain \"pv1\" (id 5) device 0 on host h1"
        )),
        "{out:?}"
    );
    ok(h2.hook(&["pv9", "stopped", "end", "-"], &other));
    ok(h2.hook(&["pv9", "release", "end", "-"], &other));
    h2.ns.ip(&["link", "del", "vif5.0"]);
    assert_eq!(lan.keys("hosts/h2/"), ["hosts/h2/lease"]);
    assert_eq!(lan.mac_host(mac).as_deref(), Some("h1"));

    // pv1 migrates to h2 (same UUID): h2 takes its MAC over; h1's stop and release
    // drop h1's records and leave what h2 owns now.
    ok(h2.hook(&["pv1", "prepare", "begin", "-"], &pv));
    h2.port("vif5.0", "xenbr0");
    ok(h2.hook(&["pv1", "started", "begin", "-"], &pv));
    assert_eq!(lan.mac_host(mac).as_deref(), Some("h2"));
    h1.ns.ip(&["link", "del", "vif5.0"]);
    ok(h1.hook(&["pv1", "stopped", "end", "-"], &pv));
    ok(h1.hook(&["pv1", "release", "end", "-"], &pv));
    assert_eq!(lan.mac_host(mac).as_deref(), Some("h2"));
    assert_eq!(lan.keys("hosts/h1/nics/"), Vec::<String>::new());
    assert_eq!(
        lan.keys("hosts/h2/nics/"),
        ["hosts/h2/nics/xen/0000000005/0000000000"]
    );

    // The hotplug script on h1 (xl's side): a vif on the shared bridge is recorded at
    // online and dropped at offline.
    let xs = lan._dir.path().join("xenstore");
    let key = |k: &str, v: &str| {
        let p = xs.join(k.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, v).unwrap();
    };
    key("backend/vif/7/0/bridge", "xenbr0");
    key("backend/vif/7/0/mac", "00:16:3e:00:07:00");
    key("backend/vif/7/0/script", "/etc/xen/scripts/vif-bridge");
    key("/local/domain/7/name", "xl7");
    h1.ns.ip(&[
        "link", "add", "vif7.0", "type", "veth", "peer", "name", "g70",
    ]);
    let script = |action: &str| {
        let mut c = h1.command(BIN, &["vif-script", action, "type_if=vif"]);
        c.env("vif", "vif7.0")
            .env("XENBUS_PATH", "backend/vif/7/0")
            .env("VIFKIT_XENSTORE_DIR", &xs);
        output(c, "")
    };
    ok(script("online"));
    assert_eq!(h1.ns.link("vif7.0").unwrap()["master"], "xenbr0");
    assert_eq!(lan.mac_host("00:16:3e:00:07:00").as_deref(), Some("h1"));

    // Two members down: a start fails closed within the timeout (8 s here, so that a
    // loaded CI machine's elections do not fail the steps before) with a clear line;
    // stopped, release and offline never fail.
    lan.cluster.kill_member(1);
    lan.cluster.kill_member(2);
    let before = Instant::now();
    let h1 = &lan.hosts[0];
    let out = h1.hook(&["pv1", "prepare", "begin", "-"], &pv);
    assert_eq!(out.status, 1, "{out:?}");
    assert!(out.stderr.contains("no answer within 8000 ms"), "{out:?}");
    assert!(
        before.elapsed() < Duration::from_secs(15),
        "{:?}",
        before.elapsed()
    );
    ok(h1.hook(&["pv1", "stopped", "end", "-"], &pv));
    ok(h1.hook(&["pv1", "release", "end", "-"], &pv));
    let out = script("offline");
    assert_eq!(out.status, 0, "{out:?}");
    assert!(out.stderr.contains("could not drop the record"), "{out:?}");

    // Members back: work resumes. What offline could not drop is still there (with
    // h1's lease; `vifkit reconcile` drops it): nothing was half-written.
    lan.cluster.start_member(1);
    lan.cluster.start_member(2);
    lan.cluster.wait_healthy(Duration::from_secs(30));
    assert_eq!(lan.mac_host("00:16:3e:00:07:00").as_deref(), Some("h1"));
    assert_eq!(lan.keys("hosts/h1/devices/"), ["hosts/h1/devices/vif7.0"]);
    // The domain is gone (xenstore, its device): `vifkit reconcile` drops the record.
    h1.ns.ip(&["link", "del", "vif7.0"]);
    std::fs::remove_dir_all(xs.join("local/domain/7")).unwrap();
    let mut c = h1.command(BIN, &["reconcile"]);
    c.env("VIFKIT_XENSTORE_DIR", &xs);
    let out = ok(output(c, ""));
    assert!(out.stdout.contains("1 stale record(s) dropped"), "{out:?}");
    assert_eq!(lan.mac_host("00:16:3e:00:07:00"), None);

    // h2 dies without cleaning up: its claims expire with its lease (3 s).
    lan.hosts[1].kill_keepalive();
    lan.wait_for(&format!("macs/{mac}"), false);
    assert_eq!(lan.keys("hosts/h2/"), Vec::<String>::new());
    // pv1 can start again on h1.
    let h1 = &lan.hosts[0];
    ok(h1.hook(&["pv1", "prepare", "begin", "-"], &pv));
    h1.port("vif5.0", "xenbr0");
    ok(h1.hook(&["pv1", "started", "begin", "-"], &pv));
    assert_eq!(lan.mac_host(mac).as_deref(), Some("h1"));
}

#[test]
fn registry_migrate_copies_sqlite_to_etcd_and_back_idempotently() {
    let cluster = Cluster::start(1);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db");
    let config = dir.path().join("vifkit.toml");
    std::fs::write(
        &config,
        format!(
            "registry = \"sqlite:{}\"\nhost = \"m1\"\n[etcd]\nprefix = \"/migrate/vifkit/v1/\"\n",
            db.display()
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let mut c = Command::new(BIN);
        c.args(args).env_clear().env("VIFKIT_CONFIG", &config);
        output(c, "")
    };
    // A SQLite registry with a bridge and a domain's two NICs.
    {
        use registry::{Attachment, Registry, SqliteRegistry};
        let reg = SqliteRegistry::open(&db).unwrap();
        let mut b = registry::Bridge::new(
            translator::IfName::new("br0").unwrap(),
            registry::BridgeKind::Linux,
        );
        b.creatable = true;
        reg.add_bridge(&b).unwrap();
        reg.set_bridge_made(&b.name, true).unwrap();
        for devid in 0..2 {
            let a = Attachment::xen(
                registry::DomainName::new("web").unwrap(),
                4,
                devid,
                format!("00:16:3e:00:04:0{devid}").parse().unwrap(),
                b.name.clone(),
                false,
            )
            .unwrap();
            reg.record(&a).unwrap();
        }
    }
    let sqlite = format!("sqlite:{}", db.display());
    let etcd = cluster.url();
    let out = ok(run(&[
        "registry", "migrate", "--from", &sqlite, "--to", &etcd,
    ]));
    assert_eq!(
        out.stdout,
        format!(
            "{sqlite} -> {etcd}: 1 bridge(s) added, 0 updated, 2 NIC(s) of 1 domain(s) written\n"
        )
    );
    // Again: nothing to do.
    let out = ok(run(&[
        "registry", "migrate", "--from", &sqlite, "--to", &etcd,
    ]));
    assert_eq!(
        out.stdout,
        format!(
            "{sqlite} -> {etcd}: 0 bridge(s) added, 0 updated, 0 NIC(s) of 0 domain(s) written\n"
        )
    );
    // What `show` reads on etcd is what SQLite had.
    let etcd_cfg = dir.path().join("etcd.toml");
    std::fs::write(
        &etcd_cfg,
        format!("registry = \"{etcd}\"\nhost = \"m1\"\n[etcd]\nprefix = \"/migrate/vifkit/v1/\"\n"),
    )
    .unwrap();
    let mut c = Command::new(BIN);
    c.args(["bridge", "list", "--json"])
        .env_clear()
        .env("VIFKIT_CONFIG", &etcd_cfg);
    let listed = ok(output(c, "")).stdout;
    assert!(
        listed.contains("\"name\":\"br0\"") || listed.contains("\"name\": \"br0\""),
        "{listed}"
    );
    // And back into a fresh SQLite file.
    let back = format!("sqlite:{}", dir.path().join("back.db").display());
    let out = ok(run(&[
        "registry", "migrate", "--from", &etcd, "--to", &back,
    ]));
    assert!(
        out.stdout
            .contains("1 bridge(s) added, 0 updated, 2 NIC(s) of 1 domain(s)"),
        "{out:?}"
    );
    {
        use registry::{Registry, SqliteRegistry};
        let a = SqliteRegistry::open(&db).unwrap();
        let b = SqliteRegistry::open(dir.path().join("back.db")).unwrap();
        assert_eq!(a.bridges().unwrap(), b.bridges().unwrap());
        assert_eq!(a.attachments().unwrap(), b.attachments().unwrap());
        assert!(b
            .bridge_made(&translator::IfName::new("br0").unwrap())
            .unwrap());
    }
}
