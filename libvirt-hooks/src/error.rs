//! Why a hook failed: [`HookError`], whose every message names the guest (or network)
//! and, for a NIC, its index and bridge.

use hostnet::netlink::NetlinkError;
use hostnet::plumbing::EnsureError;
use registry::{ModelError, Owner, RegistryError};
use translator::to_vif::InterfaceError;
use translator::{IfName, MacAddr};

use crate::domain::DomainError;
use crate::lock::LockError;

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
    /// The host-wide bridge lock could not be taken: the hook does not go on without it.
    #[error("{object}: bridge lock")]
    Lock {
        /// `Guest NAME`.
        object: String,
        /// Why.
        #[source]
        source: LockError,
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

pub(crate) fn registry_err(guest: &str) -> impl Fn(RegistryError) -> HookError + '_ {
    move |source| HookError::Registry {
        object: format!("Guest {guest}"),
        source: Box::new(source),
    }
}

pub(crate) fn netlink_err(object: &str) -> impl Fn(NetlinkError) -> HookError + '_ {
    move |source| HookError::Netlink {
        object: format!("Guest {object}"),
        source: Box::new(source),
    }
}
