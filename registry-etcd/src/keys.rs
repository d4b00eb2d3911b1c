//! The key layout under the prefix (`/vifkit/v1/` by default). docs/fleet.md has the
//! whole table; in short:
//!
//! | key | value | lease |
//! |---|---|---|
//! | `bridges/BR` | the shared [`Bridge`](registry::Bridge) (JSON) | none |
//! | `overrides/BR/HOST` | a host's [`BridgeOverride`](crate::BridgeOverride) | none |
//! | `made/BR/HOST` | empty: vifkit made BR on HOST | none |
//! | `claims/BR/HOST/DRIVER/DOMAIN` | empty: a guest starting on BR | HOST's |
//! | `hosts/HOST/claimed/DRIVER/DOMAIN` | the guest's claimed bridges (JSON list) | HOST's |
//! | `hosts/HOST/nics/DRIVER/DOMID/DEVID` | the [`Attachment`](registry::Attachment) | HOST's |
//! | `hosts/HOST/devices/DEV` | the [`Owner`](registry::Owner) of a device name | HOST's |
//! | `users/BR/HOST/DRIVER/DOMID/DEVID` | the Owner of a NIC on BR | HOST's |
//! | `macs/MAC` | the fleet-wide [`MacOwner`](crate::MacOwner) | the owner host's |
//! | `hosts/HOST/lease` | the host's lease id (decimal) | that lease |
//! | `generation` | empty; its revision is the registry's generation | none |
//!
//! Domain ids and device ids are ten digits, zero-padded, so keys sort as numbers.

use registry::{DomainName, Driver};
use translator::{IfName, MacAddr};

/// The keys of one host under one prefix.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    pub(crate) prefix: String,
    pub(crate) host: String,
}

impl Keys {
    pub(crate) fn bridge(&self, b: &IfName) -> String {
        format!("{}bridges/{b}", self.prefix)
    }
    pub(crate) fn bridges(&self) -> String {
        format!("{}bridges/", self.prefix)
    }
    pub(crate) fn override_here(&self, b: &IfName) -> String {
        format!("{}overrides/{b}/{}", self.prefix, self.host)
    }
    pub(crate) fn overrides_of(&self, b: &IfName) -> String {
        format!("{}overrides/{b}/", self.prefix)
    }
    pub(crate) fn overrides(&self) -> String {
        format!("{}overrides/", self.prefix)
    }
    pub(crate) fn made(&self, b: &IfName) -> String {
        format!("{}made/{b}/{}", self.prefix, self.host)
    }
    pub(crate) fn made_of(&self, b: &IfName) -> String {
        format!("{}made/{b}/", self.prefix)
    }
    pub(crate) fn claim(&self, b: &IfName, d: Driver, dom: &DomainName) -> String {
        format!("{}claims/{b}/{}/{d}/{dom}", self.prefix, self.host)
    }
    pub(crate) fn claims_here(&self, b: &IfName) -> String {
        format!("{}claims/{b}/{}/", self.prefix, self.host)
    }
    pub(crate) fn claims_of(&self, b: &IfName) -> String {
        format!("{}claims/{b}/", self.prefix)
    }
    pub(crate) fn claimed(&self, d: Driver, dom: &DomainName) -> String {
        format!("{}hosts/{}/claimed/{d}/{dom}", self.prefix, self.host)
    }
    pub(crate) fn user(&self, b: &IfName, d: Driver, domid: u32, devid: u32) -> String {
        format!(
            "{}users/{b}/{}/{d}/{domid:010}/{devid:010}",
            self.prefix, self.host
        )
    }
    pub(crate) fn users_of(&self, b: &IfName) -> String {
        format!("{}users/{b}/", self.prefix)
    }
    pub(crate) fn nic(&self, d: Driver, domid: u32, devid: u32) -> String {
        format!(
            "{}hosts/{}/nics/{d}/{domid:010}/{devid:010}",
            self.prefix, self.host
        )
    }
    pub(crate) fn nics(&self) -> String {
        format!("{}hosts/{}/nics/", self.prefix, self.host)
    }
    pub(crate) fn nics_of_driver(&self, d: Driver) -> String {
        format!("{}hosts/{}/nics/{d}/", self.prefix, self.host)
    }
    pub(crate) fn nics_of_domain(&self, d: Driver, domid: u32) -> String {
        format!("{}hosts/{}/nics/{d}/{domid:010}/", self.prefix, self.host)
    }
    pub(crate) fn device(&self, name: &IfName) -> String {
        format!("{}hosts/{}/devices/{name}", self.prefix, self.host)
    }
    pub(crate) fn mac(&self, mac: MacAddr) -> String {
        format!("{}macs/{mac}", self.prefix)
    }
    pub(crate) fn lease(&self) -> String {
        format!("{}hosts/{}/lease", self.prefix, self.host)
    }
    pub(crate) fn generation(&self) -> String {
        format!("{}generation", self.prefix)
    }
}
