//! `vifkit registry backup FILE` and `vifkit registry restore FILE` through the real
//! binary: a backup taken while another writer holds the registry's lock, restored in
//! place (a connection open all along sees it), and files that are not a vifkit
//! registry of a schema this build knows refused with the registry left as it was.

use std::path::Path;
use std::process::{Command, Stdio};

use registry::{
    Attachment, Bridge, BridgeKind, DomainName, Registry, SqliteRegistry, WriterLock,
    SCHEMA_VERSION,
};
use translator::IfName;

const BIN: &str = env!("CARGO_BIN_EXE_vifkit");

#[derive(Debug)]
struct Out {
    status: i32,
    stdout: String,
    stderr: String,
}

/// `vifkit --db DB ARGS...` with a minimal environment.
fn vifkit(db: &Path, args: &[&str]) -> Out {
    let out = Command::new(BIN)
        .arg("--db")
        .arg(db)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Out {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn ok(out: Out) -> String {
    assert_eq!((out.status, out.stderr.as_str()), (0, ""), "{out:?}");
    out.stdout
}

/// One `error:` line, exit 1, nothing on stdout.
fn refused(out: Out) -> String {
    assert_eq!((out.status, out.stdout.as_str()), (1, ""), "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    out.stderr.trim_end().to_owned()
}

fn br(name: &str) -> Bridge {
    Bridge::new(IfName::new(name).unwrap(), BridgeKind::Linux)
}

fn names(reg: &SqliteRegistry) -> Vec<String> {
    reg.bridges()
        .unwrap()
        .iter()
        .map(|b| b.name.to_string())
        .collect()
}

#[test]
fn a_backup_is_restored_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("registry.db");
    let copy = dir.path().join("backup.db");
    // No registry: nothing to back up, and none is made.
    assert_eq!(
        refused(vifkit(&db, &["registry", "backup", copy.to_str().unwrap()])),
        format!(
            "error: Registry {}: there is none, so nothing to back up",
            db.display()
        )
    );
    assert!(!db.exists() && !copy.exists());

    let reg = SqliteRegistry::open(&db).unwrap();
    reg.add_bridge(&br("br0")).unwrap();
    let nic = Attachment::xen(
        DomainName::new("alice").unwrap(),
        5,
        0,
        "00:16:3e:00:00:05".parse().unwrap(),
        IfName::new("br0").unwrap(),
        true,
    )
    .unwrap();
    reg.record(&nic).unwrap();
    // Taken while another writer holds the lock (its change is not in the copy).
    let held = WriterLock::take(&db).unwrap();
    assert_eq!(
        ok(vifkit(&db, &["registry", "backup", copy.to_str().unwrap()])),
        format!(
            "backed up {} to {}: schema {SCHEMA_VERSION}, 1 bridge(s), 1 NIC record(s)\n",
            db.display(),
            copy.display()
        )
    );
    held.release().unwrap();

    // The registry moves on; the restore brings the copy back, and `reg`, open all
    // along, reads it.
    reg.remove_domain(
        registry::Driver::Xen,
        &registry::DomainKey::Name(nic.domain_name.clone()),
    )
    .unwrap();
    reg.add_bridge(&br("br1")).unwrap();
    let g = reg.generation().unwrap();
    assert_eq!(
        ok(vifkit(
            &db,
            &["registry", "restore", copy.to_str().unwrap()]
        )),
        format!(
            "restored {} into {}: schema {SCHEMA_VERSION}, 1 bridge(s), 1 NIC record(s)\n",
            copy.display(),
            db.display()
        )
    );
    assert_eq!(names(&reg), ["br0"]);
    assert_eq!(reg.attachments().unwrap(), [nic]);
    assert!(reg.generation().unwrap() > g);
    let listed = ok(vifkit(&db, &["bridge", "list"]));
    assert_eq!(listed.lines().count(), 2, "{listed}");
}

#[test]
fn restore_refuses_files_that_are_not_registries_it_knows() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("registry.db");
    let reg = SqliteRegistry::open(&db).unwrap();
    reg.add_bridge(&br("br0")).unwrap();
    let g = reg.generation().unwrap();
    let bytes = |p: &Path| std::fs::read(p).unwrap();
    let restore = |file: &Path| {
        let line = refused(vifkit(
            &db,
            &["registry", "restore", file.to_str().unwrap()],
        ));
        assert_eq!(names(&reg), ["br0"]);
        assert_eq!(reg.generation().unwrap(), g);
        line
    };
    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "not a database\n".repeat(300)).unwrap();
    assert_eq!(
        restore(&text),
        format!(
            "error: Cannot restore {0}: {0} is not a vifkit registry: it is not an SQLite \
             database",
            text.display()
        )
    );
    // Backups with their header changed (big-endian words): another program's
    // application id (offset 68), a schema newer than this build's (user_version, 60).
    let copy = dir.path().join("backup.db");
    ok(vifkit(&db, &["registry", "backup", copy.to_str().unwrap()]));
    let patched = |name: &str, offset: usize, value: u32| {
        let mut b = bytes(&copy);
        b[offset..offset + 4].copy_from_slice(&value.to_be_bytes());
        let p = dir.path().join(name);
        std::fs::write(&p, b).unwrap();
        p
    };
    let other = patched("other.db", 68, 0x1234);
    assert_eq!(
        restore(&other),
        format!(
            "error: Cannot restore {0}: {0} is not a vifkit registry: its application id is \
             0x1234, not vifkit's 0x7669666b",
            other.display()
        )
    );
    let newer = patched("newer.db", 60, u32::try_from(SCHEMA_VERSION + 1).unwrap());
    let before = bytes(&newer);
    let line = restore(&newer);
    assert!(
        line.contains(&format!(
            "has schema version {}, newer than version {SCHEMA_VERSION} that this vifkit \
             knows",
            SCHEMA_VERSION + 1
        )),
        "{line}"
    );
    assert_eq!(bytes(&newer), before, "the file restored from was changed");
    // The unpatched copy is restored.
    ok(vifkit(
        &db,
        &["registry", "restore", copy.to_str().unwrap()],
    ));
}
