//! A domain XML as libvirt hands it to a guest hook: the guest's name, UUID, id and
//! type, and its `<interface>` elements (read by `translator::interface_xml`, plus the
//! `<bandwidth>` children the translation model does not carry).

use std::ops::Range;

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};
use translator::interface_xml::{self, Located, XmlError};
use translator::GuestType;

/// Why a domain XML could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The XML, or one of its interfaces, is not valid.
    #[error("Cannot read the domain XML")]
    Xml(#[source] XmlError),
    /// The root element is not `<domain>`.
    #[error("The XML is not a <domain> (root element <{0}>)")]
    NotADomain(String),
    /// `<domain id>` is not a number.
    #[error("Invalid <domain id='{0}'>")]
    BadId(String),
    /// No `<name>`.
    #[error("The domain has no <name>")]
    NoName,
}

/// One direction of `<bandwidth>`: `average` KiB/s, `burst` KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bandwidth {
    /// `average`, KiB/s.
    pub average: u64,
    /// `burst`, KiB, when given.
    pub burst: Option<u64>,
}

/// An `<interface>` of the domain with what the hook needs beyond the translation
/// model.
#[derive(Debug, Clone)]
pub struct DomainNic {
    /// Its index among the domain's interfaces, from 0.
    pub index: usize,
    /// The element as read.
    pub located: Located,
    /// `<bandwidth><inbound>` (towards the guest).
    pub inbound: Option<Bandwidth>,
    /// `<bandwidth><outbound>` (from the guest).
    pub outbound: Option<Bandwidth>,
}

/// The parts of a domain XML the hooks use.
#[derive(Debug, Clone)]
pub struct Domain {
    /// `<name>`.
    pub name: String,
    /// `<uuid>`, when given.
    pub uuid: Option<String>,
    /// `<domain id>`: set in live XML; absent (or `-1`) for an inactive domain.
    pub id: Option<u32>,
    /// The guest type (`<os><type>`; HVM when absent, as for every QEMU guest).
    pub guest_type: GuestType,
    /// The interfaces, in document order.
    pub nics: Vec<DomainNic>,
}

/// Reads the text of a start element's attribute.
pub(crate) fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.0 == name)
        .and_then(|a| {
            a.normalized_value(XmlVersion::Implicit1_0)
                .ok()
                .map(|v| v.into_owned())
        })
}

/// Text of an entity or character reference (`&amp;`, `&#38;`).
pub(crate) fn resolve_ref(r: &quick_xml::events::BytesRef<'_>) -> String {
    if let Ok(Some(c)) = r.resolve_char_ref() {
        return c.to_string();
    }
    match r.xml10_content().as_ref() {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        _ => "",
    }
    .to_owned()
}

/// Reads `domain/@id`, `domain/name` and `domain/uuid`.
fn header(xml: &str) -> Result<(String, Option<String>, Option<u32>), DomainError> {
    let mut r = Reader::from_str(xml);
    let mut depth = 0usize;
    let mut in_field: Option<u8> = None; // b'n' name, b'u' uuid
    let (mut name, mut uuid, mut id) = (None::<String>, None::<String>, None);
    // Malformed XML is reported by `read_document` with a position.
    while let Ok(ev) = r.read_event() {
        let (start, open) = match &ev {
            Event::Start(e) => (Some(e), true),
            Event::Empty(e) => (Some(e), false),
            _ => (None, false),
        };
        if let Some(e) = start {
            if depth == 0 {
                let root = e.name().0.to_owned();
                if root != "domain" {
                    return Err(DomainError::NotADomain(root));
                }
                if let Some(v) = attr(e, "id") {
                    match v.trim() {
                        "-1" => {}
                        t => id = Some(t.parse().map_err(|_| DomainError::BadId(v.clone()))?),
                    }
                }
            } else if depth == 1 && open {
                in_field = match e.name().0 {
                    "name" => Some(b'n'),
                    "uuid" => Some(b'u'),
                    _ => None,
                };
            }
            if open {
                depth += 1;
            } else if depth == 0 {
                break;
            }
            continue;
        }
        match ev {
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                in_field = None;
                if depth == 0 {
                    break;
                }
            }
            Event::Text(t) => push_field(in_field, &mut name, &mut uuid, &t.xml10_content()),
            Event::CData(t) => push_field(in_field, &mut name, &mut uuid, &t.xml10_content()),
            Event::GeneralRef(g) => push_field(in_field, &mut name, &mut uuid, &resolve_ref(&g)),
            Event::Eof => break,
            _ => {}
        }
    }
    let name = name.ok_or(DomainError::NoName)?;
    Ok((name, uuid.map(|u| u.trim().to_owned()), id))
}

fn push_field(field: Option<u8>, name: &mut Option<String>, uuid: &mut Option<String>, s: &str) {
    match field {
        Some(b'n') => name.get_or_insert_with(String::new).push_str(s),
        Some(b'u') => uuid.get_or_insert_with(String::new).push_str(s),
        _ => {}
    }
}

/// `<bandwidth><inbound|outbound average burst>` of one interface element.
fn bandwidth(element: &str) -> (Option<Bandwidth>, Option<Bandwidth>) {
    let mut r = Reader::from_str(element);
    let mut path: Vec<String> = Vec::new();
    let (mut inbound, mut outbound) = (None, None);
    let num = |e: &BytesStart<'_>, a: &str| attr(e, a).and_then(|v| v.trim().parse::<u64>().ok());
    while let Ok(ev) = r.read_event() {
        let (e, open) = match &ev {
            Event::Start(e) => (e, true),
            Event::Empty(e) => (e, false),
            Event::End(_) => {
                path.pop();
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let name = e.name().0.to_owned();
        if path.len() == 2 && path[1] == "bandwidth" {
            let bw = num(e, "average").map(|average| Bandwidth {
                average,
                burst: num(e, "burst"),
            });
            match name.as_str() {
                "inbound" => inbound = bw,
                "outbound" => outbound = bw,
                _ => {}
            }
        }
        if open {
            path.push(name);
        }
    }
    (inbound, outbound)
}

impl Domain {
    /// Reads a domain XML (`virsh dumpxml` output, or what libvirt passes on stdin).
    pub fn parse(xml: &str) -> Result<Domain, DomainError> {
        let head = header(xml);
        if let Err(e @ DomainError::NotADomain(_)) = head {
            return Err(e);
        }
        let doc = interface_xml::read_document(xml).map_err(DomainError::Xml)?;
        let (name, uuid, id) = head?;
        let nics = doc
            .interfaces
            .into_iter()
            .enumerate()
            .map(|(index, located)| {
                let (inbound, outbound) = bandwidth(&xml[span(&located.span, xml)]);
                DomainNic {
                    index,
                    located,
                    inbound,
                    outbound,
                }
            })
            .collect();
        Ok(Domain {
            name,
            uuid,
            id,
            guest_type: doc.guest_type.unwrap_or_default(),
            nics,
        })
    }
}

fn span(r: &Range<usize>, xml: &str) -> Range<usize> {
    r.start.min(xml.len())..r.end.min(xml.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const QEMU: &str = "<domain type='kvm' id='7'>\n  <name>web&amp;1</name>\n  \
        <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>\n  <os>\n    \
        <type arch='x86_64' machine='pc'>hvm</type>\n  </os>\n  <devices>\n    \
        <interface type='bridge'>\n      <mac address='52:54:00:aa:00:01'/>\n      \
        <source bridge='br0'/>\n      <bandwidth>\n        \
        <inbound average='1000' burst='256'/>\n        <outbound average='500'/>\n      \
        </bandwidth>\n      <target dev='vnet3'/>\n      <model type='virtio'/>\n    \
        </interface>\n    <interface type='network'>\n      \
        <source network='default'/>\n    </interface>\n  </devices>\n</domain>\n";

    #[test]
    fn reads_name_uuid_id_type_and_nics() {
        let d = Domain::parse(QEMU).unwrap();
        assert_eq!(d.name, "web&1");
        assert_eq!(
            d.uuid.as_deref(),
            Some("4dea22b3-1d52-d8f3-2516-782e98ab3fa0")
        );
        assert_eq!(d.id, Some(7));
        assert_eq!(d.guest_type, GuestType::Hvm);
        assert_eq!(d.nics.len(), 2);
        let n = &d.nics[0];
        assert_eq!(n.index, 0);
        assert_eq!(
            n.inbound,
            Some(Bandwidth {
                average: 1000,
                burst: Some(256)
            })
        );
        assert_eq!(
            n.outbound,
            Some(Bandwidth {
                average: 500,
                burst: None
            })
        );
        assert_eq!(n.located.parsed.iface.target_dev.as_deref(), Some("vnet3"));
        assert_eq!(d.nics[1].inbound, None);
    }

    #[test]
    fn inactive_xml_has_no_id() {
        let d =
            Domain::parse("<domain type='xen'><name>a</name><os><type>xen</type></os></domain>")
                .unwrap();
        assert_eq!(d.id, None);
        assert_eq!(d.uuid, None);
        assert_eq!(d.guest_type, GuestType::Pv);
        let d = Domain::parse("<domain type='xen' id='-1'><name>a</name></domain>").unwrap();
        assert_eq!(d.id, None);
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        let e = |x: &str| {
            let e = Domain::parse(x).unwrap_err();
            translator::diag::error_chain(&e)
        };
        assert_eq!(
            e("<domain id='x'><name>a</name></domain>"),
            "Invalid <domain id='x'>"
        );
        assert_eq!(
            e("<domain><uuid>u</uuid></domain>"),
            "The domain has no <name>"
        );
        assert_eq!(
            e("<network><name>a</name></network>"),
            "The XML is not a <domain> (root element <network>)"
        );
        assert!(e("<domain><name>a</name>").starts_with("Cannot read the domain XML"));
        assert!(e(
            "<domain><name>a</name><devices><interface type='bridge'><mac address='zz'/>\
             </interface></devices></domain>"
        )
        .starts_with("Cannot read the domain XML: In interface[0]: Invalid <mac"));
    }
}
