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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{attachment, bridge, ifname, temp_registry};
    use crate::Registry;

    fn dom(n: &str) -> DomainName {
        DomainName::new(n).unwrap()
    }

    fn xen(n: &str) -> (Driver, DomainName) {
        (Driver::Xen, dom(n))
    }

    #[test]
    fn claims_are_per_guest_and_only_on_registered_bridges() {
        let (_dir, reg) = temp_registry();
        reg.add_bridge(&bridge("br0")).unwrap();
        reg.add_bridge(&bridge("br1")).unwrap();
        let g0 = reg.generation().unwrap();
        reg.claim_bridges(
            Driver::Xen,
            &dom("alice"),
            &[ifname("br0"), ifname("br1"), ifname("nope")],
        )
        .unwrap();
        reg.claim_bridges(Driver::Xen, &dom("bob"), &[ifname("br0")])
            .unwrap();
        assert_eq!(
            reg.bridge_claims(&ifname("br0")).unwrap(),
            [xen("alice"), xen("bob")]
        );
        assert_eq!(reg.bridge_claims(&ifname("br1")).unwrap(), [xen("alice")]);
        assert!(reg.bridge_claims(&ifname("nope")).unwrap().is_empty());
        // A new claim replaces the guest's old ones.
        reg.claim_bridges(Driver::Xen, &dom("alice"), &[ifname("br0")])
            .unwrap();
        assert!(reg.bridge_claims(&ifname("br1")).unwrap().is_empty());
        reg.release_claims(Driver::Xen, &dom("alice")).unwrap();
        assert_eq!(reg.bridge_claims(&ifname("br0")).unwrap(), [xen("bob")]);
        // Claims are no change a watcher hears of.
        assert_eq!(reg.generation().unwrap(), g0);
        // Unregistering a bridge drops its claims.
        reg.remove_bridge(&ifname("br0")).unwrap();
        assert!(reg.bridge_claims(&ifname("br0")).unwrap().is_empty());
    }

    #[test]
    fn a_qemu_guest_never_touches_the_claims_of_the_xen_guest_of_its_name() {
        let (_dir, reg) = temp_registry();
        reg.add_bridge(&bridge("br0")).unwrap();
        reg.add_bridge(&bridge("br1")).unwrap();
        reg.claim_bridges(Driver::Xen, &dom("twin"), &[ifname("br0")])
            .unwrap();
        reg.claim_bridges(Driver::Qemu, &dom("twin"), &[ifname("br1")])
            .unwrap();
        assert_eq!(reg.bridge_claims(&ifname("br0")).unwrap(), [xen("twin")]);
        assert_eq!(
            reg.bridge_claims(&ifname("br1")).unwrap(),
            [(Driver::Qemu, dom("twin"))]
        );
        // Both on one bridge: two claims, QEMU's listed after Xen's.
        reg.claim_bridges(Driver::Qemu, &dom("twin"), &[ifname("br0")])
            .unwrap();
        assert_eq!(
            reg.bridge_claims(&ifname("br0")).unwrap(),
            [xen("twin"), (Driver::Qemu, dom("twin"))]
        );
        reg.release_claims(Driver::Qemu, &dom("twin")).unwrap();
        assert_eq!(reg.bridge_claims(&ifname("br0")).unwrap(), [xen("twin")]);
    }

    #[test]
    fn a_domains_records_release_its_claims() {
        let (_dir, reg) = temp_registry();
        reg.add_bridge(&bridge("br0")).unwrap();
        let nic = attachment(5, 0, "br0");
        reg.claim_bridges(Driver::Xen, &nic.domain_name, &[ifname("br0")])
            .unwrap();
        reg.claim_bridges(Driver::Xen, &dom("other"), &[ifname("br0")])
            .unwrap();
        // The QEMU guest of the same name keeps its claim.
        reg.claim_bridges(Driver::Qemu, &nic.domain_name, &[ifname("br0")])
            .unwrap();
        reg.replace_domain(Driver::Xen, 5, std::slice::from_ref(&nic))
            .unwrap();
        assert_eq!(
            reg.bridge_claims(&ifname("br0")).unwrap(),
            [xen("other"), (Driver::Qemu, nic.domain_name.clone())]
        );
    }
}
