//! [`ModelError`]: why a value or a record is refused, shared by the field types and the
//! records built from them.

use translator::ifname::IfNameError;
use translator::mac::MacError;
use translator::vlan::VlanError;
use translator::IfName;

/// Why a value or a record is refused. Each message names the field or the record and
/// the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// A field that must be a Linux interface name is not one.
    #[error("Invalid {field} {value:?}")]
    IfName {
        /// Which field (`bridge name`, `uplink`, `backend device`, ...).
        field: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        #[source]
        source: IfNameError,
    },
    /// A field that must be a unicast MAC is not one.
    #[error("Invalid {field} {value:?}")]
    Mac {
        /// Which field.
        field: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        #[source]
        source: MacError,
    },
    /// A field that must be a `vlan=` set is not one.
    #[error("Invalid {field} {value:?}")]
    Vlan {
        /// Which field.
        field: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        #[source]
        source: VlanError,
    },
    /// A number outside the range its field allows.
    #[error("Invalid {field} {value}: out of range")]
    OutOfRange {
        /// Which field.
        field: &'static str,
        /// The value given.
        value: i64,
    },
    /// Not `linux` or `ovs`.
    #[error("Bridge kind {0:?} is neither `linux` nor `ovs`")]
    BridgeKind(String),
    /// Not a VLAN id from 1 to 4094.
    #[error("VLAN id {0:?} is not a number from 1 to 4094")]
    VlanId(String),
    /// Not an MTU from 68 to 65535.
    #[error("MTU {0:?} is not a number from 68 to 65535")]
    Mtu(String),
    /// Not `xen` or `qemu`.
    #[error("Driver {0:?} is neither `xen` nor `qemu`")]
    Driver(String),
    /// Not `prepared`, `active` or `stopped`.
    #[error("Attachment state {0:?} is not `prepared`, `active` or `stopped`")]
    State(String),
    /// A domain name that Xen or libvirt would refuse.
    #[error("Domain name {value:?} is refused: {reason}")]
    DomainName {
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Not a UUID.
    #[error("Domain UUID {0:?} is not 32 hex digits (optionally as 8-4-4-4-12 with dashes)")]
    Uuid(String),
    /// Not a boot id (a UUID).
    #[error("Boot id {0:?} is not a UUID")]
    BootId(String),
    /// A guest-side interface name that cannot be stored.
    #[error("Guest interface name {value:?} is refused: {reason}")]
    GuestName {
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A NIC model name that cannot be stored.
    #[error("NIC model {value:?} is refused: {reason}")]
    NicModel {
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A bridge with a VLAN id but no uplink device to build `UPLINK.VLAN` on.
    #[error("Bridge {bridge} has VLAN {vlan} but no uplink to carry it")]
    VlanWithoutUplink {
        /// The bridge.
        bridge: IfName,
        /// Its VLAN id (a valid one: a [`VlanId`](crate::VlanId)'s value).
        vlan: u16,
    },
    /// `UPLINK.VLAN` is too long or otherwise not an interface name.
    #[error("Bridge {bridge}: its uplink VLAN device {device:?} is not a valid interface name")]
    UplinkVlanName {
        /// The bridge.
        bridge: IfName,
        /// The device name built from the uplink and the VLAN.
        device: String,
        /// What is wrong with it.
        #[source]
        source: IfNameError,
    },
    /// The uplink (or its VLAN device) has the bridge's own name.
    #[error("Bridge {bridge} cannot be its own uplink device")]
    UplinkIsBridge {
        /// The bridge.
        bridge: IfName,
    },
    /// A QEMU NIC with an emulated twin (only Xen's HVM NICs have one).
    #[error("QEMU domain {domid} device {devid}: an emulated twin ({emulated}) is Xen's only")]
    QemuTwin {
        /// The attachment's domain id.
        domid: u32,
        /// The attachment's device id.
        devid: u32,
        /// The twin given.
        emulated: IfName,
    },
    /// A domain id in Xen's reserved range.
    #[error("Domain id {0} is in Xen's reserved range (32752 and above)")]
    DomId(u32),
    /// A Xen device name (`vifD.N`, `NAME-emu`) that would not be a valid interface name.
    #[error("Xen's device name {name:?} is not a valid interface name")]
    XenName {
        /// The name built.
        name: String,
        /// What is wrong with it.
        #[source]
        source: IfNameError,
    },
    /// A backend named `vifD.N` recorded for another domain or device.
    #[error(
        "Domain {domid} device {devid}: backend {backend} is Xen's name for domain \
         {named_domid} device {named_devid}"
    )]
    BackendOfOther {
        /// The attachment's domain id.
        domid: u32,
        /// The attachment's device id.
        devid: u32,
        /// The backend given.
        backend: IfName,
        /// The domain id its name says.
        named_domid: u32,
        /// The device id its name says.
        named_devid: u32,
    },
    /// An emulated twin not named `BACKEND-emu`.
    #[error("Domain {domid} device {devid}: emulated twin {emulated} should be {expected:?}")]
    EmulatedName {
        /// The attachment's domain id.
        domid: u32,
        /// The attachment's device id.
        devid: u32,
        /// The name given.
        emulated: IfName,
        /// The name libxl gives it.
        expected: String,
    },
}
