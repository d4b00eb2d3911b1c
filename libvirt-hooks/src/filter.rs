//! The `migrate` and `restore` filters: libvirt hands over the domain XML it is about
//! to use and takes what the hook prints instead (nothing means unchanged).
//!
//! The one change vifkit makes: a `<target dev>` holding a name libvirt generated on
//! the source host or for the old domain (the reserved prefixes `vnet`, `vif`,
//! `macvtap`, `macvlan`) is removed, so that libvirt and libxl name the device afresh
//! here instead of reusing a name that may belong to another guest now (`vif5.0` of a
//! saved Xen guest is the next domain 5's NIC). A `<target>` with anything besides
//! `dev` (`managed='no'`: a tap the admin made) is left alone. Every other byte of the
//! document is printed as it came, and nothing at all is printed when nothing changed.

use std::ops::Range;

use quick_xml::events::Event;
use quick_xml::Reader;

use crate::domain::{attr, Domain};
use crate::error::HookError;
use crate::host::{Host, Output};
use crate::plan::plan_nics;
use crate::request::Driver;

/// Prefixes libvirt reserves for the device names it generates.
pub const GENERATED_PREFIXES: [&str; 4] = ["vnet", "vif", "macvtap", "macvlan"];

/// Checks the domain's interfaces (as `prepare` does) and returns the domain XML of
/// guest `guest` with generated `<target dev>` names removed, or `None` when it needs no
/// change.
pub fn filter_domain(
    host: &Host<'_>,
    driver: Driver,
    guest: &str,
    input: &str,
) -> Result<Output, HookError> {
    let dom = Domain::parse(input).map_err(|source| HookError::Domain {
        guest: guest.to_owned(),
        source,
    })?;
    plan_nics(driver, &dom)?;
    let mut cuts: Vec<Range<usize>> = Vec::new();
    for nic in &dom.nics {
        let span = nic.located.span.clone();
        if let Some(r) = generated_target(&input[span.clone()]) {
            let r = (span.start + r.start)..(span.start + r.end);
            host.log.info(&format!(
                "{}: interface[{}]: dropped generated {}",
                dom.name,
                nic.index,
                input[r.clone()].trim()
            ));
            cuts.push(whole_line(input, r));
        }
    }
    if cuts.is_empty() {
        host.log
            .debug(&format!("{}: domain XML unchanged", dom.name));
        return Ok(None);
    }
    let mut out = String::with_capacity(input.len());
    let mut at = 0;
    for c in cuts {
        out.push_str(&input[at..c.start]);
        at = c.end;
    }
    out.push_str(&input[at..]);
    Ok(Some(out))
}

/// The byte range of an `<interface>`'s `<target dev='GENERATED'/>` child, if it has
/// one with no other attribute and no content.
fn generated_target(element: &str) -> Option<Range<usize>> {
    let mut r = Reader::from_str(element);
    let mut depth = 0usize;
    loop {
        let before = usize::try_from(r.buffer_position()).ok()?;
        let ev = r.read_event().ok()?;
        let after = usize::try_from(r.buffer_position()).ok()?;
        match ev {
            Event::Empty(e) if depth == 1 && e.name().0 == "target" => {
                let only_dev = e.attributes().flatten().all(|a| a.key.0 == "dev");
                let dev = attr(&e, "dev")?;
                if only_dev && GENERATED_PREFIXES.iter().any(|p| dev.starts_with(p)) {
                    return Some(before..after);
                }
            }
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.checked_sub(1)?,
            Event::Eof => return None,
            _ => {}
        }
    }
}

/// Widens `r` to its whole line (indentation and line end) when nothing else is on it.
fn whole_line(text: &str, r: Range<usize>) -> Range<usize> {
    let b = text.as_bytes();
    let mut start = r.start;
    while start > 0 && matches!(b[start - 1], b' ' | b'\t') {
        start -= 1;
    }
    let mut end = r.end;
    while end < b.len() && matches!(b[end], b' ' | b'\t') {
        end += 1;
    }
    let line_start = start == 0 || b[start - 1] == b'\n';
    let line_end = if b[end..].starts_with(b"\r\n") {
        Some(end + 2)
    } else if b[end..].starts_with(b"\n") {
        Some(end + 1)
    } else {
        None
    };
    match (line_start, line_end) {
        (true, Some(e)) => start..e,
        _ => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_only_a_generated_bare_target() {
        let t = |x: &str| generated_target(x).map(|r| x[r].to_owned());
        assert_eq!(
            t("<interface type='bridge'><target dev='vnet3'/></interface>").as_deref(),
            Some("<target dev='vnet3'/>")
        );
        assert_eq!(
            t("<interface type='bridge'><target dev=\"vif5.0-emu\" /></interface>").as_deref(),
            Some("<target dev=\"vif5.0-emu\" />")
        );
        assert_eq!(
            t("<interface type='bridge'><target dev='web0'/></interface>"),
            None
        );
        assert_eq!(
            t("<interface type='ethernet'><target dev='vnet3' managed='no'/></interface>"),
            None
        );
        // Only a direct child counts.
        assert_eq!(
            t("<interface type='bridge'><x><target dev='vnet3'/></x></interface>"),
            None
        );
    }

    #[test]
    fn a_whole_line_goes_only_when_alone() {
        let s = "a\n    <t/>\n  b";
        let at = s.find("<t/>").unwrap();
        assert_eq!(whole_line(s, at..at + 4), 2..11);
        let s = "a <t/> b";
        assert_eq!(whole_line(s, 2..6), 2..6);
        let s = "a\r\n\t<t/>\r\nb";
        let at = s.find("<t/>").unwrap();
        assert_eq!(&s[..whole_line(s, at..at + 4).start], "a\r\n");
        assert_eq!(&s[whole_line(s, at..at + 4).end..], "b");
    }
}
