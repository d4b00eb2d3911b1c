//! Reading and writing libvirt's `<interface>` element, and splicing new elements into
//! a domain's XML.
//!
//! The reader ([`read_interface`], [`read_document`]) turns XML into the typed model of
//! [`crate::interface`] and reports, as [`Dropped`], every element and attribute the model
//! cannot carry. The writer ([`write_interface`]) prints the model the way `virsh dumpxml`
//! does. [`splice_interfaces`] replaces the interfaces of a document read earlier, leaving
//! every other byte alone.

use std::borrow::Cow;
use std::fmt;
use std::fmt::Write as _;
use std::net::{AddrParseError, IpAddr};
use std::ops::Range;

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};
use serde::Deserialize;

use crate::guest::GuestType;
use crate::interface::{Dropped, Interface, InterfaceType, IpElem, NativeMode, Vlan, VlanTag};
use crate::mac::{MacAddr, MacError};

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// A place in the input: byte offset, and line and column counted from 1 (the column in
/// characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Byte offset from the start of the input.
    pub offset: usize,
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

impl Position {
    /// The position of byte `offset` of `text` (clamped to its length).
    pub fn in_text(text: &str, offset: usize) -> Position {
        let offset = offset.min(text.len());
        let before = &text.as_bytes()[..offset];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        // Count characters: every byte that is not a UTF-8 continuation byte.
        let column = before[line_start..]
            .iter()
            .filter(|&&b| b & 0xc0 != 0x80)
            .count()
            + 1;
        Position {
            offset,
            line,
            column,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {} (byte {})",
            self.line, self.column, self.offset
        )
    }
}

/// Why an attribute value is refused (the source of [`XmlError::Invalid`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// Not an IP address.
    #[error(transparent)]
    Ip(#[from] AddrParseError),
    /// Not a string of decimal digits.
    #[error("Expected a whole number")]
    NotANumber,
    /// A number outside the allowed range.
    #[error("Out of range (expected {min} to {max})")]
    OutOfRange {
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
    /// Not one of the keywords the attribute takes.
    #[error("Expected {expected}")]
    Keyword {
        /// The allowed values, as prose (`'yes' or 'no'`).
        expected: &'static str,
    },
    /// `<ip family>` names the other family than the address has.
    #[error("The address is {actual}")]
    FamilyMismatch {
        /// The address's family (`ipv4` or `ipv6`).
        actual: &'static str,
    },
}

/// Which of libvirt's rules a `<vlan>` breaks (the source of [`XmlError::InvalidVlan`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VlanError {
    /// No `<tag>` at all.
    #[error("No <tag> (libvirt requires at least one)")]
    NoTag,
    /// `trunk='no'` with more than one tag.
    #[error("trunk='no' with more than one <tag>")]
    TrunkNo,
    /// More than one tag has `nativeMode`.
    #[error("More than one <tag> with nativeMode (libvirt allows one)")]
    SeveralNative,
}

/// Why XML could not be read, or interfaces not spliced into it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum XmlError {
    /// The input is not well-formed XML.
    #[error("Malformed XML at {at}")]
    Syntax {
        /// Where the parser stopped.
        at: Position,
        /// The parser's complaint.
        #[source]
        source: quick_xml::Error,
    },
    /// The input ends inside an element.
    #[error("Unclosed <{element}> at {at}")]
    Unclosed {
        /// The element's name.
        element: String,
        /// Where its start tag is.
        at: Position,
    },
    /// Text other than whitespace outside any element.
    #[error("Text outside any element at {at}")]
    TextOutside {
        /// Where the text starts.
        at: Position,
    },
    /// A control character XML does not allow (anything below U+0020 but tab, line feed
    /// and carriage return).
    #[error("Control character U+{code:04X} at {at} (XML does not allow it)")]
    ControlChar {
        /// The character's code.
        code: u32,
        /// Where it is.
        at: Position,
    },
    /// The input holds no element of the kind asked for.
    #[error("No {expected} element")]
    NoElement {
        /// What was expected, as prose.
        expected: &'static str,
    },
    /// An element where another one was expected.
    #[error("Unexpected <{found}> at {at} (expected {expected})")]
    UnexpectedElement {
        /// The element's name.
        found: String,
        /// What was expected, as prose.
        expected: &'static str,
        /// Where its start tag is.
        at: Position,
    },
    /// An element or attribute that may appear once appears again (`mac`,
    /// `bandwidth/outbound`, `mac/@address`, `devices`, `os/type`).
    #[error("Repeated {} at {at}", describe(.path))]
    Repeated {
        /// Its path, in the syntax of [`Dropped::path`].
        path: String,
        /// Where the second one is.
        at: Position,
    },
    /// A required attribute is missing.
    #[error("Missing {attribute} attribute of {}", element_tags(.element))]
    MissingAttribute {
        /// The element's path inside the interface (`interface`, `vlan/tag`, `ip`).
        element: &'static str,
        /// The attribute's name.
        attribute: &'static str,
    },
    /// `<mac address>` is not a usable MAC address.
    #[error("Invalid <mac address='{value}'>")]
    InvalidMac {
        /// The attribute's value.
        value: String,
        /// Why it is refused.
        #[source]
        source: MacError,
    },
    /// Any other attribute value the model refuses.
    #[error("Invalid {} {attribute}='{value}'>", element_open(.element))]
    Invalid {
        /// The element's path inside the interface (`ip`, `vlan/tag`, `bandwidth/outbound`).
        element: &'static str,
        /// The attribute's name.
        attribute: &'static str,
        /// The attribute's value.
        value: String,
        /// Why it is refused.
        #[source]
        source: ValueError,
    },
    /// `<vlan>` breaks one of libvirt's rules.
    #[error("Invalid <vlan>")]
    InvalidVlan {
        /// The rule.
        #[source]
        source: VlanError,
    },
    /// `<os><type>` of a domain names no guest type vifkit knows.
    #[error("Unknown guest type '{value}' in <os><type>")]
    UnknownGuestType {
        /// The element's text.
        value: String,
    },
    /// The element does not fit the model's shape (found by the deserializer).
    #[error("Cannot read <interface>")]
    Deserialize {
        /// The deserializer's complaint.
        #[source]
        source: quick_xml::DeError,
    },
    /// A problem inside the `index`-th interface (from 0) of a document.
    #[error("In interface[{index}]")]
    Interface {
        /// The interface's index, from 0, in document order.
        index: usize,
        /// The problem.
        #[source]
        source: Box<XmlError>,
    },
    /// Splicing needs a `<devices>` element to add interfaces to, and there is none.
    #[error("No <devices> element to add interfaces to")]
    NoDevices,
    /// The [`Document`] given to [`splice_interfaces`] was not read from that text.
    #[error("The document does not match the text it should have been read from")]
    Mismatch,
}

fn describe(path: &str) -> String {
    Dropped {
        path: path.to_owned(),
    }
    .describe()
}

/// `vlan/tag` -> `<vlan><tag`.
fn element_open(path: &str) -> String {
    let mut s = String::new();
    for (i, e) in path.split('/').enumerate() {
        if i > 0 {
            s.push('>');
        }
        s.push('<');
        s.push_str(e);
    }
    s
}

/// `vlan/tag` -> `<vlan><tag>`.
fn element_tags(path: &str) -> String {
    let mut s = element_open(path);
    s.push('>');
    s
}

fn syntax(xml: &str, offset: u64, source: quick_xml::Error) -> XmlError {
    XmlError::Syntax {
        at: Position::in_text(xml, usize::try_from(offset).unwrap_or(usize::MAX)),
        source,
    }
}

// ---------------------------------------------------------------------------------------
// Public reader types
// ---------------------------------------------------------------------------------------

/// One `<interface>` read, with what the model could not carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedInterface {
    /// The element, as far as the model carries it.
    pub iface: Interface<'static>,
    /// Elements and attributes the model has no place for, in document order.
    pub dropped: Vec<Dropped>,
}

/// An interface read from a document, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// Bytes of the whole element in the input, from its start tag's `<` to its end
    /// tag's `>` (or the `/>` of an empty element).
    pub span: Range<usize>,
    /// The element.
    pub parsed: ParsedInterface,
}

/// Where new interfaces can go in a document's `<devices>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicesInfo {
    /// Byte offset of `</devices>`; for an empty `<devices/>`, of its `/>`.
    pub close_tag: usize,
    /// Whitespace before device children at the start of their line (`"    "` as
    /// `virsh dumpxml` prints a domain), guessed from the indentation of `<devices>`
    /// when it has no child on a line of its own.
    pub child_indent: String,
}

/// `<interface>` elements read from bare elements, a `<devices>` element or a whole
/// `<domain>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The guest type from a domain's `<os><type>`; `None` for bare elements and
    /// `<devices>`, and for a domain without `<os><type>`.
    pub guest_type: Option<GuestType>,
    /// The interfaces, in document order.
    pub interfaces: Vec<Located>,
    /// The `<devices>` element, when the input has one.
    pub devices: Option<DevicesInfo>,
}

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
enum Mode {
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

struct Found {
    span: Range<usize>,
    dropped: Vec<Dropped>,
}

struct Scan {
    guest_type: Option<GuestType>,
    devices: Option<DevicesInfo>,
    found: Vec<Found>,
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

fn line_start(src: &str, offset: usize) -> usize {
    src.as_bytes()[..offset]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1)
}

/// The spaces and tabs at the start of the line holding `offset` (not past `offset`).
fn line_indent(src: &str, offset: usize) -> &str {
    let ls = line_start(src, offset);
    let n = src.as_bytes()[ls..offset]
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    &src[ls..ls + n]
}

/// The whitespace before `offset` on its line, when there is nothing else before it.
fn indent_if_first_on_line(src: &str, offset: usize) -> Option<&str> {
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

fn scan(xml: &str, mode: Mode) -> Result<Scan, XmlError> {
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
fn parse_uint(
    element: &'static str,
    attribute: &'static str,
    value: &str,
    min: u64,
    max: u64,
) -> Result<u64, XmlError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(element, attribute, value, ValueError::NotANumber));
    }
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(invalid(
            element,
            attribute,
            value,
            ValueError::OutOfRange { min, max },
        )),
    }
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
                let id = parse_uint("vlan/tag", "id", &id, 0, 4095)? as u16;
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
                Some(p) => Some(parse_uint("ip", "prefix", &p, 0, max)? as u8),
                None => None,
            };
            iface.ips.push(IpElem { address, prefix });
        }
        iface.script = owned(self.script.and_then(|s| s.path));
        iface.backend_domain = owned(self.backenddomain.and_then(|b| b.name));
        iface.target_dev = owned(self.target.and_then(|t| t.dev));
        iface.model = owned(self.model.and_then(|m| m.kind));
        if let Some(size) = self.mtu.and_then(|m| m.size) {
            iface.mtu = Some(parse_uint("mtu", "size", &size, 1, 65535)? as u32);
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

// ---------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------

/// How [`write_interface`] lays out the element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style<'a> {
    /// Everything on one line, no whitespace between elements, no final newline.
    Compact,
    /// One element per line as `virsh dumpxml` prints it: the interface's lines start
    /// with `indent`, each level deeper adds `step`; ends with a newline.
    Pretty {
        /// Indentation of the `<interface>` lines.
        indent: &'a str,
        /// Indentation added per level.
        step: &'a str,
    },
}

/// Bytes [`push_escaped`] replaces: `& < > ' "` and C0 controls.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'&' as usize] = true;
    t[b'<' as usize] = true;
    t[b'>' as usize] = true;
    t[b'\'' as usize] = true;
    t[b'"' as usize] = true;
    t
};

/// Appends `s` escaped for a single-quoted attribute value: `& < > ' "`, and control
/// characters as character references (so that tabs and line breaks survive attribute
/// value normalization).
#[inline]
fn push_escaped(out: &mut String, s: &str) {
    match s.bytes().position(|b| NEEDS_ESCAPE[usize::from(b)]) {
        None => out.push_str(s),
        Some(first) => push_escaped_from(out, s, first),
    }
}

#[cold]
fn push_escaped_from(out: &mut String, s: &str, first: usize) {
    out.push_str(&s[..first]);
    let mut last = first;
    for (i, b) in s.bytes().enumerate().skip(first) {
        if !NEEDS_ESCAPE[usize::from(b)] {
            continue;
        }
        // Every escaped byte is ASCII, so `i` is a character boundary.
        out.push_str(&s[last..i]);
        match b {
            b'&' => out.push_str("&amp;"),
            b'<' => out.push_str("&lt;"),
            b'>' => out.push_str("&gt;"),
            b'\'' => out.push_str("&apos;"),
            b'"' => out.push_str("&quot;"),
            _ => {
                out.push_str("&#");
                push_u64(out, u64::from(b));
                out.push(';');
            }
        }
        last = i + 1;
    }
    out.push_str(&s[last..]);
}

#[inline]
fn push_u64(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or_default());
}

fn push_mac(out: &mut String, mac: &MacAddr) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [b':'; 17];
    for (i, b) in mac.octets().iter().enumerate() {
        buf[i * 3] = HEX[usize::from(b >> 4)];
        buf[i * 3 + 1] = HEX[usize::from(b & 15)];
    }
    // Only ASCII was written.
    out.push_str(std::str::from_utf8(&buf).unwrap_or_default());
}

fn push_ip(out: &mut String, ip: &IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, o) in v4.octets().iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                push_u64(out, u64::from(*o));
            }
        }
        IpAddr::V6(v6) => {
            // Writing to a String cannot fail.
            let _ = write!(out, "{v6}");
        }
    }
}

struct Writer<'o, 's> {
    out: &'o mut String,
    pretty: Option<(&'s str, &'s str)>,
}

impl Writer<'_, '_> {
    #[inline]
    fn line(&mut self, depth: usize) {
        if let Some((indent, step)) = self.pretty {
            self.out.push_str(indent);
            for _ in 0..depth {
                self.out.push_str(step);
            }
        }
    }

    #[inline]
    fn eol(&mut self) {
        if self.pretty.is_some() {
            self.out.push('\n');
        }
    }

    /// `<name attr='value'/>` on its own line at depth 1.
    fn leaf(&mut self, open: &str, value: &str) {
        self.line(1);
        self.out.push_str(open);
        push_escaped(self.out, value);
        self.out.push_str("'/>");
        self.eol();
    }
}

fn has_children(i: &Interface<'_>) -> bool {
    i.mac.is_some()
        || i.source_bridge.is_some()
        || i.source_network.is_some()
        || i.vlan.is_some()
        || i.virtualport.is_some()
        || i.outbound_average.is_some()
        || !i.ips.is_empty()
        || i.script.is_some()
        || i.backend_domain.is_some()
        || i.target_dev.is_some()
        || i.model.is_some()
        || i.mtu.is_some()
}

/// The writer proper. `lead`: start with the indentation; `trail`: end with a newline
/// (both only matter when pretty).
fn write_with(
    iface: &Interface<'_>,
    pretty: Option<(&str, &str)>,
    lead: bool,
    trail: bool,
    out: &mut String,
) {
    out.reserve(256);
    let mut w = Writer { out, pretty };
    if lead {
        w.line(0);
    }
    w.out.push_str("<interface type='");
    push_escaped(w.out, iface.kind.as_str());
    w.out.push_str("'>");
    w.eol();

    if let Some(mac) = &iface.mac {
        w.line(1);
        w.out.push_str("<mac address='");
        push_mac(w.out, mac);
        w.out.push_str("'/>");
        w.eol();
    }
    if iface.source_network.is_some() || iface.source_bridge.is_some() {
        w.line(1);
        w.out.push_str("<source");
        if let Some(n) = &iface.source_network {
            w.out.push_str(" network='");
            push_escaped(w.out, n);
            w.out.push('\'');
        }
        if let Some(b) = &iface.source_bridge {
            w.out.push_str(" bridge='");
            push_escaped(w.out, b);
            w.out.push('\'');
        }
        w.out.push_str("/>");
        w.eol();
    }
    if let Some(vlan) = &iface.vlan {
        w.line(1);
        w.out.push_str("<vlan");
        // libvirt takes several tags as a trunk, and prints it so.
        if vlan.trunk || vlan.tags.len() > 1 {
            w.out.push_str(" trunk='yes'");
        }
        if vlan.tags.is_empty() {
            w.out.push_str("/>");
            w.eol();
        } else {
            w.out.push('>');
            w.eol();
            for tag in &vlan.tags {
                w.line(2);
                w.out.push_str("<tag id='");
                push_u64(w.out, u64::from(tag.id));
                w.out.push('\'');
                if let Some(mode) = tag.native_mode {
                    w.out.push_str(" nativeMode='");
                    w.out.push_str(mode.as_str());
                    w.out.push('\'');
                }
                w.out.push_str("/>");
                w.eol();
            }
            w.line(1);
            w.out.push_str("</vlan>");
            w.eol();
        }
    }
    if let Some(vp) = &iface.virtualport {
        w.leaf("<virtualport type='", vp);
    }
    if let Some(avg) = iface.outbound_average {
        w.line(1);
        w.out.push_str("<bandwidth>");
        w.eol();
        w.line(2);
        w.out.push_str("<outbound average='");
        push_u64(w.out, avg);
        w.out.push_str("'/>");
        w.eol();
        w.line(1);
        w.out.push_str("</bandwidth>");
        w.eol();
    }
    for ip in &iface.ips {
        w.line(1);
        w.out.push_str("<ip address='");
        push_ip(w.out, &ip.address);
        w.out.push_str("' family='");
        w.out.push_str(ip.family());
        w.out.push('\'');
        if let Some(p) = ip.prefix {
            w.out.push_str(" prefix='");
            push_u64(w.out, u64::from(p));
            w.out.push('\'');
        }
        w.out.push_str("/>");
        w.eol();
    }
    if let Some(s) = &iface.script {
        w.leaf("<script path='", s);
    }
    if let Some(d) = &iface.backend_domain {
        w.leaf("<backenddomain name='", d);
    }
    if let Some(t) = &iface.target_dev {
        w.leaf("<target dev='", t);
    }
    if let Some(m) = &iface.model {
        w.leaf("<model type='", m);
    }
    if let Some(mtu) = iface.mtu {
        w.line(1);
        w.out.push_str("<mtu size='");
        push_u64(w.out, u64::from(mtu));
        w.out.push_str("'/>");
        w.eol();
    }

    if has_children(iface) || w.pretty.is_some() {
        // In pretty style an empty interface still has its end tag on a line of its own.
        w.line(0);
    }
    w.out.push_str("</interface>");
    if trail {
        w.eol();
    }
}

/// Appends one `<interface>` element to `out`, children in libvirt's order (`mac`,
/// `source`, `vlan`, `virtualport`, `bandwidth`, `ip`, `script`, `backenddomain`,
/// `target`, `model`, `mtu`), attributes single-quoted and escaped.
pub fn write_interface(iface: &Interface<'_>, style: Style<'_>, out: &mut String) {
    match style {
        Style::Compact => write_with(iface, None, false, false, out),
        Style::Pretty { indent, step } => write_with(iface, Some((indent, step)), true, true, out),
    }
}

/// The elements one after the other, pretty, not indented, two spaces per level.
pub fn interfaces_to_string(ifaces: &[Interface<'_>]) -> String {
    let mut out = String::with_capacity(ifaces.len() * 320);
    for iface in ifaces {
        write_interface(
            iface,
            Style::Pretty {
                indent: "",
                step: "  ",
            },
            &mut out,
        );
    }
    out
}

// ---------------------------------------------------------------------------------------
// Splicing
// ---------------------------------------------------------------------------------------

fn check_matches(src: &str, doc: &Document) -> Result<(), XmlError> {
    let mut prev_end = 0;
    for l in &doc.interfaces {
        let Range { start, end } = l.span;
        let ok = prev_end <= start
            && start < end
            && end <= src.len()
            && src.is_char_boundary(start)
            && src.is_char_boundary(end)
            && src[start..].starts_with('<')
            && src[..end].ends_with('>');
        if !ok {
            return Err(XmlError::Mismatch);
        }
        prev_end = end;
    }
    if let Some(d) = &doc.devices {
        let c = d.close_tag;
        let ok = c <= src.len()
            && src.is_char_boundary(c)
            && (src[c..].starts_with("</") || src[c..].starts_with("/>"))
            && d.child_indent.bytes().all(|b| b == b' ' || b == b'\t');
        if !ok {
            return Err(XmlError::Mismatch);
        }
    }
    Ok(())
}

/// The indentation step the document uses: from an existing multi-line interface, else
/// from `<devices>`'s children, else two spaces.
fn infer_step(src: &str, doc: &Document) -> String {
    for l in &doc.interfaces {
        let own = line_indent(src, l.span.start);
        let text = &src[l.span.clone()];
        if let Some(nl) = text.find('\n') {
            let rest = &text[nl + 1..];
            let n = rest
                .bytes()
                .take_while(|&b| b == b' ' || b == b'\t')
                .count();
            if let Some(step) = rest[..n].strip_prefix(own) {
                if !step.is_empty() {
                    return step.to_owned();
                }
            }
        }
    }
    if let Some(d) = &doc.devices {
        let own = line_indent(src, d.close_tag);
        if let Some(step) = d.child_indent.strip_prefix(own) {
            if !step.is_empty() {
                return step.to_owned();
            }
        }
    }
    "  ".to_owned()
}

/// Where removing an element starts: the spaces and tabs before it on its line, and the
/// line break before those when nothing else precedes it on the line.
fn removal_start(src: &str, start: usize, floor: usize) -> usize {
    let b = src.as_bytes();
    let mut i = start;
    while i > floor && (b[i - 1] == b' ' || b[i - 1] == b'\t') {
        i -= 1;
    }
    if i > floor && b[i - 1] == b'\n' {
        i -= 1;
        if i > floor && b[i - 1] == b'\r' {
            i -= 1;
        }
    }
    i
}

/// Replaces the interfaces of `doc` (read from `src` by [`read_document`]) with `new`.
///
/// The i-th existing element is replaced by the i-th new one, written pretty and indented
/// like the line the old one sits on (its first line takes the old start tag's place).
/// New elements beyond the existing ones go after the last existing one, each on its own
/// line with the same indentation; when the document has none, they go before
/// `</devices>` indented with [`DevicesInfo::child_indent`] (an empty `<devices/>` gets
/// an end tag). Existing elements beyond the new ones are removed with the whitespace
/// before them on their line. Every other byte of `src` is kept as it is.
pub fn splice_interfaces(
    src: &str,
    doc: &Document,
    new: &[Interface<'_>],
) -> Result<String, XmlError> {
    check_matches(src, doc)?;
    let old = &doc.interfaces;
    if old.is_empty() && !new.is_empty() && doc.devices.is_none() {
        return Err(XmlError::NoDevices);
    }
    let step = infer_step(src, doc);
    let mut out = String::with_capacity(src.len() + new.len() * 400);
    let mut last = 0;

    for (i, l) in old.iter().enumerate() {
        let Range { start, end } = l.span;
        match new.get(i) {
            Some(iface) => {
                let indent = line_indent(src, start);
                out.push_str(&src[last..start]);
                write_with(iface, Some((indent, &step)), false, false, &mut out);
                if i + 1 == old.len() {
                    for extra in &new[old.len()..] {
                        out.push('\n');
                        write_with(extra, Some((indent, &step)), true, false, &mut out);
                    }
                }
            }
            None => {
                let from = removal_start(src, start, last);
                out.push_str(&src[last..from]);
            }
        }
        last = end;
    }

    if old.is_empty() && !new.is_empty() {
        if let Some(d) = &doc.devices {
            let close = d.close_tag;
            let indent = d.child_indent.as_str();
            let pretty = Some((indent, step.as_str()));
            if src[close..].starts_with("/>") {
                // <devices/>: open it, add the children and an end tag.
                let own = line_indent(src, close);
                out.push_str(&src[last..close]);
                out.push('>');
                for iface in new {
                    out.push('\n');
                    write_with(iface, pretty, true, false, &mut out);
                }
                out.push('\n');
                out.push_str(own);
                out.push_str("</devices");
                last = close + 1; // keep the '>' of '/>'
            } else if let Some(ws) = indent_if_first_on_line(src, close).filter(|_| {
                let ls = line_start(src, close);
                ls > 0
            }) {
                // </devices> on a line of its own: whole lines before it.
                let at = close - ws.len();
                out.push_str(&src[last..at]);
                for iface in new {
                    write_with(iface, pretty, true, true, &mut out);
                }
                last = at;
            } else {
                let own = line_indent(src, close);
                out.push_str(&src[last..close]);
                for iface in new {
                    out.push('\n');
                    write_with(iface, pretty, true, false, &mut out);
                }
                out.push('\n');
                out.push_str(own);
                last = close;
            }
        }
    }
    out.push_str(&src[last..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    const PRETTY: &str = "    <interface type='bridge'>
      <mac address='00:16:3e:01:01:01'/>
      <source bridge='xenbr0'/>
      <vlan trunk='yes'>
        <tag id='10' nativeMode='untagged'/>
        <tag id='20'/>
      </vlan>
      <virtualport type='openvswitch'/>
      <bandwidth>
        <outbound average='12800'/>
      </bandwidth>
      <ip address='10.0.0.1' family='ipv4' prefix='24'/>
      <script path='vif-openvswitch'/>
      <backenddomain name='netdom'/>
      <target dev='vifalice.0'/>
      <model type='e1000'/>
      <mtu size='9000'/>
    </interface>
";

    fn full() -> Interface<'static> {
        let mut i = Interface::new(InterfaceType::Bridge);
        i.mac = Some("00:16:3e:01:01:01".parse().unwrap());
        i.source_bridge = Some("xenbr0".into());
        i.vlan = Some(Vlan {
            trunk: true,
            tags: vec![
                VlanTag {
                    id: 10,
                    native_mode: Some(NativeMode::Untagged),
                },
                VlanTag {
                    id: 20,
                    native_mode: None,
                },
            ],
        });
        i.virtualport = Some("openvswitch".into());
        i.outbound_average = Some(12800);
        i.ips = vec![IpElem {
            address: "10.0.0.1".parse().unwrap(),
            prefix: Some(24),
        }];
        i.script = Some("vif-openvswitch".into());
        i.backend_domain = Some("netdom".into());
        i.target_dev = Some("vifalice.0".into());
        i.model = Some("e1000".into());
        i.mtu = Some(9000);
        i
    }

    fn pretty(iface: &Interface<'_>, indent: &str, step: &str) -> String {
        let mut s = String::new();
        write_interface(iface, Style::Pretty { indent, step }, &mut s);
        s
    }

    fn compact(iface: &Interface<'_>) -> String {
        let mut s = String::new();
        write_interface(iface, Style::Compact, &mut s);
        s
    }

    fn paths(d: &[Dropped]) -> Vec<&str> {
        d.iter().map(|d| d.path.as_str()).collect()
    }

    /// The innermost error of a chain, through `Interface` wrappers.
    fn inner(e: &XmlError) -> &XmlError {
        match e {
            XmlError::Interface { source, .. } => inner(source),
            other => other,
        }
    }

    // ----- reader -----

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

    const DOMAIN: &str = "<?xml version='1.0'?>
<domain type='xen'>
  <name>alice</name>
  <metadata>
    <my:cfg xmlns:my='urn:example'>
      <interface type='bridge'><mac address='zz'/></interface>
    </my:cfg>
  </metadata>
  <os>
    <type arch='x86_64' machine='xenfv'>hvm</type>
    <loader type='rom'>/usr/lib/xen/boot/hvmloader</loader>
  </os>
  <devices>
    <emulator>/usr/lib/xen/bin/qemu-system-i386</emulator>
    <interface type='bridge'>
      <mac address='00:16:3e:01:01:01'/>
      <source bridge='xenbr0'/>
      <script path='vif-bridge'/>
    </interface>
    <disk type='file' device='disk'>
      <interface type='ignored'/>
    </disk>
    <interface type='ethernet'>
      <mac address='00:16:3e:01:01:02'/>
      <link state='down'/>
    </interface>
    <console type='pty'/>
  </devices>
</domain>
";

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

    fn err(xml: &str) -> XmlError {
        match read_interface(xml) {
            Ok(p) => panic!("{xml} read as {p:?}"),
            Err(e) => e,
        }
    }

    fn wrap(children: &str) -> String {
        format!("<interface type='bridge'>{children}</interface>")
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

    // ----- writer -----

    #[test]
    fn writes_virsh_style_pretty() {
        assert_eq!(pretty(&full(), "    ", "  "), PRETTY);
    }

    #[test]
    fn writes_compact() {
        assert_eq!(
            compact(&full()),
            "<interface type='bridge'><mac address='00:16:3e:01:01:01'/>\
             <source bridge='xenbr0'/><vlan trunk='yes'><tag id='10' nativeMode='untagged'/>\
             <tag id='20'/></vlan><virtualport type='openvswitch'/><bandwidth>\
             <outbound average='12800'/></bandwidth>\
             <ip address='10.0.0.1' family='ipv4' prefix='24'/><script path='vif-openvswitch'/>\
             <backenddomain name='netdom'/><target dev='vifalice.0'/><model type='e1000'/>\
             <mtu size='9000'/></interface>"
        );
    }

    #[test]
    fn writes_empty_and_small_elements() {
        let e = Interface::new(InterfaceType::Ethernet);
        assert_eq!(compact(&e), "<interface type='ethernet'></interface>");
        assert_eq!(
            pretty(&e, "", "  "),
            "<interface type='ethernet'>\n</interface>\n"
        );
        assert_eq!(
            pretty(&e, "\t", "\t"),
            "\t<interface type='ethernet'>\n\t</interface>\n"
        );
        let mut n = Interface::new(InterfaceType::Network);
        n.source_network = Some("default".into());
        n.source_bridge = Some("virbr0".into());
        n.vlan = Some(Vlan {
            trunk: false,
            tags: vec![
                VlanTag {
                    id: 4095,
                    native_mode: None,
                },
                VlanTag {
                    id: 1,
                    native_mode: Some(NativeMode::Tagged),
                },
            ],
        });
        n.ips.push(IpElem {
            address: "2001:db8::1".parse().unwrap(),
            prefix: None,
        });
        n.mtu = Some(1);
        assert_eq!(
            compact(&n),
            "<interface type='network'><source network='default' bridge='virbr0'/>\
             <vlan trunk='yes'><tag id='4095'/><tag id='1' nativeMode='tagged'/></vlan>\
             <ip address='2001:db8::1' family='ipv6'/><mtu size='1'/></interface>"
        );
        assert_eq!(
            interfaces_to_string(&[e.clone(), e]),
            "<interface type='ethernet'>\n</interface>\n<interface type='ethernet'>\n</interface>\n"
        );
        assert_eq!(interfaces_to_string(&[]), "");
    }

    #[test]
    fn writer_escapes() {
        let mut i = Interface::new(InterfaceType::Other("a'b\"c".into()));
        i.script = Some("/x/<&>'\"\t\n\r\u{1}é".into());
        assert_eq!(
            compact(&i),
            "<interface type='a&apos;b&quot;c'><script path='/x/&lt;&amp;&gt;&apos;&quot;&#9;&#10;&#13;&#1;é'/></interface>"
        );
        let back = read_interface(&compact(&i)).unwrap();
        assert_eq!(back.iface, i);
    }

    #[test]
    fn round_trip_of_a_full_interface() {
        for style in [
            Style::Compact,
            Style::Pretty {
                indent: "  ",
                step: "    ",
            },
        ] {
            let mut s = String::new();
            write_interface(&full(), style, &mut s);
            let p = read_interface(&s).unwrap();
            assert_eq!(p.iface, full());
            assert!(p.dropped.is_empty());
        }
        let mut n = full();
        n.kind = InterfaceType::Network;
        n.source_network = Some("default".into());
        n.ips.push(IpElem {
            address: "fe80::1:2".parse().unwrap(),
            prefix: Some(128),
        });
        n.ips.push(IpElem {
            address: "0.0.0.0".parse().unwrap(),
            prefix: Some(0),
        });
        let p = read_interface(&compact(&n)).unwrap();
        assert_eq!(p.iface, n);
    }

    // ----- splicing -----

    fn bridge(name: &str) -> Interface<'static> {
        let mut i = Interface::new(InterfaceType::Bridge);
        i.source_bridge = Some(name.to_owned().into());
        i
    }

    /// `out` is `src` with the spans of `doc` replaced (or removed) and something
    /// inserted after the last one: check every byte outside them is kept.
    fn assert_outside_kept(src: &str, doc: &Document, out: &str) {
        let spans: Vec<_> = doc.interfaces.iter().map(|l| l.span.clone()).collect();
        let (Some(first), Some(last)) = (spans.first(), spans.last()) else {
            return;
        };
        assert!(
            out.starts_with(&src[..first.start]) || out.starts_with(src[..first.start].trim_end())
        );
        assert!(out.ends_with(&src[last.end..]));
        for w in spans.windows(2) {
            let between = src[w[0].end..w[1].start].trim_end_matches([' ', '\t', '\n']);
            assert!(out.contains(between), "{between:?}");
        }
    }

    #[test]
    fn splice_equal_count() {
        let doc = read_document(DOMAIN).unwrap();
        let new = [bridge("br1"), full()];
        let out = splice_interfaces(DOMAIN, &doc, &new).unwrap();
        let s0 = &doc.interfaces[0].span;
        let s1 = &doc.interfaces[1].span;
        let first = pretty(&new[0], "    ", "  ");
        let second = pretty(&new[1], "    ", "  ");
        let want = format!(
            "{}{}{}{}{}",
            &DOMAIN[..s0.start],
            first.trim_start().trim_end_matches('\n'),
            &DOMAIN[s0.end..s1.start],
            second.trim_start().trim_end_matches('\n'),
            &DOMAIN[s1.end..]
        );
        assert_eq!(out, want);
        let again = read_document(&out).unwrap();
        let got: Vec<_> = again
            .interfaces
            .iter()
            .map(|l| l.parsed.iface.clone())
            .collect();
        assert_eq!(got, new);
        assert_eq!(again.guest_type, Some(GuestType::Hvm));
    }

    #[test]
    fn splice_more() {
        let doc = read_document(DOMAIN).unwrap();
        let new = [bridge("a"), bridge("b"), bridge("c"), full()];
        let out = splice_interfaces(DOMAIN, &doc, &new).unwrap();
        assert_outside_kept(DOMAIN, &doc, &out);
        assert!(out.contains(
            "    <interface type='bridge'>\n      <source bridge='b'/>\n    </interface>\n    <interface type='bridge'>\n      <source bridge='c'/>\n    </interface>\n    <interface type='bridge'>\n      <mac address"
        ), "{out}");
        assert!(
            out.contains("</interface>\n    <console type='pty'/>"),
            "{out}"
        );
        let again = read_document(&out).unwrap();
        let got: Vec<_> = again
            .interfaces
            .iter()
            .map(|l| l.parsed.iface.clone())
            .collect();
        assert_eq!(got, new);
    }

    #[test]
    fn splice_fewer() {
        let doc = read_document(DOMAIN).unwrap();
        let out = splice_interfaces(DOMAIN, &doc, &[bridge("only")]).unwrap();
        let s0 = &doc.interfaces[0].span;
        let s1 = &doc.interfaces[1].span;
        let expect = format!(
            "{}<interface type='bridge'>\n      <source bridge='only'/>\n    </interface>{}{}",
            &DOMAIN[..s0.start],
            DOMAIN[s0.end..s1.start]
                .trim_end_matches(' ')
                .trim_end_matches('\n'),
            &DOMAIN[s1.end..]
        );
        assert_eq!(out, expect);
        assert!(
            out.contains("    </disk>\n    <console type='pty'/>"),
            "{out}"
        );
        let again = read_document(&out).unwrap();
        assert_eq!(again.interfaces.len(), 1);

        let none = splice_interfaces(DOMAIN, &doc, &[]).unwrap();
        assert!(
            none.contains("<emulator>/usr/lib/xen/bin/qemu-system-i386</emulator>\n    <disk"),
            "{none}"
        );
        assert_eq!(read_document(&none).unwrap().interfaces.len(), 0);
        // And back in: before </devices>.
        let doc2 = read_document(&none).unwrap();
        let back = splice_interfaces(&none, &doc2, &[bridge("x")]).unwrap();
        assert!(back.ends_with(
            "    <console type='pty'/>\n    <interface type='bridge'>\n      <source bridge='x'/>\n    </interface>\n  </devices>\n</domain>\n"
        ), "{back}");
        assert!(back.starts_with(&none[..doc2.devices.as_ref().unwrap().close_tag - 2]));
    }

    #[test]
    fn splice_into_domains_without_interfaces() {
        let src = "<domain>\n  <devices/>\n</domain>";
        let doc = read_document(src).unwrap();
        assert_eq!(doc.devices.as_ref().unwrap().child_indent, "    ");
        let out = splice_interfaces(src, &doc, &[bridge("a")]).unwrap();
        assert_eq!(
            out,
            "<domain>\n  <devices>\n    <interface type='bridge'>\n      <source bridge='a'/>\n    </interface>\n  </devices>\n</domain>"
        );
        let src = "<domain><devices><disk/></devices></domain>";
        let doc = read_document(src).unwrap();
        let out = splice_interfaces(src, &doc, &[bridge("a")]).unwrap();
        assert_eq!(
            out,
            "<domain><devices><disk/>\n  <interface type='bridge'>\n    <source bridge='a'/>\n  </interface>\n</devices></domain>"
        );
        assert_eq!(read_document(&out).unwrap().interfaces.len(), 1);
        // Nothing to add: unchanged.
        assert_eq!(splice_interfaces(src, &doc, &[]).unwrap(), src);
        // No <devices>.
        let src = "<domain><name>x</name></domain>";
        let doc = read_document(src).unwrap();
        assert!(matches!(
            splice_interfaces(src, &doc, &[bridge("a")]),
            Err(XmlError::NoDevices)
        ));
        assert_eq!(splice_interfaces(src, &doc, &[]).unwrap(), src);
    }

    #[test]
    fn splice_bare_elements() {
        let src = "<!-- a -->\n<interface type='ethernet'/>\n<interface type='ethernet'/>\n";
        let doc = read_document(src).unwrap();
        let out = splice_interfaces(src, &doc, &[bridge("x"), bridge("y"), bridge("z")]).unwrap();
        assert_eq!(
            out,
            "<!-- a -->\n<interface type='bridge'>\n  <source bridge='x'/>\n</interface>\n\
             <interface type='bridge'>\n  <source bridge='y'/>\n</interface>\n\
             <interface type='bridge'>\n  <source bridge='z'/>\n</interface>\n"
        );
        let out = splice_interfaces(src, &doc, &[]).unwrap();
        assert_eq!(out, "<!-- a -->\n");
    }

    #[test]
    fn splice_keeps_the_documents_step() {
        let src = "<devices>\n\t<interface type='ethernet'>\n\t\t<mac address='00:16:3e:00:00:01'/>\n\t</interface>\n</devices>";
        let doc = read_document(src).unwrap();
        let out = splice_interfaces(src, &doc, &[bridge("x")]).unwrap();
        assert_eq!(out, "<devices>\n\t<interface type='bridge'>\n\t\t<source bridge='x'/>\n\t</interface>\n</devices>");
    }

    #[test]
    fn splice_refuses_a_foreign_document() {
        let doc = read_document(DOMAIN).unwrap();
        assert!(matches!(
            splice_interfaces("<domain/>", &doc, &[]),
            Err(XmlError::Mismatch)
        ));
        let shifted = format!("é{DOMAIN}");
        assert!(matches!(
            splice_interfaces(&shifted, &doc, &[]),
            Err(XmlError::Mismatch)
        ));
    }

    // ----- robustness -----

    /// xorshift, so the mutation loop is the same every run.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    fn exercise(xml: &str) {
        let _ = read_interface(xml);
        if let Ok(doc) = read_document(xml) {
            let new: Vec<_> = doc
                .interfaces
                .iter()
                .map(|l| l.parsed.iface.clone())
                .collect();
            let same = splice_interfaces(xml, &doc, &new).unwrap();
            let again = read_document(&same).unwrap();
            let got: Vec<_> = again
                .interfaces
                .iter()
                .map(|l| l.parsed.iface.clone())
                .collect();
            assert_eq!(got, new, "{xml}");
            let _ = splice_interfaces(xml, &doc, &[full()]);
            let _ = splice_interfaces(xml, &doc, &[]);
        }
    }

    #[test]
    fn mutated_inputs_never_panic() {
        const PIECES: &[&str] = &[
            "<",
            ">",
            "/>",
            "</",
            "'",
            "\"",
            "&",
            "&amp;",
            "&#",
            ";",
            "=",
            " ",
            "\n",
            "é",
            "<interface type='bridge'>",
            "</interface>",
            "<mac address='00:16:3e:00:00:01'/>",
            "<devices>",
            "</devices>",
            "<domain>",
            "<os><type>hvm</type></os>",
            "<!--",
            "-->",
            "<![CDATA[",
            "]]>",
            "<?xml version='1.0'?>",
            "<vlan trunk='yes'>",
            "<tag id='1'/>",
            "<ip address='::1' prefix='9'/>",
            "x:",
            "xmlns:x='u'",
            "\u{0}",
        ];
        let seeds = [DOMAIN, PRETTY, "<devices><interface type='a'/></devices>"];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..6000 {
            let mut s = seeds[round % seeds.len()].to_owned();
            for _ in 0..1 + rng.below(4) {
                let mut at = rng.below(s.len() + 1);
                while !s.is_char_boundary(at) {
                    at -= 1;
                }
                match rng.below(3) {
                    0 => s.insert_str(at, PIECES[rng.below(PIECES.len())]),
                    1 => {
                        let mut to = (at + 1 + rng.below(12)).min(s.len());
                        while !s.is_char_boundary(to) {
                            to += 1;
                        }
                        s.replace_range(at..to, "");
                    }
                    _ => {
                        let mut to = (at + rng.below(40)).min(s.len());
                        while !s.is_char_boundary(to) {
                            to += 1;
                        }
                        let copy = s[at..to].to_owned();
                        let mut at2 = rng.below(s.len() + 1);
                        while !s.is_char_boundary(at2) {
                            at2 -= 1;
                        }
                        s.insert_str(at2, &copy);
                    }
                }
            }
            exercise(&s);
        }
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

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn text() -> impl Strategy<Value = Cow<'static, str>> {
            // Any character XML 1.0 can carry (quick-xml also takes C0 controls as
            // character references, which the writer uses; NUL it refuses).
            "[^\u{0}]{0,12}".prop_map(Cow::Owned)
        }

        fn iface() -> impl Strategy<Value = Interface<'static>> {
            let kind = prop_oneof![
                Just(InterfaceType::Bridge),
                Just(InterfaceType::Ethernet),
                Just(InterfaceType::Network),
                "[a-z]{1,8}"
                    .prop_filter("not a named type", |s| !["bridge", "ethernet", "network"]
                        .contains(&s.as_str()))
                    .prop_map(|s| InterfaceType::Other(Cow::Owned(s))),
            ];
            let mac = proptest::option::of(
                any::<[u8; 6]>().prop_filter_map("unicast", |o| MacAddr::new(o).ok()),
            );
            let tag = (
                0u16..=4095,
                proptest::option::of(prop_oneof![
                    Just(NativeMode::Tagged),
                    Just(NativeMode::Untagged)
                ]),
            )
                .prop_map(|(id, native_mode)| VlanTag { id, native_mode });
            let vlan = proptest::option::of(
                (any::<bool>(), proptest::collection::vec(tag, 1..4)).prop_map(
                    |(trunk, mut tags)| {
                        // libvirt's rules: one native tag at most; several tags are a
                        // trunk.
                        for t in tags.iter_mut().skip(1) {
                            t.native_mode = None;
                        }
                        Vlan {
                            trunk: trunk || tags.len() > 1,
                            tags,
                        }
                    },
                ),
            );
            let ip = (any::<IpAddr>(), any::<u8>(), any::<bool>()).prop_map(|(address, p, has)| {
                let max = if address.is_ipv4() { 33 } else { 129 };
                IpElem {
                    address,
                    prefix: has.then_some(p % max),
                }
            });
            (
                (
                    kind,
                    mac,
                    proptest::option::of(text()),
                    proptest::option::of(text()),
                    vlan,
                    proptest::option::of(text()),
                ),
                (
                    proptest::option::of(any::<u64>()),
                    proptest::collection::vec(ip, 0..3),
                    proptest::option::of(text()),
                    proptest::option::of(text()),
                    proptest::option::of(text()),
                    proptest::option::of(text()),
                    proptest::option::of(1u32..=65535),
                ),
            )
                .prop_map(
                    |((kind, mac, sb, sn, vlan, vp), (avg, ips, script, bd, td, model, mtu))| {
                        let mut i = Interface::new(kind);
                        i.mac = mac;
                        i.source_bridge = sb;
                        i.source_network = sn;
                        i.vlan = vlan;
                        i.virtualport = vp;
                        i.outbound_average = avg;
                        i.ips = ips;
                        i.script = script;
                        i.backend_domain = bd;
                        i.target_dev = td;
                        i.model = model;
                        i.mtu = mtu;
                        i
                    },
                )
        }

        proptest! {
            #[test]
            fn written_elements_read_back(i in iface(), indent in "[ \t]{0,4}", step in "[ \t]{0,3}") {
                for style in [Style::Compact, Style::Pretty { indent: &indent, step: &step }] {
                    let mut s = String::new();
                    write_interface(&i, style, &mut s);
                    let p = read_interface(&s).unwrap();
                    prop_assert_eq!(&p.iface, &i);
                    prop_assert!(p.dropped.is_empty());
                }
            }

            #[test]
            fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
                exercise(&s);
            }

            #[test]
            fn xmlish_text_never_panics(s in "(<|>|/|'|=|&|;| |\n|interface|devices|domain|mac|vlan|tag|type|address|os|x:|[a-z0-9]){0,60}") {
                exercise(&s);
            }
        }
    }
}
