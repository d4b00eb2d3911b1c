//! The tokenizer: a spec split on commas as xl splits it.

use crate::bytes;

/// One token of a spec: `key=value`, or a bare word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    /// The key (trimmed), or the whole bare word.
    pub key: &'a str,
    /// The value after the first `=` (trimmed), if there was one.
    pub value: Option<&'a str>,
    /// The whole token, trimmed.
    pub text: &'a str,
}

/// Splits a spec into tokens as xl does: on `,`, skipping empty tokens, with white space
/// ([`is_xl_space`]) around tokens, keys and values trimmed.
pub fn tokenize(spec: &str) -> Tokens<'_> {
    Tokens { rest: spec }
}

/// The iterator [`tokenize`] returns.
#[derive(Debug, Clone)]
pub struct Tokens<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        loop {
            if self.rest.is_empty() {
                return None;
            }
            let end = bytes::find(self.rest.as_bytes(), 0, |c| c == b',');
            // ',' is ASCII, so the cut is at a character boundary.
            let (raw, rest) = self.rest.split_at(end);
            self.rest = rest.get(1..).unwrap_or("");
            if let Some(token) = token(raw) {
                return Some(token);
            }
        }
    }
}

/// The token in `raw`, one comma-separated piece of a spec, trimmed; `None` if it is
/// empty or white space only.
fn token(raw: &str) -> Option<Token<'_>> {
    let b = raw.as_bytes();
    let text = match (b.first(), b.last()) {
        (Some(&f), Some(&l)) if !is_xl_space_byte(f) && !is_xl_space_byte(l) => raw,
        _ => Some(trim_xl(raw)).filter(|t| !t.is_empty())?,
    };
    // '=' is ASCII: both sides are at character boundaries.
    Some(match text.bytes().position(|c| c == b'=') {
        Some(i) => Token {
            key: trim_xl(&text[..i]),
            value: Some(trim_xl(&text[i + 1..])),
            text,
        },
        None => Token {
            key: text,
            value: None,
            text,
        },
    })
}

/// Whether xl skips `c` around tokens: C's `isspace` in the C locale (space, `\t`,
/// `\n`, `\v`, `\f`, `\r`), not Unicode white space.
pub fn is_xl_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// [`is_xl_space`] for a byte.
#[inline]
pub(super) fn is_xl_space_byte(c: u8) -> bool {
    c == b' ' || (b'\t'..=b'\r').contains(&c)
}

/// `s` without [`is_xl_space`] characters at either end (all ASCII, so the cuts are at
/// character boundaries).
#[inline]
fn trim_xl(s: &str) -> &str {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&f), Some(&l)) if !is_xl_space_byte(f) && !is_xl_space_byte(l) => s,
        _ => {
            let start = b
                .iter()
                .position(|&c| !is_xl_space_byte(c))
                .unwrap_or(b.len());
            let end = b
                .iter()
                .rposition(|&c| !is_xl_space_byte(c))
                .map_or(start, |e| e + 1);
            &s[start..end]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizer_is_xl_tolerant() {
        let toks: Vec<_> = tokenize(" type=ioemu, bridge = br900,,trusted, ").collect();
        assert_eq!(toks.len(), 3);
        assert_eq!((toks[1].key, toks[1].value), ("bridge", Some("br900")));
        assert_eq!((toks[2].key, toks[2].value), ("trusted", None));
        assert_eq!(tokenize("").count(), 0);
        // C's isspace: a vertical tab is trimmed, a no-break space is not.
        let t = tokenize("\u{b}bridge=br0\u{c},\u{a0}x").collect::<Vec<_>>();
        assert_eq!(t[0].text, "bridge=br0");
        assert_eq!(t[1].text, "\u{a0}x");
        // The value is everything after the first '='.
        let t = tokenize("script=a=b").next().unwrap();
        assert_eq!(t.value, Some("a=b"));
    }

    /// xl's splitting, written the plain way.
    fn reference(spec: &str) -> Vec<Token<'_>> {
        spec.split(',')
            .map(|raw| raw.trim_matches(is_xl_space))
            .filter(|text| !text.is_empty())
            .map(|text| match text.split_once('=') {
                Some((k, v)) => Token {
                    key: k.trim_matches(is_xl_space),
                    value: Some(v.trim_matches(is_xl_space)),
                    text,
                },
                None => Token {
                    key: text,
                    value: None,
                    text,
                },
            })
            .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(5_000))]

        #[test]
        fn splits_as_the_plain_reading_does(
            spec in "([a-z=,.:/ \t\u{b}\u{7f}\u{1}é]{0,6}|mac=00:16:3e:01:02:03|bridge=xenbr0|script=/etc/xen/scripts/vif-bridge){0,8}"
        ) {
            let got: Vec<Token<'_>> = tokenize(&spec).collect();
            proptest::prop_assert_eq!(got, reference(&spec), "{:?}", spec);
        }
    }
}
