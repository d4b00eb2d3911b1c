//! Differential checks: vifkit's pure-Rust parsers ([`translator::cfg`],
//! [`translator::rate`]) against libxlutil's on the same input, with every disagreement
//! either explained by a named, documented difference or reported. The differential
//! tests and the `xl_differential` fuzz target both use this module.
//!
//! # What is compared
//!
//! **Configs.** The verdict (accepted or rejected; error messages are not compared) and,
//! when both accept, the effective value of every name the input could define: every
//! identifier outside strings and comments, and every setting vifkit's parser found
//! (libxlutil has no way to list its settings). A value is a string or a list; lists are
//! compared as trees, nested lists included, item by item: libxlutil's value API
//! (`xlu_cfg_get_listitem2`, `xlu_cfg_value_*`) reads nested lists in full. xl's own
//! reader (`xlu_cfg_get_listitem`) sees a nested list as "no string here"; the check
//! also makes sure that view agrees with the tree (a string item is found as that string,
//! a nested list as none). When both parsers accept and agree, vifkit's reading of the
//! config through each (guest type, `vif` list, `xl.conf` vif defaults: `crate::view`
//! against `translator::cfg`) must agree as well.
//!
//! **Rates.** `"..".parse::<translator::rate::Rate>()` and [`Rate::xen_credit`] against
//! `xlu_vif_parse_rate`: the same `(bytes per interval, interval in microseconds)`, or the
//! same kind of error (libxlutil's message mapped to [`RateError`](translator::rate::RateError)).
//!
//! # Known differences
//!
//! Each known difference ([`CfgDifference`], [`RateDifference`]) is a predicate on the
//! input together with a *neutralisation*: a rewrite of the input that removes the
//! feature and leaves one side's reading unchanged (which is checked each time, so the
//! rewrite cannot hide anything on that side). A disagreement is *explained* when, after
//! neutralising the differences present one after another, both parsers agree. Whatever
//! remains is [`Verdict::Unexplained`]: a test failure, a fuzzing crash.
//!
//! [`Rate::xen_credit`]: translator::rate::Rate::xen_credit

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fmt;

use translator::cfg;

use crate::view;
use xl_sys::safe::{self, Value, XlError};

/// The file name both parsers are given.
mod lexical;
mod rate;

use lexical::{classes, lexical_names, max_depth, Class};
pub use rate::{classify_rate, RateDifference};

const FILE: &str = "differential.cfg";

/// The outcome of comparing the two parsers on one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict<D> {
    /// Same verdict, same values, with no difference to neutralise.
    Agree {
        /// Whether both accepted the input (with the same values), rather than both
        /// rejecting it.
        accepted: bool,
    },
    /// They disagree, and these known differences (in the order neutralised) account for
    /// all of it.
    Explained(Vec<D>),
    /// A disagreement no known difference explains.
    Unexplained(Box<Unexplained>),
}

impl<D> Verdict<D> {
    /// Whether the verdict is [`Verdict::Unexplained`].
    pub fn is_unexplained(&self) -> bool {
        matches!(self, Verdict::Unexplained(_))
    }
}

/// A disagreement no known difference explains, with what each side made of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unexplained {
    /// The input.
    pub input: Vec<u8>,
    /// The input after the neutralisations that applied.
    pub neutralised: Vec<u8>,
    /// The names of those neutralisations, in order.
    pub applied: Vec<&'static str>,
    /// What vifkit's parser made of the neutralised input.
    pub ours: String,
    /// What libxlutil made of it.
    pub xen: String,
    /// Why this is a failure.
    pub reason: String,
}

impl fmt::Display for Unexplained {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "unexplained difference: {}", self.reason)?;
        writeln!(
            f,
            "  input:       {:?}",
            String::from_utf8_lossy(&self.input)
        )?;
        if !self.applied.is_empty() {
            writeln!(f, "  neutralised: {:?}", self.applied)?;
            writeln!(
                f,
                "  into:        {:?}",
                String::from_utf8_lossy(&self.neutralised)
            )?;
        }
        writeln!(f, "  vifkit:      {}", self.ours)?;
        write!(f, "  libxlutil:   {}", self.xen)
    }
}

// ---------------------------------------------------------------------------------------
// Config readings
// ---------------------------------------------------------------------------------------

/// What one parser made of a config.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reading {
    /// Accepted, with the value of every name asked that is set.
    Accepted(BTreeMap<String, Value>),
    /// Rejected, with the message (not compared).
    Rejected(String),
}

impl Reading {
    fn accepted(&self) -> bool {
        matches!(self, Reading::Accepted(_))
    }

    /// Same verdict and, when accepted, the same values.
    fn same(&self, other: &Reading) -> bool {
        match (self, other) {
            (Reading::Accepted(a), Reading::Accepted(b)) => a == b,
            (Reading::Rejected(_), Reading::Rejected(_)) => true,
            _ => false,
        }
    }
}

impl fmt::Display for Reading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reading::Rejected(m) => write!(f, "rejected: {m}"),
            Reading::Accepted(values) => {
                f.write_str("accepted {")?;
                for (i, (k, v)) in values.iter().enumerate() {
                    let sep = if i == 0 { " " } else { ", " };
                    write!(f, "{sep}{k} = {}", ShowValue(v))?;
                }
                f.write_str(" }")
            }
        }
    }
}

struct ShowValue<'a>(&'a Value);

impl fmt::Display for ShowValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Value::String(s) => write!(f, "{:?}", String::from_utf8_lossy(s)),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", ShowValue(v))?;
                }
                f.write_str("]")
            }
        }
    }
}

/// vifkit's value as the tree libxlutil's would be.
fn tree(value: &cfg::Value<'_>) -> Value {
    match value {
        cfg::Value::Atom { text, .. } => Value::String(text.as_bytes().to_vec()),
        cfg::Value::List(items) => Value::List(items.iter().map(|i| tree(&i.value)).collect()),
    }
}

/// The names to ask both parsers about.
fn names_to_ask(x: &[u8]) -> BTreeSet<String> {
    let mut names = lexical_names(x, &classes(x));
    if let Ok(c) = cfg::parse_bytes(x, FILE) {
        names.extend(c.settings().iter().map(|s| s.name.to_owned()));
    }
    names
}

fn ours(x: &[u8], names: &BTreeSet<String>) -> Reading {
    match cfg::parse_bytes(x, FILE) {
        Err(e) => Reading::Rejected(e.to_string()),
        Ok(c) => Reading::Accepted(
            names
                .iter()
                .filter_map(|n| c.get(n).map(|v| (n.clone(), tree(&v))))
                .collect(),
        ),
    }
}

/// libxlutil's reading; `None` when the input cannot be given to it (a NUL byte).
fn xen(x: &[u8], names: &BTreeSet<String>) -> Option<Reading> {
    match safe::parse_config(x, FILE) {
        Err(XlError::Rejected { message, .. }) => Some(Reading::Rejected(message)),
        Err(_) => None,
        Ok(c) => {
            let mut values = BTreeMap::new();
            for n in names {
                match c.get(n) {
                    Ok(Some(v)) => {
                        values.insert(n.clone(), v);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        return Some(Reading::Rejected(format!(
                            "accepted, but looking up `{n}` failed: {e}"
                        )))
                    }
                }
            }
            Some(Reading::Accepted(values))
        }
    }
}

/// When both accept and agree: vifkit's reading through each parser agrees too, and
/// libxlutil's two list APIs agree with each other.
fn views_agree(x: &[u8], names: &BTreeSet<String>) -> Result<(), String> {
    let (Ok(o), Ok(c)) = (cfg::parse_bytes(x, FILE), safe::parse_config(x, FILE)) else {
        return Ok(());
    };
    let (og, xg) = (o.guest_type(), view::guest_type(&c));
    if og.as_ref().ok() != xg.as_ref().ok() {
        return Err(format!("guest type: vifkit {og:?}, libxlutil {xg:?}"));
    }
    match (o.vifs(), view::vifs(&c)) {
        (Ok(ov), Ok(xv)) => {
            let ov_items: Vec<&str> = ov.items.iter().map(|i| &*i.spec).collect();
            if ov_items != xv.items || ov.warnings.len() != xv.warnings.len() {
                return Err(format!(
                    "vifs: vifkit {ov_items:?} {:?}, libxlutil {:?} {:?}",
                    ov.warnings, xv.items, xv.warnings
                ));
            }
        }
        (Err(_), Err(_)) => {}
        (ov, xv) => return Err(format!("vifs: vifkit {ov:?}, libxlutil {xv:?}")),
    }
    match (o.vif_defaults(), view::vif_defaults(&c)) {
        (Ok((od, ow)), Ok((xd, xw))) if od != xd || ow.len() != xw.len() => {
            return Err(format!(
                "xl.conf defaults: vifkit {od:?} {ow:?}, libxlutil {xd:?} {xw:?}"
            ))
        }
        (Ok(_), Ok(_)) | (Err(_), Err(_)) => {}
        (od, xd) => return Err(format!("xl.conf defaults: vifkit {od:?}, libxlutil {xd:?}")),
    }
    for n in names {
        let Ok(Some(list)) = c.get_list(n) else {
            continue;
        };
        for (i, v) in list.values().iter().enumerate() {
            if list.item(i) != v.as_bytes() {
                return Err(format!(
                    "libxlutil: item {i} of `{n}` is {} in the value API but {:?} in \
                     xlu_cfg_get_listitem",
                    ShowValue(v),
                    list.item(i).map(String::from_utf8_lossy)
                ));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Known config differences
// ---------------------------------------------------------------------------------------

/// A known, deliberate or documented, difference between vifkit's xl config parser and
/// libxlutil 4.17's (see `translator::cfg`'s documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CfgDifference {
    /// A NUL byte: libxlutil 4.17 aborts the process on a NUL inside a string, so it is
    /// never given one. Neutralised by NUL -> `\x01` (vifkit's verdict unchanged).
    NulByte,
    /// Invalid UTF-8: vifkit refuses it; libxlutil takes any byte in strings and comments.
    /// Neutralised by each invalid byte -> `?` (libxlutil's verdict unchanged).
    InvalidUtf8,
    /// CRLF line ends: vifkit accepts them; libxlutil rejects every CR as a lexical
    /// error. Neutralised by CRLF -> LF (vifkit's reading unchanged).
    Crlf,
    /// A lone CR inside a string: vifkit rejects it; libxlutil keeps it in the value.
    /// Neutralised by the CR -> the `\r` escape (libxlutil's reading unchanged).
    CrInString,
    /// Numeric escapes (`\xHH`, `\NNN`): vifkit implements the documented grammar;
    /// libxlutil 4.17 rejects every `\x` escape and every octal escape followed by fewer
    /// than two digits, and otherwise drops the escape and up to three digits after its
    /// first (`"a\101b"` is `ab`). Neutralised by doing what libxlutil does: deleting
    /// what it drops, and an escape it rejects -> the invalid escape `\q` (libxlutil's
    /// reading unchanged).
    NumericEscape,
    /// A comment on the last line, without a final newline: fine in vifkit, a lexical
    /// error in libxlutil. Neutralised by appending a newline (vifkit's reading
    /// unchanged).
    LastLineComment,
    /// Any other last line without a final newline, where libxlutil's lexer differs at
    /// the end of the input: a bad character in the last word is skipped silently by
    /// libxlutil, reported by vifkit (`a = 'x'\n)`, or a file that is just a CR).
    /// Neutralised by appending a space and a newline (vifkit's reading unchanged).
    BadWordAtEof,
    /// Lists nested more than 64 deep: vifkit refuses them ("lists nested too deeply");
    /// libxlutil accepts thousands of levels. Nothing after the error can be compared.
    NestingDepth,
}

/// How a neutralisation is checked: which side's reading it must leave unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keeps {
    /// vifkit's verdict and values.
    Ours,
    /// vifkit's verdict.
    OursVerdict,
    /// libxlutil's verdict and values.
    Xen,
    /// libxlutil's verdict.
    XenVerdict,
}

impl CfgDifference {
    /// Every known difference, in the order they are neutralised.
    pub const ALL: [CfgDifference; 8] = [
        CfgDifference::NulByte,
        CfgDifference::InvalidUtf8,
        CfgDifference::Crlf,
        CfgDifference::CrInString,
        CfgDifference::NumericEscape,
        CfgDifference::LastLineComment,
        CfgDifference::BadWordAtEof,
        CfgDifference::NestingDepth,
    ];

    /// A short name (`crlf`, `numeric_escape`, ...).
    pub fn name(self) -> &'static str {
        match self {
            CfgDifference::NulByte => "nul_byte",
            CfgDifference::InvalidUtf8 => "invalid_utf8",
            CfgDifference::Crlf => "crlf",
            CfgDifference::CrInString => "cr_in_string",
            CfgDifference::NumericEscape => "numeric_escape",
            CfgDifference::LastLineComment => "last_line_comment",
            CfgDifference::BadWordAtEof => "bad_word_at_eof",
            CfgDifference::NestingDepth => "nesting_depth",
        }
    }

    fn keeps(self) -> Keeps {
        match self {
            CfgDifference::NulByte => Keeps::OursVerdict,
            CfgDifference::InvalidUtf8 => Keeps::XenVerdict,
            CfgDifference::Crlf | CfgDifference::LastLineComment | CfgDifference::BadWordAtEof => {
                Keeps::Ours
            }
            CfgDifference::CrInString | CfgDifference::NumericEscape => Keeps::Xen,
            // Terminal: no rewrite.
            CfgDifference::NestingDepth => Keeps::Ours,
        }
    }

    /// The input with this difference neutralised, `None` when it is not present.
    fn neutralise(self, x: &[u8]) -> Option<Vec<u8>> {
        let cls = classes(x);
        let no_final_newline = !x.is_empty() && !x.ends_with(b"\n");
        let last_line = x.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        let comment_on_last_line = cls[last_line..].contains(&Class::Comment);
        match self {
            CfgDifference::NulByte => x
                .contains(&0)
                .then(|| x.iter().map(|&b| if b == 0 { 1 } else { b }).collect()),
            CfgDifference::InvalidUtf8 => std::str::from_utf8(x).is_err().then(|| {
                let mut y = Vec::with_capacity(x.len());
                for chunk in x.utf8_chunks() {
                    y.extend_from_slice(chunk.valid().as_bytes());
                    y.extend(std::iter::repeat_n(b'?', chunk.invalid().len()));
                }
                y
            }),
            CfgDifference::Crlf => x.windows(2).any(|w| w == b"\r\n").then(|| {
                let mut y = Vec::with_capacity(x.len());
                for (i, &b) in x.iter().enumerate() {
                    if !(b == b'\r' && x.get(i + 1) == Some(&b'\n')) {
                        y.push(b);
                    }
                }
                y
            }),
            CfgDifference::CrInString => {
                let is_cr = |i: usize| x[i] == b'\r' && cls[i] == Class::Str;
                (0..x.len()).any(is_cr).then(|| {
                    let mut y = Vec::with_capacity(x.len() + 8);
                    for (i, &b) in x.iter().enumerate() {
                        if is_cr(i) {
                            y.extend_from_slice(b"\\r");
                        } else {
                            y.push(b);
                        }
                    }
                    y
                })
            }
            CfgDifference::NumericEscape => neutralise_numeric_escapes(x, &cls),
            CfgDifference::LastLineComment => {
                (no_final_newline && comment_on_last_line).then(|| [x, b"\n"].concat())
            }
            // A space first, so that a final CR stays a lone CR instead of becoming a CRLF.
            CfgDifference::BadWordAtEof => {
                (no_final_newline && !comment_on_last_line).then(|| [x, b" \n"].concat())
            }
            CfgDifference::NestingDepth => (max_depth(x, &cls) > 64).then(|| x.to_vec()),
        }
    }
}

/// How many bytes of `s` (at most 3) C's `strtoul(s, &end, 10)` consumes: leading
/// white space, a sign, digits; none when there is no digit.
fn strtoul10_consumed(s: &[u8]) -> usize {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
        i += 1;
    }
    if i < s.len() && matches!(s[i], b'+' | b'-') {
        i += 1;
    }
    let digits = s[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        0
    } else {
        i + digits
    }
}

/// Rewrites each numeric escape in a string the way libxlutil 4.17 reads it: the escape
/// `\N` (N octal) followed by what `strtoul(.., 10)` takes from the next three bytes is
/// dropped if that is at least two bytes, else it is an error (`\q`); `\x` is always an
/// error (`\q`).
fn neutralise_numeric_escapes(x: &[u8], cls: &[Class]) -> Option<Vec<u8>> {
    let is_numeric = |i: usize| {
        cls[i] == Class::EscHead
            && x.get(i + 1)
                .is_some_and(|&n| n == b'x' || (b'0'..=b'7').contains(&n))
    };
    if !(0..x.len()).any(is_numeric) {
        return None;
    }
    let mut y = Vec::with_capacity(x.len());
    let mut i = 0;
    while i < x.len() {
        if !is_numeric(i) {
            y.push(x[i]);
            i += 1;
            continue;
        }
        if x[i + 1] == b'x' {
            y.extend_from_slice(b"\\q");
            i += 2;
            continue;
        }
        // The string's bytes after the first digit, up to its closing quote.
        let rest_end = (i + 2..x.len())
            .find(|&j| cls[j] == Class::Quote || x[j] == b'\n')
            .unwrap_or(x.len());
        let window = &x[i + 2..rest_end.min(i + 5)];
        let taken = strtoul10_consumed(window);
        if taken <= 1 {
            y.extend_from_slice(b"\\q");
            i += 2;
        } else {
            i += 2 + taken;
        }
    }
    Some(y)
}

pub(super) fn unexplained<D>(
    input: &[u8],
    x: &[u8],
    applied: &[&'static str],
    ours: String,
    xen: String,
    reason: String,
) -> Verdict<D> {
    Verdict::Unexplained(Box::new(Unexplained {
        input: input.to_vec(),
        neutralised: x.to_vec(),
        applied: applied.to_vec(),
        ours,
        xen,
        reason,
    }))
}

fn show(r: &Option<Reading>) -> String {
    match r {
        Some(r) => r.to_string(),
        None => "(not asked: the input has a NUL byte)".to_owned(),
    }
}

/// The two config readers being compared (the real ones, or a broken one in tests that
/// show the classification can fail).
struct CfgReaders {
    ours: fn(&[u8], &BTreeSet<String>) -> Reading,
    xen: fn(&[u8], &BTreeSet<String>) -> Option<Reading>,
}

const REAL_CFG: CfgReaders = CfgReaders { ours, xen };

/// Runs both config parsers on `input` and explains any disagreement.
pub fn classify_cfg(input: &[u8]) -> Verdict<CfgDifference> {
    classify_cfg_with(input, &REAL_CFG)
}

fn classify_cfg_with(input: &[u8], readers: &CfgReaders) -> Verdict<CfgDifference> {
    let (ours, xen) = (readers.ours, readers.xen);
    let mut x = input.to_vec();
    let mut applied: Vec<CfgDifference> = Vec::new();
    let names_of = |a: &[CfgDifference]| a.iter().map(|d| d.name()).collect::<Vec<_>>();
    loop {
        let names = names_to_ask(&x);
        let o = ours(&x, &names);
        let e = xen(&x, &names);
        if let Some(e) = &e {
            if o.same(e) {
                if o.accepted() {
                    if let Err(reason) = views_agree(&x, &names) {
                        return unexplained(
                            input,
                            &x,
                            &names_of(&applied),
                            o.to_string(),
                            e.to_string(),
                            reason,
                        );
                    }
                }
                return if applied.is_empty() {
                    Verdict::Agree {
                        accepted: o.accepted(),
                    }
                } else {
                    Verdict::Explained(applied)
                };
            }
        }
        let mut refused = Vec::new();
        let mut step = None;
        for d in CfgDifference::ALL {
            if applied.contains(&d) {
                continue;
            }
            let Some(y) = d.neutralise(&x) else {
                continue;
            };
            if d == CfgDifference::NestingDepth {
                if matches!(&o, Reading::Rejected(m) if m.contains("nested too deeply")) {
                    applied.push(d);
                    return Verdict::Explained(applied);
                }
                refused.push(format!("{}: vifkit did not stop at the depth", d.name()));
                continue;
            }
            let both: BTreeSet<String> = names.union(&names_to_ask(&y)).cloned().collect();
            let kept = match d.keeps() {
                Keeps::Ours => ours(&y, &both).same(&ours(&x, &both)),
                Keeps::OursVerdict => ours(&y, &both).accepted() == o.accepted(),
                Keeps::Xen => match (xen(&y, &both), xen(&x, &both)) {
                    (Some(a), Some(b)) => a.same(&b),
                    _ => false,
                },
                Keeps::XenVerdict => match (xen(&y, &both), &e) {
                    (Some(a), Some(b)) => a.accepted() == b.accepted(),
                    _ => false,
                },
            };
            if kept {
                step = Some((d, y));
                break;
            }
            refused.push(format!(
                "{}: neutralising it changed the reading it must keep ({:?})",
                d.name(),
                d.keeps()
            ));
        }
        match step {
            Some((d, y)) => {
                applied.push(d);
                x = y;
            }
            None => {
                let reason = if refused.is_empty() {
                    "no known difference applies".to_owned()
                } else {
                    format!("no known difference explains it ({})", refused.join("; "))
                };
                return unexplained(
                    input,
                    &x,
                    &names_of(&applied),
                    o.to_string(),
                    show(&e),
                    reason,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::rate::{classify_rate_with, ours_rate, RateReading};
    use super::*;

    fn cfg_verdict(src: &[u8]) -> Vec<&'static str> {
        match classify_cfg(src) {
            Verdict::Agree { .. } => vec![],
            Verdict::Explained(d) => d.into_iter().map(CfgDifference::name).collect(),
            Verdict::Unexplained(u) => panic!("{u}"),
        }
    }

    #[test]
    fn lexical_classes() {
        let x = b"a = 'b\\'#' # c'\nd = \"\\101\"";
        let c = classes(x);
        assert_eq!(c[4], Class::Quote);
        assert_eq!(c[6], Class::EscHead);
        assert_eq!(c[7], Class::EscBody);
        assert_eq!(c[8], Class::Str, "# inside a string");
        assert_eq!(c[9], Class::Quote);
        assert_eq!(c[11], Class::Comment);
        assert_eq!(c[15], Class::Code, "the newline ends the comment");
        let names = lexical_names(x, &c);
        assert_eq!(names.into_iter().collect::<Vec<_>>(), ["a", "d"]);
        assert_eq!(max_depth(b"a=[[['[[[[']]]", &classes(b"a=[[['[[[[']]]")), 3);
    }

    #[test]
    fn strtoul_model() {
        assert_eq!(strtoul10_consumed(b"01'"), 2);
        assert_eq!(strtoul10_consumed(b"012"), 3);
        assert_eq!(strtoul10_consumed(b"1'"), 1);
        assert_eq!(strtoul10_consumed(b" 12"), 3);
        assert_eq!(strtoul10_consumed(b"-5x"), 2);
        assert_eq!(strtoul10_consumed(b"'"), 0);
        assert_eq!(strtoul10_consumed(b"+"), 0);
    }

    #[test]
    fn explained_differences() {
        assert!(cfg_verdict(b"a = 'x'\nb = [ 'y', [ 'z' ], ]\n").is_empty());
        assert!(cfg_verdict(b"a = 'x'\nb = [bridge=x]\n").is_empty());
        assert_eq!(cfg_verdict(b"a = 'x'\r\nb = 'y'\r\n"), ["crlf"]);
        assert_eq!(cfg_verdict(b"a = 'x\ry'\n"), ["cr_in_string"]);
        assert_eq!(cfg_verdict(b"a = 'x\\101y'\n"), ["numeric_escape"]);
        assert_eq!(cfg_verdict(b"a = 'x\\x41y'\n"), ["numeric_escape"]);
        assert_eq!(cfg_verdict(b"a = 'x' # c"), ["last_line_comment"]);
        assert_eq!(cfg_verdict(b"a = 'x'\n)"), ["bad_word_at_eof"]);
        assert_eq!(cfg_verdict(b"a = 'x\xffy'\n"), ["invalid_utf8"]);
        assert_eq!(cfg_verdict(b"a = 'x\0y'\n"), ["nul_byte"]);
        let deep = format!("a = {}{}\n", "[".repeat(65), "]".repeat(65));
        assert_eq!(cfg_verdict(deep.as_bytes()), ["nesting_depth"]);
        assert_eq!(
            cfg_verdict(b"a = 'x\\101'\r\nb = 'q' # c"),
            ["crlf", "numeric_escape", "last_line_comment"]
        );
    }

    #[test]
    fn rates() {
        let v = |s: &str| match classify_rate(s) {
            Verdict::Agree { .. } => vec![],
            Verdict::Explained(d) => d.into_iter().map(RateDifference::name).collect(),
            Verdict::Unexplained(u) => panic!("{u}"),
        };
        assert!(v("10MB/s").is_empty());
        assert!(v("10MB").is_empty());
        assert!(v("@5").is_empty());
        assert_eq!(v("010MB/s"), ["leading_zero"]);
        assert_eq!(v("08MB/s@020ms"), ["leading_zero"]);
        assert_eq!(v("1B/s\0"), ["nul_byte"]);
        assert_eq!(
            RateDifference::LeadingZero
                .neutralise("00B/s@0010us")
                .as_deref(),
            Some("0B/s@10us")
        );
    }

    /// The classification can fail: vifkit's parser with a made-up bug (`+=` acting as
    /// `=`, or binary K/M/G in rates) disagrees in ways no known difference explains.
    #[test]
    fn an_unknown_difference_is_unexplained() {
        fn buggy_ours(x: &[u8], names: &BTreeSet<String>) -> Reading {
            let text = String::from_utf8_lossy(x).replace("+=", "=");
            ours(text.as_bytes(), names)
        }
        let buggy = CfgReaders {
            ours: buggy_ours,
            xen,
        };
        let src = b"a = ['x']\na += ['y']\n";
        assert_eq!(
            classify_cfg_with(src, &REAL_CFG),
            Verdict::Agree { accepted: true }
        );
        let v = classify_cfg_with(src, &buggy);
        let Verdict::Unexplained(u) = v else {
            panic!("not caught: {v:?}");
        };
        assert_eq!(u.reason, "no known difference applies");
        assert!(u.to_string().contains("a = [\"x\", \"y\"]"), "{u}");
        // With a CRLF too, the CRLF is neutralised and the bug still shows.
        let v = classify_cfg_with(b"a = ['x']\r\na += ['y']\r\n", &buggy);
        assert!(v.is_unexplained(), "{v:?}");

        fn buggy_rate(s: &str) -> RateReading {
            ours_rate(&s.replace('K', "024"))
        }
        assert_eq!(
            classify_rate_with("1KB/s", ours_rate),
            Verdict::Agree { accepted: true }
        );
        assert!(classify_rate_with("1KB/s", buggy_rate).is_unexplained());
    }
}
