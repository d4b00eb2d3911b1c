//! The `bridge=` value in Open vSwitch form: `BRIDGE[.TAG][:TRUNK[:TRUNK...]]`, as Xen's
//! `vif-openvswitch` reads it (and libvirt's converter, whatever the script).

use std::borrow::Cow;
use std::fmt;

use crate::ifname::{IfName, IfNameError};
use crate::vlan::{VLAN_MAX, VLAN_MIN};

/// The syntax of the Open vSwitch `bridge=` form, for `--help`.
pub const SYNTAX: &str = "BRIDGE[.TAG][:TRUNK[:TRUNK...]]: with vif-openvswitch, TAG is the \
port's access VLAN and each TRUNK a trunked VLAN (1-4094); with vif-bridge the whole value \
is a Linux bridge name";

/// Why an Open vSwitch bridge value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BridgeSpecError {
    /// Not `BRIDGE[.TAG][:TRUNK...]`.
    #[error("Not of the form BRIDGE[.TAG][:TRUNK[:TRUNK...]]")]
    Syntax,
    /// A VLAN number outside 1-4094 (0 and 4095 are reserved by 802.1Q, and refused
    /// in `vlan=` too).
    #[error("VLAN {0} is outside 1-4094")]
    OutOfRange(u32),
    /// The bridge part is not a valid interface name.
    #[error("Invalid bridge name")]
    Name(#[source] IfNameError),
}

/// An Open vSwitch bridge with an optional access tag and trunks.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OvsBridge<'a> {
    /// The bridge.
    pub name: Cow<'a, str>,
    /// `.TAG`: the access (native, untagged) VLAN.
    pub tag: Option<u16>,
    /// `:TRUNK...`: trunked VLANs, in order.
    pub trunks: Vec<u16>,
}

impl<'a> OvsBridge<'a> {
    /// Whether `s` has the VLAN parts of the form (a `.` or `:`), i.e. reads differently
    /// under `vif-openvswitch` and `vif-bridge`.
    pub fn has_vlan_syntax(s: &str) -> bool {
        s.contains(['.', ':'])
    }

    /// Parses the form (`^([^.:]+)(\.N)?(:N)*$`, as `vif-openvswitch` checks it).
    pub fn parse(s: &'a str) -> Result<OvsBridge<'a>, BridgeSpecError> {
        let mut trunks = Vec::new();
        let (name, tag) = parse_with(s, |t| trunks.push(t))?;
        Ok(OvsBridge {
            name: Cow::Borrowed(name),
            tag,
            trunks,
        })
    }

    /// Detaches from the borrowed text.
    pub fn into_owned(self) -> OvsBridge<'static> {
        OvsBridge {
            name: Cow::Owned(self.name.into_owned()),
            tag: self.tag,
            trunks: self.trunks,
        }
    }
}

/// Parses the Open vSwitch form without allocating: returns the bridge name and the
/// access tag, and hands each trunk to `trunk`, in order, as it is read. On an error,
/// what was handed over is not a bridge's: discard it.
pub fn parse_with(
    s: &str,
    mut trunk: impl FnMut(u16),
) -> Result<(&str, Option<u16>), BridgeSpecError> {
    let b = s.as_bytes();
    let end = b
        .iter()
        .position(|&c| c == b'.' || c == b':')
        .unwrap_or(b.len());
    // '.' and ':' are ASCII: every split below is at a character boundary.
    let name = &s[..end];
    if name.is_empty() {
        return Err(BridgeSpecError::Syntax);
    }
    IfName::validate(name).map_err(BridgeSpecError::Name)?;
    let mut i = end;
    let mut tag = None;
    if b.get(i) == Some(&b'.') {
        let (v, next) = number_at(b, i + 1)?;
        tag = Some(v);
        i = next;
    }
    while i < b.len() {
        if b[i] != b':' {
            return Err(BridgeSpecError::Syntax);
        }
        let (v, next) = number_at(b, i + 1)?;
        trunk(v);
        i = next;
    }
    Ok((name, tag))
}

/// A VLAN number starting at `b[i]`, ended by `:` or the end: the number and where it
/// ends.
fn number_at(b: &[u8], i: usize) -> Result<(u16, usize), BridgeSpecError> {
    let mut n: u32 = 0;
    let mut j = i;
    while let Some(&c) = b.get(j) {
        if c == b':' {
            break;
        }
        if !c.is_ascii_digit() || j - i >= 9 {
            return Err(BridgeSpecError::Syntax);
        }
        n = n * 10 + u32::from(c - b'0');
        j += 1;
    }
    if j == i {
        return Err(BridgeSpecError::Syntax);
    }
    match u16::try_from(n) {
        Ok(v) if (VLAN_MIN..=VLAN_MAX).contains(&v) => Ok((v, j)),
        _ => Err(BridgeSpecError::OutOfRange(n)),
    }
}

impl fmt::Display for OvsBridge<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(t) = self.tag {
            write!(f, ".{t}")?;
        }
        for t in &self.trunks {
            write!(f, ":{t}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let p = |s| OvsBridge::parse(s).unwrap();
        assert_eq!(p("xenbr0").tag, None);
        assert_eq!(p("xenbr0.102").tag, Some(102));
        let t = p("xenbr1:101:202");
        assert_eq!(
            (t.name.as_ref(), t.tag, t.trunks),
            ("xenbr1", None, vec![101, 202])
        );
        let b = p("ovsbr0.5:6:7");
        assert_eq!((b.tag, b.trunks.clone()), (Some(5), vec![6, 7]));
        assert_eq!(b.to_string(), "ovsbr0.5:6:7");
    }

    #[test]
    fn errors() {
        use BridgeSpecError::*;
        let e = |s| OvsBridge::parse(s).unwrap_err();
        assert_eq!(e(".5"), Syntax);
        assert_eq!(e("br.lan"), Syntax);
        assert_eq!(e("br.5.6"), Syntax);
        assert_eq!(e("br:"), Syntax);
        assert_eq!(e("br::5"), Syntax);
        assert_eq!(e("br.4096"), OutOfRange(4096));
        // 0 and 4095 are reserved, as in vlan=.
        assert_eq!(e("br.4095"), OutOfRange(4095));
        assert_eq!(e("br.0"), OutOfRange(0));
        assert_eq!(e("br:10:4095"), OutOfRange(4095));
        assert_eq!(OvsBridge::parse("br.4094:1").unwrap().trunks, [1]);
        assert!(matches!(e("a-very-long-bridge-name.5"), Name(_)));
    }
}
