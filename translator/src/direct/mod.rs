//! The direct path from a vif spec to `<interface>` XML, for the common NIC: one pass
//! over the spec's bytes, the element written as the values are read, no model in
//! between and no allocation but the output (and, for a whole list, one scratch
//! buffer: a padded copy of the spec being read). The element is written straight into
//! the output's spare room.
//!
//! It takes only what it can translate without a word to say: the keys `mac`, `bridge`,
//! `script`, `ip`, `model`, `type`, `vifname`, `rate`, `backend`, `mtu` and `vlan`, each once,
//! with values that convert without a warning, and no xl.conf defaults. For anything
//! else (an error, a warning, another key) it declines, leaving the output as it was,
//! and the caller takes the full path ([`crate::to_xml`] and the writer), which has the
//! last word. Where it writes, it writes exactly what the full path writes: the tests
//! hold the two to that, over the corpus and over generated specs.

mod buf;
mod ip;
mod plain;
mod scan;

use buf::{Frag, FIRST_CAP};
use plain::Plain;
use scan::{Key, Scan, Step};

use crate::bridge_spec::{parse_with, OvsBridge};
use crate::guest::GuestType;
use crate::ifname::IfName;
use crate::mac::{self, MacAddr};
use crate::model::{self, NETFRONT};
use crate::rate::{Rate, DEFAULT_INTERVAL_US};
use crate::to_xml::{script_is, Defaults, LIBVIRT_RESERVED_PREFIXES};
use crate::vif;
use crate::vlan::{VlanMode, VlanSpec};

/// At most this many OVS VLAN tags on the direct path (more: the full path).
const MAX_TAGS: usize = 16;

/// Writes the `<interface>` elements of common NICs straight from their specs, reusing
/// one scratch buffer for all of them.
pub struct DirectWriter {
    /// The spec being read, padded ([`plain`]).
    pad: Vec<u8>,
}

impl DirectWriter {
    /// A writer with its buffer, for vifs read with these xl.conf `defaults`; `None`
    /// unless there are none (the direct path takes no default: the full path's job).
    pub fn new(defaults: &Defaults<'_>) -> Option<Self> {
        (*defaults == Defaults::default()).then(|| DirectWriter { pad: Vec::new() })
    }

    /// Appends `spec`'s `<interface>` to `out` (pretty, not indented, two spaces a
    /// level, as [`crate::interface_xml::interfaces_to_string`] writes it) for a `guest`
    /// and returns true, when the spec is one the direct path takes; otherwise leaves
    /// `out` as it was and returns false.
    pub fn write(&mut self, spec: &str, guest: GuestType, out: &mut String) -> bool {
        // SAFETY: `out` stays UTF-8: its length grows only over what a frag wrote, all
        // whole `&str` pieces and ASCII ([`buf`]'s rule).
        let bytes = unsafe { out.as_mut_vec() };
        let mut room = FIRST_CAP;
        loop {
            bytes.reserve(room);
            let mut f = Frag::new(bytes.spare_capacity_mut());
            if write(spec, &mut self.pad, guest, &mut f).is_some() {
                let n = f.len();
                // SAFETY: the frag initialised the first `n` bytes of the spare room.
                unsafe { bytes.set_len(bytes.len() + n) };
                return true;
            }
            if !f.full() {
                return false;
            }
            // A long element (a wide VLAN range, many addresses): again, with room.
            room = f.capacity() * 2;
        }
    }
}

/// [`DirectWriter::write`] for one spec.
pub fn write_vif_xml(
    spec: &str,
    guest: GuestType,
    defaults: &Defaults<'_>,
    out: &mut String,
) -> bool {
    DirectWriter::new(defaults).is_some_and(|mut w| w.write(spec, guest, out))
}

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
    /// Whether a value written as text is not plain ([`scan::Tok::plain`]): then text is
    /// escaped.
    escape: bool,
}

/// A plain text value, as the full path's parser checks it.
fn text(v: &str) -> Option<&str> {
    vif::text(v).ok().map(|_| v)
}

/// A decimal number in `min..=max`, as the full path's parser reads it.
fn number(v: &str, min: u64, max: u64) -> Option<u64> {
    vif::number(v, min, max).ok()
}

/// Reads the spec's `KEY=VALUE` tokens ([`plain`] for a plain spec, else [`scan`]),
/// taking each value as it comes. A bare word, a key the direct path does not take, a
/// repeated key, an empty or bad value: declined.
fn fields<'a>(spec: &'a str, pad: &'a mut Vec<u8>) -> Option<Fields<'a>> {
    match Plain::new(spec, pad) {
        Some(mut plain) => fields_from(|| plain.next()),
        None => {
            let mut scan = Scan::new(spec);
            fields_from(|| scan.next())
        }
    }
}

/// [`fields`] from a spec's tokens.
#[inline(always)]
fn fields_from<'a>(mut next: impl FnMut() -> Step<'a>) -> Option<Fields<'a>> {
    let mut f = Fields::default();
    let mut seen = 0u32;
    loop {
        let t = match next() {
            Step::Tok(t) => t,
            Step::End => return Some(f),
            Step::Decline => return None,
        };
        let v = t.value;
        // A plain value passes the text check and needs no escaping; another is checked
        // here and escaped when written (`f.escape`).
        let text = |v| {
            if t.plain {
                Some(v)
            } else {
                text(v)
            }
        };
        // Only what is written as text is escaped.
        f.escape |= !t.plain && t.key != Key::Ip;

        match t.key {
            Key::Mac => {
                let (m, lower) = mac::parse_with_case(v).ok()?;
                f.mac = Some(m);
                f.mac_text = lower.then_some(v);
            }
            Key::Bridge => {
                f.bridge = Some(text(v)?);
            }
            Key::Script => {
                f.script = Some(text(v)?);
            }
            Key::Ip => {
                f.ip = Some(v);
            }
            Key::Model => {
                f.model = Some(text(v)?);
            }
            Key::Type => {
                f.pv_only = Some(match v {
                    "ioemu" => false,
                    "vif" | "netfront" => true,
                    _ => return None,
                });
            }
            Key::Vifname => {
                IfName::validate(v).ok()?;
                f.vifname = Some(v);
            }
            Key::Rate => {
                f.rate = Some(v.parse().ok()?);
            }
            Key::Backend => {
                f.backend = Some(text(v)?);
            }
            Key::Mtu => {
                f.mtu = Some(number(v, 1, 65535)? as u32);
            }
            Key::Vlan => {
                f.vlan = Some(v.parse().ok()?);
            }
        }
        // A key given twice: declined (the full path's error).
        let bit = 1u32 << t.key as u32;
        if seen & bit != 0 {
            return None;
        }
        seen |= bit;
    }
}

fn write(spec: &str, pad: &mut Vec<u8>, guest: GuestType, out: &mut Frag<'_>) -> Option<()> {
    let f = fields(spec, pad)?;
    if !guest.has_emulated_nics()
        && (f.pv_only == Some(false) || f.model.is_some_and(|m| m != NETFRONT))
    {
        return None;
    }
    let ovs = f.script.is_some_and(|s| script_is(s, "vif-openvswitch"));
    let bridged = f.bridge.is_some() || ovs || f.script.is_some_and(|s| script_is(s, "vif-bridge"));

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
        Some(r) => u32::try_from(r.libvirt_average_kib()).ok()?,
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

    out.str(if bridged {
        "<interface type='bridge'>\n"
    } else {
        "<interface type='ethernet'>\n"
    })?;
    if let Some(mac) = &f.mac {
        out.str("  <mac address='")?;
        match f.mac_text {
            Some(text) => out.str(text)?,
            None => out.ascii(&mac.to_ascii())?,
        }
        out.str("'/>\n")?;
    }
    out.element("  <source bridge='", name, f.escape)?;
    if access.is_some() || ntags > 0 {
        // `.TAG` alone is an access port; with trunks it is their native VLAN.
        let trunk = ntags > 0;
        vlan_open(out, trunk)?;
        if let Some(id) = access {
            vlan_tag(out, id, trunk)?;
        }
        for &id in &tags[..ntags] {
            vlan_tag(out, id, false)?;
        }
        out.str("  </vlan>\n")?;
    }
    if let Some(v) = &f.vlan {
        let entries = v.entries();
        let trunk = entries.len() > 1;
        vlan_open(out, trunk)?;
        for e in entries {
            vlan_tag(out, e.id, trunk && e.mode == VlanMode::Pvid)?;
        }
        out.str("  </vlan>\n")?;
    }
    if ovs {
        out.str("  <virtualport type='openvswitch'/>\n")?;
    }
    if f.rate.is_some() {
        out.str("  <bandwidth>\n    <outbound average='")?;
        out.num(average)?;
        out.str("'/>\n  </bandwidth>\n")?;
    }
    if let Some(v) = f.ip {
        ip::write_ips(v, out)?;
    }
    out.element("  <script path='", f.script, f.escape)?;
    out.element("  <backenddomain name='", f.backend, f.escape)?;
    out.element("  <target dev='", f.vifname, f.escape)?;
    out.element("  <model type='", model, f.escape)?;
    if let Some(mtu) = f.mtu {
        out.str("  <mtu size='")?;
        out.num(mtu)?;
        out.str("'/>\n")?;
    }
    out.str("</interface>\n")
}

/// `<vlan>`'s opening tag (a trunk when `trunk`).
#[inline(always)]
fn vlan_open(out: &mut Frag<'_>, trunk: bool) -> Option<()> {
    out.str(if trunk {
        "  <vlan trunk='yes'>\n"
    } else {
        "  <vlan>\n"
    })
}

/// One `<tag>` of a `<vlan>` (`native`: `nativeMode='untagged'`).
#[inline(always)]
fn vlan_tag(out: &mut Frag<'_>, id: u16, native: bool) -> Option<()> {
    out.str("    <tag id='")?;
    out.num(u32::from(id))?;
    out.str(if native {
        "' nativeMode='untagged'/>\n"
    } else {
        "'/>\n"
    })
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
            "bridge=br0,vlan=10p/20-2000", // about 60 kB: the buffer grows
            &format!("bridge=br0 ,ip={}, model = e1000", "10.1.2.3/24 ".repeat(40)), // > 256 bytes
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
}
