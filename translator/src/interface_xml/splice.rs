//! Splicing new `<interface>` elements into a document read earlier.

use std::ops::Range;

use crate::interface::Interface;

use super::scan::{indent_if_first_on_line, line_indent, line_start};
use super::write::write_with;
use super::{Document, XmlError};

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
///
/// [`read_document`]: super::read_document
/// [`DevicesInfo::child_indent`]: super::DevicesInfo::child_indent
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
    use crate::guest::GuestType;
    use crate::interface::{Interface, InterfaceType};
    use crate::interface_xml::test_util::{full, pretty, DOMAIN};
    use crate::interface_xml::{read_document, Document};

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
}
