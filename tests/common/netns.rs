//! A network namespace made for one test, `vk-test-PID-N`, deleted again when dropped
//! (also when the test fails), and what the tests look at in it.
//!
//! Making one needs root: the tests using it are `#[ignore = "needs root: ..."]`, so a
//! plain `cargo test` shows them as ignored and `tests/run.sh` runs them as root with
//! `--include-ignored`. Run without root, [`Netns::new`] fails the test, saying why.
//!
//! A test needing a kernel feature that some kernels lack is named after it,
//! `kernel_with_<feature>_...` (and one checking how vifkit reports its absence
//! `kernel_without_<feature>_...`); `tests/run.sh` probes the running kernel and skips
//! the tests that cannot run on it. [`needs`] and [`lacks`] word their failures.

use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

/// A network namespace of the test's own.
pub struct Netns {
    name: String,
}

impl Netns {
    /// `ip netns add vk-test-PID-N`; fails the test if it cannot.
    pub fn new() -> Netns {
        static N: AtomicUsize = AtomicUsize::new(0);
        assert!(
            super::is_root(),
            "needs root for `ip netns add`; tests needing it are #[ignore]d for that: run \
             them as root, as tests/run.sh does"
        );
        let name = format!(
            "vk-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let out = run(Command::new("ip").args(["netns", "add", &name]));
        assert!(
            out.status.success(),
            "`ip netns add {name}` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Netns { name }
    }

    /// The namespace's name, as `ip netns` knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip netns exec NS PROGRAM`: a command that runs inside the namespace.
    pub fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// `ip -n NS ARGS...`, which must succeed; its stdout.
    pub fn ip(&self, args: &[&str]) -> String {
        let out = self.try_ip_output(args);
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Whether `ip -n NS ARGS...` succeeds.
    pub fn try_ip(&self, args: &[&str]) -> bool {
        self.try_ip_output(args).status.success()
    }

    fn try_ip_output(&self, args: &[&str]) -> Output {
        run(Command::new("ip").args(["-n", &self.name]).args(args))
    }

    /// `ip -d -j link show`: every device, in the kernel's order.
    pub fn links(&self) -> Vec<Value> {
        match serde_json::from_str(&self.ip(&["-d", "-j", "link", "show"])).unwrap() {
            Value::Array(a) => a,
            other => panic!("{other}"),
        }
    }

    /// One device, as [`Netns::links`] shows it.
    pub fn link(&self, name: &str) -> Option<Value> {
        self.links().into_iter().find(|l| l["ifname"] == name)
    }

    /// The names of the Linux bridges.
    pub fn bridges(&self) -> Vec<String> {
        self.links()
            .into_iter()
            .filter(|l| l["linkinfo"]["info_kind"] == "bridge")
            .map(|l| l["ifname"].as_str().unwrap().to_owned())
            .collect()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stdin(Stdio::null())
            .status();
    }
}

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run `ip` (iproute2): {e}"))
}

/// What a `kernel_with_<marker>_...` test says when a step needing `feature` failed.
pub fn needs(feature: &str, marker: &str) -> String {
    format!(
        "if this kernel lacks {feature}: tests named kernel_with_{marker}_* need it \
         (tests/run.sh skips them on such kernels)"
    )
}

/// What a `kernel_without_<marker>_...` test says when a step needing `feature` was not
/// refused for its lack.
pub fn lacks(feature: &str, marker: &str) -> String {
    format!(
        "if this kernel has {feature}: tests named kernel_without_{marker}_* check the \
         refusal on kernels without it (tests/run.sh skips them on kernels with it)"
    )
}
