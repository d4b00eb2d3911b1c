//! The one way vifkit changes nftables: `nft -f -` with a script built only from typed,
//! validated values (addresses, and device names checked against a narrow character
//! set), read back with `nft -j`, every change under one advisory lock.
//!
//! Why `nft` and not nf_tables netlink directly: the wire format of rules (expressions,
//! registers, anonymous sets, userdata comments, batch begin/end) is large and no crate
//! in the workspace speaks it; `nft -f` gives the guarantee that matters here, one
//! kernel transaction per change (the whole script applies, or nothing does), at the
//! cost of about one process start per operation.
//!
//! vifkit's tables, each named `vifkit`: `table ip vifkit` masquerades NAT guests
//! ([`crate::nat`]), `table bridge vifkit` keeps bridged guests to their own addresses
//! ([`crate::guard`]). Every rule carries a comment naming its vif, so removing a vif's
//! rules removes exactly those, and a table goes with its last rule.

use std::io::Write as _;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use translator::IfName;

/// Where the lock lives unless told otherwise (one for every vifkit table, as Xen's
/// scripts `claim_lock "iptables"`).
pub const DEFAULT_LOCK: &str = "/run/lock/vifkit-nft.lock";

/// Why an nftables operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NftError {
    /// A name that cannot go into an nftables rule as it is.
    #[error(
        "Device name `{0}` cannot be used in an nftables rule (letters, digits, `.`, `_`, \
         `-`, `@`, `+` only)"
    )]
    Name(String),
    /// A guest network whose prefix is longer than its address.
    #[error("Prefix /{1} is too long for {0}")]
    Prefix(std::net::IpAddr, u8),
    /// `nft` could not be started.
    #[error("Cannot run {program} (package nftables)")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `nft` ran and refused.
    #[error("nft could not {action}: {message}")]
    Failed {
        /// What it was asked to do.
        action: &'static str,
        /// Its first line of complaint.
        message: String,
    },
    /// `nft -j` printed something that is not its JSON.
    #[error("Unexpected output from nft")]
    Output(#[source] serde_json::Error),
    /// The lock could not be taken.
    #[error("Cannot lock {path}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Checks that a name can be written into an nftables script without quoting issues.
pub(crate) fn nft_name(name: &IfName) -> Result<&str, NftError> {
    let s = name.as_str();
    let ok = |b: u8| b.is_ascii_alphanumeric() || b"._-@+".contains(&b);
    if s.bytes().all(ok) {
        Ok(s)
    } else {
        Err(NftError::Name(s.to_owned()))
    }
}

/// The `nft` program and the lock that serialises changes.
#[derive(Debug, Clone)]
pub struct Nft {
    program: String,
    pub(crate) lock: PathBuf,
}

/// An `flock`ed file, unlocked when dropped (closing the descriptor releases it).
pub(crate) struct Locked(#[allow(dead_code)] std::fs::File);

impl Nft {
    /// The system's `nft` (found on `PATH`) and the default lock.
    pub fn system() -> Nft {
        Nft::with("nft", DEFAULT_LOCK)
    }

    /// A given program and lock file.
    pub fn with(program: impl Into<String>, lock: impl Into<PathBuf>) -> Nft {
        Nft {
            program: program.into(),
            lock: lock.into(),
        }
    }

    pub(crate) fn lock(&self) -> Result<Locked, NftError> {
        let err = |source| NftError::Lock {
            path: self.lock.clone(),
            source,
        };
        if let Some(dir) = self.lock.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock)
            .map_err(err)?;
        // SAFETY: flock(2) takes a descriptor, which `f` keeps open across the call.
        let rc = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
        if rc != 0 {
            return Err(err(std::io::Error::last_os_error()));
        }
        Ok(Locked(f))
    }

    /// Runs nft with `args` (and `stdin`), returning its standard output.
    pub(crate) fn run(
        &self,
        action: &'static str,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Result<String, NftError> {
        let mut child = Command::new(&self.program)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| NftError::Spawn {
                program: self.program.clone(),
                source,
            })?;
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // A write error shows up as nft's own failure below.
            let _ = pipe.write_all(text.as_bytes());
        }
        let out = child.wait_with_output().map_err(|source| NftError::Spawn {
            program: self.program.clone(),
            source,
        })?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let message = stderr
            .lines()
            .find(|l| l.contains("Error"))
            .or_else(|| stderr.lines().find(|l| !l.trim().is_empty()))
            .map(|l| l.trim().to_owned())
            .unwrap_or_else(|| format!("exit status {}", out.status));
        Err(NftError::Failed { action, message })
    }

    /// Whether this network namespace's kernel takes nf_tables requests (`Err` says why
    /// not: no `nft`, or no nf_tables in the kernel).
    pub fn check(&self) -> Result<(), NftError> {
        self.run("list the tables", &["list", "tables"], None)
            .map(|_| ())
    }

    /// The JSON objects of table `family` `name` (`nft -j list table`), `None` when the
    /// table does not exist.
    pub(crate) fn table(
        &self,
        family: &'static str,
        name: &str,
    ) -> Result<Option<Vec<serde_json::Value>>, NftError> {
        match self.run(
            "list vifkit's table",
            &["-j", "list", "table", family, name],
            None,
        ) {
            Ok(out) => Ok(Some(parse(&out)?)),
            Err(e) => {
                // A missing table is `None`; anything else is the error.
                let tables =
                    self.run("list the tables", &["-j", "list", "tables", family], None)?;
                let has = parse(&tables)?.iter().any(|o| {
                    o.get("table")
                        .and_then(|t| t.get("name"))
                        .and_then(|n| n.as_str())
                        == Some(name)
                });
                if has {
                    Err(e)
                } else {
                    Ok(None)
                }
            }
        }
    }
}

pub(crate) fn parse(out: &str) -> Result<Vec<serde_json::Value>, NftError> {
    let v: serde_json::Value = serde_json::from_str(out).map_err(NftError::Output)?;
    Ok(v.get("nftables")
        .and_then(|a| a.as_array())
        .cloned()
        .unwrap_or_default())
}
