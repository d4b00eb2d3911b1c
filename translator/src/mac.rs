//! MAC addresses: validation, and generation in the three strategies Xen admins use.
//!
//! Best first: an OUI you own ([`MacStrategy::Oui`]); a random locally administered
//! address ([`MacStrategy::LocalRandom`]); a random address in Xen's OUI `00:16:3e`
//! ([`MacStrategy::XenOui`], the way libxl picks one). A MAC must be unique on its whole
//! LAN segment; that is the registry's job, not this module's.

use std::fmt;
use std::io::Read;
use std::str::FromStr;

/// Xen's OUI, `00:16:3e`.
pub const XEN_OUI: [u8; 3] = [0x00, 0x16, 0x3e];

/// Syntax of a MAC as vifkit reads it, for `--help`.
pub const SYNTAX: &str = "xx:xx:xx:xx:xx:xx (six pairs of hex digits, any case; \
not multicast, not all zero)";

/// Why a string is not a usable unicast MAC address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MacError {
    /// Not six colon-separated pairs of hex digits.
    #[error("Expected six pairs of hex digits separated by colons")]
    Syntax,
    /// The group bit of the first octet is set.
    #[error("Multicast address (the first octet is odd)")]
    Multicast,
    /// `00:00:00:00:00:00`.
    #[error("All-zero address")]
    Zero,
}

/// A unicast, non-zero MAC address. Displays in lower case with colons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddr([u8; 6]);

/// Hex digit values (the low four bits), with [`UPPER`] set for `A`-`F` and
/// [`NOT_HEX`] for non-digits.
pub(crate) const HEX_VALUE: [u8; 256] = {
    let mut t = [NOT_HEX; 256];
    let mut i = 0u8;
    while i < 10 {
        t[(b'0' + i) as usize] = i;
        i += 1;
    }
    let mut i = 0u8;
    while i < 6 {
        t[(b'a' + i) as usize] = 10 + i;
        t[(b'A' + i) as usize] = UPPER | (10 + i);
        i += 1;
    }
    t
};
/// In [`HEX_VALUE`]: an upper-case digit.
pub(crate) const UPPER: u8 = 0x10;
/// In [`HEX_VALUE`]: not a hex digit.
pub(crate) const NOT_HEX: u8 = 0x80;

impl MacAddr {
    /// Wraps six octets, refusing multicast and all-zero addresses.
    pub fn new(octets: [u8; 6]) -> Result<MacAddr, MacError> {
        if octets == [0; 6] {
            Err(MacError::Zero)
        } else if octets[0] & 1 == 1 {
            Err(MacError::Multicast)
        } else {
            Ok(MacAddr(octets))
        }
    }

    /// The six octets.
    pub fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// Whether the locally administered bit is set.
    pub fn is_local(&self) -> bool {
        self.0[0] & 2 == 2
    }

    /// Writes the address in lower case with colons.
    pub fn write_to(&self, out: &mut String) {
        out.extend(self.to_ascii().iter().map(|&c| char::from(c)));
    }

    /// The address in lower case with colons, as ASCII bytes.
    pub(crate) fn to_ascii(self) -> [u8; 17] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut buf = [b':'; 17];
        for (i, b) in self.0.iter().enumerate() {
            buf[i * 3] = HEX[usize::from(b >> 4)];
            buf[i * 3 + 1] = HEX[usize::from(b & 15)];
        }
        buf
    }

    /// Generates an address with the given strategy, taking randomness from `fill`.
    pub fn generate_with(strategy: MacStrategy, mut fill: impl FnMut(&mut [u8])) -> MacAddr {
        let mut r = [0u8; 6];
        fill(&mut r);
        let octets = match strategy {
            MacStrategy::Oui(oui) => [oui[0], oui[1], oui[2], r[0], r[1], r[2]],
            // xxxxxx10: locally administered, unicast; 46 random bits.
            MacStrategy::LocalRandom => [(r[0] & 0xfc) | 0x02, r[1], r[2], r[3], r[4], r[5]],
            // As libxl: 00:16:3e:(r0 & 0x7f):r1:r2.
            MacStrategy::XenOui => [XEN_OUI[0], XEN_OUI[1], XEN_OUI[2], r[0] & 0x7f, r[1], r[2]],
        };
        // The OUI was checked to be unicast when the strategy was built, and the other
        // strategies fix a unicast first octet; an all-zero result needs OUI 00:00:00 and
        // three zero random bytes, which we redraw.
        match MacAddr::new(octets) {
            Ok(mac) => mac,
            Err(_) => MacAddr::generate_with(strategy, fill),
        }
    }

    /// Generates an address with the given strategy from the OS's random source.
    pub fn generate(strategy: MacStrategy) -> std::io::Result<MacAddr> {
        let mut urandom = std::fs::File::open("/dev/urandom")?;
        let mut err = None;
        let mac = MacAddr::generate_with(strategy, |buf| {
            if let Err(e) = urandom.read_exact(buf) {
                err = Some(e);
            }
        });
        match err {
            Some(e) => Err(e),
            None => Ok(mac),
        }
    }
}

impl FromStr for MacAddr {
    type Err = MacError;

    /// Parses `xx:xx:xx:xx:xx:xx` exactly as libxl does (two hex digits per octet).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_with_case(s).map(|(mac, _)| mac)
    }
}

/// Parses a MAC as [`MacAddr::from_str`] does, and says whether it is written in lower
/// case (then the text is already the form libvirt writes).
pub(crate) fn parse_with_case(s: &str) -> Result<(MacAddr, bool), MacError> {
    let b: &[u8; 17] = s.as_bytes().try_into().map_err(|_| MacError::Syntax)?;
    let mut octets = [0u8; 6];
    // The flags of every digit, or-ed: any NOT_HEX makes it no MAC, any UPPER no
    // lower-case one.
    let mut flags = 0u8;
    for (k, octet) in octets.iter_mut().enumerate() {
        if k > 0 && b[3 * k - 1] != b':' {
            return Err(MacError::Syntax);
        }
        let high = HEX_VALUE[usize::from(b[3 * k])];
        let low = HEX_VALUE[usize::from(b[3 * k + 1])];
        flags |= high | low;
        *octet = ((high & 15) << 4) | (low & 15);
    }
    if flags & NOT_HEX != 0 {
        return Err(MacError::Syntax);
    }
    let lower = flags & UPPER == 0;
    Ok((MacAddr::new(octets)?, lower))
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(17);
        self.write_to(&mut s);
        f.write_str(&s)
    }
}

/// How to pick a new MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacStrategy {
    /// Random in an OUI you own (checked unicast by [`MacStrategy::oui`]).
    Oui([u8; 3]),
    /// Random, locally administered, unicast: first octet `xxxxxx10`.
    LocalRandom,
    /// Random in Xen's OUI `00:16:3e`, as libxl generates them.
    XenOui,
}

/// Why an OUI string cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OuiError {
    /// Not three colon-separated pairs of hex digits.
    #[error("Expected three pairs of hex digits separated by colons (XX:XX:XX)")]
    Syntax,
    /// The group bit is set, so every address in it would be multicast.
    #[error("Multicast OUI (the first octet is odd)")]
    Multicast,
}

impl MacStrategy {
    /// The strategy for an OUI written `XX:XX:XX`.
    pub fn oui(s: &str) -> Result<MacStrategy, OuiError> {
        let b = s.as_bytes();
        if b.len() != 8 || b[2] != b':' || b[5] != b':' {
            return Err(OuiError::Syntax);
        }
        let mut oui = [0u8; 3];
        for (i, o) in oui.iter_mut().enumerate() {
            let (h, l) = (
                HEX_VALUE[usize::from(b[i * 3])],
                HEX_VALUE[usize::from(b[i * 3 + 1])],
            );
            if (h | l) & NOT_HEX != 0 {
                return Err(OuiError::Syntax);
            }
            *o = ((h & 15) << 4) | (l & 15);
        }
        if oui[0] & 1 == 1 {
            return Err(OuiError::Multicast);
        }
        Ok(MacStrategy::Oui(oui))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_lowercases() {
        let mac: MacAddr = "00:16:3E:74:3d:76".parse().unwrap();
        assert_eq!(mac.to_string(), "00:16:3e:74:3d:76");
    }

    #[test]
    fn rejects_bad_macs() {
        for bad in [
            "",
            "00:16:3e:74:3d",
            "00:16:3e:74:3d:7",
            "00-16-3e-74-3d-76",
            "0:16:3e:74:3d:76:",
            "00:16:3e:74:3d:7g",
            "00:16:3e:74:3d:765",
        ] {
            assert_eq!(bad.parse::<MacAddr>(), Err(MacError::Syntax), "{bad}");
        }
        assert_eq!(
            "01:16:3e:00:00:01".parse::<MacAddr>(),
            Err(MacError::Multicast)
        );
        assert_eq!(
            "ff:ff:ff:ff:ff:ff".parse::<MacAddr>(),
            Err(MacError::Multicast)
        );
        assert_eq!("00:00:00:00:00:00".parse::<MacAddr>(), Err(MacError::Zero));
    }

    /// Six colon-separated pairs of hex digits, read the plain way, and whether no
    /// digit is upper case.
    fn reference(s: &str) -> Result<(MacAddr, bool), MacError> {
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() != 6
            || parts
                .iter()
                .any(|p| p.len() != 2 || !p.bytes().all(|c| c.is_ascii_hexdigit()))
        {
            return Err(MacError::Syntax);
        }
        let mut octets = [0u8; 6];
        for (o, p) in octets.iter_mut().zip(&parts) {
            *o = u8::from_str_radix(p, 16).map_err(|_| MacError::Syntax)?;
        }
        let lower = !s.bytes().any(|c| c.is_ascii_uppercase());
        Ok((MacAddr::new(octets)?, lower))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]

        #[test]
        fn reads_as_a_plain_reader_does(
            s in "[0-9a-fA-F:gG/@`é ]{15,18}|([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}|([0-9a-fA-Fg@]{2}:){5}[0-9a-fA-Fg@/:]{2}"
        ) {
            proptest::prop_assert_eq!(parse_with_case(&s), reference(&s), "{}", s);
        }
    }

    #[test]
    fn strategies_fix_the_right_bits() {
        let ones = |b: &mut [u8]| b.fill(0xff);
        let x = MacAddr::generate_with(MacStrategy::XenOui, ones);
        assert_eq!(x.to_string(), "00:16:3e:7f:ff:ff");
        let l = MacAddr::generate_with(MacStrategy::LocalRandom, ones);
        assert_eq!(l.to_string(), "fe:ff:ff:ff:ff:ff");
        assert!(l.is_local());
        let o = MacAddr::generate_with(MacStrategy::oui("AC:DE:48").unwrap(), ones);
        assert_eq!(o.to_string(), "ac:de:48:ff:ff:ff");
        let zeros = |b: &mut [u8]| b.fill(0);
        assert_eq!(
            MacAddr::generate_with(MacStrategy::LocalRandom, zeros).to_string(),
            "02:00:00:00:00:00"
        );
    }

    #[test]
    fn all_zero_from_a_zero_oui_is_redrawn() {
        let mut n = 0u8;
        let mac = MacAddr::generate_with(MacStrategy::oui("00:00:00").unwrap(), |b| {
            b.fill(n);
            n += 1;
        });
        assert_eq!(mac.to_string(), "00:00:00:01:01:01");
    }

    #[test]
    fn oui_is_checked() {
        assert_eq!(MacStrategy::oui("01:00:00"), Err(OuiError::Multicast));
        assert_eq!(MacStrategy::oui("0:00:00"), Err(OuiError::Syntax));
        assert_eq!(MacStrategy::oui("00:16:3e:01"), Err(OuiError::Syntax));
    }

    #[test]
    fn os_randomness_gives_local_unicast() {
        for _ in 0..64 {
            let mac = MacAddr::generate(MacStrategy::LocalRandom).unwrap();
            assert!(mac.is_local());
            assert_eq!(mac.octets()[0] & 1, 0);
        }
    }
}
