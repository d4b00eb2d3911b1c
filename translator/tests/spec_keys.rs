//! XML never adds keys to a spec: for any `<interface>` vifkit accepts, whatever its
//! values hold (`,`, `=`, quotes, spaces, invisible characters), the spec it writes
//! reads back, as a spec and inside an xl config, with exactly the keys it meant to
//! write and the same values.

use std::borrow::Cow;

use proptest::prelude::*;
use translator::cfg;
use translator::interface::{Interface, InterfaceType};
use translator::to_vif::{interface_to_vif, NetworkMap};
use translator::translate::format_vif_setting;
use translator::vif::{tokenize, ParseOptions, VifSpec};
use translator::GuestType;

/// The keys a spec's fields stand for, in the order the spec is written.
fn meant_keys(s: &VifSpec<'_>) -> Vec<String> {
    let mut k: Vec<String> = Vec::new();
    let mut add = |on: bool, key: &str| {
        if on {
            k.push(key.to_owned());
        }
    };
    add(s.mac.is_some(), "mac");
    add(s.bridge.is_some(), "bridge");
    add(!s.ips.is_empty(), "ip");
    add(s.script.is_some(), "script");
    add(s.model.is_some(), "model");
    add(s.nic_type.is_some(), "type");
    add(s.vifname.is_some(), "vifname");
    add(s.rate.is_some(), "rate");
    add(s.backend.is_some(), "backend");
    add(s.mtu.is_some(), "mtu");
    add(s.vlan.is_some(), "vlan");
    add(s.gatewaydev.is_some(), "gatewaydev");
    add(s.devid.is_some(), "devid");
    add(s.trusted == Some(true), "trusted");
    add(s.trusted == Some(false), "untrusted");
    add(s.accel.is_some(), "accel");
    add(s.forwarddev.is_some(), "forwarddev");
    for (c, _) in &s.colo {
        k.push((*c).to_owned());
    }
    k
}

/// A value: mostly plain, often with the characters that could add a key or hide.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9_-]{0,10}",
        "[a-z0-9,=' \"\t./:_\u{200b}\u{202e}\u{a0}é-]{0,14}",
        "[a-z]{1,4}(,|=|'|\"| )(mac|vlan|script|rate)=[a-z0-9/.:]{1,8}",
        "[a-z]{1,6}(\u{200b}|\u{2066}|\u{feff}|\u{ad}| )?",
    ]
}

fn interface() -> impl Strategy<Value = (Interface<'static>, String)> {
    (
        prop_oneof![
            Just(InterfaceType::Bridge),
            Just(InterfaceType::Ethernet),
            Just(InterfaceType::Network),
        ],
        any::<bool>(),
        [
            proptest::option::of(value()),
            proptest::option::of(value()),
            proptest::option::of(value()),
            proptest::option::of(value()),
            proptest::option::of(value()),
        ],
        value(),
    )
        .prop_map(
            |(kind, ovs, [bridge, script, model, backend, target], net_bridge)| {
                let mut i = Interface::new(kind.clone());
                match kind {
                    InterfaceType::Network => i.source_network = Some(Cow::Borrowed("default")),
                    _ => i.source_bridge = bridge.map(Cow::Owned),
                }
                if ovs {
                    i.virtualport = Some(Cow::Borrowed("openvswitch"));
                }
                i.script = script.map(Cow::Owned);
                i.model = model.map(Cow::Owned);
                i.backend_domain = backend.map(Cow::Owned);
                i.target_dev = target.map(Cow::Owned);
                (i, net_bridge)
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn written_specs_have_exactly_the_keys_meant((iface, net_bridge) in interface()) {
        let networks = NetworkMap(vec![("default".to_owned(), net_bridge)]);
        for guest in [GuestType::Hvm, GuestType::Pv, GuestType::Pvh] {
            let Ok((spec, _)) = interface_to_vif(&iface, &[], guest, &networks) else {
                continue;
            };
            let text = spec.to_string();
            let written: Vec<String> = tokenize(&text).map(|t| t.key.to_owned()).collect();
            prop_assert_eq!(&written, &meant_keys(&spec), "{}", text);
            let (again, w) = VifSpec::parse(&text, ParseOptions::default())
                .map_err(|e| TestCaseError::fail(format!("{text}: {e:?}")))?;
            prop_assert!(w.is_empty(), "{}: {:?}", text, w);
            prop_assert_eq!(&again, &spec);
            // The same inside an xl config, as xml2vif and patch-cfg write it.
            let conf_text = format!("{}\n", format_vif_setting(std::slice::from_ref(&spec)));
            let conf = cfg::parse(&conf_text, "t.cfg").unwrap();
            let vifs = conf.vifs().unwrap();
            prop_assert_eq!(vifs.items.len(), 1);
            prop_assert_eq!(vifs.items[0].spec.as_ref(), text.as_str());
        }
    }
}

#[test]
fn the_issues_examples_are_refused() {
    let mut i = Interface::new(InterfaceType::Bridge);
    i.source_bridge = Some(Cow::Borrowed("br0"));
    i.model = Some(Cow::Borrowed("e1000,script=/tmp/evil.sh"));
    let e = interface_to_vif(&i, &[], GuestType::Hvm, &()).unwrap_err();
    assert_eq!(e[0].key(), "<model type>");
    let mut i = Interface::new(InterfaceType::Bridge);
    i.source_bridge = Some(Cow::Borrowed("b,vlan=5"));
    let e = interface_to_vif(&i, &[], GuestType::Hvm, &()).unwrap_err();
    assert_eq!(e[0].key(), "<source bridge>");
}
