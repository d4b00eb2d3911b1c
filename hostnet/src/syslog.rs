//! One short line per action to the system log, for the libvirt hook (`vifkit-hook`)
//! and the xl hotplug script (`vifkit-hotplug`): an RFC 3164 datagram
//! (`<PRI>Mmm dd hh:mm:ss IDENT[PID]: MESSAGE`, facility daemon) to the syslog socket,
//! `/dev/log`, which journald and rsyslog read. Written here rather than through
//! syslog(3) so that the socket can be another one: `VIFKIT_SYSLOG_SOCKET` names it
//! (the tests bind their own). Where there is no socket, lines go to stderr, or nowhere
//! (as the caller chooses).

use std::io::Write;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::PathBuf;
use std::sync::Mutex;

/// How important a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Tracing, shown only with `--verbose`.
    Debug,
    /// One line per action taken.
    Info,
    /// Something went wrong but the program carried on (or its caller only logs it).
    Warning,
    /// The action failed.
    Error,
}

impl Level {
    /// The syslog severity.
    fn severity(self) -> u8 {
        match self {
            Level::Debug => 7,
            Level::Info => 6,
            Level::Warning => 4,
            Level::Error => 3,
        }
    }

    /// The word for stderr.
    fn word(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// Receives log lines.
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

    /// Logs a problem the program carried on after.
    fn warn(&self, msg: &str) {
        self.log(Level::Warning, msg);
    }
}

/// Where syslog listens.
pub const SYSLOG_SOCKET: &str = "/dev/log";
/// The environment variable naming another socket (for tests).
pub const SOCKET_ENV: &str = "VIFKIT_SYSLOG_SOCKET";
/// Facility daemon, as Xen's scripts (`logger -p daemon.LEVEL`) and libvirt's hooks log.
const FACILITY_DAEMON: u8 = 3;

/// Where lines go when there is no syslog socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// To stderr, as `IDENT: LEVEL: MESSAGE`.
    Stderr,
    /// Nowhere (the caller says what matters on stderr itself).
    Drop,
}

/// The system log under an identity; lines below `min` are dropped.
#[derive(Debug)]
pub struct SystemLog {
    ident: &'static str,
    min: Level,
    socket: Option<PathBuf>,
    fallback: Fallback,
}

impl SystemLog {
    /// Logs as `ident` to the socket `VIFKIT_SYSLOG_SOCKET` names, else `/dev/log`, if it
    /// exists. `verbose` keeps debug lines.
    pub fn open(ident: &'static str, verbose: bool, fallback: Fallback) -> SystemLog {
        let path = std::env::var_os(SOCKET_ENV)
            .filter(|p| !p.is_empty())
            .map_or_else(|| PathBuf::from(SYSLOG_SOCKET), PathBuf::from);
        SystemLog {
            ident,
            min: if verbose { Level::Debug } else { Level::Info },
            socket: path.exists().then_some(path),
            fallback,
        }
    }

    /// Whether lines go to a syslog socket.
    pub fn is_syslog(&self) -> bool {
        self.socket.is_some()
    }

    /// The datagram for one line.
    fn datagram(&self, level: Level, msg: &str) -> String {
        format!(
            "<{}>{} {}[{}]: {msg}",
            FACILITY_DAEMON * 8 + level.severity(),
            timestamp(),
            self.ident,
            std::process::id()
        )
    }
}

/// The local time as RFC 3164 writes it (`Dec  2 12:14:09`).
fn timestamp() -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // SAFETY: time(2) with a null pointer only returns the time.
    let now = unsafe { libc::time(std::ptr::null_mut()) };
    // SAFETY: an all-zero `tm` is a valid value of the plain C struct.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are to live locals for the duration of the call;
    // localtime_r is the thread-safe form.
    let ok = unsafe { libc::localtime_r(&now, &mut tm) };
    if ok.is_null() {
        return "Jan  1 00:00:00".to_owned();
    }
    let month = usize::try_from(tm.tm_mon)
        .ok()
        .and_then(|m| MONTHS.get(m))
        .unwrap_or(&"Jan");
    format!(
        "{month} {:>2} {:02}:{:02}:{:02}",
        tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec
    )
}

/// Sends one datagram, or (for a stream socket, as some syslog daemons use) one
/// NUL-terminated record.
fn send(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    match UnixDatagram::unbound().and_then(|s| s.send_to(text.as_bytes(), path)) {
        Ok(_) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EPROTOTYPE) => {
            let mut s = UnixStream::connect(path)?;
            s.write_all(text.as_bytes())?;
            s.write_all(b"\0")
        }
        Err(e) => Err(e),
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
        if let Some(path) = &self.socket {
            if send(path, &self.datagram(level, msg)).is_ok() {
                return;
            }
        }
        if self.fallback == Fallback::Stderr {
            let _ = writeln!(
                std::io::stderr().lock(),
                "{}: {}: {msg}",
                self.ident,
                level.word()
            );
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

    #[test]
    fn a_line_is_one_datagram_on_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let rx = UnixDatagram::bind(&path).unwrap();
        let log = SystemLog {
            ident: "vifkit-test",
            min: Level::Info,
            socket: Some(path),
            fallback: Fallback::Drop,
        };
        log.debug("not sent");
        log.warn("vif5.0: two\nlines");
        let mut buf = [0u8; 512];
        let n = rx.recv(&mut buf).unwrap();
        let got = std::str::from_utf8(&buf[..n]).unwrap();
        // daemon.warning = 3 * 8 + 4.
        assert!(got.starts_with("<28>"), "{got}");
        let rest = &got[4 + "Dec  2 12:14:09 ".len()..];
        assert_eq!(
            rest,
            format!("vifkit-test[{}]: vif5.0: two\\nlines", std::process::id())
        );
    }
}
