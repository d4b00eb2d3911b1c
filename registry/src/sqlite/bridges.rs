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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{attachment, bridge, ifname, temp_registry};
    use crate::Driver;
    use crate::{BridgeKind, ModelError, Mtu, Registry};

    fn br900() -> Bridge {
        Bridge {
            name: ifname("br900"),
            kind: BridgeKind::Ovs,
            uplink: Some(ifname("bond0")),
            vlan: Some(VlanId::new(900).unwrap()),
            mtu: Some(Mtu::new(9000).unwrap()),
            stp: true,
            creatable: true,
        }
    }

    #[test]
    fn made_by_vifkit_is_marked_and_cleared() {
        let (_dir, reg) = temp_registry();
        let name = ifname("br0");
        assert!(!reg.bridge_made(&name).unwrap());
        assert!(matches!(
            reg.set_bridge_made(&name, true),
            Err(RegistryError::UnknownBridge(_))
        ));
        reg.add_bridge(&bridge("br0")).unwrap();
        assert!(!reg.bridge_made(&name).unwrap());
        let g = reg.generation().unwrap();
        reg.set_bridge_made(&name, true).unwrap();
        assert!(reg.bridge_made(&name).unwrap());
        assert_eq!(reg.generation().unwrap(), g + 1);
        // Setting it again writes nothing.
        reg.set_bridge_made(&name, true).unwrap();
        assert_eq!(reg.generation().unwrap(), g + 1);
        // An update of the entry keeps the mark; removing the entry drops it.
        let mut b = bridge("br0");
        b.creatable = true;
        reg.update_bridge(&b).unwrap();
        assert!(reg.bridge_made(&name).unwrap());
        reg.set_bridge_made(&name, false).unwrap();
        assert!(!reg.bridge_made(&name).unwrap());
        reg.set_bridge_made(&name, true).unwrap();
        reg.remove_bridge(&name).unwrap();
        reg.add_bridge(&bridge("br0")).unwrap();
        assert!(!reg.bridge_made(&name).unwrap());
    }

    #[test]
    fn add_get_list() {
        let (_dir, reg) = temp_registry();
        assert_eq!(reg.bridges().unwrap(), []);
        assert_eq!(reg.generation().unwrap(), 0);
        reg.add_bridge(&br900()).unwrap();
        reg.add_bridge(&bridge("br0")).unwrap();
        assert_eq!(reg.generation().unwrap(), 2);
        assert_eq!(reg.bridge(&ifname("br900")).unwrap(), Some(br900()));
        assert_eq!(reg.bridge(&ifname("br1")).unwrap(), None);
        assert_eq!(reg.bridges().unwrap(), [bridge("br0"), br900()]);
    }

    #[test]
    fn adding_twice_is_refused() {
        let (_dir, reg) = temp_registry();
        reg.add_bridge(&bridge("br0")).unwrap();
        let mut again = bridge("br0");
        again.stp = true;
        let err = reg.add_bridge(&again).unwrap_err();
        assert!(matches!(&err, RegistryError::BridgeExists(b) if b.as_str() == "br0"));
        assert_eq!(err.to_string(), "Bridge br0 is already in the registry");
        assert_eq!(reg.bridges().unwrap(), [bridge("br0")]);
    }

    #[test]
    fn update() {
        let (_dir, reg) = temp_registry();
        let mut b = br900();
        reg.add_bridge(&b).unwrap();
        // Its own uplink device is no clash.
        b.mtu = None;
        b.kind = BridgeKind::Linux;
        reg.update_bridge(&b).unwrap();
        assert_eq!(reg.bridges().unwrap(), [b.clone()]);
        assert_eq!(reg.generation().unwrap(), 2);
        reg.update_bridge(&b).unwrap();
        assert_eq!(reg.generation().unwrap(), 2);
        let err = reg.update_bridge(&bridge("br1")).unwrap_err();
        assert!(matches!(&err, RegistryError::UnknownBridge(n) if n.as_str() == "br1"));
        assert_eq!(reg.bridges().unwrap(), [b]);
    }

    #[test]
    fn invalid_bridges_are_refused() {
        let (_dir, reg) = temp_registry();
        let mut b = bridge("br900");
        b.vlan = Some(VlanId::new(900).unwrap());
        let err = reg.add_bridge(&b).unwrap_err();
        assert!(
            matches!(
                err,
                RegistryError::Invalid(ModelError::VlanWithoutUplink { .. })
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "Bridge br900 has VLAN 900 but no uplink to carry it"
        );
        reg.add_bridge(&bridge("br900")).unwrap();
        let err = reg.update_bridge(&b).unwrap_err();
        assert!(matches!(err, RegistryError::Invalid(_)), "{err:?}");
        assert_eq!(reg.bridges().unwrap(), [bridge("br900")]);
    }

    #[test]
    fn an_uplink_device_belongs_to_one_bridge() {
        let (_dir, reg) = temp_registry();
        reg.add_bridge(&br900()).unwrap();
        let mut other = bridge("brx");
        other.uplink = Some(ifname("bond0"));
        other.vlan = Some(VlanId::new(900).unwrap());
        let err = reg.add_bridge(&other).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Bridge brx: uplink device bond0.900 is already the uplink of bridge br900"
        );
        // The same uplink with another VLAN is fine, and so is the bare uplink.
        other.vlan = Some(VlanId::new(901).unwrap());
        reg.add_bridge(&other).unwrap();
        let mut bare = bridge("brbare");
        bare.uplink = Some(ifname("bond0"));
        reg.add_bridge(&bare).unwrap();
        // Moving a bridge onto a taken device is refused too.
        other.vlan = Some(VlanId::new(900).unwrap());
        assert!(matches!(
            reg.update_bridge(&other).unwrap_err(),
            RegistryError::UplinkInUse { .. }
        ));
        assert_eq!(reg.bridges().unwrap().len(), 3);
    }

    #[test]
    fn a_bridge_is_no_uplink() {
        let (_dir, reg) = temp_registry();
        reg.add_bridge(&bridge("br0")).unwrap();
        let mut b = bridge("br1");
        b.uplink = Some(ifname("br0"));
        let err = reg.add_bridge(&b).unwrap_err();
        assert!(
            matches!(&err, RegistryError::UplinkIsABridge { bridge, other }
                if bridge.as_str() == "br1" && other.as_str() == "br0"),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "Bridge br1 and bridge br0: one would be the other's uplink device"
        );
        // The other way round: a new bridge named like an existing bridge's uplink.
        let mut c = bridge("br2");
        c.uplink = Some(ifname("eth0"));
        c.vlan = Some(VlanId::new(5).unwrap());
        reg.add_bridge(&c).unwrap();
        let err = reg.add_bridge(&bridge("eth0.5")).unwrap_err();
        assert!(
            matches!(&err, RegistryError::UplinkIsABridge { bridge, other }
                if bridge.as_str() == "eth0.5" && other.as_str() == "br2"),
            "{err:?}"
        );
        assert_eq!(reg.bridges().unwrap().len(), 2);
    }

    #[test]
    fn remove() {
        let (_dir, reg) = temp_registry();
        reg.add_bridge(&br900()).unwrap();
        reg.add_bridge(&bridge("br0")).unwrap();
        assert_eq!(reg.remove_bridge(&ifname("br900")).unwrap(), br900());
        assert_eq!(reg.bridges().unwrap(), [bridge("br0")]);
        assert_eq!(reg.generation().unwrap(), 3);
        let err = reg.remove_bridge(&ifname("br900")).unwrap_err();
        assert!(matches!(&err, RegistryError::UnknownBridge(n) if n.as_str() == "br900"));
        assert_eq!(err.to_string(), "Bridge br900 is not in the registry");
        assert_eq!(reg.generation().unwrap(), 3);
    }

    #[test]
    fn a_bridge_in_use_is_not_removed() {
        let (_dir, reg) = temp_registry();
        reg.add_bridge(&bridge("br0")).unwrap();
        reg.record(&attachment(9, 1, "br0")).unwrap();
        reg.record(&attachment(4, 2, "br0")).unwrap();
        let err = reg.remove_bridge(&ifname("br0")).unwrap_err();
        match &err {
            RegistryError::BridgeInUse {
                bridge,
                count,
                first,
            } => {
                assert_eq!(bridge.as_str(), "br0");
                assert_eq!(*count, 2);
                assert_eq!(*first, attachment(4, 2, "br0").owner());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            err.to_string(),
            "Bridge br0 still has 2 NIC attachment(s), the first of Xen domain \"dom4\" (id 4) \
             device 2"
        );
        assert_eq!(reg.bridges().unwrap(), [bridge("br0")]);
        reg.remove_attachment(Driver::Xen, 4, 2).unwrap();
        reg.remove_attachment(Driver::Xen, 9, 1).unwrap();
        reg.remove_bridge(&ifname("br0")).unwrap();
        assert_eq!(reg.bridges().unwrap(), []);
    }
}
