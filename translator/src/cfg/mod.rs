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

mod config;
mod error;
mod parser;
mod splice;
#[cfg(test)]
mod test_util;
mod value;

pub use config::{Config, VifDefaults, VifItem, VifList};
pub use error::{CfgError, CfgErrorKind, CfgWarning, Near};
use parser::Parser;
pub use splice::splice_list;
pub use value::{Item, Setting, Value};

/// A short description of the xl config syntax, for `--help`.
pub const SYNTAX: &str = "xl config: one `name = value` (or `name += value`) per line or \
separated by `;`; names [a-z][._0-9a-z]*; values are 'strings' or \"strings\" (escapes \
\\' \\\" \\\\ \\a \\b \\f \\n \\r \\t \\v \\xHH \\NNN), numbers (kept as text) or lists \
[ value, ... ] that may nest, span lines and end with a comma; # starts a comment. \
The last `=` wins; `+=` appends to a list or string.";

/// Parses an xl config file. `file` is the name errors and warnings show.
pub fn parse<'a>(src: &'a str, file: &str) -> Result<Config<'a>, CfgError> {
    let mut p = Parser::new(src, file);
    let settings = p.file().map_err(|e| *e)?;
    Ok(Config::new(file, src, settings))
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

#[cfg(test)]
mod tests {
    use super::test_util::{s, SEED_IOEMU, SEED_ROUTED};
    use super::*;

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
                    r.to_le_bytes()[4]
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
    }
}
