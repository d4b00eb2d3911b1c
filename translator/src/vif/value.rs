//! Readers of the values that are not types of their own: numbers, plain text, the
//! `ip=` address list.

use std::borrow::Cow;
use std::net::IpAddr;

use super::ValueError;
use crate::interface::IpElem;

/// A decimal number of at most 10 digits in `min..=max`.
pub(super) fn number(value: &str, min: u64, max: u64) -> Result<u64, ValueError> {
    number_bytes(value.as_bytes(), min, max)
}

/// [`number`] of the bytes of a value.
#[inline]
fn number_bytes(value: &[u8], min: u64, max: u64) -> Result<u64, ValueError> {
    let err = ValueError::Number { min, max };
    if value.is_empty() || value.len() > 10 {
        return Err(err);
    }
    // At most ten decimal digits: no overflow in a u64.
    let mut n = 0u64;
    for &b in value {
        if !b.is_ascii_digit() {
            return Err(err);
        }
        n = n * 10 + u64::from(b - b'0');
    }
    if (min..=max).contains(&n) {
        Ok(n)
    } else {
        Err(err)
    }
}

/// A plain text value: no control characters.
pub(super) fn text(value: &str) -> Result<Cow<'_, str>, ValueError> {
    if value.bytes().any(|b| b.is_ascii_control()) {
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
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => None,
            Some(p) => Some(
                number(p, 0, max)
                    .ok()
                    .and_then(|n| u8::try_from(n).ok())
                    .ok_or_else(|| ValueError::IpPrefix {
                        addr: addr.to_owned(),
                        prefix: p.to_owned(),
                    })?,
            ),
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
