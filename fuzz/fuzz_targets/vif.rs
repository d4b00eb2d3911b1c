//! The vif spec tokenizer and parser, and vif -> `<interface>` -> XML -> `<interface>`.
//!
//! Asserts: every spec that converts for a guest type writes (compact) an element that
//! reads back to an equal `Interface`, with nothing dropped; and the direct path
//! (`translator::direct`) writes exactly what the full path writes, for exactly the
//! specs the full path translates without a warning.
#![no_main]

use libfuzzer_sys::fuzz_target;
use translator::direct::write_vif_xml;
use translator::interface_xml::{read_interface, write_interface, Style};
use translator::to_xml::{vif_to_interface, Defaults};
use translator::vif::{tokenize, ParseOptions};
use translator::{GuestType, VifSpec};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for tok in tokenize(text) {
        // As documented: no empty tokens, everything trimmed.
        assert!(!tok.text.is_empty(), "empty token from {text:?}");
        assert_eq!(
            tok.text,
            tok.text.trim_matches(translator::vif::is_xl_space),
            "untrimmed token from {text:?}"
        );
    }
    let defaults = Defaults::default();
    let strict = VifSpec::parse(text, ParseOptions::default())
        .ok()
        .filter(|(_, w)| w.is_empty());
    for guest in [GuestType::Hvm, GuestType::Pv, GuestType::Pvh] {
        let full = strict
            .as_ref()
            .and_then(|(spec, _)| vif_to_interface(spec, guest, &defaults).ok())
            .filter(|(_, w)| w.is_empty())
            .map(|(iface, _)| {
                let mut xml = String::new();
                let pretty = Style::Pretty {
                    indent: "",
                    step: "  ",
                };
                write_interface(&iface, pretty, &mut xml);
                xml
            });
        let mut direct = String::new();
        let took = write_vif_xml(text, guest, &defaults, &mut direct);
        assert_eq!(
            took.then_some(direct),
            full,
            "direct and full paths differ\n  spec: {text:?} (guest: {guest})"
        );
    }
    for lenient in [false, true] {
        let Ok((spec, _warnings)) = VifSpec::parse(text, ParseOptions { lenient }) else {
            continue;
        };
        for guest in [GuestType::Hvm, GuestType::Pv, GuestType::Pvh] {
            let Ok((iface, _warnings)) = vif_to_interface(&spec, guest, &defaults) else {
                continue;
            };
            let mut xml = String::new();
            write_interface(&iface, Style::Compact, &mut xml);
            let back = match read_interface(&xml) {
                Ok(back) => back,
                Err(e) => panic!(
                    "written element does not read back: {e}\n  spec: {text:?} (lenient: \
                     {lenient}, guest: {guest})\n  xml: {xml}"
                ),
            };
            assert_eq!(
                back.iface, iface,
                "written element reads back different\n  spec: {text:?} (lenient: {lenient}, \
                 guest: {guest})\n  xml: {xml}"
            );
            assert!(
                back.dropped.is_empty(),
                "written element reads back with dropped parts {:?}\n  spec: {text:?} \
                 (lenient: {lenient}, guest: {guest})\n  xml: {xml}",
                back.dropped
            );
        }
    }
});
