//! The vif spec tokenizer and parser, and vif -> `<interface>` -> XML -> `<interface>`.
//!
//! Asserts: the tokenizer's tokens are never empty, never start with a space (the only
//! thing xl skips) and hold no comma; every spec that converts for a guest type writes
//! (compact) an element that reads back to an equal `Interface`, with nothing dropped.
#![no_main]

use libfuzzer_sys::fuzz_target;
use translator::interface_xml::{read_interface, write_interface, Style};
use translator::to_xml::{vif_to_interface, Defaults};
use translator::vif::{tokenize, ParseOptions};
use translator::{GuestType, VifSpec};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for tok in tokenize(text) {
        // As documented: no empty tokens, no leading space, no comma.
        assert!(!tok.text.is_empty(), "empty token from {text:?}");
        assert!(!tok.text.starts_with(' '), "leading space kept from {text:?}");
        assert!(!tok.text.contains(','), "comma in a token from {text:?}");
    }
    let defaults = Defaults::default();
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
