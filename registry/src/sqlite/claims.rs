//! Bridge claims in the SQLite registry: which guests are about to use which bridges
//! (between libvirt's `prepare` and the records `started` writes), so that vifkit never
//! removes a bridge as unused under a guest that is starting on it. A claim is keyed by
//! the guest's driver and name.

use rusqlite::{params, Connection};
use translator::IfName;

use super::SqliteRegistry;
use crate::{DomainName, Driver, ModelError, RegistryError};

impl SqliteRegistry {
    /// Replaces the claims of `driver`'s guest `domain` with the registered ones of
    /// `bridges`.
    pub(super) fn claim_in(
        &self,
        conn: &Connection,
        driver: Driver,
        domain: &DomainName,
        bridges: &[IfName],
    ) -> Result<(), RegistryError> {
        let op = "claiming bridges";
        self.release_in(conn, driver, domain)?;
        for b in bridges {
            conn.execute(
                "INSERT OR IGNORE INTO bridge_claims (driver, domain, bridge)
                 SELECT ?1, ?2, name FROM bridges WHERE name = ?3",
                params![driver.as_str(), domain.as_str(), b.as_str()],
            )
            .map_err(self.err(op))?;
        }
        Ok(())
    }

    /// Drops the claims of `driver`'s guest `domain`.
    pub(super) fn release_in(
        &self,
        conn: &Connection,
        driver: Driver,
        domain: &DomainName,
    ) -> Result<(), RegistryError> {
        conn.execute(
            "DELETE FROM bridge_claims WHERE driver = ?1 AND domain = ?2",
            params![driver.as_str(), domain.as_str()],
        )
        .map_err(self.err("releasing bridge claims"))?;
        Ok(())
    }

    /// The guests claiming `bridge`, by driver then name.
    pub(super) fn claims_in(
        &self,
        conn: &Connection,
        bridge: &IfName,
    ) -> Result<Vec<(Driver, DomainName)>, RegistryError> {
        let op = "reading bridge claims";
        let mut stmt = conn
            .prepare_cached(
                "SELECT driver, domain FROM bridge_claims WHERE bridge = ?1 \
                 ORDER BY driver = 'qemu', domain",
            )
            .map_err(self.err(op))?;
        let rows = stmt
            .query_map([bridge.as_str()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(self.err(op))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err(op))?;
        rows.into_iter()
            .map(|(driver, name)| {
                let parsed = || -> Result<_, ModelError> {
                    Ok((driver.parse::<Driver>()?, DomainName::new(name.clone())?))
                };
                parsed().map_err(|source| RegistryError::BadRow {
                    path: self.path.clone(),
                    table: "bridge_claims",
                    key: format!("{driver} {name}"),
                    source: Box::new(source),
                })
            })
            .collect()
    }
}
