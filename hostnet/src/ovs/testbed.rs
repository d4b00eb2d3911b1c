//! Test helper: a private Open vSwitch (`ovsdb-server` + userspace `ovs-vswitchd`) in a
//! temporary directory, never the system's. `ovs-vswitchd` runs in a network namespace
//! of its own (`unshare --net`), so the tap devices of `netdev` bridges never appear on
//! the host. Both daemons are stopped when the [`Testbed`] is dropped.
//!
//! Running it needs root, so the tests using it are `#[ignore = "needs root: ..."]`
//! (`tests/run.sh` runs them as root). Without root, or without the Open vSwitch
//! programs (which `packaging/install-deps.sh` installs), such a test fails and says
//! why; it never passes without running.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::Ovs;

/// Where the Open vSwitch schema is installed on Debian.
const SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";

/// A running private Open vSwitch.
pub struct Testbed {
    dir: tempfile::TempDir,
    vsctl: PathBuf,
    /// A handle on the private database.
    pub ovs: Ovs,
}

/// Finds `prog` on `PATH` or in the usual sbin directories.
pub fn find(prog: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(
            [
                "/usr/sbin",
                "/sbin",
                "/usr/bin",
                "/bin",
                "/usr/local/sbin",
                "/usr/local/bin",
            ]
            .map(PathBuf::from),
        )
        .map(|d| d.join(prog))
        .find(|p| p.is_file())
}

/// Runs a setup command; panics (failing the test) with its output if it fails.
fn run(dir: &Path, prog: &Path, args: &[&OsStr]) {
    let out = Command::new(prog)
        .args(args)
        .envs(["OVS_RUNDIR", "OVS_LOGDIR", "OVS_DBDIR", "OVS_SYSCONFDIR"].map(|k| (k, dir)))
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", prog.display()));
    assert!(
        out.status.success(),
        "{} {:?} failed: {}\n{}",
        prog.display(),
        args,
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Testbed {
    /// Starts a private Open vSwitch for `test`; fails the test if it cannot.
    pub fn start(test: &str) -> Testbed {
        crate::netlink::testns::need_root(test, "a private Open vSwitch");
        let mut progs = Vec::new();
        for p in [
            "ovsdb-tool",
            "ovsdb-server",
            "ovs-vsctl",
            "ovs-vswitchd",
            "unshare",
        ] {
            let path = find(p).unwrap_or_else(|| {
                panic!(
                    "{test}: {p} is missing: install openvswitch-switch \
                     (packaging/install-deps.sh)"
                )
            });
            progs.push(path);
        }
        assert!(
            Path::new(SCHEMA).is_file(),
            "{test}: {SCHEMA} is missing: install openvswitch-switch (packaging/install-deps.sh)"
        );
        let [tool, server, vsctl, vswitchd, unshare] = progs.as_slice() else {
            unreachable!("five programs were found");
        };
        // Short and under /tmp: unix socket paths are limited to 107 bytes.
        let dir = tempfile::Builder::new()
            .prefix("vifkit-ovs.")
            .tempdir_in("/tmp")
            .expect("temporary directory");
        let d = dir.path().to_owned();
        let sock = d.join("db.sock");
        let tb = Testbed {
            dir,
            vsctl: vsctl.clone(),
            ovs: Ovs::with_socket(&sock).with_program(vsctl),
        };
        let arg = |s: String| std::ffi::OsString::from(s);
        let db = d.join("conf.db");
        run(
            &d,
            tool,
            &[OsStr::new("create"), db.as_os_str(), OsStr::new(SCHEMA)],
        );
        run(
            &d,
            server,
            &[
                db.as_os_str(),
                &arg(format!("--remote=punix:{}", sock.display())),
                &arg(format!("--pidfile={}", d.join("ovsdb.pid").display())),
                &arg(format!("--unixctl={}", d.join("ovsdb.ctl").display())),
                &arg(format!("--log-file={}", d.join("ovsdb.log").display())),
                OsStr::new("--detach"),
            ],
        );
        let db_arg = arg(format!("--db=unix:{}", sock.display()));
        run(
            &d,
            vsctl,
            &[&db_arg, OsStr::new("--no-wait"), OsStr::new("init")],
        );
        run(
            &d,
            unshare,
            &[
                OsStr::new("--net"),
                OsStr::new("--"),
                vswitchd.as_os_str(),
                &arg(format!("unix:{}", sock.display())),
                &arg(format!("--pidfile={}", d.join("vswitchd.pid").display())),
                &arg(format!("--unixctl={}", d.join("vswitchd.ctl").display())),
                &arg(format!("--log-file={}", d.join("vswitchd.log").display())),
                OsStr::new("--detach"),
            ],
        );
        tb
    }

    /// The private run directory: `OVS_RUNDIR` pointing here makes `ovs-vsctl`'s default
    /// database this one (for a program under test that uses the default).
    pub fn rundir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `ovs-vsctl` on the private database (no waiting) and returns its output.
    pub fn vsctl(&self, args: &[&str]) -> String {
        let out = Command::new(&self.vsctl)
            .arg(format!(
                "--db=unix:{}",
                self.dir.path().join("db.sock").display()
            ))
            .args(["--no-wait", "--timeout=10"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("ovs-vsctl runs");
        assert!(
            out.status.success(),
            "ovs-vsctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Stops the daemon whose pid file is `name`, if it runs and is ours.
    fn stop(&self, name: &str) {
        let dir = self.dir.path();
        let Ok(text) = std::fs::read_to_string(dir.join(name)) else {
            return;
        };
        let Ok(pid) = text.trim().parse::<libc::pid_t>() else {
            return;
        };
        if pid <= 1 {
            return;
        }
        // Only a process started with this directory on its command line is ours.
        let ours = |pid: libc::pid_t| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let needle = dir.as_os_str().as_encoded_bytes();
                c.windows(needle.len()).any(|w| w == needle)
            })
        };
        let alive = |pid: libc::pid_t| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
                !s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
        };
        if !ours(pid) {
            return;
        }
        for sig in [libc::SIGTERM, libc::SIGKILL] {
            // SAFETY: kill(2) takes no pointers; `pid` is a daemon this test bed started
            // (its command line names our private directory).
            unsafe { libc::kill(pid, sig) };
            let start = Instant::now();
            while alive(pid) && start.elapsed() < Duration::from_secs(3) {
                std::thread::sleep(Duration::from_millis(20));
            }
            if !alive(pid) {
                return;
            }
        }
        eprintln!("warning: {name} (pid {pid}) did not stop");
    }
}

impl Drop for Testbed {
    fn drop(&mut self) {
        self.stop("vswitchd.pid");
        self.stop("ovsdb.pid");
    }
}
