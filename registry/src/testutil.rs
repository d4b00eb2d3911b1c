//! Fixtures shared by the registry's tests and the suite every backend runs
//! ([`suite`](crate::suite)).

#![allow(missing_docs)]

use std::path::PathBuf;

use tempfile::TempDir;
use translator::{IfName, MacAddr};

use crate::{Attachment, Bridge, BridgeKind, DomainName, SqliteRegistry};

/// A fresh directory and a database path inside it.
pub fn temp_db() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.db");
    (dir, path)
}

/// A registry on a fresh database.
pub fn temp_registry() -> (TempDir, SqliteRegistry) {
    let (dir, path) = temp_db();
    (dir, SqliteRegistry::open(path).unwrap())
}

/// An interface name known to be valid.
pub fn ifname(s: &str) -> IfName {
    IfName::new(s).unwrap()
}

/// A Linux bridge with every default.
pub fn bridge(name: &str) -> Bridge {
    Bridge::new(ifname(name), BridgeKind::Linux)
}

/// The MAC the fixtures give domain `domid` device `devid`.
pub fn mac_of(domid: u32, devid: u32) -> MacAddr {
    let [_, _, d1, d0] = domid.to_be_bytes();
    let [_, _, n1, n0] = devid.to_be_bytes();
    MacAddr::new([0x02, d1, d0, 0x00, n1, n0]).unwrap()
}

/// Domain `dom{domid}`'s NIC `devid` on `bridge` with Xen's names, an emulated twin,
/// and the fixtures' MAC.
pub fn attachment(domid: u32, devid: u32, bridge: &str) -> Attachment {
    Attachment::xen(
        DomainName::new(format!("dom{domid}")).unwrap(),
        domid,
        devid,
        mac_of(domid, devid),
        ifname(bridge),
        true,
    )
    .unwrap()
}
