//! libvirt hooks: what `vifkit` does when libvirt runs it as
//! `/etc/libvirt/hooks/{libxl,qemu,network}` (or from `{libxl,qemu,network}.d/`).
//!
//! - Guest hooks ([`Driver::Libxl`], [`Driver::Qemu`]): `prepare` checks every
//!   `<interface>` and makes sure each bridge exists (creating registered, creatable
//!   ones; a failing `prepare` removes what it created); `started` records every NIC
//!   in the registry and applies what libvirt does not (per-port VLANs on Linux
//!   bridges; for libxl the inbound rate limit); `stopped`/`release` drop the guest's
//!   records and remove bridges vifkit created once nothing uses them; `reconnect`
//!   re-syncs the records; `migrate`/`restore` are filters on the domain XML.
//! - The network hook ([`Driver::Network`]): `start`/`stopped` of a network forwarding
//!   to a host bridge (`<forward mode='bridge'/>`) ensure and release that bridge as the
//!   registry says; `port-created`/`port-deleted` check and drop the NIC of a port.
//! - Hot-plugged NICs ([`hotplug`]), which no hook reports: `vifkit serve --libvirt URI`
//!   follows libvirt's device and lifecycle events and records, refuses or drops them.
//!
//! A hook never calls back into libvirt (that would deadlock libvirtd) and never waits
//! on the D-Bus service: the registry is shared through its SQLite file. A record of
//! another guest in the way (its MAC, its device) is dropped when it is stale: written
//! in another boot, or with none of its devices on the host (the `stale` module). Everything
//! the hook does is logged, one line per action ([`Log`]).

mod domain;
mod error;
mod filter;
mod guest;
mod host;
pub mod hotplug;
mod lock;
mod log;
mod network;
#[cfg(test)]
mod network_tests;
mod plan;
mod prepare;
mod request;
mod stale;
mod teardown;
#[cfg(test)]
mod tests;

pub use domain::{Bandwidth, Domain, DomainError, DomainNic};
pub use error::HookError;
pub use filter::filter_domain;
pub use host::{Host, LazyNetlink, Output, NETWORK_STATE_DIR};
pub use lock::{Holder, LockError, LOCK_DIR, LOCK_TIMEOUT};
pub use log::{Level, Log, MemoryLog, SystemLog};
pub use network::HookData;
pub use plan::{plan_nics, NicKind, NicPlan};
pub use request::{ArgsError, Driver, Op, Request};

/// Runs one hook invocation: `input` is what libvirt wrote on stdin.
pub fn run(host: &Host<'_>, req: &Request, input: &str) -> Result<Output, HookError> {
    host.log.debug(&format!("hook {req}"));
    match req.driver {
        Driver::Network => network::run(host, req, input).map(|()| None),
        Driver::Libxl | Driver::Qemu => guest::run(host, req, input),
    }
}
