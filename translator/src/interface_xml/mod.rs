//! Reading and writing libvirt's `<interface>` element, and splicing new elements into
//! a domain's XML.
//!
//! The reader ([`read_interface`], [`read_document`]) turns XML into the typed model of
//! [`crate::interface`] and reports, as [`Dropped`], every element and attribute the model
//! cannot carry. The writer ([`write_interface`]) prints the model the way `virsh dumpxml`
//! does. [`splice_interfaces`] replaces the interfaces of a document read earlier, leaving
//! every other byte alone.

use std::fmt;
use std::net::AddrParseError;
use std::ops::Range;

use crate::guest::GuestType;
use crate::interface::{Dropped, Interface};
use crate::mac::MacError;

mod read;
mod scan;
mod splice;
#[cfg(test)]
mod test_util;
pub(crate) mod write;

pub use read::{read_document, read_interface};
pub use splice::splice_interfaces;
pub use write::{interfaces_to_string, write_interface, write_interfaces, Style};
pub(crate) use write::{write_list_element, BYTES_PER_ELEMENT};

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
    /// An `<interface>` in a domain or `<devices>` that is not a child of `<devices>`:
    /// libvirt would not read it as a NIC.
    #[error(
        "<interface> at {at} is inside <{parent}>: only a child of <devices> is a NIC of the \
         domain (libvirt would ignore it)"
    )]
    Misplaced {
        /// The element it is in.
        parent: String,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interface_xml::test_util::{full, DOMAIN, PRETTY};

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
            usize::try_from(self.next() % n.max(1) as u64).expect("below n")
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

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
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
