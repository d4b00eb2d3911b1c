//! Bridge ports: [`Netlink::attach_port`] and [`Netlink::detach_port`], what Xen's
//! `vif-bridge` does with `ip link set` (MTU, master, up), in that order.

use translator::IfName;

use super::link::{self, LinkState};
use super::{check_mtu, Change, Netlink, NetlinkError, Role, Undo};

/// Which MTU a port gets when attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortMtu {
    /// The bridge's MTU (Xen's default when the vif has no `mtu` key).
    Bridge,
    /// This MTU (the vif's `mtu` key, libvirt's `<mtu size>`).
    Explicit(u32),
    /// Leave the port's MTU alone (an uplink VLAN device, which follows its NIC).
    Keep,
}

impl From<Option<u32>> for PortMtu {
    fn from(mtu: Option<u32>) -> PortMtu {
        mtu.map_or(PortMtu::Bridge, PortMtu::Explicit)
    }
}

impl Netlink {
    /// Attaches `port` to `bridge` as Xen's `vif-bridge` does: sets the port's MTU,
    /// makes the bridge its master, brings it up. `mtu` is a [`PortMtu`] or an
    /// `Option<u32>` (the vif's `mtu` key: `None` takes the bridge's MTU).
    ///
    /// Steps already as asked are skipped, so a second call changes nothing. If a step
    /// fails, the finished ones are undone in reverse (up state, previous master,
    /// previous MTU). A missing port or bridge is [`NetlinkError::NoDevice`] naming it;
    /// a bridge name that is not a bridge is [`NetlinkError::NotABridge`].
    ///
    /// A port on another bridge is moved (as `ip link set master` does); it loses the
    /// VLANs it had there, which an undo does not bring back.
    pub fn attach_port(
        &self,
        port: &IfName,
        bridge: &IfName,
        mtu: impl Into<PortMtu>,
    ) -> Result<Change, NetlinkError> {
        let mtu = mtu.into();
        if let PortMtu::Explicit(m) = mtu {
            check_mtu(m)?;
        }
        if port == bridge {
            return Err(NetlinkError::SelfPort { name: port.clone() });
        }
        let br = self.require_bridge(bridge)?;
        self.attach_port_to(port, &br, mtu)
    }

    /// [`Netlink::attach_port`] to a bridge the caller has just read (and checked is a
    /// bridge), saving a second read of it.
    pub fn attach_port_to(
        &self,
        port: &IfName,
        br: &LinkState,
        mtu: impl Into<PortMtu>,
    ) -> Result<Change, NetlinkError> {
        let mtu = mtu.into();
        if let PortMtu::Explicit(m) = mtu {
            check_mtu(m)?;
        }
        if port.as_str() == br.name {
            return Err(NetlinkError::SelfPort { name: port.clone() });
        }
        let p = self.require(port, Role::Port)?;
        self.attach(port, &p, br, mtu)
    }

    /// Attaches the port `p` (named `port`) to the bridge `br`, undoing on failure.
    pub(crate) fn attach(
        &self,
        port: &IfName,
        p: &LinkState,
        br: &LinkState,
        mtu: PortMtu,
    ) -> Result<Change, NetlinkError> {
        let want_mtu = match mtu {
            PortMtu::Bridge => Some(br.mtu),
            PortMtu::Explicit(m) => Some(m),
            PortMtu::Keep => None,
        };
        let mut undo = Undo::default();
        let result = (|| {
            if let Some(m) = want_mtu.filter(|&m| m != p.mtu) {
                self.ack(link::set_mtu(p.index, m), "set the MTU of", port)?;
                undo.push(
                    link::set_mtu(p.index, p.mtu),
                    "restore the MTU of",
                    port.as_str(),
                    &[],
                );
            }
            self.failpoint("port: after MTU", port)?;
            if p.master != Some(br.index) {
                self.ack(
                    link::set_master(p.index, br.index),
                    "set the bridge of",
                    port,
                )?;
                undo.push(
                    link::set_master(p.index, p.master.unwrap_or(0)),
                    "restore the bridge of",
                    port.as_str(),
                    &[],
                );
            }
            self.failpoint("port: after master", port)?;
            if !p.up {
                self.ack(link::set_up(p.index, true), "bring up", port)?;
                undo.push(
                    link::set_up(p.index, false),
                    "bring down",
                    port.as_str(),
                    &[],
                );
            }
            self.failpoint("port: after up", port)?;
            Ok(())
        })();
        match result {
            Ok(()) if undo.is_empty() => Ok(Change::Unchanged),
            Ok(()) => Ok(Change::Updated),
            Err(e) => Err(self.rollback(undo, e, port)),
        }
    }

    /// Takes `port` off `bridge` (`ip link set PORT nomaster`). A missing port, or a
    /// port not on `bridge` (on no bridge, or on another one), is
    /// [`Change::Unchanged`]: there is nothing of `bridge`'s to undo. The port's MTU and
    /// up state are left as they are.
    pub fn detach_port(&self, port: &IfName, bridge: &IfName) -> Result<Change, NetlinkError> {
        let Some(p) = self.link(port)? else {
            return Ok(Change::Unchanged);
        };
        let Some(master) = p.master else {
            return Ok(Change::Unchanged);
        };
        match self.link(bridge)? {
            Some(br) if br.index == master => {}
            _ => return Ok(Change::Unchanged),
        }
        match self.ack(link::set_master(p.index, 0), "clear the bridge of", port) {
            Ok(()) => Ok(Change::Removed),
            // The device went away meanwhile (a guest shutting down): detached anyway.
            Err(e) if e.errno() == Some(libc::ENODEV) => Ok(Change::Unchanged),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::netlink::testns::{in_netns, tap, veth};
    use crate::netlink::BridgeConfig;

    fn n(s: &str) -> IfName {
        IfName::new(s).unwrap()
    }

    #[test]
    fn option_maps_to_port_mtu() {
        assert_eq!(PortMtu::from(None), PortMtu::Bridge);
        assert_eq!(PortMtu::from(Some(1400)), PortMtu::Explicit(1400));
    }

    /// A bridge with MTU 9000 and the PV and emulated twins of eth2 of domain 5.
    fn setup(nl: &Netlink) -> (IfName, IfName, IfName, std::os::fd::OwnedFd) {
        let br = n("xenbr0");
        let cfg = BridgeConfig {
            mtu: Some(9000),
            ..BridgeConfig::default()
        };
        nl.ensure_bridge(&br, &cfg).unwrap();
        let pv = veth(nl, "vif5.2", "vif5.2-guest");
        let (emu, fd) = tap("vif5.2-emu");
        (br, pv, emu, fd)
    }

    #[test]
    #[ignore = "needs root: network namespaces"]
    fn kernel_attach_uses_the_bridge_mtu_or_the_given_one() {
        in_netns("port_attach", |nl| {
            let (br, pv, emu, _fd) = setup(nl);
            let bri = nl.link(&br).unwrap().unwrap().index;

            assert_eq!(nl.attach_port(&pv, &br, None).unwrap(), Change::Updated);
            let st = nl.link(&pv).unwrap().unwrap();
            assert_eq!((st.mtu, st.master, st.up), (9000, Some(bri), true));
            assert_eq!(nl.attach_port(&pv, &br, None).unwrap(), Change::Unchanged);

            assert_eq!(
                nl.attach_port(&emu, &br, Some(1500)).unwrap(),
                Change::Updated
            );
            let st = nl.link(&emu).unwrap().unwrap();
            assert_eq!((st.mtu, st.master, st.up), (1500, Some(bri), true));
            assert_eq!(
                nl.attach_port(&emu, &br, Some(1500)).unwrap(),
                Change::Unchanged
            );
            // The bridge's MTU was set explicitly, so a smaller port does not lower it.
            assert_eq!(nl.link(&br).unwrap().unwrap().mtu, 9000);

            assert_eq!(nl.detach_port(&pv, &br).unwrap(), Change::Removed);
            let st = nl.link(&pv).unwrap().unwrap();
            assert_eq!(st.master, None);
            assert_eq!(nl.detach_port(&pv, &br).unwrap(), Change::Unchanged);
            assert_eq!(
                nl.detach_port(&n("vif9.9"), &br).unwrap(),
                Change::Unchanged
            );
        });
    }

    #[test]
    #[ignore = "needs root: network namespaces"]
    fn kernel_missing_devices_are_named() {
        in_netns("port_missing", |nl| {
            let (br, pv, _emu, _fd) = setup(nl);
            let e = nl.attach_port(&n("vif7.0"), &br, None).unwrap_err();
            assert!(
                matches!(&e, NetlinkError::NoDevice { role: Role::Port, name } if name.as_str() == "vif7.0"),
                "{e}"
            );
            assert_eq!(e.to_string(), "The port vif7.0 does not exist");
            let e = nl.attach_port(&pv, &n("xenbr9"), None).unwrap_err();
            assert_eq!(e.to_string(), "The bridge xenbr9 does not exist");
            let e = nl.attach_port(&pv, &n("vif5.2-guest"), None).unwrap_err();
            assert!(matches!(e, NetlinkError::NotABridge { .. }), "{e}");
            let e = nl.attach_port(&br, &br, None).unwrap_err();
            assert!(matches!(e, NetlinkError::SelfPort { .. }), "{e}");
        });
    }

    #[test]
    #[ignore = "needs root: network namespaces"]
    fn kernel_refused_mtu_leaves_no_trace() {
        in_netns("port_bad_mtu", |nl| {
            let (br, pv, _emu, _fd) = setup(nl);
            // Beyond what a bridge and a veth take: refused before the kernel.
            assert!(matches!(
                nl.attach_port(&pv, &br, Some(70000)),
                Err(NetlinkError::Invalid { .. })
            ));
            // Within range, but a tap's MTU stops at 65521 while the bridge takes
            // 65535: the kernel refuses the first step.
            let (tap2, _fd2) = tap("vif6.0-emu");
            let big = BridgeConfig {
                mtu: Some(65535),
                ..BridgeConfig::default()
            };
            let br2 = n("bigbr");
            nl.ensure_bridge(&br2, &big).unwrap();
            let before = nl.link(&tap2).unwrap().unwrap();
            let e = nl.attach_port(&tap2, &br2, None).unwrap_err();
            assert_eq!(e.errno(), Some(libc::EINVAL), "{e}");
            assert!(
                e.to_string()
                    .starts_with("Cannot set the MTU of vif6.0-emu"),
                "{e}"
            );
            assert_eq!(nl.link(&tap2).unwrap().unwrap(), before);
        });
    }

    #[test]
    #[ignore = "needs root: network namespaces"]
    fn kernel_failure_after_enslaving_is_undone() {
        in_netns("port_rollback", |nl| {
            let (br, pv, emu, _fd) = setup(nl);
            let other = n("otherbr");
            nl.ensure_bridge(&other, &BridgeConfig::default()).unwrap();
            // The emulated twin starts on another bridge, down, MTU 1500.
            nl.attach_port(&emu, &other, None).unwrap();
            let idx = nl.link(&emu).unwrap().unwrap().index;
            nl.ack(link::set_up(idx, false), "bring down", &emu)
                .unwrap();

            for point in ["port: after MTU", "port: after master", "port: after up"] {
                for dev in [&pv, &emu] {
                    let before = nl.link(dev).unwrap().unwrap();
                    nl.fail_at(Some(point));
                    let e = nl.attach_port(dev, &br, None).unwrap_err();
                    nl.fail_at(None);
                    assert!(e.to_string().contains("injected"), "{e}");
                    assert_eq!(nl.link(dev).unwrap().unwrap(), before, "{point} {dev}");
                }
            }
            // And without the injected failure, it goes through.
            nl.attach_port(&emu, &br, None).unwrap();
            let bri = nl.link(&br).unwrap().unwrap().index;
            assert_eq!(nl.link(&emu).unwrap().unwrap().master, Some(bri));
        });
    }
}
