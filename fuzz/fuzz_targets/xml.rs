//! The `<interface>` document reader, `<interface>` -> vif, and `splice_interfaces`.
//!
//! Asserts: every interface that converts to a vif spec writes a spec that reads back as
//! the same spec (no value of the XML adds a key); for a document that reads, splicing
//! its own interfaces back in (all of them, all but the last, and all plus a copy of
//! the first) succeeds, and the result reads again with exactly the interfaces spliced
//! in.
#![no_main]

use libfuzzer_sys::fuzz_target;
use translator::interface::Interface;
use translator::interface_xml::{read_document, splice_interfaces, Document, XmlError};
use translator::to_vif::interface_to_vif;
use translator::vif::{ParseOptions, VifSpec};
use translator::GuestType;

fn check_splice(src: &str, doc: &Document, new: &[Interface<'static>]) {
    let out = match splice_interfaces(src, doc, new) {
        Ok(out) => out,
        Err(e) => panic!(
            "splice_interfaces fails: {e}\n  source: {src:?}\n  {} new interface(s)",
            new.len()
        ),
    };
    let again = match read_document(&out) {
        Ok(d) => d,
        // Bare elements all removed: nothing is left to read.
        Err(XmlError::NoElement { .. }) if new.is_empty() && doc.devices.is_none() => return,
        Err(e) => {
            panic!("spliced document does not read: {e}\n  source: {src:?}\n  spliced: {out:?}")
        }
    };
    let got: Vec<&Interface<'static>> = again.interfaces.iter().map(|l| &l.parsed.iface).collect();
    let want: Vec<&Interface<'static>> = new.iter().collect();
    assert_eq!(
        got, want,
        "spliced document reads back different interfaces\n  source: {src:?}\n  spliced: {out:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(doc) = read_document(src) else {
        return;
    };
    for l in &doc.interfaces {
        for guest in [GuestType::Hvm, GuestType::Pv, GuestType::Pvh] {
            let Ok((spec, _)) = interface_to_vif(&l.parsed.iface, &l.parsed.dropped, guest, &())
            else {
                continue;
            };
            let text = spec.to_string();
            match VifSpec::parse(&text, ParseOptions::default()) {
                Ok((again, _)) => assert_eq!(again, spec, "spec reads back different: {text:?}"),
                Err(e) => panic!("written spec does not read back: {text:?}: {e:?}"),
            }
        }
    }
    let ifaces: Vec<Interface<'static>> = doc
        .interfaces
        .iter()
        .map(|l| l.parsed.iface.clone())
        .collect();
    check_splice(src, &doc, &ifaces);
    if let Some((_, fewer)) = ifaces.split_last() {
        check_splice(src, &doc, fewer);
    }
    if let Some(first) = ifaces.first() {
        let mut more = ifaces.clone();
        more.push(first.clone());
        check_splice(src, &doc, &more);
    }
});
