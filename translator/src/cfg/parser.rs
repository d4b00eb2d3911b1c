//! The lexer and recursive-descent parser behind [`parse`](super::parse).

use std::borrow::Cow;

use crate::bytes;

use super::{CfgError, CfgErrorKind, Item, Near, Setting, Value};

/// How deep lists may nest.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
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
    fn name(self) -> &'static str {
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

/// Parser results box their error, which keeps the hot path's values small.
type PResult<T> = Result<T, Box<CfgError>>;

/// A one-pass lexer and recursive-descent parser. The current token lives in the
/// parser's fields (`kind`, `start`, `end`, `tline`, `text`), set by [`Parser::advance`].
pub(super) struct Parser<'a, 'f> {
    src: &'a str,
    b: &'a [u8],
    /// Where lexing goes on.
    pos: usize,
    /// The line at `pos`.
    line: u32,
    file: &'f str,
    kind: Kind,
    start: usize,
    end: usize,
    tline: u32,
    /// The text of the current atom (decoded for a string, as written for a number).
    text: Cow<'a, str>,
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

impl<'a, 'f> Parser<'a, 'f> {
    pub(super) fn new(src: &'a str, file: &'f str) -> Self {
        Parser {
            src,
            b: src.as_bytes(),
            pos: 0,
            line: 1,
            file,
            kind: Kind::Eof,
            start: 0,
            end: 0,
            tline: 1,
            text: Cow::Borrowed(""),
        }
    }

    #[cold]
    fn error(&self, line: u32, kind: CfgErrorKind) -> Box<CfgError> {
        Box::new(CfgError {
            file: self.file.to_owned(),
            line,
            kind,
        })
    }

    #[cold]
    fn syntax(&self, line: u32, near: Near, message: impl Into<String>) -> Box<CfgError> {
        self.error(
            line,
            CfgErrorKind::Syntax {
                near,
                message: message.into(),
            },
        )
    }

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

    /// What a syntax error at the current token is near.
    fn near(&self) -> Near {
        let text = self.src.get(self.start..self.end).unwrap_or_default();
        match self.kind {
            Kind::Eof => Near::Text(String::new()),
            Kind::Newline if text.starts_with('#') => {
                Near::Text(text.trim_end_matches(['\n', '\r', ' ', '\t']).to_owned())
            }
            Kind::Newline => Near::Newline,
            _ => Near::Text(text.to_owned()),
        }
    }

    /// A syntax error at the current token.
    #[cold]
    fn unexpected(&self, expecting: &str) -> Box<CfgError> {
        let mut message = format!(
            "syntax error, unexpected {}, expecting {expecting}",
            self.kind.name()
        );
        if self.kind == Kind::Ident && expecting.starts_with("STRING") {
            message.push_str(" (values must be quoted)");
        }
        self.syntax(self.tline, self.near(), message)
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
    fn advance(&mut self) -> PResult<Kind> {
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
    fn advance_skip_nl(&mut self) -> PResult<Kind> {
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
    fn advance_in_list(&mut self) -> PResult<Kind> {
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

    // -- grammar -------------------------------------------------------------------------

    /// The atom that is the current token (a string or number).
    fn atom(&mut self) -> Item<'a> {
        Item {
            value: Value::Atom {
                text: std::mem::replace(&mut self.text, Cow::Borrowed("")),
                quoted: self.kind == Kind::Str,
            },
            line: self.tline,
            span: self.start..self.end,
        }
    }

    /// The value starting at the current token.
    fn value(&mut self, depth: usize) -> PResult<Item<'a>> {
        match self.kind {
            Kind::Str | Kind::Number => Ok(self.atom()),
            Kind::LBracket => self.list(depth),
            _ => Err(self.unexpected("STRING or NUMBER or '['")),
        }
    }

    /// The list whose `[` is the current token.
    fn list(&mut self, depth: usize) -> PResult<Item<'a>> {
        let (open, line) = (self.start, self.tline);
        if depth >= MAX_DEPTH {
            return Err(self.syntax(
                line,
                self.near(),
                format!("lists nested too deeply (more than {MAX_DEPTH} levels)"),
            ));
        }
        let mut items = Vec::new();
        loop {
            match self.advance_in_list()? {
                Kind::RBracket => break,
                Kind::Str | Kind::Number => items.push(self.atom()),
                Kind::LBracket => items.push(self.list(depth + 1)?),
                _ => return Err(self.unexpected("STRING or NUMBER or '[' or ']'")),
            }
            match self.advance_in_list()? {
                Kind::Comma => {}
                Kind::RBracket => break,
                _ => return Err(self.unexpected("',' or ']'")),
            }
        }
        Ok(Item {
            value: Value::List(items),
            line,
            span: open..self.end,
        })
    }

    pub(super) fn file(&mut self) -> PResult<Vec<Setting<'a>>> {
        let mut settings: Vec<Setting<'a>> = Vec::new();
        loop {
            match self.advance()? {
                Kind::Eof => return Ok(settings),
                Kind::Newline | Kind::Semi => continue,
                Kind::Ident => {}
                _ => return Err(self.unexpected("$end or IDENT or NEWLINE or ';'")),
            }
            let (name_start, line) = (self.start, self.tline);
            let name = &self.src[self.start..self.end];
            let append = match self.advance()? {
                Kind::Eq => false,
                Kind::PlusEq => true,
                _ => return Err(self.unexpected("+= or '='")),
            };
            self.advance()?;
            let item = self.value(0)?;
            if append {
                if let Some(prev) = settings.iter().rev().find(|s| s.name == name) {
                    if prev.value.is_list() != item.value.is_list() {
                        return Err(self.error(
                            line,
                            CfgErrorKind::AppendMismatch {
                                name: name.to_owned(),
                                added: item.value.kind_name(),
                                existing: prev.value.kind_name(),
                                previous_line: prev.line,
                            },
                        ));
                    }
                }
            }
            settings.push(Setting {
                name,
                append,
                value: item.value,
                line,
                span: name_start..item.span.end,
                value_span: item.span,
            });
            match self.advance()? {
                Kind::Newline | Kind::Semi => {}
                Kind::Eof => return Ok(settings),
                _ => return Err(self.unexpected("NEWLINE or ';' or $end")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use crate::cfg::test_util::{err, ok, s, strings};
    use crate::cfg::*;

    #[test]
    fn spans_and_lines() {
        let src = "a = 'x' ; bb += [ 1,\n 'y' ] # c\n";
        let c = ok(src);
        let set = c.settings();
        assert_eq!(set.len(), 2);
        assert_eq!(&src[set[0].span.clone()], "a = 'x'");
        assert_eq!(&src[set[0].value_span.clone()], "'x'");
        assert!(!set[0].append);
        assert_eq!(set[1].name, "bb");
        assert!(set[1].append);
        assert_eq!(&src[set[1].span.clone()], "bb += [ 1,\n 'y' ]");
        assert_eq!(&src[set[1].value_span.clone()], "[ 1,\n 'y' ]");
        let items = set[1].value.as_list().unwrap();
        assert_eq!(items[0].line, 1);
        assert_eq!(items[1].line, 2);
        assert_eq!(&src[items[1].span.clone()], "'y'");
        assert_eq!(
            items[0].value,
            Value::Atom {
                text: Cow::Borrowed("1"),
                quoted: false
            }
        );
    }

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
    fn statements_and_comments() {
        let c = ok("# head\n\n a = 'x';b=\"y\" ;; c = 2 # tail\n\td = [ ]");
        assert_eq!(s(&c, "a").as_deref(), Some("x"));
        assert_eq!(s(&c, "b").as_deref(), Some("y"));
        assert_eq!(s(&c, "c").as_deref(), Some("2"));
        assert_eq!(c.get_list("d").unwrap().unwrap().len(), 0);
        assert_eq!(c.setting("d").unwrap().line, 4);
        // A comment on the last line without a newline is fine (libxlutil: error).
        let c = ok("a = 'x' # no newline");
        assert_eq!(s(&c, "a").as_deref(), Some("x"));
        ok("# only a comment");
        ok("");
        ok("\n\n;\n");
        assert_eq!(
            err("a = 'x' b = 'y'\n"),
            "f.cfg:1: config parsing error near `b': syntax error, unexpected IDENT, \
             expecting NEWLINE or ';' or $end"
        );
        assert_eq!(
            err("= 'x'\n"),
            "f.cfg:1: config parsing error near `=': syntax error, unexpected '=', \
             expecting $end or IDENT or NEWLINE or ';'"
        );
        assert_eq!(
            err("a 'x'\n"),
            "f.cfg:1: config parsing error near `'x'': syntax error, unexpected STRING, \
             expecting += or '='"
        );
    }

    #[test]
    fn error_near_newline_comment_and_end() {
        assert_eq!(
            err("a = 1\nb\n"),
            "f.cfg:2: config parsing error near <newline>: syntax error, unexpected \
             NEWLINE, expecting += or '='"
        );
        assert_eq!(
            err("a # cmt  \n"),
            "f.cfg:1: config parsing error near `# cmt': syntax error, unexpected NEWLINE, \
             expecting += or '='"
        );
        assert_eq!(
            err("a = [ 'x'\n"),
            "f.cfg:1: config parsing error near `': syntax error, unexpected $end, \
             expecting ',' or ']'"
        );
        assert_eq!(
            err("a ="),
            "f.cfg:1: config parsing error near `': syntax error, unexpected $end, \
             expecting STRING or NUMBER or '['"
        );
        assert_eq!(
            err("a =\n"),
            "f.cfg:1: config parsing error near <newline>: syntax error, unexpected \
             NEWLINE, expecting STRING or NUMBER or '['"
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

    #[test]
    fn lists() {
        let c = ok("a = [\n  'x', # one\n\n  # between\n  'y'\n  ,\n]\nb = []\nc = [ [], [[ 'q' ]], 1, ]\nd = ['z',]\n");
        assert_eq!(strings(&c, "a"), ["x", "y"]);
        assert_eq!(c.get_list("b").unwrap().unwrap().len(), 0);
        let cl = c.get_list("c").unwrap().unwrap();
        assert_eq!(cl.len(), 3);
        assert_eq!(cl[0].value, Value::List(vec![]));
        let inner = cl[1].value.as_list().unwrap()[0].value.as_list().unwrap();
        assert_eq!(inner[0].value.as_str(), Some("q"));
        assert_eq!(cl[2].value.as_str(), Some("1"));
        assert_eq!(strings(&c, "d"), ["z"]);
        assert_eq!(
            err("a = [,]\n"),
            "f.cfg:1: config parsing error near `,': syntax error, unexpected ',', \
             expecting STRING or NUMBER or '[' or ']'"
        );
        assert_eq!(
            err("a = [ 'x',, ]\n"),
            "f.cfg:1: config parsing error near `,': syntax error, unexpected ',', \
             expecting STRING or NUMBER or '[' or ']'"
        );
        assert_eq!(
            err("a = [ 'x'\n 'y' ]\n"),
            "f.cfg:2: config parsing error near `'y'': syntax error, unexpected STRING, \
             expecting ',' or ']'"
        );
        assert_eq!(
            err("a = [ 'x' ; ]\n"),
            "f.cfg:1: config parsing error near `;': syntax error, unexpected ';', \
             expecting ',' or ']'"
        );
        assert_eq!(
            err("a = 'x', 'y'\n"),
            "f.cfg:1: config parsing error near `,': syntax error, unexpected ',', \
             expecting NEWLINE or ';' or $end"
        );
        // Lines counted the same whether a list's blanks, line ends and comments are
        // stepped over by the list's own path or the general one.
        let c = ok("a = [\n\t'x' ,\n\n  # c\n\t 'y',\r\n 'z'\n , 7,\n\n\n 'w'\n]\n");
        let a = c.get_list("a").unwrap().unwrap();
        assert_eq!(
            a.iter().map(|i| i.line).collect::<Vec<_>>(),
            [2, 5, 6, 7, 10]
        );
        assert_eq!(
            err("a = [\n\n\t'x',\n\n  ]]\n"),
            "f.cfg:5: config parsing error near `]': syntax error, unexpected ']', \
             expecting NEWLINE or ';' or $end"
        );
        assert_eq!(
            err("a = [ 'x',\n # c\n\n 'y\n"),
            "f.cfg:4: config parsing error near `'y': unterminated quoted string"
        );
        // Nesting limit.
        let deep_ok = format!("a = {}{}", "[".repeat(64), "]".repeat(64));
        ok(&deep_ok);
        let deep = format!("a = {}{}", "[".repeat(65), "]".repeat(65));
        assert_eq!(
            err(&deep),
            "f.cfg:1: config parsing error near `[': lists nested too deeply (more than 64 \
             levels)"
        );
        let very_deep = "a = ".to_owned() + &"[".repeat(100_000);
        assert!(parse(&very_deep, "f").is_err());
    }

    #[test]
    fn append() {
        let c =
            ok("a = ['x']\nb = 'p'\na += ['y', 'z']\nb += \"q\"\nb += 1\nc += ['w']\nd += 's'\n");
        assert_eq!(strings(&c, "a"), ["x", "y", "z"]);
        let a = c.get_list("a").unwrap().unwrap();
        assert_eq!(a.iter().map(|i| i.line).collect::<Vec<_>>(), [1, 3, 3]);
        assert_eq!(s(&c, "b").as_deref(), Some("pq1"));
        assert_eq!(strings(&c, "c"), ["w"]);
        assert!(matches!(c.get("c"), Some(Cow::Borrowed(_))));
        assert_eq!(s(&c, "d").as_deref(), Some("s"));
        // Raw statements are kept.
        assert_eq!(c.settings().len(), 7);
        assert_eq!(c.settings()[2].value.as_list().unwrap().len(), 2);

        // A later `=` starts over; the effective value is the last `=` plus later `+=`.
        let c = ok("a = ['x']\na += ['y']\na = \"q\"\na += 'r'\n");
        assert_eq!(s(&c, "a").as_deref(), Some("qr"));
        let c = ok("a = 'x'\na = ['y']\na += ['z']\n");
        assert_eq!(strings(&c, "a"), ["y", "z"]);

        assert_eq!(
            err("a = 'x'\n\na += ['y']\n"),
            "f.cfg:3: `+=` adds a list to `a`, which is a string (line 1)"
        );
        assert_eq!(
            err("a = ['x']\na += 'y'\n"),
            "f.cfg:2: `+=` adds a string to `a`, which is a list (line 1)"
        );
        assert_eq!(
            err("a += ['x']\na += 'y'\n"),
            "f.cfg:2: `+=` adds a string to `a`, which is a list (line 1)"
        );
    }

    #[test]
    #[ignore = "timing; run with --ignored --nocapture in release mode"]
    fn speed_500_vifs() {
        let mut src = String::from("name = 'big'\ntype = 'hvm'\nvif = [\n");
        for i in 0..500 {
            src.push_str(&format!(
                "  'mac=00:16:3e:00:{:02x}:{:02x},bridge=xenbr0,vifname=vif{i}',\n",
                i / 256,
                i % 256
            ));
        }
        src.push_str("]\n");
        let n = 2000;
        let t = std::time::Instant::now();
        for _ in 0..n {
            let c = parse(&src, "big").unwrap();
            assert_eq!(c.vifs().unwrap().items.len(), 500);
        }
        eprintln!("{} bytes: {:?} per parse+vifs", src.len(), t.elapsed() / n);
        let t = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(parse(std::hint::black_box(&src), "big").unwrap());
        }
        eprintln!("parse only: {:?}", t.elapsed() / n);
    }
}
