//! The registry's records: bridges, and NIC attachments (a guest's PV backend vif, its
//! emulated twin, its MAC and bridge), with Xen's device naming and the checks that
//! keep a record consistent.
//!
//! The fields are public so callers build and read records directly; every field is a
//! validated type, and the rules that span fields (a VLAN needs an uplink; a backend
//! named `vifD.N` must belong to domain D device N) are checked by `validate`, which
//! every registry runs before it writes.

use std::fmt;

use translator::vlan::VlanSpec;
use translator::{IfName, MacAddr};

use crate::error::ModelError;
use crate::fields::{
    AttachmentState, BootId, BridgeKind, DomainName, DomainUuid, Driver, GuestName, Mtu,
    NicModelName, VlanId,
};

/// Xen's first reserved domain id (`DOMID_FIRST_RESERVED`): real domains are below it.
pub const DOMID_FIRST_RESERVED: u32 = 0x7ff0;

/// The suffix libxl gives an emulated NIC's tap device (`TAP_DEVICE_SUFFIX`).
pub const EMULATED_SUFFIX: &str = "-emu";

/// Parses an interface name for `field`, naming the field in the error.
pub fn parse_if_name(field: &'static str, value: &str) -> Result<IfName, ModelError> {
    IfName::new(value).map_err(|source| ModelError::IfName {
        field,
        value: value.to_owned(),
        source,
    })
}

/// Parses a MAC address for `field`, naming the field in the error.
pub fn parse_mac(field: &'static str, value: &str) -> Result<MacAddr, ModelError> {
    value.parse().map_err(|source| ModelError::Mac {
        field,
        value: value.to_owned(),
        source,
    })
}

/// Parses a `vlan=` set for `field`, naming the field in the error.
pub fn parse_vlan_spec(field: &'static str, value: &str) -> Result<VlanSpec, ModelError> {
    value.parse().map_err(|source| ModelError::Vlan {
        field,
        value: value.to_owned(),
        source,
    })
}

/// Xen's (Linux) PV backend name for a domain's NIC: `vif{domid}.{devid}`.
pub fn backend_name(domid: u32, devid: u32) -> Result<IfName, ModelError> {
    xen_name(format!("vif{domid}.{devid}"))
}

/// The emulated twin's name for a backend: `{backend}-emu`, as libxl names the tap of an
/// `ioemu` NIC (also for a custom `vifname=`).
pub fn emulated_name(backend: &IfName) -> Result<IfName, ModelError> {
    xen_name(format!("{backend}{EMULATED_SUFFIX}"))
}

fn xen_name(name: String) -> Result<IfName, ModelError> {
    IfName::new(name.clone()).map_err(|source| ModelError::XenName { name, source })
}

/// Reads Xen's default backend name `vif{domid}.{devid}` back into `(domid, devid)`.
/// Anything else (a custom `vifname=`, leading zeros, an emulated twin) is `None`.
pub fn parse_backend_name(name: &str) -> Option<(u32, u32)> {
    let rest = name.strip_prefix("vif")?;
    let (d, n) = rest.split_once('.')?;
    Some((canonical_u32(d)?, canonical_u32(n)?))
}

/// Decimal digits as `%u` prints them: no sign, no leading zero (but `0` itself).
fn canonical_u32(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// A bridge vifkit knows about. As JSON (a document store's form), each field is its
/// text and `null` when absent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Bridge {
    /// The bridge device's name (the registry's key).
    #[serde(with = "crate::json::text")]
    pub name: IfName,
    /// Linux bridge or Open vSwitch.
    #[serde(with = "crate::json::text")]
    pub kind: BridgeKind,
    /// The device that connects the bridge to the outside (a NIC or bond), if any.
    #[serde(with = "crate::json::opt_text", default)]
    pub uplink: Option<IfName>,
    /// A VLAN on the uplink: vifkit builds `UPLINK.VLAN` and enslaves that instead of
    /// the uplink (`bond0` with VLAN 900 gives `bond0.900` in `br900`). Needs `uplink`.
    #[serde(with = "crate::json::opt_text", default)]
    pub vlan: Option<VlanId>,
    /// The bridge's MTU, if vifkit sets it.
    #[serde(with = "crate::json::opt_text", default)]
    pub mtu: Option<Mtu>,
    /// Spanning tree protocol on (default off).
    pub stp: bool,
    /// Whether vifkit may create the bridge when it is missing (default no).
    pub creatable: bool,
}

impl Bridge {
    /// A bridge with no uplink, no MTU, STP off, which vifkit may not create.
    pub fn new(name: IfName, kind: BridgeKind) -> Bridge {
        Bridge {
            name,
            kind,
            uplink: None,
            vlan: None,
            mtu: None,
            stp: false,
            creatable: false,
        }
    }

    /// The device enslaved to the bridge: the uplink itself, or `UPLINK.VLAN` when a VLAN
    /// is set.
    pub fn uplink_device(&self) -> Result<Option<IfName>, ModelError> {
        match (&self.uplink, self.vlan) {
            (None, None) => Ok(None),
            (None, Some(vlan)) => Err(ModelError::VlanWithoutUplink {
                bridge: self.name.clone(),
                vlan: vlan.get(),
            }),
            (Some(uplink), None) => Ok(Some(uplink.clone())),
            (Some(uplink), Some(vlan)) => {
                let device = format!("{uplink}.{vlan}");
                IfName::new(device.clone())
                    .map(Some)
                    .map_err(|source| ModelError::UplinkVlanName {
                        bridge: self.name.clone(),
                        device,
                        source,
                    })
            }
        }
    }

    /// Checks the rules that span fields: a VLAN needs an uplink, `UPLINK.VLAN` must be
    /// a valid name, and the bridge cannot be its own uplink.
    pub fn validate(&self) -> Result<(), ModelError> {
        let device = self.uplink_device()?;
        if self.uplink.as_ref() == Some(&self.name) || device.as_ref() == Some(&self.name) {
            return Err(ModelError::UplinkIsBridge {
                bridge: self.name.clone(),
            });
        }
        Ok(())
    }
}

/// Whose a MAC or device name is: the attachment that holds it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Owner {
    /// Whose domain it is.
    #[serde(with = "crate::json::text")]
    pub driver: Driver,
    /// The domain's name.
    #[serde(with = "crate::json::text")]
    pub domain_name: DomainName,
    /// The domain id.
    pub domid: u32,
    /// The device id.
    pub devid: u32,
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} domain {:?} (id {}) device {}",
            self.driver.label(),
            self.domain_name.as_str(),
            self.domid,
            self.devid
        )
    }
}

/// How to pick a domain's attachments.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DomainKey {
    /// By domain id.
    Id(u32),
    /// By domain name.
    Name(DomainName),
    /// By UUID.
    Uuid(DomainUuid),
}

impl fmt::Display for DomainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DomainKey::Id(id) => write!(f, "domain id {id}"),
            DomainKey::Name(name) => write!(f, "domain {:?}", name.as_str()),
            DomainKey::Uuid(uuid) => write!(f, "domain UUID {uuid}"),
        }
    }
}

/// One guest NIC: its PV backend in dom0 (or a QEMU guest's tap), the emulated twin of
/// a Xen `ioemu` NIC, its MAC, bridge and VLANs. The registry's key is
/// `(driver, domid, devid)`. As JSON, as [`Bridge`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Attachment {
    /// Whose domain it is: Xen's or QEMU's.
    #[serde(with = "crate::json::text")]
    pub driver: Driver,
    /// The guest's name.
    #[serde(with = "crate::json::text")]
    pub domain_name: DomainName,
    /// The guest's UUID, when known.
    #[serde(with = "crate::json::opt_text", default)]
    pub domain_uuid: Option<DomainUuid>,
    /// The domain id (Xen's, or libvirt's for a QEMU guest).
    pub domid: u32,
    /// The NIC's device id (its index in `vif = [...]` unless `devid=` says otherwise;
    /// for libvirt guests its index among the `<interface>` elements).
    pub devid: u32,
    /// The PV backend device: `vif{domid}.{devid}`, or the `vifname=` given; a QEMU
    /// guest's tap (`vnetN`).
    #[serde(with = "crate::json::text")]
    pub backend: IfName,
    /// The emulated twin of a Xen `ioemu` NIC: `{backend}-emu`. Never for QEMU.
    #[serde(with = "crate::json::opt_text", default)]
    pub emulated: Option<IfName>,
    /// The NIC's MAC, unique across the registry.
    #[serde(with = "crate::json::text")]
    pub mac: MacAddr,
    /// The bridge the NIC is plugged into (a bridge in the registry).
    #[serde(with = "crate::json::text")]
    pub bridge: IfName,
    /// The VLANs on the bridge port (`vlan=`), if any.
    #[serde(with = "crate::json::opt_text", default)]
    pub vlan: Option<VlanSpec>,
    /// The NIC's name inside the guest (`ethN`), when known.
    #[serde(with = "crate::json::opt_text", default)]
    pub guest_name: Option<GuestName>,
    /// The NIC's model (`e1000`, `rtl8139`, `virtio`, ...) as the domain's
    /// configuration names it, when known.
    #[serde(with = "crate::json::opt_text", default)]
    pub model: Option<NicModelName>,
    /// Where the attachment is in its life.
    #[serde(with = "crate::json::text")]
    pub state: AttachmentState,
    /// The boot it was written in ([`BootId::current`] when it was made); `None` when
    /// not known (written before vifkit recorded boots).
    #[serde(with = "crate::json::opt_text", default)]
    pub boot_id: Option<BootId>,
}

impl Attachment {
    /// An attachment with Xen's default names: backend `vif{domid}.{devid}`, and an
    /// emulated twin `vif{domid}.{devid}-emu` when `emulated` (an HVM guest's `ioemu`
    /// NIC). No UUID, VLANs, guest name or model; state [`AttachmentState::Prepared`]; this
    /// boot's id.
    pub fn xen(
        domain_name: DomainName,
        domid: u32,
        devid: u32,
        mac: MacAddr,
        bridge: IfName,
        emulated: bool,
    ) -> Result<Attachment, ModelError> {
        if domid >= DOMID_FIRST_RESERVED {
            return Err(ModelError::DomId(domid));
        }
        let backend = backend_name(domid, devid)?;
        let emulated = match emulated {
            true => Some(emulated_name(&backend)?),
            false => None,
        };
        Ok(Attachment {
            driver: Driver::Xen,
            domain_name,
            domain_uuid: None,
            domid,
            devid,
            backend,
            emulated,
            mac,
            bridge,
            vlan: None,
            guest_name: None,
            model: None,
            state: AttachmentState::Prepared,
            boot_id: BootId::current(),
        })
    }

    /// A QEMU guest's NIC on its tap device. No UUID, VLANs, guest name or model; state
    /// [`AttachmentState::Prepared`]; this boot's id.
    pub fn qemu(
        domain_name: DomainName,
        domid: u32,
        devid: u32,
        mac: MacAddr,
        bridge: IfName,
        tap: IfName,
    ) -> Attachment {
        Attachment {
            driver: Driver::Qemu,
            domain_name,
            domain_uuid: None,
            domid,
            devid,
            backend: tap,
            emulated: None,
            mac,
            bridge,
            vlan: None,
            guest_name: None,
            model: None,
            state: AttachmentState::Prepared,
            boot_id: BootId::current(),
        }
    }

    /// Who holds this attachment's MAC and device names.
    pub fn owner(&self) -> Owner {
        Owner {
            driver: self.driver,
            domain_name: self.domain_name.clone(),
            domid: self.domid,
            devid: self.devid,
        }
    }

    /// The dom0 devices of this NIC: the backend, then the emulated twin if any.
    pub fn devices(&self) -> impl Iterator<Item = &IfName> {
        std::iter::once(&self.backend).chain(self.emulated.as_ref())
    }

    /// Checks the rules that span fields. For Xen: the domain id is a real one, a
    /// backend named `vifD.N` is this NIC's, and the emulated twin is `{backend}-emu`.
    /// For QEMU: no emulated twin (its domain ids and tap names are libvirt's).
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.driver == Driver::Qemu {
            return match &self.emulated {
                Some(emulated) => Err(ModelError::QemuTwin {
                    domid: self.domid,
                    devid: self.devid,
                    emulated: emulated.clone(),
                }),
                None => Ok(()),
            };
        }
        if self.domid >= DOMID_FIRST_RESERVED {
            return Err(ModelError::DomId(self.domid));
        }
        if let Some((named_domid, named_devid)) = parse_backend_name(&self.backend) {
            if (named_domid, named_devid) != (self.domid, self.devid) {
                return Err(ModelError::BackendOfOther {
                    domid: self.domid,
                    devid: self.devid,
                    backend: self.backend.clone(),
                    named_domid,
                    named_devid,
                });
            }
        }
        if let Some(emulated) = &self.emulated {
            let expected = format!("{}{EMULATED_SUFFIX}", self.backend);
            if emulated.as_str() != expected {
                return Err(ModelError::EmulatedName {
                    domid: self.domid,
                    devid: self.devid,
                    emulated: emulated.clone(),
                    expected,
                });
            }
        }
        Ok(())
    }
}

/// Checks a set of NICs that is to replace a domain's ([`Registry::replace_domain`]),
/// before any store is asked (every backend): every attachment valid, of `driver`'s
/// domain `domid`, device ids distinct. Returns it sorted by device id.
///
/// [`Registry::replace_domain`]: crate::Registry::replace_domain
pub fn check_replacement(
    driver: Driver,
    domid: u32,
    attachments: &[Attachment],
) -> Result<Vec<&Attachment>, crate::RegistryError> {
    let mut new: Vec<&Attachment> = attachments.iter().collect();
    new.sort_by_key(|a| a.devid);
    for (i, a) in new.iter().enumerate() {
        if a.driver != driver || a.domid != domid {
            return Err(crate::RegistryError::WrongDomain {
                driver,
                domid,
                owner: a.owner(),
            });
        }
        if i > 0 && new[i - 1].devid == a.devid {
            return Err(crate::RegistryError::DuplicateDevice {
                driver,
                domid,
                devid: a.devid,
            });
        }
        a.validate()?;
    }
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;
    use translator::ifname::IfNameError;
    use translator::mac::MacError;
    use translator::vlan::VlanError;

    fn name(s: &str) -> IfName {
        IfName::new(s).unwrap()
    }

    fn mac(s: &str) -> MacAddr {
        s.parse().unwrap()
    }

    fn web() -> DomainName {
        DomainName::new("web").unwrap()
    }

    #[test]
    fn xen_names() {
        assert_eq!(backend_name(5, 2).unwrap().as_str(), "vif5.2");
        assert_eq!(
            emulated_name(&backend_name(5, 2).unwrap())
                .unwrap()
                .as_str(),
            "vif5.2-emu"
        );
        // The longest domain id leaves room for a two-digit devid's emulated twin.
        assert_eq!(
            emulated_name(&backend_name(32751, 99).unwrap())
                .unwrap()
                .as_str(),
            "vif32751.99-emu"
        );
        let e = emulated_name(&backend_name(32751, 100).unwrap()).unwrap_err();
        assert_eq!(
            e,
            ModelError::XenName {
                name: "vif32751.100-emu".into(),
                source: IfNameError::TooLong(16),
            }
        );
        assert_eq!(
            e.to_string(),
            "Xen's device name \"vif32751.100-emu\" is not a valid interface name"
        );
        assert_eq!(
            e.source().unwrap().to_string(),
            "Longer than 15 bytes (16 bytes)"
        );
        assert!(backend_name(4_000_000_000, 4_000_000_000).is_err());
    }

    #[test]
    fn backend_names_parse_back() {
        assert_eq!(parse_backend_name("vif5.2"), Some((5, 2)));
        assert_eq!(parse_backend_name("vif0.0"), Some((0, 0)));
        assert_eq!(parse_backend_name("vif32751.99"), Some((32751, 99)));
        for custom in [
            "vif5.2-emu",
            "vif05.2",
            "vif5.02",
            "vif5",
            "vif.2",
            "vif5.",
            "vifx.2",
            "web0",
            "vif+5.2",
            "vif99999999999.1",
        ] {
            assert_eq!(parse_backend_name(custom), None, "{custom}");
        }
    }

    #[test]
    fn field_parsers_name_the_field() {
        let e = parse_if_name("uplink", "a b").unwrap_err();
        assert_eq!(e.to_string(), "Invalid uplink \"a b\"");
        assert_eq!(
            e.source().unwrap().to_string(),
            "Contains ' ', which interface names may not"
        );
        let e = parse_mac("MAC", "01:00:5e:00:00:01").unwrap_err();
        assert_eq!(
            e,
            ModelError::Mac {
                field: "MAC",
                value: "01:00:5e:00:00:01".into(),
                source: MacError::Multicast
            }
        );
        let e = parse_vlan_spec("VLAN set", "10/20").unwrap_err();
        assert_eq!(e.to_string(), "Invalid VLAN set \"10/20\"");
        assert_eq!(
            e.source().unwrap().to_string(),
            VlanError::PvidRequired.to_string()
        );
        assert_eq!(parse_vlan_spec("v", "10p/20").unwrap().pvid(), 10);
        assert_eq!(
            parse_mac("m", "00:16:3E:00:00:01").unwrap().to_string(),
            "00:16:3e:00:00:01"
        );
    }

    #[test]
    fn bridge_defaults_and_uplink_device() {
        let mut b = Bridge::new(name("br900"), BridgeKind::Linux);
        assert!(!b.stp && !b.creatable && b.uplink.is_none() && b.mtu.is_none());
        assert_eq!(b.uplink_device().unwrap(), None);
        b.validate().unwrap();
        b.uplink = Some(name("bond0"));
        assert_eq!(b.uplink_device().unwrap(), Some(name("bond0")));
        b.vlan = Some(VlanId::new(900).unwrap());
        assert_eq!(b.uplink_device().unwrap(), Some(name("bond0.900")));
        b.validate().unwrap();
    }

    #[test]
    fn bridge_errors() {
        let mut b = Bridge::new(name("br900"), BridgeKind::Linux);
        b.vlan = Some(VlanId::new(900).unwrap());
        let e = b.validate().unwrap_err();
        assert_eq!(
            e.to_string(),
            "Bridge br900 has VLAN 900 but no uplink to carry it"
        );

        b.uplink = Some(name("enp129s0f1np1"));
        let e = b.validate().unwrap_err();
        assert_eq!(
            e,
            ModelError::UplinkVlanName {
                bridge: name("br900"),
                device: "enp129s0f1np1.900".into(),
                source: IfNameError::TooLong(17),
            }
        );
        assert_eq!(
            e.to_string(),
            "Bridge br900: its uplink VLAN device \"enp129s0f1np1.900\" is not a valid \
             interface name"
        );

        b.uplink = Some(name("br900"));
        b.vlan = None;
        assert_eq!(
            b.validate().unwrap_err(),
            ModelError::UplinkIsBridge {
                bridge: name("br900")
            }
        );
        let mut b = Bridge::new(name("eth0.5"), BridgeKind::Ovs);
        b.uplink = Some(name("eth0"));
        b.vlan = Some(VlanId::new(5).unwrap());
        assert_eq!(
            b.validate().unwrap_err().to_string(),
            "Bridge eth0.5 cannot be its own uplink device"
        );
    }

    #[test]
    fn xen_attachment() {
        let a = Attachment::xen(web(), 5, 2, mac("00:16:3e:00:00:01"), name("br0"), true).unwrap();
        assert_eq!(a.backend.as_str(), "vif5.2");
        assert_eq!(a.emulated.as_ref().unwrap().as_str(), "vif5.2-emu");
        assert_eq!(a.state, AttachmentState::Prepared);
        assert_eq!(
            a.devices().map(|d| d.as_str()).collect::<Vec<_>>(),
            ["vif5.2", "vif5.2-emu"]
        );
        a.validate().unwrap();
        assert_eq!(a.owner().to_string(), "Xen domain \"web\" (id 5) device 2");
        let pv =
            Attachment::xen(web(), 5, 3, mac("00:16:3e:00:00:02"), name("br0"), false).unwrap();
        assert_eq!(pv.devices().count(), 1);
        assert_eq!(
            Attachment::xen(
                web(),
                0x7ff0,
                0,
                mac("00:16:3e:00:00:02"),
                name("br0"),
                false
            )
            .unwrap_err(),
            ModelError::DomId(0x7ff0)
        );
        assert!(matches!(
            Attachment::xen(
                web(),
                32751,
                100,
                mac("00:16:3e:00:00:02"),
                name("br0"),
                true
            ),
            Err(ModelError::XenName { .. })
        ));
    }

    #[test]
    fn attachment_errors() {
        let good =
            Attachment::xen(web(), 5, 2, mac("00:16:3e:00:00:01"), name("br0"), true).unwrap();

        let mut a = good.clone();
        a.domid = 40000;
        assert_eq!(
            a.validate().unwrap_err().to_string(),
            "Domain id 40000 is in Xen's reserved range (32752 and above)"
        );

        let mut a = good.clone();
        a.backend = name("vif7.0");
        a.emulated = Some(name("vif7.0-emu"));
        assert_eq!(
            a.validate().unwrap_err().to_string(),
            "Domain 5 device 2: backend vif7.0 is Xen's name for domain 7 device 0"
        );

        let mut a = good.clone();
        a.emulated = Some(name("tap5.2"));
        assert_eq!(
            a.validate().unwrap_err(),
            ModelError::EmulatedName {
                domid: 5,
                devid: 2,
                emulated: name("tap5.2"),
                expected: "vif5.2-emu".into(),
            }
        );

        // A custom vifname= backend, and its twin.
        let mut a = good.clone();
        a.backend = name("web-eth2");
        a.emulated = Some(name("web-eth2-emu"));
        a.validate().unwrap();
        a.emulated = Some(name("vif5.2-emu"));
        assert_eq!(
            a.validate().unwrap_err().to_string(),
            "Domain 5 device 2: emulated twin vif5.2-emu should be \"web-eth2-emu\""
        );
    }

    #[test]
    fn qemu_attachments_have_no_twin_and_libvirts_ids() {
        let mut q = Attachment::qemu(
            web(),
            40000,
            0,
            mac("52:54:00:00:00:01"),
            name("br0"),
            name("vif6.0"),
        );
        // Beyond Xen's domain ids, and a tap named like another Xen domain's vif: QEMU's
        // own business.
        q.validate().unwrap();
        assert_eq!(q.driver, Driver::Qemu);
        assert_eq!(
            q.owner().to_string(),
            "QEMU domain \"web\" (id 40000) device 0"
        );
        q.emulated = Some(name("vif6.0-emu"));
        assert_eq!(
            q.validate().unwrap_err().to_string(),
            "QEMU domain 40000 device 0: an emulated twin (vif6.0-emu) is Xen's only"
        );
    }

    #[test]
    fn domain_keys_display() {
        assert_eq!(DomainKey::Id(5).to_string(), "domain id 5");
        assert_eq!(DomainKey::Name(web()).to_string(), "domain \"web\"");
        let uuid: DomainUuid = "4dea22b31d52d8f32516782e98ab3fa0".parse().unwrap();
        assert_eq!(
            DomainKey::Uuid(uuid).to_string(),
            "domain UUID 4dea22b3-1d52-d8f3-2516-782e98ab3fa0"
        );
    }

    proptest::proptest! {
        #[test]
        fn xen_names_read_back(domid in 0u32..DOMID_FIRST_RESERVED, devid in 0u32..1_000_000) {
            match backend_name(domid, devid) {
                Ok(backend) => {
                    proptest::prop_assert_eq!(parse_backend_name(&backend), Some((domid, devid)));
                    let a = Attachment::xen(web(), domid, devid, mac("02:00:00:00:00:01"), name("br0"), false);
                    proptest::prop_assert!(a.is_ok());
                }
                Err(e) => proptest::prop_assert!(
                    format!("vif{domid}.{devid}").len() > 15,
                    "{}", e
                ),
            }
        }

        #[test]
        fn backend_name_parser_never_panics(s in "\\PC{0,20}|vif[0-9]{0,12}\\.[0-9]{0,12}") {
            if let Some((d, n)) = parse_backend_name(&s) {
                proptest::prop_assert_eq!(format!("vif{d}.{n}"), s);
            }
        }
    }
}
