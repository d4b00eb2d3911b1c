//! The lexer: the config's tokens, read one at a time into the parser's current token.

use std::borrow::Cow;

use super::{PResult, Parser};
use crate::bytes;
use crate::cfg::{CfgError, Near};

/// A token's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Ident,
    Number,
    Str,
    Newline,
    Semi,
    Eq,
    PlusEq,
    LBracket,
    RBracket,
    Comma,
    Eof,
}

impl Kind {
    /// The name bison gives the token in libxlutil's messages.
    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Ident => "IDENT",
            Kind::Number => "NUMBER",
            Kind::Str => "STRING",
            Kind::Newline => "NEWLINE",
            Kind::Semi => "';'",
            Kind::Eq => "'='",
            Kind::PlusEq => "+=",
            Kind::LBracket => "'['",
            Kind::RBracket => "']'",
            Kind::Comma => "','",
            Kind::Eof => "$end",
        }
    }
}

/// The index of the first byte at or after `i` that is `q`, a backslash, LF or CR (or
/// the length): the end of a string's plain run.
fn skip_plain(b: &[u8], i: usize, q: u8) -> usize {
    bytes::find(b, i, |c| {
        (c == q) | (c == b'\\') | (c == b'\n') | (c == b'\r')
    })
}

fn is_ident_byte(c: u8) -> bool {
    matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.')
}

fn is_number_byte(c: u8) -> bool {
    matches!(c, b'0'..=b'9' | b'a'..=b'f' | b'x')
}

impl<'a> Parser<'a, '_> {
    /// The text libxlutil shows for a lexical error at `start`: up to the next blank.
    fn word_at(&self, start: usize) -> Near {
        let rest = self.b.get(start..).unwrap_or(&[]);
        let len = rest
            .iter()
            .position(|&c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
            .unwrap_or(rest.len());
        Near::Text(
            self.src
                .get(start..start + len)
                .unwrap_or_default()
                .to_owned(),
        )
    }

    #[cold]
    fn lone_cr(&self) -> Box<CfgError> {
        self.syntax(
            self.line,
            Near::Text("\\r".to_owned()),
            "carriage return not followed by a newline",
        )
    }

    /// Makes `[start, end)` the current token, of `kind`, and goes on after it.
    fn set(&mut self, kind: Kind, start: usize, end: usize) -> PResult<Kind> {
        self.kind = kind;
        self.start = start;
        self.end = end;
        self.tline = self.line;
        self.pos = end;
        Ok(kind)
    }

    /// Reads the next token into the current one.
    pub(super) fn advance(&mut self) -> PResult<Kind> {
        let b = self.b;
        let mut i = self.pos;
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        let start = i;
        let Some(&c) = b.get(i) else {
            self.set(Kind::Eof, start, start)?;
            // The end of the file is on the last line that has a character.
            if b.last() == Some(&b'\n') {
                self.tline = self.line.saturating_sub(1).max(1);
            }
            return Ok(Kind::Eof);
        };
        match c {
            b'\n' => {
                self.set(Kind::Newline, start, start + 1)?;
                self.line = self.line.saturating_add(1);
                Ok(Kind::Newline)
            }
            b'\r' if b.get(i + 1) == Some(&b'\n') => {
                self.set(Kind::Newline, start, start + 2)?;
                self.line = self.line.saturating_add(1);
                Ok(Kind::Newline)
            }
            b'\r' => Err(self.lone_cr()),
            b'#' => {
                // A comment is part of the line end (as in libxlutil's lexer). Any byte
                // but LF may stand in it, a lone CR included.
                let end = match b[i..].iter().position(|&c| c == b'\n') {
                    Some(n) => i + n + 1,
                    None => b.len(),
                };
                self.set(Kind::Newline, start, end)?;
                if b[end - 1] == b'\n' {
                    self.line = self.line.saturating_add(1);
                }
                Ok(Kind::Newline)
            }
            b'a'..=b'z' => {
                i += 1;
                while i < b.len() && is_ident_byte(b[i]) {
                    i += 1;
                }
                self.set(Kind::Ident, start, i)
            }
            b'0'..=b'9' => {
                i += 1;
                while i < b.len() && is_number_byte(b[i]) {
                    i += 1;
                }
                self.text = Cow::Borrowed(&self.src[start..i]);
                self.set(Kind::Number, start, i)
            }
            b'\'' | b'"' => self.string(start),
            b'=' => self.set(Kind::Eq, start, start + 1),
            b';' => self.set(Kind::Semi, start, start + 1),
            b',' => self.set(Kind::Comma, start, start + 1),
            b'[' => self.set(Kind::LBracket, start, start + 1),
            b']' => self.set(Kind::RBracket, start, start + 1),
            b'+' if b.get(i + 1) == Some(&b'=') => self.set(Kind::PlusEq, start, start + 2),
            b'+' | b'-' | b'.' | b'(' | b')' | b':' => Err(self.syntax(
                self.line,
                self.word_at(start),
                "lexical error (this looks like Python, which xl config files no longer \
                 support)",
            )),
            _ => Err(self.syntax(self.line, self.word_at(start), "lexical error")),
        }
    }

    /// Reads the next token that is not a line end (inside lists).
    pub(super) fn advance_skip_nl(&mut self) -> PResult<Kind> {
        loop {
            let k = self.advance()?;
            if k != Kind::Newline {
                return Ok(k);
            }
        }
    }

    /// [`Self::advance_skip_nl`] for what a list mostly holds: blanks and line ends are
    /// stepped over here and a string, a comma or a `]` read at once; anything else
    /// (a comment, a CR, a number, an error) goes by [`Self::advance_skip_nl`].
    #[inline(always)]
    pub(super) fn advance_in_list(&mut self) -> PResult<Kind> {
        let b = self.b;
        let mut i = self.pos;
        loop {
            match b.get(i) {
                Some(b' ' | b'\t') => i += 1,
                Some(b'\n') => {
                    i += 1;
                    self.line = self.line.saturating_add(1);
                }
                _ => break,
            }
        }
        self.pos = i;
        match b.get(i) {
            Some(b'\'' | b'"') => {
                self.tline = self.line;
                self.string(i)
            }
            Some(b',') => self.set(Kind::Comma, i, i + 1),
            Some(b']') => self.set(Kind::RBracket, i, i + 1),
            _ => self.advance_skip_nl(),
        }
    }

    /// What an error inside the string starting at `start` is near: the whole string if
    /// it ends on its line, else the text up to the next blank.
    fn string_near(&self, start: usize) -> Near {
        let b = self.b;
        let q = b[start];
        let mut i = start + 1;
        while let Some(&c) = b.get(i) {
            match c {
                b'\\' => i += 2,
                b'\n' | b'\r' => break,
                _ if c == q => {
                    return Near::Text(self.src.get(start..=i).unwrap_or_default().to_owned())
                }
                _ => i += 1,
            }
        }
        self.word_at(start)
    }

    #[cold]
    fn unterminated(&self, start: usize) -> Box<CfgError> {
        self.syntax(self.line, self.word_at(start), "unterminated quoted string")
    }

    /// Reads the string whose quote is at `start`: here when nothing in it needs a
    /// look (no escape, no CR, no end of line or file before the closing quote).
    #[inline(always)]
    fn string(&mut self, start: usize) -> PResult<Kind> {
        let b = self.b;
        let q = b[start];
        let i = skip_plain(b, start + 1, q);
        if b.get(i) == Some(&q) {
            self.text = Cow::Borrowed(&self.src[start + 1..i]);
            return self.set(Kind::Str, start, i + 1);
        }
        self.string_escaped(start)
    }

    /// [`Self::string`] for a string with escapes (or an error).
    #[inline(never)]
    fn string_escaped(&mut self, start: usize) -> PResult<Kind> {
        let b = self.b;
        let q = b[start];
        let mut i = start + 1;
        let mut run = i;
        let mut owned: Option<String> = None;
        loop {
            i = skip_plain(b, i, q);
            let Some(&c) = b.get(i) else {
                return Err(self.unterminated(start));
            };
            if c == q {
                break;
            }
            match c {
                b'\\' => {
                    let (ch, len) = self.escape(start, i)?;
                    let buf = owned.get_or_insert_with(|| String::with_capacity(i - start + 16));
                    buf.push_str(&self.src[run..i]);
                    buf.push(ch);
                    i += len;
                    run = i;
                }
                b'\r' if b.get(i + 1) != Some(&b'\n') => return Err(self.lone_cr()),
                _ => return Err(self.unterminated(start)),
            }
        }
        self.text = match owned {
            Some(mut s) => {
                s.push_str(&self.src[run..i]);
                Cow::Owned(s)
            }
            None => Cow::Borrowed(&self.src[start + 1..i]),
        };
        self.set(Kind::Str, start, i + 1)
    }

    /// Decodes the escape at `i` (a backslash) inside the string starting at `start`:
    /// the character and the escape's length in bytes.
    fn escape(&self, start: usize, i: usize) -> PResult<(char, usize)> {
        let b = self.b;
        let Some(&n) = b.get(i + 1) else {
            return Err(self.unterminated(start));
        };
        let simple = match n {
            b'\'' => Some('\''),
            b'"' => Some('"'),
            b'\\' => Some('\\'),
            b'a' => Some('\x07'),
            b'b' => Some('\x08'),
            b'f' => Some('\x0c'),
            b'n' => Some('\n'),
            b'r' => Some('\r'),
            b't' => Some('\t'),
            b'v' => Some('\x0b'),
            _ => None,
        };
        if let Some(ch) = simple {
            return Ok((ch, 2));
        }
        let bad = |msg: String| {
            self.syntax(
                self.line,
                self.string_near(start),
                format!("{msg} in quoted string"),
            )
        };
        let (value, len) = match n {
            b'x' => {
                let digits = b
                    .get(i + 2..i + 4)
                    .filter(|d| d.iter().all(u8::is_ascii_hexdigit));
                let Some(d) = digits else {
                    let end = (i + 2..(i + 4).min(b.len()))
                        .take_while(|&j| b[j].is_ascii_hexdigit())
                        .last()
                        .map_or(i + 2, |j| j + 1);
                    return Err(bad(format!(
                        "invalid escape `{}` (\\x needs two hex digits)",
                        self.src.get(i..end).unwrap_or("\\x")
                    )));
                };
                let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0);
                (hex(d[0]) * 16 + hex(d[1]), 4)
            }
            b'0'..=b'7' => {
                let mut v = 0u32;
                let mut j = i + 1;
                while j < b.len() && j < i + 4 && (b'0'..=b'7').contains(&b[j]) {
                    v = v * 8 + u32::from(b[j] - b'0');
                    j += 1;
                }
                (v, j - i)
            }
            b'\n' | b'\r' => return Err(self.unterminated(start)),
            _ => {
                let ch = self.src.get(i + 1..).and_then(|s| s.chars().next());
                return Err(bad(format!(
                    "invalid escape `\\{}`",
                    ch.unwrap_or(n as char)
                )));
            }
        };
        match u8::try_from(value) {
            Ok(ascii) if ascii.is_ascii() => Ok((char::from(ascii), len)),
            _ => Err(bad(format!(
                "escape `{}` is above \\x7f (non-ASCII escapes are not supported)",
                self.src.get(i..i + len).unwrap_or_default()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use crate::cfg::test_util::{err, ok, s};
    use crate::cfg::*;
    use crate::guest::GuestType;

    #[test]
    fn identifiers() {
        let c = ok("a.b_c.9 = 1\nvif.default.script = 'x'\nz=0x1f\n");
        assert_eq!(s(&c, "a.b_c.9").as_deref(), Some("1"));
        assert_eq!(s(&c, "vif.default.script").as_deref(), Some("x"));
        assert_eq!(s(&c, "z").as_deref(), Some("0x1f"));
        assert_eq!(
            err("A = 'x'\n"),
            "f.cfg:1: config parsing error near `A': lexical error"
        );
        assert_eq!(
            err("\n_a = 'x'\n"),
            "f.cfg:2: config parsing error near `_a': lexical error"
        );
        assert_eq!(
            err("a = 0x1fz\n"),
            "f.cfg:1: config parsing error near `z': syntax error, unexpected IDENT, \
             expecting NEWLINE or ';' or $end"
        );
    }
    #[test]
    fn bare_words_and_python() {
        assert_eq!(
            err("vif = [bridge=x]\n"),
            "f.cfg:1: config parsing error near `bridge': syntax error, unexpected IDENT, \
             expecting STRING or NUMBER or '[' or ']' (values must be quoted)"
        );
        assert_eq!(
            err("a = bridge\n"),
            "f.cfg:1: config parsing error near `bridge': syntax error, unexpected IDENT, \
             expecting STRING or NUMBER or '[' (values must be quoted)"
        );
        for (src, near) in [
            ("a = (1)\n", "(1)"),
            ("a = +1\n", "+1"),
            ("a = -1\n", "-1"),
            ("a = .5\n", ".5"),
            ("a = 1.5\n", ".5"),
            ("a = 1:5\n", ":5"),
            ("a + = 'x'\n", "+"),
            ("a = [ 'x' ] )\n", ")"),
        ] {
            let e = err(src);
            assert_eq!(
                e,
                format!(
                    "f.cfg:1: config parsing error near `{near}': lexical error (this looks \
                     like Python, which xl config files no longer support)"
                ),
                "{src:?}"
            );
        }
        // At the end of a file without a newline too (libxlutil accepts that silently).
        assert_eq!(
            err("a = 'x'\n)"),
            "f.cfg:2: config parsing error near `)': lexical error (this looks like Python, \
             which xl config files no longer support)"
        );
        assert_eq!(
            err("a = @x y\n"),
            "f.cfg:1: config parsing error near `@x': lexical error"
        );
        assert_eq!(
            err("a = 'x'\n\u{e9} = 1\n"),
            "f.cfg:2: config parsing error near `\u{e9}': lexical error"
        );
    }
    #[test]
    fn strings_and_escapes() {
        let c = ok(r#"a = "it's" ; b = 'say "hi"'; c = '' ; d = "é ü""#);
        assert_eq!(s(&c, "a").as_deref(), Some("it's"));
        assert_eq!(s(&c, "b").as_deref(), Some("say \"hi\""));
        assert_eq!(s(&c, "c").as_deref(), Some(""));
        assert_eq!(s(&c, "d").as_deref(), Some("é ü"));
        assert!(matches!(c.get_string("a").unwrap(), Some(Cow::Borrowed(_))));

        let c = ok(r#"e = '\' \" \\ \a \b \f \n \r \t \v|\x41\x7e\x7F|\101\7\07\0101\0|\1234'"#);
        assert_eq!(
            s(&c, "e").as_deref(),
            Some("' \" \\ \x07 \x08 \x0c \n \r \t \x0b|A~\x7f|A\x07\x07\x081\0|S4")
        );
        assert!(matches!(c.get_string("e").unwrap(), Some(Cow::Owned(_))));
        assert_eq!(
            c.get("e").unwrap().as_ref(),
            &Value::Atom {
                text: Cow::Owned(
                    "' \" \\ \x07 \x08 \x0c \n \r \t \x0b|A~\x7f|A\x07\x07\x081\0|S4".into()
                ),
                quoted: true
            }
        );

        assert_eq!(
            err("a = \"x\\qy\"\n"),
            "f.cfg:1: config parsing error near `\"x\\qy\"': invalid escape `\\q` in quoted \
             string"
        );
        assert_eq!(
            err("a = 'x\\é'\n"),
            "f.cfg:1: config parsing error near `'x\\é'': invalid escape `\\é` in quoted \
             string"
        );
        assert_eq!(
            err("a = 'x\\8'\n"),
            "f.cfg:1: config parsing error near `'x\\8'': invalid escape `\\8` in quoted \
             string"
        );
        assert_eq!(
            err("a = 'x\\x4g'\n"),
            "f.cfg:1: config parsing error near `'x\\x4g'': invalid escape `\\x4` (\\x \
             needs two hex digits) in quoted string"
        );
        assert_eq!(
            err("a = 'x\\x'\n"),
            "f.cfg:1: config parsing error near `'x\\x'': invalid escape `\\x` (\\x needs \
             two hex digits) in quoted string"
        );
        assert_eq!(
            err("a = 'x\\xff'\n"),
            "f.cfg:1: config parsing error near `'x\\xff'': escape `\\xff` is above \\x7f \
             (non-ASCII escapes are not supported) in quoted string"
        );
        assert_eq!(
            err("a = 'x\\200'\n"),
            "f.cfg:1: config parsing error near `'x\\200'': escape `\\200` is above \\x7f \
             (non-ASCII escapes are not supported) in quoted string"
        );
        assert_eq!(
            err("a = 'x y\nb = 1\n"),
            "f.cfg:1: config parsing error near `'x': unterminated quoted string"
        );
        assert_eq!(
            err("a = 'x\\\ny'\n"),
            "f.cfg:1: config parsing error near `'x\\': unterminated quoted string"
        );
        assert_eq!(
            err("a = 'x"),
            "f.cfg:1: config parsing error near `'x': unterminated quoted string"
        );
        assert_eq!(
            err("a = 'x\\"),
            "f.cfg:1: config parsing error near `'x\\': unterminated quoted string"
        );
        // A bad escape in a string that does not end: near the text up to a blank.
        assert_eq!(
            err("a = 'x\\q y\n"),
            "f.cfg:1: config parsing error near `'x\\q': invalid escape `\\q` in quoted \
             string"
        );
    }
    #[test]
    fn crlf() {
        let src = "name = 'a'\r\n# c\r\nvif = [ 'x',\r\n  'y' ]\r\ntype='hvm'";
        let c = ok(src);
        assert_eq!(c.name().as_deref(), Some("a"));
        let v = c.vifs().unwrap();
        assert_eq!(v.items[1].spec, "y");
        assert_eq!(v.items[1].line, 4);
        assert_eq!(c.setting("type").unwrap().line, 5);
        assert_eq!(c.guest_type().unwrap(), GuestType::Hvm);
        // A comment may hold a lone CR (libxlutil takes it too).
        ok("# a\rb\r\na = 1\r\n");
        assert_eq!(
            err("a = 'x'\rb = 'y'\n"),
            "f.cfg:1: config parsing error near `\\r': carriage return not followed by a \
             newline"
        );
        assert_eq!(
            err("a = 1\n'x\ry'"),
            "f.cfg:2: config parsing error near `\\r': carriage return not followed by a \
             newline"
        );
        assert_eq!(
            err("a = 1\nb = 'x\ry'"),
            "f.cfg:2: config parsing error near `\\r': carriage return not followed by a \
             newline"
        );
        assert_eq!(
            err("a = 'x\r\n"),
            "f.cfg:1: config parsing error near `'x': unterminated quoted string"
        );
        assert_eq!(
            err("a = 1\r"),
            "f.cfg:1: config parsing error near `\\r': carriage return not followed by a \
             newline"
        );
    }
    #[test]
    fn skip_plain_stops_where_a_byte_by_byte_scan_stops() {
        let naive = |b: &[u8], i: usize, q: u8| {
            (i..b.len())
                .find(|&j| matches!(b[j], b'\\' | b'\n' | b'\r') || b[j] == q)
                .unwrap_or(b.len())
        };
        let mut r = 0x2545_f491_4f6c_dd1du64;
        let alphabet = b"ab'\"\\\n\r\t\x01\x1f \x7f\x80\xff";
        for _ in 0..20_000 {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            let len = (r % 40) as usize;
            let b: Vec<u8> = (0..len)
                .map(|k| {
                    let x = r.rotate_left(u32::try_from(k).expect("below 40") * 5);
                    // Mostly plain bytes, now and then one from the alphabet.
                    if x.is_multiple_of(5) {
                        alphabet[(x / 5 % alphabet.len() as u64) as usize]
                    } else {
                        b'a' + (x % 26) as u8
                    }
                })
                .collect();
            let i = (r >> 40) as usize % (len + 1);
            for q in [b'\'', b'"'] {
                assert_eq!(
                    super::skip_plain(&b, i, q),
                    naive(&b, i, q),
                    "{b:?} from {i}"
                );
            }
        }
    }
}
