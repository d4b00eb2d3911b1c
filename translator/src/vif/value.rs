//! Readers of the values that are not types of their own: numbers, plain text, the
//! `ip=` address list.

use std::borrow::Cow;
use std::net::IpAddr;

use super::ValueError;
use crate::interface::IpElem;

/// A decimal number of at most 10 digits in `min..=max`, as the type of the bounds.
pub(super) fn number<T>(value: &str, min: T, max: T) -> Result<T, ValueError>
where
    T: Copy + Into<u64> + TryFrom<u64>,
{
    let (lo, hi) = (min.into(), max.into());
    let err = || ValueError::Number { min: lo, max: hi };
    let digits = value.as_bytes();
    if digits.is_empty() || digits.len() > 10 {
        return Err(err());
    }
    // At most ten decimal digits: no overflow in a u64.
    let mut n = 0u64;
    for &b in digits {
        if !b.is_ascii_digit() {
            return Err(err());
        }
        n = n * 10 + u64::from(b - b'0');
    }
    if !(lo..=hi).contains(&n) {
        return Err(err());
    }
    // Between two values of `T`, so a `T`.
    T::try_from(n).map_err(|_| err())
}

/// A plain text value: no control characters.
pub(super) fn text(value: &str) -> Result<Cow<'_, str>, ValueError> {
    // A fold with no early exit and no branch: the compiler tests sixteen bytes at once.
    if value
        .bytes()
        .fold(false, |any, b| any | (b < 0x20) | (b == 0x7f))
    {
        Err(ValueError::Control)
    } else {
        Ok(Cow::Borrowed(value))
    }
}

/// Parses `ip=`: space-separated `ADDR[/PREFIX]`.
pub fn parse_ips(value: &str) -> Result<Vec<IpElem>, ValueError> {
    let mut ips = Vec::new();
    for word in value.split_ascii_whitespace() {
        // '/' is ASCII: both sides are at character boundaries.
        let (addr, prefix) = match word.bytes().position(|c| c == b'/') {
            Some(i) => (&word[..i], Some(&word[i + 1..])),
            None => (word, None),
        };
        let address: IpAddr = addr
            .parse()
            .map_err(|_| ValueError::IpAddr(addr.to_owned()))?;
        let max: u8 = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => None,
            Some(p) => Some(number(p, 0, max).map_err(|_| ValueError::IpPrefix {
                addr: addr.to_owned(),
                prefix: p.to_owned(),
            })?),
        };
        ips.push(IpElem { address, prefix });
    }
    if ips.is_empty() {
        return Err(ValueError::Empty);
    }
    Ok(ips)
}

/// Writes `ip=`'s value.
pub fn format_ips(ips: &[IpElem], out: &mut String) {
    use std::fmt::Write;
    for (i, ip) in ips.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{}", ip.address);
        if let Some(p) = ip.prefix {
            let _ = write!(out, "/{p}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_prefixes() {
        let ips = parse_ips("10.0.0.1 2001:db8::1/64\t0.0.0.0/0").unwrap();
        assert_eq!(ips.len(), 3);
        assert_eq!(ips[1].prefix, Some(64));
        assert_eq!(ips[2].address, IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        for bad in [
            "10.0.0.01",
            "10.0.0.256",
            "10.0.0",
            "10.0.0.1.",
            "::ffff:1.2.3.04",
        ] {
            assert_eq!(
                parse_ips(bad),
                Err(ValueError::IpAddr(bad.to_owned())),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_ips("10.0.0.1/33"),
            Err(ValueError::IpPrefix { .. })
        ));
        assert!(matches!(
            parse_ips("::1/129"),
            Err(ValueError::IpPrefix { .. })
        ));
    }
}
