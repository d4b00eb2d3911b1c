//! Where lines start and how they are indented, for what is written into a document.

/// The offset of the start of the line holding `offset`.
pub(in crate::interface_xml) fn line_start(src: &str, offset: usize) -> usize {
    src.as_bytes()[..offset]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1)
}

/// The spaces and tabs at the start of the line holding `offset` (not past `offset`).
pub(in crate::interface_xml) fn line_indent(src: &str, offset: usize) -> &str {
    let ls = line_start(src, offset);
    let n = src.as_bytes()[ls..offset]
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    &src[ls..ls + n]
}

/// The whitespace before `offset` on its line, when there is nothing else before it.
pub(in crate::interface_xml) fn indent_if_first_on_line(src: &str, offset: usize) -> Option<&str> {
    let ls = line_start(src, offset);
    let before = &src[ls..offset];
    before
        .bytes()
        .all(|b| b == b' ' || b == b'\t')
        .then_some(before)
}

/// The indentation of a child of `<devices>` (starting at `devices_start`, inside the
/// element starting at `parent_start`): the first child's own when it starts its line,
/// else one step (the parent's to `<devices>`, or two spaces) more than `<devices>`.
pub(super) fn child_indent(
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
