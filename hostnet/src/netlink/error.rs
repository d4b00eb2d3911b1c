//! [`NetlinkError`]: what went wrong, on which device, during which operation.

use std::io;

use translator::ifname::IfNameError;
use translator::IfName;

/// Which role a missing device was expected to play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A bridge.
    Bridge,
    /// A port to attach to or detach from a bridge.
    Port,
    /// The uplink under an 802.1Q VLAN device.
    Uplink,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Bridge => "bridge",
            Role::Port => "port",
            Role::Uplink => "uplink",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kernel's extended-ack text, formatted as a suffix: ` (kernel: ...)` or nothing.
fn kernel_says(detail: &Option<String>) -> String {
    match detail {
        Some(d) => format!(" (kernel: {d})"),
        None => String::new(),
    }
}

/// An error from the netlink plumbing. Every variant names the device concerned; kernel
/// refusals keep the errno as their [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetlinkError {
    /// The netlink socket or its runtime could not be set up.
    #[error("Cannot open a netlink connection")]
    Connect(#[source] io::Error),

    /// A `/proc/sys` setting could not be read or written.
    #[error("Cannot set {path}")]
    Sysctl {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: io::Error,
    },

    /// The kernel refused a request.
    #[error("Cannot {op} {device}{}", kernel_says(detail))]
    Kernel {
        /// What was being done, e.g. `set the MTU of`.
        op: &'static str,
        /// The device (or `device/qdisc`) concerned.
        device: String,
        /// The kernel's extended-ack message, when it sent one.
        detail: Option<String>,
        /// The errno.
        #[source]
        source: io::Error,
    },

    /// The running kernel lacks a feature the request needs (`EOPNOTSUPP`, an unknown
    /// link kind, a tc action module that cannot be loaded). Callers and tests skip or
    /// report these; see [`NetlinkError::is_unsupported`].
    #[error(
        "Cannot {op} {device}: the running kernel lacks {feature}{}",
        kernel_says(detail)
    )]
    Unsupported {
        /// What was being done.
        op: &'static str,
        /// The device concerned.
        device: String,
        /// The missing kernel feature, e.g. `802.1Q VLAN devices`.
        feature: &'static str,
        /// The kernel's extended-ack message, when it sent one.
        detail: Option<String>,
        /// The errno.
        #[source]
        source: io::Error,
    },

    /// The kernel did not answer in time.
    #[error("Timed out after {secs} s waiting for the kernel to {op} {device}")]
    Timeout {
        /// What was being done.
        op: &'static str,
        /// The device concerned.
        device: String,
        /// The time limit in seconds.
        secs: u64,
    },

    /// The netlink connection went away, or answered with something unexpected.
    #[error("Netlink connection failed while trying to {op} {device}: {what}")]
    Protocol {
        /// What was being done.
        op: &'static str,
        /// The device concerned.
        device: String,
        /// What was wrong.
        what: String,
    },

    /// A device that must exist does not.
    #[error("The {role} {name} does not exist")]
    NoDevice {
        /// What the device was needed as.
        role: Role,
        /// Its name.
        name: IfName,
    },

    /// A device exists under the bridge's name but is not a bridge.
    #[error("{name} exists but is {}, not a bridge", describe_kind(kind))]
    NotABridge {
        /// The name.
        name: IfName,
        /// Its link kind (`veth`, `vlan`, ...), if it has one.
        kind: Option<String>,
    },

    /// A bridge to delete still has ports.
    #[error("Bridge {bridge} still has ports ({}); detach them first", ports.join(", "))]
    BridgeInUse {
        /// The bridge.
        bridge: IfName,
        /// Its ports' names.
        ports: Vec<String>,
    },

    /// A device is asked to be its own bridge port.
    #[error("{name} cannot be a port of itself")]
    SelfPort {
        /// The name given as both port and bridge.
        name: IfName,
    },

    /// A port expected on a bridge is not on one.
    #[error("{port} is not a bridge port")]
    NotAPort {
        /// The port.
        port: IfName,
    },

    /// Per-port VLANs were asked for on a bridge that does not filter VLANs, where
    /// they would silently not isolate anything.
    #[error("Bridge {bridge} does not filter VLANs; ensure it with `vlan_filtering` first")]
    VlanFilteringOff {
        /// The bridge.
        bridge: IfName,
    },

    /// A device with the VLAN device's name exists but is something else.
    #[error("{name} exists but is not VLAN {id} on {uplink}")]
    VlanMismatch {
        /// The VLAN device's name.
        name: IfName,
        /// The VLAN id wanted.
        id: u16,
        /// The uplink wanted.
        uplink: IfName,
    },

    /// A derived interface name (`UPLINK.VLAN`) is not a valid interface name.
    #[error("Cannot name the VLAN device {name}")]
    BadName {
        /// The name that was built.
        name: String,
        /// Why it is refused.
        #[source]
        source: IfNameError,
    },

    /// An argument is out of range (MTU 0, VLAN id 4095, a zero rate, ...).
    #[error("Invalid {what}: {why}")]
    Invalid {
        /// What was invalid.
        what: &'static str,
        /// Why.
        why: String,
    },

    /// The port's root qdisc was set up by someone else; vifkit does not replace it.
    #[error("{device} has a {kind} root qdisc that vifkit did not create; remove it first")]
    ForeignQdisc {
        /// The device.
        device: IfName,
        /// The qdisc kind found.
        kind: String,
    },

    /// A multi-step change failed, and undoing its finished steps failed too: the
    /// device may be left half-configured.
    #[error("Undoing a failed change left {device} half-configured: {undo}")]
    RollbackFailed {
        /// The device concerned.
        device: String,
        /// The error of the undo step.
        undo: Box<NetlinkError>,
        /// The original failure.
        #[source]
        source: Box<NetlinkError>,
    },
}

fn describe_kind(kind: &Option<String>) -> String {
    match kind {
        Some(k) => format!("a {k} device"),
        None => "a device without a link kind".to_owned(),
    }
}

impl NetlinkError {
    /// Whether the running kernel lacks the feature the request needed (as opposed to
    /// refusing it). Tests skip on this; callers report it.
    pub fn is_unsupported(&self) -> bool {
        match self {
            NetlinkError::Unsupported { .. } => true,
            NetlinkError::RollbackFailed { source, .. } => source.is_unsupported(),
            _ => false,
        }
    }

    /// The kernel's errno, when the kernel refused the request.
    pub fn errno(&self) -> Option<i32> {
        match self {
            NetlinkError::Kernel { source, .. } | NetlinkError::Unsupported { source, .. } => {
                source.raw_os_error()
            }
            NetlinkError::RollbackFailed { source, .. } => source.errno(),
            _ => None,
        }
    }

    /// Turns a kernel refusal with `errno` (besides `EOPNOTSUPP`, which is already
    /// [`NetlinkError::Unsupported`]) into [`NetlinkError::Unsupported`] for `feature`,
    /// and names the feature of an existing `Unsupported`.
    pub(crate) fn unsupported_if(self, errnos: &[i32], feature: &'static str) -> NetlinkError {
        match self {
            NetlinkError::Kernel {
                op,
                device,
                detail,
                source,
            } if source.raw_os_error().is_some_and(|e| errnos.contains(&e)) => {
                NetlinkError::Unsupported {
                    op,
                    device,
                    feature,
                    detail,
                    source,
                }
            }
            NetlinkError::Unsupported {
                op,
                device,
                detail,
                source,
                ..
            } => NetlinkError::Unsupported {
                op,
                device,
                feature,
                detail,
                source,
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    fn kernel(errno: i32) -> NetlinkError {
        NetlinkError::Kernel {
            op: "create bridge",
            device: "br0".into(),
            detail: Some("Unknown device type".into()),
            source: io::Error::from_raw_os_error(errno),
        }
    }

    #[test]
    fn messages_name_the_device_and_keep_the_errno_as_source() {
        let e = kernel(libc::EEXIST);
        assert_eq!(
            e.to_string(),
            "Cannot create bridge br0 (kernel: Unknown device type)"
        );
        assert_eq!(e.errno(), Some(libc::EEXIST));
        let src = e.source().expect("source");
        assert_eq!(
            src.to_string(),
            io::Error::from_raw_os_error(libc::EEXIST).to_string()
        );
        assert!(!e.is_unsupported());
    }

    #[test]
    fn unsupported_if_reclassifies_only_the_listed_errnos() {
        let e = kernel(libc::ENOENT).unsupported_if(&[libc::ENOENT], "the tc police action");
        assert!(e.is_unsupported());
        assert_eq!(e.errno(), Some(libc::ENOENT));
        assert!(e.to_string().contains("lacks the tc police action"), "{e}");
        let e = kernel(libc::EINVAL).unsupported_if(&[libc::ENOENT], "x");
        assert!(!e.is_unsupported());
    }

    #[test]
    fn rollback_failure_reports_both() {
        let e = NetlinkError::RollbackFailed {
            device: "vif5.2".into(),
            undo: Box::new(kernel(libc::ENODEV)),
            source: Box::new(kernel(libc::EINVAL)),
        };
        assert!(e
            .to_string()
            .starts_with("Undoing a failed change left vif5.2"));
        assert_eq!(e.errno(), Some(libc::EINVAL));
    }

    #[test]
    fn not_a_bridge_names_the_kind() {
        let e = NetlinkError::NotABridge {
            name: IfName::new("br0").unwrap(),
            kind: Some("veth".into()),
        };
        assert_eq!(
            e.to_string(),
            "br0 exists but is a veth device, not a bridge"
        );
    }
}
