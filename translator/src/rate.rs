//! The vif `rate` key: Xen's grammar (libxlutil's `xlu_vif_parse_rate`) and the
//! conversion to libvirt's `<bandwidth><outbound average>`.
//!
//! One deliberate difference from libxlutil: numbers are decimal. libxlutil reads them
//! with `strtoull(.., 0)`, so there a leading `0` means octal (`010MB/s` is 8 MB/s, and
//! `08MB/s` is refused as a zero rate); vifkit reads `010MB/s` as 10 MB/s.

use std::fmt;
use std::str::FromStr;

/// The syntax of `rate=`, for `--help`.
pub const SYNTAX: &str = "RATE/s[@INTERVAL]: RATE is DIGITS[G|M|K](B|b) (decimal units, \
b = bits), INTERVAL is DIGITS[s|ms|m|us|u] (no suffix = seconds, default 50ms); \
e.g. 10MB/s, 100Mb/s@20ms";

/// Xen's default replenishment interval, 50 ms.
pub const DEFAULT_INTERVAL_US: u32 = 50_000;

/// Why a `rate` value is refused; the variants follow libxlutil's messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    /// Nothing before the `@`.
    #[error("No rate specified")]
    NoRate,
    /// The rate is not `DIGITS[G|M|K](B|b)/s`.
    #[error("Expected DIGITS[G|M|K](B|b)/s")]
    InvalidRate,
    /// The rate is zero or above 2^32-1 before scaling, or bytes per interval overflow.
    #[error("Rate overflow: the number must be 1 to 4294967295 and the rate times the interval must fit 64 bits")]
    RateOverflow,
    /// The interval is not `DIGITS[m|u][s]`.
    #[error("Expected a replenishment interval DIGITS[s|ms|m|us|u]")]
    InvalidInterval,
    /// The interval is zero or above 2^32-1 microseconds.
    #[error("Replenishment interval overflow: it must be 1 to 4294967295 microseconds")]
    IntervalOverflow,
}

/// The unit prefix of a rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RatePrefix {
    /// No prefix.
    None,
    /// `K`: 1000 (1024 in libvirt's reading).
    K,
    /// `M`: 10^6 (2^20 in libvirt's reading).
    M,
    /// `G`: 10^9 (2^30 in libvirt's reading).
    G,
}

impl RatePrefix {
    fn decimal(self) -> u64 {
        match self {
            RatePrefix::None => 1,
            RatePrefix::K => 1_000,
            RatePrefix::M => 1_000_000,
            RatePrefix::G => 1_000_000_000,
        }
    }

    fn binary(self) -> u64 {
        match self {
            RatePrefix::None => 1,
            RatePrefix::K => 1 << 10,
            RatePrefix::M => 1 << 20,
            RatePrefix::G => 1 << 30,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            RatePrefix::None => "",
            RatePrefix::K => "K",
            RatePrefix::M => "M",
            RatePrefix::G => "G",
        }
    }
}

/// A parsed `rate` value, keeping the way it was written (for libvirt's unit reading
/// and for formatting back).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    /// The number before the unit, 1 to 2^32-1.
    pub amount: u32,
    /// The unit prefix.
    pub prefix: RatePrefix,
    /// `b` (bits) rather than `B` (bytes).
    pub bits: bool,
    /// The replenishment interval in microseconds, when `@INTERVAL` was given.
    pub interval_us: Option<u32>,
}

/// Parses an unsigned decimal number of at most 20 digits; `None` on overflow.
fn decimal(digits: &[u8]) -> Option<u64> {
    let mut v: u64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(v)
}

fn split_digits(s: &[u8]) -> (&[u8], &[u8]) {
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    s.split_at(n)
}

impl Rate {
    /// Bytes per second as Xen computes them (decimal units, bits divided by 8).
    pub fn bytes_per_second(&self) -> u64 {
        let v = u64::from(self.amount) * self.prefix.decimal();
        if self.bits {
            v / 8
        } else {
            v
        }
    }

    /// The interval Xen uses, in microseconds.
    pub fn interval(&self) -> u32 {
        self.interval_us.unwrap_or(DEFAULT_INTERVAL_US)
    }

    /// What libxl stores: (bytes per interval, interval in microseconds).
    pub fn xen_credit(&self) -> (u64, u32) {
        let us = self.interval();
        // Checked on parse: bytes_per_second * interval fits u64.
        (self.bytes_per_second() * u64::from(us) / 1_000_000, us)
    }

    /// libvirt's `<outbound average>` in KiB/s under vifkit's contract: K, M and G are
    /// taken as 1024 multiples (libvirt's reading) and bits are divided by 8 after
    /// scaling, except a plain `B/s` or `b/s` value, which is converted to KiB/s
    /// (rounded up, at least 1).
    pub fn libvirt_average_kib(&self) -> u64 {
        let amount = u64::from(self.amount);
        match self.prefix {
            RatePrefix::None => {
                let bytes = if self.bits { amount / 8 } else { amount };
                bytes.div_ceil(1024).max(1)
            }
            p => {
                let kib = amount * (p.binary() / 1024);
                if self.bits {
                    (kib / 8).max(1)
                } else {
                    kib
                }
            }
        }
    }

    /// The rate libvirt's `xenFormatNet` writes for an average in KiB/s: `NKB/s`.
    pub fn from_libvirt_average_kib(kib: u64) -> Result<Rate, RateError> {
        let amount = u32::try_from(kib).map_err(|_| RateError::RateOverflow)?;
        if amount == 0 {
            return Err(RateError::RateOverflow);
        }
        Ok(Rate {
            amount,
            prefix: RatePrefix::K,
            bits: false,
            interval_us: None,
        })
    }

    fn parse_interval(s: &[u8]) -> Result<u32, RateError> {
        let (digits, suffix) = split_digits(s);
        let scale: u64 = match suffix {
            b"" | b"s" => 1_000_000,
            b"m" | b"ms" => 1_000,
            b"u" | b"us" => 1,
            _ => return Err(RateError::InvalidInterval),
        };
        if digits.is_empty() {
            return Err(RateError::InvalidInterval);
        }
        let n = decimal(digits).ok_or(RateError::IntervalOverflow)?;
        if n == 0 || n > u64::from(u32::MAX) {
            return Err(RateError::IntervalOverflow);
        }
        u32::try_from(n * scale).map_err(|_| RateError::IntervalOverflow)
    }
}

impl FromStr for Rate {
    type Err = RateError;

    /// Parses `RATE/s[@INTERVAL]` with libxlutil's rules and checks (decimal numbers).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // '@' is ASCII: both sides are at character boundaries.
        let (rate, interval) = match s.bytes().position(|b| b == b'@') {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        if rate.is_empty() {
            return Err(RateError::NoRate);
        }
        let (digits, rest) = split_digits(rate.as_bytes());
        if digits.is_empty() {
            return Err(RateError::InvalidRate);
        }
        let (prefix, rest) = match rest.split_first() {
            Some((b'G', r)) => (RatePrefix::G, r),
            Some((b'M', r)) => (RatePrefix::M, r),
            Some((b'K', r)) => (RatePrefix::K, r),
            _ => (RatePrefix::None, rest),
        };
        let bits = match rest {
            b"B/s" => false,
            b"b/s" => true,
            _ => return Err(RateError::InvalidRate),
        };
        let amount = decimal(digits)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|&n| n != 0)
            .ok_or(RateError::RateOverflow)?;
        let interval_us = interval
            .map(|i| Rate::parse_interval(i.as_bytes()))
            .transpose()?;
        let rate = Rate {
            amount,
            prefix,
            bits,
            interval_us,
        };
        if rate
            .bytes_per_second()
            .checked_mul(u64::from(rate.interval()))
            .is_none()
        {
            return Err(RateError::RateOverflow);
        }
        Ok(rate)
    }
}

impl fmt::Display for Rate {
    /// Writes the rate as given (`10MB/s`, `100Mb/s@20ms`); intervals in the largest
    /// exact unit.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}{}/s",
            self.amount,
            self.prefix.as_str(),
            if self.bits { "b" } else { "B" }
        )?;
        if let Some(us) = self.interval_us {
            if us % 1_000_000 == 0 {
                write!(f, "@{}s", us / 1_000_000)?;
            } else if us % 1_000 == 0 {
                write!(f, "@{}ms", us / 1_000)?;
            } else {
                write!(f, "@{us}us")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credit(s: &str) -> Result<(u64, u32), RateError> {
        s.parse::<Rate>().map(|r| r.xen_credit())
    }

    /// Xen's own vectors (tools/libs/util check-xl-vif-parse), as in xl-vif.md.
    #[test]
    fn xen_accepts() {
        for s in ["2MB/s", "16Mb/s", "2000000B/s", "16000000b/s"] {
            assert_eq!(credit(s), Ok((100_000, 50_000)), "{s}");
        }
        assert_eq!(credit("2KB/s"), Ok((100, 50_000)));
        assert_eq!(credit("1GB/s"), Ok((50_000_000, 50_000)));
        assert_eq!(credit("10MB/s@1s"), Ok((10_000_000, 1_000_000)));
    }

    #[test]
    fn xen_rejects() {
        use RateError::*;
        let cases = [
            ("foo", InvalidRate),
            ("10MB", InvalidRate),
            ("10MB/m", InvalidRate),
            ("10ZB/s", InvalidRate),
            ("4294967296b/s", RateOverflow),
            ("0B/s", RateOverflow),
            ("@foo", NoRate),
            ("@10h", NoRate),
            ("1B/s@4294967296us", IntervalOverflow),
            ("@4294968ms", NoRate),
            ("@4295s", NoRate),
            ("@0us", NoRate),
            ("4294967295GB/s@5us", RateOverflow),
            ("4296MB/s@4294s", RateOverflow),
            ("@", NoRate),
        ];
        for (s, e) in cases {
            assert_eq!(credit(s), Err(e), "{s}");
        }
        // The interval vectors with a rate in front, so the interval is what fails.
        assert_eq!(credit("1B/s@10h"), Err(InvalidInterval));
        assert_eq!(credit("1B/s@4294968ms"), Err(IntervalOverflow));
        assert_eq!(credit("1B/s@4295s"), Err(IntervalOverflow));
        assert_eq!(credit("1B/s@0us"), Err(IntervalOverflow));
        assert_eq!(credit("1B/s@"), Err(InvalidInterval));
        assert_eq!(credit("1B/s@ms"), Err(InvalidInterval));
        assert_eq!(credit("10 MB/s"), Err(InvalidRate));
        assert_eq!(credit("10mb/s"), Err(InvalidRate));
        assert_eq!(credit("10kB/s"), Err(InvalidRate));
        assert_eq!(credit("99999999999999999999999B/s"), Err(RateOverflow));
    }

    #[test]
    fn interval_units() {
        assert_eq!(credit("1MB/s@20ms").unwrap().1, 20_000);
        assert_eq!(credit("1MB/s@20m").unwrap().1, 20_000);
        assert_eq!(credit("1MB/s@20us").unwrap().1, 20);
        assert_eq!(credit("1MB/s@20u").unwrap().1, 20);
        assert_eq!(credit("1MB/s@2").unwrap().1, 2_000_000);
        assert_eq!(credit("1MB/s@4294967295us").unwrap().1, u32::MAX);
    }

    #[test]
    fn leading_zero_is_decimal_not_octal() {
        assert_eq!(
            "010MB/s".parse::<Rate>().unwrap().bytes_per_second(),
            10_000_000
        );
        assert_eq!(
            "08MB/s".parse::<Rate>().unwrap().bytes_per_second(),
            8_000_000
        );
    }

    #[test]
    fn libvirt_average() {
        let kib = |s: &str| s.parse::<Rate>().unwrap().libvirt_average_kib();
        assert_eq!(kib("100Mb/s"), 12_800);
        assert_eq!(kib("10240KB/s"), 10_240);
        assert_eq!(kib("8Mb/s"), 1_024);
        assert_eq!(kib("2000000B/s"), 1_954);
        assert_eq!(kib("16000000b/s"), 1_954);
        assert_eq!(kib("1B/s"), 1);
        assert_eq!(kib("7b/s"), 1);
        assert_eq!(kib("1Kb/s"), 1);
        assert_eq!(kib("16Kb/s"), 2);
        assert_eq!(kib("12Kb/s"), 1);
        assert_eq!(kib("1GB/s"), 1 << 20);
    }

    #[test]
    fn display_round_trips() {
        for s in ["10MB/s", "100Mb/s@20ms", "2KB/s@1s", "1B/s@7us", "5GB/s"] {
            assert_eq!(s.parse::<Rate>().unwrap().to_string(), s);
        }
        assert_eq!(
            "1B/s@1000u".parse::<Rate>().unwrap().to_string(),
            "1B/s@1ms"
        );
        assert_eq!(
            Rate::from_libvirt_average_kib(10240).unwrap().to_string(),
            "10240KB/s"
        );
        assert_eq!(
            Rate::from_libvirt_average_kib(0),
            Err(RateError::RateOverflow)
        );
    }
}
