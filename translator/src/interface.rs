//! The typed model of libvirt's `<interface>` element, as far as vifkit carries it.
//!
//! Reading and writing XML live in [`crate::interface_xml`]; this module is only the
//! data. Everything an element holds that this model has no field for is reported by the
//! reader as [`Dropped`], so nothing is lost silently.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::mac::MacAddr;

/// libvirt's interface types vifkit distinguishes; every other one is kept by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterfaceType<'a> {
    /// `type='bridge'`: a port on a host bridge.
    Bridge,
    /// `type='ethernet'`: a plain backend device, wired by a script.
    Ethernet,
    /// `type='network'`: a libvirt virtual network.
    Network,
    /// Any other type (`direct`, `hostdev`, `user`, `vhostuser`, ...).
    Other(Cow<'a, str>),
}

impl InterfaceType<'_> {
    /// The `type` attribute's value.
    pub fn as_str(&self) -> &str {
        match self {
            InterfaceType::Bridge => "bridge",
            InterfaceType::Ethernet => "ethernet",
            InterfaceType::Network => "network",
            InterfaceType::Other(s) => s,
        }
    }

    /// The type for an attribute value.
    pub fn from_attr(s: &str) -> InterfaceType<'static> {
        match s {
            "bridge" => InterfaceType::Bridge,
            "ethernet" => InterfaceType::Ethernet,
            "network" => InterfaceType::Network,
            other => InterfaceType::Other(Cow::Owned(other.to_owned())),
        }
    }
}

/// `nativeMode` of a `<vlan><tag>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NativeMode {
    /// `nativeMode='tagged'`.
    Tagged,
    /// `nativeMode='untagged'`.
    Untagged,
}

impl NativeMode {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            NativeMode::Tagged => "tagged",
            NativeMode::Untagged => "untagged",
        }
    }
}

/// One `<tag id [nativeMode]/>` of a `<vlan>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VlanTag {
    /// The VLAN id, 0 to 4095 as libvirt allows.
    pub id: u16,
    /// `nativeMode`, when given.
    pub native_mode: Option<NativeMode>,
}

/// `<vlan [trunk='yes']>` with its tags, in document order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Vlan {
    /// `trunk='yes'`.
    pub trunk: bool,
    /// The tags.
    pub tags: Vec<VlanTag>,
}

/// One `<ip address family [prefix]/>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpElem {
    /// The address; `family` follows from it.
    pub address: IpAddr,
    /// The prefix length, when given.
    pub prefix: Option<u8>,
}

impl IpElem {
    /// `ipv4` or `ipv6`.
    pub fn family(&self) -> &'static str {
        if self.address.is_ipv4() {
            "ipv4"
        } else {
            "ipv6"
        }
    }
}

/// The `<interface>` element, with the children vifkit translates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface<'a> {
    /// The `type` attribute.
    pub kind: InterfaceType<'a>,
    /// `<mac address>`.
    pub mac: Option<MacAddr>,
    /// `<source bridge>`.
    pub source_bridge: Option<Cow<'a, str>>,
    /// `<source network>`.
    pub source_network: Option<Cow<'a, str>>,
    /// `<vlan>`.
    pub vlan: Option<Vlan>,
    /// `<virtualport type>` (parameters are not carried).
    pub virtualport: Option<Cow<'a, str>>,
    /// `<bandwidth><outbound average>`, KiB/s.
    pub outbound_average: Option<u64>,
    /// `<ip>` elements, in order.
    pub ips: Vec<IpElem>,
    /// `<script path>`.
    pub script: Option<Cow<'a, str>>,
    /// `<backenddomain name>`.
    pub backend_domain: Option<Cow<'a, str>>,
    /// `<target dev>`.
    pub target_dev: Option<Cow<'a, str>>,
    /// `<model type>`.
    pub model: Option<Cow<'a, str>>,
    /// `<mtu size>`.
    pub mtu: Option<u32>,
}

impl<'a> Interface<'a> {
    /// An interface of the given type with no children.
    pub fn new(kind: InterfaceType<'a>) -> Interface<'a> {
        Interface {
            kind,
            mac: None,
            source_bridge: None,
            source_network: None,
            vlan: None,
            virtualport: None,
            outbound_average: None,
            ips: Vec::new(),
            script: None,
            backend_domain: None,
            target_dev: None,
            model: None,
            mtu: None,
        }
    }

    /// Whether the virtualport is Open vSwitch.
    pub fn is_openvswitch(&self) -> bool {
        self.virtualport.as_deref() == Some("openvswitch")
    }

    /// Detaches the element from the text it borrows from.
    pub fn into_owned(self) -> Interface<'static> {
        fn own(c: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
            c.map(|c| Cow::Owned(c.into_owned()))
        }
        Interface {
            kind: match self.kind {
                InterfaceType::Bridge => InterfaceType::Bridge,
                InterfaceType::Ethernet => InterfaceType::Ethernet,
                InterfaceType::Network => InterfaceType::Network,
                InterfaceType::Other(s) => InterfaceType::Other(Cow::Owned(s.into_owned())),
            },
            mac: self.mac,
            source_bridge: own(self.source_bridge),
            source_network: own(self.source_network),
            vlan: self.vlan,
            virtualport: own(self.virtualport),
            outbound_average: self.outbound_average,
            ips: self.ips,
            script: own(self.script),
            backend_domain: own(self.backend_domain),
            target_dev: own(self.target_dev),
            model: own(self.model),
            mtu: self.mtu,
        }
    }
}

/// Something an `<interface>` held that the model has no place for: an element or an
/// attribute, named by its path inside the interface (`link`, `bandwidth/inbound`,
/// `ip/@peer`, `virtualport/parameters`, `@trustGuestRxFilters`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// The path, as above.
    pub path: String,
}

impl Dropped {
    /// The element or attribute as a reader would name it in a warning: `<link>`,
    /// `<bandwidth><inbound>`, `peer attribute of <ip>`.
    pub fn describe(&self) -> String {
        let (elems, attr) = match self.path.rsplit_once("@") {
            Some((e, a)) => (e.trim_end_matches('/'), Some(a)),
            None => (self.path.as_str(), None),
        };
        let elem = if elems.is_empty() {
            "<interface>".to_owned()
        } else {
            elems
                .split('/')
                .map(|e| format!("<{e}>"))
                .collect::<String>()
        };
        match attr {
            Some(a) => format!("{a} attribute of {elem}"),
            None => elem,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_paths_read_well() {
        let d = |p: &str| Dropped { path: p.to_owned() }.describe();
        assert_eq!(d("link"), "<link>");
        assert_eq!(d("bandwidth/inbound"), "<bandwidth><inbound>");
        assert_eq!(d("ip/@peer"), "peer attribute of <ip>");
        assert_eq!(
            d("@trustGuestRxFilters"),
            "trustGuestRxFilters attribute of <interface>"
        );
    }

    #[test]
    fn into_owned_keeps_everything() {
        let mut i = Interface::new(InterfaceType::Other(Cow::Borrowed("direct")));
        i.script = Some(Cow::Borrowed("vif-route"));
        let o = i.clone().into_owned();
        assert_eq!(o, i);
    }
}
