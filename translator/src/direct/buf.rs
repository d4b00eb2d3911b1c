//! The buffer one `<interface>` element is written into on the direct path: the output
//! string's spare capacity with a cursor, so that each piece is a bounds check and a
//! copy (no growth check, no call for a short piece), and the element is not copied
//! again. When a piece does not fit, the writer says so ([`Frag::full`]) and the caller
//! starts again with more room.
//!
//! Only whole `&str` values and ASCII go in, each piece copied whole before the cursor
//! moves past it: the bytes before the cursor are always written, and UTF-8.

use std::mem::MaybeUninit;
use std::ptr::copy_nonoverlapping;

use crate::interface_xml::write::{escape_pieces, NEEDS_ESCAPE};

/// The room an element starts with: it takes a few hundred bytes.
pub(super) const FIRST_CAP: usize = 2048;

/// One element being written.
pub(super) struct Frag<'b> {
    buf: &'b mut [MaybeUninit<u8>],
    n: usize,
    full: bool,
}

impl<'b> Frag<'b> {
    /// An empty element over `buf`.
    pub(super) fn new(buf: &'b mut [MaybeUninit<u8>]) -> Self {
        Frag {
            buf,
            n: 0,
            full: false,
        }
    }

    /// Whether a piece did not fit.
    pub(super) fn full(&self) -> bool {
        self.full
    }

    /// How many bytes are written: the first `len()` bytes of the buffer are
    /// initialised, and UTF-8.
    pub(super) fn len(&self) -> usize {
        self.n
    }

    /// The room it had.
    pub(super) fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// The room for the next `len` bytes, if there is that much.
    #[inline(always)]
    fn room(&mut self, len: usize) -> Option<&mut [MaybeUninit<u8>]> {
        // `n` is at most the buffer's length and `len` a slice's: no overflow.
        let end = self.n + len;
        match self.buf.get_mut(self.n..end) {
            Some(dst) => {
                self.n = end;
                Some(dst)
            }
            None => {
                self.full = true;
                None
            }
        }
    }

    /// Appends `s`.
    #[inline(always)]
    pub(super) fn str(&mut self, s: &str) -> Option<()> {
        put(self.room(s.len())?, s.as_bytes());
        Some(())
    }

    /// Appends ASCII bytes.
    #[inline(always)]
    pub(super) fn ascii(&mut self, s: &[u8]) -> Option<()> {
        debug_assert!(s.is_ascii());
        put(self.room(s.len())?, s);
        Some(())
    }

    /// Appends text for a single-quoted attribute: escaped as
    /// [`crate::interface_xml::write`] escapes it if `escape`, else as it is (for text
    /// known to hold nothing to escape).
    #[inline]
    pub(super) fn text(&mut self, s: &str, escape: bool) -> Option<()> {
        if escape {
            self.escaped(s)
        } else {
            self.str(s)
        }
    }

    /// Appends `OPEN` + value + `'/>` and a line end, when there is a value: an element
    /// with one attribute, `open` ending in its opening quote.
    #[inline(always)]
    pub(super) fn element(
        &mut self,
        open: &'static str,
        value: Option<&str>,
        escape: bool,
    ) -> Option<()> {
        if let Some(v) = value {
            self.str(open)?;
            self.text(v, escape)?;
            self.str("'/>\n")?;
        }
        Some(())
    }

    /// Appends `s` escaped for a single-quoted attribute, as
    /// [`crate::interface_xml::write`] escapes it.
    #[inline]
    pub(super) fn escaped(&mut self, s: &str) -> Option<()> {
        if s.bytes().any(|b| NEEDS_ESCAPE[usize::from(b)]) {
            self.escaped_slow(s)
        } else {
            self.str(s)
        }
    }

    #[cold]
    fn escaped_slow(&mut self, s: &str) -> Option<()> {
        escape_pieces(s, |piece| self.str(piece))
    }

    /// Appends `n` in decimal.
    #[inline(always)]
    pub(super) fn num(&mut self, n: u32) -> Option<()> {
        // Most numbers here are VLAN ids, prefixes and MTUs: four digits at most, as two
        // pairs from a table.
        if n < 10_000 {
            let (hi, lo) = (2 * (n / 100) as usize, 2 * (n % 100) as usize);
            let d = [PAIRS[hi], PAIRS[hi + 1], PAIRS[lo], PAIRS[lo + 1]];
            let skip = usize::from(n < 10) + usize::from(n < 100) + usize::from(n < 1000);
            return self.ascii(&d[skip..]);
        }
        self.num_long(n)
    }

    #[inline(never)]
    fn num_long(&mut self, n: u32) -> Option<()> {
        let mut tmp = [0u8; 10];
        let mut i = tmp.len();
        let mut n = n;
        loop {
            i -= 1;
            tmp[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.ascii(&tmp[i..])
    }

    /// What was written.
    #[cfg(test)]
    pub(super) fn as_str(&self) -> &str {
        let written = &self.buf[..self.n];
        // SAFETY: the first `n` bytes are initialised (the rule of `put`'s callers:
        // `n` moves past a piece only once it is copied in), and `u8` and
        // `MaybeUninit<u8>` have the same layout.
        let bytes = unsafe { &*(written as *const [MaybeUninit<u8>] as *const [u8]) };
        std::str::from_utf8(bytes).expect("only UTF-8 goes in")
    }
}

/// The two digits of each number below 100, one pair after the other.
const PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// `dst.copy_from_slice(src)` (same lengths), pieces up to 32 bytes without a call
/// ([`put`], into bytes already written).
#[inline(always)]
pub(super) fn copy(dst: &mut [u8], src: &[u8]) {
    // SAFETY: `MaybeUninit<u8>` has the layout of `u8`, and `put` writes only copies of
    // `src`'s bytes: `dst` holds initialised bytes throughout.
    let dst = unsafe { &mut *(dst as *mut [u8] as *mut [MaybeUninit<u8>]) };
    put(dst, src);
}

/// Copies `src` into `dst` (as long as `src`), bytes not yet written: afterwards they
/// are. Pieces up to 32 bytes go without a call: two overlapping fixed-size copies
/// cover any length from `K` to `2K`.
#[inline(always)]
fn put(dst: &mut [MaybeUninit<u8>], src: &[u8]) {
    let len = src.len();
    assert_eq!(dst.len(), len);
    let (d, s) = (dst.as_mut_ptr().cast::<u8>(), src.as_ptr());
    // SAFETY: `d` and `s` are valid for `len` bytes (the two lengths are equal) and do
    // not overlap (`dst` is borrowed mutably); every copy below is within `0..len`
    // (`len - K` only where `len >= K`) and they cover it all.
    unsafe {
        if len > 32 {
            copy_nonoverlapping(s, d, len);
        } else if len >= 16 {
            copy_nonoverlapping(s, d, 16);
            copy_nonoverlapping(s.add(len - 16), d.add(len - 16), 16);
        } else if len >= 8 {
            copy_nonoverlapping(s, d, 8);
            copy_nonoverlapping(s.add(len - 8), d.add(len - 8), 8);
        } else if len >= 4 {
            copy_nonoverlapping(s, d, 4);
            copy_nonoverlapping(s.add(len - 4), d.add(len - 4), 4);
        } else {
            for i in 0..len {
                *d.add(i) = *s.add(i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_every_length_exactly() {
        let src: Vec<u8> = (0..70u8).map(|i| b'a' + i % 26).collect();
        for len in 0..70 {
            let mut dst = vec![b'-'; len];
            copy(&mut dst, &src[..len]);
            assert_eq!(dst, src[..len], "{len}");
            let mut room = vec![MaybeUninit::uninit(); len];
            let mut f = Frag::new(&mut room);
            put(&mut f.buf[..len], &src[..len]);
            f.n = len;
            assert_eq!(f.as_str().as_bytes(), &src[..len], "{len}");
        }
    }

    #[test]
    fn writes_pieces_escapes_and_numbers() {
        let mut buf = [MaybeUninit::uninit(); FIRST_CAP];
        let mut f = Frag::new(&mut buf);
        f.str("<a x='").unwrap();
        f.escaped("b&c<d>'e\"\tü").unwrap();
        f.str("' n='").unwrap();
        for n in [0, 7, 10, 99, 100, 999, 1000, 4094, 9999, 10_000, 65535] {
            f.num(n).unwrap();
            f.str(",").unwrap();
        }
        f.num(4_294_967_295).unwrap();
        f.str("'/>").unwrap();
        assert_eq!(
            f.as_str(),
            "<a x='b&amp;c&lt;d&gt;&apos;e&quot;&#9;ü' \
             n='0,7,10,99,100,999,1000,4094,9999,10000,65535,4294967295'/>"
        );
    }

    #[test]
    fn a_piece_that_does_not_fit_is_refused() {
        let mut buf = [MaybeUninit::uninit(); 8];
        let mut f = Frag::new(&mut buf);
        f.str("1234567").unwrap();
        assert!(!f.full());
        assert_eq!(f.str("yz"), None);
        assert!(f.full());
        f.str("y").unwrap();
        assert_eq!(f.as_str(), "1234567y");
        assert_eq!(f.num(1), None);
    }
}
