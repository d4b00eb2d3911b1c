//! The event walk: checks a document's structure, finds its `<interface>` elements and
//! reports what the model cannot carry, before the deserializer reads each element.

use std::ops::Range;

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

use crate::guest::GuestType;
use crate::interface::Dropped;

use super::{syntax, DevicesInfo, Position, XmlError};

// ---------------------------------------------------------------------------------------
// What the model carries: the table the event walk checks paths against
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    Interface,
    Mac,
    Source,
    Vlan,
    Tag,
    Virtualport,
    Bandwidth,
    Outbound,
    Ip,
    Script,
    BackendDomain,
    Target,
    Model,
    Mtu,
}

impl Node {
    /// The carried child of this element with that local name.
    fn child(self, name: &str) -> Option<Node> {
        match (self, name) {
            (Node::Interface, "mac") => Some(Node::Mac),
            (Node::Interface, "source") => Some(Node::Source),
            (Node::Interface, "vlan") => Some(Node::Vlan),
            (Node::Interface, "virtualport") => Some(Node::Virtualport),
            (Node::Interface, "bandwidth") => Some(Node::Bandwidth),
            (Node::Interface, "ip") => Some(Node::Ip),
            (Node::Interface, "script") => Some(Node::Script),
            (Node::Interface, "backenddomain") => Some(Node::BackendDomain),
            (Node::Interface, "target") => Some(Node::Target),
            (Node::Interface, "model") => Some(Node::Model),
            (Node::Interface, "mtu") => Some(Node::Mtu),
            (Node::Vlan, "tag") => Some(Node::Tag),
            (Node::Bandwidth, "outbound") => Some(Node::Outbound),
            _ => None,
        }
    }

    /// The attributes of this element the model carries.
    fn attrs(self) -> &'static [&'static str] {
        match self {
            Node::Interface => &["type"],
            Node::Mac => &["address"],
            Node::Source => &["bridge", "network"],
            Node::Vlan => &["trunk"],
            Node::Tag => &["id", "nativeMode"],
            Node::Virtualport => &["type"],
            Node::Bandwidth => &[],
            Node::Outbound => &["average"],
            Node::Ip => &["address", "family", "prefix"],
            Node::Script => &["path"],
            Node::BackendDomain => &["name"],
            Node::Target => &["dev"],
            Node::Model => &["type"],
            Node::Mtu => &["size"],
        }
    }

    /// The element's path inside the interface (empty for the interface itself).
    fn path(self) -> &'static str {
        match self {
            Node::Interface => "",
            Node::Mac => "mac",
            Node::Source => "source",
            Node::Vlan => "vlan",
            Node::Tag => "vlan/tag",
            Node::Virtualport => "virtualport",
            Node::Bandwidth => "bandwidth",
            Node::Outbound => "bandwidth/outbound",
            Node::Ip => "ip",
            Node::Script => "script",
            Node::BackendDomain => "backenddomain",
            Node::Target => "target",
            Node::Model => "model",
            Node::Mtu => "mtu",
        }
    }

    fn repeatable(self) -> bool {
        matches!(self, Node::Tag | Node::Ip)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

fn child_path(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else {
        let mut p = String::with_capacity(parent.len() + 1 + name.len());
        p.push_str(parent);
        p.push('/');
        p.push_str(name);
        p
    }
}

fn attr_path(parent: &str, name: &str) -> String {
    let mut p = String::with_capacity(parent.len() + 2 + name.len());
    if !parent.is_empty() {
        p.push_str(parent);
        p.push('/');
    }
    p.push('@');
    p.push_str(name);
    p
}

fn is_namespace_binding(qname: &str) -> bool {
    qname == "xmlns" || qname.starts_with("xmlns:")
}

/// Checks an element's attributes against what the model carries: unknown ones are
/// dropped, known ones may appear once (by local name, as the deserializer matches them).
fn check_attrs(
    node: Node,
    e: &BytesStart<'_>,
    at: usize,
    xml: &str,
    dropped: &mut Vec<Dropped>,
) -> Result<(), XmlError> {
    let mut seen = 0u32;
    for attr in e.attributes() {
        let attr = attr.map_err(|err| syntax(xml, at as u64, err.into()))?;
        // Entities the deserializer could not resolve are malformed XML, found here
        // with a position rather than later without one.
        attr.normalized_value(XmlVersion::Implicit1_0)
            .map_err(|err| syntax(xml, at as u64, err))?;
        let qname = attr.key.0;
        let local = attr.key.local_name().into_inner();
        let known = if is_namespace_binding(qname) {
            None
        } else {
            node.attrs().iter().position(|a| *a == local)
        };
        match known {
            Some(i) => {
                if seen & (1 << i) != 0 {
                    return Err(XmlError::Repeated {
                        path: attr_path(node.path(), local),
                        at: Position::in_text(xml, at),
                    });
                }
                seen |= 1 << i;
            }
            None => dropped.push(Dropped {
                path: attr_path(node.path(), qname),
            }),
        }
    }
    Ok(())
}

/// The event walk inside one `<interface>`.
struct IfaceScan {
    start: usize,
    /// Open carried elements, each with the singleton children seen so far.
    frames: Vec<(Node, u32)>,
    /// Depth inside a dropped element (its descendants are not reported).
    skip: usize,
    dropped: Vec<Dropped>,
}

impl IfaceScan {
    fn begin(e: &BytesStart<'_>, at: usize, xml: &str) -> Result<IfaceScan, XmlError> {
        let mut scan = IfaceScan {
            start: at,
            frames: vec![(Node::Interface, 0)],
            skip: 0,
            dropped: Vec::new(),
        };
        check_attrs(Node::Interface, e, at, xml, &mut scan.dropped)?;
        Ok(scan)
    }

    fn element(
        &mut self,
        e: &BytesStart<'_>,
        empty: bool,
        at: usize,
        xml: &str,
    ) -> Result<(), XmlError> {
        if self.skip > 0 {
            if !empty {
                self.skip += 1;
            }
            return Ok(());
        }
        let Some((parent, seen)) = self.frames.last_mut() else {
            return Ok(());
        };
        let parent = *parent;
        let local = e.local_name().into_inner();
        match parent.child(local) {
            Some(node) => {
                if !node.repeatable() {
                    if *seen & node.bit() != 0 {
                        return Err(XmlError::Repeated {
                            path: node.path().to_owned(),
                            at: Position::in_text(xml, at),
                        });
                    }
                    *seen |= node.bit();
                }
                check_attrs(node, e, at, xml, &mut self.dropped)?;
                if !empty {
                    self.frames.push((node, 0));
                }
            }
            None => {
                self.dropped.push(Dropped {
                    path: child_path(parent.path(), e.name().0),
                });
                if !empty {
                    self.skip = 1;
                }
            }
        }
        Ok(())
    }

    /// An end tag; true when it closes the interface.
    fn end(&mut self) -> bool {
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        self.frames.pop();
        self.frames.is_empty()
    }
}

// ---------------------------------------------------------------------------------------
// The document walk
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Exactly one `<interface>`.
    Single,
    /// Bare interfaces, `<devices>` or `<domain>`.
    Document,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Root {
    Interfaces,
    Devices,
    Domain,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outer {
    Domain,
    Os,
    OsType,
    Devices,
    Other,
}

pub(super) struct Found {
    pub(super) span: Range<usize>,
    pub(super) dropped: Vec<Dropped>,
}

pub(super) struct Scan {
    pub(super) guest_type: Option<GuestType>,
    pub(super) devices: Option<DevicesInfo>,
    pub(super) found: Vec<Found>,
}

fn is_xml_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// The element name at a start tag's `<`.
fn name_at(xml: &str, offset: usize) -> String {
    let rest = xml.get(offset + 1..).unwrap_or("");
    let end = rest
        .find(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/')
        .unwrap_or(rest.len());
    rest[..end].to_owned()
}

pub(super) fn line_start(src: &str, offset: usize) -> usize {
    src.as_bytes()[..offset]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1)
}

/// The spaces and tabs at the start of the line holding `offset` (not past `offset`).
pub(super) fn line_indent(src: &str, offset: usize) -> &str {
    let ls = line_start(src, offset);
    let n = src.as_bytes()[ls..offset]
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    &src[ls..ls + n]
}

/// The whitespace before `offset` on its line, when there is nothing else before it.
pub(super) fn indent_if_first_on_line(src: &str, offset: usize) -> Option<&str> {
    let ls = line_start(src, offset);
    let before = &src[ls..offset];
    before
        .bytes()
        .all(|b| b == b' ' || b == b'\t')
        .then_some(before)
}

fn child_indent(
    xml: &str,
    devices_start: usize,
    parent_start: Option<usize>,
    first_child: Option<usize>,
) -> String {
    if let Some(ws) = first_child.and_then(|c| indent_if_first_on_line(xml, c)) {
        return ws.to_owned();
    }
    let own = line_indent(xml, devices_start);
    let parent = parent_start.map_or("", |p| line_indent(xml, p));
    let step = match own.strip_prefix(parent) {
        Some(s) if !s.is_empty() => s,
        _ => "  ",
    };
    let mut s = String::with_capacity(own.len() + step.len());
    s.push_str(own);
    s.push_str(step);
    s
}

pub(super) fn scan(xml: &str, mode: Mode) -> Result<Scan, XmlError> {
    if let Some(i) = xml
        .bytes()
        .position(|b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
    {
        return Err(XmlError::ControlChar {
            code: u32::from(xml.as_bytes()[i]),
            at: Position::in_text(xml, i),
        });
    }
    let mut reader = Reader::from_str(xml);
    let mut root: Option<Root> = None;
    let mut outer: Vec<Outer> = Vec::new();
    // Start offsets of every open element, for "unclosed" errors.
    let mut open: Vec<usize> = Vec::new();
    let mut iface: Option<IfaceScan> = None;
    let mut found: Vec<Found> = Vec::new();
    let mut os_text: Option<String> = None;
    let mut seen_os_type = false;
    let mut guest_type = None;
    let mut devices: Option<DevicesInfo> = None;
    let mut seen_devices = false;
    let mut devices_start = 0;
    let mut domain_start: Option<usize> = None;
    let mut first_child: Option<usize> = None;

    let wrap = |index: usize, err: XmlError| match mode {
        Mode::Document => XmlError::Interface {
            index,
            source: Box::new(err),
        },
        Mode::Single => err,
    };

    loop {
        let at = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = match reader.read_event() {
            Ok(ev) => ev,
            Err(e) => {
                let err = syntax(xml, reader.error_position(), e);
                return Err(if iface.is_some() {
                    wrap(found.len(), err)
                } else {
                    err
                });
            }
        };
        let end = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);

        if let Some(scan) = iface.as_mut() {
            match event {
                Event::Start(e) => {
                    open.push(at);
                    scan.element(&e, false, at, xml)
                        .map_err(|err| wrap(found.len(), err))?;
                }
                Event::Empty(e) => scan
                    .element(&e, true, at, xml)
                    .map_err(|err| wrap(found.len(), err))?,
                Event::End(_) => {
                    open.pop();
                    if scan.end() {
                        found.push(Found {
                            span: scan.start..end,
                            dropped: std::mem::take(&mut scan.dropped),
                        });
                        iface = None;
                    }
                }
                Event::Eof => {
                    let start = open.last().copied().unwrap_or(scan.start);
                    let err = XmlError::Unclosed {
                        element: name_at(xml, start),
                        at: Position::in_text(xml, start),
                    };
                    return Err(wrap(found.len(), err));
                }
                _ => {}
            }
            continue;
        }

        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let local = e.local_name().into_inner();
                let unexpected = |expected: &'static str| XmlError::UnexpectedElement {
                    found: e.name().0.to_owned(),
                    expected,
                    at: Position::in_text(xml, at),
                };
                let mut begin_iface = false;
                let frame = match outer.last().copied() {
                    None => match mode {
                        Mode::Single => {
                            if local != "interface" {
                                return Err(unexpected("<interface>"));
                            }
                            if !found.is_empty() {
                                return Err(unexpected("a single <interface>"));
                            }
                            begin_iface = true;
                            None
                        }
                        Mode::Document => match (root, local) {
                            (None | Some(Root::Interfaces), "interface") => {
                                root = Some(Root::Interfaces);
                                begin_iface = true;
                                None
                            }
                            (None, "devices") => {
                                root = Some(Root::Devices);
                                seen_devices = true;
                                devices_start = at;
                                Some(Outer::Devices)
                            }
                            (None, "domain") => {
                                root = Some(Root::Domain);
                                domain_start = Some(at);
                                Some(Outer::Domain)
                            }
                            (Some(Root::Interfaces), _) => {
                                return Err(unexpected("<interface>"));
                            }
                            (Some(_), _) => {
                                return Err(unexpected("nothing after the root element"));
                            }
                            (None, _) => {
                                return Err(unexpected("<interface>, <devices> or <domain>"));
                            }
                        },
                    },
                    Some(Outer::Domain) => match local {
                        "os" => Some(Outer::Os),
                        "devices" => {
                            if seen_devices {
                                return Err(XmlError::Repeated {
                                    path: "devices".to_owned(),
                                    at: Position::in_text(xml, at),
                                });
                            }
                            seen_devices = true;
                            devices_start = at;
                            Some(Outer::Devices)
                        }
                        _ => Some(Outer::Other),
                    },
                    Some(Outer::Os) if local == "type" => {
                        if seen_os_type {
                            return Err(XmlError::Repeated {
                                path: "os/type".to_owned(),
                                at: Position::in_text(xml, at),
                            });
                        }
                        seen_os_type = true;
                        os_text = Some(String::new());
                        Some(Outer::OsType)
                    }
                    Some(Outer::Devices) => {
                        first_child.get_or_insert(at);
                        if local == "interface" {
                            begin_iface = true;
                            None
                        } else {
                            Some(Outer::Other)
                        }
                    }
                    Some(_) => Some(Outer::Other),
                };
                if begin_iface {
                    let scan =
                        IfaceScan::begin(e, at, xml).map_err(|err| wrap(found.len(), err))?;
                    if empty {
                        found.push(Found {
                            span: at..end,
                            dropped: scan.dropped,
                        });
                    } else {
                        open.push(at);
                        iface = Some(scan);
                    }
                } else if let Some(frame) = frame {
                    if empty {
                        // Closes at once: the same as an end tag right after.
                        match frame {
                            Outer::Devices => {
                                devices = Some(DevicesInfo {
                                    close_tag: end.saturating_sub(2),
                                    child_indent: child_indent(
                                        xml,
                                        devices_start,
                                        domain_start,
                                        None,
                                    ),
                                });
                            }
                            Outer::OsType => {
                                return Err(XmlError::UnknownGuestType {
                                    value: String::new(),
                                });
                            }
                            _ => {}
                        }
                    } else {
                        open.push(at);
                        outer.push(frame);
                    }
                }
            }
            Event::End(_) => {
                open.pop();
                match outer.pop() {
                    Some(Outer::Devices) => {
                        devices = Some(DevicesInfo {
                            close_tag: at,
                            child_indent: child_indent(
                                xml,
                                devices_start,
                                domain_start,
                                first_child,
                            ),
                        });
                    }
                    Some(Outer::OsType) => {
                        let text = os_text.take().unwrap_or_default();
                        match GuestType::from_libvirt_os_type(&text) {
                            Some(g) => guest_type = Some(g),
                            None => return Err(XmlError::UnknownGuestType { value: text }),
                        }
                    }
                    _ => {}
                }
            }
            Event::Text(t) => {
                if outer.is_empty() {
                    if !t.bytes().all(is_xml_space) {
                        let skip = t.bytes().take_while(|&b| is_xml_space(b)).count();
                        return Err(XmlError::TextOutside {
                            at: Position::in_text(xml, at + skip),
                        });
                    }
                } else if outer.last() == Some(&Outer::OsType) {
                    if let Some(s) = os_text.as_mut() {
                        s.push_str(&t.xml10_content());
                    }
                }
            }
            Event::CData(t) => {
                if outer.is_empty() {
                    return Err(XmlError::TextOutside {
                        at: Position::in_text(xml, at),
                    });
                } else if outer.last() == Some(&Outer::OsType) {
                    if let Some(s) = os_text.as_mut() {
                        s.push_str(&t.xml10_content());
                    }
                }
            }
            Event::GeneralRef(r) => {
                if outer.is_empty() {
                    return Err(XmlError::TextOutside {
                        at: Position::in_text(xml, at),
                    });
                } else if outer.last() == Some(&Outer::OsType) {
                    if let Some(s) = os_text.as_mut() {
                        match r.resolve_char_ref() {
                            Ok(Some(c)) => s.push(c),
                            Ok(None) => match quick_xml::escape::resolve_predefined_entity(&r) {
                                Some(v) => s.push_str(v),
                                None => {
                                    s.push('&');
                                    s.push_str(&r);
                                    s.push(';');
                                }
                            },
                            Err(e) => return Err(syntax(xml, at as u64, e)),
                        }
                    }
                }
            }
            Event::Eof => {
                if let Some(&start) = open.last() {
                    return Err(XmlError::Unclosed {
                        element: name_at(xml, start),
                        at: Position::in_text(xml, start),
                    });
                }
                break;
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }

    match mode {
        Mode::Single if found.is_empty() => Err(XmlError::NoElement {
            expected: "<interface>",
        }),
        Mode::Document if root.is_none() => Err(XmlError::NoElement {
            expected: "<interface>, <devices> or <domain>",
        }),
        _ => Ok(Scan {
            guest_type,
            devices,
            found,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use crate::guest::GuestType;
    use crate::interface::InterfaceType;
    use crate::interface_xml::test_util::{err, paths, wrap, DOMAIN};
    use crate::interface_xml::*;

    #[test]
    fn reports_what_the_model_cannot_carry() {
        let xml = "<interface type='bridge' trustGuestRxFilters='yes'>
          <mac address='00:16:3e:01:01:01'/>
          <source bridge='br0' portgroup='pg'/>
          <virtualport type='openvswitch'>
            <parameters interfaceid='09b11c53-8b5c-4eeb-8f00-d84eaa0aaa4f'/>
          </virtualport>
          <bandwidth>
            <inbound average='1000' peak='5000' burst='1024'/>
            <outbound average='128' peak='256' burst='256'/>
          </bandwidth>
          <ip address='192.168.122.5' prefix='24' peer='10.0.0.10'/>
          <link state='down'/>
          <driver name='qemu'>
            <host csum='off'/>
          </driver>
          <alias name='net0'/>
          <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>
          <vlan><tag id='7' extra='1'><x/></tag></vlan>
        </interface>";
        let p = read_interface(xml).unwrap();
        assert_eq!(
            paths(&p.dropped),
            [
                "@trustGuestRxFilters",
                "source/@portgroup",
                "virtualport/parameters",
                "bandwidth/inbound",
                "bandwidth/outbound/@peak",
                "bandwidth/outbound/@burst",
                "ip/@peer",
                "link",
                "driver",
                "alias",
                "address",
                "vlan/tag/@extra",
                "vlan/tag/x",
            ]
        );
        assert_eq!(p.iface.outbound_average, Some(128));
        assert_eq!(p.iface.virtualport.as_deref(), Some("openvswitch"));
        assert_eq!(p.iface.ips[0].prefix, Some(24));
        assert_eq!(p.iface.vlan.as_ref().unwrap().tags[0].id, 7);
    }

    #[test]
    fn reads_several_bare_elements() {
        let xml = "<?xml version='1.0' encoding='UTF-8'?>\n<!-- first -->\n\
            <interface type='bridge'><source bridge='br0'/></interface>\n\
            <!-- second --><interface type='ethernet'/>\n  \
            <interface type='network'>\n  <source network='default'/>\n  <link state='up'/>\n</interface>\n";
        let d = read_document(xml).unwrap();
        assert_eq!(d.guest_type, None);
        assert_eq!(d.devices, None);
        assert_eq!(d.interfaces.len(), 3);
        assert_eq!(
            d.interfaces[0].parsed.iface.source_bridge.as_deref(),
            Some("br0")
        );
        assert_eq!(d.interfaces[1].parsed.iface.kind, InterfaceType::Ethernet);
        assert_eq!(
            &xml[d.interfaces[1].span.clone()],
            "<interface type='ethernet'/>"
        );
        assert_eq!(paths(&d.interfaces[2].parsed.dropped), ["link"]);
        for l in &d.interfaces {
            assert!(xml[l.span.clone()].starts_with("<interface"));
            assert!(xml[l.span.clone()].ends_with('>'));
        }
        // Declarations between elements (concatenated outputs) are fine too.
        let cat = "<?xml version='1.0'?>\n<interface type='a'/>\n<?xml version='1.0'?>\n<interface type='b'/>\n";
        let d = read_document(cat).unwrap();
        assert_eq!(d.interfaces.len(), 2);
        assert_eq!(
            d.interfaces[1].parsed.iface.kind,
            InterfaceType::Other("b".into())
        );
        // read_interface takes one only.
        let e = read_interface(xml).unwrap_err();
        assert!(
            matches!(e, XmlError::UnexpectedElement { ref found, .. } if found == "interface"),
            "{e}"
        );
    }

    #[test]
    fn reads_devices() {
        let xml = "<devices>\n  <disk type='file'/>\n  <interface type='bridge'>\n    <source bridge='br0'/>\n  </interface>\n</devices>\n";
        let d = read_document(xml).unwrap();
        assert_eq!(d.interfaces.len(), 1);
        let info = d.devices.unwrap();
        assert_eq!(&xml[info.close_tag..], "</devices>\n");
        assert_eq!(info.child_indent, "  ");
    }

    #[test]
    fn reads_a_whole_domain() {
        let d = read_document(DOMAIN).unwrap();
        assert_eq!(d.guest_type, Some(GuestType::Hvm));
        assert_eq!(d.interfaces.len(), 2);
        let first = &DOMAIN[d.interfaces[0].span.clone()];
        assert!(first.starts_with("<interface type='bridge'>\n      <mac"));
        assert!(first.ends_with("</interface>"));
        assert_eq!(
            d.interfaces[0].parsed.iface.script.as_deref(),
            Some("vif-bridge")
        );
        assert!(d.interfaces[0].parsed.dropped.is_empty());
        assert_eq!(d.interfaces[1].parsed.iface.kind, InterfaceType::Ethernet);
        assert_eq!(paths(&d.interfaces[1].parsed.dropped), ["link"]);
        let info = d.devices.unwrap();
        assert_eq!(&DOMAIN[info.close_tag..], "</devices>\n</domain>\n");
        assert_eq!(info.child_indent, "    ");
    }

    #[test]
    fn guest_types_of_a_domain() {
        for (text, want) in [
            ("xen", Some(GuestType::Pv)),
            (" xenpvh ", Some(GuestType::Pvh)),
            ("h&#118;m", Some(GuestType::Hvm)),
        ] {
            let xml = format!("<domain><os><type>{text}</type></os><devices/></domain>");
            let d = read_document(&xml).unwrap();
            assert_eq!(d.guest_type, want, "{text}");
            assert!(d.interfaces.is_empty());
            assert_eq!(&xml[d.devices.unwrap().close_tag..], "/></domain>");
        }
        let d = read_document("<domain><name>x</name></domain>").unwrap();
        assert_eq!(d.guest_type, None);
        assert_eq!(d.devices, None);
        let e = read_document("<domain><os><type>exe</type></os></domain>").unwrap_err();
        assert!(matches!(e, XmlError::UnknownGuestType { ref value } if value == "exe"));
        assert_eq!(e.to_string(), "Unknown guest type 'exe' in <os><type>");
    }

    #[test]
    fn repeated_singletons_are_errors() {
        for (children, path) in [
            (
                "<mac address='00:16:3e:00:00:01'/><mac address='00:16:3e:00:00:02'/>",
                "mac",
            ),
            ("<source bridge='a'/><link/><source bridge='b'/>", "source"),
            (
                "<bandwidth><outbound average='1'/><outbound average='2'/></bandwidth>",
                "bandwidth/outbound",
            ),
            ("<bandwidth/><bandwidth/>", "bandwidth"),
            ("<vlan/><vlan/>", "vlan"),
            ("<mtu size='1'/><mtu size='1'/>", "mtu"),
            ("<model type='a'/><x:model type='b'/>", "model"),
            (
                "<mac address='00:16:3e:00:00:01' x:address='00:16:3e:00:00:02'/>",
                "mac/@address",
            ),
        ] {
            let e = err(&wrap(children));
            assert!(
                matches!(e, XmlError::Repeated { path: ref p, .. } if p == path),
                "{children}: {e}"
            );
        }
        let e = err(&wrap("<mac/><mac/>"));
        assert_eq!(
            e.to_string(),
            "Repeated <mac> at line 1, column 32 (byte 31)"
        );
        // Repeatable ones are fine.
        let p = read_interface(&wrap(
            "<ip address='::1'/><ip address='::2'/><vlan><tag id='1'/><tag id='2'/></vlan>",
        ))
        .unwrap();
        assert_eq!(p.iface.ips.len(), 2);
    }

    #[test]
    fn malformed_xml_is_an_error_with_a_position() {
        let e = err("<interface type='bridge'>\n  <mac address='00:16:3e:00:00:01'>\n</interface>");
        match &e {
            XmlError::Syntax { at, .. } => assert_eq!(at.line, 3),
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().starts_with("Malformed XML at line 3"), "{e}");
        assert!(e.source().is_some());
        let e = err("<interface type='bridge'>\n  <mac address='00:16:3e:00:00:01'/>\n");
        assert_eq!(
            e.to_string(),
            "Unclosed <interface> at line 1, column 1 (byte 0)"
        );
        let e = err("<interface type='bridge' type='x'/>");
        assert!(matches!(e, XmlError::Syntax { .. }), "{e:?}");
        let e = err("<interface type='bridge'><mac address='&nbsp;'/></interface>");
        assert!(matches!(e, XmlError::Syntax { .. }), "{e:?}");
        assert!(matches!(err(""), XmlError::NoElement { .. }));
        assert!(matches!(err("<!-- only -->"), XmlError::NoElement { .. }));
        assert!(matches!(
            err("<domain/>"),
            XmlError::UnexpectedElement { .. }
        ));
        assert!(matches!(
            err("hello <interface type='a'/>"),
            XmlError::TextOutside { .. }
        ));
        assert!(matches!(
            read_document(" \n"),
            Err(XmlError::NoElement { .. })
        ));
        assert!(matches!(
            read_document("<interface type='a'/><devices/>"),
            Err(XmlError::UnexpectedElement { .. })
        ));
        assert!(matches!(
            read_document("<devices/><devices/>"),
            Err(XmlError::UnexpectedElement { .. })
        ));
        assert!(matches!(
            read_document("<domain><devices/><devices/></domain>"),
            Err(XmlError::Repeated { .. })
        ));
        assert!(matches!(
            read_document("<foo/>"),
            Err(XmlError::UnexpectedElement { .. })
        ));
        assert!(
            matches!(read_document("<domain><devices>"), Err(XmlError::Unclosed { ref element, .. }) if element == "devices")
        );
    }

    #[test]
    fn deep_nesting_is_fine() {
        let n = 200_000;
        for (pre, post) in [
            ("", ""),
            ("<mac>", "</mac>"),
            ("<vlan><tag id='1'>", "</tag></vlan>"),
        ] {
            let xml = format!(
                "<interface type='a'>{pre}{}{}{post}</interface>",
                "<a>".repeat(n),
                "</a>".repeat(n)
            );
            let p = read_interface(&xml).unwrap();
            assert_eq!(p.dropped.len(), 1);
            let unclosed = format!("<interface type='a'>{pre}{}", "<a>".repeat(n));
            assert!(read_interface(&unclosed).is_err());
        }
    }
}
