//! Who can read the registry, and what happens when it cannot be used, through the real
//! binary: reads that never wait for a writer, a user who may read the file reading it
//! (as uid 65534, through `setpriv`), unreachable registries that are errors and never
//! empty ones, `vif-script` that does not wire a NIC it cannot check, guests without a
//! bridged NIC that start whatever the registry, and "disk full" / "read-only file
//! system" said as such. The tests that need root (`setpriv`, `ip netns`, `mount`) are
//! `#[ignore = "needs root: ..."]`; run without root, they fail and say why.

mod common;
use common::is_root;
use common::netns::Netns;

use std::io::Write;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use registry::{Registry, SqliteRegistry, WriterLock};
use serde_json::Value;
use translator::IfName;

const BIN: &str = env!("CARGO_BIN_EXE_vifkit");

#[derive(Debug)]
struct Out {
    status: i32,
    stdout: String,
    stderr: String,
}

fn output(cmd: &mut Command, stdin: &str) -> Out {
    let mut child = cmd
        .env_remove("VIFKIT_DB")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Out {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// `vifkit --db DB ARGS...` with a minimal environment.
fn vifkit(db: &Path, args: &[&str]) -> Out {
    output(
        Command::new(BIN)
            .arg("--db")
            .arg(db)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LC_ALL", "C"),
        "",
    )
}

/// A directory every user may enter, holding the test's registry.
fn open_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let db = dir.path().join("registry.db");
    (dir, db)
}

fn bridge(name: &str) -> registry::Bridge {
    registry::Bridge::new(IfName::new(name).unwrap(), registry::BridgeKind::Linux)
}

fn names(json: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(json).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap().to_owned())
        .collect()
}

/// While another process's writer holds the write lock, with a change not committed,
/// `bridge list` and `show` answer at once with what is committed (they used to wait
/// 3 x 5 s and fail).
#[test]
fn reads_never_wait_for_a_writer() {
    let (_dir, db) = open_dir();
    SqliteRegistry::open(&db)
        .unwrap()
        .add_bridge(&bridge("br0"))
        .unwrap();
    let held = WriterLock::take(&db).unwrap();
    let out = vifkit(&db, &["bridge", "list", "--json"]);
    assert_eq!(out.status, 0, "{out:?}");
    assert_eq!(names(&out.stdout), ["br0"]);
    let out = vifkit(&db, &["show", "--json"]);
    assert_eq!(out.status, 0, "{out:?}");
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        v["bridges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["name"] == "br0"),
        "{v}"
    );
    held.release().unwrap();
}

/// The binary where uid 65534 may run it (the build directory may be closed to it).
fn binary_for_nobody() -> &'static Path {
    static COPY: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = COPY.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.path().join("vifkit");
        std::fs::copy(BIN, &path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        (dir, path)
    });
    path
}

/// `vifkit --db DB ARGS...` as uid and gid 65534, no supplementary groups.
fn as_nobody(db: &Path, args: &[&str]) -> Out {
    output(
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(binary_for_nobody())
            .arg("--db")
            .arg(db)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LC_ALL", "C"),
        "",
    )
}

/// A registry root wrote, in a directory only root may write, read by uid 65534: while a
/// root writer is connected (and holding the lock), and after every writer has closed
/// (SQLite would have deleted the `-wal`/`-shm` files a reader needs). A file it may not
/// read is "permission denied (root needed?)".
#[test]
#[ignore = "needs root: clients as uid 65534 through setpriv"]
fn a_user_who_may_read_the_file_reads_the_registry() {
    assert!(
        is_root(),
        "needs root for setpriv: run as root, as tests/run.sh does"
    );
    let (_dir, db) = open_dir();
    let writer = SqliteRegistry::open(&db).unwrap();
    writer.add_bridge(&bridge("br0")).unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let list = |what: &str, want: &[&str]| {
        for args in [&["bridge", "list", "--json"][..], &["show", "--json"]] {
            let out = as_nobody(&db, args);
            assert_eq!(out.status, 0, "{what}: {args:?}: {out:?}");
            if args[0] == "bridge" {
                assert_eq!(names(&out.stdout), want, "{what}");
            }
        }
    };
    list("a root writer connected", &["br0"]);
    let held = WriterLock::take(&db).unwrap();
    list("a root writer holding the lock", &["br0"]);
    held.release().unwrap();
    drop(writer);
    // The last writer to close is a `vifkit` process.
    let out = vifkit(&db, &["bridge", "add", "br1"]);
    assert_eq!(out.status, 0, "{out:?}");
    list("every writer closed", &["br0", "br1"]);
    // A registry this user may not read.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = as_nobody(&db, &["bridge", "list"]);
    assert_eq!(out.status, 1, "{out:?}");
    assert_eq!(
        out.stderr,
        format!(
            "error: Registry {}: permission denied (root needed?)\n",
            db.display()
        )
    );
}

/// A registry that is there but cannot be reached is an error with what and how to fix,
/// never an empty registry; a registry that is not there at all lists as empty and is
/// not created.
#[test]
fn an_unreachable_registry_is_an_error_not_an_empty_one() {
    let (dir, _) = open_dir();
    let d = dir.path();
    symlink(d.join("gone.db"), d.join("dangling.db")).unwrap();
    symlink(d.join("loop.db"), d.join("loop.db")).unwrap();
    std::fs::create_dir(d.join("dir.db")).unwrap();
    std::fs::write(d.join("empty.db"), b"").unwrap();
    let cases = [
        (
            "dangling.db",
            format!(
                "is a symbolic link to {}, which does not exist: fix or remove the link",
                d.join("gone.db").display()
            ),
        ),
        ("loop.db", "too many levels of symbolic links".to_owned()),
        (
            "dir.db",
            "it is a directory, not a registry file".to_owned(),
        ),
        ("empty.db", "the file is empty (0 bytes)".to_owned()),
    ];
    for (name, says) in &cases {
        let db = d.join(name);
        for args in [&["bridge", "list"][..], &["show"]] {
            let out = vifkit(&db, args);
            assert_eq!(out.status, 1, "{name} {args:?}: {out:?}");
            assert_eq!(out.stdout, "", "{name} {args:?}");
            assert!(
                out.stderr
                    .starts_with(&format!("error: Registry {}: ", db.display()))
                    && out.stderr.contains(says.as_str()),
                "{name} {args:?}: {out:?}"
            );
        }
    }
    assert!(!d.join("gone.db").exists());
    assert_eq!(std::fs::metadata(d.join("empty.db")).unwrap().len(), 0);
    // Nothing there: an empty listing, and nothing made.
    let db = d.join("none/registry.db");
    let out = vifkit(&db, &["bridge", "list", "--json"]);
    assert_eq!(out.status, 0, "{out:?}");
    assert_eq!(out.stdout, "[]\n");
    assert!(!d.join("none").exists());
}

const NO_NIC: &str = "<domain type='kvm' id='7'>\n  <name>quiet</name>\n  \
    <uuid>0b9f3a4e-58f6-4d7e-9a3c-5b1f2e7d8c11</uuid>\n  <os>\n    <type>hvm</type>\n  \
    </os>\n  <devices>\n  </devices>\n</domain>\n";

const USER_NIC: &str = "<domain type='kvm' id='8'>\n  <name>chatty</name>\n  <os>\n    \
    <type>hvm</type>\n  </os>\n  <devices>\n    <interface type='user'>\n      \
    <mac address='52:54:00:12:34:56'/>\n      <model type='virtio'/>\n    </interface>\n  \
    </devices>\n</domain>\n";

/// `vifkit --db DB hook qemu GUEST OP SUBOP -` with `xml` on stdin, as libvirt runs it.
fn hook(db: &Path, guest: &str, op: &str, subop: &str, xml: &str) -> Out {
    output(
        Command::new(BIN)
            .arg("--db")
            .arg(db)
            .args(["hook", "qemu", guest, op, subop, "-"])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LC_ALL", "C"),
        xml,
    )
}

/// A guest with no NIC, or with NICs on no bridge, starts (`prepare`, `start`,
/// `started`) whatever state the registry is in: broken, unreachable or missing (which
/// it does not create).
#[test]
fn a_guest_without_a_bridged_nic_starts_whatever_the_registry() {
    let (dir, _) = open_dir();
    let d = dir.path();
    std::fs::write(d.join("garbage.db"), vec![b'x'; 4096]).unwrap();
    std::fs::create_dir(d.join("dir.db")).unwrap();
    symlink(d.join("gone.db"), d.join("dangling.db")).unwrap();
    std::fs::write(d.join("file"), b"x").unwrap();
    for db in [
        "garbage.db",
        "dir.db",
        "dangling.db",
        "file/registry.db",
        "none/r.db",
    ] {
        let db = d.join(db);
        for (guest, xml) in [("quiet", NO_NIC), ("chatty", USER_NIC)] {
            for (op, subop) in [
                ("prepare", "begin"),
                ("start", "begin"),
                ("started", "begin"),
            ] {
                let out = hook(&db, guest, op, subop, xml);
                assert_eq!(out.status, 0, "{} {guest} {op}: {out:?}", db.display());
                assert_eq!(out.stdout, "");
            }
        }
    }
    assert_eq!(
        std::fs::read(d.join("garbage.db")).unwrap(),
        vec![b'x'; 4096]
    );
    assert!(!d.join("gone.db").exists());
    assert!(!d.join("none").exists());
    // A guest on a bridge still needs the registry: its start fails, saying why.
    let bridged =
        "<domain type='kvm' id='9'>\n  <name>web</name>\n  <os>\n    <type>hvm</type>\n  \
        </os>\n  <devices>\n    <interface type='bridge'>\n      \
        <mac address='52:54:00:00:00:09'/>\n      <source bridge='br0'/>\n    </interface>\n  \
        </devices>\n</domain>\n";
    let db = d.join("dangling.db");
    let out = hook(&db, "web", "prepare", "begin", bridged);
    assert_eq!(out.status, 1, "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "Guest web: registry: Registry {}: {} is a symbolic link",
            db.display(),
            db.display()
        )),
        "{out:?}"
    );
}

/// `vif-script online` with a registry that is there but cannot be opened: an error,
/// `hotplug-status` `error` with the reason, and the NIC not wired (it used to be wired
/// without its MAC checked or recorded).
#[test]
#[ignore = "needs root: a network namespace"]
fn vif_script_does_not_wire_a_nic_it_cannot_check() {
    let ns = Netns::new();
    let (dir, _) = open_dir();
    let db = dir.path().join("registry.db");
    symlink(dir.path().join("gone.db"), &db).unwrap();
    let xs = dir.path().join("xenstore");
    let key = |k: &str, v: &str| {
        let p = xs.join("backend/vif/5/0").join(k);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, v).unwrap();
    };
    let read = |k: &str| std::fs::read_to_string(xs.join("backend/vif/5/0").join(k)).ok();
    ns.ip(&["link", "add", "br0", "type", "bridge"]);
    ns.ip(&[
        "link", "add", "vif5.0", "type", "veth", "peer", "name", "guest50",
    ]);
    key("bridge", "br0");
    key("mac", "00:16:3e:00:05:00");
    let out = output(
        ns.cmd(BIN)
            .arg("--db")
            .arg(&db)
            .args(["vif-script", "online", "type_if=vif"])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("vif", "vif5.0")
            .env("XENBUS_PATH", "backend/vif/5/0")
            .env("VIFKIT_XENSTORE_DIR", &xs),
        "",
    );
    assert_eq!(out.status, 1, "{out:?}");
    let says = format!(
        "Registry {}: {} is a symbolic link to {}, which does not exist",
        db.display(),
        db.display(),
        dir.path().join("gone.db").display()
    );
    assert!(
        out.stderr.starts_with("error: vif5.0: ") && out.stderr.contains(&says),
        "{out:?}"
    );
    assert_eq!(read("hotplug-status").as_deref(), Some("error"));
    assert!(read("hotplug-error").unwrap().contains(&says));
    let link: Value = serde_json::from_str(&ns.ip(&["-j", "link", "show", "vif5.0"])).unwrap();
    assert!(link[0].get("master").is_none(), "wired: {link}");
}

/// Runs `script` with `sh -eu` in a mount namespace of its own (so its mounts vanish
/// with it), `$VIFKIT` naming the binary; returns what it printed.
fn in_mount_ns(script: &str) -> Out {
    output(
        Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-euc", script])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LC_ALL", "C")
            .env("VIFKIT", BIN),
        "",
    )
}

/// A full disk and a read-only file system are said as such, with the path; reads go on
/// on a read-only file system.
#[test]
#[ignore = "needs root: a mount namespace and tmpfs mounts"]
fn a_full_disk_and_a_read_only_file_system_say_so() {
    assert!(
        is_root(),
        "needs root to mount: run as root, as tests/run.sh does"
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let script = format!(
        r#"
        mount -t tmpfs -o size=512k tmpfs {d}
        "$VIFKIT" --db {d}/r.db bridge add br0
        i=1
        # Fill the file system, then write until SQLite runs out of room.
        dd if=/dev/zero of={d}/fill bs=4k 2>/dev/null || true
        while [ $i -lt 200 ] && "$VIFKIT" --db {d}/r.db bridge add br$i 2>/dev/null; do
            i=$((i + 1))
        done
        echo "== full add"; "$VIFKIT" --db {d}/r.db bridge add brfull 2>&1 || echo "rc=$?"
        echo "== full new"; "$VIFKIT" --db {d}/new.db bridge add br0 2>&1 || echo "rc=$?"
        echo "== full list"; "$VIFKIT" --db {d}/r.db bridge list >/dev/null && echo rc=0
        echo "== files"; ls -A {d}
        mount -o remount,ro {d}
        echo "== ro add"; "$VIFKIT" --db {d}/r.db bridge add brro 2>&1 || echo "rc=$?"
        echo "== ro new"; "$VIFKIT" --db {d}/sub/new.db bridge add br0 2>&1 || echo "rc=$?"
        echo "== ro list"; "$VIFKIT" --db {d}/r.db bridge list >/dev/null && echo rc=0
        "#
    );
    let out = in_mount_ns(&script);
    assert_eq!(out.status, 0, "{out:?}");
    let full = "disk full: free some space on its file system";
    let ro = "read-only file system: remount it read-write, or put the registry on another \
              one (--db, VIFKIT_DB)";
    let want = format!(
        "== full add\nerror: Registry {d}/r.db: {full}\nrc=1\n\
         == full new\nerror: Registry {d}/new.db: {full}\nrc=1\n\
         == full list\nrc=0\n\
         == files\nfill\nr.db\nr.db-shm\nr.db-wal\n\
         == ro add\nerror: Registry {d}/r.db: {ro}\nrc=1\n\
         == ro new\nerror: Registry {d}/sub/new.db: {ro}\nrc=1\n\
         == ro list\nrc=0\n"
    );
    assert_eq!(out.stdout, want, "{}", out.stderr);
}
