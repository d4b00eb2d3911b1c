//! Stale NIC records: records whose guest is gone, which must not keep a MAC or a
//! device name from the guests that start after it.
//!
//! A record is stale when
//! - it was written in another boot (its boot id is not this boot's): no guest survives
//!   a reboot of its host;
//! - whoever may say so says its domain is not running (libvirt's list of running
//!   domains, from a connection that may be asked; xenstore for a Xen domain);
//! - nobody can say whether its domain runs, and none of its devices is on the host
//!   (a hook may not ask libvirt: that would deadlock libvirtd);
//! - or, while a NIC is recorded, one of its device names is that NIC's: the
//!   hypervisor has just given the device to the NIC being recorded.
//!
//! A record whose domain is known to be running is never stale (but for the boot).
//! [`judge`] decides; [`write_replacing_stale`] retries a registry write after dropping
//! the stale records it clashed with; [`sweep`] drops every stale record.

use std::fmt;

use registry::{Attachment, BootId, Registry, RegistryError};
use translator::IfName;

use crate::netlink::{Netlink, NetlinkError};

/// Why a record is stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stale {
    /// Written in another boot.
    OtherBoot {
        /// The boot it was written in.
        recorded: BootId,
        /// This boot.
        now: BootId,
    },
    /// Its domain is not running, as `by` says.
    NotRunning {
        /// Who says so (`libvirt`, `xenstore`).
        by: &'static str,
    },
    /// None of its devices is on the host, and nobody says its domain runs.
    DevicesGone {
        /// The devices looked for.
        devices: Vec<IfName>,
    },
    /// The device is the NIC's being recorded now.
    DeviceTaken {
        /// The device.
        device: IfName,
    },
}

impl fmt::Display for Stale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stale::OtherBoot { recorded, now } => {
                write!(f, "it was written in boot {recorded}, not this boot {now}")
            }
            Stale::NotRunning { by } => write!(f, "its domain is not running ({by} says)"),
            Stale::DevicesGone { devices } => {
                let names: Vec<&str> = devices.iter().map(IfName::as_str).collect();
                write!(
                    f,
                    "{} not on this host, and its domain is not known to run",
                    match names.as_slice() {
                        [one] => format!("its device {one} is"),
                        _ => format!("its devices {} are", names.join(", ")),
                    }
                )
            }
            Stale::DeviceTaken { device } => {
                write!(f, "{device} belongs to the NIC being recorded now")
            }
        }
    }
}

/// One line saying that `a` was dropped and why.
pub fn dropped_line(a: &Attachment, why: &Stale) -> String {
    format!(
        "dropped the stale record of {} ({}): {why}",
        a.owner(),
        a.backend
    )
}

/// Whether a record's domain runs, and who says so (`libvirt`, `xenstore`).
pub type Running = Option<(bool, &'static str)>;

/// Whether record `a` is stale: `boot` is this boot's id (`None`: not known);
/// `running` whether its domain runs, when someone may say (`None`: nobody); `present`
/// whether a device is on the host.
pub fn judge_with(
    a: &Attachment,
    boot: Option<BootId>,
    running: Running,
    present: &mut dyn FnMut(&IfName) -> Result<bool, NetlinkError>,
) -> Result<Option<Stale>, NetlinkError> {
    if let (Some(recorded), Some(now)) = (a.boot_id, boot) {
        if recorded != now {
            return Ok(Some(Stale::OtherBoot { recorded, now }));
        }
    }
    match running {
        Some((true, _)) => Ok(None),
        Some((false, by)) => Ok(Some(Stale::NotRunning { by })),
        None => {
            for dev in a.devices() {
                if present(dev)? {
                    return Ok(None);
                }
            }
            Ok(Some(Stale::DevicesGone {
                devices: a.devices().cloned().collect(),
            }))
        }
    }
}

/// [`judge_with`] with the devices looked up through `nl`.
pub fn judge(
    a: &Attachment,
    boot: Option<BootId>,
    running: Running,
    nl: &Netlink,
) -> Result<Option<Stale>, NetlinkError> {
    judge_with(a, boot, running, &mut |dev| Ok(nl.link(dev)?.is_some()))
}

/// How many stale records one write may replace before it gives up: a NIC clashes with
/// at most three records (its MAC, its backend, its twin), and each one dropped is gone.
const REPLACEMENTS: usize = 8;

/// Runs `write` (a [`Registry::record`] or [`Registry::replace_domain`] of NICs the
/// hypervisor has just given their devices); when it clashes with a record that
/// `judge` finds stale, or that holds one of the devices being recorded, drops that
/// record (if it is still as read), tells `dropped`, and runs `write` again. A clash
/// with a live record is `write`'s error, as it was.
pub fn write_replacing_stale<T>(
    reg: &dyn Registry,
    mut write: impl FnMut() -> Result<T, RegistryError>,
    judge: &dyn Fn(&Attachment) -> Option<Stale>,
    dropped: &mut dyn FnMut(&Attachment, &Stale),
) -> Result<T, RegistryError> {
    for _ in 0..REPLACEMENTS {
        let err = match write() {
            Err(e @ (RegistryError::MacClash { .. } | RegistryError::NameClash { .. })) => e,
            other => return other,
        };
        let (owner, device) = match &err {
            RegistryError::MacClash { owner, .. } => (owner, None),
            RegistryError::NameClash { name, owner } => (owner, Some(name)),
            _ => return Err(err),
        };
        let Some(old) = reg.attachment(owner.driver, owner.domid, owner.devid)? else {
            // Gone meanwhile: try again.
            continue;
        };
        let why = match device {
            Some(device) => Some(Stale::DeviceTaken {
                device: device.clone(),
            }),
            None => judge(&old),
        };
        let Some(why) = why else {
            return Err(err);
        };
        if reg.remove_if_unchanged(&old)? {
            dropped(&old, &why);
        }
    }
    write()
}

/// What [`sweep`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    /// The records dropped, and why.
    pub dropped: Vec<(Attachment, Stale)>,
    /// How many records were kept.
    pub kept: usize,
}

/// Drops every record `judge` finds stale (each only if it is still as read).
pub fn sweep(
    reg: &dyn Registry,
    judge: &mut dyn FnMut(&Attachment) -> Result<Option<Stale>, NetlinkError>,
) -> Result<Swept, SweepError> {
    let mut out = Swept::default();
    for a in reg.attachments()? {
        match judge(&a)? {
            Some(why) => {
                if reg.remove_if_unchanged(&a)? {
                    out.dropped.push((a, why));
                } else {
                    out.kept += 1;
                }
            }
            None => out.kept += 1,
        }
    }
    Ok(out)
}

/// Why [`sweep`] failed.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A device could not be looked up.
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use registry::{Bridge, BridgeKind, DomainName, Driver, SqliteRegistry};

    fn n(s: &str) -> IfName {
        IfName::new(s).unwrap()
    }

    fn other_boot() -> BootId {
        "6b0e2f6c-92a5-4d8e-9a0e-1c2b3d4e5f60".parse().unwrap()
    }

    fn alice() -> Attachment {
        Attachment::xen(
            DomainName::new("alice").unwrap(),
            7,
            0,
            "00:16:3e:00:07:00".parse().unwrap(),
            n("br0"),
            true,
        )
        .unwrap()
    }

    fn present(
        names: &'static [&'static str],
    ) -> impl FnMut(&IfName) -> Result<bool, NetlinkError> {
        move |d| Ok(names.contains(&d.as_str()))
    }

    #[test]
    fn the_rules() {
        let now = BootId::current();
        let a = alice();
        let j = |a: &Attachment, running, names| judge_with(a, now, running, &mut present(names));
        // Its devices are there, or one of them: live.
        assert_eq!(j(&a, None, &["vif7.0", "vif7.0-emu"]).unwrap(), None);
        assert_eq!(j(&a, None, &["vif7.0-emu"]).unwrap(), None);
        // Gone, and nobody says the domain runs: stale.
        let why = j(&a, None, &[]).unwrap().unwrap();
        assert_eq!(
            why.to_string(),
            "its devices vif7.0, vif7.0-emu are not on this host, and its domain is not \
             known to run"
        );
        assert_eq!(
            dropped_line(&a, &why),
            "dropped the stale record of Xen domain \"alice\" (id 7) device 0 (vif7.0): \
             its devices vif7.0, vif7.0-emu are not on this host, and its domain is not \
             known to run"
        );
        // Someone says whether it runs: that decides.
        assert_eq!(j(&a, Some((true, "libvirt")), &[]).unwrap(), None);
        let why = j(&a, Some((false, "xenstore")), &["vif7.0"])
            .unwrap()
            .unwrap();
        assert_eq!(why, Stale::NotRunning { by: "xenstore" });
        assert_eq!(why.to_string(), "its domain is not running (xenstore says)");
        // Another boot: stale whatever else is said.
        let mut old = a.clone();
        old.boot_id = Some(other_boot());
        let why = j(&old, Some((true, "libvirt")), &["vif7.0"])
            .unwrap()
            .unwrap();
        assert!(matches!(why, Stale::OtherBoot { .. }), "{why:?}");
        assert_eq!(
            why.to_string(),
            format!(
                "it was written in boot {}, not this boot {}",
                other_boot(),
                now.unwrap()
            )
        );
        // A record that does not say its boot: the other rules.
        old.boot_id = None;
        assert_eq!(j(&old, None, &["vif7.0"]).unwrap(), None);
        // A device lookup that fails is an error, never "gone".
        let err = judge_with(&a, now, None, &mut |_| {
            Err(NetlinkError::NotABridge {
                name: n("x"),
                kind: None,
            })
        });
        assert!(err.is_err());
    }

    fn registry() -> (tempfile::TempDir, SqliteRegistry) {
        let dir = tempfile::tempdir().unwrap();
        let reg = SqliteRegistry::open(dir.path().join("r.db")).unwrap();
        reg.add_bridge(&Bridge::new(n("br0"), BridgeKind::Linux))
            .unwrap();
        (dir, reg)
    }

    #[test]
    fn a_write_replaces_stale_records_and_refuses_live_ones() {
        let (_dir, reg) = registry();
        let mut old = alice();
        old.boot_id = Some(other_boot());
        reg.record(&old).unwrap();
        // bob comes with alice's MAC.
        let mut bob = Attachment::xen(
            DomainName::new("bob").unwrap(),
            3,
            0,
            old.mac,
            n("br0"),
            false,
        )
        .unwrap();
        // Every device is there: only the boot tells.
        let stale_by_boot = |a: &Attachment| {
            judge_with(
                a,
                BootId::current(),
                None,
                &mut present(&["vif7.0", "vif3.0"]),
            )
            .unwrap()
        };
        let mut lines = Vec::new();
        write_replacing_stale(&reg, || reg.record(&bob), &stale_by_boot, &mut |a, why| {
            lines.push(dropped_line(a, why))
        })
        .unwrap();
        assert_eq!(lines.len(), 1);
        assert!(lines[0].starts_with("dropped the stale record of Xen domain \"alice\""));
        assert_eq!(reg.attachments().unwrap(), [bob.clone()]);
        // carol comes with bob's MAC: bob is live, so carol is refused as before.
        let mut carol = alice();
        carol.domain_name = DomainName::new("carol").unwrap();
        carol.mac = bob.mac;
        let err =
            write_replacing_stale(&reg, || reg.record(&carol), &stale_by_boot, &mut |_, _| {
                panic!("nothing is stale")
            })
            .unwrap_err();
        assert!(matches!(err, RegistryError::MacClash { .. }), "{err:?}");
        // A device name: the NIC being recorded has it now, whatever else is said.
        bob.mac = "00:16:3e:00:03:01".parse().unwrap();
        reg.record(&bob).unwrap();
        let q = Attachment::qemu(
            DomainName::new("q").unwrap(),
            3,
            0,
            "52:54:00:00:00:01".parse().unwrap(),
            n("br0"),
            n("vif3.0"),
        );
        assert_eq!(q.driver, Driver::Qemu);
        let mut why = Vec::new();
        write_replacing_stale(&reg, || reg.record(&q), &|_| None, &mut |_, w| {
            why.push(w.clone())
        })
        .unwrap();
        assert_eq!(
            why,
            [Stale::DeviceTaken {
                device: n("vif3.0")
            }]
        );
        assert_eq!(reg.attachments().unwrap(), [q]);
    }

    #[test]
    fn a_sweep_drops_the_stale_records_only() {
        let (_dir, reg) = registry();
        let mut old = alice();
        old.boot_id = Some(other_boot());
        reg.record(&old).unwrap();
        let live = Attachment::xen(
            DomainName::new("bob").unwrap(),
            3,
            0,
            "00:16:3e:00:03:00".parse().unwrap(),
            n("br0"),
            false,
        )
        .unwrap();
        reg.record(&live).unwrap();
        let swept = sweep(&reg, &mut |a| {
            judge_with(a, BootId::current(), None, &mut present(&["vif3.0"]))
        })
        .unwrap();
        assert_eq!(swept.kept, 1);
        assert_eq!(swept.dropped.len(), 1);
        assert_eq!(swept.dropped[0].0, old);
        assert_eq!(reg.attachments().unwrap(), [live]);
    }
}
