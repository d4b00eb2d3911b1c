//! The small validated values the registry's records are made of: bridge kinds, VLAN
//! ids, MTUs, drivers, domain names and UUIDs, guest-side interface names and attachment
//! states.
//!
//! Each parses from the text the CLI, the database or a D-Bus caller hands over, and
//! refuses bad input with a [`ModelError`] that names the value.

use std::fmt;
use std::str::FromStr;

use crate::error::ModelError;

/// Which kind of switch a bridge is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BridgeKind {
    /// A Linux kernel bridge.
    Linux,
    /// An Open vSwitch bridge.
    Ovs,
}

impl BridgeKind {
    /// The name as stored and shown: `linux` or `ovs`.
    pub fn as_str(self) -> &'static str {
        match self {
            BridgeKind::Linux => "linux",
            BridgeKind::Ovs => "ovs",
        }
    }
}

impl FromStr for BridgeKind {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "linux" => Ok(BridgeKind::Linux),
            "ovs" => Ok(BridgeKind::Ovs),
            _ => Err(ModelError::BridgeKind(s.to_owned())),
        }
    }
}

impl fmt::Display for BridgeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whose domain a NIC record belongs to: domain ids and names identify a domain only
/// within one hypervisor, so every record, lookup and removal says which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Driver {
    /// A Xen domain: libvirt's `libxl` driver, or `xl` (the hotplug script).
    Xen,
    /// A QEMU/KVM domain: libvirt's `qemu` driver.
    Qemu,
}

impl Driver {
    /// Both drivers, in the order records are listed.
    pub const ALL: [Driver; 2] = [Driver::Xen, Driver::Qemu];

    /// The name as stored and shown: `xen` or `qemu`.
    pub fn as_str(self) -> &'static str {
        match self {
            Driver::Xen => "xen",
            Driver::Qemu => "qemu",
        }
    }

    /// The name in messages: `Xen` or `QEMU`.
    pub fn label(self) -> &'static str {
        match self {
            Driver::Xen => "Xen",
            Driver::Qemu => "QEMU",
        }
    }
}

impl FromStr for Driver {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "xen" => Ok(Driver::Xen),
            "qemu" => Ok(Driver::Qemu),
            _ => Err(ModelError::Driver(s.to_owned())),
        }
    }
}

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An 802.1Q VLAN id usable on a Linux VLAN device or bridge port: 1 to 4094.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VlanId(u16);

impl VlanId {
    /// Lowest usable id.
    pub const MIN: u16 = 1;
    /// Highest usable id (4095 is reserved).
    pub const MAX: u16 = 4094;

    /// Checks the range and wraps the id.
    pub fn new(id: u16) -> Result<VlanId, ModelError> {
        Self::try_from(i64::from(id))
    }

    /// The id.
    pub fn get(self) -> u16 {
        self.0
    }
}

impl TryFrom<i64> for VlanId {
    type Error = ModelError;

    fn try_from(id: i64) -> Result<Self, Self::Error> {
        match u16::try_from(id) {
            Ok(v) if (Self::MIN..=Self::MAX).contains(&v) => Ok(VlanId(v)),
            _ => Err(ModelError::VlanId(id.to_string())),
        }
    }
}

impl FromStr for VlanId {
    type Err = ModelError;

    /// Decimal digits only (no sign, no spaces, no leading `0x`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match decimal(s) {
            Some(n) => VlanId::try_from(n).map_err(|_| ModelError::VlanId(s.to_owned())),
            None => Err(ModelError::VlanId(s.to_owned())),
        }
    }
}

impl fmt::Display for VlanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An interface MTU: 68 (the IPv4 minimum) to 65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mtu(u32);

impl Mtu {
    /// Smallest MTU accepted.
    pub const MIN: u32 = 68;
    /// Largest MTU accepted.
    pub const MAX: u32 = 65535;

    /// Checks the range and wraps the MTU.
    pub fn new(mtu: u32) -> Result<Mtu, ModelError> {
        Self::try_from(i64::from(mtu))
    }

    /// The MTU in bytes.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<i64> for Mtu {
    type Error = ModelError;

    fn try_from(mtu: i64) -> Result<Self, Self::Error> {
        match u32::try_from(mtu) {
            Ok(v) if (Self::MIN..=Self::MAX).contains(&v) => Ok(Mtu(v)),
            _ => Err(ModelError::Mtu(mtu.to_string())),
        }
    }
}

impl FromStr for Mtu {
    type Err = ModelError;

    /// Decimal digits only.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match decimal(s) {
            Some(n) => Mtu::try_from(n).map_err(|_| ModelError::Mtu(s.to_owned())),
            None => Err(ModelError::Mtu(s.to_owned())),
        }
    }
}

impl fmt::Display for Mtu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Reads up to 18 ASCII decimal digits; anything else (sign, spaces, empty) is `None`.
fn decimal(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Why a piece of free text (a domain or guest interface name) is refused.
fn text_problem(s: &str, max: usize) -> Option<&'static str> {
    if s.is_empty() {
        Some("it is empty")
    } else if s.len() > max {
        Some("it is too long")
    } else if s.chars().any(char::is_control) {
        Some("it contains a control character")
    } else if s.trim() != s {
        Some("it starts or ends with white space")
    } else {
        None
    }
}

/// A guest's name as Xen and libvirt know it: 1 to [`DomainName::MAX`] bytes, no
/// control characters, no `/` (xenstore and libvirt refuse it), no leading or trailing
/// white space.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName(String);

impl DomainName {
    /// Longest name accepted, in bytes.
    pub const MAX: usize = 1024;

    /// Validates and wraps a name.
    pub fn new(name: impl Into<String>) -> Result<DomainName, ModelError> {
        let name = name.into();
        let reason = text_problem(&name, Self::MAX).or_else(|| {
            name.contains('/')
                .then_some("it contains `/`, which Xen and libvirt refuse")
        });
        match reason {
            Some(reason) => Err(ModelError::DomainName {
                value: name,
                reason,
            }),
            None => Ok(DomainName(name)),
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for DomainName {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DomainName::new(s)
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A domain's UUID. Parses 32 hex digits, either bare or as `8-4-4-4-12` with dashes,
/// in any case; shows as lower-case `8-4-4-4-12`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainUuid([u8; 16]);

impl DomainUuid {
    /// Wraps sixteen bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> DomainUuid {
        DomainUuid(bytes)
    }

    /// The sixteen bytes.
    pub fn bytes(&self) -> [u8; 16] {
        self.0
    }
}

impl FromStr for DomainUuid {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ModelError::Uuid(s.to_owned());
        let b = s.as_bytes();
        let digits: Vec<u8> = match b.len() {
            32 => b.to_vec(),
            36 => {
                if [8, 13, 18, 23].iter().any(|&i| b[i] != b'-') {
                    return Err(bad());
                }
                b.iter().copied().filter(|&c| c != b'-').collect()
            }
            _ => return Err(bad()),
        };
        if digits.len() != 32 {
            return Err(bad());
        }
        let mut out = [0u8; 16];
        for (i, o) in out.iter_mut().enumerate() {
            let (Some(h), Some(l)) = (hex(digits[2 * i]), hex(digits[2 * i + 1])) else {
                return Err(bad());
            };
            *o = (h << 4) | l;
        }
        Ok(DomainUuid(out))
    }
}

fn hex(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

impl fmt::Display for DomainUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// The kernel's id of the running boot (`/proc/sys/kernel/random/boot_id`, a random
/// UUID made at every boot). Recorded with each NIC: a record written in another boot
/// is of a guest that cannot still be running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BootId(DomainUuid);

/// Where the kernel shows the boot id.
pub const BOOT_ID_PATH: &str = "/proc/sys/kernel/random/boot_id";

impl BootId {
    /// This boot's id, read once per process; `None` when the kernel does not say
    /// (no `/proc`).
    pub fn current() -> Option<BootId> {
        static CURRENT: std::sync::OnceLock<Option<BootId>> = std::sync::OnceLock::new();
        *CURRENT.get_or_init(|| {
            std::fs::read_to_string(BOOT_ID_PATH)
                .ok()
                .and_then(|s| s.trim().parse().ok())
        })
    }
}

impl FromStr for BootId {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<DomainUuid>()
            .map(BootId)
            .map_err(|_| ModelError::BootId(s.to_owned()))
    }
}

impl fmt::Display for BootId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The NIC's name inside the guest (`eth2` for a Linux guest's third NIC, as seen
/// from dom0 as `vifD.2`; any OS's name is accepted): 1 to [`GuestName::MAX`] bytes, no
/// control characters, no leading or trailing white space.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GuestName(String);

impl GuestName {
    /// Longest name accepted, in bytes (Windows allows long connection names).
    pub const MAX: usize = 256;

    /// Validates and wraps a name.
    pub fn new(name: impl Into<String>) -> Result<GuestName, ModelError> {
        let name = name.into();
        match text_problem(&name, Self::MAX) {
            Some(reason) => Err(ModelError::GuestName {
                value: name,
                reason,
            }),
            None => Ok(GuestName(name)),
        }
    }

    /// The name a Linux guest gives its NIC `devid` by default: `eth{devid}`.
    pub fn linux_default(devid: u32) -> GuestName {
        GuestName(format!("eth{devid}"))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for GuestName {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GuestName::new(s)
    }
}

impl fmt::Display for GuestName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A guest NIC's model as libvirt's `<model type>` or xl's `model=` names it (`e1000`,
/// `rtl8139`, `virtio`, ...): 1 to [`NicModelName::MAX`] bytes of ASCII letters, digits,
/// `_`, `-` and `.` (the characters of QEMU's device names and libvirt's model names, so
/// it is safe in a command line and a log line).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NicModelName(String);

impl NicModelName {
    /// Longest name accepted, in bytes.
    pub const MAX: usize = 64;

    /// Validates and wraps a model name.
    pub fn new(name: impl Into<String>) -> Result<NicModelName, ModelError> {
        let name = name.into();
        let reason = if name.is_empty() {
            Some("it is empty")
        } else if name.len() > Self::MAX {
            Some("it is too long")
        } else if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            Some("it holds a character other than ASCII letters, digits, `_`, `-` and `.`")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(ModelError::NicModel {
                value: name,
                reason,
            }),
            None => Ok(NicModelName(name)),
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for NicModelName {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NicModelName::new(s)
    }
}

impl fmt::Display for NicModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a NIC attachment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AttachmentState {
    /// Recorded before the guest starts (libvirt's `prepare` hook): devices may not
    /// exist yet.
    Prepared,
    /// The guest runs and its devices are plugged into the bridge.
    Active,
    /// The guest stopped; the record is kept until it is dropped.
    Stopped,
}

impl AttachmentState {
    /// The name as stored and shown: `prepared`, `active` or `stopped`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttachmentState::Prepared => "prepared",
            AttachmentState::Active => "active",
            AttachmentState::Stopped => "stopped",
        }
    }
}

impl FromStr for AttachmentState {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "prepared" => Ok(AttachmentState::Prepared),
            "active" => Ok(AttachmentState::Active),
            "stopped" => Ok(AttachmentState::Stopped),
            _ => Err(ModelError::State(s.to_owned())),
        }
    }
}

impl fmt::Display for AttachmentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bridge_kind_round_trips_and_refuses_others() {
        for k in [BridgeKind::Linux, BridgeKind::Ovs] {
            assert_eq!(k.as_str().parse::<BridgeKind>().unwrap(), k);
        }
        let e = "Linux".parse::<BridgeKind>().unwrap_err();
        assert_eq!(e, ModelError::BridgeKind("Linux".into()));
        assert_eq!(
            e.to_string(),
            "Bridge kind \"Linux\" is neither `linux` nor `ovs`"
        );
    }

    #[test]
    fn vlan_id_range() {
        assert_eq!(VlanId::new(1).unwrap().get(), 1);
        assert_eq!(VlanId::new(4094).unwrap().get(), 4094);
        assert_eq!("900".parse::<VlanId>().unwrap().get(), 900);
        for bad in [
            "0",
            "4095",
            "65536",
            "",
            "-1",
            "+5",
            " 5",
            "0x10",
            "99999999999999999999",
        ] {
            assert_eq!(
                bad.parse::<VlanId>().unwrap_err(),
                ModelError::VlanId(bad.into()),
                "{bad}"
            );
        }
        assert_eq!(VlanId::new(0).unwrap_err(), ModelError::VlanId("0".into()));
        assert_eq!(
            VlanId::try_from(-3).unwrap_err().to_string(),
            "VLAN id \"-3\" is not a number from 1 to 4094"
        );
    }

    #[test]
    fn mtu_range() {
        assert_eq!(Mtu::new(68).unwrap().get(), 68);
        assert_eq!("9000".parse::<Mtu>().unwrap().get(), 9000);
        assert_eq!(Mtu::new(65535).unwrap().to_string(), "65535");
        for bad in ["67", "65536", "0", "", "1500 ", "4294967296"] {
            assert_eq!(
                bad.parse::<Mtu>().unwrap_err(),
                ModelError::Mtu(bad.into()),
                "{bad}"
            );
        }
        assert_eq!(
            Mtu::try_from(-1).unwrap_err().to_string(),
            "MTU \"-1\" is not a number from 68 to 65535"
        );
    }

    #[test]
    fn domain_names() {
        for ok in ["web1", "Windows Server 2022", "db-01.example", "é"] {
            assert_eq!(DomainName::new(ok).unwrap().as_str(), ok);
        }
        let reason = |s: &str| match DomainName::new(s).unwrap_err() {
            ModelError::DomainName { value, reason } => {
                assert_eq!(value, s);
                reason
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(reason(""), "it is empty");
        assert_eq!(
            reason("a/b"),
            "it contains `/`, which Xen and libvirt refuse"
        );
        assert_eq!(reason("a\nb"), "it contains a control character");
        assert_eq!(reason(" web"), "it starts or ends with white space");
        assert_eq!(reason(&"x".repeat(1025)), "it is too long");
        assert_eq!(
            DomainName::new("a\u{1b}[2J").unwrap_err().to_string(),
            "Domain name \"a\\u{1b}[2J\" is refused: it contains a control character"
        );
    }

    #[test]
    fn uuids() {
        let u: DomainUuid = "4DEA22B3-1D52-D8F3-2516-782E98AB3FA0".parse().unwrap();
        assert_eq!(u.to_string(), "4dea22b3-1d52-d8f3-2516-782e98ab3fa0");
        let bare: DomainUuid = "4dea22b31d52d8f32516782e98ab3fa0".parse().unwrap();
        assert_eq!(bare, u);
        assert_eq!(DomainUuid::from_bytes(u.bytes()), u);
        for bad in [
            "",
            "4dea22b3-1d52-d8f3-2516-782e98ab3fa",
            "4dea22b3-1d52-d8f3-2516-782e98ab3fag",
            "4dea22b31-d52-d8f3-2516-782e98ab3fa0",
            "4dea22b3-1d52-d8f3-2516-782e98ab3fa0-",
            "4dea22b3--1d52-d8f3-2516-782e98ab3fa",
            "+dea22b31d52d8f32516782e98ab3fa0",
            "ééééééééééééééééé",
        ] {
            assert_eq!(
                bad.parse::<DomainUuid>().unwrap_err(),
                ModelError::Uuid(bad.into()),
                "{bad}"
            );
        }
    }

    #[test]
    fn nic_model_names() {
        for good in [
            "e1000",
            "rtl8139",
            "virtio",
            "virtio-net-pci",
            "ne2k_pci",
            "a.b",
        ] {
            assert_eq!(NicModelName::new(good).unwrap().as_str(), good);
            assert_eq!(good.parse::<NicModelName>().unwrap().to_string(), good);
        }
        let reason = |s: &str| match NicModelName::new(s).unwrap_err() {
            ModelError::NicModel { reason, .. } => reason,
            other => panic!("{other:?}"),
        };
        assert_eq!(reason(""), "it is empty");
        assert_eq!(reason(&"e".repeat(65)), "it is too long");
        for bad in ["e1000,x", "a b", "e1000\n", "virtio;", "caf\u{e9}"] {
            assert_eq!(
                reason(bad),
                "it holds a character other than ASCII letters, digits, `_`, `-` and `.`",
                "{bad}"
            );
        }
        assert_eq!(
            NicModelName::new("a,b").unwrap_err().to_string(),
            "NIC model \"a,b\" is refused: it holds a character other than ASCII letters, \
             digits, `_`, `-` and `.`"
        );
    }

    #[test]
    fn guest_names() {
        assert_eq!(GuestName::linux_default(2).as_str(), "eth2");
        assert_eq!(
            GuestName::new("Ethernet 2").unwrap().to_string(),
            "Ethernet 2"
        );
        assert!(matches!(
            GuestName::new("").unwrap_err(),
            ModelError::GuestName {
                reason: "it is empty",
                ..
            }
        ));
        assert!(matches!(
            GuestName::new("eth0\t").unwrap_err(),
            ModelError::GuestName {
                reason: "it contains a control character",
                ..
            }
        ));
        assert!(matches!(
            GuestName::new("x".repeat(257)).unwrap_err(),
            ModelError::GuestName {
                reason: "it is too long",
                ..
            }
        ));
    }

    #[test]
    fn boot_ids_are_the_kernels() {
        let now = BootId::current().expect("the kernel's boot id");
        let text = std::fs::read_to_string(BOOT_ID_PATH).unwrap();
        assert_eq!(now.to_string(), text.trim());
        assert_eq!(now.to_string().parse::<BootId>().unwrap(), now);
        assert_eq!(
            "nope".parse::<BootId>().unwrap_err().to_string(),
            "Boot id \"nope\" is not a UUID"
        );
    }

    #[test]
    fn drivers_round_trip_and_refuse_others() {
        for d in Driver::ALL {
            assert_eq!(d.as_str().parse::<Driver>().unwrap(), d);
            assert_eq!(d.to_string(), d.as_str());
        }
        assert_eq!(Driver::Xen.label(), "Xen");
        assert_eq!(Driver::Qemu.label(), "QEMU");
        assert_eq!(
            "libxl".parse::<Driver>().unwrap_err().to_string(),
            "Driver \"libxl\" is neither `xen` nor `qemu`"
        );
    }

    #[test]
    fn states_round_trip() {
        for s in [
            AttachmentState::Prepared,
            AttachmentState::Active,
            AttachmentState::Stopped,
        ] {
            assert_eq!(s.to_string().parse::<AttachmentState>().unwrap(), s);
        }
        assert_eq!(
            "running"
                .parse::<AttachmentState>()
                .unwrap_err()
                .to_string(),
            "Attachment state \"running\" is not `prepared`, `active` or `stopped`"
        );
    }

    proptest::proptest! {
        #[test]
        fn parsers_refuse_without_panicking(s in "\\PC{0,40}|[0-9a-fA-F-]{30,38}") {
            let _ = s.parse::<VlanId>();
            let _ = s.parse::<Mtu>();
            let _ = s.parse::<DomainUuid>();
            let _ = s.parse::<BridgeKind>();
            let _ = s.parse::<AttachmentState>();
            if let Ok(n) = DomainName::new(s.as_str()) {
                proptest::prop_assert_eq!(n.as_str(), s.as_str());
            }
            let _ = GuestName::new(s.as_str());
        }

        #[test]
        fn uuids_round_trip(bytes in proptest::prelude::any::<[u8; 16]>()) {
            let u = DomainUuid::from_bytes(bytes);
            let text = u.to_string();
            proptest::prop_assert_eq!(text.parse::<DomainUuid>(), Ok(u));
            proptest::prop_assert_eq!(text.to_uppercase().parse::<DomainUuid>(), Ok(u));
            proptest::prop_assert_eq!(text.replace('-', "").parse::<DomainUuid>(), Ok(u));
        }

        #[test]
        fn ranges_are_exact(n in proptest::prelude::any::<i64>()) {
            proptest::prop_assert_eq!(VlanId::try_from(n).is_ok(), (1..=4094).contains(&n));
            proptest::prop_assert_eq!(Mtu::try_from(n).is_ok(), (68..=65535).contains(&n));
            proptest::prop_assert_eq!(n.to_string().parse::<VlanId>().ok(), VlanId::try_from(n).ok());
        }
    }
}
