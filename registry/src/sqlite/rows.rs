//! Reading stored rows back into records: every row is validated on the way out, so a
//! row edited by hand or written by another program gives a clear
//! [`RegistryError::BadRow`] naming the table and the row, not a wrong answer.

use std::path::Path;

use rusqlite::Row;

use crate::model::{parse_if_name, parse_mac, parse_vlan_spec};
use crate::{
    Attachment, AttachmentState, BootId, Bridge, DomainKey, DomainName, DomainUuid, Driver,
    GuestName, ModelError, Mtu, NicModelName, Owner, RegistryError, VlanId,
};

/// The `bridges` columns [`BridgeRow::read`] reads, in order.
pub(super) const BRIDGE_COLUMNS: &str = "name, kind, uplink, vlan, mtu, stp, creatable";

/// The `attachments` columns [`AttachmentRow::read`] reads, in order.
pub(super) const ATTACHMENT_COLUMNS: &str = "driver, domid, devid, domain_name, domain_uuid, \
                                             backend, emulated, mac, bridge, vlan, guest_name, \
                                             state, boot_id, model";

/// The order attachments are listed in: Xen's first, then by domain id and device id.
pub(super) const ATTACHMENT_ORDER: &str = "ORDER BY driver = 'qemu', domid, devid";

/// `(SQL filter on ?1 and ?2, ?2)` picking the rows of a domain of `driver` (`?1`).
pub(super) fn domain_filter(domain: &DomainKey) -> (&'static str, rusqlite::types::Value) {
    use rusqlite::types::Value;
    match domain {
        DomainKey::Id(id) => (
            "WHERE driver = ?1 AND domid = ?2",
            Value::Integer(i64::from(*id)),
        ),
        DomainKey::Name(n) => (
            "WHERE driver = ?1 AND domain_name = ?2",
            Value::Text(n.as_str().to_owned()),
        ),
        DomainKey::Uuid(u) => (
            "WHERE driver = ?1 AND domain_uuid = ?2",
            Value::Text(u.to_string()),
        ),
    }
}

/// The key a row is named by in errors: `xen domain 5 device 1`.
fn row_key(driver: &str, domid: i64, devid: i64) -> String {
    format!("{driver} domain {domid} device {devid}")
}

pub(super) fn owner_from_row(
    path: &Path,
    driver: String,
    name: String,
    domid: i64,
    devid: i64,
) -> Result<Owner, RegistryError> {
    let key = row_key(&driver, domid, devid);
    let bad = |source| RegistryError::BadRow {
        path: path.to_owned(),
        table: "attachments",
        key: key.clone(),
        source: Box::new(source),
    };
    Ok(Owner {
        driver: driver.parse::<Driver>().map_err(bad)?,
        domain_name: DomainName::new(name).map_err(bad)?,
        domid: int(domid, "domain id").map_err(bad)?,
        devid: int(devid, "device id").map_err(bad)?,
    })
}

pub(super) fn int<T: TryFrom<i64>>(value: i64, field: &'static str) -> Result<T, ModelError> {
    T::try_from(value).map_err(|_| ModelError::OutOfRange { field, value })
}

fn flag(value: i64, field: &'static str) -> Result<bool, ModelError> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(ModelError::OutOfRange { field, value }),
    }
}

/// A `bridges` row as stored, before validation.
pub(super) struct BridgeRow {
    name: String,
    kind: String,
    uplink: Option<String>,
    vlan: Option<i64>,
    mtu: Option<i64>,
    stp: i64,
    creatable: i64,
}

impl BridgeRow {
    pub(super) fn read(r: &Row<'_>) -> rusqlite::Result<BridgeRow> {
        Ok(BridgeRow {
            name: r.get(0)?,
            kind: r.get(1)?,
            uplink: r.get(2)?,
            vlan: r.get(3)?,
            mtu: r.get(4)?,
            stp: r.get(5)?,
            creatable: r.get(6)?,
        })
    }

    pub(super) fn into_bridge(self, path: &Path) -> Result<Bridge, RegistryError> {
        let key = self.name.clone();
        self.parse().map_err(|source| RegistryError::BadRow {
            path: path.to_owned(),
            table: "bridges",
            key,
            source: Box::new(source),
        })
    }

    fn parse(self) -> Result<Bridge, ModelError> {
        let bridge = Bridge {
            name: parse_if_name("bridge name", &self.name)?,
            kind: self.kind.parse()?,
            uplink: self
                .uplink
                .map(|u| parse_if_name("uplink", &u))
                .transpose()?,
            vlan: self.vlan.map(VlanId::try_from).transpose()?,
            mtu: self.mtu.map(Mtu::try_from).transpose()?,
            stp: flag(self.stp, "STP flag")?,
            creatable: flag(self.creatable, "creatable flag")?,
        };
        bridge.validate()?;
        Ok(bridge)
    }
}

/// An `attachments` row as stored, before validation.
pub(super) struct AttachmentRow {
    driver: String,
    domid: i64,
    devid: i64,
    domain_name: String,
    domain_uuid: Option<String>,
    backend: String,
    emulated: Option<String>,
    mac: String,
    bridge: String,
    vlan: Option<String>,
    guest_name: Option<String>,
    state: String,
    boot_id: Option<String>,
    model: Option<String>,
}

impl AttachmentRow {
    pub(super) fn read(r: &Row<'_>) -> rusqlite::Result<AttachmentRow> {
        Ok(AttachmentRow {
            driver: r.get(0)?,
            domid: r.get(1)?,
            devid: r.get(2)?,
            domain_name: r.get(3)?,
            domain_uuid: r.get(4)?,
            backend: r.get(5)?,
            emulated: r.get(6)?,
            mac: r.get(7)?,
            bridge: r.get(8)?,
            vlan: r.get(9)?,
            guest_name: r.get(10)?,
            state: r.get(11)?,
            boot_id: r.get(12)?,
            model: r.get(13)?,
        })
    }

    pub(super) fn into_attachment(self, path: &Path) -> Result<Attachment, RegistryError> {
        let key = row_key(&self.driver, self.domid, self.devid);
        self.parse().map_err(|source| RegistryError::BadRow {
            path: path.to_owned(),
            table: "attachments",
            key,
            source: Box::new(source),
        })
    }

    fn parse(self) -> Result<Attachment, ModelError> {
        let a = Attachment {
            driver: self.driver.parse::<Driver>()?,
            domain_name: DomainName::new(self.domain_name)?,
            domain_uuid: self
                .domain_uuid
                .map(|u| u.parse::<DomainUuid>())
                .transpose()?,
            domid: int(self.domid, "domain id")?,
            devid: int(self.devid, "device id")?,
            backend: parse_if_name("backend device", &self.backend)?,
            emulated: self
                .emulated
                .map(|e| parse_if_name("emulated device", &e))
                .transpose()?,
            mac: parse_mac("MAC", &self.mac)?,
            bridge: parse_if_name("bridge", &self.bridge)?,
            vlan: self
                .vlan
                .map(|v| parse_vlan_spec("VLAN set", &v))
                .transpose()?,
            guest_name: self.guest_name.map(GuestName::new).transpose()?,
            model: self.model.map(NicModelName::new).transpose()?,
            state: self.state.parse::<AttachmentState>()?,
            boot_id: self.boot_id.map(|b| b.parse::<BootId>()).transpose()?,
        };
        a.validate()?;
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use rusqlite::Connection;
    use translator::ifname::IfNameError;
    use translator::mac::MacError;

    use super::*;
    use crate::testutil::{attachment, bridge, ifname, temp_registry};
    use crate::{Recorded, Registry};

    /// Edits the database behind the registry's back.
    fn tamper(path: &Path, sql: &str) {
        Connection::open(path).unwrap().execute_batch(sql).unwrap();
    }

    #[test]
    fn a_corrupt_attachment_is_named() {
        let (_dir, reg) = temp_registry();
        reg.add_bridge(&bridge("br0")).unwrap();
        reg.record(&attachment(5, 0, "br0")).unwrap();
        reg.record(&attachment(5, 1, "br0")).unwrap();
        tamper(
            reg.path(),
            "UPDATE attachments SET mac = 'ff:ff:ff:ff:ff:ff' WHERE devid = 1",
        );
        let err = reg.attachments().unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Registry {}: attachments row xen domain 5 device 1 is corrupt",
                reg.path().display()
            )
        );
        let cause = err.source().unwrap();
        assert_eq!(cause.to_string(), "Invalid MAC \"ff:ff:ff:ff:ff:ff\"");
        assert_eq!(
            cause.source().unwrap().to_string(),
            MacError::Multicast.to_string()
        );
        // The good row still reads.
        assert_eq!(
            reg.attachment(Driver::Xen, 5, 0).unwrap(),
            Some(attachment(5, 0, "br0"))
        );
        // Recording the NIC again repairs the row.
        assert_eq!(
            reg.record(&attachment(5, 1, "br0")).unwrap(),
            Recorded::Updated
        );
        assert_eq!(reg.attachments().unwrap().len(), 2);
    }

    #[test]
    fn every_attachment_column_is_checked() {
        type Check = fn(&ModelError) -> bool;
        let cases: [(&str, Check); 11] = [
            ("boot_id = 'x'", |e| matches!(e, ModelError::BootId(_))),
            ("model = 'e1000,x'", |e| {
                matches!(e, ModelError::NicModel { .. })
            }),
            ("domain_name = ''", |e| {
                matches!(e, ModelError::DomainName { .. })
            }),
            ("domain_uuid = 'nope'", |e| matches!(e, ModelError::Uuid(_))),
            ("backend = 'a b'", |e| {
                matches!(
                    e,
                    ModelError::IfName {
                        field: "backend device",
                        ..
                    }
                )
            }),
            ("emulated = 'tap5.0'", |e| {
                matches!(e, ModelError::EmulatedName { .. })
            }),
            ("mac = 'x'", |e| {
                matches!(
                    e,
                    ModelError::Mac {
                        source: MacError::Syntax,
                        ..
                    }
                )
            }),
            ("bridge = ''", |e| {
                matches!(
                    e,
                    ModelError::IfName {
                        field: "bridge",
                        source: IfNameError::Empty,
                        ..
                    }
                )
            }),
            ("vlan = '10/20'", |e| matches!(e, ModelError::Vlan { .. })),
            ("guest_name = ' eth0'", |e| {
                matches!(e, ModelError::GuestName { .. })
            }),
            ("backend = 'vif6.0', emulated = NULL", |e| {
                matches!(e, ModelError::BackendOfOther { .. })
            }),
        ];
        for (set, check) in cases {
            let (_dir, reg) = temp_registry();
            reg.add_bridge(&bridge("br0")).unwrap();
            reg.record(&attachment(5, 0, "br0")).unwrap();
            tamper(
                reg.path(),
                &format!("PRAGMA foreign_keys = OFF; UPDATE attachments SET {set}"),
            );
            match reg.attachment(Driver::Xen, 5, 0).unwrap_err() {
                RegistryError::BadRow {
                    table: "attachments",
                    key,
                    source,
                    ..
                } => {
                    assert_eq!(key, "xen domain 5 device 0");
                    assert!(check(&source), "{set}: {source:?}");
                }
                other => panic!("{set}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_corrupt_bridge_is_named_and_can_be_rewritten() {
        let (_dir, reg) = temp_registry();
        reg.add_bridge(&bridge("br0")).unwrap();
        tamper(reg.path(), "UPDATE bridges SET uplink = 'a/b'");
        let err = reg.bridges().unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "Registry {}: bridges row br0 is corrupt",
                reg.path().display()
            )
        );
        assert_eq!(err.source().unwrap().to_string(), "Invalid uplink \"a/b\"");
        assert!(matches!(
            reg.bridge(&ifname("br0")).unwrap_err(),
            RegistryError::BadRow {
                table: "bridges",
                ..
            }
        ));
        reg.update_bridge(&bridge("br0")).unwrap();
        assert_eq!(reg.bridges().unwrap(), [bridge("br0")]);

        tamper(reg.path(), "UPDATE bridges SET kind = 'ovs', name = 'x y'");
        let err = reg.bridges().unwrap_err();
        assert!(
            matches!(&err, RegistryError::BadRow { key, .. } if key == "x y"),
            "{err:?}"
        );
    }

    #[test]
    fn integers_and_flags_are_range_checked() {
        assert_eq!(int::<u32>(5, "domain id").unwrap(), 5);
        assert_eq!(
            int::<u32>(-1, "domain id").unwrap_err(),
            ModelError::OutOfRange {
                field: "domain id",
                value: -1
            }
        );
        assert_eq!(
            int::<u32>(1 << 40, "device id").unwrap_err().to_string(),
            "Invalid device id 1099511627776: out of range"
        );
        assert!(!flag(0, "STP flag").unwrap());
        assert!(flag(1, "STP flag").unwrap());
        assert_eq!(
            flag(2, "STP flag").unwrap_err().to_string(),
            "Invalid STP flag 2: out of range"
        );
    }
}
