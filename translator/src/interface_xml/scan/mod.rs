//! The event walk: checks a document's structure, finds its `<interface>` elements and
//! reports what the model cannot carry, before the deserializer reads each element.
//!
//! [`Scanner`] holds the walk's state; [`Scanner::event`] hands each XML event to the
//! method for it. Inside an `<interface>` the events go to [`IfaceScan`] (in
//! [`iface`]), which knows what the model carries.

use std::ops::Range;

use quick_xml::events::{BytesCData, BytesRef, BytesStart, BytesText, Event};
use quick_xml::Reader;

use crate::guest::GuestType;
use crate::interface::Dropped;

use super::{syntax, DevicesInfo, Position, XmlError};

mod iface;
mod indent;

use iface::IfaceScan;
use indent::child_indent;
pub(super) use indent::{indent_if_first_on_line, line_indent, line_start};

/// What a document may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// Exactly one `<interface>`.
    Single,
    /// Bare interfaces, `<devices>` or `<domain>`.
    Document,
}

/// What the root element turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Root {
    Interfaces,
    Devices,
    Domain,
}

/// An open element outside the interfaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outer {
    Domain,
    Os,
    OsType,
    Devices,
    /// `<metadata>` and everything in it: other applications' XML, never read.
    Metadata,
    /// Any other element inside `<devices>` (`<disk>`, ...) and what it holds.
    InDevices,
    Other,
}

/// What a start tag outside the interfaces opens.
enum Opened {
    /// An `<interface>`.
    Interface,
    /// Any other element.
    Outer(Outer),
}

/// One `<interface>` found: its bytes, and what the model cannot carry of it.
pub(super) struct Found {
    pub(super) span: Range<usize>,
    pub(super) dropped: Vec<Dropped>,
}

/// What the walk found in a document.
pub(super) struct Scan {
    pub(super) guest_type: Option<GuestType>,
    pub(super) devices: Option<DevicesInfo>,
    pub(super) found: Vec<Found>,
}

/// Walks `xml` as a document of the given mode.
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
    let mut scanner = Scanner::new(xml, mode);
    loop {
        let at = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(e) => return Err(scanner.in_interface(syntax(xml, reader.error_position(), e))),
        };
        let end = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        if scanner.event(event, at..end)? {
            return scanner.finish();
        }
    }
}

/// The state of the walk over one document.
struct Scanner<'x> {
    xml: &'x str,
    mode: Mode,
    root: Option<Root>,
    /// The open elements outside the interfaces.
    outer: Vec<Outer>,
    /// Start offsets of every open element, for "unclosed" errors.
    open: Vec<usize>,
    /// The interface being walked.
    iface: Option<IfaceScan>,
    found: Vec<Found>,
    /// The text of `<os><type>` while it is open.
    os_text: Option<String>,
    seen_os_type: bool,
    guest_type: Option<GuestType>,
    devices: Option<DevicesInfo>,
    seen_devices: bool,
    devices_start: usize,
    domain_start: Option<usize>,
    /// Where the first child of `<devices>` starts.
    first_child: Option<usize>,
}

impl<'x> Scanner<'x> {
    fn new(xml: &'x str, mode: Mode) -> Self {
        Scanner {
            xml,
            mode,
            root: None,
            outer: Vec::new(),
            open: Vec::new(),
            iface: None,
            found: Vec::new(),
            os_text: None,
            seen_os_type: false,
            guest_type: None,
            devices: None,
            seen_devices: false,
            devices_start: 0,
            domain_start: None,
            first_child: None,
        }
    }

    /// An error inside an interface, named by the interface's index in a document.
    fn in_interface(&self, err: XmlError) -> XmlError {
        match (self.mode, &self.iface) {
            (Mode::Document, Some(_)) => XmlError::Interface {
                index: self.found.len(),
                source: Box::new(err),
            },
            _ => err,
        }
    }

    fn position(&self, offset: usize) -> Position {
        Position::in_text(self.xml, offset)
    }

    /// One event, whose bytes are `span`; true at the end of the document.
    fn event(&mut self, event: Event<'_>, span: Range<usize>) -> Result<bool, XmlError> {
        if self.iface.is_some() {
            return self.event_in_interface(event, span);
        }
        let at = span.start;
        match event {
            Event::Start(e) => self.start(&e, false, span)?,
            Event::Empty(e) => self.start(&e, true, span)?,
            Event::End(_) => self.end(at)?,
            Event::Text(t) => self.text(&t, at)?,
            Event::CData(t) => self.cdata(&t, at)?,
            Event::GeneralRef(r) => self.general_ref(&r, at)?,
            Event::Eof => {
                self.eof()?;
                return Ok(true);
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
        Ok(false)
    }

    /// One event inside an `<interface>`: [`IfaceScan`] checks it.
    fn event_in_interface(
        &mut self,
        event: Event<'_>,
        span: Range<usize>,
    ) -> Result<bool, XmlError> {
        let Some(scan) = self.iface.as_mut() else {
            return Ok(false);
        };
        let at = span.start;
        let checked = match event {
            Event::Start(e) => {
                self.open.push(at);
                scan.element(&e, false, at, self.xml)
            }
            Event::Empty(e) => scan.element(&e, true, at, self.xml),
            Event::End(_) => {
                self.open.pop();
                if scan.end() {
                    self.found.push(Found {
                        span: scan.start..span.end,
                        dropped: std::mem::take(&mut scan.dropped),
                    });
                    self.iface = None;
                }
                Ok(())
            }
            Event::Eof => {
                let start = self.open.last().copied().unwrap_or(scan.start);
                Err(XmlError::Unclosed {
                    element: name_at(self.xml, start),
                    at: self.position(start),
                })
            }
            _ => Ok(()),
        };
        checked.map_err(|err| self.in_interface(err))?;
        Ok(false)
    }

    /// A start tag (`empty`: an empty element) outside the interfaces.
    fn start(
        &mut self,
        e: &BytesStart<'_>,
        empty: bool,
        span: Range<usize>,
    ) -> Result<(), XmlError> {
        let at = span.start;
        let local = e.local_name().into_inner();
        let opened = match self.outer.last().copied() {
            None => self.start_root(e, local, at)?,
            Some(Outer::Domain) if is_interface(e) => return Err(self.misplaced(at)),
            Some(Outer::Domain) => self.start_in_domain(local, at)?,
            Some(Outer::Os) if local == "type" => {
                if self.seen_os_type {
                    return Err(XmlError::Repeated {
                        path: "os/type".to_owned(),
                        at: self.position(at),
                    });
                }
                self.seen_os_type = true;
                self.os_text = Some(String::new());
                Opened::Outer(Outer::OsType)
            }
            Some(Outer::Devices) => {
                self.first_child.get_or_insert(at);
                if local == "interface" {
                    Opened::Interface
                } else {
                    Opened::Outer(Outer::InDevices)
                }
            }
            // Not read: what other devices and applications hold is theirs.
            Some(Outer::Metadata) => Opened::Outer(Outer::Metadata),
            Some(Outer::InDevices) => Opened::Outer(Outer::InDevices),
            Some(_) if is_interface(e) => return Err(self.misplaced(at)),
            Some(_) => Opened::Outer(Outer::Other),
        };
        match opened {
            Opened::Interface => self.begin_interface(e, empty, span),
            Opened::Outer(frame) if empty => self.closed_at_once(frame, span.end),
            Opened::Outer(frame) => {
                self.open.push(at);
                self.outer.push(frame);
                Ok(())
            }
        }
    }

    /// The root element (or, for bare interfaces, one of them).
    fn start_root(
        &mut self,
        e: &BytesStart<'_>,
        local: &str,
        at: usize,
    ) -> Result<Opened, XmlError> {
        let unexpected = |expected: &'static str| XmlError::UnexpectedElement {
            found: e.name().0.to_owned(),
            expected,
            at: self.position(at),
        };
        if self.mode == Mode::Single {
            if local != "interface" {
                return Err(unexpected("<interface>"));
            }
            if !self.found.is_empty() {
                return Err(unexpected("a single <interface>"));
            }
            return Ok(Opened::Interface);
        }
        match (self.root, local) {
            (None | Some(Root::Interfaces), "interface") => {
                self.root = Some(Root::Interfaces);
                Ok(Opened::Interface)
            }
            (None, "devices") => {
                self.root = Some(Root::Devices);
                self.seen_devices = true;
                self.devices_start = at;
                Ok(Opened::Outer(Outer::Devices))
            }
            (None, "domain") => {
                self.root = Some(Root::Domain);
                self.domain_start = Some(at);
                Ok(Opened::Outer(Outer::Domain))
            }
            (Some(Root::Interfaces), _) => Err(unexpected("<interface>")),
            (Some(_), _) => Err(unexpected("nothing after the root element")),
            (None, _) => Err(unexpected("<interface>, <devices> or <domain>")),
        }
    }

    /// An `<interface>` in a domain outside `<devices>` (and outside `<metadata>`): libvirt
    /// does not read it as a NIC, so translating the document without it would lose it
    /// silently.
    fn misplaced(&self, at: usize) -> XmlError {
        let parent = self
            .open
            .last()
            .map_or_else(String::new, |&p| name_at(self.xml, p));
        XmlError::Misplaced {
            parent,
            at: self.position(at),
        }
    }

    /// A child of `<domain>`.
    fn start_in_domain(&mut self, local: &str, at: usize) -> Result<Opened, XmlError> {
        Ok(Opened::Outer(match local {
            "metadata" => Outer::Metadata,
            "os" => Outer::Os,
            "devices" => {
                if self.seen_devices {
                    return Err(XmlError::Repeated {
                        path: "devices".to_owned(),
                        at: self.position(at),
                    });
                }
                self.seen_devices = true;
                self.devices_start = at;
                Outer::Devices
            }
            _ => Outer::Other,
        }))
    }

    /// An `<interface>` start tag: its walk begins (and ends at once if it is empty).
    fn begin_interface(
        &mut self,
        e: &BytesStart<'_>,
        empty: bool,
        span: Range<usize>,
    ) -> Result<(), XmlError> {
        let at = span.start;
        // Not yet in `self.iface`: named by its index the same way.
        let scan = IfaceScan::begin(e, at, self.xml).map_err(|err| match self.mode {
            Mode::Document => XmlError::Interface {
                index: self.found.len(),
                source: Box::new(err),
            },
            Mode::Single => err,
        })?;
        if empty {
            self.found.push(Found {
                span,
                dropped: scan.dropped,
            });
        } else {
            self.open.push(at);
            self.iface = Some(scan);
        }
        Ok(())
    }

    /// An empty element outside the interfaces: the same as an end tag right after.
    fn closed_at_once(&mut self, frame: Outer, end: usize) -> Result<(), XmlError> {
        match frame {
            Outer::Devices => {
                self.devices = Some(DevicesInfo {
                    close_tag: end.saturating_sub(2),
                    child_indent: child_indent(
                        self.xml,
                        self.devices_start,
                        self.domain_start,
                        None,
                    ),
                });
                Ok(())
            }
            Outer::OsType => Err(XmlError::UnknownGuestType {
                value: String::new(),
            }),
            _ => Ok(()),
        }
    }

    /// An end tag outside the interfaces.
    fn end(&mut self, at: usize) -> Result<(), XmlError> {
        self.open.pop();
        match self.outer.pop() {
            Some(Outer::Devices) => {
                self.devices = Some(DevicesInfo {
                    close_tag: at,
                    child_indent: child_indent(
                        self.xml,
                        self.devices_start,
                        self.domain_start,
                        self.first_child,
                    ),
                });
            }
            Some(Outer::OsType) => {
                let text = self.os_text.take().unwrap_or_default();
                match GuestType::from_libvirt_os_type(&text) {
                    Some(g) => self.guest_type = Some(g),
                    None => return Err(XmlError::UnknownGuestType { value: text }),
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Where text outside the interfaces goes: an error outside the root element; the
    /// guest type's text inside `<os><type>`; nowhere otherwise.
    fn text_sink(&mut self, at: usize) -> Result<Option<&mut String>, XmlError> {
        if self.outer.is_empty() {
            return Err(XmlError::TextOutside {
                at: self.position(at),
            });
        }
        Ok(match self.outer.last() {
            Some(Outer::OsType) => self.os_text.as_mut(),
            _ => None,
        })
    }

    /// Character data outside the interfaces (white space alone is fine outside the
    /// root element).
    fn text(&mut self, t: &BytesText<'_>, at: usize) -> Result<(), XmlError> {
        if self.outer.is_empty() && t.bytes().all(is_xml_space) {
            return Ok(());
        }
        let skip = t.bytes().take_while(|&b| is_xml_space(b)).count();
        if let Some(s) = self.text_sink(at + skip)? {
            s.push_str(&t.xml10_content());
        }
        Ok(())
    }

    /// A CDATA section outside the interfaces.
    fn cdata(&mut self, t: &BytesCData<'_>, at: usize) -> Result<(), XmlError> {
        if let Some(s) = self.text_sink(at)? {
            s.push_str(&t.xml10_content());
        }
        Ok(())
    }

    /// A character or entity reference outside the interfaces.
    fn general_ref(&mut self, r: &BytesRef<'_>, at: usize) -> Result<(), XmlError> {
        let xml = self.xml;
        let Some(s) = self.text_sink(at)? else {
            return Ok(());
        };
        match r.resolve_char_ref() {
            Ok(Some(c)) => s.push(c),
            Ok(None) => match quick_xml::escape::resolve_predefined_entity(r) {
                Some(v) => s.push_str(v),
                None => {
                    s.push('&');
                    s.push_str(r);
                    s.push(';');
                }
            },
            Err(e) => return Err(syntax(xml, at as u64, e)),
        }
        Ok(())
    }

    /// The end of the document: every element must be closed.
    fn eof(&self) -> Result<(), XmlError> {
        match self.open.last() {
            Some(&start) => Err(XmlError::Unclosed {
                element: name_at(self.xml, start),
                at: self.position(start),
            }),
            None => Ok(()),
        }
    }

    /// What was found, once the document has ended.
    fn finish(self) -> Result<Scan, XmlError> {
        match self.mode {
            Mode::Single if self.found.is_empty() => Err(XmlError::NoElement {
                expected: "<interface>",
            }),
            Mode::Document if self.root.is_none() => Err(XmlError::NoElement {
                expected: "<interface>, <devices> or <domain>",
            }),
            _ => Ok(Scan {
                guest_type: self.guest_type,
                devices: self.devices,
                found: self.found,
            }),
        }
    }
}

/// Whether a start tag is an unprefixed `<interface>` (a prefixed one belongs to another
/// application's namespace).
fn is_interface(e: &BytesStart<'_>) -> bool {
    e.name().into_inner() == "interface"
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
    fn interfaces_outside_devices_are_errors() {
        for (xml, parent) in [
            (
                "<domain type='xen'><name>t</name><interface type='bridge'><source bridge='br0'/></interface><devices/></domain>",
                "domain",
            ),
            (
                "<domain><os><type>hvm</type><interface type='bridge'/></os></domain>",
                "os",
            ),
            (
                "<domain><devices/><features><interface type='bridge'/></features></domain>",
                "features",
            ),
        ] {
            let e = read_document(xml).unwrap_err();
            assert!(
                matches!(e, XmlError::Misplaced { parent: ref p, .. } if p == parent),
                "{xml}: {e:?}"
            );
            assert!(e.to_string().starts_with("<interface> at line 1"), "{e}");
        }
        // Other applications' XML is theirs: in <metadata>, in a namespace, inside
        // another device.
        let d = read_document(
            "<domain><metadata><app:x xmlns:app='u'><interface/></app:x></metadata>\
             <description>x</description><devices><interface type='bridge'/>\
             <disk><interface type='x'/></disk></devices><x:interface xmlns:x='u'/></domain>",
        )
        .unwrap();
        assert_eq!(d.interfaces.len(), 1);
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
