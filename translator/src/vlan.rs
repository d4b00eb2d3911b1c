//! Xen's `vlan=` vif key (Xen 4.19+): which VLANs a bridge port carries.
//!
//! Terms are joined by `/`: `N`, `Np` (the PVID), `Nu` (untagged), `N1-N2[u]`
//! (inclusive range), `N+OFFxCOUNT[u]` (COUNT ids: N, N+OFF, ..., N+(COUNT-1)*OFF, as
//! Xen's implementation reads it). Exactly one id is the PVID: the one marked `p`, or
//! the only id given. The PVID is untagged on the port; `u` ids are untagged too; the
//! rest are tagged.

use std::fmt;
use std::str::FromStr;

/// The syntax of `vlan=`, for `--help`.
pub const SYNTAX: &str = "TERM[/TERM...]: TERM is N, Np (PVID), Nu (untagged), N1-N2[u] \
or N+OFFxCOUNT[u] (COUNT ids from N in steps of OFF); ids 1-4094; one PVID (a lone id is it)";

/// Lowest VLAN id on a Linux bridge port.
pub const VLAN_MIN: u16 = 1;
/// Highest VLAN id on a Linux bridge port.
pub const VLAN_MAX: u16 = 4094;

/// Why a `vlan` value is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VlanError {
    /// An empty term (`10//20`, a leading or trailing `/`).
    #[error("Empty term")]
    EmptyTerm,
    /// A term that is none of the forms.
    #[error("Term `{0}` is not N, Np, Nu, N1-N2[u] or N+OFFxCOUNT[u]")]
    BadTerm(String),
    /// An id outside 1..=4094.
    #[error("VLAN id {0} is outside 1-4094")]
    OutOfRange(u64),
    /// `N1-N2` with N1 > N2.
    #[error("Range {0}-{1} runs backwards")]
    Backwards(u16, u16),
    /// `N+OFFxCOUNT` with a zero offset or count.
    #[error("Offset and count must be at least 1 in `{0}`")]
    ZeroStep(String),
    /// More than one `p`.
    #[error("More than one PVID (`p`)")]
    TwoPvids,
    /// Several ids and none marked `p`.
    #[error("PVID required: mark one of several ids with `p`")]
    PvidRequired,
    /// The same id twice.
    #[error("VLAN {0} given twice")]
    Duplicate(u16),
}

/// How a VLAN is carried on the port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VlanMode {
    /// The port VLAN id (untagged).
    Pvid,
    /// Untagged, not the PVID (`u`).
    Untagged,
    /// Tagged.
    Tagged,
}

/// One VLAN of the port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VlanEntry {
    /// The id, 1..=4094.
    pub id: u16,
    /// How it is carried.
    pub mode: VlanMode,
}

/// A validated `vlan=` value: the VLANs in the order written, exactly one of them PVID.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VlanSpec {
    entries: Vec<VlanEntry>,
}

fn number(s: &str, term: &str) -> Result<u64, VlanError> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VlanError::BadTerm(term.to_owned()));
    }
    s.parse().map_err(|_| VlanError::BadTerm(term.to_owned()))
}

fn vlan_id(n: u64) -> Result<u16, VlanError> {
    match u16::try_from(n) {
        Ok(id) if (VLAN_MIN..=VLAN_MAX).contains(&id) => Ok(id),
        _ => Err(VlanError::OutOfRange(n)),
    }
}

impl VlanSpec {
    /// Builds a spec from entries, checking ids, duplicates and that exactly one is the
    /// PVID.
    pub fn new(entries: Vec<VlanEntry>) -> Result<VlanSpec, VlanError> {
        let mut seen = [0u64; 64];
        let mut pvids = 0;
        for e in &entries {
            vlan_id(u64::from(e.id))?;
            let (w, b) = (usize::from(e.id / 64), e.id % 64);
            if seen[w] & (1 << b) != 0 {
                return Err(VlanError::Duplicate(e.id));
            }
            seen[w] |= 1 << b;
            pvids += usize::from(e.mode == VlanMode::Pvid);
        }
        match (pvids, entries.len()) {
            (_, 0) => Err(VlanError::EmptyTerm),
            (1, _) => Ok(VlanSpec { entries }),
            (0, 1) => {
                let mut entries = entries;
                entries[0].mode = VlanMode::Pvid;
                Ok(VlanSpec { entries })
            }
            (0, _) => Err(VlanError::PvidRequired),
            _ => Err(VlanError::TwoPvids),
        }
    }

    /// The VLANs in order.
    pub fn entries(&self) -> &[VlanEntry] {
        &self.entries
    }

    /// The PVID.
    pub fn pvid(&self) -> u16 {
        self.entries
            .iter()
            .find(|e| e.mode == VlanMode::Pvid)
            .map_or(0, |e| e.id)
    }

    fn push_term(term: &str, out: &mut Vec<VlanEntry>) -> Result<(), VlanError> {
        if term.is_empty() {
            return Err(VlanError::EmptyTerm);
        }
        let (body, suffix) = match term.as_bytes()[term.len() - 1] {
            b'p' => (&term[..term.len() - 1], Some(VlanMode::Pvid)),
            b'u' => (&term[..term.len() - 1], Some(VlanMode::Untagged)),
            _ => (term, None),
        };
        let mode = suffix.unwrap_or(VlanMode::Tagged);
        if let Some((start, rest)) = body.split_once('+') {
            let (off, count) = rest
                .split_once('x')
                .ok_or_else(|| VlanError::BadTerm(term.to_owned()))?;
            if mode == VlanMode::Pvid {
                return Err(VlanError::BadTerm(term.to_owned()));
            }
            let start = number(start, term)?;
            let (off, count) = (number(off, term)?, number(count, term)?);
            if off == 0 || count == 0 {
                return Err(VlanError::ZeroStep(term.to_owned()));
            }
            vlan_id(start)?;
            for i in 0..count {
                let id = vlan_id(start + i * off)?;
                out.push(VlanEntry { id, mode });
            }
        } else if let Some((a, b)) = body.split_once('-') {
            if mode == VlanMode::Pvid {
                return Err(VlanError::BadTerm(term.to_owned()));
            }
            let (a, b) = (vlan_id(number(a, term)?)?, vlan_id(number(b, term)?)?);
            if a > b {
                return Err(VlanError::Backwards(a, b));
            }
            out.extend((a..=b).map(|id| VlanEntry { id, mode }));
        } else {
            let id = vlan_id(number(body, term)?)?;
            out.push(VlanEntry { id, mode });
        }
        Ok(())
    }
}

impl FromStr for VlanSpec {
    type Err = VlanError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut entries = Vec::new();
        for term in s.split('/') {
            VlanSpec::push_term(term, &mut entries)?;
        }
        VlanSpec::new(entries)
    }
}

impl fmt::Display for VlanSpec {
    /// The canonical form: the PVID as `Np` (plain `N` when it is the only id), runs of
    /// consecutive ids with the same mode as `N1-N2`, in order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lone = self.entries.len() == 1;
        let mut i = 0;
        let mut first = true;
        while i < self.entries.len() {
            let e = self.entries[i];
            if !first {
                f.write_str("/")?;
            }
            first = false;
            if e.mode == VlanMode::Pvid {
                write!(f, "{}{}", e.id, if lone { "" } else { "p" })?;
                i += 1;
                continue;
            }
            let mut j = i;
            while j + 1 < self.entries.len()
                && self.entries[j + 1].mode == e.mode
                && self.entries[j + 1].id == self.entries[j].id + 1
            {
                j += 1;
            }
            let u = if e.mode == VlanMode::Untagged {
                "u"
            } else {
                ""
            };
            if j > i {
                write!(f, "{}-{}{u}", e.id, self.entries[j].id)?;
            } else {
                write!(f, "{}{u}", e.id)?;
            }
            i = j + 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(s: &str) -> Vec<(u16, VlanMode)> {
        let v: VlanSpec = s.parse().unwrap();
        v.entries().iter().map(|e| (e.id, e.mode)).collect()
    }

    #[test]
    fn terms() {
        use VlanMode::*;
        assert_eq!(ids("10"), [(10, Pvid)]);
        assert_eq!(ids("10u"), [(10, Pvid)]);
        assert_eq!(ids("10p/20"), [(10, Pvid), (20, Tagged)]);
        assert_eq!(
            ids("10p/20-22u"),
            [(10, Pvid), (20, Untagged), (21, Untagged), (22, Untagged)]
        );
        assert_eq!(
            ids("1p/100+10x4"),
            [
                (1, Pvid),
                (100, Tagged),
                (110, Tagged),
                (120, Tagged),
                (130, Tagged)
            ]
        );
        assert_eq!(ids("5-5"), [(5, Pvid)]);
    }

    #[test]
    fn errors() {
        use VlanError::*;
        let e = |s: &str| s.parse::<VlanSpec>().unwrap_err();
        assert_eq!(e(""), EmptyTerm);
        assert_eq!(e("10//20p"), EmptyTerm);
        assert_eq!(e("10p/"), EmptyTerm);
        assert_eq!(e("10p/20p"), TwoPvids);
        assert_eq!(e("10/20"), PvidRequired);
        assert_eq!(e("20-10"), Backwards(20, 10));
        assert_eq!(e("0"), OutOfRange(0));
        assert_eq!(e("4095"), OutOfRange(4095));
        assert_eq!(e("1p/4000+100x2"), OutOfRange(4100));
        assert_eq!(e("10p/10"), Duplicate(10));
        assert_eq!(e("1p/2+0x3"), ZeroStep("2+0x3".into()));
        assert!(matches!(e("10-20p"), BadTerm(_)));
        assert!(matches!(e("x"), BadTerm(_)));
        assert!(matches!(e("10q"), BadTerm(_)));
        assert!(matches!(e("+10x2"), BadTerm(_)));
        assert!(matches!(e("99999999999"), BadTerm(_)));
    }

    #[test]
    fn canonical_form() {
        let c = |s: &str| s.parse::<VlanSpec>().unwrap().to_string();
        assert_eq!(c("10p"), "10");
        assert_eq!(c("10p/20"), "10p/20");
        assert_eq!(c("20/10p/21/22/30u/31u"), "20/10p/21-22/30-31u");
        assert_eq!(c("1p/100+1x3"), "1p/100-102");
        // Canonical form re-parses to the same spec.
        for s in ["10p/20", "1p/100+10x4u", "7/3p/4u/5u/9"] {
            let v: VlanSpec = s.parse().unwrap();
            assert_eq!(v.to_string().parse::<VlanSpec>().unwrap(), v);
        }
    }
}
