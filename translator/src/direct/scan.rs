//! The direct path's tokenizer for any spec (the plain ones take [`super::plain`]'s
//! shorter way): [`crate::vif::tokenize`]'s split (on `,`, empty tokens
//! skipped, keys and values trimmed of xl's white space), found from bit masks over the
//! whole spec, made sixteen bytes at a time: where the commas and `=` signs are, and
//! where the bytes are that are not plain printable ASCII (white space, controls,
//! non-ASCII) or need escaping in XML. A value without such a byte needs no trimming, passes the
//! parser's text check and is written as it is. A spec longer than the masks
//! ([`MASKED`] bytes) is read byte by byte, to the same result.

use crate::bytes16::{is_odd, spec_bits as classify16};
use crate::vif::{find_byte, is_xl_space_byte};

/// The longest spec read through the masks.
pub(super) const MASKED: usize = 256;
const WORDS: usize = MASKED / 64;

/// The keys the direct path takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Key {
    Mac,
    Bridge,
    Script,
    Ip,
    Model,
    Type,
    Vifname,
    Rate,
    Backend,
    Mtu,
    Vlan,
}

impl Key {
    /// The key spelt `k`, if the direct path takes it.
    pub(super) fn from_bytes(k: &[u8]) -> Option<Key> {
        Some(match k {
            b"mac" => Key::Mac,
            b"bridge" => Key::Bridge,
            b"script" => Key::Script,
            b"ip" => Key::Ip,
            b"model" => Key::Model,
            b"type" => Key::Type,
            b"vifname" => Key::Vifname,
            b"rate" => Key::Rate,
            b"backend" => Key::Backend,
            b"mtu" => Key::Mtu,
            b"vlan" => Key::Vlan,
            _ => return None,
        })
    }
}

/// One `KEY=VALUE` token.
pub(super) struct Tok<'a> {
    /// The key.
    pub key: Key,
    /// The value, trimmed; never empty.
    pub value: &'a str,
    /// Whether the value has only plain bytes (no white space, no control, no
    /// non-ASCII, nothing XML escapes).
    pub plain: bool,
}

/// What comes next in a spec.
pub(super) enum Step<'a> {
    /// A `KEY=VALUE` token.
    Tok(Tok<'a>),
    /// The end of the spec.
    End,
    /// Something the direct path does not take: a bare word, an empty value.
    Decline,
}

/// A spec being read token by token.
pub(super) struct Scan<'a> {
    spec: &'a str,
    comma: [u64; WORDS],
    eq: [u64; WORDS],
    odd: [u64; WORDS],
    /// Longer than [`MASKED`]: no masks, bytes are looked at one by one.
    long: bool,
    /// No odd byte anywhere (and not long): every token is plain.
    plain: bool,
    pos: usize,
}

impl<'a> Scan<'a> {
    /// Starts reading `spec`.
    pub(super) fn new(spec: &'a str) -> Self {
        let b = spec.as_bytes();
        let mut s = Scan {
            spec,
            comma: [0; WORDS],
            eq: [0; WORDS],
            odd: [0; WORDS],
            long: b.len() > MASKED,
            plain: false,
            pos: 0,
        };
        if s.long {
            return s;
        }
        let chunks = b.len() / 16;
        for k in 0..chunks {
            let mut c = [0u8; 16];
            c.copy_from_slice(&b[k * 16..k * 16 + 16]);
            s.put(k * 16, classify16(&c));
        }
        let rem = b.len() % 16;
        if rem != 0 {
            let at = chunks * 16;
            let mut c = [b'a'; 16];
            let bits = if chunks > 0 {
                // The last sixteen bytes, of which the first `16 - rem` are done.
                c.copy_from_slice(&b[b.len() - 16..]);
                let (comma, eq, odd) = classify16(&c);
                let done = 16 - rem;
                (comma >> done, eq >> done, odd >> done)
            } else {
                // Padded with a plain byte, which sets no bit.
                c[..rem].copy_from_slice(b);
                classify16(&c)
            };
            s.put(at, bits);
        }
        s.plain = s.odd.iter().all(|&w| w == 0);
        s
    }

    /// Sets the bits of the sixteen bytes at `at` (a multiple of 16).
    #[inline(always)]
    fn put(&mut self, at: usize, (comma, eq, odd): (u16, u16, u16)) {
        let (w, shift) = (at / 64, at % 64);
        self.comma[w] |= u64::from(comma) << shift;
        self.eq[w] |= u64::from(eq) << shift;
        self.odd[w] |= u64::from(odd) << shift;
    }

    /// The first `byte` (`,` or `=`, whose bits are in `mask`) in `from..to`, or `to`.
    #[inline]
    fn find(&self, mask: &[u64; WORDS], byte: u8, from: usize, to: usize) -> usize {
        if self.long {
            return find_byte(&self.spec.as_bytes()[from..to], byte).map_or(to, |n| from + n);
        }
        let mut w = from / 64;
        if w >= WORDS {
            return to;
        }
        let mut bits = mask[w] & (!0u64 << (from % 64));
        loop {
            if bits != 0 {
                return (w * 64 + bits.trailing_zeros() as usize).min(to);
            }
            w += 1;
            if w == WORDS {
                return to;
            }
            bits = mask[w];
        }
    }

    /// Whether any byte in `start..end` is odd.
    #[inline]
    fn any_odd(&self, start: usize, end: usize) -> bool {
        if start >= end {
            return false;
        }
        if self.long {
            return self.spec.as_bytes()[start..end].iter().any(|&c| is_odd(c));
        }
        let (first, last) = (start / 64, (end - 1) / 64);
        let head = !0u64 << (start % 64);
        let tail = !0u64 >> (63 - (end - 1) % 64);
        if first == last {
            return self.odd[first] & head & tail != 0;
        }
        self.odd[first] & head != 0
            || self.odd[first + 1..last].iter().any(|&w| w != 0)
            || self.odd[last] & tail != 0
    }

    /// The next token.
    pub(super) fn next(&mut self) -> Step<'a> {
        let b = self.spec.as_bytes();
        loop {
            if self.pos > b.len() {
                return Step::End;
            }
            let mut start = self.pos;
            let mut end = self.find(&self.comma, b',', start, b.len());
            self.pos = end + 1;
            // In a spec with no odd byte (the common case) nothing is trimmed or looked at
            // again.
            let plain_token = self.plain || !self.any_odd(start, end);
            if !plain_token {
                (start, end) = trim(b, start, end);
            }
            if start == end {
                continue;
            }
            let eq = self.find(&self.eq, b'=', start, end);
            if eq == end {
                return Step::Decline;
            }
            let (mut key_end, mut value_start, mut value_end) = (eq, eq + 1, end);
            if !plain_token {
                key_end = trim(b, start, key_end).1;
                (value_start, value_end) = trim(b, value_start, value_end);
            }
            if value_start == value_end {
                return Step::Decline;
            }
            let Some(key) = Key::from_bytes(&b[start..key_end]) else {
                return Step::Decline;
            };
            return Step::Tok(Tok {
                key,
                // Both ends are next to ASCII bytes (`=`, `,`, white space) or at the
                // ends of the spec: character boundaries.
                value: &self.spec[value_start..value_end],
                plain: plain_token || !self.any_odd(value_start, value_end),
            });
        }
    }
}

/// `start..end` without xl's white space at either end.
fn trim(b: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    while start < end && is_xl_space_byte(b[start]) {
        start += 1;
    }
    while end > start && is_xl_space_byte(b[end - 1]) {
        end -= 1;
    }
    (start, end)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::vif::tokenize;
    use proptest::prelude::*;

    /// A token as the tests compare them: `(key, value, plain)`.
    pub(in crate::direct) type Seen = (Key, String, bool);

    /// What [`Scan`] reads, or `None` where it declines.
    fn scan(spec: &str) -> Option<Vec<Seen>> {
        let mut s = Scan::new(spec);
        let mut out = Vec::new();
        loop {
            match s.next() {
                Step::Tok(t) => out.push((t.key, t.value.to_owned(), t.plain)),
                Step::End => return Some(out),
                Step::Decline => return None,
            }
        }
    }

    /// The parser's tokenizer, where every token is `KEY=VALUE` with a value and a key
    /// the direct path takes.
    pub(in crate::direct) fn reference(spec: &str) -> Option<Vec<Seen>> {
        tokenize(spec)
            .map(|t| {
                let v = t.value.filter(|v| !v.is_empty())?;
                let key = Key::from_bytes(t.key.as_bytes())?;
                Some((key, v.to_owned(), !v.bytes().any(is_odd)))
            })
            .collect()
    }

    #[test]
    fn reads_tokens_as_the_parser_splits_them() {
        for spec in [
            "",
            ",,",
            "bridge=br0",
            "mac=00:16:3e:01:02:03,bridge=xenbr0,script=vif-bridge,model=e1000",
            " type=ioemu, bridge = br900,,",
            "ip=10.0.0.1 10.0.0.2/24,bridge=a&b",
            "\u{b}bridge=br0\u{c},ip=\u{a0}y",
            "\u{b}bridge=br0\u{c},x=\u{a0}y",
            "script=a=b",
            "scrip=a",
            "bridge=",
            "trusted",
            "bridge= ,mac=x",
            &format!("bridge={},mtu=9000", "x".repeat(60)),
            &format!("{}bridge=br0", ",".repeat(70)),
        ] {
            assert_eq!(scan(spec), reference(spec), "{spec:?}");
        }
        for n in [50, 51, 52] {
            let spec = "ip=b,".repeat(n);
            assert_eq!(spec.len() > MASKED, n > 51);
            assert_eq!(scan(&spec).map(|t| t.len()), Some(n));
            let spec = format!("{}mtu= d&", "ip=b,".repeat(n));
            assert_eq!(scan(&spec), reference(&spec));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4_000))]

        #[test]
        fn agrees_with_the_parser_on_any_spec(
            spec in "((ip|mtu|vlan|mac|x| ip)?[a-c=, \t\u{b}&é:.0-9]{0,5}){0,60}"
        ) {
            prop_assert_eq!(scan(&spec), reference(&spec));
        }
    }
}
