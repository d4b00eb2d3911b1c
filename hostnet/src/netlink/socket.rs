//! The synchronous transport under [`Netlink`](super::Netlink): one `NETLINK_ROUTE`
//! socket, a request at a time, with a receive timeout.
//!
//! Replies are parsed with `netlink-packet-route`, except for one part it is slow at:
//! the kind-specific data of a link (`IFLA_INFO_DATA`), which 0.33 parses by first
//! formatting the whole attribute with `Debug` (about 4 million instructions for one
//! bridge, 95% of a hotplug run), and several other link attributes the same way.
//! [`strip_link_info_data`] rewrites each `RTM_NEWLINK` reply down to the attributes
//! [`LinkState`](super::LinkState) reads before parsing, and reads the few settings
//! vifkit uses from `IFLA_INFO_DATA` (a bridge's STP state and VLAN filtering, a VLAN
//! device's id) itself, then puts them back as parsed attributes.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use netlink_packet_core::{NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_MULTIPART};
use netlink_packet_route::link::{
    BridgeStpState, InfoBridge, InfoData, InfoVlan, LinkAttribute, LinkInfo,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::protocols::NETLINK_ROUTE;
use netlink_sys::{Socket, SocketAddr};

use super::{align4, tlvs, NLMSG_HDRLEN};

/// `NLMSG_ERROR`.
const NLMSG_ERROR: u16 = 2;
/// `NLMSG_DONE`.
const NLMSG_DONE: u16 = 3;
/// `RTM_NEWLINK`.
const RTM_NEWLINK: u16 = 16;
/// Length of `struct ifinfomsg`.
const IFINFOMSG_LEN: usize = 16;
/// `IFLA_LINKINFO`.
const IFLA_LINKINFO: u16 = 18;
/// `IFLA_INFO_KIND`.
const IFLA_INFO_KIND: u16 = 1;
/// `IFLA_INFO_DATA`.
const IFLA_INFO_DATA: u16 = 2;
/// `IFLA_BR_STP_STATE` (u32).
const IFLA_BR_STP_STATE: u16 = 5;
/// `IFLA_BR_VLAN_FILTERING` (u8).
const IFLA_BR_VLAN_FILTERING: u16 = 7;
/// `IFLA_VLAN_ID` (u16).
const IFLA_VLAN_ID: u16 = 1;
/// `NLA_F_NESTED | NLA_F_NET_BYTEORDER`: flag bits of an attribute type.
const NLA_TYPE_MASK: u16 = 0x3fff;
/// The receive buffer: larger than any datagram the kernel sends a reader.
const RECV_BUF: usize = 64 * 1024;

/// How a request went wrong before the kernel answered it.
#[derive(Debug)]
pub(crate) enum TransportError {
    /// No complete reply within the timeout.
    Timeout,
    /// The socket failed, or the reply made no sense.
    Protocol(String),
}

/// What the kernel answered: the reply messages, or an errno with its extended-ack
/// text.
pub(crate) type Reply = Result<Vec<RouteNetlinkMessage>, (i32, Option<String>)>;

/// A connected `NETLINK_ROUTE` socket.
pub(crate) struct Transport {
    socket: Socket,
    seq: AtomicU32,
    /// One request at a time: replies are matched to requests by sequence number, and
    /// interleaved readers would steal each other's datagrams.
    lock: std::sync::Mutex<()>,
}

impl Transport {
    /// Opens a socket in the calling thread's network namespace, bound to a port of
    /// the kernel's choosing, with receive timeout `timeout`.
    pub(crate) fn open(timeout: Duration) -> io::Result<Transport> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        // Extended acks carry the kernel's reason ("Unknown device type"); capped acks
        // keep them short. Both are optional: old kernels refuse them.
        let _ = socket.set_ext_ack(true);
        let _ = socket.set_cap_ack(true);
        let transport = Transport {
            socket,
            seq: AtomicU32::new(1),
            lock: std::sync::Mutex::new(()),
        };
        transport.set_timeout(timeout)?;
        Ok(transport)
    }

    /// Sets `SO_RCVTIMEO`.
    pub(crate) fn set_timeout(&self, timeout: Duration) -> io::Result<()> {
        let tv = libc::timeval {
            tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
            tv_usec: libc::suseconds_t::from(timeout.subsec_micros().min(999_999) as i32),
        };
        #[allow(
            clippy::cast_possible_truncation,
            reason = "a timeval is two words, 16 bytes at most, far below socklen_t's range"
        )]
        let tv_len = std::mem::size_of::<libc::timeval>() as libc::socklen_t;
        // SAFETY: the fd is this socket's, open for the life of `self`; `tv` is a valid
        // `timeval` that outlives the call, and its size is passed with it.
        let rc = unsafe {
            libc::setsockopt(
                self.socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                std::ptr::from_ref(&tv).cast(),
                tv_len,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// Sends `req` and collects its reply.
    pub(crate) fn request(
        &self,
        mut req: NetlinkMessage<RouteNetlinkMessage>,
    ) -> Result<Reply, TransportError> {
        let _one_at_a_time = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        req.header.sequence_number = seq;
        req.finalize();
        let wants_ack = req.header.flags & NLM_F_ACK != 0;
        let mut out = vec![0; req.buffer_len()];
        req.serialize(&mut out);
        self.socket
            .send(&out, 0)
            .map_err(|e| TransportError::Protocol(format!("cannot send: {e}")))?;

        let mut replies = Vec::new();
        let mut buf: Vec<u8> = Vec::with_capacity(RECV_BUF);
        loop {
            buf.clear();
            let n = match self.socket.recv(&mut buf, libc::MSG_TRUNC) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Err(TransportError::Timeout)
                }
                Err(e) => return Err(TransportError::Protocol(format!("cannot receive: {e}"))),
            };
            if n > buf.len() {
                return Err(TransportError::Protocol(format!(
                    "a reply of {n} bytes did not fit the {RECV_BUF}-byte buffer"
                )));
            }
            for msg in messages(&buf)? {
                let (kind, flags, msg_seq) = header(msg);
                if msg_seq != seq {
                    continue; // a late answer to an earlier request that timed out
                }
                match kind {
                    NLMSG_DONE => return Ok(Ok(replies)),
                    NLMSG_ERROR => {
                        return match parse(msg)?.payload {
                            NetlinkPayload::Error(e) => Ok(match e.code {
                                None => Ok(replies),
                                Some(code) => {
                                    Err((-code.get(), super::extack_message(flags, &e.header)))
                                }
                            }),
                            _ => Ok(Ok(replies)),
                        };
                    }
                    RTM_NEWLINK => {
                        let mut stripped = msg.to_vec();
                        let kept = strip_link_info_data(&mut stripped);
                        match parse(&stripped)?.payload {
                            NetlinkPayload::InnerMessage(mut m) => {
                                restore_link_info_data(&mut m, kept);
                                replies.push(m);
                            }
                            other => return Err(unexpected(&other)),
                        }
                    }
                    _ => match parse(msg)?.payload {
                        NetlinkPayload::InnerMessage(m) => replies.push(m),
                        NetlinkPayload::Overrun(_) => {
                            return Err(TransportError::Protocol(
                                "the kernel reported an overrun".to_owned(),
                            ))
                        }
                        _ => {}
                    },
                }
                if flags & NLM_F_MULTIPART == 0 && !wants_ack {
                    return Ok(Ok(replies));
                }
            }
        }
    }
}

fn unexpected(payload: &NetlinkPayload<RouteNetlinkMessage>) -> TransportError {
    TransportError::Protocol(format!(
        "unexpected reply of type {}",
        payload.message_type()
    ))
}

fn parse(msg: &[u8]) -> Result<NetlinkMessage<RouteNetlinkMessage>, TransportError> {
    NetlinkMessage::<RouteNetlinkMessage>::deserialize(msg)
        .map_err(|e| TransportError::Protocol(format!("cannot parse a reply: {e}")))
}

/// `(type, flags, sequence number)` of a message whose length [`messages`] checked.
fn header(msg: &[u8]) -> (u16, u16, u32) {
    let u16_at = |i: usize| u16::from_ne_bytes([msg[i], msg[i + 1]]);
    let seq = u32::from_ne_bytes([msg[8], msg[9], msg[10], msg[11]]);
    (u16_at(4), u16_at(6), seq)
}

/// Splits a datagram into its netlink messages.
fn messages(mut buf: &[u8]) -> Result<Vec<&[u8]>, TransportError> {
    let mut out = Vec::new();
    while buf.len() >= NLMSG_HDRLEN {
        let len = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        if len < NLMSG_HDRLEN || len > buf.len() {
            return Err(TransportError::Protocol(format!(
                "a reply message claims {len} bytes of {}",
                buf.len()
            )));
        }
        out.push(&buf[..len]);
        buf = buf.get(align4(len)..).unwrap_or_default();
    }
    Ok(out)
}

/// The settings read out of a link's `IFLA_INFO_DATA` before it was cut.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct KeptInfoData {
    bridge: Option<(u32, Option<u8>)>,
    vlan_id: Option<u16>,
}

/// The link attributes [`LinkState`](super::LinkState) reads: `IFLA_IFNAME`,
/// `IFLA_MTU`, `IFLA_LINK`, `IFLA_MASTER`, `IFLA_STATS64` (only in replies that did not
/// skip statistics); `IFLA_LINKINFO` is rebuilt apart.
const KEPT_LINK_ATTRS: [u16; 5] = [3, 4, 5, 10, 23];
/// `IFLA_AF_SPEC`: kept in `AF_BRIDGE` messages, where it holds a port's VLANs.
const IFLA_AF_SPEC: u16 = 26;
/// `AF_BRIDGE`, in `ifinfomsg.ifi_family`.
const AF_BRIDGE: u8 = 7;

/// Rewrites one `RTM_NEWLINK` message (its bytes) down to the attributes vifkit reads,
/// with `IFLA_LINKINFO` holding only `IFLA_INFO_KIND`, and returns what it read of
/// `IFLA_INFO_DATA`. A message too short to be a link message is left as it is.
pub(crate) fn strip_link_info_data(msg: &mut Vec<u8>) -> KeptInfoData {
    let mut kept = KeptInfoData::default();
    let start = NLMSG_HDRLEN + IFINFOMSG_LEN;
    if msg.len() < start {
        return kept;
    }
    let bridge_family = msg[NLMSG_HDRLEN] == AF_BRIDGE;
    let mut out = Vec::with_capacity(msg.len().min(256));
    out.extend_from_slice(&msg[..start]);
    for (kind, value) in tlvs(&msg[start..]) {
        let kind = kind & NLA_TYPE_MASK;
        if KEPT_LINK_ATTRS.contains(&kind) || (bridge_family && kind == IFLA_AF_SPEC) {
            push_tlv(&mut out, kind, value);
        } else if kind == IFLA_LINKINFO {
            let mut name: &[u8] = &[];
            let mut data: &[u8] = &[];
            for (k, v) in tlvs(value) {
                match k & NLA_TYPE_MASK {
                    IFLA_INFO_KIND => name = v,
                    IFLA_INFO_DATA => data = v,
                    _ => {}
                }
            }
            let mut info = Vec::with_capacity(4 + align4(name.len()));
            push_tlv(&mut info, IFLA_INFO_KIND, name);
            push_tlv(&mut out, IFLA_LINKINFO | 0x8000, &info);
            read_info_data(name, data, &mut kept);
        }
    }
    let len = u32::try_from(out.len()).unwrap_or(u32::MAX);
    out[..4].copy_from_slice(&len.to_ne_bytes());
    *msg = out;
    kept
}

/// Appends one attribute, padded to 4 bytes.
fn push_tlv(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let len = 4 + value.len();
    // Values come from attributes of at most u16::MAX bytes.
    out.extend_from_slice(&u16::try_from(len).unwrap_or(u16::MAX).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(value);
    out.resize(out.len() + align4(len) - len, 0);
}

/// Reads a bridge's STP state and VLAN filtering, or a VLAN device's id.
fn read_info_data(kind_name: &[u8], data: &[u8], kept: &mut KeptInfoData) {
    match kind_name.split(|&b| b == 0).next().unwrap_or_default() {
        b"bridge" => {
            let mut stp = 0;
            let mut filtering = None;
            for (kind, v) in tlvs(data) {
                match kind & NLA_TYPE_MASK {
                    IFLA_BR_STP_STATE if v.len() >= 4 => {
                        stp = u32::from_ne_bytes([v[0], v[1], v[2], v[3]]);
                    }
                    IFLA_BR_VLAN_FILTERING if !v.is_empty() => filtering = Some(v[0]),
                    _ => {}
                }
            }
            kept.bridge = Some((stp, filtering));
        }
        b"vlan" => {
            kept.vlan_id = tlvs(data).find_map(|(kind, v)| {
                (kind & NLA_TYPE_MASK == IFLA_VLAN_ID && v.len() >= 2)
                    .then(|| u16::from_ne_bytes([v[0], v[1]]))
            });
        }
        _ => {}
    }
}

/// Puts what [`strip_link_info_data`] kept back into the parsed message.
fn restore_link_info_data(msg: &mut RouteNetlinkMessage, kept: KeptInfoData) {
    let RouteNetlinkMessage::NewLink(link) = msg else {
        return;
    };
    let data = match kept {
        KeptInfoData {
            bridge: Some((stp, filtering)),
            ..
        } => {
            let mut opts = vec![InfoBridge::StpState(BridgeStpState::from(stp))];
            opts.extend(filtering.map(|f| InfoBridge::VlanFiltering(f != 0)));
            InfoData::Bridge(opts)
        }
        KeptInfoData {
            vlan_id: Some(id), ..
        } => InfoData::Vlan(vec![InfoVlan::Id(id)]),
        _ => return,
    };
    for attr in &mut link.attributes {
        if let LinkAttribute::LinkInfo(infos) = attr {
            infos.push(LinkInfo::Data(data));
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::tlv;

    /// An `RTM_NEWLINK` message for device `index` with the given attributes.
    fn newlink(attrs: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = attrs.concat();
        let len = NLMSG_HDRLEN + IFINFOMSG_LEN + body.len();
        let mut m = Vec::new();
        m.extend_from_slice(&u32::try_from(len).unwrap().to_ne_bytes());
        m.extend_from_slice(&RTM_NEWLINK.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&7u32.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        let mut ifi = [0u8; IFINFOMSG_LEN];
        ifi[4..8].copy_from_slice(&5i32.to_ne_bytes());
        m.extend_from_slice(&ifi);
        m.extend_from_slice(&body);
        m
    }

    fn nested(kind: u16, parts: &[Vec<u8>]) -> Vec<u8> {
        tlv(kind | 0x8000, &parts.concat())
    }

    fn parsed(msg: &[u8]) -> RouteNetlinkMessage {
        match parse(msg).unwrap().payload {
            NetlinkPayload::InnerMessage(m) => m,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bridge_data_is_cut_and_restored() {
        let msg = newlink(&[
            tlv(3, b"br0\0"),
            tlv(4, &1500u32.to_ne_bytes()),
            nested(
                IFLA_LINKINFO,
                &[
                    tlv(IFLA_INFO_KIND, b"bridge\0"),
                    nested(
                        IFLA_INFO_DATA,
                        &[
                            tlv(1, &1500u32.to_ne_bytes()),
                            tlv(IFLA_BR_STP_STATE, &1u32.to_ne_bytes()),
                            tlv(IFLA_BR_VLAN_FILTERING, &[1]),
                        ],
                    ),
                ],
            ),
            tlv(10, &9u32.to_ne_bytes()),
            tlv(13, &1000u32.to_ne_bytes()),
        ]);
        let full = parsed(&msg);
        let mut cut = msg.clone();
        let kept = strip_link_info_data(&mut cut);
        assert_eq!(
            kept,
            KeptInfoData {
                bridge: Some((1, Some(1))),
                vlan_id: None
            }
        );
        assert!(cut.len() < msg.len());
        let mut back = parsed(&cut);
        restore_link_info_data(&mut back, kept);
        let a = super::super::LinkState::from_message(match &full {
            RouteNetlinkMessage::NewLink(l) => l,
            _ => unreachable!(),
        });
        let b = super::super::LinkState::from_message(match &back {
            RouteNetlinkMessage::NewLink(l) => l,
            _ => unreachable!(),
        });
        assert_eq!(a, b);
        assert_eq!(
            b.bridge.map(|s| (s.stp, s.vlan_filtering)),
            Some((true, true))
        );
        // The attribute after IFLA_LINKINFO survived the cut; what vifkit never reads
        // did not.
        assert_eq!(b.master, Some(9));
        let RouteNetlinkMessage::NewLink(l) = back else {
            unreachable!()
        };
        assert!(!l.attributes.contains(&LinkAttribute::TxQueueLen(1000)));
    }

    #[test]
    fn vlan_id_is_kept_and_other_kinds_lose_only_their_data() {
        let vlan = newlink(&[nested(
            IFLA_LINKINFO,
            &[
                tlv(IFLA_INFO_KIND, b"vlan\0"),
                nested(IFLA_INFO_DATA, &[tlv(IFLA_VLAN_ID, &900u16.to_ne_bytes())]),
            ],
        )]);
        let mut cut = vlan.clone();
        let kept = strip_link_info_data(&mut cut);
        assert_eq!(kept.vlan_id, Some(900));
        let mut back = parsed(&cut);
        restore_link_info_data(&mut back, kept);
        assert_eq!(back, parsed(&vlan));
        assert_eq!(
            cut.len(),
            vlan.len() - 12,
            "IFLA_INFO_DATA and its one attribute cut"
        );

        let veth = newlink(&[
            tlv(3, b"v0\0"),
            nested(
                IFLA_LINKINFO,
                &[tlv(IFLA_INFO_KIND, b"veth\0"), nested(IFLA_INFO_DATA, &[])],
            ),
        ]);
        let mut cut = veth.clone();
        assert_eq!(strip_link_info_data(&mut cut), KeptInfoData::default());
        let RouteNetlinkMessage::NewLink(l) = parsed(&cut) else {
            unreachable!()
        };
        let st = super::super::LinkState::from_message(&l);
        assert_eq!((st.name.as_str(), st.kind.as_deref()), ("v0", Some("veth")));
    }

    #[test]
    fn messages_with_only_kept_attributes_are_untouched() {
        let msg = newlink(&[tlv(3, b"lo\0"), tlv(4, &65536u32.to_ne_bytes())]);
        let mut cut = msg.clone();
        assert_eq!(strip_link_info_data(&mut cut), KeptInfoData::default());
        assert_eq!(cut, msg);
        let short = vec![0u8; 8];
        let mut cut = short.clone();
        strip_link_info_data(&mut cut);
        assert_eq!(cut, short);
    }

    #[test]
    fn a_message_longer_than_the_datagram_is_refused() {
        let mut msg = newlink(&[]);
        msg[0] = 200;
        assert!(matches!(messages(&msg), Err(TransportError::Protocol(_))));
    }
}
