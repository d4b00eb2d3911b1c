//! Bridges in the SQLite registry: the checks and writes run with the write lock held.

use rusqlite::{params, Connection, OptionalExtension};
use translator::IfName;

use super::rows::{owner_from_row, BridgeRow, ATTACHMENT_ORDER, BRIDGE_COLUMNS};
use super::SqliteRegistry;
use crate::model::parse_if_name;
use crate::{Bridge, RegistryError, VlanId};

impl SqliteRegistry {
    pub(super) fn get_bridge(
        &self,
        conn: &Connection,
        name: &IfName,
    ) -> Result<Option<Bridge>, RegistryError> {
        let op = "reading a bridge";
        let row = conn
            .query_row(
                &format!("SELECT {BRIDGE_COLUMNS} FROM bridges WHERE name = ?1"),
                [name.as_str()],
                BridgeRow::read,
            )
            .optional()
            .map_err(self.err(op))?;
        row.map(|r| r.into_bridge(&self.path)).transpose()
    }

    /// The checks `add_bridge` and `update_bridge` share, with the write lock held.
    fn check_uplink(&self, conn: &Connection, bridge: &Bridge) -> Result<(), RegistryError> {
        let op = "checking the uplink";
        let name_of = |sql: &str, arg: &str| -> Result<Option<String>, RegistryError> {
            conn.query_row(sql, params![arg, bridge.name.as_str()], |r| r.get(0))
                .optional()
                .map_err(self.err(op))
        };
        let other_bridge = |other: String| -> Result<IfName, RegistryError> {
            parse_if_name("bridge name", &other).map_err(|source| RegistryError::BadRow {
                path: self.path.clone(),
                table: "bridges",
                key: other,
                source: Box::new(source),
            })
        };
        if let Some(device) = bridge.uplink_device()? {
            let sql = "SELECT name FROM bridges WHERE uplink_device = ?1 AND name != ?2";
            if let Some(other) = name_of(sql, &device)? {
                return Err(RegistryError::UplinkInUse {
                    bridge: bridge.name.clone(),
                    device,
                    other: other_bridge(other)?,
                });
            }
            let sql = "SELECT name FROM bridges WHERE name = ?1 AND name != ?2";
            if let Some(other) = name_of(sql, &device)? {
                return Err(RegistryError::UplinkIsABridge {
                    bridge: bridge.name.clone(),
                    other: other_bridge(other)?,
                });
            }
        }
        let sql = "SELECT name FROM bridges WHERE uplink_device = ?1 AND name != ?2";
        if let Some(other) = name_of(sql, &bridge.name)? {
            return Err(RegistryError::UplinkIsABridge {
                bridge: bridge.name.clone(),
                other: other_bridge(other)?,
            });
        }
        Ok(())
    }

    fn put_bridge(&self, conn: &Connection, b: &Bridge, insert: bool) -> Result<(), RegistryError> {
        let sql = match insert {
            true => format!(
                "INSERT INTO bridges ({BRIDGE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
            ),
            false => "UPDATE bridges SET kind = ?2, uplink = ?3, vlan = ?4, mtu = ?5, stp = ?6, \
                      creatable = ?7 WHERE name = ?1"
                .to_owned(),
        };
        conn.execute(
            &sql,
            params![
                b.name.as_str(),
                b.kind.as_str(),
                b.uplink.as_ref().map(|u| u.as_str()),
                b.vlan.map(VlanId::get),
                b.mtu.map(|m| m.get()),
                b.stp,
                b.creatable,
            ],
        )
        .map_err(self.err("writing a bridge"))?;
        self.bump(conn)
    }

    pub(super) fn list_bridges(&self, conn: &Connection) -> Result<Vec<Bridge>, RegistryError> {
        let op = "reading bridges";
        let mut st = conn
            .prepare_cached(&format!(
                "SELECT {BRIDGE_COLUMNS} FROM bridges ORDER BY name"
            ))
            .map_err(self.err(op))?;
        let rows = st
            .query_map([], BridgeRow::read)
            .map_err(self.err(op))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err(op))?;
        rows.into_iter()
            .map(|r| r.into_bridge(&self.path))
            .collect()
    }

    pub(super) fn add_bridge_in(
        &self,
        conn: &Connection,
        bridge: &Bridge,
    ) -> Result<(), RegistryError> {
        if self.get_bridge(conn, &bridge.name)?.is_some() {
            return Err(RegistryError::BridgeExists(bridge.name.clone()));
        }
        self.check_uplink(conn, bridge)?;
        self.put_bridge(conn, bridge, true)
    }

    pub(super) fn update_bridge_in(
        &self,
        conn: &Connection,
        bridge: &Bridge,
    ) -> Result<(), RegistryError> {
        match self.get_bridge(conn, &bridge.name) {
            Ok(Some(old)) if old == *bridge => return Ok(()),
            // A corrupt row is overwritten.
            Ok(Some(_)) | Err(RegistryError::BadRow { .. }) => {}
            Ok(None) => return Err(RegistryError::UnknownBridge(bridge.name.clone())),
            Err(e) => return Err(e),
        }
        self.check_uplink(conn, bridge)?;
        self.put_bridge(conn, bridge, false)
    }

    pub(super) fn remove_bridge_in(
        &self,
        conn: &Connection,
        name: &IfName,
    ) -> Result<Bridge, RegistryError> {
        let Some(bridge) = self.get_bridge(conn, name)? else {
            return Err(RegistryError::UnknownBridge(name.clone()));
        };
        let op = "checking the bridge's attachments";
        let count: i64 = conn
            .query_row(
                "SELECT count(*) FROM attachments WHERE bridge = ?1",
                [name.as_str()],
                |r| r.get(0),
            )
            .map_err(self.err(op))?;
        if count > 0 {
            let (k, n, d, v): (String, String, i64, i64) = conn
                .query_row(
                    &format!(
                        "SELECT driver, domain_name, domid, devid FROM attachments \
                         WHERE bridge = ?1 {ATTACHMENT_ORDER} LIMIT 1"
                    ),
                    [name.as_str()],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .map_err(self.err(op))?;
            return Err(RegistryError::BridgeInUse {
                bridge: name.clone(),
                count: u64::try_from(count).unwrap_or(0),
                first: owner_from_row(&self.path, k, n, d, v)?,
            });
        }
        conn.execute("DELETE FROM bridges WHERE name = ?1", [name.as_str()])
            .map_err(self.err("removing a bridge"))?;
        self.bump(conn)?;
        Ok(bridge)
    }
}

impl SqliteRegistry {
    pub(super) fn set_bridge_made_in(
        &self,
        conn: &Connection,
        name: &IfName,
        made: bool,
    ) -> Result<(), RegistryError> {
        let op = "marking a bridge as made by vifkit";
        let old: Option<bool> = conn
            .query_row(
                "SELECT made_by_vifkit FROM bridges WHERE name = ?1",
                [name.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err(op))?;
        match old {
            None => Err(RegistryError::UnknownBridge(name.clone())),
            Some(old) if old == made => Ok(()),
            Some(_) => {
                conn.execute(
                    "UPDATE bridges SET made_by_vifkit = ?2 WHERE name = ?1",
                    params![name.as_str(), made],
                )
                .map_err(self.err(op))?;
                self.bump(conn)
            }
        }
    }

    pub(super) fn bridge_made_in(
        &self,
        conn: &Connection,
        name: &IfName,
    ) -> Result<bool, RegistryError> {
        let made: Option<bool> = conn
            .query_row(
                "SELECT made_by_vifkit FROM bridges WHERE name = ?1",
                [name.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("reading whether vifkit made a bridge"))?;
        Ok(made.unwrap_or(false))
    }
}
