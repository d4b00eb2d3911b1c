//! xl vif spec -> libvirt `<interface>`, as `translation-contract.md` says.

use std::borrow::Cow;

use crate::bridge_spec::{parse_with, BridgeSpecError, OvsBridge};
use crate::diag::Warning;
use crate::guest::GuestType;
use crate::interface::{Interface, InterfaceType, NativeMode, Vlan, VlanTag};
use crate::model::{self, NETFRONT};
use crate::rate::DEFAULT_INTERVAL_US;
use crate::vif::{check_backend, check_name, check_script, check_spec_text, NicType};
use crate::vif::{ParseOptions, VifError};
use crate::vif::{ValueError, VifSpec};
use crate::vlan::{VlanMode, VlanSpec};

/// Xen's default bridge when a NIC is bridged and names none.
pub const XEN_DEFAULT_BRIDGE: &str = "xenbr0";

/// Prefixes libvirt reserves for the names it generates.
pub const LIBVIRT_RESERVED_PREFIXES: [&str; 4] = ["vnet", "vif", "macvtap", "macvlan"];

/// Vif defaults from an `/etc/xen/xl.conf` (`vif.default.*`); a key the spec sets wins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Defaults<'d> {
    /// `vif.default.script`
    pub script: Option<&'d str>,
    /// `vif.default.bridge`
    pub bridge: Option<&'d str>,
    /// `vif.default.backend`
    pub backend: Option<&'d str>,
    /// `vif.default.gatewaydev`
    pub gatewaydev: Option<&'d str>,
}

/// The file name of a script path (`/etc/xen/scripts/vif-bridge` -> `vif-bridge`).
pub fn script_name(script: &str) -> &str {
    match script.as_bytes().iter().rposition(|&b| b == b'/') {
        Some(i) => &script[i + 1..],
        None => script,
    }
}

/// Whether `script`'s [`script_name`] is `name` (a name without `/`), without looking
/// for the last `/`.
pub(crate) fn script_is(script: &str, name: &str) -> bool {
    debug_assert!(!name.contains('/'));
    match script.len().checked_sub(name.len()) {
        Some(0) => script == name,
        Some(at) => script.ends_with(name) && script.as_bytes()[at - 1] == b'/',
        None => false,
    }
}

fn not_here(key: &'static str, value: impl Into<String>, reason: impl Into<String>) -> VifError {
    VifError::NotHere {
        key,
        value: value.into(),
        reason: reason.into(),
    }
}

/// `vlan=` as a libvirt `<vlan>`: a lone id is an access port (`<tag id/>`); several
/// ids are a trunk whose PVID is the untagged native tag. libvirt has one native tag, so
/// other `u` ids become tagged (with a warning).
fn vlan_element(spec: &VlanSpec, warnings: &mut Vec<Warning>) -> Vlan {
    let entries = spec.entries();
    if entries.len() == 1 {
        return Vlan {
            trunk: false,
            tags: vec![VlanTag {
                id: entries[0].id,
                native_mode: None,
            }],
        };
    }
    let mut demoted = Vec::new();
    let tags = entries
        .iter()
        .map(|e| VlanTag {
            id: e.id,
            native_mode: match e.mode {
                VlanMode::Pvid => Some(NativeMode::Untagged),
                VlanMode::Untagged => {
                    demoted.push(e.id.to_string());
                    None
                }
                VlanMode::Tagged => None,
            },
        })
        .collect();
    if !demoted.is_empty() {
        warnings.push(Warning::loss(
            "vlan",
            format!(
                "vlan={spec}: libvirt allows one untagged (native) VLAN; {} carried tagged",
                demoted.join(", ")
            ),
        ));
    }
    Vlan { trunk: true, tags }
}

/// Reads an Open vSwitch `bridge=` value: the bridge name (borrowed from the value) and
/// its VLANs (`.TAG` alone: an access port; with `:TRUNK`s, a trunk whose native VLAN is
/// TAG, untagged).
fn ovs_bridge<'s>(b: &Cow<'s, str>) -> Result<(Cow<'s, str>, Option<Vlan>), BridgeSpecError> {
    let mut tags: Vec<VlanTag> = Vec::new();
    let (name, tag) = parse_with(b, |id| {
        tags.push(VlanTag {
            id,
            native_mode: None,
        })
    })?;
    let trunk = !tags.is_empty();
    if let Some(id) = tag {
        tags.insert(
            0,
            VlanTag {
                id,
                native_mode: trunk.then_some(NativeMode::Untagged),
            },
        );
    }
    let name = match b {
        Cow::Borrowed(w) => Cow::Borrowed(&w[..name.len()]),
        Cow::Owned(_) => Cow::Owned(name.to_owned()),
    };
    let vlan = (!tags.is_empty()).then_some(Vlan { trunk, tags });
    Ok((name, vlan))
}

/// Converts one spec for a guest of the given type. Returns the element and the
/// warnings (each naming its key), or every error found.
pub fn vif_to_interface<'s>(
    spec: &VifSpec<'s>,
    guest: GuestType,
    defaults: &Defaults<'s>,
) -> Result<(Interface<'s>, Vec<Warning>), Vec<VifError>> {
    vif_into_interface(spec.clone(), guest, defaults)
}

/// [`vif_to_interface`], moving the spec's values into the element instead of copying.
pub fn vif_into_interface<'s>(
    mut spec: VifSpec<'s>,
    guest: GuestType,
    defaults: &Defaults<'s>,
) -> Result<(Interface<'s>, Vec<Warning>), Vec<VifError>> {
    take_into_interface(&mut spec, guest, defaults, ParseOptions::default())
}

/// [`vif_into_interface`] with the options the spec was read with: with `--lenient`, a
/// model on a PV or PVH guest is dropped with a warning, as xl ignores it
/// ([`VifSpec::model_dropped`]).
pub fn vif_into_interface_with<'s>(
    mut spec: VifSpec<'s>,
    guest: GuestType,
    defaults: &Defaults<'s>,
    opts: ParseOptions,
) -> Result<(Interface<'s>, Vec<Warning>), Vec<VifError>> {
    take_into_interface(&mut spec, guest, defaults, opts)
}

/// A value from xl.conf's defaults, checked as the spec's own would be.
fn default_value<'s>(
    key: &'static str,
    value: Option<&'s str>,
    check: fn(&str) -> Result<(), ValueError>,
    errors: &mut Vec<VifError>,
) -> Option<Cow<'s, str>> {
    let v = value?;
    match check(v) {
        Ok(()) => Some(Cow::Borrowed(v)),
        Err(source) => {
            errors.push(VifError::Invalid {
                key,
                value: v.to_owned(),
                source,
            });
            None
        }
    }
}

/// [`vif_into_interface_with`] taking the values out of a spec the caller holds (what
/// is left of it is not to be used): the spec itself is not moved, so not copied.
pub(crate) fn take_into_interface<'s>(
    spec: &mut VifSpec<'s>,
    guest: GuestType,
    defaults: &Defaults<'s>,
    opts: ParseOptions,
) -> Result<(Interface<'s>, Vec<Warning>), Vec<VifError>> {
    spec.validate_with(guest, opts)?;
    let mut warnings = Vec::new();
    let mut errors = Vec::new();

    if let Some(m) = spec.model_dropped(guest, opts) {
        warnings.push(Warning::loss(
            "model",
            format!(
                "model={m}: a {guest} guest has no emulated NICs, so xl ignores the model \
                 (and libvirt refuses one on a {guest} guest): dropped"
            ),
        ));
        spec.model = None;
    }

    let script: Option<Cow<'s, str>> = spec
        .script
        .take()
        .or_else(|| default_value("script", defaults.script, check_script, &mut errors));
    let ovs_script = script
        .as_deref()
        .is_some_and(|s| script_is(s, "vif-openvswitch"));
    let bridge_script = script
        .as_deref()
        .is_some_and(|s| script_is(s, "vif-bridge"));
    let bridge_raw: Option<Cow<'s, str>> = spec
        .bridge
        .take()
        .or_else(|| default_value("bridge", defaults.bridge, check_spec_text, &mut errors));

    let kind = if bridge_raw.is_some() || ovs_script || bridge_script {
        InterfaceType::Bridge
    } else {
        InterfaceType::Ethernet
    };
    // The element's children, set below and put together at the end.
    let mut source_bridge = None;
    let mut vlan = None;

    // The bridge: Open vSwitch form under vif-openvswitch, and (as libvirt reads it)
    // when no script is given; a literal Linux bridge name otherwise.
    let mut ovs = ovs_script;
    match &bridge_raw {
        Some(b) if ovs_script => match ovs_bridge(b) {
            Ok((name, tags)) => {
                vlan = tags;
                source_bridge = Some(name);
            }
            Err(e) => errors.push(VifError::Invalid {
                key: "bridge",
                value: b.to_string(),
                source: e.into(),
            }),
        },
        Some(b) if script.is_none() && OvsBridge::has_vlan_syntax(b) => {
            match ovs_bridge(b) {
                Ok((name, tags)) => {
                    warnings.push(Warning::advice(
                        "bridge",
                        format!(
                            "bridge={b} read as Open vSwitch bridge {name} with VLANs, as libvirt \
                             does; Xen's default script vif-bridge would take `{b}` as a Linux \
                             bridge name (say script=vif-openvswitch or script=vif-bridge)"
                        ),
                    ));
                    ovs = true;
                    vlan = tags;
                    source_bridge = Some(name);
                }
                // A VLAN out of range (`br.4095`) is refused like vlan=4095.
                Err(BridgeSpecError::OutOfRange(id)) => errors.push(not_here(
                    "bridge",
                    b.to_string(),
                    format!(
                        "Read as an Open vSwitch bridge with VLAN {id}, as libvirt reads it, \
                         and VLAN ids are 1-4094 (0 and 4095 are reserved); say \
                         script=vif-bridge if `{b}` is a Linux bridge's name"
                    ),
                )),
                // Not the OVS form (`br.lan`): a Linux bridge name, as vif-bridge reads it.
                Err(_) => match check_name(b) {
                    Ok(()) => source_bridge = Some(b.clone()),
                    Err(source) => errors.push(VifError::Invalid {
                        key: "bridge",
                        value: b.to_string(),
                        source,
                    }),
                },
            }
        }
        Some(b) => match check_name(b) {
            Ok(()) => source_bridge = Some(b.clone()),
            Err(source) => errors.push(VifError::Invalid {
                key: "bridge",
                value: b.to_string(),
                source,
            }),
        },
        None if kind == InterfaceType::Bridge => {
            warnings.push(Warning::advice(
                "bridge",
                format!("No bridge given: using Xen's default, {XEN_DEFAULT_BRIDGE}"),
            ));
            source_bridge = Some(Cow::Borrowed(XEN_DEFAULT_BRIDGE));
        }
        None => {}
    }
    let virtualport = ovs.then_some(Cow::Borrowed("openvswitch"));

    if let Some(v) = &spec.vlan {
        if ovs {
            warnings.push(Warning::loss(
                "vlan",
                format!(
                    "vlan={v} is not read by vif-openvswitch (it takes VLANs from \
                     bridge=BRIDGE.TAG:TRUNK): dropped"
                ),
            ));
        } else {
            vlan = Some(vlan_element(v, &mut warnings));
        }
    }

    let mut outbound_average = None;
    if let Some(rate) = &spec.rate {
        let kib = rate.libvirt_average_kib();
        if kib > u64::from(u32::MAX) {
            errors.push(not_here(
                "rate",
                rate.to_string(),
                format!("{kib} KiB/s is above libvirt's limit of {} KiB/s", u32::MAX),
            ));
        }
        outbound_average = Some(kib);
        if rate.interval() != DEFAULT_INTERVAL_US {
            warnings.push(Warning::loss(
                "rate",
                format!(
                    "rate={rate}: libvirt's libxl driver always uses a 50ms interval; the \
                     interval is dropped"
                ),
            ));
        }
    }

    let backend_domain = spec
        .backend
        .take()
        .or_else(|| default_value("backend", defaults.backend, check_backend, &mut errors));

    if let Some(v) = &spec.vifname {
        if let Some(p) = LIBVIRT_RESERVED_PREFIXES.iter().find(|p| v.starts_with(*p)) {
            warnings.push(Warning::advice(
                "vifname",
                format!(
                    "vifname={v}: libvirt reserves the prefix `{p}` for names it generates and \
                     may replace it"
                ),
            ));
        }
    }

    let model = match (spec.nic_type, spec.model.as_deref()) {
        (Some(NicType::Vif), model) => {
            if let Some(m) = model.filter(|m| *m != NETFRONT) {
                warnings.push(Warning::loss(
                    "model",
                    format!("model={m}: type=vif makes a PV-only NIC, so the model has no effect: dropped"),
                ));
            }
            Some(Cow::Borrowed(NETFRONT))
        }
        (_, Some(NETFRONT)) if guest.has_emulated_nics() => {
            warnings.push(Warning::advice(
                "model",
                "model=netfront: libvirt reads <model type='netfront'/> as a PV-only NIC \
                 (xl's type=vif), but xl hands the model to QEMU, which has no such device: \
                 write type=vif",
            ));
            Some(Cow::Borrowed(NETFRONT))
        }
        (_, Some(m)) => {
            if let Some(n) = model::notice(m) {
                warnings.push(Warning::advice("model", format!("model={m}: {n}")));
            }
            spec.model.take()
        }
        (_, None) => None,
    };

    let default_gatewaydev = match spec.gatewaydev {
        Some(_) => None,
        None => default_value("gatewaydev", defaults.gatewaydev, check_name, &mut errors),
    };
    let gatewaydev = spec
        .gatewaydev
        .as_deref()
        .map(|g| {
            (
                g,
                if spec.netdev_spelling {
                    "netdev"
                } else {
                    "gatewaydev"
                },
            )
        })
        .or_else(|| default_gatewaydev.as_deref().map(|g| (g, "gatewaydev")));
    if let Some((g, key)) = gatewaydev {
        warnings.push(Warning::loss(
            key,
            format!("{key}={g} has no place in libvirt's <interface>: dropped"),
        ));
    }
    if let Some(d) = spec.devid {
        warnings.push(Warning::loss(
            "devid",
            format!("devid={d}: libvirt numbers NICs by their order: dropped"),
        ));
    }
    if let Some(t) = spec.trusted {
        let key = if t { "trusted" } else { "untrusted" };
        warnings.push(Warning::loss(
            key,
            format!("{key} has no place in libvirt's <interface>: dropped"),
        ));
    }
    if let Some(a) = &spec.accel {
        warnings.push(Warning::loss(
            "accel",
            format!("accel={a} is obsolete (xl ignores it too): dropped"),
        ));
    }
    if let Some(f) = &spec.forwarddev {
        warnings.push(Warning::loss(
            "forwarddev",
            format!(
                "forwarddev={f} (COLO replication) has no place in libvirt's <interface>: dropped"
            ),
        ));
    }
    for (k, v) in &spec.colo {
        warnings.push(Warning::loss(
            *k,
            format!("{k}={v} (COLO replication) has no place in libvirt's <interface>: dropped"),
        ));
    }

    if !errors.is_empty() {
        return Err(errors);
    }
    let iface = Interface {
        kind,
        mac: spec.mac,
        source_bridge,
        source_network: None,
        vlan,
        virtualport,
        outbound_average,
        ips: std::mem::take(&mut spec.ips),
        script,
        backend_domain,
        target_dev: spec.vifname.take(),
        model,
        mtu: spec.mtu,
    };
    Ok((iface, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_is_its_name_after_the_last_slash() {
        for script in [
            "vif-bridge",
            "/etc/xen/scripts/vif-bridge",
            "x/vif-bridge",
            "/vif-bridge",
            "avif-bridge",
            "vif-bridgex",
            "bridge",
            "",
            "/",
            "vif-bridge/",
            "a/b/vif-openvswitch",
        ] {
            for name in ["vif-bridge", "vif-openvswitch"] {
                assert_eq!(
                    script_is(script, name),
                    script_name(script) == name,
                    "{script}"
                );
            }
        }
    }
    use crate::vif::ParseOptions;

    fn conv(s: &str, g: GuestType) -> Result<(Interface<'_>, Vec<Warning>), Vec<VifError>> {
        let (spec, _) = VifSpec::parse(s, ParseOptions::default())?;
        vif_to_interface(&spec, g, &Defaults::default()).map(|(i, w)| (i.into_owned(), w))
    }

    fn keys(w: &[Warning]) -> Vec<&str> {
        w.iter().map(|w| w.key.as_ref()).collect()
    }

    #[test]
    fn ovs_forms() {
        let (i, w) = conv(
            "bridge=xenbr0.102:5:6,script=vif-openvswitch",
            GuestType::Hvm,
        )
        .unwrap();
        assert!(w.is_empty());
        assert_eq!(i.source_bridge.as_deref(), Some("xenbr0"));
        let v = i.vlan.unwrap();
        assert!(v.trunk);
        assert_eq!(
            v.tags[0],
            VlanTag {
                id: 102,
                native_mode: Some(NativeMode::Untagged)
            }
        );
        assert_eq!(v.tags.len(), 3);
        // No script: libvirt's reading, with advice.
        let (i, w) = conv("bridge=xenbr0.102", GuestType::Hvm).unwrap();
        assert_eq!(keys(&w), ["bridge"]);
        assert!(i.is_openvswitch());
        // vif-bridge: a literal name.
        let (i, w) = conv("bridge=br.lan,script=vif-bridge", GuestType::Hvm).unwrap();
        assert!(w.is_empty() && i.vlan.is_none() && !i.is_openvswitch());
        // Not OVS syntax and no script: a literal Linux bridge (libvirt fails here).
        let (i, w) = conv("bridge=br.lan", GuestType::Hvm).unwrap();
        assert_eq!(i.source_bridge.as_deref(), Some("br.lan"));
        assert!(w.is_empty());
        // Literal names are checked.
        assert_eq!(
            conv("bridge=a:b,script=vif-bridge", GuestType::Hvm).unwrap_err()[0].key(),
            "bridge"
        );
        assert_eq!(
            conv("bridge=br.lan,script=vif-openvswitch", GuestType::Hvm).unwrap_err()[0].key(),
            "bridge"
        );
    }

    #[test]
    fn defaults_apply_and_spec_wins() {
        let d = Defaults {
            script: Some("vif-openvswitch"),
            bridge: Some("ovsbr0"),
            ..Default::default()
        };
        let (spec, _) = VifSpec::parse("", ParseOptions::default()).unwrap();
        let (i, w) = vif_to_interface(&spec, GuestType::Hvm, &d).unwrap();
        assert!(w.is_empty());
        assert_eq!(i.source_bridge.as_deref(), Some("ovsbr0"));
        assert!(i.is_openvswitch());
        let (spec, _) =
            VifSpec::parse("bridge=br1,script=vif-bridge", ParseOptions::default()).unwrap();
        let (i, _) = vif_to_interface(&spec, GuestType::Hvm, &d).unwrap();
        assert_eq!(i.source_bridge.as_deref(), Some("br1"));
        assert!(!i.is_openvswitch());
    }

    #[test]
    fn bridge_script_without_bridge_gets_xenbr0() {
        let (i, w) = conv("script=vif-bridge", GuestType::Pv).unwrap();
        assert_eq!(i.kind, InterfaceType::Bridge);
        assert_eq!(i.source_bridge.as_deref(), Some(XEN_DEFAULT_BRIDGE));
        assert_eq!(keys(&w), ["bridge"]);
    }

    #[test]
    fn xen_vlan() {
        let (i, w) = conv("bridge=br0,vlan=10", GuestType::Hvm).unwrap();
        assert!(w.is_empty());
        assert_eq!(
            i.vlan,
            Some(Vlan {
                trunk: false,
                tags: vec![VlanTag {
                    id: 10,
                    native_mode: None
                }]
            })
        );
        let (i, w) = conv("bridge=br0,vlan=10p/20u/30", GuestType::Hvm).unwrap();
        assert_eq!(keys(&w), ["vlan"]);
        assert_eq!(
            i.vlan
                .unwrap()
                .tags
                .iter()
                .filter(|t| t.native_mode.is_some())
                .count(),
            1
        );
        let (_, w) = conv(
            "bridge=br0.5,script=vif-openvswitch,vlan=10",
            GuestType::Hvm,
        )
        .unwrap();
        assert_eq!(keys(&w), ["vlan"]);
    }

    #[test]
    fn model_and_type() {
        let (i, w) = conv("type=vif,model=e1000", GuestType::Hvm).unwrap();
        assert_eq!(i.model.as_deref(), Some("netfront"));
        assert_eq!(keys(&w), ["model"]);
        let (i, w) = conv("model=fancy", GuestType::Hvm).unwrap();
        assert_eq!(i.model.as_deref(), Some("fancy"));
        assert_eq!(keys(&w), ["model"]);
        assert!(!w[0].is_loss());
        let (i, _) = conv("type=ioemu", GuestType::Hvm).unwrap();
        assert_eq!(i.model, None);
    }

    #[test]
    fn xm_netfront_keeps_the_default_type() {
        // xl ignores type=netfront: on HVM the NIC stays emulated and keeps its model.
        let (spec, w) = VifSpec::parse(
            "bridge=xenbr0,type=netfront,model=e1000",
            ParseOptions::default(),
        )
        .unwrap();
        assert_eq!(keys(&w), ["type"]);
        assert!(w[0].message.contains("type=netfront"));
        assert!(!w[0].message.contains("type=vif makes"));
        let (i, w) = vif_to_interface(&spec, GuestType::Hvm, &Defaults::default()).unwrap();
        assert_eq!(i.model.as_deref(), Some("e1000"));
        assert!(w.is_empty());
        // On PV the NIC is PV anyway: nothing to write.
        let (i, _) = conv("bridge=xenbr0,type=netfront", GuestType::Pv).unwrap();
        assert_eq!(i.model, None);
    }

    #[test]
    fn models_on_pv_guests() {
        // xl's default model: dropped with a warning (xl ignores it on PV).
        let (i, w) = conv("bridge=xenbr0,model=rtl8139", GuestType::Pv).unwrap();
        assert_eq!(i.model, None);
        assert_eq!(keys(&w), ["model"]);
        assert!(w[0].is_loss());
        // Another model asks for a NIC a PV guest cannot have.
        assert_eq!(
            conv("model=e1000,bridge=br0", GuestType::Pvh).unwrap_err()[0].key(),
            "model"
        );
        let (spec, _) = VifSpec::parse("model=e1000", ParseOptions::default()).unwrap();
        let (i, w) = vif_into_interface_with(
            spec,
            GuestType::Pv,
            &Defaults::default(),
            ParseOptions { lenient: true },
        )
        .unwrap();
        assert_eq!(i.model, None);
        assert_eq!(keys(&w), ["model"]);
    }

    #[test]
    fn model_notices() {
        for known in [
            "e1000",
            "e1000e",
            "rtl8139",
            "virtio-net-pci",
            "i82559er",
            "pcnet",
        ] {
            let (_, w) = conv(&format!("model={known}"), GuestType::Hvm).unwrap();
            assert!(w.is_empty(), "{known}: {w:?}");
        }
        let (i, w) = conv("model=virtio", GuestType::Hvm).unwrap();
        assert_eq!(i.model.as_deref(), Some("virtio"));
        assert_eq!(keys(&w), ["model"]);
        assert!(w[0].message.contains("virtio-net-pci"), "{}", w[0].message);
        assert!(!w[0].is_loss());
        let (_, w) = conv("model=netfront", GuestType::Hvm).unwrap();
        assert_eq!(keys(&w), ["model"]);
        assert!(w[0].message.contains("type=vif"));
        let (_, w) = conv("model=netfront", GuestType::Pv).unwrap();
        assert!(w.is_empty());
    }

    #[test]
    fn ovs_vlans_are_ids_1_to_4094() {
        for spec in [
            "bridge=br.4095",
            "bridge=br.0",
            "bridge=br:10:4095",
            "bridge=br.4095,script=vif-openvswitch",
            "bridge=br.4096",
        ] {
            assert_eq!(
                conv(spec, GuestType::Hvm).unwrap_err()[0].key(),
                "bridge",
                "{spec}"
            );
        }
        // With vif-bridge it is a Linux bridge name.
        let (i, _) = conv("bridge=br.4095,script=vif-bridge", GuestType::Hvm).unwrap();
        assert_eq!(i.source_bridge.as_deref(), Some("br.4095"));
        assert_eq!(
            conv("bridge=br.4094", GuestType::Hvm)
                .unwrap()
                .0
                .vlan
                .unwrap()
                .tags[0]
                .id,
            4094
        );
    }

    #[test]
    fn xl_conf_defaults_are_checked() {
        let (spec, _) = VifSpec::parse("", ParseOptions::default()).unwrap();
        for (d, key) in [
            (
                Defaults {
                    bridge: Some("b,vlan=5"),
                    ..Default::default()
                },
                "bridge",
            ),
            (
                Defaults {
                    script: Some("vif-bridge,x"),
                    ..Default::default()
                },
                "script",
            ),
            (
                Defaults {
                    backend: Some("a b"),
                    ..Default::default()
                },
                "backend",
            ),
            (
                Defaults {
                    gatewaydev: Some("eth\u{200b}0"),
                    ..Default::default()
                },
                "gatewaydev",
            ),
        ] {
            let e = vif_to_interface(&spec, GuestType::Hvm, &d).unwrap_err();
            assert_eq!(e[0].key(), key);
        }
    }

    #[test]
    fn colo_keys_warn() {
        let (_, w) = conv(
            "bridge=xenbr0,colo_sock_mirror_id=1,forwarddev=eth1",
            GuestType::Hvm,
        )
        .unwrap();
        assert_eq!(keys(&w), ["forwarddev", "colo_sock_mirror_id"]);
        assert!(w.iter().all(Warning::is_loss));
    }

    #[test]
    fn dropped_keys_warn() {
        let (_, w) = conv(
            "ip=10.0.0.5,script=vif-route,netdev=eth1,devid=2,trusted,accel=x,rate=1MB/s@1s",
            GuestType::Pv,
        )
        .unwrap();
        assert_eq!(keys(&w), ["rate", "netdev", "devid", "trusted", "accel"]);
        assert!(w.iter().all(Warning::is_loss));
    }

    #[test]
    fn rate_too_big_for_libvirt() {
        assert_eq!(
            conv("rate=5000GB/s", GuestType::Hvm).unwrap_err()[0].key(),
            "rate"
        );
        assert_eq!(
            conv("rate=4095GB/s", GuestType::Hvm)
                .unwrap()
                .0
                .outbound_average,
            Some(4095 << 20)
        );
    }
}
