//! Sixteen bytes at a time: the byte classes the hot loops look for, as bit masks (bit
//! `k` for byte `k`). SSE2 where the target has it (every x86_64 target does), the same
//! answers byte by byte elsewhere; the tests hold the two to each other.

/// Bytes that are not plain: not `0x21..=0x7e`, or one of `& < > ' "`.
pub(crate) fn is_odd(c: u8) -> bool {
    !(0x21..=0x7e).contains(&c) || matches!(c, b'&' | b'<' | b'>' | b'\'' | b'"')
}

/// Bytes a quoted string of the xl config grammar stops at: its quote `q`, a
/// backslash, or a control byte (LF and CR end the line; others are looked at).
fn is_string_stop(c: u8, q: u8) -> bool {
    c == q || c == b'\\' || c < 0x20
}

/// The commas, the `=` and the odd bytes ([`is_odd`]) of sixteen bytes.
#[inline(always)]
pub(crate) fn spec_bits(c: &[u8; 16]) -> (u16, u16, u16) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        // SAFETY: `sse2::spec_bits` needs SSE2 and nothing else, and this is compiled
        // only where the target has SSE2 (the `cfg` above).
        unsafe { sse2::spec_bits(c) }
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        scalar::spec_bits(c)
    }
}

/// The string stops ([`is_string_stop`]) of sixteen bytes, for quote `q`.
#[inline(always)]
pub(crate) fn string_stops(c: &[u8; 16], q: u8) -> u16 {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        // SAFETY: as in `spec_bits`.
        unsafe { sse2::string_stops(c, q) }
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        scalar::string_stops(c, q)
    }
}

/// The decimal digits and the dots of sixteen bytes.
#[inline(always)]
pub(crate) fn digits_dots(c: &[u8; 16]) -> (u16, u16) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        // SAFETY: as in `spec_bits`.
        unsafe { sse2::digits_dots(c) }
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        scalar::digits_dots(c)
    }
}

/// Sixteen bytes read as hex digits: where the digits are, which of them are upper
/// case, where the colons are, and each byte's value as a digit (meaningless where it
/// is not one).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Hex16 {
    pub digits: u16,
    pub upper: u16,
    pub colons: u16,
    pub values: [u8; 16],
}

/// [`Hex16`] of sixteen bytes.
#[inline(always)]
pub(crate) fn hex16(c: &[u8; 16]) -> Hex16 {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        // SAFETY: as in `spec_bits`.
        unsafe { sse2::hex16(c) }
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        scalar::hex16(c)
    }
}

/// A hex digit's value from its byte, right for digits of either case: the low four
/// bits, plus 9 for letters (bit 6).
fn nibble(x: u8) -> u8 {
    (x & 15) + 9 * ((x >> 6) & 1)
}

#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
mod scalar {
    use super::{is_odd, is_string_stop, nibble, Hex16};

    pub(super) fn hex16(c: &[u8; 16]) -> Hex16 {
        let mut h = Hex16 {
            digits: 0,
            upper: 0,
            colons: 0,
            values: [0; 16],
        };
        for (k, &x) in c.iter().enumerate() {
            h.digits |= u16::from(x.is_ascii_hexdigit()) << k;
            h.upper |= u16::from(matches!(x, b'A'..=b'F')) << k;
            h.colons |= u16::from(x == b':') << k;
            h.values[k] = nibble(x);
        }
        h
    }

    pub(super) fn spec_bits(c: &[u8; 16]) -> (u16, u16, u16) {
        let (mut comma, mut eq, mut odd) = (0u16, 0u16, 0u16);
        for (k, &x) in c.iter().enumerate() {
            comma |= u16::from(x == b',') << k;
            eq |= u16::from(x == b'=') << k;
            odd |= u16::from(is_odd(x)) << k;
        }
        (comma, eq, odd)
    }

    pub(super) fn digits_dots(c: &[u8; 16]) -> (u16, u16) {
        let (mut digits, mut dots) = (0u16, 0u16);
        for (k, &x) in c.iter().enumerate() {
            digits |= u16::from(x.is_ascii_digit()) << k;
            dots |= u16::from(x == b'.') << k;
        }
        (digits, dots)
    }

    pub(super) fn string_stops(c: &[u8; 16], q: u8) -> u16 {
        let mut m = 0u16;
        for (k, &x) in c.iter().enumerate() {
            m |= u16::from(is_string_stop(x, q)) << k;
        }
        m
    }
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi8, _mm_and_si128, _mm_andnot_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8,
        _mm_cmplt_epi8, _mm_cvtsi128_si64, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_set_epi64x, _mm_slli_epi16, _mm_srli_epi16, _mm_unpackhi_epi64,
    };

    #[target_feature(enable = "sse2")]
    fn load(c: &[u8; 16]) -> __m128i {
        let word = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&c[at..at + 8]);
            i64::from_le_bytes(w)
        };
        _mm_set_epi64x(word(8), word(0))
    }

    #[target_feature(enable = "sse2")]
    fn eq(v: __m128i, b: u8) -> __m128i {
        _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8))
    }

    #[target_feature(enable = "sse2")]
    pub(super) fn spec_bits(c: &[u8; 16]) -> (u16, u16, u16) {
        let v = load(c);
        // 0x21..=0x7f as signed bytes (0x80 and up are negative), then without DEL.
        let printable = _mm_andnot_si128(eq(v, 0x7f), _mm_cmpgt_epi8(v, _mm_set1_epi8(0x20)));
        let special = _mm_or_si128(
            _mm_or_si128(eq(v, b'&'), eq(v, b'<')),
            _mm_or_si128(_mm_or_si128(eq(v, b'>'), eq(v, b'\'')), eq(v, b'"')),
        );
        let plain = _mm_andnot_si128(special, printable);
        // movemask sets the low 16 bits only.
        let comma = _mm_movemask_epi8(eq(v, b',')) as u16;
        let equals = _mm_movemask_epi8(eq(v, b'=')) as u16;
        let odd = !(_mm_movemask_epi8(plain) as u16);
        (comma, equals, odd)
    }

    /// Bytes in `lo..=hi` (both below 0x80).
    #[target_feature(enable = "sse2")]
    fn within(v: __m128i, lo: u8, hi: u8) -> __m128i {
        // As signed bytes; 0x80 and up are negative, below `lo`.
        _mm_andnot_si128(
            _mm_cmpgt_epi8(v, _mm_set1_epi8(hi as i8)),
            _mm_cmpgt_epi8(v, _mm_set1_epi8(lo as i8 - 1)),
        )
    }

    #[target_feature(enable = "sse2")]
    pub(super) fn hex16(c: &[u8; 16]) -> super::Hex16 {
        let v = load(c);
        let upper = within(v, b'A', b'F');
        let digits = _mm_or_si128(
            _mm_or_si128(within(v, b'0', b'9'), within(v, b'a', b'f')),
            upper,
        );
        // `nibble` lane by lane: bit 6 of each byte to bit 0 (a 16-bit shift, masked
        // to the byte's own bit), times 9 as x + 8x (no carry out of a byte).
        let low = _mm_and_si128(v, _mm_set1_epi8(15));
        let letter = _mm_and_si128(_mm_srli_epi16(v, 6), _mm_set1_epi8(1));
        let values = _mm_add_epi8(low, _mm_add_epi8(letter, _mm_slli_epi16(letter, 3)));
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&_mm_cvtsi128_si64(values).to_le_bytes());
        out[8..]
            .copy_from_slice(&_mm_cvtsi128_si64(_mm_unpackhi_epi64(values, values)).to_le_bytes());
        super::Hex16 {
            digits: _mm_movemask_epi8(digits) as u16,
            upper: _mm_movemask_epi8(upper) as u16,
            colons: _mm_movemask_epi8(eq(v, b':')) as u16,
            values: out,
        }
    }

    #[target_feature(enable = "sse2")]
    pub(super) fn digits_dots(c: &[u8; 16]) -> (u16, u16) {
        let v = load(c);
        // `0`..=`9` as signed bytes (0x80 and up are negative: below `0`).
        let digits = _mm_andnot_si128(
            _mm_cmpgt_epi8(v, _mm_set1_epi8(b'9' as i8)),
            _mm_cmpgt_epi8(v, _mm_set1_epi8(b'0' as i8 - 1)),
        );
        (
            _mm_movemask_epi8(digits) as u16,
            _mm_movemask_epi8(eq(v, b'.')) as u16,
        )
    }

    #[target_feature(enable = "sse2")]
    pub(super) fn string_stops(c: &[u8; 16], q: u8) -> u16 {
        let v = load(c);
        // Below 0x20 as signed bytes, but not 0x80 and up (negative too).
        let control = _mm_andnot_si128(
            _mm_cmplt_epi8(v, _mm_set1_epi8(0)),
            _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
        );
        let stop = _mm_or_si128(_mm_or_si128(eq(v, q), eq(v, b'\\')), control);
        _mm_movemask_epi8(stop) as u16
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_byte_is_classed_by_either_implementation() {
        let all: Vec<u8> = (0..=255).collect();
        for chunk in all.chunks(16) {
            let c: [u8; 16] = chunk.try_into().unwrap();
            assert_eq!(spec_bits(&c), scalar::spec_bits(&c));
            assert_eq!(digits_dots(&c), scalar::digits_dots(&c));
            assert_eq!(hex16(&c), scalar::hex16(&c));
            for q in [b'\'', b'"'] {
                assert_eq!(string_stops(&c, q), scalar::string_stops(&c, q));
            }
        }
        assert!(is_odd(b' ') && is_odd(0x7f) && is_odd(0x80) && is_odd(b'"'));
        assert!(!is_odd(b'!') && !is_odd(b'~') && !is_odd(b','));
        assert!(is_string_stop(b'\n', b'"') && is_string_stop(b'\t', b'"'));
        assert!(!is_string_stop(b'\'', b'"') && !is_string_stop(0x80, b'"'));
    }

    proptest! {
        #[test]
        fn implementations_agree(c in any::<[u8; 16]>(), q in prop_oneof![Just(b'\''), Just(b'"')]) {
            prop_assert_eq!(spec_bits(&c), scalar::spec_bits(&c));
            prop_assert_eq!(digits_dots(&c), scalar::digits_dots(&c));
            prop_assert_eq!(hex16(&c), scalar::hex16(&c));
            prop_assert_eq!(string_stops(&c, q), scalar::string_stops(&c, q));
        }
    }
}
