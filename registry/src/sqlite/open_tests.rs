//! Opening the registry: readers that never wait for a writer, files refused before
//! anything is changed, unreachable files told apart from missing ones, and the WAL
//! files kept for readers who may not create them.

use std::error::Error as _;
use std::path::Path;

use rusqlite::Connection;

use super::*;
use crate::testutil::{attachment, bridge, temp_db, temp_registry};

fn problem_of(err: &RegistryError) -> &FileProblem {
    match err {
        RegistryError::Unusable { problem, .. } => problem,
        other => panic!("not Unusable: {other:?}"),
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

#[test]
fn reads_and_opening_never_wait_for_a_writer() {
    let (_dir, reg) = temp_registry();
    reg.add_bridge(&bridge("br0")).unwrap();
    let path = reg.path().to_owned();
    drop(reg);
    // Another process's writer holds the write lock, with a change not committed yet.
    let held = WriterLock::take(&path).unwrap();
    let reader = SqliteRegistry::open_read_only(&path).unwrap();
    assert!(reader.is_read_only());
    assert_eq!(reader.bridges().unwrap(), [bridge("br0")]);
    assert_eq!(reader.attachments().unwrap(), []);
    assert_eq!(
        reader.generation().unwrap(),
        1,
        "the held change is not seen"
    );
    // Opening to write, with the schema current, takes no lock either.
    let writer = SqliteRegistry::open(&path).unwrap();
    assert_eq!(writer.bridges().unwrap(), [bridge("br0")]);
    // The busy handler was never called: nobody waited.
    assert_eq!(reader.lock_stats(), LockStats::default());
    assert_eq!(writer.lock_stats(), LockStats::default());
    held.release().unwrap();
    writer.record(&attachment(5, 0, "br0")).unwrap();
    assert_eq!(reader.attachments().unwrap(), [attachment(5, 0, "br0")]);
}

#[test]
fn a_read_only_registry_refuses_writes_with_a_clear_error() {
    let (_dir, reg) = temp_registry();
    let reader = SqliteRegistry::open_read_only(reg.path()).unwrap();
    let err = reader.add_bridge(&bridge("br0")).unwrap_err();
    assert!(
        matches!(
            err,
            RegistryError::ReadOnly {
                op: "adding a bridge",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "Registry {}: opened read-only, so it cannot be changed (adding a bridge)",
            reg.path().display()
        )
    );
    assert_eq!(reg.bridges().unwrap(), []);
}

#[test]
fn a_missing_registry_reads_as_empty_and_nothing_is_created() {
    let (dir, path) = temp_db();
    let path = path.parent().unwrap().join("var/lib/vifkit/registry.db");
    let reg = SqliteRegistry::open_read_only(&path).unwrap();
    assert_eq!(reg.path(), path);
    assert_eq!(reg.bridges().unwrap(), []);
    assert_eq!(reg.attachments().unwrap(), []);
    assert_eq!(reg.generation().unwrap(), 0);
    assert!(matches!(
        reg.add_bridge(&bridge("br0")),
        Err(RegistryError::ReadOnly { .. })
    ));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    assert!(SqliteRegistry::open_existing(&path).unwrap().is_none());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn an_unreachable_registry_is_an_error_for_every_open() {
    let (dir, _) = temp_db();
    let d = dir.path();
    std::os::unix::fs::symlink(d.join("gone.db"), d.join("dangling.db")).unwrap();
    std::os::unix::fs::symlink(d.join("loop.db"), d.join("loop.db")).unwrap();
    std::fs::create_dir(d.join("dir.db")).unwrap();
    let cases = [
        ("dangling.db", "is a symbolic link to"),
        ("loop.db", "too many levels of symbolic links"),
        ("dir.db", "it is a directory"),
    ];
    for (name, says) in cases {
        let path = d.join(name);
        let errs = [
            SqliteRegistry::open(&path).unwrap_err(),
            SqliteRegistry::open_read_only(&path).unwrap_err(),
            SqliteRegistry::open_existing(&path).unwrap_err(),
        ];
        for err in errs {
            problem_of(&err);
            assert!(err.to_string().contains(says), "{name}: {err}");
        }
    }
    // Nothing was made where the dangling link points.
    assert!(!d.join("gone.db").exists());
}

#[test]
fn an_empty_file_is_not_made_into_a_new_registry() {
    let (_dir, path) = temp_db();
    std::fs::write(&path, b"").unwrap();
    for err in [
        SqliteRegistry::open(&path).unwrap_err(),
        SqliteRegistry::open_read_only(&path).unwrap_err(),
        SqliteRegistry::open_existing(&path).unwrap_err(),
    ] {
        assert_eq!(problem_of(&err), &FileProblem::Empty);
        assert_eq!(
            err.to_string(),
            format!(
                "Registry {}: the file is empty (0 bytes), so it holds no registry: restore it \
                 from a backup, or remove it to start an empty registry",
                path.display()
            )
        );
    }
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
}

/// What a refused open must not change: the bytes, the journal mode, the files beside.
fn state(path: &Path) -> (Vec<u8>, bool, bool) {
    (
        std::fs::read(path).unwrap(),
        with_suffix(path, "-wal").exists(),
        with_suffix(path, "-shm").exists(),
    )
}

#[test]
fn another_programs_database_is_refused_unchanged() {
    let (_dir, path) = temp_db();
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE songs (title TEXT); INSERT INTO songs VALUES ('a');")
            .unwrap();
    }
    let (_dir2, other) = temp_db();
    {
        let conn = Connection::open(&other).unwrap();
        conn.pragma_update(None, "application_id", 0x1234).unwrap();
    }
    for path in [&path, &other] {
        let before = state(path);
        assert!(!before.1 && !before.2, "{before:?}");
        for err in [
            SqliteRegistry::open(path).unwrap_err(),
            SqliteRegistry::open_read_only(path).unwrap_err(),
        ] {
            assert!(matches!(err, RegistryError::NotARegistry { .. }), "{err:?}");
        }
        assert_eq!(state(path), before, "{}", path.display());
        let conn = Connection::open(path).unwrap();
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "delete");
    }
}

#[test]
fn a_newer_schema_is_refused_by_readers_too() {
    let (_dir, reg) = temp_registry();
    reg.conn.pragma_update(None, "user_version", 9).unwrap();
    let err = SqliteRegistry::open_read_only(reg.path()).unwrap_err();
    assert!(
        matches!(err, RegistryError::FutureSchema { found: 9, .. }),
        "{err:?}"
    );
}

#[test]
fn a_reader_migrates_an_older_schema_when_it_may() {
    let (_dir, path) = temp_db();
    {
        let conn = Connection::open(&path).unwrap();
        schema::migrate_to(&conn, &path, 2).unwrap();
        conn.execute_batch(
            "INSERT INTO bridges (name, kind, uplink, vlan, mtu, stp, creatable)
                 VALUES ('br0', 'linux', NULL, NULL, NULL, 0, 0);",
        )
        .unwrap();
    }
    let reg = SqliteRegistry::open_read_only(&path).unwrap();
    assert!(reg.is_read_only());
    assert_eq!(reg.bridges().unwrap(), [bridge("br0")]);
    let version: i64 = reg
        .conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
}

#[test]
fn the_wal_files_outlive_the_last_connection() {
    let (_dir, path) = temp_db();
    let wal_files = || {
        (
            with_suffix(&path, "-wal").exists(),
            with_suffix(&path, "-shm").exists(),
        )
    };
    // SQLite deletes them when the last connection closes, unless told to keep them:
    // without them, a user who may not create files beside the registry cannot read it.
    // A writer last to close:
    let reg = SqliteRegistry::open(&path).unwrap();
    reg.add_bridge(&bridge("br0")).unwrap();
    let reader = SqliteRegistry::open_read_only(&path).unwrap();
    assert_eq!(reader.bridges().unwrap(), [bridge("br0")]);
    drop(reader);
    drop(reg);
    assert_eq!(wal_files(), (true, true));
    // A reader last to close:
    let reg = SqliteRegistry::open(&path).unwrap();
    let reader = SqliteRegistry::open_read_only(&path).unwrap();
    drop(reg);
    assert_eq!(reader.bridges().unwrap(), [bridge("br0")]);
    drop(reader);
    assert_eq!(wal_files(), (true, true));
    // The lock-holding helper too.
    WriterLock::take(&path).unwrap().release().unwrap();
    assert_eq!(wal_files(), (true, true));
    // And what was written is in the database file itself (checkpointed at close).
    let conn = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM bridges", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn a_new_registry_appears_whole_and_leaves_nothing_beside_it() {
    let (dir, path) = temp_db();
    // Many openers of one new file at once: each gets the one registry.
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let (path, barrier) = (path.clone(), std::sync::Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                let reg = SqliteRegistry::open(&path).unwrap();
                reg.add_bridge(&bridge(&format!("br{i}"))).unwrap();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let reg = SqliteRegistry::open_read_only(&path).unwrap();
    assert_eq!(reg.bridges().unwrap().len(), 8);
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["registry.db", "registry.db-shm", "registry.db-wal"],
        "no temporary file left"
    );
}

#[test]
fn sqlite_failures_the_file_system_explains_say_so() {
    let (_dir, path) = temp_db();
    let full =
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL), None);
    let err = classify(&path, false, db_err(&path, "recording a NIC")(full));
    assert_eq!(problem_of(&err), &FileProblem::DiskFull);
    assert_eq!(
        err.to_string(),
        format!(
            "Registry {}: disk full: free some space on its file system",
            path.display()
        )
    );
    assert!(err.source().is_none());
    // A failure the file system does not explain stays SQLite's.
    let corrupt = rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
        None,
    );
    let err = classify(&path, false, db_err(&path, "reading")(corrupt));
    assert!(matches!(err, RegistryError::Sqlite { .. }), "{err:?}");
}

/// A writer's last close leaves the WAL empty (its file kept, for readers who may not
/// create it), so a registry file put in place of a closed one (a copy, a `mv`) is read
/// as it is: with the old WAL's frames left there, SQLite would lay the old registry's
/// pages over the new file.
#[test]
fn a_file_put_in_place_of_a_closed_registry_is_read_as_it_is() {
    let (dir, reg) = temp_registry();
    reg.add_bridge(&bridge("br0")).unwrap();
    let path = reg.path().to_owned();
    drop(reg);
    let wal = with_suffix(&path, "-wal");
    assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0);
    let other = dir.path().join("other.db");
    let b = SqliteRegistry::open(&other).unwrap();
    b.add_bridge(&bridge("brB")).unwrap();
    b.add_bridge(&bridge("brC")).unwrap();
    drop(b);
    std::fs::rename(&other, &path).unwrap();
    let reg = SqliteRegistry::open(&path).unwrap();
    assert_eq!(reg.bridges().unwrap(), [bridge("brB"), bridge("brC")]);
    let reader = SqliteRegistry::open_read_only(&path).unwrap();
    assert_eq!(reader.bridges().unwrap(), [bridge("brB"), bridge("brC")]);
}
