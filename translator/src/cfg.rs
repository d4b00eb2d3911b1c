//! xl config files (`/etc/xen/*.cfg`, `/etc/xen/xl.conf`): a parser for libxlutil's
//! syntax, typed look-ups of the settings vifkit needs, and a byte-preserving rewrite of
//! one list setting (for `vifkit patch-cfg`).
//!
//! # Syntax
//! A file is a sequence of settings `name = value` or `name += value`:
//!
//! - Names are `[a-z][._0-9a-z]*` (lower case; `vif.default.script` is one name).
//! - A statement ends with a newline or `;`; the last one needs neither. Empty statements
//!   (blank lines, `;;`) are fine. Spaces and tabs between tokens are ignored.
//! - `#` starts a comment that runs to the end of the line, also inside a multi-line list
//!   and on a last line without a newline.
//! - Values: a string in `'...'` or `"..."` (one line), a number `[0-9][0-9a-fx]*` kept as
//!   text (as libxlutil does: `0x1f` stays `"0x1f"`), or a list `[ value, ... ]`. Lists nest
//!   (at most 64 deep), may be empty, may span lines (a newline may stand before or after
//!   any item or comma) and may end with a comma; `[,]` is an error.
//! - String escapes: `\' \" \\ \a \b \f \n \r \t \v`, `\xHH` (exactly two hex digits) and
//!   `\NNN` (one to three octal digits, greedy). A numeric escape must give an ASCII
//!   character (at most `\x7f`); `\0` is allowed. Any other escape is an error.
//! - A bare word as a value (`vif = [bridge=x]`) is a syntax error. A token starting with
//!   `+ - . ( ) :` is a lexical error whose message says the file looks like Python.
//! - Line endings: LF or CRLF (a CR right before an LF is part of the line ending and is
//!   otherwise ignored). A CR anywhere else outside a comment is an error.
//! - The input must be UTF-8 ([`parse_bytes`] reports the line of an invalid byte).
//!
//! # Meaning
//! The last `=` for a name wins. `+=` appends a list to the list, or concatenates a string
//! to the string, the name had so far; `+=` with no earlier setting acts as `=`. Adding a
//! list to a string, or the reverse, is an error found while parsing (as in libxlutil).
//! [`Config::settings`] keeps every statement as written; [`Config::get`] and the typed
//! getters give the effective value.
//!
//! # Errors
//! Syntax errors read as libxlutil's do:
//! ``<file>:<line>: config parsing error near `<token>': <message>`` (`near <newline>` when
//! the token is a bare line end, and `` near `' `` at the end of the file). Other errors read
//! `<file>:<line>: <Message>`. Parsing stops at the first error.
//!
//! # Known differences from libxlutil (Debian's 4.17)
//! - Numeric escapes: libxlutil rejects every `\xHH` and every one- or two-digit octal
//!   escape, and drops the character of a three-digit one (`"a\101b"` gives `ab`). vifkit
//!   implements the documented grammar (`"a\101b"` is `aAb`), refuses escapes above `\x7f`
//!   (strings here are UTF-8), and keeps a `\0` (libxlutil would cut its C string there).
//! - CRLF files: libxlutil rejects every CR as a lexical error; vifkit accepts CRLF silently.
//!   A lone CR is an error here even inside a string, where libxlutil takes it literally.
//! - A comment on the last line without a newline is fine here; libxlutil reports a lexical
//!   error.
//! - Invalid UTF-8 is an error here; libxlutil takes any byte inside strings and comments.
//! - A bad character in the last word of a file without a final newline (`a = 'x'\n)`):
//!   libxlutil's lexer hits the end of the file while skipping the bad word and accepts
//!   the file silently; vifkit reports the lexical error.
//! - When the unexpected token is a line end, libxlutil names the line before it (line 0
//!   for the first line); vifkit names the line the newline ends.
//! - Syntax error messages name the tokens that were really expected; bison's messages in
//!   libxlutil sometimes list fewer (`expecting $end` after a value, `expecting ']'` in a
//!   list). Only the first error is reported. A string that does not end on its line is
//!   "unterminated quoted string" here and "lexical error" in libxlutil.
//! - Adding a list to a string with `+=` (or the reverse) is a plain error naming the
//!   setting; libxlutil reports it as a parsing error near whatever token it had read.
//! - A list where a string is expected (or the reverse) is an error from the typed getters;
//!   xl prints a warning and treats the setting as absent.
//! - `type`/`builder`: xl compares with `strncmp` over the given length, so any prefix
//!   (even `""`) of `hvm`, `pv`, `pvh`, `generic` is accepted; vifkit wants the whole word.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use crate::guest::GuestType;

/// A short description of the xl config syntax, for `--help`.
pub const SYNTAX: &str = "xl config: one `name = value` (or `name += value`) per line or \
separated by `;`; names [a-z][._0-9a-z]*; values are 'strings' or \"strings\" (escapes \
\\' \\\" \\\\ \\a \\b \\f \\n \\r \\t \\v \\xHH \\NNN), numbers (kept as text) or lists \
[ value, ... ] that may nest, span lines and end with a comma; # starts a comment. \
The last `=` wins; `+=` appends to a list or string.";

/// How deep lists may nest.
const MAX_DEPTH: usize = 64;

// ---------------------------------------------------------------------------------------
// Values, settings, errors, warnings
// ---------------------------------------------------------------------------------------

/// A value: a string or number (an atom, kept as text) or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    /// A quoted string (escapes resolved) or a number (as written).
    Atom {
        /// The text; borrowed from the source unless the string had escapes (or is the
        /// result of `+=`).
        text: Cow<'a, str>,
        /// Whether the atom was a quoted string (false for a number; after `+=`, true if
        /// any part was quoted).
        quoted: bool,
    },
    /// A list of values.
    List(Vec<Item<'a>>),
}

impl<'a> Value<'a> {
    /// The text of an atom, `None` for a list.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Atom { text, .. } => Some(text),
            Value::List(_) => None,
        }
    }

    /// The items of a list, `None` for an atom.
    pub fn as_list(&self) -> Option<&[Item<'a>]> {
        match self {
            Value::List(items) => Some(items),
            Value::Atom { .. } => None,
        }
    }

    /// Whether this is a list.
    pub fn is_list(&self) -> bool {
        matches!(self, Value::List(_))
    }

    fn kind_name(&self) -> &'static str {
        if self.is_list() {
            "list"
        } else {
            "string"
        }
    }
}

/// One element of a list, with where it stands in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item<'a> {
    /// The element.
    pub value: Value<'a>,
    /// The line (from 1) the element starts on.
    pub line: u32,
    /// Its bytes in the source (quotes or brackets included).
    pub span: Range<usize>,
}

/// One statement `name = value` or `name += value`, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting<'a> {
    /// The name.
    pub name: &'a str,
    /// Whether the statement is `+=`.
    pub append: bool,
    /// The value as written in this statement (not combined with earlier `+=`).
    pub value: Value<'a>,
    /// The line (from 1) of the name.
    pub line: u32,
    /// The whole statement, from the name to the end of the value (terminator excluded).
    pub span: Range<usize>,
    /// The value's bytes.
    pub value_span: Range<usize>,
}

/// What a parsing error was "near", displayed the way libxlutil does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Near {
    /// A token's text, shown in `` `...' ``; empty at the end of the file.
    Text(String),
    /// A bare line end, shown as `<newline>`.
    Newline,
}

impl fmt::Display for Near {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Near::Text(t) => write!(f, "`{t}'"),
            Near::Newline => f.write_str("<newline>"),
        }
    }
}

/// What went wrong in a [`CfgError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CfgErrorKind {
    /// A lexical or grammar error, worded as libxlutil words it.
    #[error("config parsing error near {near}: {message}")]
    Syntax {
        /// The offending token.
        near: Near,
        /// What is wrong (lower case, as libxlutil's messages).
        message: String,
    },
    /// The file is not UTF-8.
    #[error("Invalid UTF-8")]
    InvalidUtf8,
    /// `+=` adds a list to a string or a string to a list.
    #[error("`+=` adds a {added} to `{name}`, which is a {existing} (line {previous_line})")]
    AppendMismatch {
        /// The setting.
        name: String,
        /// `list` or `string`: what the `+=` adds.
        added: &'static str,
        /// `list` or `string`: what the setting was.
        existing: &'static str,
        /// The line of the setting's previous statement.
        previous_line: u32,
    },
    /// A list where a single string is expected.
    #[error("Setting `{name}` is a list but should be a single value")]
    NotAString {
        /// The setting.
        name: String,
    },
    /// A single value where a list is expected.
    #[error("Setting `{name}` is a single value but should be a list")]
    NotAList {
        /// The setting.
        name: String,
    },
    /// A setting has a value outside its allowed set.
    #[error("Invalid {name} `{value}` (expected {expected})")]
    InvalidValue {
        /// The setting.
        name: String,
        /// The value found.
        value: String,
        /// The allowed values, in words.
        expected: &'static str,
    },
    /// `builder` and `type` name different guest types.
    #[error("Contradicting `builder` ({builder}) and `type` ({ty})")]
    ContradictingBuilder {
        /// The value of `builder`.
        builder: String,
        /// The value of `type`.
        ty: String,
    },
}

/// An error in an xl config file, naming the file and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {kind}")]
pub struct CfgError {
    /// The file name given to [`parse`].
    pub file: String,
    /// The line (from 1).
    pub line: u32,
    /// What went wrong.
    pub kind: CfgErrorKind,
}

/// A warning about an xl config file (something xl accepts but that probably does not do
/// what was meant, or a deprecated spelling).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CfgWarning {
    /// The file name given to [`parse`].
    pub file: String,
    /// The line (from 1).
    pub line: u32,
    /// The warning, sentence case.
    pub message: String,
}

impl fmt::Display for CfgWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// One entry of the `vif` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VifItem<'a> {
    /// The spec string (`'mac=...,bridge=...'`).
    pub spec: Cow<'a, str>,
    /// The line it is on.
    pub line: u32,
}

/// The `vif` entries of a guest config, as xl reads them, with what xl would silently
/// drop reported as warnings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VifList<'a> {
    /// The specs, in order (the index is the device id).
    pub items: Vec<VifItem<'a>>,
    /// Warnings (a string instead of a list, a nested list).
    pub warnings: Vec<CfgWarning>,
}

/// The vif defaults an `/etc/xen/xl.conf` sets (`None`: not set, xl's built-in default
/// applies: `vif-bridge`, `xenbr0`, dom0, none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VifDefaults {
    /// `vif.default.script` (deprecated: `vifscript`).
    pub script: Option<String>,
    /// `vif.default.bridge` (deprecated: `defaultbridge`).
    pub bridge: Option<String>,
    /// `vif.default.backend`.
    pub backend: Option<String>,
    /// `vif.default.gatewaydev`.
    pub gatewaydev: Option<String>,
}

// ---------------------------------------------------------------------------------------
// Lexer
// ---------------------------------------------------------------------------------------

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
struct Parser<'a, 'f> {
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
/// the length), eight bytes at a time.
fn skip_plain(b: &[u8], mut i: usize, q: u8) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let (bq, bs, bn, br) = (
        ONES * u64::from(q),
        ONES * u64::from(b'\\'),
        ONES * u64::from(b'\n'),
        ONES * u64::from(b'\r'),
    );
    while let Some(chunk) = b.get(i..i + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let w = u64::from_le_bytes(w);
        if has_zero(w ^ bq) | has_zero(w ^ bs) | has_zero(w ^ bn) | has_zero(w ^ br) != 0 {
            break;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == q || c == b'\\' || c == b'\n' || c == b'\r' {
            break;
        }
        i += 1;
    }
    i
}

fn is_ident_byte(c: u8) -> bool {
    matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.')
}

fn is_number_byte(c: u8) -> bool {
    matches!(c, b'0'..=b'9' | b'a'..=b'f' | b'x')
}

impl<'a, 'f> Parser<'a, 'f> {
    fn new(src: &'a str, file: &'f str) -> Self {
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

    fn string(&mut self, start: usize) -> PResult<Kind> {
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
        if value > 0x7f {
            return Err(bad(format!(
                "escape `{}` is above \\x7f (non-ASCII escapes are not supported)",
                self.src.get(i..i + len).unwrap_or_default()
            )));
        }
        // `value` is at most 0x7f, so it is a char.
        Ok((char::from(value as u8), len))
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
            match self.advance_skip_nl()? {
                Kind::RBracket => break,
                Kind::Str | Kind::Number => items.push(self.atom()),
                Kind::LBracket => items.push(self.list(depth + 1)?),
                _ => return Err(self.unexpected("STRING or NUMBER or '[' or ']'")),
            }
            match self.advance_skip_nl()? {
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

    fn file(&mut self) -> PResult<Vec<Setting<'a>>> {
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

// ---------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------

/// Parses an xl config file. `file` is the name errors and warnings show.
pub fn parse<'a>(src: &'a str, file: &str) -> Result<Config<'a>, CfgError> {
    let mut p = Parser::new(src, file);
    let settings = p.file().map_err(|e| *e)?;
    Ok(Config {
        file: file.to_owned(),
        src,
        settings,
    })
}

/// Parses an xl config file given as bytes; invalid UTF-8 is an error naming its line.
pub fn parse_bytes<'a>(src: &'a [u8], file: &str) -> Result<Config<'a>, CfgError> {
    match std::str::from_utf8(src) {
        Ok(s) => parse(s, file),
        Err(e) => {
            let valid = src.get(..e.valid_up_to()).unwrap_or_default();
            let newlines = valid.iter().filter(|&&c| c == b'\n').count();
            Err(CfgError {
                file: file.to_owned(),
                line: u32::try_from(newlines)
                    .unwrap_or(u32::MAX)
                    .saturating_add(1),
                kind: CfgErrorKind::InvalidUtf8,
            })
        }
    }
}

/// A parsed xl config file. Strings borrow from the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config<'a> {
    file: String,
    src: &'a str,
    settings: Vec<Setting<'a>>,
}

impl<'a> Config<'a> {
    /// The file name errors and warnings show.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The source text.
    pub fn source(&self) -> &'a str {
        self.src
    }

    /// Every statement, in source order, as written.
    pub fn settings(&self) -> &[Setting<'a>] {
        &self.settings
    }

    /// The last statement for `name` (the one xl reports problems on).
    pub fn setting(&self, name: &str) -> Option<&Setting<'a>> {
        self.settings.iter().rev().find(|s| s.name == name)
    }

    fn err(&self, line: u32, kind: CfgErrorKind) -> CfgError {
        CfgError {
            file: self.file.clone(),
            line,
            kind,
        }
    }

    fn warning(&self, line: u32, message: String) -> CfgWarning {
        CfgWarning {
            file: self.file.clone(),
            line,
            message,
        }
    }

    /// The effective value of `name` and its last statement.
    fn effective(&self, name: &str) -> Option<(Cow<'_, Value<'a>>, &Setting<'a>)> {
        let last_idx = self.settings.iter().rposition(|s| s.name == name)?;
        let last = &self.settings[last_idx];
        if !last.append {
            return Some((Cow::Borrowed(&last.value), last));
        }
        let from = self.settings[..last_idx]
            .iter()
            .rposition(|s| s.name == name && !s.append)
            .unwrap_or(0);
        let parts = || {
            self.settings[from..=last_idx]
                .iter()
                .filter(|s| s.name == name)
        };
        if parts().count() == 1 {
            return Some((Cow::Borrowed(&last.value), last));
        }
        let value = if last.value.is_list() {
            let mut items = Vec::new();
            for p in parts() {
                if let Value::List(more) = &p.value {
                    items.extend(more.iter().cloned());
                }
            }
            Value::List(items)
        } else {
            let mut text = String::new();
            let mut quoted = false;
            for p in parts() {
                if let Value::Atom { text: t, quoted: q } = &p.value {
                    text.push_str(t);
                    quoted |= *q;
                }
            }
            Value::Atom {
                text: Cow::Owned(text),
                quoted,
            }
        };
        Some((Cow::Owned(value), last))
    }

    /// The effective value of `name`: the last `=`, extended by the `+=` after it.
    pub fn get(&self, name: &str) -> Option<Cow<'_, Value<'a>>> {
        self.effective(name).map(|(v, _)| v)
    }

    /// The effective string (or number) value of `name`; an error if it is a list.
    pub fn get_string(&self, name: &str) -> Result<Option<Cow<'a, str>>, CfgError> {
        let Some((value, set)) = self.effective(name) else {
            return Ok(None);
        };
        let text = match value {
            Cow::Borrowed(Value::Atom { text, .. }) => text.clone(),
            Cow::Owned(Value::Atom { text, .. }) => text,
            _ => {
                return Err(self.err(
                    set.line,
                    CfgErrorKind::NotAString {
                        name: name.to_owned(),
                    },
                ))
            }
        };
        Ok(Some(text))
    }

    /// The effective list value of `name`; an error if it is a single value.
    pub fn get_list(&self, name: &str) -> Result<Option<Cow<'_, [Item<'a>]>>, CfgError> {
        let Some((value, set)) = self.effective(name) else {
            return Ok(None);
        };
        match value {
            Cow::Borrowed(Value::List(items)) => Ok(Some(Cow::Borrowed(items.as_slice()))),
            Cow::Owned(Value::List(items)) => Ok(Some(Cow::Owned(items))),
            _ => Err(self.err(
                set.line,
                CfgErrorKind::NotAList {
                    name: name.to_owned(),
                },
            )),
        }
    }

    /// The guest's name (`name`), if set to a single value.
    pub fn name(&self) -> Option<Cow<'a, str>> {
        self.get_string("name").ok().flatten()
    }

    /// The guest type: `type = "hvm" | "pv" | "pvh"`, else the older `builder = "hvm"`
    /// (HVM) or `"generic"` (PV), else PV. Both given and disagreeing is an error, as in
    /// xl.
    pub fn guest_type(&self) -> Result<GuestType, CfgError> {
        let line = |name| self.setting(name).map_or(0, |s| s.line);
        let ty = match self.get_string("type")? {
            None => None,
            Some(t) => Some((
                match &*t {
                    "hvm" => GuestType::Hvm,
                    "pv" => GuestType::Pv,
                    "pvh" => GuestType::Pvh,
                    _ => {
                        return Err(self.err(
                            line("type"),
                            CfgErrorKind::InvalidValue {
                                name: "type".to_owned(),
                                value: t.into_owned(),
                                expected: "hvm, pv or pvh",
                            },
                        ))
                    }
                },
                t,
            )),
        };
        let Some(builder) = self.get_string("builder")? else {
            return Ok(ty.map_or(GuestType::Pv, |(t, _)| t));
        };
        let from_builder = match &*builder {
            "hvm" => GuestType::Hvm,
            "generic" => GuestType::Pv,
            _ => {
                return Err(self.err(
                    line("builder"),
                    CfgErrorKind::InvalidValue {
                        name: "builder".to_owned(),
                        value: builder.into_owned(),
                        expected: "hvm or generic",
                    },
                ))
            }
        };
        match ty {
            Some((t, text)) if t != from_builder => Err(self.err(
                line("builder"),
                CfgErrorKind::ContradictingBuilder {
                    builder: builder.into_owned(),
                    ty: text.into_owned(),
                },
            )),
            _ => Ok(from_builder),
        }
    }

    /// The `vif` entries, read as xl reads them: a single string instead of a list gives
    /// no NICs and a warning; a nested list ends the list (xl stops there silently; here
    /// with a warning counting what is ignored). No `vif` at all: no entries, no warning.
    pub fn vifs(&self) -> Result<VifList<'a>, CfgError> {
        let mut out = VifList::default();
        let Some((value, set)) = self.effective("vif") else {
            return Ok(out);
        };
        let items = match &*value {
            Value::List(items) => items,
            Value::Atom { .. } => {
                out.warnings.push(
                    self.warning(
                        set.line,
                        "Setting `vif` is a single value but should be a list: xl creates no \
                     NICs from it"
                            .to_owned(),
                    ),
                );
                return Ok(out);
            }
        };
        out.items.reserve(items.len());
        for (i, item) in items.iter().enumerate() {
            match &item.value {
                Value::Atom { text, .. } => out.items.push(VifItem {
                    spec: text.clone(),
                    line: item.line,
                }),
                Value::List(_) => {
                    let ignored = items.len() - i;
                    let (noun, verb) = if ignored == 1 {
                        ("entry", "is")
                    } else {
                        ("entries", "are")
                    };
                    out.warnings.push(self.warning(
                        item.line,
                        format!(
                            "Nested list inside `vif`: xl stops reading the list there, so \
                             {ignored} {noun} from line {} on {verb} ignored",
                            item.line
                        ),
                    ));
                    break;
                }
            }
        }
        Ok(out)
    }

    /// The vif defaults of an `/etc/xen/xl.conf`. The deprecated `vifscript` and
    /// `defaultbridge` still count, with a warning naming the new spelling; when both
    /// spellings are set the new one wins (as in xl).
    pub fn vif_defaults(&self) -> Result<(VifDefaults, Vec<CfgWarning>), CfgError> {
        let mut d = VifDefaults::default();
        let mut warnings = Vec::new();
        for (old, new, slot) in [
            ("vifscript", "vif.default.script", &mut d.script),
            ("defaultbridge", "vif.default.bridge", &mut d.bridge),
        ] {
            let old_value = self.get_string(old)?;
            let new_value = self.get_string(new)?;
            if old_value.is_some() {
                let line = self.setting(old).map_or(0, |s| s.line);
                let message = match self.setting(new) {
                    Some(s) if new_value.is_some() => format!(
                        "`{old}` is deprecated and overridden by `{new}` (line {})",
                        s.line
                    ),
                    _ => format!("`{old}` is deprecated, use `{new}`"),
                };
                warnings.push(self.warning(line, message));
            }
            *slot = new_value.or(old_value).map(Cow::into_owned);
        }
        d.backend = self.get_string("vif.default.backend")?.map(Cow::into_owned);
        d.gatewaydev = self
            .get_string("vif.default.gatewaydev")?
            .map(Cow::into_owned);
        Ok((d, warnings))
    }
}

// ---------------------------------------------------------------------------------------
// Rewriting a list setting
// ---------------------------------------------------------------------------------------

/// Appends `s` as a quoted xl string that parses back to exactly `s`.
fn push_quoted(out: &mut String, s: &str) {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0b' => out.push_str("\\v"),
            '\x0c' => out.push_str("\\f"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c == '\x7f' => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let v = c as u32 as usize;
                out.push_str("\\x");
                out.push(HEX[v >> 4] as char);
                out.push(HEX[v & 15] as char);
            }
            c => out.push(c),
        }
    }
    out.push(q);
}

/// Writes a list of quoted strings: `[ ]`, `[ 'a' ]`, or one item per line with the
/// later lines indented by `indent`.
fn render_list(items: &[&str], indent: &str, nl: &str) -> String {
    let mut out = String::with_capacity(4 + items.iter().map(|s| s.len() + 4).sum::<usize>());
    out.push('[');
    if items.is_empty() {
        out.push_str(" ]");
        return out;
    }
    out.push(' ');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
            out.push_str(nl);
            out.push_str(indent);
        }
        push_quoted(&mut out, item);
    }
    out.push_str(" ]");
    out
}

fn is_blank(s: &str) -> bool {
    s.bytes().all(|c| c == b' ' || c == b'\t')
}

/// Returns `src` with the setting `name` rewritten to the list of quoted strings `items`,
/// every other byte unchanged. `cfg` must be the result of parsing `src`.
///
/// - The value of the last `name = ...` is replaced; later `name += ...` statements are
///   removed (with their `;`, and with their line when nothing else is on it). If `name`
///   only has `+=` statements, the first becomes `name = [ ... ]` and the rest go.
/// - If `name` is not set, `name = [ ... ]` is appended on a new last line.
/// - Layout: `[ ]`, `[ 'a' ]`, or for two items or more one per line, aligned under the
///   first: `vif = [ 'a',` / `        'b' ]`. The file's line ending (CRLF or LF) is used.
/// - Each item is quoted (single quotes, or double quotes when it holds a `'` and no `"`)
///   and escaped so that the result parses back to exactly `items`.
pub fn splice_list(src: &str, cfg: &Config<'_>, name: &str, items: &[&str]) -> String {
    let nl = if src.contains("\r\n") { "\r\n" } else { "\n" };
    let idx: Vec<usize> = cfg
        .settings()
        .iter()
        .enumerate()
        .filter(|(_, s)| s.name == name)
        .map(|(i, _)| i)
        .collect();
    let Some(&first) = idx.first() else {
        let mut out = String::with_capacity(src.len() + name.len() + 16);
        out.push_str(src);
        if !src.is_empty() && !src.ends_with('\n') {
            out.push_str(nl);
        }
        out.push_str(name);
        out.push_str(" = ");
        let indent = " ".repeat(name.len() + 5);
        out.push_str(&render_list(items, &indent, nl));
        out.push_str(nl);
        return out;
    };
    let settings = cfg.settings();
    let target = idx
        .iter()
        .rev()
        .copied()
        .find(|&i| !settings[i].append)
        .unwrap_or(first);
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();

    // The target: its value, and for a `+=` its operator too.
    let t = &settings[target];
    let (rstart, prefix) = if t.append {
        let op_at = src
            .get(t.span.start..t.value_span.start)
            .and_then(|s| s.find("+="))
            .map(|n| t.span.start + n);
        match op_at {
            Some(p) => (p, "= "),
            None => (t.value_span.start, ""),
        }
    } else {
        (t.value_span.start, "")
    };
    let line_start = src
        .get(..rstart)
        .and_then(|s| s.rfind('\n'))
        .map_or(0, |n| n + 1);
    let mut indent: String = src
        .get(line_start..rstart)
        .unwrap_or_default()
        .chars()
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    indent.push_str(&" ".repeat(prefix.len() + 2));
    let mut text = String::from(prefix);
    text.push_str(&render_list(items, &indent, nl));
    edits.push((rstart..t.value_span.end, text));

    // Later `+=` statements go.
    for &i in idx.iter().filter(|&&i| i > target) {
        let s = &settings[i];
        let (start, end) = (s.span.start, s.span.end);
        if src.get(start..end).is_none() {
            continue;
        }
        let b = src.as_bytes();
        let mut j = end;
        while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
            j += 1;
        }
        if b.get(j) == Some(&b';') {
            j += 1;
            while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
                j += 1;
            }
        }
        let ls = src[..start].rfind('\n').map_or(0, |n| n + 1);
        let newline_len = if src[j..].starts_with('\n') {
            Some(1)
        } else if src[j..].starts_with("\r\n") {
            Some(2)
        } else if j == src.len() {
            Some(0)
        } else {
            None
        };
        let range = match (is_blank(&src[ls..start]), newline_len) {
            (true, Some(n)) => ls..j + n,
            (false, Some(_)) => {
                let mut k = start;
                while k > ls && (b[k - 1] == b' ' || b[k - 1] == b'\t') {
                    k -= 1;
                }
                k..j
            }
            (_, None) => start..j,
        };
        edits.push((range, String::new()));
    }

    edits.sort_by_key(|(r, _)| r.start);
    let mut out = String::with_capacity(src.len() + 64);
    let mut at = 0;
    for (range, text) in edits {
        if range.end > src.len()
            || range.start > range.end
            || !src.is_char_boundary(range.start)
            || !src.is_char_boundary(range.end)
        {
            continue;
        }
        if range.start < at {
            // Two removals may share the blanks between them: merge them.
            if text.is_empty() {
                at = at.max(range.end);
            }
            continue;
        }
        out.push_str(&src[at..range.start]);
        out.push_str(&text);
        at = range.end;
    }
    out.push_str(&src[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(src: &str) -> Config<'_> {
        match parse(src, "f.cfg") {
            Ok(c) => c,
            Err(e) => panic!("{src:?}: {e}"),
        }
    }

    fn err(src: &str) -> String {
        match parse(src, "f.cfg") {
            Ok(c) => panic!("{src:?} parsed: {:?}", c.settings()),
            Err(e) => e.to_string(),
        }
    }

    fn s(c: &Config<'_>, name: &str) -> Option<String> {
        c.get_string(name).unwrap().map(Cow::into_owned)
    }

    fn strings(c: &Config<'_>, name: &str) -> Vec<String> {
        c.get_list(name)
            .unwrap()
            .unwrap()
            .iter()
            .map(|i| i.value.as_str().unwrap().to_owned())
            .collect()
    }

    const SEED_ROUTED: &str = "name = \"alice\"\n\
        type = \"pv\"   # routed guest\n\
        vif = [ 'mac=00:16:3e:4f:94:a9,ip=192.168.1.21,vifname=vifalice.0,\
        script=/etc/xen/scripts/vif-route-ifup' ]\n";

    const SEED_IOEMU: &str = "builder = 'hvm'\n\
        vif = [ 'type=ioemu, bridge=br900', 'type=ioemu, bridge=br901',\n        \
        'type=ioemu, bridge=br902', 'type=ioemu, bridge=br903', ]\n";

    #[test]
    fn seed_routed() {
        let c = ok(SEED_ROUTED);
        assert_eq!(c.name().as_deref(), Some("alice"));
        assert_eq!(c.guest_type().unwrap(), GuestType::Pv);
        let v = c.vifs().unwrap();
        assert!(v.warnings.is_empty());
        assert_eq!(v.items.len(), 1);
        assert_eq!(
            v.items[0].spec,
            "mac=00:16:3e:4f:94:a9,ip=192.168.1.21,vifname=vifalice.0,\
             script=/etc/xen/scripts/vif-route-ifup"
        );
        assert_eq!(v.items[0].line, 3);
        assert!(matches!(v.items[0].spec, Cow::Borrowed(_)));
    }

    #[test]
    fn seed_ioemu() {
        let c = ok(SEED_IOEMU);
        assert_eq!(c.guest_type().unwrap(), GuestType::Hvm);
        let v = c.vifs().unwrap();
        let specs: Vec<_> = v.items.iter().map(|i| (&*i.spec, i.line)).collect();
        assert_eq!(
            specs,
            [
                ("type=ioemu, bridge=br900", 2),
                ("type=ioemu, bridge=br901", 2),
                ("type=ioemu, bridge=br902", 3),
                ("type=ioemu, bridge=br903", 3),
            ]
        );
        assert!(v.warnings.is_empty());
        assert_eq!(c.name(), None);
    }

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
    fn typed_getters() {
        let c = ok("a = ['x']\nb = 'y'\n");
        assert_eq!(
            c.get_string("a").unwrap_err().to_string(),
            "f.cfg:1: Setting `a` is a list but should be a single value"
        );
        assert_eq!(
            c.get_list("b").unwrap_err().to_string(),
            "f.cfg:2: Setting `b` is a single value but should be a list"
        );
        assert_eq!(c.get_string("zz").unwrap(), None);
        assert_eq!(c.get_list("zz").unwrap(), None);
        assert!(c.get("zz").is_none());
        assert_eq!(c.file(), "f.cfg");
        let c = ok("name = ['x']\n");
        assert_eq!(c.name(), None);
    }

    #[test]
    fn guest_types() {
        let gt = |src: &str| parse(src, "g.cfg").unwrap().guest_type();
        assert_eq!(gt("").unwrap(), GuestType::Pv);
        assert_eq!(gt("type = 'hvm'").unwrap(), GuestType::Hvm);
        assert_eq!(gt("type = 'pv'").unwrap(), GuestType::Pv);
        assert_eq!(gt("type = \"pvh\"").unwrap(), GuestType::Pvh);
        assert_eq!(gt("builder = 'hvm'").unwrap(), GuestType::Hvm);
        assert_eq!(gt("builder = 'generic'").unwrap(), GuestType::Pv);
        assert_eq!(gt("type = 'hvm'\nbuilder = 'hvm'").unwrap(), GuestType::Hvm);
        assert_eq!(
            gt("type = 'pv'\nbuilder = 'generic'").unwrap(),
            GuestType::Pv
        );
        assert_eq!(
            gt("name = 'x'\ntype = 'HVM'").unwrap_err().to_string(),
            "g.cfg:2: Invalid type `HVM` (expected hvm, pv or pvh)"
        );
        assert_eq!(
            gt("type = 'h'").unwrap_err().to_string(),
            "g.cfg:1: Invalid type `h` (expected hvm, pv or pvh)"
        );
        assert_eq!(
            gt("builder = 'linux'").unwrap_err().to_string(),
            "g.cfg:1: Invalid builder `linux` (expected hvm or generic)"
        );
        assert_eq!(
            gt("type = 'pvh'\nbuilder = 'generic'")
                .unwrap_err()
                .to_string(),
            "g.cfg:2: Contradicting `builder` (generic) and `type` (pvh)"
        );
        assert_eq!(
            gt("type = ['hvm']").unwrap_err().to_string(),
            "g.cfg:1: Setting `type` is a list but should be a single value"
        );
    }

    #[test]
    fn vif_lists() {
        let c = ok("name='x'\n");
        assert_eq!(c.vifs().unwrap(), VifList::default());

        let c = ok("\nvif = 'bridge=br0'\n");
        let v = c.vifs().unwrap();
        assert!(v.items.is_empty());
        assert_eq!(
            v.warnings[0].to_string(),
            "f.cfg:2: Setting `vif` is a single value but should be a list: xl creates no \
             NICs from it"
        );

        let c = ok("vif = [ 'a',\n 'b', [ 'c' ],\n 'd', ]\n");
        let v = c.vifs().unwrap();
        assert_eq!(
            v.items,
            [
                VifItem {
                    spec: "a".into(),
                    line: 1
                },
                VifItem {
                    spec: "b".into(),
                    line: 2
                }
            ]
        );
        assert_eq!(v.warnings.len(), 1);
        assert_eq!(
            v.warnings[0].to_string(),
            "f.cfg:2: Nested list inside `vif`: xl stops reading the list there, so 2 \
             entries from line 2 on are ignored"
        );
        let c = ok("vif = [ 'a', [] ]\n");
        assert_eq!(
            c.vifs().unwrap().warnings[0].message,
            "Nested list inside `vif`: xl stops reading the list there, so 1 entry from \
             line 1 on is ignored"
        );

        let c = ok("vif = [ 'a' ]\nvif += [ 'b\\tc' ]\n");
        let v = c.vifs().unwrap();
        assert_eq!(v.items[1].spec, "b\tc");
        assert_eq!(v.items[1].line, 2);

        let c = ok("vif = []\n");
        assert_eq!(c.vifs().unwrap(), VifList::default());
    }

    #[test]
    fn xl_conf_defaults() {
        let c = ok(
            "vif.default.script=\"vif-openvswitch\"\nvif.default.bridge=\"ovsbr0\"\n\
                    vif.default.backend = 'drv'\nvif.default.gatewaydev = 'eth0'\n",
        );
        let (d, w) = c.vif_defaults().unwrap();
        assert!(w.is_empty());
        assert_eq!(
            d,
            VifDefaults {
                script: Some("vif-openvswitch".into()),
                bridge: Some("ovsbr0".into()),
                backend: Some("drv".into()),
                gatewaydev: Some("eth0".into()),
            }
        );

        let c = ok("vifscript = 'vif-route'\ndefaultbridge = 'br1'\n");
        let (d, w) = c.vif_defaults().unwrap();
        assert_eq!(d.script.as_deref(), Some("vif-route"));
        assert_eq!(d.bridge.as_deref(), Some("br1"));
        assert_eq!(d.backend, None);
        let w: Vec<_> = w.iter().map(ToString::to_string).collect();
        assert_eq!(
            w,
            [
                "f.cfg:1: `vifscript` is deprecated, use `vif.default.script`",
                "f.cfg:2: `defaultbridge` is deprecated, use `vif.default.bridge`",
            ]
        );

        // Both spellings: the new one wins, whatever the order.
        let c = ok("vif.default.bridge = 'new'\ndefaultbridge = 'old'\n");
        let (d, w) = c.vif_defaults().unwrap();
        assert_eq!(d.bridge.as_deref(), Some("new"));
        assert_eq!(
            w[0].to_string(),
            "f.cfg:2: `defaultbridge` is deprecated and overridden by `vif.default.bridge` \
             (line 1)"
        );

        let c = ok("");
        assert_eq!(c.vif_defaults().unwrap(), (VifDefaults::default(), vec![]));
        let c = ok("vif.default.script = ['x']");
        assert!(c.vif_defaults().is_err());
    }

    #[test]
    fn bytes() {
        let c = parse_bytes(b"a = 'x'\n", "b.cfg").unwrap();
        assert_eq!(s(&c, "a").as_deref(), Some("x"));
        let e = parse_bytes(b"a = 'x'\n\n# \xff\n", "b.cfg").unwrap_err();
        assert_eq!(e.to_string(), "b.cfg:3: Invalid UTF-8");
        assert_eq!(e.kind, CfgErrorKind::InvalidUtf8);
        let e = parse_bytes(b"\xc3", "b.cfg").unwrap_err();
        assert_eq!(e.line, 1);
    }

    #[test]
    fn syntax_text_is_there() {
        assert!(SYNTAX.contains("[a-z][._0-9a-z]*"));
        assert!(SYNTAX.contains("\\xHH"));
    }

    // -- splice ---------------------------------------------------------------------------

    fn splice(src: &str, name: &str, items: &[&str]) -> String {
        let c = ok(src);
        let out = splice_list(src, &c, name, items);
        let again = parse(&out, "out").unwrap_or_else(|e| panic!("{out:?}: {e}"));
        let got: Vec<String> = again
            .get_list(name)
            .unwrap()
            .unwrap()
            .iter()
            .map(|i| i.value.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(got, items, "{out:?}");
        out
    }

    #[test]
    fn splice_replaces_value_only() {
        let src = "# guest\nname = 'a' # n\nvif = [ 'old' ] # nics\n\nmemory = 512\n";
        let out = splice(src, "vif", &["new"]);
        assert_eq!(
            out,
            "# guest\nname = 'a' # n\nvif = [ 'new' ] # nics\n\nmemory = 512\n"
        );
        let out = splice(src, "vif", &["a", "b", "c"]);
        assert_eq!(
            out,
            "# guest\nname = 'a' # n\nvif = [ 'a',\n        'b',\n        'c' ] # nics\n\n\
             memory = 512\n"
        );
        let out = splice(src, "vif", &[]);
        assert_eq!(
            out,
            "# guest\nname = 'a' # n\nvif = [ ] # nics\n\nmemory = 512\n"
        );
        // Everything outside the value is byte-identical.
        let c = ok(src);
        let vs = c.setting("vif").unwrap().value_span.clone();
        let out = splice(src, "vif", &["x", "y"]);
        assert!(out.starts_with(&src[..vs.start]));
        assert!(out.ends_with(&src[vs.end..]));
    }

    #[test]
    fn splice_multiline_and_crlf() {
        let src = "a = 1\r\nvif = [ 'x',\r\n        'y', ]\r\nb = 2";
        let out = splice(src, "vif", &["p", "q"]);
        assert_eq!(out, "a = 1\r\nvif = [ 'p',\r\n        'q' ]\r\nb = 2");
        let src = "\tvif=['x']\n";
        let out = splice(src, "vif", &["p", "q"]);
        assert_eq!(out, "\tvif=[ 'p',\n\t      'q' ]\n");
    }

    #[test]
    fn splice_removes_later_appends() {
        let src = "vif = [ 'a' ]\nname = 'n'\n  vif += [ 'b' ]  \nvif += [ 'c' ]; x = 1\n\
                   y = 2; vif += ['d']\nz = 3; vif += ['e'] # keep\nvif += ['f'];\n# end\n";
        let out = splice(src, "vif", &["v0", "v1"]);
        assert_eq!(
            out,
            "vif = [ 'v0',\n        'v1' ]\nname = 'n'\nx = 1\ny = 2;\nz = 3; # keep\n# end\n"
        );
        // Appends before the last `=` stay (they are overridden anyway).
        let src = "vif += ['a']\nvif = ['b']\nvif += ['c']";
        let out = splice(src, "vif", &["z"]);
        assert_eq!(out, "vif += ['a']\nvif = [ 'z' ]\n");
        // Only `+=`: the first becomes `=`.
        let src = "vif += ['a'] # one\nvif += ['b']\r\n";
        let out = splice(src, "vif", &["z", "y"]);
        assert_eq!(out, "vif = [ 'z',\r\n        'y' ] # one\n");
        // Last statement without a newline, on the line of another.
        let src = "vif = ['a']; vif += ['b']";
        assert_eq!(splice(src, "vif", &["z"]), "vif = [ 'z' ];");
    }

    #[test]
    fn splice_appends_when_absent() {
        assert_eq!(splice("", "vif", &["a"]), "vif = [ 'a' ]\n");
        assert_eq!(
            splice("name = 'x'", "vif", &["a", "b"]),
            "name = 'x'\nvif = [ 'a',\n        'b' ]\n"
        );
        assert_eq!(
            splice("name = 'x'\r\n# end", "vif", &[]),
            "name = 'x'\r\n# end\r\nvif = [ ]\r\n"
        );
        assert_eq!(
            splice("name = 'x'\n", "vif", &["a"]),
            "name = 'x'\nvif = [ 'a' ]\n"
        );
    }

    #[test]
    fn splice_quotes_round_trip() {
        let nasty = [
            "it's",
            "say \"hi\"",
            "both ' and \"",
            "back\\slash",
            "tab\tnl\ncr\rbell\x07\x08\x0b\x0c",
            "nul\0del\x7f\x01",
            "é ü \u{2028}",
            "",
            "#not a comment; [x]",
        ];
        let out = splice("vif = []\n", "vif", &nasty);
        assert!(out.contains("\"it's\""));
        assert!(out.contains("'both \\' and \"'"));
    }

    // -- robustness ----------------------------------------------------------------------

    /// Exercises every accessor on whatever parses; none may panic.
    fn poke(bytes: &[u8]) {
        if let Ok(c) = parse_bytes(bytes, "fuzz") {
            let _ = c.guest_type();
            let _ = c.name();
            let _ = c.vifs();
            let _ = c.vif_defaults();
            let names: Vec<&str> = c.settings().iter().map(|s| s.name).collect();
            for n in names {
                let _ = c.get(n);
                let _ = c.get_string(n);
                let _ = c.get_list(n);
                let src = c.source();
                let out = splice_list(src, &c, n, &["a", "b'c"]);
                let again = parse(&out, "again");
                if let Ok(a) = again {
                    let list = a.get_list(n).unwrap().unwrap();
                    let got: Vec<_> = list.iter().map(|i| i.value.as_str().unwrap()).collect();
                    assert_eq!(got, ["a", "b'c"], "{src:?} -> {out:?}");
                } else {
                    panic!("{src:?} -> {out:?} does not parse");
                }
            }
            let _ = splice_list(c.source(), &c, "vif", &[]);
        }
        // A config from another source must not make splice panic either.
        if let Ok(other) = parse(SEED_IOEMU, "seed") {
            if let Ok(s) = std::str::from_utf8(bytes) {
                let _ = splice_list(s, &other, "vif", &["x"]);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let seeds: &[&[u8]] = &[
            SEED_ROUTED.as_bytes(),
            SEED_IOEMU.as_bytes(),
            b"a = [ 'x', [ \"y\\n\" ], 0x1f, ]\r\nb += 'q' # c\n;c='\\101\\x41'",
            b"vif = ['a']\nvif += ['b']; vif += ['c']\n",
            b"",
        ];
        let alphabet: &[u8] = b"a=+[],;'\"\\#\n\r\t x0.()\xc3\xa9\xff";
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..20_000 {
            let seed = seeds[round % seeds.len()];
            let mut v = seed.to_vec();
            let edits = 1 + rnd() % 6;
            for _ in 0..edits {
                let r = rnd();
                let at = if v.is_empty() {
                    0
                } else {
                    (r >> 8) as usize % (v.len() + 1)
                };
                let c = if r & 16 == 0 {
                    alphabet[(r >> 40) as usize % alphabet.len()]
                } else {
                    (r >> 32) as u8
                };
                match r % 3 {
                    0 => v.insert(at, c),
                    1 if at < v.len() => {
                        v.remove(at);
                    }
                    _ if at < v.len() => v[at] = c,
                    _ => v.push(c),
                }
            }
            poke(&v);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            poke(&bytes);
        }

        #[test]
        fn any_items_round_trip(items in proptest::collection::vec(".{0,12}", 0..5)) {
            let refs: Vec<&str> = items.iter().map(String::as_str).collect();
            let src = "a = 1\nvif = [ 'x' ] # c\nvif += [ 'y' ]\nb = 2\n";
            let c = parse(src, "p").unwrap();
            let out = splice_list(src, &c, "vif", &refs);
            let again = parse(&out, "p").unwrap();
            let got: Vec<String> = again.vifs().unwrap().items.iter().map(|i| i.spec.to_string()).collect();
            proptest::prop_assert_eq!(got, items);
            proptest::prop_assert!(out.starts_with("a = 1\nvif = "));
            proptest::prop_assert!(out.ends_with(" # c\nb = 2\n"));
        }
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
