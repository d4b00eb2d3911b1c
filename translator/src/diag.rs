//! Warnings: what a translation could not carry, or what the reader should know.

use std::borrow::Cow;
use std::fmt;

/// Whether a warning reports something lost in translation (an error under
/// `--strict-loss`) or advice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Something the input said is not in the output.
    Loss,
    /// The output is complete; the warning is advice (a deprecated spelling, a reserved
    /// name, a reading that differs between tools).
    Advice,
}

/// One warning about one NIC, naming the key (vif side) or element (XML side) it is
/// about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The vif key (`rate`) or XML element/attribute (`<link>`) concerned.
    pub key: Cow<'static, str>,
    /// The message, sentence-case, without the NIC prefix.
    pub message: String,
    /// Loss or advice.
    pub severity: Severity,
    /// A stable kebab-case identifier of the kind of warning, for programs (the
    /// message's wording may change): [`LOSS`] or [`ADVICE`] unless a more precise one
    /// is set ([`Warning::with_code`]).
    pub code: &'static str,
    /// The offending value or token as written, escaped and bounded ([`Shown`]); empty
    /// when the warning names none.
    pub value: String,
}

/// The code of a loss warning without a more precise one.
pub const LOSS: &str = "dropped-key";
/// The code of an advice warning without a more precise one.
pub const ADVICE: &str = "advice";

impl Warning {
    /// A warning that something was dropped.
    pub fn loss(key: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Warning {
        Warning {
            key: key.into(),
            message: message.into(),
            severity: Severity::Loss,
            code: LOSS,
            value: String::new(),
        }
    }

    /// A warning that is advice only.
    pub fn advice(key: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Warning {
        Warning {
            key: key.into(),
            message: message.into(),
            severity: Severity::Advice,
            code: ADVICE,
            value: String::new(),
        }
    }

    /// The same warning with a more precise code.
    #[must_use]
    pub fn with_code(mut self, code: &'static str) -> Warning {
        self.code = code;
        self
    }

    /// The same warning naming the offending value (escaped and bounded here).
    #[must_use]
    pub fn with_value(mut self, value: &str) -> Warning {
        self.value = shown(value).to_string();
        self
    }

    /// Whether this warning reports a loss.
    pub fn is_loss(&self) -> bool {
        self.severity == Severity::Loss
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// An error and all its sources, joined by `: `, as vifkit's binaries print them.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// How many bytes of an untrusted value a message shows before cutting it.
pub const SHOWN_MAX: usize = 200;

/// How many bytes of one message line a binary prints before cutting it.
pub const LINE_MAX: usize = 4096;

/// An untrusted value as a message shows it: control and invisible formatting
/// characters escaped (`\n`, `\x1b`, `\u{202e}`), so it cannot forge a line, move the
/// cursor or hide text, and cut after [`SHOWN_MAX`] bytes with the full length said.
#[derive(Debug, Clone, Copy)]
pub struct Shown<'a>(pub &'a str);

/// Shorthand for [`Shown`].
pub fn shown(s: &str) -> Shown<'_> {
    Shown(s)
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, self.0, SHOWN_MAX)
    }
}

/// Whether `c` is invisible formatting that can make two names look alike or reorder
/// text: zero-width characters, bidirectional controls, the BOM, soft hyphen.
pub fn is_format_char(c: char) -> bool {
    matches!(c,
        '\u{ad}' | '\u{34f}' | '\u{61c}' | '\u{115f}' | '\u{1160}' | '\u{17b4}' | '\u{17b5}'
        | '\u{180b}'..='\u{180f}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{206f}' | '\u{3164}' | '\u{fe00}'..='\u{fe0f}' | '\u{feff}'
        | '\u{ffa0}' | '\u{fff0}'..='\u{fffb}' | '\u{1d173}'..='\u{1d17a}'
        | '\u{e0000}'..='\u{e0fff}')
}

fn write_escaped(out: &mut impl fmt::Write, s: &str, max: usize) -> fmt::Result {
    let mut written = 0;
    for c in s.chars() {
        if written + c.len_utf8() > max {
            return write!(out, "... ({} bytes)", s.len());
        }
        written += c.len_utf8();
        match c {
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            c if c.is_control() && u32::from(c) < 0x100 => {
                write!(out, "\\x{:02x}", u32::from(c))?;
            }
            c if c.is_control() || is_format_char(c) => write!(out, "\\u{{{:x}}}", u32::from(c))?,
            c => out.write_char(c)?,
        }
    }
    Ok(())
}

/// One line of a message as a binary prints it: any control or formatting character
/// left in it escaped (so no value can start a line of its own), and cut after
/// [`LINE_MAX`] bytes.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(LINE_MAX + 32));
    write_escaped(&mut out, s, LINE_MAX).expect("writing to a String cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_cannot_forge_lines_or_flood() {
        assert_eq!(shown("br0").to_string(), "br0");
        assert_eq!(
            shown("x\nerror: forged\x1b[2J").to_string(),
            "x\\nerror: forged\\x1b[2J"
        );
        assert_eq!(
            shown("xen\u{200b}br0\u{202e}").to_string(),
            "xen\\u{200b}br0\\u{202e}"
        );
        let big = "a".repeat(50 * 1024 * 1024);
        let s = shown(&big).to_string();
        assert!(s.len() < 300, "{}", s.len());
        assert!(s.ends_with("... (52428800 bytes)"), "{s}");
        // A cut never splits a character.
        let wide = "é".repeat(150);
        assert!(shown(&wide).to_string().ends_with("... (300 bytes)"));
        assert_eq!(one_line("a\nb"), "a\\nb");
        assert!(one_line(&big).len() < LINE_MAX + 32);
    }
}
