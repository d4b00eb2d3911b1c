//! `ip=` on the direct path: addresses written back exactly as the full path writes
//! them, read without std's general parser where the text is plain.

use std::net::Ipv6Addr;

use super::buf::{copy, Frag};
use crate::bytes16::digits_dots;
use crate::interface_xml::write::format_ipv6_hex;
use crate::mac::{HEX_VALUE, NOT_HEX};
use crate::vif;

/// Where an `ip=` value is split: ASCII white space, as `split_ascii_whitespace`
/// splits (the full path's split), and the `/` before a prefix. One bit each; 0 for
/// any other byte.
const SPACE: u8 = 1;
const SLASH: u8 = 2;

const CLASS: [u8; 256] = {
    let mut t = [0; 256];
    t[b'/' as usize] = SLASH;
    let mut k = 0;
    while k < 5 {
        t[b" \t\n\x0c\r"[k] as usize] = SPACE;
        k += 1;
    }
    t
};

/// Where the address starting at `start` ends: at white space, `/` or the value's end.
#[inline(always)]
fn word_end(b: &[u8], start: usize) -> usize {
    let mut i = start;
    while b
        .get(i)
        .is_some_and(|&c| CLASS[usize::from(c)] & (SPACE | SLASH) == 0)
    {
        i += 1;
    }
    i
}

/// If the address starting at `start` in `b` (up to white space, `/` or the end) is a
/// strict dotted-quad IPv4 (`0`-`255`, no leading zeros: exactly the text the full
/// path writes back for it), where it ends. Read sixteen bytes at once, with no branch
/// on the digits.
#[inline(always)]
fn plain_ipv4_at(b: &[u8], start: usize) -> Option<usize> {
    let rest = &b[start..];
    // Padded with white space (an end), and two bytes more for the digit reads below.
    let mut c = [b' '; 18];
    let n = rest.len().min(16);
    copy(&mut c[..n], &rest[..n]);
    let mut window = [0u8; 16];
    window.copy_from_slice(&c[..16]);
    let (digits, dots) = digits_dots(&window);
    let end = (!(digits | dots)).trailing_zeros() as usize;
    if end == 16 || CLASS[usize::from(c[end])] & (SPACE | SLASH) == 0 {
        return None;
    }
    let mut dots = u32::from(dots) & ((1 << end) - 1);
    if dots.count_ones() != 3 {
        return None;
    }
    let mut next = || {
        let at = dots.trailing_zeros() as usize;
        dots &= dots - 1;
        at
    };
    let (d0, d1, d2) = (next(), next(), next());
    let digit = |k: usize| u32::from(c[k].wrapping_sub(b'0'));
    let part = |s: usize, e: usize| {
        let len = e - s;
        let (h, t, u) = (digit(s), digit(s + 1), digit(s + 2));
        let v = match len {
            1 => h,
            2 => h * 10 + t,
            _ => h * 100 + t * 10 + u,
        };
        // One to three digits, no leading zero, at most 255.
        len.wrapping_sub(1) < 3 && (len == 1 || h != 0) && v <= 255
    };
    // `d0 >= 0`, and the dots are in order: no part has a negative length.
    (part(0, d0) & part(d0 + 1, d1) & part(d1 + 1, d2) & part(d2 + 1, end)).then_some(end)
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
    let b = value.as_bytes();
    let mut i = 0;
    let mut any = false;
    // Split as the full path splits (`vif::parse_ips`): at ASCII white space, then at a
    // word's first `/`. Every split is at an ASCII byte: a character boundary.
    loop {
        while b.get(i).is_some_and(|&c| CLASS[usize::from(c)] == SPACE) {
            i += 1;
        }
        if i == b.len() {
            return any.then_some(());
        }
        any = true;
        let (end, v4) = match plain_ipv4_at(b, i) {
            Some(n) => (i + n, true),
            None => (word_end(b, i), false),
        };
        let addr = &b[i..end];
        i = end;
        let prefix = if b.get(i) == Some(&b'/') {
            let p = i + 1;
            i = p;
            while b.get(i).is_some_and(|&c| CLASS[usize::from(c)] != SPACE) {
                i += 1;
            }
            Some(&b[p..i])
        } else {
            None
        };
        out.str("  <ip address='")?;
        if v4 {
            // Digits and dots.
            out.ascii(addr)?;
        } else {
            let seg = match parse_ipv6_hex(addr) {
                Some(seg) => seg,
                None => std::str::from_utf8(addr)
                    .ok()?
                    .parse::<Ipv6Addr>()
                    .ok()?
                    .segments(),
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
                out.num(vif::number_bytes(p, 0, max).ok()? as u32)?;
                out.str("'/>\n")?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn is_plain_ipv4(s: &str) -> bool {
        plain_ipv4_at(s.as_bytes(), 0) == Some(s.len())
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

        /// A plain IPv4 is exactly what std reads and writes back the same.
        #[test]
        fn plain_ipv4_is_what_std_writes_back(s in "[0-9.]{0,16}|(25[0-9]|2[0-9]{2}|1?[0-9]{1,2}|0[0-9])(\\.[0-9]{1,3}){3}") {
            let std = s.parse::<std::net::Ipv4Addr>().is_ok_and(|a| a.to_string() == s);
            prop_assert_eq!(is_plain_ipv4(&s), std, "{}", s);
        }

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
