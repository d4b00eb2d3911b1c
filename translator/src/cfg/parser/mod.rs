//! The recursive-descent parser behind [`parse`](super::parse), over the tokens of
//! [`lex`].

use std::borrow::Cow;

use super::{CfgError, CfgErrorKind, Item, Near, Setting, Value};

mod lex;

use lex::Kind;

/// How deep lists may nest.
const MAX_DEPTH: usize = 64;

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
