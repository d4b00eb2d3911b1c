//! Readers of the values that are not types of their own: numbers, plain text, the
//! `ip=` address list.

use std::borrow::Cow;
use std::net::IpAddr;

use super::ValueError;
use crate::diag::is_format_char;
use crate::ifname::IfName;
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

/// Characters that would change the shape of a spec or of the xl config holding it: `,`
/// ends the value and starts another key, `=` reads as a key's end, quotes end the xl
/// string the spec sits in.
const SEPARATORS: [char; 4] = [',', '=', '\'', '"'];

/// A character no value may hold: one that cannot be seen (a control or invisible
/// formatting character) or white space. xl keeps every character up to the next comma,
/// so a space after a value is part of it; only `ip=` separates its addresses with
/// spaces (see [`parse_ips`]).
fn unseen_or_space(c: char) -> Option<ValueError> {
    if c == ' ' {
        Some(ValueError::Space)
    } else if c.is_whitespace() || c.is_control() || is_format_char(c) {
        Some(ValueError::Invisible(c))
    } else {
        None
    }
}

/// A plain text value (a value vifkit carries nowhere but reads, such as `accel=`): no
/// white space, control or invisible formatting characters.
pub(super) fn text(value: &str) -> Result<Cow<'_, str>, ValueError> {
    // Plain printable ASCII, the common case, in one pass with no early exit: the
    // compiler tests sixteen bytes at once.
    if value.is_empty() {
        return Err(ValueError::Empty);
    }
    if value
        .bytes()
        .fold(false, |any, b| any | (b <= 0x20) | (b >= 0x7f))
    {
        if let Some(e) = value.chars().find_map(unseen_or_space) {
            return Err(e);
        }
    }
    Ok(Cow::Borrowed(value))
}

/// A value that is copied into a spec (and into XML) as it is: `text`, and none of
/// `,`, `=`, `'`, `"`, which would add a key to the spec or end the string it sits in.
pub fn check_spec_text(value: &str) -> Result<(), ValueError> {
    text(value)?;
    match value.chars().find(|c| SEPARATORS.contains(c)) {
        Some(c) => Err(ValueError::Separator(c)),
        None => Ok(()),
    }
}

/// `script=` and `<script path>`: a path or a file name, as [`check_spec_text`] allows.
pub fn check_script(value: &str) -> Result<(), ValueError> {
    check_spec_text(value)
}

/// `backend=` and `<backenddomain name>`: a domain name or id, as [`check_spec_text`]
/// allows.
pub fn check_backend(value: &str) -> Result<(), ValueError> {
    check_spec_text(value)
}

/// A network interface name that goes into a spec (`bridge=`, `vifname=`,
/// `gatewaydev=`, `<source bridge>`, `<target dev>`): a valid Linux interface name
/// ([`IfName::validate`]: no white space, control or invisible characters, `/` or `:`)
/// with none of `,`, `=`, `'`, `"`.
pub fn check_name(value: &str) -> Result<(), ValueError> {
    if let Some(c) = value.chars().find(|c| SEPARATORS.contains(c)) {
        return Err(ValueError::Separator(c));
    }
    if value.as_bytes().contains(&b' ') {
        return Err(ValueError::Space);
    }
    IfName::validate(value)?;
    Ok(())
}

/// `model=` and `<model type>`: a model name as libvirt and QEMU spell them, letters,
/// digits, `_` and `-` (libvirt refuses any other character: "Model name contains
/// invalid characters"; libxl hands the name to QEMU as its `-device` argument, where a
/// `,` would add device options).
pub fn check_model(value: &str) -> Result<(), ValueError> {
    if value.is_empty() {
        return Err(ValueError::Empty);
    }
    if value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Ok(());
    }
    if let Some(c) = value.chars().find(|c| SEPARATORS.contains(c)) {
        return Err(ValueError::Separator(c));
    }
    Err(match value.chars().find_map(unseen_or_space) {
        Some(e) => e,
        None => ValueError::Model,
    })
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
    fn spec_values_cannot_add_keys() {
        for bad in ["e1000,script=/tmp/evil.sh", "a=b", "it's", "a\"b"] {
            assert!(
                matches!(check_spec_text(bad), Err(ValueError::Separator(_))),
                "{bad}"
            );
            assert!(check_name(bad).is_err(), "{bad}");
            assert!(check_model(bad).is_err(), "{bad}");
        }
        assert_eq!(check_name("b,vlan=5"), Err(ValueError::Separator(',')));
        assert_eq!(check_script("vif-bridge "), Err(ValueError::Space));
        assert_eq!(check_name("br0 "), Err(ValueError::Space));
        assert_eq!(check_backend(" dom0"), Err(ValueError::Space));
        assert_eq!(
            check_script("/etc/xen/\u{202e}hs.egdirb-fiv"),
            Err(ValueError::Invisible('\u{202e}'))
        );
        assert_eq!(check_script("a\tb"), Err(ValueError::Invisible('\t')));
        assert_eq!(check_script(""), Err(ValueError::Empty));
        assert!(check_script("/etc/xen/scripts/vif-bridge").is_ok());
        assert!(check_backend("netdom").is_ok());
        assert!(check_name("xenbr0").is_ok());
        assert!(check_name("xen\u{200b}br0").is_err());
        for ok in ["e1000", "virtio-net-pci", "ne2k_pci", "e1000-82545em", "X"] {
            assert_eq!(check_model(ok), Ok(()), "{ok}");
        }
        assert_eq!(check_model("a.b"), Err(ValueError::Model));
        assert_eq!(check_model("e1000 "), Err(ValueError::Space));
        assert_eq!(check_model("é"), Err(ValueError::Model));
    }

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
