//! Backing the registry up and restoring it, with SQLite's online backup API: a backup
//! is a consistent copy taken beside running writers, and a restore writes into the
//! live registry in place (one write transaction, the file keeps its inode), so every
//! process with the registry open sees the restored records as it sees any write.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::{access, db_err, flags, schema, SqliteRegistry, ATTEMPTS, BUSY_TIMEOUT};
use crate::RegistryError;

/// What a backup or a restore copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    /// The schema version of the file read (a restore migrates an older one).
    pub schema: i64,
    /// Bridges copied.
    pub bridges: u64,
    /// NIC records copied.
    pub attachments: u64,
}

/// A path for a new file beside `path`, named after it.
fn temp_beside(path: &Path, what: &str) -> PathBuf {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    dir.join(format!(".{name}.{what}-{}-{nanos}", std::process::id()))
}

/// Removes a scratch database and whatever SQLite left beside it.
fn remove_scratch(path: &Path) {
    let _ = std::fs::remove_file(path);
    for suffix in ["-journal", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}

/// Copies every page of `from` into `to` in one step, trying again while `to` (or
/// `from`) is locked by another writer, up to [`ATTEMPTS`] busy timeouts in all.
fn copy(from: &Connection, to: &mut Connection) -> rusqlite::Result<()> {
    let deadline = Instant::now() + BUSY_TIMEOUT * ATTEMPTS;
    let backup = Backup::new(from, to)?;
    loop {
        match backup.step(-1)? {
            StepResult::Done => return Ok(()),
            StepResult::More => {}
            // Busy or locked (the enum may grow): wait, up to the deadline.
            _ if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            _ => {
                return Err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                    None,
                ))
            }
        }
    }
}

/// How many bridges and NIC records the database holds.
fn counts(conn: &Connection) -> rusqlite::Result<(u64, u64)> {
    let count = |table: &str| -> rusqlite::Result<u64> {
        let n: i64 = conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    Ok((count("bridges")?, count("attachments")?))
}

impl SqliteRegistry {
    /// Writes a copy of the registry to `dest` (replacing a file there in one step): a
    /// consistent snapshot, taken without waiting for writers, as one self-contained
    /// file (rollback journal mode: no `-wal` beside it) that
    /// [`restore_from`](SqliteRegistry::restore_from) takes back.
    pub fn backup_to(&self, dest: &Path) -> Result<Copied, RegistryError> {
        let op = "backing the registry up";
        let err = |e| db_err(dest, op)(e);
        let temp = temp_beside(dest, "backup");
        let made = (|| {
            let mut out = Connection::open_with_flags(
                &temp,
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_CREATE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(err)?;
            copy(&self.conn, &mut out).map_err(err)?;
            out.pragma_update(None, "journal_mode", "DELETE")
                .map_err(err)?;
            let schema = schema::check(&out, dest)?;
            let (bridges, attachments) = counts(&out).map_err(err)?;
            out.close().map_err(|(_, e)| err(e))?;
            let io = |op| {
                let dest = dest.to_owned();
                move |source| RegistryError::Io {
                    path: dest,
                    op,
                    source,
                }
            };
            std::fs::File::open(&temp)
                .and_then(|f| f.sync_all())
                .map_err(io("syncing the backup"))?;
            std::fs::rename(&temp, dest).map_err(io("putting the backup in place"))?;
            if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::File::open(dir)
                    .and_then(|d| d.sync_all())
                    .map_err(io("syncing the backup's directory"))?;
            }
            Ok(Copied {
                schema,
                bridges,
                attachments,
            })
        })();
        remove_scratch(&temp);
        made
    }

    /// Replaces the registry's content with the registry in the file `src`, in place,
    /// in one write transaction: every process with the registry open sees the
    /// restored records as it sees any write. `src` must be a vifkit registry of a
    /// schema this build knows (an older one is migrated; `src` itself is never
    /// changed) and pass SQLite's `quick_check`; anything else is refused before the
    /// registry is touched. The generation moves on past the registry's (watchers see a
    /// change); the registry's bridge claims are the file's.
    pub fn restore_from(&mut self, src: &Path) -> Result<Copied, RegistryError> {
        if self.read_only {
            return Err(RegistryError::ReadOnly {
                path: self.path.clone(),
                op: "restoring",
            });
        }
        let not_ours = |reason: &str| RegistryError::NotARegistry {
            path: src.to_owned(),
            reason: reason.to_owned(),
        };
        if access::probe(src, false)? == access::Found::Missing {
            return Err(RegistryError::Io {
                path: src.to_owned(),
                op: "opening the file to restore",
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        // The file as given is only read: the checks and the migration run on a copy,
        // which then goes into the registry in one step.
        let op = "reading the file to restore";
        let src_err = |e: rusqlite::Error| match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase) => not_ours("it is not an SQLite database"),
            _ => db_err(src, op)(e),
        };
        let temp = temp_beside(&self.path, "restore");
        let done = (|| {
            let from = Connection::open_with_flags(src, flags(true)).map_err(src_err)?;
            let mut scratch = Connection::open_with_flags(
                &temp,
                OpenFlags::SQLITE_OPEN_READ_WRITE
                    | OpenFlags::SQLITE_OPEN_CREATE
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(db_err(&self.path, op))?;
            copy(&from, &mut scratch).map_err(src_err)?;
            drop(from);
            let serr = |e| db_err(&self.path, "preparing the file to restore")(e);
            scratch
                .pragma_update(None, "journal_mode", "DELETE")
                .map_err(src_err)?;
            let found = schema::check(&scratch, src)?;
            if found == 0 {
                return Err(not_ours("it holds no vifkit registry (it is empty)"));
            }
            let check: String = scratch
                .query_row("PRAGMA quick_check", [], |r| r.get(0))
                .map_err(src_err)?;
            if check != "ok" {
                return Err(not_ours(&format!("it is damaged (quick_check: {check})")));
            }
            schema::migrate(&scratch, src)?;
            // Watchers compare generations: move on past the registry's.
            let live: i64 = self
                .conn
                .query_row("SELECT value FROM generation WHERE id = 0", [], |r| {
                    r.get(0)
                })
                .map_err(self.err(op))?;
            scratch
                .execute(
                    "UPDATE generation SET value = max(value, ?1) + 1 WHERE id = 0",
                    [live],
                )
                .map_err(serr)?;
            // A WAL registry takes only pages of its own size.
            let size = |c: &Connection| -> rusqlite::Result<i64> {
                c.pragma_query_value(None, "page_size", |r| r.get(0))
            };
            let want = size(&self.conn).map_err(self.err(op))?;
            if size(&scratch).map_err(serr)? != want {
                scratch
                    .pragma_update(None, "page_size", want)
                    .map_err(serr)?;
                scratch.execute_batch("VACUUM").map_err(serr)?;
            }
            let (bridges, attachments) = counts(&scratch).map_err(serr)?;
            copy(&scratch, &mut self.conn).map_err(self.err("restoring"))?;
            Ok(Copied {
                schema: found,
                bridges,
                attachments,
            })
        })();
        remove_scratch(&temp);
        done.map_err(|e| super::classify(&self.path, false, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{attachment, bridge, temp_db, temp_registry};
    use crate::{Registry, SCHEMA_VERSION};

    #[test]
    fn a_backup_restores_what_it_copied_in_place() {
        let (dir, reg) = temp_registry();
        reg.add_bridge(&bridge("br0")).unwrap();
        reg.record(&attachment(5, 0, "br0")).unwrap();
        let file = dir.path().join("copy.db");
        // From a read-only connection, while another writer holds the lock.
        let reader = SqliteRegistry::open_read_only(reg.path()).unwrap();
        let held = super::super::WriterLock::take(reg.path()).unwrap();
        let copied = reader.backup_to(&file).unwrap();
        held.release().unwrap();
        assert_eq!(
            copied,
            Copied {
                schema: SCHEMA_VERSION,
                bridges: 1,
                attachments: 1
            }
        );
        // One self-contained file.
        let mode: String = Connection::open(&file)
            .unwrap()
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "delete");
        // The registry changes; a restore brings the copy back, in place.
        reg.remove_attachment(crate::Driver::Xen, 5, 0).unwrap();
        reg.add_bridge(&bridge("br1")).unwrap();
        let g = reg.generation().unwrap();
        let ino = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
        let before = ino(reg.path());
        let mut writer = SqliteRegistry::open(reg.path()).unwrap();
        assert_eq!(writer.restore_from(&file).unwrap(), copied);
        assert_eq!(ino(reg.path()), before);
        // Another connection, open all along, sees it; the generation moved on.
        assert_eq!(reg.bridges().unwrap(), [bridge("br0")]);
        assert_eq!(reg.attachments().unwrap(), [attachment(5, 0, "br0")]);
        assert_eq!(reg.generation().unwrap(), g + 1);
        // Nothing left beside the registry or the copy.
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        names.sort();
        assert_eq!(names, Vec::<String>::new());
    }

    #[test]
    fn restore_refuses_what_is_not_a_registry_it_knows_and_changes_nothing() {
        let (dir, reg) = temp_registry();
        reg.add_bridge(&bridge("br0")).unwrap();
        let mut writer = SqliteRegistry::open(reg.path()).unwrap();
        let g = reg.generation().unwrap();
        let refuse = |writer: &mut SqliteRegistry, file: &Path| {
            let err = writer.restore_from(file).unwrap_err();
            assert_eq!(reg.bridges().unwrap(), [bridge("br0")]);
            assert_eq!(reg.generation().unwrap(), g);
            err.to_string()
        };
        let file = dir.path().join("other.db");
        std::fs::write(&file, vec![b'x'; 4096]).unwrap();
        assert_eq!(
            refuse(&mut writer, &file),
            format!(
                "{} is not a vifkit registry: it is not an SQLite database",
                file.display()
            )
        );
        std::fs::remove_file(&file).unwrap();
        Connection::open(&file)
            .unwrap()
            .execute_batch("CREATE TABLE songs (title TEXT)")
            .unwrap();
        assert!(refuse(&mut writer, &file)
            .ends_with("is not a vifkit registry: it already holds 1 tables or indexes and no vifkit application id"));
        std::fs::remove_file(&file).unwrap();
        Connection::open(&file)
            .unwrap()
            .execute_batch("CREATE TABLE t (x); DROP TABLE t;")
            .unwrap();
        assert!(refuse(&mut writer, &file).ends_with("it holds no vifkit registry (it is empty)"));
        // A registry of a newer schema than this build's.
        let (_d, newer) = temp_db();
        SqliteRegistry::open(&newer).unwrap();
        Connection::open(&newer)
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        assert!(refuse(&mut writer, &newer).contains(&format!(
            "has schema version {}, newer than version {SCHEMA_VERSION}",
            SCHEMA_VERSION + 1
        )));
        // A missing file.
        let err = refuse(&mut writer, &dir.path().join("none.db"));
        assert!(
            err.contains("failed while opening the file to restore"),
            "{err}"
        );
        // The given file is never changed by the checks.
        assert_eq!(
            Connection::open(&newer)
                .unwrap()
                .pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))
                .unwrap(),
            SCHEMA_VERSION + 1
        );
    }

    #[test]
    fn an_older_registry_is_restored_migrated_and_the_file_left_alone() {
        let (dir, reg) = temp_registry();
        let old = dir.path().join("v1.db");
        {
            let conn = Connection::open(&old).unwrap();
            schema::migrate_to(&conn, &old, 1).unwrap();
            conn.execute_batch(
                "INSERT INTO bridges (name, kind, uplink, vlan, mtu, stp, creatable)
                     VALUES ('br0', 'linux', NULL, NULL, NULL, 0, 0);
                 INSERT INTO attachments (domid, devid, domain_name, domain_uuid, backend,
                     emulated, mac, bridge, vlan, guest_name, state)
                     VALUES (5, 0, 'dom5', NULL, 'vif5.0', 'vif5.0-emu',
                     '02:00:05:00:00:00', 'br0', NULL, NULL, 'prepared');",
            )
            .unwrap();
        }
        let bytes = std::fs::read(&old).unwrap();
        let mut writer = SqliteRegistry::open(reg.path()).unwrap();
        let copied = writer.restore_from(&old).unwrap();
        assert_eq!(
            (copied.schema, copied.bridges, copied.attachments),
            (1, 1, 1)
        );
        let mut want = attachment(5, 0, "br0");
        want.boot_id = None;
        assert_eq!(reg.attachments().unwrap(), [want]);
        assert_eq!(std::fs::read(&old).unwrap(), bytes);
    }
}
