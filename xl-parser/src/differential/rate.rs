//! Rates: vifkit's `rate=` parser against libxlutil's `xlu_vif_parse_rate`.

use std::fmt;

use translator::rate::{Rate, RateError};
use xl_sys::safe::{self, XlError};

use super::{unexplained, Verdict};

/// A known difference between vifkit's rate parser and `xlu_vif_parse_rate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RateDifference {
    /// A NUL byte: a C string cannot hold one, so libxlutil is never given it.
    /// Neutralised by NUL -> `\x01` (vifkit's verdict unchanged).
    NulByte,
    /// A number with a leading zero: vifkit reads it as decimal, libxlutil
    /// (`strtoull(.., 0)`) as octal (`010MB/s` is 8 MB/s there, `08MB/s` a zero rate).
    /// Neutralised by dropping the leading zeros (vifkit's reading unchanged).
    LeadingZero,
}

impl RateDifference {
    /// Every known difference, in the order they are neutralised.
    pub const ALL: [RateDifference; 2] = [RateDifference::NulByte, RateDifference::LeadingZero];

    /// A short name (`leading_zero`, ...).
    pub fn name(self) -> &'static str {
        match self {
            RateDifference::NulByte => "nul_byte",
            RateDifference::LeadingZero => "leading_zero",
        }
    }

    pub(super) fn neutralise(self, s: &str) -> Option<String> {
        match self {
            RateDifference::NulByte => s.contains('\0').then(|| s.replace('\0', "\x01")),
            RateDifference::LeadingZero => {
                let b = s.as_bytes();
                let starts_zero_run = |i: usize| {
                    b[i] == b'0'
                        && (i == 0 || !b[i - 1].is_ascii_digit())
                        && b.get(i + 1).is_some_and(u8::is_ascii_digit)
                };
                if !(0..b.len()).any(starts_zero_run) {
                    return None;
                }
                let mut out = String::with_capacity(s.len());
                let mut i = 0;
                while i < b.len() {
                    if starts_zero_run(i) {
                        // Drop zeros while a digit follows.
                        while b[i] == b'0' && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                            i += 1;
                        }
                    }
                    let ch_len = s[i..].chars().next().map_or(1, char::len_utf8);
                    out.push_str(&s[i..i + ch_len]);
                    i += ch_len;
                }
                Some(out)
            }
        }
    }
}

/// What one rate parser made of a rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RateReading {
    /// `(bytes per interval, interval in microseconds)`.
    Credit(u64, u32),
    /// The kind of error, in libxlutil's words (`invalid rate`, `rate overflow`, ...).
    Error(String),
}

impl fmt::Display for RateReading {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateReading::Credit(b, us) => write!(f, "{b} bytes per {us} us"),
            RateReading::Error(kind) => write!(f, "error: {kind}"),
        }
    }
}

pub(super) fn ours_rate(s: &str) -> RateReading {
    match s.parse::<Rate>() {
        Ok(r) => {
            let (b, us) = r.xen_credit();
            RateReading::Credit(b, us)
        }
        Err(e) => RateReading::Error(
            match e {
                RateError::NoRate => "no rate specified",
                RateError::InvalidRate => "invalid rate",
                RateError::RateOverflow => "rate overflow",
                RateError::InvalidInterval => "invalid replenishment interval",
                RateError::IntervalOverflow => "replenishment interval overflow",
            }
            .to_owned(),
        ),
    }
}

/// libxlutil's reading; `None` when the rate cannot be given to it (a NUL byte).
fn xen_rate(s: &str) -> Option<RateReading> {
    match safe::parse_rate(s) {
        Ok((b, us)) => Some(RateReading::Credit(b, us)),
        Err(XlError::Rejected { message, .. }) => {
            // `rate: config parsing error in vif: KIND in `RATE'`
            let kind = message
                .split_once("config parsing error in vif: ")
                .and_then(|(_, rest)| rest.rsplit_once(" in `"))
                .map_or(message.as_str(), |(kind, _)| kind);
            Some(RateReading::Error(kind.to_owned()))
        }
        Err(_) => None,
    }
}

/// Runs both rate parsers on `rate` and explains any disagreement.
pub fn classify_rate(rate: &str) -> Verdict<RateDifference> {
    classify_rate_with(rate, ours_rate)
}

pub(super) fn classify_rate_with(
    rate: &str,
    ours_rate: fn(&str) -> RateReading,
) -> Verdict<RateDifference> {
    let mut s = rate.to_owned();
    let mut applied: Vec<RateDifference> = Vec::new();
    let names_of = |a: &[RateDifference]| a.iter().map(|d| d.name()).collect::<Vec<_>>();
    loop {
        let o = ours_rate(&s);
        let e = xen_rate(&s);
        if e.as_ref() == Some(&o) {
            return if applied.is_empty() {
                Verdict::Agree {
                    accepted: matches!(o, RateReading::Credit(..)),
                }
            } else {
                Verdict::Explained(applied)
            };
        }
        let step = RateDifference::ALL
            .into_iter()
            .filter(|d| !applied.contains(d))
            .find_map(|d| {
                let y = d.neutralise(&s)?;
                let kept = match d {
                    RateDifference::NulByte => {
                        matches!(ours_rate(&y), RateReading::Error(_))
                            == matches!(o, RateReading::Error(_))
                    }
                    RateDifference::LeadingZero => ours_rate(&y) == o,
                };
                kept.then_some((d, y))
            });
        match step {
            Some((d, y)) => {
                applied.push(d);
                s = y;
            }
            None => {
                return unexplained(
                    rate.as_bytes(),
                    s.as_bytes(),
                    &names_of(&applied),
                    o.to_string(),
                    e.map_or_else(|| "(not asked)".to_owned(), |e| e.to_string()),
                    "no known difference explains it".to_owned(),
                )
            }
        }
    }
}
