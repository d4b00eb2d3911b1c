//! The direct path from a vif spec to `<interface>` XML, for the common NIC: one pass
//! over the spec's tokens, the element written as the values are read, no model in
//! between and no allocation but the output.
//!
//! It takes only what it can translate without a word to say: the keys `mac`, `bridge`,
//! `script`, `ip`, `model`, `type`, `vifname`, `rate`, `backend`, `mtu` and `vlan`, each once,
//! with values that convert without a warning, and no xl.conf defaults. For anything
//! else (an error, a warning, another key) it declines, leaving the output as it was,
//! and the caller takes the full path ([`crate::to_xml`] and the writer), which has the
//! last word. Where it writes, it writes exactly what the full path writes: the tests
//! hold the two to that, over the corpus and over generated specs.

use std::net::Ipv6Addr;

use crate::bridge_spec::{parse_with, OvsBridge};
use crate::guest::GuestType;
use crate::ifname::IfName;
use crate::interface_xml::write::{push_escaped, push_ipv6, push_mac, push_u64};
use crate::mac::MacAddr;
use crate::model::{self, NETFRONT};
use crate::rate::{Rate, DEFAULT_INTERVAL_US};
use crate::to_xml::{script_name, Defaults, LIBVIRT_RESERVED_PREFIXES};
use crate::vif::{self, tokenize, Key};
use crate::vlan::{VlanMode, VlanSpec};

/// At most this many OVS VLAN tags on the direct path (more: the full path).
const MAX_TAGS: usize = 16;

/// The values of one spec, as written, before conversion.
#[derive(Default)]
struct Fields<'a> {
    mac: Option<MacAddr>,
    /// The MAC as written, when that is already libvirt's form (lower-case hex).
    mac_text: Option<&'a str>,
    bridge: Option<&'a str>,
    script: Option<&'a str>,
    ip: Option<&'a str>,
    model: Option<&'a str>,
    pv_only: Option<bool>,
    vifname: Option<&'a str>,
    rate: Option<Rate>,
    backend: Option<&'a str>,
    mtu: Option<u32>,
    vlan: Option<VlanSpec>,
}

/// A plain text value, as the full path's parser checks it.
fn text(v: &str) -> Option<&str> {
    vif::text(v).ok().map(|_| v)
}

/// A decimal number in `min..=max`, as the full path's parser reads it.
fn number(v: &str, min: u64, max: u64) -> Option<u64> {
    vif::number(v, min, max).ok()
}

fn fields(spec: &str) -> Option<Fields<'_>> {
    let mut f = Fields::default();
    let mut seen = 0u32;
    for tok in tokenize(spec) {
        let key = Key::from_name(tok.key)?;
        let v = tok.value.filter(|v| !v.is_empty())?;
        let bit = 1 << key as u32;
        if seen & bit != 0 {
            return None;
        }
        seen |= bit;
        match key {
            Key::Mac => {
                f.mac = Some(v.parse().ok()?);
                // Parsed: 17 bytes of hex pairs and colons.
                f.mac_text = (!v.bytes().any(|c| c.is_ascii_uppercase())).then_some(v);
            }
            Key::Bridge => f.bridge = Some(text(v)?),
            Key::Script => f.script = Some(text(v)?),
            Key::Ip => f.ip = Some(v),
            Key::Model => f.model = Some(text(v)?),
            Key::Type => {
                f.pv_only = Some(match v {
                    "ioemu" => false,
                    "vif" | "netfront" => true,
                    _ => return None,
                })
            }
            Key::Vifname => {
                IfName::validate(v).ok()?;
                f.vifname = Some(v);
            }
            Key::Rate => f.rate = Some(v.parse().ok()?),
            Key::Backend => f.backend = Some(text(v)?),
            Key::Mtu => f.mtu = Some(number(v, 1, 65535)? as u32),
            Key::Vlan => f.vlan = Some(v.parse().ok()?),
            _ => return None,
        }
    }
    Some(f)
}

/// Strict dotted-quad IPv4 (`0`-`255`, no leading zeros): exactly the text the full
/// path writes back for it. Anything else is declined.
fn is_plain_ipv4(s: &str) -> bool {
    let b = s.as_bytes();
    let mut parts = 0;
    let mut i = 0;
    while i <= b.len() {
        let start = i;
        let mut n = 0u32;
        while i < b.len() && b[i].is_ascii_digit() {
            n = n * 10 + u32::from(b[i] - b'0');
            i += 1;
            if i - start > 3 {
                return false;
            }
        }
        let len = i - start;
        if len == 0 || n > 255 || (len > 1 && b[start] == b'0') {
            return false;
        }
        parts += 1;
        if i == b.len() {
            break;
        }
        if b[i] != b'.' || parts == 4 {
            return false;
        }
        i += 1;
    }
    parts == 4
}

/// Writes the `<ip>` elements of an `ip=` value, or declines.
fn write_ips(value: &str, out: &mut String) -> Option<()> {
    let mut any = false;
    for word in value.split_ascii_whitespace() {
        let (addr, prefix) = match word.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (word, None),
        };
        out.push_str("  <ip address='");
        let max = if is_plain_ipv4(addr) {
            out.push_str(addr);
            out.push_str("' family='ipv4'");
            32
        } else {
            let v6: Ipv6Addr = addr.parse().ok()?;
            push_ipv6(out, &v6);
            out.push_str("' family='ipv6'");
            128
        };
        if let Some(p) = prefix {
            out.push_str(" prefix='");
            push_u64(out, number(p, 0, max)?);
            out.push('\'');
        }
        out.push_str("/>\n");
        any = true;
    }
    any.then_some(())
}

/// Writes `spec`'s `<interface>` (pretty, not indented, two spaces a level, as
/// [`crate::interface_xml::interfaces_to_string`] does) for a `guest` and returns
/// true, when the spec is one the direct path takes; otherwise leaves `out` as it was
/// and returns false.
pub fn write_vif_xml(
    spec: &str,
    guest: GuestType,
    defaults: &Defaults<'_>,
    out: &mut String,
) -> bool {
    let start = out.len();
    let done = write(spec, guest, defaults, out).is_some();
    if !done {
        out.truncate(start);
    }
    done
}

fn write(spec: &str, guest: GuestType, defaults: &Defaults<'_>, out: &mut String) -> Option<()> {
    if *defaults != Defaults::default() {
        return None;
    }
    let f = fields(spec)?;
    if !guest.has_emulated_nics()
        && (f.pv_only == Some(false) || f.model.is_some_and(|m| m != NETFRONT))
    {
        return None;
    }
    let script_base = f.script.map(script_name);
    let ovs = script_base == Some("vif-openvswitch");
    let bridged = f.bridge.is_some() || ovs || script_base == Some("vif-bridge");

    // The bridge and its VLANs (Open vSwitch form only under vif-openvswitch; without a
    // script, a bridge in that form earns advice: the full path's).
    let mut name = None;
    let mut tags = [0u16; MAX_TAGS];
    let mut ntags = 0;
    let mut access = None;
    match f.bridge {
        Some(b) if ovs => {
            let mut overflow = false;
            let (n, tag) = parse_with(b, |t| {
                if ntags < MAX_TAGS {
                    tags[ntags] = t;
                    ntags += 1;
                } else {
                    overflow = true;
                }
            })
            .ok()?;
            if overflow {
                return None;
            }
            name = Some(n);
            access = tag;
        }
        // Read as Open vSwitch's form with advice (the full path's), unless it is not
        // that form: then a literal Linux bridge name, as below.
        Some(b)
            if f.script.is_none()
                && OvsBridge::has_vlan_syntax(b)
                && parse_with(b, |_| {}).is_ok() =>
        {
            return None
        }
        Some(b) => {
            IfName::validate(b).ok()?;
            name = Some(b);
        }
        None if bridged => return None,
        None => {}
    }
    // `vlan=` on a Linux bridge: one id is an access port, several a trunk whose PVID
    // is the native VLAN; vif-openvswitch ignores it, and a second untagged VLAN has no
    // place in libvirt (both: the full path's warnings).
    if let Some(v) = &f.vlan {
        if ovs || v.entries().iter().any(|e| e.mode == VlanMode::Untagged) {
            return None;
        }
    }
    let average = match &f.rate {
        Some(r) if r.interval() != DEFAULT_INTERVAL_US => return None,
        Some(r) => Some(r.libvirt_average_kib()).filter(|&k| k <= u64::from(u32::MAX))?,
        None => 0,
    };
    if f.vifname
        .is_some_and(|v| LIBVIRT_RESERVED_PREFIXES.iter().any(|p| v.starts_with(p)))
    {
        return None;
    }
    let model = match (f.pv_only, f.model) {
        (Some(true), Some(m)) if m != NETFRONT => return None,
        (Some(true), _) => Some(NETFRONT),
        (_, Some(m)) => {
            model::lookup(m)?;
            Some(m)
        }
        (_, None) => None,
    };

    out.reserve(512);
    out.push_str(if bridged {
        "<interface type='bridge'>\n"
    } else {
        "<interface type='ethernet'>\n"
    });
    if let Some(mac) = &f.mac {
        out.push_str("  <mac address='");
        match f.mac_text {
            Some(text) => out.push_str(text),
            None => push_mac(out, mac),
        }
        out.push_str("'/>\n");
    }
    if let Some(n) = name {
        out.push_str("  <source bridge='");
        push_escaped(out, n);
        out.push_str("'/>\n");
    }
    if access.is_some() || ntags > 0 {
        let trunk = ntags > 0;
        out.push_str(if trunk {
            "  <vlan trunk='yes'>\n"
        } else {
            "  <vlan>\n"
        });
        if let Some(id) = access {
            out.push_str("    <tag id='");
            push_u64(out, u64::from(id));
            out.push_str(if trunk {
                "' nativeMode='untagged'/>\n"
            } else {
                "'/>\n"
            });
        }
        for &id in &tags[..ntags] {
            out.push_str("    <tag id='");
            push_u64(out, u64::from(id));
            out.push_str("'/>\n");
        }
        out.push_str("  </vlan>\n");
    }
    if let Some(v) = &f.vlan {
        let entries = v.entries();
        let trunk = entries.len() > 1;
        out.push_str(if trunk {
            "  <vlan trunk='yes'>\n"
        } else {
            "  <vlan>\n"
        });
        for e in entries {
            out.push_str("    <tag id='");
            push_u64(out, u64::from(e.id));
            out.push_str(if trunk && e.mode == VlanMode::Pvid {
                "' nativeMode='untagged'/>\n"
            } else {
                "'/>\n"
            });
        }
        out.push_str("  </vlan>\n");
    }
    if ovs {
        out.push_str("  <virtualport type='openvswitch'/>\n");
    }
    if f.rate.is_some() {
        out.push_str("  <bandwidth>\n    <outbound average='");
        push_u64(out, average);
        out.push_str("'/>\n  </bandwidth>\n");
    }
    if let Some(ip) = f.ip {
        write_ips(ip, out)?;
    }
    for (open, value) in [
        ("  <script path='", f.script),
        ("  <backenddomain name='", f.backend),
        ("  <target dev='", f.vifname),
        ("  <model type='", model),
    ] {
        if let Some(v) = value {
            out.push_str(open);
            push_escaped(out, v);
            out.push_str("'/>\n");
        }
    }
    if let Some(mtu) = f.mtu {
        out.push_str("  <mtu size='");
        push_u64(out, u64::from(mtu));
        out.push_str("'/>\n");
    }
    out.push_str("</interface>\n");
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interface_xml::write_interface;
    use crate::interface_xml::Style;
    use crate::to_xml::vif_to_interface;
    use crate::vif::{ParseOptions, VifSpec};

    /// What the full path writes for `spec`, when it translates without a warning.
    fn full(spec: &str, guest: GuestType) -> Option<String> {
        let (s, w) = VifSpec::parse(spec, ParseOptions::default()).ok()?;
        let (iface, w2) = vif_to_interface(&s, guest, &Defaults::default()).ok()?;
        if !w.is_empty() || !w2.is_empty() {
            return None;
        }
        let mut out = String::new();
        write_interface(
            &iface,
            Style::Pretty {
                indent: "",
                step: "  ",
            },
            &mut out,
        );
        Some(out)
    }

    fn direct(spec: &str, guest: GuestType) -> Option<String> {
        let mut out = String::from("kept");
        let took = write_vif_xml(spec, guest, &Defaults::default(), &mut out);
        let rest = out
            .strip_prefix("kept")
            .expect("what was there stays")
            .to_owned();
        assert_eq!(took, !rest.is_empty(), "{spec}");
        took.then_some(rest)
    }

    #[test]
    fn takes_the_common_nics_and_writes_what_the_full_path_writes() {
        for spec in [
            "mac=00:16:3e:62:1a:51,bridge=xenbr2,script=/etc/xen/scripts/vif-bridge",
            "mac=00:16:3e:6e:29:ef,bridge=ovsbr2:1469:3804,script=vif-openvswitch,ip=10.2.16.157/13,model=e1000",
            "bridge=ovsbr2.2854,script=vif-openvswitch,model=virtio-net,vifname=vm181.2",
            "bridge=ovsbr3.2865:3911:1289,script=vif-openvswitch,model=rtl8139",
            " bridge = br0 , ip=2001:DB8::1/64 10.0.0.1, type=vif,rate=100Mb/s,mtu=9000",
            "bridge=br0,ip=10.0.0.1/032,backend=dd,model=netfront",
            "script=vif-route,ip=10.0.0.2",
            "",
            "bridge=a&b",
            "bridge=br0,vlan=10",
            "mac=00:16:3E:AB:cd:01,bridge=br0",
            "bridge=br0,vlan=10p/20/30-32",
            "bridge=br0.bridge=br1", // not the OVS form: a literal name, as vif-bridge reads it
        ] {
            let want = full(spec, GuestType::Hvm).unwrap_or_else(|| panic!("{spec}"));
            assert_eq!(direct(spec, GuestType::Hvm).as_deref(), Some(&*want), "{spec}");
        }
    }

    #[test]
    fn declines_what_needs_a_word_or_is_wrong() {
        for (spec, guest) in [
            ("bridge=br0,bridge=br1", GuestType::Hvm), // duplicate
            ("bridge=br0,devid=3", GuestType::Hvm),    // warning
            ("bridge=br0,trusted", GuestType::Hvm),    // flag
            ("bridge=br0,colour=red", GuestType::Hvm), // unknown key
            ("script=vif-bridge", GuestType::Hvm),     // default bridge: advice
            ("bridge=xenbr0.102", GuestType::Hvm),     // OVS form, no script: advice
            ("bridge=br0,rate=10Mb/s@20ms", GuestType::Hvm), // interval dropped
            ("bridge=br0,vifname=vif7.0", GuestType::Hvm), // libvirt's prefix
            ("bridge=br0,type=vif,model=e1000", GuestType::Hvm),
            ("bridge=br0,model=e1000x", GuestType::Hvm), // unknown model
            ("bridge=br0,type=ioemu", GuestType::Pv),    // error
            ("bridge=br0,model=e1000", GuestType::Pvh),  // error
            ("bridge=br0,ip=10.0.0.01", GuestType::Hvm), // not plain
            ("bridge=br0,ip=10.0.0.1/33", GuestType::Hvm), // error
            ("bridge=br0,ip=", GuestType::Hvm),          // error
            ("bridge=br0,ip= ", GuestType::Hvm),         // error
            ("bridge=b/r", GuestType::Hvm),              // error
            ("bridge=br0,mac=01:00:00:00:00:01", GuestType::Hvm),
            ("bridge=br0,mtu=0", GuestType::Hvm),
            ("bridge=br0,vlan=10p/20u", GuestType::Hvm), // second untagged
            (
                "bridge=ovsbr0,script=vif-openvswitch,vlan=10",
                GuestType::Hvm,
            ),
            (
                "bridge=x.1:2:3:4:5:6:7:8:9:10:11:12:13:14:15:16:17:18,script=vif-openvswitch",
                GuestType::Hvm,
            ), // 17 trunks
        ] {
            assert_eq!(direct(spec, guest), None, "{spec}");
        }
        let d = Defaults {
            bridge: Some("br9"),
            ..Defaults::default()
        };
        let mut out = String::new();
        assert!(!write_vif_xml("bridge=br0", GuestType::Hvm, &d, &mut out));
        assert!(out.is_empty());
    }

    #[test]
    fn plain_ipv4_is_exactly_the_canonical_form() {
        for s in ["0.0.0.0", "255.255.255.255", "10.1.2.3", "1.22.133.4"] {
            assert!(is_plain_ipv4(s), "{s}");
            assert_eq!(s.parse::<std::net::Ipv4Addr>().unwrap().to_string(), s);
        }
        for s in [
            "",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "1.2.3.256",
            "1..2.3",
            "1.2.3.4.",
            ".1.2.3",
            "1.2.3.1000",
            "a.b.c.d",
            "1.2.3.4 ",
        ] {
            assert!(!is_plain_ipv4(s), "{s}");
        }
    }
}
