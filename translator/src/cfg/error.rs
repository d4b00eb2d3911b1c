//! Errors and warnings about a config file, worded as libxlutil words them where it
//! has a word.

use std::fmt;

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

impl CfgErrorKind {
    /// A stable kebab-case identifier of the kind of error, for programs (the message's
    /// wording may change): `cfg-syntax`, `cfg-invalid-utf8`, `cfg-append-mismatch`,
    /// `cfg-not-a-string`, `cfg-not-a-list`, `cfg-bad-value` or
    /// `cfg-contradicting-builder`.
    pub fn code(&self) -> &'static str {
        match self {
            CfgErrorKind::Syntax { .. } => "cfg-syntax",
            CfgErrorKind::InvalidUtf8 => "cfg-invalid-utf8",
            CfgErrorKind::AppendMismatch { .. } => "cfg-append-mismatch",
            CfgErrorKind::NotAString { .. } => "cfg-not-a-string",
            CfgErrorKind::NotAList { .. } => "cfg-not-a-list",
            CfgErrorKind::InvalidValue { .. } => "cfg-bad-value",
            CfgErrorKind::ContradictingBuilder { .. } => "cfg-contradicting-builder",
        }
    }

    /// The setting the error is about ("" when none is named).
    pub fn key(&self) -> &str {
        match self {
            CfgErrorKind::AppendMismatch { name, .. }
            | CfgErrorKind::NotAString { name }
            | CfgErrorKind::NotAList { name }
            | CfgErrorKind::InvalidValue { name, .. } => name,
            CfgErrorKind::ContradictingBuilder { .. } => "builder",
            CfgErrorKind::Syntax { .. } | CfgErrorKind::InvalidUtf8 => "",
        }
    }

    /// The offending value or token as written (not escaped), when there is one.
    pub fn value(&self) -> &str {
        match self {
            CfgErrorKind::Syntax {
                near: Near::Text(t),
                ..
            } => t,
            CfgErrorKind::InvalidValue { value, .. } => value,
            CfgErrorKind::ContradictingBuilder { builder, .. } => builder,
            _ => "",
        }
    }
}

/// An error in an xl config file, naming the file and line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {kind}")]
pub struct CfgError {
    /// The file name given to [`parse`](super::parse).
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
    /// The file name given to [`parse`](super::parse).
    pub file: String,
    /// The line (from 1).
    pub line: u32,
    /// The warning, sentence case.
    pub message: String,
    /// A stable kebab-case identifier of the kind of warning: `vif-not-a-list`,
    /// `vif-nested-list` or `deprecated-setting`.
    pub code: &'static str,
    /// The setting it is about.
    pub key: String,
}

impl fmt::Display for CfgWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}
