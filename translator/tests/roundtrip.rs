//! Round trips over generated specs and elements: whatever translated without a
//! warning comes back the same after normalisation.
//!
//! - spec -> XML -> spec: the same NIC (same keys and values once Xen's defaults and
//!   libvirt's rate unit are applied to both sides);
//! - XML -> spec -> XML: the same element (a bridge interface with no script is the
//!   same as one with the default script).

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use translator::interface::{Interface, InterfaceType, IpElem, NativeMode, Vlan, VlanTag};
use translator::interface_xml::{read_interface, write_interface, Style};
use translator::rate::{Rate, RatePrefix};
use translator::to_vif::interface_to_vif;
use translator::to_xml::{vif_to_interface, Defaults};
use translator::vif::{NicType, ParseOptions, VifSpec};
use translator::vlan::{VlanEntry, VlanMode, VlanSpec};
use translator::{model, GuestType, MacAddr};

fn guest() -> impl Strategy<Value = GuestType> {
    prop_oneof![
        Just(GuestType::Hvm),
        Just(GuestType::Pv),
        Just(GuestType::Pvh)
    ]
}

fn mac() -> impl Strategy<Value = MacAddr> {
    any::<[u8; 6]>().prop_filter_map("unicast, non-zero", |mut o| {
        o[0] &= 0xfe;
        MacAddr::new(o).ok()
    })
}

fn name() -> impl Strategy<Value = String> {
    "[a-uw-z][a-z0-9_.-]{0,9}"
}

fn ip() -> impl Strategy<Value = IpElem> {
    prop_oneof![
        (any::<u32>(), proptest::option::of(0u8..=32)).prop_map(|(a, prefix)| IpElem {
            address: IpAddr::V4(Ipv4Addr::from(a)),
            prefix
        }),
        (any::<u128>(), proptest::option::of(0u8..=128)).prop_map(|(a, prefix)| IpElem {
            address: IpAddr::V6(Ipv6Addr::from(a)),
            prefix
        }),
    ]
}

fn rate() -> impl Strategy<Value = Rate> {
    (
        1u32..=100_000,
        prop_oneof![
            Just(RatePrefix::None),
            Just(RatePrefix::K),
            Just(RatePrefix::M),
            Just(RatePrefix::G)
        ],
        any::<bool>(),
        proptest::option::of(Just(50_000u32)),
    )
        .prop_map(|(amount, prefix, bits, interval_us)| Rate {
            amount,
            prefix,
            bits,
            interval_us,
        })
}

fn distinct_ids(n: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Vec<u16>> {
    proptest::collection::btree_set(1u16..=4094, n).prop_shuffle_ids()
}

trait ShuffleIds {
    fn prop_shuffle_ids(self) -> BoxedStrategy<Vec<u16>>;
}

impl<S: Strategy<Value = std::collections::BTreeSet<u16>> + 'static> ShuffleIds for S {
    fn prop_shuffle_ids(self) -> BoxedStrategy<Vec<u16>> {
        self.prop_map(|s| s.into_iter().collect::<Vec<_>>())
            .prop_shuffle()
            .boxed()
    }
}

fn vlan_spec() -> impl Strategy<Value = VlanSpec> {
    (distinct_ids(1..=6), any::<prop::sample::Index>()).prop_map(|(ids, pvid)| {
        let p = pvid.index(ids.len());
        let entries = ids
            .iter()
            .enumerate()
            .map(|(i, &id)| VlanEntry {
                id,
                mode: if i == p {
                    VlanMode::Pvid
                } else {
                    VlanMode::Tagged
                },
            })
            .collect();
        VlanSpec::new(entries).unwrap()
    })
}

/// A spec as text, built from typed parts so most are valid; invalid or lossy ones are
/// filtered by the property.
fn spec(guest: GuestType) -> impl Strategy<Value = String> {
    let script = prop_oneof![
        Just(None),
        Just(Some("vif-bridge")),
        Just(Some("vif-openvswitch")),
        Just(Some("vif-route")),
        Just(Some("/etc/xen/scripts/vif-nat")),
    ];
    let model = proptest::option::of(proptest::sample::select(
        model::for_guest(guest).map(|m| m.name).collect::<Vec<_>>(),
    ));
    let types = if guest.has_emulated_nics() {
        vec![NicType::Ioemu, NicType::Vif]
    } else {
        vec![NicType::Vif]
    };
    let nic_type = proptest::option::of(proptest::sample::select(types));
    // 0 and 4095 are reserved, and refused.
    let ovs_vlans = (
        proptest::option::of(1u16..=4094),
        proptest::collection::vec(1u16..=4094, 0..3),
    );
    (
        (
            proptest::option::of(mac()),
            proptest::option::of(name()),
            ovs_vlans,
            script,
        ),
        (
            proptest::collection::vec(ip(), 0..3),
            model,
            nic_type,
            proptest::option::of(name()),
        ),
        (
            proptest::option::of(rate()),
            proptest::option::of("[a-z][a-z0-9-]{0,8}"),
            proptest::option::of(68u32..=65535),
            proptest::option::of(vlan_spec()),
        ),
    )
        .prop_map(
            |(
                (mac, bridge, (tag, trunks), script),
                (ips, model, nic_type, vifname),
                (rate, backend, mtu, vlan),
            )| {
                let ovs = script == Some("vif-openvswitch");
                let bridge = bridge.map(|b| {
                    let mut b = b.replace('.', "");
                    if b.is_empty() {
                        b.push('b');
                    }
                    if ovs {
                        if let Some(t) = tag {
                            b.push_str(&format!(".{t}"));
                        }
                        for t in &trunks {
                            b.push_str(&format!(":{t}"));
                        }
                    }
                    b
                });
                let spec = VifSpec {
                    mac,
                    bridge: bridge.map(Cow::Owned),
                    nic_type,
                    model: model.map(Cow::Borrowed),
                    vifname: vifname.map(Cow::Owned),
                    script: script.map(Cow::Borrowed),
                    ips,
                    backend: backend.map(Cow::Owned),
                    rate,
                    mtu,
                    vlan: if ovs { None } else { vlan },
                    ..VifSpec::default()
                };
                spec.to_string()
            },
        )
}

/// Xen's and libvirt's defaults applied, so equal NICs compare equal.
fn normalise_spec(mut s: VifSpec<'static>, guest: GuestType) -> VifSpec<'static> {
    if s.bridge.is_some() && s.script.is_none() {
        s.script = Some(Cow::Borrowed("vif-bridge"));
    }
    if s.model.as_deref() == Some(model::NETFRONT) {
        s.model = None;
        s.nic_type = Some(NicType::Vif);
    }
    if s.nic_type == Some(NicType::Ioemu) && guest == GuestType::Hvm {
        s.nic_type = None;
    }
    if let Some(r) = s.rate {
        s.rate = Some(Rate::from_libvirt_average_kib(r.libvirt_average_kib()).unwrap());
    }
    s
}

fn xml(i: &Interface<'_>) -> String {
    let mut s = String::new();
    write_interface(i, Style::Compact, &mut s);
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, max_global_rejects: 8192, ..ProptestConfig::default() })]

    #[test]
    fn spec_xml_spec((guest, text) in guest().prop_flat_map(|g| (Just(g), spec(g)))) {
        let Ok((spec, w)) = VifSpec::parse(&text, ParseOptions::default()) else {
            return Err(TestCaseError::reject("invalid spec"));
        };
        prop_assert!(w.is_empty());
        let Ok((iface, w)) = vif_to_interface(&spec, guest, &Defaults::default()) else {
            return Err(TestCaseError::reject("not valid for this guest"));
        };
        prop_assume!(w.is_empty());
        let written = xml(&iface);
        let read = read_interface(&written).unwrap();
        prop_assert!(read.dropped.is_empty(), "{:?}", read.dropped);
        prop_assert_eq!(&read.iface, &iface);
        let (back, w) = interface_to_vif(&read.iface, &read.dropped, guest, &()).unwrap();
        prop_assert!(w.is_empty(), "{:?}", w);
        prop_assert_eq!(
            normalise_spec(back, guest),
            normalise_spec(spec.into_owned(), guest),
            "via {}", written
        );
    }

    #[test]
    fn xml_spec_xml(iface in interface(), guest in guest()) {
        let written = xml(&iface);
        let read = read_interface(&written).unwrap();
        prop_assert!(read.dropped.is_empty());
        let Ok((spec, w)) = interface_to_vif(&read.iface, &read.dropped, guest, &()) else {
            return Err(TestCaseError::reject("not expressible for this guest"));
        };
        prop_assume!(w.is_empty());
        let text = spec.to_string();
        let (reparsed, _) = VifSpec::parse(&text, ParseOptions::default()).unwrap();
        let (back, w) = vif_to_interface(&reparsed, guest, &Defaults::default()).unwrap();
        prop_assert!(w.is_empty(), "{:?} via {}", w, text);
        prop_assert_eq!(normalise_iface(back.into_owned()), normalise_iface(iface), "via {}", text);
    }
}

fn normalise_iface(mut i: Interface<'static>) -> Interface<'static> {
    if i.kind == InterfaceType::Bridge && i.script.is_none() {
        i.script = Some(Cow::Borrowed(if i.is_openvswitch() {
            "vif-openvswitch"
        } else {
            "vif-bridge"
        }));
    }
    i
}

fn vlan_for(ovs: bool) -> impl Strategy<Value = Option<Vlan>> {
    proptest::option::of((distinct_ids(1..=5), any::<bool>()).prop_map(
        move |(ids, native_first)| {
            if ids.len() == 1 {
                return Vlan {
                    trunk: false,
                    tags: vec![VlanTag {
                        id: ids[0],
                        native_mode: None,
                    }],
                };
            }
            // Linux bridges need the native VLAN (Xen's PVID); OVS may have one, first.
            let native = !ovs || native_first;
            let tags = ids
                .iter()
                .enumerate()
                .map(|(i, &id)| VlanTag {
                    id,
                    native_mode: (native && i == 0).then_some(NativeMode::Untagged),
                })
                .collect();
            Vlan { trunk: true, tags }
        },
    ))
}

fn interface() -> impl Strategy<Value = Interface<'static>> {
    let kind = prop_oneof![Just(true), Just(false)];
    (kind, any::<bool>())
        .prop_flat_map(|(bridged, ovs)| {
            let ovs = bridged && ovs;
            (
                (
                    Just(bridged),
                    Just(ovs),
                    proptest::option::of(mac()),
                    name(),
                    vlan_for(ovs),
                ),
                (
                    proptest::collection::vec(ip(), 0..3),
                    proptest::option::of(prop_oneof![
                        Just("vif-bridge"),
                        Just("vif-route"),
                        Just("/etc/xen/scripts/my-script")
                    ]),
                ),
                (
                    proptest::option::of("[a-z]{1,8}"),
                    proptest::option::of(name()),
                    proptest::option::of(proptest::sample::select(vec![
                        "e1000", "rtl8139", "netfront", "i82559er",
                    ])),
                ),
                (
                    proptest::option::of(1u32..=65535),
                    proptest::option::of(1u64..=u64::from(u32::MAX)),
                ),
            )
        })
        .prop_map(
            |(
                (bridged, ovs, mac, bridge, vlan),
                (ips, script),
                (backend, target, model),
                (mtu, avg),
            )| {
                let mut i = Interface::new(if bridged {
                    InterfaceType::Bridge
                } else {
                    InterfaceType::Ethernet
                });
                i.mac = mac;
                if bridged {
                    i.source_bridge = Some(Cow::Owned(bridge.replace('.', "b")));
                    i.vlan = vlan;
                }
                if ovs {
                    i.virtualport = Some(Cow::Borrowed("openvswitch"));
                    i.script = Some(Cow::Borrowed("vif-openvswitch"));
                } else {
                    i.script = script.map(Cow::Borrowed);
                }
                i.ips = ips;
                i.backend_domain = backend.map(Cow::Owned);
                i.target_dev = target.map(Cow::Owned);
                i.model = model.map(Cow::Borrowed);
                i.mtu = mtu;
                i.outbound_average = avg;
                i
            },
        )
}
