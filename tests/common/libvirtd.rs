//! A real, private `libvirtd` for a test: its own network namespace ([`Netns`]), mount
//! namespace (its own `/etc/libvirt`, `/etc/vifkit`, `/run`, `/var/lib/libvirt`,
//! `/var/log/libvirt`) and PID namespace, QEMU guests (TCG) started and destroyed with
//! the real `virsh`, and vifkit's hooks installed with `vifkit install-hooks --root`,
//! their registry named by the private `/etc/vifkit/vifkit.toml`.
//!
//! `tests/libvirtd/private-root.sh` makes the private system and stays as the PID
//! namespace's init; `virtlogd` and `libvirtd` are started in it through `nsenter`, with
//! libvirt's debug log for hooks and commands in [`Libvirtd::log_path`] (the hooks' own
//! lines are their stderr there: this system has no `/dev/log`). QEMU's capabilities,
//! which `libvirtd` probes slowly at its first start, are cached in
//! `target/tmp/libvirt-qemu-caps` for every later daemon.
//!
//! Dropping a [`Libvirtd`] kills its namespace's init, and with it every process of the
//! namespace (the daemons, QEMU), waits for it, and deletes the network namespace.
//! Everything here needs root (the tests are `#[ignore = "needs root: ..."]`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::netns::Netns;

/// The vifkit binary the hooks link to.
pub const VIFKIT: &str = env!("CARGO_BIN_EXE_vifkit");

/// How long a daemon may take to answer (its first start probes QEMU).
const DAEMON_DEADLINE: Duration = Duration::from_secs(120);

/// libvirt's debug log: every hook and command run, with their output.
const LOG_FILTERS: &str = "1:util.hook 1:util.command 3:*";

/// What the daemon runs as hooks.
#[derive(Debug, Clone)]
pub enum Hooks {
    /// vifkit's, installed by `vifkit install-hooks --root`.
    Vifkit,
    /// None.
    None,
    /// This program, as each driver's `.d/50-vifkit` hook (for a benchmark's floor).
    Program(PathBuf),
}

/// What a command gave.
#[derive(Debug)]
pub struct Out {
    /// Exit status (-1 if killed).
    pub status: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Out {
    fn from(out: std::process::Output) -> Out {
        Out {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// A NIC of a test guest.
#[derive(Debug, Clone)]
pub struct Nic {
    /// `bridge`, `network` or `user`.
    pub kind: &'static str,
    /// The bridge's or network's name (ignored for `user`).
    pub source: String,
    /// Its MAC.
    pub mac: String,
    /// QEMU's model: `e1000`, `rtl8139`, `virtio`.
    pub model: &'static str,
}

impl Nic {
    /// `<interface type='bridge'>` on `bridge`.
    pub fn bridge(bridge: &str, mac: &str, model: &'static str) -> Nic {
        Nic {
            kind: "bridge",
            source: bridge.to_owned(),
            mac: mac.to_owned(),
            model,
        }
    }

    /// `<interface type='network'>` on libvirt network `network`.
    pub fn network(network: &str, mac: &str, model: &'static str) -> Nic {
        Nic {
            kind: "network",
            source: network.to_owned(),
            mac: mac.to_owned(),
            model,
        }
    }

    /// `<interface type='user'>` (QEMU's own NAT: no bridge, left to libvirt).
    pub fn user(mac: &str, model: &'static str) -> Nic {
        Nic {
            kind: "user",
            source: String::new(),
            mac: mac.to_owned(),
            model,
        }
    }
}

/// A TCG guest with no disk, 64 MiB, and `nics`.
pub fn guest_xml(name: &str, nics: &[Nic]) -> String {
    let mut x = format!(
        "<domain type='qemu'>\n  <name>{name}</name>\n  <memory unit='MiB'>64</memory>\n  \
         <vcpu>1</vcpu>\n  <os><type arch='x86_64' machine='pc'>hvm</type></os>\n  \
         <devices>\n"
    );
    for n in nics {
        let source = match n.kind {
            "bridge" => format!("<source bridge='{}'/>", n.source),
            "network" => format!("<source network='{}'/>", n.source),
            _ => String::new(),
        };
        x.push_str(&format!(
            "    <interface type='{}'>{source}<mac address='{}'/><model type='{}'/></interface>\n",
            n.kind, n.mac, n.model
        ));
    }
    x.push_str("  </devices>\n</domain>\n");
    x
}

/// A network forwarding to host bridge `bridge` (`<forward mode='bridge'/>`).
pub fn bridge_network_xml(name: &str, bridge: &str) -> String {
    format!(
        "<network>\n  <name>{name}</name>\n  <forward mode='bridge'/>\n  \
         <bridge name='{bridge}'/>\n</network>\n"
    )
}

/// A private libvirtd (see the module's documentation).
pub struct Libvirtd {
    ns: Netns,
    dir: tempfile::TempDir,
    unshare: Option<Child>,
    init: u32,
    uri: String,
}

impl Libvirtd {
    /// A private daemon with vifkit's hooks.
    pub fn start() -> Libvirtd {
        Libvirtd::with_hooks(Hooks::Vifkit)
    }

    /// A private daemon running `hooks`.
    pub fn with_hooks(hooks: Hooks) -> Libvirtd {
        for (program, package) in [
            ("/usr/sbin/libvirtd", "libvirt-daemon-system"),
            ("/usr/sbin/virtlogd", "libvirt-daemon-system"),
            ("/usr/bin/qemu-system-x86_64", "qemu-system-x86"),
            ("/usr/bin/virsh", "libvirt-clients"),
            ("/usr/bin/nsenter", "util-linux"),
        ] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: install {package} (packaging/install-deps.sh)"
            );
        }
        // The hooks log to syslog where there is one: their lines would go to the
        // host's log, not to libvirtd's debug log where these tests read them.
        assert!(
            !Path::new("/dev/log").exists(),
            "/dev/log exists: vifkit's hooks would log to this host's syslog, and the \
             real-daemon tests read their lines from libvirtd's debug log (stderr)"
        );
        let ns = Netns::new();
        let dir = tempfile::Builder::new()
            .prefix("vk-libvirtd-")
            .tempdir()
            .unwrap();
        let caps = Path::new(env!("CARGO_TARGET_TMPDIR")).join("libvirt-qemu-caps");
        let script = super::root().join("tests/libvirtd/private-root.sh");
        let mut unshare = Command::new("ip");
        unshare
            .args(["netns", "exec", ns.name(), "unshare"])
            .args(["--mount", "--pid", "--fork", "--kill-child"])
            .arg(&script)
            .arg(dir.path())
            .arg(&caps)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("private-root.err")).unwrap());
        let unshare = unshare.spawn().expect("runs ip netns exec ... unshare");
        let uri = format!(
            "qemu:///system?socket={}/run/libvirt/libvirt-sock",
            dir.path().display()
        );
        let mut d = Libvirtd {
            ns,
            dir,
            init: 0,
            unshare: Some(unshare),
            uri,
        };
        let ready = d.dir.path().join("ready");
        d.poll("the private root to be ready", || ready.exists());
        let pid = d.unshare.as_ref().unwrap().id();
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        d.init = children
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unshare ({pid}) has no child: {}", d.root_err()));
        match hooks {
            Hooks::Vifkit => {
                let root = format!("/proc/{}/root", d.init);
                let out = super::vifkit(&["install-hooks", "--root", &root], None);
                assert_eq!(out.status, 0, "install-hooks: {}", out.stderr);
            }
            Hooks::None => {}
            Hooks::Program(p) => {
                let p = p.display();
                d.sh(&format!(
                    "for d in qemu network; do mkdir -p /etc/libvirt/hooks/$d.d && \
                     ln -s {p} /etc/libvirt/hooks/$d.d/50-vifkit; done"
                ));
            }
        }
        d.sh("virtlogd -d -p /run/virtlogd.pid");
        d.start_daemon();
        d
    }

    /// The test's network namespace (the daemon's and the guests').
    pub fn ns(&self) -> &Netns {
        &self.ns
    }

    /// The test's directory (outside the namespaces too).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The registry the hooks use (the private `/etc/vifkit/vifkit.toml` names it).
    pub fn registry_path(&self) -> PathBuf {
        self.dir().join("registry.db")
    }

    /// libvirtd's debug log.
    pub fn log_path(&self) -> PathBuf {
        self.dir().join("libvirtd.log")
    }

    /// The URI `virsh -c` reaches the daemon at.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    fn root_err(&self) -> String {
        std::fs::read_to_string(self.dir().join("private-root.err")).unwrap_or_default()
    }

    /// Polls `cond` every 20 ms until it holds; fails the test after the daemon deadline.
    pub fn poll(&self, what: &str, mut cond: impl FnMut() -> bool) {
        let t = Instant::now();
        while !cond() {
            assert!(
                t.elapsed() < DAEMON_DEADLINE,
                "timed out waiting for {what}; private root: {}; libvirtd log tail: {}",
                self.root_err(),
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// A command run inside the test's namespaces (network, mount, PID), with the
    /// minimal environment libvirt's daemons get.
    pub fn exec(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.args([
            "-t",
            &self.init.to_string(),
            "-m",
            "-p",
            "-n",
            "--",
            program,
        ])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LC_ALL", "C")
        .stdin(Stdio::null());
        c
    }

    /// `sh -c SCRIPT` inside the namespaces, which must succeed; its stdout.
    pub fn sh(&self, script: &str) -> String {
        let out = Out::from(self.exec("sh").args(["-c", script]).output().unwrap());
        assert_eq!(out.status, 0, "sh -c {script:?}: {}", out.stderr);
        out.stdout
    }

    /// Starts libvirtd and waits until it answers.
    pub fn start_daemon(&self) {
        let mut c = self.exec("libvirtd");
        c.args(["-d", "-p", "/run/libvirtd.pid"])
            .env("LIBVIRT_LOG_FILTERS", LOG_FILTERS)
            .env(
                "LIBVIRT_LOG_OUTPUTS",
                format!("1:file:{}", self.log_path().display()),
            );
        let out = Out::from(c.output().unwrap());
        assert_eq!(out.status, 0, "libvirtd -d: {}", out.stderr);
        self.poll("libvirtd to answer", || {
            self.virsh(&["list", "--all"]).status == 0
        });
    }

    /// The host's pids of the namespace's processes named `comm` (as /proc shows them).
    pub fn pids(&self, comm: &str) -> Vec<u32> {
        let path = format!("/proc/{0}/task/{0}/children", self.init);
        let children = std::fs::read_to_string(path).unwrap_or_default();
        children
            .split_whitespace()
            .filter_map(|p| p.parse::<u32>().ok())
            .filter(|p| {
                std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .is_ok_and(|c| c.trim_end() == comm)
            })
            .collect()
    }

    /// Stops libvirtd (SIGTERM) and waits until it is gone; guests keep running.
    pub fn stop_daemon(&self) {
        let pids = self.pids("libvirtd");
        assert!(!pids.is_empty(), "no libvirtd to stop");
        for p in &pids {
            kill(*p, libc::SIGTERM);
        }
        self.poll("libvirtd to exit", || {
            pids.iter()
                .all(|p| !Path::new(&format!("/proc/{p}")).exists())
        });
    }

    /// Kills the QEMU process of guest `name` (SIGKILL) and waits until it is gone.
    pub fn kill_qemu(&self, name: &str) {
        let want = format!("guest={name},");
        let pids: Vec<u32> = self
            .pids("qemu-system-x86")
            .into_iter()
            .filter(|p| {
                std::fs::read(format!("/proc/{p}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&want))
            })
            .collect();
        assert_eq!(pids.len(), 1, "QEMU processes of {name}: {pids:?}");
        kill(pids[0], libc::SIGKILL);
        self.poll("QEMU to exit", || {
            !Path::new(&format!("/proc/{}", pids[0])).exists()
        });
    }

    /// `virsh -c URI ARGS...`.
    pub fn virsh(&self, args: &[&str]) -> Out {
        let out = Command::new("virsh")
            .args(["-q", "-c", &self.uri])
            .args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LC_ALL", "C")
            .env("HOME", self.dir())
            .stdin(Stdio::null())
            .output()
            .expect("runs virsh");
        Out::from(out)
    }

    /// `virsh ARGS...`, which must succeed; its stdout.
    pub fn virsh_ok(&self, args: &[&str]) -> String {
        let out = self.virsh(args);
        assert_eq!(
            out.status,
            0,
            "virsh {args:?}: {}\nhook log:\n{}",
            out.stderr,
            self.hook_log().join("\n")
        );
        out.stdout
    }

    /// `virsh define` of `xml` (a domain).
    pub fn define(&self, xml: &str) {
        self.define_file("define", xml);
    }

    /// `virsh net-define` of `xml` (a network).
    pub fn net_define(&self, xml: &str) {
        self.define_file("net-define", xml);
    }

    fn define_file(&self, verb: &str, xml: &str) {
        let f = tempfile::NamedTempFile::new_in(self.dir()).unwrap();
        std::fs::write(f.path(), xml).unwrap();
        self.virsh_ok(&[verb, f.path().to_str().unwrap()]);
    }

    /// `virsh start NAME`, which must succeed.
    pub fn start_guest(&self, name: &str) {
        self.virsh_ok(&["start", name]);
    }

    /// `virsh destroy NAME`, which must succeed.
    pub fn destroy(&self, name: &str) {
        self.virsh_ok(&["destroy", name]);
    }

    /// `virsh domiflist NAME`: `(target dev, type, source, model, MAC)` per NIC.
    pub fn domiflist(&self, name: &str) -> Vec<[String; 5]> {
        self.virsh_ok(&["domiflist", name])
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() == 5).then(|| [f[0], f[1], f[2], f[3], f[4]].map(str::to_owned))
            })
            .collect()
    }

    /// The lines vifkit's hooks wrote (`vifkit-hook: LEVEL: ...`), in order, from
    /// libvirtd's debug log.
    pub fn hook_log(&self) -> Vec<String> {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        log.lines()
            .filter_map(|l| l.find("vifkit-hook: ").map(|i| l[i..].to_owned()))
            .collect()
    }

    /// Every hook libvirtd ran, in order, as `(object, op)` (`("g1", "prepare")`), from
    /// its debug log's `Calling hook` lines.
    pub fn hook_calls(&self) -> Vec<(String, String)> {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        log.lines()
            .filter(|l| l.contains("Calling hook "))
            .filter_map(|l| {
                let field = |k: &str| {
                    l.split_whitespace()
                        .find_map(|w| w.strip_prefix(k))
                        .map(str::to_owned)
                };
                Some((field("id=")?, field("op=")?))
            })
            .collect()
    }

    /// The hook lines written since `mark` lines (an earlier `hook_log().len()`).
    pub fn hook_log_since(&self, mark: usize) -> Vec<String> {
        self.hook_log().split_off(mark.min(self.hook_log().len()))
    }

    /// `vifkit --db REGISTRY ARGS...` (on the host: the registry is a file).
    pub fn vifkit(&self, args: &[&str]) -> super::Output {
        let db = self.registry_path();
        let mut all = vec!["--db", db.to_str().unwrap()];
        all.extend_from_slice(args);
        super::vifkit(&all, None)
    }

    /// `vifkit --db REGISTRY ARGS...`, which must succeed; its stdout.
    pub fn vifkit_ok(&self, args: &[&str]) -> String {
        let out = self.vifkit(args);
        assert_eq!(out.status, 0, "vifkit {args:?}: {}", out.stderr);
        out.stdout
    }
}

fn kill(pid: u32, sig: i32) {
    let pid = libc::pid_t::try_from(pid).unwrap();
    // SAFETY: kill(2) takes plain integers; the pid is one this test started (or one
    // of its namespace's processes), read from /proc just before.
    unsafe { libc::kill(pid, sig) };
}

impl Drop for Libvirtd {
    fn drop(&mut self) {
        // Killing the namespace's init kills every process in it; unshare (waiting for
        // its child) then exits, and is waited for here.
        if self.init != 0 {
            kill(self.init, libc::SIGKILL);
        }
        if let Some(mut u) = self.unshare.take() {
            if self.init == 0 {
                let _ = u.kill();
            }
            let _ = u.wait();
        }
    }
}
