//! The traffic-control messages behind [`Netlink::set_rate_limit`](super::Netlink):
//! a `tbf` root qdisc, the `ingress` qdisc and a `u32` filter with a `police` action,
//! and reading them back.
//!
//! netlink-packet-route 0.33 knows neither `tbf` nor `police`, so their option
//! structures (`struct tc_tbf_qopt`, `struct tc_police`, `struct tc_ratespec`, the
//! 1 KiB rate table) are encoded here and carried as raw attributes.

use netlink_packet_core::{DefaultNla, NetlinkMessage};
use netlink_packet_route::tc::{
    TcAction, TcActionAttribute, TcActionOption, TcAttribute, TcFilterU32Option, TcHandle,
    TcMessage, TcOption, TcU32Key, TcU32Selector, TcU32SelectorFlags,
};
use netlink_packet_route::RouteNetlinkMessage;

#[cfg(test)]
use super::tlv;
use super::{message, nla_value, tlvs, ACK, CREATE_EXCL, CREATE_REPLACE, DUMP};

/// `TC_H_ROOT`: the parent of a root qdisc.
pub(crate) const TC_H_ROOT: u32 = 0xFFFF_FFFF;
/// `TC_H_INGRESS`: the parent of the ingress qdisc.
pub(crate) const TC_H_INGRESS: u32 = 0xFFFF_FFF1;
/// The ingress qdisc's handle, `ffff:`.
pub(crate) const INGRESS_HANDLE: u32 = 0xFFFF_0000;
/// The handle of vifkit's `tbf` root qdisc, `1:`.
pub(crate) const TBF_HANDLE: u32 = 0x0001_0000;
/// The priority of vifkit's ingress policing filter (its own; other filters at other
/// priorities are left alone).
pub(crate) const POLICE_PRIO: u16 = 0x2a00;
/// The handle of vifkit's `u32` filter node, `800::800`.
pub(crate) const U32_HANDLE: u32 = 0x8000_0800;
/// The largest packet the policer passes (`mtu 64kb`, as libvirt uses: GSO packets
/// are up to 64 KiB).
pub(crate) const POLICE_MTU: u32 = 65_536;

/// `TC_LINKLAYER_ETHERNET`.
const LINKLAYER_ETHERNET: u8 = 1;
/// `TC_ACT_SHOT`: drop.
const TC_ACT_SHOT: i32 = 2;
/// `ETH_P_ALL`.
const ETH_P_ALL: u16 = 0x0003;

const TCA_TBF_PARMS: u16 = 1;
const TCA_TBF_RATE64: u16 = 4;
const TCA_TBF_BURST: u16 = 6;
const TCA_POLICE_TBF: u16 = 1;
const TCA_POLICE_RATE: u16 = 2;
const TCA_POLICE_RATE64: u16 = 8;
/// `TCA_OPTIONS`.
const TCA_OPTIONS: u16 = 2;

/// Size of `struct tc_tbf_qopt`.
const TBF_QOPT_LEN: usize = 36;
/// Size of `struct tc_police`.
const POLICE_LEN: usize = 56;

/// Scheduler ticks (`PSCHED_SHIFT` = 6: 64 ns) to send `bytes` at `rate` bytes/s,
/// saturating at `u32::MAX`.
pub(crate) fn ticks(bytes: u64, rate: u64) -> u32 {
    if rate == 0 {
        return u32::MAX;
    }
    let t = u128::from(bytes) * 1_000_000_000 / u128::from(rate) / 64;
    u32::try_from(t).unwrap_or(u32::MAX)
}

/// Bytes sent at `rate` bytes/s in `ticks` scheduler ticks (the inverse of [`ticks`],
/// rounded to nearest).
pub(crate) fn ticks_to_bytes(ticks: u32, rate: u64) -> u64 {
    let b = (u128::from(ticks) * 64 * u128::from(rate) + 500_000_000) / 1_000_000_000;
    u64::try_from(b).unwrap_or(u64::MAX)
}

/// `struct tc_ratespec` (12 bytes).
fn ratespec(rate: u64, cell_log: u8, cell_align: i16) -> [u8; 12] {
    let mut r = [0u8; 12];
    r[0] = cell_log;
    r[1] = LINKLAYER_ETHERNET;
    // overhead (u16) at 2 and mpu (u16) at 6 stay 0.
    r[4..6].copy_from_slice(&cell_align.to_ne_bytes());
    let rate32 = u32::try_from(rate).unwrap_or(u32::MAX);
    r[8..12].copy_from_slice(&rate32.to_ne_bytes());
    r
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

fn u64_of(b: &[u8]) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(..8)?.try_into().ok()?))
}

/// A `tbf` qdisc's parameters, in the kernel's units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TbfParams {
    /// Bytes per second.
    pub rate: u64,
    /// Queue limit in bytes.
    pub limit: u32,
    /// Bucket size in scheduler ticks at `rate`.
    pub buffer_ticks: u32,
    /// Bucket size in bytes (`TCA_TBF_BURST`), when known exactly; the kernel then
    /// uses it instead of `buffer_ticks`.
    pub burst: Option<u32>,
}

impl TbfParams {
    /// The `TCA_OPTIONS` of a `tbf` qdisc with these parameters.
    fn options(&self) -> Vec<TcOption> {
        let mut qopt = Vec::with_capacity(TBF_QOPT_LEN);
        qopt.extend(ratespec(self.rate, 0, 0));
        qopt.extend([0u8; 12]); // no peak rate
        qopt.extend(self.limit.to_ne_bytes());
        qopt.extend(self.buffer_ticks.to_ne_bytes());
        qopt.extend(0u32.to_ne_bytes()); // mtu: only for a peak rate
        let mut opts = vec![TcOption::Other(DefaultNla::new(TCA_TBF_PARMS, qopt))];
        if self.rate > u64::from(u32::MAX) {
            opts.push(TcOption::Other(DefaultNla::new(
                TCA_TBF_RATE64,
                self.rate.to_ne_bytes().to_vec(),
            )));
        }
        if let Some(b) = self.burst {
            opts.push(TcOption::Other(DefaultNla::new(
                TCA_TBF_BURST,
                b.to_ne_bytes().to_vec(),
            )));
        }
        opts
    }

    /// Reads the nested `TCA_OPTIONS` payload of a dumped `tbf` qdisc.
    fn parse(nested: &[u8]) -> Option<TbfParams> {
        let mut parms = None;
        let mut rate64 = None;
        for (kind, v) in tlvs(nested) {
            match kind & 0x3fff {
                TCA_TBF_PARMS if v.len() >= TBF_QOPT_LEN => parms = Some(v),
                TCA_TBF_RATE64 => rate64 = u64_of(v),
                _ => {}
            }
        }
        let p = parms?;
        Some(TbfParams {
            rate: rate64.unwrap_or(u64::from(u32_at(p, 8)?)),
            limit: u32_at(p, 24)?,
            buffer_ticks: u32_at(p, 28)?,
            burst: None,
        })
    }
}

/// A `police` action's parameters, in the kernel's units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PoliceParams {
    /// Bytes per second.
    pub rate: u64,
    /// Bucket size in scheduler ticks at `rate`.
    pub burst_ticks: u32,
    /// Largest packet that can conform.
    pub mtu: u32,
}

/// The rate table's cell size, as `tc` picks it: the smallest `cell_log` with
/// `mtu >> cell_log` at most 255 (at least 1: the kernel refuses 0).
fn cell_log(mtu: u32) -> u8 {
    let mut c = 0u8;
    while c < 31 && (mtu >> c) > 255 {
        c += 1;
    }
    c.max(1)
}

impl PoliceParams {
    /// `struct tc_police`, the 256-entry rate table, and the 64-bit rate if needed.
    fn options(&self) -> Vec<TcActionOption> {
        let log = cell_log(self.mtu);
        let mut p = Vec::with_capacity(POLICE_LEN);
        p.extend(0u32.to_ne_bytes()); // index: let the kernel pick
        p.extend(TC_ACT_SHOT.to_ne_bytes()); // exceeding packets are dropped
        p.extend(0u32.to_ne_bytes()); // limit
        p.extend(self.burst_ticks.to_ne_bytes());
        p.extend(self.mtu.to_ne_bytes());
        p.extend(ratespec(self.rate, log, -1));
        p.extend([0u8; 12]); // no peak rate
        p.extend([0u8; 12]); // refcnt, bindcnt, capab
        let mut rtab = Vec::with_capacity(1024);
        for i in 0..256u64 {
            rtab.extend(ticks((i + 1) << log, self.rate).to_ne_bytes());
        }
        let mut opts = vec![
            TcActionOption::Other(DefaultNla::new(TCA_POLICE_TBF, p)),
            TcActionOption::Other(DefaultNla::new(TCA_POLICE_RATE, rtab)),
        ];
        if self.rate > u64::from(u32::MAX) {
            opts.push(TcActionOption::Other(DefaultNla::new(
                TCA_POLICE_RATE64,
                self.rate.to_ne_bytes().to_vec(),
            )));
        }
        opts
    }

    fn parse(opts: &[TcActionOption]) -> Option<PoliceParams> {
        let mut parm = None;
        let mut rate64 = None;
        for o in opts {
            let TcActionOption::Other(nla) = o else {
                continue;
            };
            let kind = netlink_packet_core::Nla::kind(nla) & 0x3fff;
            let v = nla_value(nla);
            match kind {
                TCA_POLICE_TBF if v.len() >= POLICE_LEN => parm = Some(v),
                TCA_POLICE_RATE64 => rate64 = u64_of(&v),
                _ => {}
            }
        }
        let p = parm?;
        Some(PoliceParams {
            rate: rate64.unwrap_or(u64::from(u32_at(&p, 28)?)),
            burst_ticks: u32_at(&p, 12)?,
            mtu: u32_at(&p, 16)?,
        })
    }
}

fn tc_message(ifindex: i32, parent: u32, handle: u32, kind: Option<&str>) -> TcMessage {
    let mut m = TcMessage::with_index(ifindex);
    m.header.parent = TcHandle::from(parent);
    m.header.handle = TcHandle::from(handle);
    if let Some(k) = kind {
        m.attributes.push(TcAttribute::Kind(k.to_owned()));
    }
    m
}

/// `tc qdisc replace dev IF root handle 1: tbf ...`.
pub(crate) fn tbf_replace(ifindex: i32, p: &TbfParams) -> NetlinkMessage<RouteNetlinkMessage> {
    let mut m = tc_message(ifindex, TC_H_ROOT, TBF_HANDLE, Some("tbf"));
    m.attributes.push(TcAttribute::Options(p.options()));
    message(RouteNetlinkMessage::NewQueueDiscipline(m), CREATE_REPLACE)
}

/// `tc qdisc add dev IF ingress`.
pub(crate) fn ingress_add(ifindex: i32) -> NetlinkMessage<RouteNetlinkMessage> {
    let m = tc_message(ifindex, TC_H_INGRESS, INGRESS_HANDLE, Some("ingress"));
    message(RouteNetlinkMessage::NewQueueDiscipline(m), CREATE_EXCL)
}

/// `tc qdisc del dev IF parent PARENT handle HANDLE`.
pub(crate) fn qdisc_del(
    ifindex: i32,
    parent: u32,
    handle: u32,
) -> NetlinkMessage<RouteNetlinkMessage> {
    let m = tc_message(ifindex, parent, handle, None);
    message(RouteNetlinkMessage::DelQueueDiscipline(m), ACK)
}

/// `tc qdisc show` (every device; callers pick theirs).
pub(crate) fn qdisc_dump() -> NetlinkMessage<RouteNetlinkMessage> {
    message(
        RouteNetlinkMessage::GetQueueDiscipline(TcMessage::default()),
        DUMP,
    )
}

/// `tcm_info` of vifkit's filter: priority in the high half, protocol `all` in network
/// byte order in the low half.
fn police_info() -> u32 {
    (u32::from(POLICE_PRIO) << 16) | u32::from(ETH_P_ALL.to_be())
}

/// `tc filter replace dev IF parent ffff: prio P handle 800::800 protocol all u32
/// match u32 0 0 action police rate R burst B mtu 64kb drop flowid :1`.
pub(crate) fn police_replace(
    ifindex: i32,
    p: &PoliceParams,
) -> NetlinkMessage<RouteNetlinkMessage> {
    let mut m = tc_message(ifindex, INGRESS_HANDLE, U32_HANDLE, Some("u32"));
    m.header.info = police_info();
    let mut key = TcU32Key::default();
    key.mask = 0;
    key.val = 0;
    let mut sel = TcU32Selector::default();
    sel.flags = TcU32SelectorFlags::Terminal;
    sel.nkeys = 1;
    sel.keys = vec![key];
    let mut act = TcAction::default();
    act.attributes = vec![
        TcActionAttribute::Kind("police".to_owned()),
        TcActionAttribute::Options(p.options()),
    ];
    m.attributes.push(TcAttribute::Options(vec![
        TcOption::U32(TcFilterU32Option::Selector(sel)),
        TcOption::U32(TcFilterU32Option::ClassId(TcHandle::from(1))),
        TcOption::U32(TcFilterU32Option::Action(vec![act])),
    ]));
    message(RouteNetlinkMessage::NewTrafficFilter(m), CREATE_REPLACE)
}

/// `tc filter del dev IF parent ffff: prio P protocol all`: vifkit's filter only.
pub(crate) fn police_del(ifindex: i32) -> NetlinkMessage<RouteNetlinkMessage> {
    let mut m = tc_message(ifindex, INGRESS_HANDLE, 0, None);
    m.header.info = police_info();
    message(RouteNetlinkMessage::DelTrafficFilter(m), ACK)
}

/// `tc filter show dev IF parent ffff:`.
pub(crate) fn ingress_filter_dump(ifindex: i32) -> NetlinkMessage<RouteNetlinkMessage> {
    let m = tc_message(ifindex, INGRESS_HANDLE, 0, None);
    message(RouteNetlinkMessage::GetTrafficFilter(m), DUMP)
}

/// A qdisc as dumped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Qdisc {
    pub ifindex: i32,
    pub parent: u32,
    pub handle: u32,
    pub kind: String,
    /// The parameters, for a `tbf`.
    pub tbf: Option<TbfParams>,
}

/// The qdiscs of device `ifindex` in a [`qdisc_dump`] reply.
pub(crate) fn qdiscs_in(replies: &[RouteNetlinkMessage], ifindex: i32) -> Vec<Qdisc> {
    replies
        .iter()
        .filter_map(|r| match r {
            RouteNetlinkMessage::NewQueueDiscipline(m) if m.header.index == ifindex => Some(m),
            _ => None,
        })
        .map(|m| {
            let kind = m
                .attributes
                .iter()
                .find_map(|a| match a {
                    TcAttribute::Kind(k) => Some(k.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            let tbf = (kind == "tbf")
                .then(|| {
                    m.attributes.iter().find_map(|a| match a {
                        TcAttribute::Options(o) => o.iter().find_map(|o| match o {
                            // An unknown kind's options come as one raw attribute.
                            TcOption::Other(nla)
                                if netlink_packet_core::Nla::kind(nla) & 0x3fff == TCA_OPTIONS =>
                            {
                                TbfParams::parse(&nla_value(nla))
                            }
                            _ => None,
                        }),
                        _ => None,
                    })
                })
                .flatten();
            Qdisc {
                ifindex: m.header.index,
                parent: m.header.parent.into(),
                handle: m.header.handle.into(),
                kind,
                tbf,
            }
        })
        .collect()
}

/// An ingress filter as dumped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Filter {
    pub prio: u16,
    pub handle: u32,
    /// The police parameters, for vifkit's policing filter.
    pub police: Option<PoliceParams>,
}

/// The filters in an [`ingress_filter_dump`] reply.
pub(crate) fn filters_in(replies: &[RouteNetlinkMessage]) -> Vec<Filter> {
    replies
        .iter()
        .filter_map(|r| match r {
            RouteNetlinkMessage::NewTrafficFilter(m) => Some(m),
            _ => None,
        })
        .map(|m| {
            let police = m.attributes.iter().find_map(|a| match a {
                TcAttribute::Options(o) => o.iter().find_map(|o| match o {
                    TcOption::U32(TcFilterU32Option::Action(acts)) => acts.iter().find_map(|act| {
                        let is_police = act
                            .attributes
                            .iter()
                            .any(|x| matches!(x, TcActionAttribute::Kind(k) if k == "police"));
                        is_police
                            .then(|| {
                                act.attributes.iter().find_map(|x| match x {
                                    TcActionAttribute::Options(opts) => PoliceParams::parse(opts),
                                    _ => None,
                                })
                            })
                            .flatten()
                    }),
                    _ => None,
                }),
                _ => None,
            });
            Filter {
                // The priority is the high half of tcm_info.
                prio: u16::try_from(m.header.info >> 16).unwrap_or_default(),
                handle: m.header.handle.into(),
                police,
            }
        })
        .collect()
}

/// A nested attribute's raw encoding (for the tests' byte-level checks).
#[cfg(test)]
pub(crate) fn encode_nested(kind: u16, inner: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let body: Vec<u8> = inner.iter().flat_map(|(k, v)| tlv(*k, v)).collect();
    tlv(kind, &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::{to_bytes, wire};
    use netlink_packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE, NLM_F_REQUEST};

    fn tc(m: RouteNetlinkMessage) -> TcMessage {
        match m {
            RouteNetlinkMessage::NewQueueDiscipline(t)
            | RouteNetlinkMessage::DelQueueDiscipline(t)
            | RouteNetlinkMessage::GetQueueDiscipline(t)
            | RouteNetlinkMessage::NewTrafficFilter(t)
            | RouteNetlinkMessage::DelTrafficFilter(t)
            | RouteNetlinkMessage::GetTrafficFilter(t) => t,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ticks_are_64_ns() {
        // 1 MB/s: 1000 bytes take 1 ms = 15625 ticks.
        assert_eq!(ticks(1000, 1_000_000), 15_625);
        assert_eq!(ticks_to_bytes(15_625, 1_000_000), 1000);
        assert_eq!(ticks(1, 0), u32::MAX);
        assert_eq!(ticks(u64::MAX, 1), u32::MAX);
        assert_eq!(cell_log(65_536), 9);
        assert_eq!(cell_log(2047), 3);
        assert_eq!(cell_log(100), 1);
    }

    #[test]
    fn tbf_message_round_trips_and_reads_back() {
        let p = TbfParams {
            rate: 2_000_000,
            limit: 231_072,
            buffer_ticks: ticks(131_072, 2_000_000),
            burst: Some(131_072),
        };
        let m = tbf_replace(5, &p);
        assert_eq!(
            m.header.flags,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE
        );
        let back = wire(&m);
        let t = tc(back.clone());
        assert_eq!(t.header.index, 5);
        assert_eq!(u32::from(t.header.parent), TC_H_ROOT);
        assert_eq!(u32::from(t.header.handle), TBF_HANDLE);
        let q = qdiscs_in(&[RouteNetlinkMessage::NewQueueDiscipline(t)], 5);
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].kind, "tbf");
        // The burst attribute is write-only (the kernel dumps the ticks).
        assert_eq!(q[0].tbf, Some(TbfParams { burst: None, ..p }));
    }

    #[test]
    fn tbf_options_have_the_kernel_layout() {
        let p = TbfParams {
            rate: 5_000_000_000, // above 2^32: needs TCA_TBF_RATE64
            limit: 1000,
            buffer_ticks: 77,
            burst: Some(65_536),
        };
        let bytes = to_bytes(&tbf_replace(3, &p));
        // nlmsghdr (16) + tcmsg (20), then TCA_KIND "tbf" and TCA_OPTIONS.
        let attrs: Vec<_> = tlvs(&bytes[36..]).collect();
        assert_eq!(attrs[0], (1, &b"tbf\0"[..]));
        assert_eq!(attrs[1].0 & 0x3fff, TCA_OPTIONS);
        let opts: Vec<_> = tlvs(attrs[1].1).collect();
        assert_eq!(opts.len(), 3);
        let (kind, qopt) = opts[0];
        assert_eq!((kind, qopt.len()), (TCA_TBF_PARMS, TBF_QOPT_LEN));
        assert_eq!(qopt[1], LINKLAYER_ETHERNET);
        assert_eq!(u32_at(qopt, 8), Some(u32::MAX)); // 32-bit rate saturates
        assert_eq!(u32_at(qopt, 24), Some(1000));
        assert_eq!(u32_at(qopt, 28), Some(77));
        assert_eq!(
            opts[1],
            (TCA_TBF_RATE64, &5_000_000_000u64.to_ne_bytes()[..])
        );
        assert_eq!(opts[2], (TCA_TBF_BURST, &65_536u32.to_ne_bytes()[..]));
        // And it parses back with the 64-bit rate.
        assert_eq!(TbfParams::parse(attrs[1].1).unwrap().rate, 5_000_000_000);
    }

    #[test]
    fn ingress_and_delete_messages() {
        let t = tc(wire(&ingress_add(4)));
        assert_eq!(u32::from(t.header.parent), TC_H_INGRESS);
        assert_eq!(u32::from(t.header.handle), INGRESS_HANDLE);
        assert_eq!(t.attributes, vec![TcAttribute::Kind("ingress".into())]);
        assert_eq!(
            ingress_add(4).header.flags,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
        );
        let t = tc(wire(&qdisc_del(4, TC_H_ROOT, TBF_HANDLE)));
        assert_eq!(u32::from(t.header.handle), TBF_HANDLE);
        assert!(t.attributes.is_empty());
    }

    #[test]
    fn police_filter_message_round_trips() {
        let p = PoliceParams {
            rate: 125_000,
            burst_ticks: ticks(131_072, 125_000),
            mtu: POLICE_MTU,
        };
        let m = police_replace(6, &p);
        assert_eq!(
            m.header.flags,
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE
        );
        let t = tc(wire(&m));
        assert_eq!(u32::from(t.header.parent), INGRESS_HANDLE);
        assert_eq!(u32::from(t.header.handle), U32_HANDLE);
        assert_eq!(t.header.info >> 16, u32::from(POLICE_PRIO));
        // Protocol ETH_P_ALL, in network byte order, in the low half.
        assert_eq!(((t.header.info & 0xffff) as u16).to_be(), ETH_P_ALL);
        assert!(t.attributes.contains(&TcAttribute::Kind("u32".into())));
        let opts = t
            .attributes
            .iter()
            .find_map(|a| match a {
                TcAttribute::Options(o) => Some(o.clone()),
                _ => None,
            })
            .unwrap();
        let sel = opts
            .iter()
            .find_map(|o| match o {
                TcOption::U32(TcFilterU32Option::Selector(s)) => Some(s.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(sel.flags, TcU32SelectorFlags::Terminal);
        assert_eq!((sel.nkeys, sel.keys[0].mask, sel.keys[0].val), (1, 0, 0));
        let f = filters_in(&[RouteNetlinkMessage::NewTrafficFilter(t)]);
        assert_eq!(
            f,
            vec![Filter {
                prio: POLICE_PRIO,
                handle: U32_HANDLE,
                police: Some(p)
            }]
        );
    }

    #[test]
    fn police_options_have_the_kernel_layout() {
        let p = PoliceParams {
            rate: 1_000_000,
            burst_ticks: 12_345,
            mtu: POLICE_MTU,
        };
        let opts = p.options();
        let tbf = nla_value(match &opts[0] {
            TcActionOption::Other(n) => n,
            _ => unreachable!(),
        });
        assert_eq!(tbf.len(), POLICE_LEN);
        assert_eq!(
            i32::from_ne_bytes(tbf[4..8].try_into().unwrap()),
            TC_ACT_SHOT
        );
        assert_eq!(u32_at(&tbf, 12), Some(12_345));
        assert_eq!(u32_at(&tbf, 16), Some(POLICE_MTU));
        assert_eq!(tbf[20], 9); // cell_log for a 64 KiB mtu
        assert_eq!(tbf[21], LINKLAYER_ETHERNET);
        assert_eq!(u32_at(&tbf, 28), Some(1_000_000));
        let rtab = nla_value(match &opts[1] {
            TcActionOption::Other(n) => n,
            _ => unreachable!(),
        });
        assert_eq!(rtab.len(), 1024);
        // Entry i is the time for (i + 1) << cell_log bytes: 512 bytes at 1 MB/s.
        assert_eq!(u32_at(&rtab, 0), Some(ticks(512, 1_000_000)));
        assert_eq!(u32_at(&rtab, 1020), Some(ticks(256 << 9, 1_000_000)));
        assert_eq!(opts.len(), 2, "no 64-bit rate below 2^32");
    }

    #[test]
    fn police_delete_names_only_our_priority() {
        let t = tc(wire(&police_del(6)));
        assert_eq!(t.header.info >> 16, u32::from(POLICE_PRIO));
        assert_eq!(u32::from(t.header.handle), 0);
        assert!(t.attributes.is_empty());
        let t = tc(wire(&ingress_filter_dump(6)));
        assert_eq!(u32::from(t.header.parent), INGRESS_HANDLE);
    }

    #[test]
    fn malformed_dumps_do_not_panic() {
        assert_eq!(TbfParams::parse(&[1, 2, 3]), None);
        assert_eq!(
            TbfParams::parse(&encode_nested(1, &[(1, vec![0; 8])])[4..]),
            None
        );
        assert_eq!(PoliceParams::parse(&[]), None);
    }
}
