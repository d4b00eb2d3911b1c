//! Linux network interface names, validated before they reach the kernel or a command.

use std::fmt;
use std::ops::Deref;

use crate::diag::is_format_char;

/// Longest interface name Linux accepts (`IFNAMSIZ` - 1).
pub const IFNAME_MAX: usize = 15;

/// Why a string is not a usable Linux interface name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IfNameError {
    /// The name is empty.
    #[error("Empty interface name")]
    Empty,
    /// The name is longer than the kernel allows.
    #[error("Longer than {IFNAME_MAX} bytes ({0} bytes)")]
    TooLong(usize),
    /// The name contains a byte the kernel or the tools refuse, or a character that
    /// cannot be seen (a control or an invisible formatting character, which would let
    /// two different names look the same).
    /// Shown as Rust escapes a character (`'\u{200b}'`): never invisible itself.
    #[error("Contains {0:?}, which interface names may not")]
    BadChar(char),
    /// `.` and `..` are refused by the kernel.
    #[error("`.` and `..` are not interface names")]
    Dots,
}

/// ASCII bytes an interface name may hold: for ASCII, white space and controls are all
/// at or below the space, or DEL.
const PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = b'!';
    while b < 0x7f {
        t[b as usize] = b != b'/' && b != b':';
        b += 1;
    }
    t
};

/// Whether a name may not hold `c`: `/` and `:` (the kernel and the tools refuse them),
/// white space, control characters, and invisible formatting characters (zero-width,
/// bidirectional overrides: `xen\u{200b}br0` would look like `xenbr0`).
fn refused(c: char) -> bool {
    c == '/' || c == ':' || c.is_whitespace() || c.is_control() || is_format_char(c)
}

/// A valid Linux interface name: 1 to 15 bytes, no `/`, `:`, whitespace, control or
/// invisible formatting characters, not `.` or `..`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IfName(String);

impl IfName {
    /// Checks a name without taking it.
    pub fn validate(name: &str) -> Result<(), IfNameError> {
        if name.is_empty() {
            return Err(IfNameError::Empty);
        }
        if name.len() > IFNAME_MAX {
            return Err(IfNameError::TooLong(name.len()));
        }
        if name == "." || name == ".." {
            return Err(IfNameError::Dots);
        }
        // The common case, one pass over the bytes: plain ASCII. Anything else (a bad
        // ASCII byte, or any non-ASCII one) is looked at character by character.
        if name.bytes().all(|b| PLAIN[usize::from(b)]) {
            return Ok(());
        }
        match name.chars().find(|&c| refused(c)) {
            Some(c) => Err(IfNameError::BadChar(c)),
            None => Ok(()),
        }
    }

    /// Validates and wraps a name.
    pub fn new(name: impl Into<String>) -> Result<IfName, IfNameError> {
        let name = name.into();
        Self::validate(&name)?;
        Ok(IfName(name))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for IfName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<&str> for IfName {
    type Error = IfNameError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        IfName::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_kernel_names() {
        for ok in [
            "eth0",
            "vif5.2",
            "vif5.2-emu",
            "br.lan",
            "bond0.900",
            "abcdefghijklmno",
        ] {
            assert!(IfName::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_what_the_kernel_refuses() {
        assert_eq!(IfName::new(""), Err(IfNameError::Empty));
        assert_eq!(
            IfName::new("abcdefghijklmnop"),
            Err(IfNameError::TooLong(16))
        );
        assert_eq!(IfName::new("a/b"), Err(IfNameError::BadChar('/')));
        assert_eq!(IfName::new("a:b"), Err(IfNameError::BadChar(':')));
        assert_eq!(IfName::new("a b"), Err(IfNameError::BadChar(' ')));
        assert_eq!(IfName::new("a\tb"), Err(IfNameError::BadChar('\t')));
        assert_eq!(IfName::new(".."), Err(IfNameError::Dots));
        // Beyond ASCII, by character: letters pass, Unicode white space does not.
        assert!(IfName::new("brü0").is_ok());
        assert_eq!(IfName::new("a\u{a0}b"), Err(IfNameError::BadChar('\u{a0}')));
        assert_eq!(IfName::new("é/"), Err(IfNameError::BadChar('/')));
        // Invisible characters: three "xenbr0" that are not the same name.
        for invisible in [
            '\u{200b}', '\u{200d}', '\u{202e}', '\u{2066}', '\u{feff}', '\u{ad}',
        ] {
            let name = format!("xen{invisible}br0");
            assert_eq!(
                IfName::new(name.as_str()),
                Err(IfNameError::BadChar(invisible)),
                "{name:?}"
            );
        }
        assert_eq!(
            IfNameError::BadChar('\u{202e}').to_string(),
            "Contains '\\u{202e}', which interface names may not"
        );
        assert_eq!(
            IfNameError::BadChar(' ').to_string(),
            "Contains ' ', which interface names may not"
        );
        assert_eq!(
            IfNameError::BadChar('/').to_string(),
            "Contains '/', which interface names may not"
        );
        assert_eq!(IfName::new("a\u{85}b"), Err(IfNameError::BadChar('\u{85}')));
        // 15 bytes but multi-byte characters count as bytes.
        assert!(matches!(
            IfName::new("ééééééééé"),
            Err(IfNameError::TooLong(18))
        ));
    }

    #[test]
    fn every_ascii_byte_is_judged_as_the_char_rule_judges_it() {
        for b in 0u8..0x80 {
            let c = char::from(b);
            let by_char = c == '/' || c == ':' || c.is_whitespace() || c.is_control();
            let name = format!("a{c}b");
            assert_eq!(IfName::validate(&name).is_err(), by_char, "{b:#x}");
        }
    }
}
