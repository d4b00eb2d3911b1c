//! The walk inside one `<interface>`: each element and attribute checked against what
//! the model carries, the rest reported as dropped.

use quick_xml::events::BytesStart;
use quick_xml::XmlVersion;

use crate::interface::Dropped;
use crate::interface_xml::{syntax, Position, XmlError};

/// The elements the model carries.
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
pub(super) struct IfaceScan {
    /// Where its start tag is.
    pub(super) start: usize,
    /// Open carried elements, each with the singleton children seen so far.
    frames: Vec<(Node, u32)>,
    /// Depth inside a dropped element (its descendants are not reported).
    skip: usize,
    pub(super) dropped: Vec<Dropped>,
}

impl IfaceScan {
    /// The walk of the interface whose start tag `e` is at `at`.
    pub(super) fn begin(e: &BytesStart<'_>, at: usize, xml: &str) -> Result<IfaceScan, XmlError> {
        let mut scan = IfaceScan {
            start: at,
            frames: vec![(Node::Interface, 0)],
            skip: 0,
            dropped: Vec::new(),
        };
        check_attrs(Node::Interface, e, at, xml, &mut scan.dropped)?;
        Ok(scan)
    }

    /// A start tag (or an empty element) inside the interface.
    pub(super) fn element(
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
    pub(super) fn end(&mut self) -> bool {
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        self.frames.pop();
        self.frames.is_empty()
    }
}
