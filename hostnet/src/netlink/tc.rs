//! Rate limits on a bridge port with tc: a token bucket (`tbf`) root qdisc for what
//! the port sends (towards the guest), and a `police` action on the ingress qdisc for
//! what it receives (from the guest).
//!
//! Directions, from the host's side of the port:
//! - Xen's `rate` limits what the guest sends: the port's **ingress**. (netback
//!   enforces it by itself; tc is a second line.)
//! - libvirt's `<bandwidth><inbound>` (to the guest) is the port's **egress**, and
//!   `<outbound>` (from the guest) its **ingress**.

use translator::rate::Rate;
use translator::IfName;

use super::tc_wire::{
    self, Filter, PoliceParams, Qdisc, TbfParams, INGRESS_HANDLE, POLICE_MTU, POLICE_PRIO,
    TBF_HANDLE, TC_H_INGRESS, TC_H_ROOT,
};
use super::{Change, Netlink, NetlinkError, Role, Undo};

/// The smallest bucket vifkit derives: 128 KiB, the burst Xen's netback always allows
/// (`max_burst` in `tx_add_credit`, "big enough to transmit a jumbo packet"). A bucket
/// smaller than a (GSO) packet would drop it outright.
pub const MIN_BURST: u32 = 131_072;

/// How long the egress queue may hold packets before dropping: the queue limit is
/// this much traffic at the rate, plus the bucket.
const EGRESS_LATENCY_US: u64 = 50_000;

/// A token bucket: a rate and how much may be sent at once above it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    bytes_per_sec: u64,
    burst: u32,
}

impl RateLimit {
    /// A rate of `bytes_per_sec` (at least 1) with a bucket of `burst` bytes (at least
    /// 1).
    pub fn new(bytes_per_sec: u64, burst: u32) -> Result<RateLimit, NetlinkError> {
        if bytes_per_sec == 0 {
            return Err(NetlinkError::Invalid {
                what: "rate",
                why: "0 bytes per second".to_owned(),
            });
        }
        if burst == 0 {
            return Err(NetlinkError::Invalid {
                what: "burst",
                why: "0 bytes".to_owned(),
            });
        }
        Ok(RateLimit {
            bytes_per_sec,
            burst,
        })
    }

    /// Xen's credit scheme: `bytes_per_sec`, replenished every `interval_us`; the bucket
    /// holds one interval's credit, but at least [`MIN_BURST`] as netback allows.
    pub fn from_xen(bytes_per_sec: u64, interval_us: u32) -> Result<RateLimit, NetlinkError> {
        let credit = u128::from(bytes_per_sec) * u128::from(interval_us) / 1_000_000;
        let burst = u32::try_from(credit).unwrap_or(u32::MAX).max(MIN_BURST);
        RateLimit::new(bytes_per_sec, burst)
    }

    /// A vif's parsed `rate` key (see [`RateLimit::from_xen`]).
    pub fn from_xen_rate(rate: &Rate) -> Result<RateLimit, NetlinkError> {
        RateLimit::from_xen(rate.bytes_per_second(), rate.interval())
    }

    /// libvirt's `<inbound|outbound average='KiB/s' [burst='KiB']>`; without `burst`,
    /// one second's worth (libvirt's default for its policer), at least [`MIN_BURST`].
    pub fn from_libvirt(
        average_kib: u64,
        burst_kib: Option<u64>,
    ) -> Result<RateLimit, NetlinkError> {
        let too_big = |what| NetlinkError::Invalid {
            what,
            why: "too large".to_owned(),
        };
        let rate = average_kib
            .checked_mul(1024)
            .ok_or_else(|| too_big("average"))?;
        let burst = match burst_kib {
            Some(kib) => kib
                .checked_mul(1024)
                .and_then(|b| u32::try_from(b).ok())
                .ok_or_else(|| too_big("burst"))?,
            None => u32::try_from(rate).unwrap_or(u32::MAX).max(MIN_BURST),
        };
        RateLimit::new(rate, burst)
    }

    /// Bytes per second.
    pub fn bytes_per_sec(&self) -> u64 {
        self.bytes_per_sec
    }

    /// Bucket size in bytes.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// The `tbf` parameters for this limit.
    pub(crate) fn tbf(&self) -> TbfParams {
        let queued = u128::from(self.bytes_per_sec) * u128::from(EGRESS_LATENCY_US) / 1_000_000;
        let limit = u128::from(self.burst) + queued;
        TbfParams {
            rate: self.bytes_per_sec,
            limit: u32::try_from(limit).unwrap_or(u32::MAX),
            buffer_ticks: tc_wire::ticks(u64::from(self.burst), self.bytes_per_sec),
            burst: Some(self.burst),
        }
    }

    /// The `police` parameters for this limit. The kernel keeps the bucket as a time
    /// in 32-bit ticks, so below about 480 bytes/s a 128 KiB bucket is cut short.
    pub(crate) fn police(&self) -> PoliceParams {
        PoliceParams {
            rate: self.bytes_per_sec,
            burst_ticks: tc_wire::ticks(u64::from(self.burst), self.bytes_per_sec),
            mtu: POLICE_MTU,
        }
    }
}

/// Whether a dumped `tbf` is what `want` would set (the bucket comes back as a time,
/// rounded by the kernel).
fn same_tbf(have: &TbfParams, want: &TbfParams) -> bool {
    let slack = 2 + want.buffer_ticks / 1000;
    have.rate == want.rate
        && have.limit == want.limit
        && have.buffer_ticks.abs_diff(want.buffer_ticks) <= slack
}

/// The rate limits of one port; `None` means unlimited in that direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PortRateLimit {
    /// What the port sends (towards the guest): a `tbf` root qdisc.
    pub egress: Option<RateLimit>,
    /// What the port receives (from the guest): ingress policing.
    pub ingress: Option<RateLimit>,
}

/// What is on a port now.
struct TcState {
    ifindex: i32,
    root: Option<Qdisc>,
    ingress: Option<Qdisc>,
    filters: Vec<Filter>,
}

impl TcState {
    /// vifkit's `tbf` root qdisc, if that is what the root is.
    fn our_tbf(&self) -> Option<&Qdisc> {
        self.root
            .as_ref()
            .filter(|q| q.kind == "tbf" && q.handle == TBF_HANDLE)
    }

    /// A root qdisc someone configured (not the kernel's default, not ours).
    fn foreign_root(&self) -> Option<&Qdisc> {
        self.root
            .as_ref()
            .filter(|q| q.handle >> 16 != 0 && self.our_tbf().is_none())
    }

    fn our_filter(&self) -> Option<&Filter> {
        self.filters.iter().find(|f| f.prio == POLICE_PRIO)
    }
}

impl Netlink {
    fn tc_state(&self, port: &IfName, index: u32) -> Result<TcState, NetlinkError> {
        let ifindex = i32::try_from(index).map_err(|_| NetlinkError::Protocol {
            op: "read the qdiscs of",
            device: port.to_string(),
            what: format!("interface index {index} is beyond tc's range"),
        })?;
        let replies = self.call(tc_wire::qdisc_dump(), "list the qdiscs of", port)?;
        let qdiscs = tc_wire::qdiscs_in(&replies, ifindex);
        let root = qdiscs.iter().find(|q| q.parent == TC_H_ROOT).cloned();
        let ingress = qdiscs.iter().find(|q| q.parent == TC_H_INGRESS).cloned();
        let filters = if ingress.as_ref().is_some_and(|q| q.kind == "ingress") {
            let r = self.call(
                tc_wire::ingress_filter_dump(ifindex),
                "list the filters of",
                port,
            )?;
            tc_wire::filters_in(&r)
        } else {
            Vec::new()
        };
        Ok(TcState {
            ifindex,
            root,
            ingress,
            filters,
        })
    }

    /// The rate limits vifkit set on `port`, read back from the kernel (the bucket
    /// sizes come back as times and are converted back, to within rounding).
    pub fn rate_limit(&self, port: &IfName) -> Result<PortRateLimit, NetlinkError> {
        let p = self.require(port, Role::Port)?;
        let st = self.tc_state(port, p.index)?;
        let back = |rate: u64, ticks: u32| RateLimit {
            bytes_per_sec: rate,
            burst: u32::try_from(tc_wire::ticks_to_bytes(ticks, rate)).unwrap_or(u32::MAX),
        };
        Ok(PortRateLimit {
            egress: st
                .our_tbf()
                .and_then(|q| q.tbf)
                .map(|t| back(t.rate, t.buffer_ticks)),
            ingress: st
                .our_filter()
                .and_then(|f| f.police)
                .map(|p| back(p.rate, p.burst_ticks)),
        })
    }

    /// Makes `port`'s rate limits exactly `limits`: sets, replaces or removes vifkit's
    /// `tbf` root qdisc and ingress policing filter as needed; settings already in
    /// place are left alone.
    ///
    /// A root qdisc vifkit did not create is [`NetlinkError::ForeignQdisc`] (not
    /// replaced). If a step fails, the finished ones are undone: an egress limit set
    /// in the same call is taken back when policing turns out to be unsupported
    /// ([`NetlinkError::Unsupported`] for a kernel without the tc `police` action).
    pub fn set_rate_limit(
        &self,
        port: &IfName,
        limits: &PortRateLimit,
    ) -> Result<Change, NetlinkError> {
        let p = self.require(port, Role::Port)?;
        let st = self.tc_state(port, p.index)?;
        let mut undo = Undo::default();
        let mut changed = false;
        let result = (|| {
            self.apply_egress(port, &st, limits.egress.as_ref(), &mut undo, &mut changed)?;
            self.failpoint("tc: after egress", port)?;
            self.apply_ingress(port, &st, limits.ingress.as_ref(), &mut undo, &mut changed)
        })();
        match result {
            Ok(()) if changed => Ok(Change::Updated),
            Ok(()) => Ok(Change::Unchanged),
            Err(e) => Err(self.rollback(undo, e, port)),
        }
    }

    /// Removes vifkit's rate limits from `port` (both directions). A missing port has
    /// none: [`Change::Unchanged`].
    pub fn remove_rate_limit(&self, port: &IfName) -> Result<Change, NetlinkError> {
        if self.link(port)?.is_none() {
            return Ok(Change::Unchanged);
        }
        match self.set_rate_limit(port, &PortRateLimit::default()) {
            Ok(Change::Updated) => Ok(Change::Removed),
            other => other,
        }
    }

    fn apply_egress(
        &self,
        port: &IfName,
        st: &TcState,
        want: Option<&RateLimit>,
        undo: &mut Undo,
        changed: &mut bool,
    ) -> Result<(), NetlinkError> {
        let ours = st.our_tbf();
        let have = ours.and_then(|q| q.tbf);
        match want.map(RateLimit::tbf) {
            Some(w) if have.is_some_and(|h| same_tbf(&h, &w)) => {}
            Some(w) => {
                if let Some(q) = st.foreign_root() {
                    return Err(NetlinkError::ForeignQdisc {
                        device: port.clone(),
                        kind: q.kind.clone(),
                    });
                }
                // Undo: put back the old parameters, or remove the new qdisc.
                match have {
                    Some(old) => undo.push(
                        tc_wire::tbf_replace(st.ifindex, &old),
                        "restore the egress rate limit of",
                        port.as_str(),
                        &[],
                    ),
                    None => undo.push(
                        tc_wire::qdisc_del(st.ifindex, TC_H_ROOT, TBF_HANDLE),
                        "remove the egress rate limit of",
                        port.as_str(),
                        &[libc::ENOENT, libc::EINVAL],
                    ),
                }
                self.ack(
                    tc_wire::tbf_replace(st.ifindex, &w),
                    "set the egress rate limit of",
                    port,
                )?;
                *changed = true;
            }
            None if ours.is_some() => {
                if let Some(old) = have {
                    undo.push(
                        tc_wire::tbf_replace(st.ifindex, &old),
                        "restore the egress rate limit of",
                        port.as_str(),
                        &[],
                    );
                }
                self.ack(
                    tc_wire::qdisc_del(st.ifindex, TC_H_ROOT, TBF_HANDLE),
                    "remove the egress rate limit of",
                    port,
                )?;
                *changed = true;
            }
            None => {}
        }
        Ok(())
    }

    fn apply_ingress(
        &self,
        port: &IfName,
        st: &TcState,
        want: Option<&RateLimit>,
        undo: &mut Undo,
        changed: &mut bool,
    ) -> Result<(), NetlinkError> {
        let ours = st.our_filter();
        let have = ours.and_then(|f| f.police);
        let restore_filter = |undo: &mut Undo| match have {
            Some(old) => undo.push(
                tc_wire::police_replace(st.ifindex, &old),
                "restore the ingress rate limit of",
                port.as_str(),
                &[],
            ),
            None => undo.push(
                tc_wire::police_del(st.ifindex),
                "remove the ingress rate limit of",
                port.as_str(),
                &[libc::ENOENT, libc::EINVAL],
            ),
        };
        match want.map(RateLimit::police) {
            Some(w) if have == Some(w) => {}
            Some(w) => {
                match &st.ingress {
                    Some(q) if q.kind != "ingress" => {
                        return Err(NetlinkError::ForeignQdisc {
                            device: port.clone(),
                            kind: q.kind.clone(),
                        })
                    }
                    Some(_) => {}
                    None => {
                        self.ack(
                            tc_wire::ingress_add(st.ifindex),
                            "add the ingress qdisc to",
                            port,
                        )?;
                        undo.push(
                            tc_wire::qdisc_del(st.ifindex, TC_H_INGRESS, INGRESS_HANDLE),
                            "remove the ingress qdisc of",
                            port.as_str(),
                            &[libc::ENOENT, libc::EINVAL],
                        );
                        *changed = true;
                    }
                }
                self.failpoint("tc: after ingress qdisc", port)?;
                restore_filter(undo);
                self.ack(
                    tc_wire::police_replace(st.ifindex, &w),
                    "set the ingress rate limit of",
                    port,
                )
                // The action module missing: "Failed to load TC action module".
                .map_err(|e| e.unsupported_if(&[libc::ENOENT], "the tc police action"))?;
                *changed = true;
            }
            None if ours.is_some() => {
                if let Some(old) = have {
                    undo.push(
                        tc_wire::police_replace(st.ifindex, &old),
                        "restore the ingress rate limit of",
                        port.as_str(),
                        &[],
                    );
                }
                self.ack(
                    tc_wire::police_del(st.ifindex),
                    "remove the ingress rate limit of",
                    port,
                )?;
                *changed = true;
                if st.filters.iter().all(|f| f.prio == POLICE_PRIO) {
                    undo.push(
                        tc_wire::ingress_add(st.ifindex),
                        "restore the ingress qdisc of",
                        port.as_str(),
                        &[libc::EEXIST],
                    );
                    self.ack(
                        tc_wire::qdisc_del(st.ifindex, TC_H_INGRESS, INGRESS_HANDLE),
                        "remove the ingress qdisc of",
                        port,
                    )?;
                }
            }
            None => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::testns::{in_netns, tap, veth, Kernel};

    fn n(s: &str) -> IfName {
        IfName::new(s).unwrap()
    }

    #[test]
    fn bursts_follow_xen_credit_with_netbacks_floor() {
        // 10MB/s@1s: a 10 MB credit.
        let r = RateLimit::from_xen(10_000_000, 1_000_000).unwrap();
        assert_eq!((r.bytes_per_sec(), r.burst()), (10_000_000, 10_000_000));
        // 2MB/s at the default 50 ms: 100 kB credit, under netback's 128 KiB.
        let r = RateLimit::from_xen(2_000_000, 50_000).unwrap();
        assert_eq!(r.burst(), MIN_BURST);
        // 1GB/s: 50 MB per interval.
        assert_eq!(
            RateLimit::from_xen(1_000_000_000, 50_000).unwrap().burst(),
            50_000_000
        );
        // Huge rates saturate instead of overflowing.
        let big = RateLimit::from_xen(u64::from(u32::MAX) * 1_000_000_000, 4_000_000_000).unwrap();
        assert_eq!(big.burst(), u32::MAX);
        let rate: Rate = "16Mb/s".parse().unwrap();
        assert_eq!(
            RateLimit::from_xen_rate(&rate).unwrap().bytes_per_sec(),
            2_000_000
        );
        assert!(RateLimit::from_xen(0, 50_000).is_err());
        assert!(RateLimit::new(1, 0).is_err());
    }

    #[test]
    fn libvirt_units_are_kib() {
        let r = RateLimit::from_libvirt(1000, None).unwrap();
        assert_eq!((r.bytes_per_sec(), r.burst()), (1_024_000, 1_024_000));
        let r = RateLimit::from_libvirt(10, Some(256)).unwrap();
        assert_eq!((r.bytes_per_sec(), r.burst()), (10_240, 262_144));
        assert_eq!(
            RateLimit::from_libvirt(10, None).unwrap().burst(),
            MIN_BURST
        );
        assert!(RateLimit::from_libvirt(u64::MAX, None).is_err());
        assert!(RateLimit::from_libvirt(1, Some(u64::MAX)).is_err());
        assert!(RateLimit::from_libvirt(0, None).is_err());
    }

    #[test]
    fn tbf_and_police_parameters() {
        let r = RateLimit::new(2_000_000, MIN_BURST).unwrap();
        let t = r.tbf();
        assert_eq!(t.rate, 2_000_000);
        assert_eq!(t.limit, MIN_BURST + 100_000); // + 50 ms at 2 MB/s
        assert_eq!(t.burst, Some(MIN_BURST));
        assert_eq!(
            t.buffer_ticks,
            tc_wire::ticks(u64::from(MIN_BURST), 2_000_000)
        );
        assert!(same_tbf(
            &TbfParams {
                burst: None,
                buffer_ticks: t.buffer_ticks + 1,
                ..t
            },
            &t
        ));
        assert!(!same_tbf(&TbfParams { rate: 1, ..t }, &t));
        let p = r.police();
        assert_eq!((p.rate, p.mtu), (2_000_000, POLICE_MTU));
    }

    // ---- against the kernel ----

    #[test]
    #[ignore = "needs root: network namespaces"]
    fn kernel_egress_tbf_is_set_read_back_and_removed() {
        in_netns("tc_egress", |nl| {
            let port = veth(nl, "vif5.2", "vif5.2-guest");
            let (emu, _fd) = tap("vif5.2-emu");
            for dev in [&port, &emu] {
                let limit = PortRateLimit {
                    egress: Some(RateLimit::from_xen(2_000_000, 50_000).unwrap()),
                    ingress: None,
                };
                assert_eq!(nl.set_rate_limit(dev, &limit).unwrap(), Change::Updated);
                let back = nl.rate_limit(dev).unwrap();
                let eg = back.egress.expect("tbf read back");
                assert_eq!(eg.bytes_per_sec(), 2_000_000, "{dev}");
                assert!(eg.burst().abs_diff(MIN_BURST) < 64, "{eg:?}");
                assert_eq!(back.ingress, None);
                assert_eq!(nl.set_rate_limit(dev, &limit).unwrap(), Change::Unchanged);

                // A new rate replaces the qdisc in place.
                let faster = PortRateLimit {
                    egress: Some(RateLimit::new(5_000_000_000, 10_000_000).unwrap()),
                    ingress: None,
                };
                assert_eq!(nl.set_rate_limit(dev, &faster).unwrap(), Change::Updated);
                let eg = nl.rate_limit(dev).unwrap().egress.unwrap();
                assert_eq!(eg.bytes_per_sec(), 5_000_000_000, "64-bit rate");

                assert_eq!(nl.remove_rate_limit(dev).unwrap(), Change::Removed);
                assert_eq!(nl.rate_limit(dev).unwrap(), PortRateLimit::default());
                assert_eq!(nl.remove_rate_limit(dev).unwrap(), Change::Unchanged);
            }
            assert_eq!(
                nl.remove_rate_limit(&n("vif9.9")).unwrap(),
                Change::Unchanged
            );
        });
    }

    #[test]
    #[ignore = "needs root: network namespaces"]
    fn kernel_failure_after_egress_restores_the_old_limit() {
        in_netns("tc_rollback", |nl| {
            let port = veth(nl, "vif5.2", "vif5.2-guest");
            let old = PortRateLimit {
                egress: Some(RateLimit::new(1_000_000, MIN_BURST).unwrap()),
                ingress: None,
            };
            nl.set_rate_limit(&port, &old).unwrap();
            let before = nl.rate_limit(&port).unwrap();
            let new = PortRateLimit {
                egress: Some(RateLimit::new(3_000_000, MIN_BURST).unwrap()),
                ingress: Some(RateLimit::new(3_000_000, MIN_BURST).unwrap()),
            };
            nl.fail_at(Some("tc: after egress"));
            assert!(nl.set_rate_limit(&port, &new).is_err());
            nl.fail_at(None);
            assert_eq!(nl.rate_limit(&port).unwrap(), before);
            // From nothing, the undo removes the new qdisc again.
            nl.remove_rate_limit(&port).unwrap();
            nl.fail_at(Some("tc: after egress"));
            assert!(nl.set_rate_limit(&port, &new).is_err());
            nl.fail_at(None);
            assert_eq!(nl.rate_limit(&port).unwrap(), PortRateLimit::default());
        });
    }

    fn both_ways() -> PortRateLimit {
        PortRateLimit {
            egress: Some(RateLimit::new(1_000_000, MIN_BURST).unwrap()),
            ingress: Some(RateLimit::from_xen(2_000_000, 50_000).unwrap()),
        }
    }

    #[test]
    #[ignore = "needs root: network namespaces"]
    fn kernel_with_tc_police_ingress_is_policed_and_removed() {
        in_netns("tc_ingress", |nl| {
            let port = veth(nl, "vif5.2", "vif5.2-guest");
            let limit = both_ways();
            let c = Kernel::TcPolice.has(nl.set_rate_limit(&port, &limit));
            assert_eq!(c, Change::Updated);
            let back = nl.rate_limit(&port).unwrap();
            assert_eq!(back.ingress.unwrap().bytes_per_sec(), 2_000_000);
            assert_eq!(nl.set_rate_limit(&port, &limit).unwrap(), Change::Unchanged);
            assert_eq!(nl.remove_rate_limit(&port).unwrap(), Change::Removed);
            assert_eq!(nl.rate_limit(&port).unwrap(), PortRateLimit::default());
        });
    }

    #[test]
    #[ignore = "needs root: network namespaces"]
    fn kernel_without_tc_police_an_ingress_limit_is_refused_whole() {
        in_netns("tc_no_police", |nl| {
            let port = veth(nl, "vif5.2", "vif5.2-guest");
            Kernel::TcPolice.lacks(nl.set_rate_limit(&port, &both_ways()));
            // Nothing half-applied: no tbf, no ingress qdisc left behind.
            assert_eq!(nl.rate_limit(&port).unwrap(), PortRateLimit::default());
            let idx = nl.link(&port).unwrap().unwrap().index;
            let st = nl.tc_state(&port, idx).unwrap();
            assert!(st.ingress.is_none() && st.our_tbf().is_none());
        });
    }
}
