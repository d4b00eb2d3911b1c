//! Host networking: what makes a guest NIC's network real on the host.
//!
//! - [`netlink`]: Linux bridges, ports, uplink VLAN devices, bridge-port VLANs (Xen's
//!   `vlan=`) and tc rate limits over rtnetlink, without `ip`/`tc` processes; every
//!   operation is idempotent and undoes its own partial work when a later step fails.
//!   Kernel features a host lacks are reported as such
//!   ([`netlink::NetlinkError::is_unsupported`]).
//! - [`ovs`]: Open vSwitch bridges and ports (tag, trunks, Xen's external-ids) through
//!   `ovs-vsctl`, each change one OVSDB transaction.
//! - [`nat`]: vifkit's own nftables table (`table ip vifkit`) for masquerading NAT guests.
//! - [`plumbing`]: one place that makes a registered bridge real (Linux or Open vSwitch).
//! - [`stale`]: which NIC records are of guests that are gone, and dropping them.

pub mod nat;
pub mod netlink;
pub mod ovs;
pub mod plumbing;
pub mod stale;
