//! `vifkit vif-script`: the xl vif hotplug script.

use hostnet::netlink::Netlink;
use hostnet::ovs::Ovs;
use hotplug::xenstore::{CommandStore, DirStore, XenStore};
use hotplug::{Action, Host, IfType, Request};

use crate::report::{chain, Failure};
use translator::diag::one_line;

/// Environment variable naming a directory of key files to use instead of xenstore.
pub const XENSTORE_DIR_ENV: &str = "VIFKIT_XENSTORE_DIR";

/// Runs one hotplug request from xl's arguments and environment. The outcome is also
/// written to xenstore (`hotplug-status`), which is what xl reads.
pub fn run(config: &crate::config::Config, args: &[String]) -> Result<String, Failure> {
    let invalid = |e: &dyn std::error::Error| Failure::Invalid(vec![chain(e)]);
    let req = Request::from_env(args, &|k| std::env::var(k).ok()).map_err(|e| invalid(&e))?;
    let store: Box<dyn XenStore> = match std::env::var_os(XENSTORE_DIR_ENV) {
        Some(dir) => Box::new(DirStore::new(dir)),
        None => Box::new(CommandStore),
    };
    let nl = Netlink::new().map_err(|e| invalid(&e))?;
    let ovs = Ovs::new();
    // The registry only matters for bridges registered as creatable; a host without one
    // works as Xen's scripts do. One that is there but cannot be opened is an error: the
    // NIC is not wired without its MAC checked and recorded.
    let registry = match crate::bridge_cmd::open_existing(config) {
        Ok(r) => r,
        Err(e) => {
            let msg = format!("{e:#}");
            if req.if_type == IfType::Vif && req.action == Action::Up {
                // As hotplug::run reports a failure; the error on stderr is what matters.
                let key = |k: &str| format!("{}/{k}", req.xenbus_path);
                let _ = store.write(&key("hotplug-error"), &msg);
                let _ = store.write(&key("hotplug-status"), "error");
            }
            return Err(Failure::Invalid(vec![format!("{}: {msg}", req.device)]));
        }
    };
    // xl keeps what a hotplug script writes on stderr in its log.
    let log = |line: &str| {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "warning: {}: {}",
            req.device,
            one_line(line)
        );
    };
    let host = Host {
        nl: &nl,
        ovs: &ovs,
        registry: registry.as_deref(),
        log: &log,
    };
    hotplug::run(store.as_ref(), &host, &req)
        .map_err(|e| Failure::Invalid(vec![format!("{}: {}", req.device, chain(&e))]))?;
    Ok(String::new())
}
