//! Lexical classes of an xl config (which bytes are code, strings, escapes,
//! comments), on which both parsers agree.

use std::collections::BTreeSet;

/// What a byte of a config file is, lexically. Both parsers agree on this much: strings
/// are `'...'` or `"..."` on one line with `\` escaping the next character, and `#`
/// comments run to the end of the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    Code,
    Quote,
    Str,
    EscHead,
    EscBody,
    Comment,
}

pub(super) fn classes(x: &[u8]) -> Vec<Class> {
    let mut out = vec![Class::Code; x.len()];
    let mut quote: Option<u8> = None;
    let mut comment = false;
    let mut i = 0;
    while i < x.len() {
        let b = x[i];
        if comment {
            if b == b'\n' {
                comment = false;
            } else {
                out[i] = Class::Comment;
            }
        } else if let Some(q) = quote {
            if b == b'\n' {
                quote = None;
            } else if b == q {
                out[i] = Class::Quote;
                quote = None;
            } else if b == b'\\' {
                out[i] = Class::EscHead;
                if x.get(i + 1).is_some_and(|&n| n != b'\n') {
                    out[i + 1] = Class::EscBody;
                    i += 1;
                }
            } else {
                out[i] = Class::Str;
            }
        } else if b == b'#' {
            out[i] = Class::Comment;
            comment = true;
        } else if b == b'\'' || b == b'"' {
            out[i] = Class::Quote;
            quote = Some(b);
        }
        i += 1;
    }
    out
}

pub(super) fn is_name_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_'
}

/// Every identifier (`[a-z][._0-9a-z]*`) outside strings and comments: the names the
/// input could define.
pub(super) fn lexical_names(x: &[u8], cls: &[Class]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < x.len() {
        if cls[i] == Class::Code && is_name_byte(x[i]) {
            let start = i;
            while i < x.len() && cls[i] == Class::Code && is_name_byte(x[i]) {
                i += 1;
            }
            if x[start].is_ascii_lowercase() {
                if let Ok(s) = std::str::from_utf8(&x[start..i]) {
                    names.insert(s.to_owned());
                }
            }
        } else {
            i += 1;
        }
    }
    names
}

/// The deepest list nesting outside strings and comments.
pub(super) fn max_depth(x: &[u8], cls: &[Class]) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for (b, c) in x.iter().zip(cls) {
        if *c == Class::Code {
            match b {
                b'[' => {
                    depth += 1;
                    max = max.max(depth);
                }
                b']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    max
}
