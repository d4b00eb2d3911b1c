//! `ip=` on the direct path: addresses written back exactly as the full path writes
//! them, read without std's general parser where the text is plain.

use std::net::Ipv6Addr;

use super::buf::Frag;
use crate::interface_xml::write::format_ipv6_hex;
use crate::mac::{HEX_VALUE, NOT_HEX};
use crate::vif;

/// Strict dotted-quad IPv4 (`0`-`255`, no leading zeros): exactly the text the full
/// path writes back for it. Anything else is declined.
pub(super) fn is_plain_ipv4(s: &str) -> bool {
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

/// The groups of an IPv6 address in hex-only notation (`1-4` hex digits a group, at
/// most one `::` standing for at least one zero group). Whatever this reads, std's
/// parser reads the same; anything else (an embedded IPv4 part, say) is `None`, for
/// std's parser to judge.
pub(super) fn parse_ipv6_hex(s: &[u8]) -> Option<[u16; 8]> {
    let mut head = [0u16; 8];
    let mut tail = [0u16; 8];
    let (mut nh, mut nt) = (0, 0);
    let mut gap = false;
    let mut i = 0;
    if s.starts_with(b"::") {
        gap = true;
        i = 2;
    }
    while i < s.len() {
        let start = i;
        let mut g = 0u16;
        while i < s.len() && i - start < 4 {
            let h = HEX_VALUE[usize::from(s[i])];
            if h & NOT_HEX != 0 {
                break;
            }
            g = (g << 4) | u16::from(h & 15);
            i += 1;
        }
        if i == start || nh + nt == 8 {
            return None;
        }
        if gap {
            tail[nt] = g;
            nt += 1;
        } else {
            head[nh] = g;
            nh += 1;
        }
        if i == s.len() {
            break;
        }
        if s[i] != b':' {
            return None;
        }
        i += 1;
        if s.get(i) == Some(&b':') {
            if gap {
                return None;
            }
            gap = true;
            i += 1;
        } else if i == s.len() {
            return None;
        }
    }
    if (gap && nh + nt > 7) || (!gap && nh + nt != 8) {
        return None;
    }
    let mut seg = [0u16; 8];
    seg[..nh].copy_from_slice(&head[..nh]);
    seg[8 - nt..].copy_from_slice(&tail[..nt]);
    Some(seg)
}

/// Writes the `<ip>` elements of an `ip=` value, or declines.
pub(super) fn write_ips(value: &str, out: &mut Frag<'_>) -> Option<()> {
    let mut any = false;
    // Split as the full path splits (`vif::parse_ips`).
    for word in value.split_ascii_whitespace() {
        let (addr, prefix) = match word.bytes().position(|c| c == b'/') {
            // '/' is ASCII: both sides are at character boundaries.
            Some(i) => (&word[..i], Some(&word[i + 1..])),
            None => (word, None),
        };
        out.str("  <ip address='")?;
        let v4 = is_plain_ipv4(addr);
        if v4 {
            out.str(addr)?;
        } else {
            let seg = match parse_ipv6_hex(addr.as_bytes()) {
                Some(seg) => seg,
                None => addr.parse::<Ipv6Addr>().ok()?.segments(),
            };
            // `::ffff:a.b.c.d` is written in its own form: the full path's.
            if Ipv6Addr::from(seg).to_ipv4_mapped().is_some() {
                return None;
            }
            let mut buf = [0u8; 39];
            let n = format_ipv6_hex(&seg, &mut buf);
            out.ascii(&buf[..n])?;
        }
        match prefix {
            None => out.str(if v4 {
                "' family='ipv4'/>\n"
            } else {
                "' family='ipv6'/>\n"
            })?,
            Some(p) => {
                out.str(if v4 {
                    "' family='ipv4' prefix='"
                } else {
                    "' family='ipv6' prefix='"
                })?;
                let max = if v4 { 32 } else { 128 };
                out.num(vif::number(p, 0, max).ok()? as u32)?;
                out.str("'/>\n")?;
            }
        }
        any = true;
    }
    any.then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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

    fn std_v6(s: &str) -> Option<[u16; 8]> {
        s.parse::<Ipv6Addr>().ok().map(|a| a.segments())
    }

    #[test]
    fn hex_ipv6_reads_what_std_reads() {
        for s in [
            "::",
            "::1",
            "1::",
            "2001:db8::1",
            "2001:DB8:0:0:8:800:200C:417A",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1:2:3::6:7:8",
            "0000:0000::ffff",
            "fe80::1:0:0:1",
        ] {
            assert_eq!(parse_ipv6_hex(s.as_bytes()), std_v6(s), "{s}");
            assert!(std_v6(s).is_some(), "{s}");
        }
        for s in [
            "",
            ":",
            ":::",
            "1:2:3:4:5:6:7:8::",
            "::1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7",
            "1:2:3:4:5:6:7:8:9",
            "1::2::3",
            "12345::",
            "1:",
            ":1",
            "g::",
            "::1.2.3.4", // std reads it; this reader leaves it to std
        ] {
            assert_eq!(parse_ipv6_hex(s.as_bytes()), None, "{s}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]

        /// Whatever the hex reader reads, std reads the same.
        #[test]
        fn hex_ipv6_never_disagrees_with_std(s in "[0-9a-fA-F:.g]{0,41}") {
            if let Some(seg) = parse_ipv6_hex(s.as_bytes()) {
                prop_assert_eq!(Some(seg), std_v6(&s), "{}", s);
            }
        }

        /// And it reads every address std writes, and std's full form of it.
        #[test]
        fn hex_ipv6_reads_every_written_address(seg in any::<[u16; 8]>(), zeros in 0usize..8, at in 0usize..8) {
            let mut seg = seg;
            for g in seg.iter_mut().skip(at).take(zeros) {
                *g = 0;
            }
            let a = Ipv6Addr::from(seg);
            if a.to_ipv4_mapped().is_none() && !a.to_string().contains('.') {
                prop_assert_eq!(parse_ipv6_hex(a.to_string().as_bytes()), Some(seg));
            }
            let full = seg.iter().map(|g| format!("{g:x}")).collect::<Vec<_>>().join(":");
            prop_assert_eq!(parse_ipv6_hex(full.as_bytes()), Some(seg));
        }
    }
}
