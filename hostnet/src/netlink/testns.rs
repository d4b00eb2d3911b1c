//! Test helpers: private network namespaces, veth pairs and taps standing in for a
//! guest's `vif5.2` and `vif5.2-emu`, and the kernel features some tests need.
//!
//! Each kernel test runs in a thread that `unshare`s a new network namespace; the
//! namespace, with every device made in it, goes away when the thread ends. That needs
//! root: such tests are `#[ignore = "needs root: ..."]`, so that a plain `cargo test`
//! shows them as ignored, and `tests/run.sh` runs them as root with `--include-ignored`.
//! Run without root, they fail and say why; they never pass without running.
//!
//! A test needing a kernel feature some kernels lack is named after it,
//! `kernel_with_<feature>_...`, and one checking how vifkit reports the feature's
//! absence `kernel_without_<feature>_...` (see [`Kernel`]). `tests/run.sh` probes the
//! running kernel and passes `--skip` for the tests that cannot run on it, so that
//! they show as filtered out, never as passed.

use std::fmt::Debug;
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Barrier};

use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkInfo, LinkMessage,
};
use netlink_packet_route::RouteNetlinkMessage;
use translator::IfName;

use super::link::LinkState;
use super::{message, Netlink, NetlinkError, CREATE_EXCL, DUMP};

/// A kernel feature that some kernels lack, as named in test names and probed by
/// `tests/run.sh`: `kernel_with_8021q_...` tests need 802.1Q VLAN devices,
/// `kernel_without_8021q_...` tests need their absence.
#[derive(Clone, Copy, Debug)]
pub enum Kernel {
    /// 802.1Q VLAN devices (`ip link add ... type vlan`): `8021q`.
    Vlan8021q,
    /// VLAN filtering on Linux bridges (`vlan_filtering 1`): `vlan_filtering`.
    VlanFiltering,
    /// The tc `police` action (ingress rate limits): `tc_police`.
    TcPolice,
}

impl Kernel {
    /// The feature as an error message names it.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Vlan8021q => "802.1Q VLAN devices",
            Kernel::VlanFiltering => "bridge VLAN filtering",
            Kernel::TcPolice => "the tc police action",
        }
    }

    /// The feature as test names carry it (`kernel_with_<marker>_...`).
    pub fn marker(self) -> &'static str {
        match self {
            Kernel::Vlan8021q => "8021q",
            Kernel::VlanFiltering => "vlan_filtering",
            Kernel::TcPolice => "tc_police",
        }
    }

    /// The result of a step that needs the feature, in a `kernel_with_*` test: a
    /// failure (saying that the kernel lacks it) unless the step succeeded.
    #[track_caller]
    pub fn has<T>(self, r: Result<T, NetlinkError>) -> T {
        match r {
            Ok(v) => v,
            Err(e) if e.is_unsupported() => panic!(
                "this kernel lacks {} ({e}): tests named kernel_with_{}_* need it \
                 (tests/run.sh skips them on such kernels)",
                self.name(),
                self.marker()
            ),
            Err(e) => panic!("{e}"),
        }
    }

    /// The refusal of a step that needs the feature, in a `kernel_without_*` test: a
    /// failure unless the kernel refused it for lack of the feature.
    #[track_caller]
    pub fn lacks<T: Debug>(self, r: Result<T, NetlinkError>) -> NetlinkError {
        match r {
            Err(e) if e.is_unsupported() => e,
            Err(e) => panic!("{e}"),
            Ok(v) => panic!(
                "this kernel has {} (the step gave {v:?}): tests named \
                 kernel_without_{}_* check the refusal on kernels without it \
                 (tests/run.sh skips them on kernels with it)",
                self.name(),
                self.marker()
            ),
        }
    }
}

/// Moves the calling thread into a new network namespace.
fn unshare_netns() -> std::io::Result<()> {
    // SAFETY: unshare(2) takes no pointers; CLONE_NEWNET only changes the calling
    // thread's network namespace, which this thread owns for the test's duration.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Fails the test `test` unless it runs as root (ignored tests run only when asked).
#[track_caller]
pub fn need_root(test: &str, what: &str) {
    // SAFETY: geteuid(2) has no arguments and cannot fail.
    let euid = unsafe { libc::geteuid() };
    assert!(
        euid == 0,
        "{test}: needs root for {what} (euid {euid}); tests needing it are #[ignore]d \
         for that: run them as root, as tests/run.sh does"
    );
}

/// Moves the calling thread into a new network namespace, failing the test if it
/// cannot.
fn enter_new_netns(test: &str) {
    need_root(test, "a network namespace of its own");
    if let Err(e) = unshare_netns() {
        panic!("{test}: unshare(CLONE_NEWNET) failed: {e}");
    }
}

/// Runs `f` with a connection inside a fresh network namespace.
pub fn in_netns(test: &str, f: impl FnOnce(&Netlink) + Send) {
    std::thread::scope(|s| {
        let t = s.spawn(|| {
            enter_new_netns(test);
            let nl = Netlink::new().expect("netlink in the new namespace");
            f(&nl);
        });
        if let Err(panic) = t.join() {
            std::panic::resume_unwind(panic);
        }
    });
}

/// Runs `each` on `n` threads at once, all in one fresh network namespace with a
/// connection of their own, then `check` with the results on the namespace's first
/// thread.
pub fn in_netns_threads<T: Send>(
    test: &str,
    n: usize,
    each: impl Fn(&Netlink, usize) -> T + Sync,
    check: impl FnOnce(&Netlink, Vec<T>) + Send,
) {
    std::thread::scope(|s| {
        let owner = s.spawn(|| {
            enter_new_netns(test);
            let nl = Netlink::new().expect("netlink in the new namespace");
            let start = Arc::new(Barrier::new(n));
            // Threads started from this one share its (new) network namespace.
            let results = std::thread::scope(|inner| {
                let workers: Vec<_> = (0..n)
                    .map(|i| {
                        let start = Arc::clone(&start);
                        let each = &each;
                        inner.spawn(move || {
                            let nl = Netlink::new().expect("netlink in the shared namespace");
                            start.wait();
                            each(&nl, i)
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                    .collect()
            });
            check(&nl, results);
        });
        if let Err(panic) = owner.join() {
            std::panic::resume_unwind(panic);
        }
    });
}

/// Every device in the namespace, without its traffic counters: tests compare what was
/// configured, and counters move on their own (a bridge that is up sends IPv6 router
/// solicitations).
pub fn all_links(nl: &Netlink) -> Vec<LinkState> {
    let req = message(RouteNetlinkMessage::GetLink(LinkMessage::default()), DUMP);
    nl.call(req, "list", "all links")
        .expect("link dump")
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewLink(l) => Some(LinkState {
                counters: None,
                ..LinkState::from_message(&l)
            }),
            _ => None,
        })
        .collect()
}

/// Creates a veth pair `a` and `b` (down), returning `a`'s name.
pub fn veth(nl: &Netlink, a: &str, b: &str) -> IfName {
    let (a, b) = (
        IfName::new(a).expect("test name"),
        IfName::new(b).expect("test name"),
    );
    let mut peer = LinkMessage::default();
    peer.attributes.push(LinkAttribute::IfName(b.to_string()));
    let mut m = LinkMessage::default();
    m.attributes.push(LinkAttribute::IfName(a.to_string()));
    m.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Veth),
        LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
    ]));
    nl.ack(
        message(RouteNetlinkMessage::NewLink(m), CREATE_EXCL),
        "create veth",
        &a,
    )
    .expect("veth pair");
    a
}

/// `struct ifreq` as TUNSETIFF reads it: the name, then the flags.
#[repr(C)]
struct IfReqFlags {
    name: [u8; 16],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// Creates a tap device `name` in the calling thread's namespace (as a device model
/// does for `vifD.N-emu`); it exists while the returned descriptor is open.
pub fn tap(name: &str) -> (IfName, OwnedFd) {
    let ifname = IfName::new(name).expect("test name");
    let file = File::options()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
        .expect("/dev/net/tun");
    let mut req = IfReqFlags {
        name: [0; 16],
        flags: libc::c_short::try_from(libc::IFF_TAP | libc::IFF_NO_PI)
            .expect("IFF_TAP | IFF_NO_PI fit in a short"),
        _pad: [0; 22],
    };
    req.name[..name.len()].copy_from_slice(name.as_bytes());
    // SAFETY: TUNSETIFF reads and writes a `struct ifreq` (40 bytes on Linux), which
    // `IfReqFlags` lays out (name, flags, padding); `req` lives across the call, and
    // the descriptor is an open /dev/net/tun.
    let rc = unsafe {
        libc::ioctl(
            file.as_raw_fd(),
            libc::TUNSETIFF,
            &mut req as *mut IfReqFlags,
        )
    };
    assert_eq!(
        rc,
        0,
        "TUNSETIFF {name}: {}",
        std::io::Error::last_os_error()
    );
    (ifname, OwnedFd::from(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ifreq_has_the_kernel_layout() {
        assert_eq!(std::mem::size_of::<IfReqFlags>(), 40);
    }

    #[test]
    #[ignore = "needs root: network namespaces"]
    fn threads_share_one_namespace() {
        in_netns_threads(
            "testns_threads",
            4,
            |nl, i| {
                let name = format!("ve{i}");
                veth(nl, &name, &format!("vp{i}"));
            },
            |nl, _| {
                let names: Vec<_> = all_links(nl).into_iter().map(|l| l.name).collect();
                for i in 0..4 {
                    assert!(names.contains(&format!("ve{i}")), "{names:?}");
                }
                // Only loopback and the test's devices: a private namespace.
                assert_eq!(names.len(), 1 + 8, "{names:?}");
            },
        );
    }

    #[test]
    #[ignore = "needs root: network namespaces"]
    fn tap_exists_while_open() {
        in_netns("testns_tap", |nl| {
            let (name, fd) = tap("vif5.2-emu");
            let st = nl.link(&name).unwrap().expect("tap exists");
            assert_eq!(st.kind.as_deref(), Some("tun"));
            drop(fd);
            assert!(nl.link(&name).unwrap().is_none());
        });
    }
}
