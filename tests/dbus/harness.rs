//! The harness of the D-Bus tests: a private `dbus-daemon`, `vifkit serve` on it, and
//! `busctl` (as root or as `nobody`) and `busctl monitor` as the clients.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use registry::{Attachment, Bridge, BridgeKind, DomainName};
use serde_json::Value;
use translator::IfName;

use crate::common::is_root;
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_vifkit");
/// How long a test waits for a process to say something before it fails.
pub(crate) const DEADLINE: Duration = Duration::from_secs(30);

pub(crate) fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Lines a child prints on one of its pipes, read by a thread.
pub(crate) fn lines_of(pipe: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line that `want` accepts, failing at the deadline.
pub(crate) fn wait_line(rx: &Receiver<String>, what: &str, want: impl Fn(&str) -> bool) -> String {
    let end = Instant::now() + DEADLINE;
    let mut seen = Vec::new();
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) if want(&l) => return l,
            Ok(l) => seen.push(l),
            Err(e) => panic!("waiting for {what}: {e}; saw {seen:#?}"),
        }
    }
}

/// A private bus: `dbus-daemon` with its own config in a temporary directory that
/// `nobody` can reach, allowing every user to connect, own and send, as a system bus
/// lets local users.
pub(crate) struct Bus {
    dir: tempfile::TempDir,
    pub(crate) address: String,
    daemon: Child,
}

impl Bus {
    /// A private bus, for a test that runs as root: without polkit, `vifkit serve`
    /// lets only root change the registry, and only root can run a client as `nobody`.
    /// Fails the test when not root (such tests are `#[ignore]`d for that).
    pub(crate) fn start() -> Bus {
        assert!(
            is_root(),
            "needs root: without polkit only root may change the registry through the \
             service, and clients run as nobody through setpriv; tests needing it are \
             #[ignore]d for that: run them as root, as tests/run.sh does"
        );
        Bus::start_as_anyone()
    }

    /// A private bus, for a test that only reads through the service.
    pub(crate) fn start_as_anyone() -> Bus {
        Bus::start_with_policy(
            r#"<policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>"#,
        )
    }

    /// A private bus whose `<busconfig>` holds `policy` (policies, `<includedir>`s)
    /// instead of the one that allows everything.
    pub(crate) fn start_with_policy(policy: &str) -> Bus {
        for (p, package) in [
            ("dbus-daemon", "dbus-daemon"),
            ("busctl", "systemd"),
            ("gdbus", "libglib2.0-bin"),
            ("dbus-send", "dbus-bin"),
        ] {
            assert!(
                have(p),
                "{p} is missing: install {package} (packaging/install-deps.sh)"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let socket = dir.path().join("bus");
        let config = dir.path().join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  {policy}
</busconfig>
"#,
                socket.display()
            ),
        )
        .unwrap();
        let mut daemon = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--nopidfile", "--print-address=1"])
            .stdout(Stdio::piped())
            // It says, as root, that it cannot raise its fd limit; nothing of interest.
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let lines = lines_of(daemon.stdout.take().unwrap());
        let address = wait_line(&lines, "the bus address", |l| l.starts_with("unix:"));
        Bus {
            dir,
            address,
            daemon,
        }
    }

    pub(crate) fn db(&self) -> PathBuf {
        self.dir.path().join("registry.db")
    }

    /// `vifkit --db DB serve --address ADDR ARGS...`, `prefix` (e.g. `ip netns exec NS`)
    /// before it; returns once it owns org.vifkit.
    pub(crate) fn serve(&self, prefix: &[&str], args: &[&str]) -> Serve {
        let db = self.db().display().to_string();
        self.serve_with(prefix, &["--db", &db], args)
    }

    /// `vifkit GLOBAL... serve --address ADDR ARGS...` (`GLOBAL` names the registry:
    /// `--db DB`, `--config FILE`), `prefix` before it; returns once it owns org.vifkit.
    pub(crate) fn serve_with(&self, prefix: &[&str], global: &[&str], args: &[&str]) -> Serve {
        let mut cmd = match prefix.split_first() {
            Some((p, rest)) => {
                let mut c = Command::new(p);
                c.args(rest).arg(BIN);
                c
            }
            None => Command::new(BIN),
        };
        let mut child = cmd
            .env_remove("VIFKIT_DB")
            .env_remove("VIFKIT_REGISTRY")
            .env_remove("VIFKIT_CONFIG")
            .args(global)
            .args(["serve", "--address", &self.address])
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = lines_of(child.stderr.take().unwrap());
        let said = std::cell::RefCell::new(Vec::new());
        let ready = wait_line(&stderr, "the service to own org.vifkit", |l| {
            said.borrow_mut().push(l.to_owned());
            l.starts_with("vifkit serve: org.vifkit on") || l.starts_with("error:")
        });
        assert!(!ready.starts_with("error:"), "{ready}");
        Serve {
            child,
            said: said.into_inner(),
            _stderr: stderr,
        }
    }

    pub(crate) fn run(&self, nobody: bool, program: &str, args: &[String]) -> Output {
        let mut cmd = if nobody {
            let mut c = Command::new("setpriv");
            c.args([
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                program,
            ]);
            c
        } else {
            Command::new(program)
        };
        cmd.args(args).stdin(Stdio::null()).output().unwrap()
    }

    pub(crate) fn busctl_args(&self, iface: &str, method: &str, args: &[&str]) -> Vec<String> {
        let mut v = vec![
            format!("--address={}", self.address),
            "--json=short".into(),
            "call".into(),
            "org.vifkit".into(),
            "/org/vifkit".into(),
            format!("org.vifkit.{iface}"),
            method.into(),
        ];
        v.extend(args.iter().map(|s| (*s).to_owned()));
        v
    }

    /// A call through `busctl` that must succeed: its reply's `data`.
    pub(crate) fn call_as(&self, nobody: bool, iface: &str, method: &str, args: &[&str]) -> Value {
        let out = self.run(nobody, "busctl", &self.busctl_args(iface, method, args));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{method}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if stdout.trim().is_empty() {
            return Value::Null;
        }
        let v: Value = serde_json::from_str(&stdout).unwrap();
        v["data"].clone()
    }

    /// A call through `busctl` to any service that must succeed: its reply's `data`.
    pub(crate) fn call_on(
        &self,
        dest: &str,
        path: &str,
        iface: &str,
        method: &str,
        args: &[&str],
    ) -> Value {
        let mut v = vec![
            format!("--address={}", self.address),
            "--json=short".into(),
            "call".into(),
            dest.into(),
            path.into(),
            iface.into(),
            method.into(),
        ];
        v.extend(args.iter().map(|s| (*s).to_owned()));
        let out = self.run(false, "busctl", &v);
        assert!(
            out.status.success(),
            "{method}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if out.stdout.trim_ascii().is_empty() {
            return Value::Null;
        }
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["data"].clone()
    }

    /// `GetManagedObjects` through `busctl`: path -> interface -> property -> busctl's
    /// `{"type": ..., "data": ...}`.
    pub(crate) fn managed_objects(&self) -> Value {
        self.call_on(
            "org.vifkit",
            "/org/vifkit",
            "org.freedesktop.DBus.ObjectManager",
            "GetManagedObjects",
            &[],
        )[0]
        .clone()
    }

    pub(crate) fn call(&self, iface: &str, method: &str, args: &[&str]) -> Value {
        self.call_as(false, iface, method, args)
    }

    /// A call through `gdbus` that must fail: the error's name and message.
    pub(crate) fn error_as(&self, nobody: bool, method: &str, args: &[&str]) -> (String, String) {
        self.error_at(nobody, "/org/vifkit", method, args)
    }

    /// A call through `gdbus` to the object `path` that must fail: the error's name and
    /// message.
    pub(crate) fn error_at(
        &self,
        nobody: bool,
        path: &str,
        method: &str,
        args: &[&str],
    ) -> (String, String) {
        let mut v = vec![
            "call".to_owned(),
            "--address".into(),
            self.address.clone(),
            "--dest".into(),
            "org.vifkit".into(),
            "--object-path".into(),
            path.into(),
            "--method".into(),
            format!("org.vifkit.{method}"),
        ];
        v.extend(args.iter().map(|s| (*s).to_owned()));
        let out = self.run(nobody, "gdbus", &v);
        assert!(!out.status.success(), "{method} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        let rest = err
            .trim()
            .strip_prefix("Error: GDBus.Error:")
            .unwrap_or_else(|| panic!("{method}: {err}"));
        let (name, msg) = rest.split_once(": ").unwrap();
        (name.to_owned(), msg.to_owned())
    }

    pub(crate) fn error(&self, method: &str, args: &[&str]) -> (String, String) {
        self.error_as(false, method, args)
    }

    /// `busctl monitor`, ready once the bus has made it a monitor.
    pub(crate) fn monitor(&self) -> Monitor {
        let mut child = Command::new("busctl")
            .arg(format!("--address={}", self.address))
            .args(["--json=short", "monitor"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = lines_of(child.stderr.take().unwrap());
        wait_line(&stderr, "busctl monitor", |l| l.contains("Monitoring"));
        let lines = lines_of(child.stdout.take().unwrap());
        Monitor { child, lines }
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

pub(crate) struct Serve {
    child: Child,
    /// What the service said on stderr until it owned its name.
    pub(crate) said: Vec<String>,
    /// Kept, so that the service's stderr stays open while it runs.
    _stderr: Receiver<String>,
}

impl Serve {
    /// SIGTERM, and the exit status.
    pub(crate) fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        self.child.wait().unwrap()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) struct Monitor {
    child: Child,
    lines: Receiver<String>,
}

impl Monitor {
    /// Waits for a message `want` accepts.
    pub(crate) fn wait(&self, what: &str, want: impl Fn(&Value) -> bool) -> Value {
        let line = wait_line(&self.lines, what, |l| {
            serde_json::from_str::<Value>(l).is_ok_and(|v| want(&v))
        });
        serde_json::from_str(&line).unwrap()
    }

    /// Every signal from /org/vifkit, in order, up to and including the first `member`
    /// whose first argument is `arg`. (tests/dbus_etcd.rs uses it, tests/dbus.rs not.)
    #[allow(dead_code)]
    pub(crate) fn signals_until(&self, member: &str, arg: &str) -> Vec<Value> {
        let end = Instant::now() + DEADLINE;
        let mut got = Vec::new();
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let line = match self.lines.recv_timeout(left) {
                Ok(l) => l,
                Err(e) => panic!("waiting for {member} {arg}: {e}; saw {got:#?}"),
            };
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if v["type"] != "signal" || v["path"] != "/org/vifkit" {
                continue;
            }
            let last = v["member"] == member && v["payload"]["data"][0] == arg;
            got.push(v);
            if last {
                return got;
            }
        }
    }

    /// The payload of the next `PropertiesChanged` from the object `path`: the
    /// interface, the changed properties and the invalidated ones.
    pub(crate) fn properties_changed(&self, path: &str) -> Value {
        self.wait(&format!("PropertiesChanged from {path}"), |v| {
            v["type"] == "signal" && v["path"] == path && v["member"] == "PropertiesChanged"
        })["payload"]["data"]
            .clone()
    }

    /// The payload of the next signal `member` from /org/vifkit.
    pub(crate) fn next(&self, member: &str) -> Value {
        let line = wait_line(&self.lines, member, |l| {
            serde_json::from_str::<Value>(l).is_ok_and(|v| {
                v["type"] == "signal" && v["path"] == "/org/vifkit" && v["member"] == member
            })
        });
        serde_json::from_str::<Value>(&line).unwrap()["payload"]["data"][0].clone()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn br(name: &str) -> Bridge {
    Bridge::new(IfName::new(name).unwrap(), BridgeKind::Linux)
}

pub(crate) fn nic(domid: u32, mac: &str) -> Attachment {
    Attachment::xen(
        DomainName::new("guest").unwrap(),
        domid,
        0,
        mac.parse().unwrap(),
        IfName::new("br0").unwrap(),
        true,
    )
    .unwrap()
}

/// A value of a busctl JSON `a{sv}`.
pub(crate) fn field<'v>(dict: &'v Value, key: &str) -> &'v Value {
    &dict[key]["data"]
}
