//! `vifkit hook DRIVER OBJECT OP SUBOP [EXTRA]`, and the same run by libvirt as
//! `/etc/libvirt/hooks/{libxl,qemu,network}` or from `{libxl,qemu,network}.d/`.
//!
//! libvirt writes the domain XML (or `<hookData>`) on stdin and reads the exit status:
//! non-zero aborts `prepare`, `start`, `started`, `migrate`, `restore` (stderr goes into
//! libvirt's error) and kills the guest at `reconnect`; at `stopped`/`release` it is
//! only logged, so there the hook logs its problems and exits 0.

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;

use libvirt_hooks::{Driver, Host, LazyNetlink, Level, Log, Request};

use translator::diag::one_line;

use crate::config::Overrides;
use crate::report::{chain, EXIT_INVALID, EXIT_OK, EXIT_USAGE};

/// When libvirt runs the binary as a hook (its name is a driver's hook, or it lives in
/// a driver's `.d` directory), runs that hook and returns its exit status; `None` when
/// the binary was run as `vifkit`.
pub fn from_program_name() -> Option<ExitCode> {
    let mut args = std::env::args_os();
    let program = args.next()?;
    let driver = Driver::from_program(Path::new(&program))?;
    let rest: Vec<String> = args.map(|a| a.to_string_lossy().into_owned()).collect();
    Some(run(&Overrides::default(), false, driver, &rest))
}

/// Runs one hook, named by the program name or by `vifkit hook DRIVER ARGS...`: reads
/// stdin, acts (opening the registry, named by the configuration file since libvirt clears
/// a hook's environment, only when a NIC needs it), logs.
pub fn run(over: &Overrides<'_>, verbose: bool, driver: Driver, args: &[String]) -> ExitCode {
    let log = libvirt_hooks::open_log(verbose);
    let req = match Request::from_args(driver, args) {
        Ok(r) => r,
        Err(e) => {
            if log.is_syslog() {
                log.log(Level::Error, &e.to_string());
            }
            let _ = writeln!(std::io::stderr(), "error: {}", one_line(&e.to_string()));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let only_logged = req.op.failure_is_only_logged();
    let fail = |lines: Vec<String>| -> ExitCode {
        let mut stderr = std::io::stderr().lock();
        for l in &lines {
            if only_logged {
                log.log(Level::Warning, &format!("{}: {l}", req.op.as_str()));
            } else {
                // libvirt puts the hook's stderr into its error message: a log on stderr
                // too (no syslog) would say it twice.
                if log.is_syslog() {
                    log.log(Level::Error, &format!("{}: {l}", req.op.as_str()));
                }
                let _ = writeln!(stderr, "error: {}", one_line(l));
            }
        }
        ExitCode::from(if only_logged { EXIT_OK } else { EXIT_INVALID })
    };
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        return fail(vec![format!(
            "{} {}: cannot read the XML on standard input: {e}",
            req.driver, req.object
        )]);
    }
    let config = match crate::config::load(over, &crate::config::ProcessEnv) {
        Ok(c) => c,
        Err(e) => return fail(vec![e]),
    };
    // Opened when a NIC needs it (SQLite: read-only until the first write; etcd:
    // connected on first use): a guest without a bridged NIC starts whatever state the
    // registry is in.
    let registry = match crate::fleet::open(&config) {
        Ok(r) => r,
        Err(e) => return fail(vec![format!("{e:#}")]),
    };
    let nl = LazyNetlink::new();
    // `ovs-vsctl`'s own defaults say which Open vSwitch database; it runs only to ask
    // about a bridge the kernel does not show as a Linux bridge.
    let ovs = hostnet::ovs::Ovs::new();
    let host = Host {
        registry: &*registry,
        nl: &nl,
        ovs: &ovs,
        log: &log,
        network_state: Path::new(libvirt_hooks::NETWORK_STATE_DIR),
    };
    match libvirt_hooks::run(&host, &req, &input) {
        Ok(None) => ExitCode::from(EXIT_OK),
        Ok(Some(xml)) => {
            let mut out = std::io::stdout().lock();
            match out.write_all(xml.as_bytes()).and_then(|()| out.flush()) {
                Ok(()) => ExitCode::from(EXIT_OK),
                Err(e) => fail(vec![format!("Cannot write the domain XML: {e}")]),
            }
        }
        Err(e) => fail(e.into_list().iter().map(|e| chain(e)).collect()),
    }
}
