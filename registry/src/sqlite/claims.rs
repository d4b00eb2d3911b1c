//! Bridge claims in the SQLite registry: which guests are about to use which bridges
//! (between libvirt's `prepare` and the records `started` writes), so that vifkit never
//! removes a bridge as unused under a guest that is starting on it.

use rusqlite::{params, Connection};
use translator::IfName;

use super::SqliteRegistry;
use crate::{DomainName, RegistryError};

impl SqliteRegistry {
    /// Replaces `domain`'s claims with the registered ones of `bridges`.
    pub(super) fn claim_in(
        &self,
        conn: &Connection,
        domain: &DomainName,
        bridges: &[IfName],
    ) -> Result<(), RegistryError> {
        let op = "claiming bridges";
        conn.execute(
            "DELETE FROM bridge_claims WHERE domain = ?1",
            [domain.as_str()],
        )
        .map_err(self.err(op))?;
        for b in bridges {
            conn.execute(
                "INSERT OR IGNORE INTO bridge_claims (domain, bridge)
                 SELECT ?1, name FROM bridges WHERE name = ?2",
                params![domain.as_str(), b.as_str()],
            )
            .map_err(self.err(op))?;
        }
        Ok(())
    }

    /// Drops `domain`'s claims.
    pub(super) fn release_in(
        &self,
        conn: &Connection,
        domain: &DomainName,
    ) -> Result<(), RegistryError> {
        conn.execute(
            "DELETE FROM bridge_claims WHERE domain = ?1",
            [domain.as_str()],
        )
        .map_err(self.err("releasing bridge claims"))?;
        Ok(())
    }

    /// The guests claiming `bridge`, by name.
    pub(super) fn claims_in(
        &self,
        conn: &Connection,
        bridge: &IfName,
    ) -> Result<Vec<DomainName>, RegistryError> {
        let op = "reading bridge claims";
        let mut stmt = conn
            .prepare_cached("SELECT domain FROM bridge_claims WHERE bridge = ?1 ORDER BY domain")
            .map_err(self.err(op))?;
        let names = stmt
            .query_map([bridge.as_str()], |r| r.get::<_, String>(0))
            .map_err(self.err(op))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err(op))?;
        names
            .into_iter()
            .map(|n| {
                DomainName::new(n.clone()).map_err(|source| RegistryError::BadRow {
                    path: self.path.clone(),
                    table: "bridge_claims",
                    key: n,
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

    #[test]
    fn claims_are_per_guest_and_only_on_registered_bridges() {
        let (_dir, reg) = temp_registry();
        reg.add_bridge(&bridge("br0")).unwrap();
        reg.add_bridge(&bridge("br1")).unwrap();
        let g0 = reg.generation().unwrap();
        reg.claim_bridges(
            &dom("alice"),
            &[ifname("br0"), ifname("br1"), ifname("nope")],
        )
        .unwrap();
        reg.claim_bridges(&dom("bob"), &[ifname("br0")]).unwrap();
        assert_eq!(
            reg.bridge_claims(&ifname("br0")).unwrap(),
            [dom("alice"), dom("bob")]
        );
        assert_eq!(reg.bridge_claims(&ifname("br1")).unwrap(), [dom("alice")]);
        assert!(reg.bridge_claims(&ifname("nope")).unwrap().is_empty());
        // A new claim replaces the guest's old ones.
        reg.claim_bridges(&dom("alice"), &[ifname("br0")]).unwrap();
        assert!(reg.bridge_claims(&ifname("br1")).unwrap().is_empty());
        reg.release_claims(&dom("alice")).unwrap();
        assert_eq!(reg.bridge_claims(&ifname("br0")).unwrap(), [dom("bob")]);
        // Claims are no change a watcher hears of.
        assert_eq!(reg.generation().unwrap(), g0);
        // Unregistering a bridge drops its claims.
        reg.remove_bridge(&ifname("br0")).unwrap();
        assert!(reg.bridge_claims(&ifname("br0")).unwrap().is_empty());
    }

    #[test]
    fn a_domains_records_release_its_claims() {
        let (_dir, reg) = temp_registry();
        reg.add_bridge(&bridge("br0")).unwrap();
        let nic = attachment(5, 0, "br0");
        reg.claim_bridges(&nic.domain_name, &[ifname("br0")])
            .unwrap();
        reg.claim_bridges(&dom("other"), &[ifname("br0")]).unwrap();
        reg.replace_domain(5, std::slice::from_ref(&nic)).unwrap();
        assert_eq!(reg.bridge_claims(&ifname("br0")).unwrap(), [dom("other")]);
    }
}
