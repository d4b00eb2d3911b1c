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

mod parser;
mod splice;
#[cfg(test)]
mod test_util;

use parser::Parser;
pub use splice::splice_list;

/// A short description of the xl config syntax, for `--help`.
pub const SYNTAX: &str = "xl config: one `name = value` (or `name += value`) per line or \
separated by `;`; names [a-z][._0-9a-z]*; values are 'strings' or \"strings\" (escapes \
\\' \\\" \\\\ \\a \\b \\f \\n \\r \\t \\v \\xHH \\NNN), numbers (kept as text) or lists \
[ value, ... ] that may nest, span lines and end with a comma; # starts a comment. \
The last `=` wins; `+=` appends to a list or string.";

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

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::test_util::{ok, s, SEED_IOEMU, SEED_ROUTED};
    use super::*;

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
