//! The files of one registered bridge in each format. The keys are each system's own:
//!
//! - `ifcfg-suse` (wicked, `/etc/sysconfig/network`): `ifcfg-BRIDGE` with `BRIDGE='yes'`,
//!   `BRIDGE_PORTS`, `BRIDGE_STP`, `MTU` (ifcfg-bridge(5)); `ifcfg-UPLINK.N` with
//!   `ETHERDEVICE` and `VLAN_ID` (ifcfg-vlan(5)).
//! - `ifcfg-redhat` (initscripts, `/etc/sysconfig/network-scripts`): `ifcfg-BRIDGE` with
//!   `TYPE=Bridge`, `STP`, `MTU`; the port's own file with `BRIDGE=`; a VLAN port with
//!   `VLAN=yes` and `PHYSDEV`; Open vSwitch as Open vSwitch's `ifup-ovs` reads it
//!   (`DEVICETYPE=ovs`, `TYPE=OVSBridge`/`OVSPort`, `OVS_BRIDGE`, `OVS_EXTRA`).
//! - `ifupdown` (`/etc/network/interfaces.d`): one stanza with bridge-utils'
//!   `bridge_ports`, `bridge_stp`, `bridge_maxwait` and `mtu` (bridge-utils creates a
//!   `UPLINK.N` port itself); Open vSwitch with openvswitch-switch's `ovs_type
//!   OVSBridge`/`OVSPort`, `ovs_ports`, `ovs_bridge`, `ovs_extra`.
//! - `networkd` (`/etc/systemd/network`): `.netdev` files (`Kind=bridge`, `[Bridge]
//!   STP=`, `MTUBytes=`; `Kind=vlan`, `[VLAN] Id=`) and `.network` files (`Bridge=`, and
//!   `VLAN=` in a drop-in of the raw device's file, one per bridge).
//! - `nmconnection` (`/etc/NetworkManager/system-connections`, mode 0600): keyfiles of
//!   `type=bridge` (`[bridge] stp=`, `[ethernet] mtu=`), the uplink as `type=ethernet`
//!   or `type=vlan` (`[vlan] parent=`, `id=`) with `master=` and `slave-type=bridge`.

use std::fmt::Write as _;

use registry::{Bridge, BridgeKind};
use translator::diag::shown;

use super::{header, OutFile};
use crate::cli::ExportFormat;

/// Characters every format carries as they are: no quoting, no globbing, no escapes.
fn safe_name(name: &str) -> bool {
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+' | b'@'))
}

/// The files for bridge `b`, or why the format cannot describe it.
pub fn files(format: ExportFormat, b: &Bridge) -> Result<Vec<OutFile>, String> {
    let device = b.uplink_device().map_err(|e| e.to_string())?;
    for name in [Some(&b.name), b.uplink.as_ref(), device.as_ref()]
        .into_iter()
        .flatten()
    {
        if !safe_name(name) {
            return Err(format!(
                "name {} has characters {} files cannot carry as they are (only letters, \
                 digits and . _ - + @)",
                shown(name),
                format.as_str()
            ));
        }
    }
    let spec = Spec {
        name: b.name.as_str(),
        uplink: b.uplink.as_ref().map(|u| u.as_str()),
        vlan: b.vlan.map(|v| v.get()),
        device: device.as_ref().map(|d| d.as_str()),
        mtu: b.mtu.map(|m| m.get()),
        stp: b.stp,
    };
    match (b.kind, format) {
        (BridgeKind::Linux, ExportFormat::IfcfgSuse) => Ok(suse(&spec)),
        (BridgeKind::Linux, ExportFormat::IfcfgRedhat) => Ok(redhat(&spec)),
        (BridgeKind::Linux, ExportFormat::Ifupdown) => Ok(ifupdown(&spec)),
        (BridgeKind::Linux, ExportFormat::Networkd) => Ok(networkd(&spec)),
        (BridgeKind::Linux, ExportFormat::Nmconnection) => Ok(nm(&spec)),
        (BridgeKind::Ovs, _) if spec.vlan.is_some() => Err(
            "an Open vSwitch bridge with an uplink VLAN is not something vifkit builds \
             (bridge ensure refuses it too)"
                .to_owned(),
        ),
        (BridgeKind::Ovs, ExportFormat::Ifupdown) => Ok(ifupdown_ovs(&spec)),
        (BridgeKind::Ovs, ExportFormat::IfcfgRedhat) => Ok(redhat_ovs(&spec)),
        (BridgeKind::Ovs, ExportFormat::Networkd) => Err(
            "an Open vSwitch bridge cannot be written as systemd-networkd files \
             (networkd has no Open vSwitch support)"
                .to_owned(),
        ),
        (BridgeKind::Ovs, ExportFormat::Nmconnection) => Err(
            "an Open vSwitch bridge is not written as NetworkManager keyfiles (its \
             ovs-bridge, ovs-port and ovs-interface profiles need the NetworkManager-ovs \
             plugin; vifkit does not write them)"
                .to_owned(),
        ),
        (BridgeKind::Ovs, ExportFormat::IfcfgSuse) => Err(
            "an Open vSwitch bridge is not written as SUSE ifcfg files (vifkit does not \
             write wicked's ifcfg-ovs-bridge files)"
                .to_owned(),
        ),
    }
}

/// A bridge's settings, as the formats need them.
struct Spec<'a> {
    name: &'a str,
    uplink: Option<&'a str>,
    vlan: Option<u16>,
    /// The port: the uplink, or `UPLINK.VLAN`.
    device: Option<&'a str>,
    mtu: Option<u32>,
    stp: bool,
}

fn file(path: String, text: String) -> OutFile {
    OutFile {
        path,
        text,
        mode: 0o644,
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

fn true_false(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

fn suse(s: &Spec<'_>) -> Vec<OutFile> {
    let f = ExportFormat::IfcfgSuse;
    let mut br = header(f, &format!("bridge {}", s.name));
    br.push_str("STARTMODE='auto'\nBOOTPROTO='none'\nBRIDGE='yes'\n");
    let _ = writeln!(br, "BRIDGE_PORTS='{}'", s.device.unwrap_or(""));
    let _ = writeln!(br, "BRIDGE_STP='{}'", on_off(s.stp));
    if let Some(m) = s.mtu {
        let _ = writeln!(br, "MTU='{m}'");
    }
    let mut out = vec![file(format!("ifcfg-{}", s.name), br)];
    if let (Some(uplink), Some(vlan), Some(dev)) = (s.uplink, s.vlan, s.device) {
        let mut v = header(
            f,
            &format!("VLAN {vlan} on {uplink}, the port of bridge {}", s.name),
        );
        v.push_str("STARTMODE='auto'\nBOOTPROTO='none'\n");
        let _ = writeln!(v, "ETHERDEVICE='{uplink}'\nVLAN_ID='{vlan}'");
        out.push(file(format!("ifcfg-{dev}"), v));
    }
    out
}

fn redhat(s: &Spec<'_>) -> Vec<OutFile> {
    let f = ExportFormat::IfcfgRedhat;
    let mut br = header(f, &format!("bridge {}", s.name));
    let _ = writeln!(
        br,
        "DEVICE={}\nTYPE=Bridge\nONBOOT=yes\nBOOTPROTO=none\nSTP={}",
        s.name,
        yes_no(s.stp)
    );
    if let Some(m) = s.mtu {
        let _ = writeln!(br, "MTU={m}");
    }
    let mut out = vec![file(format!("ifcfg-{}", s.name), br)];
    if let Some(dev) = s.device {
        let mut p = match (s.uplink, s.vlan) {
            (Some(uplink), Some(vlan)) => {
                let mut p = header(
                    f,
                    &format!("VLAN {vlan} on {uplink}, the port of bridge {}", s.name),
                );
                let _ = writeln!(p, "DEVICE={dev}\nVLAN=yes\nPHYSDEV={uplink}");
                p
            }
            _ => {
                let mut p = header(f, &format!("uplink {dev}, the port of bridge {}", s.name));
                let _ = writeln!(p, "DEVICE={dev}");
                p
            }
        };
        let _ = writeln!(p, "ONBOOT=yes\nBOOTPROTO=none\nBRIDGE={}", s.name);
        if let (Some(m), None) = (s.mtu, s.vlan) {
            let _ = writeln!(p, "MTU={m}");
        }
        out.push(file(format!("ifcfg-{dev}"), p));
    }
    out
}

/// The `ovs-vsctl` commands that give an Open vSwitch bridge its STP and MTU.
fn ovs_extra(s: &Spec<'_>) -> String {
    let mut e = format!("set bridge {} stp_enable={}", s.name, true_false(s.stp));
    if let Some(m) = s.mtu {
        let _ = write!(e, " -- set interface {} mtu_request={m}", s.name);
    }
    e
}

fn redhat_ovs(s: &Spec<'_>) -> Vec<OutFile> {
    let f = ExportFormat::IfcfgRedhat;
    let mut br = header(f, &format!("Open vSwitch bridge {}", s.name));
    let _ = writeln!(
        br,
        "DEVICE={}\nDEVICETYPE=ovs\nTYPE=OVSBridge\nONBOOT=yes\nBOOTPROTO=none\nOVS_EXTRA=\"{}\"",
        s.name,
        ovs_extra(s)
    );
    let mut out = vec![file(format!("ifcfg-{}", s.name), br)];
    if let Some(dev) = s.device {
        let mut p = header(
            f,
            &format!("uplink {dev}, the port of Open vSwitch bridge {}", s.name),
        );
        let _ = writeln!(
            p,
            "DEVICE={dev}\nDEVICETYPE=ovs\nTYPE=OVSPort\nOVS_BRIDGE={}\nONBOOT=yes\nBOOTPROTO=none",
            s.name
        );
        out.push(file(format!("ifcfg-{dev}"), p));
    }
    out
}

fn ifupdown(s: &Spec<'_>) -> Vec<OutFile> {
    let mut t = header(ExportFormat::Ifupdown, &format!("bridge {}", s.name));
    let _ = writeln!(t, "auto {0}\niface {0} inet manual", s.name);
    let _ = writeln!(t, "\tbridge_ports {}", s.device.unwrap_or("none"));
    let _ = writeln!(t, "\tbridge_stp {}", on_off(s.stp));
    // vifkit's own `bridge ensure` does not wait for the ports to forward either.
    t.push_str("\tbridge_maxwait 0\n");
    if let Some(m) = s.mtu {
        let _ = writeln!(t, "\tmtu {m}");
    }
    vec![file(format!("vifkit-{}", s.name), t)]
}

fn ifupdown_ovs(s: &Spec<'_>) -> Vec<OutFile> {
    let mut t = header(
        ExportFormat::Ifupdown,
        &format!("Open vSwitch bridge {}", s.name),
    );
    let _ = writeln!(
        t,
        "allow-ovs {0}\niface {0} inet manual\n\tovs_type OVSBridge",
        s.name
    );
    if let Some(dev) = s.device {
        let _ = writeln!(t, "\tovs_ports {dev}");
    }
    let _ = writeln!(t, "\tovs_extra {}", ovs_extra(s));
    if let Some(dev) = s.device {
        let _ = writeln!(
            t,
            "\nallow-{} {dev}\niface {dev} inet manual\n\tovs_bridge {}\n\tovs_type OVSPort",
            s.name, s.name
        );
    }
    vec![file(format!("vifkit-{}", s.name), t)]
}

fn networkd(s: &Spec<'_>) -> Vec<OutFile> {
    let f = ExportFormat::Networkd;
    let mut out = Vec::new();
    let mut nd = header(f, &format!("bridge {}", s.name));
    let _ = writeln!(nd, "[NetDev]\nName={}\nKind=bridge", s.name);
    if let Some(m) = s.mtu {
        let _ = writeln!(nd, "MTUBytes={m}");
    }
    let _ = writeln!(nd, "\n[Bridge]\nSTP={}", yes_no(s.stp));
    out.push(file(format!("50-vifkit-{}.netdev", s.name), nd));
    let mut nw = header(f, &format!("bridge {}", s.name));
    let _ = writeln!(
        nw,
        "[Match]\nName={}\n\n[Network]\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n\
         ConfigureWithoutCarrier=yes\n\n[Link]\nRequiredForOnline=no",
        s.name
    );
    out.push(file(format!("50-vifkit-{}.network", s.name), nw));
    match (s.uplink, s.vlan, s.device) {
        (Some(uplink), Some(vlan), Some(dev)) => {
            let mut v = header(
                f,
                &format!("VLAN {vlan} on {uplink}, the port of bridge {}", s.name),
            );
            let _ = writeln!(v, "[NetDev]\nName={dev}\nKind=vlan\n\n[VLAN]\nId={vlan}");
            out.push(file(format!("50-vifkit-{dev}.netdev"), v));
            let mut p = header(
                f,
                &format!("VLAN device {dev}, the port of bridge {}", s.name),
            );
            let _ = writeln!(p, "[Match]\nName={dev}\n\n[Network]\nBridge={}", s.name);
            out.push(file(format!("50-vifkit-{dev}.network"), p));
            // The raw device's file is shared by its VLAN bridges; each adds its VLAN in
            // a drop-in of its own, so exporting one bridge never drops another's.
            let mut raw = header(
                f,
                &format!("{uplink}, raw device of VLAN bridges (VLAN= in the drop-ins)"),
            );
            let _ = writeln!(raw, "[Match]\nName={uplink}");
            out.push(file(format!("50-vifkit-{uplink}.network"), raw));
            let mut d = header(f, &format!("VLAN {vlan} on {uplink} for bridge {}", s.name));
            let _ = writeln!(d, "[Network]\nVLAN={dev}");
            out.push(file(
                format!("50-vifkit-{uplink}.network.d/vifkit-{}.conf", s.name),
                d,
            ));
        }
        (_, _, Some(dev)) => {
            let mut p = header(f, &format!("uplink {dev}, the port of bridge {}", s.name));
            let _ = writeln!(p, "[Match]\nName={dev}");
            if let Some(m) = s.mtu {
                let _ = writeln!(p, "\n[Link]\nMTUBytes={m}");
            }
            let _ = writeln!(p, "\n[Network]\nBridge={}", s.name);
            out.push(file(format!("50-vifkit-{dev}.network"), p));
        }
        _ => {}
    }
    out
}

/// A UUID that depends only on `id` (RFC 9562 version 8, from two FNV-1a hashes, mixed), so
/// that exporting again gives the same profile.
fn uuid(id: &str) -> String {
    let fnv = |seed: &str| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in seed.bytes().chain(id.bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // splitmix64's finaliser: names that differ in their last byte differ everywhere.
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^ (h >> 31)
    };
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&fnv("vifkit-export-uuid-1:").to_be_bytes());
    b[8..].copy_from_slice(&fnv("vifkit-export-uuid-2:").to_be_bytes());
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn nm_file(id: &str, text: String) -> OutFile {
    OutFile {
        path: format!("{id}.nmconnection"),
        text,
        // NetworkManager ignores keyfiles that others can read.
        mode: 0o600,
    }
}

fn nm(s: &Spec<'_>) -> Vec<OutFile> {
    let f = ExportFormat::Nmconnection;
    let id = format!("vifkit-{}", s.name);
    let mut br = header(f, &format!("bridge {}", s.name));
    let _ = writeln!(
        br,
        "[connection]\nid={id}\nuuid={}\ntype=bridge\ninterface-name={}\n",
        uuid(&id),
        s.name
    );
    if let Some(m) = s.mtu {
        let _ = writeln!(br, "[ethernet]\nmtu={m}\n");
    }
    let _ = writeln!(
        br,
        "[bridge]\nstp={}\n\n[ipv4]\nmethod=disabled\n\n[ipv6]\nmethod=disabled",
        true_false(s.stp)
    );
    let mut out = vec![nm_file(&id, br)];
    if let Some(dev) = s.device {
        let pid = format!("vifkit-{dev}");
        let (what, kind) = match s.vlan {
            Some(v) => (format!("VLAN {v} on {}", s.uplink.unwrap_or("")), "vlan"),
            None => (format!("uplink {dev}"), "ethernet"),
        };
        let mut p = header(f, &format!("{what}, the port of bridge {}", s.name));
        let _ = writeln!(
            p,
            "[connection]\nid={pid}\nuuid={}\ntype={kind}\ninterface-name={dev}\nmaster={}\n\
             slave-type=bridge\n\n[bridge-port]",
            uuid(&pid),
            s.name
        );
        match (s.uplink, s.vlan) {
            (Some(uplink), Some(v)) => {
                let _ = writeln!(p, "\n[vlan]\nid={v}\nparent={uplink}");
            }
            _ => {
                if let Some(m) = s.mtu {
                    let _ = writeln!(p, "\n[ethernet]\nmtu={m}");
                }
            }
        }
        out.push(nm_file(&pid, p));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_stable_and_well_formed() {
        let a = uuid("vifkit-br0");
        assert_eq!(a, uuid("vifkit-br0"));
        assert_ne!(a, uuid("vifkit-br1"));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "8");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
    }

    #[test]
    fn only_plain_names_pass() {
        assert!(safe_name("bond0.900"));
        assert!(!safe_name("br*"));
        assert!(!safe_name("br'0"));
        assert!(!safe_name("br$x"));
    }
}
