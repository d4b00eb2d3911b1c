//! The bridge commands through the real binary: `bridge add|del|list|ensure` and `show`,
//! each with a registry of its own (`--db` in a temporary directory). The commands that
//! touch the kernel run inside a network namespace made for the test
//! ([`common::netns`]); they need root and are ignored unless asked for
//! (`--include-ignored`, as `tests/run.sh` does as root).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use registry::{Attachment, DomainName, GuestName, NicModelName, Registry, SqliteRegistry};
use serde_json::Value;
use translator::IfName;

const BIN: &str = env!("CARGO_BIN_EXE_vifkit");

/// What a run gave.
#[derive(Debug)]
struct Out {
    status: i32,
    stdout: String,
    stderr: String,
}

fn output(cmd: &mut Command) -> Out {
    let out = cmd
        .env_remove("VIFKIT_DB")
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    Out {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// `vifkit --db DB ARGS...`.
fn vifkit(db: &Path, args: &[&str]) -> Out {
    output(Command::new(BIN).arg("--db").arg(db).args(args))
}

/// Asserts a success, returning stdout.
fn ok(out: Out) -> String {
    assert_eq!(out.status, 0, "{out:?}");
    out.stdout
}

/// Asserts a refusal of invalid input: exit 1, nothing on stdout, only `error: `
/// lines, returned.
fn refused(out: Out) -> Vec<String> {
    assert_eq!(out.status, 1, "{out:?}");
    assert_eq!(out.stdout, "", "{out:?}");
    let lines: Vec<String> = out.stderr.lines().map(str::to_owned).collect();
    assert!(!lines.is_empty(), "{out:?}");
    for l in &lines {
        assert!(l.starts_with("error: "), "{out:?}");
    }
    lines
}

/// A temporary directory holding the test's registry.
struct Db {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn db() -> Db {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    Db { _dir: dir, path }
}

/// What the registry holds, to check that a refused command changed nothing.
fn snapshot(db: &Path) -> (u64, String) {
    let generation = SqliteRegistry::open(db).unwrap().generation().unwrap();
    (generation, ok(vifkit(db, &["bridge", "list", "--json"])))
}

fn list_json(db: &Path) -> Vec<Value> {
    match serde_json::from_str(&ok(vifkit(db, &["bridge", "list", "--json"]))).unwrap() {
        Value::Array(a) => a,
        other => panic!("not an array: {other}"),
    }
}

#[test]
fn add_list_del() {
    let db = db();
    let db = &db.path;
    // Listing a registry that does not exist yet lists nothing, and does not create it.
    assert_eq!(list_json(db), Vec::<Value>::new());
    assert!(!db.exists());

    assert_eq!(ok(vifkit(db, &["bridge", "add", "xenbr0"])), "");
    ok(vifkit(
        db,
        &[
            "bridge",
            "add",
            "br900",
            "--uplink",
            "bond0",
            "--vlan",
            "900",
            "--mtu",
            "9000",
            "--stp",
            "on",
            "--creatable",
        ],
    ));
    ok(vifkit(db, &["bridge", "add", "ovsbr", "--kind", "ovs"]));

    let text = ok(vifkit(db, &["bridge", "list"]));
    assert_eq!(
        text,
        "name    kind   uplink  vlan  mtu   stp  creatable\n\
         br900   linux  bond0   900   9000  on   yes\n\
         ovsbr   ovs    -       -     -     off  no\n\
         xenbr0  linux  -       -     -     off  no\n"
    );
    let json = list_json(db);
    assert_eq!(json.len(), 3);
    assert_eq!(
        json[0],
        serde_json::json!({
            "name": "br900", "kind": "linux", "uplink": "bond0", "vlan": 900,
            "mtu": 9000, "stp": true, "creatable": true,
        })
    );
    assert_eq!(json[1]["kind"], "ovs");
    assert_eq!(json[2]["uplink"], Value::Null);
    assert_eq!(json[2]["creatable"], false);

    // `--db` after the command works too.
    let p = db.to_str().unwrap();
    assert_eq!(
        output(Command::new(BIN).args(["bridge", "list", "--db", p])).stdout,
        text
    );
    // And VIFKIT_DB when there is no --db.
    let via_env = Command::new(BIN)
        .args(["bridge", "list"])
        .env("VIFKIT_DB", db)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(via_env.stdout).unwrap(), text);

    assert_eq!(ok(vifkit(db, &["bridge", "del", "ovsbr"])), "");
    let names: Vec<Value> = list_json(db)
        .into_iter()
        .map(|b| b["name"].clone())
        .collect();
    assert_eq!(names, ["br900", "xenbr0"]);
}

#[test]
fn bad_input_is_one_error_line_and_changes_nothing() {
    let db = db();
    let db = &db.path;
    ok(vifkit(
        db,
        &["bridge", "add", "br0", "--uplink", "eth0", "--creatable"],
    ));
    let before = snapshot(db);
    let cases: &[(&[&str], &str)] = &[
        (
            &["bridge", "add", "br0"],
            "Bridge br0 is already in the registry",
        ),
        (
            &["bridge", "add", "a b"],
            "Invalid bridge name \"a b\": Contains ' '",
        ),
        (
            &["bridge", "add", "averyveryverylongname"],
            "Invalid bridge name \"averyveryverylongname\"",
        ),
        (
            &["bridge", "add", "br1", "--kind", "vde"],
            "Bridge kind \"vde\"",
        ),
        (
            &["bridge", "add", "br1", "--uplink", "eth/0"],
            "Invalid uplink \"eth/0\"",
        ),
        (
            &["bridge", "add", "br1", "--uplink", "eth1", "--vlan", "4095"],
            "VLAN id \"4095\" is not a number from 1 to 4094",
        ),
        (
            &["bridge", "add", "br1", "--vlan", "10"],
            "Bridge br1 has VLAN 10 but no uplink to carry it",
        ),
        (&["bridge", "add", "br1", "--mtu", "67"], "MTU \"67\""),
        (&["bridge", "add", "br1", "--mtu", "1500x"], "MTU \"1500x\""),
        (&["bridge", "add", "br1", "--stp", "yes"], "STP \"yes\""),
        (
            &["bridge", "add", "br1", "--uplink", "eth0"],
            "uplink device eth0 is already the uplink of bridge br0",
        ),
        (
            &["bridge", "add", "br1", "--uplink", "br1"],
            "Bridge br1 cannot be its own uplink device",
        ),
        (
            &["bridge", "add", "eth0"],
            "one would be the other's uplink device",
        ),
        (
            &["bridge", "del", "nosuch"],
            "Bridge nosuch is not in the registry",
        ),
        (&["bridge", "del", "a b"], "Invalid bridge name"),
        (
            &["bridge", "ensure", "nosuch"],
            "Bridge nosuch is not in the registry",
        ),
        (&["bridge", "ensure", "a/b"], "Invalid bridge name"),
    ];
    for (args, want) in cases {
        let lines = refused(vifkit(db, args));
        assert_eq!(lines.len(), 1, "{args:?}: {lines:?}");
        assert!(lines[0].contains(want), "{args:?}: {lines:?}");
        assert_eq!(snapshot(db), before, "{args:?} changed the registry");
    }
    // Several bad values: one line each.
    let lines = refused(vifkit(
        db,
        &["bridge", "add", "x y", "--mtu", "1", "--stp", "maybe"],
    ));
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(snapshot(db), before);

    // Usage errors are exit 2.
    for args in [
        &["bridge", "add"][..],
        &["bridge", "frob"],
        &["show", "--xml"],
    ] {
        let out = vifkit(db, args);
        assert_eq!(out.status, 2, "{args:?}: {out:?}");
        assert_eq!(out.stdout, "");
    }

    // A refused command does not create a registry that does not exist.
    let fresh = self::db();
    refused(vifkit(&fresh.path, &["bridge", "add", "a b"]));
    refused(vifkit(&fresh.path, &["bridge", "ensure", "br0"]));
    refused(vifkit(&fresh.path, &["bridge", "del", "br0"]));
    assert!(!fresh.path.exists());
}

fn alice_nic(bridge: &str, emulated: bool) -> Attachment {
    let mut a = Attachment::xen(
        DomainName::new("alice").unwrap(),
        5,
        2,
        "00:16:3e:4f:94:a9".parse().unwrap(),
        IfName::new(bridge).unwrap(),
        emulated,
    )
    .unwrap();
    a.guest_name = Some(GuestName::new("eth2").unwrap());
    a
}

#[test]
fn del_refuses_a_bridge_with_nics() {
    let db = db();
    let db = &db.path;
    ok(vifkit(db, &["bridge", "add", "xenbr0"]));
    SqliteRegistry::open(db)
        .unwrap()
        .record(&alice_nic("xenbr0", false))
        .unwrap();
    let before = snapshot(db);
    let lines = refused(vifkit(db, &["bridge", "del", "xenbr0"]));
    assert_eq!(
        lines,
        [
            "error: Bridge xenbr0 still has 1 NIC attachment(s), the first of Xen domain \"alice\" \
          (id 5) device 2"
        ]
    );
    assert_eq!(snapshot(db), before);
}

/// An Open vSwitch bridge is made through `ovs-vsctl` (the library tests run it against
/// a private Open vSwitch); with no database to reach, one clear line and no change.
#[test]
fn ensure_of_an_ovs_bridge_without_open_vswitch_is_one_clear_line() {
    let db = db();
    let dir = db.path.parent().unwrap().join("no-ovs");
    std::fs::create_dir_all(&dir).unwrap();
    let db = &db.path;
    ok(vifkit(
        db,
        &["bridge", "add", "ovsbr", "--kind", "ovs", "--creatable"],
    ));
    let before = snapshot(db);
    let out = output(
        Command::new(BIN)
            .args(["--db"])
            .arg(db)
            .args(["bridge", "ensure", "ovsbr"])
            .env("OVS_RUNDIR", &dir),
    );
    let lines = refused(out);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("ovsbr"), "{lines:?}");
    assert_eq!(snapshot(db), before);
}

// The tests in a network namespace, in tests/bridge/netns.rs: Rust looks for the
// modules of an inline `mod bridge` in tests/bridge/.
mod bridge {
    mod netns;
}
