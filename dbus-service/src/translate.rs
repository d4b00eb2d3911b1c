//! `org.vifkit.Translator1`: one xl vif spec to a libvirt `<interface>` and back, with
//! the translator's warnings. Translation runs on a blocking thread, never on the
//! executor.

use std::sync::Arc;

use zbus::interface;
use zbus::message::Header;

use super::admission::Ticket;
use super::error::{chain, ServiceError};
use super::nic_models::guest_type;
use super::{limits, Shared};
use translator::interface_xml;
use translator::to_vif::NetworkMap;
use translator::to_xml::Defaults;
use translator::translate::{self, NicError, Options, VifInput};
use translator::GuestType;

/// The `org.vifkit.Translator1` interface.
#[derive(Debug)]
pub struct Translator {
    pub(super) shared: Arc<Shared>,
}

fn too_large(what: &str, len: usize, max: usize) -> Result<(), ServiceError> {
    if len > max {
        return Err(ServiceError::TooLarge(format!(
            "The {what} is {len} bytes long; at most {max} are taken"
        )));
    }
    Ok(())
}

fn spec_errors(errors: &[NicError]) -> ServiceError {
    ServiceError::InvalidSpec(
        errors
            .iter()
            .map(|e| chain(e))
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// `VifToXml`: one spec to one `<interface>` element.
pub fn vif_to_xml(spec: &str, guest: &str) -> Result<(String, Vec<String>), ServiceError> {
    too_large("vif spec", spec.len(), limits::MAX_SPEC)?;
    let guest = guest_type(guest)?;
    let input = [VifInput {
        spec,
        location: None,
    }];
    let t = translate::vifs_to_interfaces(&input, guest, &Defaults::default(), Options::default())
        .map_err(|e| spec_errors(&e))?;
    Ok((
        interface_xml::interfaces_to_string(&t.items),
        t.warnings.iter().map(ToString::to_string).collect(),
    ))
}

/// `XmlToVif`: the `<interface>` elements of `xml` (bare, in `<devices>` or a whole
/// `<domain>`) to vif specs, one per line. The guest type is `guest`, or when that is
/// empty the document's `<os><type>` (HVM without one).
pub fn xml_to_vif(xml: &str, guest: &str) -> Result<(String, Vec<String>), ServiceError> {
    too_large("XML", xml.len(), limits::MAX_XML)?;
    // Counted in the text, before anything is parsed (a comment's `<interface` too).
    let elements = xml.matches("<interface").count();
    if elements > limits::MAX_INTERFACES {
        return Err(ServiceError::TooLarge(format!(
            "The XML has {elements} <interface> elements; at most {} are taken",
            limits::MAX_INTERFACES
        )));
    }
    let given = if guest.is_empty() {
        None
    } else {
        Some(guest_type(guest)?)
    };
    let doc =
        interface_xml::read_document(xml).map_err(|e| ServiceError::InvalidSpec(chain(&e)))?;
    if doc.interfaces.is_empty() {
        return Err(ServiceError::InvalidSpec(
            "The XML has no <interface> element".into(),
        ));
    }
    let guest: GuestType = given.or(doc.guest_type).unwrap_or_default();
    let ifaces: Vec<_> = doc
        .interfaces
        .iter()
        .map(|l| (&l.parsed.iface, l.parsed.dropped.as_slice()))
        .collect();
    let t =
        translate::interfaces_to_vifs(&ifaces, guest, &NetworkMap(Vec::new()), Options::default())
            .map_err(|e| spec_errors(&e))?;
    let specs: Vec<String> = t.items.iter().map(ToString::to_string).collect();
    Ok((
        specs.join("\n"),
        t.warnings.iter().map(ToString::to_string).collect(),
    ))
}

impl Translator {
    /// Admits a request of `len` bytes from the call's sender (see [`crate::admission`]).
    fn admit(&self, hdr: &Header<'_>, len: usize) -> Result<Option<Ticket>, ServiceError> {
        let caller = hdr.sender().map_or("", |s| s.as_str());
        self.shared.gate.admit(caller, len)
    }
}

#[interface(name = "org.vifkit.Translator1")]
impl Translator {
    /// Translates one xl vif spec for a guest of type `guest_type` (`hvm`, `pv`,
    /// `pvh`) to a libvirt `<interface>` element, with the translator's warnings.
    #[zbus(out_args("xml", "warnings"))]
    async fn vif_to_xml(
        &self,
        spec: &str,
        guest_type: &str,
        #[zbus(header)] hdr: Header<'_>,
    ) -> Result<(String, Vec<String>), ServiceError> {
        too_large("vif spec", spec.len(), limits::MAX_SPEC)?;
        let ticket = self.admit(&hdr, spec.len() + guest_type.len())?;
        let (spec, guest_type) = (spec.to_owned(), guest_type.to_owned());
        self.shared
            .store
            .work(move || {
                let _ticket = ticket;
                vif_to_xml(&spec, &guest_type)
            })
            .await
    }

    /// Translates `<interface>` elements (bare, in `<devices>`, or a whole `<domain>`)
    /// to xl vif specs, one per line, with the translator's warnings. An empty
    /// `guest_type` takes the document's `<os><type>` (HVM without one).
    #[zbus(out_args("spec", "warnings"))]
    async fn xml_to_vif(
        &self,
        xml: &str,
        guest_type: &str,
        #[zbus(header)] hdr: Header<'_>,
    ) -> Result<(String, Vec<String>), ServiceError> {
        too_large("XML", xml.len(), limits::MAX_XML)?;
        let ticket = self.admit(&hdr, xml.len() + guest_type.len())?;
        let (xml, guest_type) = (xml.to_owned(), guest_type.to_owned());
        self.shared
            .store
            .work(move || {
                // Held until the work ends, even when the caller has gone.
                let _ticket = ticket;
                xml_to_vif(&xml, &guest_type)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        let (xml, warnings) = vif_to_xml("mac=00:16:3e:01:02:03,bridge=xenbr0", "pv").unwrap();
        assert!(
            xml.contains("<source bridge=\"xenbr0\"/>") || xml.contains("xenbr0"),
            "{xml}"
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        let (spec, _) = xml_to_vif(&xml, "pv").unwrap();
        assert!(spec.contains("mac=00:16:3e:01:02:03"), "{spec}");
        assert!(spec.contains("bridge=xenbr0"), "{spec}");
        let e = vif_to_xml("mac=zz", "pv").unwrap_err();
        assert!(
            matches!(e, ServiceError::InvalidSpec(ref m) if m.starts_with("vif[0]: ")),
            "{e}"
        );
        let e = vif_to_xml("bridge=x", "kvm").unwrap_err();
        assert!(matches!(e, ServiceError::InvalidArgs(_)), "{e}");
        let many = "<interface type='bridge'><source bridge='b'/></interface>"
            .repeat(limits::MAX_INTERFACES + 1);
        let e = xml_to_vif(&format!("<devices>{many}</devices>"), "hvm").unwrap_err();
        assert_eq!(
            e,
            ServiceError::TooLarge(
                "The XML has 257 <interface> elements; at most 256 are taken".into()
            )
        );
        let big = "x".repeat(limits::MAX_SPEC + 1);
        assert!(matches!(
            vif_to_xml(&big, "pv"),
            Err(ServiceError::TooLarge(_))
        ));
        assert!(matches!(
            xml_to_vif("<domain/>", ""),
            Err(ServiceError::InvalidSpec(_))
        ));
    }

    /// XmlToVif validates what it copies into the spec as xml2vif does: no value adds a
    /// key.
    #[test]
    fn xml_to_vif_never_adds_keys() {
        for (xml, element) in [
            (
                "<interface type='bridge'><source bridge='br0'/><model type='e1000,script=/tmp/evil.sh'/></interface>",
                "interface[0]: Invalid <model type>",
            ),
            (
                "<interface type='bridge'><source bridge='b,vlan=5'/></interface>",
                "interface[0]: Invalid <source bridge>",
            ),
            (
                "<interface type='bridge'><source bridge='br0'/><script path='/tmp/evil.sh,mac=00:16:3e:00:00:02'/></interface>",
                "interface[0]: Invalid <script path>",
            ),
            (
                "<interface type='bridge'><source bridge='br0'/><backenddomain name='dom0,rate=1MB/s'/></interface>",
                "interface[0]: Invalid <backenddomain name>",
            ),
            (
                "<interface type='bridge'><source bridge='br0'/><target dev='web0,ip=10.0.0.1'/></interface>",
                "interface[0]: Invalid <target dev>",
            ),
        ] {
            match xml_to_vif(xml, "hvm") {
                Err(ServiceError::InvalidSpec(m)) => assert!(m.starts_with(element), "{m}"),
                other => panic!("{xml}: {other:?}"),
            }
        }
        // An interface outside <devices> is no NIC of the domain: an error, not "".
        let e = xml_to_vif(
            "<domain><name>t</name><interface type='bridge'><source bridge='br0'/></interface><devices/></domain>",
            "",
        )
        .unwrap_err();
        assert!(
            matches!(e, ServiceError::InvalidSpec(ref m) if m.starts_with("<interface> at line 1")),
            "{e}"
        );
    }
}
