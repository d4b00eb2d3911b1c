//! Linux bridge plumbing over rtnetlink, with no `ip`, `brctl`, `bridge` or `tc`
//! processes: bridges ([`Netlink::ensure_bridge`]), ports ([`Netlink::attach_port`]),
//! 802.1Q uplinks and per-port VLANs ([`Netlink::ensure_uplink_vlan`],
//! [`Netlink::set_port_vlans`]) and rate limits ([`Netlink::set_rate_limit`]).
//!
//! [`Netlink`] is synchronous: it owns one `NETLINK_ROUTE` socket (the `socket` module),
//! opened in the network namespace of the thread that calls [`Netlink::new`], and sends
//! one request at a time. That suits a hotplug script, which does a handful of requests
//! and exits: no runtime, no background task.
//!
//! Every operation is idempotent: it reads the current state first and only sends what
//! differs, so a second call changes nothing and reports [`Change::Unchanged`]. An
//! operation of several steps that fails half-way undoes the steps it finished (in
//! reverse order) before returning the error, so nothing is left half-applied; if the
//! undo fails too, the error is [`NetlinkError::RollbackFailed`].
//!
//! Names reach the kernel only as [`IfName`]s (validated) or as names the kernel itself
//! reported. Where the running kernel lacks a feature (802.1Q devices, bridge VLAN
//! filtering, the tc `police` action), the error is [`NetlinkError::Unsupported`]
//! ([`NetlinkError::is_unsupported`]).

use std::time::Duration;

use netlink_packet_core::{
    NetlinkMessage, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST,
};
use netlink_packet_route::RouteNetlinkMessage;
use translator::IfName;

mod bridge;
mod error;
mod link;
mod port;
mod route;
mod socket;
mod tc;
mod tc_wire;
#[cfg(any(test, feature = "test-support"))]
pub mod testns;
mod vlan;

pub use bridge::BridgeConfig;
pub use error::{NetlinkError, Role};
pub use link::{BridgeState, LinkCounters, LinkState, VlanLinkState};
pub use port::PortMtu;
pub use route::{proxy_arp, set_proxy_arp};
pub use tc::{PortRateLimit, RateLimit, MIN_BURST};
pub use vlan::{PortVlan, PortVlans};

/// How long one request may wait for the kernel before failing.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// What an idempotent operation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The object did not exist and was created (and configured).
    Created,
    /// The object existed and at least one setting was changed.
    Updated,
    /// The object was removed.
    Removed,
    /// Everything already was as asked: nothing was sent to change it.
    Unchanged,
}

/// Request flags: create, failing if it exists.
pub(crate) const CREATE_EXCL: u16 = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
/// Request flags: create or replace.
pub(crate) const CREATE_REPLACE: u16 = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
/// Request flags: change or delete something that exists.
pub(crate) const ACK: u16 = NLM_F_REQUEST | NLM_F_ACK;
/// Request flags: dump a table.
pub(crate) const DUMP: u16 = NLM_F_REQUEST | NLM_F_DUMP;
/// Request flags: get one object.
pub(crate) const GET: u16 = NLM_F_REQUEST;

/// Wraps a payload into a netlink message with `flags`.
pub(crate) fn message(
    payload: RouteNetlinkMessage,
    flags: u16,
) -> NetlinkMessage<RouteNetlinkMessage> {
    let mut msg = NetlinkMessage::from(payload);
    msg.header.flags = flags;
    msg.finalize();
    msg
}

/// A request kept for undoing a finished step.
pub(crate) struct UndoStep {
    req: NetlinkMessage<RouteNetlinkMessage>,
    op: &'static str,
    device: String,
    /// Errnos that mean "already undone" (e.g. `ENOENT` when deleting).
    benign: &'static [i32],
}

/// The finished steps of a multi-step change, to undo in reverse if a later step fails.
#[derive(Default)]
pub(crate) struct Undo {
    steps: Vec<UndoStep>,
}

impl Undo {
    /// Records how to undo a step that just succeeded.
    pub(crate) fn push(
        &mut self,
        req: NetlinkMessage<RouteNetlinkMessage>,
        op: &'static str,
        device: impl Into<String>,
        benign: &'static [i32],
    ) {
        self.steps.push(UndoStep {
            req,
            op,
            device: device.into(),
            benign,
        });
    }

    /// Whether any step was recorded.
    pub(crate) fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

/// A netlink connection to the kernel's routing subsystem, with its own small runtime.
///
/// All methods block the calling thread, each request for at most the timeout
/// ([`DEFAULT_TIMEOUT`], [`Netlink::with_timeout`]). The connection stays in the
/// network namespace the creating thread was in, whatever that thread does later.
/// Several processes or threads may work on the same devices at once: each operation
/// re-reads the kernel's state and treats "already exists" as success.
pub struct Netlink {
    transport: socket::Transport,
    timeout: Duration,
    #[cfg(test)]
    failpoint: std::sync::Mutex<Option<&'static str>>,
}

impl std::fmt::Debug for Netlink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Netlink")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Netlink {
    /// Opens a connection in the calling thread's network namespace.
    pub fn new() -> Result<Netlink, NetlinkError> {
        let transport = socket::Transport::open(DEFAULT_TIMEOUT).map_err(NetlinkError::Connect)?;
        Ok(Netlink {
            transport,
            timeout: DEFAULT_TIMEOUT,
            #[cfg(test)]
            failpoint: std::sync::Mutex::new(None),
        })
    }

    /// Sets how long each request may wait for the kernel ([`DEFAULT_TIMEOUT`] unless
    /// set).
    pub fn with_timeout(mut self, timeout: Duration) -> Netlink {
        // A socket that cannot take the option keeps the timeout it had.
        if self.transport.set_timeout(timeout).is_ok() {
            self.timeout = timeout;
        }
        self
    }

    /// Sends one request and collects the messages of its reply. `EOPNOTSUPP` becomes
    /// [`NetlinkError::Unsupported`]; other refusals [`NetlinkError::Kernel`].
    pub(crate) fn call(
        &self,
        req: NetlinkMessage<RouteNetlinkMessage>,
        op: &'static str,
        device: &str,
    ) -> Result<Vec<RouteNetlinkMessage>, NetlinkError> {
        match self.transport.request(req) {
            Err(socket::TransportError::Timeout) => Err(NetlinkError::Timeout {
                op,
                device: device.to_owned(),
                secs: self.timeout.as_secs(),
            }),
            Err(socket::TransportError::Protocol(what)) => Err(NetlinkError::Protocol {
                op,
                device: device.to_owned(),
                what,
            }),
            Ok(Ok(out)) => Ok(out),
            Ok(Err((errno, detail))) => {
                let source = std::io::Error::from_raw_os_error(errno);
                Err(if errno == libc::EOPNOTSUPP {
                    NetlinkError::Unsupported {
                        op,
                        device: device.to_owned(),
                        feature: "support for this request",
                        detail,
                        source,
                    }
                } else {
                    NetlinkError::Kernel {
                        op,
                        device: device.to_owned(),
                        detail,
                        source,
                    }
                })
            }
        }
    }

    /// [`Netlink::call`] for a request answered by an ack only.
    pub(crate) fn ack(
        &self,
        req: NetlinkMessage<RouteNetlinkMessage>,
        op: &'static str,
        device: &str,
    ) -> Result<(), NetlinkError> {
        self.call(req, op, device).map(drop)
    }

    /// Undoes the recorded steps in reverse order and returns `err`, or
    /// [`NetlinkError::RollbackFailed`] if an undo step failed (the others are still
    /// tried).
    pub(crate) fn rollback(&self, undo: Undo, err: NetlinkError, device: &str) -> NetlinkError {
        let mut first_failure = None;
        for step in undo.steps.into_iter().rev() {
            match self.ack(step.req, step.op, &step.device) {
                Err(e) if !e.errno().is_some_and(|n| step.benign.contains(&n)) => {
                    first_failure.get_or_insert(e);
                }
                _ => {}
            }
        }
        match first_failure {
            None => err,
            Some(undo) => NetlinkError::RollbackFailed {
                device: device.to_owned(),
                undo: Box::new(undo),
                source: Box::new(err),
            },
        }
    }

    /// A point where tests can inject a failure; a no-op outside tests.
    #[cfg(not(test))]
    #[inline(always)]
    pub(crate) fn failpoint(&self, _name: &'static str, _device: &str) -> Result<(), NetlinkError> {
        Ok(())
    }

    /// A point where tests can inject a failure ([`Netlink::fail_at`]).
    #[cfg(test)]
    pub(crate) fn failpoint(&self, name: &'static str, device: &str) -> Result<(), NetlinkError> {
        if *self.failpoint.lock().unwrap_or_else(|p| p.into_inner()) == Some(name) {
            return Err(NetlinkError::Kernel {
                op: "go on past a test failpoint with",
                device: device.to_owned(),
                detail: Some(format!("failure injected by a test at `{name}`")),
                source: std::io::Error::from_raw_os_error(libc::EIO),
            });
        }
        Ok(())
    }

    /// Makes the failpoint `name` fail from now on (tests only).
    #[cfg(test)]
    pub(crate) fn fail_at(&self, name: Option<&'static str>) {
        *self.failpoint.lock().unwrap_or_else(|p| p.into_inner()) = name;
    }
}

/// `NLMSG_ERROR` flag: the echoed request was cut to its header.
const NLM_F_CAPPED: u16 = 0x100;
/// `NLMSG_ERROR` flag: extended-ack TLVs follow the echoed request.
const NLM_F_ACK_TLVS: u16 = 0x200;
/// `NLMSGERR_ATTR_MSG`: the kernel's text.
const NLMSGERR_ATTR_MSG: u16 = 1;
/// Length of `struct nlmsghdr`.
const NLMSG_HDRLEN: usize = 16;

/// Rounds up to the netlink alignment of 4 bytes.
pub(crate) fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

/// The kernel's extended-ack message from the bytes after an `NLMSG_ERROR` code (the
/// echoed request, then TLVs when `NLM_F_ACK_TLVS` is set).
fn extack_message(flags: u16, echoed: &[u8]) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 || echoed.len() < NLMSG_HDRLEN {
        return None;
    }
    let start = if flags & NLM_F_CAPPED != 0 {
        NLMSG_HDRLEN
    } else {
        let len = u32::from_ne_bytes(echoed[..4].try_into().ok()?);
        align4(usize::try_from(len).ok()?)
    };
    tlvs(echoed.get(start..)?)
        .find(|(kind, _)| kind & 0x3fff == NLMSGERR_ATTR_MSG)
        .map(|(_, v)| {
            let text = v.split(|&b| b == 0).next().unwrap_or_default();
            String::from_utf8_lossy(text).trim().to_owned()
        })
        .filter(|s| !s.is_empty())
}

/// Iterates over netlink TLVs (`struct nlattr`), stopping at the first malformed one.
pub(crate) fn tlvs(mut buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if buf.len() < 4 {
            return None;
        }
        let len = usize::from(u16::from_ne_bytes([buf[0], buf[1]]));
        let kind = u16::from_ne_bytes([buf[2], buf[3]]);
        if len < 4 || len > buf.len() {
            return None;
        }
        let value = &buf[4..len];
        buf = buf.get(align4(len)..).unwrap_or_default();
        Some((kind, value))
    })
}

/// Encodes one netlink TLV (`struct nlattr` with its value, padded).
#[cfg(test)]
pub(crate) fn tlv(kind: u16, value: &[u8]) -> Vec<u8> {
    let len = 4 + value.len();
    let mut out = Vec::with_capacity(align4(len));
    // Attribute values here are at most a few kilobytes, far below u16::MAX.
    out.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(value);
    out.resize(align4(len), 0);
    out
}

/// The bytes of an NLA's value.
pub(crate) fn nla_value(nla: &impl netlink_packet_core::Nla) -> Vec<u8> {
    let mut v = vec![0; nla.value_len()];
    nla.emit_value(&mut v);
    v
}

/// Checks an MTU given by a caller: 68 (the IPv4 minimum) to 65535 (`ETH_MAX_MTU`).
pub(crate) fn check_mtu(mtu: u32) -> Result<u32, NetlinkError> {
    if (68..=65535).contains(&mtu) {
        Ok(mtu)
    } else {
        Err(NetlinkError::Invalid {
            what: "MTU",
            why: format!("{mtu} is outside 68-65535"),
        })
    }
}

/// Serializes a message as it would go on the wire (for tests and debugging).
#[cfg(test)]
pub(crate) fn to_bytes(msg: &NetlinkMessage<RouteNetlinkMessage>) -> Vec<u8> {
    let mut buf = vec![0; msg.buffer_len()];
    msg.serialize(&mut buf);
    buf
}

/// Serializes and parses back a message, checking the round trip through the wire.
#[cfg(test)]
pub(crate) fn wire(msg: &NetlinkMessage<RouteNetlinkMessage>) -> RouteNetlinkMessage {
    let bytes = to_bytes(msg);
    let back = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&bytes).expect("parses back");
    assert_eq!(back.header.flags, msg.header.flags);
    match back.payload {
        netlink_packet_core::NetlinkPayload::InnerMessage(m) => m,
        other => panic!("not an inner message: {other:?}"),
    }
}

/// An [`IfName`] built from a name the kernel reported, for error values.
pub(crate) fn reported_name(name: &str) -> Option<IfName> {
    IfName::new(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlvs_round_trip_and_stop_at_garbage() {
        let mut buf = tlv(1, b"abc");
        buf.extend(tlv(7, &[1, 2, 3, 4]));
        buf.extend([0xff, 0xff]);
        let got: Vec<_> = tlvs(&buf).collect();
        assert_eq!(got, vec![(1, &b"abc"[..]), (7, &[1u8, 2, 3, 4][..])]);
        // A length longer than the buffer ends the iteration instead of panicking.
        assert_eq!(tlvs(&[200, 0, 1, 0, 0]).count(), 0);
        assert_eq!(tlvs(&[2, 0, 1, 0]).count(), 0);
    }

    #[test]
    fn extack_text_is_found_after_a_capped_header() {
        let mut echoed = vec![0u8; NLMSG_HDRLEN];
        echoed.extend(tlv(NLMSGERR_ATTR_MSG, b"Unknown device type\0"));
        assert_eq!(
            extack_message(NLM_F_ACK_TLVS | NLM_F_CAPPED, &echoed).as_deref(),
            Some("Unknown device type")
        );
        assert_eq!(extack_message(0, &echoed), None);
        // Uncapped: the whole request is echoed first; its length is in its header.
        let mut full = 24u32.to_ne_bytes().to_vec();
        full.resize(24, 0);
        full.extend(tlv(NLMSGERR_ATTR_MSG, b"Invalid MTU\0"));
        assert_eq!(
            extack_message(NLM_F_ACK_TLVS, &full).as_deref(),
            Some("Invalid MTU")
        );
        // Truncated garbage is no message, not a panic.
        assert_eq!(extack_message(NLM_F_ACK_TLVS, &[1, 2, 3]), None);
        assert_eq!(extack_message(NLM_F_ACK_TLVS, &[0xff; 20]), None);
    }

    #[test]
    fn mtu_bounds() {
        assert!(check_mtu(1500).is_ok());
        assert!(check_mtu(68).is_ok());
        assert!(check_mtu(65535).is_ok());
        assert!(check_mtu(0).is_err());
        assert!(check_mtu(67).is_err());
        assert!(check_mtu(65536).is_err());
    }
}
