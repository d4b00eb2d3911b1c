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
    /// [`crate::check_replacement`]) and returns the old ones whose device ids are gone.
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
