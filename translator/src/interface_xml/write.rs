//! The writer: the model as `virsh dumpxml` prints it.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv6Addr};

use crate::interface::Interface;
use crate::mac::MacAddr;

/// How [`write_interface`] lays out the element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style<'a> {
    /// Everything on one line, no whitespace between elements, no final newline.
    Compact,
    /// One element per line as `virsh dumpxml` prints it: the interface's lines start
    /// with `indent`, each level deeper adds `step`; ends with a newline.
    Pretty {
        /// Indentation of the `<interface>` lines.
        indent: &'a str,
        /// Indentation added per level.
        step: &'a str,
    },
}

/// Whether [`push_escaped`] replaces a byte: `& < > ' "` and C0 controls. A table:
/// the values it looks at are short, and a lookup a byte is the cheapest test there.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'&' as usize] = true;
    t[b'<' as usize] = true;
    t[b'>' as usize] = true;
    t[b'\'' as usize] = true;
    t[b'"' as usize] = true;
    t
};

/// Appends `s` escaped for a single-quoted attribute value: `& < > ' "`, and control
/// characters as character references (so that tabs and line breaks survive attribute
/// value normalization).
#[inline]
fn push_escaped(out: &mut String, s: &str) {
    match s.bytes().position(|b| NEEDS_ESCAPE[usize::from(b)]) {
        None => out.push_str(s),
        Some(first) => push_escaped_from(out, s, first),
    }
}

/// [`push_escaped`] from `first`, the first byte to replace.
#[cold]
fn push_escaped_from(out: &mut String, s: &str, first: usize) {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate().skip(first) {
        if !NEEDS_ESCAPE[usize::from(b)] {
            continue;
        }
        // Every escaped byte is ASCII, so `last` and `i` are character boundaries.
        out.push_str(&s[last..i]);
        match b {
            b'&' => out.push_str("&amp;"),
            b'<' => out.push_str("&lt;"),
            b'>' => out.push_str("&gt;"),
            b'\'' => out.push_str("&apos;"),
            b'"' => out.push_str("&quot;"),
            // A control byte: `&#N;`.
            _ => {
                out.push_str("&#");
                push_u64(out, u64::from(b));
                out.push(';');
            }
        }
        last = i + 1;
    }
    out.push_str(&s[last..]);
}

/// Appends text the caller built from ASCII bytes alone (hex digits and colons).
#[inline]
fn push_ascii(out: &mut String, ascii: &[u8]) {
    out.push_str(std::str::from_utf8(ascii).expect("ASCII"));
}

/// Appends `n` in decimal: four digits at a time from the most significant (a VLAN
/// id, an MTU, most averages take one step), each pushed as the ASCII character it is
/// (`b'0'` plus a remainder below 10, which the compiler sees: a one-byte push).
fn push_u64(out: &mut String, n: u64) {
    if n >= 10_000 {
        push_u64(out, n / 10_000);
        push_four(out, n % 10_000, true);
    } else {
        push_four(out, n, false);
    }
}

/// Appends `n` (below 10,000) in decimal; `pad`: with leading zeros to four digits.
#[inline(always)]
fn push_four(out: &mut String, n: u64, pad: bool) {
    let digit = |d: u64| char::from(b'0' + (d % 10) as u8);
    if pad || n >= 1000 {
        out.push(digit(n / 1000));
    }
    if pad || n >= 100 {
        out.push(digit(n / 100));
    }
    if pad || n >= 10 {
        out.push(digit(n / 10));
    }
    out.push(digit(n));
}

/// [`push_u64`] for a byte (an address's octet, a prefix length): at most three
/// digits, each pushed without a call or a loop.
fn push_u8(out: &mut String, n: u8) {
    if n >= 100 {
        out.push(char::from(b'0' + n / 100));
    }
    if n >= 10 {
        out.push(char::from(b'0' + n / 10 % 10));
    }
    out.push(char::from(b'0' + n % 10));
}

/// Appends a MAC as libvirt writes it: lower-case hex, colon-separated.
fn push_mac(out: &mut String, mac: &MacAddr) {
    push_ascii(out, &mac.to_ascii());
}

fn push_ip(out: &mut String, ip: &IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, o) in v4.octets().iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                push_u8(out, *o);
            }
        }
        IpAddr::V6(v6) => push_ipv6(out, v6),
    }
}

/// Appends an IPv6 address as `Display` writes it (RFC 5952: lower-case hex without
/// leading zeros, the first longest run of two or more zero groups as `::`, an
/// IPv4-mapped address as `::ffff:a.b.c.d`), without the formatting machinery.
fn push_ipv6(out: &mut String, ip: &Ipv6Addr) {
    if ip.to_ipv4_mapped().is_some() {
        // Writing to a String cannot fail.
        let _ = write!(out, "{ip}");
        return;
    }
    let mut buf = [0u8; 39];
    let n = format_ipv6_hex(&ip.segments(), &mut buf);
    push_ascii(out, &buf[..n]);
}

/// Writes the groups of an IPv6 address that is not IPv4-mapped as `Display` does
/// (lower-case hex, the first longest run of two or more zero groups as `::`) into
/// `buf`, in ASCII; returns the length.
fn format_ipv6_hex(seg: &[u16; 8], buf: &mut [u8; 39]) -> usize {
    let mut zeros = 0usize;
    for (i, &g) in seg.iter().enumerate() {
        zeros |= usize::from(g == 0) << i;
    }
    let (start, len) = ZERO_RUNS[zeros];
    let (start, len) = (usize::from(start), usize::from(len));
    let mut n = 0;
    if len == 0 {
        groups(&seg[..], buf, &mut n);
    } else {
        groups(&seg[..start], buf, &mut n);
        buf[n] = b':';
        buf[n + 1] = b':';
        n += 2;
        groups(&seg[start + len..], buf, &mut n);
    }
    n
}

/// Appends `seg` at `buf[*n..]`, colon-separated, each group in lower-case hex
/// without leading zeros.
#[inline(always)]
fn groups(seg: &[u16], buf: &mut [u8; 39], n: &mut usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, &g) in seg.iter().enumerate() {
        if i > 0 {
            buf[*n] = b':';
            *n += 1;
        }
        let digits = (4 - g.leading_zeros() as usize / 4).max(1);
        // All four digits go in, the first wanted one at `n`; the rest are written over
        // by what follows, or lie past the end. A group's four bytes always fit: there
        // are at most 7 * 5 bytes before the last one.
        let all = [
            HEX[usize::from(g >> 12)],
            HEX[usize::from((g >> 8) & 15)],
            HEX[usize::from((g >> 4) & 15)],
            HEX[usize::from(g & 15)],
        ];
        let word = u32::from_be_bytes(all) << (8 * (4 - digits));
        buf[*n..*n + 4].copy_from_slice(&word.to_be_bytes());
        *n += digits;
    }
}

/// For each set of zero groups (bit `i`: group `i` is zero), the first longest run of
/// two or more, as `(start, length)`; `(0, 0)` when there is none. Display's choice.
const ZERO_RUNS: [(u8, u8); 256] = {
    let mut t = [(0u8, 0u8); 256];
    let mut m = 0;
    while m < 256 {
        let (mut best, mut best_len, mut cur, mut cur_len) = (0u8, 0u8, 0u8, 0u8);
        let mut i = 0u8;
        while i < 8 {
            if m >> i & 1 == 1 {
                if cur_len == 0 {
                    cur = i;
                }
                cur_len += 1;
                if cur_len > best_len {
                    best = cur;
                    best_len = cur_len;
                }
            } else {
                cur_len = 0;
            }
            i += 1;
        }
        if best_len > 1 {
            t[m] = (best, best_len);
        }
        m += 1;
    }
    t
};

/// The writer proper, `pretty` giving the indentation and the step (`None`: compact).
/// `lead`: start with the indentation; `trail`: end with a newline (both only matter
/// when pretty).
///
/// The element is written in one layout, `virsh dumpxml`'s ([`write_virsh`]); any other
/// is that text laid out again ([`relayout`]).
pub(super) fn write_with(
    iface: &Interface<'_>,
    pretty: Option<(&str, &str)>,
    lead: bool,
    trail: bool,
    out: &mut String,
) {
    if pretty == Some(("", "  ")) && lead && trail {
        write_virsh(iface, out);
    } else {
        let mut virsh = String::with_capacity(256);
        write_virsh(iface, &mut virsh);
        relayout(&virsh, pretty, lead, trail, out);
    }
}

/// Appends `<name attr='value'/>` on its own line at depth 1 (`open` holds the
/// indentation and everything up to the value). Inlined: `open` is then a constant the
/// compiler copies in place.
#[inline(always)]
fn leaf(out: &mut String, open: &str, value: &str) {
    out.push_str(open);
    push_escaped(out, value);
    out.push_str("'/>\n");
}

/// Appends the element as `virsh dumpxml` prints a bare one: no indentation, two spaces
/// a level, a newline after each line. Every line is its indentation and then a tag:
/// a value never starts a line, it is inside an attribute (and escaped there, line
/// breaks included), which is what [`relayout`] counts on.
fn write_virsh(iface: &Interface<'_>, out: &mut String) {
    out.reserve(256);
    out.push_str("<interface type='");
    push_escaped(out, iface.kind.as_str());
    out.push_str("'>\n");
    if let Some(mac) = &iface.mac {
        out.push_str("  <mac address='");
        push_mac(out, mac);
        out.push_str("'/>\n");
    }
    if iface.source_network.is_some() || iface.source_bridge.is_some() {
        out.push_str("  <source");
        if let Some(n) = &iface.source_network {
            out.push_str(" network='");
            push_escaped(out, n);
            out.push('\'');
        }
        if let Some(b) = &iface.source_bridge {
            out.push_str(" bridge='");
            push_escaped(out, b);
            out.push('\'');
        }
        out.push_str("/>\n");
    }
    if let Some(vlan) = &iface.vlan {
        out.push_str("  <vlan");
        // libvirt takes several tags as a trunk, and prints it so.
        if vlan.trunk || vlan.tags.len() > 1 {
            out.push_str(" trunk='yes'");
        }
        if vlan.tags.is_empty() {
            out.push_str("/>\n");
        } else {
            out.push_str(">\n");
            for tag in &vlan.tags {
                out.push_str("    <tag id='");
                push_u64(out, u64::from(tag.id));
                out.push('\'');
                if let Some(mode) = tag.native_mode {
                    out.push_str(" nativeMode='");
                    out.push_str(mode.as_str());
                    out.push('\'');
                }
                out.push_str("/>\n");
            }
            out.push_str("  </vlan>\n");
        }
    }
    if let Some(vp) = &iface.virtualport {
        leaf(out, "  <virtualport type='", vp);
    }
    if let Some(avg) = iface.outbound_average {
        out.push_str("  <bandwidth>\n    <outbound average='");
        push_u64(out, avg);
        out.push_str("'/>\n  </bandwidth>\n");
    }
    for ip in &iface.ips {
        out.push_str("  <ip address='");
        push_ip(out, &ip.address);
        out.push_str("' family='");
        out.push_str(ip.family());
        out.push('\'');
        if let Some(p) = ip.prefix {
            out.push_str(" prefix='");
            push_u8(out, p);
            out.push('\'');
        }
        out.push_str("/>\n");
    }
    if let Some(s) = &iface.script {
        leaf(out, "  <script path='", s);
    }
    if let Some(d) = &iface.backend_domain {
        leaf(out, "  <backenddomain name='", d);
    }
    if let Some(t) = &iface.target_dev {
        leaf(out, "  <target dev='", t);
    }
    if let Some(m) = &iface.model {
        leaf(out, "  <model type='", m);
    }
    if let Some(mtu) = iface.mtu {
        out.push_str("  <mtu size='");
        push_u64(out, u64::from(mtu));
        out.push_str("'/>\n");
    }
    out.push_str("</interface>\n");
}

/// Appends `virsh`, an element [`write_virsh`] wrote, in another layout: each line's
/// two-space levels become `indent` and a `step` a level, or, compact (`pretty` is
/// `None`), the lines are joined with no indentation. `lead`: indent the first line;
/// `trail`: end with a newline (both only when pretty).
fn relayout(virsh: &str, pretty: Option<(&str, &str)>, lead: bool, trail: bool, out: &mut String) {
    out.reserve(virsh.len());
    for (i, line) in virsh.split_terminator('\n').enumerate() {
        let tag = line.trim_start_matches(' ');
        if let Some((indent, step)) = pretty {
            if i > 0 {
                out.push('\n');
            }
            if i > 0 || lead {
                out.push_str(indent);
                for _ in 0..(line.len() - tag.len()) / 2 {
                    out.push_str(step);
                }
            }
        }
        out.push_str(tag);
    }
    if pretty.is_some() && trail {
        out.push('\n');
    }
}

/// Appends one `<interface>` element to `out`, children in libvirt's order (`mac`,
/// `source`, `vlan`, `virtualport`, `bandwidth`, `ip`, `script`, `backenddomain`,
/// `target`, `model`, `mtu`), attributes single-quoted and escaped.
pub fn write_interface(iface: &Interface<'_>, style: Style<'_>, out: &mut String) {
    match style {
        Style::Compact => write_with(iface, None, false, false, out),
        Style::Pretty { indent, step } => write_with(iface, Some((indent, step)), true, true, out),
    }
}

/// What a list's buffer is sized for, per element: a typical bridged NIC with a VLAN
/// or an address or two takes 250 to 350 bytes pretty.
pub(crate) const BYTES_PER_ELEMENT: usize = 320;

/// The elements one after the other, pretty, not indented, two spaces per level.
pub fn interfaces_to_string(ifaces: &[Interface<'_>]) -> String {
    let mut out = String::with_capacity(ifaces.len() * BYTES_PER_ELEMENT);
    write_interfaces(ifaces, &mut out);
    out
}

/// [`interfaces_to_string`], appending to `out`.
pub fn write_interfaces(ifaces: &[Interface<'_>], out: &mut String) {
    out.reserve(ifaces.len() * BYTES_PER_ELEMENT);
    for iface in ifaces {
        write_list_element(iface, out);
    }
}

/// Appends one element as [`write_interfaces`] writes each.
pub(crate) fn write_list_element(iface: &Interface<'_>, out: &mut String) {
    write_virsh(iface, out);
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::net::IpAddr;

    use super::*;
    use crate::interface::{Interface, InterfaceType, IpElem, NativeMode, Vlan, VlanTag};
    use crate::interface_xml::read_interface;
    use crate::interface_xml::test_util::{compact, full, pretty, PRETTY};
    use crate::mac::MacAddr;

    #[test]
    fn writes_virsh_style_pretty() {
        assert_eq!(pretty(&full(), "    ", "  "), PRETTY);
    }

    #[test]
    fn writes_compact() {
        assert_eq!(
            compact(&full()),
            "<interface type='bridge'><mac address='00:16:3e:01:01:01'/>\
             <source bridge='xenbr0'/><vlan trunk='yes'><tag id='10' nativeMode='untagged'/>\
             <tag id='20'/></vlan><virtualport type='openvswitch'/><bandwidth>\
             <outbound average='12800'/></bandwidth>\
             <ip address='10.0.0.1' family='ipv4' prefix='24'/><script path='vif-openvswitch'/>\
             <backenddomain name='netdom'/><target dev='vifalice.0'/><model type='e1000'/>\
             <mtu size='9000'/></interface>"
        );
    }

    #[test]
    fn writes_empty_and_small_elements() {
        let e = Interface::new(InterfaceType::Ethernet);
        assert_eq!(compact(&e), "<interface type='ethernet'></interface>");
        assert_eq!(
            pretty(&e, "", "  "),
            "<interface type='ethernet'>\n</interface>\n"
        );
        assert_eq!(
            pretty(&e, "\t", "\t"),
            "\t<interface type='ethernet'>\n\t</interface>\n"
        );
        let mut n = Interface::new(InterfaceType::Network);
        n.source_network = Some("default".into());
        n.source_bridge = Some("virbr0".into());
        n.vlan = Some(Vlan {
            trunk: false,
            tags: vec![
                VlanTag {
                    id: 4095,
                    native_mode: None,
                },
                VlanTag {
                    id: 1,
                    native_mode: Some(NativeMode::Tagged),
                },
            ],
        });
        n.ips.push(IpElem {
            address: "2001:db8::1".parse().unwrap(),
            prefix: None,
        });
        n.mtu = Some(1);
        assert_eq!(
            compact(&n),
            "<interface type='network'><source network='default' bridge='virbr0'/>\
             <vlan trunk='yes'><tag id='4095'/><tag id='1' nativeMode='tagged'/></vlan>\
             <ip address='2001:db8::1' family='ipv6'/><mtu size='1'/></interface>"
        );
        assert_eq!(
            interfaces_to_string(&[e.clone(), e]),
            "<interface type='ethernet'>\n</interface>\n<interface type='ethernet'>\n</interface>\n"
        );
        assert_eq!(interfaces_to_string(&[]), "");
    }

    #[test]
    fn writer_escapes() {
        let mut i = Interface::new(InterfaceType::Other("a'b\"c".into()));
        i.script = Some("/x/<&>'\"\t\n\r\u{1}é".into());
        assert_eq!(
            compact(&i),
            "<interface type='a&apos;b&quot;c'><script path='/x/&lt;&amp;&gt;&apos;&quot;&#9;&#10;&#13;&#1;é'/></interface>"
        );
        let back = read_interface(&compact(&i)).unwrap();
        assert_eq!(back.iface, i);
    }

    #[test]
    fn round_trip_of_a_full_interface() {
        for style in [
            Style::Compact,
            Style::Pretty {
                indent: "  ",
                step: "    ",
            },
        ] {
            let mut s = String::new();
            write_interface(&full(), style, &mut s);
            let p = read_interface(&s).unwrap();
            assert_eq!(p.iface, full());
            assert!(p.dropped.is_empty());
        }
        let mut n = full();
        n.kind = InterfaceType::Network;
        n.source_network = Some("default".into());
        n.ips.push(IpElem {
            address: "fe80::1:2".parse().unwrap(),
            prefix: Some(128),
        });
        n.ips.push(IpElem {
            address: "0.0.0.0".parse().unwrap(),
            prefix: Some(0),
        });
        let p = read_interface(&compact(&n)).unwrap();
        assert_eq!(p.iface, n);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn text() -> impl Strategy<Value = Cow<'static, str>> {
            // Any character XML 1.0 can carry (quick-xml also takes C0 controls as
            // character references, which the writer uses; NUL it refuses).
            "[^\u{0}]{0,12}".prop_map(Cow::Owned)
        }

        fn iface() -> impl Strategy<Value = Interface<'static>> {
            let kind = prop_oneof![
                Just(InterfaceType::Bridge),
                Just(InterfaceType::Ethernet),
                Just(InterfaceType::Network),
                "[a-z]{1,8}"
                    .prop_filter("not a named type", |s| !["bridge", "ethernet", "network"]
                        .contains(&s.as_str()))
                    .prop_map(|s| InterfaceType::Other(Cow::Owned(s))),
            ];
            let mac = proptest::option::of(
                any::<[u8; 6]>().prop_filter_map("unicast", |o| MacAddr::new(o).ok()),
            );
            let tag = (
                0u16..=4095,
                proptest::option::of(prop_oneof![
                    Just(NativeMode::Tagged),
                    Just(NativeMode::Untagged)
                ]),
            )
                .prop_map(|(id, native_mode)| VlanTag { id, native_mode });
            let vlan = proptest::option::of(
                (any::<bool>(), proptest::collection::vec(tag, 1..4)).prop_map(
                    |(trunk, mut tags)| {
                        // libvirt's rules: one native tag at most; several tags are a
                        // trunk.
                        for t in tags.iter_mut().skip(1) {
                            t.native_mode = None;
                        }
                        Vlan {
                            trunk: trunk || tags.len() > 1,
                            tags,
                        }
                    },
                ),
            );
            let ip = (any::<IpAddr>(), any::<u8>(), any::<bool>()).prop_map(|(address, p, has)| {
                let max = if address.is_ipv4() { 33 } else { 129 };
                IpElem {
                    address,
                    prefix: has.then_some(p % max),
                }
            });
            (
                (
                    kind,
                    mac,
                    proptest::option::of(text()),
                    proptest::option::of(text()),
                    vlan,
                    proptest::option::of(text()),
                ),
                (
                    proptest::option::of(any::<u64>()),
                    proptest::collection::vec(ip, 0..3),
                    proptest::option::of(text()),
                    proptest::option::of(text()),
                    proptest::option::of(text()),
                    proptest::option::of(text()),
                    proptest::option::of(1u32..=65535),
                ),
            )
                .prop_map(
                    |((kind, mac, sb, sn, vlan, vp), (avg, ips, script, bd, td, model, mtu))| {
                        let mut i = Interface::new(kind);
                        i.mac = mac;
                        i.source_bridge = sb;
                        i.source_network = sn;
                        i.vlan = vlan;
                        i.virtualport = vp;
                        i.outbound_average = avg;
                        i.ips = ips;
                        i.script = script;
                        i.backend_domain = bd;
                        i.target_dev = td;
                        i.model = model;
                        i.mtu = mtu;
                        i
                    },
                )
        }

        proptest! {
            #[test]
            fn written_elements_read_back(i in iface(), indent in "[ \t]{0,4}", step in "[ \t]{0,3}") {
                for style in [Style::Compact, Style::Pretty { indent: &indent, step: &step }] {
                    let mut s = String::new();
                    write_interface(&i, style, &mut s);
                    let p = read_interface(&s).unwrap();
                    prop_assert_eq!(&p.iface, &i);
                    prop_assert!(p.dropped.is_empty());
                }
            }
        }
    }

    #[test]
    fn numbers_are_written_as_display_writes_them() {
        for n in 0..=u8::MAX {
            let mut out = String::new();
            push_u8(&mut out, n);
            assert_eq!(out, n.to_string());
        }
        for n in (0..200_000).chain([u64::from(u32::MAX), u64::MAX - 1, u64::MAX]) {
            let mut out = String::new();
            push_u64(&mut out, n);
            assert_eq!(out, n.to_string());
        }
    }

    #[test]
    fn ipv6_is_written_as_display_writes_it() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for k in 0..20_000 {
            // Groups that are often zero, so every run length and position occurs.
            let mut g = [0u16; 8];
            for x in &mut g {
                let r = next();
                *x = match r % 4 {
                    0 | 1 => 0,
                    2 => ((r >> 8) & 0xf) as u16,
                    _ => ((r >> 8) & 0xffff) as u16,
                };
            }
            if k % 7 == 0 {
                g[..5].fill(0);
                g[5] = 0xffff;
            }
            let ip = Ipv6Addr::from(g);
            let mut out = String::from("x");
            push_ipv6(&mut out, &ip);
            assert_eq!(out[1..], ip.to_string(), "{g:x?}");
        }
    }
}
