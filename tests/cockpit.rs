//! The Cockpit page (packaging/cockpit/) in a real browser: headless Chromium, driven
//! over its DevTools pipe (tests/cockpit/cdp.rs), loads the page from Cockpit's own web
//! server, `cockpit-ws --local-session=cockpit-bridge`, which reaches `vifkit serve` on
//! a private bus as its "system bus" (`DBUS_SYSTEM_BUS_ADDRESS`), configured as
//! Debian's system bus with the policy install-service installs. The web server, the
//! browser and the service run in a network namespace made for the test: the web server
//! listens on that namespace's loopback only, and the bridges and guest devices the
//! page shows are kernel devices there. The page is the one `install-service` installs,
//! found through `XDG_DATA_DIRS`.
//!
//! The test fails if the page shows nothing of what the registry holds, or if a bridge
//! registered (through the page or beside it) never appears: the page only redraws on
//! the service's signals (ObjectManager's `InterfacesAdded`, `PropertiesChanged`).
//! A screenshot of the page is left in the target directory (`cockpit.png`); the one
//! in docs/ is a copy. A second test runs Cockpit's session as `nobody`: the page reads
//! the same, and the service's refusal of a registration is shown under the form.

mod common;
use common::netns::Netns;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Instant;

use registry::{
    Attachment, AttachmentState, DomainName, NicModelName, Registry as _, SqliteRegistry,
};
use serde_json::{json, Value};
use translator::IfName;

// The D-Bus tests' harness, of which this test uses a part.
#[allow(dead_code)]
#[path = "dbus/harness.rs"]
mod harness;
use harness::*;

#[path = "cockpit/cdp.rs"]
mod cdp;
use cdp::Browser;

const COCKPIT_WS: &str = "/usr/lib/cockpit/cockpit-ws";
/// The web server's port, on the namespace's loopback only.
const PORT: &str = "9090";

/// `cockpit-ws` serving one local session (a `cockpit-bridge` running as root, or as
/// `nobody`) on 127.0.0.1 in `ns`, without TLS.
struct Ws {
    child: Child,
    stderr: Receiver<String>,
}

impl Ws {
    fn start(ns: &Netns, bus: &Bus, dir: &Path, data: &Path, nobody: bool) -> Ws {
        let home = dir.join("ws-home");
        std::fs::create_dir_all(&home).unwrap();
        let mut cmd = if nobody {
            std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o777)).unwrap();
            let mut c = ns.cmd("setpriv");
            c.args([
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                COCKPIT_WS,
            ]);
            c
        } else {
            ns.cmd(COCKPIT_WS)
        };
        let mut child = cmd
            .args(["--no-tls", "--address", "127.0.0.1", "--port", PORT])
            .arg("--local-session=cockpit-bridge")
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LANG", "C.UTF-8")
            .env("HOME", &home)
            // The page as install-service puts it, then Cockpit's own base1.
            .env("XDG_DATA_DIRS", format!("{}:/usr/share", data.display()))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            // No /etc/cockpit: the defaults.
            .env("XDG_CONFIG_DIRS", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_RUNTIME_DIR", &home)
            // The bridge's system bus is the test's; so is its session bus (else it
            // starts a dbus-daemon of its own), and it needs no ssh-agent.
            .env("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .env("SSH_AUTH_SOCK", home.join("no-agent"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cockpit-ws runs (install cockpit-ws)");
        let stderr = lines_of(child.stderr.take().unwrap());
        // Listening once `ss` in the namespace shows it (checked until the deadline).
        let end = Instant::now() + DEADLINE;
        loop {
            let out = ns
                .cmd("ss")
                .args(["-Hltn", &format!("sport = :{PORT}")])
                .output()
                .unwrap();
            if !String::from_utf8_lossy(&out.stdout).trim().is_empty() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "cockpit-ws exited ({status}): {:#?}",
                    stderr.try_iter().collect::<Vec<_>>()
                );
            }
            assert!(
                Instant::now() < end,
                "cockpit-ws does not listen on 127.0.0.1:{PORT}: {:#?}",
                stderr.try_iter().collect::<Vec<_>>()
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Ws { child, stderr }
    }
}

impl Drop for Ws {
    fn drop(&mut self) {
        // SIGTERM: the bridge goes with the session's pipe.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        let said: Vec<String> = self.stderr.try_iter().collect();
        if std::thread::panicking() && !said.is_empty() {
            eprintln!("cockpit-ws said: {said:#?}");
        }
    }
}

fn have_file(path: &str, package: &str) {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: install {package} (packaging/install-deps.sh)"
    );
}

/// `vifkit --db DB ARGS...` in `ns`, which must succeed.
fn vifkit_in(ns: &Netns, bus: &Bus, args: &[&str], stdin: Option<&str>) {
    use std::io::Write as _;
    let mut child = ns
        .cmd(BIN)
        .arg("--db")
        .arg(bus.db())
        .args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LC_ALL", "C")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "vifkit {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The rows of the page's table `id`: the row's key attribute, its cells' text, and
/// for bridges their ports.
fn rows(b: &mut Browser, page: &str, id: &str) -> Vec<Value> {
    b.eval(
        page,
        &format!(
            r##"[...document.querySelectorAll("#{id} tbody tr")].map((r) => ({{
                key: r.dataset.bridge || r.dataset.nic,
                cells: [...r.cells].map((c) => c.textContent.trim()),
                ports: [...r.querySelectorAll("[data-port]")].map((p) => p.dataset.port),
            }}))"##
        ),
    )
    .as_array()
    .unwrap()
    .clone()
}

fn row<'r>(rows: &'r [Value], key: &str) -> &'r Value {
    rows.iter()
        .find(|r| r["key"] == key)
        .unwrap_or_else(|| panic!("no row {key} in {rows:#?}"))
}

/// Fills the bridge form (open) and submits it.
fn submit_bridge(b: &mut Browser, page: &str, fields: Value) {
    b.eval(
        page,
        &format!(
            r#"(() => {{
                const f = document.getElementById("bridge-form");
                for (const [k, v] of Object.entries({fields})) {{
                    if (typeof v === "boolean") f.elements[k].checked = v;
                    else f.elements[k].value = v;
                }}
                f.requestSubmit();
            }})()"#
        ),
    );
}

/// Chooses what to translate (`spec` or `cfg`) and the guest type, pastes `input` and
/// submits the form.
fn translate(b: &mut Browser, page: &str, what: &str, guest: &str, input: &str) {
    b.eval(
        page,
        &format!(
            r#"(() => {{
                const r = document.querySelector('input[name="what"][value="{what}"]');
                r.checked = true;
                r.dispatchEvent(new Event("change"));
                document.getElementById("t-guest").value = {guest};
                document.getElementById("t-input").value = {input};
                document.getElementById("translate-form").requestSubmit();
            }})()"#,
            guest = json!(guest),
            input = json!(input),
        ),
    );
}

/// The translation's diagnostics as shown: (class, code, where).
fn diags(b: &mut Browser, page: &str) -> Value {
    b.eval(
        page,
        r##"[...document.querySelectorAll("#t-diags li")].map((li) =>
            [li.className, li.dataset.code, li.querySelector(".where").textContent])"##,
    )
}

fn registered(bus: &Bus, name: &str) -> Option<registry::Bridge> {
    SqliteRegistry::open_read_only(bus.db())
        .unwrap()
        .bridges()
        .unwrap()
        .into_iter()
        .find(|b| b.name.as_str() == name)
}

/// The default policy of Debian's system bus (`/usr/share/dbus-1/system.conf`: every
/// method call denied unless a policy file allows it), with the policy files
/// install-service put under `root`.
fn system_policy(root: &Path) -> String {
    format!(
        r#"<policy context="default">
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
  <includedir>{}</includedir>"#,
        root.join("usr/share/dbus-1/system.d").display()
    )
}

/// Everything a test of the page needs, dropped browser first.
struct Setup {
    b: Browser,
    page: String,
    _ws: Ws,
    _serve: Serve,
    _ns: Netns,
    bus: Bus,
    _dir: tempfile::TempDir,
}

/// The host, the registry, the service, Cockpit (its session as root, or as `nobody`)
/// and the browser, with the page loaded and showing what the service has.
fn setup(nobody: bool) -> Setup {
    have_file(COCKPIT_WS, "cockpit-ws");
    have_file("/usr/bin/cockpit-bridge", "cockpit-bridge");
    have_file("/usr/bin/chromium", "chromium");
    let ns = Netns::new();
    let dir = tempfile::tempdir().unwrap();
    // Reachable by nobody (the page's files, the session's home below it).
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    ns.ip(&["link", "set", "lo", "up"]);

    // The page and the bus policy, where install-service puts them; the bus is
    // configured as Debian's system bus, so Cockpit gets only what the policy allows.
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let out = common::vifkit(
        &[
            "install-service",
            "--root",
            root.to_str().unwrap(),
            "--unit-dir",
            "/lib/systemd/system",
        ],
        None,
    );
    assert_eq!(out.status, 0, "{}", out.stderr);
    let bus = Bus::start_with_policy(&system_policy(&root));

    // The host: xenbr0 with guest hvm1's devices (NIC 0 as the PV vif and its emulated
    // e1000 twin, NIC 1 netfront only), as libxl and its hotplug script leave them.
    ns.ip(&["link", "add", "xenbr0", "type", "bridge"]);
    ns.ip(&["link", "set", "xenbr0", "up"]);
    for (i, dev) in ["vif6.0", "vif6.0-emu", "vif6.1"].iter().enumerate() {
        let peer = format!("p{i}");
        ns.ip(&["link", "add", dev, "type", "veth", "peer", "name", &peer]);
        ns.ip(&["link", "set", dev, "master", "xenbr0", "up"]);
    }
    // The registry: xenbr0, a bridge not on the host, and hvm1's NICs recorded by the
    // libvirt hook as libvirt runs it when the guest has started.
    vifkit_in(&ns, &bus, &["bridge", "add", "xenbr0"], None);
    vifkit_in(
        &ns,
        &bus,
        &[
            "bridge",
            "add",
            "br-lan",
            "--uplink",
            "eth0",
            "--vlan",
            "10",
            "--mtu",
            "9000",
            "--stp",
            "on",
            "--creatable",
        ],
        None,
    );
    let hvm =
        std::fs::read_to_string(common::root().join("tests/data/hooks/libxl-hvm.xml")).unwrap();
    vifkit_in(
        &ns,
        &bus,
        &["hook", "libxl", "hvm1", "started", "begin", "-"],
        Some(&hvm),
    );
    let serve = bus.serve(&["ip", "netns", "exec", ns.name()], &[]);

    let ws = Ws::start(&ns, &bus, dir.path(), &root.join("usr/share"), nobody);
    let mut b = Browser::launch(&ns, dir.path());
    let url = format!("http://127.0.0.1:{PORT}/cockpit/@localhost/vifkit/index.html");
    let page = b.open(&url);
    b.wait_for(
        &page,
        "the page to read org.vifkit",
        "document.body.dataset.ready === '1'",
    );
    Setup {
        b,
        page,
        _ws: ws,
        _serve: serve,
        _ns: ns,
        bus,
        _dir: dir,
    }
}

#[test]
#[ignore = "needs root: a network namespace, changes through the service"]
fn cockpit_page_shows_the_registry_and_registers_a_bridge() {
    let mut s = setup(false);
    let (b, p, bus) = (&mut s.b, s.page.as_str(), &s.bus);

    // The bridges the registry holds, with the host's ports.
    let bridges = rows(b, p, "bridges");
    let names: Vec<&Value> = bridges.iter().map(|r| &r["key"]).collect();
    assert_eq!(names, [&json!("br-lan"), &json!("xenbr0")], "{bridges:#?}");
    let xenbr0 = row(&bridges, "xenbr0");
    assert_eq!(
        xenbr0["ports"],
        json!(["vif6.0", "vif6.0-emu", "vif6.1"]),
        "{xenbr0:#}"
    );
    assert_eq!(xenbr0["cells"][6], "yes", "{xenbr0:#}");
    let lan = row(&bridges, "br-lan");
    assert_eq!(
        lan["cells"].as_array().unwrap()[..7],
        [
            json!("br-lan"),
            json!("linux"),
            json!("9000"),
            json!("on"),
            json!("eth0"),
            json!("10"),
            json!("no (created when needed)"),
        ],
        "{lan:#}"
    );
    // hvm1's NICs: the PV vif paired with its emulated twin, model and MAC.
    let nics = rows(b, p, "nics");
    assert_eq!(nics.len(), 2, "{nics:#?}");
    let nic0 = &row(&nics, "vif6.0")["cells"];
    assert!(nic0[0].as_str().unwrap().starts_with("hvm1"), "{nic0}");
    assert_eq!(nic0[1], "0");
    assert_eq!(nic0[2], "00:16:3e:5e:6c:02");
    assert_eq!(nic0[3], "e1000");
    assert_eq!(nic0[4], "vif6.0 + vif6.0-emu");
    assert_eq!(nic0[5], "xenbr0");
    let nic1 = &row(&nics, "vif6.1")["cells"];
    assert_eq!(nic1[2], "00:16:3e:5e:6c:03");
    assert_eq!(nic1[4], "vif6.1");

    // Registering through the page: a bad MTU is refused by the service, and its
    // message shows beside the MTU field; nothing is registered.
    b.eval(p, r#"document.getElementById("register-open").click()"#);
    submit_bridge(b, p, json!({ "name": "vkweb0", "mtu": "big" }));
    b.wait_for(
        p,
        "the service's refusal beside the MTU field",
        r#"document.querySelector('.diag[data-for="mtu"]').textContent.includes("mtu")"#,
    );
    assert!(registered(bus, "vkweb0").is_none());
    // Then a good one: it appears in the list from the service's signal.
    submit_bridge(b, p, json!({ "mtu": "1400", "stp": true }));
    b.wait_for(
        p,
        "vkweb0 in the list",
        r#"document.querySelector('#bridges tr[data-bridge="vkweb0"]')"#,
    );
    let new = registered(bus, "vkweb0").expect("vkweb0 is registered");
    assert_eq!(new.mtu.map(|m| m.get()), Some(1400));
    assert!(new.stp);
    assert!(b.eval(p, r#"document.getElementById("bridge-form").hidden"#) == json!(true));
    // Changing it through the page (Bridge2.Set): the row follows PropertiesChanged.
    b.eval(
        p,
        r#"document.querySelector('#bridges tr[data-bridge="vkweb0"] button').click()"#,
    );
    submit_bridge(b, p, json!({ "mtu": "1500" }));
    b.wait_for(
        p,
        "vkweb0's new MTU in the list",
        r#"document.querySelector('#bridges tr[data-bridge="vkweb0"]').cells[2].textContent === "1500""#,
    );
    assert_eq!(
        registered(bus, "vkweb0").unwrap().mtu.map(|m| m.get()),
        Some(1500)
    );

    // A bridge registered beside the page (another client) appears, and goes again.
    bus.call("Bridges1", "Register", &["sa{sv}", "vkcli0", "0"]);
    b.wait_for(
        p,
        "vkcli0, registered by another client, in the list",
        r#"document.querySelector('#bridges tr[data-bridge="vkcli0"]')"#,
    );
    bus.call("Bridges1", "Unregister", &["s", "vkcli0"]);
    b.wait_for(
        p,
        "vkcli0 gone from the list",
        r#"!document.querySelector('#bridges tr[data-bridge="vkcli0"]')"#,
    );

    // A NIC recorded after the page loaded (a QEMU guest's tap, VLAN 42 on br-lan, as
    // a hook in another process records it) appears from InterfacesAdded.
    let mut web = Attachment::qemu(
        DomainName::new("web1").unwrap(),
        3,
        0,
        "52:54:00:6b:3c:58".parse().unwrap(),
        IfName::new("br-lan").unwrap(),
        IfName::new("vnet12").unwrap(),
    );
    web.vlan = Some(registry::parse_vlan_spec("vlan", "42").unwrap());
    web.model = Some(NicModelName::new("virtio").unwrap());
    web.state = AttachmentState::Active;
    SqliteRegistry::open(bus.db())
        .unwrap()
        .record(&web)
        .unwrap();
    b.wait_for(
        p,
        "web1's NIC in the list",
        r#"document.querySelector('#nics tr[data-nic="vnet12"]')"#,
    );
    let nics = rows(b, p, "nics");
    let web = &row(&nics, "vnet12")["cells"];
    assert_eq!(
        web.as_array().unwrap()[1..],
        [
            json!("0"),
            json!("52:54:00:6b:3c:58"),
            json!("virtio"),
            json!("vnet12"),
            json!("br-lan"),
            json!("42"),
            json!("active"),
        ],
        "{web}"
    );

    // Translating a pasted vif spec that does not translate: each of Check's
    // diagnostics, with the vif and key it names.
    translate(b, p, "spec", "hvm", "mac=zz,bridge=xenbr0,colour=red");
    b.wait_for(
        p,
        "the spec's errors",
        r##"document.querySelectorAll("#t-diags li.error").length === 2"##,
    );
    assert_eq!(
        diags(b, p),
        json!([
            ["error", "bad-mac", "vif[0]mac=zz"],
            ["error", "unknown-key", "vif[0]colour=colour=red"],
        ])
    );
    assert_eq!(
        b.eval(p, r#"document.getElementById("t-output").hidden"#),
        true
    );
    // A pasted xl config: its vif list as <interface> elements, the guest type from
    // the config, and a warning naming the second vif's bridge.
    translate(
        b,
        p,
        "cfg",
        "",
        "name = \"web1\"\ntype = \"hvm\"\nvif = [ 'mac=00:16:3e:01:02:03,bridge=xenbr0,model=e1000',\n        'mac=00:16:3e:01:02:04,bridge=ovsbr0.10:20' ]\n",
    );
    b.wait_for(
        p,
        "the config's translation",
        r#"!document.getElementById("t-output").hidden"#,
    );
    let xml = b.eval(p, r#"document.getElementById("t-output").textContent"#);
    let xml = xml.as_str().unwrap();
    assert_eq!(xml.matches("<interface").count(), 2, "{xml}");
    assert!(
        xml.contains("00:16:3e:01:02:03") && xml.contains("e1000") && xml.contains("ovsbr0"),
        "{xml}"
    );
    let d = diags(b, p);
    assert_eq!(d.as_array().unwrap().len(), 1, "{d}");
    assert_eq!(d[0][0], "warning");
    assert_eq!(d[0][2], "vif[1]bridge");

    let png = b.screenshot(p, 1100);
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cockpit.png");
    std::fs::write(&shot, &png).unwrap();
    eprintln!("screenshot: {} ({} bytes)", shot.display(), png.len());
    let said = b.said();
    assert!(!said.contains("exception:"), "{said}");
    b.close();
}

/// A Cockpit session of an unprivileged user (`nobody`, no administrative access): the
/// page reads everything, and a registration is refused by the service (no root, no
/// polkit yes) with the refusal shown under the form and nothing registered.
#[test]
#[ignore = "needs root: a network namespace, Cockpit's session as nobody"]
fn cockpit_page_of_an_unprivileged_user_reads_and_is_refused_changes() {
    let mut s = setup(true);
    let (b, p, bus) = (&mut s.b, s.page.as_str(), &s.bus);
    let bridges = rows(b, p, "bridges");
    assert_eq!(bridges.len(), 2, "{bridges:#?}");
    assert_eq!(rows(b, p, "nics").len(), 2);
    b.eval(p, r#"document.getElementById("register-open").click()"#);
    submit_bridge(b, p, json!({ "name": "vkweb0", "mtu": "1400" }));
    b.wait_for(
        p,
        "the refusal under the form",
        r#"document.querySelector('.diag[data-for=""]').textContent.includes("administrative access")"#,
    );
    let said = b.eval(
        p,
        r#"document.querySelector('.diag[data-for=""]').textContent"#,
    );
    // The session's bridge ran as nobody (65534): the service says whom it refused.
    let said = said.as_str().unwrap();
    assert!(
        said.contains("org.vifkit.manage") && said.contains("uid 65534"),
        "{said}"
    );
    assert!(registered(bus, "vkweb0").is_none());
    assert_eq!(
        b.eval(
            p,
            r##"document.querySelectorAll("#bridges tbody tr").length"##
        ),
        2
    );
    b.close();
}
