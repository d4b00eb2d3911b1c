//! What the parser gives: values, list items and settings, as written.

use std::borrow::Cow;
use std::ops::Range;

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

    pub(super) fn kind_name(&self) -> &'static str {
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
