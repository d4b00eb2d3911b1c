//! Where a hook reports what it did: one short line per action to syslog under the
//! identity `vifkit-hook` (journald reads it too), or to stderr where there is no syslog
//! socket. The writer is [`hostnet::syslog`], shared with the xl hotplug script.

pub use hostnet::syslog::{Fallback, Level, Log, MemoryLog, SystemLog};

/// The identity the hooks log under.
pub const IDENT: &str = "vifkit-hook";

/// The hooks' log: syslog as `vifkit-hook`, else stderr. `verbose` keeps debug lines.
pub fn open(verbose: bool) -> SystemLog {
    SystemLog::open(IDENT, verbose, Fallback::Stderr)
}
