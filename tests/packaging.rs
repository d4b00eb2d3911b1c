//! The D-Bus service's packaging (packaging/dbus/) and `vifkit install-service`, checked
//! with the real tools that read the files: dbus-daemon (a private bus configured like
//! Debian's system bus, with the installed policy and activation file), xmllint with
//! polkit's DTD, and `systemd-analyze verify`. A tool that is missing fails its test,
//! naming the package to install (`packaging/install-deps.sh` installs them all). The
//! tests with a client running as another user need root, and are ignored unless asked
//! for (`--include-ignored`, as `tests/run.sh` does as root).

mod common;
use common::is_root;

use std::fs;
use std::io::{BufRead as _, BufReader};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::vifkit;

/// Where install-service puts each shipped file (with `--unit-dir /lib/systemd/system`),
/// the introspection files and the Cockpit page last (so the indices below stay those of
/// the other five).
const FILES: [(&str, &str); 16] = [
    (
        "dbus/org.vifkit.conf",
        "usr/share/dbus-1/system.d/org.vifkit.conf",
    ),
    (
        "dbus/org.vifkit.policy",
        "usr/share/polkit-1/actions/org.vifkit.policy",
    ),
    ("dbus/vifkit.service", "lib/systemd/system/vifkit.service"),
    (
        "systemd/vifkit-boot.service",
        "lib/systemd/system/vifkit-boot.service",
    ),
    (
        "dbus/org.vifkit.service",
        "usr/share/dbus-1/system-services/org.vifkit.service",
    ),
    (
        "dbus/interfaces/org.vifkit.Bridges1.xml",
        "usr/share/dbus-1/interfaces/org.vifkit.Bridges1.xml",
    ),
    (
        "dbus/interfaces/org.vifkit.NicModels1.xml",
        "usr/share/dbus-1/interfaces/org.vifkit.NicModels1.xml",
    ),
    (
        "dbus/interfaces/org.vifkit.Pairings1.xml",
        "usr/share/dbus-1/interfaces/org.vifkit.Pairings1.xml",
    ),
    (
        "dbus/interfaces/org.vifkit.Translator1.xml",
        "usr/share/dbus-1/interfaces/org.vifkit.Translator1.xml",
    ),
    (
        "dbus/interfaces/org.vifkit.Translator2.xml",
        "usr/share/dbus-1/interfaces/org.vifkit.Translator2.xml",
    ),
    (
        "dbus/interfaces/org.vifkit.Bridge2.xml",
        "usr/share/dbus-1/interfaces/org.vifkit.Bridge2.xml",
    ),
    (
        "dbus/interfaces/org.vifkit.Nic2.xml",
        "usr/share/dbus-1/interfaces/org.vifkit.Nic2.xml",
    ),
    (
        "cockpit/manifest.json",
        "usr/share/cockpit/vifkit/manifest.json",
    ),
    ("cockpit/index.html", "usr/share/cockpit/vifkit/index.html"),
    ("cockpit/vifkit.js", "usr/share/cockpit/vifkit/vifkit.js"),
    ("cockpit/vifkit.css", "usr/share/cockpit/vifkit/vifkit.css"),
];

fn shipped(name: &str) -> String {
    fs::read_to_string(common::root().join("packaging").join(name)).unwrap()
}

/// Where the program `name` (of Debian's `package`) is; fails the test without it.
fn tool(name: &str, package: &str) -> PathBuf {
    ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} is missing: install {package} (packaging/install-deps.sh)")
        })
}

/// Runs `cmd`; returns (success, stdout, stderr).
fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn install(root: &Path, extra: &[&str]) -> common::Output {
    let mut args = vec![
        "install-service",
        "--unit-dir",
        "/lib/systemd/system",
        "--root",
        root.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    vifkit(&args, None)
}

/// (inode, content) of every installed file.
fn snapshot(root: &Path) -> Vec<(u64, String)> {
    FILES
        .iter()
        .map(|(_, rel)| {
            let p = root.join(rel);
            (
                fs::metadata(&p).map(|m| m.ino()).unwrap_or(0),
                fs::read_to_string(&p).unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn install_service_writes_its_files_once_and_never_clobbers_an_edit() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();

    let out = install(root, &[]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    for (name, rel) in FILES {
        let p = root.join(rel);
        assert!(
            out.stdout.contains(&format!("wrote {}\n", p.display())),
            "{}",
            out.stdout
        );
        // The default --bin is the path the shipped files name: installed as shipped.
        assert_eq!(fs::read_to_string(&p).unwrap(), shipped(name), "{rel}");
        let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o644, "{rel}");
    }
    assert_eq!(out.stdout.lines().count(), FILES.len(), "{}", out.stdout);
    // /usr/bin/vifkit is not under the tempdir: a warning, not an error.
    assert!(out.stderr.contains("does not exist"), "{}", out.stderr);
    let first = snapshot(root);

    // Again: nothing is rewritten (same inodes).
    let out = install(root, &[]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout.matches("unchanged ").count(),
        FILES.len(),
        "{}",
        out.stdout
    );
    assert_eq!(snapshot(root), first);

    // Another --bin changes the three Exec= files: refused as a whole, nothing written.
    let out = install(root, &["--bin", "/opt/vk/bin/vifkit"]);
    assert_eq!(out.status, 1, "{}", out.stdout);
    assert_eq!(out.stdout, "");
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 3, "{}", out.stderr);
    assert!(errors[0].contains("lib/systemd/system/vifkit.service exists and differs"));
    assert!(errors[1].contains("lib/systemd/system/vifkit-boot.service exists and differs"));
    assert!(errors[2].contains("system-services/org.vifkit.service exists and differs"));
    assert!(errors.iter().all(|e| e.contains("--force")));
    assert_eq!(snapshot(root), first);

    // An administrator's edit survives a plain install, and --force puts ours back.
    let policy = root.join(FILES[1].1);
    fs::write(
        &policy,
        shipped("dbus/org.vifkit.policy").replace("auth_admin_keep", "yes"),
    )
    .unwrap();
    let out = install(root, &[]);
    assert_eq!(out.status, 1);
    assert!(out
        .stderr
        .contains(&format!("error: {} exists", policy.display())));
    assert!(fs::read_to_string(&policy)
        .unwrap()
        .contains("<allow_active>yes"));
    let out = install(root, &["--force", "--bin", "/opt/vk/bin/vifkit"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(out.stdout.matches("replaced ").count(), 4, "{}", out.stdout);
    assert_eq!(
        fs::read_to_string(&policy).unwrap(),
        shipped("dbus/org.vifkit.policy")
    );
    let unit = fs::read_to_string(root.join(FILES[2].1)).unwrap();
    assert!(
        unit.contains("\nExecStart=/opt/vk/bin/vifkit serve --system\n"),
        "{unit}"
    );
    let boot = fs::read_to_string(root.join(FILES[3].1)).unwrap();
    assert!(
        boot.contains("\nExecStart=/opt/vk/bin/vifkit reconcile\n")
            && boot.contains("\nExecStart=/opt/vk/bin/vifkit bridge ensure --all\n"),
        "{boot}"
    );
    let activation = fs::read_to_string(root.join(FILES[4].1)).unwrap();
    assert!(activation.contains("\nExec=/opt/vk/bin/vifkit serve --system\n"));
    // No temporary file is left behind: each directory holds only what was installed.
    for (_, rel) in FILES {
        let d = root.join(rel).parent().unwrap().to_owned();
        let installed = FILES
            .iter()
            .filter(|(_, r)| root.join(r).parent() == Some(d.as_path()))
            .count();
        assert_eq!(
            fs::read_dir(&d).unwrap().count(),
            installed,
            "{}",
            d.display()
        );
    }
}

#[test]
fn install_service_refuses_bad_options_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir");
    let out = install(&missing, &[]);
    assert_eq!(out.status, 1);
    assert!(out.stderr.starts_with("error: --root "), "{}", out.stderr);
    assert!(!missing.exists());
    for bin in ["vifkit", "/usr/bin/vif kit", "/usr/bin/%n"] {
        let out = install(dir.path(), &["--bin", bin]);
        assert_eq!(out.status, 1, "{bin}");
        assert!(out.stderr.starts_with("error: --bin "), "{}", out.stderr);
    }
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn xml_files_are_valid() {
    let xmllint = tool("xmllint", "libxml2-utils");
    let dir = common::root().join("packaging/dbus");
    let (ok, _, err) = run(Command::new(&xmllint)
        .arg("--noout")
        .arg(dir.join("org.vifkit.conf"))
        .arg(dir.join("org.vifkit.policy")));
    assert!(ok, "{err}");
    // The introspection files (checked against the live service in tests/dbus.rs).
    let mut interfaces: Vec<PathBuf> = fs::read_dir(dir.join("interfaces"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    interfaces.sort();
    assert_eq!(interfaces.len(), 7, "{interfaces:?}");
    let (ok, _, err) = run(Command::new(&xmllint).arg("--noout").args(&interfaces));
    assert!(ok, "{err}");
    let dtd = Path::new("/usr/share/polkit-1/policyconfig-1.dtd");
    assert!(
        dtd.is_file(),
        "{} is missing: install polkitd (packaging/install-deps.sh)",
        dtd.display()
    );
    let (ok, _, err) = run(Command::new(&xmllint)
        .args(["--noout", "--dtdvalid"])
        .arg(dtd)
        .arg(dir.join("org.vifkit.policy")));
    assert!(ok, "{err}");
    let xpath = |q: &str| {
        let (ok, out, err) = run(Command::new(&xmllint)
            .args(["--xpath", q])
            .arg(dir.join("org.vifkit.policy")));
        assert!(ok, "{q}: {err}");
        out.trim().to_owned()
    };
    let action = "//action[@id='org.vifkit.manage']/defaults";
    assert_eq!(
        xpath(&format!("string({action}/allow_active)")),
        "auth_admin_keep"
    );
    assert_eq!(xpath(&format!("string({action}/allow_any)")), "auth_admin");
    assert_eq!(xpath("count(//action)"), "1");
}

#[test]
fn systemd_accepts_the_unit() {
    let analyze = tool("systemd-analyze", "systemd");
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_vifkit");
    let out = install(dir.path(), &["--bin", bin]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let unit = dir.path().join(FILES[2].1);
    let verify = |path: &Path| {
        run(Command::new(&analyze)
            .args(["verify", "--man=no"])
            .arg(path)
            .env("SYSTEMD_LOG_COLOR", "0"))
    };
    let (ok, _, err) = verify(&unit);
    assert!(ok && err.trim().is_empty(), "systemd-analyze verify: {err}");

    // The check can fail: a broken copy is reported.
    let broken = dir.path().join("broken.service");
    let text = fs::read_to_string(&unit).unwrap();
    fs::write(&broken, text.replace("Type=dbus", "Type=dbsu")).unwrap();
    let (_, _, err) = verify(&broken);
    assert!(err.contains("Failed to parse service type"), "{err}");

    // The hardening keeps the exposure score low (0-10 scale; the threshold is x10).
    let (ok, out, err) = run(Command::new(&analyze)
        .args(["security", "--offline=yes", "--threshold=30", "--no-pager"])
        .arg(&unit));
    let score = out.lines().last().unwrap_or_default();
    assert!(ok, "exposure above 3.0: {score}\n{err}");
    eprintln!("{}", score.trim());
}

/// The boot unit: systemd accepts it; it is a oneshot running `vifkit reconcile` and
/// `vifkit bridge ensure --all` before libvirtd and xendomains start guests, after the
/// distribution's own network set-up and Open vSwitch.
#[test]
fn systemd_accepts_the_boot_unit() {
    let analyze = tool("systemd-analyze", "systemd");
    let text = shipped("systemd/vifkit-boot.service");
    assert!(text.contains("\nType=oneshot\n"));
    let execs: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("ExecStart="))
        .collect();
    assert_eq!(
        execs,
        [
            "/usr/bin/vifkit reconcile",
            "/usr/bin/vifkit bridge ensure --all"
        ]
    );
    let words = |key: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix(key))
            .flat_map(|l| l.split(' ').map(str::to_owned))
            .collect()
    };
    let before = words("Before=");
    for unit in [
        "libvirtd.service",
        "virtqemud.service",
        "xendomains.service",
    ] {
        assert!(before.iter().any(|u| u == unit), "{before:?}");
    }
    let after = words("After=");
    for unit in ["networking.service", "openvswitch-switch.service"] {
        assert!(after.iter().any(|u| u == unit), "{after:?}");
    }
    // verify checks that the program exists: point it at this build.
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("vifkit-boot.service");
    fs::write(
        &unit,
        text.replace("/usr/bin/vifkit", env!("CARGO_BIN_EXE_vifkit")),
    )
    .unwrap();
    let (ok, _, err) = run(Command::new(&analyze)
        .args(["verify", "--man=no"])
        .arg(&unit)
        .env("SYSTEMD_LOG_COLOR", "0"));
    assert!(ok && err.trim().is_empty(), "systemd-analyze verify: {err}");
}

/// uninstall-service removes exactly what install-service wrote; an edited file stays
/// with a warning, and nothing else under the root is touched.
#[test]
fn uninstall_service_removes_what_install_service_wrote_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let out = install(root, &[]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let edited = root.join(FILES[3].1);
    fs::write(&edited, "# the admin's own\n").unwrap();
    let other = root.join("usr/share/dbus-1/system.d/other.conf");
    fs::write(&other, "<busconfig/>\n").unwrap();

    let root_s = root.to_str().unwrap();
    let args = [
        "uninstall-service",
        "--unit-dir",
        "/lib/systemd/system",
        "--root",
        root_s,
    ];
    let out = vifkit(&args, None);
    assert_eq!(out.status, 0, "{}", out.stderr);
    // Every file but the edited one, and the Cockpit page's directory once empty.
    assert_eq!(out.stdout.lines().count(), FILES.len(), "{}", out.stdout);
    for (i, (_, rel)) in FILES.iter().enumerate() {
        assert_eq!(root.join(rel).exists(), i == 3, "{rel}");
    }
    assert!(!root.join("usr/share/cockpit/vifkit").exists());
    assert!(root.join("usr/share/cockpit").exists());
    assert!(
        out.stderr.contains("vifkit-boot.service differs") && out.stderr.contains("left in place"),
        "{}",
        out.stderr
    );
    assert!(other.exists());
    // Again: nothing left to remove.
    let out = vifkit(&args, None);
    assert_eq!((out.status, out.stdout.as_str()), (0, ""), "{}", out.stderr);
}

/// A private dbus-daemon configured like Debian's system bus (everything denied unless
/// a policy file allows it), reading policies from `root`'s system.d and activation
/// files from its system-services, as the system bus reads /usr/share/dbus-1.
struct SystemBus {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl SystemBus {
    fn start(root: &Path, env: &[(&str, &Path)]) -> SystemBus {
        let dir = tempfile::tempdir().unwrap();
        // The bus socket must be reachable by the unprivileged client.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let socket = dir.path().join("bus");
        let conf = dir.path().join("bus.conf");
        let share = root.join("usr/share/dbus-1");
        fs::write(
            &conf,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <servicedir>{services}</servicedir>
  <limit name="service_start_timeout">10000</limit>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus"
           send_interface="org.freedesktop.DBus.Introspectable"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"
          send_member="UpdateActivationEnvironment"/>
  </policy>
  <includedir>{policies}</includedir>
</busconfig>
"#,
                socket = socket.display(),
                services = share.join("system-services").display(),
                policies = share.join("system.d").display(),
            ),
        )
        .unwrap();
        let mut cmd = Command::new("dbus-daemon");
        cmd.arg(format!("--config-file={}", conf.display()))
            .args(["--nofork", "--nopidfile", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("dbus-daemon runs");
        // The address line is printed once the bus listens.
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(
            line.starts_with("unix:"),
            "dbus-daemon refused the configuration (with the installed policy): {line:?}"
        );
        SystemBus {
            child,
            address: line.trim().to_owned(),
            _dir: dir,
        }
    }

    /// `busctl call` on this bus as user nobody (uid 65534): (success, stdout+stderr).
    fn call_as_nobody(&self, args: &[&str]) -> (bool, String) {
        let (ok, out, err) = run(Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "busctl"])
            .arg(format!("--address={}", self.address))
            .args(["--timeout=20", "call"])
            .args(args));
        (ok, out + &err)
    }
}

impl Drop for SystemBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Fails the test unless it runs as root and has the D-Bus tools.
fn need_root_and_dbus_tools() {
    assert!(
        is_root(),
        "needs root (a client as another user, and owning org.vifkit); tests needing it \
         are #[ignore]d for that: run them as root, as tests/run.sh does"
    );
    tool("dbus-daemon", "dbus-daemon");
    tool("busctl", "systemd");
    tool("setpriv", "util-linux");
}

#[test]
#[ignore = "needs root: a client as another user, and owning org.vifkit"]
fn system_bus_policy_lets_root_own_the_name_and_everyone_call_it() {
    need_root_and_dbus_tools();
    let dir = tempfile::tempdir().unwrap();
    let out = install(dir.path(), &[]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let bus = SystemBus::start(dir.path(), &[]);

    // Root owns org.vifkit, with an object server answering (nothing is served: every
    // call the bus lets through gets a D-Bus error from it, never from the bus).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let conn = rt.block_on(async {
        let conn = zbus::connection::Builder::address(bus.address.as_str())
            .build()
            .await
            .unwrap();
        conn.request_name("org.vifkit")
            .await
            .expect("root may own org.vifkit");
        conn.object_server();
        conn
    });
    // The stand-in's replies are sent while the runtime runs: a thread keeps it running.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        rt.block_on(async {
            let _ = stop_rx.await;
        });
        drop(conn);
    });

    let (ok, out) = bus.call_as_nobody(&[
        "org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus",
        "RequestName",
        "su",
        "org.vifkit",
        "0",
    ]);
    assert!(
        !ok && out.contains("Access denied"),
        "nobody owned org.vifkit: {out}"
    );

    let allowed = [
        ("org.vifkit.Bridges1", "List"),
        ("org.vifkit.Bridges1", "Register"),
        ("org.vifkit.Bridges1", "Unregister"),
        ("org.vifkit.Bridges1", "Ensure"),
        ("org.vifkit.NicModels1", "List"),
        ("org.vifkit.Pairings1", "Lookup"),
        ("org.vifkit.Translator1", "VifToXml"),
        ("org.vifkit.Translator1", "XmlToVif"),
        ("org.vifkit.Translator2", "Check"),
        ("org.vifkit.Bridge2", "Set"),
        ("org.vifkit.Bridge2", "Unregister"),
        ("org.freedesktop.DBus.ObjectManager", "GetManagedObjects"),
        ("org.freedesktop.DBus.Introspectable", "Introspect"),
        ("org.freedesktop.DBus.Peer", "Ping"),
        ("org.freedesktop.DBus.Properties", "GetAll"),
    ];
    for (iface, method) in allowed {
        let (_, out) = bus.call_as_nobody(&["org.vifkit", "/org/vifkit", iface, method]);
        assert!(
            !out.contains("Access denied") && !out.contains("timed out"),
            "{iface}.{method} should reach the service: {out}"
        );
    }
    let denied = [
        ("org.vifkit.Secret1", "Get"),
        ("org.freedesktop.DBus.Properties", "Set"),
    ];
    for (iface, method) in denied {
        let (ok, out) = bus.call_as_nobody(&["org.vifkit", "/org/vifkit", iface, method]);
        assert!(
            !ok && out.contains("Access denied"),
            "{iface}.{method}: {out}"
        );
    }

    // The activation file is read: the bus can start org.vifkit on demand.
    let (ok, out) = bus.call_as_nobody(&[
        "org.freedesktop.DBus",
        "/org/freedesktop/DBus",
        "org.freedesktop.DBus",
        "ListActivatableNames",
    ]);
    assert!(ok && out.contains("\"org.vifkit\""), "{out}");

    let _ = stop_tx.send(());
    server.join().unwrap();
}

#[test]
#[ignore = "needs root: a client as another user"]
fn the_bus_activates_vifkit_serve_through_the_installed_files() {
    need_root_and_dbus_tools();
    let dir = tempfile::tempdir().unwrap();
    let out = install(dir.path(), &["--bin", env!("CARGO_BIN_EXE_vifkit")]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    let state = tempfile::tempdir().unwrap();
    let db = state.path().join("registry.db");
    // The activated service inherits the bus's environment: a private registry.
    let bus = SystemBus::start(dir.path(), &[("VIFKIT_DB", &db)]);
    let (ok, out) = bus.call_as_nobody(&[
        "org.vifkit",
        "/org/vifkit",
        "org.vifkit.NicModels1",
        "List",
        "s",
        "hvm",
    ]);
    assert!(ok, "activation or the call failed: {out}");
    assert!(out.starts_with("a(ssb) "), "{out}");
    assert!(out.contains("\"e1000\""), "{out}");
    // A manage method from an unprivileged caller gets through the bus, and the service
    // itself refuses it, naming the polkit action (there is no polkit on this bus).
    let gdbus = tool("gdbus", "libglib2.0-bin");
    let (ok, out, err) = run(Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(gdbus)
        .args(["call", "--address", &bus.address, "--dest", "org.vifkit"])
        .args(["--object-path", "/org/vifkit"])
        .args(["--method", "org.vifkit.Bridges1.Unregister", "xenbr0"]));
    assert!(!ok, "nobody unregistered a bridge: {out}");
    assert!(
        err.contains("org.vifkit.manage") && !err.contains("Rejected send message"),
        "{err}"
    );
}

/// The Cockpit page's manifest is JSON with its menu entry, and every file the page
/// loads is one install-service installs beside it (or Cockpit's own cockpit.js).
#[test]
fn the_cockpit_page_loads_only_what_is_installed() {
    let manifest: serde_json::Value =
        serde_json::from_str(&shipped("cockpit/manifest.json")).expect("manifest.json is JSON");
    assert!(manifest["menu"]["index"]["label"].is_string(), "{manifest}");
    let html = shipped("cockpit/index.html");
    let mut loaded = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attr) {
            let rest = &html[i + attr.len()..];
            loaded.push(rest[..rest.find('"').unwrap()].to_owned());
        }
    }
    loaded.sort();
    assert_eq!(loaded, ["../base1/cockpit.js", "vifkit.css", "vifkit.js"]);
    for f in &loaded[1..] {
        assert!(
            FILES
                .iter()
                .any(|(_, rel)| *rel == format!("usr/share/cockpit/vifkit/{f}")),
            "{f} is not installed"
        );
    }
}
