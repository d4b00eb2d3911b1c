//! The direct path's tokenizer for plain specs, the common case: no byte in the spec
//! is odd ([`crate::bytes16::is_odd`]: no white space, control, non-ASCII, nothing XML
//! escapes), but for single spaces inside one value (`ip=A B`), so nothing is trimmed
//! and only that value is checked and escaped as odd. The spec is read from a
//! copy padded with commas: a key is recognised from the eight bytes where its token
//! starts, and a value ends at the next comma, found sixteen bytes at a time, with no
//! look at where the spec ends. Tokens are [`super::scan::Scan`]'s, for such specs.

use super::scan::{Key, Step, Tok};
use crate::bytes16::spec_bits;

/// Commas after the copy: room for an eight-byte key and a sixteen-byte search that
/// start at the spec's end.
const PAD: usize = 32;

/// A plain spec being read token by token.
pub(super) struct Plain<'a> {
    spec: &'a str,
    /// The spec followed by [`PAD`] commas.
    padded: &'a [u8],
    pos: usize,
    /// Where the first space is (`usize::MAX`: none); all are in the value it is in.
    space: usize,
}

/// `s` as a little-endian word, and the mask of its bytes (up to eight).
const fn word(s: &[u8]) -> (u64, u64) {
    let mut w = 0u64;
    let mut i = 0;
    while i < s.len() {
        w |= (s[i] as u64) << (8 * i);
        i += 1;
    }
    let mask = if s.len() == 8 {
        !0
    } else {
        (1u64 << (8 * s.len())) - 1
    };
    (w, mask)
}

/// Whether the word `w` starts with `s` (at most eight bytes).
#[inline(always)]
fn starts(w: u64, s: &[u8]) -> bool {
    let (want, mask) = word(s);
    w & mask == want
}

/// The key and its length with the `=`, from the eight bytes where a token starts.
#[inline(always)]
fn key_at(w: u64) -> Option<(Key, usize)> {
    Some(match w as u8 {
        b'm' if starts(w, b"mac=") => (Key::Mac, 4),
        b'm' if starts(w, b"model=") => (Key::Model, 6),
        b'm' if starts(w, b"mtu=") => (Key::Mtu, 4),
        b'b' if starts(w, b"bridge=") => (Key::Bridge, 7),
        b'b' if starts(w, b"backend=") => (Key::Backend, 8),
        b's' if starts(w, b"script=") => (Key::Script, 7),
        b'i' if starts(w, b"ip=") => (Key::Ip, 3),
        b't' if starts(w, b"type=") => (Key::Type, 5),
        b'v' if starts(w, b"vifname=") => (Key::Vifname, 8),
        b'v' if starts(w, b"vlan=") => (Key::Vlan, 5),
        b'r' if starts(w, b"rate=") => (Key::Rate, 5),
        _ => return None,
    })
}

impl<'a> Plain<'a> {
    /// Starts reading `spec` from a padded copy made in `buf`, if the spec is plain.
    pub(super) fn new(spec: &'a str, buf: &'a mut Vec<u8>) -> Option<Self> {
        buf.clear();
        buf.extend_from_slice(spec.as_bytes());
        buf.extend_from_slice(&[b','; PAD]);
        // The commas after the spec are not odd: the whole of each sixteen bytes can
        // be looked at.
        let len = spec.len();
        let (mut plain, mut first, mut last) = (true, usize::MAX, 0);
        for (k, c) in buf[..len.next_multiple_of(16)].chunks_exact(16).enumerate() {
            let mut a = [0u8; 16];
            a.copy_from_slice(c);
            let odd = spec_bits(&a).2;
            if odd != 0 {
                plain &= inner_spaces(buf, len, 16 * k, odd, &mut first, &mut last);
            }
        }
        // The spaces are all in one token: no comma between the first and the last.
        if !plain || (first < last && buf[first..last].contains(&b',')) {
            return None;
        }
        Some(Plain {
            spec,
            padded: buf,
            pos: 0,
            space: first,
        })
    }

    /// The first comma at or after `from` (at most the spec's length).
    #[inline(always)]
    fn comma(&self, mut from: usize) -> usize {
        loop {
            let mut a = [0u8; 16];
            a.copy_from_slice(&self.padded[from..from + 16]);
            let commas = spec_bits(&a).0;
            if commas != 0 {
                return from + commas.trailing_zeros() as usize;
            }
            from += 16;
        }
    }

    /// The next token.
    pub(super) fn next(&mut self) -> Step<'a> {
        let len = self.spec.len();
        // Empty tokens are skipped (and at the end, a padding comma is found: `pos` is
        // at most one past the spec).
        if self.padded[self.pos] == b',' {
            while self.pos < len && self.padded[self.pos] == b',' {
                self.pos += 1;
            }
        }
        if self.pos >= len {
            return Step::End;
        }
        let mut w = [0u8; 8];
        w.copy_from_slice(&self.padded[self.pos..self.pos + 8]);
        let Some((key, klen)) = key_at(u64::from_le_bytes(w)) else {
            return Step::Decline;
        };
        let start = self.pos + klen;
        let end = self.comma(start);
        if end == start {
            return Step::Decline;
        }
        self.pos = end + 1;
        debug_assert!(end <= len && self.spec.is_char_boundary(start));
        Step::Tok(Tok {
            key,
            // SAFETY: `start <= end <= len`: the key (no comma in it) is in the spec,
            // and the first comma after it is at most the first padding comma, at
            // `len`. A plain spec is ASCII (no odd byte but spaces): every index is a
            // character boundary.
            value: unsafe { self.spec.get_unchecked(start..end) },
            // The value the spaces are in is not plain.
            plain: self.space.wrapping_sub(start) >= end - start,
        })
    }
}

/// Whether the odd bytes `odd` of the sixteen at `at` in the padded spec `b` (of
/// length `len`) are single spaces inside a value: not at either end, not next to
/// another space, a comma or `=`. Notes the first and last.
#[inline(never)]
fn inner_spaces(
    b: &[u8],
    len: usize,
    at: usize,
    mut odd: u16,
    first: &mut usize,
    last: &mut usize,
) -> bool {
    let inner = |c: u8| !matches!(c, b' ' | b',' | b'=');
    while odd != 0 {
        // The padding is not odd: `p` is in the spec.
        let p = at + odd.trailing_zeros() as usize;
        odd &= odd - 1;
        if b[p] != b' ' || p == 0 || p + 1 >= len || !inner(b[p - 1]) || !inner(b[p + 1]) {
            return false;
        }
        *first = (*first).min(p);
        *last = p;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::super::scan::tests::{reference, Seen};
    use super::*;
    use crate::bytes16::is_odd;
    use proptest::prelude::*;

    /// What [`Plain`] reads: `None` if it does not take the spec, `Some(None)` where
    /// it declines.
    fn plain(spec: &str) -> Option<Option<Vec<Seen>>> {
        let mut buf = Vec::new();
        let mut s = Plain::new(spec, &mut buf)?;
        let mut out = Vec::new();
        Some(loop {
            match s.next() {
                Step::Tok(t) => out.push((t.key, t.value.to_owned(), t.plain)),
                Step::End => break Some(out),
                Step::Decline => break None,
            }
        })
    }

    /// The specs [`Plain`] takes: no odd byte but single spaces inside one value.
    fn takes(spec: &str) -> bool {
        let b = spec.as_bytes();
        let inner = |c: &u8| !b" ,=".contains(c);
        b.iter().enumerate().all(|(i, &c)| {
            !is_odd(c)
                || (c == b' ' && i > 0 && b.get(i + 1).is_some_and(inner) && inner(&b[i - 1]))
        }) && spec.split(',').filter(|t| t.contains(' ')).count() <= 1
    }

    fn check(spec: &str) {
        let got = plain(spec);
        assert_eq!(got.is_some(), takes(spec), "{spec:?}");
        if let Some(got) = got {
            assert_eq!(got, reference(spec), "{spec:?}");
        }
    }

    #[test]
    fn reads_plain_specs_as_the_parser_splits_them() {
        for spec in [
            "",
            ",,",
            "bridge=br0",
            "mac=00:16:3e:01:02:03,bridge=xenbr0,script=vif-bridge,model=e1000",
            "mac=00:16:3e:01:02:03",
            "mac=00:16:3e:01:02:030,bridge=b",
            "mac=00:16:3e:01:02:0,bridge=b",
            "mac=00:16:3e:01:02:03:bridge=b",
            "mac=aa,bridge=bbbbbbb,mtu=1", // a comma where a MAC's would end
            "type=ioemu,bridge=br900,,",
            "script=a=b",
            "scrip=a",
            "bridge=",
            "bridge=,mtu=1",
            "trusted",
            "ip",
            "vifname=v,vlan=1,rate=1,backend=d,mtu=3,model=m,type=t",
            "vifnam=v",
            "=x",
            " bridge=br0",
            "bridge=a&b",
            &format!("bridge={},mtu=9000", "x".repeat(60)),
            &format!("{}bridge=br0", ",".repeat(70)),
            &format!("script=/{}", "y".repeat(300)),
            "ip=10.0.0.1 10.0.0.2/24 2001:db8::1/64,bridge=b",
            "bridge=b,ip=1 2",
            "bridge=a b,mtu=1",
            "ip=1 2,script=a b",
            "ip=1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18,mtu=1",
            "ip= 1",
            "ip=1 ",
            "ip=1  2",
            "ip =1",
            "ip=1 ,mtu=1",
            " ip=1",
            "i p=1",
            "ip=1\t2",
            "ip=1 &2",
        ] {
            check(spec);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4_000))]

        #[test]
        fn agrees_with_the_parser_on_any_spec(
            spec in "((ip|mtu|vlan|mac|vifname|x|mac=00:16:3e:01:02:03)?[a-c=,:.0-9 ]{0,5}){0,60}"
        ) {
            check(&spec);
        }
    }
}
