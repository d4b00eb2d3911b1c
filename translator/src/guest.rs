//! The guest type, which decides what a NIC may be (emulated models are HVM only).

use std::fmt;
use std::str::FromStr;

/// How a Xen guest is virtualised, as xl's `type=` (or libvirt's `<os><type>`) says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GuestType {
    /// Fully virtualised: emulated NICs (with PV twins) are possible.
    #[default]
    Hvm,
    /// Paravirtualised: PV NICs (netfront) only.
    Pv,
    /// PVH: PV NICs (netfront) only.
    Pvh,
}

impl GuestType {
    /// The spelling xl and libvirt use (`hvm`, `pv`, `pvh`).
    pub fn as_str(self) -> &'static str {
        match self {
            GuestType::Hvm => "hvm",
            GuestType::Pv => "pv",
            GuestType::Pvh => "pvh",
        }
    }

    /// Whether the guest can have emulated NICs (only HVM can).
    pub fn has_emulated_nics(self) -> bool {
        self == GuestType::Hvm
    }

    /// The guest type libvirt's `<os><type>` text stands for (`hvm`, `xen` = PV,
    /// `xenpvh`/`pvh` = PVH; `linux` is the old spelling of PV).
    pub fn from_libvirt_os_type(s: &str) -> Option<GuestType> {
        match s.trim() {
            "hvm" => Some(GuestType::Hvm),
            "xen" | "linux" | "pv" => Some(GuestType::Pv),
            "xenpvh" | "pvh" => Some(GuestType::Pvh),
            _ => None,
        }
    }
}

impl fmt::Display for GuestType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A guest type string that is none of `hvm`, `pv`, `pvh`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Unknown guest type `{0}` (expected hvm, pv or pvh)")]
pub struct GuestTypeError(pub String);

impl FromStr for GuestType {
    type Err = GuestTypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "hvm" => Ok(GuestType::Hvm),
            "pv" => Ok(GuestType::Pv),
            "pvh" => Ok(GuestType::Pvh),
            other => Err(GuestTypeError(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_xl_spellings_only() {
        assert_eq!("pvh".parse::<GuestType>(), Ok(GuestType::Pvh));
        assert!("HVM".parse::<GuestType>().is_err());
        assert_eq!(GuestType::from_libvirt_os_type("xen"), Some(GuestType::Pv));
        assert_eq!(GuestType::from_libvirt_os_type("exe"), None);
    }
}
