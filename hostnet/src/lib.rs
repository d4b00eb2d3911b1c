//! Host networking: what makes a guest NIC's network real on the host.
//!
//! - [`netlink`]: Linux bridges, ports, uplink VLAN devices, bridge-port VLANs (Xen's
//!   `vlan=`) and tc rate limits over rtnetlink, without `ip`/`tc` processes; every
//!   operation is idempotent and undoes its own partial work when a later step fails.
//!   Kernel features a host lacks are reported as such
//!   ([`netlink::NetlinkError::is_unsupported`]).
//! - [`ovs`]: Open vSwitch bridges and ports (tag, trunks, Xen's external-ids) through
//!   `ovs-vsctl`, each change one OVSDB transaction.
//! - [`nft`]: the one way vifkit changes nftables (`nft -f`, validated names, one lock).
//! - [`nat`]: vifkit's own nftables table (`table ip vifkit`) for masquerading NAT guests.
//! - [`guard`]: `table bridge vifkit`, keeping a bridged guest to its `ip=` addresses.
//! - [`plumbing`]: one place that makes a registered bridge real (Linux or Open vSwitch).
//! - [`stale`]: which NIC records are of guests that are gone, and dropping them.
//! - [`syslog`]: one line per action to the system log (the hooks and the hotplug script).

pub mod guard;
pub mod nat;
pub mod netlink;
pub mod nft;
pub mod ovs;
pub mod plumbing;
pub mod stale;
pub mod syslog;
