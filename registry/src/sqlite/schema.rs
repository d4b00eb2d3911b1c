//! The registry's SQLite schema, its version in `PRAGMA user_version`, and the ordered
//! migrations that bring an older database up to date when it is opened.
//!
//! Migration `i` (counting from 1) takes a database from version `i - 1` to `i`. All the
//! migrations a database needs run in one `BEGIN IMMEDIATE` transaction, so a crash
//! leaves it at its old version and two processes opening it at once migrate it once.
//! A database newer than this build is refused, never downgraded.

use std::path::Path;

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::error::db_err;
use crate::RegistryError;

/// `PRAGMA application_id` of a vifkit registry: `vifk` in ASCII.
pub(super) const APPLICATION_ID: i32 = 0x7669_666b;

/// The schema version this build writes and reads.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Migration `i + 1` takes a database from version `i` to `i + 1`.
const MIGRATIONS: [&str; 8] = [
    // 1: bridges and NIC attachments.
    "
    PRAGMA application_id = 1986618987;
    CREATE TABLE bridges (
        name TEXT PRIMARY KEY NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('linux', 'ovs')),
        uplink TEXT,
        vlan INTEGER CHECK (vlan BETWEEN 1 AND 4094),
        mtu INTEGER CHECK (mtu BETWEEN 68 AND 65535),
        stp INTEGER NOT NULL CHECK (stp IN (0, 1)),
        creatable INTEGER NOT NULL CHECK (creatable IN (0, 1)),
        uplink_device TEXT GENERATED ALWAYS AS
            (CASE WHEN vlan IS NULL THEN uplink ELSE uplink || '.' || vlan END) STORED,
        CHECK (vlan IS NULL OR uplink IS NOT NULL)
    ) STRICT;
    CREATE UNIQUE INDEX bridges_uplink_device ON bridges (uplink_device);
    CREATE TABLE attachments (
        domid INTEGER NOT NULL CHECK (domid BETWEEN 0 AND 32751),
        devid INTEGER NOT NULL CHECK (devid BETWEEN 0 AND 4294967295),
        domain_name TEXT NOT NULL,
        domain_uuid TEXT,
        backend TEXT NOT NULL,
        emulated TEXT,
        mac TEXT NOT NULL,
        bridge TEXT NOT NULL REFERENCES bridges (name) ON UPDATE RESTRICT ON DELETE RESTRICT,
        vlan TEXT,
        guest_name TEXT,
        state TEXT NOT NULL CHECK (state IN ('prepared', 'active', 'stopped')),
        PRIMARY KEY (domid, devid)
    ) STRICT;
    CREATE UNIQUE INDEX attachments_mac ON attachments (mac);
    CREATE UNIQUE INDEX attachments_backend ON attachments (backend);
    CREATE UNIQUE INDEX attachments_emulated ON attachments (emulated);
    CREATE INDEX attachments_bridge ON attachments (bridge);
    ",
    // 2: a generation counter for watchers; lookups by domain name and UUID.
    "
    CREATE TABLE generation (
        id INTEGER PRIMARY KEY CHECK (id = 0),
        value INTEGER NOT NULL
    ) STRICT;
    INSERT INTO generation (id, value) VALUES (0, 0);
    CREATE INDEX attachments_domain_name ON attachments (domain_name);
    CREATE INDEX attachments_domain_uuid ON attachments (domain_uuid);
    ",
    // 3: which bridges vifkit itself created (the libvirt hooks remove those again when
    // their last guest is gone).
    "
    ALTER TABLE bridges ADD COLUMN made_by_vifkit INTEGER NOT NULL DEFAULT 0
        CHECK (made_by_vifkit IN (0, 1));
    ",
    // 4: bridges claimed by guests that are starting (libvirt's `prepare` until their
    // records are written), which vifkit must not remove as unused meanwhile.
    "
    CREATE TABLE bridge_claims (
        domain TEXT NOT NULL,
        bridge TEXT NOT NULL REFERENCES bridges (name) ON UPDATE CASCADE ON DELETE CASCADE,
        PRIMARY KEY (domain, bridge)
    ) STRICT;
    CREATE INDEX bridge_claims_bridge ON bridge_claims (bridge);
    ",
    // 5: attachments keyed by driver too: a QEMU domain's id and name say nothing about
    // the Xen domain of the same id or name. A row is Xen's when it has an emulated twin
    // or its backend has the shape of Xen's `vifD.N`; every other row is a QEMU tap.
    // QEMU's domain ids are libvirt's, not bounded by Xen's reserved range.
    "
    CREATE TABLE attachments_by_driver (
        driver TEXT NOT NULL CHECK (driver IN ('xen', 'qemu')),
        domid INTEGER NOT NULL CHECK (domid BETWEEN 0 AND 4294967295
            AND (driver = 'qemu' OR domid <= 32751)),
        devid INTEGER NOT NULL CHECK (devid BETWEEN 0 AND 4294967295),
        domain_name TEXT NOT NULL,
        domain_uuid TEXT,
        backend TEXT NOT NULL,
        emulated TEXT CHECK (emulated IS NULL OR driver = 'xen'),
        mac TEXT NOT NULL,
        bridge TEXT NOT NULL REFERENCES bridges (name) ON UPDATE RESTRICT ON DELETE RESTRICT,
        vlan TEXT,
        guest_name TEXT,
        state TEXT NOT NULL CHECK (state IN ('prepared', 'active', 'stopped')),
        PRIMARY KEY (driver, domid, devid)
    ) STRICT;
    INSERT INTO attachments_by_driver
        SELECT CASE WHEN emulated IS NOT NULL OR backend GLOB 'vif[0-9]*.[0-9]*'
                    THEN 'xen' ELSE 'qemu' END,
               domid, devid, domain_name, domain_uuid, backend, emulated, mac, bridge, vlan,
               guest_name, state
        FROM attachments;
    DROP TABLE attachments;
    ALTER TABLE attachments_by_driver RENAME TO attachments;
    CREATE UNIQUE INDEX attachments_mac ON attachments (mac);
    CREATE UNIQUE INDEX attachments_backend ON attachments (backend);
    CREATE UNIQUE INDEX attachments_emulated ON attachments (emulated);
    CREATE INDEX attachments_bridge ON attachments (bridge);
    CREATE INDEX attachments_domain_name ON attachments (driver, domain_name);
    CREATE INDEX attachments_domain_uuid ON attachments (driver, domain_uuid);
    ",
    // 6: bridge claims keyed by driver too. Which driver an old claim was made for is
    // not recorded: claims live from a guest's `prepare` to its `started`, so the few in
    // flight at the upgrade are dropped.
    "
    DROP TABLE bridge_claims;
    CREATE TABLE bridge_claims (
        driver TEXT NOT NULL CHECK (driver IN ('xen', 'qemu')),
        domain TEXT NOT NULL,
        bridge TEXT NOT NULL REFERENCES bridges (name) ON UPDATE CASCADE ON DELETE CASCADE,
        PRIMARY KEY (driver, domain, bridge)
    ) STRICT;
    CREATE INDEX bridge_claims_bridge ON bridge_claims (bridge);
    ",
    // 7: the boot each record was written in (/proc/sys/kernel/random/boot_id): a
    // record of another boot is stale. Older rows do not say.
    "
    ALTER TABLE attachments ADD COLUMN boot_id TEXT;
    ",
    // 8: the NIC's model (`e1000`, `virtio`, ...) as the domain's configuration names
    // it. Older rows do not say.
    "
    ALTER TABLE attachments ADD COLUMN model TEXT;
    ",
];

/// Brings the database to [`SCHEMA_VERSION`] in one immediate transaction, refusing a
/// newer schema and other programs' databases.
pub(super) fn migrate(conn: &Connection, path: &Path) -> Result<(), RegistryError> {
    migrate_to(conn, path, SCHEMA_VERSION)
}

/// Reads the schema version with plain reads (no transaction of its own: inside one,
/// or as a read of its own), refusing other programs' databases and newer schemas.
/// Changes nothing, so a refused file is left exactly as it was.
pub(super) fn check(conn: &Connection, path: &Path) -> Result<i64, RegistryError> {
    let op = "checking the schema";
    let app_id: i32 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(db_err(path, op))?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(db_err(path, op))?;
    let not_ours = |reason: String| RegistryError::NotARegistry {
        path: path.to_owned(),
        reason,
    };
    if app_id != APPLICATION_ID {
        if app_id != 0 {
            return Err(not_ours(format!(
                "its application id is {app_id:#x}, not vifkit's {APPLICATION_ID:#x}"
            )));
        }
        if version != 0 {
            return Err(not_ours(format!(
                "it has schema version {version} but not vifkit's application id"
            )));
        }
        let objects: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
            .map_err(db_err(path, op))?;
        if objects != 0 {
            return Err(not_ours(format!(
                "it already holds {objects} tables or indexes and no vifkit application id"
            )));
        }
    }
    if version < 0 {
        return Err(not_ours(format!(
            "its schema version {version} is negative"
        )));
    }
    if version > SCHEMA_VERSION {
        return Err(RegistryError::FutureSchema {
            path: path.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(version)
}

/// Brings the database to version `target` (tests use it to build old databases).
pub(super) fn migrate_to(conn: &Connection, path: &Path, target: i64) -> Result<(), RegistryError> {
    let op = "migrating the schema";
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)
        .map_err(db_err(path, op))?;
    // Again inside the write lock: another process may have migrated meanwhile.
    let version = check(&tx, path)?;
    if version >= target {
        return Ok(());
    }
    for (from, migration) in MIGRATIONS.iter().enumerate() {
        let from = from as i64;
        if from >= version && from < target {
            tx.execute_batch(migration).map_err(db_err(path, op))?;
        }
    }
    tx.pragma_update(None, "user_version", target)
        .map_err(db_err(path, op))?;
    tx.commit().map_err(db_err(path, op))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{attachment, bridge, temp_db};
    use crate::{Registry, SqliteRegistry};

    fn version(conn: &Connection) -> i64 {
        conn.pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap()
    }

    fn tables(conn: &Connection) -> Vec<String> {
        let mut st = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
            .unwrap();
        let names = st.query_map([], |r| r.get(0)).unwrap();
        names.map(Result::unwrap).collect()
    }

    #[test]
    fn a_new_database_gets_the_latest_schema() {
        let (_dir, path) = temp_db();
        let reg = SqliteRegistry::open(&path).unwrap();
        drop(reg);
        let conn = Connection::open(&path).unwrap();
        assert_eq!(version(&conn), SCHEMA_VERSION);
        assert_eq!(SCHEMA_VERSION, 8);
        assert_eq!(
            tables(&conn),
            ["attachments", "bridge_claims", "bridges", "generation"]
        );
        let app: i32 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .unwrap();
        assert_eq!(app, APPLICATION_ID);
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        // Opening again is a no-op.
        SqliteRegistry::open(&path).unwrap();
        assert_eq!(version(&conn), SCHEMA_VERSION);
    }

    #[test]
    fn a_version_1_database_is_migrated_with_its_records() {
        let (_dir, path) = temp_db();
        {
            let conn = Connection::open(&path).unwrap();
            migrate_to(&conn, &path, 1).unwrap();
            assert_eq!(version(&conn), 1);
            assert_eq!(tables(&conn), ["attachments", "bridges"]);
            conn.execute_batch(
                "INSERT INTO bridges (name, kind, uplink, vlan, mtu, stp, creatable)
                     VALUES ('br0', 'linux', 'bond0', 900, 9000, 1, 0);
                 INSERT INTO attachments (domid, devid, domain_name, domain_uuid, backend,
                     emulated, mac, bridge, vlan, guest_name, state)
                     VALUES (5, 0, 'dom5', NULL, 'vif5.0', 'vif5.0-emu',
                     '02:00:05:00:00:00', 'br0', NULL, NULL, 'active');",
            )
            .unwrap();
        }
        let reg = SqliteRegistry::open(&path).unwrap();
        let mut want_bridge = bridge("br0");
        want_bridge.uplink = Some(translator::IfName::new("bond0").unwrap());
        want_bridge.vlan = Some(crate::VlanId::new(900).unwrap());
        want_bridge.mtu = Some(crate::Mtu::new(9000).unwrap());
        want_bridge.stp = true;
        assert_eq!(reg.bridges().unwrap(), [want_bridge]);
        let mut want = attachment(5, 0, "br0");
        want.state = crate::AttachmentState::Active;
        // Written before boots were recorded: its boot is not known.
        want.boot_id = None;
        assert_eq!(reg.attachments().unwrap(), [want]);
        assert_eq!(reg.generation().unwrap(), 0);
        drop(reg);
        let conn = Connection::open(&path).unwrap();
        assert_eq!(version(&conn), SCHEMA_VERSION);
        assert_eq!(
            tables(&conn),
            ["attachments", "bridge_claims", "bridges", "generation"]
        );
    }

    #[test]
    fn a_version_4_database_gets_its_records_keyed_by_driver_from_their_device_names() {
        let (_dir, path) = temp_db();
        {
            let conn = Connection::open(&path).unwrap();
            migrate_to(&conn, &path, 4).unwrap();
            conn.execute_batch(
                "INSERT INTO bridges (name, kind, uplink, vlan, mtu, stp, creatable)
                     VALUES ('br0', 'linux', NULL, NULL, NULL, 0, 0);
                 INSERT INTO attachments (domid, devid, domain_name, domain_uuid, backend,
                     emulated, mac, bridge, vlan, guest_name, state) VALUES
                     (5, 0, 'hvm', NULL, 'vif5.0', 'vif5.0-emu', '00:16:3e:00:00:01', 'br0',
                      NULL, NULL, 'active'),
                     (5, 1, 'hvm', NULL, 'web-eth1', 'web-eth1-emu', '00:16:3e:00:00:02',
                      'br0', NULL, NULL, 'active'),
                     (6, 0, 'pv', NULL, 'vif6.0', NULL, '00:16:3e:00:00:03', 'br0', NULL,
                      NULL, 'active'),
                     (5, 2, 'hvm', NULL, 'vnet7', NULL, '52:54:00:00:00:01', 'br0', NULL,
                      NULL, 'active');
                 INSERT INTO bridge_claims (domain, bridge) VALUES ('starting', 'br0');",
            )
            .unwrap();
        }
        let reg = SqliteRegistry::open(&path).unwrap();
        let got: Vec<(crate::Driver, u32, u32, String)> = reg
            .attachments()
            .unwrap()
            .into_iter()
            .map(|a| (a.driver, a.domid, a.devid, a.backend.to_string()))
            .collect();
        use crate::Driver::{Qemu, Xen};
        assert_eq!(
            got,
            [
                (Xen, 5, 0, "vif5.0".to_owned()),
                (Xen, 5, 1, "web-eth1".to_owned()),
                (Xen, 6, 0, "vif6.0".to_owned()),
                (Qemu, 5, 2, "vnet7".to_owned()),
            ]
        );
        // The unique indexes came back: a MAC is still the host's.
        let mut clash = attachment(9, 0, "br0");
        clash.mac = "52:54:00:00:00:01".parse().unwrap();
        assert!(matches!(
            reg.record(&clash).unwrap_err(),
            RegistryError::MacClash { .. }
        ));
        // An old claim says no driver: dropped.
        let br0 = translator::IfName::new("br0").unwrap();
        assert!(reg.bridge_claims(&br0).unwrap().is_empty());
        drop(reg);
        let conn = Connection::open(&path).unwrap();
        let indexes: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'index' \
                 AND tbl_name = 'attachments' AND sql IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(indexes, 6);
    }

    #[test]
    fn a_version_7_database_keeps_its_records_with_no_model() {
        let (_dir, path) = temp_db();
        {
            let conn = Connection::open(&path).unwrap();
            migrate_to(&conn, &path, 7).unwrap();
            conn.execute_batch(
                "INSERT INTO bridges (name, kind, uplink, vlan, mtu, stp, creatable)
                     VALUES ('br0', 'linux', NULL, NULL, NULL, 0, 0);
                 INSERT INTO attachments (driver, domid, devid, domain_name, domain_uuid,
                     backend, emulated, mac, bridge, vlan, guest_name, state, boot_id)
                     VALUES ('qemu', 3, 1, 'web', NULL, 'vnet4', NULL, '52:54:00:00:03:01',
                     'br0', NULL, NULL, 'active', NULL);",
            )
            .unwrap();
        }
        let reg = SqliteRegistry::open(&path).unwrap();
        let mut want = crate::Attachment::qemu(
            crate::DomainName::new("web").unwrap(),
            3,
            1,
            "52:54:00:00:03:01".parse().unwrap(),
            translator::IfName::new("br0").unwrap(),
            translator::IfName::new("vnet4").unwrap(),
        );
        want.state = crate::AttachmentState::Active;
        want.boot_id = None;
        assert_eq!(want.model, None);
        assert_eq!(reg.attachments().unwrap(), [want.clone()]);
        // The migrated row takes a model like a new one.
        want.model = Some(crate::NicModelName::new("e1000").unwrap());
        assert_eq!(reg.record(&want).unwrap(), crate::Recorded::Updated);
        drop(reg);
        let conn = Connection::open(&path).unwrap();
        assert_eq!(version(&conn), SCHEMA_VERSION);
        let model: String = conn
            .query_row("SELECT model FROM attachments", [], |r| r.get(0))
            .unwrap();
        assert_eq!(model, "e1000");
    }

    #[test]
    fn a_version_2_database_gets_the_made_by_vifkit_column_unset() {
        let (_dir, path) = temp_db();
        {
            let conn = Connection::open(&path).unwrap();
            migrate_to(&conn, &path, 2).unwrap();
            conn.execute_batch(
                "INSERT INTO bridges (name, kind, uplink, vlan, mtu, stp, creatable)
                     VALUES ('br0', 'linux', NULL, NULL, NULL, 0, 1);",
            )
            .unwrap();
        }
        let reg = SqliteRegistry::open(&path).unwrap();
        let name = translator::IfName::new("br0").unwrap();
        let mut want = bridge("br0");
        want.creatable = true;
        assert_eq!(reg.bridges().unwrap(), [want]);
        assert!(!reg.bridge_made(&name).unwrap());
        reg.set_bridge_made(&name, true).unwrap();
        assert!(reg.bridge_made(&name).unwrap());
        drop(reg);
        let conn = Connection::open(&path).unwrap();
        assert_eq!(version(&conn), SCHEMA_VERSION);
    }

    #[test]
    fn a_newer_schema_is_refused_and_left_alone() {
        let (_dir, path) = temp_db();
        SqliteRegistry::open(&path).unwrap();
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", 70).unwrap();
        }
        let err = SqliteRegistry::open(&path).unwrap_err();
        assert!(
            matches!(
                err,
                RegistryError::FutureSchema {
                    found: 70,
                    supported: SCHEMA_VERSION,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "Registry {} has schema version 70, newer than version {SCHEMA_VERSION} that \
                 this vifkit knows: upgrade vifkit (it will not downgrade the registry)",
                path.display()
            )
        );
        let conn = Connection::open(&path).unwrap();
        assert_eq!(version(&conn), 70);
    }

    #[test]
    fn other_programs_databases_are_refused() {
        let (_dir, path) = temp_db();
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("CREATE TABLE songs (title TEXT)")
                .unwrap();
        }
        let err = SqliteRegistry::open(&path).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{} is not a vifkit registry: it already holds 1 tables or indexes and no \
                 vifkit application id",
                path.display()
            )
        );

        let (_dir, path) = temp_db();
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "application_id", 0x1234).unwrap();
        }
        let err = SqliteRegistry::open(&path).unwrap_err();
        assert!(
            matches!(&err, RegistryError::NotARegistry { reason, .. }
                if reason == "its application id is 0x1234, not vifkit's 0x7669666b"),
            "{err:?}"
        );

        let (_dir, path) = temp_db();
        {
            let conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", 3).unwrap();
        }
        let err = SqliteRegistry::open(&path).unwrap_err();
        assert!(
            matches!(&err, RegistryError::NotARegistry { reason, .. }
                if reason == "it has schema version 3 but not vifkit's application id"),
            "{err:?}"
        );

        let (_dir, path) = temp_db();
        {
            let conn = Connection::open(&path).unwrap();
            migrate(&conn, &path).unwrap();
            conn.pragma_update(None, "user_version", -1).unwrap();
        }
        let err = SqliteRegistry::open(&path).unwrap_err();
        assert!(
            matches!(&err, RegistryError::NotARegistry { reason, .. }
                if reason == "its schema version -1 is negative"),
            "{err:?}"
        );
    }

    #[test]
    fn a_file_that_is_not_sqlite_is_refused() {
        let (_dir, path) = temp_db();
        std::fs::write(&path, vec![b'x'; 4096]).unwrap();
        let err = SqliteRegistry::open(&path).unwrap_err();
        assert!(
            matches!(
                &err,
                RegistryError::Sqlite { source, .. }
                    if source.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase)
            ),
            "{err:?}"
        );
        assert!(
            err.to_string().starts_with(&format!(
                "Registry {}: SQLite failed while ",
                path.display()
            )),
            "{err}"
        );
        // The file is left as it was.
        assert_eq!(std::fs::read(&path).unwrap(), vec![b'x'; 4096]);
    }

    #[test]
    fn a_failed_migration_leaves_the_old_version() {
        let (_dir, path) = temp_db();
        let conn = Connection::open(&path).unwrap();
        migrate_to(&conn, &path, 1).unwrap();
        // Sabotage migration 2: its table already exists.
        conn.execute_batch("CREATE TABLE generation (x INTEGER)")
            .unwrap();
        let err = SqliteRegistry::open(&path).unwrap_err();
        assert!(
            matches!(
                err,
                RegistryError::Sqlite {
                    op: "migrating the schema",
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(version(&conn), 1);
        assert_eq!(tables(&conn), ["attachments", "bridges", "generation"]);
        let idx: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'attachments_domain_name'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(idx, 0);
    }
}
