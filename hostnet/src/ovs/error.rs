//! [`OvsError`]: what went wrong, on which bridge or port, with `ovs-vsctl`'s own words.

use std::io;
use std::process::ExitStatus;

/// Why `ovs-vsctl`'s answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not JSON: serde_json's account of where and why.
    #[error("Malformed JSON: {0}")]
    Syntax(String),
    /// JSON, but not the table or datum shape expected.
    #[error("Unexpected shape: {0}")]
    Shape(&'static str),
}

/// What `ovs-vsctl` said when it failed: its exit status and standard error.
#[derive(Debug, Clone, thiserror::Error)]
#[error("ovs-vsctl {status}: {}", stderr.trim_end())]
pub struct VsctlFailure {
    /// How `ovs-vsctl` ended.
    pub status: ExitStatus,
    /// Its standard error, as printed (lossily decoded).
    pub stderr: String,
}

/// An error from the Open vSwitch plumbing. Every variant names the bridge or port
/// concerned; a refusal by `ovs-vsctl` keeps its exit status and standard error as the
/// [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OvsError {
    /// A name `ovs-vsctl` would read as an option or a command separator (it starts
    /// with `-`). Refused before any command runs.
    #[error("Refusing {role} name {name:?}: ovs-vsctl would read a leading '-' as an option")]
    OptionLikeName {
        /// `bridge` or `port`.
        role: &'static str,
        /// The name refused.
        name: String,
    },

    /// A bridge name (from a `BRIDGE[.TAG][:TRUNK...]` value) that is not a valid
    /// interface name.
    #[error("Invalid bridge name {name:?}")]
    InvalidBridgeName {
        /// The name refused.
        name: String,
        /// Why.
        #[source]
        source: translator::ifname::IfNameError,
    },

    /// A VLAN number above 4095. Refused before any command runs.
    #[error("VLAN {vlan} for port {port} is above 4095")]
    InvalidVlan {
        /// The port concerned.
        port: String,
        /// The number refused.
        vlan: u16,
    },

    /// A value that may not be stored (a control character in an external id, or a
    /// datapath type that is not a plain word). Refused before any command runs.
    #[error("Invalid {what} for {target}: {reason}")]
    InvalidValue {
        /// What the value is, e.g. `xen-vm-name`.
        what: &'static str,
        /// The bridge or port concerned.
        target: String,
        /// Why it is refused.
        reason: &'static str,
    },

    /// `ovs-vsctl` could not be started.
    #[error("Cannot run ovs-vsctl to {op} {target}")]
    Spawn {
        /// What was being done, e.g. `add port`.
        op: &'static str,
        /// The bridge or port concerned.
        target: String,
        /// Why it could not run.
        #[source]
        source: io::Error,
    },

    /// `ovs-vsctl` ran and failed (the database refused the transaction, a bridge was
    /// missing, the server did not answer in time, ...). The transaction was not
    /// committed, so nothing changed, with one exception: when the time ran out while
    /// `ovs-vsctl` waited for `ovs-vswitchd` to apply a committed change (see
    /// [`Ovs::wait`](super::Ovs::wait)), the database already holds it. Repeating the
    /// call is safe either way.
    #[error("Cannot {op} {target}")]
    Vsctl {
        /// What was being done.
        op: &'static str,
        /// The bridge or port concerned.
        target: String,
        /// `ovs-vsctl`'s exit status and standard error.
        #[source]
        source: VsctlFailure,
    },

    /// `ovs-vsctl`'s answer could not be read.
    #[error("Cannot read ovs-vsctl's answer about {target}")]
    Parse {
        /// The bridge or port concerned.
        target: String,
        /// What was wrong with the answer.
        #[source]
        source: ParseError,
    },
}

impl OvsError {
    /// `ovs-vsctl`'s standard error, when it ran and failed.
    pub fn stderr(&self) -> Option<&str> {
        match self {
            OvsError::Vsctl { source, .. } => Some(&source.stderr),
            _ => None,
        }
    }
}
