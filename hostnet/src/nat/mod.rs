//! Masquerading for NAT guests (Xen's `vif-nat` with `network-nat`), in an nftables
//! table vifkit owns: `table ip vifkit`, one `postrouting` chain of type `nat`, one rule
//! per guest address, each tagged with a comment naming its vif.
//!
//! How: by running `nft -f -` (Debian's `nftables` package) with a script built only
//! from typed, validated values (an [`Ipv4Addr`], and interface names checked against a
//! narrow character set), and reading the table back with `nft -j`. Why not nf_tables
//! netlink directly: the wire format of rules (expressions, registers, set-less
//! payload matches, userdata comments, batch begin/end) is large and no crate in the
//! workspace speaks it; `nft -f` gives the same guarantee that matters here, one kernel
//! transaction per change (the whole script applies, or nothing does), at the cost of
//! about one process start per operation.
//!
//! Ownership: a rule's comment is `vifkit vif=DEV src=ADDR out=OUT` (`OUT` a device or
//! `*`), so removing a vif's rules removes exactly the rules whose `vif=` is that
//! vif's, and the table goes when its last rule goes. Every change holds an advisory
//! lock (`flock`), so that listing the table and changing it are not interleaved with
//! another hotplug run's (as Xen's scripts `claim_lock "iptables"`).

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use translator::IfName;

use crate::netlink::Change;

/// The nftables table vifkit owns (family `ip`).
pub const TABLE: &str = "vifkit";
/// Its NAT chain, hooked at postrouting.
pub const CHAIN: &str = "postrouting";
/// Where the lock lives unless told otherwise.
pub const DEFAULT_LOCK: &str = "/run/lock/vifkit-nat.lock";

/// Why an nftables operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NftError {
    /// A name that cannot go into an nftables rule as it is.
    #[error(
        "Device name `{0}` cannot be used in an nftables rule (letters, digits, `.`, `_`, \
         `-`, `@`, `+` only)"
    )]
    Name(String),
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

/// One masquerade rule: traffic from `source` leaving dom0 (through `out`, or through
/// any device but the vif itself) gets dom0's address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Masquerade {
    /// The guest's vif (the owner of the rule).
    pub vif: IfName,
    /// The guest's address.
    pub source: Ipv4Addr,
    /// The device the traffic leaves through (`netdev`), or none for any but the vif.
    pub out: Option<IfName>,
}

/// Checks that a name can be written into an nftables script without quoting issues.
fn nft_name(name: &IfName) -> Result<&str, NftError> {
    let s = name.as_str();
    let ok = |b: u8| b.is_ascii_alphanumeric() || b"._-@+".contains(&b);
    if s.bytes().all(ok) {
        Ok(s)
    } else {
        Err(NftError::Name(s.to_owned()))
    }
}

impl Masquerade {
    /// The rule's comment, which also records what the rule is.
    pub fn comment(&self) -> Result<String, NftError> {
        let out = match &self.out {
            Some(o) => nft_name(o)?,
            None => "*",
        };
        Ok(format!(
            "vifkit vif={} src={} out={out}",
            nft_name(&self.vif)?,
            self.source
        ))
    }

    /// Reads a rule back from its comment; `None` for a comment vifkit did not write.
    pub fn from_comment(comment: &str) -> Option<Masquerade> {
        let rest = comment.strip_prefix("vifkit ")?;
        let mut words = rest.split(' ');
        let vif = IfName::new(words.next()?.strip_prefix("vif=")?).ok()?;
        let source = words.next()?.strip_prefix("src=")?.parse().ok()?;
        let out = match words.next()?.strip_prefix("out=")? {
            "*" => None,
            o => Some(IfName::new(o).ok()?),
        };
        words
            .next()
            .is_none()
            .then_some(Masquerade { vif, source, out })
    }

    /// The `add rule` line.
    fn add_line(&self) -> Result<String, NftError> {
        let vif = nft_name(&self.vif)?;
        let out = match &self.out {
            Some(o) => format!("oifname \"{}\"", nft_name(o)?),
            None => format!("oifname != \"{vif}\""),
        };
        Ok(format!(
            "add rule ip {TABLE} {CHAIN} ip saddr {} {out} counter masquerade comment \"{}\"\n",
            self.source,
            self.comment()?
        ))
    }
}

/// A rule of vifkit's chain as nft lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedRule {
    /// Its handle.
    pub handle: u64,
    /// What it is, when vifkit wrote it.
    pub rule: Option<Masquerade>,
    /// Packets its counter saw.
    pub packets: u64,
}

/// vifkit's table as it stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Whether the table exists.
    pub table: bool,
    /// Every chain in it.
    pub chains: Vec<String>,
    /// The rules of its NAT chain.
    pub rules: Vec<ListedRule>,
}

/// The `nft` program and the lock that serialises changes.
#[derive(Debug, Clone)]
pub struct Nft {
    program: String,
    lock: PathBuf,
}

/// An `flock`ed file, unlocked when dropped (closing the descriptor releases it).
struct Locked(#[allow(dead_code)] std::fs::File);

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

    fn lock(&self) -> Result<Locked, NftError> {
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
    fn run(
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

    /// vifkit's table, its chains and the rules of its NAT chain.
    pub fn list(&self) -> Result<Listing, NftError> {
        let out = match self.run(
            "list vifkit's table",
            &["-j", "list", "table", "ip", TABLE],
            None,
        ) {
            Ok(out) => out,
            Err(e) => {
                // A missing table is an empty listing; anything else is the error.
                let tables = self.run("list the tables", &["-j", "list", "tables", "ip"], None)?;
                let has = parse(&tables)?.iter().any(|o| {
                    o.get("table")
                        .and_then(|t| t.get("name"))
                        .and_then(|n| n.as_str())
                        == Some(TABLE)
                });
                return if has { Err(e) } else { Ok(Listing::default()) };
            }
        };
        let mut listing = Listing {
            table: true,
            ..Listing::default()
        };
        for o in parse(&out)? {
            if let Some(c) = o.get("chain") {
                if let Some(name) = c.get("name").and_then(|n| n.as_str()) {
                    listing.chains.push(name.to_owned());
                }
            }
            let Some(r) = o.get("rule") else { continue };
            if r.get("chain").and_then(|c| c.as_str()) != Some(CHAIN) {
                continue;
            }
            let packets = r
                .get("expr")
                .and_then(|e| e.as_array())
                .into_iter()
                .flatten()
                .find_map(|e| e.get("counter")?.get("packets")?.as_u64())
                .unwrap_or(0);
            listing.rules.push(ListedRule {
                handle: r.get("handle").and_then(|h| h.as_u64()).unwrap_or(0),
                rule: r
                    .get("comment")
                    .and_then(|c| c.as_str())
                    .and_then(Masquerade::from_comment),
                packets,
            });
        }
        Ok(listing)
    }

    /// Makes `vif`'s rules exactly `rules` (those of them naming `vif`), in one transaction:
    /// [`Change::Unchanged`] when they already are, [`Change::Created`] when `vif` had
    /// none, [`Change::Updated`] when stale ones were replaced.
    pub fn ensure_masquerade(
        &self,
        vif: &IfName,
        rules: &[Masquerade],
    ) -> Result<Change, NftError> {
        nft_name(vif)?;
        let mut want: Vec<Masquerade> = rules.iter().filter(|r| &r.vif == vif).cloned().collect();
        want.sort();
        want.dedup();
        if want.is_empty() {
            return self.remove_masquerade(vif);
        }
        let mut script = format!(
            "table ip {TABLE} {{\n\tchain {CHAIN} {{\n\t\ttype nat hook postrouting \
             priority 100; policy accept;\n\t}}\n}}\n"
        );
        let mut adds = String::new();
        for r in &want {
            adds.push_str(&r.add_line()?);
        }
        let _lock = self.lock()?;
        let listing = self.list()?;
        let mine: Vec<&ListedRule> = listing
            .rules
            .iter()
            .filter(|l| l.rule.as_ref().is_some_and(|m| &m.vif == vif))
            .collect();
        let mut have: Vec<Masquerade> = mine.iter().filter_map(|l| l.rule.clone()).collect();
        have.sort();
        if have == want {
            return Ok(Change::Unchanged);
        }
        for l in &mine {
            let _ = writeln!(script, "delete rule ip {TABLE} {CHAIN} handle {}", l.handle);
        }
        script.push_str(&adds);
        self.run("add the masquerade rules", &["-f", "-"], Some(&script))?;
        Ok(if mine.is_empty() {
            Change::Created
        } else {
            Change::Updated
        })
    }

    /// Removes `vif`'s rules (and the table, when no rule is left), in one transaction;
    /// [`Change::Unchanged`] when it had none.
    pub fn remove_masquerade(&self, vif: &IfName) -> Result<Change, NftError> {
        let _lock = self.lock()?;
        let listing = self.list()?;
        let (mine, others): (Vec<&ListedRule>, Vec<&ListedRule>) = listing
            .rules
            .iter()
            .partition(|l| l.rule.as_ref().is_some_and(|m| &m.vif == vif));
        if mine.is_empty() {
            return Ok(Change::Unchanged);
        }
        // Under the lock the listing is current: with no other rule and no other chain,
        // the table itself goes.
        let mut script = String::new();
        if others.is_empty() && listing.chains.iter().all(|c| c == CHAIN) {
            let _ = writeln!(script, "delete table ip {TABLE}");
        } else {
            for l in &mine {
                let _ = writeln!(script, "delete rule ip {TABLE} {CHAIN} handle {}", l.handle);
            }
        }
        self.run("remove the masquerade rules", &["-f", "-"], Some(&script))?;
        Ok(Change::Removed)
    }
}

fn parse(out: &str) -> Result<Vec<serde_json::Value>, NftError> {
    let v: serde_json::Value = serde_json::from_str(out).map_err(NftError::Output)?;
    Ok(v.get("nftables")
        .and_then(|a| a.as_array())
        .cloned()
        .unwrap_or_default())
}

/// Whether IPv4 forwarding is on in the calling thread's network namespace.
pub fn ip_forward() -> Result<bool, crate::netlink::NetlinkError> {
    let path = "/proc/sys/net/ipv4/ip_forward";
    std::fs::read_to_string(path)
        .map(|s| s.trim() == "1")
        .map_err(|source| crate::netlink::NetlinkError::Sysctl {
            path: path.to_owned(),
            source,
        })
}

/// Turns IPv4 forwarding on or off in the calling thread's network namespace (as
/// Xen's `network-nat` does; this sets every device's `forwarding`).
pub fn set_ip_forward(on: bool) -> Result<(), crate::netlink::NetlinkError> {
    let path = "/proc/sys/net/ipv4/ip_forward";
    std::fs::write(path, if on { "1" } else { "0" }).map_err(|source| {
        crate::netlink::NetlinkError::Sysctl {
            path: path.to_owned(),
            source,
        }
    })
}

#[cfg(test)]
mod tests;
