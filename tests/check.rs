//! `vifkit check` through the real binary: a directory of xl configs, a registry of the
//! test's own (bridges and NIC records), libvirt domains through `--connect
//! test:///FILE` (libvirt's test driver with a node file the test writes) and, as root,
//! the links of a network namespace made for the test. Each problem must be reported,
//! as one line naming what and where, and a clean set-up must pass (exit 0, no output).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::netns::Netns;
use registry::{Attachment, DomainName, Registry, SqliteRegistry};
use translator::IfName;

const BIN: &str = env!("CARGO_BIN_EXE_vifkit");

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

fn ok(out: Out) -> String {
    assert_eq!(out.status, 0, "{out:?}");
    out.stdout
}

/// A temporary directory: the registry, `xl/` and the libvirt node file.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let s = Setup {
            dir: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir(s.xl()).unwrap();
        s
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("registry.db")
    }

    fn xl(&self) -> PathBuf {
        self.dir.path().join("xl")
    }

    fn cfg(&self, name: &str, text: &str) {
        std::fs::write(self.xl().join(name), text).unwrap();
    }

    /// libvirt's test driver reading `domains` (and a `default` network) from a file.
    fn libvirt(&self, domains: &str) -> String {
        let path = self.dir.path().join("node.xml");
        std::fs::write(
            &path,
            format!(
                "<node>\n{domains}\n<network><name>default</name><bridge name='virbr0'/>\
                 </network>\n</node>\n"
            ),
        )
        .unwrap();
        format!("test://{}", path.display())
    }

    fn vifkit(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--db").arg(self.db()).args(args);
        c
    }

    fn bridge(&self, args: &[&str]) {
        let mut a = vec!["bridge", "add"];
        a.extend_from_slice(args);
        ok(output(&mut self.vifkit(&a)));
    }

    fn record(&self, domain: &str, domid: u32, devid: u32, mac: &str, bridge: &str) {
        let a = Attachment::xen(
            DomainName::new(domain).unwrap(),
            domid,
            devid,
            mac.parse().unwrap(),
            IfName::new(bridge).unwrap(),
            false,
        )
        .unwrap();
        SqliteRegistry::open(self.db()).unwrap().record(&a).unwrap();
    }
}

/// Exit 1, one problem per stdout line, and the count on stderr.
fn problems(out: Out) -> Vec<String> {
    assert_eq!(out.status, 1, "{out:?}");
    let lines: Vec<String> = out.stdout.lines().map(str::to_owned).collect();
    assert_eq!(
        out.stderr,
        format!(
            "error: {} problem{} found\n",
            lines.len(),
            if lines.len() == 1 { "" } else { "s" }
        ),
        "{out:?}"
    );
    lines
}

fn domain(name: &str, interfaces: &str) -> String {
    format!(
        "<domain type='test'><name>{name}</name><memory>1024</memory><os><type>hvm</type></os>\
         <devices>{interfaces}</devices></domain>"
    )
}

/// MACs, vifnames, libvirt's target names and networks: nothing here depends on the
/// host's links (no NIC names a bridge), so it runs without root.
#[test]
fn macs_names_and_networks_across_configs_domains_and_records() {
    let s = Setup::new();
    s.cfg(
        "web.cfg",
        "name = \"web\"\ntype = \"pv\"\nvif = [ 'mac=00:16:3e:00:00:01,ip=10.0.0.1,script=vif-route',\n\
         'mac=00:16:3e:00:00:01,ip=10.0.0.2,script=vif-route' ]\n",
    );
    s.cfg(
        "db.cfg",
        "name = \"db\"\nbuilder = \"hvm\"\n\
         vif = [ 'mac=00:16:3e:00:00:02,ip=10.0.0.3,script=vif-route,vifname=averyveryverylongname0',\n\
         'mac=00:16:3e:00:00:03,ip=10.0.0.4,script=vif-route,vifname=twelvecharsx',\n\
         'mac=00:16:3e:00:00:04,ip=10.0.0.5,script=vif-route,vifname=twelvecharsy,type=vif' ]\n",
    );
    // Not guest configs: xl.conf, a file that does not parse and has no .cfg, a
    // directory.
    s.cfg("xl.conf", "vif.default.script = \"vif-route\"\n");
    s.cfg("README", "This is not ( a config\n");
    s.cfg(
        "xlexample.hvm",
        "name = \"example.hvm\"\nvif = [ 'mac=00:16:3e:00:00:01,ip=10.0.0.9,script=vif-route' ]\n",
    );
    // Open vSwitch's BRIDGE.TAG:TRUNK form names bridge BRIDGE.
    s.cfg(
        "ovs.cfg",
        "name = \"ovs\"\nvif = [ 'mac=00:16:3e:00:00:09,bridge=vknone0.10:20,script=vif-openvswitch' ]\n",
    );
    // A guest config without .cfg (SUSE's /etc/xen/vm/NAME style) counts: it has a name.
    s.cfg(
        "legacy",
        "name = \"legacy\"\nvif = [ 'mac=00:16:3e:00:00:04,ip=10.0.0.8,script=vif-route' ]\n",
    );
    std::fs::create_dir(s.xl().join("auto")).unwrap();
    // A .cfg that does not parse is a problem, with its line.
    s.cfg("broken.cfg", "name = \"broken\"\nvif = [ 'mac=1' \n");
    // Records: web's own NIC (its config says the same: no problem) and another
    // guest's clash.
    s.bridge(&["br9", "--creatable"]);
    s.record("web", 3, 0, "00:16:3e:00:00:01", "br9");
    s.record("old", 4, 0, "00:16:3e:00:00:02", "br9");
    let uri = s.libvirt(&domain(
        "qguest",
        "<interface type='network'><mac address='00:16:3e:00:00:03'/><source network='default'/>\
         <target dev='averyveryverylongtap'/></interface>\
         <interface type='network'><mac address='52:54:00:00:00:09'/><source network='nosuchnet'/></interface>",
    ));
    let xl = s.xl();
    let got = problems(output(&mut s.vifkit(&[
        "check",
        "--xl-dir",
        xl.to_str().unwrap(),
        "--connect",
        &uri,
    ])));
    let x = xl.display();
    let want = [
        format!(
            "{x}/broken.cfg:2: config parsing error near `': syntax error, unexpected $end, \
             expecting ',' or ']'"
        ),
        format!(
            "{x}/db.cfg:3: vif 0 of guest db: vifname averyveryverylongname0 is 22 bytes, \
             longer than the 15 an interface name may have"
        ),
        format!(
            "{x}/db.cfg:4: vif 1 of guest db: vifname twelvecharsx: its emulated twin \
             twelvecharsx-emu is 16 bytes, longer than the 15 an interface name may have (say \
             type=vif, or a vifname of at most 11 bytes)"
        ),
        format!(
            "{uri} domain qguest interface 0: <target dev> averyveryverylongtap is 20 bytes, \
             longer than the 15 an interface name may have"
        ),
        format!(
            "{x}/web.cfg:4: vif 1 of guest web: MAC 00:16:3e:00:00:01 is also the MAC of \
             {x}/web.cfg:3: vif 0 of guest web of the same guest"
        ),
        format!(
            "registry: Xen domain 4 (old) device 0: MAC 00:16:3e:00:00:02 is also used by guest \
             db ({x}/db.cfg:3: vif 0 of guest db)"
        ),
        format!(
            "{uri} domain qguest interface 0: MAC 00:16:3e:00:00:03 is also used by guest db \
             ({x}/db.cfg:4: vif 1 of guest db)"
        ),
        format!(
            "{x}/legacy:2: vif 0 of guest legacy: MAC 00:16:3e:00:00:04 is also used by guest \
             db ({x}/db.cfg:5: vif 2 of guest db)"
        ),
        format!(
            "{x}/ovs.cfg:2: vif 0 of guest ovs: bridge vknone0 is neither on this host nor in \
             the registry"
        ),
        format!("{uri} domain qguest interface 1: network nosuchnet is not defined at {uri}"),
    ];
    assert_eq!(got, want, "got:\n{}", got.join("\n"));
}

#[test]
fn what_cannot_be_checked_is_an_error_naming_it() {
    let s = Setup::new();
    let out = output(&mut s.vifkit(&["check", "--xl-dir", "/nonexistent/xen"]));
    assert_eq!(out.status, 1, "{out:?}");
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr
            .starts_with("error: --xl-dir /nonexistent/xen: cannot list it: "),
        "{out:?}"
    );
    assert!(!s.db().exists(), "check created a registry");
    let out = output(&mut s.vifkit(&[
        "check",
        "--xl-dir",
        s.xl().to_str().unwrap(),
        "--connect",
        "test:///nonexistent/node.xml",
    ]));
    assert_eq!(out.status, 1, "{out:?}");
    assert!(
        out.stderr
            .starts_with("error: Cannot connect to libvirt at test:///nonexistent/node.xml"),
        "{out:?}"
    );
    // A file name with a line break in it is shown escaped, on one line.
    s.cfg("evil\nerror: forged.cfg", "vif = [ 'mac=00:16:3e:00:00:01,ip=10.0.0.1,script=vif-route',\n'mac=00:16:3e:00:00:01,ip=10.0.0.1,script=vif-route' ]\n");
    let got = problems(output(&mut s.vifkit(&[
        "check",
        "--xl-dir",
        s.xl().to_str().unwrap(),
    ])));
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].contains("/evil\\nerror: forged.cfg:2: vif 1 of guest evil\\nerror: forged"),
        "{got:?}"
    );
}

/// The namespace for the bridge checks: br0 (STP off, MTU 9000) with uplink eth0 (MTU
/// 1500) and a guest port of MTU 9000; bond0 (MTU 1500), the raw device of VLAN bridge
/// br900; br1 with STP on.
fn ns_with_problems() -> Netns {
    let ns = Netns::new();
    ns.ip(&["link", "add", "br0", "type", "bridge", "stp_state", "0"]);
    ns.ip(&[
        "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p",
    ]);
    ns.ip(&[
        "link", "add", "vif5.0", "mtu", "9000", "type", "veth", "peer", "name", "vif5p",
    ]);
    ns.ip(&["link", "set", "eth0", "master", "br0"]);
    ns.ip(&["link", "set", "vif5.0", "master", "br0"]);
    ns.ip(&["link", "set", "br0", "mtu", "9000"]);
    ns.ip(&[
        "link", "add", "bond0", "type", "veth", "peer", "name", "bond0p",
    ]);
    ns.ip(&["link", "add", "br1", "type", "bridge", "stp_state", "1"]);
    ns
}

#[test]
#[ignore = "needs root: a network namespace with bridges"]
fn bridges_stp_and_mtus_in_a_namespace() {
    let s = Setup::new();
    let ns = ns_with_problems();
    assert_eq!(
        ns.link("br0").unwrap()["mtu"],
        9000,
        "the kernel kept br0's MTU below 9000"
    );
    s.bridge(&["br0", "--uplink", "eth0", "--mtu", "9000"]);
    // Guest a's running NICs, as its config has them: one guest, one line per problem.
    s.record("a", 7, 0, "00:16:3e:00:00:01", "br0");
    s.record("a", 7, 1, "00:16:3e:00:00:02", "br0");
    s.bridge(&[
        "br900",
        "--uplink",
        "bond0",
        "--vlan",
        "900",
        "--mtu",
        "9000",
        "--creatable",
    ]);
    s.cfg(
        "a.cfg",
        "name = \"a\"\nvif = [ 'mac=00:16:3e:00:00:01,bridge=br0', 'mac=00:16:3e:00:00:02,bridge=br0',\n\
         'mac=00:16:3e:00:00:03,bridge=br1', 'mac=00:16:3e:00:00:04,bridge=br1',\n\
         'mac=00:16:3e:00:00:05,bridge=brmissing,mtu=1500' ]\n",
    );
    s.cfg(
        "b.cfg",
        "name = \"b\"\nvif = [ 'mac=00:16:3e:00:00:06,bridge=br0,mtu=9000',\n\
         'mac=00:16:3e:00:00:07,bridge=br900,script=vif-bridge' ]\n",
    );
    let uri = s.libvirt(&domain(
        "q",
        "<interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='nobr'/></interface>\
         <interface type='bridge'><mac address='52:54:00:00:00:02'/><source bridge='br1'/></interface>",
    ));
    let xl = s.xl();
    let got = problems(output(ns.cmd(BIN).arg("--db").arg(s.db()).args([
        "check",
        "--xl-dir",
        xl.to_str().unwrap(),
        "--connect",
        &uri,
    ])));
    let x = xl.display();
    let want = [
        format!(
            "{x}/a.cfg:4: vif 4 of guest a: bridge brmissing is neither on this host nor in \
             the registry"
        ),
        format!(
            "{uri} domain q interface 0: bridge nobr is neither on this host nor in the registry"
        ),
        format!(
            "{x}/a.cfg:2: vif 0 of guest a: guest a has 2 NICs on bridge br0, whose STP is \
             off: a bridge or bond between them inside the guest makes a loop nothing breaks \
             ({x}/a.cfg:2: vif 1 of guest a)"
        ),
        "bridge br0: uplink eth0 has MTU 1500, smaller than the bridge's 9000: larger frames \
         are dropped on the way out"
            .to_owned(),
        "bridge br0: port vif5.0 has MTU 9000, larger than uplink eth0's 1500".to_owned(),
        format!(
            "{x}/b.cfg:2: vif 0 of guest b: MTU 9000 on bridge br0, larger than uplink eth0's 1500"
        ),
        "bridge br900: VLAN uplink bond0 has MTU 1500, which leaves no room for VLAN 900 with \
         MTU 9000: the 802.1Q device bond0.900 carries at most its raw device's MTU (raise \
         bond0's MTU to 9000)"
            .to_owned(),
    ];
    assert_eq!(got, want, "got:\n{}", got.join("\n"));

    // Fixed, the same set-up is clean: exit 0, nothing printed.
    ns.ip(&["link", "set", "eth0", "mtu", "9000"]);
    ns.ip(&["link", "set", "bond0", "mtu", "9000"]);
    ns.ip(&["link", "set", "br0", "type", "bridge", "stp_state", "1"]);
    s.cfg(
        "a.cfg",
        "name = \"a\"\nvif = [ 'mac=00:16:3e:00:00:01,bridge=br0', 'mac=00:16:3e:00:00:02,bridge=br0',\n\
         'mac=00:16:3e:00:00:03,bridge=br1', 'mac=00:16:3e:00:00:04,bridge=br1' ]\n",
    );
    let uri = s.libvirt(&domain(
        "q",
        "<interface type='bridge'><mac address='52:54:00:00:00:02'/><source bridge='br1'/></interface>\
         <interface type='network'><mac address='52:54:00:00:00:03'/><source network='default'/></interface>",
    ));
    let out = output(ns.cmd(BIN).arg("--db").arg(s.db()).args([
        "check",
        "--xl-dir",
        xl.to_str().unwrap(),
        "--connect",
        &uri,
    ]));
    assert_eq!(
        (out.status, out.stdout.as_str(), out.stderr.as_str()),
        (0, "", ""),
        "{out:?}"
    );
    let _: &Path = &xl;
}
