//! NIC attachments in the SQLite registry: lookups, and the checks and writes that run
//! with the write lock held.

use rusqlite::{params, Connection, OptionalExtension};

use super::rows::{
    domain_filter, owner_from_row, AttachmentRow, ATTACHMENT_COLUMNS, ATTACHMENT_ORDER,
};
use super::SqliteRegistry;
use crate::{
    Attachment, AttachmentState, DomainKey, DomainName, Driver, Owner, Recorded, RegistryError,
};

impl SqliteRegistry {
    pub(super) fn query_attachments(
        &self,
        conn: &Connection,
        filter: &str,
        args: impl rusqlite::Params,
    ) -> Result<Vec<Attachment>, RegistryError> {
        let op = "reading NIC attachments";
        let sql =
            format!("SELECT {ATTACHMENT_COLUMNS} FROM attachments {filter} {ATTACHMENT_ORDER}");
        let mut st = conn.prepare_cached(&sql).map_err(self.err(op))?;
        let rows = st
            .query_map(args, AttachmentRow::read)
            .map_err(self.err(op))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err(op))?;
        rows.into_iter()
            .map(|r| r.into_attachment(&self.path))
            .collect()
    }

    pub(super) fn query_attachment(
        &self,
        conn: &Connection,
        filter: &str,
        args: impl rusqlite::Params,
    ) -> Result<Option<Attachment>, RegistryError> {
        Ok(self
            .query_attachments(conn, filter, args)?
            .into_iter()
            .next())
    }

    /// The attachment of `(driver, domid, devid)`, if any.
    pub(super) fn attachment_in(
        &self,
        conn: &Connection,
        driver: Driver,
        domid: u32,
        devid: u32,
    ) -> Result<Option<Attachment>, RegistryError> {
        self.query_attachment(
            conn,
            "WHERE driver = ?1 AND domid = ?2 AND devid = ?3",
            params![driver.as_str(), domid, devid],
        )
    }

    /// Who other than `a` matches `filter` (on `?1`), if anyone.
    fn other_owner(
        &self,
        conn: &Connection,
        filter: &str,
        value: &str,
        a: &Attachment,
    ) -> Result<Option<Owner>, RegistryError> {
        let op = "checking for clashes";
        let sql = format!(
            "SELECT driver, domain_name, domid, devid FROM attachments \
             WHERE ({filter}) AND NOT (driver = ?2 AND domid = ?3 AND devid = ?4) \
             {ATTACHMENT_ORDER} LIMIT 1"
        );
        let row: Option<(String, String, i64, i64)> = conn
            .query_row(
                &sql,
                params![value, a.driver.as_str(), a.domid, a.devid],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(self.err(op))?;
        row.map(|(driver, name, d, n)| owner_from_row(&self.path, driver, name, d, n))
            .transpose()
    }

    /// Records one attachment with the write lock held; the caller counts the change.
    pub(super) fn record_in(
        &self,
        conn: &Connection,
        a: &Attachment,
    ) -> Result<Recorded, RegistryError> {
        a.validate()?;
        let exists: Option<i64> = conn
            .query_row(
                "SELECT 1 FROM bridges WHERE name = ?1",
                [a.bridge.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("checking the bridge"))?;
        if exists.is_none() {
            return Err(RegistryError::UnknownBridge(a.bridge.clone()));
        }
        let mac = a.mac.to_string();
        if let Some(owner) = self.other_owner(conn, "mac = ?1", &mac, a)? {
            return Err(RegistryError::MacClash { mac: a.mac, owner });
        }
        for dev in a.devices() {
            let filter = "backend = ?1 OR emulated = ?1";
            if let Some(owner) = self.other_owner(conn, filter, dev, a)? {
                return Err(RegistryError::NameClash {
                    name: dev.clone(),
                    owner,
                });
            }
        }
        let recorded = match self.attachment_in(conn, a.driver, a.domid, a.devid) {
            Ok(Some(old)) if old == *a => return Ok(Recorded::Unchanged),
            Ok(Some(_)) | Err(RegistryError::BadRow { .. }) => Recorded::Updated,
            Ok(None) => Recorded::Inserted,
            Err(e) => return Err(e),
        };
        let sql = format!(
            "INSERT INTO attachments ({ATTACHMENT_COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14) \
             ON CONFLICT (driver, domid, devid) DO UPDATE SET \
             domain_name = excluded.domain_name, domain_uuid = excluded.domain_uuid, \
             backend = excluded.backend, emulated = excluded.emulated, mac = excluded.mac, \
             bridge = excluded.bridge, vlan = excluded.vlan, guest_name = excluded.guest_name, \
             state = excluded.state, boot_id = excluded.boot_id, model = excluded.model"
        );
        conn.execute(
            &sql,
            params![
                a.driver.as_str(),
                a.domid,
                a.devid,
                a.domain_name.as_str(),
                a.domain_uuid.map(|u| u.to_string()),
                a.backend.as_str(),
                a.emulated.as_ref().map(|e| e.as_str()),
                mac,
                a.bridge.as_str(),
                a.vlan.as_ref().map(|v| v.to_string()),
                a.guest_name.as_ref().map(|g| g.as_str()),
                a.state.as_str(),
                a.boot_id.map(|b| b.to_string()),
                a.model.as_ref().map(|m| m.as_str()),
            ],
        )
        .map_err(self.err("writing a NIC attachment"))?;
        Ok(recorded)
    }

    pub(super) fn set_state_in(
        &self,
        conn: &Connection,
        driver: Driver,
        domid: u32,
        devid: u32,
        state: AttachmentState,
    ) -> Result<(), RegistryError> {
        let op = "setting a NIC attachment's state";
        let old: Option<String> = conn
            .query_row(
                "SELECT state FROM attachments WHERE driver = ?1 AND domid = ?2 AND devid = ?3",
                params![driver.as_str(), domid, devid],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err(op))?;
        match old {
            None => Err(RegistryError::UnknownAttachment {
                driver,
                domid,
                devid,
            }),
            Some(old) if old == state.as_str() => Ok(()),
            Some(_) => {
                conn.execute(
                    "UPDATE attachments SET state = ?4 \
                     WHERE driver = ?1 AND domid = ?2 AND devid = ?3",
                    params![driver.as_str(), domid, devid, state.as_str()],
                )
                .map_err(self.err(op))?;
                self.bump(conn)
            }
        }
    }

    pub(super) fn remove_attachment_in(
        &self,
        conn: &Connection,
        driver: Driver,
        domid: u32,
        devid: u32,
    ) -> Result<Option<Attachment>, RegistryError> {
        let Some(old) = self.attachment_in(conn, driver, domid, devid)? else {
            return Ok(None);
        };
        conn.execute(
            "DELETE FROM attachments WHERE driver = ?1 AND domid = ?2 AND devid = ?3",
            params![driver.as_str(), domid, devid],
        )
        .map_err(self.err("removing a NIC attachment"))?;
        self.bump(conn)?;
        Ok(Some(old))
    }

    /// Removes `a`'s row if it is still exactly `a`.
    pub(super) fn remove_if_unchanged_in(
        &self,
        conn: &Connection,
        a: &Attachment,
    ) -> Result<bool, RegistryError> {
        match self.attachment_in(conn, a.driver, a.domid, a.devid) {
            Ok(Some(now)) if now == *a => {
                self.remove_attachment_in(conn, a.driver, a.domid, a.devid)?;
                Ok(true)
            }
            Ok(_) | Err(RegistryError::BadRow { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub(super) fn remove_domain_in(
        &self,
        conn: &Connection,
        driver: Driver,
        domain: &DomainKey,
    ) -> Result<Vec<Attachment>, RegistryError> {
        let (filter, value) = domain_filter(domain);
        let args = params![driver.as_str(), &value];
        let old = self.query_attachments(conn, filter, args)?;
        if old.is_empty() {
            return Ok(old);
        }
        conn.execute(&format!("DELETE FROM attachments {filter}"), args)
            .map_err(self.err("removing a domain's NIC attachments"))?;
        self.bump(conn)?;
        Ok(old)
    }

    /// Replaces the attachments of `driver`'s domain `domid` with `new` (checked by
    /// [`check_replacement`]) and returns the old ones whose device ids are gone.
    pub(super) fn replace_domain_in(
        &self,
        conn: &Connection,
        driver: Driver,
        domid: u32,
        new: &[&Attachment],
    ) -> Result<Vec<Attachment>, RegistryError> {
        // The records hold the bridges from now on: the domains' claims are done.
        let mut names: Vec<&DomainName> = new.iter().map(|a| &a.domain_name).collect();
        names.sort();
        names.dedup();
        for name in names {
            self.release_in(conn, driver, name)?;
        }
        let filter = "WHERE driver = ?1 AND domid = ?2";
        let old = self.query_attachments(conn, filter, params![driver.as_str(), domid])?;
        if old.len() == new.len() && old.iter().zip(new).all(|(o, n)| o == *n) {
            return Ok(Vec::new());
        }
        // Delete first, so MACs and names may move between the domain's own NICs.
        conn.execute(
            &format!("DELETE FROM attachments {filter}"),
            params![driver.as_str(), domid],
        )
        .map_err(self.err("replacing a domain's NIC attachments"))?;
        for a in new {
            self.record_in(conn, a)?;
        }
        self.bump(conn)?;
        Ok(old
            .into_iter()
            .filter(|o| new.binary_search_by_key(&o.devid, |n| n.devid).is_err())
            .collect())
    }
}

/// Checks a replacement set before any lock is taken: every attachment valid, of
/// `driver`'s domain `domid`, device ids distinct. Returns it sorted by device id.
pub(super) fn check_replacement(
    driver: Driver,
    domid: u32,
    attachments: &[Attachment],
) -> Result<Vec<&Attachment>, RegistryError> {
    let mut new: Vec<&Attachment> = attachments.iter().collect();
    new.sort_by_key(|a| a.devid);
    for (i, a) in new.iter().enumerate() {
        if a.driver != driver || a.domid != domid {
            return Err(RegistryError::WrongDomain {
                driver,
                domid,
                owner: a.owner(),
            });
        }
        if i > 0 && new[i - 1].devid == a.devid {
            return Err(RegistryError::DuplicateDevice {
                driver,
                domid,
                devid: a.devid,
            });
        }
        a.validate()?;
    }
    Ok(new)
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use translator::vlan::VlanSpec;

    use translator::MacAddr;

    use super::*;
    use crate::testutil::{attachment, bridge, ifname, mac_of, temp_registry};
    use crate::{
        DomainName, DomainUuid, GuestName, ModelError, NicModelName, Registry, SqliteRegistry,
    };

    /// A registry with bridges `br0` and `br1`.
    fn registry() -> (tempfile::TempDir, SqliteRegistry) {
        let (dir, reg) = temp_registry();
        reg.add_bridge(&bridge("br0")).unwrap();
        reg.add_bridge(&bridge("br1")).unwrap();
        (dir, reg)
    }

    fn owner(domid: u32, devid: u32) -> Owner {
        attachment(domid, devid, "br0").owner()
    }

    /// Every optional field set, a custom backend name.
    fn full() -> Attachment {
        let mut a = attachment(7, 1, "br1");
        a.domain_name = DomainName::new("Windows Server 2022").unwrap();
        a.domain_uuid = Some("4dea22b3-1d52-d8f3-2516-782e98ab3fa0".parse().unwrap());
        a.backend = ifname("win-eth1");
        a.emulated = Some(ifname("win-eth1-emu"));
        a.vlan = Some("10p/20-22/30u".parse::<VlanSpec>().unwrap());
        a.guest_name = Some(GuestName::new("Ethernet 2").unwrap());
        a.model = Some(NicModelName::new("e1000").unwrap());
        a.state = AttachmentState::Active;
        a
    }

    #[test]
    fn record_inserts_updates_and_leaves_alone() {
        let (_dir, reg) = registry();
        let a = attachment(5, 0, "br0");
        assert_eq!(reg.record(&a).unwrap(), Recorded::Inserted);
        assert_eq!(reg.generation().unwrap(), 3);
        assert_eq!(reg.record(&a).unwrap(), Recorded::Unchanged);
        assert_eq!(reg.generation().unwrap(), 3);
        let mut b = a.clone();
        b.state = AttachmentState::Active;
        b.bridge = ifname("br1");
        assert_eq!(reg.record(&b).unwrap(), Recorded::Updated);
        assert_eq!(reg.generation().unwrap(), 4);
        assert_eq!(reg.attachments().unwrap(), [b]);
    }

    /// QEMU guest `name` with id `domid`: its NIC `devid` on tap `vnet{domid}{devid}`.
    fn qemu(name: &str, domid: u32, devid: u32, bridge: &str) -> Attachment {
        Attachment::qemu(
            DomainName::new(name).unwrap(),
            domid,
            devid,
            MacAddr::new([
                0x52,
                0x54,
                0,
                0,
                u8::try_from(domid).unwrap(),
                u8::try_from(devid).unwrap(),
            ])
            .unwrap(),
            ifname(bridge),
            ifname(&format!("vnet{domid}{devid}")),
        )
    }

    #[test]
    fn a_qemu_domain_never_touches_the_xen_domain_of_its_id_or_name() {
        let (_dir, reg) = registry();
        // Xen domain 5 is "twin"; QEMU's domain 5 is "other", QEMU's "twin" is 7.
        let xen = attachment(5, 0, "br0");
        let mut xen_twin = attachment(6, 0, "br0");
        xen_twin.domain_name = DomainName::new("twin").unwrap();
        reg.record(&xen).unwrap();
        reg.record(&xen_twin).unwrap();
        assert_eq!(
            reg.record(&qemu("other", 5, 0, "br1")).unwrap(),
            Recorded::Inserted
        );
        assert_eq!(
            reg.record(&qemu("twin", 7, 0, "br1")).unwrap(),
            Recorded::Inserted
        );
        assert_eq!(
            reg.attachment(Driver::Xen, 5, 0).unwrap(),
            Some(xen.clone())
        );
        assert_eq!(
            reg.attachment(Driver::Qemu, 5, 0).unwrap(),
            Some(qemu("other", 5, 0, "br1"))
        );
        // Listed Xen's first.
        let keys: Vec<_> = reg
            .attachments()
            .unwrap()
            .iter()
            .map(|a| (a.driver, a.domid))
            .collect();
        assert_eq!(
            keys,
            [
                (Driver::Xen, 5),
                (Driver::Xen, 6),
                (Driver::Qemu, 5),
                (Driver::Qemu, 7)
            ]
        );
        // QEMU's domain 5 re-synced with no NIC: Xen's domain 5 keeps its record.
        assert_eq!(reg.replace_domain(Driver::Qemu, 5, &[]).unwrap().len(), 1);
        assert_eq!(
            reg.attachment(Driver::Xen, 5, 0).unwrap(),
            Some(xen.clone())
        );
        // QEMU's "twin" stops: Xen's "twin" keeps its record.
        let twin = DomainKey::Name(DomainName::new("twin").unwrap());
        assert_eq!(reg.remove_domain(Driver::Qemu, &twin).unwrap().len(), 1);
        assert_eq!(
            reg.domain_attachments(Driver::Xen, &twin).unwrap(),
            [xen_twin.clone()]
        );
        assert_eq!(reg.remove_attachment(Driver::Qemu, 6, 0).unwrap(), None);
        let err = reg
            .set_state(Driver::Qemu, 6, 0, AttachmentState::Active)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "No NIC attachment for QEMU domain 6 device 0 in the registry"
        );
        assert_eq!(reg.attachments().unwrap(), [xen, xen_twin]);
        // A replacement names its driver: a Xen NIC in QEMU's domain 5 is refused.
        let err = reg
            .replace_domain(Driver::Qemu, 5, &[attachment(5, 1, "br0")])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Replacing QEMU domain 5's NIC attachments: Xen domain \"dom5\" (id 5) device 1 \
             belongs to another domain"
        );
    }

    #[test]
    fn a_mac_and_a_device_name_are_the_hosts_whatever_the_driver() {
        let (_dir, reg) = registry();
        reg.record(&attachment(5, 0, "br0")).unwrap();
        let mut q = qemu("q", 5, 0, "br0");
        q.mac = mac_of(5, 0);
        let err = reg.record(&q).unwrap_err();
        assert_eq!(
            err.to_string(),
            "MAC 02:00:05:00:00:00 is already used by Xen domain \"dom5\" (id 5) device 0"
        );
        let mut q = qemu("q", 5, 0, "br0");
        q.backend = ifname("vif5.0-emu");
        let err = reg.record(&q).unwrap_err();
        assert!(
            matches!(&err, RegistryError::NameClash { owner, .. } if owner.driver == Driver::Xen),
            "{err:?}"
        );
    }

    #[test]
    fn recording_a_domain_again_never_duplicates() {
        let (_dir, reg) = registry();
        for round in 0..3 {
            for devid in 0..4 {
                let mut a = attachment(9, devid, "br0");
                a.guest_name = Some(GuestName::linux_default(devid + round));
                reg.record(&a).unwrap();
            }
        }
        let all = reg.attachments().unwrap();
        let want: Vec<Attachment> = (0..4)
            .map(|devid| {
                let mut a = attachment(9, devid, "br0");
                a.guest_name = Some(GuestName::linux_default(devid + 2));
                a
            })
            .collect();
        assert_eq!(all, want);
    }

    #[test]
    fn every_field_round_trips() {
        let (_dir, reg) = registry();
        let a = full();
        reg.record(&a).unwrap();
        assert_eq!(reg.attachment(Driver::Xen, 7, 1).unwrap(), Some(a.clone()));
        assert_eq!(
            reg.attachment_by_device(&ifname("win-eth1")).unwrap(),
            Some(a.clone())
        );
        assert_eq!(
            reg.attachment_by_device(&ifname("win-eth1-emu")).unwrap(),
            Some(a.clone())
        );
        assert_eq!(reg.attachment_by_mac(a.mac).unwrap(), Some(a.clone()));
        // A second connection reads the same.
        let other = SqliteRegistry::open(reg.path()).unwrap();
        assert_eq!(other.attachments().unwrap(), std::slice::from_ref(&a));
        // A changed model alone is a change.
        let mut b = a.clone();
        b.model = Some(NicModelName::new("rtl8139").unwrap());
        assert_eq!(reg.record(&b).unwrap(), Recorded::Updated);
        assert_eq!(reg.attachment(Driver::Xen, 7, 1).unwrap(), Some(b.clone()));
        b.model = None;
        assert_eq!(reg.record(&b).unwrap(), Recorded::Updated);
        assert_eq!(reg.attachment(Driver::Xen, 7, 1).unwrap(), Some(b));
    }

    #[test]
    fn lookups() {
        let (_dir, reg) = registry();
        for (domid, devid) in [(6, 1), (5, 1), (6, 0), (5, 0)] {
            reg.record(&attachment(domid, devid, "br0")).unwrap();
        }
        let mut pv = attachment(8, 0, "br1");
        pv.emulated = None;
        reg.record(&pv).unwrap();
        let keys = |v: Vec<Attachment>| v.iter().map(|a| (a.domid, a.devid)).collect::<Vec<_>>();
        assert_eq!(
            keys(reg.attachments().unwrap()),
            [(5, 0), (5, 1), (6, 0), (6, 1), (8, 0)]
        );
        assert_eq!(
            reg.attachment(Driver::Xen, 6, 1).unwrap(),
            Some(attachment(6, 1, "br0"))
        );
        assert_eq!(reg.attachment(Driver::Xen, 6, 2).unwrap(), None);
        assert_eq!(
            reg.attachment_by_device(&ifname("vif5.1")).unwrap(),
            Some(attachment(5, 1, "br0"))
        );
        assert_eq!(
            reg.attachment_by_device(&ifname("vif5.1-emu")).unwrap(),
            Some(attachment(5, 1, "br0"))
        );
        assert_eq!(
            reg.attachment_by_device(&ifname("vif8.0")).unwrap(),
            Some(pv)
        );
        assert_eq!(
            reg.attachment_by_device(&ifname("vif8.0-emu")).unwrap(),
            None
        );
        assert_eq!(reg.attachment_by_device(&ifname("br0")).unwrap(), None);
        assert_eq!(
            reg.attachment_by_mac(mac_of(6, 0)).unwrap(),
            Some(attachment(6, 0, "br0"))
        );
        assert_eq!(reg.attachment_by_mac(mac_of(6, 9)).unwrap(), None);
        assert_eq!(
            keys(
                reg.domain_attachments(Driver::Xen, &DomainKey::Id(6))
                    .unwrap()
            ),
            [(6, 0), (6, 1)]
        );
        let name = DomainKey::Name(DomainName::new("dom5").unwrap());
        assert_eq!(
            keys(reg.domain_attachments(Driver::Xen, &name).unwrap()),
            [(5, 0), (5, 1)]
        );
        assert_eq!(
            reg.domain_attachments(Driver::Xen, &DomainKey::Id(99))
                .unwrap(),
            []
        );
    }

    #[test]
    fn mac_clash_is_a_clear_error() {
        let (_dir, reg) = registry();
        reg.record(&attachment(5, 0, "br0")).unwrap();
        let mut b = attachment(6, 3, "br1");
        b.mac = mac_of(5, 0);
        let err = reg.record(&b).unwrap_err();
        match &err {
            RegistryError::MacClash { mac, owner: o } => {
                assert_eq!(*mac, mac_of(5, 0));
                assert_eq!(*o, owner(5, 0));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            err.to_string(),
            "MAC 02:00:05:00:00:00 is already used by Xen domain \"dom5\" (id 5) device 0"
        );
        assert_eq!(reg.attachments().unwrap(), [attachment(5, 0, "br0")]);
        assert_eq!(reg.generation().unwrap(), 3);
    }

    #[test]
    fn a_mac_moves_when_its_nic_is_rerecorded() {
        let (_dir, reg) = registry();
        reg.record(&attachment(5, 0, "br0")).unwrap();
        let mut a = attachment(5, 0, "br0");
        a.mac = mac_of(5, 7);
        assert_eq!(reg.record(&a).unwrap(), Recorded::Updated);
        // The old MAC is free again.
        let mut b = attachment(6, 0, "br0");
        b.mac = mac_of(5, 0);
        assert_eq!(reg.record(&b).unwrap(), Recorded::Inserted);
        assert_eq!(reg.attachment_by_mac(mac_of(5, 0)).unwrap(), Some(b));
        assert_eq!(reg.attachment_by_mac(mac_of(5, 7)).unwrap(), Some(a));
    }

    #[test]
    fn device_name_clash_is_a_clear_error() {
        let (_dir, reg) = registry();
        reg.record(&attachment(5, 0, "br0")).unwrap();
        // A custom vifname= that is another NIC's emulated twin.
        let mut b = attachment(6, 0, "br0");
        b.backend = ifname("vif5.0-emu");
        b.emulated = None;
        let err = reg.record(&b).unwrap_err();
        assert!(
            matches!(&err, RegistryError::NameClash { name, owner: o }
                if name.as_str() == "vif5.0-emu" && *o == owner(5, 0)),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "Device name vif5.0-emu is already used by Xen domain \"dom5\" (id 5) device 0"
        );
        // And a custom one taken twice, emulated twin included.
        let mut c = attachment(6, 1, "br0");
        c.backend = ifname("web");
        c.emulated = Some(ifname("web-emu"));
        reg.record(&c).unwrap();
        let mut d = attachment(7, 0, "br0");
        d.backend = ifname("web");
        d.emulated = None;
        assert!(matches!(
            reg.record(&d).unwrap_err(),
            RegistryError::NameClash { name, .. } if name.as_str() == "web"
        ));
        assert_eq!(reg.attachments().unwrap().len(), 2);
    }

    #[test]
    fn an_unknown_bridge_is_refused() {
        let (_dir, reg) = registry();
        let err = reg.record(&attachment(5, 0, "xenbr0")).unwrap_err();
        assert!(matches!(&err, RegistryError::UnknownBridge(b) if b.as_str() == "xenbr0"));
        assert_eq!(err.to_string(), "Bridge xenbr0 is not in the registry");
        assert_eq!(reg.attachments().unwrap(), []);
    }

    #[test]
    fn an_invalid_attachment_is_refused_before_any_write() {
        let (_dir, reg) = registry();
        let mut a = attachment(5, 0, "br0");
        a.backend = ifname("vif6.0");
        let err = reg.record(&a).unwrap_err();
        assert!(
            matches!(
                &err,
                RegistryError::Invalid(ModelError::BackendOfOther {
                    named_domid: 6,
                    named_devid: 0,
                    ..
                })
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "Domain 5 device 0: backend vif6.0 is Xen's name for domain 6 device 0"
        );
        assert!(err.source().is_none());
        assert_eq!(reg.attachments().unwrap(), []);
    }

    #[test]
    fn set_state() {
        let (_dir, reg) = registry();
        reg.record(&attachment(5, 0, "br0")).unwrap();
        let g = reg.generation().unwrap();
        reg.set_state(Driver::Xen, 5, 0, AttachmentState::Active)
            .unwrap();
        assert_eq!(
            reg.attachment(Driver::Xen, 5, 0).unwrap().unwrap().state,
            AttachmentState::Active
        );
        assert_eq!(reg.generation().unwrap(), g + 1);
        reg.set_state(Driver::Xen, 5, 0, AttachmentState::Active)
            .unwrap();
        assert_eq!(reg.generation().unwrap(), g + 1);
        let err = reg
            .set_state(Driver::Xen, 5, 1, AttachmentState::Stopped)
            .unwrap_err();
        assert!(matches!(
            err,
            RegistryError::UnknownAttachment {
                driver: Driver::Xen,
                domid: 5,
                devid: 1
            }
        ));
        assert_eq!(
            err.to_string(),
            "No NIC attachment for Xen domain 5 device 1 in the registry"
        );
    }

    #[test]
    fn remove_attachment() {
        let (_dir, reg) = registry();
        reg.record(&attachment(5, 0, "br0")).unwrap();
        reg.record(&attachment(5, 1, "br0")).unwrap();
        let g = reg.generation().unwrap();
        assert_eq!(
            reg.remove_attachment(Driver::Xen, 5, 0).unwrap(),
            Some(attachment(5, 0, "br0"))
        );
        assert_eq!(reg.remove_attachment(Driver::Xen, 5, 0).unwrap(), None);
        assert_eq!(reg.generation().unwrap(), g + 1);
        assert_eq!(reg.attachments().unwrap(), [attachment(5, 1, "br0")]);
    }

    #[test]
    fn remove_if_unchanged_keeps_a_record_rewritten_meanwhile() {
        let (_dir, reg) = registry();
        let mut old = attachment(5, 0, "br0");
        old.boot_id = Some("6b0e2f6c-92a5-4d8e-9a0e-1c2b3d4e5f60".parse().unwrap());
        reg.record(&old).unwrap();
        assert_eq!(
            reg.attachment(Driver::Xen, 5, 0).unwrap(),
            Some(old.clone())
        );
        // Its guest recorded it again, in this boot: a reader's stale copy is not it.
        let now = attachment(5, 0, "br0");
        reg.record(&now).unwrap();
        let g = reg.generation().unwrap();
        assert!(!reg.remove_if_unchanged(&old).unwrap());
        assert_eq!(reg.generation().unwrap(), g);
        assert!(reg.remove_if_unchanged(&now).unwrap());
        assert_eq!(reg.attachments().unwrap(), []);
        assert_eq!(reg.generation().unwrap(), g + 1);
        assert!(!reg.remove_if_unchanged(&now).unwrap());
    }

    #[test]
    fn remove_domain_by_id_name_and_uuid() {
        let (_dir, reg) = registry();
        let uuid: DomainUuid = "4dea22b3-1d52-d8f3-2516-782e98ab3fa0".parse().unwrap();
        for domid in [5, 6, 7] {
            for devid in [0, 1] {
                let mut a = attachment(domid, devid, "br0");
                if domid == 7 {
                    a.domain_uuid = Some(uuid);
                }
                reg.record(&a).unwrap();
            }
        }
        let removed = reg.remove_domain(Driver::Xen, &DomainKey::Id(5)).unwrap();
        assert_eq!(removed, [attachment(5, 0, "br0"), attachment(5, 1, "br0")]);
        let name = DomainKey::Name(DomainName::new("dom6").unwrap());
        assert_eq!(reg.remove_domain(Driver::Xen, &name).unwrap().len(), 2);
        assert_eq!(
            reg.domain_attachments(Driver::Xen, &DomainKey::Uuid(uuid))
                .unwrap()
                .len(),
            2
        );
        let removed = reg
            .remove_domain(Driver::Xen, &DomainKey::Uuid(uuid))
            .unwrap();
        assert_eq!(
            removed
                .iter()
                .map(|a| (a.domid, a.devid))
                .collect::<Vec<_>>(),
            [(7, 0), (7, 1)]
        );
        let g = reg.generation().unwrap();
        assert_eq!(
            reg.remove_domain(Driver::Xen, &DomainKey::Id(5)).unwrap(),
            []
        );
        assert_eq!(reg.generation().unwrap(), g);
        assert_eq!(reg.attachments().unwrap(), []);
    }

    #[test]
    fn replace_domain_resyncs_in_one_step() {
        let (_dir, reg) = registry();
        for devid in 0..3 {
            reg.record(&attachment(5, devid, "br0")).unwrap();
        }
        reg.record(&attachment(6, 0, "br0")).unwrap();
        // Devices 0 and 1 swap MACs, device 2 is gone, device 3 is new.
        let mut d0 = attachment(5, 0, "br0");
        d0.mac = mac_of(5, 1);
        let mut d1 = attachment(5, 1, "br1");
        d1.mac = mac_of(5, 0);
        let d3 = attachment(5, 3, "br0");
        let g = reg.generation().unwrap();
        let stale = reg
            .replace_domain(Driver::Xen, 5, &[d3.clone(), d1.clone(), d0.clone()])
            .unwrap();
        assert_eq!(stale, [attachment(5, 2, "br0")]);
        assert_eq!(reg.generation().unwrap(), g + 1);
        assert_eq!(
            reg.attachments().unwrap(),
            [d0.clone(), d1.clone(), d3.clone(), attachment(6, 0, "br0")]
        );
        // The same set again changes nothing.
        assert_eq!(
            reg.replace_domain(Driver::Xen, 5, &[d0, d1, d3]).unwrap(),
            []
        );
        assert_eq!(reg.generation().unwrap(), g + 1);
        // An empty set drops the domain.
        assert_eq!(reg.replace_domain(Driver::Xen, 5, &[]).unwrap().len(), 3);
        assert_eq!(reg.attachments().unwrap(), [attachment(6, 0, "br0")]);
    }

    #[test]
    fn replace_domain_errors_change_nothing() {
        let (_dir, reg) = registry();
        reg.record(&attachment(5, 0, "br0")).unwrap();
        reg.record(&attachment(6, 0, "br0")).unwrap();
        let before = reg.attachments().unwrap();
        let g = reg.generation().unwrap();

        let err = reg
            .replace_domain(
                Driver::Xen,
                5,
                &[attachment(5, 1, "br0"), attachment(6, 1, "br0")],
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Replacing Xen domain 5's NIC attachments: Xen domain \"dom6\" (id 6) device 1 belongs \
             to another domain"
        );
        let err = reg
            .replace_domain(
                Driver::Xen,
                5,
                &[attachment(5, 1, "br0"), attachment(5, 1, "br1")],
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Replacing Xen domain 5's NIC attachments: device 1 is given twice"
        );
        // A clash with another domain, found after the domain's rows were deleted inside
        // the transaction: rolled back.
        let mut clash = attachment(5, 1, "br0");
        clash.mac = mac_of(6, 0);
        let err = reg
            .replace_domain(Driver::Xen, 5, &[attachment(5, 2, "br0"), clash])
            .unwrap_err();
        assert!(matches!(err, RegistryError::MacClash { .. }), "{err:?}");
        let err = reg
            .replace_domain(Driver::Xen, 5, &[attachment(5, 2, "nobridge")])
            .unwrap_err();
        assert!(matches!(err, RegistryError::UnknownBridge(_)), "{err:?}");
        assert_eq!(reg.attachments().unwrap(), before);
        assert_eq!(reg.generation().unwrap(), g);
    }
}
