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
//!
//! A hook never calls back into libvirt (that would deadlock libvirtd) and never waits
//! on the D-Bus service: the registry is shared through its SQLite file. Everything
//! the hook does is logged, one line per action ([`Log`]).

mod domain;
mod filter;
mod guest;
mod lock;
mod log;
mod network;
mod prepare;
mod request;
mod teardown;
#[cfg(test)]
mod tests;

use std::cell::OnceCell;

use translator::to_vif::InterfaceError;
use translator::{IfName, MacAddr};

use hostnet::netlink::{Netlink, NetlinkError};
use hostnet::plumbing::EnsureError;
use registry::{ModelError, Owner, Registry, RegistryError};

pub use domain::{Bandwidth, Domain, DomainError, DomainNic};
pub use filter::filter_domain;
pub use guest::{plan_nics, NicKind, NicPlan};
pub use log::{Level, Log, MemoryLog, SystemLog};
pub use network::HookData;
pub use request::{ArgsError, Driver, Op, Request};

/// A netlink connection opened on first use: most `started` runs of guests on
/// existing bridges need none, and opening one costs a runtime and a socket.
#[derive(Debug, Default)]
pub struct LazyNetlink(OnceCell<Netlink>);

impl LazyNetlink {
    /// Opens the connection (in the calling thread's network namespace) when first
    /// asked for.
    pub fn new() -> LazyNetlink {
        LazyNetlink::default()
    }

    /// Uses a connection already open.
    pub fn with(nl: Netlink) -> LazyNetlink {
        let cell = OnceCell::new();
        let _ = cell.set(nl);
        LazyNetlink(cell)
    }

    /// The connection, opened now if it is not yet.
    pub fn get(&self) -> Result<&Netlink, NetlinkError> {
        if let Some(nl) = self.0.get() {
            return Ok(nl);
        }
        let nl = Netlink::new()?;
        Ok(self.0.get_or_init(|| nl))
    }

    /// Whether the connection was opened.
    pub fn is_open(&self) -> bool {
        self.0.get().is_some()
    }
}

/// What a hook works on.
pub struct Host<'a> {
    /// The registry.
    pub registry: &'a dyn Registry,
    /// The kernel.
    pub nl: &'a LazyNetlink,
    /// Where actions are reported.
    pub log: &'a dyn Log,
}

/// Why a hook failed. Every message names the guest (or network), and for a NIC its
/// index among the domain's interfaces and the bridge.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// The XML on stdin could not be read.
    #[error("Guest {guest}")]
    Domain {
        /// The guest (from the arguments).
        guest: String,
        /// Why.
        #[source]
        source: DomainError,
    },
    /// The XML's `<name>` is not the guest the arguments name.
    #[error("Guest {guest}: the XML on stdin is for guest {found}")]
    WrongGuest {
        /// The guest the arguments name.
        guest: String,
        /// The XML's `<name>`.
        found: String,
    },
    /// An `<interface>` the translator refuses.
    #[error("Guest {guest} interface[{index}]")]
    Interface {
        /// The guest.
        guest: String,
        /// The interface's index, from 0.
        index: usize,
        /// Why.
        #[source]
        source: InterfaceError,
    },
    /// A value the registry cannot hold (domain name, UUID, device names).
    #[error("Guest {guest} interface[{index}]")]
    Model {
        /// The guest.
        guest: String,
        /// The interface's index, from 0.
        index: usize,
        /// Why.
        #[source]
        source: ModelError,
    },
    /// A bridge that is neither in the registry nor on this host.
    #[error(
        "Guest {guest} interface[{index}]: bridge {bridge} does not exist on this host and is \
         not in vifkit's registry (create it, or register it with `vifkit bridge add {bridge} \
         --creatable`)"
    )]
    NoSuchBridge {
        /// The guest.
        guest: String,
        /// The interface's index, from 0.
        index: usize,
        /// The bridge.
        bridge: IfName,
    },
    /// A device of the bridge's name that is not a bridge.
    #[error("Guest {guest} interface[{index}]: {bridge} exists on this host but is not a bridge")]
    NotABridge {
        /// The guest.
        guest: String,
        /// The interface's index, from 0.
        index: usize,
        /// The bridge.
        bridge: IfName,
    },
    /// A registered bridge that could not be made real.
    #[error("Guest {guest} interface[{index}]: bridge {bridge}")]
    Ensure {
        /// The guest.
        guest: String,
        /// The interface's index, from 0.
        index: usize,
        /// The bridge.
        bridge: IfName,
        /// Why.
        #[source]
        source: Box<EnsureError>,
    },
    /// A MAC another guest's NIC has in the registry.
    #[error("Guest {guest} interface[{index}]: MAC {mac} is already used by {owner}")]
    MacInUse {
        /// The guest.
        guest: String,
        /// The interface's index, from 0.
        index: usize,
        /// The MAC.
        mac: MacAddr,
        /// Who has it.
        owner: Owner,
    },
    /// Two interfaces of the guest with one MAC.
    #[error("Guest {guest} interface[{index}]: MAC {mac} is also interface[{first}]'s")]
    MacTwice {
        /// The guest.
        guest: String,
        /// The later interface's index.
        index: usize,
        /// The MAC.
        mac: MacAddr,
        /// The earlier interface's index.
        first: usize,
    },
    /// A kernel request for one NIC failed.
    #[error("Guest {guest} interface[{index}] on bridge {bridge}: cannot {what} on {device}")]
    Port {
        /// The guest.
        guest: String,
        /// The interface's index, from 0.
        index: usize,
        /// The bridge.
        bridge: IfName,
        /// What was being done (`set the VLANs`, `set the rate limit`).
        what: &'static str,
        /// The dom0 device.
        device: IfName,
        /// Why.
        #[source]
        source: Box<NetlinkError>,
    },
    /// Live XML without `<domain id>`, where the id is needed.
    #[error("Guest {guest}: the XML has no <domain id> (libvirt passes live XML at {op})")]
    NoId {
        /// The guest.
        guest: String,
        /// The operation.
        op: &'static str,
    },
    /// The registry failed.
    #[error("{object}: registry")]
    Registry {
        /// `Guest NAME` or `Network NAME`.
        object: String,
        /// Why.
        #[source]
        source: Box<RegistryError>,
    },
    /// Netlink failed outside one NIC's request.
    #[error("{object}: netlink")]
    Netlink {
        /// The guest or network.
        object: String,
        /// Why.
        #[source]
        source: Box<NetlinkError>,
    },
    /// A network hook problem.
    #[error("Network {network}: {what}")]
    Network {
        /// The network.
        network: String,
        /// What is wrong.
        what: String,
    },
    /// Several problems: each is one line.
    #[error("{} problems", .0.len())]
    Several(Vec<HookError>),
}

impl HookError {
    /// The problems, one each (a [`HookError::Several`] opened up).
    pub fn into_list(self) -> Vec<HookError> {
        match self {
            HookError::Several(v) => v.into_iter().flat_map(HookError::into_list).collect(),
            e => vec![e],
        }
    }

    /// One error for a list of problems (none: `Ok`).
    pub(crate) fn from_list(mut v: Vec<HookError>) -> Result<(), HookError> {
        match v.len() {
            0 => Ok(()),
            1 => Err(v.remove(0)),
            _ => Err(HookError::Several(v)),
        }
    }
}

/// What the hook prints on stdout: only the filters (`migrate`, `restore`) print, and
/// only a changed domain XML.
pub type Output = Option<String>;

/// Runs one hook invocation: `input` is what libvirt wrote on stdin.
pub fn run(host: &Host<'_>, req: &Request, input: &str) -> Result<Output, HookError> {
    host.log.debug(&format!("hook {req}"));
    match req.driver {
        Driver::Network => network::run(host, req, input).map(|()| None),
        Driver::Libxl | Driver::Qemu => guest::run(host, req, input),
    }
}
