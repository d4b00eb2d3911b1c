//! Where a hook reports what it did: one short line per action to syslog (journald
//! reads it too), or to stderr where there is no syslog socket.

use std::ffi::CString;
use std::io::Write;
use std::sync::Mutex;

/// How important a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Tracing, shown only with `--verbose`.
    Debug,
    /// One line per action taken.
    Info,
    /// Something went wrong but the hook carried on (or libvirt only logs it).
    Warning,
    /// The hook failed.
    Error,
}

/// Receives the hook's log lines.
pub trait Log {
    /// Logs one line.
    fn log(&self, level: Level, msg: &str);

    /// Logs an action.
    fn info(&self, msg: &str) {
        self.log(Level::Info, msg);
    }

    /// Logs tracing detail.
    fn debug(&self, msg: &str) {
        self.log(Level::Debug, msg);
    }

    /// Logs a problem the hook carried on after.
    fn warn(&self, msg: &str) {
        self.log(Level::Warning, msg);
    }
}

/// Where syslog listens.
const SYSLOG_SOCKET: &str = "/dev/log";

/// syslog(3) under the identity `vifkit-hook`, facility daemon; stderr when
/// `/dev/log` does not exist. Lines below `min` are dropped.
#[derive(Debug)]
pub struct SystemLog {
    min: Level,
    syslog: bool,
}

/// The identity syslog shows; openlog(3) keeps the pointer, so it lives forever.
static IDENT: &std::ffi::CStr = c"vifkit-hook";

impl SystemLog {
    /// Opens syslog if there is one. `verbose` keeps debug lines.
    pub fn open(verbose: bool) -> SystemLog {
        let syslog = std::path::Path::new(SYSLOG_SOCKET).exists();
        if syslog {
            // SAFETY: IDENT is a NUL-terminated static string that outlives every
            // later syslog call; the option and facility are plain flags.
            unsafe { libc::openlog(IDENT.as_ptr(), libc::LOG_PID, libc::LOG_DAEMON) };
        }
        SystemLog {
            min: if verbose { Level::Debug } else { Level::Info },
            syslog,
        }
    }

    /// Whether lines go to syslog (else to stderr).
    pub fn is_syslog(&self) -> bool {
        self.syslog
    }
}

impl Log for SystemLog {
    fn log(&self, level: Level, msg: &str) {
        if level < self.min {
            return;
        }
        // Values in a message (guest, bridge, device names) are untrusted: one line,
        // escaped and bounded, whatever they hold.
        let msg = &translator::diag::one_line(msg);
        if self.syslog {
            let prio = match level {
                Level::Debug => libc::LOG_DEBUG,
                Level::Info => libc::LOG_INFO,
                Level::Warning => libc::LOG_WARNING,
                Level::Error => libc::LOG_ERR,
            };
            // A message with a NUL in it is cut there.
            let text = msg.split('\0').next().unwrap_or("");
            if let Ok(c) = CString::new(text) {
                // SAFETY: both strings are NUL-terminated and live across the call;
                // the format takes exactly one string argument.
                unsafe { libc::syslog(prio, c"%s".as_ptr(), c.as_ptr()) };
            }
        } else {
            let tag = match level {
                Level::Debug => "debug",
                Level::Info => "info",
                Level::Warning => "warning",
                Level::Error => "error",
            };
            let _ = writeln!(std::io::stderr().lock(), "vifkit-hook: {tag}: {msg}");
        }
    }
}

/// Keeps every line in memory (for tests and callers that print them later).
#[derive(Debug, Default)]
pub struct MemoryLog {
    lines: Mutex<Vec<(Level, String)>>,
}

impl MemoryLog {
    /// The lines so far.
    pub fn lines(&self) -> Vec<(Level, String)> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The lines so far at `level` or above, text only.
    pub fn texts(&self, level: Level) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|(l, _)| *l >= level)
            .map(|(_, t)| t)
            .collect()
    }
}

impl Log for MemoryLog {
    fn log(&self, level: Level, msg: &str) {
        if let Ok(mut l) = self.lines.lock() {
            l.push((level, msg.to_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_log_keeps_levels() {
        let m = MemoryLog::default();
        m.debug("a");
        m.info("b");
        m.warn("c");
        assert_eq!(m.texts(Level::Info), ["b", "c"]);
        assert_eq!(m.lines().len(), 3);
    }
}
