//! What a hook works on: the registry, the kernel (opened on first use) and the log.

use std::cell::OnceCell;
use std::path::Path;

use hostnet::netlink::{Netlink, NetlinkError};
use hostnet::ovs::Ovs;
use registry::Registry;

use crate::log::Log;

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
    /// Open vSwitch (asked only about bridges the kernel does not show as Linux
    /// bridges).
    pub ovs: &'a Ovs,
    /// Where actions are reported.
    pub log: &'a dyn Log,
    /// libvirt's state directory of active networks, [`NETWORK_STATE_DIR`] (one
    /// `NAME.xml` per active network): a bridge an active network uses is never removed.
    pub network_state: &'a Path,
}

/// Where the system libvirt (`libvirtd` or `virtnetworkd`) keeps the state of each active
/// network, `NAME.xml`, written when the network starts and removed when it stops.
pub const NETWORK_STATE_DIR: &str = "/run/libvirt/network";

/// What the hook prints on stdout: only the filters (`migrate`, `restore`) print, and
/// only a changed domain XML.
pub type Output = Option<String>;
