//! `vifkit vif-script`: the xl vif hotplug script.

use hostnet::netlink::Netlink;
use hostnet::ovs::Ovs;
use hostnet::syslog::{Fallback, Level, Log, SystemLog};
use hotplug::xenstore::{CommandStore, DirStore, XenStore};
use hotplug::{Action, Host, IfType, Request};

use crate::config::{Overrides, ProcessEnv};
use crate::report::{chain, Failure};
use translator::diag::one_line;

/// Environment variable naming a directory of key files to use instead of xenstore.
pub const XENSTORE_DIR_ENV: &str = "VIFKIT_XENSTORE_DIR";
/// The identity the hotplug script logs under.
pub const IDENT: &str = "vifkit-hotplug";

/// Runs one hotplug request from xl's arguments and environment. The outcome is also
/// written to xenstore (`hotplug-status`), which is what xl reads, and one line to the
/// system log (identity `vifkit-hotplug`; where there is no syslog socket, the errors
/// and warnings on stderr are all there is).
pub fn run(over: &Overrides<'_>, args: &[String]) -> Result<String, Failure> {
    let syslog = SystemLog::open(IDENT, false, Fallback::Drop);
    let invalid = |e: &dyn std::error::Error| {
        let line = chain(e);
        syslog.log(Level::Error, &line);
        Failure::Invalid(vec![line])
    };
    let req = Request::from_env(args, &|k| std::env::var(k).ok()).map_err(|e| invalid(&e))?;
    let store: Box<dyn XenStore> = match std::env::var_os(XENSTORE_DIR_ENV) {
        Some(dir) => Box::new(DirStore::new(dir)),
        None => Box::new(CommandStore),
    };
    let fail = |msg: String| -> Failure {
        let line = format!("{}: {}: {msg}", req.device, hotplug::command(&req));
        syslog.log(Level::Error, &line);
        if req.if_type == IfType::Vif && req.action == Action::Up {
            // As hotplug::run reports a failure; the error on stderr is what matters.
            let key = |k: &str| format!("{}/{k}", req.xenbus_path);
            let _ = store.write(&key("hotplug-error"), &msg);
            let _ = store.write(&key("hotplug-status"), "error");
        }
        Failure::Invalid(vec![format!("{}: {msg}", req.device)])
    };
    let config = crate::config::load(over, &ProcessEnv).map_err(fail)?;
    let nl = Netlink::new().map_err(|e| invalid(&e))?;
    let ovs = Ovs::new();
    // The registry only matters for bridges registered as creatable; a host without one
    // works as Xen's scripts do. One that is there but cannot be opened is an error: the
    // NIC is not wired without its MAC checked and recorded.
    let registry = crate::bridge_cmd::open_existing(&config).map_err(|e| fail(format!("{e:#}")))?;
    // xl keeps what a hotplug script writes on stderr in its log.
    let log = |line: &str| {
        use std::io::Write as _;
        syslog.log(Level::Warning, &format!("{}: {line}", req.device));
        let _ = writeln!(
            std::io::stderr(),
            "warning: {}: {}",
            req.device,
            one_line(line)
        );
    };
    let hooks = config.xen_scripts_dir.join("vif-post.d");
    let host = Host {
        nl: &nl,
        ovs: &ovs,
        registry: registry.as_deref(),
        log: &log,
        hooks: Some(&hooks),
    };
    match hotplug::run(store.as_ref(), &host, &req) {
        Ok(done) => {
            syslog.info(&done);
            Ok(String::new())
        }
        Err(e) => {
            let msg = chain(&e);
            syslog.log(
                Level::Error,
                &format!("{}: {} failed: {msg}", req.device, hotplug::command(&req)),
            );
            Err(Failure::Invalid(vec![format!("{}: {msg}", req.device)]))
        }
    }
}
