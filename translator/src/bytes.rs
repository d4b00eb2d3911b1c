//! Finding the first byte of a class in a byte string, sixteen bytes at a time.
//!
//! The hot scans (a config string's end, a spec token's comma, a value's control
//! characters, an attribute value's characters to escape) all ask the same question:
//! where is the first byte for which a test holds? [`find`] answers it in plain safe
//! Rust that the compiler turns into vector compares: each sixteen-byte chunk is tested
//! as a whole with a fold that has no early exit, and only the chunk with a hit in it is
//! looked at byte by byte.
//!
//! The test must be branch-free for that: combine comparisons with `|` and `&`, not
//! `||` and `&&` (a short-circuit is a branch, and a branch keeps the chunk test
//! scalar). A test with branches still gives the right answer, only slower.

/// The index of the first byte of `b` at or after `from` for which `hit` holds, or
/// `b.len()` if there is none (also when `from` is past the end).
#[inline(always)]
pub(crate) fn find(b: &[u8], from: usize, hit: impl Fn(u8) -> bool) -> usize {
    let mut i = from;
    while let Some(chunk) = b.get(i..).and_then(<[u8]>::first_chunk::<16>) {
        if chunk.iter().fold(false, |any, &c| any | hit(c)) {
            break;
        }
        i += 16;
    }
    let rest = b.get(i..).unwrap_or_default();
    rest.iter().position(|&c| hit(c)).map_or(b.len(), |p| i + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_a_byte_by_byte_scan_finds() {
        let mut r = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            let len = usize::try_from(r % 70).unwrap();
            // Mostly 'a', now and then a comma: hits in every chunk position, and none.
            let b: Vec<u8> = (0..len)
                .map(|k| {
                    if (r >> (k % 64)) & 0x0f == 0 {
                        b','
                    } else {
                        b'a'
                    }
                })
                .collect();
            let from = usize::try_from((r >> 40) % 80).unwrap();
            let naive = (from..b.len()).find(|&j| b[j] == b',').unwrap_or(b.len());
            assert_eq!(find(&b, from, |c| c == b','), naive, "{b:?} from {from}");
        }
    }
}
