//! The tokenizer: a spec split on commas as xl splits it.

use crate::bytes;

/// One token of a spec: `key=value`, or a bare word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token<'a> {
    /// The key (everything before the first `=`, spaces included), or the whole bare
    /// word.
    pub key: &'a str,
    /// Everything after the first `=`, spaces included, if there was one.
    pub value: Option<&'a str>,
    /// The whole token, without the spaces it started with.
    pub text: &'a str,
}

/// Splits a spec into tokens as xl does (`strtok` on `,`, then `while (*p == ' ') p++`):
/// empty tokens are skipped, and so are the spaces (` `, nothing else) at the start of a
/// token. Nothing else is trimmed: `rate =1MB/s` has the key `rate `, `bridge=br0 ` the
/// value `br0 `, as xl reads them. A token of spaces only is skipped too (xl would
/// complain about an empty argument and go on).
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

/// The token in `raw`, one comma-separated piece of a spec, without its leading spaces;
/// `None` if nothing else is left.
fn token(raw: &str) -> Option<Token<'_>> {
    let text = match raw.as_bytes().first() {
        Some(b' ') => raw.trim_start_matches(' '),
        Some(_) => raw,
        None => return None,
    };
    if text.is_empty() {
        return None;
    }
    // '=' is ASCII: both sides are at character boundaries.
    Some(match text.bytes().position(|c| c == b'=') {
        Some(i) => Token {
            key: &text[..i],
            value: Some(&text[i + 1..]),
            text,
        },
        None => Token {
            key: text,
            value: None,
            text,
        },
    })
}

/// Whether `c` is white space as C's `isspace` sees it in the C locale (space, `\t`,
/// `\n`, `\v`, `\f`, `\r`). xl skips only the spaces at the start of a token; a value
/// that holds any of these (but `ip=`'s separating spaces) is refused.
pub fn is_xl_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_leading_spaces_are_skipped() {
        let toks: Vec<_> = tokenize(" type=ioemu,  bridge=br900,,trusted, ,").collect();
        assert_eq!(toks.len(), 3);
        assert_eq!((toks[0].key, toks[0].value), ("type", Some("ioemu")));
        assert_eq!((toks[1].key, toks[1].value), ("bridge", Some("br900")));
        assert_eq!(toks[1].text, "bridge=br900");
        assert_eq!((toks[2].key, toks[2].value), ("trusted", None));
        assert_eq!(tokenize("").count(), 0);
        // Spaces anywhere else stay where they are, as in xl.
        let t = tokenize("rate =10MB/s,rate= 10MB/s,bridge=br0 ,trusted ").collect::<Vec<_>>();
        assert_eq!((t[0].key, t[0].value), ("rate ", Some("10MB/s")));
        assert_eq!((t[1].key, t[1].value), ("rate", Some(" 10MB/s")));
        assert_eq!((t[2].key, t[2].value), ("bridge", Some("br0 ")));
        assert_eq!((t[3].key, t[3].value), ("trusted ", None));
        // Only ' ': a tab, a vertical tab or a no-break space at the start is kept.
        let t = tokenize("\tbridge=br0,\u{b}x,\u{a0}y").collect::<Vec<_>>();
        assert_eq!(t[0].key, "\tbridge");
        assert_eq!(t[1].text, "\u{b}x");
        assert_eq!(t[2].text, "\u{a0}y");
        // The value is everything after the first '='.
        let t = tokenize("script=a=b").next().unwrap();
        assert_eq!(t.value, Some("a=b"));
    }

    /// xl's splitting, written the plain way.
    fn reference(spec: &str) -> Vec<Token<'_>> {
        spec.split(',')
            .map(|raw| raw.trim_start_matches(' '))
            .filter(|text| !text.is_empty())
            .map(|text| match text.split_once('=') {
                Some((k, v)) => Token {
                    key: k,
                    value: Some(v),
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
