//! The deserializer's view of an `<interface>`, its conversion to the model, and the
//! reader's entry points.

use std::borrow::Cow;
use std::net::IpAddr;

use serde::Deserialize;

use crate::interface::{Interface, InterfaceType, IpElem, NativeMode, Vlan, VlanTag};
use crate::mac::MacAddr;

use super::scan::{scan, Found, Mode};
use super::{Document, Located, ParsedInterface, ValueError, VlanError, XmlError};

// ---------------------------------------------------------------------------------------
// The deserializer's view, and its conversion to the model
// ---------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct RawInterface {
    #[serde(rename = "@type")]
    kind: Option<String>,
    mac: Option<RawMac>,
    source: Option<RawSource>,
    vlan: Option<RawVlan>,
    virtualport: Option<RawTyped>,
    bandwidth: Option<RawBandwidth>,
    #[serde(default)]
    ip: Vec<RawIp>,
    script: Option<RawScript>,
    backenddomain: Option<RawBackendDomain>,
    target: Option<RawTarget>,
    model: Option<RawTyped>,
    mtu: Option<RawMtu>,
}

#[derive(Deserialize)]
struct RawMac {
    #[serde(rename = "@address")]
    address: Option<String>,
}

#[derive(Deserialize)]
struct RawSource {
    #[serde(rename = "@bridge")]
    bridge: Option<String>,
    #[serde(rename = "@network")]
    network: Option<String>,
}

#[derive(Deserialize)]
struct RawVlan {
    #[serde(rename = "@trunk")]
    trunk: Option<String>,
    #[serde(default)]
    tag: Vec<RawTag>,
}

#[derive(Deserialize)]
struct RawTag {
    #[serde(rename = "@id")]
    id: Option<String>,
    #[serde(rename = "@nativeMode")]
    native_mode: Option<String>,
}

#[derive(Deserialize)]
struct RawTyped {
    #[serde(rename = "@type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct RawBandwidth {
    outbound: Option<RawOutbound>,
}

#[derive(Deserialize)]
struct RawOutbound {
    #[serde(rename = "@average")]
    average: Option<String>,
}

#[derive(Deserialize)]
struct RawIp {
    #[serde(rename = "@address")]
    address: Option<String>,
    #[serde(rename = "@family")]
    family: Option<String>,
    #[serde(rename = "@prefix")]
    prefix: Option<String>,
}

#[derive(Deserialize)]
struct RawScript {
    #[serde(rename = "@path")]
    path: Option<String>,
}

#[derive(Deserialize)]
struct RawBackendDomain {
    #[serde(rename = "@name")]
    name: Option<String>,
}

#[derive(Deserialize)]
struct RawTarget {
    #[serde(rename = "@dev")]
    dev: Option<String>,
}

#[derive(Deserialize)]
struct RawMtu {
    #[serde(rename = "@size")]
    size: Option<String>,
}

fn invalid(
    element: &'static str,
    attribute: &'static str,
    value: &str,
    source: ValueError,
) -> XmlError {
    XmlError::Invalid {
        element,
        attribute,
        value: value.to_owned(),
        source,
    }
}

/// Decimal digits only (no sign, no spaces), within `min..=max`.
fn parse_uint<T>(
    element: &'static str,
    attribute: &'static str,
    value: &str,
    min: T,
    max: T,
) -> Result<T, XmlError>
where
    T: Copy + Into<u64> + TryFrom<u64>,
{
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(element, attribute, value, ValueError::NotANumber));
    }
    let (min, max) = (min.into(), max.into());
    value
        .parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        // Between two values of `T`: a `T`.
        .and_then(|n| T::try_from(n).ok())
        .ok_or_else(|| {
            invalid(
                element,
                attribute,
                value,
                ValueError::OutOfRange { min, max },
            )
        })
}

fn owned(s: Option<String>) -> Option<Cow<'static, str>> {
    s.map(Cow::Owned)
}

impl RawInterface {
    fn convert(self) -> Result<Interface<'static>, XmlError> {
        let kind = self.kind.ok_or(XmlError::MissingAttribute {
            element: "interface",
            attribute: "type",
        })?;
        let mut iface = Interface::new(InterfaceType::from_attr(&kind));

        if let Some(value) = self.mac.and_then(|m| m.address) {
            match value.parse::<MacAddr>() {
                Ok(mac) => iface.mac = Some(mac),
                Err(source) => return Err(XmlError::InvalidMac { value, source }),
            }
        }
        if let Some(source) = self.source {
            iface.source_bridge = owned(source.bridge);
            iface.source_network = owned(source.network);
        }
        if let Some(vlan) = self.vlan {
            let trunk = match vlan.trunk.as_deref() {
                None => None,
                Some("no") => Some(false),
                Some("yes") => Some(true),
                Some(other) => {
                    return Err(invalid(
                        "vlan",
                        "trunk",
                        other,
                        ValueError::Keyword {
                            expected: "'yes' or 'no'",
                        },
                    ))
                }
            };
            let mut tags = Vec::with_capacity(vlan.tag.len());
            for tag in vlan.tag {
                let id = tag.id.ok_or(XmlError::MissingAttribute {
                    element: "vlan/tag",
                    attribute: "id",
                })?;
                let id = parse_uint("vlan/tag", "id", &id, 0u16, 4095)?;
                let native_mode = match tag.native_mode.as_deref() {
                    None => None,
                    Some("tagged") => Some(NativeMode::Tagged),
                    Some("untagged") => Some(NativeMode::Untagged),
                    Some(other) => {
                        return Err(invalid(
                            "vlan/tag",
                            "nativeMode",
                            other,
                            ValueError::Keyword {
                                expected: "'tagged' or 'untagged'",
                            },
                        ))
                    }
                };
                if native_mode.is_some() && tags.iter().any(|t: &VlanTag| t.native_mode.is_some()) {
                    return Err(XmlError::InvalidVlan {
                        source: VlanError::SeveralNative,
                    });
                }
                tags.push(VlanTag { id, native_mode });
            }
            // As libvirt: at least one tag; several tags make a trunk, and may not
            // say otherwise.
            if tags.is_empty() {
                return Err(XmlError::InvalidVlan {
                    source: VlanError::NoTag,
                });
            }
            let trunk = match trunk {
                Some(false) if tags.len() > 1 => {
                    return Err(XmlError::InvalidVlan {
                        source: VlanError::TrunkNo,
                    })
                }
                Some(t) => t || tags.len() > 1,
                None => tags.len() > 1,
            };
            iface.vlan = Some(Vlan { trunk, tags });
        }
        iface.virtualport = owned(self.virtualport.and_then(|v| v.kind));
        if let Some(avg) = self
            .bandwidth
            .and_then(|b| b.outbound)
            .and_then(|o| o.average)
        {
            iface.outbound_average = Some(parse_uint(
                "bandwidth/outbound",
                "average",
                &avg,
                0,
                u64::MAX,
            )?);
        }
        iface.ips.reserve(self.ip.len());
        for ip in self.ip {
            let value = ip.address.ok_or(XmlError::MissingAttribute {
                element: "ip",
                attribute: "address",
            })?;
            let address: IpAddr = value
                .parse()
                .map_err(|e| invalid("ip", "address", &value, ValueError::Ip(e)))?;
            let elem = IpElem {
                address,
                prefix: None,
            };
            if let Some(family) = ip.family {
                if family != "ipv4" && family != "ipv6" {
                    return Err(invalid(
                        "ip",
                        "family",
                        &family,
                        ValueError::Keyword {
                            expected: "'ipv4' or 'ipv6'",
                        },
                    ));
                }
                if family != elem.family() {
                    return Err(invalid(
                        "ip",
                        "family",
                        &family,
                        ValueError::FamilyMismatch {
                            actual: elem.family(),
                        },
                    ));
                }
            }
            let max = if address.is_ipv4() { 32 } else { 128 };
            let prefix = match ip.prefix {
                Some(p) => Some(parse_uint("ip", "prefix", &p, 0, max)?),
                None => None,
            };
            iface.ips.push(IpElem { address, prefix });
        }
        iface.script = owned(self.script.and_then(|s| s.path));
        iface.backend_domain = owned(self.backenddomain.and_then(|b| b.name));
        iface.target_dev = owned(self.target.and_then(|t| t.dev));
        iface.model = owned(self.model.and_then(|m| m.kind));
        if let Some(size) = self.mtu.and_then(|m| m.size) {
            iface.mtu = Some(parse_uint("mtu", "size", &size, 1u32, 65535)?);
        }
        Ok(iface)
    }
}

fn parse_found(xml: &str, found: Found) -> Result<ParsedInterface, XmlError> {
    let text = xml.get(found.span).ok_or(XmlError::Mismatch)?;
    let raw: RawInterface =
        quick_xml::de::from_str(text).map_err(|source| XmlError::Deserialize { source })?;
    Ok(ParsedInterface {
        iface: raw.convert()?,
        dropped: found.dropped,
    })
}

// ---------------------------------------------------------------------------------------
// Reader entry points
// ---------------------------------------------------------------------------------------

/// Reads exactly one `<interface>` element (an XML declaration, comments and whitespace
/// around it are allowed).
///
/// Values are validated (`<mac address>`, `<ip>`, `<vlan>`, `<mtu size>`, `<bandwidth>`);
/// whatever the model has no place for is listed in [`ParsedInterface::dropped`]. An
/// element the model carries once (`<mac>`, `<source>`, ...) may not be repeated.
pub fn read_interface(xml: &str) -> Result<ParsedInterface, XmlError> {
    let scan = scan(xml, Mode::Single)?;
    let found = scan.found.into_iter().next().ok_or(XmlError::NoElement {
        expected: "<interface>",
    })?;
    parse_found(xml, found)
}

/// Reads the `<interface>` elements of a document: one or several bare `<interface>`
/// elements, a `<devices>` element, or a whole `<domain>`.
///
/// In a domain only `domain/devices/interface` elements count, and `<os><type>` gives
/// [`Document::guest_type`]. A problem inside an interface is an
/// [`XmlError::Interface`] naming its index.
pub fn read_document(xml: &str) -> Result<Document, XmlError> {
    let scan = scan(xml, Mode::Document)?;
    let mut interfaces = Vec::with_capacity(scan.found.len());
    for (index, found) in scan.found.into_iter().enumerate() {
        let span = found.span.clone();
        let parsed = parse_found(xml, found).map_err(|e| XmlError::Interface {
            index,
            source: Box::new(e),
        })?;
        interfaces.push(Located { span, parsed });
    }
    Ok(Document {
        guest_type: scan.guest_type,
        interfaces,
        devices: scan.devices,
    })
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use crate::interface::{Interface, InterfaceType, IpElem, NativeMode, Vlan, VlanTag};
    use crate::interface_xml::test_util::{err, full, inner, paths, wrap, PRETTY};
    use crate::interface_xml::*;
    use crate::mac::MacError;

    #[test]
    fn reads_every_element_of_virsh_pretty_output() {
        let p = read_interface(PRETTY).unwrap();
        assert_eq!(p.iface, full());
        assert!(p.dropped.is_empty(), "{:?}", p.dropped);
    }

    #[test]
    fn reads_compact_and_other_fields() {
        let xml = "<?xml version='1.0'?><!-- c --><interface type=\"network\">\
            <source network='default' portid='0b2f3c1e-7d6a-4d5e-9b1b-2d7d0f6f1a11' bridge='virbr0'/>\
            <ip address='fe80::1' prefix='64'/><ip address='192.0.2.7' family='ipv4'/>\
            <vlan trunk='no'><tag id='0' nativeMode='tagged'/></vlan>\
            <mtu size='65535'/><bandwidth><outbound average='18446744073709551615'/></bandwidth>\
            </interface>\n";
        let p = read_interface(xml).unwrap();
        let i = &p.iface;
        assert_eq!(i.kind, InterfaceType::Network);
        assert_eq!(i.source_network.as_deref(), Some("default"));
        assert_eq!(i.source_bridge.as_deref(), Some("virbr0"));
        assert_eq!(
            i.ips,
            vec![
                IpElem {
                    address: "fe80::1".parse().unwrap(),
                    prefix: Some(64)
                },
                IpElem {
                    address: "192.0.2.7".parse().unwrap(),
                    prefix: None
                },
            ]
        );
        assert_eq!(
            i.vlan,
            Some(Vlan {
                trunk: false,
                tags: vec![VlanTag {
                    id: 0,
                    native_mode: Some(NativeMode::Tagged)
                }]
            })
        );
        assert_eq!(i.mtu, Some(65535));
        assert_eq!(i.outbound_average, Some(u64::MAX));
        assert_eq!(paths(&p.dropped), ["source/@portid"]);
    }

    #[test]
    fn other_types_and_escapes() {
        let p = read_interface(
            "<interface type='direct'><source dev='eth0' mode='vepa'/>\
             <script path='/etc/xen/a&amp;b &lt;&#x41;&gt;'/></interface>",
        )
        .unwrap();
        assert_eq!(p.iface.kind, InterfaceType::Other("direct".into()));
        assert_eq!(p.iface.script.as_deref(), Some("/etc/xen/a&b <A>"));
        assert_eq!(p.iface.source_bridge, None);
        assert_eq!(paths(&p.dropped), ["source/@dev", "source/@mode"]);
    }

    #[test]
    fn empty_carried_elements_carry_nothing() {
        let p = read_interface(
            "<interface type='bridge'><mac/><source/><model/><bandwidth/></interface>",
        )
        .unwrap();
        let want = Interface::new(InterfaceType::Bridge);
        assert_eq!(p.iface, want);
        assert!(p.dropped.is_empty());
    }

    #[test]
    fn invalid_mac() {
        let e = err(&wrap("<mac address='zz'/>"));
        assert_eq!(e.to_string(), "Invalid <mac address='zz'>");
        assert_eq!(
            e.source().unwrap().downcast_ref::<MacError>(),
            Some(&MacError::Syntax)
        );
        let e = err(&wrap("<mac address='01:00:00:00:00:01'/>"));
        assert!(matches!(
            e,
            XmlError::InvalidMac {
                source: MacError::Multicast,
                ..
            }
        ));
    }

    #[test]
    fn invalid_values() {
        let cases: &[(&str, &str)] = &[
            ("<ip address='10.0.0.300'/>", "Invalid <ip address='10.0.0.300'>"),
            ("<ip address='10.0.0.1' family='ipv6'/>", "Invalid <ip family='ipv6'>: The address is ipv4"),
            ("<ip address='::1' family='ipv4'/>", "Invalid <ip family='ipv4'>: The address is ipv6"),
            ("<ip address='::1' family='inet'/>", "Invalid <ip family='inet'>: Expected 'ipv4' or 'ipv6'"),
            ("<ip address='10.0.0.1' prefix='33'/>", "Invalid <ip prefix='33'>: Out of range (expected 0 to 32)"),
            ("<ip address='::1' prefix='129'/>", "Invalid <ip prefix='129'>: Out of range (expected 0 to 128)"),
            ("<ip address='::1' prefix='+1'/>", "Invalid <ip prefix='+1'>: Expected a whole number"),
            ("<ip prefix='1'/>", "Missing address attribute of <ip>"),
            ("<vlan trunk='true'><tag id='1'/></vlan>", "Invalid <vlan trunk='true'>: Expected 'yes' or 'no'"),
            ("<vlan><tag id='4096'/></vlan>", "Invalid <vlan><tag id='4096'>: Out of range (expected 0 to 4095)"),
            ("<vlan><tag id='x'/></vlan>", "Invalid <vlan><tag id='x'>: Expected a whole number"),
            ("<vlan><tag id='1' nativeMode='native'/></vlan>", "Invalid <vlan><tag nativeMode='native'>: Expected 'tagged' or 'untagged'"),
            ("<vlan><tag/></vlan>", "Missing id attribute of <vlan><tag>"),
            ("<mtu size='0'/>", "Invalid <mtu size='0'>: Out of range (expected 1 to 65535)"),
            ("<mtu size='65536'/>", "Invalid <mtu size='65536'>: Out of range (expected 1 to 65535)"),
            ("<mtu size=''/>", "Invalid <mtu size=''>: Expected a whole number"),
            ("<bandwidth><outbound average='1.5'/></bandwidth>", "Invalid <bandwidth><outbound average='1.5'>: Expected a whole number"),
            ("<bandwidth><outbound average='18446744073709551616'/></bandwidth>", "Invalid <bandwidth><outbound average='18446744073709551616'>: Out of range (expected 0 to 18446744073709551615)"),
        ];
        for (children, want) in cases {
            let e = err(&wrap(children));
            let mut msg = e.to_string();
            if let Some(s) = e.source() {
                if !matches!(
                    e.source().unwrap().downcast_ref::<ValueError>(),
                    Some(ValueError::Ip(_))
                ) {
                    msg = format!("{msg}: {s}");
                }
            }
            assert_eq!(&msg, want, "{children}");
        }
        assert!(matches!(
            err(&wrap("<ip address='x'/>")),
            XmlError::Invalid {
                element: "ip",
                attribute: "address",
                source: ValueError::Ip(_),
                ..
            }
        ));
        assert_eq!(
            err("<interface/>").to_string(),
            "Missing type attribute of <interface>"
        );
    }

    #[test]
    fn vlan_follows_libvirts_rules() {
        let vlan = |x: &str| read_interface(&wrap(x)).map(|p| p.iface.vlan.unwrap());
        assert_eq!(
            vlan("<vlan><tag id='5'/><tag id='6'/></vlan>").unwrap(),
            Vlan {
                trunk: true,
                tags: vec![
                    VlanTag {
                        id: 5,
                        native_mode: None
                    },
                    VlanTag {
                        id: 6,
                        native_mode: None
                    }
                ]
            }
        );
        assert!(
            vlan("<vlan trunk='yes'><tag id='5'/></vlan>")
                .unwrap()
                .trunk
        );
        assert!(!vlan("<vlan trunk='no'><tag id='5'/></vlan>").unwrap().trunk);
        for (x, want) in [
            ("<vlan/>", VlanError::NoTag),
            ("<vlan trunk='yes'></vlan>", VlanError::NoTag),
            (
                "<vlan trunk='no'><tag id='5'/><tag id='6'/></vlan>",
                VlanError::TrunkNo,
            ),
            (
                "<vlan><tag id='5' nativeMode='untagged'/><tag id='6' nativeMode='tagged'/></vlan>",
                VlanError::SeveralNative,
            ),
        ] {
            let e = vlan(x).unwrap_err();
            assert!(
                matches!(e, XmlError::InvalidVlan { source } if source == want),
                "{x}: {e:?}"
            );
        }
        assert_eq!(err(&wrap("<vlan/>")).to_string(), "Invalid <vlan>");
    }

    #[test]
    fn errors_inside_a_document_name_the_interface() {
        let xml = "<devices>\n<interface type='bridge'/>\n<interface type='bridge'><mtu size='0'/></interface>\n</devices>";
        let e = read_document(xml).unwrap_err();
        assert!(matches!(e, XmlError::Interface { index: 1, .. }), "{e:?}");
        assert_eq!(e.to_string(), "In interface[1]");
        assert!(matches!(
            inner(&e),
            XmlError::Invalid { element: "mtu", .. }
        ));
        // Found by the event walk (repeated, malformed, unclosed) too.
        let e = read_document("<interface type='a'/><interface type='a'><mac/><mac/></interface>")
            .unwrap_err();
        assert!(matches!(e, XmlError::Interface { index: 1, .. }), "{e:?}");
        assert!(matches!(inner(&e), XmlError::Repeated { .. }));
        let e = read_document("<interface type='a'><mac></interface>").unwrap_err();
        assert!(matches!(e, XmlError::Interface { index: 0, .. }), "{e:?}");
        assert!(matches!(inner(&e), XmlError::Syntax { .. }));
        let e = read_document("<domain><devices><interface type='a'><mac>").unwrap_err();
        assert!(
            matches!(inner(&e), XmlError::Unclosed { ref element, .. } if element == "mac"),
            "{e:?}"
        );
    }
}
