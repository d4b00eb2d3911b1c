//! `vifkit vif-script`: the xl vif hotplug script.

use std::path::Path;

use hostnet::netlink::Netlink;
use hostnet::ovs::Ovs;
use hotplug::xenstore::{CommandStore, DirStore, XenStore};
use hotplug::{Host, Request};
use registry::Registry;

use crate::report::{chain, Failure};

/// Environment variable naming a directory of key files to use instead of xenstore.
pub const XENSTORE_DIR_ENV: &str = "VIFKIT_XENSTORE_DIR";

/// Runs one hotplug request from xl's arguments and environment. The outcome is also
/// written to xenstore (`hotplug-status`), which is what xl reads.
pub fn run(db: Option<&Path>, args: &[String]) -> Result<String, Failure> {
    let invalid = |e: &dyn std::error::Error| Failure::Invalid(vec![chain(e)]);
    let req = Request::from_env(args, &|k| std::env::var(k).ok()).map_err(|e| invalid(&e))?;
    let store: Box<dyn XenStore> = match std::env::var_os(XENSTORE_DIR_ENV) {
        Some(dir) => Box::new(DirStore::new(dir)),
        None => Box::new(CommandStore),
    };
    let nl = Netlink::new().map_err(|e| invalid(&e))?;
    let ovs = Ovs::new();
    // The registry only matters for bridges registered as creatable; a host without one
    // works as Xen's scripts do.
    let registry = crate::bridge_cmd::open_existing(db)?;
    let host = Host {
        nl: &nl,
        ovs: &ovs,
        registry: registry.as_ref().map(|r| r as &dyn Registry),
    };
    hotplug::run(store.as_ref(), &host, &req)
        .map_err(|e| Failure::Invalid(vec![format!("{}: {}", req.device, chain(&e))]))?;
    Ok(String::new())
}
